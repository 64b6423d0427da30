/*
 * control/creds.c - the `creds.*` control commands: the vault's entries by name
 * and masked tail, setting and deleting one, rotating the device key.
 *
 * No reply ever carries a secret, and a request that carries one is wiped
 * from memory once handled (control.c). Secrets do not travel over MQTT:
 * the command topic is signed, not encrypted, and any subscriber on the
 * broker would read them; `creds.set` is refused there.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/schema.h"
#include "config/secrets.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "hal/log.h"

/* "AC…1a2b", "…k3y9" or "****" for a short value: enough to tell entries
 * apart, nothing to log in with. */
static void mask_tail(const char *s, char *out, size_t outlen)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 12)
		snprintf(out, outlen, "****");
	else if (strncmp(s, "AC", 2) == 0 || strncmp(s, "SK", 2) == 0)
		snprintf(out, outlen, "%.2s\u2026%s", s, s + n - 4);
	else
		snprintf(out, outlen, "\u2026%s", s + n - 4);
}

static void add_masked(cJSON *o, const char *key, const char *value)
{
	char m[32];

	if (!value || !value[0])
		return;
	mask_tail(value, m, sizeof(m));
	cJSON_AddStringToObject(o, key, m);
}

static void add_users(const struct fw *fw, const char *name, cJSON *o)
{
	cJSON *a = cJSON_AddArrayToObject(o, "used_by");
	char buf[96];

	for (unsigned i = 0; i < fw->cfg->n_accounts; i++)
		if (strcmp(fw->cfg->accounts[i].credentials, name) == 0) {
			snprintf(buf, sizeof(buf), "account %s", fw->cfg->accounts[i].name);
			cJSON_AddItemToArray(a, cJSON_CreateString(buf));
		}
	if (fw->cfg->mqtt.credentials && strcmp(fw->cfg->mqtt.credentials, name) == 0)
		cJSON_AddItemToArray(a, cJSON_CreateString("mqtt"));
}

/* {"state":"open"|"sealed","reason":…,"entries":N} for status and lists. */
void fw_creds_vault_status(const struct fw *fw, cJSON *r)
{
	cJSON *o = cJSON_AddObjectToObject(r, "vault");
	const char *sealed = fw_vault_sealed(fw);

	cJSON_AddStringToObject(o, "state", sealed ? "sealed" : "open");
	cJSON_AddStringToObject(o, "reason", sealed ? sealed : "");
	cJSON_AddNumberToObject(o, "entries", cfg_secrets_count(fw->secrets));
	cJSON_AddStringToObject(o, "key_file", fw->cfg->vault.key_file);
}

static cJSON *creds_list(struct fw *fw)
{
	cJSON *r = cJSON_CreateObject(), *a;

	cJSON_AddBoolToObject(r, "ok", true);
	fw_creds_vault_status(fw, r);
	a = cJSON_AddArrayToObject(r, "entries");
	for (unsigned i = 0; i < cfg_secrets_count(fw->secrets); i++) {
		const struct cfg_secret *s = cfg_secrets_at(fw->secrets, i);
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", s->name);
		cJSON_AddStringToObject(e, "kind", s->kind);
		add_masked(e, "account_sid", s->account_sid);
		add_masked(e, "user", s->account_sid && strcmp(s->user, s->account_sid) == 0 ?
			   NULL : s->user);
		add_masked(e, "secret", s->password);
		add_users(fw, s->name, e);
		cJSON_AddItemToArray(a, e);
	}
	return r;
}

static const char *name_of(const cJSON *req, char *err, size_t errlen)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(req, "name");

	if (!cJSON_IsString(n) || !cfg_ident_valid(n->valuestring)) {
		snprintf(err, errlen, "\"name\" must be a credentials entry name (%s)",
			 CFG_IDENT_EXPECT);
		return NULL;
	}
	return n->valuestring;
}

static cJSON *ok_reply(const char *name)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddBoolToObject(r, "ok", true);
	if (name)
		cJSON_AddStringToObject(r, "name", name);
	return r;
}

static cJSON *creds_set(struct fw *fw, const struct fw_caller *from, const cJSON *req,
			char *err, size_t errlen)
{
	const cJSON *entry = cJSON_GetObjectItemCaseSensitive(req, "entry");
	const char *name = name_of(req, err, errlen);
	char *json;
	int rc;

	if (!name)
		return NULL;
	if (strcmp(from->transport, "mqtt") == 0) {
		snprintf(err, errlen, "creds set is refused over MQTT (a secret would cross the "
			 "broker unencrypted); use the serial line or the socket");
		return NULL;
	}
	if (!cJSON_IsObject(entry)) {
		snprintf(err, errlen, "\"entry\" must be an object like {\"account_sid\":…, "
			 "\"auth_token\":…}");
		return NULL;
	}
	json = cJSON_PrintUnformatted(entry);
	if (!json)
		return NULL;
	rc = fw_vault_set(fw, name, json, err, errlen);
	explicit_bzero(json, strlen(json));
	cJSON_free(json);
	return rc == ERR_OK ? ok_reply(name) : NULL;
}

static cJSON *creds_delete(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const char *name = name_of(req, err, errlen);

	if (!name || fw_vault_delete(fw, name, err, errlen) != ERR_OK)
		return NULL;
	return ok_reply(name);
}

static cJSON *creds_rotate(struct fw *fw, char *err, size_t errlen)
{
	unsigned n;
	cJSON *r;

	if (fw_vault_rotate(fw, &n, err, errlen) != ERR_OK)
		return NULL;
	r = ok_reply(NULL);
	cJSON_AddNumberToObject(r, "resealed", n);
	return r;
}

cJSON *fw_cmd_creds(struct fw *fw, const struct fw_caller *from, const char *cmd,
		    const cJSON *req, char *err, size_t errlen)
{
	if (strcmp(cmd, "creds.list") == 0)
		return creds_list(fw);
	if (strcmp(cmd, "creds.set") == 0)
		return creds_set(fw, from, req, err, errlen);
	if (strcmp(cmd, "creds.delete") == 0)
		return creds_delete(fw, req, err, errlen);
	if (strcmp(cmd, "creds.rotate_key") == 0)
		return creds_rotate(fw, err, errlen);
	snprintf(err, errlen, "unknown command '%.40s' (known: creds.list, creds.set, "
		 "creds.delete, creds.rotate_key)", cmd);
	return NULL;
}
