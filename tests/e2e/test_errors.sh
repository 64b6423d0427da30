#!/bin/bash
# Provider errors: permanent Twilio codes fail with the code; 5xx is retried
# and, past the attempt limit, expired with the reason; refused credentials
# pause the account instead of burning retries.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup errors
start_broker
start_sim
write_config '.sender.max_attempts = 3' \
	'.accounts.wrong = (.accounts.main | .credentials = "twilio-wrong")' \
	'.routes += [{"name": "wrongacct", "topic": "site/+/wrong/#", "template": "ticket_ready", "to": "{phone}", "account": "wrong", "vars": {"1": "{ticket}", "2": "{counter}", "3": "{id}"}}]'
start_outpostd

pay() { mpub site/1/payments/card "{\"id\": \"$1\", \"customer\": {\"name\": \"Ana\", \"phone\": \"$2\"}, \"amount\": \"1.00\", \"currency\": \"EUR\"}"; }
pay e-21211 +15005550001
pay e-63003 +15005550002
pay e-500 +15005550009
pay e-ok +491701234567
mpub site/1/wrong/x '{"id": "e-auth", "ticket": "A1", "counter": "2", "phone": "+491701234568"}'

wait_for '[ "$(outbox_count failed)" -ge 2 ] && [ "$(outbox_count expired)" -ge 1 ]' 30 ||
	fail "failed=$(outbox_count failed) expired=$(outbox_count expired)"
failed=$(ctl outbox --state failed)
jq -e '[.messages[] | select(.event_id == "e-21211" and .error.code == 21211)] | length == 1' <<<"$failed" >/dev/null ||
	fail "21211 not recorded: $failed"
jq -e '[.messages[] | select(.event_id == "e-63003" and .error.code == 63003)] | length == 1' <<<"$failed" >/dev/null ||
	fail "63003 not recorded: $failed"
ctl outbox --state expired | jq -e '.messages[0] | .event_id == "e-500" and .attempts == 3 and (.error.text | test("gave up after 3 attempts"))' >/dev/null ||
	fail "5xx not expired after 3 attempts: $(ctl outbox --state expired)"
wait_for '[ "$(outbox_count sent)" -ge 1 ]' 10 || fail "the good event was held up by the bad ones"

wait_for 'ctl status | jq -e ".accounts[] | select(.name == \"wrong\") | .state == \"paused\"" >/dev/null' 10 ||
	fail "refused credentials did not pause the account: $(ctl status | jq -c .accounts)"
ctl status | jq -e '.accounts[] | select(.name == "wrong") | .reason | test("20003")' >/dev/null ||
	fail "pause reason lacks the Twilio code"
ctl status | jq -e '.accounts[] | select(.name == "main") | .state == "ok"' >/dev/null ||
	fail "the other account was paused too"
auth=$(ctl outbox --limit 100 | jq -r '.messages[] | select(.event_id == "e-auth") | .state')
[ "$auth" = queued ] || [ "$auth" = retry ] || fail "message of the paused account is '$auth', not held"

# test-connection: the good account passes, the one with a wrong token is
# refused (auth 20003); with the provider down, a transient failure. The
# request is the account fetch: no message is sent.
n0=$(sim_count)
out=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" test-connection 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "test-connection with a bad account exited $rc: $out"
grep -q "main .* ok      HTTP 200 in [0-9]* ms" <<<"$out" || fail "main not ok: $out"
grep -q "wrong .* FAILED  auth 20003" <<<"$out" || fail "wrong not refused: $out"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" test-connection main >/dev/null || fail "test-connection main failed"
out=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" test-connection nope 2>&1) && fail "an unknown account was tested"
grep -q "no account 'nope'" <<<"$out" || fail "unknown account: $out"
[ "$(sim_count)" = "$n0" ] || fail "test-connection sent a message"
# Asked for, one real message of an approved template, through the outbox.
out=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" test-connection main --send-to +491701234500 \
	--template ticket_ready 2>&1) || fail "test-connection with a test message: $out"
grep -q "test message #[0-9]* to +491701234500: sent (SM" <<<"$out" || fail "test message: $out" # root: an operator, the full number
[ "$(sim_count)" = $((n0 + 1)) ] || fail "the sim got $(($(sim_count) - n0)) test messages, want 1"
tail -n 1 "$SIM_RECORD" | jq -e '.vars == {"1": "outpost test", "2": "outpost test", "3": "outpost test"}' \
	>/dev/null || fail "test message variables: $(tail -n 1 "$SIM_RECORD")"
out=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" test-connection main --send-to +491701234500 \
	--template nope 2>&1) && fail "a test message of an unknown template was taken"
grep -q "no template 'nope'" <<<"$out" || fail "unknown template: $out"
ctl status | jq -e '.uplink.state == "up" and .uplink.last_answer_ago_s >= 0' >/dev/null ||
	fail "uplink with the provider up: $(ctl status | jq -c .uplink)"
stop_sim
ctl test-connection main | jq -e '.results[0] | .state == "failed" and .class == "transient"' >/dev/null ||
	fail "provider down: $(ctl test-connection main)"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep -q "^uplink: *DOWN for .*connect" ||
	fail "status does not say the uplink is down: $("$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep uplink)"
grep -q "audit: socket .*: test_connection: ok" "$E2E_DIR/outpostd.log" || fail "test-connection not audited"
stop_outpostd || fail "outpostd exited non-zero"
pass "21211/63003 failed with codes, 500 expired after 3 attempts, 20003 paused the account; test-connection ok / auth 20003 / transient when down"
