/* SPDX-License-Identifier: MIT */
/*
 * v1.h: the vpngw.v1 subprotocol (SPEC, Wire protocol) as both ends see it,
 * written once: the assignment, the JSON text message the gateway sends
 * first and the client reads, and the session token, which the gateway
 * formats and both ends parse (the gateway from ?session=, the client from
 * the assignment). Pure: no syscalls, no allocation, no logging; the caller
 * owns every buffer, frames the message (ws.c) and keeps the secrets.
 *
 * The assignment is one JSON object (RFC 8259):
 *   {"address":"10.0.100.2/24","gateway":"10.0.100.1","mtu":1500,
 *    "session":"<32 hex digits>","keepalive":20,"linger":10,
 *    "address6":"fd00:0:0:100::2/64","gateway6":"fd00:0:0:100::1",
 *    "dns":["192.0.2.53","2001:db8::53"]}
 * Only "address" is required; "gateway6" only with "address6". A reader skips keys it does not know, with
 * any value, so that later keys (an IPv6 address, DNS servers) reach older
 * clients harmlessly; struct v1_assign grows by fields at its end.
 */
#ifndef VPNGW_V1_H
#define VPNGW_V1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define V1_TOKEN_LEN     16                 /* session token bytes */
#define V1_TOKEN_HEX     (2 * V1_TOKEN_LEN) /* and hex digits */
#define V1_ASSIGN_MAX    1024               /* longest assignment text */
#define V1_DEPTH_MAX     8                  /* nesting of a skipped value */
#define V1_MTU_MIN       576                /* RFC 791: every host takes 576 */
#define V1_MTU_MAX       65535
#define V1_MTU_DEFAULT   1500               /* when "mtu" is absent */
#define V1_KEEPALIVE_MAX 3600
#define V1_LINGER_MAX    86400
#define V1_DNS_MAX       4                  /* servers of each family */

/* What the gateway assigns a client. Addresses are in host order. */
struct v1_assign {
	uint32_t addr;               /* the client's address ... */
	unsigned prefix;             /* ... and prefix length, 1..32 */
	uint32_t gateway;            /* the gateway's address; 0: not given */
	unsigned mtu;                /* V1_MTU_MIN..V1_MTU_MAX */
	long keepalive_s;            /* 0..V1_KEEPALIVE_MAX; -1: not given */
	long linger_s;               /* 0..V1_LINGER_MAX; -1: not given */
	bool has_session;
	uint8_t session[V1_TOKEN_LEN];  /* a secret: wipe it when done */
	/* IPv6: "address6" ("A/LEN") and "gateway6"; prefix6 0: no IPv6. */
	uint8_t addr6[16];
	unsigned prefix6;
	uint8_t gateway6[16];        /* all zero: not given */
	/* "dns": the servers the gateway advertises, either family. */
	uint32_t dns4[V1_DNS_MAX];   /* host order */
	unsigned n_dns4;
	uint8_t dns6[V1_DNS_MAX][16];
	unsigned n_dns6;
};

/*
 * Writes the assignment a as JSON into out (capacity cap), NUL-terminated,
 * in the order above; a gateway of 0, a keepalive or linger of -1 and the
 * session unless has_session are left out. Returns the length without the
 * NUL, or 0 if it does not fit or a holds a value v1_assign_parse would
 * refuse (an address no interface can hold, an MTU out of range, ...). The
 * session's hex is in out: the caller wipes it.
 */
size_t v1_assign_format(char *out, size_t cap, const struct v1_assign *a)
	__attribute__((warn_unused_result));

/*
 * Parses the assignment in txt[0..len) (the caller's; no NUL needed), at
 * most V1_ASSIGN_MAX bytes, into a. Strict: one object and nothing after it
 * but whitespace; keys without escapes, each known one at most once; the
 * known values of the types and ranges above ("address" as "A/LEN", read by
 * nat_ifaddr_parse; "gateway" a bare address; numbers integers without sign,
 * fraction, exponent or leading zero). Unknown keys are skipped with their
 * values, checked against the JSON grammar and nested at most V1_DEPTH_MAX
 * deep. Bytes of 0x80 and over inside strings are passed over (ws.c has
 * checked the message is UTF-8). Returns 0, or -1 with a wiped.
 */
int v1_assign_parse(struct v1_assign *a, const char *txt, size_t len)
	__attribute__((warn_unused_result));

/*
 * Writes the token t as V1_TOKEN_HEX lower-case hex digits and a NUL, in
 * time independent of its value. Returns V1_TOKEN_HEX.
 */
size_t v1_token_format(char out[static V1_TOKEN_HEX + 1], const uint8_t t[static V1_TOKEN_LEN]);

/*
 * Reads a token from s[0..len): exactly V1_TOKEN_HEX hex digits, either
 * case, decoded in time independent of their values. Returns 0, or -1 with
 * out wiped.
 */
int v1_token_parse(uint8_t out[static V1_TOKEN_LEN], const char *s, size_t len)
	__attribute__((warn_unused_result));

/* Whether a and b are the same token, in time independent of both. */
bool v1_token_equal(const uint8_t a[static V1_TOKEN_LEN], const uint8_t b[static V1_TOKEN_LEN]);

#endif
