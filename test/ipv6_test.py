# SPDX-License-Identifier: MIT
# test/ipv6_test.py: end-to-end tests of the gateway's IPv6 data plane, as an
# independent client: python `websockets` offers vpngw.v1, reads the
# assignment and sends and receives raw IPv6 packets built and checked with
# scapy and a checksum written here (no project code is reused); tcpdump
# shows what leaves the gateway and what the slots carry. ipv6.sh runs it
# inside the gateway's namespace with these variables:
#   VPNGW_URL, VPNGW_PID, VPNGW_LOG   the gateway with IPv6 (SIGUSR1: stats)
#   VPNGW_N_URL, VPNGW_N_PID, VPNGW_N_LOG   the gateway with --subnet6 none
#   VPNGW_INET_NS  the Internet host's namespace (2001:db8:100::1)
#   VPNGW_TMP      a directory for the captures
#   VPNGW_RESULTS  file that receives "PASSED FAILED SKIPPED"
# Usage: ipv6_test.py [--list] [-v] [TEST...].
import asyncio
import hashlib
import ipaddress
import json
import os
import random
import struct
import subprocess
import sys
import time

import websockets

import harness
from harness import Fail, check, info, test
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6PacketTooBig,
                                IPv6, IPerror6, UDPerror)
from scapy.utils import rdpcap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "servers"))
import http_server  # noqa: E402: the body the server serves

URL = os.environ.get("VPNGW_URL", "ws://127.0.0.1:8080/")
N_URL = os.environ.get("VPNGW_N_URL", "ws://198.51.100.3:8080/")
INET_NS = os.environ.get("VPNGW_INET_NS")
TMP = os.environ.get("VPNGW_TMP", "/tmp")
INET = "2001:db8:100::1"    # the Internet host: udp echo :7, http :80
FAR = "2001:db8:101::1"     # the host behind the gateway's 1280-byte link
EGRESS = "2001:db8:100::2"  # the gateway's own address on its egress
SRC = "2001:db8:ff::7"      # the client's own source address


def norm(a):
    return str(ipaddress.IPv6Address(a))


# ---- Checksums, computed independently of the gateway ----

def csum(data):
    """RFC 1071: 0 when data (including its checksum field) is valid."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def csum6_ok(src, dst, nh, seg):
    pseudo = src + dst + struct.pack("!IxxxB", len(seg), nh)
    return csum(pseudo + seg) == 0


def check6(raw, what):
    """The outer ICMPv6/TCP/UDP checksum of an IPv6 packet (no extension
    headers), by hand and recomputed by scapy."""
    check(len(raw) >= 40 and raw[0] >> 4 == 6, "%s: not IPv6: %s" % (what, raw.hex()))
    plen = struct.unpack("!H", raw[4:6])[0]
    check(len(raw) == 40 + plen, "%s: payload length %d, message %d bytes"
          % (what, plen, len(raw)))
    nh = raw[6]
    check(nh in (6, 17, 58), "%s: next header %d" % (what, nh))
    check(csum6_ok(raw[8:24], raw[24:40], nh, raw[40:]),
          "%s: checksum bad (packet %s)" % (what, raw.hex()))
    p = IPv6(raw)
    q = IPv6(raw)
    l4 = q.payload
    field = "cksum" if nh == 58 else "chksum"
    delattr(l4, field)
    r = IPv6(bytes(q))
    check(getattr(p.payload, field) == getattr(r.payload, field),
          "%s: scapy: checksum %#x, recomputed %#x" % (what, getattr(p.payload, field),
                                                      getattr(r.payload, field)))


# ---- The tunnel ----

async def connect(url=URL, retry=20):
    """A vpngw.v1 client: (ws, assignment). Retries while the gateway
    answers 1013 (no free slot)."""
    deadline = time.monotonic() + retry
    while True:
        ws = await websockets.connect(url, subprotocols=["vpngw.v1"], ping_interval=None,
                                      compression=None, open_timeout=5, close_timeout=2,
                                      max_queue=4096, max_size=2 ** 20)
        try:
            check(ws.subprotocol == "vpngw.v1", "subprotocol %r selected" % ws.subprotocol)
            msg = await asyncio.wait_for(ws.recv(), 3)
        except websockets.ConnectionClosed:
            if ws.close_code == 1013 and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                continue
            raise Fail("%s: closed with %s before the assignment" % (url, ws.close_code))
        check(isinstance(msg, str), "first message is binary, expected the assignment")
        info("assignment %s" % msg)
        return ws, json.loads(msg)


def slot6(a):
    """The assignment's IPv6 slot prefix, as an IPv6Network."""
    check("address6" in a, "assignment without address6: %s" % a)
    return ipaddress.IPv6Interface(a["address6"]).network


def v6(raw):
    return IPv6(raw) if raw and raw[0] >> 4 == 6 else None


async def expect6(ws, pred, what, timeout=3.0):
    """Reads messages until an IPv6 one satisfies pred(raw, IPv6)."""
    return await harness.expect(ws, pred, what, timeout, parse=v6)


async def expect6_none(ws, pred, what, duration):
    """Fails if an IPv6 message satisfying pred comes within duration."""
    await harness.expect_none(ws, pred, what, duration, parse=v6)


def echo_reply(ident, src, dst=INET):
    def pred(raw, p):
        return (p.haslayer(ICMPv6EchoReply) and p[ICMPv6EchoReply].id == ident
                and norm(p.dst) == norm(src) and norm(p.src) == norm(dst))
    return pred


async def echo6(ws, src=SRC, dst=INET):
    ident = random.randrange(1, 0xFFFF)
    payload = b"vpngw-ping6-%d" % ident
    await ws.send(bytes(IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, seq=1,
                                                                  data=payload)))
    raw, p = await expect6(ws, echo_reply(ident, src, dst),
                           "echo reply %s -> %s id %d" % (dst, src, ident))
    check(bytes(p[ICMPv6EchoReply].data) == payload, "echo reply payload differs")
    check6(raw, "echo reply to %s" % src)
    return raw


def stats(which=""):
    """The stats line of the gateway (which "N": the one without IPv6)."""
    saved = os.environ["VPNGW_PID"], os.environ["VPNGW_LOG"]
    os.environ["VPNGW_PID"] = os.environ["VPNGW_%sPID" % (which + "_" if which else "")]
    os.environ["VPNGW_LOG"] = os.environ["VPNGW_%sLOG" % (which + "_" if which else "")]
    try:
        return harness.stats()
    finally:
        os.environ["VPNGW_PID"], os.environ["VPNGW_LOG"] = saved


def delta(before, after, key):
    check(key in after, "stats line has no %s: %s" % (key, sorted(after)))
    return after[key] - before.get(key, 0)


class Capture:
    """tcpdump on iface (in namespace ns, or this one) matching filt."""

    def __init__(self, iface, filt, ns=None):
        self.file = os.path.join(TMP, "cap%d.pcap" % random.randrange(1 << 30))
        cmd = ["tcpdump", "-i", iface, "--immediate-mode", "-U", "-n", "-w", self.file, filt]
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        lines = []
        for _ in range(5):
            lines.append(self.proc.stderr.readline().decode(errors="replace").strip())
            if "listening on" in lines[-1] or not lines[-1]:
                break
        check("listening on" in lines[-1], "tcpdump on %s: %s" % (iface, "; ".join(lines)))

    def packets(self):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(5)
        try:
            if os.path.getsize(self.file) <= 24:
                return []  # the file header alone
            return [p[IPv6] for p in rdpcap(self.file) if p.haslayer(IPv6)]
        finally:
            os.unlink(self.file)


# ---- The tests ----

@test()
async def assignment_v6():
    ws, a = await connect()
    try:
        net = slot6(a)
        check(net.prefixlen == 64, "address6 %s: prefix /%d" % (a["address6"], net.prefixlen))
        check(ipaddress.IPv6Interface(a["address6"]).ip == net[2],
              "address6 %s, expected ::2 of its prefix" % a["address6"])
        gw6 = a.get("gateway6")
        check(gw6 and norm(gw6) == str(net[1]), "gateway6 %r, expected %s" % (gw6, net[1]))
        check(str(net).startswith("fd00:0:0:10"), "slot prefix %s not of fd00:0:0:100::/56" % net)
        dns = [norm(d) if ":" in d else d for d in a.get("dns", [])]
        check(sorted(dns) == sorted(["198.51.100.53", "2001:db8:100::53"]),
              "dns %r, expected both servers" % a.get("dns"))
    finally:
        await ws.close()


@test()
async def ping6():
    ws, a = await connect()
    try:
        await echo6(ws)
    finally:
        await ws.close()


@test()
async def two_sources6():
    ws, a = await connect()
    try:
        net = slot6(a)
        srcs = [SRC, "2001:db8:ff::8"]
        inet = Capture("br0", "icmp6 and ip6[40] == 128", INET_NS)
        slot = Capture("any", "icmp6 and ip6[40] == 128 and src net fd00::/8")
        for s in srcs:
            await echo6(ws, src=s)
        seen_inet = {norm(p.src) for p in inet.packets()}
        seen_slot = {norm(p.src) for p in slot.packets()}
        check(seen_inet == {norm(EGRESS)}, "the Internet host saw echo requests from %s, "
              "expected %s alone" % (sorted(seen_inet), EGRESS))
        want = {str(net[2]), str(net[3])}
        check(seen_slot == want, "the slot carried echo requests from %s, expected %s"
              % (sorted(seen_slot), sorted(want)))
    finally:
        await ws.close()


def udp_reply(sport, src, frm=INET):
    def pred(raw, p):
        return (p.haslayer(UDP) and norm(p.dst) == norm(src) and norm(p.src) == norm(frm)
                and p[UDP].sport == 7 and p[UDP].dport == sport)
    return pred


@test()
async def udp6():
    ws, a = await connect()
    try:
        sport = random.randrange(20000, 60000)
        data = b"vpngw udp6 %d" % sport
        out = bytes(IPv6(src=SRC, dst=INET) / UDP(sport=sport, dport=7) / data)
        check6(out, "the request (scapy's)")
        await ws.send(out)
        raw, p = await expect6(ws, udp_reply(sport, SRC), "UDP echo reply")
        check(bytes(p[UDP].payload) == data, "echo carries %r" % bytes(p[UDP].payload))
        check6(raw, "UDP echo reply")
    finally:
        await ws.close()


def tcp_from(sport, src=SRC, dport=80):
    def pred(raw, p):
        return (p.haslayer(TCP) and norm(p.dst) == norm(src) and norm(p.src) == norm(INET)
                and p[TCP].sport == dport and p[TCP].dport == sport)
    return pred


@test(timeout=25)
async def tcp6_http():
    body = http_server.body()
    ws, a = await connect()
    try:
        mtu = int(a.get("mtu", 1500))
        synack, data, sizes = await harness.http_get(
            ws, IPv6(src=SRC, dst=INET), tcp_from, "[%s]" % INET, check6, 1460, parse=v6)
        mss = dict(o for o in synack[TCP].options if isinstance(o, tuple)).get("MSS")
        check(mss is not None and mss <= mtu - 60, "SYN-ACK MSS %s, expected <= %d"
              % (mss, mtu - 60))
        check(max(sizes, default=0) <= mtu - 60, "a segment of %d bytes" % max(sizes, default=0))
        head, _, got = data.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.0 200"), "response head %r" % head[:60])
        check(hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest(),
              "body of %d bytes: sha256 differs from that of the %d served"
              % (len(got), len(body)))
    finally:
        await ws.close()


@test()
async def ptb6():
    """1400 bytes towards FAR: the gateway's packet too big comes back
    through the tunnel to our own address, the packet it quotes too."""
    ws, a = await connect()
    try:
        mtu = int(a.get("mtu", 1500))
        check(mtu >= 1400, "slot MTU %d: the tunnel cannot carry 1400 bytes" % mtu)
        sport = random.randrange(20000, 60000)
        pkt = IPv6(src=SRC, dst=FAR) / UDP(sport=sport, dport=7) / (b"x" * (1400 - 48))
        out = bytes(pkt)
        check(len(out) == 1400, "built %d bytes" % len(out))
        await ws.send(out)

        def pred(raw, p):
            return p.haslayer(ICMPv6PacketTooBig)
        raw, p = await expect6(ws, pred, "ICMPv6 packet too big")
        t = p[ICMPv6PacketTooBig]
        check(t.type == 2 and t.mtu == 1280, "packet too big type %d MTU %d" % (t.type, t.mtu))
        check(norm(p.dst) == norm(SRC), "packet too big sent to %s, expected %s" % (p.dst, SRC))
        check6(raw, "packet too big")
        check(p.haslayer(IPerror6) and p.haslayer(UDPerror), "nothing quoted: %s" % p.summary())
        inner = p[IPerror6]
        check(norm(inner.src) == norm(SRC) and norm(inner.dst) == norm(FAR),
              "quoted %s -> %s, expected %s -> %s" % (inner.src, inner.dst, SRC, FAR))
        u = p[UDPerror]
        check(u.sport == sport and u.dport == 7 and u.len == 1360,
              "quoted UDP %d -> %d len %d" % (u.sport, u.dport, u.len))
        sent = UDP(out[40:48])
        check(u.chksum == sent.chksum, "quoted UDP checksum %#x, the packet sent had %#x"
              % (u.chksum, sent.chksum))
        quoted = bytes(t.payload)
        check(quoted[8:] == out[8:len(quoted)], "the quoted packet differs from the one sent "
              "beyond its first 8 bytes")
    finally:
        await ws.close()


@test()
async def denied6():
    ws, a = await connect()
    try:
        dsts = ["fc00::1", "fe80::1", "ff02::1", "2001:db8:200::1"]
        cap = Capture("eth0", "ip6 and (%s)" % " or ".join("dst host " + d for d in dsts))
        before = stats()
        for d in dsts:
            await ws.send(bytes(IPv6(src=SRC, dst=d) / ICMPv6EchoRequest(id=77, seq=1)))
        await expect6_none(ws, lambda raw, p: norm(p.src) in {norm(d) for d in dsts},
                           "reply from a denied destination", 1.0)
        await echo6(ws)
        after = stats()
        left = cap.packets()
        check(not left, "left the egress: %s" % [q.summary() for q in left])
        d = delta(before, after, "drop_denied")
        check(d == len(dsts), "drop_denied rose by %d, expected %d" % (d, len(dsts)))
    finally:
        await ws.close()


@test()
async def gateway_closed6():
    """SYNs to the gateway's slot address and its egress address, on a port
    that listens there (ipv6.sh's [::]:2222): no SYN-ACK."""
    ws, a = await connect()
    try:
        gw6 = a.get("gateway6") or str(slot6(a)[1])
        dsts = [gw6, EGRESS]
        for d in dsts:
            await ws.send(bytes(IPv6(src=SRC, dst=d) / TCP(sport=40000, dport=2222,
                                                          flags="S", seq=1)))
        await expect6_none(ws, lambda raw, p: p.haslayer(TCP) and p[TCP].flags.S
                           and p[TCP].flags.A, "SYN-ACK from the gateway host", 1.5)
        await echo6(ws)  # the tunnel works: the silence means something
    finally:
        await ws.close()


@test()
async def v6_off():
    ws, a = await connect(N_URL)
    try:
        check("address" in a, "no IPv4 address in %s" % a)
        check("address6" not in a and "gateway6" not in a,
              "assignment of a gateway without IPv6 has IPv6: %s" % a)
        before = stats("N")
        await ws.send(bytes(IPv6(src=SRC, dst=INET) / ICMPv6EchoRequest(id=78, seq=1)))
        await expect6_none(ws, lambda raw, p: True, "IPv6 reply", 1.0)
        after = stats("N")
        d = delta(before, after, "drop_ipv6")
        check(d == 1, "drop_ipv6 rose by %d, expected 1" % d)
    finally:
        await ws.close()


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(harness.main(sys.argv[1:]))
