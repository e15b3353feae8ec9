#!/bin/bash
# SPDX-License-Identifier: MIT
# bench.sh (`make bench`, root): how fast and how small vpngw is, as ratios
# against the same traffic routed by the kernel alone, measured in the same
# run on the same machine (shared machines are noisy: compare the ratios,
# not the absolute figures, between runs).
#
#   client 192.0.2.2 --- 192.0.2.1 gateway 198.51.100.2 --- 198.51.100.1 inet
#                                                             iperf3 -s
#
# 1. kernel: the client routes 198.51.100.0/24 via the gateway, which
#    forwards and masquerades. No tunnel.
# 2. ws:   the same through `vpngw connect ws://` and `vpngw serve`.
# 3. wss:  the same with TLS (ECDSA P-256, the suite the gateway prefers).
# 4. openvpn-tcp: OpenVPN over TCP (TLS, AES-256-GCM, DCO off), the peer a
#    user would pick for a TCP tunnel, when Debian's openvpn is installed.
# Each runs iperf3 TCP upload and download and 64-byte UDP (packets per
# second); then the gateway's resident memory and CPU time are reported.
# Each iperf3 run's JSON is kept in the run's folder with KEEP_TMP=1.
set -u
cd "$(dirname "$0")/.."
. test/lib.sh

SECS=${BENCH_SECONDS:-5}
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
[ -x "$VPNGW" ] || { echo "bench: build ./vpngw first" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "bench: needs iperf3" >&2; exit 1; }

ns_add C cli && ns_add G gw && ns_add I inet || exit 1
veth_add "$C" c0 "$G" g0 && veth_add "$G" g1 "$I" i0 || exit 1
ip -n "$C" addr add 192.0.2.2/24 dev c0
ip -n "$G" addr add 192.0.2.1/24 dev g0
ip -n "$G" addr add 198.51.100.2/24 dev g1
ip -n "$I" addr add 198.51.100.1/24 dev i0
ip -n "$G" route add default via 198.51.100.1
ip -n "$I" route add 192.0.2.0/24 via 198.51.100.2
bg_in "$I" iperf3 -s -B 198.51.100.1 >/dev/null 2>&1
wait_port "$I" 198.51.100.1 5201 || exit 1

# iperf3 JSON -> the one figure wanted.
bps() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["end"]["sum_received"]["bits_per_second"]))' 2>/dev/null || echo 0; }
pps() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["end"]["sum"]; print(int(s["packets"]-s["lost_packets"])//max(1,int(s["seconds"])))' 2>/dev/null || echo 0; }

# measure NAME: three iperf3 runs from the client namespace.
declare -A R
measure() {
	local name=$1
	ns_exec "$C" iperf3 -c 198.51.100.1 -t "$SECS" -J >"$LIB_TMP/$name-up.json" 2>&1
	ns_exec "$C" iperf3 -c 198.51.100.1 -t "$SECS" -R -J >"$LIB_TMP/$name-down.json" 2>&1
	ns_exec "$C" iperf3 -c 198.51.100.1 -t "$SECS" -u -l 64 -b 0 -J >"$LIB_TMP/$name-pps.json" 2>&1
	R[$name.up]=$(bps <"$LIB_TMP/$name-up.json")
	R[$name.down]=$(bps <"$LIB_TMP/$name-down.json")
	R[$name.pps]=$(pps <"$LIB_TMP/$name-pps.json")
}

# 1. The kernel alone.
ns_exec "$G" sysctl -qw net.ipv4.ip_forward=1
ns_exec "$G" nft -f - <<EOF
table ip benchnat {
	chain post { type nat hook postrouting priority srcnat; oifname "g1" masquerade; }
}
EOF
ip -n "$C" route add 198.51.100.0/24 via 192.0.2.1
measure kernel
ip -n "$C" route del 198.51.100.0/24 via 192.0.2.1
ns_exec "$G" nft delete table ip benchnat

# Gateway CPU time in seconds (user + system), from /proc.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# tunnel NAME URL SERVE_ARGS CONNECT_ARGS: one gateway and one client.
tunnel() {
	local name=$1 url=$2 sargs=$3 cargs=$4 gp cp
	VPNGW_STATE_FILE=$LIB_TMP/state-$name bg_in "$G" "$VPNGW" serve -q \
		--listen 192.0.2.1:8443 --allow 198.51.100.0/24 $sargs 2>"$LIB_TMP/$name-gw.log"
	gp=$BG_PID
	wait_port "$G" 192.0.2.1 8443 || return 1
	R[$name.rss0]=$(rss_of "$gp")
	bg_in "$C" "$VPNGW" connect "$url" --route 198.51.100.0/24 $cargs 2>"$LIB_TMP/$name-cl.log"
	cp=$BG_PID
	local i
	for i in $(seq 50); do
		ns_exec "$C" ping -c1 -W1 198.51.100.1 >/dev/null 2>&1 && break
		sleep 0.2
	done
	R[$name.rss1]=$(rss_of "$gp")
	local c0
	c0=$(cpu_of "$gp")
	measure "$name"
	R[$name.cpu]=$(awk -v a="$c0" -v b="$(cpu_of "$gp")" 'BEGIN { printf "%.2f", b - a }')
	kill "$cp" "$gp" 2>/dev/null
	wait "$cp" "$gp" 2>/dev/null
}

tunnel ws ws://192.0.2.1:8443/ "" ""
if "$VPNGW" --version | grep -qv 'no TLS'; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=bench -addext subjectAltName=IP:192.0.2.1 \
		-keyout "$LIB_TMP/key.pem" -out "$LIB_TMP/cert.pem" >/dev/null 2>&1
	tunnel wss wss://192.0.2.1:8443/ \
		"--tls-cert $LIB_TMP/cert.pem --tls-key $LIB_TMP/key.pem" "--ca $LIB_TMP/cert.pem"
fi

# 4. OpenVPN over TCP: its own CA, a server on the gateway that NATs the
# tunnel's addresses out of g1, a client that routes the inet host through it.
openvpn_tcp() {
	local d=$LIB_TMP/ovpn gp cp i who
	command -v openvpn >/dev/null || { echo "bench: no openvpn, its row is left out" >&2; return 0; }
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=bench-ca -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || return 1
	for who in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$who" \
			-keyout "$d/$who.key" -out "$d/$who.csr" >/dev/null 2>&1 &&
		printf 'keyUsage=digitalSignature\nextendedKeyUsage=%s\n' \
			"$([ $who = server ] && echo serverAuth || echo clientAuth)" >"$d/$who.ext" &&
		openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/$who.ext" -out "$d/$who.pem" >/dev/null 2>&1 || return 1
	done
	printf '%s\n' 'table ip benchnat {' \
		'	chain post { type nat hook postrouting priority srcnat; oifname "g1" masquerade; }' '}' |
		ns_exec "$G" nft -f - || return 1
	local common=(--dev tun --data-ciphers AES-256-GCM --disable-dco --verb 1 --ca "$d/ca.pem")
	bg_in "$G" openvpn "${common[@]}" --mode server --tls-server --proto tcp-server \
		--local 192.0.2.1 --port 1194 --server 10.8.0.0 255.255.255.0 --topology subnet \
		--cert "$d/server.pem" --key "$d/server.key" --dh none >"$d/server.log" 2>&1
	gp=$BG_PID
	wait_port "$G" 192.0.2.1 1194 || return 1
	R[openvpn-tcp.rss0]=$(rss_of "$gp")
	bg_in "$C" openvpn "${common[@]}" --client --proto tcp-client --remote 192.0.2.1 1194 \
		--remote-cert-tls server --cert "$d/client.pem" --key "$d/client.key" \
		--route-nopull --route 198.51.100.0 255.255.255.0 >"$d/client.log" 2>&1
	cp=$BG_PID
	for i in $(seq 50); do
		ns_exec "$C" ping -c1 -W1 198.51.100.1 >/dev/null 2>&1 && break
		sleep 0.2
	done
	if [ "$i" = 50 ]; then
		kill "$cp" "$gp" 2>/dev/null
		return 1
	fi
	R[openvpn-tcp.rss1]=$(rss_of "$gp")
	local c0
	c0=$(cpu_of "$gp")
	measure openvpn-tcp
	R[openvpn-tcp.cpu]=$(awk -v a="$c0" -v b="$(cpu_of "$gp")" 'BEGIN { printf "%.2f", b - a }')
	kill "$cp" "$gp" 2>/dev/null
	wait "$cp" "$gp" 2>/dev/null
	ns_exec "$G" nft delete table ip benchnat
}
openvpn_tcp || echo "bench: the OpenVPN row failed (logs in $LIB_TMP/ovpn)" >&2

mbit() { awk -v b="$1" 'BEGIN { printf "%8.0f Mbit/s", b / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%5.2f", a / b; else printf "  n/a" }'; }

echo "vpngw bench: ${SECS}s per run, iperf3 through network namespaces on $(nproc) cores"
printf '%-12s %-30s %-30s %-24s\n' "path" "TCP upload (x kernel)" "TCP download (x kernel)" "UDP 64 B pps (x kernel)"
for n in kernel ws wss openvpn-tcp; do
	[ -n "${R[$n.up]:-}" ] || continue
	printf '%-12s %s (%s)      %s (%s)      %9s (%s)\n' "$n" \
		"$(mbit "${R[$n.up]}")" "$(ratio "${R[$n.up]}" "${R[kernel.up]}")" \
		"$(mbit "${R[$n.down]}")" "$(ratio "${R[$n.down]}" "${R[kernel.down]}")" \
		"${R[$n.pps]}" "$(ratio "${R[$n.pps]}" "${R[kernel.pps]}")"
done
for n in ws wss openvpn-tcp; do
	[ -n "${R[$n.rss0]:-}" ] || continue
	echo "$n gateway: RSS ${R[$n.rss0]} KiB idle, ${R[$n.rss1]} KiB with one client; CPU ${R[$n.cpu]} s over the three runs"
done
echo "binary: $(stat -c %s "$VPNGW") bytes ($("$VPNGW" --version))"
