# SPDX-License-Identifier: GPL-2.0-or-later
# host/host.mk - vballoond, vballoonctl, host unit tests (cmocka), fuzzers.
#
# SAN=1 builds everything host-side with ASan + UBSan into $(BUILD)/san/
# so the sanitizer and the plain daemon coexist.
#   make                   -> $(BUILD)/vballoond, $(BUILD)/vballoonctl,
#                             $(BUILD)/tests/unit/test_*
#   make SAN=1             -> the same under $(BUILD)/san/
#   make host-unit         -> build and run the unit tests, check host-deps
#   make host-deps         -> the objects' call graph; fails on a cycle
#   make fuzz              -> $(BUILD)/fuzz/fuzz_* (clang libFuzzer)

HOST_OUT   := $(if $(filter 1,$(SAN)),$(BUILD)/san,$(BUILD))
HOST_OBJ   := $(HOST_OUT)/host/obj

JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
JSONC_LIBS   := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
CMOCKA_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

HOST_CFLAGS  := $(CFLAGS) $(WARN) $(SANFLAGS) -std=gnu11 \
		-Ihost/src -Iinclude $(JSONC_CFLAGS) -MMD -MP
HOST_LDFLAGS := $(SANFLAGS)

HOST_SRCS    := $(filter-out host/src/vballoonctl.c,$(wildcard host/src/*.c))
HOST_OBJS    := $(patsubst host/src/%.c,$(HOST_OBJ)/%.o,$(HOST_SRCS))
HOST_LIBOBJS := $(filter-out $(HOST_OBJ)/main.o,$(HOST_OBJS))
# Tests and fuzzers link an archive: each pulls in only the objects it
# uses, so a device test that came to need the transport would show.
HOST_LIB     := $(HOST_OBJ)/libvballoond.a
HOST_HELPERS := $(wildcard host/tests/*helpers.c)
HOST_HELPER_OBJS := $(patsubst host/tests/%.c,$(HOST_OBJ)/tests/%.o,$(HOST_HELPERS))
HOST_TESTS   := $(patsubst host/tests/%.c,$(HOST_OUT)/tests/unit/%,\
		  $(wildcard host/tests/test_*.c))

VBALLOOND    := $(HOST_OUT)/vballoond
VBALLOONCTL  := $(HOST_OUT)/vballoonctl

ALL_TARGETS += $(VBALLOOND) $(VBALLOONCTL) $(HOST_TESTS)

$(HOST_OBJ)/%.o: host/src/%.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(HOST_OBJ)/tests/%.o: host/tests/%.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -Ihost/tests -c -o $@ $<

$(VBALLOOND): $(HOST_OBJS)
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(JSONC_LIBS)

$(VBALLOONCTL): $(HOST_OBJ)/vballoonctl.o
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(JSONC_LIBS)

$(HOST_LIB): $(HOST_LIBOBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(HOST_OUT)/tests/unit/test_%: $(HOST_OBJ)/tests/test_%.o $(HOST_HELPER_OBJS) $(HOST_LIB)
	@mkdir -p $(@D)
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(JSONC_LIBS)

.PHONY: host host-unit host-deps fuzz fuzz-smoke
host: $(VBALLOOND) $(VBALLOONCTL) $(HOST_TESTS)

# Who calls whom among the daemon's objects; fails on a dependency cycle
# (docs/host-transport.md draws the graph).
host-deps: $(HOST_OBJS)
	@python3 host/depgraph.py $(HOST_OBJ)

# Run every host unit test; non-zero if any fails.
host-unit: $(HOST_TESTS) host-deps
	@fail=0; for t in $(HOST_TESTS); do \
		echo "== $$t"; $$t || fail=1; done; exit $$fail

# libFuzzer harnesses: host/fuzz/fuzz_*.c, linked with the daemon's objects
# rebuilt by clang with coverage instrumentation.
FUZZ_CC      ?= clang
FUZZ_OUT     := $(BUILD)/fuzz
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=undefined -std=gnu11 $(WARN) \
		-Ihost/src -Iinclude $(JSONC_CFLAGS) -MMD -MP \
		-DCTL_MAX_INPUT=65536
FUZZ_LIBOBJS := $(patsubst host/src/%.c,$(FUZZ_OUT)/obj/%.o,\
		  $(filter-out host/src/main.c,$(HOST_SRCS)))
FUZZERS      := $(patsubst host/fuzz/%.c,$(FUZZ_OUT)/%,$(wildcard host/fuzz/fuzz_*.c))

$(FUZZ_OUT)/obj/%.o: host/src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_OUT)/obj/fuzz/%.o: host/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ihost/tests -c -o $@ $<

# The fake guest (RAM file, rings, device bring-up) the unit tests use too.
FUZZ_HELPER_OBJS := $(patsubst host/tests/%.c,$(FUZZ_OUT)/obj/tests/%.o,$(HOST_HELPERS))

$(FUZZ_OUT)/obj/tests/%.o: host/tests/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ihost/tests -c -o $@ $<

$(FUZZ_OUT)/libvballoond.a: $(FUZZ_LIBOBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/fuzz/fuzz_%.o $(FUZZ_HELPER_OBJS) $(FUZZ_OUT)/libvballoond.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(JSONC_LIBS)

fuzz: $(FUZZERS)

# Short run of every fuzzer over its seed corpus (for make check).
FUZZ_RUNS ?= 2000
fuzz-smoke: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); \
		echo "== $$n ($(FUZZ_RUNS) runs)"; \
		mkdir -p $(FUZZ_OUT)/corpus/$$n; \
		$$f -runs=$(FUZZ_RUNS) -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus/$$n host/fuzz/corpus/$$n \
			>$(FUZZ_OUT)/$$n.log 2>&1 || { tail -30 $(FUZZ_OUT)/$$n.log; exit 1; }; \
	done

-include $(wildcard $(HOST_OBJ)/*.d $(HOST_OBJ)/tests/*.d $(FUZZ_OUT)/obj/*.d \
		    $(FUZZ_OUT)/obj/fuzz/*.d $(FUZZ_OUT)/obj/tests/*.d)
