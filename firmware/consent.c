/*
 * consent.c - who may be sent to, and how: the recipient ledger applied at
 * send time, the consent topic, and the 24-hour window for free-form text.
 *
 * Opt-outs come from four places (the CLI, the consent topic, inbound
 * keywords, the provider's opted-out codes) and all go through
 * fw_consent_set(), in the transaction of what caused them: an MQTT batch
 * (acknowledged after its commit), a send outcome, a command.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/consent.h"
#include "firmware/retry.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/providers/provider.h"
#include "store/ledger.h"
#include "store/outbox.h"

#define TOPIC_PAYLOAD_MAX 4096
#define TOPIC_SOURCE_MAX 48

bool fw_window_open(int64_t now_ms, int64_t inbound_ms)
{
	if (inbound_ms <= 0)
		return false;
	return now_ms < inbound_ms + FW_WINDOW_MS && inbound_ms < now_ms + FW_WINDOW_MS;
}

enum fw_form fw_window_pick(int64_t now_ms, int64_t inbound_ms, bool has_body, bool has_template,
			    bool template_only)
{
	if (!has_body)
		return FW_FORM_TEMPLATE;
	if (!template_only && fw_window_open(now_ms, inbound_ms))
		return FW_FORM_FREEFORM;
	return has_template ? FW_FORM_TEMPLATE : FW_FORM_NONE;
}

void fw_iso_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "never");
}

static const struct cfg_route *route_find(const struct cfg *c, const char *name)
{
	for (unsigned i = 0; i < c->n_routes; i++)
		if (strcmp(c->routes[i].name, name) == 0)
			return &c->routes[i];
	return NULL;
}

static void opted_out_text(char *buf, size_t len, const char *to, const struct store_ledger *e)
{
	char masked[CFG_PHONE_MAX], when[32];

	cfg_phone_mask(to, masked);
	fw_iso_time(e->changed_ms, when, sizeof(when));
	snprintf(buf, len, "recipient %s opted out (%s at %s)", masked,
		 e->source[0] ? e->source : "unknown source", when);
}

static void held_back(struct fw *fw, struct store_msg *m, int state, const char *what)
{
	struct fw_inbound *ib = fw->inbound;
	char masked[CFG_PHONE_MAX];

	m->state = (uint8_t)state;
	m->err_class = state == STORE_SUPPRESSED ? NET_OPTED_OUT : NET_WINDOW;
	m->err_code = 0;
	m->err_text = ib->why;
	if (state == STORE_SUPPRESSED)
		ib->n.suppressed++;
	else
		fw->n.failed++;
	cfg_phone_mask(m->to, masked);
	log_msg(LOG_INFO, &(struct log_ctx){.event_id = m->event_id, .msg_seq = m->seq, .to = m->to},
		"consent: message #%llu to %s %s: %s", (unsigned long long)m->seq, masked, what,
		ib->why);
}

/* Whether a free-form record has a fallback template: its template name,
 * set from the route's fallback_template for every provider (a ContentSid
 * is Twilio's mapping of it only, and empty on a meta account). */
static bool has_fallback(const struct store_msg *m)
{
	return m->template_name[0] != '\0';
}

/* Free-form or template, by the window; false if neither can go. */
static bool pick_form(struct fw *fw, struct store_msg *m, const struct store_ledger *e,
		      int64_t wall)
{
	struct fw_inbound *ib = fw->inbound;
	char when[32];

	switch (fw_window_pick(wall, e->inbound_ms, m->body[0] != '\0', has_fallback(m),
			       (m->flags & STORE_F_TEMPLATE_ONLY) != 0)) {
	case FW_FORM_FREEFORM: /* counted when sent (fw_consent_settle) */
		m->flags |= STORE_F_FREEFORM;
		return true;
	case FW_FORM_TEMPLATE:
		m->flags &= ~(uint32_t)STORE_F_FREEFORM;
		return true;
	default:
		break;
	}
	fw_iso_time(e->inbound_ms, when, sizeof(when));
	snprintf(ib->why, sizeof(ib->why), "outside the 24-hour window (last inbound %s) and the "
		 "route has no fallback_template", when);
	ib->n.window_failed++;
	held_back(fw, m, STORE_FAILED, "failed");
	return false;
}

bool fw_consent_gate(struct fw *fw, struct store_txn *t, struct store_msg *m, int64_t wall)
{
	struct fw_inbound *ib = fw->inbound;
	const struct cfg_route *r = route_find(fw->cfg, m->route);
	struct store_ledger e;
	char masked[CFG_PHONE_MAX];
	int rc;

	if (!ib)
		return true;
	rc = store_ledger_get(t, m->to, &e);
	if (rc != ERR_OK && rc != ERR_NOTFOUND && rc != ERR_STORE)
		return true; /* the txn is poisoned: its commit fails, nothing is lost */
	if (e.consent == STORE_CONSENT_OUT) {
		opted_out_text(ib->why, sizeof(ib->why), m->to, &e);
		held_back(fw, m, STORE_SUPPRESSED, "suppressed");
		return false;
	}
	if (r && r->require_opt_in && e.consent != STORE_CONSENT_IN) {
		cfg_phone_mask(m->to, masked);
		snprintf(ib->why, sizeof(ib->why), "recipient %s has not opted in (route %s "
			 "requires opt-in)", masked, r->name);
		held_back(fw, m, STORE_SUPPRESSED, "suppressed");
		return false;
	}
	return pick_form(fw, m, &e, wall);
}

int fw_consent_settle(struct fw *fw, struct store_txn *t, const struct net_send_outcome *o,
		      struct store_msg *m, enum fw_next *next, char *why, size_t whylen, int64_t wall)
{
	struct store_ledger e;
	char src[32];
	int rc;

	if (o->cls == NET_OPTED_OUT) {
		snprintf(src, sizeof(src), "provider:%d", o->code);
		rc = fw_consent_set(fw, t, m->to, STORE_CONSENT_OUT, src, wall);
		if (rc != ERR_OK)
			return rc;
		e = (struct store_ledger){.changed_ms = wall};
		snprintf(e.source, sizeof(e.source), "%s", src);
		opted_out_text(why, whylen, m->to, &e);
		m->state = STORE_SUPPRESSED;
		m->err_text = why;
		*next = FW_NEXT_SUPPRESSED;
		if (fw->inbound)
			fw->inbound->n.suppressed++;
		return ERR_OK;
	}
	if (o->cls == NET_OK && m->body[0] && fw->inbound) {
		if (m->flags & STORE_F_FREEFORM)
			fw->inbound->n.freeform++;
		else
			fw->inbound->n.fallback++;
	}
	if (o->cls != NET_WINDOW || !(m->flags & STORE_F_FREEFORM))
		return ERR_OK;
	m->flags &= ~(uint32_t)STORE_F_FREEFORM;
	m->flags |= STORE_F_TEMPLATE_ONLY;
	if (has_fallback(m)) {
		snprintf(why, whylen, "the provider says the 24-hour window is closed (code %d); "
			 "sending the fallback template", o->code);
		m->state = STORE_RETRY;
		m->due_ms = wall;
		*next = FW_NEXT_RETRY;
	} else {
		snprintf(why, whylen, "outside the 24-hour window (provider code %d: %.160s)",
			 o->code, o->text);
		m->state = STORE_FAILED;
		*next = FW_NEXT_FAILED;
	}
	m->err_text = why;
	return ERR_OK;
}

int fw_consent_late(struct fw *fw, struct store_txn *t, struct store_msg *m, int cls, int code,
		    int64_t wall, bool *resend)
{
	static char why[160];
	char src[32];

	*resend = false;
	if (cls == NET_OPTED_OUT) {
		snprintf(src, sizeof(src), "provider:%d", code);
		return fw_consent_set(fw, t, m->to, STORE_CONSENT_OUT, src, wall);
	}
	if (cls != NET_WINDOW || !(m->flags & STORE_F_FREEFORM) || !has_fallback(m))
		return ERR_OK;
	/* Accepted as free-form, refused later (Twilio 63016 comes this way):
	 * the fallback template goes instead, once. */
	m->flags &= ~(uint32_t)STORE_F_FREEFORM;
	m->flags |= STORE_F_TEMPLATE_ONLY;
	snprintf(why, sizeof(why), "the provider says the 24-hour window is closed (code %d, "
		 "after it took the text); sending the fallback template", code);
	m->err_text = why;
	m->err_code = code;
	m->err_class = NET_WINDOW;
	m->provider_id = m->provider_status = "";
	m->state = STORE_RETRY;
	m->due_ms = wall;
	*resend = true;
	return ERR_OK;
}

const char *fw_consent_ingest(struct fw *fw, struct store_txn *t, const char *to, int64_t wall)
{
	struct fw_inbound *ib = fw->inbound;
	struct store_ledger e;
	char when[32];
	int rc;

	if (!ib)
		return NULL;
	rc = store_ledger_get(t, to, &e);
	if ((rc != ERR_OK && rc != ERR_NOTFOUND) || fw_window_open(wall, e.inbound_ms))
		return NULL;
	fw_iso_time(e.inbound_ms, when, sizeof(when));
	snprintf(ib->why, sizeof(ib->why), "outside the 24-hour window (last inbound %s) and the "
		 "route has no fallback_template", when);
	ib->n.window_failed++;
	return ib->why;
}

int fw_consent_set(struct fw *fw, struct store_txn *t, const char *e164, int consent,
		   const char *source, int64_t at_ms)
{
	char masked[CFG_PHONE_MAX];
	int rc = store_ledger_consent(t, e164, consent, source, at_ms);

	if (rc != ERR_OK)
		return rc;
	if (fw->inbound && consent == STORE_CONSENT_OUT)
		fw->inbound->n.opt_out++;
	else if (fw->inbound && consent == STORE_CONSENT_IN)
		fw->inbound->n.opt_in++;
	cfg_phone_mask(e164, masked);
	log_msg(LOG_INFO, &(struct log_ctx){.to = e164}, "consent: %s %s (source %s)", masked,
		consent == STORE_CONSENT_OUT ? "opted out" : consent == STORE_CONSENT_IN ?
		"opted in" : "consent cleared", source);
	return ERR_OK;
}

const char *fw_consent_topic(const struct fw *fw)
{
	return fw->inbound ? fw->inbound->topic : NULL;
}

/* NULL if the source is fine, else why not. */
static const char *source_bad(const cJSON *s)
{
	if (!s)
		return NULL;
	if (!cJSON_IsString(s))
		return "\"source\" is not a string";
	if (!s->valuestring[0] || strlen(s->valuestring) > TOPIC_SOURCE_MAX)
		return "\"source\" must be 1..48 bytes";
	for (const char *p = s->valuestring; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "\"source\" has control characters";
	return NULL;
}

/* ERR_OK with e164, consent and source filled; else why says what is wrong. */
static const char *topic_parse(struct fw *fw, const cJSON *root, char e164[CFG_PHONE_MAX],
			       int *consent, char *source, size_t slen)
{
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(root, "to");
	const cJSON *opt = cJSON_GetObjectItemCaseSensitive(root, "opt");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source");
	const char *why;

	if (!cJSON_IsObject(root))
		return "not a JSON object";
	if (!cJSON_IsString(to))
		return "\"to\" is missing or not a string";
	if (cfg_phone_normalize(to->valuestring, fw->cfg->events.default_country, e164, &why) !=
	    ERR_OK)
		return why;
	if (!cJSON_IsString(opt) || (strcmp(opt->valuestring, "in") != 0 &&
				     strcmp(opt->valuestring, "out") != 0))
		return "\"opt\" must be \"in\" or \"out\"";
	if ((why = source_bad(src)) != NULL)
		return why;
	*consent = opt->valuestring[0] == 'i' ? STORE_CONSENT_IN : STORE_CONSENT_OUT;
	snprintf(source, slen, "mqtt%s%s", src ? ":" : "", src ? src->valuestring : "");
	return NULL;
}

bool fw_consent_take(struct fw *fw, const char *topic, const void *payload, size_t len)
{
	struct fw_inbound *ib = fw->inbound;
	char e164[CFG_PHONE_MAX], source[TOPIC_SOURCE_MAX + 8];
	const char *why = NULL;
	struct store_txn *t;
	cJSON *root = NULL;
	int consent = 0, rc;

	if (!ib || strcmp(topic, ib->topic) != 0)
		return false;
	t = fw_router_txn(fw);
	if (!t)
		return true; /* no PUBACK: the broker sends it again */
	if (len > TOPIC_PAYLOAD_MAX)
		why = "payload over 4096 bytes";
	else if (!(root = cJSON_ParseWithLength(payload, len)))
		why = "malformed JSON";
	else
		why = topic_parse(fw, root, e164, &consent, source, sizeof(source));
	cJSON_Delete(root);
	if (why) {
		ib->n.topic_bad++;
		log_warn("consent: message on %s refused: %s", topic, why);
		fw_router_note(fw, store_stat_add(t, "consent_bad", 1));
		return true;
	}
	rc = fw_consent_set(fw, t, e164, consent, source, hal_wall_ms());
	if (rc == ERR_INVAL) { /* refused before anything was written: not the batch's fault */
		ib->n.topic_bad++;
		log_warn("consent: message on %s refused: the number is not E.164", topic);
		return true;
	}
	ib->n.topic_ok++;
	fw_router_note(fw, rc);
	return true;
}

void fw_consent_status(const struct fw *fw, cJSON *o)
{
	const struct fw_inbound *ib = fw->inbound;
	const struct fw_consent_n *n = ib ? &ib->n : &(struct fw_consent_n){0};
	struct store_txn *t;
	uint64_t entries = 0;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "topic", ib ? ib->topic : "");
	if (store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		store_ledger_entries(t, &entries);
		store_abort(t);
	}
	cJSON_AddNumberToObject(o, "ledger_entries", (double)entries);
	cJSON_AddNumberToObject(o, "suppressed", (double)n->suppressed);
	cJSON_AddNumberToObject(o, "opted_out", (double)n->opt_out);
	cJSON_AddNumberToObject(o, "opted_in", (double)n->opt_in);
	cJSON_AddNumberToObject(o, "topic_ok", (double)n->topic_ok);
	cJSON_AddNumberToObject(o, "topic_refused", (double)n->topic_bad);
	cJSON_AddNumberToObject(o, "freeform", (double)n->freeform);
	cJSON_AddNumberToObject(o, "fallback_template", (double)n->fallback);
	cJSON_AddNumberToObject(o, "window_failed", (double)n->window_failed);
	cJSON_AddNumberToObject(o, "inbound", (double)n->inbound);
	cJSON_AddNumberToObject(o, "inbound_duplicates", (double)n->inbound_dup);
	cJSON_AddNumberToObject(o, "inbound_refused", (double)n->inbound_bad);
	cJSON_AddNumberToObject(o, "inbound_unpublished", ib ? (double)ib->pub_dropped : 0);
	cJSON_AddNumberToObject(o, "keywords", (double)n->keywords);
	cJSON_AddNumberToObject(o, "polls", (double)n->polls);
	cJSON_AddNumberToObject(o, "poll_failures", (double)n->poll_failures);
}
