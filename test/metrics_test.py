#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# test/metrics_test.py: the gateway's --metrics listener seen from outside,
# run by test/metrics.sh inside the gateway's namespace. An independent
# tunnel client (python websockets + scapy) sends traffic while curl
# scrapes /metrics; the exposition is parsed here and checked with
# promtool. Also /healthz, wrong paths and methods, and scrapers that send
# nothing or too much. Environment: VPNGW_URL (the tunnel), VPNGW_METRICS
# (http://ADDR:PORT), VPNGW_PID (the gateway: the last test stops it),
# VPNGW_RESULTS (see harness.py). With VPNGW_TLS_URL
# (wss://) and VPNGW_TLS_METRICS, only the tls_ tests run, against that
# gateway: TLS handshakes counted by result.
import asyncio
import os
import base64
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

import websockets

import harness
from harness import Fail, check, expect, test
from scapy.layers.inet import IP, UDP

URL = os.environ.get("VPNGW_URL", "ws://127.0.0.1:8080/")
METRICS = os.environ.get("VPNGW_METRICS", "http://127.0.0.1:9101")
HOST, PORT = METRICS.split("//")[1].rsplit(":", 1)
PORT = int(PORT)
INET = "198.51.100.1"      # udp echo on port 7
SRC = "192.0.2.10"         # the client's own source address
DENIED = "192.168.1.1"     # denied by default (RFC 6890)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def curl(path, *args, base=METRICS):
    """(status, content type, body) of one request with curl."""
    r = subprocess.run(["curl", "-sS", "-m", "5", "-o", "-", "-w",
                        "\n%{http_code} %{content_type}", *args, base + path],
                       capture_output=True, timeout=10)
    check(r.returncode == 0, "curl %s: exit %d: %s" % (path, r.returncode,
                                                     r.stderr.decode(errors="replace")))
    out = r.stdout.decode(errors="replace")
    body, _, tail = out.rpartition("\n")
    status, _, ctype = tail.partition(" ")
    return int(status), ctype, body


def parse(text):
    """{(name, labels): value} of an exposition; every line must be a
    comment or a sample."""
    m = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        s = SAMPLE.match(line)
        check(s, "not a sample line: %r" % line)
        m[(s.group(1), s.group(2) or "")] = float(s.group(3))
    return m


def scrape(base=METRICS):
    status, ctype, body = curl("/metrics", base=base)
    check(status == 200, "/metrics: HTTP %d" % status)
    check(ctype.startswith("text/plain") and "version=0.0.4" in ctype,
          "/metrics: content type %r" % ctype)
    return parse(body)


def val(m, name, **labels):
    key = (name, "{%s}" % ",".join('%s="%s"' % kv for kv in labels.items()) if labels else "")
    check(key in m, "no sample %s%s in the scrape" % key)
    return m[key]


async def connect():
    """A client holding a slot; retries while the pool is full (a slot
    released a moment ago rests before it is handed out again)."""
    deadline = time.monotonic() + 10
    while True:
        ws = await websockets.connect(URL, ping_interval=None, compression=None,
                                      open_timeout=5, close_timeout=2, max_size=2 ** 20)
        try:
            await asyncio.wait_for(await ws.ping(b"probe"), 3)
            return ws
        except websockets.ConnectionClosed:
            if ws.close_code != 1013 or time.monotonic() > deadline:
                raise Fail("closed with %s before it held a slot" % ws.close_code)
            await asyncio.sleep(0.25)


async def settled(ws):
    """A ping's pong: every message sent before it has been handled."""
    await asyncio.wait_for(await ws.ping(b"sync"), 3)


def udp(dst, sport, payload):
    return bytes(IP(src=SRC, dst=dst) / UDP(sport=sport, dport=7) / payload)


async def echo(ws, sport, payload):
    await ws.send(udp(INET, sport, payload))
    await expect(ws, lambda raw, p: UDP in p and p[UDP].dport == sport and
                 bytes(p[UDP].payload) == payload, "the echo to port %d" % sport)


@test()
def promtool_accepts_a_scrape():
    status, ctype, body = curl("/metrics")
    check(status == 200, "HTTP %d" % status)
    r = subprocess.run(["promtool", "check", "metrics"], input=body.encode(),
                       capture_output=True, timeout=10)
    check(r.returncode == 0, "promtool check metrics: %s"
          % (r.stdout + r.stderr).decode(errors="replace").strip()[:500])
    m = parse(body)
    for name in ("vpngw_build_info", "vpngw_clients", "vpngw_connections",
                 "vpngw_start_time_seconds", "vpngw_uptime_seconds",
                 "vpngw_auth_failures_total", "vpngw_handshakes_in_progress"):
        check(any(k[0] == name for k in m), "no %s" % name)
    check(val(m, "vpngw_slots", state="free") + val(m, "vpngw_slots", state="busy") >= 2,
          "the pool's slots are not all there")


@test()
def healthz_and_other_paths():
    status, _, body = curl("/healthz")
    check(status == 200 and body.strip() == "ok", "/healthz: %d %r" % (status, body))
    status, _, _ = curl("/nope")
    check(status == 404, "/nope: HTTP %d, expected 404" % status)
    status, _, _ = curl("/metrics", "-X", "POST", "-d", "x")
    check(status == 405, "POST /metrics: HTTP %d, expected 405" % status)
    with socket.create_connection((HOST, PORT), timeout=3) as s:
        s.sendall(b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head = s.recv(4096)
        check(head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"),
              "DELETE: %r, expected a 405 with Allow: GET" % head[:80])
    with socket.create_connection((HOST, PORT), timeout=3) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        head = s.recv(4096)
        check(head.startswith(b"HTTP/1.1 400 "), "garbage: %r, expected a 400" % head[:40])


@test(timeout=30)
async def traffic_moves_counters():
    before = scrape()
    ws = await connect()
    try:
        during = scrape()
        check(val(during, "vpngw_clients") == 1, "vpngw_clients is %s with one client"
              % val(during, "vpngw_clients"))
        check(val(during, "vpngw_handshakes_total", result="accepted") ==
              val(before, "vpngw_handshakes_total", result="accepted") + 1,
              "handshakes_total{result=accepted} did not move by one")
        for i in range(3):
            await echo(ws, 41000 + i, b"metrics %d" % i)
        after = scrape()
    finally:
        await ws.close()
    size = len(udp(INET, 41000, b"metrics 0"))
    for d in ("up", "down"):
        dp = val(after, "vpngw_packets_total", direction=d) - \
            val(during, "vpngw_packets_total", direction=d)
        db = val(after, "vpngw_bytes_total", direction=d) - \
            val(during, "vpngw_bytes_total", direction=d)
        check(dp >= 3, "packets_total{direction=%s} moved by %d, expected 3 or more" % (d, dp))
        check(db >= 3 * size, "bytes_total{direction=%s} moved by %d, expected %d or more"
              % (d, db, 3 * size))
    deadline = time.monotonic() + 3
    while val(scrape(), "vpngw_clients") != 0:
        check(time.monotonic() < deadline, "vpngw_clients not back to 0 after the close")
        await asyncio.sleep(0.1)


@test()
async def one_denied_packet_one_drop():
    ws = await connect()
    try:
        await settled(ws)
        before = val(scrape(), "vpngw_drops_total", reason="denied")
        await ws.send(udp(DENIED, 42000, b"no"))
        await settled(ws)
        after = val(scrape(), "vpngw_drops_total", reason="denied")
    finally:
        await ws.close()
    check(after - before == 1, "drops_total{reason=denied} moved by %d, expected 1"
          % (after - before))


@test(timeout=40)
async def hostile_scrapers_change_nothing():
    ws = await connect()
    idle = []
    try:
        # Fifty that send nothing, one that sends a head far over 8 KiB.
        for _ in range(50):
            idle.append(socket.create_connection((HOST, PORT), timeout=3))
        big = socket.create_connection((HOST, PORT), timeout=3)
        idle.append(big)
        try:
            big.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" +
                        b"X-Filler: " + b"a" * 65536 + b"\r\n\r\n")
        except OSError:
            pass   # cut while sending: as good as an answer
        await echo(ws, 43000, b"still here")
        t0 = time.monotonic()
        m = scrape()
        check(time.monotonic() - t0 < 3, "a scrape took %.1f s among hostile scrapers"
              % (time.monotonic() - t0))
        check(val(m, "vpngw_clients") == 1, "the tunnel client is gone")
        # Each of them is cut: by eviction, or at its deadline.
        deadline = time.monotonic() + 8
        for s in idle:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(65536):
                    pass
            except ConnectionResetError:
                pass
            except socket.timeout:
                raise Fail("a scraper that sent nothing is still connected after 8 s")
        await echo(ws, 43001, b"still here after")
        check(curl("/healthz")[0] == 200, "/healthz after the hostile scrapers")
    finally:
        for s in idle:
            s.close()
        await ws.close()


@test(timeout=20)
def healthz_503_while_stopping():
    # A client that never answers the close keeps the gateway in its
    # shutdown for its 2 s: /healthz says so meanwhile.
    host, port = URL.split("//")[1].split("/")[0].rsplit(":", 1)
    deadline = time.monotonic() + 10
    while True:
        s = socket.create_connection((host, int(port)), timeout=3)
        key = base64.b64encode(os.urandom(16))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
        head = s.recv(4096)
        check(head.startswith(b"HTTP/1.1 101"), "upgrade: %r" % head[:40])
        s.settimeout(0.5)
        try:
            more = s.recv(4096)    # a close frame with 1013 when no slot is free
        except socket.timeout:
            break
        s.close()
        check(more and time.monotonic() < deadline, "no free slot within 10 s")
        time.sleep(0.25)
    try:
        check(curl("/healthz")[0] == 200, "/healthz before the shutdown")
        os.kill(int(os.environ["VPNGW_PID"]), signal.SIGTERM)
        t0 = time.monotonic()
        while True:
            status, _, body = curl("/healthz")
            if status == 503:
                break
            check(time.monotonic() - t0 < 1.5, "/healthz still %d after SIGTERM" % status)
            time.sleep(0.05)
    finally:
        s.close()


TLS_URL = os.environ.get("VPNGW_TLS_URL", "")
TLS_METRICS = os.environ.get("VPNGW_TLS_METRICS", "")


@test(timeout=30)
async def tls_handshakes_by_result():
    host, port = TLS_URL.split("//")[1].split("/")[0].rsplit(":", 1)
    port = int(port)

    def tls(m, r):
        return val(m, "vpngw_tls_handshakes_total", result=r)

    def hs(m, r):
        return val(m, "vpngw_handshakes_total", result=r)
    before = scrape(TLS_METRICS)
    # One that completes, and upgrades.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ws = await websockets.connect(TLS_URL, ssl=ctx, ping_interval=None, compression=None,
                                  open_timeout=5, close_timeout=2)
    await asyncio.wait_for(await ws.ping(b"probe"), 3)
    await ws.close()
    # Plain HTTP on the TLS port: answered 400.
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = s.recv(4096)
        check(head.startswith(b"HTTP/1.1 400"), "plain HTTP: %r, expected a 400" % head[:40])
    # A record that is no handshake at all.
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(b"\x16\x03\x01\x00\x08" + b"\xff" * 8)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    want = {"ok": 1, "plain_http": 1, "failed": 1}
    deadline = time.monotonic() + 3
    while True:
        after = scrape(TLS_METRICS)
        got = {r: tls(after, r) - tls(before, r) for r in want}
        if got == want:
            break
        check(time.monotonic() < deadline, "tls_handshakes_total moved by %s, expected %s"
              % (got, want))
        await asyncio.sleep(0.2)
    check(hs(after, "accepted") - hs(before, "accepted") == 1,
          "handshakes_total{result=accepted} did not move by one over TLS")
    check(hs(after, "bad_request") - hs(before, "bad_request") == 1,
          "handshakes_total{result=bad_request} did not move by one for plain HTTP")


if __name__ == "__main__":
    # The tls_ tests need the TLS gateway; the others, the plain one.
    tls_run = bool(TLS_URL)
    harness.TESTS[:] = [t for t in harness.TESTS if t[0].startswith("tls_") == tls_run]
    sys.exit(harness.main(sys.argv[1:]))
