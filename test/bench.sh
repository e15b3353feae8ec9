#!/bin/bash
# SPDX-License-Identifier: MIT
# bench.sh (`make bench`, root): how fast and how small vpngw is, as ratios
# against the same traffic routed by the kernel alone and carried by
# OpenVPN over TCP, all measured in the same run on the same machine
# (shared machines are noisy: compare the ratios, not the absolute figures,
# between runs).
#
# Every system is up at once, each through its own gateway namespace, and
# the figures are taken interleaved (for each figure, each system in turn),
# so that the machine's drift hits all of them alike. System n (0 to 5)
# has its own link on each side and its own address on the inet host:
#
#                   192.0.2.16n/28               203.0.113.16n/28
#   client  c0 .2 ------------- .1 G_kernel  .2 ------------- .1 i0  inet
#           c1 .18 ------------ .17 G_ws     .18 ------------ .17 i1  (lo:)
#           c2 .34 ------------ .33 G_wss    .34 ------------ .33 i2  198.51.100.1
#           c3 .50 ------------ .49 G_orig   .50 ------------ .49 i3  198.51.100.11..15
#           c4 .66 ------------ .65 G_ovpn   .66 ------------ .65 i4  iperf3 -s -B each
#           c5 .82 ------------ .81 G_noff   .82 ------------ .81 i5
#
# 0. kernel:      198.51.100.1 via 192.0.2.1; G forwards and masquerades.
# 1. ws:          198.51.100.11 through `vpngw connect ws://` and `vpngw serve`.
# 2. wss:         198.51.100.12, the same with TLS (ECDSA P-256).
# 3. orig:        198.51.100.13 through test/origclient.py, a Python client
#                 of the original protocol (no subprotocol), to `vpngw serve`.
# 4. openvpn-tcp: 198.51.100.14 through OpenVPN over TCP (TLS, AES-256-GCM,
#                 DCO off), when Debian's openvpn is installed.
# 5. ws-nooffload: 198.51.100.15, ws with --no-offload on both ends, when
#                 this vpngw has that flag.
# Each vpngw gateway has its own namespace (one nftables table `ip vpngw`
# per host) and its own slot subnet, 10.0.(100+n).0/24, so that the
# client's tunnel devices do not clash (the orig client takes 10.9.0.2/24,
# OpenVPN 10.8.0.0/24). Each route in the client covers only its system's
# inet address.
#
# Figures, each an iperf3 run of BENCH_SECONDS (default 4): TCP up, down,
# and 4 streams down; UDP 1400-byte datagrams (received Mbit/s, loss) and
# 64-byte packets (received per second, loss). Then ping RTT idle, and
# during the TCP upload and download; the gateway's CPU seconds per GB over
# the TCP runs, its RSS idle and with its client (after the runs), and the
# size of its program. Then, on links of their own (6), four `vpngw
# connect` clients at once through one ws:// gateway, with --workers 1
# and with --workers 2 (when this vpngw has it): their aggregate TCP
# throughput each way, and the ratio; and a gateway's RSS idle and with 200
# idle ws:// and then wss:// clients (test/idle_clients.py), as KiB per
# client. test/bench_pool.sh (a pool of a thousand slots), when there, adds
# its own lines. test/bench_report.py prints the table and writes
# the JSON ($LIB_TMP/bench.json, and BENCH_JSON when set), with, after
# the table, the user-space instructions per packet each way that
# test/replay.sh counts with callgrind (when valgrind is installed): a
# figure the machine's noise does not move. Every iperf3
# JSON and ping output is kept in the run's folder with KEEP_TMP=1.
set -u
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

SECS=${BENCH_SECONDS:-4}
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
[ -x "$VPNGW" ] || { echo "bench: build ./vpngw first" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "bench: needs iperf3" >&2; exit 1; }

SYSTEMS=()        # the systems that came up, in order
declare -A IDX    # system -> n (its links and addresses)
declare -A GW     # system -> its gateway namespace
declare -A GPID   # system -> its gateway's PID (none for the kernel)
declare -A CPU    # system -> gateway CPU seconds over its TCP runs so far
FACTS=$LIB_TMP/facts   # "SYSTEM KEY VALUE" lines for the report

note() { echo "bench: $*" >&2; }
fact() { echo "$1 $2 $3" >>"$FACTS"; }
dst() { [ "$1" = 0 ] && echo 198.51.100.1 || echo "198.51.100.$((10 + $1))"; }
gw_addr() { echo "192.0.2.$((16 * $1 + 1))"; }
MULTI_DST=(198.51.100.21 198.51.100.22 198.51.100.23 198.51.100.24)

# The client and inet namespaces, and the inet host's iperf3 servers.
ns_add C cli && ns_add I inet || exit 1
start_servers() {
	local a
	for a in $(for n in 0 1 2 3 4 5; do dst $n; done) "${MULTI_DST[@]}"; do
		ip -n "$I" addr add "$a/32" dev lo
		bg_in "$I" iperf3 -s -B "$a" >/dev/null 2>&1
	done
	for a in $(for n in 0 1 2 3 4 5; do dst $n; done) "${MULTI_DST[@]}"; do
		wait_port "$I" "$a" 5201 || return 1
	done
}

# link_up NAME N: system N's gateway namespace and its two links; the
# gateway routes everything to the inet host.
link_up() {
	local name=$1 n=$2 g
	ns_add g "g-$name" || return 1
	GW[$name]=$g
	IDX[$name]=$n
	veth_add "$C" "c$n" "$g" g0 && veth_add "$g" g1 "$I" "i$n" || return 1
	ip -n "$C" addr add "192.0.2.$((16 * n + 2))/28" dev "c$n"
	ip -n "$g" addr add "192.0.2.$((16 * n + 1))/28" dev g0
	ip -n "$g" addr add "203.0.113.$((16 * n + 2))/28" dev g1
	ip -n "$I" addr add "203.0.113.$((16 * n + 1))/28" dev "i$n"
	ip -n "$g" route add default via "203.0.113.$((16 * n + 1))"
}

# reach NAME: waits until the client reaches the system's inet address.
reach() {
	local i
	for i in $(seq 30); do
		ns_exec "$C" ping -c1 -W0.3 "$(dst "${IDX[$1]}")" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# Gateway CPU time in seconds (user + system) and RSS in KiB, of the
# process and its children (vpngw's conntrack helper), from /proc.
stat_files() { local p; for p in "$1" $(pgrep -P "$1"); do echo "/proc/$p/$2"; done; }
cpu_of() {
	# shellcheck disable=SC2046,SC2002 # a child may be gone: cat skips it
	cat $(stat_files "$1" stat) 2>/dev/null |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.2f", t / hz }'
}
rss_of() {
	# shellcheck disable=SC2046,SC2002 # a child may be gone: cat skips it
	cat $(stat_files "$1" status) 2>/dev/null | awk '/^VmRSS/ { t += $2 } END { print t + 0 }'
}
masquerade() {
	printf '%s\n' 'table ip benchnat {' \
		'	chain post { type nat hook postrouting priority srcnat; oifname "g1" masquerade; }' '}' |
		ns_exec "$1" nft -f -
}

# up NAME N HOW...: brings system NAME up on links N with the function
# HOW (and its arguments); a system that fails is left out, with a line.
up() {
	local name=$1 n=$2
	shift 2
	link_up "$name" "$n" || { note "the $name row failed (its links)"; return 1; }
	if "$@" "$name" && reach "$name"; then
		SYSTEMS+=("$name")
	else
		note "the $name row failed (logs in $LIB_TMP)"
		return 1
	fi
}

kernel_up() {
	ns_exec "${GW[$1]}" sysctl -qw net.ipv4.ip_forward=1 && masquerade "${GW[$1]}" &&
		ip -n "$C" route add "$(dst 0)/32" via "$(gw_addr 0)"
}

# vpngw_serve NAME SERVE_ARGS...: a gateway in NAME's namespace.
vpngw_serve() {
	local name=$1 n=${IDX[$1]}
	shift
	VPNGW_STATE_FILE=$LIB_TMP/state-$name bg_in "${GW[$name]}" "$VPNGW" serve -q \
		--listen "$(gw_addr "$n"):8443" --allow 198.51.100.0/24 \
		--subnet "10.0.$((100 + n)).0/24" "$@" 2>"$LIB_TMP/$name-gw.log"
	GPID[$name]=$BG_PID
	wait_port "${GW[$name]}" "$(gw_addr "$n")" 8443 || return 1
	fact "$name" rss_idle_kib "$(rss_of "$BG_PID")"
	fact "$name" binary_bytes "$(stat -c %s "$VPNGW")"
}

# vpngw_tunnel SCHEME SERVE_ARGS CONNECT_ARGS NAME: vpngw on both ends.
vpngw_tunnel() {
	local scheme=$1 sargs=$2 cargs=$3 name=$4 n=${IDX[$4]}
	# shellcheck disable=SC2086
	vpngw_serve "$name" $sargs || return 1
	# shellcheck disable=SC2086
	bg_in "$C" "$VPNGW" connect -q --tun "vw-$name" --route "$(dst "$n")/32" $cargs \
		"$scheme://$(gw_addr "$n"):8443/" 2>"$LIB_TMP/$name-cl.log"
}

# orig_up NAME: the Python client of the original protocol.
orig_up() {
	local name=$1 n=${IDX[$1]}
	vpngw_serve "$name" || return 1
	bg_in "$C" "$PY" test/origclient.py vw-orig 10.9.0.2/24 "$(dst "$n")/32" \
		"ws://$(gw_addr "$n"):8443/" 2>"$LIB_TMP/$name-cl.log"
}

# make_certs DIR: a CA, and a server and a client certificate signed by
# it, all ECDSA P-256; the server's names the ws gateways' addresses.
make_certs() {
	local d=$1 who
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=bench-ca -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || return 1
	for who in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$who" \
			-keyout "$d/$who.key" -out "$d/$who.csr" >/dev/null 2>&1 &&
		printf 'keyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=IP:%s\n' \
			"$([ $who = server ] && echo serverAuth || echo clientAuth)" "$(gw_addr 2)" >"$d/$who.ext" &&
		openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/$who.ext" -out "$d/$who.pem" >/dev/null 2>&1 || return 1
	done
}

# openvpn_up NAME: an OpenVPN server on the gateway that NATs the tunnel's
# addresses out of g1, a client that routes the system's address through it.
openvpn_up() {
	local name=$1 n=${IDX[$1]} d=$LIB_TMP/certs g=${GW[$1]}
	local common=(--dev-type tun --data-ciphers AES-256-GCM --disable-dco --verb 1 --ca "$d/ca.pem")
	ns_exec "$g" sysctl -qw net.ipv4.ip_forward=1 && masquerade "$g" || return 1
	bg_in "$g" openvpn "${common[@]}" --dev ovpn-s --mode server --tls-server \
		--proto tcp-server --local "$(gw_addr "$n")" --port 1194 \
		--server 10.8.0.0 255.255.255.0 --topology subnet \
		--cert "$d/server.pem" --key "$d/server.key" --dh none >"$LIB_TMP/$name-gw.log" 2>&1
	GPID[$name]=$BG_PID
	wait_port "$g" "$(gw_addr "$n")" 1194 || return 1
	fact "$name" rss_idle_kib "$(rss_of "$BG_PID")"
	fact "$name" binary_bytes "$(stat -c %s "$(command -v openvpn)")"
	bg_in "$C" openvpn "${common[@]}" --dev ovpn-c --client --proto tcp-client \
		--remote "$(gw_addr "$n")" 1194 --remote-cert-tls server \
		--cert "$d/client.pem" --key "$d/client.key" \
		--route-nopull --route "$(dst "$n")" 255.255.255.255 >"$LIB_TMP/$name-cl.log" 2>&1
}

# bring_up: every system that can run here.
bring_up() {
	local certs=0
	up kernel 0 kernel_up
	up ws 1 vpngw_tunnel ws "" ""
	if command -v openssl >/dev/null && make_certs "$LIB_TMP/certs"; then
		certs=1
	else
		note "no openssl (or it failed): the wss and openvpn-tcp rows are left out"
	fi
	if "$VPNGW" --version | grep -q 'no TLS'; then
		note "this vpngw has no TLS: the wss row is left out"
	elif [ $certs = 1 ]; then
		up wss 2 vpngw_tunnel wss \
			"--tls-cert $LIB_TMP/certs/server.pem --tls-key $LIB_TMP/certs/server.key" \
			"--ca $LIB_TMP/certs/ca.pem"
	fi
	if [ -x "$PY" ] && "$PY" -c 'import websockets' 2>/dev/null; then
		up orig 3 orig_up
	else
		note "no $PY with websockets: the orig row is left out"
	fi
	if ! command -v openvpn >/dev/null; then
		note "no openvpn: the openvpn-tcp row is left out"
	elif [ $certs = 1 ]; then
		up openvpn-tcp 4 openvpn_up
	fi
	if "$VPNGW" serve --help 2>&1 | grep -q -- --no-offload; then
		up ws-nooffload 5 vpngw_tunnel ws --no-offload --no-offload
	fi
}

# reap PID: waits for a short run started with bg_in, and takes it off
# the trap's list again (its PID may be someone else's later).
reap() {
	local i
	wait "$1"
	for i in "${!LIB_PIDS[@]}"; do
		[ "${LIB_PIDS[$i]}" = "$1" ] && unset 'LIB_PIDS[i]'
	done
}

# ping_to NAME FILE COUNT INTERVAL: pings the system's address, output in FILE.
ping_to() {
	ns_exec "$C" ping -n -c "$3" -i "$4" -W 1 "$(dst "${IDX[$1]}")" >"$2" 2>&1
}

# iperf NAME FIG ARGS...: one iperf3 run from the client to the system's
# address (cut short if its tunnel has gone), its JSON in NAME-FIG.json. A TCP run (FIG tcp-*) adds the
# gateway's CPU time to the system's; tcp-up and tcp-down have a ping
# (every 10 ms, from half a second in until just before the end) beside.
iperf() {
	local name=$1 fig=$2 out=$LIB_TMP/$1 gp=${GPID[$1]:-} c0="" ip
	shift 2
	[ -z "$gp" ] || c0=$(cpu_of "$gp")
	bg_in "$C" timeout $((SECS + 15)) iperf3 -c "$(dst "${IDX[$name]}")" -t "$SECS" -J \
		--connect-timeout 3000 "$@" >"$out-$fig.json" 2>"$out-$fig.err"
	ip=$BG_PID
	case $fig in tcp-up|tcp-down)
		sleep 0.5
		ping_to "$name" "$out-ping-load-${fig#tcp-}.txt" $((SECS > 2 ? SECS * 100 - 100 : 50)) 0.01
	esac
	reap "$ip"
	[ -s "$out-$fig.err" ] || rm -f "$out-$fig.err"
	case $fig in tcp-*)
		[ -z "$gp" ] || CPU[$name]=$(awk -v t="${CPU[$name]:-0}" -v a="$c0" -v b="$(cpu_of "$gp")" \
			'BEGIN { printf "%.2f", t + (b > a ? b - a : 0) }')
	esac
}

ping_idle() { ping_to "$1" "$LIB_TMP/$1-ping-idle.txt" 200 0.005; }

# each CMD ARGS...: runs CMD NAME ARGS... for every system in turn,
# starting one further along each time, so that none is always first.
ROUND=0
each() {
	local i k=${#SYSTEMS[@]}
	for ((i = 0; i < k; i++)); do
		"$1" "${SYSTEMS[$(((i + ROUND) % k))]}" "${@:2}"
	done
	ROUND=$((ROUND + 1))
}

measure_all() {
	each ping_idle
	each iperf tcp-up
	each iperf tcp-down -R
	each iperf tcp-p4-down -P 4 -R
	each iperf udp-1400 -u -l 1400 -b 0
	each iperf udp-64 -u -l 64 -b 0
}


# ---- Four clients on one gateway, by workers; an idle client's memory ----
# On links 6 (192.0.2.96/28, 203.0.113.96/28), one gateway namespace
# where gateways run one after another: with --workers 1 and then 2
# (--pool 8, slots 10.1.0.0/24 on), four `vpngw connect` clients, each
# routing its own iperf3 server (MULTI_DST) through its own tunnel, move
# data at once, down then up (multi-wW-DIR-K.json); then a ws:// and a
# wss:// gateway (--pool 200, 10.2.0.0/24 on) weighed idle and with 200
# idle vpngw.v1 clients of test/idle_clients.py (facts idle-ws and
# idle-wss).
MPID=''
MULTI=''

# multi_gw PORT ARGS...: a gateway in the multi namespace on PORT.
multi_gw() {
	local port=$1
	shift
	VPNGW_STATE_FILE=$LIB_TMP/state-multi bg_in "$MULTI" "$VPNGW" serve -q \
		--listen "$(gw_addr 6):$port" --allow 198.51.100.0/24 \
		--handshake-rate 100000 --max-handshakes 1024 "$@" 2>>"$LIB_TMP/multi-gw.log"
	MPID=$BG_PID
	wait_port "$MULTI" "$(gw_addr 6)" "$port"
}

# stop PID: SIGTERM, waits (up to 10 s), and takes PID off the trap's list.
stop() {
	local i
	kill -TERM "$1" 2>/dev/null
	wait_exit "$1" 10
	for i in "${!LIB_PIDS[@]}"; do
		[ "${LIB_PIDS[$i]}" = "$1" ] && unset 'LIB_PIDS[i]'
	done
}
multi_stop() { stop "$MPID"; }

# multi_tcp WORKERS: the four clients' streams through one gateway.
multi_tcp() {
	local w=$1 k pids=() runs=() rev=() dir
	local wargs=()
	[ "$w" = 1 ] || wargs=(--workers "$w")
	multi_gw 8080 --pool 8 --subnet 10.1.0.0/24 "${wargs[@]}" ||
		{ note "no gateway with --workers $w: its column is left out"; multi_stop; return 1; }
	for k in 0 1 2 3; do
		bg_in "$C" "$VPNGW" connect -q --tun "vw-m$k" --route "${MULTI_DST[$k]}/32" \
			"ws://$(gw_addr 6):8080/" 2>>"$LIB_TMP/multi-cl.log"
		pids+=("$BG_PID")
	done
	for k in 0 1 2 3; do
		for _ in $(seq 30); do
			ns_exec "$C" ping -c1 -W0.3 "${MULTI_DST[$k]}" >/dev/null 2>&1 && break
			sleep 0.2
		done
	done
	for dir in down up; do
		runs=()
		rev=()
		[ $dir = up ] || rev=(-R)
		for k in 0 1 2 3; do
			bg_in "$C" timeout $((SECS + 15)) iperf3 -c "${MULTI_DST[$k]}" -t "$SECS" -J \
				--connect-timeout 3000 "${rev[@]}" \
				>"$LIB_TMP/multi-w$w-$dir-$k.json" 2>/dev/null
			runs+=("$BG_PID")
		done
		for k in "${runs[@]}"; do reap "$k"; done
	done
	for k in "${pids[@]}"; do stop "$k"; done
	multi_stop
}

# multi_idle NAME SCHEME PORT ARGS...: the gateway's RSS idle and with 200
# idle clients.
multi_idle() {
	local name=$1 scheme=$2 port=$3 idle cl
	shift 3
	multi_gw "$port" --pool 200 --subnet 10.2.0.0/24 --tun-prefix vi "$@" ||
		{ note "the $name gateway did not start: its row is left out"; multi_stop; return 1; }
	sleep 0.5
	idle=$(rss_of "$MPID")
	bg_in "$C" "$PY" test/idle_clients.py "$scheme://$(gw_addr 6):$port/" 200 \
		>"$LIB_TMP/$name-clients.log" 2>&1
	cl=$BG_PID
	if wait_log "$LIB_TMP/$name-clients.log" '^200 connected$' 60 "$cl"; then
		sleep 3 # idle: past the 2 s after which a send queue's rings go back
		fact "$name" rss_idle_kib "$idle"
		fact "$name" rss_200_kib "$(rss_of "$MPID")"
	else
		note "the $name idle clients failed: $(tail -n 1 "$LIB_TMP/$name-clients.log")"
	fi
	stop "$cl"
	multi_stop
}

measure_multi() {
	local t0=$SECONDS
	ns_add MULTI g-multi || return 1
	veth_add "$C" c6 "$MULTI" g0 && veth_add "$MULTI" g1 "$I" i6 || return 1
	ip -n "$C" addr add 192.0.2.98/28 dev c6
	ip -n "$MULTI" addr add "$(gw_addr 6)/28" dev g0
	ip -n "$MULTI" addr add 203.0.113.98/28 dev g1
	ip -n "$I" addr add 203.0.113.97/28 dev i6
	ip -n "$MULTI" route add default via 203.0.113.97
	multi_tcp 1
	if "$VPNGW" serve --help 2>&1 | grep -q -- --workers; then
		multi_tcp 2
	else
		note "this vpngw has no --workers: the --workers 2 column is left out"
	fi
	multi_idle idle-ws ws 8080
	if [ -s "$LIB_TMP/certs/server.pem" ] && ! "$VPNGW" --version | grep -q 'no TLS'; then
		multi_idle idle-wss wss 8443 --tls-cert "$LIB_TMP/certs/server.pem" \
			--tls-key "$LIB_TMP/certs/server.key"
	fi
	note "four clients and idle clients measured in $((SECONDS - t0)) s"
}

start_servers || exit 1
bring_up
[ "${#SYSTEMS[@]}" -gt 0 ] || { note "no system came up"; exit 1; }
echo "bench: up after $(($(date +%s) - START)) s: ${SYSTEMS[*]}; measuring, about" \
	"$((${#SYSTEMS[@]} * (5 * (SECS + 1) + 2))) s"
measure_all
for n in "${SYSTEMS[@]}"; do
	[ -z "${GPID[$n]:-}" ] && continue
	fact "$n" cpu_tcp_s "${CPU[$n]:-0}"
	fact "$n" rss_client_kib "$(rss_of "${GPID[$n]}")"
done
measure_multi || note "the four-client and idle-client figures failed"
# User-space instructions per packet, by callgrind on test/replay: no
# network, no timing, so the same figure on a busy machine as on an idle one.
test/replay.sh "$LIB_TMP/replay" >/dev/null || note "the instructions-per-packet run failed"
"$PY" test/bench_report.py "$LIB_TMP" "$SECS" "$(nproc)" "$(($(date +%s) - START))" \
	"${SYSTEMS[@]}" || exit 1
echo "binary: $(stat -c %s "$VPNGW") bytes ($("$VPNGW" --version))"
# A pool of a thousand slots: setup, teardown and serve's start-up times.
[ -x test/bench_pool.sh ] && { test/bench_pool.sh || note "test/bench_pool.sh failed"; }
echo "elapsed: $(($(date +%s) - START)) s"
