#!/bin/bash
# SPDX-License-Identifier: MIT
# test/proxy.sh: vpngw behind a real nginx (Debian's), as root, in network
# namespaces: one gateway behind the location block of contrib/nginx-vpngw.conf
# (the client's real address in the gateway's log with --trust-proxy, and a
# forged X-Forwarded-For ignored), then two gateways behind
# contrib/nginx-scale-out.conf (a client cut mid-transfer resumes on the
# gateway that holds its slot). Each nginx.conf here only includes the contrib
# file and adds what a test run needs: its own listen address (for the single
# gateway), pid file, logs and temp paths. The clients are
# test/proxy_test.py (python websockets + scapy) and `vpngw connect`. Ends
# with "N passed, N failed"; lib.sh removes every namespace and process it
# made, even on failure or ^C.
#
#   ns cli: eth0 192.0.2.2/24
#      |
#   ns front: eth0 192.0.2.1/24, br0 10.10.0.254/24, default via 10.10.0.100
#      |     nginx A on 192.0.2.1:8088 -> contrib/nginx-vpngw.conf
#      |       -> gateway S on [::]:8080 (so also reachable directly; its
#      |          IPv4 peers are IPv4-mapped), --trust-proxy 127.0.0.1/32
#      |          (vgs*, 10.0.120.0/24)
#      |     nginx B on :80 -> contrib/nginx-scale-out.conf
#      |       -> 10.10.0.1:8080 and 10.10.0.2:8080
#      +-- br0 -- eth0 10.10.0.1  ns gw1: gateway 1, --gateway-id 1,
#      |                              10.0.100.0/24, default via 10.10.0.100
#      +-- br0 -- eth0 10.10.0.2  ns gw2: gateway 2, --gateway-id 2,
#      |                              10.0.110.0/24, default via 10.10.0.100
#      +-- br0 -- eth0 10.10.0.100 and 203.0.113.7  ns inet: HTTP on :80
#                 (an 8 MB random file, /slow/8m paced at 2 MB/s)
#
# The client namespace reaches only 192.0.2.0/24; 203.0.113.7 only through
# a tunnel.
#
# Usage: test/proxy.sh [TEST...]   (default: all, in order)
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CONTRIB=$(cd "$HERE/../contrib" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

CLI='' FRONT='' GW1='' GW2='' INET=''
INET_ADDR=203.0.113.7

# ---- Topology and servers ----
setup_topology() {
	ns_add CLI cli && ns_add FRONT front && ns_add GW1 gw1 && ns_add GW2 gw2 &&
		ns_add INET inet || return 1
	veth_add "$CLI" eth0 "$FRONT" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$FRONT" addr add 192.0.2.1/24 dev eth0 || return 1
	ip -n "$FRONT" link add br0 type bridge && ip -n "$FRONT" link set br0 up &&
		ip -n "$FRONT" addr add 10.10.0.254/24 dev br0 || return 1
	local ns port
	for ns in "$GW1:1" "$GW2:2" "$INET:100"; do
		port=p${ns##*:}
		veth_add "$FRONT" "$port" "${ns%:*}" eth0 &&
			ip -n "$FRONT" link set "$port" master br0 &&
			ip -n "${ns%:*}" addr add "10.10.0.${ns##*:}/24" dev eth0 || return 1
	done
	ip -n "$INET" addr add "$INET_ADDR/24" dev eth0 &&
		ip -n "$FRONT" route add default via 10.10.0.100 &&
		ip -n "$GW1" route add default via 10.10.0.100 &&
		ip -n "$GW2" route add default via 10.10.0.100
}

start_servers() {
	mkdir -p "$LIB_TMP/www" && head -c 8M /dev/urandom >"$LIB_TMP/www/8m" || return 1
	bg_in "$INET" $PY "$HERE/client_test.py" serve "$LIB_TMP/www" 80 >"$LIB_TMP/http.log" 2>&1
	wait_port "$INET" "$INET_ADDR" 80
}

# start_gw NS NAME ARGS...: `vpngw serve ARGS` in NS, its own state file and
# log; waits for "listening on". LAST_GW_PID is its PID.
start_gw() {
	local ns=$1 name=$2
	shift 2
	bg_in "$ns" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve --allow "$INET_ADDR/32" --keepalive 2 "$@" >"$LIB_TMP/$name.log" 2>&1
	LAST_GW_PID=$BG_PID
	if wait_log "$LIB_TMP/$name.log" 'listening on' 10 "$BG_PID"; then
		step "start_$name"
	else
		bad "start_$name" "no 'listening on': $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		return 1
	fi
}

# start_nginx NAME BODY: nginx in the front namespace, its directory
# $LIB_TMP/NAME holding nginx.conf (the run's own pid file, logs and temp
# paths, then BODY inside the http block), started in the foreground of its
# own PID so that lib.sh stops it by that PID.
start_nginx() {
	local name=$1 body=$2 dir=$LIB_TMP/$1
	mkdir -p "$dir" && chmod 711 "$LIB_TMP" "$dir" || return 1
	cat >"$dir/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/error.log info;
		events { worker_connections 256; }
		http {
		    access_log $dir/access.log;
		    client_body_temp_path $dir/client_body;
		    proxy_temp_path $dir/proxy;
		    fastcgi_temp_path $dir/fastcgi;
		    uwsgi_temp_path $dir/uwsgi;
		    scgi_temp_path $dir/scgi;
		$body
		}
	EOF
	if ! out=$(ns_exec "$FRONT" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -t 2>&1); then
		bad "start_nginx_$name" "nginx -t: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
		return 1
	fi
	bg_in "$FRONT" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
	step "start_nginx_$name" "$dir/nginx.conf"
}

# py_ping NAME URL [XFF]: the python client pings through the tunnel; its
# output is in $LIB_TMP/NAME.out. True on an echo reply.
py_ping() {
	local name=$1
	shift
	ns_exec "$CLI" timeout 15 $PY "$HERE/proxy_test.py" ping "$1" "$INET_ADDR" "${2:-}" \
		>"$LIB_TMP/$name.out" 2>&1 && grep -q '^ok ' "$LIB_TMP/$name.out"
}

# ---- One gateway behind nginx ----

t_single() {
	start_gw "$FRONT" gws --listen "[::]:8080" --tun-prefix vgs --subnet 10.0.120.0/24 \
		--trust-proxy 127.0.0.1/32 || return
	GWS_PID=$LAST_GW_PID
	start_nginx a "    server {
		        listen 192.0.2.1:8088;
		        include $CONTRIB/nginx-vpngw.conf;
		    }" && wait_port "$FRONT" 192.0.2.1 8088 || return
	local log=$LIB_TMP/gws.log

	if py_ping nginx_ping ws://192.0.2.1:8088/vpn; then
		ok nginx_ping "client -> nginx -> gateway -> $INET_ADDR: $(cat "$LIB_TMP/nginx_ping.out")"
	else
		bad nginx_ping "$(tail -n 2 "$LIB_TMP/nginx_ping.out" | tr '\n' ' ')"
	fi
	if grep -qE 'connect 192\.0\.2\.2 via 127\.0\.0\.1:[0-9]+ on vgs' "$log" &&
		grep -qE 'disconnect 192\.0\.2\.2 via 127\.0\.0\.1:[0-9]+ from vgs' "$log"; then
		ok nginx_real_address "$(grep -oE 'connect 192\.0\.2\.2 via .*' "$log" | head -n 1)"
	else
		bad nginx_real_address "no 'connect 192.0.2.2 via 127.0.0.1:PORT': $(grep -E 'connect|resume' "$log" | tail -n 2 | tr '\n' ' ')"
	fi

	# A client cannot name itself through the proxy: nginx appends the
	# address it saw, and that one is the client.
	if py_ping nginx_forged ws://192.0.2.1:8088/vpn 203.0.113.99 &&
		[ "$(grep -cE 'connect 192\.0\.2\.2 via 127\.0\.0\.1:[0-9]+ on' "$log")" = 2 ] &&
		! grep -q '203\.0\.113\.99' "$log"; then
		ok forged_xff_through_nginx "logged as $(grep -oE 'connect 192\.0\.2\.2 via [^ ]*' "$log" | tail -n 1 | cut -d' ' -f2-)"
	else
		bad forged_xff_through_nginx "$(cat "$LIB_TMP/nginx_forged.out"); log: $(grep -E 'connect|203\.0\.113\.99' "$log" | tail -n 2 | tr '\n' ' ')"
	fi

	# Directly, from a peer it does not trust, the header is ignored.
	if py_ping direct_forged ws://192.0.2.1:8080/ 203.0.113.99 &&
		grep -qE 'connect 192\.0\.2\.2:[0-9]+ on vgs' "$log" &&
		! grep -q '203\.0\.113\.99' "$log"; then
		ok forged_xff_direct "logged as $(grep -oE 'connect 192\.0\.2\.2:[0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)"
	else
		bad forged_xff_direct "$(cat "$LIB_TMP/direct_forged.out"); log: $(grep -E 'connect|203\.0\.113\.99' "$log" | tail -n 2 | tr '\n' ' ')"
	fi
	kill -TERM "$GWS_PID" 2>/dev/null
	wait_exit "$GWS_PID" 5
}

# ---- Two gateways behind one nginx ----

# client_lines LOG: the gateway's lines about the client.
client_lines() {
	grep -E '(connect|resume) 192\.0\.2\.2' "$1"
}

t_scale_out() {
	local args=(--trust-proxy 10.10.0.254/32 --linger 10)
	start_gw "$GW1" gw1 --listen 10.10.0.1:8080 --gateway-id 1 --subnet 10.0.100.0/24 "${args[@]}" &&
		start_gw "$GW2" gw2 --listen 10.10.0.2:8080 --gateway-id 2 --subnet 10.0.110.0/24 "${args[@]}" ||
		return
	start_nginx b "    include $CONTRIB/nginx-scale-out.conf;" &&
		wait_port "$FRONT" 0.0.0.0 80 || return
	bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1/vpn --route "$INET_ADDR/32" --keepalive 2 \
		>"$LIB_TMP/client.log" 2>&1
	local cpid=$BG_PID
	if ! wait_log "$LIB_TMP/client.log" 'connected to' 10 "$cpid"; then
		bad scale_out_connect "$(tail -n 2 "$LIB_TMP/client.log" | tr '\n' ' ')"
		return
	fi
	local holder other id
	if client_lines "$LIB_TMP/gw1.log" | grep -q .; then
		holder=gw1 other=gw2 id=1
	else
		holder=gw2 other=gw1 id=2
	fi
	if client_lines "$LIB_TMP/$holder.log" | grep -qE '^.*connect 192\.0\.2\.2 via 10\.10\.0\.254:[0-9]+ on vpngw0'; then
		ok scale_out_connect "gateway $id: $(client_lines "$LIB_TMP/$holder.log" | grep -o 'connect.*')"
	else
		bad scale_out_connect "no connect line: $(client_lines "$LIB_TMP/$holder.log")"
		return
	fi

	# A paced 8 MB download, cut at nginx after 1.5 s (its socket to the
	# client is killed), must complete once the client resumes through
	# nginx, on the gateway that holds its slot.
	local want got n
	want=$(sha256sum <"$LIB_TMP/www/8m" | cut -d' ' -f1)
	ns_exec "$CLI" curl -sS --max-time 40 -o "$LIB_TMP/cut.dl" \
		-w '%{size_download} bytes in %{time_total} s' \
		"http://$INET_ADDR/slow/8m" >"$LIB_TMP/cut.curl" 2>&1 &
	local dl=$!
	sleep 1.5
	if ! kill -0 "$dl" 2>/dev/null; then
		bad scale_out_resume "the download ended before the cut: $(cat "$LIB_TMP/cut.curl")"
		return
	fi
	n=$(ns_exec "$FRONT" ss -HtnK state established dst 192.0.2.2 sport = :80 | grep -c .)
	wait_log "$LIB_TMP/client.log" 'reconnected to' 10
	wait "$dl"
	got=$(sha256sum <"$LIB_TMP/cut.dl" 2>/dev/null | cut -d' ' -f1)
	# nginx logs a request when its connection ends: stop the client first.
	kill -TERM "$cpid" 2>/dev/null
	wait_exit "$cpid" 5
	wait_log "$LIB_TMP/b/access.log" 'session=' 5
	local line sess
	line=$(grep -o 'reconnected to.*' "$LIB_TMP/client.log" | head -n 1)
	sess=$(grep -o 'session=[0-9a-f]*' "$LIB_TMP/b/access.log" | head -n 1)
	if [ "$n" = 0 ]; then
		bad scale_out_resume "ss -K found no connection of nginx to the client"
	elif [ "$got" != "$want" ]; then
		bad scale_out_resume "download broken after the cut: $(cat "$LIB_TMP/cut.curl"); $line"
	elif ! echo "$line" | grep -q 'resumed'; then
		bad scale_out_resume "the client did not resume its session: '$line'; gateway $id: $(client_lines "$LIB_TMP/$holder.log" | tail -n 1)"
	elif ! client_lines "$LIB_TMP/$holder.log" | grep -qE 'resume 192\.0\.2\.2 via 10\.10\.0\.254:[0-9]+ on vpngw0'; then
		bad scale_out_resume "gateway $id logged no resumption: $(client_lines "$LIB_TMP/$holder.log" | tr '\n' ' ')"
	elif [ "${sess:0:10}" != "session=0$id" ]; then
		bad scale_out_resume "the token does not start with the gateway's id $id: '$sess' in nginx's access log"
	elif grep -qE 'vpngw: (connect|resume|refused) |session' "$LIB_TMP/$other.log"; then
		bad scale_out_resume "the other gateway saw the client: $(grep -E 'vpngw: (connect|resume|refused) |session' "$LIB_TMP/$other.log" | head -n 2 | tr '\n' ' ')"
	else
		ok scale_out_resume "${line}; gateway $id: $(grep -o 'resume 192.*' "$LIB_TMP/$holder.log" | head -n 1), ${sess:0:10}...; the other saw nothing; 8 MB, sha256 ok"
	fi

	# A token of the other gateway (straight to it, from the proxy's host):
	# not a session of its own, so a new slot, and a line saying why.
	local tok=${sess#session=} a
	a=$(ns_exec "$FRONT" timeout 10 $PY "$HERE/client_test.py" assign \
		"ws://10.10.0.$((3 - id)):8080/?session=$tok" 2>&1)
	if [ "${a%/*}" = "10.0.$((100 + (2 - id) * 10)).2" ] &&
		grep -q "its session is gateway $id's, not this one's ($((3 - id)))" "$LIB_TMP/$other.log"; then
		ok scale_out_foreign_token "new slot $a; $(grep -o "its session is gateway.*" "$LIB_TMP/$other.log")"
	else
		bad scale_out_foreign_token "got '$a'; $(tail -n 2 "$LIB_TMP/$other.log" | tr '\n' ' ')"
	fi
}

# ---- Main ----
TESTS=(single scale_out)
select_tests "$@"
if ! command -v nginx >/dev/null; then
	bad nginx "no nginx (apt-get install nginx)"
	finish
fi
if ! setup_topology || ! start_servers; then
	bad topology "could not build the namespaces or start the servers"
	finish
fi
for t in "${TESTS[@]}"; do
	"t_$t"
done
finish
