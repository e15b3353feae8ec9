/* SPDX-License-Identifier: MIT */
/*
 * fuzz_base64.c: libFuzzer target for base64.c, which reads the
 * Sec-WebSocket-Key of every upgrade and the client's --pin. The input is
 * decoded as base64 and encoded as bytes. Canonical padded base64 has one
 * spelling per value, so whatever decodes is exactly the encoding of what
 * it decoded to; encode -> decode gives the input back; and a buffer one
 * byte too small is refused, never overrun.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../../base64.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 4096

static char enc[BASE64_LEN(MAX) + 1];
static uint8_t dec[MAX + 3];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long n;

	if (size > MAX)
		return 0;

	/* As text: what decodes encodes back to the same characters. */
	n = base64_decode(dec, sizeof dec, (const char *)data, size);
	assert(n >= -1 && n <= (long)(size / 4 * 3));
	if (n >= 0) {
		assert(size % 4 == 0 && BASE64_LEN((size_t)n) == size);
		assert(base64_encode(enc, dec, (size_t)n) == size);
		assert(memcmp(enc, data, size) == 0 && enc[size] == '\0');
		/* Into an exact buffer, and one byte short of it. */
		uint8_t *exact = malloc(n ? (size_t)n : 1);
		assert(base64_decode(exact, (size_t)n, (const char *)data, size) == n);
		assert(n == 0 || memcmp(exact, dec, (size_t)n) == 0);
		if (n > 0)
			assert(base64_decode(exact, (size_t)n - 1, (const char *)data, size) == -1);
		free(exact);
	}

	/* As bytes: encode -> decode is the identity. */
	size_t e = base64_encode(enc, data, size);
	assert(e == BASE64_LEN(size) && strlen(enc) == e);
	n = base64_decode(dec, size, enc, e);
	assert(n == (long)size && (size == 0 || memcmp(dec, data, size) == 0));
	return 0;
}
