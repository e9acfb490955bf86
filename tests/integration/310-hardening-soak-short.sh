#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Short form of `make soak` (hardening/soak.sh): 2 UML guests (in-tree
# driver and vballoon.ko) verifying patterned memory for SOAK_SECS (75)
# while targets, hint rounds, stats and reporting churn at random.  Zero
# corruptions, zero daemon crashes, consistent accounting.
# vb-test: timeout=400
here=$(dirname "$0")
SOAK_SECS=${SOAK_SECS:-75} SOAK_GUESTS=${SOAK_GUESTS:-2} SOAK_PAUSE=${SOAK_PAUSE:-1} \
	exec "$here/../../hardening/soak.sh"
