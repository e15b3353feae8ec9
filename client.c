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
 * It leaves the WebSocket bytes to ws.c, TLS to tls.c, and the interface,
 * addresses and routes to tun.c (rtnetlink). The packet paths mirror the
 * gateway's:
 *   read(tun) into a wire.c cell, after room for the header -> masked
 *   frame header written in front -> writev of many cells;
 *   socket -> in -> ws_rx_next -> one write(tun) per binary message.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "cli.h"
#include "client.h"
#include "log.h"
#include "nat.h"
#include "tls.h"
#include "tun.h"
#include "wire.h"
#include "ws.h"

/* ---- Sizes and timers ---- */

#define MTU_MAX        WIRE_PKT_MAX
#define MTU_MIN        576
#define IN_CAP         (2 * 65536)       /* socket bytes held for parsing */
#define TUN_BUDGET     64                /* packets read from the TUN per wake */
#define SOCK_BUDGET    4                 /* socket reads per wake */
#define SETUP_MS       10000             /* connect + TLS + upgrade + assignment */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define TICK_MS        200
#define KEEPALIVE_S    20                /* when the gateway does not say */
#define URL_MAX        8
#define TARGET_MAX     16                /* resolved addresses, all URLs */
#define ROUTE_MAX      64
#define SESSION_LEN    32                /* hex characters of the token */
#define TOKEN_MAX      512
#define JSON_MAX       1024              /* the assignment message */

#define WUR __attribute__((warn_unused_result))

/* ---- State ---- */

struct url {
	const char *text;            /* as given, for the log */
	bool tls;
	char host[256];              /* name or address, no brackets */
	char hosthdr[272];           /* the Host header: as in the URL */
	char path[1024];             /* path and query */
	uint16_t port;
};

struct target {
	unsigned url;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char name[INET6_ADDRSTRLEN + 8];
};

/* A route we added and must remove. */
struct route {
	uint32_t dst, gw;            /* host order */
	unsigned prefix;
	bool via_tun;                /* goes when the TUN goes */
	char dev[TUN_NAME_MAX];
};

struct opts {
	const char *tun;
	const char *token, *ca, *pin;
	bool insecure, default_route, has_addr;
	uint32_t addr;               /* --address, host order */
	unsigned prefix;
	unsigned mtu;                /* --mtu, 0 = the gateway's or 1500 */
	long keepalive_s;            /* --keepalive, -1 = the gateway's */
	unsigned retries;            /* 0 = forever */
	struct nat_cidr routes[ROUTE_MAX];
	unsigned n_routes;
};

enum link_state {
	L_IDLE,        /* waiting for the next attempt */
	L_CONNECT,     /* TCP connect in progress */
	L_HTTP,        /* upgrade request sent, reading the response */
	L_ASSIGN,      /* 101 with vpngw.v1, waiting for the assignment */
	L_OPEN,        /* packets both ways */
};

struct stats {
	uint64_t drops[DROP_N];
	uint64_t up_packets, up_bytes;     /* TUN -> gateway */
	uint64_t down_packets, down_bytes; /* gateway -> TUN */
	uint64_t reconnects;
};

/* What the vpngw.v1 assignment says. */
struct assign {
	uint32_t addr;               /* host order */
	unsigned prefix, mtu;
	long keepalive_s;            /* -1 if absent */
	char session[SESSION_LEN + 1]; /* "" if absent */
};

struct client {
	struct opts o;
	struct url urls[URL_MAX];
	unsigned n_urls;
	struct target tg[TARGET_MAX];
	unsigned n_tg, cur;

	/* The interface and what we did to the host. */
	int tun_fd;
	uint32_t addr;               /* configured, host order; 0 = not yet */
	unsigned prefix, mtu;
	bool tun_routes;             /* --route / --default-route are in place */
	struct route routes[ROUTE_MAX];
	unsigned n_routes;

	/* The link. */
	enum link_state st;
	int fd;
	struct tls_conn *tls;
	bool v1;
	unsigned opens;              /* times the link reached L_OPEN */
	unsigned fails;              /* failed attempts since the last open */
	unsigned backoff_ms;
	unsigned keepalive_s;
	uint64_t now, deadline, last_rx, last_ping;
	char key[WS_KEY_LEN + 1];
	char session[SESSION_LEN + 1];
	char auth[TOKEN_MAX + 32];   /* "Authorization: Bearer T\r\n" */
	struct ws_resp *resp;        /* during L_HTTP */
	struct ws_rx rx;
	struct wire_q q;             /* frames for the gateway, tail drop */
	struct wire_ctrl out;        /* the request and control frames */
	size_t in_len;
	uint64_t rng;
	int exit_code;               /* >= 0: leave the loop with it */
	struct stats stat;

	uint8_t in[IN_CAP];
	uint8_t frag[WS_MSG_MAX];
	uint8_t scratch[WIRE_CELL];  /* packets read only to be dropped */
};

static volatile sig_atomic_t got_term, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = sig;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *ip4(uint32_t host_order, char out[static INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(host_order) };

	return inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* xorshift64*: frame masks need to be unpredictable to nobody (§10.3 guards
 * against proxies we do not have), so getrandom seeds it once. */
static uint32_t rnd32(struct client *c)
{
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ==== Command line ==== */

/* "ws://host[:port]/path" or "wss://..."; one line on error. */
WUR static int url_parse(struct url *u, const char *s)
{
	const char *p = s, *authority, *host, *hend, *path;
	unsigned long port;

	u->text = s;
	if (!strncmp(p, "ws://", 5)) {
		u->tls = false;
		p += 5;
	} else if (!strncmp(p, "wss://", 6)) {
		u->tls = true;
		p += 6;
	} else {
		log_warnx("%s: expected ws://HOST[:PORT]/PATH or wss://...", s);
		return -1;
	}
	authority = p;
	for (const char *q = s; *q; q++) {
		if ((unsigned char)*q <= ' ' || *q == 0x7f || *q == '#' || *q == '\\') {
			log_warnx("%s: spaces, control characters, '#' and '\\' are not allowed", s);
			return -1;
		}
	}
	host = p;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend) {
			log_warnx("%s: unterminated '[' in the host", s);
			return -1;
		}
		p = hend + 1;
		host++;
	} else {
		while (*p && *p != ':' && *p != '/' && *p != '?')
			p++;
		hend = p;
	}
	if (hend == host || (size_t)(hend - host) >= sizeof u->host) {
		log_warnx("%s: missing or too long host", s);
		return -1;
	}
	memcpy(u->host, host, (size_t)(hend - host));
	u->host[hend - host] = 0;
	if (strchr(u->host, '@')) {
		log_warnx("%s: user information in the URL is not supported", s);
		return -1;
	}
	port = u->tls ? 443 : 80;
	if (*p == ':') {
		char *end;
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (end == p + 1 || errno || port < 1 || port > 65535 || p[1] == '-' ||
		    (*end && *end != '/' && *end != '?')) {
			log_warnx("%s: bad port", s);
			return -1;
		}
		p = end;
	} else if (*p && *p != '/' && *p != '?') {
		log_warnx("%s: bad host", s);
		return -1;
	}
	u->port = (uint16_t)port;
	if ((size_t)(p - authority) >= sizeof u->hosthdr) {
		log_warnx("%s: host too long", s);
		return -1;
	}
	memcpy(u->hosthdr, authority, (size_t)(p - authority));
	u->hosthdr[p - authority] = 0;
	path = *p ? p : "/";
	if (strlen(path) + 2 > sizeof u->path - (sizeof "&session=" + SESSION_LEN)) {
		log_warnx("%s: path too long", s);
		return -1;
	}
	snprintf(u->path, sizeof u->path, "%s%s", *path == '?' ? "/" : "", path);
#if !VPNGW_TLS
	if (u->tls) {
		log_warnx("%s: wss:// needs TLS, and this vpngw was built without it (TLS=0)", s);
		return -1;
	}
#endif
	return 0;
}

/* "a.b.c.d/len" keeping the host bits (an interface address). */
WUR static int addr_parse(const char *s, size_t len, uint32_t *addr, unsigned *prefix)
{
	char buf[INET_ADDRSTRLEN + 4];
	struct in_addr a;
	char *slash, *end;
	unsigned long p;

	if (len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	if (!slash[1] || slash[1] < '0' || slash[1] > '9')
		return -1;
	p = strtoul(slash + 1, &end, 10);
	if (*end || p < 1 || p > 32)
		return -1;
	*addr = ntohl(a.s_addr);
	*prefix = (unsigned)p;
	/* Not an address an interface can hold. */
	if (*addr == 0 || *addr == 0xffffffffu || (*addr >> 24) == 127 || (*addr >> 28) >= 14)
		return -1;
	return 0;
}

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f)
			return false;
	return true;
}

/* One option or URL of connect (cli.c's table has refused the options it
 * does not take). Returns 0, or -1 after one line. */
static int option(void *ctx, enum cli_id id, const char *arg)
{
	struct client *c = ctx;
	struct opts *o = &c->o;
	unsigned long v;

	switch (id) {
	case CLI_OPERAND:
		if (c->n_urls == URL_MAX) {
			log_warnx("connect: at most %d URLs", URL_MAX);
			return -1;
		}
		if (url_parse(&c->urls[c->n_urls], arg) < 0)
			return -1;
		c->n_urls++;
		return 0;
	case CLI_TUN:
		if (!*arg || strlen(arg) >= TUN_NAME_MAX || strpbrk(arg, "/ \t%:")) {
			log_warnx("connect: --tun %s: at most %d characters, no '/', ':', '%%' or spaces",
				  arg, TUN_NAME_MAX - 1);
			return -1;
		}
		o->tun = arg;
		return 0;
	case CLI_ADDRESS:
		if (addr_parse(arg, strlen(arg), &o->addr, &o->prefix) < 0) {
			log_warnx("connect: --address %s: expected an address with a prefix, like 10.0.100.2/24", arg);
			return -1;
		}
		o->has_addr = true;
		return 0;
	case CLI_ROUTE:
		if (o->n_routes == ROUTE_MAX - 4) {
			log_warnx("connect: --route: at most %d", ROUTE_MAX - 4);
			return -1;
		}
		if (cli_cidr("--route", arg, &o->routes[o->n_routes]) < 0)
			return -1;
		o->n_routes++;
		return 0;
	case CLI_DEFAULT_ROUTE:
		o->default_route = true;
		return 0;
	case CLI_TOKEN:
		if (!*arg || strlen(arg) > TOKEN_MAX || !header_safe(arg)) {
			log_warnx("connect: --token: 1 to %d printable characters, no spaces", TOKEN_MAX);
			return -1;
		}
		o->token = arg;
		return 0;
	case CLI_CA:
		o->ca = arg;
		return 0;
	case CLI_PIN:
		o->pin = arg;
		return 0;
	case CLI_INSECURE:
		o->insecure = true;
		return 0;
	case CLI_KEEPALIVE:
		if (cli_uint("--keepalive", arg, 0, 3600, &v) < 0)
			return -1;
		o->keepalive_s = (long)v;
		return 0;
	case CLI_MTU:
		if (cli_uint("--mtu", arg, MTU_MIN, MTU_MAX, &v) < 0)
			return -1;
		o->mtu = (unsigned)v;
		return 0;
	case CLI_RETRIES:
		if (cli_uint("--retries", arg, 0, 1000000, &v) < 0)
			return -1;
		o->retries = (unsigned)v;
		return 0;
	case CLI_VERBOSE:
		log_verbosity = LOG_DEBUG;
		return 0;
	case CLI_QUIET:
		log_verbosity = LOG_QUIET;
		return 0;
	default:
		log_warnx("connect: %s: not handled", cli_name(id));
		return -1;
	}
}

/* Returns 0, 1 after one line on stderr, or 2 for --help. */
static int parse_args(struct client *c, int argc, char **argv)
{
	c->o.tun = "vpngw-c0";
	c->o.keepalive_s = -1;
	switch (cli_parse(CLI_CONNECT, argc, argv, option, c)) {
	case CLI_DONE:
		return 2;
	case CLI_FAIL:
		return 1;
	case CLI_OK:
		break;
	}
	if (c->n_urls == 0) {
		log_warnx("connect: missing URL, e.g. vpngw connect ws://192.0.2.1:8080/");
		return 1;
	}
	if (c->o.pin && c->o.ca) {
		log_warnx("connect: --ca and --pin exclude each other");
		return 1;
	}
	if (c->o.token)
		snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s\r\n", c->o.token);
	return 0;
}

/* Resolves every URL's host once, at startup: later, with --default-route,
 * the resolver may be reachable only through the tunnel that is down. */
WUR static int resolve(struct client *c)
{
	for (unsigned i = 0; i < c->n_urls; i++) {
		const struct url *u = &c->urls[i];
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
		char port[8];
		snprintf(port, sizeof port, "%u", u->port);
		int e = getaddrinfo(u->host, port, &hints, &res);
		if (e) {
			log_warnx("%s: cannot resolve %s: %s", u->text, u->host,
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
				 h, u->port);
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

WUR static int route_add(struct client *c, uint32_t dst, unsigned prefix, uint32_t gw,
			 const char *dev, bool via_tun)
{
	struct route *r = &c->routes[c->n_routes];

	if (c->n_routes == ROUTE_MAX)
		return -1;
	if (tun_route(true, dst, prefix, gw, dev) < 0)
		return -1;
	*r = (struct route){ .dst = dst, .gw = gw, .prefix = prefix, .via_tun = via_tun };
	snprintf(r->dev, sizeof r->dev, "%s", dev);
	c->n_routes++;
	return 0;
}

/* Removes the routes we added, newest first. tun.c logs a failure. */
static void routes_del(struct client *c)
{
	while (c->n_routes) {
		struct route *r = &c->routes[--c->n_routes];
		if (tun_route(false, r->dst, r->prefix, r->gw, r->dev) < 0)
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

static bool is_gateway_host_route(const struct client *c, uint32_t dst)
{
	for (unsigned i = 0; i < c->n_routes; i++)
		if (!c->routes[i].via_tun && c->routes[i].dst == dst && c->routes[i].prefix == 32)
			return true;
	return false;
}

/*
 * --default-route must not send the tunnel's own packets into the tunnel:
 * each gateway address gets a host route via the route it has now. Called
 * before the tunnel routes exist, and again before each attempt in case a
 * link flap took the host route away (the lookup then names our TUN).
 */
static int gateway_routes(struct client *c, bool first)
{
	for (unsigned i = 0; i < c->n_tg; i++) {
		const struct target *t = &c->tg[i];
		char dev[TUN_NAME_MAX], a[INET_ADDRSTRLEN];
		uint32_t dst, gw;
		if (t->sa.ss_family != AF_INET)
			continue;
		dst = ntohl(((const struct sockaddr_in *)&t->sa)->sin_addr.s_addr);
		if ((dst >> 24) == 127)
			continue;
		if (!first) {
			for (unsigned k = 0; k < c->n_routes; k++) {
				struct route *r = &c->routes[k];
				if (r->via_tun || r->dst != dst || tun_route_get(dst, &gw, dev) < 0 ||
				    strcmp(dev, c->o.tun))
					continue;
				if (tun_route(true, r->dst, 32, r->gw, r->dev) == 0)
					log_info("host route to %s via %s restored", ip4(dst, a), r->dev);
			}
			continue;
		}
		if (is_gateway_host_route(c, dst))
			continue;
		if (tun_route_get(dst, &gw, dev) < 0) {
			log_warn("no route to the gateway %s", ip4(dst, a));
			return -1;
		}
		if (!strcmp(dev, c->o.tun) || !strcmp(dev, "lo"))
			continue;
		if (route_add(c, dst, 32, gw, dev, false) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* --route and --default-route, once the interface is configured. */
WUR static int tunnel_routes(struct client *c)
{
	char a[INET_ADDRSTRLEN];

	if (c->tun_routes)
		return 0;
	for (unsigned i = 0; i < c->o.n_routes; i++) {
		const struct nat_cidr *r = &c->o.routes[i];
		if (route_add(c, r->addr, (unsigned)__builtin_popcount(r->mask), 0, c->o.tun, true) < 0) {
			log_warnx("--route %s/%d: cannot add it", ip4(r->addr, a),
				  __builtin_popcount(r->mask));
			return -1;
		}
	}
	if (c->o.default_route &&
	    (route_add(c, 0, 1, 0, c->o.tun, true) < 0 ||
	     route_add(c, 0x80000000u, 1, 0, c->o.tun, true) < 0)) {
		log_warnx("--default-route: cannot add 0.0.0.0/1 and 128.0.0.0/1");
		return -1;
	}
	c->tun_routes = true;
	return 0;
}

/* ==== The interface ==== */

WUR static int tun_open_checked(struct client *c)
{
	c->tun_fd = tun_create(c->o.tun);
	if (c->tun_fd >= 0)
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
 * Gives the interface addr/prefix and mtu. A different address than before
 * (a new slot) means a new device: tun.h can add an address but not remove
 * one, and two would confuse source selection. The TUN's routes go with the
 * old device and are added again.
 */
WUR static int tun_setup_addr(struct client *c, uint32_t addr, unsigned prefix, unsigned mtu)
{
	if (c->addr && (c->addr != addr || c->prefix != prefix)) {
		close(c->tun_fd);
		routes_forget_tun(c);
		c->addr = 0;
		if (tun_open_checked(c) < 0)
			return -1;
	}
	if (c->addr != addr || c->prefix != prefix || c->mtu != mtu) {
		if (tun_configure(c->o.tun, addr, prefix, mtu) < 0)
			return -1;
		c->addr = addr;
		c->prefix = prefix;
		c->mtu = mtu;
	}
	return tunnel_routes(c);
}

/* ==== Output: control bytes and the frame queue ==== */

static void mask_new(struct client *c, uint8_t mask[static 4])
{
	uint32_t r = rnd32(c);

	memcpy(mask, &r, 4);
}

/* Bytes that must go out whole (the request, a control frame). */
static int ctrl_put(struct client *c, const void *p, size_t len)
{
	return wire_ctrl_put(&c->out, p, len, 0);
}

/* A masked control frame (§5.5, §5.3). A full buffer loses it: a lost pong
 * is allowed (§5.5.3), a lost ping is retried by the keepalive timer. */
static void ctrl_frame(struct client *c, enum ws_op op, const uint8_t *p, size_t len)
{
	uint8_t f[6 + WS_CTRL_MAX], mask[4];

	if (len > WS_CTRL_MAX)
		return;
	if (len)
		memcpy(f + 6, p, len);
	mask_new(c, mask);
	size_t h = ws_hdr_put_masked(f, op, len, mask, f + 6);
	(void)ctrl_put(c, f, h + len);
}

static void close_frame(struct client *c, uint16_t code)
{
	uint8_t b[4];
	size_t n = ws_close_frame(b, code);

	ctrl_frame(c, WS_OP_CLOSE, b + 2, n - 2);
}

/* The frame queue is sent from only while the link is open. */
static struct wire_q *open_q(struct client *c)
{
	return c->st == L_OPEN ? &c->q : NULL;
}

static bool tx_pending(struct client *c)
{
	return wire_pending(&c->out, open_q(c), c->tls);
}

static void q_drop(struct client *c)
{
	c->stat.drops[DROP_LINK_DOWN] += wire_q_clear(&c->q);
}

/* Writes what is queued: see wire_flush. Returns -1 when the link failed. */
static int flush(struct client *c)
{
	return wire_flush(c->fd, c->tls, &c->out, open_q(c));
}

/* ==== The link: connect, lose, retry ==== */

static void link_close(struct client *c)
{
	if (c->tls)
		tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->resp) {
		explicit_bzero(c->resp, sizeof *c->resp);
		free(c->resp);
		c->resp = NULL;
	}
	c->in_len = 0;
	c->out.len = 0;
	q_drop(c);
}

enum fail_kind {
	F_TRANSIENT,   /* retry once a connection ever worked */
	F_REFUSED,     /* the gateway said no: fatal before the first success */
	F_FATAL,       /* never retried (401, 403, 404) */
};

/*
 * The attempt or the connection failed. Before the first success, every
 * address is tried once, then the error is the user's: one line, exit 1.
 * After it, one log line and a retry with backoff (1 s doubling to 30 s,
 * with jitter), unless --retries is exhausted.
 */
static void link_down(struct client *c, enum fail_kind kind, const char *fmt, ...)
	PRINTF(3, 4);

static void link_down(struct client *c, enum fail_kind kind, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	bool was_open = c->st == L_OPEN;
	const struct target *t = &c->tg[c->cur];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	link_close(c);
	c->st = L_IDLE;
	if (!was_open) {
		c->fails++;
		c->cur = (c->cur + 1) % c->n_tg;
	}
	if (kind == F_FATAL || (!c->opens && (kind == F_REFUSED || c->fails >= c->n_tg))) {
		log_warnx("%s (%s): %s", c->urls[t->url].text, t->name, why);
		c->exit_code = 1;
		return;
	}
	if (c->o.retries && c->fails >= c->o.retries) {
		log_warnx("%s (%s): %s; giving up after %u attempts", c->urls[t->url].text,
			  t->name, why, c->fails);
		c->exit_code = 1;
		return;
	}
	if (!c->opens) {
		/* The next address right away: this is still the first try. */
		log_info("%s: %s; trying the next address", t->name, why);
		c->deadline = c->now;
		return;
	}
	unsigned d = c->backoff_ms;
	unsigned delay = d / 2 + rnd32(c) % (d / 2 + 1);
	c->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
	c->deadline = c->now + delay;
	log_info("%s %s: %s; reconnecting in %u.%u s", was_open ? "disconnected from" : "failed",
		 t->name, why, delay / 1000, delay % 1000 / 100);
}

/* Queues the upgrade request (§4.1), with the session token if we hold one. */
WUR static int send_request(struct client *c)
{
	const struct url *u = &c->urls[c->tg[c->cur].url];
	char path[sizeof u->path + 64], req[WIRE_CTRL_CAP];
	uint8_t nonce[16];

	if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce) {
		for (size_t i = 0; i < sizeof nonce; i += 4) {
			uint32_t r = rnd32(c);
			memcpy(nonce + i, &r, 4);
		}
	}
	base64_encode(c->key, nonce, sizeof nonce);
	if (c->session[0])
		snprintf(path, sizeof path, "%s%csession=%s", u->path,
			 strchr(u->path, '?') ? '&' : '?', c->session);
	else
		snprintf(path, sizeof path, "%s", u->path);
	size_t n = ws_client_request(req, sizeof req, u->hosthdr, path, c->key, WS_PROTO_V1,
				     c->auth[0] ? c->auth : NULL);
	explicit_bzero(path, sizeof path);
	if (n == 0 || ctrl_put(c, req, n) < 0) {
		explicit_bzero(req, sizeof req);
		return -1;
	}
	explicit_bzero(req, sizeof req);
	return 0;
}

/*
 * Checks --ca and --pin once, before anything is set up, so that a bad one
 * is one line and exit 1 (tls.c prints the line). Returns 0 or -1.
 */
static int tls_settings_check(struct client *c)
{
	for (unsigned i = 0; i < c->n_urls; i++) {
		if (!c->urls[i].tls)
			continue;
		struct tls_conn *t = tls_conn_client(c->urls[i].host, c->o.ca, c->o.pin,
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
	const struct url *u = &c->urls[c->tg[c->cur].url];
	int one = 1;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (u->tls) {
		c->tls = tls_conn_client(u->host, c->o.ca, c->o.pin, c->o.insecure);
		if (!c->tls) {
			link_down(c, F_FATAL, "TLS setup failed");
			return;
		}
	}
	c->resp = malloc(sizeof *c->resp);
	if (!c->resp) {
		link_down(c, F_TRANSIENT, "out of memory");
		return;
	}
	ws_resp_init(c->resp);
	if (send_request(c) < 0) {
		link_down(c, F_FATAL, "the upgrade request does not fit (URL or token too long)");
		return;
	}
	c->st = L_HTTP;
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
	c->st = L_CONNECT;
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

/* ==== The assignment (vpngw.v1) ==== */

/* A cursor over the JSON text; every read checks the length first. */
struct cur {
	const char *p;
	size_t len, off;
};

static void j_ws(struct cur *j)
{
	while (j->off < j->len && strchr(" \t\r\n", j->p[j->off]))
		j->off++;
}

static bool j_lit(struct cur *j, char ch)
{
	j_ws(j);
	if (j->off < j->len && j->p[j->off] == ch) {
		j->off++;
		return true;
	}
	return false;
}

/* A string without escapes or control characters. */
static bool j_str(struct cur *j, struct ws_str *s)
{
	if (!j_lit(j, '"'))
		return false;
	s->p = j->p + j->off;
	while (j->off < j->len && j->p[j->off] != '"') {
		char ch = j->p[j->off];
		if (ch == '\\' || (unsigned char)ch < 0x20)
			return false;
		j->off++;
	}
	if (j->off == j->len)
		return false;
	s->len = (size_t)(j->p + j->off - s->p);
	j->off++;
	return true;
}

static bool j_uint(struct cur *j, unsigned long *v)
{
	size_t n = 0;

	j_ws(j);
	*v = 0;
	while (j->off < j->len && j->p[j->off] >= '0' && j->p[j->off] <= '9') {
		if (++n > 9)
			return false;
		*v = *v * 10 + (unsigned long)(j->p[j->off++] - '0');
	}
	return n > 0;
}

/* Skips a value we do not know: a string, or anything up to the next ','
 * or '}' at depth 0 (numbers, literals, nested objects and arrays). */
static bool j_skip(struct cur *j)
{
	struct ws_str s;
	int depth = 0;

	j_ws(j);
	if (j->off < j->len && j->p[j->off] == '"')
		return j_str(j, &s);
	while (j->off < j->len) {
		char ch = j->p[j->off];
		if (ch == '"') {
			if (!j_str(j, &s))
				return false;
			continue;
		}
		if (depth == 0 && (ch == ',' || ch == '}'))
			return true;
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		if (depth < 0 || depth > 8)
			return false;
		j->off++;
	}
	return false;
}

static bool is_hex(struct ws_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (!strchr("0123456789abcdefABCDEF", s.p[i]))
			return false;
	return true;
}

static bool key_is(struct ws_str k, const char *lit)
{
	return k.len == strlen(lit) && !memcmp(k.p, lit, k.len);
}

/* {"address":"A/LEN","gateway":..,"mtu":N,"session":"HEX","keepalive":N,..}
 * Returns 0, or -1 if it is not that. */
WUR static int assign_parse(struct assign *a, const char *txt, size_t len)
{
	struct cur j = { txt, len, 0 };
	bool have_addr = false;
	unsigned long v;

	*a = (struct assign){ .mtu = TUN_MTU_DEFAULT, .keepalive_s = -1 };
	if (!j_lit(&j, '{'))
		return -1;
	if (j_lit(&j, '}'))
		return -1;
	do {
		struct ws_str k, s;
		if (!j_str(&j, &k) || !j_lit(&j, ':'))
			return -1;
		if (key_is(k, "address")) {
			if (!j_str(&j, &s) || addr_parse(s.p, s.len, &a->addr, &a->prefix) < 0)
				return -1;
			have_addr = true;
		} else if (key_is(k, "mtu")) {
			if (!j_uint(&j, &v) || v < MTU_MIN || v > 65535)
				return -1;
			a->mtu = (unsigned)v;
		} else if (key_is(k, "keepalive")) {
			if (!j_uint(&j, &v) || v > 3600)
				return -1;
			a->keepalive_s = (long)v;
		} else if (key_is(k, "session")) {
			if (!j_str(&j, &s))
				return -1;
			if (s.len == SESSION_LEN && is_hex(s)) {
				memcpy(a->session, s.p, s.len);
				a->session[s.len] = 0;
			}
		} else if (!j_skip(&j)) {
			return -1;
		}
	} while (j_lit(&j, ','));
	if (!j_lit(&j, '}'))
		return -1;
	j_ws(&j);
	return have_addr && j.off == j.len ? 0 : -1;
}

/*
 * The assignment frame: ws.c refuses text messages (the gateway's rule), so
 * this one frame is read here: unmasked, final, opcode text, at most
 * JSON_MAX bytes. Returns the bytes it takes, 0 for more, -1 if malformed.
 */
static long assign_frame(const uint8_t *b, size_t len, const char **txt, size_t *tlen)
{
	size_t h = 2, plen;

	if (len < 2)
		return 0;
	if (b[0] != (0x80 | WS_OP_TEXT) || (b[1] & 0x80))
		return -1;
	plen = b[1] & 0x7f;
	if (plen == 127)
		return -1;
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (size_t)b[2] << 8 | b[3];
		h = 4;
	}
	if (plen > JSON_MAX)
		return -1;
	if (len - h < plen)
		return 0;
	*txt = (const char *)b + h;
	*tlen = plen;
	return (long)(h + plen);
}

/* ==== Opening the link ==== */

/* The link is up: configure what changed, log one line. */
static int link_open(struct client *c, const struct assign *a)
{
	const struct target *t = &c->tg[c->cur];
	char was[INET_ADDRSTRLEN], now_a[INET_ADDRSTRLEN];
	uint32_t old = c->addr;
	unsigned old_prefix = c->prefix;
	bool resumed = a && a->session[0] && c->session[0] &&
		       !strcmp(a->session, c->session);
	uint32_t addr = a ? a->addr : c->o.addr;
	unsigned prefix = a ? a->prefix : c->o.prefix;
	unsigned mtu = c->o.mtu ? c->o.mtu : a ? a->mtu : TUN_MTU_DEFAULT;

	if (mtu > MTU_MAX) {
		log_info("the gateway's MTU %u is over %u; using %u", mtu, MTU_MAX, MTU_MAX);
		mtu = MTU_MAX;
	}
	if (tun_setup_addr(c, addr, prefix, mtu) < 0) {
		c->exit_code = 1;
		return -1;
	}
	if (a) {
		explicit_bzero(c->session, sizeof c->session);
		memcpy(c->session, a->session, sizeof c->session);
	}
	c->keepalive_s = c->o.keepalive_s >= 0 ? (unsigned)c->o.keepalive_s :
			 a && a->keepalive_s >= 0 ? (unsigned)a->keepalive_s : KEEPALIVE_S;
	c->st = L_OPEN;
	c->last_rx = c->last_ping = c->now;
	c->fails = 0;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (!c->opens)
		log_info("connected to %s (%s) as %s/%u on %s, mtu %u%s", c->urls[t->url].text,
			 t->name, ip4(addr, now_a), prefix, c->o.tun, mtu,
			 a ? "" : " (no vpngw.v1: --address)");
	else if (resumed || (!a && old == addr))
		log_info("reconnected to %s: resumed %s/%u on %s", t->name, ip4(addr, now_a),
			 prefix, c->o.tun);
	else
		log_info("reconnected to %s: new session, address %s/%u (was %s/%u)", t->name,
			 ip4(addr, now_a), prefix, ip4(old, was), old_prefix);
	if (c->opens)
		c->stat.reconnects++;
	c->opens++;
	return 0;
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
				  c->o.token ? "" : "; the gateway wants --token");
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
	explicit_bzero(r, sizeof *r);
	free(r);
	c->resp = NULL;
	ws_rx_init(&c->rx, false, WS_MSG_MAX, c->frag, sizeof c->frag);
	if (c->v1) {
		c->st = L_ASSIGN;
		return;
	}
	if (!c->o.has_addr) {
		link_down(c, F_FATAL, "the gateway does not speak vpngw.v1 and assigns no "
			  "address; give one with --address A/LEN");
		return;
	}
	(void)link_open(c, NULL);
}

/* ==== Input: frames from the gateway ==== */

static void packet_down(struct client *c, const uint8_t *p, size_t len)
{
	enum drop d = DROP_NONE;

	if (len < 20 || (p[0] >> 4 != 4 && p[0] >> 4 != 6))
		d = DROP_MALFORMED;
	else if (write(c->tun_fd, p, len) != (ssize_t)len)
		d = DROP_TUN_WRITE;
	if (d == DROP_NONE) {
		c->stat.down_packets++;
		c->stat.down_bytes += len;
	} else {
		c->stat.drops[d]++;
	}
	if (log_verbosity >= LOG_DEBUG)
		log_debug("down %zu bytes%s%s", len, d ? ": drop " : "", d ? drop_name(d) : "");
}

static void close_seen(struct client *c, uint16_t code)
{
	close_frame(c, code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : code);
	(void)flush(c);
	/* Pool full: the user's problem on the first connection (for the
	 * original protocol, which opened without an assignment, too). */
	bool first = !c->opens || (c->opens == 1 && !c->v1 && c->st == L_OPEN &&
				   !c->stat.reconnects);
	if (code == WS_CLOSE_TRY_AGAIN)
		link_down(c, first ? F_FATAL : F_TRANSIENT,
			  "the gateway has no free slot (close 1013)");
	else
		link_down(c, F_TRANSIENT, "closed by the gateway (%u)", code);
}

/* One frame event. Returns -1 when the link went down. */
static int frame_event(struct client *c, struct ws_msg *m)
{
	switch (m->ev) {
	case WS_EV_BINARY:
		if (c->st != L_OPEN) {
			close_frame(c, WS_CLOSE_PROTOCOL);
			(void)flush(c);
			link_down(c, F_REFUSED, "a packet before the assignment");
			return -1;
		}
		packet_down(c, m->data, m->len);
		return 0;
	case WS_EV_PING:
		ctrl_frame(c, WS_OP_PONG, m->data, m->len);
		return 0;
	case WS_EV_PONG:
	case WS_EV_MORE:
		return 0;
	case WS_EV_CLOSE:
		close_seen(c, m->code);
		return -1;
	case WS_EV_ERROR:
		close_frame(c, m->code);
		(void)flush(c);
		link_down(c, F_TRANSIENT, "protocol error from the gateway (close %u)", m->code);
		return -1;
	}
	return 0;
}

/* In L_ASSIGN: the first message must be the assignment (or a close). */
static long parse_assign(struct client *c, uint8_t *b, size_t len)
{
	const char *txt;
	size_t tlen;
	struct assign a;

	if ((b[0] & 0x0f) != WS_OP_TEXT)
		return 0; /* not text: the frame parser judges it */
	long used = assign_frame(b, len, &txt, &tlen);
	if (used == 0)
		return -2;
	if (used < 0 || assign_parse(&a, txt, tlen) < 0) {
		close_frame(c, WS_CLOSE_PROTOCOL);
		(void)flush(c);
		link_down(c, F_REFUSED, "malformed vpngw.v1 assignment");
		return -1;
	}
	explicit_bzero(b, (size_t)used);
	if (link_open(c, &a) < 0) {
		explicit_bzero(&a, sizeof a);
		return -1;
	}
	explicit_bzero(&a, sizeof a);
	return used;
}

/* Consumes what c->in holds: the response head, then frames. Returns -1
 * when the link went down. */
static int parse_input(struct client *c)
{
	size_t off = 0;
	int rc = 0;

	while (off < c->in_len && rc == 0) {
		if (c->st == L_HTTP) {
			size_t used = 0;
			int s = ws_resp_feed(c->resp, c->in + off, c->in_len - off, &used);
			off += used;
			if (s == WS_REQ_MORE)
				continue;
			if (s == WS_REQ_DONE)
				http_done(c);
			else
				link_down(c, F_REFUSED, "malformed HTTP response (%d)", s);
			if (c->st == L_IDLE || c->exit_code >= 0)
				return -1;
			continue;
		}
		if (c->st == L_ASSIGN) {
			long used = parse_assign(c, c->in + off, c->in_len - off);
			if (used == -1)
				return -1;
			if (used == -2)
				break;
			if (used > 0) {
				off += (size_t)used;
				continue;
			}
		}
		struct ws_msg m;
		size_t used = ws_rx_next(&c->rx, c->in + off, c->in_len - off, &m);
		if (m.ev == WS_EV_ERROR)
			return frame_event(c, &m);
		if (used == 0)
			break;
		off += used;
		rc = frame_event(c, &m);
	}
	if (rc < 0)
		return -1;
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return 0;
}

/* The socket is readable: drain it up to a budget. */
static void sock_readable(struct client *c)
{
	for (int i = 0; i < SOCK_BUDGET && c->st != L_IDLE; i++) {
		if (c->in_len == IN_CAP) {
			link_down(c, F_TRANSIENT, "input buffer full");
			return;
		}
		ssize_t r = wire_read(c->fd, c->tls, c->in + c->in_len, IN_CAP - c->in_len);
		if (r == -2)
			return;
		if (r <= 0) {
			if (r == 0)
				link_down(c, F_TRANSIENT, "connection closed by the gateway");
			else if (c->tls)
				/* A certificate that fails now will fail again. */
				link_down(c, tls_cert_failed(c->tls) ? F_FATAL : F_TRANSIENT,
					  "TLS: %s", tls_error(c->tls));
			else
				link_down(c, F_TRANSIENT, "%s", strerror(errno));
			return;
		}
		c->in_len += (size_t)r;
		c->last_rx = c->now;
			if (parse_input(c) < 0)
			return;
	}
}

/* ==== The TUN side ==== */

/* Reads packets straight into queue cells, the masked header in front;
 * while the link is down they are read into scratch and dropped. */
static void tun_readable(struct client *c)
{
	for (int i = 0; i < TUN_BUDGET; i++) {
		bool open = c->st == L_OPEN;
		uint8_t *p = open ? wire_q_next(&c->q) : c->scratch + WIRE_HEADROOM;
		if (!p)
			return; /* the kernel's queue holds the rest */
		ssize_t r = read(c->tun_fd, p, WIRE_PKT_MAX);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				log_warn("%s: read", c->o.tun);
				c->exit_code = 1;
			}
			return;
		}
		enum drop d = DROP_NONE;
		if (!open)
			d = DROP_LINK_DOWN;
		else if (r < 20 || p[0] >> 4 != 4)
			d = r >= 1 && p[0] >> 4 == 6 ? DROP_IPV6 : DROP_MALFORMED;
		if (d != DROP_NONE) {
			c->stat.drops[d]++;
			if (log_verbosity >= LOG_DEBUG)
				log_debug("up %zd bytes: drop %s", r, drop_name(d));
			continue;
		}
		uint8_t mask[4];
		mask_new(c, mask);
		size_t h = ws_hdr_len((size_t)r) + 4;
		ws_hdr_put_masked(p - h, WS_OP_BINARY, (size_t)r, mask, p);
		wire_q_push(&c->q, h, (size_t)r);
		c->stat.up_packets++;
		c->stat.up_bytes += (size_t)r;
		if (log_verbosity >= LOG_DEBUG)
			log_debug("up %zd bytes", r);
	}
}

/* ==== Timers, stats, the loop ==== */

static void timers(struct client *c)
{
	unsigned ka = c->keepalive_s;

	switch (c->st) {
	case L_IDLE:
		if (c->now >= c->deadline)
			link_start(c);
		return;
	case L_CONNECT:
	case L_HTTP:
	case L_ASSIGN:
		if (c->now >= c->deadline)
			link_down(c, F_TRANSIENT, "%s timed out after %d s",
				  c->st == L_CONNECT ? "connect" : "upgrade", SETUP_MS / 1000);
		return;
	case L_OPEN:
		break;
	}
	if (!ka)
		return;
	uint64_t idle = c->now - c->last_rx;
	if (idle >= 3ull * ka * 1000) {
		close_frame(c, WS_CLOSE_GOING_AWAY);
		(void)flush(c);
		link_down(c, F_TRANSIENT, "silent for %u s", 3 * ka);
	} else if (idle >= (uint64_t)ka * 1000 && c->now - c->last_ping >= (uint64_t)ka * 1000) {
		ctrl_frame(c, WS_OP_PING, (const uint8_t *)"vpngw", 5);
		c->last_ping = c->now;
	}
}

static void log_stats(const struct client *c)
{
	char line[1024];
	int n = snprintf(line, sizeof line,
			 "stats link=%s reconnects=%llu up_packets=%llu up_bytes=%llu "
			 "down_packets=%llu down_bytes=%llu", c->st == L_OPEN ? "up" : "down",
			 (unsigned long long)c->stat.reconnects,
			 (unsigned long long)c->stat.up_packets, (unsigned long long)c->stat.up_bytes,
			 (unsigned long long)c->stat.down_packets, (unsigned long long)c->stat.down_bytes);
	if (n > 0 && (size_t)n < sizeof line)
		drop_format(line, sizeof line, (size_t)n, c->stat.drops);
	log_info("%s", line);
}

static void install_signals(sigset_t *old)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Delivered only inside ppoll(), so no wake-up is ever missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, old);
}

static void loop(struct client *c)
{
	struct pollfd pfd[2];
	sigset_t empty;
	uint64_t next_tick = 0;

	sigemptyset(&empty);
	while (c->exit_code < 0) {
		c->now = now_ms();
		if (got_term) {
			log_info("%s: closing", got_term == SIGINT ? "interrupted" : "terminated");
			if (c->st == L_OPEN) {
				close_frame(c, WS_CLOSE_GOING_AWAY);
				(void)flush(c);
			}
			c->exit_code = 0;
			break;
		}
		if (got_usr1) {
			got_usr1 = 0;
			log_stats(c);
		}
		if (c->now >= next_tick || (c->st == L_IDLE && c->now >= c->deadline)) {
			timers(c);
			next_tick = c->now + TICK_MS;
		}
		if (c->st != L_IDLE && c->st != L_CONNECT && flush(c) < 0)
			link_down(c, F_TRANSIENT, "write: %s",
				  c->tls ? tls_error(c->tls) : strerror(errno));
		if (c->exit_code >= 0)
			break;

		/* The TUN: always read while down (to drop and count); while up,
		 * only when a cell is free. */
		pfd[0] = (struct pollfd){ .fd = c->tun_fd, .events = POLLIN };
		if (c->st == L_OPEN && c->q.count == WIRE_CELLS)
			pfd[0].fd = -1;
		short ev = 0;
		if (c->st == L_CONNECT)
			ev = POLLOUT;
		else if (c->st != L_IDLE) {
			ev = c->in_len < IN_CAP ? POLLIN : 0;
			if (tx_pending(c))
				ev |= POLLOUT;
		}
		pfd[1] = (struct pollfd){ .fd = c->st == L_IDLE ? -1 : c->fd, .events = ev };

		uint64_t wait = TICK_MS;
		if (c->st == L_IDLE)
			wait = c->deadline > c->now ? c->deadline - c->now : 0;
		if (wait > TICK_MS)
			wait = TICK_MS;
		if (c->tls && tls_has_plaintext(c->tls))
			wait = 0;
		struct timespec ts = { 0, (long)wait * 1000000 };
		int r = ppoll(pfd, 2, &ts, &empty);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			c->exit_code = 1;
			break;
		}
		c->now = now_ms();
		if (pfd[1].fd >= 0 && c->st == L_CONNECT && pfd[1].revents)
			link_connect_done(c);
		else if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR) ||
		         (c->tls && tls_has_plaintext(c->tls))))
			sock_readable(c);
		if (pfd[0].revents & POLLIN)
			tun_readable(c);
	}
}

/* ==== Entry ==== */

/* The one cleanup path: routes, link, TUN, secrets. */
static void client_free(struct client *c)
{
	link_close(c);
	routes_del(c);
	if (c->tun_fd >= 0)
		close(c->tun_fd);
	wire_q_free(&c->q);
	explicit_bzero(c->session, sizeof c->session);
	explicit_bzero(c->auth, sizeof c->auth);
	explicit_bzero(c->out.buf, sizeof c->out.buf);
	free(c);
}

int client_main(int argc, char **argv)
{
	struct client *c = calloc(1, sizeof *c);
	sigset_t old;
	int rc;

	if (!c) {
		log_warnx("connect: out of memory");
		return 1;
	}
	c->fd = c->tun_fd = -1;
	c->exit_code = -1;
	c->backoff_ms = BACKOFF_MIN_MS;
	rc = parse_args(c, argc, argv);
	if (rc) {
		free(c);
		return rc == 2 ? 0 : 1;
	}
	if (getrandom(&c->rng, sizeof c->rng, 0) != sizeof c->rng)
		c->rng = now_ms() ^ (uint64_t)getpid() << 32;
	c->rng |= 1;
	if (wire_q_init(&c->q) < 0) {
		log_warnx("connect: out of memory");
		free(c);
		return 1;
	}
	/* Until the TUN exists there is nothing to undo: ^C may kill a slow
	 * name lookup. From then on signals wait for the loop. */
	rc = 1;
	if (tls_settings_check(c) < 0 || resolve(c) < 0) {
		client_free(c);
		return 1;
	}
	install_signals(&old);
	if (tun_open_checked(c) < 0)
		goto out;
	if (c->o.default_route && gateway_routes(c, true) < 0)
		goto out;
	c->now = now_ms();
	c->deadline = c->now;
	loop(c);
	rc = c->exit_code;
out:
	client_free(c);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
