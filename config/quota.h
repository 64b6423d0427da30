/*
 * quota.h - an account's "quota": how many messages a day and a month, and
 * how much money a month, it may spend; what a message costs; who is told
 * (docs/ALERTING.md, quotas and cost).
 *
 *   "quota": {"per_day": 1000, "per_month": 20000, "cost_cap": 50, "currency": "USD",
 *             "prices": {"utility": {"+49": 0.0768, "+1": 0.0147, "*": 0.03},
 *                        "marketing": {"*": 0.06}},
 *             "exempt": "urgent",
 *             "notify": {"to": ["+4915112345678"], "template": "quota_alert"}}
 *
 * A price is per message of a template category ("marketing", "utility",
 * "authentication", "service": templates.<name>.category, default utility)
 * by the recipient's E.164 prefix, the longest that matches, "*" for the
 * rest. Twilio's own price, when a polled status carries one in the quota's
 * currency, replaces the configured one. Past a quota a route's messages
 * below `exempt` wait for the next day or month (or are suppressed:
 * routes[].over_quota).
 */
#ifndef CFG_QUOTA_H
#define CFG_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/schema.h"

/* Handler for accounts.<name>.quota (base is the struct cfg_account). */
void cfg_quota_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
/* Cross checks once templates are parsed: the notify template exists and has 3 vars. */
void cfg_quota_check(struct cfg_pctx *px);
void cfg_quota_free(struct cfg_quota *q);

/* The configured price of one message of category cat to e164 (millionths),
 * 0 if none matches. */
uint64_t cfg_quota_price(const struct cfg_quota *q, int cat, const char *e164);

/* "utility" ... ; the enum's name. */
const char *cfg_category_name(int cat);

#endif
