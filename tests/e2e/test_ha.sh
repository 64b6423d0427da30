#!/bin/bash
# Home Assistant MQTT discovery (docs/ALERTING.md "Home Assistant"): with
# homeassistant.discovery on, one retained config per entity under
# homeassistant/<component>/outpost_e2e/<object>/config, each checked by
# ha_check.py against the documented schema (required keys, unique ids, one
# device, availability on the daemon's status topic with the payloads its
# connect and its last will publish); the state topic carries the values
# and follows a sent message; an escalation sensor (the test knob standing
# in for the escalation feature) comes and goes; a reload with discovery
# off removes every config, one with another prefix announces there; a
# kill -9 leaves the will's "offline" that makes the entities unavailable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup ha
start_broker
start_sim
write_config '.homeassistant = {"discovery": true}' '.mqtt.keepalive_s = 5'
export OUTPOST_TEST_PUBLISH_MS=300 OUTPOST_TEST_HA_ESCALATION=door-1
start_outpostd

OBJECTS=(uplink broker_link queued sent_today failed_today cost_today last_error)
retained() { # FILTER: the retained messages as "RETAIN<TAB>TOPIC<TAB>PAYLOAD"
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$1" --retained-only -F '%r	%t	%p' -W 1 2>/dev/null
	true
}
one() { # TOPIC: its retained payload
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$1" --retained-only -C 1 -W 1 2>/dev/null
}
check() { # PREFIX OBJECT...
	local p=$1
	shift
	retained "$p/#" | python3 "$(dirname "$0")/ha_check.py" "$p" e2e outpost/e2e/status "$@"
}

wait_for 'check homeassistant "${OBJECTS[@]}" escalation_door-1 2>/dev/null' 10 ||
	fail "discovery configs: $(check homeassistant "${OBJECTS[@]}" escalation_door-1 2>&1 | head -5)"
[ "$(one outpost/e2e/status)" = online ] || fail "status is not online: $(one outpost/e2e/status)"
[ "$(one outpost/e2e/ha/escalation/door-1)" = ON ] || fail "escalation state: $(one outpost/e2e/ha/escalation/door-1)"
# Each value_template names a key of the state payload.
retained 'homeassistant/#' | cut -f3 | jq -r 'select(.value_template) | .value_template' |
	sed -n 's/^{{ value_json\.\([a-z_]*\) }}$/\1/p' | sort -u >"$E2E_DIR/keys.txt"
[ "$(wc -l <"$E2E_DIR/keys.txt")" = 6 ] || fail "value templates: $(cat "$E2E_DIR/keys.txt")"
state() { one outpost/e2e/ha/state; }
for k in $(cat "$E2E_DIR/keys.txt"); do
	state | jq -e --arg k "$k" 'has($k)' >/dev/null || fail "the state lacks $k: $(state)"
done

# The state follows: a sent message, the uplink up.
mpub site/1/payments/card '{"id": "h1", "customer": {"name": "Ana", "phone": "+491701234561"}, "amount": "1", "currency": "EUR"}'
wait_for 'state | jq -e ".sent_today == 1 and .uplink == \"ON\" and .queued == 0" >/dev/null' 10 ||
	fail "the state did not follow the send: $(state)"

# Reload with discovery off: every config and the escalation go.
jq '.homeassistant.discovery = false' "$E2E_DIR/outpost.json" >"$E2E_DIR/o.tmp" && mv "$E2E_DIR/o.tmp" "$E2E_DIR/outpost.json"
kill -HUP "$OUTPOSTD_PID"
wait_for '[ -z "$(retained "homeassistant/#")" ]' 10 ||
	fail "configs left after discovery was turned off: $(retained 'homeassistant/#' | cut -f2)"
[ -z "$(one outpost/e2e/ha/escalation/door-1)" ] || fail "the escalation state was left retained"
[ -z "$(one outpost/e2e/ha/state)" ] || fail "the state was left retained"

# Reload with another prefix: announced there (no escalation now).
jq '.homeassistant = {"discovery": true, "prefix": "ha2/site"}' "$E2E_DIR/outpost.json" >"$E2E_DIR/o.tmp" &&
	mv "$E2E_DIR/o.tmp" "$E2E_DIR/outpost.json"
kill -HUP "$OUTPOSTD_PID"
wait_for 'check ha2/site "${OBJECTS[@]}" 2>/dev/null' 10 ||
	fail "configs under ha2/site: $(check ha2/site "${OBJECTS[@]}" 2>&1 | head -5)"
[ -z "$(retained "homeassistant/#")" ] || fail "configs came back under homeassistant/"

# A crash: the broker publishes the will, the payload_not_available.
kill -9 "$OUTPOSTD_PID"
wait "$OUTPOSTD_PID" 2>/dev/null
e2e_forget "$OUTPOSTD_PID"
wait_for '[ "$(one outpost/e2e/status)" = offline ]' 15 || fail "no will after kill -9: $(one outpost/e2e/status)"
stop_sim
pass "discovery configs match the schema (${#OBJECTS[@]} entities + an escalation), retained; state follows a send; removed on discovery off, re-announced under a new prefix; the will makes them unavailable"
