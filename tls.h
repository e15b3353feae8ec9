/* SPDX-License-Identifier: MIT */
/*
 * tls.h: TLS 1.2 for both ends of the tunnel, over BearSSL's engine API and
 * non-blocking sockets. The caller's loop owns the socket and its poll();
 * these functions move bytes between the socket, the engine and the
 * caller's plaintext buffers, never blocking. tls.c is the only file that
 * includes bearssl.h. Built only with TLS=1; with TLS=0 every constructor
 * fails and nothing else is reachable.
 */
#ifndef VPNGW_TLS_H
#define VPNGW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef VPNGW_TLS
#define VPNGW_TLS 0
#endif

struct tls_server;   /* certificate chain, key, and shared settings */
struct tls_conn;     /* one connection's engine and buffers */

#if VPNGW_TLS
/*
 * Loads a PEM chain and an RSA or EC key (PKCS#1, SEC1, PKCS#8). On error
 * logs one line naming the file and the problem and returns NULL.
 */
struct tls_server *tls_server_new(const char *cert_file, const char *key_file);
/* Reloads the files named at creation (SIGHUP). New handshakes use the new
 * ones; on error the old ones stay and -1 is returned after one log line. */
int tls_server_reload(struct tls_server *s);
void tls_server_free(struct tls_server *s);
/* A one-line description for the start-up log (suites, AES/GHASH code). */
const char *tls_server_describe(const struct tls_server *s);

/* A server-side connection; NULL when out of memory. */
struct tls_conn *tls_conn_new(struct tls_server *s);

/*
 * A client-side connection to host (SNI and name check). Verification: the
 * SPKI pin (sha256/BASE64) if pin is set, else the CA bundle ca_file, else
 * nothing if insecure. NULL after one log line on error (bad bundle, ...).
 */
struct tls_conn *tls_conn_client(const char *host, const char *ca_file,
				 const char *pin, bool insecure);
void tls_conn_free(struct tls_conn *c);

/*
 * Reads plaintext into buf (capacity cap): pumps socket bytes into the
 * engine as needed. Returns the number of bytes, 0 on a clean close, -1 on
 * failure (logged once at debug level; tls_error tells why), -2 when no
 * plaintext can be had without blocking.
 */
ssize_t tls_read(struct tls_conn *c, int fd, uint8_t *buf, size_t cap);

/*
 * Takes plaintext from iov[0..n) into the engine as one or more records and
 * tries to send them. Returns the bytes taken (0 when the engine's buffer
 * is full), or -1 on failure.
 */
ssize_t tls_writev(struct tls_conn *c, int fd, const struct iovec *iov, int n);

/* Sends records the engine holds (handshake or data). 0, or -1 on failure. */
int tls_flush(struct tls_conn *c, int fd);

/* true when the engine has records to send (poll for POLLOUT). */
bool tls_want_write(const struct tls_conn *c);

/* true when plaintext is buffered (poll must not sleep). */
bool tls_has_plaintext(const struct tls_conn *c);

/* A short reason for the last failure, for the log. */
const char *tls_error(const struct tls_conn *c);

/* true when a client's handshake failed on the server's certificate
 * (untrusted, expired, wrong name, pin mismatch): retrying cannot help. */
bool tls_cert_failed(const struct tls_conn *c);

#else
static inline struct tls_server *tls_server_new(const char *c, const char *k)
{ (void)c; (void)k; return NULL; }
static inline int tls_server_reload(struct tls_server *s) { (void)s; return -1; }
static inline void tls_server_free(struct tls_server *s) { (void)s; }
static inline const char *tls_server_describe(const struct tls_server *s) { (void)s; return ""; }
static inline struct tls_conn *tls_conn_new(struct tls_server *s) { (void)s; return NULL; }
static inline struct tls_conn *tls_conn_client(const char *h, const char *ca,
					       const char *pin, bool insecure)
{ (void)h; (void)ca; (void)pin; (void)insecure; return NULL; }
static inline void tls_conn_free(struct tls_conn *c) { (void)c; }
static inline ssize_t tls_read(struct tls_conn *c, int fd, uint8_t *b, size_t n)
{ (void)c; (void)fd; (void)b; (void)n; return -1; }
static inline ssize_t tls_writev(struct tls_conn *c, int fd, const struct iovec *v, int n)
{ (void)c; (void)fd; (void)v; (void)n; return -1; }
static inline int tls_flush(struct tls_conn *c, int fd) { (void)c; (void)fd; return -1; }
static inline bool tls_want_write(const struct tls_conn *c) { (void)c; return false; }
static inline bool tls_has_plaintext(const struct tls_conn *c) { (void)c; return false; }
static inline const char *tls_error(const struct tls_conn *c) { (void)c; return "no TLS"; }
static inline bool tls_cert_failed(const struct tls_conn *c) { (void)c; return false; }
#endif

#endif
