/*
 * provider.h - what the config says per provider, internal to config/:
 * the Meta/360dialog keys of an account, the "meta" mapping of a template,
 * and the rules across them (defaults by provider, which routes a provider
 * can serve). config.c's tables point at the checks and handlers here.
 */
#ifndef CFG_PROVIDER_H
#define CFG_PROVIDER_H

#include "config/schema.h"

/* Account keys: "phone_number_id" and "waba_id" (digits), "api_version". */
bool cfg_check_graph_id(const char *s);
bool cfg_check_api_version(const char *s);
#define CFG_GRAPH_ID_EXPECT "digits (1..32)"
#define CFG_API_VERSION_EXPECT "a Graph API version like \"v21.0\""

/* The handler for a template's "meta": {"name": ..., "language": ...}. */
void cfg_template_meta(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* After accounts, templates and routes are parsed: per-provider defaults
 * (api_base, api_version, "from" as "whatsapp:+E.164"), keys a provider
 * needs or does not take, templates a route's account cannot send. */
void cfg_providers_finish(struct cfg_pctx *px);

#endif
