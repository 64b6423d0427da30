/*
 * meta.c - requests of the Meta Cloud API and 360dialog drivers: the send
 * URL and JSON body, the auth headers, the probe and templates URLs.
 * Answers are read in meta_reply.c. See meta.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "net/providers/meta.h"

#define PARAMS_MAX 100 /* body parameters: as many as a template may have */

static bool filled(const char *s)
{
	return s && *s;
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = s ? strspn(s, "0123456789") : 0;

	return s && s[n] == '\0' && n >= min && n <= max;
}

/* "v21.0": the path segment, so nothing but that shape goes into a URL. */
static bool version_ok(const char *s)
{
	size_t n;

	if (!s || s[0] != 'v')
		return false;
	n = strspn(s + 1, "0123456789");
	if (n < 1 || n > 3 || s[1 + n] != '.')
		return false;
	return digits(s + 2 + n, 1, 2);
}

/* api_base without its trailing slash, then the parts; NULL if no memory. */
static char *join(const char *base, const char *const *parts, size_t n)
{
	size_t blen = strlen(base), len, i;
	char *url;

	if (blen && base[blen - 1] == '/')
		blen--;
	len = blen;
	for (i = 0; i < n; i++)
		len += strlen(parts[i]);
	if (!(url = malloc(len + 1)))
		return NULL;
	memcpy(url, base, blen);
	len = blen;
	for (i = 0; i < n; i++) {
		memcpy(url + len, parts[i], strlen(parts[i]));
		len += strlen(parts[i]);
	}
	url[len] = '\0';
	return url;
}

/* {api_base}/{version}/{id}{tail}, id digits (phone-number or WABA id). */
static int graph_url(const struct net_send_msg *m, const char *id, const char *tail,
		     char **url_out)
{
	const char *parts[] = {"/", m->aux_base, "/", id, tail};

	if (!filled(m->api_base) || !version_ok(m->aux_base) || !digits(id, 1, 32))
		return ERR_INVAL;
	*url_out = join(m->api_base, parts, sizeof(parts) / sizeof(parts[0]));
	return *url_out ? ERR_OK : ERR_NOMEM;
}

static int plain_url(const struct net_send_msg *m, const char *path, char **url_out)
{
	if (!filled(m->api_base))
		return ERR_INVAL;
	*url_out = join(m->api_base, &path, 1);
	return *url_out ? ERR_OK : ERR_NOMEM;
}

/* ---- body ---- */

/* The recipient as Meta wants it: digits with the country code. */
static bool recipient(const char *to, char *out, size_t size)
{
	if (strncmp(to, "whatsapp:", 9) == 0)
		to += 9;
	if (*to == '+')
		to++;
	if (!digits(to, 7, 15) || strlen(to) >= size)
		return false;
	snprintf(out, size, "%s", to);
	return true;
}

/* A media template's header: [{"type":"image","image":{"link":URL}}]
 * (likewise video, document), as Meta takes a template's media. */
static int header_params(const struct net_send_msg *m, const char *url, cJSON *comps)
{
	cJSON *h, *params, *p, *media;

	if (!m->media_type || (strcmp(m->media_type, "image") != 0 &&
			       strcmp(m->media_type, "video") != 0 &&
			       strcmp(m->media_type, "document") != 0))
		return ERR_INVAL;
	if (!(h = cJSON_CreateObject()) || !cJSON_AddItemToArray(comps, h) ||
	    !cJSON_AddStringToObject(h, "type", "header") ||
	    !(params = cJSON_AddArrayToObject(h, "parameters")) ||
	    !(p = cJSON_CreateObject()) || !cJSON_AddItemToArray(params, p) ||
	    !cJSON_AddStringToObject(p, "type", m->media_type) ||
	    !(media = cJSON_AddObjectToObject(p, m->media_type)) ||
	    !cJSON_AddStringToObject(media, "link", url))
		return ERR_NOMEM;
	return ERR_OK;
}

/* One body parameter {"type":"text","text":..}, the body component made
 * on the first. */
static int body_param(cJSON *comps, cJSON **params, const char *text)
{
	cJSON *body, *p;

	if (!*params && (!(body = cJSON_CreateObject()) || !cJSON_AddItemToArray(comps, body) ||
			 !cJSON_AddStringToObject(body, "type", "body") ||
			 !(*params = cJSON_AddArrayToObject(body, "parameters"))))
		return ERR_NOMEM;
	if (!(p = cJSON_CreateObject()) || !cJSON_AddItemToArray(*params, p) ||
	    !cJSON_AddStringToObject(p, "type", "text") || !cJSON_AddStringToObject(p, "text", text))
		return ERR_NOMEM;
	return ERR_OK;
}

/* {"1":"Ana","2":"8812"} -> [{"type":"text","text":"Ana"}, ...] in key
 * order, variable m->media_var (if any) as the header's media instead.
 * Keys must be exactly "1".."n": a positional template has no other, and
 * a gap would shift every later value into the wrong placeholder. */
static int components(const struct net_send_msg *m, cJSON *comps)
{
	cJSON *vars = cJSON_Parse(m->vars_json), *params = NULL;
	const cJSON *v;
	int n, i, rc = ERR_INVAL;
	char key[8];

	if (!cJSON_IsObject(vars) || (n = cJSON_GetArraySize(vars)) > PARAMS_MAX ||
	    m->media_var > (unsigned)n)
		goto out;
	for (i = 1; i <= n; i++) { /* every key there and text, before anything is built */
		snprintf(key, sizeof(key), "%d", i);
		v = cJSON_GetObjectItemCaseSensitive(vars, key);
		if (!cJSON_IsString(v) || !v->valuestring)
			goto out;
	}
	/* The header first: Meta lists a template's components in that order. */
	rc = ERR_OK;
	if (m->media_var) {
		snprintf(key, sizeof(key), "%d", (int)m->media_var); /* <= PARAMS_MAX */
		rc = header_params(m, cJSON_GetObjectItemCaseSensitive(vars, key)->valuestring, comps);
	}
	for (i = 1; i <= n && rc == ERR_OK; i++) {
		snprintf(key, sizeof(key), "%d", i);
		if ((unsigned)i != m->media_var)
			rc = body_param(comps, &params,
					cJSON_GetObjectItemCaseSensitive(vars, key)->valuestring);
	}
out:
	cJSON_Delete(vars);
	return rc;
}

static int add_template(const struct net_send_msg *m, cJSON *root)
{
	cJSON *t, *lang, *comps;

	if (!filled(m->template_name) || !filled(m->language))
		return ERR_INVAL;
	if (!cJSON_AddStringToObject(root, "type", "template") ||
	    !(t = cJSON_AddObjectToObject(root, "template")) ||
	    !cJSON_AddStringToObject(t, "name", m->template_name) ||
	    !(lang = cJSON_AddObjectToObject(t, "language")) ||
	    !cJSON_AddStringToObject(lang, "policy", "deterministic") ||
	    !cJSON_AddStringToObject(lang, "code", m->language))
		return ERR_NOMEM;
	if (!filled(m->vars_json) || strcmp(m->vars_json, "{}") == 0)
		return m->media_var ? ERR_INVAL : ERR_OK; /* no placeholders: no components */
	if (!(comps = cJSON_AddArrayToObject(t, "components")))
		return ERR_NOMEM;
	return components(m, comps);
}

static int add_text(const struct net_send_msg *m, cJSON *root)
{
	cJSON *text;

	if (!cJSON_AddStringToObject(root, "type", "text") ||
	    !(text = cJSON_AddObjectToObject(root, "text")) ||
	    !cJSON_AddBoolToObject(text, "preview_url", false) ||
	    !cJSON_AddStringToObject(text, "body", m->body))
		return ERR_NOMEM;
	return ERR_OK;
}

/* The Cloud API message, built as a tree: values are never pasted into
 * JSON text, so no variable can break out of its string. */
static int build_body(const struct net_send_msg *m, char **body_out)
{
	cJSON *root = cJSON_CreateObject();
	char to[20];
	int rc = ERR_NOMEM;

	if (!recipient(m->to, to, sizeof(to))) {
		rc = ERR_INVAL;
		goto out;
	}
	if (!root || !cJSON_AddStringToObject(root, "messaging_product", "whatsapp") ||
	    !cJSON_AddStringToObject(root, "recipient_type", "individual") ||
	    !cJSON_AddStringToObject(root, "to", to))
		goto out;
	rc = m->body ? add_text(m, root) : add_template(m, root);
	if (rc != ERR_OK)
		goto out;
	*body_out = cJSON_PrintUnformatted(root);
	rc = *body_out ? ERR_OK : ERR_NOMEM;
out:
	cJSON_Delete(root);
	return rc;
}

static int send_build(const struct net_send_msg *m, char **url_out, char **body_out, bool d360)
{
	char *url = NULL, *body = NULL;
	int rc = ERR_INVAL;

	if (!m || !url_out || !body_out || !filled(m->to))
		return ERR_INVAL;
	if (d360)
		rc = plain_url(m, "/messages", &url);
	else
		rc = graph_url(m, m->account_id, "/messages", &url);
	if (rc == ERR_OK)
		rc = build_body(m, &body);
	if (rc != ERR_OK) {
		free(url);
		return rc;
	}
	*url_out = url;
	*body_out = body;
	return ERR_OK;
}

static int meta_build(const struct net_send_msg *m, char **url_out, char **body_out)
{
	return send_build(m, url_out, body_out, false);
}

static int d360_build(const struct net_send_msg *m, char **url_out, char **body_out)
{
	return send_build(m, url_out, body_out, true);
}

/* ---- headers ---- */

/* A token goes into a header line: a CR or LF in it would start another. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static char *header(const char *name, const char *value)
{
	size_t n = strlen(name) + 2 + strlen(value) + 1;
	char *h = malloc(n);

	if (h)
		snprintf(h, n, "%s: %s", name, value);
	return h;
}

static int auth_headers(const struct net_send_msg *m, bool post, const char *name,
			const char *prefix, char *hdr[NET_HTTP_HEADERS_MAX], unsigned *n)
{
	size_t plen = strlen(prefix);
	char *v;

	*n = 0;
	if (!m || !filled(m->token) || !header_safe(m->token))
		return ERR_INVAL;
	if (!(v = malloc(plen + strlen(m->token) + 1)))
		return ERR_NOMEM;
	memcpy(v, prefix, plen);
	memcpy(v + plen, m->token, strlen(m->token) + 1);
	hdr[0] = header(name, v);
	explicit_bzero(v, strlen(v));
	free(v);
	if (!hdr[0])
		return ERR_NOMEM;
	*n = 1;
	if (post) {
		if (!(hdr[1] = header("Content-Type", "application/json"))) {
			net_http_headers_free(hdr, 1);
			*n = 0;
			return ERR_NOMEM;
		}
		*n = 2;
	}
	return ERR_OK;
}

static int meta_headers(const struct net_send_msg *m, bool post,
			char *hdr[NET_HTTP_HEADERS_MAX], unsigned *n)
{
	return auth_headers(m, post, "Authorization", "Bearer ", hdr, n);
}

static int d360_headers(const struct net_send_msg *m, bool post,
			char *hdr[NET_HTTP_HEADERS_MAX], unsigned *n)
{
	return auth_headers(m, post, "D360-API-KEY", "", hdr, n);
}

/* ---- probe and templates ---- */

/* Reading the number itself proves the token, its permission on that
 * number and the TLS path, and sends nothing. */
static int meta_probe_url(const struct net_send_msg *m, char **url_out)
{
	if (!m || !url_out)
		return ERR_INVAL;
	return graph_url(m, m->account_id, "", url_out);
}

static const char *meta_probe_what(const struct net_send_msg *m)
{
	(void)m;
	return "phone number fetch (GET /{version}/{phone_number_id})";
}

/* 360dialog has no account call; its templates list is the cheapest
 * authenticated GET (providers.md 6). */
static int d360_templates_url(const struct net_send_msg *m, char **url_out)
{
	if (!m || !url_out)
		return ERR_INVAL;
	return plain_url(m, "/v1/configs/templates", url_out);
}

static const char *d360_probe_what(const struct net_send_msg *m)
{
	(void)m;
	return "templates list (GET /v1/configs/templates)";
}

static int meta_templates_url(const struct net_send_msg *m, char **url_out)
{
	if (!m || !url_out)
		return ERR_INVAL;
	return graph_url(m, m->waba_id, "/message_templates?fields=name,status,language,category"
			 "&limit=100", url_out);
}

const struct net_provider net_meta_provider = {
	.name = "meta",
	.build = meta_build,
	.outcome = net_meta_outcome,
	.probe_url = meta_probe_url,
	.probe_what = meta_probe_what,
	.code_class = net_meta_code_class,
	.templates_url = meta_templates_url,
	.templates_page = net_meta_templates_page,
	.headers = meta_headers,
};

const struct net_provider net_d360_provider = {
	.name = "360dialog",
	.build = d360_build,
	.outcome = net_meta_outcome,
	.probe_url = d360_templates_url,
	.probe_what = d360_probe_what,
	.code_class = net_meta_code_class,
	.templates_url = d360_templates_url,
	.templates_page = net_meta_templates_page,
	.headers = d360_headers,
};
