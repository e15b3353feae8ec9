#!/bin/bash
# SPDX-License-Identifier: MIT
# test/leak.sh: what `vpngw connect --default-route` lets out of the client
# host's physical link, as root, in network namespaces. The client host
# could reach the Internet host directly over both families (its own
# addresses and routes outside the tunnel); with --default-route on a
# gateway that offers no IPv6, a capture on that link must see no IPv6
# packet but the tunnel's own, while ping -6 and curl -6 are refused at
# once (ICMPv6 administratively prohibited from the TUN); IPv4 goes through
# the tunnel; after the client exits its routes are gone. Then failover: the
# first URL refuses the connection, the client gets the second (over IPv6)
# and traffic flows. Ends with "N passed, N failed".
#
#   ns cli: eth0 192.0.2.2/24 2001:db8:2::2/64, default routes via the gw
#      |     runs: vpngw connect --default-route (TUN vpngw-c0)
#   ns gw:  eth1 192.0.2.1/24 2001:db8:2::1/64, eth0 198.51.100.2/24
#      |     2001:db8:100::2/64; forwards both families (the direct path);
#      |     runs: vpngw serve (no IPv6 for its clients)
#   ns inet: eth0 198.51.100.1/24 2001:db8:100::1/64, HTTP on :80
#
# Usage: test/leak.sh [TEST...]   (default: all, in order)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

TUN=vpngw-c0
INET4=198.51.100.1
INET6=2001:db8:100::1
CLI='' GW='' INET=''
CLIENT_PID='' GW_PID='' GW6_PID='' DUMP_PID=''
NO6=()   # what makes serve offer no IPv6: --subnet6 none where it exists
WITH6=() # what makes the failover gateway offer IPv6, where serve can

setup_topology() {
	ns_add CLI cli && ns_add GW gw && ns_add INET inet || return 1
	# The client host's own IPv6 chatter (router solicitations) is not
	# what the capture looks for: off before its link exists.
	ns_exec "$CLI" sysctl -qw net.ipv6.conf.default.router_solicitations=0 || return 1
	veth_add "$CLI" eth0 "$GW" eth1 && veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$CLI" addr add 2001:db8:2::2/64 dev eth0 nodad &&
		ip -n "$CLI" route add default via 192.0.2.1 &&
		ip -n "$CLI" -6 route add default via 2001:db8:2::1 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 2001:db8:2::1/64 dev eth1 nodad &&
		ip -n "$GW" addr add 2001:db8:3::1/128 dev eth1 nodad &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" addr add 2001:db8:100::2/64 dev eth0 nodad &&
		ip -n "$GW" route add default via "$INET4" &&
		ip -n "$GW" -6 route add default via "$INET6" &&
		ns_exec "$GW" sysctl -qw net.ipv4.ip_forward=1 &&
		ns_exec "$GW" sysctl -qw net.ipv6.conf.all.forwarding=1 &&
		ip -n "$INET" addr add "$INET4/24" dev eth0 &&
		ip -n "$INET" addr add "$INET6/64" dev eth0 nodad &&
		ip -n "$INET" route add 192.0.2.0/24 via 198.51.100.2 &&
		ip -n "$INET" -6 route add 2001:db8:2::/64 via 2001:db8:100::2 || return 1
	mkdir -p "$LIB_TMP/www" && echo "the vpngw leak test body" >"$LIB_TMP/www/body" || return 1
	bg_in "$INET" $PY "$HERE/client_test.py" serve "$LIB_TMP/www" 80 >"$LIB_TMP/http.log" 2>&1
	wait_port "$INET" "$INET4" 80
}

# start_gw NAME ARGS...: `vpngw serve` in the gateway namespace, no IPv6
# for its clients. Sets GW_PID.
start_gw() {
	local name=$1
	shift
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve --allow 198.51.100.0/24 "$@" >>"$LIB_TMP/$name.log" 2>&1
	GW_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'listening on' 10 "$BG_PID"
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait_exit "$1" 5
}

# start_client NAME URL... ARGS...: waits for its "connected" line.
start_client() {
	local name=$1
	shift
	bg_in "$CLI" "$VPNGW" connect "$@" >"$LIB_TMP/$name.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"
}

# dump_start NAME: tcpdump of every IPv6 packet on the client's eth0.
dump_start() {
	bg_in "$CLI" tcpdump -i eth0 -n -U --immediate-mode -w "$LIB_TMP/$1.pcap" ip6 >"$LIB_TMP/$1.tcpdump.log" 2>&1
	DUMP_PID=$BG_PID
	wait_log "$LIB_TMP/$1.tcpdump.log" 'listening on' 5 "$DUMP_PID"
}

# dump_stop NAME FILTER: stops the capture; prints the packets of it that
# match FILTER, one a line.
dump_stop() {
	sleep 1
	kill -INT "$DUMP_PID" 2>/dev/null
	wait_exit "$DUMP_PID" 5
	tcpdump -r "$LIB_TMP/$1.pcap" -n "$2" 2>/dev/null
}

# elapsed_ms CMD...: runs CMD; ELAPSED is how long it took (ms), RC its status.
elapsed_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >"$LIB_TMP/cmd.out" 2>&1
	RC=$?
	t1=$(date +%s%N)
	ELAPSED=$(((t1 - t0) / 1000000))
}

# The direct path works without the client (a deadline, not one echo: the
# first can be lost while the routers resolve their neighbours), and the
# capture sees it: a client that let IPv6 out would be caught.
t_direct() {
	dump_start direct || { bad direct "tcpdump did not start"; return; }
	ns_exec "$CLI" ping -6 -c 1 -w 5 "$INET6" >"$LIB_TMP/direct.out" 2>&1
	local rc=$? seen
	seen=$(dump_stop direct "ip6 and dst host $INET6" | wc -l)
	if [ "$rc" = 0 ] && [ "$seen" -ge 1 ]; then
		ok direct "without the client ping -6 $INET6 goes out eth0 ($seen packet seen)"
	else
		bad direct "ping -6 rc $rc, $seen packets seen: $(tr '\n' ' ' <"$LIB_TMP/direct.out")"
	fi
}

t_leak() {
	local leaked dev6 dev4 got st
	if ! start_gw gw --listen 192.0.2.1:8080 "${NO6[@]}"; then
		bad leak "the gateway did not start: $(tail -n 2 "$LIB_TMP/gw.log" | tr '\n' ' ')"
		return
	fi
	if ! start_client leak ws://192.0.2.1:8080/ --default-route --keepalive 1; then
		bad leak "no 'connected' line: $(tail -n 3 "$LIB_TMP/leak.log" | tr '\n' ' ')"
		return
	fi
	grep -q 'no IPv6: blocked' "$LIB_TMP/leak.log" && step leak "$(grep 'connected to' "$LIB_TMP/leak.log")"
	dump_start leak || { bad leak "tcpdump did not start"; return; }

	elapsed_ms ns_exec "$CLI" ping -6 -c 1 -W 5 "$INET6"
	local ping_rc=$RC ping_ms=$ELAPSED ping_out
	ping_out=$(tr '\n' ' ' <"$LIB_TMP/cmd.out")
	elapsed_ms ns_exec "$CLI" curl -6 -sS --max-time 8 -o /dev/null "http://[$INET6]/body"
	local curl_rc=$RC curl_ms=$ELAPSED curl_out
	curl_out=$(tr '\n' ' ' <"$LIB_TMP/cmd.out")
	elapsed_ms ns_exec "$CLI" curl -6 -sS --max-time 8 -o /dev/null "http://[2001:db8:100::77]/"
	local curl2_ms=$ELAPSED

	# Every IPv6 packet of the capture but the link's own housekeeping:
	# multicast (MLD, solicitations to solicited-node groups) and
	# neighbour discovery (ICMPv6 133..137: the router's reachability
	# probes of the client's address, which the direct ping left behind).
	leaked=$(dump_stop leak "ip6 and not dst net ff00::/8 and
		not (ip6[6] == 58 and ip6[40] >= 133 and ip6[40] <= 137)")
	if [ -z "$leaked" ]; then
		ok leak_none "no unicast IPv6 packet on eth0 while ping -6 and curl -6 ran ($(
			tcpdump -r "$LIB_TMP/leak.pcap" -n 2>/dev/null | wc -l) IPv6 packets in all)"
	else
		bad leak_none "IPv6 left eth0: $(echo "$leaked" | head -n 3 | tr '\n' ' ')"
	fi
	dev6=$(ns_exec "$CLI" ip -6 route get "$INET6" 2>/dev/null | grep -o 'dev [^ ]*')
	if [ "$ping_rc" != 0 ] && [ "$ping_ms" -lt 2000 ] &&
		echo "$ping_out" | grep -qi 'prohibited'; then
		ok leak_ping6_fast "ping -6 refused in $ping_ms ms ($dev6): $(echo "$ping_out" | grep -oi 'Destination unreachable[^0-9]*prohibited' | head -n 1)"
	else
		bad leak_ping6_fast "ping -6 rc $ping_rc in $ping_ms ms ($dev6): $ping_out"
	fi
	if [ "$curl_rc" != 0 ] && [ "$curl_ms" -lt 2000 ] && [ "$curl2_ms" -lt 2000 ]; then
		ok leak_curl6_fast "curl -6 failed in $curl_ms ms and $curl2_ms ms: $curl_out"
	else
		bad leak_curl6_fast "curl -6 rc $curl_rc in $curl_ms ms, $curl2_ms ms: $curl_out"
	fi
	dev4=$(ns_exec "$CLI" ip route get "$INET4" 2>/dev/null | grep -o 'dev [^ ]*')
	got=$(ns_exec "$CLI" curl -4 -sS --max-time 5 "http://$INET4/body" 2>&1)
	if [ "$dev4" = "dev $TUN" ] && [ "$got" = "the vpngw leak test body" ]; then
		ok leak_ipv4_tunnel "IPv4 to $INET4 via $TUN, body ok"
	else
		bad leak_ipv4_tunnel "route '$dev4', body '$(echo "$got" | head -c 100)'"
	fi
	kill -USR1 "$CLIENT_PID"
	if wait_log "$LIB_TMP/leak.log" 'stats .*ipv6=[1-9]' 3; then
		st=$(grep -o 'ipv6=[0-9]*' "$LIB_TMP/leak.log" | tail -n 1)
		ok leak_counted "the refused IPv6 packets counted: $st"
	else
		bad leak_counted "$(grep stats "$LIB_TMP/leak.log" | tail -n 1)"
	fi

	# Tear down: every route the client added goes with it.
	stop_pid "$CLIENT_PID"
	local rc=$EXIT_STATUS left
	left=$( { ns_exec "$CLI" ip route; ns_exec "$CLI" ip -6 route; } |
		grep -E "^(0\.0\.0\.0/1|128\.0\.0\.0/1|::/1|8000::/1|192\.0\.2\.1 )|$TUN")
	if [ "$rc" = 0 ] && [ -z "$left" ]; then
		ok leak_teardown "exit 0; no route of the client left"
	else
		bad leak_teardown "exit $rc; left: $(echo "$left" | tr '\n' ' ')"
	fi
}

# Failover: the first URL refuses the connection (a reset from the client
# host's own firewall, for now); the second is a gateway over IPv6, off the link, where
# --default-route needs a /128 host route via the router. IPv4 flows through
# the tunnel; IPv6 too when the gateway carries it. Then the host route goes
# away: the client puts it back and resumes at the gateway it was on,
# though the first URL now answers.
t_failover() {
	local got dev host
	if ! kill -0 "$GW_PID" 2>/dev/null; then
		start_gw gw --listen 192.0.2.1:8080 "${NO6[@]}" || { bad failover "no gateway"; return; }
	fi
	if ! start_gw gw6 --listen '[2001:db8:3::1]:8081' --tun-prefix vgf --subnet 10.0.120.0/24 \
		--pool 1 "${WITH6[@]}"; then
		bad failover "the IPv6 gateway did not start: $(tail -n 2 "$LIB_TMP/gw6.log" | tr '\n' ' ')"
		return
	fi
	GW6_PID=$GW_PID
	if ! ns_exec "$CLI" nft -f - <<'EOF'
table inet leaktest {
	chain o {
		type filter hook output priority 0; policy accept;
		ip daddr 192.0.2.1 tcp dport 8080 reject with tcp reset
	}
}
EOF
	then
		bad failover "cannot refuse the first URL"
		return
	fi
	if ! start_client failover ws://192.0.2.1:8080/ 'ws://[2001:db8:3::1]:8081/' --default-route \
		--keepalive 1; then
		bad failover "no 'connected' line: $(tail -n 3 "$LIB_TMP/failover.log" | tr '\n' ' ')"
		return
	fi
	host=$(ns_exec "$CLI" ip -6 route show 2001:db8:3::1/128 | grep 'via 2001:db8:2::1 dev eth0')
	got=$(ns_exec "$CLI" curl -4 -sS --max-time 5 "http://$INET4/body" 2>&1)
	dev=$(ns_exec "$CLI" ip route get "$INET4" 2>/dev/null | grep -o 'dev [^ ]*')
	if grep -q 'trying the next address' "$LIB_TMP/failover.log" &&
		grep -q 'connected to ws://\[2001:db8:3::1\]:8081/' "$LIB_TMP/failover.log" &&
		[ -n "$host" ] && [ "$dev" = "dev $TUN" ] && [ "$got" = "the vpngw leak test body" ]; then
		ok failover "refused, then the second over IPv6 (host route '$host'); IPv4 via $TUN"
	else
		bad failover "host route '$host', route '$dev', body '$(echo "$got" | head -c 80)': $(head -n 3 "$LIB_TMP/failover.log" | tr '\n' ' ')"
	fi
	if ! grep -q 'connected to .* and fd00' "$LIB_TMP/failover.log"; then
		skip failover_ipv6 "the gateway assigns no IPv6 (this build's serve has no IPv6 data plane)"
	else
		got=$(ns_exec "$CLI" curl -6 -sS --max-time 5 "http://[$INET6]/body" 2>&1)
		dev=$(ns_exec "$CLI" ip -6 route get "$INET6" 2>/dev/null | grep -o 'dev [^ ]*')
		if [ "$dev" = "dev $TUN" ] && [ "$got" = "the vpngw leak test body" ] &&
			ns_exec "$CLI" ping -6 -c 2 -W 2 "$INET6" >/dev/null 2>&1; then
			ok failover_ipv6 "ping -6 and curl -6 to $INET6 via $TUN"
		else
			kill -USR1 "$CLIENT_PID" "$GW6_PID"
			sleep 0.5
			bad failover_ipv6 "route '$dev', body '$(echo "$got" | head -c 80)'; $(
				grep stats "$LIB_TMP/failover.log" | tail -n 1)"
		fi
	fi
	# A flap takes the host route away: the tunnel's own packets then go
	# into the tunnel, the connection dies, and the next attempt puts the
	# route back first, and goes to the same gateway.
	ns_exec "$CLI" nft delete table inet leaktest
	ns_exec "$CLI" ip -6 route del 2001:db8:3::1/128
	if wait_log "$LIB_TMP/failover.log" 'host route to 2001:db8:3::1 via eth0 restored' 15 \
		"$CLIENT_PID" &&
		wait_log "$LIB_TMP/failover.log" 'reconnected to \[2001:db8:3::1\]:8081: resumed' 10 \
			"$CLIENT_PID" &&
		got=$(ns_exec "$CLI" curl -4 -sS --max-time 5 "http://$INET4/body" 2>&1) &&
		[ "$got" = "the vpngw leak test body" ]; then
		ok failover_host_route_restored "$(grep -E 'restored|reconnected' "$LIB_TMP/failover.log" |
			sed 's/^vpngw: //' | tr '\n' ' ')"
	else
		bad failover_host_route_restored "body '$(echo "$got" | head -c 80)': $(tail -n 3 "$LIB_TMP/failover.log" | tr '\n' ' ')"
	fi
	stop_pid "$CLIENT_PID"
}

TESTS=(direct leak failover)
select_tests "$@"

if ! setup_topology; then
	bad setup "topology"
	finish
fi
# Once serve knows --subnet6, the gateway is told to offer no IPv6.
if "$VPNGW" serve --help 2>&1 | grep -q -- '--subnet6'; then
	NO6=(--subnet6 none)
	WITH6=(--subnet6 fd00:0:0:120::/64 --allow 2001:db8:100::/64)
fi
for t in "${TESTS[@]}"; do
	"t_$t"
done
finish
