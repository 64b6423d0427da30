# Torture tests for power cuts and I/O errors, included by the Makefile.
#   tests/torture/powercut.c        LD_PRELOAD shim: cuts power after the Nth write or flush
#                                   of the store (image of what the disk could hold), or
#                                   fails the Nth write, fsync or meta-page write with EIO
#   tests/torture/test_powercut.sh  every event acknowledged before a cut survives it
#   tests/torture/test_ioerr.sh     an I/O error stops outpostd (exit 1), a restart loses nothing
# make torture-check   the quick forms (12 cuts, 12 I/O errors, ~35 s each)
# make torture         the long forms (TORTURE=1: 100 cuts, 99 I/O errors; ~5 min each)
# SEED=... replays a run's choice of cut points and torn writes.

TORTURE_SO := $(BUILD)/tests/powercut.so
# Not CFLAGS: the shim is a test tool, built without the project's include
# paths, dependency files or sanitizers (an ASan binary will not take an
# LD_PRELOAD ahead of its runtime).
TORTURE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wmissing-declarations \
	-Wformat=2 -D_GNU_SOURCE -fPIC -shared

$(TORTURE_SO): tests/torture/powercut.c tests/torture/torture.mk
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  SHIM  $@";)$(CC) $(TORTURE_CFLAGS) -o $@ $< -ldl -lpthread

.PHONY: torture-bins torture-check torture
torture-bins: all $(TORTURE_SO)

torture-check: torture-bins
	@BUILD=$(BUILD) tests/torture/test_powercut.sh
	@BUILD=$(BUILD) tests/torture/test_ioerr.sh

# The long forms of every zero-loss test (docs/RELIABILITY.md); about an hour.
torture: torture-bins
	@$(MAKE) --no-print-directory CRASH=1 all
	@CRASH_BUILD=build/crash HITS=50 tests/torture/test_crashpoints.sh
	@CRASH_BUILD=build/crash HITS=50 tests/torture/test_vaultcrash.sh
	@BUILD=$(BUILD) KILLS=2000 EVENTS=200000 tests/torture/test_killstorm.sh
	@BUILD=$(BUILD) tests/torture/test_diskfull.sh
	@BUILD=$(BUILD) RESTARTS=200 tests/torture/test_broker.sh
	@BUILD=$(BUILD) EVENTS=20000 tests/torture/test_poison.sh
	@BUILD=$(BUILD) EVENTS=20000 tests/torture/test_clock.sh
	@BUILD=$(BUILD) TORTURE=1 tests/torture/test_powercut.sh
	@BUILD=$(BUILD) TORTURE=1 tests/torture/test_ioerr.sh
