#!/bin/bash
# SPDX-License-Identifier: MIT
# test/resolved.sh: on a host whose DNS is systemd-resolved's, the client
# gives the gateway's DNS server (serve --dns) to resolved, for the TUN
# link and for every domain (SetLinkDNS, SetLinkDomains "~.",
# SetLinkDefaultRoute), instead of rewriting /etc/resolv.conf, and reverts
# the link on every exit (SIGTERM, SIGINT, SIGHUP; after a SIGKILL, at the
# next start on the TUN). Without resolved on the bus (resolved stopped,
# or no socket behind the bus address) it writes resolv.conf as
# test/dns.sh checks. As root, in network namespaces, with a real
# systemd-resolved: the Debian package of the installed systemd's version,
# unpacked here (not installed), on a private system bus (dbus-daemon,
# listening in this run's temporary directory). resolved and the bus run
# in mount namespaces of their own that add resolved's user to copies of
# /etc/passwd and /etc/group, and resolved's has a tmpfs on /run/systemd:
# the host's files stay as they are. Without the package or dbus-daemon every test
# is skipped. Ends with one line "N passed, N failed" and exits non-zero on
# any failure. lib.sh removes every namespace and process it made, even on
# failure or ^C; this script removes /etc/netns/<ns>, the TUN it made, and
# the client's files in /run/vpngw for this run's TUN name.
#
#   ns cli: eth0 192.0.2.2/24
#      |     /etc/resolv.conf is resolved's stub-resolv.conf text
#      |     (nameserver 127.0.0.53, resolved's stub listener on lo)
#      |     runs: dbus-daemon (the system bus), systemd-resolved
#      |     (eth0's DNS server 192.0.2.53, set with resolvectl),
#      |     vpngw connect ws://192.0.2.1:8080/ --route 198.51.100.0/24
#      |     (TUN vres<pid>)
#   ns gw: eth1 192.0.2.1/24, 192.0.2.53 (the host's own resolver);
#      |     eth0 198.51.100.2/24, default via .1
#      |     runs: vpngw serve --listen 192.0.2.1:8080 --dns 198.51.100.53;
#      |     a DNS responder on 192.0.2.53:53:
#      |     vpngw-test.example. A 192.0.2.80
#   ns inet: eth0 198.51.100.1/24, .53
#            runs: a DNS responder on 198.51.100.53:53 (the tunnel's):
#            vpngw-test.example. A 198.51.100.80
#
# Both responders (test/dns_responder.py) answer with TTL 0, so that
# no cache hides where a query went, NXDOMAIN for any other name, and log
# every query. The name resolves to 192.0.2.80 before the client connects,
# to 198.51.100.80 while it is connected (the host's resolver sees no
# query for it then), and to 192.0.2.80 again after the link is reverted.
#
# Usage: test/resolved.sh [TEST...]   (default: all, in order)
# Environment: VPNGW (binary, default ../vpngw), KEEP_TMP=1 keeps the logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

URL=ws://192.0.2.1:8080/
TUN=vres$$
TUN=${TUN:0:15}
BACKUP=/run/vpngw/resolv.conf.$TUN
MARKER=/run/vpngw/resolved.$TUN
NAME=vpngw-test.example
BUS=unix:path=$LIB_TMP/bus
RS=$LIB_TMP/rs
CLI='' GW='' INET='' ETC=''
CLIENT_PID='' RESOLVED_PID='' PERSISTENT=''
HOST_MARK=0

# The client host's resolv.conf: systemd-resolved's stub-resolv.conf.
STUB=$'# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n'

lib_rm "$BACKUP" "$BACKUP.ours" "$MARKER"   # what a failed test may leave

# ---- Topology and servers ----
setup_topology() {
	ns_add CLI cli && ns_add GW gw && ns_add INET inet || return 1
	veth_add "$CLI" eth0 "$GW" eth1 && veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 192.0.2.53/24 dev eth1 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$INET" addr add 198.51.100.1/24 dev eth0 &&
		ip -n "$INET" addr add 198.51.100.53/24 dev eth0 || return 1
	netns_etc ETC "$CLI" && printf '%s' "$STUB" >"$LIB_TMP/stub" && cp "$LIB_TMP/stub" "$ETC/resolv.conf"
}

# fetch_resolved: systemd-resolved and resolvectl of the installed systemd's
# version, unpacked into RS. The reason on stdout when it cannot.
fetch_resolved() {
	local v
	command -v dbus-daemon >/dev/null || { echo "no dbus-daemon"; return 1; }
	v=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null) || { echo "systemd is not installed"; return 1; }
	if ! (cd "$LIB_TMP" && apt-get download "systemd-resolved=$v" >"$LIB_TMP/apt.out" 2>&1); then
		echo "apt-get download systemd-resolved=$v failed: $(tail -n 1 "$LIB_TMP/apt.out")"
		return 1
	fi
	if ! dpkg-deb -x "$LIB_TMP"/systemd-resolved_*.deb "$RS" ||
		[ ! -x "$RS/lib/systemd/systemd-resolved" ] || [ ! -x "$RS/usr/bin/resolvectl" ]; then
		echo "the systemd-resolved package did not unpack"
		return 1
	fi
}

start_responders() {
	bg_in "$INET" "$PY" "$HERE/dns_responder.py" --a 198.51.100.80 198.51.100.53 \
		>"$LIB_TMP/tunnel_dns.log" 2>&1
	bg_in "$GW" "$PY" "$HERE/dns_responder.py" --a 192.0.2.80 192.0.2.53 >"$LIB_TMP/host_dns.log" 2>&1
	wait_port "$INET" 198.51.100.53 53 udp && wait_port "$GW" 192.0.2.53 53 udp
}

# queries LOG: how many queries for NAME the responder logged.
queries() { grep -c " $NAME " "$1" 2>/dev/null; }

# users: copies of /etc/passwd and /etc/group with resolved's user
# (systemd-resolve) in them, for the mount namespaces of resolved and the bus.
users() {
	cp /etc/passwd "$LIB_TMP/passwd" && cp /etc/group "$LIB_TMP/group" || return 1
	getent passwd systemd-resolve >/dev/null ||
		echo "systemd-resolve:x:990:990::/:/usr/sbin/nologin" >>"$LIB_TMP/passwd"
	getent group systemd-resolve >/dev/null || echo "systemd-resolve:x:990:" >>"$LIB_TMP/group"
}

start_bus() {
	users || return 1
	cat >"$LIB_TMP/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$BUS</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
	# resolved connects as its own user: it must reach the socket.
	chmod 711 "$LIB_TMP"
	# The bus knows resolved's user too: its copies of passwd and group.
	# shellcheck disable=SC2016 # expanded by that bash
	bg_in "$CLI" unshare -m --propagation private bash -c '
		mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group &&
			exec dbus-daemon --config-file="$1/bus.conf" --nofork --nopidfile
	' bus "$LIB_TMP" >"$LIB_TMP/bus.log" 2>&1
	local _
	for _ in $(seq 50); do
		[ -S "$LIB_TMP/bus" ] && return 0
		kill -0 "$BG_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# rctl ARGS...: resolvectl in the client namespace, on our bus.
rctl() {
	ns_exec "$CLI" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 \
		"$RS/usr/bin/resolvectl" "$@"
}

# link_value VERB: what `resolvectl VERB $TUN` lists for the TUN
# ("Link N (TUN): VALUE"), or "(error: ...)".
link_value() {
	local out
	if ! out=$(rctl "$1" "$TUN" 2>&1); then
		echo "(error: $(echo "$out" | tr '\n' ' '))"
		return 1
	fi
	printf '%s\n' "$out" | sed -n "s/^Link [0-9]* ($TUN): *//p; s/^Link [0-9]* ($TUN):\$//p"
}

# start_resolved: systemd-resolved in the client namespace, its user only
# in its own mount namespace, its state in a tmpfs on /run/systemd there,
# with a drop-in there: no fallback servers, no LLMNR, mDNS or DNSSEC, so
# that the servers it asks are only the links' ones. Then eth0's DNS server
# is the host's resolver. Sets RESOLVED_PID.
start_resolved() {
	# shellcheck disable=SC2016 # expanded by that bash
	bg_in "$CLI" unshare -m --propagation private bash -c '
		set -e
		t=$1
		mount --bind "$t/passwd" /etc/passwd
		mount --bind "$t/group" /etc/group
		mkdir -p /run/systemd
		mount -t tmpfs -o mode=0755 tmpfs /run/systemd
		mkdir -p /run/systemd/resolved.conf.d
		printf "[Resolve]\nFallbackDNS=\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\nDNSOverTLS=no\n" \
			>/run/systemd/resolved.conf.d/test.conf
		export DBUS_SYSTEM_BUS_ADDRESS=$2 SYSTEMD_LOG_LEVEL=debug
		exec "$t/rs/lib/systemd/systemd-resolved"
	' resolved "$LIB_TMP" "$BUS" >>"$LIB_TMP/resolved.log" 2>&1
	RESOLVED_PID=$BG_PID
	local _
	for _ in $(seq 100); do
		rctl --no-pager status >/dev/null 2>&1 && break
		kill -0 "$RESOLVED_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	rctl dns eth0 192.0.2.53 && [ "$(rctl dns eth0 | sed -n 's/^Link [0-9]* (eth0): *//p')" = 192.0.2.53 ]
}

# need_resolved: resolved runs (a test before may have stopped it).
need_resolved() {
	[ -n "$RESOLVED_PID" ] && kill -0 "$RESOLVED_PID" 2>/dev/null && return 0
	start_resolved
}

# start_gw NAME ARGS...: `vpngw serve` in the gateway namespace.
start_gw() {
	local name=$1
	shift
	bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/$name.state" \
		"$VPNGW" serve --allow 198.51.100.0/24 "$@" >>"$LIB_TMP/$name.log" 2>&1
	wait_log "$LIB_TMP/$name.log" 'listening on' 10 "$BG_PID"
}

# start_client NAME [URL...]: `vpngw connect` in the client namespace, on
# our bus (or CLIENT_BUS; URL by default); waits for its "connected" line.
# Sets CLIENT_PID.
start_client() {
	local name=$1
	shift
	[ $# -gt 0 ] || set -- "$URL"
	bg_in "$CLI" env DBUS_SYSTEM_BUS_ADDRESS="${CLIENT_BUS:-$BUS}" "$VPNGW" connect "$@" --tun "$TUN" \
		--route 198.51.100.0/24 >"$LIB_TMP/$name.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_log "$LIB_TMP/$name.log" 'connected to' 10 "$CLIENT_PID"
}

# start_applied NAME: start_client, then waits for the line saying the
# server went to resolved.
RESOLVED_LINE="systemd-resolved: the gateway's DNS server"
start_applied() {
	start_client "$1" && wait_log "$LIB_TMP/$1.log" "$RESOLVED_LINE" 3 "$CLIENT_PID"
}

stop_client() {
	kill "-$1" "$CLIENT_PID" 2>/dev/null
	wait_exit "$CLIENT_PID" 5
}

# no_client: stops a client an earlier test left running, so that the next
# one has its TUN name free.
no_client() {
	if [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null; then
		stop_client TERM
	fi
	return 0
}

# connected: a client on a TUN of its own is connected and has given its
# server to resolved (the one of an earlier test, or a new one). HOST_MARK
# is the host resolver's count of queries for NAME from before it started.
connected() {
	if [ -n "$CLIENT_PID" ] && kill -0 "$CLIENT_PID" 2>/dev/null && [ -z "$PERSISTENT" ] &&
		grep -q "$RESOLVED_LINE" "$LIB_TMP/client.log" 2>/dev/null; then
		return 0
	fi
	no_client
	no_persistent
	need_resolved || return 1
	HOST_MARK=$(queries "$LIB_TMP/host_dns.log")
	start_applied client
}

# persistent / no_persistent: the TUN is made before the client (and so
# outlives it), or not there when the client starts.
persistent() {
	[ -n "$PERSISTENT" ] && return 0
	ip -n "$CLI" tuntap add mode tun name "$TUN" && PERSISTENT=1
}
no_persistent() {
	[ -z "$PERSISTENT" ] && return 0
	ip -n "$CLI" link del "$TUN" && PERSISTENT=''
}

# resolve: the test name's IPv4 address, as the client host's libc finds it.
resolve() { ns_exec "$CLI" getent ahostsv4 "$NAME" 2>/dev/null | awk 'NR == 1 { print $1 }'; }

# stub_kept: resolv.conf is the stub text byte for byte, no backup.
stub_kept() { cmp -s "$ETC/resolv.conf" "$LIB_TMP/stub" && [ ! -e "$BACKUP" ] && [ ! -e "$BACKUP.ours" ]; }

flat() { tr '\n' ' ' <"$1"; }

# ---- The tests ----

# Without the client the name is the host resolver's, through resolved.
t_before() {
	local a n0
	no_client
	if ! need_resolved; then
		bad before "systemd-resolved did not come up: $(tail -n 3 "$LIB_TMP/resolved.log" | tr '\n' ' ')"
		return
	fi
	n0=$(queries "$LIB_TMP/host_dns.log")
	a=$(resolve)
	if [ "$a" = 192.0.2.80 ] && [ "$(queries "$LIB_TMP/host_dns.log")" -gt "$n0" ]; then
		ok before "$NAME -> $a: the host's resolver, through resolved's stub 127.0.0.53"
	else
		bad before "got '$a'; host resolver: $(tail -n 2 "$LIB_TMP/host_dns.log" | tr '\n' ' ')"
	fi
}

# The client gives the gateway's server to resolved for the TUN link, and
# leaves resolv.conf alone.
t_link() {
	local dns domain route
	if ! connected; then
		bad link "the client did not give its server to resolved: $(tail -n 3 "$LIB_TMP/client.log" | tr '\n' ' ')"
		return
	fi
	dns=$(link_value dns) domain=$(link_value domain) route=$(link_value default-route)
	if [ "$dns" = 198.51.100.53 ] && [ "$domain" = "~." ] && [ "$route" = yes ]; then
		ok link "$(grep -o "$RESOLVED_LINE.*" "$LIB_TMP/client.log"); resolvectl: dns $dns, domain $domain, default-route $route"
	else
		bad link "resolvectl for $TUN: dns '$dns', domain '$domain', default-route '$route'"
	fi
	if stub_kept; then
		ok resolv_conf_kept "resolv.conf byte-identical ($(stat -c %s "$ETC/resolv.conf") bytes), no backup"
	else
		bad resolv_conf_kept "resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf"); backup: $(ls "$BACKUP"* 2>&1 | tr '\n' ' ')"
	fi
}

# Connected, the name is the tunnel resolver's.
t_resolve() {
	local a n0
	if ! connected; then
		bad resolve "the client did not give its server to resolved"
		return
	fi
	n0=$(queries "$LIB_TMP/tunnel_dns.log")
	a=$(resolve)
	if [ "$a" = 198.51.100.80 ] && [ "$(queries "$LIB_TMP/tunnel_dns.log")" -gt "$n0" ]; then
		ok resolve "$NAME -> $a through the tunnel ($(grep "$NAME" "$LIB_TMP/tunnel_dns.log" | tail -n 1))"
	else
		bad resolve "got '$a'; tunnel resolver: $(tail -n 2 "$LIB_TMP/tunnel_dns.log" | tr '\n' ' ')"
	fi
}

# Connected, no query for the name reaches the host's resolver: "~." on
# the TUN takes every domain from eth0, which has no domain of its own.
t_no_leak() {
	local a n
	if ! connected; then
		bad no_leak "the client did not give its server to resolved"
		return
	fi
	for _ in 1 2 3; do
		a=$(resolve)
		[ "$a" = 198.51.100.80 ] || break
	done
	n=$(($(queries "$LIB_TMP/host_dns.log") - HOST_MARK))
	if [ "$a" = 198.51.100.80 ] && [ "$n" = 0 ]; then
		ok no_leak "the host's resolver got no query for $NAME while connected"
	else
		bad no_leak "got '$a'; the host's resolver got $n queries for $NAME: $(grep "$NAME" "$LIB_TMP/host_dns.log" | tail -n 2 | tr '\n' ' ')"
	fi
}

# on_signal SIG: on a TUN that outlives the client, the client gives its
# server to resolved, gets SIG, exits 0 and reverts the link.
on_signal() {
	local name=revert_sig${1,,} dns a
	no_client
	if ! need_resolved || ! persistent; then
		bad "$name" "no resolved or no persistent $TUN"
		return
	fi
	if ! start_applied "$name"; then
		bad "$name" "the client did not give its server to resolved: $(tail -n 2 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		return
	fi
	dns=$(link_value dns)
	if [ "$dns" != 198.51.100.53 ]; then
		bad "$name" "while connected, resolvectl dns $TUN: '$dns'"
		stop_client "$1"
		return
	fi
	EXIT_STATUS=''
	stop_client "$1"
	dns=$(link_value dns) a=$(resolve)
	if [ "${EXIT_STATUS:-x}" = 0 ] && [ -z "$dns" ] && [ "$a" = 192.0.2.80 ] && [ ! -e "$MARKER" ] &&
		stub_kept; then
		ok "$name" "exit 0; $TUN kept, no DNS server on it; $NAME -> $a again"
	else
		bad "$name" "exit ${EXIT_STATUS:-none}; resolvectl dns $TUN '$dns'; $NAME -> '$a'; marker: $(ls "$MARKER" 2>&1); $(tail -n 2 "$LIB_TMP/$name.log" | tr '\n' ' ')"
	fi
}

t_revert() {
	on_signal TERM
	on_signal INT
	# A closed terminal (SIGHUP) is an exit too.
	on_signal HUP
}

# SIGKILL leaves the link and the marker; the next start on the TUN
# reverts the link first, even one that never connects.
t_kill9() {
	local dns n
	no_client
	if ! need_resolved || ! persistent; then
		bad revert_kill9 "no resolved or no persistent $TUN"
		return
	fi
	if ! start_applied kill9; then
		bad revert_kill9 "the client did not give its server to resolved: $(tail -n 2 "$LIB_TMP/kill9.log" | tr '\n' ' ')"
		return
	fi
	stop_client KILL
	dns=$(link_value dns)
	if [ "$dns" != 198.51.100.53 ] || [ ! -e "$MARKER" ]; then
		bad revert_kill9 "after SIGKILL: resolvectl dns $TUN '$dns'; marker: $(ls "$MARKER" 2>&1)"
		return
	fi
	bg_in "$CLI" env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$VPNGW" connect ws://192.0.2.1:8099/ \
		--tun "$TUN" --retries 1 >"$LIB_TMP/kill9b.log" 2>&1
	CLIENT_PID=$BG_PID
	wait_exit "$CLIENT_PID" 10
	n=$(grep -c 'reverted, left by a vpngw that did not exit' "$LIB_TMP/kill9b.log")
	dns=$(link_value dns)
	if [ "$n" = 1 ] && [ -z "$dns" ] && [ ! -e "$MARKER" ] && stub_kept; then
		ok revert_kill9 "$(grep -o 'systemd-resolved: the DNS of.*' "$LIB_TMP/kill9b.log"); no DNS server on $TUN, marker gone"
	else
		bad revert_kill9 "$n 'reverted' lines; resolvectl dns $TUN '$dns'; marker: $(ls "$MARKER" 2>&1); $(flat "$LIB_TMP/kill9b.log")"
	fi
}

# fallback_case NAME: a client on CLIENT_BUS, where resolved is not:
# resolv.conf is written as without resolved, and put back byte for byte
# on SIGTERM.
fallback_case() {
	local name=$1 want a
	no_client
	if ! start_client "$name" || ! wait_log "$LIB_TMP/$name.log" "DNS server" 3 "$CLIENT_PID"; then
		bad "$name" "the client did not apply the server: $(tail -n 3 "$LIB_TMP/$name.log" | tr '\n' ' ')"
		return
	fi
	want=$'# vpngw: the DNS servers of '"$TUN"$'; restored on exit\nnameserver 198.51.100.53\noptions edns0 trust-ad\nsearch .\n'
	a=$(resolve)
	if [ "$(grep -c 'systemd-resolved is not on the system bus (.*); /etc/resolv.conf is written instead' "$LIB_TMP/$name.log")" = 1 ] &&
		! grep -q "$RESOLVED_LINE" "$LIB_TMP/$name.log" &&
		[ "$(cat "$ETC/resolv.conf"; echo x)" = "${want}x" ] && cmp -s "$BACKUP" "$LIB_TMP/stub" &&
		[ "$a" = 198.51.100.80 ]; then
		ok "$name" "$(grep -o 'systemd-resolved is not on the system bus ([^)]*)' "$LIB_TMP/$name.log"); nameserver 198.51.100.53, options and search kept; $NAME -> $a"
	else
		bad "$name" "resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf"); backup: $(ls "$BACKUP" 2>&1); $NAME -> '$a'; $(flat "$LIB_TMP/$name.log")"
	fi
	EXIT_STATUS=''
	stop_client TERM
	if [ "${EXIT_STATUS:-x}" = 0 ] && stub_kept; then
		ok "${name}_restored" "exit 0, resolv.conf the stub text again, byte for byte, no backup"
	else
		bad "${name}_restored" "exit ${EXIT_STATUS:-none}; resolv.conf: $(tr '\n' '|' <"$ETC/resolv.conf"); backup: $(ls "$BACKUP"* 2>&1 | tr '\n' ' ')"
	fi
}

# resolved stopped (its name has no owner on the bus), then a bus address
# with no socket behind it: resolv.conf both times.
t_fallback() {
	no_client
	no_persistent
	if [ -n "$RESOLVED_PID" ] && kill -0 "$RESOLVED_PID" 2>/dev/null; then
		kill -TERM "$RESOLVED_PID"
		if ! wait_exit "$RESOLVED_PID" 5; then
			bad fallback "systemd-resolved did not exit on SIGTERM"
			return
		fi
	fi
	fallback_case fallback
	CLIENT_BUS=unix:path=$LIB_TMP/nobus fallback_case fallback_no_socket
}

# ---- Main ----
TESTS=(before link resolve no_leak revert kill9 fallback)
select_tests "$@"
if ! why=$(fetch_resolved); then
	for t in "${TESTS[@]}"; do skip "$t" "$why"; done
	finish
fi
if ! setup_topology || ! start_responders; then
	bad topology "could not build the namespaces or start the resolvers"
	finish
fi
if ! start_bus; then
	bad bus "dbus-daemon did not start: $(flat "$LIB_TMP/bus.log")"
	finish
fi
if ! start_resolved; then
	bad resolved "systemd-resolved did not come up: $(tail -n 5 "$LIB_TMP/resolved.log" | tr '\n' ' ')"
	finish
fi
step resolved "$("$RS/lib/systemd/systemd-resolved" --version | head -n 1) on $BUS; eth0's DNS 192.0.2.53"
if ! start_gw gw --listen 192.0.2.1:8080 --dns 198.51.100.53; then
	bad gateway "vpngw serve --dns did not start: $(tail -n 3 "$LIB_TMP/gw.log" | tr '\n' ' ')"
	finish
fi
for t in "${TESTS[@]}"; do
	"t_$t"
done
no_client
no_persistent
finish
