#!/bin/bash
# SPDX-License-Identifier: MIT
# test/auth.sh: end-to-end tests of access tokens (serve --token-file,
# connect --token and --token-file), as root, in network namespaces. An
# independent client (test/auth_test.py: python websockets + scapy) checks
# the refusals, both ways of presenting a token, resumption and the SIGHUP
# reloads; `vpngw connect` is checked against the same gateway, also
# across a reload that removes its token; then serve's start-up errors,
# the open gateway's warning, and that no log holds a token. Ends with one
# line "N passed, N failed" and exits non-zero on any failure. lib.sh
# removes every namespace and process it made, even on failure or ^C.
#
#   ns cli: eth0 192.0.2.2/24
#      |     runs: auth_test.py, vpngw connect ws://192.0.2.1:8080/
#      |
#   ns gw: eth1 192.0.2.1/24, eth0 198.51.100.2/24, default via .1
#      |     runs: vpngw serve --listen 192.0.2.1:8080 --token-file FILE
#      |     (pool vpngw0-9, set up by serve itself, then running as nobody)
#      |
#   ns inet: eth0 198.51.100.1/24, answers pings
#
#   ns err: eth0 203.0.113.2/24 (a veth to itself), default via .1: serve's
#           start-up errors, and the open gateway's warning
#
# Usage: test/auth.sh
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

URL=ws://192.0.2.1:8080/
TOKENS=$LIB_TMP/tokens          # the gateway's --token-file
USED=$LIB_TMP/tokens-used       # every token any test sent
# The tokens at start: one as an operator makes it, one that a query must
# escape (and that a shell must quote).
TOKEN_A=$(head -c 24 /dev/urandom | base64)
TOKEN_Q="q+/=%~!?&#\$'\"$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n%s\n' "$TOKEN_A" "$TOKEN_Q" >"$USED"

setup_topology() {
	ns_add CLI cli && ns_add GW gw && ns_add INET inet && ns_add ERR err || return 1
	veth_add "$CLI" eth0 "$GW" eth1 || return 1
	veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$INET" addr add 198.51.100.1/24 dev eth0 || return 1
	# The err namespace's default route leads nowhere; serve needs one.
	veth_add "$ERR" eth0 "$ERR" eth1 &&
		ip -n "$ERR" addr add 203.0.113.2/24 dev eth0 &&
		ip -n "$ERR" route add default via 203.0.113.1
}

# The gateway runs as nobody after start-up: for a reload, the file must
# be readable by nobody (and by nobody else).
write_token_file() {
	chmod 711 "$LIB_TMP" &&
		printf '# vpngw tokens\n\n  %s  \r\n%s\n' "$TOKEN_A" "$TOKEN_Q" >"$TOKENS" &&
		chown nobody "$TOKENS" && chmod 600 "$TOKENS"
}

GW_PID=''
start_gw() {
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/gw.state" \
		"$VPNGW" serve --listen 192.0.2.1:8080 --allow 198.51.100.0/24 --pool 10 \
		--token-file "$TOKENS" -v >"$LIB_TMP/gw.log" 2>&1
	GW_PID=$BG_PID
	wait_log "$LIB_TMP/gw.log" 'vpngw: listening on' 10 "$GW_PID"
}

if ! setup_topology || ! write_token_file; then
	bad topology "could not build the namespaces"
	finish
fi
if ! start_gw; then
	bad start_gw "no 'listening on' within 10 s: $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	finish
fi
step start_gw "$(grep -o 'token file.*' "$LIB_TMP/gw.log" | head -n 1)"

# ---- The independent client ----
ns_exec "$CLI" env VPNGW_URL="$URL" VPNGW_PID="$GW_PID" VPNGW_LOG="$LIB_TMP/gw.log" \
	VPNGW_TOKEN_FILE="$TOKENS" VPNGW_TOKEN_A="$TOKEN_A" VPNGW_TOKEN_Q="$TOKEN_Q" \
	VPNGW_TOKENS_USED="$USED" VPNGW_RESULTS="$LIB_TMP/results" \
	"$PY" -u "$HERE/auth_test.py" "$@"
py_results "$LIB_TMP/results" auth_test.py

# ---- vpngw connect ----

CLIENT_PID=''
# start_client NAME ARGS...: `vpngw connect $URL ARGS` in the client
# namespace; waits for its "connected" line.
start_client() {
	local name=$1
	shift
	bg_in "$CLI" "$VPNGW" connect "$URL" --route 198.51.100.0/24 "$@" >"$LIB_TMP/$name.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"
}

stop_client() {
	kill -TERM "$CLIENT_PID" 2>/dev/null
	wait_exit "$CLIENT_PID" 5
}

# connect_ok NAME ARGS...: connects with ARGS, pings through the tunnel.
connect_ok() {
	local name=$1 out
	shift
	if ! start_client "$name" "$@"; then
		bad "$name" "no 'connected' line: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		stop_client
		return
	fi
	if ! out=$(ns_exec "$CLI" ping -c 2 -i 0.2 -W 2 198.51.100.1 2>&1); then
		bad "$name" "ping through the tunnel: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
	elif tr '\0' ' ' <"/proc/$CLIENT_PID/cmdline" | grep -qF -- "$TOKEN_A" &&
		[ "$name" = connect_token_file ]; then
		bad "$name" "the token is in the client's command line"
	else
		ok "$name" "$(grep -o 'connected to.*' "$LIB_TMP/$name.log" | head -n 1)"
	fi
	stop_client
}

printf '# mine\n\n   %s   \r\nignored-second-token\n' "$TOKEN_A" >"$LIB_TMP/client-token"
chmod 600 "$LIB_TMP/client-token"
connect_ok connect_token_file --token-file "$LIB_TMP/client-token"
connect_ok connect_token --token "$TOKEN_A"

# A refused token: fatal at once, one clear line, not retried.
WRONG="wrong-$(head -c 12 /dev/urandom | base64)"
echo "$WRONG" >>"$USED"
before=$(grep -c 'HTTP 401' "$LIB_TMP/gw.log")
out=$(ns_exec "$CLI" timeout 20 "$VPNGW" connect "$URL" --token "$WRONG" 2>&1)
st=$?
after=$(grep -c 'HTTP 401' "$LIB_TMP/gw.log")
if [ "$st" = 1 ] && echo "$out" | grep -q 'authentication failed (HTTP 401)' &&
	[ $((after - before)) = 1 ] && ! ip -n "$CLI" link show vpngw-c0 >/dev/null 2>&1; then
	ok connect_401_fatal "$(echo "$out" | tail -n 1)"
else
	bad connect_401_fatal "status $st, $((after - before)) refusals, output: $(echo "$out" | tr '\n' ' ')"
fi

# reload TOKEN...: the gateway's file holds these tokens, then SIGHUP, and
# the gateway's line about it.
reload() {
	local n
	n=$(grep -c 'reloaded' "$LIB_TMP/gw.log")
	printf '%s\n' "$@" >"$TOKENS"
	kill -HUP "$GW_PID"
	for _ in $(seq 30); do
		[ "$(grep -c 'reloaded' "$LIB_TMP/gw.log")" -gt "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

# A reload keeps a connected client; a reconnection after its token was
# removed gets 401, which ends the client (with the tunnel's routes).
TOKEN_B="b-$(head -c 18 /dev/urandom | base64)"
echo "$TOKEN_B" >>"$USED"
printf '%s\n' "$TOKEN_B" >"$LIB_TMP/client-token-b"
if ! reload "$TOKEN_A" "$TOKEN_Q" "$TOKEN_B" || ! start_client reload_client \
	--token-file "$LIB_TMP/client-token-b" --keepalive 1; then
	bad connect_reload "no 'connected' line: $(tail -n 3 "$LIB_TMP/reload_client.log" | tr '\n' ' ')"
elif ! reload "$TOKEN_A" "$TOKEN_Q" || ! ns_exec "$CLI" ping -c 2 -i 0.2 -W 2 198.51.100.1 >/dev/null; then
	bad connect_reload "the client lost its tunnel with the reload: $(tail -n 3 "$LIB_TMP/reload_client.log" | tr '\n' ' ')"
else
	ok connect_reload "still connected after its token was removed"
	# Cut its TCP connection: it reconnects, and is refused.
	ns_exec "$CLI" ss -K dst 192.0.2.1 dport = 8080 >/dev/null 2>&1
	EXIT_STATUS=running
	if wait_exit "$CLIENT_PID" 10 && [ "$EXIT_STATUS" = 1 ] &&
		grep -q 'authentication failed (HTTP 401)' "$LIB_TMP/reload_client.log" &&
		! ip -n "$CLI" link show vpngw-c0 >/dev/null 2>&1; then
		ok connect_401_after_reload_fatal "$(tail -n 1 "$LIB_TMP/reload_client.log")"
	else
		bad connect_401_after_reload_fatal "status $EXIT_STATUS: $(tail -n 3 "$LIB_TMP/reload_client.log" | tr '\n' ' ')"
	fi
fi
stop_client

# connect's token file errors: one line naming the file, exit 1.
connect_error() {
	local name=$1 re=$2 out st
	shift 2
	out=$(ns_exec "$CLI" timeout 20 "$VPNGW" connect "$URL" "$@" 2>&1)
	st=$?
	if [ "$st" = 1 ] && [ "$(echo "$out" | grep -c .)" = 1 ] && echo "$out" | grep -qE "$re"; then
		ok "$name" "$out"
	else
		bad "$name" "status $st, output: $(echo "$out" | tr '\n' ' ')"
	fi
}
printf '# nothing\n\n' >"$LIB_TMP/empty-token"
printf '\nbad token here\n' >"$LIB_TMP/bad-token"
connect_error connect_token_file_missing "token file $LIB_TMP/nonexistent: No such file" \
	--token-file "$LIB_TMP/nonexistent"
connect_error connect_token_file_empty "token file $LIB_TMP/empty-token: no token" \
	--token-file "$LIB_TMP/empty-token"
connect_error connect_token_file_bad "token file $LIB_TMP/bad-token, line 2: " \
	--token-file "$LIB_TMP/bad-token"
connect_error connect_token_and_file "exclude each other" \
	--token-file "$LIB_TMP/client-token" --token x

if kill -0 "$GW_PID" 2>/dev/null; then
	step gateway_survived
else
	bad gateway_survived "the gateway exited during the tests"
fi

# ---- serve's start-up ----

# serve_error NAME REGEX ARGS...: serve in the err namespace exits 1 with
# one line, and has set up nothing: no device, no table.
serve_error() {
	local name=$1 re=$2 out st left
	shift 2
	out=$(ns_exec "$ERR" env VPNGW_STATE_FILE="$LIB_TMP/err.state" timeout 20 \
		"$VPNGW" serve --listen 127.0.0.1:8080 "$@" 2>&1)
	st=$?
	left=$(ip -n "$ERR" -o link show | grep -c vpngw; ns_exec "$ERR" nft list tables 2>/dev/null)
	if [ "$st" = 1 ] && [ "$(echo "$out" | grep -c .)" = 1 ] && echo "$out" | grep -qE "$re" &&
		[ "$left" = 0 ] && [ ! -e "$LIB_TMP/err.state" ]; then
		ok "$name" "$out"
	else
		bad "$name" "status $st, output: $(echo "$out" | tr '\n' ' '), left: $left"
	fi
}
printf 'good-one\n# fine\nbad one\n' >"$LIB_TMP/bad-line"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'x' >"$LIB_TMP/huge"
serve_error serve_token_file_missing "token file $LIB_TMP/nonexistent: No such file" \
	--token-file "$LIB_TMP/nonexistent"
serve_error serve_token_file_empty "token file $LIB_TMP/empty-token: no token" \
	--token-file "$LIB_TMP/empty-token"
serve_error serve_token_file_bad_line "token file $LIB_TMP/bad-line, line 3: " \
	--token-file "$LIB_TMP/bad-line"
serve_error serve_token_file_huge "token file $LIB_TMP/huge: larger than" \
	--token-file "$LIB_TMP/huge"
serve_error serve_token_file_dir "token file $LIB_TMP: not a regular file" \
	--token-file "$LIB_TMP"
serve_error serve_dry_run_bad_line "token file $LIB_TMP/bad-line, line 3: " \
	--token-file "$LIB_TMP/bad-line" --dry-run
out=$(ns_exec "$ERR" "$VPNGW" serve --dry-run --token-file "$TOKENS" 2>&1)
if echo "$out" | grep -q "token file $TOKENS loads: 2 tokens"; then
	ok serve_dry_run_tokens "$(echo "$out" | grep 'token file')"
else
	bad serve_dry_run_tokens "$(echo "$out" | head -n 3 | tr '\n' ' ')"
fi

# Without --token-file, the start-up says the gateway is open to anyone.
bg_in "$ERR" env VPNGW_STATE_FILE="$LIB_TMP/open.state" "$VPNGW" serve \
	--listen 127.0.0.1:8081 --pool 1 --tun-prefix vgo --subnet 10.0.140.0/24 \
	>"$LIB_TMP/open.log" 2>&1
OPEN_PID=$BG_PID
if wait_log "$LIB_TMP/open.log" 'vpngw: listening on' 10 "$OPEN_PID" &&
	grep -q 'no --token-file: anyone who can reach 127.0.0.1:8081 may connect' "$LIB_TMP/open.log"; then
	ok serve_open_warning "$(grep 'no --token-file' "$LIB_TMP/open.log")"
else
	bad serve_open_warning "$(tail -n 3 "$LIB_TMP/open.log" | tr '\n' ' ')"
fi
kill -TERM "$OPEN_PID" 2>/dev/null
wait_exit "$OPEN_PID" 5

# ---- No log holds a token ----
kill -TERM "$GW_PID" 2>/dev/null
wait_exit "$GW_PID" 5
n_used=$(grep -c . "$USED")
leaked=$(cat "$LIB_TMP"/*.log | grep -F -f "$USED" | head -n 3)
if [ "$n_used" -ge 6 ] && [ -z "$leaked" ] && grep -q 'HTTP 401, bad token' "$LIB_TMP/gw.log"; then
	ok log_holds_no_token "$n_used tokens sent, none in $(cat "$LIB_TMP"/*.log | wc -l) log lines"
else
	bad log_holds_no_token "$n_used tokens; in the logs: $leaked"
fi

finish
