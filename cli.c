/* SPDX-License-Identifier: MIT */
/*
 * cli.c: the command line of every vpngw command, from one table.
 *
 * Each row of opts[] is one option of one or more commands: its names, the
 * placeholder of its value, one help line, and the commands it applies to.
 * cli_parse refuses what the table does not give the command, and hands the
 * rest to the caller's callback by id; cli_usage and cli_help print the
 * same rows, so that no help text can drift from the parser. What an option
 * means, its defaults and the checks across options are the caller's
 * (vpngw.c for setup, teardown and serve; client.c for connect).
 *
 * Also the program's one parser of numbers, ADDR:PORT and CIDR values given
 * by a user. It keeps no state and does nothing but print: errors as one
 * line through log.h, usage on the FILE it is given.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "log.h"

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
	F_TODO = 2,     /* in SPEC, not implemented: refused, never listed */
	F_OR = 4,       /* synopsis: "[previous | this]" */
	F_WITH = 8,     /* synopsis: "[previous this]", given together */
	F_NO_SYN = 16,  /* listed by --help, not in the synopsis */
};

struct opt {
	const char *name;        /* "--listen" */
	const char *short_name;  /* "-v", or NULL */
	const char *arg;         /* the value's placeholder; NULL: takes none */
	const char *help;        /* one line */
	unsigned cmds;           /* CMD() bits */
	unsigned flags;
	enum cli_id id;
};

/* In the order --help lists them. A name may have one row per meaning
 * (--mtu, --keepalive): rows of one name never share a command. */
static const struct opt opts[] = {
	{ "--listen", NULL, "ADDR:PORT", "listen on ADDR:PORT (default 127.0.0.1:8080)",
	  SERVE, 0, CLI_LISTEN },
	{ "--path", NULL, "PATH", "upgrade only requests for PATH (default: any path)",
	  SERVE, 0, CLI_PATH },
	{ "--tls-cert", NULL, "PEM", "terminate TLS with this certificate chain",
	  SERVE, 0, CLI_TLS_CERT },
	{ "--tls-key", NULL, "PEM", "and this key (PKCS#1, SEC1 or PKCS#8)",
	  SERVE, F_WITH, CLI_TLS_KEY },
	{ "--pool", NULL, "N", "number of slots (default 5)",
	  SETUP | TEARDN | SERVE, 0, CLI_POOL },
	{ "--subnet", NULL, "CIDR", "slot 0's subnet, the others after it (10.0.100.0/24)",
	  SETUP | SERVE, 0, CLI_SUBNET },
	{ "--subnet6", NULL, "CIDR", NULL, SETUP | SERVE, F_TODO, CLI_SUBNET6 },
	{ "--client-prefix", NULL, "LEN", "prefix length of each slot, 16 to 30 (default 24)",
	  SETUP | SERVE, 0, CLI_CLIENT_PREFIX },
	{ "--tun-prefix", NULL, "NAME", "slot devices are NAME0, NAME1, ... (default vpngw)",
	  SETUP | TEARDN | SERVE, 0, CLI_TUN_PREFIX },
	{ "--user", NULL, "USER", "owns the devices; serve drops to it (default nobody)",
	  SETUP | SERVE, 0, CLI_USER },
	{ "--egress", NULL, "IFACE", "masquerade out of IFACE (default: the default route's)",
	  SETUP | SERVE, 0, CLI_EGRESS },
	{ "--mtu", NULL, "N", "the slots' MTU, announced to clients (default 1500)",
	  SETUP | SERVE, 0, CLI_MTU },
	{ "--open-port", NULL, "PORT[/tcp|/udp]", "let tunnel clients reach PORT of this host (repeatable)",
	  SETUP | SERVE, F_REPEAT, CLI_OPEN_PORT },
	{ "--allow", NULL, "CIDR", "let clients reach CIDR (repeatable)",
	  SERVE, F_REPEAT, CLI_ALLOW },
	{ "--deny", NULL, "CIDR", "keep clients from reaching CIDR (repeatable)",
	  SERVE, F_REPEAT, CLI_DENY },
	{ "--linger", NULL, "SEC", "keep a vanished client's slot SEC s (default 10)",
	  SERVE, 0, CLI_LINGER },
	{ "--keepalive", NULL, "SEC", "ping a client idle SEC s, drop it after 3 (default 20)",
	  SERVE, 0, CLI_KEEPALIVE },
	{ "--max-message", NULL, "N", "largest message accepted, bytes (default 65535)",
	  SERVE, 0, CLI_MAX_MESSAGE },
	{ "--workers", NULL, "N", NULL, SERVE, F_TODO, CLI_WORKERS },
	{ "--token-file", NULL, "FILE", NULL, SERVE, F_TODO, CLI_TOKEN_FILE },
	{ "--dns", NULL, "ADDR", NULL, SERVE, F_TODO | F_REPEAT, CLI_DNS },
	{ "--metrics", NULL, "ADDR:PORT", NULL, SERVE, F_TODO, CLI_METRICS },
	{ "--trust-proxy", NULL, "CIDR", NULL, SERVE, F_TODO, CLI_TRUST_PROXY },
	{ "--no-seccomp", NULL, NULL, NULL, SERVE, F_TODO, CLI_NO_SECCOMP },
	{ "--dry-run", NULL, NULL, "print what would be done, and change nothing",
	  SETUP | TEARDN | SERVE, 0, CLI_DRY_RUN },

	{ "--tun", NULL, "NAME", "interface name (default vpngw-c0)",
	  CONNECT, 0, CLI_TUN },
	{ "--address", NULL, "A/LEN", "address when the gateway assigns none (no vpngw.v1)",
	  CONNECT, 0, CLI_ADDRESS },
	{ "--mtu", NULL, "N", "interface MTU (default: the gateway's, else 1500)",
	  CONNECT, 0, CLI_MTU },
	{ "--route", NULL, "CIDR", "route CIDR through the tunnel (repeatable)",
	  CONNECT, F_REPEAT, CLI_ROUTE },
	{ "--default-route", NULL, NULL, "route everything through the tunnel",
	  CONNECT, 0, CLI_DEFAULT_ROUTE },
	{ "--kill-switch", NULL, NULL, NULL, CONNECT, F_TODO, CLI_KILL_SWITCH },
	{ "--token", NULL, "TOKEN", "send Authorization: Bearer TOKEN",
	  CONNECT, 0, CLI_TOKEN },
	{ "--ca", NULL, "PEM", "check wss:// against these CAs (default: the system's)",
	  CONNECT, 0, CLI_CA },
	{ "--pin", NULL, "sha256/BASE64", "check wss:// against the server key's SHA-256",
	  CONNECT, F_OR, CLI_PIN },
	{ "--insecure", NULL, NULL, "check nothing on wss://",
	  CONNECT, F_OR, CLI_INSECURE },
	{ "--keepalive", NULL, "SEC", "ping after SEC s idle (default: the gateway's, else 20)",
	  CONNECT, 0, CLI_KEEPALIVE },
	{ "--retries", NULL, "N", "give up after N failed reconnects (default: never)",
	  CONNECT, 0, CLI_RETRIES },

	{ "--verbose", "-v", NULL, "log more, down to every dropped packet",
	  ALL, 0, CLI_VERBOSE },
	{ "--quiet", "-q", NULL, "log errors only",
	  ALL, F_OR, CLI_QUIET },
	{ "--help", "-h", NULL, "print this help",
	  ALL, F_NO_SYN, CLI_HELP },
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
		"are denied unless allowed. kill -USR1 logs one line of counters; kill -HUP\n"
		"reloads the certificate.\n" },
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

enum cli_rc cli_parse(enum cli_cmd cmd, int argc, char **argv, cli_fn *fn, void *ctx)
{
	const char *me = cmds[cmd].name;
	bool operands_only = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;

		/* Operands: anything not an option, and all after "--". */
		if (operands_only || a[0] != '-' || !a[1]) {
			if (!cmds[cmd].operands) {
				log_warnx("%s: unexpected argument %s (see vpngw %s --help)", me, a, me);
				return CLI_FAIL;
			}
			if (fn(ctx, CLI_OPERAND, a) < 0)
				return CLI_FAIL;
			continue;
		}
		if (!strcmp(a, "--")) {
			operands_only = true;
			continue;
		}

		/* The option, then its value: "--name=VALUE" or the next argument. */
		const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *o = find(cmd, a, len);
		if (!o)
			return refuse(cmd, a, len);
		if (o->flags & F_TODO) {
			log_warnx("%s: %s is not supported yet", me, o->name);
			return CLI_FAIL;
		}
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
		if (o->id == CLI_HELP) {
			cli_usage(stdout, cmd);
			return CLI_DONE;
		}
		if (fn(ctx, o->id, val) < 0)
			return CLI_FAIL;
	}
	return CLI_OK;
}

const char *cli_name(enum cli_id id)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].id == id)
			return opts[i].name;
	return "?";
}

/* ==== Usage ==== */

static bool listed(const struct opt *o, enum cli_cmd cmd)
{
	return (o->cmds & CMD(cmd)) && !(o->flags & F_TODO);
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
static bool number(const char *s, size_t len, unsigned long lo, unsigned long hi,
		   unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned long d = (unsigned long)(s[i] - '0');
		if (d > hi || v > (hi - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < lo)
		return false;
	*out = v;
	return true;
}

int cli_uint(const char *flag, const char *text, unsigned long lo, unsigned long hi,
	     unsigned long *out)
{
	if (!number(text, strlen(text), lo, hi, out)) {
		log_warnx("%s %s: expected a number from %lu to %lu", flag, text, lo, hi);
		return -1;
	}
	return 0;
}

int cli_addr_port(const char *flag, const char *text, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2], *h = host;
	unsigned long port;
	size_t hl;

	if (!colon || (size_t)(colon - text) >= sizeof host) {
		log_warnx("%s %s: expected ADDR:PORT", flag, text);
		return -1;
	}
	hl = (size_t)(colon - text);
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (!number(colon + 1, strlen(colon + 1), 1, 65535, &port)) {
		log_warnx("%s %s: bad port, expected 1 to 65535", flag, text);
		return -1;
	}
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
		log_warnx("%s %s: bad address, expected an IPv4 address or [IPv6]", flag, text);
		return -1;
	}
	return 0;
}

int cli_cidr(const char *flag, const char *text, struct nat_cidr *c)
{
	if (nat_cidr_parse(c, text) < 0) {
		log_warnx("%s %s: expected an IPv4 prefix like 10.0.100.0/24", flag, text);
		return -1;
	}
	return 0;
}
