#!/bin/bash
# Flash wear (docs/BENCHMARKS.md): writes that can wait ride along with the
# commits made anyway, and what that must not cost.
#  1. An event's log records are in the store with its ingest commit: a
#     kill -9 as soon as the event is committed, before any timer could
#     write them, keeps the "queued" line in the ring.
#  2. Receipts acknowledged by the broker wait (up to 30 s) for a commit to
#     delete them; a reconnect in that time does not publish them again.
#  3. Once an event's life is over (read, receipts deleted), the idle daemon
#     commits nothing; a template sync that finds nothing new writes nothing
#     either (the hourly sync of unchanged templates was a commit an hour),
#     and it begins no read-only transaction either.
#  4. A status poll that finds a message as it was writes nothing of its
#     own (an unread message is polled ~77 times in 72 h).
#  5. At a site's pace an event costs two commits up to its send's outcome:
#     its ingest, which also marks it sending since the sender would take it
#     at once, and the outcome; the sender's turn commits nothing of its own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup wear
start_broker
start_sim --deliver-after-ms 300 --read-after-ms 2500
write_config '.accounts.main.status_poll = {"first": "1s", "max_age": "1h"}'
# The statistics are published every 0.3 s instead of every minute (when
# they changed: part 3 checks that looking costs no transaction).
export OUTPOST_TEST_PUBLISH_MS=300
start_outpostd
pay() { mpub site/1/payments/card "{\"id\": \"$1\", \"customer\": {\"name\": \"Ana\", \"phone\": \"+491701234561\"}, \"amount\": \"1.00\", \"currency\": \"EUR\"}"; }
commits() { ctl status | jq .store.commits; }

# 1. "acked" counts events committed (their PUBACK to the broker follows).
pay w1
wait_for '[ "$(status_num acked)" = 1 ]' 10 || fail "w1 not committed"
kill -KILL "$OUTPOSTD_PID"
wait "$OUTPOSTD_PID" 2>/dev/null
e2e_forget "$OUTPOSTD_PID"
start_outpostd
ctl logs --level info | grep -q '"text":"event w1: message #1 to [^"]* queued' ||
	fail "the queued line of w1 did not survive kill -9: $(ctl logs --level info | tail -5)"
wait_for '[ "$(outbox_count read)" -ge 1 ]' 15 || fail "w1 not read: $(ctl status | jq -c .outbox)"

# 2. A persistent QoS 1 subscriber sees each receipt of w2 once, across a
# broker restart while their deletes still wait.
e2e_spawn "$E2E_DIR/sub.err" sh -c "exec mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -q 1 -c -i e2e-wear \
	-t 'outpost/e2e/receipts/w2' -v >>'$E2E_DIR/receipts.txt'"
wait_for "grep -q 'as e2e-wear' '$E2E_DIR/mosquitto.log'" 5 || fail "the receipt subscriber did not connect"
pay w2
wait_for "[ \$(cat '$E2E_DIR/receipts.txt' 2>/dev/null | grep -c .) -ge 3 ]" 30 ||
	fail "receipts of w2: $(cat "$E2E_DIR/receipts.txt" 2>/dev/null)"
undeleted=$(ctl status | jq .receipts.acked_undeleted)
[ "$undeleted" -ge 1 ] || fail "no acknowledged receipt waits for its delete ($undeleted): nothing to test"
reconnects=$(ctl status | jq .mqtt.reconnects)
stop_broker
run_broker "$E2E_DIR/mosquitto.conf"
wait_for "[ \"\$(ctl status | jq '.mqtt.reconnects > $reconnects and .mqtt.connected')\" = true ]" 20 ||
	fail "outpostd did not reconnect: $(ctl status | jq -c .mqtt)"
sleep 2 # what it would publish again goes out at once on the new link
n=$(grep -c . "$E2E_DIR/receipts.txt")
[ "$n" = 3 ] || fail "w2's 3 receipts arrived $n times across the reconnect: $(cut -c1-160 "$E2E_DIR/receipts.txt")"

# 3. Idle: nothing due, nothing waits.
wait_for '[ "$(ctl status | jq ".receipts.pending + .receipts.acked_undeleted")" = 0 ]' 40 ||
	fail "receipts still wait: $(ctl status | jq -c .receipts)"
w0=$(ctl status | jq .store.write_txns)
c0=$(commits)
sleep 5
c1=$(commits)
[ "$c0" = "$c1" ] || fail "the idle daemon committed $((c1 - c0)) times in 5 s"
w1=$(ctl status | jq .store.write_txns)
[ "$w0" = "$w1" ] || fail "the idle daemon began $((w1 - w0)) write transactions in 5 s (each dirties LMDB's lock file)"
[ "$(outbox_count read)" -ge 2 ] || fail "w2 not read: $(ctl status | jq -c .outbox)"
# Nor a read-only one (a reader slot in the same lock file page): the
# statistics' publisher and the escalation timer look only after a commit.
# A status call begins its own after it reports the count: measured first.
x0=$(ctl status | jq .store.txns)
x1=$(ctl status | jq .store.txns)
sleep 3
x2=$(ctl status | jq .store.txns)
[ $((x2 - x1)) = $((x1 - x0)) ] ||
	fail "the idle daemon began $((x2 - x1 - (x1 - x0))) transactions in 3 s (the status calls' own: $((x1 - x0)))"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" templates sync >/dev/null || fail "templates sync failed"
w2=$(ctl status | jq .store.write_txns)
[ "$w1" = "$w2" ] || fail "a template sync that found nothing new began $((w2 - w1)) write transactions"
# 4. A message delivered and never read is polled on (first 1 s, then 3 s,
# 12 s later): an answer that changes nothing keeps its next poll time in
# memory until a commit made anyway, and begins no write transaction of its
# own; it is not polled again before that time; after a kill -9 it is merely
# polled again.
pay w3
wait_for '[ -n "$(record_of w3 | jq -r ".provider_id // empty")" ]' 10 || fail "w3 not sent: $(record_of w3)"
sid=$(record_of w3 | jq -r .provider_id)
curl -sS --cacert "$SIM_CA" -d "{\"sid\":\"$sid\",\"status\":\"delivered\"}" "$SIM_URL/sim/status" |
	jq -e '.status == "delivered"' >/dev/null || fail "/sim/status did not take w3's delivered"
wait_state w3 delivered
wait_for '[ "$(ctl status | jq .delivery.polls_kept)" = 1 ]' 20 ||
	fail "no unchanged answer kept in memory: $(ctl status | jq -c .delivery)"
k0=$(ctl status | jq '[.store.write_txns, .delivery.polls]')
sleep 3
k1=$(ctl status | jq '[.store.write_txns, .delivery.polls]')
[ "$(jq '.[0]' <<<"$k0")" = "$(jq '.[0]' <<<"$k1")" ] ||
	fail "an answer that changed nothing began write transactions: [write_txns, polls] $k0 -> $k1"
[ "$(jq '.[1]' <<<"$k0")" = "$(jq '.[1]' <<<"$k1")" ] || fail "w3 polled again before its next time: $k0 -> $k1"
kill -KILL "$OUTPOSTD_PID"
wait "$OUTPOSTD_PID" 2>/dev/null
e2e_forget "$OUTPOSTD_PID"
start_outpostd
wait_for '[ "$(ctl status | jq .delivery.polls)" -ge 1 ]' 10 || fail "w3 not polled after the restart: $(ctl status | jq -c .delivery)"
[ "$(state_of w3)" = delivered ] || fail "w3 is $(state_of w3) after the restart"

# 5. From idle: nothing else commits within a second of the send (status
# answers wait 5 s for a commit to ride on, log records 30 s).
c0=$(commits)
s0=$(ctl status | jq .counters.sent)
pay w4
wait_for "[ \"\$(ctl status | jq .counters.sent)\" -gt $s0 ]" 15 || fail "w4 not sent: $(ctl status | jq -c .outbox)"
c1=$(commits)
[ $((c1 - c0)) -le 2 ] ||
	fail "w4 cost $((c1 - c0)) commits from its ingest to its send's outcome (2: the ingest marks it sending)"
pass "log line durable with its ingest across kill -9; 3 receipts once across a reconnect with $undeleted deletes waiting; idle: $c0 commits, none and no write transaction in 5 s nor for a template sync that found nothing new; an unread message's unchanged poll answer kept in memory, no write transaction, polled again after kill -9; an event: $((c1 - c0)) commits up to its send's outcome"
