#!/bin/bash
# The log ring: outpostctl logs shows the daemon's records with masked
# numbers (full ones for an operator who asks), a pull of 100,000 records
# comes back complete and in order, and a small ring stays within its size
# and counts what it dropped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup logs
start_broker
start_sim
write_config '.log.ring_kb = 16384'
# The daemon's test knob (firmware/logs.c): 100,000 made-up debug records
# written at start, so the pull below does not wait for 100,000 log lines.
OUTPOST_TEST_LOG_FILL=100000 start_outpostd

publish -n 30 --kind mixed --id-prefix evt
mpub site/1/payments/card '{"id": "bad-phone", "customer": {"name": "Ana", "phone": "01701234567"}, "amount": "1.00", "currency": "EUR"}'
wait_sent 30 30 || fail "only $(outbox_count sent) of 30 sent"
# Records reach the ring within a second; the command writes what waits.
wait_for '[ "$(ctl logs --level info | grep -c "\"module\":\"sender\"")" -ge 30 ]' 10 ||
	fail "the ring does not show 30 'sent' records"

# The person's view: one line per record, masked numbers, no variables.
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --level info >"$E2E_DIR/logs.txt" ||
	fail "outpostctl logs failed"
n=$(grep -c 'router: event evt-[0-9]*: message #[0-9]* to +[0-9]\{3\}\*\+[0-9]\{3\} queued' "$E2E_DIR/logs.txt")
[ "$n" -eq 30 ] || fail "$n 'queued' lines with a masked number, expected 30"
n=$(grep -c 'sender: message #[0-9]* to +[0-9*]* sent (event evt-[0-9]*) \[event=evt-[0-9]* msg=[0-9]* to=+[0-9]\{3\}\*' "$E2E_DIR/logs.txt")
[ "$n" -eq 30 ] || fail "$n 'sent' lines with event, message and masked recipient, expected 30"
grep -q 'event bad-phone on site/1/payments/card rejected: recipient "0170\*\*\*\*567"' "$E2E_DIR/logs.txt" ||
	fail "the rejected recipient is not in the log, masked"
# Any run of 8 digits after the leading sequence number would be a number.
full=$(cut -d' ' -f2- "$E2E_DIR/logs.txt" | grep -E '[0-9]{8,}' | head -3)
[ -z "$full" ] || fail "a full phone number in the masked log: $full"
grep -q 'vars=' "$E2E_DIR/logs.txt" && fail "template variables in the masked log"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --level info "$E2E_DIR/x" 2>/dev/null && fail "stray argument accepted"

# An operator (root here; control/socket.c grants root and the daemon's user)
# sees full numbers and the variables.
[ "$(id -u)" -eq 0 ] || fail "this test needs root for the operator check"
ctl logs --level info --unmasked >"$E2E_DIR/unmasked.jsonl" || fail "logs --unmasked failed"
n=$(jq -r 'select(.module == "router" and (.to | test("^\\+[1-9][0-9]{7,14}$")) and ((.vars | to_entries | max_by(.key | tonumber) | .value) == .event_id)) | .seq' \
	"$E2E_DIR/unmasked.jsonl" | wc -l)
[ "$n" -eq 30 ] || fail "$n unmasked 'queued' records with a full number and the variables, expected 30"

# --follow: records logged after it started come through within a second
# or two, and it keeps running until stopped.
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --follow --level info >"$E2E_DIR/follow.txt" 2>&1 &
FOLLOW=$!
sleep 0.5
publish -n 3 --kind payment --id-prefix flw
wait_for '[ "$(grep -c "sender: message #[0-9]* to .* sent (event flw-" "$E2E_DIR/follow.txt")" -eq 3 ]' 10 ||
	fail "--follow did not show the 3 new sends: $(tail -3 "$E2E_DIR/follow.txt")"
kill -0 "$FOLLOW" || fail "--follow ended by itself"
kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null

# ring_info: the daemon's own answer to one logs request (first, last,
# dropped, bytes, max_bytes), straight from the socket.
ring_info() {
	echo '{"cmd":"logs","limit":1}' | socat -t 5 - "UNIX-CONNECT:$OUTPOST_SOCK"
}

# The pull of everything: 100,000 test records and the daemon's own, every
# sequence number from first to last once, in order.
start=$(date +%s%N)
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --json >"$E2E_DIR/all.jsonl" 2>"$E2E_DIR/all.err" ||
	fail "the full pull failed: $(cat "$E2E_DIR/all.err")"
ms=$((($(date +%s%N) - start) / 1000000))
jq -e -s --argjson first "$(jq -s '.[0].seq' "$E2E_DIR/all.jsonl")" '
	(map(.seq) == [range($first; $first + length)])' "$E2E_DIR/all.jsonl" >/dev/null ||
	fail "sequence numbers in the pull are not contiguous"
total=$(wc -l <"$E2E_DIR/all.jsonl")
fills=$(jq -r 'select(.module == "test") | .text' "$E2E_DIR/all.jsonl" | sort -u | wc -l)
[ "$fills" -eq 100000 ] || fail "$fills of the 100000 test records in the pull"
[ "$(jq -s '.[0].seq' "$E2E_DIR/all.jsonl")" -eq 1 ] || fail "the pull did not start at seq 1"
[ -s "$E2E_DIR/all.err" ] && fail "the pull said something on stderr: $(head -3 "$E2E_DIR/all.err")"
# Paging by hand from a sequence number gets the same records.
mid=$((total / 2))
n=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --json --since "$mid" | wc -l)
[ "$n" -ge $((total - mid + 1)) ] || fail "--since $mid gave $n records, expected at least $((total - mid + 1))"
# --level keeps the more severe only.
ctl logs --level warn | jq -e -s 'length > 0 and all(.[]; .level == "warn" or .level == "error")' >/dev/null ||
	fail "--level warn let other levels through"

ctl logs --limit 1 --level bogus 2>/dev/null && fail "unknown level accepted"
echo '{"cmd":"logs","level":"bogus"}' | socat -t 5 - "UNIX-CONNECT:$OUTPOST_SOCK" |
	jq -e '.ok == false and (.error | test("level"))' >/dev/null || fail "the daemon took an unknown level"

# The ring at 64 KiB: trimmed at the next write, the drops counted.
stop_outpostd || fail "outpostd exited non-zero"
jq '.log.ring_kb = 64' "$OUTPOST_CONF" >"$E2E_DIR/c.json" && mv "$E2E_DIR/c.json" "$OUTPOST_CONF"
start_outpostd
publish -n 5 --kind mixed --id-prefix small
wait_sent 5 30 || fail "not sent after the restart"
range=$(ring_info) || fail "logs after the restart failed"
read -r first last dropped bytes max < <(jq -r '"\(.first) \(.last) \(.dropped) \(.bytes) \(.max_bytes)"' <<<"$range")
[ "$max" -eq 65536 ] || fail "max_bytes $max, expected 65536"
[ "$bytes" -le 65536 ] || fail "the ring holds $bytes bytes, over its 65536"
[ "$dropped" -eq $((first - 1)) ] || fail "dropped $dropped, but the oldest record kept is $first"
[ "$last" -gt "$total" ] || fail "sequence numbers did not go on after the restart ($last <= $total)"
# One reply holds the whole small ring: its records run from its own first
# to its own last (the ring is full, so any record logged between two
# requests would drop the oldest: compare within one answer).
whole=$(echo '{"cmd":"logs","since":0,"limit":5000}' | socat -t 5 - "UNIX-CONNECT:$OUTPOST_SOCK")
read -r first last n < <(jq -r '"\(.first) \(.last) \(.records | length)"' <<<"$whole")
[ "$n" -eq $((last - first + 1)) ] || fail "$n records in the small ring, expected $((last - first + 1))"
jq -e '[.records[].seq] as $s | $s == [range($s[0]; $s[0] + ($s | length))]' <<<"$whole" >/dev/null ||
	fail "the small ring's records are not contiguous"
# Asking from a dropped sequence number says what was lost.
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" logs --since 1 >/dev/null 2>"$E2E_DIR/gap.err"
# (A record logged since the reply above drops one more: at least first - 1.)
upto=$(sed -n 's/.*records 1\.\.\([0-9]*\) were dropped.*/\1/p' "$E2E_DIR/gap.err")
[ -n "$upto" ] && [ "$upto" -ge $((first - 1)) ] || fail "no word of dropped records: $(cat "$E2E_DIR/gap.err")"
stop_outpostd || fail "outpostd exited non-zero"
pass "masked and unmasked logs, $total records pulled in $ms ms with none missing, 64 KiB ring: $bytes bytes, $dropped dropped"
