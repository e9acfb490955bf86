# SPDX-License-Identifier: GPL-2.0-or-later
# hardening/hardening.mk - hostile frontend, sanitizer daemon, soak.
#   make                 also builds $(BUILD)/vb-hostile and the ASan+UBSan
#                        daemon $(BUILD)/san/vballoond used by the 3xx tests
#   make soak            long data-integrity soak (SOAK_SECS, default 600)
#   make fuzz-long       every libFuzzer harness for FUZZ_SECS each (default 3600)
#   make hardening-negative  tests 302 and 305 against deliberately broken
#                        daemons: passes only if both fail (docs/hardening.md)

VB_HOSTILE := $(BUILD)/vb-hostile

ALL_TARGETS += $(VB_HOSTILE)
ifneq ($(SAN),1)
ALL_TARGETS += hardening-san
endif

# One binary, three modes (vb-hostile.c); the frontend side is shared.
VB_HOSTILE_SRCS := $(addprefix hardening/,vb-hostile.c vu_frontend.c good.c hostile.c \
		     hostile_msgs.c hostile_rings.c qmp_query.c noack.c)
VB_HOSTILE_HDRS := $(wildcard hardening/*.h) include/vballoon_abi.h \
		   include/vhost_user_wire.h host/src/virtq.h

$(VB_HOSTILE): $(VB_HOSTILE_SRCS) $(VB_HOSTILE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -std=gnu11 -Ihost/src -Iinclude $(JSONC_CFLAGS) -o $@ \
		$(VB_HOSTILE_SRCS) $(JSONC_LIBS)

# The sanitizer daemon lives in $(BUILD)/san (host.mk with SAN=1).
.PHONY: hardening-san soak fuzz-long
hardening-san:
	@$(MAKE) --no-print-directory SAN=1 $(BUILD)/san/vballoond $(BUILD)/san/vballoonctl

SOAK_SECS ?= 600
soak:
	@$(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory all
	@SOAK_SECS=$(SOAK_SECS) hardening/soak.sh

FUZZ_SECS ?= 3600
fuzz-long:
	@$(MAKE) --no-print-directory fuzz
	@FUZZ_SECS=$(FUZZ_SECS) hardening/fuzz-run.sh

# Negative runs: tests 302 and 305 against deliberately broken daemons
# (hardening/vb-break.c, preloaded; never part of `make all`) must fail.
VB_BREAK := $(BUILD)/vb-break.so

$(VB_BREAK): hardening/vb-break.c include/vhost_user_wire.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -std=gnu11 -Iinclude -shared -fPIC -o $@ $< -ldl

.PHONY: hardening-negative
hardening-negative: $(VB_BREAK) $(VB_HOSTILE) hardening-san
	@hardening/negative-run.sh
