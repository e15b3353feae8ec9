#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh: every test of vpngw, suite by suite: the unit tests (plain, then
# under ASan+UBSan), a short fuzz run of each parser, the builds without TLS,
# and, as root, the end-to-end suites in network namespaces (gateway, client,
# TLS, setup and errors), then the first three again against an ASan+UBSan
# build. Each suite ends with its own "N passed, N failed" line; this script
# adds them up, prints the total as its last line and fails if any failed.
# `test/run.sh NAME...` runs only the named suites.
set -u
cd "$(dirname "$0")/.."

fuzz_seconds=${FUZZ_SECONDS:-20}
total_pass=0
total_fail=0

# Runs one suite, shows its output, and adds its counts. A suite that dies
# without printing its count line counts as one failure.
suite() {
	local name=$1
	shift
	local log
	log=$(mktemp)
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "-- $name: no result line (exit $rc)"
		total_fail=$((total_fail + 1))
		return
	fi
	local p f
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "-- $name: exit $rc"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

builds() {
	local p=0 f=0 dir
	dir=$(mktemp -d)
	for flags in "TLS=0" "TLS=1"; do
		if git ls-files -z | xargs -0 cp --parents -t "$dir" 2>/dev/null &&
		   make -s -C "$dir" clean >/dev/null 2>&1 &&
		   make -s -C "$dir" $flags >"$dir/log" 2>&1 &&
		   file -b "$dir/vpngw" | grep -q 'static' &&
		   "$dir/vpngw" --version >/dev/null; then
			echo "PASS build $flags: static, $(stat -c %s "$dir/vpngw") bytes"
			p=$((p + 1))
		else
			echo "FAIL build $flags"
			tail -n 5 "$dir/log" 2>/dev/null
			f=$((f + 1))
		fi
	done
	rm -rf "$dir"
	echo "$p passed, $f failed"
	[ "$f" = 0 ]
}


selected() {
	local s=$1
	shift
	[ ${#sel[@]} -eq 0 ] && return 0
	for x in "${sel[@]}"; do [ "$x" = "$s" ] && return 0; done
	return 1
}

# A glibc build of the whole binary under ASan+UBSan (static musl has no
# sanitizers): the network suites run against it too, so that a memory
# error anywhere on a real packet path aborts the gateway and fails them.
asan_build() {
	local dir=$1
	git ls-files -z | xargs -0 cp --parents -t "$dir" &&
	make -s -C "$dir" CC=clang XLDFLAGS= LDFLAGS="-fsanitize=address,undefined" \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all" \
		>"$dir/build.log" 2>&1
}

sel=("$@")
make -s vpngw test/unit test/unit-asan || { echo "0 passed, 1 failed"; exit 1; }

selected unit && suite unit test/unit
selected asan && suite "unit (ASan+UBSan)" test/unit-asan
selected builds && suite builds builds
selected fuzz && suite fuzz test/fuzz/run.sh "$fuzz_seconds"
if [ "$(id -u)" = 0 ]; then
	selected setup && suite setup test/setup.sh
	selected gateway && suite gateway test/netns.sh
	selected firewall && suite firewall test/firewall.sh
	selected client && [ -x test/client.sh ] && suite client test/client.sh
	selected tls && [ -x test/tls.sh ] && grep -q '^TLS ?= 1' Makefile && suite tls test/tls.sh
	if selected asan-e2e; then
		adir=$(mktemp -d)
		if asan_build "$adir"; then
			VPNGW=$adir/vpngw suite "gateway (ASan+UBSan)" test/netns.sh
			VPNGW=$adir/vpngw suite "client (ASan+UBSan)" test/client.sh
			VPNGW=$adir/vpngw suite "tls (ASan+UBSan)" test/tls.sh
		else
			tail -n 5 "$adir/build.log"
			echo "-- the ASan+UBSan build failed"
			total_fail=$((total_fail + 1))
		fi
		rm -rf "$adir"
	fi
else
	echo "-- not root: the network suites need root"
	total_fail=$((total_fail + 1))
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
