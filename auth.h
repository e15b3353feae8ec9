/* SPDX-License-Identifier: MIT */
/*
 * auth.h: the gateway's access tokens (SPEC, Wire protocol: Auth). A token
 * file holds one token a line; `#` starts a comment line; blank lines and
 * the whitespace around a token are ignored, and so is a CR before the LF.
 * A token is 1 to AUTH_TOKEN_MAX printable ASCII characters without spaces
 * (the rule --token's value follows too).
 *
 * The set keeps no token: only an HMAC-SHA1 of each under a random key of
 * its own. A presented token is hashed once and its digest compared with
 * every stored one, each in constant time and with no early exit, so the
 * time a check takes tells neither the token, nor how much of one matched,
 * nor which entry did.
 *
 * Pure, except auth_load and auth_first_file, which read the file (open,
 * fstat, read, close) and, for auth_load, draw the key (getrandom). Which
 * request header carries the token is ws.c's; what a failure costs the
 * client (401, the log line) is the caller's.
 */
#ifndef VPNGW_AUTH_H
#define VPNGW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha1.h"

#define AUTH_WUR        __attribute__((warn_unused_result))
#define AUTH_TOKEN_MAX  512          /* characters of one token */
#define AUTH_FILE_MAX   (1u << 20)   /* bytes of a token file */
#define AUTH_TOKENS_MAX 10000        /* tokens of one file */
#define AUTH_KEY_LEN    64           /* the HMAC key: one SHA-1 block */

/* A set of tokens, as digests. Zero-initialised it is empty (admits no one). */
struct auth_set {
	uint8_t key[AUTH_KEY_LEN];
	uint8_t (*digest)[SHA1_LEN]; /* n of them, malloc'd */
	size_t n;
};

/* What a request presented. */
enum auth_result {
	AUTH_OK = 0,       /* a token of the set */
	AUTH_NONE,         /* no token at all */
	AUTH_BAD,          /* a token, not one of the set (or not decodable) */
};

/*
 * NULL when s[0..len) is a valid token (1..AUTH_TOKEN_MAX characters from
 * 0x21 to 0x7e), else why not, for a one-line error.
 */
const char *auth_token_check(const char *s, size_t len);

/*
 * Parses a token file's text buf[0..len) (the caller's, read only) into
 * *s, whose key the caller has set; s->digest is allocated here (free it
 * with auth_set_free). Returns 0; or -1 with *line set to the 1-based line
 * at fault (0: the text as a whole) and *why to a reason that quotes
 * nothing of the text: a bad token, more than AUTH_TOKENS_MAX tokens, no
 * token at all, out of memory. On failure *s holds no digest.
 */
int auth_parse(struct auth_set *s, const char *buf, size_t len, unsigned *line,
	       const char **why) AUTH_WUR;

/*
 * The first token of buf[0..len), by the same rules, copied into out with
 * a NUL; returns its length, or 0 with *line and *why as for auth_parse.
 */
size_t auth_first(char out[static AUTH_TOKEN_MAX + 1], const char *buf, size_t len,
		  unsigned *line, const char **why) AUTH_WUR;

/*
 * Loads the token file path into *s (a new key, then auth_parse). On any
 * error (unreadable, not a regular file, larger than AUTH_FILE_MAX, a bad
 * line, no token) logs one line naming path (and the line; with reload,
 * that the old set stays), never a token, and returns -1 with *s
 * untouched. The file's bytes are wiped before they are freed.
 */
int auth_load(struct auth_set *s, const char *path, bool reload) AUTH_WUR;

/* The first token of the file path into out, as auth_load reads it. Returns
 * its length, or 0 after one line on stderr. */
size_t auth_first_file(char out[static AUTH_TOKEN_MAX + 1], const char *path) AUTH_WUR;

/* Wipes the key and the digests and frees them; *s is then empty. */
void auth_set_free(struct auth_set *s);

/* True when tok[0..len) is a token of s: one HMAC, then every digest
 * compared in constant time. */
bool auth_match(const struct auth_set *s, const char *tok, size_t len);

/*
 * Checks an upgrade request's token: bearer (Authorization: Bearer, NULL
 * when absent) if present, else query (the raw value of token= in the
 * query, NULL when absent), percent-decoded (RFC 3986 §2.1; '+' is kept,
 * as tokens may hold it) into a bounded buffer that is wiped afterwards. A
 * malformed escape, or a value too long, is AUTH_BAD.
 */
enum auth_result auth_request(const struct auth_set *s, const char *bearer, size_t bearer_len,
			      const char *query, size_t query_len);

/* "no token", "bad token" */
const char *auth_result_name(enum auth_result r);

#endif
