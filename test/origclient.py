#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""origclient.py: a client of the original protocol, for the bench.

    origclient.py TUN ADDRESS/LEN ROUTE ws://HOST:PORT/PATH

Opens the TUN device TUN (no packet information), gives it ADDRESS/LEN,
MTU 1500 and ROUTE (a CIDR), brings it up, then connects to the URL
offering no subprotocol, so the gateway speaks the original protocol: one
IPv4 packet per binary message each way, nothing else. Packets are copied
both ways until the connection ends, or until TERM or INT (which close
it with a close frame).

Written for speed rather than brevity: the TUN is read from a reader
callback, many packets each wakeup, and each is framed straight onto the
transport; reading stops while the socket's send buffer is full.
"""

import asyncio
import fcntl
import os
import signal
import struct
import subprocess
import sys

import websockets

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
OP_BINARY = 2
BURST = 256          # TUN reads per wakeup at most
HIGH_WATER = 1 << 20  # stop reading the TUN above this many unsent bytes
READ_SIZE = 2048     # above the MTU (1500): the TUN has no offloads


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def configure(name, address, route):
    for cmd in (["ip", "addr", "add", address, "dev", name],
                ["ip", "link", "set", name, "mtu", "1500", "up"],
                ["ip", "route", "add", route, "dev", name]):
        subprocess.run(cmd, check=True)


async def to_tun(ws, fd):
    write = os.write
    async for msg in ws:
        if isinstance(msg, bytes):
            try:
                write(fd, msg)
            except OSError:
                pass        # a packet the kernel refuses: dropped


async def run(fd, url):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.connect(url, compression=None, max_size=None, max_queue=256,
                                  ping_interval=None, close_timeout=1) as ws:
        transport = ws.transport
        fast = hasattr(ws, "write_frame_sync")

        def tun_readable():
            sent = []
            for _ in range(BURST):
                try:
                    pkt = os.read(fd, READ_SIZE)
                except BlockingIOError:
                    break
                if fast:
                    ws.write_frame_sync(True, OP_BINARY, pkt)
                else:
                    sent.append(pkt)
            if sent:
                loop.remove_reader(fd)
                asyncio.ensure_future(send_slow(sent))
            elif transport.get_write_buffer_size() > HIGH_WATER:
                loop.remove_reader(fd)
                asyncio.ensure_future(resume())

        async def resume():
            await ws.drain()
            loop.add_reader(fd, tun_readable)

        async def send_slow(pkts):
            for pkt in pkts:
                await ws.send(pkt)
            loop.add_reader(fd, tun_readable)

        loop.add_reader(fd, tun_readable)
        copy = asyncio.ensure_future(to_tun(ws, fd))
        await asyncio.wait([copy, stop], return_when=asyncio.FIRST_COMPLETED)
        loop.remove_reader(fd)
        if copy.done():
            copy.exception()    # the gateway closed: said by the exit
        copy.cancel()


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: origclient.py TUN ADDRESS/LEN ROUTE ws://HOST:PORT/PATH")
    name, address, route, url = sys.argv[1:]
    fd = open_tun(name)
    configure(name, address, route)
    asyncio.run(run(fd, url))


if __name__ == "__main__":
    main()
