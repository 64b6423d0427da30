#!/bin/bash
# Publisher sequence numbers ("seq", per "source" or per topic):
#  1. a deliberate gap, a device restarting its count, a late number and
#     malformed ones: each counted for its source, the gap logged once with
#     its range, and every message still delivered;
#  2. outpostd stopped (SIGTERM), killed (kill -9 in a stream: the broker
#     redelivers what was not acked) and sent 100 events again among newer
#     ones (what a redelivery looks like, for certain): no false gap, reset
#     or out-of-order number;
#  3. the broker killed (kill -9) with events queued for outpostd since its
#     last save: those events are lost, and the next event of their source
#     shows exactly which.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup gaps

# A broker that saves its state only when told to (SIGUSR1), so that the
# test decides when its "last autosave" was. Started as root, mosquitto
# saves as the mosquitto user, who must own the directory.
start_broker
stop_broker
sed -i 's/^autosave_interval .*/autosave_interval 3600/' "$E2E_DIR/mosquitto.conf"
broker_up() {
	e2e_spawn "$E2E_DIR/mosquitto.$1.log" mosquitto -c "$E2E_DIR/mosquitto.conf"
	BROKER_PID=$E2E_LAST_PID
	wait_for "port_open $BROKER_PORT" 10 || fail "mosquitto did not come back on $BROKER_PORT"
}
broker_up 1
start_sim
write_config
start_outpostd

# pay ID SEQ [SOURCE]: a payment event; SEQ and SOURCE are JSON as they go
# into the event (SOURCE default "dev-a").
pay() {
	mpub site/1/payments/card "{\"id\": \"$1\", \"source\": ${3:-\"dev-a\"}, \"seq\": $2, \"customer\": {\"name\": \"Ana\", \"phone\": \"+491701234567\"}, \"amount\": \"1.00\", \"currency\": \"EUR\"}"
}
src() { # src FIELD: a number of the status's "sources" object
	ctl status | jq -r ".sources.$1"
}
expect_src() { # expect_src FIELD VALUE WHEN
	local v
	v=$(src "$1")
	[ "$v" = "$2" ] || fail "$3: sources.$1 is $v, expected $2"
}
expect_sources() { # expect_sources WHEN tracked sequenced gaps missed resets out_of_order bad_seq
	local when=$1 f
	shift
	for f in tracked sequenced gaps missed resets out_of_order bad_seq; do
		expect_src "$f" "$1" "$when"
		shift
	done
}
gap_logged() { # gap_logged TEXT: how many log lines say TEXT
	grep -cF "$1" "$E2E_DIR/outpostd.log"
}

# 1. The rules, on device dev-a: 1 2 3 [4 5 missing] 6 7, restart at 1 2 3,
# a late 2, 4, five malformed numbers, 5.
n=0
for s in 1 2 3 6 7 1 2 3 2 4 '"5"' -1 1.5 1e300 9007199254740992 5; do
	n=$((n + 1))
	pay "a-$n" "$s"
done
# No "source": the topic is the source.
for s in 10 11 12; do
	mpub site/1/tickets/issued "{\"id\": \"t-$s\", \"seq\": $s, \"ticket\": \"A-$s\", \"counter\": \"3\", \"phone\": \"+14155550123\"}"
done
# A "source" that cannot be one: delivered, not tracked.
long=$(head -c 300 /dev/zero | tr '\0' 'd')
pay x-1 1 42
pay x-2 1 "\"$long\""
total=$((n + 3 + 2))
wait_sent "$total" 30 || fail "only $(outbox_count sent) of $total sent"
check_unique_refs "$total"
[ "$(outbox_count rejected)" -eq 0 ] || fail "$(outbox_count rejected) events rejected"
expect_sources "rules" 2 14 1 2 1 1 5
expect_src untracked 2 "rules"
expect_src 'recent_gaps | length' 1 "rules"
expect_src 'recent_gaps[0] | "\(.source) \(.from)..\(.to) \(.missed)"' "dev-a 4..5 2" "rules"
gap_line='source dev-a: sequence gap: 2 event(s) missing, seq 4..5 (event a-4 has seq 6)'
[ "$(gap_logged "$gap_line")" -eq 1 ] || fail "gap not logged once: $(grep 'sequence gap' "$E2E_DIR/outpostd.log")"
grep -q 'source dev-a: sequence restarted at 1 (event a-6)' "$E2E_DIR/outpostd.log" || fail "reset not logged"
grep -q 'source dev-a: event a-11: "seq" is not an integer' "$E2E_DIR/outpostd.log" || fail "bad seq not logged"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status >"$E2E_DIR/status.txt" || fail "outpostctl status failed"
grep -q '^sources: *2 with a sequence number: GAPS 1 (2 events missing), resets 1, out of order 1, bad seq 5, NOT TRACKED 2$' \
	"$E2E_DIR/status.txt" || fail "status does not show the totals: $(grep -A2 '^sources' "$E2E_DIR/status.txt")"
grep -q '^ *dev-a: seq 4\.\.5 missing, [0-9]* s ago (outbox #4); in all: gaps 1, missing 2$' "$E2E_DIR/status.txt" ||
	fail "status does not show the gap: $(grep -A2 '^sources' "$E2E_DIR/status.txt")"

# 2a. A clean restart: the state was committed with the records.
stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
start_outpostd
pay a-after-term 6
wait_sent $((total + 1)) 30 || fail "the event after the restart was not sent"
expect_sources "after SIGTERM" 2 15 1 2 1 1 5

# 2b. kill -9 in a stream of 400 numbered events of their own source: the
# broker redelivers what was not acked; dedup suppresses it before the seq
# is looked at, so no false reset or out-of-order number.
base=$(outbox_count sent)
"$BUILD/outpost-pub" -h 127.0.0.1 -p "$BROKER_PORT" --quiet -n 400 -r 400 --kind payment \
	--id-prefix kill --source pub-1 >"$E2E_DIR/pub.log" 2>&1 &
pub=$!
wait_for "[ \"\$(outbox_count sent)\" -ge $((base + 60)) ]" 20 || fail "the stream did not start"
stop_outpostd KILL
start_outpostd
wait "$pub" || fail "outpost-pub failed: $(tail -3 "$E2E_DIR/pub.log")"
wait_for "[ \"\$(sim_refs | grep -c '^kill-')\" -ge 400 ] && [ \"\$(sim_refs | grep '^kill-' | sort -u | wc -l)\" -eq 400 ]" 60 ||
	fail "only $(sim_refs | grep '^kill-' | sort -u | wc -l) of 400 streamed events delivered"
expect_sources "after kill -9" 3 415 1 2 1 1 5

# 2c. What a redelivery looks like to outpostd, made sure of: 100 of those
# events again (same ids, same numbers) while pub-1 goes on with 401..600.
before=$(outbox_count suppressed)
"$BUILD/outpost-pub" -h 127.0.0.1 -p "$BROKER_PORT" --quiet -n 200 -r 400 --kind payment \
	--id-prefix kill --source pub-1 --start 401 --seq-start 401 >"$E2E_DIR/pub2.log" 2>&1 &
pub=$!
publish -n 100 -r 200 --kind payment --id-prefix kill --source pub-1 --start 100 --seq-start 100
wait "$pub" || fail "outpost-pub failed: $(tail -3 "$E2E_DIR/pub2.log")"
wait_for "[ \"\$(outbox_count suppressed)\" -ge $((before + 100)) ]" 20 ||
	fail "only $(($(outbox_count suppressed) - before)) of 100 replayed events suppressed"
wait_for "[ \"\$(sim_refs | grep '^kill-' | sort -u | wc -l)\" -eq 600 ]" 60 ||
	fail "only $(sim_refs | grep '^kill-' | sort -u | wc -l) of 600 streamed events delivered"
expect_sources "after redeliveries" 3 615 1 2 1 1 5
suppressed=$(outbox_count suppressed)

# 3. The broker saves (as its autosave would), outpostd goes down, dev-b
# publishes 4..8, which the broker acknowledges and queues for outpostd
# in memory only, and the broker is killed: 4..8 are gone. Nothing on the
# gateway can tell, except dev-b's next number.
for s in 1 2 3; do pay "b-$s" "$s" '"dev-b"'; done
wait_for "[ \"\$(sim_refs | grep -c '^b-')\" -eq 3 ]" 20 || fail "dev-b's first events not sent"
rm -f "$E2E_DIR/mosquitto/mosquitto.db"
kill -USR1 "$BROKER_PID"
wait_for "[ -s '$E2E_DIR/mosquitto/mosquitto.db' ]" 10 || fail "the broker did not save"
stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
for s in 4 5 6 7 8; do pay "b-$s" "$s" '"dev-b"'; done
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
e2e_forget "$BROKER_PID"
broker_up 2
start_outpostd
pay b-9 9 '"dev-b"'
wait_for "[ \"\$(sim_refs | grep -c '^b-9$')\" -eq 1 ]" 20 || fail "b-9 not sent"
lost=$(sim_refs | grep -c '^b-[4-8]$')
[ "$lost" -eq 0 ] || fail "$lost of the events the broker held were delivered: the broker kill lost nothing, the test shows nothing"
expect_sources "after the broker kill" 4 619 2 7 1 1 5
expect_src 'recent_gaps[0] | "\(.source) \(.from)..\(.to)"' "dev-b 4..8" "after the broker kill"
[ "$(gap_logged 'source dev-b: sequence gap: 5 event(s) missing, seq 4..8 (event b-9 has seq 9)')" -eq 1 ] ||
	fail "the broker's loss not logged"
[ "$(gap_logged 'sequence gap')" -eq 2 ] || fail "false gaps: $(grep 'sequence gap' "$E2E_DIR/outpostd.log")"
stop_outpostd || fail "outpostd exited non-zero"
pass "gap, restart of the count, late and bad numbers counted, all delivered; no false gap after" \
	"SIGTERM, kill -9 or $suppressed redeliveries; a broker kill's loss of 5 shown as seq 4..8"
