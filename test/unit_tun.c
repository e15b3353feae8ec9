/* SPDX-License-Identifier: MIT */
/*
 * unit_tun.c: table-driven cases for the pure parts of tun.c and netlink.c,
 * which it #includes (as the fuzz targets do) so that their static parsers
 * are at hand: the state file parser, --open-port, the netlink message
 * walker and attribute parser, and every reply parser (the default route,
 * a route lookup, conntrack entries by mark, the nf_tables table comment and
 * counters, the link dump and teardown's link group filter, a batch's
 * ACKs), fed replies built here byte by byte, whole, truncated and lying
 * about their lengths; the firewall's script and fingerprint, and its
 * nf_tables batch, request by request.
 * Nothing here opens a socket. The harness (CHECK, the runner) is unit.c's.
 */
#include "../netlink.c"
#include "../nft.c"
#include "../tun.c"
#include "unit.h"

/* ---- Building replies ---- */

/* Several messages in one buffer, as one recv() returns them. */
struct reply {
	uint32_t buf[4096];	/* aligned as the kernel's */
	size_t len;
};

static void add(struct reply *r, const struct nl_msg *m, uint32_t seq)
{
	unsigned char *p = (unsigned char *)r->buf + r->len;
	size_t len = m->u.hdr.nlmsg_len;

	memcpy(p, m->u.buf, len);
	memcpy(p + offsetof(struct nlmsghdr, nlmsg_seq), &seq, sizeof seq);
	r->len += NLMSG_ALIGN(len);
}

static void add_ctl(struct reply *r, uint16_t type, int error, uint32_t seq)
{
	struct nl_msg m;
	struct nlmsgerr e = { .error = error };

	nl_msg_init(&m, type, 0);
	if (type == NLMSG_ERROR)
		nl_msg_put(&m, &e, sizeof e);
	else
		nl_msg_put(&m, &e.error, sizeof e.error);
	add(r, &m, seq);
}

static void nfg(struct nl_msg *m, unsigned subsys, unsigned type)
{
	struct nfgenmsg g = { .nfgen_family = AF_INET };

	nl_msg_init(m, (uint16_t)(subsys << 8 | type), 0);
	nl_msg_put(m, &g, sizeof g);
}

static void put_be64(struct nl_msg *m, uint16_t type, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (56 - 8 * i));
	nl_attr_put(m, type, b, sizeof b);
}

/* An NFT_MSG_NEWOBJ reply: counter name of table with packets. */
static void counter_msg(struct nl_msg *m, const char *table, const char *name,
			uint32_t type, uint64_t packets)
{
	size_t nest;

	nfg(m, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWOBJ);
	nl_attr_put_str(m, NFTA_OBJ_TABLE, table);
	nl_attr_put_str(m, NFTA_OBJ_NAME, name);
	nl_attr_put_be32(m, NFTA_OBJ_TYPE, type);
	nest = nl_attr_nest_start(m, NFTA_OBJ_DATA);
	put_be64(m, NFTA_COUNTER_BYTES, packets * 100);
	put_be64(m, NFTA_COUNTER_PACKETS, packets);
	nl_attr_nest_end(m, nest);
}

static int walk_reply(const struct reply *r, uint32_t seq, bool dump, nl_cb cb, void *arg)
{
	return walk((const unsigned char *)r->buf, r->len, seq, dump, cb, arg);
}

/* ---- netlink.c ---- */

static int counted;

static void count_cb(const struct nlmsghdr *h, void *arg)
{
	(void)h;
	(void)arg;
	counted++;
}

static void walker(void)
{
	struct reply r = { .len = 0 };
	struct nl_msg m;

	/* Replies, one of another sequence (skipped), then the end. */
	nfg(&m, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWOBJ);
	add(&r, &m, 7);
	add(&r, &m, 8);
	add(&r, &m, 7);
	counted = 0;
	CHECK(walk_reply(&r, 7, true, count_cb, NULL) == NL_WALK_MORE);
	CHECK(counted == 2);
	add_ctl(&r, NLMSG_DONE, 0, 7);
	counted = 0;
	CHECK(walk_reply(&r, 7, true, count_cb, NULL) == 0);
	CHECK(counted == 2);
	/* DONE ends only a dump; an ACK ends anything; errors are -errno. */
	r.len = 0;
	add_ctl(&r, NLMSG_DONE, 0, 7);
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == NL_WALK_MORE);
	add_ctl(&r, NLMSG_ERROR, 0, 7);
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == 0);
	r.len = 0;
	add_ctl(&r, NLMSG_ERROR, -EPERM, 7);
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == -EPERM);
	/* A code that is no errno. */
	r.len = 0;
	add_ctl(&r, NLMSG_ERROR, -100000, 7);
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == -EBADMSG);
	r.len = 0;
	add_ctl(&r, NLMSG_ERROR, INT32_MIN, 7);
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == -EBADMSG);
	r.len = 0;
	add_ctl(&r, NLMSG_ERROR, -EPERM, 9);
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == NL_WALK_MORE);
	/* An error message too short for its code. */
	r.len = 0;
	nl_msg_init(&m, NLMSG_ERROR, 0);
	add(&r, &m, 7);
	CHECK(walk_reply(&r, 7, false, NULL, NULL) == -EBADMSG);
	CHECK(walk((const unsigned char *)r.buf, 0, 7, false, NULL, NULL) == NL_WALK_MORE);
}

static void walker_lies(void)
{
	struct reply r = { .len = 0 };
	struct nl_msg m;
	struct nlmsghdr h;

	nfg(&m, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWOBJ);
	add(&r, &m, 7);
	/* Claims more than arrived, then less than a header. */
	memcpy(&h, r.buf, sizeof h);
	h.nlmsg_len = (uint32_t)r.len + 4;
	memcpy(r.buf, &h, sizeof h);
	CHECK(walk_reply(&r, 7, true, count_cb, NULL) == -EBADMSG);
	h.nlmsg_len = NLMSG_HDRLEN - 1;
	memcpy(r.buf, &h, sizeof h);
	CHECK(walk_reply(&r, 7, true, count_cb, NULL) == -EBADMSG);
	/* Trailing bytes too few for a header. */
	h.nlmsg_len = (uint32_t)r.len;
	memcpy(r.buf, &h, sizeof h);
	r.len += 8;
	CHECK(walk_reply(&r, 7, true, count_cb, NULL) == -EBADMSG);
	/* A last message without its padding is whole. */
	r.len = 0;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, "abc", 3);
	m.u.hdr.nlmsg_len = NLMSG_HDRLEN + 3;
	add(&r, &m, 7);
	r.len = NLMSG_HDRLEN + 3;
	counted = 0;
	CHECK(walk_reply(&r, 7, false, count_cb, NULL) == NL_WALK_MORE && counted == 1);
}

static void attrs(void)
{
	uint32_t b[16] = { 0 };
	unsigned char *p = (unsigned char *)b;
	const struct nlattr *tb[5];
	struct nlattr a;
	uint32_t v;
	uint64_t w;

	/* type 1 (4 bytes), type 7 (above max: ignored), type 2 nested. */
	a = (struct nlattr){ .nla_len = 8, .nla_type = 1 };
	memcpy(p, &a, 4);
	memcpy(p + 4, "\x01\x02\x03\x04", 4);
	a = (struct nlattr){ .nla_len = 5, .nla_type = 7 };
	memcpy(p + 8, &a, 4);
	a = (struct nlattr){ .nla_len = 12, .nla_type = 2 | NLA_F_NESTED };
	memcpy(p + 16, &a, 4);
	memcpy(p + 20, "\0\0\0\0\0\0\0\x2a", 8);
	CHECK(nl_parse(p, 28, tb, 4) == 0);
	CHECK(tb[1] && tb[2] && !tb[3] && !tb[0]);
	CHECK(nl_attr_be32(tb[1], &v) && v == 0x01020304);
	CHECK(nl_attr_be64(tb[2], &w) && w == 42);
	CHECK(!nl_attr_be64(tb[1], &w));
	CHECK(!nl_attr_be32(NULL, &v));
	/* An attribute longer than what is left, or shorter than its header. */
	CHECK(nl_parse(p, 27, tb, 4) == -EINVAL);
	a = (struct nlattr){ .nla_len = 3, .nla_type = 1 };
	memcpy(p, &a, 4);
	CHECK(nl_parse(p, 28, tb, 4) == -EINVAL);
	/* Strings, with and without their NUL. */
	a = (struct nlattr){ .nla_len = 10, .nla_type = 1 };
	memcpy(p, &a, 4);
	memcpy(p + 4, "vpngw\0", 6);
	CHECK(nl_attr_str_is((const void *)p, "vpngw"));
	a.nla_len = 9;
	memcpy(p, &a, 4);
	CHECK(nl_attr_str_is((const void *)p, "vpngw"));
	CHECK(!nl_attr_str_is((const void *)p, "vpng"));
	CHECK(!nl_attr_str_is((const void *)p, "vpngw0"));
}

/* ---- tun.c: the state file and --open-port ---- */

static void state_file(void)
{
	struct state st;
	static const char good[] =
		"# vpngw setup: what teardown restores\n"
		"sysctl net/ipv4/ip_forward 0\n"
		"sysctl net/netfilter/nf_conntrack_udp_timeout\t 120\n"
		"\n"
		"dev vpngw0\n"
		"dev vpngw1\n"
		"dev vpngw0\n"
		"egress eth0";		/* no newline at the end */

	CHECK(state_init(&st) == 0);
	CHECK(state_parse(&st, good, sizeof good - 1) == 0);
	CHECK(st.n_sys == 2 && strcmp(st.sys[1].value, "120") == 0);
	CHECK(strcmp(state_sysctl(&st, "net/ipv4/ip_forward"), "0") == 0);
	CHECK(st.n_devs == 2 && strcmp(st.devs[1], "vpngw1") == 0);
	CHECK(strcmp(st.egress, "eth0") == 0);
	state_free(&st);
}

static void state_file_hostile(void)
{
	static const struct {
		const char *line;
	} bad[] = {
		{ "sysctl kernel/core_pattern |/bin/sh" },       /* not ours */
		{ "sysctl net/ipv4/../../kernel/x 1" },
		{ "sysctl net/ipv4/conf/all/rp_filter 0" },      /* not setup's */
		{ "sysctl net/ipv4/ip_forward 1; reboot" },
		{ "sysctl net/ipv4/ip_forward -1" },
		{ "sysctl net/ipv4/ip_forward" },
		{ "sysctl net/ipv4/ip_forward 1 2" },
		{ "sysctl net/ipv4/ip_forward 123456789012345678901234567890123" },
		{ "dev" },
		{ "dev a/b" },
		{ "dev vpngw*" },
		{ "dev \"x" },
		{ "dev averyveryverylongname" },
		{ "dev two words" },
		{ "egress eth0 eth1" },
		{ "egress a\\b" },
		{ "sysctlnet/ipv4/ip_forward 1" },
		{ "devvpngw0" },
		{ "frobnicate" },
	};
	struct state st;
	char buf[200];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(state_init(&st) == 0);
		int n = snprintf(buf, sizeof buf, "%s\n", bad[i].line);
		CHECK(state_parse(&st, buf, (size_t)n) == 1);
		CHECK(st.n_sys == 0 && st.n_devs == 0 && !st.egress[0]);
		if (st.n_sys || st.n_devs || st.egress[0])
			fprintf(stderr, "  accepted: %s\n", bad[i].line);
		state_free(&st);
	}
	/* A NUL inside a name, and a length that stops inside a word. */
	CHECK(state_init(&st) == 0);
	CHECK(state_parse(&st, "dev vp\0gw\n", 10) == 1 && st.n_devs == 0);
	CHECK(state_parse(&st, "dev vpngw7", 7) == 0 && st.n_devs == 1 &&
	      strcmp(st.devs[0], "vpn") == 0);
	state_free(&st);
	/* More devices than a pool holds are not recorded past the cap. */
	CHECK(state_init(&st) == 0);
	for (unsigned i = 0; i < TUN_POOL_MAX + 10; i++) {
		int n = snprintf(buf, sizeof buf, "dev v%u\n", i);
		(void)state_parse(&st, buf, (size_t)n);
	}
	CHECK(st.n_devs == TUN_POOL_MAX);
	state_free(&st);
}

static void open_port(void)
{
	static const struct {
		const char *s;
		int ok;
		uint16_t port;
		uint8_t proto;
	} cases[] = {
		{ "22", 1, 22, IPPROTO_TCP },
		{ "22/tcp", 1, 22, IPPROTO_TCP },
		{ "53/udp", 1, 53, IPPROTO_UDP },
		{ "65535", 1, 65535, IPPROTO_TCP },
		{ "1", 1, 1, IPPROTO_TCP },
		{ "0", 0, 0, 0 },
		{ "65536", 0, 0, 0 },
		{ "000022", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "-1", 0, 0, 0 },
		{ " 22", 0, 0, 0 },
		{ "22 ", 0, 0, 0 },
		{ "22/", 0, 0, 0 },
		{ "22/sctp", 0, 0, 0 },
		{ "22/TCP", 0, 0, 0 },
		{ "/udp", 0, 0, 0 },
		{ "0x16", 0, 0, 0 },
	};
	struct tun_pool p;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tun_pool_default(&p);
		int r = tun_pool_open_port(&p, cases[i].s);
		CHECK((r == 0) == cases[i].ok);
		if (r == 0)
			CHECK(p.n_open == 1 && p.open[0].port == cases[i].port &&
			      p.open[0].proto == cases[i].proto);
		else
			CHECK(p.n_open == 0);
		if ((r == 0) != cases[i].ok)
			fprintf(stderr, "  --open-port \"%s\"\n", cases[i].s);
	}
	tun_pool_default(&p);
	CHECK(tun_pool_open_port(&p, "22") == 0 && tun_pool_open_port(&p, "22/tcp") == 0 &&
	      tun_pool_open_port(&p, "22/udp") == 0 && p.n_open == 2);
	for (unsigned i = 0; p.n_open < TUN_OPEN_MAX; i++) {
		char s[16];

		snprintf(s, sizeof s, "%u/udp", 1000 + i);
		CHECK(tun_pool_open_port(&p, s) == 0);
	}
	CHECK(tun_pool_open_port(&p, "4444") == -1 && p.n_open == TUN_OPEN_MAX);
}

/* ---- tun.c: the reply parsers ---- */

static void default_route(void)
{
	struct reply r = { .len = 0 };
	struct default_route d = { .family = AF_INET };
	struct nl_msg m;
	struct rtmsg rtm = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
			     .rtm_type = RTN_UNICAST };
	struct rtnexthop nh = { .rtnh_len = sizeof nh, .rtnh_ifindex = 9 };

	/* metric 100 via 3, metric 50 via 4, a /24 via 5, another table. */
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 3);
	nl_attr_put_u32(&m, RTA_PRIORITY, 100);
	add(&r, &m, 1);
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 4);
	nl_attr_put_u32(&m, RTA_PRIORITY, 50);
	add(&r, &m, 1);
	rtm.rtm_dst_len = 24;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 5);
	add(&r, &m, 1);
	rtm.rtm_dst_len = 0;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_TABLE, 200);
	nl_attr_put_u32(&m, RTA_OIF, 6);
	add(&r, &m, 1);
	add_ctl(&r, NLMSG_DONE, 0, 1);
	CHECK(walk_reply(&r, 1, true, default_route_cb, &d) == 0);
	CHECK(d.found && d.oif == 4 && d.metric == 50);
	/* Routes of one interface alone (the egress's IPv6 default route):
	 * 3's; none of the other family. */
	d = (struct default_route){ .family = AF_INET, .only_oif = 3 };
	CHECK(walk_reply(&r, 1, true, default_route_cb, &d) == 0);
	CHECK(d.found && d.oif == 3 && d.metric == 100);
	d = (struct default_route){ .family = AF_INET6 };
	CHECK(walk_reply(&r, 1, true, default_route_cb, &d) == 0);
	CHECK(!d.found);
	/* Multipath: the first hop's interface. A message cut short: none. */
	r.len = 0;
	d = (struct default_route){ .family = AF_INET };
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put(&m, RTA_MULTIPATH, &nh, sizeof nh);
	add(&r, &m, 1);
	CHECK(walk_reply(&r, 1, true, default_route_cb, &d) == NL_WALK_MORE);
	CHECK(d.found && d.oif == 9);
	r.len = 0;
	d = (struct default_route){ .family = AF_INET };
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm - 2);
	add(&r, &m, 1);
	CHECK(walk_reply(&r, 1, true, default_route_cb, &d) == NL_WALK_MORE && !d.found);
	nh.rtnh_len = 2;
	r.len = 0;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put(&m, RTA_MULTIPATH, &nh, sizeof nh);
	add(&r, &m, 1);
	CHECK(walk_reply(&r, 1, true, default_route_cb, &d) == NL_WALK_MORE && !d.found);
}

static void route_get(void)
{
	struct reply r = { .len = 0 };
	struct route_answer a = { .alen = 4 };
	struct nl_msg m;
	struct rtmsg rtm = { .rtm_family = AF_INET };
	uint32_t gw = htonl(0xc6336401);
	static const uint8_t gw6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 2);
	nl_attr_put(&m, RTA_GATEWAY, &gw, 3);	/* too short: on-link */
	add(&r, &m, 3);
	add_ctl(&r, NLMSG_ERROR, 0, 3);
	CHECK(walk_reply(&r, 3, false, route_get_cb, &a) == 0);
	CHECK(a.found && a.oif == 2 && !a.has_gw);
	r.len = 0;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 2);
	nl_attr_put(&m, RTA_GATEWAY, &gw, sizeof gw);
	add(&r, &m, 3);
	CHECK(walk_reply(&r, 3, false, route_get_cb, &a) == NL_WALK_MORE);
	CHECK(a.has_gw && !memcmp(a.gw, &gw, 4));
	/* IPv6: a gateway of 16 bytes; 4 are not one. */
	r.len = 0;
	a = (struct route_answer){ .alen = 16 };
	rtm.rtm_family = AF_INET6;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 3);
	nl_attr_put(&m, RTA_GATEWAY, gw6, sizeof gw6);
	add(&r, &m, 3);
	CHECK(walk_reply(&r, 3, false, route_get_cb, &a) == NL_WALK_MORE);
	CHECK(a.found && a.oif == 3 && a.has_gw && !memcmp(a.gw, gw6, 16));
	r.len = 0;
	nl_msg_init(&m, RTM_NEWROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put_u32(&m, RTA_OIF, 3);
	nl_attr_put(&m, RTA_GATEWAY, &gw, sizeof gw);
	add(&r, &m, 3);
	CHECK(walk_reply(&r, 3, false, route_get_cb, &a) == NL_WALK_MORE);
	CHECK(a.found && !a.has_gw);
}

static void ct_marked(void)
{
	struct reply r = { .len = 0 };
	struct ct_count c = { .mark = TUN_CT_MARK | 2, .mask = 0xffffffff };
	struct nl_msg m;
	static const uint32_t marks[] = { TUN_CT_MARK | 2, TUN_CT_MARK | 1, 0, TUN_CT_MARK | 2 };

	for (size_t i = 0; i < 4; i++) {
		nfg(&m, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
		nl_attr_put_be32(&m, CTA_MARK, marks[i]);
		add(&r, &m, 5);
	}
	/* No mark; an expectation; a mark too short. */
	nfg(&m, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
	add(&r, &m, 5);
	nfg(&m, NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_CT_NEW);
	nl_attr_put_be32(&m, CTA_MARK, TUN_CT_MARK | 2);
	add(&r, &m, 5);
	nfg(&m, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
	nl_attr_put(&m, CTA_MARK, "\x56\x50", 2);
	add(&r, &m, 5);
	add_ctl(&r, NLMSG_DONE, 0, 5);
	/* Of another mark: slot 0, mark 0, none, one too short. */
	CHECK(walk_reply(&r, 5, true, ct_count_cb, &c) == 0 && c.n == 2 && c.other == 4);
	c = (struct ct_count){ .mark = TUN_CT_MARK, .mask = TUN_CT_MARK_MASK };
	CHECK(walk_reply(&r, 5, true, ct_count_cb, &c) == 0 && c.n == 3 && c.other == 3);
}

static void nft_counters(void)
{
	struct reply r = { .len = 0 };
	struct fw_answer a = { .seen = 0 };
	struct nl_msg m;

	counter_msg(&m, "vpngw", "unsolicited", NFT_OBJECT_COUNTER, 7);
	add(&r, &m, 2);
	counter_msg(&m, "vpngw", "leak", NFT_OBJECT_COUNTER, 1);
	add(&r, &m, 2);
	counter_msg(&m, "other", "invalid", NFT_OBJECT_COUNTER, 5);	/* another table */
	add(&r, &m, 2);
	counter_msg(&m, "vpngw", "to_host", 2, 5);			/* a quota */
	add(&r, &m, 2);
	counter_msg(&m, "vpngw", "unsolicitedx", NFT_OBJECT_COUNTER, 5);
	add(&r, &m, 2);
	counter_msg(&m, "vpngw", "invalid", NFT_OBJECT_COUNTER, 3);
	m.u.hdr.nlmsg_len -= 8;	/* cuts the nest: its length lies */
	add(&r, &m, 2);
	add_ctl(&r, NLMSG_DONE, 0, 2);
	CHECK(walk_reply(&r, 2, true, counter_cb, &a) == 0);
	CHECK(a.seen == (1u << TUN_FW_UNSOLICITED | 1u << TUN_FW_LEAK));
	CHECK(a.packets[TUN_FW_UNSOLICITED] == 7 && a.packets[TUN_FW_LEAK] == 1);
	CHECK(a.packets[TUN_FW_INVALID] == 0 && a.packets[TUN_FW_TO_HOST] == 0);
	CHECK(strcmp(tun_fw_name(TUN_FW_TO_HOST), "to_host") == 0);
	CHECK(strcmp(tun_fw_name(TUN_FW_N), "?") == 0);
}

static void nft_table_comment(void)
{
	static const unsigned char ud[] = {
		7, 2, 'x', 'y',				/* another TLV first */
		NFTNL_UDATA_TABLE_COMMENT, 9, 'v', 'p', 'n', 'g', 'w', ' ', '4', '2', 0,
	};
	struct reply r = { .len = 0 };
	struct table_answer t = { .found = false };
	struct nl_msg m;
	char out[TABLE_COMMENT_MAX];
	unsigned char big[2 + 255];

	CHECK(udata_comment(ud, sizeof ud, out) && strcmp(out, "vpngw 42") == 0);
	CHECK(!udata_comment(ud, sizeof ud - 1, out));	/* TLV cut short */
	CHECK(!udata_comment(ud, 4, out));
	CHECK(!udata_comment(ud, 1, out));
	memset(big, 'a', sizeof big);
	big[0] = NFTNL_UDATA_TABLE_COMMENT;
	big[1] = 255;
	CHECK(!udata_comment(big, sizeof big, out));	/* longer than ours */
	nfg(&m, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWTABLE);
	nl_attr_put_str(&m, NFTA_TABLE_NAME, "vpngw");
	nl_attr_put(&m, NFTA_TABLE_USERDATA, ud, sizeof ud);
	add(&r, &m, 4);
	add_ctl(&r, NLMSG_ERROR, 0, 4);
	CHECK(walk_reply(&r, 4, false, table_cb, &t) == 0);
	CHECK(t.found && strcmp(t.comment, "vpngw 42") == 0);
	/* Another table's, and ours with no comment. */
	r.len = 0;
	t = (struct table_answer){ .found = false };
	nfg(&m, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWTABLE);
	nl_attr_put_str(&m, NFTA_TABLE_NAME, "filter");
	nl_attr_put(&m, NFTA_TABLE_USERDATA, ud, sizeof ud);
	add(&r, &m, 4);
	CHECK(walk_reply(&r, 4, false, table_cb, &t) == NL_WALK_MORE && !t.found);
	nfg(&m, NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWTABLE);
	nl_attr_put_str(&m, NFTA_TABLE_NAME, "vpngw");
	add(&r, &m, 4);
	CHECK(walk_reply(&r, 4, false, table_cb, &t) == NL_WALK_MORE);
	CHECK(t.found && t.comment[0] == '\0');
}

/* ---- tun.c: the firewall's script ---- */

static bool script_of6(const struct tun_pool *p, const char *egress, bool v6, struct sbuf *b,
		       char comment[static TABLE_COMMENT_MAX])
{
	struct fw_table fw;

	*b = (struct sbuf){ .failed = false };
	return table_script(b, &fw, p, egress, v6, comment) == 0;
}

static bool script_of(const struct tun_pool *p, const char *egress, struct sbuf *b,
		      char comment[static TABLE_COMMENT_MAX])
{
	return script_of6(p, egress, false, b, comment);
}

static void table_rules(void)
{
	static const char *const want[] = {
		"comment \"vpngw ",
		"counter unsolicited { }", "counter invalid { }", "counter to_host { }",
		"counter leak { }", "counter cross_slot { }",
		"type ifname : mark",
		"\"vpngw0\" : 0x56500001, \"vpngw1\" : 0x56500002, \"vpngw2\" : 0x56500003 }",
		"iifname \"vpngw*\" ct state new ct mark set iifname map @slot_mark",
		"oifname \"vpngw*\" ct state established,related accept\n"
		"\t\toifname \"vpngw*\" counter name unsolicited drop",
		"iifname \"vpngw*\" ct state invalid counter name invalid drop",
		"iifname \"vpngw*\" oifname \"vpngw*\" counter name cross_slot drop",
		"iifname \"vpngw*\" tcp dport { 22, 8080 } accept",
		"iifname \"vpngw*\" udp dport { 53 } accept",
		"counter name to_host reject with tcp reset",
		"ip saddr 10.0.100.0-10.0.102.255 oifname \"eth9\" masquerade",
		"priority srcnat + 1;",
		"ip saddr 10.0.100.0-10.0.102.255 oifname != \"lo\" oifname != \"vpngw*\" counter name leak drop",
	};
	struct tun_pool p;
	struct sbuf b, b2;
	char c1[TABLE_COMMENT_MAX], c2[TABLE_COMMENT_MAX];

	tun_pool_default(&p);
	p.n = 3;
	CHECK(tun_pool_open_port(&p, "22") == 0 && tun_pool_open_port(&p, "53/udp") == 0 &&
	      tun_pool_open_port(&p, "8080/tcp") == 0);
	CHECK(script_of(&p, "eth9", &b, c1));
	CHECK(strncmp(b.p, NFT_DELETE "table inet vpngw {\n", strlen(NFT_DELETE) + 19) == 0);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		CHECK(strstr(b.p, want[i]) != NULL);
		if (!strstr(b.p, want[i]))
			fprintf(stderr, "  missing: %s\n", want[i]);
	}
	CHECK(!strstr(b.p, "ip6"));
	/* With IPv6: the IPv6 pool masqueraded and guarded; another table. */
	CHECK(script_of6(&p, "eth9", true, &b2, c2) && strcmp(c1, c2) != 0);
	CHECK(strstr(b2.p, "ip6 saddr fd00:0:0:100::-fd00::102:ffff:ffff:ffff:ffff "
		      "oifname \"eth9\" masquerade") != NULL);
	CHECK(strstr(b2.p, "ip6 saddr fd00:0:0:100::-fd00::102:ffff:ffff:ffff:ffff "
		      "oifname != \"lo\" oifname != \"vpngw*\" counter name leak drop") != NULL);
	free(b2.p);
	/* The fingerprint names the rules: the same pool, the same comment;
	 * another open port or egress, another. */
	CHECK(script_of(&p, "eth9", &b2, c2) && strcmp(c1, c2) == 0 && strcmp(b.p, b2.p) == 0);
	free(b2.p);
	CHECK(strstr(b.p, c1) != NULL && strlen(c1) == 22);
	CHECK(script_of(&p, "eth8", &b2, c2) && strcmp(c1, c2) != 0);
	free(b2.p);
	CHECK(tun_pool_open_port(&p, "54/udp") == 0);
	CHECK(script_of(&p, "eth9", &b2, c2) && strcmp(c1, c2) != 0);
	free(b2.p);
	free(b.p);
	/* No open port: no accept rule; a large pool: every slot's mark. */
	tun_pool_default(&p);
	p.n = TUN_POOL_MAX;
	p.net = 0x0a000000;
	p.prefix = 30;
	CHECK(script_of(&p, "eth0", &b, c1));
	CHECK(!strstr(b.p, "dport"));
	CHECK(strstr(b.p, "\"vpngw4095\" : 0x56501000 }") != NULL);
	free(b.p);
}

/* ---- netlink.c: a batch's ACKs; nft.c: the batch of the table ---- */

static int acks_of(const struct reply *r, struct batch_acks *a)
{
	return batch_walk((const unsigned char *)r->buf, r->len, a);
}

static void batch_acks(void)
{
	struct reply r = { .len = 0 };
	struct batch_acks a = { .seq = 100, .n = 5, .failed = 5 };

	/* Five requests: ACKs, two errors (the lower request's is kept,
	 * whatever the order), one reply of another sequence skipped; the
	 * first and last frame the batch, their ACKs are not counted. */
	add_ctl(&r, NLMSG_ERROR, 0, 100);
	add_ctl(&r, NLMSG_ERROR, 0, 101);
	add_ctl(&r, NLMSG_ERROR, -EOPNOTSUPP, 103);
	add_ctl(&r, NLMSG_ERROR, -ENOENT, 102);
	add_ctl(&r, NLMSG_ERROR, -EPERM, 105);
	add_ctl(&r, NLMSG_ERROR, 0, 104);
	CHECK(acks_of(&r, &a) == 0);
	CHECK(a.acked == 3 && a.failed == 2 && a.err == -ENOENT);	/* 101..103 */
	/* A length past the end, an error too short to hold its code. */
	a = (struct batch_acks){ .seq = 100, .n = 5, .failed = 5 };
	r.len -= 4;
	CHECK(acks_of(&r, &a) == -EBADMSG);
	r.len = 0;
	add_ctl(&r, NLMSG_ERROR, 0, 100);
	r.buf[0] = NLMSG_HDRLEN + 2;
	CHECK(acks_of(&r, &a) == -EBADMSG);
}

/* nft_describe of request i of b is want. */
static bool described(const struct nl_batch *b, unsigned i, const char *want)
{
	const struct nlmsghdr *h = nl_batch_msg(b, i);
	char out[96];

	if (!h)
		return false;
	nft_describe(h, out, sizeof out);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  request %u: \"%s\", not \"%s\"\n", i, out, want);
	return strcmp(out, want) == 0;
}

static void nft_batch(void)
{
	struct tun_pool p;
	struct fw_table fw;
	struct nl_batch b;
	struct nl_msg m;
	unsigned elems = 0;

	tun_pool_default(&p);
	p.n = 3;
	CHECK(tun_pool_open_port(&p, "22") == 0 && tun_pool_open_port(&p, "53/udp") == 0 &&
	      tun_pool_open_port(&p, "8080/tcp") == 0);
	CHECK(fw_describe(&fw, &p, "eth9", false) == 0);
	nl_batch_init(&b);
	nft_encode_replace(&b, &fw.t, "vpngw 42");
	/* begin, an older table ip added and deleted, the table inet added,
	 * deleted, added; 5 counters; the map and its elements; 5 chains; 16
	 * rules and one anonymous set (tcp 22, 8080; udp 53 alone is a
	 * comparison); end. */
	CHECK(!b.failed && b.n == 37);
	CHECK(described(&b, 0, "starting the transaction"));
	CHECK(described(&b, 1, "adding table ip vpngw"));
	CHECK(described(&b, 2, "deleting table ip vpngw"));
	CHECK(described(&b, 3, "adding table inet vpngw"));
	CHECK(described(&b, 4, "deleting table inet vpngw"));
	CHECK(described(&b, 6, "adding counter unsolicited"));
	CHECK(described(&b, 11, "adding map slot_mark"));
	CHECK(described(&b, 12, "adding elements to set slot_mark"));
	CHECK(described(&b, 13, "adding chain prerouting"));
	CHECK(described(&b, 19, "adding a rule to chain forward"));
	CHECK(described(&b, 28, "adding an anonymous set"));
	CHECK(described(&b, 29, "adding elements to an anonymous set"));
	CHECK(described(&b, 30, "adding a rule to chain input"));
	CHECK(described(&b, 36, "ending the transaction"));
	CHECK(!nl_batch_msg(&b, 37));
	nl_batch_free(&b);
	/* A request cut short is "a request", read within its length. */
	nft_msg_init(&m, NFT_MSG_NEWRULE, 0);
	nl_attr_put_str(&m, NFTA_RULE_CHAIN, "forward");
	m.u.hdr.nlmsg_len = NLMSG_HDRLEN + 2;
	nft_describe(&m.u.hdr, (char[32]){ 0 }, 32);
	/* The largest pool, with IPv6: 4096 elements, 16 to a request, all
	 * of it fits. */
	p.n = TUN_POOL_MAX;
	p.net = 0x0a000000;
	p.prefix = 30;
	CHECK(fw_describe(&fw, &p, "eth0", true) == 0);
	nl_batch_init(&b);
	nft_encode_replace(&b, &fw.t, "vpngw 42");
	CHECK(!b.failed);
	for (unsigned i = 0; i < b.n; i++) {
		const struct nlmsghdr *h = nl_batch_msg(&b, i);

		elems += h && NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_NEWSETELEM &&
			 NFNL_SUBSYS_ID(h->nlmsg_type) == NFNL_SUBSYS_NFTABLES;
	}
	CHECK(elems == TUN_POOL_MAX / IFELEMS_PER_MSG + 1);	/* and the ports' set */
	nl_batch_free(&b);
}

/* ---- The link dump ---- */

/* An RTM_NEWLINK of a dump: name, index, group (0: none), and a TUN's
 * IFLA_LINKINFO when kind is given (type IFF_TUN or IFF_TAP, owner -1:
 * none). */
static void link_msg(struct nl_msg *m, const char *name, int index, uint32_t group,
		     const char *kind, uint8_t type, long owner)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
	size_t info, data;

	nl_msg_init(m, RTM_NEWLINK, 0);
	nl_msg_put(m, &ifi, sizeof ifi);
	if (name)
		nl_attr_put_str(m, IFLA_IFNAME, name);
	nl_attr_put_u32(m, IFLA_MTU, 1500);
	if (group)
		nl_attr_put_u32(m, IFLA_GROUP, group);
	if (!kind)
		return;
	info = nl_attr_nest_start(m, IFLA_LINKINFO);
	nl_attr_put_str(m, IFLA_INFO_KIND, kind);
	data = nl_attr_nest_start(m, IFLA_INFO_DATA);
	nl_attr_put(m, IFLA_TUN_TYPE, &type, 1);
	if (owner >= 0) {
		nl_attr_put_u32(m, IFLA_TUN_OWNER, (uint32_t)owner);
		nl_attr_put_u32(m, IFLA_TUN_GROUP, (uint32_t)owner);
	}
	nl_attr_nest_end(m, data);
	nl_attr_nest_end(m, info);
}

static void link_dump(void)
{
	struct nl_msg m;
	struct link l;

	link_msg(&m, "vpngw3", 7, TUN_GROUP, "tun", IFF_TUN, 65534);
	CHECK(link_parse(&m.u.hdr, &l));
	CHECK(strcmp(l.name, "vpngw3") == 0 && l.index == 7 && l.group == TUN_GROUP);
	CHECK(l.tun && l.has_owner && l.owner == 65534 && l.has_gid && l.gid == 65534);
	CHECK(!l.want);
	/* No group, no owner; a TAP and a veth are no TUN. */
	link_msg(&m, "vpngw4", 8, 0, "tun", IFF_TUN, -1);
	CHECK(link_parse(&m.u.hdr, &l) && l.tun && !l.has_owner && l.group == 0);
	link_msg(&m, "tap0", 9, TUN_GROUP, "tun", IFF_TAP, 0);
	CHECK(link_parse(&m.u.hdr, &l) && !l.tun && l.group == TUN_GROUP);
	link_msg(&m, "veth0", 10, TUN_GROUP, "veth", IFF_TUN, 0);
	CHECK(link_parse(&m.u.hdr, &l) && !l.tun);
	link_msg(&m, "lo", 1, 0, NULL, 0, -1);
	CHECK(link_parse(&m.u.hdr, &l) && !l.tun);
	/* No name, an empty or too long one, no index, another type. */
	link_msg(&m, NULL, 3, 0, NULL, 0, -1);
	CHECK(!link_parse(&m.u.hdr, &l));
	link_msg(&m, "", 3, 0, NULL, 0, -1);
	CHECK(!link_parse(&m.u.hdr, &l));
	link_msg(&m, "sixteen-chars-xx", 3, 0, NULL, 0, -1);
	CHECK(!link_parse(&m.u.hdr, &l));
	link_msg(&m, "x", 0, 0, NULL, 0, -1);
	CHECK(!link_parse(&m.u.hdr, &l));
	link_msg(&m, "x", 3, 0, NULL, 0, -1);
	m.u.hdr.nlmsg_type = RTM_NEWADDR;
	CHECK(!link_parse(&m.u.hdr, &l));
	/* Too short for its family header; an attribute that lies. */
	link_msg(&m, "x", 3, 0, NULL, 0, -1);
	m.u.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)) - 1;
	CHECK(!link_parse(&m.u.hdr, &l));
	link_msg(&m, "x", 3, 0, NULL, 0, -1);
	m.u.buf[NLMSG_LENGTH(sizeof(struct ifinfomsg))] = 200;
	CHECK(!link_parse(&m.u.hdr, &l));
	/* A kind inside the nest that lies about its length: no TUN. */
	link_msg(&m, "vpngw5", 11, 0, "tun", IFF_TUN, 0);
	unsigned char *kind = memmem(m.u.buf, m.u.hdr.nlmsg_len, "tun", 4);
	CHECK(kind != NULL);
	if (kind) {
		kind[-4] = 0xff;
		CHECK(link_parse(&m.u.hdr, &l) && !l.tun);
	}
}

/* The group filter: a dump of devices, the ones teardown wants marked. */
static void group_filter(void)
{
	static const struct {
		const char *name;
		uint32_t group;
		bool tun, want;
	} cases[][4] = {
		/* All of the group ours: the whole group at once. */
		{ { "v0", TUN_GROUP, true, true }, { "v1", TUN_GROUP, true, true },
		  { "e0", 0, false, false }, { "v2", 0, true, true } },
		/* Another device in the group: one by one. */
		{ { "v0", TUN_GROUP, true, true }, { "d0", TUN_GROUP, false, false },
		  { NULL, 0, false, false } },
		/* Another TUN in the group, not one teardown wants. */
		{ { "v0", TUN_GROUP, true, true }, { "t0", TUN_GROUP, true, false },
		  { NULL, 0, false, false } },
		/* One of ours by name, but no TUN. */
		{ { "v0", TUN_GROUP, false, true }, { NULL, 0, false, false } },
		/* Another group entirely: nothing of ours in ours. */
		{ { "v0", 7, true, true }, { "d0", 7, false, false }, { NULL, 0, false, false } },
		/* Nothing at all. */
		{ { NULL, 0, false, false } },
	};
	static const long want[] = { 2, -1, -1, -1, 0, 0 };
	struct link v[4];

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct links ls = { .v = v, .n = 0 };

		for (unsigned i = 0; i < 4 && cases[c][i].name; i++) {
			memset(&v[i], 0, sizeof v[i]);
			snprintf(v[i].name, sizeof v[i].name, "%s", cases[c][i].name);
			v[i].group = cases[c][i].group;
			v[i].tun = cases[c][i].tun;
			v[i].want = cases[c][i].want;
			ls.n++;
		}
		CHECK(group_ours(&ls, TUN_GROUP) == want[c]);
	}
}

/* The dump sorted and looked up by name, as setup and teardown do. */
static void link_lookup(void)
{
	struct links ls = { .v = NULL };
	struct nl_msg m;
	static const char *const names[] = { "vpngw10", "e0", "vpngw2", "lo", "vpngw1" };

	for (unsigned i = 0; i < 5; i++) {
		link_msg(&m, names[i], (int)i + 1, 0, NULL, 0, -1);
		links_cb(&m.u.hdr, &ls);
	}
	/* Not a link: ignored. */
	link_msg(&m, "x", 9, 0, NULL, 0, -1);
	m.u.hdr.nlmsg_type = RTM_NEWROUTE;
	links_cb(&m.u.hdr, &ls);
	CHECK(ls.n == 5 && !ls.failed);
	links_sort(&ls);
	CHECK(links_find(&ls, "vpngw2") && links_find(&ls, "vpngw2")->index == 3);
	CHECK(links_find(&ls, "lo") && links_find(&ls, "lo")->index == 4);
	CHECK(!links_find(&ls, "vpngw3") && !links_find(&ls, ""));
	CHECK(!links_find(&ls, "a-name-too-long-for-a-device"));
	links_free(&ls);
	CHECK(!links_find(&ls, "lo"));
}

const struct unit_case unit_tun[] = {
	{ "nl_walk", walker },
	{ "nl_walk_lies", walker_lies },
	{ "nl_attrs", attrs },
	{ "tun_state_parse", state_file },
	{ "tun_state_hostile", state_file_hostile },
	{ "tun_open_port", open_port },
	{ "tun_default_route", default_route },
	{ "tun_route_get", route_get },
	{ "tun_ct_marked", ct_marked },
	{ "tun_nft_counters", nft_counters },
	{ "tun_nft_table_comment", nft_table_comment },
	{ "tun_table_rules", table_rules },
	{ "nl_batch_acks", batch_acks },
	{ "nft_batch", nft_batch },
	{ "tun_link_dump", link_dump },
	{ "tun_link_group_filter", group_filter },
	{ "tun_link_lookup", link_lookup },
	{ NULL, NULL },
};
