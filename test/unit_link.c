/* SPDX-License-Identifier: MIT */
/*
 * unit_link.c: cases for link.c's receive side over a socketpair: reads
 * into a loop's shared buffer, the bytes a read leaves unparsed kept by
 * the link (a frame cut at every byte position, one byte a read, a frame
 * left while another link reads into the same buffer), reassembly memory
 * only while a message is fragmented, and an HTTP head handed over whole
 * with the frames behind it. Between reads the shared buffer is scribbled
 * over: a link that still needed it would deliver wrong bytes.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../link.h"
#include "unit.h"

static struct link_rxbuf rxb;

/* A server link on one end of a socketpair; *peer is the other end. */
static void pair(struct link *l, int *peer)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	link_init(l, sv[0], false, NULL, NULL, 0);
	*peer = sv[1];
}

static void unpair(struct link *l, int peer)
{
	int fd = l->fd;

	link_free(l);
	close(fd);
	close(peer);
}

/* Appends a masked frame of op with payload p[0..len) to out at *at; fin
 * clear makes it a fragment. */
static void frame(uint8_t *out, size_t *at, enum ws_op op, bool fin, const uint8_t *p, size_t len)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t h = ws_hdr_len(len) + 4;

	memcpy(out + *at + h, p, len);
	ws_hdr_put_masked(out + *at, op, len, mask, out + *at + h);
	if (!fin)
		out[*at] &= 0x7f;
	*at += h + len;
}

/* The byte i of message k. */
static uint8_t pat(unsigned k, size_t i)
{
	return (uint8_t)(k * 71 + i * 13 + (i >> 8));
}

static void fill(uint8_t *p, unsigned k, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(k, i);
}

#define N_MSG 4
static const size_t msg_len[N_MSG] = { 1, 300, 1400, 3000 };

/*
 * The stream of the test: four binary messages, the third fragmented in
 * three pieces with a ping between them, the fourth with a 16-bit length.
 * Returns its length.
 */
static size_t stream(uint8_t *out)
{
	uint8_t p[3000];
	size_t at = 0;

	fill(p, 0, msg_len[0]);
	frame(out, &at, WS_OP_BINARY, true, p, msg_len[0]);
	fill(p, 1, msg_len[1]);
	frame(out, &at, WS_OP_BINARY, true, p, msg_len[1]);
	fill(p, 2, msg_len[2]);
	frame(out, &at, WS_OP_BINARY, false, p, 500);
	frame(out, &at, WS_OP_PING, true, (const uint8_t *)"hi", 2);
	frame(out, &at, WS_OP_CONT, false, p + 500, 600);
	frame(out, &at, WS_OP_CONT, true, p + 1100, msg_len[2] - 1100);
	fill(p, 3, msg_len[3]);
	frame(out, &at, WS_OP_BINARY, true, p, msg_len[3]);
	return at;
}

/* Whether message k arrived whole in m. */
static bool is_msg(const struct link_msg *m, unsigned k)
{
	if (m->ev != LINK_EV_BINARY || k >= N_MSG || m->len != msg_len[k])
		return false;
	for (size_t i = 0; i < m->len; i++)
		if (m->data[i] != pat(k, i))
			return false;
	return true;
}

/* A link receiving the stream, and what it received. */
struct rcv {
	struct link l;
	int peer;
	unsigned k;      /* the next message expected */
	bool bad;        /* a message came wrong, or the buffer stayed held */
};

static void rcv_open(struct rcv *r)
{
	pair(&r->l, &r->peer);
	link_open(&r->l, WS_MSG_MAX, 0);
	r->k = 0;
	r->bad = false;
}

/*
 * One wake: s[0..n) sent, a read, then the events, each checked against
 * the next message expected. After LINK_EV_NONE the link holds the shared
 * buffer no longer, which is then scribbled over. Returns the bytes read.
 */
static int wake(struct rcv *r, const uint8_t *s, size_t n)
{
	struct link_msg m;
	int got;

	if (n)
		CHECK(write(r->peer, s, n) == (ssize_t)n);
	got = link_read(&r->l, &rxb, 0);
	while (got > 0 && link_next(&r->l, &m) != LINK_EV_NONE)
		if (!is_msg(&m, r->k++))
			r->bad = true;
	if (rxb.holder || r->l.rxb)
		r->bad = true;
	memset(rxb.buf, 0xa5, sizeof rxb.buf);
	return got;
}

/* What l holds of its own, not yet parsed. */
static size_t held(const struct link *l)
{
	return l->in_len - l->in_off;
}

/* The stream cut in two at every byte position: each message whole, once. */
static void split_every(void)
{
	static uint8_t s[8192];
	size_t len = stream(s);
	unsigned fails = 0;

	for (size_t cut = 0; cut <= len; cut++) {
		struct rcv r;

		rcv_open(&r);
		(void)wake(&r, s, cut);
		(void)wake(&r, s + cut, len - cut);
		if (r.bad || r.k != N_MSG || held(&r.l) || r.l.rx.frag || r.l.st != LINK_OPEN)
			fails++;
		CHECK(txq_pending(&r.l.q));   /* the pong */
		unpair(&r.l, r.peer);
	}
	CHECK(fails == 0);
}

/* One byte a read: what the parser has to take, as in unit_ws. */
static void byte_at_a_time(void)
{
	static uint8_t s[8192];
	size_t len = stream(s);
	struct rcv r;

	rcv_open(&r);
	for (size_t i = 0; i < len; i++) {
		CHECK(wake(&r, s + i, 1) == 1);
		/* What is kept never outgrows the frame it completes. */
		CHECK(r.l.in_cap <= 3000 + WS_HDR_MAX);
	}
	CHECK(!r.bad && r.k == N_MSG);
	CHECK(!held(&r.l) && !r.l.rx.frag);
	unpair(&r.l, r.peer);
}

/*
 * A frame cut by a read stays the link's while another link reads into
 * the same buffer; its allocation is the frame's size, gone once it is
 * complete. A whole frame is delivered where it lies in the shared buffer.
 */
static void partial_later(void)
{
	uint8_t a[4096], b[4096], p[3000];
	size_t alen = 0, blen = 0;
	struct link la, lb;
	struct link_msg m;
	int pa, pb;

	pair(&la, &pa);
	pair(&lb, &pb);
	link_open(&la, WS_MSG_MAX, 0);
	link_open(&lb, WS_MSG_MAX, 0);
	fill(p, 3, msg_len[3]);
	frame(a, &alen, WS_OP_BINARY, true, p, msg_len[3]);
	fill(p, 1, msg_len[1]);
	frame(b, &blen, WS_OP_BINARY, true, p, msg_len[1]);

	CHECK(write(pa, a, 1000) == 1000);
	CHECK(link_read(&la, &rxb, 0) == 1000);
	CHECK(link_next(&la, &m) == LINK_EV_NONE);
	CHECK(la.in && la.in_len == 1000 && la.in_cap == alen);

	CHECK(write(pb, b, blen) == (ssize_t)blen);
	CHECK(link_read(&lb, &rxb, 0) == (int)blen);
	CHECK(link_next(&lb, &m) == LINK_EV_BINARY && is_msg(&m, 1));
	CHECK(m.data >= rxb.buf && m.data < rxb.buf + sizeof rxb.buf);
	CHECK(!lb.in);

	/* lb has not seen LINK_EV_NONE: la's read releases it first. */
	CHECK(write(pb, b, 10) == 10);
	CHECK(link_read(&lb, &rxb, 0) == 10);
	CHECK(write(pa, a + 1000, alen - 1000) == (ssize_t)(alen - 1000));
	CHECK(link_read(&la, &rxb, 0) == (int)(alen - 1000));
	CHECK(lb.in && lb.in_len == 10 && !lb.rxb);
	CHECK(link_next(&la, &m) == LINK_EV_BINARY && is_msg(&m, 3));
	CHECK(link_next(&la, &m) == LINK_EV_NONE);
	CHECK(la.in && !held(&la));
	/* Kept while in use; given back once unused for TXQ_IDLE_MS. */
	(void)link_tick(&la, 1);
	CHECK(la.in);
	(void)link_tick(&la, TXQ_IDLE_MS);
	CHECK(la.in);
	(void)link_tick(&la, 1 + TXQ_IDLE_MS);
	CHECK(!la.in);
	unpair(&la, pa);
	unpair(&lb, pb);
}

/* Reassembly memory exists only while a message is fragmented. */
static void frag_memory(void)
{
	uint8_t s[4096], p[1400];
	size_t len = 0;
	struct link l;
	struct link_msg m;
	int peer;

	pair(&l, &peer);
	link_open(&l, WS_MSG_MAX, 0);
	CHECK(!l.rx.frag);
	fill(p, 2, sizeof p);
	frame(s, &len, WS_OP_BINARY, false, p, 700);
	CHECK(write(peer, s, len) == (ssize_t)len);
	CHECK(link_read(&l, &rxb, 0) == (int)len);
	CHECK(link_next(&l, &m) == LINK_EV_NONE);
	CHECK(l.rx.frag != NULL);
	len = 0;
	frame(s, &len, WS_OP_CONT, true, p + 700, 700);
	CHECK(write(peer, s, len) == (ssize_t)len);
	CHECK(link_read(&l, &rxb, 0) == (int)len);
	CHECK(link_next(&l, &m) == LINK_EV_BINARY && is_msg(&m, 2));
	CHECK(link_next(&l, &m) == LINK_EV_NONE);
	CHECK(!l.rx.frag);
	unpair(&l, peer);
}

/*
 * An HTTP head cut anywhere reaches the owner whole with what came before
 * it, and frames sent right behind it are parsed after link_open.
 */
static void http_kept(void)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t s[4096], p[300];
	size_t hl = sizeof head - 1, len = hl;
	unsigned fails = 0;

	memcpy(s, head, hl);
	fill(p, 1, sizeof p);
	frame(s, &len, WS_OP_BINARY, true, p, sizeof p);
	for (size_t cut = 1; cut < len; cut++) {
		struct link l;
		struct link_msg m;
		unsigned got = 0, heads = 0;
		int peer;

		pair(&l, &peer);
		for (int half = 0; half < 2; half++) {
			size_t from = half ? cut : 0, to = half ? len : cut;
			CHECK(write(peer, s + from, to - from) == (ssize_t)(to - from));
			if (link_read(&l, &rxb, 0) <= 0)
				fails++;
			while (link_next(&l, &m) != LINK_EV_NONE) {
				uint8_t *end = m.ev == LINK_EV_HTTP ?
					memmem(m.data, m.len, "\r\n\r\n", 4) : NULL;
				if (m.ev == LINK_EV_HTTP && end) {
					heads++;
					if (memcmp(m.data, head, hl))
						fails++;
					link_consume(&l, (size_t)(end + 4 - m.data));
					link_open(&l, WS_MSG_MAX, 0);
				} else if (m.ev == LINK_EV_BINARY) {
					got += m.len == sizeof p && !memcmp(m.data, p, sizeof p);
				}
			}
			memset(rxb.buf, 0x5a, sizeof rxb.buf);
		}
		if (heads != 1 || got != 1 || held(&l))
			fails++;
		unpair(&l, peer);
	}
	CHECK(fails == 0);
}

const struct unit_case unit_link[] = {
	{ "link_split_every", split_every },
	{ "link_byte_at_a_time", byte_at_a_time },
	{ "link_partial_later", partial_later },
	{ "link_frag_memory", frag_memory },
	{ "link_http_kept", http_kept },
	{ NULL, NULL },
};
