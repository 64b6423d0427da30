#!/bin/bash
# Signed commands over MQTT through a real mosquitto: outpostctl --mqtt runs
# status, outbox and creds list; creds set is refused there; a wrong key, an
# old timestamp, a replayed nonce, another gateway's id and a malformed
# envelope are refused and audited; events flow all the while.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup remote
start_broker
start_sim
write_config '.control.mqtt.credentials = "remote"' '.log.ring_kb = 32768'
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
WRONG=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
jq --arg k "$KEY" '.remote = {hmac_key: $k}' "$E2E_DIR/secrets.json" >"$E2E_DIR/s.tmp" &&
	cat "$E2E_DIR/s.tmp" >"$E2E_DIR/secrets.json" && rm "$E2E_DIR/s.tmp"
(umask 077 && echo "$KEY" >"$E2E_DIR/cmd.key" && echo "$WRONG" >"$E2E_DIR/wrong.key")
OUTPOST_TEST_LOG_FILL=100000 start_outpostd
publish -n 50 --kind payment --id-prefix rem-a &
PUB=$!

rctl() { # rctl KEYFILE ARGS...: outpostctl over MQTT
	local k=$1
	shift
	"$BUILD/outpostctl" --mqtt "127.0.0.1:$BROKER_PORT" --gateway e2e ${k:+--key-file "$k"} \
		--timeout 5000 "$@"
}

# 1. The happy paths, through the broker.
out=$(rctl "$E2E_DIR/cmd.key" --json status) || fail "status over mqtt: $out"
jq -e '.ok and .gateway_id == "e2e" and .remote.enabled' <<<"$out" >/dev/null ||
	fail "status over mqtt: $out"
rctl "$E2E_DIR/cmd.key" outbox --limit 5 >/dev/null || fail "outbox over mqtt"
rctl "$E2E_DIR/cmd.key" --json creds list | jq -e '[.entries[].name] | index("remote")' \
	>/dev/null || fail "creds list over mqtt"
out=$(printf 'tok\n' | rctl "$E2E_DIR/cmd.key" creds set x --account-sid "$SIM_ACCOUNT" 2>&1) &&
	fail "creds set over mqtt was accepted"
grep -q "refused over MQTT" <<<"$out" || fail "creds set over mqtt: $out"
grep -q "audit: mqtt reply_to outpost/e2e/reply/[0-9a-f]*: status: ok" "$E2E_DIR/outpostd.log" ||
	fail "status over mqtt not audited"

# 2. A wrong key: refused, the refusal unsigned, exit 1, audited.
out=$(rctl "$E2E_DIR/wrong.key" status 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "wrong key: exit $rc: $out"
grep -q "refused: bad signature" <<<"$out" || fail "wrong key: $out"
grep -q "audit: mqtt .*refused: bad signature" "$E2E_DIR/outpostd.log" ||
	fail "bad signature not audited"
out=$(OUTPOST_CMD_KEY=nothex rctl "" status 2>&1) && fail "a malformed key was used"
grep -q "must be 64 hex digits" <<<"$out" || fail "malformed key: $out"
OUTPOST_CMD_KEY=$KEY rctl "" status >/dev/null || fail "the key from OUTPOST_CMD_KEY failed"

# 3. Hand-made envelopes: an old timestamp, a replay, another gateway.
# raw TS NONCE GW REQ: publishes a signed envelope, prints the reply's text.
raw() {
	local ts=$1 nonce=$2 gw=$3 req=$4 topic="outpost/e2e/reply/raw$2" sig env
	sig=$(printf 'outpost-cmd-1\n%s\n%s\n%s\n%s\n%s' "$gw" "$ts" "$nonce" "$topic" "$req" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" | sed 's/.*= //')
	env=$(jq -cn --arg req "$req" --arg gw "$gw" --argjson ts "$ts" --arg n "$nonce" \
		--arg t "$topic" --arg s "$sig" \
		'{req: $req, gw: $gw, ts: $ts, nonce: $n, reply_to: $t, sig: $s}')
	timeout 5 mosquitto_sub -p "$BROKER_PORT" -t "$topic" -C 1 -q 1 >"$E2E_DIR/raw.out" &
	local sub=$!
	sleep 0.3
	mosquitto_pub -p "$BROKER_PORT" -t outpost/e2e/cmd -q 1 -m "$env"
	wait "$sub"
	jq -r .reply "$E2E_DIR/raw.out"
}
now=$(date +%s)
N1=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
N2=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
N3=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
raw "$now" "$N1" e2e '{"cmd":"status"}' | jq -e .ok >/dev/null || fail "a good raw envelope failed"
raw "$now" "$N1" e2e '{"cmd":"status"}' | grep -q "nonce already used" || fail "replay accepted"
raw $((now - 1000)) "$N2" e2e '{"cmd":"status"}' | grep -q "timestamp outside the window" ||
	fail "an old timestamp was accepted"
raw "$now" "$N3" other-gw '{"cmd":"status"}' | grep -q "addressed to another gateway" ||
	fail "another gateway's command was accepted"
mosquitto_pub -p "$BROKER_PORT" -t outpost/e2e/cmd -q 1 -m 'garbage {'
wait_for 'grep -q "audit: mqtt ?: malformed command envelope" "$E2E_DIR/outpostd.log"' 5 ||
	fail "a malformed envelope was not audited"
for why in "nonce already used" "timestamp outside the window" "addressed to another gateway"; do
	grep -q "audit: mqtt .*refused: $why" "$E2E_DIR/outpostd.log" || fail "not audited: $why"
done

# 4. The daemon stayed up and the events flowed; the counters add up.
wait "$PUB" || fail "publisher failed"
wait_sent 50 30 || fail "events stopped during the remote commands: $(outbox_count sent)"
st=$(ctl status)
jq -e '.remote.accepted == 6 and .remote.refused == 5' <<<"$st" >/dev/null ||
	fail "remote counters: $(jq -c .remote <<<"$st")"
grep -qF "$KEY" "$E2E_DIR/outpostd.log" && fail "the command key is in the log"

# 5. The whole log ring over the broker: 100,000 test records and the
# daemon's own, every sequence number once, in order.
t0=$(date +%s%N)
rctl "$E2E_DIR/cmd.key" --timeout 10000 logs --json --since 1 >"$E2E_DIR/all.jsonl" 2>"$E2E_DIR/all.err" ||
	fail "log pull over mqtt: $(tail -3 "$E2E_DIR/all.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
n=$(wc -l <"$E2E_DIR/all.jsonl")
[ "$n" -ge 100000 ] || fail "pulled $n records over mqtt"
jq -s -e '[.[].seq] as $s | $s == [range(1; ($s | length) + 1)]' "$E2E_DIR/all.jsonl" >/dev/null ||
	fail "the records pulled over mqtt are not 1..N in order"
[ "$(grep -c '"text":"fill ' "$E2E_DIR/all.jsonl")" -ge 100000 ] || fail "test records missing"
stop_outpostd || fail "outpostd exited non-zero"
pass "status/outbox/creds list over MQTT; wrong key, old ts, replay, other gateway, garbage refused and audited; 50 events sent meanwhile; $n log records pulled over MQTT in $ms ms"
