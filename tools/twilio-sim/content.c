/*
 * content.c - the Content API (templates with their WhatsApp approval) of
 * the sim, and its test control route:
 *
 *   GET  /v1/Content, /v1/ContentAndApprovals  (Basic auth; PageSize 1..1000,
 *        default 50; PageToken; meta.next_page_url absolute on the Host the
 *        client asked)
 *   POST /sim/templates {"sid","status","reason"?}  change an approval mid-run
 *   GET  /sim/templates  the approvals and, per template, the creates the
 *        sim accepted while it was not approved (Twilio accepts those and
 *        fails them later with 63027/63016-like errors; a test checks that
 *        outpost never sent one)
 *
 * The templates are the --template flags; their approval status, reason
 * and counters change at run time, so they live here behind a mutex, not
 * in the read-only struct sim_config.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "hal/log.h"
#include "tools/twilio-sim/sim.h"

#define STATUS_MAX 24
#define REASON_MAX 200
#define PAGE_DEFAULT 50
#define PAGE_MAX 1000

struct approval {
	char status[STATUS_MAX];
	char reason[REASON_MAX];
	uint64_t creates_unapproved;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct approval approvals[SIM_MAX_TEMPLATES];

void sim_content_init(const struct sim_config *cfg)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < cfg->n_templates; i++) {
		snprintf(approvals[i].status, STATUS_MAX, "%s", cfg->templates[i].status);
		approvals[i].reason[0] = '\0';
		approvals[i].creates_unapproved = 0;
	}
	pthread_mutex_unlock(&mu);
}

static int find(const struct sim_config *cfg, const char *sid)
{
	for (size_t i = 0; sid && i < cfg->n_templates; i++)
		if (strcasecmp(cfg->templates[i].sid, sid) == 0)
			return (int)i;
	return -1;
}

void sim_content_note_create(const struct sim_config *cfg, const char *sid)
{
	int i = find(cfg, sid);
	bool approved = true;

	if (i < 0)
		return;
	pthread_mutex_lock(&mu);
	if (strcasecmp(approvals[i].status, "approved") != 0) {
		approvals[i].creates_unapproved++;
		approved = false;
	}
	pthread_mutex_unlock(&mu);
	if (!approved)
		log_warn("sim: accepted a create for template %s, which is not approved", sid);
}

/* ---- listing ---- */

struct page_args {
	unsigned size, start;
	bool bad;
};

static enum MHD_Result take_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct page_args *p = cls;
	char *end;
	unsigned long v;

	(void)kind;
	if (!value)
		return MHD_YES;
	if (strcmp(key, "PageSize") == 0) {
		v = strtoul(value, &end, 10);
		if (*end || !*value || v < 1 || v > PAGE_MAX)
			p->bad = true;
		else
			p->size = (unsigned)v;
	} else if (strcmp(key, "PageToken") == 0) {
		/* ours are "PT<index of the first entry>" */
		v = strncmp(value, "PT", 2) == 0 ? strtoul(value + 2, &end, 10) : 0;
		if (strncmp(value, "PT", 2) != 0 || *end || !value[2] || v > SIM_MAX_TEMPLATES)
			p->bad = true;
		else
			p->start = (unsigned)v;
	}
	return MHD_YES;
}

/* The Host the client used, if it is a plain host[:port]. */
static const char *host_of(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");

	if (!h || !*h || strlen(h) > 255 ||
	    h[strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")])
		return "localhost";
	return h;
}

/*
 * The approval of a ContentAndApprovals entry: its fields directly under
 * approval_requests, with no "whatsapp" level (twilio-oai
 * twilio_content_v1.json, example readResults; only the per-template
 * ApprovalRequests endpoint nests them). A template never submitted shows
 * the example's empty strings.
 */
static void render_approval(struct sim_buf *b, const struct sim_template *t, size_t i)
{
	bool unsubmitted;

	pthread_mutex_lock(&mu);
	unsubmitted = strcasecmp(approvals[i].status, "unsubmitted") == 0;
	sim_buf_str(b, ",\"approval_requests\":{\"name\":");
	sim_buf_json(b, unsubmitted ? "" : t->name);
	sim_buf_fmt(b, ",\"category\":\"%s\",\"content_type\":", unsubmitted ? "" : "UTILITY");
	sim_buf_json(b, unsubmitted ? "" : t->type);
	sim_buf_str(b, ",\"status\":");
	sim_buf_json(b, approvals[i].status);
	sim_buf_str(b, ",\"rejection_reason\":");
	sim_buf_json(b, approvals[i].reason);
	sim_buf_str(b, ",\"allow_category_change\":true}");
	pthread_mutex_unlock(&mu);
}

static void render_entry(struct sim_buf *b, const struct sim_config *cfg, size_t i,
			 const char *host, bool approvals_too)
{
	const struct sim_template *t = &cfg->templates[i];
	char date[64];

	sim_rfc2822(date, sizeof(date), cfg->start_wall_ms / 1000);
	sim_buf_str(b, "{\"sid\":");
	sim_buf_json(b, t->sid);
	sim_buf_str(b, ",\"account_sid\":");
	sim_buf_json(b, cfg->account);
	sim_buf_str(b, ",\"friendly_name\":");
	sim_buf_json(b, t->name);
	sim_buf_str(b, ",\"language\":\"en\",\"variables\":{");
	for (unsigned v = 1; v <= t->nvars; v++)
		sim_buf_fmt(b, "%s\"%u\":\"sample %u\"", v > 1 ? "," : "", v, v);
	sim_buf_str(b, "},\"types\":{");
	sim_buf_json(b, t->type);
	sim_buf_str(b, ":{\"body\":\"(twilio-sim knows no template texts)\"}}");
	sim_buf_fmt(b, ",\"url\":\"https://%s/v1/Content/%s\"", host, t->sid);
	sim_buf_str(b, ",\"date_created\":");
	sim_buf_json(b, date);
	sim_buf_str(b, ",\"date_updated\":");
	sim_buf_json(b, date);
	if (approvals_too)
		render_approval(b, t, i);
	sim_buf_str(b, "}");
}

static void page_url(struct sim_buf *b, const char *host, const char *path, unsigned size,
		     unsigned start)
{
	sim_buf_fmt(b, "\"https://%s%s?PageSize=%u", host, path, size);
	if (start)
		sim_buf_fmt(b, "&PageToken=PT%u", start);
	sim_buf_str(b, "\"");
}

static void list(const struct sim_config *cfg, struct MHD_Connection *c, const char *path,
		 bool approvals_too, struct sim_reply *r)
{
	struct page_args p = {.size = PAGE_DEFAULT};
	const char *host = host_of(c);
	struct sim_buf b = {0};
	size_t n = cfg->n_templates, end;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, take_arg, &p);
	if (p.bad || p.start > n) {
		sim_reply_error(r, 400, 20001, "Invalid PageSize or PageToken");
		return;
	}
	end = p.start + p.size < n ? p.start + p.size : n;
	sim_buf_str(&b, "{\"contents\":[");
	for (size_t i = p.start; i < end; i++) {
		if (i > p.start)
			sim_buf_str(&b, ",");
		render_entry(&b, cfg, i, host, approvals_too);
	}
	sim_buf_fmt(&b, "],\"meta\":{\"page\":%u,\"page_size\":%u,\"first_page_url\":",
		    p.start / p.size, p.size);
	page_url(&b, host, path, p.size, 0);
	sim_buf_str(&b, ",\"previous_page_url\":null,\"url\":");
	page_url(&b, host, path, p.size, p.start);
	sim_buf_str(&b, ",\"next_page_url\":");
	if (end < n)
		page_url(&b, host, path, p.size, (unsigned)end);
	else
		sim_buf_str(&b, "null");
	sim_buf_str(&b, ",\"key\":\"contents\"}}");
	r->json = sim_buf_take(&b);
	r->status = r->json ? 200 : 500;
}

/* ---- control ---- */

static void sim_list(const struct sim_config *cfg, struct sim_reply *r)
{
	struct sim_buf b = {0};

	sim_buf_str(&b, "{\"templates\":[");
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < cfg->n_templates; i++) {
		sim_buf_str(&b, i ? ",{\"sid\":" : "{\"sid\":");
		sim_buf_json(&b, cfg->templates[i].sid);
		sim_buf_str(&b, ",\"status\":");
		sim_buf_json(&b, approvals[i].status);
		sim_buf_str(&b, ",\"reason\":");
		sim_buf_json(&b, approvals[i].reason);
		sim_buf_fmt(&b, ",\"creates_unapproved\":%llu}",
			    (unsigned long long)approvals[i].creates_unapproved);
	}
	pthread_mutex_unlock(&mu);
	sim_buf_str(&b, "]}");
	r->json = sim_buf_take(&b);
	r->status = r->json ? 200 : 500;
}

static const char *json_text(const cJSON *o, const char *key, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && strlen(v->valuestring) < max ? v->valuestring : NULL;
}

static void sim_set(const struct sim_config *cfg, const char *body, struct sim_reply *r)
{
	cJSON *o = cJSON_Parse(body ? body : "");
	const char *sid = json_text(o, "sid", SIM_SID_LEN + 1);
	const char *status = json_text(o, "status", STATUS_MAX);
	const char *reason = json_text(o, "reason", REASON_MAX);
	int i = find(cfg, sid);

	if (!sid || !status || !*status ||
	    (cJSON_GetObjectItemCaseSensitive(o, "reason") && !reason)) {
		sim_reply_error(r, 400, 20001, "expected {\"sid\": \"HX...\", \"status\": \"...\", "
				"\"reason\": \"...\"} (status < 24, reason < 200 bytes)");
	} else if (i < 0) {
		sim_reply_error(r, 404, 20404, "no --template %.40s", sid);
	} else {
		pthread_mutex_lock(&mu);
		snprintf(approvals[i].status, STATUS_MAX, "%s", status);
		snprintf(approvals[i].reason, REASON_MAX, "%s", reason ? reason : "");
		pthread_mutex_unlock(&mu);
		log_info("sim: template %s is now %s", cfg->templates[i].sid, status);
		sim_list(cfg, r);
	}
	cJSON_Delete(o);
}

bool sim_content_route(const struct sim_config *cfg, struct MHD_Connection *c, const char *url,
		       const char *method, const char *body, struct sim_reply *r)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	bool approvals_too = strcmp(url, "/v1/ContentAndApprovals") == 0;

	if (strcmp(url, "/sim/templates") == 0) {
		if (post)
			sim_set(cfg, body, r);
		else if (get)
			sim_list(cfg, r);
		else
			sim_reply_error(r, 405, 20004, "Method %.16s not allowed", method);
		return true;
	}
	if (!approvals_too && strcmp(url, "/v1/Content") != 0)
		return false;
	if (!sim_auth_ok(cfg, c))
		sim_reply_error(r, 401, 20003, "Authenticate");
	else if (!get)
		sim_reply_error(r, 405, 20004, "Method %.16s not allowed", method);
	else
		list(cfg, c, url, approvals_too, r);
	return true;
}
