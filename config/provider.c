/*
 * provider.c - per-provider rules of the config (see provider.h).
 *
 * Meta and 360dialog name a template by its WhatsApp name and language,
 * Twilio by its ContentSid; a template carries whichever mappings the
 * accounts that send it need, and a route whose account cannot send its
 * template is an error that names the route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/provider.h"

#define TPL_OFF(m) offsetof(struct cfg_template, m)

static const char *const default_base[] = {
	[CFG_PROVIDER_TWILIO] = "https://api.twilio.com",
	[CFG_PROVIDER_META] = "https://graph.facebook.com",
	[CFG_PROVIDER_360DIALOG] = "https://waba-v2.360dialog.io",
};

#define DEFAULT_API_VERSION "v21.0"

const char *cfg_provider_name(enum cfg_provider p)
{
	switch (p) {
	case CFG_PROVIDER_TWILIO: return "twilio";
	case CFG_PROVIDER_META: return "meta";
	case CFG_PROVIDER_360DIALOG: return "360dialog";
	}
	return "?";
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = strspn(s, "0123456789");

	return s[n] == '\0' && n >= min && n <= max;
}

bool cfg_check_graph_id(const char *s)
{
	return digits(s, 1, 32);
}

/* "v" digits "." digits, as the Graph API names its versions. */
bool cfg_check_api_version(const char *s)
{
	size_t n;

	if (s[0] != 'v')
		return false;
	n = strspn(s + 1, "0123456789");
	return n >= 1 && n <= 3 && s[1 + n] == '.' && digits(s + 2 + n, 1, 2);
}

/* Meta's rule for template names: lowercase letters, digits, underscore. */
static bool check_meta_name(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s) && strlen(s) <= 512;
}

/* "en", "en_US", "pt_BR", "zh_Hant_HK"... : a language, then regions. */
static bool check_language(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

	if (n < 2 || n > 3)
		return false;
	for (s += n; *s; s += n) {
		if (*s++ != '_')
			return false;
		n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
		if (n < 2 || n > 4)
			return false;
	}
	return true;
}

static const struct cfg_enum media_names[] = { { "image", CFG_MEDIA_IMAGE },
						{ "video", CFG_MEDIA_VIDEO },
						{ "document", CFG_MEDIA_DOCUMENT },
						{ 0 } };

const char *cfg_media_name(enum cfg_media m)
{
	for (const struct cfg_enum *e = media_names; e->name; e++)
		if (e->value == (int)m)
			return e->name;
	return NULL;
}

static const struct cfg_field meta_fields[] = {
	{ .key = "name", .type = CFG_F_STR, .off = TPL_OFF(meta_name), .required = true,
	  .check = check_meta_name, .max = 512,
	  .expect = "a WhatsApp template name (lowercase letters, digits, _)" },
	{ .key = "language", .type = CFG_F_STR, .off = TPL_OFF(meta_language), .required = true,
	  .check = check_language, .max = 16,
	  .expect = "a WhatsApp language code like \"en\" or \"en_US\"" },
	/* A media template's header kind: Meta takes the media URL as a
	 * header parameter of that type, never as body text. */
	{ .key = "header", .type = CFG_F_ENUM, .off = TPL_OFF(meta_header), .enums = media_names },
	{ 0 }
};

void cfg_template_meta(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	if (!v)
		return; /* no mapping: the template is Twilio's only */
	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object like {\"name\": \"order_update\", "
			    "\"language\": \"en_US\"}, got %s", cfg_json_type(v));
		return;
	}
	cfg_schema_parse(px, v, meta_fields, base, path);
}

/* ---- rules across fields ---- */

static void account_path(char *path, const struct cfg_account *a, const char *key)
{
	cfg_path_key(path, "$.accounts", a->name);
	strncat(path, ".", CFG_PATH_LEN - strlen(path) - 1);
	strncat(path, key, CFG_PATH_LEN - strlen(path) - 1);
}

/* A key given to a provider that has no use for it is a mistake worth
 * naming (e.g. a phone_number_id on a 360dialog account: 360dialog adds
 * the number itself, and one in the URL makes it fail). */
static void not_for(struct cfg_pctx *px, const struct cfg_account *a, const char *key,
		    const char *val)
{
	char path[CFG_PATH_LEN];

	if (!val)
		return;
	account_path(path, a, key);
	cfg_err_add(px->errs, path, "not used by a %s account (only by meta)",
		    cfg_provider_name(a->provider));
}

/* Every consumer (ledger, inbound matching, a Twilio fallback) sees one
 * shape of "from": "whatsapp:+E.164". Meta and 360dialog accounts may
 * write the bare display number; Twilio needs the channel prefix. */
static void from_shape(struct cfg_pctx *px, struct cfg_account *a)
{
	char path[CFG_PATH_LEN], *s;
	size_t n;

	if (!a->from || a->from[0] != '+')
		return;
	if (a->provider == CFG_PROVIDER_TWILIO) {
		account_path(path, a, "from");
		cfg_err_add(px->errs, path, "expected \"whatsapp:+<E.164>\" for a twilio account, "
			    "got \"%.20s\"", a->from);
		return;
	}
	n = strlen(a->from) + sizeof("whatsapp:");
	if (!(s = malloc(n))) {
		px->nomem = true;
		return;
	}
	snprintf(s, n, "whatsapp:%s", a->from);
	free(a->from);
	a->from = s;
}

static void account_finish(struct cfg_pctx *px, struct cfg_account *a)
{
	char path[CFG_PATH_LEN];

	if (!a->name)
		return;
	if (!a->api_base && !(a->api_base = cfg_schema_strdup(px, default_base[a->provider])))
		return;
	from_shape(px, a);
	if (a->provider == CFG_PROVIDER_META) {
		if (!a->phone_number_id) {
			account_path(path, a, "phone_number_id");
			cfg_err_add(px->errs, path, "required for a meta account (the number's id "
				    "in WhatsApp Manager)");
		}
		if (!a->api_version)
			a->api_version = cfg_schema_strdup(px, DEFAULT_API_VERSION);
		return;
	}
	not_for(px, a, "phone_number_id", a->phone_number_id);
	not_for(px, a, "waba_id", a->waba_id);
	not_for(px, a, "api_version", a->api_version);
}

/* Meta and 360dialog take a media URL only as the template's header, of
 * the kind the template was made with: a media_var with a "meta" mapping
 * needs that kind, and a header kind needs the variable that fills it. */
static void template_media(struct cfg_pctx *px, const struct cfg_template *t, char *path)
{
	if (!t->meta_name || !t->media_var == !t->meta_header)
		return;
	strncat(path, ".meta.header", CFG_PATH_LEN - strlen(path) - 1);
	if (t->media_var)
		cfg_err_add(px->errs, path, "required with media_var for meta and 360dialog: "
			    "{{%u}} is sent as the template's header media, of the kind it was "
			    "made with (\"image\", \"video\" or \"document\")", t->media_var);
	else
		cfg_err_add(px->errs, path, "needs media_var: the variable that holds the "
			    "header's https:// URL");
}

static void template_finish(struct cfg_pctx *px, const struct cfg_template *t)
{
	char path[CFG_PATH_LEN];

	if (!t->name)
		return;
	cfg_path_key(path, "$.templates", t->name);
	if (t->content_sid || t->meta_name) {
		template_media(px, t, path);
		return;
	}
	cfg_err_add(px->errs, path, "a template needs \"twilio_content_sid\" (for twilio "
		    "accounts) or \"meta\": {\"name\", \"language\"} (for meta and 360dialog)");
}

/* A route whose account cannot send its template would fail every event. */
static void route_finish(struct cfg_pctx *px, unsigned i)
{
	const struct cfg_route *r = &px->cfg->routes[i];
	const struct cfg_account *a = r->account;
	char path[CFG_PATH_LEN];

	if (!a || !r->template || px->tpl_bad[r->template - px->cfg->templates] ||
	    cfg_template_usable(r->template, a))
		return; /* a template with errors of its own was named already */
	snprintf(path, sizeof(path), "$.routes[%u].template", i);
	if (a->provider == CFG_PROVIDER_TWILIO)
		cfg_err_add(px->errs, path, "account %s is twilio: template %s needs "
			    "\"twilio_content_sid\"", a->name, r->template->name);
	else
		cfg_err_add(px->errs, path, "account %s is %s: template %s needs \"meta\": "
			    "{\"name\": ..., \"language\": ...}", a->name,
			    cfg_provider_name(a->provider), r->template->name);
}

void cfg_providers_finish(struct cfg_pctx *px)
{
	struct cfg *cfg = px->cfg;
	unsigned i;

	for (i = 0; i < cfg->n_accounts && !px->nomem; i++)
		account_finish(px, &cfg->accounts[i]);
	for (i = 0; i < cfg->n_templates; i++)
		template_finish(px, &cfg->templates[i]);
	for (i = 0; i < cfg->n_routes; i++)
		route_finish(px, i);
}
