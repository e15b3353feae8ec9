/* SPDX-License-Identifier: MIT */
/*
 * tls.h: TLS 1.2 for both ends of the tunnel, over BearSSL's engine API.
 * Like that engine it never touches a socket: it hands out buffers and
 * takes acks, and the caller (link.c) moves bytes between them and its
 * non-blocking socket. tls.c is the only file that includes bearssl.h.
 * Built only with TLS=1; with TLS=0 every constructor fails and nothing
 * else is reachable.
 */
#ifndef VPNGW_TLS_H
#define VPNGW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * The engine's four buffer pairs (BearSSL, bearssl_ssl.h), for link.c,
 * which owns the socket. Each buffer call returns the buffer and its
 * length in *len, or NULL when the engine has none to offer now; the
 * matching *_ack tells how many of those bytes were used.
 *   rx:     room for bytes read from the socket
 *   tx:     records to write to the socket (handshake, alerts, data)
 *   app_rx: decrypted bytes for the caller
 *   app_tx: room for plaintext to send (none until the handshake is done)
 */
uint8_t *tls_rx_buf(struct tls_conn *c, size_t *len);
void tls_rx_ack(struct tls_conn *c, size_t n);
const uint8_t *tls_tx_buf(struct tls_conn *c, size_t *len);
void tls_tx_ack(struct tls_conn *c, size_t n);
const uint8_t *tls_app_rx(struct tls_conn *c, size_t *len);
void tls_app_rx_ack(struct tls_conn *c, size_t n);
uint8_t *tls_app_tx(struct tls_conn *c, size_t *len);
void tls_app_tx_ack(struct tls_conn *c, size_t n);

/* Ends the current record now instead of when it is full. */
void tls_app_flush(struct tls_conn *c);

/* Starts the close (a close_notify alert goes out through tx). */
void tls_close(struct tls_conn *c);

/* The engine is closed; tls_failed: by an error, not a close_notify. */
bool tls_closed(const struct tls_conn *c);
bool tls_failed(const struct tls_conn *c);

/* A server connection failed because the peer spoke plain HTTP. */
bool tls_plain_http(struct tls_conn *c);

/* The handshake is done: application data flows (and the engine is open). */
bool tls_established(const struct tls_conn *c);

/* Records why the connection failed outside the engine (a socket
 * error), unless a reason is already known. */
void tls_set_error(struct tls_conn *c, const char *why);

/* A short reason for the failure, for the log. */
const char *tls_error(struct tls_conn *c);

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
static inline uint8_t *tls_rx_buf(struct tls_conn *c, size_t *n) { (void)c; *n = 0; return NULL; }
static inline void tls_rx_ack(struct tls_conn *c, size_t n) { (void)c; (void)n; }
static inline const uint8_t *tls_tx_buf(struct tls_conn *c, size_t *n) { (void)c; *n = 0; return NULL; }
static inline void tls_tx_ack(struct tls_conn *c, size_t n) { (void)c; (void)n; }
static inline const uint8_t *tls_app_rx(struct tls_conn *c, size_t *n) { (void)c; *n = 0; return NULL; }
static inline void tls_app_rx_ack(struct tls_conn *c, size_t n) { (void)c; (void)n; }
static inline uint8_t *tls_app_tx(struct tls_conn *c, size_t *n) { (void)c; *n = 0; return NULL; }
static inline void tls_app_tx_ack(struct tls_conn *c, size_t n) { (void)c; (void)n; }
static inline void tls_app_flush(struct tls_conn *c) { (void)c; }
static inline void tls_close(struct tls_conn *c) { (void)c; }
static inline bool tls_closed(const struct tls_conn *c) { (void)c; return true; }
static inline bool tls_failed(const struct tls_conn *c) { (void)c; return true; }
static inline bool tls_plain_http(struct tls_conn *c) { (void)c; return false; }
static inline bool tls_established(const struct tls_conn *c) { (void)c; return false; }
static inline void tls_set_error(struct tls_conn *c, const char *w) { (void)c; (void)w; }
static inline const char *tls_error(struct tls_conn *c) { (void)c; return "no TLS"; }
static inline bool tls_cert_failed(const struct tls_conn *c) { (void)c; return false; }
#endif

#endif
