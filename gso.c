/* SPDX-License-Identifier: MIT */
/*
 * gso.c: super-packets (see gso.h): the virtio-net header, checksum
 * completion, the header for a TUN write, segmentation in user space and
 * the super-packet message's prefix. Every length is checked here against
 * the bytes present; checksum arithmetic is nat.c's. What is read or
 * written, and when, is link.c's.
 */
#include <string.h>

#include "bytes.h"
#include "gso.h"
#include "nat.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_FIN   0x01
#define TCP_SYN   0x02
#define TCP_RST   0x04
#define TCP_PSH   0x08
#define TCP_URG   0x20
#define TCP_CWR   0x80
#define WIRE_SEG  1       /* the prefix's kind: cut at the segment size */

/* ==== The virtio-net header: host byte order ==== */

void gso_vnet_get(struct gso_vnet *v, const uint8_t b[static GSO_VNET_LEN])
{
	v->flags = b[0];
	v->type = b[1];
	memcpy(&v->hdr_len, b + 2, 2);
	memcpy(&v->size, b + 4, 2);
	memcpy(&v->csum_start, b + 6, 2);
	memcpy(&v->csum_off, b + 8, 2);
}

void gso_vnet_put(uint8_t b[static GSO_VNET_LEN], const struct gso_vnet *v)
{
	b[0] = v->flags;
	b[1] = v->type;
	memcpy(b + 2, &v->hdr_len, 2);
	memcpy(b + 4, &v->size, 2);
	memcpy(b + 6, &v->csum_start, 2);
	memcpy(b + 8, &v->csum_off, 2);
}

/* ==== What a super-packet must look like ==== */

struct shape {
	size_t hl, l4hl;   /* IP and TCP/UDP header lengths */
	uint8_t proto;
	bool v6;
};

/*
 * An IPv4 packet of exactly len bytes, not a fragment, carrying TCP with a
 * whole header and none of SYN, RST and URG (nothing segmentation could
 * repeat or split), or UDP whose length is the datagram's. Or an IPv6
 * packet of exactly len bytes whose fixed header is followed by UDP (no
 * extension header), its length the datagram's: TCP over IPv6 is not
 * offered as super-packets (no TSO6), so the kernel cuts it.
 */
static bool shape_of(const uint8_t *p, size_t len, struct shape *s)
{
	const uint8_t *l4;
	size_t l4_len;

	if (len >= 48 && p[0] >> 4 == 6) {
		*s = (struct shape){ .hl = 40, .l4hl = 8, .proto = p[6], .v6 = true };
		return s->proto == PROTO_UDP && get16(p + 4) == len - 40 &&
		       get16(p + 44) == len - 40;
	}
	if (len < 20 || p[0] >> 4 != 4)
		return false;
	s->v6 = false;
	s->hl = (size_t)(p[0] & 15) * 4;
	if (s->hl < 20 || s->hl > len || get16(p + 2) != len || (get16(p + 6) & 0x3fff))
		return false;
	s->proto = p[9];
	l4 = p + s->hl;
	l4_len = len - s->hl;
	if (s->proto == PROTO_TCP) {
		if (l4_len < 20)
			return false;
		s->l4hl = (size_t)(l4[12] >> 4) * 4;
		return s->l4hl >= 20 && s->l4hl <= l4_len &&
		       !(l4[13] & (TCP_SYN | TCP_RST | TCP_URG));
	}
	if (s->proto == PROTO_UDP) {
		s->l4hl = 8;
		return l4_len >= 8 && get16(l4 + 4) == l4_len;
	}
	return false;
}

/* How many segments of size payload bytes; 0 when out of bounds. */
static unsigned segments(const struct shape *s, size_t len, size_t size)
{
	size_t pay = len - s->hl - s->l4hl, n;

	if (size < GSO_SIZE_MIN || size > 65535 || pay == 0)
		return 0;
	n = (pay + size - 1) / size;
	return n > GSO_SEGS_MAX ? 0 : (unsigned)n;
}

/* Where the L4 checksum sits, from the packet's start. */
static size_t csum_at(const struct shape *s)
{
	return s->hl + (s->proto == PROTO_TCP ? 16 : 6);
}

/* The pseudo-header's sum (RFC 793 §3.1, RFC 768; IPv6's, RFC 8200 §8.1)
 * for l4_len bytes. */
static uint64_t pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4_len)
{
	uint8_t b[12];

	if (v6) {
		const uint8_t t[8] = { 0, 0, (uint8_t)(l4_len >> 8), (uint8_t)l4_len, 0, 0, 0, proto };
		return nat_sum(nat_sum(0, ip + 8, 32), t, sizeof t);
	}
	memcpy(b, ip + 12, 8);
	b[8] = 0;
	b[9] = proto;
	put16(b + 10, (uint16_t)l4_len);
	return nat_sum(0, b, sizeof b);
}

/*
 * The checksum at p + at over p[start..len), seeded by what the field
 * holds (a partial sum), stored complemented; a result of 0 goes as all
 * ones (the same number in one's complement, and what UDP needs).
 */
static void complete(uint8_t *p, size_t len, size_t start, size_t at)
{
	uint16_t c = (uint16_t)~nat_fold(nat_sum(0, p + start, len - start));

	if (c == 0)
		c = 0xffff;
	memcpy(p + at, &c, 2);
}

/* ==== From the TUN ==== */

enum gso_kind gso_from_tun(const struct gso_vnet *v, uint8_t *p, size_t len, size_t *size)
{
	struct shape s;

	if (v->type != GSO_T_NONE) {
		uint8_t proto = v->type == GSO_T_TCPV4 ? PROTO_TCP :
				v->type == GSO_T_UDP_L4 ? PROTO_UDP : 0;
		unsigned n;

		if (!proto || !(v->flags & GSO_F_NEEDS_CSUM) || !shape_of(p, len, &s) ||
		    s.proto != proto || !(n = segments(&s, len, v->size)))
			return GSO_BAD;
		if (n > 1) {
			*size = v->size;
			return GSO_SUPER;
		}
	}
	if (!(v->flags & GSO_F_NEEDS_CSUM))
		return GSO_ONE;
	if (v->csum_start > len || v->csum_off > len - v->csum_start ||
	    len - v->csum_start - v->csum_off < 2)
		return GSO_BAD;
	complete(p, len, v->csum_start, (size_t)v->csum_start + v->csum_off);
	return GSO_ONE;
}

/* ==== To the TUN ==== */

enum gso_kind gso_to_tun(struct gso_vnet *v, uint8_t *p, size_t len, size_t size)
{
	struct shape s;
	unsigned n;
	uint16_t ps;

	if (!shape_of(p, len, &s) || !(n = segments(&s, len, size)))
		return GSO_BAD;
	/* Whatever the peer left in the field, the kernel starts from this. */
	ps = nat_fold(pseudo(p, s.v6, s.proto, len - s.hl));
	memcpy(p + csum_at(&s), &ps, 2);
	if (n == 1) {
		complete(p, len, s.hl, csum_at(&s));
		return GSO_ONE;
	}
	*v = (struct gso_vnet){
		.flags = GSO_F_NEEDS_CSUM,
		.type = s.proto == PROTO_TCP ? GSO_T_TCPV4 : GSO_T_UDP_L4,
		.hdr_len = (uint16_t)(s.hl + s.l4hl),
		.size = (uint16_t)size,
		.csum_start = (uint16_t)s.hl,
		.csum_off = (uint16_t)(csum_at(&s) - s.hl),
	};
	return GSO_SUPER;
}

/* ==== Segmentation ==== */

unsigned gso_segments(const uint8_t *p, size_t len, size_t size, size_t *bytes)
{
	struct shape s;
	unsigned n;

	*bytes = len;
	if (!shape_of(p, len, &s) || !(n = segments(&s, len, size)))
		return 0;
	*bytes = len + (n - 1) * (s.hl + s.l4hl);
	return n;
}

unsigned gso_seg_init(struct gso_seg *s, const uint8_t *p, size_t len, size_t size)
{
	struct shape sh;
	unsigned n;

	if (!shape_of(p, len, &sh) || !(n = segments(&sh, len, size)))
		return 0;
	*s = (struct gso_seg){
		.p = p, .len = len, .hl = sh.hl, .l4hl = sh.l4hl, .size = size,
		.off = sh.hl + sh.l4hl, .proto = sh.proto, .v6 = sh.v6,
	};
	return n;
}

size_t gso_seg_max(const struct gso_seg *s)
{
	return s->hl + s->l4hl + s->size;
}

/*
 * Each segment is the headers and its slice of the payload. IPv4: its own
 * length, the ID counted up from the first, the header checksum; IPv6: its
 * own payload length. TCP: the
 * sequence number of its first byte; FIN and PSH only on the last, CWR only
 * on the first (as the kernel's tcp_gso_segment). UDP: its own length.
 */
size_t gso_seg_next(struct gso_seg *s, uint8_t *out, size_t cap)
{
	size_t h = s->hl + s->l4hl, pay, n;
	struct shape sh = { s->hl, s->l4hl, s->proto, s->v6 };
	uint8_t *l4 = out + s->hl;

	if (s->off >= s->len)
		return 0;
	pay = s->len - s->off < s->size ? s->len - s->off : s->size;
	n = h + pay;
	if (cap < n)
		return 0;
	memcpy(out, s->p, h);
	memcpy(out + h, s->p + s->off, pay);
	if (s->v6) {
		put16(out + 4, (uint16_t)(n - s->hl));
	} else {
		put16(out + 2, (uint16_t)n);
		put16(out + 4, (uint16_t)(get16(s->p + 4) + s->k));
		put16(out + 10, 0);
		put16(out + 10, nat_csum(out, s->hl));
	}
	if (s->proto == PROTO_TCP) {
		put32(l4 + 4, get32(s->p + s->hl + 4) + (uint32_t)(s->off - h));
		if (s->off + pay < s->len)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (s->k)
			l4[13] &= (uint8_t)~TCP_CWR;
	} else
		put16(l4 + 4, (uint16_t)(n - s->hl));
	uint16_t ps = nat_fold(pseudo(out, s->v6, s->proto, n - s->hl));
	memcpy(out + csum_at(&sh), &ps, 2);
	complete(out, n, s->hl, csum_at(&sh));
	s->off += pay;
	s->k++;
	return n;
}

/* ==== The super-packet message ==== */

void gso_wire_put(uint8_t b[static GSO_WIRE_LEN], size_t size)
{
	b[0] = 0;
	b[1] = WIRE_SEG;
	put16(b + 2, (uint16_t)size);
}

int gso_wire_get(const uint8_t *m, size_t len, size_t *size)
{
	if (len == 0 || m[0] != 0)
		return 0;
	if (len < GSO_WIRE_LEN || m[1] != WIRE_SEG)
		return -1;
	*size = get16(m + 2);
	return 1;
}

/* ==== Coalescing (GRO) ==== */

#define TCP_ACK   0x10
#define IP_DF     0x4000

void gso_gro_init(struct gso_gro *g, uint8_t *buf, size_t cap)
{
	*g = (struct gso_gro){ .buf = buf, .cap = cap };
}

/*
 * Whether p[0..len) is a TCP segment a super-packet may hold: IPv4 of
 * exactly len bytes with no options and no fragment bits, a whole TCP
 * header, ACK and perhaps PSH and nothing else, some payload and a valid
 * checksum. Sets *l4hl.
 */
static bool gro_segment(const uint8_t *p, size_t len, size_t *l4hl)
{
	const uint8_t *t = p + 20;

	if (len < 40 || p[0] != 0x45 || get16(p + 2) != len || (get16(p + 6) & 0x3fff) ||
	    p[9] != PROTO_TCP)
		return false;
	*l4hl = (size_t)(t[12] >> 4) * 4;
	if (*l4hl < 20 || 20 + *l4hl >= len || (t[13] & ~TCP_PSH) != TCP_ACK)
		return false;
	return nat_fold(nat_sum(pseudo(p, false, PROTO_TCP, len - 20), t, len - 20)) == 0xffff;
}

/* Whether the segment p (its headers checked) continues what g holds. */
static bool gro_follows(const struct gso_gro *g, const uint8_t *p, size_t len, size_t l4hl)
{
	const uint8_t *f = g->buf, *t = p + 20, *ft = f + 20;
	size_t pay = len - 20 - l4hl;

	if (g->closed || g->n >= GSO_SEGS_MAX || pay > g->size ||
	    g->len + pay > 65535 || g->len + pay > g->cap || l4hl != g->l4hl)
		return false;
	/* IPv4: TOS, flags, TTL, protocol and addresses; the ID without DF. */
	if (p[1] != f[1] || get16(p + 6) != get16(f + 6) || p[8] != f[8] ||
	    memcmp(p + 12, f + 12, 8) != 0)
		return false;
	if (!(get16(p + 6) & IP_DF) && get16(p + 4) != (uint16_t)(get16(f + 4) + g->n))
		return false;
	/* TCP: ports, the sequence number, ACK, data offset, window, options. */
	return memcmp(t, ft, 4) == 0 && get32(t + 4) == g->seq &&
	       memcmp(t + 8, ft + 8, 5) == 0 && memcmp(t + 14, ft + 14, 2) == 0 &&
	       memcmp(t + 18, ft + 18, l4hl - 18) == 0;
}

enum gso_gro_r gso_gro_add(struct gso_gro *g, const uint8_t *p, size_t len)
{
	size_t l4hl, pay;
	bool psh;

	if (!gro_segment(p, len, &l4hl))
		return GRO_SINGLE;
	pay = len - 20 - l4hl;
	psh = p[20 + 13] & TCP_PSH;
	if (g->len) {
		if (!gro_follows(g, p, len, l4hl))
			return GRO_FLUSH;
		memcpy(g->buf + g->len, p + 20 + l4hl, pay);
		g->len += pay;
		g->n++;
		g->seq += (uint32_t)pay;
		if (psh)
			g->buf[20 + 13] |= TCP_PSH;
		g->closed = psh || pay < g->size;
		return GRO_MERGED;
	}
	/* A first segment: one that could not be followed goes alone. */
	if (psh || pay < GSO_SIZE_MIN || len > g->cap)
		return GRO_SINGLE;
	memcpy(g->buf, p, len);
	g->len = len;
	g->size = pay;
	g->l4hl = l4hl;
	g->n = 1;
	g->seq = get32(p + 24) + (uint32_t)pay;
	g->closed = false;
	return GRO_MERGED;
}

bool gso_gro_take(struct gso_gro *g, const uint8_t **p, size_t *len, size_t *size)
{
	if (!g->len)
		return false;
	*p = g->buf;
	*len = g->len;
	*size = g->n > 1 ? g->size : 0;
	if (g->n > 1) {
		put16(g->buf + 2, (uint16_t)g->len);
		put16(g->buf + 10, 0);
		put16(g->buf + 10, nat_csum(g->buf, 20));
	}
	g->len = 0;
	g->n = 0;
	g->closed = false;
	return true;
}
