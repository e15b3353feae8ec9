# SPDX-License-Identifier: MIT
# test/client_test.py: small independent WebSocket clients for test/client.sh,
# in Debian's python3-websockets (10.4) and python3-scapy, run inside the
# client namespace beside `vpngw connect`:
#   assign URL      offers vpngw.v1, prints the assignment's address and exits
#   hold URL SEC    offers vpngw.v1, prints the address, holds the slot SEC s
#   holdorig URL SEC  original protocol (no subprotocol, so no session to
#                   linger): prints "held" once a ping is answered (retrying
#                   for 5 s while the gateway closes with 1013), holds the
#                   slot SEC s, then closes with 1000
#   orig URL DST    original protocol (no subprotocol): sends ICMP echo
#                   requests to DST from 192.0.2.99 and prints "ok" once a
#                   reply for 192.0.2.99 comes back through the tunnel
#   serve DIR PORT  (in the Internet namespace) an HTTP server for DIR; a
#                   path under /slow/ is sent at about 2 MB/s, so that a
#                   transfer is surely under way when the test cuts the link
# Exit status 0 on success; one line on stderr otherwise.
import asyncio
import http.server
import os
import socket
import sys
import time

import websockets
from harness import assignment
from scapy.layers.inet import IP, ICMP


async def v1(url, hold):
    async with websockets.connect(url, subprotocols=["vpngw.v1"],
                                  compression=None, open_timeout=5) as ws:
        a = await assignment(ws)
        print(a["address"], flush=True)
        if hold:
            await asyncio.sleep(hold)


async def hold_orig(url, sec):
    deadline = time.monotonic() + 5
    while True:
        async with websockets.connect(url, compression=None, open_timeout=5) as ws:
            try:
                await asyncio.wait_for(await ws.ping(b"held"), 3)
            except websockets.ConnectionClosed:
                if ws.close_code == 1013 and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    continue
                sys.exit("closed with %s: no slot" % ws.close_code)
            print("held", flush=True)
            await asyncio.sleep(sec)
            return


async def orig(url, dst):
    src = "192.0.2.99"
    async with websockets.connect(url, compression=None, open_timeout=5) as ws:
        if ws.subprotocol is not None:
            sys.exit("gateway selected a subprotocol we did not offer")
        for seq in range(1, 6):
            pkt = IP(src=src, dst=dst) / ICMP(id=0x4242, seq=seq) / (b"x" * 56)
            await ws.send(bytes(pkt))
            try:
                while True:
                    data = await asyncio.wait_for(ws.recv(), 1)
                    if isinstance(data, str):
                        sys.exit("text message in the original protocol")
                    r = IP(data)
                    if r.dst == src and ICMP in r and r[ICMP].type == 0:
                        print("ok", flush=True)
                        return
            except asyncio.TimeoutError:
                continue
        sys.exit("no echo reply through the original protocol")


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if not self.path.startswith("/slow/"):
            return super().do_GET()
        name = os.path.basename(self.path[len("/slow/"):])
        try:
            f = open(os.path.join(self.directory, name), "rb")
        except OSError:
            return self.send_error(404)
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while True:
                chunk = f.read(32768)
                if not chunk:
                    break
                self.wfile.write(chunk)
                time.sleep(0.016)

    def log_message(self, fmt, *args):
        pass


def serve(directory, port):
    def handler(*a, **kw):
        return Handler(*a, directory=directory, **kw)
    # Both families: an IPv6 socket on :: takes IPv4 too (bindv6only 0).
    class Dual(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6
    Dual(("::", port), handler).serve_forever()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "assign":
        asyncio.run(v1(url, 0))
    elif cmd == "hold":
        asyncio.run(v1(url, float(sys.argv[3])))
    elif cmd == "holdorig":
        asyncio.run(hold_orig(url, float(sys.argv[3])))
    elif cmd == "serve":
        serve(url, int(sys.argv[3]))
    elif cmd == "orig":
        asyncio.run(orig(url, sys.argv[3]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
