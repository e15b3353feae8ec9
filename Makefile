# SPDX-License-Identifier: MIT
# vpngw: one static binary. `make`, `make TLS=0`, `make test`, `make fuzz`,
# `make bench`, `make replay`, `make demo`, `make install`, `make uninstall`
# (PREFIX=/usr/local, DESTDIR), `make test-cross`, `make size`.
# CROSS_COMPILE=aarch64-linux-gnu- (or arm-linux-gnueabihf-, mipsel-linux-gnu-,
# mips-linux-gnu-) and a config.mak of your own override the toolchain.
-include config.mak

TLS ?= 1
PREFIX ?= /usr/local
ifeq ($(origin CC),default)
CC := $(if $(CROSS_COMPILE),$(CROSS_COMPILE)gcc,$(shell command -v musl-gcc || echo cc))
endif
# -Os, and -O2 for the packet path (HOT: what runs per packet; test/replay.sh
# shows it no slower); no unwind tables, which C without exceptions or
# backtraces never reads. A CFLAGS of your own applies to every file alike.
ifeq ($(origin CFLAGS),undefined)
CFLAGS := -Os -fno-asynchronous-unwind-tables
HOTFLAGS := -O2
endif
HOT := link.o txq.o ws.o nat.o gso.o limit.o
LDFLAGS ?= -s
XCFLAGS := -std=c11 -D_GNU_SOURCE -ffunction-sections -fdata-sections \
	  -Wall -Wextra -Werror -Wshadow \
	  -Wstrict-prototypes -Wmissing-prototypes -MMD -MP
XLDFLAGS := -static -Wl,--gc-sections
SRC := vpngw.c cli.c client.c dns.c dbus.c link.c txq.c admit.c auth.c limit.c metrics.c ws.c v1.c nat.c gso.c \
	tun.c nft.c guard.c \
	netlink.c seccomp.c sha1.c base64.c log.c
ifeq ($(TLS),1)
SRC += tls.c compat.c
LDLIBS += -lbearssl
XCFLAGS += -DVPNGW_TLS=1
endif
ifneq ($(filter musl-gcc %/musl-gcc,$(CC)),)
XCFLAGS += -isystem .kh	# musl ships no kernel or BearSSL headers: link them in
XLDFLAGS += -L.kh
KH := .kh/.links
endif
# A cross gcc has its own kernel headers; BearSSL is built for the target
# from Debian's source package, fetched once into .cross/bearssl.
BR := .cross/$(notdir $(CROSS_COMPILE:%-=%))
ifeq ($(TLS)$(if $(CROSS_COMPILE),x),1x)
XCFLAGS += -isystem .cross/bearssl/inc
XLDFLAGS += -L$(BR)
KH := $(BR)/libbearssl.a
endif
OBJ := $(SRC:.c=.o)
$(HOT): CFLAGS += $(HOTFLAGS)
Q := $(if $(V),,@)

all: vpngw
vpngw: $(OBJ)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)
%.o: %.c .flags $(KH)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) -c -o $@ $<
.flags: FORCE	# rebuild when the flags change (TLS=0 vs 1)
	@echo '$(CC) $(XCFLAGS) $(CFLAGS) $(HOTFLAGS)' | cmp -s - $@ || echo '$(CC) $(XCFLAGS) $(CFLAGS) $(HOTFLAGS)' > $@
# BearSSL's archive is copied without its unwind tables, as our objects are.
.kh/.links:
	$(Q)mkdir -p .kh && ln -sfn /usr/include/linux .kh/linux && \
	ln -sfn /usr/include/asm-generic .kh/asm-generic && \
	ln -sfn /usr/include/$$(gcc -dumpmachine)/asm .kh/asm && \
	ln -sfn /usr/include/bearssl.h .kh/bearssl.h && \
	ln -sfn /usr/include/bearssl .kh/bearssl && \
	b=/usr/lib/$$(gcc -dumpmachine)/libbearssl.a && \
	{ [ ! -f $$b ] || objcopy -R .eh_frame $$b .kh/libbearssl.a; } && touch $@
.cross/bearssl/Makefile:
	$(Q)rm -rf .cross/src .cross/bearssl && mkdir -p .cross/src && cd .cross/src && \
	{ apt-get source -q bearssl >log 2>&1 || { echo "BearSSL's source: apt-get source" \
	  "bearssl failed (a deb-src line? see .cross/src/log)"; exit 1; }; } && mv bearssl-*/ ../bearssl
$(BR)/libbearssl.a: .cross/bearssl/Makefile
	@$(if $(Q),echo "  AR $@")
	$(Q)$(MAKE) -s -C .cross/bearssl lib BUILD=$(CURDIR)/$(BR) CC='$(CC)' \
	AR=$(CROSS_COMPILE)ar CFLAGS='-Os -pipe -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables'

UNIT := test/unit.c test/unit_sha1_base64.c test/unit_ws.c test/unit_nat.c test/unit_admit.c \
	test/unit_limit.c test/unit_v1.c test/unit_tun.c test/unit_guard.c test/unit_cli.c test/unit_auth.c \
	test/unit_metrics.c test/unit_gso.c test/unit_txq.c test/unit_link.c test/unit_dns.c link.c txq.c ws.c v1.c nat.c gso.c sha1.c base64.c admit.c auth.c limit.c metrics.c \
	cli.c log.c seccomp.c dns.c dbus.c
HOSTCC ?= cc
UFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I.
test/unit: $(UNIT) $(wildcard *.h test/*.h) tun.c nft.c guard.c netlink.c
	$(Q)$(HOSTCC) $(UFLAGS) -o $@ $(UNIT)
test/unit-asan: $(UNIT) $(wildcard *.h test/*.h) tun.c nft.c guard.c netlink.c
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
# the packet path's flags, without TLS, and with its symbols (callgrind
# counts by function).
REPLAY := test/replay.c link.c txq.c ws.c nat.c gso.c limit.c admit.c log.c sha1.c base64.c
test/replay: $(REPLAY) $(wildcard *.h) .flags $(KH)
	$(Q)$(CC) $(filter-out -DVPNGW_TLS=1 -MMD -MP,$(XCFLAGS)) $(CFLAGS) $(HOTFLAGS) $(XLDFLAGS) -o $@ $(REPLAY)
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
test-cross:
	$(Q)test/cross.sh
size:
	$(Q)test/cross.sh size
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
.PHONY: FORCE all check test fuzz bench replay demo test-cross size install uninstall clean
-include $(OBJ:.o=.d)
