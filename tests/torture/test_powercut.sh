#!/bin/bash
# Power cuts: outpostd runs under tests/torture/powercut.c, which, right after
# the Nth write or flush of the store, writes what a power cut at that moment
# could leave on disk (everything flushed, O_DSYNC writes, a seeded random
# part of the rest, some writes torn at 512-byte sectors) and SIGKILLs it.
# That image replaces the store; it must open (mdb_stat -a, mdb_dump -a), and
# outpostd restarted on it must deliver every event the broker acknowledged
# to the publisher: lost 0, duplicates <= ambiguous. Only outpostd loses
# power: the broker still holds every event whose PUBACK had not gone out,
# so an event missing at the end was acknowledged before it was durable.
#
# The cut points are spread over the first three quarters of a run's store
# operations, as counted by a first run without faults (and by the later
# ones that ended before their cut: runs vary, the shortest one counts).
#   TORTURE=1 tests/torture/test_powercut.sh   the long form (100 cuts)
#   CUTS=30 EVENTS=500 ...                     other sizes
#   SEED=1234 [N_LIST="17 530"] ...            replays a run (same cut points
#                                              and torn-write choices; timing differs)
#   FRESH=8 ...                                cut 8 new stores at their first write
#                                              (op 1 or 2, before any commit; default 4)
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
. tests/torture/torture.sh
torture_setup powercut
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
if [ "${TORTURE:-0}" = 1 ]; then CUTS=${CUTS:-100}; else CUTS=${CUTS:-12}; fi
FRESH=${FRESH:-4}
started=$(date +%s)

# Counting run: how many store operations a round makes, without faults.
round_begin 0
round_start LD_PRELOAD="$TT_SO" OUTPOST_PC_DIR="$R_STORE" OUTPOST_PC_COUNT="$R_DIR/count" ||
	fail "counting run: outpostd exited $R_RC at start"
round_publish
round_finish
ops=$(count_of ops "$R_DIR/count")
[ -n "$ops" ] && [ "$ops" -gt 0 ] || fail "counting run: the shim counted no store operations"
[ "$R_LOST" -eq 0 ] || fail "counting run without faults lost $R_LOST events"
echo "powercut: seed $SEED, $EVENTS events per round, a run makes $(cat "$R_DIR/count")"

# cut_round I N [fresh]: round I, cut after store operation N.
cut_round() {
	local n=$2 pcseed=$RANDOM what="not reached" line c
	round_begin "$1" "${3:-}"
	if round_start LD_PRELOAD="$TT_SO" OUTPOST_PC_DIR="$R_STORE" OUTPOST_PC_CUT_AT="$n" \
		OUTPOST_PC_OUT="$R_DIR/image" OUTPOST_PC_SEED="$pcseed" \
		OUTPOST_PC_COUNT="$R_DIR/count"; then
		round_publish
		wait_for "! round_alive || [ \"\$(round_settled)\" -ge $EVENTS ]" 60 ||
			fail "cut $n: outpostd neither died nor settled the events"
	fi
	# Not cut yet: a quicker run than the counting one. The shutdown's
	# commits may still reach op n.
	round_alive && round_stop
	[ -n "$R_RC" ] || round_reap
	line=$(grep -o 'power cut after op .*' "$R_LOG" | tail -n 1)
	if [ -z "$line" ]; then
		[ "$R_RC" = 0 ] || fail "cut $n: outpostd exited $R_RC without being cut: $(tail -3 "$R_LOG")"
		missed=$((missed + 1))
		c=$(count_of ops "$R_DIR/count")
		[ "${c:-0}" -gt 0 ] && [ "$c" -lt "$ops" ] && ops=$c
		round_start || fail "cut $n: restart failed: $(tail -3 "$R_LOG")"
	else
		[ "$R_RC" = 137 ] ||
			fail "cut $n: outpostd exited $R_RC after the cut: $(tail -3 "$R_LOG")"
		what=$(sed 's/^[^(]*(\([a-z]*\) .*, \([0-9]*\) unflushed.*/\1, \2 unflushed/' <<<"$line")
		cuts=$((cuts + 1))
		cp "$R_DIR/image/"* "$R_STORE/" && rm -f "$R_STORE/lock.mdb" ||
			fail "cut $n: cannot install the image"
		# A store cut before its first commit is not an LMDB file yet;
		# outpostd must set it aside and create it again (store/store.c).
		if [ -n "${3:-}" ] && ! round_check_env "$R_STORE"; then
			echo "cut N=$n ($what): unborn store, outpostd must recreate it"
		elif ! round_check_env "$R_STORE"; then
			line=$(tail -1 "$R_DIR/mdb_stat.txt")
			bad+=("cut $n${3:+ ($3 store)}, seed $pcseed: the image does not open: $line")
			echo "cut N=$n ($what): ENV DOES NOT OPEN: $line"
			return
		fi
		if ! round_start; then
			bad+=("cut $n, seed $pcseed: outpostd exited $R_RC on the image")
			echo "cut N=$n ($what): OUTPOSTD DOES NOT START on the image: $(tail -2 "$R_LOG")"
			return
		fi
	fi
	round_finish
	printf 'cut N=%-5s (%s): events %s, lost %s, duplicated %s, ambiguous %s\n' \
		"$n" "$what" "$R_ACKED" "$R_LOST" "$R_DUPS" "$R_AMBIG"
	lost=$((lost + R_LOST)) dups=$((dups + R_DUPS)) ambig=$((ambig + R_AMBIG))
	[ "$R_LOST" -eq 0 ] || bad+=("cut $n, seed $pcseed: $R_LOST acknowledged events lost")
	[ "$R_DUPS" -le "$R_AMBIG" ] ||
		bad+=("cut $n, seed $pcseed: $R_DUPS duplicates but $R_AMBIG ambiguous")
	[ "$R_ACKED" -eq "$EVENTS" ] ||
		bad+=("cut $n: the broker acknowledged $R_ACKED of $EVENTS to the publisher")
}

cuts=0 missed=0 lost=0 dups=0 ambig=0 bad=()
i=0
if [ -n "${N_LIST:-}" ]; then
	for n in $N_LIST; do
		i=$((i + 1))
		cut_round "$i" "$n"
	done
else
	for pm in $(spread "$CUTS" 1 750); do # per mille of the run
		i=$((i + 1))
		cut_round "$i" $((1 + pm * ops / 1000))
	done
fi
# The creation window: cuts before the first commit of a new store.
for ((k = 0; k < FRESH; k++)); do
	i=$((i + 1))
	cut_round "$i" $((1 + k % 2)) fresh
done

summary="seed $SEED, $cuts cuts ($missed not reached), $EVENTS events each: lost $lost,"
summary+=" duplicated $dups, ambiguous $ambig, $(($(date +%s) - started)) s"
for b in "${bad[@]+"${bad[@]}"}"; do echo "  $b" >&2; done
[ "${#bad[@]}" -eq 0 ] || fail "$summary; ${#bad[@]} bad rounds"
[ "$cuts" -gt 0 ] || fail "$summary: no cut was reached"
pass "$summary"
