/* SPDX-License-Identifier: MIT */
/*
 * unit_gso.c: table-driven cases for gso.c: user-space segmentation of TCP
 * and UDP super-packets (lengths, IDs, sequence numbers, flags, options,
 * payload, checksums), every gso_seg_init refusal, gso_from_tun's checksum
 * completion and its GSO_BAD cases, gso_to_tun's header and pseudo-header
 * sum followed by a kernel-like completion or segmentation, the virtio-net
 * header and message prefix round trips, coalescing (segments cut by
 * gso_seg merged back into the original, each merging rule refused once,
 * PSH, the length, segment and cap limits, flows interleaved), and a
 * randomized property test of nat_out and nat_in on packets whose
 * checksums are partial; IPv6 UDP super-packets cut, taken from and given
 * to a TUN, and the shapes refused. Every L4 checksum is checked against a
 * byte-by-byte RFC 1071 sum written here, independently of nat.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../bytes.h"
#include "../gso.h"
#include "../nat.h"
#include "unit.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define BIG 70000   /* room for any packet built here */

/* ---- Reference checksums: one byte at a time ---- */

/* RFC 1071 over p[0..len): even bytes are high, odd bytes low. */
static uint64_t ref_bytes(uint64_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sum += i % 2 == 0 ? (uint64_t)p[i] << 8 : p[i];
	return sum;
}

static uint16_t ref_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header of the IPv4 packet ip for l4_len bytes of proto. */
static uint64_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint64_t sum = ref_bytes(0, ip + 12, 8);

	return sum + proto + l4_len;
}

/* The pseudo-header sum a partial checksum field holds, as a number. */
static uint16_t ref_partial(const uint8_t *ip, size_t len)
{
	size_t hl = (size_t)(ip[0] & 15) * 4;

	return ref_fold(ref_pseudo(ip, ip[9], len - hl));
}

/* Whether the IPv4 header of p is valid. */
static bool ip_ok(const uint8_t *p)
{
	size_t hl = (size_t)(p[0] & 15) * 4;

	return ref_fold(ref_bytes(0, p, hl)) == 0xffff;
}

/* Whether the TCP or UDP checksum of the IPv4 packet p[0..len) is valid. */
static bool l4_ok(const uint8_t *p, size_t len)
{
	size_t hl = (size_t)(p[0] & 15) * 4;
	uint64_t sum = ref_pseudo(p, p[9], len - hl);

	if (p[9] == 17 && get16(p + hl + 6) == 0)
		return false;   /* "none": never what gso.c writes */
	return ref_fold(ref_bytes(sum, p + hl, len - hl)) == 0xffff;
}

static size_t ck_off(uint8_t proto)
{
	return proto == 6 ? 16 : 6;
}

/* A sender's complete checksum for p[0..len). */
static void ref_complete(uint8_t *p, size_t len)
{
	size_t hl = (size_t)(p[0] & 15) * 4, at = hl + ck_off(p[9]);
	uint16_t c;

	put16(p + at, 0);
	c = (uint16_t)~ref_fold(ref_bytes(ref_pseudo(p, p[9], len - hl), p + hl, len - hl));
	if (c == 0 && p[9] == 17)
		c = 0xffff;
	put16(p + at, c);
}

/* What the kernel does with CHECKSUM_PARTIAL: sum from start, seeded by the field. */
static void kernel_complete(uint8_t *p, size_t len, size_t start, size_t off)
{
	uint16_t c = (uint16_t)~ref_fold(ref_bytes(0, p + start, len - start));

	if (c == 0)
		c = 0xffff;
	put16(p + start + off, c);
}

static void ip_csum(uint8_t *p)
{
	size_t hl = (size_t)(p[0] & 15) * 4;

	put16(p + 10, 0);
	put16(p + 10, (uint16_t)~ref_fold(ref_bytes(0, p, hl)));
}

/* ---- Packets ---- */

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

struct spec {
	uint8_t proto;
	size_t ip_opt;     /* bytes of IPv4 options (NOPs), a multiple of 4 */
	size_t tcp_opt;    /* bytes of TCP options, a multiple of 4 */
	uint8_t flags;
	size_t pay;
	uint32_t src, dst;
};

/*
 * An IPv4 packet into p (BIG bytes): DF, ID 0xfff0 (it wraps), TTL 64, the
 * TCP sequence number near 2^32 (it wraps too), timestamp options, the
 * payload pattern(i), and complete, valid checksums. Returns its length.
 */
static size_t build(uint8_t *p, const struct spec *s)
{
	size_t hl = 20 + s->ip_opt, l4hl = s->proto == 6 ? 20 + s->tcp_opt : 8;
	size_t len = hl + l4hl + s->pay;
	uint8_t *l4 = p + hl;

	memset(p, 0, hl + l4hl);
	p[0] = (uint8_t)(0x40 | hl / 4);
	p[1] = 0x02;                        /* ECT(0) */
	put16(p + 2, (uint16_t)len);
	put16(p + 4, 0xfff0);
	put16(p + 6, 0x4000);               /* DF */
	p[8] = 64;
	p[9] = s->proto;
	put32(p + 12, s->src ? s->src : 0xc0000202);   /* 192.0.2.2 */
	put32(p + 16, s->dst ? s->dst : 0xc6336401);   /* 198.51.100.1 */
	memset(p + 20, 1, s->ip_opt);
	if (s->proto == 6) {
		put16(l4, 40000);
		put16(l4 + 2, 443);
		put32(l4 + 4, 0xffffe000);
		put32(l4 + 8, 0x01020304);
		l4[12] = (uint8_t)(l4hl / 4 << 4);
		l4[13] = s->flags;
		put16(l4 + 14, 502);
		for (size_t i = 0; i < s->tcp_opt; i++)
			l4[20 + i] = 1;             /* NOP */
		if (s->tcp_opt >= 12) {
			l4[22] = 8;                 /* timestamps */
			l4[23] = 10;
			put32(l4 + 24, 0xa1b2c3d4);
			put32(l4 + 28, 0x00000777);
		}
	} else if (s->proto == 17) {
		put16(l4, 40000);
		put16(l4 + 2, 4433);
		put16(l4 + 4, (uint16_t)(l4hl + s->pay));
	}
	for (size_t i = 0; i < s->pay; i++)
		p[hl + l4hl + i] = pattern(i);
	ip_csum(p);
	if (s->proto == 6 || s->proto == 17)
		ref_complete(p, len);
	return len;
}

static size_t tcp_pkt(uint8_t *p, size_t pay)
{
	struct spec s = { .proto = 6, .tcp_opt = 12, .pay = pay,
	                  .flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR };
	return build(p, &s);
}

static size_t udp_pkt(uint8_t *p, size_t pay)
{
	struct spec s = { .proto = 17, .pay = pay };
	return build(p, &s);
}

/* ---- Segmentation ---- */

static uint8_t seg_buf[BIG], seg_cat[BIG];

/*
 * Cuts p[0..len) at size and checks every segment against the original.
 * Returns the number of segments, 0 if gso_seg_init refused.
 */
static unsigned seg_check(const uint8_t *p, size_t len, size_t size)
{
	struct gso_seg s;
	size_t hl = (size_t)(p[0] & 15) * 4, l4hl, pay, off = 0, n, max;
	unsigned segs = gso_seg_init(&s, p, len, size), k = 0;
	uint8_t proto = p[9];

	if (!segs)
		return 0;
	l4hl = proto == 6 ? (size_t)(p[hl + 12] >> 4) * 4 : 8;
	pay = len - hl - l4hl;
	CHECK(segs == (pay + size - 1) / size);
	max = gso_seg_max(&s);
	CHECK(max == hl + l4hl + size);
	while ((n = gso_seg_next(&s, seg_buf, sizeof seg_buf)) != 0) {
		const uint8_t *l4 = seg_buf + hl, *o4 = p + hl;
		bool first = k == 0, last = k + 1 == segs;
		size_t want = last ? pay - off : size;

		CHECK(k < segs);
		CHECK(n <= max);
		CHECK(n == hl + l4hl + want);
		CHECK(get16(seg_buf + 2) == n);
		CHECK(get16(seg_buf + 4) == (uint16_t)(get16(p + 4) + k));
		CHECK(ip_ok(seg_buf));
		CHECK(nat_csum(seg_buf, hl) == 0);
		/* The rest of the IPv4 header, options included, is the original's. */
		CHECK(seg_buf[0] == p[0] && seg_buf[1] == p[1]);
		CHECK(memcmp(seg_buf + 6, p + 6, 4) == 0);
		CHECK(memcmp(seg_buf + 12, p + 12, hl - 12) == 0);
		CHECK(l4_ok(seg_buf, n));
		if (proto == 6) {
			uint8_t fl = o4[13];

			CHECK(get32(l4 + 4) == get32(o4 + 4) + (uint32_t)off);
			if (!last)
				fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
			if (!first)
				fl &= (uint8_t)~TCP_CWR;
			CHECK(l4[13] == fl);
			CHECK(memcmp(l4, o4, 4) == 0);              /* ports */
			CHECK(memcmp(l4 + 8, o4 + 8, 5) == 0);      /* ack, doff */
			CHECK(memcmp(l4 + 14, o4 + 14, 2) == 0);    /* window */
			CHECK(memcmp(l4 + 18, o4 + 18, l4hl - 18) == 0);  /* urg, options */
		} else {
			CHECK(get16(l4 + 4) == n - hl);
			CHECK(get16(l4 + 6) != 0);
			CHECK(memcmp(l4, o4, 4) == 0);
		}
		if (off + want <= sizeof seg_cat)
			memcpy(seg_cat + off, seg_buf + hl + l4hl, want);
		off += want;
		k++;
	}
	CHECK(k == segs);
	CHECK(off == pay);
	CHECK(memcmp(seg_cat, p + hl + l4hl, pay) == 0);
	CHECK(gso_seg_next(&s, seg_buf, sizeof seg_buf) == 0);
	return segs;
}

static uint8_t pk[BIG];

static void seg_tcp(void)
{
	static const struct {
		size_t pay, size;
		unsigned segs;
	} cases[] = {
		{ 10000, 1448, 7 },    /* last of 1312 */
		{ 1448 * 4, 1448, 4 }, /* an exact multiple */
		{ 1449, 1448, 2 },     /* size + 1: the last of 1 byte */
		{ 1000, 333, 4 },      /* odd sizes and an odd last (1 byte) */
		{ 2001, 1000, 3 },
		{ 999, 998, 2 },
		{ 3001, 1500, 3 },
		{ 64 * 128, 64, 128 }, /* the most segments */
		{ 65535 - 52, 1448, 46 },  /* the largest packet */
		{ 100, 100, 1 },       /* one segment */
		{ 1, 64, 1 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = tcp_pkt(pk, cases[i].pay);
		unsigned n = seg_check(pk, len, cases[i].size);

		if (n != cases[i].segs)
			fprintf(stderr, "  case %zu: %u segments\n", i, n);
		CHECK(n == cases[i].segs);
	}
}

/* Flags, options and IPv4 options other than the first case's. */
static void seg_tcp_shapes(void)
{
	static const struct spec specs[] = {
		{ .proto = 6, .flags = TCP_ACK, .pay = 3000 },
		{ .proto = 6, .flags = TCP_ACK | TCP_ECE | TCP_CWR, .tcp_opt = 40, .pay = 3000 },
		{ .proto = 6, .flags = TCP_FIN, .ip_opt = 4, .tcp_opt = 12, .pay = 2897 },
		{ .proto = 6, .flags = TCP_PSH | TCP_ACK, .ip_opt = 40, .pay = 4000 },
		{ .proto = 6, .flags = 0, .pay = 1449 },
	};

	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		size_t len = build(pk, &specs[i]);

		CHECK(seg_check(pk, len, 1448) == (specs[i].pay + 1447) / 1448);
	}
}

static void seg_udp(void)
{
	static const struct {
		struct spec s;
		size_t size;
	} cases[] = {
		{ { .proto = 17, .pay = 10000 }, 1472 },
		{ { .proto = 17, .pay = 1472 * 3 }, 1472 },
		{ { .proto = 17, .pay = 1473 }, 1472 },
		{ { .proto = 17, .pay = 777 }, 100 },
		{ { .proto = 17, .ip_opt = 8, .pay = 5000 }, 1200 },
		{ { .proto = 17, .pay = 64 * 128 }, 64 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = build(pk, &cases[i].s);

		CHECK(seg_check(pk, len, cases[i].size) ==
		      (cases[i].s.pay + cases[i].size - 1) / cases[i].size);
	}
}

/* A UDP segment whose sum is 0xffff must carry 0xffff, never 0 ("none"). */
static void seg_udp_zero(void)
{
	struct gso_seg s;
	size_t len = udp_pkt(pk, 200), n;
	uint64_t sum;

	/*
	 * Choose the last two payload bytes of the second segment so that the
	 * segment's sum, without its checksum, is 0xffff: its checksum is then
	 * 0, which UDP must send as 0xffff.
	 */
	put16(pk + len - 2, 0);
	sum = ref_pseudo(pk, 17, 8 + 100) + ref_bytes(0, pk + 20, 4) + 8 + 100 +
	      ref_bytes(0, pk + len - 100, 100);
	put16(pk + len - 2, (uint16_t)~ref_fold(sum));
	ref_complete(pk, len);
	CHECK(gso_seg_init(&s, pk, len, 100) == 2);
	CHECK(gso_seg_next(&s, seg_buf, sizeof seg_buf) == 128);
	CHECK(l4_ok(seg_buf, 128));
	CHECK((n = gso_seg_next(&s, seg_buf, sizeof seg_buf)) == 128);
	CHECK(get16(seg_buf + 26) == 0xffff);
	CHECK(l4_ok(seg_buf, n));
}

/* A short buffer: nothing written, nothing consumed. */
static void seg_short_cap(void)
{
	struct gso_seg s;
	size_t len = tcp_pkt(pk, 3000);

	CHECK(gso_seg_init(&s, pk, len, 1448) == 3);
	CHECK(gso_seg_next(&s, seg_buf, gso_seg_max(&s) - 1) == 0);
	CHECK(gso_seg_next(&s, seg_buf, 0) == 0);
	CHECK(gso_seg_next(&s, seg_buf, gso_seg_max(&s)) == gso_seg_max(&s));
	CHECK(get32(seg_buf + 24) == 0xffffe000);   /* still the first */
	CHECK(get16(seg_buf + 4) == 0xfff0);
}

enum mut {
	M_V6, M_IHL4, M_IHL4_UDP, M_IHL_BEYOND, M_TOT_MORE, M_TOT_LESS, M_LEN_SHORT, M_MF,
	M_OFFSET, M_SYN, M_RST, M_URG, M_DOFF4, M_DOFF_BEYOND, M_UDP_MORE,
	M_UDP_LESS, M_ICMP, M_GRE, M_SIZE_MIN, M_SIZE_0, M_SIZE_BIG, M_SEGS,
	M_NO_PAY_TCP, M_NO_PAY_UDP, M_TINY, M_TCP_TRUNC, M_UDP_TRUNC,
};

static const struct {
	const char *name;
	enum mut m;
	uint8_t proto;
} refusals[] = {
	{ "IPv6", M_V6, 6 },
	{ "IHL 4", M_IHL4, 6 },
	{ "IHL 4, a UDP length that fits it", M_IHL4_UDP, 17 },
	{ "IHL beyond the packet", M_IHL_BEYOND, 6 },
	{ "tot_len > len", M_TOT_MORE, 6 },
	{ "tot_len < len", M_TOT_LESS, 6 },
	{ "len < tot_len", M_LEN_SHORT, 17 },
	{ "MF", M_MF, 6 },
	{ "fragment offset", M_OFFSET, 17 },
	{ "SYN", M_SYN, 6 },
	{ "RST", M_RST, 6 },
	{ "URG", M_URG, 6 },
	{ "doff 4", M_DOFF4, 6 },
	{ "doff beyond the packet", M_DOFF_BEYOND, 6 },
	{ "UDP length > datagram", M_UDP_MORE, 17 },
	{ "UDP length < datagram", M_UDP_LESS, 17 },
	{ "ICMP", M_ICMP, 6 },
	{ "GRE", M_GRE, 17 },
	{ "size GSO_SIZE_MIN - 1", M_SIZE_MIN, 6 },
	{ "size 0", M_SIZE_0, 17 },
	{ "size 65536", M_SIZE_BIG, 6 },
	{ "GSO_SEGS_MAX + 1 segments", M_SEGS, 17 },
	{ "TCP without payload", M_NO_PAY_TCP, 6 },
	{ "UDP without payload", M_NO_PAY_UDP, 17 },
	{ "19 bytes", M_TINY, 6 },
	{ "TCP header cut", M_TCP_TRUNC, 6 },
	{ "UDP header cut", M_UDP_TRUNC, 17 },
};

/* The packet and size of refusal i; the packet's checksums are valid. */
static size_t refused(size_t i, uint8_t *p, size_t *size)
{
	struct spec s = { .proto = refusals[i].proto, .tcp_opt = 12, .pay = 3000,
	                  .flags = TCP_ACK };
	size_t len, hl = 20;

	*size = 1448;
	switch (refusals[i].m) {
	case M_DOFF_BEYOND: s.pay = 20; break;
	case M_SEGS: s.pay = 64 * 128 + 1; break;
	case M_NO_PAY_TCP: case M_NO_PAY_UDP: s.pay = 0; break;
	case M_TCP_TRUNC: s.tcp_opt = 0; s.pay = 0; break;
	case M_UDP_TRUNC: s.pay = 0; break;
	default: break;
	}
	len = build(p, &s);
	switch (refusals[i].m) {
	case M_V6: p[0] = 0x65; break;
	case M_IHL4: p[0] = 0x44; break;
	case M_IHL4_UDP: p[0] = 0x44; put16(p + 20, (uint16_t)(len - 16)); break;
	case M_IHL_BEYOND: p[0] = 0x4f; len = 56; put16(p + 2, 56); break;
	case M_TOT_MORE: put16(p + 2, (uint16_t)(len + 1)); break;
	case M_TOT_LESS: put16(p + 2, (uint16_t)(len - 1)); break;
	case M_LEN_SHORT: len--; break;
	case M_MF: p[6] |= 0x20; break;
	case M_OFFSET: p[7] = 1; break;
	case M_SYN: p[hl + 13] |= TCP_SYN; break;
	case M_RST: p[hl + 13] |= TCP_RST; break;
	case M_URG: p[hl + 13] |= TCP_URG; break;
	case M_DOFF4: p[hl + 12] = 0x40; break;
	case M_DOFF_BEYOND: p[hl + 12] = 0xf0; break;   /* 60 > 52 */
	case M_UDP_MORE: put16(p + hl + 4, (uint16_t)(get16(p + hl + 4) + 1)); break;
	case M_UDP_LESS: put16(p + hl + 4, (uint16_t)(get16(p + hl + 4) - 1)); break;
	case M_ICMP: p[9] = 1; break;
	case M_GRE: p[9] = 47; break;
	case M_SIZE_MIN: *size = GSO_SIZE_MIN - 1; break;
	case M_SIZE_0: *size = 0; break;
	case M_SIZE_BIG: *size = 65536; break;
	case M_SEGS: *size = 64; break;
	case M_NO_PAY_TCP: case M_NO_PAY_UDP: break;
	case M_TINY: len = 19; break;
	case M_TCP_TRUNC: len = 39; put16(p + 2, 39); break;
	case M_UDP_TRUNC: len = 27; put16(p + 2, 27); put16(p + 24, 7); break;
	}
	ip_csum(p);
	return len;
}

static void seg_refusals(void)
{
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		struct gso_seg s;
		struct gso_vnet v = { 0 };
		size_t size, len = refused(i, pk, &size);
		unsigned n = gso_seg_init(&s, pk, len, size);

		if (n != 0)
			fprintf(stderr, "  %s: %u segments\n", refusals[i].name, n);
		CHECK(n == 0);
		CHECK(gso_to_tun(&v, pk, len, size) == GSO_BAD);
	}
	/* The controls: the same packets without the fault are taken. */
	{
		struct gso_seg s;
		size_t len = tcp_pkt(pk, 20);

		CHECK(gso_seg_init(&s, pk, len, 64) == 1);
		len = tcp_pkt(pk, 64 * 128);
		CHECK(gso_seg_init(&s, pk, len, 64) == 128);
		len = udp_pkt(pk, 1);
		CHECK(gso_seg_init(&s, pk, len, GSO_SIZE_MIN) == 1);
		CHECK(gso_seg_init(&s, pk, len, 65535) == 1);
	}
}

/* ---- From the TUN ---- */

/* The packet as the kernel hands it over: the field holds the pseudo-header sum. */
static void make_partial(uint8_t *p, size_t len)
{
	size_t hl = (size_t)(p[0] & 15) * 4;

	put16(p + hl + ck_off(p[9]), ref_partial(p, len));
}

static void from_tun_single(void)
{
	static const struct {
		uint8_t proto;
		size_t pay;
		uint8_t type;
		uint16_t size;
	} cases[] = {
		{ 6, 1000, GSO_T_NONE, 0 },
		{ 6, 1, GSO_T_NONE, 0 },
		{ 6, 0, GSO_T_NONE, 0 },
		{ 17, 1000, GSO_T_NONE, 0 },
		{ 17, 1473, GSO_T_NONE, 0 },
		{ 17, 0, GSO_T_NONE, 0 },
		{ 6, 1448, GSO_T_TCPV4, 1448 },    /* a GSO header, one segment */
		{ 6, 100, GSO_T_TCPV4, 1448 },
		{ 17, 1472, GSO_T_UDP_L4, 1472 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s = { .proto = cases[i].proto, .pay = cases[i].pay,
		                  .tcp_opt = 12, .flags = TCP_ACK };
		size_t len = build(pk, &s), sz = 12345;
		struct gso_vnet v = {
			.flags = GSO_F_NEEDS_CSUM, .type = cases[i].type,
			.hdr_len = 0, .size = cases[i].size, .csum_start = 20,
			.csum_off = (uint16_t)ck_off(s.proto),
		};

		make_partial(pk, len);
		CHECK(!l4_ok(pk, len));
		CHECK(gso_from_tun(&v, pk, len, &sz) == GSO_ONE);
		CHECK(l4_ok(pk, len));
		CHECK(sz == 12345);
	}
}

static void from_tun_plain(void)
{
	struct gso_vnet v = { 0 };
	size_t len = tcp_pkt(pk, 500), sz;
	uint8_t before[600];

	memcpy(before, pk, len);
	put16(pk + 36, 0xbeef);             /* no NEEDS_CSUM: left alone */
	before[36] = 0xbe;
	before[37] = 0xef;
	CHECK(gso_from_tun(&v, pk, len, &sz) == GSO_ONE);
	CHECK(memcmp(pk, before, len) == 0);
	/* DATA_VALID (2): the checksum is already complete. */
	v.flags = 2;
	CHECK(gso_from_tun(&v, pk, len, &sz) == GSO_ONE);
	CHECK(memcmp(pk, before, len) == 0);
	/* Not even looked at: any bytes. */
	v.flags = 0;
	CHECK(gso_from_tun(&v, pk, 3, &sz) == GSO_ONE);
}

static void from_tun_super(void)
{
	static const struct {
		uint8_t proto, type;
		size_t pay;
		uint16_t size;
	} cases[] = {
		{ 6, GSO_T_TCPV4, 10000, 1448 },
		{ 6, GSO_T_TCPV4, 1449, 1448 },
		{ 17, GSO_T_UDP_L4, 3000, 1472 },
		{ 17, GSO_T_UDP_L4, 65535 - 28, 1472 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s = { .proto = cases[i].proto, .pay = cases[i].pay,
		                  .tcp_opt = 12, .flags = TCP_ACK };
		size_t len = build(pk, &s), sz = 0;
		struct gso_vnet v = {
			.flags = GSO_F_NEEDS_CSUM, .type = cases[i].type,
			.hdr_len = (uint16_t)(20 + (s.proto == 6 ? 32 : 8)),
			.size = cases[i].size, .csum_start = 20,
			.csum_off = (uint16_t)ck_off(s.proto),
		};
		static uint8_t before[BIG];

		make_partial(pk, len);
		memcpy(before, pk, len);
		CHECK(gso_from_tun(&v, pk, len, &sz) == GSO_SUPER);
		CHECK(sz == cases[i].size);
		CHECK(memcmp(pk, before, len) == 0);   /* left for the segmenter */
		CHECK(seg_check(pk, len, cases[i].size) ==
		      (cases[i].pay + cases[i].size - 1) / cases[i].size);
	}
}

static void from_tun_bad(void)
{
	static const struct {
		const char *name;
		uint8_t proto;
		struct gso_vnet v;
	} cases[] = {
		{ "csum_start beyond", 6, { 1, 0, 0, 0, 1053, 16 } },
		{ "csum_start at the end", 6, { 1, 0, 0, 0, 1052, 0 } },
		{ "one byte left", 6, { 1, 0, 0, 0, 1051, 0 } },
		{ "csum_off beyond", 6, { 1, 0, 0, 0, 20, 1033 } },
		{ "csum_off at the last byte", 6, { 1, 0, 0, 0, 20, 1031 } },
		{ "csum_off huge", 17, { 1, 0, 0, 0, 20, 0xffff } },
		{ "csum_start huge", 17, { 1, 0, 0, 0, 0xffff, 6 } },
		{ "TCPV4 on UDP", 17, { 1, GSO_T_TCPV4, 28, 1000, 20, 6 } },
		{ "UDP_L4 on TCP", 6, { 1, GSO_T_UDP_L4, 52, 500, 20, 16 } },
		{ "type 3 (UDP, UFO)", 17, { 1, 3, 28, 500, 20, 6 } },
		{ "type 4 (TCPV6)", 6, { 1, 4, 52, 500, 20, 16 } },
		{ "type 0x81 (TCPV4|ECN)", 6, { 1, 0x81, 52, 500, 20, 16 } },
		{ "type 0x80", 6, { 1, 0x80, 52, 500, 20, 16 } },
		{ "GSO without NEEDS_CSUM", 6, { 0, GSO_T_TCPV4, 52, 500, 20, 16 } },
		{ "GSO size 0", 6, { 1, GSO_T_TCPV4, 52, 0, 20, 16 } },
		{ "GSO size below the minimum", 17, { 1, GSO_T_UDP_L4, 28, 63, 20, 6 } },
		{ "GSO, too many segments", 6, { 1, GSO_T_TCPV4, 52, 64, 20, 16 } },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s = { .proto = cases[i].proto, .tcp_opt = 12, .flags = TCP_ACK,
		                  .pay = cases[i].proto == 6 ? 1000 : 1024 };
		size_t len = build(pk, &s), sz = 777;
		enum gso_kind k;
		static uint8_t before[BIG];

		if (cases[i].v.size == 64)      /* 129 segments */
			len = build(pk, &(struct spec){ .proto = 6, .tcp_opt = 12,
			                                .flags = TCP_ACK, .pay = 64 * 128 + 1 });
		CHECK(len == 1052 || cases[i].v.size == 64);
		make_partial(pk, len);
		memcpy(before, pk, len);
		k = gso_from_tun(&cases[i].v, pk, len, &sz);
		if (k != GSO_BAD)
			fprintf(stderr, "  %s: %d\n", cases[i].name, (int)k);
		CHECK(k == GSO_BAD);
		CHECK(sz == 777);
		CHECK(memcmp(pk, before, len) == 0);
	}
	/* The last two bytes are the last place a checksum can go. */
	{
		struct gso_vnet v = { 1, 0, 0, 0, 1050, 0 };
		size_t len = tcp_pkt(pk, 1000), sz;

		CHECK(gso_from_tun(&v, pk, len, &sz) == GSO_ONE);
		v = (struct gso_vnet){ 1, 0, 0, 0, 20, 1030 };
		CHECK(gso_from_tun(&v, pk, len, &sz) == GSO_ONE);
	}
}

/* ---- To the TUN ---- */

static void to_tun_super(void)
{
	static const struct {
		uint8_t proto;
		size_t pay, size, ip_opt;
	} cases[] = {
		{ 6, 10000, 1448, 0 },
		{ 6, 1449, 1448, 0 },
		{ 6, 5000, 1000, 8 },
		{ 6, 65535 - 52, 1448, 0 },
		{ 17, 10000, 1472, 0 },
		{ 17, 129, 64, 0 },
		{ 17, 4001, 1200, 4 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s = { .proto = cases[i].proto, .pay = cases[i].pay,
		                  .ip_opt = cases[i].ip_opt, .tcp_opt = 12,
		                  .flags = TCP_ACK | TCP_PSH };
		size_t len = build(pk, &s), hl = 20 + cases[i].ip_opt, sz = 0;
		size_t l4hl = s.proto == 6 ? 32 : 8, at = hl + ck_off(s.proto);
		struct gso_vnet v, w;
		uint8_t b[GSO_VNET_LEN];
		static uint8_t copy[BIG];

		put16(pk + at, 0xdead);      /* whatever the peer sent */
		memset(&v, 0xee, sizeof v);
		CHECK(gso_to_tun(&v, pk, len, cases[i].size) == GSO_SUPER);
		CHECK(get16(pk + at) == ref_partial(pk, len));
		CHECK(v.flags == GSO_F_NEEDS_CSUM);
		CHECK(v.type == (s.proto == 6 ? GSO_T_TCPV4 : GSO_T_UDP_L4));
		CHECK(v.hdr_len == hl + l4hl);
		CHECK(v.size == cases[i].size);
		CHECK(v.csum_start == hl);
		CHECK(v.csum_off == (s.proto == 6 ? 16 : 6));

		/* The kernel segments it (as gso_seg does) ... */
		CHECK(seg_check(pk, len, cases[i].size) ==
		      (cases[i].pay + cases[i].size - 1) / cases[i].size);
		/* ... reads it back as it was written ... */
		gso_vnet_put(b, &v);
		gso_vnet_get(&w, b);
		memcpy(copy, pk, len);
		CHECK(gso_from_tun(&w, copy, len, &sz) == GSO_SUPER);
		CHECK(sz == cases[i].size);
		/* ... or completes it whole, from csum_start, seeded by the field. */
		kernel_complete(pk, len, v.csum_start, v.csum_off);
		CHECK(l4_ok(pk, len));
	}
}

static void to_tun_one(void)
{
	static const struct {
		uint8_t proto;
		size_t pay, size;
	} cases[] = {
		{ 6, 1448, 1448 },
		{ 6, 1, 1448 },
		{ 6, 999, 1000 },
		{ 17, 1472, 1472 },
		{ 17, 63, 64 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s = { .proto = cases[i].proto, .pay = cases[i].pay,
		                  .tcp_opt = 12, .flags = TCP_ACK | TCP_FIN };
		size_t len = build(pk, &s), at = 20 + ck_off(s.proto);
		struct gso_vnet v;
		static uint8_t want[BIG];

		memcpy(want, pk, len);
		put16(pk + at, 0x1234);
		memset(&v, 0xee, sizeof v);
		CHECK(gso_to_tun(&v, pk, len, cases[i].size) == GSO_ONE);
		CHECK(l4_ok(pk, len));
		CHECK(memcmp(pk, want, len) == 0);
		CHECK(v.flags == 0xee);          /* not filled */
	}
}

/* ---- The virtio-net header and the message prefix ---- */

static void vnet_round_trip(void)
{
	static const struct gso_vnet cases[] = {
		{ 0, 0, 0, 0, 0, 0 },
		{ 1, 1, 52, 1448, 20, 16 },
		{ 1, 5, 28, 1472, 20, 6 },
		{ 0xff, 0x81, 0xffff, 0x8001, 0x1234, 0xfedc },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t b[GSO_VNET_LEN + 2];
		struct gso_vnet v;
		uint16_t h;

		memset(b, 0xaa, sizeof b);
		gso_vnet_put(b, &cases[i]);
		CHECK(b[GSO_VNET_LEN] == 0xaa);
		CHECK(b[0] == cases[i].flags && b[1] == cases[i].type);
		memcpy(&h, b + 4, 2);            /* host byte order */
		CHECK(h == cases[i].size);
		memcpy(&h, b + 8, 2);
		CHECK(h == cases[i].csum_off);
		memset(&v, 0, sizeof v);
		gso_vnet_get(&v, b);
		CHECK(v.flags == cases[i].flags && v.type == cases[i].type);
		CHECK(v.hdr_len == cases[i].hdr_len && v.size == cases[i].size);
		CHECK(v.csum_start == cases[i].csum_start && v.csum_off == cases[i].csum_off);
	}
}

static void wire(void)
{
	static const size_t sizes[] = { 0, 1, 64, 1448, 1472, 0x1234, 65535 };
	static const struct {
		const char *m;
		size_t len;
		int want;
		size_t size;
	} msgs[] = {
		{ "", 0, 0, 0 },
		{ "\x45", 1, 0, 0 },
		{ "\x45\x00\x00\x14", 4, 0, 0 },
		{ "\x60\x00", 2, 0, 0 },
		{ "\xff\x00\x00\x00", 4, 0, 0 },
		{ "\x00", 1, -1, 0 },
		{ "\x00\x01", 2, -1, 0 },
		{ "\x00\x01\x05", 3, -1, 0 },
		{ "\x00\x00\x05\xa8", 4, -1, 0 },
		{ "\x00\x02\x05\xa8", 4, -1, 0 },
		{ "\x00\xff\x05\xa8\x45", 5, -1, 0 },
		{ "\x00\x01\x05\xa8", 4, 1, 1448 },
		{ "\x00\x01\x05\xa8\x45\x00", 6, 1, 1448 },
		{ "\x00\x01\xff\xff", 4, 1, 65535 },
		{ "\x00\x01\x00\x00", 4, 1, 0 },
	};

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t b[GSO_WIRE_LEN + 1] = { 0 };
		size_t sz = 99;

		b[GSO_WIRE_LEN] = 0x45;
		gso_wire_put(b, sizes[i]);
		CHECK(b[0] == 0 && b[1] == 1 && get16(b + 2) == sizes[i]);
		CHECK(b[GSO_WIRE_LEN] == 0x45);
		CHECK(gso_wire_get(b, sizeof b, &sz) == 1);
		CHECK(sz == sizes[i]);
		sz = 99;
		CHECK(gso_wire_get(b, GSO_WIRE_LEN, &sz) == 1);
		CHECK(sz == sizes[i]);
	}
	for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		size_t sz = 99;
		int r = gso_wire_get((const uint8_t *)msgs[i].m, msgs[i].len, &sz);

		if (r != msgs[i].want)
			fprintf(stderr, "  message %zu: %d\n", i, r);
		CHECK(r == msgs[i].want);
		CHECK(sz == (r == 1 ? msgs[i].size : 99));
	}
	/* A real packet never looks like a prefix. */
	{
		size_t len = tcp_pkt(pk, 10), sz;

		CHECK(gso_wire_get(pk, len, &sz) == 0);
	}
}

/* ---- Coalescing (GRO) ---- */

static uint8_t gro_buf[65535], gro_big[BIG], gro_segs[GSO_SEGS_MAX + 1][6144], gro_out[BIG];
static size_t gro_lens[GSO_SEGS_MAX + 1];

/* Cuts p[0..len) at size into gro_segs; returns how many. */
static unsigned gro_cut(const uint8_t *p, size_t len, size_t size)
{
	struct gso_seg s;
	unsigned n = gso_seg_init(&s, p, len, size), k = 0;

	CHECK(n > 0 && gso_seg_max(&s) <= sizeof gro_segs[0]);
	while (k < n && (gro_lens[k] = gso_seg_next(&s, gro_segs[k], sizeof gro_segs[0])) != 0)
		k++;
	CHECK(k == n);
	return k;
}

/*
 * Super-packets cut by gso_seg and offered back segment by segment: all
 * merge, and the result is the original but for its two checksum fields;
 * written with gso_to_tun it is whole after the kernel's completion, and
 * cut again it gives the same segments.
 */
static void gro_round_trip(void)
{
	static const struct {
		size_t pay, size, tcp_opt;
		uint8_t flags;
	} cases[] = {
		{ 10000, 1448, 12, TCP_ACK | TCP_PSH },  /* a short last */
		{ 1448 * 4, 1448, 12, TCP_ACK },         /* an exact multiple */
		{ 1449, 1448, 12, TCP_ACK | TCP_PSH },   /* a last of 1 byte */
		{ 3001, 1000, 0, TCP_ACK },
		{ 5000, 777, 40, TCP_ACK | TCP_PSH },    /* odd sizes */
		{ 65535 - 52, 1448, 12, TCP_ACK },       /* the largest packet */
		{ 11 * 5953, 5953, 12, TCP_ACK },        /* 65535 bytes, every segment full */
		{ 64 * 128, 64, 12, TCP_ACK | TCP_PSH }, /* GSO_SEGS_MAX segments */
		{ 1448, 1448, 12, TCP_ACK },             /* one segment */
	};
	static uint8_t orig[BIG], again[GSO_SEGS_MAX][6144];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec sp = { .proto = 6, .tcp_opt = cases[i].tcp_opt,
		                   .flags = cases[i].flags, .pay = cases[i].pay };
		size_t len = build(orig, &sp), hl = 20, at = hl + 16, glen, gsize;
		unsigned n = gro_cut(orig, len, cases[i].size), bad = 0;
		struct gso_gro g;
		const uint8_t *q;
		struct gso_vnet v;
		struct gso_seg s;

		gso_gro_init(&g, gro_buf, sizeof gro_buf);
		for (unsigned k = 0; k < n; k++)
			bad += gso_gro_add(&g, gro_segs[k], gro_lens[k]) != GRO_MERGED;
		if (bad)
			fprintf(stderr, "  case %zu: %u segments not merged\n", i, bad);
		CHECK(bad == 0);
		CHECK(g.len <= g.cap && g.n == n);
		CHECK(gso_gro_take(&g, &q, &glen, &gsize));
		CHECK(g.len == 0);
		CHECK(!gso_gro_take(&g, &q, &glen, &gsize));
		CHECK(q == gro_buf);
		CHECK(glen == len);
		if (n == 1) {
			CHECK(gsize == 0);
			CHECK(memcmp(q, gro_segs[0], len) == 0);   /* as offered */
			continue;
		}
		CHECK(gsize == cases[i].size);
		CHECK(ip_ok(q));
		CHECK(memcmp(q, orig, 10) == 0);
		CHECK(memcmp(q + 12, orig + 12, at - 12) == 0);
		CHECK(memcmp(q + at + 2, orig + at + 2, len - at - 2) == 0);
		/* To the TUN: segmented as the kernel does, or completed whole. */
		memcpy(gro_out, q, glen);
		CHECK(gso_to_tun(&v, gro_out, glen, gsize) == GSO_SUPER);
		CHECK(v.size == cases[i].size && v.hdr_len == hl + 20 + cases[i].tcp_opt);
		CHECK(gso_seg_init(&s, gro_out, glen, gsize) == n);
		for (unsigned k = 0; k < n; k++) {
			size_t m = gso_seg_next(&s, again[k], sizeof again[k]);

			CHECK(m == gro_lens[k]);
			CHECK(memcmp(again[k], gro_segs[k], gro_lens[k]) == 0);
		}
		kernel_complete(gro_out, glen, v.csum_start, v.csum_off);
		CHECK(l4_ok(gro_out, glen));
		CHECK(seg_check(gro_out, glen, gsize) == n);
	}
}

enum gmut {
	G_NONE, G_SRC, G_DST, G_SPORT, G_DPORT, G_SEQ_GAP, G_SEQ_SAME, G_TSVAL, G_OPT_LEN,
	G_ACKNO, G_WIN, G_TOS, G_TTL, G_DF_OFF, G_ID_SKIP, G_SYN, G_RST, G_FIN, G_URG,
	G_CWR, G_ECE, G_NO_ACK, G_PSH, G_CSUM, G_SHORT, G_LONG, G_UDP, G_ICMP, G_IP_OPT,
	G_MF, G_OFFSET, G_NO_PAY, G_V6, G_TOT_LEN, G_RES, G_IP_OPT_TRAP, G_PROTO_TRAP,
};

static const struct {
	const char *name;
	enum gmut m;
	bool nodf;              /* the whole flow without DF */
	unsigned at;            /* the segment the fault is on (the ones before merge) */
	enum gso_gro_r want;    /* what offering it gives */
	int next;               /* what the flow's next segment then gives, -1 unchecked */
} gro_rules[] = {
	{ "control", G_NONE, false, 2, GRO_MERGED, GRO_MERGED },
	{ "control, no DF, consecutive IDs", G_NONE, true, 2, GRO_MERGED, GRO_MERGED },
	{ "DF, IDs not consecutive", G_ID_SKIP, false, 2, GRO_MERGED, GRO_MERGED },
	{ "no DF, IDs not consecutive", G_ID_SKIP, true, 2, GRO_FLUSH, -1 },
	{ "another source address", G_SRC, false, 2, GRO_FLUSH, -1 },
	{ "another destination address", G_DST, false, 2, GRO_FLUSH, -1 },
	{ "another source port", G_SPORT, false, 2, GRO_FLUSH, -1 },
	{ "another destination port", G_DPORT, false, 2, GRO_FLUSH, -1 },
	{ "a sequence gap", G_SEQ_GAP, false, 2, GRO_FLUSH, -1 },
	{ "a retransmission", G_SEQ_SAME, false, 2, GRO_FLUSH, -1 },
	{ "another timestamp", G_TSVAL, false, 2, GRO_FLUSH, -1 },
	{ "another TCP header length", G_OPT_LEN, false, 2, GRO_FLUSH, -1 },
	{ "another ACK number", G_ACKNO, false, 2, GRO_FLUSH, -1 },
	{ "another window", G_WIN, false, 2, GRO_FLUSH, -1 },
	{ "another TOS (CE)", G_TOS, false, 2, GRO_FLUSH, -1 },
	{ "another TTL", G_TTL, false, 2, GRO_FLUSH, -1 },
	{ "DF on the first only", G_DF_OFF, false, 2, GRO_FLUSH, -1 },
	{ "a reserved TCP bit", G_RES, false, 2, GRO_FLUSH, -1 },
	{ "SYN", G_SYN, false, 2, GRO_SINGLE, -1 },
	{ "RST", G_RST, false, 2, GRO_SINGLE, -1 },
	{ "FIN", G_FIN, false, 2, GRO_SINGLE, -1 },
	{ "URG", G_URG, false, 2, GRO_SINGLE, -1 },
	{ "CWR", G_CWR, false, 2, GRO_SINGLE, -1 },
	{ "ECE", G_ECE, false, 2, GRO_SINGLE, -1 },
	{ "no ACK", G_NO_ACK, false, 2, GRO_SINGLE, -1 },
	{ "a bad TCP checksum", G_CSUM, false, 2, GRO_SINGLE, -1 },
	{ "UDP", G_UDP, false, 2, GRO_SINGLE, -1 },
	{ "ICMP", G_ICMP, false, 2, GRO_SINGLE, -1 },
	{ "IPv4 options", G_IP_OPT, false, 2, GRO_SINGLE, -1 },
	/* Traps: bytes whose checksum would also hold if read as the common case. */
	{ "IPv4 options, summing as if at 20", G_IP_OPT_TRAP, false, 2, GRO_SINGLE, -1 },
	{ "protocol 17, a TCP checksum", G_PROTO_TRAP, false, 2, GRO_SINGLE, -1 },
	{ "MF", G_MF, false, 2, GRO_SINGLE, -1 },
	{ "a fragment offset", G_OFFSET, false, 2, GRO_SINGLE, -1 },
	{ "no payload", G_NO_PAY, false, 2, GRO_SINGLE, -1 },
	{ "IPv6", G_V6, false, 2, GRO_SINGLE, -1 },
	{ "tot_len != len", G_TOT_LEN, false, 2, GRO_SINGLE, -1 },
	{ "PSH: merged, and the last", G_PSH, false, 2, GRO_MERGED, GRO_FLUSH },
	{ "a middle segment shorter than size", G_SHORT, false, 2, GRO_MERGED, GRO_FLUSH },
	{ "a segment longer than size", G_LONG, false, 2, GRO_FLUSH, -1 },
	{ "PSH on the first", G_PSH, false, 0, GRO_SINGLE, -1 },
	{ "SYN on the first", G_SYN, false, 0, GRO_SINGLE, -1 },
	{ "a bad checksum on the first", G_CSUM, false, 0, GRO_SINGLE, -1 },
	{ "a first below GSO_SIZE_MIN", G_SHORT, false, 0, GRO_SINGLE, -1 },
	{ "a short second, then the last", G_SHORT, false, 1, GRO_MERGED, GRO_FLUSH },
};

#define GRO_SIZE 1448
#define GRO_SEQ  0xfffff000u   /* it wraps */

/*
 * Segment k of one flow into p, of pay bytes (GRO_SIZE unless said), with
 * fault m; its checksums valid unless m is G_CSUM. Returns its length.
 */
static size_t gro_seg(uint8_t *p, unsigned k, size_t pay, enum gmut m, bool nodf)
{
	struct spec sp = { .proto = m == G_UDP ? 17 : m == G_ICMP ? 1 : 6,
	                   .tcp_opt = m == G_OPT_LEN ? 8 : 12, .flags = TCP_ACK,
	                   .ip_opt = m == G_IP_OPT || m == G_IP_OPT_TRAP ? 4 : 0 };
	size_t len, hl = sp.ip_opt ? 24 : 20;
	uint8_t *t = p + hl;

	if (m == G_SHORT)
		pay = k ? 1000 : GSO_SIZE_MIN - 1;
	if (m == G_LONG)
		pay = GRO_SIZE + 1;
	if (m == G_NO_PAY)
		pay = 0;
	sp.pay = pay;
	len = build(p, &sp);
	for (size_t i = 0; i < pay; i++)
		p[len - pay + i] = pattern(k * GRO_SIZE + i);
	put16(p + 4, (uint16_t)(0xfff0 + k));
	if (nodf)
		put16(p + 6, 0);
	if (sp.proto == 6)
		put32(t + 4, GRO_SEQ + (uint32_t)(k * GRO_SIZE));
	switch (m) {
	case G_SRC: p[15]++; break;
	case G_DST: p[19]++; break;
	case G_SPORT: put16(t, 40001); break;
	case G_DPORT: put16(t + 2, 444); break;
	case G_SEQ_GAP: put32(t + 4, get32(t + 4) + 1); break;
	case G_SEQ_SAME: put32(t + 4, get32(t + 4) - GRO_SIZE); break;
	case G_TSVAL: t[27]++; break;
	case G_ACKNO: put32(t + 8, get32(t + 8) + 1); break;
	case G_WIN: put16(t + 14, 503); break;
	case G_TOS: p[1] = 0x03; break;
	case G_TTL: p[8] = 63; break;
	case G_DF_OFF: put16(p + 6, 0); break;
	case G_ID_SKIP: put16(p + 4, (uint16_t)(get16(p + 4) + 1)); break;
	case G_RES: t[12] |= 1; break;
	case G_SYN: t[13] |= TCP_SYN; break;
	case G_RST: t[13] |= TCP_RST; break;
	case G_FIN: t[13] |= TCP_FIN; break;
	case G_URG: t[13] |= TCP_URG; break;
	case G_CWR: t[13] |= TCP_CWR; break;
	case G_ECE: t[13] |= TCP_ECE; break;
	case G_NO_ACK: t[13] &= (uint8_t)~TCP_ACK; break;
	case G_PSH: t[13] |= TCP_PSH; break;
	case G_MF: p[6] |= 0x20; break;
	case G_OFFSET: p[7] = 0x10; break;
	case G_V6: p[0] = 0x65; break;
	case G_IP_OPT_TRAP:
		/*
		 * Options summing to -4: the TCP sum also holds from byte 20
		 * with a length 4 more; there the ACK number reads as a data
		 * offset of 32 and ACK.
		 */
		put32(p + 20, 0xfffb0000);
		put32(t + 8, 0x80100000);
		break;
	default: break;
	}
	ip_csum(p);
	if (sp.proto == 6)
		ref_complete(p, len);
	if (m == G_PROTO_TRAP) {
		p[9] = 17;
		ip_csum(p);
	}
	if (m == G_TOT_LEN) {
		put16(p + 2, (uint16_t)(len - 1));
		ip_csum(p);
	}
	if (m == G_CSUM)
		t[16] ^= 0x40;
	return len;
}

static void gro_rules_each(void)
{
	static uint8_t p[4096];

	for (size_t i = 0; i < sizeof gro_rules / sizeof gro_rules[0]; i++) {
		struct gso_gro g;
		const uint8_t *q;
		size_t len, qlen, qsize, want_len = 52;
		unsigned at = gro_rules[i].at, merged = 0;
		bool nodf = gro_rules[i].nodf;
		enum gso_gro_r r, r2;

		memset(gro_buf, 0, sizeof gro_buf);
		gso_gro_init(&g, gro_buf, sizeof gro_buf);
		for (unsigned k = 0; k < at; k++) {
			len = gro_seg(p, k, GRO_SIZE, G_NONE, nodf);
			CHECK(gso_gro_add(&g, p, len) == GRO_MERGED);
			want_len += GRO_SIZE;
			merged++;
		}
		len = gro_seg(p, at, GRO_SIZE, gro_rules[i].m, nodf);
		r = gso_gro_add(&g, p, len);
		if (r != gro_rules[i].want)
			fprintf(stderr, "  %s: %d\n", gro_rules[i].name, (int)r);
		CHECK(r == gro_rules[i].want);
		if (r == GRO_MERGED) {
			want_len += len - 52;
			merged++;
		}
		if (gro_rules[i].next >= 0) {
			/* It follows the bytes merged (after a short one too). */
			len = gro_seg(p, at + 1, GRO_SIZE, G_NONE, nodf);
			put32(p + 24, GRO_SEQ + (uint32_t)(want_len - 52));
			ref_complete(p, len);
			r2 = gso_gro_add(&g, p, len);
			if (r2 != (enum gso_gro_r)gro_rules[i].next)
				fprintf(stderr, "  %s, the next: %d\n", gro_rules[i].name, (int)r2);
			CHECK(r2 == (enum gso_gro_r)gro_rules[i].next);
			if (r2 == GRO_MERGED) {
				want_len += GRO_SIZE;
				merged++;
			}
		}
		/* What a refusal left pending is intact. */
		CHECK(g.n == merged);
		if (!merged) {
			CHECK(!gso_gro_take(&g, &q, &qlen, &qsize));
			continue;
		}
		CHECK(gso_gro_take(&g, &q, &qlen, &qsize));
		CHECK(qlen == want_len);
		CHECK(qsize == (merged > 1 ? GRO_SIZE : 0));
		CHECK(ip_ok(q) && get16(q + 2) == qlen);
		if (qsize)
			CHECK(gso_seg_init(&(struct gso_seg){ 0 }, q, qlen, qsize) == merged);
		for (size_t j = 52; j < qlen; j++)
			if (q[j] != pattern(j - 52)) {
				CHECK(q[j] == pattern(j - 52));
				break;
			}
		/* Offered again to an empty g: a FLUSH starts anew, a SINGLE stays one. */
		if (r != GRO_MERGED) {
			len = gro_seg(p, at, GRO_SIZE, gro_rules[i].m, nodf);
			r2 = gso_gro_add(&g, p, len);
			CHECK(r2 != GRO_FLUSH);
			if (r == GRO_SINGLE)
				CHECK(r2 == GRO_SINGLE);
		}
	}
}

/* PSH is the last segment's: kept on the merged packet, cleared when cut. */
static void gro_psh(void)
{
	static uint8_t p[4096];
	struct gso_gro g;
	const uint8_t *q;
	size_t len, qlen, qsize;

	gso_gro_init(&g, gro_buf, sizeof gro_buf);
	for (unsigned k = 0; k < 3; k++) {
		len = gro_seg(p, k, GRO_SIZE, k == 2 ? G_PSH : G_NONE, false);
		CHECK(gso_gro_add(&g, p, len) == GRO_MERGED);
		CHECK(!(gro_buf[33] & TCP_PSH) == (k < 2));
	}
	CHECK(gso_gro_take(&g, &q, &qlen, &qsize));
	CHECK(q[33] == (TCP_ACK | TCP_PSH) && qsize == GRO_SIZE && qlen == 52 + 3 * GRO_SIZE);
	CHECK(gro_cut(q, qlen, qsize) == 3);
	CHECK(gro_segs[0][33] == TCP_ACK && gro_segs[1][33] == TCP_ACK);
	CHECK(gro_segs[2][33] == (TCP_ACK | TCP_PSH));
}

/* The limits: 65535 bytes, GSO_SEGS_MAX segments, cap. */
static void gro_limits(void)
{
	static uint8_t p[4096];
	struct gso_gro g;
	const uint8_t *q;
	size_t len, qlen, qsize;
	unsigned k;

	/*
	 * 45 segments of 1448 and 52 header bytes: 65212; 323 more is 65535.
	 * A larger cap than that: the limit is the IPv4 length's.
	 */
	gso_gro_init(&g, gro_big, sizeof gro_big);
	for (k = 0; k < 45; k++) {
		len = gro_seg(p, k, GRO_SIZE, G_NONE, false);
		CHECK(gso_gro_add(&g, p, len) == GRO_MERGED);
	}
	len = gro_seg(p, k, 324, G_NONE, false);
	CHECK(gso_gro_add(&g, p, len) == GRO_FLUSH);
	CHECK(g.len == 65212 && g.n == 45);
	len = gro_seg(p, k, 323, G_NONE, false);
	CHECK(gso_gro_add(&g, p, len) == GRO_MERGED);
	CHECK(g.len == 65535);
	CHECK(gso_gro_take(&g, &q, &qlen, &qsize));
	CHECK(qlen == 65535 && qsize == GRO_SIZE);
	CHECK(gso_seg_init(&(struct gso_seg){ 0 }, q, qlen, qsize) == 46);

	/* GSO_SEGS_MAX segments of GSO_SIZE_MIN: the next one does not fit. */
	{
		struct spec sp = { .proto = 6, .tcp_opt = 12, .flags = TCP_ACK,
		                   .pay = GSO_SIZE_MIN * (GSO_SEGS_MAX + 1) };
		static uint8_t big[BIG];
		struct gso_seg s;
		unsigned n;

		len = build(big, &sp);
		CHECK(gso_seg_init(&s, big, len, GSO_SIZE_MIN) == 0);   /* too many */
		put16(big + 2, (uint16_t)(len - GSO_SIZE_MIN));
		ip_csum(big);
		n = gro_cut(big, len - GSO_SIZE_MIN, GSO_SIZE_MIN);
		CHECK(n == GSO_SEGS_MAX);
		/* The one more: its seq follows; its checksum made valid. */
		memcpy(gro_segs[n], gro_segs[n - 1], gro_lens[n - 1]);
		gro_lens[n] = gro_lens[n - 1];
		put32(gro_segs[n] + 24, get32(gro_segs[n] + 24) + GSO_SIZE_MIN);
		put16(gro_segs[n] + 4, (uint16_t)(get16(gro_segs[n] + 4) + 1));
		ip_csum(gro_segs[n]);
		ref_complete(gro_segs[n], gro_lens[n]);
		gso_gro_init(&g, gro_buf, sizeof gro_buf);
		for (k = 0; k < n; k++)
			CHECK(gso_gro_add(&g, gro_segs[k], gro_lens[k]) == GRO_MERGED);
		CHECK(gso_gro_add(&g, gro_segs[n], gro_lens[n]) == GRO_FLUSH);
		CHECK(g.n == GSO_SEGS_MAX);
		CHECK(gso_gro_take(&g, &q, &qlen, &qsize));
		CHECK(gso_seg_init(&s, q, qlen, qsize) == GSO_SEGS_MAX);
		CHECK(gso_gro_add(&g, gro_segs[n], gro_lens[n]) == GRO_MERGED);
	}

	/* A small cap: what does not fit is flushed first; a first too big goes alone. */
	gso_gro_init(&g, gro_buf, 3000);
	for (k = 0; k < 2; k++) {
		len = gro_seg(p, k, GRO_SIZE, G_NONE, false);
		CHECK(gso_gro_add(&g, p, len) == GRO_MERGED);
	}
	len = gro_seg(p, k, GRO_SIZE, G_NONE, false);
	CHECK(gso_gro_add(&g, p, len) == GRO_FLUSH);
	CHECK(g.len == 52 + 2 * GRO_SIZE && g.len <= g.cap);
	gso_gro_init(&g, gro_buf, 1000);
	CHECK(gso_gro_add(&g, p, len) == GRO_SINGLE);
	CHECK(g.len == 0);
}

/* Two flows interleaved: each change of flow flushes; the order is kept. */
static void gro_interleaved(void)
{
	static uint8_t p[4096];
	struct gso_gro g;
	const uint8_t *q;
	size_t len, qlen, qsize;
	static const enum gso_gro_r want[] = {
		GRO_MERGED, GRO_MERGED, GRO_FLUSH, GRO_MERGED, GRO_FLUSH, GRO_MERGED,
	};
	/* Flow A's segments 0 and 1, B's 0, A's 2, as the caller would go. */
	const struct { unsigned k; enum gmut m; } order[] = {
		{ 0, G_NONE }, { 1, G_NONE }, { 0, G_DPORT }, { 2, G_NONE },
	};
	size_t w = 0, takes = 0;

	gso_gro_init(&g, gro_buf, sizeof gro_buf);
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		enum gso_gro_r r;

		len = gro_seg(p, order[i].k, GRO_SIZE, order[i].m, false);
		r = gso_gro_add(&g, p, len);
		CHECK(w < sizeof want / sizeof want[0] && r == want[w]);
		w++;
		if (r == GRO_FLUSH) {
			CHECK(gso_gro_take(&g, &q, &qlen, &qsize));
			takes++;
			CHECK(gso_gro_add(&g, p, len) == want[w]);
			w++;
		}
	}
	CHECK(w == sizeof want / sizeof want[0]);
	CHECK(takes == 2);
	/* A's segment 2 alone: one packet, as it was offered. */
	CHECK(gso_gro_take(&g, &q, &qlen, &qsize));
	CHECK(qsize == 0 && qlen == len && memcmp(q, p, len) == 0);
	CHECK(l4_ok(q, qlen));
}

/* ---- NAT on partial checksums: a randomized property test ---- */


/* A random super-packet (or single packet) of proto between src and dst. */
static size_t gen(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst, size_t *size)
{
	struct spec s = {
		.proto = proto, .src = src, .dst = dst,
		.ip_opt = unit_rn(3) == 0 ? 4 * unit_rn(3) : 0,
		.tcp_opt = 4 * unit_rn(11),
		.flags = (uint8_t)(unit_rnd() & ~(TCP_SYN | TCP_RST | TCP_URG)),
	};
	size_t hl = 20 + s.ip_opt, l4hl = proto == 6 ? 20 + s.tcp_opt : 8, len;

	*size = GSO_SIZE_MIN + unit_rn(1500);
	s.pay = 1 + unit_rn(unit_rn(4) ? 6 * (unsigned)*size : 65535 - (unsigned)(hl + l4hl));
	if ((s.pay + *size - 1) / *size > GSO_SEGS_MAX)
		s.pay = *size * GSO_SEGS_MAX;
	len = build(p, &s);
	for (size_t i = hl + l4hl; i < len; i++)
		p[i] = (uint8_t)unit_rnd();
	if (proto == 6) {
		put32(p + hl + 4, (uint32_t)unit_rnd());
		for (size_t i = 0; i < s.tcp_opt; i++)
			p[hl + 20 + i] = (uint8_t)unit_rnd();
	}
	put16(p + 4, (uint16_t)unit_rnd());
	p[8] = (uint8_t)(1 + unit_rn(255));
	ip_csum(p);
	ref_complete(p, len);
	return len;
}

static int fail_iter = -1;

#define PCHECK(cond)                                                    \
	do {                                                            \
		int before_ = unit_failed_checks;                       \
		CHECK(cond);                                            \
		if (unit_failed_checks != before_ && fail_iter < 0)     \
			fail_iter = iter;                               \
	} while (0)

static uint8_t full[BIG], part[BIG], back[BIG];

static void nat_partial(void)
{
	struct nat n;
	struct nat_acl acl;
	struct nat_cidr allow = { 0xc6336400, 0xffffff00 };   /* 198.51.100.0/24 */

	unit_seed(0x67736f2d6e617431ull);
	nat_init(&n, 0x0a006400, 24, 1460);
	nat_acl_init(&acl);
	CHECK(nat_acl_allow(&acl, allow) == 0);
	for (int iter = 0; iter < 400; iter++) {
		uint8_t proto = unit_rn(2) ? 6 : 17;
		uint32_t client = 0xc0000200 | (2 + unit_rn(8));           /* 192.0.2.2-9 */
		uint32_t server = 0xc6336400 | (1 + unit_rn(254));
		uint32_t mapped;
		size_t size, len = gen(full, proto, client, server, &size), sz;
		size_t hl = (size_t)(full[0] & 15) * 4, at = hl + ck_off(proto);
		size_t l4hl = proto == 6 ? (size_t)(full[hl + 12] >> 4) * 4 : 8;
		unsigned segs = (unsigned)((len - hl - l4hl + size - 1) / size);
		struct gso_vnet v;
		enum gso_kind k;

		/* Client -> Internet: a complete checksum, patched by the NAT. */
		memcpy(part, full, len);
		PCHECK(nat_check(full, len) == DROP_NONE);
		PCHECK(nat_out(&n, &acl, full, len) == DROP_NONE);
		mapped = get32(full + 12);
		PCHECK((mapped & 0xffffff00) == 0x0a006400);
		PCHECK(get32(full + 16) == server);
		PCHECK(ip_ok(full));
		PCHECK(l4_ok(full, len));

		/*
		 * The same as a super-packet from a peer: its field holds a
		 * partial sum (or anything), the NAT patches it, and gso_to_tun
		 * sets what the kernel starts from.
		 */
		put16(part + at, unit_rn(2) ? ref_partial(part, len) : (uint16_t)unit_rnd());
		PCHECK(nat_check(part, len) == DROP_NONE);
		PCHECK(nat_out(&n, &acl, part, len) == DROP_NONE);
		PCHECK(get32(part + 12) == mapped);
		PCHECK(ip_ok(part));
		k = gso_to_tun(&v, part, len, size);
		PCHECK(k == (segs > 1 ? GSO_SUPER : GSO_ONE));
		if (k == GSO_SUPER) {
			PCHECK(get16(part + at) == ref_partial(part, len));
			PCHECK(v.csum_start == hl && v.csum_off == ck_off(proto));
			PCHECK(seg_check(part, len, size) == segs);
			kernel_complete(part, len, v.csum_start, v.csum_off);
		}
		PCHECK(l4_ok(part, len));
		/* Both ways give the same packet, but for how a zero sum is written. */
		PCHECK(memcmp(part, full, at) == 0);
		PCHECK(memcmp(part + at + 2, full + at + 2, len - at - 2) == 0);
		PCHECK(get16(part + at) == get16(full + at) ||
		       (get16(part + at) | get16(full + at)) == 0xffff);

		/* Internet -> client: a reply whose checksum the kernel left partial. */
		len = gen(back, proto, server, mapped, &size);
		hl = (size_t)(back[0] & 15) * 4;
		at = hl + ck_off(proto);
		l4hl = proto == 6 ? (size_t)(back[hl + 12] >> 4) * 4 : 8;
		segs = (unsigned)((len - hl - l4hl + size - 1) / size);
		make_partial(back, len);
		v = (struct gso_vnet){
			.flags = GSO_F_NEEDS_CSUM,
			.type = segs > 1 || unit_rn(2) ? (proto == 6 ? GSO_T_TCPV4 : GSO_T_UDP_L4) : 0,
			.hdr_len = (uint16_t)(hl + l4hl), .size = (uint16_t)size,
			.csum_start = (uint16_t)hl, .csum_off = (uint16_t)ck_off(proto),
		};
		sz = 0;
		k = gso_from_tun(&v, back, len, &sz);
		PCHECK(k == (segs > 1 ? GSO_SUPER : GSO_ONE));
		PCHECK(sz == (k == GSO_SUPER ? size : 0));
		if (k == GSO_ONE)
			PCHECK(l4_ok(back, len));
		PCHECK(nat_in(&n, back, len) == DROP_NONE);
		PCHECK(get32(back + 16) == client);
		PCHECK(get32(back + 12) == server);
		PCHECK(ip_ok(back));
		if (k == GSO_ONE)
			PCHECK(l4_ok(back, len));
		else   /* segmented for the client: every segment valid */
			PCHECK(seg_check(back, len, size) == segs);
	}
	if (fail_iter >= 0)
		fprintf(stderr, "  gso_nat_partial: first failure at iteration %d\n", fail_iter);
}

/* ---- IPv6 UDP ---- */

/* The IPv6 pseudo-header (RFC 8200 §8.1) of ip for l4_len bytes of UDP. */
static uint64_t ref_pseudo6(const uint8_t *ip, size_t l4_len)
{
	return ref_bytes(0, ip + 8, 32) + (l4_len >> 16) + (l4_len & 0xffff) + 17;
}

static bool l4_ok6(const uint8_t *p, size_t len)
{
	return get16(p + 46) != 0 &&
	       ref_fold(ref_bytes(ref_pseudo6(p, len - 40), p + 40, len - 40)) == 0xffff;
}

/*
 * An IPv6 UDP datagram of pay bytes into p: traffic class and flow label
 * set, hop limit 64, 2001:db8:2::2 to 2001:db8:100::1, the payload
 * pattern(i), a complete checksum. Returns its length.
 */
static size_t udp6_pkt(uint8_t *p, size_t pay)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 2 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 0, [15] = 1 };
	size_t len = 48 + pay;
	uint16_t c;

	memset(p, 0, 48);
	put32(p, 0x6a812345);                /* version 6, class 0xa8, flow label */
	put16(p + 4, (uint16_t)(8 + pay));
	p[6] = 17;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	put16(p + 40, 40000);
	put16(p + 42, 443);
	put16(p + 44, (uint16_t)(8 + pay));
	for (size_t i = 0; i < pay; i++)
		p[48 + i] = pattern(i);
	c = (uint16_t)~ref_fold(ref_bytes(ref_pseudo6(p, len - 40), p + 40, len - 40));
	put16(p + 46, c ? c : 0xffff);
	return len;
}

/* Cut at size: each segment the original's headers with its own payload
 * and UDP lengths, a valid checksum, its slice of the payload. */
static unsigned seg_check6(const uint8_t *p, size_t len, size_t size)
{
	struct gso_seg s;
	size_t pay = len - 48, off = 0, n;
	unsigned segs = gso_seg_init(&s, p, len, size), k = 0;

	if (!segs)
		return 0;
	CHECK(segs == (pay + size - 1) / size);
	CHECK(gso_seg_max(&s) == 48 + size);
	while ((n = gso_seg_next(&s, seg_buf, sizeof seg_buf)) != 0) {
		size_t want = k + 1 == segs ? pay - off : size;

		CHECK(n == 48 + want);
		CHECK(get16(seg_buf + 4) == n - 40 && get16(seg_buf + 44) == n - 40);
		CHECK(memcmp(seg_buf, p, 4) == 0 && memcmp(seg_buf + 6, p + 6, 38) == 0);
		CHECK(l4_ok6(seg_buf, n));
		CHECK(memcmp(seg_buf + 48, p + 48 + off, want) == 0);
		off += want;
		k++;
	}
	CHECK(k == segs && off == pay);
	return segs;
}

static void seg_udp6(void)
{
	static const struct {
		size_t pay, size;
	} cases[] = {
		{ 12000, 1200 }, { 10000, 1452 }, { 1453, 1452 }, { 777, 100 }, { 64 * 128, 64 },
		{ 65535 - 8, 1452 }, { 100, 100 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = udp6_pkt(pk, cases[i].pay);

		CHECK(l4_ok6(pk, len));
		CHECK(seg_check6(pk, len, cases[i].size) ==
		      (cases[i].pay + cases[i].size - 1) / cases[i].size);
	}
}

/* From the TUN as a UDP_L4 super-packet, back to a TUN with the header
 * and pseudo-header sum the kernel needs; what it is not, refused. */
static void udp6_tun(void)
{
	size_t len = udp6_pkt(pk, 12000), size = 0;
	struct gso_vnet v = { .flags = GSO_F_NEEDS_CSUM, .type = GSO_T_UDP_L4, .hdr_len = 48,
			      .size = 1200, .csum_start = 40, .csum_off = 6 };
	struct gso_vnet w;
	struct gso_seg s;

	put16(pk + 46, ref_fold(ref_pseudo6(pk, len - 40)));
	CHECK(gso_from_tun(&v, pk, len, &size) == GSO_SUPER && size == 1200);
	v.type = GSO_T_TCPV4;
	CHECK(gso_from_tun(&v, pk, len, &size) == GSO_BAD);
	put16(pk + 46, 0x1234);  /* whatever a peer left there */
	CHECK(gso_to_tun(&w, pk, len, 1200) == GSO_SUPER);
	CHECK(w.type == GSO_T_UDP_L4 && w.flags == GSO_F_NEEDS_CSUM && w.hdr_len == 48 &&
	      w.size == 1200 && w.csum_start == 40 && w.csum_off == 6);
	CHECK(get16(pk + 46) == ref_fold(ref_pseudo6(pk, len - 40)));
	kernel_complete(pk, len, 40, 6);
	CHECK(l4_ok6(pk, len));
	/* One segment: completed in place, a plain packet. */
	len = udp6_pkt(pk, 1000);
	put16(pk + 46, 0);
	CHECK(gso_to_tun(&w, pk, len, 1200) == GSO_ONE && l4_ok6(pk, len));
	/* Refused: an extension header, lengths that disagree, TCP. */
	len = udp6_pkt(pk, 3000);
	pk[6] = 0;
	CHECK(gso_seg_init(&s, pk, len, 1200) == 0);
	len = udp6_pkt(pk, 3000);
	put16(pk + 4, (uint16_t)(get16(pk + 4) + 1));
	CHECK(gso_seg_init(&s, pk, len, 1200) == 0);
	len = udp6_pkt(pk, 3000);
	put16(pk + 44, (uint16_t)(get16(pk + 44) - 1));
	CHECK(gso_seg_init(&s, pk, len, 1200) == 0);
	len = udp6_pkt(pk, 3000);
	pk[6] = 6;
	CHECK(gso_seg_init(&s, pk, len, 1200) == 0 && gso_to_tun(&w, pk, len, 1200) == GSO_BAD);
	len = udp6_pkt(pk, 3000);
	CHECK(gso_seg_init(&s, pk, len - 1, 1200) == 0);
	CHECK(gso_seg_init(&s, pk, 47, 1200) == 0);
	CHECK(gso_seg_init(&s, pk, len, 1200) == 3);
}

const struct unit_case unit_gso[] = {
	{ "gso_seg_tcp", seg_tcp },
	{ "gso_seg_tcp_shapes", seg_tcp_shapes },
	{ "gso_seg_udp", seg_udp },
	{ "gso_seg_udp_zero", seg_udp_zero },
	{ "gso_seg_short_cap", seg_short_cap },
	{ "gso_seg_refusals", seg_refusals },
	{ "gso_from_tun_single", from_tun_single },
	{ "gso_from_tun_plain", from_tun_plain },
	{ "gso_from_tun_super", from_tun_super },
	{ "gso_from_tun_bad", from_tun_bad },
	{ "gso_to_tun_super", to_tun_super },
	{ "gso_to_tun_one", to_tun_one },
	{ "gso_vnet_round_trip", vnet_round_trip },
	{ "gso_wire", wire },
	{ "gso_gro_round_trip", gro_round_trip },
	{ "gso_gro_rules", gro_rules_each },
	{ "gso_gro_psh", gro_psh },
	{ "gso_gro_limits", gro_limits },
	{ "gso_gro_interleaved", gro_interleaved },
	{ "gso_nat_partial", nat_partial },
	{ "gso_seg_udp6", seg_udp6 },
	{ "gso_udp6_tun", udp6_tun },
	{ NULL, NULL },
};
