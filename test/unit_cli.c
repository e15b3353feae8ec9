/* SPDX-License-Identifier: MIT */
/*
 * unit_cli.c: cases for cli.c's parser: each kind of value lands where its
 * row says (strings, flags, numbers, prefixes, lists, the interface
 * address, operands, --workers' number or auto), what was not given stays
 * unset, and every refusal
 * (another command's option, an unknown one, a missing or bad value, a
 * value for a flag, an operand where none is
 * taken, a list given too often) is a failure. Error lines go to stderr,
 * as they would for a user. The harness is unit.c's.
 */
#include <stdio.h>
#include <string.h>

#include "../cli.h"
#include "../log.h"
#include "unit.h"

/* Parses a command line given as one string of space-separated words. */
static enum cli_rc parse(enum cli_cmd cmd, const char *line, struct cli_args *a)
{
	static char buf[4096];
	char *argv[256];
	int argc = 0;

	snprintf(buf, sizeof buf, "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 255; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	int saved = log_verbosity;
	enum cli_rc rc = cli_parse(cmd, argc, argv, a);
	log_verbosity = saved;
	return rc;
}

static void stores_each_kind(void)
{
	struct cli_args a;

	CHECK(parse(CLI_SERVE, "serve --listen 0.0.0.0:8443 --path=/vpn --pool 7 "
		    "--subnet 10.1.0.0/16 --allow 198.51.100.0/24 --allow 203.0.113.0/24 "
		    "--dry-run --keepalive 0 --open-port 53/udp", &a) == CLI_OK);
	CHECK(a.listen && !strcmp(a.listen, "0.0.0.0:8443"));
	CHECK(a.path && !strcmp(a.path, "/vpn"));
	CHECK(a.pool == 7 && a.keepalive == 0);
	CHECK(a.subnet.addr == 0x0a010000 && a.subnet.mask == 0xffff0000);
	CHECK(a.allow.n == 2 && a.allow.v[1].addr == 0xcb007100);
	CHECK(a.dry_run && a.open_ports.n == 1 && !strcmp(a.open_ports.v[0], "53/udp"));
	/* Nothing else was given. */
	CHECK(a.linger == -1 && a.mtu == -1 && a.client_prefix == -1 && a.max_message == -1);
	CHECK(!a.tls_cert && !a.user && a.deny.n == 0 && a.urls.n == 0);
	/* Rates in bit/s, plain or with a suffix of powers of 1000. */
	CHECK(parse(CLI_SERVE, "serve --client-rate 20M --handshake-rate 5 "
		    "--max-handshakes 64", &a) == CLI_OK);
	CHECK(a.client_rate == 20000000 && a.handshake_rate == 5 && a.max_handshakes == 64);
	CHECK(parse(CLI_SERVE, "serve --client-rate 1500", &a) == CLI_OK && a.client_rate == 1500);
	CHECK(parse(CLI_SERVE, "serve --client-rate 1000T", &a) == CLI_OK &&
	      a.client_rate == 1000000000000000);
	CHECK(parse(CLI_SERVE, "serve --client-rate 0", &a) == CLI_OK && a.client_rate == 0);
	CHECK(parse(CLI_SERVE, "serve --workers 64", &a) == CLI_OK && !strcmp(a.workers, "64"));
	CHECK(parse(CLI_SERVE, "serve --workers=auto", &a) == CLI_OK && !strcmp(a.workers, "auto"));
	CHECK(parse(CLI_SERVE, "serve", &a) == CLI_OK && !a.workers);

	CHECK(parse(CLI_CONNECT, "connect ws://192.0.2.1:8080/ --address 10.0.100.7/24 "
		    "--route 198.51.100.0/24 --default-route wss://gw.example/ --retries 3 "
		    "-- -odd", &a) == CLI_OK);
	CHECK(a.urls.n == 3 && !strcmp(a.urls.v[1], "wss://gw.example/") &&
	      !strcmp(a.urls.v[2], "-odd"));
	CHECK(a.address == 0x0a006407 && a.address_prefix == 24);
	CHECK(a.routes.n == 1 && a.default_route && a.retries == 3 && a.mtu == -1);

	/* IPv6: lists of their own beside the IPv4 ones, --dns of both. */
	CHECK(parse(CLI_SERVE, "serve --allow 2001:db8:100::/48 --allow 198.51.100.0/24 "
		    "--deny fc00::/7 --dns 192.0.2.53 --dns 2001:db8::53 --subnet6 fd00:1::/120",
		    &a) == CLI_OK);
	CHECK(a.allow.n == 1 && a.allow6.n == 1 && a.allow6.v[0].len == 48 &&
	      a.allow6.v[0].addr[0] == 0x20 && a.allow6.v[0].addr[5] == 0x00);
	CHECK(a.deny.n == 0 && a.deny6.n == 1 && a.deny6.v[0].len == 7);
	CHECK(a.dns.n == 1 && a.dns.v[0].addr == 0xc0000235 && a.dns.v[0].mask == 0xffffffffu);
	CHECK(a.dns6.n == 1 && a.dns6.v[0].len == 128 && a.dns6.v[0].addr[15] == 0x53);
	CHECK(a.subnet6_given && !a.subnet6_none && a.subnet6.len == 120 &&
	      a.subnet6.addr[0] == 0xfd && a.subnet6.addr[3] == 1);
	CHECK(parse(CLI_TEARDOWN, "teardown --subnet6 none", &a) == CLI_OK &&
	      a.subnet6_given && a.subnet6_none);
	CHECK(parse(CLI_SERVE, "serve", &a) == CLI_OK && !a.subnet6_given && !a.dns.n);
	CHECK(parse(CLI_CONNECT, "connect ws://h/ --route 2001:db8::/32 --route 10.9.0.0/16 "
		    "--kill-switch", &a) == CLI_OK);
	CHECK(a.routes.n == 1 && a.routes6.n == 1 && a.routes6.v[0].len == 32 && a.kill_switch);
}

static void refuses(void)
{
	static const struct {
		enum cli_cmd cmd;
		const char *line;
	} bad[] = {
		{ CLI_SETUP, "setup --listen 127.0.0.1:1" },     /* serve's */
		{ CLI_TEARDOWN, "teardown --subnet 10.0.0.0/24" },
		{ CLI_SERVE, "serve --tun x" },                  /* connect's */
		{ CLI_CONNECT, "connect ws://h/ --pool 2" },
		{ CLI_SERVE, "serve --frobnicate" },
		{ CLI_SERVE, "serve --listen" },                 /* no value */
		{ CLI_SERVE, "serve --listen --pool 2" },        /* an option is no value */
		{ CLI_SERVE, "serve --dry-run=yes" },            /* a flag takes none */
		{ CLI_SERVE, "serve --dns 192.0.2.1/32" },       /* an address, not a prefix */
		{ CLI_SERVE, "serve --dns 2001:db8::/64" },
		{ CLI_SERVE, "serve --dns x" },
		{ CLI_SERVE, "serve --dns 192.0.2.1 --dns 192.0.2.2 --dns 192.0.2.3 --dns 192.0.2.4 "
		  "--dns 192.0.2.5" },                           /* V1_DNS_MAX of a family */
		{ CLI_SERVE, "serve --subnet6 fd00::/60" },      /* 64..120 */
		{ CLI_SERVE, "serve --subnet6 fd00::/121" },
		{ CLI_SERVE, "serve --subnet6 fd00::1/64" },     /* host bits set */
		{ CLI_SERVE, "serve --subnet6 fd00::" },         /* no length */
		{ CLI_SERVE, "serve --subnet6 10.0.0.0/24" },
		{ CLI_SERVE, "serve --allow 2001:db8::/129" },
		{ CLI_SERVE, "serve --deny 2001:db8:::/32" },
		{ CLI_CONNECT, "connect ws://h/ --route fe80::1%eth0/64" },
		{ CLI_CONNECT, "connect ws://h/ --kill-switch=1" },
		{ CLI_SERVE, "serve extra" },                    /* no operands */
		{ CLI_SERVE, "serve --pool 0" },
		{ CLI_SERVE, "serve --pool 4097" },
		{ CLI_SERVE, "serve --pool 5x" },
		{ CLI_SERVE, "serve --pool 99999999999999999999" },
		{ CLI_SERVE, "serve --listen nowhere" },
		{ CLI_SERVE, "serve --listen 127.0.0.1:70000" },
		{ CLI_SERVE, "serve --path vpn" },
		{ CLI_SERVE, "serve --subnet 10.0.0.0/33" },
		{ CLI_SERVE, "serve --allow 300.1.2.3/8" },
		{ CLI_SERVE, "serve --tun-prefix abcdefghijk" }, /* 11 characters */
		{ CLI_SERVE, "serve --egress a/b" },
		{ CLI_SERVE, "serve --client-rate 10X" },
		{ CLI_SERVE, "serve --client-rate M" },
		{ CLI_SERVE, "serve --client-rate 1001T" },     /* over 10^15 */
		{ CLI_SERVE, "serve --client-rate 20MM" },
		{ CLI_SERVE, "serve --handshake-rate 0" },
		{ CLI_SERVE, "serve --max-handshakes 65537" },
		{ CLI_SERVE, "serve --workers 0" },
		{ CLI_SERVE, "serve --workers 65" },
		{ CLI_SERVE, "serve --workers x" },
		{ CLI_SERVE, "serve --workers 2x" },
		{ CLI_SERVE, "serve --workers -1" },
		{ CLI_SETUP, "setup --workers 2" },              /* serve's */
		{ CLI_CONNECT, "connect ws://h/ --address 10.0.100.2" },
		{ CLI_CONNECT, "connect ws://h/ --address 127.0.0.1/8" },
		{ CLI_CONNECT, "connect ws://h/ --token a\tb" },
		{ CLI_CONNECT, "connect ws://h/ --tun a:b" },
	};
	struct cli_args a;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum cli_rc rc = parse(bad[i].cmd, bad[i].line, &a);
		if (rc != CLI_FAIL)
			fprintf(stderr, "  accepted: %s\n", bad[i].line);
		CHECK(rc == CLI_FAIL);
	}
}

static void list_limit(void)
{
	char line[4096] = "serve";
	struct cli_args a;

	for (int i = 0; i < CLI_LIST_MAX; i++)
		strcat(line, " --deny 192.0.2.0/24");
	CHECK(parse(CLI_SERVE, line, &a) == CLI_OK && a.deny.n == CLI_LIST_MAX);
	strcat(line, " --deny 192.0.2.0/24");
	CHECK(parse(CLI_SERVE, line, &a) == CLI_FAIL);
}

static void help_is_done(void)
{
	struct cli_args a;
	FILE *saved = stdout;

	stdout = fopen("/dev/null", "w");
	if (!stdout) {
		stdout = saved;
		CHECK(false);
		return;
	}
	CHECK(parse(CLI_SERVE, "serve --pool 2 --help", &a) == CLI_DONE);
	CHECK(parse(CLI_CONNECT, "connect -h", &a) == CLI_DONE);
	fclose(stdout);
	stdout = saved;
}

static void log_levels(void)
{
	struct cli_args a;
	int saved = log_verbosity;
	char *v[] = { "serve", "-v", NULL }, *q[] = { "serve", "--quiet", NULL };

	CHECK(cli_parse(CLI_SERVE, 2, v, &a) == CLI_OK && log_verbosity == LOG_DEBUG);
	CHECK(cli_parse(CLI_SERVE, 2, q, &a) == CLI_OK && log_verbosity == LOG_QUIET);
	log_verbosity = saved;
}

const struct unit_case unit_cli[] = {
	{ "cli_stores_each_kind", stores_each_kind },
	{ "cli_refuses", refuses },
	{ "cli_list_limit", list_limit },
	{ "cli_help_is_done", help_is_done },
	{ "cli_log_levels", log_levels },
	{ NULL, NULL },
};
