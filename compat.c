/* SPDX-License-Identifier: MIT */
/*
 * compat.c: the glibc fortify helpers that Debian's libbearssl.a calls
 * (it was built with _FORTIFY_SOURCE), for a static musl link. Each checks
 * the destination size the compiler knew and aborts on overflow, as glibc's
 * do; musl itself provides __stack_chk_fail. Built only with musl: glibc
 * has its own. Everything else is left to libc.
 */
#include <stdlib.h>
#include <string.h>

#ifndef __GLIBC__
void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dst_len);
void *__memmove_chk(void *dst, const void *src, size_t len, size_t dst_len);
void *__memset_chk(void *dst, int c, size_t len, size_t dst_len);

void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dst_len)
{
	if (len > dst_len)
		abort();
	return memcpy(dst, src, len);
}

void *__memmove_chk(void *dst, const void *src, size_t len, size_t dst_len)
{
	if (len > dst_len)
		abort();
	return memmove(dst, src, len);
}

void *__memset_chk(void *dst, int c, size_t len, size_t dst_len)
{
	if (len > dst_len)
		abort();
	return memset(dst, c, len);
}
#else
typedef int compat_unused; /* ISO C wants one declaration per file */
#endif
