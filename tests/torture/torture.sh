# tests/torture/torture.sh - helpers for the shim-driven torture tests (bash,
# sourced after tests/e2e/lib.sh and tests/e2e/outpost.sh).
#
#   torture_setup powercut        # e2e_setup, broker, sim; checks shim and mdb tools
#   round_begin 3                 # new store, client id, id prefix; config in $R_DIR
#   round_start LD_PRELOAD="$TT_SO" OUTPOST_PC_DIR="$R_STORE" ...
#                                 # 0: link up; 1: exited already (status in R_RC)
#   round_publish                 # EVENTS events, the broker's PUBACKs logged
#   round_alive, round_reap, round_stop
#   round_check_env "$R_STORE"    # mdb_stat -a and mdb_dump -a succeed
#   round_start; round_finish     # drain, R_ACKED R_LOST R_DUPS R_AMBIG, stop
#
# One round = one store, one MQTT client id (so one broker session) and one
# event-id prefix, all fresh: rounds share the broker and the sim but never
# see each other's events. Every outpostd goes into E2E_PIDS, so the e2e
# cleanup kills whatever a failing round leaves behind.

: "${EVENTS:=300}"
: "${RATE:=400}"
TT_SO="$E2E_ROOT/$BUILD/tests/powercut.so"
# A sanitizer build (BUILD=build/san) refuses an LD_PRELOAD ahead of its
# runtime; the shim only wraps libc calls, which works either way.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

torture_setup() {
	e2e_setup "torture-$1"
	[ -f "$TT_SO" ] || fail "no shim at $TT_SO (make torture-bins)"
	command -v mdb_stat >/dev/null && command -v mdb_dump >/dev/null ||
		fail "mdb_stat/mdb_dump missing (apt-get install lmdb-utils)"
	start_broker
	start_sim --latency-ms 2
}

# round_begin I [fresh]: $R_DIR, $R_STORE, $R_PREFIX and a config for round
# I; a first start creates the store and registers the broker session, so
# events published while outpostd is down are kept for it ("fresh": no first
# start, the store does not exist yet).
round_begin() {
	R_NUM=$1
	R_DIR="$E2E_DIR/r$1"
	R_STORE="$R_DIR/store"
	R_PREFIX="r$1"
	R_LOG="$R_DIR/outpostd.log"
	R_PUBLOG="$R_DIR/pub.log"
	R_PUBLISHED=0
	mkdir -p "$R_DIR"
	write_config ".store.path = \"$R_STORE\" | .mqtt.client_id = \"torture-$R_NUM\"" \
		'.sender.max_inflight = 8'
	[ "${2:-}" = fresh ] && return 0
	round_start || fail "round $1: outpostd did not come up: $(tail -3 "$R_LOG")"
	round_stop || fail "round $1: first stop exited $?: $(tail -3 "$R_LOG")"
}

# round_start [VAR=VAL...]: outpostd with these variables in its environment;
# waits until its broker link is up (0) or it has exited (1, R_RC set).
# A waiter subshell runs it and writes its exit status to $R_DIR/rc: this
# shell would print "Killed" for a child that dies of SIGKILL by itself.
round_start() {
	rm -f "$OUTPOST_SOCK" "$R_DIR/pid" "$R_DIR/rc"
	echo "--- start $* $(date +%T.%N)" >>"$R_LOG"
	(
		env "$@" "$BUILD/outpostd" -c "$OUTPOST_CONF" &
		echo $! >"$R_DIR/pid"
		wait $!
		echo $? >"$R_DIR/rc.tmp" && mv "$R_DIR/rc.tmp" "$R_DIR/rc"
	) >>"$R_LOG" 2>&1 &
	wait_for "[ -s '$R_DIR/pid' ]" 10 || fail "round $R_NUM: outpostd did not start"
	OUTPOSTD_PID=$(cat "$R_DIR/pid")
	E2E_PIDS+=("$OUTPOSTD_PID")
	R_RC=
	wait_for "! round_alive || [ \"\$(ctl status 2>/dev/null | jq -r .mqtt.connected)\" = true ]" 30 ||
		fail "round $R_NUM: outpostd neither came up nor exited: $(tail -3 "$R_LOG")"
	round_alive && return 0
	round_reap
	return 1
}

# round_alive: the daemon has not exited yet.
round_alive() {
	[ -n "${OUTPOSTD_PID:-}" ] && [ ! -e "$R_DIR/rc" ]
}

# round_reap: the exited daemon's status into R_RC.
round_reap() {
	wait_for "[ -e '$R_DIR/rc' ]" 10 || fail "round $R_NUM: no exit status from outpostd"
	R_RC=$(cat "$R_DIR/rc")
	e2e_forget "$OUTPOSTD_PID"
	OUTPOSTD_PID=
}

# round_stop: SIGTERM, SIGKILL after 10 s; returns the exit status.
round_stop() {
	kill -TERM "$OUTPOSTD_PID" 2>/dev/null
	wait_for '! round_alive' 10 || kill -KILL "$OUTPOSTD_PID" 2>/dev/null
	round_reap
	return "$R_RC"
}

# round_publish: EVENTS events at RATE/s, ids <prefix>-<i>, the broker's
# PUBACKs logged. The broker acknowledges them whether outpostd is up or not.
round_publish() {
	publish -n "$EVENTS" -r "$RATE" --kind mixed --id-prefix "$R_PREFIX" --log "$R_PUBLOG"
	R_PUBLISHED=1
}

# round_counts: "settled pending" from one status answer: records done (sent,
# failed, expired) and records still to send (queued, sending, retry).
round_counts() {
	ctl status 2>/dev/null |
		jq -r '.outbox | "\(.sent + .failed + .expired) \(.queued + .sending + .retry)"'
}

round_settled() {
	local c
	c=$(round_counts)
	c=${c%% *}
	echo "${c:-0}"
}

# round_drain TIMEOUT: waits until every published event is settled (0), or
# nothing is left to send and nothing changed for 5 s (1: events are missing,
# the verdict will count them), or TIMEOUT (1).
round_drain() {
	local c last= since=$SECONDS end=$((SECONDS + ${1:-60}))
	while [ $SECONDS -lt $end ]; do
		c=$(round_counts)
		[ -n "$c" ] && [ "${c%% *}" -ge "$EVENTS" ] && return 0
		if [ "$c" != "$last" ]; then
			last=$c since=$SECONDS
		elif [ "${c##* }" = 0 ] && [ $((SECONDS - since)) -ge 5 ]; then
			return 1
		fi
		sleep 0.2
	done
	return 1
}

# round_check_env DIR: the store opens read-only and every page of every DB
# can be walked (mdb_dump reads all records). An empty data.mdb is a store
# that was never committed: outpostd creates it afresh.
round_check_env() {
	local dir=$1
	[ -s "$dir/data.mdb" ] || return 0
	mdb_stat -a "$dir" >"$R_DIR/mdb_stat.txt" 2>&1 || return 1
	mdb_dump "$dir" >/dev/null 2>>"$R_DIR/mdb_stat.txt" || return 1
	# -a refuses a store with no named DB yet (cut before the first commit).
	if [ "$(awk '/Entries:/ { print $2; exit }' "$R_DIR/mdb_stat.txt")" != 0 ]; then
		mdb_dump -a "$dir" >/dev/null 2>>"$R_DIR/mdb_stat.txt" || return 1
	fi
	rm -f "$dir/lock.mdb"
}

# round_verdict: compares the publisher's PUBACK log with the sim's record
# for this round's prefix. -> R_ACKED R_DELIVERED R_LOST R_DUPS R_AMBIG
round_verdict() {
	local refs="$R_DIR/refs"
	sim_refs | grep "^$R_PREFIX-" >"$refs"
	R_ACKED=$(cut -f1 "$R_PUBLOG" | sort -u | wc -l)
	R_DELIVERED=$(sort -u "$refs" | wc -l)
	R_LOST=$(comm -23 <(cut -f1 "$R_PUBLOG" | sort -u) <(sort -u "$refs") | wc -l)
	R_DUPS=$(($(wc -l <"$refs") - R_DELIVERED))
	R_AMBIG=$(ambiguous_total) || R_AMBIG=0
}

# round_finish: drains a restarted daemon, takes the verdict, stops it.
round_finish() {
	[ "$R_PUBLISHED" = 1 ] || round_publish
	round_drain 60 || echo "round $R_NUM: only $(round_settled) of $EVENTS settled" >&2
	round_verdict
	round_stop || fail "round $R_NUM: outpostd exited $? on SIGTERM: $(tail -3 "$R_LOG")"
}

# count_of NAME FILE: one number from the shim's count file
# ("ops=.. writes=.. syncs=.. meta=..").
count_of() {
	sed -n "s/^\(.* \)\?$1=\([0-9]*\).*/\2/p" "$2" 2>/dev/null
}

# spread COUNT LO HI: COUNT numbers in LO..HI, one in each of COUNT equal
# slices (random within the slice, so runs with other seeds probe elsewhere).
spread() {
	local count=$1 lo=$2 hi=$3 i width
	[ "$count" -gt 0 ] || return 0
	width=$(((hi - lo + 1) * 1000 / count))
	for ((i = 0; i < count; i++)); do
		echo $((lo + (i * width + (RANDOM * 32768 + RANDOM) % (width > 0 ? width : 1)) / 1000))
	done | awk -v hi="$hi" '$1 <= hi' | sort -nu
}
