/* SPDX-License-Identifier: MIT */
/*
 * log.c: prints one line per event on stderr, prefixed with "vpngw: ".
 * It owns nothing else: callers decide what is worth a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int log_verbosity = LOG_INFO;
_Thread_local const char *log_tag = "";

static void vlog(const char *fmt, va_list ap, int err)
{
	char line[1024];
	int n = vsnprintf(line, sizeof line, fmt, ap);

	if (n < 0)
		return;
	if (err)
		fprintf(stderr, "vpngw: %s%s: %s\n", log_tag, line, strerror(err));
	else
		fprintf(stderr, "vpngw: %s%s\n", log_tag, line);
}

#define LOG_BODY(err)              \
	do {                       \
		va_list ap;        \
		va_start(ap, fmt); \
		vlog(fmt, ap, err);\
		va_end(ap);        \
	} while (0)

void log_info(const char *fmt, ...)
{
	if (log_verbosity >= LOG_INFO)
		LOG_BODY(0);
}

void log_debug(const char *fmt, ...)
{
	if (log_verbosity >= LOG_DEBUG)
		LOG_BODY(0);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;

	LOG_BODY(err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(0);
}

void fatal(const char *fmt, ...)
{
	int err = errno;

	LOG_BODY(err);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(0);
	exit(1);
}
