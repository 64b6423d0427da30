#!/bin/bash
# Recipient groups and on-call escalation, with 4 s and 2 s deadlines. Route "alarm"
# escalates @oncall (two numbers) -> @backup -> one number; the sim leaves
# every message "sent" (never read) unless a test forces it:
#  e1  nobody reads: the chain moves on twice and gives up; 4 messages.
#  e2  an "ok" reply from an on-call number (a relayed, signed webhook)
#      acknowledges: nothing goes to @backup; the other chains that
#      messaged that number go on.
#  e3  a panel publishes on outpost/e2e/ack/e3: acknowledged likewise.
#  e5  the first message is read (a relayed status webhook): reached.
#  d5  a route "until": "delivered": its first message delivered (a relayed
#      status webhook), not read: reached; nothing goes to its next step.
#  e4  kill -9 once its first step is out: after the restart the chain
#      goes on and ends; each person got the alarm once.
#  f1  a route without escalation to ["@oncall", "{phone}"]: three messages.
#  e6  taken while the wall clock reads 1970 (libfaketime): the chain holds
#      until the clock is valid, then runs.
#  e8  acknowledged while the provider is down: the second step's queued
#      message is withdrawn before it goes.
#  e7  a reload takes the route's "escalate" away: the chain stops.
# Receipts tell each move; status counts them; outbox show names the chain's
# state; the zero-loss checker accounts for the escalated records.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup escalate
start_broker
start_sim
ON1=+491700000001 ON2=+491700000002 BK=+491700000003 LAST=+491700000004
write_config '.accounts.main.status_poll = {"first": "1s", "max_age": "1h"} | .accounts.main.webhooks = true' \
	'.accounts.main.breaker = {"failures": 5, "open_s": 1}' \
	".groups = {\"oncall\": [\"$ON1\", \"$ON2\"], \"backup\": [\"$BK\"]}" \
	".routes += [{\"name\": \"alarm\", \"topic\": \"site/+/alarm/#\", \"template\": \"alert_raised\", \"account\": \"main\",
	  \"vars\": {\"1\": \"{panel}\", \"2\": \"{zone}\", \"3\": \"{level}\", \"4\": \"{id}\"},
	  \"escalate\": [{\"to\": \"@oncall\", \"after\": \"4s\"}, {\"to\": \"@backup\", \"after\": \"2s\"},
	                 {\"to\": \"$LAST\", \"after\": \"2s\"}],
	  \"ack\": {\"en\": [\"ACK\", \"OK\"], \"de\": [\"QUITTIERT\"]}}]" \
	".routes += [{\"name\": \"alarm_d\", \"topic\": \"site/+/alarmd/#\", \"template\": \"alert_raised\", \"account\": \"main\",
	  \"vars\": {\"1\": \"{panel}\", \"2\": \"{zone}\", \"3\": \"{level}\", \"4\": \"{id}\"}, \"until\": \"delivered\",
	  \"escalate\": [{\"to\": \"$ON1\", \"after\": \"4s\"}, {\"to\": \"$BK\", \"after\": \"2s\"}]}]" \
	'.routes += [{"name": "faults", "topic": "site/+/fault/#", "template": "alert_raised", "account": "main",
	  "vars": {"1": "{panel}", "2": "{zone}", "3": "{level}", "4": "{id}"}, "to": ["@oncall", "{phone}"]}]'
start_outpostd
e2e_spawn "$E2E_DIR/sub.err" sh -c "exec mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -q 1 -c -i e2e-esc \
	-t 'outpost/e2e/receipts/#' -v >>'$E2E_DIR/receipts.txt'"
wait_for "grep -q 'as e2e-esc' '$E2E_DIR/mosquitto.log'" 5 || fail "the receipt subscriber did not connect"

alarm() { mpub site/1/alarm/x "{\"id\": \"$1\", \"panel\": \"P1\", \"zone\": \"3\", \"level\": \"fire\"}"; }
# to_of EVENT: the recipients the sim got the event for, sorted (each step's
# numbers are above the last's: the order of steps is the receipts').
to_of() { jq -r --arg e "$1" 'select(.vars["4"] == $e) | .to' "$SIM_RECORD" 2>/dev/null | sed 's/^whatsapp://' | sort | tr '\n' ' '; }
# esc EVENT: the escalation receipts of an event, "status/step" in order.
esc() {
	grep "^outpost/e2e/receipts/$1 " "$E2E_DIR/receipts.txt" | cut -d' ' -f2- |
		jq -r 'select(.kind == "escalation") | "\(.status)/\(.step)"' | awk '!seen[$0]++' | tr '\n' ' '
}
chain_of() { # EVENT -> outbox show of its first record: the chain
	local seq
	seq=$(ctl outbox --limit 200 | jq -r --arg e "$1" '[.messages[] | select(.event_id == $e) | .seq] | min')
	ctl outbox show "$seq" | jq -c .message.escalation
}

# Four chains at once: (a) nobody reads e1; e2, e3 and e5 end early. e2
# goes last: a reply that names no message acknowledges the newest chain
# that messaged its sender.
alarm e1
alarm e3
alarm e5
alarm e2
mpub site/1/alarmd/x '{"id": "d5", "panel": "P1", "zone": "4", "level": "smoke"}'
# a group beside an event field, no escalation: one message each
mpub site/1/fault/x '{"id": "f1", "panel": "P2", "zone": "1", "level": "fault", "phone": "+491700000009"}'
for e in e1 e3 e5 e2; do
	wait_for "[ \"\$(to_of $e)\" = '$ON1 $ON2 ' ]" 10 || fail "first step of $e: '$(to_of $e)'"
done
wait_for "[ \"\$(to_of d5)\" = '$ON1 ' ]" 10 || fail "first step of d5: '$(to_of d5)'"
# The three early ends go at once, well inside the first step's 4 s:
# (b) an "ok" reply from ON2, relayed as a signed Twilio webhook;
# (c) an MQTT ack from a local panel;
# (e) a relayed status webhook: ON1 read e5.
sign() { printf '%s' "$1" | openssl dgst -sha1 -hmac "$SIM_TOKEN" -binary | base64; }
relay() { # URL SIGNED-TEXT BODY
	mpub outpost/e2e/webhooks/main "$(jq -nc --arg u "$1" --arg s "$(sign "$1$2")" --arg b "$3" \
		'{url: $u, signature: $s, body: $b}')"
}
relay "https://relay.example.com/twilio/inbound?site=e2e" \
	"Body ok Fromwhatsapp:+491700000002MessageSidSMack2SmsStatusreceivedTowhatsapp:+14155550100" \
	"From=whatsapp%3A%2B491700000002&To=whatsapp%3A%2B14155550100&Body=+ok+&MessageSid=SMack2&SmsStatus=received"
mpub outpost/e2e/ack/e3 '{"by": "panel 1"}'
sid=$(jq -r 'select(.vars["4"] == "e5" and .to == "whatsapp:'"$ON1"'") | .sid' "$SIM_RECORD")
relay "https://relay.example.com/twilio/status?site=e2e" \
	"AccountSid${SIM_ACCOUNT}ChannelPrefixwhatsappMessageSid${sid}MessageStatusread" \
	"AccountSid=$SIM_ACCOUNT&MessageSid=$sid&MessageStatus=read&ChannelPrefix=whatsapp"
sid=$(jq -r 'select(.vars["4"] == "d5") | .sid' "$SIM_RECORD")
relay "https://relay.example.com/twilio/status?site=e2e" \
	"AccountSid${SIM_ACCOUNT}ChannelPrefixwhatsappMessageSid${sid}MessageStatusdelivered" \
	"AccountSid=$SIM_ACCOUNT&MessageSid=$sid&MessageStatus=delivered&ChannelPrefix=whatsapp"

wait_for "[ \"\$(esc e2)\" = 'acknowledged/1 ' ]" 5 ||
	fail "e2 not acknowledged: '$(esc e2)' $(ctl status | jq -c '.webhooks, .escalation')"
grep "^outpost/e2e/receipts/e2 " "$E2E_DIR/receipts.txt" | cut -d' ' -f2- |
	jq -s -e 'map(select(.status == "acknowledged")) | .[0].by == "+491******002"' >/dev/null || fail "who acknowledged e2?"
wait_for "[ \"\$(esc e3)\" = 'acknowledged/1 ' ]" 5 || fail "e3 not acknowledged: '$(esc e3)'"
chain_of e3 | jq -e '.state == "acknowledged" and .by == "mqtt: panel 1"' >/dev/null || fail "e3's chain: $(chain_of e3)"
wait_for "[ \"\$(esc e5)\" = 'reached/1 ' ]" 10 || fail "e5 not reached: '$(esc e5)' $(chain_of e5)"
chain_of e5 | jq -e '.by == "read +491******001"' >/dev/null || fail "e5's chain: $(chain_of e5)"
wait_for "[ \"\$(esc d5)\" = 'reached/1 ' ]" 10 || fail "d5 not reached on delivered: '$(esc d5)' $(chain_of d5)"
chain_of d5 | jq -e '.state == "reached" and .until == "delivered"' >/dev/null || fail "d5's chain: $(chain_of d5)"

# (a) e1: nobody read it
wait_for "[ \"\$(esc e1)\" = 'escalated/2 escalated/3 gave_up/3 ' ]" 15 ||
	fail "e1's escalation receipts: '$(esc e1)' (sim: $(to_of e1))"
[ "$(to_of e1)" = "$ON1 $ON2 $BK $LAST " ] || fail "e1 went to '$(to_of e1)'"
chain_of e1 | jq -e '.state == "gave_up" and .step == 3' >/dev/null || fail "e1's chain: $(chain_of e1)"
grep "^outpost/e2e/receipts/e1 " "$E2E_DIR/receipts.txt" | cut -d' ' -f2- |
	jq -s -e 'map(select(.status == "escalated" and .step == 2)) | .[0].to == ["+491******003"]' >/dev/null ||
	fail "the step receipt does not name (masked) who it went to: $(grep e1 "$E2E_DIR/receipts.txt")"

[ "$(to_of f1)" = "$ON1 $ON2 +491700000009 " ] || fail "f1 (@oncall and {phone}) went to '$(to_of f1)'"
chain_of f1 | jq -e '. == null' >/dev/null || fail "f1 has a chain: $(chain_of f1)"

# After their deadlines the acknowledged and reached chains sent nothing more.
[ "$(to_of e2)" = "$ON1 $ON2 " ] || fail "e2 escalated after its ack: '$(to_of e2)'"
[ "$(to_of e3)" = "$ON1 $ON2 " ] || fail "e3 escalated after its ack: '$(to_of e3)'"
[ "$(to_of e5)" = "$ON1 $ON2 " ] || fail "e5 escalated though read: '$(to_of e5)'"
[ "$(to_of d5)" = "$ON1 " ] || fail "d5 escalated though delivered: '$(to_of d5)'"
ctl status | jq -e '.escalation | .started == 5 and .steps == 2 and .acknowledged == 2 and
	.reached == 2 and .gave_up == 1 and .open == 0' >/dev/null || fail "status: $(ctl status | jq -c .escalation)"

# (d) kill -9 mid-chain, restart: it resumes and ends, nothing twice
alarm e4
wait_for "[ \"\$(to_of e4)\" = '$ON1 $ON2 ' ]" 10 || fail "first step of e4: '$(to_of e4)'"
wait_for "[ \"\$(ctl outbox --limit 200 | jq '[.messages[] | select(.event_id == \"e4\" and .state == \"sent\")] | length')\" = 2 ]" 5 ||
	fail "e4's first step not recorded sent"
stop_outpostd KILL
start_outpostd
wait_for "[ \"\$(esc e4)\" = 'escalated/2 escalated/3 gave_up/3 ' ]" 15 ||
	fail "e4 did not resume: '$(esc e4)' (sim: $(to_of e4)) $(chain_of e4)"
[ "$(to_of e4)" = "$ON1 $ON2 $BK $LAST " ] || fail "e4 went to '$(to_of e4)'"
grep -q "chain #[0-9]* gave_up" "$E2E_DIR/outpostd.log" || fail "no give-up logged"
ctl status | jq -e '.escalation | .started == 6 and .gave_up == 2 and .open == 0' >/dev/null ||
	fail "status after the restart: $(ctl status | jq -c .escalation)"
stop_outpostd || fail "outpostd exit status $?"

# (f) the clock gate: under libfaketime in 1970 an alarm is taken, its chain
# holds (no deadline, nothing sent); once the clock is valid its deadline is
# set from then and it runs as any other.
FAKETIME_LIB=${FAKETIME_LIB:-$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)}
[ -f "${FAKETIME_LIB:-}" ] || fail "no libfaketime.so.1 under /usr/lib/*/faketime (scripts/setup.sh installs faketime)"
echo "@1970-01-01 00:00:00" >"$E2E_DIR/faketime.rc"
rm -f "$OUTPOST_SOCK"
# verify_asan_link_order=0: a sanitizer build (make san-check) takes the
# preloaded library ahead of its runtime.
env LD_PRELOAD="$FAKETIME_LIB" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" FAKETIME_TIMESTAMP_FILE="$E2E_DIR/faketime.rc" FAKETIME_CACHE_DURATION=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 "$BUILD/outpostd" -c "$OUTPOST_CONF" >>"$E2E_DIR/outpostd.log" 2>&1 &
OUTPOSTD_PID=$!
E2E_PIDS+=("$OUTPOSTD_PID")
wait_for "[ \"\$(ctl status 2>/dev/null | jq -r .mqtt.connected)\" = true ]" 30 || fail "outpostd did not come up under faketime"
[ "$(ctl status | jq -r .clock.valid)" = false ] || fail "the clock is not in 1970: $(ctl status | jq -c .clock)"
alarm e6
wait_for "chain_of e6 | jq -e '.deadline == \"when the clock is valid\"' >/dev/null" 5 || fail "e6's chain: $(chain_of e6)"
sleep 4 # past the first step's 4 s, had the clock been valid
[ "$(to_of e6)" = "" ] || fail "sent in 1970: '$(to_of e6)'"
[ "$(esc e6)" = "" ] || fail "escalated in 1970: '$(esc e6)'"
echo "+0" >"$E2E_DIR/faketime.rc.tmp" && mv "$E2E_DIR/faketime.rc.tmp" "$E2E_DIR/faketime.rc"
wait_for "[ \"\$(to_of e6)\" = '$ON1 $ON2 ' ]" 10 || fail "e6 not sent once the clock is valid: '$(to_of e6)'"
chain_of e6 | jq -e '.state == "open" and (.deadline | test("^20"))' >/dev/null || fail "e6's deadline: $(chain_of e6)"
wait_for "[ \"\$(esc e6)\" = 'escalated/2 escalated/3 gave_up/3 ' ]" 15 || fail "e6 after the clock: '$(esc e6)'"
stop_outpostd || fail "outpostd exit status $?"

# (h) an ack while the provider is down: the second step's message, queued
# and waiting, is withdrawn (suppressed with the reason) when the sender
# comes to it; the first step's go once the provider is back.
start_outpostd
stop_sim
alarm e8
wait_for "[ \"\$(esc e8)\" = 'escalated/2 ' ]" 10 || fail "e8 did not escalate: '$(esc e8)'"
mpub outpost/e2e/ack/e8 ''
wait_for "[ \"\$(esc e8)\" = 'escalated/2 acknowledged/2 ' ]" 5 || fail "e8 not acknowledged: '$(esc e8)'"
start_sim
wait_for "[ \"\$(to_of e8)\" = '$ON1 $ON2 ' ]" 15 || fail "e8's first step after the outage: '$(to_of e8)'"
wait_for "[ \"\$(record_of e8 | jq -r 'select(.escalated) | .state')\" = suppressed ]" 10 ||
	fail "e8's second step: $(record_of e8 | jq -c 'select(.escalated)')"
record_of e8 | jq -s -e 'map(select(.escalated))[0].error | .class == "acknowledged" and
	(.text | test("^escalation acknowledged by mqtt before"))' \
	>/dev/null || fail "the withdrawn message's reason: $(record_of e8 | jq -c 'select(.escalated)')"
[ "$(ctl status | jq .escalation.withdrawn)" = 1 ] || fail "withdrawn not counted: $(ctl status | jq -c .escalation)"

# (g) a reload that takes the route's escalation away: its open chain ends
# as stopped at its deadline, nothing more goes.
alarm e7
wait_for "[ \"\$(to_of e7)\" = '$ON1 $ON2 ' ]" 10 || fail "first step of e7: '$(to_of e7)'"
jq '(.routes[] | select(.name == "alarm")) |= (del(.escalate, .ack) | .to = "@oncall") |
	del(.routes[] | select(.name == "alarm_d"))' "$OUTPOST_CONF" \
	>"$E2E_DIR/noesc.json" && mv "$E2E_DIR/noesc.json" "$OUTPOST_CONF"
kill -HUP "$OUTPOSTD_PID"
wait_for "grep -q 'reload: ' '$E2E_DIR/outpostd.log'" 5 || fail "no reload"
wait_for "[ \"\$(esc e7)\" = 'stopped/1 ' ]" 10 || fail "e7 after the reload: '$(esc e7)' $(chain_of e7)"
[ "$(to_of e7)" = "$ON1 $ON2 " ] || fail "e7 went on after the reload: '$(to_of e7)'"
ctl status | jq -e '.escalation | .stopped == 1 and .open == 0 and .ack_topic == ""' >/dev/null ||
	fail "status after the reload: $(ctl status | jq -c .escalation)"
stop_outpostd || fail "outpostd exit status $?"

# Every event the broker took (mosquitto_pub -q 1 returned after its PUBACK)
# reached each of its recipients once; the escalated records explain the
# extra deliveries.
i=0
for e in e1 e3 e5 e2 d5 f1 e4 e6 e8 e7; do i=$((i + 1)); printf '%s\t%d\t%d\n' "$e" "$i" "$i"; done >"$E2E_DIR/pub.log"
out=$("$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub.log" --sim-record "$SIM_RECORD" \
	--store "$E2E_DIR/store" 2>&1) || fail "checker: $out"
grep -q "published 10 delivered 26 lost 0 duplicated 0 unexpected 0" <<<"$out" || fail "checker: $out"
pass "escalation: moves on unread, gives up, stops on an ACK reply, an MQTT ack and a read (and, until: delivered, on delivered); resumes after kill -9; holds while the clock is invalid; stops when a reload takes it away; an ack withdraws a queued step"
