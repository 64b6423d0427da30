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
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/store.h"

#define MAX_RECIPIENTS 16
#define REASON_MAX 240
#define EVENT_ID_MAX 200

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
	m->vars_json = m->provider_id = m->err_text = "";
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
		m.template_name = r->template->name;
	}
	put(fw, &m);
	fw->n.rejected++;
	log_info("event %s on %s rejected: %s", ev->id[0] ? ev->id : "(no id)", ev->topic, why);
}

/* Renders the route's variables into a ContentVariables JSON object. */
static char *render_vars(const struct cfg_route *r, const struct event *ev, char *why, size_t wl)
{
	cJSON *o = cJSON_CreateObject();
	char val[CFG_VAR_MAX + 1], key[12], *out = NULL;
	const char *rule;

	if (!o)
		return NULL;
	for (unsigned i = 0; i < r->template->variables; i++) {
		char w[160];
		snprintf(key, sizeof(key), "%u", i + 1);
		if (cfg_render(r->vars[i], ev->json, val, sizeof(val), w, sizeof(w)) != ERR_OK) {
			snprintf(why, wl, "variable {{%s}} (%s): %s", key, r->vars[i], w);
			goto out;
		}
		if (cfg_var_check(val, &rule) != ERR_OK) {
			snprintf(why, wl, "variable {{%s}} (%s): %s", key, r->vars[i], rule);
			goto out;
		}
		if (!cJSON_AddStringToObject(o, key, val))
			goto out;
	}
	out = cJSON_PrintUnformatted(o);
	if (!out)
		snprintf(why, wl, "out of memory");
out:
	cJSON_Delete(o);
	return out;
}

static void queue_one(struct fw *fw, const struct event *ev, const struct cfg_route *r,
		      const char *raw_to, const char *vars)
{
	char e164[CFG_PHONE_MAX];
	const char *why;
	struct store_msg m;

	if (cfg_phone_normalize(raw_to, fw->cfg->events.default_country, e164, &why) != ERR_OK) {
		reject(fw, ev, r, "recipient \"%.40s\": %s", raw_to, why);
		return;
	}
	base_record(ev, &m);
	m.state = STORE_QUEUED;
	m.route = r->name;
	m.account = r->account->name;
	m.to = e164;
	m.template_name = r->template->name;
	m.content_sid = r->template->content_sid;
	m.vars_json = vars;
	m.ttl_s = (uint32_t)r->ttl_s;
	m.due_ms = 0;
	m.expires_ms = ev->clock_ok ? ev->now + r->ttl_s * 1000 : 0;
	put(fw, &m);
	fw->n.queued++;
}

/* A recipient expression naming one field that holds an array fans out. */
static void queue_recipients(struct fw *fw, const struct event *ev, const struct cfg_route *r,
			     const char *vars)
{
	char path[128], to[128], w[160];
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_to && n < MAX_RECIPIENTS; i++) {
		const cJSON *f = NULL, *el;

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
					queue_one(fw, ev, r, el->valuestring, vars);
			}
			continue;
		}
		n++;
		if (cfg_render(r->to[i], ev->json, to, sizeof(to), w, sizeof(w)) != ERR_OK)
			reject(fw, ev, r, "recipient %s: %s", r->to[i], w);
		else
			queue_one(fw, ev, r, to, vars);
	}
	if (n > MAX_RECIPIENTS)
		reject(fw, ev, r, "more than %d recipients; the rest were not queued", MAX_RECIPIENTS);
}

static void route_event(struct fw *fw, const struct event *ev, const struct cfg_route *r)
{
	char why[REASON_MAX];
	char *vars;

	if (r->template->status != CFG_TPL_APPROVED) {
		reject(fw, ev, r, "template %s is not approved (status %s)", r->template->name,
		       r->template->status == CFG_TPL_PENDING ? "pending" : "rejected");
		return;
	}
	vars = render_vars(r, ev, why, sizeof(why));
	if (!vars) {
		reject(fw, ev, r, "%s", why);
		return;
	}
	queue_recipients(fw, ev, r, vars);
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

static void handle(struct fw *fw, struct event *ev, const char *payload, size_t len)
{
	const char *end = NULL;
	bool routed = false;

	if (len > fw->cfg->events.max_payload) {
		reject(fw, ev, NULL, "payload of %zu bytes is over the %u-byte limit", len,
		       fw->cfg->events.max_payload);
		return;
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
		return;
	}
	if (!event_id(fw, ev) || duplicate(fw, ev))
		return;
	for (unsigned i = 0; i < fw->cfg->n_routes; i++) {
		const struct cfg_route *r = &fw->cfg->routes[i];

		if (!cfg_topic_match(r->topic, ev->topic))
			continue;
		routed = true;
		route_event(fw, ev, r);
	}
	if (!routed)
		reject(fw, ev, NULL, "no route matches topic %.120s", ev->topic);
	/* The id is remembered even for rejected events: a redelivery of a
	 * rejected event must not be judged twice. */
	int rc = store_dedup_put(fw->router.txn, ev->id, fw->router.event_seq);
	if (rc != ERR_OK && fw->router.batch_err == ERR_OK)
		fw->router.batch_err = rc;
}

void fw_router_message(struct fw *fw, const char *topic, const void *payload, size_t len)
{
	struct event ev = {.topic = topic, .now = hal_wall_ms(), .clock_ok = hal_clock_valid()};
	int rc;

	if (!fw->router.txn) {
		rc = fw_ingest_room(fw);
		if (rc == ERR_OK)
			rc = store_begin(fw->store, 0, &fw->router.txn);
		if (rc != ERR_OK) {
			fw->router.batch_err = rc;
			return;
		}
	}
	fw->n.events++;
	fw->router.batch_events++;
	fw->router.event_seq = 0;
	if (fw->router.batch_err == ERR_OK)
		handle(fw, &ev, payload, len);
	cJSON_Delete(ev.json);
}

int fw_router_batch_end(struct fw *fw, bool keep)
{
	struct fw_router *r = &fw->router;
	int rc = r->batch_err;

	if (!r->txn) {
		rc = rc == ERR_OK ? ERR_STORE : rc;
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
