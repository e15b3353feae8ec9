# SPDX-License-Identifier: MIT
# test/scale_test.py: many idle vpngw.v1 clients of one gateway at once, in
# one process. test/scale.sh runs it in its client namespace; the gateway,
# its pool and the Internet host are the shell's. Every client connects
# with python websockets and reads its assignment; then each sends an ICMP
# echo request from its assigned address to the Internet host once a
# second for SECONDS, the clients spread evenly over each second, and
# every reply is matched to its request by ICMP id and sequence number.
# For the rounds the sockets are taken from websockets and driven by one
# epoll loop here: each request is built once with scapy as a masked
# frame, then only its sequence number and checksum bytes are patched, and
# a round trip ends at the kernel's receive timestamp (SO_TIMESTAMPNS) of
# the read that brought the reply, so that this process's own scheduling
# on a busy machine is not counted as the gateway's (the round trip to
# this process's read is printed beside).
# Prints PASS/FAIL lines, then "N passed, N failed", and writes "PASSED
# FAILED" to $VPNGW_RESULTS; with VPNGW_PID and VPNGW_LOG set, also checks
# the gateway's own count of clients (its stats line after a SIGUSR1).
#
# Usage: scale_test.py URL INET CLIENTS SECONDS RTT_MS
# The one timing assertion: the 99th percentile of the round trips is
# under RTT_MS. The median, the p99 and the worst are printed either way.
import asyncio
import gc
import json
import os
import resource
import selectors
import socket
import struct
import sys
import time

import websockets

import harness
from scapy.layers.inet import ICMP, IP

PAYLOAD = b"vpngw-scale-test"
CONNECTS_AT_ONCE = 200     # handshakes in flight
REPLY_GRACE_S = 2.0        # after the last request, for the last replies
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class Client:
    """One connection: its assignment, then, for the rounds, its own copy
    of the socket (websockets' reader paused) and its echo request as a
    masked WebSocket frame whose sequence number and checksum bytes are
    patched (masked too) for each send; the send time of each sequence
    number, and the round trip of each reply: to the kernel's receive
    timestamp of the socket read that brought it, and to the moment this
    process parsed it."""

    def __init__(self, k):
        self.k = k
        self.ident = k & 0xFFFF
        self.ws = None
        self.addr = None
        self.sock = None
        self.frame = None
        self.mask = os.urandom(4)
        self.base_sum = 0       # ones' complement sum of the ICMP part, seq 0
        self.off = 0            # the ICMP header's offset in the frame
        self.buf = b""
        self.sent = {}          # seq -> send time (CLOCK_REALTIME, s)
        self.rtts = {}          # seq -> seconds, to the socket's timestamp
        self.user_rtts = {}     # seq -> seconds, to this process's read
        self.stray = 0          # messages that answer no request
        self.closed = False

    def build(self, inet):
        p = IP(src=self.addr, dst=inet, id=self.ident, ttl=64) / \
            ICMP(type=8, id=self.ident, seq=0) / PAYLOAD
        pkt = bytes(p)
        ihl = (pkt[0] & 15) * 4
        icmp = pkt[ihl:ihl + 2] + b"\0\0" + pkt[ihl + 4:]
        if len(icmp) % 2:
            icmp += b"\0"
        self.base_sum = fold(sum(struct.unpack("!%dH" % (len(icmp) // 2), icmp)))
        m = self.mask
        self.frame = bytearray(bytes([0x82, 0x80 | len(pkt)]) + m +
                               bytes(b ^ m[i % 4] for i, b in enumerate(pkt)))
        self.off = 6 + ihl

    def detach(self):
        """Takes the socket from websockets: its reader paused, a dup of
        the fd, non-blocking, with receive timestamps."""
        self.ws.transport.pause_reading()
        fd = self.ws.transport.get_extra_info("socket").fileno()
        self.sock = socket.socket(fileno=os.dup(fd))
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def send(self, seq):
        """The echo request with sequence number seq, checksum patched."""
        f, o, m = self.frame, self.off, self.mask
        ck = ~fold(self.base_sum + seq) & 0xFFFF
        # Payload byte i is masked with m[i % 4]; o - 6 is its index.
        for j, b in ((2, ck >> 8), (3, ck & 255), (6, seq >> 8), (7, seq & 255)):
            f[o + j] = b ^ m[(o - 6 + j) % 4]
        self.sent[seq] = time.time()
        try:
            self.sock.send(f)
        except OSError:
            self.closed = True

    def readable(self):
        try:
            data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        except BlockingIOError:
            return
        except OSError:
            data = b""
        now = time.time()
        if not data:
            self.closed = True
            return
        ts = now
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(val) >= 16:
                sec, nsec = struct.unpack("qq", val[:16])
                ts = sec + nsec / 1e9
        self.buf += data
        while self.frame_in(ts, now):
            pass

    def frame_in(self, ts, now):
        """Parses one server frame off buf (unmasked, RFC 6455 5.2); false
        when it is not all there yet."""
        b = self.buf
        if len(b) < 2:
            return False
        op, n, h = b[0] & 15, b[1] & 127, 2
        if n == 126:
            if len(b) < 4:
                return False
            n, h = struct.unpack_from("!H", b, 2)[0], 4
        elif n == 127:
            if len(b) < 10:
                return False
            n, h = struct.unpack_from("!Q", b, 2)[0], 10
        if len(b) < h + n:
            return False
        msg, self.buf = b[h:h + n], b[h + n:]
        if op == 9:                     # ping: a masked pong, same payload
            m = self.mask
            self.sock.send(bytes([0x8A, 0x80 | len(msg)]) + m +
                           bytes(x ^ m[i % 4] for i, x in enumerate(msg)))
        elif op == 8:
            self.closed = True
        elif op == 2:
            self.reply(msg, ts, now)
        else:
            self.stray += 1
        return True

    def reply(self, msg, ts, now):
        if len(msg) < 28:
            self.stray += 1
            return
        o = (msg[0] & 15) * 4
        if msg[9] != 1 or len(msg) < o + 8 or msg[o] != 0:
            self.stray += 1
            return
        ident, seq = struct.unpack_from("!HH", msg, o + 4)
        t = self.sent.get(seq)
        if ident != self.ident or t is None or seq in self.rtts:
            self.stray += 1
            return
        self.rtts[seq] = ts - t
        self.user_rtts[seq] = now - t


async def open_client(c, url, sem):
    async with sem:
        try:
            c.ws = await websockets.connect(
                url, subprotocols=["vpngw.v1"], ping_interval=None, compression=None,
                open_timeout=20, close_timeout=1, max_queue=64, max_size=2 ** 16)
            if c.ws.subprotocol != "vpngw.v1":
                return "subprotocol %r" % c.ws.subprotocol
            msg = await asyncio.wait_for(c.ws.recv(), 10)
            if not isinstance(msg, str):
                return "first message is binary"
            c.addr = json.loads(msg)["address"].split("/")[0]
            return None
        except websockets.ConnectionClosed as e:
            return "closed (%s) before the assignment" % e
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake,
                KeyError, ValueError) as e:
            return "%s: %s" % (type(e).__name__, e)


def rounds(clients, seconds):
    """Each client's request seq (1..seconds) at t0 + seq - 1 + k/n, and
    every reply read as it comes, until REPLY_GRACE_S after the last
    request. Returns how late the sender was at worst (s)."""
    n = len(clients)
    sel = selectors.EpollSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    t0 = time.monotonic() + 0.2
    total = n * seconds
    i = 0
    late = 0.0
    end = t0 + seconds - 1 + REPLY_GRACE_S + 1
    while True:
        now = time.monotonic()
        while i < total:
            seq, k = divmod(i, n)
            due = t0 + seq + k / n
            if due > now:
                break
            late = max(late, now - due)
            clients[k].send(seq + 1)
            i += 1
        if i == total and now >= end:
            break
        wait = (t0 + (i // n) + (i % n) / n if i < total else end) - now
        for key, _ in sel.select(max(0.0, wait)):
            key.data.readable()
    sel.close()
    return late


def slow_seconds(clients, rtt_ms):
    """Which seconds of the run the replies over rtt_ms were asked for in:
    spread out (the load of the machine) or bunched (a stall)."""
    per = {}
    for c in clients:
        for seq, r in c.rtts.items():
            if r * 1000 >= rtt_ms:
                per[seq] = per.get(seq, 0) + 1
    worst = sorted(per.items(), key=lambda kv: -kv[1])[:5]
    return "replies over %g ms in %d of the %d seconds; most in second %s" % (
        rtt_ms, len(per), max(len(c.sent) for c in clients),
        ", ".join("%d (%d)" % kv for kv in worst))


def percentile(xs, p):
    """Nearest rank."""
    k = max(0, min(len(xs) - 1, -(-p * len(xs) // 100) - 1))
    return xs[int(k)]


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, name, detail=""):
        self.passed += 1
        print("PASS %s%s" % (name, ": " + detail if detail else ""), flush=True)

    def bad(self, name, why):
        self.failed += 1
        print("FAIL %s: %s" % (name, why), flush=True)


async def run(url, inet, n, seconds, rtt_ms, res):
    limit = raise_fd_limit(n)
    clients = [Client(k) for k in range(n)]
    sem = asyncio.Semaphore(CONNECTS_AT_ONCE)
    t = time.monotonic()
    errs = await asyncio.gather(*(open_client(c, url, sem) for c in clients))
    took = time.monotonic() - t
    failed = [(c.k, e) for c, e in zip(clients, errs) if e]
    addrs = {c.addr for c in clients if c.addr}
    if failed:
        res.bad("all_connected", "%d of %d clients failed (fd limit %d), first: client %d: %s"
                % (len(failed), n, limit, failed[0][0], failed[0][1]))
        return
    if len(addrs) != n:
        res.bad("all_connected", "%d clients, %d distinct addresses" % (n, len(addrs)))
        return
    res.ok("all_connected", "%d clients, %d distinct addresses, in %.1f s" % (n, len(addrs), took))

    if os.environ.get("VPNGW_PID"):
        try:
            got = harness.stats().get("clients")
            if got == n:
                res.ok("stats_clients", "clients=%d" % got)
            else:
                res.bad("stats_clients", "the gateway counts clients=%s, not %d" % (got, n))
        except harness.Fail as e:
            res.bad("stats_clients", str(e))

    for c in clients:
        c.build(inet)
    # No collector pass in the middle of the rounds: its pause would be
    # counted as the gateway's.
    gc.collect()
    gc.freeze()
    gc.disable()
    for c in clients:
        c.detach()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    late = rounds(clients, seconds)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for c in clients:
        c.sock.close()
        c.ws.transport.abort()
    gc.enable()

    sent = sum(len(c.sent) for c in clients)
    got = sum(len(c.rtts) for c in clients)
    stray = sum(c.stray for c in clients)
    rtts = sorted(r * 1000 for c in clients for r in c.rtts.values())
    print("  %d requests, %d replies, %d stray messages; the sender was at most "
          "%.1f ms late; the clients' CPU %.1f s user, %.1f s system"
          % (sent, got, stray, late * 1000, cpu1.ru_utime - cpu0.ru_utime,
             cpu1.ru_stime - cpu0.ru_stime), flush=True)
    lost = [(c.k, c.addr, s) for c in clients for s in c.sent if s not in c.rtts]
    if got == sent == n * seconds and not stray:
        res.ok("no_loss", "%d of %d echo requests answered" % (got, sent))
    else:
        res.bad("no_loss", "%d of %d answered, %d stray; first lost: %s"
                % (got, n * seconds, stray, lost[:3]))
    if not rtts:
        res.bad("rtt_p99", "no reply at all")
        return
    p50, p99, worst = percentile(rtts, 50), percentile(rtts, 99), rtts[-1]
    user = sorted(r * 1000 for c in clients for r in c.user_rtts.values())
    line = ("p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d replies, to the socket's "
            "receive timestamp (to this process's read: p50 %.2f, p99 %.2f, max %.2f)"
            % (p50, p99, worst, len(rtts), percentile(user, 50), percentile(user, 99), user[-1]))
    if p99 < rtt_ms:
        res.ok("rtt_p99", line)
    else:
        res.bad("rtt_p99", line + ": p99 is not under %g ms; %s" % (rtt_ms, slow_seconds(clients, rtt_ms)))


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: scale_test.py URL INET CLIENTS SECONDS RTT_MS")
    url, inet = sys.argv[1], sys.argv[2]
    n, seconds, rtt_ms = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    res = Results()
    try:
        asyncio.run(run(url, inet, n, seconds, rtt_ms, res))
    except Exception as e:  # noqa: B902: any crash is one failure
        res.bad("scale_test", "%s: %s" % (type(e).__name__, e))
    print("%d passed, %d failed" % (res.passed, res.failed), flush=True)
    if os.environ.get("VPNGW_RESULTS"):
        with open(os.environ["VPNGW_RESULTS"], "w") as f:
            f.write("%d %d\n" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
