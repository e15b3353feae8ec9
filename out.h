/* SPDX-License-Identifier: MIT */
/*
 * out.h: a bounded cursor for the text vpngw writes into a caller's buffer
 * (HTTP heads in ws.c, the vpngw.v1 assignment in v1.c): appends that do
 * not fit are dropped, and the overflow sticks, so that a writer checks
 * once, at the end. Pure and header-only; the buffer is the caller's.
 */
#ifndef VPNGW_OUT_H
#define VPNGW_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct out {
	char *p;
	size_t cap, len;
	bool overflow;
};

/* len bytes at the end, to be written by the caller; NULL once full. */
static inline char *out_room(struct out *o, size_t len)
{
	char *p;

	if (o->overflow || len > o->cap - o->len) {
		o->overflow = true;
		return NULL;
	}
	p = o->p + o->len;
	o->len += len;
	return p;
}

static inline void out_mem(struct out *o, const char *s, size_t len)
{
	char *p = out_room(o, len);

	if (p && len)
		memcpy(p, s, len);
}

static inline void out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

/* v in decimal, all 64 bits of it where a long has 32. */
static inline void out_uint(struct out *o, uint64_t v)
{
	char d[24];
	size_t i = sizeof d;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	out_mem(o, d + i, sizeof d - i);
}

/* The length written, or 0 if anything did not fit. */
static inline size_t out_done(const struct out *o)
{
	return o->overflow ? 0 : o->len;
}

#endif
