#!/bin/bash
# SPDX-License-Identifier: MIT
# test/scratch.sh: the static binary alone in an empty root, as a `FROM
# scratch` container image holds it (contrib/Dockerfile), as root. The root
# holds /vpngw and the mount points it needs: /dev/null, /dev/urandom and
# /dev/net/tun (the host's nodes bound over empty files), /proc (a proc
# mounted there, so that /proc/sys is the gateway namespace's) and /run (an
# empty directory, for /run/vpngw/state). Each command runs as
# `ip netns exec NS unshare -m sh -c 'mount...; exec chroot ROOT /vpngw ...'`:
# the mounts live in a mount namespace of their own and vanish with it, and
# no nft, ip or shell is reachable inside the root. The gateway's setup,
# serve (as --user 65534:65534: a scratch root has no /etc/passwd) and
# teardown all run there; the client and the checks run outside it, with
# the host's tools.
#
#   ns scr-cli: eth0 192.0.2.2/24, no default route
#      |     runs: vpngw connect ws://192.0.2.1:8080/ --route 203.0.113.0/24
#      |     (the host's binary), ping, curl
#   ns scr-gw: eth1 192.0.2.1/24, eth0 203.0.113.2/24, default via .1
#      |     runs: chroot ROOT /vpngw setup, serve, teardown
#      |
#   ns scr-inet: eth0 203.0.113.1/24
#            runs: python3 -m http.server on :80, a 2 MB random file
#
# The tests: the root's layout, --version and setup --dry-run in it, setup
# (its devices, owner, table and state file), serve dropped to 65534, a ping
# and an HTTP download with its SHA-256 through the tunnel, serve's exit on
# SIGTERM, then teardown, after which the gateway namespace's `ip -d link`,
# `ip addr` and `nft list ruleset` must each be what they were before setup.
# Then the same (container_*) as `docker run` starts contrib/Dockerfile's
# image: /proc/sys read-only, the sysctls set beforehand from outside as its
# --sysctl flags set them, and serve alone, setting the pool up itself.
# lib.sh removes every namespace and process it made, even on failure or ^C.
# Ends with "N passed, N failed".
#
# Environment: VPNGW (the binary copied into the root, default ./vpngw),
# KEEP_TMP=1 keeps the logs and the root. SCRATCH_CHROOT=0 is a debugging
# aid: the same flow with the same state file, without the chroot (so with
# the host's nft within reach), to tell a fault of the empty root from one
# of the flow.
# shellcheck disable=SC2016 # single-quoted scripts get their values as "$1"...
set -u
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

suite_start
check() { local name=$1 why=$2; shift 2; if "$@"; then ok "$name"; else bad "$name" "$why"; fi; }

CHROOT=${SCRATCH_CHROOT:-1}
ROOT=$LIB_TMP/root
STATE=$ROOT/run/vpngw/state
POOL=(--pool 2 --user 65534:65534)
ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

# ---- The root: the binary and empty mount points, nothing else ----
if ! { mkdir -p "$ROOT/dev/net" "$ROOT/proc" "$ROOT/run" &&
	touch "$ROOT/dev/null" "$ROOT/dev/urandom" "$ROOT/dev/net/tun" &&
	cp "$VPNGW" "$ROOT/vpngw" && chmod 755 "$ROOT" "$ROOT/vpngw"; }; then
	bad root "could not build $ROOT"
	finish
fi
# The mounts, in the mount namespace of one command: the host's device
# nodes over the empty files, a proc. Then the command, in the root.
# With "ro" /proc/sys is read-only, as in a container.
MOUNT='r=$1 ro=$2; shift 2
for d in null urandom net/tun; do mount --bind "/dev/$d" "$r/dev/$d" || exit 125; done
mount -t proc proc "$r/proc" || exit 125
if [ "$ro" = ro ]; then
	mount --bind "$r/proc/sys" "$r/proc/sys" && mount -o remount,bind,ro "$r/proc/sys" || exit 125
fi
exec "$@"'
# RUN, RUN_RO: what runs `vpngw ARGS` in a namespace, /proc/sys writable
# or read-only: `ns_exec NS "${RUN[@]}" ARGS`.
R=$ROOT CMD=("${ENV[@]}" chroot "$ROOT" /vpngw)
if [ "$CHROOT" = 0 ]; then
	R=/ CMD=("${ENV[@]}" VPNGW_STATE_FILE="$STATE" "$VPNGW")
	step mode "SCRATCH_CHROOT=0: no chroot, the host's tools within reach"
fi
RUN=(unshare -m --propagation private sh -c "$MOUNT" sh "$R" rw "${CMD[@]}")
RUN_RO=(unshare -m --propagation private sh -c "$MOUNT" sh "$R" ro "${CMD[@]}")

got=$(cd "$ROOT" && find . | sort | tr '\n' ' ')
want='. ./dev ./dev/net ./dev/net/tun ./dev/null ./dev/urandom ./proc ./run ./vpngw '
check root_layout "the root holds: $got" test "$got" = "$want"
out=$("${RUN[@]}" --version 2>&1)
check root_version "exit $?: $out" bash -c '[[ "$1" == "vpngw "[0-9]* ]]' _ "$out"

# ---- Topology and the Internet host ----
setup_topology() {
	ns_add CLI scr-cli && ns_add GW scr-gw && ns_add INET scr-inet || return 1
	veth_add "$CLI" eth0 "$GW" eth1 && veth_add "$GW" eth0 "$INET" eth0 || return 1
	ip -n "$CLI" addr add 192.0.2.2/24 dev eth0 &&
		ip -n "$GW" addr add 192.0.2.1/24 dev eth1 &&
		ip -n "$GW" addr add 203.0.113.2/24 dev eth0 &&
		ip -n "$GW" route add default via 203.0.113.1 &&
		ip -n "$INET" addr add 203.0.113.1/24 dev eth0 || return 1
	mkdir -p "$LIB_TMP/www" && head -c 2M /dev/urandom >"$LIB_TMP/www/blob" || return 1
	bg_in "$INET" "$PY" -m http.server 80 --bind 203.0.113.1 --directory "$LIB_TMP/www" \
		>"$LIB_TMP/http.log" 2>&1
	wait_port "$INET" 203.0.113.1 80 &&
		ns_exec "$GW" ping -c 1 -W 2 203.0.113.1 >/dev/null &&
		ns_exec "$GW" curl -sS -o /dev/null --max-time 5 http://203.0.113.1/blob
}
if setup_topology; then
	step topology
else
	bad topology "could not build the namespaces or reach the Internet host"
	finish
fi
BLOB_SUM=$(sha256sum <"$LIB_TMP/www/blob" | cut -d' ' -f1)
in_gw() { ns_exec "$GW" "$@"; }
snap_links() { in_gw ip -d link; }
snap_addrs() { in_gw ip addr; }
snap_rules() { in_gw nft list ruleset; }
conntrack_load "$GW"
# IPv6 duplicate address detection ends a moment after the links came up:
# let it, so that the picture before setup is one that stays.
for _ in $(seq 50); do
	snap_addrs | grep -q tentative || break
	sleep 0.1
done
links_before=$(snap_links) addrs_before=$(snap_addrs) rules_before=$(snap_rules)

# ---- setup, in the root ----
out=$(in_gw "${RUN[@]}" setup "${POOL[@]}" --dry-run 2>&1)
rc=$?
made=$(in_gw ip -o link show | grep -c ': vpngw[0-9]')
check setup_dry_run "exit $rc, $made devices made: $out" bash -c '[ "$1" = 0 ] && [ "$3" = 0 ] &&
	[[ "$2" == *vpngw1*65534* ]]' _ "$rc" "$out" "$made"
out=$(in_gw "${RUN[@]}" setup "${POOL[@]}" 2>&1)
rc=$?
check setup "exit $rc: $out" test "$rc" = 0
owner=$(in_gw cat /sys/class/net/vpngw1/owner /sys/class/net/vpngw1/group 2>/dev/null | tr '\n' ' ')
check setup_devices "vpngw1 tun owner and group: '$owner'" test "$owner" = "65534 65534 "
tbl=$(in_gw nft list table inet vpngw 2>&1)
check setup_table "$(printf '%s' "$tbl" | head -n 3 | tr '\n' ' ')" \
	bash -c '[[ "$1" == *"oifname \"eth0\" masquerade"* ]]' _ "$tbl"
check setup_state_file "no $STATE" test -s "$STATE"

# ---- serve, a client through it, teardown: the functions of each round ----
# start_serve PFX RUN...: `vpngw serve` as 65534:65534 through RUN (the
# array's words) in the gateway namespace; SERVE_PID once it listens.
start_serve() {
	local pfx=$1 uid
	shift
	SERVE_PID=
	bg_in "$GW" "$@" serve "${POOL[@]}" --listen 192.0.2.1:8080 \
		--allow 203.0.113.0/24 >"$LIB_TMP/${pfx}serve.log" 2>&1
	if wait_log "$LIB_TMP/${pfx}serve.log" 'vpngw: listening on' 10 "$BG_PID"; then
		SERVE_PID=$BG_PID
		step "${pfx}serve" "$(grep -m1 'listening on' "$LIB_TMP/${pfx}serve.log")"
		uid=$(ps -o uid= -p "$SERVE_PID" | tr -d ' ')
		check "${pfx}serve_user" "serve runs as uid '$uid'" test "$uid" = 65534
	else
		bad "${pfx}serve" "no 'listening on' within 10 s: $(tail -n 3 "$LIB_TMP/${pfx}serve.log" | tr '\n' ' ')"
	fi
}

# through_tunnel PFX: the client, outside the root, reaches the Internet
# host only through the tunnel: a ping and a download, checksummed.
through_tunnel() {
	local pfx=$1 out sum client=
	check "${pfx}no_route_without_tunnel" "the client reaches 203.0.113.1 without the tunnel" \
		bash -c '! ip netns exec "$1" ping -c 1 -W 1 203.0.113.1 >/dev/null 2>&1' _ "$CLI"
	bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8080/ --route 203.0.113.0/24 \
		>"$LIB_TMP/${pfx}client.log" 2>&1
	if wait_log "$LIB_TMP/${pfx}client.log" 'connected to' 10 "$BG_PID"; then
		client=$BG_PID
		step "${pfx}client" "$(grep -m1 'connected to' "$LIB_TMP/${pfx}client.log")"
	else
		bad "${pfx}client" "not connected within 10 s: $(tail -n 3 "$LIB_TMP/${pfx}client.log" | tr '\n' ' ')"
		return
	fi
	out=$(ns_exec "$CLI" ping -c 3 -i 0.2 -W 2 203.0.113.1 2>&1)
	check "${pfx}ping_through_tunnel" "$(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')" \
		bash -c '[[ "$1" == *" 3 received"* ]]' _ "$out"
	sum=$(ns_exec "$CLI" curl -sS --max-time 20 http://203.0.113.1/blob 2>&1 | sha256sum | cut -d' ' -f1)
	check "${pfx}http_through_tunnel" "SHA-256 $sum, want $BLOB_SUM" test "$sum" = "$BLOB_SUM"
	kill -TERM "$client"
	wait_exit "$client" 5
}

# stop_serve PFX: SIGTERM to serve (by its PID), which exits with 0.
stop_serve() {
	[ -n "$SERVE_PID" ] || return
	kill -TERM "$SERVE_PID"
	if ! wait_exit "$SERVE_PID" 5; then
		bad "${1}serve_exit" "serve still running 5 s after SIGTERM"
	else
		check "${1}serve_exit" "serve exited with status $EXIT_STATUS after SIGTERM" \
			test "$EXIT_STATUS" = 0
	fi
}

# same NAME BEFORE NOW: NOW is BEFORE; else the difference.
same() {
	if [ "$3" = "$2" ]; then
		ok "$1"
	else
		bad "$1" "changed (< before setup, > after teardown):
$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | grep '^[<>]' | head -20)"
	fi
}

# teardown_restores PFX RUN...: teardown through RUN, then the namespace's
# links, addresses and ruleset are what they were before setup.
teardown_restores() {
	local pfx=$1 out rc
	shift
	out=$(in_gw "$@" teardown --pool 2 2>&1)
	rc=$?
	check "${pfx}teardown" "exit $rc: $out" test "$rc" = 0
	same "${pfx}teardown_links" "$links_before" "$(snap_links)"
	same "${pfx}teardown_addresses" "$addrs_before" "$(snap_addrs)"
	same "${pfx}teardown_ruleset" "$rules_before" "$(snap_rules)"
}

# ---- Round 1: setup (above), serve, teardown, each in the root ----
start_serve "" "${RUN[@]}"
[ -n "$SERVE_PID" ] && through_tunnel ""
stop_serve ""
teardown_restores "" "${RUN[@]}"

# ---- Round 2: as `docker run` starts the image ----
# /proc/sys is read-only, as a container's is; the sysctls setup would
# change are set beforehand from outside, as `docker run --sysctl` sets
# them (contrib/Dockerfile's line); serve alone, the image's command, sets
# the pool up itself.
in_gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.default.disable_ipv6=1 \
	net.netfilter.nf_conntrack_udp_timeout_stream=60 net.netfilter.nf_conntrack_icmp_timeout=10
start_serve container_ "${RUN_RO[@]}"
[ -n "$SERVE_PID" ] && through_tunnel container_
stop_serve container_
teardown_restores container_ "${RUN_RO[@]}"

finish
