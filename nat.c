/* SPDX-License-Identifier: MIT */
/*
 * nat.c: what the gateway does to one IPv4 packet, in place: validation
 * (RFC 791), the destination filter, the per-client source NAT with
 * incremental checksum updates (RFC 1624), the quoted packet of ICMP errors
 * (RFC 792, RFC 1812 §4.3.2.3) and TCP MSS clamping (RFC 6691); and the
 * one parser of IPv4 addresses and prefixes, which every other file uses.
 *
 * It is pure: no syscalls, no allocation, no logging. The caller owns the
 * buffers, the slot table, the counters and every read and write; this file
 * only says what happened to a packet (enum drop).
 *
 * Every packet is hostile. Each field is read through the get/ld helpers
 * below, after a length check, and a length is compared before it is
 * subtracted from. No struct is ever laid over packet bytes.
 *
 * On checksums: a one's-complement sum does not care about byte order (RFC
 * 1071 §2(B)), so the hot path patches checksums with words loaded as they
 * are stored (ld16/ld32, no byte swap), and nat.h's address table holds
 * addresses in that form too. Only fields whose numeric value matters (lengths,
 * offsets, the MSS, the ACL) are read big-endian with get16/get32.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "nat.h"

#define PROTO_ICMP 1
#define PROTO_TCP  6
#define PROTO_UDP  17

#define TCP_SYN    0x02
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2

/* Words as stored (network order), for checksum arithmetic and addresses. */
static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

static void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof v);
}

static void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}

/* A host-order address in the stored (network order) form. */
static uint32_t to_net(uint32_t host)
{
	uint8_t b[4];

	put32(b, host);
	return ld32(b);
}

/* ---- Drop reasons ---- */

static const char *const drop_names[DROP_N] = {
	[DROP_NONE]       = "none",
	[DROP_MALFORMED]  = "malformed",
	[DROP_CHECKSUM]   = "checksum",
	[DROP_IPV6]       = "ipv6",
	[DROP_DENIED]     = "denied",
	[DROP_MAP_FULL]   = "map_full",
	[DROP_NOT_MAPPED] = "not_mapped",
	[DROP_QUEUE_FULL] = "queue_full",
	[DROP_TUN_WRITE]  = "tun_write",
	[DROP_NO_CLIENT]  = "no_client",
	[DROP_LINK_DOWN]  = "link_down",
	[DROP_RATE]       = "rate",
	[DROP_DELAY]      = "delay",
};

const char *drop_name(enum drop d)
{
	if ((unsigned)d >= DROP_N || !drop_names[d])
		return "unknown";
	return drop_names[d];
}

size_t drop_format(char *out, size_t cap, size_t len, const uint64_t drops[static DROP_N])
{
	for (int d = 1; d < DROP_N && len < cap; d++) {
		int n = snprintf(out + len, cap - len, " drop_%s=%llu",
				 drop_name((enum drop)d), (unsigned long long)drops[d]);
		if (n < 0 || (size_t)n >= cap - len)
			return cap - 1;
		len += (size_t)n;
	}
	return len;
}

/* ---- Flows ---- */

uint32_t nat_flow(const uint8_t *p, size_t len)
{
	uint32_t h = 0x9e3779b9u;
	size_t hl;

	if (len < 20)
		return 0;
	hl = (size_t)(p[0] & 15) * 4;
	h = (h ^ get32(p + 12)) * 0x85ebca6bu;
	h = (h ^ get32(p + 16)) * 0xc2b2ae35u;
	h = (h ^ p[9]) * 0x85ebca6bu;
	if (hl >= 20 && !(get16(p + 6) & 0x1fff)) {
		if ((p[9] == PROTO_TCP || p[9] == PROTO_UDP) && len >= hl + 4)
			h = (h ^ get32(p + hl)) * 0xc2b2ae35u;   /* the ports */
		else if (p[9] == PROTO_ICMP && len >= hl + 6)
			h = (h ^ get16(p + hl + 4)) * 0xc2b2ae35u;  /* the echo id */
	}
	return h ^ (h >> 16);
}

/* ---- Checksums (RFC 1071, RFC 1624) ---- */

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * RFC 1071: sums 32-bit words as stored into 64 bits (2^16 = 1 mod 0xffff,
 * so this folds to the sum of the 16-bit words). Reads exactly buf[0..len);
 * an odd last byte counts as the high byte of a word, so only the last
 * piece of a sum may be odd.
 */
uint64_t nat_sum(uint64_t sum, const uint8_t *buf, size_t len)
{
	uint8_t out[2];

	while (len >= 16) {
		sum += (uint64_t)ld32(buf) + ld32(buf + 4) +
		       ld32(buf + 8) + ld32(buf + 12);
		buf += 16;
		len -= 16;
	}
	while (len >= 4) {
		sum += ld32(buf);
		buf += 4;
		len -= 4;
	}
	if (len >= 2) {
		sum += ld16(buf);
		buf += 2;
		len -= 2;
	}
	if (len) {
		out[0] = buf[0];
		out[1] = 0;
		sum += ld16(out);
	}
	return sum;
}

uint16_t nat_fold(uint64_t sum)
{
	return fold(sum);
}

/* The complement of the sum, as a number: put16() stores it. */
uint16_t nat_csum(const uint8_t *buf, size_t len)
{
	uint8_t out[2];

	st16(out, (uint16_t)~fold(nat_sum(0, buf, len)));
	return get16(out);
}

/*
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'). check, old and new must be in
 * the same form (all as stored, or all as numbers); either works.
 */
uint16_t nat_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word)
{
	uint32_t sum = (uint16_t)~check + (uint32_t)(uint16_t)~old_word + new_word;

	return (uint16_t)~fold(sum);
}

uint16_t nat_csum_update32(uint16_t check, uint32_t old_word, uint32_t new_word)
{
	uint32_t o = ~old_word;
	uint64_t sum = (uint16_t)~check;

	sum += (o >> 16) + (o & 0xffff) + (new_word >> 16) + (new_word & 0xffff);
	return (uint16_t)~fold(sum);
}

/* A 16-bit word at an odd offset of the summed data counts byte-swapped. */
static uint16_t swap16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

/* ---- Prefixes and the destination filter ---- */

/*
 * Reads a decimal number of at most 3 digits, no leading zero, <= max from
 * s[*off..len). Returns false, leaving *off anywhere, if there is none.
 */
static bool number(const char *s, size_t len, size_t *off, unsigned max, unsigned *v)
{
	unsigned n = 0, digits = 0;

	while (*off < len && s[*off] >= '0' && s[*off] <= '9') {
		if (digits == 3 || (digits == 1 && n == 0))
			return false;
		n = n * 10 + (unsigned)(s[*off] - '0');
		digits++;
		(*off)++;
	}
	if (digits == 0 || n > max)
		return false;
	*v = n;
	return true;
}

static uint32_t prefix_mask(unsigned len)
{
	return (uint32_t)(0xffffffffull << (32 - len));
}

/*
 * Four dotted decimals, then "/" and a length or nothing: the one grammar
 * for every IPv4 address and prefix the program reads. Writes *addr and
 * *prefix only on success.
 */
int nat_prefix_parse(const char *s, size_t len, uint32_t *addr, unsigned *prefix)
{
	uint32_t a = 0;
	unsigned v, p = 32;
	size_t off = 0;

	if (!s)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (i > 0 && (off == len || s[off++] != '.'))
			return -1;
		if (!number(s, len, &off, 255, &v))
			return -1;
		a = a << 8 | v;
	}
	if (off < len && s[off] == '/') {
		off++;
		if (!number(s, len, &off, 32, &p))
			return -1;
	}
	if (off != len)
		return -1;
	*addr = a;
	*prefix = p;
	return 0;
}

int nat_cidr_parse(struct nat_cidr *c, const char *s)
{
	uint32_t addr;
	unsigned len;

	if (!s || nat_prefix_parse(s, strlen(s), &addr, &len) < 0)
		return -1;
	c->mask = prefix_mask(len);
	c->addr = addr & c->mask;
	return 0;
}

/*
 * Refused: 0.0.0.0, the limited broadcast, loopback (127/8), multicast and
 * the reserved 240/4 (together 224/3), and a /0.
 */
bool nat_host_ok(uint32_t addr, unsigned prefix)
{
	return prefix >= 1 && prefix <= 32 && addr != 0 && addr != 0xffffffffu &&
	       addr >> 24 != 127 && addr >> 29 != 7;
}

int nat_ifaddr_parse(const char *s, size_t len, uint32_t *addr, unsigned *prefix)
{
	uint32_t a;
	unsigned p;

	if (!s || !memchr(s, '/', len) || nat_prefix_parse(s, len, &a, &p) < 0 ||
	    !nat_host_ok(a, p))
		return -1;
	*addr = a;
	*prefix = p;
	return 0;
}

/* SPEC, Data plane step 2: RFC 6890 ranges that are not globally reachable. */
static const struct {
	uint32_t addr;
	unsigned len;
} default_deny[] = {
	{ 0x00000000, 8 },   /* 0.0.0.0/8 "this network" */
	{ 0x0a000000, 8 },   /* 10.0.0.0/8 private */
	{ 0x64400000, 10 },  /* 100.64.0.0/10 shared (CGN) */
	{ 0x7f000000, 8 },   /* 127.0.0.0/8 loopback */
	{ 0xa9fe0000, 16 },  /* 169.254.0.0/16 link local */
	{ 0xac100000, 12 },  /* 172.16.0.0/12 private */
	{ 0xc0000000, 24 },  /* 192.0.0.0/24 IETF protocol assignments */
	{ 0xc0000200, 24 },  /* 192.0.2.0/24 TEST-NET-1 */
	{ 0xc0a80000, 16 },  /* 192.168.0.0/16 private */
	{ 0xc6120000, 15 },  /* 198.18.0.0/15 benchmarking */
	{ 0xc6336400, 24 },  /* 198.51.100.0/24 TEST-NET-2 */
	{ 0xcb007100, 24 },  /* 203.0.113.0/24 TEST-NET-3 */
	{ 0xe0000000, 4 },   /* 224.0.0.0/4 multicast */
	{ 0xf0000000, 4 },   /* 240.0.0.0/4 reserved, and broadcast */
};

void nat_acl_init(struct nat_acl *acl)
{
	memset(acl, 0, sizeof *acl);
	for (size_t i = 0; i < sizeof default_deny / sizeof default_deny[0]; i++) {
		acl->deny[i].mask = prefix_mask(default_deny[i].len);
		acl->deny[i].addr = default_deny[i].addr;
	}
	acl->n_deny = sizeof default_deny / sizeof default_deny[0];
}

static int add(struct nat_cidr *list, unsigned *n, struct nat_cidr c)
{
	if (*n >= NAT_ACL_MAX)
		return -1;
	c.addr &= c.mask;
	list[(*n)++] = c;
	return 0;
}

int nat_acl_allow(struct nat_acl *acl, struct nat_cidr c)
{
	return add(acl->allow, &acl->n_allow, c);
}

int nat_acl_deny(struct nat_acl *acl, struct nat_cidr c)
{
	return add(acl->deny, &acl->n_deny, c);
}

static bool matches(const struct nat_cidr *list, unsigned n, uint32_t a)
{
	for (unsigned i = 0; i < n && i < NAT_ACL_MAX; i++)
		if ((a & list[i].mask) == list[i].addr)
			return true;
	return false;
}

bool nat_cidr_match(const struct nat_cidr *list, size_t n, uint32_t a)
{
	for (size_t i = 0; i < n; i++)
		if ((a & list[i].mask) == list[i].addr)
			return true;
	return false;
}

bool nat_acl_permits(const struct nat_acl *acl, uint32_t dst)
{
	if (matches(acl->allow, acl->n_allow, dst))
		return true;
	return !matches(acl->deny, acl->n_deny, dst);
}

/* ---- The mapping table ---- */

void nat_init(struct nat *n, uint32_t net, unsigned prefix, uint16_t mss)
{
	uint64_t size, usable;

	memset(n, 0, sizeof *n);
	n->mss = mss;
	if (prefix > 32)
		prefix = 32;
	n->net = net & prefix_mask(prefix);
	n->first = n->net + 2;
	/* net+2 .. broadcast-1: a /30 has one, a /31 or /32 none. */
	size = (uint64_t)1 << (32 - prefix);
	usable = size > 3 ? size - 3 : 0;
	n->cap = usable > NAT_MAX_MAP ? NAT_MAX_MAP : (unsigned)usable;
}

void nat_reset(struct nat *n)
{
	memset(n->orig, 0, sizeof n->orig);
	memset(n->mapped, 0, sizeof n->mapped);
	n->n = 0;
}

/* The index of a in tab[0..n), or -1. */
static int lookup(const uint32_t *tab, unsigned n, uint32_t a)
{
	for (unsigned i = 0; i < n && i < NAT_MAX_MAP; i++)
		if (tab[i] == a)
			return (int)i;
	return -1;
}

/* ---- Packets ---- */

/* What the rewrite needs to know about one IPv4 packet. */
struct ip {
	uint8_t *p;
	size_t len;      /* tot_len: what the header covers, <= the buffer */
	size_t hl;       /* header length, 20..60, <= len */
	uint8_t proto;
	bool first;      /* fragment offset 0: the L4 header is here */
};

/*
 * The sanity every rewrite needs: version 4, IHL >= 5, the header within
 * tot_len and tot_len within the buffer. Returns -1 otherwise.
 */
static int parse(struct ip *ip, uint8_t *p, size_t len)
{
	size_t tot;

	if (len < 20 || p[0] >> 4 != 4)
		return -1;
	ip->hl = (size_t)(p[0] & 0x0f) * 4;
	tot = get16(p + 2);
	if (ip->hl < 20 || tot < ip->hl || tot > len)
		return -1;
	ip->p = p;
	ip->len = tot;
	ip->proto = p[9];
	ip->first = (get16(p + 6) & 0x1fff) == 0;
	return 0;
}

enum drop nat_check(const uint8_t *p, size_t len)
{
	size_t hl;

	if (len < 1)
		return DROP_MALFORMED;
	if (p[0] >> 4 == 6)
		return DROP_IPV6;
	if (p[0] >> 4 != 4 || len < 20)
		return DROP_MALFORMED;
	hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < 20 || hl > len || get16(p + 2) != len)
		return DROP_MALFORMED;
	if (nat_csum(p, hl) != 0)
		return DROP_CHECKSUM;
	return DROP_NONE;
}

/* Where a TCP or UDP checksum sits in l4[0..len), or 0 if not there. */
static size_t l4_csum_at(uint8_t proto, size_t len)
{
	if (proto == PROTO_TCP && len >= 18)
		return 16;
	if (proto == PROTO_UDP && len >= 8)
		return 6;
	return 0;
}

/*
 * Patches the TCP or UDP checksum at ck after a pseudo-header address went
 * from old to new. A UDP checksum of 0 means none (RFC 768) and stays 0; a
 * computed 0 is sent as all ones.
 */
static void l4_patch(uint8_t *ck, uint8_t proto, uint32_t old, uint32_t new)
{
	uint16_t c = ld16(ck);

	if (proto == PROTO_UDP && c == 0)
		return;
	c = nat_csum_update32(c, old, new);
	if (proto == PROTO_UDP && c == 0)
		c = 0xffff;
	st16(ck, c);
}

/*
 * RFC 6691: lowers the MSS option of a TCP SYN (or SYN-ACK) in
 * tcp[0..len) to mss, patching the checksum. The options are walked with
 * every length checked against the data offset and the bytes present.
 */
static void clamp_mss(uint8_t *tcp, size_t len, uint16_t mss)
{
	size_t doff, i = 20;

	if (mss == 0 || len < 20 || !(tcp[13] & TCP_SYN))
		return;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > len)
		return;
	while (i < doff) {
		uint8_t kind = tcp[i];
		size_t olen;

		if (kind == TCPOPT_EOL)
			return;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (doff - i < 2)
			return;
		olen = tcp[i + 1];
		if (olen < 2 || olen > doff - i)
			return;
		if (kind == TCPOPT_MSS && olen == 4 && get16(tcp + i + 2) > mss) {
			uint16_t old = ld16(tcp + i + 2), new;

			put16(tcp + i + 2, mss);
			new = ld16(tcp + i + 2);
			/* The value may sit at an odd offset: it then counts swapped. */
			if ((i + 2) & 1) {
				old = swap16(old);
				new = swap16(new);
			}
			st16(tcp + 16, nat_csum_update16(ld16(tcp + 16), old, new));
			return;
		}
		i += olen;
	}
}

/*
 * Rewrites the address at offset at (12 source, 16 destination) from old to
 * new: the IPv4 header checksum, then, in a first fragment, the TCP or UDP
 * checksum whose pseudo-header holds it, and the MSS of a SYN.
 */
static void rewrite(const struct nat *n, struct ip *ip, size_t at,
                    uint32_t old, uint32_t new)
{
	uint8_t *p = ip->p, *l4 = p + ip->hl;
	size_t l4_len = ip->len - ip->hl, ck;

	st32(p + at, new);
	st16(p + 10, nat_csum_update32(ld16(p + 10), old, new));
	if (!ip->first)
		return;
	ck = l4_csum_at(ip->proto, l4_len);
	if (ck)
		l4_patch(l4 + ck, ip->proto, old, new);
	if (ip->proto == PROTO_TCP)
		clamp_mss(l4, l4_len, n->mss);
}

/*
 * ICMP errors (RFC 792: 3 unreachable, 11 time exceeded, 12 parameter
 * problem) quote the IP header and at least 8 bytes of the packet that
 * caused them. The quoted address at offset at (16 when the client sends the
 * error, 12 when the Internet sends it to the client) is looked up in from[]
 * and replaced by to[]. Its IPv4 checksum and, if quoted, its TCP or UDP
 * checksum are patched, and the ICMP checksum follows every word changed.
 * A quote that is truncated gets only what it holds patched.
 */
static void icmp_quote(const struct nat *n, struct ip *ip, size_t at,
                       const uint32_t *from, const uint32_t *to)
{
	uint8_t *icmp = ip->p + ip->hl, *q;
	size_t len = ip->len - ip->hl, q_len, q_hl, ck;
	uint32_t old, new;
	uint16_t sum, c0, c1;
	int i;

	if (!ip->first || len < 8 + 20)
		return;
	if (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12)
		return;
	q = icmp + 8;
	q_len = len - 8;
	q_hl = (size_t)(q[0] & 0x0f) * 4;
	if (q[0] >> 4 != 4 || q_hl < 20)
		return;
	old = ld32(q + at);
	i = lookup(from, n->n, old);
	if (i < 0)
		return;
	new = to[i];

	/* The quoted address and the quoted IPv4 header checksum. */
	sum = ld16(icmp + 2);
	st32(q + at, new);
	sum = nat_csum_update32(sum, old, new);
	c0 = ld16(q + 10);
	c1 = nat_csum_update32(c0, old, new);
	st16(q + 10, c1);
	sum = nat_csum_update16(sum, c0, c1);

	/* The quoted TCP or UDP checksum, when the quote reaches it. */
	if (q_hl <= q_len && (get16(q + 6) & 0x1fff) == 0) {
		ck = l4_csum_at(q[9], q_len - q_hl);
		if (ck) {
			c0 = ld16(q + q_hl + ck);
			l4_patch(q + q_hl + ck, q[9], old, new);
			c1 = ld16(q + q_hl + ck);
			sum = nat_csum_update16(sum, c0, c1);
		}
	}
	st16(icmp + 2, sum);
}

/*
 * Client -> Internet: filter the destination, map the source, rewrite. The
 * header is re-checked for sanity here too, so that a caller that skipped
 * nat_check still cannot make this read out of bounds.
 */
enum drop nat_out(struct nat *n, const struct nat_acl *acl, uint8_t *p, size_t len)
{
	struct ip ip;
	uint32_t src;
	int i;

	if (parse(&ip, p, len) < 0)
		return DROP_MALFORMED;
	if (!nat_acl_permits(acl, get32(p + 16)))
		return DROP_DENIED;

	src = ld32(p + 12);
	i = lookup(n->orig, n->n, src);
	if (i < 0) {
		if (n->n >= n->cap || n->n >= NAT_MAX_MAP)
			return DROP_MAP_FULL;
		i = (int)n->n++;
		n->orig[i] = src;
		n->mapped[i] = to_net(n->first + (uint32_t)i);
	}
	rewrite(n, &ip, 12, src, n->mapped[i]);
	if (ip.proto == PROTO_ICMP)
		icmp_quote(n, &ip, 16, n->orig, n->mapped);
	return DROP_NONE;
}

/* Internet -> client: the destination must be mapped; rewrite it back. */
enum drop nat_in(struct nat *n, uint8_t *p, size_t len)
{
	struct ip ip;
	uint32_t dst;
	int i;

	if (parse(&ip, p, len) < 0)
		return DROP_MALFORMED;
	dst = ld32(p + 16);
	i = lookup(n->mapped, n->n, dst);
	if (i < 0)
		return DROP_NOT_MAPPED;
	rewrite(n, &ip, 16, dst, n->orig[i]);
	if (ip.proto == PROTO_ICMP)
		icmp_quote(n, &ip, 12, n->mapped, n->orig);
	return DROP_NONE;
}
