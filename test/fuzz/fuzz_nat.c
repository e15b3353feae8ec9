/* SPDX-License-Identifier: MIT */
/*
 * fuzz_nat.c: a libFuzzer target for nat.c, which it #includes so that its
 * static helpers are at hand. Each input is one packet. Copies of it, each in
 * a buffer of exactly its size so that ASan sees any overrun, go through
 * nat_check, nat_out (to a roomy table and to a full one) and nat_in, on
 * tables that already hold mappings. It asserts what must hold for any
 * bytes: the length field never changes, a dropped packet is left as it
 * was, a valid header stays valid, and out then back restores the addresses.
 * IPv6 goes the same way through tables with nat_init6, and also with its
 * version and payload length made right, so that most inputs reach the
 * extension headers; a TCP, UDP or ICMPv6 checksum that was right stays
 * right, and a table without IPv6 answers DROP_IPV6 leaving the bytes alone.
 * Short inputs are also parsed as a CIDR string and an IPv6 prefix.
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

/* IPv6 client addresses the tables start with, and the slot prefix. */
static const uint8_t premapped6[][16] = {
	{ 0xfd, 0, 0, 0x99, [15] = 5 },
	{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	{ 0 },
	{ [15] = 1 },
};
static const uint8_t prefix6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 7 };

static void table(struct nat *n, unsigned prefix, unsigned count, uint16_t mss)
{
	nat_init(n, 0x0a006400, prefix, mss);   /* 10.0.100.0 */
	for (unsigned i = 0; i < count && i < n->cap; i++) {
		n->orig[i] = to_net(premapped[i]);
		n->mapped[i] = to_net(n->first + i);
		n->n++;
	}
}

/* An IPv6 table: count6 premapped sources, the budget shared with IPv4's. */
static void table6(struct nat *n, unsigned prefix, unsigned count, unsigned count6,
                   unsigned len6, uint16_t mss)
{
	table(n, prefix, count, mss);
	assert(nat_init6(n, prefix6, len6) == 0);
	for (unsigned i = 0; i < count6 && i < n->cap6; i++)
		memcpy(n->orig6[n->n6++], premapped6[i], 16);
}

/*
 * Whether p[0..len)'s TCP, UDP or ICMPv6 checksum is right: 1 or 0, or -1
 * when there is none to judge (not a whole packet nat_check6 takes).
 */
static int l4_right6(const uint8_t *p, size_t len)
{
	size_t at;
	uint8_t proto, b[4];
	bool later, frag;
	uint64_t sum;

	if (nat_check6(p, len) != DROP_NONE || walk6(p, len, &at, &proto, &later, &frag) < 0 ||
	    frag || (proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_ICMP6))
		return -1;
	put16(b, 0);
	b[2] = 0;
	b[3] = proto;
	sum = nat_sum(0, p + 8, 32);
	sum = nat_sum(sum, b, 4);
	put16(b, (uint16_t)(len - at));
	sum = nat_sum(sum, b, 2);
	sum = nat_sum(sum, p + at, len - at);
	return nat_fold(sum) == 0xffff;
}

/* The IPv6 half: p[0..size) has version 6. */
static void v6(const uint8_t *data, size_t size, const struct nat_acl *acl)
{
	struct nat n, full, off;
	enum drop valid, r;
	uint8_t *p, a[16];
	int right = l4_right6(data, size);

	table6(&n, 24, 3, 3, 64, 1220);
	table6(&full, 24, 5, 4, 64, 0);
	while (full.n + full.n6 < NAT_MAX_MAP) {
		memset(full.orig6[full.n6], 0, 16);
		full.orig6[full.n6][0] = 0x26;
		full.orig6[full.n6][15] = (uint8_t)full.n6;
		full.n6++;
	}
	table6(&off, 24, 0, 0, 126, 1500);
	off.n6 = 1;
	memcpy(off.orig6[0], premapped6[1], 16);
	valid = nat_check6(data, size);
	assert(valid == DROP_NONE || valid == DROP_MALFORMED);
	assert(nat_check_slot(&n, data, size) == valid);

	/* Client -> Internet, then back through the same table. */
	p = copy(data, size);
	r = nat_out(&n, acl, p, size);
	assert(r == DROP_NONE || r == DROP_MALFORMED || r == DROP_DENIED ||
	       r == DROP_MAP_FULL);
	assert(r == DROP_MALFORMED ? valid == DROP_MALFORMED : valid == DROP_NONE);
	if (size >= 6)
		assert(memcmp(p + 4, data + 4, 2) == 0);
	if (r != DROP_NONE) {
		assert(memcmp(p, data, size) == 0);
	} else {
		assert(nat_check6(p, size) == DROP_NONE);
		if (right == 1)
			assert(l4_right6(p, size) == 1);
		memcpy(a, p + 8, 16);
		memcpy(p + 8, p + 24, 16);
		memcpy(p + 24, a, 16);
		assert(nat_in(&n, p, size) == DROP_NONE);
		assert(memcmp(p + 24, data + 8, 16) == 0);
		assert(memcmp(p + 8, data + 24, 16) == 0);
		assert(nat_check6(p, size) == DROP_NONE);
		if (right == 1)
			assert(l4_right6(p, size) == 1);
	}
	free(p);

	/* A table with no room left, and a /126 with room for one more. */
	p = copy(data, size);
	r = nat_out(&full, acl, p, size);
	assert(r != DROP_NOT_MAPPED && r != DROP_IPV6);
	assert(full.n + full.n6 == NAT_MAX_MAP);
	if (r != DROP_NONE)
		assert(memcmp(p, data, size) == 0);
	free(p);
	p = copy(data, size);
	r = nat_out(&off, acl, p, size);
	if (r == DROP_NONE)
		assert(off.n6 <= 2 && (p[23] == 2 || p[23] == 3));
	else
		assert(memcmp(p, data, size) == 0);
	free(p);

	/* Internet -> client. */
	p = copy(data, size);
	r = nat_in(&n, p, size);
	assert(r == DROP_NONE || r == DROP_MALFORMED || r == DROP_NOT_MAPPED);
	if (r != DROP_NONE) {
		assert(memcmp(p, data, size) == 0);
	} else {
		assert(valid == DROP_NONE && nat_check6(p, size) == DROP_NONE);
		if (right == 1)
			assert(l4_right6(p, size) == 1);
	}
	free(p);

	/* No nat_init6: DROP_IPV6 whatever the bytes, and nothing touched. */
	table(&off, 24, 2, 1400);
	p = copy(data, size);
	assert(nat_check_slot(&off, p, size) == DROP_IPV6);
	assert(nat_out(&off, acl, p, size) == DROP_IPV6);
	assert(nat_in(&off, p, size) == DROP_IPV6);
	assert(memcmp(p, data, size) == 0);
	free(p);
	(void)nat_flow(data, size);
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
		struct nat_cidr6 c;

		nat_acl_init(&acl);
		assert(nat_cidr6_parse(&c, "2001:db8::/32") == 0);
		assert(nat_acl_allow6(&acl, c) == 0);
		ready = 1;
	}
	if (size >= 1 && data[0] >> 4 == 6)
		v6(data, size, &acl);
	/* The same bytes as an IPv6 packet with the right version and length. */
	if (size >= 40 && size - 40 <= 0xffff) {
		p = copy(data, size);
		p[0] = (uint8_t)(0x60 | (p[0] & 15));
		put16(p + 4, (uint16_t)(size - 40));
		v6(p, size, &acl);
		free(p);
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
	       r == DROP_MAP_FULL || (r == DROP_IPV6 && valid == DROP_IPV6));
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
	assert(r == DROP_NONE || r == DROP_MALFORMED || r == DROP_NOT_MAPPED ||
	       (r == DROP_IPV6 && valid == DROP_IPV6));
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
	/* As an IPv6 prefix: host bits clear, and the text form reads back. */
	if (size < 64) {
		struct nat_cidr6 c6, c7;
		char s[64], out[NAT_ADDR6_LEN];
		uint8_t b[16];
		unsigned len;

		memcpy(s, data, size);
		s[size] = '\0';
		if (nat_cidr6_parse(&c6, s) == 0) {
			assert(c6.len <= 128);
			memcpy(b, c6.addr, 16);
			mask6(b, c6.len);
			assert(memcmp(b, c6.addr, 16) == 0);
			nat_addr6_format(out, c6.addr);
			assert(nat_cidr6_parse(&c7, out) == 0 && c7.len == 128 &&
			       memcmp(c7.addr, c6.addr, 16) == 0);
		}
		if (nat_prefix6_parse((const char *)data, size, b, &len) == 0)
			assert(len <= 128);
	}
	return 0;
}
