#!/bin/bash
# packaging/bash-completion/outpostctl: loads, and completes as outpostctl
# --help says. Each case sets COMP_WORDS/COMP_CWORD as bash would, calls the
# completion function and compares COMPREPLY. Every command of `outpostctl
# --help` must be offered, and every option of `outpostctl CMD --help` after
# CMD. Run by `make man-check`; BUILD names the build directory.
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
CTL=$BUILD/outpostctl
fails=0
bad() {
	echo "test_completion: $*" >&2
	fails=$((fails + 1))
}

# shellcheck source=/dev/null
. packaging/bash-completion/outpostctl || { echo "test_completion: cannot load it" >&2; exit 1; }
complete -p outpostctl 2>/dev/null | grep -q -- '-F _outpostctl' || bad "no complete -F for outpostctl"

# comp WORD...: the completions of the last word (may be ""), sorted, one line.
comp() {
	COMP_WORDS=(outpostctl "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_outpostctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect "WANT" WORD...: the completions are exactly WANT (sorted, spaces).
expect() {
	local want=$1 got
	shift
	got=$(comp "$@")
	[ "$got" = "$want" ] || bad "outpostctl $* <TAB>: got '$got', want '$want'"
}
# offers WORD WORDS...: WORD is among the completions of WORDS.
offers() {
	local w=$1
	shift
	[[ " $(comp "$@") " == *" $w "* ]] || bad "outpostctl $* <TAB> does not offer $w"
}

expect "templates test-connection" te
expect "list sync" templates ""
expect "set show" consent ""
expect "set" creds s
expect "delete list rotate-key set" creds ""
expect "list purge retry show" outbox ""
expect "list retry" deadletter ""
expect "check push show" config ""
expect "failed final" outbox --state f
expect "dead delivered" outbox --limit 5 --state d
expect "warn" logs --level w
expect "360dialog meta" creds set twilio-main --provider ""
expect "in out" consent set +491701234567 ""
expect "--account-sid --api-key-sid" creds set x --a
expect "" status --timeout ""
expect "--serial" --ser
offers --sig config push site.json --s
offers --source consent set +491701234567 in --
offers templates -s /run/outpost/outpostd.sock --json te
offers outbox --serial /dev/ttyUSB0 --pin o
offers 115200 --serial /dev/ttyUSB0 --baud 11

# --serial: the serial devices there are, and nothing else.
dev=$(mktemp -d)
trap 'rm -rf "$dev"' EXIT
mkdir -p "$dev/serial/by-id"
touch "$dev/ttyUSB0" "$dev/ttyACM1" "$dev/serial/by-id/usb-FTDI_FT232R-if00-port0" "$dev/null" "$dev/sda"
got=$(OUTPOSTCTL_DEV_DIR=$dev comp --serial "")
want="$dev/serial/by-id/usb-FTDI_FT232R-if00-port0 $dev/ttyACM1 $dev/ttyUSB0"
[ "$got" = "$want" ] || bad "--serial <TAB>: got '$got', want '$want'"
got=$(OUTPOSTCTL_DEV_DIR=$dev comp --serial "$dev/ttyU")
[ "$got" = "$dev/ttyUSB0" ] || bad "--serial $dev/ttyU<TAB>: got '$got'"

# Agreement with the binary: every command of --help, every option of each
# command's --help.
if [ -x "$CTL" ]; then
	cmds=$("$CTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
	[ -n "$cmds" ] || bad "no commands in outpostctl --help"
	for c in $cmds; do
		offers "$c" ""
		[ "$c" = help ] && continue
		# (a line about another command, "like outpostctl outbox --state
		# dead", names that one's options)
		for o in $("$CTL" "$c" --help | awk -v c="$c" '!/outpostctl [a-z]/ || $0 ~ "outpostctl " c " "' |
			grep -o -- '--[a-z][a-z-]*' | sort -u); do
			# the subcommand decides some options (creds set --provider):
			# after any of them it must be offered
			ok=
			for s in "" list set push; do
				[[ " $(comp "$c" $s --) " == *" $o "* ]] && ok=1 && break
			done
			[ -n "$ok" ] || bad "outpostctl $c --<TAB> does not offer $o (in outpostctl $c --help)"
		done
	done
else
	bad "$CTL is not built"
fi

if [ "$fails" -gt 0 ]; then
	echo "FAIL: test_completion: $fails case(s)" >&2
	exit 1
fi
echo "PASS: test_completion: bash completion of outpostctl agrees with outpostctl --help"
