/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls.c: libFuzzer target for what tls.c reads from a hostile peer or
 * a hostile file. The first input byte picks what the rest is:
 *   0  the records a client sent, into a fresh server engine;
 *   1  the records a server sent, into a client engine that checks nothing;
 *   2  the same, into a client that checks the server key against a pin;
 *   3  the same, into a client that checks the chain against a CA bundle
 *      (the embedded certificate) and the name fuzz.test;
 *   4  the same, for the address 192.0.2.1 (the iPAddress check);
 *   5  a PEM file: every object decoded, then taken as a key and a chain.
 * The engines are driven through the four buffer pairs exactly as link.c
 * drives them, with no socket: each round drains the records the engine
 * wants to send, takes its plaintext, offers some of ours, and feeds the
 * next slice of input. The bytes also go to the DER walkers (cert_spki,
 * san_has_ip) as a certificate. A crash or sanitizer report is the failure;
 * the corpus holds a real client hello and a real server flight.
 */
#include "../../tls.c"
#include "../../base64.c"
#include "../../log.c"

#include <fcntl.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBnDCCAUGgAwIBAgIUEP1aKkY8W9esf627eAmLicDhNwEwCgYIKoZIzj0EAwIw\n"
	"FDESMBAGA1UEAwwJZnV6ei50ZXN0MCAXDTI2MTEyNTA4MjcwMloYDzIxMjYxMTAx\n"
	"MDgyNzAyWjAUMRIwEAYDVQQDDAlmdXp6LnRlc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAAQI5DjOo1e1IUQhEbK9Hi0+Ir650mnIL4K111Yu/OEOe9UWucrEc/04\n"
	"1xnaf53S9bFQE0iv0MJ8HR+EF8FzWJZ+o28wbTAdBgNVHQ4EFgQUyDOTRuTdszTf\n"
	"zHJIfgvvLAdWUbAwHwYDVR0jBBgwFoAUyDOTRuTdszTfzHJIfgvvLAdWUbAwDwYD\n"
	"VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglmdXp6LnRlc3SHBMAAAgEwCgYIKoZI\n"
	"zj0EAwIDSQAwRgIhANbbBWTEGcFLGrAvZ7XALu3Wsyy310p2bHKmqBK4sHY5AiEA\n"
	"809/rYvEJqQnGQGUXopiexDLDolsQ1k0jGFJAidmOoc=\n"
	"-----END CERTIFICATE-----\n";

/* A throwaway key made for this test only. */
static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgryDh+zv4tq6T4rGg\n"
	"sf5USlw7qFrGx76lPDB6YPc50DyhRANCAAQI5DjOo1e1IUQhEbK9Hi0+Ir650mnI\n"
	"L4K111Yu/OEOe9UWucrEc/041xnaf53S9bFQE0iv0MJ8HR+EF8FzWJZ+\n"
	"-----END PRIVATE KEY-----\n";

static struct tls_server *server;
static char ca_file[] = "/tmp/fuzz_tls_ca.XXXXXX";
static char pin[8 + BASE64_LEN(32) + 1];

static void put_file(char *path, const char *text)
{
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

/* The pin of the embedded certificate's key, as --pin takes it. */
static void make_pin(void)
{
	struct pem p;
	struct der spki, rest;
	br_sha256_context sc;
	uint8_t h[32];

	if (pem_parse(&p, (const uint8_t *)cert_pem, strlen(cert_pem)) ||
	    cert_spki(p.arena + p.obj[0].off, p.obj[0].len, &spki, &rest) < 0)
		abort();
	br_sha256_init(&sc);
	br_sha256_update(&sc, spki.p, spki.len);
	br_sha256_out(&sc, h);
	memcpy(pin, "sha256/", 7);
	base64_encode(pin + 7, h, sizeof h);
	pem_free(&p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cert[] = "/tmp/fuzz_tls_cert.XXXXXX", key[] = "/tmp/fuzz_tls_key.XXXXXX";

	(void)argc;
	(void)argv;
	log_verbosity = LOG_QUIET;
	put_file(cert, cert_pem);
	put_file(key, key_pem);
	put_file(ca_file, cert_pem);
	server = tls_server_new(cert, key);
	unlink(cert);
	unlink(key);
	if (!server)
		abort();
	make_pin();
	return 0;
}

/* The DER walkers get the raw bytes as a certificate. */
static void fuzz_der(const uint8_t *data, size_t size)
{
	static const uint8_t ip4[4] = { 192, 0, 2, 1 };
	struct der spki, rest;

	if (cert_spki(data, size, &spki, &rest) == 0) {
		if (spki.p < data || spki.p + spki.len > data + size)
			abort();
		(void)san_has_ip(rest, ip4, sizeof ip4);
	}
}

/* Runs an engine against the peer's bytes, as link.c would. */
static void pump(struct tls_conn *c, const uint8_t *data, size_t size)
{
	static const uint8_t msg[] = "GET / HTTP/1.1\r\n\r\n";
	size_t off = 0, n;

	for (int round = 0; round < 256 && !tls_closed(c); round++) {
		const uint8_t *p;
		uint8_t *w;

		while ((p = tls_tx_buf(c, &n)))
			tls_tx_ack(c, n);
		while ((p = tls_app_rx(c, &n)))
			tls_app_rx_ack(c, n);
		if ((w = tls_app_tx(c, &n))) {
			n = n < sizeof msg - 1 ? n : sizeof msg - 1;
			memcpy(w, msg, n);
			tls_app_tx_ack(c, n);
			tls_app_flush(c);
		}
		w = tls_rx_buf(c, &n);
		if (!w || off == size)
			break;
		/* Slices of varying size, so that records arrive split too. */
		size_t k = size - off < n ? size - off : n;
		k = k < 1 + (round * 397) % 1500 ? k : 1 + (round * 397) % 1500;
		memcpy(w, data + off, k);
		tls_rx_ack(c, k);
		off += k;
	}
	if (tls_closed(c))
		tls_close(c);
	(void)tls_failed(c);
	(void)tls_error(c);
	(void)tls_plain_http(c);
	(void)tls_cert_failed(c);
}

/* A PEM file: decoded, then taken as a key and as a chain. */
static void fuzz_pem(const uint8_t *data, size_t size)
{
	struct pem p;
	struct creds *k;

	if (pem_parse(&p, data, size))
		return;
	for (size_t i = 0; i < p.n; i++)
		if (p.obj[i].off > p.used || p.obj[i].len > p.used - p.obj[i].off)
			abort();
	k = calloc(1, sizeof *k);
	if (!k)
		abort();
	k->refs = 1;
	if (!key_take(k, &p) && !chain_take(k, &p))
		(void)key_matches_leaf(k);
	creds_put(k);
	pem_free(&p);
}

/* A client engine, its warnings (--insecure) kept off the fuzzer's log. */
static struct tls_conn *client(const char *host, const char *ca, const char *pin_, bool insecure)
{
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	struct tls_conn *c;

	if (saved < 0 || null < 0)
		abort();
	dup2(null, 2);
	c = tls_conn_client(host, ca, pin_, insecure);
	dup2(saved, 2);
	close(saved);
	close(null);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_conn *c = NULL;

	if (size < 1 || size > 65536)
		return 0;
	fuzz_der(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		c = tls_conn_new(server);
		break;
	case 1:
		c = client("fuzz.test", NULL, NULL, true);
		break;
	case 2:
		c = client("fuzz.test", NULL, pin, false);
		break;
	case 3:
		c = client("fuzz.test", ca_file, NULL, false);
		break;
	case 4:
		c = client("192.0.2.1", ca_file, NULL, false);
		break;
	case 5:
		fuzz_pem(data + 1, size - 1);
		return 0;
	}
	if (!c)
		abort();
	pump(c, data + 1, size - 1);
	tls_conn_free(c);
	return 0;
}
