#!/bin/bash
# Flood control (docs/ALERTING.md).
#  1. Coalescing: 1,000 alerts for one recipient and zone inside a 4 s window
#     (route alerts: coalesce by "{zone}"), and 5 for another zone: per
#     zone, the first goes at once and one digest at the window's end, with
#     the newest event's fields and "_more" (the events besides it) in a
#     variable: 4 messages for 1,005 events. Every event keeps a record: the
#     folded ones are suppressed and name their digest. The zero-loss
#     checker accounts for all 1,005 (coalesced, none lost).
#  2. The hourly cap: 10 tickets to one recipient with max_per_hour 3: 3 go;
#     "digest" folds the other 7 into one message due at the hour's end,
#     "drop" suppresses them with the reason, "hold" keeps them queued until
#     the next hour.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup flood
start_broker
start_sim
TO=+14155550177
write_config '(.routes[] | select(.name == "alerts")) |= (.coalesce = {"key": "{zone}", "window": "4s"} | .vars["3"] = "{level} +{_more}")'
start_outpostd

# 1. Coalescing. mosquitto_pub -l: one QoS 1 message per line, all acked
# before it exits.
for i in $(seq 1 1000); do
	printf '{"id":"fl-%d","panel":"North door","zone":"1","level":"alarm","notify":["%s"]}\n' "$i" "$TO"
done >"$E2E_DIR/flood.jsonl"
for i in $(seq 1 5); do
	printf '{"id":"z2-%d","panel":"Loading bay","zone":"2","level":"warning","notify":["%s"]}\n' "$i" "$TO"
done >>"$E2E_DIR/flood.jsonl"
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t site/1/alerts/door -l <"$E2E_DIR/flood.jsonl" ||
	fail "mosquitto_pub failed"
awk -F'"' '{print $4 "\t0\t0"}' "$E2E_DIR/flood.jsonl" >"$E2E_DIR/pub.log"
wait_for '[ "$(sim_count)" -ge 2 ]' 10 || fail "the first of each zone did not go at once: $(sim_count) sent"
[ "$(sim_count)" = 2 ] || fail "$(sim_count) messages before the window ended, want 2"
wait_for '[ "$(sim_count)" -ge 4 ]' 15 || fail "no digests at the window's end: $(sim_count) sent"
sleep 1
[ "$(sim_count)" = 4 ] || fail "$(sim_count) messages for 1,005 events in 2 zones, want 4"
digest=$(jq -c 'select(.vars["4"] == "fl-1000") | .vars' "$SIM_RECORD")
[ "$(jq -r '.["3"]' <<<"$digest")" = "alarm +998" ] || fail "zone 1's digest: $digest (want \"alarm +998\", the newest)"
[ "$(jq -r 'select(.vars["4"] == "z2-5") | .vars["3"]' "$SIM_RECORD")" = "warning +3" ] ||
	fail "zone 2's digest: $(jq -c .vars "$SIM_RECORD" | tail -2)"
[ "$(jq -r 'select(.vars["4"] == "fl-1") | .vars["3"]' "$SIM_RECORD")" = "alarm +0" ] ||
	fail "zone 1's first: $(jq -c .vars "$SIM_RECORD" | head -1)"
rec=$(ctl outbox --before 501 --limit 1 | jq -c '.messages[0]')
[ "$(jq -r .state <<<"$rec")" = suppressed ] && jq -r .error <<<"$rec" | grep -q "coalesced into message #[0-9]* (event fl-2" ||
	fail "a folded event's record: $rec"
[ "$(ctl status | jq .counters.coalesced)" = 1003 ] ||
	fail "counters.coalesced $(ctl status | jq .counters.coalesced), want 999 + 4"
st=$(ctl stats --by route --days 1 | jq -c '.rows[] | select(.key == "alerts") | [.events, .coalesced, .suppressed, .sent]')
[ "$st" = "[1005,1003,1001,4]" ] || fail "statistics of route alerts [events, coalesced, suppressed, sent]: $st"
stop_outpostd || fail "outpostd exited non-zero"
out=$("$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub.log" --sim-record "$SIM_RECORD" \
	--store "$E2E_DIR/store" 2>&1) || fail "checker: $out"
grep -q "published 1005 .* lost 0 .* coalesced 1003 -> PASS" <<<"$out" || fail "checker: $out"

# 2. The hourly cap, one route per over_cap, the store of part 1 kept.
k=0
for how in digest drop hold; do
	k=$((k + 1)) # a recipient of its own
	write_config ".routes += [{\"name\": \"capped\", \"topic\": \"site/+/$how/#\", \"template\": \"ticket_ready\", \"to\": \"{phone}\", \"max_per_hour\": 3, \"over_cap\": \"$how\", \"vars\": {\"1\": \"{ticket} +{_more}\", \"2\": \"{counter}\", \"3\": \"{id}\"}}]"
	start_outpostd
	for i in $(seq 1 10); do
		printf '{"id":"%s-%d","ticket":"A-%d","counter":"2","phone":"+1415555%04d"}\n' "$how" "$i" "$i" "$((200 + k))"
	done | mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "site/1/$how/x" -l || fail "mosquitto_pub failed"
	wait_for "[ \"\$(sim_refs | grep -c '^$how-')\" -ge 3 ]" 10 || fail "$how: the first 3 did not go"
	sleep 1
	[ "$(sim_refs | grep -c "^$how-")" = 3 ] || fail "$how: $(sim_refs | grep -c "^$how-") sent past a cap of 3"
	states=$(ctl outbox --limit 1000 | jq -r --arg p "$how-" '[.messages[] | select(.event_id | startswith($p)) | .state] | group_by(.) | map("\(.[0]) \(length)") | join(", ")')
	case $how in
	digest) want="queued 1, sent 3, suppressed 6" ;;
	drop) want="sent 3, suppressed 7" ;;
	hold) want="queued 7, sent 3" ;;
	esac
	[ "$states" = "$want" ] || fail "over_cap $how: $states, want $want"
	ctl outbox --limit 1000 | jq -r --arg e "$how-10" '.messages[] | select(.event_id == $e) | .error' |
		grep -q "over max_per_hour: 3 events to this recipient this hour\|coalesced into" ||
		fail "$how-10: $(record_of "$how-10")"
	stop_outpostd || fail "outpostd exited non-zero"
done
pass "1,005 alerts in 2 zones: 4 messages (digests +998, +3), checker: 1003 coalesced, lost 0; cap of 3 an hour: digest, drop, hold"
