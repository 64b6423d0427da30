#!/bin/bash
# Started as root with "user", outpostd opens what needs root, gives the
# user what it made and drops for good (/proc/PID/status shows it), still
# sends; a user that does not exist is refused with the reason (exit 3);
# started as the user itself (systemd's User=) it runs as it is; started as
# a user that cannot become the configured one it refuses (exit 4). Needs
# root for useradd and the drop: skipped otherwise (CI runs as root).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outpost.sh"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: priv: needs root to create a user and drop to it (CI runs as root)"
	exit 0
fi
e2e_setup priv
TUSER=ope2e$$
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin \
	--groups dialout "$TUSER" || fail "useradd $TUSER failed"
trap 'rc=$?; e2e_cleanup; userdel "$TUSER" 2>/dev/null; exit $rc' EXIT
uid=$(id -u "$TUSER") gid=$(id -g "$TUSER") dialout=$(getent group dialout | cut -d: -f3)
start_broker
start_sim
# The socket in a directory of its own that the daemon makes (and gives away).
write_config ".user = \"$TUSER\"" ".control.socket = \"$E2E_DIR/run/outpostd.sock\""
OUTPOST_SOCK="$E2E_DIR/run/outpostd.sock"
cp "$OUTPOST_CONF" "$E2E_DIR/good.json"

# A user or group that does not exist: a config error, named.
jq '.user = "no-such-user-e2e"' "$E2E_DIR/good.json" >"$E2E_DIR/nouser.json"
out=$("$BUILD/outpostd" -t -c "$E2E_DIR/nouser.json" 2>&1)
rc=$?
[ "$rc" = 3 ] || fail "-t with an unknown user exited $rc, expected 3: $out"
grep -q '\$.user: user "no-such-user-e2e" does not exist' <<<"$out" || fail "no reason given: $out"
out=$(timeout 10 "$BUILD/outpostd" -c "$E2E_DIR/nouser.json" 2>&1)
rc=$?
[ "$rc" = 3 ] || fail "outpostd with an unknown user exited $rc, expected 3: $out"
[ ! -e "$E2E_DIR/store" ] || fail "the store was made before the unknown user was refused"
jq '.group = "no-such-group-e2e"' "$E2E_DIR/good.json" >"$E2E_DIR/nogroup.json"
out=$("$BUILD/outpostd" -t -c "$E2E_DIR/nogroup.json" 2>&1)
[ $? = 3 ] && grep -q '\$.group: group "no-such-group-e2e" does not exist' <<<"$out" ||
	fail "an unknown group was not refused by name: $out"
jq 'del(.user) | .group = "dialout"' "$E2E_DIR/good.json" >"$E2E_DIR/grouponly.json"
out=$("$BUILD/outpostd" -t -c "$E2E_DIR/grouponly.json" 2>&1)
[ $? = 3 ] && grep -q '\$.group: a group needs "user"' <<<"$out" || fail "group without user: $out"

# Started as root: runs as the user, with its groups, and cannot go back.
start_outpostd
pid=$OUTPOSTD_PID
grep -q "running as user $TUSER (uid $uid, gid $gid)" "$E2E_DIR/outpostd.log" || fail "no drop logged"
st=/proc/$pid/status
grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "$st" || fail "not dropped: $(grep Uid: "$st")"
grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "$st" || fail "group not dropped: $(grep Gid: "$st")"
grep -Eq "^Groups:.*\b$dialout\b" "$st" || fail "supplementary group dialout missing: $(grep Groups: "$st")"
grep -Eq "^Groups:.*\b0\b" "$st" && fail "group root kept: $(grep Groups: "$st")"
grep -Eq "^CapEff:\s+0+$" "$st" || fail "capabilities kept: $(grep CapEff: "$st")"
# What it made as root is the user's, with its documented modes.
owner() { stat -c '%U %a' "$1"; }
[ "$(owner "$E2E_DIR/store")" = "$TUSER 700" ] || fail "store dir: $(owner "$E2E_DIR/store")"
[ "$(owner "$E2E_DIR/store/data.mdb")" = "$TUSER 600" ] || fail "data.mdb: $(owner "$E2E_DIR/store/data.mdb")"
[ "$(owner "$E2E_DIR/device.key")" = "$TUSER 600" ] || fail "device key: $(owner "$E2E_DIR/device.key")"
[ "$(owner "$E2E_DIR/run")" = "$TUSER 750" ] || fail "socket dir: $(owner "$E2E_DIR/run")"
[ "$(owner "$OUTPOST_SOCK")" = "$TUSER 660" ] || fail "socket: $(owner "$OUTPOST_SOCK")"
[ "$(stat -c %U "$E2E_DIR")" = root ] || fail "a directory it did not make was given away"
[ ! -e "$E2E_DIR/secrets.json" ] || fail "the secrets file was not imported and removed"
# ... and it still does its job.
publish -n 3 --kind payment --id-prefix priv
wait_sent 3 20 || fail "only $(outbox_count sent) of 3 sent after the drop"
kill -HUP "$pid"
wait_for "grep -q 'reload: 3 routes' '$E2E_DIR/outpostd.log'" 10 || fail "SIGHUP reload failed as the user"
stop_outpostd TERM || fail "outpostd exited $? on SIGTERM"
[ ! -e "$OUTPOST_SOCK" ] || fail "the user could not remove its socket at the end"

# Again as root, with everything the user's now: the key counts as ours.
start_outpostd
v=$(ctl status | jq -r .vault.state)
[ "$v" = open ] || fail "the vault is $v after a restart as root: $(ctl status | jq -r .vault.reason)"
stop_outpostd TERM || fail "the second run exited $?"

# Started as the user itself (as systemd's User= does): nothing to drop.
setpriv --reuid="$uid" --regid="$gid" --init-groups "$BUILD/outpostd" -c "$OUTPOST_CONF" \
	>>"$E2E_DIR/outpostd.log" 2>&1 &
OUTPOSTD_PID=$!
E2E_PIDS+=("$OUTPOSTD_PID")
wait_for "[ \"\$(ctl status 2>/dev/null | jq -r .service.user)\" = $TUSER ]" 15 ||
	fail "did not come up when started as $TUSER: $(tail -3 "$E2E_DIR/outpostd.log")"
stop_outpostd TERM || fail "the run as $TUSER exited $?"

# Started as that user with another "user": refused, exit 4.
jq '.user = "nobody"' "$E2E_DIR/good.json" >"$E2E_DIR/other.json"
chmod 644 "$E2E_DIR/other.json"
out=$(timeout 20 setpriv --reuid="$uid" --regid="$gid" --init-groups "$BUILD/outpostd" \
	-c "$E2E_DIR/other.json" 2>&1)
rc=$?
[ "$rc" = 4 ] || fail "a drop that cannot happen exited $rc, expected 4: $(tail -3 <<<"$out")"
grep -q "cannot run as user nobody: running as uid $uid, which cannot become nobody" <<<"$out" ||
	fail "no reason for exit 4: $(tail -3 <<<"$out")"
pass "dropped to $TUSER (uid $uid, groups incl. dialout), files given, 3 sent; unknown user exit 3; no way to the user exit 4"
