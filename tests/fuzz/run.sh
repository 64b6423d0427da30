#!/bin/bash
# run.sh DIR JOBS check|long SECONDS NAME... - runs the fuzz targets built in
# DIR (tests/fuzz/fuzz.mk), JOBS at a time, and prints one line per target.
#
# check: replays every file of tests/fuzz/corpus/NAME one by one, then fuzzes
#        SECONDS in a scratch corpus (DIR/check-NAME, emptied first) so that
#        the committed corpus is never written to.
# long:  fuzzes SECONDS with DIR/corpus-NAME as the working corpus (kept
#        between runs, seeded from the committed one).
# Crash, leak and timeout inputs go to DIR/crashes/NAME-*; the full log of a
# target is DIR/NAME.log. Exits 1 if any target failed.
set -u

dir=$1 jobs=$2 mode=$3 secs=$4
shift 4
here=$(dirname "$0")
mkdir -p "$dir/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A target's summary from libFuzzer's final stats and its last status line.
summary() {
	local name=$1 log=$2 rc=$3 runs eps cov
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ "$rc" = 0 ]; then
		printf '  FUZZ  %-7s ok   %9s runs %7s/s  %-10s %ss\n' "$name" "${runs:-?}" \
			"${eps:-?}" "${cov:-cov: ?}" "$secs"
	else
		printf '  FUZZ  %-7s FAIL (exit %s), see %s\n' "$name" "$rc" "$log"
		grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|FUZZ_ASSERT' \
			"$log" | sed 's/^/        /'
		grep -m1 -E 'Test unit written to' "$log" | sed 's/^/        /'
		grep -E '^Running: ' "$log" | tail -1 | sed 's/^/        /'
	fi
}

# One target: replay (check mode), then fuzz. Output only to its log.
one() {
	local name=$1 bin="$dir/fuzz_$1" seeds="$here/corpus/$1" log="$dir/$1.log" work
	local opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$dir/crashes/$name-")
	[ -f "$here/$name.dict" ] && opts+=(-dict="$here/$name.dict")
	: >"$log"
	if [ "$mode" = check ]; then
		work="$dir/check-$name"
		rm -rf "$work"
		if ! "$bin" -runs=1 "${opts[@]}" "$seeds"/* >>"$log" 2>&1; then
			return 1
		fi
	else
		work="$dir/corpus-$name"
	fi
	mkdir -p "$work"
	"$bin" "${opts[@]}" "$work" "$seeds" >>"$log" 2>&1
}

names=("$@")
failed=0
for name in "${names[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	rm -f "$dir/$name.rc"
	(
		one "$name"
		echo $? >"$dir/$name.rc"
	) &
done
wait
for name in "${names[@]}"; do
	rc=$(cat "$dir/$name.rc" 2>/dev/null || echo '?')
	summary "$name" "$dir/$name.log" "$rc"
	[ "$rc" = 0 ] || failed=1
done
exit $failed
