#!/bin/bash
# Config checks: -t names every error by JSON path; secrets must be 0600;
# SIGHUP with a bad config keeps the running one, with a good one applies it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup config
start_broker
start_sim
write_config

out=$("$BUILD/outpostd" -t -c "$OUTPOST_CONF" 2>&1) || fail "-t refused a good config: $out"
grep -q "configuration OK" <<<"$out" || fail "-t printed no OK: $out"

jq '.routes[0].template = "nope" | .accounts.main.from = "+1415" | .mqtt.hots = 1' \
	"$OUTPOST_CONF" >"$E2E_DIR/bad.json"
out=$("$BUILD/outpostd" -t -c "$E2E_DIR/bad.json" 2>&1)
rc=$?
[ "$rc" -eq 3 ] || fail "-t on a bad config exited $rc, expected 3"
for want in '\$.routes\[0\].template' '\$.accounts.main.from' '\$.mqtt.hots'; do
	grep -q "$want" <<<"$out" || fail "-t output lacks $want: $out"
done

chmod 644 "$E2E_DIR/secrets.json"
out=$("$BUILD/outpostd" -t -c "$OUTPOST_CONF" 2>&1) && fail "a 0644 secrets file was accepted"
grep -q "chmod 600" <<<"$out" || fail "no hint to chmod the secrets file: $out"
grep -q "$SIM_TOKEN" <<<"$out" && fail "the token appeared in the output"
chmod 600 "$E2E_DIR/secrets.json"

start_outpostd
cp "$OUTPOST_CONF" "$E2E_DIR/good.json"
cp "$E2E_DIR/bad.json" "$OUTPOST_CONF"
kill -HUP "$OUTPOSTD_PID"
wait_for 'ctl status | jq -e ".last_errors[0].text | test(\"reload refused\")" >/dev/null' 10 ||
	fail "a bad reload was not reported"
publish -n 10 --kind payment --id-prefix cfg-a
wait_sent 10 20 || fail "the running config stopped working after a bad reload"

jq '.routes[0].topic = "plant/+/payments/#"' "$E2E_DIR/good.json" >"$OUTPOST_CONF"
kill -HUP "$OUTPOSTD_PID"
wait_for 'grep -q "reload: 3 routes" "$E2E_DIR/outpostd.log"' 10 || fail "good reload not applied"
sleep 0.5
publish -n 5 -t plant/7/payments/cash --kind payment --id-prefix cfg-b
wait_sent 15 20 || fail "the reloaded route does not deliver"
grep -q "$SIM_TOKEN" "$E2E_DIR/outpostd.log" && fail "the token appeared in the log"
stop_outpostd || fail "outpostd exited non-zero"
pass "-t paths, secrets mode, bad reload refused, good reload applied"
