/* SPDX-License-Identifier: MIT */
/*
 * limit.h: token buckets, one arithmetic for every rate the gateway
 * holds peers to: each client's bits a second each way (--client-rate),
 * and each source address's new connections a second (--handshake-rate),
 * the latter in a fixed table of buckets by source. Pure: the caller
 * passes the time (milliseconds, once per wake) and decides what a unit
 * and a source are. No syscalls, no allocation after limit_table_new.
 */
#ifndef VPNGW_LIMIT_H
#define VPNGW_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define LIMIT_KEY_LEN  16                /* as ADMIT_KEY_LEN: a source */
#define LIMIT_MAX      1000000000000000ull /* largest rate, and burst (units) */

/* A rate: units a second (bits, connections), and the burst a full bucket
 * holds. Levels are kept in thousandths of a unit, so that a rate in units
 * a second adds exactly `per_s` thousandths each millisecond: no rounding,
 * whatever the rate, from 1 unit a second to LIMIT_MAX. */
struct limit_rate {
	uint64_t per_s;        /* 0: no limit */
	uint64_t cap;          /* the burst, in thousandths */
};

struct limit_bucket {
	uint64_t level;        /* thousandths of a unit in hand */
	uint64_t last;         /* ms of the last refill */
};

/* per_s units a second with a burst of burst units, both clamped to
 * 1..LIMIT_MAX (per_s 0 stays 0: no limit). */
void limit_rate_init(struct limit_rate *r, uint64_t per_s, uint64_t burst);

/* The burst for a link of per_s bits a second: 100 ms of it, and never
 * less than 64 KiB, so that the largest packet always fits. */
uint64_t limit_burst_bits(uint64_t per_s);

/* A full bucket as of now. */
void limit_fill(struct limit_bucket *b, const struct limit_rate *r, uint64_t now);

/* Takes cost units (at most LIMIT_MAX) from b after refilling it to now;
 * false, taking nothing, when it holds fewer. Always true without a limit.
 * A clock that goes back refills nothing. */
bool limit_take(struct limit_bucket *b, const struct limit_rate *r, uint64_t cost,
		uint64_t now);

/*
 * A bucket per source in a fixed table: sets of LIMIT_WAYS entries, the
 * set chosen by a keyed hash (seed from getrandom), so that no peer can
 * pick sources that share one. A source not in its set takes the place of
 * the entry with the most in hand: a full bucket tells nothing a new one
 * would not, so the sources replaced first are those idle longest, and an
 * entry replaced is only ever forgiven (it starts full again), never
 * refused. A flood from many sources thus cannot make an honest source be
 * refused, and the drained buckets of busy sources are the last to go.
 */
#define LIMIT_WAYS 4

struct limit_table;

/* A table of at least n sources (rounded up to a power of two sets).
 * NULL when out of memory. */
struct limit_table *limit_table_new(unsigned n, const struct limit_rate *r, uint64_t seed);
void limit_table_free(struct limit_table *t);

/* One unit for source key at now: true when its bucket had it. */
bool limit_table_take(struct limit_table *t, const uint8_t key[static LIMIT_KEY_LEN],
		      uint64_t now);

#endif
