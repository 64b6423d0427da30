/*
 * twilio_content.c - the Twilio Content API half of the Twilio driver:
 * listing templates with their WhatsApp approval (GET
 * /v1/ContentAndApprovals, reference providers.md section 3).
 *
 * The Content API lives on its own host (content.twilio.com), given to the
 * driver as net_send_msg.aux_base; it takes the same Basic auth as the
 * Messages API. Pages are read defensively: a page that is not the shape we
 * know fails as a whole with a reason, an entry that is not fails alone. A
 * next page is followed only as twilio_link.c allows.
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

static bool filled(const char *s)
{
	return s && *s;
}

int net_twilio_templates_url(const struct net_send_msg *m, char **url_out)
{
	if (!m || !url_out || !filled(m->aux_base) || strncmp(m->aux_base, "https://", 8) != 0)
		return ERR_INVAL;
	*url_out = net_twilio_join(m->aux_base, "/v1/ContentAndApprovals?PageSize=" PAGE_SIZE);
	return *url_out ? ERR_OK : ERR_NOMEM;
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static void page_next(const cJSON *root, const struct net_http_result *res, const char *base,
		      struct net_list_page *page)
{
	static const char scope[] = "/v1/ContentAndApprovals";
	const char *next = str_at(cJSON_GetObjectItemCaseSensitive(root, "meta"), "next_page_url");

	if (next && *next) /* null on the last page */
		net_twilio_next_page(base, res->url, next, scope, sizeof(scope) - 1,
				     "next_page_url", page);
}

/* The content type WhatsApp approved, else the richest of `types`: a
 * template may carry twilio/text beside its rich type as an SMS fallback. */
static const char *content_type(const cJSON *item, const cJSON *ap)
{
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(item, "types"), *t;
	const char *ct = str_at(ap, "content_type"), *first = NULL;

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

/*
 * The approval fields of an entry. GET /v1/ContentAndApprovals has them
 * directly under approval_requests; GET /v1/Content/{Sid}/ApprovalRequests
 * nests them under "whatsapp" (twilio-oai twilio_content_v1.json, examples
 * readResults and getApproval). Read one level too deep, every approved
 * template looked unsubmitted and nothing was sent: take "whatsapp" when it
 * is an object, else the object itself. NULL with *why if there is none.
 */
static const cJSON *approval(const cJSON *item, const char **why)
{
	const cJSON *ar = cJSON_GetObjectItemCaseSensitive(item, "approval_requests");
	const cJSON *wa = cJSON_GetObjectItemCaseSensitive(ar, "whatsapp");

	if (cJSON_IsObject(wa))
		return wa;
	if (cJSON_IsObject(ar))
		return ar;
	*why = "no approval_requests object";
	return NULL;
}

/* A string field of the approval; the spec's examples write "" for a
 * field that has no value (an unsubmitted template's name, an approved
 * one's rejection_reason), so "" is absent. */
static const char *field(const cJSON *ap, const char *key)
{
	const char *s = str_at(ap, key);

	return filled(s) ? s : NULL;
}

/* One entry of "contents"; false if it names no template we could use. */
static bool read_entry(const cJSON *item, struct net_template *t)
{
	const cJSON *ap;

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(item) || !sid_ok(str_at(item, "sid")))
		return false;
	ap = approval(item, &t->unsubmitted_why);
	t->id = str_at(item, "sid");
	t->language = str_at(item, "language");
	t->name = field(ap, "name");
	if (!t->name)
		t->name = str_at(item, "friendly_name");
	/* Never submitted to WhatsApp: the provider says so, or there is no
	 * approval object, or one without a status. Not sendable outside a
	 * session either way; why tells an operator which it was. */
	t->status = field(ap, "status");
	if (ap && !t->status)
		t->unsubmitted_why = "approval_requests had no status";
	else if (t->status && strcasecmp(t->status, "unsubmitted") == 0)
		t->unsubmitted_why = "approval_requests said \"unsubmitted\"";
	if (!t->status)
		t->status = "unsubmitted";
	t->category = field(ap, "category");
	t->reason = field(ap, "rejection_reason");
	t->type = content_type(item, ap);
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
	page_next(root, res, aux_base ? aux_base : "", page);
	cJSON_ArrayForEach(it, items) {
		page->n++;
		if (!read_entry(it, &t))
			continue; /* the caller sees n above the entries it was given */
		if (each && each(&t, arg) != 0)
			break;
	}
	cJSON_Delete(root);
}
