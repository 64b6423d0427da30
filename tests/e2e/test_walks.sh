#!/bin/bash
# List walks end, and stay in the account. The sim runs with --foreign-next:
# every list page names as its next page another account's list (the
# next_page_uri of twilio-oai's readFullPage1 example, ACaaaa...), and each
# inbound page carries one more message, to another number than ours (the
# example's +18182008801). An inbound poll must take our customer's
# message, refuse the link (logged with what it was, counted in status),
# ask the sim nothing more, and publish nothing sent to the other number.
# The inbound log line names our customer as the sender ("from"), masked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup walks
start_broker
start_sim --foreign-next

OURS=whatsapp:+14155550100
CUSTOMER=+4917000000009
out=$(curl -sS --cacert "$SIM_CA" -w '\n%{http_code}' -X POST "$SIM_URL/sim/inbound" \
	-d "{\"from\":\"$CUSTOMER\",\"to\":\"$OURS\",\"body\":\"hello\"}") || fail "POST /sim/inbound"
[ "$(tail -n 1 <<<"$out")" = 201 ] || fail "sim refused the inbound message: $out"
# The sim's page is the trap this test is about.
page=$(sim_curl "$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json?To=whatsapp%3A%2B14155550100" | head -n 1)
jq -e '(.next_page_uri | startswith("/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/")) and
	any(.messages[]; .to == "whatsapp:+18182008801")' <<<"$page" >/dev/null ||
	fail "the sim's --foreign-next page: $page"

write_config '.accounts.main.inbound_poll_s = 10'
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t outpost/e2e/inbound -W 30 \
	>"$E2E_DIR/inbound.txt" 2>&1 &
SUB_PID=$!
E2E_PIDS+=("$SUB_PID")
start_outpostd

counter() { ctl status | jq -r ".counters.$1"; }
wait_for '[ "$(ctl status | jq -r .consent.inbound)" -ge 1 ] && [ "$(counter next_links_refused)" -ge 1 ]' 15 ||
	fail "the first poll: $(ctl status | jq -c '{consent, counters}')"
wait_for "grep -q '\"from\":\"$CUSTOMER\"' '$E2E_DIR/inbound.txt'" 5 ||
	fail "our customer's message was not published: $(cat "$E2E_DIR/inbound.txt")"
[ "$(counter inbound_foreign)" -ge 1 ] || fail "the message to another number was not counted: $(ctl status | jq -c .counters)"
[ "$(counter walks_capped)" = 0 ] || fail "a walk reached its cap: $(ctl status | jq -c .counters)"
# The walk ended at the link: had it followed it, the sim would have
# refused the other account (401) and the poll would have failed.
polls=$(ctl status | jq -r .consent.polls)
[ "$(ctl status | jq -r .consent.poll_failures)" = 0 ] || fail "a poll failed: $(ctl status | jq -c .consent)"
grep -q "warn: inbound: account main: next_page_uri /2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json?To=%2B123456789.* not followed: it leaves /2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json; the walk ends here" \
	"$E2E_DIR/outpostd.log" || fail "the refused link is not logged: $(grep inbound "$E2E_DIR/outpostd.log")"
grep "warn: inbound: account main: message MMc26223853f8c46b4ab7dfaa6abba0a26 is to .*, not the account's number; skipped" \
	"$E2E_DIR/outpostd.log" | grep -qv 18182008801 || fail "the foreign message is not logged: $(grep inbound "$E2E_DIR/outpostd.log")"

# The next poll (10 s on) refuses again: counted each time, logged a few
# times an hour at most.
wait_for "[ \"\$(ctl status | jq -r .consent.polls)\" -gt $polls ]" 15 || fail "no second poll"
wait_for "[ \"\$(counter next_links_refused)\" -ge 2 ]" 5 || fail "the second refusal was not counted"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status >"$E2E_DIR/status.txt" || fail "status"
grep -q "next links refused [1-9]" "$E2E_DIR/status.txt" || fail "outpostctl status: $(cat "$E2E_DIR/status.txt")"
# The inbound line names the customer as the sender ("from"), masked.
ctl logs --level info >"$E2E_DIR/logs.jsonl" || fail "outpostctl logs"
jq -s -e '[.[] | select(.module == "inbound" and (.text // "" | startswith("message SM")))] |
	length == 1 and (.[0].from | test("^\\+491\\*+009$")) and (.[0] | has("to") | not)' \
	"$E2E_DIR/logs.jsonl" >/dev/null ||
	fail "the inbound log line: $(grep '"message SM' "$E2E_DIR/logs.jsonl")"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --level info | grep -q "inbound: message SM.*from=+491\*\+009" ||
	fail "outpostctl logs: $("$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --level info | grep 'inbound: message SM')"
stop_outpostd || fail "outpostd exit status $?"
kill "$SUB_PID" 2>/dev/null
wait "$SUB_PID" 2>/dev/null
! grep -q "18182008801\|MMc26223853f8c46b4ab7dfaa6abba0a26" "$E2E_DIR/inbound.txt" ||
	fail "a message to another number was published: $(cat "$E2E_DIR/inbound.txt")"
[ "$(grep -c "\"from\":\"$CUSTOMER\"" "$E2E_DIR/inbound.txt")" = 1 ] ||
	fail "our customer's message was not published once: $(cat "$E2E_DIR/inbound.txt")"
pass "inbound walk: next link into another account refused and counted, to another number skipped and counted"
