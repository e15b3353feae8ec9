/* SPDX-License-Identifier: MIT */
/*
 * unit_limit.c: cases for limit.c: the bucket's arithmetic at both ends
 * of its range (1 bit/s, 100 Gbit/s, LIMIT_MAX) with no overflow and no
 * rounding loss, a clock that goes back, and the table by source: one
 * source refused after its burst while another gets in, and a flood of
 * new sources that replaces idle entries, never a drained one.
 */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "../limit.h"

static void key(uint8_t k[static LIMIT_KEY_LEN], uint32_t src)
{
	memset(k, 0, LIMIT_KEY_LEN);
	k[10] = k[11] = 0xff;
	k[12] = (uint8_t)(src >> 24);
	k[13] = (uint8_t)(src >> 16);
	k[14] = (uint8_t)(src >> 8);
	k[15] = (uint8_t)src;
}

/* The burst goes at once; then exactly per_s a second, whatever the steps. */
static void bucket_burst_then_rate(void)
{
	struct limit_rate r;
	struct limit_bucket b;
	uint64_t got = 0;

	limit_rate_init(&r, 1000, 500);
	limit_fill(&b, &r, 5);
	CHECK(limit_take(&b, &r, 500, 5));
	CHECK(!limit_take(&b, &r, 1, 5));
	/* 3 ms: 3 units back. */
	CHECK(limit_take(&b, &r, 3, 8));
	CHECK(!limit_take(&b, &r, 1, 8));
	/* Ten seconds in steps of 1 ms, taking one unit at a time. */
	for (uint64_t t = 9; t <= 10008; t++)
		while (limit_take(&b, &r, 1, t))
			got++;
	CHECK(got == 10000);
	/* Long idle: full again, never more than the burst. */
	CHECK(limit_take(&b, &r, 500, 1000000));
	CHECK(!limit_take(&b, &r, 1, 1000000));
}

/* 1 bit/s keeps every thousandth across calls: 1 bit each second. */
static void bucket_one_bit(void)
{
	struct limit_rate r;
	struct limit_bucket b;
	unsigned got = 0;

	limit_rate_init(&r, 1, limit_burst_bits(1));
	CHECK(r.cap == 65536 * 8 * 1000ull);
	limit_fill(&b, &r, 0);
	CHECK(limit_take(&b, &r, 65536 * 8, 0));
	for (uint64_t t = 1; t <= 10000; t++)
		got += limit_take(&b, &r, 1, t);
	CHECK(got == 10);
}

/* 100 Gbit/s and LIMIT_MAX: a day idle, the largest costs, no overflow. */
static void bucket_no_overflow(void)
{
	static const uint64_t rates[] = { 100000000000ull, LIMIT_MAX };
	struct limit_rate r;
	struct limit_bucket b;

	for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		uint64_t burst = limit_burst_bits(rates[i]);
		limit_rate_init(&r, rates[i], burst);
		CHECK(r.cap == burst * 1000);
		CHECK(burst == rates[i] / 10);
		limit_fill(&b, &r, 0);
		CHECK(limit_take(&b, &r, burst, 0));
		CHECK(!limit_take(&b, &r, 1, 0));
		CHECK(limit_take(&b, &r, burst, 86400000));
		CHECK(b.level == 0);
		/* 1 ms: rate / 1000 units. */
		CHECK(limit_take(&b, &r, rates[i] / 1000, 86400001));
		CHECK(!limit_take(&b, &r, 1, 86400001));
		CHECK(!limit_take(&b, &r, UINT64_MAX, UINT64_MAX));
		CHECK(b.level == r.cap);
	}
	/* Out of range: clamped, not wrapped. */
	limit_rate_init(&r, UINT64_MAX, UINT64_MAX);
	CHECK(r.per_s == LIMIT_MAX && r.cap == LIMIT_MAX * 1000);
}

/* No limit costs nothing and refuses nothing; a clock going back adds
 * nothing. */
static void bucket_off_and_clock(void)
{
	struct limit_rate r;
	struct limit_bucket b = { 0, 0 };

	limit_rate_init(&r, 0, 10);
	CHECK(limit_take(&b, &r, UINT64_MAX, 0));
	CHECK(b.level == 0 && b.last == 0);
	limit_rate_init(&r, 1000, 10);
	limit_fill(&b, &r, 100);
	CHECK(limit_take(&b, &r, 10, 100));
	CHECK(!limit_take(&b, &r, 1, 50));
	CHECK(b.last == 100);
	CHECK(limit_take(&b, &r, 1, 101));
}

/* 20 a second: the 21st of one source in the same instant is refused,
 * another source gets in, and the first one is back after 50 ms. */
static void table_rate_per_source(void)
{
	struct limit_rate r;
	struct limit_table *t;
	uint8_t a[LIMIT_KEY_LEN], b[LIMIT_KEY_LEN];
	unsigned n = 0;

	limit_rate_init(&r, 20, 20);
	t = limit_table_new(64, &r, 42);
	CHECK(t != NULL);
	if (!t)
		return;
	key(a, 0xc0000201);
	key(b, 0xc0000202);
	for (int i = 0; i < 30; i++)
		n += limit_table_take(t, a, 1000);
	CHECK(n == 20);
	CHECK(limit_table_take(t, b, 1000));
	CHECK(!limit_table_take(t, a, 1049));
	CHECK(limit_table_take(t, a, 1050));
	CHECK(!limit_table_take(t, a, 1050));
	limit_table_free(t);
}

/* A flood of 100000 new sources through a small table: the drained
 * source stays refused all along (it is never the entry replaced while an
 * entry with more in hand shares its set), and a table with no limit
 * refuses nothing. */
static void table_flood_keeps_drained(void)
{
	struct limit_rate r;
	struct limit_table *t;
	uint8_t a[LIMIT_KEY_LEN], k[LIMIT_KEY_LEN];
	unsigned refused = 0, flood_refused = 0;

	limit_rate_init(&r, 1, 5);
	t = limit_table_new(256, &r, 7);
	CHECK(t != NULL);
	if (!t)
		return;
	key(a, 0x0a000001);
	while (limit_table_take(t, a, 0))
		;
	for (uint32_t i = 0; i < 100000; i++) {
		key(k, 0xcb007100 + i);
		flood_refused += !limit_table_take(t, k, 0);
		if (i % 1000 == 0)
			refused += !limit_table_take(t, a, 0);
	}
	CHECK(refused == 100);
	CHECK(flood_refused == 0);
	limit_table_free(t);
	limit_rate_init(&r, 0, 1);
	t = limit_table_new(1, &r, 7);
	CHECK(t != NULL);
	for (int i = 0; t && i < 1000; i++)
		CHECK(limit_table_take(t, a, 0));
	limit_table_free(t);
}

const struct unit_case unit_limit[] = {
	{ "limit_bucket_burst_then_rate", bucket_burst_then_rate },
	{ "limit_bucket_one_bit", bucket_one_bit },
	{ "limit_bucket_no_overflow", bucket_no_overflow },
	{ "limit_bucket_off_and_clock", bucket_off_and_clock },
	{ "limit_table_rate_per_source", table_rate_per_source },
	{ "limit_table_flood_keeps_drained", table_flood_keeps_drained },
	{ NULL, NULL },
};
