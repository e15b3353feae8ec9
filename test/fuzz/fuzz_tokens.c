/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tokens.c: libFuzzer target for auth.c's token file parser and its
 * token= decoding. The input is read in place, as a token file and as a
 * query value. Properties: a file that parses holds 1..AUTH_TOKENS_MAX
 * tokens, the first of which auth_first returns and the set matches, and
 * every line split here by the file's rules that holds a token matches; a
 * refused file leaves no digest and names a line that exists. The query
 * value, decoded here independently, is AUTH_OK exactly when that decoding
 * is a token of the set (never, for the empty set of a refused file).
 */
#include <assert.h>
#include <string.h>

#include "../../auth.c"
#include "../../log.c"
#include "../../nat.c"
#include "../../sha1.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char first[AUTH_TOKEN_MAX + 1];

static bool ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Every token line matches: split by '\n', trimmed, comments skipped. */
static void lines_match(const struct auth_set *s, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t b = i, e;
		while (i < len && p[i] != '\n')
			i++;
		e = i++;
		while (b < e && ws(p[b]))
			b++;
		while (e > b && ws(p[e - 1]))
			e--;
		if (b < e && p[b] != '#')
			assert(auth_match(s, p + b, e - b));
	}
}

static int xval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The query's decoding, written again: -1 if malformed or too long. */
static long decode(char *out, const char *in, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++, n++) {
		if (n >= AUTH_TOKEN_MAX)
			return -1;
		if (in[i] != '%') {
			out[n] = in[i];
			continue;
		}
		if (i + 2 >= len || xval(in[i + 1]) < 0 || xval(in[i + 2]) < 0)
			return -1;
		out[n] = (char)(xval(in[i + 1]) * 16 + xval(in[i + 2]));
		i += 2;
	}
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct auth_set s = { .n = 0 };
	unsigned line = 0, nl = 0;
	const char *why = NULL;
	static char dec[AUTH_TOKEN_MAX];

	for (size_t i = 0; i < size; i++)
		nl += p[i] == '\n';
	memset(s.key, size & 0xff, sizeof s.key);
	if (auth_parse(&s, p, size, &line, &why) < 0) {
		assert(why && !s.digest && line <= nl + 1);
		assert(!auth_first(first, p, size, &line, &why) || line == 0);
		assert(auth_request(&s, NULL, 0, p, size) == AUTH_BAD);
		return 0;
	}
	assert(s.n >= 1 && s.n <= AUTH_TOKENS_MAX && line == 0);
	size_t fl = auth_first(first, p, size, &line, &why);
	assert(fl >= 1 && fl <= AUTH_TOKEN_MAX && strlen(first) == fl);
	assert(!auth_token_check(first, fl));
	assert(auth_match(&s, first, fl));
	lines_match(&s, p, size);

	long dl = decode(dec, p, size);
	enum auth_result r = auth_request(&s, NULL, 0, p, size);
	assert(r == ((dl > 0 && auth_match(&s, dec, (size_t)dl)) ? AUTH_OK : AUTH_BAD));
	assert(auth_request(&s, first, fl, p, size) == AUTH_OK);
	auth_set_free(&s);
	return 0;
}
