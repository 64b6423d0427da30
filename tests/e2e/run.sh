#!/bin/bash
# Runs the end-to-end tests (tests/e2e/test_*.sh), each against real
# mosquitto, twilio-sim and outpostd on loopback. E2E_ONLY="a b" runs
# test_a.sh and test_b.sh only; E2E_SKIP="c d" leaves test_c.sh and
# test_d.sh out. Prints one closing summary line.
#   run.sh SCRIPT...   runs those test scripts instead, the same way (make
#                      reliability-check: tests/torture/test_*.sh).
#
# E2E_JOBS (default 2) tests run side by side: most of a test's time is
# waiting for deadlines and timers, and each has its own work dir
# ($BUILD/e2e/NAME), broker port, sim port and control socket (lib.sh).
# A test's output is held in $BUILD/e2e/NAME.out and printed whole when it
# ends, so lines never interleave. Two tests of E2E_APART never run at the
# same time (test_deb.sh and test_priv.sh add and delete users on the
# machine). The longest tests of the last run (build/e2e-times) start first,
# so that no long test is left alone at the end. E2E_JOBS=1 runs one at a
# time in name order, output as it comes.
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}"
export BUILD
jobs=${E2E_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: E2E_JOBS must be a number >= 1, not '$jobs'" >&2; exit 2; }
apart=" ${E2E_APART-deb priv} "
times=build/e2e-times
skip=" ${E2E_SKIP:-} "
tests=()
kind=e2e
if [ "$#" -gt 0 ]; then
	tests=("$@")
	kind=$(basename "$(dirname "$1")")
elif [ -n "${E2E_ONLY:-}" ]; then
	for t in $E2E_ONLY; do tests+=("tests/e2e/test_$t.sh"); done
else
	tests=(tests/e2e/test_*.sh)
fi
pass=0 fail=0 failed="" skipped="" timed=()

# result NAME RC SECONDS: counts a finished test; on failure shows the end
# of its outpostd.log.
result() {
	local name=$1 rc=$2 secs=$3 log
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $name"
		log="$BUILD/e2e/${name#test_}/outpostd.log"
		[ -f "$log" ] && { echo "--- last lines of $log"; tail -20 "$log"; }
	fi
	echo "    ($name: $secs s)"
	timed+=("$name $secs")
}

# One at a time, output as it comes.
if [ "$jobs" = 1 ]; then
	for t in "${tests[@]}"; do
		name=$(basename "$t" .sh)
		[[ $skip == *" ${name#test_} "* ]] && { skipped="$skipped ${name#test_}"; continue; }
		start=$(date +%s)
		rc=0
		bash "$t" || rc=$?
		result "$name" "$rc" $(($(date +%s) - start))
	done
else
	mkdir -p "$BUILD/e2e"
	declare -A running=() started=() # pid -> test name, start (s)
	# A test in the background, its output to NAME.out.
	launch() {
		local t=$1 name
		name=$(basename "$t" .sh)
		bash "$t" </dev/null >"$BUILD/e2e/$name.out" 2>&1 &
		running[$!]=$name
		started[$!]=$(date +%s)
	}
	# reap: waits for one running test and prints its output and result.
	reap() {
		local pid rc=0 name
		wait -n -p pid "${!running[@]}" || rc=$?
		name=${running[$pid]}
		cat "$BUILD/e2e/$name.out"
		result "$name" "$rc" $(($(date +%s) - ${started[$pid]}))
		unset "running[$pid]" "started[$pid]"
	}
	# Ctrl-C or a kill: the tests get SIGTERM (their traps stop what they
	# started; a background job ignores SIGINT).
	stop_all() {
		[ "${#running[@]}" -gt 0 ] && kill -TERM "${!running[@]}" 2>/dev/null
		wait
		exit 130
	}
	trap stop_all INT TERM
	# Longest first by the last run's seconds; tests not timed yet first.
	mapfile -t tests < <(for t in "${tests[@]}"; do
		n=$(basename "$t" .sh)
		echo "$(awk -v n="$n" '$1 == n { s = $2 } END { print (s == "" ? 1e9 : s) }' "$times" 2>/dev/null || echo 1e9) $t"
	done | sort -s -k1,1gr | cut -d' ' -f2-)
	queue=()
	for t in "${tests[@]}"; do
		name=$(basename "$t" .sh)
		[[ $skip == *" ${name#test_} "* ]] && { skipped="$skipped ${name#test_}"; continue; }
		queue+=("$t")
	done
	# apart_running: true if a test of E2E_APART runs now.
	apart_running() {
		local p
		for p in "${!running[@]}"; do
			[[ $apart == *" ${running[$p]#test_} "* ]] && return 0
		done
		return 1
	}
	while [ "${#queue[@]}" -gt 0 ]; do
		while [ "${#running[@]}" -ge "$jobs" ]; do reap; done
		# The first queued test that may start now.
		next=
		for i in "${!queue[@]}"; do
			name=$(basename "${queue[$i]}" .sh)
			if ! [[ $apart == *" ${name#test_} "* ]] || ! apart_running; then next=$i; break; fi
		done
		[ -n "$next" ] || { reap; continue; }
		launch "${queue[$next]}"
		unset "queue[$next]"
		queue=("${queue[@]}")
	done
	while [ "${#running[@]}" -gt 0 ]; do reap; done
	trap - INT TERM
fi
# This run's seconds replace the last ones (the order of the next run).
if [ "${#timed[@]}" -gt 0 ]; then
	{ printf '%s\n' "${timed[@]}"; cat "$times" 2>/dev/null; } | awk '!seen[$1]++' | sort >"$times.tmp" &&
		mv "$times.tmp" "$times"
fi
[ "$kind" = e2e ] && label=end-to-end || label=$kind
echo "$label tests against $BUILD${skipped:+ (left out:$skipped)}:"
echo "$kind: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
