#!/bin/bash
# Template approvals on a Meta Cloud API account (twilio-sim's Meta side):
# the sync lists the WABA's templates, matches them by the config's "meta"
# name and language, and the same gate holds a PAUSED template's messages
# with the reason while an APPROVED one's go out. A media template's URL
# goes as the header's image, its other variables as body parameters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup templates_meta
META_TOKEN=e2e-meta-token-not-a-secret
PHONE_ID=106540352242922
WABA_ID=102290129340398
start_broker
start_sim --meta-token "$META_TOKEN" --meta-phone-id "$PHONE_ID" --meta-waba-id "$WABA_ID" \
	--meta-template order_ready:en_US:2 --meta-template promo_pic:en:2:PAUSED \
	--meta-template receipt_pic:en:2:APPROVED:image
write_config \
	".accounts = {\"meta\": {\"provider\": \"meta\", \"from\": \"+15550783881\", \"credentials\": \"meta-main\",
	  \"api_base\": \"$SIM_URL\", \"ca_file\": \"$SIM_CA\", \"phone_number_id\": \"$PHONE_ID\",
	  \"waba_id\": \"$WABA_ID\", \"rate_per_s\": 5000}}" \
	'.templates = {"ready": {"meta": {"name": "order_ready", "language": "en_US"}, "variables": 2, "status": "pending"},
	               "promo": {"meta": {"name": "promo_pic", "language": "en"}, "variables": 2, "status": "approved"},
	               "receipt": {"meta": {"name": "receipt_pic", "language": "en", "header": "image"}, "variables": 3,
	                           "media_var": 2, "status": "approved"}}' \
	'.routes = [
	  {"name": "r", "topic": "site/+/r/#", "template": "ready", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "p", "topic": "site/+/p/#", "template": "promo", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "m", "topic": "site/+/m/#", "template": "receipt", "to": "{phone}",
	   "vars": {"1": "{name}", "2": "{pic}", "3": "{id}"}}]'
umask 077
jq --arg t "$META_TOKEN" '. + {"meta-main": {"access_token": $t, "app_secret": "e2e-app-secret"}}' \
	"$E2E_DIR/secrets.json" >"$E2E_DIR/secrets.tmp" && mv "$E2E_DIR/secrets.tmp" "$E2E_DIR/secrets.json" ||
	fail "cannot write the secrets"
umask 022
start_outpostd

tpl() { ctl templates list | jq -r --arg n "$1" --arg f "$2" '.templates[] | select(.name == $n) | .[$f]'; }
wait_for '[ "$(tpl promo status)" = PAUSED ] && [ "$(tpl ready status)" = APPROVED ]' 10 ||
	fail "the sync did not bring Meta's statuses: $(ctl templates list)"
[ "$(tpl promo id)" = promo_pic:en ] || fail "promo's id: $(tpl promo id)"

for i in 1 2; do
	mpub site/1/r/x "{\"id\": \"r-$i\", \"phone\": \"+49170123450$i\", \"name\": \"N$i\"}"
	mpub site/1/p/x "{\"id\": \"p-$i\", \"phone\": \"+49170123451$i\", \"name\": \"N$i\"}"
done
mpub site/1/m/x '{"id": "m-1", "phone": "+4917012345201", "name": "Ana", "pic": "https://cdn.example.com/r/8812.jpg"}'
wait_sent 3 10 || fail "the approved templates' events were not sent: $(outbox_count sent) sent"
jq -e -s 'map(select(.template == "receipt_pic")) | length == 1 and
	.[0].header == {"type": "image", "link": "https://cdn.example.com/r/8812.jpg"} and
	.[0].vars == {"1": "Ana", "2": "m-1"}' "$SIM_RECORD" >/dev/null ||
	fail "the media template did not reach Meta with its header image: $(grep receipt_pic "$SIM_RECORD")"
wait_for '[ "$(ctl outbox --state queued | jq "[.messages[] | select(.held and (.error.text | test(\"promo is PAUSED at the provider\")))] | length")" -eq 2 ]' 10 ||
	fail "the paused template's messages are not held: $(ctl outbox --state queued)"
sleep 0.5
[ "$(sim_count)" -eq 3 ] || fail "the sim has $(sim_count) messages, expected 3"
grep -q '"promo_pic"' "$SIM_RECORD" && fail "a message of the paused template reached the sim"

# Meta's message_status is kept: on the record, in outbox show, in the
# "sent" receipt.
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t outpost/e2e/receipts/r-held -C 1 -W 20 \
	>"$E2E_DIR/receipt.txt" 2>&1 &
SUB_PID=$!
E2E_PIDS+=("$SUB_PID")
sleep 0.3
mpub site/1/r/x '{"id": "r-held", "phone": "+15005550010", "name": "H"}'
wait_sent 4 10 || fail "r-held was not sent: $(outbox_count sent) sent"
seq=$(ctl outbox --limit 50 | jq '.messages[] | select(.event_id == "r-held") | .seq')
ctl outbox show "$seq" | jq -e '.message.provider_status == "held_for_quality_assessment"' >/dev/null ||
	fail "outbox show lacks Meta's message_status: $(ctl outbox show "$seq")"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" outbox show "$seq" | grep -q '^provider_status *held_for_quality_assessment$' ||
	fail "outpostctl outbox show does not print the provider status"
ctl outbox --limit 50 | jq -e '[.messages[] | select(.event_id == "r-1") | .provider_status] == ["accepted"]' \
	>/dev/null || fail "an accepted message's status: $(ctl outbox --limit 50)"
wait "$SUB_PID" 2>/dev/null
jq -e '.status == "sent" and .provider_status == "held_for_quality_assessment"' "$E2E_DIR/receipt.txt" \
	>/dev/null || fail "the sent receipt lacks the provider status: $(cat "$E2E_DIR/receipt.txt")"
check_unique_refs 4
stop_outpostd || fail "outpostd exit status $?"
pass "Meta templates synced by name and language; APPROVED sent, PAUSED held with the reason"
