#!/bin/bash
# SPDX-License-Identifier: MIT
# bench_pool.sh (root): how long a large pool takes to set up, to tear down
# and to start serving, against the kernel's own time to create and delete
# as many TUN devices, in a namespace of its own:
#
#   [ ns: e0 198.51.100.2/24, default via 198.51.100.1 ]   (nothing behind e0)
#
# Figures, each the median of RUNS runs (3), in seconds and as a ratio to
# the kernel's:
#   kernel add     N `tuntap add mode tun` lines through one `ip -batch`
#   kernel del     the same devices deleted through one `ip -batch`
#   setup          vpngw setup --pool N
#   teardown       vpngw teardown --pool N
#   serve start    vpngw serve --pool N after setup: from exec to its
#                  "listening on" line (then SIGTERM)
#   serve cold     the same with no prior setup (serve sets up), then a
#                  teardown
# N is POOL (1000). Only timing: nothing is checked here (test/setup.sh
# checks what setup and teardown do). The machine may be shared: compare
# the ratios.
set -u
cd "$(dirname "$0")/.."
. test/lib.sh

POOL=${POOL:-1000}
RUNS=${RUNS:-3}
SUBNET=10.64.0.0/10
ARGS=(--pool "$POOL" --tun-prefix vbp --subnet "$SUBNET" --client-prefix 24)

ns_dead_end N bpool || exit 1
export VPNGW_STATE_FILE=$LIB_TMP/state

in_ns() { ns_exec "$N" "$@"; }
now() { date +%s.%N; }
# elapsed START: seconds since START, to the millisecond.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# timed CMD...: runs CMD in the namespace, prints its seconds; fails with it.
timed() {
	local t
	t=$(now)
	in_ns "$@" >/dev/null 2>"$LIB_TMP/err" || {
		printf 'bench_pool: %s failed: %s\n' "$*" "$(head -c 300 "$LIB_TMP/err")" >&2
		return 1
	}
	elapsed "$t"
}

# serve_start: seconds from exec of serve to its "listening on" line; the
# gateway is then stopped with SIGTERM and reaped.
serve_start() {
	local t pid i
	: >"$LIB_TMP/serve.log"
	t=$(now)
	ip netns exec "$N" "$VPNGW" serve "${ARGS[@]}" --listen 127.0.0.1:8080 \
		2>"$LIB_TMP/serve.log" &
	pid=$!
	LIB_PIDS+=("$pid")
	for i in $(seq 30000); do
		grep -q 'listening on' "$LIB_TMP/serve.log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.001
	done
	if ! grep -q 'listening on' "$LIB_TMP/serve.log"; then
		printf 'bench_pool: serve did not start: %s\n' "$(head -c 300 "$LIB_TMP/serve.log")" >&2
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	elapsed "$t"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
}

kernel_batch() {
	local verb=$1 i
	for ((i = 0; i < POOL; i++)); do
		printf 'tuntap %s dev vbk%d mode tun\n' "$verb" "$i"
	done >"$LIB_TMP/$verb.batch"
	timed ip -batch "$LIB_TMP/$verb.batch"
}

declare -A T
add() { T[$1]="${T[$1]:-} $2"; }
for ((r = 0; r < RUNS; r++)); do
	add kadd "$(kernel_batch add)" || exit 1
	add kdel "$(kernel_batch del)" || exit 1
	add setup "$(timed "$VPNGW" setup "${ARGS[@]}")" || exit 1
	add serve "$(serve_start)" || exit 1
	add teardown "$(timed "$VPNGW" teardown --pool "$POOL" --tun-prefix vbp)" || exit 1
	add cold "$(serve_start)" || exit 1
	timed "$VPNGW" teardown --pool "$POOL" --tun-prefix vbp >/dev/null || exit 1
done

# shellcheck disable=SC2086
kadd=$(median ${T[kadd]})
# shellcheck disable=SC2086
kdel=$(median ${T[kdel]})
row() {
	local name=$1 base=$2 m
	# shellcheck disable=SC2086
	m=$(median ${T[$3]})
	awk -v n="$name" -v m="$m" -v b="$base" -v bn="$4" \
		'BEGIN { r = 0; if (b > 0) r = m / b; printf "%-34s %8.3f s  %7.2fx %s\n", n, m, r, bn }'
}
printf 'pool of %d slots, median of %d runs (kernel: ip -batch tuntap)\n' "$POOL" "$RUNS"
row "kernel: create $POOL tun" "$kadd" kadd "kernel add"
row "kernel: delete $POOL tun" "$kdel" kdel "kernel del"
row "vpngw setup --pool $POOL" "$kadd" setup "kernel add"
row "vpngw teardown" "$kdel" teardown "kernel del"
row "vpngw serve start (after setup)" "$kadd" serve "kernel add"
row "vpngw serve start (no setup)" "$kadd" cold "kernel add"
