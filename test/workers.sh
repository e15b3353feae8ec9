#!/bin/bash
# SPDX-License-Identifier: MIT
# test/workers.sh: `vpngw serve --workers N`, as root, in network
# namespaces. A gateway with --workers 2 and a --token-file:
# test/workers_test.py (python websockets, scapy) puts four vpngw.v1
# clients on it, two on each worker, pings through each, cuts and resumes
# each 20 times (same address, same slot, whichever worker takes the
# reconnection: at least one is handed over), changes the token file and
# sends SIGHUP (every worker reloads), then SIGTERM (every client gets
# 1001), and the gateway exits with 0. The same gateway again: `vpngw
# connect` pings through it. Then `--workers auto` starts and its start
# line says how many workers (the CPUs it may use), and --workers 0, 65
# and x are refused with one line and a non-zero exit. Ends with one line "N passed, N failed" and
# exits non-zero on any failure. lib.sh removes every namespace and
# process it made, even on failure or ^C.
#
#   ns cli: eth0 192.0.2.2/24      workers_test.py, vpngw connect
#      |
#   ns gw: eth1 192.0.2.1/24       vpngw serve --listen 192.0.2.1:8080
#      |   eth0 198.51.100.2/24    --workers 2 --pool 8 (vpngw0-7,
#      |   default via .1          10.0.100-107.0/24) --token-file;
#      |                           then --workers auto on :8081 (vwa0-1)
#   ns inet: eth0 198.51.100.1/24  answers pings
#
# Usage: test/workers.sh
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

INET_ADDR=198.51.100.1
URL=ws://192.0.2.1:8080/
TOKENS=$LIB_TMP/tokens
TOKEN_A=a-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN_B=b-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# The gateway runs as nobody after start-up: for a reload, the token file
# must be readable by nobody.
write_tokens() {
	chmod 711 "$LIB_TMP" && printf '%s\n' "$TOKEN_A" >"$TOKENS" &&
		chown nobody "$TOKENS" && chmod 600 "$TOKENS"
}

# start_gw VAR NAME ARGS...: `vpngw serve ARGS` in the gateway namespace,
# its log NAME.log; VAR gets its PID.
start_gw() {
	local var=$1 name=$2
	shift 2
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" "$VPNGW" serve \
		--allow 198.51.100.0/24 "$@" >"$LIB_TMP/$name.log" 2>&1
	printf -v "$var" '%s' "$BG_PID"
	wait_log "$LIB_TMP/$name.log" 'vpngw: listening on' 10 "$BG_PID" && return 0
	bad "start_$name" "no 'listening on' within 10 s: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
	return 1
}

# t_connect: our own client through the two workers, one ping.
t_connect() {
	local pid out
	bg_in "$CLI" "$VPNGW" connect "$URL" --token "$TOKEN_A" --route 198.51.100.0/24 \
		>"$LIB_TMP/connect.log" 2>&1
	pid=$BG_PID
	if ! wait_log "$LIB_TMP/connect.log" 'connected to' 10 "$pid"; then
		bad vpngw_connect "no 'connected' line: $(tail -n 3 "$LIB_TMP/connect.log" | tr '\n' ' ')"
	elif out=$(ns_exec "$CLI" ping -c 3 -i 0.2 -W 2 "$INET_ADDR" 2>&1); then
		ok vpngw_connect "$(echo "$out" | grep -E 'packets' | tr '\n' ' ')"
	else
		bad vpngw_connect "ping through the tunnel: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait_exit "$pid" 5
}

# t_clients: workers_test.py against the gateway, then its exit status.
t_clients() {
	ns_exec "$CLI" env VPNGW_URL="$URL" VPNGW_INET="$INET_ADDR" VPNGW_PID="$GW_PID" \
		VPNGW_LOG="$LIB_TMP/gw.log" VPNGW_WORKERS=2 VPNGW_TOKENS="$TOKENS" \
		VPNGW_TOKEN_A="$TOKEN_A" VPNGW_TOKEN_B="$TOKEN_B" \
		VPNGW_RESULTS="$LIB_TMP/results" "$PY" -u "$HERE/workers_test.py" |
		sed '/^[0-9]* passed, /d'
	py_results "$LIB_TMP/results" workers_test.py
	exits_zero sigterm_exit "$GW_PID" TERM 10
}

# t_auto: --workers auto runs as many workers as the CPUs it may use, and
# its start line says so.
t_auto() {
	local pid line want
	want=$(ns_exec "$GW" nproc)
	start_gw pid gw-auto --listen 192.0.2.1:8081 --workers auto --pool 2 \
		--tun-prefix vwa --subnet 10.0.200.0/24 || return
	line=$(grep -m 1 'vpngw: listening on' "$LIB_TMP/gw-auto.log")
	if echo "$line" | grep -qE "(^|[ ,])$want workers?([ ,]|$)"; then
		ok workers_auto "$want CPUs: $line"
	else
		bad workers_auto "want $want workers in the start line: $line"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait_exit "$pid" 10
}

# t_bad VALUE: serve --workers VALUE exits non-zero with one line.
t_bad() {
	local out rc
	out=$(ns_exec "$GW" timeout 10 env VPNGW_STATE_FILE="$LIB_TMP/bad.state" "$VPNGW" \
		serve --listen 192.0.2.1:8082 --pool 1 --tun-prefix vwb --subnet 10.0.210.0/24 \
		--workers "$1" 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$(echo "$out" | wc -l)" = 1 ] &&
		echo "$out" | grep -q -- '--workers'; then
		ok "workers_bad_$1" "exit $rc: $out"
	else
		bad "workers_bad_$1" "exit $rc, $(echo "$out" | wc -l) lines: $(echo "$out" | head -n 3 | tr '\n' ' ')"
	fi
}

if ! inet_topology "$INET_ADDR" || ! write_tokens || ! ns_exec "$GW" ping -c 1 -W 2 "$INET_ADDR" >/dev/null; then
	bad topology "could not build the namespaces"
	finish
fi

# The python clients first, on a fresh pool: slots another client has
# just left would tilt the spread over the workers.
GW_PID=''
GW_ARGS=(--listen 192.0.2.1:8080 --workers 2 --pool 8 --token-file "$TOKENS"
	--handshake-rate 1000 -v)
start_gw GW_PID gw "${GW_ARGS[@]}" && t_clients
write_tokens && start_gw GW_PID gw-connect "${GW_ARGS[@]}" && t_connect
kill -TERM "$GW_PID" 2>/dev/null && wait_exit "$GW_PID" 10
t_auto
for v in 0 65 x; do t_bad "$v"; done

finish
