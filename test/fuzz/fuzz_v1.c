/* SPDX-License-Identifier: MIT */
/*
 * fuzz_v1.c: libFuzzer target for the vpngw.v1 parsers of v1.c, with the
 * nat.c address parser they use. The input is read three ways: as an
 * assignment message, as a session token, and as the raw fields of an
 * assignment. Properties: what parses formats, and formats back to text
 * that parses to the same assignment and formats to the same text; a
 * refused message leaves nothing behind; an assignment that formats parses
 * back to itself; a token parses only from 32 hex digits, and formats back
 * to them in lower case.
 */
#include <assert.h>
#include <ctype.h>
#include <string.h>

#include "../../nat.c"
#include "../../v1.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[V1_ASSIGN_MAX], again[V1_ASSIGN_MAX];

static bool same(const struct v1_assign *a, const struct v1_assign *b)
{
	return a->addr == b->addr && a->prefix == b->prefix && a->gateway == b->gateway &&
	       a->mtu == b->mtu && a->keepalive_s == b->keepalive_s &&
	       a->linger_s == b->linger_s && a->has_session == b->has_session &&
	       memcmp(a->session, b->session, sizeof a->session) == 0 &&
	       a->prefix6 == b->prefix6 && memcmp(a->addr6, b->addr6, 16) == 0 &&
	       memcmp(a->gateway6, b->gateway6, 16) == 0 && a->n_dns4 == b->n_dns4 &&
	       a->n_dns6 == b->n_dns6 &&
	       memcmp(a->dns4, b->dns4, a->n_dns4 * sizeof a->dns4[0]) == 0 &&
	       memcmp(a->dns6, b->dns6, a->n_dns6 * sizeof a->dns6[0]) == 0;
}

static bool wiped(const struct v1_assign *a)
{
	const uint8_t *p = (const uint8_t *)a;

	for (size_t i = 0; i < sizeof *a; i++)
		if (p[i])
			return false;
	return true;
}

/* An assignment that formats parses back to itself, and formats the same. */
static void roundtrip(const struct v1_assign *a)
{
	struct v1_assign b;
	size_t n = v1_assign_format(out, sizeof out, a);

	if (n == 0)
		return;
	assert(n < sizeof out && strlen(out) == n);
	assert(v1_assign_parse(&b, out, n) == 0);
	assert(same(a, &b));
	assert(v1_assign_format(again, sizeof again, &b) == n);
	assert(memcmp(out, again, n) == 0);
	/* One byte short of room is no room. */
	assert(v1_assign_format(again, n, a) == 0);
}

static void as_message(const uint8_t *data, size_t size)
{
	struct v1_assign a;

	if (v1_assign_parse(&a, (const char *)data, size) < 0) {
		assert(wiped(&a));
		return;
	}
	assert(size <= V1_ASSIGN_MAX);
	assert(nat_host_ok(a.addr, a.prefix));
	assert(a.mtu >= V1_MTU_MIN && a.mtu <= V1_MTU_MAX);
	assert(a.keepalive_s >= -1 && a.keepalive_s <= V1_KEEPALIVE_MAX);
	assert(a.linger_s >= -1 && a.linger_s <= V1_LINGER_MAX);
	/* Whatever was accepted can be said again, and means the same. */
	assert(v1_assign_format(out, sizeof out, &a) > 0);
	roundtrip(&a);
}

static void as_token(const uint8_t *data, size_t size)
{
	uint8_t t[V1_TOKEN_LEN], u[V1_TOKEN_LEN];
	char hex[V1_TOKEN_HEX + 1];

	if (v1_token_parse(t, (const char *)data, size) < 0) {
		for (size_t i = 0; i < sizeof t; i++)
			assert(t[i] == 0);
		return;
	}
	assert(size == V1_TOKEN_HEX);
	assert(v1_token_format(hex, t) == V1_TOKEN_HEX && hex[V1_TOKEN_HEX] == '\0');
	for (size_t i = 0; i < V1_TOKEN_HEX; i++)
		assert(hex[i] == tolower(data[i]));
	assert(v1_token_parse(u, hex, V1_TOKEN_HEX) == 0 && v1_token_equal(t, u));
	u[data[0] % V1_TOKEN_LEN] ^= (uint8_t)(1u << (data[1] & 7));
	assert(!v1_token_equal(t, u) && !v1_token_equal(u, t));
}

/* The input's first bytes as an assignment's fields. */
static void as_fields(const uint8_t *d, size_t size)
{
	struct v1_assign a;

	if (size < 16 + V1_TOKEN_LEN)
		return;
	a = (struct v1_assign){
		.addr = get32(d),
		.prefix = d[4] % 40,
		.gateway = d[5] & 1 ? get32(d + 6) : 0,
		.mtu = get16(d + 10) | (d[5] & 2 ? 0 : 0x10000u),
		.keepalive_s = (long)get16(d + 12) - 2,
		.linger_s = d[5] & 4 ? -1 : (long)(get32(d + 12) % 90000),
		.has_session = d[5] & 8,
	};
	if (a.has_session)
		memcpy(a.session, d + 16, V1_TOKEN_LEN);
	/* IPv6 and the DNS servers, from the bytes after those. */
	if (size >= 32 + 16 + 1 + 16 + 1 + 4 + 16) {
		const uint8_t *e = d + 32;

		a.prefix6 = e[16] % 132;
		/* Without a prefix there is no IPv6 address: prefix6 0 says so. */
		if (a.prefix6)
			memcpy(a.addr6, e, 16);
		if (e[16] & 0x80)
			memcpy(a.gateway6, e + 17, 16);
		a.n_dns4 = e[33] % 6;
		a.n_dns6 = (e[33] >> 4) % 6;
		for (unsigned i = 0; i < V1_DNS_MAX; i++) {
			a.dns4[i] = get32(e + 34) + i;
			memcpy(a.dns6[i], e + 38, 16);
			a.dns6[i][15] = (uint8_t)(a.dns6[i][15] + i);
		}
	}
	roundtrip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_message(data, size);
	as_token(data, size);
	as_fields(data, size);
	return 0;
}
