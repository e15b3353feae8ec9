/* SPDX-License-Identifier: MIT */
/*
 * link.h: one WebSocket connection on its socket, as both ends drive it:
 * the socket (plain, or through tls.c's engine), the frame receiver
 * (ws.c), the send queue, the keepalive and the close sequence. The
 * gateway (vpngw.c: slots) and the client (client.c: reconnection, the
 * assignment) each keep their own state machine on top; what they do
 * alike is here, once. link.c is the only file that reads from or writes
 * to a socket; it never calls back: its owner calls link_read, then
 * link_next for each event, in its own loop, and link_flush before poll().
 * Who opens and closes the fd is the owner's business.
 *
 * Also here, because both ends' loops need them alike: the TUN drain into
 * the send queue and the TUN write, super-packets included (cut for a
 * peer that takes one packet a message, and a peer's packets coalesced),
 * the counters and their log line, the clock and the signals.
 */
#ifndef VPNGW_LINK_H
#define VPNGW_LINK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limit.h"
#include "gso.h"
#include "nat.h"
#include "txq.h"
#include "ws.h"

#define LINK_PKT_MAX    65535             /* largest packet, and message */
#define LINK_HDR_MAX    WS_HDR_MAX        /* room kept in front of a packet */
#define LINK_IN_CAP     (2 * 65536)       /* socket bytes held for parsing */
#define LINK_RX_CAP     LINK_IN_CAP       /* a loop's receive buffer */
#define LINK_SCRATCH    (GSO_VNET_LEN + LINK_PKT_MAX)  /* a loop's spare packet */
#define LINK_NOTSENT    (32 * 1024)       /* unsent bytes the kernel holds */
#define LINK_CLOSE_MS   2000              /* each closing step's deadline */

struct tls_conn;
struct tls_server;
struct link_stats;

/*
 * The close sequence, one for both ends. Whoever starts it, a close frame
 * goes out, the peer may answer, our side is shut once every queued byte
 * is out, and the link reads until the peer's EOF, so that no last frame
 * is lost to a reset. After a close frame no data frame is sent (RFC 6455
 * §5.5.1): closing drops the data frames not yet begun.
 *
 *   HTTP --link_open--> OPEN --link_close(code)---------> CLOSING
 *    |                   |                                  |
 *    | link_finish       | the peer's close (echoed), or    | the peer's
 *    | (after an HTTP    | its protocol error (closed with  | close
 *    |  error answer)    | 1002, 1003, 1007 or 1009)        |
 *    v                   v                                  v
 *   FLUSH <--------------+----------------------------------+
 *    | every queued byte written: shutdown(SHUT_WR)
 *    v
 *   DRAIN --the peer's EOF--> DEAD
 *
 * Any state goes to DEAD on a read or write error, an EOF the sequence did
 * not expect, or when CLOSING, FLUSH or DRAIN outlives LINK_CLOSE_MS.
 */
enum link_state {
	LINK_HTTP,      /* the upgrade request or response, as raw bytes */
	LINK_OPEN,      /* frames both ways */
	LINK_CLOSING,   /* our close frame is queued; waiting for the peer's */
	LINK_FLUSH,     /* sending what is queued; input is discarded */
	LINK_DRAIN,     /* our side is shut; discarding input until EOF */
	LINK_DEAD,      /* nothing more: the owner frees it */
};

enum link_ev {
	LINK_EV_NONE = 0,  /* nothing more in what has been read */
	LINK_EV_HTTP,      /* handshake bytes: feed them, then link_consume */
	LINK_EV_BINARY,    /* one whole binary message */
	LINK_EV_TEXT,      /* one whole text message (after link_text) */
	LINK_EV_CLOSE,     /* the peer closed (code: its code), or broke the
			      protocol (error: code is what we closed with);
			      the link is FLUSH now */
};

/* How the link's TLS handshake went: set once, read by the owner. */
enum link_tls {
	LINK_TLS_NONE,        /* no TLS, or no byte yet */
	LINK_TLS_PENDING,     /* the engine runs its handshake */
	LINK_TLS_UP,          /* the handshake is done */
	LINK_TLS_FAILED,      /* a TLS error, or the peer went before the end */
	LINK_TLS_PLAIN_HTTP,  /* plain HTTP on the TLS port (answered 400) */
};

struct link_msg {
	enum link_ev ev;
	uint8_t *data;     /* in the loop's buffer or the link's own: valid
			      until the next link_* call on this link and
			      the next link_read into that loop's buffer */
	size_t len;
	uint16_t code;
	bool error;
};

/*
 * A loop's receive buffer, one for all the links the loop reads: link_read
 * reads into it and link_next parses from it, so that an idle link holds
 * no buffer. Zeroed by its owner (calloc or static); nothing to free.
 *
 * Its bytes belong to the link that read them (holder) until that link is
 * done with them for this wake: when its link_next returns LINK_EV_NONE,
 * or at its link_release or link_free. Then what is left unparsed (a part
 * of a frame, or of an HTTP head) has been copied once into the link's own
 * allocation, sized to the frame (kept for the next while the link is
 * busy, given back once unused for TXQ_IDLE_MS; an HTTP head's is wiped
 * and freed once parsed), and the buffer may be reused: by the next link_read of any link, in any order.
 * A link_read into a buffer another link still holds releases that link
 * first. Between wakes nothing a link needs lies here, so a link may move
 * to another loop (and read into that loop's buffer) between two wakes,
 * once its owner saw LINK_EV_NONE or called link_release.
 */
struct link_rxbuf {
	struct link *holder;              /* whose bytes lie here, or NULL */
	size_t off, len;                  /* parsed, read */
	bool secret;                      /* they were HTTP: wiped at release */
	uint8_t buf[LINK_RX_CAP];
};

struct link {
	int fd;
	enum link_state st;
	bool client;                      /* our frames are masked (§5.3) */
	bool http_pending;                /* an HTTP event awaits its consume */
	bool gso;                         /* the peer takes super-packet messages */
	struct tls_conn *tls;             /* NULL for plain ws:// */
	struct tls_server *tls_srv;       /* server: the engine comes with the first byte */
	enum link_tls tls_hs;             /* the TLS handshake's outcome */
	unsigned keepalive_ms;            /* 0: no pings */
	uint64_t last_rx, last_ping, deadline;
	uint16_t close_code;              /* the close we sent or echoed */
	uint64_t rng;                     /* mask keys */
	char why[128];                    /* the first failure, for the log */
	struct link_rxbuf *rxb;           /* the buffer it reads now, or NULL */
	uint8_t *in;                      /* what a read left unparsed, or NULL */
	size_t in_off, in_len, in_cap;    /* parsed, held, allocated */
	bool in_secret;                   /* it holds HTTP bytes: wiped at free */
	bool in_used;                     /* since the last own_trim (link_tick) */
	uint64_t in_active;               /* the last link_tick that saw it used */
	size_t msg_max;                   /* link_open's limit: reassembly's size */
	struct ws_rx rx;                  /* rx.frag: while a message is fragmented */
	struct txq q;                     /* frames waiting for the socket */
};

/*
 * Starts a link on the connected, non-blocking socket fd (not owned).
 * client: we are the client (we mask; the peer must not). tls: an engine
 * for a client; tls_srv: a server's credentials, whose engine is made when
 * the first byte arrives, so that an idle connection costs little. The
 * link starts in LINK_HTTP.
 */
void link_init(struct link *l, int fd, bool client, struct tls_conn *tls,
	       struct tls_server *tls_srv, uint64_t now);
/* Frees the buffers and the TLS engine, wiping what they held. */
void link_free(struct link *l);

/*
 * One read from the socket (through TLS if any) into the loop's buffer b,
 * which l holds from now until it is done with it (struct link_rxbuf).
 * It reads at most what keeps l's bytes within LINK_IN_CAP. Returns the
 * bytes read (> 0), 0 when none can be had now, -1 when the link is dead
 * (EOF, error: link_why says; the expected EOF of DRAIN too). In FLUSH
 * and DRAIN what arrives is discarded.
 */
int link_read(struct link *l, struct link_rxbuf *b, uint64_t now)
	__attribute__((warn_unused_result));
/*
 * l is done with its loop's buffer for this wake: what it left there
 * unparsed is copied into its own allocation. link_next does this when it
 * returns LINK_EV_NONE; an owner that stops before calls it (a hand-over
 * to another loop). Returns 0, or -1 when memory ran out (l is dead).
 */
int link_release(struct link *l);

/*
 * The next event in what has been read: first what l kept from earlier
 * reads, then what its last link_read brought. A whole frame in the loop's
 * buffer is parsed (and unmasked) where it lies; a frame that a read cut
 * is completed in l's own allocation, each of its bytes copied once.
 * Control frames are answered here (a ping gets its pong) and the close
 * sequence is run here; only data, the handshake bytes and the peer's
 * close reach the owner. In LINK_HTTP each event hands over every
 * unparsed byte once: the owner feeds its head parser and link_consume()s
 * what it took. LINK_EV_NONE: l released the loop's buffer.
 */
enum link_ev link_next(struct link *l, struct link_msg *m);
void link_consume(struct link *l, size_t n);

/* The handshake is done: frames from now on, messages up to max bytes. */
void link_open(struct link *l, size_t max, uint64_t now);
/* Accept (or not) text messages: the client's vpngw.v1 assignment. */
void link_text(struct link *l, bool on);
/* Pings after keepalive_s idle seconds; a peer silent for three is dropped. */
void link_keepalive(struct link *l, unsigned keepalive_s);

/* Starts the closing handshake with code (§7.1.2); only from OPEN. */
void link_close(struct link *l, uint16_t code, uint64_t now);
/* Sends what is queued (an HTTP error answer), then closes. */
void link_finish(struct link *l, uint64_t now);

/* Queues handshake bytes (a request or response head): nothing is sent
 * before them. Returns 0, or -1 when they do not fit. */
int link_send_head(struct link *l, const void *p, size_t len) __attribute__((warn_unused_result));
/* Queues one text message. Returns 0, or -1 when the queue is full. */
int link_send_text(struct link *l, const void *p, size_t len) __attribute__((warn_unused_result));

/* The peer takes super-packet messages (the "vpngw-gso" extension, gso.h). */
void link_gso(struct link *l, bool on);

/*
 * Writes what the socket takes now: the rest of a half-written record,
 * HTTP heads, control frames, then whole records; then runs the close
 * sequence's FLUSH step. Returns 0, or -1 when the link died.
 */
int link_flush(struct link *l, uint64_t now, struct link_stats *st);

enum link_tick { LINK_TICK_OK, LINK_TICK_SILENT, LINK_TICK_DEAD };
/*
 * Timers: keepalive pings, and a peer silent for three intervals, which is
 * closed with 1001 (LINK_TICK_SILENT); a closing step past its deadline
 * (LINK_TICK_DEAD). Handshake deadlines are the owner's.
 */
enum link_tick link_tick(struct link *l, uint64_t now);
/* When link_tick has something to do next (ms, link_now's clock), as of
 * now: the keepalive, a close step, the send queue's trim (txq_due);
 * UINT64_MAX for never. Only a read, a queued frame, link_tick and the
 * close sequence move it. */
uint64_t link_due(const struct link *l);

/* poll() events the link waits for (POLLIN, POLLOUT). */
short link_events(struct link *l);
/* Decrypted bytes wait in the TLS engine: poll() must not sleep. */
bool link_busy(struct link *l);
/* Why the link failed or closed, for the log ("" while all is well). */
const char *link_why(const struct link *l);

/* ---- What both ends' loops share around the link ---- */

struct link_count {
	uint64_t packets, bytes;
};

/* A rate one way (limit.h): bits a second, and its bucket. */
struct link_rate {
	struct limit_rate r;
	struct limit_bucket b;
};

/* Traffic each way and drops by reason, one set per loop. */
struct link_stats {
	uint64_t drops[DROP_N];
	struct link_count up;              /* client -> Internet */
	struct link_count down;            /* Internet -> client */
};

/* A TUN as both ends' loops hold it: its fd and its offloads (gso.h's
 * GSO_TUN_* bits, from tun_open or tun_create). */
struct link_tun {
	int fd;
	unsigned offload;   /* a super-packet the kernel refuses clears TSO, USO */
	const char *name;   /* for the one line that says so */
	/* Without a nat (the client): IPv6 goes to the peer when ipv6 is set;
	 * else each IPv6 packet is dropped as `ipv6` and handed to refused6,
	 * when set, which may answer it (link_tun_put). */
	bool ipv6;
	void (*refused6)(struct link_tun *t, const uint8_t *p, size_t len);
};

/* Writes the packet p[0..len) to t, behind a plain header where t takes
 * one: true when the kernel took it whole. */
bool link_tun_put(const struct link_tun *t, const uint8_t *p, size_t len);

/*
 * Reads up to budget packets from a TUN, each of at most max bytes (the
 * TUN's MTU) or a super-packet of up to LINK_PKT_MAX when the TUN takes
 * them: into l's send queue when l is not NULL and open, else into scratch
 * (LINK_SCRATCH bytes) to be dropped as `idle`. A super-packet goes as one
 * message to a peer that takes them (link_gso), else cut into packets.
 * nat, when not NULL, maps each packet back to its client (nat_in); without
 * it a packet must only look like IPv4, or IPv6 when t->ipv6. rate, when not NULL, holds what is
 * queued to its bits a second (as of now, in ms): the excess is dropped as
 * `rate`. Each packet sent is counted in dir (a super-packet as its
 * segments), each drop in st by reason. Returns 0, or -1 when the TUN
 * failed (errno set). Both ends read on when the queue is full, so that a
 * packet of a sparse flow still finds the fast lane (txq.h) instead of
 * waiting behind a bulk flow in the kernel's queue; a packet that finds no
 * room is dropped and counted (SPEC: tail drop), and ends the pass, so
 * that the loop writes before it reads again.
 */
int link_tun_drain(struct link *l, struct link_tun *t, size_t max, struct nat *nat, enum drop idle,
		   struct link_stats *st, struct link_count *dir, uint8_t *scratch,
		   unsigned budget, struct link_rate *rate, uint64_t now);

/*
 * A binary message m[0..len) from l's peer as a packet: strips a
 * super-packet prefix where the link took the extension. Sets *p, *len (the
 * packet) and *size (its segment size; 0 for one packet). Returns
 * DROP_NONE, or DROP_MALFORMED for a prefix this version does not know.
 */
enum drop link_unwrap(const struct link *l, uint8_t **p, size_t *len, size_t *size);

/*
 * Writes one packet p[0..len) to a TUN; with size, a super-packet of that
 * segment size (link_unwrap's), which the kernel segments when it takes
 * it, else this function does, through scratch (LINK_SCRATCH bytes). The
 * packet's L4 checksum may be rewritten. Counts what was written in dir,
 * each drop in st (tun_write, or malformed for a bad super-packet).
 */
void link_tun_write(struct link_tun *t, uint8_t *p, size_t len, size_t size, uint8_t *scratch,
		    struct link_stats *st, struct link_count *dir);

/*
 * A loop's coalescing (GRO, gso.h) of what a peer sends one packet a
 * message: consecutive TCP segments of one flow become one super-packet
 * and one TUN write, for TUNs that take them. One per loop: the messages
 * of one link's read go through it in order, then link_gro_flush.
 */
struct link_gro {
	struct gso_gro g;
	struct link_tun *t;     /* where what is pending goes */
};

/* An empty batch over buf (LINK_PKT_MAX bytes, the caller's). */
void link_gro_init(struct link_gro *b, uint8_t *buf);
/*
 * Writes the packet p[0..len) (checked, after the NAT; a super-packet of
 * segment size size, or 0) to t, as link_tun_write does, through the
 * batch: merged with what is pending, or after it. scratch, st and dir as
 * for link_tun_write.
 */
void link_gro_write(struct link_gro *b, struct link_tun *t, uint8_t *p, size_t len, size_t size,
		    uint8_t *scratch, struct link_stats *st, struct link_count *dir);
/* Writes what is pending, if anything. */
void link_gro_flush(struct link_gro *b, uint8_t *scratch, struct link_stats *st,
		    struct link_count *dir);

/* Appends " up_packets=N ... drop_REASON=N" to out (len bytes held of
 * cap); returns the new length. */
size_t link_stats_format(char *out, size_t cap, size_t len, const struct link_stats *st);

/* Milliseconds on the monotonic clock. */
uint64_t link_now(void);

/*
 * Routes sigs[0..n) to handler (SA_RESTART) and blocks them (the previous
 * mask goes to *old when not NULL) until the caller's loop runs: each loop
 * (the client's, each gateway worker's) unblocks them there, its handler
 * writing an eventfd the loop waits on, so that a signal is never missed
 * between a check and the wait, nor while every wait returns events.
 * SIGPIPE is ignored.
 */
void link_signals(const int *sigs, size_t n, void (*handler)(int), sigset_t *old);

#endif
