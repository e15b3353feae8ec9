/* SPDX-License-Identifier: MIT */
/*
 * tun.h: the host side of vpngw. The slot pool (persistent TUN devices, their
 * addresses, IPv4 forwarding, the nftables table, conntrack timeouts) set up
 * and torn down, TUN devices opened, conntrack entries of a released slot
 * deleted, and the client's interface and routes. The only file, with
 * netlink.c, that does ioctl, netlink or runs nft.
 */
#ifndef VPNGW_TUN_H
#define VPNGW_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TUN_NAME_MAX 16        /* IFNAMSIZ */
#define TUN_POOL_MAX 1024
#define TUN_MTU_DEFAULT 1500
#define TUN_TABLE "vpngw"      /* the nftables table setup owns */

/* The slot pool as setup, teardown and serve all see it. */
struct tun_pool {
	unsigned n;                 /* slots */
	uint32_t net;               /* slot 0's subnet, host order */
	unsigned prefix;            /* each slot's prefix length */
	char prefix_name[TUN_NAME_MAX - 5]; /* device i is <prefix_name><i> */
	uid_t uid;                  /* owner of the devices */
	gid_t gid;
	char egress[TUN_NAME_MAX];  /* "" = the default route's interface */
	unsigned mtu;
};

/* The defaults of SPEC: 5 slots vpngw0..4, 10.0.100.0/24.., MTU 1500. */
void tun_pool_default(struct tun_pool *p);

/* Slot i's subnet (host order) and device name. */
uint32_t tun_slot_net(const struct tun_pool *p, unsigned i);
void tun_slot_name(const struct tun_pool *p, unsigned i, char out[static TUN_NAME_MAX]);

/*
 * Creates what is missing of the pool: devices (persistent, owned by uid),
 * gateway address .1/prefix, MTU, link up; net.ipv4.ip_forward=1; the
 * nftables table; lowered conntrack timeouts. Records what it changed in
 * TUN_STATE_FILE so that teardown restores exactly that. Idempotent. On
 * failure it undoes what it did, prints one line and returns -1. With dry_run
 * it prints what it would do and changes nothing.
 */
int tun_setup(const struct tun_pool *p, bool dry_run) __attribute__((warn_unused_result));

/* Undoes tun_setup: removes the devices and table, restores the sysctls. */
int tun_teardown(const struct tun_pool *p, bool dry_run) __attribute__((warn_unused_result));

/* true if every device of the pool exists (setup was done). */
bool tun_pool_ready(const struct tun_pool *p);

/*
 * Attaches to the existing persistent device name (IFF_TUN | IFF_NO_PI) and
 * returns a non-blocking, close-on-exec fd, or -1 with errno set.
 */
int tun_open(const char *name);

/*
 * Deletes every conntrack entry whose original source lies in net/prefix
 * (host order), through ctnetlink. Needs CAP_NET_ADMIN. Returns the number
 * deleted, or -1 with errno set.
 */
int tun_ct_flush(uint32_t net, unsigned prefix);

/* ---- The client's interface ---- */

/*
 * Creates a non-persistent TUN device called name (IFF_TUN | IFF_NO_PI);
 * returns its non-blocking fd, or -1 with errno set. It disappears when the
 * fd is closed.
 */
int tun_create(const char *name);

/* Sets addr/prefix (host order), the MTU and brings the link up. */
int tun_configure(const char *name, uint32_t addr, unsigned prefix, unsigned mtu)
	__attribute__((warn_unused_result));

/*
 * Adds (add=true) or removes a route to dst/prefix (host order): through dev
 * when gw is 0, else via gw (host order) on dev. Returns 0 or -1 with errno.
 */
int tun_route(bool add, uint32_t dst, unsigned prefix, uint32_t gw, const char *dev)
	__attribute__((warn_unused_result));

/*
 * Looks up the route the kernel would use to reach dst (host order): the
 * gateway (0 when on-link) and the device. Returns 0 or -1.
 */
int tun_route_get(uint32_t dst, uint32_t *gw, char dev[static TUN_NAME_MAX]);

#endif
