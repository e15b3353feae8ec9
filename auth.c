/* SPDX-License-Identifier: MIT */
/*
 * auth.c: the token set (auth.h): the token file's parser, the keyed
 * digests, the constant-time match, and the token= query value's decoding.
 * Everything is pure but read_file (the file's bytes) and auth_load's key.
 * What a request's headers say is ws.c's; what a refusal looks like, and
 * when the file is reloaded, the gateway's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "nat.h"

/* ==== One token, and the file's lines ==== */

const char *auth_token_check(const char *s, size_t len)
{
	if (!len || len > AUTH_TOKEN_MAX)
		return "a token is 1 to 512 printable characters, no spaces";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] >= 0x7f)
			return "a token is 1 to 512 printable characters, no spaces";
	return NULL;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Where the parser is in a file's text; line counts from 1. */
struct cursor {
	const char *p, *end;
	unsigned line;
};

/*
 * The next token line: 1 with the token in *tok, *len; 0 at the end of the
 * text; -1 with *why on a line that holds no valid token. Comment lines
 * and blank ones are skipped; c->line is the line of what it returns.
 */
static int next_token(struct cursor *c, const char **tok, size_t *len, const char **why)
{
	while (c->p < c->end) {
		const char *b = c->p;
		const char *nl = memchr(b, '\n', (size_t)(c->end - b));
		const char *e = nl ? nl : c->end;

		c->line++;
		c->p = nl ? nl + 1 : c->end;
		while (b < e && blank(*b))
			b++;
		while (e > b && blank(e[-1]))
			e--;
		if (b == e || *b == '#')
			continue;
		*why = auth_token_check(b, (size_t)(e - b));
		if (*why)
			return -1;
		*tok = b;
		*len = (size_t)(e - b);
		return 1;
	}
	return 0;
}

/* ==== Digests ==== */

/* SHA-1 of (key XOR the byte ipad, repeated), then m[0..len): one half of
 * an HMAC. out may be m. */
static void pad_hash(const uint8_t key[static AUTH_KEY_LEN], uint8_t ipad, const void *m,
		     size_t len, uint8_t out[static SHA1_LEN])
{
	uint8_t pad[AUTH_KEY_LEN];
	struct sha1 c;

	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = key[i] ^ ipad;
	sha1_init(&c);
	sha1_update(&c, pad, sizeof pad);
	sha1_update(&c, m, len);
	sha1_final(&c, out);
	explicit_bzero(pad, sizeof pad);
	explicit_bzero(&c, sizeof c);
}

/* HMAC-SHA1 (RFC 2104 §2) of m[0..len) under key. */
static void hmac(const uint8_t key[static AUTH_KEY_LEN], const void *m, size_t len,
		 uint8_t out[static SHA1_LEN])
{
	pad_hash(key, 0x36, m, len, out);
	pad_hash(key, 0x5c, out, SHA1_LEN, out);
}

/* 1 when a equals b, 0 otherwise, reading every byte of both. */
static unsigned digest_eq(const uint8_t a[static SHA1_LEN], const uint8_t b[static SHA1_LEN])
{
	unsigned d = 0;

	for (size_t i = 0; i < SHA1_LEN; i++)
		d |= a[i] ^ b[i];
	return 1u & ((d - 1u) >> 8);
}

bool auth_match(const struct auth_set *s, const char *tok, size_t len)
{
	uint8_t d[SHA1_LEN];
	unsigned found = 0;

	/* The length is the caller's own: refusing it early tells nothing. */
	if (!len || len > AUTH_TOKEN_MAX)
		return false;
	hmac(s->key, tok, len, d);
	for (size_t i = 0; i < s->n; i++)
		found |= digest_eq(d, s->digest[i]);
	explicit_bzero(d, sizeof d);
	return found != 0;
}

/* ==== The set ==== */

void auth_set_free(struct auth_set *s)
{
	if (s->digest) {
		explicit_bzero(s->digest, s->n * sizeof *s->digest);
		free(s->digest);
	}
	explicit_bzero(s, sizeof *s);
}

int auth_parse(struct auth_set *s, const char *buf, size_t len, unsigned *line,
	       const char **why)
{
	struct cursor c = { buf, buf + len, 0 };
	const char *tok;
	size_t tl, n = 0;
	int r;

	/* First pass: every line checked, the tokens counted. */
	while ((r = next_token(&c, &tok, &tl, why)) > 0) {
		if (++n > AUTH_TOKENS_MAX) {
			*why = "more than 10000 tokens";
			*line = c.line;
			return -1;
		}
	}
	if (r < 0) {
		*line = c.line;
		return -1;
	}
	*line = 0;
	if (!n) {
		*why = "no token in it";
		return -1;
	}
	s->digest = malloc(n * sizeof *s->digest);
	if (!s->digest) {
		*why = "out of memory";
		return -1;
	}

	/* Second pass: the digests. */
	c = (struct cursor){ buf, buf + len, 0 };
	for (s->n = 0; s->n < n && next_token(&c, &tok, &tl, why) > 0; s->n++)
		hmac(s->key, tok, tl, s->digest[s->n]);
	return 0;
}

size_t auth_first(char out[static AUTH_TOKEN_MAX + 1], const char *buf, size_t len,
		  unsigned *line, const char **why)
{
	struct cursor c = { buf, buf + len, 0 };
	const char *tok;
	size_t tl;
	int r = next_token(&c, &tok, &tl, why);

	*line = r < 0 ? c.line : 0;
	if (r == 0)
		*why = "no token in it";
	if (r <= 0)
		return 0;
	memcpy(out, tok, tl);
	out[tl] = '\0';
	return tl;
}

/* ==== Reading the file ==== */

/*
 * The whole of the regular file path, at most AUTH_FILE_MAX bytes, into a
 * buffer of ours (*buf, *len; the caller wipes and frees it). Opened
 * non-blocking, so that a FIFO put in its place cannot stall the caller.
 * Returns 0, or -1 after one line.
 */
static int read_file(const char *path, const char *note, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	int rc = -1;

	if (fd < 0) {
		log_warn("token file %s%s", path, note);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		log_warn("token file %s%s", path, note);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("token file %s%s: not a regular file", path, note);
		goto out;
	}
	if (st.st_size > (off_t)AUTH_FILE_MAX) {
		log_warnx("token file %s%s: larger than %u bytes", path, note, AUTH_FILE_MAX);
		goto out;
	}
	/* One byte more than it said: a file that grows is still bounded. */
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		log_warnx("token file %s%s: out of memory", path, note);
		goto out;
	}
	while (n <= (size_t)st.st_size) {
		ssize_t r = read(fd, b + n, (size_t)st.st_size + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_warn("token file %s%s", path, note);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > (size_t)st.st_size) {
		log_warnx("token file %s%s: changed while it was read", path, note);
		goto out;
	}
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	if (b) {
		explicit_bzero(b, n);
		free(b);
	}
	close(fd);
	return rc;
}

static void parse_error(const char *path, const char *note, unsigned line, const char *why)
{
	if (line)
		log_warnx("token file %s%s, line %u: %s", path, note, line, why);
	else
		log_warnx("token file %s%s: %s", path, note, why);
}

int auth_load(struct auth_set *s, const char *path, bool reload)
{
	const char *note = reload ? " (not reloaded, the tokens loaded before stay)" : "";
	struct auth_set t = { .n = 0 };
	char *buf;
	size_t len;
	unsigned line;
	const char *why;
	int rc = -1;

	if (read_file(path, note, &buf, &len) < 0)
		return -1;
	if (getrandom(t.key, sizeof t.key, 0) != (ssize_t)sizeof t.key) {
		log_warn("token file %s%s: getrandom", path, note);
		goto out;
	}
	if (auth_parse(&t, buf, len, &line, &why) < 0) {
		parse_error(path, note, line, why);
		goto out;
	}
	*s = t;
	explicit_bzero(&t, sizeof t);   /* the key now lives in *s alone */
	rc = 0;
out:
	if (rc < 0)
		auth_set_free(&t);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

size_t auth_first_file(char out[static AUTH_TOKEN_MAX + 1], const char *path)
{
	char *buf;
	size_t len, n;
	unsigned line;
	const char *why;

	if (read_file(path, "", &buf, &len) < 0)
		return 0;
	n = auth_first(out, buf, len, &line, &why);
	if (!n)
		parse_error(path, "", line, why);
	explicit_bzero(buf, len);
	free(buf);
	return n;
}

/* ==== A request's token ==== */

/* Percent-decodes in[0..len) into out (RFC 3986 §2.1). Returns the length,
 * or 0 for an empty, malformed or overlong value. */
static size_t pct_decode(char out[static AUTH_TOKEN_MAX], const char *in, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)in[i];
		if (ch == '%') {
			if (len - i < 3)
				return 0;
			int hi = nat_hex_digit(in[i + 1]), lo = nat_hex_digit(in[i + 2]);
			if (hi < 0 || lo < 0)
				return 0;
			ch = hi << 4 | lo;
			i += 2;
		}
		if (n == AUTH_TOKEN_MAX)
			return 0;
		out[n++] = (char)ch;
	}
	return n;
}

enum auth_result auth_request(const struct auth_set *s, const char *bearer, size_t bearer_len,
			      const char *query, size_t query_len)
{
	char tok[AUTH_TOKEN_MAX];
	size_t n;
	bool ok;

	if (bearer)
		return auth_match(s, bearer, bearer_len) ? AUTH_OK : AUTH_BAD;
	if (!query)
		return AUTH_NONE;
	n = pct_decode(tok, query, query_len);
	ok = n && auth_match(s, tok, n);
	explicit_bzero(tok, sizeof tok);
	return ok ? AUTH_OK : AUTH_BAD;
}

const char *auth_result_name(enum auth_result r)
{
	switch (r) {
	case AUTH_OK:
		return "token accepted";
	case AUTH_NONE:
		return "no token";
	case AUTH_BAD:
		return "bad token";
	}
	return "?";
}
