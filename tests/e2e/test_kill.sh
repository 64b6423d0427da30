#!/bin/bash
# Ack after commit: SIGKILL outpostd at random moments while 2,000 events are
# published, restarting it each time -> 0 lost; duplicates only for requests
# that were in flight at a kill (counted as ambiguous), printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup kill
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
KILLS=${KILLS:-25}
start_broker
start_sim --latency-ms 5
write_config '.sender.concurrency = 8'
start_outpostd

publish -n 2000 -r 250 --kind mixed --id-prefix k --log "$E2E_DIR/pub.log" &
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
[ "$acked" -eq 2000 ] || fail "broker acknowledged $acked of 2000 to the publisher"
wait_for '[ "$(ctl status | jq ".outbox.sent + .outbox.failed + .outbox.expired")" -ge 2000 ]' 90 ||
	fail "only $(outbox_count sent) sent after $KILLS kills (seed $SEED)"
ambiguous=$(ambiguous_total)

total=$(sim_count)
uniq=$(sim_refs | sort -u | wc -l)
lost=$(comm -23 <(cut -f1 "$E2E_DIR/pub.log" | sort -u) <(sim_refs | sort -u) | wc -l)
dups=$((total - uniq))
echo "kill test: seed $SEED, $KILLS kills, 2000 published, lost $lost, duplicates $dups, ambiguous $ambiguous"
[ "$lost" -eq 0 ] || fail "$lost acknowledged events never reached the sim (seed $SEED)"
[ "$uniq" -eq 2000 ] || fail "sim has $uniq distinct events, expected 2000 (seed $SEED)"
[ "$dups" -le "$ambiguous" ] || fail "$dups duplicates but only $ambiguous ambiguous sends (seed $SEED)"
pass "$KILLS kills: 0 lost, $dups duplicates <= $ambiguous ambiguous"
