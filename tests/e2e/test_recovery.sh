#!/bin/bash
# Recovery after an outage (docs/RETRY.md): while the provider refuses
# connections and the account's circuit is open, records wait for it (held
# for the link, counted in status) instead of backing off further; a probe
# finds the provider back and the whole backlog is due at once. The backoff
# here is long (base 30 s): a record left to its own backoff would still be
# waiting long after the provider came back. Nothing is sent twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup recovery
start_broker
start_sim --down-from 2 --down-for 8
write_config '.sender.backoff_base_ms = 30000 | .sender.backoff_cap_ms = 900000' \
	'.accounts.main.breaker = {"failures": 3, "open_s": 30}'
start_outpostd

wait_for '! port_open "$SIM_PORT"' 10 || fail "the sim's outage did not begin"
publish -n 300 -r 100 --kind mixed --id-prefix rec
held() { ctl status | jq '.accounts[] | select(.name == "main") | .held_for_link'; }
wait_for '[ "$(held)" -ge 1 ]' 10 ||
	fail "nothing held for the link during the outage: $(ctl status | jq -c .accounts)"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep -q "account:.*circuit OPEN.*wait for it to answer" ||
	fail "status does not say what waits: $("$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep account)"
wait_for 'port_open "$SIM_PORT"' 15 || fail "the sim did not come back"
back=$(date +%s%N)
# Generous: the point is "not after a 30 s-based backoff", not a speed.
wait_sent 300 15 || fail "$(outbox_count sent) of 300 sent 15 s after the provider came back: $(ctl outbox --state retry --limit 3 | jq -c '.messages[0]')"
took=$((($(date +%s%N) - back) / 1000000))
check_unique_refs 300
grep -q "sender: account main answers again; circuit closed; draining [0-9]* after an outage" \
	"$E2E_DIR/outpostd.log" || fail "no drain line: $(grep 'account main' "$E2E_DIR/outpostd.log" | tail -3)"
drained=$(grep -o "draining [0-9]* after" "$E2E_DIR/outpostd.log" | head -1 | cut -d' ' -f2)
[ "$(held)" = 0 ] || fail "still counted as held after the drain: $(held)"
ctl status | jq -e '.accounts[] | select(.name == "main") | .draining == 0' >/dev/null ||
	fail "still draining after all were sent: $(ctl status | jq -c .accounts)"
stop_outpostd || fail "outpostd exited non-zero"
pass "300 events during an 8 s refusal: $drained held for the link, all sent once $took ms after the provider came back"
