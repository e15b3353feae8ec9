/* SPDX-License-Identifier: MIT */
/*
 * ws.c: the WebSocket protocol (RFC 6455) as an engine over bytes, in the
 * manner of BearSSL's: the caller reads and writes the socket (plain or TLS)
 * and feeds what arrived; this file parses the HTTP/1.1 upgrade head, builds
 * the responses, and parses and builds frames. It also reads the ws:// and
 * wss:// URIs the client is given. No syscalls, no allocation: every buffer
 * is the caller's. Authentication, slots, timeouts and name resolution are
 * the caller's business; this file only reports what the peer sent.
 */
#include <string.h>

#include "base64.h"
#include "bytes.h"
#include "nat.h"
#include "out.h"
#include "sha1.h"
#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ==== Character helpers ==== */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* s[0..len) equals the NUL-terminated lit, ignoring ASCII case. */
static bool eqi(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return false;
	return true;
}

static bool eq(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && (len == 0 || memcmp(s, lit, len) == 0);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* tchar of RFC 7230 §3.2.6. */
static bool is_tchar(char ch)
{
	unsigned char c = (unsigned char)ch;

	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB (§3.2): no other control character in a value. */
static bool is_vchar(char ch)
{
	unsigned char c = (unsigned char)ch;

	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static struct ws_str trim(const char *p, size_t len)
{
	while (len && is_ows(p[0]))
		p++, len--;
	while (len && is_ows(p[len - 1]))
		len--;
	return (struct ws_str){ p, len };
}

/*
 * The next element of the comma-separated list v (RFC 7230 §7) from *i,
 * trimmed (empty elements are allowed: e.len is then 0). Returns false
 * when the list is done.
 */
static bool list_next(struct ws_str v, size_t *i, struct ws_str *e)
{
	size_t j = *i;

	if (*i > v.len)
		return false;
	while (j < v.len && v.p[j] != ',')
		j++;
	*e = trim(v.p + *i, j - *i);
	*i = j + 1;
	return true;
}

/* Whether the list v holds want: ignoring ASCII case when ci, else exactly. */
static bool list_has(struct ws_str v, const char *want, bool ci)
{
	struct ws_str e;
	size_t i = 0;

	while (list_next(v, &i, &e))
		if (ci ? eqi(e.p, e.len, want) : eq(e.p, e.len, want))
			return true;
	return false;
}

/* ==== WebSocket URIs (§3) ==== */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * A decimal in p[*i..len) of at most digits digits, no leading zero, up to
 * max. Advances *i past it.
 */
static bool decimal(const char *p, size_t len, size_t *i, size_t digits,
                    unsigned long max, unsigned long *v)
{
	size_t start = *i;

	*v = 0;
	while (*i < len && is_digit(p[*i])) {
		if (*i - start == digits || (*i > start && p[start] == '0'))
			return false;
		*v = *v * 10 + (unsigned long)(p[*i] - '0');
		(*i)++;
	}
	return *i > start && *v <= max;
}

/* A dotted quad and nothing else (RFC 3986 §3.2.2 IPv4address). */
static bool ip4_ok(const char *p, size_t len)
{
	size_t i = 0;
	unsigned long v;

	for (int k = 0; k < 4; k++) {
		if (k > 0 && (i == len || p[i++] != '.'))
			return false;
		if (!decimal(p, len, &i, 3, 255, &v))
			return false;
	}
	return i == len;
}

/*
 * The text form of RFC 4291 §2.2: eight groups of 1 to 4 hex digits, one
 * "::" standing for one or more zero groups, the last two groups possibly
 * written as a dotted quad. No zone identifier.
 */
static bool ip6_ok(const char *p, size_t len)
{
	size_t i = 0, groups = 0;
	bool gap = false;

	if (len >= 2 && p[0] == ':' && p[1] == ':') {
		gap = true;
		i = 2;
	}
	while (i < len) {
		size_t j = i;

		while (j < len && j - i < 5 && is_hex(p[j]))
			j++;
		if (j < len && p[j] == '.') {
			if (!ip4_ok(p + i, len - i))
				return false;
			groups += 2;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		groups++;
		i = j;
		if (i == len)
			break;
		if (p[i] != ':' || ++i == len)
			return false;
		if (p[i] == ':') {
			if (gap)
				return false;
			gap = true;
			i++;
		}
	}
	return gap ? groups <= 7 : groups == 8;
}

/*
 * A registered name: dot-separated labels of letters, digits, '-' and '_',
 * none empty, with an optional final dot. One whose last label starts with
 * a digit claims to be an IPv4 address, and resolvers read "127.1" or
 * "0x7f.1" as one: it must be a dotted quad.
 */
static const char *name_check(const char *p, size_t len)
{
	size_t i = 0, last = 0, end = len;

	if (len && p[len - 1] == '.')
		end--;
	while (i < end) {
		size_t j = i;

		while (j < end && (is_alnum(p[j]) || p[j] == '-' || p[j] == '_'))
			j++;
		if (j < end && p[j] != '.')
			return "bad character in the host";
		if (j == i)
			return "empty label in the host name";
		last = i;
		i = j + 1;
	}
	if (end == 0)
		return "missing host";
	if (p[end - 1] == '.')
		return "empty label in the host name";
	if (is_digit(p[last]) && !ip4_ok(p, len))
		return "a numeric host must be a dotted-quad IPv4 address";
	return NULL;
}

/* pchar, '/' and '?' of RFC 3986 §3.3-3.4, but '%', checked apart. */
static bool is_path_char(char c)
{
	return is_alnum(c) || (c != 0 && strchr("-._~!$&'()*+,;=:@/?", c));
}

const char *ws_url_parse(struct ws_url *u, const char *s, size_t len)
{
	size_t i, a, ae, h, he;
	const char *why;

	memset(u, 0, sizeof *u);

	/* What no ws-URI holds anywhere: no fragment either (§3). */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '#' || c == '\\')
			return "spaces, control characters, non-ASCII bytes, '#' and '\\' "
			       "are not allowed";
	}

	/* The scheme, in any case (RFC 3986 §3.1). */
	if (len >= 5 && eqi(s, 5, "ws://")) {
		a = 5;
	} else if (len >= 6 && eqi(s, 6, "wss://")) {
		u->tls = true;
		a = 6;
	} else {
		return "expected ws://HOST[:PORT]/PATH or wss://...";
	}

	/* The authority runs to the path or the query. */
	for (ae = a; ae < len && s[ae] != '/' && s[ae] != '?'; ae++)
		if (s[ae] == '@')
			return "user information (user@) in the URL is not supported";

	/* The host: an [IPv6] literal, or a name or IPv4 address up to ':'. */
	if (a < ae && s[a] == '[') {
		h = a + 1;
		for (he = h; he < ae && s[he] != ']'; he++)
			;
		if (he == ae)
			return "unterminated '[' in the host";
		if (!ip6_ok(s + h, he - h))
			return "bad IPv6 address in the host";
		i = he + 1;
	} else {
		h = a;
		for (he = h; he < ae && s[he] != ':'; he++)
			;
		why = name_check(s + h, he - h);
		if (why)
			return why;
		i = he;
	}
	if (he - h > WS_URL_HOST_MAX)
		return "host too long";

	/* The port: the scheme's unless given. */
	u->port = u->tls ? 443 : 80;
	if (i < ae) {
		unsigned long port;

		if (s[i] != ':')
			return "bad character after the host";
		i++;
		if (!decimal(s, ae, &i, 5, 65535, &port) || port == 0 || i != ae)
			return "bad port: expected 1 to 65535";
		u->port = (uint16_t)port;
	}

	/* The path and query, each percent-escape whole. */
	for (i = ae; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
				return "bad percent-escape in the path";
			i += 2;
		} else if (!is_path_char(s[i])) {
			return "a character of the path must be percent-encoded";
		}
	}
	size_t slash = ae == len || s[ae] == '?';
	if (len - ae + slash > WS_URL_PATH_MAX)
		return "path too long";

	memcpy(u->host, s + h, he - h);
	memcpy(u->hosthdr, s + a, ae - a);
	u->path[0] = '/';
	memcpy(u->path + slash, s + ae, len - ae);
	return NULL;
}

/* ==== The HTTP head: accumulating it, and splitting it into lines ==== */

/*
 * Copies in into buf (cap WS_REQ_MAX) and looks for the end of the head: a
 * blank line, "\r\n\r\n" or a bare "\n\n" (RFC 7230 §3.5). On finding it,
 * trims *blen to the head, sets *used to what of in the head took, and
 * returns WS_REQ_DONE. Otherwise WS_REQ_MORE, or 431 once buf is full.
 */
static int head_feed(char *buf, size_t *blen, size_t *scan,
                     const uint8_t *in, size_t len, size_t *used)
{
	size_t old = *blen, room = WS_REQ_MAX - old;
	size_t n = len < room ? len : room;

	memcpy(buf + old, in, n);
	*blen = old + n;
	for (size_t i = *scan; i < *blen; i++) {
		if (buf[i] != '\n' || i == 0)
			continue;
		if (buf[i - 1] == '\n' ||
		    (buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n')) {
			*blen = *scan = i + 1;
			*used = i + 1 - old;
			return WS_REQ_DONE;
		}
	}
	*scan = *blen;
	*used = n;
	return n < len || *blen == WS_REQ_MAX ? 431 : WS_REQ_MORE;
}

/* A cursor over the lines of a complete head. */
struct lines {
	const char *p;
	size_t len, off;
};

/*
 * The next line, without its "\n" or "\r\n", in *l. Returns false at the
 * blank line that ends the head. A bare CR inside a line is left in it and
 * refused by the callers' character checks.
 */
static bool next_line(struct lines *c, struct ws_str *l)
{
	size_t s = c->off, e = s;

	while (e < c->len && c->p[e] != '\n')
		e++;
	c->off = e < c->len ? e + 1 : e;
	if (e > s && c->p[e - 1] == '\r')
		e--;
	*l = (struct ws_str){ c->p + s, e - s };
	return e > s;
}

/*
 * Splits a header line into a trimmed name and value (RFC 7230 §3.2). Returns
 * false for obs-fold (a line starting with whitespace), a missing colon, an
 * empty or invalid name, whitespace before the colon, or a control character.
 */
static bool split_header(struct ws_str l, struct ws_str *name, struct ws_str *val)
{
	size_t i = 0;

	while (i < l.len && is_tchar(l.p[i]))
		i++;
	if (i == 0 || i == l.len || l.p[i] != ':')
		return false;
	*name = (struct ws_str){ l.p, i };
	for (size_t j = i + 1; j < l.len; j++)
		if (!is_vchar(l.p[j]))
			return false;
	*val = trim(l.p + i + 1, l.len - i - 1);
	return true;
}

/* "HTTP/1.x" with x a single digit (RFC 7230 §2.6); 2.0 and 0.9 are not ours. */
static bool is_http1(const char *p, size_t len)
{
	return len == 8 && memcmp(p, "HTTP/1.", 7) == 0 && p[7] >= '0' && p[7] <= '9';
}

/* Sec-WebSocket-Version (§4.1): 0..255 without leading zeros, else -1. */
static int parse_version(struct ws_str v)
{
	int n = 0;

	if (v.len == 0 || v.len > 3 || (v.len > 1 && v.p[0] == '0'))
		return -1;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (v.p[i] - '0');
	}
	return n <= 255 ? n : -1;
}

/* ==== The upgrade request (server side, §4.2.1) ==== */

void ws_req_init(struct ws_req *r)
{
	memset(r, 0, sizeof *r);
	r->version = -1;
}

/* The first "name=" parameter of the query q, raw, up to '&' or the end. */
static struct ws_str query_param(struct ws_str q, const char *name)
{
	size_t n = strlen(name), i = 0;

	while (i < q.len) {
		size_t j = i;

		while (j < q.len && q.p[j] != '&')
			j++;
		if (j - i > n && memcmp(q.p + i, name, n) == 0 && q.p[i + n] == '=')
			return (struct ws_str){ q.p + i + n + 1, j - i - n - 1 };
		i = j + 1;
	}
	return (struct ws_str){ NULL, 0 };
}

/* "GET /target HTTP/1.1": method, target and version, one SP apart (§3.1.1). */
static bool parse_request_line(struct ws_req *r, struct ws_str l)
{
	size_t m = 0, t, v;

	while (m < l.len && is_tchar(l.p[m]))
		m++;
	if (m == 0 || m == l.len || l.p[m] != ' ')
		return false;
	for (t = m + 1; t < l.len && l.p[t] != ' '; t++)
		if (!is_vchar(l.p[t]) || l.p[t] == '\t')
			return false;
	if (t == m + 1 || t == l.len)
		return false;
	v = t + 1;
	if (!is_http1(l.p + v, l.len - v))
		return false;

	r->is_get = eq(l.p, m, "GET");
	r->target = (struct ws_str){ l.p + m + 1, t - m - 1 };

	/* The path ends at '?' (or '#', which a client should never send). */
	struct ws_str q = { NULL, 0 };
	size_t i = 0;
	while (i < r->target.len && r->target.p[i] != '?' && r->target.p[i] != '#')
		i++;
	r->path = (struct ws_str){ r->target.p, i };
	if (i < r->target.len && r->target.p[i] == '?') {
		size_t e = ++i;

		while (e < r->target.len && r->target.p[e] != '#')
			e++;
		q = (struct ws_str){ r->target.p + i, e - i };
	}
	r->qtoken = query_param(q, "token");
	r->session = query_param(q, "session");
	return true;
}

/*
 * One header into r. Returns false for a header that makes the request
 * malformed: a second Host, Sec-WebSocket-Key or Authorization, which could
 * mean different things to a proxy and to us. Lists (Upgrade, Connection,
 * Sec-WebSocket-Protocol) may be split over several lines (RFC 7230 §3.2.2).
 * X-Forwarded-For keeps its last WS_XFF_LINES lines: the nearest proxies
 * add theirs last, and the walk (ws_xff_client) starts there. Earlier lines
 * are the farthest hops, which a client can forge anyway.
 */
static bool req_header(struct ws_req *r, struct ws_str n, struct ws_str v,
                       unsigned *seen)
{
	enum { HOST = 1, KEY = 2, AUTH = 4, VERSION = 8 };

	if (eqi(n.p, n.len, "Host")) {
		if (*seen & HOST)
			return false;
		*seen |= HOST;
		r->host = v;
	} else if (eqi(n.p, n.len, "Upgrade")) {
		r->upgrade_ws |= list_has(v, "websocket", true);
	} else if (eqi(n.p, n.len, "Connection")) {
		r->conn_upgrade |= list_has(v, "upgrade", true);
	} else if (eqi(n.p, n.len, "Sec-WebSocket-Key")) {
		if (*seen & KEY)
			return false;
		*seen |= KEY;
		r->key = v;
	} else if (eqi(n.p, n.len, "Sec-WebSocket-Version")) {
		/* Two versions from a client are as good as none. */
		r->version = *seen & VERSION ? -1 : parse_version(v);
		*seen |= VERSION;
	} else if (eqi(n.p, n.len, "Sec-WebSocket-Protocol")) {
		r->proto_v1 |= list_has(v, WS_PROTO_V1, false);
	} else if (eqi(n.p, n.len, "Sec-WebSocket-Extensions")) {
		r->ext_gso |= list_has(v, WS_EXT_GSO, false);
	} else if (eqi(n.p, n.len, "Authorization")) {
		if (*seen & AUTH)
			return false;
		*seen |= AUTH;
		/* "Bearer" 1*SP token (RFC 6750 §2.1); other schemes are ignored. */
		if (v.len > 7 && eqi(v.p, 6, "Bearer") && v.p[6] == ' ')
			r->bearer = trim(v.p + 7, v.len - 7);
	} else if (eqi(n.p, n.len, "X-Forwarded-For")) {
		if (r->xff_n == WS_XFF_LINES) {
			memmove(r->xff, r->xff + 1, sizeof r->xff - sizeof r->xff[0]);
			r->xff_n--;
		}
		r->xff[r->xff_n++] = v;
	}
	return true;
}

/*
 * Once it returned anything but WS_REQ_MORE, r is finished: feeding it again
 * is the caller's error (ws_req_init starts over). r->len is then the length
 * of the head alone.
 */
int ws_req_feed(struct ws_req *r, const uint8_t *in, size_t len, size_t *used)
{
	int rc = head_feed(r->buf, &r->len, &r->scan, in, len, used);
	struct lines c = { r->buf, r->len, 0 };
	struct ws_str l, n, v;
	unsigned seen = 0;

	if (rc != WS_REQ_DONE)
		return rc;

	/* The head is whole: the request line, then one header a line. */
	if (!next_line(&c, &l) || !parse_request_line(r, l))
		return 400;
	while (next_line(&c, &l))
		if (!split_header(l, &n, &v) || !req_header(r, n, v, &seen))
			return 400;
	return WS_REQ_DONE;
}

/* One entry of the list, already trimmed: a bare IPv4 address, no prefix. */
static bool xff_entry(struct ws_str e, uint32_t *a)
{
	unsigned prefix;

	return !memchr(e.p, '/', e.len) && nat_prefix_parse(e.p, e.len, a, &prefix) == 0;
}

bool ws_xff_client(const struct ws_str *lines, size_t n_lines, const struct nat_cidr *trusted,
                   size_t n_trusted, uint32_t *client)
{
	bool found = false;

	for (size_t i = n_lines; i-- > 0;) {
		const char *p = lines[i].p;
		size_t end = lines[i].len;

		/* Entries from the right: [start, end) lies between two commas. */
		while (end > 0) {
			size_t start = end;
			uint32_t a;

			while (start > 0 && p[start - 1] != ',')
				start--;
			struct ws_str e = trim(p + start, end - start);
			if (e.len) {
				if (!xff_entry(e, &a))
					return found;
				*client = a;
				found = true;
				if (!nat_cidr_match(trusted, n_trusted, a))
					return true;
			}
			end = start ? start - 1 : 0;
		}
	}
	return found;
}

/* Sec-WebSocket-Key must be base64 of exactly 16 bytes (§4.1 item 7). */
static bool key_ok(struct ws_str key)
{
	uint8_t raw[18];

	return key.len == WS_KEY_LEN &&
	       base64_decode(raw, sizeof raw, key.p, key.len) == 16;
}

/*
 * The checks run in this order, each one only if the previous ones passed:
 * not GET 400; no "Upgrade: websocket" 426 (a plain GET, answered at once);
 * no "Connection: upgrade" 400; wrong path 404 (the resource is missing
 * whatever the version); version not 13 426 (before the key, whose form
 * another version may define differently, §4.4); bad key 400. A missing
 * Host is tolerated.
 */
int ws_req_status(const struct ws_req *r, const char *want_path)
{
	if (!r->is_get)
		return 400;
	if (!r->upgrade_ws)
		return 426;
	if (!r->conn_upgrade)
		return 400;
	if (want_path && !eq(r->path.p, r->path.len, want_path))
		return 404;
	if (r->version != 13)
		return 426;
	if (!key_ok(r->key))
		return 400;
	return 101;
}

void ws_accept_key(char out[static WS_ACCEPT_LEN + 1], const char *key, size_t key_len)
{
	struct sha1 c;
	uint8_t h[SHA1_LEN];

	sha1_init(&c);
	sha1_update(&c, key, key_len);
	sha1_update(&c, WS_GUID, sizeof WS_GUID - 1);
	sha1_final(&c, h);
	base64_encode(out, h, sizeof h);
}

/* ==== Building responses and requests ==== */

/* A value we write into a header line: no CR, LF or other control. */
static bool safe(const char *s)
{
	for (; *s; s++)
		if (!is_vchar(*s) || *s == '\t')
			return false;
	return true;
}

size_t ws_resp_101(char *out, size_t cap, const char *key, size_t key_len, const char *proto,
		   const char *ext)
{
	struct out o = { out, cap, 0, false };
	char acc[WS_ACCEPT_LEN + 1];

	if ((proto && !safe(proto)) || (ext && !safe(ext)))
		return 0;
	ws_accept_key(acc, key, key_len);
	out_str(&o, "HTTP/1.1 101 Switching Protocols\r\n"
	            "Upgrade: websocket\r\n"
	            "Connection: Upgrade\r\n"
	            "Sec-WebSocket-Accept: ");
	out_str(&o, acc);
	if (proto) {
		out_str(&o, "\r\nSec-WebSocket-Protocol: ");
		out_str(&o, proto);
	}
	if (ext) {
		out_str(&o, "\r\nSec-WebSocket-Extensions: ");
		out_str(&o, ext);
	}
	out_str(&o, "\r\n\r\n");
	return out_done(&o);
}

static const char *reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 500: return "Internal Server Error";
	default: return NULL;
	}
}

size_t ws_resp_error(char *out, size_t cap, int status, const char *body)
{
	struct out o = { out, cap, 0, false };
	const char *why;

	/* A status we have no words for is our own fault: 500. */
	why = reason(status);
	if (!why) {
		status = 500;
		why = reason(status);
	}

	/* Status line; 426 names the protocol and version it wants (§4.4). */
	out_str(&o, "HTTP/1.1 ");
	out_uint(&o, (unsigned long)status);
	out_str(&o, " ");
	out_str(&o, why);
	out_str(&o, "\r\n");
	if (status == 426)
		out_str(&o, "Upgrade: websocket\r\n"
		            "Connection: Upgrade, close\r\n"
		            "Sec-WebSocket-Version: 13\r\n");
	else
		out_str(&o, "Connection: close\r\n");
	if (status == 401)
		out_str(&o, "WWW-Authenticate: Bearer\r\n");
	if (!body || !safe(body))
		body = why;
	out_str(&o, "Content-Type: text/plain\r\nContent-Length: ");
	out_uint(&o, (unsigned long)strlen(body) + 1);
	out_str(&o, "\r\n\r\n");
	out_str(&o, body);
	out_str(&o, "\n");
	return out_done(&o);
}

/* ==== The client side of the handshake (§4.1) ==== */

size_t ws_client_request(char *out, size_t cap, const char *host, const char *path,
                         const char *key, const char *proto, const char *extra_headers)
{
	struct out o = { out, cap, 0, false };

	/* Refuse what would split a line or the request line. */
	if (!safe(host) || !safe(path) || !safe(key) || (proto && !safe(proto)) ||
	    strchr(path, ' ') || path[0] == '\0')
		return 0;
	out_str(&o, "GET ");
	out_str(&o, path);
	out_str(&o, " HTTP/1.1\r\nHost: ");
	out_str(&o, host);
	out_str(&o, "\r\nUpgrade: websocket\r\n"
	            "Connection: Upgrade\r\n"
	            "Sec-WebSocket-Key: ");
	out_str(&o, key);
	out_str(&o, "\r\nSec-WebSocket-Version: 13\r\n");
	if (proto) {
		out_str(&o, "Sec-WebSocket-Protocol: ");
		out_str(&o, proto);
		out_str(&o, "\r\n");
	}
	if (extra_headers)
		out_str(&o, extra_headers);
	out_str(&o, "\r\n");
	return out_done(&o);
}

void ws_resp_init(struct ws_resp *r)
{
	memset(r, 0, sizeof *r);
}

/* "HTTP/1.1 101 Switching Protocols"; the reason may be empty or missing. */
static bool parse_status_line(struct ws_resp *r, struct ws_str l)
{
	if (l.len < 12 || !is_http1(l.p, 8) || l.p[8] != ' ')
		return false;
	if (l.len > 12 && l.p[12] != ' ')
		return false;
	r->status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (l.p[i] < '0' || l.p[i] > '9')
			return false;
		r->status = r->status * 10 + (l.p[i] - '0');
	}
	for (size_t i = 13; i < l.len; i++)
		if (!is_vchar(l.p[i]))
			return false;
	return r->status >= 100;
}

/* The extensions a server accepted: ours, and whether any other. */
static void ext_list(struct ws_resp *r, struct ws_str v)
{
	struct ws_str e;
	size_t i = 0;

	while (list_next(v, &i, &e))
		if (eq(e.p, e.len, WS_EXT_GSO))
			r->ext_gso = true;
		else if (e.len)
			r->ext_other = true;
}

int ws_resp_feed(struct ws_resp *r, const uint8_t *in, size_t len, size_t *used)
{
	int rc = head_feed(r->buf, &r->len, &r->scan, in, len, used);
	struct lines c = { r->buf, r->len, 0 };
	struct ws_str l, n, v;

	if (rc != WS_REQ_DONE)
		return rc;

	if (!next_line(&c, &l) || !parse_status_line(r, l))
		return 400;
	while (next_line(&c, &l)) {
		if (!split_header(l, &n, &v))
			return 400;
		if (eqi(n.p, n.len, "Upgrade"))
			r->upgrade_ws |= list_has(v, "websocket", true);
		else if (eqi(n.p, n.len, "Connection"))
			r->conn_upgrade |= list_has(v, "upgrade", true);
		else if (eqi(n.p, n.len, "Sec-WebSocket-Accept"))
			r->accept = v;
		else if (eqi(n.p, n.len, "Sec-WebSocket-Protocol"))
			r->proto = v;
		else if (eqi(n.p, n.len, "Sec-WebSocket-Extensions"))
			ext_list(r, v);
	}
	return WS_REQ_DONE;
}

/* ==== Frames (§5) ==== */

void ws_rx_init(struct ws_rx *rx, bool masked, size_t max, uint8_t *frag, size_t frag_cap)
{
	memset(rx, 0, sizeof *rx);
	rx->masked = masked;
	rx->frag_op = WS_OP_CONT;
	rx->max = max;
	rx->frag = frag;
	rx->frag_cap = frag ? frag_cap : 0;
}

void ws_mask(uint8_t *buf, size_t len, const uint8_t mask[static 4])
{
	typedef uint64_t v128 __attribute__((vector_size(16)));
	uint8_t m16[16];
	v128 m, v;
	size_t i = 0;

	/* Sixteen bytes at a time (one SIMD register where there is one),
	 * four at once; 16 is a multiple of 4, so the phase holds. */
	for (int k = 0; k < 16; k += 4)
		memcpy(m16 + k, mask, 4);
	memcpy(&m, m16, 16);
	for (; len - i >= 64; i += 64) {
		v128 w[4];

		memcpy(w, buf + i, 64);
		w[0] ^= m;
		w[1] ^= m;
		w[2] ^= m;
		w[3] ^= m;
		memcpy(buf + i, w, 64);
	}
	for (; len - i >= 16; i += 16) {
		memcpy(&v, buf + i, 16);
		v ^= m;
		memcpy(buf + i, &v, 16);
	}
	for (; i < len; i++)
		buf[i] ^= mask[i & 3];
}

/* Close codes a peer may send (§7.4.1, §7.4.2; 1012-1014 registered since). */
static bool close_code_ok(unsigned code)
{
	if (code < 1000 || code >= 5000)
		return false;
	if (code >= 3000)
		return true;
	return code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* Well-formed UTF-8 (RFC 3629 §4): no overlongs, surrogates or > U+10FFFF. */
static bool utf8_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			uint8_t b = s[i + k];

			if (b < lo || b > hi)
				return false;
			lo = 0x80, hi = 0xbf;
		}
		i += n + 1;
	}
	return true;
}

/* Sets m to an error and returns n, which is non-zero: the stream is dead. */
static size_t fail(struct ws_msg *m, uint16_t code, size_t n)
{
	m->ev = WS_EV_ERROR;
	m->code = code;
	return n;
}

/*
 * A whole data message of opcode op in p[0..len), which took n bytes of the
 * stream: text must be UTF-8 (§8.1), checked once it is all here.
 */
static size_t deliver(struct ws_msg *m, unsigned op, uint8_t *p, size_t len, size_t n)
{
	if (op == WS_OP_TEXT && !utf8_ok(p, len))
		return fail(m, WS_CLOSE_BAD_DATA, n);
	m->ev = op == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
	m->data = p;
	m->len = len;
	return n;
}

/*
 * Beyond ws.h: on WS_EV_ERROR the return is non-zero (the bytes inspected),
 * so a caller that stops at 0 still sees the error; nothing after it in buf
 * means anything. A close without a status code is reported as WS_EV_CLOSE
 * with WS_CLOSE_NO_STATUS (1005), which must never be sent: the caller
 * answers with ws_close_frame(out, 1005), an empty close. A close's reason,
 * if any, is in data/len, and checked to be UTF-8 (1007 if not, §8.1).
 */
size_t ws_rx_next(struct ws_rx *rx, uint8_t *buf, size_t len, struct ws_msg *m)
{
	size_t h = 2, ext, limit, total;
	uint64_t plen;
	bool fin, masked, ctrl, data;
	unsigned op;

	*m = (struct ws_msg){ .ev = WS_EV_MORE };
	if (len < 2)
		return 0;

	/* The first two bytes: everything but the length can be judged now. */
	fin = buf[0] & 0x80;
	op = buf[0] & 0x0f;
	masked = buf[1] & 0x80;
	plen = buf[1] & 0x7f;
	ctrl = op & 0x8;
	data = op == WS_OP_TEXT || op == WS_OP_BINARY;
	if (buf[0] & 0x70)
		return fail(m, WS_CLOSE_PROTOCOL, 2);
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY &&
	    op != WS_OP_CLOSE && op != WS_OP_PING && op != WS_OP_PONG)
		return fail(m, WS_CLOSE_PROTOCOL, 2);
	if (masked != rx->masked)
		return fail(m, WS_CLOSE_PROTOCOL, 2);
	if (ctrl && (!fin || plen > WS_CTRL_MAX))
		return fail(m, WS_CLOSE_PROTOCOL, 2);
	if (op == WS_OP_CONT && rx->frag_op == WS_OP_CONT)
		return fail(m, WS_CLOSE_PROTOCOL, 2);
	if (data && rx->frag_op != WS_OP_CONT)
		return fail(m, WS_CLOSE_PROTOCOL, 2);
	if (op == WS_OP_TEXT && !rx->text)
		return fail(m, WS_CLOSE_UNSUPPORTED, 2);

	/* The extended length (§5.2): once it is here, the limit applies. */
	ext = plen == 126 ? 2 : plen == 127 ? 8 : 0;
	if (len - h < ext)
		return 0;
	if (ext == 2)
		plen = get16(buf + h);
	else if (ext == 8)
		plen = get64(buf + h);
	h += ext;
	if (plen >> 63)
		return fail(m, WS_CLOSE_PROTOCOL, h);

	/*
	 * A whole data message points into buf and only needs rx->max; the
	 * pieces of a fragmented one are copied, so frag_cap bounds them too.
	 */
	limit = rx->max;
	if (op == WS_OP_CONT || (data && !fin)) {
		if (limit > rx->frag_cap)
			limit = rx->frag_cap;
		if (data)
			rx->frag_len = 0;
		if (rx->frag_len > limit)
			return fail(m, WS_CLOSE_TOO_BIG, h);
		limit -= rx->frag_len;
	}
	if (!ctrl && plen > limit)
		return fail(m, WS_CLOSE_TOO_BIG, h);

	/* The mask key and the payload; plen now fits a size_t. */
	if (masked)
		h += 4;
	if (len < h || len - h < plen)
		return 0;
	total = h + (size_t)plen;
	uint8_t *p = buf + h;
	if (masked)
		ws_mask(p, (size_t)plen, buf + h - 4);

	switch (op) {
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (fin)
			return deliver(m, op, p, (size_t)plen, total);
		rx->frag_op = (enum ws_op)op;
		/* fallthrough */
	case WS_OP_CONT:
		if (plen)
			memcpy(rx->frag + rx->frag_len, p, (size_t)plen);
		rx->frag_len += (size_t)plen;
		if (!fin)
			return total;
		op = rx->frag_op;
		rx->frag_op = WS_OP_CONT;
		return deliver(m, op, rx->frag, rx->frag_len, total);
	case WS_OP_PING:
	case WS_OP_PONG:
		m->ev = op == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
		m->data = p;
		m->len = (size_t)plen;
		return total;
	default: /* WS_OP_CLOSE (§5.5.1) */
		if (plen == 0) {
			m->ev = WS_EV_CLOSE;
			m->code = WS_CLOSE_NO_STATUS;
			return total;
		}
		if (plen == 1 || !close_code_ok(get16(p)))
			return fail(m, WS_CLOSE_PROTOCOL, total);
		if (!utf8_ok(p + 2, (size_t)plen - 2))
			return fail(m, WS_CLOSE_BAD_DATA, total);
		m->ev = WS_EV_CLOSE;
		m->code = get16(p);
		m->data = p + 2;
		m->len = (size_t)plen - 2;
		return total;
	}
}

/* ==== Building frames (§5.2) ==== */

size_t ws_hdr_len(size_t len)
{
	return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}

/* The header without a mask key; bit 7 of the second byte set if masked. */
static size_t hdr(uint8_t *dst, enum ws_op op, size_t len, uint8_t mask_bit)
{
	dst[0] = (uint8_t)(0x80 | op);
	if (len < 126) {
		dst[1] = (uint8_t)(mask_bit | len);
		return 2;
	}
	if (len <= 0xffff) {
		dst[1] = mask_bit | 126;
		put16(dst + 2, (uint16_t)len);
		return 4;
	}
	dst[1] = mask_bit | 127;
	put64(dst + 2, (uint64_t)len);
	return 10;
}

size_t ws_hdr_put(uint8_t *dst, enum ws_op op, size_t len)
{
	return hdr(dst, op, len, 0);
}

size_t ws_hdr_put_masked(uint8_t *dst, enum ws_op op, size_t len,
                         const uint8_t mask[static 4], uint8_t *payload)
{
	size_t h = hdr(dst, op, len, 0x80);

	memcpy(dst + h, mask, 4);
	ws_mask(payload, len, mask);
	return h + 4;
}

/* Returns 0, writing nothing, if len is over WS_CTRL_MAX (§5.5). */
size_t ws_ctrl_frame(uint8_t *out, enum ws_op op, const uint8_t *payload, size_t len)
{
	if (len > WS_CTRL_MAX)
		return 0;
	out[0] = (uint8_t)(0x80 | op);
	out[1] = (uint8_t)len;
	if (len)
		memcpy(out + 2, payload, len);
	return len + 2;
}

/*
 * A close with code (§5.5.1): 4 bytes, or 2 (an empty close) for 1005, 1006
 * and 1015, which stand for "no code" and must not go on the wire (§7.4.1).
 */
size_t ws_close_frame(uint8_t out[static 4], uint16_t code)
{
	out[0] = 0x80 | WS_OP_CLOSE;
	if (code == WS_CLOSE_NO_STATUS || code == 1006 || code == 1015 || code == 0) {
		out[1] = 0;
		return 2;
	}
	out[1] = 2;
	put16(out + 2, code);
	return 4;
}
