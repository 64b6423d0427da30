#!/bin/bash
# One daemon, three providers: payments go to a Twilio account, tickets to a
# Meta Cloud API account, alerts to a 360dialog account, all against the
# same twilio-sim. Each event reaches the sim once, in its provider's shape.
# A Meta account with a wrong token is paused (auth 190) while the others
# keep sending; a Meta refusal (131026) fails its message with the code;
# test-connection passes for each good account, naming the call it made,
# and fails with the reason for a wrong token or key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup providers
META_TOKEN=e2e-meta-token-not-a-secret
D360_KEY=e2e-d360-key-not-a-secret
API_KEY_SID=SKe2e0000000000000000000000000e2e0
API_KEY_SECRET=e2e-api-key-secret
PHONE_ID=106540352242922
WABA_ID=102290129340398
start_broker
start_sim --meta-token "$META_TOKEN" --meta-phone-id "$PHONE_ID" --meta-waba-id "$WABA_ID" \
	--d360-key "$D360_KEY" --api-key "$API_KEY_SID:$API_KEY_SECRET" --meta-template ticket_ready:en:3 --meta-template alert_raised:en_US:4
meta_acct() { # NAME PROVIDER CREDENTIALS FROM
	echo ".accounts.$1 = {\"provider\": \"$2\", \"from\": \"$4\", \"credentials\": \"$3\",
		\"api_base\": \"$SIM_URL\", \"ca_file\": \"$SIM_CA\", \"rate_per_s\": 5000}"
}
write_config \
	"$(meta_acct meta meta meta-main +15550783881)" \
	".accounts.meta += {\"phone_number_id\": \"$PHONE_ID\", \"waba_id\": \"$WABA_ID\"}" \
	"$(meta_acct metabad meta meta-wrong +15550783883)" \
	".accounts.metabad += {\"phone_number_id\": \"$PHONE_ID\"}" \
	"$(meta_acct d360 360dialog d360-main whatsapp:+15550783882)" \
	"$(meta_acct d360bad 360dialog d360-wrong whatsapp:+15550783884)" \
	'.accounts.keyed = (.accounts.main | .credentials = "twilio-key")' \
	'.templates.ticket_ready.meta = {"name": "ticket_ready", "language": "en"}' \
	'.templates.alert_raised.meta = {"name": "alert_raised", "language": "en_US"}' \
	'(.routes[] | select(.name == "tickets")).account = "meta"' \
	'(.routes[] | select(.name == "alerts")).account = "d360"' \
	'.routes += [{"name": "metabad", "topic": "site/+/metabad/#", "template": "ticket_ready", "to": "{phone}", "account": "metabad", "vars": {"1": "{ticket}", "2": "{counter}", "3": "{id}"}}]'
umask 077
jq --arg t "$META_TOKEN" --arg k "$D360_KEY" --arg a "$SIM_ACCOUNT" --arg ks "$API_KEY_SID" \
	--arg kk "$API_KEY_SECRET" '. + {"twilio-key": {"account_sid": $a, "api_key_sid": $ks, "api_key_secret": $kk},
	"meta-main": {"access_token": $t, "app_secret": "e2e-app-secret"},
	"meta-wrong": {"access_token": "not-the-token"}, "d360-main": {"api_key": $k},
	"d360-wrong": {"api_key": "not-the-key"}}' "$E2E_DIR/secrets.json" >"$E2E_DIR/secrets.tmp" &&
	mv "$E2E_DIR/secrets.tmp" "$E2E_DIR/secrets.json" || fail "cannot write the secrets"
umask 022
start_outpostd

# A wrong Meta token: the account pauses (auth), its message waits.
mpub site/1/metabad/x '{"id": "e-bad", "ticket": "B1", "counter": "2", "phone": "+491701234568"}'
wait_for 'ctl status | jq -e ".accounts[] | select(.name == \"metabad\") | .state == \"paused\"" >/dev/null' 10 ||
	fail "a refused Meta token did not pause its account: $(ctl status | jq -c '.accounts[] | select(.name == "metabad")')"
ctl status | jq -e '.accounts[] | select(.name == "metabad") | .reason | test("190")' >/dev/null ||
	fail "the pause reason lacks Meta's code 190: $(ctl status | jq -c '.accounts[] | select(.name == "metabad")')"

# The others keep sending: 60 events over the three providers.
publish -n 60 --kind mixed --id-prefix evt --log "$E2E_DIR/pub.log"
wait_sent 60 30 || fail "only $(outbox_count sent) of 60 sent"
check_unique_refs 60
bad=$(jq -r --arg p "$T_PAY" --arg ph "$PHONE_ID" '
	select(
	  (.to | test("^whatsapp:\\+[1-9][0-9]{7,14}$") | not)
	  or (.provider == null and (.content_sid != $p or .from != "whatsapp:+14155550100" or (.vars | length) != 3))
	  or (.provider == "meta" and (.template != "ticket_ready" or .language != "en" or .from != $ph or (.vars | length) != 3 or (.sid | startswith("wamid.") | not)))
	  or (.provider == "360dialog" and (.template != "alert_raised" or .language != "en_US" or (.vars | length) != 4))
	  or ([.provider] | inside([null, "meta", "360dialog"]) | not))
	| .sid' "$SIM_RECORD" | wc -l)
[ "$bad" -eq 0 ] || fail "$bad requests at the sim are not in their provider's shape"
for p in null '"meta"' '"360dialog"'; do
	n=$(jq -c "select(.provider == $p)" "$SIM_RECORD" | wc -l)
	[ "$n" -eq 20 ] || fail "provider $p got $n of the 60 events, want 20"
done
# Every Meta and 360dialog request named outpost and its version as x.y.z,
# the pattern of Meta's spec (meta.yaml, UserAgent), the one --version prints.
ver=$("$BUILD/outpostd" --version | head -n 1 | cut -d' ' -f2)
jq -e -s --arg ua "outpost/$ver" 'map(select(.provider != null)) | length == 40 and
	all(.[]; .user_agent == $ua and (.user_agent | test("^[a-zA-Z0-9_-]+/[0-9]+\\.[0-9]+\\.[0-9]+$")))' \
	"$SIM_RECORD" >/dev/null ||
	fail "User-Agent not outpost/$ver (x.y.z): $(jq -r '.user_agent' "$SIM_RECORD" | sort | uniq -c)"
# The record names the wamid the sim answered.
ctl outbox --state sent --limit 100 | jq -e '[.messages[] | select(.account == "meta")] |
	length == 20 and all(.[]; .provider_id | startswith("wamid."))' >/dev/null ||
	fail "meta's sent records do not carry their wamids"
st=$(ctl outbox --limit 100 | jq -r '.messages[] | select(.event_id == "e-bad") | .state')
[ "$st" = queued ] || [ "$st" = retry ] || fail "the paused account's message is '$st', not held"

# A permanent Meta refusal fails that message with Meta's code.
mpub site/1/tickets/x '{"id": "e-131026", "ticket": "C1", "counter": "3", "phone": "+15005550001"}'
wait_for '[ "$(outbox_count failed)" -ge 1 ]' 10 || fail "the 131026 message did not fail"
ctl outbox --state failed | jq -e '[.messages[] | select(.event_id == "e-131026" and .error.code == 131026
	and (.error.text | endswith(" [fbtrace_id AsimTrace]")))] | length == 1' >/dev/null ||
	fail "131026 not recorded with Meta's fbtrace_id: $(ctl outbox --state failed)"

# test-connection: each good account passes and says how; wrong credentials fail with the reason.
n0=$(sim_count)
out=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" test-connection 2>&1)
[ $? = 1 ] || fail "test-connection with two bad accounts did not exit 1: $out"
grep -q "main .* ok  .*" <<<"$out" || fail "twilio not ok: $out"
grep -q "by account fetch (Auth Token)" <<<"$out" || fail "twilio's call not named: $out"
grep -q "^  keyed  .* ok  " <<<"$out" || fail "twilio with an API key not ok: $out"
grep -q "by message list, PageSize=1 (API key" <<<"$out" || fail "the API key's call not named: $out"
grep -q "^  meta  .* ok  " <<<"$out" || fail "meta not ok: $out"
grep -q "by phone number fetch" <<<"$out" || fail "meta's call not named: $out"
grep -q "^  d360  .* ok  " <<<"$out" || fail "360dialog not ok: $out"
grep -q "by templates list" <<<"$out" || fail "360dialog's call not named: $out"
grep -q "metabad .* FAILED  auth 190: Invalid OAuth access token" <<<"$out" || fail "wrong Meta token: $out"
grep -q "d360bad .* FAILED  auth 401: Invalid api key" <<<"$out" || fail "wrong 360dialog key: $out"
[ "$(sim_count)" = "$n0" ] || fail "test-connection sent a message"
ctl test-connection meta | jq -e '.results[0] | .state == "ok" and .http_status == 200' >/dev/null ||
	fail "test-connection meta: $(ctl test-connection meta)"
# The right key, set with outpostctl, and the 360dialog account passes.
printf '%s\n' "$D360_KEY" | "$BUILD/outpostctl" -s "$OUTPOST_SOCK" creds set d360-wrong \
	--provider 360dialog >/dev/null || fail "creds set --provider 360dialog failed"
ctl creds list | jq -e '.entries[] | select(.name == "d360-wrong") | .kind == "d360_api_key"' >/dev/null ||
	fail "creds list: $(ctl creds list | jq -c '.entries')"
ctl creds list | grep -q "$D360_KEY" && fail "creds list shows a key"
wait_for "ctl test-connection d360bad | jq -e '.results[0].state == \"ok\"' >/dev/null" 5 ||
	fail "d360bad with the right key: $(ctl test-connection d360bad)"
stop_outpostd || fail "outpostd exit status $?"

# The sim itself checks what Meta checks (direct requests).
mcurl() { # PATH [BODY]: status and Meta error code of a Bearer request
	local out
	out=$(curl -sS --cacert "$SIM_CA" -H "Authorization: Bearer $META_TOKEN" \
		${2:+-H 'Content-Type: application/json' -d "$2"} -w '\n%{http_code}' "$SIM_URL$1")
	echo "$(tail -n 1 <<<"$out") $(head -n -1 <<<"$out" | jq -r '.error.code // "-"')"
}
tpl() { # PARAMS-JSON-ARRAY [NAME]
	echo "{\"messaging_product\":\"whatsapp\",\"to\":\"+491701234567\",\"type\":\"template\",
	  \"template\":{\"name\":\"${2:-ticket_ready}\",\"language\":{\"code\":\"en\"},
	  \"components\":[{\"type\":\"body\",\"parameters\":$1}]}}"
}
p3='[{"type":"text","text":"a"},{"type":"text","text":"b"},{"type":"text","text":"c"}]'
n0=$(sim_count)
[ "$(mcurl /v21.0/$PHONE_ID/messages "$(tpl "$p3")")" = "200 -" ] || fail "a good Meta send was refused"
[ "$(mcurl /v21.0/$PHONE_ID/messages "$(tpl '[{"type":"text","text":"a"}]')")" = "400 132000" ] ||
	fail "parameter count not checked"
[ "$(mcurl /v21.0/$PHONE_ID/messages "$(tpl '[{"type":"text","text":""},{"type":"text","text":"b"},{"type":"text","text":"c"}]')")" = "400 131008" ] ||
	fail "empty parameter not refused"
[ "$(mcurl /v21.0/$PHONE_ID/messages "$(tpl '[{"type":"text","text":"a\nb"},{"type":"text","text":"b"},{"type":"text","text":"c"}]')")" = "400 100" ] ||
	fail "newline in a parameter not refused"
[ "$(mcurl /v21.0/$PHONE_ID/messages '{"to":"491701234567","type":"template"}')" = "400 100" ] ||
	fail "missing messaging_product not refused"
[ "$(mcurl /v21.0/999/messages "$(tpl "$p3")")" = "400 100" ] || fail "a wrong phone-number id was taken"
[ "$(sim_count)" = $((n0 + 1)) ] || fail "refused sends were recorded"
page=$(curl -sS --cacert "$SIM_CA" -H "Authorization: Bearer $META_TOKEN" "$SIM_URL/v21.0/$WABA_ID/message_templates?limit=1")
jq -e '(.data | length) == 1 and .data[0].name == "ticket_ready" and (.paging.next | test("after=1"))' <<<"$page" >/dev/null ||
	fail "templates page 1: $page"
page=$(curl -sS --cacert "$SIM_CA" -H "Authorization: Bearer $META_TOKEN" "$(jq -r .paging.next <<<"$page")")
jq -e '(.data | length) == 1 and .data[0].name == "alert_raised" and (.paging.next == null)' <<<"$page" >/dev/null ||
	fail "templates page 2: $page"
stop_sim
pass "60 events over twilio, meta and 360dialog, once each in their shapes; wrong Meta token paused its account (190); 131026 failed its message; test-connection ok x4 (Twilio by Auth Token and by API key), auth 190 / 401 for wrong credentials; the sim checks Meta's rules"
