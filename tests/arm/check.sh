#!/bin/bash
# make check-arm: for each ARM target, its unit tests under qemu-user, then
# the end-to-end core path (test_flow) and a short kill storm with the ARM
# outpostd and outpostctl under qemu against the native mosquitto,
# twilio-sim and publisher, and the core path with the static build; then
# the armhf ABI check and the store format across word sizes.
#   tests/arm/check.sh TRIPLET...   (the Makefile builds everything first)
# ARM_KILLS, ARM_EVENTS: the kill storm's size (20 kills over 2,000 events).
cd "$(dirname "$0")/../.." || exit 1
. tests/arm/emu.sh
: "${ARM_KILLS:=20}" "${ARM_EVENTS:=2000}"
pass=0 fail=0 failed=""

step() { # NAME CMD...
	local name=$1 start=$SECONDS
	shift
	echo "--- $name"
	if "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $name"
	fi
	echo "    ($name: $((SECONDS - start)) s)"
}

for t in "$@"; do
	emu_cmd "$t" || exit 1
	dir=$(emu_dir "$t") || exit 1
	step "$t:unit" env UNIT_RUNNER="${EMU[*]}" tests/run-unit.sh "build/$t"/tests/test_*
	step "$t:e2e-flow" env BUILD="$dir" E2E_ONLY=flow tests/e2e/run.sh
	step "$t:killstorm" env BUILD="$dir" KILLS="$ARM_KILLS" EVENTS="$ARM_EVENTS" \
		bash tests/torture/test_killstorm.sh
	# The static build (make STATIC=1): the core path.
	sdir=$(emu_dir "$t" "build/$t/static") || exit 1
	step "$t:static-flow" env BUILD="$sdir" E2E_ONLY=flow tests/e2e/run.sh
done
[[ " $* " == *" arm-linux-gnueabihf "* ]] && step "armhf-abi" bash tests/arm/abi.sh
step "store-format" bash tests/arm/test_store_format.sh "$@"
echo "check-arm: $*"
echo "arm: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
