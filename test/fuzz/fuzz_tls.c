/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls.c: libFuzzer target for tls.c's server path and its hand-written
 * DER walkers. Each input is fed, as the bytes a client sent, through a
 * socketpair into a fresh server connection (an ECDSA P-256 test key and
 * self-signed certificate embedded below, written to temporary files once):
 * tls_read until it blocks, fails or closes, tls_writev and tls_flush on the
 * way, so handshake parsing, record decoding, alerts and the error paths
 * all run. The same bytes also go to cert_spki and san_has_ip as a
 * certificate. It owns nothing else; a crash or sanitizer report is the
 * failure.
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

static void put_file(char *path, const char *text)
{
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cert[] = "/tmp/fuzz_tls_cert.XXXXXX", key[] = "/tmp/fuzz_tls_key.XXXXXX";

	(void)argc;
	(void)argv;
	log_verbosity = LOG_QUIET;
	put_file(cert, cert_pem);
	put_file(key, key_pem);
	server = tls_server_new(cert, key);
	unlink(cert);
	unlink(key);
	if (!server)
		abort();
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

static void drain(int fd)
{
	uint8_t junk[4096];

	while (read(fd, junk, sizeof junk) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	uint8_t buf[4096];
	static const uint8_t msg[] = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
	struct iovec iov[2] = { { (void *)msg, sizeof msg - 1 }, { (void *)msg, 10 } };
	struct tls_conn *c;
	size_t off = 0;

	fuzz_der(data, size);
	if (size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	c = tls_conn_new(server);
	if (!c)
		abort();
	/* Feed in slices so the engine also sees partial records. */
	for (int round = 0; round < 64; round++) {
		if (off < size) {
			ssize_t w = write(sv[1], data + off, size - off < 1500 ? size - off : 1500);
			if (w > 0)
				off += (size_t)w;
		} else {
			shutdown(sv[1], SHUT_WR);
		}
		ssize_t r = tls_read(c, sv[0], buf, sizeof buf);
		drain(sv[1]);
		if (r == -1 || (r == 0 && off == size))
			break;
		if (tls_writev(c, sv[0], iov, 2) < 0 || tls_flush(c, sv[0]) < 0)
			break;
		(void)tls_want_write(c);
		(void)tls_has_plaintext(c);
	}
	(void)tls_error(c);
	tls_conn_free(c);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
