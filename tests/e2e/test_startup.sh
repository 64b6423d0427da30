#!/bin/bash
# Start-up's code pages (config, vault, TLS set-up, the first template sync)
# are let go as soon as start-up is over - READY sent, every account's first
# template sync ended - not only at upkeep's 5 s (firmware/upkeep.c). The
# early release logs "start-up over" and can only run before upkeep's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
e2e_setup startup
start_broker
start_sim
write_config
OUTPOSTD_ARGS=-v start_outpostd
wait_for 'grep -q "start-up over: [0-9]* KiB of code pages let go" "$E2E_DIR/outpostd.log"' 10 ||
	fail "no early release of start-up's code pages: $(grep -E 'code pages|templates: account' "$E2E_DIR/outpostd.log" | tail -3)"
grep -q "templates: account main: synced" "$E2E_DIR/outpostd.log" ||
	fail "code pages let go before the first template sync ended"
before=$(grep -n "templates: account main: synced" "$E2E_DIR/outpostd.log" | head -1 | cut -d: -f1)
after=$(grep -n "start-up over:" "$E2E_DIR/outpostd.log" | head -1 | cut -d: -f1)
[ "$before" -lt "$after" ] || fail "code pages let go (line $after) before the first sync ended (line $before)"
stop_outpostd || fail "outpostd exited non-zero on SIGTERM"
pass "start-up's code pages let go once the first template sync ended"
