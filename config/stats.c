/*
 * stats.c - the "stats" and "homeassistant" sections of the config
 * (docs/ALERTING.md): how many days of statistics are kept, and whether and
 * where Home Assistant's MQTT discovery is published.
 */
#include <stddef.h>
#include <string.h>

#include "config/schema.h"

#define CFG_OFF(m) offsetof(struct cfg, m)

/* A discovery prefix is one or more topic levels: no wildcards, no empty
 * level, nothing a broker or Home Assistant would read otherwise. */
static bool check_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//"))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/") == n;
}

const struct cfg_field cfg_stats_fields[] = {
	{ .key = "keep_days", .type = CFG_F_UINT, .off = CFG_OFF(stats.keep_days), .min = 1,
	  .max = 3660, .def_num = 90 },
	{ 0 }
};

const struct cfg_field cfg_ha_fields[] = {
	{ .key = "discovery", .type = CFG_F_BOOL, .off = CFG_OFF(homeassistant.discovery),
	  .def_num = 0 },
	{ .key = "prefix", .type = CFG_F_STR, .off = CFG_OFF(homeassistant.prefix),
	  .def_str = "homeassistant", .check = check_prefix,
	  .expect = "topic levels like \"homeassistant\" (1..64 of A-Z a-z 0-9 _ - /, no "
		    "wildcards)" },
	{ 0 }
};
