/* SPDX-License-Identifier: MIT */
/*
 * seccomp_test.c: seccomp.c's filters, each case in a child of its own.
 *
 * The child installs a role's filter and makes one kind of call: the calls
 * the role needs must work (the child exits 0), the others must kill it
 * with SIGSYS. It #includes seccomp.c, and is built with the compiler and
 * C library of the binary (static musl), whose wrappers pick the system
 * calls. That the real loop stays inside the list is the end-to-end
 * suites' business. Prints "N passed, N failed".
 */
#include "../seccomp.c"

#include <linux/if_ether.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *self;

/* ---- What the gateway does, and must be able to do ---- */

/* Fds 3 and 4 are the two ends of a socketpair; "ab" waits on 3. */
static int gw_io(void)
{
	char buf[64];
	struct iovec iov = { "w", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	return read(3, buf, 1) == 1 && write(4, "x", 1) == 1 &&
		send(4, "y", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 && writev(4, &iov, 1) == 1 &&
		sendmsg(4, &mh, MSG_NOSIGNAL) == 1 &&
		recv(3, buf, 2, MSG_DONTWAIT) == 2 && (iov.iov_base = buf, readv(3, &iov, 1) == 1) &&
		recvmsg(3, &mh, MSG_DONTWAIT) == 1 &&
		shutdown(4, SHUT_WR) == 0 && close(4) == 0;
}

static int gw_memory(void)
{
	size_t big = 8u << 20;
	char *p = malloc(big), *q;

	if (!p)
		return 0;
	memset(p, 1, big);
	q = realloc(p, 2 * big);
	if (!q)
		return 0;
	free(q);
	for (int i = 0; i < 1000; i++)
		free(malloc((size_t)i * 64));
	return 1;
}

static int gw_misc(void)
{
	struct timespec ts = { 0, 1000000 };
	struct pollfd pfd = { .fd = 3, .events = POLLIN };
	sigset_t none;
	uint8_t r[16];
	int one = 1;

	sigemptyset(&none);
	return clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && getrandom(r, sizeof r, 0) == sizeof r &&
		ppoll(&pfd, 1, &(struct timespec){ 0, 1000000 }, &none) >= 0 &&
		setsockopt(3, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 && /* not TCP */
		sigprocmask(SIG_SETMASK, &none, NULL) == 0;
}

/* What the SIGHUP reload does: open for reading, fstat, read, close. */
static int gw_read_file(void)
{
	struct stat st;
	char buf[16];
	int fd = open(self, O_RDONLY | O_CLOEXEC);
	FILE *f;

	if (fd < 0 || fstat(fd, &st) < 0 || read(fd, buf, sizeof buf) != sizeof buf ||
	    close(fd) < 0)
		return 0;
	f = fopen(self, "r");
	return f && fread(buf, 1, sizeof buf, f) == sizeof buf && fclose(f) == 0;
}

/* At exit: SIGKILL to the helper, and wait for it (forked before). */
static int gw_reap(void)
{
	int status;

	return kill((pid_t)atoi(getenv("SECCOMP_TEST_CHILD")), SIGKILL) == 0 &&
		wait(&status) > 0 && WIFSIGNALED(status);
}

/*
 * A worker's thread (serve --workers): started before any filter, it
 * installs its own when let go, then waits in epoll on an eventfd, and
 * ends; the main thread, under its filter, lets it go and joins it.
 */
static int ep_fd, ev_fd, go[2];
static pthread_t worker_thread;

static void *worker(void *arg)
{
	struct epoll_event e = { .events = EPOLLIN }, got;
	uint64_t one = 1, n;
	sigset_t none;
	char c;

	(void)arg;
	sigemptyset(&none);
	if (read(go[0], &c, 1) != 1 || seccomp_install(SECCOMP_GATEWAY) < 0)
		return NULL;
	return epoll_ctl(ep_fd, EPOLL_CTL_ADD, ev_fd, &e) == 0 &&
	       write(ev_fd, &one, sizeof one) == sizeof one &&
	       epoll_pwait(ep_fd, &got, 1, 1000, &none) == 1 &&
	       read(ev_fd, &n, sizeof n) == sizeof n &&
	       epoll_ctl(ep_fd, EPOLL_CTL_DEL, ev_fd, NULL) == 0 ? (void *)1 : NULL;
}

static int gw_worker_start(void)
{
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return ep_fd >= 0 && ev_fd >= 0 && pipe(go) == 0 &&
	       pthread_create(&worker_thread, NULL, worker, NULL) == 0;
}

static int gw_worker(void)
{
	void *r = NULL;

	return write(go[1], "g", 1) == 1 && pthread_join(worker_thread, &r) == 0 && r;
}

/* ---- What neither may do ---- */

/* A path that does not exist: an allowed execve would return ENOENT,
 * where a program run under the filter would die of it anyway. */
static int do_execve(void)
{
	char *argv[] = { "/nonexistent/true", NULL };

	execve(argv[0], argv, NULL);
	return 0;
}

static int do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return 0;
}

/* clone as glibc's fork makes it (musl's uses fork on x86_64). */
static int do_clone(void)
{
	long pid = syscall(__NR_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);

	if (pid == 0)
		_exit(0);
	return 0;
}

static int do_ptrace(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 0;
}

static int do_socket_inet(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int do_socket_packet(void)
{
	(void)socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	return 0;
}

static int do_socket_route(void)
{
	(void)socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	return 0;
}

static int do_open_read(void)
{
	(void)open("/dev/null", O_RDONLY);
	return 0;
}

static int do_open_write(void)
{
	(void)open("/dev/null", O_WRONLY);
	return 0;
}

static int do_open_rdwr(void)
{
	(void)open("/dev/null", O_RDWR);
	return 0;
}

static int do_open_creat(void)
{
	(void)openat(AT_FDCWD, "/nonexistent-dir/x", O_RDONLY | O_CREAT, 0600);
	return 0;
}

static int do_open_append(void)
{
	(void)syscall(__NR_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_APPEND);
	return 0;
}

static int do_mmap_exec(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int do_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return 0;
}

static int do_kill_term(void)
{
	(void)kill((pid_t)atoi(getenv("SECCOMP_TEST_CHILD")), SIGTERM);
	return 0;
}

static int do_setsockopt_other(void)
{
	int one = 1;

	(void)setsockopt(3, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	return 0;
}

static int do_ioctl(void)
{
	int n;

	(void)ioctl(3, FIONREAD, &n);
	return 0;
}

static int do_prctl(void)
{
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

static int do_getpid(void)
{
	(void)syscall(__NR_getpid);
	return 0;
}

#ifdef __x86_64__
/* i386's read (3) is x86_64's close (3), which the list allows: only the
 * architecture check tells them apart. */
static int do_int80(void)
{
	long ret = 3;

	__asm__ volatile("int $0x80" : "+a"(ret) : "b"(-1L), "c"(0L), "d"(0L) : "memory");
	return 0;
}

static int do_x32(void)
{
	(void)syscall(__X32_SYSCALL_BIT | __NR_close, -1);
	return 0;
}
#endif

/* ---- What the helper does ---- */

static int helper_netlink(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct pollfd pfd = { .fd = 3, .events = POLLIN };
	struct timespec ts;
	char buf[8];
	int one = 1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return 0;
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
	return close(fd) == 0 && clock_gettime(CLOCK_MONOTONIC, &ts) == 0 &&
		poll(&pfd, 1, 10) == 1 && recv(3, buf, sizeof buf, 0) == 2 &&
		send(4, "z", 1, MSG_NOSIGNAL) == 1;
}

static int do_read(void)
{
	char b;

	(void)read(3, &b, 1);
	return 0;
}

/* ---- The cases ---- */

/* KILLED_ABI: killed, if the kernel runs that ABI's calls at all. */
enum expect { WORKS, KILLED, KILLED_ABI };

static const struct {
	const char *name;
	enum seccomp_role role;
	int (*run)(void);
	enum expect want;
	int (*before)(void);     /* run before the filter, or NULL */
} cases[] = {
	{ "gateway_io", SECCOMP_GATEWAY, gw_io, WORKS, NULL },
	{ "gateway_memory", SECCOMP_GATEWAY, gw_memory, WORKS, NULL },
	{ "gateway_clock_random_poll", SECCOMP_GATEWAY, gw_misc, WORKS, NULL },
	{ "gateway_read_file", SECCOMP_GATEWAY, gw_read_file, WORKS, NULL },
	{ "gateway_reap_helper", SECCOMP_GATEWAY, gw_reap, WORKS, NULL },
	{ "gateway_worker_thread", SECCOMP_GATEWAY, gw_worker, WORKS, gw_worker_start },
	{ "gateway_execve", SECCOMP_GATEWAY, do_execve, KILLED, NULL },
	{ "gateway_fork", SECCOMP_GATEWAY, do_fork, KILLED, NULL },
	{ "gateway_clone", SECCOMP_GATEWAY, do_clone, KILLED, NULL },
	{ "gateway_ptrace", SECCOMP_GATEWAY, do_ptrace, KILLED, NULL },
	{ "gateway_socket_inet", SECCOMP_GATEWAY, do_socket_inet, KILLED, NULL },
	{ "gateway_socket_packet", SECCOMP_GATEWAY, do_socket_packet, KILLED, NULL },
	{ "gateway_socket_netlink", SECCOMP_GATEWAY, do_socket_route, KILLED, NULL },
	{ "gateway_open_wronly", SECCOMP_GATEWAY, do_open_write, KILLED, NULL },
	{ "gateway_open_rdwr", SECCOMP_GATEWAY, do_open_rdwr, KILLED, NULL },
	{ "gateway_open_creat", SECCOMP_GATEWAY, do_open_creat, KILLED, NULL },
	{ "gateway_open_append", SECCOMP_GATEWAY, do_open_append, KILLED, NULL },
	{ "gateway_mmap_exec", SECCOMP_GATEWAY, do_mmap_exec, KILLED, NULL },
	{ "gateway_mprotect_exec", SECCOMP_GATEWAY, do_mprotect_exec, KILLED, NULL },
	{ "gateway_kill_sigterm", SECCOMP_GATEWAY, do_kill_term, KILLED, NULL },
	{ "gateway_setsockopt_reuseaddr", SECCOMP_GATEWAY, do_setsockopt_other, KILLED, NULL },
	{ "gateway_ioctl", SECCOMP_GATEWAY, do_ioctl, KILLED, NULL },
	{ "gateway_prctl", SECCOMP_GATEWAY, do_prctl, KILLED, NULL },
	{ "gateway_getpid", SECCOMP_GATEWAY, do_getpid, KILLED, NULL },
#ifdef __x86_64__
	{ "gateway_i386_abi", SECCOMP_GATEWAY, do_int80, KILLED_ABI, NULL },
	{ "gateway_x32_abi", SECCOMP_GATEWAY, do_x32, KILLED, NULL },
	{ "helper_i386_abi", SECCOMP_HELPER, do_int80, KILLED_ABI, NULL },
#endif
	{ "helper_netlink", SECCOMP_HELPER, helper_netlink, WORKS, NULL },
	{ "helper_socket_route", SECCOMP_HELPER, do_socket_route, KILLED, NULL },
	{ "helper_socket_inet", SECCOMP_HELPER, do_socket_inet, KILLED, NULL },
	{ "helper_open_read", SECCOMP_HELPER, do_open_read, KILLED, NULL },
	{ "helper_read", SECCOMP_HELPER, do_read, KILLED, NULL },
	{ "helper_execve", SECCOMP_HELPER, do_execve, KILLED, NULL },
	{ "helper_fork", SECCOMP_HELPER, do_fork, KILLED, NULL },
	{ "helper_clone", SECCOMP_HELPER, do_clone, KILLED, NULL },
	{ "helper_ptrace", SECCOMP_HELPER, do_ptrace, KILLED, NULL },
};

/* The child of case i: a child of its own to kill (as the gateway has
 * its helper), the socketpair on fds 3 and 4, the filter, the case. */
static noreturn void child(size_t i, const int sv[2], bool filter)
{
	char buf[16];
	pid_t parent = getpid(), victim = fork();

	if (victim == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0 && getppid() == parent)
			pause();
		_exit(0);
	}
	snprintf(buf, sizeof buf, "%d", (int)victim);
	setenv("SECCOMP_TEST_CHILD", buf, 1);
	if (victim < 0 || dup2(sv[0], 3) < 0 || dup2(sv[1], 4) < 0 || write(4, "ab", 2) != 2)
		_exit(2);
	if (cases[i].before && !cases[i].before())
		_exit(2);
	if (filter && seccomp_install(cases[i].role) < 0) {
		perror("seccomp_install");
		_exit(2);
	}
	_exit(cases[i].run() ? 0 : 1);
}

/* Runs case i in a child, with or without the filter; its wait status,
 * or -1. */
static int run_child(size_t i, bool filter)
{
	int sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		child(i, sv, filter);
	close(sv[0]);
	close(sv[1]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

enum verdict { V_PASS, V_FAIL, V_SKIP };

static enum verdict run_case(size_t i)
{
	int status;

	/* Without emulation, an int 0x80 faults before seccomp sees it. */
	if (cases[i].want == KILLED_ABI) {
		status = run_child(i, false);
		if (status < 0 || !WIFEXITED(status))
			return V_SKIP;
	}
	status = run_child(i, true);
	if (status < 0)
		return V_FAIL;
	if (cases[i].want != WORKS)
		return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? V_PASS : V_FAIL;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? V_PASS : V_FAIL;
}

int main(int argc, char **argv)
{
	unsigned pass = 0, fail = 0, skipped = 0;

	self = argv[0];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name))
			continue;
		enum verdict v = run_case(i);
		if (v == V_PASS) {
			printf("PASS %s\n", cases[i].name);
			pass++;
		} else if (v == V_SKIP) {
			printf("SKIP %s: this kernel runs no i386 system calls\n", cases[i].name);
			skipped++;
		} else {
			printf("FAIL %s: expected it to %s\n", cases[i].name,
			       cases[i].want == KILLED ? "die of SIGSYS" : "work");
			fail++;
		}
		fflush(stdout);
	}
	if (skipped)
		printf("%u passed, %u failed, %u skipped\n", pass, fail, skipped);
	else
		printf("%u passed, %u failed\n", pass, fail);
	return fail != 0;
}
