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
jq -e --arg sid "$SID" --arg to "$TO" --arg c "$SIM_TEMPLATE_2" '.sid == $sid and .to == $to and
	.status == "sent" and .date_sent == .date_created and .body == "\($c): Ana | Order 8812"' \
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
# The list shows what was accepted: dropped answers included, 500s not.
out=$(sim_curl -G "$MSGS" --data-urlencode "PageSize=1000")
[ "$(sed '$d' <<<"$out" | jq '.messages | length')" = $((n201 + n000)) ] ||
	fail "list after faults: want $n201 + $n000 messages: $out"
listed=$(sed '$d' <<<"$out" | jq -r '.messages[].sid' | sort)
[ "$listed" = "$(jq -r .sid "$SIM_RECORD" | sort)" ] ||
	fail "list after faults: not the recorded messages"
stop_sim
pass "fail-rate answers 500 unrecorded, drop-after-read closes, records and lists"

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

# 10. The list: filters, newest first, paging by next_page_uri.
unset SIM_PORT
rm -f "$SIM_RECORD"
start_sim
MSGS="$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json"
TO_B=whatsapp:+491709999999
for i in 1 2 3 4 5; do
	to=$TO
	[ $((i % 2)) = 0 ] && to=$TO_B
	send "$to" "$SIM_TEMPLATE_2" "{\"1\":\"Ana\",\"2\":\"ref-$i\"}"
	[ "$STATUS" = 201 ] || fail "list setup: create $i: HTTP $STATUS: $BODY"
done
send whatsapp:+15005550002 "$SIM_TEMPLATE_0" '{}' # refused: must not be listed
# list [curl -G args...]: GET Messages.json; sets BODY and STATUS.
list() {
	local out
	out=$(sim_curl -G "$MSGS" "$@") || fail "curl failed: $out"
	STATUS=$(tail -n1 <<<"$out")
	BODY=$(sed '$d' <<<"$out")
}
refs() { jq -r '[.messages[].body | sub(".*\\| "; "")] | join(" ")' <<<"$BODY"; }
list
[ "$STATUS" = 200 ] || fail "list: HTTP $STATUS: $BODY"
[ "$(refs)" = "ref-5 ref-4 ref-3 ref-2 ref-1" ] || fail "list: not newest first: $(refs)"
jq -e --arg a "$SIM_ACCOUNT" '.page == 0 and .page_size == 50 and .start == 0 and .end == 4 and
	.next_page_uri == null and .previous_page_uri == null and
	.uri == "/2010-04-01/Accounts/\($a)/Messages.json?PageSize=50&Page=0" and
	.first_page_uri == .uri and
	(.messages[0] | .status == "sent" and .account_sid == $a and .error_code == null and
	 (.date_sent | test("^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \\+0000$")))' \
	<<<"$BODY" >/dev/null || fail "list: shape: $BODY"
# The GMT day the messages were sent on (not "now": a run may pass midnight).
today=$(date -u -d "$(jq -r '.messages[-1].date_sent' <<<"$BODY")" +%F)
list --data-urlencode "To=$TO"
[ "$(refs)" = "ref-5 ref-3 ref-1" ] || fail "list To: $(refs)"
list --data-urlencode "To=$TO_B" --data-urlencode "From=$FROM"
[ "$(refs)" = "ref-4 ref-2" ] || fail "list To+From: $(refs)"
list --data-urlencode "From=whatsapp:+14155550199"
[ "$(refs)" = "" ] || fail "list other From: $(refs)"
list --data-urlencode "To=$TO" --data-urlencode "DateSent>=$today"
[ "$(refs)" = "ref-5 ref-3 ref-1" ] || fail "list DateSent>: $(refs)"
jq -e '.uri | test("To=whatsapp%3A%2B491701234567&DateSent%3E=")' <<<"$BODY" >/dev/null ||
	fail "list DateSent>: uri $(jq .uri <<<"$BODY")"
list --data-urlencode "DateSent=$today"
[ "$(refs)" = "ref-5 ref-4 ref-3 ref-2 ref-1" ] || fail "list DateSent=today: $(refs)"
out=$(sim_curl "$MSGS?DateSent%3C=$today&DateSent%3E=$today&PageSize=2" | sed '$d')
[ "$(jq '.messages | length' <<<"$out")" = 2 ] || fail "list encoded DateSent</>: $out"
for bad in "DateSent=2001-01-01" "DateSent<=2001-01-01" "DateSent>=2099-01-01"; do
	list --data-urlencode "$bad"
	[ "$STATUS" = 200 ] && [ "$(refs)" = "" ] && [ "$(jq .next_page_uri <<<"$BODY")" = null ] ||
		fail "list $bad: not an empty page: $STATUS $BODY"
done
list --data-urlencode "DateSent=yesterday"
expect_error 400 20001 "list with a malformed date"
list --data-urlencode "PageSize=0"
expect_error 400 20001 "list with PageSize 0"
pass "list filters To, From, DateSent (=, <, >, encoded) newest first; bad dates"

# PageSize=1, following next_page_uri; a create while paging must not shift
# the pages (the token anchors them), and previous_page_uri goes back.
list --data-urlencode "PageSize=1"
seen=$(refs) pages=1
first_next=$(jq -r .next_page_uri <<<"$BODY")
while next=$(jq -r .next_page_uri <<<"$BODY") && [ "$next" != null ]; do
	[ "$pages" = 2 ] && send "$TO" "$SIM_TEMPLATE_2" '{"1":"Ana","2":"ref-6"}'
	out=$(sim_curl "$SIM_URL$next")
	STATUS=$(tail -n1 <<<"$out") BODY=$(sed '$d' <<<"$out")
	[ "$STATUS" = 200 ] || fail "page $pages: HTTP $STATUS: $BODY"
	[ "$(jq .page <<<"$BODY")" = "$pages" ] && [ "$(jq .start <<<"$BODY")" = "$pages" ] ||
		fail "page $pages: page/start: $BODY"
	seen="$seen $(refs)" pages=$((pages + 1))
	[ "$pages" -le 10 ] || fail "paging does not end: $seen"
done
[ "$seen" = "ref-5 ref-4 ref-3 ref-2 ref-1" ] || fail "paging saw: $seen"
out=$(sim_curl "$SIM_URL$first_next" | sed '$d')
prev=$(jq -r .previous_page_uri <<<"$out")
BODY=$(sim_curl "$SIM_URL$prev" | sed '$d')
[ "$(refs)" = "ref-5" ] && [ "$(jq .page <<<"$BODY")" = 0 ] || fail "previous page: $BODY"
list --data-urlencode "PageSize=2" --data-urlencode "Page=1"
[ "$(refs)" = "ref-4 ref-3" ] || fail "Page=1 without a token: $(refs)"
stop_sim
pass "list pages by next_page_uri (PageSize 1) without shifting, and back"
