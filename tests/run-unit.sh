#!/bin/sh
# Runs each cmocka unit test binary and prints one closing summary line.
# UNIT_RUNNER: a command prefix, e.g. "qemu-arm -L /usr/arm-linux-gnueabihf"
# for a cross build's tests (tests/arm/check.sh).
pass=0; fail=0; failed=""
for t in "$@"; do
	# shellcheck disable=SC2086 # the runner is a command line
	if ${UNIT_RUNNER:-} "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $(basename "$t")"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
