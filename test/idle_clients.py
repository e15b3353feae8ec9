# SPDX-License-Identifier: MIT
# test/idle_clients.py: N idle vpngw.v1 clients of one gateway, held open
# (python websockets), for test/bench.sh to weigh the gateway with them.
# Connects them all, reads each one's assignment, prints one line "N
# connected" (or the first failure, and exits 1), then sends nothing and
# answers the gateway's pings until it is terminated.
#
# Usage: idle_clients.py URL N   (wss:// URLs are not verified: the
# bench's certificates name another address)
import asyncio
import resource
import signal
import ssl
import sys

import websockets

AT_ONCE = 50    # handshakes in flight


async def one(url, tls, sem):
    async with sem:
        ws = await websockets.connect(url, subprotocols=["vpngw.v1"], ssl=tls,
                                      ping_interval=None, compression=None,
                                      open_timeout=20, max_queue=16)
        msg = await asyncio.wait_for(ws.recv(), 10)
        if not isinstance(msg, str):
            raise RuntimeError("first message is binary, not the assignment")
        return ws


async def run(url, n):
    tls = None
    if url.startswith("wss:"):
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    sem = asyncio.Semaphore(AT_ONCE)
    try:
        conns = await asyncio.gather(*(one(url, tls, sem) for _ in range(n)))
    except Exception as e:  # noqa: B902: any failure ends the run
        print("failed: %s: %s" % (type(e).__name__, e), flush=True)
        return 1
    print("%d connected" % len(conns), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for ws in conns:
        ws.transport.abort()
    return 0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: idle_clients.py URL N")
    n = int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 64, hard), hard))
    return asyncio.run(run(sys.argv[1], n))


if __name__ == "__main__":
    sys.exit(main())
