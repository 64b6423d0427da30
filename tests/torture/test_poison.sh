#!/bin/bash
# Poison events never delay the events around them. EVENTS events, of which
# every 100th (the 50th of each hundred) is poison, in turn: malformed JSON,
# a missing field, an invalid phone number, an unapproved template (these
# four the router rejects at ingest), a recipient the provider refuses for
# good (twilio-sim's magic +15005550001: 400 / 21211) and one it fails every
# time (+15005550009: 500 / 20500; a 500 to a POST is ambiguous, so each one
# is reconciled - the provider's list asked - before it is sent again, up to
# max_attempts = 1000).
#
# "Never delay" is shown by structure, not by a clock:
#  - every good event is delivered while every transient poison record is
#    still being retried: a sender that waited on its oldest record would
#    deliver nothing after the first of them;
#  - every good event went out on its first attempt, and no batch was taken
#    twice (no duplicates, no suppressed records, no broker reconnect);
#  - every poison event ends readable with its reason: rejected (why),
#    failed (code 21211), retry (the 500, or the reconciliation that did not
#    find it at the provider; attempts so far).
# Then a reload caps max_attempts at 1: the transient ones end expired
# ("gave up after N attempts"), and the checker finds nothing lost.
#
#   EVENTS=20000 tests/torture/test_poison.sh   # long form
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=poison
e2e_setup poison
EVENTS=${EVENTS:-3000}
HUNDREDS=$((EVENTS / 100))
[ "$HUNDREDS" -ge 6 ] || fail "EVENTS=$EVENTS: need at least 600 for every kind of poison"
GOOD=$((HUNDREDS * 99))
echo "poison: $EVENTS events, $HUNDREDS of them poison (1 in 100), $GOOD good"

outbox_all() { # outbox_all [--state S]: every record, newest first, as one JSON object
	local before=0 page
	while :; do
		page=$(ctl outbox --limit 1000 --before "$before" "$@") || fail "outpostctl outbox failed"
		echo "$page"
		before=$(jq .next_before <<<"$page")
		[ "$before" -gt 0 ] || break
	done | jq -s '{counts: .[0].counts, messages: [.[].messages[]]}'
}
poison_state() { # poison_state ID: the state of its record in $snap
	jq -r --arg id "$1" '[.messages[] | select(.event_id == $id) | .state] | join(",")' <<<"$snap"
}
expect() { # expect LIST ID_OR_EMPTY JQ_CONDITION [COUNT]
	jq -e --arg id "$2" --argjson n "${4:-1}" \
		"[.messages[] | select(.event_id == \$id and ($3))] | length == \$n" <<<"$1" >/dev/null ||
		fail "no record of '$2' with $3: $(jq -c --arg id "$2" '[.messages[] | select(.event_id == $id)]' <<<"$1")"
}

start_broker
start_sim
write_config "${POISON_CONFIG[@]}" '.sender.max_attempts = 1000' \
	'.sender.backoff_base_ms = 100' '.sender.backoff_cap_ms = 1000'
start_outpostd

# One hundred at a time: 50 good, 1 poison, 49 good; each publisher returns
# once the broker acknowledged all it sent, so pub.log is in publish order.
: >"$E2E_DIR/pub.log"
for ((h = 0; h < HUNDREDS; h++)); do
	publish -n 50 --start $((h * 99 + 1)) --kind mixed --id-prefix good --log "$E2E_DIR/part.log"
	cat "$E2E_DIR/part.log" >>"$E2E_DIR/pub.log"
	pub_poison "$h"
	printf '%s\t0\t0\n' "$(poison_id "$h")" >>"$E2E_DIR/pub.log"
	publish -n 49 --start $((h * 99 + 51)) --kind mixed --id-prefix good --log "$E2E_DIR/part.log"
	cat "$E2E_DIR/part.log" >>"$E2E_DIR/pub.log"
done
[ "$(wc -l <"$E2E_DIR/pub.log")" -eq "$EVENTS" ] || fail "the broker acknowledged $(wc -l <"$E2E_DIR/pub.log") of $EVENTS"

# Generous: a functional bound, not a latency figure.
wait_for "[ \"\$(sim_count)\" -ge $GOOD ]" 120 || fail "only $(sim_count) of $GOOD good events delivered"
# The snapshot that shows "no head-of-line blocking": taken right after the
# last good delivery, with every transient poison still unfinished.
status=$(ctl status) || fail "outpostctl status failed"
snap=$(outbox_all)
check_unique_refs "$GOOD"

n_trans=0 n_refused=0 n_rejected=0 n_json=0
for ((h = 0; h < HUNDREDS; h++)); do
	id=$(poison_id "$h")
	case $(poison_kind "$h") in
	transient)
		n_trans=$((n_trans + 1))
		st=$(poison_state "$id")
		[[ "$st" == retry || "$st" == sending ]] ||
			fail "transient poison $id is '$st' when the last good event was delivered, not still retrying"
		;;
	refused) n_refused=$((n_refused + 1)) ;;
	json) n_json=$((n_json + 1)); n_rejected=$((n_rejected + 1)) ;;
	*) n_rejected=$((n_rejected + 1)) ;;
	esac
done
jq -e --argjson n "$n_refused" '.counts.expired == 0 and .counts.failed == $n' <<<"$snap" >/dev/null ||
	fail "at the last good delivery: $(jq -c .counts <<<"$snap")"
jq -e ".counters.events == $EVENTS and .counters.duplicates == 0 and .outbox.suppressed == 0 and .mqtt.reconnects == 0" \
	<<<"$status" >/dev/null || fail "a batch was taken twice or the broker link broke: $(jq -c '{mqtt, counters}' <<<"$status")"
echo "poison: $GOOD good delivered while $n_trans transient poison records were still retrying"

# Every good record went out on its first attempt, none ambiguous.
bad=$(jq -c '[.messages[] | select(.state == "sent" and (.attempts != 1 or .ambiguous)) | {event_id, attempts, ambiguous}] | .[:5]' <<<"$snap")
[ "$bad" = "[]" ] || fail "good events sent after more than one attempt: $bad"

# Each poison event, readable with its reason.
rejected=$(ctl outbox --state rejected --limit 1000)
failed=$(ctl outbox --state failed --limit 1000)
for ((h = 0; h < HUNDREDS; h++)); do
	id=$(poison_id "$h")
	case $(poison_kind "$h") in
	missing) expect "$rejected" "$id" '.error.text | test("missing field .customer.name.")' ;;
	phone) expect "$rejected" "$id" '.error.text | test("recipient.*too short")' ;;
	template) expect "$rejected" "$id" '.error.text | test("not approved")' ;;
	refused) expect "$failed" "$id" '.error.code == 21211 and .error.class == "permanent" and .attempts == 1' ;;
	esac
done
expect "$rejected" "" '.error.text | test("malformed JSON")' "$n_json"
[ "$(jq '.messages | length' <<<"$rejected")" -eq "$n_rejected" ] ||
	fail "$(jq '.messages | length' <<<"$rejected") rejected records, expected $n_rejected"
# Unfinished records at the last good delivery: the transient poison and
# nothing else, each flagged ambiguous; those between attempts say why: the
# 500, or the reconciliation that did not find it (one caught mid-request
# is "sending").
unfinished=$(jq -c '[.messages[] | select(.state == "queued" or .state == "retry" or .state == "sending")]' <<<"$snap")
jq -e --argjson n "$n_trans" 'length == $n and all(.[]; (.event_id | startswith("poison-transient-")) and .attempts >= 1
	and .ambiguous and (.state == "sending" or (.error.code == 20500 and .error.text == "Internal Server Error")
		or (.error.text | test("not found at the provider"))))' \
	<<<"$unfinished" >/dev/null || fail "unfinished records at the last good delivery: $unfinished"
attempts=$(jq '[.[] | .attempts] | add' <<<"$unfinished")
echo "poison: $n_rejected rejected at ingest, $n_refused failed with 21211, $n_trans retrying ($attempts attempts so far:" \
	"$(jq -r '[.[] | .error.text] | group_by(.) | map("\(length)x \(.[0])") | join(", ")' <<<"$unfinished"))"

# The operator caps the retries: every transient one ends expired, with why.
jq '.sender.max_attempts = 1' "$OUTPOST_CONF" >"$OUTPOST_CONF.tmp" && mv "$OUTPOST_CONF.tmp" "$OUTPOST_CONF"
kill -HUP "$OUTPOSTD_PID"
wait_for "[ \"\$(outbox_count expired)\" -ge $n_trans ]" 30 ||
	fail "transient poison not expired after max_attempts = 1: $(ctl status | jq -c .outbox)"
expired=$(ctl outbox --state expired --limit 1000)
for ((h = 0; h < HUNDREDS; h++)); do
	[ "$(poison_kind "$h")" = transient ] &&
		expect "$expired" "$(poison_id "$h")" '.error.text | test("gave up after [0-9]+ attempts; (last: Internal Server Error|the last one not found at the provider)")'
done
[ "$(outbox_count sent)" -eq "$GOOD" ] || fail "$(outbox_count sent) sent, expected $GOOD"
stop_outpostd || fail "outpostd did not stop cleanly"
"$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub.log" --sim-record "$SIM_RECORD" \
	--store "$E2E_DIR/store" || fail "checker failed"
pass "$HUNDREDS poison among $EVENTS events: $GOOD good delivered on first attempt while $n_trans transient poison still retried; checker passed"
