#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_report.py: the table and the JSON of one test/bench.sh run.

    bench_report.py DIR SECONDS CORES ELAPSED SYSTEM...

Reads what bench.sh left in DIR: SYSTEM-FIG.json (iperf3 -J),
SYSTEM-ping-*.txt (ping output), facts ("SYSTEM KEY VALUE" lines: the
gateway's RSS, CPU seconds over the TCP runs, binary size; idle-ws and
idle-wss: its RSS idle and with 200 idle clients), multi-wW-DIR-K.json
(four clients' iperf3 runs at once through one gateway with --workers W)
and replay ("MODE TOTAL GATEWAY" lines of test/replay.sh, when it ran).
Prints one table, each figure with its ratio to the kernel and to
openvpn-tcp (when those rows exist), then two small ones (the four
clients' aggregate throughput by workers, and the KiB an idle client
costs), then the user-space instructions per packet of each replay mode, and writes every figure to DIR/bench.json (which the bench
removes unless KEEP_TMP is set), and to $BENCH_JSON as well when that is
set.
"""

import json
import os
import re
import sys

# key, label, unit; in the order of the table.
FIGURES = [
    ("tcp_up_mbit", "TCP up", "Mbit/s"),
    ("tcp_down_mbit", "TCP down", "Mbit/s"),
    ("tcp_p4_down_mbit", "TCP down, 4 streams", "Mbit/s"),
    ("udp1400_mbit", "UDP 1400 B received", "Mbit/s"),
    ("udp1400_loss_pct", "UDP 1400 B loss", "%"),
    ("udp64_pps", "UDP 64 B received", "pkt/s"),
    ("udp64_loss_pct", "UDP 64 B loss", "%"),
    ("ping_idle_p50_ms", "ping idle p50", "ms"),
    ("ping_idle_p99_ms", "ping idle p99", "ms"),
    ("ping_up_p50_ms", "ping during TCP up p50", "ms"),
    ("ping_up_p99_ms", "ping during TCP up p99", "ms"),
    ("ping_up_loss_pct", "ping during TCP up loss", "%"),
    ("ping_down_p50_ms", "ping during TCP down p50", "ms"),
    ("ping_down_p99_ms", "ping during TCP down p99", "ms"),
    ("ping_down_loss_pct", "ping during TCP down loss", "%"),
    ("cpu_s_per_gb", "gateway CPU per GB (TCP)", "s/GB"),
    ("rss_idle_kib", "gateway RSS idle", "KiB"),
    ("rss_client_kib", "gateway RSS, client, after", "KiB"),
    ("binary_bytes", "gateway program size", "bytes"),
]
BASES = [("kernel", "xK"), ("openvpn-tcp", "xO")]
# test/replay.sh's modes, in its order.
REPLAY = [
    ("down", "Internet -> client, TCP 1500 B"),
    ("up", "client -> Internet, TCP 1500 B"),
    ("down64", "Internet -> client, UDP 64 B"),
    ("up64", "client -> Internet, UDP 64 B"),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def tcp(d):
    """(Mbit/s, bytes) received in an iperf3 TCP run."""
    try:
        s = d["end"]["sum_received"]
        return s["bits_per_second"] / 1e6, s["bytes"]
    except (KeyError, TypeError):
        return None, 0


def udp(d, size):
    """(received Mbit/s, loss %, received packets/s) of an iperf3 UDP run:
    the loss is of the datagrams sent (those lost after the last one the
    server saw count too)."""
    try:
        end = d["end"]
        got = end.get("sum_received") or end["sum"]
        sent = end.get("sum_sent") or end["sum"]
        n = got["packets"] - got["lost_packets"]
        secs = got["seconds"] or 1
        loss = 100.0 * (1 - n / sent["packets"]) if sent["packets"] else 100.0
        return n * size * 8 / secs / 1e6, max(0.0, loss), n / secs
    except (KeyError, TypeError, ZeroDivisionError):
        return None, None, None


def percentile(xs, p):
    """Nearest rank."""
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def ping(path):
    """(p50 ms, p99 ms, loss %) from ping's output."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None, None, None
    times = [float(t) for t in re.findall(r"time=([0-9.]+)", text)]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    loss = None
    if m and int(m.group(1)):
        loss = 100.0 * (1 - int(m.group(2)) / int(m.group(1)))
    if not times:
        return None, None, loss
    return percentile(times, 50), percentile(times, 99), loss


def figures(dirname, name, facts):
    r = {}
    path = lambda tail: os.path.join(dirname, f"{name}-{tail}")
    gbytes = 0
    for fig, key in (("tcp-up", "tcp_up_mbit"), ("tcp-down", "tcp_down_mbit"),
                     ("tcp-p4-down", "tcp_p4_down_mbit")):
        r[key], b = tcp(load(path(fig + ".json")))
        gbytes += b / 1e9
    r["udp1400_mbit"], r["udp1400_loss_pct"], _ = udp(load(path("udp-1400.json")), 1400)
    _, r["udp64_loss_pct"], r["udp64_pps"] = udp(load(path("udp-64.json")), 64)
    for what in ("idle", "up", "down"):
        tail = "ping-idle.txt" if what == "idle" else f"ping-load-{what}.txt"
        p50, p99, loss = ping(path(tail))
        r[f"ping_{what}_p50_ms"], r[f"ping_{what}_p99_ms"] = p50, p99
        if what != "idle":
            r[f"ping_{what}_loss_pct"] = loss
    f = facts.get(name, {})
    if "cpu_tcp_s" in f and gbytes > 0:
        r["cpu_s_per_gb"] = f["cpu_tcp_s"] / gbytes
    for key in ("rss_idle_kib", "rss_client_kib", "binary_bytes"):
        if key in f:
            r[key] = f[key]
    return {k: v for k, v in r.items() if v is not None}


def read_facts(dirname):
    facts = {}
    try:
        with open(os.path.join(dirname, "facts")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    facts.setdefault(parts[0], {})[parts[1]] = float(parts[2])
    except OSError:
        pass
    return facts


def read_replay(dirname):
    """test/replay.sh's figures: {mode: {"total": n, "gateway": n, "client": n}},
    instructions per packet, both ends together and each apart."""
    r = {}
    try:
        with open(os.path.join(dirname, "replay")) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                fig = {"total": float(parts[1])}
                if parts[2] != "-":
                    fig["gateway"] = float(parts[2])
                    fig["client"] = round(fig["total"] - fig["gateway"], 1)
                r[parts[0]] = fig
    except (OSError, ValueError):
        pass
    return r


def multi(dirname):
    """The four clients' aggregate TCP Mbit/s through one gateway, by
    workers and direction: {"workers_1": {"down": x, "up": y}, ...}; a run
    whose four streams did not all report is left out."""
    r = {}
    for w in (1, 2):
        for d in ("down", "up"):
            runs = [tcp(load(os.path.join(dirname, f"multi-w{w}-{d}-{k}.json")))[0]
                    for k in range(4)]
            if all(x is not None for x in runs):
                r.setdefault(f"workers_{w}", {})[d] = sum(runs)
    for d in ("down", "up"):
        a, b = r.get("workers_1", {}).get(d), r.get("workers_2", {}).get(d)
        if a and b:
            r.setdefault("ratio_2_to_1", {})[d] = b / a
    return r


def idle(facts):
    """The gateway's RSS idle and with 200 idle clients, by scheme, and the
    KiB each client adds."""
    r = {}
    for scheme in ("ws", "wss"):
        f = facts.get(f"idle-{scheme}", {})
        if "rss_idle_kib" in f and "rss_200_kib" in f:
            r[scheme] = {"rss_idle_kib": f["rss_idle_kib"], "rss_200_kib": f["rss_200_kib"],
                         "kib_per_client": (f["rss_200_kib"] - f["rss_idle_kib"]) / 200}
    return r


def print_multi(m, idl):
    if m:
        print("four `vpngw connect` clients at once through one ws:// gateway, each its own "
              "iperf3 stream (aggregate Mbit/s)")
        print(f"  {'':<10} {'--workers 1':>12} {'--workers 2':>12} {'2 / 1':>7}")
        for d in ("down", "up"):
            cells = [m.get(f"workers_{w}", {}).get(d) for w in (1, 2)]
            cells.append(m.get("ratio_2_to_1", {}).get(d))
            print(f"  {'TCP ' + d:<10}" + "".join(f" {fmt(v):>12}" for v in cells[:2])
                  + f" {fmt(cells[2]):>7}")
    if idl:
        print("gateway RSS with 200 idle vpngw.v1 clients (--pool 200)")
        print(f"  {'':<8} {'idle KiB':>10} {'200 KiB':>10} {'KiB/client':>11}")
        for scheme, f in idl.items():
            print(f"  {scheme + '://':<8} {fmt(f['rss_idle_kib']):>10} "
                  f"{fmt(f['rss_200_kib']):>10} {fmt(f['kib_per_client']):>11}")


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.3f}"


def ratio(v, base):
    if v is None or base is None or base == 0:
        return None
    return v / base


def main():
    dirname, secs, cores, elapsed = sys.argv[1:5]
    systems = sys.argv[5:]
    facts = read_facts(dirname)
    res = {n: figures(dirname, n, facts) for n in systems}
    bases = [(b, tag) for b, tag in BASES if b in res]
    ratios = {n: {b: {k: ratio(v, res[b].get(k)) for k, v in res[n].items()}
                  for b, _ in bases} for n in systems}

    print(f"vpngw bench: {secs} s per iperf3 run, every system up at once and "
          f"measured in turn, {cores} cores")
    print("each cell: the figure, then its ratio to " +
          " and to ".join(f"{b} ({tag})" for b, tag in bases) +
          "; - where there is none")
    w = 8 + 6 * len(bases)
    print(f"{'':<34}" + "".join(f"{n:>{w}}" for n in systems))
    sub = f"{'':>7}" + "".join(f" {tag:>5}" for _, tag in bases)
    print(f"{'':<34}" + "".join(f"{sub:>{w}}" for n in systems))
    for key, label, unit in FIGURES:
        line = f"{label + ' (' + unit + ')':<34}"
        for n in systems:
            v = res[n].get(key)
            cell = f"{fmt(v):>7}"
            for b, _ in bases:
                r = ratios[n][b].get(key)
                cell += f" {fmt(r) if r is not None else '-':>5}"
            line += f"{cell:>{w}}"
        print(line)

    m, idl = multi(dirname), idle(facts)
    print_multi(m, idl)

    replay = read_replay(dirname)
    if replay:
        print("user-space instructions per packet (callgrind on test/replay, "
              "the same on any machine)")
        print(f"  {'mode':<7} {'':<32} {'total':>9} {'gateway':>9} {'client':>9}")
        for mode, label in REPLAY:
            if mode in replay:
                print(f"  {mode:<7} {label:<32}" + "".join(
                    f" {replay[mode][k]:>9.1f}" if k in replay[mode] else f" {'-':>9}"
                    for k in ("total", "gateway", "client")))

    out = {
        "seconds_per_run": int(secs), "cores": int(cores), "elapsed_s": int(elapsed),
        "units": {k: u for k, _, u in FIGURES},
        "order": systems,
        "systems": res,
        "ratios": ratios,
    }
    if replay:
        out["instructions_per_packet"] = replay
    if m:
        out["four_clients_tcp_mbit"] = m
    if idl:
        out["idle_clients_200"] = idl
    paths = [os.path.join(dirname, "bench.json")]
    if os.environ.get("BENCH_JSON"):
        paths.append(os.environ["BENCH_JSON"])
    for p in paths:
        with open(p, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
            f.write("\n")
    kept = "" if os.environ.get("KEEP_TMP") else " (removed at exit: KEEP_TMP=1 keeps it)"
    print("JSON: " + paths[0] + kept + "".join(", " + p for p in paths[1:]))


if __name__ == "__main__":
    main()
