#!/bin/bash
# The broker side of zero loss (docs/RELIABILITY.md), with mosquitto run on
# the settings of the shipped config/mosquitto/outpost.conf:
#  1. RESTARTS SIGTERM restarts of the broker at random moments while EVENTS
#     events stream in: the broker saves its sessions on the way down, and
#     outpostd (persistent session) and the publisher reconnect by themselves.
#     Every other restart finds outpostd frozen (SIGSTOP) since the last one,
#     so that the broker goes down holding a backlog for it;
#  2. outpostd stopped while OFFLINE events (5,000: five times mosquitto's
#     default max_queued_messages) are published, then started again;
#  3. negative control: step 2 with the shipped config minus its
#     max_queued_messages line (so mosquitto's default, 1000). The broker
#     drops what is beyond that without telling the publisher, and the
#     checker must count those events as lost, or this test could not fail.
# Steps 1 and 2: checker lost 0, unexpected 0, duplicated <= ambiguous.
#
#   RESTARTS=200 tests/torture/test_broker.sh   # long form (40,000 events)
#   BROKER_EDIT='s/^persistence true/persistence false/' tests/torture/test_broker.sh
#       step 1 on an edited config (a sed expression), e.g. to see it fail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=broker
e2e_setup broker
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
RESTARTS=${RESTARTS:-20}
EVENTS=${EVENTS:-$((RESTARTS * 200))}
OFFLINE=${OFFLINE:-5000}
SHIPPED=config/mosquitto/outpost.conf
T0=$SECONDS
echo "broker: seed $SEED, $RESTARTS restarts over $EVENTS events, $OFFLINE events while outpostd is down"

# part_begin NAME: a directory, a fresh broker port and persistence
# directory, a store and a client id (so a broker session) of its own.
part_begin() {
	P_NAME=$1
	P_DIR="$E2E_DIR/$1"
	mkdir -p "$P_DIR/mosquitto"
	# mosquitto started as root drops to its own user before it saves:
	# without this the save fails (logged only) and a restart forgets all.
	[ "$(id -u)" != 0 ] || chown mosquitto: "$P_DIR/mosquitto" ||
		fail "$1: cannot hand $P_DIR/mosquitto to the mosquitto user"
	BROKER_PORT=$(free_port)
	write_config ".store.path = \"$P_DIR/store\" | .mqtt.client_id = \"outpostd-$1\""
}

# broker_conf [SED-EXPR...]: the shipped config with the persistence
# location moved into the part's directory, then each SED-EXPR applied,
# behind a loopback listener and a log to stderr (the site's main
# mosquitto.conf, which includes ours, would hold those).
broker_conf() {
	local args=(-e "s|^persistence_location .*|persistence_location $P_DIR/mosquitto/|") e
	for e in "$@"; do args+=(-e "$e"); done
	{
		printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$BROKER_PORT"
		# notice: the line that says the broker dropped messages.
		printf 'log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n'
		printf 'log_type information\n'
		sed "${args[@]}" "$SHIPPED"
	} >"$P_DIR/mosquitto.conf"
	grep -q "^persistence_location $P_DIR/mosquitto/\$" "$P_DIR/mosquitto.conf" ||
		fail "$P_NAME: no persistence_location line in $SHIPPED to move"
}

# broker_up: mosquitto on the part's config and port (the same port after
# a restart, so that the clients find it again); its log is appended to.
broker_up() {
	echo "--- start $(date +%T.%N)" >>"$P_DIR/mosquitto.log"
	mosquitto -c "$P_DIR/mosquitto.conf" >>"$P_DIR/mosquitto.log" 2>&1 &
	BROKER_PID=$!
	E2E_PIDS+=("$BROKER_PID")
	wait_for "port_open $BROKER_PORT" 10 ||
		fail "$P_NAME: mosquitto did not listen on $BROKER_PORT: $(tail -3 "$P_DIR/mosquitto.log")"
}

# broker_down: SIGTERM and wait. A broker that needed the SIGKILL of
# e2e_stop, or exited with an error, may not have saved its sessions: that
# would be a broker crash, which is not what this test is about.
broker_down() {
	e2e_stop "$BROKER_PID" || fail "$P_NAME: mosquitto exited with status $? on SIGTERM"
	BROKER_PID=
	! grep -q 'Error' "$P_DIR/mosquitto.log" ||
		fail "$P_NAME: mosquitto reported: $(grep -m 3 Error "$P_DIR/mosquitto.log")"
	[ -s "$P_DIR/mosquitto/mosquitto.db" ] || fail "$P_NAME: mosquitto saved no database"
}

# drain N TIMEOUT_S: 0 once N records are settled (sent, failed, expired);
# 1 when nothing is left to send and the counts stood still for 3 s (events
# are missing: the checker will count them), or after TIMEOUT_S.
drain() {
	local c last='' since=$SECONDS end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		c=$(ctl status 2>/dev/null |
			jq -r '.outbox | "\(.sent + .failed + .expired) \(.queued + .sending + .retry)"')
		[ -n "$c" ] && [ "${c%% *}" -ge "$1" ] && return 0
		if [ "$c" != "$last" ]; then
			last=$c since=$SECONDS
		elif [ "${c##* }" = 0 ] && [ $((SECONDS - since)) -ge 3 ]; then
			return 1
		fi
		sleep 0.2
	done
	return 1
}

# check PREFIX: outpost-check on this part's PUBACK log, its store and the
# sim's record of its events only (the parts share the sim). Sets C_LOST
# C_DUP C_AMBIG C_SUPPRESSED C_VERDICT; the checker's summary line goes to
# the output.
check() {
	local json
	jq -c --arg p "$1-" 'select(.vars | to_entries | max_by(.key | tonumber) |
		.value | startswith($p))' "$SIM_RECORD" >"$P_DIR/sim.jsonl" ||
		fail "$P_NAME: cannot read the sim's record"
	json=$("$BUILD/outpost-check" --json --strict --seed "$SEED" --pub-log "$P_DIR/pub.log" \
		--sim-record "$P_DIR/sim.jsonl" --store "$P_DIR/store" 2>"$P_DIR/check.txt")
	[ $? -le 1 ] || fail "$P_NAME: checker could not run: $(tail -3 "$P_DIR/check.txt")"
	grep '^checker:' "$P_DIR/check.txt" | sed "s/^/$P_NAME: /"
	read -r C_LOST C_DUP C_AMBIG C_SUPPRESSED C_VERDICT < <(jq -r \
		'"\(.lost) \(.duplicated) \(.ambiguous) \(.states.suppressed // 0) \(.verdict)"' <<<"$json")
}

# offline NAME PREFIX [SED-EXPR...]: outpostd registers its session and
# stops; OFFLINE events are published and acknowledged by the broker; then
# outpostd starts again and takes what the broker kept. O_DRAINED: 1 if
# every event was settled.
offline() {
	local acked
	part_begin "$1"
	broker_conf "${@:3}"
	broker_up
	start_outpostd
	stop_outpostd || fail "$1: outpostd exited $? on SIGTERM"
	publish -n "$OFFLINE" --kind mixed --id-prefix "$2" --log "$P_DIR/pub.log"
	acked=$(wc -l <"$P_DIR/pub.log")
	[ "$acked" -eq "$OFFLINE" ] || fail "$1: broker acknowledged $acked of $OFFLINE"
	start_outpostd
	O_DRAINED=1
	drain "$OFFLINE" 60 || O_DRAINED=0 O_SENT=$(outbox_count sent)
	stop_outpostd || fail "$1: outpostd exited $? on SIGTERM"
	broker_down
	check "$2"
}

start_sim --latency-ms 2

# --- 1. broker restarts during a stream -------------------------------------
part_begin restarts
broker_conf ${BROKER_EDIT:+"$BROKER_EDIT"}
broker_up
start_outpostd
# Paced to outlast RESTARTS restarts (0.2-1 s apart, plus about 0.2 s to
# restart), so that every restart cuts a live stream; the restarts go on
# until the stream ends. Not --quiet: the summary line counts the
# publisher's reconnects (it retries every 100 ms).
"$BUILD/outpost-pub" -h 127.0.0.1 -p "$BROKER_PORT" -n "$EVENTS" -r $((EVENTS * 10 / (RESTARTS * 12))) \
	--kind mixed --id-prefix brk --log "$P_DIR/pub.log" >"$P_DIR/pub.out" 2>&1 &
PUB=$!
restarts=0
frozen=0
while :; do
	# outpostd takes events far faster than they come, so without this the
	# broker would rarely go down with anything queued for it.
	if [ $((restarts % 2)) = 1 ]; then
		kill -STOP "$OUTPOSTD_PID"
		frozen=$((frozen + 1))
	fi
	sleep "0.$((20 + RANDOM % 80))"
	kill -0 "$PUB" 2>/dev/null || break
	broker_down
	broker_up
	kill -CONT "$OUTPOSTD_PID"
	restarts=$((restarts + 1))
done
kill -CONT "$OUTPOSTD_PID"
[ "$restarts" -ge "$RESTARTS" ] ||
	fail "the stream ended after $restarts of $RESTARTS restarts: publish more slowly"
wait $PUB || fail "publisher failed (seed $SEED): $(tail -3 "$P_DIR/pub.out")"
acked=$(wc -l <"$P_DIR/pub.log")
[ "$acked" -eq "$EVENTS" ] || fail "broker acknowledged $acked of $EVENTS to the publisher"
drain "$EVENTS" 120 || echo "restarts: only $(outbox_count sent) of $EVENTS sent" >&2
daemon_reconnects=$(status_num reconnects)
stop_outpostd || fail "restarts: outpostd exited $? on SIGTERM"
broker_down
check brk
[ "$C_VERDICT" = PASS ] || fail "restarts: checker failed (seed $SEED): $(tail -1 "$P_DIR/check.txt")"
r_lost=$C_LOST r_dup=$C_DUP r_ambig=$C_AMBIG
pub_reconnects=$(grep -o '[0-9]* reconnects' "$P_DIR/pub.out" | cut -d' ' -f1)
echo "restarts: $restarts broker restarts ($frozen with outpostd frozen); outpostd reconnected $daemon_reconnects times, the" \
	"publisher ${pub_reconnects:-?}; $C_SUPPRESSED redelivered events suppressed; $((SECONDS - T0)) s"

# --- 2. outpostd down while OFFLINE events are published ---------------------
T1=$SECONDS
offline offline off
[ "$O_DRAINED" = 1 ] || echo "offline: only $O_SENT of $OFFLINE sent" >&2
[ "$C_VERDICT" = PASS ] || fail "offline: checker failed (seed $SEED): $(tail -1 "$P_DIR/check.txt")"
! grep -q 'messages are being dropped' "$P_DIR/mosquitto.log" ||
	fail "offline: the broker dropped messages with the shipped config"
o_lost=$C_LOST o_dup=$C_DUP o_ambig=$C_AMBIG
echo "offline: $((SECONDS - T1)) s"
T1=$SECONDS

# --- 3. negative control: mosquitto's default max_queued_messages -------------
offline control ctl '/^max_queued_messages /d'
grep -q 'messages are being dropped' "$P_DIR/mosquitto.log" ||
	fail "control: the broker dropped nothing with max_queued_messages at its default"
[ "$C_VERDICT" = FAIL ] && [ "$C_LOST" -gt 0 ] ||
	fail "control: the checker found $C_LOST lost ($C_VERDICT) though the broker dropped messages"
echo "control: without max_queued_messages the broker dropped events and the checker counted" \
	"$C_LOST lost; $((SECONDS - T1)) s"

stop_sim
pass "restarts $restarts events $EVENTS lost $r_lost duplicated $r_dup ambiguous $r_ambig;" \
	"offline events $OFFLINE lost $o_lost duplicated $o_dup ambiguous $o_ambig;" \
	"control lost $C_LOST; $((SECONDS - T0)) s (seed $SEED)"
