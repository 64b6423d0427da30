#!/bin/bash
# Vault crash points: a crash build ends itself while importing the secrets
# file (after the commit, before the file is removed) and while rotating the
# device key (the new key written, not committed; committed, not renamed),
# HITS times each. After every crash the next start must open the vault with
# both entries, leave no stray key file, and send with the credentials.
#
#   HITS=50 tests/torture/test_vaultcrash.sh     # the long form
cd "$(dirname "$0")/../.." || exit 1
BUILD=${CRASH_BUILD:-build/crash}
. tests/e2e/lib.sh
. tests/e2e/outpost.sh
e2e_setup vaultcrash
HITS=${HITS:-5}
[ -x "$BUILD/outpostd" ] || fail "no crash build in $BUILD (make CRASH=1)"
KEY="$E2E_DIR/device.key"
start_broker
start_sim
SENT=0

# crashed_at POINT: runs the crash build, asks for what reaches POINT, and
# returns 0 if it ended there.
crashed_at() {
	local point=$1 pid rc
	rm -f "$OUTPOST_SOCK"
	echo "--- crash run $point $(date +%T.%N)" >>"$E2E_DIR/outpostd.log"
	OUTPOST_CRASH="$point:1" "$BUILD/outpostd" -c "$OUTPOST_CONF" >>"$E2E_DIR/outpostd.log" 2>&1 &
	pid=$!
	E2E_PIDS+=("$pid")
	wait_for "! kill -0 $pid 2>/dev/null || [ -S '$OUTPOST_SOCK' ]" 10
	[ "$point" = vault-import-after-commit ] || ctl creds rotate-key >/dev/null 2>&1
	wait_for "! kill -0 $pid 2>/dev/null" 10 || kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	e2e_forget "$pid"
	[ "$rc" -eq 86 ]
}

# intact: the vault opens with both entries and sends; nothing stray.
intact() {
	start_outpostd
	ctl status | jq -e '.vault.state == "open" and .vault.entries == 2' >/dev/null ||
		fail "$1: vault after the crash: $(ctl status | jq -c .vault)"
	[ ! -e "$KEY.new" ] || fail "$1: $KEY.new left behind"
	[ "$(stat -c %a "$KEY")" = 600 ] || fail "$1: key file mode $(stat -c %a "$KEY")"
	publish -n 3 --kind payment --id-prefix vc --start $((SENT + 1))
	SENT=$((SENT + 3))
	wait_sent "$SENT" 30 || fail "$1: not sent after the crash: $(outbox_count sent)/$SENT"
	stop_outpostd || fail "$1: outpostd exited non-zero"
}

for point in vault-import-after-commit vault-rotate-before-commit vault-rotate-after-commit; do
	for ((h = 1; h <= HITS; h++)); do
		# Import: a fresh secrets file every time (the config names it).
		write_config
		crashed_at "$point" || fail "$point: hit $h did not crash there"
		if [ "$point" = vault-import-after-commit ]; then
			[ -e "$E2E_DIR/secrets.json" ] || fail "file removed before a crash after commit?"
		fi
		intact "$point" "$h"
		[ ! -e "$E2E_DIR/secrets.json" ] || fail "$point: secrets file not removed on restart"
	done
done
check_unique_refs "$SENT"
pass "3 vault crash points x $HITS: vault open with 2 entries after each, no stray key, $SENT sent once"
