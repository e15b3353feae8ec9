/* SPDX-License-Identifier: MIT */
/*
 * cli.h: the command line of every vpngw command. One table in cli.c names
 * each option: its long and short name, the placeholder of its value, its
 * help line, the commands it applies to, and where in struct cli_args its
 * checked value goes. The parser, each command's --help and `vpngw --help`
 * are all made from that table, so that they cannot disagree, and no
 * command has a switch over its options. Also the program's one parser of
 * the numbers and ADDR:PORT values a user gives, each with its one line.
 *
 * Pure: it reads argv, prints errors as one line through log.h and usage on
 * the FILE it is given, and returns codes; the caller decides when to exit.
 */
#ifndef VPNGW_CLI_H
#define VPNGW_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "nat.h"

#define CLI_WUR __attribute__((warn_unused_result))

enum cli_cmd { CLI_SETUP, CLI_TEARDOWN, CLI_SERVE, CLI_CONNECT, CLI_CMD_N };

#define CLI_LIST_MAX 64   /* values of one repeatable option */
#define CLI_WORKERS_MAX 64 /* serve --workers */
#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)

struct cli_strs {
	const char *v[CLI_LIST_MAX];
	unsigned n;
};

struct cli_cidrs {
	struct nat_cidr v[CLI_LIST_MAX];
	unsigned n;
};

struct cli_cidrs6 {
	struct nat_cidr6 v[CLI_LIST_MAX];
	unsigned n;
};

/*
 * What the command line said, every value checked on its own as it was
 * read (numbers in range, names that fit, prefixes that parse). Nothing
 * here knows a default: a number not given is -1, a string NULL, a prefix
 * a zero mask, a list empty. The commands (vpngw.c, client.c) read what
 * they take from it; how options combine is theirs.
 */
struct cli_args {
	/* serve */
	const char *listen, *path, *tls_cert, *tls_key;
	long linger, keepalive, max_message;
	struct cli_cidrs allow, deny;
	struct cli_cidrs6 allow6, deny6;    /* --allow, --deny given IPv6 */
	struct cli_cidrs dns;               /* --dns IPv4 (mask all ones) */
	struct cli_cidrs6 dns6;             /* --dns IPv6 (len 128) */
	const char *token_file, *metrics;   /* token_file: connect's too */
	const char *workers;         /* "auto" or 1..CLI_WORKERS_MAX */
	struct cli_cidrs trust_proxy;
	long max_handshakes, handshake_rate, gateway_id;
	long long client_rate;       /* bit/s: beyond a 32-bit long */
	bool no_seccomp;
	bool no_offload;             /* serve's and connect's */
	/* the pool: setup, teardown, serve */
	long pool, client_prefix, mtu;
	struct nat_cidr subnet;
	struct nat_cidr6 subnet6;
	bool subnet6_given, subnet6_none;   /* --subnet6 CIDR | none */
	const char *tun_prefix, *user, *egress;
	struct cli_strs open_ports;
	bool dry_run;
	/* connect (keepalive and mtu too) */
	struct cli_strs urls;
	const char *tun, *token, *ca, *pin;
	uint32_t address;            /* host order, with its host bits */
	unsigned address_prefix;     /* 0: no --address */
	struct cli_cidrs routes;
	struct cli_cidrs6 routes6;   /* --route given IPv6 */
	bool default_route, insecure, kill_switch;
	long retries;
};

/* What cli_parse found. */
enum cli_rc {
	CLI_FAIL = -1,       /* one line printed: exit 1 */
	CLI_OK = 0,          /* *a holds the command line: run the command */
	CLI_DONE = 1,        /* --help printed on stdout: exit 0 */
};

/*
 * Parses argv[1..argc) for cmd (argv[0] is the command's name) into *a,
 * from the table: each option's value is checked and stored where its row
 * says, operands (connect's URLs) go to a->urls, -v and -q set the log
 * level. Accepts --name VALUE, --name=VALUE, -v, and "--" before operands
 * that start with '-'; a next argument that starts with "--" or is a short
 * option is not taken as a value (use --name=VALUE for such a value).
 * Refuses with one line: an option of another command, an unknown option,
 * a missing or bad value, a value given to an option that takes none, an
 * option not supported yet, a repeated option past CLI_LIST_MAX, and an
 * operand for a command that takes none. --help and -h print cmd's usage
 * on stdout. Strings in *a point into argv, which is not changed.
 */
enum cli_rc cli_parse(enum cli_cmd cmd, int argc, char **argv, struct cli_args *a) CLI_WUR;

/* `vpngw CMD --help`: what cmd does and every option it accepts, one a line. */
void cli_usage(FILE *f, enum cli_cmd cmd);

/* `vpngw --help`: each command's synopsis, then --help and --version. */
void cli_help(FILE *f);

/*
 * "ADDR:PORT": an IPv4 address, or an IPv6 address in brackets (or bare,
 * the last colon ending it), and a port from 1 to 65535. Fills *ss and *len
 * for bind() and returns 0; else prints one line naming flag and returns -1.
 */
int cli_addr_port(const char *flag, const char *text, struct sockaddr_storage *ss,
		  socklen_t *len) CLI_WUR;

#endif
