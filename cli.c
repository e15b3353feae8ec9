/* SPDX-License-Identifier: MIT */
/*
 * cli.c: the command line of every vpngw command, from one table.
 *
 * Each row of opts[] is one option of one or more commands: its names, the
 * placeholder of its value, one help line, the commands it applies to, and
 * what its value is and where in struct cli_args it goes. cli_parse refuses
 * what the table does not give the command and checks and stores the rest;
 * cli_usage and cli_help print the same rows, so that no help text can
 * drift from the parser. Defaults and the checks across options are the
 * commands' (vpngw.c for setup, teardown and serve; client.c for connect).
 *
 * Also the program's one parser of numbers, ADDR:PORT and CIDR values given
 * by a user. It keeps no state and does nothing but print: errors as one
 * line through log.h, usage on the FILE it is given.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cli.h"
#include "log.h"
#include "tun.h"
#include "v1.h"
#include "ws.h"

#define CMD(c)  (1u << (c))
#define SETUP   CMD(CLI_SETUP)
#define TEARDN  CMD(CLI_TEARDOWN)
#define SERVE   CMD(CLI_SERVE)
#define CONNECT CMD(CLI_CONNECT)
#define ALL     (SETUP | TEARDN | SERVE | CONNECT)

#define HELP_COL   20   /* options longer than this get their help below */
#define SYN_WIDTH  79   /* synopsis lines of `vpngw --help` */

/* Row flags. */
enum {
	F_REPEAT = 1,   /* may be given again: "..." in the synopsis */
	F_OR = 2,       /* synopsis: "[previous | this]" */
	F_WITH = 4,     /* synopsis: "[previous this]", given together */
	F_NO_SYN = 8,   /* listed by --help, not in the synopsis */
};

/* What a row's value is, and where it goes in struct cli_args. */
enum kind {
	K_FLAG,         /* bool: true */
	K_STR,          /* const char *, after its check */
	K_NUM,          /* long, from lo to hi */
	K_BITS,         /* long long, bit/s from lo to hi: 20000000, 20M, 1G */
	K_CIDR,         /* struct nat_cidr */
	K_CIDRS,        /* struct cli_cidrs: one more; an IPv6 one in the
	                   struct cli_cidrs6 at lo, when lo is not 0 */
	K_ADDRS,        /* an address of either family: a /32 in the cli_cidrs,
	                   a /128 in the cli_cidrs6 at lo, hi of each at most */
	K_SUBNET6,      /* subnet6: an IPv6 prefix of length 64..120, or none */
	K_STRS,         /* struct cli_strs: one more, after its check */
	K_IFADDR,       /* address and address_prefix */
	K_LOG,          /* the log level: lo */
	K_HELP,         /* this command's usage */
};

/* NULL when s is fine for the option, else why not. */
typedef const char *check_fn(const char *s);

struct opt {
	const char *name;        /* "--listen" */
	const char *short_name;  /* "-v", or NULL */
	const char *arg;         /* the value's placeholder; NULL: takes none */
	const char *help;        /* one line */
	unsigned cmds;           /* CMD() bits */
	unsigned flags;
	enum kind kind;
	size_t off;              /* in struct cli_args */
	long long lo, hi;        /* K_NUM's range; K_LOG's level */
	check_fn *check;         /* K_STR, K_STRS: or NULL */
};

static check_fn check_listen, check_path, check_prefix, check_ifname, check_token, check_workers;

#define AT(field) offsetof(struct cli_args, field)
#define NUM(field, lo, hi) K_NUM, AT(field), lo, hi, NULL
#define BITS(field, lo, hi) K_BITS, AT(field), lo, hi, NULL
#define STR(field, check) K_STR, AT(field), 0, 0, check
#define FLAG(field) K_FLAG, AT(field), 0, 0, NULL
#define LIST(field) K_CIDRS, AT(field), 0, 0, NULL
#define LIST46(field, field6) K_CIDRS, AT(field), (long long)AT(field6), 0, NULL

/* In the order --help lists them. A name may have one row per meaning
 * (--mtu, --keepalive): rows of one name never share a command. */
static const struct opt opts[] = {
	{ "--listen", NULL, "ADDR:PORT", "listen on ADDR:PORT (default 127.0.0.1:8080)",
	  SERVE, 0, STR(listen, check_listen) },
	{ "--path", NULL, "PATH", "upgrade only requests for PATH (default: any path)",
	  SERVE, 0, STR(path, check_path) },
	{ "--tls-cert", NULL, "PEM", "terminate TLS with this certificate chain",
	  SERVE, 0, STR(tls_cert, NULL) },
	{ "--tls-key", NULL, "PEM", "and this key (PKCS#1, SEC1 or PKCS#8)",
	  SERVE, F_WITH, STR(tls_key, NULL) },
	{ "--pool", NULL, "N", "number of slots (default 5)",
	  SETUP | TEARDN | SERVE, 0, NUM(pool, 1, TUN_POOL_MAX) },
	{ "--subnet", NULL, "CIDR", "slot 0's subnet, the others after it (10.0.100.0/24)",
	  SETUP | SERVE, 0, K_CIDR, AT(subnet), 0, 0, NULL },
	{ "--subnet6", NULL, "CIDR|none", "slot 0's IPv6 prefix, the others after it "
	  "(fd00:0:0:100::/64); none: IPv4 only", SETUP | TEARDN | SERVE, 0, K_SUBNET6, 0, 0, 0, NULL },
	{ "--client-prefix", NULL, "LEN", "prefix length of each slot, 16 to 30 (default 24)",
	  SETUP | SERVE, 0, NUM(client_prefix, 16, 30) },
	{ "--tun-prefix", NULL, "NAME", "slot devices are NAME0, NAME1, ... (default vpngw)",
	  SETUP | TEARDN | SERVE, 0, STR(tun_prefix, check_prefix) },
	{ "--user", NULL, "USER", "owns the devices; serve drops to it: a name or UID[:GID] (default nobody)",
	  SETUP | SERVE, 0, STR(user, NULL) },
	{ "--egress", NULL, "IFACE", "masquerade out of IFACE (default: the default route's)",
	  SETUP | SERVE, 0, STR(egress, check_ifname) },
	{ "--mtu", NULL, "N", "the slots' MTU, announced to clients (default 1500)",
	  SETUP | SERVE, 0, NUM(mtu, 576, 65535) },
	{ "--open-port", NULL, "PORT[/tcp|/udp]", "let tunnel clients reach PORT of this host (repeatable)",
	  SETUP | SERVE, F_REPEAT, K_STRS, AT(open_ports), 0, 0, NULL },
	{ "--allow", NULL, "CIDR", "let clients reach CIDR, IPv4 or IPv6 (repeatable)",
	  SERVE, F_REPEAT, LIST46(allow, allow6) },
	{ "--deny", NULL, "CIDR", "keep clients from reaching CIDR, IPv4 or IPv6 (repeatable)",
	  SERVE, F_REPEAT, LIST46(deny, deny6) },
	{ "--linger", NULL, "SEC", "keep a vanished client's slot SEC s (default 10)",
	  SERVE, 0, NUM(linger, 0, 3600) },
	{ "--keepalive", NULL, "SEC", "ping a client idle SEC s, drop it after 3 (default 20)",
	  SERVE, 0, NUM(keepalive, 0, 3600) },
	{ "--max-message", NULL, "N", "largest message accepted, bytes (default 65535)",
	  SERVE, 0, NUM(max_message, 1280, WS_MSG_MAX) },
	{ "--workers", NULL, "N|auto", "packet loops on N threads, or auto: one per CPU (default 1)",
	  SERVE, 0, STR(workers, check_workers) },
	{ "--token-file", NULL, "FILE", "admit only clients with a token of FILE (HUP reloads)",
	  SERVE, 0, STR(token_file, NULL) },
	{ "--dns", NULL, "ADDR", "advertise the DNS server ADDR to clients (repeatable, "
	  CLI_STR(V1_DNS_MAX) " of each family)", SERVE, F_REPEAT, K_ADDRS, AT(dns),
	  (long long)AT(dns6), V1_DNS_MAX, NULL },
	{ "--metrics", NULL, "ADDR:PORT", "serve /metrics and /healthz on ADDR:PORT (default off)",
	  SERVE, 0, STR(metrics, check_listen) },
	{ "--trust-proxy", NULL, "CIDR", "take X-Forwarded-For from proxies in CIDR (repeatable)",
	  SERVE, F_REPEAT, LIST(trust_proxy) },
	{ "--max-handshakes", NULL, "N", "handshakes in progress at once (default 256)",
	  SERVE, 0, NUM(max_handshakes, 1, 65536) },
	{ "--handshake-rate", NULL, "N", "new connections per source address a second (default 20)",
	  SERVE, 0, NUM(handshake_rate, 1, 1000000) },
	{ "--client-rate", NULL, "BITS", "each client's rate each way, bit/s, k/M/G/T suffix "
	  "(default 0: no limit)", SERVE, 0, BITS(client_rate, 0, 1000000000000000) },
	{ "--gateway-id", NULL, "N", "this gateway's number behind a shared proxy (default 0)",
	  SERVE, 0, NUM(gateway_id, 0, 255) },
	{ "--no-seccomp", NULL, NULL, "serve without the system call filter (for debugging)",
	  SERVE, 0, FLAG(no_seccomp) },
	{ "--dry-run", NULL, NULL, "print what would be done, and change nothing",
	  SETUP | TEARDN | SERVE, 0, FLAG(dry_run) },

	{ "--tun", NULL, "NAME", "interface name (default vpngw-c0)",
	  CONNECT, 0, STR(tun, check_ifname) },
	{ "--address", NULL, "A/LEN", "address when the gateway assigns none (no vpngw.v1)",
	  CONNECT, 0, K_IFADDR, 0, 0, 0, NULL },
	{ "--mtu", NULL, "N", "interface MTU (default: the gateway's, else 1500)",
	  CONNECT, 0, NUM(mtu, 576, 65535) },
	{ "--route", NULL, "CIDR", "route CIDR, IPv4 or IPv6, through the tunnel (repeatable)",
	  CONNECT, F_REPEAT, LIST46(routes, routes6) },
	{ "--default-route", NULL, NULL, "route everything through the tunnel",
	  CONNECT, 0, FLAG(default_route) },
	{ "--kill-switch", NULL, NULL, "let traffic leave only through the tunnel or to the "
	  "gateway, reconnects included", CONNECT, 0, FLAG(kill_switch) },
	{ "--token", NULL, "TOKEN", "send Authorization: Bearer TOKEN",
	  CONNECT, 0, STR(token, check_token) },
	{ "--token-file", NULL, "FILE", "send the token in FILE (kept out of ps)",
	  CONNECT, F_OR, STR(token_file, NULL) },
	{ "--ca", NULL, "PEM", "check wss:// against these CAs (default: the system's)",
	  CONNECT, 0, STR(ca, NULL) },
	{ "--pin", NULL, "sha256/BASE64", "check wss:// against the server key's SHA-256",
	  CONNECT, F_OR, STR(pin, NULL) },
	{ "--insecure", NULL, NULL, "check nothing on wss://",
	  CONNECT, F_OR, FLAG(insecure) },
	{ "--keepalive", NULL, "SEC", "ping after SEC s idle (default: the gateway's, else 20)",
	  CONNECT, 0, NUM(keepalive, 0, 3600) },
	{ "--retries", NULL, "N", "give up after N failed reconnects (default: never)",
	  CONNECT, 0, NUM(retries, 0, 1000000) },

	{ "--no-offload", NULL, NULL, "one packet per TUN read and write: no super-packets",
	  SERVE | CONNECT, 0, FLAG(no_offload) },
	{ "--verbose", "-v", NULL, "log more, down to every dropped packet",
	  ALL, 0, K_LOG, 0, LOG_DEBUG, 0, NULL },
	{ "--quiet", "-q", NULL, "log errors only",
	  ALL, F_OR, K_LOG, 0, LOG_QUIET, 0, NULL },
	{ "--help", "-h", NULL, "print this help",
	  ALL, F_NO_SYN, K_HELP, 0, 0, 0, NULL },
};

#define N_OPTS (sizeof opts / sizeof opts[0])

static const struct cmd {
	const char *name;
	const char *operands;    /* their synopsis; NULL: the command takes none */
	const char *about;
	const char *notes;       /* after the options, or NULL */
} cmds[CLI_CMD_N] = {
	[CLI_SETUP] = { "setup", NULL,
		"Creates the slot pool, IPv4 forwarding and the nftables table.",
		"Needs root, except with --dry-run. What it changed is recorded in\n"
		"/run/vpngw/state (or $VPNGW_STATE_FILE) for teardown.\n" },
	[CLI_TEARDOWN] = { "teardown", NULL,
		"Removes exactly what setup did.",
		"Needs root, except with --dry-run. Without the state file it removes the\n"
		"pool's devices and the nftables table, and leaves the sysctls alone.\n" },
	[CLI_SERVE] = { "serve", NULL,
		"Runs the gateway: WebSocket tunnels to the Internet.",
		"As root with no prior setup, serve sets the pool up itself, then runs as\n"
		"--user. Destinations in RFC 6890's non-global ranges and the pool itself\n"
		"are denied unless allowed. Without --token-file anyone who reaches --listen\n"
		"may connect. kill -USR1 logs one line of counters; kill -HUP reloads the\n"
		"certificate and the token file.\n" },
	[CLI_CONNECT] = { "connect", "ws[s]://HOST[:PORT]/PATH [URL...]",
		"Connects this host to a gateway; further URLs are tried in turn.",
		"Needs root (or CAP_NET_ADMIN). SIGUSR1 logs one line of counters;\n"
		"SIGINT and SIGTERM remove what was added, and exit.\n" },
};

/* ==== Parsing ==== */

static bool name_is(const char *name, const char *s, size_t len)
{
	return name && strlen(name) == len && !memcmp(name, s, len);
}

/* The row of s[0..len) ("--listen" or "-v") for cmd, or NULL. */
static const struct opt *find(enum cli_cmd cmd, const char *s, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if ((opts[i].cmds & CMD(cmd)) &&
		    (name_is(opts[i].name, s, len) || name_is(opts[i].short_name, s, len)))
			return &opts[i];
	return NULL;
}

/* The commands, other than cmd, that have an option s[0..len). */
static unsigned owners(enum cli_cmd cmd, const char *s, size_t len)
{
	unsigned bits = 0;

	for (size_t i = 0; i < N_OPTS; i++)
		if (name_is(opts[i].name, s, len) || name_is(opts[i].short_name, s, len))
			bits |= opts[i].cmds;
	return bits & ~CMD(cmd);
}

/* "serve", "setup and serve", "setup, teardown and serve". */
static void list_cmds(char *out, size_t cap, unsigned bits)
{
	unsigned left = (unsigned)__builtin_popcount(bits);
	size_t len = 0;

	out[0] = '\0';
	for (unsigned c = 0; c < CLI_CMD_N && len < cap; c++) {
		if (!(bits & CMD(c)))
			continue;
		left--;
		int n = snprintf(out + len, cap - len, "%s%s", cmds[c].name,
				 left > 1 ? ", " : left == 1 ? " and " : "");
		if (n < 0)
			return;
		len += (size_t)n;
	}
}

/* An option that cmd does not take: another command's, or nobody's. */
static enum cli_rc refuse(enum cli_cmd cmd, const char *s, size_t len)
{
	const char *me = cmds[cmd].name;
	unsigned bits = owners(cmd, s, len);
	char who[64];

	if (!bits) {
		log_warnx("%s: unknown option %.*s (see vpngw %s --help)", me, (int)len, s, me);
		return CLI_FAIL;
	}
	list_cmds(who, sizeof who, bits);
	log_warnx("%s: %.*s is an option of %s, not of %s", me, (int)len, s, who, me);
	return CLI_FAIL;
}

/* Whether a would-be value is rather the next option. */
static bool is_option(const char *s)
{
	if (s[0] == '-' && s[1] == '-' && s[2])
		return true;
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].short_name && !strcmp(opts[i].short_name, s))
			return true;
	return false;
}

static bool number(const char *s, size_t len, unsigned long long lo, unsigned long long hi,
		   unsigned long long *out);
static bool bits(const char *s, unsigned long long lo, unsigned long long hi,
		 unsigned long long *out);

/* Appends s to a list of row o; NULL, or why not. */
static const char *append_str(const struct opt *o, struct cli_strs *l, const char *s)
{
	const char *why = o->check ? o->check(s) : NULL;

	if (why)
		return why;
	if (l->n == CLI_LIST_MAX)
		return "given too often";
	l->v[l->n++] = s;
	return NULL;
}

static const char *append_cidr(struct cli_cidrs *l, const char *s)
{
	if (l->n == CLI_LIST_MAX)
		return "given too often";
	if (nat_cidr_parse(&l->v[l->n], s) < 0)
		return "expected an IPv4 prefix like 10.0.100.0/24";
	l->n++;
	return NULL;
}

static const char *append_cidr6(struct cli_cidrs6 *l, const char *s)
{
	if (l->n == CLI_LIST_MAX)
		return "given too often";
	if (nat_cidr6_parse(&l->v[l->n], s) < 0)
		return "expected an IPv6 prefix like 2001:db8::/32";
	l->n++;
	return NULL;
}

/* A prefix of either family: one with a ':' is IPv6, when the row takes it. */
static const char *append_cidr46(const struct opt *o, struct cli_args *a, const char *s)
{
	struct cli_cidrs *l4 = (struct cli_cidrs *)((char *)a + o->off);

	if (!o->lo)
		return append_cidr(l4, s);
	if (strchr(s, ':'))
		return append_cidr6((struct cli_cidrs6 *)((char *)a + o->lo), s);
	if (l4->n == CLI_LIST_MAX)
		return "given too often";
	return append_cidr(l4, s) ? "expected an IPv4 or IPv6 prefix like 10.0.100.0/24 or "
				    "2001:db8::/32" : NULL;
}

/* A bare address of either family, at most o->hi of each. */
static const char *append_addr(const struct opt *o, struct cli_args *a, const char *s)
{
	struct cli_cidrs *l4 = (struct cli_cidrs *)((char *)a + o->off);
	struct cli_cidrs6 *l6 = (struct cli_cidrs6 *)((char *)a + o->lo);
	unsigned len;

	if (strchr(s, ':')) {
		if (l6->n == (unsigned long long)o->hi)
			return "given too often for IPv6";
		if (nat_prefix6_parse(s, strlen(s), l6->v[l6->n].addr, &len) < 0 || len != 128 ||
		    strchr(s, '/'))
			return "expected an IPv4 or IPv6 address";
		l6->v[l6->n++].len = 128;
		return NULL;
	}
	if (l4->n == (unsigned long long)o->hi)
		return "given too often for IPv4";
	if (nat_prefix_parse(s, strlen(s), &l4->v[l4->n].addr, &len) < 0 || strchr(s, '/'))
		return "expected an IPv4 or IPv6 address";
	l4->v[l4->n++].mask = 0xffffffffu;
	return NULL;
}

/* --subnet6: "none", or slot 0's prefix of 64 to 120 bits, host bits clear. */
static const char *subnet6(struct cli_args *a, const char *s)
{
	uint8_t addr[16];
	unsigned len;

	a->subnet6_given = true;
	if (!strcmp(s, "none")) {
		a->subnet6_none = true;
		return NULL;
	}
	if (nat_prefix6_parse(s, strlen(s), addr, &len) < 0 || !strchr(s, '/'))
		return "expected an IPv6 prefix like fd00:0:0:100::/64, or none";
	if (len < 64 || len > 120)
		return "the prefix length must be 64 to 120";
	if (nat_cidr6_parse(&a->subnet6, s) < 0 || memcmp(a->subnet6.addr, addr, 16))
		return "the address has bits set past the prefix length";
	a->subnet6_none = false;
	return NULL;
}

/* Checks the value of row o and puts it where the row says. Returns 0,
 * or -1 after one line. */
static int store(enum cli_cmd cmd, const struct opt *o, const char *val, struct cli_args *a)
{
	void *dst = (char *)a + o->off;
	const char *why = NULL;
	unsigned long long n;

	switch (o->kind) {
	case K_FLAG:
		*(bool *)dst = true;
		return 0;
	case K_LOG:
		log_verbosity = (int)o->lo;
		return 0;
	case K_STR:
		if (o->check && (why = o->check(val)))
			break;
		*(const char **)dst = val;
		return 0;
	case K_NUM:
		if (!number(val, strlen(val), (unsigned long long)o->lo, (unsigned long long)o->hi, &n)) {
			log_warnx("%s: %s %s: expected a number from %lld to %lld", cmds[cmd].name,
				  o->name, val, o->lo, o->hi);
			return -1;
		}
		*(long *)dst = (long)n;
		return 0;
	case K_BITS:
		if (!bits(val, (unsigned long long)o->lo, (unsigned long long)o->hi, &n)) {
			log_warnx("%s: %s %s: expected bit/s from %lld to %lld, or with a suffix "
				  "like 20M or 1G", cmds[cmd].name, o->name, val, o->lo, o->hi);
			return -1;
		}
		*(long long *)dst = (long long)n;
		return 0;
	case K_CIDR:
		if (nat_cidr_parse(dst, val) < 0)
			why = "expected an IPv4 prefix like 10.0.100.0/24";
		break;
	case K_CIDRS:
		why = append_cidr46(o, a, val);
		break;
	case K_ADDRS:
		why = append_addr(o, a, val);
		break;
	case K_SUBNET6:
		why = subnet6(a, val);
		break;
	case K_STRS:
		why = append_str(o, dst, val);
		break;
	case K_IFADDR:
		if (nat_ifaddr_parse(val, strlen(val), &a->address, &a->address_prefix) < 0)
			why = "expected an address with a prefix, like 10.0.100.2/24";
		break;
	case K_HELP:
		break;
	}
	if (!why)
		return 0;
	log_warnx("%s: %s %s: %s", cmds[cmd].name, o->name, val, why);
	return -1;
}

/* Nothing given yet: numbers -1, the rest empty. */
static void args_init(struct cli_args *a)
{
	memset(a, 0, sizeof *a);
	a->linger = a->keepalive = a->max_message = -1;
	a->pool = a->client_prefix = a->mtu = a->retries = -1;
	a->max_handshakes = a->handshake_rate = a->client_rate = a->gateway_id = -1;
}

enum cli_rc cli_parse(enum cli_cmd cmd, int argc, char **argv, struct cli_args *a)
{
	const char *me = cmds[cmd].name;
	bool operands_only = false;

	args_init(a);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;

		/* Operands: anything not an option, and all after "--". */
		if (operands_only || arg[0] != '-' || !arg[1]) {
			if (!cmds[cmd].operands) {
				log_warnx("%s: unexpected argument %s (see vpngw %s --help)", me, arg, me);
				return CLI_FAIL;
			}
			if (a->urls.n == CLI_LIST_MAX) {
				log_warnx("%s: at most %d URLs", me, CLI_LIST_MAX);
				return CLI_FAIL;
			}
			a->urls.v[a->urls.n++] = arg;
			continue;
		}
		if (!strcmp(arg, "--")) {
			operands_only = true;
			continue;
		}

		/* The option, then its value: "--name=VALUE" or the next argument. */
		const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct opt *o = find(cmd, arg, len);
		if (!o)
			return refuse(cmd, arg, len);
		if (o->arg && eq) {
			val = eq + 1;
		} else if (o->arg) {
			if (i + 1 == argc || is_option(argv[i + 1])) {
				log_warnx("%s: %s needs a value (%s)", me, o->name, o->arg);
				return CLI_FAIL;
			}
			val = argv[++i];
		} else if (eq) {
			log_warnx("%s: %s takes no value", me, o->name);
			return CLI_FAIL;
		}
		if (o->kind == K_HELP) {
			cli_usage(stdout, cmd);
			return CLI_DONE;
		}
		if (store(cmd, o, val, a) < 0)
			return CLI_FAIL;
	}
	return CLI_OK;
}

/* ==== Usage ==== */

static bool listed(const struct opt *o, enum cli_cmd cmd)
{
	return o->cmds & CMD(cmd);
}

/* "-v, --verbose" or "--listen ADDR:PORT". */
static int left_part(char *out, size_t cap, const struct opt *o)
{
	return snprintf(out, cap, "%s%s%s%s%s", o->short_name ? o->short_name : "",
			o->short_name ? ", " : "", o->name, o->arg ? " " : "",
			o->arg ? o->arg : "");
}

void cli_usage(FILE *f, enum cli_cmd cmd)
{
	const struct cmd *c = &cmds[cmd];
	char left[64];
	int col = 0;

	for (size_t i = 0; i < N_OPTS; i++) {
		int n = left_part(left, sizeof left, &opts[i]);
		if (listed(&opts[i], cmd) && n <= HELP_COL && n > col)
			col = n;
	}
	fprintf(f, "usage: vpngw %s [options]%s%s\n%s\n\n", c->name,
		c->operands ? " " : "", c->operands ? c->operands : "", c->about);
	for (size_t i = 0; i < N_OPTS; i++) {
		if (!listed(&opts[i], cmd))
			continue;
		int n = left_part(left, sizeof left, &opts[i]);
		if (n > col)
			fprintf(f, "  %s\n  %*s  %s\n", left, col, "", opts[i].help);
		else
			fprintf(f, "  %-*s  %s\n", col, left, opts[i].help);
	}
	if (c->notes)
		fprintf(f, "\n%s", c->notes);
}

/* One bracketed group of the synopsis, starting at row *i; moves *i past it. */
static void syn_group(char *out, size_t cap, enum cli_cmd cmd, size_t *i)
{
	size_t len = 0;
	bool repeat = false;
	int n;

	out[0] = '\0';
	for (size_t k = *i; k < N_OPTS; k++) {
		const struct opt *o = &opts[k];
		if (!listed(o, cmd) || (o->flags & F_NO_SYN))
			continue;
		bool joined = o->flags & (F_OR | F_WITH);
		if (len && !joined)
			break;
		*i = k;
		n = snprintf(out + len, cap - len, "%s%s%s%s",
			     !len ? "[" : (o->flags & F_OR) ? " | " : " ",
			     o->short_name ? o->short_name : o->name,
			     o->arg && !o->short_name ? " " : "",
			     o->arg && !o->short_name ? o->arg : "");
		if (n < 0 || (size_t)n >= cap - len)
			return;
		len += (size_t)n;
		repeat |= o->flags & F_REPEAT;
	}
	if (len)
		snprintf(out + len, cap - len, "]%s", repeat ? "..." : "");
}

/* "vpngw serve    [--listen ADDR:PORT] ...", wrapped under its first option. */
static void synopsis(FILE *f, enum cli_cmd cmd, int name_w)
{
	char group[160];
	int indent = (int)strlen("vpngw ") + name_w + 1;
	int col = fprintf(f, "vpngw %-*s", name_w, cmds[cmd].name);

	if (cmds[cmd].operands)
		col += fprintf(f, " %s", cmds[cmd].operands);
	for (size_t i = 0; i < N_OPTS; i++) {
		syn_group(group, sizeof group, cmd, &i);
		if (!group[0])
			break;
		int n = (int)strlen(group);
		if (col > indent && col + 1 + n > SYN_WIDTH)
			col = fprintf(f, "\n%*s", indent - 1, "") - 1;
		col += fprintf(f, " %s", group);
	}
	fputc('\n', f);
}

void cli_help(FILE *f)
{
	int name_w = 0;

	for (unsigned c = 0; c < CLI_CMD_N; c++)
		if ((int)strlen(cmds[c].name) > name_w)
			name_w = (int)strlen(cmds[c].name);
	fputs("vpngw: a VPN gateway over WebSocket, and its client.\n\n", f);
	for (unsigned c = 0; c < CLI_CMD_N; c++)
		synopsis(f, (enum cli_cmd)c, name_w);
	fputs("vpngw --help | --version\n\n", f);
	for (unsigned c = 0; c < CLI_CMD_N; c++)
		fprintf(f, "  %-*s  %s\n", name_w, cmds[c].name, cmds[c].about);
	fputs("\nvpngw COMMAND --help lists the options of COMMAND, one a line.\n", f);
}

/* ==== Values ==== */

/* Digits only, lo <= value <= hi; no sign, no spaces, no overflow. */
static bool number(const char *s, size_t len, unsigned long long lo, unsigned long long hi,
		   unsigned long long *out)
{
	unsigned long long v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned long long d = (unsigned long long)(s[i] - '0');
		if (d > hi || v > (hi - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < lo)
		return false;
	*out = v;
	return true;
}

/* A rate in bit/s: digits and one optional suffix k, M, G or T (powers of
 * 1000, as for link speeds), the value in lo..hi. */
static bool bits(const char *s, unsigned long long lo, unsigned long long hi,
		 unsigned long long *out)
{
	static const char suffix[] = "kMGT";
	size_t len = strlen(s);
	unsigned long long mult = 1, v;
	const char *p;

	if (len > 1 && (p = strchr(suffix, s[len - 1]))) {
		for (long i = 0; i <= p - suffix; i++)
			mult *= 1000;
		len--;
	}
	if (!number(s, len, 0, hi / mult, &v) || v * mult < lo)
		return false;
	*out = v * mult;
	return true;
}

/* ADDR:PORT into *ss and *len; NULL, or why not. */
static const char *addr_port(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2], *h = host;
	unsigned long long port;
	size_t hl;

	if (!colon || (size_t)(colon - text) >= sizeof host)
		return "expected ADDR:PORT";
	hl = (size_t)(colon - text);
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (!number(colon + 1, strlen(colon + 1), 1, 65535, &port))
		return "bad port, expected 1 to 65535";
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h++;
	}
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (h == host && inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof *a4;
	} else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof *a6;
	} else {
		return "bad address, expected an IPv4 address or [IPv6]";
	}
	return NULL;
}

int cli_addr_port(const char *flag, const char *text, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	const char *why = addr_port(text, ss, len);

	if (why)
		log_warnx("%s %s: %s", flag, text, why);
	return why ? -1 : 0;
}

/* ==== Checks of single values ==== */

static const char *check_listen(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return addr_port(s, &ss, &len);
}

static const char *check_path(const char *s)
{
	return s[0] == '/' ? NULL : "must start with '/'";
}

static const char *check_workers(const char *s)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);

	if (!strcmp(s, "auto") || (s[0] >= '0' && s[0] <= '9' && !*end && n >= 1 &&
				   n <= CLI_WORKERS_MAX))
		return NULL;
	return "expected auto or a number from 1 to " CLI_STR(CLI_WORKERS_MAX);
}

/* A name that is safe as an interface name and inside an nft string. */
static bool name_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len && len <= max && !strpbrk(s, "/ \t%:\"\\*");
}

static const char *check_prefix(const char *s)
{
	return name_ok(s, TUN_NAME_MAX - 6) ? NULL :
	       "at most 10 characters, no '/', ':', '%', '*', quotes or spaces";
}

static const char *check_ifname(const char *s)
{
	return name_ok(s, TUN_NAME_MAX - 1) ? NULL :
	       "at most 15 characters, no '/', ':', '%', '*', quotes or spaces";
}

/* It goes into a header line: auth.c's rule, as the gateway's token file. */
static const char *check_token(const char *s)
{
	return auth_token_check(s, strlen(s));
}
