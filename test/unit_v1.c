/* SPDX-License-Identifier: MIT */
/*
 * unit_v1.c: the vpngw.v1 subprotocol of v1.c. Tokens: the hex form both
 * ways, every byte value in every position, constant-time equality. The
 * assignment: the exact text the gateway has always sent, format -> parse
 * round trips, tables of accepted and refused messages (truncations,
 * duplicates, escapes, controls, nesting depth, overlong and non-integer
 * numbers, trailing bytes), every prefix of a message refused, and a
 * refused message leaving nothing of its session behind. The harness is
 * unit.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../v1.h"
#include "unit.h"

static const uint8_t tok[V1_TOKEN_LEN] = {
	0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
	0xef, 0x10, 0x9a, 0xf0, 0x0f, 0xff, 0x7e, 0x80,
};
#define TOK_HEX "000123456789abcdef109af00fff7e80"

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Parses s[0..len) from a buffer of exactly len bytes, so that ASan sees
 * any read past it. */
static int parse_exact(struct v1_assign *a, const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, s, len);
	rc = v1_assign_parse(a, copy, len);
	free(copy);
	return rc;
}

/* ==== Tokens ==== */

static void token_hex(void)
{
	char hex[V1_TOKEN_HEX + 1];
	uint8_t t[V1_TOKEN_LEN];

	CHECK(v1_token_format(hex, tok) == V1_TOKEN_HEX);
	CHECK(strcmp(hex, TOK_HEX) == 0);
	CHECK(v1_token_parse(t, hex, V1_TOKEN_HEX) == 0 && memcmp(t, tok, sizeof t) == 0);
	CHECK(v1_token_parse(t, "000123456789ABCDEF109AF00FFF7E80", 32) == 0);
	CHECK(memcmp(t, tok, sizeof t) == 0);
	CHECK(v1_token_parse(t, "000123456789aBcDeF109Af00fFf7E80", 32) == 0);
	CHECK(memcmp(t, tok, sizeof t) == 0);

	/* Every byte value, high and low nibble, through format and parse. */
	for (unsigned v = 0; v < 256; v++) {
		uint8_t in[V1_TOKEN_LEN], out[V1_TOKEN_LEN];

		memset(in, (int)v, sizeof in);
		in[0] = (uint8_t)~v;
		v1_token_format(hex, in);
		CHECK(strlen(hex) == V1_TOKEN_HEX && strspn(hex, "0123456789abcdef") == 32);
		CHECK(v1_token_parse(out, hex, V1_TOKEN_HEX) == 0 && memcmp(in, out, sizeof in) == 0);
	}

	/* Every character that is not a hex digit, in every position. */
	for (int c = 0; c < 256; c++) {
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

		for (size_t pos = 0; pos < V1_TOKEN_HEX; pos++) {
			char s[V1_TOKEN_HEX];

			memcpy(s, TOK_HEX, sizeof s);
			s[pos] = (char)c;
			memset(t, 0xaa, sizeof t);
			int rc = v1_token_parse(t, s, sizeof s);
			CHECK((rc == 0) == ok);
			if (rc)
				CHECK(all_zero(t, sizeof t));
		}
	}

	/* Only exactly 32 digits. */
	CHECK(v1_token_parse(t, TOK_HEX, 31) == -1 && all_zero(t, sizeof t));
	CHECK(v1_token_parse(t, TOK_HEX "0", 33) == -1);
	CHECK(v1_token_parse(t, TOK_HEX TOK_HEX, 64) == -1);
	CHECK(v1_token_parse(t, "", 0) == -1);
	CHECK(v1_token_parse(t, NULL, 32) == -1);
	CHECK(v1_token_parse(t, "0x0123456789abcdef109af00fff7e80", 32) == -1);
	CHECK(v1_token_parse(t, " 00123456789abcdef109af00fff7e80", 32) == -1);
}

static void token_equal(void)
{
	uint8_t a[V1_TOKEN_LEN], b[V1_TOKEN_LEN];

	memcpy(a, tok, sizeof a);
	memcpy(b, tok, sizeof b);
	CHECK(v1_token_equal(a, b));
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECK(v1_token_equal(a, b));
	/* One bit anywhere makes them differ. */
	for (size_t i = 0; i < V1_TOKEN_LEN; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(b, tok, sizeof b);
			b[i] ^= (uint8_t)(1u << bit);
			CHECK(!v1_token_equal(tok, b));
			CHECK(!v1_token_equal(b, tok));
		}
	}
	memset(a, 0xff, sizeof a);
	memset(b, 0x00, sizeof b);
	CHECK(!v1_token_equal(a, b));
}

/* ==== Writing the assignment ==== */

static struct v1_assign example(void)
{
	struct v1_assign a = {
		.addr = 0x0a006402, .prefix = 24, .gateway = 0x0a006401, .mtu = 1500,
		.keepalive_s = 20, .linger_s = 10, .has_session = true,
	};

	memcpy(a.session, tok, sizeof a.session);
	return a;
}

static void assign_format(void)
{
	static const char want[] =
		"{\"address\":\"10.0.100.2/24\",\"gateway\":\"10.0.100.1\",\"mtu\":1500,"
		"\"session\":\"" TOK_HEX "\",\"keepalive\":20,\"linger\":10}";
	char out[V1_ASSIGN_MAX], old[V1_ASSIGN_MAX];
	struct v1_assign a = example();
	size_t n;

	/* The exact text the gateway has always sent. */
	n = v1_assign_format(out, sizeof out, &a);
	CHECK(n == sizeof want - 1 && strcmp(out, want) == 0);
	/* ... and as its old snprintf wrote it, for other pools. */
	a = example();
	a.addr = 0xc0a8fe0a;
	a.gateway = 0xc0a8fe09;
	a.prefix = 30;
	a.mtu = 65535;
	a.keepalive_s = 0;
	a.linger_s = 3600;
	snprintf(old, sizeof old, "{\"address\":\"%s/%u\",\"gateway\":\"%s\",\"mtu\":%u,"
	         "\"session\":\"%s\",\"keepalive\":%u,\"linger\":%u}",
	         "192.168.254.10", 30u, "192.168.254.9", 65535u, TOK_HEX, 0u, 3600u);
	n = v1_assign_format(out, sizeof out, &a);
	CHECK(n == strlen(old) && strcmp(out, old) == 0);

	/* What is not given is left out; the MTU always goes. */
	a = (struct v1_assign){ .addr = 0x01020304, .prefix = 32, .mtu = 576,
	                        .keepalive_s = -1, .linger_s = -1 };
	n = v1_assign_format(out, sizeof out, &a);
	CHECK(n > 0 && strcmp(out, "{\"address\":\"1.2.3.4/32\",\"mtu\":576}") == 0);

	/* It fits or it is 0, with what held the session wiped. */
	a = example();
	n = v1_assign_format(out, sizeof out, &a);
	CHECK(v1_assign_format(out, n + 1, &a) == n);
	memset(out, 'x', sizeof out);
	CHECK(v1_assign_format(out, n, &a) == 0);
	CHECK(all_zero(out, n));
	CHECK(v1_assign_format(out, 0, &a) == 0);

	/* Nothing is written that the parser would refuse. */
	static const struct {
		uint32_t addr, gateway;
		unsigned prefix, mtu;
		long keepalive, linger;
	} bad[] = {
		{ 0, 0, 24, 1500, -1, -1 },
		{ 0x0a006402, 0, 0, 1500, -1, -1 },
		{ 0x0a006402, 0, 33, 1500, -1, -1 },
		{ 0x7f000001, 0, 8, 1500, -1, -1 },
		{ 0xe0000001, 0, 24, 1500, -1, -1 },
		{ 0xffffffff, 0, 32, 1500, -1, -1 },
		{ 0x0a006402, 0x7f000001, 24, 1500, -1, -1 },
		{ 0x0a006402, 0xffffffff, 24, 1500, -1, -1 },
		{ 0x0a006402, 0, 24, 575, -1, -1 },
		{ 0x0a006402, 0, 24, 65536, -1, -1 },
		{ 0x0a006402, 0, 24, 0, -1, -1 },
		{ 0x0a006402, 0, 24, 1500, 3601, -1 },
		{ 0x0a006402, 0, 24, 1500, -2, -1 },
		{ 0x0a006402, 0, 24, 1500, -1, 86401 },
		{ 0x0a006402, 0, 24, 1500, -1, -5 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		a = (struct v1_assign){ .addr = bad[i].addr, .gateway = bad[i].gateway,
		                        .prefix = bad[i].prefix, .mtu = bad[i].mtu,
		                        .keepalive_s = bad[i].keepalive, .linger_s = bad[i].linger };
		CHECK(v1_assign_format(out, sizeof out, &a) == 0);
	}
}

/* ==== Reading the assignment ==== */

#define ADDR "\"address\":\"10.0.100.2/24\""

static void assign_parse_good(void)
{
	static const char gw[] =
		"{\"address\":\"10.0.100.2/24\",\"gateway\":\"10.0.100.1\",\"mtu\":1500,"
		"\"session\":\"" TOK_HEX "\",\"keepalive\":20,\"linger\":10}";
	struct v1_assign a;

	CHECK(parse_exact(&a, gw, sizeof gw - 1) == 0);
	CHECK(a.addr == 0x0a006402 && a.prefix == 24 && a.gateway == 0x0a006401);
	CHECK(a.mtu == 1500 && a.keepalive_s == 20 && a.linger_s == 10);
	CHECK(a.has_session && memcmp(a.session, tok, sizeof tok) == 0);

	/* Only the address is needed; the rest has its defaults. */
	CHECK(parse_exact(&a, "{" ADDR "}", strlen("{" ADDR "}")) == 0);
	CHECK(a.addr == 0x0a006402 && a.prefix == 24 && a.gateway == 0);
	CHECK(a.mtu == V1_MTU_DEFAULT && a.keepalive_s == -1 && a.linger_s == -1);
	CHECK(!a.has_session && all_zero(a.session, sizeof a.session));

	static const struct {
		const char *s;
		unsigned mtu;
		long keepalive;
	} t[] = {
		/* Whitespace of every kind wherever the grammar allows it. */
		{ " \t\r\n{ \t\r\n\"address\" \n:\r \"10.0.100.2/24\" \t,\n\"mtu\" : 1400 } \r\n\t", 1400, -1 },
		/* Any order; unknown keys, with every kind of value, skipped. */
		{ "{\"mtu\":9000,\"keepalive\":0," ADDR "}", 9000, 0 },
		{ "{\"x\":\"a \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"," ADDR "}", 1500, -1 },
		{ "{" ADDR ",\"n\":-1.5e+3,\"m\":0,\"o\":-0.0E-0,\"p\":12345678901234567890123}", 1500, -1 },
		{ "{" ADDR ",\"t\":true,\"f\":false,\"z\":null}", 1500, -1 },
		{ "{" ADDR ",\"e\":{},\"a\":[],\"s\":\"\",\"\":1}", 1500, -1 },
		{ "{\"dns\":[\"192.0.2.53\",\"198.51.100.53\"],\"address6\":\"2001:db8::2/64\"," ADDR "}", 1500, -1 },
		{ "{" ADDR ",\"deep\":[[[[[[[[1]]]]]]]]}", 1500, -1 },
		{ "{" ADDR ",\"deep\":{\"a\":{\"b\":[{\"c\":[[{\"d\":[]}]]}]}}}", 1500, -1 },
		{ "{" ADDR ",\"o\":{\"address\":\"x\",\"mtu\":\"y\"}}", 1500, -1 },
		{ "{" ADDR ",\"x\":1,\"x\":2}", 1500, -1 },         /* unknown twice: skipped */
		{ "{" ADDR ",\"caf\xc3\xa9\":\"\xe2\x82\xac\"}", 1500, -1 },
		{ "{" ADDR ",\"mtu\":576,\"keepalive\":3600,\"linger\":86400}", 576, 3600 },
		{ "{" ADDR ",\"mtu\":65535}", 65535, -1 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int rc = parse_exact(&a, t[i].s, strlen(t[i].s));

		if (rc)
			fprintf(stderr, "  refused %s\n", t[i].s);
		CHECK(rc == 0);
		CHECK(a.addr == 0x0a006402 && a.prefix == 24);
		CHECK(a.mtu == t[i].mtu && a.keepalive_s == t[i].keepalive);
	}

	/* Upper-case session digits are the same token. */
	static const char up[] = "{" ADDR ",\"session\":\"000123456789ABCDEF109AF00FFF7E80\"}";
	CHECK(parse_exact(&a, up, sizeof up - 1) == 0 && a.has_session);
	CHECK(memcmp(a.session, tok, sizeof tok) == 0);
}

static void assign_parse_bad(void)
{
	static const char *const bad[] = {
		/* Not one object. */
		"", " ", "{}", "[]", "null", "\"address\"", "{" ADDR "}{}", "{" ADDR "},",
		"{" ADDR "}}", "{" ADDR "}x", "{" ADDR, "{" ADDR ",", "{" ADDR ",}",
		"{," ADDR "}", "{" ADDR ",," "\"mtu\":1500}", "{" ADDR " \"mtu\":1500}",
		"[{" ADDR "}]", "{" ADDR "}\x01", "\xef\xbb\xbf{" ADDR "}",
		/* Not JSON's whitespace, comments or quotes. */
		"{\f" ADDR "}", "{\v" ADDR "}", "{" ADDR "/* c */}", "{'address':'10.0.100.2/24'}",
		"{address:\"10.0.100.2/24\"}", "{\"address\" \"10.0.100.2/24\"}",
		"{\"address\"=\"10.0.100.2/24\"}",
		/* The address: missing, twice, or not one an interface can hold. */
		"{\"mtu\":1500}", "{\"Address\":\"10.0.100.2/24\"}",
		"{" ADDR "," ADDR "}", "{" ADDR ",\"address\":\"10.0.100.3/24\"}",
		"{\"address\":\"10.0.100.2\"}", "{\"address\":\"10.0.100.2/0\"}",
		"{\"address\":\"10.0.100.2/33\"}", "{\"address\":\"127.0.0.1/8\"}",
		"{\"address\":\"0.0.0.0/8\"}", "{\"address\":\"224.0.0.1/24\"}",
		"{\"address\":\"010.0.100.2/24\"}", "{\"address\":\" 10.0.100.2/24\"}",
		"{\"address\":\"10.0.100.2/24 \"}", "{\"address\":10}", "{\"address\":null}",
		"{\"address\":[\"10.0.100.2/24\"]}", "{\"address\":\"10.0.100.2\\/24\"}",
		"{\"address\":\"10.0.100.2/2\\u0034\"}",
		/* A key with an escape is refused, known or not. */
		"{\"addr\\u0065ss\":\"10.0.100.2/24\"}", "{" ADDR ",\"x\\n\":1}",
		/* The gateway. */
		"{" ADDR ",\"gateway\":\"10.0.100.1/24\"}", "{" ADDR ",\"gateway\":\"0.0.0.0\"}",
		"{" ADDR ",\"gateway\":\"10.0.100\"}", "{" ADDR ",\"gateway\":1}",
		"{" ADDR ",\"gateway\":\"10.0.100.1\",\"gateway\":\"10.0.100.1\"}",
		/* Numbers: integers in range, no sign, fraction, exponent, zero. */
		"{" ADDR ",\"mtu\":\"1500\"}", "{" ADDR ",\"mtu\":1500.0}", "{" ADDR ",\"mtu\":15e2}",
		"{" ADDR ",\"mtu\":1500E0}", "{" ADDR ",\"mtu\":-1500}", "{" ADDR ",\"mtu\":+1500}",
		"{" ADDR ",\"mtu\":01500}", "{" ADDR ",\"mtu\":575}", "{" ADDR ",\"mtu\":65536}",
		"{" ADDR ",\"mtu\":0}", "{" ADDR ",\"mtu\":99999999999999999999}",
		"{" ADDR ",\"mtu\":18446744073709551617}", "{" ADDR ",\"mtu\":}",
		"{" ADDR ",\"mtu\":true}", "{" ADDR ",\"mtu\":1500,\"mtu\":1500}",
		"{" ADDR ",\"mtu\":0x5dc}", "{" ADDR ",\"mtu\":1500x}",
		"{" ADDR ",\"keepalive\":3601}", "{" ADDR ",\"keepalive\":-1}",
		"{" ADDR ",\"keepalive\":00}", "{" ADDR ",\"keepalive\":1,\"keepalive\":1}",
		"{" ADDR ",\"linger\":86401}", "{" ADDR ",\"linger\":null}",
		/* The session: 32 hex digits, plain, once. */
		"{" ADDR ",\"session\":\"000123456789abcdef109af00fff7e8\"}",
		"{" ADDR ",\"session\":\"000123456789abcdef109af00fff7e800\"}",
		"{" ADDR ",\"session\":\"000123456789abcdef109af00fff7e8g\"}",
		"{" ADDR ",\"session\":\"\"}", "{" ADDR ",\"session\":null}",
		"{" ADDR ",\"session\":\"\\u0030000123456789abcdef109af00fff7e8\"}",
		"{" ADDR ",\"session\":\"" TOK_HEX "\",\"session\":\"" TOK_HEX "\"}",
		/* Unknown values must still be JSON. */
		"{" ADDR ",\"x\":tru}", "{" ADDR ",\"x\":True}", "{" ADDR ",\"x\":nul}",
		"{" ADDR ",\"x\":truex}", "{" ADDR ",\"x\":}", "{" ADDR ",\"x\"}",
		"{" ADDR ",\"x\":[1,]}", "{" ADDR ",\"x\":[,1]}", "{" ADDR ",\"x\":[1 2]}",
		"{" ADDR ",\"x\":[}", "{" ADDR ",\"x\":{]}", "{" ADDR ",\"x\":[1}",
		"{" ADDR ",\"x\":{\"a\"}}", "{" ADDR ",\"x\":{\"a\":1,}}", "{" ADDR ",\"x\":{1:2}}",
		"{" ADDR ",\"x\":{\"a\" 1}}", "{" ADDR ",\"x\":{\"\\q\":1}}",
		"{" ADDR ",\"x\":01}", "{" ADDR ",\"x\":1.}", "{" ADDR ",\"x\":.5}",
		"{" ADDR ",\"x\":-}", "{" ADDR ",\"x\":1e}", "{" ADDR ",\"x\":1e+}",
		"{" ADDR ",\"x\":+1}", "{" ADDR ",\"x\":--1}", "{" ADDR ",\"x\":NaN}",
		"{" ADDR ",\"x\":Infinity}", "{" ADDR ",\"x\":0x10}",
		"{" ADDR ",\"x\":\"\\x41\"}", "{" ADDR ",\"x\":\"\\u12g4\"}",
		"{" ADDR ",\"x\":\"\\u123\"}", "{" ADDR ",\"x\":\"\\\"}", "{" ADDR ",\"x\":\"\\",
		"{" ADDR ",\"x\":\"a\x01" "b\"}", "{" ADDR ",\"x\":\"a\tb\"}",
		"{" ADDR ",\"x\":\"a\nb\"}", "{" ADDR ",\"x\":\"a\x7f", "{" ADDR ",\"x\":\"abc",
		"{" ADDR ",\"a\x1f\":1}",
		/* Nine levels of nesting inside a value are one too many. */
		"{" ADDR ",\"deep\":[[[[[[[[[1]]]]]]]]]}",
		"{" ADDR ",\"deep\":[[[[[[[[[]]]]]]]]]}",
		"{" ADDR ",\"deep\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}}",
	};
	struct v1_assign a;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&a, 0x5a, sizeof a);
		int rc = parse_exact(&a, bad[i], strlen(bad[i]));

		if (rc != -1)
			fprintf(stderr, "  accepted [%zu] %s\n", i, bad[i]);
		CHECK(rc == -1);
		CHECK(all_zero(&a, sizeof a));
	}

	/* A NUL is neither whitespace nor an end. */
	static const char nul[] = "{" ADDR "}\0";
	CHECK(parse_exact(&a, nul, sizeof nul - 1) == -1);
	static const char nul2[] = "{\0" ADDR "}";
	CHECK(parse_exact(&a, nul2, sizeof nul2 - 1) == -1);
	static const char nul3[] = "{" ADDR ",\"x\":\"a\0b\"}";
	CHECK(parse_exact(&a, nul3, sizeof nul3 - 1) == -1);
	CHECK(v1_assign_parse(&a, NULL, 0) == -1);

	/* V1_ASSIGN_MAX bytes are read, one more is refused. */
	static char big[V1_ASSIGN_MAX + 2];
	memset(big, ' ', sizeof big);
	memcpy(big, "{" ADDR "}", strlen("{" ADDR "}"));
	CHECK(parse_exact(&a, big, V1_ASSIGN_MAX) == 0);
	CHECK(parse_exact(&a, big, V1_ASSIGN_MAX + 1) == -1);
	/* A long skipped string inside the cap is fine. */
	memcpy(big, "{" ADDR ",\"x\":\"", strlen("{" ADDR ",\"x\":\""));
	memcpy(big + V1_ASSIGN_MAX - 2, "\"}", 2);
	CHECK(parse_exact(&a, big, V1_ASSIGN_MAX) == 0);
}

/* Every proper prefix of a good message is refused, and leaves nothing. */
static void assign_truncated(void)
{
	char out[V1_ASSIGN_MAX];
	struct v1_assign a = example(), b;
	size_t n = v1_assign_format(out, sizeof out, &a);
	static const char skip[] =
		"{\"x\":[1,-2.5e3,{\"y\":\"\\u00e9\\\"\"},true,false,null]," ADDR ",\"z\":{}}";

	CHECK(n > 0);
	CHECK(parse_exact(&b, out, n) == 0);
	for (size_t k = 0; k < n; k++) {
		memset(&b, 0x5a, sizeof b);
		CHECK(parse_exact(&b, out, k) == -1);
		CHECK(all_zero(&b, sizeof b));
	}
	CHECK(parse_exact(&b, skip, sizeof skip - 1) == 0);
	for (size_t k = 0; k + 1 < sizeof skip; k++)
		CHECK(parse_exact(&b, skip, k) == -1);
}

static bool same(const struct v1_assign *a, const struct v1_assign *b)
{
	return a->addr == b->addr && a->prefix == b->prefix && a->gateway == b->gateway &&
	       a->mtu == b->mtu && a->keepalive_s == b->keepalive_s &&
	       a->linger_s == b->linger_s && a->has_session == b->has_session &&
	       memcmp(a->session, b->session, sizeof a->session) == 0 &&
	       a->prefix6 == b->prefix6 && memcmp(a->addr6, b->addr6, 16) == 0 &&
	       memcmp(a->gateway6, b->gateway6, 16) == 0 && a->n_dns4 == b->n_dns4 &&
	       memcmp(a->dns4, b->dns4, sizeof a->dns4) == 0 && a->n_dns6 == b->n_dns6 &&
	       memcmp(a->dns6, b->dns6, sizeof a->dns6) == 0;
}

/* IPv6 and DNS: the text format writes, what parse takes back, and what
 * it refuses. */
static void assign_ipv6_dns(void)
{
	static const char want[] =
		"{\"address\":\"10.0.100.2/24\",\"mtu\":1500,"
		"\"address6\":\"fd00:0:0:100::2/64\",\"gateway6\":\"fd00:0:0:100::1\","
		"\"dns\":[\"192.0.2.53\",\"2001:db8::53\",\"2001:db8::1:53\"]}";
	static const char *const bad[] = {
		"{" ADDR ",\"address6\":\"fd00::2\"}",           /* no prefix */
		"{" ADDR ",\"address6\":\"fd00::2/0\"}",
		"{" ADDR ",\"address6\":\"fd00::2/129\"}",
		"{" ADDR ",\"address6\":\"::1/128\"}",
		"{" ADDR ",\"address6\":\"ff02::1/64\"}",
		"{" ADDR ",\"address6\":\"::ffff:10.0.0.1/64\"}",
		"{" ADDR ",\"address6\":\"10.0.100.3/24\"}",
		"{" ADDR ",\"gateway6\":\"fd00::1\"}",            /* without address6 */
		"{" ADDR ",\"address6\":\"fd00::2/64\",\"gateway6\":\"fd00::1/64\"}",
		"{" ADDR ",\"address6\":\"fd00::2/64\",\"gateway6\":\"::\"}",
		"{" ADDR ",\"dns\":\"192.0.2.53\"}",               /* not an array */
		"{" ADDR ",\"dns\":[\"192.0.2.53\",]}",
		"{" ADDR ",\"dns\":[192]}",
		"{" ADDR ",\"dns\":[\"192.0.2.53/32\"]}",
		"{" ADDR ",\"dns\":[\"127.0.0.1\"]}",
		"{" ADDR ",\"dns\":[\"ff02::fb\"]}",
		"{" ADDR ",\"dns\":[\"2001:db8::53/128\"]}",
		"{" ADDR ",\"dns\":[\"192.0.2.1\",\"192.0.2.2\",\"192.0.2.3\",\"192.0.2.4\","
		"\"192.0.2.5\"]}",
		"{" ADDR ",\"dns\":[],\"dns\":[]}",
		"{" ADDR ",\"dns\":[\"192.0.2.53\"}",
	};
	struct v1_assign a = { .addr = 0x0a006402, .prefix = 24, .mtu = 1500, .keepalive_s = -1,
			       .linger_s = -1, .prefix6 = 64, .n_dns4 = 1, .n_dns6 = 2,
			       .dns4 = { 0xc0000235 } }, b;
	char out[V1_ASSIGN_MAX];
	size_t n;

	a.addr6[0] = b.addr6[0] = 0xfd;
	a.addr6[6] = 1, a.addr6[15] = 2;
	memcpy(a.gateway6, a.addr6, 16);
	a.gateway6[15] = 1;
	a.dns6[0][0] = a.dns6[1][0] = 0x20, a.dns6[0][1] = a.dns6[1][1] = 0x01;
	a.dns6[0][2] = a.dns6[1][2] = 0x0d, a.dns6[0][3] = a.dns6[1][3] = 0xb8;
	a.dns6[0][15] = a.dns6[1][15] = 0x53, a.dns6[1][13] = 1;
	n = v1_assign_format(out, sizeof out, &a);
	CHECK(n == sizeof want - 1 && strcmp(out, want) == 0);
	CHECK(parse_exact(&b, out, n) == 0 && same(&a, &b));
	/* A gateway with no IPv6 writes neither key nor an empty list. */
	a.prefix6 = 0;
	memset(a.gateway6, 0, 16);
	a.n_dns4 = a.n_dns6 = 0;
	n = v1_assign_format(out, sizeof out, &a);
	CHECK(n > 0 && !strstr(out, "address6") && !strstr(out, "gateway6") && !strstr(out, "dns"));
	CHECK(parse_exact(&b, "{" ADDR ",\"dns\":[ ]}", strlen("{" ADDR ",\"dns\":[ ]}")) == 0 &&
	      b.n_dns4 == 0 && b.n_dns6 == 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&b, 0x5a, sizeof b);
		CHECK(parse_exact(&b, bad[i], strlen(bad[i])) == -1);
		CHECK(all_zero(&b, sizeof b));
	}
	/* A value format would refuse to write. */
	a.prefix6 = 64;
	a.addr6[0] = 0xff;
	CHECK(v1_assign_format(out, sizeof out, &a) == 0);
}

/* format -> parse gives back what was formatted, over many assignments;
 * parse -> format -> parse is stable. */
static void assign_roundtrip(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned done = 0;

	for (int i = 0; i < 20000; i++) {
		struct v1_assign a, b;
		char out[V1_ASSIGN_MAX], again[V1_ASSIGN_MAX];
		size_t n;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a = (struct v1_assign){
			.addr = (uint32_t)x,
			.prefix = (unsigned)(x >> 32) % 34,
			.gateway = (x >> 38) & 1 ? (uint32_t)(x >> 20) : 0,
			.mtu = 560 + (unsigned)(x >> 40) % 65000,
			.keepalive_s = (long)((x >> 41) % 3700) - 1,
			.linger_s = (x >> 52) & 1 ? -1 : (long)((x >> 24) % 86402),
			.has_session = (x >> 53) & 1,
		};
		for (size_t k = 0; k < V1_TOKEN_LEN; k++)
			a.session[k] = a.has_session ? (uint8_t)(x >> (k * 4)) : 0;

		n = v1_assign_format(out, sizeof out, &a);
		if (n == 0)
			continue;
		done++;
		CHECK(strlen(out) == n && n < 200);
		CHECK(parse_exact(&b, out, n) == 0);
		CHECK(same(&a, &b));
		CHECK(v1_assign_format(again, sizeof again, &b) == n && memcmp(out, again, n) == 0);
	}
	/* Enough of them were valid to mean something. */
	CHECK(done > 5000);
}

const struct unit_case unit_v1[] = {
	{ "v1_token_hex", token_hex },
	{ "v1_token_equal", token_equal },
	{ "v1_assign_format", assign_format },
	{ "v1_assign_parse_good", assign_parse_good },
	{ "v1_assign_parse_bad", assign_parse_bad },
	{ "v1_assign_truncated", assign_truncated },
	{ "v1_assign_roundtrip", assign_roundtrip },
	{ "v1_assign_ipv6_dns", assign_ipv6_dns },
	{ NULL, NULL },
};
