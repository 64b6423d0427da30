#!/bin/bash
# Quotas and cost (docs/ALERTING.md). Account main may send 6 messages a day;
# its prices say 0.01 USD a message, and the sim bills 0.0075 (its "price" once
# a message is delivered, which outpostd polls).
#  - 10 payments: at most 6 go (the notices at 80 % and 100 % of the day's
#    quota count too, as they cost the same, but never wait: whether one
#    went before the 6th payment depends on what was in flight), the other
#    payments wait, queued, with the reason; status counts the day's messages;
#  - the notices: "quota" events on outpost/e2e/events at 80 and 100 %, and
#    a ticket_ready message to the notify group (@admins) for each;
#  - urgent alerts still go past the quota; tickets (over_quota "drop") are
#    suppressed with the reason;
#  - the cost is the sim's price, not the configured one, once polled;
#  - a restart keeps the day's count: the held payments still wait.
# Nothing lost: every event is sent, suppressed or waiting with its reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup quota
start_broker
start_sim --deliver-after-ms 100 --price -0.00750
ADMIN=+4915112345678
write_config '.accounts.main.status_poll = {"first": "1s", "max_age": "1h"}' \
	".groups = {\"admins\": [\"$ADMIN\"]}" \
	".accounts.main.quota = {\"per_day\": 6, \"currency\": \"USD\", \"prices\": {\"utility\": {\"*\": 0.01}}, \"notify\": {\"to\": [\"@admins\"], \"template\": \"ticket_ready\"}}" \
	'(.routes[] | select(.name == "tickets")).over_quota = "drop"' \
	'(.routes[] | select(.name == "alerts")).priority = "urgent"'
e2e_spawn "$E2E_DIR/sub.err" sh -c "exec mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -q 1 \
	-t 'outpost/e2e/events' >>'$E2E_DIR/events.txt'"
start_outpostd
q() { ctl status | jq -r ".quota[] | select(.account == \"main\") | .$1"; }
admin_refs() { jq -r "select(.to == \"whatsapp:$ADMIN\") | .vars[\"3\"]" "$SIM_RECORD" 2>/dev/null; }

publish -n 10 --kind payment --id-prefix pay
wait_for '[ "$(q held)" -ge 1 ] && [ "$(admin_refs | grep -c 100)" = 1 ]' 20 ||
	fail "no payment held, or no 100 % notice: $(ctl status | jq -c .quota)"
# Settled: every message the sim took is counted (answers recorded).
wait_for '[ "$(q today)" = "$(sim_count)" ]' 10 || fail "status counts $(q today) today, the sim has $(sim_count)"
sleep 1 # nothing more may go
paid=$(sim_refs | grep -c "^pay-")
[ "$paid" -le 6 ] && [ "$paid" -ge 4 ] || fail "$paid payments went out on a quota of 6 a day"
[ "$(admin_refs | sort -n | tr '\n' ' ')" = "80 100 " ] || fail "notices: $(admin_refs | tr '\n' ' ')"
[ "$(sim_count)" = $((paid + 2)) ] || fail "$(sim_count) messages at the sim: $paid payments and 2 notices"
[ "$(q today)" = $((paid + 2)) ] || fail "status counts $(q today) today, the sim has $((paid + 2))"
[ "$(q held)" -ge $((10 - paid)) ] || fail "$(q held) held, $((10 - paid)) payments wait"
held_rec=$(record_of pay-10)
[ "$(jq -r .state <<<"$held_rec")" = queued ] &&
	jq -r .error <<<"$held_rec" | grep -q "over quota: [0-9]* of 6 messages today (accounts.main.quota.per_day)" ||
	fail "a held payment: $held_rec"
wait_for '[ "$(grep -c "\"kind\":\"quota\"" "$E2E_DIR/events.txt")" -ge 2 ]' 10 ||
	fail "quota events: $(cat "$E2E_DIR/events.txt")"
grep -q '"account":"main","quota":"per_day","percent":80,"used":5,"limit":6' "$E2E_DIR/events.txt" &&
	grep -q '"account":"main","quota":"per_day","percent":100,"used":6,"limit":6' "$E2E_DIR/events.txt" ||
	fail "quota events: $(cat "$E2E_DIR/events.txt")"

# Past the quota: urgent alerts go, dropped tickets are suppressed.
publish -n 2 --kind alert --id-prefix urg
publish -n 2 --kind ticket --id-prefix tkt
wait_for '[ "$(sim_refs | grep -c "^urg-")" = 2 ]' 10 || fail "urgent alerts held past the quota"
wait_state tkt-1 suppressed
record_of tkt-1 | jq -r .error | grep -q "over quota" || fail "a dropped ticket: $(record_of tkt-1)"

# The cost: the sim's price (0.0075) once polled, not the configured 0.01.
billed=$((paid + 4))
wait_for '[ "$(q cost)" = "$(awk "BEGIN {print $billed * 0.0075}")" ]' 15 ||
	fail "cost $(q cost) for $billed messages at the sim's 0.0075 (configured 0.01)"
# The statistics carry the same cost, by route.
[ "$(ctl stats --by route --days 1 | jq '.total.cost')" = "$(q cost)" ] ||
	fail "statistics' cost $(ctl stats --by route --days 1 | jq -c '[.rows[] | {key, cost}]'), quota's $(q cost)"

# A restart keeps the day's count.
stop_outpostd || fail "outpostd exited non-zero"
start_outpostd
[ "$(q today)" = "$billed" ] || fail "after a restart: $(q today) today, want $billed"
sleep 2
[ "$(sim_refs | grep -c "^pay-")" = "$paid" ] || fail "held payments went after a restart"
[ "$(state_of pay-10)" = queued ] || fail "pay-10 is $(state_of pay-10) after a restart"
stop_outpostd || fail "outpostd exited non-zero"
pass "quota of 6: $paid payments + 2 notices (80, 100 %), $((10 - paid)) held, urgent past it, dropped suppressed, cost at the provider's price, kept across a restart"
