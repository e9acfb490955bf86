# SPDX-License-Identifier: GPL-2.0-or-later
# tools/tools.mk - guest-side tools.  vb-workload runs inside the UML and the
# x86-64 guests, whose root has no libc: it is linked statically.

VB_WORKLOAD := $(BUILD)/vb-workload
ALL_TARGETS += $(VB_WORKLOAD)

$(VB_WORKLOAD): tools/workload/vb-workload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -static -o $@ $<

.PHONY: workload
workload: $(VB_WORKLOAD)
