/* SPDX-License-Identifier: MIT */
/*
 * unit.h: the small harness of test/unit.c. A test file defines functions
 * that call CHECK and lists them in a table of struct unit_case; unit.c runs
 * the tables, by name when names are given on the command line. A case
 * that cannot mean anything here calls unit_skip and returns.
 */
#ifndef VPNGW_UNIT_H
#define VPNGW_UNIT_H

#include <stdint.h>
#include <stdio.h>

extern int unit_failed_checks;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",     \
			        __FILE__, __LINE__, #cond);                \
			unit_failed_checks++;                              \
		}                                                          \
	} while (0)

/* xorshift64*: a fixed seed (unit_seed), so that a failure replays. */
void unit_seed(uint64_t seed);
uint64_t unit_rnd(void);
/* A number below n (0 for n = 0). */
unsigned unit_rn(unsigned n);

/* Marks the running case skipped, why printed with its name; checks it
 * made before count still. */
void unit_skip(const char *why);
/* True when VPNGW_UNIT_EMULATED=1 says the tests run under an emulator
 * (qemu-user), where timings say nothing about the code. */
int unit_emulated(void);

struct unit_case {
	const char *name;
	void (*run)(void);
};

/* Each test file exports one NULL-terminated table. */
extern const struct unit_case unit_sha1_base64[];
extern const struct unit_case unit_ws[];
extern const struct unit_case unit_nat[];
extern const struct unit_case unit_admit[];
extern const struct unit_case unit_limit[];
extern const struct unit_case unit_v1[];
extern const struct unit_case unit_tun[];
extern const struct unit_case unit_guard[];
extern const struct unit_case unit_cli[];
extern const struct unit_case unit_auth[];
extern const struct unit_case unit_metrics[];
extern const struct unit_case unit_gso[];
extern const struct unit_case unit_txq[];
extern const struct unit_case unit_link[];
extern const struct unit_case unit_dns[];

#endif
