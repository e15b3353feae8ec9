#!/bin/bash
# SPDX-License-Identifier: MIT
# test/ipv6.sh: the gateway's IPv6 data plane end to end in network
# namespaces, as root. Builds the topology below, starts the servers and
# two gateways (one with IPv6, one with --subnet6 none), runs
# test/ipv6_test.py (an independent client: python websockets + scapy)
# inside the gateway's namespace and ends with one line "N passed, N
# failed". lib.sh removes every namespace and process it made.
#
#   ns inet: br0 198.51.100.1/24, 2001:db8:100::1/64   servers: udp echo
#      |     [::]:7, http [::]:80 (GET /body)
#      +-- p2 ==veth== eth0 198.51.100.2/24, 2001:db8:100::2/64  ns gw:
#      |     the gateway, 127.0.0.1:8080 --pool 4 --linger 1 (vpngw0-3,
#      |     10.0.100-103.0/24, fd00:0:0:100-103::/64), default routes of both
#      |     families via inet;
#      |     a TCP listener on [::]:2222 the clients must not reach;
#      |     eth2 2001:db8:101::2/64, MTU 1280 ==veth== ns inet2: eth0
#      |     2001:db8:101::1/64 (the host behind the 1280 link: the gateway
#      |     answers a larger packet towards it with packet too big)
#      +-- p3 ==veth== eth0 198.51.100.3/24, 2001:db8:100::3/64  ns gwn: the
#            gateway without IPv6, 198.51.100.3:8080 --subnet6 none (vg6n0,
#            10.0.140.0/24), default routes of both families via inet
#
# Usage: test/ipv6.sh [TEST...]   (names as in ipv6_test.py --list)
# Environment: VPNGW (binary), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

setup_topology() {
	ns_add INET inet && ns_add GW gw && ns_add INET2 inet2 && ns_add GWN gwn || return 1
	ip -n "$INET" link add br0 type bridge || return 1
	ip -n "$INET" addr add 198.51.100.1/24 dev br0 &&
		ip -n "$INET" addr add 2001:db8:100::1/64 dev br0 nodad &&
		ip -n "$INET" link set br0 up || return 1
	veth_add "$INET" p2 "$GW" eth0 && ip -n "$INET" link set p2 master br0 &&
		veth_add "$INET" p3 "$GWN" eth0 && ip -n "$INET" link set p3 master br0 || return 1
	ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" addr add 2001:db8:100::2/64 dev eth0 nodad &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$GW" -6 route add default via 2001:db8:100::1 || return 1
	# An IPv6 default route too: without --subnet6 none it would have IPv6.
	ip -n "$GWN" addr add 198.51.100.3/24 dev eth0 &&
		ip -n "$GWN" addr add 2001:db8:100::3/64 dev eth0 nodad &&
		ip -n "$GWN" route add default via 198.51.100.1 &&
		ip -n "$GWN" -6 route add default via 2001:db8:100::1 || return 1
	# The second IPv6 path: an MTU of 1280, the least IPv6 allows.
	veth_add "$GW" eth2 "$INET2" eth0 || return 1
	ip -n "$GW" link set eth2 mtu 1280 && ip -n "$INET2" link set eth0 mtu 1280 &&
		ip -n "$GW" addr add 2001:db8:101::2/64 dev eth2 nodad &&
		ip -n "$INET2" addr add 2001:db8:101::1/64 dev eth0 nodad &&
		ip -n "$INET2" -6 route add default via 2001:db8:101::2
}

start_servers() {
	bg_in "$INET" "$PY" "$HERE/servers/udp_echo.py" --addr :: --port 7 \
		>"$LIB_TMP/echo.log" 2>&1
	bg_in "$INET" "$PY" "$HERE/servers/http_server.py" --addr :: --port 80 \
		>"$LIB_TMP/http.log" 2>&1
	bg_in "$GW" "$PY" -c 'import socket, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 2222)); s.listen(8)
while True: s.accept()[0].close()' >"$LIB_TMP/listener.log" 2>&1
	wait_port "$INET" '\[::\]' 7 udp && wait_port "$INET" '\[::\]' 80 tcp &&
		wait_port "$GW" '\[::\]' 2222 tcp
}

# start_gw VAR NS NAME ARGS...: `vpngw serve ARGS` in NS, as netns.sh
# starts one; waits for "listening on"; its PID in VAR.
start_gw() {
	local var=$1 ns=$2 name=$3
	shift 3
	bg_in "$ns" env --default-signal=INT,QUIT \
		VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve "$@" >"$LIB_TMP/$name.log" 2>&1
	printf -v "$var" '%s' "$BG_PID"
	if wait_log "$LIB_TMP/$name.log" 'vpngw: listening on' 10 "$BG_PID"; then
		step "start_$name"
	else
		bad "start_$name" "no 'listening on' within 10 s: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		finish
	fi
}

if ! setup_topology; then
	bad topology "could not build the namespaces"
	finish
fi
if start_servers && ns_exec "$GW" ping -6 -c 1 -w 5 2001:db8:100::1 >/dev/null &&
	ns_exec "$GW" ping -6 -c 1 -w 5 2001:db8:101::1 >/dev/null; then
	step topology
else
	bad topology "servers not reachable over IPv6 from the gateway namespace"
	finish
fi

COMMON=(--allow 198.51.100.0/24 --handshake-rate 1000 --keepalive 1 -v)
start_gw GW_PID "$GW" gw "${COMMON[@]}" --pool 4 --linger 1 \
	--allow 2001:db8:100::/48 --allow 2001:db8:101::/48 \
	--dns 198.51.100.53 --dns 2001:db8:100::53
start_gw GWN_PID "$GWN" gwn "${COMMON[@]}" --pool 1 --listen 198.51.100.3:8080 \
	--subnet6 none --tun-prefix vg6n --subnet 10.0.140.0/24
if grep -q 'IPv6: slots of fd00:0:0:100::/64 on' "$LIB_TMP/gw.log" &&
	! grep -q 'IPv6: slots' "$LIB_TMP/gwn.log"; then
	step ipv6_logged
else
	bad ipv6_logged "the gateways' logs do not say IPv6 on (and not on for --subnet6 none): $(grep IPv6 "$LIB_TMP"/gw*.log | tr '\n' ' ')"
fi

bg_in "$GW" env VPNGW_URL=ws://127.0.0.1:8080/ VPNGW_PID="$GW_PID" \
	VPNGW_LOG="$LIB_TMP/gw.log" \
	VPNGW_N_URL=ws://198.51.100.3:8080/ VPNGW_N_PID="$GWN_PID" \
	VPNGW_N_LOG="$LIB_TMP/gwn.log" \
	VPNGW_INET_NS="$INET" VPNGW_TMP="$LIB_TMP" \
	VPNGW_RESULTS="$LIB_TMP/results" \
	"$PY" -u "$HERE/ipv6_test.py" "$@"
wait "$BG_PID"
py_results "$LIB_TMP/results" ipv6_test.py

for p in "$GW_PID" "$GWN_PID"; do
	kill -0 "$p" 2>/dev/null || bad gateway_survived "gateway $p exited during the tests"
done
finish
