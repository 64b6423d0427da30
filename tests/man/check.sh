#!/bin/sh
# make man-check: the man pages are clean and complete.
#  1. mandoc -T lint -W warning finds nothing in man/*.[158].
#  2. man/outpost.json.5 has an ".It Cm <key>" entry for every key of the
#     parser's tables (tests/man/config-keys.sh), and no entry for a key the
#     parser does not know.
#  3. man/outpostctl.1 has every command of `outpostctl --help` as an
#     ".It Cm <command>" entry, and every subcommand and option of each
#     `outpostctl CMD --help` somewhere on the page.
# BUILD names the build directory with outpostctl (default build).
set -u
set -f # keys hold [] and <>: no globbing
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
CTL=$BUILD/outpostctl
PAGES="man/outpostd.8 man/outpostctl.1 man/outpost.json.5"
fails=0
bad() {
	echo "man-check: $*" >&2
	fails=$((fails + 1))
}
BS=$(printf '\b')
# render PAGE: the page as text, without the overstrikes of bold and italics.
render() { mandoc -T ascii "$1" | sed "s/.$BS//g"; }

# 1. lint
for p in $PAGES; do
	out=$(mandoc -T lint -W warning "$p" 2>&1) || bad "$p: mandoc -T lint -W warning:
$out"
done

# 2. config keys, both ways
keys=$(tests/man/config-keys.sh) || bad "cannot list the keys of config/*.c"
documented=$(sed -n 's/^\.It Cm //p' man/outpost.json.5)
for k in $keys; do
	printf '%s\n' "$documented" | grep -qxF -- "$k" ||
		bad "man/outpost.json.5: no entry for the config key $k (add .It Cm $k)"
done
for k in $documented; do
	printf '%s\n' "$keys" | grep -qxF -- "$k" && continue
	bad "man/outpost.json.5: $k is documented, but config/*.c has no such key"
done

# 3. outpostctl's commands, subcommands and options
if [ -x "$CTL" ]; then
	page=$(render man/outpostctl.1)
	entries=$(sed -n 's/^\.It Cm \([a-z-]*\).*/\1/p' man/outpostctl.1 | sort -u)
	cmds=$("$CTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
	[ -n "$cmds" ] || bad "no commands in outpostctl --help"
	for c in $cmds; do
		printf '%s\n' "$entries" | grep -qxF -- "$c" ||
			bad "man/outpostctl.1: no entry for the command $c (add .It Cm $c)"
	done
	for c in $entries; do
		printf '%s\n' "$cmds" | grep -qxF -- "$c" ||
			bad "man/outpostctl.1: $c is documented, but outpostctl --help has no such command"
	done
	words=$( ("$CTL" --help; for c in $cmds; do [ "$c" = help ] || "$CTL" "$c" --help; done) |
		awk '{ sub(/^Usage: /, ""); sub(/^ +/, "") }
		     $1 == "outpostctl" && $3 ~ /^[a-z][a-z-]*$/ { print $2 " " $3 }' | sort -u |
		tr ' ' '~')
	for w in $words; do
		w=$(echo "$w" | tr '~' ' ')
		printf '%s\n' "$page" | grep -qF -- "$w" ||
			bad "man/outpostctl.1: no \"$w\" (from outpostctl ${w%% *} --help)"
	done
	opts=$( ("$CTL" --help; for c in $cmds; do [ "$c" = help ] || "$CTL" "$c" --help; done) |
		grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		printf '%s\n' "$page" | grep -qF -- "$o" ||
			bad "man/outpostctl.1: the option $o (in outpostctl's help) is not on the page"
	done
else
	bad "$CTL is not built"
fi

if [ "$fails" -gt 0 ]; then
	echo "FAIL: man-check: $fails problem(s)" >&2
	exit 1
fi
echo "PASS: man-check: 3 pages lint-clean; $(echo "$keys" | wc -l) config keys documented; outpostctl's $(echo "$cmds" | wc -w) commands, $(echo "$words" | wc -w) subcommands and $(echo "$opts" | wc -w) options on its page"
