/* SPDX-License-Identifier: MIT */
/*
 * v1.c: the vpngw.v1 subprotocol, pure: the assignment message built by the
 * gateway and parsed by the client, and the session token's hex form. The
 * JSON reader is a cursor over (p, len) that checks the length before every
 * read; it knows the grammar of RFC 8259 well enough to skip any value
 * correctly, and reads only the few values the assignment defines.
 *
 * Addresses are parsed by nat.c (nat_prefix_parse, nat_ifaddr_parse), the
 * program's one IPv4 parser. Framing is ws.c's, and the choice of a token,
 * where it is kept and when it is wiped are the callers'.
 */
#include <string.h>

#include "nat.h"
#include "out.h"
#include "v1.h"

/* The known keys, in the order v1_assign_format writes them. */
enum field {
	F_ADDRESS, F_GATEWAY, F_MTU, F_SESSION, F_KEEPALIVE, F_LINGER,
	F_ADDRESS6, F_GATEWAY6, F_DNS, F_N
};

static const char *const field_names[F_N] = {
	[F_ADDRESS] = "address", [F_GATEWAY] = "gateway", [F_MTU] = "mtu",
	[F_SESSION] = "session", [F_KEEPALIVE] = "keepalive", [F_LINGER] = "linger",
	[F_ADDRESS6] = "address6", [F_GATEWAY6] = "gateway6", [F_DNS] = "dns",
};

/* ==== Tokens ==== */

/*
 * Hex without a branch or a table lookup on the value, as WireGuard's
 * encoding.c does: a token is a secret.
 */
static char hexdigit(unsigned n)
{
	/* n > 9 adds the 39 that takes '0' + 10 to 'a'. */
	return (char)('0' + n + (((9u - n) >> 8) & 39u));
}

size_t v1_token_format(char out[static V1_TOKEN_HEX + 1], const uint8_t t[static V1_TOKEN_LEN])
{
	for (size_t i = 0; i < V1_TOKEN_LEN; i++) {
		out[2 * i] = hexdigit(t[i] >> 4);
		out[2 * i + 1] = hexdigit(t[i] & 0xfu);
	}
	out[V1_TOKEN_HEX] = '\0';
	return V1_TOKEN_HEX;
}

/*
 * The value of the hex digit c in the low bits, and in *bad all ones
 * (0xff) if c is not one, without a branch on c.
 */
static unsigned hexval(unsigned char c, unsigned *bad)
{
	unsigned num = c ^ 0x30u;                      /* '0'..'9' -> 0..9 */
	unsigned num_ok = ((num - 10u) >> 8) & 0xffu;
	unsigned alpha = (c & ~0x20u) - 55u;           /* 'A'..'F' -> 10..15 */
	unsigned alpha_ok = (((alpha - 10u) ^ (alpha - 16u)) >> 8) & 0xffu;

	*bad |= ~(num_ok | alpha_ok) & 0xffu;
	return (num_ok & num) | (alpha_ok & alpha);
}

int v1_token_parse(uint8_t out[static V1_TOKEN_LEN], const char *s, size_t len)
{
	unsigned bad = 0;

	if (!s || len != V1_TOKEN_HEX) {
		explicit_bzero(out, V1_TOKEN_LEN);
		return -1;
	}
	for (size_t i = 0; i < V1_TOKEN_LEN; i++) {
		unsigned hi = hexval((unsigned char)s[2 * i], &bad);
		unsigned lo = hexval((unsigned char)s[2 * i + 1], &bad);

		out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (bad) {
		explicit_bzero(out, V1_TOKEN_LEN);
		return -1;
	}
	return 0;
}

bool v1_token_equal(const uint8_t a[static V1_TOKEN_LEN], const uint8_t b[static V1_TOKEN_LEN])
{
	unsigned d = 0;

	for (size_t i = 0; i < V1_TOKEN_LEN; i++)
		d |= a[i] ^ b[i];
	/* 1 exactly when d == 0, without comparing d. */
	return (1u & ((d - 1u) >> 8)) != 0;
}

/* ==== Checking an assignment ==== */

static bool in_range(long v, long max)
{
	return v == -1 || (v >= 0 && v <= max);
}

static bool zero16(const uint8_t a[static 16])
{
	uint8_t any = 0;

	for (int i = 0; i < 16; i++)
		any |= a[i];
	return any == 0;
}

/*
 * Whether a/prefix is an IPv6 address an interface can hold: a prefix of
 * 1..128, and not ::, ::1, multicast (ff00::/8) or IPv4-mapped (::ffff:0:0/96).
 */
static bool host6_ok(const uint8_t a[static 16], unsigned prefix)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	bool low = true;

	for (int i = 0; i < 15; i++)
		low &= a[i] == 0;
	return prefix >= 1 && prefix <= 128 && !(low && a[15] <= 1) && a[0] != 0xff &&
	       memcmp(a, mapped, sizeof mapped) != 0;
}

static bool dns_ok(const struct v1_assign *a)
{
	bool ok = a->n_dns4 <= V1_DNS_MAX && a->n_dns6 <= V1_DNS_MAX;

	for (unsigned i = 0; ok && i < a->n_dns4; i++)
		ok = nat_host_ok(a->dns4[i], 32);
	for (unsigned i = 0; ok && i < a->n_dns6; i++)
		ok = host6_ok(a->dns6[i], 128);
	return ok;
}

/* What both format and parse insist on. */
static bool assign_ok(const struct v1_assign *a)
{
	return nat_host_ok(a->addr, a->prefix) &&
	       (a->prefix6 == 0 || host6_ok(a->addr6, a->prefix6)) &&
	       (zero16(a->gateway6) || (a->prefix6 && host6_ok(a->gateway6, 128))) &&
	       dns_ok(a) &&
	       (a->gateway == 0 || nat_host_ok(a->gateway, 32)) &&
	       a->mtu >= V1_MTU_MIN && a->mtu <= V1_MTU_MAX &&
	       in_range(a->keepalive_s, V1_KEEPALIVE_MAX) &&
	       in_range(a->linger_s, V1_LINGER_MAX);
}

/* ==== Writing the assignment ==== */

static void put_ip4(struct out *o, uint32_t a)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		out_uint(o, (a >> shift) & 0xffu);
		if (shift)
			out_str(o, ".");
	}
}

static void put_ip6(struct out *o, const uint8_t a[static 16])
{
	char s[NAT_ADDR6_LEN];

	(void)nat_addr6_format(s, a);
	out_str(o, s);
}

/* "name": after the object's '{' for the first field, after ',' for the rest. */
static void put_key(struct out *o, enum field f)
{
	out_str(o, f == F_ADDRESS ? "{\"" : ",\"");
	out_str(o, field_names[f]);
	out_str(o, "\":");
}

size_t v1_assign_format(char *out, size_t cap, const struct v1_assign *a)
{
	struct out o = { out, cap, 0, false };
	char *p;

	if (!assign_ok(a))
		return 0;
	put_key(&o, F_ADDRESS);
	out_str(&o, "\"");
	put_ip4(&o, a->addr);
	out_str(&o, "/");
	out_uint(&o, a->prefix);
	out_str(&o, "\"");
	if (a->gateway) {
		put_key(&o, F_GATEWAY);
		out_str(&o, "\"");
		put_ip4(&o, a->gateway);
		out_str(&o, "\"");
	}
	put_key(&o, F_MTU);
	out_uint(&o, a->mtu);
	if (a->has_session) {
		put_key(&o, F_SESSION);
		out_str(&o, "\"");
		/* Straight into out, its NUL overwritten by the closing quote:
		 * no copy of the secret to wipe. */
		p = out_room(&o, V1_TOKEN_HEX + 1);
		if (p) {
			(void)v1_token_format(p, a->session);
			p[V1_TOKEN_HEX] = '"';
		}
	}
	if (a->keepalive_s >= 0) {
		put_key(&o, F_KEEPALIVE);
		out_uint(&o, (unsigned long)a->keepalive_s);
	}
	if (a->linger_s >= 0) {
		put_key(&o, F_LINGER);
		out_uint(&o, (unsigned long)a->linger_s);
	}
	if (a->prefix6) {
		put_key(&o, F_ADDRESS6);
		out_str(&o, "\"");
		put_ip6(&o, a->addr6);
		out_str(&o, "/");
		out_uint(&o, a->prefix6);
		out_str(&o, "\"");
		if (!zero16(a->gateway6)) {
			put_key(&o, F_GATEWAY6);
			out_str(&o, "\"");
			put_ip6(&o, a->gateway6);
			out_str(&o, "\"");
		}
	}
	if (a->n_dns4 + a->n_dns6) {
		put_key(&o, F_DNS);
		for (unsigned i = 0; i < a->n_dns4 + a->n_dns6; i++) {
			out_str(&o, i ? ",\"" : "[\"");
			if (i < a->n_dns4)
				put_ip4(&o, a->dns4[i]);
			else
				put_ip6(&o, a->dns6[i - a->n_dns4]);
			out_str(&o, "\"");
		}
		out_str(&o, "]");
	}
	out_str(&o, "}");
	/* The NUL; on overflow, wipe what holds the session. */
	p = out_room(&o, 1);
	if (!p) {
		explicit_bzero(out, o.len);
		return 0;
	}
	*p = '\0';
	return o.len - 1;
}

/* ==== Reading JSON (RFC 8259) ==== */

/* A cursor over the text; every read checks the length first. */
struct cur {
	const char *p;
	size_t len, off;
};

/* A string's contents between its quotes, raw. */
struct str {
	const char *p;
	size_t len;
	bool plain;                  /* no escape in it */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ws of §2: space, tab, LF, CR; nothing else (not NUL). */
static void skip_ws(struct cur *j)
{
	while (j->off < j->len && (j->p[j->off] == ' ' || j->p[j->off] == '\t' ||
	                           j->p[j->off] == '\n' || j->p[j->off] == '\r'))
		j->off++;
}

/* After whitespace, whether ch is next; not consumed. */
static bool peek(struct cur *j, char ch)
{
	skip_ws(j);
	return j->off < j->len && j->p[j->off] == ch;
}

/* After whitespace, ch, consumed. */
static bool lit(struct cur *j, char ch)
{
	if (!peek(j, ch))
		return false;
	j->off++;
	return true;
}

/* A string (§7): no control character, every escape one of §7's. */
static bool string(struct cur *j, struct str *s)
{
	if (!lit(j, '"'))
		return false;
	s->p = j->p + j->off;
	s->plain = true;
	for (;;) {
		unsigned char c;

		if (j->off == j->len)
			return false;
		c = (unsigned char)j->p[j->off++];
		if (c == '"')
			break;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		s->plain = false;
		if (j->off == j->len)
			return false;
		c = (unsigned char)j->p[j->off++];
		if (c == 'u') {
			unsigned bad = 0;

			if (j->len - j->off < 4)
				return false;
			for (int k = 0; k < 4; k++)
				(void)hexval((unsigned char)j->p[j->off++], &bad);
			if (bad)
				return false;
		} else if (c == 0 || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
	s->len = (size_t)(j->p + j->off - 1 - s->p);
	return true;
}

/* A member's name and its ':'. A name with an escape is refused: a key
 * has one spelling, so that a duplicate cannot hide behind another. */
static bool name(struct cur *j, struct str *k)
{
	return string(j, k) && k->plain && lit(j, ':');
}

/* 1*DIGIT from the cursor. */
static bool skip_digits(struct cur *j)
{
	size_t start = j->off;

	while (j->off < j->len && is_digit(j->p[j->off]))
		j->off++;
	return j->off > start;
}

/* A number (§6): [-] int [frac] [exp], int without leading zeros. */
static bool skip_number(struct cur *j)
{
	skip_ws(j);
	if (j->off < j->len && j->p[j->off] == '-')
		j->off++;
	if (j->off < j->len && j->p[j->off] == '0')
		j->off++;
	else if (!skip_digits(j))
		return false;
	if (j->off < j->len && j->p[j->off] == '.') {
		j->off++;
		if (!skip_digits(j))
			return false;
	}
	if (j->off < j->len && (j->p[j->off] == 'e' || j->p[j->off] == 'E')) {
		j->off++;
		if (j->off < j->len && (j->p[j->off] == '+' || j->p[j->off] == '-'))
			j->off++;
		if (!skip_digits(j))
			return false;
	}
	return true;
}

/* An integer 0..max: no sign, fraction, exponent or leading zero. */
static bool uint_value(struct cur *j, unsigned long max, unsigned long *v)
{
	size_t start;

	skip_ws(j);
	start = j->off;
	*v = 0;
	while (j->off < j->len && is_digit(j->p[j->off])) {
		if (j->off > start && j->p[start] == '0')
			return false;
		*v = *v * 10 + (unsigned long)(j->p[j->off++] - '0');
		if (*v > max)
			return false;
	}
	if (j->off == start)
		return false;
	/* 1500.0 or 15e2 is a number, but not an integer we take. */
	return j->off == j->len || (j->p[j->off] != '.' && j->p[j->off] != 'e' &&
	                            j->p[j->off] != 'E');
}

static bool skip_word(struct cur *j, const char *w)
{
	size_t n = strlen(w);

	skip_ws(j);
	if (j->len - j->off < n || memcmp(j->p + j->off, w, n) != 0)
		return false;
	j->off += n;
	return true;
}

static bool skip_scalar(struct cur *j)
{
	struct str s;

	skip_ws(j);
	if (j->off == j->len)
		return false;
	switch (j->p[j->off]) {
	case '"':
		return string(j, &s);
	case 't':
		return skip_word(j, "true");
	case 'f':
		return skip_word(j, "false");
	case 'n':
		return skip_word(j, "null");
	default:
		return skip_number(j);
	}
}

/*
 * Skips one value of any kind, checking its grammar. Objects and arrays
 * nest at most V1_DEPTH_MAX deep, tracked on a small stack of the closing
 * characters expected, so that no input can make this recurse.
 */
static bool skip_value(struct cur *j)
{
	char close[V1_DEPTH_MAX];
	size_t depth = 0;
	struct str k;

	for (;;) {
		/* A value: a scalar, or an object or array that opens a level. */
		if (peek(j, '{') || peek(j, '[')) {
			if (depth == V1_DEPTH_MAX)
				return false;
			close[depth++] = j->p[j->off++] == '{' ? '}' : ']';
			if (!lit(j, close[depth - 1])) {
				if (close[depth - 1] == '}' && !name(j, &k))
					return false;
				continue;
			}
			depth--;
		} else if (!skip_scalar(j)) {
			return false;
		}
		/* After it: close levels, or go on to the level's next element. */
		for (;;) {
			if (depth == 0)
				return true;
			if (lit(j, close[depth - 1])) {
				depth--;
				continue;
			}
			if (!lit(j, ','))
				return false;
			if (close[depth - 1] == '}' && !name(j, &k))
				return false;
			break;
		}
	}
}

/* ==== Reading the assignment ==== */

static int field_of(const struct str *k)
{
	for (int f = 0; f < F_N; f++)
		if (k->len == strlen(field_names[f]) && memcmp(k->p, field_names[f], k->len) == 0)
			return f;
	return -1;
}

/* An IPv6 address without a prefix, in a plain string, into out. */
static bool addr6_value(const struct str *s, uint8_t out[static 16])
{
	unsigned len;

	return s->plain && !memchr(s->p, '/', s->len) &&
	       nat_prefix6_parse(s->p, s->len, out, &len) == 0 && host6_ok(out, 128);
}

/* "dns": an array of address strings, at most V1_DNS_MAX of each family. */
static bool dns_value(struct cur *j, struct v1_assign *a)
{
	struct str s;
	unsigned prefix;

	if (!lit(j, '['))
		return false;
	if (lit(j, ']'))
		return true;
	do {
		if (!string(j, &s) || !s.plain)
			return false;
		if (memchr(s.p, ':', s.len)) {
			if (a->n_dns6 == V1_DNS_MAX || !addr6_value(&s, a->dns6[a->n_dns6]))
				return false;
			a->n_dns6++;
		} else {
			if (a->n_dns4 == V1_DNS_MAX || memchr(s.p, '/', s.len) ||
			    nat_prefix_parse(s.p, s.len, &a->dns4[a->n_dns4], &prefix) < 0 ||
			    !nat_host_ok(a->dns4[a->n_dns4], 32))
				return false;
			a->n_dns4++;
		}
	} while (lit(j, ','));
	return lit(j, ']');
}

/* The value of the known field f into a. */
static bool read_field(struct cur *j, struct v1_assign *a, enum field f)
{
	struct str s;
	unsigned long v;
	unsigned prefix;

	switch (f) {
	case F_ADDRESS:
		return string(j, &s) && s.plain &&
		       nat_ifaddr_parse(s.p, s.len, &a->addr, &a->prefix) == 0;
	case F_GATEWAY:
		return string(j, &s) && s.plain && !memchr(s.p, '/', s.len) &&
		       nat_prefix_parse(s.p, s.len, &a->gateway, &prefix) == 0 &&
		       nat_host_ok(a->gateway, 32);
	case F_SESSION:
		if (!string(j, &s) || !s.plain)
			return false;
		a->has_session = v1_token_parse(a->session, s.p, s.len) == 0;
		return a->has_session;
	case F_MTU:
		if (!uint_value(j, V1_MTU_MAX, &v) || v < V1_MTU_MIN)
			return false;
		a->mtu = (unsigned)v;
		return true;
	case F_KEEPALIVE:
		if (!uint_value(j, V1_KEEPALIVE_MAX, &v))
			return false;
		a->keepalive_s = (long)v;
		return true;
	case F_LINGER:
		if (!uint_value(j, V1_LINGER_MAX, &v))
			return false;
		a->linger_s = (long)v;
		return true;
	case F_ADDRESS6:
		return string(j, &s) && s.plain && memchr(s.p, '/', s.len) &&
		       nat_prefix6_parse(s.p, s.len, a->addr6, &a->prefix6) == 0 &&
		       host6_ok(a->addr6, a->prefix6);
	case F_GATEWAY6:
		return string(j, &s) && addr6_value(&s, a->gateway6);
	case F_DNS:
		return dns_value(j, a);
	case F_N:
		break;
	}
	return false;
}

int v1_assign_parse(struct v1_assign *a, const char *txt, size_t len)
{
	struct cur j = { txt, len, 0 };
	unsigned seen = 0;
	struct str k;
	int rc = -1;

	*a = (struct v1_assign){ .mtu = V1_MTU_DEFAULT, .keepalive_s = -1, .linger_s = -1 };
	if (!txt || len > V1_ASSIGN_MAX || !lit(&j, '{'))
		goto out;

	/* Members, known or not; a known key twice is refused (§4 leaves
	 * what a duplicate means to each reader). */
	do {
		int f;

		if (!name(&j, &k))
			goto out;
		f = field_of(&k);
		if (f < 0) {
			if (!skip_value(&j))
				goto out;
			continue;
		}
		if (seen & 1u << f)
			goto out;
		seen |= 1u << f;
		if (!read_field(&j, a, (enum field)f))
			goto out;
	} while (lit(&j, ','));

	/* The end of the object, and nothing after it but whitespace. */
	if (!lit(&j, '}'))
		goto out;
	skip_ws(&j);
	if (j.off == j.len && (seen & 1u << F_ADDRESS) && assign_ok(a))
		rc = 0;
out:
	if (rc < 0)
		explicit_bzero(a, sizeof *a);
	return rc;
}
