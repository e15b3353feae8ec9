/* SPDX-License-Identifier: MIT */
/*
 * nat.h: what the gateway does to one IPv4 packet, in place, with no
 * syscalls: validation, the destination filter, the per-client source NAT
 * with incremental checksums (RFC 1624), ICMP error inner headers, and TCP
 * MSS clamping. The caller owns the buffers and does the I/O. It also holds
 * the program's one parser of IPv4 addresses and prefixes, for the command
 * line and the vpngw.v1 assignment alike.
 */
#ifndef VPNGW_NAT_H
#define VPNGW_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAT_MAX_MAP 32   /* source addresses per client (SPEC) */
#define NAT_ACL_MAX 64   /* --allow / --deny entries each */

/*
 * Why a packet was not forwarded: one enum indexes the counters and the
 * metric labels (drop_name). The loop adds its own reasons after the NAT's.
 */
enum drop {
	DROP_NONE = 0,
	DROP_MALFORMED,      /* not IPv4, IHL < 5, tot_len != message length */
	DROP_CHECKSUM,       /* bad IPv4 header checksum */
	DROP_IPV6,           /* IPv6, not supported yet */
	DROP_DENIED,         /* destination not allowed */
	DROP_MAP_FULL,       /* a 33rd source address */
	DROP_NOT_MAPPED,     /* from the TUN to an address the client never used */
	DROP_QUEUE_FULL,     /* the client's output queue is full (tail drop) */
	DROP_TUN_WRITE,      /* the TUN write failed (ENOBUFS, EAGAIN, ...) */
	DROP_NO_CLIENT,      /* read from a slot nobody holds */
	DROP_LINK_DOWN,      /* client: the tunnel is not connected */
	DROP_RATE,           /* over the client's --client-rate */
	DROP_DELAY,          /* waited too long in a send queue (CoDel) */
	DROP_N
};

/* A stable lower-case name for metrics and logs. */
const char *drop_name(enum drop d);

/*
 * Appends " drop_<name>=<count>" for every reason to out[0..cap), which
 * holds a NUL-terminated string of len bytes; stops when full. Returns the
 * new length.
 */
size_t drop_format(char *out, size_t cap, size_t len, const uint64_t drops[static DROP_N]);

/* An IPv4 prefix, host byte order. */
struct nat_cidr {
	uint32_t addr;
	uint32_t mask;
};

/*
 * The one parser of IPv4 addresses and prefixes. Reads s[0..len) (the
 * caller's; no NUL needed) as "a.b.c.d/len", or a bare "a.b.c.d" as /32:
 * decimal parts of at most 3 digits without leading zeros, nothing before
 * or after. On success sets *addr (host order, every bit kept, host bits
 * included) and *prefix (0..32) and returns 0; else returns -1 and leaves
 * both alone.
 */
int nat_prefix_parse(const char *s, size_t len, uint32_t *addr, unsigned *prefix)
	__attribute__((warn_unused_result));

/*
 * A network prefix from the NUL-terminated s, as nat_prefix_parse reads it,
 * into c with the host bits cleared ("10.0.100.77/24" is 10.0.100.0/24).
 * Returns 0, or -1 if s is not that.
 */
int nat_cidr_parse(struct nat_cidr *c, const char *s) __attribute__((warn_unused_result));

/* Whether a (host order) lies in one of list[0..n). */
bool nat_cidr_match(const struct nat_cidr *list, size_t n, uint32_t a);

/*
 * Whether addr/prefix (host order) is an address an interface can hold: a
 * prefix of 1..32, and not 0.0.0.0, 255.255.255.255, 127/8 or 224/3.
 */
bool nat_host_ok(uint32_t addr, unsigned prefix);

/*
 * An interface address "a.b.c.d/len" from s[0..len), keeping its host bits:
 * nat_prefix_parse with the "/len" required and nat_host_ok. Returns 0 with
 * *addr and *prefix set, or -1.
 */
int nat_ifaddr_parse(const char *s, size_t len, uint32_t *addr, unsigned *prefix)
	__attribute__((warn_unused_result));

/*
 * The destination filter (SPEC, Data plane step 2): a destination matching an
 * allow entry is permitted; else one matching a deny entry (the defaults and
 * --deny) is refused; else it is permitted.
 */
struct nat_acl {
	struct nat_cidr allow[NAT_ACL_MAX];
	struct nat_cidr deny[NAT_ACL_MAX];
	unsigned n_allow, n_deny;
};

/* Fills acl with the default deny list (SPEC: RFC 6890 non-global ranges). */
void nat_acl_init(struct nat_acl *acl);
/* Adds to a list; returns -1 when it is full. */
int nat_acl_allow(struct nat_acl *acl, struct nat_cidr c);
int nat_acl_deny(struct nat_acl *acl, struct nat_cidr c);
/* true if dst (host order) may be reached. */
bool nat_acl_permits(const struct nat_acl *acl, uint32_t dst);

/* One client's source NAT: original client address <-> slot address. */
struct nat {
	uint32_t net;                  /* slot subnet, host order */
	uint32_t first;                /* first mappable address (net + 2) */
	unsigned cap;                  /* mappings the subnet allows, <= 32 */
	unsigned n;                    /* mappings in use */
	uint32_t orig[NAT_MAX_MAP];    /* client's source addresses, net order */
	uint32_t mapped[NAT_MAX_MAP];  /* their slot addresses, net order */
	uint16_t mss;                  /* clamp SYN MSS to this; 0 = off */
};

/*
 * Sets up an empty table for the slot subnet net/prefix (host order): the
 * gateway holds net+1, mappings start at net+2, and stay below broadcast.
 */
void nat_init(struct nat *n, uint32_t net, unsigned prefix, uint16_t mss);
/* Forgets every mapping (a new client on the slot). */
void nat_reset(struct nat *n);

/*
 * Checks that p[0..len) is one whole IPv4 packet: version 4, IHL >= 5 and
 * within len, tot_len == len, header checksum valid (RFC 791). Returns
 * DROP_NONE, DROP_IPV6, DROP_MALFORMED or DROP_CHECKSUM.
 */
enum drop nat_check(const uint8_t *p, size_t len);

/*
 * Client -> Internet. p[0..len) has passed nat_check. Checks the destination
 * against acl, maps the source (adding a mapping if new), rewrites it and
 * patches the IPv4 and TCP/UDP checksums (UDP checksum 0 stays 0; non-first
 * fragments have no L4 header), clamps the MSS of SYNs, and rewrites the
 * inner destination of ICMP errors the client sends. Returns DROP_NONE when
 * the packet is ready for the TUN, else the reason.
 */
enum drop nat_out(struct nat *n, const struct nat_acl *acl, uint8_t *p, size_t len);

/*
 * Internet -> client, for a packet read from the slot's TUN (the kernel has
 * validated it). The destination must be a mapped address; it is rewritten
 * back, with checksums patched; ICMP errors (types 3, 11, 12) get their
 * quoted packet's source rewritten too, with the inner IPv4 and L4 checksums
 * and the ICMP checksum patched (RFC 792, RFC 1812 §4.3.2.3). SYN MSS is
 * clamped. Returns DROP_NONE, DROP_MALFORMED or DROP_NOT_MAPPED.
 */
enum drop nat_in(struct nat *n, uint8_t *p, size_t len);

/*
 * A hash of p[0..len)'s flow: protocol, addresses, and the ports of TCP
 * and UDP or the identifier of ICMP (not in later fragments). Any bytes
 * are safe; fewer than 20 hash to 0.
 */
uint32_t nat_flow(const uint8_t *p, size_t len);

/* ---- Checksums, exposed for the tests (RFC 1071, RFC 1624) ---- */

/* The Internet checksum of buf[0..len), folded and complemented. */
uint16_t nat_csum(const uint8_t *buf, size_t len);

/*
 * The pieces of it, for sums over several buffers: sum plus the words of
 * buf[0..len) as stored, unfolded (an odd len only for the last piece);
 * and a sum folded to 16 bits, as stored (st16/memcpy it, do not put16).
 */
uint64_t nat_sum(uint64_t sum, const uint8_t *buf, size_t len);
uint16_t nat_fold(uint64_t sum);

/*
 * RFC 1624 eqn. 3: the checksum field value after a 32-bit word of the
 * covered data changed from old to new (both in network order as stored).
 */
uint16_t nat_csum_update32(uint16_t check, uint32_t old_word, uint32_t new_word);
uint16_t nat_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word);

#endif
