/* SPDX-License-Identifier: MIT */
/*
 * unit_txq.c: table-driven cases for txq.c, the send queue: the byte rings
 * of both lanes against a FIFO model over many wrap-arounds (records never
 * wrap, room refused by bytes and by record count, given back once
 * consumed), the order in which records, HTTP heads and control frames
 * leave, the control frames' reserve, the per-flow counts behind
 * txq_sparse, txq_drop_unsent, txq_records and txq_pending, and CoDel at
 * the bulk lane's head: when it starts, the spacing of its drops, when it
 * stops, what it never drops, and the clock's uint32 wrap-around; and the
 * rings given back once unused (txq_trim).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../txq.h"
#include "unit.h"

static struct txq q;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The byte at position i of a lane's stream. */
static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i ^ (i >> 8) * 31 ^ (i >> 16) * 7);
}

/* A socket taking k bytes: the first k bytes of the pieces into out (when
 * not NULL), then consumed. Returns how many there were. */
static size_t take(size_t k, uint8_t *out)
{
	struct iovec iov[TXQ_IOV];
	int n = txq_pieces(&q, iov);
	size_t got = 0;

	for (int i = 0; i < n && got < k; i++) {
		size_t m = iov[i].iov_len < k - got ? iov[i].iov_len : k - got;
		if (out)
			memcpy(out + got, iov[i].iov_base, m);
		got += m;
	}
	txq_consume(&q, got);
	return got;
}

/* Queues len bytes of tag as one record. Returns false when refused. */
static bool push(bool fast, size_t len, uint8_t tag, bool ordered, uint8_t flow, uint64_t now)
{
	uint8_t *p = txq_room(&q, fast, len);

	if (!p)
		return false;
	memset(p, tag, len);
	txq_push(&q, fast, p, len, ordered, flow, now);
	return true;
}

/* ---- Rings ---- */

/* Pushes and random-sized takes on one lane, against a FIFO of the bytes
 * expected, until the ring wrapped around many times. */
static void ring_model(bool fast, size_t max, uint32_t seed)
{
	const struct txq_lane *l = fast ? &q.fast : &q.bulk;
	static uint8_t out[70000];
	uint64_t in = 0, gone = 0;
	unsigned recs = 0, lens[TXQ_RECS], first = 0, bad = 0, refused = 0;
	size_t part = 0;   /* bytes of the oldest record taken */
	bool filling = true;   /* mostly pushes until refused, then mostly takes */

	txq_init(&q);
	for (unsigned step = 0; in < 30 * (uint64_t)l->cap && bad < 5; step++) {
		if (step == 5000000) {   /* no progress */
			CHECK(step < 5000000);
			break;
		}
		if (recs == 0)
			filling = true;
		if ((rnd(&seed) % 4 != 0) == filling) {
			size_t need = 1 + rnd(&seed) % max, len = need - rnd(&seed) % need;
			uint8_t *p = txq_room(&q, fast, need);
			if (!p) {
				refused++;
				filling = false;
				continue;
			}
			size_t off = (size_t)(p - l->buf);
			if (off + need > l->cap) {   /* a record never wraps */
				bad++;
				CHECK(off + need <= l->cap);
			}
			for (size_t i = 0; i < len; i++)
				p[i] = pat(in + i);
			memset(p + len, 0xee, need - len);   /* the rest is free too */
			txq_push(&q, fast, p, len, false, 3, 0);
			lens[(first + recs++) % TXQ_RECS] = (unsigned)len;
			in += len;
		} else {
			size_t k = rnd(&seed) % (filling ? max : rnd(&seed) % 4 ? 5000 : 70000);
			size_t got = take(k, out);
			if (got != (k < in - gone ? k : in - gone)) {
				bad++;
				CHECK(got == (k < in - gone ? k : in - gone));
			}
			for (size_t i = 0; i < got; i++)
				if (out[i] != pat(gone + i)) {
					bad++;
					CHECK(out[i] == pat(gone + i));
					break;
				}
			gone += got;
			part += got;
			while (recs && part >= lens[first % TXQ_RECS]) {
				part -= lens[first++ % TXQ_RECS];
				recs--;
			}
		}
		if (txq_records(&q) != recs || l->bytes != in - gone + part ||
		    txq_pending(&q) != (recs != 0) || txq_sparse(&q, 3) != (recs == 0)) {
			bad++;
			CHECK(txq_records(&q) == recs);
			CHECK(l->bytes == in - gone + part);   /* whole records */
			CHECK(txq_pending(&q) == (recs != 0));
			CHECK(txq_sparse(&q, 3) == (recs == 0));
		}
	}
	if (!refused)
		fprintf(stderr, "  fast %d max %zu: never full, %llu bytes\n", fast, max, (unsigned long long)in);
	CHECK(refused > 0);   /* it did fill up */
	CHECK(take(SIZE_MAX, NULL) == in - gone);
	CHECK(!txq_pending(&q) && txq_sparse(&q, 3));
	txq_free(&q);
}

static void ring_bulk(void)
{
	static const uint32_t seeds[] = { 1, 0x9e3779b9, 12345 };
	static const size_t max[] = { 9000, 65536, 200 };

	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		ring_model(false, max[i], seeds[i]);
}

static void ring_fast(void)
{
	ring_model(true, TXQ_FAST_MAX, 7);
	ring_model(true, 40, 99);   /* by record count */
}

/* Room refused when the lane is full, by bytes or by records, and given
 * again once the oldest record is out (not while it is half written). */
static void ring_full(void)
{
	static const struct {
		bool fast;
		size_t len, fit;   /* records of len: fit of them fit */
	} cases[] = {
		{ false, 65536, TXQ_BYTES / 65536 },
		{ false, 100000, TXQ_BYTES / 100000 },
		{ false, 1, TXQ_RECS },
		{ false, 2048, TXQ_RECS },
		{ true, 1600, TXQ_FAST_BYTES / 1600 },
		{ true, 256, TXQ_FAST_RECS },
		{ true, 1, TXQ_FAST_RECS },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = 0, len = cases[i].len;
		txq_init(&q);
		while (n < 1000 && push(cases[i].fast, len, (uint8_t)n, false, 1, 0))
			n++;
		if (n != cases[i].fit)
			fprintf(stderr, "  case %zu: %zu records fit\n", i, n);
		CHECK(n == cases[i].fit);
		CHECK(txq_records(&q) == n);
		CHECK(!txq_room(&q, cases[i].fast, len));
		if (len > 1) {
			take(len - 1, NULL);   /* the oldest, half written */
			CHECK(!txq_room(&q, cases[i].fast, len));
			take(1, NULL);
		} else
			take(1, NULL);
		CHECK(txq_records(&q) == n - 1);
		CHECK(push(cases[i].fast, len, 0xaa, false, 1, 0));
		CHECK(!txq_room(&q, cases[i].fast, len));
		txq_free(&q);
	}
	txq_init(&q);
	CHECK(!txq_room(&q, false, TXQ_BYTES + 1));
	CHECK(txq_room(&q, false, TXQ_BYTES) != NULL);
	CHECK(!txq_room(&q, true, TXQ_FAST_BYTES + 1));
	txq_free(&q);
}

/* ---- Order ---- */

enum { END, BULK, FAST, HEAD, CTRL, TAKE };

struct step {
	int op;
	char tag;   /* records of 4 bytes of tag, control frames of 2 */
	size_t n;   /* TAKE: bytes */
};

#define B(t) { BULK, t, 0 }   /* a bulk record */
#define F(t) { FAST, t, 0 }   /* a fast one */
#define H(t) { HEAD, t, 0 }   /* an HTTP head */
#define C(t) { CTRL, t, 0 }   /* a control frame */
#define T(n) { TAKE, 0, n }   /* the socket takes n bytes */

static void order_cases(void)
{
	static const struct {
		const char *name;
		struct step s[8];
		const char *out;
	} cases[] = {
		{ "head before ctrl", { H('h'), C('c') }, "hhhhcc" },
		{ "ctrl queued first waits for the head", { C('c'), H('h') }, "hhhhcc" },
		{ "heads, ctrl, fast, bulk",
		  { H('h'), H('i'), B('a'), F('f'), C('c') },
		  "hhhhiiiiccffffaaaa" },
		{ "ctrl not inside a bulk record", { B('a'), T(2), C('c') },
		  "aaaacc" },
		{ "ctrl not inside a fast record",
		  { F('f'), B('a'), T(1), C('c') }, "ffffccaaaa" },
		{ "ctrl not inside a head",
		  { H('h'), B('a'), T(3), C('c') }, "hhhhccaaaa" },
		{ "ctrl between records",
		  { B('a'), B('b'), T(4), C('c') }, "aaaaccbbbb" },
		{ "fast before bulk", { B('a'), B('b'), F('f'), F('g') },
		  "ffffggggaaaabbbb" },
		{ "half-written bulk before fast",
		  { B('a'), B('b'), T(1), F('f') }, "aaaaffffbbbb" },
		{ "half-written bulk before ctrl and fast",
		  { B('a'), T(3), F('f'), C('c') }, "aaaaccffff" },
		{ "half-written fast first",
		  { F('f'), F('g'), T(2), H('h'), C('c') },
		  "ffffhhhhccgggg" },
		{ "half-written fast before bulk",
		  { F('f'), T(1), B('a'), F('g') }, "ffffggggaaaa" },
		{ "a partly taken ctrl frame, then more",
		  { C('c'), C('d'), T(1), B('a'), F('f') },
		  "ccddffffaaaa" },
		{ "takes across pieces",
		  { B('a'), F('f'), T(5), B('b'), C('c'),
		    T(4), F('g') },
		  "ffffaaaaccggggbbbb" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[64] = { 0 };
		size_t n = 0;
		txq_init(&q);
		for (const struct step *s = cases[i].s; s->op != END; s++) {
			uint8_t f[2] = { (uint8_t)s->tag, (uint8_t)s->tag };
			switch (s->op) {
			case BULK:
			case FAST:
			case HEAD:
				CHECK(push(s->op == FAST, 4, (uint8_t)s->tag, s->op == HEAD,
					   s->op == HEAD ? TXQ_FLOW_NONE : 1, 0));
				break;
			case CTRL:
				CHECK(txq_ctrl(&q, f, 2, 0));
				break;
			case TAKE:
				n += take(s->n, (uint8_t *)out + n);
				break;
			}
		}
		n += take(sizeof out - 1 - n, (uint8_t *)out + n);
		if (strcmp(out, cases[i].out) != 0)
			fprintf(stderr, "  %s: \"%s\", not \"%s\"\n", cases[i].name, out,
				cases[i].out);
		CHECK(strcmp(out, cases[i].out) == 0);
		CHECK(!txq_pending(&q) && txq_records(&q) == 0);
		txq_free(&q);
	}
}

/* The pieces themselves: one per record, the begun one from its first
 * unwritten byte. */
static void order_pieces(void)
{
	struct iovec iov[TXQ_IOV];

	txq_init(&q);
	CHECK(txq_pieces(&q, iov) == 0);
	push(false, 10, 'a', false, 1, 0);
	push(false, 20, 'b', false, 1, 0);
	push(true, 30, 'f', false, 2, 0);
	CHECK(txq_pieces(&q, iov) == 3);
	CHECK(iov[0].iov_len == 30 && iov[1].iov_len == 10 && iov[2].iov_len == 20);
	take(33, NULL);
	CHECK(txq_pieces(&q, iov) == 2);
	CHECK(iov[0].iov_len == 7 && *(uint8_t *)iov[0].iov_base == 'a');
	CHECK(iov[0].iov_base == q.bulk.buf + 3);
	for (int i = 0; i < TXQ_RECS; i++)
		push(false, 1, 'x', false, 1, 0);
	for (int i = 0; i < TXQ_FAST_RECS; i++)
		push(true, 1, 'y', false, 1, 0);
	txq_ctrl(&q, (const uint8_t *)"cc", 2, 0);
	CHECK(txq_records(&q) == TXQ_RECS + TXQ_FAST_RECS);
	CHECK(txq_pieces(&q, iov) == TXQ_IOV - 1);
	txq_free(&q);
}

/* ---- Control frames ---- */

static void ctrl_reserve(void)
{
	static const struct {
		size_t len, keep;
		bool ok;
	} cases[] = {
		{ 100, 8, true },    /* pings with 8 bytes kept for a close */
		{ 100, 8, true },
		{ 49, 8, false },    /* 249 + 8 > 256 */
		{ 48, 8, true },     /* 248: only the reserve is left */
		{ 1, 8, false },     /* a ping refused */
		{ 8, 0, true },      /* a close fits */
		{ 1, 0, false },     /* full */
	};
	uint8_t f[TXQ_CTRL_CAP + 1], out[TXQ_CTRL_CAP];
	size_t want = 0;

	txq_init(&q);
	CHECK(!txq_ctrl(&q, f, TXQ_CTRL_CAP + 1, 0));
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(f, (int)('a' + i), cases[i].len);
		bool ok = txq_ctrl(&q, f, cases[i].len, cases[i].keep);
		if (ok != cases[i].ok)
			fprintf(stderr, "  case %zu: %s\n", i, ok ? "taken" : "refused");
		CHECK(ok == cases[i].ok);
		want += ok ? cases[i].len : 0;
	}
	CHECK(q.ctrl_len == TXQ_CTRL_CAP && want == TXQ_CTRL_CAP);
	CHECK(txq_pending(&q) && txq_records(&q) == 0);
	CHECK(take(100, out) == 100);
	CHECK(take(SIZE_MAX, out + 100) == TXQ_CTRL_CAP - 100);
	size_t at = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (size_t k = 0; cases[i].ok && k < cases[i].len; k++, at++)
			CHECK(out[at] == 'a' + i);
	CHECK(!txq_pending(&q));
	CHECK(txq_ctrl(&q, f, TXQ_CTRL_CAP - 8, 8));   /* room again */
	txq_free(&q);
}

/* ---- Flows ---- */

static void flows_sparse(void)
{
	static const struct {
		bool fast;
		uint8_t flow;
	} recs[] = {
		{ false, 0 }, { true, 1 }, { false, 1 }, { false, 254 }, { true, 254 }, { false, 0 },
	};
	const size_t n = sizeof recs / sizeof recs[0];

	txq_init(&q);
	for (unsigned f = 0; f <= TXQ_FLOW_NONE; f++)
		CHECK(txq_sparse(&q, (uint8_t)f));
	for (size_t i = 0; i < n; i++)
		CHECK(push(recs[i].fast, 10, 'p', false, recs[i].flow, 0));
	CHECK(push(false, 10, 'n', false, TXQ_FLOW_NONE, 0));
	CHECK(txq_sparse(&q, TXQ_FLOW_NONE));
	CHECK(!txq_sparse(&q, 0) && !txq_sparse(&q, 1) && !txq_sparse(&q, 254));
	CHECK(txq_sparse(&q, 2) && txq_sparse(&q, 253));
	CHECK(txq_records(&q) == n + 1);
	take(15, NULL);   /* the fast lane's 1, and half of 254 there */
	CHECK(!txq_sparse(&q, 1));   /* still one in the bulk lane */
	CHECK(!txq_sparse(&q, 254));
	take(5, NULL);
	CHECK(!txq_sparse(&q, 254));  /* in the bulk lane too */
	take(10, NULL);   /* bulk 0 */
	CHECK(!txq_sparse(&q, 0));
	take(10, NULL);   /* bulk 1 */
	CHECK(txq_sparse(&q, 1));
	take(10, NULL);   /* bulk 254 */
	CHECK(txq_sparse(&q, 254) && !txq_sparse(&q, 0));
	take(10, NULL);
	CHECK(txq_sparse(&q, 0));
	CHECK(txq_records(&q) == 1 && txq_pending(&q));
	take(10, NULL);
	CHECK(txq_records(&q) == 0 && !txq_pending(&q));
	for (unsigned f = 0; f < TXQ_FLOWS; f++)
		CHECK(q.flows[f] == 0);
	txq_free(&q);
}

static void drop_unsent(void)
{
	static const struct {
		const char *name;
		struct step s[8];
		const char *out;
	} cases[] = {
		{ "keeps a half-written bulk record",
		  { B('a'), T(1), B('b'), F('f'), B('c') },
		  "aaa" },
		{ "keeps a half-written fast record",
		  { F('f'), T(2), F('g'), B('a') }, "ff" },
		{ "keeps heads and ctrl",
		  { H('h'), H('i'), C('c'), B('a'), F('f') },
		  "hhhhiiiicc" },
		{ "a half-written head and the next",
		  { H('h'), H('i'), T(1), B('a') }, "hhhiiii" },
		{ "none begun", { B('a'), F('f'), B('b') }, "" },
		{ "the record after a taken one",
		  { B('a'), B('b'), T(4) }, "" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[64] = { 0 };
		uint8_t flow = 0;
		txq_init(&q);
		for (const struct step *s = cases[i].s; s->op != END; s++) {
			uint8_t f[2] = { (uint8_t)s->tag, (uint8_t)s->tag };
			if (s->op == CTRL)
				CHECK(txq_ctrl(&q, f, 2, 0));
			else if (s->op == TAKE)
				take(s->n, NULL);
			else
				CHECK(push(s->op == FAST, 4, (uint8_t)s->tag, s->op == HEAD,
					   s->op == HEAD ? TXQ_FLOW_NONE : flow++ % 2, 0));
		}
		txq_drop_unsent(&q);
		take(sizeof out - 1, (uint8_t *)out);
		if (strcmp(out, cases[i].out) != 0)
			fprintf(stderr, "  %s: \"%s\", not \"%s\"\n", cases[i].name, out,
				cases[i].out);
		CHECK(strcmp(out, cases[i].out) == 0);
		CHECK(!txq_pending(&q));
		CHECK(q.bulk.bytes == 0 && q.fast.bytes == 0);
		CHECK(q.flows[0] == 0 && q.flows[1] == 0);
		CHECK(txq_sparse(&q, 0) && txq_sparse(&q, 1));
		/* the lanes work on after it */
		CHECK(push(false, 4, 'z', false, 0, 0) && push(true, 4, 'y', false, 1, 0));
		CHECK(take(sizeof out, (uint8_t *)out) == 8 && memcmp(out, "yyyyzzzz", 8) == 0);
		txq_free(&q);
	}
	/* the counts right after the drop, a begun record left */
	txq_init(&q);
	push(false, 10, 'a', false, 5, 0);
	push(false, 10, 'b', false, 5, 0);
	push(false, 10, 'c', false, 6, 0);
	push(true, 10, 'd', false, 7, 0);
	take(1, NULL);   /* d begun */
	txq_drop_unsent(&q);
	CHECK(txq_records(&q) == 1);
	CHECK(txq_sparse(&q, 5) && txq_sparse(&q, 6) && !txq_sparse(&q, 7));
	take(9, NULL);
	CHECK(txq_sparse(&q, 7) && !txq_pending(&q));
	txq_free(&q);
}

/* ---- CoDel ---- */

/* n records of len bytes of flow in the bulk lane, born at born. */
static void standing(unsigned n, size_t len, uint8_t flow, uint64_t born)
{
	for (unsigned i = 0; i < n; i++)
		CHECK(push(false, len, 'q', false, flow, born));
}

/* txq_codel each ms from t0 to t1 (both included): the times of the drops
 * into at[max]. Returns how many. */
static unsigned run(uint64_t t0, uint64_t t1, uint64_t *at, unsigned max)
{
	unsigned n = 0;

	for (uint64_t t = t0; t <= t1; t++) {
		unsigned d = txq_codel(&q, t);
		for (unsigned k = 0; k < d; k++, n++)
			if (n < max)
				at[n] = t;
	}
	return n;
}

/* A standing queue of records born at base: no drop before target and an
 * interval, then drops at 100/sqrt(count) ms apart; fresh records stop
 * them. base near 2^32 crosses the clock's wrap-around. */
static void codel_standing(void)
{
	static const uint64_t bases[] = {
		0, 1, 1000, 0xffffffffull - 50, 0xffffffffull - 104, 0xffffffffull,
		0x100000000ull + 7,
	};

	for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
		uint64_t base = bases[b], at[16];
		unsigned recs, n;

		txq_init(&q);
		standing(100, 1000, 4, base);
		recs = txq_records(&q);
		CHECK(run(base, base + TXQ_TARGET_MS + TXQ_INTERVAL_MS - 2, at, 16) == 0);
		n = run(base + TXQ_TARGET_MS + TXQ_INTERVAL_MS - 1, base + 700, at, 16);
		CHECK(txq_records(&q) == recs - n);
		if (n < 8) {
			fprintf(stderr, "  base %llu: %u drops\n", (unsigned long long)base, n);
			CHECK(n >= 8);
			txq_free(&q);
			continue;
		}
		/* the first after target + interval (give or take a ms) */
		uint64_t first = at[0] - base;
		if (first < 104 || first > 107)
			fprintf(stderr, "  base %llu: first drop at %llu\n",
				(unsigned long long)base, (unsigned long long)first);
		CHECK(first >= 104 && first <= 107);
		/* then 100/sqrt(count) ms apart: 100, 70.7, 57.7, 50, 44.7, 40.8 */
		static const double gap[] = { 100, 70.71, 57.74, 50, 44.72, 40.82, 37.8 };
		for (unsigned i = 0; i + 1 < n && i < 7; i++) {
			double d = (double)(at[i + 1] - at[i]);
			if (d < gap[i] - 2 || d > gap[i] + 2)
				fprintf(stderr, "  base %llu: drop %u to %u: %.0f ms, not %.1f\n",
					(unsigned long long)base, i + 1, i + 2, d, gap[i]);
			CHECK(d >= gap[i] - 2 && d <= gap[i] + 2);
		}
		/* fresh records: below the target, the drops stop */
		uint64_t now = base + 701;
		take(SIZE_MAX, NULL);
		standing(100, 1000, 4, now);
		CHECK(run(now, now + TXQ_TARGET_MS - 1, at, 16) == 0);
		CHECK(!q.dropping);
		/* and with records always younger than the target, never */
		for (uint64_t t = now; t < now + 1000; t++) {
			while (q.bulk.count && (uint32_t)t - q.bulk.rec[q.bulk.head].born >= TXQ_TARGET_MS)
				take(q.bulk.rec[q.bulk.head].len, NULL);
			if (t % 3 == 0)
				standing(2, 1000, 4, t);
			n = txq_codel(&q, t);
			if (n)
				fprintf(stderr, "  base %llu: a drop at +%llu\n", (unsigned long long)base,
					(unsigned long long)(t - base));
			CHECK(n == 0);
		}
		txq_free(&q);
	}
}

/* Records CoDel may not drop, at the head of a long queue, for a long
 * time: none dropped; then a droppable one is. */
static void codel_never(void)
{
	static const struct {
		const char *name;
		bool ordered;
		uint8_t flow;
		size_t taken;   /* bytes of the head written */
		size_t len;     /* and the queue behind: 10 records of len */
		bool behind;    /* the records behind it are judged, and go */
	} cases[] = {
		{ "half-written head", false, 1, 1, 1000, true },
		{ "head all but written", false, 1, 999, 1000, true },
		{ "HTTP head", true, TXQ_FLOW_NONE, 0, 1000, false },
		{ "ordered record of a flow", true, 1, 0, 1000, false },
		{ "text message (no flow)", false, TXQ_FLOW_NONE, 0, 1000, false },
	};
	uint64_t at[4];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct iovec iov[TXQ_IOV];

		txq_init(&q);
		CHECK(push(false, 1000, 'h', cases[i].ordered, cases[i].flow, 0));
		take(cases[i].taken, NULL);
		standing(10, cases[i].len, 2, 0);
		unsigned n = run(0, 2000, at, 4);
		if ((n > 0) != cases[i].behind)
			fprintf(stderr, "  %s: %u drops\n", cases[i].name, n);
		CHECK((n > 0) == cases[i].behind);
		CHECK(txq_records(&q) == 11 - n);
		/* the head itself is never dropped: its rest leaves first */
		CHECK(txq_pieces(&q, iov) > 0);
		CHECK(iov[0].iov_len == 1000 - cases[i].taken);
		CHECK(((const uint8_t *)iov[0].iov_base)[0] == 'h');
		txq_free(&q);
	}
	/* the same queue with a packet at its head: dropped */
	txq_init(&q);
	standing(11, 1000, 2, 0);
	CHECK(run(0, 2000, at, 4) > 0);
	txq_free(&q);
}

/* At most one MTU queued (1514 bytes), or nothing: no drop. */
static void codel_small(void)
{
	static const struct {
		unsigned n;
		size_t len;
		bool drops;
	} cases[] = {
		{ 0, 0, false },
		{ 1, 1514, false },
		{ 2, 757, false },
		{ 1514, 1, false },    /* as many as the ring takes: 256 of 1 */
		{ 1, 1515, true },
		{ 2, 758, true },
		{ 3, 1000, true },
	};
	uint64_t at[4];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		txq_init(&q);
		for (unsigned k = 0; k < cases[i].n && push(false, cases[i].len, 's', false, 1, 0); k++)
			;
		unsigned n = run(0, 3000, at, 4);
		if ((n > 0) != cases[i].drops)
			fprintf(stderr, "  case %zu: %u drops\n", i, n);
		CHECK((n > 0) == cases[i].drops);
		txq_free(&q);
	}
}

/* ---- Memory ---- */

/*
 * A lane's ring exists while the lane is in use: kept while a record
 * waits however long, and while records come each second; given back
 * TXQ_IDLE_MS after the last trim that saw one; made again by txq_room,
 * its records intact.
 */
static void trim_idle(void)
{
	uint8_t out[100];
	uint64_t t = 1000;

	txq_init(&q);
	txq_trim(&q, t);
	CHECK(!q.bulk.buf && !q.fast.buf);
	CHECK(push(false, 100, 7, false, 1, t));
	for (int i = 0; i < 20; i++)
		txq_trim(&q, t += 200);
	CHECK(q.bulk.buf != NULL);
	CHECK(take(100, NULL) == 100);   /* the last trim saw it queued */
	txq_trim(&q, t + 200);
	txq_trim(&q, t + TXQ_IDLE_MS - 1);
	CHECK(q.bulk.buf != NULL);
	txq_trim(&q, t += TXQ_IDLE_MS);
	CHECK(!q.bulk.buf && q.bulk.used_max == 0 && q.bulk.count == 0);

	for (int i = 0; i < 10 * 5; i++) {
		if (i % 5 == 0) {
			CHECK(push(true, 100, 9, false, 2, t));
			CHECK(take(100, NULL) == 100);
		}
		txq_trim(&q, t += 200);
		CHECK(q.fast.buf != NULL);
	}
	while (q.fast.buf && t < 100000)
		txq_trim(&q, t += 200);
	CHECK(!q.fast.buf);

	CHECK(push(true, 100, 3, false, 2, t));
	CHECK(q.fast.buf != NULL);
	CHECK(take(100, out) == 100);
	CHECK(out[0] == 3 && out[99] == 3);
	txq_free(&q);
}

const struct unit_case unit_txq[] = {
	{ "txq_ring_bulk", ring_bulk },
	{ "txq_ring_fast", ring_fast },
	{ "txq_ring_full", ring_full },
	{ "txq_order", order_cases },
	{ "txq_order_pieces", order_pieces },
	{ "txq_ctrl_reserve", ctrl_reserve },
	{ "txq_flows_sparse", flows_sparse },
	{ "txq_drop_unsent", drop_unsent },
	{ "txq_codel_standing", codel_standing },
	{ "txq_codel_never", codel_never },
	{ "txq_codel_small", codel_small },
	{ "txq_trim_idle", trim_idle },
	{ NULL, NULL },
};
