#!/bin/bash
# SPDX-License-Identifier: MIT
# test/scale.sh: a pool of a thousand slots, full, as root, in network
# namespaces. `vpngw setup --pool 1000`, then `vpngw serve --pool 1000`
# with the same slot options; test/scale_test.py (python websockets,
# scapy) connects 1000 vpngw.v1 clients at once from one process, checks
# that each got its own address and that the gateway counts them all,
# then has each ping the Internet host through its tunnel once a second
# for SCALE_SECONDS (30): no echo request may go unanswered, and the 99th
# percentile of the round trips must be under SCALE_RTT_MS (5) ms, the
# one timing assertion of the suite (the median, p99 and worst are
# printed). When this vpngw has --workers, the same again with
# --workers 2 (the pool already set up), pinging for SCALE_SECONDS_2 (15).
# Ends with one line "N passed, N failed" and exits non-zero on any
# failure. lib.sh removes every namespace and process it made, even on
# failure or ^C; the slots go with the gateway's namespace (no `vpngw
# teardown`: test/setup.sh checks it).
#
#   ns cli: eth0 192.0.2.2/24      scale_test.py, 1000 clients
#      |
#   ns gw: eth1 192.0.2.1/24       vpngw serve --listen 192.0.2.1:8080
#      |   eth0 198.51.100.2/24    --pool 1000: vpngw0-999, 10.64.0.0/24,
#      |   default via .1          10.64.1.0/24 ... 10.67.231.0/24
#   ns inet: eth0 198.51.100.1/24  answers pings
#
# Usage: test/scale.sh
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs,
# SCALE_CLIENTS (1000), SCALE_SECONDS (30), SCALE_SECONDS_2 (15),
# SCALE_RTT_MS (5).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

N=${SCALE_CLIENTS:-1000}
SECS=${SCALE_SECONDS:-30}
SECS_2=${SCALE_SECONDS_2:-15}   # the --workers 2 pass: the suite in ~60 s
RTT_MS=${SCALE_RTT_MS:-5}
INET_ADDR=198.51.100.1
SLOTS=(--pool "$N" --subnet 10.64.0.0/24 --client-prefix 24)

# ms_since T0: milliseconds since T0 (date +%s%N).
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

GW_PID=''
# start_gw NAME ARGS...: `vpngw serve` on the pool, its log NAME.log.
start_gw() {
	local name=$1 t0
	shift
	t0=$(date +%s%N)
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/gw.state" "$VPNGW" serve \
		--listen 192.0.2.1:8080 --allow 198.51.100.0/24 "${SLOTS[@]}" \
		--handshake-rate 100000 --max-handshakes 4096 "$@" >"$LIB_TMP/$name.log" 2>&1
	GW_PID=$BG_PID
	if wait_log "$LIB_TMP/$name.log" 'vpngw: listening on' 20 "$GW_PID"; then
		step "start_$name" "listening after $(ms_since "$t0") ms"
		return 0
	fi
	bad "start_$name" "no 'listening on' within 20 s: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
	return 1
}

# cpu_of PID: CPU seconds (user + system) of PID and its children (the
# conntrack helper), and threads, from /proc.
cpu_of() {
	local p
	for p in "$1" $(pgrep -P "$1"); do cat "/proc/$p/stat" 2>/dev/null; done |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.1f", t / hz }'
}

# clients NAME SECONDS: scale_test.py against the gateway started as
# NAME, pinging for SECONDS; its counts added to the suite's.
clients() {
	local t0 c0
	t0=$(date +%s%N)
	c0=$(cpu_of "$GW_PID")
	ns_exec "$CLI" env VPNGW_PID="$GW_PID" VPNGW_LOG="$LIB_TMP/$1.log" \
		VPNGW_RESULTS="$LIB_TMP/results-$1" \
		"$PY" -u "$HERE/scale_test.py" ws://192.0.2.1:8080/ "$INET_ADDR" "$N" "$2" "$RTT_MS" |
		sed "s/^\(PASS\|FAIL\) /\1 $1: /; /^[0-9]* passed, /d"
	py_results "$LIB_TMP/results-$1" "scale_test.py ($1)"
	step "clients_$1" "$(ms_since "$t0") ms, the gateway's CPU $(awk -v a="$c0" -v b="$(cpu_of "$GW_PID")" 'BEGIN { printf "%.1f", b - a }') s"
}

# stop_gw NAME: SIGTERM; the gateway exits with 0 within 10 s.
stop_gw() { exits_zero "exit_$1" "$GW_PID" TERM 10; }

if ! inet_topology "$INET_ADDR" || ! ns_exec "$GW" ping -c 1 -W 2 "$INET_ADDR" >/dev/null; then
	bad topology "could not build the namespaces"
	finish
fi

t0=$(date +%s%N)
if out=$(ns_exec "$GW" env VPNGW_STATE_FILE="$LIB_TMP/gw.state" \
	"$VPNGW" setup "${SLOTS[@]}" 2>&1); then
	n=$(ip -n "$GW" -o link show | grep -c ': vpngw[0-9]*[:@]')
	if [ "$n" = "$N" ]; then
		ok setup "$n devices in $(ms_since "$t0") ms"
	else
		bad setup "$n vpngw devices after setup --pool $N"
	fi
else
	bad setup "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
	finish
fi

if start_gw gw-1 -v; then
	clients gw-1 "$SECS"
	stop_gw gw-1
fi

if "$VPNGW" serve --help 2>&1 | grep -q -- '--workers'; then
	start_gw gw-2 --workers 2 -v && clients gw-2 "$SECS_2" && stop_gw gw-2
else
	skip workers_2 "this vpngw has no --workers"
fi

finish
