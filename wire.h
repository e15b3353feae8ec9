/* SPDX-License-Identifier: MIT */
/*
 * wire.h: the bytes of one WebSocket connection on its socket, shared by the
 * gateway and the client. Sending: control bytes (handshake lines, control
 * frames) and a ring of data frames, each in a cell allocated once with
 * headroom for its frame header, all flushed in one writev (or handed to
 * TLS), control bytes never splitting a frame. Receiving: reads through the
 * same transport. Framing itself is ws.c's; the poll() loop is the caller's.
 */
#ifndef VPNGW_WIRE_H
#define VPNGW_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ws.h"

#define WIRE_HEADROOM  WS_HDR_MAX             /* a masked or unmasked header */
#define WIRE_CELL      2064                   /* headroom and one packet */
#define WIRE_PKT_MAX   (WIRE_CELL - WIRE_HEADROOM)
#define WIRE_CELLS     64                     /* frames queued; then tail drop */
#define WIRE_CTRL_CAP  (WIRE_CELL + 2048)     /* control bytes, a frame's tail */

struct tls_conn;

/* Data frames waiting for the socket, in cells allocated once. */
struct wire_q {
	uint8_t *cells;               /* WIRE_CELLS * WIRE_CELL bytes */
	uint16_t off[WIRE_CELLS];     /* frame start within its cell */
	uint16_t len[WIRE_CELLS];     /* frame length */
	unsigned head, count;
	size_t head_sent;             /* bytes of the head frame already sent */
};

/* Bytes that go out whole, before any frame not yet begun. */
struct wire_ctrl {
	size_t len;
	uint8_t buf[WIRE_CTRL_CAP];
};

/* Allocates the cells. Returns 0, or -1 when out of memory. */
int wire_q_init(struct wire_q *q);
void wire_q_free(struct wire_q *q);
/* Forgets every queued frame; returns how many there were. */
unsigned wire_q_clear(struct wire_q *q);

/*
 * Where the next packet goes: WIRE_PKT_MAX bytes with WIRE_HEADROOM bytes
 * in front for its frame header, or NULL when the queue is full.
 */
uint8_t *wire_q_next(struct wire_q *q);

/* Queues the frame built in the cell wire_q_next gave: hdr header bytes
 * written just before the packet, then pkt_len packet bytes. */
void wire_q_push(struct wire_q *q, size_t hdr, size_t pkt_len);

/* Appends len bytes to ctrl. Returns 0, or -1 (nothing added) if they do
 * not fit; reserve bytes are kept free for a later close frame. */
int wire_ctrl_put(struct wire_ctrl *ctrl, const void *p, size_t len, size_t reserve);

/*
 * The queue is about to be dropped while the socket has taken part of its
 * head frame: that frame's tail moves in front of the control bytes so that
 * the stream stays whole. Unsent control frames may be lost to make room.
 */
void wire_q_salvage(struct wire_q *q, struct wire_ctrl *ctrl);

/* true when anything waits to be sent (q may be NULL). */
bool wire_pending(const struct wire_ctrl *ctrl, const struct wire_q *q,
		  const struct tls_conn *tls);

/*
 * Sends what the socket takes in one writev (or through tls when not NULL):
 * the rest of a half-sent frame, the control bytes, then whole frames from
 * q (which may be NULL). Returns 0, or -1 when the connection failed.
 */
int wire_flush(int fd, struct tls_conn *tls, struct wire_ctrl *ctrl, struct wire_q *q);

/* Reads into buf. Returns bytes, 0 at EOF, -1 on error (errno or
 * tls_error), -2 when nothing can be had now. */
ssize_t wire_read(int fd, struct tls_conn *tls, uint8_t *buf, size_t cap);

#endif
