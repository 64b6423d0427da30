#!/bin/bash
# The control protocol over a serial line (docs/CONTROL.md): outpostd on one
# end of a pty pair (socat), outpostctl --serial on the other. Happy path,
# garbage straight into the daemon's line, the line unplugged and plugged
# back, then a noisy cable (tests/e2e/serial_relay.py) that loses requests
# and replies: commands still succeed by retransmission, the daemon counts
# the damage and answers a repeated request from its replay slots.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup serial
command -v socat >/dev/null || fail "socat is not installed (scripts/setup.sh)"
command -v python3 >/dev/null || fail "python3 is not installed"

DEV=$E2E_DIR/dev   # outpostd's end
HOST=$E2E_DIR/host # the technician's end

# plug A B: a pty pair, A <-> B; sets PLUG_PID.
plug() {
	rm -f "$1" "$2"
	e2e_spawn "$E2E_DIR/socat.$(basename "$1").log" \
		socat -d -d "pty,raw,echo=0,link=$1" "pty,raw,echo=0,link=$2"
	PLUG_PID=$E2E_LAST_PID
	wait_for "[ -e '$1' ] && [ -e '$2' ]" 10 || fail "socat made no ptys $1 $2"
}

sctl() {
	"$BUILD/outpostctl" --serial "$HOST" --timeout 3000 --json "$@"
}

# serial_num KEY: a number of the "serial" object of status (over the socket).
serial_num() {
	ctl status | jq -r ".serial.$1"
}

wait_connected() {
	wait_for "[ \"\$(serial_num connected)\" = $1 ]" 10 ||
		fail "serial.connected did not become $1: $(ctl status | jq -c .serial)"
}

start_broker
start_sim
write_config ".control.serial = {\"device\": \"$DEV\", \"baud\": 115200}"
plug "$DEV" "$HOST"
P1=$PLUG_PID
start_outpostd
wait_connected true

# --- happy path
out=$(sctl status) || fail "status over the serial line failed"
[ "$(jq -r .ok <<<"$out")" = true ] || fail "status not ok: $out"
[ "$(jq -r .gateway_id <<<"$out")" = e2e ] || fail "status of another gateway? $out"
[[ "$(jq -r .id <<<"$out")" =~ ^[0-9a-f]{8}$ ]] || fail "reply without our id: $(jq -c .id <<<"$out")"
[ "$(jq -r .serial.device <<<"$out")" = "$DEV" ] || fail "status names no serial device"
mpub site/1/payments/card '{"id": "ser-1", "customer": {"name": "Ana", "phone": "+491701234567"}, "amount": "5.00", "currency": "EUR"}'
wait_sent 1 20 || fail "the event was not sent"
out=$(sctl outbox --limit 5) || fail "outbox over the serial line failed"
[ "$(jq -r '.messages[0].event_id' <<<"$out")" = ser-1 ] || fail "outbox lacks ser-1: $out"
[[ "$(jq -r '.messages[0].to' <<<"$out")" =~ ^\+491\*+567$ ]] || fail "number not masked on serial: $out"
# Nobody on a line without a PIN is an operator: one record in full, but
# the number masked and no template variables.
seq1=$(jq '.messages[0].seq' <<<"$out")
one=$(sctl outbox show "$seq1") || fail "outbox show over the serial line failed"
jq -e '(.message.to | test("^\\+491\\*+567$")) and (.message | has("vars") | not)' <<<"$one" >/dev/null ||
	fail "outbox show unmasked for a non-operator: $one"
text=$("$BUILD/outpostctl" --serial "$HOST" status) || fail "status as text failed"
grep -q "e2e" <<<"$text" || fail "text status lacks the gateway id"
[ "$(serial_num frames)" -eq 4 ] || fail "daemon counted $(serial_num frames) frames, sent 4"
[ "$(serial_num bad_frames)" -eq 0 ] || fail "bad frames on a clean line"
pass "status, outbox and text status over the serial line"

# --- garbage straight into the daemon's line, then good requests
{
	head -c 20000 /dev/urandom
	printf '#03ffff:a header that claims 256 KiB'
	head -c 3000 /dev/urandom | tr -d '\n'
} >"$HOST"
out=$(sctl status) || fail "no answer after garbage"
[ "$(jq -r .ok <<<"$out")" = true ] || fail "status not ok after garbage: $out"
garbage=$(serial_num garbage_bytes)
[ "$garbage" -ge 20000 ] || fail "only $garbage garbage bytes counted of 23000+"
sctl outbox >/dev/null || fail "outbox after garbage failed"
kill -0 "$OUTPOSTD_PID" || fail "outpostd died of garbage"
pass "23 KB of garbage on the line: counted ($garbage bytes), later requests answered"

# --- unplug and plug back
e2e_stop "$P1"
wait_connected false
sctl status >/dev/null 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "outpostctl exit $rc with the line unplugged, want 3"
sleep 1.5 # the daemon tries again every second and fails quietly
plug "$DEV" "$HOST"
P1=$PLUG_PID
wait_connected true
out=$(sctl status) || fail "no answer after the line came back"
[ "$(jq -r .serial.reopens <<<"$out")" -eq 1 ] || fail "reopens $(jq .serial.reopens <<<"$out"), want 1"
n=$(grep -c "serial: lost $DEV" "$E2E_DIR/outpostd.log")
[ "$n" -eq 1 ] || fail "'lost' logged $n times for one unplug"
pass "line unplugged and back: reopened, answered (lost logged once)"

# --- a noisy cable: the first request, the first reply and the 5th request
# are damaged; garbage ahead of the 3rd request and the 2nd reply.
e2e_stop "$P1"
wait_connected false
plug "$DEV" "$E2E_DIR/dmid"
P2=$PLUG_PID
plug "$HOST" "$E2E_DIR/cmid"
P3=$PLUG_PID
wait_connected true
bad0=$(serial_num bad_frames) replayed0=$(serial_num replayed)
e2e_spawn "$E2E_DIR/relay.log" python3 "$(dirname "$0")/serial_relay.py" \
	"$E2E_DIR/cmid" "$E2E_DIR/dmid" --bad-up "0 4" --bad-down "0" \
	--garbage-up "3" --garbage-down "1" --stats "$E2E_DIR/relay.json"
RELAY=$E2E_LAST_PID
sleep 0.3
# Request 0 damaged (no answer), request 1 answered but the reply damaged,
# request 2 (same id) answered from the replay slot: three tries.
out=$(sctl status 2>"$E2E_DIR/noisy1.err") || fail "status on the noisy line failed: $(cat "$E2E_DIR/noisy1.err")"
[ "$(jq -r .ok <<<"$out")" = true ] || fail "status not ok on the noisy line: $out"
grep -q "answered on try 3" "$E2E_DIR/noisy1.err" || fail "expected 3 tries: $(cat "$E2E_DIR/noisy1.err")"
# Request 3 behind garbage, its reply behind garbage too.
out=$(sctl outbox --limit 5 2>"$E2E_DIR/noisy2.err") || fail "outbox on the noisy line failed"
[ "$(jq -r '.messages[0].event_id' <<<"$out")" = ser-1 ] || fail "outbox on the noisy line: $out"
# Request 4 damaged, request 5 answered: two tries.
out=$(sctl status 2>"$E2E_DIR/noisy3.err") || fail "third command failed"
grep -q "answered on try 2" "$E2E_DIR/noisy3.err" || fail "expected 2 tries: $(cat "$E2E_DIR/noisy3.err")"
bad=$(($(serial_num bad_frames) - bad0))
replayed=$(($(serial_num replayed) - replayed0))
# Two damaged requests, and the half frame in the garbage ahead of request 3.
[ "$bad" -eq 3 ] || fail "daemon counted $bad bad frames, want 3 (2 damaged requests, 1 half frame)"
[ "$replayed" -eq 1 ] || fail "daemon replayed $replayed replies, expected 1"
e2e_stop "$RELAY" || fail "relay failed: $(tail -3 "$E2E_DIR/relay.log")"
[ "$(jq '.up.flipped + .down.flipped' "$E2E_DIR/relay.json")" -eq 3 ] ||
	fail "relay flipped $(jq -c . "$E2E_DIR/relay.json")"
[ "$(jq .up.frames "$E2E_DIR/relay.json")" -eq 6 ] || fail "expected 6 requests: $(jq -c . "$E2E_DIR/relay.json")"
pass "noisy cable: 3 commands ok in 6 requests; daemon: $bad bad frames, $replayed replayed"

# --- the technician PIN: a config with a pin_hash, pushed through the
# socket and applied at once.
e2e_stop "$P2"
e2e_stop "$P3"
wait_connected false
plug "$DEV" "$HOST"
wait_connected true
spec=$(printf '2580\n' | "$BUILD/outpostctl" pin-hash) || fail "pin-hash failed"
jq --arg h "$spec" '.control.serial.pin_hash = $h' "$OUTPOST_CONF" >"$E2E_DIR/pin.json"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" config push "$E2E_DIR/pin.json" >/dev/null ||
	fail "pushing the pin_hash failed"
out=$(sctl status 2>&1) && fail "a PIN line answered without the PIN: $out"
grep -q "PIN required on this line" <<<"$out" || fail "no PIN asked: $out"
out=$(OUTPOST_PIN=0000 sctl --pin status 2>&1) && fail "a wrong PIN was taken: $out"
grep -q "the PIN was refused: wrong PIN" <<<"$out" || fail "wrong PIN: $out"
out=$(OUTPOST_PIN=2580 sctl --pin status) || fail "the right PIN was refused: $out"
[ "$(jq -r .ok <<<"$out")" = true ] || fail "status after the PIN: $out"
# An operator now: logs --unmasked shows the full number (the socket check
# is the logs test's; here the PIN is what grants it).
OUTPOST_PIN=2580 "$BUILD/outpostctl" --serial "$HOST" --pin logs --unmasked --limit 1000 \
	>"$E2E_DIR/unmasked.txt" || fail "logs --unmasked after the PIN failed"
grep -q "+491701234567" "$E2E_DIR/unmasked.txt" || fail "no full number in unmasked logs"
# A command of several requests (start, then results) over the line.
OUTPOST_PIN=2580 "$BUILD/outpostctl" --serial "$HOST" --pin test-connection >"$E2E_DIR/probe.txt" 2>&1 ||
	fail "test-connection over the serial line: $(cat "$E2E_DIR/probe.txt")"
grep -q "main .* ok      HTTP 200" "$E2E_DIR/probe.txt" || fail "test-connection: $(cat "$E2E_DIR/probe.txt")"
# Five wrong PINs lock the line for a minute, even for the right one.
for i in 1 2 3 4 5; do OUTPOST_PIN=1111 sctl --pin status >/dev/null 2>&1; done
out=$(OUTPOST_PIN=2580 sctl --pin status 2>&1) && fail "a locked line took a PIN"
grep -q "too many wrong PINs" <<<"$out" || fail "no lock: $out"
[ "$(grep -c "audit: serial .*auth: refused: wrong PIN" "$E2E_DIR/outpostd.log")" -ge 6 ] ||
	fail "wrong PINs not audited"
grep -q "audit: serial .*auth: ok (technician PIN)" "$E2E_DIR/outpostd.log" || fail "PIN not audited"
grep -q "2580" "$E2E_DIR/outpostd.log" && fail "the PIN is in the log"
pass "PIN: asked, wrong one refused, right one grants unmasked logs, 5 wrong lock the line, all audited"

stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
pass "serial control line"
