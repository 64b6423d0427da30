#!/bin/bash
# The CA file is parsed once for all TLS connections (net/ca.h), not once
# each: Debian's bundle with the test CA in it, many connections, one
# parse. A changed file is read again by the next connection: without the
# test CA the sim is not trusted (verification stays on), with it again it
# is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup ca
start_broker
start_sim
bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$bundle" ] || fail "no $bundle (package ca-certificates)"
ca="$E2E_DIR/ca.pem"
cat "$bundle" "$SIM_CA" >"$ca"
write_config ".accounts.main.ca_file = \"$ca\"" '.sender.max_inflight = 16'
start_outpostd
http() { ctl status | jq -c '.counters | {http_connects, http_ca_parses}'; }
sync() { "$BUILD/outpostctl" -s "$OUTPOST_SOCK" templates sync 2>&1; } # a fresh connection

publish -n 300 --kind mixed --id-prefix ca
wait_sent 300 60 || fail "only $(outbox_count sent) of 300 sent"
check_unique_refs 300
h=$(http)
jq -e '.http_connects >= 2 and .http_ca_parses == 1' <<<"$h" >/dev/null ||
	fail "want several connections and one parse of the CA file: $h"

# The bundle without the test CA, put in place as a package upgrade does.
cp "$bundle" "$ca.new" && mv "$ca.new" "$ca"
out=$(sync) && fail "a sync was made to a sim the CA file no longer trusts: $out"
grep -qi 'tls\|certif\|verif' <<<"$out" || fail "the refused sync does not say why: $out"
cat "$bundle" "$SIM_CA" >"$ca.new" && mv "$ca.new" "$ca"
out=$(sync) || fail "a sync with the test CA back failed: $out"
h2=$(http)
jq -e '.http_ca_parses == 3' <<<"$h2" >/dev/null || fail "the changed file was not read again: $h2"
pass "300 sent over $(jq .http_connects <<<"$h") connections with one parse of a $(($(wc -c <"$ca") / 1024)) KiB CA file; a changed file read again: refused without the test CA, trusted with it"
