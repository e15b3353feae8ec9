/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h: what the fuzz targets share: an exact-size copy of the input, so
 * that AddressSanitizer sees a read one byte past what arrived.
 */
#ifndef VPNGW_FUZZ_H
#define VPNGW_FUZZ_H

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t *copy(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	assert(p);
	if (size)
		memcpy(p, data, size);
	return p;
}

#endif
