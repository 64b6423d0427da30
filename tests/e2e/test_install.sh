#!/bin/bash
# make install DESTDIR=... puts each file where docs/INSTALL.md says, with
# its mode; a second install keeps an edited outpost.json; PREFIX moves the
# binaries and the unit follows; make uninstall removes everything but the
# operator's outpost.json. Man pages and the bash completion are expected
# when man/ and packaging/bash-completion/ hold them.
. "$(dirname "$0")/lib.sh"
e2e_setup install
cd "$E2E_ROOT" || fail "no project root"
D=$E2E_DIR/dest
mk() { make --no-print-directory -s BUILD="$BUILD" "$@" >"$E2E_DIR/make.log" 2>&1 ||
	fail "make $* failed: $(tail -5 "$E2E_DIR/make.log")"; }
listing() { (cd "$1" && find . -type f -printf '%m %p\n' | sort); }

mk install DESTDIR="$D"
{
	echo "644 ./etc/outpost/outpost.json"
	echo "644 ./etc/outpost/outpost.json.example"
	echo "644 ./lib/systemd/system/outpostd.service"
	echo "755 ./usr/bin/outpostctl"
	echo "644 ./usr/lib/sysusers.d/outpost.conf"
	echo "644 ./usr/lib/tmpfiles.d/outpost.conf"
	echo "755 ./usr/sbin/outpostd"
	for f in README.md docs/*.md; do echo "644 ./usr/share/doc/outpost/${f##*/}"; done
	for f in config/examples/* config/mosquitto/*.conf; do
		echo "644 ./usr/share/doc/outpost/examples/${f##*/}"
	done
	for f in man/*.[1-8]; do
		[ -e "$f" ] && echo "644 ./usr/share/man/man${f##*.}/${f##*/}"
	done
	[ -e packaging/bash-completion/outpostctl ] &&
		echo "644 ./usr/share/bash-completion/completions/outpostctl"
} | sort >"$E2E_DIR/expected"
listing "$D" >"$E2E_DIR/got"
diff -u "$E2E_DIR/expected" "$E2E_DIR/got" >"$E2E_DIR/diff" || fail "installed files differ: $(cat "$E2E_DIR/diff")"
grep -q '^ExecStart=/usr/sbin/outpostd -c /etc/outpost/outpost.json$' "$D/lib/systemd/system/outpostd.service" ||
	fail "the installed unit does not start /usr/sbin/outpostd"
"$D/usr/sbin/outpostd" --version | grep -q "^outpostd " || fail "the installed outpostd does not run"

# The operator's config survives a second install.
echo '{"edited": true}' >"$D/etc/outpost/outpost.json"
mk install DESTDIR="$D"
grep -q edited "$D/etc/outpost/outpost.json" || fail "a second install overwrote outpost.json"

mk uninstall DESTDIR="$D"
left=$(listing "$D")
[ "$left" = "644 ./etc/outpost/outpost.json" ] || fail "uninstall left: $left"

# Another prefix: binaries, unit and its ExecStart move; /etc/outpost does not.
P=$E2E_DIR/local
mk install DESTDIR="$P" PREFIX=/usr/local
for f in usr/local/sbin/outpostd usr/local/bin/outpostctl usr/local/lib/systemd/system/outpostd.service \
	usr/local/lib/sysusers.d/outpost.conf etc/outpost/outpost.json.example; do
	[ -f "$P/$f" ] || fail "PREFIX=/usr/local: no $f"
done
grep -q '^ExecStart=/usr/local/sbin/outpostd ' "$P/usr/local/lib/systemd/system/outpostd.service" ||
	fail "PREFIX=/usr/local: the unit does not start /usr/local/sbin/outpostd"
mk uninstall DESTDIR="$P" PREFIX=/usr/local
[ "$(listing "$P")" = "644 ./etc/outpost/outpost.json" ] || fail "PREFIX=/usr/local uninstall left: $(listing "$P")"
pass "$(wc -l <"$E2E_DIR/expected") files installed with their modes, config kept, PREFIX honoured, uninstall clean"
