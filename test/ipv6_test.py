# SPDX-License-Identifier: MIT
# test/ipv6_test.py: the gateway's IPv6 data plane end to end, from an
# independent client (python websockets + scapy) in the gateway's namespace,
# as test/ipv6.sh starts it: the assignment's address6, gateway6 and dns; an
# ICMPv6 echo, UDP and a TCP handshake to the Internet host 2001:db8:100::1
# with every checksum checked; two IPv6 sources on one connection mapped to
# distinct slot addresses; an oversize packet across the 1280-byte link comes
# back as packet-too-big quoting the client's own source; denied IPv6
# destinations dropped and counted. Each test prints PASS, FAIL or SKIP.
import asyncio
import ipaddress
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

import websockets

import harness
from harness import Fail, check, expect_none, info, stats, test
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6PacketTooBig,
                                IPerror6, IPv6)

URL = os.environ.get("VPNGW_URL", "ws://127.0.0.1:8080/")
INET6 = "2001:db8:100::1"           # the Internet host: echo :7, http :80
DNS = os.environ.get("VPNGW_DNS", "192.0.2.53 2001:db8:100::53").split()
SRC6 = "2001:db8:1::10"             # the client's own IPv6 sources
SRC6B = "2001:db8:1::11"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def l4_ok(raw):
    """Whether the upper-layer checksum of the IPv6 packet raw (no extension
    headers) is right: the pseudo-header and the segment sum to all ones."""
    nh, plen = raw[6], struct.unpack("!H", raw[4:6])[0]
    seg = raw[40:40 + plen]
    pseudo = raw[8:40] + struct.pack("!IxxxB", len(seg), nh)
    return csum(pseudo + seg) == 0xffff


async def connect_v1():
    opts = dict(ping_interval=None, compression=None, open_timeout=5, close_timeout=2,
                max_size=2 ** 20, subprotocols=["vpngw.v1"])
    deadline = time.monotonic() + 20
    while True:
        ws = await websockets.connect(URL, **opts)
        try:
            msg = await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            # 1013: every slot is busy or in quarantine; one frees soon.
            if ws.close_code == 1013 and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                continue
            raise Fail("closed with %s before the assignment" % ws.close_code)
        check(isinstance(msg, str), "the first message is not the assignment")
        return ws, json.loads(msg)


async def expect6(ws, pred, what, timeout=3.0):
    """Reads messages until an IPv6 packet satisfies pred(raw, pkt)."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("no %s within %.1f s (other messages: %s)" % (what, timeout,
                                                                       seen[:5] or "none"))
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            continue
        if isinstance(raw, str) or not raw or raw[0] >> 4 != 6:
            seen.append(repr(raw[:20]))
            continue
        p = IPv6(raw)
        if pred(raw, p):
            return raw, p
        seen.append(p.summary())


async def ping6(ws, src=SRC6, dst=INET6, seq=1):
    ident = random.randrange(1, 0xffff)
    pkt = bytes(IPv6(src=src, dst=dst, hlim=64) /
                ICMPv6EchoRequest(id=ident, seq=seq, data=b"vpngw-ipv6" * 4))
    await ws.send(pkt)
    raw, p = await expect6(ws, lambda r, q: ICMPv6EchoReply in q and q.id == ident and
                           q.seq == seq, "ICMPv6 echo reply from %s to %s" % (dst, src))
    check(p.src == dst and p.dst == src, "reply %s -> %s, want %s -> %s" % (p.src, p.dst, dst, src))
    check(l4_ok(raw), "echo reply with a wrong ICMPv6 checksum: %s" % raw.hex())
    return p


def slot_sources():
    """The IPv6 sources the gateway's kernel sees from the slots (conntrack's
    ICMPv6 entries whose destination is the Internet host)."""
    out = subprocess.run(["conntrack", "-L", "-f", "ipv6", "-p", "icmpv6"],
                         capture_output=True, text=True).stdout
    srcs = set()
    for line in out.splitlines():
        f = {}
        for kv in line.split():   # the original direction's src= and dst= come first
            if "=" in kv:
                f.setdefault(*kv.split("=", 1))
        if f.get("dst") == INET6 and f.get("src", "").startswith("fd00:"):
            srcs.add(f["src"])
    return srcs


@test()
async def assignment_ipv6():
    ws, a = await connect_v1()
    try:
        info("assignment %s" % a)
        check("address" in a, "no IPv4 address: %s" % a)
        check("address6" in a and "gateway6" in a, "no address6/gateway6: %s" % a)
        addr, plen = a["address6"].split("/")
        net = ipaddress.ip_network(a["address6"], strict=False)
        check(plen == "64" and net.subnet_of(ipaddress.ip_network("fd00:0:0:100::/56")),
              "address6 %s is not a /64 of the pool" % a["address6"])
        check(ipaddress.ip_address(addr) == net.network_address + 2 and
              ipaddress.ip_address(a["gateway6"]) == net.network_address + 1,
              "address6 %s, gateway6 %s: want prefix::2 and prefix::1" % (a["address6"],
                                                                       a["gateway6"]))
        check(a.get("dns") == DNS, "dns %s, want %s" % (a.get("dns"), DNS))
    finally:
        await ws.close()


@test()
async def ping6_echo():
    ws, _ = await connect_v1()
    try:
        await ping6(ws)
    finally:
        await ws.close()


@test()
async def two_sources6():
    ws, _ = await connect_v1()
    try:
        before = slot_sources()
        await ping6(ws, src=SRC6, seq=11)
        await ping6(ws, src=SRC6B, seq=12)
        await ping6(ws, src=SRC6, seq=13)
        new = slot_sources() - before
        check(len(new) >= 2, "the kernel saw slot sources %s for two client sources, "
              "want two distinct ones" % sorted(slot_sources()))
    finally:
        await ws.close()


@test()
async def udp6_echo():
    ws, _ = await connect_v1()
    try:
        sport = random.randrange(20000, 60000)
        data = os.urandom(300)
        await ws.send(bytes(IPv6(src=SRC6, dst=INET6) / UDP(sport=sport, dport=7) / data))
        raw, p = await expect6(ws, lambda r, q: UDP in q and q[UDP].dport == sport,
                               "UDP echo over IPv6")
        check(bytes(p[UDP].payload) == data, "echoed payload differs")
        check(p.dst == SRC6 and p[UDP].sport == 7, "reply %s" % p.summary())
        check(l4_ok(raw), "UDP reply with a wrong checksum: %s" % raw[:64].hex())
    finally:
        await ws.close()


@test()
async def tcp6_handshake():
    ws, _ = await connect_v1()
    try:
        sport = random.randrange(20000, 60000)
        seq = random.randrange(1, 2 ** 31)
        await ws.send(bytes(IPv6(src=SRC6, dst=INET6) /
                            TCP(sport=sport, dport=80, flags="S", seq=seq,
                                options=[("MSS", 1200)])))
        raw, p = await expect6(ws, lambda r, q: TCP in q and q[TCP].dport == sport,
                               "SYN-ACK over IPv6")
        check(p[TCP].flags == "SA" and p[TCP].ack == seq + 1, "answer %s" % p.summary())
        check(p.dst == SRC6 and p.src == INET6, "SYN-ACK %s -> %s" % (p.src, p.dst))
        check(l4_ok(raw), "SYN-ACK with a wrong TCP checksum: %s" % raw.hex())
        await ws.send(bytes(IPv6(src=SRC6, dst=INET6) /
                            TCP(sport=sport, dport=80, flags="R", seq=seq + 1)))
    finally:
        await ws.close()


@test()
async def ptb6_inner_rewritten():
    ws, _ = await connect_v1()
    try:
        sport = random.randrange(20000, 60000)
        big = bytes(IPv6(src=SRC6, dst=INET6) / UDP(sport=sport, dport=7) / (b"x" * 1352))
        check(len(big) == 1400, "test packet of %d bytes" % len(big))
        await ws.send(big)
        raw, p = await expect6(ws, lambda r, q: ICMPv6PacketTooBig in q,
                               "ICMPv6 packet too big")
        check(p.dst == SRC6, "packet too big to %s, want %s" % (p.dst, SRC6))
        check(p[ICMPv6PacketTooBig].mtu == 1280, "mtu %d" % p[ICMPv6PacketTooBig].mtu)
        check(l4_ok(raw), "packet too big with a wrong ICMPv6 checksum: %s" % raw[:96].hex())
        inner = p[IPerror6]
        check(inner.src == SRC6 and inner.dst == INET6,
              "the quoted packet %s -> %s, want %s -> %s" % (inner.src, inner.dst, SRC6, INET6))
        # The quoted UDP header names the client's own port again.
        q = bytes(p[ICMPv6PacketTooBig].payload)
        check(struct.unpack("!H", q[40:42])[0] == sport,
              "quoted source port %d, want %d" % (struct.unpack("!H", q[40:42])[0], sport))
    finally:
        await ws.close()


@test()
async def denied6_dropped_counted():
    ws, _ = await connect_v1()
    try:
        before = stats()
        dsts = ["fc00::1", "2001:db8:200::1", "fd00:0:0:101::1", "::1"]
        for d in dsts:
            await ws.send(bytes(IPv6(src=SRC6, dst=d) / ICMPv6EchoRequest(id=7, seq=1)))
        await expect_none(ws, lambda r, p: False, "nothing", 1.0)
        await ping6(ws, seq=21)
        after = stats()
        d = after.get("drop_denied", 0) - before.get("drop_denied", 0)
        check(d == len(dsts), "drop_denied rose by %d, expected %d (ICMPv6 echo to %s)"
              % (d, len(dsts), ", ".join(dsts)))
    finally:
        await ws.close()


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:]))
