/* SPDX-License-Identifier: MIT */
/*
 * base64.c: padded base64 (RFC 4648 §4) in constant time, after WireGuard's
 * encoding.c: each character is computed from the 6-bit value by arithmetic
 * on ranges, and decoded back the same way, so no table is indexed by data
 * and no branch depends on it. Only the length and where the padding sits
 * (which the length already tells) decide the control flow.
 */
#include <limits.h>

#include "base64.h"

/* A 6-bit value to its character (§4, table 1), without a table. */
static char enc6(unsigned v)
{
	int x = (int)v;

	return (char)(x + 'A'
	              + (((25 - x) >> 8) & 6)
	              - (((51 - x) >> 8) & 75)
	              - (((61 - x) >> 8) & 15)
	              + (((62 - x) >> 8) & 3));
}

/*
 * A character to its 6-bit value, or -1. Each range term is -1 & (c - base)
 * when c lies in the range, else 0; exactly one term fires for a valid c.
 */
static int dec6(char ch)
{
	int c = (unsigned char)ch;

	return -1
	       + ((((('A' - 1) - c) & (c - ('Z' + 1))) >> 8) & (c - 64))
	       + ((((('a' - 1) - c) & (c - ('z' + 1))) >> 8) & (c - 70))
	       + ((((('0' - 1) - c) & (c - ('9' + 1))) >> 8) & (c + 5))
	       + ((((('+' - 1) - c) & (c - ('+' + 1))) >> 8) & 63)
	       + ((((('/' - 1) - c) & (c - ('/' + 1))) >> 8) & 64);
}

size_t base64_encode(char *out, const uint8_t *in, size_t len)
{
	size_t i, o = 0;

	for (i = 0; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = enc6(v >> 18);
		out[o++] = enc6((v >> 12) & 63);
		out[o++] = enc6((v >> 6) & 63);
		out[o++] = enc6(v & 63);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = enc6(v >> 18);
		out[o++] = enc6((v >> 12) & 63);
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = enc6(v >> 18);
		out[o++] = enc6((v >> 12) & 63);
		out[o++] = enc6((v >> 6) & 63);
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

long base64_decode(uint8_t *out, size_t out_cap, const char *in, size_t in_len)
{
	size_t pad, n, o = 0;
	int bad = 0;

	/* The length decides everything public: quartets, padding, size. */
	if (in_len % 4 != 0)
		return -1;
	if (in_len == 0)
		return 0;
	pad = in[in_len - 1] == '=' ? (in[in_len - 2] == '=' ? 2 : 1) : 0;
	n = in_len / 4 * 3 - pad;
	if (n > out_cap || n > LONG_MAX)
		return -1;

	/* Whole quartets; an invalid character (or a stray '=') is -1. */
	for (size_t i = 0; i + 4 < in_len || (i + 4 == in_len && !pad); i += 4) {
		int a = dec6(in[i]), b = dec6(in[i + 1]);
		int c = dec6(in[i + 2]), d = dec6(in[i + 3]);
		uint32_t v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 |
		             (uint32_t)(c & 63) << 6 | (uint32_t)(d & 63);

		bad |= a | b | c | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}

	/*
	 * The padded quartet: the bits the padding drops must be zero, or the
	 * encoding is not canonical (§3.5).
	 */
	if (pad) {
		const char *q = in + in_len - 4;
		int a = dec6(q[0]), b = dec6(q[1]);
		uint32_t v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12;

		bad |= a | b;
		if (pad == 1) {
			int c = dec6(q[2]);

			bad |= c;
			v |= (uint32_t)(c & 63) << 6;
		}
		bad |= -(int)((v & (pad == 2 ? 0xffffu : 0xffu)) != 0);
		out[o++] = (uint8_t)(v >> 16);
		if (pad == 1)
			out[o++] = (uint8_t)(v >> 8);
	}
	/* Only now, once everything was read, look at the error bits. */
	if (bad < 0)
		return -1;
	return (long)o;
}
