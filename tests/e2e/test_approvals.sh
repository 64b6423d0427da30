#!/bin/bash
# Template approvals as GET /v1/ContentAndApprovals really answers them: the
# fields directly under each item's approval_requests, no "whatsapp" level
# (twilio-oai twilio_content_v1.json, readResults). The config calls all
# three templates approved; the provider has one approved, one rejected
# with Meta's reason, one never submitted. The approved one is sent, the
# rejected one is held with its reason (outbox and `templates list`), and
# the one the provider lists without an approval is held with a warning in
# the log that names it and what the reply held.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup approvals

T_OK=HX5fcd48a417c1cb59da349ad6d5da4607  # the spec's "Media Test", approved
T_REJ=HX15c711fcc6d9ea5268d7ab77938a20ff # the spec's "Video Highlights", rejected
T_UN=HX0000000000000000000000000000e0a3
REASON="INVALID_FORMAT. component of type HEADER is missing expected field(s) (example)"
SIM_TEMPLATES=("$T_OK:2:approved:media_test:twilio/media" "$T_REJ:2:rejected:video_highlights:twilio/media"
	"$T_UN:2:unsubmitted:never_sent")
start_broker
start_sim
sim_curl -X POST -d "{\"sid\": \"$T_REJ\", \"status\": \"rejected\", \"reason\": \"$REASON\"}" \
	"$SIM_URL/sim/templates" >/dev/null || fail "setting the rejection reason"

# The sim answers in the published shape, else this test proves nothing.
sim_curl "$SIM_URL/v1/ContentAndApprovals" | head -n 1 | jq -e --arg s "$T_OK" '.contents[] |
	select(.sid == $s) | .approval_requests | .status == "approved" and (has("whatsapp") | not)' \
	>/dev/null || fail "the sim's ContentAndApprovals is not flat: $(sim_curl "$SIM_URL/v1/ContentAndApprovals")"

write_config \
	".templates = {\"tpl_ok\": {\"twilio_content_sid\": \"$T_OK\", \"variables\": 2, \"status\": \"approved\"},
	               \"tpl_rej\": {\"twilio_content_sid\": \"$T_REJ\", \"variables\": 2, \"status\": \"approved\"},
	               \"tpl_un\": {\"twilio_content_sid\": \"$T_UN\", \"variables\": 2, \"status\": \"approved\"}}" \
	'.routes = [
	  {"name": "rok", "topic": "site/+/ok/#", "template": "tpl_ok", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "rrej", "topic": "site/+/rej/#", "template": "tpl_rej", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}},
	  {"name": "run", "topic": "site/+/un/#", "template": "tpl_un", "to": "{phone}", "vars": {"1": "{name}", "2": "{id}"}}]'
start_outpostd

wait_for '[ "$(tpl tpl_ok status)" = approved ] && [ "$(tpl tpl_rej status)" = rejected ]' 10 ||
	fail "the first sync did not bring the statuses: $(ctl templates list)"
[ "$(tpl tpl_un status)" = unsubmitted ] || fail "tpl_un: $(ctl templates list | jq -c .templates)"
[ "$(tpl tpl_ok type)" = twilio/media ] || fail "tpl_ok's content type: $(tpl tpl_ok type)"

ev() { mpub "site/1/$1/x" "{\"id\": \"$2\", \"phone\": \"+4917012345$3\", \"name\": \"N$3\"}"; }
ev ok ok-1 01
ev ok ok-2 02
ev rej rej-1 11
ev un un-1 21
wait_sent 2 10 || fail "the approved template's events were not sent: $(outbox_count sent) sent"
held() { # EVENT TEXT
	ctl outbox --state queued --limit 100 | jq --arg e "$1" --arg t "$2" \
		'[.messages[] | select(.event_id == $e and .held and (.error.text // "" | contains($t)))] | length'
}
wait_for "[ \"\$(held rej-1 'tpl_rej is rejected at the provider: $REASON')\" -eq 1 ]" 10 ||
	fail "the rejected template's event is not held with the reason: $(ctl outbox --state queued)"
wait_for '[ "$(held un-1 "tpl_un is unsubmitted at the provider")" -eq 1 ]' 10 ||
	fail "the unsubmitted template's event is not held: $(ctl outbox --state queued)"
sleep 0.5
[ "$(sim_count)" -eq 2 ] || fail "the sim has $(sim_count) messages, expected the 2 approved ones"

"$BUILD/outpostctl" -s "$OUTPOST_SOCK" templates list >"$E2E_DIR/list.txt" || fail "templates list"
grep -q "tpl_rej.*rejected.*INVALID_FORMAT" "$E2E_DIR/list.txt" || fail "templates list: $(cat "$E2E_DIR/list.txt")"
grep -q "tpl_ok.*approved" "$E2E_DIR/list.txt" || fail "templates list: $(cat "$E2E_DIR/list.txt")"

# The config said approved, the provider lists no approval: said loudly,
# with the template and what the reply held; the rejected one is no
# mismatch and gets no such line.
grep -q "warn: templates: account main: template tpl_un ($T_UN) is approved in the config, but the provider's reply makes it unsubmitted (approval_requests said \"unsubmitted\")" \
	"$E2E_DIR/outpostd.log" || fail "no warning for tpl_un: $(grep -i templates "$E2E_DIR/outpostd.log")"
! grep -q "template tpl_rej .*makes it unsubmitted" "$E2E_DIR/outpostd.log" || fail "tpl_rej warned as unsubmitted"
! grep -q "template tpl_ok .*makes it unsubmitted" "$E2E_DIR/outpostd.log" || fail "tpl_ok warned as unsubmitted"
stop_outpostd || fail "outpostd exit status $?"
pass "flat approvals read: approved sent, rejected held with its reason, unsubmitted held and warned"
