# SPDX-License-Identifier: MIT
# test/gateway_test.py: end-to-end tests of a running vpngw, as an
# independent client. The WebSocket side is python `websockets` (asyncio)
# or, for the protocol errors, a raw socket with frames written by hand; the
# packets are built and checked with scapy and a checksum written here (no
# project code is reused). netns.sh runs it inside gateway A's namespace
# with the servers of the "Internet" at 198.51.100.1 and these variables:
#   VPNGW_URL     gateway A (ws://127.0.0.1:8080/, --pool 5 --keepalive 1)
#   VPNGW_PID     its pid (SIGUSR1 for stats), VPNGW_LOG its stderr
#   VPNGW_B_URL   gateway B (--path /vpn, egress MTU 1400)
#   VPNGW_C_URL, VPNGW_C_PID   gateway C (--pool 1; gets SIGINT at the end)
#   VPNGW_D_URL, VPNGW_D_PID   gateway D (--pool 10; gets SIGTERM at the end)
#   VPNGW_RESULTS file that receives "PASSED FAILED"
#   VPNGW_SLOT_WAIT  seconds a client retries while it gets 1013 (20)
# Usage: gateway_test.py [--list] [-v] [TEST...]. Prints PASS name or
# FAIL name: reason per test, then "N passed, N failed".
import asyncio
import base64
import hashlib
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

import websockets

import harness
from harness import Fail, Skip, check, expect, expect_none, info, recv_pkt, stats, test
from scapy.layers.inet import ICMP, IP, IPOption_NOP, TCP, UDP, defragment, fragment
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

URL = os.environ.get("VPNGW_URL", "ws://127.0.0.1:8080/")
B_URL = os.environ.get("VPNGW_B_URL", "ws://198.51.100.3:8080/vpn")
C_URL = os.environ.get("VPNGW_C_URL", "ws://198.51.100.4:8080/")
D_URL = os.environ.get("VPNGW_D_URL", "ws://198.51.100.5:8080/")
SLOT_WAIT = float(os.environ.get("VPNGW_SLOT_WAIT", "20"))
INET = "198.51.100.1"      # the "Internet" host: echo :7, delayed :9, http :80
SRC = "192.0.2.10"         # the client's own source address


def hostport(url):
    m = re.match(r"wss?://([^/:]+):(\d+)(/.*)?$", url)
    return m.group(1), int(m.group(2)), m.group(3) or "/"


# ---- Checksums, computed independently of the gateway ----

def csum(data):
    """RFC 1071: 0 when data (including its checksum field) is valid."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def check_l4(proto, src, dst, seg, where):
    """Problems of one TCP/UDP/ICMP checksum; seg must be complete."""
    if proto == 1:
        return [] if csum(seg) == 0 else ["%s ICMP checksum bad" % where]
    if proto in (6, 17):
        if proto == 17 and len(seg) >= 8 and seg[6:8] == b"\0\0":
            return []  # UDP without checksum
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
        if csum(pseudo + seg) != 0:
            return ["%s %s checksum bad" % (where, "TCP" if proto == 6 else "UDP")]
    return []


def csum_problems(raw):
    """Every checksum problem of an IPv4 packet: outer IP and L4, and for
    ICMP errors the quoted IP header and (if quoted whole) its L4."""
    out = []
    ihl = (raw[0] & 15) * 4
    if csum(raw[:ihl]) != 0:
        out.append("IP header checksum bad")
    tot = struct.unpack("!H", raw[2:4])[0]
    proto, src, dst, seg = raw[9], raw[12:16], raw[16:20], raw[ihl:tot]
    out += check_l4(proto, src, dst, seg, "outer")
    if proto == 1 and len(seg) >= 28 and seg[0] in (3, 11, 12):
        inner = seg[8:]
        iihl = (inner[0] & 15) * 4
        if len(inner) >= iihl and csum(inner[:iihl]) != 0:
            out.append("inner IP header checksum bad")
        itot = struct.unpack("!H", inner[2:4])[0]
        if len(inner) >= itot:
            out += check_l4(inner[9], inner[12:16], inner[16:20],
                            inner[iihl:itot], "inner")
    # The same for the outer layers, recomputed by scapy.
    p = IP(raw)
    q = IP(raw)
    del q.chksum
    for layer in (TCP, UDP, ICMP):
        if q.haslayer(layer) and not (layer is UDP and p[UDP].chksum == 0):
            del q[layer].chksum
            break
    r = IP(bytes(q))
    if r.chksum != p.chksum:
        out.append("scapy: IP checksum %#x, recomputed %#x" % (p.chksum, r.chksum))
    for layer in (TCP, UDP, ICMP):
        if p.haslayer(layer):
            if p[layer].chksum != r[layer].chksum:
                out.append("scapy: %s checksum %#x, recomputed %#x"
                           % (layer.__name__, p[layer].chksum, r[layer].chksum))
            break
    return out


def check_csums(raw, what):
    probs = csum_problems(raw)
    check(not probs, "%s: %s (packet %s)" % (what, "; ".join(probs), raw.hex()))


# ---- WebSocket client (python websockets) ----

async def connect(url=URL, retry=None, **kw):
    """Opens an original-protocol client holding a slot: retries while the
    gateway answers 101 then 1013 (no free slot), up to retry seconds. A
    ping/pong round trip proves the connection is admitted."""
    retry = SLOT_WAIT if retry is None else retry
    deadline = time.monotonic() + retry
    opts = dict(ping_interval=None, compression=None, open_timeout=5,
                close_timeout=2, max_queue=4096, max_size=2 ** 20)
    opts.update(kw)
    n = 0
    while True:
        n += 1
        ws = await websockets.connect(url, **opts)
        try:
            await asyncio.wait_for(await ws.ping(b"probe"), 3)
            if n > 1:
                info("admitted after %d attempts" % n)
            return ws
        except websockets.ConnectionClosed:
            if ws.close_code == 1013 and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                continue
            raise Fail("%s: closed with %s (after %d attempts) before the client "
                       "was admitted" % (url, ws.close_code, n))
        except asyncio.TimeoutError:
            await ws.close()
            raise Fail("%s: no pong to a ping within 3 s after the upgrade" % url)


async def connect_v1(url=URL, retry=None, every=0.25, session=None):
    """Opens a vpngw.v1 client, as `vpngw connect` does: offers the
    subprotocol, presenting session if given, and reads the assignment.
    Retries while the gateway answers 101 then 1013 (no free slot), every
    `every` seconds up to retry seconds. Returns (ws, assignment, attempts);
    raises Fail naming the last close code otherwise."""
    retry = SLOT_WAIT if retry is None else retry
    deadline = time.monotonic() + retry
    if session:
        url += ("&" if "?" in url else "?") + "session=" + session
    n = 0
    while True:
        n += 1
        ws = await websockets.connect(url, subprotocols=["vpngw.v1"], ping_interval=None,
                                      compression=None, open_timeout=5, close_timeout=2,
                                      max_queue=4096, max_size=2 ** 20)
        try:
            check(ws.subprotocol == "vpngw.v1", "%s: subprotocol %r selected, expected "
                  "vpngw.v1" % (url, ws.subprotocol))
            msg = await asyncio.wait_for(ws.recv(), 3)
        except websockets.ConnectionClosed:
            if ws.close_code == 1013 and time.monotonic() + every < deadline:
                await asyncio.sleep(every)
                continue
            raise Fail("%s: closed with %s (after %d attempts in %.1f s) before the "
                       "assignment" % (url, ws.close_code, n, retry))
        except asyncio.TimeoutError:
            await ws.close()
            raise Fail("%s: no assignment within 3 s of the upgrade" % url)
        check(isinstance(msg, str), "first message is binary, expected the assignment")
        a = json.loads(msg)
        check(re.match(r"^[0-9a-f]{32}$", a.get("session", "")),
              "assignment without a session token: %r" % msg)
        if n > 1:
            info("admitted after %d attempts" % n)
        return ws, a, n


def is_echo_reply(ident, seq, src=SRC, dst=INET):
    def pred(raw, p):
        return (p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident
                and p[ICMP].seq == seq and p.dst == src and p.src == dst)
    return pred


async def ping(ws, src=SRC, dst=INET, seq=1, timeout=3.0, payload=None):
    """ICMP echo through the tunnel; checks the reply: addressed to src,
    same id, seq and payload, valid checksums. Returns the raw reply."""
    ident = random.randrange(1, 0xFFFF)
    payload = payload or b"vpngw-ping-%d" % ident
    await ws.send(bytes(IP(src=src, dst=dst) / ICMP(id=ident, seq=seq) / payload))
    raw, p = await expect(ws, is_echo_reply(ident, seq, src, dst),
                          "echo reply %s -> %s id %d" % (dst, src, ident), timeout)
    check(bytes(p[ICMP].payload) == payload, "echo reply payload differs: %r"
          % bytes(p[ICMP].payload))
    check_csums(raw, "echo reply")
    return raw


def udp_reply(sport, src=SRC, dport=7):
    def pred(raw, p):
        return (p.haslayer(UDP) and p.dst == src and p.src == INET
                and p[UDP].sport == dport and p[UDP].dport == sport)
    return pred



def delta(before, after, key):
    check(key in after, "stats line has no %s: %s" % (key, sorted(after)))
    return after[key] - before.get(key, 0)


# ---- Raw WebSocket client (frames by hand) ----

def ws_accept(key):
    return base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """One client frame; length overrides the encoded payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Raw:
    """A plain TCP client speaking WebSocket by hand."""

    def __init__(self, url=URL, timeout=5.0, rcvbuf=None):
        self.host, self.port, self.path = hostport(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so that the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.status = None
        self.headers = {}

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the gateway")
        self.buf += data

    def request(self, path=None, headers=None, key=None, version="13"):
        """A GET upgrade; headers replaces the default set if given."""
        key = key or base64.b64encode(os.urandom(16)).decode()
        self.key = key
        if headers is None:
            headers = ["Host: %s:%d" % (self.host, self.port), "Upgrade: websocket",
                       "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
                       "Sec-WebSocket-Version: " + version]
        return ("GET %s HTTP/1.1\r\n" % (path or self.path)
                + "".join(h + "\r\n" for h in headers) + "\r\n").encode()

    def response(self, timeout=5.0):
        """Reads the HTTP response head; returns the status code."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode(errors="replace").split("\r\n")
        self.status_line = lines[0]
        m = re.match(r"HTTP/1\.1 (\d{3})", lines[0])
        check(m, "bad status line %r" % lines[0])
        self.status = int(m.group(1))
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        return self.status

    def handshake(self, **kw):
        self.send(self.request(**kw))
        return self.response()

    def read_frame(self, timeout=3.0):
        """(fin, rsv, opcode, payload) of the next server frame."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 2:
            self._fill(deadline)
        b0, b1 = self.buf[0], self.buf[1]
        check(not b1 & 0x80, "server frame is masked")
        n, off = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill(deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill(deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        while len(self.buf) < off + n:
            self._fill(deadline)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload

    def read_close(self, timeout=3.0):
        """Reads until a close frame; returns its code (None if empty).
        Answers nothing; skips pings, pongs and data."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                fin, rsv, op, payload = self.read_frame(deadline - time.monotonic())
            except socket.timeout:
                raise Fail("no close frame within %.1f s (frames seen: %s)"
                           % (timeout, seen or "none"))
            except (EOFError, ConnectionResetError) as e:
                raise Fail("TCP closed without a close frame (%s; frames seen: %s)"
                           % (e, seen or "none"))
            if op == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            seen.append("op%d/%dB" % (op, len(payload)))

    def expect_close(self, code, timeout=3.0):
        got = self.read_close(timeout)
        check(got == code, "close code %s, expected %d" % (got, code))

    def expect_eof(self, timeout=3.0):
        """After a close, the gateway closes the TCP connection."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf = b""
        except (EOFError, ConnectionResetError):
            return
        except socket.timeout:
            raise Fail("TCP connection still open %.1f s after the close frame" % timeout)

    def close(self):
        self.sock.close()


def raw_open(url=URL, retry=None, rcvbuf=None):
    """A raw client past the upgrade and admitted (a ping answered by a
    pong), retrying while the gateway closes with 1013."""
    retry = SLOT_WAIT if retry is None else retry
    deadline = time.monotonic() + retry
    while True:
        r = Raw(url, rcvbuf=rcvbuf)
        st = r.handshake()
        check(st == 101, "upgrade answered %s" % r.status_line)
        check(r.headers.get("sec-websocket-accept") == ws_accept(r.key),
              "Sec-WebSocket-Accept %r, expected %r"
              % (r.headers.get("sec-websocket-accept"), ws_accept(r.key)))
        r.send(frame(9, b"probe"))
        t_end = time.monotonic() + 3
        while True:
            try:
                fin, rsv, op, payload = r.read_frame(t_end - time.monotonic())
            except socket.timeout:
                raise Fail("no pong to a ping within 3 s after the upgrade")
            except (EOFError, ConnectionResetError) as e:
                raise Fail("connection closed after the upgrade: %s" % e)
            if op == 0xA and payload == b"probe":
                return r
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                r.close()
                if code == 1013 and time.monotonic() < deadline:
                    time.sleep(0.25)
                    break
                raise Fail("closed with %s before the client was admitted" % code)


def icmp_echo_bytes(src=SRC, dst=INET, ident=None, seq=1):
    ident = ident or random.randrange(1, 0xFFFF)
    return ident, bytes(IP(src=src, dst=dst) / ICMP(id=ident, seq=seq) / b"raw-ping")


def raw_expect_echo_reply(r, ident, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            fin, rsv, op, payload = r.read_frame(deadline - time.monotonic())
        except socket.timeout:
            raise Fail("no echo reply within %.1f s" % timeout)
        if op == 1:
            raise Fail("text frame on an original-protocol connection")
        if op == 2:
            p = IP(payload)
            if p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident:
                check(fin, "binary reply not a single frame")
                check_csums(payload, "echo reply")
                return
        if op == 8:
            raise Fail("closed (%s) while waiting for an echo reply" % payload[:2].hex())


# ---- Tests ----



@test()
async def icmp_echo():
    ws = await connect()
    try:
        raw = await ping(ws, seq=7)
        p = IP(raw)
        check(p.dst == SRC and p.src == INET, "reply %s -> %s" % (p.src, p.dst))
        raw = await ping(ws, seq=8, payload=os.urandom(1472))  # a full 1500
        check(len(raw) == 1500, "1500-byte echo answered with %d bytes" % len(raw))
    finally:
        await ws.close()


@test()
async def udp_echo():
    ws = await connect()
    try:
        sport = random.randrange(20000, 60000)
        data = b"vpngw udp echo %d" % sport
        await ws.send(bytes(IP(src=SRC, dst=INET) / UDP(sport=sport, dport=7) / data))
        raw, p = await expect(ws, udp_reply(sport), "UDP echo reply")
        check(bytes(p[UDP].payload) == data, "echoed %r" % bytes(p[UDP].payload))
        check_csums(raw, "UDP echo reply")
    finally:
        await ws.close()


@test()
async def udp_checksum_zero():
    ws = await connect()
    try:
        sport = random.randrange(20000, 60000)
        data = b"vpngw udp no checksum"
        pkt = IP(src=SRC, dst=INET) / UDP(sport=sport, dport=7, chksum=0) / data
        await ws.send(bytes(pkt))
        raw, p = await expect(ws, udp_reply(sport), "UDP echo reply to a checksum-0 datagram")
        check(bytes(p[UDP].payload) == data, "echoed %r" % bytes(p[UDP].payload))
        check_csums(raw, "UDP echo reply")
    finally:
        await ws.close()


def expected_body():
    with urllib.request.urlopen("http://%s/body" % INET, timeout=5) as r:
        return r.read()


def tcp_from(sport, src=SRC, dport=80):
    def pred(raw, p):
        return (p.haslayer(TCP) and p.dst == src and p.src == INET
                and p[TCP].sport == dport and p[TCP].dport == sport)
    return pred


async def http_get(ws, mss=1400, src=SRC):
    """harness.http_get over IPv4 from src: (synack, response, segment sizes)."""
    return await harness.http_get(ws, IP(src=src, dst=INET), lambda sport: tcp_from(sport, src),
                                  INET, check_csums, mss)


@test(timeout=25)
async def tcp_http():
    body = expected_body()
    ws = await connect()
    try:
        synack, resp, sizes = await http_get(ws)
        head, _, got = resp.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.0 200"), "response head %r" % head[:60])
        check(got == body, "body of %d bytes differs from the %d expected"
              % (len(got), len(body)))
        check(len(sizes) > 1, "body came in %d segments" % len(sizes))
        await ping(ws)  # the connection still works
    finally:
        await ws.close()


@test()
async def icmp_port_unreachable():
    ws = await connect()
    try:
        sport = random.randrange(20000, 60000)
        sent = IP(src=SRC, dst=INET, id=4242) / UDP(sport=sport, dport=9999) / b"closed?"
        sent_raw = bytes(sent)
        await ws.send(sent_raw)

        def pred(raw, p):
            return p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3
        raw, p = await expect(ws, pred, "ICMP port unreachable")
        check(p.dst == SRC, "outer destination %s, expected %s" % (p.dst, SRC))
        check(p.src == INET, "outer source %s" % p.src)
        inner = bytes(p[ICMP].payload)
        check(inner[12:16] == socket.inet_aton(SRC), "quoted source %s, expected %s"
              % (socket.inet_ntoa(inner[12:16]), SRC))
        check(inner[16:20] == socket.inet_aton(INET), "quoted destination %s"
              % socket.inet_ntoa(inner[16:20]))
        iihl = (inner[0] & 15) * 4
        sp, dp = struct.unpack("!HH", inner[iihl:iihl + 4])
        check((sp, dp) == (sport, 9999), "quoted ports %d -> %d, expected %d -> 9999"
              % (sp, dp, sport))
        check(inner[iihl + 6:iihl + 8] == sent_raw[26:28],
              "quoted UDP checksum %s, sent %s" % (inner[iihl + 6:iihl + 8].hex(),
                                                   sent_raw[26:28].hex()))
        check_csums(raw, "ICMP port unreachable")
        await ping(ws)
    finally:
        await ws.close()


@test()
async def icmp_time_exceeded():
    """TTL 1: the gateway host's kernel answers time exceeded, which must
    come back with the quoted packet's source rewritten (traceroute)."""
    ws = await connect()
    try:
        sport = random.randrange(20000, 60000)
        await ws.send(bytes(IP(src=SRC, dst=INET, ttl=1) / UDP(sport=sport, dport=7)
                            / b"ttl one"))

        def pred(raw, p):
            return p.haslayer(ICMP) and p[ICMP].type == 11
        raw, p = await expect(ws, pred, "ICMP time exceeded")
        check(p.dst == SRC, "outer destination %s, expected %s" % (p.dst, SRC))
        inner = bytes(p[ICMP].payload)
        check(inner[12:16] == socket.inet_aton(SRC), "quoted source %s, expected %s"
              % (socket.inet_ntoa(inner[12:16]), SRC))
        check_csums(raw, "ICMP time exceeded")
    finally:
        await ws.close()


@test()
async def two_sources():
    ws = await connect()
    try:
        srcs = ["192.0.2.10", "192.0.2.11"]
        sport = random.randrange(20000, 60000)
        for s in srcs:  # same source port from both: distinct flows anyway
            await ws.send(bytes(IP(src=s, dst=INET) / UDP(sport=sport, dport=7)
                                / ("from %s" % s).encode()))
        for s in srcs:
            raw, p = await expect(ws, udp_reply(sport, s), "UDP echo reply to %s" % s)
            check(bytes(p[UDP].payload) == ("from %s" % s).encode(),
                  "reply to %s carries %r" % (s, bytes(p[UDP].payload)))
            check_csums(raw, "reply to %s" % s)
        for s in srcs:
            await ping(ws, src=s)
    finally:
        await ws.close()


@test(timeout=30)
async def map_full_33rd_source():
    ws = await connect()
    try:
        before = stats()
        srcs = ["192.0.2.%d" % (100 + i) for i in range(33)]
        for i, s in enumerate(srcs[:32]):
            await ping(ws, src=s, seq=i + 1)
        ident, pkt = icmp_echo_bytes(src=srcs[32])
        await ws.send(pkt)
        await expect_none(ws, lambda raw, p: p.dst == srcs[32],
                          "reply to the 33rd source", 1.5)
        await ping(ws, src=srcs[0])
        after = stats()
        d = delta(before, after, "drop_map_full")
        check(d == 1, "drop_map_full rose by %d, expected 1" % d)
    finally:
        await ws.close()


def ipv4_header(tot_len, ihl=5, version=4, good_csum=True, proto=1, dst=INET):
    h = bytearray(struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tot_len, 1, 0,
                              64, proto, 0, socket.inet_aton(SRC), socket.inet_aton(dst)))
    c = csum(bytes(h))
    if not good_csum:
        c ^= 0x5A5A
    h[10:12] = struct.pack("!H", c)
    return bytes(h)


@test()
async def malformed_dropped_counted():
    ws = await connect()
    try:
        good = bytes(IP(src=SRC, dst=INET) / ICMP(id=99, seq=1) / (b"x" * 8))
        bad_csum = bytearray(good)
        bad_csum[10] ^= 0xFF
        long_len = bytearray(good)  # header claims 4 more bytes than sent
        long_len[2:4] = struct.pack("!H", len(good) + 4)
        long_len[10:12] = b"\0\0"
        long_len[10:12] = struct.pack("!H", csum(bytes(long_len[:20])))
        short_len = bytearray(good)  # header claims 4 fewer bytes
        short_len[2:4] = struct.pack("!H", len(good) - 4)
        short_len[10:12] = b"\0\0"
        short_len[10:12] = struct.pack("!H", csum(bytes(short_len[:20])))
        ihl4 = ipv4_header(28, ihl=4) + bytes(8)
        truncated = good[:12]
        version5 = ipv4_header(28, version=5) + bytes(8)
        ipv6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest())
        cases = [("tot_len 4 more than sent", bytes(long_len), "malformed"),
                 ("tot_len 4 less than sent", bytes(short_len), "malformed"),
                 ("IHL 4", ihl4, "malformed"),
                 ("12-byte truncated header", truncated, "malformed"),
                 ("version 5", version5, "malformed"),
                 ("empty message", b"", "malformed"),
                 ("bad header checksum", bytes(bad_csum), "checksum"),
                 ("IPv6 echo request", ipv6, "ipv6")]
        reasons = ("malformed", "checksum", "ipv6")
        wrong = []
        for what, pkt, reason in cases:
            before = stats()
            await ws.send(pkt)
            await ping(ws)  # processed in order: the drop is counted by now
            after = stats()
            got = {k: delta(before, after, "drop_" + k) for k in reasons}
            got = {k: v for k, v in got.items() if v}
            if got != {reason: 1}:
                wrong.append("%s counted as %s, expected drop_%s +1"
                             % (what, got or "nothing", reason))
        await expect_none(ws, lambda raw, p: p.haslayer(ICMP) and p[ICMP].id == 99,
                          "reply to a malformed packet", 0.5)
        await ping(ws)  # still connected and working
        check(not wrong, "; ".join(wrong))
    finally:
        await ws.close()


@test()
async def denied_dropped_counted():
    ws = await connect()
    try:
        before = stats()
        dsts = ["203.0.113.5", "10.0.100.1", "127.0.0.1", "192.0.2.1"]
        for d in dsts:
            _, pkt = icmp_echo_bytes(dst=d)
            await ws.send(pkt)
        await expect_none(ws, lambda raw, p: p.src in dsts,
                          "reply from a denied destination", 1.5)
        await ping(ws)
        after = stats()
        d = delta(before, after, "drop_denied")
        check(d == len(dsts), "drop_denied rose by %d, expected %d (ICMP echo to %s)"
              % (d, len(dsts), ", ".join(dsts)))
    finally:
        await ws.close()


@test()
async def unmapped_dst_not_delivered():
    """Packets arriving on the slots for addresses the client never used
    are not delivered to it (and are counted): one to our slot is not
    mapped, the four to slots without a client have no client."""
    ws = await connect()
    try:
        await ping(ws)
        before = stats()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):  # gateway A's five slots; ours is one of them
            s.sendto(b"to nobody", ("10.0.%d.77" % (100 + i), 5555))
        s.close()
        await expect_none(ws, lambda raw, p: True, "packet for an unmapped address", 1.0)
        await ping(ws)
        after = stats()
        d = delta(before, after, "drop_not_mapped")
        check(d == 1, "drop_not_mapped rose by %d, expected 1" % d)
        d = delta(before, after, "drop_no_client")
        check(d == 4, "drop_no_client rose by %d, expected 4" % d)
    finally:
        await ws.close()


@test()
async def ip_options_udp():
    """IHL 6 (four NOP options): the UDP header sits further in; its
    checksum must still be patched right or the server drops the datagram."""
    ws = await connect()
    try:
        sport = random.randrange(20000, 60000)
        pkt = IP(src=SRC, dst=INET, options=[IPOption_NOP()] * 4) / UDP(
            sport=sport, dport=7) / b"with options"
        raw = bytes(pkt)
        check(raw[0] == 0x46, "built IHL %d" % (raw[0] & 15))
        await ws.send(raw)
        raw, p = await expect(ws, udp_reply(sport), "UDP echo reply to a packet with options")
        check(bytes(p[UDP].payload) == b"with options", "echoed %r" % bytes(p[UDP].payload))
        check_csums(raw, "UDP echo reply")
    finally:
        await ws.close()


@test()
async def udp_ip_fragments():
    """A 3000-byte datagram sent as IP fragments: the fragments (the later
    ones carry no UDP header) pass both ways and reassemble to the echo."""
    ws = await connect()
    try:
        sport = random.randrange(20000, 60000)
        data = os.urandom(3000)
        frags = fragment(IP(src=SRC, dst=INET, id=random.randrange(1, 65535))
                         / UDP(sport=sport, dport=7) / data, fragsize=1200)
        check(len(frags) == 3, "built %d fragments" % len(frags))
        for f in frags:
            await ws.send(bytes(f))
        got = []
        deadline = time.monotonic() + 4
        while True:
            def pred(raw, p):
                return p.dst == SRC and p.src == INET and p.proto == 17
            raw, p = await expect(ws, pred, "reply fragments (%d so far)" % len(got),
                                  max(0.1, deadline - time.monotonic()))
            check(csum(raw[:(raw[0] & 15) * 4]) == 0, "fragment IP header checksum bad")
            got.append(p)
            whole = [q for q in defragment(got) if not q.flags.MF and q.frag == 0]
            if whole:
                q = whole[0]
                break
        check(bytes(q[UDP].payload) == data, "reassembled echo of %d bytes differs"
              % len(bytes(q[UDP].payload)))
        check(q[UDP].dport == sport, "reassembled echo to port %d" % q[UDP].dport)
        check_csums(bytes(q), "reassembled echo")
    finally:
        await ws.close()


@test()
def raw_many_frames_one_write():
    """Ten messages in one TCP write, then a frame split across writes."""
    r = raw_open()
    try:
        idents, data = [], b""
        for i in range(10):
            ident, pkt = icmp_echo_bytes(seq=i)
            idents.append(ident)
            data += frame(2, pkt)
        r.send(data)
        seen = set()
        deadline = time.monotonic() + 4
        while len(seen) < 10:
            try:
                fin, rsv, op, payload = r.read_frame(deadline - time.monotonic())
            except socket.timeout:
                raise Fail("%d of 10 echo replies" % len(seen))
            if op == 2:
                p = IP(payload)
                if p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id in idents:
                    seen.add(p[ICMP].id)
        ident, pkt = icmp_echo_bytes()
        f = frame(2, pkt)
        r.send(f[:3])
        time.sleep(0.1)
        r.send(f[3:])
        raw_expect_echo_reply(r, ident)
    finally:
        r.close()


@test()
def handshake_path_query():
    """With --path /vpn, /vpn?x=1 is the same path; /vpnx is not."""
    r = raw_open(B_URL.replace("/vpn", "/vpn?x=1"))
    r.close()
    r = Raw(B_URL)
    try:
        st = r.handshake(path="/vpnx")
        check(st == 404, "/vpnx answered %d, expected 404" % st)
    finally:
        r.close()


@test()
def subprotocol_other_ignored():
    """Offering only an unknown subprotocol: none selected, no text."""
    deadline = time.monotonic() + SLOT_WAIT
    while True:
        r = Raw()
        key = base64.b64encode(os.urandom(16)).decode()
        st = r.handshake(headers=["Host: 127.0.0.1", "Upgrade: websocket",
                                  "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
                                  "Sec-WebSocket-Version: 13",
                                  "Sec-WebSocket-Protocol: chat, superchat"])
        check(st == 101, "answered %s" % r.status_line)
        check("sec-websocket-protocol" not in r.headers, "selected %r"
              % r.headers.get("sec-websocket-protocol"))
        ident, pkt = icmp_echo_bytes()
        r.send(frame(2, pkt))
        try:
            raw_expect_echo_reply(r, ident)
            r.close()
            return
        except Fail as e:
            r.close()
            if "closed (03f5)" in str(e) and time.monotonic() < deadline:
                time.sleep(0.25)
                continue
            raise


@test()
async def ws_fragmented_message():
    ws = await connect()
    try:
        ident, pkt = icmp_echo_bytes()
        await ws.send([pkt[:5], pkt[5:17], pkt[17:]])  # three frames
        await expect(ws, is_echo_reply(ident, 1), "echo reply to a fragmented message")
        await ping(ws)
    finally:
        await ws.close()


@test()
async def ws_deflate_offer_ignored():
    """A client offering permessage-deflate (as browsers and Node do) gets
    no extension it did not ask to use, and works."""
    ws = await connect(compression="deflate")
    try:
        check(not ws.extensions, "gateway accepted extensions %s" % ws.extensions)
        await ping(ws)
    finally:
        await ws.close()


@test()
async def original_protocol_no_text():
    ws = await connect()
    try:
        check(ws.subprotocol is None, "subprotocol %r selected" % ws.subprotocol)
        await ping(ws)
        await expect_none(ws, lambda raw, p: False, "", 2.5)  # text fails in recv_pkt
    finally:
        await ws.close()
    r = await asyncio.to_thread(raw_open)
    try:
        check("sec-websocket-protocol" not in r.headers, "101 carries Sec-WebSocket-Protocol: %s"
              % r.headers.get("sec-websocket-protocol"))
        ident, pkt = icmp_echo_bytes()
        r.send(frame(2, pkt))
        await asyncio.to_thread(raw_expect_echo_reply, r, ident)
    finally:
        r.close()


@test()
def raw_ping_pong():
    r = raw_open()
    try:
        for payload in (b"", b"hello", bytes(range(125))):
            r.send(frame(9, payload))
            while True:
                fin, rsv, op, got = r.read_frame()
                if op == 0xA:
                    break
                check(op == 9, "got opcode %d instead of a pong" % op)
            check(got == payload, "pong carries %r, ping carried %r" % (got[:20], payload[:20]))
            check(fin and rsv == 0, "pong frame fin=%s rsv=%d" % (fin, rsv))
    finally:
        r.close()


@test()
def raw_close_1000():
    r = raw_open()
    try:
        r.send(frame(8, close_payload(1000, b"bye")))
        r.expect_close(1000)
        r.expect_eof()
    finally:
        r.close()


def raw_error(frames, code, what):
    r = raw_open()
    try:
        for f in frames:
            r.send(f)
        got = r.read_close()
        check(got == code, "%s: close code %s, expected %d" % (what, got, code))
        try:  # complete the closing handshake as a client would
            r.send(frame(8, close_payload(code)))
        except OSError:
            pass
        r.expect_eof()
        # The gateway serves others as before.
        r2 = raw_open()
        r2.close()
    finally:
        r.close()


@test()
def raw_unmasked_1002():
    _, pkt = icmp_echo_bytes()
    raw_error([frame(2, pkt, mask=False)], 1002, "unmasked binary frame")


@test()
def raw_rsv_1002():
    _, pkt = icmp_echo_bytes()
    raw_error([frame(2, pkt, rsv=4)], 1002, "binary frame with RSV1")


@test()
def raw_unknown_opcode_1002():
    raw_error([frame(3, b"abc")], 1002, "opcode 3")


@test()
def raw_fragmented_ping_1002():
    raw_error([frame(9, b"frag", fin=False)], 1002, "ping without FIN")


@test()
def raw_long_ping_1002():
    raw_error([frame(9, b"p" * 126)], 1002, "126-byte ping")


@test()
def raw_continuation_without_start_1002():
    raw_error([frame(0, b"orphan")], 1002, "continuation without a start")


@test()
def raw_text_1003():
    raw_error([frame(1, b"hello")], 1003, "text message")


@test()
def raw_too_big_1009():
    r = raw_open()
    try:
        payload = bytes(70000)
        data = frame(2, payload)

        def sender():
            try:
                r.sock.sendall(data)
            except OSError:
                pass
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        got = r.read_close(5)
        check(got == 1009, "70000-byte binary message: close code %s, expected 1009" % got)
    finally:
        r.close()


@test()
def raw_too_big_fragmented_1009():
    """Three 30000-byte fragments: the message, not the frame, is capped."""
    r = raw_open()
    try:
        data = (frame(2, bytes(30000), fin=False) + frame(0, bytes(30000), fin=False)
                + frame(0, bytes(30000)))

        def sender():
            try:
                r.sock.sendall(data)
            except OSError:
                pass
        threading.Thread(target=sender, daemon=True).start()
        got = r.read_close(5)
        check(got == 1009, "90000 bytes in three fragments: close code %s, expected 1009"
              % got)
    finally:
        r.close()


@test()
async def max_message_not_1009():
    """A 65535-byte message is within the limit: the connection stays."""
    ws = await connect()
    try:
        pkt = bytes(IP(src=SRC, dst=INET) / UDP(sport=40000, dport=9999)
                    / bytes(65535 - 28))
        check(len(pkt) == 65535, "built %d bytes" % len(pkt))
        await ws.send(pkt)
        await ping(ws, timeout=5)
    except websockets.ConnectionClosed as e:
        raise Fail("closed (%s) after a 65535-byte message" % e)
    finally:
        await ws.close()


@test()
def raw_fragmented_with_ping():
    """A binary message in three frames with a ping between them is
    reassembled; the ping is answered."""
    r = raw_open()
    try:
        ident, pkt = icmp_echo_bytes()
        r.send(frame(2, pkt[:10], fin=False))
        r.send(frame(9, b"between"))
        r.send(frame(0, pkt[10:20], fin=False))
        r.send(frame(0, pkt[20:]))
        deadline = time.monotonic() + 3
        pong = False
        while True:
            fin, rsv, op, payload = r.read_frame(deadline - time.monotonic())
            if op == 0xA and payload == b"between":
                pong = True
            elif op == 8:
                raise Fail("closed with %s" % payload[:2].hex())
            elif op == 2:
                p = IP(payload)
                if p.haslayer(ICMP) and p[ICMP].id == ident and p[ICMP].type == 0:
                    break
        check(pong, "no pong for the ping between fragments")
    except socket.timeout:
        raise Fail("no echo reply to the fragmented message within 3 s")
    finally:
        r.close()


def raw_echo_retry(send_all):
    """send_all(r) sends the upgrade request and an echo request frame on a
    new raw client and returns the echo id; expects the 101 and the echo
    reply. Starts over while the gateway closes with 1013 (no free slot)."""
    deadline = time.monotonic() + SLOT_WAIT
    while True:
        r = Raw()
        ident = send_all(r)
        st = r.response()
        check(st == 101, "upgrade answered %s" % r.status_line)
        try:
            raw_expect_echo_reply(r, ident)
            r.close()
            return
        except Fail as e:
            r.close()
            if "closed (03f5)" in str(e) and time.monotonic() < deadline:  # 1013
                time.sleep(0.25)
                continue
            raise


@test()
def raw_byte_at_a_time():
    """The upgrade request and a frame sent one byte per TCP segment."""
    def send_all(r):
        ident, pkt = icmp_echo_bytes()
        for b in r.request() + frame(2, pkt):
            r.send(bytes([b]))
            time.sleep(0.001)
        return ident
    raw_echo_retry(send_all)


@test()
def raw_request_and_frame_one_write():
    """A client that sends its first frame with the upgrade request, in
    one segment: the bytes after the blank line are the first frame."""
    def send_all(r):
        ident, pkt = icmp_echo_bytes()
        r.send(r.request() + frame(2, pkt))
        return ident
    raw_echo_retry(send_all)


def http_status(req, url=URL, timeout=3.0):
    r = Raw(url)
    try:
        r.send(req)
        try:
            return r.response(timeout), r
        except socket.timeout:
            raise Fail("no HTTP response within %.1f s" % timeout)
        except (EOFError, ConnectionResetError) as e:
            raise Fail("connection closed without an HTTP response (%s)" % e)
    finally:
        r.close()


@test()
def handshake_400():
    h, p, _ = hostport(URL)
    hdrs = ["Host: %s:%d" % (h, p), "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Version: 13"]
    st, _ = http_status(Raw(URL).request(headers=hdrs))
    check(st == 400, "upgrade without Sec-WebSocket-Key answered %d, expected 400" % st)
    st, _ = http_status(Raw(URL).request(headers=hdrs + ["Sec-WebSocket-Key: c2hvcnQ="]))
    check(st == 400, "Sec-WebSocket-Key of 5 bytes answered %d, expected 400" % st)
    st, _ = http_status(b"NONSENSE\r\n\r\n")
    check(st == 400, "garbage request line answered %d, expected 400" % st)


@test()
def handshake_426_version():
    st, r = http_status(Raw(URL).request(version="8"))
    check(st == 426, "Sec-WebSocket-Version: 8 answered %d, expected 426" % st)
    check(r.headers.get("sec-websocket-version") == "13",
          "426 carries Sec-WebSocket-Version %r, expected '13'"
          % r.headers.get("sec-websocket-version"))


@test()
def handshake_426_plain_get():
    t0 = time.monotonic()
    st, r = http_status(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", timeout=2)
    check(st == 426, "plain GET answered %d, expected 426" % st)
    check(time.monotonic() - t0 < 2, "plain GET answered after %.1f s"
          % (time.monotonic() - t0))


@test()
def handshake_431():
    r = Raw()
    req = r.request(headers=["Host: x", "X-Pad: " + "a" * 9216, "Upgrade: websocket",
                             "Connection: Upgrade", "Sec-WebSocket-Key: "
                             + base64.b64encode(os.urandom(16)).decode(),
                             "Sec-WebSocket-Version: 13"])
    r.close()
    st, _ = http_status(req)
    check(st == 431, "9 KiB of headers answered %d, expected 431" % st)


@test()
def handshake_404_path():
    host, port, path = hostport(B_URL)
    r = Raw(B_URL)
    try:
        st = r.handshake(path="/other")
        check(st == 404, "gateway with --path %s asked for /other answered %d, "
              "expected 404" % (path, st))
    finally:
        r.close()
    r = raw_open(B_URL)
    r.close()


@test()
def handshake_odd_case():
    deadline = time.monotonic() + SLOT_WAIT
    while True:
        r = Raw()
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = ["hOST: 127.0.0.1", "upgrade: WebSocket", "CONNECTION: keep-alive, Upgrade",
                "sec-websocket-KEY: " + key, "SEC-WEBSOCKET-VERSION: 13"]
        st = r.handshake(headers=hdrs)
        check(st == 101, "odd-case upgrade answered %s" % r.status_line)
        check(r.headers.get("sec-websocket-accept") == ws_accept(key), "wrong accept %r"
              % r.headers.get("sec-websocket-accept"))
        r.send(frame(9, b"oddcase"))
        fin, rsv, op, payload = r.read_frame()
        while op == 9:
            fin, rsv, op, payload = r.read_frame()
        r.close()
        if op == 8 and payload[:2] == b"\x03\xf5" and time.monotonic() < deadline:
            time.sleep(0.25)
            continue
        check(op == 0xA and payload == b"oddcase", "after the upgrade got opcode %d %r"
              % (op, payload[:20]))
        return


def wait_closed_by_peer(sock, limit):
    """Seconds until the peer closes sock (EOF or reset), None after limit.
    Data received meanwhile (say a 408) is ignored."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            if not sock.recv(4096):
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - t0
    return None


@test(timeout=20)
def handshake_timeout():
    s1 = socket.create_connection(hostport(URL)[:2], timeout=3)   # silent
    s2 = socket.create_connection(hostport(URL)[:2], timeout=3)   # stalls mid-head
    s2.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    res = {}

    def watch(name, s):
        res[name] = wait_closed_by_peer(s, 13)
    ts = [threading.Thread(target=watch, args=(n, s), daemon=True)
          for n, s in (("silent", s1), ("partial", s2))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(15)
    s1.close()
    s2.close()
    for name in ("silent", "partial"):
        t = res.get(name)
        check(t is not None, "%s connection still open after 13 s" % name)
        check(t <= 12, "%s connection closed after %.1f s, expected ~10 s" % (name, t))
        check(t >= 5, "%s connection closed after only %.1f s" % (name, t))
    info("closed after %.1f s and %.1f s" % (res["silent"], res["partial"]))


@test(timeout=20)
def keepalive_raw_dropped():
    r = raw_open()
    try:
        t0 = time.monotonic()
        first_ping = None
        closed = None
        while time.monotonic() - t0 < 8:
            try:
                fin, rsv, op, payload = r.read_frame(8 - (time.monotonic() - t0))
            except (EOFError, ConnectionResetError):
                closed = time.monotonic() - t0
                break
            except socket.timeout:
                break
            if op == 9 and first_ping is None:
                first_ping = time.monotonic() - t0
            if op == 8:
                closed = time.monotonic() - t0
                break
        check(first_ping is not None and first_ping <= 2.5,
              "first ping after %s s, expected within 2.5 s (--keepalive 1)" % (
                  "%.1f" % first_ping if first_ping is not None else "never"))
        check(closed is not None, "a client that never answers still connected after 8 s")
        check(2 <= closed <= 5.5, "silent client dropped after %.1f s, expected 3-5 s" % closed)
        info("first ping %.1f s, dropped %.1f s" % (first_ping, closed))
    finally:
        r.close()


@test(timeout=20)
async def keepalive_ws_stays():
    ws = await connect()
    try:
        await asyncio.sleep(5)  # websockets answers the gateway's pings
        check(not ws.closed, "closed (%s) within 5 s though it answers pings" % ws.close_code)
        await ping(ws)
    finally:
        await ws.close()


@test(timeout=40)
async def stats_clients():
    s0 = stats()
    ws = await connect()
    try:
        s1 = stats()
        check(delta(s0, s1, "clients") == 1, "clients %d -> %d after one connected"
              % (s0.get("clients", -1), s1["clients"]))
    finally:
        await ws.close()
    deadline = time.monotonic() + 3
    while True:
        s2 = stats()
        if s2["clients"] == s0["clients"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    check(s2["clients"] == s0["clients"], "clients %d 3 s after the client left, "
          "expected %d" % (s2["clients"], s0["clients"]))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@test(timeout=40)
async def slow_reader_tail_drop():
    """A client that sends but never reads while the Internet answers it:
    the gateway drops what it cannot deliver (counted), its memory stays
    bounded, and it serves other clients meanwhile."""
    pid = int(os.environ["VPNGW_PID"])
    other = await connect()
    r = await asyncio.to_thread(raw_open, URL, None, 4096)
    try:
        before = stats()
        rss0 = rss_kb(pid)
        payload = bytes(1400)

        def flood():
            r.sock.settimeout(1.0)
            sent = 0
            t_end = time.monotonic() + 6
            try:
                while time.monotonic() < t_end and sent < 6000:
                    pkt = bytes(IP(src=SRC, dst=INET) / UDP(sport=41000 + sent % 1000,
                                                            dport=7) / payload)
                    r.sock.sendall(frame(2, pkt))
                    sent += 1
            except OSError:  # the gateway stopped reading us: also bounded
                pass
            return sent
        sent = await asyncio.to_thread(flood)
        await ping(other, src="192.0.2.20", timeout=5)  # others are served
        after = stats()
        rss1 = rss_kb(pid)
        info("sent %d echo requests; drop_queue_full +%d; RSS %d -> %d kB"
             % (sent, delta(before, after, "drop_queue_full"), rss0, rss1))
        check(rss1 - rss0 < 32 * 1024, "gateway RSS grew from %d to %d kB" % (rss0, rss1))
        d = delta(before, after, "drop_queue_full")
        check(d > 0, "sent %d 1400-byte echo requests without reading the replies: "
              "drop_queue_full rose by %d, expected > 0" % (sent, d))
    finally:
        r.close()
        await other.close()


@test(timeout=40)
async def queue_memory_given_back():
    """A client's send queue holds memory only while it sends: a backlog
    toward a client that does not read touches the 1 MiB ring; once the
    client has read it all and stayed idle, the gateway's RSS falls back,
    and the next packet is still delivered (the ring made again)."""
    pid = int(os.environ["VPNGW_PID"])
    with open("/proc/%d/exe" % pid, "rb") as f:
        if b"AddressSanitizer" in f.read():
            raise Skip("an ASan build keeps freed memory in its quarantine")
    r = await asyncio.to_thread(raw_open, URL, None, 4096)

    def backlog():
        payload = bytes(1400)
        r.sock.settimeout(2.0)
        for i in range(3000):
            pkt = bytes(IP(src=SRC, dst=INET) / UDP(sport=42000 + i % 1000, dport=7)
                        / payload)
            r.sock.sendall(frame(2, pkt))
        time.sleep(0.5)  # the echoes come back and wait in the queue

    def drain_then_idle(seconds):
        end = time.monotonic() + seconds
        r.buf = b""
        while time.monotonic() < end:
            r.send(frame(9, b"here"))  # not silent (--keepalive 1)
            try:
                r.read_frame(0.5)
            except socket.timeout:
                pass
    try:
        rss0 = rss_kb(pid)
        await asyncio.to_thread(backlog)
        rss1 = rss_kb(pid)
        await asyncio.to_thread(drain_then_idle, 4.5)
        rss2 = rss_kb(pid)
        info("RSS %d kB, %d kB with a backlog, %d kB idle again" % (rss0, rss1, rss2))
        check(rss1 - rss0 >= 256, "a backlog of echoes grew the RSS by %d kB only: "
              "the test did not fill the queue" % (rss1 - rss0))
        check(rss1 - rss2 >= (rss1 - rss0) * 2 // 3,
              "RSS %d kB with the backlog, still %d kB after 4 s idle (from %d kB)"
              % (rss1, rss2, rss0))
        ident, pkt = icmp_echo_bytes()
        r.buf = b""
        r.send(frame(2, pkt))
        await asyncio.to_thread(raw_expect_echo_reply, r, ident)
    finally:
        r.close()


@test(timeout=60)
async def pool_full_1013():
    clients = []
    try:
        for i in range(5):
            clients.append(await connect())
        ws = await websockets.connect(URL, ping_interval=None, compression=None,
                                      open_timeout=5, close_timeout=2)
        try:
            msg = await asyncio.wait_for(ws.recv(), 3)
            raise Fail("6th client got a message %r instead of a close" % msg[:40])
        except asyncio.TimeoutError:
            raise Fail("6th client with --pool 5 still open after 3 s")
        except websockets.ConnectionClosed:
            check(ws.close_code == 1013, "6th client closed with %s, expected 1013"
                  % ws.close_code)
        for c in clients:  # the five still work
            await ping(c)
    finally:
        for c in clients:
            await c.close()


def hostile_packet(rng):
    """An IPv4 packet with a few bytes flipped, or plain noise."""
    if rng.random() < 0.2:
        return os.urandom(rng.randrange(0, 100))
    l4 = rng.choice([ICMP(), UDP(dport=7), TCP(dport=80, flags="S")])
    p = bytearray(bytes(IP(src="10.%d.0.2" % rng.randrange(256), dst=INET) / l4
                      / os.urandom(rng.randrange(0, 1400))))
    for _ in range(rng.randrange(0, 4)):
        p[rng.randrange(len(p))] = rng.randrange(256)
    return bytes(p)


@test(timeout=40)
async def hostile_soak():
    """For 6 s, waves of 20 raw connections send hostile input: damaged or
    random packets, bad frames of every opcode, unmasked frames, noise,
    fragments, then vanish (some with a reset). The gateway must stay up and
    serve a real client afterwards; a crash anywhere fails every test after."""
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    host, port, _ = hostport(URL)
    t_end = time.monotonic() + 6
    waves = 0
    while time.monotonic() < t_end:
        socks = []
        for _ in range(20):
            try:
                s = socket.create_connection((host, port), timeout=2)
            except OSError:
                continue
            socks.append(s)
            if rng.random() < 0.9:
                key = base64.b64encode(os.urandom(16)).decode()
                s.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        for s in socks:
            try:
                for _ in range(rng.randrange(1, 30)):
                    r = rng.random()
                    if r < 0.6:
                        s.sendall(frame(2, hostile_packet(rng)))
                    elif r < 0.7:
                        s.sendall(frame(rng.choice([0, 1, 3, 8, 9, 10, 11]),
                                        os.urandom(rng.randrange(0, 200)),
                                        fin=rng.random() < 0.5, mask=rng.random() < 0.9))
                    elif r < 0.8:
                        s.sendall(os.urandom(rng.randrange(1, 3000)))
                    else:
                        s.sendall(frame(2, hostile_packet(rng), fin=False)
                                  + frame(0, hostile_packet(rng)))
            except OSError:
                pass
        for s in socks:
            if rng.random() < 0.5:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        waves += 1
        await asyncio.sleep(0)
    info("%d waves, seed %d" % (waves, seed))
    ws = await connect()
    try:
        await ping(ws)
    finally:
        await ws.close()


@test(timeout=25)
async def handshake_flood_evicted():
    """60 idle sockets that never finish their handshake, more than the
    gateway held at first (pool + 32), cannot lock a real client out: it is
    served at once, not refused nor kept until the 10 s handshake timeout.
    How many of the idle ones are cut is the gateway's choice."""
    idle = []
    try:
        host, port, _ = hostport(URL)
        for i in range(60):
            idle.append(socket.create_connection((host, port), timeout=3))
        await asyncio.sleep(0.5)
        t0 = time.monotonic()
        ws = await connect()
        try:
            await ping(ws)
        finally:
            await ws.close()
        took = time.monotonic() - t0
        check(took < 5, "a client behind 60 idle sockets took %.1f s" % took)
        cut = 0
        for s in idle:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    cut += 1
            except BlockingIOError:
                pass
            except OSError:
                cut += 1
        info("%d of 60 idle handshakes cut" % cut)
    finally:
        for s in idle:
            s.close()


@test(timeout=25)
async def mss_clamp():
    """Gateway B's egress MTU is 1400: SYNs crossing the slot carry an MSS
    of at most 1360 both ways, and the body arrives in segments that fit."""
    body = expected_body()
    ws = await connect(B_URL)
    try:
        synack, resp, sizes = await http_get(ws, mss=1460)
        mss = dict((k, v) for k, v in synack[TCP].options if isinstance(k, str)).get("MSS")
        check(mss is not None and mss <= 1360, "SYN-ACK MSS %s, expected <= 1360" % mss)
        check(resp.partition(b"\r\n\r\n")[2] == body, "body differs")
        check(max(sizes) <= 1360, "data segments of %s bytes (> 1360)" % max(sizes))
    finally:
        await ws.close()


@test()
async def icmp_frag_needed():
    """A DF packet too big for gateway B's egress: the fragmentation-needed
    error comes back rewritten, with checksums valid (path-MTU discovery)."""
    ws = await connect(B_URL)
    try:
        sport = random.randrange(20000, 60000)
        await ws.send(bytes(IP(src=SRC, dst=INET, flags="DF") / UDP(sport=sport, dport=7)
                            / bytes(1450 - 28)))

        def pred(raw, p):
            return p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 4
        raw, p = await expect(ws, pred, "ICMP fragmentation needed")
        check(p.dst == SRC, "outer destination %s, expected %s" % (p.dst, SRC))
        inner = bytes(p[ICMP].payload)
        check(inner[12:16] == socket.inet_aton(SRC), "quoted source %s, expected %s"
              % (socket.inet_ntoa(inner[12:16]), SRC))
        mtu = struct.unpack("!H", raw[(raw[0] & 15) * 4 + 6:][:2])[0]
        check(0 < mtu <= 1400, "next-hop MTU %d, expected <= 1400" % mtu)
        check_csums(raw, "ICMP fragmentation needed")
    finally:
        await ws.close()


# A slot a client released cleanly is free 1 s after the gateway has
# flushed its conntrack entries (its quarantine); the gateway's timers run
# every 200 ms and the next client retries every 100 ms, so it gets in
# within 1.3 s. SLOT_FREE leaves room for a loaded machine and an ASan
# build, and is far below --linger (10 s) and the quarantine of a gateway
# that cannot flush conntrack (120 s): a slot kept for either fails.
SLOT_FREE = 2.5


async def take_released_slot(url, what):
    """The next client on a one-slot gateway, right after the previous one
    said goodbye: it must get the slot within SLOT_FREE seconds."""
    t0 = time.monotonic()
    try:
        b, asg, n = await connect_v1(url, retry=SLOT_FREE, every=0.1)
    except Fail as e:
        raise Fail("no slot for the next client within %.1f s of %s: %s"
                   % (SLOT_FREE, what, e))
    info("next client admitted %.2f s after %s (%d attempts)"
         % (time.monotonic() - t0, what, n))
    return b, asg


@test(timeout=30)
async def slot_reuse_no_leak():
    """Gateway C has one slot. A (vpngw.v1) sends to the delayed echo (reply
    after 3 s) and closes with 1000; B must get the slot at once (a clean
    close is not lingered) and, with the same source address, must get its
    own echo reply but never the reply meant for A."""
    a, asg_a, _ = await connect_v1(C_URL)
    sport = random.randrange(20000, 60000)
    nonce = b"for-client-A-%d" % sport
    await a.send(bytes(IP(src=SRC, dst=INET) / UDP(sport=sport, dport=9) / nonce))
    t0 = time.monotonic()
    await ping(a)  # the datagram is through the gateway before A leaves
    await a.close(code=1000)
    b, asg_b = await take_released_slot(C_URL, "A's close (1000)")
    try:
        check(asg_b["address"] == asg_a["address"], "B got %s, A had %s: not the one slot"
              % (asg_b["address"], asg_a["address"]))
        check(asg_b["session"] != asg_a["session"], "B was given A's session token")
        ident = random.randrange(1, 0xFFFF)
        await b.send(bytes(IP(src=SRC, dst=INET) / ICMP(id=ident, seq=1) / b"B"))
        echoed = False
        deadline = t0 + 6  # the reply to A left the echo server at t0 + 3
        while time.monotonic() < deadline:
            raw = await recv_pkt(b, deadline - time.monotonic())
            if raw is None:
                continue
            p = IP(raw)
            if p.haslayer(UDP) and (p[UDP].sport == 9 or nonce in raw):
                raise Fail("B received the delayed reply meant for A: %s" % p.summary())
            echoed = echoed or is_echo_reply(ident, 1)(raw, p)
        check(echoed, "B got no echo reply on the slot: it was not working")
    finally:
        await b.close()


async def close_frees_slot(code):
    """A vpngw.v1 client that closes with code leaves no lingering slot:
    on gateway C (one slot, --linger 10) the next client gets it at once."""
    a, asg, _ = await connect_v1(C_URL)
    await ping(a)
    await a.close(code=code)
    check(a.close_code == code, "the gateway answered the close with %s" % a.close_code)
    b, _ = await take_released_slot(C_URL, "a close with %d" % code)
    try:
        await ping(b)
    finally:
        await b.close()


@test(timeout=30)
async def clean_close_1000_frees_slot():
    """A close with 1000 is a goodbye: the slot is released at once."""
    await close_frees_slot(1000)


@test(timeout=30)
async def clean_close_1001_frees_slot():
    """1001 (going away) is what `vpngw connect` sends when it is stopped:
    also a goodbye, so the slot is released at once."""
    await close_frees_slot(1001)


@test(timeout=40)
async def vanished_client_resumes():
    """A client whose TCP connection is cut without a close frame keeps its
    slot for --linger (10 s on gateway C): meanwhile another client gets
    1013, and 2.5 s after the cut (longer than a short linger would keep)
    the first resumes with its token, gets the same address, and its flow
    survived: the delayed echo's reply to a datagram sent before the cut
    reaches it (a release would have flushed that flow)."""
    a, asg, _ = await connect_v1(C_URL)
    sport = random.randrange(20000, 60000)
    nonce = b"before-the-cut-%d" % sport
    await a.send(bytes(IP(src=SRC, dst=INET) / UDP(sport=sport, dport=9) / nonce))
    t_sent = time.monotonic()
    await ping(a)
    a.transport.abort()  # no close frame, no goodbye
    t_cut = time.monotonic()
    await asyncio.sleep(0.5)
    try:
        other, _, _ = await connect_v1(C_URL, retry=0)
    except Fail as e:
        check("closed with 1013" in str(e), "another client: %s, expected 1013" % e)
    else:
        await other.close()
        raise Fail("another client got the slot 0.5 s after its holder vanished")
    await asyncio.sleep(max(0, t_cut + 2.5 - time.monotonic()))
    try:
        a2, asg2, _ = await connect_v1(C_URL, retry=0, session=asg["session"])
    except Fail as e:
        raise Fail("resuming 2.5 s after the cut, within --linger 10: %s" % e)
    try:
        check(asg2["address"] == asg["address"], "resumed with %s, had %s"
              % (asg2["address"], asg["address"]))
        check(time.monotonic() < t_sent + 2.9, "resumed too late to wait for the "
              "delayed reply (%.1f s after it was asked for)" % (time.monotonic() - t_sent))

        def reply(raw, p):
            return p.haslayer(UDP) and p[UDP].sport == 9 and nonce in raw
        await expect(a2, reply, "delayed reply to the datagram sent before the cut",
                     max(0.5, t_sent + 5 - time.monotonic()))
        await ping(a2)
    finally:
        await a2.close()


@test(timeout=45)
async def churn_clean_close():
    """One host connects (vpngw.v1) and leaves cleanly every 0.3 s for 15 s
    on gateway D (10 slots) while another client comes every 1.5 s: with
    clean closes released at once (1 s of quarantine each), at most about
    seven slots are ever taken, so no attempt of either may get 1013."""
    end = time.monotonic() + 15
    n = {"churn": 0, "churn_1013": 0, "other": 0, "other_1013": 0}

    async def visit(who, pause):
        while time.monotonic() < end:
            n[who] += 1
            try:
                ws, _, _ = await connect_v1(D_URL, retry=0)
            except Fail as e:
                if "closed with 1013" not in str(e):
                    raise
                n[who + "_1013"] += 1
            else:
                await ws.close(code=1000)
            await asyncio.sleep(pause)
    await asyncio.gather(visit("churn", 0.3), visit("other", 1.5))
    info("%(churn)d churn visits, %(churn_1013)d got 1013; other client: "
         "%(other)d visits, %(other_1013)d got 1013" % n)
    check(n["churn"] >= 30, "only %d visits in 15 s: the test did not churn" % n["churn"])
    check(n["other_1013"] == 0 and n["churn_1013"] == 0,
          "pool exhausted by clean closes: the other client got 1013 %(other_1013)d times "
          "in %(other)d visits, the churning host %(churn_1013)d in %(churn)d" % n)


async def shutdown_1001(url, pid_var, sig, n):
    pid = int(os.environ.get(pid_var, "0"))
    check(pid > 0, "%s not set" % pid_var)
    clients = [await connect(url) for _ in range(n)]
    os.kill(pid, sig)
    codes = []
    for c in clients:
        try:
            await asyncio.wait_for(c.wait_closed(), 5)
        except asyncio.TimeoutError:
            pass
        codes.append(c.close_code)
    check(codes == [1001] * n, "close codes after %s %s, expected 1001 each"
          % (signal.Signals(sig).name, codes))


@test(timeout=30)
async def sigint_1001():
    """Gateway C (one slot) gets SIGINT with its client connected."""
    await shutdown_1001(C_URL, "VPNGW_C_PID", signal.SIGINT, 1)


@test(timeout=30)
async def sigterm_1001():
    """Gateway D gets SIGTERM with three clients connected."""
    await shutdown_1001(D_URL, "VPNGW_D_PID", signal.SIGTERM, 3)


# ---- Runner ----

def main(argv):
    return harness.main(argv)


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))
