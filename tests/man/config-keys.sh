#!/bin/sh
# Prints every key outpost.json can hold, one dotted path a line, as the
# parser knows them: read from the declared tables (struct cfg_field) in
# config/*.c. Objects of names read as "<name>" (accounts.<name>.from),
# arrays as "[]" (routes[].topic); objects themselves are not printed, their
# members are. tests/man/check.sh compares this list with man/outpost.json.5.
#
# A table entry either names a sub-table (.sub), a custom parser (.custom)
# or is a value. Custom parsers that open an object are listed in OPENS
# below; one that is not is taken as a value. A table that no path reaches
# is an error: a new custom parser that opens one must be added to OPENS.
cd "$(dirname "$0")/../.." || exit 2
exec awk '
BEGIN {
	# custom parser -> "what it adds to the path|the table it parses with"
	OPENS["parse_accounts"] = ".<name>|account_fields"
	OPENS["parse_templates"] = ".<name>|template_fields"
	OPENS["cfg_routes_parse"] = "[]|route_fields"
	OPENS["cfg_template_meta"] = "|meta_fields"
	OPENS["cfg_quota_parse"] = "|quota_fields"
	OPENS["route_coalesce"] = "|coalesce_fields"
	OPENS["cfg_route_escalate"] = "[]|step_fields"
	# config/consent.c reads its two members without a table
	OPENS["cfg_consent_parse"] = "|=consent"
	KEYS["=consent"] = "stop_keywords start_keywords"
}
# #define MACRO(k, ...) whose body declares .key = #k (SENDER_UINT)
/^#define [A-Z_]+\(k,/ { m = $2; sub(/\(.*/, "", m); pending = m; next }
pending != "" && /\.key = #k/ { MACRO[pending] = 1 }
{ pending = "" }
# (tables shared between files of config/ are not static: config/stats.c)
/^(static )?const struct cfg_field [a-z_]+\[\] = \{/ {
	t = $0; sub(/^(static )?const struct cfg_field /, "", t)
	sub(/\[\].*/, "", t); table = t; TABLES[t] = 1; n[t] = 0; next
}
table != "" && /^\};/ { table = ""; next }
table != "" {
	line = $0
	while (match(line, /\.key = "[^"]+"|[A-Z_]+\([a-z_0-9]+,|\.sub = [a-z_]+|\.custom = [a-z_]+/)) {
		tok = substr(line, RSTART, RLENGTH)
		line = substr(line, RSTART + RLENGTH)
		if (tok ~ /^\.key/) {
			split(tok, a, "\""); key[table, ++n[table]] = a[2]
		} else if (tok ~ /^[A-Z_]+\(/) {
			mac = tok; sub(/\(.*/, "", mac)
			if (!(mac in MACRO)) continue
			k = tok; sub(/^[A-Z_]+\(/, "", k); sub(/,$/, "", k)
			key[table, ++n[table]] = k
		} else if (tok ~ /^\.sub/) {
			sub(/^\.sub = /, "", tok); sub_of[table, n[table]] = tok
		} else {
			sub(/^\.custom = /, "", tok); custom_of[table, n[table]] = tok
		}
	}
}
function walk(t, prefix,   i, k, c, o, parts, nk, ks, j) {
	REACHED[t] = 1
	for (i = 1; i <= n[t]; i++) {
		k = prefix key[t, i]
		if ((t, i) in sub_of) { walk(sub_of[t, i], k "."); continue }
		c = custom_of[t, i]
		if (c != "" && (c in OPENS)) {
			split(OPENS[c], parts, "|")
			o = parts[2]
			if (o ~ /^=/) {
				nk = split(KEYS[o], ks, " ")
				for (j = 1; j <= nk; j++) print k "." ks[j]
			} else {
				walk(o, k parts[1] ".")
			}
			continue
		}
		print k
	}
}
END {
	if (!("top_fields" in TABLES)) { print "config-keys: no top_fields table" > "/dev/stderr"; exit 2 }
	walk("top_fields", "")
	for (t in TABLES) if (!(t in REACHED)) {
		print "config-keys: table " t " is reached from no key: add its custom parser to OPENS in tests/man/config-keys.sh" > "/dev/stderr"
		bad = 1
	}
	exit bad ? 2 : 0
}' config/*.c
