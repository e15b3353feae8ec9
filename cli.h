/* SPDX-License-Identifier: MIT */
/*
 * cli.h: the command line of every vpngw command. One table in cli.c names
 * each option: its long and short name, the placeholder of its value, its
 * help line, and the commands it applies to. The parser, each command's
 * --help and `vpngw --help` are all made from that table, so that they
 * cannot disagree. What an option does is left to the caller, which gets
 * (id, value) through a callback; so is what a command does with its
 * operands. Also the program's one parser of numbers given by a user, and
 * of ADDR:PORT and CIDR values, each with its one error line.
 *
 * Pure: it reads argv, prints errors as one line through log.h and usage on
 * the FILE it is given, and returns codes; the caller decides when to exit.
 */
#ifndef VPNGW_CLI_H
#define VPNGW_CLI_H

#include <stdio.h>
#include <sys/socket.h>

#include "nat.h"

#define CLI_WUR __attribute__((warn_unused_result))

enum cli_cmd { CLI_SETUP, CLI_TEARDOWN, CLI_SERVE, CLI_CONNECT, CLI_CMD_N };

/* What the callback switches on: one id per option, one for operands. */
enum cli_id {
	CLI_OPERAND = 1,     /* an argument that is no option: connect's URLs */
	CLI_LISTEN, CLI_PATH, CLI_TLS_CERT, CLI_TLS_KEY,
	CLI_POOL, CLI_SUBNET, CLI_SUBNET6, CLI_CLIENT_PREFIX, CLI_TUN_PREFIX,
	CLI_USER, CLI_EGRESS, CLI_MTU, CLI_OPEN_PORT,
	CLI_ALLOW, CLI_DENY, CLI_LINGER, CLI_KEEPALIVE, CLI_MAX_MESSAGE,
	CLI_WORKERS, CLI_TOKEN_FILE, CLI_DNS, CLI_METRICS, CLI_TRUST_PROXY,
	CLI_NO_SECCOMP, CLI_DRY_RUN,
	CLI_TUN, CLI_ADDRESS, CLI_ROUTE, CLI_DEFAULT_ROUTE, CLI_KILL_SWITCH,
	CLI_TOKEN, CLI_CA, CLI_PIN, CLI_INSECURE, CLI_RETRIES,
	CLI_VERBOSE, CLI_QUIET, CLI_HELP,
};

/* What cli_parse found. */
enum cli_rc {
	CLI_FAIL = -1,       /* one line printed: exit 1 */
	CLI_OK = 0,          /* every option handed over: run the command */
	CLI_DONE = 1,        /* --help printed on stdout: exit 0 */
};

/*
 * Handles one option of the command: id, and its value (NULL for an option
 * that takes none), or an operand (CLI_OPERAND). arg points into argv.
 * Returns 0, or -1 after printing one line.
 */
typedef int cli_fn(void *ctx, enum cli_id id, const char *arg);

/*
 * Parses argv[1..argc) for cmd (argv[0] is the command's name) and calls fn
 * with ctx for each option and operand, in order. Accepts --name VALUE,
 * --name=VALUE, -v, and "--" before operands that start with '-'; a next
 * argument that starts with "--" or is a short option is not taken as a
 * value (use --name=VALUE for such a value). Refuses with one line: an
 * option of another command, an unknown option, a missing value, a value
 * given to an option that takes none, an option not supported yet, and an
 * operand for a command that takes none. --help and -h print cmd's usage on
 * stdout. argv is not changed.
 */
enum cli_rc cli_parse(enum cli_cmd cmd, int argc, char **argv, cli_fn *fn, void *ctx) CLI_WUR;

/* `vpngw CMD --help`: what cmd does and every option it accepts, one a line. */
void cli_usage(FILE *f, enum cli_cmd cmd);

/* `vpngw --help`: each command's synopsis, then --help and --version. */
void cli_help(FILE *f);

/* The option's long name with its dashes ("--listen"), for messages. */
const char *cli_name(enum cli_id id);

/*
 * A decimal number from lo to hi: digits only, no sign, no spaces. Stores it
 * in *out and returns 0; else prints "FLAG TEXT: expected a number from LO
 * to HI" and returns -1. flag is how the message names the value ("--pool").
 */
int cli_uint(const char *flag, const char *text, unsigned long lo, unsigned long hi,
	     unsigned long *out) CLI_WUR;

/*
 * "ADDR:PORT": an IPv4 address, or an IPv6 address in brackets (or bare,
 * the last colon ending it), and a port from 1 to 65535. Fills *ss and *len
 * for bind() and returns 0; else prints one line naming flag and returns -1.
 */
int cli_addr_port(const char *flag, const char *text, struct sockaddr_storage *ss,
		  socklen_t *len) CLI_WUR;

/* An IPv4 prefix, as nat_cidr_parse reads it; else one line and -1. */
int cli_cidr(const char *flag, const char *text, struct nat_cidr *c) CLI_WUR;

#endif
