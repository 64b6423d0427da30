#!/bin/bash
# The systemd unit (packaging/systemd/outpostd.service): its paths are the
# daemon's defaults, `systemd-analyze verify` finds nothing, the sandbox's
# `systemd-analyze security --offline` exposure stays in the "OK" band
# (<= 4.9; mosquitto's shipped unit is scored in the same run for
# comparison, docs/INSTALL.md), and sysusers.d/tmpfiles.d make the user and
# /etc/outpost as the unit expects. No running systemd is needed.
. "$(dirname "$0")/lib.sh"
e2e_setup unit
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (scripts/setup.sh installs systemd)"
cd "$E2E_ROOT" || fail "no project root"
UNIT=packaging/systemd/outpostd.service
key() { sed -n "s/^$1=//p" "$UNIT"; }

# The unit's paths are those the daemon uses without a config saying otherwise.
[ "$(key ExecStart)" = "/usr/sbin/outpostd -c /etc/outpost/outpost.json" ] ||
	fail "ExecStart is $(key ExecStart)"
grep -q '#define DEFAULT_CONFIG "/etc/outpost/outpost.json"' firmware/main.c ||
	fail "the daemon's default config is no longer /etc/outpost/outpost.json"
grep -q 'def_str = "/var/lib/outpost"' config/config.c &&
	[ "$(key StateDirectory)" = outpost ] || fail "store default and StateDirectory= disagree"
grep -q 'def_str = "/run/outpost/outpostd.sock"' config/config.c &&
	[ "$(key RuntimeDirectory)" = outpost ] || fail "socket default and RuntimeDirectory= disagree"
grep -q 'def_str = "/etc/outpost/device.key"' config/config.c &&
	[ "$(key ConfigurationDirectory)" = outpost ] && [ "$(key ReadWritePaths)" = /etc/outpost ] ||
	fail "the device key's directory is not writable in the unit"
jq -e '.store.path == "/var/lib/outpost" and .control.socket == "/run/outpost/outpostd.sock"
	and .user == "outpost"' config/examples/outpost.json >/dev/null ||
	fail "config/examples/outpost.json disagrees with the unit"
[ "$(key User)" = outpost ] && [ "$(key Type)" = notify ] && [ "$(key NotifyAccess)" = main ] ||
	fail "User=/Type=/NotifyAccess= changed"
grep -q "FW_EXIT_CONFIG = 3" firmware/daemon.h && grep -q "FW_EXIT_PRIV = 4" firmware/daemon.h &&
	[ "$(key RestartPreventExitStatus)" = "3 4" ] || fail "RestartPreventExitStatus= is not the exit statuses 3 and 4"

# verify: the shipped unit with ExecStart pointing at the build (verify
# wants the binary to exist); man pages are checked by the man page tests.
sed "s|^ExecStart=/usr/sbin/outpostd|ExecStart=$E2E_ROOT/$BUILD/outpostd|" "$UNIT" \
	>"$E2E_DIR/outpostd.service"
out=$(systemd-analyze verify --man=no "$E2E_DIR/outpostd.service" 2>&1) ||
	fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"

score() { # UNIT_FILE -> the overall exposure level, e.g. 1.6
	systemd-analyze security --offline=true "$1" 2>/dev/null |
		sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}
ours=$(score "$E2E_DIR/outpostd.service")
[ -n "$ours" ] || fail "no exposure level from systemd-analyze security"
theirs=$(score /lib/systemd/system/mosquitto.service)
echo "exposure: outpostd.service $ours, mosquitto.service ${theirs:-not installed}" |
	tee "$E2E_DIR/exposure.txt"
systemd-analyze security --offline=true --threshold=49 "$E2E_DIR/outpostd.service" >/dev/null 2>&1 ||
	fail "exposure $ours is over 4.9 (out of the OK band)"

# sysusers.d and tmpfiles.d, applied to an empty root.
root=$E2E_DIR/root
mkdir -p "$root/etc" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
cp packaging/systemd/outpost.sysusers "$root/usr/lib/sysusers.d/outpost.conf"
cp packaging/systemd/outpost.tmpfiles "$root/usr/lib/tmpfiles.d/outpost.conf"
systemd-sysusers --root="$root" >/dev/null 2>&1 || fail "systemd-sysusers failed"
grep -q '^outpost:x:[0-9]*:[0-9]*:outpost daemon:/var/lib/outpost:/usr/sbin/nologin$' "$root/etc/passwd" ||
	fail "no outpost user: $(cat "$root/etc/passwd")"
grep -Eq '^dialout:x:[0-9]+:(.*,)?outpost(,.*)?$' "$root/etc/group" || fail "outpost is not in dialout"
systemd-tmpfiles --root="$root" --create outpost.conf || fail "systemd-tmpfiles failed"
gid=$(sed -n 's/^outpost:x:\([0-9]*\):.*/\1/p' "$root/etc/group")
[ "$(stat -c '%a %u %g' "$root/etc/outpost")" = "770 0 $gid" ] ||
	fail "/etc/outpost is $(stat -c '%a %u %g' "$root/etc/outpost"), expected 770 root outpost"
pass "verify clean, exposure $ours (mosquitto ${theirs:-n/a}), sysusers and tmpfiles as the unit expects"
