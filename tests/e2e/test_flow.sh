#!/bin/bash
# 1,000 events over three topics -> exactly 1,000 correct requests at the sim.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup flow
start_broker
start_sim
write_config
start_outpostd

publish -n 1000 --kind mixed --id-prefix evt
wait_sent 1000 60 || fail "only $(outbox_count sent) of 1000 sent"
check_unique_refs 1000

# Each request is the right template with the right variables for its event.
bad=$(jq -r --arg p "$T_PAY" --arg t "$T_TICKET" --arg a "$T_ALERT" '
	select(
	  (.to | test("^whatsapp:\\+[1-9][0-9]{7,14}$") | not)
	  or .from != "whatsapp:+14155550100"
	  or ([.vars[]] | any(. == "" or test("[\n\t]")))
	  or (.content_sid == $p and (.vars | length) != 3)
	  or (.content_sid == $t and (.vars | length) != 3)
	  or (.content_sid == $a and (.vars | length) != 4)
	  or (.content_sid as $c | [$p, $t, $a] | index($c) | not))
	| .sid' "$SIM_RECORD" | wc -l)
[ "$bad" -eq 0 ] || fail "$bad requests at the sim are malformed"
for kind in "$T_PAY" "$T_TICKET" "$T_ALERT"; do
	n=$(jq -r --arg k "$kind" 'select(.content_sid == $k) | .sid' "$SIM_RECORD" | wc -l)
	[ "$n" -ge 300 ] || fail "only $n requests for template $kind (expected a third of 1000)"
done
# A payment's amount variable is "<amount> <currency>" from the event.
jq -s -e --arg p "$T_PAY" 'map(select(.content_sid == $p)) | length > 0 and
	all(.[]; .vars["2"] | test("^[0-9]+\\.[0-9]{2} [A-Z]{3}$"))' "$SIM_RECORD" >/dev/null || fail "payment amount variable not rendered as '<amount> <currency>'"
[ "$(outbox_count rejected)" -eq 0 ] || fail "$(outbox_count rejected) events rejected"
stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
pass "1000 events -> 1000 correct requests, none twice"
