/*
 * meta_reply.c - reading Meta Cloud API and 360dialog answers: the error
 * code table, a send's outcome, a page of templates. See meta.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "net/providers/meta.h"
#include "net/providers/reply.h"

/*
 * Cloud API error codes and what the sender does about them (providers.md
 * 5.3; 360dialog passes them through). Codes not listed are permanent:
 * retrying an unknown refusal only burns attempts and rate budget.
 *
 * "config" codes in the reference (a permission, the business account, the
 * number, billing) refuse every message of the account alike, as a wrong
 * token does: they pause the account (NET_AUTH) with the reason, instead of
 * failing the whole queue one message at a time.
 */
static const struct meta_code {
	int lo, hi; /* a range, for Graph's 200-299 permission family */
	int cls;
} meta_codes[] = {
	{0, 0, NET_AUTH},              /* AuthException */
	{190, 190, NET_AUTH},          /* access token expired or invalidated */
	{3, 3, NET_AUTH},              /* capability missing: config */
	{10, 10, NET_AUTH},            /* permission denied: config */
	{200, 299, NET_AUTH},          /* permission missing or revoked: config */
	{368, 368, NET_AUTH},          /* blocked for policy violations: stop, review */
	{131031, 131031, NET_AUTH},    /* business account locked: stop all sends */
	{131042, 131042, NET_AUTH},    /* payment problem: stop until billing is fixed */
	{131045, 131045, NET_AUTH},    /* number registration/certificate: config */
	{133010, 133010, NET_AUTH},    /* number not registered: config */
	{4, 4, NET_RATE},              /* app call-rate limit */
	{17, 17, NET_RATE},            /* user request limit (meta.yaml: a 429 example) */
	{80007, 80007, NET_RATE},      /* WABA rate limit */
	{130429, 130429, NET_RATE},    /* the number's throughput exceeded */
	{131048, 131048, NET_RATE},    /* spam rate limit: slow down */
	{131056, 131056, NET_RATE},    /* pair rate limit: too fast to one user */
	{1, 1, NET_TRANSIENT},         /* unknown error */
	{2, 2, NET_TRANSIENT},         /* service temporarily unavailable */
	{131000, 131000, NET_TRANSIENT}, /* something went wrong */
	{131016, 131016, NET_TRANSIENT}, /* service overloaded */
	{133004, 133004, NET_TRANSIENT}, /* server temporarily unavailable */
	{131057, 131057, NET_TRANSIENT}, /* account in maintenance mode: minutes */
	/* Our media URL could not be fetched, or a user's media read: maybe a
	 * host that is down for a while; max_attempts bounds the tries. */
	{131052, 131053, NET_TRANSIENT},
	{131047, 131047, NET_WINDOW},  /* re-engagement: over 24 h since the user wrote */
	{470, 470, NET_WINDOW},        /* the same, On-Premise code (360dialog legacy) */
	{131050, 131050, NET_OPTED_OUT}, /* user stopped marketing messages (unverified code) */
	{132000, 132000, NET_TEMPLATE}, /* parameter count differs from the template */
	{132001, 132001, NET_TEMPLATE}, /* template missing in that language, or unapproved */
	{132012, 132012, NET_TEMPLATE}, /* parameter format mismatch */
	{132015, 132015, NET_TEMPLATE}, /* template paused (low quality) */
	{132016, 132016, NET_TEMPLATE}, /* template disabled for good */
	/* Permanent, listed so the table says so: invalid parameters (100,
	 * 131008, 131009), marketing experiment (130472), country restricted
	 * (130497), sending to itself (131021), undeliverable (131026: not on
	 * WhatsApp, old app, terms not accepted - a per-recipient fact, not an
	 * opt-out: the person never said stop), per-user marketing limit
	 * (131049: Meta wants days between tries, not our minutes of backoff),
	 * unsupported message type (131051). */
	{100, 100, NET_PERMANENT},
	{131008, 131009, NET_PERMANENT},
	{130472, 130472, NET_PERMANENT},
	{130497, 130497, NET_PERMANENT},
	{131021, 131021, NET_PERMANENT},
	{131026, 131026, NET_PERMANENT},
	{131049, 131049, NET_PERMANENT},
	{131051, 131051, NET_PERMANENT},
};

int net_meta_code_class(int code)
{
	size_t i;

	for (i = 0; i < sizeof(meta_codes) / sizeof(meta_codes[0]); i++)
		if (code >= meta_codes[i].lo && code <= meta_codes[i].hi)
			return meta_codes[i].cls;
	return NET_PERMANENT;
}

/* 360dialog's own 400 answers, told apart by their text (providers.md 6:
 * they carry no code). Lowercase; matched case-insensitively. */
static const struct {
	const char *phrase;
	int cls;
} d360_phrases[] = {
	{"rate limit", NET_RATE},  /* "exceeded the endpoint rate limit" */
	{"disabled", NET_AUTH},    /* "WhatsApp Business API disabled": account-wide */
	{"payment", NET_AUTH},     /* "lack of payment": account-wide until paid */
};

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay && *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

int net_d360_error_class(long status, const char *text)
{
	size_t i;

	if (status == 401 || status == 403) /* invalid key; endpoint blocked */
		return NET_AUTH;
	if (status == 429)
		return NET_RATE;
	if (status >= 500 && status < 600)
		return NET_TRANSIENT;
	for (i = 0; i < sizeof(d360_phrases) / sizeof(d360_phrases[0]); i++)
		if (contains_ci(text, d360_phrases[i].phrase))
			return d360_phrases[i].cls;
	return NET_PERMANENT;
}

/* ---- a send's answer ---- */

/* What we take from an answer; anything else in it is ignored. */
struct reply {
	bool has_code;   /* an error code was given (0 is a real one) */
	int code;
	int subcode;     /* error_subcode, 0 if none (deprecated for WhatsApp, read if there) */
	bool transient;  /* is_transient: true */
	bool error;      /* an error object was there, whatever the HTTP status */
	char id[128];    /* messages[0].id */
	bool id_ok;
	char status[40]; /* messages[0].message_status, "" if not given */
	char text[256];  /* the error's words */
	char trace[48];  /* fbtrace_id: what Meta's support asks for */
	bool d360;       /* 360dialog's own error shape */
};

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A wamid ("wamid.HBgL...=") is what webhooks name the message by: take
 * only printable ones without spaces or quotes, whole. */
static bool id_ok(const char *id, size_t size)
{
	size_t n;

	for (n = 0; id[n]; n++)
		if ((unsigned char)id[n] <= ' ' || (unsigned char)id[n] >= 0x7f || id[n] == '"' ||
		    id[n] == '\\')
			return false;
	return n > 0 && n < size;
}

static void read_success(const cJSON *root, struct reply *r)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
	const cJSON *first = cJSON_IsArray(msgs) ? cJSON_GetArrayItem(msgs, 0) : NULL;
	const char *id = str_of(first, "id"), *st = str_of(first, "message_status");

	if (id && id_ok(id, sizeof(r->id))) {
		snprintf(r->id, sizeof(r->id), "%s", id);
		r->id_ok = true;
	}
	/* One word of the spec's MessageStatus enum (accepted,
	 * held_for_quality_assessment, paused, and what Meta may add): kept
	 * on the record and put in receipts, so nothing else is taken. */
	if (st && st[0] && strlen(st) < sizeof(r->status) &&
	    strspn(st, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(st))
		snprintf(r->status, sizeof(r->status), "%s", st);
}

/* fbtrace_id is an opaque token ("AXsgnV2Cm3ZMGF3dF_cfYIn"): taken only as
 * letters, digits, '_' and '-', so it goes into a log line as it is. */
static void read_trace(const cJSON *e, struct reply *r)
{
	const char *t = str_of(e, "fbtrace_id");

	if (t && t[0] && strlen(t) < sizeof(r->trace) &&
	    strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
		    strlen(t))
		snprintf(r->trace, sizeof(r->trace), "%s", t);
}

/* Graph's error object (meta.yaml GraphAPIError): code, message,
 * error_subcode, is_transient, error_data.details, fbtrace_id. */
static void read_graph_error(const cJSON *e, struct reply *r, const char **msg,
			     const char **details)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(e, "is_transient");

	r->error = true;
	r->has_code = net_reply_code(cJSON_GetObjectItemCaseSensitive(e, "code"), 0, 9999999,
				     &r->code);
	if (!net_reply_code(cJSON_GetObjectItemCaseSensitive(e, "error_subcode"), 0, 2147483647,
			    &r->subcode))
		r->subcode = 0;
	r->transient = cJSON_IsTrue(tr);
	read_trace(e, r);
	*msg = str_of(e, "message") ? str_of(e, "message") : str_of(e, "title");
	*details = str_of(cJSON_GetObjectItemCaseSensitive(e, "error_data"), "details");
	if (!*details)
		*details = str_of(e, "details");
	if (!*details)
		*details = str_of(e, "error_user_msg");
}

/* {"error":{"code":..,"message":..,"error_data":{"details":..}}} (Graph),
 * {"errors":[{"code":..,"title":..,"details":..}]} (On-Premise shape), or
 * 360dialog's {"meta":{"developerMessage":..,"success":false}}. */
static void read_error(const cJSON *root, struct reply *r)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
	const char *msg = NULL, *details = NULL;
	char buf[512];

	if (!cJSON_IsObject(e) && cJSON_IsArray(errs))
		e = cJSON_GetArrayItem(errs, 0);
	if (cJSON_IsObject(e)) {
		read_graph_error(e, r, &msg, &details);
	} else if (cJSON_IsObject(meta)) {
		r->d360 = true;
		msg = str_of(meta, "developerMessage") ? str_of(meta, "developerMessage")
						       : str_of(meta, "developer_message");
	}
	if (!msg && !details)
		return;
	snprintf(buf, sizeof(buf), "%s%s%s%s", msg ? msg : "", msg && details ? " (" : "",
		 details ? details : "", msg && details ? ")" : "");
	net_reply_text(r->text, sizeof(r->text), buf);
}

static void parse_reply(const struct net_http_result *res, struct reply *r)
{
	cJSON *root = NULL;

	memset(r, 0, sizeof(*r));
	if (res->body && res->body_len)
		root = cJSON_ParseWithLength(res->body, res->body_len);
	if (cJSON_IsObject(root)) {
		/* A 2xx may carry an error object instead of a message (seen
		 * behind proxies and on the batch path): it is that error. */
		if (res->status >= 200 && res->status < 300)
			read_success(root, r);
		if (!r->id_ok)
			read_error(root, r);
	}
	cJSON_Delete(root);
}

/* error_subcode 2446079 (and 2446080, a submission limit) comes with every
 * "request limit reached" example in meta.yaml, under codes 4, 17, 80007:
 * a throttle, whatever the code says of itself. */
static bool rate_subcode(int subcode)
{
	return subcode == 2446079 || subcode == 2446080;
}

static int error_class(long status, const struct reply *r)
{
	/* A 5xx to a POST may still have made the message (as at Twilio);
	 * is_transient says it may be tried again, not that it was not made. */
	if (status >= 500 && status < 600)
		return NET_AMBIGUOUS;
	if (status == 401)
		return NET_AUTH;
	if (r->has_code) {
		int cls = net_meta_code_class(r->code);

		/* Permanent is the table's word for codes it does not know as
		 * well as for refusals: the answer's own hints come first. */
		if (cls != NET_PERMANENT)
			return cls;
		if (status == 429 || rate_subcode(r->subcode))
			return NET_RATE;
		return r->transient ? NET_TRANSIENT : NET_PERMANENT;
	}
	if (status == 429 || rate_subcode(r->subcode))
		return NET_RATE;
	if (r->transient)
		return NET_TRANSIENT;
	if (status >= 400 && status < 500)
		return net_d360_error_class(status, r->text);
	return NET_PERMANENT;
}

/* The error's words, then the fbtrace_id for support, which the words give
 * way to when the text is full. */
static void outcome_text(struct net_send_outcome *out, const struct reply *r, const char *words)
{
	char tail[sizeof(r->trace) + 16] = "";
	size_t room;

	if (r->trace[0])
		snprintf(tail, sizeof(tail), " [fbtrace_id %s]", r->trace);
	room = sizeof(out->text) - strlen(tail) - 1;
	snprintf(out->text, sizeof(out->text), "%.*s%s", (int)room, words, tail);
}

static void error_outcome(const struct net_http_result *res, const struct reply *r,
			  struct net_send_outcome *out)
{
	long st = res->status;
	char words[sizeof(out->text)];

	out->cls = error_class(st, r);
	out->code = r->has_code ? r->code : (int)st;
	if (r->text[0])
		snprintf(words, sizeof(words), "%s", r->text);
	else if (st >= 400 && st < 500)
		snprintf(words, sizeof(words), "HTTP %ld with unparseable body", st);
	else if (r->error)
		snprintf(words, sizeof(words), "HTTP %ld with an error object", st);
	else if (st < 400)
		snprintf(words, sizeof(words), "unexpected HTTP %ld", st);
	else
		snprintf(words, sizeof(words), "HTTP %ld", st);
	outcome_text(out, r, words);
}

void net_meta_outcome(const struct net_http_result *res, struct net_send_outcome *out)
{
	struct reply r;

	memset(out, 0, sizeof(*out));
	out->retry_after_s = res->retry_after_s > 0 ? res->retry_after_s : 0;
	if (res->err != ERR_OK) {
		/* Nothing left: a plain retry. Once the body went out Meta may
		 * have made the message; with no list to ask, the sender resends
		 * it as a counted possible duplicate. */
		out->cls = res->maybe_sent ? NET_AMBIGUOUS : NET_TRANSIENT;
		out->code = (int)res->status;
		snprintf(out->text, sizeof(out->text), "%s%s: %.200s", hal_strerror(res->err),
			 res->maybe_sent ? " after the request was sent" : "", res->error);
		return;
	}
	parse_reply(res, &r);
	if (res->status < 200 || res->status >= 300 || (!r.id_ok && r.error)) {
		error_outcome(res, &r, out);
		return;
	}
	out->code = (int)res->status;
	if (!r.id_ok) {
		out->cls = NET_AMBIGUOUS; /* taken, but we cannot tell which message it made */
		snprintf(out->text, sizeof(out->text), "2xx without a message id");
		return;
	}
	out->cls = NET_OK;
	snprintf(out->id, sizeof(out->id), "%s", r.id);
	snprintf(out->status, sizeof(out->status), "%s", r.status);
}

/* ---- templates ---- */

/* paging.next is a whole URL. It is followed only on our own api_base: the
 * token goes with it, and must never go to a host the config did not name. */
static void templates_next(const cJSON *root, const char *api_base, struct net_list_page *page)
{
	const char *next = str_of(cJSON_GetObjectItemCaseSensitive(root, "paging"), "next");
	size_t blen = api_base ? strlen(api_base) : 0;

	if (!next)
		return;
	if (blen && api_base[blen - 1] == '/')
		blen--;
	if (!blen || strncmp(next, api_base, blen) != 0 || next[blen] != '/' ||
	    strpbrk(next, " \t\r\n")) {
		snprintf(page->text, sizeof(page->text), "next page not on %.100s: not followed",
			 api_base ? api_base : "?");
		return;
	}
	page->next_url = strdup(next);
}

static void template_of(const cJSON *it, struct net_template *t)
{
	const char *reason = str_of(it, "rejected_reason");

	if (!reason)
		reason = str_of(it, "reason");
	if (reason && strcasecmp(reason, "NONE") == 0)
		reason = NULL;
	*t = (struct net_template){
		.id = str_of(it, "id"), .name = str_of(it, "name"),
		.language = str_of(it, "language"), .status = str_of(it, "status"),
		.category = str_of(it, "category"), .reason = reason,
	};
	/* Only APPROVED is sendable; 360dialog writes it in lower case. */
	t->approved = t->status && strcasecmp(t->status, "APPROVED") == 0;
}

/* A page that did not come: a GET changes nothing, so a 5xx or a timeout
 * is plainly transient; an oversized page would be as big again. */
static void templates_failed(const struct net_http_result *res, struct net_list_page *page)
{
	struct net_send_outcome o;

	net_meta_outcome(res, &o);
	page->cls = o.cls == NET_AMBIGUOUS || o.cls == NET_OK ? NET_TRANSIENT : o.cls;
	if (res->err == ERR_TOOBIG)
		page->cls = NET_PERMANENT;
	snprintf(page->text, sizeof(page->text), "listing templates: %.200s", o.text);
}

void net_meta_templates_page(const struct net_http_result *res, const char *api_base,
			     int (*each)(const struct net_template *t, void *arg), void *arg,
			     struct net_list_page *page)
{
	const cJSON *data, *it;
	cJSON *root = NULL;

	memset(page, 0, sizeof(*page));
	page->oldest_ms = -1;
	if (res->err != ERR_OK || res->status != 200) {
		templates_failed(res, page);
		return;
	}
	if (res->body && res->body_len)
		root = cJSON_ParseWithLength(res->body, res->body_len);
	data = cJSON_GetObjectItemCaseSensitive(root, "data"); /* Meta */
	if (!data)
		data = cJSON_GetObjectItemCaseSensitive(root, "waba_templates"); /* 360dialog */
	if (!cJSON_IsArray(data)) {
		page->cls = NET_PERMANENT;
		snprintf(page->text, sizeof(page->text), "templates reply without a data array");
		cJSON_Delete(root);
		return;
	}
	page->cls = NET_OK;
	templates_next(root, api_base, page);
	cJSON_ArrayForEach(it, data) {
		struct net_template t;

		page->n++;
		template_of(it, &t);
		if (!t.name || !t.language || !t.status)
			continue; /* nothing to match a configured template on */
		if (each && each(&t, arg) != 0)
			break;
	}
	cJSON_Delete(root);
}
