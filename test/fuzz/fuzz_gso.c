/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gso.c: a libFuzzer target for gso.c, which it #includes (with
 * nat.c, whose checksum arithmetic it uses). Each input is a segment size
 * (its first 2 bytes, big-endian) and then a packet. The packet is cut by
 * gso_seg_init and gso_seg_next into a buffer of exactly gso_seg_max bytes,
 * and every segment checked: no longer than that, a valid IPv4 header (or
 * IPv6 payload length) and L4 checksum, itself a one-segment packet, its
 * payload the next slice of the original's, as many segments as
 * gso_seg_init said. Copies of the packet,
 * each in a buffer of exactly its size so that ASan sees any overrun, go
 * through gso_to_tun, which must agree with gso_seg_init, and gso_from_tun
 * with a virtio-net header read from the input's first bytes and with one
 * that matches the packet: a packet it does not complete is left as it was,
 * one it completes has a valid checksum. The input is also read as a
 * message by gso_wire_get.
 * Coalescing: the packet's segments, some with a header bit flipped (and
 * their checksums made valid again), some left out, sent twice or split in
 * two, then the
 * packet itself, are offered to gso_gro_add as link.c would, through a
 * buffer of exactly 65535 bytes: what is pending never exceeds it, a FLUSH
 * means something is pending and the offer after the take never flushes
 * again, a SINGLE leaves what is pending alone, every take is one packet
 * as offered (size 0) or a super-packet gso_seg_init and gso_to_tun take,
 * its payload is the merged segments' payloads, byte for byte, and cut
 * again it gives back the segments offered (but for IDs under DF).
 * Building and running it is test/fuzz/run.sh's job and the Makefile's.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../../nat.c"
#include "fuzz.h"
#include "../../gso.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the L4 checksum of the IP packet p[0..len) (hl header bytes) is valid. */
static bool l4_valid(const uint8_t *p, size_t len, size_t hl)
{
	bool v6 = p[0] >> 4 == 6;
	uint64_t sum = pseudo(p, v6, v6 ? p[6] : p[9], len - hl);

	return nat_fold(nat_sum(sum, p + hl, len - hl)) == 0xffff;
}

/* Cuts p[0..len) at seg and checks every segment. */
static void cut(const uint8_t *p, size_t len, size_t seg)
{
	struct gso_seg s;
	struct shape sh;
	unsigned n = gso_seg_init(&s, p, len, seg), k = 0;
	size_t max, h, pay = 0, got;
	uint8_t *out;

	assert(n <= GSO_SEGS_MAX);
	assert((n != 0) == (shape_of(p, len, &sh) && segments(&sh, len, seg) != 0));
	if (!n)
		return;
	max = gso_seg_max(&s);
	h = s.hl + s.l4hl;
	assert(max == h + seg && h < len);
	out = malloc(max);
	assert(out);
	/* Too short a buffer: nothing written, nothing consumed. */
	assert(gso_seg_next(&s, out, h) == 0);
	assert(s.k == 0 && s.off == h);
	while ((got = gso_seg_next(&s, out, max)) != 0) {
		struct gso_seg one;
		size_t part = got - h;

		assert(got <= max && got > h);
		assert(k < n);
		assert(part == seg || k + 1 == n);
		assert(memcmp(out + h, p + h + pay, part) == 0);
		assert(l4_valid(out, got, s.hl));
		if (s.proto == PROTO_UDP)
			assert(get16(out + s.hl + 6) != 0 && get16(out + s.hl + 4) == got - s.hl);
		if (s.v6) {
			assert(nat_check6(out, got) == DROP_NONE);
			assert(get16(out + 4) == got - 40 && !memcmp(out + 6, p + 6, 34));
		} else {
			assert(nat_check(out, got) == DROP_NONE);
			assert(get16(out + 4) == (uint16_t)(get16(p + 4) + k));
		}
		/* Each segment is a packet of one segment. */
		assert(gso_seg_init(&one, out, got, seg) == 1);
		pay += part;
		k++;
	}
	assert(k == n);
	assert(pay == len - h);
	assert(gso_seg_next(&s, out, max) == 0);
	free(out);
}

static void to_tun(const uint8_t *p, size_t len, size_t seg)
{
	struct gso_seg s;
	struct gso_vnet v = { 0 };
	unsigned n = gso_seg_init(&s, p, len, seg);
	uint8_t *q = copy(p, len);
	enum gso_kind r = gso_to_tun(&v, q, len, seg);

	if (r == GSO_BAD) {
		assert(n == 0);
		assert(len == 0 || memcmp(q, p, len) == 0);
	} else if (r == GSO_ONE) {
		assert(n == 1);
		assert(l4_valid(q, len, s.hl));
	} else {
		assert(r == GSO_SUPER && n > 1);
		assert(v.flags == GSO_F_NEEDS_CSUM && v.size == seg);
		assert(v.csum_start == s.hl && v.hdr_len == s.hl + s.l4hl);
		assert(v.type == (s.proto == PROTO_TCP ? GSO_T_TCPV4 : GSO_T_UDP_L4));
		assert(v.csum_off == (s.proto == PROTO_TCP ? 16 : 6));
		/* Only the checksum field changed. */
		assert(memcmp(q, p, v.csum_start + v.csum_off) == 0);
		assert(memcmp(q + v.csum_start + v.csum_off + 2,
		              p + v.csum_start + v.csum_off + 2,
		              len - v.csum_start - v.csum_off - 2) == 0);
		/* Read back as the kernel would hand it over. */
		{
			size_t got = 0;
			uint8_t *c = copy(q, len);

			assert(gso_from_tun(&v, c, len, &got) == GSO_SUPER && got == seg);
			assert(memcmp(c, q, len) == 0);
			free(c);
		}
		/* The kernel's completion over the whole packet gives a valid one. */
		complete(q, len, v.csum_start, (size_t)v.csum_start + v.csum_off);
		assert(l4_valid(q, len, v.csum_start));
	}
	free(q);
}

static void from_tun(const struct gso_vnet *v, const uint8_t *p, size_t len)
{
	uint8_t *q = copy(p, len);
	size_t got = 0;
	enum gso_kind r = gso_from_tun(v, q, len, &got);

	assert(r == GSO_ONE || r == GSO_SUPER || r == GSO_BAD);
	if (r == GSO_SUPER) {
		struct gso_seg s;

		assert(got == v->size);
		assert(gso_seg_init(&s, q, len, got) > 1);
	} else {
		assert(got == 0);
	}
	if (r == GSO_ONE && (v->flags & GSO_F_NEEDS_CSUM)) {
		/*
		 * Completed: the sum from csum_start, plus the partial sum the
		 * field held, is all ones (where the field is word-aligned).
		 */
		if (v->csum_off % 2 == 0) {
			uint64_t sum = nat_sum(0, q + v->csum_start, len - v->csum_start);

			sum = nat_sum(sum, p + v->csum_start + v->csum_off, 2);
			assert(nat_fold(sum) == 0xffff);
		}
		assert(memcmp(q, p, (size_t)v->csum_start + v->csum_off) == 0);
		assert(memcmp(q + v->csum_start + v->csum_off + 2,
		              p + v->csum_start + v->csum_off + 2,
		              len - v->csum_start - v->csum_off - 2) == 0);
	} else {
		assert(len == 0 || memcmp(q, p, len) == 0);
	}
	free(q);
}

/* ---- Coalescing ---- */

static struct {
	struct gso_gro g;
	uint8_t *buf;            /* 65535 bytes, malloc'd: ASan sees an overrun */
	uint8_t shadow[65536];   /* the payloads merged, in order */
	size_t shadow_len;
	uint8_t first[65536];    /* the first packet merged, as offered */
	size_t first_len;
	unsigned n;
	bool last_psh;           /* the last merged had PSH */
	uint8_t segs[65535 + GSO_SEGS_MAX * 120];   /* the segments merged, as offered */
	size_t seg_at[GSO_SEGS_MAX + 1];
} gr;

/* Whether q[0..len) is a TCP segment as merged: IHL 5, ACK, payload, valid. */
static bool p_is_tcp_segment(const uint8_t *q, size_t len, size_t *pay)
{
	size_t h;

	if (len < 41 || q[0] != 0x45 || q[9] != PROTO_TCP || get16(q + 2) != len)
		return false;
	h = 20 + (size_t)(q[32] >> 4) * 4;
	if (h < 40 || h >= len || (q[33] & ~TCP_PSH) != 0x10 || !l4_valid(q, len, 20))
		return false;
	*pay = len - h;
	return true;
}

/* The caller's flush: what gso_gro_take gives must be what was merged. */
static void gro_flush(void)
{
	const uint8_t *q;
	size_t qlen, qsize, h;

	if (!gso_gro_take(&gr.g, &q, &qlen, &qsize)) {
		assert(gr.n == 0 && gr.shadow_len == 0);
		return;
	}
	assert(gr.n > 0 && q == gr.buf && qlen <= 65535);
	assert(gr.g.len == 0);
	h = 20 + (size_t)(q[32] >> 4) * 4;
	assert(qlen == h + gr.shadow_len);
	assert(memcmp(q + h, gr.shadow, gr.shadow_len) == 0);
	if (qsize == 0) {
		assert(gr.n == 1);
		assert(qlen == gr.first_len && memcmp(q, gr.first, qlen) == 0);
	} else {
		struct gso_seg s;
		struct gso_vnet v;
		uint8_t *c = copy(q, qlen);

		assert(gr.n > 1 && qsize >= GSO_SIZE_MIN);
		assert(nat_check(q, qlen) == DROP_NONE);   /* its header rebuilt */
		assert(gso_seg_init(&s, q, qlen, qsize) == gr.n);
		/* The first's headers, but for the lengths, checksums and PSH. */
		assert(memcmp(q, gr.first, 2) == 0 && memcmp(q + 4, gr.first + 4, 6) == 0);
		assert(memcmp(q + 12, gr.first + 12, 21) == 0);
		assert(q[33] == (gr.first[33] | (gr.last_psh ? TCP_PSH : 0)));
		assert(memcmp(q + 34, gr.first + 34, 2) == 0);
		assert(memcmp(q + 38, gr.first + 38, h - 38) == 0);
		assert(gso_to_tun(&v, c, qlen, qsize) == GSO_SUPER);
		free(c);
		cut(q, qlen, qsize);
		/*
		 * Cut again, it gives back the segments offered: but for the
		 * IDs under DF (counted up from the first) and the checksums'
		 * representation.
		 */
		{
			uint8_t *o = malloc(gso_seg_max(&s));
			size_t m;

			assert(o);
			for (unsigned k = 0; (m = gso_seg_next(&s, o, gso_seg_max(&s))) != 0; k++) {
				const uint8_t *w = gr.segs + gr.seg_at[k];

				assert(k < gr.n && m == gr.seg_at[k + 1] - gr.seg_at[k]);
				assert(memcmp(o, w, 4) == 0 && memcmp(o + 6, w + 6, 4) == 0);
				assert(memcmp(o + 12, w + 12, 24) == 0);
				assert(memcmp(o + 38, w + 38, m - 38) == 0);
				assert((get16(w + 6) & 0x4000) || memcmp(o + 4, w + 4, 2) == 0);
			}
			free(o);
		}
	}
	gr.n = 0;
	gr.shadow_len = 0;
}

/* Offers q[0..qlen) as link.c would: a copy of exactly its size. */
static void gro_offer(const uint8_t *q0, size_t qlen)
{
	uint8_t *q = copy(q0, qlen);
	size_t before = gr.g.len;
	enum gso_gro_r r = gso_gro_add(&gr.g, q, qlen);

	assert(gr.g.len <= gr.g.cap);
	if (r == GRO_FLUSH) {
		assert(before > 0 && gr.g.len == before);
		gro_flush();
		r = gso_gro_add(&gr.g, q, qlen);
		assert(r != GRO_FLUSH);
		before = 0;
	}
	if (r == GRO_SINGLE) {
		assert(gr.g.len == before);
		gro_flush();
	} else {
		size_t pay;

		assert(r == GRO_MERGED);
		assert(p_is_tcp_segment(q, qlen, &pay));
		assert(gr.g.len == (before ? before : qlen - pay) + pay);
		if (!gr.n) {
			memcpy(gr.first, q, qlen);
			gr.first_len = qlen;
		}
		if (!gr.n)
			gr.seg_at[0] = 0;
		assert(gr.n < GSO_SEGS_MAX && gr.seg_at[gr.n] + qlen <= sizeof gr.segs);
		memcpy(gr.segs + gr.seg_at[gr.n], q, qlen);
		gr.seg_at[gr.n + 1] = gr.seg_at[gr.n] + qlen;
		memcpy(gr.shadow + gr.shadow_len, q + qlen - pay, pay);
		gr.shadow_len += pay;
		gr.n++;
		gr.last_psh = q[33] & TCP_PSH;
	}
	free(q);
}

/* Makes the IPv4 and TCP checksums of q[0..len) (hl header bytes) valid again. */
static void gro_fix(uint8_t *q, size_t len, size_t hl)
{
	put16(q + 10, 0);
	put16(q + 10, nat_csum(q, hl));
	if (shape_of(q, len, &(struct shape){ 0 }) && (q[0] & 15) * 4u == hl && q[9] == PROTO_TCP) {
		uint16_t ps = nat_fold(pseudo(q, false, PROTO_TCP, len - hl));

		memcpy(q + hl + 16, &ps, 2);
		complete(q, len, hl, hl + 16);
	}
}

/*
 * The packet's segments, perturbed by the input's bytes: a header bit
 * flipped (checksums made valid again), a segment left out, sent twice or
 * split in two; then the input's packet itself.
 */
static void gro(const uint8_t *data, size_t size, const uint8_t *p, size_t len, size_t seg)
{
	struct gso_seg s;
	unsigned n = gso_seg_init(&s, p, len, seg);
	uint8_t *out = n ? malloc(gso_seg_max(&s)) : NULL;
	size_t got;

	if (!gr.buf) {
		gr.buf = malloc(65535);
		assert(gr.buf);
	}
	gso_gro_init(&gr.g, gr.buf, 65535);
	gr.n = 0;
	gr.shadow_len = 0;
	for (unsigned k = 0; n && (got = gso_seg_next(&s, out, gso_seg_max(&s))) != 0; k++) {
		/* From the end: payload bytes, free for the fuzzer to choose. */
		uint8_t c = data[size - 1 - 2 * k % size], d = data[size - 1 - (2 * k + 1) % size];
		size_t h = s.hl + s.l4hl;

		if ((c & 0xc0) == 0xc0 && s.proto == PROTO_TCP) {
			size_t at = d % h;

			out[at] ^= (uint8_t)(1 << (c & 7));
			if (at >= 10 && at < 12)
				out[at] ^= (uint8_t)(1 << (c & 7));   /* not the header checksum */
		}
		if (s.proto == PROTO_TCP)
			gro_fix(out, got, s.hl);
		if ((c & 0xc0) == 0x80)
			continue;                 /* left out */
		if ((c & 0xf0) == 0x50 && s.proto == PROTO_TCP && got - h > 16) {
			/* Split in two: a short segment, and the rest after it. */
			size_t a = (got - h) * (c & 15) / 16 + 1;
			uint8_t *t = malloc(got);

			assert(t);
			memcpy(t, out, h + a);
			put16(t + 2, (uint16_t)(h + a));
			gro_fix(t, h + a, s.hl);
			gro_offer(t, h + a);
			memcpy(t, out, h);
			memcpy(t + h, out + h + a, got - h - a);
			put16(t + 2, (uint16_t)(got - a));
			put32(t + s.hl + 4, get32(out + s.hl + 4) + (uint32_t)a);
			gro_fix(t, got - a, s.hl);
			gro_offer(t, got - a);
			free(t);
			continue;
		}
		gro_offer(out, got);
		if ((c & 0xc0) == 0x40 && (c & 0x30) == 0x30)
			gro_offer(out, got);      /* sent twice */
	}
	free(out);
	/* Any bytes, even those the caller's nat_check would have dropped. */
	gro_offer(p, len);
	gro_flush();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 2;
	size_t len, seg, wsize = 12345;
	int w;

	/* As a message: a plain packet, a super-packet or a foreign prefix. */
	w = gso_wire_get(data, size, &wsize);
	if (w == 1)
		assert(size >= GSO_WIRE_LEN && data[0] == 0 && data[1] == 1 &&
		       wsize == get16(data + 2));
	else if (w == 0)
		assert((size == 0 || data[0] != 0) && wsize == 12345);
	else
		assert(w == -1 && data[0] == 0 && wsize == 12345);

	if (size < 2)
		return 0;
	seg = get16(data);
	len = size - 2;
	cut(p, len, seg);
	to_tun(p, len, seg);
	gro(data, size, p, len, seg);

	/* A header from the input's first bytes, whatever they say. */
	if (size >= GSO_VNET_LEN) {
		struct gso_vnet v;

		gso_vnet_get(&v, data);
		from_tun(&v, p, len);
		{
			uint8_t b[GSO_VNET_LEN];

			gso_vnet_put(b, &v);
			assert(memcmp(b, data, GSO_VNET_LEN) == 0);
		}
	}
	/* One that matches the packet, as the kernel writes it. */
	if (len >= 20) {
		bool v6 = p[0] >> 4 == 6 && len >= 40;
		size_t hl = v6 ? 40 : (size_t)(p[0] & 15) * 4;
		uint8_t proto = v6 ? p[6] : p[9];
		struct gso_vnet v = {
			.flags = GSO_F_NEEDS_CSUM,
			.type = proto == PROTO_TCP && !v6 ? GSO_T_TCPV4 :
			        proto == PROTO_UDP ? GSO_T_UDP_L4 : data[0],
			.size = (uint16_t)seg,
			.csum_start = (uint16_t)hl,
			.csum_off = proto == PROTO_TCP ? 16 : 6,
		};

		from_tun(&v, p, len);
		v.type = GSO_T_NONE;
		from_tun(&v, p, len);
	}
	return 0;
}
