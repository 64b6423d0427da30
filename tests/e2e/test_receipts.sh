#!/bin/bash
# Delivery status and receipts. The sim delivers each message 500 ms after it
# took it and shows it read 2.5 s later; outpostd polls (1 s, then 3 s later) and
# moves each record sent -> delivered -> read, publishing a receipt per change
# on outpost/e2e/receipts/<event id>. A magic recipient ends undelivered with
# 63024. Receipts of changes made while the broker is down arrive once it is
# back. Relayed Twilio webhooks (account "hooked", polling off): a good
# signature moves a message and relays an inbound one, a bad one is rejected,
# counted and moves nothing. A Meta-signed batch (HMAC-SHA256 by openssl) moves
# a message sent through the Meta account (a wamid) to read; a wrongly signed
# one is rejected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup receipts
start_broker
META_TOKEN=e2e-meta-token-not-a-secret
META_SECRET=e2e-app-secret-not-a-secret
PHONE_ID=106540352242922
start_sim --deliver-after-ms 500 --read-after-ms 2500 --meta-token "$META_TOKEN" \
	--meta-phone-id "$PHONE_ID" --meta-template ticket_ready:en:3
write_config '.accounts.main.status_poll = {"first": "1s", "max_age": "1h"}' \
	'.accounts.hooked = (.accounts.main | .webhooks = true | .status_poll = {"enabled": false})' \
	'.routes += [{"name": "hooks", "topic": "site/+/hooks/#", "template": "ticket_ready", "to": "{phone}", "account": "hooked", "vars": {"1": "{ticket}", "2": "{counter}", "3": "{id}"}}]' \
	".accounts.wa = {\"provider\": \"meta\", \"from\": \"+15550783881\", \"credentials\": \"meta-main\", \"phone_number_id\": \"$PHONE_ID\", \"api_base\": \"$SIM_URL\", \"ca_file\": \"$SIM_CA\", \"webhooks\": true}" \
	'.templates.ticket_ready.meta = {"name": "ticket_ready", "language": "en"}' \
	'.routes += [{"name": "notes", "topic": "site/+/notes/#", "text": "Your code is {code}", "fallback_template": "ticket_ready", "to": "{phone}", "account": "hooked", "vars": {"1": "{code}", "2": "desk", "3": "{id}"}}]' \
	'.routes += [{"name": "meta", "topic": "site/+/meta/#", "template": "ticket_ready", "to": "{phone}", "account": "wa", "vars": {"1": "{ticket}", "2": "{counter}", "3": "{id}"}}]'
umask 077
jq --arg t "$META_TOKEN" --arg s "$META_SECRET" '. + {"meta-main": {"access_token": $t, "app_secret": $s}}' \
	"$E2E_DIR/secrets.json" >"$E2E_DIR/secrets.tmp" && mv "$E2E_DIR/secrets.tmp" "$E2E_DIR/secrets.json" ||
	fail "cannot write the secrets"
umask 022
start_outpostd

# The receipts (and inbound messages) as the bus carries them: a persistent
# QoS 1 subscriber that reconnects by itself when the broker restarts.
sub() {
	e2e_spawn "$E2E_DIR/sub.err" sh -c "exec mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -q 1 -c -i e2e-receipts \
		-t 'outpost/e2e/receipts/#' -t 'outpost/e2e/inbound' -v >>'$E2E_DIR/receipts.txt'"
}
sub
wait_for "grep -q 'as e2e-receipts' '$E2E_DIR/mosquitto.log'" 5 || fail "the receipt subscriber did not connect"
pay() { mpub site/1/payments/card "{\"id\": \"$1\", \"customer\": {\"name\": \"Ana\", \"phone\": \"$2\"}, \"amount\": \"1.00\", \"currency\": \"EUR\"}"; }
# statuses EVENT: the receipt statuses seen for an event, in order, space-separated.
# A receipt may come twice (at-least-once across a reconnect): repeats of
# one (seq, status) are dropped, a wrong order is not.
statuses() {
	grep "^outpost/e2e/receipts/$1 " "$E2E_DIR/receipts.txt" | cut -d' ' -f2- |
		jq -r '"\(.seq) \(.status)"' | awk '!seen[$0]++ { print $2 }' | tr '\n' ' '
}
state_of() {
	ctl outbox --limit 100 | jq -r --arg e "$1" '.messages[] | select(.event_id == $e) | .state'
}

pay r1 +491701234561
pay r2 +491701234562
pay r3 +491701234563
pay r4 +15005550063
pay r9 +15005550016
wait_for '[ "$(outbox_count read)" -ge 3 ] && [ "$(outbox_count undelivered)" -ge 1 ] && [ "$(outbox_count failed)" -ge 1 ]' 15 ||
	fail "read=$(outbox_count read) undelivered=$(outbox_count undelivered) delivered=$(outbox_count delivered) sent=$(outbox_count sent)"
for e in r1 r2 r3; do
	wait_for "[ \"\$(statuses $e)\" = 'sent delivered read ' ]" 5 || fail "receipts of $e: '$(statuses $e)'"
done
wait_for '[ "$(statuses r4)" = "sent undelivered " ]' 5 || fail "receipts of r4: '$(statuses r4)'"
# The provider's time of each state is kept with the record (the sim's are
# whole seconds).
seq1=$(ctl outbox --limit 100 | jq -r '.messages[] | select(.event_id == "r1") | .seq')
ctl outbox show "$seq1" | jq -e '.message.delivery | .sent_ms > 0 and .delivered_ms > 0 and
	.read_ms >= .delivered_ms and .polls >= 2 and .next_poll_ms == 0' >/dev/null ||
	fail "delivery times of r1: $(ctl outbox show "$seq1" | jq -c .message.delivery)"
r4=$(grep '^outpost/e2e/receipts/r4 ' "$E2E_DIR/receipts.txt" | tail -n 1 | cut -d' ' -f2-)
jq -e '.code == 63024 and .account == "main" and .route == "payments" and (.provider_id | startswith("SM"))
	and (.to | contains("*")) and .seq > 0 and .at > 0 and (.error | length > 0)' <<<"$r4" >/dev/null ||
	fail "undelivered receipt: $r4"
wait_for '[ "$(statuses r9)" = "sent failed " ]' 5 || fail "receipts of r9: '$(statuses r9)'"
grep '^outpost/e2e/receipts/r9 ' "$E2E_DIR/receipts.txt" | tail -n 1 | cut -d' ' -f2- | jq -e '.code == 63016' >/dev/null ||
	fail "failed receipt of r9: $(grep r9 "$E2E_DIR/receipts.txt")"
ctl outbox --state undelivered | jq -e '.messages[0] | .event_id == "r4" and .error.code == 63024' >/dev/null ||
	fail "undelivered record: $(ctl outbox --state undelivered)"
grep -q '+4917012345' "$E2E_DIR/receipts.txt" && fail "a full number went out on the bus"
# A message the provider refuses outright ends with one receipt too.
pay r0 +15005550001
wait_for '[ "$(statuses r0)" = "failed " ]' 10 || fail "receipts of r0: '$(statuses r0)'"
grep '^outpost/e2e/receipts/r0 ' "$E2E_DIR/receipts.txt" | cut -d' ' -f2- |
	jq -e '.code == 21211 and .provider_id == ""' >/dev/null || fail "failed receipt: $(grep r0 "$E2E_DIR/receipts.txt")"

# The broker goes away while r5 and r6 are delivered and read: the receipts
# wait in the store and all arrive once it is back.
pay r5 +491701234565
pay r6 +491701234566
wait_for '[ "$(statuses r5)" = "sent " ] && [ "$(statuses r6)" = "sent " ]' 5 ||
	fail "sent receipts of r5/r6: '$(statuses r5)' '$(statuses r6)'"
stop_broker
# Down for as short as the test allows: the daemon's reconnect backoff grows
# with the time the broker is away.
wait_for '[ "$(( $(outbox_count delivered) + $(outbox_count read) ))" -ge 5 ]' 15 ||
	fail "r5/r6 not delivered while the broker was down"
pending=$(ctl status | jq .receipts.pending)
[ "$pending" -ge 2 ] || fail "only $pending receipts pending with the broker down"
e2e_spawn "$E2E_DIR/mosquitto.log" mosquitto -c "$E2E_DIR/mosquitto.conf"
BROKER_PID=$E2E_LAST_PID
wait_for "port_open $BROKER_PORT" 10 || fail "mosquitto did not come back"
for e in r5 r6; do
	wait_for "[ \"\$(statuses $e)\" = 'sent delivered read ' ]" 25 ||
		fail "after the broker came back, receipts of $e: '$(statuses $e)'"
done
wait_for '[ "$(ctl status | jq .receipts.pending)" = 0 ]' 5 ||
	fail "receipts still pending: $(ctl status | jq -c .receipts)"

# Relayed webhooks. h1 goes out through the account without polling: only a
# webhook can move it.
mpub site/1/hooks/x '{"id": "h1", "ticket": "A1", "counter": "2", "phone": "+491701234567"}'
wait_for '[ "$(state_of h1)" = sent ]' 10 || fail "h1 not sent: $(state_of h1)"
sid=$(ctl outbox --limit 100 | jq -r '.messages[] | select(.event_id == "h1") | .provider_id')
url="https://relay.example.com/twilio/status?site=e2e"
# Twilio's signature: HMAC-SHA1 with the auth token over the URL and the
# parameters sorted by name, name then value.
sign() { printf '%s' "$1" | openssl dgst -sha1 -hmac "$SIM_TOKEN" -binary | base64; }
relay() { mpub outpost/e2e/webhooks/hooked "$(jq -nc --arg u "$url" --arg s "$1" --arg b "$2" '{url: $u, signature: $s, body: $b}')"; }
body="AccountSid=$SIM_ACCOUNT&MessageSid=$sid&MessageStatus=delivered&ChannelPrefix=whatsapp"
relay "$(sign "${url}AccountSid${SIM_ACCOUNT}ChannelPrefixwhatsappMessageSid${sid}MessageStatusdelivered")" "$body"
wait_for '[ "$(state_of h1)" = delivered ]' 10 || fail "a signed webhook did not move h1: $(state_of h1) $(ctl status | jq -c .webhooks)"
wait_for '[ "$(statuses h1)" = "sent delivered " ]' 5 || fail "receipts of h1: '$(statuses h1)'"
# The sim's control route forces a state; fetch shows it (h1 is not polled).
out=$(curl -sS --cacert "$SIM_CA" -d "{\"sid\":\"$sid\",\"status\":\"undelivered\",\"code\":63024}" "$SIM_URL/sim/status")
jq -e '.status == "undelivered"' <<<"$out" >/dev/null || fail "/sim/status: $out"
sim_curl "$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages/$sid.json" | head -n 1 |
	jq -e '.status == "undelivered" and .error_code == 63024' >/dev/null || fail "fetch after /sim/status"
# The same body saying "read", under the signature of the "delivered" one.
relay "$(sign "${url}AccountSid${SIM_ACCOUNT}ChannelPrefixwhatsappMessageSid${sid}MessageStatusdelivered")" \
	"AccountSid=$SIM_ACCOUNT&MessageSid=$sid&MessageStatus=read&ChannelPrefix=whatsapp"
wait_for '[ "$(ctl status | jq .webhooks.rejected)" = 1 ]' 5 || fail "forged webhook not rejected: $(ctl status | jq -c .webhooks)"
ctl status | jq -e '.webhooks.accepted == 1 and (.webhooks.last_reject | test("bad signature"))' >/dev/null ||
	fail "webhook counters: $(ctl status | jq -c .webhooks)"
grep -q 'webhook for account hooked rejected: bad signature' "$E2E_DIR/outpostd.log" || fail "rejection not logged"
sleep 0.5
[ "$(state_of h1)" = delivered ] || fail "the forged webhook moved h1 to $(state_of h1)"
[ "$(statuses h1)" = "sent delivered " ] || fail "the forged webhook made a receipt: '$(statuses h1)'"
# A webhook for an account that does not take them changes nothing either.
mpub outpost/e2e/webhooks/main "{\"url\": \"$url\", \"signature\": \"x\", \"body\": \"\"}"
wait_for '[ "$(ctl status | jq .webhooks.rejected)" = 2 ]' 5 || fail "webhook for main not rejected"

# Meta: a signed batch (two entries) moves the message sent through the Meta
# account, whose provider id is a wamid; an id nobody holds is counted; the
# same batch signed with another secret is rejected.
mpub site/1/meta/x '{"id": "w1", "ticket": "W1", "counter": "3", "phone": "+491701234569"}'
wait_for '[ "$(state_of w1)" = sent ]' 10 || fail "w1 not sent: $(state_of w1)"
wamid=$(ctl outbox --limit 100 | jq -r '.messages[] | select(.event_id == "w1") | .provider_id')
[[ $wamid == wamid.* ]] || fail "w1's provider id is not a wamid: $wamid"
now=$(date +%s)
mbody=$(jq -nc --arg w "$wamid" --arg t1 "$((now - 2))" --arg t2 "$((now - 1))" '{object: "whatsapp_business_account", entry: [
	{id: "W", changes: [{field: "messages", value: {messaging_product: "whatsapp", metadata: {display_phone_number: "15550783881", phone_number_id: "1"},
	  statuses: [{id: $w, status: "delivered", timestamp: $t1, recipient_id: "491701234569"}, {id: "wamid.nobody", status: "read", timestamp: $t2}]}}]},
	{id: "W", changes: [{field: "messages", value: {statuses: [{id: $w, status: "read", timestamp: $t2}]}}]}]}')
msign() { printf '%s' "$mbody" | openssl dgst -sha256 -hmac "$1" | sed 's/^.* //'; }
mrelay() { mpub outpost/e2e/webhooks/wa "$(jq -nc --arg s "sha256=$1" --arg b "$mbody" '{signature: $s, body: $b}')"; }
mrelay "$(msign not-the-secret)"
wait_for '[ "$(ctl status | jq .webhooks.rejected)" = 3 ]' 5 || fail "Meta batch with a wrong secret not rejected"
[ "$(state_of w1)" = sent ] || fail "a wrongly signed Meta batch moved w1 to $(state_of w1)"
mrelay "$(msign "$META_SECRET")"
wait_for '[ "$(state_of w1)" = read ]' 10 || fail "the signed Meta batch did not move w1: $(state_of w1) $(ctl status | jq -c .webhooks)"
wait_for '[ "$(statuses w1)" = "sent delivered read " ]' 5 || fail "receipts of w1: '$(statuses w1)'"
grep '^outpost/e2e/receipts/w1 ' "$E2E_DIR/receipts.txt" | tail -n 1 | cut -d' ' -f2- |
	jq -e --arg t "$(((now - 1) * 1000))" '.at == ($t | tonumber) and .account == "wa"' >/dev/null ||
	fail "read receipt of w1 lacks Meta's time: $(grep w1 "$E2E_DIR/receipts.txt" | tail -n 1)"
ctl status | jq -e '.delivery.unknown_ids >= 1' >/dev/null || fail "the unknown wamid was not counted"

# An inbound message, signed, is relayed on the inbound topic.
in_body="From=whatsapp%3A%2B491701234567&To=whatsapp%3A%2B14155550100&Body=STOP&MessageSid=SMinbound1&SmsStatus=received"
relay "$(sign "${url}BodySTOPFromwhatsapp:+491701234567MessageSidSMinbound1SmsStatusreceivedTowhatsapp:+14155550100")" "$in_body"
wait_for "grep -q '^outpost/e2e/inbound .*SMinbound1' '$E2E_DIR/receipts.txt'" 5 ||
	fail "inbound message not relayed: $(ctl status | jq -c .webhooks)"
grep '^outpost/e2e/inbound ' "$E2E_DIR/receipts.txt" | cut -d' ' -f2- | jq -e '.body == "STOP" and .account == "hooked"' >/dev/null ||
	fail "inbound JSON: $(grep '^outpost/e2e/inbound ' "$E2E_DIR/receipts.txt")"

# A free-form text the provider took and then failed for the 24-hour window
# (Twilio's 63016 comes as a status): the route's fallback template goes
# instead. A relayed inbound message opens our window for +491701234570;
# the sim has seen no message from them, so it fails the text, and the
# failure comes back relayed.
relay "$(sign "${url}BodyhiFromwhatsapp:+491701234570MessageSidSMinbound2SmsStatusreceivedTowhatsapp:+14155550100")" \
	"From=whatsapp%3A%2B491701234570&To=whatsapp%3A%2B14155550100&Body=hi&MessageSid=SMinbound2&SmsStatus=received"
wait_for "grep -q '^outpost/e2e/inbound .*SMinbound2' '$E2E_DIR/receipts.txt'" 5 || fail "second inbound not taken"
mpub site/1/notes/x '{"id": "n1", "code": "4711", "phone": "+491701234570"}'
wait_for '[ "$(state_of n1)" = sent ]' 10 || fail "n1 not sent: $(state_of n1)"
nsid=$(ctl outbox --limit 100 | jq -r '.messages[] | select(.event_id == "n1") | .provider_id')
grep -q "\"sid\":\"$nsid\".*\"body\":\"Your code is 4711\"" "$SIM_RECORD" ||
	grep -q "\"sid\":\"$nsid\"" "$SIM_RECORD" || fail "n1 ($nsid) is not at the sim"
relay "$(sign "${url}AccountSid${SIM_ACCOUNT}ErrorCode63016MessageSid${nsid}MessageStatusfailed")" \
	"AccountSid=$SIM_ACCOUNT&MessageSid=$nsid&MessageStatus=failed&ErrorCode=63016"
wait_for '[ "$(ctl outbox --limit 100 | jq -r ".messages[] | select(.event_id == \"n1\") | .provider_id")" != "$nsid" ] && [ "$(state_of n1)" = sent ]' 10 ||
	fail "n1 was not sent again as its template: $(ctl outbox --limit 100 | jq -c '.messages[] | select(.event_id == "n1")')"
grep -q 'delivery: message #[0-9]* retry (relayed webhook, the provider says the 24-hour window is closed (code 63016, after it took the text)' \
	"$E2E_DIR/outpostd.log" || fail "the fallback after a late 63016 was not logged with its reason"
[ "$(jq -c 'select(.vars["3"] == "n1") | .content_sid' "$SIM_RECORD")" = "\"$T_TICKET\"" ] ||
	fail "the fallback template of n1 did not reach the sim once: $(grep n1 "$SIM_RECORD")"

stop_outpostd || fail "outpostd exit status $?"
pass "7 messages followed to read/undelivered/failed by polling, $(grep -c '^outpost/e2e/receipts/' "$E2E_DIR/receipts.txt") receipts (none lost across a broker restart), webhooks: Twilio and Meta applied, 3 rejected, 1 inbound; a text failed late for the window went as its template"
