/* SPDX-License-Identifier: MIT */
/*
 * vpngw.c: main, the subcommand table, and the gateway's event loop.
 *
 * It owns every file descriptor's lifetime, the slot table, the connections
 * and the only poll() of the gateway. Bytes go to ws.c (HTTP upgrade and
 * frames), packets to nat.c (validation and source NAT), and the host to
 * tun.c (devices, setup, conntrack); tls.c, when built, sits between the
 * socket and ws.c. None of them calls back into this file.
 *
 * The packet paths:
 *   socket -> conn.in -> ws_rx_next (unmask in place) -> nat_out -> write(tun)
 *   read(tun) into a slot's wire.c cell, after room for the frame header
 *   -> nat_in -> header written in front -> one writev of many frames.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "client.h"
#include "log.h"
#include "nat.h"
#include "tls.h"
#include "tun.h"
#include "wire.h"
#include "ws.h"

#define VPNGW_VERSION "0.1.0"

/* ---- Sizes and timers ---- */

#define IN_CAP         (2 * 65536)       /* socket bytes read per conn */
#define CLOSE_RESERVE  4                 /* ctrl room kept for a close frame */
#define CONN_EXTRA     32                /* connections beyond the pool */
#define HANDSHAKE_MS   10000             /* SPEC: handshake within 10 s */
#define CLOSE_WAIT_MS  2000              /* peer's close reply / final flush */
#define QUARANTINE_MS  1000              /* after the conntrack flush */
#define PRIV_BUDGET    16                /* helper messages read per wake */
#define TUN_BUDGET     64                /* packets read per TUN per wake */
#define SOCK_BUDGET    4                 /* reads per socket per wake */
#define TOKEN_LEN      16                /* session token bytes */

/* ---- Configuration ---- */

struct config {
	struct tun_pool pool;
	const char *listen;
	const char *path;
	const char *user;
	const char *tls_cert, *tls_key;
	struct nat_acl acl;
	unsigned linger_s, keepalive_s;
	size_t max_msg;
	bool dry_run;
};

/* ---- Connections and slots ---- */

enum conn_state {
	C_HTTP,        /* reading the upgrade request */
	C_OPEN,        /* frames both ways */
	C_CLOSING,     /* our close frame sent; waiting for the peer's */
	C_FLUSH_CLOSE, /* send what is queued, discard input, then C_DRAIN */
	C_DRAIN,       /* our side shut; discard input until EOF, then close */
};

struct slot;

struct conn {
	int fd;
	int pidx;                    /* index in the poll set, -1 if not in it */
	enum conn_state state;
	char peer[INET6_ADDRSTRLEN + 8];
	struct slot *slot;
	const char *slot_name;       /* the last slot held, for the log */
	struct tls_conn *tls;        /* NULL for plain ws:// */
	struct ws_req *req;          /* during C_HTTP only */
	struct ws_rx rx;
	bool v1;                     /* spoke vpngw.v1 */
	bool ping_out;               /* a keepalive ping awaits any reply */
	bool quiet;                  /* its end was logged already */
	uint16_t close_code;         /* what we closed with, for the log */
	uint64_t deadline;           /* handshake or closing deadline, ms */
	uint64_t last_rx;            /* last byte from the peer, ms */
	size_t in_len;
	struct wire_ctrl out;        /* replies and control frames */
	uint8_t in[IN_CAP];
	uint8_t frag[WS_MSG_MAX];
};

/*
 * A released slot is handed out again only once no reply to its last
 * client's flows can reach it: the helper deletes its conntrack entries,
 * then it rests while packets already queued in the TUN are dropped.
 *   BUSY -> LINGER -> FLUSH -> FLUSHING -> QUARANTINE -> FREE
 * Without the helper a released slot is RETIRED until restart.
 */
enum slot_state {
	S_FREE,        /* may be given to a new client */
	S_BUSY,        /* a connection holds it */
	S_LINGER,      /* its client left; kept for resumption */
	S_FLUSH,       /* released; the helper is to be asked to flush it */
	S_FLUSHING,    /* the helper deletes its conntrack entries */
	S_QUARANTINE,  /* flushed; replies already queued may still arrive */
	S_RETIRED,     /* released with no way to flush it: never reused */
};

struct slot {
	unsigned index;
	int tun_fd;
	char name[TUN_NAME_MAX];
	uint32_t net;                /* host order */
	enum slot_state state;
	struct conn *conn;
	uint64_t until;              /* end of linger or quarantine, ms */
	uint8_t token[TOKEN_LEN];
	bool has_token;
	struct nat nat;
	struct wire_q txq;           /* frames for the client, tail drop */
};

/* Counters: one per drop reason, and traffic each way. */
struct stats {
	uint64_t drops[DROP_N];
	uint64_t up_packets, up_bytes;     /* client -> Internet */
	uint64_t down_packets, down_bytes; /* Internet -> client */
};

/* Everything one loop owns, so that several loops can run side by side. */
struct gw {
	const struct config *cfg;
	int listen_fd;
	struct slot *slots;
	unsigned n_slots;
	struct conn **conns;
	unsigned n_conns, max_conns;
	struct tls_server *tls;
	int priv_fd;                 /* the conntrack helper, -1 without */
	uint64_t fw[TUN_FW_N];       /* the firewall's counters, as it reported */
	bool fw_known;
	unsigned refused;            /* refused or evicted since the last log */
	uint64_t refused_logged;
	uint64_t now;
	struct stats st;
	struct pollfd *pfd;
	uint8_t scratch[WIRE_CELL];  /* packets read only to be dropped */
};

static volatile sig_atomic_t got_term, got_usr1, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put_ip(char *out, size_t cap, uint32_t host_order)
{
	struct in_addr a = { .s_addr = htonl(host_order) };

	inet_ntop(AF_INET, &a, out, (socklen_t)cap);
}

/* ==== Output: control bytes and the slot's frame queue ==== */

/* Queues a ping or pong, keeping room for a close frame. A full queue loses
 * a pong, which RFC 6455 §5.5.3 allows. */
static void ctrl_frame(struct conn *c, enum ws_op op, const uint8_t *p, size_t len)
{
	uint8_t f[WS_CTRL_MAX + 2];
	size_t n = ws_ctrl_frame(f, op, p, len);

	(void)wire_ctrl_put(&c->out, f, n, CLOSE_RESERVE);
}

/* The frame queue c sends from: its slot's, while it holds one. */
static struct wire_q *conn_q(const struct conn *c)
{
	return c->slot && c->slot->conn == c ? &c->slot->txq : NULL;
}

static bool tx_pending(const struct conn *c)
{
	return wire_pending(&c->out, conn_q(c), c->tls);
}

/* ==== Slots ==== */

/*
 * Separates a connection from its slot. A frame the socket has half taken
 * must still be finished, or the stream breaks: wire_q_salvage keeps its
 * tail. The rest of the queue is dropped.
 */
static void conn_unbind(struct conn *c)
{
	struct slot *s = c->slot;

	c->slot = NULL;
	if (!s || s->conn != c)
		return;
	wire_q_salvage(&s->txq, &c->out);
	s->conn = NULL;
	wire_q_clear(&s->txq);
}

static void slot_retire(struct slot *s, const char *why)
{
	s->state = S_RETIRED;
	log_warnx("%s retired until restart: %s", s->name, why);
}

/* The helper is gone or broke the protocol: slots waiting for it retire. */
static void priv_gone(struct gw *g)
{
	log_warnx("the conntrack helper is gone: released slots are retired from now on");
	tun_priv_close(g->priv_fd);
	g->priv_fd = -1;
	for (unsigned i = 0; i < g->n_slots; i++)
		if (g->slots[i].state == S_FLUSH || g->slots[i].state == S_FLUSHING)
			slot_retire(&g->slots[i], "its conntrack entries cannot be deleted");
}

/* Asks the helper to flush s; a full queue leaves it in S_FLUSH, and the
 * timers ask again. Never blocks. */
static void slot_flush(struct gw *g, struct slot *s)
{
	if (tun_priv_flush(g->priv_fd, s->index) == 0)
		s->state = S_FLUSHING;
	else if (errno != EAGAIN && errno != EWOULDBLOCK)
		priv_gone(g);
}

/* Gives up the slot for good: the helper deletes its flows' conntrack
 * entries, and it is free once that is done and a quarantine is over. */
static void slot_release(struct gw *g, struct slot *s)
{
	explicit_bzero(s->token, sizeof s->token);
	s->has_token = false;
	nat_reset(&s->nat);
	wire_q_clear(&s->txq);
	s->conn = NULL;
	if (g->priv_fd < 0) {
		slot_retire(s, "no conntrack helper to delete its flows");
		return;
	}
	s->state = S_FLUSH;
	slot_flush(g, s);
}

/* Messages of the helper: a slot flushed, or the firewall's counters. */
static void priv_readable(struct gw *g)
{
	struct tun_priv_msg m;

	for (int i = 0; i < PRIV_BUDGET && g->priv_fd >= 0; i++) {
		int r = tun_priv_read(g->priv_fd, &m);
		if (r == 0)
			return;
		if (r < 0) {
			priv_gone(g);
			return;
		}
		if (m.type == TUN_PRIV_COUNTERS) {
			memcpy(g->fw, m.packets, sizeof g->fw);
			g->fw_known = true;
			continue;
		}
		if (m.slot >= g->n_slots || g->slots[m.slot].state != S_FLUSHING)
			continue;
		struct slot *s = &g->slots[m.slot];
		if (m.result < 0) {
			errno = (int)-m.result;
			log_warn("%s: deleting its conntrack entries", s->name);
			slot_retire(s, "its conntrack entries could not be deleted");
			continue;
		}
		log_debug("%s: %lld conntrack entries deleted", s->name, (long long)m.result);
		s->state = S_QUARANTINE;
		s->until = g->now + QUARANTINE_MS;
	}
}

/* The connection c leaves its slot: kept for resumption if it can resume. */
static void slot_leave(struct gw *g, struct conn *c)
{
	struct slot *s = c->slot;

	if (!s || s->conn != c) {
		c->slot = NULL;
		return;
	}
	conn_unbind(c);
	if (s->has_token && g->cfg->linger_s) {
		s->state = S_LINGER;
		s->until = g->now + (uint64_t)g->cfg->linger_s * 1000;
	} else {
		slot_release(g, s);
	}
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int token_parse(uint8_t out[static TOKEN_LEN], struct ws_str s)
{
	if (s.len != 2 * TOKEN_LEN)
		return -1;
	for (size_t i = 0; i < TOKEN_LEN; i++) {
		int hi = hexval(s.p[2 * i]), lo = hexval(s.p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static bool token_equal(const uint8_t a[static TOKEN_LEN], const uint8_t b[static TOKEN_LEN])
{
	uint8_t d = 0;

	for (size_t i = 0; i < TOKEN_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/* The slot a session token names, if it still holds that session. */
static struct slot *slot_resume(struct gw *g, struct ws_str tok)
{
	uint8_t t[TOKEN_LEN];
	struct slot *found = NULL;

	if (!tok.len || token_parse(t, tok) < 0)
		return NULL;
	for (unsigned i = 0; i < g->n_slots; i++) {
		struct slot *s = &g->slots[i];
		bool live = s->state == S_LINGER || s->state == S_BUSY;
		if (live && s->has_token && token_equal(s->token, t))
			found = s;
	}
	explicit_bzero(t, sizeof t);
	return found;
}

static struct slot *slot_free(struct gw *g)
{
	for (unsigned i = 0; i < g->n_slots; i++)
		if (g->slots[i].state == S_FREE)
			return &g->slots[i];
	return NULL;
}

static unsigned slots_in(const struct gw *g, enum slot_state st)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->n_slots; i++)
		n += g->slots[i].state == st;
	return n;
}

/* ==== Connections ==== */

/* Closes the socket and forgets c. why, if not NULL, is logged. */
static void conn_close(struct gw *g, struct conn *c, const char *why)
{
	if (why && !c->quiet)
		(c->state == C_HTTP ? log_debug : log_info)("disconnect %s%s%s: %s%s%.0u", c->peer, c->slot_name ? " from " : "",
			 c->slot_name ? c->slot_name : "", why,
			 c->close_code ? ", close code " : "", c->close_code);
	slot_leave(g, c);
	if (c->tls)
		tls_conn_free(c->tls);
	free(c->req);
	close(c->fd);
	for (unsigned i = 0; i < g->n_conns; i++) {
		if (g->conns[i] == c) {
			g->conns[i] = g->conns[--g->n_conns];
			break;
		}
	}
	free(c);
}

/* Starts the closing handshake with code (RFC 6455 §7.1.2). */
static void conn_fail(struct gw *g, struct conn *c, uint16_t code)
{
	uint8_t f[4];

	if (c->state != C_OPEN)
		return;
	c->close_code = code;
	(void)wire_ctrl_put(&c->out, f, ws_close_frame(f, code), 0); /* CLOSE_RESERVE kept room */
	c->state = C_CLOSING;
	c->deadline = g->now + CLOSE_WAIT_MS;
	slot_leave(g, c);
}

/* Answers the handshake with an HTTP error and closes after sending it. */
static void http_refuse(struct gw *g, struct conn *c, int status)
{
	char buf[1024];
	size_t n = ws_resp_error(buf, sizeof buf, status);

	log_info("refused %s: HTTP %d", c->peer, status);
	c->quiet = true;
	c->out.len = 0;
	(void)wire_ctrl_put(&c->out, buf, n, 0);
	c->state = C_FLUSH_CLOSE;
	c->deadline = g->now + CLOSE_WAIT_MS;
}

/* The vpngw.v1 assignment (SPEC, Wire protocol): one JSON text message. */
static void send_assignment(struct gw *g, struct conn *c)
{
	const struct slot *s = c->slot;
	char addr[16], gwa[16], tok[2 * TOKEN_LEN + 1], json[400];
	uint8_t frame[WS_SRV_HDR_MAX + sizeof json];

	put_ip(addr, sizeof addr, s->net + 2);
	put_ip(gwa, sizeof gwa, s->net + 1);
	for (size_t i = 0; i < TOKEN_LEN; i++)
		snprintf(tok + 2 * i, 3, "%02x", s->token[i]);
	int n = snprintf(json, sizeof json,
			 "{\"address\":\"%s/%u\",\"gateway\":\"%s\",\"mtu\":%u,"
			 "\"session\":\"%s\",\"keepalive\":%u,\"linger\":%u}",
			 addr, g->cfg->pool.prefix, gwa, g->cfg->pool.mtu, tok,
			 g->cfg->keepalive_s, g->cfg->linger_s);
	explicit_bzero(tok, sizeof tok);
	size_t h = ws_hdr_put(frame, WS_OP_TEXT, (size_t)n);
	memcpy(frame + h, json, (size_t)n);
	explicit_bzero(json, sizeof json);
	(void)wire_ctrl_put(&c->out, frame, h + (size_t)n, 0);
	explicit_bzero(frame, sizeof frame);
}

/* Binds an upgraded connection to a slot: the one its token names, or a
 * free one. Returns NULL when the pool is full. */
static struct slot *conn_take_slot(struct gw *g, struct conn *c, const struct ws_req *r)
{
	struct slot *s = c->v1 ? slot_resume(g, r->session) : NULL;

	if (s) {
		struct conn *old = s->conn;
		if (old) {
			/* The client roamed before its old connection died. */
			conn_unbind(old);
			conn_fail(g, old, WS_CLOSE_NORMAL);
		}
		log_info("resume %s on %s", c->peer, s->name);
	} else {
		s = slot_free(g);
		if (!s)
			return NULL;
		nat_reset(&s->nat);
		s->has_token = false;
		if (c->v1 && getrandom(s->token, TOKEN_LEN, 0) == TOKEN_LEN)
			s->has_token = true;
	}
	s->state = S_BUSY;
	s->conn = c;
	wire_q_clear(&s->txq);
	c->slot = s;
	c->slot_name = s->name;
	return s;
}

/* The request is complete: answer it, and bind a slot on success. */
static void handshake_done(struct gw *g, struct conn *c)
{
	struct ws_req *r = c->req;
	int status = ws_req_status(r, g->cfg->path);
	char buf[1024];

	if (status != 101) {
		http_refuse(g, c, status);
		return;
	}
	c->v1 = r->proto_v1;
	size_t n = ws_resp_101(buf, sizeof buf, r->key.p, r->key.len,
			       c->v1 ? WS_PROTO_V1 : NULL);
	(void)wire_ctrl_put(&c->out, buf, n, 0);
	c->state = C_OPEN;
	c->last_rx = g->now;
	ws_rx_init(&c->rx, true, g->cfg->max_msg, c->frag, sizeof c->frag);

	struct slot *s = conn_take_slot(g, c, r);
	if (!s) {
		log_info("refused %s: no free slot", c->peer);
		conn_fail(g, c, WS_CLOSE_TRY_AGAIN);
	} else {
		log_info("connect %s on %s%s", c->peer, s->name, c->v1 ? " (vpngw.v1)" : "");
		if (c->v1)
			send_assignment(g, c);
	}
	explicit_bzero(r, sizeof *r);
	free(r);
	c->req = NULL;
}

/* One packet from the client: validate, filter, NAT, one TUN write. */
static void packet_up(struct gw *g, struct conn *c, uint8_t *p, size_t len)
{
	struct slot *s = c->slot;
	enum drop d = nat_check(p, len);

	if (d == DROP_NONE)
		d = nat_out(&s->nat, &g->cfg->acl, p, len);
	if (d == DROP_NONE) {
		ssize_t w = write(s->tun_fd, p, len);
		if (w == (ssize_t)len) {
			g->st.up_packets++;
			g->st.up_bytes += len;
			return;
		}
		d = DROP_TUN_WRITE;
	}
	g->st.drops[d]++;
	if (log_verbosity >= LOG_DEBUG)
		log_debug("%s: drop up %s (%zu bytes)", s->name, drop_name(d), len);
}

/* Handles one frame event. Returns -1 when the connection is to close now. */
static int frame_event(struct gw *g, struct conn *c, struct ws_msg *m)
{
	switch (m->ev) {
	case WS_EV_BINARY:
		if (c->state == C_OPEN && c->slot)
			packet_up(g, c, m->data, m->len);
		return 0;
	case WS_EV_PING:
		if (c->state == C_OPEN)
			ctrl_frame(c, WS_OP_PONG, m->data, m->len);
		return 0;
	case WS_EV_PONG:
		return 0;
	case WS_EV_CLOSE:
		if (c->state == C_CLOSING)
			return -1; /* the peer answered our close */
		uint16_t code = m->code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : m->code;
		conn_fail(g, c, code);
		c->state = C_FLUSH_CLOSE;
		return 0;
	case WS_EV_ERROR:
		if (c->state != C_OPEN)
			return -1;
		log_info("%s: protocol error, closing with %u", c->peer, m->code);
		conn_fail(g, c, m->code);
		c->state = C_FLUSH_CLOSE; /* what follows cannot be parsed */
		return 0;
	case WS_EV_MORE:
		return 0;
	}
	return 0;
}

/* Consumes what conn.in holds, frame by frame, and keeps the rest. */
static int parse_input(struct gw *g, struct conn *c)
{
	size_t off = 0;
	int rc = 0;

	while (off < c->in_len) {
		if (c->state == C_HTTP) {
			size_t used = 0;
			int st = ws_req_feed(c->req, c->in + off, c->in_len - off, &used);
			off += used;
			if (st == WS_REQ_MORE)
				continue;
			if (st == WS_REQ_DONE)
				handshake_done(g, c);
			else
				http_refuse(g, c, st);
			continue;
		}
		if (c->state == C_FLUSH_CLOSE || c->state == C_DRAIN) {
			off = c->in_len; /* nothing more is parsed */
			break;
		}
		struct ws_msg m;
		size_t used = ws_rx_next(&c->rx, c->in + off, c->in_len - off, &m);
		if (m.ev == WS_EV_ERROR) {
			rc = frame_event(g, c, &m);
			off = c->in_len;
			break;
		}
		if (used == 0)
			break;
		off += used;
		if (frame_event(g, c, &m) < 0) {
			rc = -1;
			break;
		}
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return rc;
}

/* The socket is readable: drain it up to a budget. */
static void conn_readable(struct gw *g, struct conn *c)
{
	for (int i = 0; i < SOCK_BUDGET; i++) {
		if (c->in_len == IN_CAP) {
			conn_fail(g, c, WS_CLOSE_TOO_BIG);
			return;
		}
		ssize_t r = wire_read(c->fd, c->tls, c->in + c->in_len, IN_CAP - c->in_len);
		if (r == -2)
			return;
		if (r <= 0) {
			char why[128];
			if (r == 0)
				snprintf(why, sizeof why, "connection closed");
			else if (c->tls)
				snprintf(why, sizeof why, "TLS: %s", tls_error(c->tls));
			else
				snprintf(why, sizeof why, "read: %s", strerror(errno));
			conn_close(g, c, why);
			return;
		}
		c->in_len += (size_t)r;
		c->last_rx = g->now;
		c->ping_out = false;
		if (parse_input(g, c) < 0) {
			conn_close(g, c, "closed");
			return;
		}
		if (c->state == C_FLUSH_CLOSE || c->state == C_DRAIN)
			return;
	}
}

/*
 * Makes room for a new connection by closing the oldest one still in its
 * handshake, so that idle sockets cannot lock clients out for long.
 * Returns false when every connection is past its handshake.
 */
static bool evict_handshake(struct gw *g)
{
	struct conn *old = NULL;

	for (unsigned i = 0; i < g->n_conns; i++) {
		struct conn *c = g->conns[i];
		if (c->state == C_HTTP && (!old || c->deadline < old->deadline))
			old = c;
	}
	if (old)
		conn_close(g, old, NULL);
	return old != NULL;
}

/* Counts a connection refused or evicted; a flood must not flood the log
 * too, so the count is logged at most once a minute. */
static void note_overload(struct gw *g)
{
	g->refused++;
	if (g->refused_logged && g->now - g->refused_logged < 60000)
		return;
	log_warnx("%u connections refused or cut in their handshake: %u open, the most allowed",
		  g->refused, g->n_conns);
	g->refused = 0;
	g->refused_logged = g->now;
}

static void conn_accept(struct gw *g)
{
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("accept");
			return;
		}
		if (g->n_conns == g->max_conns) {
			bool room = evict_handshake(g);
			note_overload(g);
			if (!room) {
				close(fd);
				continue;
			}
		}
		struct conn *c = calloc(1, sizeof *c);
		struct ws_req *r = malloc(sizeof *r);
		if (!c || !r) {
			free(c);
			free(r);
			close(fd);
			log_warnx("out of memory; one connection refused");
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		c->pidx = -1;
		c->req = r;
		ws_req_init(r);
		c->state = C_HTTP;
		c->deadline = g->now + HANDSHAKE_MS;
		c->last_rx = g->now;
		char host[INET6_ADDRSTRLEN] = "?";
		unsigned port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
			port = ntohs(a->sin6_port);
		}
		snprintf(c->peer, sizeof c->peer, "%s:%u", host, port);
		if (g->tls && !(c->tls = tls_conn_new(g->tls))) {
			log_warnx("%s: no memory for TLS", c->peer);
			free(r);
			free(c);
			close(fd);
			continue;
		}
		g->conns[g->n_conns++] = c;
	}
}

/* ==== The TUN side ==== */

/* Reads packets from a slot's TUN straight into its queue's cells. */
static void tun_readable(struct gw *g, struct slot *s)
{
	for (int i = 0; i < TUN_BUDGET; i++) {
		bool open = s->conn && s->conn->state == C_OPEN;
		uint8_t *next = open ? wire_q_next(&s->txq) : NULL;
		bool take = next != NULL;
		uint8_t *p = take ? next : g->scratch + WIRE_HEADROOM;
		ssize_t r = read(s->tun_fd, p, WIRE_PKT_MAX);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("%s: read", s->name);
			return;
		}
		enum drop d = DROP_NONE;
		if (r > 0 && p[0] >> 4 == 6)
			d = DROP_IPV6;
		else if (!open)
			d = DROP_NO_CLIENT;
		else if (!take)
			d = DROP_QUEUE_FULL;
		else
			d = nat_in(&s->nat, p, (size_t)r);
		if (d != DROP_NONE) {
			g->st.drops[d]++;
			continue;
		}
		size_t h = ws_hdr_len((size_t)r);
		ws_hdr_put(p - h, WS_OP_BINARY, (size_t)r);
		wire_q_push(&s->txq, h, (size_t)r);
		g->st.down_packets++;
		g->st.down_bytes += (size_t)r;
	}
}

/* ==== Timers ==== */

static void conn_timers(struct gw *g, struct conn *c)
{
	unsigned ka = g->cfg->keepalive_s;

	if (c->state != C_OPEN) {
		if (g->now >= c->deadline)
			conn_close(g, c, c->state == C_HTTP ? "handshake timeout" : "closed");
		return;
	}
	if (!ka)
		return;
	uint64_t idle = g->now - c->last_rx;
	if (idle >= 3ull * ka * 1000) {
		log_info("%s: silent for %us", c->peer, 3 * ka);
		conn_fail(g, c, WS_CLOSE_GOING_AWAY);
		c->state = C_FLUSH_CLOSE;
	} else if (idle >= (uint64_t)ka * 1000 && !c->ping_out) {
		ctrl_frame(c, WS_OP_PING, (const uint8_t *)"vpngw", 5);
		c->ping_out = true;
	}
}

static void slot_timers(struct gw *g, struct slot *s)
{
	if (s->state == S_LINGER && g->now >= s->until)
		slot_release(g, s);
	else if (s->state == S_FLUSH && g->priv_fd >= 0)
		slot_flush(g, s);
	else if (s->state == S_QUARANTINE && g->now >= s->until)
		s->state = S_FREE;
}

static void timers(struct gw *g)
{
	for (unsigned i = g->n_conns; i-- > 0;)
		conn_timers(g, g->conns[i]);
	for (unsigned i = 0; i < g->n_slots; i++)
		slot_timers(g, &g->slots[i]);
}

static void log_stats(const struct gw *g)
{
	char line[1024];
	int n = snprintf(line, sizeof line,
			 "stats clients=%u free=%u lingering=%u quarantined=%u "
			 "flushing=%u retired=%u "
			 "up_packets=%llu up_bytes=%llu down_packets=%llu down_bytes=%llu",
			 slots_in(g, S_BUSY), slots_in(g, S_FREE), slots_in(g, S_LINGER),
			 slots_in(g, S_QUARANTINE),
			 slots_in(g, S_FLUSH) + slots_in(g, S_FLUSHING), slots_in(g, S_RETIRED),
			 (unsigned long long)g->st.up_packets, (unsigned long long)g->st.up_bytes,
			 (unsigned long long)g->st.down_packets, (unsigned long long)g->st.down_bytes);
	for (unsigned i = 0; g->fw_known && i < TUN_FW_N && n > 0 && (size_t)n < sizeof line; i++)
		n += snprintf(line + n, sizeof line - (size_t)n, " fw_%s=%llu",
			      tun_fw_name((enum tun_fw)i), (unsigned long long)g->fw[i]);
	if (n > 0 && (size_t)n < sizeof line)
		drop_format(line, sizeof line, (size_t)n, g->st.drops);
	log_info("%s", line);
}

/* ==== The loop ==== */

/* Builds the poll set: the listener, every TUN, the helper, every connection. */
static nfds_t poll_set(struct gw *g, bool *busy)
{
	nfds_t n = 0;

	g->pfd[n++] = (struct pollfd){ .fd = got_term ? -1 : g->listen_fd, .events = POLLIN };
	for (unsigned i = 0; i < g->n_slots; i++)
		g->pfd[n++] = (struct pollfd){ .fd = g->slots[i].tun_fd, .events = POLLIN };
	g->pfd[n++] = (struct pollfd){ .fd = g->priv_fd, .events = POLLIN };
	for (unsigned i = 0; i < g->n_conns; i++) {
		struct conn *c = g->conns[i];
		short ev = c->in_len < IN_CAP ? POLLIN : 0;
		if (tx_pending(c))
			ev |= POLLOUT;
		if (c->tls && tls_has_plaintext(c->tls))
			*busy = true;
		c->pidx = (int)n;
		g->pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	return n;
}

/*
 * Handles what poll() reported. Connections are walked from the end, so
 * that one closing (swapped with the last) is never visited twice; new ones
 * are accepted last. A TLS connection with plaintext already decrypted is
 * readable whatever poll() said.
 */
static void dispatch(struct gw *g)
{
	for (unsigned i = 0; i < g->n_slots; i++)
		if (g->pfd[1 + i].revents & POLLIN)
			tun_readable(g, &g->slots[i]);
	if (g->pfd[1 + g->n_slots].revents & (POLLIN | POLLHUP | POLLERR))
		priv_readable(g);
	for (unsigned i = g->n_conns; i-- > 0;) {
		struct conn *c = g->conns[i];
		short re = c->pidx >= 0 ? g->pfd[c->pidx].revents : 0;
		if ((re & (POLLIN | POLLHUP | POLLERR)) ||
		    (c->tls && tls_has_plaintext(c->tls)))
			conn_readable(g, c);
	}
	if (g->pfd[0].revents & POLLIN)
		conn_accept(g);
}

/* Flushes every connection just before poll(), and closes those done. */
static void flush_all(struct gw *g)
{
	for (unsigned i = g->n_conns; i-- > 0;) {
		struct conn *c = g->conns[i];
		if (tx_pending(c) && wire_flush(c->fd, c->tls, &c->out, conn_q(c)) < 0) {
			conn_close(g, c, "write error");
			continue;
		}
		/* Closing with unread input would send a reset, which can
		 * destroy our last frame before the peer reads it: shut our
		 * side and let the peer close first. */
		if (c->state == C_FLUSH_CLOSE && !tx_pending(c)) {
			shutdown(c->fd, SHUT_WR);
			c->state = C_DRAIN;
			c->deadline = g->now + CLOSE_WAIT_MS;
		}
	}
}

static void shutdown_all(struct gw *g)
{
	for (unsigned i = 0; i < g->n_conns; i++) {
		struct conn *c = g->conns[i];
		if (c->state == C_OPEN)
			conn_fail(g, c, WS_CLOSE_GOING_AWAY);
		else if (c->state == C_HTTP)
			c->deadline = g->now;
	}
}

static int gw_loop(struct gw *g)
{
	sigset_t empty;
	uint64_t next_tick = 0, term_at = 0;

	sigemptyset(&empty);
	for (;;) {
		g->now = now_ms();
		if (got_term && !term_at) {
			log_info("shutting down");
			shutdown_all(g);
			term_at = g->now + CLOSE_WAIT_MS;
		}
		if (got_usr1) {
			got_usr1 = 0;
			log_stats(g);
		}
		if (got_hup) {
			got_hup = 0;
			if (g->tls)
				tls_server_reload(g->tls);
		}
		if (g->now >= next_tick) {
			timers(g);
			next_tick = g->now + 200;
		}
		flush_all(g);
		if (term_at && (g->n_conns == 0 || g->now >= term_at))
			return 0;
		bool busy = false;
		nfds_t n = poll_set(g, &busy);
		struct timespec ts = { 0, busy ? 0 : 200 * 1000000 };
		int r = ppoll(g->pfd, n, &ts, &empty);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return -1;
		}
		g->now = now_ms();
		if (r > 0 || busy)
			dispatch(g);
	}
}

/* ==== Start-up ==== */

static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;

	if (!colon || (size_t)(colon - spec) >= sizeof host) {
		log_warnx("--listen %s: expected ADDR:PORT", spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || end == colon + 1) {
		log_warnx("--listen %s: bad port", spec);
		return -1;
	}
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		sl = sizeof *a4;
	} else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sl = sizeof *a6;
	} else {
		log_warnx("--listen %s: bad address", spec);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0) {
		log_warn("socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
		log_warn("listen on %s", spec);
		close(fd);
		return -1;
	}
	return fd;
}

/* Resolves --user: a name from /etc/passwd or a numeric uid. */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);
	char *end;

	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		return 0;
	}
	unsigned long v = strtoul(user, &end, 10);
	if (*user && !*end && v < 0xffffffffu) {
		*uid = (uid_t)v;
		*gid = (gid_t)v;
		return 0;
	}
	log_warnx("--user %s: no such user", user);
	return -1;
}

/*
 * Becomes uid/gid (when root) with no capability at all, and forbids gaining
 * privileges again: conntrack is the helper's business.
 */
static int drop_privileges(uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (geteuid() == 0 && (setgroups(0, NULL) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)) {
		log_warn("dropping privileges to uid %u", (unsigned)uid);
		return -1;
	}
	if (syscall(SYS_capset, &hdr, data) < 0) {
		log_warn("dropping capabilities");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_warn("PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	return 0;
}

static bool have_net_admin(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[0].effective & (1u << CAP_NET_ADMIN);
}

static int open_slots(struct gw *g)
{
	const struct tun_pool *p = &g->cfg->pool;

	g->n_slots = p->n;
	g->slots = calloc(p->n, sizeof *g->slots);
	if (!g->slots)
		return -1;
	uint16_t mss = p->mtu > 40 ? (uint16_t)(p->mtu - 40) : 0;
	for (unsigned i = 0; i < p->n; i++) {
		struct slot *s = &g->slots[i];
		s->index = i;
		s->tun_fd = -1;
		s->net = tun_slot_net(p, i);
		tun_slot_name(p, i, s->name);
		nat_init(&s->nat, s->net, p->prefix, mss);
		if (wire_q_init(&s->txq) < 0) {
			log_warnx("out of memory for %u slots", p->n);
			return -1;
		}
		s->tun_fd = tun_open(s->name);
		if (s->tun_fd < 0) {
			log_warn("open TUN %s (run 'vpngw setup' as root first)", s->name);
			return -1;
		}
	}
	return 0;
}

static void gw_free(struct gw *g)
{
	while (g->n_conns)
		conn_close(g, g->conns[g->n_conns - 1], "shutdown");
	for (unsigned i = 0; g->slots && i < g->n_slots; i++) {
		if (g->slots[i].tun_fd >= 0)
			close(g->slots[i].tun_fd);
		wire_q_free(&g->slots[i].txq);
	}
	free(g->slots);
	free(g->conns);
	free(g->pfd);
	if (g->priv_fd >= 0)
		tun_priv_close(g->priv_fd);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	if (g->tls)
		tls_server_free(g->tls);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Delivered only inside ppoll(), so no wake-up is ever missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
}

/*
 * Starts the gateway: everything a user can get wrong (user, certificate,
 * port) is checked before the host is touched; a pool this run set up is
 * torn down again if the start fails after it.
 */
static int serve(struct config *cfg)
{
	struct gw g = { .cfg = cfg, .listen_fd = -1, .priv_fd = -1 };
	bool did_setup = false, privileged = geteuid() == 0 || have_net_admin();
	int rc = 1;
	uid_t uid = 0;
	gid_t gid = 0;

	if (lookup_user(cfg->user, &uid, &gid) < 0)
		return 1;
	cfg->pool.uid = uid;
	cfg->pool.gid = gid;
	/* The helper is forked before any key is loaded. */
	if (privileged)
		g.priv_fd = tun_priv_start(&cfg->pool, uid, gid);
	if (cfg->tls_cert && !(g.tls = tls_server_new(cfg->tls_cert, cfg->tls_key)))
		goto out;
	g.listen_fd = listen_on(cfg->listen);
	if (g.listen_fd < 0)
		goto out;
	if (geteuid() == 0 && !tun_pool_ready(&cfg->pool)) {
		log_info("the pool is not set up; setting it up");
		if (tun_setup(&cfg->pool, false) < 0)
			goto out;
		did_setup = true;
	} else if (geteuid() == 0 && tun_table_ensure(&cfg->pool) < 0) {
		goto out;
	}
	install_signals();
	if (open_slots(&g) < 0)
		goto out;
	/* The slots are ours: what a previous run left in conntrack goes. */
	if (privileged) {
		long n = tun_ct_flush_pool();
		if (n < 0)
			log_warn("deleting the pool's conntrack entries");
		else if (n > 0)
			log_info("deleted %ld conntrack entries a previous run left", n);
	}
	g.max_conns = cfg->pool.n + CONN_EXTRA;
	g.conns = calloc(g.max_conns, sizeof *g.conns);
	g.pfd = calloc(2 + cfg->pool.n + g.max_conns, sizeof *g.pfd);
	if (!g.conns || !g.pfd) {
		log_warnx("out of memory");
		goto out;
	}
	if (privileged && drop_privileges(uid, gid) < 0)
		goto out;
	did_setup = false; /* serving: the pool stays for the next start */
	if (g.priv_fd < 0)
		log_warnx("no conntrack helper (serve needs root or CAP_NET_ADMIN): "
			  "a released slot is retired until restart");
	if (g.tls)
		log_info("TLS: %s", tls_server_describe(g.tls));
	log_info("listening on %s%s, %u slots %s0..%u", cfg->listen,
		 g.tls ? " (TLS)" : "", cfg->pool.n, cfg->pool.prefix_name, cfg->pool.n - 1);
	rc = gw_loop(&g) < 0;
out:
	gw_free(&g);
	if (did_setup && tun_teardown(&cfg->pool, false) < 0)
		log_warnx("the pool set up by this start could not be removed; run 'vpngw teardown'");
	return rc;
}

/* ==== Command line ==== */

enum opt {
	OPT_POOL = 256, OPT_SUBNET, OPT_SUBNET6, OPT_CPREFIX, OPT_TUNPREFIX, OPT_USER, OPT_EGRESS,
	OPT_DRYRUN, OPT_LISTEN, OPT_PATH, OPT_CERT, OPT_KEY, OPT_WORKERS, OPT_TOKENFILE, OPT_ALLOW,
	OPT_DENY, OPT_DNS, OPT_LINGER, OPT_KEEPALIVE, OPT_METRICS, OPT_TRUSTPROXY, OPT_NOSECCOMP,
	OPT_MTU, OPT_MAXMSG, OPT_OPENPORT,
};

static const struct option gw_opts[] = {
	{ "pool", 1, 0, OPT_POOL },         { "subnet", 1, 0, OPT_SUBNET },
	{ "subnet6", 1, 0, OPT_SUBNET6 },   { "client-prefix", 1, 0, OPT_CPREFIX },
	{ "tun-prefix", 1, 0, OPT_TUNPREFIX }, { "user", 1, 0, OPT_USER },
	{ "egress", 1, 0, OPT_EGRESS },     { "dry-run", 0, 0, OPT_DRYRUN },
	{ "listen", 1, 0, OPT_LISTEN },     { "path", 1, 0, OPT_PATH },
	{ "tls-cert", 1, 0, OPT_CERT },     { "tls-key", 1, 0, OPT_KEY },
	{ "workers", 1, 0, OPT_WORKERS },   { "token-file", 1, 0, OPT_TOKENFILE },
	{ "allow", 1, 0, OPT_ALLOW },       { "deny", 1, 0, OPT_DENY },
	{ "dns", 1, 0, OPT_DNS },           { "linger", 1, 0, OPT_LINGER },
	{ "keepalive", 1, 0, OPT_KEEPALIVE }, { "metrics", 1, 0, OPT_METRICS },
	{ "trust-proxy", 1, 0, OPT_TRUSTPROXY }, { "no-seccomp", 0, 0, OPT_NOSECCOMP },
	{ "mtu", 1, 0, OPT_MTU },           { "max-message", 1, 0, OPT_MAXMSG },
	{ "open-port", 1, 0, OPT_OPENPORT },
	{ "verbose", 0, 0, 'v' },         { "quiet", 0, 0, 'q' },
	{ "help", 0, 0, 'h' },            { 0, 0, 0, 0 },
};

static int parse_uint(const char *flag, const char *s, unsigned long lo,
		      unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi || *s == '-') {
		log_warnx("--%s %s: expected a number from %lu to %lu", flag, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_cidr_opt(const char *flag, const char *s, struct nat_cidr *c)
{
	if (nat_cidr_parse(c, s) < 0) {
		log_warnx("--%s %s: expected an IPv4 prefix like 10.0.100.0/24", flag, s);
		return -1;
	}
	return 0;
}

static int acl_add(struct config *cfg, int opt, const char *s)
{
	struct nat_cidr c;

	if (parse_cidr_opt(opt == OPT_ALLOW ? "allow" : "deny", s, &c) < 0)
		return -1;
	int r = opt == OPT_ALLOW ? nat_acl_allow(&cfg->acl, c) : nat_acl_deny(&cfg->acl, c);
	if (r < 0)
		log_warnx("--%s: at most %d entries", opt == OPT_ALLOW ? "allow" : "deny", NAT_ACL_MAX);
	return r;
}

/* One option of setup, teardown or serve. Returns 0, or -1 after one line. */
static int gw_option(struct config *cfg, int opt, const char *arg)
{
	unsigned long v;
	struct nat_cidr c;

	switch (opt) {
	case OPT_POOL:
		if (parse_uint("pool", arg, 1, TUN_POOL_MAX, &v) < 0)
			return -1;
		cfg->pool.n = (unsigned)v;
		return 0;
	case OPT_SUBNET:
		if (parse_cidr_opt("subnet", arg, &c) < 0)
			return -1;
		cfg->pool.net = c.addr;
		cfg->pool.prefix = (unsigned)__builtin_popcount(c.mask);
		return 0;
	case OPT_CPREFIX:
		if (parse_uint("client-prefix", arg, 16, 30, &v) < 0)
			return -1;
		cfg->pool.prefix = (unsigned)v;
		cfg->pool.net &= ~0u << (32 - v);
		return 0;
	case OPT_TUNPREFIX:
		if (!*arg || strlen(arg) >= sizeof cfg->pool.prefix_name ||
		    strpbrk(arg, "/ \t%:")) {
			log_warnx("--tun-prefix %s: at most %zu characters, no '/', ':', '%%' or spaces",
				  arg, sizeof cfg->pool.prefix_name - 1);
			return -1;
		}
		strcpy(cfg->pool.prefix_name, arg);
		return 0;
	case OPT_USER:
		cfg->user = arg;
		return 0;
	case OPT_EGRESS:
		if (strlen(arg) >= sizeof cfg->pool.egress) {
			log_warnx("--egress %s: interface name too long", arg);
			return -1;
		}
		strcpy(cfg->pool.egress, arg);
		return 0;
	case OPT_DRYRUN:
		cfg->dry_run = true;
		return 0;
	case OPT_LISTEN:
		cfg->listen = arg;
		return 0;
	case OPT_PATH:
		if (arg[0] != '/') {
			log_warnx("--path %s: must start with '/'", arg);
			return -1;
		}
		cfg->path = arg;
		return 0;
	case OPT_CERT:
		cfg->tls_cert = arg;
		return 0;
	case OPT_KEY:
		cfg->tls_key = arg;
		return 0;
	case OPT_ALLOW:
	case OPT_DENY:
		return acl_add(cfg, opt, arg);
	case OPT_LINGER:
		if (parse_uint("linger", arg, 0, 3600, &v) < 0)
			return -1;
		cfg->linger_s = (unsigned)v;
		return 0;
	case OPT_KEEPALIVE:
		if (parse_uint("keepalive", arg, 0, 3600, &v) < 0)
			return -1;
		cfg->keepalive_s = (unsigned)v;
		return 0;
	case OPT_MTU:
		if (parse_uint("mtu", arg, 576, WIRE_PKT_MAX, &v) < 0)
			return -1;
		cfg->pool.mtu = (unsigned)v;
		return 0;
	case OPT_MAXMSG:
		if (parse_uint("max-message", arg, 1280, WS_MSG_MAX, &v) < 0)
			return -1;
		cfg->max_msg = v;
		return 0;
	case OPT_OPENPORT:
		if (tun_pool_open_port(&cfg->pool, arg) < 0) {
			log_warnx("--open-port %s: expected PORT, PORT/tcp or PORT/udp, "
				  "PORT 1 to 65535, at most %d", arg, TUN_OPEN_MAX);
			return -1;
		}
		return 0;
	case 'v':
		log_verbosity = LOG_DEBUG;
		return 0;
	case 'q':
		log_verbosity = LOG_QUIET;
		return 0;
	default:
		for (const struct option *o = gw_opts; o->name; o++)
			if (o->val == opt)
				log_warnx("--%s is not supported yet", o->name);
		return -1;
	}
}

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  vpngw setup    [--pool N] [--subnet CIDR] [--client-prefix LEN] [--tun-prefix NAME]\n"
	      "                 [--user USER] [--egress IFACE] [--mtu N]\n"
	      "                 [--open-port PORT[/tcp|/udp]]... [--dry-run]\n"
	      "  vpngw teardown [same options as setup]\n"
	      "  vpngw serve    [--listen ADDR:PORT] [--path PATH] [--tls-cert PEM --tls-key PEM]\n"
	      "                 [setup options] [--allow CIDR]... [--deny CIDR]...\n"
	      "                 [--linger SEC] [--keepalive SEC] [--max-message N] [-v|-q]\n"
	      "  vpngw connect  ws[s]://HOST[:PORT]/PATH [--tun NAME] [--address A/LEN]\n"
	      "                 [--route CIDR]... [--default-route] [--ca PEM | --pin SHA256]\n"
	      "                 [--insecure] [-v|-q]\n"
	      "  vpngw --help | --version\n"
	      "serve defaults: --listen 127.0.0.1:8080, any path, --pool 5, --subnet 10.0.100.0/24\n"
	      "(slot i is the i-th /24 from there), --tun-prefix vpngw, --user nobody,\n"
	      "--linger 10, --keepalive 20. Run as root, serve sets the pool up itself.\n"
	      "Clients reach no port of the gateway host but those --open-port names.\n", f);
}

static void config_default(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	tun_pool_default(&cfg->pool);
	cfg->listen = "127.0.0.1:8080";
	cfg->user = "nobody";
	cfg->linger_s = 10;
	cfg->keepalive_s = 20;
	cfg->max_msg = WS_MSG_MAX;
	nat_acl_init(&cfg->acl);
}

/* Checks what no single option can: the pool fits the address space. */
static int config_check(struct config *cfg, const char *cmd)
{
	uint64_t size = 1ull << (32 - cfg->pool.prefix);

	if (cfg->pool.prefix > 30) {
		log_warnx("--subnet: slots need a prefix of /30 or shorter");
		return -1;
	}
	if ((uint64_t)cfg->pool.net + size * cfg->pool.n > 0x100000000ull) {
		log_warnx("--pool %u does not fit after %s", cfg->pool.n, "--subnet");
		return -1;
	}
	if (strcmp(cmd, "serve") == 0 && !!cfg->tls_cert != !!cfg->tls_key) {
		log_warnx("--tls-cert and --tls-key go together");
		return -1;
	}
#if !VPNGW_TLS
	if (cfg->tls_cert) {
		log_warnx("--tls-cert: this vpngw was built without TLS (make TLS=0)");
		return -1;
	}
#endif
	/* The pool itself is never a destination (SPEC, Data plane step 2). */
	struct nat_cidr pool = { cfg->pool.net, ~0u << (32 - cfg->pool.prefix) };
	for (unsigned i = 0; i < cfg->pool.n; i++) {
		pool.addr = tun_slot_net(&cfg->pool, i);
		if (nat_acl_deny(&cfg->acl, pool) < 0) {
			log_warnx("--pool %u: too many slots for the deny list", cfg->pool.n);
			return -1;
		}
	}
	return 0;
}

static int parse_gw_args(struct config *cfg, int argc, char **argv)
{
	int opt;

	config_default(cfg);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vqh", gw_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (opt == '?') {
			log_warnx("%s: unknown option %s", argv[0], argv[optind - 1]);
			return -1;
		}
		if (opt == ':') {
			log_warnx("%s: %s needs a value", argv[0], argv[optind - 1]);
			return -1;
		}
		if (gw_option(cfg, opt, optarg) < 0)
			return -1;
	}
	if (optind < argc) {
		log_warnx("%s: unexpected argument %s", argv[0], argv[optind]);
		return -1;
	}
	return config_check(cfg, argv[0]);
}

static int need_root(const char *cmd)
{
	if (geteuid() != 0) {
		log_warnx("%s: needs root (it changes network devices and firewall rules)", cmd);
		return -1;
	}
	return 0;
}

static int cmd_setup(int argc, char **argv)
{
	struct config cfg;
	uid_t uid;
	gid_t gid;

	if (parse_gw_args(&cfg, argc, argv) < 0 || lookup_user(cfg.user, &uid, &gid) < 0)
		return 1;
	if (!cfg.dry_run && need_root("setup") < 0)
		return 1;
	cfg.pool.uid = uid;
	cfg.pool.gid = gid;
	return tun_setup(&cfg.pool, cfg.dry_run) < 0;
}

static int cmd_teardown(int argc, char **argv)
{
	struct config cfg;

	if (parse_gw_args(&cfg, argc, argv) < 0)
		return 1;
	if (!cfg.dry_run && need_root("teardown") < 0)
		return 1;
	return tun_teardown(&cfg.pool, cfg.dry_run) < 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct config cfg;

	if (parse_gw_args(&cfg, argc, argv) < 0)
		return 1;
	return serve(&cfg);
}

static int cmd_connect(int argc, char **argv)
{
	return client_main(argc, argv);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "setup", cmd_setup },
	{ "teardown", cmd_teardown },
	{ "serve", cmd_serve },
	{ "connect", cmd_connect },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		log_warnx("usage: vpngw setup|teardown|serve|connect [options]; see vpngw --help");
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vpngw %s%s\n", VPNGW_VERSION, VPNGW_TLS ? "" : " (no TLS)");
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	log_warnx("unknown command '%s'; see vpngw --help", argv[1]);
	return 1;
}
