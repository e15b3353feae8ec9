/* SPDX-License-Identifier: MIT */
/* sha1.h: SHA-1 (FIPS 180-4), used only for the WebSocket accept key. */
#ifndef VPNGW_SHA1_H
#define VPNGW_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

struct sha1 {
	uint32_t h[5];
	uint64_t count;      /* bytes hashed so far */
	uint8_t block[64];
};

void sha1_init(struct sha1 *c);
/* Hashes len bytes of data (caller's buffer, read only). */
void sha1_update(struct sha1 *c, const void *data, size_t len);
void sha1_final(struct sha1 *c, uint8_t out[static SHA1_LEN]);
/* One-shot convenience. */
void sha1(const void *data, size_t len, uint8_t out[static SHA1_LEN]);

#endif
