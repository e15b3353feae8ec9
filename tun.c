/* SPDX-License-Identifier: MIT */
/*
 * tun.c: the host side of vpngw. It creates and removes the slot pool
 * (persistent TUN devices, their gateway addresses of both families, IP
 * forwarding, the nftables table that is the host firewall, lowered
 * conntrack timeouts),
 * records what setup changed in a state file so that teardown restores
 * exactly that, opens TUN devices, runs the privileged helper that deletes
 * a released slot's conntrack entries and reads the firewall's counters,
 * and configures the client's interface and routes. The pool's devices
 * share link group TUN_GROUP, so that teardown deletes them with one
 * message; setup, teardown and the readiness check read one link dump
 * rather than ask per device. It talks rtnetlink,
 * ctnetlink and nf_tables through netlink.c, and runs no program: it
 * decides what the table holds (fw_describe) and nft.c says it, as nft's
 * text for --dry-run and as the netlink batch it sends. Every reply of the
 * kernel and the state file are parsed by pure functions over (buf, len).
 * It owns no fd it returns: the caller (vpngw.c, client.c) closes them.
 * Packets are not its business.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>

#ifndef TUN_F_USO4              /* Linux 6.2; older headers lack them */
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#include "gso.h"
#include "log.h"
#include "netlink.h"
#include "nft.h"
#include "seccomp.h"
#include "tun.h"

#define TUN_STATE_FILE "/run/vpngw/state"
#define TUN_STATE_ENV "VPNGW_STATE_FILE"	/* overrides it (tests) */
#define TUN_STATE_MAX 262144	/* bytes: 4096 devices take about 80 KiB */
#define STATE_SYSCTL_MAX 8
#define SYSCTL_VAL_MAX 32
#define TABLE_COMMENT_MAX 64	/* "vpngw <16 hex digits>" */
#define NFTNL_UDATA_TABLE_COMMENT 0	/* libnftnl's TLV type of a comment */
#define PRIV_TICK_MS 1000	/* the helper pushes counters this often */
#define PRIV_READY_MS 5000	/* how long tun_priv_start waits for it */

/* The sysctls setup changes, relative to /proc/sys. */
static const struct {
	const char *path;
	const char *value;
	bool lower_only;	/* only if the current value is higher */
} sysctls[] = {
	{ "net/ipv4/ip_forward", "1", false },
	{ "net/netfilter/nf_conntrack_udp_timeout", "30", true },
	{ "net/netfilter/nf_conntrack_udp_timeout_stream", "60", true },
	{ "net/netfilter/nf_conntrack_icmp_timeout", "10", true },
	{ "net/ipv6/conf/all/forwarding", "1", false },	/* SYSCTL_FWD6: IPv6 on */
};
#define SYSCTL_TIMEOUTS 1	/* sysctls[1..SYSCTL_FWD6): after the table */
#define SYSCTL_FWD6 4
/* The egress's accept_ra, 1 made 2 (RAs still taken while forwarding). */
#define ACCEPT_RA_FMT "net/ipv6/conf/%s/accept_ra"

/* What setup changed (the original sysctl values, the devices it made) and
 * the egress interface it masquerades out of. */
struct state {
	struct {
		char path[64];
		char value[SYSCTL_VAL_MAX];
	} sys[STATE_SYSCTL_MAX];
	unsigned n_sys;
	char (*devs)[TUN_NAME_MAX];
	unsigned n_devs;
	char egress[TUN_NAME_MAX];
};

/* The firewall's counters, named as in the table (enum tun_fw order). */
static const char *const fw_names[TUN_FW_N] = {
	"unsolicited", "invalid", "to_host", "leak", "cross_slot",
};

static void say(const char *fmt, ...) PRINTF(1, 2);

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *ip4(uint32_t a, char buf[static INET_ADDRSTRLEN])
{
	struct in_addr in = { .s_addr = htonl(a) };

	return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static uint32_t mask_of(unsigned prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

/* ---- The pool ---- */

void tun_pool_default(struct tun_pool *p)
{
	memset(p, 0, sizeof *p);
	p->n = 5;
	p->net = 0x0a006400;	/* 10.0.100.0 */
	p->prefix = 24;
	snprintf(p->prefix_name, sizeof p->prefix_name, "vpngw");
	p->mtu = TUN_MTU_DEFAULT;
	/* fd00:0:0:100::/64, fd00:0:0:101::/64, ...: the IPv4 pool's numbers. */
	p->net6[0] = 0xfd;
	p->net6[6] = 0x01;
	p->prefix6 = 64;
}

uint32_t tun_slot_net(const struct tun_pool *p, unsigned i)
{
	return p->net + i * (uint32_t)((uint64_t)1 << (32 - p->prefix));
}

void tun_slot_net6(const struct tun_pool *p, unsigned i, uint8_t out[static 16])
{
	unsigned shift = 128 - p->prefix6, carry = 0;
	uint64_t add = i;

	memcpy(out, p->net6, 16);
	/* Adds i << shift, byte by byte from the last one up. */
	for (int b = 15; b >= 0; b--) {
		unsigned lo = (unsigned)(15 - b) * 8, sum = out[b] + carry;

		if (lo + 8 > shift && lo < shift + 64)
			sum += (unsigned)(lo >= shift ? add >> (lo - shift) : add << (shift - lo)) & 0xffu;
		out[b] = (uint8_t)sum;
		carry = sum >> 8;
	}
}

/* Slot i's IPv6 gateway address: its prefix and ::1. */
static void slot_gw6(const struct tun_pool *p, unsigned i, uint8_t out[static 16])
{
	tun_slot_net6(p, i, out);
	out[15] |= 1;
}

void tun_slot_name(const struct tun_pool *p, unsigned i, char out[static TUN_NAME_MAX])
{
	/* pool_check keeps names short; a truncated one never matches. */
	if (snprintf(out, TUN_NAME_MAX, "%s%u", p->prefix_name, i) >= TUN_NAME_MAX)
		out[TUN_NAME_MAX - 1] = '\0';
}

/* "PORT", "PORT/tcp" or "PORT/udp": pure, s is a C string. */
static int port_parse(const char *s, struct tun_port *out)
{
	unsigned long v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9' && p - s < 5; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == s || v < 1 || v > 65535)
		return -1;
	out->port = (uint16_t)v;
	if (*p == '\0' || strcmp(p, "/tcp") == 0)
		out->proto = IPPROTO_TCP;
	else if (strcmp(p, "/udp") == 0)
		out->proto = IPPROTO_UDP;
	else
		return -1;
	return 0;
}

int tun_pool_open_port(struct tun_pool *p, const char *s)
{
	struct tun_port t;
	unsigned i;

	if (port_parse(s, &t) < 0)
		return -1;
	for (i = 0; i < p->n_open; i++)
		if (p->open[i].port == t.port && p->open[i].proto == t.proto)
			return 0;
	if (p->n_open >= TUN_OPEN_MAX)
		return -1;
	p->open[p->n_open++] = t;
	return 0;
}

/* A name safe as an interface name and inside an nft string. */
static bool name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= TUN_NAME_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '\\' || *s == '/' ||
		    *s == '*' || *s == 0x7f)
			return false;
	return true;
}

static int pool_check(const struct tun_pool *p)
{
	char last[TUN_NAME_MAX + 8];

	if (p->n == 0 || p->n > TUN_POOL_MAX) {
		log_warnx("pool of %u slots: must be 1..%d", p->n, TUN_POOL_MAX);
		return -1;
	}
	if (p->prefix < 8 || p->prefix > 30) {
		log_warnx("client prefix /%u: must be 8..30", p->prefix);
		return -1;
	}
	if (p->net & ~mask_of(p->prefix)) {
		log_warnx("subnet is not aligned to /%u", p->prefix);
		return -1;
	}
	if ((uint64_t)p->net + ((uint64_t)p->n << (32 - p->prefix)) > 0x100000000ull) {
		log_warnx("pool of %u /%u subnets does not fit in IPv4", p->n, p->prefix);
		return -1;
	}
	snprintf(last, sizeof last, "%s%u", p->prefix_name, p->n - 1);
	if (!name_ok(p->prefix_name) || !name_ok(last)) {
		log_warnx("bad tun prefix \"%s\": %u devices need names under %d bytes",
			  p->prefix_name, p->n, TUN_NAME_MAX);
		return -1;
	}
	if (p->prefix6 && (p->prefix6 < 16 || p->prefix6 > 126)) {
		log_warnx("client IPv6 prefix /%u: must be 16..126", p->prefix6);
		return -1;
	}
	if (p->mtu < 576 || p->mtu > 65535) {
		log_warnx("MTU %u: must be 576..65535", p->mtu);
		return -1;
	}
	return 0;
}

/* ---- rtnetlink ---- */

/* Opens a socket, sends m, waits for the ACK: 0 or -errno. */
static int rt_talk(struct nl_msg *m)
{
	int fd = nl_open(NETLINK_ROUTE);
	int err;

	if (fd < 0)
		return fd;
	err = nl_talk(fd, m);
	close(fd);
	return err;
}

/* Opens a socket, dumps m to cb, closes it: 0 or -errno. */
static int rt_dump(struct nl_msg *m, nl_cb cb, void *arg)
{
	int fd = nl_open(NETLINK_ROUTE);
	int err;

	if (fd < 0)
		return fd;
	err = nl_dump(fd, m, cb, arg);
	close(fd);
	return err;
}

/* Sets the address a (4 or 16 bytes, network order)/prefix of family on
 * ifindex with flags (IFA_F_*), replacing the same address if present. */
static int rt_addr_family(int fd, unsigned ifindex, int family, const void *a, unsigned prefix,
			  uint32_t flags)
{
	struct nl_msg m;
	struct ifaddrmsg ifa = {
		.ifa_family = (uint8_t)family,
		.ifa_prefixlen = (uint8_t)prefix,
		.ifa_flags = (uint8_t)flags,
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_index = ifindex,
	};
	size_t alen = family == AF_INET6 ? 16 : 4;

	nl_msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
	nl_msg_put(&m, &ifa, sizeof ifa);
	nl_attr_put(&m, IFA_LOCAL, a, alen);
	nl_attr_put(&m, IFA_ADDRESS, a, alen);
	if (flags)
		nl_attr_put_u32(&m, IFA_FLAGS, flags);
	return nl_talk(fd, &m);
}

/* Sets addr/prefix on ifindex, replacing the same address if present. */
static int rt_addr(int fd, unsigned ifindex, uint32_t addr, unsigned prefix)
{
	uint32_t a = htonl(addr);

	return rt_addr_family(fd, ifindex, AF_INET, &a, prefix, 0);
}

/* Sets addr/prefix (IPv6) on ifindex, without duplicate address detection:
 * the device is the only one on its link. */
static int rt_addr6(int fd, unsigned ifindex, const uint8_t addr[static 16], unsigned prefix)
{
	return rt_addr_family(fd, ifindex, AF_INET6, addr, prefix, IFA_F_NODAD);
}

/* Sets the MTU of ifindex, its link group unless group is 0, and brings it
 * up: one RTM_NEWLINK. */
static int rt_link_up(int fd, unsigned ifindex, unsigned mtu, uint32_t group)
{
	struct nl_msg m;
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_index = ifindex,
		.ifi_flags = IFF_UP,
		.ifi_change = IFF_UP,
	};

	nl_msg_init(&m, RTM_NEWLINK, 0);
	nl_msg_put(&m, &ifi, sizeof ifi);
	nl_attr_put_u32(&m, IFLA_MTU, mtu);
	if (group)
		nl_attr_put_u32(&m, IFLA_GROUP, group);
	return nl_talk(fd, &m);
}

static int rt_link_del(const char *name)
{
	struct nl_msg m;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };

	nl_msg_init(&m, RTM_DELLINK, 0);
	nl_msg_put(&m, &ifi, sizeof ifi);
	nl_attr_put(&m, IFLA_IFNAME, name, strlen(name) + 1);
	return rt_talk(&m);
}

/*
 * Deletes every device of link group group: an RTM_DELLINK with no index
 * and no name but IFLA_GROUP, which the kernel (rtnl_group_dellink) does
 * with one unregister_netdevice_many, one RCU grace period for all.
 */
static int rt_group_del(uint32_t group)
{
	struct nl_msg m;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };

	nl_msg_init(&m, RTM_DELLINK, 0);
	nl_msg_put(&m, &ifi, sizeof ifi);
	nl_attr_put_u32(&m, IFLA_GROUP, group);
	return rt_talk(&m);
}

/* ---- The link dump ---- */

/* One device as an RTM_NEWLINK of a dump describes it. */
struct link {
	char name[TUN_NAME_MAX];
	unsigned index;
	uint32_t group;
	bool tun;		/* kind "tun", of type IFF_TUN */
	bool has_owner, has_gid;
	uint32_t owner, gid;	/* a TUN's owner and group, when set */
	bool want;		/* teardown: one of the devices it removes */
};

/* Every device of the namespace, sorted by name once loaded. */
struct links {
	struct link *v;
	unsigned n, cap;
	bool failed;		/* out of memory */
};

/* IFLA_LINKINFO of a TUN: kind "tun", then IFLA_TUN_* in its data. */
static void link_tun_info(const struct nlattr *info, struct link *l)
{
	const struct nlattr *li[IFLA_INFO_MAX + 1], *t[IFLA_TUN_MAX + 1];
	const unsigned char *type;

	if (nl_parse(nl_attr_data(info), nl_attr_len(info), li, IFLA_INFO_MAX) < 0 ||
	    !nl_attr_str_is(li[IFLA_INFO_KIND], "tun") || !li[IFLA_INFO_DATA] ||
	    nl_parse(nl_attr_data(li[IFLA_INFO_DATA]), nl_attr_len(li[IFLA_INFO_DATA]),
		     t, IFLA_TUN_MAX) < 0 ||
	    !t[IFLA_TUN_TYPE] || nl_attr_len(t[IFLA_TUN_TYPE]) < 1)
		return;
	type = nl_attr_data(t[IFLA_TUN_TYPE]);
	l->tun = *type == IFF_TUN;
	l->has_owner = nl_attr_u32(t[IFLA_TUN_OWNER], &l->owner);
	l->has_gid = nl_attr_u32(t[IFLA_TUN_GROUP], &l->gid);
}

/*
 * Parses one message of an RTM_GETLINK dump into *l: index, name, link
 * group (0 when absent), and whether it is a TUN and whose. Pure: every
 * length is checked. Returns false for another message type, a malformed
 * one, or a name that is empty or too long.
 */
static bool link_parse(const struct nlmsghdr *h, struct link *l)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	struct ifinfomsg ifi;
	size_t len;

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof ifi) ||
	    nl_parse_msg(h, sizeof ifi, tb, IFLA_MAX) < 0 || !tb[IFLA_IFNAME])
		return false;
	memcpy(&ifi, NLMSG_DATA(h), sizeof ifi);
	memset(l, 0, sizeof *l);
	len = strnlen(nl_attr_data(tb[IFLA_IFNAME]), nl_attr_len(tb[IFLA_IFNAME]));
	if (len == 0 || len >= TUN_NAME_MAX || ifi.ifi_index <= 0)
		return false;
	memcpy(l->name, nl_attr_data(tb[IFLA_IFNAME]), len);
	l->index = (unsigned)ifi.ifi_index;
	(void)nl_attr_u32(tb[IFLA_GROUP], &l->group);
	if (tb[IFLA_LINKINFO])
		link_tun_info(tb[IFLA_LINKINFO], l);
	return true;
}

static void links_cb(const struct nlmsghdr *h, void *arg)
{
	struct links *ls = arg;
	struct link l;

	if (ls->failed || !link_parse(h, &l))
		return;
	if (ls->n == ls->cap) {
		unsigned cap = ls->cap ? ls->cap * 2 : 64;
		struct link *v = realloc(ls->v, cap * sizeof *v);

		if (!v) {
			ls->failed = true;
			return;
		}
		ls->v = v;
		ls->cap = cap;
	}
	ls->v[ls->n++] = l;
}

static int link_cmp(const void *a, const void *b)
{
	return strcmp(((const struct link *)a)->name, ((const struct link *)b)->name);
}

static void links_sort(struct links *ls)
{
	if (ls->n)
		qsort(ls->v, ls->n, sizeof *ls->v, link_cmp);
}

/* The device called name in sorted ls, or NULL. */
static struct link *links_find(const struct links *ls, const char *name)
{
	struct link key;

	if (!ls->n || strlen(name) >= TUN_NAME_MAX)
		return NULL;
	snprintf(key.name, sizeof key.name, "%s", name);
	return bsearch(&key, ls->v, ls->n, sizeof *ls->v, link_cmp);
}

static void links_free(struct links *ls)
{
	free(ls->v);
	*ls = (struct links){ .v = NULL };
}

/* Every device of the namespace with one RTM_GETLINK dump, sorted by name,
 * into ls. Returns 0, or -1 after one line. */
static int links_load(struct links *ls)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg m;
	int err;

	*ls = (struct links){ .v = NULL };
	nl_msg_init(&m, RTM_GETLINK, 0);
	nl_msg_put(&m, &ifi, sizeof ifi);
	err = rt_dump(&m, links_cb, ls);
	if (!err && ls->failed)
		err = -ENOMEM;
	if (err) {
		errno = -err;
		log_warn("listing the network devices");
		links_free(ls);
		return -1;
	}
	links_sort(ls);
	return 0;
}

/*
 * What teardown may do with link group group, ls's want marks set: the
 * number of devices in the group it wants, or -1 if the group holds any
 * other device, or one of its own that is not a TUN (then it deletes its
 * own one by one). Pure.
 */
static long group_ours(const struct links *ls, uint32_t group)
{
	long ours = 0;

	for (unsigned i = 0; i < ls->n; i++) {
		if (ls->v[i].group != group)
			continue;
		if (!ls->v[i].want || !ls->v[i].tun)
			return -1;
		ours++;
	}
	return ours;
}

struct default_route {
	unsigned char family;	/* AF_INET or AF_INET6 */
	unsigned only_oif;	/* not 0: that interface's routes alone */
	unsigned oif;
	uint32_t metric;
	bool found;
};

/* The outgoing interface of a multipath route: its first hop's. */
static unsigned first_hop(const struct nlattr *mp)
{
	struct rtnexthop nh;

	if (nl_attr_len(mp) < sizeof nh)
		return 0;
	memcpy(&nh, nl_attr_data(mp), sizeof nh);
	return nh.rtnh_len >= sizeof nh ? (unsigned)nh.rtnh_ifindex : 0;
}

static void default_route_cb(const struct nlmsghdr *h, void *arg)
{
	struct default_route *d = arg;
	const struct nlattr *tb[RTA_MAX + 1];
	struct rtmsg rtm;
	uint32_t table, metric = 0, oif = 0;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof rtm))
		return;
	memcpy(&rtm, NLMSG_DATA(h), sizeof rtm);
	if (rtm.rtm_family != d->family || rtm.rtm_dst_len != 0 ||
	    rtm.rtm_type != RTN_UNICAST)
		return;
	if (nl_parse_msg(h, sizeof rtm, tb, RTA_MAX) < 0)
		return;
	if (!nl_attr_u32(tb[RTA_TABLE], &table))
		table = rtm.rtm_table;
	if (table != RT_TABLE_MAIN)
		return;
	(void)nl_attr_u32(tb[RTA_PRIORITY], &metric);
	if (!nl_attr_u32(tb[RTA_OIF], &oif) && tb[RTA_MULTIPATH])
		oif = first_hop(tb[RTA_MULTIPATH]);
	if (!oif || (d->only_oif && oif != d->only_oif) || (d->found && metric >= d->metric))
		return;
	d->oif = oif;
	d->metric = metric;
	d->found = true;
}

/* The IPv4 default route's interface into out, or -1 with one line. */
static int default_egress(char out[static TUN_NAME_MAX])
{
	struct default_route d = { .family = AF_INET };
	struct rtmsg rtm = { .rtm_family = AF_INET };
	struct nl_msg m;
	char name[IF_NAMESIZE];
	int err;

	nl_msg_init(&m, RTM_GETROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	err = rt_dump(&m, default_route_cb, &d);
	if (err < 0) {
		errno = -err;
		log_warn("reading the routing table");
		return -1;
	}
	if (!d.found) {
		log_warnx("no default route; give --egress IFACE");
		return -1;
	}
	if (!if_indextoname(d.oif, name)) {
		log_warn("default route interface %u", d.oif);
		return -1;
	}
	snprintf(out, TUN_NAME_MAX, "%s", name);
	return 0;
}

/* Whether interface name has an IPv6 default route: 1, 0, or -1 after
 * one line. */
static int egress_has_ipv6(const char *name)
{
	struct default_route d = { .family = AF_INET6, .only_oif = if_nametoindex(name) };
	struct rtmsg rtm = { .rtm_family = AF_INET6 };
	struct nl_msg m;
	int err;

	if (!d.only_oif) {
		log_warn("%s", name);
		return -1;
	}
	nl_msg_init(&m, RTM_GETROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	err = rt_dump(&m, default_route_cb, &d);
	if (err < 0) {
		errno = -err;
		log_warn("reading the IPv6 routing table");
		return -1;
	}
	return d.found;
}

/* ---- TUN devices ---- */

/* Attaches an fd to the device name (created if missing and allowed). */
static int attach(const char *name, int oflags, bool vnet)
{
	struct ifreq ifr;
	int fd, err;

	if (strlen(name) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | oflags);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * The offloads fd's device takes, asked for from the most to the least:
 * TCP and UDP super-packets, TCP alone, none. They are the device's, not
 * the fd's: a persistent device keeps what the last attach set, so every
 * attach sets them, to nothing without vnet. Returns gso.h's GSO_TUN_* bits.
 */
static unsigned set_offload(int fd, bool vnet)
{
	static const struct { unsigned long flags; unsigned bits; } ask[] = {
		{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_USO4 | TUN_F_USO6,
		  GSO_TUN_VNET | GSO_TUN_TSO | GSO_TUN_USO },
		{ TUN_F_CSUM | TUN_F_TSO4, GSO_TUN_VNET | GSO_TUN_TSO },
		{ 0, GSO_TUN_VNET },
	};

	for (size_t i = vnet ? 0 : sizeof ask / sizeof ask[0] - 1; i < sizeof ask / sizeof ask[0]; i++)
		if (ioctl(fd, TUNSETOFFLOAD, ask[i].flags) == 0)
			return vnet ? ask[i].bits : 0;
	return vnet ? GSO_TUN_VNET : 0;
}

const char *tun_offload_name(unsigned offload)
{
	if (offload & GSO_TUN_USO)
		return "TCP and UDP super-packets";
	if (offload & GSO_TUN_TSO)
		return "TCP super-packets";
	return "none (the kernel has none)";
}

/* attach() with offloads when wanted and the kernel has IFF_VNET_HDR. */
static int attach_offload(const char *name, int oflags, bool want, unsigned *offload)
{
	int fd = want ? attach(name, oflags, true) : -1;

	if (fd < 0 && want && errno != EINVAL)
		return -1;
	if (fd < 0) {
		want = false;
		fd = attach(name, oflags, false);
	}
	if (fd >= 0)
		*offload = set_offload(fd, want);
	return fd;
}

/* Creates name persistent and owned by uid:gid, or sets those if it exists. */
static int make_persistent(const char *name, uid_t uid, gid_t gid, bool persist)
{
	int fd = attach(name, 0, false);
	int err = 0;

	if (fd < 0)
		return -1;
	if (ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0 ||
	    ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0 ||
	    (persist && ioctl(fd, TUNSETPERSIST, 1UL) < 0))
		err = errno;
	close(fd);
	errno = err;
	return err ? -1 : 0;
}

/*
 * An existing device (l, from the link dump) must be a TUN owned by the
 * pool's uid:gid. Another owner is fixed if possible (the device is not in
 * use).
 */
static int check_existing(const struct tun_pool *p, const struct link *l, bool dry_run)
{
	if (!l->tun) {
		log_warnx("%s exists but is not a TUN device; remove it "
			  "or use --tun-prefix", l->name);
		return -1;
	}
	if (l->has_owner && l->has_gid && l->owner == (uint32_t)p->uid &&
	    l->gid == (uint32_t)p->gid)
		return 0;
	if (dry_run) {
		/* ip tuntap add refuses a device that exists (IFF_TUN_EXCL). */
		say("# %s exists, owned by uid %ld: setup makes it %u:%u "
		    "(TUNSETOWNER, TUNSETGROUP; no ip command does)", l->name,
		    l->has_owner ? (long)l->owner : -1L, (unsigned)p->uid, (unsigned)p->gid);
		return 0;
	}
	if (make_persistent(l->name, p->uid, p->gid, false) < 0) {
		log_warn("%s exists, owned by uid %ld, and its owner cannot be set to %u",
			 l->name, l->has_owner ? (long)l->owner : -1L, (unsigned)p->uid);
		return -1;
	}
	return 0;
}

/* ---- sysctls ---- */

static int sysctl_read(const char *path, char out[static SYSCTL_VAL_MAX])
{
	char full[128];
	ssize_t n;
	int fd;

	snprintf(full, sizeof full, "/proc/sys/%s", path);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, out, SYSCTL_VAL_MAX - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
	return 0;
}

static int sysctl_write(const char *path, const char *value)
{
	char full[128], line[SYSCTL_VAL_MAX + 1];
	int fd, len, err = 0;

	snprintf(full, sizeof full, "/proc/sys/%s", path);
	len = snprintf(line, sizeof line, "%s\n", value);
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	errno = 0;
	if (write(fd, line, len) != len)
		err = errno ? errno : EIO;
	close(fd);
	errno = err;
	return err ? -1 : 0;
}

/*
 * Turns IPv6 off on a tunnel device until vpngw carries IPv6: otherwise the
 * kernel sends its own router solicitations into it. A kernel without IPv6
 * has no such file, which is fine. The setting goes with the device. A
 * device born with it off (net.ipv6.conf.default.disable_ipv6 = 1) is left
 * alone, so that a container whose /proc/sys is read-only can set it up.
 */
static int no_ipv6(const char *name)
{
	char path[96], cur[SYSCTL_VAL_MAX];

	snprintf(path, sizeof path, "net/ipv6/conf/%s/disable_ipv6", name);
	if (sysctl_read(path, cur) == 0 && strcmp(cur, "1") == 0)
		return 0;
	if (sysctl_write(path, "1") < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Lets a tunnel device carry IPv6 and nothing of the kernel's own: no
 * link-local address (addr_gen_mode 1, none), so no router solicitation,
 * no router advertisement taken (accept_ra 0); then IPv6 on. Done before
 * its address and before the link goes up. The settings go with the device.
 */
static const struct { const char *name, *value; } dev6[] = {
	{ "addr_gen_mode", "1" }, { "accept_ra", "0" }, { "disable_ipv6", "0" },
};

static int dev_ipv6(const char *name)
{
	char path[96], cur[SYSCTL_VAL_MAX];

	for (size_t i = 0; i < sizeof dev6 / sizeof dev6[0]; i++) {
		snprintf(path, sizeof path, "net/ipv6/conf/%s/%s", name, dev6[i].name);
		if (sysctl_read(path, cur) == 0 && strcmp(cur, dev6[i].value) == 0)
			continue;
		if (sysctl_write(path, dev6[i].value) < 0)
			return -errno;
	}
	return 0;
}

/* net/ipv4/ip_forward as the operator knows it: net.ipv4.ip_forward. */
static const char *dotted(const char *path, char buf[static 64])
{
	size_t i;

	snprintf(buf, 64, "%s", path);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '/')
			buf[i] = '.';
	return buf;
}

/* ---- The state file ---- */

static const char *state_path(void)
{
	const char *s = getenv(TUN_STATE_ENV);

	return s && *s ? s : TUN_STATE_FILE;
}

static int state_init(struct state *st)
{
	memset(st, 0, sizeof *st);
	st->devs = calloc(TUN_POOL_MAX, sizeof *st->devs);
	if (!st->devs) {
		log_warn("state");
		return -1;
	}
	return 0;
}

static void state_free(struct state *st)
{
	free(st->devs);
	st->devs = NULL;
}

static bool state_has_dev(const struct state *st, const char *name)
{
	unsigned i;

	for (i = 0; i < st->n_devs; i++)
		if (strcmp(st->devs[i], name) == 0)
			return true;
	return false;
}

static void state_add_dev(struct state *st, const char *name)
{
	if (st->n_devs < TUN_POOL_MAX && !state_has_dev(st, name))
		snprintf(st->devs[st->n_devs++], TUN_NAME_MAX, "%s", name);
}

static const char *state_sysctl(const struct state *st, const char *path)
{
	unsigned i;

	for (i = 0; i < st->n_sys; i++)
		if (strcmp(st->sys[i].path, path) == 0)
			return st->sys[i].value;
	return NULL;
}

static void state_add_sysctl(struct state *st, const char *path, const char *value)
{
	if (st->n_sys >= STATE_SYSCTL_MAX || state_sysctl(st, path))
		return;
	snprintf(st->sys[st->n_sys].path, sizeof st->sys[0].path, "%s", path);
	snprintf(st->sys[st->n_sys].value, sizeof st->sys[0].value, "%s", value);
	st->n_sys++;
}

/* The next word of buf[*off..len): separated by spaces or tabs, up to the
 * end of the line. Returns its length (0 at the end of the line). */
static size_t word(const char *buf, size_t len, size_t *off, const char **w)
{
	size_t i = *off, n = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	*w = buf + i;
	while (i + n < len && buf[i + n] != ' ' && buf[i + n] != '\t' &&
	       buf[i + n] != '\n')
		n++;
	*off = i + n;
	return n;
}

/* A word copied into out[cap] if it fits and is printable ASCII. */
static bool word_copy(char *out, size_t cap, const char *w, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (w[i] <= ' ' || w[i] > '~')
			return false;
	memcpy(out, w, n);
	out[n] = '\0';
	return true;
}

/* true if path is net/ipv6/conf/NAME/accept_ra for a device name. */
static bool accept_ra_path(const char *path)
{
	static const char head[] = "net/ipv6/conf/", tail[] = "/accept_ra";
	char name[TUN_NAME_MAX];
	size_t len = strlen(path), n;

	if (len <= sizeof head - 1 + sizeof tail - 1 ||
	    strncmp(path, head, sizeof head - 1) != 0 ||
	    strcmp(path + len - (sizeof tail - 1), tail) != 0)
		return false;
	n = len - (sizeof head - 1) - (sizeof tail - 1);
	if (n >= sizeof name)
		return false;
	memcpy(name, path + sizeof head - 1, n);
	name[n] = '\0';
	return name_ok(name) && strcmp(name, "all") != 0 && strcmp(name, "default") != 0;
}

/* One line of the state file, without its newline: true if understood. */
static bool state_line(struct state *st, const char *line, size_t len)
{
	const char *w[4];
	size_t n[4], off = 0;
	char a[80], b[SYSCTL_VAL_MAX];
	unsigned k, words = 0;

	while (words < 4 && (n[words] = word(line, len, &off, &w[words])) > 0)
		words++;
	if (words == 0 || w[0][0] == '#')
		return true;
	if (words == 3 && n[0] == 6 && memcmp(w[0], "sysctl", 6) == 0 &&
	    word_copy(a, sizeof a, w[1], n[1]) && word_copy(b, sizeof b, w[2], n[2])) {
		/* Only a sysctl setup changes, and only a number, is restored. */
		for (size_t i = 0; b[i]; i++)
			if (b[i] < '0' || b[i] > '9')
				return false;
		for (k = 0; k < sizeof sysctls / sizeof sysctls[0]; k++) {
			if (strcmp(a, sysctls[k].path) == 0) {
				state_add_sysctl(st, a, b);
				return true;
			}
		}
		if (accept_ra_path(a)) {
			state_add_sysctl(st, a, b);
			return true;
		}
		return false;
	}
	if (words == 2 && n[0] == 3 && memcmp(w[0], "dev", 3) == 0 &&
	    word_copy(a, TUN_NAME_MAX, w[1], n[1]) && name_ok(a)) {
		state_add_dev(st, a);
		return true;
	}
	if (words == 2 && n[0] == 6 && memcmp(w[0], "egress", 6) == 0 &&
	    word_copy(st->egress, sizeof st->egress, w[1], n[1])) {
		if (name_ok(st->egress))
			return true;
		st->egress[0] = '\0';
	}
	return false;
}

/*
 * Parses the state file's bytes buf/len into st (prepared by state_init):
 * lines "sysctl PATH VALUE" (PATH one of the sysctls setup changes, VALUE a
 * number), "dev NAME" and "egress NAME"; blank lines and "#" comments. Pure:
 * it reads buf[0..len) only, which need not end with a newline or a NUL.
 * Returns the number of lines it did not understand; they are ignored.
 */
static unsigned state_parse(struct state *st, const char *buf, size_t len)
{
	unsigned bad = 0;
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		if (!state_line(st, buf + off, n))
			bad++;
		off += n + (nl != NULL);
	}
	return bad;
}

/* Loads the state file: 1 if read, 0 if there is none, -1 on error. */
static int state_load(struct state *st)
{
	const char *path = state_path();
	char *buf;
	size_t len = 0;
	ssize_t n = 0;
	unsigned bad;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", path);
		return -1;
	}
	buf = malloc(TUN_STATE_MAX + 1);
	if (!buf) {
		log_warn("%s", path);
		close(fd);
		return -1;
	}
	/* One byte more than allowed tells a file that is too large. */
	while (len <= TUN_STATE_MAX) {
		n = read(fd, buf + len, TUN_STATE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n < 0 || len > TUN_STATE_MAX) {
		if (n < 0)
			log_warn("%s", path);
		else
			log_warnx("%s: larger than %d bytes; not a vpngw state file", path,
				  TUN_STATE_MAX);
		free(buf);
		close(fd);
		return -1;
	}
	close(fd);
	bad = state_parse(st, buf, len);
	free(buf);
	if (bad)
		log_warnx("%s: %u line%s not understood, ignored", path, bad, bad == 1 ? "" : "s");
	return 1;
}

/* Creates the state file's directory (0700) if missing. */
static int state_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* The lines of the state file for st, to f, each after prefix. */
static void state_write(FILE *f, const struct state *st, const char *prefix)
{
	unsigned i;

	fprintf(f, "%s# vpngw setup: what teardown restores\n", prefix);
	for (i = 0; i < st->n_sys; i++)
		fprintf(f, "%ssysctl %s %s\n", prefix, st->sys[i].path, st->sys[i].value);
	for (i = 0; i < st->n_devs; i++)
		fprintf(f, "%sdev %s\n", prefix, st->devs[i]);
	if (st->egress[0])
		fprintf(f, "%segress %s\n", prefix, st->egress);
}

/* What state_save would write, as comments of a dry run's script. */
static void state_say(const struct state *st)
{
	say("# setup records in %s (vpngw's own, no command writes it):", state_path());
	state_write(stdout, st, "#   ");
	fflush(stdout);
}

/* Writes st atomically (temporary file, rename). */
static int state_save(const struct state *st)
{
	const char *path = state_path();
	char tmp[PATH_MAX];
	FILE *f;
	int fd;

	if (state_dir(path) < 0) {
		log_warn("creating the directory of %s", path);
		return -1;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		log_warn("%s", tmp);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	state_write(f, st, "");
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		log_warn("%s", tmp);
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		log_warn("%s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- nf_tables over netlink: the table's comment, the counters ---- */

/* true if h is an nf_tables message of type type, for table TUN_TABLE. */
static bool nft_reply(const struct nlmsghdr *h, unsigned type, unsigned name_attr,
		      const struct nlattr **tb, unsigned max)
{
	return NFNL_SUBSYS_ID(h->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
	       NFNL_MSG_TYPE(h->nlmsg_type) == type &&
	       nl_parse_msg(h, sizeof(struct nfgenmsg), tb, max) == 0 &&
	       nl_attr_str_is(tb[name_attr], TUN_TABLE);
}

/*
 * The comment in a table's user data: libnftnl's TLVs, one byte of type and
 * one of length each, the comment's value a NUL-terminated string. Pure.
 * Copies it into out and returns true, or returns false.
 */
static bool udata_comment(const unsigned char *p, size_t len, char out[static TABLE_COMMENT_MAX])
{
	while (len >= 2) {
		size_t n = p[1];

		if (n > len - 2)
			return false;
		if (p[0] == NFTNL_UDATA_TABLE_COMMENT) {
			const unsigned char *nul = memchr(p + 2, '\0', n);
			size_t sl = nul ? (size_t)(nul - (p + 2)) : n;

			if (sl >= TABLE_COMMENT_MAX)
				return false;
			memcpy(out, p + 2, sl);
			out[sl] = '\0';
			return true;
		}
		p += 2 + n;
		len -= 2 + n;
	}
	return false;
}

struct table_answer {
	char comment[TABLE_COMMENT_MAX];
	bool found;
};

/* NFT_MSG_NEWTABLE of TUN_TABLE: its comment, "" when it has none. */
static void table_cb(const struct nlmsghdr *h, void *arg)
{
	struct table_answer *t = arg;
	const struct nlattr *tb[NFTA_TABLE_MAX + 1];
	const struct nlattr *u;

	if (!nft_reply(h, NFT_MSG_NEWTABLE, NFTA_TABLE_NAME, tb, NFTA_TABLE_MAX))
		return;
	t->found = true;
	t->comment[0] = '\0';
	u = tb[NFTA_TABLE_USERDATA];
	if (u && !udata_comment(nl_attr_data(u), nl_attr_len(u), t->comment))
		t->comment[0] = '\0';
}

/* The comment of the table in place (family inet, or family): 1 and out,
 * 0 if there is no table, -errno if it cannot be read (no CAP_NET_ADMIN). */
static int table_comment_of(uint8_t family, char out[static TABLE_COMMENT_MAX])
{
	struct table_answer t = { .found = false };
	struct nl_msg m;
	int fd = nl_open(NETLINK_NETFILTER), err;

	if (fd < 0)
		return fd;
	nft_msg_init_family(&m, NFT_MSG_GETTABLE, 0, family);
	nl_attr_put_str(&m, NFTA_TABLE_NAME, TUN_TABLE);
	err = nl_query(fd, &m, table_cb, &t);
	close(fd);
	if (err == -ENOENT || (!err && !t.found))
		return 0;
	if (err)
		return err;
	memcpy(out, t.comment, TABLE_COMMENT_MAX);
	return 1;
}

static int table_comment(char out[static TABLE_COMMENT_MAX])
{
	return table_comment_of(NFPROTO_INET, out);
}

struct fw_answer {
	uint64_t packets[TUN_FW_N];
	unsigned seen;		/* bit c: counter c was in the reply */
};

/* NFT_MSG_NEWOBJ: a counter of TUN_TABLE, matched by name. */
static void counter_cb(const struct nlmsghdr *h, void *arg)
{
	struct fw_answer *a = arg;
	const struct nlattr *tb[NFTA_OBJ_MAX + 1], *c[NFTA_COUNTER_MAX + 1];
	uint32_t type;
	uint64_t packets;

	if (!nft_reply(h, NFT_MSG_NEWOBJ, NFTA_OBJ_TABLE, tb, NFTA_OBJ_MAX) ||
	    !nl_attr_be32(tb[NFTA_OBJ_TYPE], &type) || type != NFT_OBJECT_COUNTER ||
	    !tb[NFTA_OBJ_DATA] ||
	    nl_parse(nl_attr_data(tb[NFTA_OBJ_DATA]), nl_attr_len(tb[NFTA_OBJ_DATA]),
		     c, NFTA_COUNTER_MAX) < 0 ||
	    !nl_attr_be64(c[NFTA_COUNTER_PACKETS], &packets))
		return;
	for (unsigned i = 0; i < TUN_FW_N; i++) {
		if (nl_attr_str_is(tb[NFTA_OBJ_NAME], fw_names[i])) {
			a->packets[i] = packets;
			a->seen |= 1u << i;
		}
	}
}

/* Reads the firewall's counters (zero for one the table lacks). Returns 0,
 * or -errno (-ENOENT: no table). Needs CAP_NET_ADMIN. */
static int fw_read(uint64_t packets[static TUN_FW_N])
{
	struct fw_answer a = { .seen = 0 };
	struct nl_msg m;
	int fd = nl_open(NETLINK_NETFILTER), err;

	if (fd < 0)
		return fd;
	nft_msg_init(&m, NFT_MSG_GETOBJ, 0);
	nl_attr_put_str(&m, NFTA_OBJ_TABLE, TUN_TABLE);
	nl_attr_put_be32(&m, NFTA_OBJ_TYPE, NFT_OBJECT_COUNTER);
	err = nl_dump(fd, &m, counter_cb, &a);
	close(fd);
	if (!err && !a.seen)
		err = -ENOENT;
	if (!err)
		memcpy(packets, a.packets, sizeof a.packets);
	return err;
}

const char *tun_fw_name(enum tun_fw c)
{
	return (unsigned)c < TUN_FW_N ? fw_names[c] : "?";
}

/* ---- The table ---- */

/* A growing string, for the table's script (setup time only). */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_put(struct sbuf *b, const char *fmt, ...) PRINTF(2, 3);

static void sb_put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->failed = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
}

/* FNV-1a, 64 bits: the table's fingerprint, not a secret. */
static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* The open ports of proto into out; how many. */
static unsigned open_ports(const struct tun_pool *p, uint8_t proto,
			   uint16_t out[static TUN_OPEN_MAX])
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n_open && n < TUN_OPEN_MAX; i++)
		if (p->open[i].proto == proto)
			out[n++] = p->open[i].port;
	return n;
}

/* The firewall as nft.h's data, and the storage its terms point to. */
struct fw_table {
	struct nft_table t;
	uint16_t tcp[TUN_OPEN_MAX], udp[TUN_OPEN_MAX];
	uint8_t lo6[16], hi6[16];   /* the pool's IPv6 addresses */
};

static struct nft_chain *fw_chain(struct nft_table *t, const char *name, bool nat,
				  unsigned hook, int prio)
{
	struct nft_chain *c = &t->chains[t->n_chains++];

	*c = (struct nft_chain){ .name = name, .nat = nat, .hook = hook, .prio = prio };
	return c;
}

#define IIF(x) { .op = NFT_T_IFNAME, .s = (x), .wild = true }
#define OIF(x) { .op = NFT_T_IFNAME, .s = (x), .wild = true, .out = true }
#define CT(bits) { .op = NFT_T_CT_STATE, .a = (bits) }
#define COUNT(x) { .op = NFT_T_COUNTER, .s = (x) }
#define DO(o) { .op = (o) }
#define ADD(c, ...) (rc |= nft_rule_add((c), (const struct nft_term[]){ __VA_ARGS__, DO(NFT_T_END) }))
#define CT_EST_REL (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED))
#define CT_NEW NF_CT_STATE_BIT(IP_CT_NEW)
#define CT_INVALID NF_CT_STATE_INVALID_BIT

/*
 * prerouting: each new flow from a slot gets that slot's conntrack mark.
 * The map is keyed by the device a flow came in on, not by its source's
 * subnet: one map and one rule for both families, and a flow belongs to
 * the slot whose device it came from whatever source it claims.
 */
static int fw_prerouting(struct nft_table *t, const struct tun_pool *p)
{
	struct nft_chain *c = fw_chain(t, "prerouting", false, NF_INET_PRE_ROUTING, -150);
	int rc = 0;

	t->map = (struct nft_map){ .name = "slot_mark", .ifprefix = p->prefix_name,
				   .mark = TUN_CT_MARK | 1, .n = p->n };
	ADD(c, IIF(p->prefix_name), CT(CT_NEW), { .op = NFT_T_MARK_IFMAP, .s = "slot_mark" });
	return rc;
}

/* forward: no slot to slot, only replies into the pool, the MSS clamped. */
static int fw_forward(struct nft_table *t, const char *n)
{
	struct nft_chain *c = fw_chain(t, "forward", false, NF_INET_FORWARD, 0);
	int rc = 0;

	ADD(c, IIF(n), OIF(n), COUNT("cross_slot"), DO(NFT_T_DROP));
	ADD(c, OIF(n), DO(NFT_T_TCP_SYN), DO(NFT_T_MSS_CLAMP));
	ADD(c, OIF(n), CT(CT_EST_REL), DO(NFT_T_ACCEPT));
	ADD(c, OIF(n), COUNT("unsolicited"), DO(NFT_T_DROP));
	ADD(c, IIF(n), CT(CT_INVALID), COUNT("invalid"), DO(NFT_T_DROP));
	ADD(c, IIF(n), DO(NFT_T_TCP_SYN), DO(NFT_T_MSS_CLAMP));
	ADD(c, IIF(n), DO(NFT_T_ACCEPT));
	return rc;
}

/* input: the gateway host answers the pool on its open ports alone. */
static int fw_input(struct fw_table *fw, const struct tun_pool *p)
{
	struct nft_chain *c = fw_chain(&fw->t, "input", false, NF_INET_LOCAL_IN, 0);
	const char *n = p->prefix_name;
	unsigned n_tcp = open_ports(p, IPPROTO_TCP, fw->tcp);
	unsigned n_udp = open_ports(p, IPPROTO_UDP, fw->udp);
	int rc = 0;

	ADD(c, IIF(n), CT(CT_EST_REL), DO(NFT_T_ACCEPT));
	ADD(c, IIF(n), CT(CT_INVALID), COUNT("invalid"), DO(NFT_T_DROP));
	if (n_tcp)
		ADD(c, IIF(n), { .op = NFT_T_DPORT, .a = IPPROTO_TCP, .ports = fw->tcp,
				 .n_ports = n_tcp }, DO(NFT_T_ACCEPT));
	if (n_udp)
		ADD(c, IIF(n), { .op = NFT_T_DPORT, .a = IPPROTO_UDP, .ports = fw->udp,
				 .n_ports = n_udp }, DO(NFT_T_ACCEPT));
	ADD(c, IIF(n), { .op = NFT_T_L4PROTO, .a = IPPROTO_TCP }, COUNT("to_host"),
	    { .op = NFT_T_REJECT, .a = 1 });
	ADD(c, IIF(n), COUNT("to_host"), DO(NFT_T_REJECT));
	return rc;
}

/* postrouting: the pool masqueraded out of egress; nothing of the pool's
 * leaves elsewhere (but to lo and the pool). With v6, the same for the
 * pool's IPv6 addresses. */
static int fw_postrouting(struct fw_table *fw, const struct tun_pool *p, const char *egress,
			  bool v6)
{
	struct nft_table *t = &fw->t;
	uint32_t lo = p->net, hi = tun_slot_net(p, p->n - 1) + ~mask_of(p->prefix);
	struct nft_chain *c = fw_chain(t, "postrouting", true, NF_INET_POST_ROUTING, 100);
	const struct nft_term src6 = { .op = NFT_T_SADDR6, .a6 = fw->lo6, .b6 = fw->hi6 };
	int rc = 0;

	if (v6) {
		tun_slot_net6(p, 0, fw->lo6);
		tun_slot_net6(p, p->n - 1, fw->hi6);
		for (unsigned bit = p->prefix6; bit < 128; bit++)
			fw->hi6[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
	}
	ADD(c, { .op = NFT_T_SADDR, .a = lo, .b = hi }, { .op = NFT_T_IFNAME, .s = egress, .out = true },
	    DO(NFT_T_MASQ));
	if (v6)
		ADD(c, src6, { .op = NFT_T_IFNAME, .s = egress, .out = true }, DO(NFT_T_MASQ));
	c = fw_chain(t, "egress_guard", false, NF_INET_POST_ROUTING, 101);
	ADD(c, { .op = NFT_T_SADDR, .a = lo, .b = hi },
	    { .op = NFT_T_IFNAME, .s = "lo", .out = true, .neg = true },
	    { .op = NFT_T_IFNAME, .s = p->prefix_name, .out = true, .neg = true, .wild = true },
	    COUNT("leak"), DO(NFT_T_DROP));
	if (v6)
		ADD(c, src6, { .op = NFT_T_IFNAME, .s = "lo", .out = true, .neg = true },
		    { .op = NFT_T_IFNAME, .s = p->prefix_name, .out = true, .neg = true, .wild = true },
		    COUNT("leak"), DO(NFT_T_DROP));
	return rc;
}

/*
 * The table p describes into fw (README, "Setup, the firewall and
 * privileges", says why each rule is there). Only traffic from or to the
 * pool's interfaces is judged; family inet, so the rules that name no
 * address hold for IPv4 and IPv6 alike, and v6 adds the IPv6 pool's
 * masquerade and egress guard. Returns 0, or -1 after one line.
 */
static int fw_describe(struct fw_table *fw, const struct tun_pool *p, const char *egress,
		       bool v6)
{
	struct nft_table *t = &fw->t;

	memset(fw, 0, sizeof *fw);
	t->name = TUN_TABLE;
	t->replaces_ip = true;
	t->counters = fw_names;
	t->n_counters = TUN_FW_N;
	if (fw_prerouting(t, p) || fw_forward(t, p->prefix_name) || fw_input(fw, p) ||
	    fw_postrouting(fw, p, egress, v6)) {
		log_warnx("the nft table has more rules than nft.h allows");
		return -1;
	}
	return 0;
}

/* Each table then its deletion: removes it whether or not it exists; the
 * table ip is an older vpngw's. */
#define NFT_DELETE "table ip " TUN_TABLE "\ndelete table ip " TUN_TABLE "\n" \
	"table inet " TUN_TABLE "\ndelete table inet " TUN_TABLE "\n"

/*
 * The script that replaces table t in one transaction, into b, and the
 * comment that names this exact table ("vpngw" and the fingerprint of its
 * rules) into comment. Returns 0, or -1 after one line.
 */
static int table_text(const struct nft_table *t, struct sbuf *b,
		      char comment[static TABLE_COMMENT_MAX])
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	bool failed = !f;

	if (f) {
		nft_print_body(f, t);
		failed = ferror(f) != 0;
		failed |= fclose(f) != 0;
	}
	if (!failed) {
		snprintf(comment, TABLE_COMMENT_MAX, "%s %016llx", TUN_TABLE,
			 (unsigned long long)fnv1a(body, len));
		sb_put(b, NFT_DELETE "table inet %s {\n\tcomment \"%s\"\n%s",
		       TUN_TABLE, comment, body);
	}
	free(body);
	if (failed || b->failed) {
		log_warnx("out of memory for the nft table");
		return -1;
	}
	return 0;
}

/* The table p describes into fw, and its text into b (table_text). */
static int table_script(struct sbuf *b, struct fw_table *fw, const struct tun_pool *p,
			const char *egress, bool v6, char comment[static TABLE_COMMENT_MAX])
{
	return fw_describe(fw, p, egress, v6) < 0 ? -1 : table_text(&fw->t, b, comment);
}

/*
 * Sends batch b on an nf_tables socket of its own and reads every ACK.
 * Returns 0 (also, with enoent_ok, when the kernel answered ENOENT: no such
 * table to delete), or -1 after one line naming the request that failed.
 */
static int nft_send(struct nl_batch *b, bool enoent_ok)
{
	const struct nlmsghdr *h;
	char what[96];
	unsigned failed;
	int fd, err;

	if (b->failed) {
		log_warnx("out of memory for the nft table");
		return -1;
	}
	fd = nl_open(NETLINK_NETFILTER);
	if (fd < 0) {
		errno = -fd;
		log_warn("nf_tables");
		return -1;
	}
	err = nl_batch_talk(fd, b, &failed);
	close(fd);
	if (!err || (enoent_ok && err == -ENOENT))
		return 0;
	h = nl_batch_msg(b, failed);
	if (h)
		nft_describe(h, what, sizeof what);
	else
		snprintf(what, sizeof what, "%s", err == -EIO ? "replies missing" : "the transaction");
	log_warnx("nf_tables: %s: %s", what, strerror(-err));
	return -1;
}

/* teardown --dry-run: the commands that delete the table and an older
 * vpngw's table ip, if there are. */
static void say_table_delete(void)
{
	char have[TABLE_COMMENT_MAX];

	if (table_comment_of(NFPROTO_IPV4, have) != 0)
		say("nft delete table ip %s", TUN_TABLE);
	if (table_comment(have) == 0)
		say("# no nft table inet %s to delete", TUN_TABLE);
	else
		say("nft delete table inet %s", TUN_TABLE);
}

/* Deletes the table and an older vpngw's table ip, if there are: 0, or -1
 * after one line. */
static int table_delete(void)
{
	struct nl_batch b;
	int rc;

	nl_batch_init(&b);
	nft_encode_purge(&b, TUN_TABLE);
	rc = nft_send(&b, false);
	nl_batch_free(&b);
	return rc;
}

/*
 * Installs the table p describes, unless the one in place is that one
 * (same comment): the counters survive a setup that changes nothing.
 * *changed tells whether it installed. dry_run prints the nft command that
 * would, as a line of a shell script. Returns 0, or -1 after one line.
 */
static int table_install(const struct tun_pool *p, const char *egress, bool v6, bool dry_run,
			 bool *changed)
{
	char want[TABLE_COMMENT_MAX], have[TABLE_COMMENT_MAX];
	struct sbuf b = { .failed = false };
	struct nl_batch batch;
	struct fw_table fw;
	int rc;

	*changed = false;
	if (table_script(&b, &fw, p, egress, v6, want) < 0) {
		free(b.p);
		return -1;
	}
	/* An older vpngw's table ip beside it: replaced too, so it goes. */
	if (table_comment(have) == 1 && strcmp(have, want) == 0 &&
	    table_comment_of(NFPROTO_IPV4, have) == 0) {
		if (dry_run)
			say("# nft table inet %s is in place, unchanged", TUN_TABLE);
		free(b.p);
		return 0;
	}
	if (dry_run) {
		say("nft -f - <<'EOF'\n%sEOF", b.p);
		free(b.p);
		return 0;
	}
	free(b.p);
	nl_batch_init(&batch);
	nft_encode_replace(&batch, &fw.t, want);
	rc = nft_send(&batch, false);
	nl_batch_free(&batch);
	*changed = rc == 0;
	return rc;
}

/* ---- Setup and teardown ---- */

/* What this run of setup did, so that a failure can undo it. */
struct undo {
	char (*devs)[TUN_NAME_MAX];
	unsigned n_devs;
	struct {
		char path[64];
		char value[SYSCTL_VAL_MAX];
	} sys[STATE_SYSCTL_MAX];
	unsigned n_sys;
	bool table;
};

static void undo_run(struct undo *u)
{
	char name[64];
	unsigned i;

	for (i = 0; i < u->n_devs; i++)
		(void)rt_link_del(u->devs[i]);
	if (u->table)
		(void)table_delete();
	for (i = 0; i < u->n_sys; i++)
		if (sysctl_write(u->sys[i].path, u->sys[i].value) < 0)
			log_warn("restoring %s", dotted(u->sys[i].path, name));
}

/*
 * What setup_slot does to slot name's device once it exists, as commands:
 * IPv6 as dev_ipv6 leaves it with gw6, else none (if the kernel has it),
 * the addresses, then one RTM_NEWLINK.
 */
static void say_slot(const struct tun_pool *p, const char *name, const char *gw,
		     const char *gw6)
{
	if (gw6)
		for (size_t i = 0; i < sizeof dev6 / sizeof dev6[0]; i++)
			say("sysctl -qw net.ipv6.conf.%s.%s=%s", name, dev6[i].name, dev6[i].value);
	else if (access("/proc/sys/net/ipv6", F_OK) == 0)
		say("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1", name);
	say("ip addr replace %s/%u dev %s", gw, p->prefix, name);
	if (gw6)
		say("ip -6 addr replace %s/%u dev %s nodad", gw6, p->prefix6, name);
	say("ip link set dev %s group %#x mtu %u up", name, TUN_GROUP, p->mtu);
}

/*
 * Creates or fixes slot i's device (ls: the devices that exist), then its
 * address, MTU, link group and link, through the rtnetlink socket rt.
 * dry_run prints the ip commands that would, and records the device in st
 * as setup would.
 */
static int setup_slot(const struct tun_pool *p, unsigned i, const struct links *ls,
		      int rt, struct state *st, struct undo *u, bool v6, bool dry_run)
{
	char name[TUN_NAME_MAX], gw[INET_ADDRSTRLEN], gw6[INET6_ADDRSTRLEN];
	uint32_t addr = tun_slot_net(p, i) + 1;
	uint8_t addr6[16];
	const struct link *l;
	unsigned idx;
	int err;

	tun_slot_name(p, i, name);
	ip4(addr, gw);
	slot_gw6(p, i, addr6);
	inet_ntop(AF_INET6, addr6, gw6, sizeof gw6);
	l = links_find(ls, name);
	if (!l) {
		if (dry_run) {
			say("ip tuntap add dev %s mode tun user %u group %u", name,
			    (unsigned)p->uid, (unsigned)p->gid);
			say_slot(p, name, gw, v6 ? gw6 : NULL);
			state_add_dev(st, name);
			return 0;
		}
		if (make_persistent(name, p->uid, p->gid, true) < 0) {
			log_warn("creating tun %s", name);
			return -1;
		}
		snprintf(u->devs[u->n_devs++], TUN_NAME_MAX, "%s", name);
		state_add_dev(st, name);
		idx = if_nametoindex(name);
		if (!idx) {
			log_warn("%s", name);
			return -1;
		}
	} else {
		if (check_existing(p, l, dry_run) < 0)
			return -1;
		if (dry_run) {
			say_slot(p, name, gw, v6 ? gw6 : NULL);
			return 0;
		}
		idx = l->index;
	}
	err = v6 ? dev_ipv6(name) : no_ipv6(name);
	if (!err)
		err = rt_addr(rt, idx, addr, p->prefix);
	if (!err && v6)
		err = rt_addr6(rt, idx, addr6, p->prefix6);
	if (!err)
		err = rt_link_up(rt, idx, p->mtu, TUN_GROUP);
	if (err) {
		errno = -err;
		log_warn("configuring %s %s/%u%s%s mtu %u", name, gw, p->prefix,
			 v6 ? " " : "", v6 ? gw6 : "", p->mtu);
		return -1;
	}
	return 0;
}

/* Every slot's device, through one link dump and one rtnetlink socket. */
static int setup_slots(const struct tun_pool *p, struct state *st, struct undo *u,
		       bool v6, bool dry_run)
{
	struct links ls;
	int rt, rc = 0;

	if (links_load(&ls) < 0)
		return -1;
	rt = nl_open(NETLINK_ROUTE);
	if (rt < 0) {
		errno = -rt;
		log_warn("rtnetlink");
		links_free(&ls);
		return -1;
	}
	for (unsigned i = 0; i < p->n && rc == 0; i++)
		rc = setup_slot(p, i, &ls, rt, st, u, v6, dry_run);
	close(rt);
	links_free(&ls);
	return rc;
}

/*
 * Sets sysctl k (an index in sysctls) unless it is already right, keeping
 * its original value in the state (unless a previous run did) and in u.
 * A missing file is skipped when optional (nf_conntrack not loaded).
 */
static int set_sysctl(const char *path, const char *want, bool lower_only, const char *only_from,
		      struct state *st, struct undo *u, bool dry_run)
{
	char cur[SYSCTL_VAL_MAX], name[64];

	dotted(path, name);
	if (sysctl_read(path, cur) < 0) {
		if (errno == ENOENT && lower_only) {
			if (dry_run)
				say("[ \"$(sysctl -n %s)\" -le %s ] || sysctl -w %s=%s",
				    name, want, name, want);
			else
				log_debug("%s: nf_conntrack not loaded", name);
			return 0;
		}
		log_warn("reading %s", name);
		return -1;
	}
	if (strcmp(cur, want) == 0 || (only_from && strcmp(cur, only_from) != 0) ||
	    (lower_only && strtoul(cur, NULL, 10) <= strtoul(want, NULL, 10)))
		return 0;
	if (dry_run) {
		say("sysctl -w %s=%s", name, want);
		state_add_sysctl(st, path, cur);
		return 0;
	}
	if (sysctl_write(path, want) < 0) {
		log_warn("setting %s to %s", name, want);
		return -1;
	}
	snprintf(u->sys[u->n_sys].path, sizeof u->sys[0].path, "%s", path);
	snprintf(u->sys[u->n_sys].value, SYSCTL_VAL_MAX, "%s", cur);
	u->n_sys++;
	state_add_sysctl(st, path, cur);
	return 0;
}

static int setup_sysctl(unsigned k, struct state *st, struct undo *u, bool dry_run)
{
	return set_sysctl(sysctls[k].path, sysctls[k].value, sysctls[k].lower_only, NULL,
			  st, u, dry_run);
}

/*
 * Whether setup gives the slots IPv6: with p->prefix6, a kernel with IPv6,
 * an MTU IPv6 allows and an IPv6 default route out of egress. Without one
 * of those IPv6 is off, said in one line, unless --subnet6 asked for it:
 * then setup fails, before it changed anything. 1, 0, or -1 after one line.
 */
static int want_ipv6(const struct tun_pool *p, const char *egress, bool dry_run)
{
	char cur[SYSCTL_VAL_MAX];
	const char *why = NULL;
	int r;

	if (!p->prefix6)
		return 0;
	if (access("/proc/sys/net/ipv6", F_OK) != 0) {
		why = "the kernel has no IPv6";
	} else if (p->mtu < 1280) {
		why = "IPv6 needs an MTU of 1280 or more";
	} else if (access("/proc/sys/net/ipv6/conf/all/forwarding", W_OK) != 0 &&
		   (sysctl_read("net/ipv6/conf/all/forwarding", cur) != 0 ||
		    strcmp(cur, "1") != 0)) {
		/* A container's read-only /proc/sys, IPv6 forwarding not set
		 * beforehand (docker run --sysctl). */
		why = "net.ipv6.conf.all.forwarding is 0 and cannot be set";
	} else {
		r = egress_has_ipv6(egress);
		if (r < 0)
			return -1;
		if (r)
			return 1;
		why = "no IPv6 default route";
	}
	if (p->prefix6_given) {
		log_warnx("--subnet6: %s (egress %s); give --subnet6 none for IPv4 alone",
			  why, egress);
		return -1;
	}
	if (dry_run)
		say("# IPv6 off: %s (egress %s)", why, egress);
	else
		log_info("IPv6 off: %s (egress %s)", why, egress);
	return 0;
}

/*
 * The interface to masquerade out of: the given one, else the one a
 * previous setup recorded (if it still exists), else the default route's.
 */
static int find_egress(const struct tun_pool *p, const struct state *st,
		       char out[static TUN_NAME_MAX])
{
	if (!p->egress[0] && st->egress[0] && if_nametoindex(st->egress)) {
		snprintf(out, TUN_NAME_MAX, "%s", st->egress);
		return 0;
	}
	if (!p->egress[0])
		return default_egress(out);
	if (!name_ok(p->egress)) {
		log_warnx("bad egress interface name \"%s\"", p->egress);
		return -1;
	}
	if (!if_nametoindex(p->egress)) {
		log_warnx("egress interface %s does not exist", p->egress);
		return -1;
	}
	snprintf(out, TUN_NAME_MAX, "%s", p->egress);
	return 0;
}

/*
 * Setting net.ipv6.conf.all.forwarding makes every device a router: each
 * slot's joins the all-routers groups and the kernel sends its MLD reports
 * into the tunnel. The slots' own forwarding back to 0 leaves them only
 * the groups nothing reports (ff02::1, ff01::1); the host still forwards
 * between them and the egress, which all.forwarding alone decides. It goes
 * with the device.
 */
static int slots_host6(const struct tun_pool *p, bool dry_run)
{
	char name[TUN_NAME_MAX], path[96], cur[SYSCTL_VAL_MAX];

	for (unsigned i = 0; i < p->n; i++) {
		tun_slot_name(p, i, name);
		snprintf(path, sizeof path, "net/ipv6/conf/%s/forwarding", name);
		if (dry_run) {
			say("sysctl -qw net.ipv6.conf.%s.forwarding=0", name);
			continue;
		}
		if (sysctl_read(path, cur) == 0 && strcmp(cur, "0") == 0)
			continue;
		if (sysctl_write(path, "0") < 0) {
			log_warn("setting net.ipv6.conf.%s.forwarding to 0", name);
			return -1;
		}
	}
	return 0;
}

static int setup_steps(const struct tun_pool *p, struct state *st,
		       struct undo *u, bool dry_run)
{
	char egress[TUN_NAME_MAX], ra[64];
	unsigned k;
	bool changed;
	int v6;

	if (find_egress(p, st, egress) < 0 || (v6 = want_ipv6(p, egress, dry_run)) < 0 ||
	    setup_slots(p, st, u, v6, dry_run) < 0)
		return -1;
	if (setup_sysctl(0, st, u, dry_run) < 0)
		return -1;
	/* Forwarding makes the kernel ignore RAs on an egress that takes them
	 * (accept_ra 1, the default): 2 keeps its default route coming. */
	snprintf(ra, sizeof ra, ACCEPT_RA_FMT, egress);
	if (v6 && (set_sysctl(ra, "2", false, "1", st, u, dry_run) < 0 ||
		   setup_sysctl(SYSCTL_FWD6, st, u, dry_run) < 0 || slots_host6(p, dry_run) < 0))
		return -1;
	/* The masquerade rule loads nf_conntrack: timeouts come after it. */
	if (table_install(p, egress, v6, dry_run, &changed) < 0)
		return -1;
	u->table = changed;
	for (k = SYSCTL_TIMEOUTS; k < SYSCTL_FWD6; k++)
		if (setup_sysctl(k, st, u, dry_run) < 0)
			return -1;
	snprintf(st->egress, sizeof st->egress, "%s", egress);
	if (dry_run) {
		state_say(st);
		return 0;
	}
	return state_save(st);
}

int tun_setup(const struct tun_pool *p, bool dry_run)
{
	struct state st;
	struct undo u = { 0 };
	int had, rc = -1;

	if (pool_check(p) < 0 || state_init(&st) < 0)
		return -1;
	u.devs = calloc(p->n, sizeof *u.devs);
	if (!u.devs) {
		log_warn("setup");
		goto out;
	}
	had = state_load(&st);
	if (had < 0)
		goto out;
	/* A table a previous setup installed stays if this run fails. */
	rc = setup_steps(p, &st, &u, dry_run);
	if (had > 0)
		u.table = false;
	if (rc < 0 && !dry_run)
		undo_run(&u);
out:
	free(u.devs);
	state_free(&st);
	return rc;
}

static int teardown_dev(const char *name, bool dry_run)
{
	int err;

	if (dry_run) {
		say("ip link delete dev %s", name);
		return 0;
	}
	err = rt_link_del(name);
	if (err && err != -ENODEV) {
		errno = -err;
		log_warn("deleting %s", name);
		return -1;
	}
	return 0;
}

/*
 * Deletes the devices teardown wants (marked in ls): all of link group
 * TUN_GROUP at once when the group holds nothing else, then one by one
 * those left (outside the group: an older setup's; or all of them when the
 * group holds another device).
 */
static int teardown_devs(struct links *ls, bool dry_run)
{
	long ours = group_ours(ls, TUN_GROUP);
	bool group_gone = false;
	int err, rc = 0;

	if (ours < 0)
		log_info("link group %#x holds devices not of this pool: "
			 "deleting the pool's one by one", TUN_GROUP);
	if (ours > 0 && dry_run) {
		say("# the %ld tun devices of link group %#x at once", ours, TUN_GROUP);
		say("ip link delete group %#x", TUN_GROUP);
		group_gone = true;
	} else if (ours > 0) {
		err = rt_group_del(TUN_GROUP);
		if (err) {
			errno = -err;
			log_warn("deleting link group %#x; deleting one by one", TUN_GROUP);
		}
		group_gone = !err;
	}
	for (unsigned i = 0; i < ls->n; i++)
		if (ls->v[i].want && !(group_gone && ls->v[i].group == TUN_GROUP) &&
		    teardown_dev(ls->v[i].name, dry_run) < 0)
			rc = -1;
	return rc;
}

/* Marks in ls the devices teardown removes: those the state file lists,
 * or with none (had 0) the pool's names. */
static void teardown_mark(struct links *ls, const struct state *st, int had,
			  const struct tun_pool *p)
{
	char name[TUN_NAME_MAX];
	struct link *l;

	for (unsigned i = 0; i < (had ? st->n_devs : p->n); i++) {
		if (had)
			snprintf(name, sizeof name, "%s", st->devs[i]);
		else
			tun_slot_name(p, i, name);
		l = links_find(ls, name);
		if (l)
			l->want = true;
	}
}

static int teardown_sysctls(const struct state *st, bool dry_run)
{
	char name[64];
	unsigned i;
	int rc = 0;

	for (i = 0; i < st->n_sys; i++) {
		dotted(st->sys[i].path, name);
		if (dry_run) {
			say("sysctl -w %s=%s", name, st->sys[i].value);
		} else if (sysctl_write(st->sys[i].path, st->sys[i].value) < 0 &&
			   errno != ENOENT) {
			log_warn("restoring %s to %s", name, st->sys[i].value);
			rc = -1;
		}
	}
	return rc;
}

int tun_teardown(const struct tun_pool *p, bool dry_run)
{
	struct links ls;
	struct state st;
	int had, rc = 0;

	if (pool_check(p) < 0 || state_init(&st) < 0)
		return -1;
	had = state_load(&st);
	if (had < 0) {
		state_free(&st);
		return -1;
	}
	if (had == 0)
		log_warnx("no state file %s: removing the pool's devices and table, "
			  "leaving sysctls alone", state_path());
	if (links_load(&ls) < 0) {
		rc = -1;
	} else {
		teardown_mark(&ls, &st, had, p);
		rc = teardown_devs(&ls, dry_run);
		links_free(&ls);
	}
	if (dry_run)
		say_table_delete();
	else if (table_delete() < 0)
		rc = -1;
	if (teardown_sysctls(&st, dry_run) < 0)
		rc = -1;
	/* Kept after a failure, so that teardown can be run again. */
	if (had && rc == 0) {
		if (dry_run)
			say("rm -f %s", state_path());
		else if (unlink(state_path()) < 0 && errno != ENOENT)
			log_warn("%s", state_path());
	}
	state_free(&st);
	return rc;
}

bool tun_pool_ready(const struct tun_pool *p)
{
	char name[TUN_NAME_MAX];
	struct links ls;
	bool ready = p->n > 0;

	if (links_load(&ls) < 0)
		return false;
	for (unsigned i = 0; i < p->n && ready; i++) {
		tun_slot_name(p, i, name);
		ready = links_find(&ls, name) != NULL;
	}
	links_free(&ls);
	return ready;
}

/* An RTM_NEWADDR of a dump: whether it is want on index. */
struct addr6_find {
	unsigned index;
	uint8_t want[16];
	bool found;
};

static void addr6_cb(const struct nlmsghdr *h, void *arg)
{
	struct addr6_find *f = arg;
	const struct nlattr *tb[IFA_MAX + 1];
	struct ifaddrmsg ifa;
	const struct nlattr *a;

	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof ifa))
		return;
	memcpy(&ifa, NLMSG_DATA(h), sizeof ifa);
	if (ifa.ifa_family != AF_INET6 || ifa.ifa_index != f->index ||
	    nl_parse_msg(h, sizeof ifa, tb, IFA_MAX) < 0)
		return;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (a && nl_attr_len(a) == 16 && memcmp(nl_attr_data(a), f->want, 16) == 0)
		f->found = true;
}

/* Whether device index holds addr (IPv6): 1, 0, or -errno. */
static int has_addr6(unsigned index, const uint8_t addr[static 16])
{
	struct addr6_find f = { .index = index };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6, .ifa_index = index };
	struct nl_msg m;
	int err;

	memcpy(f.want, addr, 16);
	nl_msg_init(&m, RTM_GETADDR, 0);
	nl_msg_put(&m, &ifa, sizeof ifa);
	err = rt_dump(&m, addr6_cb, &f);
	return err ? err : f.found;
}

int tun_pool_ipv6(const struct tun_pool *p)
{
	char name[TUN_NAME_MAX];
	uint8_t gw[16];
	unsigned idx;
	int rc;

	if (!p->prefix6 || access("/proc/sys/net/ipv6", F_OK) != 0)
		return 0;
	tun_slot_name(p, 0, name);
	idx = if_nametoindex(name);
	if (!idx) {
		log_warn("%s", name);
		return -1;
	}
	slot_gw6(p, 0, gw);
	rc = has_addr6(idx, gw);
	if (rc < 0) {
		errno = -rc;
		log_warn("reading the IPv6 addresses of %s", name);
		return -1;
	}
	return rc;
}

int tun_table_ensure(const struct tun_pool *p)
{
	char egress[TUN_NAME_MAX];
	struct state st;
	bool changed = false;
	int rc = -1, v6;

	if (pool_check(p) < 0 || state_init(&st) < 0)
		return -1;
	if (state_load(&st) >= 0 && find_egress(p, &st, egress) == 0 &&
	    (v6 = tun_pool_ipv6(p)) >= 0)
		rc = table_install(p, egress, v6 == 1, false, &changed);
	if (rc == 0 && changed)
		log_info("installed the current nft table inet %s: the one in place was "
			 "missing or not this one", TUN_TABLE);
	state_free(&st);
	return rc;
}

int tun_open(const char *name, bool offload, unsigned *got)
{
	/* Never create: a missing slot device is an error, not a new tun. */
	if (!if_nametoindex(name)) {
		errno = ENODEV;
		return -1;
	}
	return attach_offload(name, O_NONBLOCK, offload, got);
}

/* ---- Conntrack ---- */

static void ct_msg(struct nl_msg *m, unsigned type, uint32_t mark, uint32_t mask)
{
	/* AF_UNSPEC: entries of both families (a kernel that filters a
	 * flush by family keeps to the one named, and AF_INET is IPv4's). */
	struct nfgenmsg nfg = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 };

	nl_msg_init(m, (NFNL_SUBSYS_CTNETLINK << 8) | type, 0);
	nl_msg_put(m, &nfg, sizeof nfg);
	nl_attr_put_be32(m, CTA_MARK, mark);
	nl_attr_put_be32(m, CTA_MARK_MASK, mask);
}

struct ct_count {
	uint32_t mark, mask;
	long n;			/* entries whose mark matches */
	long other;		/* entries the kernel returned that do not */
};

/* IPCTNL_MSG_CT_NEW of a dump: counted by whether its mark matches. */
static void ct_count_cb(const struct nlmsghdr *h, void *arg)
{
	struct ct_count *c = arg;
	const struct nlattr *tb[CTA_MAX + 1];
	uint32_t mark = 0;

	if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
	    NFNL_MSG_TYPE(h->nlmsg_type) != IPCTNL_MSG_CT_NEW ||
	    nl_parse_msg(h, sizeof(struct nfgenmsg), tb, CTA_MAX) < 0)
		return;
	(void)nl_attr_be32(tb[CTA_MARK], &mark);
	if ((mark & c->mask) == c->mark)
		c->n++;
	else
		c->other++;
}

/*
 * Deletes every conntrack entry whose mark matches mark under mask, with
 * one IPCTNL_MSG_CT_DELETE that names no tuple but CTA_MARK and
 * CTA_MARK_MASK: the kernel walks its table once. A kernel that ignored
 * the mark (no CONFIG_NF_CONNTRACK_MARK) would delete every entry, so a
 * dump with the same filter comes first: it counts the entries, and if it
 * returns one of another mark, nothing is deleted (-EOPNOTSUPP). Returns
 * the count, or -errno.
 */
static long ct_flush_marked(uint32_t mark, uint32_t mask)
{
	struct ct_count c = { .mark = mark & mask, .mask = mask };
	struct nl_msg m;
	int fd = nl_open(NETLINK_NETFILTER), err;

	if (fd < 0)
		return fd;
	ct_msg(&m, IPCTNL_MSG_CT_GET, mark, mask);
	err = nl_dump(fd, &m, ct_count_cb, &c);
	if (!err && c.other)
		err = -EOPNOTSUPP;
	if (!err) {
		ct_msg(&m, IPCTNL_MSG_CT_DELETE, mark, mask);
		err = nl_talk(fd, &m);
	}
	close(fd);
	return err ? err : c.n;
}

long tun_ct_flush_pool(void)
{
	long n = ct_flush_marked(TUN_CT_MARK, TUN_CT_MARK_MASK);

	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

/* ---- The privileged helper ---- */

static pid_t priv_pid;		/* the helper, while it runs */
static unsigned priv_open;	/* the gateway's sockets to it still open */

static uint64_t priv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends one message (the helper's side): blocking, or with MSG_DONTWAIT
 * in flags not. Returns 0 or -1. */
static int priv_send(int sock, const struct tun_priv_msg *m, int flags)
{
	ssize_t n;

	do
		n = send(sock, m, sizeof *m, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof *m ? 0 : -1;
}

/*
 * Closes every fd but keep[0..n), which it sorts: the ranges between them
 * with close_range where the kernel has it, else one by one.
 */
static void close_all_but(int keep[], unsigned n)
{
	struct rlimit rl;	/* sysconf(_SC_OPEN_MAX), without its 1 KiB of libc */
	long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ?
		   (long)rl.rlim_cur : 65536;
	unsigned i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
#ifdef SYS_close_range
	{
		unsigned lo = 0;
		bool ok = true;

		for (i = 0; i < n && ok; i++) {
			if ((unsigned)keep[i] > lo)
				ok = syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0u) == 0;
			lo = (unsigned)keep[i] + 1;
		}
		if (ok && syscall(SYS_close_range, lo, ~0u, 0u) == 0)
			return;
	}
#endif
	for (int fd = 0, k = 0; fd < max; fd++) {
		while ((unsigned)k < n && keep[k] < fd)
			k++;
		if ((unsigned)k >= n || keep[k] != fd)
			close(fd);
	}
}

/*
 * Becomes the helper: uid:gid (when root) with CAP_NET_ADMIN alone, in the
 * bounding set too; no new privileges, not dumpable (the gateway, of the
 * same uid, cannot ptrace it), killed when parent dies; no fd but its
 * sockets socks[0..n). Returns 0 or -errno.
 */
static int priv_become(int socks[], unsigned n, uid_t uid, gid_t gid, pid_t parent)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	int keep[TUN_PRIV_MAX];
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, "vpngw-ct", 0, 0, 0);
	memcpy(keep, socks, n * sizeof *keep);
	close_all_but(keep, n);
	if (geteuid() == 0) {
		for (int cap = 0; cap <= 63; cap++)
			if (cap != CAP_NET_ADMIN && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				return -errno;
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
			return -errno;
	}
	data[0].effective = data[0].permitted = 1u << CAP_NET_ADMIN;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* A change of credentials clears the parent-death signal: set it now. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	if (getppid() != parent)
		_exit(0);
	return 0;
}

/* One request: a flush of a slot below n, answered whatever happens.
 * Returns -1 if the answer cannot be sent (that socket is done). */
static int priv_request(int sock, const struct tun_priv_msg *req, unsigned n)
{
	struct tun_priv_msg m = { .type = TUN_PRIV_FLUSHED, .slot = req->slot };

	if (req->type != TUN_PRIV_FLUSH || req->slot >= n)
		m.result = -EINVAL;
	else
		m.result = ct_flush_marked(TUN_CT_MARK | (req->slot + 1), 0xffffffffu);
	return priv_send(sock, &m, 0);
}

/* One readable socket: 0 while it is open, -1 once it is closed. */
static int priv_readable(int sock, unsigned n)
{
	struct tun_priv_msg req;
	ssize_t got = recv(sock, &req, sizeof req, MSG_TRUNC | MSG_DONTWAIT);

	if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (got <= 0)
		return -1;
	if ((size_t)got == sizeof req)
		return priv_request(sock, &req, n);
	return 0;
}

/*
 * The counters to every open socket in pfd[0..k) that has not seen them:
 * without blocking, since one loop that does not read must not stop the
 * others; a socket whose queue is full gets them at the next tick.
 */
static void priv_push(struct pollfd *pfd, unsigned k, const struct tun_priv_msg *cnt,
		      uint64_t (*last)[TUN_FW_N])
{
	for (unsigned i = 0; i < k; i++) {
		if (pfd[i].fd < 0 || memcmp(cnt->packets, last[i], sizeof last[i]) == 0)
			continue;
		if (priv_send(pfd[i].fd, cnt, MSG_DONTWAIT) == 0)
			memcpy(last[i], cnt->packets, sizeof last[i]);
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			pfd[i].fd = -1;
	}
}

/*
 * The helper's loop over socks[0..k): each request is answered on the
 * socket it came on; between them, and at least every PRIV_TICK_MS, the
 * counters are read and pushed to each socket when they changed for it.
 * It serves while one socket is open, and exits when none is.
 */
static noreturn void priv_serve(const int socks[], unsigned k, unsigned n)
{
	struct tun_priv_msg cnt = { .type = TUN_PRIV_COUNTERS };
	struct pollfd pfd[TUN_PRIV_MAX];
	uint64_t last[TUN_PRIV_MAX][TUN_FW_N];
	uint64_t next = 0;
	unsigned open = k;

	memset(last, 0, sizeof last);
	for (unsigned i = 0; i < k; i++)
		pfd[i] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
	while (open > 0) {
		uint64_t now = priv_now();
		int r;

		if (now >= next) {
			if (fw_read(cnt.packets) == 0)
				priv_push(pfd, k, &cnt, last);
			next = now + PRIV_TICK_MS;
		}
		r = poll(pfd, k, (int)(next - now));
		if (r < 0 && errno != EINTR)
			_exit(1);
		for (unsigned i = 0; r > 0 && i < k; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents &&
			    priv_readable(pfd[i].fd, n) < 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		open = 0;
		for (unsigned i = 0; i < k; i++)
			open += pfd[i].fd >= 0;
	}
	_exit(0);
}

static void priv_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* n socket pairs: the gateway's ends in mine, the helper's in theirs. */
static int priv_pairs(int mine[], int theirs[], unsigned n)
{
	int sv[2];

	for (unsigned i = 0; i < n; i++)
		mine[i] = theirs[i] = -1;
	for (unsigned i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			log_warn("conntrack helper: socketpair");
			close_fds(mine, i);
			close_fds(theirs, i);
			for (unsigned j = 0; j < i; j++)
				mine[j] = theirs[j] = -1;
			return -1;
		}
		mine[i] = sv[0];
		theirs[i] = sv[1];
	}
	return 0;
}

/* The helper's first message, on the first socket: 0 when it is ready, or
 * -1 after one line. */
static int priv_wait_ready(int fd, uid_t uid, bool filter)
{
	struct tun_priv_msg m;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t got = -1;
	int r;

	/* Start-up may block: nothing is served yet. */
	do
		r = poll(&pfd, 1, PRIV_READY_MS);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		got = recv(fd, &m, sizeof m, MSG_TRUNC | MSG_DONTWAIT);
	if (got == (ssize_t)sizeof m && m.type == TUN_PRIV_READY && m.result == 0)
		return 0;
	if (got == (ssize_t)sizeof m && m.type == TUN_PRIV_READY && m.result < 0) {
		errno = (int)-m.result;
		log_warn("conntrack helper: dropping to uid %u with CAP_NET_ADMIN%s",
			 (unsigned)uid, filter ? " under its seccomp filter" : "");
	} else {
		log_warnx("conntrack helper: no answer at start-up");
	}
	return -1;
}

int tun_priv_start(const struct tun_pool *p, uid_t uid, gid_t gid, bool filter,
		   int fds[], unsigned n)
{
	int theirs[TUN_PRIV_MAX];
	pid_t parent = getpid(), pid;
	unsigned i;

	if (n == 0 || n > TUN_PRIV_MAX) {
		log_warnx("conntrack helper: %u sockets: must be 1..%d", n, TUN_PRIV_MAX);
		return -1;
	}
	if (priv_pid > 0) {
		log_warnx("conntrack helper: already running");
		return -1;
	}
	if (priv_pairs(fds, theirs, n) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		log_warn("conntrack helper: fork");
		close_fds(fds, n);
		close_fds(theirs, n);
		return -1;
	}
	if (pid == 0) {
		struct tun_priv_msg ready = { .type = TUN_PRIV_READY };
		unsigned slots = p->n;

		ready.result = priv_become(theirs, n, uid, gid, parent);
		if (!ready.result && filter && seccomp_install(SECCOMP_HELPER) < 0)
			ready.result = -errno;
		if (priv_send(theirs[0], &ready, 0) < 0 || ready.result)
			_exit(1);
		priv_serve(theirs, n, slots);
	}
	close_fds(theirs, n);
	if (priv_wait_ready(fds[0], uid, filter) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0) {
			log_warn("conntrack helper: socket");
			goto fail;
		}
	priv_pid = pid;
	__atomic_store_n(&priv_open, n, __ATOMIC_SEQ_CST);
	return 0;
fail:
	close_fds(fds, n);
	for (i = 0; i < n; i++)
		fds[i] = -1;
	priv_reap(pid);
	return -1;
}

int tun_priv_flush(int fd, unsigned slot)
{
	struct tun_priv_msg m = { .type = TUN_PRIV_FLUSH, .slot = slot };
	ssize_t n = send(fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n == (ssize_t)sizeof m)
		return 0;
	if (n >= 0)
		errno = EPROTO;
	return -1;
}

int tun_priv_read(int fd, struct tun_priv_msg *m)
{
	ssize_t n = recv(fd, m, sizeof *m, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0) {
		errno = EPIPE;
		return -1;
	}
	if ((size_t)n != sizeof *m ||
	    (m->type != TUN_PRIV_FLUSHED && m->type != TUN_PRIV_COUNTERS)) {
		errno = EPROTO;
		return -1;
	}
	return 1;
}

void tun_priv_close(int fd)
{
	unsigned v = __atomic_load_n(&priv_open, __ATOMIC_SEQ_CST);

	close(fd);
	while (v > 0 && !__atomic_compare_exchange_n(&priv_open, &v, v - 1, false,
						     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	if (v == 1)
		tun_priv_stop();
}

void tun_priv_stop(void)
{
	pid_t pid = __atomic_exchange_n(&priv_pid, 0, __ATOMIC_SEQ_CST);

	__atomic_store_n(&priv_open, 0, __ATOMIC_SEQ_CST);
	if (pid > 0)
		priv_reap(pid);
}

/* ---- The client's interface ---- */

/* An address of family (4 or 16 bytes, network order) as text. */
static const char *ip_text(int family, const void *a, char buf[static INET6_ADDRSTRLEN])
{
	return inet_ntop(family, a, buf, INET6_ADDRSTRLEN) ? buf : "?";
}

/* Address, MTU and link up on a socket of its own: 0 or -errno. */
static int rt_configure(unsigned idx, uint32_t addr, unsigned prefix, unsigned mtu)
{
	int fd = nl_open(NETLINK_ROUTE), err;

	if (fd < 0)
		return fd;
	err = rt_addr(fd, idx, addr, prefix);
	if (!err)
		err = rt_link_up(fd, idx, mtu, 0);
	close(fd);
	return err;
}

int tun_create(const char *name, bool offload, unsigned *got)
{
	return attach_offload(name, O_NONBLOCK, offload, got);
}

int tun_configure(const char *name, uint32_t addr, unsigned prefix, unsigned mtu)
{
	char a[INET_ADDRSTRLEN];
	unsigned idx = if_nametoindex(name);
	int err;

	if (!idx) {
		err = errno;
		log_warn("%s", name);
		errno = err;
		return -1;
	}
	if (prefix > 32) {
		errno = EINVAL;
		log_warnx("%s: prefix /%u", name, prefix);
		return -1;
	}
	err = no_ipv6(name);
	if (!err)
		err = rt_configure(idx, addr, prefix, mtu);
	if (err) {
		errno = -err;
		log_warn("configuring %s %s/%u mtu %u", name, ip4(addr, a), prefix, mtu);
		errno = -err;
		return -1;
	}
	return 0;
}

/*
 * IPv6 on the client's device: on (tun_configure turned it off) as on a
 * slot (dev_ipv6: nothing of the kernel's own), and addr/prefix with
 * IFA_F_NODAD unless prefix is 0.
 * A kernel without IPv6 has nothing to block: 1 when prefix is 0.
 */
int tun_configure6(const char *name, const uint8_t addr[static 16], unsigned prefix)
{
	char path[96], a[INET6_ADDRSTRLEN], cur[SYSCTL_VAL_MAX] = "";
	unsigned idx = if_nametoindex(name);
	int err = 0, fd;

	if (!idx || prefix > 128) {
		err = prefix > 128 ? EINVAL : errno;
		errno = err;
		log_warn("%s: IPv6 %s/%u", name, ip_text(AF_INET6, addr, a), prefix);
		errno = err;
		return -1;
	}
	snprintf(path, sizeof path, "net/ipv6/conf/%s/disable_ipv6", name);
	if (sysctl_read(path, cur) < 0 && errno == ENOENT && !prefix)
		return 1;
	err = dev_ipv6(name);
	if (err) {
		errno = -err;
		log_warn("%s: turning IPv6 on (a kernel without IPv6?)", name);
		errno = -err;
		return -1;
	}
	if (!prefix)
		return 0;
	fd = nl_open(NETLINK_ROUTE);
	err = fd < 0 ? fd : rt_addr6(fd, idx, addr, prefix);
	if (fd >= 0)
		close(fd);
	if (err) {
		errno = -err;
		log_warn("configuring %s %s/%u", name, ip_text(AF_INET6, addr, a), prefix);
		errno = -err;
		return -1;
	}
	return 0;
}

/*
 * Adds or removes the route to dst/prefix of family (4 or 16 bytes, network
 * order), through dev, via gw unless it is NULL: what tun_route and
 * tun_route6 share. Returns 0 or -1 with errno, after one line.
 */
static int rt_route(bool add, int family, const uint8_t *dst, unsigned prefix, const uint8_t *gw,
		    const char *dev)
{
	char a[INET6_ADDRSTRLEN];
	struct nl_msg m;
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)family,
		.rtm_dst_len = (uint8_t)prefix,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_scope = RT_SCOPE_NOWHERE,
	};
	size_t alen = family == AF_INET6 ? 16 : 4;
	unsigned idx = if_nametoindex(dev);
	uint8_t d[16] = { 0 };
	int err;

	/* dst with the bits past the prefix cleared, as the kernel wants. */
	memcpy(d, dst, alen);
	for (unsigned b = 0; b < alen * 8 && prefix <= alen * 8; b++)
		if (b >= prefix)
			d[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	if (!idx || prefix > alen * 8) {
		err = prefix > alen * 8 ? EINVAL : errno;
		errno = err;
		log_warn("route to %s/%u dev %s", ip_text(family, d, a), prefix, dev);
		errno = err;
		return -1;
	}
	if (add) {
		rtm.rtm_protocol = RTPROT_STATIC;
		rtm.rtm_scope = gw || family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
		rtm.rtm_type = RTN_UNICAST;
	}
	nl_msg_init(&m, add ? RTM_NEWROUTE : RTM_DELROUTE,
		    add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	if (prefix)
		nl_attr_put(&m, RTA_DST, d, alen);
	nl_attr_put_u32(&m, RTA_OIF, idx);
	if (gw)
		nl_attr_put(&m, RTA_GATEWAY, gw, alen);
	err = rt_talk(&m);
	if (err) {
		errno = -err;
		log_warn("%s route %s/%u dev %s", add ? "adding" : "deleting",
			 ip_text(family, d, a), prefix, dev);
		errno = -err;
		return -1;
	}
	return 0;
}

int tun_route(bool add, uint32_t dst, unsigned prefix, uint32_t gw, const char *dev)
{
	uint32_t d = htonl(dst), g = htonl(gw);

	return rt_route(add, AF_INET, (const uint8_t *)&d, prefix, gw ? (const uint8_t *)&g : NULL,
			dev);
}

int tun_route6(bool add, const uint8_t dst[static 16], unsigned prefix, const uint8_t *gw,
	       const char *dev)
{
	return rt_route(add, AF_INET6, dst, prefix, gw, dev);
}

struct route_answer {
	size_t alen;		/* the family's address length */
	uint8_t gw[16];
	bool has_gw;
	unsigned oif;
	bool found;
};

static void route_get_cb(const struct nlmsghdr *h, void *arg)
{
	struct route_answer *r = arg;
	const struct nlattr *tb[RTA_MAX + 1];
	uint32_t oif;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    nl_parse_msg(h, sizeof(struct rtmsg), tb, RTA_MAX) < 0 ||
	    !nl_attr_u32(tb[RTA_OIF], &oif))
		return;
	r->oif = oif;
	r->has_gw = tb[RTA_GATEWAY] && nl_attr_len(tb[RTA_GATEWAY]) == r->alen;
	memset(r->gw, 0, sizeof r->gw);
	if (r->has_gw)
		memcpy(r->gw, nl_attr_data(tb[RTA_GATEWAY]), r->alen);
	r->found = true;
}

/* The route the kernel would use to dst of family: what tun_route_get and
 * tun_route_get6 share. Returns 0 or -1 with errno. */
static int rt_route_get(int family, const uint8_t *dst, struct route_answer *r,
			char dev[static TUN_NAME_MAX])
{
	size_t alen = family == AF_INET6 ? 16 : 4;
	struct rtmsg rtm = { .rtm_family = (uint8_t)family, .rtm_dst_len = (uint8_t)(alen * 8) };
	struct nl_msg m;
	char name[IF_NAMESIZE];
	int fd, err;

	*r = (struct route_answer){ .alen = alen };
	fd = nl_open(NETLINK_ROUTE);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	nl_msg_init(&m, RTM_GETROUTE, 0);
	nl_msg_put(&m, &rtm, sizeof rtm);
	nl_attr_put(&m, RTA_DST, dst, alen);
	err = nl_query(fd, &m, route_get_cb, r);
	close(fd);
	if (err) {
		errno = -err;
		return -1;
	}
	if (!r->found) {
		errno = ENETUNREACH;
		return -1;
	}
	if (!if_indextoname(r->oif, name))
		return -1;
	snprintf(dev, TUN_NAME_MAX, "%s", name);
	return 0;
}

int tun_route_get(uint32_t dst, uint32_t *gw, char dev[static TUN_NAME_MAX])
{
	struct route_answer r;
	uint32_t d = htonl(dst), g;

	if (rt_route_get(AF_INET, (const uint8_t *)&d, &r, dev) < 0)
		return -1;
	memcpy(&g, r.gw, sizeof g);
	*gw = r.has_gw ? ntohl(g) : 0;
	return 0;
}

int tun_route_get6(const uint8_t dst[static 16], uint8_t gw[static 16], bool *has_gw,
		   char dev[static TUN_NAME_MAX])
{
	struct route_answer r;

	if (rt_route_get(AF_INET6, dst, &r, dev) < 0)
		return -1;
	memcpy(gw, r.gw, 16);
	*has_gw = r.has_gw;
	return 0;
}
