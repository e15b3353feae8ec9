/* SPDX-License-Identifier: MIT */
/*
 * unit.c: runs the table-driven tests of the pure files (sha1, base64, ws,
 * nat, admit, limit, v1, auth, the metrics renderer, gso, txq), of link.c's
 * receive side, and of the parsers in tun.c and netlink.c. `unit` runs
 * them all; `unit NAME...` runs the cases whose names start with one of the
 * NAMEs. A case may skip itself (unit_skip): it prints "SKIP name: why"
 * and counts as skipped. Ends with "N passed, N failed", followed by ", N
 * skipped" when some were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

int unit_failed_checks;

static uint64_t rng = 1;
static const char *skip_why;

void unit_skip(const char *why)
{
	skip_why = why;
}

int unit_emulated(void)
{
	const char *e = getenv("VPNGW_UNIT_EMULATED");

	return e && strcmp(e, "1") == 0;
}

void unit_seed(uint64_t seed)
{
	rng = seed ? seed : 1;
}

uint64_t unit_rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

unsigned unit_rn(unsigned n)
{
	return n ? (unsigned)(unit_rnd() % n) : 0;
}

static const struct unit_case *const tables[] = {
	unit_sha1_base64, unit_ws, unit_nat, unit_admit, unit_limit, unit_v1, unit_tun, unit_guard, unit_cli,
	unit_auth, unit_metrics, unit_gso, unit_txq, unit_link, unit_dns,
};

static int selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strncmp(name, argv[i], strlen(argv[i])) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;

	for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
		for (const struct unit_case *c = tables[t]; c->name; c++) {
			if (!selected(c->name, argc, argv))
				continue;
			int before = unit_failed_checks;
			skip_why = NULL;
			c->run();
			if (unit_failed_checks != before) {
				failed++;
				fprintf(stderr, "FAIL %s\n", c->name);
			} else if (skip_why) {
				skipped++;
				printf("SKIP %s: %s\n", c->name, skip_why);
			} else {
				passed++;
			}
		}
	}
	if (skipped)
		printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	else
		printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
