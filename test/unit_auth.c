/* SPDX-License-Identifier: MIT */
/*
 * unit_auth.c: cases for auth.c: the token file's grammar (comments, blank
 * lines, CRLF, whitespace, a bad line and its number, an overlong token, an
 * empty file, the first token for the client), matching against the
 * digests, the token= query value's decoding, the file read from disk, and
 * that the time a match takes does not depend on how much of a stored
 * token the candidate shares (skipped under an emulator). The harness is
 * unit.c's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../auth.h"
#include "unit.h"

#define S(lit) lit, sizeof lit - 1

/* A set parsed from text under a fixed key; 0 or -1 as auth_parse. */
static int parse(struct auth_set *s, const char *text, size_t len, unsigned *line)
{
	const char *why = NULL;

	memset(s, 0, sizeof *s);
	memset(s->key, 0x5a, sizeof s->key);
	int r = auth_parse(s, text, len, line, &why);
	CHECK(r == 0 || why != NULL);
	return r;
}

static bool has(const struct auth_set *s, const char *tok)
{
	return auth_match(s, tok, strlen(tok));
}

static void file_grammar(void)
{
	static const char text[] =
		"# the operators' tokens\r\n"
		"\r\n"
		"  alpha  \r\n"
		"\tbeta\t\n"
		"   # indented comment\n"
		"gamma+/=~!\n"
		"\n"
		"delta";             /* no newline at the end */
	struct auth_set s;
	unsigned line = 99;

	CHECK(parse(&s, S(text), &line) == 0 && line == 0);
	CHECK(s.n == 4);
	CHECK(has(&s, "alpha") && has(&s, "beta") && has(&s, "gamma+/=~!") && has(&s, "delta"));
	CHECK(!has(&s, "alph") && !has(&s, "alphaa") && !has(&s, " alpha"));
	CHECK(!has(&s, "# the operators' tokens") && !has(&s, "alpha\r") && !has(&s, ""));
	auth_set_free(&s);
	CHECK(s.digest == NULL && s.n == 0);
}

static void file_errors(void)
{
	struct auth_set s;
	unsigned line;
	char big[AUTH_TOKEN_MAX + 3];

	CHECK(parse(&s, S("good\nbad token\n"), &line) < 0 && line == 2 && !s.digest);
	CHECK(parse(&s, S("# c\n\nok\nctl\x01x\n"), &line) < 0 && line == 4);
	CHECK(parse(&s, S("ok\nnul\0x\n"), &line) < 0 && line == 2);
	CHECK(parse(&s, S("caf\xc3\xa9\n"), &line) < 0 && line == 1);
	/* Empty, or only comments and blanks: no token is an error. */
	CHECK(parse(&s, S(""), &line) < 0 && line == 0);
	CHECK(parse(&s, S("# none\n\n  \r\n"), &line) < 0 && line == 0);

	/* 512 characters is the longest token; 513 is refused. */
	memset(big, 'x', AUTH_TOKEN_MAX);
	big[AUTH_TOKEN_MAX] = '\n';
	CHECK(parse(&s, big, AUTH_TOKEN_MAX + 1, &line) == 0 && s.n == 1);
	big[AUTH_TOKEN_MAX] = '\0';
	CHECK(has(&s, big));
	auth_set_free(&s);
	memset(big, 'x', AUTH_TOKEN_MAX + 1);
	big[AUTH_TOKEN_MAX + 1] = '\n';
	CHECK(parse(&s, big, AUTH_TOKEN_MAX + 2, &line) < 0 && line == 1);
}

static void file_token_cap(void)
{
	size_t n = AUTH_TOKENS_MAX + 1, len = 0;
	char *text = malloc(n * 7 + 1);
	struct auth_set s;
	unsigned line;

	if (!text) {
		CHECK(text != NULL);
		return;
	}
	for (size_t i = 0; i < n - 1; i++)
		len += (size_t)sprintf(text + len, "t%05zu\n", i);
	CHECK(parse(&s, text, len, &line) == 0 && s.n == AUTH_TOKENS_MAX);
	CHECK(has(&s, "t00000") && has(&s, "t09999") && !has(&s, "t10000"));
	auth_set_free(&s);
	len += (size_t)sprintf(text + len, "t%05zu\n", n - 1);
	CHECK(parse(&s, text, len, &line) < 0 && line == AUTH_TOKENS_MAX + 1);
	free(text);
}

static void first_token(void)
{
	char out[AUTH_TOKEN_MAX + 1];
	unsigned line;
	const char *why;

	CHECK(auth_first(out, S("# mine\r\n\r\n  s3cret  \r\nother\n"), &line, &why) == 6);
	CHECK(!strcmp(out, "s3cret"));
	CHECK(auth_first(out, S("\n# only a comment\n"), &line, &why) == 0 && line == 0);
	CHECK(auth_first(out, S("\n\nt w o\n"), &line, &why) == 0 && line == 3);
	CHECK(auth_first(out, S(""), &line, &why) == 0);
}

/* Different keys give different digests; one key matches the same way twice. */
static void keyed(void)
{
	struct auth_set a, b;
	unsigned line;

	CHECK(parse(&a, S("tok\n"), &line) == 0);
	CHECK(parse(&b, S("tok\n"), &line) == 0);
	CHECK(!memcmp(a.digest[0], b.digest[0], SHA1_LEN));
	b.key[0] ^= 1;
	CHECK(!has(&b, "tok"));
	auth_set_free(&a);
	auth_set_free(&b);
	/* An empty set admits no one. */
	CHECK(!has(&a, "tok") && !has(&a, ""));
}

static void request_token(void)
{
	struct auth_set s;
	unsigned line;

	CHECK(parse(&s, S("a+b/c=\nx%y\nsp\n"), &line) == 0);
	CHECK(auth_request(&s, NULL, 0, NULL, 0) == AUTH_NONE);
	CHECK(auth_request(&s, S("a+b/c="), NULL, 0) == AUTH_OK);
	CHECK(auth_request(&s, S("nope"), NULL, 0) == AUTH_BAD);
	/* The header wins over the query, even when only the query is right. */
	CHECK(auth_request(&s, S("nope"), S("sp")) == AUTH_BAD);
	CHECK(auth_request(&s, S("sp"), S("nope")) == AUTH_OK);
	CHECK(auth_request(&s, S(""), NULL, 0) == AUTH_BAD);
	/* The query is percent-decoded; '+' stays '+'. */
	CHECK(auth_request(&s, NULL, 0, S("sp")) == AUTH_OK);
	CHECK(auth_request(&s, NULL, 0, S("%73%70")) == AUTH_OK);
	CHECK(auth_request(&s, NULL, 0, S("a+b%2Fc%3d")) == AUTH_OK);
	CHECK(auth_request(&s, NULL, 0, S("a%2Bb/c=")) == AUTH_OK);
	CHECK(auth_request(&s, NULL, 0, S("x%25y")) == AUTH_OK);
	CHECK(auth_request(&s, NULL, 0, S("x%y")) == AUTH_BAD);   /* malformed */
	CHECK(auth_request(&s, NULL, 0, S("sp%")) == AUTH_BAD);
	CHECK(auth_request(&s, NULL, 0, S("sp%7")) == AUTH_BAD);
	CHECK(auth_request(&s, NULL, 0, S("%zzsp")) == AUTH_BAD);
	CHECK(auth_request(&s, NULL, 0, S("")) == AUTH_BAD);
	auth_set_free(&s);
}

/* 512 decoded characters fit; one more does not, as an escape or not. */
static void request_long(void)
{
	static char q[3 * (AUTH_TOKEN_MAX + 1)], file[AUTH_TOKEN_MAX + 2];
	struct auth_set s;
	unsigned line;

	memset(file, 'k', AUTH_TOKEN_MAX);
	file[AUTH_TOKEN_MAX] = '\n';
	CHECK(parse(&s, file, AUTH_TOKEN_MAX + 1, &line) == 0);
	for (size_t i = 0; i < AUTH_TOKEN_MAX; i++)
		memcpy(q + 3 * i, "%6b", 3);
	CHECK(auth_request(&s, NULL, 0, q, 3 * AUTH_TOKEN_MAX) == AUTH_OK);
	memcpy(q + 3 * AUTH_TOKEN_MAX, "%6b", 3);
	CHECK(auth_request(&s, NULL, 0, q, 3 * (AUTH_TOKEN_MAX + 1)) == AUTH_BAD);
	memset(q, 'k', AUTH_TOKEN_MAX + 1);
	CHECK(auth_request(&s, NULL, 0, q, AUTH_TOKEN_MAX + 1) == AUTH_BAD);
	CHECK(auth_request(&s, q, AUTH_TOKEN_MAX + 1, NULL, 0) == AUTH_BAD);
	auth_set_free(&s);
}

/* The file, from disk: loads, and every error leaves the old set alone. */
static void load_file(void)
{
	char path[] = "/tmp/vpngw-unit-auth-XXXXXX";
	int fd = mkstemp(path);
	struct auth_set s = { .n = 0 }, keep;
	char out[AUTH_TOKEN_MAX + 1];

	if (fd < 0) {
		CHECK(fd >= 0);
		return;
	}
	CHECK(write(fd, S("# t\none\ntwo\n")) == 12);
	CHECK(auth_load(&s, path, false) == 0 && s.n == 2 && has(&s, "two"));
	CHECK(auth_first_file(out, path) == 3 && !strcmp(out, "one"));
	keep = s;
	/* Each error prints its line on stderr, as it would for a user. */
	CHECK(write(fd, S("t h r e e\n")) == 10);
	CHECK(auth_load(&s, path, false) < 0 && s.digest == keep.digest && s.n == 2);
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(auth_load(&s, path, false) < 0 && s.digest == keep.digest);
	CHECK(auth_first_file(out, path) == 0);
	CHECK(ftruncate(fd, AUTH_FILE_MAX + 1) == 0);
	CHECK(auth_load(&s, path, false) < 0 && s.digest == keep.digest);
	CHECK(auth_load(&s, "/tmp", true) < 0 && s.digest == keep.digest);
	unlink(path);
	CHECK(auth_load(&s, path, false) < 0 && s.digest == keep.digest);
	CHECK(auth_first_file(out, path) == 0);
	close(fd);
	auth_set_free(&s);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define ROUNDS 2001
#define BATCH  16

/*
 * A match against a set of one 512-character token takes as long for a
 * candidate that shares none of its characters as for one that shares 511
 * of them. The two are timed interleaved, in batches, and their medians
 * compared: an early-exit comparison of the raw tokens would make the
 * second many times slower than the first; 10% covers the noise of a busy
 * machine.
 */
static void match_time_flat(void)
{
	static char file[AUTH_TOKEN_MAX + 1], near[AUTH_TOKEN_MAX], far[AUTH_TOKEN_MAX];
	static uint64_t t_near[ROUNDS], t_far[ROUNDS];
	struct auth_set s;
	unsigned line, hits = 0;

	if (unit_emulated()) {
		unit_skip("emulated (VPNGW_UNIT_EMULATED=1): its timings say nothing");
		return;
	}
	for (size_t i = 0; i < AUTH_TOKEN_MAX; i++)
		file[i] = (char)('!' + i % 90);
	file[AUTH_TOKEN_MAX] = '\n';
	CHECK(parse(&s, file, sizeof file, &line) == 0);
	memcpy(near, file, AUTH_TOKEN_MAX);
	near[AUTH_TOKEN_MAX - 1] = '~';      /* 511 shared, the last differs */
	memset(far, '~', AUTH_TOKEN_MAX);    /* none shared */
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < BATCH; i++)
			hits += auth_match(&s, r & 1 ? far : near, AUTH_TOKEN_MAX);
		uint64_t t1 = now_ns();
		for (int i = 0; i < BATCH; i++)
			hits += auth_match(&s, r & 1 ? near : far, AUTH_TOKEN_MAX);
		uint64_t t2 = now_ns();
		t_near[r] = r & 1 ? t2 - t1 : t1 - t0;
		t_far[r] = r & 1 ? t1 - t0 : t2 - t1;
	}
	CHECK(hits == 0);
	qsort(t_near, ROUNDS, sizeof t_near[0], cmp_u64);
	qsort(t_far, ROUNDS, sizeof t_far[0], cmp_u64);
	uint64_t mn = t_near[ROUNDS / 2], mf = t_far[ROUNDS / 2];
	CHECK(mn * 10 <= mf * 11 && mf * 10 <= mn * 11);
	if (!(mn * 10 <= mf * 11 && mf * 10 <= mn * 11))
		fprintf(stderr, "  median of %d matches: %llu ns sharing 511, %llu ns sharing 0\n",
			BATCH, (unsigned long long)mn, (unsigned long long)mf);
	auth_set_free(&s);
}

const struct unit_case unit_auth[] = {
	{ "auth_file_grammar", file_grammar },
	{ "auth_file_errors", file_errors },
	{ "auth_file_token_cap", file_token_cap },
	{ "auth_first_token", first_token },
	{ "auth_keyed", keyed },
	{ "auth_request_token", request_token },
	{ "auth_request_long", request_long },
	{ "auth_load_file", load_file },
	{ "auth_match_time_flat", match_time_flat },
	{ NULL, NULL },
};
