/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dbus.c: a libFuzzer target for what dns.c reads from the system
 * bus and from resolv.conf. Each input is what the bus could send (one
 * read, several messages back to back): dbus_hdr_parse walks it message by
 * message, and every length it reports stays inside the input, with the
 * error name and text it points at NUL-terminated inside their message.
 * The same bytes, NUL-terminated, are a bus address (dbus_addr_path: a
 * socket path inside its array, or -1) and a resolv.conf
 * (dns_resolved_stub). Building and running it is test/fuzz/run.sh's job.
 */
#include <assert.h>

#include "../../log.c"
#include "../../nat.c"
#include "../../dbus.c"
#include "../../dns.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* s points inside m (len bytes) and ends there. */
static void inside(const char *s, const uint8_t *m, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;

	assert(p >= m && p < m + len);
	assert(memchr(p, 0, len - (size_t)(p - m)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *m = copy(data, size);
	char *text = malloc(size + 1), path[108];
	size_t at = 0;
	struct dbus_hdr h;
	long r;

	assert(text);
	while ((r = dbus_hdr_parse(m + at, size - at, &h)) > 0) {
		assert(r >= 16 && (size_t)r <= size - at && r <= DBUS_MSG_MAX);
		if (h.error_name)
			inside(h.error_name, m + at, (size_t)r);
		if (h.error_text)
			inside(h.error_text, m + at, (size_t)r);
		at += (size_t)r;
	}
	assert(r == 0 || r == -1);
	memcpy(text, data, size);
	text[size] = 0;
	r = dbus_addr_path(text, path, sizeof path);
	assert(r == -1 || (r >= 2 && (size_t)r <= sizeof path));
	(void)dns_resolved_stub(text, size);
	free(text);
	free(m);
	return 0;
}
