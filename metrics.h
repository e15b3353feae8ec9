/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: what the gateway counts besides packets (link.h's struct
 * link_stats), and the Prometheus exposition of it all.
 */
#ifndef VPNGW_METRICS_H
#define VPNGW_METRICS_H

#include <stdint.h>

/* How a connection's upgrade handshake ended: each ends in exactly one. */
enum hs_result {
	HS_ACCEPTED,       /* 101, a new slot */
	HS_RESUMED,        /* 101, the slot of its session token */
	HS_BAD_REQUEST,    /* 400 */
	HS_UNAUTHORIZED,   /* 401: no token, or not one of --token-file's */
	HS_NOT_FOUND,      /* 404: not --path */
	HS_UPGRADE,        /* 426: a plain GET, or a version other than 13 */
	HS_TOO_LARGE,      /* 431 */
	HS_UNAVAILABLE,    /* 503: no memory for it */
	HS_NO_SLOT,        /* upgraded, then closed with 1013: the pool is full */
	HS_TIMEOUT,        /* not complete within the handshake timeout */
	HS_ABORTED,        /* the peer went before it was complete */
	HS_RATE_LIMITED,   /* its source opened too many a second */
	HS_OVERLOAD,       /* refused or evicted: too many connections at once */
	HS_N
};

/* How a TLS handshake ended. */
enum tls_result {
	TLSR_OK,
	TLSR_FAILED,       /* a TLS error: bad record, no common cipher, ... */
	TLSR_PLAIN_HTTP,   /* plain HTTP on the TLS port: answered 400 */
	TLSR_N
};

struct gw_counters {
	uint64_t handshakes[HS_N];
	uint64_t tls[TLSR_N];
	uint64_t auth_failures;
};

#endif
