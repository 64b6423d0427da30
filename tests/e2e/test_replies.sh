#!/bin/bash
# A status reply about another message is not ours. The sim's magic
# recipient whatsapp:+15005550077 takes the message, and a fetch of it
# answers about another sid (its last digit changed), failed with 30008.
# outpostd must not apply that other message's fate, nor report its error
# text as ours: the record stays sent, and the log and the record's
# delivery say which message the reply was about.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup replies
start_broker
start_sim
write_config '.accounts.main.status_poll = {"first": "1s", "max_age": "1h"}'
start_outpostd

mpub site/s1/payments/x '{"id": "o1", "customer": {"name": "Ana", "phone": "+15005550077"}, "amount": "5.00", "currency": "EUR"}'
wait_sent 1 10 || fail "not sent: $(ctl outbox --limit 10)"
seq=$(ctl outbox --limit 10 | jq -r '.messages[] | select(.event_id == "o1") | .seq')
sid=$(ctl outbox show "$seq" | jq -r .message.provider_id)
case "$sid" in SM*0) other=${sid%0}1 ;; SM*) other=${sid%?}0 ;; *) fail "no sid: $(ctl outbox show "$seq")" ;; esac
why="the reply was about $other, not $sid"
wait_for "ctl outbox show $seq | jq -e --arg w '$why' '.message.delivery.text == \$w' >/dev/null" 10 ||
	fail "the record's delivery: $(ctl outbox show "$seq" | jq -c .message.delivery)"
ctl outbox show "$seq" | jq -e '.message.state == "sent"' >/dev/null ||
	fail "the other message's fate was applied: $(ctl outbox show "$seq" | jq -c .message)"
grep -q "warn: delivery: status of message #$seq not had: $why; polling stops" "$E2E_DIR/outpostd.log" ||
	fail "the log: $(grep delivery: "$E2E_DIR/outpostd.log")"
! grep -q "twilio-sim: failed" "$E2E_DIR/outpostd.log" || fail "the other message's error text was logged"
stop_outpostd || fail "outpostd exit status $?"
pass "a status reply about another sid: not applied, and said so"
