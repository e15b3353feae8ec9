/* SPDX-License-Identifier: MIT */
/*
 * limit.c: token buckets and the table of them by source (see limit.h).
 * Every product is bounded before it is made: a refill is computed only
 * for an interval short enough to leave the bucket not yet full, so that
 * rate * interval <= cap + rate, far below 2^64 for rates up to LIMIT_MAX.
 * Sources are hashed with admit.c's keyed hash.
 */
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "limit.h"

_Static_assert(LIMIT_KEY_LEN == ADMIT_KEY_LEN, "a source is one key for both tables");

static uint64_t clamp(uint64_t v)
{
	return v < 1 ? 1 : v > LIMIT_MAX ? LIMIT_MAX : v;
}

void limit_rate_init(struct limit_rate *r, uint64_t per_s, uint64_t burst)
{
	r->per_s = per_s ? clamp(per_s) : 0;
	r->cap = clamp(burst) * 1000;
}

uint64_t limit_burst_bits(uint64_t per_s)
{
	uint64_t b = per_s / 10;

	return b < 65536 * 8 ? 65536 * 8 : b;
}

void limit_fill(struct limit_bucket *b, const struct limit_rate *r, uint64_t now)
{
	b->level = r->cap;
	b->last = now;
}

/* Adds what the time since b->last is worth, up to the cap. */
static void refill(struct limit_bucket *b, const struct limit_rate *r, uint64_t now)
{
	if (now <= b->last)
		return;
	uint64_t dt = now - b->last;
	b->last = now;
	if (b->level >= r->cap || dt > (r->cap - b->level) / r->per_s) {
		b->level = r->cap;
		return;
	}
	b->level += dt * r->per_s;
}

bool limit_take(struct limit_bucket *b, const struct limit_rate *r, uint64_t cost,
		uint64_t now)
{
	if (!r->per_s)
		return true;
	refill(b, r, now);
	cost = cost > LIMIT_MAX ? LIMIT_MAX * 1000 : cost * 1000;
	if (b->level < cost)
		return false;
	b->level -= cost;
	return true;
}

/* ==== The table by source ==== */

struct entry {
	uint8_t key[LIMIT_KEY_LEN];
	bool used;
	struct limit_bucket b;
};

struct limit_table {
	struct limit_rate r;
	uint64_t seed;
	unsigned mask;             /* sets - 1 */
	struct entry *e;           /* sets * LIMIT_WAYS */
};

struct limit_table *limit_table_new(unsigned n, const struct limit_rate *r, uint64_t seed)
{
	struct limit_table *t = calloc(1, sizeof *t);
	unsigned sets = 1;

	while (sets * LIMIT_WAYS < n && sets < (1u << 24))
		sets *= 2;
	if (t)
		t->e = calloc((size_t)sets * LIMIT_WAYS, sizeof *t->e);
	if (!t || !t->e) {
		limit_table_free(t);
		return NULL;
	}
	t->r = *r;
	t->seed = seed;
	t->mask = sets - 1;
	return t;
}

void limit_table_free(struct limit_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t);
}

static unsigned set_of(const struct limit_table *t, const uint8_t key[static LIMIT_KEY_LEN])
{
	return (unsigned)admit_hash(t->seed, key) & t->mask;
}

/* The entry of key in its set, or the one it replaces (started full). */
static struct entry *lookup(struct limit_table *t, const uint8_t key[static LIMIT_KEY_LEN],
			    uint64_t now)
{
	struct entry *set = &t->e[(size_t)set_of(t, key) * LIMIT_WAYS], *victim = set;

	for (unsigned i = 0; i < LIMIT_WAYS; i++) {
		struct entry *e = &set[i];
		if (e->used && !memcmp(e->key, key, LIMIT_KEY_LEN))
			return e;
		if (!e->used) {
			victim = e;
			break;
		}
		refill(&e->b, &t->r, now);
		if (victim->used && e->b.level > victim->b.level)
			victim = e;
	}
	memcpy(victim->key, key, LIMIT_KEY_LEN);
	victim->used = true;
	limit_fill(&victim->b, &t->r, now);
	return victim;
}

bool limit_table_take(struct limit_table *t, const uint8_t key[static LIMIT_KEY_LEN],
		      uint64_t now)
{
	if (!t->r.per_s)
		return true;
	return limit_take(&lookup(t, key, now)->b, &t->r, 1, now);
}
