/*
 * alerting.c - recipient groups and on-call escalation in the config.
 *
 *   "groups": {"oncall": ["+4917011111111", "+4917022222222"], "backup": ["+4917033333333"]},
 *   "routes": [{"name": "alarm", "topic": "site/alarm", "template": "alarm",
 *               "escalate": [{"to": "@oncall", "after": "5m"},
 *                            {"to": ["@backup", "+4917044444444"], "after": "10m"}],
 *               "until": "read", "ack": {"en": ["ACK", "OK"], "de": ["QUITTIERT"]}}]
 *
 * A group is 1..16 E.164 numbers, kept normalised. "@name" may stand in any
 * route's "to" beside expressions of the event's fields. With "escalate",
 * the first step's "to" is what the route's "to" would be (it may name event
 * fields: it is resolved at ingest); later steps name groups and numbers
 * only, since the event is not kept until they go. Each step's "after" is
 * how long its messages have to be read (or delivered, "until") before the
 * next step goes; after the last step's, the chain gives up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/alerting.h"
#include "config/consent.h"
#include "config/phone.h"
#include "config/route.h"

#define GROUPS_MAX 64
#define GROUP_SIZE_MAX 16
#define STEPS_MAX 8
#define AFTER_MIN_S 1
#define AFTER_MAX_S (7 * 86400)

static const char *const default_ack[] = {"ACK", "OK", NULL};

/* ---- groups ---- */

/* One number of a group or step: E.164 with its '+', normalised. */
static char *number_dup(struct cfg_pctx *px, const cJSON *v, const char *path)
{
	char e164[CFG_PHONE_MAX], q[64];
	const char *why;

	if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected an E.164 number like \"+4917012345678\", got %s",
			    cfg_json_type(v));
		return NULL;
	}
	cfg_quote(q, sizeof(q), v->valuestring);
	if (v->valuestring[0] != '+' && strncmp(v->valuestring, "whatsapp:+", 10) != 0) {
		cfg_err_add(px->errs, path, "expected an E.164 number with its '+' like "
			    "\"+4917012345678\", got %s", q);
		return NULL;
	}
	if (cfg_phone_normalize(v->valuestring, NULL, e164, &why) != 0) {
		cfg_err_add(px->errs, path, "%s: %s", q, why);
		return NULL;
	}
	return cfg_schema_strdup(px, e164);
}

static void group_parse(struct cfg_pctx *px, const cJSON *v, struct cfg_group *g, const char *path)
{
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n, i = 0;

	if (!cJSON_IsArray(v)) {
		cfg_err_add(px->errs, path, "expected an array of E.164 numbers, got %s",
			    cfg_json_type(v));
		return;
	}
	n = (unsigned)cJSON_GetArraySize(v);
	if (n == 0 || n > GROUP_SIZE_MAX) {
		cfg_err_add(px->errs, path, "expected 1..%d numbers, got %u%s", GROUP_SIZE_MAX, n,
			    n ? "" : " (an empty group would send to nobody)");
		return;
	}
	g->to = calloc(n, sizeof(*g->to));
	if (!g->to) {
		px->nomem = true;
		return;
	}
	g->n_to = n;
	for (c = v->child; c; c = c->next, i++) {
		cfg_path_index(sub, path, i);
		g->to[i] = number_dup(px, c, sub);
		for (unsigned k = 0; g->to[i] && k < i; k++)
			if (g->to[k] && strcmp(g->to[k], g->to[i]) == 0) {
				cfg_err_add(px->errs, sub, "the same number as [%u]", k);
				break;
			}
	}
}

void cfg_groups_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg *cfg = base;
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n, i = 0;

	if (!v)
		return;
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object of groups by name, like "
			    "{\"oncall\": [\"+4917012345678\"]}, got %s", cfg_json_type(v));
		return;
	}
	n = (unsigned)cJSON_GetArraySize(v);
	if (n > GROUPS_MAX) {
		cfg_err_add(px->errs, path, "expected at most %d groups, got %u", GROUPS_MAX, n);
		return;
	}
	if (n == 0)
		return;
	cfg_schema_check_keys(px, v, NULL, path);
	cfg->groups = calloc(n, sizeof(*cfg->groups));
	if (!cfg->groups) {
		px->nomem = true;
		return;
	}
	cfg->n_groups = n;
	for (c = v->child; c; c = c->next, i++) {
		cfg_path_key(sub, path, c->string);
		if (!cfg_ident_valid(c->string)) {
			cfg_err_add(px->errs, sub, "group name: expected %s", CFG_IDENT_EXPECT);
			continue;
		}
		cfg->groups[i].name = cfg_schema_strdup(px, c->string);
		group_parse(px, c, &cfg->groups[i], sub);
	}
}

char *cfg_group_ref(struct cfg_pctx *px, const char *s, const char *path)
{
	char known[200], q[64];

	if (cfg_group_find(px->cfg, s))
		return cfg_schema_strdup(px, s);
	cfg_quote(q, sizeof(q), s);
	cfg_known_names(known, sizeof(known), px->cfg->groups, sizeof(*px->cfg->groups),
			px->cfg->n_groups);
	cfg_err_add(px->errs, path, "unknown group %s (known: %s)", q, known);
	return NULL;
}

void cfg_groups_free(struct cfg *cfg)
{
	for (unsigned i = 0; i < cfg->n_groups; i++) {
		for (unsigned k = 0; cfg->groups[i].to && k < cfg->groups[i].n_to; k++)
			free(cfg->groups[i].to[k]);
		free(cfg->groups[i].to);
		free(cfg->groups[i].name);
	}
	free(cfg->groups);
}

/* ---- escalation ---- */

/* A later step's "to": "@group" or numbers, a string or an array. */
static void step_to(struct cfg_pctx *px, const cJSON *v, struct cfg_step *st, const char *path)
{
	char sub[CFG_PATH_LEN];
	const cJSON *one[1] = {v}, *c;
	unsigned n = 1;

	if (cJSON_IsArray(v))
		n = (unsigned)cJSON_GetArraySize(v);
	else if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected \"@group\", a number or an array of them, got %s",
			    cfg_json_type(v));
		return;
	}
	if (n == 0 || n > CFG_TO_MAX) {
		cfg_err_add(px->errs, path, "expected 1..%d recipients, got %u", CFG_TO_MAX, n);
		return;
	}
	st->to = calloc(n, sizeof(*st->to));
	if (!st->to) {
		px->nomem = true;
		return;
	}
	st->n_to = n;
	c = cJSON_IsArray(v) ? v->child : one[0];
	for (unsigned i = 0; i < n && c; i++, c = c->next) {
		if (cJSON_IsArray(v))
			cfg_path_index(sub, path, i);
		else
			snprintf(sub, sizeof(sub), "%s", path);
		if (cJSON_IsString(c) && c->valuestring[0] == '@')
			st->to[i] = cfg_group_ref(px, c->valuestring, sub);
		else if (cJSON_IsString(c) && strchr(c->valuestring, '{'))
			cfg_err_add(px->errs, sub, "steps after the first name groups (\"@oncall\") "
				    "or numbers, not event fields: the event is not kept until the "
				    "step goes");
		else
			st->to[i] = number_dup(px, c, sub);
		if (!cJSON_IsArray(v))
			break;
	}
}

/* "to" is taken by hand after the table (the first step's is the route's). */
static void to_later(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	(void)px;
	(void)v;
	(void)base;
	(void)path;
}

static const struct cfg_field step_fields[] = {
	{ .key = "to", .type = CFG_F_CUSTOM, .required = true, .custom = to_later },
	{ .key = "after", .type = CFG_F_DURATION, .off = offsetof(struct cfg_step, after_s),
	  .required = true, .min = AFTER_MIN_S, .max = AFTER_MAX_S },
	{ 0 }
};

static void step_parse(struct cfg_pctx *px, const cJSON *v, struct cfg_route *r, unsigned i,
		       const char *path)
{
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(v, "to");
	char sub[CFG_PATH_LEN];

	cfg_schema_parse(px, v, step_fields, &r->steps[i], path);
	cfg_path_key(sub, path, "to");
	if (!to)
		return; /* "required key is missing", said by the table */
	if (i > 0)
		step_to(px, to, &r->steps[i], sub);
	else if (r->to)
		cfg_err_add(px->errs, sub, "the route has \"to\" too: with \"escalate\", the first "
			    "step's \"to\" is who gets the message first; leave the route's out");
	else
		cfg_route_to(px, to, r, sub);
}

void cfg_route_escalate(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n, i = 0;

	if (!v)
		return;
	r->escalate_given = true;
	if (!cJSON_IsArray(v)) {
		cfg_err_add(px->errs, path, "expected an array of steps like [{\"to\": \"@oncall\", "
			    "\"after\": \"5m\"}], got %s", cfg_json_type(v));
		return;
	}
	n = (unsigned)cJSON_GetArraySize(v);
	if (n == 0 || n > STEPS_MAX) {
		cfg_err_add(px->errs, path, "expected 1..%d steps, got %u", STEPS_MAX, n);
		return;
	}
	r->steps = calloc(n, sizeof(*r->steps));
	if (!r->steps) {
		px->nomem = true;
		return;
	}
	r->n_steps = n;
	for (c = v->child; c; c = c->next, i++) {
		cfg_path_index(sub, path, i);
		if (!cJSON_IsObject(c))
			cfg_err_add(px->errs, sub, "expected an object like {\"to\": \"@oncall\", "
				    "\"after\": \"5m\"}, got %s", cfg_json_type(c));
		else
			step_parse(px, c, r, i, sub);
	}
}

void cfg_route_until(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;

	if (!v)
		return;
	r->until_given = true;
	if (cJSON_IsString(v) && strcmp(v->valuestring, "read") == 0)
		r->until_delivered = false;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "delivered") == 0)
		r->until_delivered = true;
	else
		cfg_err_add(px->errs, path, "expected \"read\" or \"delivered\"");
}

/* ["ACK", "OK"] or by language {"en": ["ACK"], "de": ["QUITTIERT"]}. */
void cfg_route_ack(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	char sub[CFG_PATH_LEN];
	const cJSON *w;
	unsigned i = 0;

	if (!v)
		return;
	r->ack_given = true;
	if (cJSON_IsObject(v)) {
		cfg_keyword_lists_parse(px, v, path, &r->ack, &r->n_ack);
		return;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 ||
	    cJSON_GetArraySize(v) > CFG_KEYWORDS_MAX) {
		cfg_err_add(px->errs, path, "expected 1..%d keywords like [\"ACK\", \"OK\"] or lists "
			    "by language like {\"en\": [\"ACK\"]}, got %s", CFG_KEYWORDS_MAX,
			    cfg_json_type(v));
		return;
	}
	r->ack = calloc((size_t)cJSON_GetArraySize(v), sizeof(*r->ack));
	if (!r->ack) {
		px->nomem = true;
		return;
	}
	cJSON_ArrayForEach(w, v) {
		cfg_path_index(sub, path, i++);
		if (!cJSON_IsString(w) || !cfg_keyword_valid(w->valuestring))
			cfg_err_add(px->errs, sub, "expected a keyword of 1..%d bytes without control "
				    "characters or outer spaces", CFG_KEYWORD_MAX);
		else
			r->ack[r->n_ack++] = cfg_schema_strdup(px, w->valuestring);
	}
}

void cfg_route_alerting_check(struct cfg_pctx *px, struct cfg_route *r, unsigned i)
{
	char path[CFG_PATH_LEN];

	snprintf(path, sizeof(path), "$.routes[%u]", i);
	if (!r->to && !r->escalate_given) {
		strncat(path, ".to", sizeof(path) - strlen(path) - 1);
		cfg_err_add(px->errs, path, "required key is missing (or \"escalate\", a chain of "
			    "steps whose first names the recipients)");
		return;
	}
	if (!r->escalate_given && (r->until_given || r->ack_given)) {
		cfg_err_add(px->errs, path, "\"%s\" goes with \"escalate\"",
			    r->until_given ? "until" : "ack");
		return;
	}
	if (!r->escalate_given || r->ack)
		return;
	unsigned n = 0;

	while (default_ack[n])
		n++;
	r->ack = calloc(n, sizeof(*r->ack));
	if (!r->ack) {
		px->nomem = true;
		return;
	}
	for (r->n_ack = 0; r->n_ack < n; r->n_ack++)
		r->ack[r->n_ack] = cfg_schema_strdup(px, default_ack[r->n_ack]);
}

void cfg_route_alerting_free(struct cfg_route *r)
{
	for (unsigned i = 0; r->steps && i < r->n_steps; i++) {
		for (unsigned k = 0; r->steps[i].to && k < r->steps[i].n_to; k++)
			free(r->steps[i].to[k]);
		free(r->steps[i].to);
	}
	free(r->steps);
	for (unsigned i = 0; r->ack && i < r->n_ack; i++)
		free(r->ack[i]);
	free(r->ack);
}
