/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: what the gateway counts besides packets (link.h's struct
 * link_stats), the Prometheus exposition of it all, and the small HTTP
 * listener (--metrics) that serves it at /metrics and /healthz. The
 * gateway owns the counters and fills a struct metrics_view when a
 * scraper asks; nothing here reaches into the gateway.
 */
#ifndef VPNGW_METRICS_H
#define VPNGW_METRICS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a connection's upgrade handshake ended: each ends in exactly one. */
enum hs_result {
	HS_ACCEPTED,       /* 101, a new slot */
	HS_RESUMED,        /* 101, the slot of its session token */
	HS_BAD_REQUEST,    /* 400 (plain HTTP on the TLS port too) */
	HS_UNAUTHORIZED,   /* 401: no token, or not one of --token-file's */
	HS_NOT_FOUND,      /* 404: not --path */
	HS_UPGRADE,        /* 426: a plain GET, or a version other than 13 */
	HS_TOO_LARGE,      /* 431 */
	HS_UNAVAILABLE,    /* 503: no memory for it */
	HS_NO_SLOT,        /* upgraded, then closed with 1013: the pool is full */
	HS_TIMEOUT,        /* not complete within the handshake timeout */
	HS_ABORTED,        /* the peer went (or its TLS failed) before it was complete */
	HS_RATE_LIMITED,   /* its source opened too many a second */
	HS_OVERLOAD,       /* refused or evicted: too many connections at once */
	HS_N
};

/* How a TLS handshake ended. */
enum tls_result {
	TLSR_OK,
	TLSR_FAILED,       /* a TLS error: bad record, no common cipher, EOF, ... */
	TLSR_PLAIN_HTTP,   /* plain HTTP on the TLS port: answered 400 */
	TLSR_N
};

struct gw_counters {
	uint64_t handshakes[HS_N];
	uint64_t tls[TLSR_N];
	uint64_t auth_failures;
};

/* The slots by state, as an operator sees them (the gateway's finer
 * states fold into these). */
enum metrics_slot {
	METRICS_SLOT_FREE,
	METRICS_SLOT_BUSY,
	METRICS_SLOT_LINGERING,
	METRICS_SLOT_FLUSHING,
	METRICS_SLOT_QUARANTINED,
	METRICS_SLOT_RETIRED,
	METRICS_SLOT_N
};

/* Label values: lower case, stable; NULL out of range. */
const char *metrics_hs_name(enum hs_result r);
const char *metrics_tls_name(enum tls_result r);
const char *metrics_slot_name(enum metrics_slot s);

/* The result an HTTP refusal of the upgrade counts as (400 for a status
 * it does not know). */
enum hs_result metrics_hs_of_status(int status);

struct link_stats;

/* A snapshot of the gateway for one scrape; every pointer is the
 * gateway's and only read. */
struct metrics_view {
	const char *version;
	bool tls_built;              /* compiled with TLS */
	bool tls_on;                 /* serving TLS: its handshakes are shown */
	bool stopping;               /* shutting down: /healthz answers 503 */
	uint64_t start_time_s;       /* Unix time of the start */
	uint64_t uptime_ms;
	unsigned clients;            /* connections holding a slot */
	unsigned connections;        /* every socket, handshaking ones too */
	unsigned handshaking;        /* connections in their handshake */
	unsigned slots[METRICS_SLOT_N];
	const struct link_stats *st;
	const uint64_t *fw;          /* tun.h's TUN_FW_N counters, NULL if unknown */
	const struct gw_counters *cnt;
	unsigned max_handshakes, handshake_rate, linger_s, keepalive_s;
	uint64_t client_rate;        /* bit/s, 0: none */
	size_t max_msg;
};

/*
 * Writes the Prometheus text exposition (format 0.0.4) of v into out
 * (capacity cap, the caller's): # HELP and # TYPE for each family, each
 * enum's values in order as labels. Returns the length (no NUL), or 0 when
 * it does not fit.
 */
size_t metrics_render(char *out, size_t cap, const struct metrics_view *v);

/* ---- The listener ---- */

#define METRICS_CONNS    4          /* scrapers at once; the next evicts one */
#define METRICS_PFDS     (1 + METRICS_CONNS)
#define METRICS_RESP_MAX 16384      /* a whole answer, head and body */
#define METRICS_MS       5000       /* a scraper's whole life */

struct metrics_srv;

/*
 * Listens on addr_port (ADDR:PORT, as --listen) with every buffer it will
 * ever use allocated now. Returns NULL after one line on stderr (bad
 * address, port in use, out of memory).
 */
struct metrics_srv *metrics_open(const char *addr_port) __attribute__((warn_unused_result));
/* Closes the listener and every scraper; NULL is fine. */
void metrics_close(struct metrics_srv *m);

/* Fills pfd[0..METRICS_PFDS): the listener, then the scrapers (fd -1 when
 * unused, or for all of them when m is NULL). */
void metrics_poll_set(struct metrics_srv *m, struct pollfd *pfd);
/*
 * Handles what poll() reported in pfd[0..METRICS_PFDS): accepts, reads and
 * parses requests (ws.c's parser), answers errors at once. Returns true
 * when a request waits for the gateway's view: call metrics_answer.
 */
bool metrics_input(struct metrics_srv *m, const struct pollfd *pfd, uint64_t now);
/* Answers every request that waits, from v: /metrics, /healthz, 404, 405. */
void metrics_answer(struct metrics_srv *m, const struct metrics_view *v);
/* Writes what each socket takes now, closes those done or past their
 * deadline. Never blocks. */
void metrics_flush(struct metrics_srv *m, uint64_t now);

#endif
