/* SPDX-License-Identifier: MIT */
/*
 * admit.c: fair admission (see admit.h). Each source has a list of its
 * ids, oldest first; sources sit in a hash (linear probing, keyed) and in
 * a max-heap by how many ids they hold, so that adding, removing and
 * naming the next victim cost O(log n) at worst, never a scan. Every
 * array is allocated once, for cap ids. No syscalls, no logging.
 */
#include <stdlib.h>
#include <string.h>

#include "admit.h"

struct source {
	uint8_t key[ADMIT_KEY_LEN];
	unsigned n;        /* ids counted against it */
	int first, last;   /* its oldest and newest id */
	unsigned heap;     /* its place in the heap */
};

struct admit {
	unsigned cap, count;
	uint64_t seed;
	int *src_of;       /* per id: its source, -1 when not counted */
	int *prev, *next;  /* per id: its source's list */
	struct source *src;
	int *spare;        /* unused source entries, a stack */
	unsigned n_spare;
	int *hash;         /* source + 1, 0 when empty */
	unsigned hmask;
	int *heap;         /* sources, the one with the most first */
	unsigned n_heap;
};

/* ==== Hash ==== */

uint64_t admit_hash(uint64_t seed, const uint8_t key[static ADMIT_KEY_LEN])
{
	uint64_t h = seed ^ 0xcbf29ce484222325ull;

	for (int i = 0; i < ADMIT_KEY_LEN; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static unsigned hash_of(const struct admit *a, const uint8_t key[static ADMIT_KEY_LEN])
{
	return (unsigned)admit_hash(a->seed, key) & a->hmask;
}

/* The hash slot holding key, or the empty slot where it would go. */
static unsigned find(const struct admit *a, const uint8_t key[static ADMIT_KEY_LEN])
{
	unsigned i = hash_of(a, key);

	while (a->hash[i] && memcmp(a->src[a->hash[i] - 1].key, key, ADMIT_KEY_LEN))
		i = (i + 1) & a->hmask;
	return i;
}

/* Empties hash slot i, shifting back the entries that probed past it. */
static void unhash(struct admit *a, unsigned i)
{
	unsigned j = i;

	for (;;) {
		j = (j + 1) & a->hmask;
		if (!a->hash[j])
			break;
		unsigned k = hash_of(a, a->src[a->hash[j] - 1].key);
		/* Move j into the hole i unless its home k lies in (i, j]. */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			a->hash[i] = a->hash[j];
			i = j;
		}
	}
	a->hash[i] = 0;
}

/* ==== Heap ==== */

static void heap_set(struct admit *a, unsigned pos, int s)
{
	a->heap[pos] = s;
	a->src[s].heap = pos;
}

static void sift_up(struct admit *a, unsigned pos)
{
	int s = a->heap[pos];

	while (pos > 0) {
		unsigned up = (pos - 1) / 2;
		if (a->src[a->heap[up]].n >= a->src[s].n)
			break;
		heap_set(a, pos, a->heap[up]);
		pos = up;
	}
	heap_set(a, pos, s);
}

static void sift_down(struct admit *a, unsigned pos)
{
	int s = a->heap[pos];

	for (;;) {
		unsigned c = 2 * pos + 1;
		if (c >= a->n_heap)
			break;
		if (c + 1 < a->n_heap && a->src[a->heap[c + 1]].n > a->src[a->heap[c]].n)
			c++;
		if (a->src[a->heap[c]].n <= a->src[s].n)
			break;
		heap_set(a, pos, a->heap[c]);
		pos = c;
	}
	heap_set(a, pos, s);
}

static void heap_remove(struct admit *a, unsigned pos)
{
	int last = a->heap[--a->n_heap];

	if (pos == a->n_heap)
		return;
	heap_set(a, pos, last);
	sift_up(a, pos);
	sift_down(a, a->src[last].heap);
}

/* ==== The table ==== */

struct admit *admit_new(unsigned cap, uint64_t seed)
{
	struct admit *a = calloc(1, sizeof *a);
	unsigned hsize = 4;

	if (!a || cap == 0 || cap > (1u << 24))
		goto fail;
	while (hsize < 2 * cap)
		hsize *= 2;
	a->cap = cap;
	a->seed = seed;
	a->hmask = hsize - 1;
	a->src_of = malloc(cap * sizeof *a->src_of);
	a->prev = malloc(cap * sizeof *a->prev);
	a->next = malloc(cap * sizeof *a->next);
	a->src = calloc(cap, sizeof *a->src);
	a->spare = malloc(cap * sizeof *a->spare);
	a->hash = calloc(hsize, sizeof *a->hash);
	a->heap = malloc(cap * sizeof *a->heap);
	if (!a->src_of || !a->prev || !a->next || !a->src || !a->spare || !a->hash || !a->heap)
		goto fail;
	for (unsigned i = 0; i < cap; i++) {
		a->src_of[i] = -1;
		a->spare[i] = (int)(cap - 1 - i);
	}
	a->n_spare = cap;
	return a;
fail:
	admit_free(a);
	return NULL;
}

void admit_free(struct admit *a)
{
	if (!a)
		return;
	free(a->src_of);
	free(a->prev);
	free(a->next);
	free(a->src);
	free(a->spare);
	free(a->hash);
	free(a->heap);
	free(a);
}

void admit_add(struct admit *a, unsigned id, const uint8_t key[static ADMIT_KEY_LEN])
{
	unsigned h;
	int s;

	if (id >= a->cap || a->src_of[id] >= 0 || !a->n_spare)
		return;
	h = find(a, key);
	if (a->hash[h]) {
		s = a->hash[h] - 1;
	} else {
		s = a->spare[--a->n_spare];
		memcpy(a->src[s].key, key, ADMIT_KEY_LEN);
		a->src[s].n = 0;
		a->src[s].first = a->src[s].last = -1;
		a->hash[h] = s + 1;
		heap_set(a, a->n_heap++, s);
	}
	struct source *src = &a->src[s];
	a->src_of[id] = s;
	a->prev[id] = src->last;
	a->next[id] = -1;
	if (src->last >= 0)
		a->next[src->last] = (int)id;
	else
		src->first = (int)id;
	src->last = (int)id;
	src->n++;
	sift_up(a, src->heap);
	a->count++;
}

void admit_del(struct admit *a, unsigned id)
{
	int s;

	if (id >= a->cap || (s = a->src_of[id]) < 0)
		return;
	struct source *src = &a->src[s];
	if (a->prev[id] >= 0)
		a->next[a->prev[id]] = a->next[id];
	else
		src->first = a->next[id];
	if (a->next[id] >= 0)
		a->prev[a->next[id]] = a->prev[id];
	else
		src->last = a->prev[id];
	a->src_of[id] = -1;
	a->count--;
	if (--src->n) {
		sift_down(a, src->heap);
		return;
	}
	heap_remove(a, src->heap);
	unhash(a, find(a, src->key));
	a->spare[a->n_spare++] = s;
}

bool admit_has(const struct admit *a, unsigned id)
{
	return id < a->cap && a->src_of[id] >= 0;
}

unsigned admit_count(const struct admit *a)
{
	return a->count;
}

long admit_victim(const struct admit *a)
{
	return a->n_heap ? a->src[a->heap[0]].first : -1;
}

unsigned admit_of(const struct admit *a, const uint8_t key[static ADMIT_KEY_LEN])
{
	unsigned h = find(a, key);

	return a->hash[h] ? a->src[a->hash[h] - 1].n : 0;
}
