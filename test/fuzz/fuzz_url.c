/* SPDX-License-Identifier: MIT */
/*
 * fuzz_url.c: libFuzzer target for ws_url_parse of ws.c. The input is the
 * URL, read in place (libFuzzer's buffer is exactly its length, so ASan
 * sees any read past it). A URL it accepts has a host, a port and a path
 * that starts with '/', all NUL-terminated inside their arrays; and the
 * URL put back together from what it reported parses to the same thing.
 * The ws.c of the frame and upgrade targets is the one under test here.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "../../base64.c"
#include "../../nat.c"
#include "../../sha1.c"
#include "../../ws.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ws_url a, b;
static char again[16 + sizeof a.hosthdr + sizeof a.path];

static void well_formed(const struct ws_url *u)
{
	size_t hl = strnlen(u->host, sizeof u->host);
	size_t hh = strnlen(u->hosthdr, sizeof u->hosthdr);
	size_t pl = strnlen(u->path, sizeof u->path);

	assert(hl > 0 && hl <= WS_URL_HOST_MAX);
	assert(hh >= hl && hh < sizeof u->hosthdr && strstr(u->hosthdr, u->host));
	assert(pl > 0 && pl <= WS_URL_PATH_MAX && u->path[0] == '/');
	assert(u->port > 0);
	for (size_t i = 0; i < pl; i++)
		assert(u->path[i] > ' ' && u->path[i] < 0x7f && u->path[i] != '#');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *why = ws_url_parse(&a, s, size);
	size_t n;

	if (why) {
		assert(why[0] && strlen(why) < 80 && !strchr(why, '\n'));
		return 0;
	}
	well_formed(&a);
	/* hosthdr is the authority as written, right after the scheme. */
	n = strlen(a.hosthdr);
	assert(size >= (a.tls ? 6 : 5) + n);
	assert(memcmp(s + (a.tls ? 6 : 5), a.hosthdr, n) == 0);

	/* scheme://hosthdr path is the same URL. */
	n = (size_t)snprintf(again, sizeof again, "%s://%s%s", a.tls ? "wss" : "ws",
	                     a.hosthdr, a.path);
	assert(n < sizeof again);
	why = ws_url_parse(&b, again, n);
	assert(why == NULL);
	assert(a.tls == b.tls && a.port == b.port);
	assert(strcmp(a.host, b.host) == 0 && strcmp(a.hosthdr, b.hosthdr) == 0);
	assert(strcmp(a.path, b.path) == 0);
	return 0;
}
