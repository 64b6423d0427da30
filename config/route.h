/*
 * route.h - the "routes" array of the config, internal to config/.
 *
 * Routes refer to templates and accounts by name, so they are parsed after
 * both (the top-level table in config.c is ordered for that) and resolved to
 * pointers into the same struct cfg. Strings and arrays a route holds belong
 * to it and go with cfg_route_free().
 */
#ifndef CFG_ROUTE_H
#define CFG_ROUTE_H

#include "config/schema.h"

/* The handler for the top-level "routes" key (base is the struct cfg). */
void cfg_routes_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* A route's "to" (base is the struct cfg_route): a string or an array of
 * expressions and "@group" names; also the first escalation step's. */
void cfg_route_to(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* Rules across routes: unique names; warnings for unapproved templates. */
void cfg_routes_check(struct cfg_pctx *px);

/* A string holding a valid expression, copied; NULL (error added) if not. */
char *cfg_expr_dup(struct cfg_pctx *px, const cJSON *v, const char *path);

/* Frees what r holds (not r); vars is the number of r->vars entries. */
void cfg_route_free(struct cfg_route *r, unsigned vars);

#endif
