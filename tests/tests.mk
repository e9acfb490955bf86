# SPDX-License-Identifier: GPL-2.0-or-later
# tests/tests.mk - `make check` and `make demo`.
#   make check              setup, build everything, run all tests
#   make check T=REGEX      only the tests whose name matches REGEX
#   make check J=1          integration tests one at a time (default 2)
# Setup runs in its own make first: guest/guest.mk reads the kernel tree
# paths it writes ($(VB_CACHE)/env.sh) when the makefiles are parsed.

T ?=
J ?= 2

check:
	@$(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory all
	@tests/run -j $(J) $(if $(T),'$(T)')

demo:
	@$(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

# The README's commands on a freshly made Debian 12 root (debootstrap,
# chroot): run it before calling any change to setup done.  Not part of
# `make check` (10+ minutes).  VB_FRESH_TESTS picks the tests.
.PHONY: check-fresh
check-fresh:
	@testbed/check-fresh

# vballoon.ko built with -DVB_TEST_REUSE_HINTED: it reuses hinted blocks
# before DONE.  Only the migration integrity test's negative case loads it.
ifneq ($(VB_X86_KDIR),)
$(BUILD)/x86_64-broken-hint/vballoon.ko: $(GUEST_SRCS)
	$(call guest_ko,x86_64-broken-hint,$(VB_X86_KDIR),KCFLAGS=-DVB_TEST_REUSE_HINTED)

ALL_TARGETS += $(BUILD)/x86_64-broken-hint/vballoon.ko
endif

# vballoon.ko for UML built with -DVB_TEST_SLOW_DEFLATE: a large deflate
# holds the balloon's lock for seconds before freeing its pages, so an OOM
# notification surely waits behind it.  Only test 235 loads it.
ifneq ($(VB_UML_KDIR),)
$(BUILD)/um-slow-deflate/vballoon.ko: $(GUEST_SRCS)
	$(call guest_ko,um-slow-deflate,$(VB_UML_KDIR),$(UML_KBUILD) KCFLAGS=-DVB_TEST_SLOW_DEFLATE)

ALL_TARGETS += $(BUILD)/um-slow-deflate/vballoon.ko
endif
