/* SPDX-License-Identifier: MIT */
/*
 * txq.c: a link's send queue (see txq.h): two lanes of records in byte
 * rings, the control frames, the order in which all of it leaves, and
 * CoDel at the bulk lane's head. No syscalls: link.c does the writing.
 */
#include <stdlib.h>
#include <string.h>

#include "txq.h"

#define MTU_BYTES 1514   /* RFC 8289 §5: below one MTU queued, no drop */

/* ==== Lanes ==== */

static void lane_init(struct txq_lane *l, uint32_t cap, uint32_t nrec)
{
	memset(l, 0, sizeof *l);
	l->cap = cap;
	l->nrec = nrec;
}

static void lane_free(struct txq_lane *l)
{
	if (l->buf)
		explicit_bzero(l->buf, l->used_max);
	free(l->buf);
	l->buf = NULL;
	l->rec = NULL;
	l->head = l->count = 0;
	l->head_sent = l->bytes = l->used_max = 0;
}

/* An empty lane unused for TXQ_IDLE_MS gives its ring back. */
static void lane_trim(struct txq_lane *l, uint64_t now)
{
	if (!l->buf)
		return;
	if (l->count || l->used) {
		l->used = false;
		l->active = now;
		return;
	}
	if (now - l->active >= TXQ_IDLE_MS)
		lane_free(l);
}

void txq_init(struct txq *q)
{
	memset(q, 0, sizeof *q);
	lane_init(&q->bulk, TXQ_BYTES, TXQ_RECS);
	lane_init(&q->fast, TXQ_FAST_BYTES, TXQ_FAST_RECS);
}

void txq_free(struct txq *q)
{
	lane_free(&q->bulk);
	lane_free(&q->fast);
	explicit_bzero(q->ctrl, sizeof q->ctrl);
	q->ctrl_len = 0;
}

void txq_trim(struct txq *q, uint64_t now)
{
	lane_trim(&q->bulk, now);
	lane_trim(&q->fast, now);
}

uint64_t txq_due(const struct txq *q)
{
	uint64_t due = UINT64_MAX;

	if (q->bulk.buf)
		due = q->bulk.active + TXQ_IDLE_MS;
	if (q->fast.buf && q->fast.active + TXQ_IDLE_MS < due)
		due = q->fast.active + TXQ_IDLE_MS;
	return due;
}

static struct txq_rec *rec_at(const struct txq_lane *l, unsigned i)
{
	return &l->rec[(l->head + i) % l->nrec];
}

/*
 * Finds need contiguous bytes after the newest record, or at the start of
 * the ring once the end is too short (a record never wraps). Returns the
 * offset, or -1 when they are not free.
 */
static long reserve(struct txq_lane *l, size_t need)
{
	size_t first, end;

	if (need > l->cap || l->count == l->nrec)
		return -1;
	if (!l->buf) {
		if (!(l->buf = malloc(l->cap + (size_t)l->nrec * sizeof *l->rec)))
			return -1;
		l->rec = (struct txq_rec *)(void *)(l->buf + l->cap);
	}
	l->used = true;
	if (l->count == 0)
		return 0;
	first = rec_at(l, 0)->off;
	end = rec_at(l, l->count - 1)->off + rec_at(l, l->count - 1)->len;
	if (end > first) {
		if (l->cap - end >= need)
			return (long)end;
		return first >= need ? 0 : -1;
	}
	return first - end >= need ? (long)end : -1;
}

uint8_t *txq_room(struct txq *q, bool fast, size_t need)
{
	struct txq_lane *l = fast ? &q->fast : &q->bulk;
	long off = reserve(l, need);

	return off < 0 ? NULL : l->buf + off;
}

void txq_push(struct txq *q, bool fast, const uint8_t *p, size_t len, bool ordered,
	      uint8_t flow, uint64_t now)
{
	struct txq_lane *l = fast ? &q->fast : &q->bulk;
	struct txq_rec *r = rec_at(l, l->count);
	size_t off = (size_t)(p - l->buf);

	*r = (struct txq_rec){ (uint32_t)off, (uint32_t)len, (uint32_t)now, ordered, flow };
	l->count++;
	l->bytes += len;
	if (off + len > l->used_max)
		l->used_max = off + len;
	if (flow != TXQ_FLOW_NONE)
		q->flows[flow]++;
}

/* The record r leaves the queue: its flow has one less. */
static void gone(struct txq *q, struct txq_lane *l, const struct txq_rec *r)
{
	l->bytes -= r->len;
	if (r->flow != TXQ_FLOW_NONE)
		q->flows[r->flow]--;
}

static void pop(struct txq *q, struct txq_lane *l)
{
	gone(q, l, rec_at(l, 0));
	l->head = (l->head + 1) % l->nrec;
	l->count--;
	l->head_sent = 0;
}

/* Forgets the newest records until keep are left. */
static void forget(struct txq *q, struct txq_lane *l, unsigned keep)
{
	while (l->count > keep) {
		gone(q, l, rec_at(l, l->count - 1));
		l->count--;
	}
}

/* Records that must leave before control frames: a half-written one,
 * then HTTP heads. */
static unsigned leading(const struct txq_lane *l)
{
	unsigned n = 0;

	while (n < l->count && ((n == 0 && l->head_sent) || rec_at(l, n)->ordered))
		n++;
	return n;
}

void txq_drop_unsent(struct txq *q)
{
	forget(q, &q->bulk, leading(&q->bulk));
	forget(q, &q->fast, q->fast.head_sent ? 1 : 0);
}

bool txq_ctrl(struct txq *q, const uint8_t *f, size_t len, size_t keep)
{
	if (len + keep > TXQ_CTRL_CAP - q->ctrl_len)
		return false;
	memcpy(q->ctrl + q->ctrl_len, f, len);
	q->ctrl_len += len;
	return true;
}

bool txq_sparse(const struct txq *q, uint8_t flow)
{
	return flow == TXQ_FLOW_NONE || q->flows[flow] == 0;
}

unsigned txq_records(const struct txq *q)
{
	return q->bulk.count + q->fast.count;
}

bool txq_pending(const struct txq *q)
{
	return q->bulk.count || q->fast.count || q->ctrl_len;
}

/* ==== The order of leaving ==== */

enum src { SRC_CTRL, SRC_FAST, SRC_BULK };

/* One record's unwritten bytes. */
static struct iovec rec_iov(const struct txq_lane *l, unsigned i)
{
	const struct txq_rec *r = rec_at(l, i);
	size_t skip = i == 0 ? l->head_sent : 0;

	return (struct iovec){ l->buf + r->off + skip, r->len - skip };
}

/*
 * The pieces in order (txq.h): a record begun, HTTP heads, control frames,
 * the fast lane, the bulk lane. src[i] says where iov[i] comes from.
 */
static int order(const struct txq *q, struct iovec *iov, uint8_t *src)
{
	const struct txq_lane *b = &q->bulk, *f = &q->fast;
	unsigned bi = 0, fi = 0, lead = leading(b);
	int n = 0;

	if (f->count && f->head_sent && !b->head_sent) {
		src[n] = SRC_FAST;
		iov[n++] = rec_iov(f, fi++);
	}
	for (; bi < lead; bi++) {
		src[n] = SRC_BULK;
		iov[n++] = rec_iov(b, bi);
	}
	if (q->ctrl_len) {
		src[n] = SRC_CTRL;
		iov[n++] = (struct iovec){ (void *)q->ctrl, q->ctrl_len };
	}
	for (; fi < f->count; fi++) {
		src[n] = SRC_FAST;
		iov[n++] = rec_iov(f, fi);
	}
	for (; bi < b->count; bi++) {
		src[n] = SRC_BULK;
		iov[n++] = rec_iov(b, bi);
	}
	return n;
}

int txq_pieces(const struct txq *q, struct iovec *iov)
{
	uint8_t src[TXQ_IOV];

	return order(q, iov, src);
}

void txq_consume(struct txq *q, size_t n)
{
	struct iovec iov[TXQ_IOV];
	uint8_t src[TXQ_IOV];
	int m = order(q, iov, src);

	for (int i = 0; i < m && n; i++) {
		size_t k = n < iov[i].iov_len ? n : iov[i].iov_len;
		struct txq_lane *l = src[i] == SRC_FAST ? &q->fast : &q->bulk;

		n -= k;
		if (src[i] == SRC_CTRL) {
			memmove(q->ctrl, q->ctrl + k, q->ctrl_len - k);
			q->ctrl_len -= k;
			continue;
		}
		l->head_sent += k;
		if (l->head_sent == rec_at(l, 0)->len)
			pop(q, l);
	}
}

/* ==== CoDel (RFC 8289) ==== */

static bool after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

static uint32_t isqrt(uint32_t v)
{
	uint32_t r = 0, bit = 1u << 30;

	while (bit > v)
		bit >>= 2;
	while (bit) {
		if (v >= r + bit) {
			v -= r + bit;
			r = (r >> 1) + bit;
		} else
			r >>= 1;
		bit >>= 2;
	}
	return r;
}

/* RFC 8289 §5.5: the next drop, interval / sqrt(count) after t (as
 * sqrt(interval^2 / count), not rounding sqrt(count) down first). */
static uint32_t control_law(uint32_t t, uint32_t count)
{
	return t + isqrt(TXQ_INTERVAL_MS * TXQ_INTERVAL_MS / (count ? count : 1));
}

/*
 * The record CoDel judges: the first one not begun (the head, or the one
 * after a half-written head: RFC 8289 judges the next packet to leave),
 * when it may go: a packet, not an HTTP head, not a message of no flow.
 * Returns its index, or -1.
 */
static int judged(const struct txq_lane *l)
{
	unsigned k = l->head_sent ? 1 : 0;

	if (k >= l->count || rec_at(l, k)->ordered || rec_at(l, k)->flow == TXQ_FLOW_NONE)
		return -1;
	return (int)k;
}

/* Drops record k (0 or 1: the one after a half-written head). */
static void cut(struct txq *q, struct txq_lane *l, int k)
{
	if (k == 0) {
		pop(q, l);
		return;
	}
	gone(q, l, rec_at(l, 1));
	*rec_at(l, 1) = *rec_at(l, 0);
	l->head = (l->head + 1) % l->nrec;
	l->count--;
}

/* RFC 8289 §5.4's dodequeue: whether the judged record has waited too
 * long; *k is its index. */
static bool above(struct txq *q, uint32_t now, int *k)
{
	const struct txq_lane *l = &q->bulk;

	*k = judged(l);
	if (*k < 0 || now - rec_at(l, (unsigned)*k)->born < TXQ_TARGET_MS ||
	    l->bytes <= MTU_BYTES) {
		q->first_above = 0;
		return false;
	}
	if (q->first_above == 0) {
		q->first_above = (now + TXQ_INTERVAL_MS) | 1;
		return false;
	}
	return after(now, q->first_above);
}

unsigned txq_codel(struct txq *q, uint64_t now64)
{
	uint32_t now = (uint32_t)now64;
	unsigned dropped = 0;
	int k;
	bool ok = above(q, now, &k);

	if (q->dropping) {
		while (ok && after(now, q->drop_next)) {
			cut(q, &q->bulk, k);
			dropped++;
			q->drops++;
			ok = above(q, now, &k);
			q->drop_next = control_law(q->drop_next, q->drops);
		}
		if (!ok)
			q->dropping = false;
	} else if (ok) {
		uint32_t delta = q->drops - q->last_drops;

		cut(q, &q->bulk, k);
		dropped++;
		q->dropping = true;
		q->drops = delta > 1 && !after(now, q->drop_next + 16 * TXQ_INTERVAL_MS) ? delta : 1;
		q->drop_next = control_law(now, q->drops);
		q->last_drops = q->drops;
	}
	return dropped;
}
