#!/bin/bash
# SPDX-License-Identifier: MIT
# test/dns.sh: the client applies the DNS servers the gateway advertises
# (serve --dns) and puts the host's back exactly, as root, in network
# namespaces. The client host's /etc/resolv.conf is its own: `ip netns
# exec` bind-mounts /etc/netns/<ns>/resolv.conf over it, which the client
# must rewrite in place (a rename onto a mount point fails). Ends with one
# line "N passed, N failed" and exits non-zero on any failure. lib.sh
# removes every namespace and process it made, even on failure or ^C; this
# script removes /etc/netns/<ns> too. The client's backup of resolv.conf is
# the host's /run/vpngw/resolv.conf.<tun>: the TUN's name is this run's own.
#
#   ns cli: eth0 192.0.2.2/24; /etc/resolv.conf names 203.0.113.99, which
#      |     nothing routes to
#      |     runs: vpngw connect ws://192.0.2.1:8080/ --route 198.51.100.0/24
#      |     (TUN vdns<pid>)
#   ns gw: eth1 192.0.2.1/24, eth0 198.51.100.2/24, default via .1
#      |     runs: vpngw serve --listen 192.0.2.1:8080 --dns 198.51.100.53,
#      |     later one on :8082 --dns 198.51.100.54 and one on :8084
#      |     without --dns
#   ns inet: eth0 198.51.100.1/24, .53, .54
#            runs: a DNS responder on :53 (test/dns_responder.py):
#            vpngw-test.example. A 198.51.100.80, AAAA 2001:db8:100::80,
#            NXDOMAIN for any other name
#
# The client namespace has no default route: only the tunnel reaches the
# resolver.
#
# Usage: test/dns.sh [TEST...]   (default: all, in order)
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

URL=ws://192.0.2.1:8080/
TUN=vdns$$
TUN=${TUN:0:15}
BACKUP=/run/vpngw/resolv.conf.$TUN
NAME=vpngw-test.example
CLI='' GW='' INET='' ETC=''
CLIENT_PID='' GW_PID=''

# The client host's resolv.conf before: comments, a nameserver nothing
# reaches, a search and an options line, and no newline at the end.
ORIG=$'# the client host\'s own resolv.conf\nnameserver 203.0.113.99\nsearch example.net\noptions timeout:1 attempts:1'

lib_rm "$BACKUP" "$BACKUP.ours"   # what a failed test may leave

# ---- Topology and servers ----
setup_topology() {
	ns_add CLI cli && ns_add GW gw && ns_add INET inet || return 1
	veth_add "$CLI" eth0 "$GW" eth1 && veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$INET" addr add 198.51.100.1/24 dev eth0 &&
		ip -n "$INET" addr add 198.51.100.53/24 dev eth0 &&
		ip -n "$INET" addr add 198.51.100.54/24 dev eth0 || return 1
	netns_etc ETC "$CLI" && orig_put
}

# orig_put: the client host's resolv.conf becomes ORIG again.
orig_put() {
	printf '%s' "$ORIG" >"$LIB_TMP/orig" && cp "$LIB_TMP/orig" "$ETC/resolv.conf"
}

start_resolver() {
	bg_in "$INET" $PY "$HERE/dns_responder.py" --a 198.51.100.80 --aaaa 2001:db8:100::80 \
		--ttl 60 198.51.100.53 198.51.100.54 >"$LIB_TMP/resolver.log" 2>&1
	wait_port "$INET" 198.51.100.54 53 udp
}

# start_gw NAME ARGS...: `vpngw serve` in the gateway namespace; sets LAST_GW_PID.
start_gw() {
	local name=$1
	shift
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve --allow 198.51.100.0/24 "$@" >>"$LIB_TMP/$name.log" 2>&1
	LAST_GW_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'listening on' 10 "$BG_PID"
}

# start_client NAME [URL...]: `vpngw connect` in the client namespace
# (URL by default); waits for its "connected" line. Sets CLIENT_PID.
start_client() {
	local name=$1
	shift
	[ $# -gt 0 ] || set -- "$URL"
	bg_in "$CLI" "$VPNGW" connect "$@" --tun "$TUN" --route 198.51.100.0/24 \
		>"$LIB_TMP/$name.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"
}

stop_client() {
	kill "-$1" "$CLIENT_PID" 2>/dev/null
	wait_exit "$CLIENT_PID" 5
}

# no_client: stops a client an earlier test left running (after a failure),
# so that the next one has its TUN name free.
no_client() {
	if [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null; then
		stop_client TERM
	fi
	return 0
}

# resolve: the test name's IPv4 address, as the client host's libc finds it.
resolve() { ns_exec "$CLI" getent ahostsv4 "$NAME" 2>/dev/null | awk 'NR == 1 { print $1 }'; }

# restored NAME LOG: after the client's exit, resolv.conf is ORIG byte for
# byte and the backup is gone.
restored() {
	if [ "${EXIT_STATUS:-x}" = 0 ] && cmp -s "$ETC/resolv.conf" "$LIB_TMP/orig" && [ ! -e "$BACKUP" ] &&
		[ ! -e "$BACKUP.ours" ]; then
		ok "$1" "exit 0, resolv.conf byte-identical ($(stat -c %s "$ETC/resolv.conf") bytes), no backup"
	else
		bad "$1" "exit ${EXIT_STATUS:-none}; resolv.conf: $(od -c "$ETC/resolv.conf" | tail -n 3 | tr '\n' ' '); backup: $(ls "$BACKUP"* 2>&1 | tr '\n' ' '); $(tail -n 2 "$2" | tr '\n' ' ')"
	fi
}

# ---- The tests ----

t_before() {
	local a
	a=$(resolve)
	if [ -z "$a" ]; then
		ok resolve_before "$NAME does not resolve without the tunnel"
	else
		bad resolve_before "$NAME resolves to '$a' without the tunnel"
	fi
}

t_resolve() {
	local a
	no_client
	if ! start_client client; then
		bad resolve "no 'connected' line: $(tail -n 3 "$LIB_TMP/client.log" | tr '\n' ' ')"
		return 1
	fi
	wait_log "$LIB_TMP/client.log" "DNS server" 3 "$CLIENT_PID"
	local want=$'# vpngw: the DNS servers of '"$TUN"$'; restored on exit\nnameserver 198.51.100.53\nsearch example.net\noptions timeout:1 attempts:1'
	if [ "$(cat "$ETC/resolv.conf")" = "$want" ] && [ -s "$BACKUP" ] &&
		[ "$(stat -c %a "$BACKUP")" = 600 ] && cmp -s "$BACKUP" "$LIB_TMP/orig"; then
		ok resolv_conf "nameserver 198.51.100.53, search and options kept; backup 0600, identical"
	else
		bad resolv_conf "$(tr '\n' '|' <"$ETC/resolv.conf"); backup $(ls -l "$BACKUP" 2>&1)"
	fi
	a=$(resolve)
	if [ "$a" = 198.51.100.80 ] && grep -q "vpngw-test" "$LIB_TMP/resolver.log"; then
		ok resolve "$NAME -> $a through the tunnel ($(grep -c query "$LIB_TMP/resolver.log") queries)"
	else
		bad resolve "got '$a'; resolver: $(tail -n 2 "$LIB_TMP/resolver.log" | tr '\n' ' ')"
	fi
}

t_sigterm() {
	if ! { [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null; } &&
		{ ! start_client client || ! wait_log "$LIB_TMP/client.log" "DNS server" 3 "$CLIENT_PID"; }; then
		bad restore_sigterm "the client did not apply the servers"
		return
	fi
	stop_client TERM
	restored restore_sigterm "$LIB_TMP/client.log"
}

# on_signal SIG: the client applies the servers, gets SIG, restores them.
on_signal() {
	local name=restore_sig${1,,}
	no_client
	if ! start_client "$name" || ! wait_log "$LIB_TMP/$name.log" "DNS server" 3 "$CLIENT_PID"; then
		bad "$name" "the client did not apply the servers: $(tail -n 2 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		return
	fi
	stop_client "$1"
	restored "$name" "$LIB_TMP/$name.log"
}

t_sigint() { on_signal INT; }

# A closed terminal (SIGHUP) is an exit too.
t_sighup() { on_signal HUP; }

# SIGKILL leaves the backup; the next start on the TUN restores it first.
t_kill9() {
	no_client
	if ! start_client kill9 || ! wait_log "$LIB_TMP/kill9.log" "DNS server" 3 "$CLIENT_PID"; then
		bad restore_kill9 "the client did not apply the servers"
		return
	fi
	stop_client KILL
	if cmp -s "$ETC/resolv.conf" "$LIB_TMP/orig" || ! cmp -s "$BACKUP" "$LIB_TMP/orig"; then
		bad restore_kill9 "after SIGKILL: resolv.conf is the original or the backup is not"
		return
	fi
	# A new start that cannot connect still restores, first thing.
	bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8099/ --tun "$TUN" --retries 1 \
		>"$LIB_TMP/kill9b.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_exit "$CLIENT_PID" 10
	if [ "$(grep -c 'restored from' "$LIB_TMP/kill9b.log")" = 1 ]; then
		EXIT_STATUS=0
		restored restore_kill9 "$LIB_TMP/kill9b.log"
		sed -i 's/^/    /' "$LIB_TMP/kill9b.log"
		echo "$(grep 'restored from' "$LIB_TMP/kill9b.log")"
	else
		bad restore_kill9 "no one 'restored from' line: $(tr '\n' ' ' <"$LIB_TMP/kill9b.log")"
	fi
	# The same after a kill with a start that connects, then exits.
	if ! start_client kill9c || ! wait_log "$LIB_TMP/kill9c.log" "DNS server" 3 "$CLIENT_PID"; then
		bad restore_kill9_reconnect "the client did not apply the servers"
		return
	fi
	stop_client KILL
	if ! start_client kill9d || ! wait_log "$LIB_TMP/kill9d.log" "DNS server" 3 "$CLIENT_PID"; then
		bad restore_kill9_reconnect "the second client did not apply the servers"
		return
	fi
	if ! grep -q 'restored from' "$LIB_TMP/kill9d.log" || ! cmp -s "$BACKUP" "$LIB_TMP/orig" ||
		[ "$(resolve)" != 198.51.100.80 ]; then
		bad restore_kill9_reconnect "no restore line, a backup not the original, or no name"
		return
	fi
	stop_client TERM
	restored restore_kill9_reconnect "$LIB_TMP/kill9d.log"
}

# Someone else rewrites resolv.conf while the client runs: theirs stays.
t_theirs() {
	no_client
	local theirs=$'nameserver 192.0.2.99\n'
	if ! start_client theirs || ! wait_log "$LIB_TMP/theirs.log" "DNS server" 3 "$CLIENT_PID"; then
		bad not_clobbered "the client did not apply the servers"
		return
	fi
	printf '%s' "$theirs" >"$ETC/resolv.conf"
	stop_client TERM
	if [ "$(cat "$ETC/resolv.conf"; echo x)" = "${theirs}x" ] && [ ! -e "$BACKUP" ] &&
		grep -q 'changed by someone else' "$LIB_TMP/theirs.log"; then
		ok not_clobbered "their file kept: $(grep -o 'resolv.conf: changed.*' "$LIB_TMP/theirs.log")"
	else
		bad not_clobbered "resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf"); $(tail -n 2 "$LIB_TMP/theirs.log" | tr '\n' ' ')"
	fi
	# And after a SIGKILL, the next start leaves theirs too.
	orig_put
	if ! start_client theirs9 || ! wait_log "$LIB_TMP/theirs9.log" "DNS server" 3 "$CLIENT_PID"; then
		bad not_clobbered_kill9 "the client did not apply the servers"
		return
	fi
	stop_client KILL
	printf '%s' "$theirs" >"$ETC/resolv.conf"
	bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8099/ --tun "$TUN" --retries 1 \
		>"$LIB_TMP/theirs9b.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_exit "$CLIENT_PID" 10
	if [ "$(cat "$ETC/resolv.conf"; echo x)" = "${theirs}x" ] && [ ! -e "$BACKUP" ] &&
		grep -q 'changed since' "$LIB_TMP/theirs9b.log"; then
		ok not_clobbered_kill9 "$(grep -o 'resolv.conf: changed.*' "$LIB_TMP/theirs9b.log")"
	else
		bad not_clobbered_kill9 "resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf"); $(tr '\n' ' ' <"$LIB_TMP/theirs9b.log")"
	fi
	orig_put
}

# A second start on the TUN while the first runs: the backup is the running
# client's (it holds a lock on it), and stays; the first restores on exit.
t_held() {
	no_client
	if ! start_client held || ! wait_log "$LIB_TMP/held.log" "DNS server" 3 "$CLIENT_PID"; then
		bad backup_held "the client did not apply the servers"
		return
	fi
	cp "$ETC/resolv.conf" "$LIB_TMP/ours"
	bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8099/ --tun "$TUN" --retries 1 \
		>"$LIB_TMP/held2.log" 2>&1
	wait_exit "$BG_PID" 10
	if ! cmp -s "$ETC/resolv.conf" "$LIB_TMP/ours" || ! cmp -s "$BACKUP" "$LIB_TMP/orig" ||
		grep -q 'restored from' "$LIB_TMP/held2.log"; then
		bad backup_held "the second start took the running client's backup: $(tr '\n' ' ' <"$LIB_TMP/held2.log")"
		stop_client TERM
		return
	fi
	stop_client TERM
	restored backup_held "$LIB_TMP/held.log"
}

# A gateway without --dns: the host's DNS is left alone.
t_no_dns() {
	no_client
	if ! start_gw gwnone --listen 192.0.2.1:8084 --pool 1 --tun-prefix vgn --subnet 10.0.121.0/24; then
		bad no_dns "the gateway without --dns did not start"
		return
	fi
	if ! start_client nodns ws://192.0.2.1:8084/; then
		bad no_dns "no 'connected' line: $(tail -n 2 "$LIB_TMP/nodns.log" | tr '\n' ' ')"
		return
	fi
	sleep 0.5
	local same=no
	cmp -s "$ETC/resolv.conf" "$LIB_TMP/orig" && [ ! -e "$BACKUP" ] && same=yes
	stop_client TERM
	if [ "$same" = yes ] && ! grep -q 'DNS server' "$LIB_TMP/nodns.log"; then
		restored no_dns "$LIB_TMP/nodns.log"
	else
		bad no_dns "resolv.conf changed or a backup made while connected"
	fi
}

# Failover to a gateway that advertises another server: applied again,
# then the original restored.
t_reapply() {
	no_client
	if ! start_gw gwb --listen 192.0.2.1:8082 --pool 1 --tun-prefix vgb --subnet 10.0.120.0/24 \
		--dns 198.51.100.54; then
		bad reapply "the second gateway did not start"
		return
	fi
	if ! start_client reapply "$URL" ws://192.0.2.1:8082/ ||
		! wait_log "$LIB_TMP/reapply.log" "DNS server" 3 "$CLIENT_PID"; then
		bad reapply "the client did not apply the servers"
		return
	fi
	kill -TERM "$GW_PID"
	wait_exit "$GW_PID" 5
	local i
	for i in $(seq 100); do
		grep -q 'nameserver 198.51.100.54' "$ETC/resolv.conf" && break
		sleep 0.1
	done
	if grep -q '^nameserver 198.51.100.54$' "$ETC/resolv.conf" &&
		! grep -q 198.51.100.53 "$ETC/resolv.conf" && cmp -s "$BACKUP" "$LIB_TMP/orig" &&
		[ "$(resolve)" = 198.51.100.80 ] && grep -q -- '-> 198.51.100.54' "$LIB_TMP/resolver.log"; then
		ok reapply "after failover: nameserver 198.51.100.54, the name resolves through it"
	else
		bad reapply "resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf"); $(tail -n 3 "$LIB_TMP/reapply.log" | tr '\n' ' ')"
	fi
	stop_client TERM
	restored restore_after_reapply "$LIB_TMP/reapply.log"
}

# ---- Main ----
TESTS=(before resolve sigterm sigint sighup kill9 theirs held no_dns reapply)
select_tests "$@"
# Before serve has --dns (the gateway's half), there is nothing to test.
if ! "$VPNGW" serve --help 2>&1 | grep -q -- '--dns'; then
	for t in "${TESTS[@]}"; do skip "$t" "this vpngw's serve has no --dns"; done
	finish
fi
if ! setup_topology || ! start_resolver; then
	bad topology "could not build the namespaces or start the resolver"
	finish
fi
if ! start_gw gw --listen 192.0.2.1:8080 --dns 198.51.100.53; then
	bad gateway "vpngw serve --dns did not start: $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	finish
fi
GW_PID=$LAST_GW_PID
for t in "${TESTS[@]}"; do
	"t_$t"
done
finish
