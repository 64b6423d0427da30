#!/bin/bash
# A fleet through an existing broker, no server of ours (docs/FLEET.md): two
# gateways, each an outpostd on its own site broker, bridged to a central
# broker with config/mosquitto/bridge.conf.example; the central broker has
# the ACLs of docs/FLEET.md. From the central broker, outpostctl --mqtt asks
# each gateway by id for its status and pulls its logs; the receipts of
# both arrive there; one gateway's login cannot publish into the other's
# topics; with the central broker down for FLEET_CUT_S seconds, every
# receipt the sites published meanwhile arrives once it is back
# (at-least-once: duplicates are counted, none may be missing).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup fleet
TOP=$E2E_DIR
CUT_S=${FLEET_CUT_S:-8}
N_BEFORE=20 # events per gateway with the uplink up
N_CUT=30    # events per gateway while the central broker is down
GWS=(site-1 site-2)
start_sim

# at GW: the helpers of lib.sh and outpost.sh now act on gateway GW (its
# directory, site broker and outpostd).
declare -A SITE_PORT SITE_PID
at() {
	E2E_DIR=$TOP/$1
	BROKER_PORT=${SITE_PORT[$1]:-}
	OUTPOSTD_PID=${SITE_PID[$1]:-}
	OUTPOST_CONF=$E2E_DIR/outpost.json
	OUTPOST_SOCK=$E2E_DIR/outpostd.sock
}

# --- the central broker: operators on one listener, bridges on another ---
E2E_DIR=$TOP/central
mkdir -p "$E2E_DIR"
OPS_PORT=$(free_port)
BRIDGE_PORT=$(free_port)
# The ACL files as docs/FLEET.md gives them.
cat >"$E2E_DIR/bridges.acl" <<'EOF'
# Each gateway's bridge logs in with its gateway_id as user name and may
# publish and subscribe under outpost/<its gateway_id>/ only.
pattern readwrite outpost/%u/#
EOF
cat >"$E2E_DIR/operators.acl" <<'EOF'
# Operators: signed commands to any gateway, and what the gateways publish.
topic write outpost/+/cmd
topic read outpost/+/reply/#
topic read outpost/+/status
topic read outpost/+/bridge
topic read outpost/+/receipts/#
topic read outpost/+/inbound
EOF
: >"$E2E_DIR/passwd"
for gw in "${GWS[@]}"; do
	mosquitto_passwd -b "$E2E_DIR/passwd" "$gw" "pw-$gw" || fail "mosquitto_passwd"
done
chown mosquitto: "$E2E_DIR/passwd" "$E2E_DIR"/*.acl 2>/dev/null
chmod 0600 "$E2E_DIR/passwd"
cat >"$E2E_DIR/mosquitto.conf" <<EOF
per_listener_settings true
persistence true
persistence_location $E2E_DIR/mosquitto/
autosave_interval 1
max_queued_messages 0
log_dest stderr
log_type error
log_type warning
log_type notice
listener $OPS_PORT 127.0.0.1
allow_anonymous true
acl_file $E2E_DIR/operators.acl
listener $BRIDGE_PORT 127.0.0.1
allow_anonymous false
password_file $E2E_DIR/passwd
acl_file $E2E_DIR/bridges.acl
EOF
BROKER_PORT=$OPS_PORT
run_broker "$E2E_DIR/mosquitto.conf"
wait_for "port_open $OPS_PORT && port_open $BRIDGE_PORT" 10 ||
	fail "the central broker did not start: $(tail -5 "$E2E_DIR/mosquitto.log")"
CENTRAL_PID=$BROKER_PID
CENTRAL_CONF=$E2E_DIR/mosquitto.conf

# A durable subscriber at the centre (the fleet's dashboard): it collects
# every receipt, and its session keeps them across the central restart.
watch_receipts() {
	e2e_spawn "$TOP/central-receipts.$1.txt" mosquitto_sub -h 127.0.0.1 -p "$OPS_PORT" -c \
		-i fleet-dashboard -q 1 -v -t 'outpost/+/receipts/#'
	WATCH_PID=$E2E_LAST_PID
}
watch_receipts 1
# central_has GW PREFIX N: a receipt of each event PREFIX-1..N of GW arrived.
central_ids() {
	cat "$TOP"/central-receipts.*.txt 2>/dev/null | grep -o '^outpost/[^ ]*' |
		sed -n "s|^outpost/$1/receipts/||p"
}
central_has() {
	[ "$(central_ids "$1" | grep "^$2-[0-9]*\$" | sort -u | wc -l)" -eq "$3" ]
}

# --- two gateways, each bridged with the shipped example ---
for gw in "${GWS[@]}"; do
	at "$gw"
	bridge=$(sed -e "s/site-042/$gw/g" \
		-e "s/^address .*/address 127.0.0.1:$BRIDGE_PORT/" \
		-e "s/^remote_password .*/remote_password pw-$gw/" \
		-e '/^bridge_cafile/d' -e 's/^restart_timeout .*/restart_timeout 1/' \
		"$E2E_ROOT/config/mosquitto/bridge.conf.example")
	grep -q "^topic outpost/$gw/# both 1$" <<<"$bridge" || fail "the example's topic line changed"
	start_broker "$bridge"
	SITE_PORT[$gw]=$BROKER_PORT
	write_config ".gateway_id = \"$gw\"" ".mqtt.client_id = \"outpostd-$gw\"" \
		'.control.mqtt.credentials = "remote"' '.accounts.main.status_poll.enabled = false'
	key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	jq --arg k "$key" '.remote = {hmac_key: $k}' "$E2E_DIR/secrets.json" >"$E2E_DIR/s.tmp" &&
		cat "$E2E_DIR/s.tmp" >"$E2E_DIR/secrets.json" && rm "$E2E_DIR/s.tmp"
	(umask 077 && echo "$key" >"$E2E_DIR/cmd.key")
	start_outpostd
	SITE_PID[$gw]=$OUTPOSTD_PID
	# what the site broker carries on the receipts topics: each once, unless
	# the centre echoed them back down the "both" bridge
	e2e_spawn "$E2E_DIR/site-receipts.txt" mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 \
		-t "outpost/$gw/receipts/#"
done
for gw in "${GWS[@]}"; do
	out=$(mosquitto_sub -h 127.0.0.1 -p "$OPS_PORT" -t "outpost/$gw/bridge" -C 1 -W 10)
	[ "$out" = 1 ] || fail "the bridge of $gw is not up at the centre ('$out')"
done

# rctl GW ARGS...: outpostctl against the central broker, for gateway GW.
rctl() {
	local gw=$1
	shift
	"$BUILD/outpostctl" --mqtt "127.0.0.1:$OPS_PORT" --gateway "$gw" \
		--key-file "$TOP/$gw/cmd.key" --timeout 5000 "$@"
}

# 1. Each gateway by id, from the centre: status and logs.
for gw in "${GWS[@]}"; do
	out=$(rctl "$gw" --json status) || fail "status of $gw from the centre: $out"
	jq -e --arg g "$gw" '.ok and .gateway_id == $g' <<<"$out" >/dev/null ||
		fail "status of $gw from the centre: $out"
	rctl "$gw" --json logs --since 1 >"$TOP/$gw.logs" || fail "logs of $gw from the centre"
	grep -q "running: gateway $gw," "$TOP/$gw.logs" || fail "the logs pulled are not $gw's"
done
out=$("$BUILD/outpostctl" --mqtt "127.0.0.1:$OPS_PORT" --gateway site-2 \
	--key-file "$TOP/site-1/cmd.key" --timeout 5000 status 2>&1) &&
	fail "site-2 took a command signed with site-1's key"
grep -q "bad signature" <<<"$out" || fail "site-1's key at site-2: $out"

# 2. Events at both sites: their receipts arrive at the centre.
for gw in "${GWS[@]}"; do
	at "$gw"
	publish -n "$N_BEFORE" --kind payment --id-prefix "$gw-a"
done
for gw in "${GWS[@]}"; do
	wait_for "central_has $gw $gw-a $N_BEFORE" 30 ||
		fail "$gw: $(central_ids "$gw" | grep -c "^$gw-a-") of $N_BEFORE receipts at the centre"
done

# 3. ACLs: site-2's login cannot publish under outpost/site-1/; site-1's can.
timeout 10 mosquitto_sub -h 127.0.0.1 -p "$OPS_PORT" -t 'outpost/site-1/receipts/acl' -C 1 -v \
	>"$TOP/acl.out" &
sub=$!
sleep 0.5
for gw in site-2 site-1; do
	mosquitto_pub -h 127.0.0.1 -p "$BRIDGE_PORT" -u "$gw" -P "pw-$gw" -q 1 \
		-t outpost/site-1/receipts/acl -m "from $gw" || fail "publish as $gw"
done
wait "$sub"
[ "$(cat "$TOP/acl.out")" = "outpost/site-1/receipts/acl from site-1" ] ||
	fail "ACL: the centre got '$(cat "$TOP/acl.out")' on site-1's topic"

# 4. The central broker down for CUT_S seconds; the sites go on.
t_cut=$(date +%s)
BROKER_PID=$CENTRAL_PID
stop_broker
for gw in "${GWS[@]}"; do
	at "$gw"
	publish -n "$N_CUT" --kind payment --id-prefix "$gw-b"
	wait_sent $((N_BEFORE + N_CUT)) 30 || fail "$gw did not send during the cut"
done
out=$(rctl site-1 status 2>&1) && fail "a command reached site-1 with the centre down"
left=$((CUT_S - ($(date +%s) - t_cut)))
[ "$left" -le 0 ] || sleep "$left"
E2E_DIR=$TOP/central BROKER_PORT=$OPS_PORT run_broker "$CENTRAL_CONF"
wait_for "port_open $OPS_PORT && port_open $BRIDGE_PORT" 10 || fail "the centre did not restart"
cut=$(($(date +%s) - t_cut))
kill -0 "$WATCH_PID" 2>/dev/null || watch_receipts 2

# 5. Everything the sites published during the cut arrives; the gateways
# answer again.
for gw in "${GWS[@]}"; do
	wait_for "central_has $gw $gw-b $N_CUT" 60 ||
		fail "$gw: $(central_ids "$gw" | grep "^$gw-b-" | sort -u | wc -l) of $N_CUT receipts of the cut at the centre"
	central_has "$gw" "$gw-a" "$N_BEFORE" || fail "$gw: receipts from before the cut lost"
	rctl "$gw" --json status | jq -e --arg g "$gw" '.gateway_id == $g' >/dev/null ||
		fail "status of $gw after the cut"
done
for gw in "${GWS[@]}"; do
	n=$(grep -c "\"event_id\"" "$TOP/$gw/site-receipts.txt")
	[ "$n" -eq $((N_BEFORE + N_CUT)) ] ||
		fail "$gw: the site broker carried $n receipts for $((N_BEFORE + N_CUT)) events (an echo?)"
done
total=$(cat "$TOP"/central-receipts.*.txt | grep -c "^outpost/[^/]*/receipts/site-")
uniq=$(cat "$TOP"/central-receipts.*.txt | grep -o "^outpost/[^/]*/receipts/site-[^ ]*" | sort -u | wc -l)
for gw in "${GWS[@]}"; do
	at "$gw"
	stop_outpostd || fail "outpostd of $gw exited non-zero"
done
pass "2 gateways through a central broker: status and logs of each by id, a key and a login confined to their gateway; $((2 * (N_BEFORE + N_CUT))) events, $uniq receipts at the centre ($((total - uniq)) duplicates), $((2 * N_CUT)) of them published during a ${cut} s cut of the central broker"
