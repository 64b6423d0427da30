#!/bin/bash
# I/O errors: outpostd runs under tests/torture/powercut.c, which fails one
# operation on the store with EIO: the Nth write (write, pwrite, writev,
# ftruncate), the Nth fsync/fdatasync, or the Nth write of lmdb's meta page
# (through its O_DSYNC fd). Every other round the operation is done first and
# then reported as failed, as a kernel does when writeback fails and the page
# cache keeps the new bytes. outpostd must then exit by itself with a non-zero
# status (not hang, not die of a signal) within EXIT_WAIT (10) s, leave a
# store that opens (mdb_stat -a, mdb_dump -a), and, restarted without the
# shim, deliver every event the broker acknowledged: lost 0, duplicates <=
# ambiguous.
#
# N is spread over the first three quarters of each kind's operations in a
# run, as counted by a first run without faults (and by later ones that ended
# before their fault: runs vary, the shortest one counts).
#   TORTURE=1 tests/torture/test_ioerr.sh     the long form (99 faults)
#   ERRS=30 EVENTS=500 ...                    other sizes
#   SEED=1234 ...                             the same fault points again
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
. tests/torture/torture.sh
torture_setup ioerr
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
if [ "${TORTURE:-0}" = 1 ]; then ERRS=${ERRS:-99}; else ERRS=${ERRS:-12}; fi
EXIT_WAIT=${EXIT_WAIT:-10}
started=$(date +%s)

# per[KIND]: operations of that kind in the shortest fault-free run so far.
declare -A per
# learn FILE: takes the shim's counts of a run that finished without a fault.
learn() {
	local kind n
	for kind in writes syncs meta; do
		n=$(count_of "$kind" "$1")
		[ "${n:-0}" -gt 0 ] || continue
		[ -z "${per[$kind]:-}" ] || [ "$n" -lt "${per[$kind]}" ] && per[$kind]=$n
	done
}

round_begin 0
round_start LD_PRELOAD="$TT_SO" OUTPOST_PC_DIR="$R_STORE" OUTPOST_PC_COUNT="$R_DIR/count" ||
	fail "counting run: outpostd exited $R_RC at start"
round_publish
round_finish
learn "$R_DIR/count"
[ "${per[writes]:-0}" -gt 0 ] && [ "${per[syncs]:-0}" -gt 0 ] && [ "${per[meta]:-0}" -gt 0 ] ||
	fail "counting run: the shim counted no store operations"
[ "$R_LOST" -eq 0 ] || fail "counting run without faults lost $R_LOST events"
echo "ioerr: seed $SEED, $EVENTS events per round, a run makes $(cat "$R_DIR/count")"

# A third of the faults on each kind; the points are per mille of the run.
points=()
for pm in $(spread $(((ERRS + 2) / 3)) 1 750); do points+=("write:$pm"); done
for pm in $(spread $(((ERRS + 1) / 3)) 1 750); do points+=("fsync:$pm"); done
for pm in $(spread $((ERRS / 3)) 1 750); do points+=("meta:$pm"); done
declare -A count_name=([write]=writes [fsync]=syncs [meta]=meta)

# fault_round I KIND N MODE: round I, EIO at the Nth operation of KIND.
fault_round() {
	local op=$2 n=$3 mode=$4 injected fault_rc
	round_begin "$1"
	if round_start LD_PRELOAD="$TT_SO" OUTPOST_PC_DIR="$R_STORE" OUTPOST_IOERR_AT="$n" \
		OUTPOST_IOERR_OP="$op" OUTPOST_IOERR_MODE="$mode" OUTPOST_PC_COUNT="$R_DIR/count"; then
		round_publish
		wait_for "! round_alive || grep -q 'EIO injected' '$R_LOG' ||
			[ \"\$(round_settled)\" -ge $EVENTS ]" 60 ||
			fail "$op #$n: outpostd neither failed nor settled the events"
	fi
	if round_alive && grep -q 'EIO injected' "$R_LOG" && ! wait_for '! round_alive' "$EXIT_WAIT"; then
		bad+=("$op #$n $mode: outpostd still running $EXIT_WAIT s after EIO")
	fi
	# Not failed yet: a quicker run than the counting one. The shutdown's
	# commits may still reach op n.
	round_alive && round_stop
	[ -n "$R_RC" ] || round_reap
	injected=$(grep -c 'EIO injected' "$R_LOG")
	if [ "$injected" != 0 ]; then
		faults=$((faults + 1))
		statuses="$statuses $R_RC"
		[ "$R_RC" -ge 1 ] && [ "$R_RC" -le 127 ] ||
			bad+=("$op #$n $mode: exit status $R_RC after EIO (want 1..127)")
	else
		[ "$R_RC" = 0 ] || fail "$op #$n: outpostd exited $R_RC without a fault: $(tail -3 "$R_LOG")"
		missed=$((missed + 1))
		learn "$R_DIR/count"
	fi
	fault_rc=$R_RC
	round_check_env "$R_STORE" ||
		bad+=("$op #$n $mode: the store does not open: $(tail -1 "$R_DIR/mdb_stat.txt")")
	round_start || fail "$op #$n: restart without faults exited $R_RC: $(tail -3 "$R_LOG")"
	round_finish
	printf '%-5s #%-5s %-6s: %s, exit %s; events %s, lost %s, duplicated %s, ambiguous %s\n' \
		"$op" "$n" "$mode" "$([ "$injected" != 0 ] && echo EIO || echo 'not reached')" \
		"$fault_rc" "$R_ACKED" "$R_LOST" "$R_DUPS" "$R_AMBIG"
	lost=$((lost + R_LOST)) dups=$((dups + R_DUPS)) ambig=$((ambig + R_AMBIG))
	[ "$R_LOST" -eq 0 ] || bad+=("$op #$n $mode: $R_LOST acknowledged events lost")
	[ "$R_DUPS" -le "$R_AMBIG" ] || bad+=("$op #$n $mode: $R_DUPS duplicates but $R_AMBIG ambiguous")
	[ "$R_ACKED" -eq "$EVENTS" ] ||
		bad+=("$op #$n: the broker acknowledged $R_ACKED of $EVENTS to the publisher")
}

faults=0 missed=0 lost=0 dups=0 ambig=0 bad=() statuses=""
i=0
for p in "${points[@]}"; do
	i=$((i + 1))
	op=${p%%:*} pm=${p#*:}
	fault_round "$i" "$op" $((1 + pm * ${per[${count_name[$op]}]} / 1000)) \
		"$([ $((i % 2)) = 1 ] && echo before || echo after)"
done

statuses=$(tr ' ' '\n' <<<"$statuses" | sort -n | uniq -c | awk 'NF == 2 { printf " %s (x%s)", $2, $1 }')
summary="seed $SEED, $faults faults ($missed not reached), exit status${statuses:- none};"
summary+=" $EVENTS events each: lost $lost, duplicated $dups, ambiguous $ambig,"
summary+=" $(($(date +%s) - started)) s"
for b in "${bad[@]+"${bad[@]}"}"; do echo "  $b" >&2; done
[ "${#bad[@]}" -eq 0 ] || fail "$summary; ${#bad[@]} bad rounds"
[ "$faults" -gt 0 ] || fail "$summary: no fault was reached"
pass "$summary"
