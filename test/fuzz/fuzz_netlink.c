/* SPDX-License-Identifier: MIT */
/*
 * fuzz_netlink.c: a libFuzzer target for what the kernel answers over
 * netlink. It #includes netlink.c and tun.c so that their static parsers are
 * at hand. Each input is what one recv() could return: a copy of it, in an
 * aligned buffer of exactly its size so that ASan sees any overrun, goes
 * through the message walker as a dump and as a query (the sequence number
 * is the first message's, so that the parsers are reached), with each reply
 * parser of tun.c: the default route, a route lookup, conntrack entries by
 * mark, the nf_tables table comment and counters. The raw bytes also go to
 * the attribute parser and the table comment's TLV parser. It asserts what
 * must hold for any bytes: results in range, strings terminated, counters
 * only for the names the table has. Building and running it is
 * test/fuzz/run.sh's job.
 */
#include <assert.h>

#include "../../log.c"
#include "../../netlink.c"
#include "../../nft.c"
#include "../../seccomp.c"
#include "../../tun.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_walk(int rc)
{
	assert(rc == 0 || rc == NL_WALK_MORE || (rc < 0 && rc >= -4095));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlattr *tb[64];
	struct default_route d;
	struct route_answer r;
	struct ct_count c;
	struct table_answer t;
	struct fw_answer a;
	char comment[TABLE_COMMENT_MAX];
	uint32_t seq = 0;
	unsigned char *buf = malloc(size ? size : 1);

	assert(buf);
	memcpy(buf, data, size);
	if (size >= sizeof(struct nlmsghdr))
		memcpy(&seq, buf + offsetof(struct nlmsghdr, nlmsg_seq), sizeof seq);
	for (int dump = 0; dump < 2; dump++) {
		d = (struct default_route){ 0 };
		check_walk(walk(buf, size, seq, dump, default_route_cb, &d));
		assert(!d.found || d.oif != 0);
		r = (struct route_answer){ 0 };
		check_walk(walk(buf, size, seq, dump, route_get_cb, &r));
		c = (struct ct_count){ .mark = TUN_CT_MARK, .mask = TUN_CT_MARK_MASK };
		check_walk(walk(buf, size, seq, dump, ct_count_cb, &c));
		assert(c.n >= 0 && c.other >= 0 &&
		       (size_t)(c.n + c.other) <= size / NLMSG_HDRLEN);
		t = (struct table_answer){ .found = false };
		check_walk(walk(buf, size, seq, dump, table_cb, &t));
		assert(strlen(t.comment) < TABLE_COMMENT_MAX);
		a = (struct fw_answer){ .seen = 0 };
		check_walk(walk(buf, size, seq, dump, counter_cb, &a));
		assert(a.seen < 1u << TUN_FW_N);
		for (unsigned i = 0; i < TUN_FW_N; i++)
			assert((a.seen >> i & 1) || a.packets[i] == 0);
	}
	/* The raw bytes as a message's attributes, and as a table's user data. */
	if (nl_parse(buf, size, tb, 63) == 0) {
		for (unsigned i = 0; i < 64; i++) {
			if (!tb[i])
				continue;
			assert((const unsigned char *)tb[i] >= buf &&
			       (const unsigned char *)tb[i] + tb[i]->nla_len <= buf + size);
			assert(tb[i]->nla_len >= NLA_HDRLEN);
		}
	}
	if (udata_comment(buf, size, comment))
		assert(strlen(comment) < TABLE_COMMENT_MAX);
	free(buf);
	return 0;
}
