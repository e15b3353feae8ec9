/* SPDX-License-Identifier: MIT */
/*
 * fuzz_nat.c: a libFuzzer target for nat.c, which it #includes so that its
 * static helpers are at hand. Each input is one packet. Copies of it, each in
 * a buffer of exactly its size so that ASan sees any overrun, go through
 * nat_check, nat_out (to a roomy table and to a full one) and nat_in, on
 * tables that already hold mappings. It asserts what must hold for any
 * bytes: the length field never changes, a dropped packet is left as it
 * was, a valid header stays valid, and out then back restores the addresses.
 * Short inputs are also parsed as a CIDR string.
 * Building and running it is test/fuzz/run.sh's job and the Makefile's.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../../nat.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Client addresses the tables start with (host order). */
static const uint32_t premapped[] = {
	0x0a000002, 0xc0a80164, 0x01020304, 0x00000000, 0xac140001,
};

static void table(struct nat *n, unsigned prefix, unsigned count, uint16_t mss)
{
	nat_init(n, 0x0a006400, prefix, mss);   /* 10.0.100.0 */
	for (unsigned i = 0; i < count && i < n->cap; i++) {
		n->orig[i] = to_net(premapped[i]);
		n->mapped[i] = to_net(n->first + i);
		n->n++;
	}
}

/* The length field, when there is one, is never rewritten. */
static void same_length(const uint8_t *p, const uint8_t *data, size_t size)
{
	if (size >= 4)
		assert(memcmp(p + 2, data + 2, 2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nat_acl acl;
	static int ready;
	struct nat n, full;
	enum drop valid, r;
	uint8_t *p, a[4];

	if (!ready) {
		nat_acl_init(&acl);
		ready = 1;
	}
	table(&n, 24, 4, 1200);
	table(&full, 29, 5, 0);
	valid = nat_check(data, size);
	assert(valid == DROP_NONE || valid == DROP_MALFORMED ||
	       valid == DROP_CHECKSUM || valid == DROP_IPV6);

	/* Client -> Internet, then the reply back through the same table. */
	p = copy(data, size);
	r = nat_out(&n, &acl, p, size);
	assert(r == DROP_NONE || r == DROP_MALFORMED || r == DROP_DENIED ||
	       r == DROP_MAP_FULL);
	same_length(p, data, size);
	if (r != DROP_NONE) {
		assert(size == 0 || memcmp(p, data, size) == 0);
	} else {
		if (valid == DROP_NONE)
			assert(nat_check(p, size) == DROP_NONE);
		/* Swapping the addresses keeps every checksum valid. */
		memcpy(a, p + 12, 4);
		memcpy(p + 12, p + 16, 4);
		memcpy(p + 16, a, 4);
		assert(nat_in(&n, p, size) == DROP_NONE);
		assert(memcmp(p + 16, data + 12, 4) == 0);
		assert(memcmp(p + 12, data + 16, 4) == 0);
		if (valid == DROP_NONE)
			assert(nat_check(p, size) == DROP_NONE);
		same_length(p, data, size);
	}
	free(p);

	/* A table with no room left. */
	p = copy(data, size);
	r = nat_out(&full, &acl, p, size);
	assert(r != DROP_NOT_MAPPED);
	if (r != DROP_NONE)
		assert(size == 0 || memcmp(p, data, size) == 0);
	same_length(p, data, size);
	free(p);

	/* Internet -> client. */
	p = copy(data, size);
	r = nat_in(&n, p, size);
	assert(r == DROP_NONE || r == DROP_MALFORMED || r == DROP_NOT_MAPPED);
	if (r != DROP_NONE)
		assert(size == 0 || memcmp(p, data, size) == 0);
	else if (valid == DROP_NONE)
		assert(nat_check(p, size) == DROP_NONE);
	same_length(p, data, size);
	free(p);

	/* As a command-line CIDR: a parsed prefix has no host bits. */
	if (size < 32) {
		struct nat_cidr c;
		char s[32];

		memcpy(s, data, size);
		s[size] = '\0';
		if (nat_cidr_parse(&c, s) == 0)
			assert((c.addr & ~c.mask) == 0);
	}
	return 0;
}
