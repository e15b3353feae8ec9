/* SPDX-License-Identifier: MIT */
/*
 * unit_admit.c: cases for admit.c: the victim is the oldest connection of
 * the source holding the most, sources come and go, bad ids are ignored,
 * and a randomized run of adds and deletes over few and many sources
 * checks every answer against a plain model kept here (per-source lists
 * searched in full). The harness is unit.c's.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../admit.h"
#include "unit.h"

static void key(uint8_t k[static ADMIT_KEY_LEN], unsigned src)
{
	memset(k, 0, ADMIT_KEY_LEN);
	k[10] = k[11] = 0xff;
	k[12] = 192;
	k[13] = 0;
	k[14] = (uint8_t)(src >> 8);
	k[15] = (uint8_t)src;
}

static void add(struct admit *a, unsigned id, unsigned src)
{
	uint8_t k[ADMIT_KEY_LEN];

	key(k, src);
	admit_add(a, id, k);
}

static unsigned of(const struct admit *a, unsigned src)
{
	uint8_t k[ADMIT_KEY_LEN];

	key(k, src);
	return admit_of(a, k);
}

/* The flooder loses first, oldest first; the lone client is never named. */
static void victim_is_flooders_oldest(void)
{
	struct admit *a = admit_new(16, 1);

	CHECK(a != NULL);
	if (!a)
		return;
	CHECK(admit_victim(a) == -1);
	add(a, 0, 7);          /* the real client, first in */
	for (unsigned id = 1; id <= 5; id++)
		add(a, id, 1); /* the flood */
	CHECK(admit_count(a) == 6);
	CHECK(of(a, 1) == 5 && of(a, 7) == 1 && of(a, 9) == 0);
	CHECK(admit_victim(a) == 1);
	admit_del(a, 1);
	CHECK(admit_victim(a) == 2);
	admit_del(a, 3);       /* from the middle of its list */
	CHECK(admit_victim(a) == 2);
	admit_del(a, 2);
	CHECK(admit_victim(a) == 4);
	admit_del(a, 4);
	admit_del(a, 5);
	CHECK(admit_victim(a) == 0);
	admit_del(a, 0);
	CHECK(admit_victim(a) == -1 && admit_count(a) == 0);
	admit_free(a);
}

/* A second source overtakes the first once it holds more. */
static void victim_follows_counts(void)
{
	struct admit *a = admit_new(8, 2);

	if (!a) {
		CHECK(a != NULL);
		return;
	}
	add(a, 0, 1);
	add(a, 1, 1);
	add(a, 2, 2);
	CHECK(admit_victim(a) == 0);
	add(a, 3, 2);
	add(a, 4, 2);
	CHECK(admit_victim(a) == 2);
	admit_del(a, 2);
	admit_del(a, 3);
	CHECK(admit_victim(a) == 0);
	admit_free(a);
}

/* Ids out of range, counted twice, or not counted change nothing. */
static void bad_ids_ignored(void)
{
	struct admit *a = admit_new(4, 3);

	if (!a) {
		CHECK(a != NULL);
		return;
	}
	add(a, 9, 1);
	CHECK(admit_count(a) == 0);
	add(a, 1, 1);
	add(a, 1, 2);
	CHECK(admit_count(a) == 1 && of(a, 1) == 1 && of(a, 2) == 0);
	admit_del(a, 2);
	admit_del(a, 7);
	CHECK(admit_count(a) == 1 && admit_has(a, 1) && !admit_has(a, 2));
	CHECK(admit_new(0, 0) == NULL);
	admit_free(a);
	admit_free(NULL);
}

/* ---- The model ---- */

#define M_CAP 64

struct model {
	int src[M_CAP];        /* -1: not counted */
	unsigned order[M_CAP]; /* when it was added */
	unsigned clock;
};

static long model_victim(const struct model *m)
{
	unsigned count[1024] = { 0 }, best = 0;
	long victim = -1;

	for (unsigned i = 0; i < M_CAP; i++)
		if (m->src[i] >= 0 && ++count[m->src[i]] > best)
			best = count[m->src[i]];
	for (unsigned i = 0; i < M_CAP; i++)
		if (m->src[i] >= 0 && count[m->src[i]] == best &&
		    (victim < 0 || m->order[i] < m->order[victim]))
			victim = (long)i;
	return victim;
}

/* The victim's source holds the most, and the victim is its oldest. */
static bool victim_ok(const struct admit *a, const struct model *m)
{
	long v = admit_victim(a), want = model_victim(m);
	unsigned best = 0, n_v = 0;

	if (want < 0 || v < 0)
		return want == v;
	for (unsigned i = 0; i < M_CAP; i++) {
		unsigned n = 0;
		if (m->src[i] < 0)
			continue;
		for (unsigned j = 0; j < M_CAP; j++)
			n += m->src[j] == m->src[i];
		if (n > best)
			best = n;
		if ((long)i == v)
			n_v = n;
	}
	if (m->src[v] < 0 || n_v != best)
		return false;
	for (unsigned i = 0; i < M_CAP; i++)
		if (m->src[i] == m->src[v] && m->order[i] < m->order[v])
			return false;
	return true;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void against_model(unsigned sources, uint32_t seed)
{
	struct admit *a = admit_new(M_CAP, seed);
	struct model m;
	unsigned bad = 0;

	if (!a) {
		CHECK(a != NULL);
		return;
	}
	memset(&m, 0, sizeof m);
	for (unsigned i = 0; i < M_CAP; i++)
		m.src[i] = -1;
	for (int step = 0; step < 20000; step++) {
		unsigned id = rnd(&seed) % M_CAP;
		if (m.src[id] < 0 && rnd(&seed) % 3) {
			unsigned s = rnd(&seed) % sources;
			add(a, id, s);
			m.src[id] = (int)s;
			m.order[id] = m.clock++;
		} else if (m.src[id] >= 0) {
			admit_del(a, id);
			m.src[id] = -1;
		}
		unsigned n = 0;
		for (unsigned i = 0; i < M_CAP; i++)
			n += m.src[i] >= 0;
		if (admit_count(a) != n || !victim_ok(a, &m) ||
		    (m.src[id] >= 0) != admit_has(a, id))
			bad++;
	}
	CHECK(bad == 0);
	admit_free(a);
}

static void model_few_sources(void)
{
	against_model(3, 0x1234567u);
}

static void model_many_sources(void)
{
	against_model(1000, 0x89abcdefu);
}

const struct unit_case unit_admit[] = {
	{ "admit_victim_is_flooders_oldest", victim_is_flooders_oldest },
	{ "admit_victim_follows_counts", victim_follows_counts },
	{ "admit_bad_ids_ignored", bad_ids_ignored },
	{ "admit_model_few_sources", model_few_sources },
	{ "admit_model_many_sources", model_many_sources },
	{ NULL, NULL },
};
