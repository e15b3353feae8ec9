/* SPDX-License-Identifier: MIT */
/*
 * priv_test.c (root): the conntrack helper of tun.c with several sockets,
 * against the real kernel, in a network namespace of its own (it unshares
 * one first, so the conntrack table and nftables it touches are its own).
 * One helper serves n sockets: each request is answered on the socket it
 * came on, the firewall's counters reach every socket, the helper serves
 * while one socket is open, and it is gone once the last is closed or
 * tun_priv_stop ends it. It #includes tun.c and netlink.c for their
 * statics, as unit_tun.c does. Prints "N passed, N failed".
 */
#include "../netlink.c"
#include "../nft.c"
#include "../tun.c"

#include <sched.h>

static unsigned passed, failed;

static void check(bool ok, const char *name)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

/* The next message on fd within a second: 1 and *m, or 0 for none. */
static int next_msg(int fd, struct tun_priv_msg *m)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 1000) != 1)
		return 0;
	return tun_priv_read(fd, m) == 1;
}

/* The helper answers slot on fd with FLUSHED of that slot and result. */
static bool answers(int fd, unsigned slot, bool valid)
{
	struct tun_priv_msg m;

	if (tun_priv_flush(fd, slot) < 0)
		return false;
	/* Counters may come first: skip them. */
	for (int i = 0; i < 4; i++) {
		if (!next_msg(fd, &m))
			return false;
		if (m.type == TUN_PRIV_FLUSHED)
			return m.slot == slot && (valid ? m.result >= 0 : m.result == -EINVAL);
	}
	return false;
}

/* The counters reach fd: unsolicited is 5, as the table was made. */
static bool counted(int fd)
{
	struct tun_priv_msg m;

	for (int i = 0; i < 3; i++)
		if (next_msg(fd, &m) && m.type == TUN_PRIV_COUNTERS)
			return m.packets[TUN_FW_UNSOLICITED] == 5;
	return false;
}

/* fd reads end of file within a second, after any messages the helper
 * queued before it stopped (its counters may be on their way). */
static bool at_eof(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct tun_priv_msg m;

	for (int i = 0; i < 8; i++) {
		if (poll(&pfd, 1, 1000) != 1)
			return false;
		switch (tun_priv_read(fd, &m)) {
		case 1:
			continue;
		case 0:
			return false;
		default:
			return errno == EPIPE;
		}
	}
	return false;
}

static bool gone(pid_t pid)
{
	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

/* The table with two counters, unsolicited at 5 packets, 300 bytes: what
 * `nft -f` makes of "counter unsolicited { packets 5 bytes 300 }". */
static int counters_table(void)
{
	static const unsigned char five[8] = { [7] = 5 }, bytes[8] = { [6] = 1, [7] = 44 };
	struct nl_batch b;
	struct nl_msg m;
	size_t n;
	int rc;

	nl_batch_init(&b);
	batch_mark(&b, NFNL_MSG_BATCH_BEGIN);
	table_msg(&b, NFPROTO_INET, NFT_MSG_NEWTABLE, NLM_F_CREATE, TUN_TABLE, NULL);
	nft_msg_init(&m, NFT_MSG_NEWOBJ, NLM_F_CREATE);
	nl_attr_put_str(&m, NFTA_OBJ_TABLE, TUN_TABLE);
	nl_attr_put_str(&m, NFTA_OBJ_NAME, "unsolicited");
	nl_attr_put_be32(&m, NFTA_OBJ_TYPE, NFT_OBJECT_COUNTER);
	n = nl_attr_nest_start(&m, NFTA_OBJ_DATA);
	nl_attr_put(&m, NFTA_COUNTER_BYTES, bytes, sizeof bytes);
	nl_attr_put(&m, NFTA_COUNTER_PACKETS, five, sizeof five);
	nl_attr_nest_end(&m, n);
	nl_batch_add(&b, &m);
	obj_msg(&b, TUN_TABLE, "invalid");
	batch_mark(&b, NFNL_MSG_BATCH_END);
	rc = nft_send(&b, false);
	nl_batch_free(&b);
	return rc;
}

int main(void)
{
	struct tun_pool p;
	int fds[TUN_PRIV_MAX + 1];
	bool each = true;
	pid_t pid;

	if (unshare(CLONE_NEWNET) < 0) {
		printf("FAIL netns: %s (needs root)\n0 passed, 1 failed\n", strerror(errno));
		return 1;
	}
	tun_pool_default(&p);
	p.n = 3;
	/* A table with its counters, one of them not zero: the helper pushes. */
	if (counters_table() < 0) {
		printf("FAIL nft\n0 passed, 1 failed\n");
		return 1;
	}
	check(tun_priv_start(&p, 65534, 65534, true, fds, 0) < 0, "refuses_no_socket");
	check(tun_priv_start(&p, 65534, 65534, true, fds, TUN_PRIV_MAX + 1) < 0,
	      "refuses_too_many");
	check(tun_priv_start(&p, 65534, 65534, true, fds, 3) == 0, "starts_with_3");
	pid = priv_pid;
	check(tun_priv_start(&p, 65534, 65534, true, fds + 3, 1) < 0, "one_helper");
	for (unsigned i = 0; i < 3; i++)
		each &= counted(fds[i]);
	check(each, "counters_to_every_socket");
	each = true;
	for (unsigned i = 0; i < 3; i++)
		each &= answers(fds[i], 2 - i, true);
	check(each, "answers_on_its_socket");
	check(answers(fds[1], 3, false), "refuses_slot_out_of_pool");
	tun_priv_close(fds[0]);
	tun_priv_close(fds[1]);
	check(!gone(pid) && priv_pid == pid && answers(fds[2], 1, true),
	      "serves_while_one_is_open");
	tun_priv_close(fds[2]);
	check(priv_pid == 0 && gone(pid), "reaped_after_the_last");

	check(tun_priv_start(&p, 65534, 65534, false, fds, 2) == 0, "starts_again");
	pid = priv_pid;
	tun_priv_stop();
	check(priv_pid == 0 && gone(pid), "stop_reaps");
	check(at_eof(fds[0]) && at_eof(fds[1]), "stopped_is_eof");
	close(fds[0]);
	close(fds[1]);
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
