/*
 * quota.c - parsing and checking an account's "quota", and its prices.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/phone.h"
#include "config/quota.h"
#include "hal/err.h"
#include "hal/parse.h"

static const char *const category_names[CFG_CAT__N] = {
	[CFG_CAT_UTILITY] = "utility", [CFG_CAT_MARKETING] = "marketing",
	[CFG_CAT_AUTHENTICATION] = "authentication", [CFG_CAT_SERVICE] = "service",
};

const char *cfg_category_name(int cat)
{
	return cat >= 0 && cat < CFG_CAT__N ? category_names[cat] : "unknown";
}

static int category_of(const char *name)
{
	for (int i = 0; i < CFG_CAT__N; i++)
		if (strcmp(name, category_names[i]) == 0)
			return i;
	return -1;
}

/* A price or cap: a number >= 0 and below a million, into millionths. */
static bool money(const cJSON *v, uint64_t *micro)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble >= 1e6)
		return false;
	*micro = hal_micro(v->valuedouble);
	return true;
}

static bool prefix_valid(const char *s)
{
	size_t n = strlen(s);

	if (strcmp(s, "*") == 0)
		return true;
	if (n < 2 || n > 8 || s[0] != '+' || s[1] == '0')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void parse_category(struct cfg_pctx *px, struct cfg_quota *q, int cat, const cJSON *v,
			   const char *path)
{
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n = 0;

	if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) == 0 ||
	    cJSON_GetArraySize(v) > CFG_PRICES_MAX) {
		cfg_err_add(px->errs, path, "expected an object of 1..%d prices like {\"+49\": "
			    "0.0768, \"*\": 0.03}, got %s", CFG_PRICES_MAX, cfg_json_type(v));
		return;
	}
	q->prices[cat] = calloc((size_t)cJSON_GetArraySize(v), sizeof(*q->prices[cat]));
	if (!q->prices[cat]) {
		px->nomem = true;
		return;
	}
	cJSON_ArrayForEach(c, v) {
		cfg_path_key(sub, path, c->string);
		if (!prefix_valid(c->string)) {
			cfg_err_add(px->errs, sub, "expected an E.164 prefix like \"+49\" (a country "
				    "code, 1 to 7 digits) or \"*\"");
			continue;
		}
		if (!money(c, &q->prices[cat][n].micro)) {
			if (cJSON_IsNumber(c))
				cfg_err_add(px->errs, sub, "expected a price per message, a number from "
					    "0 below 1000000, got %g", c->valuedouble);
			else
				cfg_err_add(px->errs, sub, "expected a price per message, a number from "
					    "0 below 1000000, got %s", cfg_json_type(c));
			continue;
		}
		snprintf(q->prices[cat][n++].prefix, sizeof(q->prices[cat][0].prefix), "%s",
			 c->string);
	}
	q->n_prices[cat] = n;
}

static void parse_prices(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_quota *q = base;
	char sub[CFG_PATH_LEN];
	const cJSON *c;

	if (!v)
		return;
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object of categories (marketing, utility, "
			    "authentication, service), got %s", cfg_json_type(v));
		return;
	}
	cJSON_ArrayForEach(c, v) {
		int cat = category_of(c->string);

		cfg_path_key(sub, path, c->string);
		if (cat < 0)
			cfg_err_add(px->errs, sub, "unknown category (known: marketing, utility, "
				    "authentication, service)");
		else
			parse_category(px, q, cat, c, sub);
	}
}

static void parse_notify(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_quota *q = base;
	char sub[CFG_PATH_LEN], tpath[CFG_PATH_LEN], e164[CFG_PHONE_MAX];
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(v, "to"), *tpl, *c;
	const char *why;
	unsigned i = 0;

	if (!v)
		return;
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected {\"to\": [\"+49...\"], \"template\": \"name\"}, "
			    "got %s", cfg_json_type(v));
		return;
	}
	tpl = cJSON_GetObjectItemCaseSensitive(v, "template");
	cfg_path_key(sub, path, "template");
	if (!cJSON_IsString(tpl))
		cfg_err_add(px->errs, sub, "expected the name of a template of 3 variables "
			    "(account, what, percent)");
	else if (!(q->notify_template = strdup(tpl->valuestring)))
		px->nomem = true;
	cfg_path_key(tpath, path, "to");
	if (!cJSON_IsArray(to) || cJSON_GetArraySize(to) < 1 ||
	    cJSON_GetArraySize(to) > CFG_NOTIFY_MAX) {
		cfg_err_add(px->errs, tpath, "expected an array of 1..%d E.164 numbers",
			    CFG_NOTIFY_MAX);
		return;
	}
	cJSON_ArrayForEach(c, to) {
		cfg_path_index(sub, tpath, i++);
		if (cJSON_IsString(c) && c->valuestring[0] == '@') { /* a group: cfg_quota_check */
			if (!(q->notify_to[q->n_notify++] = strdup(c->valuestring)))
				px->nomem = true;
		} else if (!cJSON_IsString(c) ||
			   cfg_phone_normalize(c->valuestring, NULL, e164, &why) != ERR_OK) {
			cfg_err_add(px->errs, sub, "expected an E.164 number like \"+4915112345678\" "
				    "or a group like \"@admins\"");
		} else if (!(q->notify_to[q->n_notify++] = strdup(e164))) {
			px->nomem = true;
		}
	}
}

static const struct cfg_enum exempt_names[] = { { "low", CFG_PRIO_LOW },
						{ "normal", CFG_PRIO_NORMAL },
						{ "high", CFG_PRIO_HIGH },
						{ "urgent", CFG_PRIO_URGENT },
						{ 0 } };

static void parse_cap(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_quota *q = base;

	if (v && (!money(v, &q->cost_cap_micro) || !q->cost_cap_micro))
		cfg_err_add(px->errs, path, "expected a month's cost, a number above 0 below "
			    "1000000, got %s", cfg_json_type(v));
}

static void parse_currency(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_quota *q = base;
	const char *s = cJSON_IsString(v) ? v->valuestring : "";

	if (!v)
		return;
	if (strlen(s) != 3 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) ||
	    !isalpha((unsigned char)s[2])) {
		cfg_err_add(px->errs, path, "expected an ISO 4217 code like \"USD\"");
		return;
	}
	for (int i = 0; i < 3; i++)
		q->currency[i] = (char)toupper((unsigned char)s[i]);
}

#define Q_OFF(m) offsetof(struct cfg_quota, m)

static const struct cfg_field quota_fields[] = {
	{ .key = "per_day", .type = CFG_F_UINT, .off = Q_OFF(per_day), .min = 1, .max = 10000000 },
	{ .key = "per_month", .type = CFG_F_UINT, .off = Q_OFF(per_month), .min = 1,
	  .max = 100000000 },
	{ .key = "exempt", .type = CFG_F_ENUM, .off = Q_OFF(exempt), .enums = exempt_names,
	  .def_num = CFG_PRIO_URGENT },
	{ .key = "cost_cap", .type = CFG_F_CUSTOM, .custom = parse_cap },
	{ .key = "currency", .type = CFG_F_CUSTOM, .custom = parse_currency },
	{ .key = "prices", .type = CFG_F_CUSTOM, .custom = parse_prices },
	{ .key = "notify", .type = CFG_F_CUSTOM, .custom = parse_notify },
	{ 0 }
};

void cfg_quota_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg_account *a = base;
	struct cfg_quota *q = &a->quota;
	char sub[CFG_PATH_LEN];

	if (!v)
		return;
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object, got %s", cfg_json_type(v));
		return;
	}
	cfg_schema_parse(px, v, quota_fields, q, path);
	q->set = true;
	if (!q->per_day && !q->per_month && !q->cost_cap_micro)
		cfg_err_add(px->errs, path, "names no limit: give per_day, per_month or cost_cap");
	if (q->cost_cap_micro && !q->currency[0]) {
		cfg_path_key(sub, path, "currency");
		cfg_err_add(px->errs, sub, "required with cost_cap (the currency prices are in)");
	}
}

/* "@group" in notify.to becomes the group's numbers (groups are parsed
 * after accounts). */
static void expand_groups(struct cfg_pctx *px, struct cfg_account *a)
{
	struct cfg_quota *q = &a->quota;
	char *to[CFG_NOTIFY_MAX], path[CFG_PATH_LEN + 64];
	unsigned n = 0;

	for (unsigned i = 0; i < q->n_notify; i++) {
		const struct cfg_group *g;

		if (q->notify_to[i][0] != '@') {
			if (n < CFG_NOTIFY_MAX)
				to[n++] = q->notify_to[i];
			else
				free(q->notify_to[i]);
			continue;
		}
		g = cfg_group_find(px->cfg, q->notify_to[i] + 1);
		snprintf(path, sizeof(path), "$.accounts.%s.quota.notify.to[%u]", a->name, i);
		if (!g)
			cfg_err_add(px->errs, path, "unknown group \"%.40s\"", q->notify_to[i]);
		for (unsigned k = 0; g && k < g->n_to; k++) {
			if (n == CFG_NOTIFY_MAX) {
				cfg_err_add(px->errs, path, "more than %d recipients with the group's",
					    CFG_NOTIFY_MAX);
				break;
			}
			if (!(to[n++] = strdup(g->to[k])))
				px->nomem = true;
		}
		free(q->notify_to[i]);
	}
	memcpy(q->notify_to, to, n * sizeof(to[0]));
	q->n_notify = n;
}

void cfg_quota_check(struct cfg_pctx *px)
{
	const struct cfg *cfg = px->cfg;
	char path[CFG_PATH_LEN + 64];

	for (unsigned i = 0; i < cfg->n_accounts; i++) {
		const struct cfg_quota *q = &cfg->accounts[i].quota;
		const struct cfg_template *t;

		expand_groups(px, (struct cfg_account *)&cfg->accounts[i]);
		if (!q->notify_template)
			continue;
		snprintf(path, sizeof(path), "$.accounts.%s.quota.notify.template",
			 cfg->accounts[i].name);
		t = cfg_template_find(cfg, q->notify_template);
		if (!t)
			cfg_err_add(px->errs, path, "unknown template \"%s\"", q->notify_template);
		else if (t->variables != 3)
			cfg_err_add(px->errs, path, "template \"%s\" has %u variables; a quota notice "
				    "fills 3 (account, what, percent)", t->name, t->variables);
		else if (!cfg_template_usable(t, &cfg->accounts[i]))
			cfg_err_add(px->errs, path, "template \"%s\" cannot be sent by this account's "
				    "provider", t->name);
	}
}

void cfg_quota_free(struct cfg_quota *q)
{
	for (int i = 0; i < CFG_CAT__N; i++)
		free(q->prices[i]);
	for (unsigned i = 0; i < q->n_notify; i++)
		free(q->notify_to[i]);
	free(q->notify_template);
}

uint64_t cfg_quota_price(const struct cfg_quota *q, int cat, const char *e164)
{
	size_t best = 0;
	uint64_t price = 0;
	bool found = false;

	if (cat < 0 || cat >= CFG_CAT__N)
		return 0;
	for (unsigned i = 0; i < q->n_prices[cat]; i++) {
		const struct cfg_price *p = &q->prices[cat][i];
		size_t n = strlen(p->prefix);

		if (strcmp(p->prefix, "*") == 0) {
			if (!found)
				price = p->micro;
		} else if (strncmp(e164, p->prefix, n) == 0 && n > best) {
			best = n;
			price = p->micro;
			found = true;
		}
	}
	return price;
}
