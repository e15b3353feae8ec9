#!/bin/bash
# SPDX-License-Identifier: MIT
# test/connect6.sh: `vpngw connect` over IPv6 end to end in namespaces, as
# root (test/ipv6.sh drives the gateway's IPv6 with an independent client;
# this suite is vpngw's own client on both ends). Builds the topology below,
# starts the Internet host's servers, a gateway with IPv6 on its slots and
# a client, and ends with one line "N passed, N failed". Building the topology and starting
# the gateway are set-up steps: not counted, but one that fails fails the
# suite. lib.sh removes every namespace and process it made.
#
#   ns inet: eth0 198.51.100.1/24, 2001:db8:100::1/64, MTU 1280
#      |     servers: ICMPv6 echo (the kernel), UDP echo :7, http :80 (a file
#      |     of known SHA-256), iperf3 -s
#      +== veth == eth0 198.51.100.2/24, 2001:db8:100::2/64, MTU 1280
#            ns gw: gateway 192.0.2.1:8080, --pool 8, default routes of both
#            families via the Internet host, --allow 2001:db8:100::/48
#            --allow 198.51.100.0/24 (no --dns: the client would take this
#            host's resolv.conf; test/dns.sh tests DNS in a namespace's own)
#            eth1 192.0.2.1/24
#              |
#   ns cli: eth0 192.0.2.2/24: `vpngw connect` with --route 2001:db8:100::/48
#            and --route 198.51.100.0/24: ping -6, curl -6 of the file with its
#            checksum, iperf3 -6, a ping -6 too big for the 1280-byte link
#            (packet-too-big back through the tunnel), the file again, a UDP
#            super-packet over IPv6 (UDP_SEGMENT) echoed segment by segment; then
#            `connect --default-route --kill-switch URL1 URL2` with nothing
#            behind URL1: both families through the tunnel, the gateway
#            stopped and continued (resumed), nothing on cli's link but the
#            tunnel, the ruleset as before after exit (test/killswitch.sh
#            has a client host with a path around the tunnel)
#
# Usage: test/connect6.sh [TEST...]
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

setup_topology() {
	ns_add INET inet && ns_add GW gw && ns_add CLI cli || return 1
	veth_add "$INET" eth0 "$GW" eth0 && veth_add "$CLI" eth0 "$GW" eth1 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 || return 1
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
if start_servers && ns_exec "$GW" ping -6 -c 1 -w 5 2001:db8:100::1 >/dev/null; then
	step topology
else
	bad topology "the Internet host is not reachable over IPv6 from the gateway"
	finish
fi

bg_in "$GW" env --default-signal=INT,QUIT VPNGW_STATE_FILE="$LIB_TMP/gw.state" \
	"$VPNGW" serve --listen 192.0.2.1:8080 --pool 8 --keepalive 1 --handshake-rate 1000 \
	--allow 198.51.100.0/24 --allow 2001:db8:100::/48 \
	-v >"$LIB_TMP/gw.log" 2>&1
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

# ---- vpngw connect over IPv6 (the client's dual stack) ----
SUM=$(sha256sum <"$LIB_TMP/www/file" | cut -d' ' -f1)
bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8080/ --route 2001:db8:100::/48 \
	--route 198.51.100.0/24 >"$LIB_TMP/client.log" 2>&1
CLIENT_PID=$BG_PID
if ! wait_log "$LIB_TMP/client.log" 'connected to' 10 "$CLIENT_PID"; then
	bad connect_ipv6 "no 'connected to' within 10 s: $(tail -n 3 "$LIB_TMP/client.log" | tr '\n' ' ')"
else
	want connect_ping6 && if out=$(ns_exec "$CLI" ping -6 -c 3 -i 0.2 -W 2 2001:db8:100::1 2>&1); then
		ok connect_ping6 "$(grep -o '[0-9]* received' <<<"$out")"
	else
		bad connect_ping6 "$(tail -n 2 <<<"$out" | tr '\n' ' ')"
	fi
	# curl_sum NAME: the file over IPv6 through the tunnel, its SHA-256 checked.
	curl_sum() {
		local got
		got=$(ns_exec "$CLI" curl -6 -sS --max-time 20 http://[2001:db8:100::1]/file |
			sha256sum | cut -d' ' -f1)
		if [ "$got" = "$SUM" ]; then
			ok "$1"
		else
			bad "$1" "sha256 $got, want $SUM"
		fi
	}
	want connect_curl6 && curl_sum connect_curl6
	want connect_iperf3_6 && if out=$(ns_exec "$CLI" timeout 20 iperf3 -6 -c 2001:db8:100::1 -t 2 -J 2>&1) &&
		bps=$("$PY" -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' <<<"$out") &&
		[ "$bps" -gt 0 ]; then
		ok connect_iperf3_6 "$((bps / 1000000)) Mbit/s"
	else
		bad connect_iperf3_6 "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
	fi
	# The client's TUN takes 1500 bytes, the Internet link 1280: a
	# 1448-byte echo request that may not be fragmented comes back as
	# packet-too-big through the tunnel; the client's kernel learns the
	# path MTU from it, and the file still comes whole.
	if want connect_ptb6; then
		ns_exec "$CLI" ping -6 -M do -s 1400 -c 2 -i 0.3 -W 1 2001:db8:100::1 >"$LIB_TMP/ptb.out" 2>&1
		route=$(ns_exec "$CLI" ip -6 route get 2001:db8:100::1 2>&1 | head -n 1)
		if grep -q 'mtu 1280' <<<"$route"; then
			ok connect_ptb6 "$route"
		else
			bad connect_ptb6 "no path MTU 1280 learnt: $route; ping: $(tail -n 2 "$LIB_TMP/ptb.out" | tr '\n' ' ')"
		fi
		want connect_ptb6 && curl_sum connect_curl6_after_ptb
	fi
	# A UDP super-packet from the client host (UDP_SEGMENT, as QUIC
	# stacks send): 12,000 bytes in segments of 1,200 through the tunnel,
	# each echoed back by the Internet host.
	if want connect_udp_gso6; then
		out=$(ns_exec "$CLI" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1200)     # UDP_SEGMENT
s.settimeout(3)
data = bytes((i * 7 + i // 251) & 255 for i in range(12000))
s.sendto(data, ("2001:db8:100::1", 7))
got = []
try:
    while len(got) < 10:
        got.append(s.recv(65535))
except socket.timeout:
    pass
want = [data[i:i + 1200] for i in range(0, len(data), 1200)]
print(len(got), "echoes of", len(want), "segments;", "all intact" if sorted(got) == sorted(want) else "not intact")
' 2>&1)
		if [ "$out" = "10 echoes of 10 segments; all intact" ]; then
			ok connect_udp_gso6 "$out"
		else
			bad connect_udp_gso6 "$out"
		fi
	fi
	kill -TERM "$CLIENT_PID"
	wait_exit "$CLIENT_PID" 5
fi

# ---- The whole client: --default-route --kill-switch, two URLs ----
# The first URL has no gateway behind it; the second carries both
# families. Everything goes through the tunnel; while the gateway is
# stopped nothing leaves the client's link but to the gateway; the session
# resumes when it continues; the kill switch goes on exit.
# reach4 / reach6: the Internet host answers a ping from cli.
reach4() { ns_exec "$CLI" ping -c 1 -W 1 198.51.100.1 >/dev/null 2>&1; }
reach6() { ns_exec "$CLI" ping -6 -c 1 -W 1 2001:db8:100::1 >/dev/null 2>&1; }
if want connect_all_through; then
	before=$(ns_exec "$CLI" nft list ruleset 2>&1)
	bg_in "$CLI" "$VPNGW" connect --default-route --kill-switch ws://192.0.2.1:8099/ \
		ws://192.0.2.1:8080/ >"$LIB_TMP/all.log" 2>&1
	CLIENT_PID=$BG_PID
	if ! wait_log "$LIB_TMP/all.log" 'connected to ws://192.0.2.1:8080/' 15 "$CLIENT_PID"; then
		bad connect_all_through "not connected to the second URL: $(tail -n 3 "$LIB_TMP/all.log" | tr '\n' ' ')"
	elif reach4 && reach6 && [ "$(ns_exec "$CLI" curl -6 -sS --max-time 20 \
		http://[2001:db8:100::1]/file | sha256sum | cut -d' ' -f1)" = "$SUM" ]; then
		ok connect_all_through "ping, ping -6 and curl -6 through the second URL's gateway"
	else
		bad connect_all_through "ping, ping -6 or curl -6 failed: $(tail -n 2 "$LIB_TMP/all.log" | tr '\n' ' ')"
	fi
	bg_in "$CLI" tcpdump -i eth0 -n -U -w "$LIB_TMP/all.pcap" >"$LIB_TMP/all.tcpdump" 2>&1
	CAP_PID=$BG_PID
	wait_log "$LIB_TMP/all.tcpdump" 'listening on' 5 "$CAP_PID"
	kill -STOP "$GW_PID"
	if wait_log "$LIB_TMP/all.log" 'disconnected from' 10 "$CLIENT_PID" &&
		! reach4 && ! reach6; then
		step outage
	else
		bad connect_all_outage "the client did not notice, or the host answered"
	fi
	kill -CONT "$GW_PID"
	if wait_log "$LIB_TMP/all.log" 'reconnected to .*resumed' 40 "$CLIENT_PID" && reach4 && reach6; then
		ok connect_all_resumed "$(grep -o 'reconnected to.*' "$LIB_TMP/all.log" | tail -n 1)"
	else
		bad connect_all_resumed "no resumption: $(tail -n 2 "$LIB_TMP/all.log" | tr '\n' ' ')"
	fi
	kill -INT "$CAP_PID"
	wait_exit "$CAP_PID" 5
	# The link's own IPv6 (neighbour discovery, MLD) is link-local or
	# multicast: what could carry traffic is the rest.
	other=$(tcpdump -r "$LIB_TMP/all.pcap" -n \
		'ip or (ip6 and not src net fe80::/10 and not dst net ff00::/8)' 2>/dev/null |
		grep -cv ' 192\.0\.2\.[12]\.[0-9]* > 192\.0\.2\.[12]\.[0-9]*: ')
	tunnel=$(tcpdump -r "$LIB_TMP/all.pcap" -n 'host 192.0.2.1' 2>/dev/null | wc -l)
	if [ "$other" = 0 ] && [ "$tunnel" -gt 0 ]; then
		ok connect_all_nothing_around "the client's link: $tunnel packets, all to or from the gateway"
	else
		bad connect_all_nothing_around "$other packets on the client's link not between it and the gateway"
	fi
	kill -TERM "$CLIENT_PID"
	if wait_exit "$CLIENT_PID" 5 && [ "$EXIT_STATUS" = 0 ] &&
		[ "$(ns_exec "$CLI" nft list ruleset 2>&1)" = "$before" ]; then
		ok connect_all_clean "exit 0, the ruleset as before"
	else
		bad connect_all_clean "status ${EXIT_STATUS:-?}, ruleset: $(ns_exec "$CLI" nft list ruleset 2>&1 | head -n 3 | tr '\n' ' ')"
	fi
fi

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
