# SPDX-License-Identifier: MIT
# test/workers_test.py: the clients of test/workers.sh, against one gateway
# run with --workers N (python websockets, vpngw.v1; packets by scapy).
# Four clients connect one after another: the gateway's connect lines put
# them on the workers, N/4 each (two each for N = 2), each on a slot its
# worker owns (slot i is worker i % N's); each pings the Internet host
# through its tunnel. Then 20 rounds of cut-and-resume per client: the TCP
# connection reset (no close frame), a reconnection presenting the session
# token gets the same address, the log shows the same slot, and a ping goes
# through; over all the rounds at least one reconnection was accepted by
# the other worker and handed over (its "handed to worker" line). Then the
# token file is changed and the gateway gets a SIGHUP: each worker logs the
# reload, a client with the new token connects, one with the removed token
# gets 401. Last, SIGTERM: every client gets close code 1001.
# The shell's part (the topology, the gateway, vpngw connect, --workers
# auto and the bad values) is test/workers.sh.
#
# Environment: VPNGW_URL, VPNGW_INET (the Internet host), VPNGW_PID and
# VPNGW_LOG (the gateway and its log), VPNGW_WORKERS (N), VPNGW_TOKENS (the
# --token-file), VPNGW_TOKEN_A (in it at start), VPNGW_TOKEN_B (not yet),
# VPNGW_RESULTS (gets "PASSED FAILED").
# Prints PASS/FAIL lines, then "N passed, N failed".
import asyncio
import json
import os
import re
import signal
import socket
import struct
import sys
import time

import websockets
from scapy.layers.inet import ICMP, IP

URL = os.environ.get("VPNGW_URL", "ws://192.0.2.1:8080/")
INET = os.environ.get("VPNGW_INET", "198.51.100.1")
PID = int(os.environ.get("VPNGW_PID", "0"))
LOG = os.environ.get("VPNGW_LOG", "")
WORKERS = int(os.environ.get("VPNGW_WORKERS", "2"))
TOKENS = os.environ.get("VPNGW_TOKENS", "")
TOKEN_A = os.environ.get("VPNGW_TOKEN_A", "")
TOKEN_B = os.environ.get("VPNGW_TOKEN_B", "")
CLIENTS = 4
ROUNDS = 20


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---- The gateway's log ----

def prefix(worker):
    """What a worker's lines start with after "vpngw: " (nothing with one)."""
    return "worker %d: " % worker if WORKERS > 1 else ""


class Log:
    """The gateway's log, read as it grows; mark() and wait() look only at
    the lines after the mark."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.pos = 0
        self.part = ""
        self.start = 0

    def poll(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        text = self.part + data.decode(errors="replace")
        lines = text.split("\n")
        self.part = lines.pop()
        self.lines += lines

    def mark(self):
        self.poll()
        self.start = len(self.lines)

    def since(self, regex):
        self.poll()
        r = re.compile(regex)
        return [m for m in (r.search(x) for x in self.lines[self.start:]) if m]

    async def wait(self, regex, what, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            found = self.since(regex)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise Fail("no %s in the gateway's log within %.0f s (/%s/)"
                           % (what, timeout, regex))
            await asyncio.sleep(0.02)


# ---- Clients ----

def auth(token):
    return [("Authorization", "Bearer " + token)]


async def open_v1(token, session=None):
    """A vpngw.v1 connection presenting token (and session): (ws,
    assignment, "ADDR:PORT" of its local end as the gateway logs it)."""
    url = URL + ("?session=" + session if session else "")
    ws = await websockets.connect(url, subprotocols=["vpngw.v1"], extra_headers=auth(token),
                                  ping_interval=None, compression=None, open_timeout=5,
                                  close_timeout=2)
    try:
        check(ws.subprotocol == "vpngw.v1", "subprotocol %r selected" % ws.subprotocol)
        msg = await asyncio.wait_for(ws.recv(), 3)
    except websockets.ConnectionClosed as e:
        raise Fail("closed before the assignment: %s" % e)
    except asyncio.TimeoutError:
        raise Fail("no assignment within 3 s")
    check(isinstance(msg, str), "the first message is binary")
    host, port = ws.transport.get_extra_info("sockname")[:2]
    return ws, json.loads(msg), "%s:%d" % (host, port)


def cut(ws):
    """Resets the TCP connection: no close frame, no FIN."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


class Client:
    def __init__(self, k):
        self.k = k
        self.ws = None
        self.asg = None
        self.peer = None
        self.slot = None
        self.worker = None
        self.seq = 0

    @property
    def addr(self):
        return self.asg["address"].split("/")[0]

    async def ping(self, timeout=3.0):
        """One echo request through the tunnel; its reply must come back."""
        self.seq += 1
        ident = 0x5700 + self.k
        await self.ws.send(bytes(IP(src=self.addr, dst=INET) /
                                 ICMP(id=ident, seq=self.seq) / b"workers"))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("client %d (%s): no echo reply %d within %.0f s"
                           % (self.k, self.addr, self.seq, timeout))
            try:
                msg = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            except websockets.ConnectionClosed as e:
                raise Fail("client %d: closed (%s) while waiting for a reply" % (self.k, e))
            if isinstance(msg, str):
                continue
            p = IP(msg)
            if (p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident
                    and p[ICMP].seq == self.seq and p.dst == self.addr):
                return


CONNECT_RE = r"^vpngw: %s(connect|resume) %s on vpngw(\d+)"


async def logged_on(log, c, verb):
    """(worker, slot) of the gateway's connect or resume line for c."""
    peer = re.escape(c.peer)
    w = r"(?:worker (\d+): )?" if WORKERS > 1 else r"()"
    m = await log.wait(CONNECT_RE % (w, peer), "%s line for %s" % (verb, c.peer))
    check(m.group(2) == verb, "%s: logged as a %s, not a %s" % (c.peer, m.group(2), verb))
    worker = int(m.group(1)) if m.group(1) else 0
    return worker, int(m.group(3))


# ---- The tests, in order: each needs the ones before ----

async def connect_four(log, clients):
    for c in clients:
        log.mark()
        c.ws, c.asg, c.peer = await open_v1(TOKEN_A)
        c.worker, c.slot = await logged_on(log, c, "connect")
    per = {}
    for c in clients:
        per.setdefault(c.worker, []).append(c.slot)
    where = "; ".join("worker %d: vpngw%s" % (w, ", vpngw".join(map(str, s)))
                      for w, s in sorted(per.items()))
    check(len({c.addr for c in clients}) == CLIENTS, "addresses not distinct: %s"
          % [c.addr for c in clients])
    check(sorted(per) == list(range(min(WORKERS, CLIENTS))),
          "the clients are on workers %s, want %s (%s)"
          % (sorted(per), list(range(WORKERS)), where))
    check(max(map(len, per.values())) - min(map(len, per.values())) <= 1,
          "not spread evenly: %s" % where)
    for c in clients:
        check(c.slot % WORKERS == c.worker, "vpngw%d is worker %d's, but worker %d "
              "logged it (%s)" % (c.slot, c.slot % WORKERS, c.worker, where))
    return where


async def traffic(clients):
    for c in clients:
        await c.ping()
    return ", ".join(c.addr for c in clients)


async def resume_rounds(log, clients):
    handed = 0
    for r in range(1, ROUNDS + 1):
        for c in clients:
            cut(c.ws)
            log.mark()
            old = c.asg
            try:
                c.ws, c.asg, c.peer = await open_v1(TOKEN_A, session=old["session"])
            except Fail as e:
                raise Fail("round %d, client %d: resuming: %s" % (r, c.k, e))
            check(c.asg["address"] == old["address"], "round %d, client %d: resumed on %s, "
                  "had %s" % (r, c.k, c.asg["address"], old["address"]))
            worker, slot = await logged_on(log, c, "resume")
            check(slot == c.slot, "round %d, client %d: resumed on vpngw%d, had vpngw%d"
                  % (r, c.k, slot, c.slot))
            check(worker == c.worker, "round %d, client %d: vpngw%d resumed by worker %d, "
                  "not its owner %d" % (r, c.k, slot, worker, c.worker))
            if WORKERS > 1:
                h = log.since(r"^vpngw: worker (\d+): %s handed to worker (\d+)$"
                              % re.escape(c.peer))
                if h:
                    check(int(h[0].group(2)) == c.worker and int(h[0].group(1)) != c.worker,
                          "round %d: %s" % (r, h[0].group(0)))
                    handed += 1
            try:
                await c.ping()
            except Fail as e:
                raise Fail("round %d, after the resume: %s" % (r, e))
    return handed


async def sighup_reload(log, clients):
    """TOKEN_A out, TOKEN_B in; every worker reloads; B gets in, A gets 401.
    The client admitted with B joins clients (it gets 1001 at the end)."""
    log.mark()
    with open(TOKENS, "w") as f:
        f.write(TOKEN_B + "\n")
    os.kill(PID, signal.SIGHUP)
    name = re.escape(TOKENS)
    for w in range(WORKERS):
        await log.wait(r"^vpngw: %stoken file %s reloaded: 1 token$" % (prefix(w), name),
                       "reload line of worker %d" % w)
    b = Client(CLIENTS)
    b.ws, b.asg, b.peer = await open_v1(TOKEN_B)
    await b.ping()
    clients.append(b)
    try:
        ws = await websockets.connect(URL, subprotocols=["vpngw.v1"], extra_headers=auth(TOKEN_A),
                                      open_timeout=5)
    except websockets.InvalidStatusCode as e:
        check(e.status_code == 401, "the removed token: HTTP %d, expected 401" % e.status_code)
    else:
        await ws.close()
        raise Fail("the removed token was admitted after the reload")
    return "%d workers reloaded; the new token admitted, the removed one 401" % WORKERS


async def sigterm_1001(clients):
    os.kill(PID, signal.SIGTERM)
    codes = []
    for c in clients:
        try:
            await asyncio.wait_for(c.ws.wait_closed(), 5)
        except asyncio.TimeoutError:
            pass
        codes.append(c.ws.close_code)
    check(codes == [1001] * len(clients), "close codes %s, want 1001 each" % codes)
    return "%d clients, close code 1001 each" % len(clients)


async def run(res):
    log = Log(LOG)
    clients = [Client(k) for k in range(CLIENTS)]
    # name, test, whether the later ones can run after it failed
    steps = [
        ("connect_two_workers", lambda: connect_four(log, clients), False),
        ("traffic_each", lambda: traffic(clients), True),
        ("resume_same_slot", lambda: resume_rounds(log, clients), False),
        ("sighup_every_worker", lambda: sighup_reload(log, clients), True),
        ("sigterm_1001", lambda: sigterm_1001(clients), False),
    ]
    for name, fn, go_on in steps:
        try:
            out = await asyncio.wait_for(fn(), 60)
        except (Fail, asyncio.TimeoutError, OSError, websockets.WebSocketException) as e:
            res(name, False, str(e) or type(e).__name__)
            if go_on:
                continue
            return
        if name == "resume_same_slot":
            res(name, True, "%d rounds x %d clients: same address and slot, traffic after each"
                % (ROUNDS, CLIENTS))
            if WORKERS > 1:
                res("resume_handed_over", out > 0,
                    "%d of %d reconnections handed to the slot's worker"
                    % (out, ROUNDS * CLIENTS))
        else:
            res(name, True, out)


def main():
    counts = [0, 0]

    def res(name, passed, detail):
        counts[0 if passed else 1] += 1
        print("%s %s: %s" % ("PASS" if passed else "FAIL", name, detail), flush=True)

    try:
        asyncio.run(run(res))
    except Exception as e:  # noqa: B902: any crash is one failure
        res("workers_test", False, "%s: %s" % (type(e).__name__, e))
    print("%d passed, %d failed" % tuple(counts), flush=True)
    if os.environ.get("VPNGW_RESULTS"):
        with open(os.environ["VPNGW_RESULTS"], "w") as f:
            f.write("%d %d\n" % tuple(counts))
    return 1 if counts[1] else 0


if __name__ == "__main__":
    sys.exit(main())
