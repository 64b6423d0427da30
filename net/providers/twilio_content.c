/*
 * twilio_content.c - the Twilio Content API half of the Twilio driver:
 * listing templates with their WhatsApp approval (GET
 * /v1/ContentAndApprovals, reference providers.md section 3).
 *
 * The Content API lives on its own host (content.twilio.com), given to the
 * driver as net_send_msg.aux_base; it takes the same Basic auth as the
 * Messages API. Pages are read defensively: a page that is not the shape we
 * know fails as a whole with a reason, an entry that is not fails alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "net/providers/twilio.h"

/* Small pages: each entry carries the template's full content, and
 * net/http refuses bodies over its limit (64 KiB in outpostd). Ten rich
 * templates fit with room; 6,000 (WhatsApp's cap) are 600 requests an hour. */
#define PAGE_SIZE "10"
#define URL_MAX 2048

static bool filled(const char *s)
{
	return s && *s;
}

/* base without its trailing slash, then path. */
static char *join(const char *base, const char *path)
{
	size_t blen = strlen(base), plen = strlen(path);
	char *url;

	if (blen && base[blen - 1] == '/')
		blen--;
	url = malloc(blen + plen + 1);
	if (!url)
		return NULL;
	memcpy(url, base, blen);
	memcpy(url + blen, path, plen + 1);
	return url;
}

int net_twilio_templates_url(const struct net_send_msg *m, char **url_out)
{
	if (!m || !url_out || !filled(m->aux_base) || strncmp(m->aux_base, "https://", 8) != 0)
		return ERR_INVAL;
	*url_out = join(m->aux_base, "/v1/ContentAndApprovals?PageSize=" PAGE_SIZE);
	return *url_out ? ERR_OK : ERR_NOMEM;
}

/* Length of "https://host[:port]" at the start of url, 0 if it is not one. */
static size_t origin_len(const char *url)
{
	size_t n;

	if (strncasecmp(url, "https://", 8) != 0)
		return 0;
	n = 8 + strcspn(url + 8, "/?#");
	return n > 8 ? n : 0;
}

/*
 * The next page's URL, only on the host we were given. Every request carries
 * the account's credentials in Basic auth; a next_page_url that pointed
 * elsewhere (a reply tampered with, a misconfigured proxy) would hand the
 * Auth Token to that host. A path alone is taken relative to aux_base.
 */
bool net_twilio_same_origin(const char *base, const char *url)
{
	size_t b = base ? origin_len(base) : 0, u = url ? origin_len(url) : 0;

	return b && b == u && strncasecmp(base, url, b) == 0;
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A URL we may print and follow: bounded, no spaces or control bytes. */
static bool printable(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f || n >= URL_MAX)
			return false;
	return n > 0;
}

static void page_next(const cJSON *root, const char *base, struct net_list_page *page)
{
	const char *next = str_at(cJSON_GetObjectItemCaseSensitive(root, "meta"), "next_page_url");

	if (!next || !*next)
		return; /* null on the last page */
	if (!printable(next)) {
		page->cls = NET_PERMANENT;
		snprintf(page->text, sizeof(page->text), "next_page_url is not a URL; not followed");
		return;
	}
	if (next[0] == '/') {
		page->next_url = join(base, next);
	} else if (net_twilio_same_origin(base, next)) {
		page->next_url = strdup(next);
	} else {
		page->cls = NET_PERMANENT;
		snprintf(page->text, sizeof(page->text),
			 "next_page_url %.120s is not on %.80s; not followed (it would get the "
			 "credentials)", next, base);
		return;
	}
	if (!page->next_url) {
		page->cls = NET_TRANSIENT;
		snprintf(page->text, sizeof(page->text), "out of memory");
	}
}

/* The content type WhatsApp approved, else the richest of `types`: a
 * template may carry twilio/text beside its rich type as an SMS fallback. */
static const char *content_type(const cJSON *item, const cJSON *wa)
{
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(item, "types"), *t;
	const char *ct = str_at(wa, "content_type"), *first = NULL;

	if (filled(ct))
		return ct;
	if (!cJSON_IsObject(types))
		return NULL;
	cJSON_ArrayForEach(t, types) {
		if (!t->string || !*t->string)
			continue;
		if (strcmp(t->string, "twilio/text") != 0)
			return t->string;
		first = first ? first : t->string;
	}
	return first;
}

static bool sid_ok(const char *s)
{
	size_t i;

	if (!s || strncmp(s, "HX", 2) != 0 || strlen(s) != 34)
		return false;
	for (i = 2; i < 34; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

/* One entry of "contents"; false if it names no template we could use. */
static bool read_entry(const cJSON *item, struct net_template *t)
{
	const cJSON *ar = cJSON_GetObjectItemCaseSensitive(item, "approval_requests");
	const cJSON *wa = cJSON_GetObjectItemCaseSensitive(ar, "whatsapp");

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(item) || !sid_ok(str_at(item, "sid")))
		return false;
	t->id = str_at(item, "sid");
	t->language = str_at(item, "language");
	t->name = str_at(wa, "name");
	if (!filled(t->name))
		t->name = str_at(item, "friendly_name");
	/* Never submitted to WhatsApp: no approval object, or one without
	 * a status. Not sendable outside a session either way. */
	t->status = str_at(wa, "status");
	if (!filled(t->status))
		t->status = "unsubmitted";
	t->category = str_at(wa, "category");
	t->reason = str_at(wa, "rejection_reason");
	if (t->reason && !*t->reason)
		t->reason = NULL;
	t->type = content_type(item, wa);
	t->approved = strcasecmp(t->status, "approved") == 0;
	return true;
}

/* A page that did not come: a GET changes nothing, so a 5xx or a timeout
 * is plainly transient. */
static void page_failed(const struct net_http_result *res, struct net_list_page *page)
{
	struct net_send_outcome o;

	net_twilio_provider.outcome(res, &o);
	page->cls = o.cls == NET_AMBIGUOUS ? NET_TRANSIENT : o.cls;
	if (res->err == ERR_TOOBIG)
		page->cls = NET_PERMANENT;
	if (page->cls == NET_OK) { /* a 2xx other than 200: not a list */
		page->cls = NET_PERMANENT;
		snprintf(o.text, sizeof(o.text), "unexpected HTTP %ld", res->status);
	}
	if (res->err == ERR_OK && res->status == 404)
		snprintf(page->text, sizeof(page->text),
			 "listing templates: HTTP 404 (is content_base the Content API?)");
	else
		snprintf(page->text, sizeof(page->text), "listing templates: %.200s", o.text);
}

void net_twilio_templates_page(const struct net_http_result *res, const char *aux_base,
			       int (*each)(const struct net_template *t, void *arg), void *arg,
			       struct net_list_page *page)
{
	const cJSON *items, *it;
	struct net_template t;
	cJSON *root = NULL;

	memset(page, 0, sizeof(*page));
	page->oldest_ms = -1;
	if (res->err != ERR_OK || res->status != 200) {
		page_failed(res, page);
		return;
	}
	if (res->body && res->body_len)
		root = cJSON_ParseWithLength(res->body, res->body_len);
	items = cJSON_GetObjectItemCaseSensitive(root, "contents");
	if (!cJSON_IsArray(items)) {
		page->cls = NET_PERMANENT;
		snprintf(page->text, sizeof(page->text), "listing templates: %s",
			 !root ? "the reply is not JSON" : "the reply has no \"contents\" array");
		cJSON_Delete(root);
		return;
	}
	page->cls = NET_OK;
	page_next(root, aux_base ? aux_base : "", page);
	cJSON_ArrayForEach(it, items) {
		page->n++;
		if (!read_entry(it, &t))
			continue; /* the caller sees n above the entries it was given */
		if (each && each(&t, arg) != 0)
			break;
	}
	cJSON_Delete(root);
}
