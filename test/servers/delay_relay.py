# SPDX-License-Identifier: MIT
# test/servers/delay_relay.py: a TCP relay that adds delay, for a kernel
# without sch_netem. Every connection accepted on --listen is relayed to
# --to (from --source if given), and every chunk read on either side is
# held --delay-ms before it is written to the other side, in order: with
# 20 ms each way a client behind the relay sees 40 ms more round-trip time.
# A close or reset on one side closes the other after what was held is sent.
# It owns nothing else: the tests start it in a namespace of theirs and
# kill it by PID.
# Usage: delay_relay.py --listen ADDR:PORT --to ADDR:PORT [--source ADDR]
#        [--delay-ms MS]
import argparse
import asyncio
import time


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk delay seconds after it arrived."""
    q = asyncio.Queue()

    async def read():
        try:
            while True:
                data = await reader.read(65536)
                q.put_nowait((time.monotonic() + delay, data))
                if not data:
                    return
        except OSError:
            q.put_nowait((time.monotonic() + delay, b""))

    async def write():
        try:
            while True:
                due, data = await q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            writer.close()

    await asyncio.gather(read(), write())


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, type=addr)
    ap.add_argument("--to", required=True, type=addr)
    ap.add_argument("--source")
    ap.add_argument("--delay-ms", type=float, default=20.0)
    a = ap.parse_args()
    delay = a.delay_ms / 1000

    async def relay(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(
                *a.to, local_addr=(a.source, 0) if a.source else None)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pump(cr, uw, delay), pump(ur, cw, delay))

    srv = await asyncio.start_server(relay, *a.listen, reuse_address=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
