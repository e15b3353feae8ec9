/* SPDX-License-Identifier: MIT */
/*
 * guard.c: the kill switch's nftables table (guard.h says what it lets
 * through and what it does not cover). It describes the table as nft.h's
 * data, one output chain of accept rules ended by a counted reject, and
 * has nft.c encode it as one transaction that replaces any table of that
 * name, and another that deletes it. It runs no program.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "guard.h"
#include "log.h"
#include "nft.h"

#define GUARD_CHAIN "output"
#define GUARD_COUNTER "blocked"
#define GUARD_WHO "--kill-switch"

static const char *const counters[] = { GUARD_COUNTER };
/* Neighbour discovery (RS, RA, NS, NA) and the multicast listener reports
 * that let a snooping switch deliver its solicitations; ascending, as the
 * kernel's set lists them. */
static const uint16_t nd_types[] = { 131, 133, 134, 135, 136, 143 };
static const uint16_t dhcp_ports[] = { 67, 68, 546, 547 };	/* DHCPv4, DHCPv6 */

static void table_name(char out[static GUARD_NAME_MAX], const char *tun)
{
	snprintf(out, GUARD_NAME_MAX, "vpngw_ks_%s", tun);
}

/*
 * The table for tun and d[n] into t (whose strings point into d, tun and
 * name). Returns 0, or -1 when the chain is full (too many addresses).
 */
static int describe(struct nft_table *t, const char *name, const char *tun,
		    const struct guard_dest *d, unsigned n, uint16_t ports[])
{
	struct nft_chain *c = &t->chains[0];

	memset(t, 0, sizeof *t);
	t->name = name;
	t->counters = counters;
	t->n_counters = 1;
	t->n_chains = 1;
	c->name = GUARD_CHAIN;
	c->hook = NF_INET_LOCAL_OUT;
	c->prio = 0;
	if (nft_rule_add(c, (struct nft_term[]){
		{ .op = NFT_T_IFNAME, .s = "lo", .out = true }, { .op = NFT_T_ACCEPT }, { 0 } }) < 0 ||
	    nft_rule_add(c, (struct nft_term[]){
		{ .op = NFT_T_IFNAME, .s = tun, .out = true }, { .op = NFT_T_ACCEPT }, { 0 } }) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct nft_term addr = { .op = NFT_T_DADDR6, .a6 = d[i].addr };
		uint32_t a4;

		ports[i] = d[i].port;
		if (d[i].family == AF_INET) {
			memcpy(&a4, d[i].addr, 4);
			addr = (struct nft_term){ .op = NFT_T_DADDR, .a = ntohl(a4), .b = ntohl(a4) };
		}
		if (nft_rule_add(c, (struct nft_term[]){ addr,
			{ .op = NFT_T_DPORT, .a = IPPROTO_TCP, .ports = &ports[i], .n_ports = 1 },
			{ .op = NFT_T_ACCEPT }, { 0 } }) < 0)
			return -1;
	}
	if (nft_rule_add(c, (struct nft_term[]){
		{ .op = NFT_T_ICMP6_TYPE, .ports = nd_types, .n_ports = 6 },
		{ .op = NFT_T_ACCEPT }, { 0 } }) < 0 ||
	    nft_rule_add(c, (struct nft_term[]){
		{ .op = NFT_T_DPORT, .a = IPPROTO_UDP, .ports = dhcp_ports, .n_ports = 4 },
		{ .op = NFT_T_ACCEPT }, { 0 } }) < 0 ||
	    nft_rule_add(c, (struct nft_term[]){
		{ .op = NFT_T_COUNTER, .s = GUARD_COUNTER }, { .op = NFT_T_REJECT }, { 0 } }) < 0)
		return -1;
	return 0;
}

/* Everything describe needs, off the stack (a table is some 70 KiB). */
struct desc {
	struct nft_table t;
	char name[GUARD_NAME_MAX];
	uint16_t ports[GUARD_DEST_MAX];
};

static struct desc *desc_new(const char *tun, const struct guard_dest *d, unsigned n)
{
	struct desc *x;

	if (n > GUARD_DEST_MAX) {
		log_warnx(GUARD_WHO ": at most %d gateway addresses", GUARD_DEST_MAX);
		return NULL;
	}
	x = malloc(sizeof *x);
	if (!x) {
		log_warnx(GUARD_WHO ": out of memory");
		return NULL;
	}
	table_name(x->name, tun);
	if (describe(&x->t, x->name, tun, d, n, x->ports) < 0) {
		log_warnx(GUARD_WHO ": too many gateway addresses for one chain");
		free(x);
		return NULL;
	}
	return x;
}

int guard_print(FILE *f, const char *tun, const struct guard_dest *d, unsigned n)
{
	struct desc *x = desc_new(tun, d, n);

	if (!x)
		return -1;
	fprintf(f, "table inet %s {\n", x->name);
	nft_print_body(f, &x->t);
	free(x);
	return ferror(f) ? -1 : 0;
}

int guard_install(struct guard *g, const char *tun, const struct guard_dest *d, unsigned n)
{
	char comment[64], who[sizeof GUARD_WHO + 32 + GUARD_NAME_MAX];
	struct nl_batch b;
	struct desc *x = desc_new(tun, d, n);
	int rc;

	if (!x)
		return -1;
	if (log_verbosity >= LOG_DEBUG) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		if (f) {
			fprintf(f, "table inet %s {\n", x->name);
			nft_print_body(f, &x->t);
			if (fclose(f) == 0)
				log_debug("kill switch:\n%s", text);
		}
		free(text);
	}
	snprintf(comment, sizeof comment, "vpngw connect --kill-switch, pid %ld", (long)getpid());
	nl_batch_init(&b);
	nft_encode_replace(&b, &x->t, comment);
	snprintf(who, sizeof who, GUARD_WHO ": cannot install table inet %s", x->name);
	rc = nft_send(&b, false, who);
	nl_batch_free(&b);
	snprintf(g->name, sizeof g->name, "%s", x->name);
	free(x);
	g->on = rc == 0;
	return rc;
}

void guard_remove(struct guard *g)
{
	char who[sizeof GUARD_WHO + 32 + GUARD_NAME_MAX];
	struct nl_batch b;

	if (!g->on)
		return;
	snprintf(who, sizeof who, GUARD_WHO ": cannot remove table inet %s", g->name);
	nl_batch_init(&b);
	nft_encode_delete(&b, g->name);
	if (nft_send(&b, true, who) == 0)
		g->on = false;
	nl_batch_free(&b);
}
