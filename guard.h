/* SPDX-License-Identifier: MIT */
/*
 * guard.h: the kill switch of `vpngw connect --kill-switch`. It owns one
 * nftables table of the client's own while the client runs, family inet,
 * named after the client's TUN (vpngw_ks_TUN), so that two clients on a
 * host do not share one. Its output chain lets a packet the host sends
 * leave only through the TUN, over loopback, to a gateway address (TCP to
 * its port), as ICMPv6 neighbour discovery and multicast listener
 * reports (so that the gateway stays reachable over IPv6) or as DHCP (udp 67, 68, 546, 547: the host keeps
 * its lease); every other packet is counted (counter "blocked") and
 * rejected, so that applications fail at once rather than time out. The
 * table stays through reconnects, when the TUN's routes may be gone, and
 * replaces one a killed client of the same TUN left behind.
 *
 * What it does not cover: traffic the host forwards (containers, VMs,
 * a shared connection: bridged or routed packets take the forward hook,
 * not output) and traffic of other network namespaces, which have their
 * own ruleset (forwarding would need a forward chain that knows which
 * of the forwarded traffic is whose, a policy this client cannot guess).
 * Nor does it loosen the host's firewall: a packet must pass every
 * table's output chain, so another table may still drop what this one
 * accepts. For the same reason two clients with --kill-switch on one
 * host shut each other out (each table rejects the other's tunnel and
 * gateway): one kill switch a host.
 *
 * nft.c describes and encodes the table; guard.c decides what it holds.
 */
#ifndef VPNGW_GUARD_H
#define VPNGW_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tun.h"

#define GUARD_DEST_MAX 16        /* gateway addresses */
#define GUARD_NAME_MAX (sizeof "vpngw_ks_" + TUN_NAME_MAX)

/* One address the client may reach outside the tunnel: family AF_INET
 * (addr[0..4), network order) or AF_INET6, and its TCP port. */
struct guard_dest {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

struct guard {
	char name[GUARD_NAME_MAX];   /* the table, once guard_install named it */
	bool on;                     /* installed, and ours to remove */
};

/*
 * Installs (or replaces) the table for TUN tun and the n gateway
 * addresses of d, in one nf_tables transaction. Returns 0, or -1 after
 * one line on stderr; the transaction is all or nothing, so nothing of
 * it is left. At -v the table
 * is logged as nft's text.
 */
int guard_install(struct guard *g, const char *tun, const struct guard_dest *d, unsigned n)
	__attribute__((warn_unused_result));

/* Removes the table if guard_install put it in; logs a failure. Idempotent. */
void guard_remove(struct guard *g);

/* Prints the table for tun and d[n] as nft's text: what guard_install
 * installs, as `nft list table` shows it (counter values aside). */
int guard_print(FILE *f, const char *tun, const struct guard_dest *d, unsigned n);

#endif
