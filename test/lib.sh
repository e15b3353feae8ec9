# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034
# test/lib.sh: shell helpers for the namespace tests, sourced by netns.sh
# (and the other namespace suites).
# Every namespace, process and temporary file made through these helpers is
# recorded, and one trap on EXIT, INT and TERM removes exactly those, even
# when a test fails or the run is interrupted: it kills only the PIDs it
# started (and whatever is left inside namespaces it created) and deletes
# only its own namespaces. Nothing is created in the caller's namespace.
# Traffic stays inside those namespaces, on 192.0.2.0/24, 198.51.100.0/24,
# 203.0.113.0/24 and 10.0.0.0/8.

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VPNGW=${VPNGW:-"$LIB_DIR/../vpngw"}   # the binary under test
VPNGW=$(cd "$(dirname "$VPNGW")" && pwd)/$(basename "$VPNGW")
PY=/usr/bin/python3                   # Debian's, with websockets and scapy
START=$(date +%s)
PASSED=0
FAILED=0
SKIPPED=0
LIB_NS=()        # namespaces we created
LIB_PIDS=()      # processes we started
LIB_RM=()        # files and folders of ours outside LIB_TMP (lib_rm, netns_etc)
LIB_TAG="e2e$$-$(printf %04x "$RANDOM")"
LIB_TMP=$(mktemp -d "/tmp/$LIB_TAG.XXXXXX") || exit 1
BG_PID=          # the PID of the last bg_in

lib_log() { printf '%s\n' "netns: $*" >&2; }

# lib_cleanup: the trap. Stops our processes (TERM, then KILL after 2 s),
# then anything still running inside our namespaces, removes what lib_rm
# and netns_etc listed, then deletes the namespaces.
lib_cleanup() {
	local rc=$? pid ns i alive
	trap - EXIT INT TERM
	for pid in "${LIB_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 20); do
		alive=0
		for pid in "${LIB_PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${LIB_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for ns in "${LIB_NS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	wait 2>/dev/null
	for i in "${LIB_RM[@]}"; do
		rm -rf "$i"
	done
	[[ " ${LIB_RM[*]}" = *" /etc/netns/"* ]] && rmdir /etc/netns 2>/dev/null
	for ns in "${LIB_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$LIB_TMP"
	exit "$rc"
}
trap lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ns_add VAR NAME: creates a namespace with a unique name (prefix, our PID
# and a random tag), brings its loopback up, stores its name in VAR.
ns_add() {
	local var=$1 name="$LIB_TAG-$2"
	ip netns add "$name" || return 1
	LIB_NS+=("$name")
	ip -n "$name" link set lo up || return 1
	ns_exec "$name" sysctl -qw net.ipv4.icmp_ratelimit=0 || return 1
	printf -v "$var" '%s' "$name"
}

# lib_rm PATH...: files of ours outside LIB_TMP (a client's backups in
# /run/vpngw), removed at cleanup once our processes are gone.
lib_rm() { LIB_RM+=("$@"); }

# netns_etc VAR NS: /etc/netns/NS, whose files `ip netns exec` bind-mounts
# over /etc's (a resolv.conf of NS's own), made now and removed at cleanup
# (and /etc/netns with it once empty). Its path in VAR.
netns_etc() {
	local d=/etc/netns/$2
	mkdir -p "$d" || return 1
	LIB_RM+=("$d")
	printf -v "$1" '%s' "$d"
}

# ns_exec NS CMD...: runs CMD inside NS in the foreground.
ns_exec() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# veth_add NS1 IF1 NS2 IF2: a veth pair with one end in each namespace,
# both ends up.
veth_add() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# inet_topology INET_ADDR: three namespaces (the workers and scale suites), in CLI,
# GW and INET: the client at 192.0.2.2 on the gateway's 192.0.2.1, the
# gateway at 198.51.100.2 routing by default to the Internet host at
# INET_ADDR (in 198.51.100.0/24).
inet_topology() {
	local inet=$1
	ns_add CLI cli && ns_add GW gw && ns_add INET inet || return 1
	veth_add "$CLI" eth0 "$GW" eth1 && veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via "$inet" &&
		ip -n "$INET" addr add "$inet/24" dev eth0
}

# ns_dead_end VAR NAME: ns_add, then a default route out of e0
# (198.51.100.2/24, via 198.51.100.1) with nothing behind it, as setup
# needs one to find its egress interface.
# conntrack_load NS: loads nf_conntrack in NS, as a first rule using ct
# does, so that the conntrack sysctls setup lowers exist before a snapshot
# (a namespace gets them on first use, as a host whose firewall runs has).
conntrack_load() {
	ns_exec "$1" nft -f - <<'EOF'
table ip probe {
	chain c {
		type filter hook output priority 0; policy accept;
		ct state new accept
	}
}
delete table ip probe
EOF
}

ns_dead_end() {
	ns_add "$1" "$2" || return 1
	ip -n "${!1}" link add e0 type veth peer name e1 || return 1
	ip -n "${!1}" addr add 198.51.100.2/24 dev e0 &&
		ip -n "${!1}" link set e0 up &&
		ip -n "${!1}" route add default via 198.51.100.1
}

# bg_in NS CMD...: starts CMD in NS in the background; records its PID
# (also left in BG_PID). `ip netns exec` execs CMD, so the PID is CMD's.
bg_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" &
	BG_PID=$!
	LIB_PIDS+=("$BG_PID")
}

# wait_port NS ADDR PORT [tcp|udp] [TIMEOUT]: waits until something listens
# on ADDR:PORT (or the wildcard) in NS. Looks at the socket table, so it
# never connects to the service. Returns 1 on timeout.
wait_port() {
	local ns=$1 addr=$2 port=$3 proto=${4:-tcp} timeout=${5:-10} flag=t i
	[ "$proto" = udp ] && flag=u
	for i in $(seq $((timeout * 10))); do
		if ns_exec "$ns" ss -Hln$flag 2>/dev/null | awk '{print $4}' |
			grep -qxE "($addr|0\.0\.0\.0|\*|\[::\]):$port"; then
			return 0
		fi
		sleep 0.1
	done
	lib_log "nothing listens on $addr:$port/$proto in $ns after ${timeout}s"
	return 1
}

# wait_log FILE REGEX [TIMEOUT] [PID]: waits until FILE has a line matching
# REGEX; gives up early if PID has exited.
wait_log() {
	local file=$1 re=$2 timeout=${3:-10} pid=${4:-} i
	for i in $(seq $((timeout * 10))); do
		grep -qE "$re" "$file" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# wait_exit PID TIMEOUT: waits until PID (our child) has exited; leaves its
# exit status in EXIT_STATUS. Returns 1 on timeout. Not in a subshell: only
# the parent can reap.
wait_exit() {
	local pid=$1 timeout=${2:-5} i
	for i in $(seq $((timeout * 10))); do
		if ! kill -0 "$pid" 2>/dev/null || grep -q '^[^ ]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			EXIT_STATUS=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# status_of PID FIELD: one field of /proc/PID/status ("Seccomp", "CapEff").
status_of() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# exits_zero NAME PID SIGNAL SECONDS [REPORT]: sends SIGNAL to PID (our
# child; "-" when it was sent already) and checks that it exits with status
# 0 within SECONDS. Reports success with REPORT (default ok; step when the
# exit is a set-up step) and failure with bad. Does nothing without a PID.
exits_zero() {
	local name=$1 pid=$2 sig=$3 secs=$4 report=${5:-ok} what="SIG$3"
	[ -n "$pid" ] || return 0
	[ "$sig" = - ] && what="its signal" || kill -"$sig" "$pid" 2>/dev/null
	if ! wait_exit "$pid" "$secs"; then
		bad "$name" "still running $secs s after $what"
	elif [ "$EXIT_STATUS" != 0 ]; then
		bad "$name" "exit status $EXIT_STATUS after $what"
	else
		"$report" "$name"
	fi
}

# ok NAME [DETAIL] / bad NAME WHY: one result line each, counted.
# skip NAME WHY: a test that cannot run here, counted as skipped, never as
# passed. step NAME [DETAIL]: a set-up step that worked; it is not a test
# and is not counted (a step that fails is reported with bad, and fails the
# suite).
ok() { echo "PASS $1${2:+: $2}"; PASSED=$((PASSED + 1)); }
bad() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
step() { echo "step $1${2:+: $2}"; }

# finish: after a failure shows the end of every log in LIB_TMP, then prints
# the suite's "N passed, N failed" line (", N skipped" when some were) and
# exits, non-zero on failure. A suite that ran no test at all fails.
finish() {
	local f line
	if [ $((PASSED + FAILED + SKIPPED)) = 0 ]; then
		bad "$(basename "$0")" "ran no test"
	fi
	if [ "$FAILED" -gt 0 ]; then
		for f in "$LIB_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "---- last lines of $(basename "$f")" >&2
			tail -n 15 "$f" >&2
		done
	fi
	lib_log "took $(($(date +%s) - START)) s"
	line="$PASSED passed, $FAILED failed"
	[ "$SKIPPED" = 0 ] || line="$line, $SKIPPED skipped"
	echo "$line"
	[ "$FAILED" = 0 ]
	exit
}

# py_results FILE NAME [WHAT]: adds the counts a python part (NAME) wrote
# to FILE ("PASSED FAILED SKIPPED", as harness.py writes $VPNGW_RESULTS) to this
# suite's; when FILE holds none, one failure: NAME did not report WHAT
# ("its results" by default).
py_results() {
	local p f k
	if read -r p f k <"$1" 2>/dev/null; then
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f))
		SKIPPED=$((SKIPPED + ${k:-0}))
	else
		bad "$2" "did not report ${3:-its results}"
	fi
}

# want NAME: true if the test NAME is to run: every test when WANT (the
# names the suite was asked for, set by the script) is empty, else only
# the ones in it.
WANT=()
want() {
	local t
	[ "${#WANT[@]}" = 0 ] && return 0
	for t in "${WANT[@]}"; do [ "$t" = "$1" ] && return 0; done
	return 1
}

# select_tests NAME...: the suite's tests become the NAMEs (when any are
# given), in that order; TESTS holds the ones it has. A NAME not in TESTS
# is one failure each, and then the suite ends.
select_tests() {
	local t
	[ $# -gt 0 ] || return 0
	for t in "$@"; do
		printf '%s\n' "${TESTS[@]}" | grep -qx -- "$t" ||
			bad "$t" "no such test (tests: ${TESTS[*]})"
	done
	[ "$FAILED" = 0 ] || finish
	TESTS=("$@")
}

# suite_start: a suite needs root and the binary; else one failure, and out.
suite_start() {
	if [ "$(id -u)" != 0 ]; then
		bad setup "must run as root"
		finish
	fi
	if [ ! -x "$VPNGW" ]; then
		bad setup "no executable $VPNGW (run make)"
		finish
	fi
}
