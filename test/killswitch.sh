#!/bin/bash
# SPDX-License-Identifier: MIT
# test/killswitch.sh: `vpngw connect --kill-switch` end to end, as root, in
# network namespaces. The client host could reach the Internet host
# directly over both families (its own default routes, outside the
# tunnel), and the gateway carries both, so a leak shows: a capture on its
# physical link must never see a packet to the Internet host, IPv4 or
# IPv6, only packets to the gateway, also while the gateway is stopped
# (SIGSTOP: the client loses it, reconnects with backoff, and resumes its
# session once it is continued); DHCP still goes out. Then the same outage
# without the switch, measured; every exit leaves `nft list ruleset` as it
# was before. Last, `connect --default-route --kill-switch` with the
# gateway's DNS server, across a restart of the gateway (a new process, a
# new session): names resolve through the tunnel only, nothing reaches
# the Internet host or the host's own resolver around it, and resolv.conf
# is as before after exit. Ends with "N passed, N failed". lib.sh removes
# every namespace and process it made, even on failure or ^C; this script
# removes /etc/netns/<cli> too.
#
#   ns cli: eth0 192.0.2.2/24, 2001:db8:1::2/64; default routes via the router
#      |     runs: vpngw connect ws://203.0.113.2:8080/ --default-route
#      |           [--kill-switch] (TUN vpngw-c0, vks<pid>); tcpdump on eth0;
#      |           its own resolv.conf (nameserver 192.0.2.1)
#   ns rtr: eth0 192.0.2.1/24, 2001:db8:1::1/64 (to cli)
#      |    eth1 203.0.113.1/24, 2001:db8:2::1/64 (to gw)
#      |    eth2 198.51.100.2/24, 2001:db8:100::2/64 (to inet); forwards both
#      |    runs: the host's resolver on 192.0.2.1:53 (test/dns_responder.py)
#      +--- ns gw: eth0 203.0.113.2/24, 2001:db8:2::2/64, default via rtr
#      |        runs: vpngw serve --listen 203.0.113.2:8080 (masquerade out
#      |        of eth0, both families; later with --dns 198.51.100.1),
#      |        and one on [2001:db8:2::2]:8081 (pool vgs0-4, 10.0.140.0/24)
#      +--- ns inet: eth0 198.51.100.1/24, 2001:db8:100::1/64, default via rtr
#               runs: HTTP on [::]:80, a UDP sink on :5353, the tunnel's
#               resolver on :53
#
# Usage: test/killswitch.sh [TEST...]   (default: all, in order)
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

TUN=vpngw-c0
TABLE=vpngw_ks_$TUN
URL=ws://203.0.113.2:8080/
INET4=198.51.100.1
INET6=2001:db8:100::1
CLI='' RTR='' GW='' INET='' ETC=''
CLIENT_PID='' GW_PID='' CAP_PID=''
BODY="the kill switch test body"

setup_topology() {
	ns_add CLI cli && ns_add RTR rtr && ns_add GW gw && ns_add INET inet || return 1
	veth_add "$CLI" eth0 "$RTR" eth0 && veth_add "$RTR" eth1 "$GW" eth0 &&
		veth_add "$RTR" eth2 "$INET" eth0 || return 1
	ns_exec "$RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$CLI" addr add 2001:db8:1::2/64 dev eth0 nodad &&
		ip -n "$CLI" route add default via 192.0.2.1 &&
		ip -n "$CLI" -6 route add default via 2001:db8:1::1 &&
		ip -n "$RTR" addr add 192.0.2.1/24 dev eth0 &&
		ip -n "$RTR" addr add 2001:db8:1::1/64 dev eth0 nodad &&
		ip -n "$RTR" addr add 203.0.113.1/24 dev eth1 &&
		ip -n "$RTR" addr add 2001:db8:2::1/64 dev eth1 nodad &&
		ip -n "$RTR" addr add 198.51.100.2/24 dev eth2 &&
		ip -n "$RTR" addr add 2001:db8:100::2/64 dev eth2 nodad &&
		ip -n "$GW" addr add 203.0.113.2/24 dev eth0 &&
		ip -n "$GW" addr add 2001:db8:2::2/64 dev eth0 nodad &&
		ip -n "$GW" route add default via 203.0.113.1 &&
		ip -n "$GW" -6 route add default via 2001:db8:2::1 &&
		ip -n "$INET" addr add $INET4/24 dev eth0 &&
		ip -n "$INET" addr add $INET6/64 dev eth0 nodad &&
		ip -n "$INET" route add default via 198.51.100.2 &&
		ip -n "$INET" -6 route add default via 2001:db8:100::2
}

start_servers() {
	mkdir -p "$LIB_TMP/www" || return 1
	echo "$BODY" >"$LIB_TMP/www/body" || return 1
	bg_in "$INET" $PY -m http.server 80 --bind :: --directory "$LIB_TMP/www" \
		>"$LIB_TMP/http.log" 2>&1
	bg_in "$INET" $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 5353))
while True:
    d, a = s.recvfrom(2048)
    print(a[0], d.decode(errors="replace"), flush=True)
' >"$LIB_TMP/udp.log" 2>&1
	wait_port "$INET" :: 80 && wait_port "$INET" :: 5353 udp
}

# start_gw [ARGS...]: the gateway, with ARGS added. Sets GW_PID.
start_gw() {
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/gw.state" "$VPNGW" serve \
		--listen 203.0.113.2:8080 --allow 198.51.100.0/24 --allow 2001:db8:100::/64 \
		--keepalive 1 --linger 60 "$@" \
		>>"$LIB_TMP/gw.log" 2>&1
	GW_PID=$BG_PID
	wait_log "$LIB_TMP/gw.log" 'listening on' 10 "$GW_PID"
}

# start_client NAME ARGS...: vpngw connect $URL ARGS in cli; waits for its
# "connected" line. Sets CLIENT_PID.
start_client() {
	local name=$1
	shift
	bg_in "$CLI" "$VPNGW" connect "$URL" --keepalive 1 "$@" >"$LIB_TMP/$name.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"
}

stop_client() {
	kill "-$1" "$CLIENT_PID" 2>/dev/null
	wait_exit "$CLIENT_PID" 5
}

ruleset() { ns_exec "$CLI" nft list ruleset 2>&1; }

lib_rm "/run/vpngw/resolv.conf.vks$$" "/run/vpngw/resolv.conf.vks$$.ours"

# capture_start NAME / capture_stop: tcpdump on cli's physical link into
# $LIB_TMP/NAME.pcap.
capture_start() {
	CAP_FILE=$LIB_TMP/$1.pcap
	bg_in "$CLI" tcpdump -i eth0 -n -U -w "$CAP_FILE" >"$LIB_TMP/$1.tcpdump.log" 2>&1
	CAP_PID=$BG_PID
	wait_log "$LIB_TMP/$1.tcpdump.log" 'listening on' 5 "$CAP_PID"
}
capture_stop() {
	sleep 0.3
	kill -INT "$CAP_PID" 2>/dev/null
	wait_exit "$CAP_PID" 5
}
# captured FILTER: how many packets of the capture match FILTER.
captured() { tcpdump -r "$CAP_FILE" -n "$1" 2>/dev/null | wc -l; }
LEAK="dst host $INET4 or dst host $INET6"

# resolve: the test name's IPv4 address, as cli's C library finds it.
NAME=vpngw-test.example
resolve() { ns_exec "$CLI" timeout 5 getent ahostsv4 "$NAME" 2>/dev/null | awk 'NR == 1 { print $1 }'; }

# What reaches the Internet host from cli in the current state: sets
# PING4, PING6, CURL, UDP to "ok" or "failed" (UDP: the sink got a
# datagram with a fresh tag).
probe() {
	local tag=probe$RANDOM
	PING4=failed PING6=failed CURL=failed UDP=failed
	ns_exec "$CLI" ping -c 2 -i 0.3 -W 1 $INET4 >/dev/null 2>&1 && PING4=ok
	ns_exec "$CLI" ping -6 -c 2 -i 0.3 -W 1 $INET6 >/dev/null 2>&1 && PING6=ok
	[ "$(ns_exec "$CLI" curl -s --max-time 3 http://$INET4/body 2>/dev/null)" = "$BODY" ] &&
		CURL=ok
	ns_exec "$CLI" bash -c "echo $tag >/dev/udp/$INET4/5353" 2>/dev/null
	sleep 0.5
	grep -q "$tag" "$LIB_TMP/udp.log" && UDP=ok
	PROBE="ping $PING4, ping -6 $PING6, curl $CURL, udp $UDP"
}

# The device the client host's route to the Internet host's IPv6 address
# takes: "dev vpngw-c0" while the tunnel carries it.
tunnel6() { ip -n "$CLI" -6 route get "$INET6" 2>/dev/null | grep -o "dev [^ ]*"; }

# The tunnel's routes (0.0.0.0/1, 128.0.0.0/1, and ::/1, 8000::/1 when
# the client adds them) away and back: as when the device is recreated.
TUN_ROUTES=()
routes_away() {
	local r
	mapfile -t TUN_ROUTES < <(ip -n "$CLI" -4 route show dev "$TUN" | grep -E '^(0\.0\.0\.0|128\.0\.0\.0)/1' |
		awk '{print "-4 " $1}'; ip -n "$CLI" -6 route show dev "$TUN" | grep -E '^(::|8000::)/1' |
		awk '{print "-6 " $1}')
	for r in "${TUN_ROUTES[@]}"; do
		# shellcheck disable=SC2086
		ip -n "$CLI" ${r% *} route del ${r#* } dev "$TUN"
	done
}
routes_back() {
	local r
	for r in "${TUN_ROUTES[@]}"; do
		# shellcheck disable=SC2086
		ip -n "$CLI" ${r% *} route add ${r#* } dev "$TUN"
	done
}

# outage NAME: stops the gateway (SIGSTOP) until the client says it lost it.
outage() {
	kill -STOP "$GW_PID"
	if ! wait_log "$LIB_TMP/$1.log" 'disconnected from' 10 "$CLIENT_PID"; then
		bad "$1_outage" "the client did not notice the gateway's absence"
		return 1
	fi
}

# back NAME: continues the gateway, waits for the client's resumption.
back() {
	kill -CONT "$GW_PID"
	if wait_log "$LIB_TMP/$1.log" 'reconnected to .*resumed' 40 "$CLIENT_PID"; then
		ok "$1_resumed" "$(grep -o 'reconnected to.*' "$LIB_TMP/$1.log" | tail -n 1)"
	else
		bad "$1_resumed" "no resumption: $(tail -n 2 "$LIB_TMP/$1.log" | tr '\n' ' ')"
		return 1
	fi
}

# normalize: nft's listing of the table as the client printed it: no
# comment, counters without their values, names unquoted, no blank lines.
normalize() {
	$PY -c '
import re, sys
t = sys.stdin.read()
t = re.sub(r"\n\tcomment \"[^\"]*\"", "", t)
t = re.sub(r"counter (\w+) \{\s*packets \d+ bytes \d+\s*\}", r"counter \1 { }", t)
t = re.sub(r"counter name \"(\w+)\"", r"counter name \1", t)
print("\n".join(l for l in t.splitlines() if l.strip()))
'
}

# ---- The tests ----

t_killswitch() {
	local before table printed leaks gw_pkts blocked
	before=$(ruleset)
	capture_start ks || { bad ks_capture "tcpdump did not start"; return; }
	if ! start_client ks --default-route --kill-switch -v; then
		bad ks_connect "no 'connected' line: $(tail -n 3 "$LIB_TMP/ks.log" | tr '\n' ' ')"
		return
	fi
	table=$(ns_exec "$CLI" nft list table inet "$TABLE" 2>&1)
	printed=$(sed -n '/^table inet /,/^}/p' "$LIB_TMP/ks.log")
	if [ -n "$printed" ] && [ "$(normalize <<<"$table")" = "$(normalize <<<"$printed")" ]; then
		ok ks_table "nft lists back what the client printed ($(grep -c accept <<<"$table") accept rules)"
	else
		bad ks_table "listed: $table; printed: $printed"
	fi
	probe
	if [ "$PING4$PING6$CURL$UDP" = okokokok ] && [ "$(tunnel6)" = "dev $TUN" ]; then
		ok ks_tunnel "$PROBE; IPv6 too, through $TUN"
	else
		bad ks_tunnel "$PROBE; IPv6 route: $(tunnel6)"
	fi
	outage ks || return
	probe
	if [ "$PING4$PING6$CURL$UDP" = failedfailedfailedfailed ]; then
		ok ks_outage_blocked "$PROBE"
	else
		bad ks_outage_blocked "$PROBE"
	fi
	routes_away
	probe
	if [ "$PING4$PING6$CURL$UDP" = failedfailedfailedfailed ]; then
		ok ks_outage_no_routes_blocked "tunnel routes removed (${#TUN_ROUTES[@]}): $PROBE"
	else
		bad ks_outage_no_routes_blocked "$PROBE"
	fi
	# DHCP goes out (the lease is kept); other UDP to the same host does not.
	local dhcp=""
	ns_exec "$CLI" bash -c 'echo d >/dev/udp/192.0.2.1/67' 2>/dev/null && dhcp+=" 67"
	ns_exec "$CLI" bash -c 'echo d >/dev/udp/2001:db8:1::1/547' 2>/dev/null && dhcp+=" 547"
	ns_exec "$CLI" bash -c 'echo d >/dev/udp/192.0.2.1/5353' 2>/dev/null && dhcp+=" 5353"
	routes_back
	back ks || return
	probe
	if [ "$PING4$PING6$CURL$UDP" = okokokok ]; then
		ok ks_tunnel_again "$PROBE"
	else
		bad ks_tunnel_again "$PROBE"
	fi
	blocked=$(ns_exec "$CLI" nft list counter inet "$TABLE" blocked 2>/dev/null | grep -o 'packets [0-9]*')
	capture_stop
	leaks=$(captured "$LEAK")
	gw_pkts=$(captured "host 203.0.113.2")
	if [ "$leaks" = 0 ] && [ "$gw_pkts" -gt 0 ]; then
		ok ks_no_leak "physical link: 0 packets to the Internet host, $gw_pkts to or from the gateway; blocked counter: $blocked"
	else
		bad ks_no_leak "physical link: $leaks packets to the Internet host ($(tcpdump -r "$CAP_FILE" -n "$LEAK" 2>/dev/null | head -n 3 | tr '\n' ' ')), $gw_pkts to the gateway"
	fi
	local d67 d547 d5353
	d67=$(captured "dst host 192.0.2.1 and udp dst port 67")
	d547=$(captured "dst host 2001:db8:1::1 and udp dst port 547")
	d5353=$(captured "udp dst port 5353 and not dst host $INET4")
	if [ "$dhcp" = " 67 547" ] && [ "$d67" -gt 0 ] && [ "$d547" -gt 0 ] && [ "$d5353" = 0 ]; then
		ok ks_dhcp_out "udp 67 and 547 to the router sent and on the link ($d67, $d547), udp 5353 refused"
	else
		bad ks_dhcp_out "sent:$dhcp; on the link: 67 $d67, 547 $d547, 5353 $d5353"
	fi
	if stop_client TERM && [ "$EXIT_STATUS" = 0 ] && [ "$(ruleset)" = "$before" ]; then
		ok ks_sigterm_clean "exit 0, nft list ruleset as before"
	else
		bad ks_sigterm_clean "status ${EXIT_STATUS:-?}; ruleset now: $(ruleset | tr '\n' ' ')"
	fi
}

# The same outage without --kill-switch: what the client alone does.
t_no_killswitch() {
	local leaks
	capture_start noks || { bad noks_capture "tcpdump did not start"; return; }
	if ! start_client noks --default-route; then
		bad noks_connect "no 'connected' line: $(tail -n 3 "$LIB_TMP/noks.log" | tr '\n' ' ')"
		return
	fi
	outage noks || return
	probe
	local routes_kept=$PROBE v4_kept="$PING4$CURL$UDP"
	routes_away
	probe
	local routes_gone=$PROBE v4_gone="$PING4$CURL$UDP"
	routes_back
	back noks
	capture_stop
	leaks=$(captured "$LEAK")
	# With the tunnel's routes in place the client drops what goes into
	# the TUN while it is down; with them gone, the host's own route
	# carries the traffic around the tunnel.
	if [ "$v4_kept" = failedfailedfailed ] && [ "$v4_gone" = okokok ] && [ "$leaks" -gt 0 ]; then
		ok noks_measured "routes kept: $routes_kept; routes gone: $routes_gone; $leaks packets to the Internet host on the physical link"
	else
		bad noks_measured "routes kept: $routes_kept; routes gone: $routes_gone; $leaks packets leaked"
	fi
	stop_client TERM
}

# A gateway reached over IPv6: its address is let through (and neighbour
# discovery, without which the router could not be found: the cache is
# flushed first), tunnel traffic flows, nothing leaks.
t_ipv6_gateway() {
	local before rule leaks
	before=$(ruleset)
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/gw6.state" "$VPNGW" serve \
		--listen '[2001:db8:2::2]:8081' --allow 198.51.100.0/24 --keepalive 1 \
		--tun-prefix vgs --subnet 10.0.140.0/24 >>"$LIB_TMP/gw6.log" 2>&1
	if ! wait_log "$LIB_TMP/gw6.log" 'listening on' 10 "$BG_PID"; then
		bad ks_ipv6_gateway "no gateway on [2001:db8:2::2]:8081: $(tail -n 2 "$LIB_TMP/gw6.log" | tr '\n' ' ')"
		return
	fi
	ip -n "$CLI" -6 neigh flush dev eth0
	capture_start ks6 || { bad ks6_capture "tcpdump did not start"; return; }
	if ! URL='ws://[2001:db8:2::2]:8081/' start_client ks6 --default-route --kill-switch; then
		bad ks_ipv6_gateway "no 'connected' line: $(tail -n 3 "$LIB_TMP/ks6.log" | tr '\n' ' ')"
		capture_stop
		return
	fi
	rule=$(ns_exec "$CLI" nft list table inet "$TABLE" | grep -o 'ip6 daddr 2001:db8:2::2 tcp dport 8081 accept')
	probe
	capture_stop
	leaks=$(captured "$LEAK")
	if [ -n "$rule" ] && [ "$PING4$CURL$UDP" = okokok ] && [ "$leaks" = 0 ] &&
		[ "$(captured "icmp6 and ip6[40] == 135")" -gt 0 ]; then
		ok ks_ipv6_gateway "'$rule'; neighbour solicitations sent; $PROBE; 0 leaked"
	else
		bad ks_ipv6_gateway "rule '$rule'; $PROBE; $leaks leaked"
	fi
	if stop_client TERM && [ "$EXIT_STATUS" = 0 ] && [ "$(ruleset)" = "$before" ]; then
		ok ks6_sigterm_clean "exit 0, nft list ruleset as before"
	else
		bad ks6_sigterm_clean "status ${EXIT_STATUS:-?}; ruleset now: $(ruleset | tr '\n' ' ')"
	fi
}

# Exits after an error: nothing left either.
t_errors() {
	local before out rc n
	before=$(ruleset)
	# Nothing listens there: the first attempt fails, exit 1.
	out=$(ns_exec "$CLI" timeout 20 "$VPNGW" connect ws://203.0.113.2:8099/ --kill-switch 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && [ "$(ruleset)" = "$before" ]; then
		ok ks_error_exit "exit 1 ($(tail -n 1 <<<"$out")), nft list ruleset as before"
	else
		bad ks_error_exit "exit $rc: $out; ruleset $(ruleset | tr '\n' ' ')"
	fi
	# No permission for nf_tables: one line, exit 1, nothing made.
	out=$(ns_exec "$CLI" setpriv --reuid=65534 --regid=65534 --clear-groups \
		timeout 10 "$VPNGW" connect "$URL" --kill-switch 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'kill-switch: cannot install table inet .*: nf_tables: ' <<<"$out" &&
		[ "$(ruleset)" = "$before" ]; then
		ok ks_install_fails "exit 1: $out"
	else
		bad ks_install_fails "exit $rc: $out"
	fi
	# A client killed with SIGKILL leaves its table (the host stays
	# closed); the next one of that TUN replaces it and removes it.
	if ! start_client killed --default-route --kill-switch; then
		bad ks_replace "no 'connected' line"
		return
	fi
	stop_client KILL
	ns_exec "$CLI" nft list table inet "$TABLE" >/dev/null 2>&1 || bad ks_replace "SIGKILL left no table?"
	if ! start_client replaced --default-route --kill-switch; then
		bad ks_replace "no 'connected' line after a killed one: $(tail -n 2 "$LIB_TMP/replaced.log" | tr '\n' ' ')"
		return
	fi
	n=$(ns_exec "$CLI" nft list tables | grep -c "inet $TABLE")
	if [ "$n" = 1 ] && ns_exec "$CLI" nft list table inet "$TABLE" | grep -q "pid $CLIENT_PID\""; then
		ok ks_replace "one table, the new client's (pid $CLIENT_PID)"
	else
		bad ks_replace "$n tables: $(ns_exec "$CLI" nft list tables | tr '\n' ' ')"
	fi
	if stop_client INT && [ "$EXIT_STATUS" = 0 ] && [ "$(ruleset)" = "$before" ]; then
		ok ks_sigint_clean "exit 0, nft list ruleset as before"
	else
		bad ks_sigint_clean "status ${EXIT_STATUS:-?}; ruleset $(ruleset | tr '\n' ' ')"
	fi
}

# The whole of a host given to vpngw, across a gateway restart: with
# --default-route --kill-switch and the gateway's DNS server (the host's
# own resolver, on the router, is reachable around the tunnel), the name
# resolves through the tunnel's resolver only. The gateway is stopped
# (SIGTERM: its clients get 1001) and a new one started: its session gone,
# the client gets a new one. While it is down nothing goes out, DNS
# included; after, IPv4, IPv6 and DNS flow again through the tunnel. The
# capture on the physical link sees no packet to the Internet host or to
# the host's resolver from start to end; on exit resolv.conf and the
# ruleset are as before.
t_restart() {
	local before a q0 q1 leaks dns_out
	netns_etc ETC "$CLI" && printf 'nameserver 192.0.2.1\noptions timeout:1 attempts:1\n' >"$ETC/resolv.conf" &&
		cp "$ETC/resolv.conf" "$LIB_TMP/resolv.orig" || { bad restart "no resolv.conf of cli's own"; return; }
	bg_in "$RTR" "$PY" "$HERE/dns_responder.py" --a 192.0.2.80 192.0.2.1 >"$LIB_TMP/host_dns.log" 2>&1
	bg_in "$INET" "$PY" "$HERE/dns_responder.py" --a 198.51.100.80 $INET4 >"$LIB_TMP/tunnel_dns.log" 2>&1
	wait_port "$RTR" 192.0.2.1 53 udp && wait_port "$INET" $INET4 53 udp || { bad restart "no resolvers"; return; }
	a=$(resolve)
	[ "$a" = 192.0.2.80 ] || { bad restart "before the client the name is '$a', not the host resolver's"; return; }
	kill -TERM "$GW_PID"
	wait_exit "$GW_PID" 5
	start_gw --dns $INET4 || { bad restart "no gateway with --dns"; return; }
	before=$(ruleset)
	q0=$(grep -c vpngw-test "$LIB_TMP/host_dns.log")
	capture_start restart || { bad restart "tcpdump did not start"; return; }
	if ! start_client restart --tun "vks$$" --default-route --kill-switch; then
		bad restart "no 'connected' line: $(tail -n 3 "$LIB_TMP/restart.log" | tr '\n' ' ')"
		capture_stop
		return
	fi
	a=$(resolve)
	probe
	if [ "$a" = 198.51.100.80 ] && [ "$PING4$PING6$CURL$UDP" = okokokok ]; then
		ok restart_before "$NAME -> $a (the tunnel's resolver); $PROBE"
	else
		bad restart_before "$NAME -> '$a'; $PROBE; resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf")"
	fi
	kill -TERM "$GW_PID"
	wait_exit "$GW_PID" 5
	wait_log "$LIB_TMP/restart.log" 'disconnected from' 10 "$CLIENT_PID"
	# Down, and the tunnel's routes gone too (as when the device is
	# recreated): only the kill switch stands between the host and its
	# own routes.
	local TUN=vks$$
	routes_away
	a=$(resolve)
	probe
	routes_back
	if [ -z "$a" ] && [ "$PING4$PING6$CURL$UDP" = failedfailedfailedfailed ]; then
		ok restart_down_blocked "gateway gone, ${#TUN_ROUTES[@]} tunnel routes removed: no name, $PROBE"
	else
		bad restart_down_blocked "gateway gone: name '$a', $PROBE"
	fi
	start_gw --dns $INET4 || { bad restart "the new gateway did not start"; capture_stop; return; }
	if wait_log "$LIB_TMP/restart.log" 'reconnected to' 40 "$CLIENT_PID"; then
		a=$(resolve)
		probe
		if [ "$a" = 198.51.100.80 ] && [ "$PING4$PING6$CURL$UDP" = okokokok ]; then
			ok restart_after "$(grep -o 'reconnected to.*' "$LIB_TMP/restart.log" | tail -n 1); $NAME -> $a; $PROBE"
		else
			bad restart_after "$NAME -> '$a'; $PROBE"
		fi
	else
		bad restart_after "no new connection: $(tail -n 3 "$LIB_TMP/restart.log" | tr '\n' ' ')"
	fi
	capture_stop
	leaks=$(captured "$LEAK")
	dns_out=$(captured "dst host 192.0.2.1 and port 53")
	q1=$(grep -c vpngw-test "$LIB_TMP/host_dns.log")
	if [ "$leaks" = 0 ] && [ "$dns_out" = 0 ] && [ "$q1" = "$q0" ] &&
		[ "$(grep -c vpngw-test "$LIB_TMP/tunnel_dns.log")" -gt 0 ]; then
		ok restart_no_leak "physical link: 0 packets to the Internet host, 0 to the host's resolver; its log: no query; the tunnel's: $(grep -c vpngw-test "$LIB_TMP/tunnel_dns.log")"
	else
		bad restart_no_leak "physical link: $leaks to the Internet host, $dns_out to the host's resolver; $((q1 - q0)) queries there"
	fi
	if stop_client TERM && [ "$EXIT_STATUS" = 0 ] && [ "$(ruleset)" = "$before" ] &&
		cmp -s "$ETC/resolv.conf" "$LIB_TMP/resolv.orig" && [ "$(resolve)" = 192.0.2.80 ]; then
		ok restart_clean "exit 0; the ruleset and resolv.conf as before; the name the host's again"
	else
		bad restart_clean "status ${EXIT_STATUS:-?}; resolv.conf $(tr '\n' '|' <"$ETC/resolv.conf")"
	fi
}

# ---- Main ----
TESTS=(killswitch no_killswitch ipv6_gateway errors restart)
select_tests "$@"
if ! setup_topology || ! start_servers; then
	bad topology "could not build the namespaces or start the servers"
	finish
fi
if ! start_gw; then
	bad gateway "vpngw serve did not start: $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	finish
fi
for t in "${TESTS[@]}"; do
	"t_$t"
done
finish
