# SPDX-License-Identifier: MIT
# test/harness.py: what the python end-to-end scripts (gateway_test.py,
# firewall_test.py, auth_test.py, metrics_test.py) share: the Fail and Skip
# exceptions and check(), the gateway's stats line read after a SIGUSR1, reading
# packets off a tunnel until one matches (or none does), an HTTP GET over a
# TCP connection driven by hand through a tunnel (either family), the @test
# registry,
# running one test in a thread with a deadline, and the runner that prints
# PASS/FAIL/SKIP lines and "N passed, N failed" (and writes them to
# $VPNGW_RESULTS for the shell suite that started it). For the small clients
# whose failure is their exit status (client_test.py, proxy_test.py): the
# vpngw.v1 assignment, read or exit. The tests themselves, and every other
# helper that talks to the gateway, are the scripts' own.
import asyncio
import json
import os
import re
import signal
import socket
import sys
import threading
import time

import websockets
import random
import struct

from scapy.layers.inet import IP, TCP

VERBOSE = False
TESTS = []


class Fail(Exception):
    pass


class Skip(Exception):
    """A test that cannot run against this gateway: printed and counted as
    skipped, never as passed."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def info(msg):
    if VERBOSE:
        print("  info: " + msg, flush=True)


def stats():
    """SIGUSR1 to the gateway $VPNGW_PID; its next stats line in the log
    $VPNGW_LOG, as a dict of its counters."""
    pid = int(os.environ["VPNGW_PID"])
    log = os.environ["VPNGW_LOG"]
    with open(log, "rb") as f:
        f.seek(0, 2)
        pos = f.tell()
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(pos)
            for line in f.read().decode(errors="replace").splitlines(keepends=True):
                if "vpngw: stats" in line and line.endswith("\n"):
                    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
        time.sleep(0.05)
    raise Fail("no 'vpngw: stats' line within 3 s of SIGUSR1")


async def recv_pkt(ws, timeout, skip_text=False):
    """The next binary message, or None on timeout. A text message is a
    failure on an original-protocol connection; skip_text passes it over."""
    try:
        msg = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        return None
    if isinstance(msg, str):
        if skip_text:
            return None
        raise Fail("text message on an original-protocol connection: %r" % msg[:100])
    return msg


async def expect(ws, pred, what, timeout=3.0, skip_text=False, parse=IP):
    """Reads messages until one satisfies pred(raw, packet); returns (raw,
    packet). parse makes the packet of a message (scapy's IP by default;
    None for one the caller is not waiting for, which is passed over)."""
    deadline = time.monotonic() + timeout
    others = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("no %s within %.1f s (other messages: %s)"
                       % (what, timeout, others[:5] or "none"))
        try:
            raw = await recv_pkt(ws, left, skip_text)
        except websockets.ConnectionClosed as e:
            raise Fail("connection closed (%s) while waiting for %s" % (e, what))
        if raw is None:
            continue
        p = parse(raw)
        if p is not None and pred(raw, p):
            return raw, p
        others.append(p.summary() if p is not None else raw[:20].hex())


async def expect_none(ws, pred, what, duration, skip_text=False, parse=IP):
    """Reads for duration seconds; fails if a message satisfies pred (parse
    as expect's). Returns how many messages came."""
    deadline = time.monotonic() + duration
    n = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return n
        raw = await recv_pkt(ws, left, skip_text)
        if raw is None:
            continue
        n += 1
        p = parse(raw)
        if p is not None and pred(raw, p):
            raise Fail("unexpected %s: %s (%s)" % (what, p.summary(), raw.hex()))


def tcp_payload(raw):
    """The TCP payload of the IPv4 or IPv6 packet raw, by its own lengths
    (no extension headers: what a tunnel here carries)."""
    if raw[0] >> 4 == 6:
        end, l4 = 40 + struct.unpack("!H", raw[4:6])[0], 40
    else:
        end, l4 = struct.unpack("!H", raw[2:4])[0], (raw[0] & 15) * 4
    return raw[l4 + (raw[l4 + 12] >> 4) * 4:end]


async def http_get(ws, ip, frm, host, check_pkt, mss=1400, parse=IP):
    """An HTTP/1.0 GET /body from port 80 of ip's destination (ip: scapy's
    IP or IPv6 layer, our source in it) over a TCP connection driven by hand
    through the tunnel: handshake, request, ACK every segment, FIN from the
    server, our FIN, its ACK. frm(sport) is the predicate of the server's
    segments to sport; check_pkt(raw, what) checks each one's checksums;
    parse as expect's. Returns (synack, response, data segment sizes)."""
    sport = random.randrange(20000, 60000)
    isn = random.randrange(0, 2 ** 32)
    came = frm(sport)

    def seg(flags, seq, ack, data=b""):
        t = TCP(sport=sport, dport=80, flags=flags, seq=seq, ack=ack, window=65535)
        return bytes(ip / t / data) if data else bytes(ip / t)
    await ws.send(bytes(ip / TCP(sport=sport, dport=80, flags="S", seq=isn,
                                 window=65535, options=[("MSS", mss)])))
    raw, p = await expect(ws, came, "SYN-ACK", parse=parse)
    check_pkt(raw, "SYN-ACK")
    check(p[TCP].flags == "SA", "answer to SYN has flags %s" % p[TCP].flags)
    check(p[TCP].ack == (isn + 1) % 2 ** 32, "SYN-ACK acks %d, expected %d"
          % (p[TCP].ack, isn + 1))
    synack = p
    rcv = (p[TCP].seq + 1) % 2 ** 32
    snd = (isn + 1) % 2 ** 32
    await ws.send(seg("A", snd, rcv))
    req = b"GET /body HTTP/1.0\r\nHost: %s\r\n\r\n" % host.encode()
    await ws.send(seg("PA", snd, rcv, req))
    snd = (snd + len(req)) % 2 ** 32
    data = bytearray()
    sizes = []
    deadline = time.monotonic() + 10
    while True:
        raw, p = await expect(ws, came, "TCP data or FIN (%d bytes so far)" % len(data),
                              max(0.1, deadline - time.monotonic()), parse=parse)
        check_pkt(raw, "TCP segment")
        flags = p[TCP].flags
        check(not flags.R, "RST from the server after %d bytes" % len(data))
        payload = tcp_payload(raw)
        if payload:
            sizes.append(len(payload))
        if p[TCP].seq == rcv:
            data += payload
            rcv = (rcv + len(payload)) % 2 ** 32
            if flags.F:
                rcv = (rcv + 1) % 2 ** 32
                break
        await ws.send(seg("A", snd, rcv))
    # The server closed (HTTP/1.0); we acknowledge with our own FIN.
    await ws.send(seg("FA", snd, rcv))
    want = (snd + 1) % 2 ** 32

    def last_ack(raw, p):
        return came(raw, p) and p[TCP].flags.A and p[TCP].ack == want
    raw, p = await expect(ws, last_ack, "ACK of our FIN", parse=parse)
    check_pkt(raw, "last ACK")
    return synack, bytes(data), sizes


async def assignment(ws):
    """The assignment a vpngw.v1 gateway sends first on ws, as a dict; exits
    with one line when it did not select vpngw.v1 or that is not text."""
    if ws.subprotocol != "vpngw.v1":
        sys.exit("gateway did not select vpngw.v1")
    msg = await asyncio.wait_for(ws.recv(), 5)
    if not isinstance(msg, str):
        sys.exit("first message is not text")
    return json.loads(msg)


def test(timeout=20):
    """Registers a test (a coroutine or a plain function) with its deadline."""
    def reg(fn):
        TESTS.append((fn.__name__, fn, timeout))
        return fn
    return reg


def run_one(fn, timeout):
    """None when fn passed, else why it failed."""
    res = {}

    def target():
        try:
            if asyncio.iscoroutinefunction(fn):
                asyncio.run(asyncio.wait_for(fn(), timeout))
            else:
                fn()
            res["ok"] = True
        except BaseException as e:  # noqa: B902: report whatever it was
            res["exc"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout + 5)
    if t.is_alive():
        return "test still running after %d s" % timeout
    e = res.get("exc")
    if e is None:
        return None
    if isinstance(e, Skip):
        return e
    if isinstance(e, Fail):
        return str(e)
    if isinstance(e, (asyncio.TimeoutError, socket.timeout)):
        return "timed out (%s)" % (type(e).__name__)
    return "%s: %s" % (type(e).__name__, e)


def main(argv, all_by_default=True):
    """Runs the tests named in argv (all of them, unless all_by_default is
    false); --list names them, -v says more. Returns the exit status."""
    global VERBOSE
    names = [n for n, _, _ in TESTS]
    args = [a for a in argv if not a.startswith("-")]
    if "--list" in argv:
        print("\n".join(names))
        return 0
    VERBOSE = "-v" in argv
    for a in args:
        if a not in names:
            print("unknown test %s (see --list)" % a, file=sys.stderr)
            return 2
    passed = failed = skipped = 0
    for name, fn, timeout in TESTS:
        if (args or not all_by_default) and name not in args:
            continue
        t0 = time.monotonic()
        err = run_one(fn, timeout)
        dt = time.monotonic() - t0
        if err is None:
            passed += 1
            print("PASS %s" % name + (" (%.1f s)" % dt if VERBOSE else ""), flush=True)
        elif isinstance(err, Skip):
            skipped += 1
            print("SKIP %s: %s" % (name, err), flush=True)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, err), flush=True)
    print("%d passed, %d failed" % (passed, failed) +
          (", %d skipped" % skipped if skipped else ""), flush=True)
    if os.environ.get("VPNGW_RESULTS"):
        with open(os.environ["VPNGW_RESULTS"], "w") as f:
            f.write("%d %d %d\n" % (passed, failed, skipped))
    return 1 if failed else 0
