/* SPDX-License-Identifier: MIT */
/*
 * vpngw.c: main, the subcommand table, and the gateway's packet loops.
 *
 * It owns every file descriptor's lifetime, the slot table, the
 * connections and the gateway's waits: one epoll per worker (--workers),
 * each worker a thread owning its share of the slots, their TUNs, its
 * listener and its connections, and sharing nothing on the packet path. A
 * connection whose request names another worker's slot is handed to that
 * worker whole. Each connection is a link (link.c: socket, TLS, frames,
 * send queue, keepalive, the close sequence); this file adds what only the
 * gateway does: the upgrade request's answer (its token checked by
 * auth.c), slots and their resumption, fair admission of connections that
 * hold no slot (admit.c), and the packets' way through nat.c. The host is
 * tun.c's; the --metrics listener is metrics.c's, given a view of the
 * counters here (summed over the workers) when a scraper asks. None of
 * them calls back into this file.
 *
 * The packet paths (a packet may be a super-packet of up to 64 KiB, gso.h):
 *   socket -> link (unmask in place) -> nat_check, nat_out -> coalesced
 *   with the next (an original client's) -> one write(tun)
 *   read(tun) into the link's send queue -> nat_in -> frame header in
 *   front (or cut into packets for an original client) -> one sendmsg of
 *   many frames (or one pass through TLS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "admit.h"
#include "auth.h"
#include "bytes.h"
#include "cli.h"
#include "client.h"
#include "limit.h"
#include "link.h"
#include "log.h"
#include "metrics.h"
#include "nat.h"
#include "seccomp.h"
#include "tls.h"
#include "tun.h"
#include "v1.h"
#include "ws.h"

#define VPNGW_VERSION "0.1.0"

/* ---- Sizes and timers ---- */

#define GUESTS         1024              /* connections without a slot, at least */
#define RATE_SOURCES   4096              /* sources --handshake-rate tracks */
#define LIMIT_LOG_MS   60000             /* a limit's refusals: one line a minute */
#define HANDSHAKE_MS   10000             /* SPEC: handshake within 10 s */
#define QUARANTINE_MS  1000              /* after the conntrack flush */
#define PRIV_BUDGET    16                /* helper messages read per wake */
#define TUN_BUDGET     64                /* packets read per TUN per wake */
#define SOCK_BUDGET    4                 /* reads per socket per wake */
#define ACCEPT_BUDGET  64                /* accepts per wake */
#define CLOSE_BUDGET   32                /* connections timers() closes per pass */
#define LISTEN_BACKLOG 1024              /* (the kernel caps it at somaxconn) */
#define TICK_MS        200

/* What an epoll event is about: the top byte of its data (the TUN's slot,
 * the metrics fd's place, or the connection's gen and id below it). */
enum ep_kind { EP_LISTEN, EP_TUN, EP_PRIV, EP_WAKE, EP_METRICS, EP_CONN };
#define EP_EVENTS      128               /* events one wait takes */
#define WHEEL          256               /* timer buckets of TICK_MS: 51.2 s */
#define WORKER_STACK   (512 * 1024)      /* a worker thread's (mapped, not touched) */

/* ---- Configuration ---- */


struct config {
	struct tun_pool pool;
	const char *listen;
	const char *path;
	const char *user;
	const char *tls_cert, *tls_key;
	struct nat_acl acl;
	bool ipv6;                   /* the slots carry IPv6 (tun_pool_ipv6) */
	uint32_t dns4[V1_DNS_MAX];   /* --dns, advertised in the assignment */
	unsigned n_dns4;
	uint8_t dns6[V1_DNS_MAX][16];
	unsigned n_dns6;
	unsigned linger_s, keepalive_s;
	size_t max_msg;
	const char *token_file;      /* NULL: anyone may connect */
	const char *metrics;         /* ADDR:PORT of /metrics, or NULL */
	struct cli_cidrs trust_proxy;
	unsigned max_handshakes;     /* connections in their handshake at once */
	unsigned handshake_rate;     /* new connections per source a second */
	uint64_t client_rate;        /* bit/s each way per client, 0: no limit */
	unsigned gateway_id;         /* in every session token it issues */
	unsigned workers;            /* packet loops, each on its thread */
	bool seccomp;
	bool offload;                /* super-packets: TUN offloads, vpngw-gso */
	bool dry_run;
};

/* ---- Connections and slots ---- */

struct slot;

/*
 * A client connection: its link, and what the gateway knows of it. Its
 * state is the link's (LINK_HTTP while the request arrives, LINK_OPEN once
 * upgraded, then the close sequence); while it holds no slot it is a
 * guest, counted in the admission table under its source.
 */
struct conn {
	struct link l;
	int fd;
	unsigned id;                 /* its place in gw.by_id, and admission id */
	unsigned gen;                /* tells its epoll events from a successor's */
	unsigned live;               /* its place in gw.live */
	unsigned dirty;              /* its place in gw.dirty, plus one; 0: not in it */
	uint32_t armed;              /* the epoll events it is registered for */
	int hand_to;                 /* the worker it goes to after this wake, or -1 */
	struct conn *next_in;        /* in a worker's inbox */
	unsigned hops;               /* hand-overs so far */
	struct conn *wnext, *wprev;  /* in its timer bucket, when wheeled */
	uint64_t wdue;               /* when its timers are due, as last seen */
	unsigned wbucket;
	bool wheeled;
	bool v1;                     /* spoke vpngw.v1 */
	bool quiet;                  /* its end was logged already */
	const char *refusal;         /* why it is refused, for the log, or NULL */
	bool counted;                /* its handshake's result is counted */
	bool tls_counted;            /* its TLS handshake's result is counted */
	struct slot *slot;
	const char *slot_name;       /* the last slot held, for the log */
	struct ws_req *req;          /* while the request head arrives */
	uint64_t deadline;           /* of the handshake */
	uint8_t source[ADMIT_KEY_LEN]; /* the address it is counted under */
	char peer[96];               /* its client for the log (conn_set_client) */
};

/*
 * A released slot is handed out again only once no reply to its last
 * client's flows can reach it: the helper deletes its conntrack entries,
 * then it rests while packets already queued in the TUN are dropped.
 *   BUSY -> LINGER (a vanished client only) -> FLUSH -> FLUSHING
 *        -> QUARANTINE -> FREE
 * Without the helper a released slot is RETIRED until restart.
 */
enum slot_state {
	S_FREE,        /* may be given to a new client */
	S_BUSY,        /* a connection holds it */
	S_LINGER,      /* its client vanished; kept for resumption */
	S_FLUSH,       /* released; the helper is to be asked to flush it */
	S_FLUSHING,    /* the helper deletes its conntrack entries */
	S_QUARANTINE,  /* flushed; replies already queued may still arrive */
	S_RETIRED,     /* released with no way to flush it: never reused */
	S_N
};

struct slot {
	unsigned index;              /* in the whole pool: vpngw<index> */
	struct slot *next, *prev;    /* in the list of its state */
	struct link_tun tun;
	char name[TUN_NAME_MAX];
	uint32_t net;                /* host order */
	enum slot_state state;
	struct conn *conn;
	uint64_t until;              /* end of linger or quarantine, ms */
	uint8_t token[V1_TOKEN_LEN];
	bool has_token;
	struct nat nat;
	struct link_rate up, down;   /* --client-rate */
};

/* The slots in one state, oldest first: the free one given out next, the
 * next linger or quarantine to end. */
struct slot_list {
	struct slot *head, *tail;
	unsigned n;
};

/* What a worker shows of itself, summed over the workers wherever shown. */
struct tally {
	struct link_stats st;
	struct gw_counters cnt;
	unsigned slots[S_N];         /* by state */
	unsigned clients;            /* slots held by a connection */
	unsigned connections, handshaking;
};

struct shared;

/*
 * Everything one packet loop (a worker) owns: its share of the slots (the
 * pool's slot i is worker i % workers'), their TUNs, its listener, its
 * connections. Nothing here is touched by another worker but the inbox,
 * the published tally and free_pub, each as said.
 */
struct gw {
	const struct config *cfg;
	struct shared *sh;
	unsigned wid;                /* this worker's number */
	char tag[16];                /* "worker 1: " with several, else "" */
	int listen_fd;
	int epfd, wake_fd;           /* its epoll, and the eventfd that wakes it */
	struct slot *slots;
	unsigned n_slots;
	struct slot_list by_state[S_N];
	_Atomic unsigned free_pub;   /* by_state[S_FREE].n, for the other workers */
	struct conn **by_id;         /* max_conns entries, NULL when free */
	struct conn **live;          /* the n_live connections, dense */
	unsigned n_live, max_conns;
	unsigned *free_ids, n_free;
	unsigned gen;                /* the last conn.gen given */
	struct conn **dirty;         /* to flush before the next wait */
	unsigned n_dirty;
	struct conn *wheel[WHEEL];   /* connections by the tick their timers are due */
	uint64_t wheel_at;           /* the next tick to run: none is put before it */
	struct admit *guests;        /* connections that hold no slot */
	unsigned guest_cap;          /* the most allowed */
	struct admit *shaking;       /* connections in their handshake (LINK_HTTP) */
	unsigned max_handshakes;     /* this worker's share of --max-handshakes */
	unsigned rate_limited;       /* refused by --handshake-rate since the last log */
	uint64_t rate_logged;
	struct tls_server *tls;
	struct auth_set auth;        /* --token-file's tokens */
	int priv_fd;                 /* to the conntrack helper, -1 without */
	uint64_t fw[TUN_FW_N];       /* the firewall's counters, as it reported */
	bool fw_known;
	unsigned refused;            /* refused or evicted since the last log */
	uint64_t refused_logged;
	uint64_t now, term_at;
	unsigned hup_seen, usr1_seen;
	bool accept_due;
	struct link_stats st;
	struct gw_counters cnt;
	struct metrics_srv *metrics; /* --metrics (worker 0's), NULL without */
	struct pollfd mpfd[METRICS_PFDS], marmed[METRICS_PFDS]; /* its fds, in epoll */
	uint64_t started, start_time_s; /* link_now() and Unix time at the start */
	pthread_mutex_t inbox_lock;  /* connections handed over by other workers */
	struct conn *inbox;
	pthread_mutex_t tally_lock;  /* the tally it last published */
	struct tally tally;
	_Atomic unsigned tally_gen;  /* the stats request it was published for */
	pthread_t thread;
	struct epoll_event ev[EP_EVENTS];
	uint8_t scratch[LINK_SCRATCH]; /* packets dropped, segments cut */
	struct link_gro gro;           /* a client's packets, coalesced */
	uint8_t gro_buf[LINK_PKT_MAX];
	struct link_rxbuf rxb;         /* every connection's reads */
};

/* What the workers share: set up before they start, then read only, but
 * for the --handshake-rate table (under its lock: handshakes only). */
struct shared {
	const struct config *cfg;
	unsigned n;                  /* workers */
	struct gw *w[CLI_WORKERS_MAX];
	unsigned n_slots;            /* in the whole pool */
	bool helper;                 /* the conntrack helper runs */
	pthread_mutex_t rate_lock;
	struct limit_table *by_source; /* --handshake-rate's buckets */
};

/* Signals, for every worker: each counts what it has seen. */
static atomic_bool got_term;
static atomic_uint got_usr1, got_hup;
static int wake_fds[CLI_WORKERS_MAX];
static unsigned n_wake;

/* Wakes the worker whose eventfd fd is; safe in a signal handler. */
static void wake(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof one);
}

/* Counts the signal, and wakes every worker to see it. */
static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGUSR1)
		atomic_fetch_add(&got_usr1, 1);
	else if (sig == SIGHUP)
		atomic_fetch_add(&got_hup, 1);
	else
		atomic_store(&got_term, true);
	for (unsigned i = 0; i < n_wake; i++)
		wake(wake_fds[i]);
	errno = saved;
}

/* ==== Guests: connections without a slot ==== */

static void guest_add(struct gw *g, struct conn *c)
{
	admit_add(g->guests, c->id, c->source);
}

static void guest_del(struct gw *g, struct conn *c)
{
	admit_del(g->guests, c->id);
}

/* ==== Slots ==== */

static void list_unlink(struct slot_list *l, struct slot *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->next = s->prev = NULL;
	l->n--;
}

static void list_append(struct slot_list *l, struct slot *s)
{
	s->next = NULL;
	s->prev = l->tail;
	if (l->tail)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->n++;
}

/* The one place a slot changes state: it moves to the end of its new
 * state's list, so that each list is in the order its timers end. */
static void slot_set(struct gw *g, struct slot *s, enum slot_state st)
{
	list_unlink(&g->by_state[s->state], s);
	s->state = st;
	list_append(&g->by_state[st], s);
	atomic_store_explicit(&g->free_pub, g->by_state[S_FREE].n, memory_order_relaxed);
}

/* Separates a connection from its slot; the connection becomes a guest.
 * What its link still has queued goes out on that link. */
static void conn_unbind(struct gw *g, struct conn *c)
{
	struct slot *s = c->slot;

	c->slot = NULL;
	if (s && s->conn == c)
		s->conn = NULL;
	guest_add(g, c);
}

static void slot_retire(struct gw *g, struct slot *s, const char *why)
{
	slot_set(g, s, S_RETIRED);
	log_warnx("%s retired until restart: %s", s->name, why);
}

/* The helper is gone or broke the protocol: slots waiting for it retire. */
static void priv_gone(struct gw *g)
{
	log_warnx("the conntrack helper is gone: released slots are retired from now on");
	tun_priv_close(g->priv_fd);
	g->priv_fd = -1;
	while (g->by_state[S_FLUSH].head)
		slot_retire(g, g->by_state[S_FLUSH].head, "its conntrack entries cannot be deleted");
	while (g->by_state[S_FLUSHING].head)
		slot_retire(g, g->by_state[S_FLUSHING].head,
			    "its conntrack entries cannot be deleted");
}

/* Asks the helper to flush s; a full queue leaves it in S_FLUSH, and the
 * timers ask again. Never blocks. Returns false when the queue is full. */
static bool slot_flush(struct gw *g, struct slot *s)
{
	if (tun_priv_flush(g->priv_fd, s->index) == 0) {
		slot_set(g, s, S_FLUSHING);
		return true;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		priv_gone(g);
	return false;
}

/* Gives up the slot for good: the helper deletes its flows' conntrack
 * entries, and it is free once that is done and a quarantine is over. */
static void slot_release(struct gw *g, struct slot *s)
{
	explicit_bzero(s->token, sizeof s->token);
	s->has_token = false;
	nat_reset(&s->nat);
	s->conn = NULL;
	if (g->priv_fd < 0) {
		slot_retire(g, s, "no conntrack helper to delete its flows");
		return;
	}
	slot_set(g, s, S_FLUSH);
	slot_flush(g, s);
}

/* The slot of the pool's slot index i, if it is this worker's. */
static struct slot *slot_at(const struct gw *g, unsigned i)
{
	unsigned n = g->sh->n;

	return i % n == g->wid && i / n < g->n_slots ? &g->slots[i / n] : NULL;
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
		struct slot *s = slot_at(g, m.slot);
		if (!s || s->state != S_FLUSHING)
			continue;
		if (m.result < 0) {
			errno = (int)-m.result;
			log_warn("%s: deleting its conntrack entries", s->name);
			slot_retire(g, s, "its conntrack entries could not be deleted");
			continue;
		}
		log_debug("%s: %lld conntrack entries deleted", s->name, (long long)m.result);
		s->until = g->now + QUARANTINE_MS;
		slot_set(g, s, S_QUARANTINE);
	}
}

/*
 * The connection c leaves its slot. A client that vanished keeps it for
 * --linger seconds, to resume; one that said goodbye (a close frame of its
 * own) or broke the protocol gives it up at once.
 */
static void slot_leave(struct gw *g, struct conn *c, bool goodbye)
{
	struct slot *s = c->slot;

	if (!s)
		return;
	conn_unbind(g, c);
	if (s->state != S_BUSY)
		return;
	if (!goodbye && s->has_token && g->cfg->linger_s) {
		s->until = g->now + (uint64_t)g->cfg->linger_s * 1000;
		slot_set(g, s, S_LINGER);
	} else {
		slot_release(g, s);
	}
}

/*
 * A session token: its first byte is the id of the gateway that issued it
 * (--gateway-id), so that a proxy in front of several can send a resuming
 * client back to its issuer (contrib/nginx-scale-out.conf); the next two
 * are its slot's index in the pool, so that whichever worker takes the
 * reconnection finds the worker holding it; the rest is random. Returns
 * the slot index, or -1 for a token that is not one, or another gateway's.
 */
static long token_slot(const struct gw *g, const struct conn *c, struct ws_str tok,
		       uint8_t t[static V1_TOKEN_LEN])
{
	if (!tok.len || v1_token_parse(t, tok.p, tok.len) < 0)
		return -1;
	if (t[0] != g->cfg->gateway_id) {
		log_info("%s: its session is gateway %u's, not this one's (%u): a new slot",
			 c->peer, t[0], g->cfg->gateway_id);
		return -1;
	}
	return get16(t + 1) < g->sh->n_slots ? get16(t + 1) : -1;
}

/* The slot a session token names, if it still holds that session. One that
 * names another gateway was sent here by mistake or by a proxy that lost its
 * issuer: its slot is not here, so the client gets a new one (its old flows
 * are lost, not its tunnel). */
static struct slot *slot_resume(struct gw *g, const struct conn *c, struct ws_str tok)
{
	uint8_t t[V1_TOKEN_LEN];
	long i = token_slot(g, c, tok, t);
	struct slot *s = i >= 0 ? slot_at(g, (unsigned)i) : NULL;
	bool live = s && (s->state == S_LINGER || s->state == S_BUSY);

	if (live && !(s->has_token && v1_token_equal(s->token, t)))
		live = false;
	explicit_bzero(t, sizeof t);
	return live ? s : NULL;
}

/* A new session's token for s (token_slot); false without randomness. */
static bool token_new(const struct gw *g, struct slot *s)
{
	if (getrandom(s->token, V1_TOKEN_LEN, 0) != V1_TOKEN_LEN)
		return false;
	s->token[0] = (uint8_t)g->cfg->gateway_id;
	put16(s->token + 1, (uint16_t)s->index);
	return true;
}

/* ==== Connections ==== */

/*
 * The one place a connection's client is set: the address it is logged as
 * (name) and the source it is counted under (key: an IPv4 address as
 * ::ffff:a.b.c.d, or an IPv6 /64). First the TCP peer's, at accept; then,
 * from a trusted proxy, the forwarded client's, once its request is in. A
 * guest is counted again under its new source.
 */
static void conn_set_client(struct gw *g, struct conn *c, const uint8_t key[static ADMIT_KEY_LEN],
                            const char *name)
{
	bool guest = admit_has(g->guests, c->id);
	size_t n = strnlen(name, sizeof c->peer - 1);

	if (guest)
		guest_del(g, c);
	memcpy(c->source, key, ADMIT_KEY_LEN);
	memcpy(c->peer, name, n);
	c->peer[n] = '\0';
	if (guest)
		guest_add(g, c);
}

/* The TCP peer, before c is counted anywhere: logged as ADDR:PORT, counted
 * under its address (IPv4) or its /64 (IPv6: one host may hold a /64). */
static void peer_of(struct conn *c, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	memset(c->source, 0, sizeof c->source);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		port = ntohs(a->sin_port);
		c->source[10] = c->source[11] = 0xff;
		memcpy(c->source + 12, &a->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		port = ntohs(a->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			/* An IPv4 client of a [::] listener is an IPv4 client. */
			inet_ntop(AF_INET, a->sin6_addr.s6_addr + 12, host, sizeof host);
			memcpy(c->source, &a->sin6_addr, ADMIT_KEY_LEN);
		} else {
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
			memcpy(c->source, &a->sin6_addr, 8);
		}
	}
	snprintf(c->peer, sizeof c->peer, "%s:%u", host, port);
}

/* Whether source (as peer_of keys it) is in a --trust-proxy range. */
static bool source_is_proxy(const struct gw *g, const uint8_t source[static ADMIT_KEY_LEN])
{
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };
	const struct cli_cidrs *t = &g->cfg->trust_proxy;

	/* Only an IPv4 peer can be trusted (the ranges are IPv4). */
	return t->n && !memcmp(source, v4, sizeof v4) &&
	       nat_cidr_match(t->v, t->n, get32(source + 12));
}

/*
 * --handshake-rate: whether source may start one more handshake now. A
 * refusal is logged at most once a minute, with who; the caller counts it. Applied
 * at accept to every peer but a trusted proxy, whose clients share its
 * address; the same check is for the address a proxy forwards, once known.
 */
static bool handshake_rate_ok(struct gw *g, const uint8_t source[static ADMIT_KEY_LEN],
			      const char *who)
{
	pthread_mutex_lock(&g->sh->rate_lock);
	bool ok = limit_table_take(g->sh->by_source, source, g->now);
	pthread_mutex_unlock(&g->sh->rate_lock);
	if (ok)
		return true;
	g->rate_limited++;
	if (g->rate_logged && g->now - g->rate_logged < LIMIT_LOG_MS)
		return false;
	log_warnx("%u connections refused over --handshake-rate %u a second, the last from %s",
		  g->rate_limited, g->cfg->handshake_rate, who);
	g->rate_limited = 0;
	g->rate_logged = g->now;
	return false;
}

/*
 * --trust-proxy: a peer in a trusted range speaks for its client in
 * X-Forwarded-For (ws_xff_client walks it). The client is then logged as
 * "203.0.113.7 via 127.0.0.1:41234" (its port is not known) and counted
 * under its own address. From any other peer the header is ignored.
 * Returns whether the client is a forwarded one.
 */
static bool conn_forwarded(struct gw *g, struct conn *c, const struct ws_req *r)
{
	const struct cli_cidrs *t = &g->cfg->trust_proxy;
	uint8_t key[ADMIT_KEY_LEN] = { [10] = 0xff, [11] = 0xff };
	char name[sizeof c->peer + 24];
	uint32_t client;

	if (!source_is_proxy(g, c->source) ||
	    !ws_xff_client(r->xff, r->xff_n, t->v, t->n, &client))
		return false;
	put32(key + 12, client);
	snprintf(name, sizeof name, "%u.%u.%u.%u via %s", client >> 24, client >> 16 & 0xff,
		 client >> 8 & 0xff, client & 0xff, c->peer);
	conn_set_client(g, c, key, name);
	return true;
}

/* Counts how c's handshake ended, once. */
static void hs_end(struct gw *g, struct conn *c, enum hs_result r)
{
	if (c->counted)
		return;
	c->counted = true;
	g->cnt.handshakes[r]++;
}

/* Counts how c's TLS handshake ended, once it has; plain HTTP on the TLS
 * port is also the upgrade's bad request. */
static void tls_count(struct gw *g, struct conn *c)
{
	static const enum tls_result of[] = {
		[LINK_TLS_UP] = TLSR_OK, [LINK_TLS_FAILED] = TLSR_FAILED,
		[LINK_TLS_PLAIN_HTTP] = TLSR_PLAIN_HTTP,
	};

	if (c->tls_counted || c->l.tls_hs == LINK_TLS_NONE || c->l.tls_hs == LINK_TLS_PENDING)
		return;
	c->tls_counted = true;
	g->cnt.tls[of[c->l.tls_hs]]++;
	if (c->l.tls_hs == LINK_TLS_PLAIN_HTTP)
		hs_end(g, c, HS_BAD_REQUEST);
}

/* ---- The timer wheel: each connection in the bucket of the tick its
 * timers are due (link_due, or its handshake's deadline), for as many
 * revolutions as that is ahead ---- */

static void wheel_del(struct gw *g, struct conn *c)
{
	if (!c->wheeled)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		g->wheel[c->wbucket] = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	c->wheeled = false;
}

static void wheel_add(struct gw *g, struct conn *c, uint64_t due)
{
	uint64_t tick = due / TICK_MS < g->wheel_at ? g->wheel_at : due / TICK_MS;
	struct conn **b = &g->wheel[tick % WHEEL];

	c->wdue = due;
	c->wbucket = (unsigned)(tick % WHEEL);
	c->wprev = NULL;
	c->wnext = *b;
	if (*b)
		(*b)->wprev = c;
	*b = c;
	c->wheeled = true;
}

/* Puts c where its timers are due now, unless it is already in as early
 * a bucket (what moves a due time later is found when the bucket runs). */
static void schedule(struct gw *g, struct conn *c)
{
	uint64_t due = link_due(&c->l);

	if (c->l.st == LINK_HTTP && c->deadline < due)
		due = c->deadline;
	if (c->wheeled && c->wdue <= due)
		return;
	wheel_del(g, c);
	if (due != UINT64_MAX)
		wheel_add(g, c, due);
}

/* c is to be flushed, and its epoll events set again, before the next wait. */
static void touch(struct gw *g, struct conn *c)
{
	if (!c->dirty) {
		g->dirty[g->n_dirty++] = c;
		c->dirty = g->n_dirty;
	}
}

static void untouch(struct gw *g, struct conn *c)
{
	if (!c->dirty)
		return;
	struct conn *last = g->dirty[--g->n_dirty];
	g->dirty[c->dirty - 1] = last;
	last->dirty = c->dirty;
	c->dirty = 0;
}

/* Takes c into this worker's tables (a new connection, or one handed over);
 * returns -1 when epoll refuses it. */
static int conn_adopt(struct gw *g, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN };

	c->id = g->free_ids[g->n_free - 1];
	c->gen = ++g->gen & 0xffffff;
	c->armed = EPOLLIN;
	ev.data.u64 = (uint64_t)EP_CONN << 56 | (uint64_t)c->gen << 32 | c->id;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		log_warn("epoll");
		return -1;
	}
	g->n_free--;
	g->by_id[c->id] = c;
	c->live = g->n_live;
	g->live[g->n_live++] = c;
	c->dirty = 0;
	c->wheeled = false;
	guest_add(g, c);
	schedule(g, c);
	return 0;
}

/* Takes c out of this worker's tables (closed, or handed over). */
static void conn_forget(struct gw *g, struct conn *c)
{
	untouch(g, c);
	wheel_del(g, c);
	guest_del(g, c);
	admit_del(g->shaking, c->id);
	struct conn *last = g->live[--g->n_live];
	g->live[c->live] = last;
	last->live = c->live;
	g->by_id[c->id] = NULL;
	g->free_ids[g->n_free++] = c->id;
}

/* Frees c, in no table (any more). */
static void conn_drop(struct conn *c)
{
	link_free(&c->l);
	close(c->fd);
	if (c->req) {
		explicit_bzero(c->req, sizeof *c->req);
		free(c->req);
	}
	free(c);
}

/* Closes the socket and forgets c; why, if not NULL, is logged. */
static void conn_close(struct gw *g, struct conn *c, const char *why)
{
	if (why && !c->quiet)
		(c->l.st == LINK_HTTP ? log_debug : log_info)("disconnect %s%s%s: %s%s%.0u",
			c->peer, c->slot_name ? " from " : "", c->slot_name ? c->slot_name : "",
			why, c->l.close_code ? ", close code " : "", c->l.close_code);
	tls_count(g, c);
	hs_end(g, c, HS_ABORTED);
	slot_leave(g, c, false);
	conn_forget(g, c);
	conn_drop(c);
}

/* Starts the closing handshake with code (RFC 6455 §7.1.2); the slot is
 * left as a vanished client's (kept for resumption). */
static void conn_fail(struct gw *g, struct conn *c, uint16_t code)
{
	link_close(&c->l, code, g->now);
	slot_leave(g, c, false);
	touch(g, c);
}

/* Answers the handshake with an HTTP error and closes after sending it. */
static void http_refuse(struct gw *g, struct conn *c, int status)
{
	char buf[1024];
	size_t n = ws_resp_error(buf, sizeof buf, status, NULL);

	log_info("refused %s: HTTP %d%s%s", c->peer, status, c->refusal ? ", " : "",
		 c->refusal ? c->refusal : "");
	hs_end(g, c, metrics_hs_of_status(status));
	c->quiet = true;
	if (link_send_head(&c->l, buf, n) < 0)
		log_debug("%s: no room for the answer", c->peer);
	link_finish(&c->l, g->now);
}

/* The vpngw.v1 assignment (SPEC, Wire protocol): one JSON text message. */
static void send_assignment(struct gw *g, struct conn *c)
{
	const struct slot *s = c->slot;
	const struct config *cfg = g->cfg;
	struct v1_assign a = {
		.addr = s->net + 2, .prefix = cfg->pool.prefix, .gateway = s->net + 1,
		.mtu = cfg->pool.mtu, .keepalive_s = cfg->keepalive_s,
		.linger_s = cfg->linger_s, .has_session = s->has_token,
		.n_dns4 = cfg->n_dns4, .n_dns6 = cfg->n_dns6,
	};
	char json[V1_ASSIGN_MAX];
	size_t n;

	memcpy(a.session, s->token, sizeof a.session);
	memcpy(a.dns4, cfg->dns4, sizeof a.dns4);
	memcpy(a.dns6, cfg->dns6, sizeof a.dns6);
	if (s->nat.cap6) {
		/* The client's first mapping is prefix::2 (nat_init6), ::1 ours. */
		a.prefix6 = cfg->pool.prefix6;
		memcpy(a.addr6, s->nat.net6, 16);
		memcpy(a.gateway6, s->nat.net6, 16);
		a.addr6[15] |= 2;
		a.gateway6[15] |= 1;
	}
	n = v1_assign_format(json, sizeof json, &a);
	explicit_bzero(&a, sizeof a);
	if (!n || link_send_text(&c->l, json, n) < 0)
		conn_fail(g, c, WS_CLOSE_INTERNAL);
	explicit_bzero(json, sizeof json);
}

/* Binds an upgraded connection to a slot: the one its token names, or a
 * free one. Returns NULL when the pool is full. */
static struct slot *conn_take_slot(struct gw *g, struct conn *c, const struct ws_req *r)
{
	struct slot *s = c->v1 ? slot_resume(g, c, r->session) : NULL;

	if (s) {
		struct conn *old = s->conn;
		if (old) {
			/* The client roamed before its old connection died. */
			conn_unbind(g, old);
			link_close(&old->l, WS_CLOSE_NORMAL, g->now);
			touch(g, old);
		}
		log_info("resume %s on %s", c->peer, s->name);
		hs_end(g, c, HS_RESUMED);
	} else {
		s = g->by_state[S_FREE].head;
		if (!s)
			return NULL;
		hs_end(g, c, HS_ACCEPTED);
		nat_reset(&s->nat);
		limit_fill(&s->up.b, &s->up.r, g->now);
		limit_fill(&s->down.b, &s->down.r, g->now);
		s->has_token = c->v1 && token_new(g, s);
	}
	slot_set(g, s, S_BUSY);
	s->conn = c;
	c->slot = s;
	c->slot_name = s->name;
	guest_del(g, c);
	return s;
}

/* With --token-file, a request must carry one of its tokens (SPEC, Wire
 * protocol: Auth), resumed sessions too; whatever it carries, nothing of it
 * is logged. */
static bool token_ok(struct gw *g, struct conn *c, const struct ws_req *r)
{
	enum auth_result a;

	if (!g->cfg->token_file)
		return true;
	a = auth_request(&g->auth, r->bearer.p, r->bearer.len, r->qtoken.p, r->qtoken.len);
	if (a == AUTH_OK)
		return true;
	g->cnt.auth_failures++;
	c->refusal = auth_result_name(a);
	return false;
}

/* SIGHUP: the token file again. A file that does not load leaves the
 * tokens as they were; connected clients stay either way. */
static void tokens_reload(struct gw *g)
{
	struct auth_set t;

	if (!g->cfg->token_file || auth_load(&t, g->cfg->token_file, true) < 0)
		return;
	auth_set_free(&g->auth);
	g->auth = t;
	explicit_bzero(&t, sizeof t);
	log_info("token file %s reloaded: %zu token%s", g->cfg->token_file, g->auth.n,
		 g->auth.n == 1 ? "" : "s");
}

/* Answers an accepted request with its 101 and binds the connection to a
 * slot: the one its session token names, or a free one. */
static void upgrade(struct gw *g, struct conn *c)
{
	struct ws_req *r = c->req;
	char buf[1024];

	/* A peer's super-packet message may be as long as WS_MSG_MAX: below
	 * that, --max-message would close the connection on its first one. */
	bool gso = c->v1 && r->ext_gso && g->cfg->offload && g->cfg->max_msg >= WS_MSG_MAX;
	size_t n = ws_resp_101(buf, sizeof buf, r->key.p, r->key.len,
			       c->v1 ? WS_PROTO_V1 : NULL, gso ? WS_EXT_GSO : NULL);
	if (link_send_head(&c->l, buf, n) < 0) {
		http_refuse(g, c, 503);
		return;
	}
	link_open(&c->l, g->cfg->max_msg, g->now);
	link_keepalive(&c->l, g->cfg->keepalive_s);
	link_gso(&c->l, gso);

	struct slot *s = conn_take_slot(g, c, r);
	if (!s) {
		log_info("refused %s: no free slot", c->peer);
		hs_end(g, c, HS_NO_SLOT);
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

/* The worker with the most free slots, as they last published it: this
 * one (g) when it has as many, unless others_only. */
static unsigned most_free(const struct gw *g, bool others_only)
{
	const struct shared *sh = g->sh;
	unsigned best = g->wid, most = 0;

	if (!others_only)
		most = atomic_load_explicit(&g->free_pub, memory_order_relaxed);
	for (unsigned w = 0; w < sh->n; w++) {
		unsigned n = atomic_load_explicit(&sh->w[w]->free_pub, memory_order_relaxed);
		if (w != g->wid && n > most) {
			best = w;
			most = n;
		}
	}
	return best;
}

/*
 * The worker a connection whose request is accepted belongs to: the one
 * holding the slot its session token names, else (a new session) the one
 * with the most free slots, this one when it has as many.
 */
static unsigned worker_for(struct gw *g, const struct conn *c, const struct ws_req *r)
{
	uint8_t t[V1_TOKEN_LEN];
	long i = c->v1 ? token_slot(g, c, r->session, t) : -1;

	explicit_bzero(t, sizeof t);
	return i >= 0 ? (unsigned)i % g->sh->n : most_free(g, false);
}

/* The request is complete: answer it, and bind a slot on success; or, when
 * another worker is to serve it, leave that to upgrade() there. */
static void handshake_done(struct gw *g, struct conn *c)
{
	struct ws_req *r = c->req;
	int status = ws_req_status(r, g->cfg->path);

	/* Behind a trusted proxy the rate of the client it names is checked
	 * now, the proxy itself being exempt at accept. */
	if (conn_forwarded(g, c, r) && !handshake_rate_ok(g, c->source, c->peer))
		status = 429;
	else if (status == 101 && !token_ok(g, c, r))
		status = 401;
	if (status != 101) {
		http_refuse(g, c, status);
		return;
	}
	c->v1 = r->proto_v1;
	unsigned w = g->sh->n > 1 ? worker_for(g, c, r) : g->wid;
	if (w != g->wid)
		c->hand_to = (int)w;
	else
		upgrade(g, c);
}

/* Handshake bytes: into the request parser, which copies what it takes. */
static void http_input(struct gw *g, struct conn *c, const struct link_msg *m)
{
	size_t used = 0;
	int st;

	if (!c->req) {
		c->req = malloc(sizeof *c->req);
		if (!c->req) {
			http_refuse(g, c, 503);
			return;
		}
		ws_req_init(c->req);
	}
	st = ws_req_feed(c->req, m->data, m->len, &used);
	link_consume(&c->l, used);
	if (st == WS_REQ_DONE)
		handshake_done(g, c);
	else if (st != WS_REQ_MORE)
		http_refuse(g, c, st);
}

/* One packet from the client (or a super-packet): validate, filter, NAT,
 * one TUN write. */
static void packet_up(struct gw *g, struct conn *c, uint8_t *p, size_t len)
{
	struct slot *s = c->slot;
	size_t size;
	enum drop d = link_unwrap(&c->l, &p, &len, &size);

	if (d == DROP_NONE)
		d = nat_check_slot(&s->nat, p, len);
	if (d == DROP_NONE)
		d = nat_out(&s->nat, &g->cfg->acl, p, len);
	if (d == DROP_NONE && g->cfg->client_rate &&
	    !limit_take(&s->up.b, &s->up.r, (uint64_t)len * 8, g->now))
		d = DROP_RATE;
	if (d == DROP_NONE) {
		link_gro_write(&g->gro, &s->tun, p, len, size, g->scratch, &g->st, &g->st.up);
		return;
	}
	g->st.drops[d]++;
	if (log_verbosity >= LOG_DEBUG)
		log_debug("%s: drop up %s (%zu bytes)", s->name, drop_name(d), len);
}

/* The client closed, or broke the protocol: its slot goes at once. */
static void peer_closed(struct gw *g, struct conn *c, const struct link_msg *m)
{
	if (m->error)
		log_info("%s: protocol error, closing with %u", c->peer, m->code);
	else
		log_debug("%s: close %u from the client", c->peer, m->code);
	slot_leave(g, c, true);
}

/* Handles what the link has parsed. */
static void conn_input(struct gw *g, struct conn *c)
{
	struct link_msg m;
	enum link_ev ev;

	while (c->hand_to < 0 && (ev = link_next(&c->l, &m)) != LINK_EV_NONE) {
		switch (ev) {
		case LINK_EV_HTTP:
			http_input(g, c, &m);
			if (c->l.st != LINK_HTTP)
				admit_del(g->shaking, c->id);
			break;
		case LINK_EV_BINARY:
			if (c->slot)
				packet_up(g, c, m.data, m.len);
			break;
		case LINK_EV_CLOSE:
			link_gro_flush(&g->gro, g->scratch, &g->st, &g->st.up);
			peer_closed(g, c, &m);
			break;
		case LINK_EV_TEXT:
		case LINK_EV_NONE:
			break;
		}
	}
}

/*
 * Hands c, its request accepted, to the worker that is to serve it
 * (worker_for): out of this worker's tables and epoll, into that one's
 * inbox. Its link goes as it is, TLS engine, request and unparsed bytes.
 */
static void inbox_put(struct gw *to, struct conn *c)
{
	c->hops++;
	pthread_mutex_lock(&to->inbox_lock);
	c->next_in = to->inbox;
	to->inbox = c;
	pthread_mutex_unlock(&to->inbox_lock);
	wake(to->wake_fd);
}

static void hand_over(struct gw *g, struct conn *c)
{
	/* What it sent after its request is in this loop's buffer still. */
	if (link_release(&c->l) < 0) {
		conn_close(g, c, "out of memory");
		return;
	}
	log_info("%s handed to worker %d", c->peer, c->hand_to);
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	conn_forget(g, c);
	inbox_put(g->sh->w[c->hand_to], c);
}

/*
 * A new session handed here as the slots stood when it was decided, which
 * finds none free any more (another took the last meanwhile): on to the
 * worker with the most, once per worker at most. Returns true if it went.
 */
static bool pass_on(struct gw *g, struct conn *c)
{
	unsigned w;

	if (g->by_state[S_FREE].head || c->hops >= g->sh->n ||
	    (c->v1 && slot_resume(g, c, c->req->session)))
		return false;
	w = most_free(g, true);
	if (w == g->wid)
		return false;
	log_info("%s handed on to worker %u", c->peer, w);
	inbox_put(g->sh->w[w], c);
	return true;
}

/* The socket is readable: drain it up to a budget. */
static void conn_readable(struct gw *g, struct conn *c)
{
	int r = 1;

	touch(g, c);
	for (int i = 0; i < SOCK_BUDGET && r > 0 && c->hand_to < 0; i++) {
		r = link_read(&c->l, &g->rxb, g->now);
		tls_count(g, c);
		if (r > 0)
			conn_input(g, c);
	}
	/* What the reads brought goes to the TUN coalesced across them. */
	link_gro_flush(&g->gro, g->scratch, &g->st, &g->st.up);
	if (r < 0)
		conn_close(g, c, link_why(&c->l)[0] ? link_why(&c->l) : "closed");
	else if (c->hand_to >= 0)
		hand_over(g, c);
}


/* Counts a connection refused or evicted; a flood must not flood the log
 * too, so the count is logged at most once a minute. */
static void note_overload(struct gw *g)
{
	g->refused++;
	if (g->refused_logged && g->now - g->refused_logged < LIMIT_LOG_MS)
		return;
	log_warnx("%u connections refused or cut before they held a slot: %u without a slot "
		  "(at most %u), %u in their handshake (at most %u)", g->refused,
		  admit_count(g->guests), g->guest_cap, admit_count(g->shaking),
		  g->max_handshakes);
	g->refused = 0;
	g->refused_logged = g->now;
}

/*
 * Makes room among the guests: the source holding the most connections
 * without a slot loses its oldest. Returns false when there is no guest to
 * close (every connection holds a slot, and the table is full).
 */
static bool evict_guest(struct gw *g)
{
	long id = admit_victim(g->guests);

	if (id < 0)
		return false;
	hs_end(g, g->by_id[id], HS_OVERLOAD);
	conn_close(g, g->by_id[id], NULL);
	note_overload(g);
	return true;
}

_Static_assert(LIMIT_KEY_LEN == ADMIT_KEY_LEN, "one source key for both tables");

/*
 * --max-handshakes: room for one more connection in its handshake. As for
 * the guests, the source holding the most handshakes loses its oldest, so
 * that a flood from some sources cannot lock out the others.
 */
static void handshake_room(struct gw *g)
{
	while (admit_count(g->shaking) >= g->max_handshakes) {
		long id = admit_victim(g->shaking);
		if (id < 0)
			return;
		hs_end(g, g->by_id[id], HS_OVERLOAD);
		conn_close(g, g->by_id[id], NULL);
		note_overload(g);
	}
}

/* A new connection: checked against the limits before it costs a buffer. */
static void conn_new(struct gw *g, int fd, const struct sockaddr_storage *ss)
{
	struct conn *c = calloc(1, sizeof *c);

	if (!c) {
		log_warnx("out of memory; one connection refused");
		close(fd);
		return;
	}
	peer_of(c, ss);
	if (!source_is_proxy(g, c->source) && !handshake_rate_ok(g, c->source, c->peer)) {
		g->cnt.handshakes[HS_RATE_LIMITED]++;
		goto refuse;
	}
	if ((admit_count(g->guests) >= g->guest_cap || g->n_live == g->max_conns) &&
	    !evict_guest(g)) {
		g->cnt.handshakes[HS_OVERLOAD]++;
		note_overload(g);
		goto refuse;
	}
	handshake_room(g);
	c->fd = fd;
	c->hand_to = -1;
	c->deadline = g->now + HANDSHAKE_MS;
	link_init(&c->l, fd, false, NULL, g->tls, g->now);
	if (conn_adopt(g, c) < 0) {
		link_free(&c->l);
		goto refuse;
	}
	admit_add(g->shaking, c->id, c->source);
	return;
refuse:
	free(c);
	close(fd);
}

static void conn_accept(struct gw *g)
{
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				g->cnt.handshakes[HS_OVERLOAD]++;
				note_overload(g);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				 errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		conn_new(g, fd, &ss);
	}
}

/*
 * Connections other workers handed over: each is taken in, answered
 * (upgrade) and what it sent after its request is read. One that finds no
 * room here is closed, as a flood's would be at accept.
 */
static void inbox_take(struct gw *g)
{
	uint64_t n;
	struct conn *c, *next;

	(void)!read(g->wake_fd, &n, sizeof n);
	pthread_mutex_lock(&g->inbox_lock);
	c = g->inbox;
	g->inbox = NULL;
	pthread_mutex_unlock(&g->inbox_lock);
	for (; c; c = next) {
		next = c->next_in;
		c->hand_to = -1;
		if (atomic_load(&got_term)) {   /* too late: its worker is closing */
			conn_drop(c);
			continue;
		}
		if (pass_on(g, c))
			continue;
		if ((g->n_live == g->max_conns && !evict_guest(g)) || conn_adopt(g, c) < 0) {
			g->cnt.handshakes[HS_OVERLOAD]++;
			note_overload(g);
			conn_drop(c);
			continue;
		}
		upgrade(g, c);
		if (c->l.st != LINK_DEAD && c->req == NULL)
			conn_input(g, c);
		link_gro_flush(&g->gro, g->scratch, &g->st, &g->st.up);
		touch(g, c);
	}
}

/* ==== The TUN side ==== */

/* The TUN failed (its device was deleted under it, say): it leaves epoll,
 * its client is closed, and the slot is never given out again. */
static void tun_broken(struct gw *g, struct slot *s)
{
	log_warn("%s: read", s->name);
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, s->tun.fd, NULL);
	if (s->conn)
		conn_fail(g, s->conn, WS_CLOSE_INTERNAL);
	slot_retire(g, s, "its TUN device failed");
}

static void tun_readable(struct gw *g, struct slot *s)
{
	struct link *l = s->conn ? &s->conn->l : NULL;

	if (link_tun_drain(l, &s->tun, g->cfg->pool.mtu, &s->nat, DROP_NO_CLIENT, &g->st,
			   &g->st.down, g->scratch, TUN_BUDGET,
			   g->cfg->client_rate ? &s->down : NULL, g->now) < 0)
		tun_broken(g, s);
	if (s->conn)
		touch(g, s->conn);
}

/* ==== Timers ==== */

static void conn_timers(struct gw *g, struct conn *c)
{
	if (c->l.st == LINK_HTTP && g->now >= c->deadline) {
		hs_end(g, c, HS_TIMEOUT);
		conn_close(g, c, "handshake timeout");
		return;
	}
	touch(g, c);
	switch (link_tick(&c->l, g->now)) {
	case LINK_TICK_SILENT:
		log_info("%s: %s", c->peer, link_why(&c->l));
		slot_leave(g, c, false);
		break;
	case LINK_TICK_DEAD:
		conn_close(g, c, "closed");
		break;
	case LINK_TICK_OK:
		break;
	}
}

/* The slots whose linger or quarantine is over, and those waiting for
 * room in the helper's queue: the heads of their lists, in order. */
static void slot_timers(struct gw *g)
{
	struct slot *s;

	while ((s = g->by_state[S_LINGER].head) && g->now >= s->until)
		slot_release(g, s);
	while (g->priv_fd >= 0 && (s = g->by_state[S_FLUSH].head) && slot_flush(g, s))
		;
	while ((s = g->by_state[S_QUARANTINE].head) && g->now >= s->until)
		slot_set(g, s, S_FREE);
}

/*
 * The connections whose timers are due, bucket by bucket up to now, and the
 * slots'. One pass closes at most CLOSE_BUDGET connections, each close
 * costing the kernel a FIN or a reset: when a flood's handshakes reach
 * their deadline together, the rest wait for the next pass, which runs
 * once the loop has served what came in meanwhile. Returns true when a
 * pass is due at once.
 */
static bool timers(struct gw *g)
{
	unsigned closed = 0;
	uint64_t last = g->now / TICK_MS;

	if (last - g->wheel_at >= WHEEL)
		g->wheel_at = last - WHEEL + 1;  /* every bucket once, then on */
	while (g->wheel_at <= last && closed < CLOSE_BUDGET) {
		uint64_t t = g->wheel_at++;
		struct conn *c = g->wheel[t % WHEEL], *next;
		g->wheel[t % WHEEL] = NULL;
		for (; c; c = next) {
			next = c->wnext;
			c->wheeled = false;
			if (closed == CLOSE_BUDGET) {
				g->wheel_at = t;        /* back in this bucket, for the next pass */
				wheel_add(g, c, c->wdue);
				g->wheel_at = t + 1;
			} else if (c->wdue > g->now) {
				wheel_add(g, c, c->wdue);   /* a later bucket, or turn */
			} else {
				unsigned n = g->n_live;
				conn_timers(g, c);
				closed += n - g->n_live;
				if (n == g->n_live)
					schedule(g, c);
			}
		}
		if (closed == CLOSE_BUDGET)
			g->wheel_at = t;
	}
	slot_timers(g);
	return closed == CLOSE_BUDGET;
}

/* ==== What the workers show: their tallies, summed ==== */

/* Publishes this worker's tally, for the stats request gen. */
static void tally_publish(struct gw *g, unsigned gen)
{
	pthread_mutex_lock(&g->tally_lock);
	g->tally.st = g->st;
	g->tally.cnt = g->cnt;
	for (unsigned i = 0; i < S_N; i++)
		g->tally.slots[i] = g->by_state[i].n;
	g->tally.clients = g->by_state[S_BUSY].n;  /* each held by its connection */
	g->tally.connections = g->n_live;
	g->tally.handshaking = admit_count(g->shaking);
	pthread_mutex_unlock(&g->tally_lock);
	atomic_store(&g->tally_gen, gen);
}

static void add64(uint64_t *sum, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum[i] += v[i];
}

/* The sum of every worker's last published tally. */
static void tally_sum(const struct shared *sh, struct tally *sum)
{
	memset(sum, 0, sizeof *sum);
	for (unsigned w = 0; w < sh->n; w++) {
		struct gw *g = sh->w[w];
		pthread_mutex_lock(&g->tally_lock);
		const struct tally *t = &g->tally;
		add64(sum->st.drops, t->st.drops, DROP_N);
		add64(&sum->st.up.packets, &t->st.up.packets, 1);
		add64(&sum->st.up.bytes, &t->st.up.bytes, 1);
		add64(&sum->st.down.packets, &t->st.down.packets, 1);
		add64(&sum->st.down.bytes, &t->st.down.bytes, 1);
		add64(sum->cnt.handshakes, t->cnt.handshakes, HS_N);
		add64(sum->cnt.tls, t->cnt.tls, TLSR_N);
		add64(&sum->cnt.auth_failures, &t->cnt.auth_failures, 1);
		for (unsigned i = 0; i < S_N; i++)
			sum->slots[i] += t->slots[i];
		sum->clients += t->clients;
		sum->connections += t->connections;
		sum->handshaking += t->handshaking;
		pthread_mutex_unlock(&g->tally_lock);
	}
}

/* Whether every worker has published its tally for the request gen. */
static bool tallies_in(const struct shared *sh, unsigned gen)
{
	for (unsigned w = 0; w < sh->n; w++)
		if (atomic_load(&sh->w[w]->tally_gen) != gen)
			return false;
	return true;
}

static void log_stats(const struct gw *g, const struct tally *t)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "stats clients=%u free=%u lingering=%u quarantined=%u "
			 "flushing=%u retired=%u",
			 t->slots[S_BUSY], t->slots[S_FREE], t->slots[S_LINGER],
			 t->slots[S_QUARANTINE], t->slots[S_FLUSH] + t->slots[S_FLUSHING],
			 t->slots[S_RETIRED]);
	for (unsigned i = 0; g->fw_known && i < TUN_FW_N && n > 0 && (size_t)n < sizeof line; i++)
		n += snprintf(line + n, sizeof line - (size_t)n, " fw_%s=%llu",
			      tun_fw_name((enum tun_fw)i), (unsigned long long)g->fw[i]);
	if (n > 0 && (size_t)n < sizeof line)
		link_stats_format(line, sizeof line, (size_t)n, &t->st);
	log_info("%s", line);
}

/* The gateway as a scrape shows it (metrics.h): the tallies the workers
 * published last, at most a tick ago, this worker's as it is now. */
static void metrics_fill(struct gw *g, struct tally *t, struct metrics_view *v)
{
	static const enum metrics_slot of[] = {
		[S_FREE] = METRICS_SLOT_FREE, [S_BUSY] = METRICS_SLOT_BUSY,
		[S_LINGER] = METRICS_SLOT_LINGERING, [S_FLUSH] = METRICS_SLOT_FLUSHING,
		[S_FLUSHING] = METRICS_SLOT_FLUSHING, [S_QUARANTINE] = METRICS_SLOT_QUARANTINED,
		[S_RETIRED] = METRICS_SLOT_RETIRED,
	};
	const struct config *cfg = g->cfg;

	tally_publish(g, atomic_load(&g->tally_gen));
	tally_sum(g->sh, t);
	*v = (struct metrics_view){
		.version = VPNGW_VERSION, .tls_built = VPNGW_TLS, .tls_on = g->tls != NULL,
		.stopping = atomic_load(&got_term), .start_time_s = g->start_time_s,
		.uptime_ms = g->now - g->started, .connections = t->connections,
		.handshaking = t->handshaking, .st = &t->st, .fw = g->fw_known ? g->fw : NULL,
		.cnt = &t->cnt, .max_handshakes = cfg->max_handshakes,
		.handshake_rate = cfg->handshake_rate, .linger_s = cfg->linger_s,
		.keepalive_s = cfg->keepalive_s, .client_rate = cfg->client_rate,
		.max_msg = cfg->max_msg, .clients = t->clients,
	};
	for (unsigned i = 0; i < S_N; i++)
		v->slots[of[i]] += t->slots[i];
}

/* ==== The loop ==== */

static int ep_add(int epfd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Registers c for what its link waits for now, if that changed. */
static void conn_arm(struct gw *g, struct conn *c)
{
	short want = link_events(&c->l);
	uint32_t ev = (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0);
	struct epoll_event e = {
		.events = ev, .data.u64 = (uint64_t)EP_CONN << 56 | (uint64_t)c->gen << 32 | c->id,
	};

	if (ev != c->armed && epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->armed = ev;
}

/*
 * The metrics listener and its scrapers (worker 0's), kept in epoll as
 * metrics_poll_set asks. The listener is added once. A scraper's fd leaves
 * epoll when it is closed, and its number may come back at once for the
 * next scraper: while a scrape is under way (a few ms each), each wake
 * registers the scrapers' fds again, added when epoll has forgotten them.
 */
static void metrics_arm(struct gw *g)
{
	if (!g->metrics)
		return;
	metrics_poll_set(g->metrics, g->mpfd);
	for (unsigned i = 0; i < METRICS_PFDS; i++) {
		struct pollfd *p = &g->mpfd[i];
		struct epoll_event e = {
			.events = (p->events & POLLIN ? EPOLLIN : 0) |
				  (p->events & POLLOUT ? EPOLLOUT : 0),
			.data.u64 = (uint64_t)EP_METRICS << 56 | i,
		};
		if (p->fd < 0 || (i == 0 && p->fd == g->marmed[0].fd))
			continue;
		if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, p->fd, &e) < 0 &&
		    epoll_ctl(g->epfd, EPOLL_CTL_ADD, p->fd, &e) < 0)
			continue;
		g->marmed[i] = *p;
	}
}

/* Scrapes: answered from the tallies (metrics_fill). */
static void metrics_turn(struct gw *g, const struct epoll_event *ev, int n)
{
	struct pollfd *p = g->mpfd;

	if (!g->metrics)
		return;
	for (unsigned i = 0; i < METRICS_PFDS; i++)
		p[i].revents = 0;
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 >> 56 == EP_METRICS) {
			uint32_t e = ev[i].events;
			p[ev[i].data.u64 & 0xff].revents =
				(short)((e & EPOLLIN ? POLLIN : 0) | (e & EPOLLOUT ? POLLOUT : 0) |
					(e & EPOLLHUP ? POLLHUP : 0) | (e & EPOLLERR ? POLLERR : 0));
		}
	if (metrics_input(g->metrics, p, g->now)) {
		struct metrics_view v;
		struct tally t;
		metrics_fill(g, &t, &v);
		metrics_answer(g->metrics, &v);
	}
}

/*
 * Handles what epoll reported. A connection is found by its id, and only
 * if its gen is the event's: one closed during this wake is not mistaken
 * for a new one given its id. New connections are accepted last. A TLS
 * connection with plaintext already decrypted is readable whatever epoll
 * said (the busy ones, kept in gw.dirty).
 */
static void dispatch(struct gw *g, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t d = g->ev[i].data.u64;
		uint32_t e = g->ev[i].events;
		switch (d >> 56) {
		case EP_LISTEN:
			g->accept_due = true;
			break;
		case EP_TUN:
			tun_readable(g, &g->slots[d & 0xffffffff]);
			break;
		case EP_PRIV:
			priv_readable(g);
			break;
		case EP_WAKE:
			inbox_take(g);
			break;
		case EP_CONN: {
			struct conn *c = g->by_id[d & 0xffffffff];
			if (c && c->gen == (d >> 32 & 0xffffff))
				conn_readable(g, c);
			(void)e;
			break;
		}
		}
	}
	for (unsigned i = g->n_dirty; i-- > 0;) {
		struct conn *c = g->dirty[i];
		if (link_busy(&c->l))
			conn_readable(g, c);
	}
	metrics_turn(g, g->ev, n);
	if (g->accept_due && !atomic_load(&got_term)) {
		g->accept_due = false;
		conn_accept(g);
	}
}

/* Flushes the connections touched in this wake, closes those done, and
 * registers the others for what they wait for. Returns true when one holds
 * decrypted bytes not read yet (the wait must not sleep). */
static bool flush_dirty(struct gw *g)
{
	bool busy = false;

	for (unsigned i = g->n_dirty; i-- > 0;) {
		struct conn *c = g->dirty[i];
		if (link_flush(&c->l, g->now, &g->st) < 0) {
			conn_close(g, c, link_why(&c->l)[0] ? link_why(&c->l) : "closed");
			continue;
		}
		conn_arm(g, c);
		schedule(g, c);
		if (link_busy(&c->l))
			busy = true;
		else
			untouch(g, c);
	}
	return busy;
}

static void shutdown_all(struct gw *g)
{
	for (unsigned i = g->n_live; i-- > 0;) {
		struct conn *c = g->live[i];
		if (c->l.st == LINK_OPEN)
			conn_fail(g, c, WS_CLOSE_GOING_AWAY);
		else if (c->l.st == LINK_HTTP)
			conn_close(g, c, NULL);
	}
}

/* Signals, as this worker sees them: shutting down, a stats line (summed by
 * worker 0 once every worker has published), the files again. */
static void signals(struct gw *g)
{
	unsigned usr1 = atomic_load(&got_usr1), hup = atomic_load(&got_hup);

	if (atomic_load(&got_term) && !g->term_at) {
		log_info("shutting down");
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->listen_fd, NULL);
		shutdown_all(g);
		g->term_at = g->now + LINK_CLOSE_MS;
	}
	if (usr1 != atomic_load(&g->tally_gen)) {
		tally_publish(g, usr1);
		if (g->wid)
			wake(g->sh->w[0]->wake_fd);
	}
	if (g->wid == 0 && usr1 != g->usr1_seen && tallies_in(g->sh, usr1)) {
		struct tally t;
		const char *tag = log_tag;
		g->usr1_seen = usr1;
		tally_sum(g->sh, &t);
		log_tag = "";
		log_stats(g, &t);
		log_tag = tag;
	}
	if (hup != g->hup_seen) {
		g->hup_seen = hup;
		if (g->tls)
			tls_server_reload(g->tls);
		tokens_reload(g);
	}
}

/*
 * One worker's loop. Its signals are not blocked: the handler only counts
 * them and writes every worker's eventfd, so that a signal between the
 * check and the wait still ends the wait, and one that comes while every
 * wait returns events (a busy gateway) is still seen at once.
 */
static int gw_loop(struct gw *g)
{
	sigset_t empty;
	uint64_t next_tick = 0;

	sigemptyset(&empty);
	pthread_sigmask(SIG_SETMASK, &empty, NULL);
	log_tag = g->tag;
	for (;;) {
		g->now = link_now();
		signals(g);
		if (g->now >= next_tick) {
			next_tick = timers(g) ? g->now : g->now + TICK_MS;
			tally_publish(g, atomic_load(&g->tally_gen));
		}
		bool busy = flush_dirty(g);
		metrics_flush(g->metrics, g->now);
		metrics_arm(g);
		if (g->term_at && (g->n_live == 0 || g->now >= g->term_at))
			return 0;
		busy = busy || next_tick <= g->now;
		int n = epoll_pwait(g->epfd, g->ev, EP_EVENTS, busy ? 0 : TICK_MS, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll");
			return -1;
		}
		g->now = link_now();
		dispatch(g, n);
	}
}

/* ==== Start-up ==== */

/* A listener on spec (ADDR:PORT); with shared, one of several on the port,
 * among which the kernel spreads connections (SO_REUSEPORT). */
static int listen_on(const char *spec, bool shared)
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
	if (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
		log_warn("SO_REUSEPORT");
		close(fd);
		return -1;
	}
	/* A long accept queue: the gateway's fair admission decides who stays
	 * under a flood, not SYNs dropped at random. */
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		log_warn("listen on %s", spec);
		close(fd);
		return -1;
	}
	return fd;
}

/* One id of --user's UID[:GID]: digits, below 2^32 - 1 (-1 means "none"
 * to the kernel). */
static bool id_parse(const char *s, size_t len, unsigned long *v)
{
	char buf[16], *end;

	if (!len || len >= sizeof buf || s[0] < '0' || s[0] > '9')
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	*v = strtoul(buf, &end, 10);
	return !*end && *v < 0xffffffffu;
}

/* Resolves --user: a name from /etc/passwd, or UID[:GID] (the gid is the
 * uid's without one), which needs no user database (a scratch root). */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);
	const char *colon = strchr(user, ':');
	size_t ul = colon ? (size_t)(colon - user) : strlen(user);
	unsigned long u, g;

	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		return 0;
	}
	if (id_parse(user, ul, &u) && (!colon || id_parse(colon + 1, strlen(colon + 1), &g))) {
		*uid = (uid_t)u;
		*gid = (gid_t)(colon ? g : u);
		return 0;
	}
	log_warnx("--user %s: no such user (a name, or UID[:GID])", user);
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


/* This worker's share of the pool: slots wid, wid + n, ...; all free. */
static int open_slots(struct gw *g)
{
	const struct tun_pool *p = &g->cfg->pool;
	unsigned n = g->sh->n;

	g->n_slots = (p->n - g->wid + n - 1) / n;
	g->slots = calloc(g->n_slots ? g->n_slots : 1, sizeof *g->slots);
	if (!g->slots)
		return -1;
	uint16_t mss = p->mtu > 40 ? (uint16_t)(p->mtu - 40) : 0;
	for (unsigned j = 0; j < g->n_slots; j++)
		g->slots[j].tun.fd = -1;
	for (unsigned j = 0; j < g->n_slots; j++) {
		struct slot *s = &g->slots[j];
		unsigned i = g->wid + j * n;
		s->index = i;
		s->tun.name = s->name;
		s->net = tun_slot_net(p, i);
		tun_slot_name(p, i, s->name);
		nat_init(&s->nat, s->net, p->prefix, mss);
		if (g->cfg->ipv6) {
			uint8_t net6[16];

			tun_slot_net6(p, i, net6);
			if (nat_init6(&s->nat, net6, p->prefix6) < 0)
				return -1;
		}
		limit_rate_init(&s->up.r, g->cfg->client_rate, limit_burst_bits(g->cfg->client_rate));
		s->down.r = s->up.r;
		list_append(&g->by_state[S_FREE], s);
		s->tun.fd = tun_open(s->name, g->cfg->offload, &s->tun.offload);
		if (s->tun.fd < 0) {
			log_warn("open TUN %s (run 'vpngw setup' as root first)", s->name);
			return -1;
		}
		if (ep_add(g->epfd, s->tun.fd, EPOLLIN, (uint64_t)EP_TUN << 56 | j) < 0) {
			log_warn("epoll");
			return -1;
		}
	}
	g->free_pub = g->n_slots;
	return 0;
}

/* The connection table: ids, the dense list, admission, the dirty list.
 * Each worker takes its share of --max-handshakes and of the guests. */
static int open_conns(struct gw *g)
{
	uint64_t seed = 0;
	const struct config *cfg = g->cfg;
	unsigned n = g->sh->n;

	/* Every connection in its handshake is a guest too, and the guests
	 * also count those closing without a slot. */
	g->max_handshakes = (cfg->max_handshakes + n - 1) / n;
	g->guest_cap = cfg->max_handshakes > GUESTS ? cfg->max_handshakes : GUESTS;
	g->guest_cap = (g->guest_cap + n - 1) / n;
	g->max_conns = g->n_slots + g->guest_cap;
	g->by_id = calloc(g->max_conns, sizeof *g->by_id);
	g->live = calloc(g->max_conns, sizeof *g->live);
	g->free_ids = calloc(g->max_conns, sizeof *g->free_ids);
	g->dirty = calloc(g->max_conns, sizeof *g->dirty);
	if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = link_now();
	g->guests = admit_new(g->max_conns, seed);
	g->shaking = admit_new(g->max_conns, seed);
	if (!g->by_id || !g->live || !g->free_ids || !g->dirty || !g->guests || !g->shaking) {
		log_warnx("out of memory");
		return -1;
	}
	for (unsigned i = 0; i < g->max_conns; i++)
		g->free_ids[i] = g->max_conns - 1 - i;
	g->n_free = g->max_conns;
	return 0;
}

/* Every slot's TUN and every connection needs an fd: raise the soft limit
 * as far as the hard one allows. */
static void raise_fd_limit(const struct shared *sh)
{
	struct rlimit rl;
	rlim_t want = 32;

	for (unsigned w = 0; w < sh->n; w++)
		want += (rlim_t)sh->w[w]->n_slots + sh->w[w]->max_conns + 4;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		log_warnx("at most %llu open files: fewer connections than %llu fit",
			  (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static void gw_free(struct gw *g)
{
	while (g->n_live)
		conn_close(g, g->live[g->n_live - 1], "shutdown");
	for (struct conn *c = g->inbox, *next; c; c = next) {
		next = c->next_in;
		conn_drop(c);
	}
	for (unsigned i = 0; g->slots && i < g->n_slots; i++)
		if (g->slots[i].tun.fd >= 0)
			close(g->slots[i].tun.fd);
	free(g->slots);
	free(g->by_id);
	free(g->live);
	free(g->free_ids);
	free(g->dirty);
	admit_free(g->guests);
	admit_free(g->shaking);
	if (g->priv_fd >= 0)
		tun_priv_close(g->priv_fd);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	if (g->wake_fd >= 0)
		close(g->wake_fd);
	if (g->epfd >= 0)
		close(g->epfd);
	if (g->tls)
		tls_server_free(g->tls);
	auth_set_free(&g->auth);
	metrics_close(g->metrics);
	pthread_mutex_destroy(&g->inbox_lock);
	pthread_mutex_destroy(&g->tally_lock);
	free(g);
}

/* One worker's loop and everything it needs, but its helper socket; its
 * TUNs and listener are opened with the privileges serve started with. */
static struct gw *gw_new(struct shared *sh, unsigned wid)
{
	const struct config *cfg = sh->cfg;
	struct gw *g = calloc(1, sizeof *g);

	if (!g) {
		log_warnx("out of memory");
		return NULL;
	}
	g->cfg = cfg;
	g->sh = sh;
	g->wid = wid;
	g->listen_fd = g->priv_fd = g->wake_fd = g->epfd = -1;
	pthread_mutex_init(&g->inbox_lock, NULL);
	pthread_mutex_init(&g->tally_lock, NULL);
	if (sh->n > 1)
		snprintf(g->tag, sizeof g->tag, "worker %u: ", wid);
	link_gro_init(&g->gro, g->gro_buf);
	sh->w[wid] = g;
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->epfd < 0 || g->wake_fd < 0 ||
	    ep_add(g->epfd, g->wake_fd, EPOLLIN, (uint64_t)EP_WAKE << 56) < 0) {
		log_warn("epoll");
		return NULL;
	}
	if (cfg->tls_cert && !(g->tls = tls_server_new(cfg->tls_cert, cfg->tls_key)))
		return NULL;
	if (cfg->token_file && auth_load(&g->auth, cfg->token_file, false) < 0)
		return NULL;
	g->listen_fd = listen_on(cfg->listen, sh->n > 1);
	if (g->listen_fd < 0 ||
	    ep_add(g->epfd, g->listen_fd, EPOLLIN, (uint64_t)EP_LISTEN << 56) < 0)
		return NULL;
	if (wid == 0 && cfg->metrics && !(g->metrics = metrics_open(cfg->metrics)))
		return NULL;
	for (unsigned i = 0; i < METRICS_PFDS; i++)
		g->marmed[i].fd = -1;
	return g;
}

/* After its TUNs: the helper's socket, in epoll. */
static int gw_priv(struct gw *g, int fd)
{
	g->priv_fd = fd;
	if (fd >= 0 && ep_add(g->epfd, fd, EPOLLIN, (uint64_t)EP_PRIV << 56) < 0) {
		log_warn("epoll");
		return -1;
	}
	return 0;
}

/* A worker's thread: its seccomp filter first, then its loop. */
static void *worker_main(void *arg)
{
	struct gw *g = arg;

	log_tag = g->tag;
	if (g->cfg->seccomp && seccomp_install(SECCOMP_GATEWAY) < 0) {
		log_warn("installing the seccomp filter");
		atomic_store(&got_term, true);
		return (void *)1;
	}
	return gw_loop(g) < 0 ? (void *)1 : NULL;
}

/* Starts workers 1.. on their threads; worker 0 is the caller's. */
static int workers_start(struct shared *sh)
{
	pthread_attr_t a;
	int rc = 0;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, WORKER_STACK);
	for (unsigned w = 1; w < sh->n && !rc; w++)
		if ((rc = pthread_create(&sh->w[w]->thread, &a, worker_main, sh->w[w])) != 0) {
			errno = rc;
			log_warn("starting worker %u", w);
			atomic_store(&got_term, true);
			for (unsigned i = 0; i < w; i++)
				wake(sh->w[i]->wake_fd);
			sh->n = w;     /* those started are joined */
		}
	pthread_attr_destroy(&a);
	return rc ? -1 : 0;
}

/* Waits for workers 1..; returns -1 if one of them failed. */
static int workers_join(struct shared *sh)
{
	int rc = 0;

	for (unsigned w = 1; w < sh->n; w++) {
		void *r = NULL;
		pthread_join(sh->w[w]->thread, &r);
		rc |= r != NULL;
	}
	return rc ? -1 : 0;
}

static void shared_free(struct shared *sh)
{
	for (unsigned w = 0; w < CLI_WORKERS_MAX; w++)
		if (sh->w[w])
			gw_free(sh->w[w]);
	if (sh->helper)
		tun_priv_stop();
	limit_table_free(sh->by_source);
	pthread_mutex_destroy(&sh->rate_lock);
	free(sh);
}

/*
 * Whether the slots carry IPv6, as setup left them (off when the host has
 * no IPv6 route, or --subnet6 none): decides nat_init6 and the assignment.
 */
static int ipv6_from_pool(struct config *cfg)
{
	char net[NAT_ADDR6_LEN];
	int v6 = tun_pool_ipv6(&cfg->pool);

	if (v6 < 0)
		return -1;
	cfg->ipv6 = v6 == 1;
	if (cfg->ipv6) {
		(void)nat_addr6_format(net, cfg->pool.net6);
		log_info("IPv6: slots of %s/%u on", net, cfg->pool.prefix6);
	} else if (cfg->pool.prefix6) {
		log_info("IPv6: off (the slots have none)");
	}
	return 0;
}

/*
 * Starts the gateway: everything a user can get wrong (user, certificate,
 * token file, port) is checked before the host is touched; a pool this run
 * set up is torn down again if the start fails after it. With --workers N,
 * N loops each open their share of the slots and their own listener (the
 * kernel spreads connections over them, SO_REUSEPORT); every one of them is
 * ready before any serves, and privileges are dropped before the threads
 * start, so that each inherits that and installs its filter first thing.
 */
static int serve(struct config *cfg)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1, SIGHUP };
	struct shared *sh = calloc(1, sizeof *sh);
	struct gw *g;
	bool did_setup = false, privileged = geteuid() == 0 || have_net_admin();
	int rc = 1, priv[CLI_WORKERS_MAX];
	uid_t uid = 0;
	gid_t gid = 0;
	struct limit_rate hr;
	uint64_t seed = 0;

	if (!sh) {
		log_warnx("out of memory");
		return 1;
	}
	sh->cfg = cfg;
	sh->n = cfg->workers;
	sh->n_slots = cfg->pool.n;
	pthread_mutex_init(&sh->rate_lock, NULL);
	if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = link_now();
	limit_rate_init(&hr, cfg->handshake_rate, cfg->handshake_rate);
	sh->by_source = limit_table_new(RATE_SOURCES, &hr, seed ^ 0x5bd1e995u);
	if (!sh->by_source || lookup_user(cfg->user, &uid, &gid) < 0)
		goto out;
	cfg->pool.uid = uid;
	cfg->pool.gid = gid;
	/* The helper is forked before any key is loaded. */
	for (unsigned w = 0; w < sh->n; w++)
		priv[w] = -1;
	if (privileged)
		sh->helper = tun_priv_start(&cfg->pool, uid, gid, cfg->seccomp, priv, sh->n) == 0;
	for (unsigned w = 0; w < sh->n; w++)
		if (!gw_new(sh, w) || gw_priv(sh->w[w], priv[w]) < 0)
			goto out;
	if (geteuid() == 0 && !tun_pool_ready(&cfg->pool)) {
		log_info("the pool is not set up; setting it up");
		if (tun_setup(&cfg->pool, false) < 0)
			goto out;
		did_setup = true;
	} else if (geteuid() == 0 && tun_table_ensure(&cfg->pool) < 0) {
		goto out;
	}
	if (ipv6_from_pool(cfg) < 0)
		goto out;
	for (unsigned w = 0; w < sh->n; w++)
		wake_fds[w] = sh->w[w]->wake_fd;
	n_wake = sh->n;
	link_signals(sigs, sizeof sigs / sizeof sigs[0], on_signal, NULL);
	for (unsigned w = 0; w < sh->n; w++)
		if (open_slots(sh->w[w]) < 0 || open_conns(sh->w[w]) < 0)
			goto out;
	/* The slots are ours: what a previous run left in conntrack goes. */
	if (privileged) {
		long n = tun_ct_flush_pool();
		if (n < 0)
			log_warn("deleting the pool's conntrack entries");
		else if (n > 0)
			log_info("deleted %ld conntrack entries a previous run left", n);
	}
	raise_fd_limit(sh);
	if (privileged && drop_privileges(uid, gid) < 0)
		goto out;
	did_setup = false; /* serving: the pool stays for the next start */
	g = sh->w[0];
	if (g->priv_fd < 0)
		log_warnx("no conntrack helper (serve needs root or CAP_NET_ADMIN): "
			  "a released slot is retired until restart");
	if (g->tls)
		log_info("TLS: %s", tls_server_describe(g->tls));
	if (cfg->token_file)
		log_info("token file %s: %zu token%s", cfg->token_file, g->auth.n,
			 g->auth.n == 1 ? "" : "s");
	else
		log_warnx("no --token-file: anyone who can reach %s may connect", cfg->listen);
	log_info("listening on %s%s, %u slots %s0..%u, %u worker%s, seccomp filter %s, "
		 "offloads %s", cfg->listen, g->tls ? " (TLS)" : "", cfg->pool.n,
		 cfg->pool.prefix_name, cfg->pool.n - 1, sh->n, sh->n == 1 ? "" : "s",
		 cfg->seccomp ? "on" : "off (--no-seccomp)",
		 cfg->offload ? tun_offload_name(g->slots[0].tun.offload) : "off (--no-offload)");
	if (g->metrics)
		log_info("metrics on http://%s/metrics", cfg->metrics);
	for (unsigned w = 0; w < sh->n; w++) {
		sh->w[w]->started = link_now();
		sh->w[w]->start_time_s = (uint64_t)time(NULL);
	}
	if (workers_start(sh) < 0) {
		workers_join(sh);
		goto out;
	}
	rc = worker_main(g) != NULL;
	rc |= workers_join(sh) < 0;
out:
	shared_free(sh);
	if (did_setup && tun_teardown(&cfg->pool, false) < 0)
		log_warnx("the pool set up by this start could not be removed; run 'vpngw teardown'");
	return rc;
}

/* ==== Command line ==== */

/* A number the command line gave, or def. */
static unsigned long given(long v, unsigned long def)
{
	return v >= 0 ? (unsigned long)v : def;
}

/* The pool from the command line: --client-prefix wins over the length of
 * --subnet, whose host bits are then cleared. */
static void pool_from(struct tun_pool *p, const struct cli_args *a)
{
	tun_pool_default(p);
	p->n = (unsigned)given(a->pool, p->n);
	p->prefix = (unsigned)given(a->client_prefix, a->subnet.mask ?
				    (unsigned)__builtin_popcount(a->subnet.mask) : p->prefix);
	if (a->subnet.mask)
		p->net = a->subnet.addr;
	p->net &= p->prefix ? ~0u << (32 - p->prefix) : 0;
	p->mtu = (unsigned)given(a->mtu, p->mtu);
	if (a->tun_prefix)
		snprintf(p->prefix_name, sizeof p->prefix_name, "%s", a->tun_prefix);
	if (a->egress)
		snprintf(p->egress, sizeof p->egress, "%s", a->egress);
	p->prefix6_given = a->subnet6_given;
	if (a->subnet6_none) {
		p->prefix6 = 0;
	} else if (a->subnet6_given) {
		memcpy(p->net6, a->subnet6.addr, 16);
		p->prefix6 = a->subnet6.len;
	}
}

/* --allow and --deny over the default deny list. */
static int acl_from(struct nat_acl *acl, const struct cli_args *a)
{
	nat_acl_init(acl);
	for (unsigned i = 0; i < a->allow.n; i++)
		if (nat_acl_allow(acl, a->allow.v[i]) < 0) {
			log_warnx("--allow: at most %d entries", NAT_ACL_MAX);
			return -1;
		}
	for (unsigned i = 0; i < a->deny.n; i++)
		if (nat_acl_deny(acl, a->deny.v[i]) < 0) {
			log_warnx("--deny: at most %d entries, with the defaults", NAT_ACL_MAX);
			return -1;
		}
	for (unsigned i = 0; i < a->allow6.n; i++)
		if (nat_acl_allow6(acl, a->allow6.v[i]) < 0) {
			log_warnx("--allow: at most %d IPv6 entries", NAT_ACL_MAX);
			return -1;
		}
	for (unsigned i = 0; i < a->deny6.n; i++)
		if (nat_acl_deny6(acl, a->deny6.v[i]) < 0) {
			log_warnx("--deny: at most %d IPv6 entries, with the pool", NAT_ACL_MAX);
			return -1;
		}
	return 0;
}

/* --dns: the servers every assignment advertises (cli.c kept the counts). */
static void dns_from(struct config *cfg, const struct cli_args *a)
{
	cfg->n_dns4 = a->dns.n;
	for (unsigned i = 0; i < a->dns.n; i++)
		cfg->dns4[i] = a->dns.v[i].addr;
	cfg->n_dns6 = a->dns6.n;
	for (unsigned i = 0; i < a->dns6.n; i++)
		memcpy(cfg->dns6[i], a->dns6.v[i].addr, 16);
}

/* --workers: a number (cli.c checked it), or auto: one per CPU this
 * process may run on, as many as allowed. */
static unsigned workers_from(const char *v)
{
	cpu_set_t set;
	int n;

	if (!v)
		return 1;
	if (strcmp(v, "auto"))
		return (unsigned)strtoul(v, NULL, 10);
	n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
	return n < 1 ? 1 : n > CLI_WORKERS_MAX ? CLI_WORKERS_MAX : (unsigned)n;
}

/* The configuration: the command line over the defaults. */
static int config_from(struct config *cfg, const struct cli_args *a)
{
	memset(cfg, 0, sizeof *cfg);
	pool_from(&cfg->pool, a);
	cfg->listen = a->listen ? a->listen : "127.0.0.1:8080";
	cfg->path = a->path;
	cfg->user = a->user ? a->user : "nobody";
	cfg->tls_cert = a->tls_cert;
	cfg->tls_key = a->tls_key;
	cfg->linger_s = (unsigned)given(a->linger, 10);
	cfg->keepalive_s = (unsigned)given(a->keepalive, 20);
	cfg->max_msg = given(a->max_message, WS_MSG_MAX);
	cfg->token_file = a->token_file;
	cfg->metrics = a->metrics;
	cfg->trust_proxy = a->trust_proxy;
	cfg->max_handshakes = (unsigned)given(a->max_handshakes, 256);
	cfg->handshake_rate = (unsigned)given(a->handshake_rate, 20);
	cfg->client_rate = a->client_rate > 0 ? (uint64_t)a->client_rate : 0;
	cfg->gateway_id = (unsigned)given(a->gateway_id, 0);
	cfg->workers = workers_from(a->workers);
	cfg->seccomp = !a->no_seccomp;
	cfg->offload = !a->no_offload;
	cfg->dry_run = a->dry_run;
	dns_from(cfg, a);
	for (unsigned i = 0; i < a->open_ports.n; i++)
		if (tun_pool_open_port(&cfg->pool, a->open_ports.v[i]) < 0) {
			log_warnx("--open-port %s: expected PORT, PORT/tcp or PORT/udp, PORT 1 to "
				  "65535, at most %d", a->open_ports.v[i], TUN_OPEN_MAX);
			return -1;
		}
	return acl_from(&cfg->acl, a);
}

/* The 16 bits of IPv6 prefix a that number its slots of length len. */
static unsigned slot_bits6(const uint8_t a[static 16], unsigned len)
{
	unsigned v = 0;

	for (unsigned k = 0; k < 16; k++) {
		unsigned bit = 128 - len + k;   /* from the last bit up */

		v |= ((a[15 - bit / 8] >> (bit % 8)) & 1u) << k;
	}
	return v;
}

/*
 * The pool's IPv6 range on the deny list as deny_pool puts the IPv4 one:
 * the fewest aligned prefixes. The default table refuses fc00::/7 already;
 * these entries keep the pool refused under an --deny-less default table
 * and say so in the list, as for IPv4 (an --allow over it wins, as there).
 */
static int deny_pool6(struct config *cfg)
{
	const struct tun_pool *p = &cfg->pool;
	unsigned base, a, end;

	if (!p->prefix6)
		return 0;
	base = slot_bits6(p->net6, p->prefix6);
	end = base + p->n;
	for (a = base; a < end;) {
		unsigned bits = a ? (unsigned)__builtin_ctz(a) : 16;
		struct nat_cidr6 c;

		while ((1u << bits) > end - a)
			bits--;
		tun_slot_net6(p, a - base, c.addr);
		c.len = p->prefix6 - bits;
		if (nat_acl_deny6(&cfg->acl, c) < 0) {
			log_warnx("--deny: at most %d IPv6 entries, with the pool", NAT_ACL_MAX);
			return -1;
		}
		a += 1u << bits;
	}
	return 0;
}

/*
 * The pool itself is never a destination (SPEC, Data plane step 2): its
 * range goes on the deny list as the fewest aligned prefixes (two for the
 * default pool), so that a pool of thousands of slots fits the list.
 */
static int deny_pool(struct config *cfg)
{
	uint64_t a = cfg->pool.net;
	uint64_t end = a + ((uint64_t)cfg->pool.n << (32 - cfg->pool.prefix));

	while (a < end) {
		unsigned bits = a ? (unsigned)__builtin_ctzll(a) : 32;
		while ((1ull << bits) > end - a)
			bits--;
		struct nat_cidr c = { (uint32_t)a, bits == 32 ? 0 : ~0u << bits };
		if (nat_acl_deny(&cfg->acl, c) < 0) {
			log_warnx("--deny: at most %d entries, with the defaults and the pool",
				  NAT_ACL_MAX);
			return -1;
		}
		a += 1ull << bits;
	}
	return deny_pool6(cfg);
}

/* Checks what no single option can: the pool fits the address space. */
static int config_check(struct config *cfg, enum cli_cmd cmd)
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
	if (cmd != CLI_SERVE)
		return 0;
	if (!!cfg->tls_cert != !!cfg->tls_key) {
		log_warnx("--tls-cert and --tls-key go together");
		return -1;
	}
#if !VPNGW_TLS
	if (cfg->tls_cert) {
		log_warnx("--tls-cert: this vpngw was built without TLS (make TLS=0)");
		return -1;
	}
#endif
	return deny_pool(cfg);
}

/* cmd's options over the defaults, checked. */
static enum cli_rc parse_gw_args(struct config *cfg, enum cli_cmd cmd, int argc, char **argv)
{
	struct cli_args a;
	enum cli_rc rc = cli_parse(cmd, argc, argv, &a);

	if (rc == CLI_OK && (config_from(cfg, &a) < 0 || config_check(cfg, cmd) < 0))
		return CLI_FAIL;
	return rc;
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
	enum cli_rc rc = parse_gw_args(&cfg, CLI_SETUP, argc, argv);
	uid_t uid;
	gid_t gid;

	if (rc != CLI_OK)
		return rc == CLI_FAIL;
	if (lookup_user(cfg.user, &uid, &gid) < 0)
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
	enum cli_rc rc = parse_gw_args(&cfg, CLI_TEARDOWN, argc, argv);

	if (rc != CLI_OK)
		return rc == CLI_FAIL;
	if (!cfg.dry_run && need_root("teardown") < 0)
		return 1;
	return tun_teardown(&cfg.pool, cfg.dry_run) < 0;
}

/*
 * serve --dry-run: the checks serve makes before it touches the host (user,
 * certificate and key, token file, --listen), then what it would do: the
 * setup it would make, as the commands setup --dry-run prints. Binds no
 * socket and changes nothing.
 */
static int serve_dry_run(struct config *cfg)
{
	const struct tun_pool *p = &cfg->pool;
	uid_t uid;
	gid_t gid;

	if (lookup_user(cfg->user, &uid, &gid) < 0)
		return 1;
	cfg->pool.uid = uid;
	cfg->pool.gid = gid;
	if (cfg->tls_cert) {
		struct tls_server *tls = tls_server_new(cfg->tls_cert, cfg->tls_key);
		if (!tls)
			return 1;
		printf("certificate %s and key %s load: %s\n", cfg->tls_cert, cfg->tls_key,
		       tls_server_describe(tls));
		tls_server_free(tls);
	}
	if (cfg->token_file) {
		struct auth_set t;
		if (auth_load(&t, cfg->token_file, false) < 0)
			return 1;
		printf("token file %s loads: %zu token%s\n", cfg->token_file, t.n,
		       t.n == 1 ? "" : "s");
		auth_set_free(&t);
	} else {
		printf("no --token-file: anyone who can reach %s could connect\n", cfg->listen);
	}
	printf("would listen on %s%s, %s%s\n", cfg->listen, cfg->tls_cert ? " (TLS)" : "",
	       cfg->path ? "path " : "any path", cfg->path ? cfg->path : "");
	if (tun_pool_ready(p)) {
		printf("the pool %s0..%s%u is set up\n", p->prefix_name, p->prefix_name, p->n - 1);
	} else if (geteuid() != 0) {
		log_warnx("serve: the pool %s0..%s%u is not set up; run 'vpngw setup' as root first",
			  p->prefix_name, p->prefix_name, p->n - 1);
		return 1;
	} else {
		printf("# the pool %s0..%s%u is not set up; serve would set it up so:\n",
		       p->prefix_name, p->prefix_name, p->n - 1);
		fflush(stdout);
		if (tun_setup(p, true) < 0)
			return 1;
	}
	if (geteuid() == 0)
		printf("would drop privileges to %s (uid %u, gid %u), keeping CAP_NET_ADMIN\n",
		       cfg->user, (unsigned)uid, (unsigned)gid);
	else
		printf("would run as uid %u, as started (not root: no privileges to drop)\n",
		       (unsigned)geteuid());
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct config cfg;
	enum cli_rc rc = parse_gw_args(&cfg, CLI_SERVE, argc, argv);

	if (rc != CLI_OK)
		return rc == CLI_FAIL;
	return cfg.dry_run ? serve_dry_run(&cfg) : serve(&cfg);
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
		cli_help(stdout);
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
