#!/bin/bash
# HTTP/2: outpostd sends through nghttpx (Debian's nghttp2-proxy), which
# offers h2 by ALPN in front of the HTTP/1.1-only sim (the sim answers each
# create 200 ms late, as a provider does). 1000 events at rate 500/s and
# the default in-flight cap (128) go over HTTP/2, each once, on at most 2
# TLS connections (one is the template sync's own) where HTTP/1.1 would open
# about 128: more than the 100 streams nghttpx allows on a connection are
# wanted at once, and those wait for a stream rather than open another
# connection (net/http.c, host_full). Then the proxy is killed with requests in flight: every
# stream on its connection dies, some after the sim made the message. Those
# are ambiguous, reconciled once the proxy is back, and each event still
# reaches the sim exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup h2
start_broker
start_sim --latency-ms 200
start_h2_proxy
write_config ".accounts.main.api_base = \"$H2_URL\"" '.sender.max_inflight = 128' \
	'.accounts.main.rate_per_s = 500'
start_outpostd

publish -n 1000 --kind mixed --id-prefix h2a --max-inflight 1000
wait_sent 1000 60 || fail "only $(outbox_count sent) of 1000 sent"
check_unique_refs 1000
connects=$(status_num http_connects)
h2=$(status_num http2_connects)
waits=$(status_num http2_stream_waits)
[ "${h2:-0}" -ge 1 ] || fail "no connection spoke HTTP/2 ($connects opened)"
[ "${waits:-0}" -gt 0 ] || fail "never more requests wanted at once than a connection's 100 streams: the burst tested nothing"
[ "$connects" -le 2 ] || fail "$connects connections opened for 1000 sends over HTTP/2 (want <= 2)"
grep -q "http: new connection to 127.0.0.1:$H2_PORT speaks HTTP/2" "$E2E_DIR/outpostd.log" ||
	fail "no log line says the connection speaks HTTP/2"
# The proxy's side: every request came in over h2, none over http/1.1.
n11=$(grep -vc '^h2 ' "$E2E_DIR/h2-access.log")
[ "$n11" -eq 0 ] || fail "$n11 requests reached the proxy other than over h2"
[ "$(status_num ambiguous)" -eq 0 ] || fail "ambiguous attempts with nothing going wrong"

# Kill the proxy while streams wait on the sim's latency. The sim has made
# the messages of the requests it read; their answers are lost with the
# connection. Each dead stream is ambiguous (the request was sent).
publish -n 200 --kind mixed --id-prefix h2b
wait_for "[ \"\$(status_num http_inflight)\" -ge 8 ] && [ \"\$(sim_count)\" -gt 1010 ]" 20 ||
	fail "no requests in flight to kill"
kill -KILL "$H2_PID"
e2e_stop "$H2_PID"
wait_for "[ \"\$(status_num ambiguous)\" -gt 0 ]" 20 || fail "the killed streams were not ambiguous"
sleep 1
start_h2_proxy
wait_sent 1200 90 || fail "only $(outbox_count sent) of 1200 sent after the proxy came back"
ambiguous=$(status_num ambiguous)
reconciled=$(status_num reconciled)
[ "$reconciled" -gt 0 ] || fail "$ambiguous ambiguous, none found at the sim by reconciliation"
check_unique_refs 1200
grep -q "request was sent" "$E2E_DIR/outpostd.log" || fail "no transfer error says the request was sent"
stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
pass "1000 events over HTTP/2, each once, $connects TLS connection(s) opened ($waits waited for a stream);" \
	"proxy killed mid-flight: $ambiguous ambiguous, $reconciled found at the sim, 1200 events none twice"
