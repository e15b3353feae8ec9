# SPDX-License-Identifier: MIT
# test/tls_test.py: independent TLS clients for test/tls.sh, in Debian's
# python3 (ssl), python3-websockets (10.4) and python3-scapy; no project
# code is reused. Run in the client namespace, each prints one line and
# exits 0 on success, or one line on stderr and non-zero:
#   ping URL CAFILE [N]   wss:// with the CA (host name or address checked),
#                         N ICMP echoes to 198.51.100.1 (1400-byte payloads
#                         sent back to back after the first, 25 at a time),
#                         all replies checked; prints the TLS version and
#                         cipher
#   plain HOST PORT       a plain HTTP request to the TLS port: the gateway
#                         must answer 400 or close, within 3 s
#   garbage HOST PORT     random bytes: the gateway must close within 3 s
#   stall HOST PORT SEC   half a ClientHello, then silence: the gateway must
#                         close between 5 s and SEC s
#   flood HOST PORT SOURCE RATE SEC
#                         idle TCP connections from SOURCE, RATE a second for
#                         at most SEC s or until SIGTERM: half send nothing,
#                         half the first bytes of a ClientHello, then stall;
#                         each is reset after 1 s if the gateway has not cut
#                         it. Prints how many it opened, at what rate, and
#                         how many the gateway cut
#   admit URL CAFILE N RELAY_PORT
#                         N wss:// clients in a row through the relay on
#                         127.0.0.1:RELAY_PORT (host name and CA checked
#                         against URL's host), each admitted when its ping
#                         is answered within ADMIT_S (6) s of starting (room
#                         for a SYN the flood crowded out and resent at 1 s
#                         and 3 s); fails unless all N get in
import asyncio
import collections
import os
import random
import resource
import selectors
import signal
import socket
import ssl
import sys
import time
import urllib.parse

import websockets
from scapy.layers.inet import ICMP, IP

SRC = "192.0.2.10"
DST = "198.51.100.1"
ADMIT_S = 6


WINDOW = 25


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


async def recv_reply(ws, ident, seq, payload, deadline):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            return False
        if isinstance(raw, str):
            continue
        p = IP(raw)
        if (p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident
                and p[ICMP].seq == seq and p.dst == SRC):
            if bytes(p[ICMP].payload) != payload:
                die("echo reply %d: payload differs" % seq)
            return True


async def ping(url, cafile, n):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    async with websockets.connect(url, ssl=ctx, compression=None,
                                  open_timeout=5, max_size=2 ** 20,
                                  max_queue=4096) as ws:
        tls = ws.transport.get_extra_info("ssl_object")
        ident = random.randrange(1, 0xFFFF)
        # One first, so the slot is known to work, then the burst.
        pkts = []
        for seq in range(1, n + 1):
            payload = (b"%08d" % seq) * (175 if seq > 1 else 2)
            pkts.append((seq, payload))
        seq, payload = pkts[0]
        await ws.send(bytes(IP(src=SRC, dst=DST) / ICMP(id=ident, seq=seq) / payload))
        if not await recv_reply(ws, ident, seq, payload, time.monotonic() + 5):
            die("no echo reply through the gateway within 5 s")
        # Then the rest in windows of WINDOW: bulk enough for many TLS
        # records at once, not a standing queue that the gateway's AQM
        # (CoDel, 5 ms) would rightly cut into.
        got = 1
        deadline = time.monotonic() + 10
        rest = pkts[1:]
        for i in range(0, len(rest), WINDOW):
            for seq, payload in rest[i:i + WINDOW]:
                await ws.send(bytes(IP(src=SRC, dst=DST) / ICMP(id=ident, seq=seq) / payload))
            for seq, payload in rest[i:i + WINDOW]:
                if await recv_reply(ws, ident, seq, payload, deadline):
                    got += 1
        if got < n:
            die("%d of %d echo replies" % (got, n))
        print("%s %s, %d echo replies" % (tls.version(), tls.cipher()[0], got))


def closes_within(s, sec):
    """True when the peer closes s within sec seconds; returns what it sent."""
    s.settimeout(sec)
    data = b""
    end = time.monotonic() + sec
    try:
        while time.monotonic() < end:
            b = s.recv(4096)
            if not b:
                return True, data
            data += b
    except (socket.timeout, TimeoutError):
        return False, data
    except ConnectionResetError:
        return True, data
    return False, data


def plain(host, port):
    s = socket.create_connection((host, int(port)), 3)
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" % host.encode())
    closed, data = closes_within(s, 3)
    if not closed:
        die("a plain HTTP request on the TLS port was not closed within 3 s")
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    if data and not line.startswith("HTTP/1.1 400"):
        die("unexpected answer to plain HTTP: %r" % line)
    print("closed%s" % (" after %r" % line if data else ""))


def garbage(host, port):
    s = socket.create_connection((host, int(port)), 3)
    # A plausible record header, then noise: the engine must reject it.
    s.sendall(b"\x16\x03\x03\x00\x40" + os.urandom(64) + os.urandom(512))
    closed, _ = closes_within(s, 3)
    if not closed:
        die("garbage records were not closed within 3 s")
    print("closed")


def stall(host, port, sec):
    s = socket.create_connection((host, int(port)), 3)
    t0 = time.monotonic()
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    closed, _ = closes_within(s, float(sec))
    dt = time.monotonic() - t0
    if not closed:
        die("a stalled handshake was not closed within %s s" % sec)
    if dt < 5:
        die("a stalled handshake was closed after only %.1f s" % dt)
    print("closed after %.1f s" % dt)


def flood(host, port, source, rate, sec):
    """Opens rate idle connections a second from source, without blocking:
    connect() is non-blocking and nothing is ever read."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    sel = selectors.DefaultSelector()
    live = collections.deque()     # (opened at, socket), oldest first
    opened = cut = errors = 0
    t0 = time.monotonic()
    end = t0 + sec

    def reset(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        s.close()
    while not stop and time.monotonic() < end:
        now = time.monotonic()
        due = int((now - t0) * rate) - opened
        for _ in range(max(0, min(due, 50))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((source, 0))
                s.connect_ex((host, port))
            except OSError:
                errors += 1
                s.close()
                continue
            opened += 1
            live.append((now, s))
            sel.register(s, selectors.EVENT_WRITE if opened % 2 else selectors.EVENT_READ)
        for key, ev in sel.select(0.002):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:  # connected: a few bytes, then stall
                try:
                    s.send(hello[:5 + opened % 7])
                except OSError:
                    pass
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # the gateway cut it
                cut += 1
                sel.unregister(s)
                s.close()
        while live and (live[0][1].fileno() < 0 or now - live[0][0] > 1.0):
            _, s = live.popleft()
            if s.fileno() >= 0:
                sel.unregister(s)
                reset(s)
    dt = time.monotonic() - t0
    for _, s in live:
        if s.fileno() >= 0:
            reset(s)
    print("%d connections from %s in %.1f s (%.0f/s), %d cut by the gateway, "
          "%d failed to open" % (opened, source, dt, opened / dt, cut, errors))


async def admit_one(url, ctx, relay_port):
    """(True, seconds taken) once the gateway answers a ping, else (False, why)."""
    t0 = time.monotonic()
    try:
        ws = await asyncio.wait_for(websockets.connect(
            url, host="127.0.0.1", port=relay_port, ssl=ctx,
            server_hostname=urllib.parse.urlsplit(url).hostname, compression=None,
            open_timeout=None, close_timeout=1), ADMIT_S)
    except asyncio.TimeoutError:
        return False, "no upgrade within %d s" % ADMIT_S
    except (OSError, websockets.WebSocketException) as e:
        return False, "failed before the upgrade: %s %s" % (type(e).__name__, e)
    try:
        left = ADMIT_S - (time.monotonic() - t0)
        await asyncio.wait_for(await ws.ping(b"admitted"), max(0.1, left))
        return True, "%.2f s" % (time.monotonic() - t0)
    except asyncio.TimeoutError:
        return False, "upgraded, no pong within %d s" % ADMIT_S
    except websockets.ConnectionClosed:
        return False, "closed with %s after the upgrade" % ws.close_code
    finally:
        await ws.close()


async def admit(url, cafile, n, relay_port):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    got = []
    for i in range(n):
        got.append(await admit_one(url, ctx, relay_port))
        await asyncio.sleep(0.3)  # what they leave rests 1 s in quarantine
    ok = sum(1 for admitted, _ in got if admitted)
    line = "%d of %d got in: %s" % (ok, n, "; ".join(why for _, why in got))
    if ok < n:
        die(line)
    print(line)


def main():
    a = sys.argv[1:]
    try:
        if len(a) in (3, 4) and a[0] == "ping":
            asyncio.run(ping(a[1], a[2], int(a[3]) if len(a) == 4 else 1))
        elif len(a) == 3 and a[0] == "plain":
            plain(a[1], a[2])
        elif len(a) == 3 and a[0] == "garbage":
            garbage(a[1], a[2])
        elif len(a) == 4 and a[0] == "stall":
            stall(a[1], a[2], a[3])
        elif len(a) == 6 and a[0] == "flood":
            flood(a[1], int(a[2]), a[3], float(a[4]), float(a[5]))
        elif len(a) == 5 and a[0] == "admit":
            asyncio.run(admit(a[1], a[2], int(a[3]), int(a[4])))
        else:
            die("usage: tls_test.py ping URL CAFILE [N] | plain|garbage HOST PORT | "
                "stall HOST PORT SEC | flood HOST PORT SOURCE RATE SEC | "
                "admit URL CAFILE N RELAY_PORT")
    except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as e:
        die("%s: %s" % (type(e).__name__, e))


main()
