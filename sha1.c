/* SPDX-License-Identifier: MIT */
/*
 * sha1.c: SHA-1 (FIPS 180-4 §6.1), only for the WebSocket accept key
 * (RFC 6455 §4.2.2). Not for anything that needs collision resistance.
 * Pure: the caller owns the context and every buffer.
 */
#include <string.h>

#include "bytes.h"
#include "sha1.h"

static uint32_t rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* One 64-byte block into the state (FIPS 180-4 §6.1.2). */
static void compress(uint32_t h[static 5], const uint8_t blk[static 64])
{
	uint32_t w[80], a, b, c, d, e, f, k, t;

	for (int i = 0; i < 16; i++)
		w[i] = get32(blk + 4 * i);
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void sha1_init(struct sha1 *c)
{
	static const uint32_t iv[5] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0,
	};

	memcpy(c->h, iv, sizeof iv);
	c->count = 0;
}

void sha1_update(struct sha1 *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t have = (size_t)(c->count % 64);

	c->count += len;

	/* Top up a partial block first, then whole blocks straight from p. */
	if (have) {
		size_t n = 64 - have;

		if (n > len)
			n = len;
		memcpy(c->block + have, p, n);
		p += n;
		len -= n;
		if (have + n < 64)
			return;
		compress(c->h, c->block);
	}
	for (; len >= 64; p += 64, len -= 64)
		compress(c->h, p);
	if (len)
		memcpy(c->block, p, len);
}

void sha1_final(struct sha1 *c, uint8_t out[static SHA1_LEN])
{
	uint64_t bits = c->count * 8;
	size_t have = (size_t)(c->count % 64);

	/* Pad with 0x80, zeros, and the message length in bits (§5.1.1). */
	c->block[have++] = 0x80;
	if (have > 56) {
		memset(c->block + have, 0, 64 - have);
		compress(c->h, c->block);
		have = 0;
	}
	memset(c->block + have, 0, 56 - have);
	put32(c->block + 56, (uint32_t)(bits >> 32));
	put32(c->block + 60, (uint32_t)bits);
	compress(c->h, c->block);

	for (int i = 0; i < 5; i++)
		put32(out + 4 * i, c->h[i]);
	memset(c, 0, sizeof *c);
}

void sha1(const void *data, size_t len, uint8_t out[static SHA1_LEN])
{
	struct sha1 c;

	sha1_init(&c);
	sha1_update(&c, data, len);
	sha1_final(&c, out);
}
