#!/bin/bash
# SPDX-License-Identifier: MIT
# test/firewall.sh: the host firewall that setup installs and the hygiene of
# released slots, end to end in network namespaces, as root:
#
#   ns inet: p0 198.51.100.1/24             talker.py: tcp 7000 writes every
#      |     route 10.0.100.0/22 via .2     100 ms, udp 7001 sends every 50 ms,
#      |     (the egress-side attacker)     tcp 7002 holds; drops udp 10000+
#      |
#   p0 ==veth== eth0 198.51.100.2/24   ns gw: vpngw serve (127.0.0.1:8080),
#                                      default via .1; listeners on 0.0.0.0:
#                                      tcp 2222, udp 5353 (echo); and the
#                                      test client firewall_test.py
#   lan0 203.0.113.2/24 ==veth== l1 203.0.113.1/24   ns lan (not masqueraded)
#   and IPv6: p0 2001:db8:100::1/64 (route fd00::/8 via ::2), eth0
#   2001:db8:100::2/64 (default via ::1), so the slots carry IPv6
#
# The gateway runs five times, each with what its tests need: as root with
# two slots (after an older table was put in place, which it replaces where
# neither nft nor ip can be run), with --open-port, with
# one slot as root, with one slot and no privilege at all (as nobody, in a
# mount namespace with a 0666 copy of /dev/net/tun), as the systemd unit
# starts it (nobody with ambient CAP_NET_ADMIN), and setup/teardown at the
# end. firewall_test.py (python websockets + scapy) is the client; this
# script checks what is seen from the host: processes, capabilities, the
# table, the log. Ends with "N passed, N failed"; lib.sh removes every
# namespace and process it made, even on failure or ^C.
#
# Usage: test/firewall.sh [TEST...]  (names as in firewall_test.py --list, or
# the checks here: serve_replaces_old_table helper_privileges
# setup_keeps_counters serve_logs_retire unit_privileges fw6_unsolicited
# fw6_to_host fw6_cross_slot teardown_clean). KEEP_TMP=1 keeps logs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/lib.sh" || exit 1

suite_start

WANT=("$@")
# wanted NAME...: the NAMEs that are to run.
wanted() {
	local t
	for t in "$@"; do want "$t" && printf '%s ' "$t"; done
}

setup_topology() {
	ns_add INET inet && ns_add GW gw && ns_add LAN lan || return 1
	veth_add "$INET" p0 "$GW" eth0 && veth_add "$LAN" l1 "$GW" lan0 || return 1
	ip -n "$INET" addr add 198.51.100.1/24 dev p0 &&
		ip -n "$GW" addr add 198.51.100.2/24 dev eth0 &&
		ip -n "$GW" route add default via 198.51.100.1 &&
		ip -n "$INET" route add 10.0.100.0/22 via 198.51.100.2 &&
		ip -n "$LAN" addr add 203.0.113.1/24 dev l1 &&
		ip -n "$GW" addr add 203.0.113.2/24 dev lan0 &&
		ip -n "$LAN" route add default via 203.0.113.2 || return 1
	# IPv6 beside it: the gateway's egress has an IPv6 default route, so
	# setup gives the slots IPv6 (fd00:0:0:100+i::/64).
	ip -n "$INET" -6 addr add 2001:db8:100::1/64 dev p0 nodad &&
		ip -n "$GW" -6 addr add 2001:db8:100::2/64 dev eth0 nodad &&
		ip -n "$GW" -6 route add default via 2001:db8:100::1 &&
		ip -n "$INET" -6 route add fd00::/8 via 2001:db8:100::2 || return 1
	# The flood's 50,000 datagrams vanish instead of drawing 50,000 errors.
	ns_exec "$INET" nft -f - <<-'EOF' || return 1
	table ip sink {
		chain input {
			type filter hook input priority 0; policy accept;
			udp dport 10000-65535 drop
		}
	}
	EOF
	bg_in "$INET" "$PY" "$HERE/servers/talker.py" --tcp 7000 --udp 7001 --quiet 7002 \
		>"$LIB_TMP/talker.log" 2>&1
	bg_in "$GW" "$PY" -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 2222)); s.listen(8)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
import threading
def echo():
    while True:
        d, a = u.recvfrom(2048); print("udp from", a, flush=True); u.sendto(d, a)
threading.Thread(target=echo, daemon=True).start()
while True:
    c, a = s.accept(); print("tcp from", a, flush=True); c.close()' >"$LIB_TMP/host-listeners.log" 2>&1
	wait_port "$INET" 198.51.100.1 7000 && wait_port "$INET" 198.51.100.1 7001 udp &&
		wait_port "$GW" 0.0.0.0 2222 && wait_port "$GW" 0.0.0.0 5353 udp
}

GW_PID=
STATE=$LIB_TMP/gw.state
# gw_started NAME: the gateway bg_in just started is GW_PID, its log
# $LIB_TMP/NAME.log is GW_LOG; waits for its "listening on", else one
# failure.
gw_started() {
	GW_PID=$BG_PID
	GW_LOG=$LIB_TMP/$1.log
	wait_log "$GW_LOG" 'vpngw: listening on' 10 "$GW_PID" && return 0
	bad "$1" "did not start: $(tail -n 3 "$GW_LOG" | tr '\n' ' ')"
	return 1
}

# start_gw NAME ARGS...: `vpngw serve ARGS` in the gateway's namespace, as
# root; waits for "listening on". Its log is $LIB_TMP/NAME.log.
start_gw() {
	local name=$1
	shift
	bg_in "$GW" env VPNGW_STATE_FILE="$STATE" "$VPNGW" serve "$@" >"$LIB_TMP/$name.log" 2>&1
	gw_started "$name"
}

# start_gw_no_tools NAME ARGS...: start_gw where neither nft nor ip can be
# run (each covered by an empty file, /usr/sbin hidden, no PATH): the table
# serve installs, and the tests judge, is vpngw's own netlink work.
start_gw_no_tools() {
	local name=$1
	shift
	: >"$LIB_TMP/nothing"
	bg_in "$GW" unshare -m sh -c 'nothing=$1; shift
		for t in nft ip; do for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
			[ -e "$d/$t" ] && { mount --bind "$nothing" "$d/$t" || exit 98; }
		done; done
		mount -t tmpfs none /usr/sbin || exit 98
		exec /usr/bin/env PATH=/nonexistent "$@"' _ "$LIB_TMP/nothing" \
		VPNGW_STATE_FILE="$STATE" "$VPNGW" serve "$@" >"$LIB_TMP/$name.log" 2>&1
	gw_started "$name"
}

# start_gw_setpriv NAME CAPS ARGS...: the same as nobody, with only the
# capabilities setpriv's options CAPS (one string) leave; /dev/net/tun (0600 here) is
# replaced, in a mount namespace of its own, by a 0666 node on a fresh
# tmpfs.
start_gw_setpriv() {
	local name=$1 caps
	read -ra caps <<<"$2"
	shift 2
	mkdir -p "$LIB_TMP/dev"
	bg_in "$GW" unshare -m sh -c 'mount -t tmpfs -o mode=0755 none "$1" &&
		mknod -m 0666 "$1/tun" c 10 200 && mount --bind "$1/tun" /dev/net/tun &&
		shift && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' \
		_ "$LIB_TMP/dev" "${caps[@]}" \
		env VPNGW_STATE_FILE="$STATE" "$VPNGW" serve "$@" >"$LIB_TMP/$name.log" 2>&1
	gw_started "$name"
}

# start_gw_nobody NAME ARGS...: with no privilege at all: as nobody with
# no capability.
start_gw_nobody() {
	start_gw_setpriv "$1" "--inh-caps=-all --bounding-set=-all" "${@:2}"
}

# start_gw_unit NAME ARGS...: as contrib/vpngw.service starts it: a user
# that is not root (nobody here), CAP_NET_ADMIN ambient and alone in the
# bounding set (/dev/net/tun is 0666 on a distribution).
start_gw_unit() {
	local caps="--inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin"
	start_gw_setpriv "$1" "$caps --bounding-set=-all,+net_admin" "${@:2}"
}

stop_gw() {
	[ -n "$GW_PID" ] || return 0
	kill -TERM "$GW_PID" 2>/dev/null
	wait_exit "$GW_PID" 5 || kill -KILL "$GW_PID" 2>/dev/null
	GW_PID=
}

# client TEST...: runs firewall_test.py's TESTs against the running gateway.
client() {
	[ "$#" -gt 0 ] || return 0
	rm -f "$LIB_TMP/results"
	ns_exec "$GW" env VPNGW_URL=ws://127.0.0.1:8080/ VPNGW_PID="$GW_PID" \
		VPNGW_LOG="$GW_LOG" FW_INET="$INET" FW_LAN="$LAN" \
		VPNGW_RESULTS="$LIB_TMP/results" "$PY" -u "$HERE/firewall_test.py" -v "$@"
	py_results "$LIB_TMP/results" firewall_test.py
}

table() { ns_exec "$GW" nft list table inet vpngw 2>/dev/null; }

if ! setup_topology; then
	bad topology "could not build the namespaces and servers"
	finish
fi

ALLOW=(--allow 198.51.100.0/24 --allow 203.0.113.0/24 --allow 10.0.100.0/22)

# ---- Two slots, as root, after an older vpngw's table ----
# The table vpngw 0.1.0 installed: forward policy accept, no counters.
in_gw() { ns_exec "$GW" env VPNGW_STATE_FILE="$STATE" "$@"; }
if ! out=$(in_gw "$VPNGW" setup --pool 2 2>&1); then
	bad setup "vpngw setup --pool 2: $out"
	finish
fi
ns_exec "$GW" nft -f - <<'EOF'
table ip vpngw
delete table ip vpngw
table ip vpngw {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.0.100.0-10.0.101.255 oifname "eth0" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "vpngw*" accept
		oifname "vpngw*" ct state established,related accept
	}
}
EOF
start_gw_no_tools gw-main --pool 2 --linger 0 "${ALLOW[@]}" -v || finish

if want serve_replaces_old_table; then
	if grep -q 'installed the current nft table' "$GW_LOG" &&
		table | grep -q 'counter unsolicited' && table | grep -q 'chain input'; then
		ok serve_replaces_old_table
	else
		bad serve_replaces_old_table "log: $(grep -c 'nft table' "$GW_LOG") lines about the table; table: $(table | head -c 300 | tr '\n\t' '  ')"
	fi
fi

# The serving process has no capability left; the helper has CAP_NET_ADMIN
# only, runs as nobody, holds one fd and has no new privileges.
if want helper_privileges; then
	helper=$(pgrep -P "$GW_PID" -x vpngw-ct | head -n 1)
	why=
	[ "$(status_of "$GW_PID" CapEff)$(status_of "$GW_PID" CapPrm)" = 00000000000000000000000000000000 ] ||
		why="gateway CapEff $(status_of "$GW_PID" CapEff) CapPrm $(status_of "$GW_PID" CapPrm); "
	[ "$(status_of "$GW_PID" Uid)" = 65534 ] || why+="gateway uid $(status_of "$GW_PID" Uid); "
	if [ -z "$helper" ]; then
		why+="no helper process (comm vpngw-ct) under $GW_PID"
	else
		[ "$(status_of "$helper" CapEff)" = 0000000000001000 ] &&
			[ "$(status_of "$helper" CapPrm)" = 0000000000001000 ] &&
			[ "$(status_of "$helper" CapBnd)" = 0000000000001000 ] ||
			why+="helper CapEff/Prm/Bnd $(status_of "$helper" CapEff)/$(status_of "$helper" CapPrm)/$(status_of "$helper" CapBnd); "
		[ "$(status_of "$helper" Uid)" = 65534 ] || why+="helper uid $(status_of "$helper" Uid); "
		[ "$(status_of "$helper" NoNewPrivs)" = 1 ] || why+="helper may gain privileges; "
		fds=$(ls "/proc/$helper/fd" | wc -l)
		[ "$fds" = 1 ] || why+="helper holds $fds fds: $(ls -l "/proc/$helper/fd" | tail -n +2 | awk '{print $NF}' | tr '\n' ' ')"
	fi
	if [ -z "$why" ]; then ok helper_privileges; else bad helper_privileges "$why"; fi
fi

client $(wanted ct_mark_per_slot unsolicited_inbound cross_slot_dropped \
	invalid_fin_no_leak leak_guard to_host_refused release_no_stall)
kill -0 "$GW_PID" 2>/dev/null || bad gateway_survived "gw-main exited during its tests"
stop_gw

# setup with nothing to change leaves the table, and its counters, alone.
if want setup_keeps_counters; then
	# Something to count: the table drops this with no gateway running.
	ns_exec "$INET" ping -c 2 -i 0.2 -W 1 10.0.100.2 >/dev/null
	before=$(table | grep -A1 'counter unsolicited' | tail -n 1)
	out=$(in_gw "$VPNGW" setup --pool 2 2>&1)
	after=$(table | grep -A1 'counter unsolicited' | tail -n 1)
	if [ -n "$before" ] && [ "$before" = "$after" ] && [[ "$before" != *"packets 0 "* ]]; then
		ok setup_keeps_counters "$(echo $after)"
	else
		bad setup_keeps_counters "unsolicited '$(echo $before)' before setup, '$(echo $after)' after: $out"
	fi
fi

# ---- Open ports: serve replaces a table with other ports ----
if want open_port_reachable; then
	start_gw gw-open --pool 2 --linger 0 "${ALLOW[@]}" --open-port 2222 \
		--open-port 5353/udp -v || finish
	grep -q 'installed the current nft table' "$GW_LOG" ||
		bad open_port_table "serve did not install the table with the open ports"
	client open_port_reachable
	stop_gw
fi

# ---- One slot, as root: a released slot is flushed, then reused ----
if want slot_reuse_flushed; then
	start_gw gw-reuse --pool 1 --linger 0 "${ALLOW[@]}" -v || finish
	client slot_reuse_flushed
	stop_gw
fi

# ---- One slot, no privilege: a released slot is retired ----
if want slot_reuse_retired || want serve_logs_retire; then
	start_gw_nobody gw-nobody --pool 1 --linger 0 "${ALLOW[@]}" -v || finish
	if want serve_logs_retire; then
		if grep -q 'no conntrack helper.*retired until restart' "$GW_LOG"; then
			ok serve_logs_retire
		else
			bad serve_logs_retire "no start-up line about retiring slots: $(head -n 3 "$GW_LOG" | tr '\n' ' ')"
		fi
	fi
	want slot_reuse_retired && client slot_reuse_retired
	stop_gw
fi

# ---- As the systemd unit starts it: the helper keeps CAP_NET_ADMIN ----
if want unit_privileges; then
	start_gw_unit gw-unit --pool 1 --linger 0 "${ALLOW[@]}" -v || finish
	helper=$(pgrep -P "$GW_PID" -x vpngw-ct | head -n 1)
	got="gateway $(status_of "$GW_PID" CapEff) $(status_of "$GW_PID" Seccomp)"
	got+=" $(status_of "$GW_PID" NoNewPrivs), helper"
	[ -n "$helper" ] && got+=" $(status_of "$helper" CapEff) $(status_of "$helper" Seccomp)"
	want_got="gateway 0000000000000000 2 1, helper 0000000000001000 2"
	EXIT_STATUS=
	stop_gw
	if [ "$got" = "$want_got" ] && [ "$EXIT_STATUS" = 0 ]; then
		ok unit_privileges
	else
		bad unit_privileges "CapEff, Seccomp, NoNewPrivs: $got (want $want_got); exit ${EXIT_STATUS:-?}"
	fi
fi

# ---- IPv6, the kernel's side: no gateway; fw6_inject.py holds the slots'
# devices and writes what a client of slot 0 would send ----
# fwc NAME: the packets counter NAME of the table has counted.
fwc() { table | grep -A1 "counter $1 {" | tail -n 1 | awk '{print $2}'; }
if want fw6_unsolicited || want fw6_to_host || want fw6_cross_slot; then
	out=$(in_gw "$VPNGW" setup --pool 2 2>&1) || bad fw6_setup "$out"
fi
if want fw6_unsolicited; then
	# Nothing unsolicited reaches a client over IPv6: the Internet's
	# pings and datagrams to slot 0's client are dropped and counted.
	before=$(fwc unsolicited)
	bg_in "$GW" "$PY" "$HERE/fw6_inject.py" hold 3 >"$LIB_TMP/fw6-hold.log" 2>&1
	hold=$BG_PID
	sleep 0.5
	ns_exec "$INET" ping -6 -c 3 -i 0.2 -W 1 fd00:0:0:100::2 >/dev/null 2>&1
	ns_exec "$INET" "$PY" -c 'import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for p in (7, 53, 9999): s.sendto(b"x", ("fd00:0:0:100::2", p))'
	wait "$hold"
	d=$(( $(fwc unsolicited) - before ))
	got=$(grep -v ' multicast$' "$LIB_TMP/fw6-hold.log")
	if [ "$d" -ge 6 ] && [ -z "$got" ]; then
		ok fw6_unsolicited "unsolicited +$d"
	else
		bad fw6_unsolicited "unsolicited counter +$d (want 6 or more); into the slots: ${got:-nothing}"
	fi
fi
if want fw6_to_host; then
	# The gateway host is closed to clients over IPv6: UDP and a SYN to
	# its slot address and its egress address are refused (ICMPv6 port
	# unreachable, TCP reset) and counted.
	before=$(fwc to_host)
	got=$(ns_exec "$GW" "$PY" "$HERE/fw6_inject.py" to_host 2>&1)
	d=$(( $(fwc to_host) - before ))
	if [ "$d" = 4 ] && [ "$(grep -c '^vpngw0 icmp6 1 4$' <<<"$got")" = 2 ] &&
		[ "$(grep -c '^vpngw0 tcp rst$' <<<"$got")" = 2 ]; then
		ok fw6_to_host "to_host +$d"
	else
		bad fw6_to_host "to_host counter +$d (want 4); back: $(tr '\n' ';' <<<"$got")"
	fi
fi
if want fw6_cross_slot; then
	before=$(fwc cross_slot)
	got=$(ns_exec "$GW" "$PY" "$HERE/fw6_inject.py" cross_slot 2>&1 | grep -v ' multicast$')
	d=$(( $(fwc cross_slot) - before ))
	if [ "$d" = 2 ] && [ -z "$got" ]; then
		ok fw6_cross_slot "cross_slot +$d"
	else
		bad fw6_cross_slot "cross_slot counter +$d (want 2); into the slots: ${got:-nothing}"
	fi
fi

if want teardown_clean; then
	out=$(in_gw "$VPNGW" teardown --pool 2 2>&1)
	left=$(ip -n "$GW" -o link show | awk -F': ' '{print $2}' | grep '^vpngw')
	if [ -z "$(table)" ] && [ -z "$left" ]; then
		ok teardown_clean
	else
		bad teardown_clean "left: table $(table | head -c 80), links $left: $out"
	fi
fi

finish
