/* SPDX-License-Identifier: MIT */
/*
 * replay.c: a packet-replay harness, without root, for a deterministic
 * cost figure of the data plane (test/replay.sh runs it under callgrind:
 * user-space instructions per forwarded packet).
 *
 *   replay down|up|down64|up64 N
 *
 * Both ends' links run in this one process, through the very calls their
 * loops make (vpngw.c: tun_readable, conn_readable, packet_up, flush_all;
 * client.c: tun_readable, sock_readable, packet_down, the flush), on real
 * sockets:
 * - each "TUN" is a non-blocking SOCK_SEQPACKET socketpair: one read is one
 *   packet, as from a TUN without IFF_VNET_HDR (struct link_tun with
 *   offload 0); the harness holds the other end;
 * - the tunnel is a SOCK_STREAM socketpair, one end the gateway's link
 *   (client=false), the other the client's (client=true), both opened with
 *   link_open straight from LINK_HTTP (the handshake is not what is
 *   measured).
 *
 * down: N IPv4 TCP packets of 1500 bytes (down64: UDP, 64 bytes) from the
 * Internet to the client's mapped address go into the gateway's TUN; each
 * round the gateway drains its TUN (nat_in) into the link and flushes, the
 * client reads, unwraps and writes them to its TUN, and the harness reads
 * them off. up (up64): the reverse, client to Internet (nat_check,
 * nat_out). A first packet up sets the NAT's mapping. Every packet must
 * arrive, in order, byte-exact but for what the NAT rewrites (the address
 * and the checksums, which are checked against a full recomputation), and
 * no drop may be counted.
 *
 * The clock is a constant, so that the run is the same every time. The
 * harness's own work (building and checking packets) is outside the
 * functions step_down and step_up, which hold what the gateway and the
 * client do: test/replay.sh counts only those (callgrind's toggle-collect),
 * and the gateway's part apart, in gw_tun_wake and gw_sock_wake.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../link.h"
#include "../log.h"
#include "../nat.h"
#include "../ws.h"

#define BUDGET      64          /* TUN_BUDGET of vpngw.c and client.c */
#define SOCK_ROUNDS 4           /* SOCK_BUDGET of vpngw.c and client.c */
#define MTU         1500
#define NOW         1000        /* ms: a constant clock, a constant run */
#define STALL       1000        /* rounds without progress: a failure */

#define SLOT_NET    0x0a006400u /* 10.0.100.0/24, the slot's subnet */
#define CLIENT_IP   0x0a090002u /* 10.9.0.2, the client's own address */
#define MAPPED_IP   0x0a006402u /* 10.0.100.2, its first mapping */
#define REMOTE_IP   0xc6336401u /* 198.51.100.1, on the Internet */

struct end {
	struct link l;
	struct link_tun tun;         /* the link's side of the TUN pair */
	int peer;                    /* the harness's side */
	struct link_stats st;
	uint8_t scratch[LINK_SCRATCH];
	struct link_gro gro;
	uint8_t gro_buf[LINK_PKT_MAX];
	struct link_rxbuf rxb;       /* the end's loop buffer */
};

static struct end gw, cl;
static struct nat nat;
static struct nat_acl acl;

static void die(const char *fmt, ...) PRINTF(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("replay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ==== What the gateway and the client do ==== */

/* vpngw.c's packet_up, without the rate. */
static void gw_packet_up(uint8_t *p, size_t len)
{
	size_t size;
	enum drop d = link_unwrap(&gw.l, &p, &len, &size);

	if (d == DROP_NONE)
		d = nat_check(p, len);
	if (d == DROP_NONE)
		d = nat_out(&nat, &acl, p, len);
	if (d == DROP_NONE) {
		link_gro_write(&gw.gro, &gw.tun, p, len, size, gw.scratch, &gw.st, &gw.st.up);
		return;
	}
	gw.st.drops[d]++;
}

/* client.c's packet_down. */
static void cl_packet_down(uint8_t *p, size_t len)
{
	size_t size;

	if (link_unwrap(&cl.l, &p, &len, &size) != DROP_NONE || len < 20 ||
	    (p[0] >> 4 != 4 && p[0] >> 4 != 6)) {
		cl.st.drops[DROP_MALFORMED]++;
		return;
	}
	link_gro_write(&cl.gro, &cl.tun, p, len, size, cl.scratch, &cl.st, &cl.st.down);
}

/* One end's socket is readable: its reads and events, up to the budget. */
static void readable(struct end *e, void (*packet)(uint8_t *, size_t))
{
	struct link_msg m;

	for (int i = 0; i < SOCK_ROUNDS; i++) {
		int r = link_read(&e->l, &e->rxb, NOW);
		if (r < 0)
			die("%s link: %s", e == &gw ? "gateway" : "client", link_why(&e->l));
		if (r == 0)
			return;
		while (link_next(&e->l, &m) != LINK_EV_NONE)
			if (m.ev == LINK_EV_BINARY)
				packet(m.data, m.len);
			else
				die("unexpected event %d", (int)m.ev);
		link_gro_flush(&e->gro, e->scratch, &e->st, e == &gw ? &e->st.up : &e->st.down);
	}
}

static void flush(struct end *e)
{
	if (link_flush(&e->l, NOW, &e->st) < 0)
		die("flush: %s", link_why(&e->l));
}

/*
 * The wakes, each one end's work: its TUN read (link_tun_drain) or its
 * socket read (link_read, link_next, the packet to the TUN), then its
 * flush. Not inlined, so that callgrind counts each end apart.
 */
__attribute__((noinline)) static void gw_tun_wake(void)
{
	if (link_tun_drain(&gw.l, &gw.tun, MTU, &nat, DROP_NO_CLIENT, &gw.st, &gw.st.down,
			   gw.scratch, BUDGET, NULL, NOW) < 0)
		die("gateway TUN read: %s", strerror(errno));
	flush(&gw);
}

__attribute__((noinline)) static void gw_sock_wake(void)
{
	readable(&gw, gw_packet_up);
	flush(&gw);
}

__attribute__((noinline)) static void cl_tun_wake(void)
{
	if (link_tun_drain(&cl.l, &cl.tun, MTU, NULL, DROP_LINK_DOWN, &cl.st, &cl.st.up,
			   cl.scratch, BUDGET, NULL, NOW) < 0)
		die("client TUN read: %s", strerror(errno));
	flush(&cl);
}

__attribute__((noinline)) static void cl_sock_wake(void)
{
	readable(&cl, cl_packet_down);
	flush(&cl);
}

/* One round down: the gateway's TUN wake, then the client's socket wake. */
__attribute__((noinline)) static void step_down(void)
{
	gw_tun_wake();
	cl_sock_wake();
}

/* One round up: the client's TUN wake, then the gateway's socket wake. */
__attribute__((noinline)) static void step_up(void)
{
	cl_tun_wake();
	gw_sock_wake();
}

/* ==== The packets ==== */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The IPv4 and the TCP or UDP checksums of p[0..len), computed afresh. */
static void checksums(uint8_t *p, size_t len)
{
	uint8_t proto = p[9];
	size_t l4 = len - 20;
	uint8_t *h = p + 20, *c = h + (proto == 6 ? 16 : 6);
	uint32_t s;

	put16(p + 10, 0);
	put16(p + 10, fold(sum16(0, p, 20)));
	put16(c, 0);
	s = sum16(0, p + 12, 8) + proto + (uint32_t)l4;
	uint16_t v = fold(sum16(s, h, l4));
	put16(c, proto == 17 && v == 0 ? 0xffff : v);
}

/* Packet number i of a run: TCP of 1500 bytes, or UDP of 64, from src to
 * dst, its number in the IPv4 id, the TCP sequence and the payload. */
static size_t make_pkt(uint8_t *p, bool small, uint32_t i, uint32_t src, uint32_t dst,
		       bool up)
{
	size_t len = small ? 64 : MTU;

	memset(p, 0, 40);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)len);
	put16(p + 4, (uint16_t)i);
	p[6] = 0x40;                         /* DF */
	p[8] = 64;
	p[9] = small ? 17 : 6;
	put32(p + 12, src);
	put32(p + 16, dst);
	uint8_t *h = p + 20, *d;
	uint16_t sport = up ? 40000 : 5201, dport = up ? 5201 : 40000;
	put16(h, sport);
	put16(h + 2, dport);
	if (small) {
		put16(h + 4, (uint16_t)(len - 20));
		d = h + 8;
	} else {
		put32(h + 4, i * 1460u);
		put32(h + 8, 0x10000000u);
		h[12] = 5 << 4;
		h[13] = 0x18;                /* PSH, ACK */
		put16(h + 14, 0xffff);
		d = h + 20;
	}
	for (uint8_t *e = p + len, *q = d; q < e; q++)
		*q = (uint8_t)(i * 7 + (uint32_t)(q - d));
	put32(d, i);
	checksums(p, len);
	return len;
}

/* ==== The run ==== */

static void nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
}

static void pair(int type, int fd[2])
{
	if (socketpair(AF_UNIX, type, 0, fd) < 0)
		die("socketpair: %s", strerror(errno));
	nonblock(fd[0]);
	nonblock(fd[1]);
}

static void setup(void)
{
	int tun[2], sock[2];

	log_verbosity = LOG_QUIET;
	nat_init(&nat, SLOT_NET, 24, MTU - 40);
	nat_acl_init(&acl);
	if (nat_acl_allow(&acl, (struct nat_cidr){ REMOTE_IP & 0xffffff00u, 0xffffff00u }) < 0)
		die("acl");
	pair(SOCK_STREAM, sock);
	pair(SOCK_SEQPACKET, tun);
	gw.tun = (struct link_tun){ .fd = tun[0], .name = "gw-tun" };
	gw.peer = tun[1];
	pair(SOCK_SEQPACKET, tun);
	cl.tun = (struct link_tun){ .fd = tun[0], .name = "cl-tun" };
	cl.peer = tun[1];
	link_gro_init(&gw.gro, gw.gro_buf);
	link_gro_init(&cl.gro, cl.gro_buf);
	link_init(&gw.l, sock[0], false, NULL, NULL, NOW);
	link_init(&cl.l, sock[1], true, NULL, NULL, NOW);
	link_open(&gw.l, WS_MSG_MAX, NOW);
	link_open(&cl.l, WS_MSG_MAX, NOW);
	if (gw.l.st != LINK_OPEN || cl.l.st != LINK_OPEN)
		die("link_open failed");
}

/*
 * Sends n packets (numbered from first) one way, round by round: up to a
 * budget written into the sending TUN, one step, and what arrived read off
 * the receiving TUN and checked.
 */
static void run(bool up, bool small, uint32_t first, uint32_t n)
{
	static uint8_t p[LINK_PKT_MAX], want[LINK_PKT_MAX];
	int in = up ? cl.peer : gw.peer, out = up ? gw.peer : cl.peer;
	uint32_t src = up ? CLIENT_IP : REMOTE_IP, dst = up ? REMOTE_IP : MAPPED_IP;
	uint32_t sent = 0, got = 0, idle = 0;

	while (got < n) {
		bool moved = false;

		for (unsigned k = 0; k < BUDGET && sent < n; k++) {
			size_t len = make_pkt(p, small, first + sent, src, dst, up);
			ssize_t w = write(in, p, len);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (w != (ssize_t)len)
				die("TUN write: %s", w < 0 ? strerror(errno) : "short");
			sent++;
			moved = true;
		}
		if (up)
			step_up();
		else
			step_down();
		for (;;) {
			ssize_t r = read(out, p, sizeof p);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (r < 0)
				die("TUN read: %s", strerror(errno));
			if (got >= n)
				die("more packets than were sent");
			size_t len = make_pkt(want, small, first + got, up ? MAPPED_IP : src,
					      up ? dst : CLIENT_IP, up);
			if ((size_t)r != len)
				die("packet %u: %zd bytes, not %zu", first + got, r, len);
			for (size_t i = 0; i < len; i++)
				if (p[i] != want[i])
					die("packet %u: byte %zu is %#x, not %#x", first + got, i,
					    p[i], want[i]);
			got++;
			moved = true;
		}
		idle = moved ? 0 : idle + 1;
		if (idle > STALL)
			die("stalled after %u of %u packets (%u sent)", got, n, sent);
	}
}

static void no_drops(const struct end *e, const char *who)
{
	for (int d = 0; d < DROP_N; d++)
		if (e->st.drops[d])
			die("%s dropped %llu packets: %s", who, (unsigned long long)e->st.drops[d],
			    drop_name((enum drop)d));
}

int main(int argc, char **argv)
{
	const char *mode = argc == 3 ? argv[1] : "";
	bool up = !strncmp(mode, "up", 2), small;
	char *end = NULL;
	unsigned long n = argc == 3 ? strtoul(argv[2], &end, 10) : 0;

	if (!strcmp(mode, "down") || !strcmp(mode, "up"))
		small = false;
	else if (!strcmp(mode, "down64") || !strcmp(mode, "up64"))
		small = true;
	else
		n = 0;
	if (!n || *end || n > 0xffffffu) {
		fprintf(stderr, "usage: replay down|up|down64|up64 N (1 to %u)\n", 0xffffffu);
		return 2;
	}
	setup();
	run(true, small, 0, 1);                /* the NAT's mapping */
	run(up, small, 1, (uint32_t)n);
	no_drops(&gw, "the gateway");
	no_drops(&cl, "the client");
	const struct link_count *c = up ? &gw.st.up : &cl.st.down;
	if (c->packets != n + up)
		die("%llu packets counted, not %lu", (unsigned long long)c->packets, n + up);
	printf("replay %s: %lu packets of %u bytes, every one in order and intact\n", mode, n,
	       small ? 64 : MTU);
	link_free(&gw.l);
	link_free(&cl.l);
	return 0;
}
