/* SPDX-License-Identifier: MIT */
/*
 * seccomp.h: the system-call allow-lists of the serving gateway and of its
 * conntrack helper, installed once their setup is done.
 */
#ifndef VPNGW_SECCOMP_H
#define VPNGW_SECCOMP_H

enum seccomp_role {
	SECCOMP_GATEWAY,	/* the serving loop, after drop_privileges */
	SECCOMP_HELPER,		/* tun.c's conntrack helper, after it is set up */
};

/*
 * Sets PR_SET_NO_NEW_PRIVS and installs role's filter on the calling
 * thread (vpngw has no other): from then on a system call outside the list,
 * or with arguments outside it, kills the whole process with SIGSYS. There
 * is no way back. Returns 0, or -1 with errno set (EINVAL: a kernel built
 * without seccomp filters).
 */
int seccomp_install(enum seccomp_role role) __attribute__((warn_unused_result));

#endif
