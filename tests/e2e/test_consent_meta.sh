#!/bin/bash
# Consent and the 24-hour window on a Meta Cloud API and a 360dialog account
# (test_consent.sh does Twilio): a text route's fallback_template is a
# template by name there, with no ContentSid (call_us has only a "meta"
# mapping).
#  - window closed (the customer never wrote): the fallback template goes,
#    on meta and on 360dialog; without a fallback the event is rejected;
#  - window open (a relayed, signed Meta webhook brought the customer's
#    message, and the sim saw it too): the text goes free-form;
#  - outpost thinks the window open but Meta answers 131047 at once (the
#    sim has no message from that customer): the fallback goes instead;
#  - an opt-out on the consent topic suppresses a meta message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup consent_meta
META_TOKEN=e2e-meta-token-not-a-secret
META_SECRET=e2e-app-secret
D360_KEY=e2e-d360-key-not-a-secret
PHONE_ID=106540352242922
start_broker
start_sim --meta-token "$META_TOKEN" --meta-phone-id "$PHONE_ID" --d360-key "$D360_KEY" \
	--meta-template ticket_ready:en:3

B=+4917000000002 # wrote: window open at outpost and at the sim
D=+4917000000004 # never wrote
E=+4917000000005 # wrote by relay only: the sim (Meta) says the window is closed
C=+4917000000003 # opted out on the consent topic

write_config \
	".accounts.meta = {\"provider\": \"meta\", \"from\": \"+15550783881\", \"credentials\": \"meta-main\",
	  \"api_base\": \"$SIM_URL\", \"ca_file\": \"$SIM_CA\", \"phone_number_id\": \"$PHONE_ID\",
	  \"rate_per_s\": 5000, \"webhooks\": true}" \
	".accounts.d360 = {\"provider\": \"360dialog\", \"from\": \"+15550783882\", \"credentials\": \"d360-main\",
	  \"api_base\": \"$SIM_URL\", \"ca_file\": \"$SIM_CA\", \"rate_per_s\": 5000}" \
	'.templates.call_us = {"meta": {"name": "ticket_ready", "language": "en"}, "variables": 3,
	  "status": "approved"}' \
	'.routes += [{"name": "notes", "topic": "site/+/notes/#", "text": "Your code is {code}",
	  "fallback_template": "call_us", "to": "{phone}", "account": "meta",
	  "vars": {"1": "{code}", "2": "desk", "3": "{id}"}},
	 {"name": "notes360", "topic": "site/+/notes360/#", "text": "Your code is {code}",
	  "fallback_template": "call_us", "to": "{phone}", "account": "d360",
	  "vars": {"1": "{code}", "2": "desk", "3": "{id}"}},
	 {"name": "plain", "topic": "site/+/plain/#", "text": "Hi {code}", "to": "{phone}",
	  "account": "meta"},
	 {"name": "metatickets", "topic": "site/+/mt/#", "template": "call_us", "to": "{phone}",
	  "account": "meta", "vars": {"1": "{code}", "2": "desk", "3": "{id}"}}]'
umask 077
jq --arg t "$META_TOKEN" --arg s "$META_SECRET" --arg k "$D360_KEY" \
	'. + {"meta-main": {"access_token": $t, "app_secret": $s}, "d360-main": {"api_key": $k}}' \
	"$E2E_DIR/secrets.json" >"$E2E_DIR/secrets.tmp" && mv "$E2E_DIR/secrets.tmp" "$E2E_DIR/secrets.json" ||
	fail "cannot write the secrets"
umask 022
start_outpostd

at_sim() { # TO JQ-FILTER: the sim's records to TO that pass the filter, counted
	jq -s --arg to "whatsapp:$1" "map(select(.to == \$to) | select($2)) | length" "$SIM_RECORD"
}
# An inbound message from FROM as Meta posts it, relayed and signed.
relay_inbound() { # FROM ID
	local body sig
	body=$(jq -nc --arg f "${1#+}" --arg id "$2" --arg ts "$(date +%s)" '{object: "whatsapp_business_account",
		entry: [{id: "W", changes: [{field: "messages", value: {messaging_product: "whatsapp",
		metadata: {display_phone_number: "15550783881", phone_number_id: "1"},
		messages: [{from: $f, id: $id, timestamp: $ts, type: "text", text: {body: "hello"}}]}}]}]}')
	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$META_SECRET" | sed 's/^.* //')
	mpub outpost/e2e/webhooks/meta "$(jq -nc --arg s "sha256=$sig" --arg b "$body" '{signature: $s, body: $b}')"
}

# Window closed: the fallback template by name, on both providers.
mpub site/s1/notes/x "{\"id\":\"n1\",\"phone\":\"$D\",\"code\":\"5678\"}"
mpub site/s1/notes360/x "{\"id\":\"n2\",\"phone\":\"$D\",\"code\":\"6789\"}"
mpub site/s1/plain/x "{\"id\":\"q1\",\"phone\":\"$D\",\"code\":\"9\"}"
wait_state n1 sent
wait_state n2 sent
wait_state q1 rejected
[ "$(at_sim "$D" '.provider == "meta" and .template == "ticket_ready" and .vars["1"] == "5678"')" = 1 ] ||
	fail "the fallback template did not reach Meta once: $(cat "$SIM_RECORD")"
[ "$(at_sim "$D" '.provider == "360dialog" and .template == "ticket_ready" and .vars["1"] == "6789"')" = 1 ] ||
	fail "the fallback template did not reach 360dialog once: $(cat "$SIM_RECORD")"
record_of q1 | jq -e '.error.text | test("outside the 24-hour window \\(last inbound never\\)")' \
	>/dev/null || fail "window rejection reason: $(record_of q1)"
ctl outbox show "$(record_of n1 | jq .seq)" | jq -e '.message.form == "template"' >/dev/null ||
	fail "outbox show of n1: $(ctl outbox show "$(record_of n1 | jq .seq)")"

# Window open: B wrote (relayed to outpost, and at the sim): free-form text.
curl -sS --cacert "$SIM_CA" -X POST "$SIM_URL/sim/inbound" \
	-d "{\"from\":\"$B\",\"to\":\"whatsapp:+15550783881\",\"body\":\"hello\"}" >/dev/null ||
	fail "POST /sim/inbound"
relay_inbound "$B" wamid.inB
relay_inbound "$E" wamid.inE
wait_for "ctl consent show $E | jq -e .window_open >/dev/null && ctl consent show $B | jq -e .window_open >/dev/null" 10 ||
	fail "the relayed inbound messages did not open the window: $(ctl consent show "$B") $(ctl status | jq -c .webhooks)"
mpub site/s1/notes/x "{\"id\":\"n3\",\"phone\":\"$B\",\"code\":\"1234\"}"
wait_state n3 sent
[ "$(at_sim "$B" '.provider == "meta" and .template == "text" and .vars.Body == "Your code is 1234"')" = 1 ] ||
	fail "free-form text not sent to B: $(cat "$SIM_RECORD")"
ctl outbox show "$(record_of n3 | jq .seq)" | jq -e '.message.form == "text"' >/dev/null ||
	fail "outbox show of n3: no form text"

# Outpost's window is open for E, Meta's is not: 131047 at once, and the
# fallback template goes instead, once.
mpub site/s1/notes/x "{\"id\":\"n4\",\"phone\":\"$E\",\"code\":\"4711\"}"
wait_state n4 sent
[ "$(at_sim "$E" '.template == "text"')" = 0 ] || fail "the sim took the text to E"
[ "$(at_sim "$E" '.template == "ticket_ready" and .vars["1"] == "4711"')" = 1 ] ||
	fail "the fallback after 131047 did not reach the sim once: $(cat "$SIM_RECORD")"
record_of n4 | jq -e '.attempts == 2' >/dev/null ||
	fail "n4 did not take two attempts (the refused text, then its template): $(record_of n4)"
[ "$(consent_num freeform)/$(consent_num fallback_template)" = 1/3 ] ||
	fail "status counts $(consent_num freeform) free-form, $(consent_num fallback_template) fallback sends"

# The consent topic's opt-out holds back a meta template message.
mpub outpost/e2e/consent "{\"to\":\"$C\",\"opt\":\"out\",\"source\":\"kiosk-3\"}"
wait_for '[ "$(consent_num topic_ok)" = 1 ]' 10 || fail "the consent payload was not taken"
mpub site/s1/mt/x "{\"id\":\"m1\",\"phone\":\"$C\",\"code\":\"1\"}"
wait_state m1 suppressed
record_of m1 | jq -e '.error.text | test("opted out \\(mqtt:kiosk-3 at ")' >/dev/null ||
	fail "opt-out reason: $(record_of m1)"
[ "$(at_sim "$C" 'true')" = 0 ] || fail "a message to the opted-out number reached the sim"

stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
pass "meta and 360dialog: fallback template by name outside the window, text inside, 131047 falls back once, opt-out suppresses"
