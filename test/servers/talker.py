# SPDX-License-Identifier: MIT
# test/servers/talker.py: an Internet host that keeps talking to whoever
# reached it, for the firewall suite's slot-reuse tests.
#   --tcp PORT    accepts; writes 100 bytes every 100 ms until the peer goes
#   --udp PORT    each new source gets a datagram every 50 ms for --seconds
#   --quiet PORT  accepts and holds the connection, never writes
# Every connection and source is logged on stdout, one line each.
import argparse
import socket
import threading
import time


def log(msg):
    print(msg, flush=True)


def tcp_writer(conn, peer):
    n = 0
    try:
        while True:
            conn.sendall(b"t" * 100)
            n += 1
            time.sleep(0.1)
    except OSError as e:
        log("tcp %s:%d gone after %d writes: %s" % (peer[0], peer[1], n, e))


def tcp_server(port, write):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    held = []
    while True:
        conn, peer = s.accept()
        log("tcp %d accepted %s:%d" % (port, peer[0], peer[1]))
        if write:
            threading.Thread(target=tcp_writer, args=(conn, peer), daemon=True).start()
        else:
            held.append(conn)


def udp_sender(s, peer, seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        s.sendto(b"u%06d" % n, peer)
        n += 1
        time.sleep(0.05)


def udp_server(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    seen = set()
    while True:
        _, peer = s.recvfrom(2048)
        if peer in seen:
            continue
        seen.add(peer)
        log("udp %d from %s:%d" % (port, peer[0], peer[1]))
        threading.Thread(target=udp_sender, args=(s, peer, seconds), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", type=int)
    ap.add_argument("--udp", type=int)
    ap.add_argument("--quiet", type=int)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    threads = []
    if a.tcp:
        threads.append(threading.Thread(target=tcp_server, args=(a.tcp, True), daemon=True))
    if a.quiet:
        threads.append(threading.Thread(target=tcp_server, args=(a.quiet, False), daemon=True))
    if a.udp:
        threads.append(threading.Thread(target=udp_server, args=(a.udp, a.seconds), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
