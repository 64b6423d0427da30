#!/usr/bin/env bash
# The zero-loss checker (outpost-check) against a real run, then against
# doctored copies of its inputs: a checker that never says FAIL proves nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup checker

# 1. A run with 500s, answers dropped after the request was read, and bad
# events: nothing lost, and (--strict) every duplicate is one outpostd
# counted as ambiguous - libcurl's own blind resend on a dead reused
# connection is refused (net/http.c), so it cannot add uncounted ones.
start_broker
start_sim --fail-rate 0.05 --drop-after-read 0.03 --seed 5
write_config
start_outpostd
publish -n 600 --kind mixed --bad-every 40 --log "$E2E_DIR/pub.log"
wait_for '[ $(($(outbox_count queued) + $(outbox_count retry) + $(outbox_count sending))) = 0 ] &&
	[ "$(outbox_count sent)" -gt 0 ]' 60 || fail "the outbox did not drain"
stop_outpostd || fail "outpostd exit status $?"
stop_sim
CHECK=("$BUILD/outpost-check" --strict --pub-log "$E2E_DIR/pub.log" --store "$E2E_DIR/store" --seed 5)
out=$("${CHECK[@]}" --sim-record "$SIM_RECORD" --json 2>"$E2E_DIR/check.txt")
rc=$?
[ "$rc" = 0 ] || fail "real run: exit $rc: $(cat "$E2E_DIR/check.txt")"
jq -e '.verdict == "PASS" and .published == 600 and .lost == 0 and .unexpected == 0 and
	.store_problems == 0 and .ambiguous > 0 and .bad_without_id > 0 and .seed == 5' \
	<<<"$out" >/dev/null || fail "real run: $out"
tail -n1 "$E2E_DIR/check.txt" | grep -q '^checker: seed 5 published 600 .* -> PASS$' ||
	fail "summary line: $(tail -n1 "$E2E_DIR/check.txt")"
pass "a faulty run checks PASS: $(tail -n1 "$E2E_DIR/check.txt")"

# 2. Doctored sim records: a lost event, a stranger, a duplicate nobody
# flagged, a line that is not JSON.
grep -v '"evt-17"' "$SIM_RECORD" >"$E2E_DIR/lost.jsonl"
"${CHECK[@]}" --sim-record "$E2E_DIR/lost.jsonl" >"$E2E_DIR/out.txt"
[ $? = 1 ] && grep -q '^checker: lost (first 1 of 1): evt-17$' "$E2E_DIR/out.txt" ||
	fail "lost event: $(cat "$E2E_DIR/out.txt")"
stranger='{"to":"whatsapp:+491700000000","vars":{"1":"x","2":"nobody-1"},"n":0}'
{ cat "$SIM_RECORD"; echo "$stranger"; } >"$E2E_DIR/stranger.jsonl"
"${CHECK[@]}" --sim-record "$E2E_DIR/stranger.jsonl" --json >"$E2E_DIR/out.json" 2>/dev/null
[ $? = 1 ] && [ "$(jq .unexpected "$E2E_DIR/out.json")" = 1 ] ||
	fail "stranger: $(cat "$E2E_DIR/out.json")"
line=$(head -n 1 "$SIM_RECORD")
{ cat "$SIM_RECORD"; for _ in $(seq 200); do echo "$line"; done; } >"$E2E_DIR/dup.jsonl"
"${CHECK[@]}" --sim-record "$E2E_DIR/dup.jsonl" --json >"$E2E_DIR/out.json" 2>/dev/null
[ $? = 1 ] && jq -e '.duplicated > .ambiguous and .duplicated_unflagged >= 200' \
	"$E2E_DIR/out.json" >/dev/null || fail "duplicates: $(cat "$E2E_DIR/out.json")"
{ head -n 3 "$SIM_RECORD"; echo 'not json'; } >"$E2E_DIR/bad.jsonl"
"${CHECK[@]}" --sim-record "$E2E_DIR/bad.jsonl" 2>"$E2E_DIR/err.txt" >/dev/null
[ $? = 2 ] && grep -q 'bad.jsonl:4: not a JSON object' "$E2E_DIR/err.txt" ||
	fail "bad line: $(cat "$E2E_DIR/err.txt")"
pass "lost, unexpected and unexcused duplicates FAIL (1); a bad line is exit 2"

# 3. A store in use is refused, not read while it moves.
start_outpostd
"${CHECK[@]}" --sim-record "$SIM_RECORD" >/dev/null 2>"$E2E_DIR/err.txt"
[ $? = 2 ] && grep -q 'is outpostd still running' "$E2E_DIR/err.txt" ||
	fail "store in use: $(cat "$E2E_DIR/err.txt")"
stop_outpostd
pass "a store in use is refused (exit 2)"
