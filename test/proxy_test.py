# SPDX-License-Identifier: MIT
# test/proxy_test.py: an independent client for test/proxy.sh, in Debian's
# python3-websockets (10.4) and python3-scapy:
#   ping URL DST [XFF]  offers vpngw.v1 (sending "X-Forwarded-For: XFF" when
#                       given), takes the assignment, pings DST through the
#                       tunnel from the assigned address and prints
#                       "ok ADDRESS/LEN" once the echo reply comes back
# Exit status 0 on success; one line on stderr otherwise.
import asyncio
import sys

import websockets
from harness import assignment
from scapy.layers.inet import IP, ICMP


async def ping(url, dst, xff):
    headers = [("X-Forwarded-For", xff)] if xff else []
    async with websockets.connect(url, subprotocols=["vpngw.v1"], extra_headers=headers,
                                  compression=None, open_timeout=5) as ws:
        addr = (await assignment(ws))["address"]
        src = addr.split("/")[0]
        for seq in range(1, 6):
            await ws.send(bytes(IP(src=src, dst=dst) / ICMP(id=0x5151, seq=seq) / (b"p" * 56)))
            try:
                while True:
                    data = await asyncio.wait_for(ws.recv(), 1)
                    if isinstance(data, str):
                        continue
                    r = IP(data)
                    if r.src == dst and r.dst == src and ICMP in r and r[ICMP].type == 0:
                        print("ok " + addr, flush=True)
                        return
            except asyncio.TimeoutError:
                continue
        sys.exit("no echo reply from %s through the tunnel" % dst)


def main():
    if len(sys.argv) < 4 or sys.argv[1] != "ping":
        sys.exit(__doc__)
    asyncio.run(ping(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None))


if __name__ == "__main__":
    main()
