/* SPDX-License-Identifier: MIT */
/*
 * log.h: one-line diagnostics on stderr. log_warn appends strerror(errno),
 * log_warnx does not; fatal/fatalx log and exit(1). log_debug prints only
 * at the most verbose level (-v); log_info is silenced by -q.
 */
#ifndef VPNGW_LOG_H
#define VPNGW_LOG_H

#include <stdnoreturn.h>

enum log_level { LOG_QUIET = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

extern int log_verbosity;
/* Written after "vpngw: " on each line of the calling thread (a worker's
 * "worker 1: "); "" by default. */
extern _Thread_local const char *log_tag;

#define PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_info(const char *fmt, ...) PRINTF(1, 2);
void log_debug(const char *fmt, ...) PRINTF(1, 2);
void log_warn(const char *fmt, ...) PRINTF(1, 2);
void log_warnx(const char *fmt, ...) PRINTF(1, 2);
noreturn void fatal(const char *fmt, ...) PRINTF(1, 2);
noreturn void fatalx(const char *fmt, ...) PRINTF(1, 2);

#endif
