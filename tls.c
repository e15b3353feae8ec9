/* SPDX-License-Identifier: MIT */
/*
 * tls.c: TLS 1.2 for both ends of the tunnel, over BearSSL's engine API.
 * It owns the certificate chain and key (loaded from PEM, reloaded on
 * SIGHUP, reference-counted so that connections keep the set they started
 * with), each connection's engine and record buffers, certificate checks on
 * the client side (CA bundle, SPKI pin or none) and the choice of the
 * fastest constant-time AES/GHASH/ChaCha20/Poly1305 code for this CPU.
 * It never touches a socket: like BearSSL's engine, whose four buffer
 * pairs it passes on, it hands out buffers and takes acks, and link.c moves
 * the bytes between them and the socket. It is the only file that includes
 * bearssl.h.
 *
 * Only ECDHE with AES-GCM or ChaCha20-Poly1305 is offered, TLS 1.2 only,
 * server preference order, no renegotiation, no session cache.
 *
 * Memory per connection: struct tls_conn, 4.3 KiB of engine state (calloc),
 * and the record buffers in one anonymous mapping of their own: a full
 * 16709-byte input buffer (a peer may send 16 KiB records) and a 16469-byte
 * output buffer (records of up to 16 KiB). A page of a mapping costs memory
 * only once it is written, and the engine writes each record from the
 * start of its buffer: an idle connection holds the pages of the largest
 * record it saw (its handshake's), not all 32 KiB. A client connection
 * also has a 20 KiB verifier.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "base64.h"
#include "log.h"
#include "tls.h"

#define TLS_IN_LEN	BR_SSL_BUFSIZE_INPUT
#define TLS_OUT_DATA	16384	/* largest record we send: the most TLS allows */
#define TLS_OUT_LEN	(TLS_OUT_DATA + BR_SSL_BUFSIZE_OUTPUT - 16384)
#define FILE_MAX	(4u << 20)	/* a CA bundle is ~200 KiB */
#define LEAF_MAX	16384
#define CA_DEFAULT	"/etc/ssl/certs/ca-certificates.crt"
#define N_SUITES	3
#define RSA_MAX_BITS	4096	/* BearSSL's limit */

/* ==== Algorithms: the fastest implementation this CPU runs ==== */

struct impls {
	const br_block_ctr_class *aes;
	br_ghash ghash;
	br_chacha20_run chacha;
	br_poly1305_run poly;
	bool fast_aes;          /* AES-NI and PCLMUL: prefer AES-GCM */
	char name[96];
};

static const struct impls *impls(void)
{
	static struct impls im;

	if (im.aes)
		return &im;
	const br_block_ctr_class *aes = br_aes_x86ni_ctr_get_vtable();
	br_ghash gh = br_ghash_pclmul_get();
	br_chacha20_run cc = br_chacha20_sse2_get();
	br_poly1305_run po = br_poly1305_ctmulq_get();

	im.fast_aes = aes && gh;
	im.ghash = gh ? gh : br_ghash_ctmul64;
	im.chacha = cc ? cc : br_chacha20_ct_run;
	im.poly = po ? po : br_poly1305_ctmul_run;
	snprintf(im.name, sizeof im.name, "AES %s, GHASH %s, ChaCha20 %s, Poly1305 %s",
		 aes ? "x86ni" : "ct64", gh ? "pclmul" : "ctmul64",
		 cc ? "sse2" : "ct", po ? "ctmulq" : "ctmul");
	im.aes = aes ? aes : &br_aes_ct64_ctr_vtable;
	return &im;
}

/*
 * The curves: X25519 (the group most clients choose) with BearSSL's fast
 * m31 code; P-256, P-384 and P-521 with its generic i31 code. BearSSL's
 * default (br_ec_all_m31) adds 9 KiB of code for P-256 alone, which makes
 * its point multiplications (ECDHE, ECDSA) 2.4 times cheaper: a cost paid
 * once per handshake, never per record.
 */
static const br_ec_impl *ec_for(int curve)
{
	return curve == BR_EC_curve25519 ? &br_ec_c25519_m31 : &br_ec_prime_i31;
}

static const unsigned char *ec_generator(int curve, size_t *len)
{
	return ec_for(curve)->generator(curve, len);
}

static const unsigned char *ec_order(int curve, size_t *len)
{
	return ec_for(curve)->order(curve, len);
}

static size_t ec_xoff(int curve, size_t *len)
{
	return ec_for(curve)->xoff(curve, len);
}

static uint32_t ec_mul(unsigned char *g, size_t g_len, const unsigned char *x, size_t x_len,
		       int curve)
{
	return ec_for(curve)->mul(g, g_len, x, x_len, curve);
}

static size_t ec_mulgen(unsigned char *r, const unsigned char *x, size_t x_len, int curve)
{
	return ec_for(curve)->mulgen(r, x, x_len, curve);
}

static uint32_t ec_muladd(unsigned char *a, const unsigned char *b, size_t len,
			  const unsigned char *x, size_t x_len, const unsigned char *y,
			  size_t y_len, int curve)
{
	return ec_for(curve)->muladd(a, b, len, x, x_len, y, y_len, curve);
}

static const br_ec_impl ec_impl = {
	.supported_curves = 1u << BR_EC_secp256r1 | 1u << BR_EC_secp384r1 |
			    1u << BR_EC_secp521r1 | 1u << BR_EC_curve25519,
	.generator = ec_generator,
	.order = ec_order,
	.xoff = ec_xoff,
	.mul = ec_mul,
	.mulgen = ec_mulgen,
	.muladd = ec_muladd,
};

/* The three ciphers in our order of preference, for the key type (RSA or
 * EC), or for both when key_type is 0 (a client). Returns the count. */
static size_t suites_for(uint16_t *out, int key_type)
{
	static const uint16_t ec[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	};
	static const uint16_t rsa[] = {
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	/* Without AES-NI, ChaCha20 is both faster and safer from timing. */
	static const int fast[] = { 0, 1, 2 }, slow[] = { 1, 0, 2 };
	const int *order = impls()->fast_aes ? fast : slow;
	size_t n = 0;

	for (int i = 0; i < N_SUITES; i++) {
		if (key_type != BR_KEYTYPE_RSA)
			out[n++] = ec[order[i]];
		if (key_type != BR_KEYTYPE_EC)
			out[n++] = rsa[order[i]];
	}
	return n;
}

/* What both ends share: TLS 1.2, the suites, hashes, PRFs, AEADs, curves. */
static void engine_setup(br_ssl_engine_context *eng, const uint16_t *suites, size_t n)
{
	const struct impls *im = impls();

	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, n);
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable, &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_aes_ctr(eng, im->aes);
	br_ssl_engine_set_ghash(eng, im->ghash);
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable, &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, im->chacha);
	br_ssl_engine_set_poly1305(eng, im->poly);
	br_ssl_engine_set_ec(eng, &ec_impl);
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
}

/*
 * Seeds the engine's DRBG from getrandom() and tells BearSSL not to open
 * /dev/urandom itself on every connection (which fails in a chroot or under
 * seccomp). When getrandom() fails, BearSSL's own seeder still runs.
 */
static void seed(br_ssl_engine_context *eng)
{
	uint8_t r[32];

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return;
	br_ssl_engine_inject_entropy(eng, r, sizeof r);
	eng->rng_os_rand_done = 1;
	explicit_bzero(r, sizeof r);
}

/* ==== Files: PEM objects ==== */

struct pem_obj {
	char name[128];         /* br_pem_decoder_name() is at most 127 */
	size_t off, len;
};

/* Every object of a PEM file, decoded into one arena no larger than the
 * text (DER is always shorter), so a key is never copied by realloc. */
struct pem {
	uint8_t *arena;
	size_t used, cap;
	struct pem_obj *obj;
	size_t n;
};

static void pem_free(struct pem *p)
{
	if (p->arena)
		explicit_bzero(p->arena, p->cap);
	free(p->arena);
	free(p->obj);
	*p = (struct pem){ 0 };
}

static void pem_append(void *ctx, const void *src, size_t len)
{
	struct pem *p = ctx;

	if (len > p->cap - p->used)
		len = p->cap - p->used; /* cannot happen: DER < text */
	memcpy(p->arena + p->used, src, len);
	p->used += len;
}

static const char *pem_begin(struct pem *p, const char *name)
{
	struct pem_obj *o = realloc(p->obj, (p->n + 1) * sizeof *o);

	if (!o)
		return "out of memory";
	p->obj = o;
	o += p->n;
	snprintf(o->name, sizeof o->name, "%s", name);
	o->off = p->used;
	o->len = 0;
	return NULL;
}

/* Decodes every PEM object of text. NULL, or what is wrong. */
static const char *pem_parse(struct pem *p, const uint8_t *text, size_t len)
{
	br_pem_decoder_context dc;
	bool inobj = false;
	const char *why = NULL;

	*p = (struct pem){ .cap = len + 1 };
	p->arena = malloc(p->cap);
	if (!p->arena)
		return "out of memory";
	br_pem_decoder_init(&dc);
	/* One extra newline: a last line without one is common. */
	for (size_t off = 0, extra = 1; off < len || extra--;) {
		const uint8_t *chunk = off < len ? text + off : (const uint8_t *)"\n";
		size_t n = off < len ? len - off : 1;
		size_t k = br_pem_decoder_push(&dc, chunk, n);
		if (off < len)
			off += k;
		switch (br_pem_decoder_event(&dc)) {
		case BR_PEM_BEGIN_OBJ:
			if ((why = pem_begin(p, br_pem_decoder_name(&dc))))
				goto out;
			br_pem_decoder_setdest(&dc, pem_append, p);
			inobj = true;
			break;
		case BR_PEM_END_OBJ:
			if (inobj) {
				p->obj[p->n].len = p->used - p->obj[p->n].off;
				p->n++;
			}
			inobj = false;
			break;
		case BR_PEM_ERROR:
			why = "malformed PEM";
			goto out;
		}
	}
	if (inobj)
		why = "truncated PEM object";
	else if (p->n == 0)
		why = "no PEM object (\"-----BEGIN ...\")";
out:
	explicit_bzero(&dc, sizeof dc);
	if (why)
		pem_free(p);
	return why;
}

/* Reads a whole file (FILE_MAX at most) and decodes its PEM objects. */
static const char *pem_load(struct pem *p, const char *path, char *err, size_t err_len)
{
	uint8_t *text = NULL;
	size_t len = 0;
	struct stat st;
	const char *why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		why = err;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
		snprintf(err, err_len, "%s: not a regular file under %u MiB", path, FILE_MAX >> 20);
		why = err;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		why = "out of memory";
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, text + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if ((why = pem_parse(p, text, len))) {
		snprintf(err, err_len, "%s: %s", path, why);
		why = err;
	}
out:
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	if (fd >= 0)
		close(fd);
	return why;
}

static bool is_cert(const struct pem_obj *o)
{
	return !strcmp(o->name, "CERTIFICATE") || !strcmp(o->name, "X509 CERTIFICATE");
}

/* ==== The server's credentials: chain and key, reference-counted ==== */

struct creds {
	atomic_uint refs;               /* connections move between workers */
	int key_type;                   /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_x509_certificate *chain;     /* points into chain_mem */
	size_t chain_len;
	uint8_t *chain_mem;
	union {
		br_rsa_private_key rsa;
		br_ec_private_key ec;
	} sk;                           /* points into key_mem */
	uint8_t *key_mem;
	size_t key_len;
	uint16_t suites[N_SUITES];
	size_t n_suites;
	char what[32];                  /* "RSA 2048" or "EC P-256" */
};

static void creds_put(struct creds *k)
{
	if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	if (k->key_mem)
		explicit_bzero(k->key_mem, k->key_len);
	free(k->key_mem);
	free(k->chain_mem);
	free(k->chain);
	explicit_bzero(k, sizeof *k);
	free(k);
}

static const char *curve_name(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1: return "P-256";
	case BR_EC_secp384r1: return "P-384";
	case BR_EC_secp521r1: return "P-521";
	}
	return "?";
}

/* Copies the chain's certificates out of the PEM arena. */
static const char *chain_take(struct creds *k, const struct pem *p)
{
	size_t total = 0, n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (is_cert(&p->obj[i])) {
			total += p->obj[i].len;
			n++;
		}
	if (n == 0)
		return "no \"CERTIFICATE\" in it";
	k->chain = calloc(n, sizeof *k->chain);
	k->chain_mem = malloc(total);
	if (!k->chain || !k->chain_mem)
		return "out of memory";
	total = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (!is_cert(&p->obj[i]))
			continue;
		memcpy(k->chain_mem + total, p->arena + p->obj[i].off, p->obj[i].len);
		k->chain[k->chain_len].data = k->chain_mem + total;
		k->chain[k->chain_len++].data_len = p->obj[i].len;
		total += p->obj[i].len;
	}
	return NULL;
}

static void rsa_copy(struct creds *k, const br_rsa_private_key *r)
{
	uint8_t *m = k->key_mem;

	k->sk.rsa.n_bitlen = r->n_bitlen;
#define TAKE(f) do { memcpy(m, r->f, r->f##len); k->sk.rsa.f = m; \
		     k->sk.rsa.f##len = r->f##len; m += r->f##len; } while (0)
	TAKE(p);
	TAKE(q);
	TAKE(dp);
	TAKE(dq);
	TAKE(iq);
#undef TAKE
}

/* Decodes the first private key object (PKCS#1, SEC1 or PKCS#8). */
static const char *key_take(struct creds *k, const struct pem *p)
{
	br_skey_decoder_context dc;
	const char *why = NULL;
	const struct pem_obj *o = NULL;

	for (size_t i = 0; i < p->n && !o; i++)
		if (strstr(p->obj[i].name, "PRIVATE KEY"))
			o = &p->obj[i];
	if (!o)
		return "no private key (\"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")";
	if (strstr(o->name, "ENCRYPTED"))
		return "encrypted keys are not supported";
	if (strcmp(o->name, "PRIVATE KEY") && strcmp(o->name, "RSA PRIVATE KEY") &&
	    strcmp(o->name, "EC PRIVATE KEY"))
		return "unsupported key type (need RSA or ECDSA P-256/P-384/P-521)";
	br_skey_decoder_init(&dc);
	br_skey_decoder_push(&dc, p->arena + o->off, o->len);
	k->key_type = br_skey_decoder_key_type(&dc);
	if (br_skey_decoder_last_error(&dc) || !k->key_type) {
		why = "unsupported key type or invalid key (need RSA or ECDSA P-256/P-384/P-521)";
		goto out;
	}
	if (k->key_type == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *r = br_skey_decoder_get_rsa(&dc);
		if (r->n_bitlen > RSA_MAX_BITS) {
			why = "RSA keys over 4096 bits are not supported";
			goto out;
		}
		k->key_len = r->plen + r->qlen + r->dplen + r->dqlen + r->iqlen;
		if (!(k->key_mem = malloc(k->key_len))) {
			why = "out of memory";
			goto out;
		}
		rsa_copy(k, r);
		snprintf(k->what, sizeof k->what, "RSA %u", r->n_bitlen);
	} else {
		const br_ec_private_key *e = br_skey_decoder_get_ec(&dc);
		const br_ec_impl *ec = &ec_impl;
		if (e->curve == BR_EC_curve25519 || !((ec->supported_curves >> e->curve) & 1)) {
			why = "unsupported EC curve (need P-256, P-384 or P-521)";
			goto out;
		}
		k->key_len = e->xlen;
		if (!(k->key_mem = malloc(k->key_len))) {
			why = "out of memory";
			goto out;
		}
		memcpy(k->key_mem, e->x, e->xlen);
		k->sk.ec = (br_ec_private_key){ e->curve, k->key_mem, e->xlen };
		snprintf(k->what, sizeof k->what, "EC %s", curve_name(e->curve));
	}
out:
	explicit_bzero(&dc, sizeof dc);
	return why;
}

/* Big-endian integers equal once leading zeros are dropped. */
static bool int_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	while (alen && !*a) {
		a++;
		alen--;
	}
	while (blen && !*b) {
		b++;
		blen--;
	}
	return alen == blen && !memcmp(a, b, alen);
}

/* Same modulus. (The exponent cannot be checked: BearSSL recomputes it only
 * for primes of the form 4k+3.) */
static bool rsa_matches(const br_rsa_private_key *sk, const br_rsa_public_key *pk)
{
	br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
	uint8_t n[RSA_MAX_BITS / 8];
	size_t len = modulus(NULL, sk);

	if (!len || len > sizeof n || modulus(n, sk) != len)
		return false;
	return int_eq(n, len, pk->n, pk->nlen);
}

static bool ec_matches(const br_ec_private_key *sk, const br_ec_public_key *pk)
{
	uint8_t q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key mine;

	if (sk->curve != pk->curve)
		return false;
	if (!br_ec_compute_pub(&ec_impl, &mine, q, sk))
		return false;
	return mine.qlen == pk->qlen && !memcmp(mine.q, pk->q, pk->qlen);
}

/* The first certificate must carry the public half of the key. */
static const char *key_matches_leaf(const struct creds *k)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	bool ok;

	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, k->chain[0].data, k->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk)
		return "the first certificate cannot be parsed";
	if (pk->key_type != k->key_type)
		return "the key does not match the first certificate (key types differ)";
	if (k->key_type == BR_KEYTYPE_RSA)
		ok = rsa_matches(&k->sk.rsa, &pk->key.rsa);
	else
		ok = ec_matches(&k->sk.ec, &pk->key.ec);
	return ok ? NULL : "the key does not match the first certificate";
}

/* Loads both files. NULL with err filled ("FILE: problem") on failure. */
static struct creds *creds_load(const char *cert_file, const char *key_file,
				char *err, size_t err_len)
{
	struct pem cp = { 0 }, kp = { 0 };
	struct creds *k = calloc(1, sizeof *k);
	const char *why;

	if (!k) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	k->refs = 1;
	if (pem_load(&cp, cert_file, err, err_len))
		goto fail;
	if ((why = chain_take(k, &cp))) {
		snprintf(err, err_len, "%s: %s", cert_file, why);
		goto fail;
	}
	if (pem_load(&kp, key_file, err, err_len))
		goto fail;
	if ((why = key_take(k, &kp))) {
		snprintf(err, err_len, "%s: %s", key_file, why);
		goto fail;
	}
	if ((why = key_matches_leaf(k))) {
		snprintf(err, err_len, "%s: %s in %s", key_file, why, cert_file);
		goto fail;
	}
	k->n_suites = suites_for(k->suites, k->key_type);
	pem_free(&cp);
	pem_free(&kp);
	return k;
fail:
	pem_free(&cp);
	pem_free(&kp);
	creds_put(k);
	return NULL;
}

/* ==== The server ==== */

struct tls_server {
	char *cert_file, *key_file;
	struct creds *cur;      /* what new handshakes use */
	char desc[256];
};

static void describe(struct tls_server *s)
{
	const struct creds *k = s->cur;
	bool ec = k->key_type == BR_KEYTYPE_EC;

	snprintf(s->desc, sizeof s->desc,
		 "TLS 1.2, %s key, %zu certificate%s, ECDHE-%s with %s; %s",
		 k->what, k->chain_len, k->chain_len == 1 ? "" : "s", ec ? "ECDSA" : "RSA",
		 impls()->fast_aes ? "AES-128-GCM, CHACHA20-POLY1305, AES-256-GCM"
				   : "CHACHA20-POLY1305, AES-128-GCM, AES-256-GCM",
		 impls()->name);
}

struct tls_server *tls_server_new(const char *cert_file, const char *key_file)
{
	char err[512];
	struct tls_server *s = calloc(1, sizeof *s);

	if (!s || !(s->cert_file = strdup(cert_file)) || !(s->key_file = strdup(key_file))) {
		log_warnx("TLS: out of memory");
		goto fail;
	}
	if (!(s->cur = creds_load(cert_file, key_file, err, sizeof err))) {
		log_warnx("TLS: %s", err);
		goto fail;
	}
	describe(s);
	return s;
fail:
	tls_server_free(s);
	return NULL;
}

int tls_server_reload(struct tls_server *s)
{
	char err[512];
	struct creds *k = creds_load(s->cert_file, s->key_file, err, sizeof err);

	if (!k) {
		log_warnx("TLS reload failed, keeping the current certificate: %s", err);
		return -1;
	}
	creds_put(s->cur);      /* connections still using it hold a reference */
	s->cur = k;
	describe(s);
	log_info("TLS: reloaded %s and %s (%s key)", s->cert_file, s->key_file, k->what);
	return 0;
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	creds_put(s->cur);
	free(s->cert_file);
	free(s->key_file);
	free(s);
}

const char *tls_server_describe(const struct tls_server *s)
{
	return s->desc;
}

/* ==== Client certificate checks ==== */

/* A DER cursor over (p, len). */
struct der {
	const uint8_t *p;
	size_t len;
};

/*
 * Takes the next element off d (X.690 §8.1): its tag, its contents in val,
 * and the whole element in all (may be NULL). -1 when malformed: multi-byte
 * tags, indefinite or over-long lengths, contents past the end.
 */
static int der_take(struct der *d, uint8_t *tag, struct der *val, struct der *all)
{
	size_t hl = 2, len;

	if (d->len < 2 || (d->p[0] & 0x1f) == 0x1f)
		return -1;
	*tag = d->p[0];
	len = d->p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 3 || k > d->len - 2)
			return -1;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | d->p[2 + i];
		hl += k;
	}
	if (len > d->len - hl)
		return -1;
	*val = (struct der){ d->p + hl, len };
	if (all)
		*all = (struct der){ d->p, hl + len };
	d->p += hl + len;
	d->len -= hl + len;
	return 0;
}

/*
 * Finds subjectPublicKeyInfo in a certificate (RFC 5280 §4.1): the element
 * after version, serialNumber, signature, issuer, validity and subject.
 * Leaves rest on what follows it in TBSCertificate (the extensions).
 */
static int cert_spki(const uint8_t *cert, size_t len, struct der *spki, struct der *rest)
{
	struct der d = { cert, len }, v, tbs;
	uint8_t t;

	if (der_take(&d, &t, &v, NULL) < 0 || t != 0x30)
		return -1;
	if (der_take(&v, &t, &tbs, NULL) < 0 || t != 0x30)
		return -1;
	if (tbs.len && tbs.p[0] == 0xa0 && der_take(&tbs, &t, &v, NULL) < 0)
		return -1;
	for (int i = 0; i < 5; i++)
		if (der_take(&tbs, &t, &v, NULL) < 0)
			return -1;
	if (der_take(&tbs, &t, &v, spki) < 0 || t != 0x30)
		return -1;
	*rest = tbs;
	return 0;
}

/* Does a subjectAltName extension (RFC 5280 §4.2.1.6) list this iPAddress? */
static bool san_has_ip(struct der tbs, const uint8_t *ip, size_t ip_len)
{
	struct der v, exts, ext, x, names, n;
	uint8_t t;

	while (tbs.len) {
		if (der_take(&tbs, &t, &v, NULL) < 0)
			return false;
		if (t != 0xa3 || der_take(&v, &t, &exts, NULL) < 0 || t != 0x30)
			continue;
		while (exts.len) {
			if (der_take(&exts, &t, &ext, NULL) < 0 || t != 0x30 ||
			    der_take(&ext, &t, &x, NULL) < 0 || t != 0x06)
				return false;
			if (x.len != 3 || memcmp(x.p, "\x55\x1d\x11", 3))
				continue;
			if (ext.len && ext.p[0] == 0x01 && der_take(&ext, &t, &x, NULL) < 0)
				return false;
			if (der_take(&ext, &t, &x, NULL) < 0 || t != 0x04 ||
			    der_take(&x, &t, &names, NULL) < 0 || t != 0x30)
				return false;
			while (names.len) {
				if (der_take(&names, &t, &n, NULL) < 0)
					return false;
				if (t == 0x87 && n.len == ip_len && !memcmp(n.p, ip, ip_len))
					return true;
			}
		}
	}
	return false;
}

enum vmode { V_CA, V_PIN, V_INSECURE };

/*
 * The client's certificate check, a br_x509_class. With a CA bundle it is
 * br_x509_minimal (chain, expiry and host name), plus an iPAddress check
 * when the host is an address, which BearSSL does not do. With a pin it
 * trusts exactly the leaf whose SPKI hashes to the pin (the key, not the
 * certificate: no name or date check, as for a self-signed gateway).
 * Insecure trusts any leaf. The leaf is kept whole for these checks.
 */
struct verifier {
	const br_x509_class *vtable;
	enum vmode mode;
	br_x509_minimal_context mini;
	br_x509_trust_anchor *tas;
	size_t n_tas;
	uint8_t pin[32];
	uint8_t ip[16];
	size_t ip_len;                  /* host is an address: 4 or 16 */
	bool pin_mismatch, no_ip;
	char seen_pin[8 + BASE64_LEN(32) + 1];
	uint32_t n_cert;
	size_t leaf_len;
	bool leaf_big;
	br_x509_decoder_context dec;
	const br_x509_pkey *pkey;
	uint8_t leaf[LEAF_MAX];
};

static struct verifier *vctx(const br_x509_class *const *ctx)
{
	return (struct verifier *)(void *)(uintptr_t)ctx;
}

/* Days since 1 January of year 0 and seconds of the day, as
 * br_x509_minimal_set_time wants them: 719528 days to 1970. */
static void set_now(br_x509_minimal_context *m)
{
	time_t t = time(NULL);

	br_x509_minimal_set_time(m, (uint32_t)(t / 86400 + 719528), (uint32_t)(t % 86400));
}

static void v_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct verifier *v = vctx(ctx);

	v->n_cert = 0;
	v->leaf_len = 0;
	v->leaf_big = v->pin_mismatch = v->no_ip = false;
	v->pkey = NULL;
	if (v->mode == V_CA) {
		set_now(&v->mini);
		v->mini.vtable->start_chain(&v->mini.vtable, server_name);
	}
}

static void v_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct verifier *v = vctx(ctx);

	if (v->n_cert == 0 && length > LEAF_MAX)
		v->leaf_big = true;
	if (v->mode == V_CA)
		v->mini.vtable->start_cert(&v->mini.vtable, length);
}

static void v_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct verifier *v = vctx(ctx);

	if (v->n_cert == 0 && !v->leaf_big) {
		if (len > LEAF_MAX - v->leaf_len)
			v->leaf_big = true;
		else
			memcpy(v->leaf + v->leaf_len, buf, len);
		v->leaf_len += len;
	}
	if (v->mode == V_CA)
		v->mini.vtable->append(&v->mini.vtable, buf, len);
}

static void v_end_cert(const br_x509_class **ctx)
{
	struct verifier *v = vctx(ctx);

	if (v->mode == V_CA)
		v->mini.vtable->end_cert(&v->mini.vtable);
	v->n_cert++;
}

/* The leaf's SPKI against the pin, in constant time. */
static unsigned pin_check(struct verifier *v)
{
	struct der spki, rest;
	uint8_t h[32], diff = 0;
	br_sha256_context sc;

	if (cert_spki(v->leaf, v->leaf_len, &spki, &rest) < 0)
		return BR_ERR_X509_INVALID_VALUE;
	br_sha256_init(&sc);
	br_sha256_update(&sc, spki.p, spki.len);
	br_sha256_out(&sc, h);
	for (size_t i = 0; i < sizeof h; i++)
		diff |= h[i] ^ v->pin[i];
	if (!diff)
		return 0;
	memcpy(v->seen_pin, "sha256/", 7);
	base64_encode(v->seen_pin + 7, h, sizeof h);
	v->pin_mismatch = true;
	return BR_ERR_X509_NOT_TRUSTED;
}

static unsigned v_end_chain(const br_x509_class **ctx)
{
	struct verifier *v = vctx(ctx);
	struct der spki, rest;
	unsigned r;

	if (v->mode == V_CA) {
		r = v->mini.vtable->end_chain(&v->mini.vtable);
		if (r || !v->ip_len)
			return r;
		if (v->leaf_big || cert_spki(v->leaf, v->leaf_len, &spki, &rest) < 0)
			return BR_ERR_X509_LIMIT_EXCEEDED;
		v->no_ip = !san_has_ip(rest, v->ip, v->ip_len);
		return v->no_ip ? BR_ERR_X509_BAD_SERVER_NAME : 0;
	}
	if (v->n_cert == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	if (v->leaf_big)
		return BR_ERR_X509_LIMIT_EXCEEDED;
	br_x509_decoder_init(&v->dec, NULL, NULL);
	br_x509_decoder_push(&v->dec, v->leaf, v->leaf_len);
	v->pkey = br_x509_decoder_get_pkey(&v->dec);
	if (!v->pkey)
		return BR_ERR_X509_INVALID_VALUE;
	return v->mode == V_PIN ? pin_check(v) : 0;
}

static const br_x509_pkey *v_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct verifier *v = vctx(ctx);

	if (v->mode == V_CA)
		return v->mini.vtable->get_pkey(&v->mini.vtable, usages);
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return v->pkey;
}

static const br_x509_class verifier_class = {
	sizeof(struct verifier), v_start_chain, v_start_cert, v_append,
	v_end_cert, v_end_chain, v_get_pkey,
};

/* Trust anchors: each certificate of the bundle, its DN and key copied. */
struct dn_buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dn_buf *d = ctx;

	if (d->oom)
		return;
	if (len > d->cap - d->len) {
		size_t cap = (d->cap + len) * 2;
		uint8_t *p = realloc(d->p, cap);
		if (!p) {
			d->oom = true;
			return;
		}
		d->p = p;
		d->cap = cap;
	}
	memcpy(d->p + d->len, buf, len);
	d->len += len;
}

static uint8_t *dup_bytes(const void *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);

	if (q)
		memcpy(q, p, len);
	return q;
}

static void ta_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else {
		free(ta->pkey.key.ec.q);
	}
}

/* 0, 1 when the certificate is skipped (unparsable), -1 out of memory. */
static int ta_add(struct verifier *v, const uint8_t *der, size_t len)
{
	br_x509_decoder_context dc;
	struct dn_buf dn = { 0 };
	br_x509_trust_anchor *ta = &v->tas[v->n_tas];
	const br_x509_pkey *pk;
	int rc = 1;

	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.oom)
		goto out;
	*ta = (br_x509_trust_anchor){ .dn = { dn.p, dn.len },
		.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0 };
	dn.p = NULL;
	ta->pkey.key_type = pk->key_type;
	rc = -1;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e)
			goto undo;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (!ta->pkey.key.ec.q)
			goto undo;
	}
	v->n_tas++;
	rc = 0;
	goto out;
undo:
	ta_free(ta);
out:
	free(dn.p);
	return rc;
}

static int load_anchors(struct verifier *v, const char *file)
{
	char err[512];
	struct pem p;
	int rc = -1;

	if (pem_load(&p, file, err, sizeof err)) {
		log_warnx("CA bundle %s", err);
		return -1;
	}
	v->tas = calloc(p.n, sizeof *v->tas);
	if (!v->tas) {
		log_warnx("out of memory");
		goto out;
	}
	for (size_t i = 0; i < p.n; i++)
		if (is_cert(&p.obj[i]) && ta_add(v, p.arena + p.obj[i].off, p.obj[i].len) < 0) {
			log_warnx("out of memory");
			goto out;
		}
	if (v->n_tas == 0) {
		log_warnx("CA bundle %s: no usable certificate in it", file);
		goto out;
	}
	rc = 0;
out:
	pem_free(&p);
	return rc;
}

static void verifier_free(struct verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_tas; i++)
		ta_free(&v->tas[i]);
	free(v->tas);
	free(v);
}

/* "sha256/BASE64" (curl's "sha256//BASE64" too) into 32 bytes. */
static int parse_pin(uint8_t out[static 32], const char *pin)
{
	if (strncmp(pin, "sha256/", 7))
		return -1;
	pin += 7;
	size_t n = strlen(pin);
	/* curl's form "sha256//BASE64" too; base64 itself may start with '/'. */
	if (n == BASE64_LEN(32) + 1 && *pin == '/') {
		pin++;
		n--;
	}
	return base64_decode(out, 32, pin, n) == 32 ? 0 : -1;
}

static struct verifier *verifier_new(const char *host, const char *ca_file,
				     const char *pin, bool insecure)
{
	struct verifier *v = calloc(1, sizeof *v);
	char addr[64];
	size_t hl = strlen(host);

	if (!v) {
		log_warnx("out of memory");
		return NULL;
	}
	v->vtable = &verifier_class;
	/* "[::1]" and "192.0.2.1" are addresses: no SNI, an iPAddress check. */
	if (hl > 2 && hl < sizeof addr && host[0] == '[' && host[hl - 1] == ']') {
		memcpy(addr, host + 1, hl - 2);
		addr[hl - 2] = 0;
	} else {
		snprintf(addr, sizeof addr, "%s", host);
	}
	if (inet_pton(AF_INET, addr, v->ip) == 1)
		v->ip_len = 4;
	else if (inet_pton(AF_INET6, addr, v->ip) == 1)
		v->ip_len = 16;
	if (pin) {
		v->mode = V_PIN;
		if (parse_pin(v->pin, pin) < 0) {
			log_warnx("--pin %s: expected sha256/ and 44 characters of base64", pin);
			goto fail;
		}
		return v;
	}
	if (!ca_file && insecure) {
		v->mode = V_INSECURE;
		log_warnx("--insecure: the server's certificate is not checked");
		return v;
	}
	if (!ca_file && access(CA_DEFAULT, R_OK) < 0) {
		log_warnx("no CA bundle at %s: use --ca FILE, --pin sha256/... or --insecure",
			  CA_DEFAULT);
		goto fail;
	}
	v->mode = V_CA;
	if (load_anchors(v, ca_file ? ca_file : CA_DEFAULT) < 0)
		goto fail;
	br_x509_minimal_init(&v->mini, &br_sha256_vtable, v->tas, v->n_tas);
	br_x509_minimal_set_hash(&v->mini, br_sha1_ID, &br_sha1_vtable);
	br_x509_minimal_set_hash(&v->mini, br_sha224_ID, &br_sha224_vtable);
	br_x509_minimal_set_hash(&v->mini, br_sha256_ID, &br_sha256_vtable);
	br_x509_minimal_set_hash(&v->mini, br_sha384_ID, &br_sha384_vtable);
	br_x509_minimal_set_hash(&v->mini, br_sha512_ID, &br_sha512_vtable);
	br_x509_minimal_set_rsa(&v->mini, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(&v->mini, &ec_impl, br_ecdsa_vrfy_asn1_get_default());
	set_now(&v->mini);
	return v;
fail:
	verifier_free(v);
	return NULL;
}

/* ==== Connections ==== */

struct tls_conn {
	br_ssl_engine_context *eng;
	struct creds *creds;            /* server: the chain and key in use */
	struct verifier *v;             /* client: certificate checks */
	char host[64];
	uint8_t first[4];               /* the peer's first bytes: plain HTTP? */
	size_t first_len;
	char why[160];
	union {
		br_ssl_server_context s;
		br_ssl_client_context c;
	} u;
	uint8_t *bufs;                  /* TLS_IN_LEN, then TLS_OUT_LEN: mapped */
};

#define BUFS_LEN (TLS_IN_LEN + TLS_OUT_LEN)

/*
 * The record buffers, given to the engine. Mapped, not malloc'd, so that
 * untouched pages stay free and the whole goes back to the kernel at the
 * end (which zeroes it before any other use: nothing to wipe here).
 */
static bool bufs_new(struct tls_conn *c)
{
	void *p = mmap(NULL, BUFS_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return false;
	c->bufs = p;
	br_ssl_engine_set_buffers_bidi(c->eng, c->bufs, TLS_IN_LEN, c->bufs + TLS_IN_LEN,
				       TLS_OUT_LEN);
	return true;
}

struct tls_conn *tls_conn_new(struct tls_server *s)
{
	struct tls_conn *c = calloc(1, sizeof *c);
	struct creds *k = s->cur;
	br_ssl_server_context *sc;

	if (!c)
		return NULL;
	sc = &c->u.s;
	c->eng = &sc->eng;
	c->creds = k;
	atomic_fetch_add(&k->refs, 1);
	br_ssl_server_zero(sc);
	engine_setup(c->eng, k->suites, k->n_suites);
	br_ssl_engine_add_flags(c->eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
	if (k->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(sc, k->chain, k->chain_len, &k->sk.rsa,
					     BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
					     br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(sc, k->chain, k->chain_len, &k->sk.ec,
					    BR_KEYTYPE_SIGN, BR_KEYTYPE_EC, &ec_impl,
					    br_ecdsa_sign_asn1_get_default());
	if (!bufs_new(c)) {
		tls_conn_free(c);
		return NULL;
	}
	seed(c->eng);
	if (!br_ssl_server_reset(sc)) {
		log_warnx("TLS: cannot start a handshake (error %d)",
			  br_ssl_engine_last_error(c->eng));
		tls_conn_free(c);
		return NULL;
	}
	return c;
}

struct tls_conn *tls_conn_client(const char *host, const char *ca_file,
				 const char *pin, bool insecure)
{
	struct tls_conn *c = calloc(1, sizeof *c);
	uint16_t suites[2 * N_SUITES];
	size_t n = suites_for(suites, 0);
	br_ssl_client_context *cc;

	if (!c) {
		log_warnx("out of memory");
		return NULL;
	}
	snprintf(c->host, sizeof c->host, "%s", host);
	if (!(c->v = verifier_new(host, ca_file, pin, insecure)))
		goto fail;
	cc = &c->u.c;
	c->eng = &cc->eng;
	br_ssl_client_zero(cc);
	engine_setup(c->eng, suites, n);
	br_ssl_engine_set_rsavrfy(c->eng, br_rsa_pkcs1_vrfy_get_default());
	br_ssl_engine_set_ecdsa(c->eng, br_ecdsa_vrfy_asn1_get_default());
	br_ssl_engine_set_x509(c->eng, &c->v->vtable);
	if (!bufs_new(c)) {
		log_warnx("out of memory");
		goto fail;
	}
	seed(c->eng);
	/* No SNI for an address (RFC 6066 §3); the name is then checked by us. */
	if (!br_ssl_client_reset(cc, c->v->ip_len ? NULL : host, 0)) {
		log_warnx("TLS: cannot start a handshake (error %d)",
			  br_ssl_engine_last_error(c->eng));
		goto fail;
	}
	return c;
fail:
	tls_conn_free(c);
	return NULL;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	creds_put(c->creds);
	verifier_free(c->v);
	if (c->bufs)
		munmap(c->bufs, BUFS_LEN);
	explicit_bzero(c, sizeof *c); /* session keys */
	free(c);
}

/* ==== Errors ==== */

static const char *alert_name(int a)
{
	switch (a) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 112: return "unrecognized_name";
	}
	return "alert";
}

static const char *err_name(int e)
{
	switch (e) {
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION:
		return "the peer does not speak TLS 1.2";
	case BR_ERR_BAD_LENGTH:
	case BR_ERR_TOO_LARGE:
	case BR_ERR_UNKNOWN_TYPE:
		return "not a TLS record";
	case BR_ERR_BAD_MAC: return "bad record MAC";
	case BR_ERR_NO_RANDOM: return "no random source";
	case BR_ERR_UNEXPECTED: return "unexpected message";
	case BR_ERR_BAD_HANDSHAKE: return "malformed handshake message";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "no common cipher suite (ECDHE with AES-GCM or ChaCha20-Poly1305 only)";
	case BR_ERR_INVALID_ALGORITHM: return "no common signature algorithm or curve";
	case BR_ERR_BAD_SIGNATURE: return "bad handshake signature";
	case BR_ERR_BAD_FINISHED: return "bad Finished message";
	case BR_ERR_LIMIT_EXCEEDED: return "handshake message too large";
	case BR_ERR_WRONG_KEY_USAGE: return "certificate key usage forbids this suite";
	case BR_ERR_X509_EXPIRED: return "server certificate expired or not yet valid";
	case BR_ERR_X509_NOT_TRUSTED: return "server certificate not signed by a trusted CA";
	case BR_ERR_X509_NOT_CA: return "an intermediate certificate is not a CA";
	case BR_ERR_X509_BAD_SIGNATURE: return "bad signature in the certificate chain";
	case BR_ERR_X509_EMPTY_CHAIN: return "the server sent no certificate";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "server key too weak";
	case BR_ERR_X509_LIMIT_EXCEEDED: return "server certificate too large";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "unsupported critical certificate extension";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return "certificate key usage forbids TLS";
	}
	if (e >= BR_ERR_X509_OK && e < BR_ERR_RECV_FATAL_ALERT)
		return "malformed or unsupported certificate";
	return NULL;
}

/* Sets why from the engine's error code. */
static void explain(struct tls_conn *c, int e)
{
	const char *n = err_name(e);
	bool http = c->first_len == 4 && (!memcmp(c->first, "GET ", 4) ||
		!memcmp(c->first, "POST", 4) || !memcmp(c->first, "HEAD", 4) ||
		!memcmp(c->first, "PUT ", 4) || !memcmp(c->first, "OPTI", 4) ||
		!memcmp(c->first, "CONN", 4) || !memcmp(c->first, "PRI ", 4));

	if (http)
		snprintf(c->why, sizeof c->why, "plain HTTP on a TLS port (use wss:// or https://)");
	else if (e == BR_ERR_X509_BAD_SERVER_NAME)
		snprintf(c->why, sizeof c->why, "server certificate is not valid for %s%s",
			 c->host, c->v && c->v->no_ip ? " (no such iPAddress in subjectAltName)" : "");
	else if (e == BR_ERR_X509_NOT_TRUSTED && c->v && c->v->pin_mismatch)
		snprintf(c->why, sizeof c->why, "server key does not match --pin (it is %s)",
			 c->v->seen_pin);
	else if (e >= BR_ERR_SEND_FATAL_ALERT)
		snprintf(c->why, sizeof c->why, "sent fatal alert %d (%s)",
			 e - BR_ERR_SEND_FATAL_ALERT, alert_name(e - BR_ERR_SEND_FATAL_ALERT));
	else if (e >= BR_ERR_RECV_FATAL_ALERT)
		snprintf(c->why, sizeof c->why, "peer sent fatal alert %d (%s)",
			 e - BR_ERR_RECV_FATAL_ALERT, alert_name(e - BR_ERR_RECV_FATAL_ALERT));
	else if (n)
		snprintf(c->why, sizeof c->why, "%s", n);
	else
		snprintf(c->why, sizeof c->why, "error %d", e);
}

/*
 * The engine is closed: records why once (debug level), so that
 * tls_error can tell the caller.
 */
static void note_close(struct tls_conn *c)
{
	int e = br_ssl_engine_last_error(c->eng);

	if (e == BR_ERR_OK || c->why[0])
		return;
	explain(c, e);
	log_debug("TLS: %s", c->why);
}

static unsigned state(const struct tls_conn *c)
{
	return br_ssl_engine_current_state(c->eng);
}

/* ==== The four buffer pairs (BearSSL's engine, bearssl_ssl.h) ==== */

uint8_t *tls_rx_buf(struct tls_conn *c, size_t *len)
{
	if (!(state(c) & BR_SSL_RECVREC))
		return NULL;
	return br_ssl_engine_recvrec_buf(c->eng, len);
}

void tls_rx_ack(struct tls_conn *c, size_t n)
{
	size_t len;
	const uint8_t *p = br_ssl_engine_recvrec_buf(c->eng, &len);

	/* The first bytes tell a plain HTTP request from a ClientHello. */
	if (c->first_len < sizeof c->first) {
		size_t k = sizeof c->first - c->first_len;
		k = n < k ? n : k;
		memcpy(c->first + c->first_len, p, k);
		c->first_len += k;
	}
	br_ssl_engine_recvrec_ack(c->eng, n);
	if (state(c) & BR_SSL_CLOSED)
		note_close(c);
}

const uint8_t *tls_tx_buf(struct tls_conn *c, size_t *len)
{
	if (!(state(c) & BR_SSL_SENDREC))
		return NULL;
	return br_ssl_engine_sendrec_buf(c->eng, len);
}

void tls_tx_ack(struct tls_conn *c, size_t n)
{
	br_ssl_engine_sendrec_ack(c->eng, n);
}

const uint8_t *tls_app_rx(struct tls_conn *c, size_t *len)
{
	if (!(state(c) & BR_SSL_RECVAPP))
		return NULL;
	return br_ssl_engine_recvapp_buf(c->eng, len);
}

void tls_app_rx_ack(struct tls_conn *c, size_t n)
{
	br_ssl_engine_recvapp_ack(c->eng, n);
}

uint8_t *tls_app_tx(struct tls_conn *c, size_t *len)
{
	if (!(state(c) & BR_SSL_SENDAPP))
		return NULL;
	return br_ssl_engine_sendapp_buf(c->eng, len);
}

void tls_app_tx_ack(struct tls_conn *c, size_t n)
{
	br_ssl_engine_sendapp_ack(c->eng, n);
}

void tls_app_flush(struct tls_conn *c)
{
	br_ssl_engine_flush(c->eng, 0);
}

void tls_close(struct tls_conn *c)
{
	br_ssl_engine_close(c->eng);
}

bool tls_closed(const struct tls_conn *c)
{
	return state(c) & BR_SSL_CLOSED;
}

bool tls_failed(const struct tls_conn *c)
{
	return (state(c) & BR_SSL_CLOSED) && br_ssl_engine_last_error(c->eng) != BR_ERR_OK;
}

bool tls_established(const struct tls_conn *c)
{
	return state(c) & BR_SSL_SENDAPP;
}

bool tls_plain_http(struct tls_conn *c)
{
	if (!tls_failed(c))
		return false;
	note_close(c);
	return c->creds && !strncmp(c->why, "plain HTTP", 10);
}

void tls_set_error(struct tls_conn *c, const char *why)
{
	if (!c->why[0])
		snprintf(c->why, sizeof c->why, "%s", why);
}

const char *tls_error(struct tls_conn *c)
{
	if (tls_failed(c))
		note_close(c);
	if (c->why[0])
		return c->why;
	int e = br_ssl_engine_last_error(c->eng);
	return e == BR_ERR_OK ? "no error" : err_name(e) ? err_name(e) : "error";
}

bool tls_cert_failed(const struct tls_conn *c)
{
	int e = br_ssl_engine_last_error(c->eng);

	return c->v && e >= BR_ERR_X509_OK && e < BR_ERR_RECV_FATAL_ALERT;
}
