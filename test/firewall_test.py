# SPDX-License-Identifier: MIT
# test/firewall_test.py: the host firewall and slot hygiene of a running
# vpngw, tested from outside. The tunnel client is python `websockets` with
# packets built and read by scapy (no project code is reused); the other
# side is real: hosts in namespaces (reached with `ip netns exec`), nft's
# counters, conntrack, tcpdump. firewall.sh runs it inside the gateway's
# namespace with these variables:
#   VPNGW_URL      the gateway (ws://127.0.0.1:8080/)
#   VPNGW_PID      its pid (SIGUSR1 for the stats line), VPNGW_LOG its stderr
#   FW_INET        the Internet's namespace: 198.51.100.1, talker.py on tcp
#                  7000, udp 7001, quiet tcp 7002; routes the pool via us
#   FW_LAN         a second network behind the gateway: 203.0.113.1
#   VPNGW_RESULTS  file that receives "PASSED FAILED"
# Usage: firewall_test.py [--list] [-v] TEST...  Prints PASS name or
# FAIL name: reason per test, then "N passed, N failed".
# Also its own helper processes: --role holder URL (a client that keeps a
# TCP and a UDP flow with the talker until it is killed) and --role flood
# URL N (a client that leaves N UDP conntrack entries).
import asyncio
import gc
import json
import os
import random
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

import websockets

import harness
from harness import Fail, check, info, stats, test
from scapy.layers.inet import ICMP, IP, TCP, UDP

URL = os.environ.get("VPNGW_URL", "ws://127.0.0.1:8080/")
INET_NS = os.environ.get("FW_INET", "")
LAN_NS = os.environ.get("FW_LAN", "")
INET = "198.51.100.1"       # the Internet host
EGRESS = "198.51.100.2"     # the gateway's egress address
LAN_HOST = "203.0.113.1"    # a host on another interface of the gateway
SRC = "192.0.2.10"          # the client's own address
TALK_TCP, TALK_UDP, QUIET_TCP = 7000, 7001, 7002
HOST_TCP, HOST_UDP = 2222, 5353   # listeners on 0.0.0.0 of the gateway host
CT_MARK = 0x56500000


# ---- The host side: namespaces, nft, conntrack ----

def run(cmd, ns=None, timeout=30):
    """Runs cmd (in ns, else here, the gateway's namespace); its stdout."""
    full = (["ip", "netns", "exec", ns] if ns else []) + cmd
    r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    return r.stdout


def counters():
    """The table's named counters, read with nft: {name: packets}."""
    out = run(["nft", "list", "counters", "table", "inet", "vpngw"])
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"counter (\w+) \{\s*packets (\d+)", out)}


def marked_entries(mark):
    """Conntrack entries carrying mark (the slot's)."""
    out = run(["conntrack", "-L", "-m", str(mark)])
    return [l for l in out.splitlines() if l.strip()]



def log_has(pattern):
    with open(os.environ["VPNGW_LOG"], errors="replace") as f:
        return re.search(pattern, f.read()) is not None


def wait_for(cond, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Capture:
    """tcpdump in ns on iface for filt; count() stops it and counts."""

    def __init__(self, ns, iface, filt):
        self.path = "/tmp/fwcap-%d-%d.pcap" % (os.getpid(), random.randrange(1 << 30))
        # --immediate-mode: a packet is written when it arrives, not when a
        # ring block fills or times out (and is lost when tcpdump stops).
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface,
                                   "--immediate-mode", "-n", "-U", "-w", self.path, filt],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on" once its filter is in place.
        line = self.p.stderr.readline().decode(errors="replace")
        check("listening" in line, "tcpdump did not start: %s" % line.strip())

    def packets(self):
        time.sleep(0.3)
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        out = subprocess.run(["tcpdump", "-n", "-r", self.path], capture_output=True,
                             text=True).stdout
        os.unlink(self.path)
        return [l for l in out.splitlines() if l.strip()]


# ---- The tunnel client ----

async def connect(url=URL, retry=10.0):
    """A vpngw.v1 client holding a slot: retries while the gateway answers
    101 then 1013 (no free slot), up to retry seconds. Returns (ws, the
    assignment). Fails if it never gets a slot."""
    deadline = time.monotonic() + retry
    n = 0
    while True:
        n += 1
        ws = await websockets.connect(url, subprotocols=["vpngw.v1"], ping_interval=None,
                                      compression=None, open_timeout=5, close_timeout=2,
                                      max_queue=65536, max_size=2 ** 20)
        try:
            msg = await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            if ws.close_code == 1013 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                continue
            raise Fail("closed with %s after %d attempts in %.0f s: no slot"
                       % (ws.close_code, n, retry))
        except asyncio.TimeoutError:
            raise Fail("no assignment within 5 s of the upgrade")
        check(isinstance(msg, str), "first message is not the assignment: %r" % msg[:60])
        a = json.loads(msg)
        info("admitted as %s after %d attempts" % (a["address"], n))
        return ws, a


def slot_of(assignment):
    """The slot index of an assignment (10.0.(100 + i).x/24)."""
    return int(assignment["address"].split(".")[2]) - 100


async def expect(ws, pred, what, timeout=3.0):
    """harness.expect for a pred of the IP packet alone; returns it."""
    return (await harness.expect(ws, lambda raw, p: pred(p), what, timeout, True))[1]


async def expect_none(ws, pred, what, duration):
    return await harness.expect_none(ws, lambda raw, p: pred(p), what, duration, True)


async def ping(ws, dst=INET, timeout=3.0):
    ident = random.randrange(1, 0xFFFF)
    await ws.send(bytes(IP(src=SRC, dst=dst) / ICMP(id=ident, seq=1) / b"fw"))
    await expect(ws, lambda p: p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident,
                 "echo reply from %s" % dst, timeout)


def tcp_from(port, src=None):
    return lambda p: (p.haslayer(TCP) and p[TCP].sport == port and p.dst == SRC
                      and (src is None or p.src == src))


async def tcp_syn(ws, dst, dport):
    """Sends a SYN; returns the answer (SYN-ACK or RST) as scapy, or fails."""
    sport = random.randrange(20000, 60000)
    isn = random.randrange(1 << 31)
    await ws.send(bytes(IP(src=SRC, dst=dst) / TCP(sport=sport, dport=dport, flags="S", seq=isn)))
    p = await expect(ws, lambda q: tcp_from(dport, dst)(q) and q[TCP].dport == sport,
                     "answer to a SYN to %s:%d" % (dst, dport))
    return p, sport, isn


async def tcp_open(ws, dst, dport):
    """A TCP handshake by hand through the tunnel: (sport, snd_nxt, rcv_nxt)."""
    p, sport, isn = await tcp_syn(ws, dst, dport)
    check(p[TCP].flags == "SA", "SYN to %s:%d answered with %s" % (dst, dport, p[TCP].flags))
    await ws.send(bytes(IP(src=SRC, dst=dst) / TCP(sport=sport, dport=dport, flags="A",
                                                   seq=isn + 1, ack=p[TCP].seq + 1)))
    return sport, isn + 1, p[TCP].seq + 1


# ---- The helper processes ----

async def role_holder(url):
    """Keeps a TCP flow (ACKing every segment) and a UDP flow with the
    talker; says "ready" once both flow, and runs until it is killed."""
    ws, a = await connect(url)
    sport, snd, rcv = await tcp_open(ws, INET, TALK_TCP)
    usport = random.randrange(20000, 60000)
    await ws.send(bytes(IP(src=SRC, dst=INET) / UDP(sport=usport, dport=TALK_UDP) / b"hi"))
    got_t = got_u = 0
    ready = False
    while True:
        raw = await harness.recv_pkt(ws, 10, True)
        if raw is None:
            continue
        p = IP(raw)
        if p.haslayer(TCP) and p[TCP].sport == TALK_TCP:
            n = len(bytes(p[TCP].payload))
            if n:
                got_t += 1
                rcv = p[TCP].seq + n
                await ws.send(bytes(IP(src=SRC, dst=INET) / TCP(
                    sport=sport, dport=TALK_TCP, flags="A", seq=snd, ack=rcv)))
        elif p.haslayer(UDP) and p[UDP].sport == TALK_UDP:
            got_u += 1
        if not ready and got_t >= 3 and got_u >= 3:
            print("ready %s tcp %d udp %d" % (a["address"], sport, usport), flush=True)
            ready = True


async def role_flood(url, n):
    """Leaves n UDP conntrack entries (one per destination port), says
    "sent", and waits to be killed."""
    ws, a = await connect(url)
    src, dst = socket.inet_aton(SRC), socket.inet_aton(INET)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 32, 0, 0, 64, 17, 0, src, dst)
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:]
    for i in range(n):
        # No UDP checksum (0), so only the port changes.
        await ws.send(hdr + struct.pack("!HHHH", 40000, 10000 + i, 12, 0) + b"ctct")
    await ping(ws, timeout=10)
    print("sent %d from %s" % (n, a["address"]), flush=True)
    await asyncio.sleep(3600)


class Child:
    """A helper process of this file (--role ...), killed by its PID."""

    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, "-u", __file__, "--role"] + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    async def line(self, timeout):
        loop = asyncio.get_running_loop()
        try:
            out = await asyncio.wait_for(loop.run_in_executor(None, self.p.stdout.readline),
                                         timeout)
        except asyncio.TimeoutError:
            out = b""
        if not out:
            self.kill()
            raise Fail("helper client said nothing within %d s: %s" % (
                timeout, self.p.stderr.read().decode(errors="replace")[-300:]))
        return out.decode().strip()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


# ---- Tests ----



@test()
async def unsolicited_inbound():
    """A host on the Internet side that routes the pool via the gateway
    sends ping, UDP and TCP SYNs to a connected client's address: nothing
    is delivered, the counter counts them; the client's own flows work."""
    ws, a = await connect()
    addr = a["address"].split("/")[0]
    try:
        await ping(ws)
        before = counters()
        run(["ping", "-c", "3", "-i", "0.2", "-W", "1", addr], ns=INET_NS)
        run([sys.executable, "-c", "import socket\n"
             "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             "for p in (53, 5000, 40000): u.sendto(b'x', ('%s', p))\n"
             "t = socket.socket(); t.settimeout(1)\n"
             "try: t.connect(('%s', 22))\n"
             "except OSError: pass\n" % (addr, addr)], ns=INET_NS)
        await expect_none(ws, lambda p: True, "unsolicited packet delivered", 1.5)
        after = counters()
        d = after.get("unsolicited", 0) - before.get("unsolicited", 0)
        check(d >= 7, "unsolicited counter +%d, expected +7 or more (3 pings, 3 UDP, 1+ SYN)" % d)
        # Positive control: replies to what the client opened still arrive.
        await ping(ws)
        usport = random.randrange(20000, 60000)
        await ws.send(bytes(IP(src=SRC, dst=INET) / UDP(sport=usport, dport=TALK_UDP) / b"x"))
        await expect(ws, lambda p: p.haslayer(UDP) and p[UDP].dport == usport,
                     "UDP from the talker to the flow the client opened")
        # The gateway reads the same counter (pushed by its helper every second).
        time.sleep(1.5)
        st = stats()
        now = counters()
        check("fw_unsolicited" in st, "no fw_unsolicited in the stats line: %s" % sorted(st))
        check(st["fw_unsolicited"] == now["unsolicited"], "stats fw_unsolicited=%d, nft says %d"
              % (st["fw_unsolicited"], now["unsolicited"]))
    finally:
        await ws.close()


@test()
async def cross_slot_dropped():
    """One slot's client cannot reach another slot's client."""
    a, aa = await connect()
    b, ba = await connect()
    try:
        # A's address is mapped (it sent something), or the gateway's own
        # NAT would drop what reaches it.
        await ping(a)
        before = counters()
        target = aa["address"].split("/")[0]
        await b.send(bytes(IP(src=SRC, dst=target) / ICMP(id=4242, seq=1)))
        await b.send(bytes(IP(src=SRC, dst=target) / UDP(sport=5555, dport=5555) / b"x"))
        await expect_none(a, lambda p: True, "packet from another slot", 1.0)
        await expect_none(b, lambda p: p.haslayer(ICMP) and p[ICMP].type == 0,
                          "echo reply from another slot", 0.2)
        d = counters().get("cross_slot", 0) - before.get("cross_slot", 0)
        check(d >= 2, "cross_slot counter +%d, expected +2" % d)
    finally:
        await a.close()
        await b.close()


@test()
async def invalid_fin_no_leak():
    """After a handshake, a FIN far outside the window (as the original's
    tcp-hello-bye sends) is invalid for conntrack: it must not leave the
    egress link with the slot's source; it is counted."""
    ws, a = await connect()
    try:
        sport, snd, rcv = await tcp_open(ws, INET, QUIET_TCP)
        before = counters()
        cap = Capture(INET_NS, "p0", "src net 10.0.0.0/8")
        far = (snd + 0x40000000) & 0xFFFFFFFF
        await ws.send(bytes(IP(src=SRC, dst=INET) / TCP(sport=sport, dport=QUIET_TCP,
                                                       flags="FA", seq=far, ack=rcv)))
        await ws.send(bytes(IP(src=SRC, dst=INET) / TCP(sport=sport, dport=QUIET_TCP,
                                                       flags="PA", seq=far, ack=rcv) / b"bye"))
        await asyncio.sleep(0.5)
        leaked = cap.packets()
        check(not leaked, "left the egress link with a pool source: %s" % leaked[:3])
        after = counters()
        d = after.get("invalid", 0) - before.get("invalid", 0)
        check(d >= 2, "invalid counter +%d, expected +2" % d)
        # Dropped as invalid where it entered, not only at the exit.
        d = after.get("leak", 0) - before.get("leak", 0)
        check(d == 0, "leak counter +%d: the invalid packets got as far as the exit" % d)
    finally:
        await ws.close()


@test()
async def leak_guard():
    """Pool traffic routed out of another interface (not masqueraded) is
    dropped before it leaves with a pool source, and counted."""
    ws, a = await connect()
    try:
        before = counters()
        cap = Capture(LAN_NS, "l1", "src net 10.0.0.0/8")
        await ws.send(bytes(IP(src=SRC, dst=LAN_HOST) / ICMP(id=99, seq=1)))
        await ws.send(bytes(IP(src=SRC, dst=LAN_HOST) / UDP(sport=999, dport=999) / b"x"))
        await asyncio.sleep(0.5)
        leaked = cap.packets()
        check(not leaked, "left lan0 with a pool source: %s" % leaked[:3])
        d = counters().get("leak", 0) - before.get("leak", 0)
        check(d >= 2, "leak counter +%d, expected +2" % d)
    finally:
        await ws.close()


@test()
async def to_host_refused():
    """Listeners on 0.0.0.0 of the gateway host are unreachable from the
    pool: at the egress address and at the slot's gateway address a SYN
    gets a reset, a datagram an ICMP port unreachable; counted."""
    ws, a = await connect()
    try:
        before = counters()
        for dst in (EGRESS, a["gateway"]):
            p, _, _ = await tcp_syn(ws, dst, HOST_TCP)
            check("R" in str(p[TCP].flags) and "S" not in str(p[TCP].flags),
                  "SYN to %s:%d answered with %s, expected a reset" % (dst, HOST_TCP, p[TCP].flags))
        await ws.send(bytes(IP(src=SRC, dst=EGRESS) / UDP(sport=4444, dport=HOST_UDP) / b"q"))
        p = await expect(ws, lambda q: q.haslayer(ICMP) and q[ICMP].type == 3,
                         "ICMP unreachable for UDP to %s:%d" % (EGRESS, HOST_UDP))
        check(p[ICMP].code == 3, "ICMP unreachable code %d, expected 3" % p[ICMP].code)
        await expect_none(ws, lambda q: q.haslayer(UDP) and q[UDP].sport == HOST_UDP,
                          "answer of the host's UDP listener", 0.5)
        d = counters().get("to_host", 0) - before.get("to_host", 0)
        check(d >= 3, "to_host counter +%d, expected +3" % d)
    finally:
        await ws.close()


@test()
async def open_port_reachable():
    """With --open-port 2222 --open-port 5353/udp those two are reachable
    from the pool: TCP at the egress address, UDP at the slot's gateway
    address (a server on 0.0.0.0 answers from the address the route to the
    client prefers); other ports stay refused."""
    ws, a = await connect()
    try:
        before = counters()
        p, sport, isn = await tcp_syn(ws, EGRESS, HOST_TCP)
        check(p[TCP].flags == "SA", "SYN to the open port answered with %s" % p[TCP].flags)
        await ws.send(bytes(IP(src=SRC, dst=EGRESS) / TCP(sport=sport, dport=HOST_TCP,
                                                         flags="R", seq=isn + 1)))
        await ws.send(bytes(IP(src=SRC, dst=a["gateway"]) / UDP(sport=4445, dport=HOST_UDP)
                            / b"q"))
        await expect(ws, lambda q: q.haslayer(UDP) and q[UDP].sport == HOST_UDP,
                     "answer of the open UDP port")
        d = counters().get("to_host", 0) - before.get("to_host", 0)
        check(d == 0, "to_host counter +%d for open ports" % d)
        p, _, _ = await tcp_syn(ws, EGRESS, HOST_TCP + 1)
        check("R" in str(p[TCP].flags), "SYN to a closed port answered with %s" % p[TCP].flags)
        d = counters().get("to_host", 0) - before.get("to_host", 0)
        check(d == 1, "to_host counter +%d after one refused SYN" % d)
    finally:
        await ws.close()


@test()
async def ct_mark_per_slot():
    """Each slot's flows carry the slot's conntrack mark."""
    a, aa = await connect()
    b, ba = await connect()
    try:
        for ws in (a, b):
            await ping(ws)
        for asg in (aa, ba):
            addr = asg["address"].split("/")[0]
            mark = CT_MARK | (slot_of(asg) + 1)
            lines = [l for l in marked_entries(mark) if "src=%s " % addr in l]
            check(lines, "no conntrack entry from %s with mark %#x: %s"
                  % (addr, mark, run(["conntrack", "-L"])[:300]))
    finally:
        await a.close()
        await b.close()


@test(timeout=150)
async def release_no_stall():
    """A client leaves 50,000 conntrack entries and drops its connection;
    while its slot is flushed, another client's pings (every 3 ms) are
    delayed by no more than 10 ms. The gateway and this pinger run at a
    real-time priority while they measure, so that other work on a shared
    machine does not count as delay; the helper runs as it always does.
    A virtual machine still stalls now and then for 10 ms on its own, before
    a release as after it: the measurement is made up to three times, and
    one clean run passes. A loop that does the flush itself stalls for
    seconds, every time."""
    for attempt in range(3):
        try:
            await release_once()
            return
        except Fail as e:
            why = str(e)
            info("attempt %d: %s" % (attempt + 1, why))
    raise Fail(why)


async def release_once():
    n = 50000
    flood = Child("flood", URL, str(n))
    gw = int(os.environ["VPNGW_PID"])
    try:
        said = await flood.line(60)
        check(said.startswith("sent"), "flood client: %s" % said)
        slot = int(said.split()[-1].split("/")[0].split(".")[2]) - 100
        count = int(open("/proc/sys/net/netfilter/nf_conntrack_count").read())
        check(count >= n, "only %d conntrack entries" % count)
        ws, a = await connect()
        ident = random.randrange(1, 0xFFFF)
        sent, rtts = {}, []
        done = asyncio.Event()
        # Built beforehand and read as bytes: the pinger allocates little,
        # and its garbage collector is off while it measures.
        echo = [bytes(IP(src=SRC, dst=INET) / ICMP(id=ident, seq=i)) for i in range(4096)]
        want = struct.pack("!BBHH", 0, 0, 0, ident)[:2]

        async def sender():
            seq = 0
            while not done.is_set():
                sent[seq] = time.monotonic()
                await ws.send(echo[seq % 4096])
                seq += 1
                await asyncio.sleep(0.003)

        async def reader():
            while not done.is_set():
                raw = await harness.recv_pkt(ws, 0.5, True)
                now = time.monotonic()
                if raw is None or len(raw) < 28 or raw[9] != 1:
                    continue
                icmp = raw[(raw[0] & 15) * 4:]
                if icmp[:2] != want or struct.unpack("!H", icmp[4:6])[0] != ident:
                    continue
                seq = struct.unpack("!H", icmp[6:8])[0]
                # seq wraps at 4096 packets; the latest one sent with it.
                cand = [k for k in (seq, seq + 4096, seq + 8192) if k in sent]
                if cand:
                    t = sent[max(cand)]
                    rtts.append((t, now - t))

        rt = os.sched_param(20)
        os.sched_setscheduler(gw, os.SCHED_FIFO, rt)
        os.sched_setscheduler(0, os.SCHED_FIFO, rt)
        gc.collect()
        gc.disable()
        tasks = [asyncio.ensure_future(sender()), asyncio.ensure_future(reader())]
        await asyncio.sleep(1.5)
        t_kill = time.monotonic()
        flood.kill()
        await asyncio.sleep(3.0)
        done.set()
        await asyncio.gather(*tasks)
        gc.enable()
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.sched_setscheduler(gw, os.SCHED_OTHER, os.sched_param(0))
        await ws.close()
        base = [r for t, r in rtts if t < t_kill]
        after = [(t, r) for t, r in rtts if t >= t_kill and t < t_kill + 2.5]
        sent_after = [t for t in sent.values() if t_kill <= t < t_kill + 2.5]
        check(base and after, "no pings answered (%d before, %d after)" % (len(base), len(after)))
        med = statistics.median(base)
        worst = max(r for _, r in after)
        lost = len(sent_after) - len(after)
        info("%d pings after the release, %d lost, RTT median %.1f ms and worst %.1f ms "
             "before, worst %.1f ms after" % (len(after), lost, med * 1000,
                                               max(base) * 1000, worst * 1000))
        info("slow pings after the release (ms since, RTT): %s" % [
            (round((t - t_kill) * 1000), round(r * 1000, 1)) for t, r in after if r > 0.005][:20])
        mark = CT_MARK | (slot + 1)
        check(wait_for(lambda: log_has(r"vpngw%d: (\d{5,}) conntrack entries deleted" % slot), 20),
              "the gateway did not log the deletion of slot %d's entries" % slot)
        left = len(marked_entries(mark))
        check(left == 0, "%d entries with the slot's mark left" % left)
        check(lost == 0, "%d of %d pings lost after the release" % (lost, len(sent_after)))
        check(worst - med <= 0.010, "a ping took %.1f ms after the release (median %.1f ms)"
              % (worst * 1000, med * 1000))
    finally:
        gc.enable()
        flood.kill()
        for pid in (0, gw):
            try:
                os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
            except OSError:
                pass


async def reuse(expect_slot):
    """Client A keeps a TCP and a UDP flow going with the talker and is
    killed; then client B tries to get the pool's one slot."""
    holder = Child("holder", URL)
    try:
        said = await holder.line(20)
        check(said.startswith("ready"), "holder: %s" % said)
        info(said)
    finally:
        holder.kill()
    t0 = time.monotonic()
    if not expect_slot:
        check(wait_for(lambda: log_has(r"vpngw0 retired until restart"), 5),
              "the gateway did not log that vpngw0 is retired")
        try:
            b, ba = await connect(retry=5.0)
        except Fail as e:
            check("1013" in str(e), "B: %s" % e)
            return
        await b.close()
        raise Fail("B got the slot of A's flows (%s) without a conntrack flush" % ba["address"])
    b, ba = await connect(retry=10.0)
    try:
        info("B admitted %.1f s after A was killed" % (time.monotonic() - t0))
        check(not log_has(r"retired"), "a slot was retired")

        # B's source is A's: it is mapped to the slot address A had.
        await ping(b)

        def leak(p):
            return ((p.haslayer(TCP) and p[TCP].sport == TALK_TCP) or
                    (p.haslayer(UDP) and p[UDP].sport == TALK_UDP))
        await expect_none(b, leak, "B received a packet of A's flows", 4.0)
        left = [l for l in marked_entries(CT_MARK | 1)
                if "dport=%d " % TALK_TCP in l or "dport=%d " % TALK_UDP in l]
        check(not left, "conntrack entries of A's flows left: %s" % left[:2])
    finally:
        await b.close()


@test(timeout=40)
async def slot_reuse_flushed():
    """Pool of one, serve started as root: B gets A's slot, and nothing of
    A's flows."""
    await reuse(True)


@test(timeout=40)
async def slot_reuse_retired():
    """Pool of one, serve started with no privilege: A's slot is retired,
    B is refused with 1013."""
    await reuse(False)


# ---- Runner ----

def main(argv):
    if argv[:1] == ["--role"]:
        if argv[1] == "holder":
            asyncio.run(role_holder(argv[2]))
        elif argv[1] == "flood":
            asyncio.run(role_flood(argv[2], int(argv[3])))
        return 0
    return harness.main(argv, all_by_default=False)


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))
