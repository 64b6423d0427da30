#!/bin/bash
# SIGTERM with a backlog, then a restart -> everything delivered, nothing twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup restart
start_broker
start_sim --latency-ms 100
write_config '.sender.max_inflight = 4'
start_outpostd
[ "$(status_num sessions_new)" = 1 ] || fail "a fresh broker's missing session was not counted"

publish -n 600 --kind mixed --id-prefix rst
wait_for '[ "$(outbox_count sent)" -ge 50 ]' 30 || fail "nothing sent"
backlog=$(( 600 - $(outbox_count sent) ))
[ "$backlog" -gt 100 ] || fail "no real backlog at SIGTERM ($backlog)"
stop_outpostd TERM || fail "outpostd exited $? on SIGTERM"
grep -q "stopped (exit 0)" "$E2E_DIR/outpostd.log" || fail "no clean stop logged"

start_outpostd
wait_sent 600 60 || fail "only $(outbox_count sent) of 600 sent after restart"
check_unique_refs 600
[ "$(status_num sessions_new)" = 0 ] || fail "the restart did not find its session at the broker"
[ "$(ctl status | jq .counters.ambiguous)" -eq 0 ] || fail "a clean stop left ambiguous sends"
pass "SIGTERM with $backlog queued, restart: 600 delivered once each"
