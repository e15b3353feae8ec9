/* SPDX-License-Identifier: MIT */
/*
 * unit_guard.c: the kill switch's table (guard.c, which it #includes for
 * its static parts): the text guard_print shows, which is what `nft list
 * table` shows back for each rule (ip daddr, ip6 daddr, the icmpv6 type
 * and udp dport sets, a one-port dport without braces), the limit on
 * gateway addresses, and the batch it sends, every nf_tables request of
 * family inet. Nothing here opens a socket; nft.c comes from unit_tun.c.
 */
#include <arpa/inet.h>

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "../guard.c"
#include "unit.h"

static const char want_text[] =
	"table inet vpngw_ks_vpngw-c0 {\n"
	"\tcounter blocked { }\n"
	"\tchain output {\n"
	"\t\ttype filter hook output priority filter; policy accept;\n"
	"\t\toifname \"lo\" accept\n"
	"\t\toifname \"vpngw-c0\" accept\n"
	"\t\tip daddr 192.0.2.1 tcp dport 8080 accept\n"
	"\t\tip6 daddr 2001:db8:2::2 tcp dport 443 accept\n"
	"\t\ticmpv6 type { mld-listener-report, nd-router-solicit, nd-router-advert, "
	"nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept\n"
	"\t\tudp dport { 67, 68, 546, 547 } accept\n"
	"\t\tcounter name blocked reject\n"
	"\t}\n"
	"}\n";

static void dests(struct guard_dest *d)
{
	memset(d, 0, 2 * sizeof *d);
	d[0].family = AF_INET;
	CHECK(inet_pton(AF_INET, "192.0.2.1", d[0].addr) == 1);
	d[0].port = 8080;
	d[1].family = AF_INET6;
	CHECK(inet_pton(AF_INET6, "2001:db8:2::2", d[1].addr) == 1);
	d[1].port = 443;
}

static void guard_text(void)
{
	struct guard_dest d[2];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	dests(d);
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(guard_print(f, "vpngw-c0", d, 2) == 0);
	CHECK(fclose(f) == 0);
	CHECK(text && strcmp(text, want_text) == 0);
	if (text && strcmp(text, want_text))
		fprintf(stderr, "  got:\n%s", text);
	free(text);
}

static void guard_limits(void)
{
	struct guard_dest d[GUARD_DEST_MAX + 1];
	FILE *f = fopen("/dev/null", "w");

	memset(d, 0, sizeof d);
	for (unsigned i = 0; i <= GUARD_DEST_MAX; i++) {
		d[i].family = AF_INET;
		d[i].addr[0] = 192;
		d[i].addr[3] = (uint8_t)i;
		d[i].port = 80;
	}
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(guard_print(f, "t", d, GUARD_DEST_MAX) == 0);
	CHECK(guard_print(f, "t", d, GUARD_DEST_MAX + 1) == -1);
	fclose(f);
}

/* Every request of the install batch is of family inet, and it holds the
 * table, its counter, the chain, two anonymous sets and seven rules. */
static void guard_batch(void)
{
	struct guard_dest d[2];
	struct nl_batch b;
	struct desc *x;
	unsigned rules = 0, sets = 0;

	dests(d);
	x = desc_new("vpngw-c0", d, 2);
	CHECK(x != NULL);
	if (!x)
		return;
	nl_batch_init(&b);
	nft_encode_replace(&b, &x->t, "c");
	CHECK(!b.failed && b.n > 2);
	for (unsigned i = 1; i + 1 < b.n; i++) {
		const struct nlmsghdr *h = nl_batch_msg(&b, i);
		const struct nfgenmsg *g = NLMSG_DATA(h);

		CHECK(g->nfgen_family == NFPROTO_INET);
		rules += NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_NEWRULE;
		sets += NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_NEWSET;
	}
	CHECK(rules == 7 && sets == 2);
	nl_batch_free(&b);
	free(x);
}

const struct unit_case unit_guard[] = {
	{ "guard_text", guard_text },
	{ "guard_limits", guard_limits },
	{ "guard_batch", guard_batch },
	{ NULL, NULL },
};
