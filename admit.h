/* SPDX-License-Identifier: MIT */
/*
 * admit.h: fair admission for the connections that hold no slot (their
 * handshake, or their close). Each is counted against its source; when
 * the table is full, the source holding the most loses its oldest first,
 * so that one flooding host cannot lock out a slow client elsewhere.
 * Pure: ids and addresses in, ids out; the caller owns the connections
 * and decides what a source is (an IPv4 address, an IPv6 /64).
 */
#ifndef VPNGW_ADMIT_H
#define VPNGW_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#define ADMIT_KEY_LEN 16

struct admit;

/* A table for ids 0..cap-1; seed keys its hash (from getrandom), so that
 * no peer can choose colliding sources. NULL when out of memory. */
struct admit *admit_new(unsigned cap, uint64_t seed);
void admit_free(struct admit *a);

/* Counts id (not counted yet, < cap) against source key. O(log n). */
/* A source's hash under a secret seed: FNV-1a from a basis the seed
 * hides, then a final mix, so that a flood cannot aim at one bucket. */
uint64_t admit_hash(uint64_t seed, const uint8_t key[static ADMIT_KEY_LEN]);

void admit_add(struct admit *a, unsigned id, const uint8_t key[static ADMIT_KEY_LEN]);
/* Stops counting id; nothing when it is not counted. O(log n). */
void admit_del(struct admit *a, unsigned id);
bool admit_has(const struct admit *a, unsigned id);

/* How many ids are counted. */
unsigned admit_count(const struct admit *a);
/* The id to close first (the oldest of the source with the most), or -1
 * when none is counted. O(1). */
long admit_victim(const struct admit *a);
/* How many ids source key holds now. */
unsigned admit_of(const struct admit *a, const uint8_t key[static ADMIT_KEY_LEN]);

#endif
