#!/bin/bash
# Failover and failback: Twilio account "main" falls back on "backup", a Meta
# Cloud API account (each its own twilio-sim; the template maps its ContentSid
# to a Meta name and language; every template routed to main needs one, or
# the config is refused). main's provider is unreachable at first: after 3 failures in a
# row its circuit opens and its messages go to backup; once main's sim is up
# a trial attempt finds it, the circuit closes and new messages go to main
# again. Every event reaches one of the two sims exactly once.
# Connects time out after 10 s, not 2: unreachable is refused at once, and
# under ASan+UBSan, beside another test on a busy machine, 16 TLS handshakes
# at once to the sim that came back passed 2 s and opened its circuit again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup failover
start_broker
META_TOKEN=e2e-meta-token-not-a-secret PHONE_ID=106540352242922
start_sim --meta-token "$META_TOKEN" --meta-phone-id "$PHONE_ID" \
	--meta-template payment_received:en:3   # backup's provider
BACKUP_RECORD=$SIM_RECORD BACKUP_URL=$SIM_URL
MAIN_PORT=$(free_port)         # main's provider: nothing listens yet
MAIN_RECORD="$E2E_DIR/main-sim.jsonl"
write_config \
	".accounts.main.api_base = \"https://localhost:$MAIN_PORT\"" \
	'.accounts.main.fallback = "backup" | .accounts.main.breaker = {"failures": 3, "open_s": 1}' \
	'.sender.connect_timeout_ms = 10000' \
	".accounts.backup = {\"provider\": \"meta\", \"from\": \"+15550783881\", \"credentials\": \"meta-main\",
		\"phone_number_id\": \"$PHONE_ID\", \"api_base\": \"$BACKUP_URL\", \"ca_file\": \"$SIM_CA\",
		\"rate_per_s\": 5000}" \
	'.templates[] |= (.meta = {"name": "not_sent_here", "language": "en"})' \
	'.templates.payment_received.meta = {"name": "payment_received", "language": "en"}'
umask 077
jq --arg t "$META_TOKEN" '. + {"meta-main": {"access_token": $t}}' "$E2E_DIR/secrets.json" \
	>"$E2E_DIR/secrets.tmp" && mv "$E2E_DIR/secrets.tmp" "$E2E_DIR/secrets.json" ||
	fail "cannot write the secrets"
umask 022
start_outpostd

acct() { ctl status | jq -c ".accounts[] | select(.name == \"$1\") | $2"; }

publish -n 30 -r 100 --kind payment --id-prefix out --log "$E2E_DIR/pub.log"
wait_sent 30 30 || fail "only $(outbox_count sent) of 30 sent while main was down"
[ "$(sim_count)" -eq 30 ] || fail "backup has $(sim_count) of 30 messages"
[ "$(jq -r .provider "$BACKUP_RECORD" | sort -u)" = meta ] ||
	fail "backup's sim got other than Meta requests: $(jq -r .provider "$BACKUP_RECORD" | sort | uniq -c)"
[ "$(acct main .circuit.trips)" -ge 1 ] || fail "main's circuit never opened: $(acct main .circuit)"
[ "$(acct main .circuit.failovers)" -ge 30 ] || fail "failovers: $(acct main .circuit)"
[ "$(acct main .sent)" -eq 0 ] || fail "main sent $(acct main .sent) while unreachable"
[ "$(acct backup .sent)" -eq 30 ] || fail "backup sent $(acct backup .sent), expected 30"
# The records say which account each went out through.
[ "$(ctl outbox --state sent --limit 100 | jq '[.messages[] | select(.account == "backup")] | length')" -eq 30 ] ||
	fail "sent records do not all name backup: $(ctl outbox --state sent --limit 100 | jq -c "[.messages[].account] | group_by(.) | map({(.[0]): length}) | add")"
grep -q "circuit open" "$E2E_DIR/outpostd.log" || fail "the circuit opening was not logged"

# main's provider comes up: a trial finds it and messages fail back.
e2e_spawn "$E2E_DIR/main-sim.log" "$BUILD/twilio-sim" --port "$MAIN_PORT" \
	--cert "$E2E_ROOT/build/test-certs/server.pem" --key "$E2E_ROOT/build/test-certs/server.key" \
	--account "$SIM_ACCOUNT" --token "$SIM_TOKEN" --record "$MAIN_RECORD" \
	$(for t in "${SIM_TEMPLATES[@]}"; do echo --template "$t"; done)
MAIN_PID=$E2E_LAST_PID
wait_for "port_open $MAIN_PORT" 10 || fail "main's sim did not start"
# Until a trial goes out nothing tells the daemon: a trickle of events
# carries the trial (the open time doubles with each failed one, so it
# is due within a few seconds).
for i in $(seq 1 40); do
	publish -n 1 --kind payment --id-prefix trickle$i --log "$E2E_DIR/pub.log"
	[ "$(acct main .circuit.state)" = '"closed"' ] && [ "$(acct main .circuit.failbacks)" -ge 1 ] && break
	sleep 0.5
done
[ "$(acct main .circuit.failbacks)" -ge 1 ] || fail "main never failed back: $(acct main .circuit)"
trickled=$i
grep -q "answers again; circuit closed, messages fail back" "$E2E_DIR/outpostd.log" ||
	fail "the failback was not logged"

before_main=$(wc -l <"$MAIN_RECORD")
publish -n 30 -r 100 --kind payment --id-prefix back --log "$E2E_DIR/pub.log"
total=$((60 + trickled))
wait_sent "$total" 30 || fail "only $(outbox_count sent) of $total sent after failback"
after_main=$(wc -l <"$MAIN_RECORD")
[ $((after_main - before_main)) -eq 30 ] ||
	fail "main took $((after_main - before_main)) of the 30 events after failback"

# Exactly once over both providers.
cat "$BACKUP_RECORD" "$MAIN_RECORD" >"$E2E_DIR/both.jsonl"
SIM_RECORD="$E2E_DIR/both.jsonl" check_unique_refs "$total"
[ "$(ctl status | jq .counters.failovers)" -ge 30 ] || fail "counter failovers: $(ctl status | jq .counters)"
e2e_stop "$MAIN_PID" || fail "main's sim exit status $?"
stop_outpostd || fail "outpostd exit status $?"
pass "30 events failed over from twilio to meta while main was down, main failed back after $trickled trickled events, 30 more went to main; $total delivered once each"
