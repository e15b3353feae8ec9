/* SPDX-License-Identifier: MIT */
/*
 * netlink.h: netlink done by hand, for tun.c only. A request is built in a
 * fixed buffer (header, family header, attributes, nests), sent, and its
 * ACK, reply or dump read back; the messages of a reply are walked and
 * their attributes parsed with every length checked. It knows no rtnetlink or ctnetlink semantics: tun.c says
 * what to ask. Functions return 0 or -errno and print nothing.
 */
#ifndef VPNGW_NETLINK_H
#define VPNGW_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>

#define NL_MSG_MAX 1024	/* our requests are small */

/* A request under construction. overflow sticks once an append did not fit. */
struct nl_msg {
	union {
		struct nlmsghdr hdr;
		unsigned char buf[NL_MSG_MAX];
	} u;
	bool overflow;
};

/* Starts a request of type with flags (NLM_F_REQUEST is added). */
void nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags);

/* Appends len bytes (the family header) aligned; returns them, or NULL. */
void *nl_msg_put(struct nl_msg *m, const void *data, size_t len);

/* Appends one attribute of len bytes of payload. */
void nl_attr_put(struct nl_msg *m, uint16_t type, const void *data, size_t len);
void nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v);
/* A u32 in network order (nfnetlink's NLA_BE32), a NUL-terminated string. */
void nl_attr_put_be32(struct nl_msg *m, uint16_t type, uint32_t v);
void nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s);

/* Opens a nest; nl_attr_nest_end closes it with the returned offset. */
size_t nl_attr_nest_start(struct nl_msg *m, uint16_t type);
void nl_attr_nest_end(struct nl_msg *m, size_t start);

/* A netlink socket of protocol (NETLINK_ROUTE...), close-on-exec; or -errno. */
int nl_open(int protocol);

/*
 * Sends m asking for an ACK and waits for it: 0, or the -errno the kernel
 * answered. nl_query also hands every reply message before the ACK to cb
 * (non-dump requests such as RTM_GETROUTE with RTA_DST).
 */
typedef void (*nl_cb)(const struct nlmsghdr *h, void *arg);
int nl_talk(int fd, struct nl_msg *m);
int nl_query(int fd, struct nl_msg *m, nl_cb cb, void *arg);

/* Sends m as a dump request and calls cb for each message until DONE. */
int nl_dump(int fd, struct nl_msg *m, nl_cb cb, void *arg);

/*
 * A batch: finished requests laid end to end in one growing buffer, sent
 * with one sendto() so that the kernel takes them as one unit (nfnetlink's
 * transactions). failed sticks once a request overflowed or memory ran out.
 */
struct nl_batch {
	unsigned char *buf;
	size_t len, cap;
	unsigned n;                 /* requests */
	bool failed;
};

void nl_batch_init(struct nl_batch *b);
void nl_batch_free(struct nl_batch *b);
/* Appends a copy of m, asking for its ACK; its sequence number is set when
 * the batch is sent. */
void nl_batch_add(struct nl_batch *b, const struct nl_msg *m);
/* Request i of b (i < b->n), for the caller to describe; NULL if none. */
const struct nlmsghdr *nl_batch_msg(const struct nl_batch *b, unsigned i);

/*
 * Sends b in one sendto() and reads the ACK of every request: the kernel
 * answers a batch before sendto() returns, so what is queued then is all
 * there is. The first and last requests frame the batch (nfnetlink's
 * BATCH_BEGIN and BATCH_END): older kernels do not acknowledge those,
 * so only their errors count. Returns 0 when every other request was
 * acknowledged, else the first error (in the order of the requests) with
 * its index in *failed, or -EIO (*failed = b->n) when ACKs are missing, or
 * -errno of the socket.
 */
int nl_batch_talk(int fd, struct nl_batch *b, unsigned *failed)
	__attribute__((warn_unused_result));

/*
 * Attribute parsing. nl_parse reads the attributes in buf/len (a message's
 * or a nest's payload) and fills tb[0..max] with the last one of each type
 * (NULL if absent, flags masked off), ignoring types above max; it returns
 * -EINVAL if an attribute's length does not fit in what is left.
 * nl_parse_msg does so for what follows h's family header of skip bytes.
 */
int nl_parse(const void *buf, size_t len, const struct nlattr **tb, unsigned max);
int nl_parse_msg(const struct nlmsghdr *h, size_t skip,
		 const struct nlattr **tb, unsigned max);
const void *nl_attr_data(const struct nlattr *a);
size_t nl_attr_len(const struct nlattr *a);
/* Reads a's u32 payload into *v; false if a is NULL or too short. */
bool nl_attr_u32(const struct nlattr *a, uint32_t *v);
/* The same for nfnetlink's big-endian NLA_BE32 and NLA_BE64. */
bool nl_attr_be32(const struct nlattr *a, uint32_t *v);
bool nl_attr_be64(const struct nlattr *a, uint64_t *v);
/* true if a is the string s (with or without its terminating NUL). */
bool nl_attr_str_is(const struct nlattr *a, const char *s);

#endif
