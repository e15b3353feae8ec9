/* SPDX-License-Identifier: MIT */
/*
 * wire.c: one connection's send queue and transport (see wire.h). It owns
 * the order in which queued bytes leave; ws.c builds the frames and the
 * caller's loop decides when to flush, just before poll().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tls.h"
#include "wire.h"

int wire_q_init(struct wire_q *q)
{
	memset(q, 0, sizeof *q);
	q->cells = malloc((size_t)WIRE_CELLS * WIRE_CELL);
	return q->cells ? 0 : -1;
}

void wire_q_free(struct wire_q *q)
{
	free(q->cells);
	q->cells = NULL;
}

unsigned wire_q_clear(struct wire_q *q)
{
	unsigned n = q->count;

	q->head = q->count = 0;
	q->head_sent = 0;
	return n;
}

static uint8_t *cell(const struct wire_q *q, unsigned k)
{
	return q->cells + (size_t)k * WIRE_CELL;
}

uint8_t *wire_q_next(struct wire_q *q)
{
	if (q->count == WIRE_CELLS)
		return NULL;
	return cell(q, (q->head + q->count) % WIRE_CELLS) + WIRE_HEADROOM;
}

void wire_q_push(struct wire_q *q, size_t hdr, size_t pkt_len)
{
	unsigned k = (q->head + q->count) % WIRE_CELLS;

	q->off[k] = (uint16_t)(WIRE_HEADROOM - hdr);
	q->len[k] = (uint16_t)(hdr + pkt_len);
	q->count++;
}

int wire_ctrl_put(struct wire_ctrl *ctrl, const void *p, size_t len, size_t reserve)
{
	if (reserve > WIRE_CTRL_CAP - ctrl->len || len > WIRE_CTRL_CAP - ctrl->len - reserve)
		return -1;
	memcpy(ctrl->buf + ctrl->len, p, len);
	ctrl->len += len;
	return 0;
}

void wire_q_salvage(struct wire_q *q, struct wire_ctrl *ctrl)
{
	if (!q->count || !q->head_sent)
		return;
	size_t rest = q->len[q->head] - q->head_sent;
	const uint8_t *p = cell(q, q->head) + q->off[q->head] + q->head_sent;

	/* Unsent control bytes are whole frames, which may be lost; the tail
	 * may not. WIRE_CTRL_CAP > WIRE_CELL, so it always fits. */
	if (rest > WIRE_CTRL_CAP - ctrl->len)
		ctrl->len = 0;
	memmove(ctrl->buf + rest, ctrl->buf, ctrl->len);
	memcpy(ctrl->buf, p, rest);
	ctrl->len += rest;
}

bool wire_pending(const struct wire_ctrl *ctrl, const struct wire_q *q,
		  const struct tls_conn *tls)
{
	return ctrl->len || (q && q->count) || (tls && tls_want_write(tls));
}

/* Takes up to *n sent bytes off the head frame. Returns true when that
 * frame is now wholly sent (and gone from the queue). */
static bool take(struct wire_q *q, size_t *n)
{
	size_t rest = q->len[q->head] - q->head_sent;
	size_t k = *n < rest ? *n : rest;

	q->head_sent += k;
	*n -= k;
	if (q->head_sent < q->len[q->head])
		return false;
	q->head = (q->head + 1) % WIRE_CELLS;
	q->count--;
	q->head_sent = 0;
	return true;
}

/* Drops n sent bytes from the front of what wire_flush offered, in its
 * order: the half-sent head frame, the control bytes, whole frames. */
static void consume(struct wire_ctrl *ctrl, struct wire_q *q, size_t n, bool mid)
{
	if (mid && !take(q, &n))
		return;
	size_t k = n < ctrl->len ? n : ctrl->len;
	memmove(ctrl->buf, ctrl->buf + k, ctrl->len - k);
	ctrl->len -= k;
	n -= k;
	if (ctrl->len)
		return;
	while (q && n && q->count && take(q, &n))
		;
}

static ssize_t send_iov(int fd, struct tls_conn *tls, const struct iovec *iov, int n)
{
	if (tls)
		return tls_writev(tls, fd, iov, n);
	ssize_t w = writev(fd, iov, n);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return w;
}

int wire_flush(int fd, struct tls_conn *tls, struct wire_ctrl *ctrl, struct wire_q *q)
{
	struct iovec iov[WIRE_CELLS + 1];
	bool mid = q && q->count && q->head_sent;
	unsigned i = 0;
	int n = 0;

	if (mid) {
		iov[n++] = (struct iovec){ cell(q, q->head) + q->off[q->head] + q->head_sent,
					   q->len[q->head] - q->head_sent };
		i = 1;
	}
	if (ctrl->len)
		iov[n++] = (struct iovec){ ctrl->buf, ctrl->len };
	for (; q && i < q->count; i++) {
		unsigned k = (q->head + i) % WIRE_CELLS;
		iov[n++] = (struct iovec){ cell(q, k) + q->off[k], q->len[k] };
	}
	if (n == 0)
		return tls ? tls_flush(tls, fd) : 0;
	ssize_t w = send_iov(fd, tls, iov, n);
	if (w < 0)
		return -1;
	consume(ctrl, q, (size_t)w, mid);
	return 0;
}

ssize_t wire_read(int fd, struct tls_conn *tls, uint8_t *buf, size_t cap)
{
	if (tls)
		return tls_read(tls, fd, buf, cap);
	ssize_t r = read(fd, buf, cap);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return -2;
	return r;
}
