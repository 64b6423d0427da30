#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/alerting.h"
#include "config/render.h"
#include "config/route.h"
#include "config/schedule.h"
#include "config/topic.h"

#define ROUTES_MAX 256
#define EXPR_MAX 1024
#define RT_OFF(m) offsetof(struct cfg_route, m)

static void route_template(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
static void route_vars(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
static void route_account(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
static void route_text(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

static const struct cfg_enum unapproved_names[] = { { "hold", CFG_UNAPPROVED_HOLD },
						    { "fail", CFG_UNAPPROVED_FAIL },
						    { 0 } };

static const struct cfg_enum over_quota_names[] = { { "hold", CFG_OVER_QUOTA_HOLD },
						    { "drop", CFG_OVER_QUOTA_DROP },
						    { 0 } };

static const struct cfg_enum over_cap_names[] = { { "hold", CFG_CAP_HOLD },
						  { "drop", CFG_CAP_DROP },
						  { "digest", CFG_CAP_DIGEST },
						  { 0 } };

static const struct cfg_enum priority_names[] = { { "low", CFG_PRIO_LOW },
						  { "normal", CFG_PRIO_NORMAL },
						  { "high", CFG_PRIO_HIGH },
						  { "urgent", CFG_PRIO_URGENT },
						  { 0 } };

static void coalesce_key(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;

	if (v)
		r->coalesce.key = cfg_expr_dup(px, v, path);
}

static const struct cfg_field coalesce_fields[] = {
	{ .key = "key", .type = CFG_F_CUSTOM, .custom = coalesce_key },
	{ .key = "window", .type = CFG_F_DURATION, .off = RT_OFF(coalesce.window_s), .min = 1,
	  .max = 86400, .required = true },
	{ 0 }
};

/* "coalesce": {"key": "{zone}", "window": "10m"}; absent: none. */
static void route_coalesce(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;

	if (!v)
		return;
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object like {\"key\": \"{zone}\", "
			    "\"window\": \"10m\"}, got %s", cfg_json_type(v));
		return;
	}
	cfg_schema_parse(px, v, coalesce_fields, r, path);
	r->coalesce.set = true;
}

/* Order matters: "vars" is checked against the template found before it. */
static const struct cfg_field route_fields[] = {
	{ .key = "name", .type = CFG_F_STR, .off = RT_OFF(name), .required = true,
	  .check = cfg_ident_valid, .expect = CFG_IDENT_EXPECT },
	{ .key = "topic", .type = CFG_F_STR, .off = RT_OFF(topic), .required = true,
	  .max = CFG_TOPIC_MAX, .check = cfg_topic_filter_valid,
	  .expect = "an MQTT topic filter ('+' and '#' alone in their level, '#' last)" },
	/* A template route names "template"; a free-form one "text" and
	 * optionally "fallback_template" (cfg_routes_check says which go together). */
	{ .key = "template", .type = CFG_F_CUSTOM, .custom = route_template },
	{ .key = "fallback_template", .type = CFG_F_CUSTOM, .custom = route_template },
	{ .key = "text", .type = CFG_F_CUSTOM, .custom = route_text },
	{ .key = "require_opt_in", .type = CFG_F_CUSTOM, .custom = route_text },
	/* required unless "escalate" names the first step's (cfg_route_alerting_check) */
	{ .key = "to", .type = CFG_F_CUSTOM, .custom = cfg_route_to },
	{ .key = "vars", .type = CFG_F_CUSTOM, .custom = route_vars },
	{ .key = "account", .type = CFG_F_CUSTOM, .custom = route_account },
	{ .key = "ttl", .type = CFG_F_DURATION, .off = RT_OFF(ttl_s), .min = 60, .max = 30 * 86400,
	  .def_num = 72 * 3600 },
	{ .key = "unapproved", .type = CFG_F_ENUM, .off = RT_OFF(unapproved),
	  .enums = unapproved_names, .def_num = CFG_UNAPPROVED_HOLD },
	{ .key = "priority", .type = CFG_F_ENUM, .off = RT_OFF(priority), .enums = priority_names,
	  .def_num = CFG_PRIO_NORMAL },
	{ .key = "quiet_hours", .type = CFG_F_CUSTOM, .custom = cfg_quiet_parse },
	{ .key = "over_quota", .type = CFG_F_ENUM, .off = RT_OFF(over_quota),
	  .enums = over_quota_names, .def_num = CFG_OVER_QUOTA_HOLD },
	{ .key = "coalesce", .type = CFG_F_CUSTOM, .custom = route_coalesce },
	{ .key = "max_per_hour", .type = CFG_F_UINT, .off = RT_OFF(max_per_hour), .min = 1,
	  .max = 100000 },
	{ .key = "over_cap", .type = CFG_F_ENUM, .off = RT_OFF(over_cap), .enums = over_cap_names,
	  .def_num = CFG_CAP_HOLD },
	/* after "to": the first step's "to" is the route's (config/alerting.c) */
	{ .key = "escalate", .type = CFG_F_CUSTOM, .custom = cfg_route_escalate },
	{ .key = "until", .type = CFG_F_CUSTOM, .custom = cfg_route_until },
	{ .key = "ack", .type = CFG_F_CUSTOM, .custom = cfg_route_ack },
	{ 0 }
};

void cfg_routes_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg *cfg = base;
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n, i = 0;

	if (!cJSON_IsArray(v)) {
		cfg_err_add(px->errs, path, "expected an array of routes, got %s", cfg_json_type(v));
		return;
	}
	n = (unsigned)cJSON_GetArraySize(v);
	if (n == 0 || n > ROUTES_MAX) {
		cfg_err_add(px->errs, path, "expected 1..%u routes, got %u", ROUTES_MAX, n);
		return;
	}
	cfg->routes = calloc(n, sizeof(*cfg->routes));
	if (!cfg->routes) {
		px->nomem = true;
		return;
	}
	cfg->n_routes = n;
	for (c = v->child; c; c = c->next, i++) {
		cfg_path_index(sub, path, i);
		if (!cJSON_IsObject(c))
			cfg_err_add(px->errs, sub, "expected an object, got %s", cfg_json_type(c));
		else
			cfg_schema_parse(px, c, route_fields, &cfg->routes[i], sub);
	}
}

/* ---- route fields that refer to other parts or hold expressions ---- */

static void route_template(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	const struct cfg *cfg = px->cfg;
	char known[160], q[64];

	if (!v)
		return;
	if (strlen(path) >= 17 && strcmp(path + strlen(path) - 17, "fallback_template") == 0)
		r->fallback_given = true;
	else
		r->template_given = true;
	if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected a template name, got %s", cfg_json_type(v));
		return;
	}
	if (r->template) {
		cfg_err_add(px->errs, path, "a route has either \"template\" or \"text\" with "
			    "\"fallback_template\", not both");
		return;
	}
	r->template = cfg_template_find(cfg, v->valuestring);
	if (r->template)
		return;
	cfg_quote(q, sizeof(q), v->valuestring);
	cfg_known_names(known, sizeof(known), cfg->templates, sizeof(*cfg->templates),
		    cfg->n_templates);
	cfg_err_add(px->errs, path, "unknown template %s (known: %s)", q, known);
}

static void route_account(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	const struct cfg *cfg = px->cfg;
	char known[160], q[64];

	cfg_known_names(known, sizeof(known), cfg->accounts, sizeof(*cfg->accounts), cfg->n_accounts);
	if (!v) {
		/* With one account there is nothing to choose; with several a
		 * silent pick would send from the wrong number. */
		if (cfg->n_accounts == 1)
			r->account = &cfg->accounts[0];
		else if (cfg->n_accounts > 1)
			cfg_err_add(px->errs, path,
				    "required when there is more than one account (known: %s)", known);
		return;
	}
	if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected an account name, got %s", cfg_json_type(v));
		return;
	}
	r->account = cfg_account_find(cfg, v->valuestring);
	if (!r->account) {
		cfg_quote(q, sizeof(q), v->valuestring);
		cfg_err_add(px->errs, path, "unknown account %s (known: %s)", q, known);
	}
}


/* "text" (an expression) and "require_opt_in" (a boolean). */
static void route_text(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	size_t n = strlen(path);

	if (!v)
		return;
	if (n >= 14 && strcmp(path + n - 14, "require_opt_in") == 0) {
		if (!cJSON_IsBool(v))
			cfg_err_add(px->errs, path, "expected true or false, got %s",
				    cfg_json_type(v));
		r->require_opt_in = cJSON_IsTrue(v);
		return;
	}
	r->text_given = true;
	r->text = cfg_expr_dup(px, v, path);
}

char *cfg_expr_dup(struct cfg_pctx *px, const cJSON *v, const char *path)
{
	char why[128];

	if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected an expression string, got %s",
			    cfg_json_type(v));
		return NULL;
	}
	if (strnlen(v->valuestring, EXPR_MAX + 1) > EXPR_MAX) {
		cfg_err_add(px->errs, path, "expression longer than %d bytes", EXPR_MAX);
		return NULL;
	}
	if (!cfg_expr_valid(v->valuestring, why, sizeof(why))) {
		cfg_err_add(px->errs, path, "invalid expression: %s", why);
		return NULL;
	}
	return cfg_schema_strdup(px, v->valuestring);
}

/* An entry is an expression or "@group" (config/alerting.c). */
static char *to_dup(struct cfg_pctx *px, const cJSON *v, const char *path)
{
	if (cJSON_IsString(v) && v->valuestring[0] == '@')
		return cfg_group_ref(px, v->valuestring, path);
	return cfg_expr_dup(px, v, path);
}

void cfg_route_to(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n = 1, i = 0;

	if (!v)
		return;
	if (cJSON_IsArray(v))
		n = (unsigned)cJSON_GetArraySize(v);
	else if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected a string or an array of strings, got %s",
			    cfg_json_type(v));
		return;
	}
	if (n == 0 || n > CFG_TO_MAX) {
		cfg_err_add(px->errs, path, "expected 1..%d recipients, got %u", CFG_TO_MAX, n);
		return;
	}
	r->to = calloc(n, sizeof(*r->to));
	if (!r->to) {
		px->nomem = true;
		return;
	}
	r->n_to = n;
	if (cJSON_IsString(v)) {
		r->to[0] = to_dup(px, v, path);
		return;
	}
	for (c = v->child; c; c = c->next, i++) {
		cfg_path_index(sub, path, i);
		r->to[i] = to_dup(px, c, sub);
	}
}

/* "1".."max" without leading zeros, or 0. */
static unsigned var_index(const char *key, unsigned max)
{
	unsigned k = 0;

	if (key[0] < '1' || key[0] > '9' || strlen(key) > 3 || key[strspn(key, "0123456789")])
		return 0;
	for (; *key; key++)
		k = k * 10 + (unsigned)(*key - '0');
	return k <= max ? k : 0;
}

static void vars_missing(struct cfg_pctx *px, const struct cfg_template *t, const bool *seen,
			 const char *path)
{
	unsigned i;

	for (i = 0; i < t->variables; i++)
		if (!seen[i]) {
			cfg_err_add(px->errs, path, "missing key \"%u\": template \"%s\" has %u "
				    "variables, keys must be \"1\"..\"%u\"", i + 1, t->name,
				    t->variables, t->variables);
			return;
		}
}

static void vars_unknown_key(struct cfg_pctx *px, const struct cfg_template *t, unsigned max,
			     const char *path)
{
	if (t && max == 0)
		cfg_err_add(px->errs, path, "unknown key: template \"%s\" has no variables",
			    t->name);
	else
		cfg_err_add(px->errs, path, "unknown key: keys must be \"1\"..\"%u\"%s%s", max,
			    t ? " for template " : "", t ? t->name : "");
}

static void route_vars(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_route *r = base;
	const struct cfg_template *t = r->template;
	bool seen[CFG_TEMPLATE_VARS_MAX] = { false };
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned max, k;

	if (t && px->tpl_bad[t - px->cfg->templates])
		t = NULL;
	max = t ? t->variables : CFG_TEMPLATE_VARS_MAX;
	if (v && !cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object like {\"1\": \"{name}\"}, got %s",
			    cfg_json_type(v));
		return;
	}
	if (t && t->variables > 0) {
		/* freed by cfg_free() with r->template->variables entries */
		r->vars = calloc(t->variables, sizeof(*r->vars));
		if (!r->vars) {
			px->nomem = true;
			return;
		}
	}
	for (c = v ? v->child : NULL; c; c = c->next) {
		cfg_path_key(sub, path, c->string);
		k = var_index(c->string, max);
		if (k && seen[k - 1]) {
			cfg_err_add(px->errs, sub, "duplicate key");
			continue;
		}
		if (k == 0) {
			vars_unknown_key(px, t, max, sub);
			continue;
		}
		seen[k - 1] = true;
		if (r->vars)
			r->vars[k - 1] = cfg_expr_dup(px, c, sub);
		else
			free(cfg_expr_dup(px, c, sub));
	}
	if (t)
		vars_missing(px, t, seen, path);
}

/* A template route, or a free-form one (with or without a fallback). The
 * raw JSON is gone here, so "which key" is told from what was filled. */
static void route_form_check(struct cfg_pctx *px, const struct cfg_route *r, unsigned i)
{
	char path[CFG_PATH_LEN], tpath[CFG_PATH_LEN + 16];

	snprintf(path, sizeof(path), "$.routes[%u]", i);
	snprintf(tpath, sizeof(tpath), "%s.template", path);
	if (r->fallback_given && !r->text_given)
		cfg_err_add(px->errs, path, "\"fallback_template\" goes with \"text\"");
	else if (!r->template_given && !r->text_given)
		cfg_err_add(px->errs, tpath, "required key is missing (or "
			    "\"text\", a free-form body sent inside the 24-hour window)");
	else if (r->text_given && r->template_given)
		cfg_err_add(px->errs, path, "with \"text\", name the template to use outside the "
			    "24-hour window as \"fallback_template\", not \"template\"");
}

void cfg_routes_check(struct cfg_pctx *px)
{
	static const char *const status[] = { "", "approved", "pending", "rejected" };
	struct cfg *cfg = px->cfg;
	char path[CFG_PATH_LEN];
	unsigned i, j;

	for (i = 0; i < cfg->n_routes; i++) {
		const struct cfg_route *r = &cfg->routes[i];

		route_form_check(px, r, i);
		cfg_schedule_check(px, r, i);
		cfg_route_alerting_check(px, &cfg->routes[i], i);

		for (j = 0; r->name && j < i; j++)
			if (cfg->routes[j].name && strcmp(cfg->routes[j].name, r->name) == 0) {
				snprintf(path, sizeof(path), "$.routes[%u].name", i);
				cfg_err_add(px->errs, path, "duplicate route name \"%s\" (also "
					    "$.routes[%u])", r->name, j);
				break;
			}
		if (r->template && r->template->status != CFG_TPL_APPROVED) {
			snprintf(path, sizeof(path), "$.routes[%u].template", i);
			cfg_err_add(px->warns, path, "template \"%s\" is %s in the config: until "
				    "a sync with the provider says it is approved, its events will "
				    "be %s", r->template->name, status[r->template->status],
				    r->unapproved == CFG_UNAPPROVED_FAIL ? "rejected" : "held");
		}
	}
}

void cfg_route_free(struct cfg_route *r, unsigned vars)
{
	unsigned i;

	free(r->name);
	free(r->topic);
	free(r->text);
	free(r->coalesce.key);
	for (i = 0; r->to && i < r->n_to; i++)
		free(r->to[i]);
	free(r->to);
	for (i = 0; r->vars && i < vars; i++)
		free(r->vars[i]);
	free(r->vars);
	cfg_route_alerting_free(r);
}

