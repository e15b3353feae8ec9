#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# flood_test.py: the hostile and the honest peers of test/flood.sh, each a
# subcommand, each printing one line of what it saw (and exiting non-zero,
# with the reason, when what it checks did not hold).
#   attack GW PORT NET SEC      from many addresses NET.N at once: 1,000
#                               SYNs never completed, 1,000 idle
#                               connections, 100 slow-loris requests,
#                               200 new connections a second for SEC s, and
#                               one slow-loris probe whose cut is timed
#   admit URL SOURCE WAIT       a vpngw.v1 client from SOURCE: upgraded and
#                               assigned an address within WAIT s
#   burst GW PORT SOURCE N      N connections from SOURCE at once: how many
#                               the gateway kept, how many it closed
#   blast HOST PORT MBIT SEC    UDP datagrams of 1,200 bytes at MBIT Mbit/s
#   blast_back PORT MBIT SEC    answers each datagram's sender with SEC s
#                               of MBIT Mbit/s
import asyncio
import json
import resource
import selectors
import socket
import sys
import time

import websockets

UPGRADE_404 = (b"GET /not-here HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")


def die(why):
    print(why)
    sys.exit(1)


def more_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def dial(gw, port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((source, 0))
    s.connect_ex((gw, port))
    return s


def closed(s):
    """True when the peer closed s (EOF or reset), without blocking."""
    try:
        return s.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class Attack:
    """Every hostile connection in one selector loop, none of them blocking."""

    def __init__(self, gw, port, net):
        self.gw, self.port, self.net = gw, port, net
        self.sel = selectors.DefaultSelector()
        self.idle, self.loris, self.churn = [], [], {}
        self.cut = {"idle": 0, "loris": 0}
        self.churned = self.answered = 0
        self.probe = None
        self.probe_cut = None

    def open_idle(self):
        # 1,000 idle: 20 from each of NET.10 .. NET.59 (within a source's
        # burst of --handshake-rate 20, so that the per-source limit does
        # not stop them: the cap on handshakes must).
        for i in range(1000):
            s = dial(self.gw, self.port, "%s.%d" % (self.net, 10 + i % 50))
            self.idle.append(s)
            self.sel.register(s, selectors.EVENT_READ, "idle")

    def open_syn(self):
        # 1,000 SYNs never completed: from NET.200, whose SYN-ACKs are
        # dropped on the way back (test/flood.sh's firewall).
        self.syn = [dial(self.gw, self.port, "%s.200" % self.net) for _ in range(1000)]

    def open_loris(self):
        # 100 slow-loris: 10 from each of NET.60 .. NET.69.
        for i in range(100):
            s = dial(self.gw, self.port, "%s.%d" % (self.net, 60 + i % 10))
            self.loris.append(s)
            self.sel.register(s, selectors.EVENT_READ, "loris")

    def trickle(self, n):
        """One more header byte on every slow-loris connection."""
        head = b"GET /vpn HTTP/1.1\r\nHost: gw\r\nX-Slow: " if n == 0 else b"a"
        for s in self.loris + [self.probe]:
            try:
                s.send(head)
            except OSError:
                pass

    def churn_one(self, k):
        # 200 a second from NET.70 .. NET.89 (10 a second each): half send
        # a whole request (refused: 404) and read the answer, half connect
        # and close at once.
        s = dial(self.gw, self.port, "%s.%d" % (self.net, 70 + k % 20))
        self.churn[s] = (time.monotonic(), k % 2)
        self.sel.register(s, selectors.EVENT_WRITE, "churn")
        self.churned += 1

    def on_event(self, key, ev):
        s, kind = key.fileobj, key.data
        if kind == "churn":
            if ev & selectors.EVENT_WRITE:
                if self.churn[s][1]:
                    try:
                        s.send(UPGRADE_404)
                    except OSError:
                        pass
                    self.sel.modify(s, selectors.EVENT_READ, "churn")
                    return
            elif self.churn[s][1]:
                try:
                    if s.recv(4096).startswith(b"HTTP/1.1 404"):
                        self.answered += 1
                except OSError:
                    pass
            self.sel.unregister(s)
            del self.churn[s]
            s.close()
            return
        if not closed(s):
            return
        self.sel.unregister(s)
        if kind == "probe":
            self.probe_cut = time.monotonic() - self.probe_at
        else:
            self.cut[kind] += 1

    def open_probe(self):
        # The probe connects first, before the flood fills the backlog, so
        # that its deadline runs from now.
        self.probe = socket.create_connection((self.gw, self.port), timeout=3,
                                              source_address=("%s.9" % self.net, 0))
        self.probe.setblocking(False)
        self.probe_at = time.monotonic()
        self.sel.register(self.probe, selectors.EVENT_READ, "probe")

    def run(self, sec):
        self.open_probe()
        self.open_syn()
        self.open_idle()
        self.open_loris()
        t0 = time.monotonic()
        end = t0 + sec
        n = trickled = 0
        while time.monotonic() < end + 3:
            now = time.monotonic()
            if now < end:
                due = int((now - t0) * 200) - n
                for _ in range(max(0, min(due, 50))):
                    self.churn_one(n)
                    n += 1
            if int(now - t0) >= trickled:
                self.trickle(trickled)
                trickled += 1
            for s, (at, _) in list(self.churn.items()):
                if now - at > 2:
                    self.sel.unregister(s)
                    del self.churn[s]
                    s.close()
            for key, ev in self.sel.select(0.005):
                self.on_event(key, ev)
        print("1000 SYNs, idle 1000 (%d cut), slow-loris 100 (%d cut), %d new in %.0f s (%d answered 404), "
              "probe cut after %s" % (self.cut["idle"], self.cut["loris"], self.churned, sec,
                                      self.answered, "%.1f s" % self.probe_cut
                                      if self.probe_cut is not None else "never"))
        if self.churned < 190 * sec:
            die("only %d new connections in %.0f s" % (self.churned, sec))
        if self.probe_cut is None or not 9.5 <= self.probe_cut <= 12:
            die("the slow-loris probe was not cut at the 10 s handshake deadline")


async def admit(url, source, wait):
    t0 = time.monotonic()
    try:
        ws = await asyncio.wait_for(websockets.connect(
            url, subprotocols=["vpngw.v1"], local_addr=(source, 0), ping_interval=None,
            compression=None, open_timeout=None, close_timeout=1), wait)
        msg = await asyncio.wait_for(ws.recv(), max(0.1, wait - (time.monotonic() - t0)))
    except asyncio.TimeoutError:
        die("no upgrade and assignment within %.0f s" % wait)
    except (OSError, websockets.WebSocketException) as e:
        die("%s: %s" % (type(e).__name__, e))
    addr = json.loads(msg).get("address") if isinstance(msg, str) else None
    if not addr:
        die("upgraded, but no assignment: %r" % msg)
    print("%s got %s in %.2f s" % (source, addr, time.monotonic() - t0))
    await ws.close()


def burst(gw, port, source, n):
    socks, t0 = [], time.monotonic()
    for _ in range(n):
        s = socket.create_connection((gw, port), timeout=3, source_address=(source, 0))
        s.setblocking(False)
        socks.append(s)
    took = time.monotonic() - t0
    time.sleep(0.5)
    kept = [not closed(s) for s in socks]
    print("%d kept, %d closed, first closed: %s, in %.0f ms" % (
        sum(kept), n - sum(kept), kept.index(False) + 1 if False in kept else "none",
        took * 1000))
    for s in socks:
        s.close()


def blast(host, port, mbit, sec):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload, sent = b"x" * 1200, 0
    gap = 1228 * 8 / (mbit * 1e6)
    t0 = time.monotonic()
    while time.monotonic() - t0 < sec:
        due = int((time.monotonic() - t0) / gap) - sent
        for _ in range(max(0, min(due, 100))):
            try:
                s.sendto(payload, (host, port))
            except OSError:
                pass
            sent += 1
        time.sleep(0.0005)
    print("sent %d datagrams (%.1f Mbit/s of IP) in %.1f s" % (
        sent, sent * 1228 * 8 / 1e6 / sec, sec))


def blast_back(port, mbit, sec):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, peer = s.recvfrom(2048)
        s.setblocking(False)
        payload, sent, gap = b"y" * 1200, 0, 1228 * 8 / (mbit * 1e6)
        t0 = time.monotonic()
        while time.monotonic() - t0 < sec:
            due = int((time.monotonic() - t0) / gap) - sent
            for _ in range(max(0, min(due, 100))):
                try:
                    s.sendto(payload, peer)
                except OSError:
                    pass
                sent += 1
            time.sleep(0.0005)
        s.setblocking(True)
        print("sent %d datagrams back to %s" % (sent, peer[0]), flush=True)


def main():
    a = sys.argv[1:]
    more_files()
    if len(a) == 5 and a[0] == "attack":
        Attack(a[1], int(a[2]), a[3]).run(float(a[4]))
    elif len(a) == 4 and a[0] == "admit":
        asyncio.run(admit(a[1], a[2], float(a[3])))
    elif len(a) == 5 and a[0] == "burst":
        burst(a[1], int(a[2]), a[3], int(a[4]))
    elif len(a) == 5 and a[0] == "blast":
        blast(a[1], int(a[2]), float(a[3]), float(a[4]))
    elif len(a) == 4 and a[0] == "blast_back":
        blast_back(int(a[1]), float(a[2]), float(a[3]))
    else:
        die("usage: flood_test.py attack GW PORT NET SEC | admit URL SOURCE WAIT | "
            "burst GW PORT SOURCE N | blast HOST PORT MBIT SEC | blast_back PORT MBIT SEC")


main()
