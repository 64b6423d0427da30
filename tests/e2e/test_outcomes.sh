#!/bin/bash
# What a person and a device hear of each outcome (issue 12, parts 3-5):
#  - every final state publishes its receipt, also those reached without the
#    provider: rejected at ingest, suppressed at the consent gate (opted out,
#    opt-in route), failed at the template gate, suppressed by a 21610;
#  - a send refused after a 201 (the provider gave an id that is another
#    message's) logs and reports the reason, not an empty "ok 201";
#  - refused credentials pause the account before another request goes out
#    with them (one sender slot: the flush that records the 401 must not
#    pick the next record for that account);
#  - a failed attempt that is retried (429) leaves a line with its class.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup outcomes

T_LATE=HX0000000000000000000000000000c0b2
SIM_TEMPLATES+=("$T_LATE:3:pending:late_tpl")
start_broker
start_sim
write_config '.sender.max_inflight = 1' '.accounts.main.inbound_poll_s = 3600' \
	'.accounts.wrong = (.accounts.main | .credentials = "twilio-wrong")' \
	".templates.late = {\"twilio_content_sid\": \"$T_LATE\", \"variables\": 3, \"status\": \"approved\"}" \
	'.routes += [
	  {"name": "wrongacct", "topic": "site/+/wrong/#", "template": "ticket_ready", "to": "{phone}",
	   "account": "wrong", "vars": {"1": "{ticket}", "2": "{counter}", "3": "{id}"}},
	  {"name": "members", "topic": "site/+/members/#", "template": "payment_received",
	   "require_opt_in": true, "account": "main", "to": "{phone}", "vars": {"1": "x", "2": "y", "3": "{id}"}},
	  {"name": "late", "topic": "site/+/late/#", "template": "late", "unapproved": "fail", "account": "main",
	   "to": "{phone}", "vars": {"1": "x", "2": "y", "3": "{id}"}}]'
e2e_spawn "$E2E_DIR/sub.err" sh -c "exec mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -q 1 \
	-t 'outpost/e2e/receipts/#' -v >>'$E2E_DIR/receipts.txt'"
start_outpostd

receipt() { # EVENT_ID -> its last receipt's JSON
	grep "^outpost/e2e/receipts/$1 " "$E2E_DIR/receipts.txt" | tail -n 1 | cut -d' ' -f2-
}
# jq 1.6 -e exits 0 on empty input: a receipt that never came must not pass.
receipt_is() { # EVENT_ID STATUS
	local r
	r=$(receipt "$1")
	[ -n "$r" ] && jq -e --arg s "$2" '.status == $s' >/dev/null <<<"$r"
}
wait_receipt() { # EVENT_ID STATUS ERROR_REGEX
	wait_for "receipt_is $1 $2" 15 ||
		fail "no '$2' receipt for $1: $(receipt "$1"); outbox: $(ctl outbox --limit 50 | jq -c \
			--arg e "$1" '.messages[] | select(.event_id == $e)')"
	receipt "$1" | jq -e --arg re "$3" '.error | test($re)' >/dev/null ||
		fail "the '$2' receipt of $1 lacks the reason /$3/: $(receipt "$1")"
}
pay() { # ID TO
	mpub site/1/payments/x "{\"id\":\"$1\",\"customer\":{\"name\":\"Ana\",\"phone\":\"$2\"},\"amount\":\"5.00\",\"currency\":\"EUR\"}"
}

# 1. Receipts of the ends met without a sent message.
wait_for 'ctl templates list | jq -e ".templates[] | select(.name == \"late\" and .account == \"main\") | .status == \"pending\"" >/dev/null' 10 ||
	fail "the sync did not bring late's status: $(ctl templates list)"
mpub site/1/payments/x '{"id": "bad-1", "customer": {"name": "Ana"}, "amount": "1", "currency": "EUR"}'
mpub outpost/e2e/consent '{"to": "+4917000000031", "opt": "out", "source": "kiosk-1"}'
wait_for '[ "$(ctl status | jq -r .consent.topic_ok)" = 1 ]' 10 || fail "the opt-out was not taken"
pay out-1 +4917000000031
mpub site/1/members/x '{"id": "optin-1", "phone": "+4917000000032"}'
mpub site/1/late/x '{"id": "late-1", "phone": "+4917000000033"}'
pay stop-1 +15005550003
wait_receipt bad-1 rejected 'customer.phone'
wait_receipt out-1 suppressed '^recipient .* opted out \(mqtt:kiosk-1 at '
wait_receipt optin-1 suppressed 'has not opted in'
wait_receipt late-1 rejected 'template late is pending at the provider'
wait_receipt stop-1 suppressed 'opted out \(provider:21610'

# 2. A 201 whose sid another message has: failed, with the reason said.
pay dup-1 +15005550020
wait_for 'receipt_is dup-1 sent' 15 || fail "dup-1 not sent: $(receipt dup-1)"
pay dup-2 +15005550020
wait_receipt dup-2 failed '^the provider gave id SM0+20, already #[0-9]+'"'"'s$'
grep -q "message #[0-9]* failed: the provider gave id SM0*20, already #" "$E2E_DIR/outpostd.log" ||
	fail "the log does not say why dup-2 failed: $(grep 'failed' "$E2E_DIR/outpostd.log" | tail -3)"
grep -q "failed: ok 201" "$E2E_DIR/outpostd.log" && fail "a failure logged as 'ok 201'"
ctl status | jq -e '[.last_errors[] | select(.text | test("failed: the provider gave id SM0+20"))] | length == 1' \
	>/dev/null || fail "status errors do not say why dup-2 failed: $(ctl status | jq -c .last_errors)"

# 3. Refused credentials: one request, then the account waits.
for i in 1 2 3; do
	mpub site/1/wrong/x "{\"id\": \"w-$i\", \"ticket\": \"A$i\", \"counter\": \"2\", \"phone\": \"+49170123456$i\"}"
done
wait_for 'ctl status | jq -e ".accounts[] | select(.name == \"wrong\") | .state == \"paused\"" >/dev/null' 10 ||
	fail "refused credentials did not pause the account: $(ctl status | jq -c .accounts)"
sleep 1
n401=$(grep -c "sim: POST .*/Messages.json: 401 credentials refused" "$E2E_DIR/sim.log")
[ "$n401" = 1 ] || fail "$n401 sends went out with refused credentials, want 1"

# 4. Throttled attempts leave a trace, and the messages still go.
stop_sim
start_sim --rate-limit 2
n0=$(sim_count)
for i in $(seq 1 6); do pay "r-$i" "+49170000001$i"; done
wait_for '[ "$(sim_count)" -ge $((n0 + 6)) ]' 30 || fail "throttled messages did not all go: $((n0 + 6)) > $(sim_count)"
grep -q "sender: message #[0-9]* attempt 1: rate-limited 20429: .*; next try in [0-9]* ms" "$E2E_DIR/outpostd.log" ||
	fail "no line for a throttled attempt: $(grep 'attempt' "$E2E_DIR/outpostd.log" | tail -3)"
stop_outpostd || fail "outpostd exited non-zero"
stop_sim
pass "receipts for rejected/suppressed/failed-at-gate/21610; a duplicate sid after 201 failed with its reason; 1 send with refused credentials ($n401); throttled attempts logged"
