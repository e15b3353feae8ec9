#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# fw6_inject.py MODE: the kernel's side of the firewall for IPv6, without a
# gateway: attaches to the pool's devices vpngw0 and vpngw1 (IFF_TUN,
# IFF_NO_PI) as the gateway would, writes IPv6 packets into vpngw0 as if a
# client of slot 0 (fd00:0:0:100::2) had sent them, and prints what the
# kernel sends back into each device, one line per packet:
#   "<dev> icmp6 <type> <code>", "<dev> tcp <flags>", "<dev> other <proto>",
#   "<dev> multicast" (to ff00::/8: the kernel's MLD reports).
# MODE:
#   to_host:    UDP to port 9 and a TCP SYN to port 22 of the gateway's own
#               addresses fd00:0:0:100::1 and 2001:db8:100::2
#   cross_slot: UDP to fd00:0:0:101::2, the client of slot 1
#   hold SECS:  only holds the devices (their carrier) for SECS and prints
#               what arrives (for unsolicited traffic from outside)
import fcntl, os, select, socket, struct, sys, time

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def attach(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip6(src, dst, proto, payload):
    s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    pseudo = s + d + struct.pack("!I3xB", len(payload), proto)
    off = {17: 6, 6: 16}[proto]
    c = csum(pseudo + payload)
    payload = payload[:off] + struct.pack("!H", c) + payload[off + 2:]
    return struct.pack("!IHBB", 6 << 28, len(payload), proto, 64) + s + d + payload


def udp(src, dst, dport):
    body = b"fw6"
    return ip6(src, dst, 17, struct.pack("!HHHH", 40000, dport, 8 + len(body), 0) + body)


def syn(src, dst, dport):
    return ip6(src, dst, 6, struct.pack("!HHIIBBHHH", 40001, dport, 1, 0, 5 << 4, 0x02,
                                        65535, 0, 0))


def describe(dev, p):
    if len(p) < 40 or p[0] >> 4 != 6:
        return "%s other v%d" % (dev, p[0] >> 4 if p else 0)
    proto = p[6]
    if p[24] == 0xff:
        # The kernel's own MLD reports for the groups the device joins
        # (all-routers, the subnet-router anycast's): not a client's.
        return "%s multicast" % dev
    if proto == 58 and len(p) >= 42:
        return "%s icmp6 %d %d" % (dev, p[40], p[41])
    if proto == 6 and len(p) >= 54:
        flags = p[53]
        return "%s tcp %s" % (dev, "rst" if flags & 0x04 else "0x%02x" % flags)
    return "%s other %d" % (dev, proto)


def drain(fds, secs):
    end = time.time() + secs
    while True:
        left = end - time.time()
        if left <= 0:
            return
        r, _, _ = select.select(list(fds), [], [], left)
        for fd in r:
            try:
                print(describe(fds[fd], os.read(fd, 65535)), flush=True)
            except BlockingIOError:
                pass


def main():
    fds = {attach("vpngw0"): "vpngw0", attach("vpngw1"): "vpngw1"}
    slot0 = next(fd for fd, n in fds.items() if n == "vpngw0")
    me = "fd00:0:0:100::2"
    mode = sys.argv[1]
    if mode == "to_host":
        for dst in ("fd00:0:0:100::1", "2001:db8:100::2"):
            os.write(slot0, udp(me, dst, 9))
            os.write(slot0, syn(me, dst, 22))
        drain(fds, 1.0)
    elif mode == "cross_slot":
        for _ in range(2):
            os.write(slot0, udp(me, "fd00:0:0:101::2", 7))
        drain(fds, 1.0)
    elif mode == "hold":
        drain(fds, float(sys.argv[2]))
    else:
        sys.exit("usage: fw6_inject.py to_host|cross_slot|hold SECS")


main()
