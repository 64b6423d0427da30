/*
 * control/templates.c - `templates.list` and `templates.sync`: what the
 * daemon knows of each configured template's approval, and a sync now.
 *
 *   templates.list {account?} -> {templates[{name, account, id, status,
 *                                  source provider|config, approved,
 *                                  category, type, synced_ago_s,
 *                                  changed_ago_s, reason, listed}],
 *                                 accounts[{account, sync, result, rounds,
 *                                  last_ok_ago_s, last_try_ago_s, next_in_s}]}
 *   templates.sync {account?} -> {accounts[{account, rounds}]}: started (or
 *                                 already running); a sync is over when the
 *                                 account's "rounds" in templates.list has
 *                                 passed the one answered here
 *
 * Two steps, as test_connection: a sync may take seconds and a command
 * never waits for the network.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"

static double ago_s(int64_t wall_ms)
{
	int64_t now = hal_wall_ms();

	return wall_ms > 0 && now >= wall_ms ? (double)((now - wall_ms) / 1000) : -1;
}

static void add_template(cJSON *a, const struct fw *fw, const struct cfg_account *acc,
			 const struct cfg_template *t)
{
	const char *account = acc->name;
	char id[200];
	const struct fw_tpl_state *s = fw_templates_state(fw, account, t);
	bool known = s && s->known;
	cJSON *o = cJSON_CreateObject();
	char why[320] = "";
	bool ok = fw_templates_sendable(fw, account, t, why, sizeof(why));

	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddStringToObject(o, "account", account);
	if (acc->provider == CFG_PROVIDER_TWILIO)
		snprintf(id, sizeof(id), "%s", t->content_sid ? t->content_sid : "");
	else
		snprintf(id, sizeof(id), "%s:%s", t->meta_name ? t->meta_name : "",
			 t->meta_language ? t->meta_language : "");
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "status", known ? s->status :
				t->status == CFG_TPL_APPROVED ? "approved" :
				t->status == CFG_TPL_PENDING ? "pending" : "rejected");
	cJSON_AddStringToObject(o, "source", known ? "provider" : "config");
	cJSON_AddBoolToObject(o, "approved", ok);
	cJSON_AddStringToObject(o, "category", known ? s->category : "");
	cJSON_AddStringToObject(o, "type", known ? s->type : "");
	cJSON_AddStringToObject(o, "provider_name", known ? s->name : "");
	cJSON_AddNumberToObject(o, "variables", t->variables);
	cJSON_AddNumberToObject(o, "synced_ago_s", known ? ago_s(s->synced_ms) : -1);
	cJSON_AddNumberToObject(o, "changed_ago_s", known ? ago_s(s->changed_ms) : -1);
	cJSON_AddStringToObject(o, "reason", known && s->reason[0] ? s->reason : ok ? "" : why);
	cJSON_AddBoolToObject(o, "listed", !(s && s->unlisted));
	cJSON_AddItemToArray(a, o);
}

static const char *account_arg(const struct fw *fw, const cJSON *req, char *err, size_t errlen,
			       bool *bad)
{
	const cJSON *acc = cJSON_GetObjectItemCaseSensitive(req, "account");

	*bad = false;
	if (!acc || cJSON_IsNull(acc))
		return NULL;
	if (!cJSON_IsString(acc) || !cfg_account_find(fw->cfg, acc->valuestring)) {
		snprintf(err, errlen, "no account '%.64s' in the configuration",
			 cJSON_IsString(acc) ? acc->valuestring : "?");
		*bad = true;
		return NULL;
	}
	return acc->valuestring;
}

/* The round after which the sync asked for now has run: the next one, or
 * the one after a round already under way (it may predate the ask). */
static void done_at(cJSON *o)
{
	const cJSON *rounds = cJSON_GetObjectItemCaseSensitive(o, "rounds");
	const cJSON *sync = cJSON_GetObjectItemCaseSensitive(o, "sync");
	double n = cJSON_IsNumber(rounds) ? rounds->valuedouble : 0;

	n += cJSON_IsString(sync) && strcmp(sync->valuestring, "running") == 0 ? 2 : 1;
	cJSON_AddNumberToObject(o, "done_at_round", n);
}

/* list: templates and accounts; sync: the accounts as they were before
 * the sync was started, with the round it will end. */
static cJSON *answer(struct fw *fw, const cJSON *req, bool sync, char *err, size_t errlen)
{
	bool bad;
	const char *only = account_arg(fw, req, err, errlen, &bad);
	cJSON *r, *t = NULL, *a;

	if (bad)
		return NULL;
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	if (!sync)
		t = cJSON_AddArrayToObject(r, "templates");
	a = cJSON_AddArrayToObject(r, "accounts");
	for (unsigned i = 0; i < fw->cfg->n_accounts; i++) {
		const char *name = fw->cfg->accounts[i].name;
		cJSON *o;

		if (only && strcmp(only, name) != 0)
			continue;
		/* the templates this account can send (its provider's mapping) */
		for (unsigned j = 0; t && j < fw->cfg->n_templates; j++)
			if (cfg_template_usable(&fw->cfg->templates[j], &fw->cfg->accounts[i]))
				add_template(t, fw, &fw->cfg->accounts[i], &fw->cfg->templates[j]);
		o = cJSON_CreateObject();
		fw_templates_account_json(fw, name, o);
		if (sync)
			done_at(o);
		cJSON_AddItemToArray(a, o);
	}
	if (sync)
		fw_templates_sync(fw, only);
	return r;
}

cJSON *fw_cmd_templates(struct fw *fw, const char *cmd, const cJSON *req, char *err,
			size_t errlen)
{
	if (strcmp(cmd, "templates.list") == 0 || strcmp(cmd, "templates.sync") == 0)
		return answer(fw, req, strcmp(cmd, "templates.sync") == 0, err, errlen);
	snprintf(err, errlen, "unknown command '%.40s' (known: templates.list, templates.sync)",
		 cmd);
	return NULL;
}
