#!/bin/bash
# When a route may send (docs/ALERTING.md): "priority" and "quiet_hours".
#  1. Priority under a rate limit: 150 low-priority payments and then 10
#     high-priority alerts wait out a provider's outage; when it answers
#     again, all are due at once and the rate (20/s) is short: the alerts go
#     first (first come, first served would send them last, ~7 s later).
#  2. Quiet hours, with outpostd's wall clock faked by libfaketime to 21:59:50
#     in Europe/Berlin: tickets (quiet 20:00-22:00) wait and status counts
#     them; urgent alerts go at once; at 22:00 the tickets go, oldest first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup schedule
FAKETIME_LIB=${FAKETIME_LIB:-$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)}
[ -f "${FAKETIME_LIB:-}" ] || fail "no libfaketime.so.1 under /usr/lib/*/faketime (scripts/setup.sh installs faketime)"
start_broker

# 1. Priority under a rate limit, after an outage: everything waited for the
#    link and is due at once when the provider answers again.
start_sim --down-from 1 --down-for 8
write_config '.accounts.main.rate_per_s = 20 | .accounts.main.burst = 1' \
	'.accounts.main.breaker = {"failures": 3, "open_s": 30}' \
	'(.routes[] | select(.name == "payments")).priority = "low"' \
	'(.routes[] | select(.name == "alerts")).priority = "high"'
start_outpostd
wait_for '! port_open "$SIM_PORT"' 10 || fail "the sim's outage did not begin"
publish -n 150 --kind payment --id-prefix pay
publish -n 10 --kind alert --id-prefix alarm
wait_for '[ "$(ctl status | jq ".accounts[0].held_for_link")" -ge 155 ]' 10 ||
	fail "not held for the link: $(ctl status | jq -c .accounts)"
wait_for '[ "$(sim_refs 2>/dev/null | grep -c "^alarm-")" -ge 10 ]' 30 ||
	fail "$(sim_refs | grep -c "^alarm-") of 10 alerts at the provider"
# Where the last alert stands among the requests the sim took.
last_alarm=$(sim_refs | grep -n "^alarm-" | tail -n 1 | cut -d: -f1)
pay_before=$(sim_refs | head -n "$last_alarm" | grep -c "^pay-")
[ "$pay_before" -lt 40 ] ||
	fail "the last high-priority alert went out after $pay_before of 150 low-priority payments"
wait_sent 160 30 || fail "$(outbox_count sent) of 160 sent"
stop_outpostd || fail "outpostd exited non-zero"
check_unique_refs 160

# 2. Quiet hours on a faked clock: 20:59:50 UTC is 21:59:50 in Berlin (CET).
stop_sim
rm -f "$SIM_RECORD"
start_sim
write_config '.timezone = "Europe/Berlin"' '.store.path += "-quiet"' \
	'(.routes[] | select(.name == "tickets")).quiet_hours = {"from": "20:00", "to": "22:00"}' \
	'(.routes[] | select(.name == "alerts")).priority = "urgent"'
CLOCK_FILE="$E2E_DIR/faketime.rc"
echo "@2026-12-07 20:59:50" >"$CLOCK_FILE"
rm -f "$OUTPOST_SOCK"
# ASan wants its runtime first; with libfaketime preloaded it is not.
env TZ=UTC LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK_FILE" \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	FAKETIME_DONT_FAKE_MONOTONIC=1 "$BUILD/outpostd" -c "$OUTPOST_CONF" >>"$E2E_DIR/outpostd.log" 2>&1 &
OUTPOSTD_PID=$!
E2E_PIDS+=("$OUTPOSTD_PID")
wait_for "[ \"\$(ctl status 2>/dev/null | jq -r .mqtt.connected)\" = true ]" 30 ||
	fail "outpostd did not come up under faketime: $(tail -5 "$E2E_DIR/outpostd.log")"
publish -n 5 --kind ticket --id-prefix tkt
publish -n 3 --kind alert --id-prefix urg
wait_for '[ "$(sim_refs | grep -c "^urg-")" -ge 3 ]' 5 || fail "urgent alerts held in quiet hours"
held=$(ctl status | jq -r .counters.quiet_held)
[ "$(sim_refs | grep -c "^tkt-")" = 0 ] && [ "$held" -ge 5 ] ||
	fail "in quiet hours: $(sim_refs | grep -c "^tkt-") tickets sent, quiet_held $held (want 0 and >= 5)"
[ "$(state_of tkt-1)" = queued ] || fail "a held ticket is $(state_of tkt-1), not queued"
# At 22:00 Berlin (10 s after the faked start) the window closes.
wait_for '[ "$(sim_refs | grep -c "^tkt-")" -ge 5 ]' 25 ||
	fail "$(sim_refs | grep -c "^tkt-") of 5 tickets sent after quiet hours: $(record_of tkt-1)"
stop_outpostd || fail "outpostd exited non-zero"
check_unique_refs 8
pass "priority: the last alert went out after $pay_before of 150 payments; quiet hours held $held, sent at their end"
