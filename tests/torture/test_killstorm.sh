#!/bin/bash
# Random kill -9: KILLS SIGKILLs of outpostd at random moments while EVENTS
# events stream in, each followed by a restart, with twilio-sim failing 2%
# of creates with 500, dropping the connection after reading 1% (accepted,
# answer lost: the ambiguous case), rate-limiting with 429 above 400/s and
# answering 3 ms late. Then: 0 lost, 0 unexpected, duplicates <= ambiguous.
#
#   KILLS=2000 EVENTS=200000 tests/torture/test_killstorm.sh   # long form
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=killstorm
e2e_setup killstorm
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
KILLS=${KILLS:-200}
EVENTS=${EVENTS:-20000}
echo "kill storm: seed $SEED, $KILLS kills, $EVENTS events"

start_broker
start_sim --latency-ms 3 --fail-rate 0.02 --drop-after-read 0.01 --rate-limit 400 --seed "$SEED"
write_config '.sender.max_inflight = 8' '.sender.backoff_base_ms = 50' '.sender.backoff_cap_ms = 1000' \
	'.sender.max_attempts = 1000'
start_outpostd
# Spread the events over the kills: about 0.5 s per kill and restart.
rate=$((EVENTS * 2 / KILLS))
publish -n "$EVENTS" -r "$rate" --kind mixed --id-prefix s --log "$E2E_DIR/pub.log" &
PUB=$!
for ((k = 1; k <= KILLS; k++)); do
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	kill -KILL "$OUTPOSTD_PID"
	wait "$OUTPOSTD_PID" 2>/dev/null
	e2e_forget "$OUTPOSTD_PID"
	start_outpostd
done
wait $PUB || fail "publisher failed"
acked=$(wc -l <"$E2E_DIR/pub.log")
[ "$acked" -eq "$EVENTS" ] || fail "broker acknowledged $acked of $EVENTS to the publisher"
wait_for "[ \"\$((\$(outbox_count sent) + \$(outbox_count failed) + \$(outbox_count expired)))\" -ge $EVENTS ]" 300 ||
	fail "only $(outbox_count sent) of $EVENTS sent after $KILLS kills (seed $SEED)"
stop_outpostd || fail "outpostd did not stop cleanly"
if [ -x "$BUILD/outpost-check" ]; then
	"$BUILD/outpost-check" --strict --seed "$SEED" --pub-log "$E2E_DIR/pub.log" --sim-record "$SIM_RECORD" \
		--store "$E2E_DIR/store" || fail "checker failed (seed $SEED)"
	pass "$KILLS kills over $EVENTS events: checker passed"
else
	start_outpostd
	ambiguous=$(ambiguous_total)
	total=$(sim_count)
	uniq=$(sim_refs | sort -u | wc -l)
	lost=$(comm -23 <(cut -f1 "$E2E_DIR/pub.log" | sort -u) <(sim_refs | sort -u) | wc -l)
	dups=$((total - uniq))
	echo "kill storm: lost $lost, duplicates $dups, ambiguous $ambiguous"
	[ "$lost" -eq 0 ] || fail "$lost acknowledged events never reached the sim (seed $SEED)"
	[ "$dups" -le "$ambiguous" ] || fail "$dups duplicates but only $ambiguous ambiguous (seed $SEED)"
	pass "$KILLS kills over $EVENTS events: 0 lost, $dups duplicates <= $ambiguous ambiguous"
fi
