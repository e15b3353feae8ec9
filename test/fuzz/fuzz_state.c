/* SPDX-License-Identifier: MIT */
/*
 * fuzz_state.c: a libFuzzer target for the state file that setup writes
 * and teardown trusts (tun.c's state_parse, which it #includes with
 * netlink.c for its static helpers), and for --open-port. Each input is a
 * whole file, in a buffer of exactly its size so that ASan sees any
 * overrun. It asserts what teardown relies on for any bytes: only the
 * sysctls setup changes are restored, to numbers; only names safe as an
 * interface name are deleted, at most a pool's worth; what is parsed
 * twice is parsed the same. Short inputs are also an --open-port value.
 * Building and running it is test/fuzz/run.sh's job.
 */
#include <assert.h>

#include "../../log.c"
#include "../../netlink.c"
#include "../../nft.c"
#include "../../seccomp.c"
#include "../../tun.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ours(const char *path)
{
	for (size_t k = 0; k < sizeof sysctls / sizeof sysctls[0]; k++)
		if (strcmp(path, sysctls[k].path) == 0)
			return true;
	return accept_ra_path(path);	/* the egress's, net/ipv6/conf/NAME/accept_ra */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st, again;
	char *buf = malloc(size ? size : 1);
	unsigned bad;

	assert(buf);
	memcpy(buf, data, size);
	if (state_init(&st) < 0 || state_init(&again) < 0)
		abort();
	bad = state_parse(&st, buf, size);
	assert(bad <= size);
	assert(st.n_sys <= STATE_SYSCTL_MAX && st.n_devs <= TUN_POOL_MAX);
	for (unsigned i = 0; i < st.n_sys; i++) {
		assert(ours(st.sys[i].path));
		assert(st.sys[i].value[0] && strspn(st.sys[i].value, "0123456789") ==
					     strlen(st.sys[i].value));
	}
	for (unsigned i = 0; i < st.n_devs; i++)
		assert(name_ok(st.devs[i]));
	assert(!st.egress[0] || name_ok(st.egress));
	assert(state_parse(&again, buf, size) == bad);
	assert(again.n_sys == st.n_sys && again.n_devs == st.n_devs &&
	       strcmp(again.egress, st.egress) == 0);
	state_free(&st);
	state_free(&again);

	if (size < 16) {
		struct tun_pool p;
		char s[16];

		memcpy(s, data, size);
		s[size] = '\0';
		tun_pool_default(&p);
		if (tun_pool_open_port(&p, s) == 0) {
			assert(p.n_open == 1 && p.open[0].port >= 1);
			assert(p.open[0].proto == IPPROTO_TCP || p.open[0].proto == IPPROTO_UDP);
		} else {
			assert(p.n_open == 0);
		}
	}
	free(buf);
	return 0;
}
