/* SPDX-License-Identifier: MIT */
/*
 * tun.h: the host side of vpngw. The slot pool (persistent TUN devices, their
 * addresses of both families, IP forwarding, the nftables table that is the host firewall,
 * conntrack timeouts) set up and torn down, TUN devices opened, the small
 * privileged helper that deletes a released slot's conntrack entries and
 * reads the firewall's counters, and the client's interface and routes. The
 * only file, with netlink.c (and nft.c, which encodes the table), that does
 * ioctl or netlink. It runs no program.
 */
#ifndef VPNGW_TUN_H
#define VPNGW_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TUN_NAME_MAX 16        /* IFNAMSIZ */
#define TUN_POOL_MAX 4096
#define TUN_MTU_DEFAULT 1500
#define TUN_TABLE "vpngw"      /* the nftables table setup owns */
#define TUN_OPEN_MAX 32        /* --open-port entries */
/*
 * The link group setup puts the pool's devices in, so that teardown deletes
 * them all with one RTM_DELLINK (one RCU grace period for all). "vpgw" in
 * ASCII: far above the small numbers operators name in /etc/iproute2/group.
 */
#define TUN_GROUP 0x76706777u
#define TUN_PRIV_MAX 64        /* sockets to the one privileged helper */

/* A port of the gateway host that clients may connect to (--open-port). */
struct tun_port {
	uint16_t port;
	uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP */
};

/* The slot pool as setup, teardown and serve all see it. */
struct tun_pool {
	unsigned n;                 /* slots */
	uint32_t net;               /* slot 0's subnet, host order */
	unsigned prefix;            /* each slot's prefix length */
	uint8_t net6[16];           /* slot 0's IPv6 prefix, host bits clear */
	unsigned prefix6;           /* each slot's IPv6 prefix length; 0: no IPv6 */
	bool prefix6_given;         /* --subnet6 was given: IPv6 is required */
	char prefix_name[TUN_NAME_MAX - 5]; /* device i is <prefix_name><i> */
	uid_t uid;                  /* owner of the devices */
	gid_t gid;
	char egress[TUN_NAME_MAX];  /* "" = the one setup recorded, else the
	                               default route's interface */
	unsigned mtu;
	struct tun_port open[TUN_OPEN_MAX]; /* host ports the pool may reach */
	unsigned n_open;
};

/* The defaults of SPEC: 5 slots vpngw0..4, 10.0.100.0/24.., MTU 1500. */
void tun_pool_default(struct tun_pool *p);

/*
 * Adds "PORT", "PORT/tcp" or "PORT/udp" (PORT 1..65535, tcp by default) to
 * p's open ports; one given twice is kept once. Returns 0, or -1 (printing
 * nothing) if s is not that or TUN_OPEN_MAX ports are open already.
 */
int tun_pool_open_port(struct tun_pool *p, const char *s) __attribute__((warn_unused_result));

/* Slot i's subnet (host order) and device name. */
uint32_t tun_slot_net(const struct tun_pool *p, unsigned i);
/* Slot i's IPv6 prefix: net6 plus i in the prefix6 bits (p->prefix6 != 0). */
void tun_slot_net6(const struct tun_pool *p, unsigned i, uint8_t out[static 16]);
void tun_slot_name(const struct tun_pool *p, unsigned i, char out[static TUN_NAME_MAX]);

/*
 * Creates what is missing of the pool: devices (persistent, owned by uid),
 * gateway address .1/prefix, MTU, link up; net.ipv4.ip_forward=1; with
 * IPv6 (p->prefix6, and an IPv6 default route out of egress: else off with
 * one line, or an error when p->prefix6_given) each slot's prefix::1 and
 * net.ipv6.conf.all.forwarding=1, the egress's accept_ra 1 made 2; the
 * nftables table (the firewall of README "Setup, the firewall and
 * privileges"), replaced only when it is not the one p describes; lowered
 * conntrack timeouts. Records what it changed, and the egress interface, in
 * TUN_STATE_FILE so that teardown restores exactly that. Idempotent. On
 * failure it undoes what it did, prints one line and returns -1. With dry_run
 * it prints what it would do and changes nothing.
 */
int tun_setup(const struct tun_pool *p, bool dry_run) __attribute__((warn_unused_result));

/*
 * Undoes tun_setup: removes the devices and table, restores the sysctls.
 * The devices go with one RTM_DELLINK of link group TUN_GROUP when every
 * device in that group is one of the pool's TUN devices; otherwise, and for
 * devices an older setup left outside the group, one by one.
 */
int tun_teardown(const struct tun_pool *p, bool dry_run) __attribute__((warn_unused_result));

/* true if every device of the pool exists (setup was done); one link dump. */
bool tun_pool_ready(const struct tun_pool *p);

/*
 * Whether the pool's slots carry IPv6 as setup left them: 1 when slot 0's
 * device holds its IPv6 gateway address (tun_slot_net6(p, 0)::1), 0 when
 * not (p->prefix6 0, a kernel without IPv6, or setup left IPv6 off), -1
 * after one line when it cannot tell (no such device, netlink failed).
 */
int tun_pool_ipv6(const struct tun_pool *p) __attribute__((warn_unused_result));

/*
 * For a pool that is set up: installs the nftables table p describes unless
 * the table in place is exactly that one (an older vpngw's, other open
 * ports), telling so in one line. Returns 0, or -1 after one line.
 */
int tun_table_ensure(const struct tun_pool *p) __attribute__((warn_unused_result));

/*
 * Attaches to the existing persistent device name (IFF_TUN | IFF_NO_PI) and
 * returns a non-blocking, close-on-exec fd, or -1 with errno set. With
 * offload, and where the kernel has them, the fd speaks virtio-net headers
 * (IFF_VNET_HDR) and the device takes TCP and UDP super-packets; *got
 * says what it took (gso.h's GSO_TUN_* bits; 0 without offload).
 */
int tun_open(const char *name, bool offload, unsigned *got);
/* What *got says, for the start-up line. */
const char *tun_offload_name(unsigned offload);

/* ---- Conntrack and the firewall's counters ---- */

/*
 * The table marks each new flow from slot i with TUN_CT_MARK | (i + 1), so
 * that one ctnetlink message deletes a slot's entries (the kernel walks its
 * table once). Every vpngw mark matches TUN_CT_MARK under TUN_CT_MARK_MASK.
 */
#define TUN_CT_MARK      0x56500000u
#define TUN_CT_MARK_MASK 0xffff0000u

/*
 * Deletes every conntrack entry of the pool (any slot's mark): what a
 * previous run left behind. Blocks while the kernel walks its table; for
 * start-up only. Needs CAP_NET_ADMIN. Returns the number of entries found
 * and deleted, or -1 with errno set.
 */
long tun_ct_flush_pool(void);

/* The firewall's named counters (nft objects in table TUN_TABLE). */
enum tun_fw {
	TUN_FW_UNSOLICITED,   /* towards the pool, not of a flow a client opened */
	TUN_FW_INVALID,       /* from the pool, judged invalid by conntrack */
	TUN_FW_TO_HOST,       /* from the pool to the gateway host, refused */
	TUN_FW_LEAK,          /* leaving a non-pool interface with a pool source */
	TUN_FW_CROSS_SLOT,    /* from one slot to another */
	TUN_FW_N,
};

/* The counter's name, as in nft and in the stats line ("unsolicited"...). */
const char *tun_fw_name(enum tun_fw c);

/* ---- The privileged helper ---- */

/*
 * A child process that keeps CAP_NET_ADMIN so that the gateway need not: it
 * runs as the gateway's user with no other capability, no new privileges,
 * no fd but its sockets to the gateway (one per packet loop), and dies
 * with its parent. It deletes one slot's conntrack entries when asked and
 * pushes the firewall counters about once a second. Messages are fixed-size SOCK_SEQPACKET records, each way.
 */
enum tun_priv_type {
	TUN_PRIV_READY = 1,   /* helper -> gateway, once: result 0 or -errno */
	TUN_PRIV_FLUSH,       /* gateway -> helper: delete slot's entries */
	TUN_PRIV_FLUSHED,     /* helper -> gateway: result = entries or -errno */
	TUN_PRIV_COUNTERS,    /* helper -> gateway: packets[] */
};

struct tun_priv_msg {
	uint32_t type;        /* enum tun_priv_type */
	uint32_t slot;        /* FLUSH, FLUSHED: the slot's index in the pool */
	int64_t result;
	uint64_t packets[TUN_FW_N]; /* COUNTERS: per enum tun_fw */
};

/*
 * Forks the helper for pool p; it becomes uid:gid (when started as root)
 * keeping only CAP_NET_ADMIN, and accepts slot indexes below p->n only;
 * with filter, it then confines itself to seccomp.c's SECCOMP_HELPER list.
 * Waits (up to 5 s) until it is ready. Fills fds[0..n) (n from 1 to
 * TUN_PRIV_MAX, one per packet loop) with the gateway's ends of n sockets
 * to that one helper, non-blocking and close-on-exec: the helper answers
 * each request on the socket it came on and pushes the counters to every
 * one. Returns 0, or -1 after one line (no socket open, no helper left).
 */
int tun_priv_start(const struct tun_pool *p, uid_t uid, gid_t gid, bool filter,
		   int fds[], unsigned n) __attribute__((warn_unused_result));

/*
 * Asks the helper to delete slot's conntrack entries; never blocks. Returns
 * 0 when the request is sent, or -1 with errno (EAGAIN: the helper's queue
 * is full, ask again later; anything else: the helper is gone).
 */
int tun_priv_flush(int fd, unsigned slot) __attribute__((warn_unused_result));

/*
 * Reads one message of the helper into *m, never blocking. Returns 1 for a
 * message (TUN_PRIV_FLUSHED or TUN_PRIV_COUNTERS; the caller checks the
 * slot index), 0 when there is none now, -1 when the helper is gone or
 * broke the protocol: the caller then calls tun_priv_close.
 */
int tun_priv_read(int fd, struct tun_priv_msg *m) __attribute__((warn_unused_result));

/*
 * Closes one of the helper's sockets (safe from any thread). The helper
 * serves while one is open; once the last is closed here it exits, and is
 * reaped.
 */
void tun_priv_close(int fd);

/*
 * Ends the helper now, whatever sockets are still open (the caller closes
 * them), and reaps it: the shutdown path that does not wait for every loop
 * to close its socket. Does nothing when no helper runs.
 */
void tun_priv_stop(void);

/* ---- The client's interface ---- */

/*
 * Creates a non-persistent TUN device called name (IFF_TUN | IFF_NO_PI);
 * returns its non-blocking fd, or -1 with errno set. It disappears when the
 * fd is closed. offload and *got as for tun_open.
 */
int tun_create(const char *name, bool offload, unsigned *got);

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

/*
 * Turns IPv6 on for name, which tun_configure turned off, without a
 * link-local address of the kernel's making, and sets addr/prefix (IFA_F_NODAD)
 * unless prefix is 0: a device that only blocks IPv6 has routes and no
 * address. Call it after tun_configure, and again after each. Returns 0,
 * 1 when prefix is 0 and the kernel has no IPv6 (nothing to block), or -1
 * with errno, after one line.
 */
int tun_configure6(const char *name, const uint8_t addr[static 16], unsigned prefix)
	__attribute__((warn_unused_result));

/* tun_route for IPv6: dst/prefix through dev, via gw unless it is NULL. */
int tun_route6(bool add, const uint8_t dst[static 16], unsigned prefix, const uint8_t *gw,
	       const char *dev) __attribute__((warn_unused_result));

/* tun_route_get for IPv6: *has_gw false when dst is on-link. */
int tun_route_get6(const uint8_t dst[static 16], uint8_t gw[static 16], bool *has_gw,
		   char dev[static TUN_NAME_MAX]);

#endif
