/*
 * secrets.h - credentials entries: parsed and checked here, kept sealed in
 * the store's vault (store/vault.h); the secrets file is a one-time import.
 *
 * A JSON object of named entries, referenced by name from the config:
 *   {"twilio-main": {"account_sid": "AC<32 hex>", "auth_token": "..."},
 *    "twilio-key":  {"account_sid": "AC...", "api_key_sid": "SK<32 hex>", "api_key_secret": "..."},
 *    "meta-main":   {"access_token": "EAAG...", "app_secret": "..."},  (app_secret optional)
 *    "d360-main":   {"api_key": "..."},
 *    "mqtt-local":  {"username": "u", "password": "p"},
 *    "remote":      {"hmac_key": "<64 hex>"}}  (signed MQTT commands)
 * The file is refused unless it is a regular file owned by the effective user
 * with mode 0600 or 0400. Error texts name the file, entry and key, never a
 * value. The loaded secrets are owned by struct cfg_secrets; entries stay
 * valid until cfg_secrets_free(), which wipes every string before freeing.
 */
#ifndef CFG_SECRETS_H
#define CFG_SECRETS_H

#include <stddef.h>

#define CFG_SECRETS_FILE_MAX (64 * 1024)

/* hmac_key: password = the 64 hex digits, user = "". Meta: password = the
 * access token (Bearer), app_secret for X-Hub-Signature-256 or NULL; 360dialog:
 * password = the D360-API-KEY; user = "" for both. Twilio: user = api_key_sid or account_sid, password = api_key_secret or
 * auth_token (HTTP basic auth), account_sid for the URL. MQTT: user and
 * password from username/password; account_sid is NULL. */
struct cfg_secret {
	char *name;
	char *account_sid;
	char *user;
	char *password;
	char *app_secret; /* meta only, optional; else NULL */
	const char *kind; /* "auth_token", "api_key", "login", "hmac_key", "access_token"
			     (meta), "d360_api_key" (360dialog) */
	char *json;       /* the entry's own JSON object, as the vault keeps it */
};

struct cfg_secrets;

/* ERR_OK; ERR_PERM (file mode or owner: why names the path and the fix);
 * ERR_NOTFOUND, ERR_IO, ERR_TOOBIG; ERR_CONFIG (malformed: why names the
 * entry and key); ERR_NOMEM. */
int cfg_secrets_load(const char *path, struct cfg_secrets **out, char *why, size_t whylen);

/* The same from text (a secrets file's, or entries the vault held); origin
 * names it in errors. */
int cfg_secrets_parse(const char *text, size_t len, const char *origin, struct cfg_secrets **out,
		      char *why, size_t whylen);

unsigned cfg_secrets_count(const struct cfg_secrets *s);
const struct cfg_secret *cfg_secrets_at(const struct cfg_secrets *s, unsigned i);

/* NULL if there is no entry of that name. */
const struct cfg_secret *cfg_secrets_find(const struct cfg_secrets *s, const char *name);

void cfg_secrets_free(struct cfg_secrets *s); /* accepts NULL */

/* Clears every string in a cJSON tree: cJSON_Delete() frees without
 * clearing, and a request or file may have carried a secret. */
struct cJSON;
void cfg_json_wipe(struct cJSON *node);

#endif
