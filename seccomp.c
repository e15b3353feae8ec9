/* SPDX-License-Identifier: MIT */
/*
 * seccomp.c: the allow-lists of system calls, built by hand into a classic
 * BPF program and installed with PR_SET_SECCOMP once setup is done.
 *
 * The program first checks the architecture (a syscall number means
 * another call under another ABI; x32 numbers are refused on x86_64), then
 * compares the number with each allowed call; a few calls are allowed only
 * with certain arguments. Anything else kills the process. Which calls the
 * gateway and the helper make is the business of the files that make them
 * (vpngw.c, link.c, tls.c, tun.c, the C library); this file only lists
 * them, and the README says what each is for.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#include "seccomp.h"

#if defined(__x86_64__) && defined(__ILP32__)
#error "x32 is not supported"
#elif defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000	/* asm/unistd.h's; musl has no copy */
#endif
#elif defined(__i386__)
#define ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARCH AUDIT_ARCH_ARMEB
#elif defined(__arm__)
#define ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH AUDIT_ARCH_RISCV64
#elif defined(__mips__) && _MIPS_SIM == _ABIO32 && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARCH AUDIT_ARCH_MIPS
#elif defined(__mips__) && _MIPS_SIM == _ABIO32
#define ARCH AUDIT_ARCH_MIPSEL
#elif defined(__mips__) && _MIPS_SIM == _ABI64 && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARCH AUDIT_ARCH_MIPS64
#elif defined(__mips__) && _MIPS_SIM == _ABI64
#define ARCH AUDIT_ARCH_MIPSEL64
#elif defined(__mips__) && _MIPS_SIM == _ABIN32 && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARCH AUDIT_ARCH_MIPS64N32
#elif defined(__mips__) && _MIPS_SIM == _ABIN32
#define ARCH AUDIT_ARCH_MIPSEL64N32
#else
#error "seccomp.c: no AUDIT_ARCH for this architecture"
#endif

/* The low 32 bits of argument i (every argument checked is an int). */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#endif

#define PROG_MAX 512
#define VALS_MAX 4

/* Argument arg, masked with mask (0: no mask), is one of vals. */
struct cond {
	uint8_t arg;
	uint32_t mask;
	uint8_t n;
	uint32_t vals[VALS_MAX];
};

/* A call allowed when every one of its n_cond conditions holds. */
struct rule {
	long nr;
	uint8_t n_cond;
	struct cond cond[2];
};

#define ANY(name) { .nr = __NR_##name }
/* Argument ARG holds none of the bits of BITS. */
#define NONE_OF(name, arg, bits) \
	{ .nr = __NR_##name, .n_cond = 1, .cond = { { (arg), (bits), 1, { 0 } } } }
/* Argument ARG is exactly one of the values. */
#define ONE_OF(name, arg, n, ...) \
	{ .nr = __NR_##name, .n_cond = 1, .cond = { { (arg), 0, (n), { __VA_ARGS__ } } } }

/* Flags that would open a file for anything but reading. */
#define OPEN_WRITE (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY))

/*
 * An ASan build only (the network suites run one): the calls its runtime
 * makes, not the program. LeakSanitizer checks at exit from a tracer that
 * shares the memory (clone with exactly these flags, never a fork), makes
 * itself the process's tracer (prctl, ptrace, wait4 of every thread) and
 * lists the threads (getdents64), with its own signal handlers and death
 * signal; the runtime asks for the thread's and the process's id, its
 * alternate signal stack, and yields in its locks.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#ifdef __NR_getdents
#define GETDENTS ANY(getdents),
#else
#define GETDENTS
#endif
#define LSAN_CLONE (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED)
#define SANITIZER_RULES \
	ANY(gettid), ANY(getpid), ANY(getppid), ANY(sigaltstack), ANY(rt_sigaction), \
	ANY(sched_yield), ANY(getdents64), GETDENTS \
	ONE_OF(prctl, 0, 4, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_PDEATHSIG), \
	ONE_OF(clone, 0, 1, LSAN_CLONE), ANY(ptrace),
#else
#define SANITIZER_RULES
#endif

/*
 * Calls both lists allow, each with its variants on the architectures that
 * have them: waiting (ppoll, poll), the clock, memory mapped without
 * execution, and i386's multiplexed socket calls (unchecked there).
 */
#ifdef __NR_ppoll_time64
#define PPOLL_TIME64 ANY(ppoll_time64),
#else
#define PPOLL_TIME64
#endif
#ifdef __NR_poll
#define POLL ANY(poll),
#else
#define POLL
#endif
#ifdef __NR_clock_gettime64
#define CLOCK_TIME64 ANY(clock_gettime64),
#else
#define CLOCK_TIME64
#endif
#ifdef __NR_mmap
#define MMAP NONE_OF(mmap, 2, PROT_EXEC),
#else
#define MMAP
#endif
#ifdef __NR_mmap2
#define MMAP2 NONE_OF(mmap2, 2, PROT_EXEC),
#else
#define MMAP2
#endif
#ifdef __NR_socketcall
#define SOCKETCALL ANY(socketcall),
#else
#define SOCKETCALL
#endif
#define WAIT_RULES ANY(ppoll), PPOLL_TIME64 POLL
#define CLOCK_RULES ANY(clock_gettime), CLOCK_TIME64
#define MMAP_RULES MMAP MMAP2

/*
 * What the serving loop calls: the sockets and TUNs (read, write, readv,
 * writev, sendmsg, recvmsg, send/recv, accept4, shutdown, close, epoll,
 * eventfds read and written, ppoll,
 * TCP_NODELAY and TCP_NOTSENT_LOWAT on each socket, SO_ERROR), the clock, getrandom for
 * session tokens, malloc (no executable memory), the files reread on SIGHUP
 * (opened for reading only; musl's open sets FD_CLOEXEC again with fcntl),
 * and at exit SIGKILL and wait4 for the helper.
 */
static const struct rule gateway[] = {
	ANY(read), ANY(write), ANY(readv), ANY(writev),
	ANY(sendmsg), ANY(recvmsg), ANY(sendto), ANY(recvfrom),
	ANY(accept4), ANY(shutdown), ANY(close), ANY(getsockopt),
	ONE_OF(setsockopt, 2, 2, TCP_NODELAY, TCP_NOTSENT_LOWAT),
	ANY(epoll_pwait), ANY(epoll_ctl),
	WAIT_RULES SOCKETCALL CLOCK_RULES
#ifdef __NR_gettimeofday
	ANY(gettimeofday),
#endif
	ANY(getrandom),
	ANY(brk), ANY(munmap), ANY(mremap), ANY(madvise), MMAP_RULES
	NONE_OF(mprotect, 2, PROT_EXEC),
	ANY(futex),
#ifdef __NR_futex_time64
	ANY(futex_time64),
#endif
	NONE_OF(openat, 2, OPEN_WRITE),
#ifdef __NR_open
	NONE_OF(open, 1, OPEN_WRITE),
#endif
#ifdef __NR_fstat
	ANY(fstat),
#endif
#ifdef __NR_fstat64
	ANY(fstat64),
#endif
#ifdef __NR_newfstatat
	ANY(newfstatat),
#endif
#ifdef __NR_fstatat64
	ANY(fstatat64),
#endif
#ifdef __NR_statx
	ANY(statx),
#endif
#ifdef __NR_lseek
	ANY(lseek),
#endif
#ifdef __NR__llseek
	ANY(_llseek),
#endif
	ANY(rt_sigprocmask), ANY(rt_sigreturn),
#ifdef __NR_sigreturn
	ANY(sigreturn),
#endif
	ANY(restart_syscall),
	ONE_OF(fcntl, 1, 4, F_GETFD, F_SETFD, F_GETFL, F_SETFL),
#ifdef __NR_fcntl64
	ONE_OF(fcntl64, 1, 4, F_GETFD, F_SETFD, F_GETFL, F_SETFL),
#endif
	ONE_OF(kill, 1, 1, SIGKILL),
	ANY(wait4),
	ANY(exit), ANY(exit_group),
	SANITIZER_RULES
};

/*
 * What the conntrack helper calls: its socket to the gateway (send, recv,
 * poll), one netfilter netlink socket per request (socket, bind, the
 * strict-check option, sendto, recvfrom, close), the clock, and exit.
 */
static const struct rule helper[] = {
	ANY(sendto), ANY(recvfrom), ANY(sendmsg), ANY(recvmsg), ANY(close),
	{ .nr = __NR_socket, .n_cond = 2, .cond = {
		{ 0, 0, 1, { AF_NETLINK } }, { 2, 0, 1, { NETLINK_NETFILTER } } } },
	ANY(bind),
	ONE_OF(setsockopt, 1, 1, SOL_NETLINK),
	SOCKETCALL WAIT_RULES CLOCK_RULES
	ANY(brk), ANY(munmap), MMAP_RULES
	ANY(rt_sigreturn), ANY(restart_syscall),
	ANY(exit), ANY(exit_group),
	SANITIZER_RULES
};

/* ---- Building the program ---- */

struct prog {
	struct sock_filter ins[PROG_MAX];
	unsigned short n;
	bool overflow;
};

static void emit(struct prog *p, struct sock_filter f)
{
	if (p->n < PROG_MAX)
		p->ins[p->n++] = f;
	else
		p->overflow = true;
}

static void stmt(struct prog *p, uint16_t code, uint32_t k)
{
	emit(p, (struct sock_filter)BPF_STMT(code, k));
}

static void jump(struct prog *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	emit(p, (struct sock_filter)BPF_JUMP(code, k, jt, jf));
}

static unsigned cond_len(const struct cond *c)
{
	return 1 + (c->mask != 0) + (c->mask ? 1 : c->n) + 1;
}

/* One condition: falls through when it holds, kills otherwise. */
static void emit_cond(struct prog *p, const struct cond *c)
{
	stmt(p, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(c->arg));
	if (c->mask) {
		stmt(p, BPF_ALU | BPF_AND | BPF_K, c->mask);
		jump(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
	} else {
		for (unsigned i = 0; i < c->n; i++)
			jump(p, BPF_JMP | BPF_JEQ | BPF_K, c->vals[i], (uint8_t)(c->n - i), 0);
	}
	stmt(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
}

/* nr == rule's: allowed (when its conditions hold); otherwise the next rule. */
static void emit_rule(struct prog *p, const struct rule *r)
{
	unsigned len = 1;

	for (unsigned i = 0; i < r->n_cond; i++)
		len += cond_len(&r->cond[i]);
	if (len > 255) {
		p->overflow = true;
		return;
	}
	jump(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->nr, 0, (uint8_t)len);
	for (unsigned i = 0; i < r->n_cond; i++)
		emit_cond(p, &r->cond[i]);
	stmt(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
}

static void build(struct prog *p, const struct rule *r, size_t n)
{
	p->n = 0;
	p->overflow = false;
	stmt(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	jump(p, BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
	stmt(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	stmt(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __X32_SYSCALL_BIT
	jump(p, BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1);
	stmt(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	/* A rule's block ends in a return: the number stays loaded past it. */
	for (size_t i = 0; i < n; i++)
		emit_rule(p, &r[i]);
	stmt(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
}

int seccomp_install(enum seccomp_role role)
{
	static struct prog p;
	const struct rule *r = role == SECCOMP_HELPER ? helper : gateway;
	size_t n = role == SECCOMP_HELPER ? sizeof helper / sizeof helper[0]
					  : sizeof gateway / sizeof gateway[0];

	build(&p, r, n);
	if (p.overflow) {
		errno = E2BIG;
		return -1;
	}
	struct sock_fprog fp = { .len = p.n, .filter = p.ins };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0 ? -1 : 0;
}
