#!/bin/bash
# SPDX-License-Identifier: MIT
# test/ipv6.sh: the gateway's IPv6 data plane end to end in namespaces, as
# root. Builds the topology below, starts the Internet host's servers and a
# gateway with IPv6 on its slots, runs test/ipv6_test.py (an independent
# client: python websockets + scapy) in the gateway's namespace and ends
# with one line "N passed, N failed". Building the topology and starting
# the gateway are set-up steps: not counted, but one that fails fails the
# suite. lib.sh removes every namespace and process it made.
#
#   ns inet: eth0 198.51.100.1/24, 2001:db8:100::1/64, MTU 1280
#      |     servers: ICMPv6 echo (the kernel), UDP echo :7, http :80 (a file
#      |     of known SHA-256), iperf3 -s
#      +== veth == eth0 198.51.100.2/24, 2001:db8:100::2/64, MTU 1280
#            ns gw: gateway 127.0.0.1:8080, --pool 8, default routes of both
#            families via the Internet host, --allow 2001:db8:100::/48
#            --allow 198.51.100.0/24 --dns 192.0.2.53 --dns 2001:db8:100::53
#
# Usage: test/ipv6.sh [TEST...]   (names as in ipv6_test.py --list)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

setup_topology() {
	ns_add INET inet && ns_add GW gw || return 1
	veth_add "$INET" eth0 "$GW" eth0 || return 1
	ip -n "$INET" link set eth0 mtu 1280 && ip -n "$GW" link set eth0 mtu 1280 &&
		ip -n "$INET" addr add 198.51.100.1/24 dev eth0 &&
		ip -n "$INET" addr add 2001:db8:100::1/64 dev eth0 nodad &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" addr add 2001:db8:100::2/64 dev eth0 nodad &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$GW" -6 route add default via 2001:db8:100::1 || return 1
	ns_exec "$INET" sysctl -qw net.ipv6.icmp.ratelimit=0
	ns_exec "$GW" sysctl -qw net.ipv6.icmp.ratelimit=0
	conntrack_load "$GW"
}

start_servers() {
	mkdir -p "$LIB_TMP/www" &&
		head -c 1000000 /dev/urandom >"$LIB_TMP/www/file" || return 1
	bg_in "$INET" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 7))
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)' >"$LIB_TMP/echo6.log" 2>&1
	bg_in "$INET" "$PY" -m http.server --bind :: --directory "$LIB_TMP/www" 80 \
		>"$LIB_TMP/http6.log" 2>&1
	bg_in "$INET" iperf3 -s >"$LIB_TMP/iperf3.log" 2>&1
	wait_port "$INET" '::' 7 udp && wait_port "$INET" '::' 80 tcp
}

if ! setup_topology; then
	bad topology "could not build the namespaces"
	finish
fi
if start_servers && ns_exec "$GW" ping -6 -c 1 -W 2 2001:db8:100::1 >/dev/null; then
	step topology
else
	bad topology "the Internet host is not reachable over IPv6 from the gateway"
	finish
fi

bg_in "$GW" env --default-signal=INT,QUIT VPNGW_STATE_FILE="$LIB_TMP/gw.state" \
	"$VPNGW" serve --pool 8 --keepalive 1 --handshake-rate 1000 \
	--allow 198.51.100.0/24 --allow 2001:db8:100::/48 \
	--dns 192.0.2.53 --dns 2001:db8:100::53 -v >"$LIB_TMP/gw.log" 2>&1
GW_PID=$BG_PID
if wait_log "$LIB_TMP/gw.log" 'vpngw: listening on' 10 "$GW_PID"; then
	step start_gw
else
	bad start_gw "no 'listening on' within 10 s: $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	finish
fi
if grep -q 'IPv6: slots of' "$LIB_TMP/gw.log"; then
	step gw_ipv6_on
else
	bad gw_ipv6_on "the gateway did not turn IPv6 on: $(grep -i ipv6 "$LIB_TMP/gw.log" | tail -n 2 | tr '\n' ' ')"
	finish
fi

bg_in "$GW" env VPNGW_URL=ws://127.0.0.1:8080/ VPNGW_PID="$GW_PID" \
	VPNGW_LOG="$LIB_TMP/gw.log" VPNGW_DNS="192.0.2.53 2001:db8:100::53" \
	VPNGW_RESULTS="$LIB_TMP/results" "$PY" -u "$HERE/ipv6_test.py" "$@"
wait "$BG_PID"
py_results "$LIB_TMP/results" ipv6_test.py

# The stats line names the IPv6 drop reasons as the IPv4 ones.
kill -USR1 "$GW_PID"
sleep 0.5
line=$(grep 'vpngw: stats' "$LIB_TMP/gw.log" | tail -n 1)
if grep -q 'drop_denied=' <<<"$line" && grep -q 'drop_ipv6=' <<<"$line"; then
	ok stats_names_drops
else
	bad stats_names_drops "stats line: $line"
fi

if kill -0 "$GW_PID" 2>/dev/null; then
	step gateway_survived
else
	bad gateway_survived "the gateway exited during the tests"
fi
finish
