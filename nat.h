/* SPDX-License-Identifier: MIT */
/*
 * nat.h: what the gateway does to one IPv4 or IPv6 packet, in place, with
 * no syscalls: validation, the destination filter, the per-client source NAT
 * with incremental checksums (RFC 1624), ICMP and ICMPv6 error inner
 * headers, and TCP MSS clamping. The caller owns the buffers and does the
 * I/O. It also holds the program's one parser of IPv4 addresses and
 * prefixes, and the one parser of IPv6 ones, for the command line and the
 * vpngw.v1 assignment alike.
 */
#ifndef VPNGW_NAT_H
#define VPNGW_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAT_MAX_MAP 32   /* source addresses per client (SPEC) */
#define NAT_ACL_MAX 64   /* --allow / --deny entries each, per family */
#define NAT_ADDR6_LEN 46 /* nat_addr6_format's longest output, with the NUL */

/*
 * Why a packet was not forwarded: one enum indexes the counters and the
 * metric labels (drop_name). The loop adds its own reasons after the NAT's.
 */
enum drop {
	DROP_NONE = 0,
	DROP_MALFORMED,      /* not IPv4, IHL < 5, tot_len != message length;
	                        IPv6 that nat_check6 refuses */
	DROP_CHECKSUM,       /* bad IPv4 header checksum */
	DROP_IPV6,           /* IPv6 on a table without nat_init6 */
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

/* The value of the hex digit ch (either case), or -1: the one reader of
 * hex digits in text (IPv6 groups, percent-encoding). */
int nat_hex_digit(char ch);

/* An IPv6 prefix: addr with the bits past len clear. */
struct nat_cidr6 {
	uint8_t addr[16];
	unsigned len;                  /* 0..128 */
};

/*
 * The one parser of IPv6 addresses and prefixes (RFC 4291 §2.2, §2.3).
 * Reads s[0..len) (the caller's; no NUL needed) as an address with an
 * optional "/len" (0..128, decimal, no leading zero); a bare address is a
 * /128. Groups are 1 to 4 hex digits of either case; "::" stands for one or
 * more zero groups and appears at most once; the last 32 bits may be written
 * as a dotted quad ("::ffff:192.0.2.1", "64:ff9b::198.51.100.7") read as
 * nat_prefix_parse reads one. Refused: zone ids ("fe80::1%eth0"), brackets,
 * spaces, a lone leading or trailing ':', more than 8 groups. On success sets
 * addr (every bit kept, host bits included) and *prefix and returns 0; else
 * returns -1 and leaves both alone.
 */
int nat_prefix6_parse(const char *s, size_t len, uint8_t addr[static 16], unsigned *prefix)
	__attribute__((warn_unused_result));

/*
 * A network prefix from the NUL-terminated s, as nat_prefix6_parse reads
 * it, into c with the host bits cleared. Returns 0, or -1 if s is not that.
 */
int nat_cidr6_parse(struct nat_cidr6 *c, const char *s) __attribute__((warn_unused_result));

/* Whether a lies in one of list[0..n). */
bool nat_cidr6_match(const struct nat_cidr6 *list, size_t n, const uint8_t a[static 16]);

/*
 * Writes a in RFC 5952's canonical text form to out, NUL-terminated: lower
 * case, no leading zeros, the longest run of two or more zero groups (the
 * first of equals) as "::", and ::ffff:0:0/96 as "::ffff:a.b.c.d". Returns
 * the length, without the NUL (at most NAT_ADDR6_LEN - 1).
 */
size_t nat_addr6_format(char out[static NAT_ADDR6_LEN], const uint8_t a[static 16]);

/*
 * The destination filter (SPEC, Data plane step 2): a destination matching an
 * allow entry is permitted; else one matching a deny entry (the defaults and
 * --deny) is refused; else it is permitted. IPv6 destinations have lists of
 * their own, whose defaults are a fixed table rather than entries of deny6
 * (nat_acl_permits6).
 */
struct nat_acl {
	struct nat_cidr allow[NAT_ACL_MAX];
	struct nat_cidr deny[NAT_ACL_MAX];
	unsigned n_allow, n_deny;
	struct nat_cidr6 allow6[NAT_ACL_MAX];
	struct nat_cidr6 deny6[NAT_ACL_MAX];
	unsigned n_allow6, n_deny6;
};

/* Fills acl with the default deny list (SPEC: RFC 6890 non-global ranges). */
void nat_acl_init(struct nat_acl *acl);
/* Adds to a list; returns -1 when it is full. */
int nat_acl_allow(struct nat_acl *acl, struct nat_cidr c);
int nat_acl_deny(struct nat_acl *acl, struct nat_cidr c);
/* true if dst (host order) may be reached. */
bool nat_acl_permits(const struct nat_acl *acl, uint32_t dst);

/* The IPv6 lists: adds, or returns -1 when that list is full. */
int nat_acl_allow6(struct nat_acl *acl, struct nat_cidr6 c);
int nat_acl_deny6(struct nat_acl *acl, struct nat_cidr6 c);

/*
 * true if the IPv6 destination dst may be reached: an allow6 entry permits
 * it; else a deny6 entry refuses it; else the default table decides, by its
 * longest matching entry: the ranges of the IANA IPv6 Special-Purpose
 * Address Registry (RFC 6890 and its successors) that are not globally
 * reachable are refused (::/128, ::1/128, ::ffff:0:0/96, 64:ff9b:1::/48,
 * 100::/64, 100:0:0:1::/64, 2001::/23, 2001:2::/48, 2001:10::/28,
 * 2001:db8::/32, 3fff::/20, 5f00::/16, fc00::/7, fe80::/10) and so is
 * multicast (ff00::/8); within 2001::/23 the registry's globally reachable
 * entries stay permitted (2001::/32 Teredo, 2001:1::1, ::2 and ::3 anycast,
 * 2001:3::/32, 2001:4:112::/48, 2001:20::/28, 2001:30::/28). As for IPv4's
 * TEST-NETs, the documentation ranges 2001:db8::/32 and 3fff::/20 are
 * refused by default; whoever uses them for real hosts (the tests do)
 * allows them.
 */
bool nat_acl_permits6(const struct nat_acl *acl, const uint8_t dst[static 16]);

/*
 * One client's source NAT: original client address <-> slot address. The
 * NAT_MAX_MAP budget is shared by both families: n + n6 <= NAT_MAX_MAP. An
 * IPv6 mapping is not stored: the i-th is net6 with host part 2 + i.
 */
struct nat {
	uint32_t net;                  /* slot subnet, host order */
	uint32_t first;                /* first mappable address (net + 2) */
	unsigned cap;                  /* mappings the subnet allows, <= 32 */
	unsigned n;                    /* mappings in use */
	uint32_t orig[NAT_MAX_MAP];    /* client's source addresses, net order */
	uint32_t mapped[NAT_MAX_MAP];  /* their slot addresses, net order */
	uint16_t mss;                  /* clamp SYN MSS to this; 0 = off. IPv6 SYNs
	                                  to mss - 20, its header being 20 bytes
	                                  longer (off for an mss of 20 or less) */
	unsigned cap6;                 /* IPv6 mappings the prefix allows; 0 = IPv6 off */
	unsigned n6;                   /* IPv6 mappings in use */
	uint8_t net6[16];              /* slot IPv6 prefix, host bits clear */
	uint8_t orig6[NAT_MAX_MAP][16];/* client's IPv6 source addresses */
};

/*
 * Sets up an empty table for the slot subnet net/prefix (host order): the
 * gateway holds net+1, mappings start at net+2, and stay below broadcast.
 */
void nat_init(struct nat *n, uint32_t net, unsigned prefix, uint16_t mss);
/*
 * Enables IPv6 on a table nat_init set up (which leaves it off), for the slot
 * prefix prefix/len (host bits ignored): the gateway holds prefix::1 and
 * client sources map to prefix::2, ::3, ... (RFC 4291 §2.6.1 keeps
 * prefix::0 for the subnet-router anycast). len must be 1..126; returns 0,
 * or -1 and leaves IPv6 off.
 */
int nat_init6(struct nat *n, const uint8_t prefix[static 16], unsigned len)
	__attribute__((warn_unused_result));
/* Forgets every mapping of both families (a new client on the slot). */
void nat_reset(struct nat *n);

/*
 * Checks that p[0..len) is one whole IPv4 packet: version 4, IHL >= 5 and
 * within len, tot_len == len, header checksum valid (RFC 791). Returns
 * DROP_NONE, DROP_IPV6, DROP_MALFORMED or DROP_CHECKSUM.
 */
enum drop nat_check(const uint8_t *p, size_t len);

/*
 * Checks that p[0..len) is one whole IPv6 packet the NAT can rewrite
 * (RFC 8200): version 6, the 40-byte header present, payload length + 40 ==
 * len (so jumbograms are refused), and the extension headers (hop-by-hop
 * first only, routing and fragment once each, destination options at most
 * twice) each within len, up to the upper-layer header. Unless the packet is
 * a non-first fragment, which carries no upper-layer header, that header
 * must be one the NAT handles:
 *  - TCP (20 bytes and its data offset present), UDP (8 bytes, a length
 *    equal to what follows in a whole packet, and a checksum other than 0:
 *    RFC 8200 §8.1 makes 0 invalid, and a first fragment's checksum cannot
 *    be computed here, so such packets are refused, not repaired) and ICMPv6
 *    (4 bytes): their checksums cover the addresses and are patched;
 *  - a protocol with no checksum over the addresses, forwarded with only the
 *    address rewritten: IPv4 (4) or IPv6 (41) in IPv6, GRE (47), ESP (50),
 *    No Next Header (59), EtherIP (97), SCTP (132, its CRC32c covers no
 *    address), MPLS in IP (137).
 * Any other next header (AH, whose ICV covers the addresses; Mobility, HIP,
 * UDP-Lite, DCCP, whose checksums do; numbers not known here) is refused
 * as malformed, since its rewrite could not be made correct. Returns
 * DROP_NONE or DROP_MALFORMED.
 */
enum drop nat_check6(const uint8_t *p, size_t len);

/*
 * nat_check or nat_check6, by the version in p[0], as table n allows: an
 * IPv6 packet on a table without nat_init6 is DROP_IPV6 (nat_check's answer
 * to any IPv6 packet).
 */
enum drop nat_check_slot(const struct nat *n, const uint8_t *p, size_t len);

/*
 * Client -> Internet. p[0..len) has passed nat_check. Checks the destination
 * against acl, maps the source (adding a mapping if new), rewrites it and
 * patches the IPv4 and TCP/UDP checksums (UDP checksum 0 stays 0; non-first
 * fragments have no L4 header), clamps the MSS of SYNs, and rewrites the
 * inner destination of ICMP errors the client sends. Returns DROP_NONE when
 * the packet is ready for the TUN, else the reason.
 *
 * IPv6 (version 6 in p[0]): DROP_IPV6 on a table without nat_init6; else
 * the packet must pass nat_check6 (DROP_MALFORMED), its destination
 * nat_acl_permits6 (DROP_DENIED), and its source be mapped or mappable
 * (DROP_MAP_FULL). The source is rewritten and the TCP, UDP or ICMPv6
 * checksum patched for the pseudo-header's 16 changed bytes (RFC 8200 §8.1),
 * the MSS of SYNs clamped to mss - 20, and the quoted packet of an ICMPv6
 * error (types 1 to 4, RFC 4443 §3) has its destination rewritten when it is
 * one of the client's mapped sources.
 */
enum drop nat_out(struct nat *n, const struct nat_acl *acl, uint8_t *p, size_t len);

/*
 * Internet -> client, for a packet read from the slot's TUN (the kernel has
 * validated it). The destination must be a mapped address; it is rewritten
 * back, with checksums patched; ICMP errors (types 3, 11, 12) get their
 * quoted packet's source rewritten too, with the inner IPv4 and L4 checksums
 * and the ICMP checksum patched (RFC 792, RFC 1812 §4.3.2.3). SYN MSS is
 * clamped. Returns DROP_NONE, DROP_MALFORMED or DROP_NOT_MAPPED.
 *
 * IPv6: DROP_IPV6 on a table without nat_init6; else the packet must pass
 * nat_check6 (DROP_MALFORMED) and be for a mapped address (DROP_NOT_MAPPED).
 * The destination is rewritten back and checksums patched as in nat_out; an
 * ICMPv6 error (types 1 to 4) has its quoted packet's source rewritten back
 * too, the quoted TCP, UDP or ICMPv6 checksum patched when the quote holds
 * it (as RFC 1812 §4.3.2.3 has it for IPv4), and the ICMPv6 checksum, which
 * covers the whole message and the outer pseudo-header, follows every change.
 */
enum drop nat_in(struct nat *n, uint8_t *p, size_t len);

/*
 * A hash of p[0..len)'s flow: protocol, addresses, and the ports of TCP
 * and UDP or the identifier of ICMP (not in later fragments). Any bytes
 * are safe; fewer than 20 hash to 0. IPv6 (version 6 in p[0]): both
 * addresses, the upper-layer next header found past the extension headers
 * (else the first next header) and the ports or the ICMPv6 identifier;
 * fewer than 40 bytes hash to 0.
 */
uint32_t nat_flow(const uint8_t *p, size_t len);

/* ---- The client's refusal of IPv6 ---- */

#define NAT_ICMP6_MIN 1280      /* IPv6's minimum MTU: an error's bound */

/*
 * The ICMPv6 destination unreachable, administratively prohibited (RFC
 * 4443 §3.1, code 1), that answers the IPv6 packet p[0..len), into
 * out[0..cap): from p's destination to its source, quoting as much of p as
 * fits in NAT_ICMP6_MIN bytes and in cap, checksum set. Returns its length,
 * or 0 when there must be no answer (§2.4 (e)): p is not IPv6 or shorter
 * than its header, is an ICMPv6 error or redirect, a fragment other than
 * the first, for a multicast destination, or from an unspecified or
 * multicast source; or cap is under 48 bytes.
 */
size_t nat_icmp6_refuse(uint8_t *out, size_t cap, const uint8_t *p, size_t len);

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
