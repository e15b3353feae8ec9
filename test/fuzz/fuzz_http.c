/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c: libFuzzer target for the upgrade request and response
 * parsers of ws.c. The first input byte picks a split point; the rest is
 * fed whole, in two pieces and one byte at a time, and the three must agree.
 * A request's X-Forwarded-For lines then go through the proxy walk with a
 * few trust tables, which must agree for the three parses too.
 */
#include <assert.h>
#include <string.h>

#include "../../base64.c"
#include "../../nat.c"
#include "../../sha1.c"
#include "../../ws.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ws_req ra, rb, rc;
static struct ws_resp pa, pb;

static void str_in(struct ws_str s, const char *buf, size_t len)
{
	if (s.len)
		assert(s.p >= buf && s.p + s.len <= buf + len);
}

static void req_fields(const struct ws_req *r)
{
	str_in(r->target, r->buf, r->len);
	str_in(r->path, r->buf, r->len);
	str_in(r->key, r->buf, r->len);
	str_in(r->bearer, r->buf, r->len);
	str_in(r->qtoken, r->buf, r->len);
	str_in(r->session, r->buf, r->len);
	assert(r->xff_n <= WS_XFF_LINES);
	for (unsigned i = 0; i < r->xff_n; i++)
		str_in(r->xff[i], r->buf, r->len);
	str_in(r->host, r->buf, r->len);
	assert(r->version >= -1 && r->version <= 255);
}

static bool str_same(struct ws_str a, struct ws_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Feeds in[0..len) in two pieces cut at cut; returns the result. */
static int req_split(struct ws_req *r, const uint8_t *in, size_t len, size_t cut,
                     size_t *used)
{
	size_t u1, u2;
	int st;

	ws_req_init(r);
	st = ws_req_feed(r, in, cut, &u1);
	assert(u1 <= cut);
	if (st != WS_REQ_MORE) {
		*used = u1;
		return st;
	}
	assert(u1 == cut);
	st = ws_req_feed(r, in + cut, len - cut, &u2);
	assert(u2 <= len - cut);
	*used = u1 + u2;
	return st;
}

static int req_bytes(struct ws_req *r, const uint8_t *in, size_t len, size_t *used)
{
	int st = WS_REQ_MORE;
	size_t i, u = 0;

	ws_req_init(r);
	for (i = 0; i < len && st == WS_REQ_MORE; i++) {
		st = ws_req_feed(r, in + i, 1, &u);
		assert(u <= 1);
	}
	*used = i - (u == 0 && i > 0);
	return st;
}

/* The walk over r's X-Forwarded-For with trust table t[0..n). */
static bool xff_walk(const struct ws_req *r, const struct nat_cidr *t, size_t n, uint32_t *a)
{
	*a = 0xdeadbeef;
	bool got = ws_xff_client(r->xff, r->xff_n, t, n, a);

	assert(got || *a == 0xdeadbeef);
	return got;
}

static void fuzz_xff(const struct ws_req *a, const struct ws_req *c)
{
	static const struct nat_cidr tables[][2] = {
		{ { 0, 0 }, { 0, 0 } },                               /* everyone */
		{ { 0x7f000000, 0xff000000 }, { 0x0a000000, 0xff000000 } }, /* 127/8, 10/8 */
	};
	uint32_t x, y;

	assert(a->xff_n == c->xff_n);
	for (unsigned i = 0; i < a->xff_n; i++)
		assert(str_same(a->xff[i], c->xff[i]));
	for (size_t n = 0; n <= 2; n++) {
		for (size_t t = 0; t < 2; t++) {
			bool ga = xff_walk(a, tables[t], n, &x), gc = xff_walk(c, tables[t], n, &y);
			assert(ga == gc && (!ga || x == y));
		}
	}
	/* Trusting nobody, the walk stops at the right-most entry, which
	 * trusting everyone reaches too. */
	if (xff_walk(a, NULL, 0, &x))
		assert(xff_walk(a, tables[0], 1, &y));
}

static void fuzz_req(const uint8_t *in, size_t len, size_t cut)
{
	size_t ua, ub, uc;
	int sa, sb, sc;
	char out[1024];

	ws_req_init(&ra);
	sa = ws_req_feed(&ra, in, len, &ua);
	sb = req_split(&rb, in, len, cut, &ub);
	sc = req_bytes(&rc, in, len, &uc);
	assert(ua <= len);
	assert(sa == WS_REQ_MORE || sa == WS_REQ_DONE || sa == 400 || sa == 431);
	assert(sa == sb && sb == sc);
	assert(ra.len <= WS_REQ_MAX);
	if (sa == WS_REQ_MORE)
		assert(ua == len && len < WS_REQ_MAX);
	if (sa != WS_REQ_DONE)
		return;
	assert(ua == ub && ub == uc && ua == ra.len);
	req_fields(&ra);
	req_fields(&rb);
	assert(ra.is_get == rc.is_get && ra.version == rc.version);
	assert(ra.upgrade_ws == rc.upgrade_ws && ra.conn_upgrade == rc.conn_upgrade);
	assert(ra.proto_v1 == rb.proto_v1);
	assert(str_same(ra.key, rc.key) && str_same(ra.path, rb.path));
	assert(str_same(ra.qtoken, rc.qtoken) && str_same(ra.session, rb.session));
	assert(str_same(ra.bearer, rc.bearer) && str_same(ra.host, rb.host));
	fuzz_xff(&ra, &rc);

	int st = ws_req_status(&ra, "/vpn");
	assert(st == 101 || st == 400 || st == 404 || st == 426);
	assert(st == ws_req_status(&rc, "/vpn"));
	st = ws_req_status(&ra, NULL);
	if (st == 101) {
		size_t n = ws_resp_101(out, sizeof out, ra.key.p, ra.key.len, WS_PROTO_V1, NULL);

		assert(n > 0 && n <= sizeof out);
	} else {
		assert(ws_resp_error(out, sizeof out, st, NULL) > 0);
	}
}

static void fuzz_resp(const uint8_t *in, size_t len, size_t cut)
{
	size_t ua, u1, u2 = 0;
	int sa, sb;

	ws_resp_init(&pa);
	sa = ws_resp_feed(&pa, in, len, &ua);
	assert(ua <= len);
	assert(sa == WS_REQ_MORE || sa == WS_REQ_DONE || sa == 400 || sa == 431);
	ws_resp_init(&pb);
	sb = ws_resp_feed(&pb, in, cut, &u1);
	if (sb == WS_REQ_MORE)
		sb = ws_resp_feed(&pb, in + cut, len - cut, &u2);
	assert(sa == sb);
	if (sa != WS_REQ_DONE)
		return;
	assert(ua == u1 + u2 && ua == pa.len);
	assert(pa.status >= 100 && pa.status <= 999 && pa.status == pb.status);
	str_in(pa.accept, pa.buf, pa.len);
	str_in(pa.proto, pa.buf, pa.len);
	assert(str_same(pa.accept, pb.accept) && str_same(pa.proto, pb.proto));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut;

	if (size < 1)
		return 0;
	cut = data[0];
	data++, size--;
	if (size > 2 * WS_REQ_MAX)
		size = 2 * WS_REQ_MAX;
	cut = size ? cut * size / 255 : 0;
	fuzz_req(data, size, cut);
	fuzz_resp(data, size, cut);
	return 0;
}
