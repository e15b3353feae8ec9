# SPDX-License-Identifier: MIT
# test/servers/udp_echo.py: the UDP echo server of the namespace tests, run
# in the "Internet" namespace. Echoes every datagram back to its sender,
# either at once or, with --delay SEC, after that many seconds (to provoke a
# reply arriving after the client that caused it has gone). An --addr with
# a colon is IPv6 ("::" for every address of both families).
import argparse
import socket
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=7)
    ap.add_argument("--delay", type=float, default=0.0)
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    while True:
        data, peer = s.recvfrom(65535)
        if a.delay > 0:
            t = threading.Timer(a.delay, s.sendto, (data, peer))
            t.daemon = True
            t.start()
        else:
            s.sendto(data, peer)


if __name__ == "__main__":
    main()
