#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test/dns_responder.py: the DNS server of the namespace suites (dns.sh,
resolved.sh, killswitch.sh), the socket module alone. It answers UDP queries
on each ADDR:53 for one name, vpngw-test.example: A with --a, AAAA with
--aaaa (no data when not given), NXDOMAIN for any other name, TTL --ttl
(0: no cache can hide where a query went), and an EDNS(0) record when the
query had one, so that a stub resolver keeps its level. Each query is one
line on stdout: "query PEER NAME QTYPE -> ADDR".

Usage: dns_responder.py --a IPV4 [--aaaa IPV6] [--ttl N] ADDR...
"""
import argparse
import select
import socket
import struct

NAME = b"\x0avpngw-test\x07example\x00"


def answer(q, args):
    """The reply to query q, or None for what is not one question."""
    if len(q) < 12:
        return None
    qid, flags, qd, _, _, ar = struct.unpack(">HHHHHH", q[:12])
    end = q.find(b"\x00", 12)
    if qd != 1 or end < 0 or len(q) < end + 5:
        return None
    qname, qtype = q[12:end + 1], struct.unpack(">H", q[end + 1:end + 3])[0]
    rdata = b""
    if qname.lower() != NAME:
        rcode = 3
    else:
        rcode = 0
        if qtype == 1 and args.a:
            rdata = struct.pack(">HHIH", 1, 1, args.ttl, 4) + socket.inet_aton(args.a)
        elif qtype == 28 and args.aaaa:
            rdata = struct.pack(">HHIH", 28, 1, args.ttl, 16) + \
                socket.inet_pton(socket.AF_INET6, args.aaaa)
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0) if ar else b""
    head = struct.pack(">HHHHHH", qid, 0x8480 | (flags & 0x0100) | rcode, 1,
                       1 if rdata else 0, 0, 1 if opt else 0)
    return head + q[12:end + 5] + (b"\xc0\x0c" + rdata if rdata else b"") + opt


def dotted(qname):
    labels, i = [], 0
    while i < len(qname) and qname[i]:
        labels.append(qname[i + 1:i + 1 + qname[i]].decode(errors="replace"))
        i += 1 + qname[i]
    return ".".join(labels)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--a", required=True)
    p.add_argument("--aaaa")
    p.add_argument("--ttl", type=int, default=0)
    p.add_argument("addr", nargs="+")
    args = p.parse_args()
    socks = []
    for a in args.addr:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, 53))
        socks.append(s)
    while True:
        for s in select.select(socks, [], [])[0]:
            q, peer = s.recvfrom(4096)
            r = answer(q, args)
            if r is None:
                continue
            s.sendto(r, peer)
            end = q.find(b"\x00", 12)
            print("query", peer[0], dotted(q[12:end + 1]),
                  struct.unpack(">H", q[end + 1:end + 3])[0], "->", s.getsockname()[0],
                  flush=True)


if __name__ == "__main__":
    main()
