# SPDX-License-Identifier: GPL-2.0-or-later
# bench/bench.mk - `make bench` (not part of `make all`).
#   make bench                     full run, results/ (duration: docs/results.md)
#   make bench BENCH_SMOKE=1       tiny sizes, seconds per section
#   make bench BENCH_ONLY=REGEX    only the sections whose name matches
# Results: results/bench-<date>.json (raw numbers), results/latest.md,
# results/*.png.  See docs/results.md.

PUNCH_FLOOR := $(BUILD)/bench/punch-floor

$(PUNCH_FLOOR): bench/punch-floor.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -o $@ $<

.PHONY: bench bench-tools
bench-tools: $(PUNCH_FLOOR)

bench:
	@$(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory all bench-tools
	@bench/run
