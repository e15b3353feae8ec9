/* SPDX-License-Identifier: MIT */
/*
 * netlink.c: builds netlink requests in a fixed buffer, sends them, and
 * reads back ACKs, replies and dumps, checking every length the kernel
 * claims before reading it. What to ask (rtnetlink, ctnetlink) and what the
 * answers mean is tun.c's business; errors are returned as -errno and
 * logged by the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"

#define NL_RECV_MAX 65536	/* a dump skb is at most 32 KiB */
#define NL_ACK_MAX (NL_MSG_MAX + 1024)	/* an error quotes the request */
#define NL_WALK_MORE 1		/* walk: no ACK, DONE or error yet */

static uint32_t seq_next = 1;	/* per socket in effect: races are harmless */

/* ---- Building ---- */

void nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags)
{
	memset(&m->u.hdr, 0, sizeof m->u.hdr);
	m->u.hdr.nlmsg_len = NLMSG_HDRLEN;
	m->u.hdr.nlmsg_type = type;
	m->u.hdr.nlmsg_flags = NLM_F_REQUEST | flags;
	m->overflow = false;
}

static void *reserve(struct nl_msg *m, size_t len)
{
	size_t off = NLMSG_ALIGN(m->u.hdr.nlmsg_len);
	unsigned char *p;

	if (m->overflow || len > sizeof m->u.buf - off ||
	    NLMSG_ALIGN(len) > sizeof m->u.buf - off) {
		m->overflow = true;
		return NULL;
	}
	p = m->u.buf + off;
	memset(p, 0, NLMSG_ALIGN(len));
	m->u.hdr.nlmsg_len = off + NLMSG_ALIGN(len);
	return p;
}

void *nl_msg_put(struct nl_msg *m, const void *data, size_t len)
{
	void *p = reserve(m, len);

	if (p && data)
		memcpy(p, data, len);
	return p;
}

void nl_attr_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr a;
	unsigned char *p;

	if (len > 0xffff - NLA_HDRLEN) {
		m->overflow = true;
		return;
	}
	p = reserve(m, NLA_HDRLEN + len);
	if (!p)
		return;
	a.nla_len = NLA_HDRLEN + len;
	a.nla_type = type;
	memcpy(p, &a, sizeof a);
	if (len)
		memcpy(p + NLA_HDRLEN, data, len);
}

void nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	nl_attr_put(m, type, &v, sizeof v);
}

void nl_attr_put_be32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	nl_attr_put(m, type, b, sizeof b);
}

void nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s)
{
	nl_attr_put(m, type, s, strlen(s) + 1);
}

size_t nl_attr_nest_start(struct nl_msg *m, uint16_t type)
{
	size_t start = NLMSG_ALIGN(m->u.hdr.nlmsg_len);

	nl_attr_put(m, type | NLA_F_NESTED, NULL, 0);
	return start;
}

void nl_attr_nest_end(struct nl_msg *m, size_t start)
{
	struct nlattr a;
	size_t len;

	if (m->overflow || start + NLA_HDRLEN > m->u.hdr.nlmsg_len)
		return;
	len = m->u.hdr.nlmsg_len - start;
	if (len > 0xffff) {
		m->overflow = true;
		return;
	}
	memcpy(&a, m->u.buf + start, sizeof a);
	a.nla_len = len;
	memcpy(m->u.buf + start, &a, sizeof a);
}

/* ---- Talking ---- */

int nl_open(int protocol)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	/* Strict dump checking where supported; older kernels ignore it. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
	return fd;
}

static int send_msg(int fd, struct nl_msg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (m->overflow)
		return -EMSGSIZE;
	m->u.hdr.nlmsg_seq = seq_next++;
	do
		n = sendto(fd, m->u.buf, m->u.hdr.nlmsg_len, 0,
			   (struct sockaddr *)&sa, sizeof sa);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != m->u.hdr.nlmsg_len)
		return -EIO;
	return 0;
}

/* The error an NLMSG_ERROR message carries: 0 (ACK) or -errno; a code no
 * errno has (MAX_ERRNO is 4095) is a malformed message. */
static int error_of(const struct nlmsghdr *h)
{
	struct nlmsgerr e;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof e.error))
		return -EBADMSG;
	memcpy(&e.error, NLMSG_DATA(h), sizeof e.error);
	if (e.error < -4095 || e.error > 4095)
		return -EBADMSG;
	return e.error > 0 ? -e.error : e.error;
}

/*
 * Walks the netlink messages in buf/len (what one recv() returned): the
 * messages of sequence seq are handed to cb until the ACK or error (or,
 * when dump, DONE); messages of another sequence are skipped. Pure: every
 * length the buffer claims is checked against len before it is read, and
 * buf must be 4-byte aligned (NLMSG_ALIGNTO). Returns NL_WALK_MORE when no
 * terminator was found (read the next buffer), 0 on the ACK or DONE, the
 * -errno an error message carries, or -EBADMSG for a malformed buffer.
 */
static int walk(const unsigned char *buf, size_t len, uint32_t seq, bool dump,
		   nl_cb cb, void *arg)
{
	size_t off = 0;

	while (len - off >= NLMSG_HDRLEN) {
		const struct nlmsghdr *h = (const void *)(buf + off);
		size_t step;

		if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len - off)
			return -EBADMSG;
		step = NLMSG_ALIGN(h->nlmsg_len);
		off = step < len - off ? off + step : len;
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_ERROR)
			return error_of(h);
		if (h->nlmsg_type == NLMSG_DONE && dump)
			return 0;
		if (h->nlmsg_type < NLMSG_MIN_TYPE)
			continue;
		if (cb)
			cb(h, arg);
	}
	return off == len ? NL_WALK_MORE : -EBADMSG;
}

/* Reads replies to seq into buf[cap] until walk finds the end. Returns 0
 * or -errno (-EMSGSIZE: a message larger than cap). */
static int receive_into(int fd, unsigned char *buf, size_t cap, uint32_t seq, bool dump,
			nl_cb cb, void *arg)
{
	for (;;) {
		ssize_t n = recv(fd, buf, cap, MSG_TRUNC);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n > cap)
			return -EMSGSIZE;
		rc = walk(buf, (size_t)n, seq, dump, cb, arg);
		if (rc != NL_WALK_MORE)
			return rc;
	}
}

/*
 * Not the hot path, but setup makes thousands of exchanges: a bare ACK (or
 * an error, which quotes our small request) is read on the stack; a reply
 * or dump into a buffer per exchange, which keeps this thread-safe.
 */
static int receive(int fd, uint32_t seq, bool dump, nl_cb cb, void *arg)
{
	_Alignas(struct nlmsghdr) unsigned char ack[NL_ACK_MAX];
	unsigned char *buf;
	int err;

	if (!cb && !dump)
		return receive_into(fd, ack, sizeof ack, seq, dump, cb, arg);
	buf = malloc(NL_RECV_MAX);
	if (!buf)
		return -ENOMEM;
	err = receive_into(fd, buf, NL_RECV_MAX, seq, dump, cb, arg);
	free(buf);
	return err;
}

int nl_query(int fd, struct nl_msg *m, nl_cb cb, void *arg)
{
	int err;

	m->u.hdr.nlmsg_flags |= NLM_F_ACK;
	err = send_msg(fd, m);
	if (err)
		return err;
	return receive(fd, m->u.hdr.nlmsg_seq, false, cb, arg);
}

int nl_talk(int fd, struct nl_msg *m)
{
	return nl_query(fd, m, NULL, NULL);
}

int nl_dump(int fd, struct nl_msg *m, nl_cb cb, void *arg)
{
	int err;

	m->u.hdr.nlmsg_flags |= NLM_F_DUMP;
	err = send_msg(fd, m);
	if (err)
		return err;
	return receive(fd, m->u.hdr.nlmsg_seq, true, cb, arg);
}

/* ---- Batches ---- */

void nl_batch_init(struct nl_batch *b)
{
	*b = (struct nl_batch){ .buf = NULL };
}

void nl_batch_free(struct nl_batch *b)
{
	free(b->buf);
	nl_batch_init(b);
}

void nl_batch_add(struct nl_batch *b, const struct nl_msg *m)
{
	size_t len = NLMSG_ALIGN(m->u.hdr.nlmsg_len);
	struct nlmsghdr h;

	if (b->failed || m->overflow) {
		b->failed = true;
		return;
	}
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 16384;
		unsigned char *p;

		while (len > cap - b->len)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, m->u.buf, m->u.hdr.nlmsg_len);
	memset(b->buf + b->len + m->u.hdr.nlmsg_len, 0, len - m->u.hdr.nlmsg_len);
	memcpy(&h, b->buf + b->len, sizeof h);
	h.nlmsg_flags |= NLM_F_ACK;
	memcpy(b->buf + b->len, &h, sizeof h);
	b->len += len;
	b->n++;
}

/* The offset of request i in b, walking the lengths nl_batch_add wrote. */
static size_t batch_off(const struct nl_batch *b, unsigned i)
{
	size_t off = 0;
	struct nlmsghdr h;

	for (; i > 0; i--) {
		memcpy(&h, b->buf + off, sizeof h);
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return off;
}

const struct nlmsghdr *nl_batch_msg(const struct nl_batch *b, unsigned i)
{
	if (b->failed || i >= b->n)
		return NULL;
	return (const void *)(b->buf + batch_off(b, i));
}

/* What the replies to a batch said so far. */
struct batch_acks {
	uint32_t seq;		/* the first request's sequence number */
	unsigned n;		/* requests */
	unsigned acked;		/* replies, ACKs or errors, to all but the
				   first and last (see nl_batch_talk) */
	unsigned failed;	/* the first request that failed, or n */
	int err;		/* its error */
};

/*
 * Walks the messages in buf/len (one recv()) for replies to the batch in
 * *a: an NLMSG_ERROR of one of its sequence numbers is an ACK (error 0) or
 * an error, the one of the lowest request kept. Pure: every length is
 * checked before it is read; buf must be 4-byte aligned. Returns 0, or
 * -EBADMSG for a malformed buffer.
 */
static int batch_walk(const unsigned char *buf, size_t len, struct batch_acks *a)
{
	size_t off = 0;

	while (len - off >= NLMSG_HDRLEN) {
		const struct nlmsghdr *h = (const void *)(buf + off);
		size_t step;
		uint32_t i;
		int err;

		if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len - off)
			return -EBADMSG;
		step = NLMSG_ALIGN(h->nlmsg_len);
		off = step < len - off ? off + step : len;
		i = h->nlmsg_seq - a->seq;
		if (h->nlmsg_type != NLMSG_ERROR || i >= a->n)
			continue;
		err = error_of(h);
		if (err == -EBADMSG)
			return err;
		a->acked += i > 0 && i + 1 < a->n;
		if (err && i < a->failed) {
			a->failed = i;
			a->err = err;
		}
	}
	return off == len ? 0 : -EBADMSG;
}

/* Numbers b's requests from seq_next on; returns the first. */
static uint32_t batch_number(struct nl_batch *b)
{
	uint32_t seq = seq_next;
	size_t off = 0;
	struct nlmsghdr h;

	for (unsigned i = 0; i < b->n; i++) {
		memcpy(&h, b->buf + off, sizeof h);
		h.nlmsg_seq = seq_next++;
		memcpy(b->buf + off, &h, sizeof h);
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return seq;
}

/* Raises fd's buffer opt (SO_SNDBUF, SO_RCVBUF) to size; root can force
 * it past the system's maximum (force: SO_SNDBUFFORCE, SO_RCVBUFFORCE). */
static void buffer_at_least(int fd, int opt, int force, size_t size)
{
	int v = size > 0x10000000 ? 0x10000000 : (int)size;

	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof v) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

/*
 * Sends the whole batch at once. The socket's buffers are raised to hold
 * it, and every ACK (about 1 KiB of buffer each) until it is read; errors
 * quote no request (NETLINK_CAP_ACK).
 */
static int batch_send(int fd, const struct nl_batch *b)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;
	ssize_t n;

	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	buffer_at_least(fd, SO_SNDBUF, SO_SNDBUFFORCE, b->len + 65536);
	buffer_at_least(fd, SO_RCVBUF, SO_RCVBUFFORCE, (size_t)b->n * 1024 + 65536);
	do
		n = sendto(fd, b->buf, b->len, 0, (struct sockaddr *)&sa, sizeof sa);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == b->len ? 0 : -EIO;
}

/* Reads every reply queued on fd into *a, never blocking. */
static int batch_receive(int fd, struct batch_acks *a)
{
	unsigned char *buf = malloc(NL_RECV_MAX);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (!err) {
		ssize_t n = recv(fd, buf, NL_RECV_MAX, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			err = -errno;
		else if ((size_t)n > NL_RECV_MAX)
			err = -EMSGSIZE;
		else
			err = batch_walk(buf, (size_t)n, a);
	}
	free(buf);
	return err;
}

int nl_batch_talk(int fd, struct nl_batch *b, unsigned *failed)
{
	struct batch_acks a = { .n = b->n, .failed = b->n };
	int err;

	*failed = b->n;
	if (b->failed)
		return -ENOMEM;
	a.seq = batch_number(b);
	err = batch_send(fd, b);
	if (!err)
		err = batch_receive(fd, &a);
	if (err)
		return err;
	*failed = a.failed;
	if (a.err)
		return a.err;
	return b->n < 2 || a.acked == b->n - 2 ? 0 : -EIO;
}

/* ---- Parsing ---- */

int nl_parse(const void *buf, size_t len, const struct nlattr **tb, unsigned max)
{
	const unsigned char *p = buf;

	memset(tb, 0, (max + 1) * sizeof *tb);
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p;
		size_t alen = a->nla_len, step;
		unsigned type = a->nla_type & NLA_TYPE_MASK;

		if (alen < NLA_HDRLEN || alen > len)
			return -EINVAL;
		if (type <= max)
			tb[type] = a;
		step = NLA_ALIGN(alen);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return 0;
}

int nl_parse_msg(const struct nlmsghdr *h, size_t skip,
		 const struct nlattr **tb, unsigned max)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(skip);

	if (h->nlmsg_len < off) {
		memset(tb, 0, (max + 1) * sizeof *tb);
		return -EINVAL;
	}
	return nl_parse((const unsigned char *)h + off, h->nlmsg_len - off, tb, max);
}

const void *nl_attr_data(const struct nlattr *a)
{
	return (const unsigned char *)a + NLA_HDRLEN;
}

size_t nl_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

bool nl_attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || nl_attr_len(a) < sizeof *v)
		return false;
	memcpy(v, nl_attr_data(a), sizeof *v);
	return true;
}

bool nl_attr_be32(const struct nlattr *a, uint32_t *v)
{
	const unsigned char *p;

	if (!a || nl_attr_len(a) < 4)
		return false;
	p = nl_attr_data(a);
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return true;
}

bool nl_attr_be64(const struct nlattr *a, uint64_t *v)
{
	const unsigned char *p;
	uint64_t x = 0;

	if (!a || nl_attr_len(a) < 8)
		return false;
	p = nl_attr_data(a);
	for (int i = 0; i < 8; i++)
		x = x << 8 | p[i];
	*v = x;
	return true;
}

bool nl_attr_str_is(const struct nlattr *a, const char *s)
{
	size_t len = strlen(s), alen;
	const char *p;

	if (!a)
		return false;
	p = nl_attr_data(a);
	alen = nl_attr_len(a);
	/* The kernel's strings end with a NUL; a bare one is accepted too. */
	if (alen > len && p[len] == '\0')
		alen = len;
	return alen == len && memcmp(p, s, len) == 0;
}
