#!/bin/bash
# Clock gate: outpostd (alone: not the broker, sim or publisher) runs under
# libfaketime with its wall clock in 1970 and CLOCK_MONOTONIC real.
#  1. Events arrive in 1970: ingest takes them, the sender holds them -
#     status says it waits for a valid clock, the sim gets nothing, nothing
#     is failed or expired.
#  2. The clock becomes valid: everything goes out (no record expired by its
#     1970 stamp: the TTL of an event ingested without a valid clock starts
#     when it is first admitted, firmware/sender/turn.c admit()).
#  3. Mid-stream the clock steps back 56 years, then forward again: the
#     sender holds (ingest goes on), then resumes by itself. Timers are on
#     CLOCK_MONOTONIC: the hold is rechecked, the broker link never drops.
#  4. Records stamped in 1970 are kept like any other (store.keep_done): not
#     pruned as "56 years old" the moment the clock is valid, so a rejected
#     one still says why and a redelivered id is still suppressed.
#  5. A clock 10 years ahead (valid, wrong) is corrected back: a record that
#     was retrying goes out as soon as the provider is back, instead of
#     waiting 10 years for the due time its retry got.
# Then the checker: lost 0, none failed or expired.
#
#   EVENTS=20000 tests/torture/test_clock.sh   # long form (stream of step 3)
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=clock
e2e_setup clock
FAKETIME_LIB=${FAKETIME_LIB:-$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)}
if [ ! -f "${FAKETIME_LIB:-}" ]; then
	fail "no libfaketime.so.1 under /usr/lib/*/faketime (scripts/setup.sh installs faketime)"
fi
FIRST=${FIRST:-500}   # events ingested in 1970, step 1
EVENTS=${EVENTS:-2000} # the stream of step 3, at RATE/s
RATE=${RATE:-200}
CLOCK_FILE="$E2E_DIR/faketime.rc"

# set_clock 1970|real|ahead: libfaketime re-reads the file once its cache
# (FAKETIME_CACHE_DURATION=1 s) is stale. "@" starts the fake clock there
# and lets it run; "+0" is the real time, "+3650d" ten years ahead. Written
# aside and renamed, so it is never read half-written.
set_clock() {
	case $1 in
	1970) echo "@1970-01-01 00:00:00" >"$CLOCK_FILE.tmp" ;;
	real) echo "+0" >"$CLOCK_FILE.tmp" ;;
	ahead) echo "+3650d" >"$CLOCK_FILE.tmp" ;;
	esac
	mv "$CLOCK_FILE.tmp" "$CLOCK_FILE"
	echo "clock: $1 at $(date +%T.%N)" >>"$E2E_DIR/outpostd.log"
}

# start_outpostd with libfaketime preloaded into outpostd only. Without
# FAKETIME_DONT_FAKE_MONOTONIC libfaketime moves CLOCK_MONOTONIC with the
# file too (an "@" time restarts it near 0), which a board whose wall clock
# is set late never sees.
start_outpostd_faked() {
	rm -f "$OUTPOST_SOCK"
	echo "--- start $(date +%T.%N) (faketime: $(cat "$CLOCK_FILE"))" >>"$E2E_DIR/outpostd.log"
	env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK_FILE" FAKETIME_CACHE_DURATION=1 \
		FAKETIME_DONT_FAKE_MONOTONIC=1 "$BUILD/outpostd" -c "$OUTPOST_CONF" >>"$E2E_DIR/outpostd.log" 2>&1 &
	OUTPOSTD_PID=$!
	E2E_PIDS+=("$OUTPOSTD_PID")
	wait_for "[ \"\$(ctl status 2>/dev/null | jq -r .mqtt.connected)\" = true ]" 30 ||
		fail "outpostd did not come up under faketime: $(tail -5 "$E2E_DIR/outpostd.log")"
}

# st JQ: one value from the daemon's status.
st() { ctl status | jq -r "$1"; }
now() { date +%s.%N; }
since() { awk "BEGIN { printf \"%.1f\", $(now) - $1 }"; }

start_broker
start_sim
write_config
set_clock 1970
start_outpostd_faked
[ "$(st .clock.valid)" = false ] || fail "the daemon's clock is not in 1970: $(st .clock)"

# 1. In 1970: ingest yes, sends no. 1 in 100 is bad (rejected in 1970; its
#    record must outlive the clock step).
publish -n "$FIRST" --kind mixed --id-prefix old --bad-every 100 --log "$E2E_DIR/pub1.log"
n_bad=$((FIRST / 100))
n_old=$((FIRST - n_bad))
wait_for "[ \"\$(status_num acked)\" -ge $FIRST ]" 20 || fail "ingest in 1970 incomplete: $(st .counters)"
sleep 3 # three sender ticks: nothing may leave meanwhile
s=$(ctl status)
jq -e '.clock.valid == false and (.clock.reason | test("waiting for a valid wall clock")) and .mqtt.ingest == "running"' \
	<<<"$s" >/dev/null || fail "status in 1970 does not say why sending is held: $(jq -c '{clock, mqtt}' <<<"$s")"
jq -e ".outbox.queued == $n_old and .outbox.sending == 0 and .outbox.failed == 0 and .outbox.expired == 0 and .outbox.rejected == $n_bad" \
	<<<"$s" >/dev/null || fail "outbox in 1970: $(jq -c .outbox <<<"$s")"
[ "$(sim_count)" -eq 0 ] || fail "$(sim_count) messages left in 1970"
created=$(ctl outbox --limit 1 | jq '.messages[0].created_ms')
[ "$created" -lt $((366 * 86400 * 1000)) ] || fail "records ingested \"in 1970\" are stamped $created ms"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep -q "clock:.*NOT VALID" ||
	fail "outpostctl status does not show the invalid clock"
echo "clock: 1970: $n_old queued, $n_bad rejected, held: $(jq -r .clock.reason <<<"$s")"

# 2. Valid: everything goes out. The delay is printed, not asserted.
set_clock real
t0=$(now)
wait_for '[ "$(sim_count)" -ge 1 ]' 30 || fail "nothing sent after the clock became valid: $(st .clock)"
first=$(since "$t0")
wait_for "[ \"\$(sim_count)\" -ge $n_old ]" 60 || fail "only $(sim_count) of $n_old sent after the clock became valid"
all=$(since "$t0")
s=$(ctl status)
jq -e '.clock.valid and .clock.reason == "" and .counters.failed == 0 and .counters.expired == 0 and .counters.ambiguous == 0' \
	<<<"$s" >/dev/null || fail "after the clock became valid: $(jq -c '{clock, counters}' <<<"$s")"
echo "clock: valid: first send ${first} s after the file changed, all $n_old in ${all} s"

# 4. (checked now, while the 1970 records are the only finished ones) They
#    stay for keep_done: two upkeep passes (one a second) may not prune them.
sleep 2.5
s=$(ctl status)
jq -e ".counters.pruned == 0 and .outbox.sent == $n_old and .outbox.rejected == $n_bad" <<<"$s" >/dev/null ||
	fail "records stamped in 1970 were pruned as soon as the clock was valid (keep_done is 7 days): $(jq -c '{outbox, pruned: .counters.pruned}' <<<"$s")"
mpub site/1/payments/card '{"id": "old-1", "customer": {"name": "Ana", "phone": "+491701234567"}, "amount": "9.99", "currency": "EUR"}'
wait_for '[ "$(outbox_count suppressed)" -ge 1 ]' 10 || fail "a repeat of an event ingested in 1970 was not suppressed"
[ "$(sim_count)" -eq "$n_old" ] || fail "a repeat of an event ingested in 1970 was sent again"

# 3. A stream, and the clock steps back to 1970 and forward again in it.
reconnects=$(st .mqtt.reconnects)
before=$(sim_count)
publish -n "$EVENTS" -r "$RATE" --kind mixed --id-prefix new --log "$E2E_DIR/pub2.log" &
PUB=$!
wait_for "[ \"\$(sim_count)\" -ge $((before + EVENTS / 5)) ]" 60 || fail "the stream does not flow"
set_clock 1970
wait_for '[ "$(st .clock.valid)" = false ]' 10 || fail "the daemon did not see the step back to 1970"
# Requests already out finish; then nothing more may leave.
wait_for '[ "$(status_num http_inflight)" = 0 ] && [ "$(outbox_count sending)" = 0 ]' 10 ||
	fail "requests still in flight after the step back"
held_sim=$(sim_count)
held_acked=$(status_num acked)
sleep 2
s=$(ctl status)
[ "$(sim_count)" -eq "$held_sim" ] || fail "$(($(sim_count) - held_sim)) messages left after the step back to 1970"
jq -e '(.clock.reason | test("waiting for a valid wall clock")) and .counters.failed == 0 and .counters.expired == 0' \
	<<<"$s" >/dev/null || fail "during the step back: $(jq -c '{clock, counters}' <<<"$s")"
[ "$(jq .counters.acked <<<"$s")" -gt "$held_acked" ] || fail "ingest stopped while the clock read 1970"
echo "clock: stepped back to 1970 after $((held_sim - before)) of $EVENTS: held, ingest went on ($(jq .counters.acked <<<"$s") acked)"
set_clock real
t0=$(now)
wait_for "[ \"\$(sim_count)\" -gt $held_sim ]" 30 || fail "sending did not resume after the clock stepped forward"
echo "clock: stepped forward again: sending resumed $(since "$t0") s after the file changed"
wait $PUB || fail "publisher failed"
wait_for "[ \"\$(sim_count)\" -ge $((n_old + EVENTS)) ]" 120 ||
	fail "only $(sim_count) of $((n_old + EVENTS)) sent after the clock stepped forward"
s=$(ctl status)
jq -e ".clock.valid and .counters.failed == 0 and .counters.expired == 0 and .mqtt.reconnects == $reconnects and .uptime_s < 3600" \
	<<<"$s" >/dev/null || fail "after the steps: $(jq -c '{clock, mqtt, uptime_s, counters}' <<<"$s")"
kill -0 "$OUTPOSTD_PID" || fail "outpostd died"
stop_outpostd || fail "outpostd did not stop cleanly"
"$BUILD/outpost-check" --strict --json --pub-log "$E2E_DIR/pub1.log" --pub-log "$E2E_DIR/pub2.log" \
	--sim-record "$SIM_RECORD" --store "$E2E_DIR/store" >"$E2E_DIR/check.json" || fail "checker failed"
jq -e '.lost == 0 and (.states.failed // 0) == 0 and (.states.expired // 0) == 0' "$E2E_DIR/check.json" >/dev/null ||
	fail "checker: $(jq -c '{lost, states}' "$E2E_DIR/check.json")"
summary="$FIRST events in 1970 held then sent, a 56-year step back and forth mid-stream held and resumed; lost 0, none failed or expired"

# 5. Ten years ahead: valid, so the sender runs, but wrong. A fresh store and
#    sim record (at "2036" upkeep rightly prunes everything finished above
#    as 10 years old). The provider is away: the record retries, each retry
#    due in 2036. The clock is corrected, the provider comes back: the
#    record must go out within its backoff (2 s here), not in 2036.
mv "$SIM_RECORD" "$E2E_DIR/sim-1.jsonl"
jq ".store.path = \"$E2E_DIR/store5\"" "$OUTPOST_CONF" >"$OUTPOST_CONF.tmp" && mv "$OUTPOST_CONF.tmp" "$OUTPOST_CONF"
write_secrets # the fresh store's vault imports them
stop_sim
set_clock ahead
start_outpostd_faked
publish -n 1 --kind payment --id-prefix ahead --log "$E2E_DIR/pub3.log"
wait_for '[ "$(ctl outbox --limit 1 | jq ".messages[0].created_ms // 0")" -gt 0 ]' 10 ||
	fail "no record of the event published 10 years ahead: $(ctl outbox --limit 1)"
created=$(ctl outbox --limit 1 | jq '.messages[0].created_ms')
[ "$created" -gt $((($(date +%s) + 5 * 365 * 86400) * 1000)) ] ||
	fail "the daemon's clock is not ahead: its record was created at $created ms"
wait_for '[ "$(ctl outbox --state retry | jq "[.messages[].attempts] | max // 0")" -ge 2 ]' 30 ||
	fail "the record does not retry while the provider is away: $(ctl outbox --limit 1 | jq -c '.messages[0]')"
set_clock real
sleep 2.5 # libfaketime has read the file; the retry due in "2036" is now in the past
start_sim
t0=$(now)
wait_for '[ "$(sim_count)" -ge 1 ]' 30 ||
	fail "a retry scheduled while the clock was 10 years ahead waits for the wall clock to get there again: $(ctl outbox --limit 1 | jq -c '.messages[0] | {state, attempts, error}')"
echo "clock: 10 years ahead, corrected back: the retrying record went out $(since "$t0") s after the provider came back"
stop_outpostd || fail "outpostd did not stop cleanly"
"$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub3.log" --sim-record "$SIM_RECORD" \
	--store "$E2E_DIR/store5" || fail "checker failed after the clock was corrected"
summary="$summary; a retry from a clock 10 years ahead went out once it was corrected"
pass "$summary"
