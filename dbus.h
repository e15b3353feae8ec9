/* SPDX-License-Identifier: MIT */
/*
 * dbus.h: D-Bus done by hand, for dns.c only: one connection to the system
 * bus, SASL EXTERNAL, Hello, then method calls, each sent and its reply
 * awaited; no signals, objects, properties or file descriptors of ours.
 * The marshalling of the few types dns.c sends (u, i, b, s, o, g, ay,
 * arrays and structs of them) and the header parser are pure; the message
 * reader takes either byte order, whatever the peer writes. What to call,
 * and what a failure means, is the caller's.
 */
#ifndef VPNGW_DBUS_H
#define VPNGW_DBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DBUS_MSG_MAX (64 * 1024) /* a reply over this is refused (ours are small) */
#define DBUS_ERR_LEN 256
#define DBUS_TIMEOUT_MS 2000     /* for the whole of one call, Hello included */

enum dbus_type { DBUS_CALL = 1, DBUS_RETURN = 2, DBUS_ERROR = 3, DBUS_SIGNAL = 4 };

/* ---- Marshalling (pure) ---- */

/* A body or message being written into p (cap bytes, the caller's).
 * bad sticks once a value did not fit. Offsets are the message's. */
struct dbus_w {
	uint8_t *p;
	size_t cap, len;
	bool bad;
};

void dbus_w_init(struct dbus_w *w, uint8_t *p, size_t cap);
void dbus_align(struct dbus_w *w, size_t to);          /* zeros; 8 starts a struct */
void dbus_put_byte(struct dbus_w *w, uint8_t v);       /* y */
void dbus_put_u32(struct dbus_w *w, uint32_t v);       /* u, i, b */
void dbus_put_str(struct dbus_w *w, const char *s);    /* s, o */
void dbus_put_sig(struct dbus_w *w, const char *s);    /* g */
void dbus_put_bytes(struct dbus_w *w, const void *p, uint32_t n); /* ay */
/* An array of elements aligned to elem_align: begin, the elements, end. */
struct dbus_arr {
	size_t len_at, first; /* where its length goes; where its elements start */
};
struct dbus_arr dbus_array_begin(struct dbus_w *w, size_t elem_align);
void dbus_array_end(struct dbus_w *w, struct dbus_arr a);

/*
 * A method call to dest's path, iface.member, with body (body_len bytes of
 * signature sig, "" for none) into out (cap bytes), in our byte order.
 * Returns its length, 0 when it does not fit.
 */
size_t dbus_call_msg(uint8_t *out, size_t cap, uint32_t serial, const char *dest,
		     const char *path, const char *iface, const char *member,
		     const char *sig, const uint8_t *body, size_t body_len);

/* ---- Parsing (pure) ---- */

/* What a message's header says. Pointers are into the message. */
struct dbus_hdr {
	uint8_t type;
	uint32_t serial, reply_serial;
	const char *error_name;  /* NUL-terminated in the message, or NULL */
	const char *error_text;  /* an error's first body string, or NULL */
};

/*
 * The message at the start of m (len bytes, of which more may follow):
 * returns its whole length when all of it is there and its header is
 * well-formed, 0 when more bytes are needed, -1 when it is malformed or
 * longer than DBUS_MSG_MAX. Every offset and length is checked.
 */
long dbus_hdr_parse(const uint8_t *m, size_t len, struct dbus_hdr *h);

/*
 * The socket address of a bus address (DBUS_SYSTEM_BUS_ADDRESS's form:
 * "unix:path=/x,guid=..;next", values %-escaped): the first unix:path= or
 * unix:abstract= entry. Writes its sun_path (NUL-padded, abstract ones
 * starting with a NUL) into path (cap bytes); returns the byte count to
 * pass after sun_family, or -1.
 */
int dbus_addr_path(const char *addr, char *path, size_t cap);

/* ---- The connection ---- */

struct dbus {
	int fd;
	uint32_t serial;
	char err[DBUS_ERR_LEN];        /* the last failure, one line */
	char err_name[96];             /* an error reply's name, or "" */
	size_t have;                   /* bytes read into buf, not yet used */
	uint8_t buf[DBUS_MSG_MAX];
};

/*
 * Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else
 * /run/dbus/system_bus_socket), authenticates as our uid and says Hello.
 * Returns 0, or -1 with d->err set and errno ENOENT or ECONNREFUSED when
 * no bus is there.
 */
int dbus_open(struct dbus *d);

/*
 * Calls iface.member on dest's path with body (of signature sig) and waits
 * for its answer. Returns 0 on a method return; 1 on an error reply
 * (d->err_name, and d->err "name: text"); -1 when the connection failed
 * or timed out (d->err).
 */
int dbus_call(struct dbus *d, const char *dest, const char *path, const char *iface,
	      const char *member, const char *sig, const uint8_t *body, size_t body_len);

void dbus_close(struct dbus *d);

#endif
