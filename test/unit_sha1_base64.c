/* SPDX-License-Identifier: MIT */
/*
 * unit_sha1_base64.c: SHA-1 against the FIPS 180 examples, the accept key
 * of RFC 6455 §1.3, and base64 against RFC 4648 §10, both ways, plus the
 * non-canonical inputs the decoder must refuse.
 */
#include <string.h>

#include "../base64.h"
#include "../sha1.h"
#include "../ws.h"
#include "unit.h"

static void hex(char out[static 2 * SHA1_LEN + 1], const uint8_t h[static SHA1_LEN])
{
	for (int i = 0; i < SHA1_LEN; i++) {
		out[2 * i] = "0123456789abcdef"[h[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[h[i] & 15];
	}
	out[2 * SHA1_LEN] = '\0';
}

static int sha1_is(const void *msg, size_t len, const char *want)
{
	uint8_t h[SHA1_LEN];
	char got[2 * SHA1_LEN + 1];

	sha1(msg, len, h);
	hex(got, h);
	return strcmp(got, want) == 0;
}

static void sha1_vectors(void)
{
	static const char m448[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	CHECK(sha1_is("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d"));
	CHECK(sha1_is("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
	CHECK(sha1_is(m448, strlen(m448), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
}

/* A million 'a' fed in uneven pieces, so the block buffering is exercised. */
static void sha1_million(void)
{
	static const size_t piece[] = { 1, 63, 64, 65, 127, 1000, 3 };
	uint8_t a[1000], h[SHA1_LEN];
	char got[2 * SHA1_LEN + 1];
	struct sha1 c;
	size_t left = 1000000;

	memset(a, 'a', sizeof a);
	sha1_init(&c);
	for (size_t i = 0; left; i++) {
		size_t n = piece[i % 7] < left ? piece[i % 7] : left;

		sha1_update(&c, a, n);
		left -= n;
	}
	sha1_final(&c, h);
	hex(got, h);
	CHECK(strcmp(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
}

/* Lengths around the padding boundary: 55, 56, 63, 64 bytes, whole vs split. */
static void sha1_split(void)
{
	uint8_t msg[130], h1[SHA1_LEN], h2[SHA1_LEN];

	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	for (size_t len = 0; len <= sizeof msg; len++) {
		for (size_t cut = 0; cut <= len; cut += 13) {
			struct sha1 c;

			sha1(msg, len, h1);
			sha1_init(&c);
			sha1_update(&c, msg, cut);
			sha1_update(&c, msg + cut, len - cut);
			sha1_final(&c, h2);
			CHECK(memcmp(h1, h2, SHA1_LEN) == 0);
		}
	}
}

static void sha1_ws_accept(void)
{
	char acc[WS_ACCEPT_LEN + 1];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

	ws_accept_key(acc, key, strlen(key));
	CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

static const struct {
	const char *raw, *b64;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void base64_rfc4648(void)
{
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const char *raw = rfc4648[i].raw, *b64 = rfc4648[i].b64;
		char enc[16];
		uint8_t dec[16];
		long n;

		CHECK(base64_encode(enc, (const uint8_t *)raw, strlen(raw)) == strlen(b64));
		CHECK(strcmp(enc, b64) == 0);
		CHECK(BASE64_LEN(strlen(raw)) == strlen(b64));
		n = base64_decode(dec, sizeof dec, b64, strlen(b64));
		CHECK(n == (long)strlen(raw));
		CHECK(n >= 0 && memcmp(dec, raw, (size_t)n) == 0);
	}
}

/* Every byte value through all 64 characters and back, at each length. */
static void base64_roundtrip(void)
{
	uint8_t raw[256], dec[256];
	char enc[BASE64_LEN(256) + 1];

	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (uint8_t)(255 - i);
	for (size_t len = 0; len <= sizeof raw; len++) {
		size_t n = base64_encode(enc, raw, len);

		CHECK(n == BASE64_LEN(len) && enc[n] == '\0');
		CHECK(base64_decode(dec, len, enc, n) == (long)len);
		CHECK(memcmp(dec, raw, len) == 0);
		if (len)
			CHECK(base64_decode(dec, len - 1, enc, n) == -1);
	}
	/* The alphabet, in order (RFC 4648 table 1). */
	const uint8_t all[] = {
		0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
		0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
		0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
		0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf,
	};
	base64_encode(enc, all, sizeof all);
	CHECK(strcmp(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 0);
}

static void base64_reject(void)
{
	static const char *const bad[] = {
		"Zg=",       /* length not a multiple of 4 */
		"Zg",
		"Z===",      /* three pads */
		"====",
		"Zh==",      /* leftover bits set: 'h' has low bits 0001 */
		"Zm9=",      /* 'Zm9' leaves bits 01 */
		"Zg=a",      /* pad in the middle */
		"Z=g=",
		"Zg==Zg==",  /* pad before the end */
		"Zm 9",      /* bad characters */
		"Zm-9",      /* base64url is not ours */
		"Zm_9",
		"Zm9v\n",
		"Zm9\x80",
		"Zm9\xff",
		"Zm9:",
		"Zm9@",
		"Zm9[",
		"Zm9`",
		"Zm9{",
	};
	uint8_t out[16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long n = base64_decode(out, sizeof out, bad[i], strlen(bad[i]));

		if (n != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK(n == -1);
	}
	/* A NUL is a bad character too, not an end. */
	CHECK(base64_decode(out, sizeof out, "Zm\0v", 4) == -1);
	/* Every byte that is not in the alphabet, in each position. */
	for (int c = 0; c < 256; c++) {
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '+' || c == '/';
		char s[5] = "QUJD";

		for (int pos = 0; pos < 4; pos++) {
			memcpy(s, "QUJD", 4);
			s[pos] = (char)c;
			if (c == '=' && pos == 3)
				continue; /* "QUJ=" is canonical padding */
			CHECK((base64_decode(out, sizeof out, s, 4) == 3) == ok);
		}
	}
}

const struct unit_case unit_sha1_base64[] = {
	{ "sha1_vectors", sha1_vectors },
	{ "sha1_million", sha1_million },
	{ "sha1_split", sha1_split },
	{ "sha1_ws_accept", sha1_ws_accept },
	{ "base64_rfc4648", base64_rfc4648 },
	{ "base64_roundtrip", base64_roundtrip },
	{ "base64_reject", base64_reject },
	{ NULL, NULL },
};
