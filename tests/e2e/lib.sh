# tests/e2e/lib.sh - shared helpers for the end-to-end tests (bash, sourced).
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_setup my_test            # temp dir $E2E_DIR, cleanup on EXIT
#   start_broker                 # -> BROKER_PORT
#   start_sim                    # -> SIM_PORT SIM_RECORD SIM_CA SIM_ACCOUNT SIM_TOKEN
#   start_h2_proxy               # nghttpx (HTTP/2) in front of the sim -> H2_URL
#   ...                          # run outpostd against them
#   wait_for '[ "$(sim_count)" -ge 10 ]' 20 || fail "not all sent"
#   pass "all sent"
#
# Every process started through e2e_spawn (broker, sim) is killed on exit,
# by its own pid. Binaries come from $BUILD (default build), so the same
# test runs against a sanitizer build with BUILD=build/san.

set -u
# mosquitto lives in /usr/sbin, which a non-login shell may not have.
PATH="$PATH:/usr/sbin:/sbin"

: "${BUILD:=build}"
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_NAME=${E2E_NAME:-e2e}
E2E_DIR=
E2E_PIDS=()

# jq 1.6 (Debian 12) exits 0 from `jq -e FILTER` when its input is empty,
# so `record_of x | jq -e '.state == "sent"'` would pass for a record that
# does not exist. With -e and the input on stdin, an empty input fails
# here (exit 4, as jq 1.7 does). Filters with files or -n pass through.
jq() {
	local a skip=0 pos=0 e=0 n=0 in
	for a in "$@"; do
		if [ "$skip" -gt 0 ]; then skip=$((skip - 1)); continue; fi
		case $a in
		--exit-status) e=1 ;;
		--null-input) n=1 ;;
		--arg | --argjson | --slurpfile | --rawfile) skip=2 ;;
		--*) ;;
		-*) [[ $a == *e* ]] && e=1; [[ $a == *n* ]] && n=1 ;;
		*) pos=$((pos + 1)) ;;
		esac
	done
	if [ "$e" = 0 ] || [ "$n" = 1 ] || [ "$pos" -gt 1 ]; then
		command jq "$@"
		return
	fi
	in=$(cat)
	# A regex search stops at the first non-space; ${in//...} would take
	# minutes over a megabyte of outbox listing.
	if ! [[ $in =~ [^[:space:]] ]]; then
		echo "jq -e: empty input" >&2
		return 4
	fi
	command jq "$@" <<<"$in"
}

# A fixed test account: the values only need to be well-formed.
SIM_ACCOUNT=ACe2e0000000000000000000000000e2e0
SIM_TOKEN=e2e-test-token-not-a-secret
# Templates the sim knows, as "sid:number of variables".
SIM_TEMPLATE_1=HX00000000000000000000000000000001 # 1 variable
SIM_TEMPLATE_2=HX00000000000000000000000000000002 # 2 variables
SIM_TEMPLATE_0=HX00000000000000000000000000000000 # no variables
SIM_TEMPLATES=("$SIM_TEMPLATE_0:0" "$SIM_TEMPLATE_1:1" "$SIM_TEMPLATE_2:2")

fail() {
	echo "FAIL: $E2E_NAME: $*" >&2
	exit 1
}

pass() {
	echo "PASS: $E2E_NAME: $*"
}

# e2e_setup NAME: fresh work dir build/e2e/NAME, cleanup trap.
e2e_setup() {
	E2E_NAME=${1:?e2e_setup NAME}
	E2E_DIR="$E2E_ROOT/$BUILD/e2e/$E2E_NAME"
	rm -rf "$E2E_DIR"
	mkdir -p "$E2E_DIR"
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
}

e2e_cleanup() {
	local rc=$? pid
	for pid in "${E2E_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do
		# Give each process 5 s to flush, then make sure it is gone.
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	E2E_PIDS=()
	return $rc
}

# e2e_spawn LOGFILE CMD...: start CMD in the background, remember its pid
# (in E2E_LAST_PID) for cleanup.
e2e_spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	E2E_LAST_PID=$!
	E2E_PIDS+=("$E2E_LAST_PID")
}

# e2e_forget PID: drop PID from the cleanup list (after it was stopped).
e2e_forget() {
	local keep=() p
	for p in "${E2E_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	E2E_PIDS=("${keep[@]+"${keep[@]}"}")
}

# e2e_stop PID: SIGTERM, wait up to 10 s, then SIGKILL. Returns the
# process's exit status (so a sanitizer report fails the caller).
e2e_stop() {
	local pid=$1 rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || rc=$?
	e2e_forget "$pid"
	return $rc
}

# wait_for 'SHELL CONDITION' TIMEOUT_S: poll every 0.1 s; 1 on timeout.
wait_for() {
	local cond=$1 timeout=${2:-10} i n
	n=$(awk "BEGIN { print int($timeout * 10) }")
	for ((i = 0; i <= n; i++)); do
		eval "$cond" && return 0
		sleep 0.1
	done
	return 1
}

# port_open PORT: true if 127.0.0.1:PORT accepts a TCP connection.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
# Random picks below the kernel's ephemeral range (32768+), so parallel
# tests rarely collide; a race with another binder remains possible.
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((10000 + RANDOM % 22000))
		if command -v ss >/dev/null; then
			[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] || continue
		fi
		port_open "$p" || { echo "$p"; return 0; }
	done
	fail "no free port found"
}

# start_broker [EXTRA]: mosquitto on a free port with persistence in
# $E2E_DIR; the text EXTRA is added to its config (a bridge: test_fleet.sh).
start_broker() {
	BROKER_PORT=$(free_port)
	mkdir -p "$E2E_DIR"
	# max_queued_messages 0 = unlimited: the default (1000) silently drops
	# QoS 1 messages for an offline persistent client, which would look
	# like message loss in outpost. set_tcp_nodelay as in
	# config/mosquitto/outpost.conf.
	cat >"$E2E_DIR/mosquitto.conf" <<EOF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $E2E_DIR/mosquitto/
autosave_interval 1
max_queued_messages 0
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
${1:-}
EOF
	run_broker "$E2E_DIR/mosquitto.conf"
}

# run_broker CONF: mosquitto with a config of the caller's, whose first
# listener is $BROKER_PORT and whose persistence_location is
# $E2E_DIR/mosquitto/ (made here) -> BROKER_PID. After stop_broker, the same
# CONF starts it again with its port and saved sessions.
run_broker() {
	mkdir -p "$E2E_DIR/mosquitto"
	# Started as root, mosquitto runs as its own user: without this its
	# saves fail ("Permission denied") and persistence is silently off.
	[ "$(id -u)" != 0 ] || chown mosquitto: "$E2E_DIR/mosquitto" ||
		fail "cannot give $E2E_DIR/mosquitto to the mosquitto user"
	e2e_spawn "$E2E_DIR/mosquitto.log" mosquitto -c "$1"
	BROKER_PID=$E2E_LAST_PID
	export BROKER_PORT BROKER_PID
	wait_for "port_open $BROKER_PORT" 10 ||
		fail "mosquitto did not listen on $BROKER_PORT: $(tail -5 "$E2E_DIR/mosquitto.log")"
}

stop_broker() {
	e2e_stop "${BROKER_PID:-}"
	BROKER_PID=
}

# start_sim [extra twilio-sim flags]: the sim with the test CA's server
# cert, $SIM_ACCOUNT/$SIM_TOKEN and $SIM_TEMPLATES, recording to
# $E2E_DIR/sim.jsonl. Reuses SIM_PORT if set (a restart keeps the port).
start_sim() {
	local certs="$E2E_ROOT/build/test-certs" t flags=()
	"$E2E_ROOT/scripts/make-test-certs.sh" "$certs" || fail "cannot make test certs"
	for t in "${SIM_TEMPLATES[@]}"; do flags+=(--template "$t"); done
	SIM_RECORD="$E2E_DIR/sim.jsonl"
	SIM_CA="$certs/ca.pem"
	rm -f "$E2E_DIR/sim.port"
	e2e_spawn "$E2E_DIR/sim.log" "$BUILD/twilio-sim" --port "${SIM_PORT:-0}" \
		--port-file "$E2E_DIR/sim.port" --cert "$certs/server.pem" \
		--key "$certs/server.key" --account "$SIM_ACCOUNT" --token "$SIM_TOKEN" \
		--record "$SIM_RECORD" "${flags[@]}" "$@"
	SIM_PID=$E2E_LAST_PID
	wait_for "[ -s '$E2E_DIR/sim.port' ]" 10 ||
		fail "twilio-sim did not start: $(tail -5 "$E2E_DIR/sim.log")"
	SIM_PORT=$(cat "$E2E_DIR/sim.port")
	SIM_URL="https://localhost:$SIM_PORT"
	export SIM_PORT SIM_RECORD SIM_CA SIM_ACCOUNT SIM_TOKEN SIM_URL SIM_PID
}

# start_h2_proxy [extra nghttpx flags]: nghttpx (Debian's nghttp2-proxy)
# on a free port in front of the sim, which speaks only HTTP/1.1: its
# frontend offers h2 (and http/1.1) by ALPN with the test server cert, its
# backend reaches the sim over TLS, verified against the test CA. One
# process, so killing H2_PID kills the proxy. -> H2_PORT H2_URL H2_PID;
# requests in $E2E_DIR/h2-access.log as "alpn status path".
start_h2_proxy() {
	local certs="$E2E_ROOT/build/test-certs"
	H2_PORT=${H2_PORT:-$(free_port)}
	# --conf=/dev/null: not /etc/nghttpx/nghttpx.conf. --no-ocsp: no
	# stapling script to run. The sim is "localhost" in its cert.
	e2e_spawn "$E2E_DIR/h2.log" nghttpx --conf=/dev/null --single-process --workers=1 \
		--frontend="127.0.0.1,$H2_PORT" --backend="127.0.0.1,$SIM_PORT;;tls;sni=localhost" \
		--cacert="$certs/ca.pem" --no-ocsp --no-via --log-level=WARN \
		--errorlog-file="$E2E_DIR/h2.log" --accesslog-file="$E2E_DIR/h2-access.log" \
		--accesslog-format='$alpn $status $path' "$@" "$certs/server.key" "$certs/server.pem"
	H2_PID=$E2E_LAST_PID
	wait_for "port_open $H2_PORT" 10 || fail "nghttpx did not listen: $(tail -5 "$E2E_DIR/h2.log")"
	H2_URL="https://localhost:$H2_PORT"
	export H2_PORT H2_URL H2_PID
}

# stop_sim: SIGTERM; fails the test unless the sim exits 0 (it flushes
# the record first, and a sanitizer build reports leaks here).
stop_sim() {
	local rc=0
	e2e_stop "${SIM_PID:-}" || rc=$?
	SIM_PID=
	[ "$rc" = 0 ] || fail "twilio-sim exited with status $rc: $(tail -5 "$E2E_DIR/sim.log")"
}

# sim_count: messages the sim accepted (lines in the record file).
sim_count() {
	if [ -f "${SIM_RECORD:-}" ]; then wc -l <"$SIM_RECORD" | tr -d ' '; else echo 0; fi
}

# sim_curl ARGS...: curl against the sim with its CA and credentials;
# prints the body, then the HTTP status on the last line.
sim_curl() {
	curl -sS --cacert "$SIM_CA" -u "$SIM_ACCOUNT:$SIM_TOKEN" -w '\n%{http_code}\n' "$@"
}

# Poison events: the kinds outpostd must take without delaying good events
# (tests/torture/test_poison.sh, tools/bench/run.sh), in turn by number.
# Kinds 0-3 are rejected at ingest, 4 and 5 are refused by the provider:
# the sim's magic recipients answer 400 / 21211 (permanent) and 500 / 20500
# (every time: retried until max_attempts). Topics and fields are those of
# tests/e2e/outpost.sh; write_config "${POISON_CONFIG[@]}" adds the route of
# the unapproved template.
POISON_KINDS=(json missing phone template refused transient)
POISON_CONFIG=(
	'.templates.promo = {"twilio_content_sid": "HX0000000000000000000000000000b001", "variables": 1, "status": "pending"}'
	'.routes += [{"name": "promo", "topic": "site/+/promo/#", "template": "promo", "to": "{phone}", "unapproved": "fail", "vars": {"1": "{id}"}}]'
)

# poison_kind N: the kind of poison event N, one of POISON_KINDS in turn.
poison_kind() {
	echo "${POISON_KINDS[$(($1 % ${#POISON_KINDS[@]}))]}"
}

# poison_id N: the event id of poison event N, as the pub log must name it.
# A malformed event leaves a record without an id: the checker matches it
# to a published bad-<i> (tools/checker/README.md).
poison_id() {
	local kind
	kind=$(poison_kind "$1")
	if [ "$kind" = json ]; then echo "bad-$1"; else echo "poison-$kind-$1"; fi
}

# pub_poison N: publishes poison event N (kind N mod 6) at QoS 1 to the
# test broker; returns once the broker acknowledged it. Every event that
# parses carries pub_us, so a route that renders {pub_us} takes it too.
pub_poison() {
	local id kind topic=site/1/payments/card payload head rest
	id=$(poison_id "$1")
	kind=$(poison_kind "$1")
	head="{\"id\": \"$id\", \"customer\": "
	rest=", \"amount\": \"1.00\", \"currency\": \"EUR\", \"pub_us\": $(date +%s%6N)}"
	case $kind in
	json) payload="$head{" ;;
	missing) payload="$head{\"phone\": \"+491701234567\"}$rest" ;;
	phone) payload="$head{\"name\": \"Ana\", \"phone\": \"+12\"}$rest" ;;
	template)
		topic=site/1/promo/x
		payload="{\"id\": \"$id\", \"phone\": \"+491701234567\"$rest"
		;;
	refused) payload="$head{\"name\": \"Ana\", \"phone\": \"+15005550001\"}$rest" ;;
	transient) payload="$head{\"name\": \"Ana\", \"phone\": \"+15005550009\"}$rest" ;;
	esac
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$topic" -m "$payload" ||
		fail "publishing poison event $id failed"
}
