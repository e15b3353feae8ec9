# SPDX-License-Identifier: MIT
# test/auth_test.py: end-to-end tests of a gateway started with
# --token-file, as an independent client: python `websockets` for the
# tunnels, a raw socket for the refusals, scapy for the packets; no project
# code is reused. auth.sh runs it in the client namespace with:
#   VPNGW_URL         the gateway (ws://192.0.2.1:8080/)
#   VPNGW_PID         its pid (it must stay the same: reloads, not restarts)
#   VPNGW_LOG         its stderr
#   VPNGW_TOKEN_FILE  its --token-file, which the reload tests rewrite
#   VPNGW_TOKEN_A, VPNGW_TOKEN_Q  the file's tokens at start; Q holds
#                     characters a query must escape
#   VPNGW_TOKENS_USED a file that receives every token sent, right or wrong,
#                     so that auth.sh can check that the log holds none
#   VPNGW_RESULTS     file that receives "PASSED FAILED"
# The host 198.51.100.1 answers pings. Usage: auth_test.py [--list] [-v]
# [TEST...]; prints PASS name or FAIL name: reason, then "N passed, N failed".
import asyncio
import base64
import os
import random
import signal
import socket
import sys
import time
import urllib.parse

import websockets

import harness
from harness import Fail, check, expect, test
from scapy.layers.inet import ICMP, IP

URL = os.environ.get("VPNGW_URL", "ws://192.0.2.1:8080/")
PID = int(os.environ.get("VPNGW_PID", "0"))
LOG = os.environ.get("VPNGW_LOG", "/dev/null")
TOKEN_FILE = os.environ.get("VPNGW_TOKEN_FILE", "/dev/null")
TOKEN_A = os.environ.get("VPNGW_TOKEN_A", "")
TOKEN_Q = os.environ.get("VPNGW_TOKEN_Q", "")
USED = os.environ.get("VPNGW_TOKENS_USED", "/dev/null")
HOST, PORT = URL.split("/")[2].split(":")
PORT = int(PORT)
INET = "198.51.100.1"
SRC = "192.0.2.10"


def new_token(tag):
    """A fresh random token, recorded as used."""
    t = "%s-%s" % (tag, base64.b64encode(os.urandom(18)).decode())
    used(t)
    return t


def used(tok):
    with open(USED, "a") as f:
        f.write(tok + "\n")


def log_text():
    with open(LOG, "rb") as f:
        return f.read().decode(errors="replace")


def wait_log(needle, start, timeout=3.0):
    """Waits until the log, from byte start on, holds needle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log_text()[start:]:
            return
        time.sleep(0.05)
    raise Fail("no %r in the gateway's log within %.0f s" % (needle, timeout))


def same_gateway():
    check(PID > 0, "VPNGW_PID not set")
    try:
        os.kill(PID, 0)
    except OSError:
        raise Fail("the gateway (pid %d) is gone" % PID)
    n = log_text().count("vpngw: listening on")
    check(n == 1, "the gateway started %d times" % n)


# ---- The raw upgrade request, for the refusals ----

def upgrade(target="/", headers=()):
    """Sends one upgrade request; returns (status, headers, body) of the
    answer, read until the gateway closes the connection."""
    s = socket.create_connection((HOST, PORT), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (target, HOST, PORT, key))
    for h in headers:
        req += h + "\r\n"
    s.sendall((req + "\r\n").encode())
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            raise Fail("no end of the answer within 5 s: %r" % data[:200])
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    check(lines and lines[0].startswith("HTTP/1.1 "), "not an HTTP answer: %r" % data[:200])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def refused(target="/", headers=(), why=None):
    """The request gets a 401 with WWW-Authenticate: Bearer, and the log
    one line saying why."""
    start = len(log_text())
    st, hdrs, body = upgrade(target, headers)
    check(st == 401, "%s %s: HTTP %d, expected 401" % (target, headers, st))
    check(hdrs.get("www-authenticate") == "Bearer",
          "401 without WWW-Authenticate: Bearer: %r" % hdrs)
    if why:
        wait_log("HTTP 401, " + why, start)


# ---- Tunnels ----

def bearer(tok):
    used(tok)
    return [("Authorization", "Bearer " + tok)]


def with_query(tok, url=URL):
    used(tok)
    return url + ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(tok, safe="")


async def open_ws(url=URL, headers=None, v1=False):
    """A client admitted to a slot (a ping/pong round trip proves it)."""
    ws = await websockets.connect(url, extra_headers=headers or [], ping_interval=None,
                                  compression=None, open_timeout=5, close_timeout=2,
                                  subprotocols=["vpngw.v1"] if v1 else None)
    if v1:
        assignment = await asyncio.wait_for(ws.recv(), 3)
        check(isinstance(assignment, str), "no assignment first")
        ws.assignment = assignment
    await asyncio.wait_for(await ws.ping(b"probe"), 3)
    return ws


async def expect_401(url=URL, headers=None):
    try:
        ws = await websockets.connect(url, extra_headers=headers or [], open_timeout=5)
    except websockets.InvalidStatusCode as e:
        check(e.status_code == 401, "HTTP %d, expected 401" % e.status_code)
        return
    await ws.close()
    raise Fail("%s: admitted, expected 401" % url)


async def ping(ws, seq=1):
    """An echo to the Internet host through the tunnel, and its reply."""
    ident = random.randrange(1, 0xFFFF)
    await ws.send(bytes(IP(src=SRC, dst=INET) / ICMP(id=ident, seq=seq) / b"auth"))

    def pred(raw, p):
        return (p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ident
                and p.dst == SRC and p.src == INET)
    await expect(ws, pred, "echo reply from %s" % INET, 3.0, skip_text=True)


def write_tokens(*lines):
    """Rewrites the token file in place (the path stays the same), sends
    SIGHUP, and waits for the gateway's line about it."""
    start = len(log_text())
    with open(TOKEN_FILE, "w") as f:
        f.write("# rewritten by auth_test.py\n" + "".join(t + "\n" for t in lines))
    os.kill(PID, signal.SIGHUP)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        new = log_text()[start:]
        if "reloaded" in new or "not reloaded" in new:
            return new
        time.sleep(0.05)
    raise Fail("no line about the token file within 3 s of SIGHUP")


# ---- The tests ----

@test()
def no_token_401():
    """No Authorization header, no token= : 401, "no token" in the log."""
    refused("/", why="no token")
    refused("/?session=0123456789abcdef0123456789abcdef", why="no token")
    refused("/", ["Authorization: Basic dXNlcjpwYXNz"], why="no token")


@test()
def wrong_token_401():
    """A wrong token, in the header or the query, or a broken escape: 401."""
    bad = new_token("wrong")
    refused("/", ["Authorization: Bearer " + bad], why="bad token")
    refused("/?token=" + urllib.parse.quote(bad, safe=""), why="bad token")
    refused("/?token=%zz" + TOKEN_A[:4], why="bad token")
    refused("/?token=", why="bad token")
    # One character short, or one too many, of a good token.
    used(TOKEN_A)
    refused("/", ["Authorization: Bearer " + TOKEN_A[:-1]], why="bad token")
    refused("/", ["Authorization: Bearer " + TOKEN_A + "x"], why="bad token")
    # The header is what counts when both are given.
    refused("/?token=" + urllib.parse.quote(TOKEN_A, safe=""),
            ["Authorization: Bearer " + bad], why="bad token")


@test()
async def bearer_ping():
    """The token in Authorization: Bearer: connected, and a ping through the
    tunnel is answered."""
    ws = await open_ws(headers=bearer(TOKEN_A))
    await ping(ws)
    await ws.close()


@test()
async def query_ping():
    """The token as ?token=, percent-encoded (it holds + / = and more):
    connected, and a ping is answered."""
    check(urllib.parse.quote(TOKEN_Q, safe="") != TOKEN_Q, "TOKEN_Q needs no escape")
    ws = await open_ws(with_query(TOKEN_Q))
    await ping(ws)
    await ws.close()
    # With the vpngw.v1 subprotocol, and the token after another parameter.
    ws = await open_ws(with_query(TOKEN_Q, URL + "?x=1"), v1=True)
    await ping(ws)
    await ws.close()


@test(timeout=30)
async def resume_needs_token():
    """A resumed session must present a token too: its session alone gets
    401, and with the token it gets its slot back."""
    import json
    ws = await open_ws(headers=bearer(TOKEN_A), v1=True)
    a = json.loads(ws.assignment)
    ws.transport.abort()          # vanish: no close frame, the slot lingers
    await asyncio.sleep(0.3)
    url = URL + "?session=" + a["session"]
    await expect_401(url)
    await expect_401(url, [("Authorization", "Bearer " + new_token("wrong"))])
    start = len(log_text())
    ws = await open_ws(url, headers=bearer(TOKEN_A), v1=True)
    b = json.loads(ws.assignment)
    check(b["address"] == a["address"], "resumed as %s, was %s" % (b["address"], a["address"]))
    wait_log("resume ", start)
    await ping(ws)
    await ws.close()


@test(timeout=30)
async def reload_adds_token():
    """A token appended to the file is accepted after SIGHUP, by the same
    process, while a client connected before stays connected."""
    held = await open_ws(headers=bearer(TOKEN_A))
    new = new_token("added")
    await expect_401(headers=[("Authorization", "Bearer " + new)])
    out = write_tokens(TOKEN_A, TOKEN_Q, new)
    check("reloaded: 3 tokens" in out, "reload said: %r" % out.strip())
    ws = await open_ws(headers=bearer(new))
    await ping(ws)
    await ws.close()
    await ping(held)
    await held.close()
    same_gateway()


@test(timeout=30)
async def reload_removes_token():
    """A token removed from the file is refused after SIGHUP; a client
    connected with it stays connected."""
    held = await open_ws(headers=bearer(TOKEN_A))
    keep = new_token("kept")
    out = write_tokens(TOKEN_Q, keep)
    check("reloaded: 2 tokens" in out, "reload said: %r" % out.strip())
    await expect_401(headers=bearer(TOKEN_A))
    await expect_401(with_query(TOKEN_A))
    ws = await open_ws(headers=bearer(keep))
    await ws.close()
    await ping(held)
    await held.close()
    same_gateway()


@test(timeout=30)
async def reload_bad_file_keeps_tokens():
    """A file with a bad line, or none at all, is not loaded: the tokens
    loaded before stay, and one line says so."""
    keep = new_token("still")
    write_tokens(TOKEN_Q, keep)
    only_new = new_token("never")
    out = write_tokens(only_new, "two words")
    check("not reloaded" in out and "line 3" in out, "reload said: %r" % out.strip())
    check(len([ln for ln in out.splitlines() if "token file" in ln]) == 1,
          "more than one line: %r" % out)
    ws = await open_ws(headers=bearer(keep))
    await ws.close()
    await expect_401(headers=bearer(only_new))
    out = write_tokens()
    check("not reloaded" in out and "no token" in out, "reload said: %r" % out.strip())
    ws = await open_ws(with_query(keep))
    await ws.close()
    # Back to the tokens auth.sh started with, for what it runs next.
    out = write_tokens(TOKEN_A, TOKEN_Q)
    check("reloaded: 2 tokens" in out, "reload said: %r" % out.strip())
    same_gateway()


def main(argv):
    return harness.main(argv)


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))
