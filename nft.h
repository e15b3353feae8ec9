/* SPDX-License-Identifier: MIT */
/*
 * nft.h: one nftables table described once, as data: its counters, one map
 * of consecutive subnets to marks, and its chains of rules, each rule a
 * short list of terms, in family inet (IPv4 and IPv6 in one table). nft.c walks that description twice: to print it in
 * nft's syntax (what `setup --dry-run` shows, and whose fingerprint names
 * the table) and to encode it as the nf_tables netlink messages of one
 * transaction (what setup installs). What the table holds is tun.c's
 * choice; nft.c only knows how each term is said and encoded, and opens no
 * socket.
 */
#ifndef VPNGW_NFT_H
#define VPNGW_NFT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "netlink.h"

#define NFT_TERMS_MAX 8        /* per rule */
#define NFT_RULES_MAX 8        /* per chain */
#define NFT_CHAINS_MAX 6
#define NFT_PORTS_MAX 32

/* What a term matches or does. NFT_T_END (0) ends a rule's terms. */
enum nft_op {
	NFT_T_END,
	NFT_T_IFNAME,    /* iifname/oifname [!=] "s" or "s*" (out, neg, wild) */
	NFT_T_CT_STATE,  /* ct state a (NF_CT_STATE_BIT() bits) */
	NFT_T_SADDR,     /* ip saddr a-b (host order) */
	NFT_T_SADDR6,    /* ip6 saddr a6-b6 */
	NFT_T_MARK_IFMAP, /* ct mark set iifname map @s */
	NFT_T_L4PROTO,   /* meta l4proto a (IPPROTO_TCP or IPPROTO_UDP) */
	NFT_T_TCP_SYN,   /* tcp flags syn */
	NFT_T_DPORT,     /* tcp/udp (a) dport { ports } */
	NFT_T_MARK_MAP,  /* ct mark set ip saddr and a (host order) map @s */
	NFT_T_MSS_CLAMP, /* tcp option maxseg size set rt mtu */
	NFT_T_COUNTER,   /* counter name s (a named counter of the table) */
	NFT_T_ACCEPT,
	NFT_T_DROP,
	NFT_T_REJECT,    /* reject: ICMP port unreachable, or a TCP reset (a = 1) */
	NFT_T_MASQ,      /* masquerade */
};

struct nft_term {
	enum nft_op op;
	const char *s;
	bool out, neg, wild;
	uint32_t a, b;
	const uint16_t *ports;      /* NFT_T_DPORT: n_ports of them */
	unsigned n_ports;
	const uint8_t *a6, *b6;     /* NFT_T_SADDR6: 16 bytes each */
};

struct nft_rule {
	struct nft_term t[NFT_TERMS_MAX];
};

/* A base chain: its hook (NF_INET_*), priority, policy accept. */
struct nft_chain {
	const char *name;
	bool nat;                   /* type nat, else type filter */
	unsigned hook;
	int prio;
	struct nft_rule rules[NFT_RULES_MAX];
	unsigned n_rules;
};

/*
 * A map of n elements: ipv4_addr : mark, net + i * step : mark + i; or
 * with ifprefix, ifname : mark, "<ifprefix><i>" : mark + i.
 */
struct nft_map {
	const char *name;
	uint32_t net, step, mark;   /* host order */
	unsigned n;
	const char *ifprefix;
};

/* A table of family inet. */
struct nft_table {
	const char *name;
	bool replaces_ip;           /* the transaction also removes a table ip
	                               of the same name (an older vpngw's) */
	const char *const *counters;
	unsigned n_counters;
	struct nft_map map;
	struct nft_chain chains[NFT_CHAINS_MAX];
	unsigned n_chains;
};

/*
 * Appends the rule whose terms are t[], up to NFT_T_END, to c. Returns 0,
 * or -1 if c is full or the rule has too many terms (a bug of the caller).
 */
int nft_rule_add(struct nft_chain *c, const struct nft_term *t)
	__attribute__((warn_unused_result));

/*
 * Prints t in nft's syntax to f: everything inside "table inet NAME { ... }"
 * but a comment, and the closing brace. Pure but for f.
 */
void nft_print_body(FILE *f, const struct nft_table *t);

/*
 * Appends to b the messages of one transaction that replaces table t:
 * BATCH_BEGIN, the table added and deleted (so that the next add starts
 * from nothing whether or not it existed), the table with comment in its
 * user data, its counters, map and elements, chains and rules (anonymous
 * sets before the rule that uses them), BATCH_END. b->failed tells whether
 * it all fit in memory.
 */
void nft_encode_replace(struct nl_batch *b, const struct nft_table *t, const char *comment);

/* The same for a transaction that only deletes table name. */
void nft_encode_delete(struct nl_batch *b, const char *name);

/*
 * A transaction that removes table name of family inet and a table ip name
 * (an older vpngw's), whether or not either exists: each added, then
 * deleted.
 */
void nft_encode_purge(struct nl_batch *b, const char *name);

/*
 * Describes the request h of such a batch for an error line ("adding a
 * rule to chain forward") into out[len]. Pure: h's attributes are parsed
 * with every length checked; a request it cannot read is "a request".
 */
void nft_describe(const struct nlmsghdr *h, char *out, size_t len);

/* Starts an nf_tables request of type (NFT_MSG_*) for family inet, or
 * for family (NFPROTO_*). */
void nft_msg_init(struct nl_msg *m, unsigned type, uint16_t flags);
void nft_msg_init_family(struct nl_msg *m, unsigned type, uint16_t flags, uint8_t family);

#endif
