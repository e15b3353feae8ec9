#!/bin/bash
# SPDX-License-Identifier: MIT
# test/offload.sh: end-to-end tests of super-packets, as root, in network
# namespaces: TUNs opened with their offloads (TCP TSO, UDP USO) and the
# vpngw-gso WebSocket extension that carries one super-packet per message.
# An independent client (test/offload_test.py: python websockets + scapy)
# checks the negotiation, super-packets sent into the gateway (they leave
# it as complete segments), the bad ones (each one malformed drop, the
# connection kept), a UDP GSO reply to a client that took the extension
# (one super-packet message) and to an original-protocol client (one
# complete packet per message), that client's TCP (a TSO super-packet
# cut); then `vpngw connect` moves 8 MB each
# way (sha256 checked) with offloads on both ends, against a --no-offload
# gateway, and with connect --no-offload; and (connect_max_message) a
# gateway with --max-message 1500, which must not take the extension: the
# client's super-packet messages are longer; and (connect_tls) the same
# 8 MB each way over wss://. Ends with one line
# "N passed, N failed" and exits non-zero on any failure. lib.sh removes
# every namespace and process it made, even on failure or ^C.
#
#   ns cli: br0 192.0.2.2/24, ports c1 and c2
#      |     runs: offload_test.py, vpngw connect ws://192.0.2.1:8080/ and
#      |           ws://192.0.2.3:8080/
#      +-- c1 -- eth1 192.0.2.1/24  ns gw: vpngw serve --listen 192.0.2.1:8080
#      |            (offloads on: vpngw0-7, 10.0.100.0/24 and on)
#      |         eth0 198.51.100.2/24, default via .1 -- i1 (inet's br0)
#      +-- c2 -- eth1 192.0.2.3/24  ns gwn: vpngw serve --listen 192.0.2.3:8080
#                   --no-offload (vpngw0-1, 10.0.100.0/24 and on); at the
#                   end replaced by one with offloads and --max-message 1500,
#                   then by one with TLS on :8443 (a self-signed certificate)
#               eth0 198.51.100.3/24, default via .1 -- i2 (inet's br0)
#
#   ns inet: br0 198.51.100.1/24, ports i1 and i2; answers pings; HTTP on
#            :80 (GET an 8 MB random file, PUT answers the body's sha256),
#            UDP :9000 answers with one UDP GSO send (offload_test.py
#            gso-echo), TCP :7100 sends 10000 bytes and closes
#
# Both gateways' eth0 have TX checksum offload off: what they send out is
# segmented and summed in software, so the Internet host sees each
# segment's real checksums.
#
# Usage: test/offload.sh [TEST...]   (python tests by name go to
# offload_test.py; start_lines, connect_both_ways, connect_max_message and
# connect_tls are the shell's)
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs,
# VERBOSE=1 has offload_test.py say more.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

INET_ADDR=198.51.100.1
EGRESS=198.51.100.2
PY_TESTS=(negotiated super_in_udp super_in_tcp super_edges super_bad super_out orig_cut orig_cut_tcp)
TESTS=(start_lines "${PY_TESTS[@]}" connect_both_ways connect_max_message connect_tls)
select_tests "$@"
WANT=("$@")

setup_topology() {
	ns_add CLI cli && ns_add GW gw && ns_add GWN gwn && ns_add INET inet || return 1
	local ns
	for ns in "$CLI" "$INET"; do
		ip -n "$ns" link add br0 type bridge && ip -n "$ns" link set br0 up || return 1
	done
	veth_add "$CLI" c1 "$GW" eth1 && veth_add "$CLI" c2 "$GWN" eth1 &&
		veth_add "$INET" i1 "$GW" eth0 && veth_add "$INET" i2 "$GWN" eth0 || return 1
	for ns in "$CLI:c1" "$CLI:c2" "$INET:i1" "$INET:i2"; do
		ip -n "${ns%:*}" link set "${ns#*:}" master br0 || return 1
	done
	ip -n "$CLI" addr add 192.0.2.2/24 dev br0 &&
		ip -n "$INET" addr add "$INET_ADDR/24" dev br0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add "$EGRESS/24" dev eth0 &&
		ip -n "$GW" route add default via "$INET_ADDR" &&
		ip -n "$GWN" addr add 192.0.2.3/24 dev eth1 &&
		ip -n "$GWN" addr add 198.51.100.3/24 dev eth0 &&
		ip -n "$GWN" route add default via "$INET_ADDR" || return 1
	ns_exec "$GW" "$PY" "$HERE/offload_test.py" txoff eth0 &&
		ns_exec "$GWN" "$PY" "$HERE/offload_test.py" txoff eth0
}

start_servers() {
	mkdir -p "$LIB_TMP/www" && head -c 8M /dev/urandom >"$LIB_TMP/www/8m" || return 1
	chmod 755 "$LIB_TMP" "$LIB_TMP/www"
	bg_in "$INET" "$PY" "$HERE/offload_test.py" serve "$LIB_TMP/www" 80 >"$LIB_TMP/http.log" 2>&1
	bg_in "$INET" "$PY" "$HERE/offload_test.py" gso-echo 9000 >"$LIB_TMP/gso-echo.log" 2>&1
	bg_in "$INET" "$PY" "$HERE/offload_test.py" tcp-send 7100 10000 >"$LIB_TMP/tcp-send.log" 2>&1
	wait_port "$INET" "$INET_ADDR" 80 && wait_port "$INET" "$INET_ADDR" 9000 udp &&
		wait_port "$INET" "$INET_ADDR" 7100
}

# start_gw VAR NS NAME ARGS...: `vpngw serve ARGS` in NS, its own state
# file and log $LIB_TMP/NAME.log; VAR gets its PID.
start_gw() {
	local var=$1 ns=$2 name=$3
	shift 3
	bg_in "$ns" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" "$VPNGW" serve \
		--allow 198.51.100.0/24 --keepalive 2 --linger 0 "$@" >"$LIB_TMP/$name.log" 2>&1
	printf -v "$var" '%s' "$BG_PID"
	wait_log "$LIB_TMP/$name.log" 'vpngw: listening on' 10 "$BG_PID" && return 0
	bad "start_$name" "no 'listening on': $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
	return 1
}

if ! setup_topology || ! start_servers; then
	bad topology "could not build the namespaces and servers"
	finish
fi
GWA_PID='' GWN_PID='' GWM_PID=''
start_gw GWA_PID "$GW" gw-a --listen 192.0.2.1:8080 --pool 8 -v || finish
start_gw GWN_PID "$GWN" gw-n --listen 192.0.2.3:8080 --pool 2 --no-offload -v || finish

# stats_line LOG PID: SIGUSR1 to PID, then its next stats line in LOG.
stats_line() {
	local log=$1 pid=$2 n
	n=$(grep -c 'stats' "$log")
	kill -USR1 "$pid" 2>/dev/null || return 1
	for _ in $(seq 30); do
		if [ "$(grep -c 'stats' "$log")" -gt "$n" ]; then
			grep 'stats' "$log" | tail -n 1
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# counter LINE NAME: NAME's value in a stats line (0 when absent).
counter() { echo "$1" | grep -oE "(^| )$2=[0-9]+" | cut -d= -f2 | grep . || echo 0; }

if want start_lines; then
	la=$(grep -o 'offloads .*' "$LIB_TMP/gw-a.log" | head -n 1)
	ln=$(grep -o 'offloads .*' "$LIB_TMP/gw-n.log" | head -n 1)
	if [ "$la" = "offloads TCP and UDP super-packets" ] && [ "$ln" = "offloads off (--no-offload)" ]; then
		ok start_lines "'$la', '$ln'"
	else
		bad start_lines "with offloads: '$la'; --no-offload: '$ln'"
	fi
fi

# ---- The independent client ----
py=()
for t in "${TESTS[@]}"; do
	printf '%s\n' "${PY_TESTS[@]}" | grep -qx -- "$t" && py+=("$t")
done
if [ "${#py[@]}" -gt 0 ]; then
	ns_exec "$CLI" env VPNGW_URL=ws://192.0.2.1:8080/ VPNGW_NOOFF_URL=ws://192.0.2.3:8080/ \
		VPNGW_PID="$GWA_PID" VPNGW_LOG="$LIB_TMP/gw-a.log" VPNGW_INET_NS="$INET" \
		VPNGW_EGRESS="$EGRESS" VPNGW_RESULTS="$LIB_TMP/results" \
		"$PY" -u "$HERE/offload_test.py" ${VERBOSE:+-v} "${py[@]}"
	py_results "$LIB_TMP/results" offload_test.py
fi

# ---- vpngw connect, both ways ----

CLIENT_PID=''
# transfer NAME GW_LOG GW_PID URL ARGS...: `vpngw connect URL ARGS`; 8 MB down and 8 MB up, each sha256 checked; no
# malformed drop on either end (the gateway's counted from before the
# transfer). OUT says why it failed, or what it moved.
OUT=''
transfer() {
	bg_in "$CLI" "$VPNGW" connect "$4" --route 198.51.100.0/24 "${@:5}" \
		>"$LIB_TMP/$1.log" 2>&1
	CLIENT_PID=$BG_PID
	OUT=$(transfer_ "$@")
}
transfer_() {
	local name=$1 log=$2 pid=$3 want got up line m0
	shift 4
	if ! line=$(stats_line "$log" "$pid"); then
		echo "no stats line from the gateway"
		return 1
	fi
	m0=$(counter "$line" drop_malformed)
	if ! wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"; then
		echo "no 'connected' line: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		return 1
	fi
	want=$(sha256sum <"$LIB_TMP/www/8m" | cut -d' ' -f1)
	got=$(ns_exec "$CLI" curl -sS --max-time 20 "http://$INET_ADDR/8m" | sha256sum | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		echo "download: sha256 $got, not $want"
		return 1
	fi
	up=$(ns_exec "$CLI" curl -sS --max-time 20 -T "$LIB_TMP/www/8m" "http://$INET_ADDR/up")
	if [ "$up" != "$want" ]; then
		echo "upload: the server got sha256 '$up', not $want"
		return 1
	fi
	no_malformed gateway "$log" "$pid" "$m0" || return 1
	no_malformed client "$LIB_TMP/$name.log" "$CLIENT_PID" 0 || return 1
	echo "$(counter "$LAST_LINE" down_packets) packets down, $(counter "$LAST_LINE" up_packets) up"
}

# no_malformed WHO LOG PID BEFORE: WHO's stats line (LAST_LINE) counts no
# malformed drop since BEFORE.
LAST_LINE=''
no_malformed() {
	local m
	if ! LAST_LINE=$(stats_line "$2" "$3"); then
		echo "no stats line from the $1"
		return 1
	fi
	m=$(counter "$LAST_LINE" drop_malformed)
	if [ "$m" != "$4" ]; then
		echo "the $1 counted $((m - $4)) malformed drops: $LAST_LINE"
		return 1
	fi
}

stop_client() {
	[ -n "$CLIENT_PID" ] || return 0
	kill -TERM "$CLIENT_PID" 2>/dev/null
	wait_exit "$CLIENT_PID" 5
	CLIENT_PID=''
}

if want connect_both_ways; then
	fails=() notes=()
	for c in "offloads:gw-a:$GWA_PID:192.0.2.1:" "gw_no_offload:gw-n:$GWN_PID:192.0.2.3:" \
		"connect_no_offload:gw-a:$GWA_PID:192.0.2.1:--no-offload"; do
		IFS=: read -r name gw pid addr arg <<<"$c"
		# shellcheck disable=SC2086
		if transfer "connect-$name" "$LIB_TMP/$gw.log" "$pid" "ws://$addr:8080/" $arg; then
			notes+=("$name: $OUT")
		else
			fails+=("$name: $OUT")
		fi
		stop_client
	done
	if [ "${#fails[@]}" = 0 ]; then
		ok connect_both_ways "$(IFS=';'; echo "${notes[*]}")"
	else
		bad connect_both_ways "$(IFS=';'; echo "${fails[*]}")"
	fi
fi

# A gateway whose --max-message is below the largest super-packet message
# must not take vpngw-gso: an upload would be cut with 1009.
if want connect_max_message; then
	kill -TERM "$GWN_PID" 2>/dev/null
	wait_exit "$GWN_PID" 5
	if start_gw GWM_PID "$GWN" gw-m --listen 192.0.2.3:8080 --pool 2 --max-message 1500 -v; then
		if transfer connect-max-message "$LIB_TMP/gw-m.log" "$GWM_PID" ws://192.0.2.3:8080/ &&
			! grep -q 'reconnecting\|(1009)' "$LIB_TMP/connect-max-message.log"; then
			ok connect_max_message "$OUT"
		else
			bad connect_max_message "$OUT; $(grep -m 2 'reconnecting\|(1009)' "$LIB_TMP/connect-max-message.log" | tr '\n' ' ')"
		fi
		stop_client
		GWN_PID=$GWM_PID
	else
		GWN_PID=''
	fi
fi

# Over TLS, super-packet messages of up to 64 KiB span several records.
if want connect_tls && "$VPNGW" --version | grep -q 'no TLS'; then
	skip connect_tls "vpngw was built without TLS ($("$VPNGW" --version))"
elif want connect_tls; then
	[ -z "$GWN_PID" ] || { kill -TERM "$GWN_PID" 2>/dev/null; wait_exit "$GWN_PID" 5; }
	GWN_PID=''
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$LIB_TMP/gw.key" -out "$LIB_TMP/gw.pem" -days 2 -subj "/CN=192.0.2.3" \
		-addext subjectAltName=IP:192.0.2.3 >"$LIB_TMP/openssl.out" 2>&1; then
		bad connect_tls "openssl: $(tail -n 2 "$LIB_TMP/openssl.out" | tr '\n' ' ')"
	elif start_gw GWN_PID "$GWN" gw-t --listen 192.0.2.3:8443 --pool 2 \
			--tls-cert "$LIB_TMP/gw.pem" --tls-key "$LIB_TMP/gw.key" -v; then
		if transfer connect-tls "$LIB_TMP/gw-t.log" "$GWN_PID" wss://192.0.2.3:8443/ \
			--ca "$LIB_TMP/gw.pem" && ! grep -q 'reconnecting' "$LIB_TMP/connect-tls.log"; then
			ok connect_tls "$OUT"
		else
			bad connect_tls "$OUT; $(grep -m 2 'reconnecting' "$LIB_TMP/connect-tls.log" | tr '\n' ' ')"
		fi
		stop_client
	fi
fi

for p in "$GWA_PID" "$GWN_PID"; do
	[ -n "$p" ] || continue
	kill -0 "$p" 2>/dev/null || bad gateways_alive "gateway $p exited during the tests"
done

finish
