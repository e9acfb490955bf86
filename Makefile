# SPDX-License-Identifier: GPL-2.0-or-later
# vballoon top-level Makefile.  Each part of the tree owns a fragment:
#   host/host.mk    vballoond, vballoonctl, host unit tests, fuzzers
#   broker/broker.mk  vballoon-broker and its unit tests
#   guest/guest.mk  vballoon.ko for ARCH=um and x86-64 (Kbuild in guest/)
#   tools/tools.mk  guest-side tools (static workload binary)
#   tests/tests.mk  the test runner behind `make check`
#   bench/bench.mk  `make bench`
# Fragments add their default build products to ALL_TARGETS.

.DEFAULT_GOAL := all
SHELL := /bin/bash

TOP      := $(abspath .)
BUILD    ?= $(TOP)/build
# Kernel trees and other downloads live outside git.
VB_CACHE ?= $(HOME)/.cache/vballoon
export VB_CACHE BUILD TOP

# make's built-in default for CC is cc, so `CC ?= gcc` would never apply:
# replace only that default, keep CC from the command line or environment.
ifeq ($(origin CC),default)
CC      := gcc
endif
# SAN=1: ASan + UBSan build of the host code (used by the integration tests).
SAN     ?= 0
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2
# WERROR=1: warnings are errors (CI builds this way; the tree is warning-clean).
ifeq ($(WERROR),1)
WARN    += -Werror
endif
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

ALL_TARGETS :=

# Plain include: a missing fragment is an error, not a silently smaller build.
include host/host.mk
include broker/broker.mk
include tools/tools.mk
include guest/guest.mk
include tests/tests.mk
include bench/bench.mk
include hardening/hardening.mk

.PHONY: all setup check demo bench clean
all: $(ALL_TARGETS)

# Idempotent: installs packages and prepares kernel trees once.
setup:
	@testbed/setup.sh

clean:
	rm -rf $(BUILD)
