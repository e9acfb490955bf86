# SPDX-License-Identifier: GPL-2.0
# guest/guest.mk - vballoon.ko for ARCH=um (UML 6.1) and x86-64 (Debian).
#
# Each architecture builds out of tree in its own directory,
# $(BUILD)/<arch>/src, holding symlinks to the sources, so the two builds
# never share objects.  Kernel trees come from $(VB_CACHE)/env.sh, which
# `make setup` writes (VB_UML_KDIR, VB_X86_KDIR, VB_X86_ALT_KDIR); without
# it the module targets stop and say so.

ifneq ($(wildcard $(VB_CACHE)/env.sh),)
include $(VB_CACHE)/env.sh
endif

GUEST_SRCS := guest/vballoon.c guest/vballoon_compat.h guest/Kbuild \
	      include/vballoon_abi.h

# $(call guest_src,ARCH): populate $(BUILD)/ARCH/src with links.
define guest_src
	@mkdir -p $(BUILD)/$(1)/src
	@ln -sf $(TOP)/guest/vballoon.c $(TOP)/guest/vballoon_compat.h \
		$(TOP)/guest/Kbuild $(TOP)/include/vballoon_abi.h \
		$(BUILD)/$(1)/src/
endef

# The UML tree is prepared with modules_prepare only: it has no
# Module.symvers, so modpost cannot resolve the kernel's exports and would
# fail; it warns instead (the UML kernel resolves them at insmod).
UML_KBUILD := ARCH=um KBUILD_MODPOST_WARN=1

# $(call guest_ko,DIR,KDIR,KBUILD-ARGS): build $(BUILD)/DIR/vballoon.ko
# against the kernel tree KDIR.
define guest_ko
	$(call guest_src,$(1))
	$(MAKE) -C $(2) M=$(BUILD)/$(1)/src $(3) modules
	cp $(BUILD)/$(1)/src/vballoon.ko $(BUILD)/$(1)/vballoon.ko
endef

$(BUILD)/um/vballoon.ko: $(GUEST_SRCS)
	@test -n "$(VB_UML_KDIR)" -a -f "$(VB_UML_KDIR)/.config" || \
		{ echo "guest: no UML kernel tree at $(VB_UML_KDIR) (run make setup)"; exit 1; }
	$(call guest_ko,um,$(VB_UML_KDIR),$(UML_KBUILD))

$(BUILD)/x86_64/vballoon.ko: $(GUEST_SRCS)
	@test -n "$(VB_X86_KDIR)" -a -f "$(VB_X86_KDIR)/Makefile" || \
		{ echo "guest: no x86-64 headers at $(VB_X86_KDIR) (run make setup)"; exit 1; }
	$(call guest_ko,x86_64,$(VB_X86_KDIR))

# The same source against a second, newer Debian kernel (6.12, unpacked by
# make setup when the archive has one): test 206 runs it.
ifneq ($(VB_X86_ALT_KDIR),)
$(BUILD)/x86_64-alt/vballoon.ko: $(GUEST_SRCS)
	$(call guest_ko,x86_64-alt,$(VB_X86_ALT_KDIR))

ALL_TARGETS += $(BUILD)/x86_64-alt/vballoon.ko
endif

.PHONY: guest guest-um guest-x86_64 guest-checkpatch guest-dkms-src
guest: $(BUILD)/um/vballoon.ko $(BUILD)/x86_64/vballoon.ko
guest-um: $(BUILD)/um/vballoon.ko
guest-x86_64: $(BUILD)/x86_64/vballoon.ko

guest-checkpatch:
	perl $(VB_UML_KDIR)/scripts/checkpatch.pl --no-tree -q -f \
		guest/*.c guest/*.h

# A DKMS source tree: dkms add $(BUILD)/dkms/vballoon-<version>
VB_DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' guest/dkms.conf)
guest-dkms-src:
	rm -rf $(BUILD)/dkms/vballoon-$(VB_DKMS_VERSION)
	mkdir -p $(BUILD)/dkms/vballoon-$(VB_DKMS_VERSION)
	cp guest/vballoon.c guest/vballoon_compat.h guest/Kbuild guest/dkms.conf \
		include/vballoon_abi.h $(BUILD)/dkms/vballoon-$(VB_DKMS_VERSION)/
	@echo "dkms add $(BUILD)/dkms/vballoon-$(VB_DKMS_VERSION)"

ALL_TARGETS += $(BUILD)/um/vballoon.ko $(BUILD)/x86_64/vballoon.ko
