/* SPDX-License-Identifier: MIT */
/*
 * unit_nat.c: table-driven cases for nat.c: the RFC 1071 and RFC 1624
 * checksum examples, address and prefix parsing, the default destination filter, every
 * nat_check error, the mapping table's limits, MSS clamping, and a
 * randomized property test that runs thousands of generated packets through
 * nat_out and nat_in and checks every checksum against a full recomputation
 * done here, independently of nat.c (unit_gso.c's gso_nat_partial does the
 * same for super-packets and partial checksums). The harness (CHECK, the runner) is
 * unit.c's; the other pure files have their own unit_*.c.
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
	{ NULL, NULL },
};
