#!/bin/bash
# Crash points: a crash build of outpostd (make CRASH=1, hal/crash.h) ends
# itself with _exit at each named point on a chosen pass, HITS times per
# point, while events stream in and the sim fails some requests; it is
# restarted after every crash. Map growth gets its own phase: a fresh store
# per hit, crashed at its first growth. Then every event the broker
# acknowledged must have reached the sim: 0 lost, duplicates <= ambiguous.
#
#   HITS=50 tests/torture/test_crashpoints.sh     # the long form
cd "$(dirname "$0")/../.." || exit 1
BUILD=${CRASH_BUILD:-build/crash}
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=crashpoints
e2e_setup crashpoints
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
HITS=${HITS:-5}
POINTS=(ingest-before-commit ingest-after-commit mqtt-before-puback mqtt-after-puback
	http-body-sent sender-after-sending-commit sender-before-sent-commit reconcile)
[ -x "$BUILD/outpostd" ] || fail "no crash build in $BUILD (make CRASH=1)"

start_broker
# 500s and dropped answers make ambiguous attempts for the reconcile point.
start_sim --latency-ms 2 --fail-rate 0.05 --drop-after-read 0.05
write_config '.sender.max_inflight = 8' '.sender.backoff_base_ms = 50' '.sender.backoff_cap_ms = 500'
# The first start registers the persistent session: from then on the broker
# keeps events for outpostd while it is down.
start_outpostd
stop_outpostd

# crash_run POINT PASS [PUBLISH-ARGS...]: runs outpostd until it crashes
# there, publishing once it is up so the events come in many small batches;
# 0 if it crashed at the point.
crash_run() {
	local point=$1 at=$2 pid rc pub=
	shift 2
	rm -f "$OUTPOST_SOCK"
	echo "--- crash run $point:$at $(date +%T.%N)" >>"$E2E_DIR/outpostd.log"
	OUTPOST_CRASH="$point:$at" "$BUILD/outpostd" -c "$OUTPOST_CONF" >>"$E2E_DIR/outpostd.log" 2>&1 &
	pid=$!
	E2E_PIDS+=("$pid")
	wait_for "! kill -0 $pid 2>/dev/null || [ \"\$(ctl status 2>/dev/null | jq -r .mqtt.connected)\" = true ]" 10
	if [ $# -gt 0 ]; then
		publish "$@" &
		pub=$!
	fi
	wait_for "! kill -0 $pid 2>/dev/null" 15 || kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	e2e_forget "$pid"
	[ -z "$pub" ] || wait "$pub" || fail "publisher failed"
	[ "$rc" -eq 86 ]
}

declare -A hits
total_amb=0
i=0
# Each crash run gets a burst of its own, so ingest and send points are
# reached at once, with the backlog of earlier bursts still to send.
for ((round = 1; round <= HITS; round++)); do
	for p in "${POINTS[@]}"; do
		i=$((i + 1))
		crash_run "$p" $((1 + RANDOM % 4)) -n 40 -r 200 --kind mixed --id-prefix "c$i-" \
			--log "$E2E_DIR/pub-c$i.log" && hits[$p]=$((${hits[$p]:-0} + 1))
	done
done
start_outpostd
want=$(cat "$E2E_DIR"/pub-c*.log | wc -l)
wait_for "[ \"\$((\$(outbox_count sent) + \$(outbox_count failed) + \$(outbox_count expired)))\" -ge $want ]" 120 ||
	fail "only $(outbox_count sent) of $want sent after the crash runs (seed $SEED)"
total_amb=$(ambiguous_total)
stop_outpostd

# Map growth: crash builds start the map at 1 MiB; 2,600 events pass it.
for ((h = 1; h <= HITS; h++)); do
	write_config '.sender.max_inflight = 8' ".store.path = \"$E2E_DIR/store-grow-$h\""
	crash_run store-map-grow 1 -n 2600 --kind payment --id-prefix "g$h-" --log "$E2E_DIR/pub-g$h.log" &&
		hits[store-map-grow]=$((${hits[store-map-grow]:-0} + 1))
	start_outpostd
	wait_for '[ "$(outbox_count sent)" -ge 2600 ]' 60 || fail "grow phase $h: only $(outbox_count sent) of 2600 sent"
	total_amb=$((total_amb + $(ambiguous_total)))
	stop_outpostd
done

summary=""
for p in "${POINTS[@]}" store-map-grow; do
	summary="$summary $p=${hits[$p]:-0}"
	[ "${hits[$p]:-0}" -ge "$HITS" ] || fail "crash point $p hit ${hits[$p]:-0} times, wanted $HITS (seed $SEED)"
done
published=$(cat "$E2E_DIR"/pub-*.log | wc -l)
total=$(sim_count)
uniq=$(sim_refs | sort -u | wc -l)
lost=$(comm -23 <(cut -f1 "$E2E_DIR"/pub-*.log | sort -u) <(sim_refs | sort -u) | wc -l)
dups=$((total - uniq))
echo "crash points: seed $SEED, hits:$summary"
echo "crash points: published $published, lost $lost, duplicates $dups, ambiguous $total_amb"
[ "$lost" -eq 0 ] || fail "$lost acknowledged events never reached the sim (seed $SEED)"
[ "$dups" -le "$total_amb" ] || fail "$dups duplicates but only $total_amb ambiguous (seed $SEED)"
pass "every crash point hit $HITS times: 0 lost, $dups duplicates <= $total_amb ambiguous"
