#!/bin/bash
# SPDX-License-Identifier: MIT
# test/demo.sh: `make demo`, as root. Builds three network namespaces, runs
# a gateway and a client with --default-route, and shows a ping and an HTTP
# download through the tunnel with their figures. Everything it made (the
# namespaces, with the TUNs and nftables table inside them, the processes,
# the temporary files) is removed on exit, even on failure or ^C.
#
#   client 192.0.2.2 --- 192.0.2.1  gateway  198.51.100.2 --- 198.51.100.1 Internet
#   vpngw connect         vpngw serve (masquerade out of eth0)      HTTP server
#   ws://192.0.2.1:8080/ --default-route
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it creates network namespaces)" >&2
	exit 1
fi
# Every tool the demo runs, and the Debian package that has it: the
# README's first command installs only what the gateway needs.
missing=() pkgs=()
for tp in ip:iproute2 nft:nftables sysctl:procps /usr/bin/python3:python3 \
	curl:curl ping:iputils-ping awk:mawk; do
	if ! command -v "${tp%%:*}" >/dev/null; then
		missing+=("${tp%%:*}")
		pkgs+=("${tp#*:}")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "demo: needs ${missing[*]}; install them with: apt-get install -y ${pkgs[*]}" >&2
	exit 1
fi
. "$HERE/lib.sh" || exit 1

say() { printf '\n== %s\n' "$*"; }
die() {
	echo "demo: $*" >&2
	for f in "$LIB_TMP"/*.log; do
		[ -f "$f" ] && { echo "---- $(basename "$f")"; tail -n 5 "$f"; } >&2
	done
	exit 1
}

say "three namespaces: client, gateway, Internet"
ns_add CLI client && ns_add GW gateway && ns_add NET internet || die "ip netns"
veth_add "$CLI" eth0 "$GW" eth1 && veth_add "$GW" eth0 "$NET" eth0 || die "veth"
ip -n "$CLI" addr add 192.0.2.2/24 dev eth0
ip -n "$GW" addr add 192.0.2.1/24 dev eth1
ip -n "$GW" addr add 198.51.100.2/24 dev eth0
ip -n "$GW" route add default via 198.51.100.1
ip -n "$NET" addr add 198.51.100.1/24 dev eth0
echo "client 192.0.2.2 -- 192.0.2.1 gateway 198.51.100.2 -- 198.51.100.1 Internet"

mkdir -p "$LIB_TMP/www" && head -c 20M /dev/urandom >"$LIB_TMP/www/20m"
bg_in "$NET" $PY -m http.server 80 --bind 198.51.100.1 --directory "$LIB_TMP/www" \
	>"$LIB_TMP/http.log" 2>&1
wait_port "$NET" 198.51.100.1 80 || die "HTTP server"

say "gateway: vpngw serve --listen 192.0.2.1:8080 --allow 198.51.100.0/24"
bg_in "$GW" env VPNGW_STATE_FILE="$LIB_TMP/gw.state" "$VPNGW" serve \
	--listen 192.0.2.1:8080 --allow 198.51.100.0/24 >"$LIB_TMP/gw.log" 2>&1
wait_log "$LIB_TMP/gw.log" 'listening on' 10 "$BG_PID" || die "vpngw serve"
cat "$LIB_TMP/gw.log"
ns_exec "$GW" nft list table inet vpngw 2>/dev/null | grep -m1 masquerade | sed 's/^[[:space:]]*/nftables: /'

say "client: vpngw connect ws://192.0.2.1:8080/ --default-route"
bg_in "$CLI" "$VPNGW" connect ws://192.0.2.1:8080/ --default-route >"$LIB_TMP/client.log" 2>&1
CLIENT=$BG_PID
wait_log "$LIB_TMP/client.log" 'connected to' 10 "$CLIENT" || die "vpngw connect"
cat "$LIB_TMP/client.log"
ip -n "$CLI" -br addr show dev vpngw-c0
ip -n "$CLI" route show | sed 's/^/route: /'

say "ping -c 3 198.51.100.1 (through the tunnel)"
ns_exec "$CLI" ping -c 3 -i 0.2 198.51.100.1 | tail -n 2 || die "ping"

say "HTTP download of 20 MB from 198.51.100.1"
out=$(ns_exec "$CLI" curl -sS -o /dev/null --max-time 20 \
	-w '%{size_download} %{time_total} %{speed_download}' http://198.51.100.1/20m) || die "curl"
echo "$out" | awk '{printf "%d bytes in %.3f s = %.0f Mbit/s\n", $1, $2, $3 * 8 / 1e6}'
awk '/GET/ {print "server saw: " $1 " " $6 " " $7 " " $9}' "$LIB_TMP/http.log" | tail -n 1

say "client stats (SIGUSR1), then SIGTERM"
kill -USR1 "$CLIENT"
sleep 0.3
kill -TERM "$CLIENT"
wait "$CLIENT"
tail -n 2 "$LIB_TMP/client.log"
left=$(ip -n "$CLI" route show | grep -cE 'vpngw-c0|/1 |^192\.0\.2\.1 ')
echo "after exit: routes left by the client: $left; interface: $(ip -n "$CLI" -br link show vpngw-c0 2>/dev/null || echo gone)"
say "done; removing the namespaces"
