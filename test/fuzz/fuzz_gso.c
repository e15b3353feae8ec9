/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gso.c: a libFuzzer target for gso.c, which it #includes (with
 * nat.c, whose checksum arithmetic it uses). Each input is a segment size
 * (its first 2 bytes, big-endian) and then a packet. The packet is cut by
 * gso_seg_init and gso_seg_next into a buffer of exactly gso_seg_max bytes,
 * and every segment checked: no longer than that, a valid IPv4 header and L4
 * checksum, itself a one-segment packet, its payload the next slice of the
 * original's, as many segments as gso_seg_init said. Copies of the packet,
 * each in a buffer of exactly its size so that ASan sees any overrun, go
 * through gso_to_tun, which must agree with gso_seg_init, and gso_from_tun
 * with a virtio-net header read from the input's first bytes and with one
 * that matches the packet: a packet it does not complete is left as it was,
 * one it completes has a valid checksum. The input is also read as a
 * message by gso_wire_get.
 * Building and running it is test/fuzz/run.sh's job and the Makefile's.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../../nat.c"
#include "../../gso.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *copy(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	assert(p);
	if (size)
		memcpy(p, data, size);
	return p;
}

/* Whether the L4 checksum of the IPv4 packet p[0..len) (hl header bytes) is valid. */
static bool l4_valid(const uint8_t *p, size_t len, size_t hl)
{
	uint64_t sum = pseudo(p, p[9], len - hl);

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
		assert(nat_check(out, got) == DROP_NONE);
		assert(memcmp(out + h, p + h + pay, part) == 0);
		assert(l4_valid(out, got, s.hl));
		if (s.proto == PROTO_UDP)
			assert(get16(out + s.hl + 6) != 0 && get16(out + s.hl + 4) == got - s.hl);
		assert(get16(out + 4) == (uint16_t)(get16(p + 4) + k));
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
		size_t hl = (size_t)(p[0] & 15) * 4;
		struct gso_vnet v = {
			.flags = GSO_F_NEEDS_CSUM,
			.type = p[9] == PROTO_TCP ? GSO_T_TCPV4 :
			        p[9] == PROTO_UDP ? GSO_T_UDP_L4 : data[0],
			.size = (uint16_t)seg,
			.csum_start = (uint16_t)hl,
			.csum_off = p[9] == PROTO_TCP ? 16 : 6,
		};

		from_tun(&v, p, len);
		v.type = GSO_T_NONE;
		from_tun(&v, p, len);
	}
	return 0;
}
