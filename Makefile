# SPDX-License-Identifier: MIT
# vpngw: one static binary. `make`, `make TLS=0`, `make test`, `make fuzz`,
# `make bench`, `make replay`, `make demo`, `make install`, `make uninstall`
# (PREFIX=/usr/local, DESTDIR). CROSS_COMPILE=arm-linux-musleabihf- and a
# config.mak of your own override the toolchain.
-include config.mak

TLS ?= 1
PREFIX ?= /usr/local
ifeq ($(origin CC),default)
CC := $(if $(CROSS_COMPILE),$(CROSS_COMPILE)gcc,$(shell command -v musl-gcc || echo cc))
endif
CFLAGS ?= -O2
LDFLAGS ?= -s
XCFLAGS := -std=c11 -D_GNU_SOURCE -ffunction-sections -fdata-sections \
	  -Wall -Wextra -Werror -Wshadow \
	  -Wstrict-prototypes -Wmissing-prototypes -MMD -MP
XLDFLAGS := -static -Wl,--gc-sections
SRC := vpngw.c cli.c client.c link.c txq.c admit.c auth.c limit.c metrics.c ws.c v1.c nat.c gso.c tun.c nft.c \
	netlink.c seccomp.c sha1.c base64.c log.c
ifeq ($(TLS),1)
SRC += tls.c compat.c
LDLIBS += -lbearssl
XCFLAGS += -DVPNGW_TLS=1
endif
ifneq ($(filter %musl-gcc,$(CC)),)
XCFLAGS += -isystem .kh	# musl ships no kernel or BearSSL headers: link them in
XLDFLAGS += -L.kh
KH := .kh/.links
endif
OBJ := $(SRC:.c=.o)
Q := $(if $(V),,@)

all: vpngw
vpngw: $(OBJ)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)
%.o: %.c .flags $(KH)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) -c -o $@ $<
.flags: FORCE	# rebuild when the flags change (TLS=0 vs 1)
	@echo '$(CC) $(XCFLAGS) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(XCFLAGS) $(CFLAGS)' > $@
.kh/.links:
	$(Q)mkdir -p .kh && ln -sfn /usr/include/linux .kh/linux && \
	ln -sfn /usr/include/asm-generic .kh/asm-generic && \
	ln -sfn /usr/include/$$(gcc -dumpmachine)/asm .kh/asm && \
	ln -sfn /usr/include/bearssl.h .kh/bearssl.h && \
	ln -sfn /usr/include/bearssl .kh/bearssl && \
	ln -sfn /usr/lib/$$(gcc -dumpmachine)/libbearssl.a .kh/libbearssl.a && touch $@

UNIT := test/unit.c test/unit_sha1_base64.c test/unit_ws.c test/unit_nat.c test/unit_admit.c \
	test/unit_limit.c test/unit_v1.c test/unit_tun.c test/unit_cli.c test/unit_auth.c \
	test/unit_metrics.c test/unit_gso.c test/unit_txq.c test/unit_link.c link.c txq.c ws.c v1.c nat.c gso.c sha1.c base64.c admit.c auth.c limit.c metrics.c \
	cli.c log.c seccomp.c
HOSTCC ?= cc
UFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I.
test/unit: $(UNIT) $(wildcard *.h test/*.h) tun.c nft.c netlink.c
	$(Q)$(HOSTCC) $(UFLAGS) -o $@ $(UNIT)
test/unit-asan: $(UNIT) $(wildcard *.h test/*.h) tun.c nft.c netlink.c
	$(Q)$(HOSTCC) $(UFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ $(UNIT)
# The filters' test, with the binary's compiler and C library, and glibc's.
test/seccomp_test: test/seccomp_test.c seccomp.c seccomp.h .flags $(KH)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -o $@ test/seccomp_test.c
test/seccomp_test-glibc: test/seccomp_test.c seccomp.c seccomp.h
	$(Q)$(HOSTCC) $(UFLAGS) -o $@ test/seccomp_test.c
# The conntrack helper with several sockets (root), as the binary builds it.
test/priv_test: test/priv_test.c tun.c nft.c netlink.c seccomp.c log.c $(wildcard *.h) .flags $(KH)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -o $@ test/priv_test.c seccomp.c log.c
# The packet-replay harness (test/replay.sh): the binary's compiler and
# flags, without TLS, and with its symbols (callgrind counts by function).
REPLAY := test/replay.c link.c txq.c ws.c nat.c gso.c limit.c admit.c log.c sha1.c base64.c
test/replay: $(REPLAY) $(wildcard *.h) .flags $(KH)
	$(Q)$(CC) $(filter-out -DVPNGW_TLS=1 -MMD -MP,$(XCFLAGS)) $(CFLAGS) $(XLDFLAGS) -o $@ $(REPLAY)
check: test/unit test/unit-asan
	$(Q)test/unit && test/unit-asan
test: vpngw test/unit test/unit-asan test/seccomp_test test/seccomp_test-glibc test/priv_test
	$(Q)test/run.sh
fuzz:
	$(Q)test/fuzz/run.sh $(or $(SECONDS_EACH),30)
bench: vpngw test/replay
	$(Q)test/bench.sh
replay: test/replay
	$(Q)test/replay.sh
demo: vpngw
	$(Q)test/demo.sh
# The binary as built (root installs it, never builds it) and its page.
install: vpngw
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 vpngw $(DESTDIR)$(PREFIX)/bin/vpngw
	install -m 644 vpngw.8 $(DESTDIR)$(PREFIX)/share/man/man8/vpngw.8
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vpngw $(DESTDIR)$(PREFIX)/share/man/man8/vpngw.8
clean:
	rm -rf vpngw *.o *.d .kh .flags test/unit test/unit-asan \
	test/seccomp_test test/seccomp_test-glibc test/priv_test test/replay test/*.d test/fuzz/bin
.PHONY: FORCE all check test fuzz bench replay demo install uninstall clean
-include $(OBJ:.o=.d)
