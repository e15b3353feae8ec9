# SPDX-License-Identifier: MIT
# test/offload_test.py: end-to-end tests of super-packets (the TUN offloads
# and the vpngw-gso WebSocket extension) as an independent client: python
# `websockets` for the tunnels (the extension declared to it by a factory
# written here), scapy to build and parse the packets, an AF_PACKET socket
# in the Internet namespace to see what came out of the gateway; no project
# code is reused. offload.sh runs it in the client namespace with:
#   VPNGW_URL        the gateway with offloads (ws://192.0.2.1:8080/)
#   VPNGW_NOOFF_URL  the gateway started with --no-offload (192.0.2.3)
#   VPNGW_PID, VPNGW_LOG  the first one's pid and stderr (stats())
#   VPNGW_INET_NS    the Internet namespace: 198.51.100.1, answers pings;
#                    UDP :9000 answers every datagram with one UDP GSO send;
#                    TCP :7100 sends 10000 bytes to each connection, closes
#   VPNGW_EGRESS     the gateway's address towards it (the masquerade's)
#   VPNGW_RESULTS    file that receives "PASSED FAILED"
# Tests: negotiated (the extension in the 101 only for vpngw.v1 and a
# gateway with offloads), super_in_udp and super_in_tcp (one super-packet
# message from the client leaves the gateway as checked segments),
# super_edges (one segment's worth, IPv4 options, 128 segments), super_bad (every kind of bad super-packet message is one malformed drop,
# and the connection and the gateway live on), orig_cut (a UDP GSO reply
# reaches an original-protocol client as one complete packet per message,
# and super_out a client that took the extension as one super-packet),
# orig_cut_tcp (its TCP: a TSO super-packet cut, FIN on the last piece).
# Usage: offload_test.py [--list] [-v] [TEST...]; prints PASS name or
# FAIL name: reason, then "N passed, N failed".
# Helper modes (run by offload.sh or by the tests themselves):
#   offload_test.py serve DIR PORT   HTTP: GET files of DIR; PUT and POST
#                                    answer with the sha256 of the body
#   offload_test.py gso-echo PORT    UDP: answers a datagram "N SIZE" with
#                                    N*SIZE bytes of pattern in one send,
#                                    cut by the kernel (UDP_SEGMENT) at SIZE
#   offload_test.py tcp-send PORT N  TCP: sends N bytes of pattern to each
#                                    connection, corked, then closes it
#   offload_test.py txoff IFACE      turns IFACE's TX checksum offload off
#                                    (so that it segments in software and
#                                    its packets carry complete checksums)
#   offload_test.py sniff PROTO PORT COUNT SEC  prints "ready", then the hex
#                                    of each IPv4 packet received on br0
#                                    for PROTO (tcp/udp) dst port PORT, for
#                                    SEC s or until 0.3 s after the COUNTth
import asyncio
import ctypes
import fcntl
import hashlib
import http.server
import os
import select
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
URL = os.environ.get("VPNGW_URL", "ws://192.0.2.1:8080/")
NOOFF_URL = os.environ.get("VPNGW_NOOFF_URL", "ws://192.0.2.1:8081/")
INET_NS = os.environ.get("VPNGW_INET_NS", "")
EGRESS = os.environ.get("VPNGW_EGRESS", "198.51.100.2")
INET = "198.51.100.1"
ORIG_SRC = "192.0.2.10"     # the original-protocol client's own address
GSO_PORT = 9000
TCP_PORT = 7100


def pattern(n, salt=0):
    """n bytes that differ from segment to segment."""
    return bytes((i * 7 + (i // 1000) * 13 + salt) & 0xFF for i in range(n))


# ---- Helper modes ----

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            h.update(chunk)
            n -= len(chunk)
        out = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_PUT

    def log_message(self, fmt, *args):
        pass


def serve(directory, port):
    def handler(*a, **kw):
        return Handler(*a, directory=directory, **kw)
    http.server.ThreadingHTTPServer((INET, port), handler).serve_forever()


def gso_echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((INET, port))
    while True:
        data, peer = s.recvfrom(2048)
        try:
            n, size = (int(x) for x in data.split()[:2])
        except ValueError:
            continue
        s.setsockopt(socket.SOL_UDP, 103, size)   # UDP_SEGMENT
        s.sendto(pattern(n * size), peer)
        s.setsockopt(socket.SOL_UDP, 103, 0)


def tcp_send(port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((INET, port))
    s.listen(8)
    while True:
        c, _ = s.accept()
        try:   # corked, so that the FIN rides on the last data's skb
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            c.sendall(pattern(n, 5))
        except OSError:
            pass
        c.close()


def txoff(iface):
    """ETHTOOL_STXCSUM 0 through SIOCETHTOOL (there may be no ethtool)."""
    val = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))
    ifr = struct.pack("16sP", iface.encode(), ctypes.addressof(val)) + b"\0" * 16
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fcntl.ioctl(s.fileno(), 0x8946, ifr)
    get = ctypes.create_string_buffer(struct.pack("II", 0x16, 1))
    ifr = struct.pack("16sP", iface.encode(), ctypes.addressof(get)) + b"\0" * 16
    fcntl.ioctl(s.fileno(), 0x8946, ifr)
    if struct.unpack("II", get.raw[:8])[1] != 0:
        sys.exit("tx checksumming still on for %s" % iface)


def sniff(proto, port, count, sec, grace=0.3):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    s.bind(("br0", 0x0800))
    num = {"tcp": 6, "udp": 17}[proto]
    print("ready", flush=True)
    deadline = time.monotonic() + sec
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        data, addr = s.recvfrom(70000)
        if addr[2] == socket.PACKET_OUTGOING or len(data) < 24 or data[9] != num:
            continue
        ihl = (data[0] & 15) * 4
        if struct.unpack("!H", data[ihl + 2:ihl + 4])[0] != port:
            continue
        print(data.hex(), flush=True)
        got += 1
        if got == count:   # and any more within the grace time
            deadline = min(deadline, time.monotonic() + grace)


# ---- The tests ----

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] in (
        "serve", "gso-echo", "tcp-send", "txoff", "sniff"):
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif cmd == "gso-echo":
        gso_echo(int(sys.argv[2]))
    elif cmd == "tcp-send":
        tcp_send(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "txoff":
        txoff(sys.argv[2])
    else:
        sniff(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    sys.exit(0)

import websockets                                              # noqa: E402
from websockets.extensions.base import ClientExtensionFactory, Extension  # noqa: E402

import harness                                                 # noqa: E402
from harness import Fail, check, expect, info, stats, test     # noqa: E402
from scapy.layers.inet import ICMP, IP, IPOption_NOP, TCP, UDP  # noqa: E402
from scapy.packet import Raw                                   # noqa: E402


class Gso(Extension):
    """vpngw-gso changes no frame: it only allows 00-prefixed messages."""
    name = "vpngw-gso"

    def decode(self, frame, *, max_size=None):
        return frame

    def encode(self, frame):
        return frame


class GsoFactory(ClientExtensionFactory):
    name = "vpngw-gso"

    def get_request_params(self):
        return []

    def process_response_params(self, params, accepted):
        if params:
            raise websockets.exceptions.NegotiationError("vpngw-gso takes no parameters")
        return Gso()


def connect(url=URL, v1=True, gso=True, deflate=False):
    return websockets.connect(url, subprotocols=["vpngw.v1"] if v1 else None,
                              extensions=[GsoFactory()] if gso else None,
                              compression="deflate" if deflate else None,
                              open_timeout=5, max_size=2 ** 20,
                              max_queue=None)   # the Internet host's ICMP errors pile up


async def assigned(ws):
    """The vpngw.v1 assignment's address; the extension must be on."""
    check(ws.subprotocol == "vpngw.v1", "the gateway did not select vpngw.v1")
    check(ws.response_headers.get("Sec-WebSocket-Extensions") == "vpngw-gso",
          "the gateway did not accept vpngw-gso (101 headers: %s)"
          % dict(ws.response_headers.raw_items()))
    import json
    msg = await asyncio.wait_for(ws.recv(), 5)
    check(isinstance(msg, str), "first message is not the assignment")
    a = json.loads(msg)["address"]
    info("assigned %s" % a)
    return a.split("/")[0]


def wire(size, pkt, kind=1):
    return struct.pack("!BBH", 0, kind, size) + pkt


def csum_ok(p, layer):
    """The packet's checksum of layer equals the one scapy recomputes."""
    got = p[layer].chksum
    q = IP(bytes(p))
    del q[layer].chksum
    del q[IP].chksum
    q = IP(bytes(q))
    return got == q[layer].chksum and p[IP].chksum == q[IP].chksum


class Sniffer:
    """An AF_PACKET reader in the Internet namespace (a child process)."""

    def __init__(self, proto, port, count, sec=5):
        check(INET_NS, "VPNGW_INET_NS not set")
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", INET_NS, PY, os.path.abspath(__file__), "sniff",
             proto, str(port), str(count), str(sec)],
            stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.p.kill()
            self.p.wait()
            raise Fail("the sniffer did not start: %r" % line)

    def packets(self):
        out, _ = self.p.communicate(timeout=30)
        return [IP(bytes.fromhex(ln)) for ln in out.split()]


@test()
async def negotiated():
    """vpngw-gso is in the 101 exactly when the client offered it with
    vpngw.v1 and the gateway has offloads; never without one of them; alone
    when another extension was offered too."""
    async with connect() as ws:
        ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        check(ws.subprotocol == "vpngw.v1", "no vpngw.v1")
        check(ext == ["vpngw-gso"], "offered with vpngw.v1: 101 has extensions %s" % ext)
    async with connect(v1=False) as ws:
        ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        check(ws.subprotocol is None, "a subprotocol without offering one")
        check(ext == [], "offered without vpngw.v1: 101 has extensions %s" % ext)
    async with connect(url=NOOFF_URL) as ws:
        ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        check(ws.subprotocol == "vpngw.v1", "no vpngw.v1 from the --no-offload gateway")
        check(ext == [], "the --no-offload gateway's 101 has extensions %s" % ext)
    async with connect(gso=False) as ws:
        ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        check(ext == [], "not offered: 101 has extensions %s" % ext)
    async with connect(deflate=True) as ws:
        offer = ", ".join(ws.request_headers.get_all("Sec-WebSocket-Extensions"))
        check("vpngw-gso" in offer and "permessage-deflate" in offer, "offered %r" % offer)
        ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        check(ext == ["vpngw-gso"], "offered with permessage-deflate: 101 has extensions %s"
              % ext)


def udp_super(src, dport, n, size, salt=0):
    pay = pattern(n * size, salt)
    p = IP(src=src, dst=INET) / UDP(sport=40000 + salt, dport=dport, chksum=0x1234) / Raw(pay)
    return bytes(p), pay


@test()
async def super_in_udp():
    """7.5 x 1000 bytes of UDP in one super-packet message (its checksum
    field garbage) leave the gateway as 8 datagrams, the last one short,
    NATed, complete."""
    n, size, port, last = 8, 1000, 9101, 500
    async with connect() as ws:
        addr = await assigned(ws)
        sn = Sniffer("udp", port, n)
        pay = pattern((n - 1) * size + last)
        pkt = bytes(IP(src=addr, dst=INET) / UDP(sport=40000, dport=port, chksum=0x1234) / Raw(pay))
        await ws.send(wire(size, pkt))
        got = sn.packets()
    check(len(got) == n, "%d datagrams at the Internet host, not %d" % (len(got), n))
    for k, p in enumerate(got):
        want = size if k < n - 1 else last
        check(p[IP].src == EGRESS, "segment %d from %s, not %s" % (k, p[IP].src, EGRESS))
        check(p[UDP].len == 8 + want and len(p[UDP].payload) == want,
              "segment %d: UDP length %d, not %d" % (k, p[UDP].len, 8 + want))
        check(csum_ok(p, UDP), "segment %d: bad checksum %#x" % (k, p[UDP].chksum))
        check(bytes(p[UDP].payload) == pay[k * size:k * size + want],
              "segment %d: not the payload's piece %d" % (k, k))


@test()
async def super_in_tcp():
    """A TCP super-packet (flags PA, garbage checksum) leaves the gateway as
    segments whose sequence numbers step by the size, checksums valid."""
    n, size, port, seq = 6, 1200, 9102, 0x10000000
    pay = pattern(n * size, 3)
    async with connect() as ws:
        addr = await assigned(ws)
        sn = Sniffer("tcp", port, n)
        p = IP(src=addr, dst=INET) / TCP(sport=40100, dport=port, flags="PA", seq=seq,
                                          ack=12345, window=1000, chksum=0x1234) / Raw(pay)
        await ws.send(wire(size, bytes(p)))
        got = sn.packets()
    check(len(got) == n, "%d segments at the Internet host, not %d" % (len(got), n))
    for k, p in enumerate(got):
        check(p[IP].src == EGRESS, "segment %d from %s, not %s" % (k, p[IP].src, EGRESS))
        check(p[TCP].seq == seq + k * size, "segment %d: seq %#x, not %#x"
              % (k, p[TCP].seq, seq + k * size))
        check(p[TCP].flags.A and not p[TCP].flags.S, "segment %d: flags %s" % (k, p[TCP].flags))
        check(csum_ok(p, TCP), "segment %d: bad checksum %#x" % (k, p[TCP].chksum))
        check(bytes(p[TCP].payload) == pay[k * size:(k + 1) * size],
              "segment %d: not the payload's piece %d" % (k, k))
    check(got[-1][TCP].flags.P, "the last segment lost PSH")


async def malformed_after(ws, msg):
    """Sends msg; how much drop_malformed moved (waiting up to 2 s for it
    to move at all, then a little longer for any second count)."""
    before = stats().get("drop_malformed", 0)
    await ws.send(msg)
    deadline = time.monotonic() + 2
    while True:
        await asyncio.sleep(0.1)
        after = stats().get("drop_malformed", 0)
        if after != before or time.monotonic() > deadline:
            break
    await asyncio.sleep(0.1)
    return stats().get("drop_malformed", 0) - before


@test(timeout=30)
async def super_edges():
    """Super-packet messages at the edges: one segment's worth (UDP, then
    TCP: written as one packet, its checksum completed), IPv4 options (a
    longer header in every segment), the largest size, the most segments."""
    async with connect() as ws:
        addr = await assigned(ws)
        cases = [
            ("one UDP segment", 1, UDP, 9111, IP(src=addr, dst=INET)
             / UDP(sport=40300, dport=9111, chksum=0x1234) / Raw(pattern(700)), 1000, [700]),
            ("one TCP segment", 1, TCP, 9112, IP(src=addr, dst=INET)
             / TCP(sport=40301, dport=9112, flags="PA", seq=77, ack=1, chksum=0x1234)
             / Raw(pattern(700)), 1000, [700]),
            ("IPv4 options", 3, UDP, 9113, IP(src=addr, dst=INET, options=[IPOption_NOP()] * 8)
             / UDP(sport=40302, dport=9113, chksum=0x1234) / Raw(pattern(2500)), 1000,
             [1000, 1000, 500]),
            ("128 segments", 128, UDP, 9114, IP(src=addr, dst=INET)
             / UDP(sport=40303, dport=9114, chksum=0x1234) / Raw(pattern(128 * 64)), 64,
             [64] * 128),
            ("size 1400, 46 KB", 33, TCP, 9115, IP(src=addr, dst=INET)
             / TCP(sport=40304, dport=9115, flags="A", seq=5, ack=1, chksum=0x1234)
             / Raw(pattern(33 * 1400)), 1400, [1400] * 33),
        ]
        for what, n, layer, port, pkt, size, lens in cases:
            raw = bytes(pkt)
            pay = bytes(pkt[layer].payload)
            sn = Sniffer(layer.__name__.lower(), port, n)
            t0 = time.monotonic()
            await ws.send(wire(size, raw))
            got = sn.packets()
            info("%s: %d packets in %.1f s" % (what, len(got), time.monotonic() - t0))
            check(len(got) == n, "%s: %d packets at the Internet host, not %d"
                  % (what, len(got), n))
            off = 0
            for k, p in enumerate(got):
                seg = bytes(p[layer].payload)
                check(len(seg) == lens[k], "%s: segment %d of %d bytes, not %d"
                      % (what, k, len(seg), lens[k]))
                check(csum_ok(p, layer), "%s: segment %d: bad checksum %#x"
                      % (what, k, p[layer].chksum))
                check(seg == pay[off:off + len(seg)], "%s: segment %d: not its piece" % (what, k))
                if layer is TCP:
                    check(p[TCP].seq == pkt[TCP].seq + off, "%s: segment %d: seq %d"
                          % (what, k, p[TCP].seq))
                off += len(seg)


async def ping_ok(ws, src, ident):
    await ws.send(bytes(IP(src=src, dst=INET) / ICMP(id=ident, seq=1) / Raw(b"x" * 32)))
    await expect(ws, lambda raw, p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == ident
                 and p[IP].dst == src, "echo reply", timeout=3)


@test(timeout=40)
async def super_bad():
    """Each bad super-packet message is one malformed drop; the connection
    still carries a ping and a good super-packet; the gateway lives on. A
    super-packet message where the extension was not taken is one too."""
    async with connect() as ws:
        addr = await assigned(ws)
        good, _ = udp_super(addr, 9103, 8, 1000)
        syn = bytes(IP(src=addr, dst=INET) / TCP(sport=40200, dport=9104, flags="S",
                                                   seq=1) / Raw(pattern(4000)))
        many, _ = udp_super(addr, 9103, 141, 64)     # 141 segments of 64
        cases = [
            ("kind 2", wire(1000, good, kind=2)),
            ("size 0", wire(0, good)),
            ("SYN", wire(1000, syn)),
            ("size 10", wire(10, good)),
            ("truncated", wire(1000, good[:5000])),
            ("129+ segments", wire(64, many)),
            ("kind 0", wire(1000, good, kind=0)),
        ]
        for what, msg in cases:
            d = await malformed_after(ws, msg)
            check(d == 1, "%s: drop_malformed moved by %d, not 1" % (what, d))
            await ping_ok(ws, addr, 0x4200 + len(what))
        sn = Sniffer("udp", 9103, 8)
        await ws.send(wire(1000, good))
        got = sn.packets()
        check(len(got) == 8, "a good super-packet after the bad ones: %d datagrams" % len(got))
    # Without the extension, a super-packet message is not a packet.
    async with connect(gso=False) as ws:
        await asyncio.wait_for(ws.recv(), 5)   # the assignment
        d = await malformed_after(ws, wire(1000, good))
        check(d == 1, "not negotiated: drop_malformed moved by %d, not 1" % d)
    os.kill(int(os.environ["VPNGW_PID"]), 0)


@test()
async def super_out():
    """A UDP GSO reply (8 x 1000) reaches a client that took vpngw-gso as
    one super-packet message: 00 01 03 e8, then the whole datagram, NATed
    back to the client's address (its L4 checksum is not the wire's)."""
    n, size = 8, 1000
    async with connect() as ws:
        addr = await assigned(ws)
        q = IP(src=addr, dst=INET) / UDP(sport=41001, dport=GSO_PORT) / Raw(b"%d %d" % (n, size))
        await ws.send(bytes(q))
        deadline = time.monotonic() + 3
        while True:
            msg = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            if isinstance(msg, bytes) and msg[:1] == b"\0":
                break
            info("passed over %r" % msg[:40])
        check(msg[:4] == struct.pack("!BBH", 0, 1, size), "prefix %s, not 000103e8" % msg[:4].hex())
        p = IP(msg[4:])
        check(UDP in p and p[IP].dst == addr and p[UDP].dport == 41001 and p[UDP].sport == GSO_PORT,
              "not the reply: %s" % p.summary())
        check(p[IP].len == len(msg) - 4 == 28 + n * size, "tot_len %d in a message of %d"
              % (p[IP].len, len(msg)))
        check(p[UDP].len == 8 + n * size, "UDP length %d" % p[UDP].len)
        q = IP(bytes(p))
        del q[IP].chksum
        check(IP(bytes(q))[IP].chksum == p[IP].chksum, "bad IPv4 header checksum")
        check(bytes(p[UDP].payload) == pattern(n * size), "not the payload")


@test()
async def orig_cut():
    """A UDP GSO reply (8 x 1000) reaches an original-protocol client as 8
    messages, each one complete IPv4/UDP packet of at most 1500 bytes."""
    n, size = 8, 1000
    async with connect(v1=False, gso=False) as ws:
        check(ws.subprotocol is None, "a subprotocol without offering one")
        q = IP(src=ORIG_SRC, dst=INET) / UDP(sport=41000, dport=GSO_PORT) / Raw(b"%d %d" % (n, size))
        await ws.send(bytes(q))
        pay = pattern(n * size)
        got = []
        for k in range(n):
            raw, p = await expect(ws, lambda raw, p: UDP in p and p[UDP].sport == GSO_PORT,
                                  "UDP segment %d" % k, timeout=3)
            got.append(raw)
            check(len(raw) <= 1500, "message %d: %d bytes" % (k, len(raw)))
            check(p[IP].dst == ORIG_SRC and p[UDP].dport == 41000,
                  "message %d to %s:%d" % (k, p[IP].dst, p[UDP].dport))
            check(p[IP].len == len(raw), "message %d: tot_len %d of %d" % (k, p[IP].len, len(raw)))
            check(csum_ok(p, UDP), "message %d: bad checksums (ip %#x udp %#x)"
                  % (k, p[IP].chksum, p[UDP].chksum))
            check(p[UDP].len == 8 + size, "message %d: UDP length %d" % (k, p[UDP].len))
            check(bytes(p[UDP].payload) == pay[k * size:(k + 1) * size],
                  "message %d: not the payload's piece %d" % (k, k))
        info("%d messages of %s bytes" % (len(got), sorted({len(r) for r in got})))


@test()
async def orig_cut_tcp():
    """A TCP connection of an original-protocol client, its handshake made
    here: the 10000 bytes the server sends at once (TSO super-packets at
    the slot TUN) arrive as packets of at most 1500 bytes with complete
    checksums, contiguous sequence numbers, the data in order, FIN only on
    the last."""
    n, port, sport = 10000, TCP_PORT, 42000 + os.getpid() % 1000
    async with connect(v1=False, gso=False) as ws:
        syn = IP(src=ORIG_SRC, dst=INET) / TCP(sport=sport, dport=port, flags="S", seq=1000,
                                               window=65535, options=[("MSS", 1460)])
        await ws.send(bytes(syn))
        _, sa = await expect(ws, lambda raw, p: TCP in p and p[TCP].sport == port
                             and p[TCP].flags.S and p[TCP].flags.A, "SYN-ACK")
        isn = sa[TCP].seq
        await ws.send(bytes(IP(src=ORIG_SRC, dst=INET) / TCP(sport=sport, dport=port, flags="A",
                                                            seq=1001, ack=isn + 1, window=65535)))
        data = {}
        fin_at = None
        deadline = time.monotonic() + 5
        while fin_at is None or sum(len(v) for v in data.values()) < n:
            raw, p = await expect(ws, lambda raw, p: TCP in p and p[TCP].sport == port,
                                  "data (%d bytes so far)" % sum(len(v) for v in data.values()),
                                  timeout=max(0.1, deadline - time.monotonic()))
            check(len(raw) <= 1500, "a message of %d bytes" % len(raw))
            check(p[IP].len == len(raw), "tot_len %d of %d" % (p[IP].len, len(raw)))
            check(csum_ok(p, TCP), "bad checksums (ip %#x tcp %#x) at seq %d"
                  % (p[IP].chksum, p[TCP].chksum, p[TCP].seq - isn))
            off = p[TCP].seq - isn - 1
            seg = bytes(p[TCP].payload)
            info("at %d: %d bytes, %s, id %d" % (off, len(seg), p[TCP].flags, p[IP].id))
            check(fin_at is None or off + len(seg) <= fin_at, "data after the FIN")
            if seg:
                data[off] = seg
                # An ACK, so that a FIN behind a full window goes too.
                await ws.send(bytes(IP(src=ORIG_SRC, dst=INET) / TCP(
                    sport=sport, dport=port, flags="A", seq=1001, ack=p[TCP].seq + len(seg),
                    window=65535)))
            if p[TCP].flags.F:
                check(fin_at is None or fin_at == off + len(seg), "two FINs")
                fin_at = off + len(seg)
        got, off = b"", 0
        for k in sorted(data):
            check(k == off, "a hole or an overlap at %d (%d)" % (off, k))
            got += data[k]
            off += len(data[k])
        check(got == pattern(n, 5), "not the data the server sent")
        check(fin_at == n, "FIN at %s, not %d" % (fin_at, n))
        await ws.send(bytes(IP(src=ORIG_SRC, dst=INET) / TCP(sport=sport, dport=port, flags="R",
                                                            seq=1001)))
        info("%d segments" % len(data))


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:]))
