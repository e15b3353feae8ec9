#!/bin/bash
# SPDX-License-Identifier: MIT
# replay.sh [OUT]: user-space instructions per forwarded packet, each way,
# counted by callgrind on test/replay (no root, no network): a figure that
# a noisy machine does not move, so that an optimisation is proven.
#
# For each mode (down, up: TCP packets of 1500 bytes; down64, up64: UDP
# packets of 64 bytes) test/replay runs under callgrind with N = 2000 and
# N = 4000 packets, counting only the gateway's and the client's work (the
# functions step_down and step_up; the harness's building and checking of
# packets is left out), and (Ir(4000) - Ir(2000)) / 2000 is printed: the
# difference cancels the start-up. It is printed for both ends together,
# and apart: the gateway's (its wakes, gw_tun_wake and gw_sock_wake, by
# callgrind_annotate's inclusive counts) and the client's (the rest). OUT,
# when given, gets "MODE TOTAL GATEWAY" lines (GATEWAY "-" without
# callgrind_annotate; test/bench.sh puts them in its JSON). Without valgrind: one line
# on stderr, nothing else, exit 0. KEEP_TMP=1 keeps the callgrind files
# (callgrind_annotate reads them).
set -u
cd "$(dirname "$0")/.." || exit 1

OUT=${1:-}
MODES="down up down64 up64"
N1=2000
N2=4000

command -v valgrind >/dev/null || { echo "replay: no valgrind: instructions per packet skipped" >&2; exit 0; }
make -s test/replay || exit 1
DIR=$(mktemp -d "${TMPDIR:-/tmp}/vpngw-replay.XXXXXX") || exit 1
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$DIR"' EXIT

# Every run at once: callgrind's counts do not depend on the load.
pids=()
for m in $MODES; do
	for n in $N1 $N2; do
		valgrind --tool=callgrind --callgrind-out-file="$DIR/$m.$n.out" \
			--toggle-collect='step_*' test/replay "$m" "$n" >"$DIR/$m.$n.log" 2>&1 &
		pids+=($!)
	done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if [ $fail = 1 ]; then
	for f in "$DIR"/*.log; do grep -q '^replay:' "$f" && grep '^replay:' "$f" >&2; done
	echo "replay: a run failed (logs: $DIR)" >&2
	trap - EXIT
	exit 1
fi

# The total Ir of a callgrind file (its "totals:" line, else "summary:").
ir() { awk '$1 == "totals:" { t = $2 } $1 == "summary:" && t == "" { s = $2 }
	END { print (t != "" ? t : s) + 0 }' "$1"; }
# The gateway's part of it: the inclusive Ir of its wakes (gw_tun_wake,
# gw_sock_wake), by callgrind_annotate; empty without it.
ir_gw() {
	command -v callgrind_annotate >/dev/null || return 0
	callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk '$NF ~ /^\[/ && $(NF - 1) ~ /:gw_(tun|sock)_wake$/ { gsub(",", "", $1); t += $1; n++ }
			END { if (n) print t }'
}
per() { awk -v a="$1" -v b="$2" -v d=$((N2 - N1)) 'BEGIN { printf "%.1f", (b - a) / d }'; }

[ -z "$OUT" ] || : >"$OUT"
echo "user-space instructions per packet (callgrind: (Ir($N2) - Ir($N1)) / $((N2 - N1)))"
printf '  %-7s %-32s %9s %9s %9s\n' mode "" total gateway client
for m in $MODES; do
	v=$(per "$(ir "$DIR/$m.$N1.out")" "$(ir "$DIR/$m.$N2.out")")
	g1=$(ir_gw "$DIR/$m.$N1.out")
	g2=$(ir_gw "$DIR/$m.$N2.out")
	g=- c=-
	if [ -n "$g1" ] && [ -n "$g2" ]; then
		g=$(per "$g1" "$g2")
		c=$(awk -v v="$v" -v g="$g" 'BEGIN { printf "%.1f", v - g }')
	fi
	case $m in
	down) what="Internet -> client, TCP 1500 B" ;;
	up) what="client -> Internet, TCP 1500 B" ;;
	down64) what="Internet -> client, UDP 64 B" ;;
	up64) what="client -> Internet, UDP 64 B" ;;
	esac
	printf '  %-7s %-32s %9s %9s %9s\n' "$m" "$what" "$v" "$g" "$c"
	[ -z "$OUT" ] || echo "$m $v $g" >>"$OUT"
done
