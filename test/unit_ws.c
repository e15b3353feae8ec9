/* SPDX-License-Identifier: MIT */
/*
 * unit_ws.c: the WebSocket engine of ws.c. The upgrade request and response
 * parsers are fed whole and one byte at a time and must agree; the frame
 * parser gets the examples of RFC 6455 §5.7, every error with its close
 * code, and is fed whole and in pieces of 1, 2, 3, 5 and 13 bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../nat.h"
#include "../ws.h"
#include "unit.h"

/* ==== WebSocket URIs (§3) ==== */

/* Parses s[0..len) from a buffer of exactly len bytes, so that ASan sees
 * any read past it. */
static const char *url_parse_exact(struct ws_url *u, const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	const char *why;

	memcpy(copy, s, len);
	why = ws_url_parse(u, copy, len);
	free(copy);
	return why;
}

static void url_good(void)
{
	static const struct {
		const char *s;
		bool tls;
		const char *host, *hosthdr, *path;
		unsigned port;
	} t[] = {
		{ "ws://192.0.2.1:8080/", false, "192.0.2.1", "192.0.2.1:8080", "/", 8080 },
		{ "wss://gw.example/vpn?x=1&y=%2F", true, "gw.example", "gw.example",
		  "/vpn?x=1&y=%2F", 443 },
		{ "ws://gw.example", false, "gw.example", "gw.example", "/", 80 },
		{ "ws://gw.example?a=b", false, "gw.example", "gw.example", "/?a=b", 80 },
		{ "ws://gw.example/?", false, "gw.example", "gw.example", "/?", 80 },
		{ "WSS://GW.Example:443/", true, "GW.Example", "GW.Example:443", "/", 443 },
		{ "wS://h:80", false, "h", "h:80", "/", 80 },
		{ "ws://[::1]:8080/p", false, "::1", "[::1]:8080", "/p", 8080 },
		{ "ws://[2001:db8::1]/", false, "2001:db8::1", "[2001:db8::1]", "/", 80 },
		{ "wss://[::ffff:192.0.2.1]", true, "::ffff:192.0.2.1", "[::ffff:192.0.2.1]", "/", 443 },
		{ "ws://[1:2:3:4:5:6:7:8]/", false, "1:2:3:4:5:6:7:8", "[1:2:3:4:5:6:7:8]", "/", 80 },
		{ "ws://[1:2:3:4:5:6:1.2.3.4]/", false, "1:2:3:4:5:6:1.2.3.4",
		  "[1:2:3:4:5:6:1.2.3.4]", "/", 80 },
		{ "ws://[::]/", false, "::", "[::]", "/", 80 },
		{ "ws://[1::]/", false, "1::", "[1::]", "/", 80 },
		{ "ws://[ABCD:ef01::]/", false, "ABCD:ef01::", "[ABCD:ef01::]", "/", 80 },
		{ "ws://gw.example./", false, "gw.example.", "gw.example.", "/", 80 },
		{ "ws://a_b-c.example/", false, "a_b-c.example", "a_b-c.example", "/", 80 },
		{ "ws://1a.example/", false, "1a.example", "1a.example", "/", 80 },
		{ "ws://h:65535/", false, "h", "h:65535", "/", 65535 },
		{ "ws://h:1/", false, "h", "h:1", "/", 1 },
		{ "ws://h/a:b@c/~!$&'()*+,;=?/?:@", false, "h", "h", "/a:b@c/~!$&'()*+,;=?/?:@", 80 },
		{ "ws://h/%41%7e%00", false, "h", "h", "/%41%7e%00", 80 },
		{ "ws://0.0.0.0/", false, "0.0.0.0", "0.0.0.0", "/", 80 },
	};
	struct ws_url u;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *why = url_parse_exact(&u, t[i].s, strlen(t[i].s));

		if (why)
			fprintf(stderr, "  \"%s\": %s\n", t[i].s, why);
		CHECK(why == NULL);
		CHECK(u.tls == t[i].tls && u.port == t[i].port);
		CHECK(strcmp(u.host, t[i].host) == 0);
		CHECK(strcmp(u.hosthdr, t[i].hosthdr) == 0);
		CHECK(strcmp(u.path, t[i].path) == 0);
	}
	/* len bounds the read: what follows it is not the URL's. */
	CHECK(ws_url_parse(&u, "ws://h/abc", 7) == NULL && strcmp(u.path, "/") == 0);
	CHECK(ws_url_parse(&u, "ws://h:80/", 8) == NULL && u.port == 8 &&
	      strcmp(u.hosthdr, "h:8") == 0);
	/* The longest host and path fit, NUL-terminated. */
	static char big[WS_URL_PATH_MAX + 300];
	memcpy(big, "ws://", 5);
	memset(big + 5, 'a', WS_URL_HOST_MAX);
	memcpy(big + 5 + WS_URL_HOST_MAX, ":65535", 6);
	CHECK(ws_url_parse(&u, big, 5 + WS_URL_HOST_MAX + 6) == NULL);
	CHECK(strlen(u.host) == WS_URL_HOST_MAX && strlen(u.hosthdr) == WS_URL_HOST_MAX + 6);
	CHECK(ws_url_parse(&u, big, 5 + WS_URL_HOST_MAX + 1 + 6) != NULL);
	memcpy(big, "ws://h/", 7);
	memset(big + 7, 'p', WS_URL_PATH_MAX);
	CHECK(ws_url_parse(&u, big, 6 + WS_URL_PATH_MAX) == NULL);
	CHECK(strlen(u.path) == WS_URL_PATH_MAX);
	big[6] = '?';
	CHECK(ws_url_parse(&u, big, 6 + WS_URL_PATH_MAX - 1) == NULL);
	CHECK(strlen(u.path) == WS_URL_PATH_MAX && u.path[0] == '/' && u.path[1] == '?');
}

static void url_bad(void)
{
	static const struct {
		const char *s;
		const char *why; /* a word of the reason */
	} t[] = {
		{ "", "expected ws://" },
		{ "http://h/", "expected ws://" },
		{ "ws:/h/", "expected ws://" },
		{ "ws:h", "expected ws://" },
		{ "wss:/", "expected ws://" },
		{ "ws//h/", "expected ws://" },
		{ "wsx://h/", "expected ws://" },
		{ "ws://", "missing host" },
		{ "ws:///p", "missing host" },
		{ "ws://?q", "missing host" },
		{ "ws://:80/", "missing host" },
		{ "ws://./", "missing host" },
		{ "ws://h /", "spaces" },
		{ "ws://h/a b", "spaces" },
		{ "ws://h/\t", "spaces" },
		{ "ws://h/\r\nX: y", "spaces" },
		{ "ws://h/\x7f", "spaces" },
		{ "ws://h/caf\xc3\xa9", "non-ASCII" },
		{ "ws://h/#frag", "'#'" },
		{ "ws://h#", "'#'" },
		{ "ws://h\\p", "'\\'" },
		{ "ws://user@h/", "user information" },
		{ "ws://user:pw@h:80/", "user information" },
		{ "ws://@h/", "user information" },
		{ "ws://h:/", "bad port" },
		{ "ws://h:", "bad port" },
		{ "ws://h:0/", "bad port" },
		{ "ws://h:65536/", "bad port" },
		{ "ws://h:99999999999999999999/", "bad port" },
		{ "ws://h:18446744073709551617/", "bad port" },
		{ "ws://h:080/", "bad port" },
		{ "ws://h:00/", "bad port" },
		{ "ws://h:-1/", "bad port" },
		{ "ws://h:+80/", "bad port" },
		{ "ws://h:8a/", "bad port" },
		{ "ws://h:80:80/", "bad port" },
		{ "ws://[::1/", "unterminated" },
		{ "ws://[::1", "unterminated" },
		{ "ws://[::1]x/", "after the host" },
		{ "ws://[::1]]/", "after the host" },
		{ "ws://[]/", "IPv6" },
		{ "ws://[1:::2]/", "IPv6" },
		{ "ws://[:::]/", "IPv6" },
		{ "ws://[1:2:3:4:5:6:7:8:9]/", "IPv6" },
		{ "ws://[1:2:3:4:5:6:7]/", "IPv6" },
		{ "ws://[1:2:3:4:5:6:7:8::]/", "IPv6" },
		{ "ws://[1::2::3]/", "IPv6" },
		{ "ws://[fe80::1%25eth0]/", "IPv6" },
		{ "ws://[12345::]/", "IPv6" },
		{ "ws://[::1.2.3]/", "IPv6" },
		{ "ws://[::1.2.3.4:5]/", "IPv6" },
		{ "ws://[::01.2.3.4]/", "IPv6" },
		{ "ws://[1.2.3.4]/", "IPv6" },
		{ "ws://[:1]/", "IPv6" },
		{ "ws://[1:]/", "IPv6" },
		{ "ws://[v1.x]/", "IPv6" },
		{ "ws://[g::]/", "IPv6" },
		{ "ws://a..b/", "empty label" },
		{ "ws://.a/", "empty label" },
		{ "ws://a.b../", "empty label" },
		{ "ws://a%20b/", "bad character in the host" },
		{ "ws://a!b/", "bad character in the host" },
		{ "ws://a~b/", "bad character in the host" },
		{ "ws://a[b]/", "bad character in the host" },
		{ "ws://127.1/", "dotted-quad" },
		{ "ws://0x7f.1/", "dotted-quad" },
		{ "ws://1.2.3.256/", "dotted-quad" },
		{ "ws://01.2.3.4/", "dotted-quad" },
		{ "ws://2130706433/", "dotted-quad" },
		{ "ws://0x7f000001/", "dotted-quad" },
		{ "ws://1.2.3.4.5/", "dotted-quad" },
		{ "ws://1.2.3.4./", "dotted-quad" },
		{ "ws://example.123/", "dotted-quad" },
		{ "ws://h/%", "percent" },
		{ "ws://h/%4", "percent" },
		{ "ws://h/%zz", "percent" },
		{ "ws://h/%4g", "percent" },
		{ "ws://h/[x]", "percent-encoded" },
		{ "ws://h/{}", "percent-encoded" },
		{ "ws://h/|", "percent-encoded" },
		{ "ws://h/\"", "percent-encoded" },
		{ "ws://h/<", "percent-encoded" },
		{ "ws://h/^", "percent-encoded" },
		{ "ws://h/`", "percent-encoded" },
	};
	struct ws_url u;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *why = url_parse_exact(&u, t[i].s, strlen(t[i].s));

		if (!why || !strstr(why, t[i].why))
			fprintf(stderr, "  \"%s\": %s\n", t[i].s, why ? why : "accepted");
		CHECK(why && strstr(why, t[i].why));
		/* A reason fits one line. */
		CHECK(why && strlen(why) < 80 && !strchr(why, '\n'));
	}
	/* A NUL is a control character, not an end. */
	CHECK(ws_url_parse(&u, "ws://h/\0x", 9) != NULL);
	CHECK(ws_url_parse(&u, "ws://h\0/", 8) != NULL);
	/* Too long: a host of 256, a path of 1024. */
	static char big[WS_URL_PATH_MAX + 300];
	memcpy(big, "ws://", 5);
	memset(big + 5, 'a', WS_URL_HOST_MAX + 1);
	CHECK(strstr(ws_url_parse(&u, big, 5 + WS_URL_HOST_MAX + 1), "too long"));
	memcpy(big, "ws://h/", 7);
	memset(big + 7, 'p', WS_URL_PATH_MAX);
	CHECK(strstr(ws_url_parse(&u, big, 7 + WS_URL_PATH_MAX), "too long"));
	big[6] = '?';
	CHECK(strstr(ws_url_parse(&u, big, 6 + WS_URL_PATH_MAX), "too long"));
}

/* ==== The upgrade request ==== */

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static const char rfc_req[] =
	"GET /chat HTTP/1.1\r\n"
	"Host: server.example.com\r\n"
	"Upgrade: websocket\r\n"
	"Connection: Upgrade\r\n"
	"Sec-WebSocket-Key: " KEY "\r\n"
	"Origin: http://example.com\r\n"
	"Sec-WebSocket-Protocol: chat, superchat\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"\r\n";

static struct ws_req req_a, req_b;

static bool str_is(struct ws_str s, const char *want)
{
	if (!want)
		return s.p == NULL && s.len == 0;
	return s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static bool str_eq(struct ws_str a, struct ws_str b)
{
	return a.len == b.len && (a.p == NULL) == (b.p == NULL) &&
	       (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Feeds all of s at once; the result, and *used in used. */
static int feed_whole(struct ws_req *r, const char *s, size_t len, size_t *used)
{
	ws_req_init(r);
	return ws_req_feed(r, (const uint8_t *)s, len, used);
}

/* Feeds s one byte at a time until the parser stops asking for more. */
static int feed_bytes(struct ws_req *r, const char *s, size_t len, size_t *used)
{
	int rc = WS_REQ_MORE;
	size_t i, u;

	ws_req_init(r);
	for (i = 0; i < len && rc == WS_REQ_MORE; i++) {
		u = 99;
		rc = ws_req_feed(r, (const uint8_t *)s + i, 1, &u);
		CHECK(u == 1 || (u == 0 && rc == 431));
	}
	*used = i;
	return rc;
}

/*
 * Parses s both ways, checks that the two agree field by field, and returns
 * the status; the parsed request is left in req_a.
 */
static int parse(const char *s, size_t len, size_t *used)
{
	size_t ua = 0, ub = 0;
	int ra = feed_whole(&req_a, s, len, &ua);
	int rb = feed_bytes(&req_b, s, len, &ub);

	CHECK(ra == rb);
	if (ra == WS_REQ_DONE && rb == WS_REQ_DONE) {
		CHECK(ua == ub);
		CHECK(req_a.is_get == req_b.is_get);
		CHECK(req_a.upgrade_ws == req_b.upgrade_ws);
		CHECK(req_a.conn_upgrade == req_b.conn_upgrade);
		CHECK(req_a.proto_v1 == req_b.proto_v1);
		CHECK(req_a.version == req_b.version);
		CHECK(str_eq(req_a.target, req_b.target));
		CHECK(str_eq(req_a.path, req_b.path));
		CHECK(str_eq(req_a.key, req_b.key));
		CHECK(str_eq(req_a.bearer, req_b.bearer));
		CHECK(str_eq(req_a.qtoken, req_b.qtoken));
		CHECK(str_eq(req_a.session, req_b.session));
		CHECK(req_a.xff_n == req_b.xff_n);
		for (unsigned i = 0; i < req_a.xff_n && i < req_b.xff_n; i++)
			CHECK(str_eq(req_a.xff[i], req_b.xff[i]));
		CHECK(str_eq(req_a.host, req_b.host));
		CHECK(ws_req_status(&req_a, NULL) == ws_req_status(&req_b, NULL));
	}
	if (used)
		*used = ua;
	return ra;
}

/* The status a request string deserves, or its parse error. */
static int status_of(const char *s, const char *want_path)
{
	int rc = parse(s, strlen(s), NULL);

	return rc == WS_REQ_DONE ? ws_req_status(&req_a, want_path) : rc;
}

static void req_rfc_example(void)
{
	size_t used;

	CHECK(parse(rfc_req, strlen(rfc_req), &used) == WS_REQ_DONE);
	CHECK(used == strlen(rfc_req));
	CHECK(req_a.is_get && req_a.upgrade_ws && req_a.conn_upgrade);
	CHECK(!req_a.proto_v1);
	CHECK(req_a.version == 13);
	CHECK(str_is(req_a.target, "/chat"));
	CHECK(str_is(req_a.path, "/chat"));
	CHECK(str_is(req_a.key, KEY));
	CHECK(str_is(req_a.host, "server.example.com"));
	CHECK(str_is(req_a.qtoken, NULL) && str_is(req_a.session, NULL));
	CHECK(str_is(req_a.bearer, NULL) && req_a.xff_n == 0);
	CHECK(ws_req_status(&req_a, NULL) == 101);
	CHECK(ws_req_status(&req_a, "/chat") == 101);
	CHECK(ws_req_status(&req_a, "/vpn") == 404);
	CHECK(ws_req_status(&req_a, "/cha") == 404);
	CHECK(ws_req_status(&req_a, "/chat/") == 404);
}

static void req_case_insensitive(void)
{
	const char *s =
		"GET /vpn HTTP/1.1\r\n"
		"hOST: h\r\n"
		"upgrade: WebSocket\r\n"
		"CONNECTION: keep-alive, Upgrade\r\n"
		"sec-websocket-key: \t " KEY " \t\r\n"
		"SEC-WEBSOCKET-VERSION:13\r\n"
		"sec-websocket-protocol: chat,vpngw.v1\r\n"
		"\r\n";

	CHECK(status_of(s, "/vpn") == 101);
	CHECK(str_is(req_a.key, KEY));
	CHECK(str_is(req_a.host, "h"));
	CHECK(req_a.proto_v1);

	/* Lists split over lines, tokens among others, empty elements. */
	CHECK(status_of("GET / HTTP/1.1\r\nUpgrade: h2c, WEBSOCKET\r\n"
	                "Connection: keep-alive\r\nConnection: ,, upgrade ,\r\n"
	                "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
	                NULL) == 101);
	/* "upgrades" and "websockets" are other tokens. */
	CHECK(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrades\r\n"
	                "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
	                NULL) == 400);
	CHECK(status_of("GET / HTTP/1.1\r\nUpgrade: websockets\r\nConnection: upgrade\r\n"
	                "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
	                NULL) == 426);
	/* Bare LF line endings (RFC 7230 §3.5). */
	CHECK(status_of("GET / HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\n"
	                "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n\n",
	                NULL) == 101);
	CHECK(status_of("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\n",
	                NULL) == 101);
}

#define UPG "Upgrade: websocket\r\nConnection: Upgrade\r\n"

static void req_status_codes(void)
{
	/* Missing, short, long and non-canonical keys. */
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: AAAA\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==AAAA\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	/* Versions. */
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 12\r\n\r\n", NULL) == 426);
	CHECK(req_a.version == 12);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n\r\n", NULL) == 426);
	CHECK(req_a.version == -1);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 013\r\n\r\n", NULL) == 426);
	CHECK(req_a.version == -1);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 13, 8\r\n\r\n", NULL) == 426);
	CHECK(status_of("GET / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 99999999999999999999\r\n\r\n", NULL) == 426);
	/* A plain GET, a missing Connection: upgrade, other methods. */
	CHECK(status_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL) == 426);
	CHECK(status_of("GET /metrics HTTP/1.1\r\n\r\n", "/vpn") == 426);
	CHECK(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	CHECK(status_of("POST / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	CHECK(!req_a.is_get);
	CHECK(status_of("get / HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", NULL) == 400);
	/* Wrong path, with a query that is not part of the path. */
	CHECK(status_of("GET /vpn?token=x HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", "/vpn") == 101);
	CHECK(status_of("GET /vpn2 HTTP/1.1\r\n" UPG "Sec-WebSocket-Key: " KEY "\r\n"
	                "Sec-WebSocket-Version: 13\r\n\r\n", "/vpn") == 404);
}

static void req_malformed(void)
{
	static const char *const bad[] = {
		"\r\n\r\n",
		"\n\n",
		"GET /\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET / HTTP/1\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET /\ta HTTP/1.1\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"GET /a\rb HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nName : x\r\n\r\n",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\rz\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nSec-WebSocket-Key: " KEY "\r\nsec-websocket-key: " KEY "\r\n\r\n",
		"GET / HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i], strlen(bad[i]), NULL);

		if (rc != 400)
			fprintf(stderr, "  bad[%zu] gave %d\n", i, rc);
		CHECK(rc == 400);
	}
	/* A NUL inside a header value. */
	static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	CHECK(parse(nul, sizeof nul - 1, NULL) == 400);
	/* obs-text in a value is allowed (RFC 7230 §3.2.6). */
	CHECK(status_of("GET / HTTP/1.1\r\nUser-Agent: caf\xc3\xa9\r\n\r\n", NULL) == 426);
}

static void req_too_large(void)
{
	static char s[WS_REQ_MAX + 64];
	size_t used;
	int rc;

	/* One long header: 431 once 8 KiB arrived without a blank line. */
	memset(s, 'a', sizeof s);
	memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
	memcpy(s + sizeof s - 4, "\r\n\r\n", 4);
	CHECK(parse(s, sizeof s, &used) == 431);
	CHECK(used == WS_REQ_MAX);
	ws_req_init(&req_a);
	CHECK(ws_req_feed(&req_a, (const uint8_t *)s, WS_REQ_MAX - 1, &used) == WS_REQ_MORE);
	CHECK(ws_req_feed(&req_a, (const uint8_t *)s, 1, &used) == 431);
	CHECK(ws_req_feed(&req_a, (const uint8_t *)s, 1, &used) == 431);

	/* A head of exactly WS_REQ_MAX bytes still fits. */
	memcpy(s + WS_REQ_MAX - 4, "\r\n\r\n", 4);
	CHECK(parse(s, WS_REQ_MAX, &used) == WS_REQ_DONE);
	CHECK(used == WS_REQ_MAX);
	CHECK(parse(s, WS_REQ_MAX + 10, &used) == WS_REQ_DONE);
	CHECK(used == WS_REQ_MAX);

	/* Many small headers add up the same way. */
	size_t n = 16;
	memcpy(s, "GET / HTTP/1.1\r\n", 16);
	while (n + 8 < sizeof s) {
		memcpy(s + n, "A: bcd\r\n", 8);
		n += 8;
	}
	rc = parse(s, n, &used);
	CHECK(rc == 431);
}

static void req_query_auth(void)
{
	const char *s =
		"GET /vpn?x=1&tokens=no&token=abc%20d&session=s-1&token=zzz#frag HTTP/1.1\r\n"
		"Host: gw.example:8443\r\n"
		UPG
		"Sec-WebSocket-Key: " KEY "\r\n"
		"Sec-WebSocket-Version: 13\r\n"
		"Authorization: bearer   T0k3n.x  \r\n"
		"X-Forwarded-For: 192.0.2.1, 198.51.100.7\r\n"
		"Sec-WebSocket-Protocol: chat\r\n"
		"Sec-WebSocket-Protocol: vpngw.v1\r\n"
		"\r\n";

	CHECK(status_of(s, "/vpn") == 101);
	CHECK(str_is(req_a.path, "/vpn"));
	CHECK(str_is(req_a.qtoken, "abc%20d"));
	CHECK(str_is(req_a.session, "s-1"));
	CHECK(str_is(req_a.bearer, "T0k3n.x"));
	CHECK(req_a.xff_n == 1 && str_is(req_a.xff[0], "192.0.2.1, 198.51.100.7"));
	CHECK(str_is(req_a.host, "gw.example:8443"));
	CHECK(req_a.proto_v1);

	CHECK(status_of("GET /?token= HTTP/1.1\r\nAuthorization: Basic dXNlcg==\r\n"
	                "Sec-WebSocket-Protocol: vpngw.v10, VPNGW.V1\r\n\r\n", NULL) == 426);
	CHECK(req_a.qtoken.p != NULL && req_a.qtoken.len == 0);
	CHECK(str_is(req_a.session, NULL));
	CHECK(str_is(req_a.bearer, NULL));
	CHECK(!req_a.proto_v1);
	CHECK(str_is(req_a.path, "/"));

	CHECK(status_of("GET /p?session=a&token HTTP/1.1\r\nAuthorization: Bearer\r\n\r\n",
	                NULL) == 426);
	CHECK(str_is(req_a.session, "a"));
	CHECK(str_is(req_a.qtoken, NULL));
	CHECK(str_is(req_a.bearer, NULL));
	CHECK(str_is(req_a.path, "/p"));
}

/* Several X-Forwarded-For lines are kept in order; past WS_XFF_LINES the
 * first ones go. */
static void req_xff_lines(void)
{
	char s[2048];
	int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1\r\n"
	                 "x-forwarded-for:\t198.51.100.2 , 10.0.0.1\r\n"
	                 "X-Forwarded-For:\r\n\r\n");

	CHECK(parse(s, (size_t)n, NULL) == WS_REQ_DONE);
	CHECK(req_a.xff_n == 3);
	CHECK(str_is(req_a.xff[0], "192.0.2.1"));
	CHECK(str_is(req_a.xff[1], "198.51.100.2 , 10.0.0.1"));
	CHECK(req_a.xff[2].len == 0);

	n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < WS_XFF_LINES + 3; i++)
		n += snprintf(s + n, sizeof s - (size_t)n, "X-Forwarded-For: 10.0.0.%d\r\n", i);
	n += snprintf(s + n, sizeof s - (size_t)n, "\r\n");
	CHECK(parse(s, (size_t)n, NULL) == WS_REQ_DONE);
	CHECK(req_a.xff_n == WS_XFF_LINES);
	CHECK(str_is(req_a.xff[0], "10.0.0.3"));
	CHECK(str_is(req_a.xff[WS_XFF_LINES - 1], "10.0.0.10"));
}

/* The proxy walk: lines joined by "|" in the table, trust 127/8, 10.1/16. */
static void xff_walk(void)
{
	static const struct nat_cidr trust[] = {
		{ 0x7f000000, 0xff000000 }, { 0x0a010000, 0xffff0000 },
	};
	static const struct {
		const char *list;
		const char *want;   /* NULL: the peer is the client */
	} t[] = {
		{ "", NULL },
		{ " , ,", NULL },
		{ "203.0.113.7", "203.0.113.7" },
		{ "203.0.113.7, 10.1.0.5", "203.0.113.7" },
		{ "192.0.2.9, 203.0.113.7, 10.1.0.5, 127.0.0.1", "203.0.113.7" },
		{ "198.51.100.99|203.0.113.7", "203.0.113.7" },
		{ "203.0.113.7|10.1.2.3,127.0.0.2", "203.0.113.7" },
		{ "203.0.113.7,|,10.1.2.3", "203.0.113.7" },
		{ "10.1.0.1, 127.0.0.1", "10.1.0.1" },          /* all trusted: the left-most */
		{ "10.1.0.1|10.1.0.2|127.0.0.1", "10.1.0.1" },
		{ "203.0.113.7, 2001:db8::1", NULL },           /* IPv6 on the right: the peer */
		{ "203.0.113.7, 2001:db8::1, 10.1.0.9", "10.1.0.9" }, /* stops: the last hop */
		{ "203.0.113.7, unknown, 127.0.0.1", "127.0.0.1" },
		{ "203.0.113.7:4711", NULL },
		{ "203.0.113.7/32", NULL },
		{ "203.0.113.07", NULL },
		{ "203.0.113.256", NULL },
		{ "203.0.113.7 x", NULL },
		{ "\"203.0.113.7\"", NULL },
		{ "192.0.2.1, 203.0.113.7 ", "203.0.113.7" },
		{ "192.0.2.1,\t203.0.113.7", "203.0.113.7" },
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct ws_str lines[4];
		size_t n = 0;
		const char *p = t[i].list;
		uint32_t got = 0x01020304, want = 0;
		unsigned prefix;

		/* Each line in a buffer of its own length, so that ASan sees a
		 * read past it. */
		char *bufs[4] = { 0 };
		while (n < 4) {
			const char *e = strchr(p, '|');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			bufs[n] = malloc(len ? len : 1);
			memcpy(bufs[n], p, len);
			lines[n] = (struct ws_str){ bufs[n], len };
			n++;
			if (!e)
				break;
			p = e + 1;
		}
		bool found = ws_xff_client(lines, n, trust, 2, &got);
		if (t[i].want) {
			CHECK(nat_prefix_parse(t[i].want, strlen(t[i].want), &want, &prefix) == 0);
			CHECK(found && got == want);
		} else {
			CHECK(!found && got == 0x01020304);
		}
		if (found != (t[i].want != NULL) || (found && got != want))
			fprintf(stderr, "  case %zu: \"%s\"\n", i, t[i].list);
		for (size_t j = 0; j < n; j++)
			free(bufs[j]);
	}

	/* Trusting nobody, the right-most entry is the client. */
	struct ws_str one = { "192.0.2.1, 127.0.0.1", 20 };
	uint32_t a = 0;
	CHECK(ws_xff_client(&one, 1, NULL, 0, &a) && a == 0x7f000001);
	CHECK(!ws_xff_client(NULL, 0, trust, 2, &a));
}

static void req_used_trailing(void)
{
	static char s[sizeof rfc_req + 16];
	const size_t n = strlen(rfc_req);
	size_t used;

	/* Frame bytes right after the head are not the head's. */
	memcpy(s, rfc_req, n);
	memcpy(s + n, "\x82\x85\x37\xfa\x21\x3d", 6);
	CHECK(parse(s, n + 6, &used) == WS_REQ_DONE);
	CHECK(used == n);
	CHECK(req_a.len == n);

	/* In two pieces, the second holding the end and a frame. */
	for (size_t cut = 1; cut < n; cut++) {
		int rc;

		ws_req_init(&req_a);
		rc = ws_req_feed(&req_a, (const uint8_t *)s, cut, &used);
		CHECK(rc == WS_REQ_MORE && used == cut);
		rc = ws_req_feed(&req_a, (const uint8_t *)s + cut, n + 6 - cut, &used);
		CHECK(rc == WS_REQ_DONE && used == n - cut);
		CHECK(ws_req_status(&req_a, "/chat") == 101);
	}
	ws_req_init(&req_a);
	CHECK(ws_req_feed(&req_a, (const uint8_t *)s, 0, &used) == WS_REQ_MORE && used == 0);
}

/* ==== Responses and the client side ==== */

static struct ws_resp resp_a, resp_b;

static int resp_parse(const char *s, size_t len, size_t *used)
{
	size_t ua, i;
	int ra, rb = WS_REQ_MORE;

	ws_resp_init(&resp_a);
	ra = ws_resp_feed(&resp_a, (const uint8_t *)s, len, &ua);
	ws_resp_init(&resp_b);
	for (i = 0; i < len && rb == WS_REQ_MORE; i++) {
		size_t u;

		rb = ws_resp_feed(&resp_b, (const uint8_t *)s + i, 1, &u);
		CHECK(u == 1 || (u == 0 && rb == 431));
	}
	CHECK(ra == rb);
	if (ra == WS_REQ_DONE) {
		CHECK(ua == i);
		CHECK(resp_a.status == resp_b.status);
		CHECK(resp_a.upgrade_ws == resp_b.upgrade_ws);
		CHECK(resp_a.conn_upgrade == resp_b.conn_upgrade);
		CHECK(str_eq(resp_a.accept, resp_b.accept));
		CHECK(str_eq(resp_a.proto, resp_b.proto));
	}
	if (used)
		*used = ua;
	return ra;
}

static void resp_parse_101(void)
{
	const char *s =
		"HTTP/1.1 101 Switching Protocols\r\n"
		"upgrade: WebSocket\r\n"
		"connection: upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		"Sec-WebSocket-Protocol: vpngw.v1\r\n"
		"\r\n"
		"\x81\x05Hello";
	size_t used;

	CHECK(resp_parse(s, strlen(s), &used) == WS_REQ_DONE);
	CHECK(used == strlen(s) - 7);
	CHECK(resp_a.status == 101 && resp_a.upgrade_ws && resp_a.conn_upgrade);
	CHECK(str_is(resp_a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	CHECK(str_is(resp_a.proto, "vpngw.v1"));

	CHECK(resp_parse("HTTP/1.1 101\r\n\r\n", 16, NULL) == WS_REQ_DONE);
	CHECK(resp_a.status == 101 && !resp_a.upgrade_ws);
	CHECK(resp_parse("HTTP/1.1 503 \r\n\r\n", 17, NULL) == WS_REQ_DONE);
	CHECK(resp_a.status == 503);

	static const char *const bad[] = {
		"HTTP/1.1 1x1 OK\r\n\r\n", "HTTP/2 101 OK\r\n\r\n", "HTTP/1.1 10\r\n\r\n",
		"HTTP/1.1 1010 OK\r\n\r\n", "HTTP/1.1  101 OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n", "HTTP/1.1 101 OK\r\n folded\r\n\r\n",
		"\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(resp_parse(bad[i], strlen(bad[i]), NULL) == 400);

	static char big[WS_REQ_MAX + 10];
	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 101 OK\r\nX: ", 20);
	CHECK(resp_parse(big, sizeof big, &used) == 431);
}

/* The client's request through the server's parser, and the answer back. */
static void handshake_roundtrip(void)
{
	char req[512], resp[512], acc[WS_ACCEPT_LEN + 1];
	size_t n, used;

	n = ws_client_request(req, sizeof req, "gw.example", "/vpn?session=abc", KEY,
	                      WS_PROTO_V1, "Authorization: Bearer tok\r\n");
	CHECK(n > 0 && n < sizeof req);
	CHECK(parse(req, n, &used) == WS_REQ_DONE && used == n);
	CHECK(ws_req_status(&req_a, "/vpn") == 101);
	CHECK(req_a.proto_v1);
	CHECK(str_is(req_a.bearer, "tok"));
	CHECK(str_is(req_a.session, "abc"));
	CHECK(str_is(req_a.host, "gw.example"));

	n = ws_resp_101(resp, sizeof resp, req_a.key.p, req_a.key.len, WS_PROTO_V1, NULL);
	CHECK(n > 0);
	CHECK(resp_parse(resp, n, &used) == WS_REQ_DONE && used == n);
	CHECK(resp_a.status == 101 && resp_a.upgrade_ws && resp_a.conn_upgrade);
	ws_accept_key(acc, KEY, strlen(KEY));
	CHECK(str_is(resp_a.accept, acc));
	CHECK(str_is(resp_a.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	CHECK(str_is(resp_a.proto, WS_PROTO_V1));

	n = ws_resp_101(resp, sizeof resp, KEY, strlen(KEY), NULL, NULL);
	CHECK(n > 0 && resp_parse(resp, n, NULL) == WS_REQ_DONE);
	CHECK(str_is(resp_a.proto, NULL));
	CHECK(ws_resp_101(resp, n - 1, KEY, strlen(KEY), NULL, NULL) == 0);
	CHECK(ws_resp_101(resp, n, KEY, strlen(KEY), NULL, NULL) == n);

	/* Nothing that could split a line goes out. */
	CHECK(ws_client_request(req, sizeof req, "h\r\nX: y", "/", KEY, NULL, NULL) == 0);
	CHECK(ws_client_request(req, sizeof req, "h", "/a b", KEY, NULL, NULL) == 0);
	CHECK(ws_client_request(req, sizeof req, "h", "/", KEY, "p\n", NULL) == 0);
	n = ws_client_request(req, sizeof req, "h", "/", KEY, NULL, NULL);
	CHECK(n > 0 && ws_client_request(req, n - 1, "h", "/", KEY, NULL, NULL) == 0);
}

static void resp_errors(void)
{
	static const int codes[] = { 400, 401, 404, 426, 431, 503, 777 };
	char out[512];

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		size_t n = ws_resp_error(out, sizeof out, codes[i], NULL), used;

		CHECK(n > 0 && n < sizeof out);
		out[n] = '\0';
		CHECK(resp_parse(out, n, &used) == WS_REQ_DONE);
		CHECK(resp_a.status == (codes[i] == 777 ? 500 : codes[i]));
		/* The body follows the head and matches Content-Length. */
		const char *cl = strstr(out, "Content-Length: ");
		CHECK(cl && (size_t)atoi(cl + 16) == n - used);
		CHECK(strstr(out, "Connection: ") != NULL);
		CHECK((strstr(out, "Sec-WebSocket-Version: 13\r\n") != NULL) == (codes[i] == 426));
		CHECK(ws_resp_error(out, n - 1, codes[i], NULL) == 0);
	}
	/* A body of the caller's, unless it could split a line. */
	size_t n = ws_resp_error(out, sizeof out, 400, "This port only speaks TLS.");
	CHECK(n > 0 && n < sizeof out);
	out[n] = '\0';
	CHECK(strstr(out, "Content-Length: 27\r\n\r\nThis port only speaks TLS.\n") != NULL);
	n = ws_resp_error(out, sizeof out, 400, "a\r\nX: b");
	CHECK(n > 0 && n < sizeof out);
	out[n] = '\0';
	CHECK(strstr(out, "X: b") == NULL && strstr(out, "\r\n\r\nBad Request\n") != NULL);
}

/* ==== Frames ==== */

struct rec {
	enum ws_ev ev;
	unsigned code;
	size_t len;
	uint32_t sum;
};

static uint32_t fnv(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#define BIG (70000 + 64)
static uint8_t work[BIG], frag[BIG], src[BIG];
static bool text_mode;       /* run()'s receivers deliver text */

/*
 * Feeds in to a fresh receiver step bytes at a time, taking every frame the
 * buffer holds after each step, and records the events (not WS_EV_MORE)
 * until an error or the end. Checks the engine's invariants on the way.
 */
static size_t run(bool masked, size_t max, const uint8_t *in, size_t len,
                  size_t step, struct rec *out, size_t cap)
{
	struct ws_rx rx;
	struct ws_msg m;
	size_t wlen = 0, off = 0, nrec = 0;

	ws_rx_init(&rx, masked, max, frag, sizeof frag);
	CHECK(!rx.text);
	rx.text = text_mode;
	while (off < len) {
		size_t k = len - off < step ? len - off : step;

		memcpy(work + wlen, in + off, k);
		wlen += k;
		off += k;
		for (;;) {
			size_t n = ws_rx_next(&rx, work, wlen, &m);

			CHECK(n <= wlen);
			if (n == 0) {
				CHECK(m.ev == WS_EV_MORE);
				break;
			}
			if (m.ev != WS_EV_MORE && nrec < cap) {
				out[nrec] = (struct rec){ m.ev, m.code, m.len, 0 };
				if (m.len) {
					CHECK((m.data >= work && m.data + m.len <= work + n) ||
					      (m.data == frag && m.len <= max));
					out[nrec].sum = fnv(m.data, m.len);
				}
				nrec++;
			}
			if (m.ev == WS_EV_BINARY || m.ev == WS_EV_TEXT)
				CHECK(m.len <= max);
			if (m.ev == WS_EV_TEXT)
				CHECK(text_mode);
			if (m.ev == WS_EV_ERROR)
				return nrec;
			memmove(work, work + n, wlen - n);
			wlen -= n;
		}
	}
	return nrec;
}

/* Runs in whole and in several piece sizes; each must give want. */
static void expect(bool masked, size_t max, const uint8_t *in, size_t len,
                   const struct rec *want, size_t nwant)
{
	static const size_t steps[] = { 0, 1, 2, 3, 5, 13 };
	struct rec got[16];

	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		size_t n = run(masked, max, in, len, steps[s] ? steps[s] : len, got, 16);
		bool same = n == nwant;

		for (size_t i = 0; same && i < n; i++)
			same = got[i].ev == want[i].ev && got[i].code == want[i].code &&
			       got[i].len == want[i].len &&
			       (want[i].sum == 0 || got[i].sum == want[i].sum);
		if (!same)
			fprintf(stderr, "  step %zu: %zu events, first ev %d code %u\n",
			        steps[s], n, n ? (int)got[0].ev : -1, n ? got[0].code : 0);
		CHECK(same);
	}
}

/* One expected event: ev, code, and the payload it carries (or NULL). */
static struct rec ev(enum ws_ev e, unsigned code, const char *data, size_t len)
{
	return (struct rec){ e, code, len, data && len ? fnv((const uint8_t *)data, len) : 0 };
}

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

static void frame_rfc_examples(void)
{
	struct rec w[4];

	/* §5.7: the masked "Hello" from a client, as binary and as text. */
	w[0] = ev(WS_EV_BINARY, 0, "Hello", 5);
	expect(true, WS_MSG_MAX, B("\x82\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), w, 1);
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_UNSUPPORTED, NULL, 0);
	expect(true, WS_MSG_MAX, B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), w, 1);
	/* Unmasked "Hello", to a client; unmasked text fails it too. */
	w[0] = ev(WS_EV_BINARY, 0, "Hello", 5);
	expect(false, WS_MSG_MAX, B("\x82\x05Hello"), w, 1);
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_UNSUPPORTED, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x81\x05Hello"), w, 1);
	/* Fragmented "Hel" + "lo", binary; unmasked and masked. */
	w[0] = ev(WS_EV_BINARY, 0, "Hello", 5);
	expect(false, WS_MSG_MAX, B("\x02\x03Hel\x80\x02lo"), w, 1);
	expect(true, WS_MSG_MAX, B("\x02\x83\x00\x00\x00\x00Hel\x80\x82\x01\x02\x03\x04"
	                           "\x6d\x6d"), w, 1);
	/* Ping "Hello" unmasked, and the masked pong in reply. */
	w[0] = ev(WS_EV_PING, 0, "Hello", 5);
	expect(false, WS_MSG_MAX, B("\x89\x05Hello"), w, 1);
	w[0] = ev(WS_EV_PONG, 0, "Hello", 5);
	expect(true, WS_MSG_MAX, B("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), w, 1);
	/* Several frames in a row, and empty ones. */
	w[0] = ev(WS_EV_BINARY, 0, "Hello", 5);
	w[1] = ev(WS_EV_PING, 0, NULL, 0);
	w[2] = ev(WS_EV_BINARY, 0, NULL, 0);
	w[3] = ev(WS_EV_CLOSE, WS_CLOSE_NO_STATUS, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x82\x05Hello\x89\x00\x82\x00\x88\x00"), w, 4);

	/* 256 bytes (16-bit length) and 64 KiB (64-bit length), unmasked. */
	for (size_t i = 0; i < 65536; i++)
		src[10 + i] = (uint8_t)(i * 31);
	memcpy(src + 6, "\x82\x7e\x01\x00", 4);
	w[0] = (struct rec){ WS_EV_BINARY, 0, 256, fnv(src + 10, 256) };
	expect(false, WS_MSG_MAX, src + 6, 4 + 256, w, 1);
	memcpy(src, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	w[0] = (struct rec){ WS_EV_BINARY, 0, 65536, fnv(src + 10, 65536) };
	expect(false, 65536, src, 10 + 65536, w, 1);
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_TOO_BIG, NULL, 0);
	expect(false, WS_MSG_MAX, src, 10 + 65536, w, 1);
}

/* Errors whose frame is the first (and only) thing in the stream. */
static void frame_errors(void)
{
	static const struct {
		bool masked;
		const char *bytes;
		size_t len;
		unsigned code;
	} t[] = {
#define E(m, s, c) { m, s, sizeof(s) - 1, c }
		E(true, "\xc2\x80\0\0\0\0", 1002),        /* RSV1 */
		E(true, "\xa2\x80\0\0\0\0", 1002),        /* RSV2 */
		E(true, "\x92\x80\0\0\0\0", 1002),        /* RSV3 */
		E(true, "\xc8\x80\0\0\0\0", 1002),        /* RSV1 on a close */
		E(true, "\x83\x80\0\0\0\0", 1002),        /* opcodes 3-7, B-F */
		E(true, "\x87\x80\0\0\0\0", 1002),
		E(true, "\x8b\x80\0\0\0\0", 1002),
		E(true, "\x8f\x80\0\0\0\0", 1002),
		E(true, "\x82\x00", 1002),                /* server: unmasked */
		E(true, "\x89\x00", 1002),
		E(false, "\x82\x80\0\0\0\0", 1002),       /* client: masked */
		E(true, "\x09\x80\0\0\0\0", 1002),        /* fragmented ping */
		E(true, "\x08\x80\0\0\0\0", 1002),        /* fragmented close */
		E(true, "\x89\xfe\x00\x7e", 1002),        /* 126-byte ping */
		E(true, "\x8a\xfe\x00\x05", 1002),        /* 16-bit pong length */
		E(false, "\x88\x7f\0\0\0\0\0\0\0\x02", 1002),
		E(false, "\x82\x7f\x80\0\0\0\0\0\0\0", 1002), /* top bit */
		E(true, "\x80\x80\0\0\0\0", 1002),        /* continuation, no start */
		E(true, "\x00\x80\0\0\0\0", 1002),
		E(true, "\x81\x80\0\0\0\0", 1003),        /* text */
		E(true, "\x01\x80\0\0\0\0", 1003),        /* fragmented text */
		E(false, "\x82\x7f\0\0\0\0\x01\0\0\0", 1009), /* over 65535, header only */
		E(false, "\x82\x7f\0\0\0\0\0\x01\0\0", 1009),
		E(true, "\x82\xff\0\0\0\0\0\x01\0\0", 1009),
		E(true, "\x02\xff\0\0\0\0\0\x01\0\0", 1009),
		E(false, "\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 1009),
		/* A fragment, then a new data frame or too much. */
		E(true, "\x02\x80\0\0\0\0\x82\x80\0\0\0\0", 1002),
		E(true, "\x02\x80\0\0\0\0\x81\x80\0\0\0\0", 1002),
		E(true, "\x02\x80\0\0\0\0\x02\x80\0\0\0\0", 1002),
		E(false, "\x02\x7e\x80\x00", 1009),       /* start above the 1000 cap */
		E(true, "\x88\x81\0\0\0\0\x03", 1002),    /* 1-byte close */
#undef E
	};
	struct rec w = ev(WS_EV_ERROR, 0, NULL, 0);

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t max = i == sizeof t / sizeof t[0] - 2 ? 1000 : WS_MSG_MAX;

		w.code = t[i].code;
		expect(t[i].masked, max, (const uint8_t *)t[i].bytes, t[i].len, &w, 1);
	}
}

/* 1009 is decided by the header: no payload needs to arrive. */
static void frame_too_big_early(void)
{
	struct ws_rx rx;
	struct ws_msg m;
	uint8_t b[16] = { 0x82, 0x7e, 0xff, 0xff };
	uint8_t f[100];

	ws_rx_init(&rx, false, 65534, NULL, 0);
	CHECK(ws_rx_next(&rx, b, 3, &m) == 0 && m.ev == WS_EV_MORE);
	CHECK(ws_rx_next(&rx, b, 4, &m) != 0 && m.ev == WS_EV_ERROR && m.code == 1009);
	/* Masked: before the mask key arrives. */
	b[1] = 0xfe;
	ws_rx_init(&rx, true, 100, NULL, 0);
	CHECK(ws_rx_next(&rx, b, 4, &m) != 0 && m.ev == WS_EV_ERROR && m.code == 1009);
	/* The limit is the message's, not the frame's: 60 + 41 > 100. */
	ws_rx_init(&rx, false, 100, f, sizeof f);
	uint8_t s[] = { 0x02, 60 }, c[] = { 0x00, 41 }, z[64] = { 0 };
	memcpy(z, s, 2);
	CHECK(ws_rx_next(&rx, z, 62, &m) == 62 && m.ev == WS_EV_MORE && rx.frag_op == WS_OP_BINARY);
	CHECK(ws_rx_next(&rx, c, 2, &m) != 0 && m.ev == WS_EV_ERROR && m.code == 1009);
	/* 60 + 40 is exactly the limit. */
	c[1] = 40;
	z[0] = 0x80, z[1] = 40;
	CHECK(ws_rx_next(&rx, z, 42, &m) == 42 && m.ev == WS_EV_BINARY && m.len == 100);
	CHECK(m.data == f && rx.frag_op == WS_OP_CONT);
	/* With no reassembly buffer, fragments over 0 bytes are too big. */
	ws_rx_init(&rx, false, 100, NULL, 0);
	z[0] = 0x02, z[1] = 1;
	CHECK(ws_rx_next(&rx, z, 3, &m) != 0 && m.ev == WS_EV_ERROR && m.code == 1009);
	z[0] = 0x82;
	CHECK(ws_rx_next(&rx, z, 3, &m) == 3 && m.ev == WS_EV_BINARY && m.len == 1);
}

/* Control frames may come between the fragments of a message (§5.4). */
static void frame_interleaved(void)
{
	struct rec w[4];

	w[0] = ev(WS_EV_PING, 0, "x", 1);
	w[1] = ev(WS_EV_PONG, 0, NULL, 0);
	w[2] = ev(WS_EV_BINARY, 0, "Hello", 5);
	w[3] = ev(WS_EV_BINARY, 0, "!", 1);
	expect(false, WS_MSG_MAX, B("\x02\x03Hel\x89\x01x\x00\x00\x8a\x00\x80\x02lo\x82\x01!"), w, 4);
	/* A close in the middle; stopping there is the caller's business. */
	w[0] = ev(WS_EV_CLOSE, 1001, "", 0);
	w[1] = ev(WS_EV_BINARY, 0, "Hello", 5);
	expect(false, WS_MSG_MAX, B("\x02\x03Hel\x88\x02\x03\xe9\x80\x02lo"), w, 2);
	/* The next fragmented message starts afresh. */
	w[0] = ev(WS_EV_BINARY, 0, "ab", 2);
	w[1] = ev(WS_EV_BINARY, 0, "cde", 3);
	expect(false, WS_MSG_MAX, B("\x02\x01" "a\x80\x01" "b\x02\x02" "cd\x00\x00\x80\x01" "e"), w, 2);
}

static void frame_close_codes(void)
{
	static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
	                               1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
	                                2999, 5000, 65535 };
	uint8_t f[WS_CTRL_MAX + 2];
	struct rec w;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		size_t n = ws_close_frame(f, (uint16_t)ok[i]);

		CHECK(n == 4);
		w = ev(WS_EV_CLOSE, ok[i], NULL, 0);
		expect(false, WS_MSG_MAX, f, n, &w, 1);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t b[4] = { 0x88, 2, (uint8_t)(bad[i] >> 8), (uint8_t)bad[i] };

		w = ev(WS_EV_ERROR, 1002, NULL, 0);
		expect(false, WS_MSG_MAX, b, 4, &w, 1);
	}
	/* The reason is handed over, and must be UTF-8 (§5.5.1, §8.1). */
	w = ev(WS_EV_CLOSE, 1000, "bye \xc3\xa9", 6);
	expect(false, WS_MSG_MAX, B("\x88\x08\x03\xe8" "bye \xc3\xa9"), &w, 1);
	w = ev(WS_EV_ERROR, 1007, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x88\x05\x03\xe8" "b\xc3\x28"), &w, 1);
	expect(false, WS_MSG_MAX, B("\x88\x05\x03\xe8\xed\xa0\x80"), &w, 1);
	expect(false, WS_MSG_MAX, B("\x88\x04\x03\xe8\xc0\xaf"), &w, 1);
	expect(false, WS_MSG_MAX, B("\x88\x03\x03\xe8\xf0"), &w, 1);
	/* 1005 and the like are never sent: an empty close instead. */
	CHECK(ws_close_frame(f, WS_CLOSE_NO_STATUS) == 2 && f[0] == 0x88 && f[1] == 0);
	CHECK(ws_close_frame(f, 1006) == 2);
	CHECK(ws_close_frame(f, 1000) == 4 && memcmp(f, "\x88\x02\x03\xe8", 4) == 0);
}

/*
 * Text on demand: whole or fragmented, UTF-8 checked over the whole message
 * (a character may straddle fragments), the same limit as binary; off, as
 * the gateway keeps it, any text frame is 1003.
 */
static void frame_text(void)
{
	struct rec w[4];

	text_mode = true;
	w[0] = ev(WS_EV_TEXT, 0, "Hello", 5);
	expect(false, WS_MSG_MAX, B("\x81\x05Hello"), w, 1);
	expect(true, WS_MSG_MAX, B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), w, 1);
	expect(false, WS_MSG_MAX, B("\x01\x03Hel\x80\x02lo"), w, 1);
	expect(false, WS_MSG_MAX, B("\x01\x01H\x00\x00\x00\x02" "el\x80\x02lo"), w, 1);
	w[0] = ev(WS_EV_TEXT, 0, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x81\x00"), w, 1);
	expect(false, WS_MSG_MAX, B("\x01\x00\x80\x00"), w, 1);
	/* A character split between fragments is whole in the message. */
	w[0] = ev(WS_EV_TEXT, 0, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
	expect(false, WS_MSG_MAX, B("\x01\x04" "caf\xc3\x00\x03" "\xa9 \xf0\x80\x03\x9f\x98\x80"), w, 1);
	/* Controls between the fragments; text and binary in turn. */
	w[0] = ev(WS_EV_PING, 0, "p", 1);
	w[1] = ev(WS_EV_TEXT, 0, "ab", 2);
	w[2] = ev(WS_EV_BINARY, 0, "cd", 2);
	w[3] = ev(WS_EV_TEXT, 0, "e", 1);
	expect(false, WS_MSG_MAX, B("\x01\x01" "a\x89\x01p\x80\x01" "b\x02\x01" "c\x80\x01" "d\x81\x01" "e"),
	       w, 4);
	/* Not UTF-8 (RFC 3629 §4): 1007, whole or fragmented. */
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_BAD_DATA, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x81\x02\xc3\x28"), w, 1);
	expect(false, WS_MSG_MAX, B("\x81\x01\xc3"), w, 1);            /* cut short */
	expect(false, WS_MSG_MAX, B("\x81\x02\xc0\xaf"), w, 1);        /* overlong '/' */
	expect(false, WS_MSG_MAX, B("\x81\x03\xe0\x80\xaf"), w, 1);
	expect(false, WS_MSG_MAX, B("\x81\x03\xed\xa0\x80"), w, 1);    /* surrogate */
	expect(false, WS_MSG_MAX, B("\x81\x04\xf4\x90\x80\x80"), w, 1); /* > U+10FFFF */
	expect(false, WS_MSG_MAX, B("\x81\x01\xff"), w, 1);
	expect(false, WS_MSG_MAX, B("\x81\x01\x80"), w, 1);
	expect(false, WS_MSG_MAX, B("\x01\x01\xc3\x80\x01\x28"), w, 1);
	expect(true, WS_MSG_MAX, B("\x01\x81\0\0\0\0\xc3\x80\x81\0\0\0\0\xc3"), w, 1);
	/* Binary is never checked. */
	w[0] = ev(WS_EV_BINARY, 0, "\xc3\x28", 2);
	expect(false, WS_MSG_MAX, B("\x82\x02\xc3\x28"), w, 1);
	/* Continuations: a new message inside one, or none open. */
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_PROTOCOL, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x01\x01" "a\x82\x01" "b"), w, 1);
	expect(false, WS_MSG_MAX, B("\x01\x01" "a\x81\x01" "b"), w, 1);
	expect(false, WS_MSG_MAX, B("\x02\x01" "a\x81\x01" "b"), w, 1);
	w[1] = w[0];
	w[0] = ev(WS_EV_TEXT, 0, "a", 1);
	expect(false, WS_MSG_MAX, B("\x81\x01" "a\x80\x01" "b"), w, 2);
	/* The limit: 10 is whole, 11 is 1009 from the header, 6 + 5 too. */
	w[0] = ev(WS_EV_TEXT, 0, "0123456789", 10);
	expect(false, 10, B("\x81\x0a" "0123456789"), w, 1);
	expect(false, 10, B("\x01\x06" "012345\x80\x04" "6789"), w, 1);
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_TOO_BIG, NULL, 0);
	expect(false, 10, B("\x81\x0b"), w, 1);
	expect(false, 10, B("\x01\x06" "012345\x80\x05"), w, 1);
	expect(false, WS_MSG_MAX, B("\x81\x7f\0\0\0\0\0\x01\0\0"), w, 1);
	text_mode = false;

	/* Off: every text frame is 1003, before its payload arrives. */
	w[0] = ev(WS_EV_ERROR, WS_CLOSE_UNSUPPORTED, NULL, 0);
	expect(false, WS_MSG_MAX, B("\x81\x05"), w, 1);
	expect(false, WS_MSG_MAX, B("\x01\x03Hel\x80\x02lo"), w, 1);
	expect(true, WS_MSG_MAX, B("\x81\x85"), w, 1);
	expect(false, WS_MSG_MAX, B("\x02\x01" "a\x81\x01" "b"), &(struct rec){ WS_EV_ERROR,
	       WS_CLOSE_PROTOCOL, 0, 0 }, 1);
}

/* Encoder and parser agree at every length encoding, masked or not. */
static void frame_encode_roundtrip(void)
{
	static const size_t lens[] = { 0, 1, 7, 8, 9, 125, 126, 127, 255, 256,
	                               65535, 65536, 70000 };
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t len = lens[i], h, hl = ws_hdr_len(len);
		struct ws_rx rx;
		struct ws_msg m;

		CHECK(hl == (len < 126 ? 2u : len < 65536 ? 4u : 10u));
		for (size_t j = 0; j < len; j++)
			src[WS_HDR_MAX + j] = (uint8_t)(j ^ (j >> 8));
		uint32_t sum = fnv(src + WS_HDR_MAX, len);

		/* Unmasked, as the server sends. */
		h = ws_hdr_put(src + WS_HDR_MAX - hl, WS_OP_BINARY, len);
		CHECK(h == hl);
		ws_rx_init(&rx, false, 70000, frag, sizeof frag);
		CHECK(ws_rx_next(&rx, src + WS_HDR_MAX - h, h + len, &m) == h + len);
		CHECK(m.ev == WS_EV_BINARY && m.len == len && m.data == src + WS_HDR_MAX);
		CHECK(fnv(m.data, m.len) == sum);
		CHECK(ws_rx_next(&rx, src + WS_HDR_MAX - h, h + len - 1, &m) == 0);

		/* Masked, as the client sends. */
		h = ws_hdr_put_masked(src + WS_HDR_MAX - hl - 4, WS_OP_BINARY, len, key,
		                      src + WS_HDR_MAX);
		CHECK(h == hl + 4);
		CHECK(len < 4 || fnv(src + WS_HDR_MAX, len) != sum);
		ws_rx_init(&rx, true, 70000, frag, sizeof frag);
		CHECK(ws_rx_next(&rx, src + WS_HDR_MAX - h, h + len, &m) == h + len);
		CHECK(m.ev == WS_EV_BINARY && m.len == len && fnv(m.data, m.len) == sum);
	}
	/* The byte layout of §5.2. */
	uint8_t b[WS_HDR_MAX];
	CHECK(ws_hdr_put(b, WS_OP_BINARY, 5) == 2 && memcmp(b, "\x82\x05", 2) == 0);
	CHECK(ws_hdr_put(b, WS_OP_BINARY, 256) == 4 && memcmp(b, "\x82\x7e\x01\x00", 4) == 0);
	CHECK(ws_hdr_put(b, WS_OP_BINARY, 65536) == 10 &&
	      memcmp(b, "\x82\x7f\0\0\0\0\0\x01\0\0", 10) == 0);
	uint8_t hello[] = "Hello";
	CHECK(ws_hdr_put_masked(b, WS_OP_TEXT, 5, key, hello) == 6);
	CHECK(memcmp(b, "\x81\x85\x37\xfa\x21\x3d", 6) == 0);
	CHECK(memcmp(hello, "\x7f\x9f\x4d\x51\x58", 5) == 0);
}

static void frame_mask_and_ctrl(void)
{
	static const uint8_t key[4] = { 1, 2, 4, 128 };
	uint8_t a[100], b[100], f[WS_CTRL_MAX + 2], p[WS_CTRL_MAX + 1];
	struct ws_rx rx;
	struct ws_msg m;

	/* The fast mask against the definition, at every length and offset. */
	for (size_t len = 0; len <= 40; len++) {
		for (size_t off = 0; off < 8; off++) {
			for (size_t i = 0; i < len; i++)
				a[off + i] = b[off + i] = (uint8_t)(i * 13 + off);
			ws_mask(a + off, len, key);
			for (size_t i = 0; i < len; i++)
				CHECK(a[off + i] == (b[off + i] ^ key[i % 4]));
			ws_mask(a + off, len, key);
			CHECK(memcmp(a + off, b + off, len) == 0);
		}
	}

	memset(p, 'p', sizeof p);
	CHECK(ws_ctrl_frame(f, WS_OP_PONG, p, WS_CTRL_MAX) == WS_CTRL_MAX + 2);
	CHECK(f[0] == 0x8a && f[1] == WS_CTRL_MAX);
	ws_rx_init(&rx, false, WS_MSG_MAX, NULL, 0);
	CHECK(ws_rx_next(&rx, f, WS_CTRL_MAX + 2, &m) == WS_CTRL_MAX + 2);
	CHECK(m.ev == WS_EV_PONG && m.len == WS_CTRL_MAX && m.data == f + 2);
	CHECK(ws_ctrl_frame(f, WS_OP_PING, p, WS_CTRL_MAX + 1) == 0);
	CHECK(ws_ctrl_frame(f, WS_OP_PING, NULL, 0) == 2 && memcmp(f, "\x89\x00", 2) == 0);
	CHECK(ws_ctrl_frame(f, WS_OP_CLOSE, (const uint8_t *)"\x03\xe8", 2) == 4);
	CHECK(ws_rx_next(&rx, f, 4, &m) == 4 && m.ev == WS_EV_CLOSE && m.code == 1000);
}

const struct unit_case unit_ws[] = {
	{ "ws_url_good", url_good },
	{ "ws_url_bad", url_bad },
	{ "ws_req_rfc_example", req_rfc_example },
	{ "ws_req_case_insensitive", req_case_insensitive },
	{ "ws_req_status_codes", req_status_codes },
	{ "ws_req_malformed", req_malformed },
	{ "ws_req_too_large", req_too_large },
	{ "ws_req_query_auth", req_query_auth },
	{ "ws_req_xff_lines", req_xff_lines },
	{ "ws_xff_walk", xff_walk },
	{ "ws_req_used_trailing", req_used_trailing },
	{ "ws_resp_parse_101", resp_parse_101 },
	{ "ws_resp_errors", resp_errors },
	{ "ws_handshake_roundtrip", handshake_roundtrip },
	{ "ws_frame_rfc_examples", frame_rfc_examples },
	{ "ws_frame_errors", frame_errors },
	{ "ws_frame_too_big_early", frame_too_big_early },
	{ "ws_frame_interleaved", frame_interleaved },
	{ "ws_frame_close_codes", frame_close_codes },
	{ "ws_frame_text", frame_text },
	{ "ws_frame_encode_roundtrip", frame_encode_roundtrip },
	{ "ws_frame_mask_and_ctrl", frame_mask_and_ctrl },
	{ NULL, NULL },
};
