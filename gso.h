/* SPDX-License-Identifier: MIT */
/*
 * gso.h: super-packets, the way the kernel's TUN offloads and vpngw peers
 * carry them (one IPv4 TCP or UDP packet, or IPv6 UDP packet, of up to 64
 * KiB that stands for many, and the segment size to cut it at). Pure: no syscalls, no
 * allocation; the caller owns every buffer, reads and writes the TUN
 * (link.c) and opens it with its offloads (tun.c).
 *
 * - The virtio-net header (include/linux/virtio_net.h, struct
 *   virtio_net_hdr) in front of every TUN read and write once the TUN is
 *   opened with IFF_VNET_HDR: its fields are in host byte order.
 * - From the TUN: a packet with a partial checksum (NEEDS_CSUM: the field
 *   holds the pseudo-header sum) is completed, unless it is a super-packet.
 * - To the TUN: the header is built from the packet as parsed here, never
 *   from what a peer sent: the L4 checksum field is rewritten to the
 *   pseudo-header sum the kernel starts from.
 * - Segmentation in user space (GSO), for peers that take one packet per
 *   message and TUNs without offloads: every segment gets its own IPv4
 *   length, ID and header checksum (IPv6: payload length), TCP sequence
 *   number and flags, UDP length, and a complete L4 checksum.
 * - Coalescing in user space (GRO), the reverse, for peers that send one
 *   packet per message: consecutive TCP segments of one flow become one
 *   super-packet for a single TUN write.
 * - The vpngw.v1 super-packet message, negotiated as the WebSocket
 *   extension "vpngw-gso" (RFC 6455 §9): GSO_WIRE_LEN bytes, 00 01 and the
 *   segment size (big-endian), then the packet. An IP packet never starts
 *   with 00, so plain packets need no prefix.
 */
#ifndef VPNGW_GSO_H
#define VPNGW_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSO_VNET_LEN     10            /* sizeof(struct virtio_net_hdr) */
#define GSO_WIRE_LEN     4             /* a super-packet message's prefix */
#define GSO_SEGS_MAX     128           /* segments one super-packet may hold */
#define GSO_SIZE_MIN     64            /* smallest segment payload taken */

/* struct virtio_net_hdr's flags and gso_type values. */
#define GSO_F_NEEDS_CSUM 1
#define GSO_T_NONE       0
#define GSO_T_TCPV4      1
#define GSO_T_UDP_L4     5

/* What a TUN was opened with (tun.c): bits of its `offload`. */
#define GSO_TUN_VNET     1   /* every read and write has a virtio-net header */
#define GSO_TUN_TSO      2   /* TUN_F_CSUM | TUN_F_TSO4: TCP super-packets */
#define GSO_TUN_USO      4   /* TUN_F_USO4 | TUN_F_USO6: UDP super-packets */

struct gso_vnet {
	uint8_t flags, type;
	uint16_t hdr_len, size, csum_start, csum_off;
};

void gso_vnet_get(struct gso_vnet *v, const uint8_t b[static GSO_VNET_LEN]);
void gso_vnet_put(uint8_t b[static GSO_VNET_LEN], const struct gso_vnet *v);

enum gso_kind {
	GSO_ONE,      /* one packet, its checksums complete */
	GSO_SUPER,    /* a super-packet of two segments or more */
	GSO_BAD,      /* the header does not describe the packet */
};

/*
 * A packet p[0..len) just read from a TUN behind its header v: completes a
 * partial checksum in place, unless the packet is a super-packet of more
 * than one segment (its checksum is left for whoever segments or writes it:
 * both recompute it). Returns GSO_SUPER with *size the segment payload
 * size, GSO_ONE, or GSO_BAD (a checksum or segment offset out of p, a
 * super-packet gso_seg_init refuses).
 */
enum gso_kind gso_from_tun(const struct gso_vnet *v, uint8_t *p, size_t len, size_t *size)
	__attribute__((warn_unused_result));

/*
 * A super-packet p[0..len) (after the NAT) and its segment size, for
 * a TUN write: checks it as gso_seg_init does and writes the pseudo-header
 * sum into its L4 checksum field. Returns GSO_SUPER with *v filled (its
 * type says which offload the TUN needs: GSO_TUN_TSO for TCP, GSO_TUN_USO
 * for UDP); GSO_ONE when the packet is one segment (its checksum completed
 * in place: write it as a plain packet); GSO_BAD when it is not a
 * super-packet.
 */
enum gso_kind gso_to_tun(struct gso_vnet *v, uint8_t *p, size_t len, size_t size)
	__attribute__((warn_unused_result));

/*
 * How many packets the super-packet p[0..len) stands for at segment size
 * size, and in *bytes their total length; 0 (and *bytes = len) when it is
 * not one gso_seg_init takes. For the counters.
 */
unsigned gso_segments(const uint8_t *p, size_t len, size_t size, size_t *bytes);

/* Cutting a super-packet into packets (user-space GSO). */
struct gso_seg {
	const uint8_t *p;
	size_t len, hl, l4hl, size, off;  /* off: the next segment's payload */
	unsigned k;                       /* segments written */
	uint8_t proto;
	bool v6;
};

/*
 * Starts cutting p[0..len) (the caller's, unchanged, valid until the last
 * gso_seg_next) into segments of at most size payload bytes. p must be an
 * IPv4 packet with tot_len == len and no fragment bits, TCP without SYN,
 * RST or URG (a complete header) or UDP (its length == the datagram's), or
 * an IPv6 packet with UDP right after its fixed header (payload length and
 * UDP length == the datagram's); size >= GSO_SIZE_MIN and at most
 * GSO_SEGS_MAX segments. Returns the
 * number of segments, or 0 when p is not that.
 */
unsigned gso_seg_init(struct gso_seg *s, const uint8_t *p, size_t len, size_t size)
	__attribute__((warn_unused_result));
/* The largest segment's length: the header lengths plus size. */
size_t gso_seg_max(const struct gso_seg *s);
/*
 * Writes the next segment into out (cap bytes, at least gso_seg_max):
 * headers, payload and checksums complete. Returns its length, or 0 when
 * every segment is written (or cap is short).
 */
size_t gso_seg_next(struct gso_seg *s, uint8_t *out, size_t cap);

/* The super-packet message prefix for segment size size (<= 65535). */
void gso_wire_put(uint8_t b[static GSO_WIRE_LEN], size_t size);
/*
 * What the message m[0..len) is: 0, a plain packet (it does not start with
 * 00); 1, a super-packet message, with *size set and the packet at
 * m + GSO_WIRE_LEN; -1, a prefix that is not one this version knows.
 */
int gso_wire_get(const uint8_t *m, size_t len, size_t *size) __attribute__((warn_unused_result));

/*
 * Coalescing in user space (GRO), for peers that send one IP packet per
 * message: consecutive TCP segments of one flow become one super-packet
 * before the TUN write, as the kernel's tcp_gro_receive would merge them.
 * The buffer is the caller's (cap >= 65535 bytes); nothing is allocated.
 */
struct gso_gro {
	uint8_t *buf;          /* the caller's, cap bytes */
	size_t cap, len;       /* len: the super-packet being built, 0 when empty */
	size_t size;           /* its segment size: the first segment's payload */
	size_t l4hl;           /* its TCP header length */
	unsigned n;            /* segments merged */
	uint32_t seq;          /* the sequence number the next segment must have */
	bool closed;           /* the last merged segment ends it (short or PSH) */
};

enum gso_gro_r {
	GRO_MERGED,   /* copied onto the pending super-packet */
	GRO_FLUSH,    /* not with what is pending: take and write that, then offer again */
	GRO_SINGLE,   /* never merged: take and write what is pending, then write p alone */
};

/* An empty g over the caller's buf[0..cap). */
void gso_gro_init(struct gso_gro *g, uint8_t *buf, size_t cap);

/*
 * Offers the IPv4 packet p[0..len) (checked by nat_check, after the NAT;
 * any bytes are safe). Segments merge when they are TCP of the same
 * addresses, ports, TOS, TTL, IPv4 flags (and, without DF, consecutive
 * IDs), no IPv4 options, the same TCP header length, options, ACK number
 * and window, only ACK set (PSH on the last), a valid TCP checksum, each
 * seq the previous one's plus its payload; every segment but the last
 * carries exactly the first's payload, at most GSO_SEGS_MAX of them and
 * 65535 bytes (and cap) in all. A shorter segment or one with PSH is
 * merged but ends the super-packet: the next offer gets GRO_FLUSH.
 *
 * Returns:
 * - GRO_MERGED: p was copied into g (p is the caller's again).
 * - GRO_FLUSH: p does not continue what is pending (g is left as it was):
 *   the caller takes that (gso_gro_take) and writes it, then offers p
 *   again, which then starts a new super-packet or gets GRO_SINGLE.
 * - GRO_SINGLE: p is one no super-packet can start with or hold (not TCP,
 *   a fragment, IPv4 options, SYN, RST, FIN, URG, ECE, CWR or no ACK, no
 *   payload or a first one below GSO_SIZE_MIN, PSH on a first segment, a
 *   bad TCP checksum, ...); g is left as it was. To keep the order the
 *   caller first takes and writes what is pending, if anything, then
 *   writes p as it is (a bad checksum: the kernel drops it, as it would).
 * Whatever the answer, g never holds more than cap bytes.
 */
enum gso_gro_r gso_gro_add(struct gso_gro *g, const uint8_t *p, size_t len)
	__attribute__((warn_unused_result));

/*
 * What is pending, for a TUN write: false when g is empty. Else sets *p
 * (into the caller's buf, valid until the next gso_gro_add), *len and
 * *size, and empties g. *size is the segment size when the packet holds
 * two segments or more: its IPv4 length and header checksum are updated,
 * PSH is the last segment's, its TCP checksum field is stale (pass it to
 * gso_to_tun with *size, or cut it with gso_seg_init). *size is 0 when it
 * is the one packet offered, unchanged: write it as a plain packet.
 */
bool gso_gro_take(struct gso_gro *g, const uint8_t **p, size_t *len, size_t *size);

#endif
