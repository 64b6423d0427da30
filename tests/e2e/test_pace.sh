#!/bin/bash
# Pace (docs/RETRY.md): each account's in-flight limit follows its rate times
# the provider's smoothed answer time, capped by sender.max_inflight, and
# status says which of the two limits sending.
#  - a provider answering in 200 ms at 80/s: about 80 x 0.2 x 1.25 + 2 = 22
#    in flight, limited by the rate;
#  - the same at 1000/s wants about 250: capped at max_inflight (64),
#    reached by slow start (one more per answer), and status says the cap
#    limits;
#  - a fast provider (no added latency) at the same 80/s gets fewer than the
#    slow one did: its own rate x answer time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup pace
start_broker
start_sim --latency-ms 200
write_config '.sender.max_inflight = 64' '.accounts.main.rate_per_s = 80'
start_outpostd

acct() { ctl status | jq -r ".accounts[] | select(.name == \"main\") | .$1"; }
publish -n 120 --kind mixed --id-prefix slow
wait_sent 120 30 || fail "$(outbox_count sent) of 120 sent"
answer=$(acct answer_ms) limit=$(acct inflight_limit)
[ "$answer" -ge 150 ] && [ "$answer" -le 2000 ] || fail "smoothed answer time $answer ms for a 200 ms provider"
want=$(awk "BEGIN {print int(80 * $answer / 1000 * 1.25 + 2)}")
# Within one of it (answer_ms is rounded), or below it by what slow start
# halved on a failure to connect. A loaded machine (sanitizers, 2 cores)
# answers slower than 200 ms: past 620 ms the cap is what limits.
if [ "$want" -le 64 ]; then
	[ "$limit" -le $((want + 1)) ] && [ "$limit" -ge $((want / 2)) ] ||
		fail "in-flight limit $limit, want about 80/s x $answer ms x 1.25 + 2 = $want"
	[ "$(acct limited_by)" = rate ] || fail "limited by $(acct limited_by), not the rate ($want <= 64)"
else
	[ "$limit" -le 64 ] && [ "$(acct limited_by)" = sender.max_inflight ] ||
		fail "80/s x $answer ms wants $want, over the cap, but: limit $limit, by $(acct limited_by)"
fi

jq '.accounts.main.rate_per_s = 1000' "$OUTPOST_CONF" >"$E2E_DIR/fast.json" && mv "$E2E_DIR/fast.json" "$OUTPOST_CONF"
kill -HUP "$OUTPOSTD_PID"
wait_for '[ "$(acct rate_per_s)" = 1000 ]' 10 || fail "the reload did not take the new rate"
[ "$(acct limited_by)" = sender.max_inflight ] || fail "1000/s x $(acct answer_ms) ms is over 64, but limited by $(acct limited_by)"
# Slow start: the limit grows by one per answer up to the cap.
publish -n 300 --kind mixed --id-prefix capped
wait_sent 420 30 || fail "$(outbox_count sent) of 420 sent"
capped=$(acct inflight_limit)
[ "$capped" -ge "$limit" ] && [ "$capped" -le 64 ] && [ "$(acct limited_by)" = sender.max_inflight ] ||
	fail "1000/s x $(acct answer_ms) ms is over 64, but: limit $capped (slow start from $limit), by $(acct limited_by)"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep -q "account:.*in flight capped at 64 by sender.max_inflight" ||
	fail "status does not say the cap limits: $("$BUILD/outpostctl" -s "$OUTPOST_SOCK" status | grep account)"
stop_outpostd || fail "outpostd exited non-zero"
stop_sim

start_sim
write_config '.sender.max_inflight = 64' '.accounts.main.rate_per_s = 80'
start_outpostd
publish -n 300 --kind mixed --id-prefix fast
wait_sent 720 30 || fail "$(outbox_count sent) of 720 sent (300 to a fast provider)"
fast=$(acct inflight_limit) fast_ms=$(acct answer_ms)
want=$(awk "BEGIN {print int(80 * $fast_ms / 1000 * 1.25 + 2)}")
[ "$fast" -le $((want + 1)) ] && [ "$fast" -lt "$limit" ] ||
	fail "a fast provider ($fast_ms ms) at 80/s got a limit of $fast (want $want, under the slow one's $limit), by $(acct limited_by)"
stop_outpostd || fail "outpostd exited non-zero"
check_unique_refs 720 # the record file is appended to across both sims
pass "200 ms at 80/s: $limit in flight ($answer ms); at 1000/s capped ($capped of 64); fast provider ($fast_ms ms): $fast"
