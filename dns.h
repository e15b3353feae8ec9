/* SPDX-License-Identifier: MIT */
/*
 * dns.h: the client's DNS, the servers the gateway advertises applied to
 * the host and put back exactly on exit (dns.c says how).
 */
#ifndef VPNGW_DNS_H
#define VPNGW_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_WUR __attribute__((warn_unused_result))

#define DNS_RESOLV_MAX (64 * 1024) /* the largest resolv.conf we read */
#define DNS_NS_MAX     3           /* glibc's MAXNS: later nameserver lines are ignored */

/*
 * Pure: the new resolv.conf, from the old one (old, old_len bytes, any
 * content) and the servers (dns4 host order, n4 of them; dns6, n6). The
 * text is one comment line naming vpngw and tun, then at most DNS_NS_MAX
 * nameserver lines (IPv4 first), then the old file's search, domain,
 * options and sortlist lines in their order; everything else is dropped.
 * Writes into out (cap bytes, the caller's) without a NUL. Returns the
 * length, or 0 when it does not fit or no server is given.
 */
size_t dns_resolv_text(char *out, size_t cap, const char *old, size_t old_len,
		       const char *tun, const uint32_t *dns4, unsigned n4,
		       const uint8_t (*dns6)[16], unsigned n6);

/* Pure: true when the text (len bytes) names nameservers, each of them
 * systemd-resolved's stub (127.0.0.53, or 127.0.0.54): its resolv.conf. */
bool dns_resolved_stub(const char *text, size_t len);

/*
 * At start, before anything else: what a killed client on tun left is
 * undone: systemd-resolved's settings for the TUN's link, if it is still
 * there, are reverted; a backup is written back to /etc/resolv.conf (one
 * log line each), unless the file changed since that client wrote it
 * (one line, left as it is).
 * Then the backup is removed. Failures are one line; nothing to return.
 */
void dns_recover(const char *tun);

/*
 * Makes the servers the host's: systemd-resolved's for the TUN's link
 * where it runs, else /etc/resolv.conf rewritten in place after its bytes
 * are saved. Called again with other servers, sets them again (from the
 * same saved bytes). Returns 0, or -1 after one line, with the host's DNS
 * left as it was.
 */
DNS_WUR int dns_apply(const char *tun, const uint32_t *dns4, unsigned n4,
		      const uint8_t (*dns6)[16], unsigned n6);

/* Puts back what dns_apply changed, byte for byte; nothing when nothing
 * was applied. Each exit path calls it. */
void dns_restore(void);

#endif
