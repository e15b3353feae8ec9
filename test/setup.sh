#!/bin/bash
# SPDX-License-Identifier: MIT
# setup.sh: `vpngw setup` and `teardown` against the real kernel, and the
# one-line errors of every command, in a namespace of their own:
#
#   [ ns: e0 198.51.100.2/24, default via 198.51.100.1 ]   (nothing behind e0)
#   [ ns big: the same, for pools of 1000 and 4096 slots ]
#
# setup must be idempotent, teardown must restore exactly what setup changed
# (devices, table, sysctls; for large pools `ip -d link`, `ip addr` and the
# whole ruleset), a device someone else put in the pool's link group must
# survive teardown, a failed setup or serve start must leave nothing,
# and each error a user can cause is one line on stderr and a non-zero exit.
# Each command takes exactly the options its --help lists, refuses every
# other with one line, and serve --dry-run only says what serve would do.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. test/lib.sh

suite_start
check() { local name=$1 why=$2; shift 2; if "$@"; then ok "$name"; else bad "$name" "$why"; fi; }

ns_dead_end N setup || exit 1
export VPNGW_STATE_FILE=$LIB_TMP/state
ARGS=(--pool 3 --tun-prefix vst --subnet 10.0.120.0/24)
TD_ARGS=(--pool 3 --tun-prefix vst)   # what names the pool for teardown
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

in_ns() { ns_exec "$N" "$@"; }
sysctl_of() { in_ns cat "/proc/sys/$1" 2>/dev/null; }
# A picture of everything setup controls, to compare before and after: each
# device's name, MTU, owner, group, flags as set (up or not) and IPv4
# addresses, not its operational state, which the kernel changes on its own
# a moment after setup; the nftables tables, the sysctls, the state file.
snapshot() {
	in_ns sh -c 'cd /sys/class/net && for d in *; do
		case $d in lo|e0|e1) continue ;; esac
		echo "$d mtu=$(cat "$d/mtu") owner=$(cat "$d/owner" 2>/dev/null)" \
			"group=$(cat "$d/group" 2>/dev/null) flags=$(cat "$d/flags")" \
			$(ip -o -4 addr show dev "$d" | awk "{print \$4}")
	done'
	in_ns nft list tables 2>/dev/null
	echo "fwd=$(sysctl_of net/ipv4/ip_forward)"
	echo "udps=$(sysctl_of net/netfilter/nf_conntrack_udp_timeout_stream)"
	echo "icmp=$(sysctl_of net/netfilter/nf_conntrack_icmp_timeout)"
	[ -e "$VPNGW_STATE_FILE" ] && echo state
}
# same NAME WANT [CONTEXT]: the snapshot is WANT; else the difference.
same() {
	local name=$1 want=$2 ctx=${3:-} got
	got=$(snapshot)
	if [ "$got" = "$want" ]; then
		ok "$name"
	else
		bad "$name" "${ctx:+$ctx; }snapshot changed (< expected, > now):
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]')"
	fi
}
# refused NAME REGEX CMD...: CMD exits 1 with one line on stderr that
# matches REGEX. refused_clean: and the snapshot is still $before (or
# the function SNAP's output is still SNAP_BEFORE).
refusal() {
	local re=$1 err rc
	shift
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
		printf '%s\n' "$err" | grep -qE -- "$re"; then
		WHY=
		SAID=$err
	else
		WHY="exit $rc, stderr: $(printf '%s' "$err" | head -c 300)"
	fi
}
refused() {
	local name=$1
	shift
	refusal "$@"
	if [ -z "$WHY" ]; then ok "$name" "$SAID"; else bad "$name" "$WHY"; fi
}
refused_clean() {
	local name=$1
	shift
	refusal "$@"
	[ -n "$WHY" ] || [ "$(${SNAP:-snapshot})" = "${SNAP_BEFORE:-$before}" ] ||
		WHY="$SAID, but the snapshot changed"
	if [ -z "$WHY" ]; then ok "$name" "$SAID"; else bad "$name" "$WHY"; fi
}
# one_line NAME CMD...: CMD fails with exactly one line on stderr.
one_line() {
	local name=$1 err rc
	shift
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" != 0 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [ -n "$err" ]; then
		ok "$name" "$err"
	else
		bad "$name" "exit $rc, stderr: $(printf '%s' "$err" | head -c 300)"
	fi
}
# said RC OUT TEXT...: the command exited 0 (RC) and its output OUT has a
# line containing each TEXT.
said() {
	local rc=$1 out=$2 t
	shift 2
	[ "$rc" = 0 ] || return 1
	for t in "$@"; do
		printf '%s\n' "$out" | grep -qF -- "$t" || return 1
	done
}

conntrack_load "$N"
before=$(snapshot)

# --dry-run says what it would do and does nothing.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" --dry-run 2>&1)
rc=$?
same setup_dry_run_changes_nothing "$before" "$out"
check setup_dry_run_says "exit $rc: $out" said "$rc" "$out" \
	'ip tuntap add dev vst2 mode tun user 65534 group 65534' 'ip addr replace 10.0.122.1/24 dev vst2' \
	"nft -f - <<'EOF'" 'sysctl -w net.ipv4.ip_forward=1'

# serve --dry-run: as root with no pool, the setup serve would do, where it
# would listen and as whom it would run; nothing changed, nothing bound.
out=$(in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run --listen=127.0.0.1:8082 --path /t 2>&1)
rc=$?
same serve_dry_run_changes_nothing "$before" "$out"
check serve_dry_run_says "exit $rc: $out" said "$rc" "$out" 'ip tuntap add dev vst2 mode tun' \
	'would listen on 127.0.0.1:8082, path /t' 'would drop privileges to nobody'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=gw.test \
	-days 2 -keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" >/dev/null 2>&1
out=$(in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run \
	--tls-cert "$LIB_TMP/cert.pem" --tls-key "$LIB_TMP/key.pem" 2>&1)
rc=$?
check serve_dry_run_tls "exit $rc: $out" said "$rc" "$out" \
	"certificate $LIB_TMP/cert.pem and key $LIB_TMP/key.pem load: TLS 1.2, EC P-256" \
	'would listen on 127.0.0.1:8080 (TLS), any path'
refused serve_dry_run_bad_cert 'TLS: .*key.pem' in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run \
	--tls-cert "$LIB_TMP/key.pem" --tls-key "$LIB_TMP/key.pem"
refused serve_dry_run_bad_listen 'expected ADDR:PORT' \
	in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run --listen nowhere
refused serve_dry_run_no_pool_not_root "not set up; run 'vpngw setup' as root first" \
	in_ns "${NOBODY[@]}" timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run
out=$(in_ns timeout 10 "$VPNGW" serve --dry-run --pool 200 --tun-prefix vbig --subnet 10.1.0.0/24 2>&1)
rc=$?
check serve_dry_run_pool_200 "exit $rc: $(printf '%s' "$out" | tail -n 2)" \
	said "$rc" "$out" 'ip addr replace 10.1.199.1/24 dev vbig199'
same serve_dry_runs_left_nothing "$before"

# setup makes the pool, owned by nobody, and records what it changed.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" 2>&1)
rc=$?
link=$(in_ns ip -d link show vst1 2>/dev/null)
check setup_devices "rc $rc: $out; vst1: $link" \
	bash -c '[[ "$1" == *"persist on user nobody"* ]]' _ "$link"
check setup_addresses "$(in_ns ip -br addr show)" \
	test "$(in_ns ip -br -4 addr show dev vst2 | awk '{print $3}')" = 10.0.122.1/24
tbl=$(in_ns nft list table inet vpngw 2>&1)
check setup_masquerade "$tbl" \
	bash -c '[[ "$1" == *"ip saddr 10.0.120.0-10.0.122.255 oifname \"e0\" masquerade"* ]]' _ "$tbl"
check setup_forwarding "ip_forward $(sysctl_of net/ipv4/ip_forward)" \
	test "$(sysctl_of net/ipv4/ip_forward)" = 1
check setup_conntrack_timeouts "udp stream $(sysctl_of net/netfilter/nf_conntrack_udp_timeout_stream)" \
	test "$(sysctl_of net/netfilter/nf_conntrack_udp_timeout_stream)" -le 60
configured=$(snapshot)

# Idempotent.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" 2>&1)
same setup_idempotent "$configured" "exit $?: $out"

# serve --dry-run with the pool in place: nothing to set up.
out=$(in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run 2>&1)
rc=$?
check serve_dry_run_pool_ready "exit $rc: $out" \
	bash -c '[ "$1" = 0 ] && [[ "$2" == *"the pool vst0..vst2 is set up"* && "$2" != *"ip tuntap add"* ]]' \
	_ "$rc" "$out"
same serve_dry_run_pool_ready_unchanged "$configured"

# teardown restores exactly the state before setup; twice is fine.
out=$(in_ns "$VPNGW" teardown "${TD_ARGS[@]}" 2>&1)
same teardown_restores "$before" "$out"
out=$(in_ns "$VPNGW" teardown "${TD_ARGS[@]}" 2>&1)
same teardown_idempotent "$before" "exit $?: $out"

# teardown --dry-run deletes the pool's link group at once: nothing else is
# in it. A device an older setup left outside the group (in the state file,
# not in the group) goes too, one by one.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" 2>&1)
out=$(in_ns "$VPNGW" teardown "${TD_ARGS[@]}" --dry-run 2>&1)
rc=$?
check teardown_dry_run_group "exit $rc: $out" said "$rc" "$out" \
	'# the 3 tun devices of link group 0x76706777 at once' 'ip link delete group 0x76706777'
in_ns ip link set vst1 group default
out=$(in_ns "$VPNGW" teardown "${TD_ARGS[@]}" 2>&1)
same teardown_outside_group "$before" "exit $?: $out"

# A failing setup undoes itself.
one_line setup_bad_egress in_ns "$VPNGW" setup "${ARGS[@]}" --egress nosuch0
same setup_bad_egress_clean "$before"
in_ns ip route del default
one_line setup_no_default_route in_ns "$VPNGW" setup "${ARGS[@]}"
same setup_no_default_route_clean "$before"
in_ns ip route add default via 198.51.100.1

# serve as root with no setup, on a port in use: refused before the host is
# touched. Its own setup is undone when the start fails later. serve
# --dry-run binds nothing, so the port in use does not stop it.
bg_in "$N" /usr/bin/python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",8080)); s.listen(); time.sleep(60)'
wait_port "$N" 127.0.0.1 8080
one_line serve_port_in_use in_ns "$VPNGW" serve "${ARGS[@]}"
same serve_port_in_use_clean "$before"
out=$(in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --dry-run 2>&1)
rc=$?
check serve_dry_run_binds_nothing "exit $rc: $out" said "$rc" "$out" 'would listen on 127.0.0.1:8080'

# Large pools, in a namespace of their own: setup --pool 1000 then teardown
# leaves the links, the addresses and the whole ruleset exactly as they
# were; 4096 slots fit in 10.64.0.0/10, and the state file holds them all.
ns_dead_end B big || exit 1
in_big() { ns_exec "$B" "$@"; }
big_snapshot() { in_big ip -d link; in_big ip addr; in_big nft list ruleset; }
# big_same NAME WANT [CONTEXT]: big_snapshot is WANT; else the difference.
big_same() {
	local got
	got=$(big_snapshot)
	if [ "$got" = "$2" ]; then
		ok "$1"
	else
		bad "$1" "${3:+$3; }changed (< expected, > now):
$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$got") | grep '^[<>]' | head -20)"
	fi
}
count_of() { in_big ip -o link show group "$1" | wc -l; }
GROUP=0x76706777
# big_pool N LAST: setup --pool N makes N devices in the group, the last
# with address LAST; teardown then restores the namespace.
big_pool() {
	local out rc
	out=$(in_big "$VPNGW" setup --pool "$1" --tun-prefix vbig --subnet 10.64.0.0/10 \
		--client-prefix 24 2>&1)
	rc=$?
	check "setup_pool_$1" "exit $rc: $out; $(count_of $GROUP) in the group" \
		test "$rc" = 0 -a "$(count_of $GROUP)" = "$1"
	check "setup_pool_$1_last_address" "$(in_big ip -br -4 addr show dev "vbig$(($1 - 1))")" \
		test "$(in_big ip -br -4 addr show dev "vbig$(($1 - 1))" | awk '{print $3}')" = "$2"
	out=$(in_big "$VPNGW" teardown --pool "$1" --tun-prefix vbig 2>&1)
	big_same "teardown_pool_$1_restores" "$big_before" "exit $?: $out"
}
big_before=$(big_snapshot)
big_pool 1000 10.67.231.1/24

# Someone else's devices in the pool's group (a veth, a TUN) survive
# teardown, which then deletes the pool's devices one by one.
out=$(in_big "$VPNGW" setup --pool 3 --tun-prefix vbig --subnet 10.64.0.0/24 2>&1)
in_big ip link add xveth0 group "$GROUP" type veth peer name xveth1
in_big ip tuntap add xtun0 mode tun
in_big ip link set xtun0 group "$GROUP"
out=$(in_big "$VPNGW" teardown --pool 3 --tun-prefix vbig 2>&1)
rc=$?
left=$(in_big ip -o link show group "$GROUP" | awk -F': ' '{print $2}' | sort | tr '\n' ' ')
check teardown_spares_others_in_group "exit $rc: $out; left in the group: $left" \
	test "$rc" = 0 -a "$left" = "xtun0 xveth0@xveth1 "
in_big ip link del xveth0
in_big ip link del xtun0
big_same teardown_spares_others_restores "$big_before" "$out"

big_pool 4096 10.79.255.1/24
# Too many for the address space, or for vpngw: one line, nothing done.
SNAP=big_snapshot SNAP_BEFORE=$big_before refused_clean setup_pool_4096_does_not_fit '^vpngw: --pool 4096 does not fit after --subnet$' \
	in_big "$VPNGW" setup --pool 4096 --tun-prefix vbig --subnet 255.241.0.0/24
SNAP=big_snapshot SNAP_BEFORE=$big_before refused_clean setup_pool_4097 '^vpngw: setup: --pool 4097: expected a number from 1 to 4096' \
	in_big "$VPNGW" setup --pool 4097 --tun-prefix vbig --subnet 10.64.0.0/10

# ---- Netlink alone, and the dry run as a script ----
# setup and teardown run no program: in a mount namespace where neither nft
# nor ip can be run, setup installs the table itself (nf_tables netlink) and
# teardown removes it, leaving the ruleset as it was. setup --dry-run's
# script, run with sh in another fresh namespace, leaves the same pool
# devices, addresses, sysctls and ruleset as setup: so the table's nft text
# and its netlink encoding, both made from one description, say the same,
# open ports (an anonymous set, and a single port) included.
ns_dead_end NA nft-a || exit 1
ns_dead_end NB nft-b || exit 1
: >"$LIB_TMP/nothing"
# no_tools NS [VAR=VALUE...] CMD...: CMD in NS with every nft and ip
# covered by an empty file that is not executable, /usr/sbin hidden and no
# PATH; 99 if one can still be found.
no_tools() {
	local ns=$1
	shift
	ns_exec "$ns" unshare -m sh -c 'nothing=$1; shift
		for t in nft ip; do for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
			[ -e "$d/$t" ] && { mount --bind "$nothing" "$d/$t" || exit 98; }
		done; done
		mount -t tmpfs none /usr/sbin || exit 98
		for t in nft ip; do for d in /usr/sbin /sbin /usr/bin /bin /usr/local/sbin /usr/local/bin; do
			[ -x "$d/$t" ] && exit 99
		done; done
		exec /usr/bin/env PATH=/nonexistent "$@"' _ "$LIB_TMP/nothing" "$@"
}
NARGS=(--pool 3 --tun-prefix vnl --subnet 10.0.130.0/24 --open-port 22 --open-port 53
	--open-port 53/udp --open-port 5353/udp)
# pool_picture NS: what setup controls there. The devices' flags and
# addresses as set, not their carrier or operational state, which the kernel
# changes on its own; counters as if nothing had been counted.
pool_picture() {
	ns_exec "$1" ip -d link show group 0x76706777 | sed -E 's/NO-CARRIER,//; s/ state [A-Z]+//'
	ns_exec "$1" ip addr show group 0x76706777 | sed -E 's/NO-CARRIER,//; s/ state [A-Z]+//'
	for d in vnl0 vnl1 vnl2; do
		echo "$d disable_ipv6=$(ns_exec "$1" cat "/proc/sys/net/ipv6/conf/$d/disable_ipv6" 2>/dev/null)"
	done
	ns_exec "$1" sysctl net.ipv4.ip_forward net.netfilter.nf_conntrack_udp_timeout \
		net.netfilter.nf_conntrack_udp_timeout_stream net.netfilter.nf_conntrack_icmp_timeout
	ns_exec "$1" nft list ruleset | sed -E 's/packets [0-9]+ bytes [0-9]+/packets 0 bytes 0/'
}
table_of() { ns_exec "$1" nft list table inet vpngw 2>&1 | sed -E 's/packets [0-9]+ bytes [0-9]+/packets 0 bytes 0/; s/ # handle [0-9]+//'; }
ruleset_before=$(ns_exec "$NA" nft list ruleset)
out=$(no_tools "$NA" VPNGW_STATE_FILE="$LIB_TMP/state-nl" "$VPNGW" setup "${NARGS[@]}" 2>&1)
rc=$?
tbl=$(table_of "$NA")
check setup_without_nft_or_ip "exit $rc: $out; table: $(head -c 200 <<<"$tbl")" \
	bash -c '[ "$1" = 0 ] && [[ "$2" == *"tcp dport { 22, 53 } accept"* &&
		"$2" == *"udp dport { 53, 5353 } accept"* && "$2" == *"comment \"vpngw "* ]]' _ "$rc" "$tbl"
script=$(ns_exec "$NB" env VPNGW_STATE_FILE="$LIB_TMP/state-nb" "$VPNGW" setup "${NARGS[@]}" --dry-run 2>&1)
rc=$?
out=$(printf '%s\n' "$script" | ns_exec "$NB" sh -e 2>&1)
check dry_run_script_runs "setup --dry-run exit $rc; sh -e: exit $?: $out" \
	test "$rc" = 0 -a "$?" = 0 -a ! -e "$LIB_TMP/state-nb"
got=$(table_of "$NB")
check netlink_table_is_the_text "nft list of the netlink table (<) and of nft -f's (>) differ:
$(diff <(printf '%s\n' "$tbl") <(printf '%s\n' "$got") | grep '^[<>]' | head -20)" \
	test "$tbl" = "$got" -a -n "$got"
want=$(pool_picture "$NA")
got=$(pool_picture "$NB")
check dry_run_script_does_what_setup_does "setup (<) and the script (>) differ:
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]' | head -20)" \
	test "$want" = "$got"
out=$(no_tools "$NA" VPNGW_STATE_FILE="$LIB_TMP/state-nl" "$VPNGW" teardown --pool 3 --tun-prefix vnl 2>&1)
rc=$?
after=$(ns_exec "$NA" nft list ruleset)
check teardown_without_nft_or_ip "exit $rc: $out; ruleset after: $(head -c 200 <<<"$after")" \
	test "$rc" = 0 -a "$after" = "$ruleset_before" -a \
	"$(ns_exec "$NA" ip -o link show group 0x76706777 | wc -l)" = 0
out=$(no_tools "$NA" VPNGW_STATE_FILE="$LIB_TMP/state-nl" "$VPNGW" teardown --pool 3 --tun-prefix vnl 2>&1)
check teardown_no_table_is_fine "exit $?: $out" test "$?" = 0
# teardown --dry-run's script, too, undoes setup's.
script=$(ns_exec "$NB" env VPNGW_STATE_FILE="$LIB_TMP/state-nb" "$VPNGW" teardown --pool 3 \
	--tun-prefix vnl --dry-run 2>/dev/null)
out=$(printf '%s\n' "$script" | ns_exec "$NB" sh -e 2>&1)
check teardown_dry_run_script_runs "sh -e: exit $?: $out; left: $(ns_exec "$NB" nft list ruleset | head -c 100)" \
	test "$?" = 0 -a -z "$(ns_exec "$NB" nft list ruleset)" -a \
	"$(ns_exec "$NB" ip -o link show group 0x76706777 | wc -l)" = 0

# ---- IPv6 ----
# An egress with an IPv6 default route: each slot also gets prefix::1 of
# its /64 (out of the default fd00:0:0:100::/56... : slot i is
# fd00:0:0:100+i::/64), no link-local address; IPv6 forwarding on and the
# egress's accept_ra 1 made 2, both restored by teardown; the table
# masquerades and guards the pool's IPv6 range. Without such a route IPv6
# is off with one line, and --subnet6 given makes that an error.
ns_v6() {	# ns_v6 VAR TAG: ns_dead_end with 2001:db8:1::2/64, default via ::1
	ns_dead_end "$1" "$2" || return 1
	ip -n "${!1}" link set e1 up &&
		ip -n "${!1}" -6 addr add 2001:db8:1::2/64 dev e0 nodad &&
		ip -n "${!1}" -6 route add default via 2001:db8:1::1 dev e0 &&
		ns_exec "${!1}" sysctl -qw net.ipv6.conf.e0.accept_ra=1
}
ns_v6 N6 setup6 || exit 1
in6() { ns_exec "$N6" env VPNGW_STATE_FILE="$LIB_TMP/state6" "$@"; }
sys6() { ns_exec "$N6" cat "/proc/sys/$1" 2>/dev/null; }
V6ARGS=(--pool 2 --tun-prefix v6s --subnet 10.0.140.0/24)
conntrack_load "$N6"
v6_before="fwd6=$(sys6 net/ipv6/conf/all/forwarding) ra=$(sys6 net/ipv6/conf/e0/accept_ra)"
out=$(in6 "$VPNGW" setup "${V6ARGS[@]}" 2>&1)
rc=$?
a1=$(ns_exec "$N6" ip -6 addr show dev v6s1 2>&1)
check setup6_addresses "exit $rc: $out; v6s1: $a1" \
	bash -c '[[ "$1" == *"inet6 fd00:0:0:101::1/64 scope global nodad"* && "$1" != *fe80* ]]' _ "$a1"
# The slots are no routers of their own: no all-routers group, no MLD
# reports into the tunnel.
m1=$(ns_exec "$N6" ip -6 maddr show dev v6s1 2>&1)
check setup6_no_router_groups "$m1" bash -c '[[ "$1" != *ff02::2* && "$1" != *ff05::2* ]]' _ "$m1"
check setup6_forwarding "all.forwarding $(sys6 net/ipv6/conf/all/forwarding); state: $(cat "$LIB_TMP/state6" 2>&1)" \
	bash -c '[ "$1" = 1 ] && grep -qx "sysctl net/ipv6/conf/all/forwarding 0" "$2"' _ \
	"$(sys6 net/ipv6/conf/all/forwarding)" "$LIB_TMP/state6"
check setup6_accept_ra "e0 accept_ra $(sys6 net/ipv6/conf/e0/accept_ra); state: $(cat "$LIB_TMP/state6" 2>&1)" \
	bash -c '[ "$1" = 2 ] && grep -qx "sysctl net/ipv6/conf/e0/accept_ra 1" "$2"' _ \
	"$(sys6 net/ipv6/conf/e0/accept_ra)" "$LIB_TMP/state6"
tbl6=$(ns_exec "$N6" nft list table inet vpngw 2>&1)
check setup6_table "$tbl6" bash -c '[[ "$1" == *"ip6 saddr fd00:0:0:100::-fd00::101:ffff:ffff:ffff:ffff oifname \"e0\" masquerade"* &&
	"$1" == *"ip6 saddr fd00:0:0:100::-fd00::101:ffff:ffff:ffff:ffff oifname != \"lo\" oifname != \"v6s*\" counter name \"leak\" drop"* ]]' _ "$tbl6"
pic6() {	# pic6 NS: the slots' IPv6 side, the sysctls, the table
	ns_exec "$1" sh -c 'for d in /sys/class/net/v6s*; do d=${d##*/}
		echo "$d $(ip -o -6 addr show dev "$d" | awk "{print \$4, \$5, \$6, \$7}")" \
			"gen=$(cat /proc/sys/net/ipv6/conf/$d/addr_gen_mode)" \
			"ra=$(cat /proc/sys/net/ipv6/conf/$d/accept_ra)" \
			"fwd=$(cat /proc/sys/net/ipv6/conf/$d/forwarding)" \
			"off=$(cat /proc/sys/net/ipv6/conf/$d/disable_ipv6)"; done'
	ns_exec "$1" sysctl net.ipv6.conf.all.forwarding net.ipv6.conf.e0.accept_ra net.ipv4.ip_forward
	ns_exec "$1" nft list ruleset | sed -E 's/packets [0-9]+ bytes [0-9]+/packets 0 bytes 0/'
}
configured6=$(pic6 "$N6")
out=$(in6 "$VPNGW" setup "${V6ARGS[@]}" 2>&1)
check setup6_idempotent "exit $?: $out; $(diff <(printf '%s\n' "$configured6") <(pic6 "$N6") | head -5)" \
	test "$configured6" = "$(pic6 "$N6")"
pool6=$(printf '%s\n' "${V6ARGS[@]}" | head -4)
v6_ok=$(in6 "$VPNGW" serve --help 2>&1 | grep -c -- --subnet6)
out=$(in6 "$VPNGW" teardown --pool 2 --tun-prefix v6s 2>&1)
rc=$?
v6_after="fwd6=$(sys6 net/ipv6/conf/all/forwarding) ra=$(sys6 net/ipv6/conf/e0/accept_ra)"
check teardown6_restores "exit $rc: $out; before $v6_before, after $v6_after; $(ns_exec "$N6" nft list ruleset | head -c 100)" \
	test "$rc" = 0 -a "$v6_after" = "$v6_before" -a -z "$(ns_exec "$N6" nft list ruleset)" -a \
	"$(ns_exec "$N6" ip -o link show group 0x76706777 | wc -l)" = 0
# The dry run's script with IPv6 on does what setup does (two fresh
# namespaces alike), and teardown's undoes it.
ns_v6 NA6 setup6a || exit 1
ns_v6 NB6 setup6b || exit 1
conntrack_load "$NA6"
conntrack_load "$NB6"
out=$(ns_exec "$NA6" env VPNGW_STATE_FILE="$LIB_TMP/state6a" "$VPNGW" setup "${V6ARGS[@]}" 2>&1)
rc=$?
script=$(ns_exec "$NB6" env VPNGW_STATE_FILE="$LIB_TMP/state6b" "$VPNGW" setup "${V6ARGS[@]}" --dry-run 2>&1)
out2=$(printf '%s\n' "$script" | ns_exec "$NB6" sh -e 2>&1)
rc2=$?
want=$(pic6 "$NA6")
got=$(pic6 "$NB6")
check dry_run6_script_does_what_setup_does "setup exit $rc, script exit $rc2: $out2; setup (<) and the script (>) differ:
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]' | head -20)" \
	bash -c '[ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" = "$4" ] && [[ "$5" == *"ip -6 addr replace fd00:0:0:101::1/64 dev v6s1 nodad"* ]]' _ \
	"$rc" "$rc2" "$want" "$got" "$script"
cp "$LIB_TMP/state6a" "$LIB_TMP/state6b"	# what the script's setup would have recorded
script=$(ns_exec "$NB6" env VPNGW_STATE_FILE="$LIB_TMP/state6b" "$VPNGW" teardown --pool 2 \
	--tun-prefix v6s --dry-run 2>/dev/null)
out2=$(printf '%s\n' "$script" | ns_exec "$NB6" sh -e 2>&1)
rc2=$?
out=$(ns_exec "$NA6" env VPNGW_STATE_FILE="$LIB_TMP/state6a" "$VPNGW" teardown --pool 2 --tun-prefix v6s 2>&1)
rc=$?
check teardown6_dry_run_does_what_teardown_does "teardown exit $rc: $out; script exit $rc2: $out2
$(diff <(pic6 "$NA6") <(pic6 "$NB6") | grep '^[<>]' | head -10)" \
	bash -c '[ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" = "$4" ] && [[ "$3" == *"forwarding = 0"*"accept_ra = 1"* ]]' _ \
	"$rc" "$rc2" "$(pic6 "$NA6")" "$(pic6 "$NB6")"
# No IPv6 default route (N): IPv6 off, said in one line; the slots have no
# IPv6 at all.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" --dry-run 2>&1)
check setup6_off_without_route "$out" \
	bash -c '[[ "$1" == *"# IPv6 off: no IPv6 default route (egress e0)"* && "$1" != *"ip -6"* ]]' _ "$out"
if [ "$v6_ok" != 0 ]; then
	out=$(in6 "$VPNGW" setup "${V6ARGS[@]}" --subnet6 none --dry-run 2>&1)
	check setup6_subnet6_none "$out" \
		bash -c '[[ "$1" != *"ip -6"* && "$1" != *"ipv6.conf.all.forwarding"* && "$1" != *"ip6 saddr"* ]]' _ "$out"
	refused_clean setup6_subnet6_needs_route '^vpngw: --subnet6: no IPv6 default route \(egress e0\)' \
		in_ns "$VPNGW" setup "${ARGS[@]}" --subnet6 fd00:0:0:100::/64
else
	skip setup6_subnet6_none "--subnet6 is not wired in cli.c yet"
	skip setup6_subnet6_needs_route "--subnet6 is not wired in cli.c yet"
fi

# Errors a user can cause: one line, non-zero, nothing configured.
one_line err_no_command "$VPNGW"
one_line err_unknown_command "$VPNGW" frobnicate
refused err_unknown_flag '^vpngw: serve: unknown option --frobnicate \(see vpngw serve --help\)$' \
	in_ns timeout 10 "$VPNGW" serve --frobnicate
refused err_missing_value 'serve: --listen needs a value' in_ns timeout 10 "$VPNGW" serve --listen
refused err_option_as_value 'serve: --listen needs a value' in_ns timeout 10 "$VPNGW" serve --listen --pool 3
refused err_value_for_flag 'serve: --dry-run takes no value' in_ns timeout 10 "$VPNGW" serve --dry-run=yes
refused err_bad_dns 'serve: --dns 192.0.2.0/24: expected an IPv4 or IPv6 address' \
	in_ns timeout 10 "$VPNGW" serve --dns 192.0.2.0/24
refused err_unexpected_argument 'setup: unexpected argument extra' \
	in_ns "$VPNGW" setup "${ARGS[@]}" extra
one_line err_bad_pool in_ns "$VPNGW" serve --pool 0
refused err_bad_number '--linger 1x: expected a number from 0 to 3600' \
	in_ns timeout 10 "$VPNGW" serve --linger 1x
refused err_number_overflow '--pool 18446744073709551617: expected a number' \
	in_ns timeout 10 "$VPNGW" serve --pool 18446744073709551617
one_line err_bad_subnet in_ns "$VPNGW" serve --subnet 10.0.0.0/33
one_line err_bad_allow in_ns "$VPNGW" serve --allow 300.1.2.3/8
one_line err_bad_listen in_ns "$VPNGW" serve --listen nowhere
one_line err_bad_port in_ns "$VPNGW" serve --listen 127.0.0.1:70000
one_line err_bad_user in_ns "$VPNGW" serve --user no-such-user-here
one_line err_bad_user_gid in_ns "$VPNGW" setup --dry-run --user 65534:x
one_line err_bad_user_id in_ns "$VPNGW" setup --dry-run --user 4294967295
# A numeric UID[:GID] needs no user database (a scratch root has none).
out=$(in_ns "$VPNGW" setup --dry-run --pool 1 --user 65534:65533 2>&1)
if [ "$?" = 0 ] && echo "$out" | grep -q 'user 65534 group 65533'; then
	ok user_uid_gid "$(echo "$out" | head -n 1)"
else
	bad user_uid_gid "$(echo "$out" | head -n 2 | tr '\n' ' ')"
fi
one_line err_pool_too_big in_ns "$VPNGW" setup --pool 1000 --subnet 255.255.0.0/24
one_line err_cert_without_key in_ns "$VPNGW" serve --tls-cert /nonexistent.pem
one_line err_missing_cert in_ns "$VPNGW" serve --tls-cert /nonexistent.pem --tls-key /nonexistent.key
one_line err_setup_not_root in_ns "${NOBODY[@]}" "$VPNGW" setup "${ARGS[@]}"
one_line err_teardown_not_root in_ns "${NOBODY[@]}" "$VPNGW" teardown "${TD_ARGS[@]}"
one_line err_serve_no_tun in_ns "${NOBODY[@]}" "$VPNGW" serve "${ARGS[@]}" --listen 127.0.0.1:8081
one_line err_connect_no_url in_ns "$VPNGW" connect
same errors_left_nothing "$before"

# Each command refuses the options of another, as root, before it does
# anything: one line, exit 1, nothing changed.
OTHER='is an option of'
refused_clean setup_refuses_listen "setup: --listen $OTHER serve, not of setup" \
	in_ns "$VPNGW" setup "${ARGS[@]}" --listen 127.0.0.1:8083
refused_clean setup_refuses_tls_cert "setup: --tls-cert $OTHER serve, not of setup" \
	in_ns "$VPNGW" setup "${ARGS[@]}" --tls-cert "$LIB_TMP/cert.pem"
refused_clean setup_refuses_allow "setup: --allow $OTHER serve, not of setup" \
	in_ns "$VPNGW" setup "${ARGS[@]}" --allow 198.51.100.0/24
refused_clean teardown_refuses_path "teardown: --path $OTHER serve, not of teardown" \
	in_ns "$VPNGW" teardown "${TD_ARGS[@]}" --path /vpn
refused_clean teardown_refuses_subnet "teardown: --subnet $OTHER setup and serve, not of teardown" \
	in_ns "$VPNGW" teardown "${ARGS[@]}"
refused_clean serve_refuses_tun "serve: --tun $OTHER connect, not of serve" \
	in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --tun vpngw-c0
refused_clean serve_refuses_route "serve: --route $OTHER connect, not of serve" \
	in_ns timeout 10 "$VPNGW" serve "${ARGS[@]}" --route 198.51.100.0/24
refused_clean connect_refuses_pool "connect: --pool $OTHER setup, teardown and serve, not of connect" \
	in_ns "$VPNGW" connect --pool 3 ws://192.0.2.1:8080/
refused_clean connect_refuses_dry_run "connect: --dry-run $OTHER setup, teardown and serve, not of connect" \
	in_ns "$VPNGW" connect --dry-run ws://192.0.2.1:8080/

# --help: each command's own options, one a line, and vpngw --help names
# every command.
help_of() { "$VPNGW" "$@" --help 2>&1; }
out=$(help_of serve)
rc=$?
check help_serve "exit $rc: $out" \
	bash -c '[ "$1" = 0 ] && [[ "$2" == *"--listen ADDR:PORT"* && "$2" != *"--tun "* ]]' _ "$rc" "$out"
out=$(help_of setup)
rc=$?
check help_setup "exit $rc: $out" \
	bash -c '[ "$1" = 0 ] && [[ "$2" == *"--pool N"* && "$2" != *"--listen"* ]]' _ "$rc" "$out"
out=$(help_of connect)
rc=$?
check help_connect "exit $rc: $out" said "$rc" "$out" '--token TOKEN' '--pin sha256/BASE64'
out=$("$VPNGW" --help 2>&1)
rc=$?
check help_names_every_command "exit $rc: $out" \
	bash -c '[ "$1" = 0 ] && for c in setup teardown serve connect; do
		grep -q "^vpngw $c " <<<"$2" || exit 1; done' _ "$rc" "$out"

# The options each --help lists are exactly those its command accepts:
# every listed option is taken (its value is then refused, or --pool 0 or
# the missing URL stops the command), every other command's is refused as
# theirs. As nobody, so that nothing could be changed even so.
declare -A LISTED TRIED
for cmd in setup teardown serve connect; do
	LISTED[$cmd]=$(help_of "$cmd" | awk '/^  -/ {
		sub(/^  /, ""); split($0, f, /  +/); spec = f[1]; sub(/^-., /, "", spec)
		print spec }')
done
wrong=()
for cmd in setup teardown serve connect; do
	[ -n "${LISTED[$cmd]}" ] || wrong+=("$cmd lists no options")
	stop=(--pool 0)
	[ "$cmd" = connect ] && stop=()
	for other in setup teardown serve connect; do
		while read -r name value; do
			[ -n "$name" ] && [ "$name" != --help ] && [ -z "${TRIED[$cmd $name]:-}" ] || continue
			TRIED[$cmd $name]=1
			arg=$name${value:+=x}
			err=$(in_ns "${NOBODY[@]}" timeout 10 "$VPNGW" "$cmd" "$arg" "${stop[@]}" 2>&1 >/dev/null)
			rc=$?
			if grep -qxF -- "$name${value:+ $value}" <<<"${LISTED[$cmd]}"; then
				if [ "$rc" = 0 ] || [ "$(printf '%s\n' "$err" | wc -l)" != 1 ] ||
					grep -qE 'unknown option|is an option of|not supported|not handled' <<<"$err"; then
					wrong+=("$cmd $arg: exit $rc, $err")
				fi
			elif ! grep -qE "^vpngw: $cmd: $name is an option of .*$other" <<<"$err" || [ "$rc" != 1 ]; then
				wrong+=("$cmd $arg (of $other): exit $rc, $err")
			fi
		done <<<"${LISTED[$other]}"
	done
done
check help_lists_exactly_accepted "$(printf '%s; ' "${wrong[@]}")" test "${#wrong[@]}" = 0

# vpngw --help shows each command with the options its own --help lists.
wrong=()
for cmd in setup teardown serve connect; do
	syn=$("$VPNGW" --help | awk -v c="$cmd" '/^vpngw / { on = $2 == c } on' |
		grep -oE -- '(^| |\[)--?[a-z][a-z0-9-]*' | tr -d ' [' | sort)
	own=$(help_of "$cmd" | grep -oE -- '^  (-[a-z], )?--[a-z0-9-]+' |
		sed 's/^  //; s/^\(-[a-z]\), --.*/\1/' | grep -vx -- '-h' | sort)
	[ -n "$own" ] && [ "$syn" = "$own" ] || wrong+=("$cmd: $(diff <(echo "$own") <(echo "$syn") | grep '^[<>]' | tr '\n' ' ')")
done
check help_synopsis_agrees "$(printf '%s; ' "${wrong[@]}")" test "${#wrong[@]}" = 0

# The README's synopsis is the one vpngw --help prints.
readme=$(awk '/^## Use/ { u = 1 } u && /^```/ { if (b) exit; b = 1; next } b' README.md)
check readme_synopsis "README.md's Use block is not in vpngw --help" \
	bash -c '[ -n "$1" ] && [[ "$2" == *"$1"* ]]' _ "$readme" "$("$VPNGW" --help)"
check version_exit_0 "vpngw --version failed" bash -c '"$1" --version | grep -q "^vpngw "' _ "$VPNGW"

finish
