#!/usr/bin/env bash
# test_sim.sh - twilio-sim answers like Twilio: a quick check of the fake
# itself, so a failing outpost test is not a broken sim. Uses the curl CLI.
. "$(dirname "$0")/lib.sh"
e2e_setup sim

start_sim
MSGS="$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json"
TO=whatsapp:+491701234567
FROM=whatsapp:+14155550100

# post [curl args...]: POST to Messages.json; sets BODY and STATUS.
post() {
	local out
	out=$(sim_curl "$@" "$MSGS") || fail "curl failed: $out"
	STATUS=$(tail -n1 <<<"$out")
	BODY=$(sed '$d' <<<"$out")
}

# expect_error STATUS CODE WHAT: the last reply was that Twilio error.
expect_error() {
	[ "$STATUS" = "$1" ] || fail "$3: HTTP $STATUS, want $1: $BODY"
	[ "$(jq -r .code <<<"$BODY")" = "$2" ] || fail "$3: code, want $2: $BODY"
	[ "$(jq -r .status <<<"$BODY")" = "$1" ] || fail "$3: status field: $BODY"
	[ "$(jq -r .more_info <<<"$BODY")" = "https://www.twilio.com/docs/errors/$2" ] ||
		fail "$3: more_info: $BODY"
}

send() { # send TO CONTENTSID VARS [more curl args]
	local to=$1 sid=$2 vars=$3
	shift 3
	post --data-urlencode "To=$to" --data-urlencode "From=$FROM" \
		--data-urlencode "ContentSid=$sid" --data-urlencode "ContentVariables=$vars" "$@"
}

# 1. A valid create: 201, Twilio-shaped, recorded.
send "$TO" "$SIM_TEMPLATE_2" '{"1":"Ana","2":"Order 8812"}' --data-urlencode "StatusCallback=https://x.test/cb"
[ "$STATUS" = 201 ] || fail "create: HTTP $STATUS: $BODY"
SID=$(jq -r .sid <<<"$BODY")
[[ "$SID" =~ ^SM[0-9a-f]{32}$ ]] || fail "create: sid $SID"
jq -e --arg a "$SIM_ACCOUNT" --arg to "$TO" --arg from "$FROM" '
	.account_sid == $a and .to == $to and .from == $from and .status == "queued" and
	.error_code == null and .error_message == null and .date_sent == null and
	.direction == "outbound-api" and .api_version == "2010-04-01" and
	.num_segments == "1" and .num_media == "0" and .price == null and
	.price_unit == "USD" and .messaging_service_sid == null and
	(.date_created | test("^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \\+0000$"))' \
	<<<"$BODY" >/dev/null || fail "create: body shape: $BODY"
wait_for '[ "$(sim_count)" = 1 ]' 2 || fail "create: not recorded"
jq -e --arg sid "$SID" --arg c "$SIM_TEMPLATE_2" '
	.sid == $sid and .content_sid == $c and .vars == {"1":"Ana","2":"Order 8812"} and
	.n == 1 and (.recv_us | type) == "number" and (has("dropped") | not)' \
	"$SIM_RECORD" >/dev/null || fail "create: record line: $(cat "$SIM_RECORD")"
pass "create answers 201 and records"

# 2. Authentication and the account in the path.
post -u "$SIM_ACCOUNT:wrong" --data-urlencode "To=$TO"
expect_error 401 20003 "bad token"
out=$(curl -sS --cacert "$SIM_CA" -w '\n%{http_code}' "$MSGS" -d x=1)
[ "$(tail -n1 <<<"$out")" = 401 ] || fail "no auth: $out"
out=$(sim_curl "$SIM_URL/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json" -d x=1)
[ "$(tail -n1 <<<"$out")" = 401 ] || fail "foreign account: $out"
pass "bad credentials and foreign account get 401/20003"

# 3. Parameter validation.
post --data-urlencode "From=$FROM" --data-urlencode "ContentSid=$SIM_TEMPLATE_0"
expect_error 400 21604 "missing To"
post --data-urlencode "To=$TO" --data-urlencode "ContentSid=$SIM_TEMPLATE_0"
expect_error 400 21603 "missing From"
post --data-urlencode "To=$TO" --data-urlencode "From=$FROM"
expect_error 400 21619 "missing ContentSid"
send "+491701234567" "$SIM_TEMPLATE_0" '{}'
expect_error 400 21211 "To without whatsapp:"
post -d "To=whatsapp:+491701234567" -d "From=$FROM" -d "ContentSid=$SIM_TEMPLATE_0"
expect_error 400 21211 "unencoded + in To (decodes to a space)"
post --data-urlencode "To=$TO" --data-urlencode "From=whatsapp:14155550100" \
	--data-urlencode "ContentSid=$SIM_TEMPLATE_0"
expect_error 400 21212 "From without +"
send "$TO" HX123 '{}'
expect_error 400 21655 "short ContentSid"
send "$TO" "$SIM_TEMPLATE_1" '{"1":2}'
expect_error 400 21656 "non-string variable"
send "$TO" "$SIM_TEMPLATE_1" '["a"]'
expect_error 400 21656 "variables not an object"
send "$TO" "$SIM_TEMPLATE_2" '{"1":"only one"}'
expect_error 400 63028 "wrong variable count"
post --data-urlencode "To=$TO" --data-urlencode "From=$FROM" --data-urlencode "ContentSid=$SIM_TEMPLATE_1"
expect_error 400 63028 "no ContentVariables for a 1-variable template"
send "$TO" HXffffffffffffffffffffffffffffffff '{"a":"b","c":"d"}'
[ "$STATUS" = 201 ] || fail "unregistered template: HTTP $STATUS: $BODY"
pass "validation errors 21604 21603 21619 21211 21212 21655 21656 63028"

# 4. Magic recipients.
send whatsapp:+15005550001 "$SIM_TEMPLATE_0" '{}'
expect_error 400 21211 "magic 0001"
send whatsapp:+15005550002 "$SIM_TEMPLATE_0" '{}'
expect_error 400 63003 "magic 0002"
send whatsapp:+15005550003 "$SIM_TEMPLATE_0" '{}'
expect_error 400 21610 "magic 0003"
send whatsapp:+15005550009 "$SIM_TEMPLATE_0" '{}'
expect_error 500 20500 "magic 0009"
[ "$(sim_count)" = 2 ] || fail "rejected requests were recorded: $(cat "$SIM_RECORD")"
pass "magic recipients 21211 63003 21610 20500, none recorded"

# 5. Fetch the message back, an unknown one, and the account.
out=$(sim_curl "$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages/$SID.json")
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "fetch: $out"
jq -e --arg sid "$SID" --arg to "$TO" '.sid == $sid and .to == $to and .status == "queued"' \
	<<<"$(sed '$d' <<<"$out")" >/dev/null || fail "fetch body: $out"
out=$(sim_curl "$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages/SM00000000000000000000000000000000.json")
[ "$(tail -n1 <<<"$out")" = 404 ] || fail "fetch unknown: $out"
[ "$(sed '$d' <<<"$out" | jq -r .code)" = 20404 ] || fail "fetch unknown code: $out"
out=$(sim_curl "$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT.json")
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "account: $out"
jq -e --arg a "$SIM_ACCOUNT" '.sid == $a and .status == "active" and .type == "Full" and
	(.friendly_name | type) == "string" and (.date_created | type) == "string"' \
	<<<"$(sed '$d' <<<"$out")" >/dev/null || fail "account body: $out"
pass "fetch message (200/404) and account"

# 6. SIGTERM stops it cleanly with the record intact.
stop_sim
[ "$(wc -l <"$SIM_RECORD")" = 2 ] || fail "record after stop"
jq -e . "$SIM_RECORD" >/dev/null || fail "record is not JSON lines"
grep -q "listening on 127.0.0.1:$SIM_PORT" "$E2E_DIR/sim.log" || fail "no listening line"
pass "stops on SIGTERM with the record flushed"

# 7. Faults: --fail-rate / --drop-after-read (dropped ones are recorded).
unset SIM_PORT
rm -f "$SIM_RECORD"
start_sim --fail-rate 0.3 --drop-after-read 0.2 --seed 7
MSGS="$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json"
codes=$(for i in $(seq 40); do
	sim_curl --data-urlencode "To=$TO" --data-urlencode "From=$FROM" \
		--data-urlencode "ContentSid=$SIM_TEMPLATE_0" "$MSGS" 2>/dev/null | tail -n1
done | sort | uniq -c)
n201=$(awk '$2 == 201 { print $1 }' <<<"$codes")
n500=$(awk '$2 == 500 { print $1 }' <<<"$codes")
n000=$(awk '$2 == "000" { print $1 }' <<<"$codes")
[ "${n500:-0}" -gt 0 ] && [ "${n000:-0}" -gt 0 ] && [ "${n201:-0}" -gt 0 ] ||
	fail "fail/drop mix: $codes"
[ "$(sim_count)" = $((n201 + n000)) ] || fail "recorded $(sim_count), want $n201 + $n000"
[ "$(grep -c '"dropped":true' "$SIM_RECORD")" = "$n000" ] || fail "dropped lines"
stop_sim
pass "fail-rate answers 500 unrecorded, drop-after-read closes and records"

# 8. --rate-limit: 10 creates on one keep-alive connection, budget 3/s.
unset SIM_PORT
start_sim --rate-limit 3
MSGS="$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json"
# -D - interleaves headers with the bodies (-o covers the first URL only).
out=$(curl -sS --cacert "$SIM_CA" -u "$SIM_ACCOUNT:$SIM_TOKEN" -D - \
	--data-urlencode "To=$TO" --data-urlencode "From=$FROM" \
	--data-urlencode "ContentSid=$SIM_TEMPLATE_0" $(for i in $(seq 10); do echo "$MSGS"; done))
n429=$(grep -o 'HTTP/1.1 429' <<<"$out" | wc -l)
# At most two one-second windows are touched, so at most 6 pass.
[ "$n429" -ge 4 ] || fail "rate limit: only $n429 answers were 429"
grep -qi 'Retry-After: 1' <<<"$out" || fail "rate limit: no Retry-After"
stop_sim
pass "rate-limit answers 429 with Retry-After"

# 9. --latency-ms delays the answer; --down-from/--down-for refuses connections.
unset SIM_PORT
start_sim --latency-ms 300 --down-from 2 --down-for 2
MSGS="$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json"
create() {
	curl -sS --cacert "$SIM_CA" -u "$SIM_ACCOUNT:$SIM_TOKEN" -o /dev/null -w '%{http_code}' \
		--data-urlencode "To=$TO" --data-urlencode "From=$FROM" \
		--data-urlencode "ContentSid=$SIM_TEMPLATE_0" "$MSGS" 2>/dev/null
}
t0=$(date +%s%N)
[ "$(create)" = 201 ] || fail "latency: create failed"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 300 ] || fail "latency: answered in $ms ms"
wait_for '! create >/dev/null' 5 || fail "down window: never refused"
curl -sS --cacert "$SIM_CA" "$SIM_URL/" -o /dev/null 2>/dev/null
[ $? = 7 ] || fail "down window: not 'connection refused'"
wait_for '[ "$(create)" = 201 ]' 5 || fail "down window: never came back"
stop_sim
pass "latency-ms delays creates, down window refuses and recovers"
