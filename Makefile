# SPDX-License-Identifier: MIT
# vpngw: one static binary. `make`, `make TLS=0`, `make test`, `make fuzz`,
# `make bench`, `make demo`. CROSS_COMPILE=arm-linux-musleabihf- and a
# config.mak of your own override the toolchain.
-include config.mak

TLS ?= 1
ifeq ($(origin CC),default)
CC := $(if $(CROSS_COMPILE),$(CROSS_COMPILE)gcc,$(shell command -v musl-gcc || echo cc))
endif
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	  -Wstrict-prototypes -Wmissing-prototypes -MMD -MP
LDFLAGS += -static
SRC := vpngw.c client.c ws.c nat.c tun.c netlink.c sha1.c base64.c log.c
ifeq ($(TLS),1)
SRC += tls.c
LDLIBS += -lbearssl
CFLAGS += -DVPNGW_TLS=1
endif
ifneq ($(filter %musl-gcc,$(CC)),)
CFLAGS += -isystem .kh	# musl ships no kernel headers: borrow the system's
KH := .kh/linux
endif
OBJ := $(SRC:.c=.o)
Q := $(if $(V),,@)

all: vpngw
vpngw: $(OBJ)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)
%.o: %.c $(KH)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<
.kh/linux:
	$(Q)mkdir -p .kh && ln -sfn /usr/include/linux .kh/linux && \
	ln -sfn /usr/include/asm-generic .kh/asm-generic && \
	ln -sfn /usr/include/$$(gcc -dumpmachine)/asm .kh/asm

UNIT := test/unit.c test/unit_sha1_base64.c test/unit_ws.c test/unit_nat.c \
	ws.c nat.c sha1.c base64.c
HOSTCC ?= cc
UFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I.
test/unit: $(UNIT) $(wildcard *.h test/*.h)
	$(Q)$(HOSTCC) $(UFLAGS) -o $@ $(UNIT)
test/unit-asan: $(UNIT) $(wildcard *.h test/*.h)
	$(Q)$(HOSTCC) $(UFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ $(UNIT)
check: test/unit test/unit-asan
	$(Q)test/unit && test/unit-asan
test: vpngw test/unit test/unit-asan
	$(Q)test/run.sh
fuzz:
	$(Q)test/fuzz/run.sh $(or $(SECONDS_EACH),30)
bench: vpngw
	$(Q)test/bench.sh
demo: vpngw
	$(Q)test/demo.sh
clean:
	rm -rf vpngw *.o *.d .kh test/unit test/unit-asan test/fuzz/bin
.PHONY: all check test fuzz bench demo clean
-include $(OBJ:.o=.d)
