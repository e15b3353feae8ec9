#!/bin/bash
# SPDX-License-Identifier: MIT
# test/netns.sh: end-to-end tests of vpngw in network namespaces, as root.
# Builds the topology below, starts the servers and four gateways, runs
# test/gateway_test.py (an independent client: python websockets + scapy)
# inside gateway A's namespace, adds a few tests of its own (privileges
# dropped, exit status after SIGINT and SIGTERM, teardown) and ends with
# one line "N passed, N failed"; exits non-zero on any failure. Building
# the topology, starting the gateways and checking that gateway A survived
# are set-up steps: not counted, but a step that fails fails the suite.
# lib.sh removes every namespace and process it made, even on failure or ^C.
#
#   ns inet: br0 198.51.100.1/24   servers: udp echo :7, delayed udp echo
#      |                           (3 s) :9, http :80 (GET /body), nothing
#      |                           on udp :9999
#      +-- p2 ==veth== eth0 198.51.100.2  ns gwa: gateway A, 127.0.0.1:8080
#      |     --pool 5 --keepalive 1 (vpngw0-4, 10.0.100-104.0/24)
#      |     and the test client gateway_test.py (also talks to B, C, D)
#      +-- p3 ==veth== eth0 198.51.100.3  ns gwb: gateway B,
#      |     198.51.100.3:8080 --path /vpn, egress MTU 1400 (vgb*, 10.0.110.0/24)
#      +-- p4 ==veth== eth0 198.51.100.4  ns gwc: gateway C,
#      |     198.51.100.4:8080 --pool 1 (vgc0, 10.0.120.0/24), gets SIGINT
#      +-- p5 ==veth== eth0 198.51.100.5  ns gwd: gateway D,
#            198.51.100.5:8080 --pool 10 (vgd0-9, 10.0.130-139.0/24), churned,
#            then gets SIGTERM
#
# Every gateway namespace routes by default via 198.51.100.1; each gateway
# does its own host setup (TUNs, forwarding, nftables masquerade out of
# eth0) in its own namespace. Client sources are in 192.0.2.0/24.
#
# Usage: test/netns.sh [TEST...]   (names as in gateway_test.py --list)
# Environment: VPNGW (binary, default ../vpngw beside this script),
# KEEP_TMP=1 keeps the logs, VPNGW_SLOT_WAIT (seconds to retry on 1013).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1


suite_start
# The client tests asked for (the options, such as -v, are gateway_test.py's).
for a in "$@"; do [ "${a#-}" = "$a" ] && WANT+=("$a"); done

# ---- Topology ----
setup_topology() {
	ns_add INET inet && ns_add GWA gwa && ns_add GWB gwb &&
		ns_add GWC gwc && ns_add GWD gwd || return 1
	ip -n "$INET" link add br0 type bridge || return 1
	ip -n "$INET" addr add 198.51.100.1/24 dev br0 || return 1
	ip -n "$INET" link set br0 up || return 1
	local i=2 ns
	for ns in "$GWA" "$GWB" "$GWC" "$GWD"; do
		veth_add "$INET" "p$i" "$ns" eth0 || return 1
		ip -n "$INET" link set "p$i" master br0 || return 1
		ip -n "$ns" addr add "198.51.100.$i/24" dev eth0 || return 1
		ip -n "$ns" route add default via 198.51.100.1 || return 1
		i=$((i + 1))
	done
	# Gateway B's egress path MTU is 1400: MSS clamping, frag-needed.
	ip -n "$GWB" link set eth0 mtu 1400
}

start_servers() {
	bg_in "$INET" "$PY" "$HERE/servers/udp_echo.py" --port 7 \
		>"$LIB_TMP/echo.log" 2>&1
	bg_in "$INET" "$PY" "$HERE/servers/udp_echo.py" --port 9 --delay 3 \
		>"$LIB_TMP/delayed-echo.log" 2>&1
	bg_in "$INET" "$PY" "$HERE/servers/http_server.py" --port 80 \
		>"$LIB_TMP/http.log" 2>&1
	wait_port "$INET" 198.51.100.1 7 udp && wait_port "$INET" 198.51.100.1 9 udp &&
		wait_port "$INET" 198.51.100.1 80 tcp
}

# start_gw VAR NS NAME ARGS...: starts `vpngw serve ARGS` in NS with its own
# state file and log; waits for "listening on"; stores its PID in VAR.
start_gw() {
	local var=$1 ns=$2 name=$3
	shift 3
	# A background job of a script ignores SIGINT and SIGQUIT; a gateway
	# started by an operator does not.
	bg_in "$ns" env --default-signal=INT,QUIT \
		VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve "$@" >"$LIB_TMP/$name.log" 2>&1
	printf -v "$var" '%s' "$BG_PID"
	if wait_log "$LIB_TMP/$name.log" 'vpngw: listening on' 10 "$BG_PID"; then
		step "start_$name"
	else
		bad "start_$name" "no 'listening on' within 10 s: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		return 1
	fi
}

if ! setup_topology; then
	bad topology "could not build the namespaces"
	finish
fi
if start_servers && ns_exec "$GWA" ping -c 1 -W 2 198.51.100.1 >/dev/null &&
	ns_exec "$GWA" "$PY" -c 'import urllib.request as u; u.urlopen("http://198.51.100.1/body", timeout=3).read()'; then
	step topology
else
	bad topology "servers not reachable from the gateway namespace"
	finish
fi

GWA_PID='' GWC_PID='' GWD_PID=''
# Every test client connects from 127.0.0.1, many times a second: the
# per-source handshake rate is test/flood.sh's to test, not a limit here.
ALLOW=(--allow 198.51.100.0/24 --handshake-rate 1000)
start_gw GWA_PID "$GWA" gw-a "${ALLOW[@]}" --keepalive 1 --pool 5 -v || finish
start_gw GWB_PID "$GWB" gw-b "${ALLOW[@]}" --keepalive 1 --listen 198.51.100.3:8080 \
	--path /vpn --tun-prefix vgb --subnet 10.0.110.0/24 -v
start_gw GWC_PID "$GWC" gw-c "${ALLOW[@]}" --keepalive 1 --listen 198.51.100.4:8080 \
	--pool 1 --tun-prefix vgc --subnet 10.0.120.0/24 -v
start_gw GWD_PID "$GWD" gw-d "${ALLOW[@]}" --keepalive 1 --listen 198.51.100.5:8080 \
	--pool 10 --tun-prefix vgd --subnet 10.0.130.0/24 -v

user=$(ps -o user= -p "$GWA_PID" | tr -d ' ')
if [ -n "$user" ] && [ "$user" != root ]; then
	ok privileges_dropped
else
	bad privileges_dropped "gateway A runs as '${user:-?}', expected nobody"
fi

# confined NAME PID SECCOMP CAPEFF: PID runs with that seccomp mode (2: a
# filter, 0: none), no new privileges and exactly those capabilities.
confined() {
	local sc nnp cap
	sc=$(status_of "$2" Seccomp) nnp=$(status_of "$2" NoNewPrivs) cap=$(status_of "$2" CapEff)
	if [ "$sc" = "$3" ] && [ "$nnp" = 1 ] && [ "$cap" = "$4" ]; then
		ok "$1"
	else
		bad "$1" "pid $2: Seccomp ${sc:-?} NoNewPrivs ${nnp:-?} CapEff ${cap:-?}, want $3 1 $4"
	fi
}

# The helper (vpngw-ct) keeps CAP_NET_ADMIN (bit 12) alone.
helper_of() { ps -o pid=,comm= --ppid "$1" | awk '$2 == "vpngw-ct" { print $1 }'; }
confined privileges_seccomp "$GWA_PID" 2 0000000000000000
confined privileges_helper_seccomp "$(helper_of "$GWA_PID")" 2 0000000000001000

# ---- The client tests ----
bg_in "$GWA" env VPNGW_URL=ws://127.0.0.1:8080/ VPNGW_PID="$GWA_PID" \
	VPNGW_LOG="$LIB_TMP/gw-a.log" \
	VPNGW_B_URL=ws://198.51.100.3:8080/vpn \
	VPNGW_C_URL=ws://198.51.100.4:8080/ VPNGW_C_PID="${GWC_PID:-0}" \
	VPNGW_D_URL=ws://198.51.100.5:8080/ VPNGW_D_PID="${GWD_PID:-0}" \
	VPNGW_RESULTS="$LIB_TMP/results" \
	"$PY" -u "$HERE/gateway_test.py" "$@"
wait "$BG_PID"
py_results "$LIB_TMP/results" gateway_test.py

# ---- Checks of the gateway processes ----
if kill -0 "$GWA_PID" 2>/dev/null; then
	step gateway_survived
else
	bad gateway_survived "gateway A exited during the tests"
fi

# The gateways the tests signalled exit with 0.
want sigint_1001 && exits_zero sigint_exit "$GWC_PID" - 5
want sigterm_1001 && exits_zero sigterm_exit "$GWD_PID" - 5

# Teardown undoes what serve's own setup did in gwa.
kill -TERM "$GWA_PID" 2>/dev/null
if ! wait_exit "$GWA_PID" 5; then
	bad teardown "gateway A did not exit within 5 s of SIGTERM"
elif ! out=$(ns_exec "$GWA" env VPNGW_STATE_FILE="$LIB_TMP/gw-a.state" \
	"$VPNGW" teardown --pool 5 2>&1); then
	bad teardown "vpngw teardown failed: $out"
else
	left=$(ip -n "$GWA" -o link show | awk -F': ' '{print $2}' | grep '^vpngw')
	tbl=$(ns_exec "$GWA" nft list tables 2>/dev/null | grep -w vpngw)
	fwd=$(ns_exec "$GWA" sysctl -n net.ipv4.ip_forward)
	if [ -z "$left" ] && [ -z "$tbl" ] && [ "$fwd" = 0 ]; then
		ok teardown
	else
		bad teardown "left after teardown: links '$(echo "$left" | tr '\n' ' ')', table '$tbl', ip_forward=$fwd"
	fi
fi

# --no-seccomp: the same drop, without the filters.
if start_gw GWN_PID "$GWA" gw-n --no-seccomp --pool 1 --listen 127.0.0.1:8081; then
	confined privileges_no_seccomp "$GWN_PID" 0 0000000000000000
	confined privileges_helper_no_seccomp "$(helper_of "$GWN_PID")" 0 0000000000001000
	grep -q 'seccomp filter off' "$LIB_TMP/gw-n.log" &&
		grep -q 'seccomp filter on' "$LIB_TMP/gw-a.log" && ok seccomp_logged ||
		bad seccomp_logged "no 'seccomp filter on/off' in the start-up lines"
	kill -TERM "$GWN_PID"
	wait_exit "$GWN_PID" 5
fi

finish
