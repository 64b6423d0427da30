#!/bin/bash
# Bad input mixed with good: outpostd stays up, each bad event is recorded as
# rejected with its reason (visible in outpostctl outbox), every good one is
# delivered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup bad_input
start_broker
start_sim
write_config '.templates.promo = {"twilio_content_sid": "HX0000000000000000000000000000b001", "variables": 1, "status": "pending"}' \
	'.routes += [{"name": "promo", "topic": "site/+/promo/#", "template": "promo", "to": "{phone}", "unapproved": "fail", "vars": {"1": "{id}"}}]'
start_outpostd

big=$(head -c 70000 /dev/zero | tr '\0' 'x')
publish -n 100 --kind mixed --id-prefix good-a
mpub site/1/payments/card '{"id": "bad-json", "customer": {'
mpub site/1/payments/card '{"customer": {"name": "Ana", "phone": "+491701234567"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/payments/card '{"id": "bad-phone", "customer": {"name": "Ana", "phone": "+12"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/payments/card '{"id": "bad-letters", "customer": {"name": "Ana", "phone": "call me"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/payments/card '{"id": "bad-newline", "customer": {"name": "Ana\nBob", "phone": "+491701234567"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/payments/card '{"id": "bad-missing", "customer": {"phone": "+491701234567"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/payments/card '{"id": "bad-spaces", "customer": {"name": "Ana      Bob", "phone": "+491701234567"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/payments/card "{\"id\": \"bad-big\", \"pad\": \"$big\"}"
mpub site/1/promo/x '{"id": "bad-template", "phone": "+491701234567"}'
mpub site/1/payments/card '[1, 2, 3]'
# Fan-out: one alert to a list of two recipients, one of them invalid.
mpub site/1/alerts/door '{"id": "fan-1", "panel": "Gate", "zone": "1", "level": "alarm", "notify": ["+14155550177", "12"]}'
mpub site/1/alerts/door '{"id": "fan-0", "panel": "Gate", "zone": "1", "level": "alarm", "notify": []}'
# Binary garbage, fixed so the test is the same every run: one blob whose
# first byte is a valid JSON number, one that is junk from the start.
printf '7\377\376\000\001\033[2J{"id":' >"$E2E_DIR/garbage1.bin"
printf '\211PNG\r\n\032\n\000\000\000\rIHDR' >"$E2E_DIR/garbage2.bin"
for g in garbage1 garbage2; do
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t site/1/alerts/door -f "$E2E_DIR/$g.bin" ||
		fail "publishing $g failed"
done
publish -n 100 --kind mixed --id-prefix good-b

wait_sent 201 60 || fail "only $(outbox_count sent) of 201 good messages sent"
check_unique_refs 201
jq -s -e 'any(.[]; .vars["4"] == "fan-1" and .to == "whatsapp:+14155550177")' "$SIM_RECORD" >/dev/null ||
	fail "the valid recipient of the fan-out alert got nothing"
kill -0 "$OUTPOSTD_PID" || fail "outpostd died"

rejected=$(ctl outbox --state rejected --limit 100)
expect() { # expect EVENT_ID_OR_EMPTY REGEX [COUNT]
	jq -e --arg id "$1" --arg re "$2" --argjson n "${3:-1}" \
		'[.messages[] | select(.event_id == $id and (.error.text | test($re)))] | length == $n' \
		<<<"$rejected" >/dev/null || fail "no rejection of '$1' matching /$2/: $(jq -c '[.messages[] | {event_id, t: .error.text}]' <<<"$rejected")"
}
expect "" "malformed JSON" 3 # the truncated object and the two binary blobs
expect "" "event id field 'id' is missing"
expect bad-phone "recipient.*too short"
expect bad-letters "recipient.*not a phone number"
expect bad-newline "newline"
expect bad-missing "missing field 'customer.name'"
expect bad-spaces "consecutive spaces"
expect "" "over the 65536-byte limit"
expect bad-template "not approved"
expect "" "not an object"
expect fan-1 'recipient "\*\*"' # masked, like any recipient in a reason
expect fan-0 "recipient list notify is empty"
n=$(jq '.messages | length' <<<"$rejected")
[ "$n" -eq 14 ] || fail "$n rejected records, expected 14"
[ "$(outbox_count rejected)" -eq 14 ] || fail "status counts $(outbox_count rejected) rejected"

# The same in the human view a technician reads.
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" outbox --state rejected --limit 20 >"$E2E_DIR/ctl.txt" ||
	fail "outpostctl outbox failed"
grep -q "not approved" "$E2E_DIR/ctl.txt" || fail "outpostctl outbox does not show the reasons"

# A redelivered or repeated event id is suppressed, not sent twice.
mpub site/1/payments/card '{"id": "good-a-1", "customer": {"name": "Ana", "phone": "+491701234567"}, "amount": "9.99", "currency": "EUR"}'
wait_for '[ "$(outbox_count suppressed)" -ge 1 ]' 10 || fail "repeated event id not suppressed"
sleep 0.5
[ "$(sim_count)" -eq 201 ] || fail "the repeated event was sent again"
stop_outpostd || fail "outpostd exited non-zero"
pass "14 bad inputs rejected with reasons, 201 good messages delivered, repeat suppressed"
