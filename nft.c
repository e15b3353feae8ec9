/* SPDX-License-Identifier: MIT */
/*
 * nft.c: the nftables table of nft.h's description, said twice from the
 * same data: as nft's text (what an operator can read and feed to
 * `nft -f`), and as the nf_tables netlink messages of one transaction,
 * expression by expression as nft itself would send them (nft
 * --debug=netlink shows the same), so that `nft list` shows both alike.
 * Messages are built with netlink.c into a batch; sending it, reading the
 * ACKs and deciding what the table holds are tun.c's business. Its one
 * parser, nft_describe, reads requests it built, every length checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft.h"

#define ELEMS_PER_MSG 32	/* map elements per request: 28 bytes each */
#define IFELEMS_PER_MSG 16	/* ifname : mark elements: 40 bytes each */
#define MAP_SET_ID 1		/* anonymous sets follow */
#define ANON_SET "__set%d"	/* the kernel names an anonymous set */
#define TCPOPT_MAXSEG 2
#define DESC_ATTR_MAX 31	/* above every NFTA_*_NAME nft_describe reads */

/* nft's datatypes (its datatype.h) and byte orders, which it keeps in a
 * set's user data (libnftnl's TLVs) to print the set's type and elements. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IFNAME 41
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_MARK 19
#define UDATA_KEYBYTEORDER 0
#define UDATA_DATABYTEORDER 1
#define UDATA_DATA_INTERVAL 6
#define BYTEORDER_HOST 1
#define BYTEORDER_BIG 2

static const char *const hooks[] = {
	[NF_INET_PRE_ROUTING] = "prerouting", [NF_INET_LOCAL_IN] = "input",
	[NF_INET_FORWARD] = "forward", [NF_INET_LOCAL_OUT] = "output",
	[NF_INET_POST_ROUTING] = "postrouting",
};

/* nft's standard priorities of family ip, by name. */
static const struct { const char *name; int prio; } prios[] = {
	{ "raw", -300 }, { "mangle", -150 }, { "dstnat", -100 },
	{ "filter", 0 }, { "security", 50 }, { "srcnat", 100 },
};

/* ct state's bits in nft's order of printing. */
static const struct { const char *name; uint32_t bit; } ct_states[] = {
	{ "invalid", NF_CT_STATE_INVALID_BIT },
	{ "established", NF_CT_STATE_BIT(IP_CT_ESTABLISHED) },
	{ "related", NF_CT_STATE_BIT(IP_CT_RELATED) },
	{ "new", NF_CT_STATE_BIT(IP_CT_NEW) },
	{ "untracked", NF_CT_STATE_UNTRACKED_BIT },
};

int nft_rule_add(struct nft_chain *c, const struct nft_term *t)
{
	struct nft_rule *r;
	unsigned i;

	if (c->n_rules >= NFT_RULES_MAX)
		return -1;
	r = &c->rules[c->n_rules];
	memset(r, 0, sizeof *r);
	for (i = 0; t[i].op != NFT_T_END; i++) {
		if (i >= NFT_TERMS_MAX - 1 ||
		    (t[i].op == NFT_T_DPORT && (t[i].n_ports == 0 || t[i].n_ports > NFT_PORTS_MAX)))
			return -1;
		r->t[i] = t[i];
	}
	c->n_rules++;
	return 0;
}

/* ---- The text ---- */

static const char *quad(uint32_t a, char buf[static INET_ADDRSTRLEN])
{
	struct in_addr in = { .s_addr = htonl(a) };

	return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static const char *quad6(const uint8_t a[static 16], char buf[static INET6_ADDRSTRLEN])
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

static const char *proto_name(uint32_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* A priority as nft says it: the nearest standard name, +/- the rest. */
static void print_prio(FILE *f, int prio)
{
	size_t best = 0;

	for (size_t i = 1; i < sizeof prios / sizeof prios[0]; i++)
		if (abs(prio - prios[i].prio) < abs(prio - prios[best].prio))
			best = i;
	fputs(prios[best].name, f);
	if (prio != prios[best].prio)
		fprintf(f, " %c %d", prio > prios[best].prio ? '+' : '-',
			abs(prio - prios[best].prio));
}

static void print_ct_state(FILE *f, uint32_t bits)
{
	const char *sep = "";

	fputs("ct state ", f);
	for (size_t i = 0; i < sizeof ct_states / sizeof ct_states[0]; i++) {
		if (bits & ct_states[i].bit) {
			fprintf(f, "%s%s", sep, ct_states[i].name);
			sep = ",";
		}
	}
}

static void print_term(FILE *f, const struct nft_term *t)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	switch (t->op) {
	case NFT_T_IFNAME:
		fprintf(f, "%s %s\"%s%s\"", t->out ? "oifname" : "iifname", t->neg ? "!= " : "",
			t->s, t->wild ? "*" : "");
		break;
	case NFT_T_CT_STATE:
		print_ct_state(f, t->a);
		break;
	case NFT_T_SADDR:
		fprintf(f, "ip saddr %s-%s", quad(t->a, a), quad(t->b, b));
		break;
	case NFT_T_SADDR6:
		fprintf(f, "ip6 saddr %s-%s", quad6(t->a6, a), quad6(t->b6, b));
		break;
	case NFT_T_MARK_IFMAP:
		fprintf(f, "ct mark set iifname map @%s", t->s);
		break;
	case NFT_T_L4PROTO:
		fprintf(f, "meta l4proto %s", proto_name(t->a));
		break;
	case NFT_T_TCP_SYN:
		fputs("tcp flags syn", f);
		break;
	case NFT_T_DPORT:
		fprintf(f, "%s dport {", proto_name(t->a));
		for (unsigned i = 0; i < t->n_ports; i++)
			fprintf(f, "%s %u", i ? "," : "", t->ports[i]);
		fputs(" }", f);
		break;
	case NFT_T_MARK_MAP:
		fprintf(f, "ct mark set ip saddr and %s map @%s", quad(t->a, a), t->s);
		break;
	case NFT_T_MSS_CLAMP:
		fputs("tcp option maxseg size set rt mtu", f);
		break;
	case NFT_T_COUNTER:
		fprintf(f, "counter name %s", t->s);
		break;
	case NFT_T_ACCEPT:
		fputs("accept", f);
		break;
	case NFT_T_DROP:
		fputs("drop", f);
		break;
	case NFT_T_REJECT:
		/* In family inet a bare reject is ICMP's or ICMPv6's port
		 * unreachable (icmpx), which nft lists as "reject". */
		fputs(t->a ? "reject with tcp reset" : "reject", f);
		break;
	case NFT_T_MASQ:
		fputs("masquerade", f);
		break;
	case NFT_T_END:
		break;
	}
}

static void print_map(FILE *f, const struct nft_map *m)
{
	char net[INET_ADDRSTRLEN];

	fprintf(f, "\tmap %s {\n\t\ttype %s : mark\n\t\telements = {", m->name,
		m->ifprefix ? "ifname" : "ipv4_addr");
	for (unsigned i = 0; i < m->n; i++) {
		fputs(i ? (i % 4 ? ", " : ",\n\t\t\t") : " ", f);
		if (m->ifprefix)
			fprintf(f, "\"%s%u\"", m->ifprefix, i);
		else
			fputs(quad(m->net + i * m->step, net), f);
		fprintf(f, " : 0x%08x", m->mark + i);
	}
	fputs(" }\n\t}\n", f);
}

static void print_chain(FILE *f, const struct nft_chain *c)
{
	fprintf(f, "\tchain %s {\n\t\ttype %s hook %s priority ", c->name,
		c->nat ? "nat" : "filter", c->hook < 5 ? hooks[c->hook] : "?");
	print_prio(f, c->prio);
	fputs("; policy accept;\n", f);
	for (unsigned i = 0; i < c->n_rules; i++) {
		fputs("\t\t", f);
		for (const struct nft_term *t = c->rules[i].t; t->op != NFT_T_END; t++) {
			if (t != c->rules[i].t)
				fputc(' ', f);
			print_term(f, t);
		}
		fputc('\n', f);
	}
	fputs("\t}\n", f);
}

void nft_print_body(FILE *f, const struct nft_table *t)
{
	for (unsigned i = 0; i < t->n_counters; i++)
		fprintf(f, "\tcounter %s { }\n", t->counters[i]);
	if (t->map.n)
		print_map(f, &t->map);
	for (unsigned i = 0; i < t->n_chains; i++)
		print_chain(f, &t->chains[i]);
	fputs("}\n", f);
}

/* ---- Messages ---- */

void nft_msg_init_family(struct nl_msg *m, unsigned type, uint16_t flags, uint8_t family)
{
	struct nfgenmsg nfg = { .nfgen_family = family, .version = NFNETLINK_V0 };

	nl_msg_init(m, (NFNL_SUBSYS_NFTABLES << 8) | type, flags);
	nl_msg_put(m, &nfg, sizeof nfg);
}

void nft_msg_init(struct nl_msg *m, unsigned type, uint16_t flags)
{
	nft_msg_init_family(m, type, flags, NFPROTO_INET);
}

/* BATCH_BEGIN or BATCH_END, for the nf_tables subsystem. */
static void batch_mark(struct nl_batch *b, uint16_t type)
{
	struct nfgenmsg nfg = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
				.res_id = htons(NFNL_SUBSYS_NFTABLES) };
	struct nl_msg m;

	nl_msg_init(&m, type, 0);
	nl_msg_put(&m, &nfg, sizeof nfg);
	nl_batch_add(b, &m);
}

/* A nest type holding one NFTA_DATA_VALUE of len bytes. */
static void put_value(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t n = nl_attr_nest_start(m, type);

	nl_attr_put(m, NFTA_DATA_VALUE, data, len);
	nl_attr_nest_end(m, n);
}

static void put_u32_tlv(unsigned char **p, uint8_t type, uint32_t v)
{
	(*p)[0] = type;
	(*p)[1] = sizeof v;
	memcpy(*p + 2, &v, sizeof v);	/* libnftnl's are in host order */
	*p += 2 + sizeof v;
}

static void table_msg(struct nl_batch *b, uint8_t family, unsigned type, uint16_t flags,
		      const char *name, const char *comment)
{
	unsigned char ud[2 + 255];
	size_t len = comment ? strlen(comment) + 1 : 0;
	struct nl_msg m;

	nft_msg_init_family(&m, type, flags, family);
	nl_attr_put_str(&m, NFTA_TABLE_NAME, name);
	if (type == NFT_MSG_NEWTABLE)
		nl_attr_put_be32(&m, NFTA_TABLE_FLAGS, 0);
	if (comment && len <= 255) {
		ud[0] = 0;	/* NFTNL_UDATA_TABLE_COMMENT */
		ud[1] = (unsigned char)len;
		memcpy(ud + 2, comment, len);
		nl_attr_put(&m, NFTA_TABLE_USERDATA, ud, 2 + len);
	}
	nl_batch_add(b, &m);
}

static void obj_msg(struct nl_batch *b, const char *table, const char *name)
{
	static const unsigned char zero[8];
	struct nl_msg m;
	size_t n;

	nft_msg_init(&m, NFT_MSG_NEWOBJ, NLM_F_CREATE);
	nl_attr_put_str(&m, NFTA_OBJ_TABLE, table);
	nl_attr_put_str(&m, NFTA_OBJ_NAME, name);
	nl_attr_put_be32(&m, NFTA_OBJ_TYPE, NFT_OBJECT_COUNTER);
	n = nl_attr_nest_start(&m, NFTA_OBJ_DATA);
	nl_attr_put(&m, NFTA_COUNTER_BYTES, zero, sizeof zero);
	nl_attr_put(&m, NFTA_COUNTER_PACKETS, zero, sizeof zero);
	nl_attr_nest_end(&m, n);
	nl_batch_add(b, &m);
}

static void map_msg(struct nl_batch *b, const char *table, const struct nft_map *map)
{
	unsigned char ud[18], *p = ud;
	struct nl_msg m;

	nft_msg_init(&m, NFT_MSG_NEWSET, NLM_F_CREATE);
	nl_attr_put_str(&m, NFTA_SET_TABLE, table);
	nl_attr_put_str(&m, NFTA_SET_NAME, map->name);
	nl_attr_put_be32(&m, NFTA_SET_FLAGS, NFT_SET_MAP);
	nl_attr_put_be32(&m, NFTA_SET_KEY_TYPE, map->ifprefix ? NFT_TYPE_IFNAME : NFT_TYPE_IPADDR);
	nl_attr_put_be32(&m, NFTA_SET_KEY_LEN, map->ifprefix ? IFNAMSIZ : 4);
	nl_attr_put_be32(&m, NFTA_SET_DATA_TYPE, NFT_TYPE_MARK);
	nl_attr_put_be32(&m, NFTA_SET_DATA_LEN, 4);
	nl_attr_put_be32(&m, NFTA_SET_ID, MAP_SET_ID);
	put_u32_tlv(&p, UDATA_KEYBYTEORDER, map->ifprefix ? BYTEORDER_HOST : BYTEORDER_BIG);
	put_u32_tlv(&p, UDATA_DATABYTEORDER, BYTEORDER_HOST);
	put_u32_tlv(&p, UDATA_DATA_INTERVAL, 0);
	nl_attr_put(&m, NFTA_SET_USERDATA, ud, sizeof ud);
	nl_batch_add(b, &m);
}

/* Opens a NEWSETELEM of set name (id) in table. Returns the list's nest. */
static size_t elems_start(struct nl_msg *m, const char *table, const char *name, uint32_t id)
{
	nft_msg_init(m, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
	nl_attr_put_str(m, NFTA_SET_ELEM_LIST_TABLE, table);
	nl_attr_put_str(m, NFTA_SET_ELEM_LIST_SET, name);
	nl_attr_put_be32(m, NFTA_SET_ELEM_LIST_SET_ID, id);
	return nl_attr_nest_start(m, NFTA_SET_ELEM_LIST_ELEMENTS);
}

/* One element: key, and data unless data_len is 0. */
static void elem_put(struct nl_msg *m, const void *key, size_t key_len, const void *data,
		     size_t data_len)
{
	size_t e = nl_attr_nest_start(m, NFTA_LIST_ELEM);

	put_value(m, NFTA_SET_ELEM_KEY, key, key_len);
	if (data_len)
		put_value(m, NFTA_SET_ELEM_DATA, data, data_len);
	nl_attr_nest_end(m, e);
}

/* The map's elements, ELEMS_PER_MSG to a request. */
static void map_elems(struct nl_batch *b, const char *table, const struct nft_map *map)
{
	unsigned per = map->ifprefix ? IFELEMS_PER_MSG : ELEMS_PER_MSG;
	struct nl_msg m;
	size_t list = 0;

	for (unsigned i = 0; i < map->n; i++) {
		uint32_t key = htonl(map->net + i * map->step), mark = map->mark + i;
		char name[IFNAMSIZ] = { 0 };

		if (i % per == 0)
			list = elems_start(&m, table, map->name, MAP_SET_ID);
		if (map->ifprefix) {
			/* A name too long is cut: it matches no device. */
			(void)snprintf(name, sizeof name, "%s%u", map->ifprefix, i);
			elem_put(&m, name, sizeof name, &mark, sizeof mark);
		} else {
			elem_put(&m, &key, sizeof key, &mark, sizeof mark);
		}
		if (i % per == per - 1 || i == map->n - 1) {
			nl_attr_nest_end(&m, list);
			nl_batch_add(b, &m);
		}
	}
}

/* An anonymous constant set of t's ports, and its elements. */
static void port_set(struct nl_batch *b, const char *table, const struct nft_term *t,
		     uint32_t id)
{
	unsigned char ud[6], *p = ud;
	struct nl_msg m;
	size_t n, list;

	nft_msg_init(&m, NFT_MSG_NEWSET, NLM_F_CREATE);
	nl_attr_put_str(&m, NFTA_SET_TABLE, table);
	nl_attr_put_str(&m, NFTA_SET_NAME, ANON_SET);
	nl_attr_put_be32(&m, NFTA_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
	nl_attr_put_be32(&m, NFTA_SET_KEY_TYPE, NFT_TYPE_INET_SERVICE);
	nl_attr_put_be32(&m, NFTA_SET_KEY_LEN, 2);
	nl_attr_put_be32(&m, NFTA_SET_ID, id);
	n = nl_attr_nest_start(&m, NFTA_SET_DESC);
	nl_attr_put_be32(&m, NFTA_SET_DESC_SIZE, t->n_ports);
	nl_attr_nest_end(&m, n);
	put_u32_tlv(&p, UDATA_KEYBYTEORDER, BYTEORDER_BIG);
	nl_attr_put(&m, NFTA_SET_USERDATA, ud, sizeof ud);
	nl_batch_add(b, &m);
	list = elems_start(&m, table, ANON_SET, id);
	for (unsigned i = 0; i < t->n_ports; i++) {
		uint16_t port = htons(t->ports[i]);

		elem_put(&m, &port, sizeof port, NULL, 0);
	}
	nl_attr_nest_end(&m, list);
	nl_batch_add(b, &m);
}

static void chain_msg(struct nl_batch *b, const char *table, const struct nft_chain *c)
{
	struct nl_msg m;
	size_t n;

	nft_msg_init(&m, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	nl_attr_put_str(&m, NFTA_CHAIN_TABLE, table);
	nl_attr_put_str(&m, NFTA_CHAIN_NAME, c->name);
	nl_attr_put_str(&m, NFTA_CHAIN_TYPE, c->nat ? "nat" : "filter");
	nl_attr_put_be32(&m, NFTA_CHAIN_POLICY, NF_ACCEPT);
	n = nl_attr_nest_start(&m, NFTA_CHAIN_HOOK);
	nl_attr_put_be32(&m, NFTA_HOOK_HOOKNUM, c->hook);
	nl_attr_put_be32(&m, NFTA_HOOK_PRIORITY, (uint32_t)c->prio);
	nl_attr_nest_end(&m, n);
	nl_batch_add(b, &m);
}

/* ---- Expressions: each one nest of NFTA_RULE_EXPRESSIONS ---- */

/* An open expression: its list element and its data nest. */
struct expr {
	size_t elem, data;
};

static struct expr expr_start(struct nl_msg *m, const char *name)
{
	struct expr e;

	e.elem = nl_attr_nest_start(m, NFTA_LIST_ELEM);
	nl_attr_put_str(m, NFTA_EXPR_NAME, name);
	e.data = nl_attr_nest_start(m, NFTA_EXPR_DATA);
	return e;
}

static void expr_end(struct nl_msg *m, struct expr e)
{
	nl_attr_nest_end(m, e.data);
	nl_attr_nest_end(m, e.elem);
}

static void e_meta(struct nl_msg *m, uint32_t key)
{
	struct expr e = expr_start(m, "meta");

	nl_attr_put_be32(m, NFTA_META_KEY, key);
	nl_attr_put_be32(m, NFTA_META_DREG, NFT_REG_1);
	expr_end(m, e);
}

static void e_cmp(struct nl_msg *m, uint32_t op, const void *data, size_t len)
{
	struct expr e = expr_start(m, "cmp");

	nl_attr_put_be32(m, NFTA_CMP_SREG, NFT_REG_1);
	nl_attr_put_be32(m, NFTA_CMP_OP, op);
	put_value(m, NFTA_CMP_DATA, data, len);
	expr_end(m, e);
}

static void e_payload(struct nl_msg *m, uint32_t base, uint32_t off, uint32_t len)
{
	struct expr e = expr_start(m, "payload");

	nl_attr_put_be32(m, NFTA_PAYLOAD_DREG, NFT_REG_1);
	nl_attr_put_be32(m, NFTA_PAYLOAD_BASE, base);
	nl_attr_put_be32(m, NFTA_PAYLOAD_OFFSET, off);
	nl_attr_put_be32(m, NFTA_PAYLOAD_LEN, len);
	expr_end(m, e);
}

/* reg 1 = reg 1 & mask (len bytes) */
static void e_and(struct nl_msg *m, const void *mask, size_t len)
{
	static const unsigned char zero[4];
	struct expr e = expr_start(m, "bitwise");

	nl_attr_put_be32(m, NFTA_BITWISE_SREG, NFT_REG_1);
	nl_attr_put_be32(m, NFTA_BITWISE_DREG, NFT_REG_1);
	nl_attr_put_be32(m, NFTA_BITWISE_LEN, (uint32_t)len);
	put_value(m, NFTA_BITWISE_MASK, mask, len);
	put_value(m, NFTA_BITWISE_XOR, zero, len);
	expr_end(m, e);
}

/* reg 1 & mask != 0, for len bytes */
static void e_any_bit(struct nl_msg *m, const void *mask, size_t len)
{
	static const unsigned char zero[4];

	e_and(m, mask, len);
	e_cmp(m, NFT_CMP_NEQ, zero, len);
}

static void e_ct(struct nl_msg *m, uint32_t key, bool set)
{
	struct expr e = expr_start(m, "ct");

	nl_attr_put_be32(m, NFTA_CT_KEY, key);
	nl_attr_put_be32(m, set ? NFTA_CT_SREG : NFTA_CT_DREG, NFT_REG_1);
	expr_end(m, e);
}

static void e_lookup(struct nl_msg *m, const char *set, uint32_t id, bool map)
{
	struct expr e = expr_start(m, "lookup");

	nl_attr_put_be32(m, NFTA_LOOKUP_SREG, NFT_REG_1);
	if (map)
		nl_attr_put_be32(m, NFTA_LOOKUP_DREG, NFT_REG_1);
	nl_attr_put_str(m, NFTA_LOOKUP_SET, set);
	nl_attr_put_be32(m, NFTA_LOOKUP_SET_ID, id);
	expr_end(m, e);
}

static void e_objref(struct nl_msg *m, const char *name)
{
	struct expr e = expr_start(m, "objref");

	nl_attr_put_be32(m, NFTA_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
	nl_attr_put_str(m, NFTA_OBJREF_IMM_NAME, name);
	expr_end(m, e);
}

static void e_verdict(struct nl_msg *m, uint32_t code)
{
	struct expr e = expr_start(m, "immediate");
	size_t data, verdict;

	nl_attr_put_be32(m, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
	data = nl_attr_nest_start(m, NFTA_IMMEDIATE_DATA);
	verdict = nl_attr_nest_start(m, NFTA_DATA_VERDICT);
	nl_attr_put_be32(m, NFTA_VERDICT_CODE, code);
	nl_attr_nest_end(m, verdict);
	nl_attr_nest_end(m, data);
	expr_end(m, e);
}

/* The route's MSS (rt mtu), to network order, written over the TCP MSS
 * option's two bytes (tcp option maxseg size set). */
static void e_mss_clamp(struct nl_msg *m)
{
	struct expr e = expr_start(m, "rt");

	nl_attr_put_be32(m, NFTA_RT_KEY, NFT_RT_TCPMSS);
	nl_attr_put_be32(m, NFTA_RT_DREG, NFT_REG_1);
	expr_end(m, e);
	e = expr_start(m, "byteorder");
	nl_attr_put_be32(m, NFTA_BYTEORDER_SREG, NFT_REG_1);
	nl_attr_put_be32(m, NFTA_BYTEORDER_DREG, NFT_REG_1);
	nl_attr_put_be32(m, NFTA_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nl_attr_put_be32(m, NFTA_BYTEORDER_LEN, 2);
	nl_attr_put_be32(m, NFTA_BYTEORDER_SIZE, 2);
	expr_end(m, e);
	e = expr_start(m, "exthdr");
	nl_attr_put_be32(m, NFTA_EXTHDR_SREG, NFT_REG_1);
	nl_attr_put(m, NFTA_EXTHDR_TYPE, &(uint8_t){ TCPOPT_MAXSEG }, 1);
	nl_attr_put_be32(m, NFTA_EXTHDR_OFFSET, 2);
	nl_attr_put_be32(m, NFTA_EXTHDR_LEN, 2);
	nl_attr_put_be32(m, NFTA_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
	expr_end(m, e);
}

static void e_reject(struct nl_msg *m, bool tcp_reset)
{
	struct expr e = expr_start(m, "reject");
	uint8_t code = tcp_reset ? 0 : NFT_REJECT_ICMPX_PORT_UNREACH;

	nl_attr_put_be32(m, NFTA_REJECT_TYPE,
			 tcp_reset ? NFT_REJECT_TCP_RST : NFT_REJECT_ICMPX_UNREACH);
	nl_attr_put(m, NFTA_REJECT_ICMP_CODE, &code, 1);
	expr_end(m, e);
}

static void e_masq(struct nl_msg *m)
{
	expr_end(m, expr_start(m, "masq"));
}

/* What the encoder of one rule knows: the protocols matched so far. */
struct rule_state {
	uint8_t proto;
	uint8_t nfproto;
};

/* meta nfproto nfproto, unless the rule matched it already: in family
 * inet nft puts it before every ip or ip6 header field. */
static void need_nfproto(struct nl_msg *m, struct rule_state *s, uint8_t nfproto)
{
	if (s->nfproto == nfproto)
		return;
	e_meta(m, NFT_META_NFPROTO);
	e_cmp(m, NFT_CMP_EQ, &nfproto, 1);
	s->nfproto = nfproto;
}

/* meta l4proto proto, unless the rule matched it already (nft adds the
 * same dependency before tcp flags, tcp dport...). */
static void need_proto(struct nl_msg *m, struct rule_state *s, uint8_t proto)
{
	if (s->proto == proto)
		return;
	e_meta(m, NFT_META_L4PROTO);
	e_cmp(m, NFT_CMP_EQ, &proto, 1);
	s->proto = proto;
}

static void e_ifname(struct nl_msg *m, const struct nft_term *t)
{
	char name[IFNAMSIZ] = { 0 };
	size_t len = strnlen(t->s, IFNAMSIZ - 1);

	memcpy(name, t->s, len);
	e_meta(m, t->out ? NFT_META_OIFNAME : NFT_META_IIFNAME);
	/* "s*" compares the prefix alone, without the NUL; "s" all 16 bytes. */
	e_cmp(m, t->neg ? NFT_CMP_NEQ : NFT_CMP_EQ, name, t->wild ? len : IFNAMSIZ);
}

static void e_saddr_range(struct nl_msg *m, struct rule_state *s, uint32_t lo, uint32_t hi)
{
	uint32_t l = htonl(lo), h = htonl(hi);

	need_nfproto(m, s, NFPROTO_IPV4);
	e_payload(m, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	e_cmp(m, NFT_CMP_GTE, &l, 4);
	e_cmp(m, NFT_CMP_LTE, &h, 4);
}

/* ip6 saddr lo-hi: the addresses compare as 16 bytes in network order. */
static void e_saddr6_range(struct nl_msg *m, struct rule_state *s, const uint8_t *lo,
			   const uint8_t *hi)
{
	need_nfproto(m, s, NFPROTO_IPV6);
	e_payload(m, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
	e_cmp(m, NFT_CMP_GTE, lo, 16);
	e_cmp(m, NFT_CMP_LTE, hi, 16);
}

/* ct mark set iifname map @s: the slot is its device, whatever the family. */
static void e_mark_ifmap(struct nl_msg *m, const struct nft_term *t)
{
	e_meta(m, NFT_META_IIFNAME);
	e_lookup(m, t->s, MAP_SET_ID, true);
	e_ct(m, NFT_CT_MARK, true);
}

static void e_dport(struct nl_msg *m, struct rule_state *s, const struct nft_term *t,
		    uint32_t set_id)
{
	uint16_t port = htons(t->ports[0]);

	need_proto(m, s, (uint8_t)t->a);
	e_payload(m, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	if (t->n_ports == 1)
		e_cmp(m, NFT_CMP_EQ, &port, 2);
	else
		e_lookup(m, ANON_SET, set_id, false);
}

static void e_mark_map(struct nl_msg *m, struct rule_state *s, const struct nft_term *t)
{
	uint32_t mask = htonl(t->a);

	need_nfproto(m, s, NFPROTO_IPV4);
	e_payload(m, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	e_and(m, &mask, 4);
	e_lookup(m, t->s, MAP_SET_ID, true);
	e_ct(m, NFT_CT_MARK, true);
}

static void e_term(struct nl_msg *m, struct rule_state *s, const struct nft_term *t,
		   uint32_t set_id)
{
	static const uint8_t syn = 0x02;
	uint8_t proto = (uint8_t)t->a;

	switch (t->op) {
	case NFT_T_IFNAME:
		e_ifname(m, t);
		break;
	case NFT_T_CT_STATE:
		e_ct(m, NFT_CT_STATE, false);
		e_any_bit(m, &t->a, 4);	/* ct state is in host order */
		break;
	case NFT_T_SADDR:
		e_saddr_range(m, s, t->a, t->b);
		break;
	case NFT_T_SADDR6:
		e_saddr6_range(m, s, t->a6, t->b6);
		break;
	case NFT_T_MARK_IFMAP:
		e_mark_ifmap(m, t);
		break;
	case NFT_T_L4PROTO:
		e_meta(m, NFT_META_L4PROTO);
		e_cmp(m, NFT_CMP_EQ, &proto, 1);
		s->proto = proto;
		break;
	case NFT_T_TCP_SYN:
		need_proto(m, s, IPPROTO_TCP);
		e_payload(m, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
		e_any_bit(m, &syn, 1);
		break;
	case NFT_T_DPORT:
		e_dport(m, s, t, set_id);
		break;
	case NFT_T_MARK_MAP:
		e_mark_map(m, s, t);
		break;
	case NFT_T_MSS_CLAMP:
		need_proto(m, s, IPPROTO_TCP);
		e_mss_clamp(m);
		break;
	case NFT_T_COUNTER:
		e_objref(m, t->s);
		break;
	case NFT_T_ACCEPT:
	case NFT_T_DROP:
		e_verdict(m, t->op == NFT_T_ACCEPT ? NF_ACCEPT : NF_DROP);
		break;
	case NFT_T_REJECT:
		e_reject(m, t->a != 0);
		break;
	case NFT_T_MASQ:
		e_masq(m);
		break;
	case NFT_T_END:
		break;
	}
}

/* One rule: first the anonymous sets it uses, numbered from *set_id on. */
static void rule_msgs(struct nl_batch *b, const char *table, const struct nft_chain *c,
		      const struct nft_rule *r, uint32_t *set_id)
{
	uint32_t ids[NFT_TERMS_MAX] = { 0 };
	struct rule_state s = { 0 };
	struct nl_msg m;
	size_t list;

	for (unsigned i = 0; r->t[i].op != NFT_T_END; i++) {
		if (r->t[i].op == NFT_T_DPORT && r->t[i].n_ports > 1) {
			ids[i] = ++*set_id;
			port_set(b, table, &r->t[i], ids[i]);
		}
	}
	nft_msg_init(&m, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nl_attr_put_str(&m, NFTA_RULE_TABLE, table);
	nl_attr_put_str(&m, NFTA_RULE_CHAIN, c->name);
	list = nl_attr_nest_start(&m, NFTA_RULE_EXPRESSIONS);
	for (unsigned i = 0; r->t[i].op != NFT_T_END; i++)
		e_term(&m, &s, &r->t[i], ids[i]);
	nl_attr_nest_end(&m, list);
	nl_batch_add(b, &m);
}

void nft_encode_replace(struct nl_batch *b, const struct nft_table *t, const char *comment)
{
	uint32_t set_id = MAP_SET_ID;

	batch_mark(b, NFNL_MSG_BATCH_BEGIN);
	if (t->replaces_ip) {
		table_msg(b, NFPROTO_IPV4, NFT_MSG_NEWTABLE, NLM_F_CREATE, t->name, NULL);
		table_msg(b, NFPROTO_IPV4, NFT_MSG_DELTABLE, 0, t->name, NULL);
	}
	table_msg(b, NFPROTO_INET, NFT_MSG_NEWTABLE, NLM_F_CREATE, t->name, NULL);
	table_msg(b, NFPROTO_INET, NFT_MSG_DELTABLE, 0, t->name, NULL);
	table_msg(b, NFPROTO_INET, NFT_MSG_NEWTABLE, NLM_F_CREATE, t->name, comment);
	for (unsigned i = 0; i < t->n_counters; i++)
		obj_msg(b, t->name, t->counters[i]);
	if (t->map.n) {
		map_msg(b, t->name, &t->map);
		map_elems(b, t->name, &t->map);
	}
	for (unsigned i = 0; i < t->n_chains; i++)
		chain_msg(b, t->name, &t->chains[i]);
	for (unsigned i = 0; i < t->n_chains; i++)
		for (unsigned j = 0; j < t->chains[i].n_rules; j++)
			rule_msgs(b, t->name, &t->chains[i], &t->chains[i].rules[j], &set_id);
	batch_mark(b, NFNL_MSG_BATCH_END);
}

void nft_encode_delete(struct nl_batch *b, const char *name)
{
	batch_mark(b, NFNL_MSG_BATCH_BEGIN);
	table_msg(b, NFPROTO_INET, NFT_MSG_DELTABLE, 0, name, NULL);
	batch_mark(b, NFNL_MSG_BATCH_END);
}

void nft_encode_purge(struct nl_batch *b, const char *name)
{
	batch_mark(b, NFNL_MSG_BATCH_BEGIN);
	table_msg(b, NFPROTO_IPV4, NFT_MSG_NEWTABLE, NLM_F_CREATE, name, NULL);
	table_msg(b, NFPROTO_IPV4, NFT_MSG_DELTABLE, 0, name, NULL);
	table_msg(b, NFPROTO_INET, NFT_MSG_NEWTABLE, NLM_F_CREATE, name, NULL);
	table_msg(b, NFPROTO_INET, NFT_MSG_DELTABLE, 0, name, NULL);
	batch_mark(b, NFNL_MSG_BATCH_END);
}

/* ---- Describing a request ---- */

/* Attribute a's string, bounded by its length and by out[len]. */
static const char *attr_str(const struct nlattr *a, char *out, size_t len)
{
	size_t n;

	if (!a)
		return "?";
	n = strnlen(nl_attr_data(a), nl_attr_len(a));
	if (n >= len)
		n = len - 1;
	memcpy(out, nl_attr_data(a), n);
	out[n] = '\0';
	return out;
}

void nft_describe(const struct nlmsghdr *h, char *out, size_t len)
{
	const struct nlattr *tb[DESC_ATTR_MAX + 1];
	struct nfgenmsg nfg;
	char name[64];
	const char *s;
	uint32_t flags = 0;

	if (h->nlmsg_type == NFNL_MSG_BATCH_BEGIN || h->nlmsg_type == NFNL_MSG_BATCH_END) {
		snprintf(out, len, "%s the transaction",
			 h->nlmsg_type == NFNL_MSG_BATCH_BEGIN ? "starting" : "ending");
		return;
	}
	if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nl_parse_msg(h, sizeof(struct nfgenmsg), tb, DESC_ATTR_MAX) < 0) {
		snprintf(out, len, "a request");
		return;
	}
	/* nl_parse_msg checked that the family header fits. */
	memcpy(&nfg, NLMSG_DATA(h), sizeof nfg);
	switch (NFNL_MSG_TYPE(h->nlmsg_type)) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		snprintf(out, len, "%s table %s %s",
			 NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_NEWTABLE ? "adding" : "deleting",
			 nfg.nfgen_family == NFPROTO_IPV4 ? "ip" : "inet",
			 attr_str(tb[NFTA_TABLE_NAME], name, sizeof name));
		break;
	case NFT_MSG_NEWCHAIN:
		snprintf(out, len, "adding chain %s", attr_str(tb[NFTA_CHAIN_NAME], name, sizeof name));
		break;
	case NFT_MSG_NEWRULE:
		snprintf(out, len, "adding a rule to chain %s",
			 attr_str(tb[NFTA_RULE_CHAIN], name, sizeof name));
		break;
	case NFT_MSG_NEWOBJ:
		snprintf(out, len, "adding counter %s", attr_str(tb[NFTA_OBJ_NAME], name, sizeof name));
		break;
	case NFT_MSG_NEWSET:
		s = attr_str(tb[NFTA_SET_NAME], name, sizeof name);
		(void)nl_attr_be32(tb[NFTA_SET_FLAGS], &flags);
		if (flags & NFT_SET_ANONYMOUS)
			snprintf(out, len, "adding an anonymous set");
		else
			snprintf(out, len, "adding %s %s", flags & NFT_SET_MAP ? "map" : "set", s);
		break;
	case NFT_MSG_NEWSETELEM:
		s = attr_str(tb[NFTA_SET_ELEM_LIST_SET], name, sizeof name);
		snprintf(out, len, "adding elements to %s%s", strcmp(s, ANON_SET) ? "set " : "",
			 strcmp(s, ANON_SET) ? s : "an anonymous set");
		break;
	default:
		snprintf(out, len, "a request");
	}
}
