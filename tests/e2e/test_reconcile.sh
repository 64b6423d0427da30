#!/bin/bash
# Ambiguous attempts are reconciled before a resend: the sim answers 20% of
# creates with a 500 (not made) and drops the connection after reading 20%
# (made, never answered). Each is ambiguous to outpostd; asking the sim's
# list finds the dropped ones, so they are not sent again, and the 500s are
# not found, so they are. The sim must end with every event exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup reconcile
start_broker
start_sim --fail-rate 0.2 --drop-after-read 0.2 --seed 11
write_config
start_outpostd

publish -n 400 -r 200 --kind mixed --id-prefix rec --log "$E2E_DIR/pub.log"
wait_sent 400 90 || fail "only $(outbox_count sent) of 400 sent"
reconciled=$(status_num reconciled)
resent=$(status_num resent)
ambiguous=$(status_num ambiguous)
check_unique_refs 400
[ "$reconciled" -gt 0 ] || fail "nothing reconciled: the dropped answers did not bite"
[ "$resent" -gt 0 ] || fail "nothing resent: the 500s did not bite"
[ $((reconciled + resent)) -ge "$ambiguous" ] ||
	fail "$ambiguous ambiguous attempts but only $reconciled reconciled + $resent resent"

# A reconciled record carries the message the sim made for it.
page=$(ctl outbox --state sent --limit 1000)
sid=$(jq -r '[.messages[] | select(.ambiguous and (.error.text | startswith("found at")))][0].provider_id' <<<"$page")
[ -n "$sid" ] && [ "$sid" != null ] || fail "no sent record says it was found at the provider"
grep -q "\"sid\":\"$sid\".*\"dropped\":true" "$SIM_RECORD" ||
	fail "record names $sid, which is not a dropped create at the sim"

stop_outpostd || fail "outpostd exit status $?"
out=$("$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub.log" --sim-record "$SIM_RECORD" \
	--store "$E2E_DIR/store" --json 2>"$E2E_DIR/check.txt") || fail "checker: $(cat "$E2E_DIR/check.txt")"
jq -e '.duplicated == 0 and .reconciled > 0 and .resent > 0' <<<"$out" >/dev/null ||
	fail "checker figures: $out"
pass "$ambiguous ambiguous: $reconciled found at the sim, $resent sent again; 400 delivered once each"
