/* SPDX-License-Identifier: MIT */
/*
 * unit_nat.c: table-driven cases for nat.c: the RFC 1071 and RFC 1624
 * checksum examples, address and prefix parsing, the default destination filter, every
 * nat_check error, the mapping table's limits, MSS clamping, and a
 * randomized property test that runs thousands of generated packets through
 * nat_out and nat_in and checks every checksum against a full recomputation
 * done here, independently of nat.c (unit_gso.c's gso_nat_partial does the
 * same for super-packets and partial checksums). The nat6_ cases do the same
 * for IPv6: the prefix parser and formatter, the default IPv6 filter, every
 * nat_check6 refusal, the mapping budget both families share, ICMPv6 errors,
 * MSS clamping, and the property test with extension headers and fragments.
 * The harness (CHECK, the runner) is unit.c's; the other pure files have
 * their own unit_*.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bytes.h"
#include "../nat.h"
#include "unit.h"

/* ---- Test-local helpers: reference checksum, PRNG ---- */

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

/* The plain RFC 1071 loop, one big-endian 16-bit word at a time. */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t ref_fin(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       proto + (uint32_t)len;
}

/* What a sender computes for buf[0..len) with the field at ck read as 0. */
static uint16_t ref_field(const uint8_t *buf, size_t len, size_t ck, uint32_t init)
{
	uint32_t sum = ref_sum(buf, len, init);

	/* Take the field's own word back out: sum - w == sum + ~w. */
	sum += (uint16_t)~get16(buf + ck);
	return ref_fin(sum);
}


static void rfill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)unit_rnd();
}

/* ---- Checksums ---- */

static void csum_rfc1071(void)
{
	/* RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	CHECK(nat_csum(b, sizeof b) == (uint16_t)~0xddf2);
	CHECK(nat_csum(b, 0) == 0xffff);
	CHECK(nat_csum(b, 1) == (uint16_t)~0x0000);
	CHECK(nat_csum(b + 2, 1) == (uint16_t)~0xf200);
}

/* Every length and alignment against the reference loop. */
static void csum_lengths(void)
{
	uint8_t buf[300];

	unit_seed(0x1071);
	for (int round = 0; round < 50; round++) {
		rfill(buf, sizeof buf);
		if (round == 0)
			memset(buf, 0xff, sizeof buf);
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len + off <= sizeof buf; len++)
				CHECK(nat_csum(buf + off, len) ==
				      ref_fin(ref_sum(buf + off, len, 0)));
	}
}

static void csum_rfc1624(void)
{
	/* RFC 1624 §4 (with §5's fix): HC 0xdd2f, m 0x5555 -> 0x3285 gives 0. */
	CHECK(nat_csum_update16(0xdd2f, 0x5555, 0x3285) == 0x0000);
	CHECK(nat_csum_update16(0x1234, 0xabcd, 0xabcd) == 0x1234);
	CHECK(nat_csum_update32(0xdd2f, 0x55550000, 0x32850000) == 0x0000);
	CHECK(nat_csum_update32(0xdd2f, 0x00005555, 0x00003285) == 0x0000);
}

/* Incremental updates equal a full recomputation, for 16 and 32-bit words. */
static void csum_incremental(void)
{
	uint8_t buf[64];

	unit_seed(0x1624);
	for (int i = 0; i < 20000; i++) {
		size_t len = 8 + 2 * unit_rn(28), w = 2 + 2 * unit_rn((unsigned)(len - 4) / 2);
		uint16_t c;
		uint32_t o32;

		rfill(buf, len);
		put16(buf, 0);
		put16(buf, ref_fin(ref_sum(buf, len, 0)));
		if (unit_rn(2)) {
			uint16_t o = get16(buf + w), nw = (uint16_t)unit_rnd();

			if (unit_rn(8) == 0)
				nw = (uint16_t)~o;
			put16(buf + w, nw);
			c = nat_csum_update16(get16(buf), o, nw);
		} else {
			if (w + 4 > len)
				w -= 2;
			o32 = get32(buf + w);
			uint32_t n32 = (uint32_t)unit_rnd();

			put32(buf + w, n32);
			c = nat_csum_update32(get16(buf), o32, n32);
		}
		CHECK(c == ref_field(buf, len, 0, 0));
	}
}

/* ---- CIDR and the filter ---- */

static const struct {
	const char *s;
	int ok;
	uint32_t addr, mask;
} cidr_cases[] = {
	{ "10.0.100.0/24", 0, 0x0a006400, 0xffffff00 },
	{ "10.0.100.77/24", 0, 0x0a006400, 0xffffff00 },
	{ "1.2.3.4", 0, 0x01020304, 0xffffffff },
	{ "1.2.3.4/32", 0, 0x01020304, 0xffffffff },
	{ "255.255.255.255/0", 0, 0, 0 },
	{ "0.0.0.0/0", 0, 0, 0 },
	{ "100.64.0.1/10", 0, 0x64400000, 0xffc00000 },
	{ "192.0.2.1/31", 0, 0xc0000200, 0xfffffffe },
	{ "", -1, 0, 0 },
	{ "1.2.3", -1, 0, 0 },
	{ "1.2.3.4.5", -1, 0, 0 },
	{ "1.2.3.256", -1, 0, 0 },
	{ "1.2.3.4/33", -1, 0, 0 },
	{ "1.2.3.4/", -1, 0, 0 },
	{ "1.2.3.4/-1", -1, 0, 0 },
	{ " 1.2.3.4", -1, 0, 0 },
	{ "1.2.3.4 ", -1, 0, 0 },
	{ "x1.2.3.4", -1, 0, 0 },
	{ "1.2.3.4/24x", -1, 0, 0 },
	{ "01.2.3.4", -1, 0, 0 },
	{ "1.2.3.4/024", -1, 0, 0 },
	{ "1..3.4", -1, 0, 0 },
	{ "1.2.3.4//24", -1, 0, 0 },
	{ "+1.2.3.4", -1, 0, 0 },
	{ "1.2.3.0x4", -1, 0, 0 },
	{ "1000.2.3.4", -1, 0, 0 },
	{ "1.2.3.4/100", -1, 0, 0 },
};

static void cidr_parse(void)
{
	for (size_t i = 0; i < sizeof cidr_cases / sizeof cidr_cases[0]; i++) {
		struct nat_cidr c = { 0xdead, 0xbeef };
		int r = nat_cidr_parse(&c, cidr_cases[i].s);

		if (r != cidr_cases[i].ok)
			fprintf(stderr, "  cidr \"%s\"\n", cidr_cases[i].s);
		CHECK(r == cidr_cases[i].ok);
		if (r == 0) {
			CHECK(c.addr == cidr_cases[i].addr);
			CHECK(c.mask == cidr_cases[i].mask);
		}
	}
}

/* The bits are kept; the grammar is nat_cidr_parse's, over (s, len). */
static const struct {
	const char *s;
	int ok;
	uint32_t addr;
	unsigned prefix;
} prefix_cases[] = {
	{ "10.0.100.77/24", 0, 0x0a00644d, 24 },
	{ "10.0.100.0/24", 0, 0x0a006400, 24 },
	{ "1.2.3.4", 0, 0x01020304, 32 },
	{ "255.255.255.255/0", 0, 0xffffffff, 0 },
	{ "0.0.0.0", 0, 0, 32 },
	{ "0.0.0.0/0", 0, 0, 0 },
	{ "192.0.2.1/31", 0, 0xc0000201, 31 },
	{ "203.0.113.250/9", 0, 0xcb0071fa, 9 },
	{ "", -1, 0, 0 },
	{ "/", -1, 0, 0 },
	{ "/24", -1, 0, 0 },
	{ "1", -1, 0, 0 },
	{ "1.", -1, 0, 0 },
	{ "1.2.3.", -1, 0, 0 },
	{ "1.2.3.4.", -1, 0, 0 },
	{ "1.2.3.4/", -1, 0, 0 },
	{ "1.2.3.4/0x1", -1, 0, 0 },
	{ "1.2.3.4/00", -1, 0, 0 },
	{ "1.2.3.4/33", -1, 0, 0 },
	{ "1.2.3.4/4294967328", -1, 0, 0 },
	{ "4294967297.0.0.1", -1, 0, 0 },
	{ "1.2.3.0004", -1, 0, 0 },
	{ "00.2.3.4", -1, 0, 0 },
	{ "1.2.3.4/24/24", -1, 0, 0 },
	{ "1.2.3.4\n", -1, 0, 0 },
	{ "1.2.3.4\t", -1, 0, 0 },
	{ "1.2.3.4/2 ", -1, 0, 0 },
	{ "-1.2.3.4", -1, 0, 0 },
	{ "1.2.3.-4", -1, 0, 0 },
	{ "::1", -1, 0, 0 },
	{ "1.2.3.4%eth0", -1, 0, 0 },
};

static void prefix_parse(void)
{
	for (size_t i = 0; i < sizeof prefix_cases / sizeof prefix_cases[0]; i++) {
		const char *s = prefix_cases[i].s;
		size_t len = strlen(s);
		uint32_t a = 0xdead;
		unsigned p = 99;
		int r = nat_prefix_parse(s, len, &a, &p);

		if (r != prefix_cases[i].ok)
			fprintf(stderr, "  prefix \"%s\"\n", s);
		CHECK(r == prefix_cases[i].ok);
		if (r == 0) {
			CHECK(a == prefix_cases[i].addr && p == prefix_cases[i].prefix);
		} else {
			CHECK(a == 0xdead && p == 99);
		}
		/* Each truncation, in a buffer of exactly its length (ASan sees a
		 * read past it), judged as the NUL-terminated copy is. */
		for (size_t k = 0; k <= len; k++) {
			char *cut = malloc(k ? k : 1), z[40];
			struct nat_cidr c;
			uint32_t a2;
			unsigned p2;

			memcpy(cut, s, k);
			memcpy(z, s, k);
			z[k] = '\0';
			CHECK((nat_prefix_parse(cut, k, &a2, &p2) == 0) == (nat_cidr_parse(&c, z) == 0));
			free(cut);
		}
	}
	/* The length bounds the read: the same bytes, more of them, differ. */
	uint32_t a;
	unsigned p;
	CHECK(nat_prefix_parse("10.0.0.1/8junk", 10, &a, &p) == 0 && a == 0x0a000001 && p == 8);
	CHECK(nat_prefix_parse("10.0.0.1/8junk", 11, &a, &p) == -1);
	CHECK(nat_prefix_parse("10.0.0.1/8junk", 9, &a, &p) == -1);
	CHECK(nat_prefix_parse("10.0.0.12", 8, &a, &p) == 0 && a == 0x0a000001 && p == 32);
	static const char nul[] = "10.0.0.1\0/8";
	CHECK(nat_prefix_parse(nul, sizeof nul - 1, &a, &p) == -1);
	CHECK(nat_prefix_parse(NULL, 0, &a, &p) == -1);
	/* nat_cidr_parse is the same grammar with the host bits cleared. */
	for (size_t i = 0; i < sizeof prefix_cases / sizeof prefix_cases[0]; i++) {
		struct nat_cidr c;
		int r = nat_cidr_parse(&c, prefix_cases[i].s);

		CHECK(r == prefix_cases[i].ok);
		if (r == 0) {
			unsigned n = prefix_cases[i].prefix;
			uint32_t m = n ? 0xffffffffu << (32 - n) : 0;

			CHECK(c.mask == m && c.addr == (prefix_cases[i].addr & m));
		}
	}
}

/* An interface address: "A/LEN" required, and an address a host can hold. */
static void ifaddr_parse(void)
{
	static const struct {
		const char *s;
		int ok;
		uint32_t addr;
		unsigned prefix;
	} t[] = {
		{ "10.0.100.2/24", 0, 0x0a006402, 24 },
		{ "10.0.200.7/24", 0, 0x0a00c807, 24 },
		{ "192.0.2.1/32", 0, 0xc0000201, 32 },
		{ "1.0.0.0/1", 0, 0x01000000, 1 },
		{ "126.255.255.255/8", 0, 0x7effffff, 8 },
		{ "128.0.0.1/8", 0, 0x80000001, 8 },
		{ "223.255.255.254/24", 0, 0xdffffffe, 24 },
		{ "10.0.100.2", -1, 0, 0 },       /* no length */
		{ "10.0.100.2/0", -1, 0, 0 },
		{ "10.0.100.2/33", -1, 0, 0 },
		{ "0.0.0.0/8", -1, 0, 0 },
		{ "255.255.255.255/32", -1, 0, 0 },
		{ "127.0.0.1/8", -1, 0, 0 },
		{ "127.255.0.1/16", -1, 0, 0 },
		{ "224.0.0.1/24", -1, 0, 0 },
		{ "239.1.2.3/24", -1, 0, 0 },
		{ "240.0.0.1/24", -1, 0, 0 },
		{ "255.0.0.1/24", -1, 0, 0 },
		{ "010.0.100.2/24", -1, 0, 0 },
		{ "10.0.100.2/024", -1, 0, 0 },
		{ "10.0.100.2/24 ", -1, 0, 0 },
		{ "/24", -1, 0, 0 },
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint32_t a = 0xdead;
		unsigned p = 99;
		int r = nat_ifaddr_parse(t[i].s, strlen(t[i].s), &a, &p);

		if (r != t[i].ok)
			fprintf(stderr, "  ifaddr \"%s\"\n", t[i].s);
		CHECK(r == t[i].ok);
		if (r == 0)
			CHECK(a == t[i].addr && p == t[i].prefix);
		else
			CHECK(a == 0xdead && p == 99);
	}
	/* The edges of each refused range. */
	CHECK(nat_host_ok(0x00000001, 8) && !nat_host_ok(0, 8));
	CHECK(nat_host_ok(0x7effffff, 8) && !nat_host_ok(0x7f000000, 8));
	CHECK(!nat_host_ok(0x7fffffff, 8) && nat_host_ok(0x80000000, 8));
	CHECK(nat_host_ok(0xdfffffff, 8) && !nat_host_ok(0xe0000000, 8));
	CHECK(!nat_host_ok(0xfffffffe, 8) && !nat_host_ok(0xffffffff, 32));
	CHECK(!nat_host_ok(0x0a000001, 0) && !nat_host_ok(0x0a000001, 33));
}

/* Each default range: denied at both ends, permitted just outside. */
static const struct {
	uint32_t lo, hi;
} deny_ranges[] = {
	{ 0x00000000, 0x00ffffff },  /* 0/8 */
	{ 0x0a000000, 0x0affffff },  /* 10/8 */
	{ 0x64400000, 0x647fffff },  /* 100.64/10 */
	{ 0x7f000000, 0x7fffffff },  /* 127/8 */
	{ 0xa9fe0000, 0xa9feffff },  /* 169.254/16 */
	{ 0xac100000, 0xac1fffff },  /* 172.16/12 */
	{ 0xc0000000, 0xc00000ff },  /* 192.0.0/24 */
	{ 0xc0000200, 0xc00002ff },  /* 192.0.2/24 */
	{ 0xc0a80000, 0xc0a8ffff },  /* 192.168/16 */
	{ 0xc6120000, 0xc613ffff },  /* 198.18/15 */
	{ 0xc6336400, 0xc63364ff },  /* 198.51.100/24 */
	{ 0xcb007100, 0xcb0071ff },  /* 203.0.113/24 */
	{ 0xe0000000, 0xefffffff },  /* 224/4 */
	{ 0xf0000000, 0xffffffff },  /* 240/4 and broadcast */
};

static void acl_defaults(void)
{
	struct nat_acl acl;

	nat_acl_init(&acl);
	CHECK(acl.n_allow == 0);
	for (size_t i = 0; i < sizeof deny_ranges / sizeof deny_ranges[0]; i++) {
		uint32_t lo = deny_ranges[i].lo, hi = deny_ranges[i].hi;

		CHECK(!nat_acl_permits(&acl, lo));
		CHECK(!nat_acl_permits(&acl, hi));
		CHECK(!nat_acl_permits(&acl, lo + (hi - lo) / 2));
		/* 192.0.0/24 and 224/4 border other denied ranges on one side. */
		if (lo != 0 && lo != 0xf0000000 && lo != 0xc0000000)
			CHECK(nat_acl_permits(&acl, lo - 1));
		if (hi != 0xffffffff && hi != 0xefffffff)
			CHECK(nat_acl_permits(&acl, hi + 1));
	}
	CHECK(!nat_acl_permits(&acl, 0xffffffff));
	CHECK(nat_acl_permits(&acl, ip4(8, 8, 8, 8)));
	CHECK(nat_acl_permits(&acl, ip4(1, 1, 1, 1)));
	CHECK(nat_acl_permits(&acl, ip4(192, 0, 1, 1)));
	CHECK(nat_acl_permits(&acl, ip4(223, 255, 255, 255)));
}

static void acl_override(void)
{
	struct nat_acl acl;
	struct nat_cidr c;

	nat_acl_init(&acl);
	CHECK(nat_cidr_parse(&c, "192.0.2.0/25") == 0);
	CHECK(nat_acl_allow(&acl, c) == 0);
	CHECK(nat_acl_permits(&acl, ip4(192, 0, 2, 1)));
	CHECK(nat_acl_permits(&acl, ip4(192, 0, 2, 127)));
	CHECK(!nat_acl_permits(&acl, ip4(192, 0, 2, 128)));
	CHECK(nat_cidr_parse(&c, "8.8.8.0/24") == 0);
	CHECK(nat_acl_deny(&acl, c) == 0);
	CHECK(!nat_acl_permits(&acl, ip4(8, 8, 8, 8)));
	CHECK(nat_acl_permits(&acl, ip4(8, 8, 9, 8)));
	/* allow wins over deny, whatever the order they were added in */
	CHECK(nat_cidr_parse(&c, "8.8.8.8") == 0);
	CHECK(nat_acl_allow(&acl, c) == 0);
	CHECK(nat_acl_permits(&acl, ip4(8, 8, 8, 8)));
	CHECK(!nat_acl_permits(&acl, ip4(8, 8, 8, 9)));
	/* the lists are bounded */
	while (acl.n_allow < NAT_ACL_MAX)
		CHECK(nat_acl_allow(&acl, c) == 0);
	CHECK(nat_acl_allow(&acl, c) == -1);
	while (acl.n_deny < NAT_ACL_MAX)
		CHECK(nat_acl_deny(&acl, c) == 0);
	CHECK(nat_acl_deny(&acl, c) == -1);
}

static void drop_names(void)
{
	CHECK(strcmp(drop_name(DROP_NONE), "none") == 0);
	for (int i = 0; i < DROP_N; i++) {
		const char *s = drop_name((enum drop)i);

		CHECK(s && *s);
		for (const char *q = s; *q; q++)
			CHECK((*q >= 'a' && *q <= 'z') || *q == '_' ||
			      (*q >= '0' && *q <= '9'));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(s, drop_name((enum drop)j)) != 0);
	}
	CHECK(drop_name(DROP_N) != NULL);
}

/* ---- nat_check ---- */

/* A 20-byte UDP packet header + 8 bytes, valid checksum. */
static size_t good_packet(uint8_t *p, size_t hl)
{
	size_t len = hl + 8;

	memset(p, 0, len);
	p[0] = (uint8_t)(0x40 | hl / 4);
	put16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 17;
	put32(p + 12, ip4(10, 1, 2, 3));
	put32(p + 16, ip4(93, 184, 216, 34));
	for (size_t i = 20; i < hl; i++)
		p[i] = 1;   /* NOP options */
	put16(p + 4 + hl, 8);
	put16(p + 10, ref_fin(ref_sum(p, hl, 0)));
	return len;
}

static void check_errors(void)
{
	uint8_t p[128];
	size_t len;

	len = good_packet(p, 20);
	CHECK(nat_check(p, len) == DROP_NONE);
	len = good_packet(p, 60);
	CHECK(nat_check(p, len) == DROP_NONE);

	CHECK(nat_check(p, 0) == DROP_MALFORMED);
	len = good_packet(p, 20);
	CHECK(nat_check(p, 19) == DROP_MALFORMED);      /* shorter than a header */
	CHECK(nat_check(p, len - 1) == DROP_MALFORMED); /* tot_len != len */
	CHECK(nat_check(p, len + 1) == DROP_MALFORMED);
	p[0] = 0x60;
	CHECK(nat_check(p, len) == DROP_IPV6);
	CHECK(nat_check(p, 1) == DROP_IPV6);
	p[0] = 0x55;
	CHECK(nat_check(p, len) == DROP_MALFORMED);      /* version 5 */
	p[0] = 0x44;
	CHECK(nat_check(p, len) == DROP_MALFORMED);      /* IHL 4 */
	p[0] = 0x40;
	CHECK(nat_check(p, len) == DROP_MALFORMED);      /* IHL 0 */
	len = good_packet(p, 20);
	p[0] = 0x47;                                     /* IHL 28 > len */
	put16(p + 2, 24);
	CHECK(nat_check(p, 24) == DROP_MALFORMED);
	len = good_packet(p, 20);
	p[8] ^= 1;
	CHECK(nat_check(p, len) == DROP_CHECKSUM);
	len = good_packet(p, 40);
	p[39] ^= 0x80;                                   /* in the options */
	CHECK(nat_check(p, len) == DROP_CHECKSUM);
}

/* ---- The table ---- */

static void init_caps(void)
{
	static const struct {
		unsigned prefix, cap;
	} t[] = {
		{ 0, 32 }, { 16, 32 }, { 24, 32 }, { 26, 32 }, { 27, 29 },
		{ 28, 13 }, { 29, 5 }, { 30, 1 }, { 31, 0 }, { 32, 0 }, { 40, 0 },
	};
	struct nat n;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		nat_init(&n, ip4(10, 0, 100, 0), t[i].prefix, 1400);
		CHECK(n.cap == t[i].cap);
		CHECK(n.n == 0);
		CHECK(n.mss == 1400);
	}
	nat_init(&n, ip4(10, 0, 101, 0), 24, 0);
	CHECK(n.net == ip4(10, 0, 101, 0));
	CHECK(n.first == ip4(10, 0, 101, 2));
}

/* Builds a UDP packet src -> dst with a valid non-zero checksum. */
static size_t udp_packet(uint8_t *p, uint32_t src, uint32_t dst)
{
	size_t len = 20 + 8 + 4;

	memset(p, 0, len);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 17;
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, ref_fin(ref_sum(p, 20, 0)));
	put16(p + 20, 4000);
	put16(p + 22, 53);
	put16(p + 24, 12);
	memcpy(p + 28, "ping", 4);
	put16(p + 26, ref_fin(ref_sum(p + 20, 12, pseudo(src, dst, 17, 12))));
	return len;
}

static void map_full(void)
{
	struct nat n;
	struct nat_acl acl;
	uint8_t p[64];
	size_t len;
	uint32_t dst = ip4(93, 184, 216, 34);

	nat_acl_init(&acl);
	nat_init(&n, ip4(10, 0, 100, 0), 24, 0);
	for (unsigned i = 0; i < NAT_MAX_MAP; i++) {
		len = udp_packet(p, ip4(172, 20, 0, i + 1), dst);
		CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
		CHECK(get32(p + 12) == ip4(10, 0, 100, 2 + i));
	}
	CHECK(n.n == NAT_MAX_MAP);
	len = udp_packet(p, ip4(172, 20, 0, 99), dst);
	CHECK(nat_out(&n, &acl, p, len) == DROP_MAP_FULL);
	CHECK(get32(p + 12) == ip4(172, 20, 0, 99));     /* untouched */
	len = udp_packet(p, ip4(172, 20, 0, 7), dst);    /* known: still fine */
	CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
	CHECK(get32(p + 12) == ip4(10, 0, 100, 8));

	/* Replies: mapped ones come back, the rest are not ours. */
	len = udp_packet(p, dst, ip4(10, 0, 100, 33));
	CHECK(nat_in(&n, p, len) == DROP_NONE);
	CHECK(get32(p + 16) == ip4(172, 20, 0, 32));
	len = udp_packet(p, dst, ip4(10, 0, 100, 34));
	CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
	len = udp_packet(p, dst, ip4(10, 0, 100, 1));
	CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);

	/* A /29 holds five. */
	nat_init(&n, ip4(10, 0, 100, 0), 29, 0);
	for (unsigned i = 0; i < 5; i++) {
		len = udp_packet(p, ip4(172, 20, 0, i + 1), dst);
		CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
	}
	len = udp_packet(p, ip4(172, 20, 0, 9), dst);
	CHECK(nat_out(&n, &acl, p, len) == DROP_MAP_FULL);

	/* reset forgets */
	nat_reset(&n);
	CHECK(n.n == 0);
	len = udp_packet(p, dst, ip4(10, 0, 100, 2));
	CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
	len = udp_packet(p, ip4(172, 20, 0, 9), dst);
	CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
	CHECK(get32(p + 12) == ip4(10, 0, 100, 2));
}

static void out_denied_and_malformed(void)
{
	struct nat n;
	struct nat_acl acl;
	uint8_t p[64], copy[64];
	size_t len;

	nat_acl_init(&acl);
	nat_init(&n, ip4(10, 0, 100, 0), 24, 0);
	len = udp_packet(p, ip4(172, 20, 0, 1), ip4(192, 168, 1, 1));
	memcpy(copy, p, len);
	CHECK(nat_out(&n, &acl, p, len) == DROP_DENIED);
	CHECK(memcmp(p, copy, len) == 0);
	CHECK(n.n == 0);
	len = udp_packet(p, ip4(172, 20, 0, 1), ip4(255, 255, 255, 255));
	CHECK(nat_out(&n, &acl, p, len) == DROP_DENIED);

	len = udp_packet(p, ip4(172, 20, 0, 1), ip4(8, 8, 8, 8));
	CHECK(nat_out(&n, &acl, p, 19) == DROP_MALFORMED);
	CHECK(nat_out(&n, &acl, p, len - 1) == DROP_MALFORMED);
	CHECK(nat_in(&n, p, 19) == DROP_MALFORMED);
	CHECK(nat_in(&n, p, len - 1) == DROP_MALFORMED);  /* tot_len > len */
	p[0] = 0x44;
	CHECK(nat_in(&n, p, len) == DROP_MALFORMED);
	p[0] = 0x65;
	CHECK(nat_in(&n, p, len) == DROP_IPV6);           /* no nat_init6 */
	CHECK(nat_out(&n, &acl, p, len) == DROP_IPV6);
	p[0] = 0x45;
	put16(p + 2, 19);
	CHECK(nat_in(&n, p, len) == DROP_MALFORMED);     /* tot_len < IHL */
}

/*
 * UDP: a checksum that works out to 0 is sent as 0xffff (RFC 768). A payload
 * word is chosen so that, after the rewrite, the sum is exactly that case.
 */
static void udp_zero(void)
{
	struct nat n;
	struct nat_acl acl;
	uint8_t p[64];
	size_t len;
	uint32_t src = ip4(172, 20, 0, 1), dst = ip4(8, 8, 8, 8);
	uint32_t mapped = ip4(10, 0, 100, 2);

	nat_acl_init(&acl);
	for (int dir = 0; dir < 2; dir++) {
		uint32_t a = dir ? dst : src, b = dir ? src : dst;
		uint32_t na = dir ? dst : mapped, nb = dir ? src : dst;

		if (dir)
			b = mapped;
		len = udp_packet(p, a, b);
		/* the word that makes the rewritten packet sum to -0 */
		put16(p + 26, 0);
		put16(p + 28, 0);
		put16(p + 28, ref_fin(ref_sum(p + 20, 12, pseudo(na, nb, 17, 12))));
		put16(p + 26, ref_fin(ref_sum(p + 20, 12, pseudo(a, b, 17, 12))));
		CHECK(get16(p + 26) != 0);
		nat_init(&n, ip4(10, 0, 100, 0), 24, 0);
		if (dir) {
			uint8_t q[64];
			size_t qlen = udp_packet(q, src, dst);

			CHECK(nat_out(&n, &acl, q, qlen) == DROP_NONE);
			CHECK(nat_in(&n, p, len) == DROP_NONE);
		} else {
			CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
		}
		CHECK(get16(p + 26) == 0xffff);
		CHECK(ref_field(p + 20, 12, 6, pseudo(get32(p + 12), get32(p + 16),
		                                       17, 12)) == 0);
	}
}

/* ---- MSS clamping, option by option ---- */

/* A TCP packet src -> dst with the given options and flags. */
static size_t tcp_packet(uint8_t *p, uint32_t src, uint32_t dst, uint8_t flags,
                         const uint8_t *opt, size_t opt_len)
{
	size_t doff = 20 + (opt_len + 3) / 4 * 4, len = 20 + doff;
	uint8_t *t = p + 20;

	memset(p, 0, len);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 6;
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, ref_fin(ref_sum(p, 20, 0)));
	put16(t, 40000);
	put16(t + 2, 443);
	put32(t + 4, 0x12345678);
	t[12] = (uint8_t)(doff / 4 << 4);
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, opt, opt_len);
	put16(t + 16, ref_fin(ref_sum(t, doff, pseudo(src, dst, 6, doff))));
	return len;
}

static bool tcp_ok(const uint8_t *p, size_t len)
{
	return ref_field(p + 20, len - 20, 16,
	                 pseudo(get32(p + 12), get32(p + 16), 6, len - 20)) ==
	       get16(p + 36);
}

static void mss_clamp(void)
{
	static const struct {
		uint8_t flags;
		uint8_t opt[40];
		size_t opt_len, at;     /* at: the MSS value's offset in the TCP header */
		uint16_t mss, want;
	} t[] = {
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 1400, 1400 },
		{ 0x12, { 2, 4, 0x05, 0xb4 }, 4, 22, 1400, 1400 },
		{ 0x02, { 2, 4, 0x05, 0x00 }, 4, 22, 1400, 1280 },   /* lower stays */
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 0, 1460 },      /* off */
		{ 0x10, { 2, 4, 0x05, 0xb4 }, 4, 22, 1400, 1460 },   /* not a SYN */
		{ 0x02, { 1, 2, 4, 0x23, 0x28 }, 5, 23, 1360, 1360 },/* odd offset */
		{ 0x02, { 1, 1, 1, 2, 4, 0xff, 0xff }, 7, 25, 1200, 1200 },
		{ 0x02, { 4, 2, 3, 3, 7, 2, 4, 0x05, 0xb4 }, 9, 27, 1000, 1000 },
		{ 0x02, { 0, 2, 4, 0x05, 0xb4 }, 5, 23, 1000, 1460 },/* after EOL */
		{ 0x02, { 3, 0, 2, 4, 0x05, 0xb4 }, 6, 24, 1000, 1460 },/* len 0 */
		{ 0x02, { 3, 1, 2, 4, 0x05, 0xb4 }, 6, 24, 1000, 1460 },/* len 1 */
		{ 0x02, { 2, 3, 0x05, 0xb4 }, 4, 22, 1000, 1460 },   /* bad MSS len */
		{ 0x02, { 1, 1, 3, 40, 2, 4, 0x05, 0xb4 }, 8, 26, 1000, 1460 },/* too long */
		{ 0x02, { 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 0x05, 0xb4 }, 12, 30, 536, 536 },
	};
	struct nat n;
	struct nat_acl acl;
	uint8_t p[128];
	size_t len;

	nat_acl_init(&acl);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		for (int dir = 0; dir < 2; dir++) {
			nat_init(&n, ip4(10, 0, 100, 0), 24, t[i].mss);
			len = tcp_packet(p, ip4(172, 20, 0, 1), ip4(8, 8, 8, 8),
			                 t[i].flags, t[i].opt, t[i].opt_len);
			CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
			if (dir == 1) {
				len = tcp_packet(p, ip4(8, 8, 8, 8), ip4(10, 0, 100, 2),
				                 t[i].flags, t[i].opt, t[i].opt_len);
				CHECK(nat_in(&n, p, len) == DROP_NONE);
				CHECK(get32(p + 16) == ip4(172, 20, 0, 1));
			}
			if (get16(p + 20 + t[i].at) != t[i].want)
				fprintf(stderr, "  mss case %zu dir %d\n", i, dir);
			CHECK(get16(p + 20 + t[i].at) == t[i].want);
			CHECK(nat_check(p, len) == DROP_NONE);
			CHECK(tcp_ok(p, len));
		}
	}

	/* An option running past the bytes present is left alone. */
	nat_init(&n, ip4(10, 0, 100, 0), 24, 1000);
	len = tcp_packet(p, ip4(172, 20, 0, 1), ip4(8, 8, 8, 8), 0x02,
	                 (const uint8_t[]){ 2, 4, 0x05, 0xb4 }, 4);
	p[32] = 0xf0;          /* data offset 60 > the 24 bytes there */
	put16(p + 36, 0);
	put16(p + 36, ref_fin(ref_sum(p + 20, 24, pseudo(get32(p + 12),
	                                                  get32(p + 16), 6, 24))));
	CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
	CHECK(get16(p + 42) == 1460);
	CHECK(tcp_ok(p, len));
}

/* ---- The randomized property test ---- */

enum kind { K_TCP, K_UDP, K_UDP0, K_ECHO, K_OTHER, K_ERR, K_N };

/* A whole L4 datagram, as its sender built it. */
struct dgram {
	uint8_t l4[1200];
	size_t len;
	uint8_t proto;
	enum kind kind;
	size_t mss_at;       /* offset of the MSS value in the TCP header, or 0 */
	bool syn;
};

/* An IPv4 packet carrying all of a dgram, or a fragment of it. */
struct pkt {
	uint8_t b[1400];
	size_t len, hl;
	size_t part;         /* L4 bytes of the dgram carried: all, or a prefix */
	bool later;          /* a non-first fragment: random payload */
};

static const uint16_t mss_values[] = { 536, 1200, 1360, 1400, 1460, 8960, 0xffff };

static void gen_tcp(struct dgram *d, uint32_t src, uint32_t dst)
{
	static const uint8_t flags[] = { 0x02, 0x12, 0x10, 0x18, 0x11, 0x04 };
	size_t doff = 20 + 4 * unit_rn(11), i = 20, pay = unit_rn(3) ? unit_rn(300) : 0;
	uint8_t *t = d->l4;

	d->proto = 6;
	d->len = doff + pay;
	rfill(t, d->len);
	t[12] = (uint8_t)(doff / 4 << 4 | unit_rn(16));
	t[13] = unit_rn(8) ? flags[unit_rn(sizeof flags)] : (uint8_t)unit_rnd();
	d->syn = t[13] & 0x02;
	d->mss_at = 0;
	/* Options: a few NOPs, maybe the MSS, then others, then EOL. */
	while (i < doff && unit_rn(3) == 0)
		t[i++] = 1;
	while (i < doff) {
		size_t room = doff - i;
		unsigned r = unit_rn(6);

		if (r == 0 && room >= 4 && !d->mss_at) {
			t[i] = 2;
			t[i + 1] = 4;
			put16(t + i + 2, unit_rn(4) ? mss_values[unit_rn(7)] : (uint16_t)unit_rnd());
			d->mss_at = i + 2;
			i += 4;
		} else if (r == 1 && room >= 3) {
			t[i] = 3;
			t[i + 1] = 3;
			i += 3;
		} else if (r == 2 && room >= 2) {
			t[i] = 4;
			t[i + 1] = 2;
			i += 2;
		} else if (r == 3 && room >= 10) {
			t[i] = 8;
			t[i + 1] = 10;
			i += 10;
		} else if (r == 4) {
			t[i++] = 1;
		} else if (r == 5 && unit_rn(4) == 0) {
			memset(t + i, 0, room);
			break;
		}
	}
	put16(t + 16, 0);
	put16(t + 16, ref_fin(ref_sum(t, d->len, pseudo(src, dst, 6, d->len))));
}

static void gen_udp(struct dgram *d, uint32_t src, uint32_t dst, bool zero)
{
	uint16_t c;

	d->proto = 17;
	d->len = 8 + unit_rn(400);
	rfill(d->l4, d->len);
	put16(d->l4 + 4, (uint16_t)d->len);
	put16(d->l4 + 6, 0);
	c = ref_fin(ref_sum(d->l4, d->len, pseudo(src, dst, 17, d->len)));
	if (!zero)
		put16(d->l4 + 6, c ? c : 0xffff);
}

static void gen_echo(struct dgram *d)
{
	d->proto = 1;
	d->len = 8 + unit_rn(300);
	rfill(d->l4, d->len);
	d->l4[0] = unit_rn(2) ? 8 : 0;
	d->l4[1] = 0;
	put16(d->l4 + 2, 0);
	put16(d->l4 + 2, ref_fin(ref_sum(d->l4, d->len, 0)));
}

/* An ICMP error (3, 11 or 12) quoting q[0..q_len). */
static void gen_err(struct dgram *d, const uint8_t *q, size_t q_len)
{
	static const uint8_t types[] = { 3, 11, 12 };

	d->proto = 1;
	d->kind = K_ERR;
	d->len = 8 + q_len;
	rfill(d->l4, 8);
	d->l4[0] = types[unit_rn(3)];
	d->l4[1] = (uint8_t)unit_rn(16);
	memcpy(d->l4 + 8, q, q_len);
	put16(d->l4 + 2, 0);
	put16(d->l4 + 2, ref_fin(ref_sum(d->l4, d->len, 0)));
}

static void gen_l4(struct dgram *d, enum kind k, uint32_t src, uint32_t dst)
{
	d->kind = k;
	d->mss_at = 0;
	d->syn = false;
	switch (k) {
	case K_TCP:
		gen_tcp(d, src, dst);
		break;
	case K_UDP:
	case K_UDP0:
		gen_udp(d, src, dst, k == K_UDP0);
		break;
	case K_ECHO:
		gen_echo(d);
		break;
	default:
		d->proto = unit_rn(2) ? 47 : (uint8_t)unit_rnd();
		if (d->proto == 1 || d->proto == 6 || d->proto == 17)
			d->proto = 50;
		d->len = unit_rn(200);
		rfill(d->l4, d->len);
		break;
	}
}

/*
 * Wraps d in an IPv4 header with random options. frag: 0 whole, 1 a first
 * fragment (MF) carrying a prefix, 2 a later fragment with random bytes.
 */
static void gen_ip(struct pkt *pk, const struct dgram *d, uint32_t src,
                   uint32_t dst, int frag)
{
	uint8_t *p = pk->b;
	uint16_t ff = unit_rn(2) ? 0x4000 : 0;

	pk->hl = 20 + 4 * unit_rn(11);
	pk->later = frag == 2;
	pk->part = d->len;
	if (frag == 1 && d->len >= 40) {
		pk->part = 8 * (3 + unit_rn((unsigned)((d->len - 1) / 8 - 2)));
		ff = 0x2000;
	} else if (frag == 2) {
		pk->part = 1 + unit_rn(300);
		ff = (uint16_t)((unit_rn(2) ? 0x2000 : 0) | (1 + unit_rn(0x1fff)));
	}
	pk->len = pk->hl + pk->part;
	rfill(p, pk->hl);
	p[0] = (uint8_t)(0x40 | pk->hl / 4);
	put16(p + 2, (uint16_t)pk->len);
	put16(p + 6, ff);
	p[9] = d->proto;
	put16(p + 10, 0);
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, ref_fin(ref_sum(p, pk->hl, 0)));
	if (pk->later)
		rfill(p + pk->hl, pk->part);
	else
		memcpy(p + pk->hl, d->l4, pk->part);
}

/* The whole datagram as it is now: the packet's bytes, then d's rest. */
static void whole(uint8_t *out, const struct pkt *pk, const struct dgram *d)
{
	memcpy(out, pk->b + pk->hl, pk->part);
	memcpy(out + pk->part, d->l4 + pk->part, d->len - pk->part);
}

/* How much of d a first fragment left out; a later one carries none of it. */
static size_t rest(const struct pkt *pk, const struct dgram *d)
{
	return pk->later ? 0 : d->len - pk->part;
}

/* Is the TCP/UDP/ICMP checksum of l4[0..len) what a full recomputation gives? */
static bool l4_ok(uint8_t proto, const uint8_t *l4, size_t len, uint32_t src,
                  uint32_t dst)
{
	uint16_t c;

	switch (proto) {
	case 6:
		return len < 18 || ref_field(l4, len, 16, pseudo(src, dst, 6, len)) ==
		                   get16(l4 + 16);
	case 17:
		if (len < 8 || get16(l4 + 6) == 0)
			return true;
		c = ref_field(l4, len, 6, pseudo(src, dst, 17, len));
		return (c ? c : 0xffff) == get16(l4 + 6);
	case 1:
		return len < 4 || ref_field(l4, len, 2, 0) == get16(l4 + 2);
	default:
		return true;
	}
}

static bool ip_ok(const uint8_t *p, size_t hl)
{
	return ref_field(p, hl, 10, 0) == get16(p + 10);
}

static int fail_iter = -1;
static uint64_t fail_seed;

/* CHECK that evaluates cond once and reports the seed and iteration once. */
#define PCHECK(cond)                                                       \
	do {                                                               \
		if (!(cond)) {                                             \
			if (fail_iter < 0)                                 \
				fprintf(stderr, "  %s:%d: CHECK(%s) failed, " \
				        "seed %#llx iteration %d\n",       \
				        __FILE__, __LINE__, #cond,         \
				        (unsigned long long)fail_seed, iter); \
			fail_iter = iter;                                  \
			unit_failed_checks++;                              \
		}                                                          \
	} while (0)

/* Where the L4 checksum is for a protocol, and whether the quote holds it. */
static size_t ck_at(uint8_t proto)
{
	return proto == 6 ? 16 : proto == 17 ? 6 : 0;
}

/*
 * Checks a rewritten ICMP error quote q[0..q_len) against the packet it
 * quotes in full (whole[0..w_len), the bytes the quote was cut from, with
 * the quote's rewrite applied): the inner header checksum always, the inner
 * TCP/UDP checksum when the quote holds its field and the inner packet is a
 * first fragment. rest_l4 is the inner datagram's L4 beyond what it carried.
 */
static bool quote_ok(const uint8_t *q, size_t q_len, const uint8_t *orig,
                     size_t o_len, const uint8_t *rest, size_t rest_len)
{
	static uint8_t buf[4096];
	size_t hl, ck;
	uint8_t proto;

	if (q_len < 20)
		return true;
	/* The inner packet as it would be now: the quote, then its own tail. */
	memcpy(buf, q, q_len);
	if (o_len > q_len)
		memcpy(buf + q_len, orig + q_len, o_len - q_len);
	else
		o_len = q_len;
	hl = (size_t)(buf[0] & 15) * 4;
	if (!ip_ok(buf, hl))
		return false;
	proto = buf[9];
	ck = ck_at(proto);
	if (!ck || (get16(buf + 6) & 0x1fff) || q_len < hl + ck + 2)
		return true;
	memcpy(buf + o_len, rest, rest_len);
	return l4_ok(proto, buf + hl, o_len - hl + rest_len, get32(buf + 12),
	             get32(buf + 16));
}

static void nat_property(void)
{
	static struct dgram d, d2;
	static struct pkt pk, before, client, inner, pk2, inpk;
	static uint8_t w[4096];
	struct nat n;
	struct nat_acl acl;
	struct nat_cidr c;
	uint32_t pool[8], model[NAT_MAX_MAP];
	unsigned model_n = 0;
	const uint64_t seed = 0x76706e67772d6e61ull;
	int iter;

	fail_seed = seed;
	unit_seed(seed);
	fail_iter = -1;
	nat_acl_init(&acl);
	CHECK(nat_cidr_parse(&c, "10.0.100.0/24") == 0);
	CHECK(nat_acl_deny(&acl, c) == 0);
	nat_init(&n, ip4(10, 0, 100, 0), 24, 1400);
	for (int i = 0; i < 8; i++)
		pool[i] = (uint32_t)unit_rnd();

	for (iter = 0; iter < 20000 && fail_iter < 0; iter++) {
		uint32_t src = pool[unit_rn(8)], dst = (uint32_t)unit_rnd(), mapped;
		enum kind k = (enum kind)unit_rn(K_N);
		int frag = unit_rn(10) < 7 ? 0 : unit_rn(2) ? 1 : 2;
		unsigned idx;
		enum drop r;

		if (iter % 5000 == 4999) {
			nat_reset(&n);
			model_n = 0;
		}
		n.mss = mss_values[unit_rn(7)];
		if (unit_rn(5) == 0)
			n.mss = 0;

		/* The client's packet; an error quotes a packet sent to it. */
		if (k == K_ERR) {
			uint32_t to = unit_rn(5) < 3 ? src : unit_rn(2) ? pool[unit_rn(8)] : (uint32_t)unit_rnd();
			uint32_t from = (uint32_t)unit_rnd();

			gen_l4(&d2, (enum kind)unit_rn(K_ERR), from, to);
			gen_ip(&inner, &d2, from, to, unit_rn(8) ? 0 : 1 + unit_rn(2));
			gen_err(&d, inner.b, unit_rn(2) ? inner.len : unit_rn((unsigned)inner.len + 1));
			frag = 0;
		} else {
			gen_l4(&d, k, src, dst);
		}
		gen_ip(&pk, &d, src, dst, frag);
		before = pk;
		client = pk;
		PCHECK(nat_check(pk.b, pk.len) == DROP_NONE);

		r = nat_out(&n, &acl, pk.b, pk.len);
		if (!nat_acl_permits(&acl, dst)) {
			PCHECK(r == DROP_DENIED);
			PCHECK(memcmp(pk.b, before.b, pk.len) == 0);
			continue;
		}
		PCHECK(r == DROP_NONE);
		for (idx = 0; idx < model_n && model[idx] != src; idx++)
			;
		if (idx == model_n)
			model[model_n++] = src;
		mapped = ip4(10, 0, 100, 2 + idx);
		PCHECK(n.n == model_n);

		/* Outer header: only the source and its checksum changed. */
		PCHECK(get32(pk.b + 12) == mapped);
		PCHECK(memcmp(pk.b, before.b, 10) == 0);
		PCHECK(memcmp(pk.b + 16, before.b + 16, pk.hl - 16) == 0);
		PCHECK(ip_ok(pk.b, pk.hl));
		PCHECK(nat_check(pk.b, pk.len) == DROP_NONE);

		/* L4: untouched in later fragments, else every checksum right. */
		if (pk.later) {
			PCHECK(memcmp(pk.b + pk.hl, before.b + pk.hl, pk.part) == 0);
		} else {
			whole(w, &pk, &d);
			PCHECK(l4_ok(d.proto, w, d.len, mapped, dst));
			if (d.kind == K_UDP0)
				PCHECK(get16(w + 6) == 0);
			if (d.kind == K_TCP && d.mss_at && d.mss_at + 2 <= pk.part) {
				uint16_t was = get16(d.l4 + d.mss_at), want = was;
				size_t doff = (size_t)(d.l4[12] >> 4) * 4;

				if (d.syn && n.mss && was > n.mss && doff <= pk.part)
					want = n.mss;
				PCHECK(get16(w + d.mss_at) == want);
			}
		}
		if (d.kind == K_ERR) {
			const uint8_t *q = pk.b + pk.hl + 8;
			size_t q_len = d.len - 8;
			unsigned j;

			for (j = 0; j < model_n && q_len >= 20 &&
			            model[j] != get32(inner.b + 16); j++)
				;
			if (q_len >= 20 && j < model_n) {
				PCHECK(get32(q + 16) == ip4(10, 0, 100, 2 + j));
				PCHECK(quote_ok(q, q_len, inner.b, inner.len,
				                d2.l4 + inner.part, rest(&inner, &d2)));
			} else {
				PCHECK(memcmp(q, inner.b, q_len) == 0);
			}
			continue;
		}

		/* The Internet's answer: a reply of the same kind, maybe a SYN-ACK. */
		gen_l4(&d2, k, dst, mapped);
		gen_ip(&pk2, &d2, dst, mapped, unit_rn(10) < 7 ? 0 : unit_rn(2) ? 1 : 2);
		before = pk2;
		PCHECK(nat_in(&n, pk2.b, pk2.len) == DROP_NONE);
		PCHECK(get32(pk2.b + 16) == src);
		PCHECK(memcmp(pk2.b, before.b, 10) == 0);
		PCHECK(memcmp(pk2.b + 12, before.b + 12, 4) == 0);
		PCHECK(memcmp(pk2.b + 20, before.b + 20, pk2.hl - 20) == 0);
		PCHECK(ip_ok(pk2.b, pk2.hl));
		if (pk2.later) {
			PCHECK(memcmp(pk2.b + pk2.hl, before.b + pk2.hl, pk2.part) == 0);
		} else {
			whole(w, &pk2, &d2);
			PCHECK(l4_ok(d2.proto, w, d2.len, dst, src));
		}

		/* Or an ICMP error about the client's packet, as the gateway sent it. */
		{
			uint32_t router = unit_rn(2) ? dst : ip4(193, unit_rn(256), unit_rn(256), 1);
			size_t q_len = unit_rn(2) ? pk.len : unit_rn((unsigned)pk.len + 1);
			bool clamped = !pk.later && d.kind == K_TCP && d.mss_at &&
			               d.mss_at + 2 <= pk.part &&
			               get16(pk.b + pk.hl + d.mss_at) != get16(d.l4 + d.mss_at);
			const uint8_t *q;
			size_t cut;

			gen_err(&d2, pk.b, q_len);
			gen_ip(&inpk, &d2, router, mapped, 0);
			before = inpk;
			PCHECK(nat_in(&n, inpk.b, inpk.len) == DROP_NONE);
			PCHECK(get32(inpk.b + 16) == src);
			PCHECK(ip_ok(inpk.b, inpk.hl));
			PCHECK(l4_ok(1, inpk.b + inpk.hl, d2.len, router, src));
			q = inpk.b + inpk.hl + 8;
			if (q_len < 20) {
				PCHECK(memcmp(q, pk.b, q_len) == 0);
				continue;
			}
			PCHECK(get32(q + 12) == src);
			PCHECK(quote_ok(q, q_len, pk.b, pk.len, d.l4 + pk.part,
			                rest(&pk, &d)));
			/* Round trip: the quote is the client's own packet again. */
			/*
			 * Round trip: the quote is the client's own packet again,
			 * unless its MSS was clamped, and but for a checksum the
			 * quote cuts in half (one byte of it cannot be patched).
			 */
			cut = !pk.later && ck_at(d.proto) &&
			      q_len == pk.hl + ck_at(d.proto) + 1;
			if (!clamped)
				PCHECK(memcmp(q, client.b, q_len - cut) == 0);
		}
	}
	if (fail_iter >= 0)
		fprintf(stderr, "  nat_property: first failure at seed %#llx iteration %d\n",
		        (unsigned long long)seed, fail_iter);
}

/* ---- IPv6: addresses and prefixes ---- */

/* Reads a test's own address, which must parse. */
static void a6(uint8_t a[16], const char *s)
{
	unsigned p;

	if (nat_prefix6_parse(s, strlen(s), a, &p) < 0) {
		fprintf(stderr, "  bad test address %s\n", s);
		unit_failed_checks++;
		memset(a, 0, 16);
	}
}

static const struct {
	const char *s;
	int ok;
	const char *canon;      /* nat_addr6_format of the address */
	unsigned prefix;
} prefix6_cases[] = {
	{ "::", 0, "::", 128 },
	{ "::1", 0, "::1", 128 },
	{ "1::", 0, "1::", 128 },
	{ "2001:db8::/32", 0, "2001:db8::", 32 },
	{ "fd00::1", 0, "fd00::1", 128 },
	{ "FD00:0:0:7::2/64", 0, "fd00:0:0:7::2", 64 },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001", 0, "2001:db8::1", 128 },
	{ "2001:db8:0:0:1:0:0:1", 0, "2001:db8::1:0:0:1", 128 },
	{ "2001:db8::1:0:0:1", 0, "2001:db8::1:0:0:1", 128 },
	{ "2001:0:0:1::1", 0, "2001:0:0:1::1", 128 },
	{ "1:2:3:4:5:6:7:8", 0, "1:2:3:4:5:6:7:8", 128 },
	{ "1:2:3:4:5:6:7::", 0, "1:2:3:4:5:6:7:0", 128 },
	{ "::2:3:4:5:6:7:8", 0, "0:2:3:4:5:6:7:8", 128 },
	{ "1:0:3:4:5:6:7:8", 0, "1:0:3:4:5:6:7:8", 128 },
	{ "0001:02:003:4::", 0, "1:2:3:4::", 128 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0", 0,
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "fe80::/10", 0, "fe80::", 10 },
	{ "::/0", 0, "::", 0 },
	{ "::1/128", 0, "::1", 128 },
	{ "::ffff:1.2.3.4", 0, "::ffff:1.2.3.4", 128 },
	{ "::ffff:192.0.2.1/104", 0, "::ffff:192.0.2.1", 104 },
	{ "64:ff9b::198.51.100.7", 0, "64:ff9b::c633:6407", 128 },
	{ "1:2:3:4:5:6:1.2.3.4", 0, "1:2:3:4:5:6:102:304", 128 },
	{ "::1.2.3.4", 0, "::102:304", 128 },
	{ "", -1, NULL, 0 },
	{ ":", -1, NULL, 0 },
	{ ":::", -1, NULL, 0 },
	{ "::::", -1, NULL, 0 },
	{ "1::2::3", -1, NULL, 0 },
	{ "12345::", -1, NULL, 0 },
	{ "::12345", -1, NULL, 0 },
	{ "00001::", -1, NULL, 0 },
	{ "1:2:3:4:5:6:7:8:9", -1, NULL, 0 },
	{ "1:2:3:4:5:6:7:8::", -1, NULL, 0 },
	{ "::1:2:3:4:5:6:7:8", -1, NULL, 0 },
	{ "1:2:3:4::5:6:7:8", -1, NULL, 0 },
	{ "1:2:3:4:5:6:7", -1, NULL, 0 },
	{ ":1::", -1, NULL, 0 },
	{ "1::2:", -1, NULL, 0 },
	{ "1:", -1, NULL, 0 },
	{ ":1", -1, NULL, 0 },
	{ "1:::2", -1, NULL, 0 },
	{ "g::", -1, NULL, 0 },
	{ "::/129", -1, NULL, 0 },
	{ "::/1280", -1, NULL, 0 },
	{ "::/064", -1, NULL, 0 },
	{ "::/", -1, NULL, 0 },
	{ "/64", -1, NULL, 0 },
	{ "::/64/64", -1, NULL, 0 },
	{ "::/-1", -1, NULL, 0 },
	{ "::1 ", -1, NULL, 0 },
	{ " ::1", -1, NULL, 0 },
	{ "::1x", -1, NULL, 0 },
	{ "::1/64x", -1, NULL, 0 },
	{ "fe80::1%eth0", -1, NULL, 0 },
	{ "fe80::1%1/64", -1, NULL, 0 },
	{ "[::1]", -1, NULL, 0 },
	{ "0x1::", -1, NULL, 0 },
	{ "+1::", -1, NULL, 0 },
	{ "1.2.3.4", -1, NULL, 0 },
	{ "::ffff:1.2.3", -1, NULL, 0 },
	{ "::ffff:1.2.3.4.5", -1, NULL, 0 },
	{ "::ffff:1.2.3.256", -1, NULL, 0 },
	{ "::ffff:01.2.3.4", -1, NULL, 0 },
	{ "::1.2.3.4:5", -1, NULL, 0 },
	{ "::1.2.3.4::", -1, NULL, 0 },
	{ "1:2:3:4:5:6:7:1.2.3.4", -1, NULL, 0 },
	{ "1:2:3:4:5:6::1.2.3.4", -1, NULL, 0 },
	{ "::ffff:a.2.3.4", -1, NULL, 0 },
	{ "::.1.2.3", -1, NULL, 0 },
	{ "1::2\n", -1, NULL, 0 },
};

static void prefix6_parse(void)
{
	for (size_t i = 0; i < sizeof prefix6_cases / sizeof prefix6_cases[0]; i++) {
		const char *s = prefix6_cases[i].s;
		size_t len = strlen(s);
		uint8_t a[16], keep[16];
		unsigned p = 999;
		char out[NAT_ADDR6_LEN];
		int r;

		memset(a, 0xa5, 16);
		memcpy(keep, a, 16);
		r = nat_prefix6_parse(s, len, a, &p);
		if (r != prefix6_cases[i].ok)
			fprintf(stderr, "  prefix6 \"%s\"\n", s);
		CHECK(r == prefix6_cases[i].ok);
		if (r == 0) {
			CHECK(p == prefix6_cases[i].prefix);
			CHECK(nat_addr6_format(out, a) == strlen(prefix6_cases[i].canon));
			if (strcmp(out, prefix6_cases[i].canon) != 0)
				fprintf(stderr, "  prefix6 \"%s\" formats as %s\n", s, out);
			CHECK(strcmp(out, prefix6_cases[i].canon) == 0);
		} else {
			CHECK(p == 999 && memcmp(a, keep, 16) == 0);
		}
		/* Each truncation, in a buffer of exactly its length (ASan sees a
		 * read past it), judged as the NUL-terminated copy is. */
		for (size_t k = 0; k <= len; k++) {
			char *cut = malloc(k ? k : 1), z[64];
			struct nat_cidr6 c;
			unsigned p2;

			memcpy(cut, s, k);
			memcpy(z, s, k);
			z[k] = '\0';
			CHECK((nat_prefix6_parse(cut, k, a, &p2) == 0) == (nat_cidr6_parse(&c, z) == 0));
			free(cut);
		}
	}
	/* The bytes, and the host bits cleared by nat_cidr6_parse. */
	uint8_t a[16];
	unsigned p;
	struct nat_cidr6 c;
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x12, 0x34 };

	CHECK(nat_prefix6_parse("2001:db8::1234/32", 17, a, &p) == 0 && p == 32 &&
	      memcmp(a, want, 16) == 0);
	CHECK(nat_cidr6_parse(&c, "2001:db8::1234/32") == 0 && c.len == 32 &&
	      memcmp(c.addr, want, 4) == 0 && memcmp(c.addr + 4, (uint8_t[12]){ 0 }, 12) == 0);
	CHECK(nat_cidr6_parse(&c, "ffff:ffff::/9") == 0 && c.len == 9 && c.addr[0] == 0xff &&
	      c.addr[1] == 0x80 && c.addr[2] == 0);
	CHECK(nat_cidr6_parse(&c, "::1") == 0 && c.len == 128 && c.addr[15] == 1);
	CHECK(nat_cidr6_parse(&c, NULL) == -1);
	/* The length bounds the read. */
	CHECK(nat_prefix6_parse("fd00::1/64junk", 10, a, &p) == 0 && p == 64);
	CHECK(nat_prefix6_parse("fd00::1/64junk", 11, a, &p) == -1);
	CHECK(nat_prefix6_parse("fd00::12", 7, a, &p) == 0 && a[15] == 1 && p == 128);
	static const char nul[] = "fd00::1\0/8";
	CHECK(nat_prefix6_parse(nul, sizeof nul - 1, a, &p) == -1);
	CHECK(nat_prefix6_parse(NULL, 0, a, &p) == -1);
	/* The IPv4 parser still refuses IPv6, and this one IPv4. */
	CHECK(nat_prefix6_parse("10.0.0.1", 8, a, &p) == -1);
}

/* Random addresses: formatted, parsed back to the same bytes; zero runs. */
static void addr6_format(void)
{
	uint8_t a[16], b[16];
	char out[NAT_ADDR6_LEN];
	unsigned p;

	unit_seed(0x5952);
	for (int i = 0; i < 20000; i++) {
		size_t len;

		rfill(a, 16);
		for (int g = 0; g < 8; g++)          /* many zero groups */
			if (unit_rn(2))
				a[2 * g] = a[2 * g + 1] = 0;
		if (unit_rn(8) == 0)
			memcpy(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		len = nat_addr6_format(out, a);
		CHECK(len == strlen(out) && len < NAT_ADDR6_LEN);
		CHECK(nat_prefix6_parse(out, len, b, &p) == 0 && p == 128 && memcmp(a, b, 16) == 0);
		CHECK(!strstr(out, ":0:0:") || strstr(out, "::"));   /* a run is compressed */
		CHECK(!strstr(out, ":::"));
		for (const char *q = out; *q; q++)
			CHECK((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || *q == ':' ||
			      *q == '.');
	}
	/* RFC 5952 §4.2.2: one zero group is not compressed; §4.2.3: the first
	 * of equal runs is. */
	a6(a, "2001:db8:0:1:1:1:1:1");
	nat_addr6_format(out, a);
	CHECK(strcmp(out, "2001:db8:0:1:1:1:1:1") == 0);
	a6(a, "2001:0:0:1:0:0:1:1");
	nat_addr6_format(out, a);
	CHECK(strcmp(out, "2001::1:0:0:1:1") == 0);
	a6(a, "1:0:0:2:0:0:0:3");
	nat_addr6_format(out, a);
	CHECK(strcmp(out, "1:0:0:2::3") == 0);
	memset(a, 0xff, 16);
	CHECK(nat_addr6_format(out, a) == 39);
}

/* Each default entry: its ends and middle as the registry says; just outside. */
static void acl6_defaults(void)
{
	static const struct {
		const char *lo, *hi;
		bool permit;
	} t[] = {
		{ "::", "::", false },
		{ "::1", "::1", false },
		{ "::2", "::ffff", true },
		{ "::ffff:0.0.0.0", "::ffff:255.255.255.255", false },
		{ "::1:0:0:0", "::1:0:0:0", true },
		{ "64:ff9b::", "64:ff9b::ffff:ffff", true },     /* global NAT64 */
		{ "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false },
		{ "64:ff9b:2::", "64:ff9b:2::", true },
		{ "100::", "100::ffff:ffff:ffff:ffff", false },
		{ "100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff", false },
		{ "100:0:0:2::", "100:0:0:2::", true },
		{ "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", true },  /* Teredo */
		{ "2001:1::", "2001:1::", false },
		{ "2001:1::1", "2001:1::3", true },
		{ "2001:1::4", "2001:1:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "2001:4::", "2001:4:111:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff", true },
		{ "2001:4:113::", "2001:f:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:20::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "2001:40::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:200::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2001:db9::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "3fff:1000::", "3fff:1000::", true },
		{ "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "5f01::", "5f01::", true },
		{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "fe00::", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ "2606:4700:4700::1111", "2a00:1450:4001:80e::200e", true },
	};
	struct nat_acl acl;
	uint8_t lo[16], hi[16];

	nat_acl_init(&acl);
	CHECK(acl.n_allow6 == 0 && acl.n_deny6 == 0);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		a6(lo, t[i].lo);
		a6(hi, t[i].hi);
		if (nat_acl_permits6(&acl, lo) != t[i].permit ||
		    nat_acl_permits6(&acl, hi) != t[i].permit)
			fprintf(stderr, "  acl6 %s .. %s\n", t[i].lo, t[i].hi);
		CHECK(nat_acl_permits6(&acl, lo) == t[i].permit);
		CHECK(nat_acl_permits6(&acl, hi) == t[i].permit);
	}
}

static void acl6_override(void)
{
	struct nat_acl acl;
	struct nat_cidr6 c;
	uint8_t a[16];

	nat_acl_init(&acl);
	a6(a, "2001:db8::80");
	CHECK(!nat_acl_permits6(&acl, a));
	CHECK(nat_cidr6_parse(&c, "2001:db8::/32") == 0);
	CHECK(nat_acl_allow6(&acl, c) == 0);
	CHECK(nat_acl_permits6(&acl, a));
	CHECK(nat_cidr6_parse(&c, "2606:4700::/32") == 0);
	CHECK(nat_acl_deny6(&acl, c) == 0);
	a6(a, "2606:4700::1111");
	CHECK(!nat_acl_permits6(&acl, a));
	a6(a, "2606:4701::1111");
	CHECK(nat_acl_permits6(&acl, a));
	/* A deny6 entry wins over the default table's reachable ones. */
	CHECK(nat_cidr6_parse(&c, "2001:4:112::/48") == 0);
	a6(a, "2001:4:112::1");
	CHECK(nat_acl_permits6(&acl, a));
	CHECK(nat_acl_deny6(&acl, c) == 0);
	CHECK(!nat_acl_permits6(&acl, a));
	/* allow6 wins over deny6 */
	CHECK(nat_cidr6_parse(&c, "2001:4:112::1") == 0);
	CHECK(nat_acl_allow6(&acl, c) == 0);
	CHECK(nat_acl_permits6(&acl, a));
	a6(a, "2001:4:112::2");
	CHECK(!nat_acl_permits6(&acl, a));
	/* The IPv4 lists are not touched, nor the other way round. */
	CHECK(acl.n_allow == 0 && acl.n_deny == 14);
	CHECK(nat_acl_permits(&acl, ip4(8, 8, 8, 8)));
	/* the lists are bounded; a length over 128 is refused */
	c.len = 129;
	CHECK(nat_acl_allow6(&acl, c) == -1);
	c.len = 128;
	while (acl.n_allow6 < NAT_ACL_MAX)
		CHECK(nat_acl_allow6(&acl, c) == 0);
	CHECK(nat_acl_allow6(&acl, c) == -1);
	while (acl.n_deny6 < NAT_ACL_MAX)
		CHECK(nat_acl_deny6(&acl, c) == 0);
	CHECK(nat_acl_deny6(&acl, c) == -1);
	/* nat_cidr6_match: prefix lengths at and off byte edges */
	struct nat_cidr6 l[2];
	CHECK(nat_cidr6_parse(&l[0], "fd00:1:2:3::/63") == 0);
	CHECK(nat_cidr6_parse(&l[1], "::/0") == 0);
	a6(a, "fd00:1:2:2:ffff::");
	CHECK(nat_cidr6_match(l, 1, a));
	a6(a, "fd00:1:2:4::");
	CHECK(!nat_cidr6_match(l, 1, a));
	CHECK(nat_cidr6_match(l, 2, a));
	CHECK(!nat_cidr6_match(l, 0, a));
}

/* ---- IPv6 packets: helpers ---- */

/* RFC 8200 §8.1: the pseudo-header's sum. */
static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t nh, size_t len)
{
	uint32_t s = ref_sum(src, 16, 0);

	s = ref_sum(dst, 16, s);
	return s + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + nh;
}

/* The fixed header: payload length plen, next header nh. */
static void hdr6(uint8_t *p, size_t plen, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)plen);
	p[6] = nh;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
}

/* A UDP packet src -> dst (8 + 4 bytes) after the extension bytes ext. */
static size_t udp6_packet(uint8_t *p, const uint8_t *src, const uint8_t *dst,
                          const uint8_t *ext, size_t ext_len, uint8_t first_nh)
{
	size_t len = 40 + ext_len + 12;
	uint8_t *u = p + 40 + ext_len;

	hdr6(p, len - 40, ext_len ? first_nh : 17, src, dst);
	if (ext_len)
		memcpy(p + 40, ext, ext_len);
	put16(u, 4000);
	put16(u + 2, 53);
	put16(u + 4, 12);
	put16(u + 6, 0);
	memcpy(u + 8, "ping", 4);
	put16(u + 6, ref_fin(ref_sum(u, 12, pseudo6(src, dst, 17, 12))));
	if (get16(u + 6) == 0)
		put16(u + 6, 0xffff);
	return len;
}

static bool udp6_ok(const uint8_t *p, size_t at)
{
	size_t len = get16(p + at + 4);
	uint16_t c = ref_field(p + at, len, 6, pseudo6(p + 8, p + 24, 17, len));

	return get16(p + at + 6) == (c ? c : 0xffff);
}

/* A TCP packet src -> dst with the given flags and options. */
static size_t tcp6_packet(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t flags,
                          const uint8_t *opt, size_t opt_len)
{
	size_t doff = 20 + (opt_len + 3) / 4 * 4, len = 40 + doff;
	uint8_t *t = p + 40;

	hdr6(p, doff, 6, src, dst);
	memset(t, 0, doff);
	put16(t, 40000);
	put16(t + 2, 443);
	put32(t + 4, 0x12345678);
	t[12] = (uint8_t)(doff / 4 << 4);
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, opt, opt_len);
	put16(t + 16, ref_fin(ref_sum(t, doff, pseudo6(src, dst, 6, doff))));
	return len;
}

static bool tcp6_ok(const uint8_t *p, size_t len)
{
	return ref_field(p + 40, len - 40, 16, pseudo6(p + 8, p + 24, 6, len - 40)) ==
	       get16(p + 56);
}

/* The tables used below: fd00:0:0:7::/64 for the slot. */
static void table6(struct nat *n, struct nat_acl *acl, uint16_t mss)
{
	uint8_t pre[16];
	struct nat_cidr6 c;

	nat_acl_init(acl);
	CHECK(nat_cidr6_parse(&c, "2001:db8::/32") == 0);
	CHECK(nat_acl_allow6(acl, c) == 0);
	nat_init(n, ip4(10, 0, 100, 0), 24, mss);
	a6(pre, "fd00:0:0:7::1234/64");
	CHECK(nat_init6(n, pre, 64) == 0);
}

static void init6_caps(void)
{
	static const struct {
		unsigned len, cap;
		int ok;
	} t[] = {
		{ 0, 0, -1 }, { 1, 32, 0 }, { 48, 32, 0 }, { 64, 32, 0 }, { 122, 32, 0 },
		{ 123, 30, 0 }, { 124, 14, 0 }, { 125, 6, 0 }, { 126, 2, 0 },
		{ 127, 0, -1 }, { 128, 0, -1 }, { 200, 0, -1 },
	};
	struct nat n;
	uint8_t pre[16];

	a6(pre, "fd00:0:0:7:ffff:ffff:ffff:ffff");
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		nat_init(&n, ip4(10, 0, 100, 0), 24, 1400);
		CHECK(n.cap6 == 0);
		CHECK(nat_init6(&n, pre, t[i].len) == t[i].ok);
		CHECK(n.cap6 == t[i].cap);
		CHECK(n.n6 == 0 && n.cap == 32 && n.mss == 1400);
	}
	/* The host bits go. */
	nat_init(&n, ip4(10, 0, 100, 0), 24, 0);
	CHECK(nat_init6(&n, pre, 64) == 0);
	CHECK(memcmp(n.net6, pre, 8) == 0 && memcmp(n.net6 + 8, (uint8_t[8]){ 0 }, 8) == 0);
}

/* nat_check6, case by case. */
static void check6_errors(void)
{
	static uint8_t src[16], dst[16], p[256], q[256];
	static const uint8_t hop[8] = { 17, 0, 1, 4, 0, 0, 0, 0 };      /* PadN */
	static const uint8_t hop_dst[16] = { 60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0 };
	static const uint8_t frag0[8] = { 17, 0, 0, 0, 1, 2, 3, 4 };     /* atomic */
	static const uint8_t rt[24] = { 17, 2, 0, 0 };
	struct nat n;
	size_t len;

	a6(src, "fd00:99::5");
	a6(dst, "2001:db8::80");

	len = udp6_packet(p, src, dst, NULL, 0, 0);
	CHECK(nat_check6(p, len) == DROP_NONE);
	CHECK(nat_check(p, len) == DROP_IPV6);
	/* A table without IPv6 says DROP_IPV6 to any IPv6 bytes. */
	nat_init(&n, ip4(10, 0, 100, 0), 24, 0);
	CHECK(nat_check_slot(&n, p, len) == DROP_IPV6);
	CHECK(nat_check_slot(&n, p, 1) == DROP_IPV6);
	CHECK(nat_check_slot(&n, p, 0) == DROP_MALFORMED);
	len = good_packet(q, 20);
	CHECK(nat_check_slot(&n, q, len) == DROP_NONE);
	q[8] ^= 1;
	CHECK(nat_check_slot(&n, q, len) == DROP_CHECKSUM);
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	CHECK(nat_init6(&n, dst, 64) == 0);
	CHECK(nat_check_slot(&n, p, len) == DROP_NONE);
	CHECK(nat_check_slot(&n, p, len - 1) == DROP_MALFORMED);

	/* Lengths: the header, and payload length + 40 == len exactly. */
	CHECK(nat_check6(p, 0) == DROP_MALFORMED);
	CHECK(nat_check6(p, 39) == DROP_MALFORMED);
	CHECK(nat_check6(p, len - 1) == DROP_MALFORMED);
	CHECK(nat_check6(p, len + 1) == DROP_MALFORMED);
	put16(p + 4, (uint16_t)(len - 41));
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	put16(p + 4, (uint16_t)(len - 39));
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	put16(p + 4, 0);                                 /* a jumbogram */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	put16(p + 4, (uint16_t)(len - 40));
	p[0] = 0x50;
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	p[0] = 0x45;
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	p[0] = 0x6f;                                     /* traffic class bits */
	CHECK(nat_check6(p, len) == DROP_NONE);
	/* 40 bytes and no payload: No Next Header is fine, UDP is not. */
	hdr6(p, 0, 59, src, dst);
	CHECK(nat_check6(p, 40) == DROP_NONE);
	hdr6(p, 0, 17, src, dst);
	CHECK(nat_check6(p, 40) == DROP_MALFORMED);

	/* Upper layers. */
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	put16(p + 46, 0);                                /* UDP checksum 0 */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	put16(p + 44, 11);                               /* UDP length */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	put16(p + 44, 13);
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	put16(p + 44, 7);
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	len = tcp6_packet(p, src, dst, 0x02, (const uint8_t[]){ 2, 4, 5, 0xb4 }, 4);
	CHECK(nat_check6(p, len) == DROP_NONE);
	p[52] = 0x70;                                    /* data offset 28 > 24 */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	p[52] = 0x40;                                    /* 16 < 20 */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	hdr6(p, 19, 6, src, dst);
	CHECK(nat_check6(p, 59) == DROP_MALFORMED);
	hdr6(p, 4, 58, src, dst);
	CHECK(nat_check6(p, 44) == DROP_NONE);
	hdr6(p, 3, 58, src, dst);
	CHECK(nat_check6(p, 43) == DROP_MALFORMED);
	/* Forwarded as they are, or refused: nat.h's lists. */
	static const struct {
		uint8_t nh;
		enum drop want;
	} up[] = {
		{ 4, DROP_NONE }, { 41, DROP_NONE }, { 47, DROP_NONE }, { 50, DROP_NONE },
		{ 59, DROP_NONE }, { 97, DROP_NONE }, { 132, DROP_NONE }, { 137, DROP_NONE },
		{ 1, DROP_MALFORMED }, { 33, DROP_MALFORMED }, { 51, DROP_MALFORMED },
		{ 135, DROP_MALFORMED }, { 136, DROP_MALFORMED }, { 139, DROP_MALFORMED },
		{ 140, DROP_MALFORMED }, { 200, DROP_MALFORMED }, { 253, DROP_MALFORMED },
		{ 255, DROP_MALFORMED },
	};
	for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
		hdr6(p, 24, up[i].nh, src, dst);
		memset(p + 40, 0x11, 24);
		CHECK(nat_check6(p, 64) == up[i].want);
	}

	/* Extension headers, walked, each length checked. */
	len = udp6_packet(p, src, dst, hop, 8, 0);
	CHECK(nat_check6(p, len) == DROP_NONE);
	CHECK(nat_check6(p, len - 1) == DROP_MALFORMED);
	len = udp6_packet(p, src, dst, hop_dst, 16, 0);
	CHECK(nat_check6(p, len) == DROP_NONE);
	p[49] = 1;                                       /* dstopts: 16 bytes */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	p[49] = 3;                                       /* past the end */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	len = udp6_packet(p, src, dst, hop_dst, 16, 60); /* hop-by-hop second */
	p[40] = 0;
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	len = udp6_packet(p, src, dst, frag0, 8, 44);
	CHECK(nat_check6(p, len) == DROP_NONE);
	len = udp6_packet(p, src, dst, rt, 24, 43);
	CHECK(nat_check6(p, len) == DROP_NONE);
	p[41] = 1;                                       /* 16 bytes: UDP at 56 */
	CHECK(nat_check6(p, len) == DROP_MALFORMED);
	/* Truncated: the chain claims more than is there. */
	for (size_t cut = 40; cut < 64; cut++) {
		len = udp6_packet(p, src, dst, rt, 24, 43);
		hdr6(p, cut - 40, 43, src, dst);
		CHECK(nat_check6(p, cut) == DROP_MALFORMED);
	}
	/* Two routing headers, two fragment headers, three dstopts. */
	{
		uint8_t e[40] = { 43, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0 };

		len = udp6_packet(p, src, dst, e, 16, 43);
		CHECK(nat_check6(p, len) == DROP_MALFORMED);
		e[0] = 44;
		e[8] = 17;
		len = udp6_packet(p, src, dst, e, 16, 44);
		CHECK(nat_check6(p, len) == DROP_MALFORMED);
		memset(e, 0, sizeof e);
		e[0] = 60;
		e[8] = 17;
		len = udp6_packet(p, src, dst, e, 16, 60);  /* two: fine */
		CHECK(nat_check6(p, len) == DROP_NONE);
		e[8] = 60;
		e[16] = 17;
		len = udp6_packet(p, src, dst, e, 24, 60);
		CHECK(nat_check6(p, len) == DROP_MALFORMED);
	}
	/* A later fragment carries no upper-layer header: anything goes. */
	{
		uint8_t e[8] = { 51, 0, 0, 0x08, 1, 2, 3, 4 };

		hdr6(p, 8 + 3, 44, src, dst);
		memcpy(p + 40, e, 8);
		CHECK(nat_check6(p, 51) == DROP_NONE);
		hdr6(p, 8, 44, src, dst);
		CHECK(nat_check6(p, 48) == DROP_NONE);
		hdr6(p, 7, 44, src, dst);
		CHECK(nat_check6(p, 47) == DROP_MALFORMED);
		/* A first fragment (M set) needs its upper-layer header whole. */
		e[0] = 17;
		e[3] = 0x01;
		hdr6(p, 8 + 4, 44, src, dst);
		memcpy(p + 40, e, 8);
		put32(p + 48, 0x0fa00035);
		CHECK(nat_check6(p, 52) == DROP_MALFORMED);
		hdr6(p, 8 + 16, 44, src, dst);
		put16(p + 52, 400);                          /* the datagram's length */
		put16(p + 54, 0x1234);
		CHECK(nat_check6(p, 64) == DROP_NONE);
		put16(p + 52, 15);                           /* less than is here */
		CHECK(nat_check6(p, 64) == DROP_MALFORMED);
	}
}

/* The shared budget: 32 sources, whatever their family; then reset. */
static void map6_full(void)
{
	struct nat n;
	struct nat_acl acl;
	uint8_t p[128], src[16], dst[16], want[16];
	size_t len;

	a6(dst, "2001:db8::80");
	for (unsigned v4 = 0; v4 <= NAT_MAX_MAP; v4 += 8) {
		table6(&n, &acl, 0);
		for (unsigned i = 0; i < NAT_MAX_MAP; i++) {
			if (i < v4) {
				len = udp_packet(p, ip4(172, 20, 0, i + 1), ip4(93, 184, 216, 34));
				CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
				CHECK(get32(p + 12) == ip4(10, 0, 100, 2 + i));
				continue;
			}
			a6(src, "fd00:99::");
			src[15] = (uint8_t)i;
			len = udp6_packet(p, src, dst, NULL, 0, 0);
			CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
			a6(want, "fd00:0:0:7::2");
			want[15] = (uint8_t)(2 + i - v4);
			CHECK(memcmp(p + 8, want, 16) == 0);
			CHECK(udp6_ok(p, 40));
		}
		CHECK(n.n == v4 && n.n + n.n6 == NAT_MAX_MAP);
		/* A 33rd, of either family, is refused, untouched. */
		a6(src, "fd00:99::ff");
		len = udp6_packet(p, src, dst, NULL, 0, 0);
		CHECK(nat_out(&n, &acl, p, len) == DROP_MAP_FULL);
		CHECK(memcmp(p + 8, src, 16) == 0);
		len = udp_packet(p, ip4(172, 20, 0, 99), ip4(93, 184, 216, 34));
		CHECK(nat_out(&n, &acl, p, len) == DROP_MAP_FULL);
		CHECK(get32(p + 12) == ip4(172, 20, 0, 99));
		/* Known sources still pass; replies come back or are not ours. */
		if (v4 < NAT_MAX_MAP) {
			a6(src, "fd00:99::");
			src[15] = (uint8_t)v4;
			len = udp6_packet(p, src, dst, NULL, 0, 0);
			CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
			a6(want, "fd00:0:0:7::2");
			len = udp6_packet(p, dst, want, NULL, 0, 0);
			CHECK(nat_in(&n, p, len) == DROP_NONE);
			CHECK(memcmp(p + 24, src, 16) == 0 && udp6_ok(p, 40));
			want[15] = (uint8_t)(2 + NAT_MAX_MAP - v4 - 1);
			len = udp6_packet(p, dst, want, NULL, 0, 0);
			CHECK(nat_in(&n, p, len) == DROP_NONE);
			want[15]++;
			len = udp6_packet(p, dst, want, NULL, 0, 0);
			CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		}
		/* The gateway's own ::1, the anycast ::0, another prefix: not ours. */
		a6(want, "fd00:0:0:7::1");
		len = udp6_packet(p, dst, want, NULL, 0, 0);
		CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		a6(want, "fd00:0:0:7::");
		len = udp6_packet(p, dst, want, NULL, 0, 0);
		CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		a6(want, "fd00:0:0:8::2");
		len = udp6_packet(p, dst, want, NULL, 0, 0);
		CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		a6(want, "fd00:0:1:7::2");
		len = udp6_packet(p, dst, want, NULL, 0, 0);
		CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		/* reset forgets both families */
		nat_reset(&n);
		CHECK(n.n == 0 && n.n6 == 0 && n.cap6 == 32);
		a6(want, "fd00:0:0:7::2");
		len = udp6_packet(p, dst, want, NULL, 0, 0);
		CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		len = udp_packet(p, ip4(93, 184, 216, 34), ip4(10, 0, 100, 2));
		CHECK(nat_in(&n, p, len) == DROP_NOT_MAPPED);
		a6(src, "fd00:99::ff");
		len = udp6_packet(p, src, dst, NULL, 0, 0);
		CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
		CHECK(memcmp(p + 8, want, 16) == 0);
	}
	/* A /126 holds two. */
	table6(&n, &acl, 0);
	a6(want, "fd00::");
	CHECK(nat_init6(&n, want, 126) == 0);
	for (unsigned i = 0; i < 3; i++) {
		a6(src, "fd00:99::");
		src[15] = (uint8_t)i;
		len = udp6_packet(p, src, dst, NULL, 0, 0);
		CHECK(nat_out(&n, &acl, p, len) == (i < 2 ? DROP_NONE : DROP_MAP_FULL));
	}
}

/* Denied destinations, and what a table without IPv6 says. */
static void out6_denied(void)
{
	static const char *const denied[] = {
		"::1", "::", "::ffff:8.8.8.8", "64:ff9b:1::1", "100::1", "2001:2::1",
		"2001:10::1", "3fff::1", "5f00::1", "fd12:3456::1", "fe80::1", "ff02::1",
		"ff0e::101", "2001:1::9",
	};
	struct nat n;
	struct nat_acl acl;
	uint8_t p[128], c[128], src[16], dst[16];
	size_t len;

	table6(&n, &acl, 0);
	a6(src, "fd00:99::5");
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		a6(dst, denied[i]);
		len = udp6_packet(p, src, dst, NULL, 0, 0);
		memcpy(c, p, len);
		CHECK(nat_out(&n, &acl, p, len) == DROP_DENIED);
		CHECK(memcmp(p, c, len) == 0 && n.n6 == 0);
	}
	/* The documentation range is refused by default, as IPv4's TEST-NETs. */
	nat_acl_init(&acl);
	a6(dst, "2001:db8::80");
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	CHECK(nat_out(&n, &acl, p, len) == DROP_DENIED);
	a6(dst, "2606:4700:4700::1111");
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
	/* Malformed is said before denied, as for IPv4. */
	a6(dst, "fe80::1");
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	CHECK(nat_out(&n, &acl, p, len - 1) == DROP_MALFORMED);
	CHECK(nat_in(&n, p, len - 1) == DROP_MALFORMED);
	CHECK(nat_in(&n, p, 39) == DROP_MALFORMED);
	CHECK(nat_out(&n, &acl, p, 1) == DROP_MALFORMED);
	/* Without nat_init6: DROP_IPV6, the bytes untouched. */
	nat_init(&n, ip4(10, 0, 100, 0), 24, 1400);
	a6(dst, "2001:db8::80");
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	memcpy(c, p, len);
	CHECK(nat_out(&n, &acl, p, len) == DROP_IPV6);
	CHECK(nat_out(&n, &acl, p, 1) == DROP_IPV6);
	CHECK(nat_in(&n, p, len) == DROP_IPV6);
	CHECK(nat_in(&n, p, 3) == DROP_IPV6);
	CHECK(memcmp(p, c, len) == 0);
	CHECK(nat_check(p, len) == DROP_IPV6);
}

/* UDP over IPv6: a computed 0 goes out as all ones, both ways. */
static void udp6_zero(void)
{
	struct nat n;
	struct nat_acl acl;
	uint8_t p[128], q[128], src[16], dst[16], mapped[16];
	size_t len;

	a6(src, "fd00:99::5");
	a6(dst, "2001:db8::80");
	a6(mapped, "fd00:0:0:7::2");
	for (int dir = 0; dir < 2; dir++) {
		const uint8_t *a = dir ? dst : src, *b = dir ? mapped : dst;
		const uint8_t *na = dir ? dst : mapped, *nb = dir ? src : dst;

		len = udp6_packet(p, a, b, NULL, 0, 0);
		/* the payload word that makes the rewritten packet sum to -0 */
		put16(p + 46, 0);
		put16(p + 48, 0);
		put16(p + 48, ref_fin(ref_sum(p + 40, 12, pseudo6(na, nb, 17, 12))));
		put16(p + 46, ref_fin(ref_sum(p + 40, 12, pseudo6(a, b, 17, 12))));
		CHECK(get16(p + 46) != 0);
		table6(&n, &acl, 0);
		if (dir) {
			size_t qlen = udp6_packet(q, src, dst, NULL, 0, 0);

			CHECK(nat_out(&n, &acl, q, qlen) == DROP_NONE);
			CHECK(nat_in(&n, p, len) == DROP_NONE);
		} else {
			CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
		}
		CHECK(get16(p + 46) == 0xffff);
		CHECK(ref_field(p + 40, 12, 6, pseudo6(p + 8, p + 24, 17, 12)) == 0);
	}
}

/* ICMPv6 messages from the Internet: which quotes are rewritten, and how. */
static void icmp6_errors(void)
{
	static const struct {
		uint8_t type;
		int inner;      /* 0 as sent; 1 its UDP checksum 0; 2 version 4; 3 another source */
		size_t q_len;   /* bytes of it quoted; 0 all */
		bool rewritten;
	} t[] = {
		{ 1, 0, 0, true }, { 2, 0, 0, true }, { 3, 0, 0, true }, { 4, 0, 0, true },
		{ 2, 0, 40, true }, { 2, 0, 47, true }, { 2, 0, 48, true }, { 2, 0, 39, false },
		{ 1, 1, 0, true }, { 1, 2, 0, false }, { 1, 3, 0, false },
		{ 0, 0, 0, false }, { 5, 0, 0, false }, { 127, 0, 0, false },
		{ 128, 0, 0, false }, { 129, 0, 0, false },
	};
	struct nat n;
	struct nat_acl acl;
	uint8_t p[256], q[128], before[128], orig[128], src[16], dst[16], mapped[16], router[16];
	size_t q_len, len;

	a6(src, "fd00:99::5");
	a6(dst, "2001:db8::80");
	a6(mapped, "fd00:0:0:7::2");
	a6(router, "2001:db8:ffff::1");
	udp6_packet(orig, src, dst, NULL, 0, 0);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		table6(&n, &acl, 0);
		q_len = udp6_packet(q, src, dst, NULL, 0, 0);
		CHECK(nat_out(&n, &acl, q, q_len) == DROP_NONE);
		if (t[i].inner == 1)
			put16(q + 46, 0);
		if (t[i].inner == 2)
			q[0] = 0x45;
		if (t[i].inner == 3)
			q[23] = 9;
		memcpy(before, q, q_len);
		if (t[i].q_len)
			q_len = t[i].q_len;
		hdr6(p, 8 + q_len, 58, router, mapped);
		p[40] = t[i].type;
		memset(p + 41, 0, 7);
		put32(p + 44, 1280);
		memcpy(p + 48, q, q_len);
		len = 48 + q_len;
		put16(p + 42, ref_fin(ref_sum(p + 40, 8 + q_len, pseudo6(router, mapped, 58, 8 + q_len))));
		CHECK(nat_in(&n, p, len) == DROP_NONE);
		CHECK(memcmp(p + 24, src, 16) == 0);
		CHECK(ref_field(p + 40, 8 + q_len, 2, pseudo6(router, src, 58, 8 + q_len)) ==
		      get16(p + 42));
		if (!t[i].rewritten) {
			CHECK(memcmp(p + 48, before, q_len) == 0);
			continue;
		}
		CHECK(memcmp(p + 48 + 8, src, 16) == 0);
		CHECK(memcmp(p + 48, before, 8) == 0 && memcmp(p + 48 + 24, before + 24, 16) == 0);
		if (t[i].inner == 1)
			CHECK(get16(p + 48 + 46) == 0);
		else if (q_len >= 48)      /* the client's own checksum again */
			CHECK(get16(p + 48 + 46) == get16(orig + 46) &&
			      (q_len < 52 || udp6_ok(p + 48, 40)));
		else
			CHECK(memcmp(p + 88, before + 40, q_len - 40) == 0);
	}
}

/* IPv6 SYNs are clamped to mss - 20, both ways, with and without options before. */
static void mss6_clamp(void)
{
	static const struct {
		uint8_t flags;
		uint8_t opt[16];
		size_t opt_len, at;
		uint16_t mss, want;
	} t[] = {
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 1420, 1400 },
		{ 0x12, { 2, 4, 0x05, 0xb4 }, 4, 22, 1420, 1400 },
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 1480, 1460 },  /* equal stays */
		{ 0x02, { 2, 4, 0x05, 0x00 }, 4, 22, 1420, 1280 },  /* lower stays */
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 0, 1460 },     /* off */
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 20, 1460 },    /* nothing left */
		{ 0x02, { 2, 4, 0x05, 0xb4 }, 4, 22, 21, 1 },
		{ 0x10, { 2, 4, 0x05, 0xb4 }, 4, 22, 1420, 1460 },  /* not a SYN */
		{ 0x02, { 1, 2, 4, 0x23, 0x28 }, 5, 23, 1380, 1360 },/* odd offset */
		{ 0x02, { 0, 2, 4, 0x05, 0xb4 }, 5, 23, 1020, 1460 },/* after EOL */
	};
	struct nat n;
	struct nat_acl acl;
	uint8_t p[128], src[16], dst[16], mapped[16];
	size_t len;

	a6(src, "fd00:99::5");
	a6(dst, "2001:db8::80");
	a6(mapped, "fd00:0:0:7::2");
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		for (int dir = 0; dir < 2; dir++) {
			table6(&n, &acl, t[i].mss);
			len = tcp6_packet(p, src, dst, t[i].flags, t[i].opt, t[i].opt_len);
			CHECK(nat_out(&n, &acl, p, len) == DROP_NONE);
			if (dir) {
				len = tcp6_packet(p, dst, mapped, t[i].flags, t[i].opt, t[i].opt_len);
				CHECK(nat_in(&n, p, len) == DROP_NONE);
				CHECK(memcmp(p + 24, src, 16) == 0);
			}
			if (get16(p + 40 + t[i].at) != t[i].want)
				fprintf(stderr, "  mss6 case %zu dir %d\n", i, dir);
			CHECK(get16(p + 40 + t[i].at) == t[i].want);
			CHECK(nat_check6(p, len) == DROP_NONE);
			CHECK(tcp6_ok(p, len));
		}
	}
}

/* nat_flow: IPv6 flows differ by address, port and id; short ones are 0. */
static void flow6(void)
{
	uint8_t p[128], q[128], src[16], dst[16];
	size_t len;
	uint32_t h;
	static const uint8_t hop[8] = { 17, 0, 1, 4, 0, 0, 0, 0 };

	a6(src, "fd00:99::5");
	a6(dst, "2001:db8::80");
	len = udp6_packet(p, src, dst, NULL, 0, 0);
	h = nat_flow(p, len);
	for (size_t k = 0; k < 40; k++)
		CHECK(nat_flow(p, k) == 0);
	CHECK(nat_flow(p, 40) != 0);
	/* The same flow behind a hop-by-hop header hashes the same. */
	len = udp6_packet(q, src, dst, hop, 8, 0);
	CHECK(nat_flow(q, len) == h);
	memcpy(q, p, 64);
	put16(q + 42, 54);
	CHECK(nat_flow(q, len) != h);                    /* destination port */
	memcpy(q, p, 64);
	q[39] ^= 1;
	CHECK(nat_flow(q, len) != h);                    /* destination address */
	memcpy(q, p, 64);
	q[8] ^= 0x80;
	CHECK(nat_flow(q, len) != h);                    /* source address */
	memcpy(q, p, 64);
	q[49] ^= 1;
	CHECK(nat_flow(q, len) == h);                    /* payload */
	q[1] ^= 1;
	CHECK(nat_flow(q, len) == h);                    /* traffic class */
	/* ICMPv6 echo: the identifier counts, the sequence does not. */
	hdr6(p, 8, 58, src, dst);
	p[40] = 128;
	put16(p + 44, 7);
	put16(p + 46, 1);
	h = nat_flow(p, 48);
	put16(p + 46, 2);
	CHECK(nat_flow(p, 48) == h);
	put16(p + 44, 8);
	CHECK(nat_flow(p, 48) != h);
	/* A truncated chain: still a hash, from the addresses. */
	hdr6(p, 100, 0, src, dst);
	CHECK(nat_flow(p, 44) != 0);
}

/* ---- The IPv6 randomized property test ---- */

enum kind6 { K6_TCP, K6_UDP, K6_ECHO, K6_OTHER, K6_ERR, K6_N };

/* An IPv6 packet carrying all of a dgram, or a fragment of it. */
struct pkt6 {
	uint8_t b[1600];
	size_t len;
	size_t l4;           /* the upper layer's offset, or the later fragment's data */
	size_t part;         /* L4 bytes of the dgram carried: all, or a prefix */
	bool later;
};

/* The checksum of a dgram's upper layer, for the pseudo-header src -> dst. */
static void sum6(struct dgram *d, const uint8_t *src, const uint8_t *dst)
{
	size_t ck = d->proto == 6 ? 16 : d->proto == 17 ? 6 : 2;
	uint16_t c;

	put16(d->l4 + ck, 0);
	c = ref_fin(ref_sum(d->l4, d->len, pseudo6(src, dst, d->proto, d->len)));
	put16(d->l4 + ck, d->proto == 17 && c == 0 ? 0xffff : c);
}

static void gen6_l4(struct dgram *d, enum kind6 k, const uint8_t *src, const uint8_t *dst)
{
	static const uint8_t plain[] = { 4, 41, 47, 50, 59, 97, 132, 137 };

	d->mss_at = 0;
	d->syn = false;
	switch (k) {
	case K6_TCP:
		gen_tcp(d, 0, 0);
		sum6(d, src, dst);
		break;
	case K6_UDP:
		gen_udp(d, 0, 0, false);
		sum6(d, src, dst);
		break;
	case K6_ECHO:
		gen_echo(d);
		d->proto = 58;
		d->l4[0] = unit_rn(2) ? 128 : 129;
		sum6(d, src, dst);
		break;
	default:
		d->proto = plain[unit_rn(sizeof plain)];
		d->len = unit_rn(200);
		rfill(d->l4, d->len);
		break;
	}
	d->kind = (enum kind)k;
}

/* An ICMPv6 error (1 to 4) quoting q[0..q_len), from src to dst. */
static void gen6_err(struct dgram *d, const uint8_t *q, size_t q_len, const uint8_t *src,
                     const uint8_t *dst)
{
	d->proto = 58;
	d->kind = K_ERR;
	d->len = 8 + q_len;
	d->mss_at = 0;
	d->syn = false;
	rfill(d->l4, 8);
	d->l4[0] = (uint8_t)(1 + unit_rn(4));
	d->l4[1] = (uint8_t)unit_rn(8);
	memcpy(d->l4 + 8, q, q_len);
	sum6(d, src, dst);
}

/* An options-style extension header (hop-by-hop, dstopts, routing). */
static size_t ext6(uint8_t *e, uint8_t next)
{
	size_t len = 8 * (1 + unit_rn(4));

	rfill(e, len);
	e[0] = next;
	e[1] = (uint8_t)(len / 8 - 1);
	return len;
}

/*
 * Wraps d in an IPv6 header with random extension headers. frag: 0 whole,
 * 1 a first fragment (M) carrying a prefix, 2 a later fragment, random bytes.
 */
static void gen6_ip(struct pkt6 *pk, const struct dgram *d, const uint8_t *src,
                    const uint8_t *dst, int frag)
{
	static const uint8_t order[] = { 0, 60, 43, 44, 60 };
	uint8_t *p = pk->b, *nh = p + 6, types[5];
	size_t off = 40, n = 0, min = d->proto == 6 ? (size_t)(d->l4[12] >> 4) * 4 :
	                               d->proto == 17 ? 8 : 8;

	if (frag == 1 && (d->proto == 59 || (min + 7) / 8 * 8 >= d->len))
		frag = 0;
	for (size_t i = 0; i < sizeof order; i++) {
		if (order[i] == 44 ? frag != 0 : unit_rn(3) == 0)
			types[n++] = order[i];
		if (order[i] == 44 && frag == 2)
			break;                  /* the rest is the fragment's data */
	}
	hdr6(p, 0, 0, src, dst);
	rfill(p, 8);
	p[0] = (uint8_t)(0x60 | (p[0] & 15));
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	pk->later = frag == 2;
	pk->part = d->len;
	if (frag == 1)
		pk->part = 8 * ((min + 7) / 8 + unit_rn((unsigned)((d->len - 1) / 8 - (min + 7) / 8 + 1)));
	else if (frag == 2)
		pk->part = 1 + unit_rn(300);
	for (size_t i = 0; i < n; i++) {
		*nh = types[i];
		if (types[i] == 44) {
			uint16_t fo = frag == 1 ? 1 : (uint16_t)((1 + unit_rn(0x1fff)) << 3 | unit_rn(2));

			rfill(p + off, 8);
			p[off + 1] = 0;
			put16(p + off + 2, fo);
			nh = p + off;
			off += 8;
		} else {
			size_t l = ext6(p + off, 0);

			nh = p + off;
			off += l;
		}
	}
	*nh = d->proto;
	pk->l4 = off;
	pk->len = off + pk->part;
	put16(p + 4, (uint16_t)(pk->len - 40));
	if (pk->later)
		rfill(p + off, pk->part);
	else
		memcpy(p + off, d->l4, pk->part);
}

/* Is the TCP/UDP/ICMPv6 checksum of l4[0..len) what a full recomputation gives? */
static bool l6_ok(uint8_t proto, const uint8_t *l4, size_t len, const uint8_t *src,
                  const uint8_t *dst)
{
	uint16_t c;

	switch (proto) {
	case 6:
		return ref_field(l4, len, 16, pseudo6(src, dst, 6, len)) == get16(l4 + 16);
	case 17:
		c = ref_field(l4, len, 6, pseudo6(src, dst, 17, len));
		return get16(l4 + 6) != 0 && (c ? c : 0xffff) == get16(l4 + 6);
	case 58:
		return ref_field(l4, len, 2, pseudo6(src, dst, 58, len)) == get16(l4 + 2);
	default:
		return true;
	}
}

static size_t ck6_at(uint8_t proto)
{
	return proto == 6 ? 16 : proto == 17 ? 6 : proto == 58 ? 2 : 0;
}

/*
 * Checks a rewritten ICMPv6 error quote q[0..q_len) of the packet in (its
 * bytes before the rewrite, in->len of them; dg its datagram): only the
 * address at `at` and, when the quote holds it, the quoted upper layer's
 * checksum changed, and that checksum is what a full recomputation of the
 * whole quoted datagram gives.
 */
static bool quote6_ok(const uint8_t *q, size_t q_len, const struct pkt6 *in,
                      const struct dgram *dg, size_t at)
{
	static uint8_t buf[4096];
	size_t ck = ck6_at(dg->proto), ck_pos = (size_t)-1, total;

	if (q_len < 40)
		return memcmp(q, in->b, q_len) == 0;
	if (!in->later && ck && q_len >= in->l4 + ck + 2)
		ck_pos = in->l4 + ck;
	for (size_t i = 0; i < q_len; i++)
		if ((i < at || i >= at + 16) && (i < ck_pos || i >= ck_pos + 2) &&
		    q[i] != in->b[i])
			return false;
	if (ck_pos == (size_t)-1)
		return true;
	/* The inner datagram as it would be now: the quote, its own tail. */
	memcpy(buf, q, q_len);
	memcpy(buf + q_len, in->b + q_len, in->len - q_len);
	memcpy(buf + in->len, dg->l4 + in->part, dg->len - in->part);
	total = in->len + dg->len - in->part;
	return l6_ok(dg->proto, buf + in->l4, total - in->l4, buf + 8, buf + 24);
}

static void nat6_property(void)
{
	static struct dgram d, d2, d3;
	static struct pkt6 pk, before, client, inner, pk2, inpk, sw;
	static uint8_t w[4096];
	uint8_t pool[8][16], model[NAT_MAX_MAP][16], mapped[16], dst[16], a[16];
	static const char *const denied[] = { "fe80::1", "ff02::fb", "::1", "fd00:0:0:7::2" };
	unsigned model_n = 0;
	const uint64_t seed = 0x6e6174362d707270ull;
	struct nat n;
	struct nat_acl acl;
	struct nat_cidr6 c;
	int iter;

	fail_seed = seed;
	unit_seed(seed);
	fail_iter = -1;
	table6(&n, &acl, 1400);
	CHECK(nat_cidr6_parse(&c, "fd00::/8") == 0);
	CHECK(nat_acl_deny6(&acl, c) == 0);
	for (int i = 0; i < 8; i++)
		rfill(pool[i], 16);

	for (iter = 0; iter < 20000 && fail_iter < 0; iter++) {
		const uint8_t *src = pool[unit_rn(8)];
		enum kind6 k = (enum kind6)unit_rn(K6_N);
		int frag = unit_rn(10) < 6 ? 0 : unit_rn(2) ? 1 : 2;
		unsigned idx, r_dst = unit_rn(10);
		bool clamped;
		enum drop r;

		if (iter % 5000 == 4999) {
			nat_reset(&n);
			model_n = 0;
		}
		n.mss = mss_values[unit_rn(7)];
		if (unit_rn(5) == 0)
			n.mss = 0;
		rfill(dst, 16);
		if (r_dst < 4) {
			a6(dst, "2001:db8::");
			dst[14] = (uint8_t)unit_rn(4);
			dst[15] = (uint8_t)unit_rnd();
		} else if (r_dst == 4) {
			a6(dst, denied[unit_rn(4)]);
		}

		/* The client's packet; an error quotes a packet sent to it. */
		if (k == K6_ERR) {
			uint8_t from[16];
			const uint8_t *to = unit_rn(5) < 3 ? src : pool[unit_rn(8)];

			rfill(from, 16);
			if (unit_rn(6) == 0) {
				rfill(a, 16);
				to = a;
			}
			gen6_l4(&d2, (enum kind6)unit_rn(K6_ERR), from, to);
			gen6_ip(&inner, &d2, from, to, unit_rn(8) ? 0 : 1 + unit_rn(2));
			gen6_err(&d, inner.b, unit_rn(2) ? inner.len : unit_rn((unsigned)inner.len + 1),
			         src, dst);
			frag = 0;
		} else {
			gen6_l4(&d, k, src, dst);
		}
		gen6_ip(&pk, &d, src, dst, frag);
		before = pk;
		client = pk;
		PCHECK(nat_check6(pk.b, pk.len) == DROP_NONE);

		r = nat_out(&n, &acl, pk.b, pk.len);
		if (!nat_acl_permits6(&acl, dst)) {
			PCHECK(r == DROP_DENIED);
			PCHECK(memcmp(pk.b, before.b, pk.len) == 0);
			continue;
		}
		PCHECK(r == DROP_NONE);
		for (idx = 0; idx < model_n && memcmp(model[idx], src, 16) != 0; idx++)
			;
		if (idx == model_n)
			memcpy(model[model_n++], src, 16);
		a6(mapped, "fd00:0:0:7::2");
		mapped[15] = (uint8_t)(2 + idx);
		PCHECK(n.n6 == model_n);

		/* Outer header: only the source changed; extension headers alike. */
		PCHECK(memcmp(pk.b + 8, mapped, 16) == 0);
		PCHECK(memcmp(pk.b, before.b, 8) == 0);
		PCHECK(memcmp(pk.b + 24, before.b + 24, pk.l4 - 24) == 0);
		PCHECK(nat_check6(pk.b, pk.len) == DROP_NONE);

		/* L4: untouched in later fragments, else every checksum right. */
		clamped = false;
		if (pk.later) {
			PCHECK(memcmp(pk.b + pk.l4, before.b + pk.l4, pk.part) == 0);
		} else {
			memcpy(w, pk.b + pk.l4, pk.part);
			memcpy(w + pk.part, d.l4 + pk.part, d.len - pk.part);
			PCHECK(l6_ok(d.proto, w, d.len, mapped, dst));
			if (d.proto == 6 && d.mss_at) {
				uint16_t was = get16(d.l4 + d.mss_at), want = was;

				if (d.syn && n.mss > 20 && was > n.mss - 20)
					want = (uint16_t)(n.mss - 20);
				PCHECK(get16(w + d.mss_at) == want);
				clamped = want != was;
			}
		}
		if (d.kind == K_ERR) {
			const uint8_t *q = pk.b + pk.l4 + 8;
			size_t q_len = d.len - 8;
			unsigned j;

			for (j = 0; j < model_n && q_len >= 40 &&
			            memcmp(model[j], inner.b + 24, 16) != 0; j++)
				;
			if (q_len >= 40 && j < model_n) {
				a6(a, "fd00:0:0:7::2");
				a[15] = (uint8_t)(2 + j);
				PCHECK(memcmp(q + 24, a, 16) == 0);
				PCHECK(quote6_ok(q, q_len, &inner, &d2, 24));
			} else {
				PCHECK(memcmp(q, inner.b, q_len) == 0);
			}
			continue;
		}

		/* Back the same way: the addresses swapped, nat_in, swapped again. */
		sw = pk;
		memcpy(sw.b + 8, pk.b + 24, 16);
		memcpy(sw.b + 24, pk.b + 8, 16);
		PCHECK(nat_in(&n, sw.b, sw.len) == DROP_NONE);
		memcpy(a, sw.b + 8, 16);
		memcpy(sw.b + 8, sw.b + 24, 16);
		memcpy(sw.b + 24, a, 16);
		if (!clamped)
			PCHECK(memcmp(sw.b, client.b, client.len) == 0);

		/* The Internet's answer: a reply of the same kind, maybe a SYN-ACK. */
		gen6_l4(&d3, k, dst, mapped);
		gen6_ip(&pk2, &d3, dst, mapped, unit_rn(10) < 6 ? 0 : unit_rn(2) ? 1 : 2);
		before = pk2;
		PCHECK(nat_in(&n, pk2.b, pk2.len) == DROP_NONE);
		PCHECK(memcmp(pk2.b + 24, src, 16) == 0);
		PCHECK(memcmp(pk2.b, before.b, 24) == 0);
		PCHECK(memcmp(pk2.b + 40, before.b + 40, pk2.l4 - 40) == 0);
		if (pk2.later) {
			PCHECK(memcmp(pk2.b + pk2.l4, before.b + pk2.l4, pk2.part) == 0);
		} else {
			memcpy(w, pk2.b + pk2.l4, pk2.part);
			memcpy(w + pk2.part, d3.l4 + pk2.part, d3.len - pk2.part);
			PCHECK(l6_ok(d3.proto, w, d3.len, dst, src));
		}

		/* Or an ICMPv6 error about the client's packet, as the gateway sent it. */
		{
			uint8_t router[16];
			size_t q_len = unit_rn(2) ? pk.len : unit_rn((unsigned)pk.len + 1), cut;
			const uint8_t *q;
			size_t ck = ck6_at(d.proto);

			if (unit_rn(2))
				memcpy(router, dst, 16);
			else
				rfill(router, 16);
			gen6_err(&d2, pk.b, q_len, router, mapped);
			gen6_ip(&inpk, &d2, router, mapped, 0);
			PCHECK(nat_in(&n, inpk.b, inpk.len) == DROP_NONE);
			PCHECK(memcmp(inpk.b + 24, src, 16) == 0);
			PCHECK(l6_ok(58, inpk.b + inpk.l4, d2.len, router, src));
			q = inpk.b + inpk.l4 + 8;
			PCHECK(quote6_ok(q, q_len, &pk, &d, 8));
			if (q_len < 40)
				continue;
			PCHECK(memcmp(q + 8, src, 16) == 0);
			/*
			 * Round trip: the quote is the client's own packet again,
			 * unless its MSS was clamped, and but for a checksum the
			 * quote cuts in half (one byte of it cannot be patched).
			 */
			cut = !pk.later && ck && q_len == pk.l4 + ck + 1;
			if (!clamped)
				PCHECK(memcmp(q, client.b, q_len - cut) == 0);
		}
	}
	if (fail_iter >= 0)
		fprintf(stderr, "  nat6_property: first failure at seed %#llx iteration %d\n",
		        (unsigned long long)seed, fail_iter);
}

/* ---- The client's refusal of IPv6 (RFC 4443 §3.1, §2.4) ---- */

/* An IPv6 packet of len bytes from 2001:db8::2 to 2001:db8:100::1, next
 * header nh, the bytes after the header counting up. */
static void refuse6_pkt(uint8_t *p, size_t len, uint8_t nh)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, [15] = 1 };

	memset(p, 0, len);
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = nh;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	for (size_t i = 40; i < len; i++)
		p[i] = (uint8_t)i;
}

/* Whether the ICMPv6 checksum of the IPv6 packet a[0..n) is right. */
static bool icmp6_csum_ok(const uint8_t *a, size_t n)
{
	uint8_t buf[40 + NAT_ICMP6_MIN] = { 0 };

	memcpy(buf, a + 8, 32);
	buf[34] = (uint8_t)((n - 40) >> 8);
	buf[35] = (uint8_t)(n - 40);
	buf[39] = 58;
	memcpy(buf + 40, a + 40, n - 40);
	return nat_csum(buf, 40 + n - 40) == 0;
}

static void icmp6_refuse(void)
{
	uint8_t p[1500], out[1500], again[1500];
	size_t n;

	/* A TCP SYN: answered from its destination to its source, quoted whole. */
	refuse6_pkt(p, 60, 6);
	n = nat_icmp6_refuse(out, sizeof out, p, 60);
	CHECK(n == 48 + 60);
	CHECK(out[0] == 0x60 && out[6] == 58 && out[4] == 0 && out[5] == 68);
	CHECK(!memcmp(out + 8, p + 24, 16) && !memcmp(out + 24, p + 8, 16));
	CHECK(out[40] == 1 && out[41] == 1 && !memcmp(out + 44, "\0\0\0\0", 4));
	CHECK(!memcmp(out + 48, p, 60));
	CHECK(icmp6_csum_ok(out, n));
	/* The answer is an ICMPv6 error: never answered in turn. */
	CHECK(nat_icmp6_refuse(again, sizeof again, out, n) == 0);

	/* Quote bounded by the minimum MTU, and by cap. */
	refuse6_pkt(p, 1500, 17);
	n = nat_icmp6_refuse(out, sizeof out, p, 1500);
	CHECK(n == NAT_ICMP6_MIN && out[4] == (1240 >> 8) && out[5] == (1240 & 0xff));
	CHECK(!memcmp(out + 48, p, 1232) && icmp6_csum_ok(out, n));
	n = nat_icmp6_refuse(out, 101, p, 1500);
	CHECK(n == 101 && icmp6_csum_ok(out, n));	/* odd length */
	CHECK(nat_icmp6_refuse(out, 47, p, 1500) == 0);

	/* ICMPv6: echo request answered; errors and redirects not. */
	refuse6_pkt(p, 48, 58);
	p[40] = 128;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 48) == 96);
	for (unsigned t = 0; t < 128; t++) {
		p[40] = (uint8_t)t;
		CHECK(nat_icmp6_refuse(out, sizeof out, p, 48) == 0);
	}
	p[40] = 137;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 48) == 0);
	/* An error behind a hop-by-hop header is still an error. */
	refuse6_pkt(p, 56, 0);
	p[40] = 58;
	p[41] = 0;
	p[48] = 1;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 56) == 0);
	p[48] = 128;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 56) == 104);
	/* A non-first fragment cannot say; the first can. */
	refuse6_pkt(p, 56, 44);
	p[40] = 58;
	p[42] = 0;
	p[43] = 8;		/* offset 1 */
	p[48] = 128;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 56) == 0);
	p[43] = 1;		/* offset 0, more fragments */
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 56) == 104);

	/* Multicast destination, unspecified or multicast source: none. */
	refuse6_pkt(p, 60, 6);
	p[24] = 0xff;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 60) == 0);
	refuse6_pkt(p, 60, 6);
	memset(p + 8, 0, 16);
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 60) == 0);
	refuse6_pkt(p, 60, 6);
	p[8] = 0xff;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 60) == 0);

	/* Not IPv6, or shorter than its header: none. */
	refuse6_pkt(p, 60, 6);
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 39) == 0);
	p[0] = 0x45;
	CHECK(nat_icmp6_refuse(out, sizeof out, p, 60) == 0);
}

const struct unit_case unit_nat[] = {
	{ "nat_csum_rfc1071", csum_rfc1071 },
	{ "nat_csum_lengths", csum_lengths },
	{ "nat_csum_rfc1624", csum_rfc1624 },
	{ "nat_csum_incremental", csum_incremental },
	{ "nat_cidr_parse", cidr_parse },
	{ "nat_prefix_parse", prefix_parse },
	{ "nat_ifaddr_parse", ifaddr_parse },
	{ "nat_acl_defaults", acl_defaults },
	{ "nat_acl_override", acl_override },
	{ "nat_drop_names", drop_names },
	{ "nat_check_errors", check_errors },
	{ "nat_init_caps", init_caps },
	{ "nat_map_full", map_full },
	{ "nat_out_denied_malformed", out_denied_and_malformed },
	{ "nat_udp_zero", udp_zero },
	{ "nat_mss_clamp", mss_clamp },
	{ "nat_property", nat_property },
	{ "nat6_prefix_parse", prefix6_parse },
	{ "nat6_addr_format", addr6_format },
	{ "nat6_acl_defaults", acl6_defaults },
	{ "nat6_acl_override", acl6_override },
	{ "nat6_init_caps", init6_caps },
	{ "nat6_check_errors", check6_errors },
	{ "nat6_map_full", map6_full },
	{ "nat6_out_denied", out6_denied },
	{ "nat6_udp_zero", udp6_zero },
	{ "nat6_icmp_errors", icmp6_errors },
	{ "nat6_mss_clamp", mss6_clamp },
	{ "nat6_flow", flow6 },
	{ "nat6_property", nat6_property },
	{ "nat6_icmp6_refuse", icmp6_refuse },
	{ NULL, NULL },
};
