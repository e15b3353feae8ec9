/* SPDX-License-Identifier: MIT */
/* base64.h: constant-time base64 (RFC 4648 section 4, with padding). */
#ifndef VPNGW_BASE64_H
#define VPNGW_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of len bytes, without the NUL. */
#define BASE64_LEN(len) ((((len) + 2) / 3) * 4)

/*
 * Encodes len bytes of in into out, which must hold BASE64_LEN(len) + 1
 * bytes; out is NUL-terminated. Returns BASE64_LEN(len).
 */
size_t base64_encode(char *out, const uint8_t *in, size_t len);

/*
 * Decodes in_len characters of padded base64 into out (capacity out_cap).
 * Returns the number of bytes decoded, or -1 if in is not canonical padded
 * base64 or does not fit. Runs in time independent of the characters' values.
 */
long base64_decode(uint8_t *out, size_t out_cap, const char *in, size_t in_len);

#endif
