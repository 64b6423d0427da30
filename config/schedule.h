/*
 * schedule.h - when a route may send: its priority, its quiet hours, and
 * the site's time zone they are read in (docs/ALERTING.md).
 *
 *   "timezone": "Europe/Berlin",
 *   "routes": [{"name": "receipts", ..., "priority": "low",
 *               "quiet_hours": {"from": "22:00", "to": "07:00"}},
 *              {"name": "alarm", ..., "priority": "urgent"}]
 *
 * A time zone is an IANA name whose file the gateway's tzdata holds; with
 * none, quiet hours are read in UTC. A window may cross midnight; "from"
 * is inside it and "to" is not. An urgent route ignores quiet hours, so it
 * may not name any.
 */
#ifndef CFG_SCHEDULE_H
#define CFG_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/schema.h"

struct cfg_route;

/* Where the time zones are: $TZDIR, else Debian's and OpenWrt's place. */
#define CFG_TZDIR_DEFAULT "/usr/share/zoneinfo"
#define CFG_TIMEZONE_MAX 64

/* Handlers for the top-level "timezone" and a route's "quiet_hours". */
void cfg_timezone_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
void cfg_quiet_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* Rules across keys: an urgent route with quiet hours (i is its index). */
void cfg_schedule_check(struct cfg_pctx *px, const struct cfg_route *r, unsigned i);

/* Whether minute-of-day `min` (0..1439) is inside route r's quiet hours. */
bool cfg_quiet_at(const struct cfg_route *r, unsigned min);

#endif
