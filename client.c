/* SPDX-License-Identifier: MIT */
/*
 * client.c: `vpngw connect`, the Linux client.
 *
 * It owns one TUN interface, one connection to a gateway at a time, the
 * routes it adds, and its own poll() loop. It speaks vpngw.v1 (SPEC, Wire
 * protocol): it offers the subprotocol, reads the assignment (address, MTU,
 * session token, keepalive), and on a lost connection reconnects with
 * backoff, presenting the token to get its slot back. Against a gateway
 * that does not select vpngw.v1 it uses --address.
 *
 * The connection itself is a link (link.c), as on the gateway: socket,
 * TLS, frames, send queue, keepalive, the close sequence. This file adds
 * what only the client does on top: connecting, the upgrade request and
 * its answer, the assignment, retries. The interface, addresses and routes
 * are tun.c's (rtnetlink); which routes, in both families, are decided
 * here, and so is the refusal of IPv6 that a gateway without IPv6 cannot
 * carry (refused6), so that none leaks outside the tunnel. The packet paths mirror the gateway's:
 *   read(tun) into the link's send queue -> masked frame header in front
 *   -> one sendmsg of many frames; socket -> link -> one write(tun) per
 *   binary message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "base64.h"
#include "cli.h"
#include "client.h"
#include "link.h"
#include "log.h"
#include "nat.h"
#include "tls.h"
#include "tun.h"
#include "v1.h"
#include "ws.h"

/* ---- Sizes and timers ---- */

#define MTU_MAX        LINK_PKT_MAX
#define TUN_BUDGET     64                /* packets read from the TUN per wake */
#define SOCK_BUDGET    4                 /* socket reads per wake */
#define SETUP_MS       10000             /* connect + TLS + upgrade + assignment */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define TICK_MS        200
#define KEEPALIVE_S    20                /* when the gateway does not say */
#define URL_MAX        8
#define TARGET_MAX     16                /* resolved addresses, all URLs */
#define ROUTE_MAX      (2 * CLI_LIST_MAX + 4 + TARGET_MAX) /* --route, /1s, gateway host routes */
#define REFUSE6_PER_S  50                /* ICMPv6 refusals written a second */
#define TOKEN_MAX      AUTH_TOKEN_MAX
#define REQUEST_MAX    4096              /* the upgrade request */

#define WUR __attribute__((warn_unused_result))

/* ---- State ---- */

struct url {
	const char *text;            /* as given, for the log */
	struct ws_url w;
};

struct target {
	unsigned url;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char name[INET6_ADDRSTRLEN + 8];
};

/* A route we added and must remove. */
struct route {
	int family;                  /* AF_INET or AF_INET6 */
	uint8_t dst[16], gw[16];     /* network order; IPv4 in the first 4 bytes */
	unsigned prefix;
	bool has_gw;
	bool via_tun;                /* goes when the TUN goes */
	char dev[TUN_NAME_MAX];
};

/*
 * The client's side of a connection, on top of its link's states:
 *
 *   IDLE --attempt due--> CONNECT --TCP up--> HTTP --101--> ASSIGN --assignment--> OPEN
 *     ^                      |                 |     (no vpngw.v1: straight to OPEN) |
 *     |                      | error, timeout  | refused, timeout                    |
 *     +<---------------------+-----------------+                                     |
 *     |                                                                              |
 *     +<--the link is dead-- CLOSING <--the gateway closed, we close (silence, exit)-+
 *
 * From CLOSING the link runs its close sequence; once it is dead, the
 * reason kept in `down` decides: retry with backoff, or exit.
 */
enum cl_state {
	C_IDLE,        /* waiting for the next attempt */
	C_CONNECT,     /* TCP connect in progress */
	C_HTTP,        /* upgrade request queued, reading the response */
	C_ASSIGN,      /* 101 with vpngw.v1, waiting for the assignment */
	C_OPEN,        /* packets both ways */
	C_CLOSING,     /* the link closes; then `down` decides */
};

enum fail_kind {
	F_TRANSIENT,   /* retry once a connection ever worked */
	F_BUSY,        /* the pool is full (1013): retry with backoff, always */
	F_REFUSED,     /* the gateway said no: fatal before the first success */
	F_FATAL,       /* never retried (401, 403, 404, a bad certificate) */
	F_EXIT,        /* we are leaving (SIGINT, SIGTERM) */
};

struct client {
	struct cli_args o;           /* the command line, as cli.c checked it */
	struct url urls[URL_MAX];
	unsigned n_urls;
	struct target tg[TARGET_MAX];
	unsigned n_tg, cur;

	/* The interface and what we did to the host. */
	struct link_tun tun;
	uint32_t addr;               /* configured, host order; 0 = not yet */
	unsigned prefix, mtu;
	uint8_t addr6[16];           /* configured with addr; prefix6 0: none */
	unsigned prefix6;
	bool ipv6_on;                /* IPv6 is on on the device (carried or blocked) */
	bool kernel_no6;             /* the kernel has no IPv6: nothing to block */
	uint64_t refuse6_s;          /* the second of the last ICMPv6 refusals */
	unsigned refuse6_n;          /* how many were written in it */
	bool tun_routes;             /* --route / --default-route are in place */
	struct route routes[ROUTE_MAX];
	unsigned n_routes;

	/* The connection. */
	enum cl_state st;
	int fd;
	struct link l;               /* from C_HTTP on */
	bool v1;
	bool was_open;               /* this connection reached C_OPEN */
	unsigned opens;              /* times a connection reached C_OPEN */
	unsigned fails;              /* failed attempts since the last open */
	unsigned backoff_ms;
	unsigned keepalive_s;
	uint64_t now, deadline;
	char key[WS_KEY_LEN + 1];
	bool has_session;
	uint8_t session[V1_TOKEN_LEN]; /* the gateway's token for our slot */
	char auth[TOKEN_MAX + 32];   /* "Authorization: Bearer T\r\n" */
	struct ws_resp *resp;        /* during C_HTTP */
	struct {
		enum fail_kind kind;
		char why[300];
	} down;                      /* in C_CLOSING: what follows */
	int exit_code;               /* >= 0: leave the loop with it */
	struct link_stats stat;
	uint64_t reconnects;

	uint8_t scratch[LINK_SCRATCH]; /* packets dropped, segments cut */
	struct link_gro gro;           /* the gateway's packets, coalesced */
	uint8_t gro_buf[LINK_PKT_MAX];
	struct link_rxbuf rxb;         /* the link's reads */
};

static volatile sig_atomic_t got_term, got_usr1;
static int wake_fd = -1;         /* the handler writes it: the loop's wait ends */

static void on_signal(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = sig;
	if (wake_fd >= 0)
		(void)!write(wake_fd, &one, sizeof one);
	errno = saved;
}

static const char *ip4(uint32_t host_order, char out[static INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(host_order) };

	return inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}


/* ==== Command line ==== */

/* "ws[s]://host[:port]/path"; one line on error. */
WUR static int url_parse(struct url *u, const char *s)
{
	const char *why = ws_url_parse(&u->w, s, strlen(s));

	u->text = s;
	if (why) {
		log_warnx("%s: %s", s, why);
		return -1;
	}
#if !VPNGW_TLS
	if (u->w.tls) {
		log_warnx("%s: wss:// needs TLS, and this vpngw was built without it (TLS=0)", s);
		return -1;
	}
#endif
	return 0;
}

/* The Authorization header, from --token or the first token of --token-file
 * (read here, once, so that the token stays out of ps). 0, or 1 after one
 * line on stderr. */
WUR static int auth_header(struct client *c)
{
	char tok[AUTH_TOKEN_MAX + 1];

	if (c->o.token_file) {
		if (!auth_first_file(tok, c->o.token_file))
			return 1;
		snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s\r\n", tok);
		explicit_bzero(tok, sizeof tok);
	} else if (c->o.token) {
		snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s\r\n", c->o.token);
	}
	return 0;
}

/* Returns 0, 1 after one line on stderr, or 2 for --help. */
static int parse_args(struct client *c, int argc, char **argv)
{
	switch (cli_parse(CLI_CONNECT, argc, argv, &c->o)) {
	case CLI_DONE:
		return 2;
	case CLI_FAIL:
		return 1;
	case CLI_OK:
		break;
	}
	if (!c->o.tun)
		c->o.tun = "vpngw-c0";
	if (c->o.urls.n == 0) {
		log_warnx("connect: missing URL, e.g. vpngw connect ws://192.0.2.1:8080/");
		return 1;
	}
	if (c->o.urls.n > URL_MAX) {
		log_warnx("connect: at most %d URLs", URL_MAX);
		return 1;
	}
	for (unsigned i = 0; i < c->o.urls.n; i++)
		if (url_parse(&c->urls[i], c->o.urls.v[i]) < 0)
			return 1;
	c->n_urls = c->o.urls.n;
	if (c->o.pin && c->o.ca) {
		log_warnx("connect: --ca and --pin exclude each other");
		return 1;
	}
	if (c->o.token && c->o.token_file) {
		log_warnx("connect: --token and --token-file exclude each other");
		return 1;
	}
	return auth_header(c);
}

/* Resolves every URL's host once, at startup: later, with --default-route,
 * the resolver may be reachable only through the tunnel that is down. */
WUR static int resolve(struct client *c)
{
	for (unsigned i = 0; i < c->n_urls; i++) {
		const struct url *u = &c->urls[i];
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
		char port[8];
		snprintf(port, sizeof port, "%u", u->w.port);
		int e = getaddrinfo(u->w.host, port, &hints, &res);
		if (e) {
			log_warnx("%s: cannot resolve %s: %s", u->text, u->w.host,
				  e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
			return -1;
		}
		for (ai = res; ai && c->n_tg < TARGET_MAX; ai = ai->ai_next) {
			struct target *t = &c->tg[c->n_tg];
			char h[INET6_ADDRSTRLEN] = "?";
			if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
			    ai->ai_addrlen > sizeof t->sa)
				continue;
			t->url = i;
			memcpy(&t->sa, ai->ai_addr, ai->ai_addrlen);
			t->sa_len = ai->ai_addrlen;
			if (ai->ai_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, h, sizeof h);
			else
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, h, sizeof h);
			snprintf(t->name, sizeof t->name, ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
				 h, u->w.port);
			c->n_tg++;
		}
		freeaddrinfo(res);
	}
	if (!c->n_tg) {
		log_warnx("%s: no IPv4 or IPv6 address", c->urls[0].text);
		return -1;
	}
	return 0;
}

/* ==== Routes ==== */

static size_t alen_of(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static const char *ip_text(int family, const uint8_t *a, char out[static INET6_ADDRSTRLEN])
{
	return inet_ntop(family, a, out, INET6_ADDRSTRLEN) ? out : "?";
}

/* Adds or removes r: tun.c logs a failure. */
static int route_set(bool add, const struct route *r)
{
	uint32_t d, g;

	if (r->family == AF_INET6)
		return tun_route6(add, r->dst, r->prefix, r->has_gw ? r->gw : NULL, r->dev);
	memcpy(&d, r->dst, 4);
	memcpy(&g, r->gw, 4);
	return tun_route(add, ntohl(d), r->prefix, r->has_gw ? ntohl(g) : 0, r->dev);
}

/* dst and gw (gw NULL: on-link) of family, network order. */
WUR static int route_add(struct client *c, int family, const uint8_t *dst, unsigned prefix,
			 const uint8_t *gw, const char *dev, bool via_tun)
{
	struct route *r = &c->routes[c->n_routes];

	if (c->n_routes == ROUTE_MAX) {
		errno = ENOSPC;
		return -1;
	}
	*r = (struct route){ .family = family, .prefix = prefix, .has_gw = gw != NULL,
			     .via_tun = via_tun };
	memcpy(r->dst, dst, alen_of(family));
	if (gw)
		memcpy(r->gw, gw, alen_of(family));
	snprintf(r->dev, sizeof r->dev, "%s", dev);
	if (route_set(true, r) < 0)
		return -1;
	c->n_routes++;
	return 0;
}

/* An IPv4 route into the TUN, dst in host order. */
WUR static int route_add4(struct client *c, uint32_t dst, unsigned prefix)
{
	uint32_t d = htonl(dst);

	return route_add(c, AF_INET, (const uint8_t *)&d, prefix, NULL, c->o.tun, true);
}

/* Removes the routes we added, newest first. tun.c logs a failure. */
static void routes_del(struct client *c)
{
	while (c->n_routes) {
		struct route *r = &c->routes[--c->n_routes];
		if (route_set(false, r) < 0)
			continue;
	}
	c->tun_routes = false;
}

/* The TUN's routes went with it (the device was recreated). */
static void routes_forget_tun(struct client *c)
{
	for (unsigned i = c->n_routes; i-- > 0;)
		if (c->routes[i].via_tun)
			c->routes[i] = c->routes[--c->n_routes];
	c->tun_routes = false;
}

static bool is_gateway_host_route(const struct client *c, int family, const uint8_t *dst)
{
	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct route *r = &c->routes[i];
		if (!r->via_tun && r->family == family && r->prefix == alen_of(family) * 8 &&
		    !memcmp(r->dst, dst, alen_of(family)))
			return true;
	}
	return false;
}

/* The route the kernel has to dst of family: 0, or -1 with errno. */
static int route_now(int family, const uint8_t *dst, uint8_t gw[static 16], bool *has_gw,
		     char dev[static TUN_NAME_MAX])
{
	uint32_t d, g;

	if (family == AF_INET6)
		return tun_route_get6(dst, gw, has_gw, dev);
	memcpy(&d, dst, 4);
	if (tun_route_get(ntohl(d), &g, dev) < 0)
		return -1;
	g = htonl(g);
	memcpy(gw, &g, 4);
	*has_gw = g != 0;
	return 0;
}

/*
 * A gateway's address (network order, in dst) that needs no host route:
 * loopback, and IPv6 link-local (its /64 on the device outranks a /1).
 */
static bool target_local(int family, const uint8_t *dst)
{
	static const uint8_t loop6[16] = { [15] = 1 };

	if (family == AF_INET)
		return dst[0] == 127;
	return !memcmp(dst, loop6, 16) || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80);
}

/*
 * --default-route must not send the tunnel's own packets into the tunnel:
 * each gateway address gets a host route via the route it has now, in
 * either family. Called before the tunnel routes exist, and again before
 * each attempt in case a link flap took the host route away (the lookup
 * then names our TUN). A host with no IPv4 route to an IPv4 gateway fails;
 * an IPv6 gateway the host has no route to is left out: the attempt to it
 * fails, and the next address is tried.
 */
static int gateway_routes(struct client *c, bool first)
{
	for (unsigned i = 0; i < c->n_tg; i++) {
		const struct target *t = &c->tg[i];
		int family = t->sa.ss_family;
		char dev[TUN_NAME_MAX], a[INET6_ADDRSTRLEN];
		uint8_t dst[16], gw[16];
		bool has_gw;
		if (family == AF_INET)
			memcpy(dst, &((const struct sockaddr_in *)&t->sa)->sin_addr, 4);
		else
			memcpy(dst, &((const struct sockaddr_in6 *)&t->sa)->sin6_addr, 16);
		if (target_local(family, dst))
			continue;
		if (!first) {
			for (unsigned k = 0; k < c->n_routes; k++) {
				struct route *r = &c->routes[k];
				if (r->via_tun || r->family != family ||
				    memcmp(r->dst, dst, alen_of(family)) ||
				    route_now(family, dst, gw, &has_gw, dev) < 0 || strcmp(dev, c->o.tun))
					continue;
				if (route_set(true, r) == 0)
					log_info("host route to %s via %s restored",
						 ip_text(family, dst, a), r->dev);
			}
			continue;
		}
		if (is_gateway_host_route(c, family, dst))
			continue;
		if (route_now(family, dst, gw, &has_gw, dev) < 0) {
			if (family == AF_INET6) {
				log_debug("no route to the gateway %s", ip_text(family, dst, a));
				continue;
			}
			log_warn("no route to the gateway %s", ip_text(family, dst, a));
			return -1;
		}
		if (!strcmp(dev, c->o.tun) || !strcmp(dev, "lo"))
			continue;
		if (route_add(c, family, dst, (unsigned)alen_of(family) * 8, has_gw ? gw : NULL, dev,
			      false) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/*
 * --route and --default-route, once the interface is configured. With IPv6
 * on the device, --default-route covers ::/0 too (::/1 and 8000::/1),
 * whether the gateway carries IPv6 or not: when it does not, the TUN
 * refuses it (refused6), so that IPv6 has no way out but the tunnel.
 */
WUR static int tunnel_routes(struct client *c)
{
	static const uint8_t any6[16], half6[16] = { 0x80 };
	char a[INET6_ADDRSTRLEN];

	if (c->tun_routes)
		return 0;
	for (unsigned i = 0; i < c->o.routes.n; i++) {
		const struct nat_cidr *r = &c->o.routes.v[i];
		if (route_add4(c, r->addr, (unsigned)__builtin_popcount(r->mask)) < 0) {
			uint32_t d = htonl(r->addr);
			log_warnx("--route %s/%d: cannot add it", ip_text(AF_INET, (uint8_t *)&d, a),
				  __builtin_popcount(r->mask));
			return -1;
		}
	}
	for (unsigned i = 0; c->ipv6_on && i < c->o.routes6.n; i++) {
		const struct nat_cidr6 *r = &c->o.routes6.v[i];
		if (route_add(c, AF_INET6, r->addr, r->len, NULL, c->o.tun, true) < 0) {
			log_warnx("--route %s/%u: cannot add it", ip_text(AF_INET6, r->addr, a),
				  r->len);
			return -1;
		}
	}
	if (c->o.default_route &&
	    (route_add4(c, 0, 1) < 0 || route_add4(c, 0x80000000u, 1) < 0)) {
		log_warnx("--default-route: cannot add 0.0.0.0/1 and 128.0.0.0/1");
		return -1;
	}
	if (c->o.default_route && c->ipv6_on &&
	    (route_add(c, AF_INET6, any6, 1, NULL, c->o.tun, true) < 0 ||
	     route_add(c, AF_INET6, half6, 1, NULL, c->o.tun, true) < 0)) {
		log_warnx("--default-route: cannot add ::/1 and 8000::/1%s",
			  c->mtu < 1280 ? " (IPv6 needs an MTU of 1280 or more)" : "");
		return -1;
	}
	c->tun_routes = true;
	return 0;
}

/* ==== The interface ==== */

WUR static int tun_open_checked(struct client *c)
{
	c->tun.name = c->o.tun;
	c->tun.fd = tun_create(c->o.tun, !c->o.no_offload, &c->tun.offload);
	if (c->tun.fd >= 0)
		return 0;
	if (errno == EPERM || errno == EACCES)
		log_warnx("cannot create TUN %s: permission denied (needs root or CAP_NET_ADMIN)",
			  c->o.tun);
	else if (errno == ENOENT || errno == ENODEV)
		log_warnx("cannot create TUN %s: no /dev/net/tun (is the tun module loaded?)",
			  c->o.tun);
	else if (errno == EBUSY || errno == EINVAL)
		log_warnx("cannot create TUN %s: the name is in use by another device", c->o.tun);
	else
		log_warn("cannot create TUN %s", c->o.tun);
	return -1;
}

/*
 * An IPv6 packet read from the TUN while the gateway carries no IPv6 (it
 * is dropped and counted as `ipv6`): answered with an ICMPv6 destination
 * unreachable, administratively prohibited, so that the application fails
 * now and falls back to IPv4. At most REFUSE6_PER_S a second.
 */
static void refused6(struct link_tun *t, const uint8_t *p, size_t len)
{
	struct client *c = (struct client *)((char *)t - offsetof(struct client, tun));
	uint8_t out[NAT_ICMP6_MIN];
	size_t n;

	if (c->now / 1000 != c->refuse6_s) {
		c->refuse6_s = c->now / 1000;
		c->refuse6_n = 0;
	}
	if (c->refuse6_n >= REFUSE6_PER_S)
		return;
	n = nat_icmp6_refuse(out, sizeof out, p, len);
	if (n) {
		c->refuse6_n++;
		(void)link_tun_put(t, out, n);
	}
}

/*
 * Gives the interface addr/prefix, addr6/prefix6 (prefix6 0: none) and mtu.
 * A different address than before in either family (a new slot) means a
 * new device: tun.h can add an address but not remove one, and two would
 * confuse source selection; so does another MTU while IPv6 is on, since
 * tun_configure turns IPv6 off. The TUN's routes go with the old device and
 * are added again. IPv6 is on when it is carried, and when it is blocked:
 * --default-route or an IPv6 --route without IPv6 from the gateway.
 */
WUR static int tun_setup_addr(struct client *c, uint32_t addr, unsigned prefix,
			      const uint8_t addr6[static 16], unsigned prefix6, unsigned mtu)
{
	bool v6 = !c->kernel_no6 && (prefix6 || c->o.default_route || c->o.routes6.n);
	bool same6 = c->prefix6 == prefix6 && !memcmp(c->addr6, addr6, 16) && c->ipv6_on == v6;

	if (c->addr && (c->addr != addr || c->prefix != prefix || !same6 ||
			(c->ipv6_on && c->mtu != mtu))) {
		close(c->tun.fd);
		routes_forget_tun(c);
		c->addr = 0;
		if (tun_open_checked(c) < 0)
			return -1;
	}
	if (!c->addr || c->addr != addr || c->prefix != prefix || c->mtu != mtu) {
		if (tun_configure(c->o.tun, addr, prefix, mtu) < 0)
			return -1;
		int r6 = v6 ? tun_configure6(c->o.tun, addr6, prefix6) : 0;
		if (r6 < 0)
			return -1;
		if (r6 > 0)
			c->kernel_no6 = true;
		v6 = v6 && !c->kernel_no6;
		c->addr = addr;
		c->prefix = prefix;
		c->mtu = mtu;
		memcpy(c->addr6, addr6, 16);
		c->prefix6 = prefix6;
		c->ipv6_on = v6;
	}
	c->tun.ipv6 = prefix6 != 0;
	c->tun.refused6 = prefix6 ? NULL : refused6;
	return tunnel_routes(c);
}

/* ==== The connection: connect, lose, retry ==== */

/* Frees the connection: link, socket, response parser. */
static void conn_free(struct client *c)
{
	if (c->st >= C_HTTP) {
		c->stat.drops[DROP_LINK_DOWN] += txq_records(&c->l.q);
		link_free(&c->l);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->resp) {
		explicit_bzero(c->resp, sizeof *c->resp);
		free(c->resp);
		c->resp = NULL;
	}
}

/* A random delay in [d/2, d] ms, so that clients do not come back in step. */
static unsigned jitter(unsigned d)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (uint32_t)getpid();
	return d / 2 + r % (d / 2 + 1);
}

/*
 * The attempt or the connection ended. Before the first success, every
 * address is tried once, then the error is the user's: one line, exit 1.
 * After it, and whenever the pool is full, one log line and a retry with
 * backoff (1 s doubling to 30 s, with jitter), unless --retries is
 * exhausted.
 */
static void link_down(struct client *c, enum fail_kind kind, const char *fmt, ...)
	PRINTF(3, 4);

static void link_down(struct client *c, enum fail_kind kind, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	bool was_open = c->was_open;
	const struct target *t = &c->tg[c->cur];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	conn_free(c);
	c->st = C_IDLE;
	if (kind == F_EXIT) {
		c->exit_code = 0;
		return;
	}
	if (!was_open) {
		c->fails++;
		c->cur = (c->cur + 1) % c->n_tg;
	}
	if (kind == F_FATAL || (!c->opens && (kind == F_REFUSED ||
					      (kind == F_TRANSIENT && c->fails >= c->n_tg)))) {
		log_warnx("%s (%s): %s", c->urls[t->url].text, t->name, why);
		c->exit_code = 1;
		return;
	}
	if (c->o.retries > 0 && c->fails >= (unsigned long)c->o.retries) {
		log_warnx("%s (%s): %s; giving up after %u attempts", c->urls[t->url].text,
			  t->name, why, c->fails);
		c->exit_code = 1;
		return;
	}
	if (!c->opens && kind == F_TRANSIENT) {
		/* The next address right away: this is still the first try. */
		log_info("%s: %s; trying the next address", t->name, why);
		c->deadline = c->now;
		return;
	}
	unsigned d = c->backoff_ms, delay = jitter(d);
	c->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
	c->deadline = c->now + delay;
	log_info("%s %s: %s; reconnecting in %u.%u s", was_open ? "disconnected from" : "failed",
		 t->name, why, delay / 1000, delay % 1000 / 100);
}

/*
 * Ends the connection through the close sequence: when the link is open,
 * it closes with code and link_down follows once it is dead; otherwise
 * link_down follows now.
 */
static void link_end(struct client *c, enum fail_kind kind, uint16_t code, const char *fmt, ...)
	PRINTF(4, 5);

static void link_end(struct client *c, enum fail_kind kind, uint16_t code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->down.why, sizeof c->down.why, fmt, ap);
	va_end(ap);
	c->down.kind = kind;
	if (c->st < C_HTTP || c->l.st == LINK_HTTP || c->l.st == LINK_DEAD) {
		link_down(c, kind, "%s", c->down.why);
		return;
	}
	link_close(&c->l, code, c->now);
	c->st = C_CLOSING;
}

/* The link died: the end of the close sequence, or a failure. */
static void link_gone(struct client *c)
{
	if (c->st == C_CLOSING) {
		link_down(c, c->down.kind, "%s", c->down.why);
		return;
	}
	const char *why = link_why(&c->l);
	if (!strcmp(why, "connection closed"))
		why = "connection closed by the gateway";
	/* A certificate that fails now will fail again. */
	link_down(c, c->l.tls && tls_cert_failed(c->l.tls) ? F_FATAL : F_TRANSIENT, "%s",
		  why[0] ? why : "closed");
}

/* Queues the upgrade request (§4.1), with the session token if we hold one. */
WUR static int send_request(struct client *c)
{
	const struct ws_url *u = &c->urls[c->tg[c->cur].url].w;
	char path[sizeof u->path + sizeof "&session=" + V1_TOKEN_HEX], req[REQUEST_MAX];
	char tok[V1_TOKEN_HEX + 1];
	char extra[sizeof c->auth + sizeof "Sec-WebSocket-Extensions: " WS_EXT_GSO "\r\n"];
	uint8_t nonce[16];
	int rc = -1;

	if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce)
		return -1;
	base64_encode(c->key, nonce, sizeof nonce);
	if (c->has_session) {
		v1_token_format(tok, c->session);
		snprintf(path, sizeof path, "%s%csession=%s", u->path,
			 strchr(u->path, '?') ? '&' : '?', tok);
		explicit_bzero(tok, sizeof tok);
	} else {
		snprintf(path, sizeof path, "%s", u->path);
	}
	snprintf(extra, sizeof extra, "%s%s", c->auth,
		 c->o.no_offload ? "" : "Sec-WebSocket-Extensions: " WS_EXT_GSO "\r\n");
	size_t n = ws_client_request(req, sizeof req, u->hosthdr, path, c->key, WS_PROTO_V1,
				     extra[0] ? extra : NULL);
	if (n && link_send_head(&c->l, req, n) == 0)
		rc = 0;
	explicit_bzero(path, sizeof path);
	explicit_bzero(req, sizeof req);
	explicit_bzero(extra, sizeof extra);
	return rc;
}

/*
 * Checks --ca and --pin once, before anything is set up, so that a bad one
 * is one line and exit 1 (tls.c prints the line). Returns 0 or -1.
 */
static int tls_settings_check(struct client *c)
{
	for (unsigned i = 0; i < c->n_urls; i++) {
		if (!c->urls[i].w.tls)
			continue;
		struct tls_conn *t = tls_conn_client(c->urls[i].w.host, c->o.ca, c->o.pin,
						     c->o.insecure);
		if (!t)
			return -1;
		tls_conn_free(t);
		return 0;
	}
	return 0;
}

/* The TCP connection is up: TLS if asked, then the upgrade request. */
static void link_connected(struct client *c)
{
	const struct ws_url *u = &c->urls[c->tg[c->cur].url].w;
	struct tls_conn *tls = NULL;

	if (u->tls && !(tls = tls_conn_client(u->host, c->o.ca, c->o.pin, c->o.insecure))) {
		link_down(c, F_FATAL, "TLS setup failed");
		return;
	}
	link_init(&c->l, c->fd, true, tls, NULL, c->now);
	c->st = C_HTTP;
	c->resp = malloc(sizeof *c->resp);
	if (!c->resp) {
		link_down(c, F_TRANSIENT, "out of memory");
		return;
	}
	ws_resp_init(c->resp);
	if (send_request(c) < 0)
		link_down(c, F_FATAL, "the upgrade request does not fit (URL or token too long)");
}

static void link_start(struct client *c)
{
	const struct target *t = &c->tg[c->cur];

	if (c->o.default_route && c->opens)
		(void)gateway_routes(c, false);
	c->fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		link_down(c, F_TRANSIENT, "socket: %s", strerror(errno));
		return;
	}
	c->deadline = c->now + SETUP_MS;
	c->st = C_CONNECT;
	c->was_open = false;
	if (c->opens)
		log_debug("connecting to %s", t->name);
	if (connect(c->fd, (const struct sockaddr *)&t->sa, t->sa_len) == 0) {
		link_connected(c);
		return;
	}
	if (errno != EINPROGRESS && errno != EINTR)
		link_down(c, F_TRANSIENT, "connect: %s", strerror(errno));
}

/* POLLOUT (or an error) while connecting. */
static void link_connect_done(struct client *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err) {
		link_down(c, F_TRANSIENT, "connect: %s", strerror(err));
		return;
	}
	link_connected(c);
}

/* ==== Opening: the answer and the assignment ==== */

/* The connection is up: configure what changed, log one line. */
static void assigned(struct client *c, const struct v1_assign *a)
{
	const struct target *t = &c->tg[c->cur];
	char was[INET_ADDRSTRLEN], now_a[INET_ADDRSTRLEN];
	uint32_t old = c->addr;
	unsigned old_prefix = c->prefix;
	bool resumed = a && a->has_session && c->has_session &&
		       v1_token_equal(a->session, c->session);
	static const uint8_t none6[16];
	uint32_t addr = a ? a->addr : c->o.address;
	unsigned prefix = a ? a->prefix : c->o.address_prefix;
	const uint8_t *addr6 = a && a->prefix6 ? a->addr6 : none6;
	unsigned prefix6 = a ? a->prefix6 : 0;
	unsigned mtu = c->o.mtu > 0 ? (unsigned)c->o.mtu : a ? a->mtu : TUN_MTU_DEFAULT;

	if (mtu > MTU_MAX) {
		log_info("the gateway's MTU %u is over %u; using %u", mtu, MTU_MAX, MTU_MAX);
		mtu = MTU_MAX;
	}
	if (tun_setup_addr(c, addr, prefix, addr6, prefix6, mtu) < 0) {
		c->exit_code = 1;
		return;
	}
	if (a) {
		c->has_session = a->has_session;
		memcpy(c->session, a->session, sizeof c->session);
	}
	c->keepalive_s = c->o.keepalive >= 0 ? (unsigned)c->o.keepalive :
			 a && a->keepalive_s >= 0 ? (unsigned)a->keepalive_s : KEEPALIVE_S;
	link_keepalive(&c->l, c->keepalive_s);
	link_text(&c->l, false);
	c->st = C_OPEN;
	c->was_open = true;
	c->fails = 0;
	c->backoff_ms = BACKOFF_MIN_MS;
	char v6[INET6_ADDRSTRLEN + 32] = "";
	if (prefix6) {
		char a6[INET6_ADDRSTRLEN];
		snprintf(v6, sizeof v6, " and %s/%u", inet_ntop(AF_INET6, addr6, a6, sizeof a6) ?
			 a6 : "?", prefix6);
	} else if (c->ipv6_on) {
		snprintf(v6, sizeof v6, " (no IPv6: blocked)");
	}
	if (!c->opens)
		log_info("connected to %s (%s) as %s/%u%s on %s, mtu %u%s", c->urls[t->url].text,
			 t->name, ip4(addr, now_a), prefix, v6, c->o.tun, mtu,
			 a ? "" : " (no vpngw.v1: --address)");
	else if (resumed || (!a && old == addr))
		log_info("reconnected to %s: resumed %s/%u on %s", t->name, ip4(addr, now_a),
			 prefix, c->o.tun);
	else
		log_info("reconnected to %s: new session, address %s/%u (was %s/%u)", t->name,
			 ip4(addr, now_a), prefix, ip4(old, was), old_prefix);
	if (c->opens)
		c->reconnects++;
	c->opens++;
}

/* The upgrade response is complete: check it (§4.1 steps 5-6). */
static void http_done(struct client *c)
{
	struct ws_resp *r = c->resp;
	char want[WS_ACCEPT_LEN + 1];

	if (r->status != 101) {
		int st = r->status;
		if (st == 401)
			link_down(c, F_FATAL, "authentication failed (HTTP 401)%s",
				  c->auth[0] ? "" : "; the gateway wants --token or --token-file");
		else if (st == 403 || st == 404)
			link_down(c, F_FATAL, "upgrade refused: HTTP %d", st);
		else
			link_down(c, F_REFUSED, "upgrade refused: HTTP %d", st);
		return;
	}
	ws_accept_key(want, c->key, strlen(c->key));
	if (!r->upgrade_ws || !r->conn_upgrade || r->accept.len != WS_ACCEPT_LEN ||
	    memcmp(r->accept.p, want, WS_ACCEPT_LEN)) {
		link_down(c, F_REFUSED, "not a WebSocket upgrade (bad 101 response)");
		return;
	}
	c->v1 = r->proto.len == strlen(WS_PROTO_V1) &&
		!memcmp(r->proto.p, WS_PROTO_V1, r->proto.len);
	if (!c->v1 && r->proto.len) {
		link_down(c, F_REFUSED, "the gateway chose an unknown subprotocol");
		return;
	}
	/* §9.1: an extension we did not offer fails the connection. */
	bool gso = r->ext_gso;
	if (r->ext_other || (gso && (c->o.no_offload || !c->v1))) {
		link_down(c, F_REFUSED, "the gateway chose an extension we did not offer");
		return;
	}
	explicit_bzero(r, sizeof *r);
	free(r);
	c->resp = NULL;
	if (!c->v1 && !c->o.address_prefix) {
		link_down(c, F_FATAL, "the gateway does not speak vpngw.v1 and assigns no "
			  "address; give one with --address A/LEN");
		return;
	}
	link_open(&c->l, WS_MSG_MAX, c->now);
	link_gso(&c->l, gso);
	if (c->v1) {
		link_text(&c->l, true);
		c->st = C_ASSIGN;
		return;
	}
	assigned(c, NULL);
}

/* In C_ASSIGN: the first message must be the assignment. */
static void assignment(struct client *c, uint8_t *txt, size_t len)
{
	struct v1_assign a;
	int rc = v1_assign_parse(&a, (const char *)txt, len);

	explicit_bzero(txt, len); /* it holds the session token */
	if (rc < 0) {
		link_end(c, F_REFUSED, WS_CLOSE_PROTOCOL, "malformed vpngw.v1 assignment");
		return;
	}
	assigned(c, &a);
	explicit_bzero(&a, sizeof a);
}

/* Handshake bytes: into the response parser, which copies what it takes. */
static void http_input(struct client *c, const struct link_msg *m)
{
	size_t used = 0;
	int s = ws_resp_feed(c->resp, m->data, m->len, &used);

	link_consume(&c->l, used);
	if (s == WS_REQ_DONE)
		http_done(c);
	else if (s != WS_REQ_MORE)
		link_down(c, F_REFUSED, "malformed HTTP response (%d)", s);
}

/* ==== Input: messages from the gateway ==== */

static void packet_down(struct client *c, uint8_t *p, size_t len)
{
	size_t size;

	if (link_unwrap(&c->l, &p, &len, &size) != DROP_NONE || len < 20 ||
	    (p[0] >> 4 != 4 && p[0] >> 4 != 6)) {
		c->stat.drops[DROP_MALFORMED]++;
		return;
	}
	link_gro_write(&c->gro, &c->tun, p, len, size, c->scratch, &c->stat, &c->stat.down);
}

/* The gateway closed: say why once the close sequence is over. */
static void peer_closed(struct client *c, const struct link_msg *m)
{
	c->st = C_CLOSING;
	if (m->error) {
		c->down.kind = F_TRANSIENT;
		snprintf(c->down.why, sizeof c->down.why,
			 "protocol error from the gateway (close %u)", m->code);
	} else if (m->code == WS_CLOSE_TRY_AGAIN) {
		c->down.kind = F_BUSY;
		snprintf(c->down.why, sizeof c->down.why, "the gateway has no free slot (close 1013)");
	} else {
		c->down.kind = F_TRANSIENT;
		snprintf(c->down.why, sizeof c->down.why, "closed by the gateway (%u)", m->code);
	}
}

/* One event of the link; the loop stops once the connection is not up. */
static void client_event(struct client *c, const struct link_msg *m)
{
	switch (m->ev) {
	case LINK_EV_HTTP:
		http_input(c, m);
		return;
	case LINK_EV_TEXT:
		if (c->st == C_ASSIGN)
			assignment(c, m->data, m->len);
		return;
	case LINK_EV_BINARY:
		if (c->st == C_OPEN)
			packet_down(c, m->data, m->len);
		else
			link_end(c, F_REFUSED, WS_CLOSE_PROTOCOL, "a packet before the assignment");
		return;
	case LINK_EV_CLOSE:
		peer_closed(c, m);
		return;
	case LINK_EV_NONE:
		return;
	}
}

/* The socket is readable: drain it up to a budget. */
static void sock_readable(struct client *c)
{
	int r = 1;

	for (int i = 0; i < SOCK_BUDGET && r > 0 && c->st >= C_HTTP && c->exit_code < 0; i++) {
		struct link_msg m;

		r = link_read(&c->l, &c->rxb, c->now);
		while (r > 0 && c->st >= C_HTTP && c->exit_code < 0 &&
		       link_next(&c->l, &m) != LINK_EV_NONE)
			client_event(c, &m);
	}
	/* What the reads brought goes to the TUN coalesced across them. */
	link_gro_flush(&c->gro, c->scratch, &c->stat, &c->stat.down);
	if (r < 0)
		link_gone(c);
}

/* ==== Timers, stats, the loop ==== */

static void timers(struct client *c)
{
	switch (c->st) {
	case C_IDLE:
		if (c->now >= c->deadline)
			link_start(c);
		return;
	case C_CONNECT:
	case C_HTTP:
	case C_ASSIGN:
		if (c->now >= c->deadline) {
			link_end(c, F_TRANSIENT, WS_CLOSE_GOING_AWAY, "%s timed out after %d s",
				 c->st == C_CONNECT ? "connect" : "upgrade", SETUP_MS / 1000);
			return;
		}
		break;
	case C_OPEN:
	case C_CLOSING:
		break;
	}
	if (c->st == C_CONNECT)
		return;
	switch (link_tick(&c->l, c->now)) {
	case LINK_TICK_SILENT:
		/* The gateway cannot answer a close: one try to send it, and on. */
		(void)link_flush(&c->l, c->now, &c->stat);
		link_down(c, F_TRANSIENT, "%s", link_why(&c->l));
		break;
	case LINK_TICK_DEAD:
		link_gone(c);
		break;
	case LINK_TICK_OK:
		break;
	}
}

static void log_stats(const struct client *c)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "stats link=%s reconnects=%llu",
			 c->st == C_OPEN ? "up" : "down", (unsigned long long)c->reconnects);
	if (n > 0 && (size_t)n < sizeof line)
		link_stats_format(line, sizeof line, (size_t)n, &c->stat);
	log_info("%s", line);
}

/* SIGINT, SIGTERM: close the connection properly, then leave. */
static void leave(struct client *c)
{
	log_info("%s: closing", got_term == SIGINT ? "interrupted" : "terminated");
	got_term = 0;
	if (c->st == C_OPEN || c->st == C_ASSIGN)
		link_end(c, F_EXIT, WS_CLOSE_GOING_AWAY, "leaving");
	else if (c->st == C_CLOSING)
		c->down.kind = F_EXIT;
	else
		c->exit_code = 0;
}

static void tun_readable(struct client *c)
{
	if (link_tun_drain(c->st == C_OPEN ? &c->l : NULL, &c->tun, c->mtu ? c->mtu : MTU_MAX,
			   NULL, DROP_LINK_DOWN, &c->stat, &c->stat.up, c->scratch, TUN_BUDGET,
			   NULL, 0) < 0) {
		log_warn("%s: read", c->o.tun);
		c->exit_code = 1;
	}
}

/*
 * The loop runs with its signals unblocked: the handler sets a flag and
 * writes wake_fd, so that a signal between the check and the wait ends the
 * wait, and one that comes while every wait returns events is still seen.
 */
static void loop(struct client *c)
{
	struct pollfd pfd[3];
	sigset_t empty;
	uint64_t next_tick = 0, n;

	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	while (c->exit_code < 0) {
		c->now = link_now();
		if (got_term)
			leave(c);
		if (got_usr1) {
			got_usr1 = 0;
			log_stats(c);
		}
		if (c->exit_code < 0 &&
		    (c->now >= next_tick || (c->st == C_IDLE && c->now >= c->deadline))) {
			timers(c);
			next_tick = c->now + TICK_MS;
		}
		if (c->exit_code < 0 && c->st >= C_HTTP && link_flush(&c->l, c->now, &c->stat) < 0)
			link_gone(c);
		if (c->exit_code >= 0)
			break;

		/* The TUN is always read: into the queue, or dropped and
		 * counted (link_tun_drain). */
		bool linked = c->st >= C_HTTP;
		pfd[0] = (struct pollfd){ .fd = c->tun.fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = c->st == C_IDLE ? -1 : c->fd,
			.events = c->st == C_CONNECT ? POLLOUT : linked ? link_events(&c->l) : 0 };
		uint64_t wait = TICK_MS;
		if (c->st == C_IDLE)
			wait = c->deadline > c->now ? c->deadline - c->now : 0;
		if (wait > TICK_MS)
			wait = TICK_MS;
		pfd[2] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
		bool busy = linked && link_busy(&c->l);
		struct timespec ts = { 0, busy ? 0 : (long)wait * 1000000 };
		int r = ppoll(pfd, 3, &ts, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			c->exit_code = 1;
			break;
		}
		c->now = link_now();
		if (pfd[2].revents & POLLIN)
			(void)!read(wake_fd, &n, sizeof n);
		if (pfd[1].fd >= 0 && c->st == C_CONNECT && pfd[1].revents)
			link_connect_done(c);
		else if (linked && (busy || (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))))
			sock_readable(c);
		if (pfd[0].revents & POLLIN)
			tun_readable(c);
	}
}

/* ==== Entry ==== */

/* The one cleanup path: routes, connection, TUN, secrets. */
static void client_free(struct client *c)
{
	conn_free(c);
	routes_del(c);
	if (c->tun.fd >= 0)
		close(c->tun.fd);
	explicit_bzero(c->session, sizeof c->session);
	explicit_bzero(c->auth, sizeof c->auth);
	free(c);
}

int client_main(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct client *c = calloc(1, sizeof *c);
	sigset_t old;
	int rc;

	if (!c) {
		log_warnx("connect: out of memory");
		return 1;
	}
	c->fd = c->tun.fd = -1;
	link_gro_init(&c->gro, c->gro_buf);
	c->exit_code = -1;
	c->backoff_ms = BACKOFF_MIN_MS;
	rc = parse_args(c, argc, argv);
	if (rc) {
		free(c);
		return rc == 2 ? 0 : 1;
	}
	/* Until the TUN exists there is nothing to undo: ^C may kill a slow
	 * name lookup. From then on signals wait for the loop. */
	rc = 1;
	if (tls_settings_check(c) < 0 || resolve(c) < 0) {
		client_free(c);
		return 1;
	}
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0) {
		log_warn("connect: eventfd");
		client_free(c);
		return 1;
	}
	link_signals(sigs, sizeof sigs / sizeof sigs[0], on_signal, &old);
	if (tun_open_checked(c) < 0)
		goto out;
	if (c->o.default_route && gateway_routes(c, true) < 0)
		goto out;
	c->now = link_now();
	c->deadline = c->now;
	loop(c);
	rc = c->exit_code;
out:
	client_free(c);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(wake_fd);
	wake_fd = -1;
	return rc;
}
