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
# difference cancels the start-up. OUT, when given, gets "MODE FIGURE"
# lines (test/bench.sh puts them in its JSON). Without valgrind: one line
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

[ -z "$OUT" ] || : >"$OUT"
echo "user-space instructions per packet (callgrind: (Ir($N2) - Ir($N1)) / $((N2 - N1)))"
for m in $MODES; do
	a=$(ir "$DIR/$m.$N1.out")
	b=$(ir "$DIR/$m.$N2.out")
	v=$(awk -v a="$a" -v b="$b" -v d=$((N2 - N1)) 'BEGIN { printf "%.1f", (b - a) / d }')
	case $m in
	down) what="Internet -> client, TCP 1500 B" ;;
	up) what="client -> Internet, TCP 1500 B" ;;
	down64) what="Internet -> client, UDP 64 B" ;;
	up64) what="client -> Internet, UDP 64 B" ;;
	esac
	printf '  %-7s %-32s %8s\n' "$m" "$what" "$v"
	[ -z "$OUT" ] || echo "$m $v" >>"$OUT"
done
