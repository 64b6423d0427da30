#!/bin/bash
# make demo: mosquitto + twilio-sim + outpostd on loopback, a few sample
# payment, ticket and alert events (and one bad one), then what "Twilio"
# received and the outbox as a technician sees it. Everything stops at the end.
set -u
cd "$(dirname "$0")/.." || exit 1
: "${BUILD:=build}"
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
e2e_setup demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting mosquitto, twilio-sim (a local Twilio fake over HTTPS) and outpostd"
start_broker
start_sim
write_config
start_outpostd
echo "broker 127.0.0.1:$BROKER_PORT   twilio-sim $SIM_URL   outpostd pid $OUTPOSTD_PID"
echo "config: $OUTPOST_CONF"

step "Devices publish events (MQTT, QoS 1)"
ev() { echo "  $1  $2"; mpub "$1" "$2"; }
ev site/1/payments/card '{"id":"pay-1001","customer":{"name":"Ana","phone":"+49 170 1234567"},"amount":"12.50","currency":"EUR"}'
ev site/1/payments/cash '{"id":"pay-1002","customer":{"name":"Ben","phone":"+1 (415) 555-0142"},"amount":"40.00","currency":"USD"}'
ev site/1/tickets/issued '{"id":"tkt-77","ticket":"A-17","counter":"3","phone":"+44 7700 900123"}'
ev site/1/alerts/door '{"id":"alm-5","panel":"North door","zone":"4","level":"alarm","notify":["+14155550100","+14155550101"]}'
ev site/1/payments/card '{"id":"pay-1003","customer":{"name":"Cleo","phone":"not a number"},"amount":"5.00","currency":"EUR"}'
wait_for '[ "$(sim_count)" -ge 5 ]' 20 || echo "(not all sent yet)"

step "What \"Twilio\" received (twilio-sim's record)"
jq -r '"  \(.to)  \(.content_sid)  \(.vars | tojson)  -> \(.sid)"' "$SIM_RECORD"

step "outpostctl status"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" status
step "outpostctl outbox"
"$BUILD/outpostctl" -s "$OUTPOST_SOCK" outbox

step "Stopping (SIGTERM: outpostd drains in-flight sends and exits 0)"
stop_outpostd && echo "outpostd exited 0"
stop_sim
stop_broker
echo "demo files: $E2E_DIR"
