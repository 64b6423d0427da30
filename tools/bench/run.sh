#!/bin/bash
# make bench: outpostd's figures on this machine, on loopback, with a real
# mosquitto and twilio-sim. Each throughput figure is the median of ROUNDS.
#
#  1. durable ingest: events/s from a broker holding N events (published while
#     outpostd was down) to all N committed in the outbox;
#  2. sends/s: the N queued messages drained to twilio-sim;
#  3. latency publish -> sim receipt at a steady 200 events/s (p50, p99),
#     one run per round; and the same stream with 1 poison event in 100
#     (tests/e2e/lib.sh pub_poison: malformed, missing field, bad phone,
#     unapproved template, refused by the provider, failing every time),
#     the latency of the good events;
#  4. RSS of outpostd idle, with N messages queued (at rest) and the peaks;
#  5. twilio-sim's own ceiling (wrk, HTTPS keep-alive) for comparison; and
#     a fast provider with a ceiling: FAST_N queued messages drained to a
#     sim answering 1 ms late whose 2 workers take FAST_WORK_US per create
#     (a queue shared by all connections: a ceiling of 2 x 1e6 / FAST_WORK_US
#     a second, 1,000 by default), then wrk against the same sim with as
#     many connections as outpostd opened (the target: outpostd >= 80 % of
#     that);
#  6. a slow provider: SLOW_N queued messages drained to a sim answering
#     200 ms late, at the account's rate_per_s 80 and 500 (the in-flight
#     limit adapts: rate x answer time, capped by sender.max_inflight,
#     default 128), once straight to the sim (HTTP/1.1) and once through
#     nghttpx offering h2 (HTTP/2): seconds to drain, sends/s, connections
#     opened, peak RSS;
#  7. recovery: REC_N events published while the sim refuses connections
#     (20 s), account rate 500/s: seconds from the sim's return to the last
#     message sent (target REC_N / rate + 2 s).
#  8. flash wear (PHASES=wear, not in the default set: it runs at a site's
#     pace, minutes): bytes outpostd makes the kernel write to the block
#     device (write_bytes of /proc/<pid>/io, whole 4 KiB pages) per event,
#     the fsyncs (fdatasync + fsync, strace -c) and the store's commits
#     (status store.commits) per event, at one event
#     every WEAR_SLOW_S s (WEAR_SLOW_N events), one a second (WEAR_N) and a
#     burst (WEAR_BURST_N as fast as the broker takes them). Each event's
#     whole life is in the window: ingest, send, the sim delivering it after
#     1 s and reading it after 8 s, the status polls that see it (2, 6, 24 s
#     after the send), its receipts; the window ends when every record is
#     read and its receipts are deleted (up to 30 s later, with the log
#     records that wait: firmware/receipts.c, logs.c). Then WEAR_IDLE_S seconds
#     of nothing (the issue's figure is an hour: WEAR_IDLE_S=3600): bytes.
#     WEAR_RUNS picks among "slow site burst" (the idle window follows site).
#  9. the gateway's figures (PHASES=gateway, not in the default set; issue
#     15): cold start to READY=1 on $NOTIFY_SOCKET (median of GW_STARTS),
#     RSS idle, peak RSS while a burst of GW_BURST_N events published live
#     is sent, RSS with GW_QUEUED_N queued at rest; each with where the
#     resident pages are (/proc/PID/smaps by mapping). It builds nothing:
#     outpostd comes from STATIC_BUILD (e.g. build/static, made by
#     `make STATIC=1`) if set, else from BUILD; the broker, sim and
#     publisher from BUILD. STATIC_BUILD works for the other phases too.
set -u
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}" "${ROUNDS:=3}" "${N:=100000}"
# BENCH_EDIT: one more jq edit of every config (to compare a setting side
# by side); PHASES: which parts run (default all of them).
: "${BENCH_EDIT:=.}" "${PHASES:=ingest latency poison sim fast slow recovery}"
: "${SLOW_N:=2000}" "${REC_N:=2000}" "${FAST_N:=20000}"
# 2 ms of work per create, 2 workers: the sim's ceiling (1,000/s) is below
# what the two shared cores allow outpostd and wrk over TLS, so the figure
# compares outpostd with the sim, not with the machine's load of the moment
# (at 300 us, 6,600/s, wrk's figure was the CPU's: docs/BENCHMARKS.md).
: "${FAST_WORK_US:=2000}"
# The fast provider's sender.max_inflight: against a provider that cannot
# take the account's rate the in-flight limit climbs to it (docs/RETRY.md).
: "${FAST_INFLIGHT:=32}"
: "${WEAR_SLOW_N:=12}" "${WEAR_SLOW_S:=10}" "${WEAR_N:=60}" "${WEAR_BURST_N:=1000}"
: "${WEAR_IDLE_S:=60}" "${WEAR_RUNS:=slow site burst}"
: "${GW_STARTS:=20}" "${GW_BURST_N:=20000}" "${GW_QUEUED_N:=100000}"
[ -n "${STATIC_BUILD:-}" ] && OUTPOSTD_BIN=$STATIC_BUILD/outpostd
phase() { [[ " $PHASES " == *" $1 "* ]]; }
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
E2E_NAME=bench
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# RssAnon is the daemon's own memory; the rest of VmRSS is LMDB's read-only
# map of the store file (page cache the kernel can drop), which grows with
# the pages touched, not with anything outpostd holds.
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# The bench broker lets 1000 QoS 1 messages be in flight to outpostd (the
# default 20 caps each commit batch at 20 events; config/mosquitto/ ships 1000).
bench_broker() {
	start_broker
	stop_broker
	echo "max_inflight_messages 1000" >>"$E2E_DIR/mosquitto.conf"
	e2e_spawn "$E2E_DIR/mosquitto.log" mosquitto -c "$E2E_DIR/mosquitto.conf"
	BROKER_PID=$E2E_LAST_PID
	wait_for "port_open $BROKER_PORT" 10 || fail "broker did not restart"
}

# bench_fast_setup NAME: broker, a sim with 2 threads, a config that sends
# as fast as they go (32 in flight, batches of 256, rate 10,000/s).
bench_fast_setup() {
	e2e_setup "$1"
	bench_broker
	start_sim --threads 2 --keep 1000
	write_config '.sender.max_inflight = 32' '.sender.batch = 256' \
		'.accounts.main.rate_per_s = 10000' '.accounts.main.burst = 1000' "$BENCH_EDIT"
}

ingest_and_send() { # one round: ingest N with the sender held, then drain
	local r=$1 t0 t1 pid
	bench_fast_setup "bench-$r"
	# First start registers the persistent session, then outpostd goes down.
	start_outpostd
	stop_outpostd || fail "outpostd did not stop"
	publish -n "$N" --kind mixed --id-prefix "b$r" --max-inflight 1000
	# Hold the sender so ingest is measured alone, as in a provider outage:
	# the sim refuses connections, sends fail fast and back off. (A sim that
	# accepts and never answers would hold 32 TLS sessions open, ~40 KiB of
	# mbedTLS buffers each: the price of concurrency, not of the backlog.)
	stop_sim
	start_sim --down-from 0 --down-for 3600
	t0=$(now)
	start_outpostd
	wait_for "[ \"\$(status_num acked)\" -ge $N ]" 300 || fail "ingest incomplete"
	t1=$(now)
	echo "ingest $(awk "BEGIN {printf \"%.0f\", $N / ($t1 - $t0)}")" >>"$OUT"
	# The backlog at rest: outpostd unmaps the store pages it touched once
	# a second (firmware/upkeep.c); VmHWM keeps the peak of the burst.
	sleep 2
	echo "hwm_ingest $(hwm_kb "$OUTPOSTD_PID")" >>"$OUT"
	echo "rss_queued $(rss_kb "$OUTPOSTD_PID")" >>"$OUT"
	echo "anon_queued $(anon_kb "$OUTPOSTD_PID")" >>"$OUT"
	stop_outpostd
	stop_sim
	start_sim --threads 2 --keep 1000
	t0=$(now)
	start_outpostd
	wait_for "[ \"\$(outbox_count sent)\" -ge $N ]" 600 || fail "drain incomplete"
	t1=$(now)
	echo "sends $(awk "BEGIN {printf \"%.0f\", $N / ($t1 - $t0)}")" >>"$OUT"
	sleep 2
	echo "hwm_drain $(hwm_kb "$OUTPOSTD_PID")" >>"$OUT"
	echo "rss_drained $(rss_kb "$OUTPOSTD_PID")" >>"$OUT"
	echo "anon_drained $(anon_kb "$OUTPOSTD_PID")" >>"$OUT"
	stop_outpostd
	e2e_cleanup
}

latency() { # steady 200 events/s for 15 s; pub_us travels in a template variable
	e2e_setup "bench-latency-$1"
	bench_broker
	SIM_TEMPLATES=("$T_PAY:3")
	start_sim
	write_config '.routes[0].vars["3"] = "{pub_us}"' '.accounts.main.rate_per_s = 1000' "$BENCH_EDIT"
	start_outpostd
	echo "rss_idle $(rss_kb "$OUTPOSTD_PID")" >>"$OUT"
	echo "anon_idle $(anon_kb "$OUTPOSTD_PID")" >>"$OUT"
	# Warm-up: the first requests open the TLS connections (an ECDHE
	# handshake in mbedTLS costs tens of ms); steady state is what counts.
	publish -n 400 -r 200 --kind payment --id-prefix warm
	wait_sent 400 30 || fail "warm-up incomplete"
	publish -n 3000 -r 200 --kind payment --id-prefix lat
	wait_sent 3400 60 || fail "latency run incomplete"
	tail -n +401 "$SIM_RECORD" | jq -r '(.recv_us - (.vars["3"] | tonumber)) / 1000' | sort -g >"$E2E_DIR/lat.txt"
	awk '{a[NR]=$1} END {printf "lat_p50 %.2f\nlat_p99 %.2f\nlat_max %.2f\n", a[int(NR*0.5)], a[int(NR*0.99)], a[NR]}' \
		"$E2E_DIR/lat.txt" >>"$OUT"
	stop_outpostd
	e2e_cleanup
}

latency_poison() { # latency() with 30 poison events among the 3000 (2/s)
	local pub k
	e2e_setup "bench-poison-$1"
	bench_broker
	SIM_TEMPLATES=("$T_PAY:3")
	start_sim
	# The poison that fails every time keeps retrying through the run.
	write_config '.routes[0].vars["3"] = "{pub_us}"' '.accounts.main.rate_per_s = 1000' \
		'.sender.max_attempts = 1000' "${POISON_CONFIG[@]}" "$BENCH_EDIT"
	start_outpostd
	publish -n 400 -r 200 --kind payment --id-prefix warm
	wait_sent 400 30 || fail "warm-up incomplete"
	publish -n 3000 -r 200 --kind payment --id-prefix lat &
	pub=$!
	for ((k = 0; k < 30; k++)); do
		sleep 0.49
		pub_poison "$k"
	done
	wait "$pub" || fail "publisher failed"
	wait_sent 3400 60 || fail "latency run with poison incomplete"
	# The sim records good events only: no poison event is ever accepted.
	tail -n +401 "$SIM_RECORD" | jq -r '(.recv_us - (.vars["3"] | tonumber)) / 1000' | sort -g >"$E2E_DIR/lat.txt"
	awk '{a[NR]=$1} END {printf "plat_p50 %.2f\nplat_p99 %.2f\nplat_max %.2f\n", a[int(NR*0.5)], a[int(NR*0.99)], a[NR]}' \
		"$E2E_DIR/lat.txt" >>"$OUT"
	echo "plat_poison_states $(ctl status | jq -r '[.outbox.rejected, .outbox.failed, .outbox.retry + .outbox.sending] | join("/")')" >>"$OUT"
	stop_outpostd
	e2e_cleanup
}

# wrk_creates CONNS OUTKEY: creates/s over HTTPS keep-alive against the
# running sim, CONNS connections, 8 s.
wrk_creates() {
	cat >"$E2E_DIR/post.lua" <<EOL
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$SIM_ACCOUNT" "$SIM_TOKEN" | base64 -w0)"
wrk.body = "To=whatsapp%3A%2B491701234567&From=whatsapp%3A%2B14155550100&ContentSid=$T_PAY&ContentVariables=%7B%221%22%3A%22a%22%2C%222%22%3A%22b%22%2C%223%22%3A%22c%22%7D"
EOL
	wrk -t2 -c"$1" -d8s -s "$E2E_DIR/post.lua" "$SIM_URL/2010-04-01/Accounts/$SIM_ACCOUNT/Messages.json" \
		>"$E2E_DIR/wrk.txt" 2>&1
	echo "$2 $(awk '/Requests\/sec/ {printf "%.0f", $2}' "$E2E_DIR/wrk.txt")" >>"$OUT"
}

sim_ceiling() { # wrk against twilio-sim: creates/s over HTTPS keep-alive
	command -v wrk >/dev/null || { echo "sim_ceiling 0" >>"$OUT"; return; }
	e2e_setup bench-sim
	SIM_TEMPLATES=("$T_PAY:3")
	start_sim --threads 2 --keep 1000
	wrk_creates 8 sim_ceiling
	e2e_cleanup
}

# A fast provider with a ceiling: the sim answers 1 ms late, after each
# create took one of its 2 workers FAST_WORK_US (a queue, no CPU: the two
# cores stay the daemon's and TLS's). FAST_N queued (ingested while the sim refuses),
# then drained at sender.max_inflight FAST_INFLIGHT; then wrk against the same sim
# with as many connections as outpostd opened: the sim's own ceiling there.
fast_provider() {
	local r=$1 t0 t1 conns sim=(--threads 2 --keep 1000 --latency-ms 1 --work-us "$FAST_WORK_US")
	e2e_setup "bench-fast-$r"
	bench_broker
	start_sim --down-from 0 --down-for 3600
	write_config ".sender.max_inflight = $FAST_INFLIGHT" '.accounts.main.rate_per_s = 10000' \
		'.accounts.main.burst = 1000' "$BENCH_EDIT"
	start_outpostd
	stop_outpostd || fail "outpostd did not stop"
	publish -n "$FAST_N" --kind mixed --id-prefix "f$r" --max-inflight 1000
	start_outpostd
	wait_for "[ \"\$(status_num acked)\" -ge $FAST_N ]" 300 || fail "fast: ingest incomplete"
	stop_outpostd
	stop_sim
	start_sim "${sim[@]}"
	t0=$(now)
	start_outpostd
	wait_for "[ \"\$(outbox_count sent)\" -ge $FAST_N ]" 600 || fail "fast: drain incomplete"
	t1=$(now)
	conns=$(status_num http_connects)
	echo "fast_sends $(awk "BEGIN {printf \"%.0f\", $FAST_N / ($t1 - $t0)}")" >>"$OUT"
	echo "fast_conns $conns" >>"$OUT"
	echo "fast_limit $(ctl status | jq '.accounts[0] | "\(.inflight_limit)@\(.answer_ms)ms"' -r)" >>"$OUT"
	stop_outpostd
	if command -v wrk >/dev/null; then
		stop_sim
		start_sim "${sim[@]}"
		wrk_creates "$conns" fast_ceiling
	fi
	e2e_cleanup
}

slow_provider() { # LEG RATE: h1 (the sim itself) or h2 (nghttpx in front of it)
	local leg=$1 rate=$2 url t0 t1 k="slow_$1_$2"
	e2e_setup "bench-slow-$leg-$rate"
	bench_broker
	start_sim --latency-ms 200
	url=$SIM_URL
	if [ "$leg" = h2 ]; then
		start_h2_proxy
		url=$H2_URL
	fi
	write_config ".accounts.main.api_base = \"$url\"" ".accounts.main.rate_per_s = $rate" \
		'del(.sender.max_inflight)' "$BENCH_EDIT"
	start_outpostd
	stop_outpostd || fail "outpostd did not stop"
	publish -n "$SLOW_N" --kind mixed --id-prefix "s$leg$rate" --max-inflight 1000
	t0=$(now)
	start_outpostd
	wait_for "[ \"\$(outbox_count sent)\" -ge $SLOW_N ]" 300 || fail "slow drain incomplete"
	t1=$(now)
	echo "${k}_s $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")" >>"$OUT"
	echo "${k}_sends $(awk "BEGIN {printf \"%.0f\", $SLOW_N / ($t1 - $t0)}")" >>"$OUT"
	echo "${k}_conns $(status_num http_connects)/$(status_num http2_connects)" >>"$OUT"
	echo "${k}_limit $(ctl status | jq '.accounts[0] | "\(.inflight_limit)@\(.answer_ms)ms"' -r)" >>"$OUT"
	echo "${k}_hwm $(hwm_kb "$OUTPOSTD_PID")" >>"$OUT"
	stop_outpostd
	e2e_cleanup
}

recovery() { # REC_N events while the sim refuses for 20 s; time to drain after
	local t0 t1
	e2e_setup bench-recovery
	bench_broker
	start_sim --down-from 2 --down-for 20
	write_config '.accounts.main.rate_per_s = 500' '.sender.backoff_base_ms = 2000' \
		'.sender.backoff_cap_ms = 900000' "$BENCH_EDIT"
	start_outpostd
	wait_for '! port_open "$SIM_PORT"' 10 || fail "the sim's outage did not begin"
	publish -n "$REC_N" --kind mixed --id-prefix rec -r 200
	wait_for 'port_open "$SIM_PORT"' 30 || fail "the sim did not come back"
	t0=$(now)
	wait_for "[ \"\$(outbox_count sent)\" -ge $REC_N ]" 600 || fail "recovery drain incomplete"
	t1=$(now)
	echo "recovery_s $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")" >>"$OUT"
	stop_outpostd
	e2e_cleanup
}

# smaps_by PID: resident KiB by mapping (the binary, each library, the
# store's map, heap, stacks, anonymous), largest first, on one line.
smaps_by() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {n = $6 == "" ? "anon" : $6; sub(/.*\//, "", n); next}
		/^Rss:/ {r[n] += $2}
		END {for (k in r) if (r[k] > 0) printf "%d %s\n", r[k], k}' "/proc/$1/smaps" |
		sort -rn | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1} END {print ""}'
}

# gw_mem PID KEY: VmRSS, RssAnon, RssFile and the mappings into $OUT.
gw_mem() {
	echo "$2_rss $(rss_kb "$1")" >>"$OUT"
	echo "$2_anon $(anon_kb "$1")" >>"$OUT"
	echo "$2_file $(awk '/^RssFile/ {f = $2} /^RssShmem/ {s = $2} END {print f + s}' "/proc/$1/status")" >>"$OUT"
	echo "$2 resident KiB by mapping: $(smaps_by "$1")" >>"$OUT.maps"
}

# peak_sampler PID FILE: every 0.2 s until PID ends or FILE.stop exists,
# VmRSS; at each new maximum, the mappings into FILE ("KiB: by mapping").
peak_sampler() {
	local max=0 r
	while kill -0 "$1" 2>/dev/null && [ ! -e "$2.stop" ]; do
		r=$(rss_kb "$1" 2>/dev/null) || break
		if [ "${r:-0}" -gt "$max" ]; then
			max=$r
			echo "$r: $(smaps_by "$1")" >"$2"
		fi
		sleep 0.2
	done
}

gateway() {
	local ms t0 t1 sampler
	bench_fast_setup bench-gateway
	# The first start creates the store and imports the secrets; the
	# timed starts open an existing store (the page cache warm).
	start_outpostd
	stop_outpostd || fail "outpostd did not stop"
	ms=$(python3 tools/bench/ready_ms.py "$GW_STARTS" "${OUTPOSTD_BIN:-$BUILD/outpostd}" \
		"$OUTPOST_CONF" "$E2E_DIR") || fail "cold start: $ms"
	echo "gw_ready_ms $(echo "$ms" | median)" >>"$OUT"
	echo "gw_ready_range $(echo "$ms" | sort -g | sed -n '1p;$p' | paste -sd-)" >>"$OUT"
	# Idle: 3 s after start, and 8 s after (start-up's code pages are let go
	# once the first template syncs end, and again 5 s after start:
	# firmware/upkeep.c).
	start_outpostd
	sleep 3
	gw_mem "$OUTPOSTD_PID" gw_idle3
	sleep 5
	gw_mem "$OUTPOSTD_PID" gw_idle
	peak_sampler "$OUTPOSTD_PID" "$E2E_DIR/peak" &
	sampler=$!
	t0=$(now)
	publish -n "$GW_BURST_N" --kind mixed --id-prefix gwb --max-inflight 1000
	wait_for "[ \"\$(outbox_count sent)\" -ge $GW_BURST_N ]" 600 || fail "burst not sent"
	t1=$(now)
	touch "$E2E_DIR/peak.stop"
	wait "$sampler"
	echo "gw_burst_peak (sampled every 0.2 s) resident $(cat "$E2E_DIR/peak")" >>"$OUT.maps"
	echo "gw_burst_s $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")" >>"$OUT"
	echo "gw_burst_hwm $(hwm_kb "$OUTPOSTD_PID")" >>"$OUT"
	gw_mem "$OUTPOSTD_PID" gw_burst_end
	stop_outpostd
	e2e_cleanup
	# GW_QUEUED_N at rest: published while outpostd is down, ingested with
	# the sim refusing (a provider outage), 2 s after the last is acked.
	e2e_setup bench-gateway-queued
	bench_broker
	start_sim --down-from 0 --down-for 3600
	write_config '.accounts.main.rate_per_s = 10000' "$BENCH_EDIT"
	start_outpostd
	stop_outpostd || fail "outpostd did not stop"
	publish -n "$GW_QUEUED_N" --kind mixed --id-prefix gwq --max-inflight 1000
	start_outpostd
	wait_for "[ \"\$(status_num acked)\" -ge $GW_QUEUED_N ]" 300 || fail "queued: ingest incomplete"
	sleep 2
	gw_mem "$OUTPOSTD_PID" gw_queued
	echo "gw_queued_hwm $(hwm_kb "$OUTPOSTD_PID")" >>"$OUT"
	stop_outpostd
	e2e_cleanup
}

io_written() { awk '/^write_bytes/ {print $2}' "/proc/$1/io"; }

# strace -c's count of fdatasync + fsync (+ msync) calls from its summary file.
syncs_of() { awk '$NF == "fdatasync" || $NF == "fsync" || $NF == "msync" {n += $4} END {print n + 0}' "$1"; }

wear() { # KEY N RATE (events/s, 0 = burst): write_bytes and fsyncs per event
	local k=$1 n=$2 rate=$3 w0 w1 w2 c0 c1 st=
	e2e_setup "bench-wear-$k"
	start_broker
	start_sim --deliver-after-ms 1000 --read-after-ms 8000
	write_config '.accounts.main.status_poll.first = "2s"' "$BENCH_EDIT"
	start_outpostd
	sleep 3 # start-up writes (template sync, the first log flush) are not the events'
	w0=$(io_written "$OUTPOSTD_PID")
	c0=$(ctl status | jq .store.commits)
	if command -v strace >/dev/null; then
		strace -c -f -e trace=fdatasync,fsync -o "$E2E_DIR/strace.txt" -p "$OUTPOSTD_PID" 2>/dev/null &
		st=$!
		sleep 0.5
	fi
	publish -n "$n" -r "$rate" --kind payment --id-prefix "w$k"
	# One status request a second: a control connection is part of the
	# picture, ten a second would not be a site's.
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(outbox_count read)" -ge "$n" ] && break
		sleep 1
	done
	[ "$(outbox_count read)" -ge "$n" ] || fail "wear $k: $(outbox_count read) of $n read"
	# The receipts' deletes (and log records) that wait for a commit are
	# the events' too: the window ends after them.
	for ((i = 0; i < 60; i++)); do
		[ "$(ctl status | jq '.receipts.pending + .receipts.acked_undeleted')" = 0 ] && break
		sleep 1
	done
	sleep 2
	w1=$(io_written "$OUTPOSTD_PID")
	c1=$(ctl status | jq .store.commits)
	echo "wear_${k}_commits $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) / $n}")" >>"$OUT"
	if [ -n "$st" ]; then
		kill -INT "$st" && wait "$st"
		echo "wear_${k}_syncs $(awk "BEGIN {printf \"%.1f\", $(syncs_of "$E2E_DIR/strace.txt") / $n}")" >>"$OUT"
	fi
	echo "wear_${k}_bytes $(( (w1 - w0) / n ))" >>"$OUT"
	if [ "$k" = site ]; then
		st=
		if command -v strace >/dev/null; then
			strace -c -f -e trace=fdatasync,fsync,msync -o "$E2E_DIR/strace-idle.txt" \
				-p "$OUTPOSTD_PID" 2>/dev/null &
			st=$!
		fi
		w1=$(io_written "$OUTPOSTD_PID")
		sleep "$WEAR_IDLE_S"
		w2=$(io_written "$OUTPOSTD_PID")
		echo "wear_idle_bytes $((w2 - w1))" >>"$OUT"
		if [ -n "$st" ]; then
			kill -INT "$st" && wait "$st"
			echo "wear_idle_syncs $(syncs_of "$E2E_DIR/strace-idle.txt")" >>"$OUT"
		fi
	fi
	stop_outpostd
	e2e_cleanup
}

OUT=$(mktemp)
echo "outpost bench: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), N=$N, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
	phase ingest && ingest_and_send "$r"
	phase latency && latency "$r"
	phase poison && latency_poison "$r"
	phase fast && fast_provider "$r"
done
phase sim && sim_ceiling
if phase slow; then
	for rate in 80 500; do slow_provider h1 $rate && slow_provider h2 $rate; done
fi
phase recovery && recovery
phase gateway && gateway
if phase wear; then
	[[ " $WEAR_RUNS " == *" slow "* ]] && wear slow "$WEAR_SLOW_N" "$(awk "BEGIN {print 1 / $WEAR_SLOW_S}")"
	[[ " $WEAR_RUNS " == *" site "* ]] && wear site "$WEAR_N" 1
	[[ " $WEAR_RUNS " == *" burst "* ]] && wear burst "$WEAR_BURST_N" 0
fi
med() { grep "^$1 " "$OUT" | cut -d' ' -f2 | median; }
printf '%-44s %10s\n' \
	"durable ingest, events/s (median)" "$(med ingest)" \
	"sends to twilio-sim, messages/s (median)" "$(med sends)" \
	"latency publish->sim at 200/s, p50 ms" "$(med lat_p50)" \
	"latency publish->sim at 200/s, p99 ms" "$(med lat_p99)" \
	"latency publish->sim at 200/s, max ms" "$(med lat_max)" \
	"same with 1% poison, good events p50 ms" "$(med plat_p50)" \
	"same with 1% poison, good events p99 ms" "$(med plat_p99)" \
	"same with 1% poison, good events max ms" "$(med plat_max)" \
	"outpostd RSS idle, KiB (of it anonymous)" "$(med rss_idle) ($(med anon_idle))" \
	"RSS with $N queued, KiB (anonymous)" "$(med rss_queued) ($(med anon_queued))" \
	"RSS after draining them, KiB (anonymous)" "$(med rss_drained) ($(med anon_drained))" \
	"peak RSS while ingesting / draining, KiB" "$(med hwm_ingest) / $(med hwm_drain)" \
	"twilio-sim ceiling (wrk, 8 conns), req/s" "$(med sim_ceiling)" \
	"fast provider ($FAST_N, 1 ms + ${FAST_WORK_US} us, max_inflight $FAST_INFLIGHT):" "" \
	"  outpostd sends/s (connections)" "$(med fast_sends) ($(med fast_conns))" \
	"  sim ceiling, wrk at those connections" "$(med fast_ceiling)" \
	"$SLOW_N to a sim answering in 200 ms:" "" \
	"  HTTP/1.1, rate 80: s (sends/s)" "$(med slow_h1_80_s) ($(med slow_h1_80_sends))" \
	"    limit@answer, conns/h2, peak RSS KiB" "$(med slow_h1_80_limit) $(med slow_h1_80_conns) $(med slow_h1_80_hwm)" \
	"  HTTP/2, rate 80: s (sends/s)" "$(med slow_h2_80_s) ($(med slow_h2_80_sends))" \
	"    limit@answer, conns/h2, peak RSS KiB" "$(med slow_h2_80_limit) $(med slow_h2_80_conns) $(med slow_h2_80_hwm)" \
	"  HTTP/1.1, rate 500: s (sends/s)" "$(med slow_h1_500_s) ($(med slow_h1_500_sends))" \
	"    limit@answer, conns/h2, peak RSS KiB" "$(med slow_h1_500_limit) $(med slow_h1_500_conns) $(med slow_h1_500_hwm)" \
	"  HTTP/2, rate 500: s (sends/s)" "$(med slow_h2_500_s) ($(med slow_h2_500_sends))" \
	"    limit@answer, conns/h2, peak RSS KiB" "$(med slow_h2_500_limit) $(med slow_h2_500_conns) $(med slow_h2_500_hwm)" \
	"recovery: $REC_N during a 20 s refusal, rate 500: s to drain" "$(med recovery_s)" \
	"flash wear, bytes written per event (fsyncs, commits):" "" \
	"  one every ${WEAR_SLOW_S} s ($WEAR_SLOW_N events)" "$(med wear_slow_bytes) ($(med wear_slow_syncs), $(med wear_slow_commits))" \
	"  one a second ($WEAR_N events)" "$(med wear_site_bytes) ($(med wear_site_syncs), $(med wear_site_commits))" \
	"  a burst of $WEAR_BURST_N" "$(med wear_burst_bytes) ($(med wear_burst_syncs), $(med wear_burst_commits))" \
	"  idle for ${WEAR_IDLE_S} s after them, bytes (fsyncs)" "$(med wear_idle_bytes) ($(med wear_idle_syncs))" \
	"gateway (${STATIC_BUILD:-$BUILD}/outpostd):" "" \
	"  cold start to READY=1, ms (median, range)" "$(med gw_ready_ms) ($(med gw_ready_range))" \
	"  idle RSS 3 s after start, KiB (anon, file)" "$(med gw_idle3_rss) ($(med gw_idle3_anon), $(med gw_idle3_file))" \
	"  idle RSS 8 s after start, KiB (anon, file)" "$(med gw_idle_rss) ($(med gw_idle_anon), $(med gw_idle_file))" \
	"  peak RSS, burst of $GW_BURST_N sent in s, KiB" "$(med gw_burst_hwm) ($(med gw_burst_s) s)" \
	"  RSS after it, KiB (anonymous, file)" "$(med gw_burst_end_rss) ($(med gw_burst_end_anon), $(med gw_burst_end_file))" \
	"  RSS with $GW_QUEUED_N queued, KiB (anon, file)" "$(med gw_queued_rss) ($(med gw_queued_anon), $(med gw_queued_file))" \
	"  peak RSS while ingesting them, KiB" "$(med gw_queued_hwm)"
[ -s "$OUT.maps" ] && cat "$OUT.maps"
echo "all rounds: $(tr '\n' ' ' <"$OUT")"
rm -f "$OUT" "$OUT.maps"
