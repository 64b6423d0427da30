/*
 * schedule.c - a route's priority and quiet hours, the site's time zone.
 * Parsing and checks only: firmware/quiet.c reads the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "config/schedule.h"

/* An IANA name: "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
 * "Etc/GMT+3". Letters, digits, '_', '-', '+' in parts joined by '/'; no
 * empty part and no "..", so it names a file under the zone directory and
 * nothing outside it. */
static bool tz_name_valid(const char *s)
{
	size_t part = 0;

	if (!*s || strlen(s) > CFG_TIMEZONE_MAX)
		return false;
	for (; *s; s++) {
		if (*s == '/') {
			if (!part)
				return false;
			part = 0;
			continue;
		}
		if (!(*s >= 'A' && *s <= 'Z') && !(*s >= 'a' && *s <= 'z') &&
		    !(*s >= '0' && *s <= '9') && *s != '_' && *s != '-' && *s != '+')
			return false;
		part++;
	}
	return part > 0;
}

void cfg_timezone_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg *cfg = base;
	const char *dir = getenv("TZDIR");
	char file[512];
	struct stat st;

	if (!v)
		return;
	if (!cJSON_IsString(v) || !tz_name_valid(v->valuestring)) {
		cfg_err_add(px->errs, path, "expected an IANA time zone name like "
			    "\"Europe/Berlin\" or \"UTC\", got %s",
			    cJSON_IsString(v) ? "a string that is none" : cfg_json_type(v));
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", dir && *dir ? dir : CFG_TZDIR_DEFAULT,
		 v->valuestring);
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
		cfg_err_add(px->errs, path, "no time zone \"%s\" in this system's tzdata (%s): "
			    "install tzdata or name another zone", v->valuestring, file);
		return;
	}
	cfg->timezone = strdup(v->valuestring);
	if (!cfg->timezone)
		px->nomem = true;
}

/* "HH:MM", 00:00 .. 23:59, into minutes of the day. */
static bool hhmm(const cJSON *v, uint16_t *min)
{
	const char *s;

	if (!cJSON_IsString(v))
		return false;
	s = v->valuestring;
	if (strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	if ((s[0] - '0') * 10 + (s[1] - '0') > 23 || s[3] > '5')
		return false;
	*min = (uint16_t)(((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 +
			  (s[4] - '0'));
	return true;
}

void cfg_quiet_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	char sub[CFG_PATH_LEN + 8];
	const cJSON *c;

	if (!v)
		return;
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object like {\"from\": \"22:00\", "
			    "\"to\": \"07:00\"}, got %s", cfg_json_type(v));
		return;
	}
	cJSON_ArrayForEach(c, v) {
		if (strcmp(c->string, "from") != 0 && strcmp(c->string, "to") != 0) {
			snprintf(sub, sizeof(sub), "%s.%s", path, c->string);
			cfg_err_add(px->errs, sub, "unknown key (known: from, to)");
		}
	}
	snprintf(sub, sizeof(sub), "%s.from", path);
	if (!hhmm(cJSON_GetObjectItemCaseSensitive(v, "from"), &r->quiet.from_min)) {
		cfg_err_add(px->errs, sub, "expected a local time \"HH:MM\" (00:00..23:59)");
		return;
	}
	snprintf(sub, sizeof(sub), "%s.to", path);
	if (!hhmm(cJSON_GetObjectItemCaseSensitive(v, "to"), &r->quiet.to_min)) {
		cfg_err_add(px->errs, sub, "expected a local time \"HH:MM\" (00:00..23:59)");
		return;
	}
	if (r->quiet.from_min == r->quiet.to_min) {
		cfg_err_add(px->errs, sub, "the same as \"from\": a window that is empty or the "
			    "whole day (leave quiet_hours out, or give an end)");
		return;
	}
	r->quiet.set = true;
}

void cfg_schedule_check(struct cfg_pctx *px, const struct cfg_route *r, unsigned i)
{
	char path[CFG_PATH_LEN];

	if (r->over_cap != CFG_CAP_HOLD && !r->max_per_hour) {
		snprintf(path, sizeof(path), "$.routes[%u].over_cap", i);
		cfg_err_add(px->errs, path, "says what happens past max_per_hour, which this route "
			    "does not set");
	}
	if (r->priority == CFG_PRIO_URGENT && r->quiet.set) {
		snprintf(path, sizeof(path), "$.routes[%u].quiet_hours", i);
		cfg_err_add(px->errs, path, "an urgent route is never held for quiet hours: "
			    "remove quiet_hours or lower its priority");
	}
}

bool cfg_quiet_at(const struct cfg_route *r, unsigned min)
{
	unsigned from = r->quiet.from_min, to = r->quiet.to_min;

	if (!r->quiet.set)
		return false;
	return from < to ? min >= from && min < to : min >= from || min < to;
}
