#!/bin/bash
# OpenWrt packaging without an OpenWrt SDK (docs/INSTALL.md says it was not
# tried on a real image): shellcheck passes on the procd init script (as
# POSIX sh; rc.common's own variables are the only exceptions) and on the
# shell scripts of the service work; the init script, run against stub
# procd functions, starts /usr/sbin/outpostd on the default config with
# respawn and the config as its file trigger, and reloads with SIGHUP; the
# feed Makefile names the package, its dependencies and the init script.
. "$(dirname "$0")/lib.sh"
e2e_setup openwrt
command -v shellcheck >/dev/null || fail "shellcheck missing (scripts/setup.sh installs it)"
cd "$E2E_ROOT" || fail "no project root"
INIT=packaging/openwrt/outpostd.init

out=$(shellcheck -s sh "$INIT" 2>&1) || fail "shellcheck on the init script: $out"
out=$(shellcheck scripts/setup.sh 2>&1) || fail "shellcheck on scripts/setup.sh: $out"
out=$(shellcheck -s sh debian/postrm 2>&1) || fail "shellcheck on debian/postrm: $out"
# SC1091: the tests source lib.sh by a path shellcheck cannot follow.
# SC2015: `A && B || fail ...` is the tests' idiom (fail exits).
out=$(shellcheck -e SC1091,SC2015 tests/e2e/test_notify.sh tests/e2e/test_priv.sh tests/e2e/test_unit.sh \
	tests/e2e/test_install.sh tests/e2e/test_openwrt.sh tests/e2e/test_deb.sh 2>&1) || fail "shellcheck on the tests: $out"

# rc.common's procd helpers as stubs that print their arguments.
cat >"$E2E_DIR/stubs.sh" <<'EOS'
procd_open_instance() { echo "open"; }
procd_close_instance() { echo "close"; }
procd_set_param() { echo "param $*"; }
procd_send_signal() { echo "signal $*"; }
EOS
run() { sh -c ". '$E2E_DIR/stubs.sh'; . './$INIT'; $1"; }
out=$(run start_service) || fail "start_service failed: $out"
for want in "open" "param command /usr/sbin/outpostd -c /etc/outpost/outpost.json" \
	"param file /etc/outpost/outpost.json" "param respawn 3600 5 5" "close"; do
	grep -qx "$want" <<<"$out" || fail "start_service lacks \"$want\": $out"
done
[ "$(run reload_service)" = "signal outpostd * HUP" ] || fail "reload_service: $(run reload_service)"
# shellcheck disable=SC2016 # expanded by the inner sh, after the script set them
[ "$(run 'echo $USE_PROCD $START')" = "1 95" ] || fail "USE_PROCD/START not set"
head -n 1 "$INIT" | grep -qx '#!/bin/sh /etc/rc.common' || fail "not an rc.common script"

MK=packaging/openwrt/Makefile
for want in '^PKG_NAME:=outpost$' 'BuildPackage,outpost' '/etc/init.d/outpostd' \
	'DEPENDS:=.*+libmosquitto' 'DEPENDS:=.*+liblmdb' 'DEPENDS:=.*+libmbedtls' 'DEPENDS:=.*+cJSON' \
	'DEPENDS:=.*+libcurl' 'CURL=system' '/etc/outpost/outpost.json'; do
	grep -q -- "$want" "$MK" || fail "the feed Makefile lacks $want"
done
pass "shellcheck clean, init script starts and reloads as meant, feed Makefile complete"
