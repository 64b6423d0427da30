#!/bin/bash
# The notify protocol against a fake service manager (notify_recv.py on a
# temp socket as NOTIFY_SOCKET): READY=1 without waiting for the broker,
# STATUS lines that follow the state (broker, uplink, queued), RELOADING=1
# then READY=1 around SIGHUP, WATCHDOG=1 at half of WATCHDOG_USEC, no pings
# while the loop does not run (SIGSTOP), STOPPING=1 at SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup notify
command -v python3 >/dev/null || fail "python3 is needed for the fake notify socket"
start_broker
start_sim
write_config
NLOG="$E2E_DIR/notify.log"
e2e_spawn "$E2E_DIR/notify_recv.log" python3 "$E2E_ROOT/tests/e2e/notify_recv.py" \
	"$E2E_DIR/notify.sock" "$NLOG"
wait_for "[ -S '$E2E_DIR/notify.sock' ]" 10 || fail "the fake notify socket did not come up"

# Nothing is ready before the daemon is: start it with the broker away.
stop_broker
rm -f "$OUTPOST_SOCK"
NOTIFY_SOCKET="$E2E_DIR/notify.sock" WATCHDOG_USEC=1000000 ${E2E_GDB:-} \
	"$BUILD/outpostd" -c "$OUTPOST_CONF" >>"$E2E_DIR/outpostd.log" 2>&1 &
OUTPOSTD_PID=$!
E2E_PIDS+=("$OUTPOSTD_PID")
wait_for "grep -q 'READY=1' '$NLOG'" 10 || fail "no READY=1 with the broker down: $(cat "$NLOG")"
ctl status >/dev/null || fail "READY=1 came before the control socket answered"
[ "$(id -u)" != 0 ] || grep -q 'warn: running as root: set "user"' "$E2E_DIR/outpostd.log" ||
	fail "no warning about running as root without \"user\""
grep -m1 'READY=1' "$NLOG" | grep -q 'STATUS=running; broker down; uplink unknown; 0 queued' ||
	fail "READY=1 without the first status line: $(grep -m1 READY "$NLOG")"

# STATUS follows the state: the broker back, events sent, the uplink lost.
e2e_spawn "$E2E_DIR/mosquitto.log" mosquitto -c "$E2E_DIR/mosquitto.conf"
export BROKER_PID=$E2E_LAST_PID
wait_for "grep -q 'STATUS=running; broker up' '$NLOG'" 15 || fail "no STATUS with the broker up"
publish -n 5 --kind payment --id-prefix ntf
wait_sent 5 20 || fail "only $(outbox_count sent) of 5 sent"
wait_for "grep -q 'broker up; uplink up; 0 queued' '$NLOG'" 10 || fail "no STATUS with the uplink up"
stop_sim
publish -n 3 --kind payment --id-prefix ntf-down
wait_for "grep -q 'uplink down; 3 queued; last error:' '$NLOG'" 20 ||
	fail "no STATUS with the uplink down and 3 queued: $(tail -3 "$NLOG")"
start_sim
wait_for "grep 'STATUS=' '$NLOG' | tail -n 1 | grep -q 'uplink up; 0 queued'" 30 ||
	fail "STATUS did not come back to 0 queued: $(tail -3 "$NLOG")"
changes=$(grep -c 'STATUS=' "$NLOG")
dups=$(grep -o 'STATUS=.*' "$NLOG" | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "the same STATUS was sent twice in a row"

# SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1.
kill -HUP "$OUTPOSTD_PID"
wait_for "grep -A1 'RELOADING=1' '$NLOG' | grep -q 'READY=1'" 10 ||
	fail "no RELOADING=1 then READY=1 on SIGHUP: $(tail -4 "$NLOG")"
grep 'RELOADING=1' "$NLOG" | grep -Eq 'MONOTONIC_USEC=[0-9]+' || fail "RELOADING=1 without MONOTONIC_USEC"

# Watchdog: WATCHDOG_USEC=1 s asks for a ping every 0.5 s.
pings() { grep 'WATCHDOG=1' "$NLOG" | awk '{print $1}'; }
sleep 3
n=$(pings | awk -v now="$(tail -n 1 "$NLOG" | awk '{print $1}')" '$1 > now - 3' | wc -l)
# Never faster than asked (a timer does not fire early); a busy machine
# may make a few late.
[ "$n" -ge 3 ] && [ "$n" -le 7 ] || fail "$n pings in 3 s, expected about 6"

# A loop that does not run sends no pings: stop it for 2.5 s.
before=$(pings | wc -l)
kill -STOP "$OUTPOSTD_PID"
sleep 2.5
during=$(pings | wc -l)
kill -CONT "$OUTPOSTD_PID"
[ "$during" -le $((before + 1)) ] || fail "$((during - before)) pings while the daemon was stopped"
wait_for "[ \$(pings | wc -l) -ge $((during + 2)) ]" 5 || fail "pings did not resume after SIGCONT"
gap=$(pings | awk 'NR > 1 && $1 - prev > max { max = $1 - prev } { prev = $1 } END { printf "%.1f", max }')
awk -v g="$gap" 'BEGIN { exit !(g >= 2.0) }' || fail "the longest gap between pings is $gap s, expected >= 2 s"

stop_outpostd TERM || fail "outpostd exited $? on SIGTERM"
grep -q 'STOPPING=1 | STATUS=stopping: Terminated' "$NLOG" || fail "no STOPPING=1 at SIGTERM: $(tail -3 "$NLOG")"
pass "READY=1 with the broker down, $changes STATUS changes, RELOADING/READY on SIGHUP, pings every 0.5 s with a $gap s gap while stopped, STOPPING=1"
