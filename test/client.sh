#!/bin/bash
# SPDX-License-Identifier: MIT
# test/client.sh: end-to-end tests of `vpngw connect`, as root, in network
# namespaces. Real programs (ping, curl, iperf3) use the tunnel from the
# client host; independent python clients (test/client_test.py) check the
# session tokens and the original protocol beside it. Ends with one line
# "N passed, N failed" and exits non-zero on any failure. lib.sh removes
# every namespace and process it made, even on failure or ^C.
#
#   ns cli: eth0 192.0.2.2/24 (192.0.2.3 after roaming)
#      |     runs: vpngw connect ws://192.0.2.1:8080/ (TUN vpngw-c0)
#      |
#   ns gw: eth1 192.0.2.1/24, eth0 198.51.100.2/24, default via .1
#      |     runs: vpngw serve --listen 192.0.2.1:8080 (pool vpngw0-4,
#      |     10.0.100-104.0/24, nftables masquerade out of eth0, set up by
#      |     serve itself), plus a fake gateway on :8090 answering 401/404
#      |     and a one-slot gateway on :8082 (vgf0, 10.0.120.0/24)
#      |
#   ns inet: eth0 198.51.100.1/24 and 203.0.113.7/24
#            runs: HTTP on :80 (a small body, 8 MB and 50 MB random files,
#            /slow/8m paced at 2 MB/s),
#            iperf3 -s on :5201
#
# The client namespace has no default route: only the tunnel reaches
# 198.51.100.0/24 and 203.0.113.0/24.
#
# Usage: test/client.sh [TEST...]   (default: all, in order)
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1


suite_start

TUN=vpngw-c0
URL=ws://192.0.2.1:8080/
CLI='' GW='' INET=''
CLIENT_PID='' GW_PID=''

# ---- Topology and servers ----
setup_topology() {
	ns_add CLI cli && ns_add GW gw && ns_add INET inet || return 1
	veth_add "$CLI" eth0 "$GW" eth1 || return 1
	veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$INET" addr add 198.51.100.1/24 dev eth0 &&
		ip -n "$INET" addr add 203.0.113.7/24 dev eth0 || return 1
}

start_servers() {
	mkdir -p "$LIB_TMP/www" || return 1
	$PY -c 'print("".join("line %04d of the vpngw client test body\n" % i for i in range(200)), end="")' \
		>"$LIB_TMP/www/body" &&
		head -c 8M /dev/urandom >"$LIB_TMP/www/8m" &&
		head -c 50M /dev/urandom >"$LIB_TMP/www/50m" || return 1
	bg_in "$INET" $PY "$HERE/client_test.py" serve "$LIB_TMP/www" 80 \
		>"$LIB_TMP/http.log" 2>&1
	bg_in "$INET" iperf3 -s -p 5201 >"$LIB_TMP/iperf3-server.log" 2>&1
	wait_port "$INET" 198.51.100.1 80 && wait_port "$INET" 198.51.100.1 5201
}

# A fake gateway: answers every upgrade with the status in its path (/401,
# /404...), and /101 with a proper upgrade that selects no subprotocol
# (an original gateway that stays silent), so the client's refusals and
# --address can be checked.
start_fake() {
	bg_in "$GW" $PY -c '
import base64, hashlib, http.server, socketserver, time
class S(http.server.ThreadingHTTPServer):
    def server_bind(self):  # without the reverse lookup of its address (no DNS here)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        st = int(self.path.strip("/").split("?")[0] or 404)
        self.send_response(st)
        if st == 101:
            k = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept",
                base64.b64encode(hashlib.sha1(k.encode()).digest()).decode())
            self.end_headers()
            self.wfile.flush()
            time.sleep(30)
            return
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
S(("192.0.2.1", 8090), H).serve_forever()
' >"$LIB_TMP/fake.log" 2>&1
	wait_port "$GW" 192.0.2.1 8090 &&
		ns_exec "$GW" nft add table inet vgwblack &&
		ns_exec "$GW" nft add chain inet vgwblack i '{ type filter hook input priority 0; }' &&
		ns_exec "$GW" nft add rule inet vgwblack i tcp dport 8099 drop
}

# start_gw NAME ARGS...: `vpngw serve` in the gateway namespace with its own
# state file and log; sets GW_PID (or LAST_GW_PID for other names).
start_gw() {
	local name=$1
	shift
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve --allow 198.51.100.0/24 --allow 203.0.113.0/24 "$@" \
		>>"$LIB_TMP/$name.log" 2>&1
	LAST_GW_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'listening on' 10 "$BG_PID"
}

# start_client NAME ARGS...: `vpngw connect $URL` (or $CLIENT_URL) in the
# client namespace; waits for its "connected" line. Sets CLIENT_PID.
start_client() {
	local name=$1
	shift
	bg_in "$CLI" "$VPNGW" connect "${CLIENT_URL:-$URL}" "$@" >"$LIB_TMP/$name.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"
}

# stop_client SIG: sends SIG and waits for the exit; EXIT_STATUS has its status.
stop_client() {
	kill "-$1" "$CLIENT_PID" 2>/dev/null
	wait_exit "$CLIENT_PID" 5
}

# wait_count FILE REGEX N SEC: waits until FILE has more than N lines
# matching REGEX.
wait_count() {
	for _ in $(seq $(($4 * 10))); do
		[ "$(grep -cE "$2" "$1" 2>/dev/null)" -gt "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# no_client: stops a client left running by an earlier test, so that tests
# that need the TUN name free can also run on their own.
no_client() {
	if [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null; then
		stop_client TERM
	fi
	return 0
}

cli_addr() {
	ip -n "$CLI" -o -4 addr show dev "$TUN" 2>/dev/null | awk '{print $4}'
}

# What the client adds to its host: the TUN and routes. Empty when clean.
leftovers() {
	ip -n "$CLI" -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep "^$TUN"
	ip -n "$CLI" route show 2>/dev/null | grep -E "$TUN|^0\.0\.0\.0/1|^128\.0\.0\.0/1|^192\.0\.2\.1 "
}

# ---- The tests ----

t_connect() {
	if ! start_client client --route 198.51.100.0/24 --route 203.0.113.0/24 --keepalive 2; then
		bad connect "no 'connected' line: $(tail -n 3 "$LIB_TMP/client.log" | tr '\n' ' ')"
		return 1
	fi
	local a mtu
	a=$(cli_addr)
	mtu=$(ip -n "$CLI" -o link show dev "$TUN" | grep -o 'mtu [0-9]*')
	if [ "$a" = 10.0.100.2/24 ] && [ "$mtu" = "mtu 1500" ] &&
		ip -n "$CLI" route show | grep -q "198.51.100.0/24 dev $TUN"; then
		ok connect "$(grep -o 'connected to.*' "$LIB_TMP/client.log" | head -n 1)"
	else
		bad connect "address '$a', $mtu, routes: $(ip -n "$CLI" route show | tr '\n' ';')"
	fi
}

t_ping() {
	local out
	if out=$(ns_exec "$CLI" ping -c 3 -i 0.2 -W 2 198.51.100.1 2>&1); then
		ok ping "$(echo "$out" | grep -E 'packets|rtt' | tr '\n' ' ')"
	else
		bad ping "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
}

t_curl() {
	local got
	got=$(ns_exec "$CLI" curl -sS --max-time 5 http://198.51.100.1/body 2>&1)
	if [ "$got" = "$(cat "$LIB_TMP/www/body")" ]; then
		ok curl_body "$(echo "$got" | wc -c) bytes match"
	else
		bad curl_body "body differs: $(echo "$got" | head -c 200)"
	fi
}

# download NAME URL FILE [CURL ARGS...]: fetches URL in the client
# namespace and compares its sha256 with FILE's; prints curl's figures.
download() {
	local name=$1 url=$2 file=$3 out want got
	shift 3
	want=$(sha256sum <"$file" | cut -d' ' -f1)
	out=$(ns_exec "$CLI" curl -sS --max-time 60 -o "$LIB_TMP/$name.dl" \
		-w '%{size_download} bytes in %{time_total} s, %{speed_download} B/s' "$@" "$url" 2>&1)
	got=$(sha256sum <"$LIB_TMP/$name.dl" 2>/dev/null | cut -d' ' -f1)
	rm -f "$LIB_TMP/$name.dl"
	if [ "$got" = "$want" ]; then
		local bps=${out##*, }
		bps=${bps%% B/s}
		ok "$name" "$out ($(awk -v b="$bps" 'BEGIN{printf "%.0f Mbit/s", b*8/1e6}')), sha256 ok"
	else
		bad "$name" "sha256 mismatch or failure: $out"
	fi
}

t_download() {
	download download_50m http://198.51.100.1/50m "$LIB_TMP/www/50m"
}

# iperf NAME ARGS...: a 3 s iperf3 run from the client namespace.
iperf() {
	local name=$1 out line
	shift
	out=$(ns_exec "$CLI" timeout 15 iperf3 -c 198.51.100.1 -t 3 -f m "$@" 2>&1)
	line=$(echo "$out" | grep -E 'receiver|[0-9]+/[0-9]+ \(' | tail -n 1)
	if echo "$out" | grep -q 'iperf Done' && [ -n "$line" ]; then
		ok "$name" "$(echo "$line" | sed -E 's/^\[[ 0-9]+\] +//; s/ +/ /g')"
	else
		bad "$name" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

t_iperf() {
	iperf iperf3_tcp_up
	iperf iperf3_tcp_down -R
	iperf iperf3_udp -u -b 100M -l 1400
}

t_stats() {
	kill -USR1 "$CLIENT_PID"
	if wait_log "$LIB_TMP/client.log" 'stats link=up .*up_packets=[1-9]' 3; then
		ok sigusr1_stats "$(grep -o 'stats.*' "$LIB_TMP/client.log" | tail -n 1 | cut -c 1-150)..."
	else
		bad sigusr1_stats "no stats line"
	fi
}

# tunnel_port: the local port of the client's TCP connection to the gateway.
tunnel_port() {
	ns_exec "$CLI" ss -Htn state established dst 192.0.2.1 dport = 8080 |
		awk '{ n = split($3, a, ":"); print a[n] }' | head -n 1
}

# mid_cut NAME WHAT [noreconnect]: a paced 8 MB download (about 4 s)
# is cut after 1.5 s by WHAT (a function), then must complete with the right
# checksum while the client resumes its session (or, with noreconnect, rides
# the outage out on the same TCP connection, neither reconnecting nor
# noticing a disconnection). WHAT finds the download in CUT_DL.
mid_cut() {
	local name=$1 what=$2 mode=${3:-} want got pid n0 d0 out port0 port1
	want=$(sha256sum <"$LIB_TMP/www/8m" | cut -d' ' -f1)
	n0=$(grep -c 'reconnected to' "$LIB_TMP/client.log")
	d0=$(grep -c 'disconnected from' "$LIB_TMP/client.log")
	port0=$(tunnel_port)
	CUT_DL=$LIB_TMP/$name.dl
	ns_exec "$CLI" curl -sS --max-time 40 -o "$LIB_TMP/$name.dl" \
		-w '%{size_download} bytes in %{time_total} s\n' \
		http://198.51.100.1/slow/8m >"$LIB_TMP/$name.curl" 2>&1 &
	pid=$!
	sleep 1.5
	if ! kill -0 "$pid" 2>/dev/null; then
		bad "$name" "the download ended before the cut: $(cat "$LIB_TMP/$name.curl")"
		return
	fi
	$what
	if [ "$mode" != noreconnect ] && ! wait_count "$LIB_TMP/client.log" "reconnected to" "$n0" 10; then
		bad "$name" "no reconnection"
	fi
	wait "$pid"
	got=$(sha256sum <"$LIB_TMP/$name.dl" 2>/dev/null | cut -d' ' -f1)
	rm -f "$LIB_TMP/$name.dl"
	out=$(grep 'reconnected to' "$LIB_TMP/client.log" | tail -n +$((n0 + 1)) | head -n 1)
	port1=$(tunnel_port)
	if [ "$got" != "$want" ]; then
		bad "$name" "download broken: $(cat "$LIB_TMP/$name.curl") ($out)"
	elif [ "$mode" = noreconnect ]; then
		if [ -n "$out" ] || [ "$(grep -c 'disconnected from' "$LIB_TMP/client.log")" != "$d0" ]; then
			bad "$name" "the client dropped the connection: $(tail -n +$((n0 + 1)) "$LIB_TMP/client.log" | grep -E 'disconnected|reconnected' | head -n 2 | tr '\n' ' ')"
		elif [ -z "$port0" ] || [ "$port0" != "$port1" ]; then
			bad "$name" "not the same TCP connection to the gateway: local port '$port0' before, '$port1' after"
		elif [ $((CUT_SIZE1 - CUT_SIZE0)) -ge 65536 ]; then
			bad "$name" "the link was not down: $((CUT_SIZE1 - CUT_SIZE0)) bytes arrived during the outage"
		elif [ "$(cli_addr)" != 10.0.100.2/24 ]; then
			bad "$name" "address $(cli_addr) after the outage"
		else
			ok "$name" "same connection (local port $port0), $((CUT_SIZE1 - CUT_SIZE0)) bytes during the outage; 8 MB transfer survived, sha256 ok"
		fi
	elif ! echo "$out" | grep -q 'resumed 10.0.100.2/24' || [ "$(cli_addr)" != 10.0.100.2/24 ]; then
		bad "$name" "not the same slot: '$out', address $(cli_addr)"
	else
		ok "$name" "${out#*vpngw: }; 8 MB transfer survived, sha256 ok"
	fi
}

cut_ss() {
	ns_exec "$CLI" ss -K dst 192.0.2.1 dport = "${1:-8080}" >/dev/null 2>&1
}

t_resume() {
	mid_cut resume_after_cut cut_ss
}

# cut_link: the client's link down for 2 s; CUT_SIZE0 and CUT_SIZE1 are
# the download's size 0.2 s into the outage (what was in flight has landed)
# and at its end.
cut_link() {
	ip -n "$CLI" link set eth0 down
	sleep 0.2
	CUT_SIZE0=$(stat -c %s "$CUT_DL" 2>/dev/null || echo 0)
	sleep 1.8
	CUT_SIZE1=$(stat -c %s "$CUT_DL" 2>/dev/null || echo 0)
	ip -n "$CLI" link set eth0 up
}

# A 2 s outage is shorter than the keepalive's three intervals: the TCP
# connection to the gateway rides it out, and so does the transfer inside.
t_resume_link() {
	mid_cut link_down_2s cut_link noreconnect
}

t_wrong_token() {
	local a b
	a=$(ns_exec "$CLI" $PY "$HERE/client_test.py" assign "${URL}?session=0123456789abcdef0123456789abcdef" 2>&1)
	b=$(ns_exec "$CLI" $PY "$HERE/client_test.py" assign "${URL}?session=nothex" 2>&1)
	if [ "${a%/*}" != 10.0.100.2 ] && [ "${b%/*}" != 10.0.100.2 ] &&
		echo "$a" | grep -q '^10\.0\.10[0-9]\.2/24$' && echo "$b" | grep -q '^10\.0\.10[0-9]\.2/24$' &&
		[ "$(cli_addr)" = 10.0.100.2/24 ] && ns_exec "$CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null; then
		ok wrong_token "bogus tokens got $a and $b, the live client keeps 10.0.100.2/24"
	else
		bad wrong_token "bogus tokens got '$a' and '$b'; live client $(cli_addr)"
	fi
}

roam() {
	ip -n "$CLI" addr del 192.0.2.2/24 dev eth0
	ip -n "$CLI" addr add 192.0.2.3/24 dev eth0
	ns_exec "$CLI" ss -K dst 192.0.2.1 dport = 8080 >/dev/null 2>&1
}

t_roaming() {
	mid_cut roaming roam
	if grep -q 'resume 192.0.2.3:' "$LIB_TMP/gw.log"; then
		ok roaming_gateway_log "$(grep -o 'resume 192.0.2.3:.*' "$LIB_TMP/gw.log" | tail -n 1)"
	else
		bad roaming_gateway_log "the gateway did not log a resumption from 192.0.2.3"
	fi
}

t_original_protocol() {
	local out
	out=$(ns_exec "$CLI" timeout 15 $PY "$HERE/client_test.py" orig "$URL" 198.51.100.1 2>&1)
	if [ "$out" = ok ] && ns_exec "$CLI" ping -c 2 -i 0.2 -W 2 198.51.100.1 >/dev/null; then
		ok original_protocol_side_by_side "python client without subprotocol got its echo reply; vpngw.v1 client pings too"
	else
		bad original_protocol_side_by_side "$out"
	fi
}

t_keepalive() {
	# Black-hole the link both ways: the client must notice the silence,
	# three 2 s intervals after the last byte it got (its pings were
	# answered until then: 4 to 6 s from now), then resume once the path
	# is back.
	local n0 s0 t0 dt
	n0=$(grep -c 'reconnected to.*resumed' "$LIB_TMP/client.log")
	s0=$(grep -c 'disconnected from.*silent' "$LIB_TMP/client.log")
	ns_exec "$CLI" nft add table inet vgwtest &&
		ns_exec "$CLI" nft add chain inet vgwtest o '{ type filter hook output priority 0; }' &&
		ns_exec "$CLI" nft add rule inet vgwtest o tcp dport 8080 drop &&
		ns_exec "$CLI" nft add chain inet vgwtest i '{ type filter hook input priority 0; }' &&
		ns_exec "$CLI" nft add rule inet vgwtest i tcp sport 8080 drop
	t0=${EPOCHREALTIME/./}
	if wait_count "$LIB_TMP/client.log" 'disconnected from.*silent' "$s0" 10; then
		dt=$(((${EPOCHREALTIME/./} - t0) / 100000))
		ns_exec "$CLI" nft delete table inet vgwtest
		if [ "$dt" -lt 35 ] || [ "$dt" -gt 75 ]; then
			bad keepalive_dead_link "silence noticed after $((dt / 10)).$((dt % 10)) s, expected 4-6 s"
		elif wait_count "$LIB_TMP/client.log" 'reconnected to.*resumed' "$n0" 12 &&
			ns_exec "$CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null; then
			ok keepalive_dead_link "after $((dt / 10)).$((dt % 10)) s: $(grep -o 'disconnected from.*silent.*' "$LIB_TMP/client.log" | tail -n 1)"
		else
			bad keepalive_dead_link "no resumption after the silence"
		fi
	else
		ns_exec "$CLI" nft delete table inet vgwtest
		bad keepalive_dead_link "no disconnection for silence within 10 s"
	fi
}

t_path_mtu() {
	local out
	ip -n "$GW" link set eth0 mtu 1280
	ip -n "$INET" link set eth0 mtu 1280
	download path_mtu_1280_download http://198.51.100.1/50m "$LIB_TMP/www/50m"
	# DF packets too big for the 1280 link: the gateway's frag-needed must
	# come back through the tunnel, rewritten, and set the client's PMTU.
	out=$(ns_exec "$CLI" ping -M "do" -s 1400 -c 3 -i 0.3 -W 1 198.51.100.1 2>&1)
	if echo "$out" | grep -qiE 'mtu ?= ?1280|frag needed'; then
		ok path_mtu_icmp "$(echo "$out" | grep -iE 'mtu|frag' | head -n 1 | sed 's/^ *//')"
	else
		bad path_mtu_icmp "no frag-needed through the tunnel: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	iperf iperf3_tcp_up_mtu_1280 -M 1400
	ip -n "$GW" link set eth0 mtu 1500
	ip -n "$INET" link set eth0 mtu 1500
}

# SIGTERM while every wait of the client's loop returns events (a UDP
# flood both ways through the tunnel): it is seen at once all the same, and
# the client closes and cleans up; then a client as before, for what follows.
t_sigterm_busy() {
	local flood
	bg_in "$CLI" iperf3 -c 198.51.100.1 -p 5201 -u -b 0 -l 1400 -t 6 --bidir \
		>"$LIB_TMP/flood.log" 2>&1
	flood=$BG_PID
	sleep 2
	if stop_client TERM && [ "$EXIT_STATUS" = 0 ] && [ -z "$(leftovers)" ]; then
		ok sigterm_busy "exit 0 under a UDP flood both ways, interface and routes gone"
	else
		bad sigterm_busy "status ${EXIT_STATUS:-still running}, left: $(leftovers | tr '\n' ' ')"
	fi
	kill "$flood" 2>/dev/null
	wait_exit "$flood" 5
	start_client client --route 198.51.100.0/24 --route 203.0.113.0/24 --keepalive 2 ||
		bad sigterm_busy_restart "no 'connected' line: $(tail -n 3 "$LIB_TMP/client.log" | tr '\n' ' ')"
}

t_sigterm_cleanup() {
	if stop_client TERM && [ "$EXIT_STATUS" = 0 ] && [ -z "$(leftovers)" ]; then
		ok sigterm_cleanup "exit 0, interface and routes gone"
	else
		bad sigterm_cleanup "status ${EXIT_STATUS:-?}, left: $(leftovers | tr '\n' ' ')"
	fi
}

t_default_route() {
	no_client
	if ! start_client defroute --default-route --keepalive 1; then
		bad default_route "no 'connected' line: $(tail -n 3 "$LIB_TMP/defroute.log" | tr '\n' ' ')"
		return
	fi
	local dev got host
	dev=$(ip -n "$CLI" route get 203.0.113.7 | grep -o "dev [^ ]*")
	host=$(ip -n "$CLI" route show 192.0.2.1 | head -n 1)
	got=$(ns_exec "$CLI" curl -sS --max-time 5 http://203.0.113.7/body 2>&1)
	if [ "$dev" = "dev $TUN" ] && [ "$got" = "$(cat "$LIB_TMP/www/body")" ] &&
		ns_exec "$CLI" ping -c 3 -i 0.3 -W 2 203.0.113.7 >/dev/null && [ -n "$host" ]; then
		ok default_route "203.0.113.7 via $TUN, body ok; host route '$host'"
	else
		bad default_route "route '$dev', host route '$host', body $(echo "$got" | head -c 100)"
	fi
	download default_route_50m http://203.0.113.7/50m "$LIB_TMP/www/50m"
	sleep 3.5 # longer than the client's three silent intervals: the tunnel stays up
	if kill -0 "$CLIENT_PID" && ! grep -q 'disconnected' "$LIB_TMP/defroute.log" &&
		ns_exec "$CLI" ping -c 1 -W 2 203.0.113.7 >/dev/null; then
		ok default_route_stays_up
	else
		bad default_route_stays_up "$(tail -n 2 "$LIB_TMP/defroute.log" | tr '\n' ' ')"
	fi
	if stop_client INT && [ "$EXIT_STATUS" = 0 ] && [ -z "$(leftovers)" ]; then
		ok sigint_cleanup "exit 0; TUN, 0/1, 128/1 and the host route to 192.0.2.1 gone"
	else
		bad sigint_cleanup "status ${EXIT_STATUS:-?}, left: $(leftovers | tr '\n' ' ')"
	fi
}

# The client's own errors: one line on stderr, exit 1, nothing left.
expect_error() {
	local name=$1 re=$2 out st
	shift 2
	out=$(ns_exec "$CLI" timeout 20 "$VPNGW" connect "$@" 2>&1)
	st=$?
	if [ "$st" = 1 ] && [ "$(echo "$out" | grep -c .)" -le 2 ] &&
		echo "$out" | grep -qE "$re" && [ -z "$(leftovers)" ]; then
		ok "$name" "$(echo "$out" | tail -n 1)"
	else
		bad "$name" "status $st, output: $(echo "$out" | tr '\n' ' '), left: $(leftovers | tr '\n' ' ')"
	fi
}

t_errors() {
	no_client
	expect_error err_bad_url 'expected ws://' http://192.0.2.1/
	expect_error err_refused 'connect: Connection refused' ws://192.0.2.1:9/
	# Nobody has 192.0.2.77: one ARP probe, not the kernel's three a second
	# apart, and the connect fails the same way.
	ns_exec "$CLI" sysctl -qw net.ipv4.neigh.eth0.mcast_solicit=1 net.ipv4.neigh.eth0.retrans_time_ms=300
	expect_error err_unreachable 'connect: ((Host|Network) is unreachable|No route to host)' ws://192.0.2.77:8080/
	ns_exec "$CLI" sysctl -qw net.ipv4.neigh.eth0.mcast_solicit=3 net.ipv4.neigh.eth0.retrans_time_ms=1000
	expect_error err_timeout 'connect timed out after 10 s' ws://192.0.2.1:8099/
	expect_error err_http_404 'HTTP 404' ws://192.0.2.1:8090/404
	expect_error err_http_401 'authentication failed \(HTTP 401\)' --token secret ws://192.0.2.1:8090/401
	expect_error err_no_v1 'does not speak vpngw.v1' ws://192.0.2.1:8090/101
	expect_error err_bad_address 'expected an address' --address 10.0.0.300/24 "$URL"
	# No permission for a TUN: an unprivileged user.
	local out st
	out=$(ns_exec "$CLI" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all "$VPNGW" connect "$URL" 2>&1)
	st=$?
	if [ "$st" = 1 ] && echo "$out" | grep -q 'permission denied'; then
		ok err_no_permission "$out"
	else
		bad err_no_permission "status $st: $out"
	fi
}

# An original gateway (no vpngw.v1): --address configures the interface.
t_original_gateway() {
	no_client
	if CLIENT_URL=ws://192.0.2.1:8090/101 start_client orig_gw --address 10.0.200.7/24 --keepalive 0 &&
		[ "$(cli_addr)" = 10.0.200.7/24 ] &&
		grep -q 'no vpngw.v1: --address' "$LIB_TMP/orig_gw.log"; then
		ok original_gateway_address "$(grep -o 'connected to.*' "$LIB_TMP/orig_gw.log")"
	else
		bad original_gateway_address "address '$(cli_addr)': $(tail -n 2 "$LIB_TMP/orig_gw.log" | tr '\n' ' ')"
	fi
	stop_client TERM
}

# Several URLs: the first refuses, the client moves on to the next.
t_failover() {
	no_client
	if CLIENT_URL=ws://192.0.2.1:9/ start_client failover "$URL" --route 198.51.100.0/24 --keepalive 0 &&
		grep -q 'trying the next address' "$LIB_TMP/failover.log" &&
		ns_exec "$CLI" ping -c 1 -W 2 198.51.100.1 >/dev/null; then
		ok failover "$(head -n 2 "$LIB_TMP/failover.log" | sed 's/^vpngw: //' | tr '\n' ' ')"
	else
		bad failover "$(tail -n 3 "$LIB_TMP/failover.log" | tr '\n' ' ')"
	fi
	stop_client TERM
}

# wss:// (when built with TLS): a gateway with a self-signed certificate
# for 192.0.2.1, verified with --ca; a wrong --pin is refused.
t_tls() {
	no_client
	if "$VPNGW" --version | grep -q 'no TLS'; then
		local t
		for t in tls_connect tls_download_50m tls_wrong_pin; do
			skip "$t" "vpngw was built without TLS ($("$VPNGW" --version))"
		done
		return
	fi
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=192.0.2.1 -addext subjectAltName=IP:192.0.2.1 \
		-keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" >/dev/null 2>&1 || {
		bad tls "openssl could not make a certificate"
		return
	}
	if ! start_gw gwtls --listen 192.0.2.1:8443 --tls-cert "$LIB_TMP/cert.pem" \
		--tls-key "$LIB_TMP/key.pem" --tun-prefix vgt --subnet 10.0.140.0/24; then
		bad tls "the TLS gateway did not start: $(tail -n 2 "$LIB_TMP/gwtls.log" | tr '\n' ' ')"
		return
	fi
	if CLIENT_URL=wss://192.0.2.1:8443/ start_client tls --ca "$LIB_TMP/cert.pem" \
		--route 198.51.100.0/24 &&
		ns_exec "$CLI" ping -c 2 -i 0.3 -W 2 198.51.100.1 >/dev/null; then
		ok tls_connect "$(grep -o 'connected to.*' "$LIB_TMP/tls.log")"
		download tls_download_50m http://198.51.100.1/50m "$LIB_TMP/www/50m"
	else
		bad tls_connect "$(tail -n 2 "$LIB_TMP/tls.log" | tr '\n' ' ')"
	fi
	stop_client TERM
	expect_error tls_wrong_pin 'does not match --pin' \
		--pin sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= wss://192.0.2.1:8443/
}

# refusals_until LOG CLIENTLOG PID SEC: watches the gateway LOG every 20 ms
# and prints the time (seconds since the epoch, bash's clock: no fork) of
# each new "no free slot" refusal in it, until CLIENTLOG says "connected
# to", PID exits or SEC seconds pass.
refusals_until() {
	local log=$1 clog=$2 pid=$3 end n n0=0
	end=$((${EPOCHREALTIME/./} + $4 * 1000000))
	while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
		n=$(grep -c 'refused .*: no free slot' "$log")
		while [ "$n0" -lt "$n" ]; do
			echo "$EPOCHREALTIME"
			n0=$((n0 + 1))
		done
		grep -q 'connected to' "$clog" && return 0
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.02
	done
}

# backoff_ok TIMES...: the gaps between refusals grow as the README's
# backoff does: 1 s doubling to 30 s, each wait between half and all of 1,
# 2, 4... s (jitter); 0.15 s early or 0.3 s late is allowed for the round
# trips and the 20 ms sampling. Prints the first gaps; false if one is off.
backoff_ok() {
	awk 'BEGIN {
		ok = 1
		for (i = 2; i < ARGC; i++) {
			d = 2 ^ (i - 2); if (d > 30) d = 30
			g = ARGV[i] - ARGV[i - 1]; lo = d / 2 - 0.15; hi = d + 0.3
			if (i < 8) printf "%s%.2f s", (i > 2 ? ", " : ""), g
			if (g < lo || g > hi) { if (i < 8) printf " (not in %.2f..%.2f)", lo, hi; ok = 0 }
		}
		if (ARGC > 8) printf ", ... (%d gaps)", ARGC - 2
		exit !ok
	}' "$@"
}

# Defect: a first attempt that gets 1013 (pool full) is not the user's
# error: `vpngw connect` retries with backoff and connects once a slot
# frees. The holder keeps the one slot 4 s (original protocol: no session,
# so its slot is free again 1 s after it leaves).
t_pool_full() {
	local holder times gaps
	no_client
	if ! start_gw gwfull --listen 192.0.2.1:8082 --pool 1 --tun-prefix vgf \
		--subnet 10.0.120.0/24; then
		bad pool_full_retry "the one-slot gateway did not start"
		return
	fi
	bg_in "$CLI" $PY "$HERE/client_test.py" holdorig ws://192.0.2.1:8082/ 4 \
		>"$LIB_TMP/holder.log" 2>&1
	holder=$BG_PID
	if ! wait_log "$LIB_TMP/holder.log" '^held' 5 "$holder"; then
		bad pool_full_retry "the holder got no slot: $(cat "$LIB_TMP/holder.log")"
		return
	fi
	bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8082/ --route 198.51.100.0/24 \
		>"$LIB_TMP/full.log" 2>&1
	CLIENT_PID=$BG_PID
	mapfile -t times < <(refusals_until "$LIB_TMP/gwfull.log" "$LIB_TMP/full.log" "$CLIENT_PID" 20)
	wait_exit "$holder" 5
	gaps=$(backoff_ok "${times[@]}")
	if ! kill -0 "$CLIENT_PID" 2>/dev/null; then
		bad pool_full_retry "the client exited after ${#times[@]} refusal(s): $(tail -n 2 "$LIB_TMP/full.log" | tr '\n' ' ')"
	elif ! grep -q 'connected to' "$LIB_TMP/full.log"; then
		bad pool_full_retry "not connected 20 s after the first 1013 (${#times[@]} refusals)"
	elif [ "${#times[@]}" -lt 3 ]; then
		bad pool_full_retry "only ${#times[@]} refusal(s) in the 4 s the slot was held: $gaps"
	elif ! backoff_ok "${times[@]}" >/dev/null; then
		bad pool_full_retry "retries after 1013 not 1 s doubling: $gaps"
	elif ! ns_exec "$CLI" ping -c 2 -i 0.3 -W 2 198.51.100.1 >/dev/null; then
		bad pool_full_retry "connected, but no ping through the tunnel"
	else
		ok pool_full_retry "${#times[@]} refusals, then $(grep -o 'connected to.*' "$LIB_TMP/full.log" | head -n 1); gaps $gaps"
	fi
	stop_client TERM

	# Told to give up, it does: --retries 2 against a slot held 15 s.
	bg_in "$CLI" $PY "$HERE/client_test.py" holdorig ws://192.0.2.1:8082/ 15 \
		>"$LIB_TMP/holder2.log" 2>&1
	holder=$BG_PID
	local n0 n out st
	if ! wait_log "$LIB_TMP/holder2.log" '^held' 10 "$holder"; then
		bad pool_full_gives_up "the holder got no slot: $(cat "$LIB_TMP/holder2.log")"
		return
	fi
	n0=$(grep -c 'refused .*: no free slot' "$LIB_TMP/gwfull.log")
	out=$(ns_exec "$CLI" timeout 20 "$VPNGW" connect --retries 2 ws://192.0.2.1:8082/ 2>&1)
	st=$?
	n=$(($(grep -c 'refused .*: no free slot' "$LIB_TMP/gwfull.log") - n0))
	if [ "$st" = 1 ] && [ "$n" -ge 2 ] && [ "$n" -le 3 ] &&
		echo "$out" | tail -n 1 | grep -qE 'no free slot|1013' && [ -z "$(leftovers)" ]; then
		ok pool_full_gives_up "$n attempts: $(echo "$out" | tail -n 1)"
	else
		bad pool_full_gives_up "status $st after $n attempt(s): $(echo "$out" | tr '\n' ' ')"
	fi
	kill "$holder" 2>/dev/null
}

# A gateway without lingering (--linger 0): after a cut the session is gone,
# so the client gets a new session, reconfigures its interface if the
# address changed (a new device, routes added again) and carries on.
t_new_session() {
	local line a
	no_client
	if ! start_gw gwnl --listen 192.0.2.1:8083 --linger 0 --tun-prefix vgl \
		--subnet 10.0.130.0/24; then
		bad new_session "the --linger 0 gateway did not start"
		return
	fi
	if ! CLIENT_URL=ws://192.0.2.1:8083/ start_client newsess --default-route; then
		bad new_session "no 'connected' line: $(tail -n 2 "$LIB_TMP/newsess.log" | tr '\n' ' ')"
		return
	fi
	cut_ss 8083
	if wait_log "$LIB_TMP/newsess.log" 'reconnected to.*new session' 10; then
		line=$(grep -o 'reconnected to.*' "$LIB_TMP/newsess.log" | tail -n 1)
		a=$(echo "$line" | grep -o 'address [0-9./]*' | cut -d' ' -f2)
		if [ "$(cli_addr)" = "$a" ] && ns_exec "$CLI" ping -c 2 -i 0.3 -W 2 203.0.113.7 >/dev/null &&
			ip -n "$CLI" route show | grep -q "^0.0.0.0/1 dev $TUN"; then
			ok new_session "$line; interface has $a only, default route back, ping ok"
		else
			bad new_session "$line; interface '$(cli_addr)'; routes $(ip -n "$CLI" route show | tr '\n' ';')"
		fi
	else
		bad new_session "no 'new session' line: $(tail -n 2 "$LIB_TMP/newsess.log" | tr '\n' ' ')"
	fi
	if stop_client TERM && [ "$EXIT_STATUS" = 0 ] && [ -z "$(leftovers)" ]; then
		ok new_session_cleanup
	else
		bad new_session_cleanup "status ${EXIT_STATUS:-?}, left: $(leftovers | tr '\n' ' ')"
	fi
}

t_gateway_gone() {
	no_client
	if ! start_client gone --default-route --retries 2 --keepalive 1; then
		bad gateway_gone "no 'connected' line"
		return
	fi
	kill -TERM "$GW_PID"
	if wait_exit "$CLIENT_PID" 20 && [ "$EXIT_STATUS" = 1 ] && [ -z "$(leftovers)" ] &&
		grep -q 'giving up' "$LIB_TMP/gone.log"; then
		ok gateway_gone "exit 1: $(grep -o 'giving up.*' "$LIB_TMP/gone.log"); nothing left"
	else
		bad gateway_gone "status ${EXIT_STATUS:-running}, left: $(leftovers | tr '\n' ' '); $(tail -n 2 "$LIB_TMP/gone.log" | tr '\n' ' ')"
	fi
}

# ---- Main ----
TESTS=(connect ping curl download iperf stats resume resume_link wrong_token
	original_protocol keepalive roaming path_mtu sigterm_busy sigterm_cleanup default_route
	errors original_gateway failover tls pool_full new_session gateway_gone)
select_tests "$@"
if ! setup_topology || ! start_servers || ! start_fake; then
	bad topology "could not build the namespaces or start the servers"
	finish
fi
if ! start_gw gw --listen 192.0.2.1:8080 --keepalive 2; then
	bad gateway "vpngw serve did not start: $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	finish
fi
GW_PID=$LAST_GW_PID

for t in "${TESTS[@]}"; do
	"t_$t"
done
finish
