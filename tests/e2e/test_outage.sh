#!/bin/bash
# The sim refuses connections for 10 s mid-run -> everything is delivered
# afterwards, nothing twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup outage
start_broker
start_sim --down-from 3 --down-for 10
write_config
start_outpostd

# 1,000 events at 100/s: the outage falls in the middle of the stream.
publish -n 1000 -r 100 --kind mixed --id-prefix out
retries=$(ctl status | jq .counters.retries)
wait_sent 1000 60 || fail "only $(outbox_count sent) of 1000 sent after the outage"
check_unique_refs 1000
retries=$(ctl status | jq .counters.retries)
[ "$retries" -gt 0 ] || fail "no retries counted: the outage did not bite"
pass "10 s outage: 1000 delivered once each after $retries retries"
