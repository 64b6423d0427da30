/*
 * alerting.h - "groups" and a route's "escalate", "until" and "ack",
 * internal to config/ (config/alerting.c; docs/ALERTING.md).
 */
#ifndef CFG_ALERTING_H
#define CFG_ALERTING_H

#include "config/schema.h"

/* The handler for the top-level "groups" key (base is the struct cfg);
 * parsed before "routes", which name groups. */
void cfg_groups_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* A "to" entry that starts with '@': the group must exist. A copy of the
 * text ("@oncall"), or NULL with an error at path. */
char *cfg_group_ref(struct cfg_pctx *px, const char *s, const char *path);

/* Route handlers: "escalate", "until", "ack" (base is the struct cfg_route). */
void cfg_route_escalate(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
void cfg_route_until(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
void cfg_route_ack(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* Rules across keys of route i: "to" or "escalate", "until"/"ack" only with
 * "escalate"; the default ack words. */
void cfg_route_alerting_check(struct cfg_pctx *px, struct cfg_route *r, unsigned i);

void cfg_route_alerting_free(struct cfg_route *r);
void cfg_groups_free(struct cfg *cfg);

#endif
