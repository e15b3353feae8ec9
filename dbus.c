/* SPDX-License-Identifier: MIT */
/*
 * dbus.c: the D-Bus client dns.c needs (dbus.h says what it covers), from
 * the D-Bus specification: the SASL EXTERNAL exchange, the message header
 * (an array of (byte, variant) fields), the marshalling rules (each value
 * aligned to its size from the message's start, an array's length counted
 * after the padding to its first element) and the bus's Hello. Messages we
 * write are in our byte order; those we read may be in either. Nothing
 * here blocks for longer than DBUS_TIMEOUT_MS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dbus.h"
#include "nat.h"

#define DEFAULT_BUS "unix:path=/run/dbus/system_bus_socket"
#define RECV_SLICE_MS 250

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define OUR_ORDER 'l'
#else
#define OUR_ORDER 'B'
#endif

/* The header's fields (the specification's codes). */
enum { F_PATH = 1, F_INTERFACE, F_MEMBER, F_ERROR_NAME, F_REPLY_SERIAL, F_DESTINATION,
       F_SENDER, F_SIGNATURE };

/* ---- Marshalling ---- */

void dbus_w_init(struct dbus_w *w, uint8_t *p, size_t cap)
{
	*w = (struct dbus_w){ .p = p, .cap = cap };
}

static void w_put(struct dbus_w *w, const void *p, size_t n)
{
	if (!n)
		return;
	if (w->bad || n > w->cap - w->len) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

void dbus_align(struct dbus_w *w, size_t to)
{
	static const uint8_t zero[8];

	w_put(w, zero, (to - w->len % to) % to);
}

void dbus_put_byte(struct dbus_w *w, uint8_t v)
{
	w_put(w, &v, 1);
}

void dbus_put_u32(struct dbus_w *w, uint32_t v)
{
	dbus_align(w, 4);
	w_put(w, &v, 4);
}

void dbus_put_str(struct dbus_w *w, const char *s)
{
	size_t n = strlen(s);

	dbus_put_u32(w, (uint32_t)n);
	w_put(w, s, n + 1);
}

void dbus_put_sig(struct dbus_w *w, const char *s)
{
	size_t n = strlen(s);

	if (n > 255)
		w->bad = true;
	dbus_put_byte(w, (uint8_t)n);
	w_put(w, s, n + 1);
}

void dbus_put_bytes(struct dbus_w *w, const void *p, uint32_t n)
{
	dbus_put_u32(w, n);
	w_put(w, p, n);
}

struct dbus_arr dbus_array_begin(struct dbus_w *w, size_t elem_align)
{
	struct dbus_arr a;

	dbus_put_u32(w, 0);
	a.len_at = w->len - 4;
	dbus_align(w, elem_align);
	a.first = w->len;
	return a;
}

void dbus_array_end(struct dbus_w *w, struct dbus_arr a)
{
	/* Counted from the first element: past the length and its padding. */
	uint32_t n = (uint32_t)(w->len - a.first);

	if (!w->bad)
		memcpy(w->p + a.len_at, &n, 4);
}

/* One header field: its code, then a variant of type t holding s. */
static void field(struct dbus_w *w, uint8_t code, const char *t, const char *s)
{
	dbus_align(w, 8);
	dbus_put_byte(w, code);
	dbus_put_sig(w, t);
	if (t[0] == 'g')
		dbus_put_sig(w, s);
	else
		dbus_put_str(w, s);
}

size_t dbus_call_msg(uint8_t *out, size_t cap, uint32_t serial, const char *dest,
		     const char *path, const char *iface, const char *member,
		     const char *sig, const uint8_t *body, size_t body_len)
{
	struct dbus_w w;
	struct dbus_arr fields;

	dbus_w_init(&w, out, cap);
	dbus_put_byte(&w, OUR_ORDER);
	dbus_put_byte(&w, DBUS_CALL);
	dbus_put_byte(&w, 0);
	dbus_put_byte(&w, 1);
	dbus_put_u32(&w, (uint32_t)body_len);
	dbus_put_u32(&w, serial);
	fields = dbus_array_begin(&w, 8);
	field(&w, F_PATH, "o", path);
	field(&w, F_DESTINATION, "s", dest);
	field(&w, F_INTERFACE, "s", iface);
	field(&w, F_MEMBER, "s", member);
	if (*sig)
		field(&w, F_SIGNATURE, "g", sig);
	dbus_array_end(&w, fields);
	dbus_align(&w, 8);
	w_put(&w, body, body_len);
	return w.bad ? 0 : w.len;
}

/* ---- Parsing ---- */

static uint32_t get_u32(const uint8_t *p, bool big)
{
	return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		   : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static size_t align_up(size_t at, size_t to)
{
	return (at + to - 1) / to * to;
}

/* A string value (s, o: a u32 length; g: a byte) at *at, inside end:
 * where it starts, with *at past its NUL; NULL when it does not fit. */
static const char *get_str(const uint8_t *m, size_t *at, size_t end, bool big, bool sig)
{
	size_t n, p = sig ? *at : align_up(*at, 4);

	if (p + (sig ? 1 : 4) > end)
		return NULL;
	n = sig ? m[p] : get_u32(m + p, big);
	p += sig ? 1 : 4;
	if (n >= end - p || m[p + n])
		return NULL;
	*at = p + n + 1;
	return (const char *)m + p;
}

/* Skips a basic value of type t at *at inside end (the only kinds a header
 * field holds); false when it is not one or does not fit. */
static bool skip_basic(const uint8_t *m, size_t *at, size_t end, bool big, char t)
{
	size_t size;

	switch (t) {
	case 's': case 'o': return get_str(m, at, end, big, false) != NULL;
	case 'g': return get_str(m, at, end, big, true) != NULL;
	case 'y': size = 1; break;
	case 'n': case 'q': size = 2; break;
	case 'b': case 'i': case 'u': case 'h': size = 4; break;
	case 'x': case 't': case 'd': size = 8; break;
	default: return false;
	}
	*at = align_up(*at, size);
	if (*at > end || size > end - *at)
		return false;
	*at += size;
	return true;
}

long dbus_hdr_parse(const uint8_t *m, size_t len, struct dbus_hdr *h)
{
	const char *sig = NULL;
	size_t at = 16, end, body, total;
	uint32_t flen, blen;
	bool big;

	if (len < 16)
		return 0;
	if ((m[0] != 'l' && m[0] != 'B') || m[3] != 1)
		return -1;
	big = m[0] == 'B';
	blen = get_u32(m + 4, big);
	flen = get_u32(m + 12, big);
	if (blen > DBUS_MSG_MAX || flen > DBUS_MSG_MAX)
		return -1;
	end = 16 + (size_t)flen;
	body = align_up(end, 8);
	total = body + blen;
	if (total > DBUS_MSG_MAX)
		return -1;
	if (len < total)
		return 0;
	*h = (struct dbus_hdr){ .type = m[1], .serial = get_u32(m + 8, big) };
	while (at < end) {
		const char *t;
		uint8_t code;

		at = align_up(at, 8);
		if (at >= end)
			return -1;
		code = m[at++];
		t = get_str(m, &at, end, big, true);
		if (!t || strlen(t) != 1)
			return -1;
		if (code == F_ERROR_NAME && *t == 's') {
			h->error_name = get_str(m, &at, end, big, false);
			if (!h->error_name)
				return -1;
		} else if (code == F_SIGNATURE && *t == 'g') {
			if (!(sig = get_str(m, &at, end, big, true)))
				return -1;
		} else if (code == F_REPLY_SERIAL && *t == 'u') {
			at = align_up(at, 4);
			if (at > end || end - at < 4)
				return -1;
			h->reply_serial = get_u32(m + at, big);
			at += 4;
		} else if (!skip_basic(m, &at, end, big, *t)) {
			return -1;
		}
	}
	if (h->type == DBUS_ERROR && sig && sig[0] == 's') {
		size_t b = body;
		h->error_text = get_str(m, &b, total, big, false);
	}
	return (long)total;
}

/* The value at *s up to ',' or ';' or the end, %XX unescaped, into out
 * (cap bytes); its length, or -1 when it does not fit or is badly escaped. */
static int addr_value(const char **s, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = *s; *p && *p != ',' && *p != ';'; p++) {
		char c = *p;
		if (c == '%') {
			int hi = nat_hex_digit(p[1]), lo = hi < 0 ? -1 : nat_hex_digit(p[2]);
			if (lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (n == cap)
			return -1;
		out[n++] = c;
		*s = p + 1;
	}
	return (int)n;
}

int dbus_addr_path(const char *addr, char *path, size_t cap)
{
	for (const char *e = addr; e && *e; e = strchr(e, ';'), e = e ? e + 1 : NULL) {
		if (strncmp(e, "unix:", 5))
			continue;
		for (const char *k = e + 5; *k && *k != ';';) {
			bool abstract = !strncmp(k, "abstract=", 9);
			int n;
			if (!abstract && strncmp(k, "path=", 5)) {
				k += strcspn(k, ",;");
				k += *k == ',';
				continue;
			}
			memset(path, 0, cap);
			k += abstract ? 9 : 5;
			n = cap > 1 ? addr_value(&k, path + abstract, cap - 1) : -1;
			/* And one: a path's final NUL, an abstract name's first. */
			return n > 0 ? n + 1 : -1;
		}
	}
	return -1;
}

/* ---- The connection ---- */

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int send_all(struct dbus *d, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(d->fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(d->err, sizeof d->err, "writing to the bus: %s", strerror(errno));
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* More bytes into buf, before deadline; 0, or -1 with d->err. */
static int recv_some(struct dbus *d, long long deadline)
{
	for (;;) {
		ssize_t r;
		if (d->have == sizeof d->buf) {
			snprintf(d->err, sizeof d->err, "the bus sent a message over %d KiB",
				 DBUS_MSG_MAX / 1024);
			return -1;
		}
		r = recv(d->fd, d->buf + d->have, sizeof d->buf - d->have, 0);
		if (r > 0) {
			d->have += (size_t)r;
			return 0;
		}
		if (r == 0) {
			snprintf(d->err, sizeof d->err, "the bus closed the connection");
			return -1;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(d->err, sizeof d->err, "reading from the bus: %s", strerror(errno));
			return -1;
		}
		if (now_ms() >= deadline) {
			snprintf(d->err, sizeof d->err, "no answer from the bus in %d ms",
				 DBUS_TIMEOUT_MS);
			return -1;
		}
	}
}

/* SASL: AUTH EXTERNAL with our uid (hex of its decimal digits), OK, BEGIN. */
static int authenticate(struct dbus *d, long long deadline)
{
	char uid[16], line[64] = "", *nl;
	int n = snprintf(uid, sizeof uid, "%u", (unsigned)geteuid()), at;

	at = snprintf(line, sizeof line, "%cAUTH EXTERNAL ", 0);
	for (int i = 0; i < n; i++)
		at += snprintf(line + at, sizeof line - (size_t)at, "%02x", (unsigned char)uid[i]);
	at += snprintf(line + at, sizeof line - (size_t)at, "\r\n");
	if (send_all(d, line, (size_t)at) < 0)
		return -1;
	while (!(nl = memchr(d->buf, '\n', d->have)))
		if (recv_some(d, deadline) < 0)
			return -1;
	if (d->have < 3 || memcmp(d->buf, "OK ", 3) || nl != (char *)d->buf + d->have - 1) {
		snprintf(d->err, sizeof d->err, "the bus refused us: %.*s", (int)(nl - (char *)d->buf),
			 (char *)d->buf);
		return -1;
	}
	d->have = 0;
	return send_all(d, "BEGIN\r\n", 7);
}

int dbus_open(struct dbus *d)
{
	const char *addr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_usec = RECV_SLICE_MS * 1000 };
	long long deadline = now_ms() + DBUS_TIMEOUT_MS;
	int n, e;

	d->fd = -1;
	d->serial = 0;
	d->have = 0;
	d->err[0] = d->err_name[0] = 0;
	if (!addr || !*addr)
		addr = DEFAULT_BUS;
	n = dbus_addr_path(addr, sa.sun_path, sizeof sa.sun_path);
	if (n < 0) {
		snprintf(d->err, sizeof d->err, "bus address '%.64s': no unix:path= or unix:abstract=",
			 addr);
		errno = EINVAL;
		return -1;
	}
	d->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->fd < 0 || setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(d->fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n)) < 0) {
		e = errno;
		snprintf(d->err, sizeof d->err, "%s%s: %s", sa.sun_path[0] ? "" : "@",
			 sa.sun_path + !sa.sun_path[0], strerror(e));
		dbus_close(d);
		errno = e;
		return -1;
	}
	if (authenticate(d, deadline) < 0 ||
	    dbus_call(d, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
		      "Hello", "", NULL, 0) != 0) {
		dbus_close(d);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int dbus_call(struct dbus *d, const char *dest, const char *path, const char *iface,
	      const char *member, const char *sig, const uint8_t *body, size_t body_len)
{
	long long deadline = now_ms() + DBUS_TIMEOUT_MS;
	uint8_t msg[1024];
	uint32_t serial = ++d->serial;
	size_t len = dbus_call_msg(msg, sizeof msg, serial, dest, path, iface, member, sig,
				   body, body_len);

	d->err[0] = d->err_name[0] = 0;
	if (!len) {
		snprintf(d->err, sizeof d->err, "%s: the call does not fit in %zu bytes", member,
			 sizeof msg);
		return -1;
	}
	if (send_all(d, msg, len) < 0)
		return -1;
	for (;;) {
		struct dbus_hdr h;
		long n = dbus_hdr_parse(d->buf, d->have, &h);
		int rc = -2;

		if (n < 0) {
			snprintf(d->err, sizeof d->err, "the bus sent a malformed message");
			return -1;
		}
		if (n == 0) {
			if (recv_some(d, deadline) < 0)
				return -1;
			continue;
		}
		/* Ours, or a signal (NameAcquired) or another reply: skipped. */
		if ((h.type == DBUS_RETURN || h.type == DBUS_ERROR) && h.reply_serial == serial) {
			rc = h.type == DBUS_RETURN ? 0 : 1;
			if (rc) {
				snprintf(d->err_name, sizeof d->err_name, "%s",
					 h.error_name ? h.error_name : "(no name)");
				snprintf(d->err, sizeof d->err, "%s: %.150s", d->err_name,
					 h.error_text ? h.error_text : "");
			}
		}
		memmove(d->buf, d->buf + n, d->have - (size_t)n);
		d->have -= (size_t)n;
		if (rc != -2)
			return rc;
	}
}

void dbus_close(struct dbus *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
