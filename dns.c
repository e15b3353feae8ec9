/* SPDX-License-Identifier: MIT */
/*
 * dns.c: the client's DNS. It owns /etc/resolv.conf while the client
 * runs, and the backup of it in /run/vpngw/resolv.conf.<tun>.
 *
 * The file is rewritten in place (open, truncate, write), never renamed
 * over: docker and `ip netns exec` bind-mount it, and a rename onto a
 * mount point fails. Before the first write its bytes go to the backup
 * (0600, fsync'd), and what we wrote to resolv.conf.<tun>.ours, so that:
 * on exit the backup's bytes go back exactly (a missing final newline
 * included) and both files go; a client killed with SIGKILL leaves them,
 * and the next one on that TUN puts the original back first. When the
 * file changed under us (someone else wrote it), it is theirs: we say so
 * and leave it.
 *
 * Where systemd-resolved runs (resolv.conf a link into its folder, or a
 * file that names only its stub, 127.0.0.53 or .54), resolv.conf is its
 * and the servers go to it instead, over D-Bus (dbus.c): the TUN's link
 * gets them (SetLinkDNS), "~." as its routing domain, so that every name
 * is asked through the tunnel (SetLinkDomains), and the default route
 * (SetLinkDefaultRoute); on exit RevertLink. A marker,
 * /run/vpngw/resolved.<tun>, locked while we run, is what a killed client
 * leaves; the next start on that TUN reverts the link if it is still
 * there. When resolved is not on the bus after all, resolv.conf is
 * written as above, with one line. Each call waits at most
 * DBUS_TIMEOUT_MS for resolved; it is made once per new set of servers.
 * The servers come from the assignment (v1.c); when to apply and restore
 * is client.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbus.h"
#include "dns.h"
#include "log.h"
#include "nat.h"
#include "v1.h"

#define RESOLV       "/etc/resolv.conf"
#define RUN_DIR      "/run/vpngw"
#define RESOLVED_DIR "run/systemd/resolve/"
#define PATH_LEN     96
#define HEADER       "# vpngw: the DNS servers of %.16s; restored on exit\n"
#define RESOLVE1     "org.freedesktop.resolve1"
#define RESOLVE1_OBJ "/org/freedesktop/resolve1"
#define RESOLVE1_MGR RESOLVE1 ".Manager"

/* ---- The new text (pure) ---- */

/* Appends s (n bytes) at *at; false when it does not fit. */
static bool put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	if (n > cap - *at)
		return false;
	memcpy(out + *at, s, n);
	*at += n;
	return true;
}

/* True when the line (len bytes, no newline) starts with keyword and a
 * blank, or is the keyword alone: as glibc's res_init reads it. */
static bool keyword(const char *line, size_t len, const char *kw)
{
	size_t k = strlen(kw);

	return len >= k && !memcmp(line, kw, k) &&
	       (len == k || line[k] == ' ' || line[k] == '\t');
}

size_t dns_resolv_text(char *out, size_t cap, const char *old, size_t old_len,
		       const char *tun, const uint32_t *dns4, unsigned n4,
		       const uint8_t (*dns6)[16], unsigned n6)
{
	static const char *const keep[] = { "search", "domain", "options", "sortlist" };
	char line[32 + NAT_ADDR6_LEN];
	size_t at = 0, start = 0;
	unsigned ns = 0;
	int n;

	n = snprintf(line, sizeof line, HEADER, tun);
	if (n < 0 || (size_t)n >= sizeof line || !put(out, cap, &at, line, (size_t)n))
		return 0;
	for (unsigned i = 0; i < n4 && ns < DNS_NS_MAX; i++, ns++) {
		struct in_addr a = { .s_addr = htonl(dns4[i]) };
		char t[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, t, sizeof t);
		n = snprintf(line, sizeof line, "nameserver %s\n", t);
		if (!put(out, cap, &at, line, (size_t)n))
			return 0;
	}
	for (unsigned i = 0; i < n6 && ns < DNS_NS_MAX; i++, ns++) {
		char t[NAT_ADDR6_LEN];
		nat_addr6_format(t, dns6[i]);
		n = snprintf(line, sizeof line, "nameserver %s\n", t);
		if (!put(out, cap, &at, line, (size_t)n))
			return 0;
	}
	if (!ns)
		return 0;
	/* The old file, line by line; the last may lack its newline. */
	while (start < old_len) {
		const char *p = old + start, *nl = memchr(p, '\n', old_len - start);
		size_t len = nl ? (size_t)(nl - p) : old_len - start;
		start += len + (nl != NULL);
		for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
			if (!keyword(p, len, keep[k]))
				continue;
			if (!put(out, cap, &at, p, len) || !put(out, cap, &at, "\n", 1))
				return 0;
			break;
		}
	}
	return at;
}

/* The servers of a text of ours, as "a, b" in list (cap bytes); its length. */
static size_t names(const char *text, size_t len, char *list, size_t cap)
{
	const char *p = text, *end = text + len;
	size_t at = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (keyword(p, n, "nameserver") && n > 11) {
			if (at && !put(list, cap, &at, ", ", 2))
				break;
			if (!put(list, cap, &at, p + 11, n - 11))
				break;
		}
		p += n + 1;
	}
	return at;
}

bool dns_resolved_stub(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool any = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), v = 10, w;
		if (keyword(p, n, "nameserver")) {
			while (v < n && (p[v] == ' ' || p[v] == '\t'))
				v++;
			for (w = v; w < n && p[w] != ' ' && p[w] != '\t' && p[w] != '\r'; w++)
				;
			if (w - v != 10 || (memcmp(p + v, "127.0.0.53", 10) &&
					    memcmp(p + v, "127.0.0.54", 10)))
				return false;
			any = true;
		}
		p += n + 1;
	}
	return any;
}

/* ---- Files ---- */

/* The whole of path into buf (cap bytes, the caller's); *len its size.
 * 0; -1 with errno (EFBIG: over cap). */
static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t at = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		if (at == cap) {
			char c;
			ssize_t r = read(fd, &c, 1);
			if (r != 0) {
				close(fd);
				errno = r > 0 ? EFBIG : errno;
				return -1;
			}
			break;
		}
		ssize_t r = read(fd, buf + at, cap - at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		at += (size_t)r;
	}
	close(fd);
	*len = at;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* resolv.conf gets buf in place: the same inode, whatever mounts it. */
static int write_resolv(const char *buf, size_t len)
{
	int fd = open(RESOLV, O_RDWR | O_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, 0) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* The folder's entries on disk too. */
static void sync_dir(void)
{
	int fd = open(RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* fd's file (ours: 0600, opened without following a link) holds buf on
 * disk before we return. */
static int fill(int fd, const char *buf, size_t len)
{
	if (ftruncate(fd, 0) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		return -1;
	sync_dir();
	return 0;
}

static int write_private(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600), e;

	if (fd < 0)
		return -1;
	if (fill(fd, buf, len) < 0) {
		e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	return close(fd);
}

/*
 * The backup, opened and locked (flock: a running client holds it until
 * it exits, however it exits). Returns the fd; -1 with errno, EWOULDBLOCK
 * when a running vpngw holds it (another namespace's client on the same
 * TUN name), ENOENT when there is none and create is false.
 */
static int lock_backup(const char *path, bool create)
{
	struct stat a, b;
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600), e;

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto fail;
	/* Removed by its owner between our open and our lock: not there. */
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		errno = ENOENT;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* ---- State ---- */

static struct {
	bool applied;
	int lock;                    /* the backup, flock'd while we run */
	char tun[32];
	char backup[PATH_LEN], ours_path[PATH_LEN];
	char *orig, *ours;           /* the original bytes, and what we wrote */
	size_t orig_len, ours_len;
	bool resolved;               /* the servers are resolved's, on ifindex */
	unsigned ifindex;
	int mark;                    /* the marker, flock'd while we run */
	char mark_path[PATH_LEN];
} st = { .lock = -1, .mark = -1 };

static void paths(const char *tun, char backup[static PATH_LEN], char ours[static PATH_LEN])
{
	snprintf(backup, PATH_LEN, RUN_DIR "/resolv.conf.%.20s", tun);
	snprintf(ours, PATH_LEN, RUN_DIR "/resolv.conf.%.20s.ours", tun);
}

static void forget(void)
{
	unlink(st.ours_path);
	unlink(st.backup);
	close(st.lock);
	st.lock = -1;
	free(st.orig);
	free(st.ours);
	st.orig = st.ours = NULL;
	st.applied = false;
}

/* True when resolv.conf is a link into systemd-resolved's folder. */
static bool resolved_link(void)
{
	char t[256];
	ssize_t n = readlink(RESOLV, t, sizeof t - 1);

	if (n < 0)
		return false;
	t[n] = 0;
	return strstr(t, RESOLVED_DIR) != NULL;
}

/* ---- systemd-resolved ---- */

static void mark_path(const char *tun, char path[static PATH_LEN])
{
	snprintf(path, PATH_LEN, RUN_DIR "/resolved.%.20s", tun);
}

/* True when an error says resolved is not there to answer (nobody owns
 * its name, or the bus could not start it). */
static bool absent(const char *err_name)
{
	static const char *const names[] = {
		"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
		"org.freedesktop.DBus.Error.Spawn.", "org.freedesktop.systemd1.",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strncmp(err_name, names[i], strlen(names[i])))
			return true;
	return false;
}

/* member(body) on resolved's manager. A link resolved has not seen yet
 * (it learns them from rtnetlink, as we make them) is asked again for up
 * to half a second. 0; 1 when resolved is absent; -1 (d->err). */
static int resolved_call(struct dbus *d, const char *member, const char *sig,
			 const struct dbus_w *body)
{
	for (int tries = 0;; tries++) {
		int r = dbus_call(d, RESOLVE1, RESOLVE1_OBJ, RESOLVE1_MGR, member, sig, body->p,
				  body->len);
		if (r == 1 && !strcmp(d->err_name, RESOLVE1 ".NoSuchLink") && tries < 10) {
			usleep(50 * 1000);
			continue;
		}
		return r == 1 ? (absent(d->err_name) ? 1 : -1) : r;
	}
}

/* SetLinkDNS(ifindex, [(family, address)]), IPv4 first. */
static void body_dns(struct dbus_w *w, unsigned ifindex, const uint32_t *dns4, unsigned n4,
		     const uint8_t (*dns6)[16], unsigned n6)
{
	struct dbus_arr a;

	dbus_put_u32(w, ifindex);
	a = dbus_array_begin(w, 8);
	for (unsigned i = 0; i < n4; i++) {
		uint32_t be = htonl(dns4[i]);
		dbus_align(w, 8);
		dbus_put_u32(w, AF_INET);
		dbus_put_bytes(w, &be, 4);
	}
	for (unsigned i = 0; i < n6; i++) {
		dbus_align(w, 8);
		dbus_put_u32(w, AF_INET6);
		dbus_put_bytes(w, dns6[i], 16);
	}
	dbus_array_end(w, a);
}

/* SetLinkDomains(ifindex, [(".", route only)]): "~.", every name. */
static void body_domains(struct dbus_w *w, unsigned ifindex)
{
	struct dbus_arr a;

	dbus_put_u32(w, ifindex);
	a = dbus_array_begin(w, 8);
	dbus_align(w, 8);
	dbus_put_str(w, ".");
	dbus_put_u32(w, 1);
	dbus_array_end(w, a);
}

/* RevertLink(ifindex): resolved forgets what we set. 0, or -1 after one
 * line (absent included: it may come back with the link's settings). */
static int resolved_revert(unsigned ifindex, const char *tun)
{
	struct dbus *d = malloc(sizeof *d);
	uint8_t b[8];
	struct dbus_w w;
	int r = -1;

	if (!d) {
		log_warnx("systemd-resolved: out of memory to revert %s", tun);
		return -1;
	}
	dbus_w_init(&w, b, sizeof b);
	dbus_put_u32(&w, ifindex);
	if (dbus_open(d) == 0)
		r = resolved_call(d, "RevertLink", "i", &w);
	if (r)
		log_warnx("systemd-resolved: reverting the DNS of %s: %s", tun, d->err);
	dbus_close(d);
	free(d);
	return r ? -1 : 0;
}

static void mark_drop(void)
{
	if (st.mark < 0)
		return;
	unlink(st.mark_path);
	close(st.mark);
	st.mark = -1;
}

/* The servers become resolved's for the TUN's link. 0 (done, or another
 * running vpngw on the TUN has it); 1 when resolved is not on the bus
 * (one line: resolv.conf is the caller's to write); -1 after one line. */
static int resolved_apply(const char *tun, const uint32_t *dns4, unsigned n4,
			  const uint8_t (*dns6)[16], unsigned n6)
{
	struct dbus *d = NULL;
	uint8_t b[512];
	struct dbus_w w;
	char list[2 * V1_DNS_MAX * (NAT_ADDR6_LEN + 2)] = "";
	size_t at = 0;
	int r = -1;

	if (!st.resolved) {
		st.ifindex = if_nametoindex(tun);
		if (!st.ifindex) {
			log_warn("systemd-resolved: %s", tun);
			return -1;
		}
		snprintf(st.tun, sizeof st.tun, "%s", tun);
		/* The marker first: a kill from here on leaves it. */
		mark_path(tun, st.mark_path);
		if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST) {
			log_warn("%s", RUN_DIR);
			return -1;
		}
		st.mark = lock_backup(st.mark_path, true);
		if (st.mark < 0 && errno == EWOULDBLOCK) {
			log_info("systemd-resolved: another running vpngw on %s holds its DNS; "
				 "left as it is", tun);
			return 0;
		}
		if (st.mark < 0) {
			log_warn("%s", st.mark_path);
			return -1;
		}
	}
	d = malloc(sizeof *d);
	if (!d) {
		log_warnx("systemd-resolved: out of memory");
		goto fail;
	}
	if (dbus_open(d) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			r = 1;
		goto fail;
	}
	dbus_w_init(&w, b, sizeof b);
	body_dns(&w, st.ifindex, dns4, n4, dns6, n6);
	r = w.bad ? -1 : resolved_call(d, "SetLinkDNS", "ia(iay)", &w);
	if (!r) {
		dbus_w_init(&w, b, sizeof b);
		body_domains(&w, st.ifindex);
		r = resolved_call(d, "SetLinkDomains", "ia(sb)", &w);
	}
	if (!r) {
		dbus_w_init(&w, b, sizeof b);
		dbus_put_u32(&w, st.ifindex);
		dbus_put_u32(&w, 1);
		r = resolved_call(d, "SetLinkDefaultRoute", "ib", &w);
	}
	if (r)
		goto fail;
	dbus_close(d);
	free(d);
	st.resolved = true;
	for (unsigned i = 0; i < n4 + n6 && at < sizeof list; i++) {
		char t[NAT_ADDR6_LEN];
		if (i < n4) {
			struct in_addr a = { .s_addr = htonl(dns4[i]) };
			inet_ntop(AF_INET, &a, t, sizeof t);
		} else {
			nat_addr6_format(t, dns6[i - n4]);
		}
		at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", t);
	}
	log_info("systemd-resolved: the gateway's DNS server%s %s on %s, for every domain (~.)",
		 n4 + n6 > 1 ? "s" : "", list, tun);
	return 0;
fail:
	if (r == 1)
		log_info("systemd-resolved is not on the system bus (%s); " RESOLV
			 " is written instead", d ? d->err : "");
	else if (d)
		log_warnx("systemd-resolved: %s", d->err);
	/* Half set (the servers, not the domains): nothing stays. */
	if (d && d->fd >= 0 && r == -1)
		(void)resolved_revert(st.ifindex, tun);
	if (d)
		dbus_close(d);
	free(d);
	if (!st.resolved)
		mark_drop();
	else if (r == 1)
		st.resolved = false, mark_drop();
	return r;
}

/* At start: a marker a killed client on tun left; its link is reverted if
 * it is still there (a persistent TUN). */
static void resolved_recover(const char *tun)
{
	char path[PATH_LEN];
	unsigned ifindex;
	int lock;

	mark_path(tun, path);
	lock = lock_backup(path, false);
	if (lock < 0) {
		if (errno == EWOULDBLOCK)
			log_debug("%s: a running vpngw's; left to it", path);
		return;
	}
	ifindex = if_nametoindex(tun);
	if (!ifindex || resolved_revert(ifindex, tun) == 0) {
		if (ifindex)
			log_info("systemd-resolved: the DNS of %s reverted, left by a vpngw that "
				 "did not exit", tun);
		unlink(path);
	}
	close(lock);
}

void dns_recover(const char *tun)
{
	char backup[PATH_LEN], ours_path[PATH_LEN];
	char *orig = malloc(DNS_RESOLV_MAX), *ours = malloc(DNS_RESOLV_MAX),
	     *cur = malloc(DNS_RESOLV_MAX);
	size_t orig_len, ours_len = 0, cur_len;
	bool have_ours;
	char head[80];
	int lock = -1, head_len = snprintf(head, sizeof head, HEADER, tun);

	resolved_recover(tun);
	paths(tun, backup, ours_path);
	if (!orig || !ours || !cur)
		goto out;
	lock = lock_backup(backup, false);
	if (lock < 0) {
		/* Not root: no backup of ours can be there, and the TUN's
		 * line says what is wrong. */
		if (errno == EWOULDBLOCK)
			log_debug("%s: a running vpngw's; left to it", backup);
		else if (errno != ENOENT && errno != EACCES && errno != EPERM)
			log_warn("%s: cannot open the backup of " RESOLV, backup);
		goto out;
	}
	if (read_file(backup, orig, DNS_RESOLV_MAX, &orig_len) < 0) {
		log_warn("%s: cannot read the backup of " RESOLV, backup);
		goto out;
	}
	have_ours = read_file(ours_path, ours, DNS_RESOLV_MAX, &ours_len) == 0;
	if (read_file(RESOLV, cur, DNS_RESOLV_MAX, &cur_len) < 0) {
		log_warn(RESOLV ": cannot read it to restore %s", backup);
		goto out;
	}
	/* Ours: what we wrote, or cut short by the kill (truncated, partly
	 * written), or the text before a new one (killed between writing
	 * .ours and resolv.conf): it starts with our line. */
	if (cur_len == orig_len && !memcmp(cur, orig, cur_len)) {
		log_debug(RESOLV ": %s is what it holds already", backup);
	} else if ((have_ours && cur_len <= ours_len && !memcmp(cur, ours, cur_len)) ||
		   (head_len > 0 && cur_len >= (size_t)head_len && !memcmp(cur, head, (size_t)head_len))) {
		if (write_resolv(orig, orig_len) < 0) {
			log_warn(RESOLV ": cannot restore it from %s (left there)", backup);
			goto out;
		}
		log_info(RESOLV ": restored from %s, left by a vpngw on %s that did not exit",
			 backup, tun);
	} else {
		log_info(RESOLV ": changed since a vpngw on %s that did not exit wrote it; "
			 "left as it is", tun);
	}
	unlink(ours_path);
	unlink(backup);
out:
	if (lock >= 0)
		close(lock);
	free(orig);
	free(ours);
	free(cur);
}

int dns_apply(const char *tun, const uint32_t *dns4, unsigned n4,
	      const uint8_t (*dns6)[16], unsigned n6)
{
	char *cur = malloc(DNS_RESOLV_MAX), *text = malloc(DNS_RESOLV_MAX);
	size_t cur_len, len;
	char list[3 * (NAT_ADDR6_LEN + 1)];
	int rc = -1;

	if (!cur || !text) {
		log_warnx(RESOLV ": out of memory");
		goto out;
	}
	if (read_file(RESOLV, cur, DNS_RESOLV_MAX, &cur_len) < 0) {
		int e = errno;
		cur_len = 0;
		if (!st.resolved && !resolved_link()) {
			if (e == EFBIG)
				log_warnx(RESOLV ": over %d KiB; the host's DNS is left as it is",
					  DNS_RESOLV_MAX / 1024);
			else
				log_warnx(RESOLV ": cannot read it: %s", strerror(e));
			goto out;
		}
	}
	if (!st.applied && (st.resolved || resolved_link() || dns_resolved_stub(cur, cur_len))) {
		rc = resolved_apply(tun, dns4, n4, dns6, n6);
		if (rc != 1)
			goto out;
		rc = -1;
		if (read_file(RESOLV, cur, DNS_RESOLV_MAX, &cur_len) < 0) {
			log_warn(RESOLV ": cannot read it");
			goto out;
		}
	}
	if (st.applied && (cur_len != st.ours_len || memcmp(cur, st.ours, cur_len))) {
		log_info(RESOLV ": changed by someone else since vpngw wrote it; left as it is");
		forget();
		rc = 0;
		goto out;
	}
	len = dns_resolv_text(text, DNS_RESOLV_MAX, st.applied ? st.orig : cur,
			      st.applied ? st.orig_len : cur_len, tun, dns4, n4, dns6, n6);
	if (!len) {
		log_warnx(RESOLV ": the new file would be over %d KiB; left as it is",
			  DNS_RESOLV_MAX / 1024);
		goto out;
	}
	if (!st.applied) {
		/* The original on disk first: a kill from here on leaves a
		 * backup that the next start puts back. */
		snprintf(st.tun, sizeof st.tun, "%s", tun);
		paths(tun, st.backup, st.ours_path);
		if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST) {
			log_warn("%s", RUN_DIR);
			goto out;
		}
		st.lock = lock_backup(st.backup, true);
		if (st.lock < 0 && errno == EWOULDBLOCK) {
			log_info(RESOLV ": another running vpngw on %s holds it; left as it is", tun);
			rc = 0;
			goto out;
		}
		if (st.lock < 0 || fill(st.lock, cur, cur_len) < 0) {
			log_warn("%s: cannot save " RESOLV " there", st.backup);
			if (st.lock >= 0) {
				unlink(st.backup);
				close(st.lock);
				st.lock = -1;
			}
			goto out;
		}
		st.orig = cur;
		st.orig_len = cur_len;
		cur = NULL;
		st.applied = true;
	}
	if (write_private(st.ours_path, text, len) < 0) {
		log_warn("%s", st.ours_path);
		goto undo;
	}
	if (write_resolv(text, len) < 0) {
		log_warn(RESOLV ": cannot write it");
		goto undo;
	}
	free(st.ours);
	st.ours = text;
	st.ours_len = len;
	text = NULL;
	log_info(RESOLV ": the gateway's DNS server%s %.*s, through %s", n4 + n6 > 1 ? "s" : "",
		 (int)names(st.ours, st.ours_len, list, sizeof list), list, tun);
	rc = 0;
	goto out;
undo:
	/* The file may be half written: the original goes back. */
	if (write_resolv(st.orig, st.orig_len) < 0)
		log_warn(RESOLV ": cannot restore it; the original is in %s", st.backup);
	else
		forget();
out:
	free(cur);
	free(text);
	return rc;
}

void dns_restore(void)
{
	char *cur;
	size_t cur_len;

	if (st.resolved) {
		if (resolved_revert(st.ifindex, st.tun) == 0) {
			log_debug("systemd-resolved: the DNS of %s reverted", st.tun);
			mark_drop();
		} else {
			close(st.mark); /* left: the next start on the TUN reverts it */
			st.mark = -1;
		}
		st.resolved = false;
	}
	if (!st.applied)
		return;
	cur = malloc(DNS_RESOLV_MAX);
	if (!cur || read_file(RESOLV, cur, DNS_RESOLV_MAX, &cur_len) < 0) {
		log_warn(RESOLV ": cannot read it; the original stays in %s", st.backup);
		free(cur);
		return;
	}
	if (cur_len != st.ours_len || memcmp(cur, st.ours, cur_len)) {
		log_info(RESOLV ": changed by someone else since vpngw wrote it; left as it is");
	} else if (write_resolv(st.orig, st.orig_len) < 0) {
		log_warn(RESOLV ": cannot restore it; the original stays in %s", st.backup);
		free(cur);
		return;
	} else {
		log_debug(RESOLV ": restored");
	}
	free(cur);
	forget();
}
