#!/bin/bash
# Dead letters for operators: an outage expires messages, a permanent error
# fails one; deadletter list shows them, filters narrow them, outbox show
# gives one in full, deadletter retry sends them again once the provider is
# back (exactly once each), a retry of a sent message is refused, and purge
# removes what ended.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup deadletter
start_broker
start_sim
# The circuit must not open: an open one holds messages for the link, where
# they spend no attempts (docs/RETRY.md), and these are to expire by them.
write_config '.sender.max_attempts = 2' '.sender.backoff_base_ms = 50' '.sender.backoff_cap_ms = 100' \
	'.accounts.main.breaker = {"failures": 1000, "open_s": 30}'
start_outpostd
octl() { "$BUILD/outpostctl" -s "$OUTPOST_SOCK" "$@"; }

# 1. Five messages expire while the provider is down; one fails for good.
stop_sim
publish -n 5 --kind payment --id-prefix dl
wait_for '[ "$(outbox_count expired)" -ge 5 ]' 30 || fail "expired=$(outbox_count expired)"
start_sim
mpub site/1/payments/card '{"id": "dl-21211", "customer": {"name": "Ana", "phone": "+15005550001"}, "amount": "1.00", "currency": "EUR"}'
mpub site/1/tickets/t '{"id": "tk-1", "ticket": "A1", "counter": "2", "phone": "+491701234599"}'
wait_for '[ "$(outbox_count failed)" -ge 1 ] && [ "$(outbox_count sent)" -ge 1 ]' 20 ||
	fail "failed=$(outbox_count failed) sent=$(outbox_count sent)"

# 2. list and filters.
dl=$(ctl deadletter list --limit 100)
[ "$(jq '.messages | length' <<<"$dl")" = 6 ] || fail "deadletter list: $(jq -c '[.messages[].event_id]' <<<"$dl")"
[ "$(ctl deadletter --to +15005550001 | jq -r '[.messages[].event_id] | join(",")')" = dl-21211 ] ||
	fail "--to filter: $(ctl deadletter --to +15005550001)"
[ "$(ctl outbox --route tickets | jq -r '[.messages[].event_id] | join(",")')" = tk-1 ] ||
	fail "--route filter: $(ctl outbox --route tickets)"
[ "$(ctl outbox --older-than 1h | jq '.messages | length')" = 0 ] || fail "--older-than 1h matched"
[ "$(ctl outbox --newer-than 1h --limit 100 | jq '.messages | length')" = 7 ] || fail "--newer-than 1h"
octl deadletter | grep -q "expired" || fail "deadletter text: $(octl deadletter)"

# 3. show: one record in full (root on the socket is an operator).
seq=$(ctl deadletter --to +15005550001 | jq '.messages[0].seq')
one=$(ctl outbox show "$seq")
jq -e '.message.to == "+15005550001" and .message.error.code == 21211 and
	(.message.vars | type == "object") and .message.content_sid != ""' <<<"$one" >/dev/null ||
	fail "outbox show: $one"
octl outbox show "$seq" | grep -q "^error .*21211" || fail "show text: $(octl outbox show "$seq")"
out=$(octl outbox show 99999 2>&1) && fail "show of a missing record succeeded"
grep -q "no record 99999" <<<"$out" || fail "missing record: $out"

# 4. A sent message cannot be retried; nothing changes.
sent_seq=$(ctl outbox --state sent | jq '.messages[0].seq')
out=$(octl outbox retry "$sent_seq" 2>&1) && fail "a sent message was retried"
grep -q "record $sent_seq is not failed or expired; nothing changed" <<<"$out" || fail "retry of sent: $out"

# 5. deadletter retry: the five expired go out once each; the 21211 fails again.
n0=$(sim_count)
out=$(octl deadletter retry) || fail "deadletter retry failed: $out"
grep -q "^6 messages to be sent again" <<<"$out" || fail "retry said: $out"
wait_for '[ "$(outbox_count sent)" -ge 6 ] && [ "$(outbox_count failed)" -ge 1 ] && [ "$(outbox_count retry)" = 0 ]' 30 ||
	fail "after retry: sent=$(outbox_count sent) failed=$(outbox_count failed)"
[ "$(outbox_count expired)" = 0 ] || fail "expired left: $(outbox_count expired)"
[ $(($(sim_count) - n0)) = 5 ] || fail "the sim got $(($(sim_count) - n0)) new messages, want 5"
check_unique_refs 6
grep -q "audit: socket .*: outbox.retry: ok" "$E2E_DIR/outpostd.log" || fail "retry not audited"

# 6. purge: a state is required; failed ones go, sent ones stay.
out=$(octl outbox purge 2>&1) && fail "purge without a selection succeeded"
out=$(octl outbox purge --state failed) || fail "purge failed: $out"
grep -q "^1 message purged" <<<"$out" || fail "purge said: $out"
[ "$(outbox_count failed)" = 0 ] && [ "$(outbox_count sent)" = 6 ] || fail "after purge: $(ctl status | jq -c .outbox)"
out=$(octl outbox purge --state queued 2>&1) && fail "purging queued records succeeded"
grep -q "only messages in an end state can be purged" <<<"$out" || fail "purge queued: $out"

# 7. stats: the same story in totals.
st=$(ctl stats)
jq -e '.counters.sent >= 6 and .counters.expired == 5 and .outbox.sent == 6 and .outbox.failed == 0 and
	(.lifetime | has("reconciled") and has("resent")) and .mqtt.messages >= 7' <<<"$st" >/dev/null ||
	fail "stats: $st"
octl stats | grep -q "^lifetime:" || fail "stats text: $(octl stats)"
stop_outpostd || fail "outpostd exited non-zero"
# The read-only commands on the socket were counted, and summed up at exit.
grep -q "audit: socket: read-only commands in the last [0-9]* s: status [0-9]*.*outbox [0-9]*.*outbox.show [0-9]*" \
	"$E2E_DIR/outpostd.log" || fail "no audit summary of the read-only commands"
# The store's own invariants (indexes both ways, counters) after the
# operator's changes; the loss totals are not the point here (some events
# came from mosquitto_pub, which keeps no acknowledgement log).
: >"$E2E_DIR/none.log"
"$BUILD/outpost-check" --json --pub-log "$E2E_DIR/none.log" --sim-record "$SIM_RECORD" \
	--store "$E2E_DIR/store" >"$E2E_DIR/check.json" 2>/dev/null
jq -e '.store_problems == 0 and .store_walk_complete' "$E2E_DIR/check.json" >/dev/null ||
	fail "store invariants after retry and purge: $(jq -c '{store_problems, store_notes}' "$E2E_DIR/check.json")"
pass "6 dead letters listed and filtered, shown in full, retried (5 sent once, 21211 failed again), purged; stats; store invariants hold"
