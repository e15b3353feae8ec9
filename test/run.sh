#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh: every test of vpngw, suite by suite: the unit tests (plain, then
# under ASan+UBSan), the seccomp filters (built against musl, then glibc:
# allowed calls work, others kill), contrib/vpngw.service checked offline
# by systemd-analyze, the manual page against the parsers, --help and `make
# install`, a short fuzz run of each parser, the builds without TLS,
# and, as root, the end-to-end suites in network namespaces (gateway, its IPv6,
# client, what --default-route lets out of the client host (leak), its DNS
# and kill switch, TLS, access tokens, behind nginx, setup and errors, the
# binary alone in
# an empty root (a scratch container), the conntrack helper
# with several sockets, the limits under a flood, the metrics,
# super-packets, --workers, a pool of a thousand clients), then those that
# drive the packet paths and the handshakes (gateway, client, TLS, tokens,
# the flood, super-packets, --workers) again against an ASan+UBSan build,
# the gateway and client suites with TUN offloads off (--no-offload, added
# by test/nooffload.sh), so that both ends' paths run with offloads and
# without (`test/run.sh nooffload` runs the client suite so against the
# plain build; a full run leaves that to the ASan+UBSan one), and last the
# cross builds (aarch64, arm, mipsel, mips: tried under qemu-user), which
# compile in the background at idle priority meanwhile.
# Each suite ends with its own "N passed, N failed" line (followed by ", N
# skipped" when it skipped tests it cannot run here); this script adds them
# up, prints the total as its last line and fails if any failed.
# `test/run.sh NAME...` runs only the named suites; a name it does not know,
# a suite whose script is missing or not executable, and a suite that runs
# no test each count as a failure, with one line saying so.
set -u
cd "$(dirname "$0")/.."

fuzz_seconds=${FUZZ_SECONDS:-15}
total_pass=0
total_fail=0
total_skip=0

# fail_run WHY: one failure of the runner itself.
fail_run() {
	echo "-- $*"
	total_fail=$((total_fail + 1))
}

# Runs one suite, shows its output, and adds its counts. A suite that dies
# without printing its count line counts as one failure, and so does one
# whose count line shows no test at all.
suite() {
	local name=$1
	shift
	echo "== $name"
	if [ "${1#*/}" != "$1" ] && [ ! -x "$1" ]; then
		fail_run "$name: $1 is missing or not executable"
		return
	fi
	local log
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$line" ]; then
		fail_run "$name: no result line (exit $rc)"
		return
	fi
	local p f k=0
	read -r p _ f _ k _ <<<"${line//,/}"
	if [ "$((p + f + k))" = 0 ]; then
		fail_run "$name: ran no test"
		return
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "-- $name: exit $rc"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + ${k:-0}))
}

builds() {
	local p=0 f=0 dir other
	dir=$(mktemp -d)
	for flags in "TLS=0" "TLS=1"; do
		if git ls-files -z | xargs -0 cp --parents -t "$dir" 2>/dev/null &&
		   make -s -C "$dir" clean >/dev/null 2>&1 &&
		   make -s -j"$(nproc)" -C "$dir" $flags >"$dir/log" 2>&1 &&
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
	# Reproducible: the same sources built in another folder, under
	# another path, give the same bytes (no path or time is embedded).
	other=$(mktemp -d)/elsewhere/deeper
	mkdir -p "$other"
	if git ls-files -z | xargs -0 cp --parents -t "$other" 2>/dev/null &&
	   make -s -j"$(nproc)" -C "$other" TLS=1 >"$other/log" 2>&1 &&
	   cmp -s "$dir/vpngw" "$other/vpngw"; then
		echo "PASS build_reproducible: two folders, $(stat -c %s "$other/vpngw") bytes each, identical"
		p=$((p + 1))
	else
		echo "FAIL build_reproducible: the build in another folder differs (or failed)"
		f=$((f + 1))
	fi
	rm -rf "$dir" "${other%/elsewhere/deeper}"
	echo "$p passed, $f failed"
	[ "$f" = 0 ]
}


# Both ends' packet paths in one process (test/replay.c), each mode once:
# every packet must arrive in order and intact.
replay() {
	local m p=0 f=0
	make -s test/replay || { echo "0 passed, 1 failed"; return 1; }
	for m in down up down64 up64; do
		if test/replay "$m" 20000; then
			echo "PASS replay_$m"
			p=$((p + 1))
		else
			echo "FAIL replay_$m"
			f=$((f + 1))
		fi
	done
	echo "$p passed, $f failed"
	[ "$f" = 0 ]
}

# selected NAME: true if NAME was asked for (all are, by default). Every
# name it is called with is a suite this script knows.
known=()
selected() {
	local s=$1 x
	known+=("$s")
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
	make -s -j"$(nproc)" -C "$dir" CC=clang XLDFLAGS= LDFLAGS="-fsanitize=address,undefined" \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all" \
		>"$dir/build.log" 2>&1
}

sel=("$@")
make -s vpngw test/unit test/unit-asan test/seccomp_test test/seccomp_test-glibc test/priv_test || { echo "0 passed, 1 failed"; exit 1; }
# The cross builds take minutes of CPU the namespace suites mostly leave
# idle: they start now, at SCHED_IDLE, and the cross suite at the end
# finds them built and runs the checks.
cross_pid=
if selected cross; then
	chrt -i 0 test/cross.sh build >/dev/null 2>&1 &
	cross_pid=$!
fi

selected unit && suite unit test/unit
selected replay && suite replay replay
selected asan && suite "unit (ASan+UBSan)" test/unit-asan
selected seccomp && suite "seccomp (musl)" test/seccomp_test
selected seccomp && suite "seccomp (glibc)" test/seccomp_test-glibc
selected systemd && suite systemd test/systemd.sh
selected docs && suite docs test/docs.sh
selected builds && suite builds builds
selected fuzz && suite fuzz test/fuzz/run.sh "$fuzz_seconds"
# The network suites need root: each says so itself, as a failure.
selected setup && suite setup test/setup.sh
selected scratch && suite scratch test/scratch.sh
selected helper && suite helper test/priv_test
selected gateway && suite gateway test/netns.sh
selected ipv6 && suite ipv6 test/ipv6.sh
selected connect6 && suite connect6 test/connect6.sh
selected firewall && suite firewall test/firewall.sh
selected client && suite client test/client.sh
selected killswitch && suite killswitch test/killswitch.sh
selected dns && suite dns test/dns.sh
selected resolved && suite resolved test/resolved.sh
selected leak && suite leak test/leak.sh
selected tls && suite tls test/tls.sh
selected auth && suite auth test/auth.sh
selected proxy && suite proxy test/proxy.sh
selected flood && suite flood test/flood.sh
selected metrics && suite metrics test/metrics.sh
selected offload && suite offload test/offload.sh
selected workers && suite workers test/workers.sh
selected scale && suite scale test/scale.sh
# The gateway's and the client's paths with TUN offloads off (one packet a
# read) are run so under ASan+UBSan, below; with offloads on, above.
selected nooffload && [ ${#sel[@]} -gt 0 ] &&
	VPNGW=$PWD/test/nooffload.sh suite "client (--no-offload)" test/client.sh
if selected asan-e2e && [ "$(id -u)" != 0 ]; then
	fail_run "asan-e2e: the network suites must run as root"
elif selected asan-e2e; then
	adir=$(mktemp -d)
	chmod 755 "$adir" # a gateway that drops to nobody runs it too
	if asan_build "$adir"; then
		VPNGW=$PWD/test/nooffload.sh VPNGW_REAL=$adir/vpngw \
			suite "gateway (ASan+UBSan, --no-offload)" test/netns.sh
		VPNGW=$PWD/test/nooffload.sh VPNGW_REAL=$adir/vpngw \
			suite "client (ASan+UBSan, --no-offload)" test/client.sh
		VPNGW=$adir/vpngw suite "tls (ASan+UBSan)" test/tls.sh
		VPNGW=$adir/vpngw suite "auth (ASan+UBSan)" test/auth.sh
		VPNGW=$adir/vpngw FLOOD_RTT_MS=300 suite "flood (ASan+UBSan)" test/flood.sh
		VPNGW=$adir/vpngw suite "offload (ASan+UBSan)" test/offload.sh
		VPNGW=$adir/vpngw suite "workers (ASan+UBSan)" test/workers.sh
	else
		tail -n 5 "$adir/build.log"
		fail_run "the ASan+UBSan build failed"
	fi
	rm -rf "$adir"
fi

if [ -n "$cross_pid" ]; then
	wait "$cross_pid"
	suite cross test/cross.sh
fi

for x in "${sel[@]}"; do
	printf '%s\n' "${known[@]}" | grep -qx -- "$x" ||
		fail_run "no suite named '$x' (suites: ${known[*]})"
done
line="$total_pass passed, $total_fail failed"
[ "$total_skip" = 0 ] || line="$line, $total_skip skipped"
echo "$line"
[ "$total_fail" = 0 ]
