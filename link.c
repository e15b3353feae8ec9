/* SPDX-License-Identifier: MIT */
/*
 * link.c: one WebSocket connection on its socket, for the gateway and the
 * client alike (see link.h): the reads and writes of the socket, plain or
 * through tls.c's buffers, the send queue with its frame headers, the
 * control frames, the keepalive and the close sequence. Frames are parsed
 * and built by ws.c; what a message means, and every slot, route or
 * retry, is the owner's. This is the only file that reads from or writes
 * to a socket; it never closes one.
 *
 * The send queue is txq.c's: a packet, or a super-packet of up to 64 KiB,
 * is read from the TUN straight into its place in the bulk lane (a small
 * one of a sparse flow is copied to the fast lane), its frame header
 * written in front of it afterwards, and many records leave in one sendmsg
 * (or one pass through TLS), in the order txq.c gives. What the TUN's
 * offloads mean for a packet (its virtio-net header, checksums, cutting,
 * coalescing) is gso.c's.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "link.h"
#include "log.h"
#include "tls.h"
#include "txq.h"

#define CLOSE_RESERVE  8      /* ctrl room kept for a masked close frame */
#define TLS_ROUNDS     8      /* socket reads per link_read while in TLS */

/* ==== Small helpers ==== */

static int fail(struct link *l, const char *fmt, ...) PRINTF(2, 3);

/* The link is dead; the first reason sticks. Returns -1. */
static int fail(struct link *l, const char *fmt, ...)
{
	va_list ap;

	if (!l->why[0]) {
		va_start(ap, fmt);
		vsnprintf(l->why, sizeof l->why, fmt, ap);
		va_end(ap);
	}
	l->st = LINK_DEAD;
	return -1;
}

static bool again(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

/* xorshift64*: mask keys must be unpredictable to the peer's proxies
 * (§10.3), not secret; getrandom seeds it once per link. */
static uint32_t rnd32(struct link *l)
{
	uint64_t x = l->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	l->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ==== Life ==== */

/*
 * Frames leave as soon as they are queued (no Nagle), and the kernel holds
 * at most LINK_NOTSENT bytes not yet sent: the rest waits in the send
 * queue, where a packet of a sparse flow can still go first (SPEC: an SSH
 * keystroke must not wait behind a download).
 */
static void set_socket(int fd)
{
	int one = 1, lowat = LINK_NOTSENT;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
}

void link_init(struct link *l, int fd, bool client, struct tls_conn *tls,
	       struct tls_server *tls_srv, uint64_t now)
{
	memset(l, 0, sizeof *l);
	l->fd = fd;
	l->st = LINK_HTTP;
	l->client = client;
	l->tls = tls;
	l->tls_srv = tls_srv;
	l->tls_hs = tls ? LINK_TLS_PENDING : LINK_TLS_NONE;
	l->last_rx = l->last_ping = now;
	txq_init(&l->q);
	set_socket(fd);
	if (client && getrandom(&l->rng, sizeof l->rng, 0) != sizeof l->rng)
		l->rng = now ^ (uint64_t)(uintptr_t)l;
	l->rng |= 1;
}

static void own_free(struct link *l);
static void frag_free(struct link *l);
static void rxb_drop(struct link_rxbuf *b);

void link_free(struct link *l)
{
	/* Heads carry session tokens, TLS buffers plaintext: wipe them. */
	if (l->rxb)
		rxb_drop(l->rxb);
	l->rxb = NULL;
	l->in_secret = true;
	own_free(l);
	frag_free(l);
	txq_free(&l->q);
	if (l->tls)
		tls_conn_free(l->tls);
	l->tls = NULL;
	l->st = LINK_DEAD;
}

void link_open(struct link *l, size_t max, uint64_t now)
{
	if (l->st != LINK_HTTP)
		return;
	if (max > WS_MSG_MAX)
		max = WS_MSG_MAX;
	l->msg_max = max;
	ws_rx_init(&l->rx, !l->client, max, NULL, 0);
	l->st = LINK_OPEN;
	l->last_rx = l->last_ping = now;
}

void link_text(struct link *l, bool on)
{
	l->rx.text = on;
}

void link_keepalive(struct link *l, unsigned keepalive_s)
{
	l->keepalive_ms = keepalive_s * 1000u;
}

const char *link_why(const struct link *l)
{
	return l->why;
}

/* ==== The send queue (txq.c) ==== */

/*
 * Writes the frame header for a payload of len bytes at p into the bytes
 * just before p, masking the payload in place for a client (§5.3).
 * Returns the header's length.
 */
static size_t frame_hdr(struct link *l, uint8_t *p, enum ws_op op, size_t len)
{
	uint8_t mask[4];
	uint32_t r;
	size_t h = ws_hdr_len(len);

	if (!l->client)
		return ws_hdr_put(p - h, op, len);
	r = rnd32(l);
	memcpy(mask, &r, sizeof mask);
	return ws_hdr_put_masked(p - h - 4, op, len, mask, p);
}

/* Where a message of up to max bytes goes in a lane, with room for its
 * frame header in front; NULL when the lane is full. */
static uint8_t *tx_room(struct link *l, bool fast, size_t max)
{
	uint8_t *r = txq_room(&l->q, fast, LINK_HDR_MAX + max);

	return r ? r + LINK_HDR_MAX : NULL;
}

/* Queues the message msg[0..len), in the room tx_room gave, framed. */
static void tx_commit(struct link *l, bool fast, uint8_t *msg, size_t len, enum ws_op op,
		      uint8_t flow, uint64_t now)
{
	size_t h = frame_hdr(l, msg, op, len);

	txq_push(&l->q, fast, msg - h, h + len, false, flow, now);
}

/* Copies one record in: a head (ordered, no frame) or a whole message. */
static int enqueue(struct link *l, const void *p, size_t len, bool head, enum ws_op op)
{
	uint8_t *dst = tx_room(l, false, len);

	if (!dst)
		return -1;
	memcpy(dst, p, len);
	if (head)
		txq_push(&l->q, false, dst, len, true, TXQ_FLOW_NONE, 0);
	else
		tx_commit(l, false, dst, len, op, TXQ_FLOW_NONE, 0);
	return 0;
}

int link_send_head(struct link *l, const void *p, size_t len)
{
	if (l->st != LINK_HTTP)
		return -1;
	return enqueue(l, p, len, true, WS_OP_CONT);
}

int link_send_text(struct link *l, const void *p, size_t len)
{
	if (l->st != LINK_OPEN || len > WS_MSG_MAX)
		return -1;
	return enqueue(l, p, len, false, WS_OP_TEXT);
}

void link_gso(struct link *l, bool on)
{
	l->gso = on;
}

/* A control frame, masked for a client; a full buffer loses it, except a
 * close, for which room is always kept (a lost pong is allowed, §5.5.3). */
static void ctrl_frame(struct link *l, enum ws_op op, const uint8_t *p, size_t len)
{
	uint8_t f[LINK_HDR_MAX + WS_CTRL_MAX];
	size_t h;

	if (len > WS_CTRL_MAX)
		return;
	memcpy(f + LINK_HDR_MAX, p, len);
	h = frame_hdr(l, f + LINK_HDR_MAX, op, len);
	(void)txq_ctrl(&l->q, f + LINK_HDR_MAX - h, h + len,
		       op == WS_OP_CLOSE ? 0 : CLOSE_RESERVE);
}

static void close_frame(struct link *l, uint16_t code)
{
	uint8_t b[4];
	size_t n = ws_close_frame(b, code);

	l->close_code = code;
	ctrl_frame(l, WS_OP_CLOSE, b + 2, n - 2);
}

/* ==== Writing ==== */

/* Writes the TLS engine's records. 0 when none is left, 1 when the socket
 * is full, -1 when the link died. */
static int send_records(struct link *l)
{
	const uint8_t *p;
	size_t len;

	while ((p = tls_tx_buf(l->tls, &len))) {
		ssize_t w = send(l->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && again(errno))
			return 1;
		if (w < 0) {
			tls_set_error(l->tls, strerror(errno));
			return fail(l, "write: %s", strerror(errno));
		}
		tls_tx_ack(l->tls, (size_t)w);
	}
	return 0;
}

/* Moves the pieces into the TLS engine as far as it takes them, closing
 * the record when all went in; returns the bytes taken. */
static size_t tls_take(struct link *l, const struct iovec *iov, int n)
{
	size_t taken = 0, room;
	uint8_t *dst;

	for (int i = 0; i < n; i++) {
		size_t off = 0;
		while (off < iov[i].iov_len && (dst = tls_app_tx(l->tls, &room))) {
			size_t k = iov[i].iov_len - off < room ? iov[i].iov_len - off : room;
			memcpy(dst, (const uint8_t *)iov[i].iov_base + off, k);
			tls_app_tx_ack(l->tls, k);
			off += k;
			taken += k;
			if (send_records(l) < 0)
				return taken;
		}
		if (off < iov[i].iov_len)
			return taken;
	}
	if (n)
		tls_app_flush(l->tls);
	return taken;
}

static int write_pending(struct link *l)
{
	struct iovec iov[TXQ_IOV];
	int n = txq_pieces(&l->q, iov);

	if (l->tls) {
		if (n && tls_closed(l->tls))
			return fail(l, "TLS: %s", tls_error(l->tls));
		size_t taken = n ? tls_take(l, iov, n) : 0;
		txq_consume(&l->q, taken);
		if (l->st == LINK_DEAD || send_records(l) < 0)
			return -1;
		return 0;
	}
	if (!n)
		return 0;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;
	do
		w = sendmsg(l->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0 && again(errno))
		return 0;
	if (w < 0)
		return fail(l, "write: %s", strerror(errno));
	txq_consume(&l->q, (size_t)w);
	return 0;
}

/* FLUSH: once every byte is out (and TLS's close_notify), shut our side. */
static void flush_step(struct link *l, uint64_t now)
{
	if (txq_pending(&l->q))
		return;
	if (l->tls) {
		size_t len;
		if (!tls_closed(l->tls))
			tls_close(l->tls);
		if (tls_tx_buf(l->tls, &len) && send_records(l) != 0)
			return;
	}
	shutdown(l->fd, SHUT_WR);
	l->st = LINK_DRAIN;
	l->deadline = now + LINK_CLOSE_MS;
}

int link_flush(struct link *l, uint64_t now, struct link_stats *st)
{
	if (l->st == LINK_DEAD)
		return -1;
	if (l->st == LINK_DRAIN)
		return 0;
	st->drops[DROP_DELAY] += txq_codel(&l->q, now);
	if (write_pending(l) < 0)
		return -1;
	if (l->st == LINK_FLUSH)
		flush_step(l, now);
	return l->st == LINK_DEAD ? -1 : 0;
}

/* ==== Reading ==== */

/* A plain HTTP request on a TLS port gets a short 400 before the end. */
static void plain_reply(struct link *l)
{
	char buf[512];
	size_t n = ws_resp_error(buf, sizeof buf, 400, "This port only speaks TLS.");

	if (n)
		(void)!send(l->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static ssize_t sock_read(struct link *l, uint8_t *p, size_t n)
{
	ssize_t r;

	do
		r = read(l->fd, p, n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && again(errno))
		return -2;
	if (r < 0)
		return fail(l, "read: %s", strerror(errno));
	return r;
}

/*
 * Decrypted bytes into dst: records are read from the socket as the
 * engine asks, its handshake replies written first. Returns bytes, 0 at
 * the end (EOF or close_notify), -1 when the link died, -2 for none now.
 */
static ssize_t tls_fill(struct link *l, uint8_t *dst, size_t cap)
{
	for (int round = 0; round < TLS_ROUNDS; round++) {
		size_t n;
		const uint8_t *p = tls_app_rx(l->tls, &n);

		if (p) {
			n = n < cap ? n : cap;
			memcpy(dst, p, n);
			tls_app_rx_ack(l->tls, n);
			return (ssize_t)n;
		}
		if (tls_closed(l->tls)) {
			if (!tls_failed(l->tls))
				return 0;
			if (tls_plain_http(l->tls))
				plain_reply(l);
			return fail(l, "TLS: %s", tls_error(l->tls));
		}
		if (send_records(l) < 0)
			return -1;
		uint8_t *b = tls_rx_buf(l->tls, &n);
		if (!b)
			return -2;   /* the engine waits for its records to leave */
		ssize_t r = sock_read(l, b, n);
		if (r == -1)
			tls_set_error(l->tls, l->why);
		if (r <= 0)
			return r;
		tls_rx_ack(l->tls, (size_t)r);
	}
	return -2;
}

/* Notes how the TLS handshake ended, once it has: r is tls_fill's. */
static void tls_outcome(struct link *l, ssize_t r)
{
	if (!l->tls || l->tls_hs != LINK_TLS_PENDING)
		return;
	if (tls_established(l->tls))
		l->tls_hs = LINK_TLS_UP;
	else if (tls_closed(l->tls) && tls_plain_http(l->tls))
		l->tls_hs = LINK_TLS_PLAIN_HTTP;
	else if (tls_closed(l->tls) || r == 0 || r == -1)
		l->tls_hs = LINK_TLS_FAILED;
}

/* ==== What a read left: the link's own bytes ==== */

/* Bytes the link holds of its own, not yet parsed. */
static size_t held(const struct link *l)
{
	return l->in_len - l->in_off;
}

static void own_free(struct link *l)
{
	if (l->in && l->in_secret)
		explicit_bzero(l->in, l->in_len);
	free(l->in);
	l->in = NULL;
	l->in_off = l->in_len = l->in_cap = 0;
	l->in_secret = false;
}

/*
 * Once everything in it is parsed, the allocation is empty again: kept for
 * the next cut frame while the link is busy (an allocation per frame would
 * cost more than the frame's copy), freed at once when it held HTTP bytes,
 * and given back by own_trim once unused for TXQ_IDLE_MS, as the send
 * queue's rings are.
 */
static void own_tidy(struct link *l)
{
	if (!l->in || l->in_off != l->in_len)
		return;
	if (l->in_secret)
		own_free(l);
	else
		l->in_off = l->in_len = 0;
}

static void own_trim(struct link *l, uint64_t now)
{
	if (!l->in || held(l))
		return;
	if (l->in_used) {
		l->in_used = false;
		l->in_active = now;
	} else if (now - l->in_active >= TXQ_IDLE_MS) {
		own_free(l);
	}
}

/* Room for cap bytes in all, the unparsed ones moved to the front. */
static int own_grow(struct link *l, size_t cap)
{
	size_t n = held(l);
	bool secret = l->in_secret;
	uint8_t *p;

	if (cap <= l->in_cap) {
		memmove(l->in, l->in + l->in_off, n);
		if (secret)
			explicit_bzero(l->in + n, l->in_len - n);
		l->in_off = 0;
		l->in_len = n;
		return 0;
	}
	if (!(p = malloc(cap)))
		return fail(l, "out of memory");
	if (n)
		memcpy(p, l->in + l->in_off, n);
	own_free(l);
	l->in = p;
	l->in_len = n;
	l->in_cap = cap;
	l->in_secret = secret;
	return 0;
}

/*
 * How long the frame at p[0..n) is (§5.2): the whole of it once the
 * length is there, else the bytes that bring the length. More than
 * LINK_IN_CAP means more than any frame the parser lets through.
 */
static size_t frame_len(const uint8_t *p, size_t n)
{
	uint64_t plen;
	size_t ext, h;

	if (n < 2)
		return 2;
	plen = p[1] & 0x7f;
	ext = plen == 126 ? 2 : plen == 127 ? 8 : 0;
	if (n < 2 + ext)
		return 2 + ext;
	if (ext == 2)
		plen = get16(p + 2);
	else if (ext == 8)
		plen = get64(p + 2);
	h = 2 + ext + (p[1] & 0x80 ? 4 : 0);
	return plen > LINK_IN_CAP ? LINK_IN_CAP + 1 : h + (size_t)plen;
}

/*
 * Keeps p[0..n), what the loop's buffer holds unparsed, after the link's
 * own bytes: a frame begun gets room for all of it, so that the next reads
 * complete it without another copy.
 */
static int keep(struct link *l, const uint8_t *p, size_t n)
{
	size_t cap = held(l) + n;

	if (!held(l) && (l->st == LINK_OPEN || l->st == LINK_CLOSING)) {
		size_t want = frame_len(p, n);
		if (want > cap && want <= LINK_IN_CAP)
			cap = want;
	}
	if (own_grow(l, cap) < 0)
		return -1;
	memcpy(l->in + l->in_len, p, n);
	l->in_len += n;
	l->in_secret |= l->st == LINK_HTTP;
	l->in_used = true;
	return 0;
}

/*
 * The frame the link's own bytes begin is cut: the bytes it lacks, as far
 * as the loop's buffer has them, join it. Returns false when it had none.
 */
static bool top_up(struct link *l)
{
	struct link_rxbuf *b = l->rxb;
	size_t have = held(l), want = frame_len(l->in + l->in_off, have), k;

	if (!b || b->off == b->len || want <= have || want > LINK_IN_CAP)
		return false;
	k = want - have < b->len - b->off ? want - have : b->len - b->off;
	if (own_grow(l, want) < 0)
		return false;
	memcpy(l->in + l->in_len, b->buf + b->off, k);
	l->in_len += k;
	b->off += k;
	return true;
}

/* The loop's buffer is free again: HTTP bytes are wiped first. */
static void rxb_drop(struct link_rxbuf *b)
{
	if (b->secret)
		explicit_bzero(b->buf, b->len);
	b->holder = NULL;
	b->off = b->len = 0;
	b->secret = false;
}

int link_release(struct link *l)
{
	struct link_rxbuf *b = l->rxb;
	int rc = 0;

	if (!b)
		return 0;
	if (b->off < b->len && l->st < LINK_FLUSH)
		rc = keep(l, b->buf + b->off, b->len - b->off);
	rxb_drop(b);
	l->rxb = NULL;
	return rc;
}

/* Nothing more is parsed: what the link holds, and holds here, goes. */
static void discard_input(struct link *l)
{
	own_free(l);
	if (l->rxb)
		l->rxb->off = l->rxb->len;
}

/* ==== Reading into the loop's buffer ==== */

/*
 * Takes the buffer b for l: a link that still holds it lets go first
 * (its bytes become its own). Returns -1 when l itself could not keep its
 * bytes.
 */
static int take_rxbuf(struct link *l, struct link_rxbuf *b)
{
	struct link *h = b->holder;

	if (l->rxb && l->rxb != b && link_release(l) < 0)
		return -1;
	if (h && link_release(h) < 0 && h == l)
		return -1;
	return 0;
}

int link_read(struct link *l, struct link_rxbuf *b, uint64_t now)
{
	bool discard = l->st == LINK_FLUSH || l->st == LINK_DRAIN;
	size_t pre = 0, room;
	ssize_t r;

	if (l->st == LINK_DEAD || take_rxbuf(l, b) < 0)
		return -1;
	if (l->tls_srv && !l->tls) {
		if (!(l->tls = tls_conn_new(l->tls_srv)))
			return fail(l, "no memory for TLS");
		l->tls_hs = LINK_TLS_PENDING;
	}
	own_tidy(l);
	if (discard)
		own_free(l);
	/* A head is handed over in one piece: what is kept of it goes in
	 * front of what arrives. Frames are completed where they are kept. */
	if (l->st == LINK_HTTP)
		pre = held(l);
	if ((room = LINK_IN_CAP - held(l)) == 0)
		return 0;
	if (l->tls && !discard) {
		r = tls_fill(l, b->buf + pre, room);
		tls_outcome(l, r);
	} else
		r = sock_read(l, b->buf + pre, room);
	if (r == -2)
		return 0;
	if (r == 0 && l->st == LINK_DRAIN) {
		l->st = LINK_DEAD;   /* the end the close sequence waited for */
		return -1;
	}
	if (r == 0)
		return fail(l, "connection closed");
	if (r < 0)
		return -1;
	l->last_rx = now;
	l->http_pending = false;
	if (discard)
		return (int)r;
	if (pre) {
		memcpy(b->buf, l->in + l->in_off, pre);
		own_free(l);
	}
	b->holder = l;
	b->off = 0;
	b->len = pre + (size_t)r;
	b->secret = l->st == LINK_HTTP;
	l->rxb = b;
	return (int)r;
}

/* The bytes link_next parses now: the link's own first, then the loop's. */
static uint8_t *run(struct link *l, size_t *n, bool *own)
{
	struct link_rxbuf *b = l->rxb;

	*own = held(l) > 0;
	if (*own) {
		*n = held(l);
		return l->in + l->in_off;
	}
	*n = b ? b->len - b->off : 0;
	return b ? b->buf + b->off : NULL;
}

static void advance(struct link *l, bool own, size_t n)
{
	if (own)
		l->in_off += n;
	else
		l->rxb->off += n;
}

void link_consume(struct link *l, size_t n)
{
	size_t len;
	bool own;

	run(l, &len, &own);
	advance(l, own, n < len ? n : len);
	l->http_pending = false;
}

/* ==== Events: frames, control frames, the close sequence ==== */

/* The reassembly buffer goes once no fragmented message is open. */
static void frag_free(struct link *l)
{
	if (!l->rx.frag)
		return;
	explicit_bzero(l->rx.frag, l->rx.frag_len);
	free(l->rx.frag);
	l->rx.frag = NULL;
	l->rx.frag_cap = l->rx.frag_len = 0;
}

/* A fragmented message starts with the frame at p (§5.4; one byte at
 * least): its buffer is made. Returns false when memory ran out (the link
 * is dead). */
static bool frag_ready(struct link *l, const uint8_t *p)
{
	unsigned op = p[0] & 0x0f;

	if (l->rx.frag || (p[0] & 0x80) || (op != WS_OP_TEXT && op != WS_OP_BINARY))
		return true;
	if (!(l->rx.frag = malloc(l->msg_max ? l->msg_max : 1))) {
		(void)fail(l, "out of memory");
		return false;
	}
	l->rx.frag_cap = l->msg_max;
	return true;
}

/* The peer broke the protocol or closed: answer, and send nothing more. */
static void peer_done(struct link *l, uint16_t code)
{
	txq_drop_unsent(&l->q);
	close_frame(l, code);
	l->st = LINK_FLUSH;
	discard_input(l);
}

/* A frame's event in OPEN or CLOSING. true when it goes to the owner. */
static bool frame(struct link *l, struct ws_msg *w, struct link_msg *m)
{
	bool open = l->st == LINK_OPEN;

	switch (w->ev) {
	case WS_EV_BINARY:
	case WS_EV_TEXT:
		if (!open)
			return false;  /* we are closing: nothing is delivered */
		m->ev = w->ev == WS_EV_TEXT ? LINK_EV_TEXT : LINK_EV_BINARY;
		m->data = w->data;
		m->len = w->len;
		return true;
	case WS_EV_PING:
		if (open)
			ctrl_frame(l, WS_OP_PONG, w->data, w->len);
		return false;
	case WS_EV_CLOSE:
		if (!open) {
			l->st = LINK_FLUSH;  /* the answer to our close */
			discard_input(l);
			return false;
		}
		peer_done(l, w->code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : w->code);
		m->ev = LINK_EV_CLOSE;
		m->code = w->code;
		return true;
	case WS_EV_ERROR:
		if (open)
			snprintf(l->why, sizeof l->why, "protocol error, closed with %u", w->code);
		peer_done(l, w->code);
		m->ev = LINK_EV_CLOSE;
		m->code = w->code;
		m->error = true;
		return open;
	case WS_EV_PONG:
	case WS_EV_MORE:
		return false;
	}
	return false;
}

enum link_ev link_next(struct link *l, struct link_msg *m)
{
	struct ws_msg w;
	size_t n, used;
	uint8_t *p;
	bool own;

	*m = (struct link_msg){ .ev = LINK_EV_NONE };
	if (l->rx.frag_op == WS_OP_CONT)
		frag_free(l);
	own_tidy(l);
	if (l->st == LINK_HTTP && !l->http_pending && (p = run(l, &n, &own)) && n) {
		l->http_pending = true;
		m->ev = LINK_EV_HTTP;
		m->data = p;
		m->len = n;
		return m->ev;
	}
	while ((l->st == LINK_OPEN || l->st == LINK_CLOSING) && (p = run(l, &n, &own)) && n) {
		if (!frag_ready(l, p))
			break;
		used = ws_rx_next(&l->rx, p, n, &w);
		if (w.ev != WS_EV_ERROR && used == 0) {
			if (own && top_up(l))
				continue;
			break;
		}
		advance(l, own, used);
		if (frame(l, &w, m))
			return m->ev;
		own_tidy(l);
	}
	(void)link_release(l);
	return LINK_EV_NONE;
}

/* ==== Closing ==== */

void link_close(struct link *l, uint16_t code, uint64_t now)
{
	if (l->st == LINK_HTTP) {
		link_finish(l, now);
		return;
	}
	if (l->st != LINK_OPEN)
		return;
	txq_drop_unsent(&l->q);
	close_frame(l, code);
	l->st = LINK_CLOSING;
	l->deadline = now + LINK_CLOSE_MS;
}

void link_finish(struct link *l, uint64_t now)
{
	if (l->st != LINK_HTTP && l->st != LINK_OPEN)
		return;
	l->st = LINK_FLUSH;
	l->deadline = now + LINK_CLOSE_MS;
	discard_input(l);
}

/* ==== Timers and poll() ==== */

enum link_tick link_tick(struct link *l, uint64_t now)
{
	uint64_t ka = l->keepalive_ms, idle = now - l->last_rx;

	txq_trim(&l->q, now);
	own_trim(l, now);
	switch (l->st) {
	case LINK_OPEN:
		if (!ka)
			return LINK_TICK_OK;
		if (idle >= 3 * ka) {
			snprintf(l->why, sizeof l->why, "silent for %llu s",
				 (unsigned long long)(3 * ka / 1000));
			link_close(l, WS_CLOSE_GOING_AWAY, now);
			return LINK_TICK_SILENT;
		}
		if (idle >= ka && now - l->last_ping >= ka) {
			ctrl_frame(l, WS_OP_PING, (const uint8_t *)"vpngw", 5);
			l->last_ping = now;
		}
		return LINK_TICK_OK;
	case LINK_CLOSING:
	case LINK_FLUSH:
	case LINK_DRAIN:
		if (now < l->deadline)
			return LINK_TICK_OK;
		l->st = LINK_DEAD;
		return LINK_TICK_DEAD;
	case LINK_HTTP:
	case LINK_DEAD:
		break;
	}
	return LINK_TICK_OK;
}

/* When link_tick's keepalive or close step is due, UINT64_MAX if never. */
static uint64_t state_due(const struct link *l)
{
	uint64_t ka = l->keepalive_ms, ping;

	switch (l->st) {
	case LINK_OPEN:
		if (!ka)
			return UINT64_MAX;
		ping = (l->last_rx > l->last_ping ? l->last_rx : l->last_ping) + ka;
		return ping < l->last_rx + 3 * ka ? ping : l->last_rx + 3 * ka;
	case LINK_CLOSING:
	case LINK_FLUSH:
	case LINK_DRAIN:
		return l->deadline;
	case LINK_HTTP:
	case LINK_DEAD:
		break;
	}
	return UINT64_MAX;
}

uint64_t link_due(const struct link *l)
{
	uint64_t s = state_due(l), q = txq_due(&l->q);

	if (l->in && l->in_active + TXQ_IDLE_MS < q)
		q = l->in_active + TXQ_IDLE_MS;
	return s < q ? s : q;
}

/* Whether a write now can make progress (no spinning on POLLOUT while a
 * TLS handshake still holds application data back). */
static bool wants_write(struct link *l)
{
	size_t len;

	if (!l->tls)
		return txq_pending(&l->q);
	if (tls_tx_buf(l->tls, &len))
		return true;
	return txq_pending(&l->q) && tls_app_tx(l->tls, &len);
}

short link_events(struct link *l)
{
	short ev = 0;

	if (l->st == LINK_DEAD)
		return 0;
	if (held(l) < LINK_IN_CAP || l->st >= LINK_FLUSH)
		ev |= POLLIN;
	if (l->st != LINK_DRAIN && wants_write(l))
		ev |= POLLOUT;
	return ev;
}

bool link_busy(struct link *l)
{
	size_t len;

	return l->tls && l->st < LINK_FLUSH && held(l) < LINK_IN_CAP &&
	       tls_app_rx(l->tls, &len);
}

/* ==== The TUN side, counters, clock, signals ==== */

/* How many bytes one read from t may bring. */
static size_t read_max(const struct link_tun *t, size_t max)
{
	if (t->offload & (GSO_TUN_TSO | GSO_TUN_USO) || max > LINK_PKT_MAX)
		max = LINK_PKT_MAX;
	return (t->offload & GSO_TUN_VNET ? GSO_VNET_LEN : 0) + max;
}

/*
 * Takes the virtio-net header off what a read from t put at b[0..n): sets
 * *skip to where the packet starts and *size to its segment size (0 for
 * one packet, whose partial checksum is now complete).
 */
static enum drop from_tun(const struct link_tun *t, uint8_t *b, size_t n, size_t *skip,
			  size_t *size)
{
	struct gso_vnet v;

	*skip = *size = 0;
	if (!(t->offload & GSO_TUN_VNET))
		return DROP_NONE;
	if (n < GSO_VNET_LEN + 1)
		return DROP_MALFORMED;
	*skip = GSO_VNET_LEN;
	gso_vnet_get(&v, b);
	switch (gso_from_tun(&v, b + GSO_VNET_LEN, n - GSO_VNET_LEN, size)) {
	case GSO_ONE:
		*size = 0;
		return DROP_NONE;
	case GSO_SUPER:
		return DROP_NONE;
	case GSO_BAD:
		break;
	}
	return DROP_MALFORMED;
}

/*
 * A super-packet p[0..len) read into l's room (its virtio-net header in
 * the skip bytes before it): one message to a peer that takes them, with
 * the prefix over the header's last bytes; else cut into packets, from a
 * copy in scratch, since their rooms may overlap where it lies. Segments
 * that find the queue full are dropped.
 */
static void queue_super(struct link *l, uint8_t *p, size_t len, size_t skip, size_t size,
			uint8_t *scratch, struct link_stats *st, struct link_count *dir,
			uint8_t flow, uint64_t now)
{
	struct gso_seg s;
	size_t bytes, k;
	unsigned n;
	uint8_t *room;

	if (l->gso && skip >= GSO_WIRE_LEN && GSO_WIRE_LEN + len <= WS_MSG_MAX) {
		n = gso_segments(p, len, size, &bytes);
		gso_wire_put(p - GSO_WIRE_LEN, size);
		tx_commit(l, false, p - GSO_WIRE_LEN, GSO_WIRE_LEN + len, WS_OP_BINARY, flow, now);
		dir->packets += n;
		dir->bytes += bytes;
		return;
	}
	memcpy(scratch, p, len);
	n = gso_seg_init(&s, scratch, len, size);
	while (n && (room = tx_room(l, false, gso_seg_max(&s))) &&
	       (k = gso_seg_next(&s, room, gso_seg_max(&s)))) {
		tx_commit(l, false, room, k, WS_OP_BINARY, flow, now);
		dir->packets++;
		dir->bytes += k;
		n--;
	}
	st->drops[DROP_QUEUE_FULL] += n;
}

/*
 * One packet p[0..len) queued: in the fast lane when it is small and its
 * flow has nothing queued (a copy, of a small packet), else where it lies
 * when that is the bulk lane's room (in_room). Returns false when it found
 * no place (the queue is full).
 */
static bool queue_one(struct link *l, uint8_t *p, size_t len, bool in_room, uint8_t flow,
		      uint64_t now)
{
	uint8_t *f;

	if (len <= TXQ_FAST_MAX - LINK_HDR_MAX && txq_sparse(&l->q, flow) &&
	    (f = tx_room(l, true, len))) {
		memcpy(f, p, len);
		tx_commit(l, true, f, len, WS_OP_BINARY, flow, now);
		return true;
	}
	if (!in_room)
		return false;
	tx_commit(l, false, p, len, WS_OP_BINARY, flow, now);
	return true;
}

int link_tun_drain(struct link *l, struct link_tun *t, size_t max, struct nat *nat, enum drop idle,
		   struct link_stats *st, struct link_count *dir, uint8_t *scratch,
		   unsigned budget, struct link_rate *rate, uint64_t now)
{
	size_t want = read_max(t, max);

	for (unsigned i = 0; i < budget; i++) {
		bool open = l && l->st == LINK_OPEN;
		uint8_t *room = open ? tx_room(l, false, want) : NULL;
		uint8_t *b = room ? room : scratch, *p;
		ssize_t r = read(t->fd, b, want);
		size_t skip, size, len;
		uint8_t flow = 0;
		enum drop d;

		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		d = from_tun(t, b, (size_t)r, &skip, &size);
		p = b + skip;
		len = (size_t)r - skip;
		if (d != DROP_NONE)
			;
		else if (len > 0 && p[0] >> 4 == 6 && !nat && !t->ipv6)
			d = DROP_IPV6;
		else if (!open)
			d = idle;
		else if (!room && size)
			d = DROP_QUEUE_FULL;
		else if (nat)
			d = nat_in(nat, p, len);
		else if (len < 20 || (p[0] >> 4 != 4 && (p[0] >> 4 != 6 || len < 40)))
			d = DROP_MALFORMED;
		if (d == DROP_NONE && rate && !limit_take(&rate->b, &rate->r, (uint64_t)len * 8, now))
			d = DROP_RATE;
		if (d == DROP_NONE) {
			flow = (uint8_t)(nat_flow(p, len) % TXQ_FLOWS);
			if (size)
				queue_super(l, p, len, skip, size, scratch, st, dir, flow, now);
			else if (!queue_one(l, p, len, room != NULL, flow, now))
				d = DROP_QUEUE_FULL;
			else {
				dir->packets++;
				dir->bytes += len;
			}
		}
		if (d != DROP_NONE) {
			st->drops[d]++;
			if (log_verbosity >= LOG_DEBUG)
				log_debug("tun: drop %s (%zu bytes)", drop_name(d), len);
			if (d == DROP_IPV6 && t->refused6)
				t->refused6(t, p, len);
		}
		if (d == DROP_QUEUE_FULL)
			return 0;   /* the next would be dropped too: write first */
	}
	return 0;
}

enum drop link_unwrap(const struct link *l, uint8_t **p, size_t *len, size_t *size)
{
	*size = 0;
	if (!l->gso)
		return DROP_NONE;
	switch (gso_wire_get(*p, *len, size)) {
	case 0:
		return DROP_NONE;
	case 1:
		if (*size == 0)
			break;
		*p += GSO_WIRE_LEN;
		*len -= GSO_WIRE_LEN;
		return DROP_NONE;
	}
	*size = 0;
	return DROP_MALFORMED;
}

static const uint8_t plain_vnet[GSO_VNET_LEN];  /* no offload: all zero */

/* One write of p[0..len) behind the header vnet, where t takes one. */
static bool tun_put(const struct link_tun *t, const uint8_t *vnet, const uint8_t *p, size_t len)
{
	struct iovec iov[2] = { { (void *)vnet, GSO_VNET_LEN }, { (void *)p, len } };

	if (!(t->offload & GSO_TUN_VNET))
		return write(t->fd, p, len) == (ssize_t)len;
	return writev(t->fd, iov, 2) == (ssize_t)(GSO_VNET_LEN + len);
}

bool link_tun_put(const struct link_tun *t, const uint8_t *p, size_t len)
{
	return tun_put(t, plain_vnet, p, len);
}

static void put_counted(const struct link_tun *t, const uint8_t *vnet, const uint8_t *p,
			size_t len, struct link_stats *st, struct link_count *dir)
{
	if (tun_put(t, vnet, p, len)) {
		dir->packets++;
		dir->bytes += len;
		return;
	}
	st->drops[DROP_TUN_WRITE]++;
}

/*
 * A super-packet to the TUN: whole, with the header gso_to_tun built, where
 * the TUN takes its kind; else, or once the kernel refused one (EINVAL),
 * cut here.
 */
static void write_super(struct link_tun *t, uint8_t *p, size_t len, size_t size,
			uint8_t *scratch, struct link_stats *st, struct link_count *dir)
{
	struct gso_vnet v;
	struct gso_seg s;
	uint8_t hv[GSO_VNET_LEN];
	size_t bytes, k;
	unsigned need;

	switch (gso_to_tun(&v, p, len, size)) {
	case GSO_BAD:
		st->drops[DROP_MALFORMED]++;
		return;
	case GSO_ONE:
		put_counted(t, plain_vnet, p, len, st, dir);
		return;
	case GSO_SUPER:
		break;
	}
	need = v.type == GSO_T_TCPV4 ? GSO_TUN_TSO : GSO_TUN_USO;
	if (t->offload & need) {
		unsigned n = gso_segments(p, len, size, &bytes);

		gso_vnet_put(hv, &v);
		if (tun_put(t, hv, p, len)) {
			dir->packets += n;
			dir->bytes += bytes;
			return;
		}
		if (errno != EINVAL) {
			st->drops[DROP_TUN_WRITE] += n;
			return;
		}
		t->offload &= ~(unsigned)(GSO_TUN_TSO | GSO_TUN_USO);
		log_warnx("%s: the kernel refused a super-packet: cutting them here from now on",
			  t->name ? t->name : "tun");
	}
	if (!gso_seg_init(&s, p, len, size)) {
		st->drops[DROP_MALFORMED]++;
		return;
	}
	while ((k = gso_seg_next(&s, scratch, LINK_SCRATCH)))
		put_counted(t, plain_vnet, scratch, k, st, dir);
}

void link_tun_write(struct link_tun *t, uint8_t *p, size_t len, size_t size, uint8_t *scratch,
		    struct link_stats *st, struct link_count *dir)
{
	if (size)
		write_super(t, p, len, size, scratch, st, dir);
	else
		put_counted(t, plain_vnet, p, len, st, dir);
}

void link_gro_init(struct link_gro *b, uint8_t *buf)
{
	gso_gro_init(&b->g, buf, LINK_PKT_MAX);
	b->t = NULL;
}

void link_gro_flush(struct link_gro *b, uint8_t *scratch, struct link_stats *st,
		    struct link_count *dir)
{
	const uint8_t *p;
	size_t len, size;

	if (b->t && gso_gro_take(&b->g, &p, &len, &size))
		link_tun_write(b->t, (uint8_t *)p, len, size, scratch, st, dir);
}

void link_gro_write(struct link_gro *b, struct link_tun *t, uint8_t *p, size_t len,
		    size_t size, uint8_t *scratch, struct link_stats *st, struct link_count *dir)
{
	if (b->t != t || size || !(t->offload & GSO_TUN_TSO))
		link_gro_flush(b, scratch, st, dir);   /* nothing overtakes it */
	if (size || !(t->offload & GSO_TUN_TSO)) {
		link_tun_write(t, p, len, size, scratch, st, dir);
		return;
	}
	b->t = t;
	switch (gso_gro_add(&b->g, p, len)) {
	case GRO_MERGED:
		return;
	case GRO_FLUSH:
		link_gro_flush(b, scratch, st, dir);
		if (gso_gro_add(&b->g, p, len) == GRO_MERGED)
			return;
		break;
	case GRO_SINGLE:
		link_gro_flush(b, scratch, st, dir);
		break;
	}
	link_tun_write(t, p, len, 0, scratch, st, dir);
}

size_t link_stats_format(char *out, size_t cap, size_t len, const struct link_stats *st)
{
	int n;

	if (len >= cap)
		return len;
	n = snprintf(out + len, cap - len,
		     " up_packets=%llu up_bytes=%llu down_packets=%llu down_bytes=%llu",
		     (unsigned long long)st->up.packets, (unsigned long long)st->up.bytes,
		     (unsigned long long)st->down.packets, (unsigned long long)st->down.bytes);
	if (n < 0 || (size_t)n >= cap - len)
		return cap - 1;
	return drop_format(out, cap, len + (size_t)n, st->drops);
}

uint64_t link_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void link_signals(const int *sigs, size_t n, void (*handler)(int), sigset_t *old)
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < n; i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, old);
}
