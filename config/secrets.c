#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/schema.h"
#include "config/secrets.h"
#include "hal/err.h"
#include "hal/file.h"

#define ENTRIES_MAX 256
#define VALUE_MAX 1024

struct cfg_secrets {
	struct cfg_secret *v;
	unsigned n;
};

/* The keys an entry may have; which combination makes which kind. */
enum { K_ACCOUNT_SID, K_AUTH_TOKEN, K_API_KEY_SID, K_API_KEY_SECRET, K_USERNAME, K_PASSWORD,
       K_HMAC_KEY, K_ACCESS_TOKEN, K_APP_SECRET, K_API_KEY, K_N };
static const char *const key_names[K_N] = {
	[K_ACCOUNT_SID] = "account_sid", [K_AUTH_TOKEN] = "auth_token",
	[K_API_KEY_SID] = "api_key_sid", [K_API_KEY_SECRET] = "api_key_secret",
	[K_USERNAME] = "username",       [K_PASSWORD] = "password",
	[K_HMAC_KEY] = "hmac_key",
	[K_ACCESS_TOKEN] = "access_token", [K_APP_SECRET] = "app_secret", /* meta */
	[K_API_KEY] = "api_key",                                          /* 360dialog */
};

static void wipe_str(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void cfg_json_wipe(cJSON *node)
{
	for (; node; node = node->next) {
		if (node->valuestring)
			explicit_bzero(node->valuestring, strlen(node->valuestring));
		cfg_json_wipe(node->child);
	}
}

static bool sid_valid(const char *s, const char *prefix)
{
	size_t n = strspn(s + 2, "0123456789abcdefABCDEF");

	return strncmp(s, prefix, 2) == 0 && n == 32 && s[34] == '\0';
}

/* Fills vals[] from the entry's keys; false with why naming entry and key. */
static bool entry_keys(const cJSON *e, const char **vals, const char *path, char *why,
		       size_t whylen)
{
	const cJSON *c;
	int i;

	for (c = e->child; c; c = c->next) {
		for (i = 0; i < K_N && strcmp(key_names[i], c->string) != 0; i++)
			;
		if (i == K_N) {
			snprintf(why, whylen, "%s: entry \"%s\": unknown key \"%.32s\"", path,
				 e->string, c->string);
			return false;
		}
		if (!cJSON_IsString(c) || !c->valuestring[0] ||
		    strnlen(c->valuestring, VALUE_MAX + 1) > VALUE_MAX ||
		    vals[i]) {
			snprintf(why, whylen, "%s: entry \"%s\": \"%s\" must be given once, as a "
				 "string of 1..%d bytes", path, e->string, c->string, VALUE_MAX);
			return false;
		}
		vals[i] = c->valuestring;
	}
	return true;
}

static bool hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

/* Meta: access_token (+ app_secret for webhook signatures); 360dialog:
 * api_key. NULL if vals is one of them; else why not, or "" if neither. */
static const char *cloud_shape(const char **vals)
{
	bool meta = vals[K_ACCESS_TOKEN] || vals[K_APP_SECRET], d360 = vals[K_API_KEY];
	int i, others = 0;

	for (i = 0; i < K_ACCESS_TOKEN; i++)
		others += vals[i] != NULL;
	if (!meta && !d360)
		return "";
	if (others || (meta && d360))
		return "access_token and api_key stand alone in their entries (app_secret goes "
		       "with access_token)";
	if (meta && !vals[K_ACCESS_TOKEN])
		return "\"app_secret\" goes with an \"access_token\"";
	return NULL;
}

static const char *entry_shape(const char **vals)
{
	const char *cloud = cloud_shape(vals);

	if (!cloud || cloud[0])
		return cloud;
	bool sid = vals[K_ACCOUNT_SID], tok = vals[K_AUTH_TOKEN];
	bool ksid = vals[K_API_KEY_SID], ksec = vals[K_API_KEY_SECRET];
	bool user = vals[K_USERNAME], pass = vals[K_PASSWORD], hmac = vals[K_HMAC_KEY];

	if (sid && !sid_valid(vals[K_ACCOUNT_SID], "AC"))
		return "\"account_sid\" must be \"AC\" followed by 32 hex digits";
	if (ksid && !sid_valid(vals[K_API_KEY_SID], "SK"))
		return "\"api_key_sid\" must be \"SK\" followed by 32 hex digits";
	if (hmac && !hex64(vals[K_HMAC_KEY]))
		return "\"hmac_key\" must be 64 hex digits (32 bytes)";
	if (hmac && !sid && !tok && !ksid && !ksec && !user && !pass)
		return NULL;
	if (hmac)
		return "\"hmac_key\" stands alone in its entry";
	if (sid && tok && !ksid && !ksec && !user && !pass)
		return NULL;
	if (sid && !tok && ksid && ksec && !user && !pass)
		return NULL;
	if (!sid && !tok && !ksid && !ksec && user && pass)
		return NULL;
	return "expected account_sid + auth_token, account_sid + api_key_sid + api_key_secret, "
	       "access_token (+ app_secret), api_key, username + password, or hmac_key";
}

static int entry_fill(struct cfg_secret *s, const cJSON *e, const char *path, char *why,
		      size_t whylen)
{
	const char *vals[K_N] = { NULL }, *bad;
	bool key = false;

	if (!cJSON_IsObject(e)) {
		snprintf(why, whylen, "%s: entry \"%s\" is not an object", path, e->string);
		return ERR_CONFIG;
	}
	if (!entry_keys(e, vals, path, why, whylen))
		return ERR_CONFIG;
	bad = entry_shape(vals);
	if (bad) {
		snprintf(why, whylen, "%s: entry \"%s\": %s", path, e->string, bad);
		return ERR_CONFIG;
	}
	key = vals[K_API_KEY_SID] != NULL;
	s->kind = key ? "api_key" : vals[K_AUTH_TOKEN] ? "auth_token" :
		  vals[K_HMAC_KEY] ? "hmac_key" : vals[K_ACCESS_TOKEN] ? "access_token" :
		  vals[K_API_KEY] ? "d360_api_key" : "login";
	/* Meta and 360dialog: the token is the password, nothing else is. */
	if (vals[K_ACCESS_TOKEN] || vals[K_API_KEY])
		vals[K_PASSWORD] = vals[K_ACCESS_TOKEN] ? vals[K_ACCESS_TOKEN] : vals[K_API_KEY];
	if (vals[K_APP_SECRET] && !(s->app_secret = strdup(vals[K_APP_SECRET])))
		return ERR_NOMEM;
	s->json = cJSON_PrintUnformatted(e);
	s->name = strdup(e->string);
	s->account_sid = vals[K_ACCOUNT_SID] ? strdup(vals[K_ACCOUNT_SID]) : NULL;
	s->user = strdup(key ? vals[K_API_KEY_SID] :
			 vals[K_ACCOUNT_SID] ? vals[K_ACCOUNT_SID] :
			 vals[K_USERNAME] ? vals[K_USERNAME] : "");
	s->password = strdup(key ? vals[K_API_KEY_SECRET] :
			     vals[K_AUTH_TOKEN] ? vals[K_AUTH_TOKEN] :
			     vals[K_PASSWORD] ? vals[K_PASSWORD] : vals[K_HMAC_KEY]);
	if (!s->name || !s->user || !s->password || !s->json ||
	    (vals[K_ACCOUNT_SID] && !s->account_sid))
		return ERR_NOMEM;
	return ERR_OK;
}

static int parse_entries(struct cfg_secrets *s, const cJSON *root, const char *path, char *why,
			 size_t whylen)
{
	const cJSON *e, *d;
	int rc = ERR_OK;

	if (!cJSON_IsObject(root) || !root->child) {
		snprintf(why, whylen, "%s: expected a JSON object of named entries", path);
		return ERR_CONFIG;
	}
	if (cJSON_GetArraySize(root) > ENTRIES_MAX) {
		snprintf(why, whylen, "%s: more than %d entries", path, ENTRIES_MAX);
		return ERR_CONFIG;
	}
	s->v = calloc((size_t)cJSON_GetArraySize(root), sizeof(*s->v));
	if (!s->v)
		return ERR_NOMEM;
	for (e = root->child; e && rc == ERR_OK; e = e->next) {
		/* Accounts name entries by identifier, and the vault keys them by
		 * name: anything else could never be used, and would not survive
		 * being written back as JSON. */
		if (!cfg_ident_valid(e->string)) {
			snprintf(why, whylen, "%s: entry name \"%.40s\" must be %s", path, e->string,
				 CFG_IDENT_EXPECT);
			return ERR_CONFIG;
		}
		for (d = root->child; d != e; d = d->next)
			if (strcmp(d->string, e->string) == 0) {
				snprintf(why, whylen, "%s: entry \"%s\" given twice", path, e->string);
				return ERR_CONFIG;
			}
		rc = entry_fill(&s->v[s->n++], e, path, why, whylen);
	}
	return rc;
}

int cfg_secrets_parse(const char *text, size_t len, const char *origin, struct cfg_secrets **out,
		      char *why, size_t whylen)
{
	struct cfg_secrets *s = NULL;
	cJSON *root;
	int rc;

	*out = NULL;
	root = cJSON_ParseWithLength(text, len);
	if (!root) {
		/* no position: the text around it could be a secret */
		snprintf(why, whylen, "%s: invalid JSON", origin);
		return ERR_CONFIG;
	}
	s = calloc(1, sizeof(*s));
	rc = s ? parse_entries(s, root, origin, why, whylen) : ERR_NOMEM;
	if (rc == ERR_OK) {
		*out = s;
		s = NULL;
	}
	cfg_json_wipe(root);
	cJSON_Delete(root);
	cfg_secrets_free(s);
	if (rc == ERR_NOMEM)
		snprintf(why, whylen, "%s: out of memory", origin);
	return rc;
}

int cfg_secrets_load(const char *path, struct cfg_secrets **out, char *why, size_t whylen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = hal_file_read_private(path, CFG_SECRETS_FILE_MAX, &buf, &len, why, whylen);
	if (rc != ERR_OK)
		return rc;
	rc = cfg_secrets_parse(buf, len, path, out, why, whylen);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

unsigned cfg_secrets_count(const struct cfg_secrets *s)
{
	return s ? s->n : 0;
}

const struct cfg_secret *cfg_secrets_at(const struct cfg_secrets *s, unsigned i)
{
	return s && i < s->n ? &s->v[i] : NULL;
}

const struct cfg_secret *cfg_secrets_find(const struct cfg_secrets *s, const char *name)
{
	unsigned i;

	for (i = 0; s && name && i < s->n; i++)
		if (s->v[i].name && strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

void cfg_secrets_free(struct cfg_secrets *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].name);
		wipe_str(s->v[i].account_sid);
		wipe_str(s->v[i].user);
		wipe_str(s->v[i].password);
		wipe_str(s->v[i].app_secret);
		wipe_str(s->v[i].json);
	}
	free(s->v);
	free(s);
}
