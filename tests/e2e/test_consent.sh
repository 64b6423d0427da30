#!/bin/bash
# Consent and the 24-hour window, end to end with inbound polling:
#  - an inbound STOP (at the sim, found by polling) suppresses later messages
#    to that number with the reason; others are unaffected; START re-opts in;
#  - the provider's 21610 suppresses the message and records the opt-out;
#  - an opt-out on the consent topic (bad payloads around it are refused and
#    counted, the good one still applies);
#  - a require_opt_in route suppresses until `outpostctl consent set ... in`;
#  - a free-form route: window open (the customer wrote) -> the text goes as
#    Body; closed -> the fallback template; no fallback -> rejected at ingest;
#  - `outpostctl forget` erases the person: outbox and ledger;
#  - every event ends in a state, and the store's invariants hold.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup consent
start_broker
start_sim

A=+4917000000001 # writes STOP, later START
B=+4917000000002 # writes "hello": window open
C=+4917000000003 # opted out on the consent topic
D=+4917000000004 # never wrote; opted in by the CLI
OURS=whatsapp:+14155550100

inbound() { # FROM BODY
	local out
	out=$(curl -sS --cacert "$SIM_CA" -w '\n%{http_code}' -X POST "$SIM_URL/sim/inbound" \
		-d "{\"from\":\"$1\",\"to\":\"$OURS\",\"body\":\"$2\"}") || fail "POST /sim/inbound"
	[ "$(tail -n 1 <<<"$out")" = 201 ] || fail "sim refused the inbound message: $out"
}
pay() { # ID TO
	mpub site/s1/payments/x "{\"id\":\"$1\",\"customer\":{\"name\":\"Ana\",\"phone\":\"$2\"},\"amount\":\"5.00\",\"currency\":\"EUR\"}"
}

inbound "$A" "  stop "
inbound "$B" "hello"
write_config '.accounts.main.inbound_poll_s = 10' \
	'.routes += [{"name": "notes", "topic": "site/+/notes/#", "text": "Your code is {code}",
	  "fallback_template": "ticket_ready", "to": "{phone}",
	  "vars": {"1": "{code}", "2": "desk", "3": "{id}"}},
	 {"name": "plain", "topic": "site/+/plain/#", "text": "Hi {code}", "to": "{phone}"},
	 {"name": "members", "topic": "site/+/members/#", "template": "payment_received",
	  "require_opt_in": true, "to": "{phone}", "vars": {"1": "x", "2": "y", "3": "{id}"}}]'
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t outpost/e2e/inbound -C 3 -W 40 \
	>"$E2E_DIR/inbound.txt" 2>&1 &
SUB_PID=$!
E2E_PIDS+=("$SUB_PID")
start_outpostd
wait_for '[ "$(consent_num inbound)" -ge 2 ]' 10 || fail "the first poll took no inbound messages"
ctl consent show "$A" | jq -e '.consent == "out" and (.source == "keyword:STOP")' >/dev/null ||
	fail "STOP did not opt out: $(ctl consent show "$A")"
ctl consent show "$B" | jq -e '.window_open and .consent == "unknown"' >/dev/null ||
	fail "B's window is not open: $(ctl consent show "$B")"

# Opted out by keyword: suppressed with the reason; another number is sent.
pay p1 "$A"
pay p2 "$C"
wait_state p1 suppressed
wait_state p2 sent
record_of p1 | jq -e '.error.text | test("^recipient \\+491\\*+001 opted out \\(keyword:STOP at 20[0-9-]+T[0-9:]+Z\\)$")' \
	>/dev/null || fail "suppression reason: $(record_of p1)"

# The provider says opted out (the sim's magic number answers 21610): the
# message is suppressed, and so is the number from then on.
pay p5 +15005550003
wait_state p5 suppressed
record_of p5 | jq -e '.error.text | test("opted out \\(provider:21610 at ")' >/dev/null ||
	fail "provider opt-out reason: $(record_of p5)"
ctl consent show +15005550003 | jq -e '.consent == "out" and .source == "provider:21610"' \
	>/dev/null || fail "21610 not in the ledger: $(ctl consent show +15005550003)"

# The consent topic: two bad payloads around a good one.
mpub outpost/e2e/consent 'not json'
mpub outpost/e2e/consent "{\"to\":\"$C\",\"opt\":\"out\",\"source\":\"kiosk-3\"}"
mpub outpost/e2e/consent '{"to":"+49x","opt":"out"}'
wait_for '[ "$(consent_num topic_refused)" -ge 2 ]' 10 || fail "bad consent payloads not counted"
[ "$(consent_num topic_ok)" = 1 ] || fail "the good consent payload was not taken"
grep -q 'consent: message on outpost/e2e/consent refused: malformed JSON' "$E2E_DIR/outpostd.log" ||
	fail "no logged reason for the bad consent payload"
pay p3 "$C"
wait_state p3 suppressed
record_of p3 | jq -e '.error.text | test("opted out \\(mqtt:kiosk-3 at ")' >/dev/null ||
	fail "topic opt-out reason: $(record_of p3)"

# require_opt_in: held back until the CLI records an opt-in.
mpub site/s1/members/x "{\"id\":\"m1\",\"phone\":\"$D\"}"
wait_state m1 suppressed
record_of m1 | jq -e '.error.text | test("has not opted in \\(route members requires opt-in\\)")' \
	>/dev/null || fail "opt-in reason: $(record_of m1)"
ctl consent set "$D" in --source front-desk | jq -e '.source == "cli:front-desk"' >/dev/null ||
	fail "consent set refused"
mpub site/s1/members/x "{\"id\":\"m2\",\"phone\":\"$D\"}"
wait_state m2 sent

# The 24-hour window: B wrote, D did not.
mpub site/s1/notes/x "{\"id\":\"n1\",\"phone\":\"$B\",\"code\":\"1234\"}"
mpub site/s1/notes/x "{\"id\":\"n2\",\"phone\":\"$D\",\"code\":\"5678\"}"
mpub site/s1/plain/x "{\"id\":\"q1\",\"phone\":\"$D\",\"code\":\"9\"}"
wait_state n1 sent
wait_state n2 sent
wait_state q1 rejected
jq -e -s --arg to "whatsapp:$B" 'map(select(.to == $to)) | length == 1 and
	.[0].content_sid == "" and .[0].vars.Body == "Your code is 1234"' "$SIM_RECORD" >/dev/null ||
	fail "free-form text not sent to B as Body"
jq -e -s --arg to "whatsapp:$D" --arg t "$T_TICKET" 'map(select(.to == $to and .content_sid == $t))
	| length == 1 and .[0].vars["1"] == "5678"' "$SIM_RECORD" >/dev/null ||
	fail "fallback template not sent to D"
record_of q1 | jq -e '.error.text | test("outside the 24-hour window \\(last inbound never\\)")' \
	>/dev/null || fail "window rejection reason: $(record_of q1)"
[ "$(consent_num freeform)/$(consent_num fallback_template)" = 1/1 ] ||
	fail "status counts $(consent_num freeform) free-form, $(consent_num fallback_template) fallback sends"
ctl outbox show "$(record_of n1 | jq .seq)" | jq -e '.message.form == "text" and
	.message.text == "Your code is 1234"' >/dev/null || fail "outbox show of n1: no form/text"

# The sim's side of the window, as Twilio: a Body send is accepted either way,
# and fails afterwards with 63016 when the customer has not written.
msgs="$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json"
for who in "$B:sent" "+4917000000009:failed"; do
	out=$(sim_curl -X POST "$msgs" --data-urlencode "To=whatsapp:${who%:*}" \
		--data-urlencode "From=$OURS" --data-urlencode "Body=hi")
	[ "$(tail -n 1 <<<"$out")" = 201 ] || fail "Body create refused: $out"
	sid=$(head -n 1 <<<"$out" | jq -r .sid)
	out=$(sim_curl "${msgs%.json}/$sid.json" | head -n 1)
	jq -e --arg st "${who##*:}" '.status == $st and (.error_code == (if $st == "failed"
		then 63016 else null end))' <<<"$out" >/dev/null || fail "Body send to ${who%:*}: $out"
done

# START opts back in (the next poll, within 10 s).
inbound "$A" "Start"
wait_for "ctl consent show $A | jq -e '.consent == \"in\"' >/dev/null" 15 ||
	fail "START did not opt in: $(ctl consent show "$A")"
pay p4 "$A"
wait_state p4 sent
[ "$(consent_num inbound)" = 3 ] || fail "$(consent_num inbound) inbound messages taken, not 3 (once each)"

# Local consumers saw the inbound messages (QoS 1, JSON).
wait "$SUB_PID" 2>/dev/null
grep -q "\"from\":\"$A\",\"body\":\"  stop \"" "$E2E_DIR/inbound.txt" ||
	fail "inbound STOP not published: $(cat "$E2E_DIR/inbound.txt")"
jq -e -s 'length == 3 and all(.[]; .account == "main" and (.id | startswith("SM")) and
	(.at | test("Z$")))' "$E2E_DIR/inbound.txt" >/dev/null || fail "inbound payloads: $(cat "$E2E_DIR/inbound.txt")"

# Every event is accounted for: 10 events, 10 records, each in a final state.
n=$(ctl outbox --limit 200 | jq '[.messages[] | select(.state | IN("sent", "suppressed", "rejected"))] | length')
[ "$n" = 10 ] || fail "$n of 10 events ended sent, suppressed or rejected: $(ctl outbox --limit 200)"

# status for a person: the consent line counts what happened.
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status >"$E2E_DIR/status.txt" || fail "status failed"
grep -q '^consent: .*suppressed 4' "$E2E_DIR/status.txt" ||
	fail "status has no consent line: $(cat "$E2E_DIR/status.txt")"

# forget A: ledger and every message (p1 suppressed, p4 sent) go; log lines keep no number.
out=$(ctl forget "$A") || fail "forget refused"
jq -e '.erased.ledger == 1 and .erased.messages == 2 and .erased.log_lines > 0' <<<"$out" \
	>/dev/null || fail "forget: $out"
[ "$(ctl outbox --to "$A" | jq '.messages | length')" = 0 ] || fail "messages to A left after forget"
ctl consent show "$A" | jq -e '.found == false' >/dev/null || fail "A still in the ledger"
[ "$(ctl logs --unmasked --limit 1000 | grep -c -- "${A#+}")" = 0 ] || fail "the log ring still names A"

stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
# The store's invariants (indexes, counters, dedup and sid entries after the
# forget). Only the store: the sim's record holds free-form bodies and the
# forgotten person's messages, which the checker cannot pair with events.
: >"$E2E_DIR/none.log"
"$BUILD/outpost-check" --pub-log "$E2E_DIR/none.log" --sim-record "$E2E_DIR/none.log" \
	--store "$E2E_DIR/store" >"$E2E_DIR/check.txt" 2>&1 || fail "store check: $(cat "$E2E_DIR/check.txt")"
pass "STOP/START by polling, consent topic, opt-in route, window open/closed, forget"
