#!/bin/bash
# Runs the end-to-end tests (tests/e2e/test_*.sh), each against real
# mosquitto, twilio-sim and outpostd on loopback. E2E_ONLY="a b" runs
# test_a.sh and test_b.sh only. Prints one closing summary line.
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}"
export BUILD
tests=()
if [ -n "${E2E_ONLY:-}" ]; then
	for t in $E2E_ONLY; do tests+=("tests/e2e/test_$t.sh"); done
else
	tests=(tests/e2e/test_*.sh)
fi
pass=0 fail=0 failed=""
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	if bash "$t"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $name"
		log="$BUILD/e2e/${name#test_}/outpostd.log"
		[ -f "$log" ] && { echo "--- last lines of $log"; tail -20 "$log"; }
	fi
	echo "    ($name: $(($(date +%s) - start)) s)"
done
echo "end-to-end tests against $BUILD:"
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
