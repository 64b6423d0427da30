# tests/e2e/outpost.sh - outpostd in end-to-end tests (bash, sourced after lib.sh).
#
#   write_config ['.sender.max_inflight = 4' ...]   # jq edits on the base config
#   start_outpostd                                 # -> OUTPOSTD_PID, waits for the control socket
#   publish -n 1000 --kind mixed                   # outpost-pub against the broker
#   wait_sent 1000 60                              # outbox "sent" count reaches 1000
#   check_unique_refs 1000                         # the sim got each event exactly once

# Templates as the sim and the config know them. Every template carries the
# event id as its last variable ("Ref: evt-12"), so a test can tell exactly
# which event each request at the sim came from.
T_PAY=HX0000000000000000000000000000a001
T_TICKET=HX0000000000000000000000000000a002
T_ALERT=HX0000000000000000000000000000a003
SIM_TEMPLATES=("$T_PAY:3" "$T_TICKET:3" "$T_ALERT:4")

# write_secrets: a 0600 secrets file for the vault to import at the next
# start or reload (it is removed then). A test that points the daemon at a
# fresh store writes it again: the vault lives in the store.
write_secrets() {
	umask 077
	cat >"$E2E_DIR/secrets.json" <<EOS
{"twilio-main": {"account_sid": "$SIM_ACCOUNT", "auth_token": "$SIM_TOKEN"},
 "twilio-wrong": {"account_sid": "$SIM_ACCOUNT", "auth_token": "not-the-token"}}
EOS
	umask 022
}

# write_config [JQ-EDIT...]: $E2E_DIR/outpost.json and a 0600 secrets file.
write_config() {
	local edit
	write_secrets
	cat >"$E2E_DIR/outpost.base.json" <<EOC
{
  "gateway_id": "e2e",
  "mqtt": {"host": "127.0.0.1", "port": $BROKER_PORT, "client_id": "outpostd-e2e"},
  "store": {"path": "$E2E_DIR/store", "max_size_mb": 256},
  "control": {"socket": "$E2E_DIR/outpostd.sock"},
  "secrets_file": "$E2E_DIR/secrets.json",
  "vault": {"key_file": "$E2E_DIR/device.key"},
  "sender": {"max_inflight": 16, "backoff_base_ms": 200, "backoff_cap_ms": 2000,
             "connect_timeout_ms": 2000, "request_timeout_ms": 5000, "max_attempts": 50},
  "accounts": {
    "main": {"provider": "twilio", "from": "whatsapp:+14155550100", "credentials": "twilio-main",
             "api_base": "$SIM_URL", "ca_file": "$SIM_CA", "rate_per_s": 5000}
  },
  "templates": {
    "payment_received": {"twilio_content_sid": "$T_PAY", "variables": 3, "status": "approved",
                         "preview": "Hi {{1}}, we received your payment of {{2}}. Ref {{3}}"},
    "ticket_ready": {"twilio_content_sid": "$T_TICKET", "variables": 3, "status": "approved",
                     "preview": "Ticket {{1}} is ready at counter {{2}}. Ref {{3}}"},
    "alert_raised": {"twilio_content_sid": "$T_ALERT", "variables": 4, "status": "approved",
                     "preview": "Alarm panel {{1}} zone {{2}}: {{3}}. Ref {{4}}"}
  },
  "routes": [
    {"name": "payments", "topic": "site/+/payments/#", "template": "payment_received",
     "to": "{customer.phone}", "account": "main", "ttl": "72h",
     "vars": {"1": "{customer.name}", "2": "{amount} {currency}", "3": "{id}"}},
    {"name": "tickets", "topic": "site/+/tickets/#", "template": "ticket_ready",
     "to": "{phone}", "account": "main",
     "vars": {"1": "{ticket}", "2": "{counter}", "3": "{id}"}},
    {"name": "alerts", "topic": "site/+/alerts/#", "template": "alert_raised",
     "to": "{notify}", "account": "main",
     "vars": {"1": "{panel}", "2": "{zone}", "3": "{level}", "4": "{id}"}}
  ]
}
EOC
	cp "$E2E_DIR/outpost.base.json" "$E2E_DIR/outpost.json"
	# Under valgrind the daemon runs ~30x slower: a TLS handshake alone can
	# pass the normal timeouts, and a timed-out request is (rightly) resent
	# as ambiguous, which the exactly-once checks would count as duplicates.
	if [ "${E2E_VALGRIND:-0}" = 1 ]; then
		set -- '.sender.connect_timeout_ms = 60000 | .sender.request_timeout_ms = 120000' "$@"
	fi
	for edit in "$@"; do
		jq "$edit" "$E2E_DIR/outpost.json" >"$E2E_DIR/outpost.tmp" &&
			mv "$E2E_DIR/outpost.tmp" "$E2E_DIR/outpost.json" || fail "bad config edit: $edit"
	done
	OUTPOST_CONF="$E2E_DIR/outpost.json"
	OUTPOST_SOCK="$E2E_DIR/outpostd.sock"
}

# start_outpostd: runs the daemon (under valgrind if E2E_VALGRIND=1) and
# waits until its control socket answers and the broker link is up.
# OUTPOSTD_BIN: another outpostd than $BUILD's (the bench's STATIC_BUILD).
start_outpostd() {
	local cmd=("${OUTPOSTD_BIN:-$BUILD/outpostd}" -c "$OUTPOST_CONF")
	if [ "${E2E_VALGRIND:-0}" = 1 ]; then
		cmd=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
			--log-file="$E2E_DIR/valgrind.%p.log" "${cmd[@]}")
	fi
	rm -f "$OUTPOST_SOCK"
	echo "--- start $(date +%T.%N)" >>"$E2E_DIR/outpostd.log"
	"${cmd[@]}" >>"$E2E_DIR/outpostd.log" 2>&1 &
	OUTPOSTD_PID=$!
	E2E_PIDS+=("$OUTPOSTD_PID")
	wait_for "[ \"\$(ctl status 2>/dev/null | jq -r .mqtt.connected)\" = true ]" 30 ||
		fail "outpostd did not come up: $(tail -5 "$E2E_DIR/outpostd.log")"
}

# stop_outpostd [SIGNAL]: SIGTERM by default; returns the daemon's exit status.
stop_outpostd() {
	local sig=${1:-TERM} rc
	kill -"$sig" "$OUTPOSTD_PID" 2>/dev/null
	wait "$OUTPOSTD_PID"
	rc=$?
	e2e_forget "$OUTPOSTD_PID"
	return $rc
}

ctl() {
	"$BUILD/outpostctl" -s "$OUTPOST_SOCK" --json "$@"
}

# status_num KEY: the first number named KEY in the status answer. The
# outbox counts come before the accounts and counters, so a state name finds
# the outbox count. grep, not jq: jq costs tens of ms of CPU per start, which
# a 100 ms poll would take from the daemon under test.
status_num() {
	local n
	n=$(ctl status 2>/dev/null | grep -o "\"$1\":[0-9]*" | head -n 1)
	echo "${n#*:}"
}

# tpl NAME FIELD: a field of config template NAME as `templates list` has it
# ("status", "type", "source", ...).
tpl() { ctl templates list | jq -r --arg n "$1" --arg f "$2" '.templates[] | select(.name == $n) | .[$f]'; }

# outbox_count STATE: the daemon's counter for one outbox state.
outbox_count() {
	local n
	n=$(status_num "$1")
	echo "${n:-0}"
}

# publish ARGS...: outpost-pub against the test broker; acks logged to $E2E_DIR/pub.log.
publish() {
	"$BUILD/outpost-pub" -h 127.0.0.1 -p "$BROKER_PORT" --quiet "$@" ||
		fail "outpost-pub failed"
}

# wait_sent N TIMEOUT: the outbox has N records in state sent.
wait_sent() {
	wait_for "[ \"\$(outbox_count sent)\" -ge $1 ]" "$2"
}

# sim_refs: the event id ("Ref" = last variable) of every request the sim accepted.
sim_refs() {
	jq -r '.vars | to_entries | max_by(.key | tonumber) | .value' "$SIM_RECORD"
}

# check_unique_refs N: the sim holds exactly N distinct events, each once.
check_unique_refs() {
	local total uniq
	total=$(sim_count)
	uniq=$(sim_refs | sort -u | wc -l)
	[ "$uniq" -eq "$1" ] || fail "sim has $uniq distinct events, expected $1"
	[ "$total" -eq "$1" ] || fail "sim has $total requests for $uniq events: $((total - uniq)) duplicates"
}

# ambiguous_total: records marked ambiguous in the whole outbox (the flag is
# stored, so it survives the kills that reset the daemon's counters).
ambiguous_total() {
	local before=0 n=0 page
	while :; do
		page=$(ctl outbox --limit 1000 --before "$before") || return 1
		n=$((n + $(jq '[.messages[] | select(.ambiguous)] | length' <<<"$page")))
		before=$(jq .next_before <<<"$page")
		[ "$before" -gt 0 ] || break
	done
	echo "$n"
}

# mpub TOPIC PAYLOAD: one event at QoS 1 with mosquitto_pub.
mpub() {
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$1" -m "$2" ||
		fail "mosquitto_pub to $1 failed"
}

# consent_num KEY: a counter of the status's consent section.
# record_of EVENT_ID: the outbox record made from that event (the newest 200).
# state_of EVENT_ID, wait_state EVENT_ID STATE (15 s): its state.
consent_num() { ctl status | jq -r ".consent.$1"; }
record_of() { # EVENT_ID -> the outbox record made from it
	ctl outbox --limit 200 | jq -c --arg e "$1" '.messages[] | select(.event_id == $e)'
}
state_of() { record_of "$1" | jq -r .state; }
wait_state() { # EVENT_ID STATE
	wait_for "[ \"\$(state_of $1)\" = $2 ]" 15 ||
		fail "event $1 is $(state_of "$1"), not $2: $(record_of "$1")"
}
