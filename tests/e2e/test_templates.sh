#!/bin/bash
# Template approvals synced from the Content API (twilio-sim) decide what is
# sent. A is approved and B pending at start: A's events go out, B's are
# held with the reason. B's approval arrives mid-run: its held messages go
# out exactly once. A is paused mid-run: new A events are held on a route
# with "unapproved": "hold" and failed on one with "fail". Every event is
# accounted for at the sim or in the outbox, and the sim never got a create
# for a template that was not approved at the time. A media template's URL
# variable must be an https URL. The synced statuses survive a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup templates

T_A=HX0000000000000000000000000000c0a1
T_B=HX0000000000000000000000000000c0b2
T_M=HX0000000000000000000000000000c0d4
SIM_TEMPLATES=("$T_A:2:approved:order_ready:twilio/quick-reply" "$T_B:2:pending:delivery_slot" "$T_M:2:approved:promo_pic:twilio/media")
start_broker
start_sim
write_config \
	".templates = {\"tpl_a\": {\"twilio_content_sid\": \"$T_A\", \"variables\": 2, \"status\": \"approved\"},
	               \"tpl_b\": {\"twilio_content_sid\": \"$T_B\", \"variables\": 2, \"status\": \"approved\"},
	               \"tpl_m\": {\"twilio_content_sid\": \"$T_M\", \"variables\": 2, \"status\": \"approved\", \"media_var\": 1}}" \
	'.routes = [
	  {"name": "ra", "topic": "site/+/a/#", "template": "tpl_a", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "ra_fail", "topic": "site/+/af/#", "template": "tpl_a", "to": "{phone}", "unapproved": "fail",
	   "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "rb", "topic": "site/+/b/#", "template": "tpl_b", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "rm", "topic": "site/+/m/#", "template": "tpl_m", "to": "{phone}", "vars": {"1": "{url}", "2": "{id}"}}]'
start_outpostd

# tpl_b says "approved" in the config: the sync must overrule it.
wait_for '[ "$(tpl tpl_b status)" = pending ] && [ "$(tpl tpl_a status)" = approved ]' 10 ||
	fail "the first sync did not bring the statuses: $(ctl templates list)"
[ "$(tpl tpl_a type)" = twilio/quick-reply ] || fail "tpl_a's content type: $(tpl tpl_a type)"
[ "$(tpl tpl_b source)" = provider ] || fail "tpl_b's status does not come from the provider"

ev() { mpub "site/1/$1/x" "{\"id\": \"$2\", \"phone\": \"+4917012345$3\", \"name\": \"N$3\"}"; }
for i in 1 2 3; do ev a "a-$i" "0$i"; ev b "b-$i" "1$i"; done
# A media template's URL variable must be https.
mpub site/1/m/x '{"id": "m-1", "phone": "+491701234530", "url": "https://cdn.example/p.jpg"}'
mpub site/1/m/x '{"id": "m-2", "phone": "+491701234531", "url": "http://cdn.example/p.jpg"}'
wait_sent 4 10 || fail "A's and the media events were not sent: $(outbox_count sent) sent"
ctl outbox --state rejected | jq -e '[.messages[] | select(.event_id == "m-2" and
	(.error.text | test("variable \\{\\{1\\}\\} \\(\\{url\\}\\): is not an https:// URL")))] | length == 1' >/dev/null ||
	fail "the http media URL was not rejected with the reason: $(ctl outbox --state rejected)"
held_b() { ctl outbox --state queued --limit 100 | jq '[.messages[] | select(.held and (.error.text // "" | test("tpl_b is pending at the provider")))] | length'; }
wait_for '[ "$(held_b)" -eq 3 ]' 10 || fail "B's messages are not held with the reason: $(ctl outbox --state queued)"
sleep 0.5
[ "$(sim_count)" -eq 4 ] || fail "the sim has $(sim_count) messages, expected A's 3 and one media"

# B approved at the provider; a sync on demand brings it; held ones go once.
sim_curl -X POST -d "{\"sid\": \"$T_B\", \"status\": \"approved\"}" "$SIM_URL/sim/templates" >/dev/null
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" templates sync >"$E2E_DIR/sync.txt" 2>&1 ||
	fail "templates sync: $(cat "$E2E_DIR/sync.txt")"
wait_sent 7 10 || fail "B's held messages were not sent after the approval: $(outbox_count sent) sent"

# A paused: new A events are held (route ra) or failed (route ra_fail).
sim_curl -X POST -d "{\"sid\": \"$T_A\", \"status\": \"paused\", \"reason\": \"low quality\"}" \
	"$SIM_URL/sim/templates" >/dev/null
ctl templates sync >/dev/null || fail "templates sync"
wait_for '[ "$(tpl tpl_a status)" = paused ]' 10 || fail "tpl_a is not seen paused"
for i in 4 5; do ev a "a-$i" "0$i"; ev af "af-$i" "2$i"; ev b "b-$i" "1$i"; done
wait_sent 9 10 || fail "B's new events were not sent: $(outbox_count sent) sent"
wait_for '[ "$(outbox_count rejected)" -ge 3 ]' 10 || fail "route ra_fail's events were not rejected"
failed=$(ctl outbox --limit 100 | jq -r '[.messages[] | select(.route == "ra_fail")] | map(.state + ": " + .error.text) | .[]')
grep -c "tpl_a is paused at the provider: low quality" <<<"$failed" | grep -qx 2 ||
	fail "ra_fail's messages do not say why: $failed"
wait_for '[ "$(ctl outbox --state queued --limit 100 | jq "[.messages[] | select(.route == \"ra\")] | length")" -eq 2 ]' 5 ||
	fail "route ra's new events are not held"

# What the tool shows.
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" templates list >"$E2E_DIR/list.txt" || fail "templates list"
grep -q "tpl_a.*paused.*low quality" "$E2E_DIR/list.txt" || fail "templates list: $(cat "$E2E_DIR/list.txt")"
grep -q "tpl_b.*approved" "$E2E_DIR/list.txt" || fail "templates list: $(cat "$E2E_DIR/list.txt")"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status >"$E2E_DIR/status.txt" || fail "status"
grep -q "^templates: main: sync ok, last ok" "$E2E_DIR/status.txt" ||
	fail "status does not show the last sync: $(cat "$E2E_DIR/status.txt")"
ctl status | jq -e '.templates.accounts[0].sync == "ok" and .templates.changes >= 2' >/dev/null ||
	fail "status does not show the sync: $(ctl status | jq -c .templates)"

# A reload keeps what the syncs learnt (and syncs again).
rounds=$(ctl templates list | jq .accounts[0].rounds)
kill -HUP "$OUTPOSTD_PID"
wait_for 'grep -q "reload: 4 routes" "$E2E_DIR/outpostd.log"' 5 || fail "no reload"
wait_for '[ "$(ctl templates list | jq .accounts[0].rounds)" -gt "$rounds" ]' 5 ||
	fail "no sync after the reload"
[ "$(tpl tpl_a status)" = paused ] || fail "tpl_a after a reload: $(ctl templates list | jq -c .templates)"

# Nothing lost: 14 events = 9 at the sim + 2 held + 3 rejected at ingest
# (route ra_fail), each once; nothing unapproved reached the sim.
check_unique_refs 9
n=$(ctl outbox --limit 100 | jq '.messages | length')
[ "$n" -eq 14 ] || fail "the outbox has $n records for 14 events"
sim_curl "$SIM_URL/sim/templates" | head -n 1 | jq -e 'all(.templates[]; .creates_unapproved == 0)' >/dev/null ||
	fail "the sim accepted a create of an unapproved template: $(sim_curl "$SIM_URL/sim/templates" | head -n 1)"
stop_outpostd || fail "outpostd exit status $?"

# What a sync learnt is kept: restarted with the provider out of reach,
# tpl_a is still paused (not the config's "approved") and its held
# messages stay held.
stop_sim
start_outpostd
wait_for '[ "$(ctl templates list | jq -r .accounts[0].sync)" = failed ]' 10 ||
	fail "the sync did not fail with the sim gone: $(ctl templates list | jq -c .accounts)"
[ "$(tpl tpl_a status)" = paused ] && [ "$(tpl tpl_a source)" = provider ] ||
	fail "tpl_a after a restart: $(ctl templates list | jq -c .templates)"
sleep 0.5
[ "$(outbox_count queued)" -eq 2 ] && [ "$(outbox_count sent)" -eq 9 ] ||
	fail "after a restart: $(outbox_count queued) queued, $(outbox_count sent) sent"
stop_outpostd || fail "outpostd exit status $?"
pass "approved sent, pending held then sent once, paused held or failed with the reason"
