# SPDX-License-Identifier: MIT
# test/servers/http_server.py: the HTTP server of the namespace tests, run in
# the "Internet" namespace. GET /body returns a known body of a few kB (so
# that it spans several TCP segments) with HTTP/1.0 semantics: the server
# closes the connection after the response, which the tunnel test checks.
# An --addr with a colon is IPv6 ("::" for every address of both families).
import argparse
import http.server
import socket


def body():
    """The known body; gateway_test.py fetches it directly to compare."""
    return "".join("line %04d of the vpngw test body\n" % i
                   for i in range(200)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        data = body() if self.path == "/body" else b"vpngw test server\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=80)
    a = ap.parse_args()
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    if ":" in a.addr:
        http.server.ThreadingHTTPServer.address_family = socket.AF_INET6
    http.server.ThreadingHTTPServer((a.addr, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
