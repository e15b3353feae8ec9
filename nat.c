/* SPDX-License-Identifier: MIT */
/*
 * nat.c: what the gateway does to one IPv4 or IPv6 packet, in place:
 * validation (RFC 791, RFC 8200), the destination filter, the per-client
 * source NAT with incremental checksum updates (RFC 1624), the quoted packet
 * of ICMP and ICMPv6 errors (RFC 792, RFC 1812 §4.3.2.3, RFC 4443) and TCP
 * MSS clamping (RFC 6691); and the one parser of IPv4 addresses and
 * prefixes and the one of IPv6 ones, which every other file uses.
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
#define PROTO_ICMP6 58

/* IPv6 extension headers walked past (RFC 8200 §4). */
#define NH_HOP     0
#define NH_ROUTING 43
#define NH_FRAG    44
#define NH_DSTOPTS 60

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

static int walk6(const uint8_t *p, size_t len, size_t *at, uint8_t *proto,
                 bool *later, bool *frag);

/* nat_flow for IPv6: the extension headers are walked within len. */
static uint32_t flow6(const uint8_t *p, size_t len)
{
	uint32_t h = 0x9e3779b9u;
	size_t at;
	uint8_t proto;
	bool later, frag;

	if (len < 40)
		return 0;
	for (size_t i = 8; i < 40; i += 8) {
		h = (h ^ get32(p + i)) * 0x85ebca6bu;
		h = (h ^ get32(p + i + 4)) * 0xc2b2ae35u;
	}
	if (walk6(p, len, &at, &proto, &later, &frag) < 0) {
		h = (h ^ p[6]) * 0x85ebca6bu;
		return h ^ (h >> 16);
	}
	h = (h ^ proto) * 0x85ebca6bu;
	if (!later) {
		if ((proto == PROTO_TCP || proto == PROTO_UDP) && len - at >= 4)
			h = (h ^ get32(p + at)) * 0xc2b2ae35u;   /* the ports */
		else if (proto == PROTO_ICMP6 && len - at >= 6)
			h = (h ^ get16(p + at + 4)) * 0xc2b2ae35u;  /* the echo id */
	}
	return h ^ (h >> 16);
}

uint32_t nat_flow(const uint8_t *p, size_t len)
{
	uint32_t h = 0x9e3779b9u;
	size_t hl;

	if (len >= 1 && p[0] >> 4 == 6)
		return flow6(p, len);
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

/* ---- IPv6 prefixes ---- */

#define NO_GAP ((size_t)-1)

int nat_hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * RFC 4291 §2.2: up to 8 groups of 1..4 hex digits split by ':', one "::"
 * for a run of zero groups, the last two groups maybe a dotted quad; then
 * "/" and a length or nothing. Groups before the "::" are filled in from the
 * front, those after it collected and moved to the back at the end.
 */
int nat_prefix6_parse(const char *s, size_t len, uint8_t addr[static 16], unsigned *prefix)
{
	uint8_t a[16] = { 0 };
	size_t off = 0, end, n = 0, gap = NO_GAP;   /* where "::" stands */
	unsigned p = 128;

	if (!s)
		return -1;
	end = len;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/') {
			end = i;
			break;
		}
	if (end - off >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		off = 2;
	} else if (end > 0 && s[0] == ':') {
		return -1;
	}
	while (off < end) {
		unsigned v = 0, digits = 0;
		size_t start = off;

		if (n == 16)
			return -1;
		while (off < end && digits < 5 && nat_hex_digit(s[off]) >= 0) {
			v = v << 4 | (unsigned)nat_hex_digit(s[off]);
			digits++;
			off++;
		}
		if (off < end && s[off] == '.') {
			/* A dotted quad: the last 32 bits, with nothing after it. */
			uint32_t v4;
			unsigned bits;

			if (n > 12 || nat_prefix_parse(s + start, end - start, &v4, &bits) < 0)
				return -1;
			put32(a + n, v4);
			n += 4;
			off = end;
			break;
		}
		if (digits == 0 || digits > 4)
			return -1;
		a[n++] = (uint8_t)(v >> 8);
		a[n++] = (uint8_t)v;
		if (off == end)
			break;
		if (s[off] != ':')
			return -1;
		off++;
		if (off < end && s[off] == ':') {
			if (gap != NO_GAP)
				return -1;
			gap = n;
			off++;
		} else if (off == end) {
			return -1;      /* a lone trailing ':' */
		}
	}
	if (gap == NO_GAP && n != 16)
		return -1;
	if (gap != NO_GAP) {
		if (n == 16)
			return -1;      /* "::" must stand for at least one group */
		memmove(a + 16 - (n - gap), a + gap, n - gap);
		memset(a + gap, 0, 16 - n);
	}
	if (end < len) {
		size_t q = end + 1;

		if (!number(s, len, &q, 128, &p) || q != len)
			return -1;
	}
	memcpy(addr, a, 16);
	*prefix = p;
	return 0;
}

/* Clears the bits of a past len (0..128). */
static void mask6(uint8_t a[static 16], unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		if (len >= 8 * (i + 1))
			continue;
		a[i] &= len > 8 * i ? (uint8_t)(0xff00 >> (len - 8 * i)) : 0;
	}
}

int nat_cidr6_parse(struct nat_cidr6 *c, const char *s)
{
	uint8_t a[16];
	unsigned len;

	if (!s || nat_prefix6_parse(s, strlen(s), a, &len) < 0)
		return -1;
	mask6(a, len);
	memcpy(c->addr, a, 16);
	c->len = len;
	return 0;
}

/* Whether a's first len bits are those of net (whose other bits are clear). */
static bool in6(const uint8_t net[static 16], unsigned len, const uint8_t a[static 16])
{
	unsigned whole = len / 8, rest = len % 8;

	if (len > 128 || memcmp(net, a, whole) != 0)
		return false;
	return rest == 0 || (a[whole] & (uint8_t)(0xff00 >> rest)) == net[whole];
}

bool nat_cidr6_match(const struct nat_cidr6 *list, size_t n, const uint8_t a[static 16])
{
	for (size_t i = 0; i < n; i++)
		if (in6(list[i].addr, list[i].len, a))
			return true;
	return false;
}

/* RFC 5952 §4: the canonical text form. */
size_t nat_addr6_format(char out[static NAT_ADDR6_LEN], const uint8_t a[static 16])
{
	static const char hex[] = "0123456789abcdef";
	size_t best = 8, best_n = 1, len = 0;
	unsigned g[8];
	int k;

	for (int i = 0; i < 8; i++)
		g[i] = get16(a + 2 * i);
	/* The longest run of zero groups, if it is two or more. */
	for (size_t i = 0; i < 8; i++) {
		size_t j = i;

		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_n) {
			best = i;
			best_n = j - i;
		}
		if (j > i)
			i = j - 1;
	}
	/* IPv4-mapped, RFC 5952 §5. */
	if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		k = snprintf(out, NAT_ADDR6_LEN, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
		return k > 0 ? (size_t)k : 0;
	}
	for (size_t i = 0; i < 8; i++) {
		bool started = false;

		if (i == best) {
			out[len++] = ':';
			out[len++] = ':';
			i += best_n - 1;
			continue;
		}
		if (i > 0 && i != best + best_n)
			out[len++] = ':';
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned d = g[i] >> sh & 15;

			if (d || started || sh == 0) {
				out[len++] = hex[d];
				started = true;
			}
		}
	}
	out[len] = '\0';
	return len;
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

/*
 * The IANA IPv6 Special-Purpose Address Registry's entries (RFC 6890 and
 * its successors) that are not globally reachable, multicast, and the
 * registry's globally reachable entries inside them (reach): the longest
 * match decides (nat.h, nat_acl_permits6).
 */
static const struct {
	uint8_t addr[16];
	unsigned len;
	bool reach;
} default6[] = {
	{ { 0 }, 128, false },                                     /* ::/128 */
	{ { [15] = 1 }, 128, false },                              /* ::1/128 */
	{ { [10] = 0xff, 0xff }, 96, false },                      /* ::ffff:0:0/96 */
	{ { 0, 0x64, 0xff, 0x9b, 0, 1 }, 48, false },              /* 64:ff9b:1::/48 */
	{ { 1, 0 }, 64, false },                                   /* 100::/64 discard */
	{ { 1, 0, 0, 0, 0, 0, 0, 1 }, 64, false },                 /* 100:0:0:1::/64 dummy */
	{ { 0x20, 0x01 }, 23, false },                             /* 2001::/23 IETF */
	{ { 0x20, 0x01 }, 32, true },                              /* 2001::/32 Teredo */
	{ { 0x20, 0x01, 0, 1, [15] = 1 }, 128, true },             /* 2001:1::1 PCP */
	{ { 0x20, 0x01, 0, 1, [15] = 2 }, 128, true },             /* 2001:1::2 TURN */
	{ { 0x20, 0x01, 0, 1, [15] = 3 }, 128, true },             /* 2001:1::3 DNS-SD */
	{ { 0x20, 0x01, 0, 2 }, 48, false },                       /* 2001:2::/48 bench */
	{ { 0x20, 0x01, 0, 3 }, 32, true },                        /* 2001:3::/32 AMT */
	{ { 0x20, 0x01, 0, 4, 1, 0x12 }, 48, true },               /* 2001:4:112::/48 AS112 */
	{ { 0x20, 0x01, 0, 0x10 }, 28, false },                    /* 2001:10::/28 ORCHID */
	{ { 0x20, 0x01, 0, 0x20 }, 28, true },                     /* 2001:20::/28 ORCHIDv2 */
	{ { 0x20, 0x01, 0, 0x30 }, 28, true },                     /* 2001:30::/28 DRIP */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, false },                 /* 2001:db8::/32 docs */
	{ { 0x3f, 0xff }, 20, false },                             /* 3fff::/20 docs */
	{ { 0x5f, 0x00 }, 16, false },                             /* 5f00::/16 SRv6 SIDs */
	{ { 0xfc }, 7, false },                                    /* fc00::/7 ULA */
	{ { 0xfe, 0x80 }, 10, false },                             /* fe80::/10 link local */
	{ { 0xff }, 8, false },                                    /* ff00::/8 multicast */
};

static int add6(struct nat_cidr6 *list, unsigned *n, struct nat_cidr6 c)
{
	if (*n >= NAT_ACL_MAX || c.len > 128)
		return -1;
	mask6(c.addr, c.len);
	list[(*n)++] = c;
	return 0;
}

int nat_acl_allow6(struct nat_acl *acl, struct nat_cidr6 c)
{
	return add6(acl->allow6, &acl->n_allow6, c);
}

int nat_acl_deny6(struct nat_acl *acl, struct nat_cidr6 c)
{
	return add6(acl->deny6, &acl->n_deny6, c);
}

bool nat_acl_permits6(const struct nat_acl *acl, const uint8_t dst[static 16])
{
	unsigned best = 0, n_allow = acl->n_allow6, n_deny = acl->n_deny6;
	bool permit = true;

	if (nat_cidr6_match(acl->allow6, n_allow < NAT_ACL_MAX ? n_allow : NAT_ACL_MAX, dst))
		return true;
	if (nat_cidr6_match(acl->deny6, n_deny < NAT_ACL_MAX ? n_deny : NAT_ACL_MAX, dst))
		return false;
	/* The default table: its longest matching entry decides. */
	for (size_t i = 0; i < sizeof default6 / sizeof default6[0]; i++)
		if (default6[i].len >= best && in6(default6[i].addr, default6[i].len, dst)) {
			best = default6[i].len;
			permit = default6[i].reach;
		}
	return permit;
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

int nat_init6(struct nat *n, const uint8_t prefix[static 16], unsigned len)
{
	if (len < 1 || len > 126)
		return -1;
	memcpy(n->net6, prefix, 16);
	mask6(n->net6, len);
	/* prefix::2 up to the last host address: ::0 and ::1 are taken. */
	n->cap6 = 128 - len >= 6 ? NAT_MAX_MAP : (1u << (128 - len)) - 2;
	memset(n->orig6, 0, sizeof n->orig6);
	n->n6 = 0;
	return 0;
}

void nat_reset(struct nat *n)
{
	memset(n->orig, 0, sizeof n->orig);
	memset(n->mapped, 0, sizeof n->mapped);
	n->n = 0;
	memset(n->orig6, 0, sizeof n->orig6);
	n->n6 = 0;
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

/* ---- IPv6 packets ---- */

/*
 * RFC 8200 §4: walks the extension headers of p[0..len) (len >= 40) from
 * the fixed header's next header, each length checked against len: hop-by-
 * hop only first, routing and fragment once, destination options twice at
 * most. Sets *at and *proto to the upper-layer header and its number, and
 * *later when a fragment header with a non-zero offset ends the walk (a
 * non-first fragment: what follows is data; *at is past that header).
 * *frag tells a fragment header was seen (first or later). Returns -1 for a
 * truncated or misplaced header.
 */
static int walk6(const uint8_t *p, size_t len, size_t *at, uint8_t *proto,
                 bool *later, bool *frag)
{
	size_t off = 40, hl;
	uint8_t nh = p[6];
	unsigned routing = 0, fragment = 0, dstopts = 0;

	*later = *frag = false;
	for (;;) {
		switch (nh) {
		case NH_HOP:
		case NH_ROUTING:
		case NH_DSTOPTS:
			if ((nh == NH_HOP && off != 40) ||
			    (nh == NH_ROUTING && routing++) ||
			    (nh == NH_DSTOPTS && dstopts++ == 2))
				return -1;
			if (len - off < 8)
				return -1;
			hl = ((size_t)p[off + 1] + 1) * 8;
			if (hl > len - off)
				return -1;
			break;
		case NH_FRAG:
			if (fragment++ || len - off < 8)
				return -1;
			hl = 8;
			/* Offset, or the M flag: part of a datagram. */
			if (get16(p + off + 2) & 0xfff9)
				*frag = true;
			if (get16(p + off + 2) & 0xfff8) {
				*later = true;
				*at = off + 8;
				*proto = p[off];
				return 0;
			}
			break;
		default:
			*at = off;
			*proto = nh;
			return 0;
		}
		nh = p[off];
		off += hl;
	}
}

/* What the rewrite needs to know about one IPv6 packet. */
struct ip6 {
	uint8_t *p;
	size_t len;      /* 40 + payload length, == the message length */
	size_t l4;       /* the upper-layer header's offset */
	uint8_t proto;   /* its number */
	bool first;      /* not a later fragment: the upper-layer header is here */
};

/* nat.h, nat_check6: the upper layers whose checksum covers no address. */
static bool plain6(uint8_t proto)
{
	switch (proto) {
	case 4: case 41: case 47: case 50: case 59: case 97: case 132: case 137:
		return true;
	default:
		return false;
	}
}

/* Everything nat_check6 promises (nat.h), with the offsets found. */
static int parse6(struct ip6 *ip, const uint8_t *p, size_t len)
{
	size_t at, rest;
	uint8_t proto;
	bool later, frag;

	if (len < 40 || p[0] >> 4 != 6 || (size_t)get16(p + 4) + 40 != len)
		return -1;
	if (walk6(p, len, &at, &proto, &later, &frag) < 0)
		return -1;
	ip->p = (uint8_t *)p;
	ip->len = len;
	ip->l4 = at;
	ip->proto = proto;
	ip->first = !later;
	if (later)
		return 0;
	rest = len - at;
	switch (proto) {
	case PROTO_TCP:
		if (rest < 20 || (size_t)(p[at + 12] >> 4) * 4 < 20 ||
		    (size_t)(p[at + 12] >> 4) * 4 > rest)
			return -1;
		return 0;
	case PROTO_UDP:
		if (rest < 8 || get16(p + at + 6) == 0 || get16(p + at + 4) < 8)
			return -1;
		if (frag ? get16(p + at + 4) < rest : get16(p + at + 4) != rest)
			return -1;
		return 0;
	case PROTO_ICMP6:
		return rest < 4 ? -1 : 0;
	default:
		return plain6(proto) ? 0 : -1;
	}
}

enum drop nat_check6(const uint8_t *p, size_t len)
{
	struct ip6 ip;

	return parse6(&ip, p, len) < 0 ? DROP_MALFORMED : DROP_NONE;
}

enum drop nat_check_slot(const struct nat *n, const uint8_t *p, size_t len)
{
	if (len >= 1 && p[0] >> 4 == 6)
		return n->cap6 ? nat_check6(p, len) : DROP_IPV6;
	return nat_check(p, len);
}

/*
 * RFC 1624 eqn. 3 over an even number of changed bytes, old[0..len) to
 * new[0..len) at an even offset of the summed data, words as stored.
 */
static uint16_t update_n(uint16_t check, const uint8_t *old, const uint8_t *new, size_t len)
{
	uint64_t sum = (uint16_t)~check;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint16_t)~ld16(old + i) + (uint32_t)ld16(new + i);
	return (uint16_t)~fold(sum);
}

/* Where the checksum of an upper layer is, or 0 when it has none here. */
static size_t csum6_at(uint8_t proto)
{
	return proto == PROTO_TCP ? 16 : proto == PROTO_UDP ? 6 : proto == PROTO_ICMP6 ? 2 : 0;
}

/*
 * Patches the checksum at ck of an upper layer whose pseudo-header address
 * went from old to new. UDP: a 0 (none, invalid over IPv6) is left alone, a
 * computed 0 is sent as all ones (RFC 8200 §8.1).
 */
static void patch6(uint8_t *ck, uint8_t proto, const uint8_t old[static 16],
                   const uint8_t new[static 16])
{
	uint16_t c = ld16(ck);

	if (proto == PROTO_UDP && c == 0)
		return;
	c = update_n(c, old, new, 16);
	if (proto == PROTO_UDP && c == 0)
		c = 0xffff;
	st16(ck, c);
}

/* The i-th mapped address of the slot: net6 with host part 2 + i. */
static void mapped6(const struct nat *n, unsigned i, uint8_t a[static 16])
{
	memcpy(a, n->net6, 16);
	put32(a + 12, get32(a + 12) + 2 + i);
}

/* The index of a's mapping when a is a mapped address, or -1. */
static int mapped6_index(const struct nat *n, const uint8_t a[static 16])
{
	uint32_t d;

	if (memcmp(a, n->net6, 12) != 0)
		return -1;
	d = get32(a + 12) - get32(n->net6 + 12);
	if (d < 2 || d - 2 >= n->n6 || d - 2 >= NAT_MAX_MAP)
		return -1;
	return (int)(d - 2);
}

static int lookup6(const struct nat *n, const uint8_t a[static 16])
{
	for (unsigned i = 0; i < n->n6 && i < NAT_MAX_MAP; i++)
		if (memcmp(n->orig6[i], a, 16) == 0)
			return (int)i;
	return -1;
}

/*
 * Rewrites the address at offset at (8 source, 24 destination) to new and,
 * unless in a later fragment, patches the upper layer's checksum, whose
 * pseudo-header holds it, and clamps the MSS of a TCP SYN.
 */
static void rewrite6(const struct nat *n, struct ip6 *ip, size_t at,
                     const uint8_t new[static 16])
{
	uint8_t old[16], *l4 = ip->p + ip->l4;
	size_t ck;

	memcpy(old, ip->p + at, 16);
	memcpy(ip->p + at, new, 16);
	if (!ip->first)
		return;
	ck = csum6_at(ip->proto);
	if (ck)
		patch6(l4 + ck, ip->proto, old, new);
	if (ip->proto == PROTO_TCP && n->mss > 20)
		clamp_mss(l4, ip->len - ip->l4, (uint16_t)(n->mss - 20));
}

/*
 * ICMPv6 errors (RFC 4443 §3: 1 unreachable, 2 packet too big, 3 time
 * exceeded, 4 parameter problem) quote as much of the invoking packet as
 * fits. The quoted address at offset at (24 when the client sends the
 * error, 8 when the Internet sends it to the client) is replaced by its
 * mapping: to the slot address (out) or back to the client's (in). If the
 * quote holds the quoted packet's TCP, UDP or ICMPv6 checksum, that follows
 * the quoted pseudo-header; the ICMPv6 checksum follows every word changed.
 * The quote's extension headers are walked within the bytes quoted.
 */
static void icmp6_quote(const struct nat *n, struct ip6 *ip, size_t at, bool out)
{
	uint8_t *icmp = ip->p + ip->l4, *q, old[16], new[16];
	size_t len = ip->len - ip->l4, q_len, q_l4, ck;
	uint16_t sum, c0, c1;
	uint8_t proto;
	bool later, frag;
	int i;

	if (!ip->first || ip->proto != PROTO_ICMP6 || len < 8 + 40)
		return;
	if (icmp[0] < 1 || icmp[0] > 4)
		return;
	q = icmp + 8;
	q_len = len - 8;
	if (q[0] >> 4 != 6)
		return;
	if (out) {
		i = lookup6(n, q + at);
		if (i < 0)
			return;
		mapped6(n, (unsigned)i, new);
	} else {
		i = mapped6_index(n, q + at);
		if (i < 0)
			return;
		memcpy(new, n->orig6[i], 16);
	}
	memcpy(old, q + at, 16);
	memcpy(q + at, new, 16);
	sum = update_n(ld16(icmp + 2), old, new, 16);

	/* The quoted upper layer's checksum, when the quote reaches it. */
	if (walk6(q, q_len, &q_l4, &proto, &later, &frag) == 0 && !later) {
		ck = csum6_at(proto);
		if (ck && q_len - q_l4 >= ck + 2) {
			c0 = ld16(q + q_l4 + ck);
			patch6(q + q_l4 + ck, proto, old, new);
			c1 = ld16(q + q_l4 + ck);
			sum = nat_csum_update16(sum, c0, c1);
		}
	}
	st16(icmp + 2, sum);
}

/* Client -> Internet, IPv6: nat.h's nat_out. */
static enum drop out6(struct nat *n, const struct nat_acl *acl, uint8_t *p, size_t len)
{
	struct ip6 ip;
	uint8_t new[16];
	int i;

	if (!n->cap6)
		return DROP_IPV6;
	if (parse6(&ip, p, len) < 0)
		return DROP_MALFORMED;
	if (!nat_acl_permits6(acl, p + 24))
		return DROP_DENIED;
	i = lookup6(n, p + 8);
	if (i < 0) {
		if (n->n6 >= n->cap6 || n->n + n->n6 >= NAT_MAX_MAP)
			return DROP_MAP_FULL;
		i = (int)n->n6++;
		memcpy(n->orig6[i], p + 8, 16);
	}
	mapped6(n, (unsigned)i, new);
	rewrite6(n, &ip, 8, new);
	icmp6_quote(n, &ip, 24, true);
	return DROP_NONE;
}

/* Internet -> client, IPv6: nat.h's nat_in. */
static enum drop back6(struct nat *n, uint8_t *p, size_t len)
{
	struct ip6 ip;
	int i;

	if (!n->cap6)
		return DROP_IPV6;
	if (parse6(&ip, p, len) < 0)
		return DROP_MALFORMED;
	i = mapped6_index(n, p + 24);
	if (i < 0)
		return DROP_NOT_MAPPED;
	rewrite6(n, &ip, 24, n->orig6[i]);
	icmp6_quote(n, &ip, 8, false);
	return DROP_NONE;
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

	if (len >= 1 && p[0] >> 4 == 6)
		return out6(n, acl, p, len);
	if (parse(&ip, p, len) < 0)
		return DROP_MALFORMED;
	if (!nat_acl_permits(acl, get32(p + 16)))
		return DROP_DENIED;

	src = ld32(p + 12);
	i = lookup(n->orig, n->n, src);
	if (i < 0) {
		if (n->n >= n->cap || n->n + n->n6 >= NAT_MAX_MAP)
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

	if (len >= 1 && p[0] >> 4 == 6)
		return back6(n, p, len);
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

/* ---- The client's refusal of IPv6 ---- */

/* Whether p[0..len), IPv6, must get no ICMPv6 error (RFC 4443 §2.4 (e)):
 * what nat_icmp6_refuse says. Walks at most 8 extension headers. */
static bool refuse6_silent(const uint8_t *p, size_t len)
{
	static const uint8_t unspecified[16];
	uint8_t nh = p[6];
	size_t off = 40;

	if (p[24] == 0xff || p[8] == 0xff || !memcmp(p + 8, unspecified, 16))
		return true;
	for (int i = 0; i < 8; i++) {
		switch (nh) {
		case 0:    /* hop-by-hop */
		case 43:   /* routing */
		case 60:   /* destination options */
			if (len < off + 8)
				return false;
			nh = p[off];
			off += 8 + (size_t)p[off + 1] * 8;
			continue;
		case 44:   /* fragment: only the first says what it carries */
			if (len < off + 8 || (get16(p + off + 2) & 0xfff8))
				return true;
			nh = p[off];
			off += 8;
			continue;
		case 58:   /* ICMPv6: errors (type < 128) and redirects get none */
			return len < off + 1 || p[off] < 128 || p[off] == 137;
		default:
			return false;
		}
	}
	return false;
}

size_t nat_icmp6_refuse(uint8_t *out, size_t cap, const uint8_t *p, size_t len)
{
	size_t quote = len, total;
	uint8_t pseudo[8] = { 0 };
	uint64_t sum;
	uint16_t check;

	if (cap < 48 || len < 40 || p[0] >> 4 != 6 || refuse6_silent(p, len))
		return 0;
	if (cap > NAT_ICMP6_MIN)
		cap = NAT_ICMP6_MIN;
	if (quote > cap - 48)
		quote = cap - 48;
	total = 48 + quote;
	memset(out, 0, 48);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)(8 + quote));
	out[6] = 58;
	out[7] = 64;
	memcpy(out + 8, p + 24, 16);      /* from the destination it did not reach */
	memcpy(out + 24, p + 8, 16);      /* to its source */
	out[40] = 1;                      /* destination unreachable */
	out[41] = 1;                      /* administratively prohibited */
	memcpy(out + 48, p, quote);
	put32(pseudo, (uint32_t)(8 + quote));
	pseudo[7] = 58;
	sum = nat_sum(0, out + 8, 32);
	sum = nat_sum(sum, pseudo, 8);
	sum = nat_sum(sum, out + 40, total - 40);
	check = (uint16_t)~nat_fold(sum);
	memcpy(out + 42, &check, 2);
	return total;
}
