# SPDX-License-Identifier: GPL-2.0-or-later
# broker/broker.mk - vballoon-broker and its unit tests (cmocka).
#   make                        -> $(BUILD)/vballoon-broker,
#                                  $(BUILD)/tests/unit/test_broker_*
#   make broker-unit            -> build and run the broker's unit tests
# Uses host/host.mk's flags, output dirs and its log.c (one logger).

BROKER_OBJ   := $(HOST_OUT)/broker/obj
BROKER_SRCS  := $(wildcard broker/src/*.c)
BROKER_OBJS  := $(patsubst broker/src/%.c,$(BROKER_OBJ)/%.o,$(BROKER_SRCS)) $(HOST_OBJ)/log.o
BROKER_LIBOBJS := $(filter-out $(BROKER_OBJ)/main.o,$(BROKER_OBJS))
BROKER_TESTS := $(patsubst broker/tests/%.c,$(HOST_OUT)/tests/unit/%,\
		  $(wildcard broker/tests/test_broker_*.c))
VBALLOON_BROKER := $(HOST_OUT)/vballoon-broker
BROKER_CFLAGS := $(HOST_CFLAGS) -Ibroker/src -Werror

ALL_TARGETS += $(VBALLOON_BROKER) $(BROKER_TESTS)

$(BROKER_OBJ)/%.o: broker/src/%.c
	@mkdir -p $(@D)
	$(CC) $(BROKER_CFLAGS) -c -o $@ $<

$(BROKER_OBJ)/tests/%.o: broker/tests/%.c
	@mkdir -p $(@D)
	$(CC) $(BROKER_CFLAGS) -c -o $@ $<

$(VBALLOON_BROKER): $(BROKER_OBJS)
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(JSONC_LIBS) -lm

$(HOST_OUT)/tests/unit/test_broker_%: $(BROKER_OBJ)/tests/test_broker_%.o $(BROKER_LIBOBJS)
	@mkdir -p $(@D)
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(JSONC_LIBS) -lm

.PHONY: broker broker-unit
broker: $(VBALLOON_BROKER) $(BROKER_TESTS)

broker-unit: $(BROKER_TESTS)
	@fail=0; for t in $(BROKER_TESTS); do \
		echo "== $$t"; $$t || fail=1; done; exit $$fail

-include $(wildcard $(BROKER_OBJ)/*.d $(BROKER_OBJ)/tests/*.d)
