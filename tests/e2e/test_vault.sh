#!/bin/bash
# The vault: the secrets file is imported once and removed; no token is
# anywhere in plaintext (data dir, config, logs) after the import, after
# `creds set` and after a key rotation; a new token set with outpostctl is
# used at once; a rotation cut short either way still opens; a wrong or
# missing device key seals the vault without losing an event.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup vault
start_broker
start_sim
write_config
KEY="$E2E_DIR/device.key"
OLD_TOKEN=$SIM_TOKEN
NEW_TOKEN="e2e-new-token-$RANDOM$RANDOM-rotated"
SENT=0

# no_plaintext TOKEN...: none in any file of the test dir but the sim's own
# (its command line and record are the provider side).
no_plaintext() {
	local t hits
	for t in "$@"; do
		hits=$(grep -rlaF -- "$t" "$E2E_DIR" | grep -v "/sim\." || true)
		[ -z "$hits" ] || fail "a token is in plaintext in: $hits"
	done
}

send_some() { # send_some N PREFIX: N events, all sent
	publish -n "$1" --kind payment --id-prefix "$2"
	SENT=$((SENT + $1))
	wait_sent "$SENT" 30 || fail "$2: $(outbox_count sent) of $SENT sent"
}

vault_state() { ctl status | jq -r .vault.state; }

# 1. First start: a device key is made, the file imported and removed.
start_outpostd
grep -q "imported 2 entries from $E2E_DIR/secrets.json and removed the file" \
	"$E2E_DIR/outpostd.log" || fail "no import logged: $(tail -5 "$E2E_DIR/outpostd.log")"
[ ! -e "$E2E_DIR/secrets.json" ] || fail "the secrets file is still there after the import"
[ "$(stat -c '%a %s' "$KEY")" = "600 32" ] || fail "device key: $(stat -c '%a %s' "$KEY")"
[ "$(vault_state)" = open ] || fail "vault not open: $(ctl status | jq -c .vault)"
send_some 20 vault-a
no_plaintext "$OLD_TOKEN"

# 2. creds list shows names and masked tails only.
list=$(ctl creds list)
[ "$(jq -r '[.entries[].name] | join(",")' <<<"$list")" = "twilio-main,twilio-wrong" ] ||
	fail "creds list: $list"
jq -e '.entries[0].secret == "…cret" and .entries[0].used_by == ["account main"]' \
	<<<"$list" >/dev/null || fail "creds list masking: $list"
grep -qF "$OLD_TOKEN" <<<"$list" && fail "creds list shows the token"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" creds list | grep -q "twilio-main.*secret …cret" ||
	fail "creds list text: $("$BUILD/outpostctl" -s "$OUTPOST_SOCK" creds list)"

# 3. The provider's token changes: the account pauses (20003); a new one set
# through outpostctl (from stdin) is used at once, and held events go out.
stop_sim
SIM_TOKEN=$NEW_TOKEN start_sim
SIM_TOKEN=$OLD_TOKEN
publish -n 5 --kind payment --id-prefix vault-b
wait_for 'ctl status | jq -e ".accounts[0].state == \"paused\"" >/dev/null' 20 ||
	fail "the account did not pause on the old token: $(ctl status | jq -c .accounts)"
out=$(printf 'AC-not-a-sid\n' | "$BUILD/outpostctl" -s "$OUTPOST_SOCK" creds set twilio-main \
	--account-sid ACnope 2>&1) && fail "a malformed account sid was accepted"
grep -q '"account_sid" must be "AC" followed by 32 hex digits' <<<"$out" ||
	fail "bad sid error: $out"
out=$("$BUILD/outpostctl" -s "$OUTPOST_SOCK" creds set twilio-main --account-sid "$SIM_ACCOUNT" \
	</dev/null 2>&1) && fail "creds set without a secret succeeded"
grep -q "no auth token read" <<<"$out" || fail "empty stdin: $out"
printf '%s\n' "$NEW_TOKEN" | "$BUILD/outpostctl" -s "$OUTPOST_SOCK" creds set twilio-main \
	--account-sid "$SIM_ACCOUNT" >/dev/null || fail "creds set failed"
SENT=$((SENT + 5))
wait_sent "$SENT" 30 || fail "held events not sent with the new token: $(outbox_count sent)"
send_some 5 vault-c
no_plaintext "$OLD_TOKEN" "$NEW_TOKEN"

# 4. Key rotation: every entry re-sealed under a new device key.
before=$(sha256sum <"$KEY")
[ "$(ctl creds rotate-key | jq -r .resealed)" = 2 ] || fail "rotate-key did not re-seal 2"
[ "$(sha256sum <"$KEY")" != "$before" ] || fail "the key file did not change"
[ ! -e "$KEY.new" ] || fail "$KEY.new left behind"
send_some 5 vault-d
stop_outpostd || fail "outpostd exited non-zero"
start_outpostd
[ "$(vault_state)" = open ] || fail "vault not open after rotation and restart"
send_some 5 vault-e
no_plaintext "$OLD_TOKEN" "$NEW_TOKEN"

# 5. A rotation cut before its commit leaves a stray .new key: removed.
stop_outpostd
head -c 32 /dev/urandom >"$KEY.new" && chmod 600 "$KEY.new"
start_outpostd
grep -q "removed $KEY.new, left by a key rotation that never committed" \
	"$E2E_DIR/outpostd.log" || fail "stray .new key not removed"
[ ! -e "$KEY.new" ] && [ "$(vault_state)" = open ] || fail "vault after a stray .new key"

# 6. Cut after the commit, before the rename: the start-up finishes it.
cp -p "$KEY" "$E2E_DIR/key.before"
ctl creds rotate-key >/dev/null || fail "second rotate-key failed"
stop_outpostd
mv "$KEY" "$KEY.new" && cp -p "$E2E_DIR/key.before" "$KEY"
start_outpostd
grep -q "finished a key rotation cut short" "$E2E_DIR/outpostd.log" ||
	fail "a committed rotation was not finished"
[ "$(vault_state)" = open ] || fail "vault sealed after finishing a rotation"
send_some 5 vault-f

# 7. A wrong key seals the vault, a missing one is not replaced; events are
# still taken and kept, and go out once the right key is back.
stop_outpostd
mv "$KEY" "$E2E_DIR/key.right"
start_outpostd
[ ! -e "$KEY" ] || fail "a new key was made for a vault that holds entries"
ctl status | jq -e '.vault.state == "sealed" and (.vault.reason | test("needs key"))' \
	>/dev/null || fail "missing key: $(ctl status | jq -c .vault)"
stop_outpostd
head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY"
start_outpostd
ctl status | jq -e '(.vault.reason | test("not the key the vault was sealed with")) and
	(.accounts[0].reason | test("vault sealed"))' >/dev/null ||
	fail "wrong key: $(ctl status | jq -c '.vault, .accounts')"
publish -n 5 --kind payment --id-prefix vault-g
wait_for '[ "$(outbox_count queued)" -ge 5 ] || [ "$(outbox_count retry)" -ge 5 ]' 20 ||
	fail "events not kept while sealed"
[ "$(outbox_count sent)" = "$SENT" ] || fail "something was sent with a sealed vault"
stop_outpostd
mv "$E2E_DIR/key.right" "$KEY"
start_outpostd
SENT=$((SENT + 5))
wait_sent "$SENT" 30 || fail "events held while sealed were not sent after: $(outbox_count sent)"

# 8. delete: the entry goes; its account would pause.
ctl creds delete twilio-wrong >/dev/null || fail "creds delete failed"
[ "$(ctl creds list | jq -r '[.entries[].name] | join(",")')" = twilio-main ] ||
	fail "after delete: $(ctl creds list)"
out=$(ctl creds delete twilio-wrong 2>&1) && fail "deleting a missing entry succeeded"
no_plaintext "$OLD_TOKEN" "$NEW_TOKEN"
stop_outpostd || fail "outpostd exited non-zero"
check_unique_refs "$SENT"
pass "import removed the file, no token in plaintext after set and rotation, $SENT sent, cut rotations open, sealed vault kept 5 events"
