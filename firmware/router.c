/*
 * router.c - turns each MQTT event into outbox records inside the batch's
 * write transaction.
 *
 * Every event ends as records a person can read: one QUEUED record per valid
 * recipient and matching route, or a REJECTED record saying why (bad JSON,
 * missing field, invalid phone, unapproved template, a variable WhatsApp
 * would refuse), or a SUPPRESSED record for a redelivered or repeated event
 * id. Nothing is dropped; the batch is committed before any PUBACK leaves
 * (net/mqtt.h), so what the broker forgets, the store has.
 *
 * What the broker lost before it gave us an event, no store can bring back;
 * but if the publisher numbers its events ("seq"), a jump shows it. The
 * source's numbers (store/source.h) change in the batch txn, after the
 * dedup check, so redeliveries never reach them, and a malformed "seq" is
 * counted without costing the event its message.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "config/render.h"
#include "config/topic.h"
#include "firmware/consent.h"
#include "firmware/delivery.h"
#include "firmware/flood.h"
#include "firmware/escalate.h"
#include "firmware/fw.h"
#include "firmware/stats.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/source.h"
#include "store/store.h"

#define MAX_RECIPIENTS 16
#define VARS_MAX 100 /* a template has at most 100 variables (config) */
#define REASON_MAX 240
#define EVENT_ID_MAX 200
#define TEXT_MAX 1600 /* Twilio's Body limit (providers.md 1.2) */
/* Sources listed by status with their last gap, newest first. */
#define STATUS_RECENT_GAPS 5

/* What one event carries through routing. */
struct event {
	const char *topic;
	cJSON *json;
	char id[EVENT_ID_MAX + 1];
	int64_t now;
	bool clock_ok;
};

static void base_record(const struct event *ev, struct store_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->created_ms = m->updated_ms = ev->now;
	m->event_id = ev->id;
	m->topic = ev->topic;
	m->route = m->account = m->to = m->template_name = m->content_sid = "";
	m->vars_json = m->provider_id = m->err_text = m->body = "";
	if (!ev->clock_ok)
		m->flags |= STORE_F_CLOCK_UNSET;
}

static void put(struct fw *fw, struct store_msg *m)
{
	int rc = store_outbox_add(fw->router.txn, m);

	if (rc != ERR_OK && fw->router.batch_err == ERR_OK)
		fw->router.batch_err = rc;
	if (rc == ERR_OK && !fw->router.event_seq)
		fw->router.event_seq = m->seq;
}

static void reject(struct fw *fw, const struct event *ev, const struct cfg_route *r,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void reject(struct fw *fw, const struct event *ev, const struct cfg_route *r,
		   const char *fmt, ...)
{
	struct store_msg m;
	char why[REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	base_record(ev, &m);
	m.state = STORE_REJECTED;
	m.err_text = why;
	if (r) {
		m.route = r->name;
		m.template_name = r->template ? r->template->name : "";
	}
	put(fw, &m);
	/* Its receipt, for a device waiting on the event's id; an event
	 * without one has nothing to be waited on by. */
	if (ev->id[0] && fw->router.batch_err == ERR_OK) {
		int rc = fw_delivery_ended(fw, fw->router.txn, m.seq);

		if (rc != ERR_OK)
			fw->router.batch_err = rc;
	}
	fw->n.rejected++;
	log_msg(LOG_INFO, &(struct log_ctx){.event_id = ev->id, .msg_seq = m.seq},
		"event %s on %s rejected: %s", ev->id[0] ? ev->id : "(no id)", ev->topic, why);
}

/* With the template's text in the config (preview), what WhatsApp would
 * show must fit its limit: refused here, it is a reason a person reads,
 * not a 63021 from the provider later. */
static bool too_long(const struct cfg_template *t, const cJSON *vars, char *why, size_t wl)
{
	const char *vals[VARS_MAX] = {NULL};
	const cJSON *v;
	unsigned i = 0;
	size_t n;

	if (!t->preview)
		return false;
	cJSON_ArrayForEach(v, vars)
		if (i < VARS_MAX)
			vals[i++] = v->valuestring;
	n = cfg_preview_len(t->preview, vals, i);
	if (n <= CFG_RENDERED_MAX)
		return false;
	snprintf(why, wl, "the rendered text of template %s is %zu characters, over WhatsApp's %d",
		 t->name, n, CFG_RENDERED_MAX);
	return true;
}

/* Renders the route's variables into a ContentVariables JSON object. */
static char *render_vars(const struct cfg_route *r, const struct event *ev, char *why, size_t wl)
{
	cJSON *o = cJSON_CreateObject();
	char val[CFG_VAR_MAX + 1], key[12], *out = NULL;
	const char *rule;

	if (!o)
		return NULL;
	for (unsigned i = 0; r->template && i < r->template->variables; i++) {
		char w[160];
		snprintf(key, sizeof(key), "%u", i + 1);
		if (cfg_render(r->vars[i], ev->json, val, sizeof(val), w, sizeof(w)) != ERR_OK) {
			snprintf(why, wl, "variable {{%s}} (%s): %s", key, r->vars[i], w);
			goto out;
		}
		if (cfg_var_check(val, &rule) != ERR_OK ||
		    (r->template->media_var == i + 1 && cfg_media_url_check(val, &rule) != ERR_OK)) {
			snprintf(why, wl, "variable {{%s}} (%s): %s", key, r->vars[i], rule);
			goto out;
		}
		if (!cJSON_AddStringToObject(o, key, val))
			goto out;
	}
	if (r->template && too_long(r->template, o, why, wl))
		goto out;
	out = cJSON_PrintUnformatted(o);
	if (!out)
		snprintf(why, wl, "out of memory");
out:
	cJSON_Delete(o);
	return out;
}

/* What a route makes of one event, the same for each recipient. */
struct content {
	const char *vars; /* ContentVariables JSON of the (fallback) template */
	const char *body; /* free-form text of a "text" route, else "" */
	struct fw_esc_first *first; /* an escalating route's first step: its records */
};

/* "_more" in the event, for routes with flood control. */
static bool set_more(const struct event *ev, unsigned more)
{
	cJSON *n = cJSON_CreateNumber(more);

	if (n && (cJSON_GetObjectItemCaseSensitive(ev->json, "_more")
			  ? cJSON_ReplaceItemInObjectCaseSensitive(ev->json, "_more", n)
			  : cJSON_AddItemToObject(ev->json, "_more", n)))
		return true;
	cJSON_Delete(n);
	return false;
}

/* The variables of a digest (firmware/flood.c): the event's own, with
 * "_more" the events it stands for besides this one. */
struct more_arg {
	const struct cfg_route *r;
	const struct event *ev;
};

static char *render_more(void *arg, unsigned more, char *why, size_t wl)
{
	struct more_arg *a = arg;

	if (!set_more(a->ev, more)) {
		snprintf(why, wl, "out of memory");
		return NULL;
	}
	return render_vars(a->r, a->ev, why, wl);
}

/* Flood control's say (firmware/flood.c) over record m, then m is added. */
static void queue_flood(struct fw *fw, const struct event *ev, const struct cfg_route *r,
			struct store_msg *m)
{
	struct more_arg ma = {r, ev};
	struct fw_flood f;
	char masked[CFG_PHONE_MAX];
	int rc = fw_flood_ingest(fw, fw->router.txn, r, ev->json, ev->now, m, render_more, &ma, &f);

	if (rc == ERR_OK) {
		put(fw, m);
		rc = fw->router.batch_err == ERR_OK ? fw_flood_added(fw->router.txn, &f, m->seq)
						     : ERR_OK;
	}
	if (rc == ERR_OK && m->state != STORE_QUEUED && ev->id[0])
		rc = fw_delivery_ended(fw, fw->router.txn, m->seq); /* its receipt */
	if (rc != ERR_OK && fw->router.batch_err == ERR_OK)
		fw->router.batch_err = rc;
	if (m->state == STORE_QUEUED)
		fw->n.queued++;
	else if (m->state == STORE_REJECTED)
		fw->n.rejected++;
	cfg_phone_mask(m->to, masked);
	log_msg(LOG_INFO, &(struct log_ctx){.event_id = ev->id, .msg_seq = m->seq, .to = m->to},
		"router: event %s: message #%llu to %s %s%s%s (route %s)", ev->id,
		(unsigned long long)m->seq, masked, store_state_name(m->state),
		m->err_text[0] ? ": " : "", m->err_text, r->name);
	fw_flood_done(&f);
}

static void queue_one(struct fw *fw, const struct event *ev, const struct cfg_route *r,
		      const char *raw_to, const struct content *ct)
{
	char e164[CFG_PHONE_MAX], masked[CFG_PHONE_MAX];
	const char *why;
	struct store_msg m;

	if (cfg_phone_normalize(raw_to, fw->cfg->events.default_country, e164, &why) != ERR_OK) {
		/* Masked: the reason is logged and listed to anybody; a national
		 * number without a country is a full phone number all the same. */
		cfg_phone_mask(raw_to, masked);
		reject(fw, ev, r, "recipient \"%s\": %s", masked, why);
		return;
	}
	if (r->text && !r->template && (why = fw_consent_ingest(fw, fw->router.txn, e164, ev->now))) {
		cfg_phone_mask(e164, masked);
		reject(fw, ev, r, "recipient %s: %s", masked, why);
		return;
	}
	base_record(ev, &m);
	m.state = STORE_QUEUED;
	m.route = r->name;
	m.account = r->account->name;
	m.to = e164;
	m.template_name = r->template ? r->template->name : "";
	m.content_sid = r->template && r->template->content_sid ? r->template->content_sid
								: ""; /* meta, text: none */
	m.vars_json = ct->vars;
	m.body = ct->body;
	m.ttl_s = (uint32_t)r->ttl_s;
	store_msg_set_prio(&m, r->priority);
	m.due_ms = 0;
	m.expires_ms = ev->clock_ok ? ev->now + r->ttl_s * 1000 : 0;
	if (r->coalesce.set || r->max_per_hour) {
		queue_flood(fw, ev, r, &m);
		return;
	}
	put(fw, &m);
	fw->n.queued++;
	if (ct->first && m.seq && ct->first->n < STORE_CHAIN_FIRST_MAX) {
		ct->first->seq[ct->first->n] = m.seq;
		snprintf(ct->first->to[ct->first->n++], CFG_PHONE_MAX, "%s", e164);
	}
	cfg_phone_mask(e164, masked);
	log_msg(LOG_INFO, &(struct log_ctx){.event_id = ev->id, .msg_seq = m.seq, .to = e164, .vars = ct->vars},
		"router: event %s: message #%llu to %s queued (route %s)", ev->id,
		(unsigned long long)m.seq, masked, r->name);
}

/* "@group": its numbers, each a recipient; *n counts them. */
static void queue_group(struct fw *fw, const struct event *ev, const struct cfg_route *r,
			const struct content *ct, const char *name, unsigned *n)
{
	const struct cfg_group *g = cfg_group_find(fw->cfg, name);

	for (unsigned k = 0; g && k < g->n_to; k++)
		if ((*n)++ < MAX_RECIPIENTS)
			queue_one(fw, ev, r, g->to[k], ct);
}

/* A recipient expression naming one field that holds an array fans out. */
static void queue_recipients(struct fw *fw, const struct event *ev, const struct cfg_route *r,
			     const struct content *ct)
{
	char path[128], to[128], w[160];
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_to && n < MAX_RECIPIENTS; i++) {
		const cJSON *f = NULL, *el;

		if (r->to[i][0] == '@') {
			queue_group(fw, ev, r, ct, r->to[i], &n);
			continue;
		}
		if (cfg_expr_lone_field(r->to[i], path, sizeof(path)))
			f = cfg_field_get(ev->json, path);
		if (f && cJSON_IsArray(f)) {
			if (!cJSON_GetArraySize(f))
				reject(fw, ev, r, "recipient list %s is empty", path);
			cJSON_ArrayForEach(el, f) {
				if (n++ >= MAX_RECIPIENTS)
					break;
				if (!cJSON_IsString(el))
					reject(fw, ev, r, "recipient list %s: element is not a string", path);
				else
					queue_one(fw, ev, r, el->valuestring, ct);
			}
			continue;
		}
		n++;
		if (cfg_render(r->to[i], ev->json, to, sizeof(to), w, sizeof(w)) != ERR_OK)
			reject(fw, ev, r, "recipient %s: %s", r->to[i], w);
		else
			queue_one(fw, ev, r, to, ct);
	}
	if (n > MAX_RECIPIENTS)
		reject(fw, ev, r, "more than %d recipients; the rest were not queued", MAX_RECIPIENTS);
}

static void route_event(struct fw *fw, const struct event *ev, const struct cfg_route *r)
{
	char why[REASON_MAX], w[160];
	static char body[TEXT_MAX + 1]; /* one event at a time; copied by the store */
	struct content ct = {.body = ""};
	char *vars;

	if (r->text) {
		int rc = cfg_render(r->text, ev->json, body, sizeof(body), w, sizeof(w));

		if (rc != ERR_OK) {
			reject(fw, ev, r, "text (%.60s): %s", r->text,
			       rc == ERR_TOOBIG ? "longer than 1600 bytes" : w);
			return;
		}
		ct.body = body;
	}
	/* A route that holds keeps the event queued until approval comes
	 * (the sender's gate parks it); one that fails says so at once. */
	if (r->template && r->unapproved == CFG_UNAPPROVED_FAIL &&
	    !fw_templates_sendable(fw, r->account->name, r->template, why, sizeof(why))) {
		reject(fw, ev, r, "%s", why);
		return;
	}
	/* A route with flood control shows in "_more" what a digest stands
	 * for besides the event it shows: none for a message that goes now. */
	if ((r->coalesce.set || r->max_per_hour) && !set_more(ev, 0)) {
		reject(fw, ev, r, "out of memory");
		return;
	}
	vars = render_vars(r, ev, why, sizeof(why));
	if (!vars) {
		reject(fw, ev, r, "%s", why);
		return;
	}
	ct.vars = vars;
	struct fw_esc_first first = {0};

	ct.first = r->n_steps ? &first : NULL;
	queue_recipients(fw, ev, r, &ct);
	if (first.n && fw->router.batch_err == ERR_OK) {
		struct store_msg proto;

		base_record(ev, &proto);
		proto.account = r->account->name;
		proto.template_name = r->template ? r->template->name : "";
		proto.content_sid = r->template && r->template->content_sid ? r->template->content_sid : "";
		proto.vars_json = ct.vars;
		proto.body = ct.body;
		fw_router_note(fw, fw_escalate_begin(fw, fw->router.txn, r, &proto, &first));
	}
	cJSON_free(vars);
}

/* Reads the event id; numbers are accepted as their decimal text. */
static bool event_id(struct fw *fw, struct event *ev)
{
	const cJSON *f = cfg_field_get(ev->json, fw->cfg->events.id_field);

	if (cJSON_IsString(f) && f->valuestring[0] && strlen(f->valuestring) <= EVENT_ID_MAX) {
		snprintf(ev->id, sizeof(ev->id), "%s", f->valuestring);
		return true;
	}
	/* Integers a double holds exactly (|id| <= 2^53); the range check
	 * comes first, the cast of a larger value would be undefined. */
	if (cJSON_IsNumber(f) && fabs(f->valuedouble) <= 9007199254740992.0 &&
	    f->valuedouble == (double)(long long)f->valuedouble) {
		snprintf(ev->id, sizeof(ev->id), "%lld", (long long)f->valuedouble);
		return true;
	}
	reject(fw, ev, NULL, "event id field '%s' is %s", fw->cfg->events.id_field,
	       !f ? "missing" : cJSON_IsString(f) ? "empty or over 200 bytes" : "not a string or integer");
	return false;
}

static bool duplicate(struct fw *fw, const struct event *ev)
{
	uint64_t seq;
	struct store_msg m;
	char why[REASON_MAX];

	if (store_dedup_get(fw->router.txn, ev->id, &seq) != ERR_OK)
		return false;
	base_record(ev, &m);
	m.state = STORE_SUPPRESSED;
	snprintf(why, sizeof(why), "duplicate of event %.180s (outbox #%llu)", ev->id,
		 (unsigned long long)seq);
	m.err_text = why;
	put(fw, &m);
	fw->n.duplicates++;
	return true;
}

/* The publisher's sequence number: false if the event has none ("seq"
 * missing or null), else *seq is 0..STORE_SEQ_MAX, or -1 for anything
 * else (a string, a fraction, a negative or too large number). */
static bool event_pubseq(const cJSON *json, int64_t *seq)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(json, "seq");
	double d;

	if (!f || cJSON_IsNull(f))
		return false;
	d = f->valuedouble;
	/* The range check comes first: the cast of a larger value is undefined.
	 * A whole number survives the round trip through int64_t (no floor():
	 * it was all outpostd took from libm, 320 KiB of resident map). */
	*seq = cJSON_IsNumber(f) && d >= 0 && d <= (double)STORE_SEQ_MAX && d == (double)(int64_t)d
		       ? (int64_t)d : -1;
	return true;
}

static void seq_untracked(struct fw *fw, const struct event *ev, const char *name, bool named,
			  int rc)
{
	fw->router.seq_untracked++;
	if (!hal_ratelimit_ok(&fw->router.seq_note_rl, 10, 10000))
		return;
	if (rc == ERR_LIMIT)
		log_warn("event %s: source %s: its seq is not tracked, %u sources are already",
			 ev->id, name, STORE_SOURCE_MAX);
	else if (rc == ERR_TOOBIG)
		log_warn("event %s: source %.64s...: its seq is not tracked, the name is over %u bytes",
			 ev->id, name, STORE_SOURCE_NAME_MAX);
	else
		log_warn("event %s: %s; its seq is not tracked", ev->id,
			 named ? "\"source\" is not a non-empty string" : "its topic is empty");
}

static void seq_report(struct fw *fw, const struct event *ev, const char *name,
		       const struct store_seq_event *e, const struct store_source *st,
		       enum store_source_verdict v)
{
	struct fw_router *r = &fw->router;
	unsigned long long seq = (unsigned long long)e->seq;

	/* Each gap is logged once, when the event after it arrives; its count
	 * is in the store either way, the log is only rate-limited. */
	if (v == STORE_SRC_GAP && hal_ratelimit_ok(&r->seq_gap_rl, 20, 10000))
		log_warn("source %s: sequence gap: %llu event(s) missing, seq %llu..%llu "
			 "(event %s has seq %llu)", name,
			 (unsigned long long)(st->last_gap_to - st->last_gap_from + 1),
			 (unsigned long long)st->last_gap_from, (unsigned long long)st->last_gap_to,
			 ev->id, seq);
	if (v != STORE_SRC_RESET && v != STORE_SRC_OLD && v != STORE_SRC_BAD)
		return;
	if (!hal_ratelimit_ok(&r->seq_note_rl, 10, 10000))
		return;
	if (v == STORE_SRC_RESET)
		log_info("source %s: sequence restarted at %llu (event %s)", name, seq, ev->id);
	else if (v == STORE_SRC_OLD)
		log_info("source %s: seq %llu is not above the last (%llu): late or repeated (event %s)",
			 name, seq, (unsigned long long)st->last_seq, ev->id);
	else
		log_warn("source %s: event %s: \"seq\" is not an integer in 0..2^53-1; "
			 "counted as a bad seq, the event goes on without it", name, ev->id);
}

/* Only first deliveries get here: a redelivery was suppressed by its id. */
static void note_seq(struct fw *fw, const struct event *ev)
{
	struct fw_router *r = &fw->router;
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(ev->json, "source");
	struct store_seq_event e = {.at_ms = ev->clock_ok ? ev->now : 0, .record = r->event_seq};
	const char *name = ev->topic;
	enum store_source_verdict v;
	struct store_source st;
	int rc;

	if (r->batch_err != ERR_OK || !event_pubseq(ev->json, &e.seq))
		return;
	if (src && !cJSON_IsNull(src))
		name = cJSON_IsString(src) ? src->valuestring : "";
	rc = store_source_note(r->txn, name, &e, &st, &v);
	if (rc == ERR_INVAL || rc == ERR_TOOBIG || rc == ERR_LIMIT)
		seq_untracked(fw, ev, name, src && !cJSON_IsNull(src), rc);
	else if (rc != ERR_OK)
		r->batch_err = rc;
	else
		seq_report(fw, ev, name, &e, &st, v);
}

/* The number of routes the event took (0: rejected or suppressed before
 * any route, or no route matches). */
static unsigned handle(struct fw *fw, struct event *ev, const char *payload, size_t len)
{
	const char *end = NULL;
	unsigned routed = 0;

	if (len > fw->cfg->events.max_payload) {
		reject(fw, ev, NULL, "payload of %zu bytes is over the %u-byte limit", len,
		       fw->cfg->events.max_payload);
		return 0;
	}
	ev->json = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
	/* cJSON stops after the first value: "7<binary junk>" parses as 7.
	 * Only whitespace may follow the object. */
	while (ev->json && end < payload + len && strchr(" \t\r\n", *end) && *end)
		end++;
	if (ev->json && end != payload + len) {
		cJSON_Delete(ev->json);
		ev->json = NULL;
	}
	if (!ev->json || !cJSON_IsObject(ev->json)) {
		reject(fw, ev, NULL, ev->json ? "payload is JSON but not an object"
				      : "malformed JSON near byte %zu", end ? (size_t)(end - payload) : 0);
		return 0;
	}
	if (!event_id(fw, ev) || duplicate(fw, ev))
		return 0;
	for (unsigned i = 0; i < fw->cfg->n_routes; i++) {
		const struct cfg_route *r = &fw->cfg->routes[i];

		if (!cfg_topic_match(r->topic, ev->topic))
			continue;
		routed++;
		fw_stats_count(fw, fw->router.txn, r->name, STORE_ST_EVENTS, 1);
		route_event(fw, ev, r);
	}
	if (!routed)
		reject(fw, ev, NULL, "no route matches topic %.120s", ev->topic);
	note_seq(fw, ev);
	/* The id is remembered even for rejected events: a redelivery of a
	 * rejected event must not be judged twice. */
	int rc = store_dedup_put(fw->router.txn, ev->id, fw->router.event_seq);
	if (rc != ERR_OK && fw->router.batch_err == ERR_OK)
		fw->router.batch_err = rc;
	return routed;
}

struct store_txn *fw_router_txn(struct fw *fw)
{
	int rc;

	if (!fw->router.txn && fw->router.batch_err == ERR_OK) {
		rc = fw_ingest_room(fw);
		if (rc == ERR_OK)
			rc = store_begin(fw->store, 0, &fw->router.txn);
		if (rc != ERR_OK)
			fw->router.batch_err = rc;
	}
	return fw->router.batch_err == ERR_OK ? fw->router.txn : NULL;
}

void fw_router_note(struct fw *fw, int rc)
{
	if (rc != ERR_OK && fw->router.batch_err == ERR_OK)
		fw->router.batch_err = rc;
}

void fw_router_message(struct fw *fw, const char *topic, const void *payload, size_t len)
{
	struct event ev = {.topic = topic, .now = hal_wall_ms(), .clock_ok = hal_clock_valid()};

	if (!fw->router.txn && !fw_router_txn(fw))
		return;
	fw->n.events++;
	fw->router.batch_events++;
	fw->router.event_seq = 0;
	/* An event no route took counts under the route "". */
	if (fw->router.batch_err == ERR_OK && !handle(fw, &ev, payload, len))
		fw_stats_count(fw, fw->router.txn, "", STORE_ST_EVENTS, 1);
	cJSON_Delete(ev.json);
}

int fw_router_batch_end(struct fw *fw, bool keep)
{
	struct fw_router *r = &fw->router;
	int rc = r->batch_err;

	if (!r->txn) {
		/* No event in the batch (only control commands), or no txn for
		 * them: then batch_err says why. */
		if (rc == ERR_OK && r->batch_events)
			rc = ERR_STORE;
	} else if (!keep || rc != ERR_OK) {
		store_abort(r->txn);
	} else {
		OUTPOST_CRASH_POINT("ingest-before-commit");
		rc = store_commit(r->txn);
		if (rc == ERR_OK)
			OUTPOST_CRASH_POINT("ingest-after-commit");
	}
	r->txn = NULL;
	if (keep && rc == ERR_OK) {
		fw->n.acked += r->batch_events;
	} else if (keep && rc == ERR_FULL) {
		/* Backpressure: the events stay with the broker, unacknowledged,
		 * and ingest pauses until upkeep finds room. */
		fw->n.commit_failures++;
		fw_ingest_room(fw);
	} else if (keep) {
		fw_fatal(fw, "committing a batch of events", rc);
	}
	r->batch_events = 0;
	r->batch_err = ERR_OK;
	if (rc == ERR_OK)
		fw_sender_kick(fw);
	return keep ? rc : ERR_OK;
}

static void recent_gap(cJSON *a, const struct store_source_named *n, int64_t now)
{
	cJSON *o = cJSON_CreateObject();
	const struct store_source *s = &n->s;

	cJSON_AddStringToObject(o, "source", n->name);
	cJSON_AddNumberToObject(o, "from", (double)s->last_gap_from);
	cJSON_AddNumberToObject(o, "to", (double)s->last_gap_to);
	cJSON_AddNumberToObject(o, "record", (double)s->last_gap_record);
	cJSON_AddNumberToObject(o, "at_ms", (double)s->last_gap_ms);
	/* A gap seen while the clock was not valid has no time (at_ms 0). */
	if (s->last_gap_ms > 0 && now >= s->last_gap_ms)
		cJSON_AddNumberToObject(o, "ago_s", (double)((now - s->last_gap_ms) / 1000));
	cJSON_AddNumberToObject(o, "gaps", (double)s->gaps);
	cJSON_AddNumberToObject(o, "missed", (double)s->missed);
	cJSON_AddNumberToObject(o, "last_seq", (double)s->last_seq);
	cJSON_AddItemToArray(a, o);
}

void fw_router_seq_status(struct fw *fw, struct cJSON *o)
{
	struct store_source_summary sum;
	struct store_txn *t;
	cJSON *a;
	int rc;

	if (!o)
		return;
	rc = store_begin(fw->store, STORE_RDONLY, &t);
	if (rc == ERR_OK) {
		rc = store_source_summary(t, STATUS_RECENT_GAPS, &sum);
		store_abort(t);
	}
	if (rc != ERR_OK) {
		cJSON_AddStringToObject(o, "error", hal_strerror(rc));
		return;
	}
	cJSON_AddNumberToObject(o, "tracked", (double)sum.sources);
	cJSON_AddNumberToObject(o, "max", STORE_SOURCE_MAX);
	cJSON_AddNumberToObject(o, "sequenced", (double)sum.events);
	cJSON_AddNumberToObject(o, "gaps", (double)sum.gaps);
	cJSON_AddNumberToObject(o, "missed", (double)sum.missed);
	cJSON_AddNumberToObject(o, "resets", (double)sum.resets);
	cJSON_AddNumberToObject(o, "out_of_order", (double)sum.out_of_order);
	cJSON_AddNumberToObject(o, "bad_seq", (double)sum.bad_seq);
	cJSON_AddNumberToObject(o, "untracked", (double)fw->router.seq_untracked);
	cJSON_AddNumberToObject(o, "corrupt", (double)sum.corrupt);
	a = cJSON_AddArrayToObject(o, "recent_gaps");
	for (unsigned i = 0; a && i < sum.n_recent; i++)
		recent_gap(a, &sum.recent[i], hal_wall_ms());
}
