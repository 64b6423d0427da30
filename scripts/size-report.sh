#!/bin/sh
# What each library contributes to a binary: from the linker map (ld -Map),
# the bytes of the loaded sections (code, read-only data, data, bss,
# unwind tables; not debug info) each input file put in, summed by library.
#   scripts/size-report.sh MAPFILE     (make size-report builds the maps)
# Prints "component<TAB>KiB" lines, largest first, then the total. Our own code
# (the objects under obj/, libfirmware.a, liboutpost.a) is "outpost".
set -eu
map=${1:?usage: size-report.sh MAPFILE}
awk '
function hex(s,   i, n) {          # mawk has no strtonum
	n = 0
	s = tolower(substr(s, 3))
	for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return n
}
function component(f,   base) {
	base = f
	sub(/\(.*/, "", base)          # archive(member.o) -> archive
	sub(/.*\//, "", base)
	if (f ~ /(^|\/)obj\// || base ~ /^(libfirmware|liboutpost)\.a$/) return "outpost"
	if (base ~ /\.o$/) return "crt*.o, dynamic-link tables"
	sub(/\.a$/, "", base)
	return base
}
function add(sec, size, file) {
	if (sec ~ /^\.(debug|comment|ARM\.attributes|gnu\.warning|stab|note\.GNU-stack)/) return
	if (file == "" || size == 0) return
	sum[component(file)] += size
}
/^Linker script and memory map/ { inmap = 1; next }
!inmap { next }
# " .text  0xADDR  0xSIZE file"
/^ \.[^ ]+ +0x[0-9a-f]+ +0x[0-9a-f]+ / { add($1, hex($3), $4); pending = ""; next }
# a long section name alone on its line, the numbers on the next
/^ \.[^ ]+$/ { pending = $1; next }
pending != "" && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ / { add(pending, hex($2), $3); pending = ""; next }
{ pending = "" }
END {
	for (c in sum) if (sum[c] >= 52) printf "%s\t%.1f\n", c, sum[c] / 1024
}' "$map" | sort -t "$(printf '\t')" -k2 -n -r |
	awk -F '\t' '{ print; t += $2 } END { printf "total\t%.1f\n", t }'
