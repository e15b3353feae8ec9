#!/bin/bash
# SPDX-License-Identifier: MIT
# test/systemd.sh: checks contrib/vpngw.service offline with systemd-analyze
# (package systemd): `verify` on a copy whose /usr/local/bin/vpngw is the
# built binary (verify wants each command to exist), with no warning at
# all, since verify reports a bad value as "ignoring" and still succeeds;
# every capability it names is one systemd knows (a misspelt one is dropped
# without a word); and the overall exposure of `security --offline` stays
# at most 2.5. Nothing here starts the unit: that needs systemd as PID 1.
# Usage: test/systemd.sh [UNIT] (default contrib/vpngw.service). Ends with
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
unit=${1:-contrib/vpngw.service}
PASSED=0 FAILED=0
ok() { echo "PASS $1${2:+: $2}"; PASSED=$((PASSED + 1)); }
bad() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

if ! command -v systemd-analyze >/dev/null; then
	bad systemd "no systemd-analyze (apt-get install systemd)"
	echo "$PASSED passed, $FAILED failed"
	exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
copy=$dir/vpngw.service
sed "s#/usr/local/bin/vpngw#$PWD/vpngw#g" "$unit" >"$copy"

if ! out=$(systemd-analyze verify "$copy" 2>&1); then
	bad systemd_verify "$(echo "$out" | head -n 3 | tr '\n' ' ')"
elif [ -n "$out" ]; then
	bad systemd_verify "warnings: $(echo "$out" | head -n 3 | tr '\n' ' ')"
else
	ok systemd_verify
fi

caps=$(grep -E '^(CapabilityBoundingSet|AmbientCapabilities)=' "$unit" | cut -d= -f2- | tr ' ' '\n' |
	sed 's/^~//' | grep . | sort -u)
if [ -z "$caps" ]; then
	bad systemd_capabilities "the unit names no capability"
elif out=$(systemd-analyze capability $caps 2>&1); then
	ok systemd_capabilities "$(echo $caps)"
else
	bad systemd_capabilities "$(echo "$out" | grep -i 'not known' | head -n 1)"
fi

score=$(systemd-analyze security --offline=yes --no-pager "$copy" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
	bad systemd_exposure "no exposure level from systemd-analyze security"
elif awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
	ok systemd_exposure
else
	bad systemd_exposure "exposure $score, expected at most 2.5"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
