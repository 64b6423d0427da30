#!/bin/bash
# Statistics per route and day (docs/ALERTING.md "Statistics") add up to the
# outbox: the sim delivers each message 300 ms after it took it and shows it
# read 700 ms later, one magic recipient ends undelivered (63024), one event
# lacks its recipient (rejected) and one comes twice (the second suppressed,
# under the route "" as no route saw it). `outpostctl stats --json` must
# count the same as the outbox by state, by route, by account and by day,
# with latencies for the delivered and read ones; the counts survive a
# clean restart (written at stop) and are published retained on
# outpost/e2e/stats.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup stats
start_broker
start_sim --deliver-after-ms 300 --read-after-ms 700
write_config '.accounts.main.status_poll = {"first": "1s", "max_age": "1h"}'
export OUTPOST_TEST_PUBLISH_MS=300
start_outpostd

pay() { mpub site/1/payments/card "{\"id\": \"$1\", \"customer\": {\"name\": \"Ana\", \"phone\": \"$2\"}, \"amount\": \"1.00\", \"currency\": \"EUR\"}"; }
pay s1 +491701234561
pay s2 +491701234562
pay s3 +491701234563
pay s4 +15005550063
pay s1 +491701234561 # the same id again: suppressed as a duplicate
mpub site/1/payments/card '{"id": "s5", "customer": {"name": "Ana"}, "amount": "1", "currency": "EUR"}'
mpub site/1/tickets/x '{"id": "t1", "ticket": "A1", "counter": "2", "phone": "+491701234564"}'
wait_for '[ "$(outbox_count read)" -ge 4 ] && [ "$(outbox_count undelivered)" -ge 1 ]' 20 ||
	fail "messages did not reach read/undelivered: $(ctl status | jq -c .outbox)"

# row JSON KEY FIELD: a counter of one row of a stats.table answer.
row() { jq -r --arg k "$2" --arg f "$3" '.rows[] | select(.key == $k) | .[$f]' <<<"$1"; }
check_adds_up() { # WHEN
	local s o
	s=$(ctl stats --by route --days 1) || fail "$1: stats --by route failed"
	o=$(ctl status | jq -c .outbox)
	jq -e '.ok and .by == "route" and .days == 1 and .tz == "UTC" and (.from == .to)' >/dev/null <<<"$s" ||
		fail "$1: the answer's frame: $(jq -c 'del(.rows, .total)' <<<"$s")"
	# payments: s1-s4 and s5 took the route; s5 rejected, four queued and sent,
	# three read (each delivered first), one undelivered (failed).
	[ "$(row "$s" payments events)/$(row "$s" payments rejected)/$(row "$s" payments queued)" = 5/1/4 ] ||
		fail "$1: payments events/rejected/queued: $(jq -c '.rows' <<<"$s")"
	[ "$(row "$s" payments sent)/$(row "$s" payments delivered)/$(row "$s" payments read)/$(row "$s" payments failed)" = 4/3/3/1 ] ||
		fail "$1: payments sent/delivered/read/failed: $(jq -c '.rows' <<<"$s")"
	[ "$(row "$s" tickets events)/$(row "$s" tickets sent)/$(row "$s" tickets read)" = 1/1/1 ] ||
		fail "$1: tickets: $(jq -c '.rows' <<<"$s")"
	[ "$(row "$s" '' events)/$(row "$s" '' suppressed)" = 1/1 ] ||
		fail "$1: the duplicate under route \"\": $(jq -c '.rows' <<<"$s")"
	# Against the outbox: every record once, by the state it reached.
	jq -e --argjson o "$o" '.total as $t |
		$t.events == ($o | .queued + .sending + .retry + .sent + .delivered + .read + .undelivered +
			.failed + .expired + .rejected + .suppressed) and
		$t.queued + $t.rejected + $t.suppressed == $t.events and
		$t.sent == ($o | .sent + .delivered + .read + .undelivered) and
		$t.read == $o.read and $t.delivered == ($o.read + $o.delivered) and
		$t.failed == ($o.failed + $o.undelivered) and $t.rejected == $o.rejected and
		$t.suppressed == $o.suppressed' >/dev/null <<<"$s" ||
		fail "$1: the totals do not add up to the outbox $o: $(jq -c .total <<<"$s")"
	# Latencies: one per delivered and per read message, p50 <= p90 <= p99,
	# read no sooner than 700 ms after delivery (> 1 s bucket bound).
	jq -e '.total.delivered_ms.n == 4 and .total.read_ms.n == 4 and
		.total.delivered_ms.p50 > 0 and .total.delivered_ms.p50 <= .total.delivered_ms.p90 and
		.total.delivered_ms.p90 <= .total.delivered_ms.p99 and
		.total.read_ms.p50 >= .total.delivered_ms.p50' >/dev/null <<<"$s" ||
		fail "$1: latencies: $(jq -c '.total | {delivered_ms, read_ms}' <<<"$s")"
	jq -e '.rows[] | select(.key == "payments") | .daily == [5]' >/dev/null <<<"$s" ||
		fail "$1: daily events: $(jq -c '.rows[] | {key, daily}' <<<"$s")"
}
check_adds_up "running"

s=$(ctl stats --by account --days 3)
jq -e '.rows | map(.key) == ["", "main"] and (.[1].events == 6) and (.[1].sent == 5)' >/dev/null <<<"$s" ||
	fail "by account: $(jq -c '.rows | map({key, events, sent})' <<<"$s")"
jq -e '.rows[1].daily | length == 3 and .[2] == 6 and .[0] == 0' >/dev/null <<<"$s" ||
	fail "by account, daily over 3 days: $(jq -c '.rows[1].daily' <<<"$s")"
s=$(ctl stats --by day --days 2)
today=$(date -u +%F)
jq -e --arg d "$today" '.rows | length == 1 and .[0].key == $d and .[0].events == 7' >/dev/null <<<"$s" ||
	fail "by day: $(jq -c '.rows | map({key, events})' <<<"$s")"

# The table for a person (not a terminal: no sparkline).
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" stats --days 1 >"$E2E_DIR/table.txt" || fail "stats table failed"
grep -Eq '^payments +5 +1 +4 +4 +3 +3 +1 ' "$E2E_DIR/table.txt" ||
	fail "the table's payments row: $(cat "$E2E_DIR/table.txt")"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" stats --by week 2>"$E2E_DIR/usage.txt" && fail "--by week accepted"
grep -q -- "--by wants route, account or day" "$E2E_DIR/usage.txt" || fail "--by week: $(cat "$E2E_DIR/usage.txt")"
echo '{"cmd":"stats.table","days":0}' | socat - UNIX-CONNECT:"$OUTPOST_SOCK" 2>/dev/null |
	jq -e '.ok == false and (.error | test("days"))' >/dev/null || fail "days 0 was not refused"

# Published retained, and updated when something changed.
retained_stats() {
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t outpost/e2e/stats -C 1 -W 3 2>/dev/null
}
wait_for 'retained_stats | jq -e ".total.read == 4 and .gateway == \"e2e\"" >/dev/null' 10 ||
	fail "outpost/e2e/stats: $(retained_stats | head -c 400)"
pay s6 +491701234566
wait_for 'retained_stats | jq -e ".total.events == 8" >/dev/null' 10 ||
	fail "the stats were not published again after s6: $(retained_stats | jq -c .total)"
wait_state s6 read

# A clean stop writes what waits; the counts are the store's after a restart.
stop_outpostd || fail "outpostd exited non-zero"
start_outpostd
s=$(ctl stats --by route --days 1)
[ "$(row "$s" payments events)/$(row "$s" payments read)" = 6/4 ] ||
	fail "after a restart: $(jq -c '.rows | map({key, events, read})' <<<"$s")"
stop_outpostd || fail "outpostd exited non-zero"
stop_sim
pass "stats add up to the outbox by route, account and day (latencies, daily); kept across a restart; published retained on outpost/e2e/stats"
