#!/bin/bash
# SPDX-License-Identifier: MIT
# setup.sh: `vpngw setup` and `teardown` against the real kernel, and the
# one-line errors of every command, in a namespace of their own:
#
#   [ ns: e0 198.51.100.2/24, default via 198.51.100.1 ]   (nothing behind e0)
#
# setup must be idempotent, teardown must restore exactly what setup changed
# (devices, table, sysctls), a failed setup or serve start must leave nothing,
# and each error a user can cause is one line on stderr and a non-zero exit.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. test/lib.sh

suite_start
check() { local name=$1 why=$2; shift 2; if "$@"; then ok "$name"; else bad "$name" "$why"; fi; }

ns_add N setup || exit 1
ip -n "$N" link add e0 type veth peer name e1 || exit 1
ip -n "$N" addr add 198.51.100.2/24 dev e0
ip -n "$N" link set e0 up
ip -n "$N" route add default via 198.51.100.1
export VPNGW_STATE_FILE=$LIB_TMP/state
ARGS=(--pool 3 --tun-prefix vst --subnet 10.0.120.0/24)
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

in_ns() { ns_exec "$N" "$@"; }
sysctl_of() { in_ns cat "/proc/sys/$1" 2>/dev/null; }
# A picture of everything setup may change, to compare before and after.
snapshot() {
	in_ns ip -br addr show | grep -v '^lo\|^e[01]' | sort
	in_ns nft list tables 2>/dev/null
	echo "fwd=$(sysctl_of net/ipv4/ip_forward)"
	echo "udps=$(sysctl_of net/netfilter/nf_conntrack_udp_timeout_stream)"
	echo "icmp=$(sysctl_of net/netfilter/nf_conntrack_icmp_timeout)"
	[ -e "$VPNGW_STATE_FILE" ] && echo state
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

# The namespace loads nf_conntrack on first use: do it so that the
# snapshot before and after see the same sysctl files.
in_ns nft -f - <<'EOF'
table ip probe {
	chain c {
		type filter hook output priority 0; policy accept;
		ct state new accept
	}
}
delete table ip probe
EOF
before=$(snapshot)

# --dry-run says what it would do and does nothing.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" --dry-run 2>&1)
check setup_dry_run "changed something or said nothing: $out" \
	test "$(snapshot)" = "$before" -a -n "$(echo "$out" | grep 'would create tun vst2 10.0.122.1/24')"

# setup makes the pool, owned by nobody, and records what it changed.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" 2>&1)
rc=$?
link=$(in_ns ip -d link show vst1 2>/dev/null)
check setup_devices "rc $rc: $out; vst1: $link" \
	bash -c '[[ "$1" == *"persist on user nobody"* ]]' _ "$link"
check setup_addresses "$(in_ns ip -br addr show)" \
	test "$(in_ns ip -br -4 addr show dev vst2 | awk '{print $3}')" = 10.0.122.1/24
tbl=$(in_ns nft list table ip vpngw 2>&1)
check setup_masquerade "$tbl" \
	bash -c '[[ "$1" == *"ip saddr 10.0.120.0-10.0.122.255 oifname \"e0\" masquerade"* ]]' _ "$tbl"
check setup_forwarding "ip_forward $(sysctl_of net/ipv4/ip_forward)" \
	test "$(sysctl_of net/ipv4/ip_forward)" = 1
check setup_conntrack_timeouts "udp stream $(sysctl_of net/netfilter/nf_conntrack_udp_timeout_stream)" \
	test "$(sysctl_of net/netfilter/nf_conntrack_udp_timeout_stream)" -le 60
configured=$(snapshot)

# Idempotent.
out=$(in_ns "$VPNGW" setup "${ARGS[@]}" 2>&1)
check setup_idempotent "rc $?: $out" test "$(snapshot)" = "$configured"

# teardown restores exactly the state before setup; twice is fine.
out=$(in_ns "$VPNGW" teardown "${ARGS[@]}" 2>&1)
check teardown_restores "$out; $(snapshot | tr '\n' ' ')" test "$(snapshot)" = "$before"
out=$(in_ns "$VPNGW" teardown "${ARGS[@]}" 2>&1)
check teardown_idempotent "rc $?: $out" test "$(snapshot)" = "$before"

# A failing setup undoes itself.
one_line setup_bad_egress in_ns "$VPNGW" setup "${ARGS[@]}" --egress nosuch0
check setup_bad_egress_clean "$(snapshot | tr '\n' ' ')" test "$(snapshot)" = "$before"
in_ns ip route del default
one_line setup_no_default_route in_ns "$VPNGW" setup "${ARGS[@]}"
check setup_no_default_route_clean "$(snapshot | tr '\n' ' ')" test "$(snapshot)" = "$before"
in_ns ip route add default via 198.51.100.1

# serve as root with no setup, on a port in use: refused before the host is
# touched. Its own setup is undone when the start fails later.
bg_in "$N" /usr/bin/python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",8080)); s.listen(); time.sleep(60)'
wait_port "$N" 127.0.0.1 8080
one_line serve_port_in_use in_ns "$VPNGW" serve "${ARGS[@]}"
check serve_port_in_use_clean "$(snapshot | tr '\n' ' ')" test "$(snapshot)" = "$before"

# Errors a user can cause: one line, non-zero, nothing configured.
one_line err_no_command "$VPNGW"
one_line err_unknown_command "$VPNGW" frobnicate
one_line err_unknown_flag in_ns "$VPNGW" serve --frobnicate
one_line err_missing_value in_ns "$VPNGW" serve --listen
one_line err_bad_pool in_ns "$VPNGW" serve --pool 0
one_line err_bad_subnet in_ns "$VPNGW" serve --subnet 10.0.0.0/33
one_line err_bad_allow in_ns "$VPNGW" serve --allow 300.1.2.3/8
one_line err_bad_listen in_ns "$VPNGW" serve --listen nowhere
one_line err_bad_port in_ns "$VPNGW" serve --listen 127.0.0.1:70000
one_line err_bad_user in_ns "$VPNGW" serve --user no-such-user-here
one_line err_pool_too_big in_ns "$VPNGW" setup --pool 1000 --subnet 255.255.0.0/24
one_line err_cert_without_key in_ns "$VPNGW" serve --tls-cert /nonexistent.pem
one_line err_missing_cert in_ns "$VPNGW" serve --tls-cert /nonexistent.pem --tls-key /nonexistent.key
one_line err_setup_not_root in_ns "${NOBODY[@]}" "$VPNGW" setup "${ARGS[@]}"
one_line err_teardown_not_root in_ns "${NOBODY[@]}" "$VPNGW" teardown "${ARGS[@]}"
one_line err_serve_no_tun in_ns "${NOBODY[@]}" "$VPNGW" serve "${ARGS[@]}" --listen 127.0.0.1:8081
one_line err_connect_no_url in_ns "$VPNGW" connect
check errors_left_nothing "$(snapshot | tr '\n' ' ')" test "$(snapshot)" = "$before"
check help_exit_0 "vpngw --help failed" bash -c '"$1" --help | grep -q "vpngw serve"' _ "$VPNGW"
check version_exit_0 "vpngw --version failed" bash -c '"$1" --version | grep -q "^vpngw "' _ "$VPNGW"

finish
