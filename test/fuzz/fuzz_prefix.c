/* SPDX-License-Identifier: MIT */
/*
 * fuzz_prefix.c: libFuzzer target for nat_prefix_parse of nat.c, the one
 * parser of IPv4 addresses and prefixes, and the two built on it. The input
 * is read in place (libFuzzer's buffer is exactly its length). The grammar
 * has one spelling per value, so an accepted input is exactly what
 * formatting its value gives back; nat_cidr_parse of the same text as a C
 * string agrees and clears the host bits; nat_ifaddr_parse accepts exactly
 * the "A/LEN" forms that nat_host_ok allows.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "../../nat.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	bool slash = memchr(s, '/', size) != NULL;
	uint32_t addr = 0, a2 = 0;
	unsigned prefix = 0, p2 = 0;
	int rc = nat_prefix_parse(s, size, &addr, &prefix);
	int rc_if = nat_ifaddr_parse(s, size, &a2, &p2);
	char back[32];

	assert(rc == 0 || rc == -1);
	assert(rc_if == (rc == 0 && slash && nat_host_ok(addr, prefix) ? 0 : -1));
	if (rc_if == 0)
		assert(a2 == addr && p2 == prefix);

	/* As a C string: the same verdict, the same prefix without host bits. */
	if (!memchr(s, '\0', size) && size < sizeof back) {
		struct nat_cidr c;

		memcpy(back, s, size);
		back[size] = '\0';
		assert((nat_cidr_parse(&c, back) == 0) == (rc == 0));
		if (rc == 0) {
			uint32_t m = prefix ? 0xffffffffu << (32 - prefix) : 0;

			assert(c.mask == m && c.addr == (addr & m) && (c.addr & ~c.mask) == 0);
		}
	}
	if (rc < 0)
		return 0;

	/* One spelling per value: the input is its own canonical form. */
	assert(prefix <= 32);
	int n = snprintf(back, sizeof back, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
	                 (addr >> 8) & 0xff, addr & 0xff);
	if (slash)
		n += snprintf(back + n, sizeof back - (size_t)n, "/%u", prefix);
	else
		assert(prefix == 32);
	assert((size_t)n == size && memcmp(back, s, size) == 0);
	return 0;
}
