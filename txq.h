/* SPDX-License-Identifier: MIT */
/*
 * txq.h: a link's send queue: the frames waiting for its socket, in the
 * order they must leave, and which of them to drop. Pure: no syscalls;
 * link.c writes the frames (their headers too) and hands the pieces to the
 * socket or to TLS.
 *
 * Two lanes of contiguous records, each in one byte ring, so that a packet
 * is read from the TUN straight into its place and many records leave in
 * one sendmsg:
 * - the bulk lane, for every record (up to a super-packet), under CoDel
 *   (RFC 8289): a record that waited over TXQ_TARGET_MS at the head, for an
 *   interval, is dropped, ever more often while the delay stays;
 * - the fast lane, for small packets of sparse flows, those with nothing
 *   queued (RFC 8290 §4.1's new flows): a ping or a keystroke goes before a
 *   bulk flow's backlog instead of behind it.
 * Records leave lane by lane, the fast one first, except that a record
 * begun is finished first, HTTP heads go before everything, and control
 * frames go between records, never inside one, never before an HTTP head.
 *
 * A lane's ring exists only while it is in use: it is allocated by the
 * first txq_room, and txq_trim, from the owner's timer, gives it back once
 * the lane has queued nothing for TXQ_IDLE_MS, so that an idle link holds
 * no ring (control frames, a ping's pong, need none). Traffic of a packet
 * every second or more keeps it: no allocation per packet.
 */
#ifndef VPNGW_TXQ_H
#define VPNGW_TXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TXQ_BYTES       (1024 * 1024)   /* the bulk lane; then tail drop */
#define TXQ_RECS        256
#define TXQ_FAST_BYTES  (16 * 1024)    /* the fast lane */
#define TXQ_FAST_RECS   64
#define TXQ_FAST_MAX    1600           /* the largest record it takes */
#define TXQ_FLOWS       255            /* flow buckets */
#define TXQ_FLOW_NONE   255            /* a record of no flow (a head, text) */
#define TXQ_CTRL_CAP    256            /* control frames waiting */
#define TXQ_IOV         (TXQ_RECS + TXQ_FAST_RECS + 2)
#define TXQ_TARGET_MS   5              /* CoDel's target and interval */
#define TXQ_INTERVAL_MS 100
#define TXQ_IDLE_MS     2000           /* an unused lane's ring goes */

struct txq_rec {
	uint32_t off, len;     /* where the record lies in its lane's ring */
	uint32_t born;         /* when it was queued, ms (the low bits) */
	uint8_t ordered;       /* an HTTP head: nothing jumps it */
	uint8_t flow;          /* its flow bucket, or TXQ_FLOW_NONE */
};

struct txq_lane {
	uint8_t *buf;          /* cap bytes, then nrec records: at first use */
	struct txq_rec *rec;
	uint32_t cap, nrec;
	unsigned head, count;
	size_t head_sent;      /* bytes of the head record written */
	size_t bytes;          /* bytes queued */
	size_t used_max;       /* high-water mark, wiped at free */
	bool used;             /* a record since the last txq_trim */
	uint64_t active;       /* the last txq_trim that saw it in use, ms */
};

struct txq {
	struct txq_lane bulk, fast;
	uint16_t flows[TXQ_FLOWS];  /* records queued per flow, both lanes */
	size_t ctrl_len;
	uint8_t ctrl[TXQ_CTRL_CAP]; /* control frames, whole */
	bool dropping;              /* CoDel (RFC 8289 §5) */
	uint32_t first_above, drop_next, drops, last_drops;
};

void txq_init(struct txq *q);
/* Frees the rings, wiping what they held. */
void txq_free(struct txq *q);
/*
 * As of now (ms): frees the ring of each lane that is empty and has taken
 * no record (nor given room) since a txq_trim at least TXQ_IDLE_MS ago.
 * The next txq_room allocates it again.
 */
void txq_trim(struct txq *q, uint64_t now);
/* When txq_trim may next have something to do (ms): UINT64_MAX while no
 * lane holds a ring. */
uint64_t txq_due(const struct txq *q);

/*
 * Room for a record of up to need bytes in a lane (the fast one when fast):
 * a pointer to its first byte, or NULL when the lane is full (or cannot
 * allocate its ring). Valid until the next txq_push or txq_room.
 */
uint8_t *txq_room(struct txq *q, bool fast, size_t need);
/*
 * Queues the len bytes at p, which lie in the room txq_room(q, fast, ...)
 * gave, as one record of flow (TXQ_FLOW_NONE for none) queued at now (ms).
 * ordered: an HTTP head.
 */
void txq_push(struct txq *q, bool fast, const uint8_t *p, size_t len, bool ordered,
	      uint8_t flow, uint64_t now);
/*
 * Appends a whole control frame f[0..len) when it fits with keep bytes to
 * spare (room kept for a close frame). Returns false when it does not.
 */
bool txq_ctrl(struct txq *q, const uint8_t *f, size_t len, size_t keep);

/* Whether flow has no record queued in either lane: a sparse flow. */
bool txq_sparse(const struct txq *q, uint8_t flow);
/* Records waiting, both lanes. */
unsigned txq_records(const struct txq *q);
/* Whether anything waits (records or control frames). */
bool txq_pending(const struct txq *q);
/* Forgets the records not yet begun that are not HTTP heads. */
void txq_drop_unsent(struct txq *q);

/*
 * CoDel at the bulk lane's head, as of now (ms): drops the first records
 * not yet begun that waited too long, as RFC 8289's dequeue does (a record
 * begun is always finished). Returns how many.
 */
unsigned txq_codel(struct txq *q, uint64_t now);

/* The bytes waiting, in the order they must leave, into iov[TXQ_IOV].
 * Returns the number of iovecs. */
int txq_pieces(const struct txq *q, struct iovec *iov);
/* Drops n bytes written, in the order txq_pieces gave them. */
void txq_consume(struct txq *q, size_t n);

#endif
