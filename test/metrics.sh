#!/bin/bash
# SPDX-License-Identifier: MIT
# test/metrics.sh: the --metrics listener end to end in network namespaces,
# as root:
#
#   ns inet: p0 198.51.100.1/24      udp echo :7
#      |
#   p0 ==veth== eth0 198.51.100.2/24  ns gw: vpngw serve 127.0.0.1:8080
#                                     --metrics 127.0.0.1:9101 --pool 2,
#                                     default via .1; the test client
#                                     metrics_test.py and curl
#   ns busy: 127.0.0.1:9101 held by another process; vpngw serve there
#            must refuse to start, in one line, and leave nothing set up
#   ns tls:  vpngw serve 127.0.0.1:8443 with a self-signed certificate,
#            --metrics 127.0.0.1:9102 (egress: one end d0 203.0.113.2/24
#            of a veth pair);
#            a wss:// client, plain HTTP and a bad record are counted
#
# metrics_test.py (python websockets + scapy, curl, promtool) checks the
# scrapes; this script checks the start that must fail. Ends with "N
# passed, N failed"; lib.sh removes every namespace and process it made,
# even on failure or ^C.
#
# Usage: test/metrics.sh [TEST...]  (names as in metrics_test.py --list, or
# metrics_port_in_use, or tls_handshakes_by_result). KEEP_TMP=1 keeps logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

WANT=("$@")
PYTESTS=()
for t in "$@"; do
	case $t in metrics_port_in_use | tls_*) ;; *) PYTESTS+=("$t") ;; esac
done

setup_topology() {
	ns_add INET inet && ns_add GW gw && ns_add BUSY busy && ns_add TLS tls || return 1
	ip -n "$TLS" link add d0 type veth peer name d1 && ip -n "$TLS" link set d0 up &&
		ip -n "$TLS" addr add 203.0.113.2/24 dev d0 &&
		ip -n "$TLS" route add default via 203.0.113.1 || return 1
	veth_add "$INET" p0 "$GW" eth0 || return 1
	ip -n "$INET" addr add 198.51.100.1/24 dev p0 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via 198.51.100.1 || return 1
	ip -n "$INET" route add 10.0.100.0/23 via 198.51.100.2 || return 1
	bg_in "$INET" "$PY" "$HERE/servers/udp_echo.py" --port 7 >"$LIB_TMP/echo.log" 2>&1
	wait_port "$INET" 198.51.100.1 7 udp
}

if ! setup_topology; then
	bad topology "could not build the namespaces"
	finish
fi
step topology

# ---- The scrapes, with a client in the tunnel ----
if [ "${#WANT[@]}" = 0 ] || [ "${#PYTESTS[@]}" -gt 0 ]; then
	bg_in "$GW" "$VPNGW" serve --pool 2 --allow 198.51.100.0/24 \
		--metrics 127.0.0.1:9101 -v >"$LIB_TMP/gw.log" 2>&1
	GW_PID=$BG_PID
	if wait_log "$LIB_TMP/gw.log" 'vpngw: listening on' 10 "$GW_PID" &&
		wait_port "$GW" 127.0.0.1 9101; then
		step start_gw
		bg_in "$GW" env VPNGW_URL=ws://127.0.0.1:8080/ VPNGW_PID="$GW_PID" \
			VPNGW_METRICS=http://127.0.0.1:9101 VPNGW_RESULTS="$LIB_TMP/results" \
			"$PY" -u "$HERE/metrics_test.py" "${PYTESTS[@]}"
		wait "$BG_PID"
		py_results "$LIB_TMP/results" metrics_test.py
		# healthz_503_while_stopping sent SIGTERM (when it ran): the
		# gateway ends with 0, not by a crash during the tests.
		exits_zero gateway_exit "$GW_PID" TERM 5 step
	else
		bad start_gw "no 'listening on': $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	fi
fi

# ---- --metrics on a port in use: one line, exit 1, nothing left ----
if want metrics_port_in_use; then
	bg_in "$BUSY" "$PY" -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 9101)); s.listen(1); time.sleep(60)'
	HOLD_PID=$BG_PID
	wait_port "$BUSY" 127.0.0.1 9101
	ns_exec "$BUSY" timeout 10 "$VPNGW" serve --pool 1 --metrics 127.0.0.1:9101 \
		>"$LIB_TMP/busy.out" 2>"$LIB_TMP/busy.err"
	rc=$?
	lines=$(wc -l <"$LIB_TMP/busy.err")
	links=$(ip -n "$BUSY" -o link show | grep -c vpngw)
	tbl=$(ns_exec "$BUSY" nft list tables 2>/dev/null | grep -cw vpngw)
	if [ "$rc" = 1 ] && [ "$lines" = 1 ] && grep -q -- '--metrics' "$LIB_TMP/busy.err" &&
		grep -qi 'in use' "$LIB_TMP/busy.err" && [ "$links" = 0 ] && [ "$tbl" = 0 ]; then
		ok metrics_port_in_use "$(cat "$LIB_TMP/busy.err")"
	else
		bad metrics_port_in_use "exit $rc, $lines stderr lines ($(tr '\n' '|' <"$LIB_TMP/busy.err")), $links TUNs, $tbl tables left"
	fi
	kill "$HOLD_PID" 2>/dev/null
fi

# ---- TLS handshakes by result ----
if want tls_handshakes_by_result; then
	if ! "$VPNGW" --version | grep -q 'no TLS'; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" -days 2 \
			-subj /CN=localhost >/dev/null 2>&1 && chmod 644 "$LIB_TMP/key.pem"
		bg_in "$TLS" "$VPNGW" serve --pool 1 --listen 127.0.0.1:8443 \
			--tls-cert "$LIB_TMP/cert.pem" --tls-key "$LIB_TMP/key.pem" \
			--metrics 127.0.0.1:9102 -v >"$LIB_TMP/gw-tls.log" 2>&1
		TLS_PID=$BG_PID
		if wait_log "$LIB_TMP/gw-tls.log" 'vpngw: listening on' 10 "$TLS_PID"; then
			bg_in "$TLS" env VPNGW_TLS_URL=wss://127.0.0.1:8443/ \
				VPNGW_TLS_METRICS=http://127.0.0.1:9102 \
				VPNGW_RESULTS="$LIB_TMP/results-tls" \
				"$PY" -u "$HERE/metrics_test.py"
			wait "$BG_PID"
			py_results "$LIB_TMP/results-tls" metrics_test.py "the TLS results"
			kill -TERM "$TLS_PID" 2>/dev/null
			wait_exit "$TLS_PID" 5 || bad gateway_exit "TLS gateway still running after SIGTERM"
		else
			bad start_gw_tls "no 'listening on': $(tail -n 3 "$LIB_TMP/gw-tls.log" | tr '\n' ' ')"
		fi
	else
		skip tls_handshakes_by_result "built without TLS"
	fi
fi

finish
