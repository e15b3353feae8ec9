/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: the Prometheus exposition of the gateway's counters, and the
 * --metrics listener that serves it.
 *
 * The renderer is pure: a struct metrics_view in, text format 0.0.4 out,
 * every enum (drop reasons, firewall counters, handshake and TLS results,
 * slot states) walked in order, so that a value added there shows here.
 *
 * The listener has its own socket, so that the tunnel's port (and a
 * reverse proxy in front of it) never exposes it. It serves at most
 * METRICS_CONNS scrapers at once; a new one evicts one that is done or the
 * oldest. All its memory is allocated at metrics_open and never grows:
 * per scraper one request parser (ws.c's, which copies at most 8 KiB) and
 * one answer buffer, rendered once. Each scraper lives METRICS_MS at most.
 *
 * It reads and writes its own few sockets instead of going through link.c:
 * a link allocates a 128 KiB input buffer and a 192 KiB send queue and
 * carries TLS and WebSocket state that a one-answer HTTP exchange never
 * uses; here one read() into the parser and one write() from the answer
 * buffer are the whole exchange. The gateway owns the poll() and the
 * counters; this file never calls back into it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "link.h"
#include "log.h"
#include "metrics.h"
#include "nat.h"
#include "out.h"
#include "tun.h"
#include "ws.h"

/* ==== Names ==== */

static const char *const hs_names[HS_N] = {
	[HS_ACCEPTED] = "accepted", [HS_RESUMED] = "resumed",
	[HS_BAD_REQUEST] = "bad_request", [HS_UNAUTHORIZED] = "unauthorized",
	[HS_NOT_FOUND] = "not_found", [HS_UPGRADE] = "upgrade_required",
	[HS_TOO_LARGE] = "too_large", [HS_UNAVAILABLE] = "unavailable",
	[HS_NO_SLOT] = "no_slot", [HS_TIMEOUT] = "timeout", [HS_ABORTED] = "aborted",
	[HS_RATE_LIMITED] = "rate_limited", [HS_OVERLOAD] = "overload",
};

static const char *const tls_names[TLSR_N] = {
	[TLSR_OK] = "ok", [TLSR_FAILED] = "failed", [TLSR_PLAIN_HTTP] = "plain_http",
};

static const char *const slot_names[METRICS_SLOT_N] = {
	[METRICS_SLOT_FREE] = "free", [METRICS_SLOT_BUSY] = "busy",
	[METRICS_SLOT_LINGERING] = "lingering", [METRICS_SLOT_FLUSHING] = "flushing",
	[METRICS_SLOT_QUARANTINED] = "quarantined", [METRICS_SLOT_RETIRED] = "retired",
};

const char *metrics_hs_name(enum hs_result r)
{
	return (unsigned)r < HS_N ? hs_names[r] : NULL;
}

const char *metrics_tls_name(enum tls_result r)
{
	return (unsigned)r < TLSR_N ? tls_names[r] : NULL;
}

const char *metrics_slot_name(enum metrics_slot s)
{
	return (unsigned)s < METRICS_SLOT_N ? slot_names[s] : NULL;
}

enum hs_result metrics_hs_of_status(int status)
{
	switch (status) {
	case 401: return HS_UNAUTHORIZED;
	case 404: return HS_NOT_FOUND;
	case 426: return HS_UPGRADE;
	case 429: return HS_RATE_LIMITED;
	case 431: return HS_TOO_LARGE;
	case 503: return HS_UNAVAILABLE;
	default: return HS_BAD_REQUEST;
	}
}

/* ==== The exposition (text format 0.0.4) ==== */

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	out_str(o, "# HELP ");
	out_str(o, name);
	out_str(o, " ");
	out_str(o, help);
	out_str(o, "\n# TYPE ");
	out_str(o, name);
	out_str(o, " ");
	out_str(o, type);
	out_str(o, "\n");
}

/* One sample: name{label="value"} v, the label left out when NULL. */
static void sample(struct out *o, const char *name, const char *label, const char *value,
		   uint64_t v)
{
	out_str(o, name);
	if (label) {
		out_str(o, "{");
		out_str(o, label);
		out_str(o, "=\"");
		out_str(o, value);
		out_str(o, "\"}");
	}
	out_str(o, " ");
	out_uint(o, v);
	out_str(o, "\n");
}

static void single(struct out *o, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(o, name, type, help);
	sample(o, name, NULL, NULL, v);
}

/* v thousandths as a decimal: 1234 -> "1.234". */
static void milli(struct out *o, uint64_t v)
{
	char d[4] = { (char)('0' + v / 100 % 10), (char)('0' + v / 10 % 10),
		      (char)('0' + v % 10), 0 };

	out_uint(o, v / 1000);
	out_str(o, ".");
	out_mem(o, d, 3);
}

static void render_info(struct out *o, const struct metrics_view *v)
{
	family(o, "vpngw_build_info", "gauge", "The version, and whether TLS is built in; always 1.");
	out_str(o, "vpngw_build_info{version=\"");
	out_str(o, v->version);
	out_str(o, v->tls_built ? "\",tls=\"yes\"} 1\n" : "\",tls=\"no\"} 1\n");
	single(o, "vpngw_start_time_seconds", "gauge", "When the gateway started, in Unix time.",
	       v->start_time_s);
	family(o, "vpngw_uptime_seconds", "gauge", "Seconds since the gateway started.");
	out_str(o, "vpngw_uptime_seconds ");
	milli(o, v->uptime_ms);
	out_str(o, "\n");
}

static void render_conns(struct out *o, const struct metrics_view *v)
{
	single(o, "vpngw_clients", "gauge", "Connected clients holding a slot.", v->clients);
	single(o, "vpngw_connections", "gauge",
	       "Tunnel connections open, those still in their handshake included.", v->connections);
	single(o, "vpngw_handshakes_in_progress", "gauge",
	       "Connections whose upgrade handshake is not finished.", v->handshaking);
	family(o, "vpngw_slots", "gauge", "Slots of the pool by state.");
	for (unsigned i = 0; i < METRICS_SLOT_N; i++)
		sample(o, "vpngw_slots", "state", slot_names[i], v->slots[i]);
}

static void render_traffic(struct out *o, const struct link_stats *st)
{
	family(o, "vpngw_packets_total", "counter",
	       "Packets forwarded: up is client to Internet, down is Internet to client.");
	sample(o, "vpngw_packets_total", "direction", "up", st->up.packets);
	sample(o, "vpngw_packets_total", "direction", "down", st->down.packets);
	family(o, "vpngw_bytes_total", "counter", "Bytes of the packets forwarded, by direction.");
	sample(o, "vpngw_bytes_total", "direction", "up", st->up.bytes);
	sample(o, "vpngw_bytes_total", "direction", "down", st->down.bytes);
	family(o, "vpngw_drops_total", "counter", "Packets not forwarded, by reason.");
	for (unsigned i = DROP_NONE + 1; i < DROP_N; i++)
		sample(o, "vpngw_drops_total", "reason", drop_name((enum drop)i), st->drops[i]);
}

static void render_results(struct out *o, const struct metrics_view *v)
{
	if (v->fw) {
		family(o, "vpngw_firewall_packets_total", "counter",
		       "Packets the host firewall dropped around the pool, by reason.");
		for (unsigned i = 0; i < TUN_FW_N; i++)
			sample(o, "vpngw_firewall_packets_total", "reason",
			       tun_fw_name((enum tun_fw)i), v->fw[i]);
	}
	family(o, "vpngw_handshakes_total", "counter", "Upgrade handshakes by how they ended.");
	for (unsigned i = 0; i < HS_N; i++)
		sample(o, "vpngw_handshakes_total", "result", hs_names[i], v->cnt->handshakes[i]);
	if (v->tls_on) {
		family(o, "vpngw_tls_handshakes_total", "counter", "TLS handshakes by how they ended.");
		for (unsigned i = 0; i < TLSR_N; i++)
			sample(o, "vpngw_tls_handshakes_total", "result", tls_names[i], v->cnt->tls[i]);
	}
	single(o, "vpngw_auth_failures_total", "counter",
	       "Upgrade requests refused for a missing or wrong token.", v->cnt->auth_failures);
}

static void render_limits(struct out *o, const struct metrics_view *v)
{
	single(o, "vpngw_config_max_handshakes", "gauge",
	       "Connections allowed in their handshake at once.", v->max_handshakes);
	single(o, "vpngw_config_handshake_rate_per_source", "gauge",
	       "New connections allowed per second from one source.", v->handshake_rate);
	family(o, "vpngw_config_client_rate_bytes_per_second", "gauge",
	       "Traffic allowed per client each way (0: no limit).");
	out_str(o, "vpngw_config_client_rate_bytes_per_second ");
	milli(o, v->client_rate * 125);   /* bits/8, in thousandths */
	out_str(o, "\n");
	single(o, "vpngw_config_max_message_bytes", "gauge", "The largest WebSocket message taken.",
	       v->max_msg);
	single(o, "vpngw_config_linger_seconds", "gauge",
	       "How long a vanished client's slot is kept for it to resume.", v->linger_s);
	single(o, "vpngw_config_keepalive_seconds", "gauge",
	       "Idle seconds before the gateway pings a client.", v->keepalive_s);
}

size_t metrics_render(char *out, size_t cap, const struct metrics_view *v)
{
	struct out o = { out, cap, 0, false };

	render_info(&o, v);
	render_conns(&o, v);
	render_traffic(&o, v->st);
	render_results(&o, v);
	render_limits(&o, v);
	return out_done(&o);
}

/* ==== The listener ==== */

#define HEAD_MAX      160           /* room in front of the body for its head */
#define ACCEPT_BUDGET 16
#define READ_BUDGET   4

enum scr_state {
	SCR_FREE,
	SCR_READ,       /* the request arrives */
	SCR_WANT,       /* parsed; waits for metrics_answer */
	SCR_SEND,       /* the answer goes out */
	SCR_DRAIN,      /* answered and shut: reading until the peer's EOF */
};

struct scraper {
	int fd;
	enum scr_state st;
	uint64_t since;                 /* accepted, ms */
	size_t off, len;                /* the answer: resp[off .. off+len) */
	struct ws_req req;
	char resp[METRICS_RESP_MAX];
};

struct metrics_srv {
	int fd;
	struct scraper s[METRICS_CONNS];
};

struct metrics_srv *metrics_open(const char *addr_port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct metrics_srv *m;
	int one = 1;

	if (cli_addr_port("--metrics", addr_port, &ss, &sl) < 0)
		return NULL;
	if (!(m = calloc(1, sizeof *m))) {
		log_warnx("--metrics: out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < METRICS_CONNS; i++)
		m->s[i].fd = -1;
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0) {
		log_warn("--metrics %s: socket", addr_port);
		free(m);
		return NULL;
	}
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(m->fd, (struct sockaddr *)&ss, sl) < 0 || listen(m->fd, 16) < 0) {
		log_warn("--metrics: listen on %s", addr_port);
		close(m->fd);
		free(m);
		return NULL;
	}
	return m;
}

static void scr_close(struct scraper *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->st = SCR_FREE;
}

void metrics_close(struct metrics_srv *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < METRICS_CONNS; i++)
		scr_close(&m->s[i]);
	close(m->fd);
	free(m);
}

void metrics_poll_set(struct metrics_srv *m, struct pollfd *pfd)
{
	static const short ev[] = {
		[SCR_FREE] = 0, [SCR_READ] = POLLIN, [SCR_WANT] = 0,
		[SCR_SEND] = POLLOUT, [SCR_DRAIN] = POLLIN,
	};

	pfd[0] = (struct pollfd){ .fd = m ? m->fd : -1, .events = POLLIN };
	for (unsigned i = 0; i < METRICS_CONNS; i++) {
		const struct scraper *s = m ? &m->s[i] : NULL;
		pfd[1 + i] = (struct pollfd){ .fd = s && s->st != SCR_FREE ? s->fd : -1,
					      .events = s ? ev[s->st] : 0 };
	}
}

/* The answer: a head for status, then body[0..len) already in place at
 * resp + HEAD_MAX. */
static void answer(struct scraper *s, int status, const char *type, size_t len)
{
	char head[HEAD_MAX];
	struct out o = { head, sizeof head, 0, false };

	out_str(&o, status == 200 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 503 Service Unavailable\r\n");
	out_str(&o, "Content-Type: ");
	out_str(&o, type);
	out_str(&o, "\r\nContent-Length: ");
	out_uint(&o, (unsigned long)len);
	out_str(&o, "\r\nConnection: close\r\n\r\n");
	size_t n = out_done(&o);
	s->off = HEAD_MAX - n;
	s->len = n + len;
	memcpy(s->resp + s->off, head, n);
	s->st = SCR_SEND;
}

/* An error answer, ws.c's (a one-line text body, Connection: close); a
 * 405 names the method allowed (RFC 9110 §15.5.6) after its status line. */
static void refuse(struct scraper *s, int status)
{
	static const char allow[] = "Allow: GET\r\n";
	char *p = s->resp + HEAD_MAX;
	size_t n = ws_resp_error(p, sizeof s->resp - HEAD_MAX, status, NULL);
	const char *eol = memchr(p, '\n', n);

	s->off = HEAD_MAX;
	s->len = n;
	s->st = SCR_SEND;
	if (status == 405 && eol) {
		size_t first = (size_t)(eol + 1 - p);
		memmove(p - (sizeof allow - 1), p, first);
		memcpy(p - (sizeof allow - 1) + first, allow, sizeof allow - 1);
		s->off -= sizeof allow - 1;
		s->len += sizeof allow - 1;
	}
}

static void answer_one(struct scraper *s, const struct metrics_view *v)
{
	const struct ws_req *r = &s->req;
	char *body = s->resp + HEAD_MAX;
	size_t cap = sizeof s->resp - HEAD_MAX;

	if (!r->is_get) {
		refuse(s, 405);
	} else if (r->path.len == 8 && !memcmp(r->path.p, "/metrics", 8)) {
		size_t n = metrics_render(body, cap, v);
		if (n)
			answer(s, 200, "text/plain; version=0.0.4; charset=utf-8", n);
		else
			refuse(s, 500);
	} else if (r->path.len == 8 && !memcmp(r->path.p, "/healthz", 8)) {
		memcpy(body, v->stopping ? "stopping\n" : "ok\n", v->stopping ? 9 : 3);
		answer(s, v->stopping ? 503 : 200, "text/plain; charset=utf-8", v->stopping ? 9 : 3);
	} else {
		refuse(s, 404);
	}
	/* The request's copy is of no more use. */
	explicit_bzero(&s->req, sizeof s->req);
}

void metrics_answer(struct metrics_srv *m, const struct metrics_view *v)
{
	for (unsigned i = 0; m && i < METRICS_CONNS; i++)
		if (m->s[i].st == SCR_WANT)
			answer_one(&m->s[i], v);
}

/* A place for a new scraper: a free one, else one that is done, else the
 * oldest is cut. */
static struct scraper *scr_room(struct metrics_srv *m)
{
	struct scraper *old = &m->s[0];

	for (unsigned i = 0; i < METRICS_CONNS; i++)
		if (m->s[i].st == SCR_FREE)
			return &m->s[i];
	for (unsigned i = 0; i < METRICS_CONNS; i++) {
		struct scraper *s = &m->s[i];
		if (s->st == SCR_DRAIN) {
			old = s;
			break;
		}
		if (s->since < old->since)
			old = s;
	}
	scr_close(old);
	return old;
}

static void scr_accept(struct metrics_srv *m, uint64_t now)
{
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		int fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct scraper *s = scr_room(m);
		s->fd = fd;
		s->st = SCR_READ;
		s->since = now;
		ws_req_init(&s->req);
	}
}

/* Reads what arrived: into the parser while the request comes, else away.
 * Closes on EOF or an error. */
static void scr_read(struct scraper *s)
{
	uint8_t buf[1024];

	for (int i = 0; i < READ_BUDGET && (s->st == SCR_READ || s->st == SCR_DRAIN); i++) {
		ssize_t r = read(s->fd, buf, sizeof buf);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (r <= 0) {
			scr_close(s);
			return;
		}
		if (s->st == SCR_DRAIN)
			continue;
		size_t used = 0;
		int st = ws_req_feed(&s->req, buf, (size_t)r, &used);
		if (st == WS_REQ_DONE)
			s->st = SCR_WANT;
		else if (st != WS_REQ_MORE)
			refuse(s, st);
	}
}

bool metrics_input(struct metrics_srv *m, const struct pollfd *pfd, uint64_t now)
{
	bool want = false;

	if (!m)
		return false;
	for (unsigned i = 0; i < METRICS_CONNS; i++) {
		struct scraper *s = &m->s[i];
		if (s->st != SCR_FREE && (pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
			scr_read(s);
		want |= s->st == SCR_WANT;
	}
	if (pfd[0].revents & POLLIN)
		scr_accept(m, now);
	return want;
}

/* Writes what the socket takes; once all is out, our side is shut. */
static void scr_write(struct scraper *s)
{
	while (s->len) {
		ssize_t w = write(s->fd, s->resp + s->off, s->len);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (w <= 0) {
			scr_close(s);
			return;
		}
		s->off += (size_t)w;
		s->len -= (size_t)w;
	}
	shutdown(s->fd, SHUT_WR);
	s->st = SCR_DRAIN;
}

void metrics_flush(struct metrics_srv *m, uint64_t now)
{
	for (unsigned i = 0; m && i < METRICS_CONNS; i++) {
		struct scraper *s = &m->s[i];
		if (s->st != SCR_FREE && now - s->since >= METRICS_MS)
			scr_close(s);
		else if (s->st == SCR_SEND)
			scr_write(s);
	}
}
