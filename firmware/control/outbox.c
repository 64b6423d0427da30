/*
 * control/outbox.c - the outbox for operators: pages of records with filters,
 * one record in full, and the two things an operator may do to records
 * that ended badly: send them again (retry) or remove them (purge).
 *
 *   outbox        {state, route, to, created_after_ms, created_before_ms,
 *                  limit, before} -> {counts, messages[], next_before}
 *   outbox.show   {seq}           -> {message}: every field; vars and the
 *                                    full number only for an operator
 *   outbox.retry  {seq} | {state: failed|expired|dead, filters, limit}
 *                                 -> {retried, seqs}: state retry, due now,
 *                                    attempts 0, a fresh time to live
 *   outbox.purge  {seq} | {state (a final one), filters, limit}
 *                                 -> {purged}
 *
 * "state" may name one state, "dead" (failed and expired: the dead letters)
 * or "final". A filtered walk looks at most SCAN_MAX records per request;
 * next_before continues where it stopped. Changes run in one transaction,
 * so a retry or purge is all done or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/phone.h"
#include "firmware/delivery.h"
#include "firmware/escalate.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/ctl.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define LIST_MAX 1000
#define SCAN_MAX 20000
/* A page stops short of the frame limit; next_before continues it. */
#define PAGE_BYTES (NET_CTL_MAX_FRAME * 3 / 4)

struct filter {
	unsigned states;   /* bit per state; 0 = any */
	int one_state;     /* the state index to walk, when states names one */
	const char *route, *to;
	int64_t after_ms, before_ms; /* created; 0 = unbounded */
};

struct page {
	const struct filter *f;
	bool operator;
	cJSON *arr;
	size_t bytes;
	unsigned n, limit, scanned;
	uint64_t last_seq;
	bool capped; /* stopped at SCAN_MAX or PAGE_BYTES, not at the end */
	uint64_t *seqs; /* retry/purge: collected instead of listed */
};

static bool matches(const struct filter *f, const struct store_msg *m)
{
	if (f->states && !(f->states & (1u << m->state)))
		return false;
	if (f->route && strcmp(f->route, m->route) != 0)
		return false;
	if (f->to && strcmp(f->to, m->to) != 0)
		return false;
	if (f->after_ms && m->created_ms < f->after_ms)
		return false;
	return !f->before_ms || m->created_ms < f->before_ms;
}

static void add_error(cJSON *o, const struct store_msg *m)
{
	cJSON *e = cJSON_AddObjectToObject(o, "error");

	cJSON_AddStringToObject(e, "class", m->state == STORE_REJECTED ? "input" :
				m->state == STORE_SUPPRESSED && !m->err_class ?
				(m->flags & STORE_F_ESCALATED ? "acknowledged" : "duplicate") :
				m->err_class ? net_class_name(m->err_class) : "");
	cJSON_AddNumberToObject(e, "code", m->err_code);
	cJSON_AddStringToObject(e, "text", m->err_text);
}

static cJSON *record(const struct store_msg *m, bool full, bool operator)
{
	cJSON *o = cJSON_CreateObject();
	char masked[CFG_PHONE_MAX];

	cfg_phone_mask(m->to, masked);
	cJSON_AddNumberToObject(o, "seq", (double)m->seq);
	cJSON_AddStringToObject(o, "state", store_state_name(m->state));
	cJSON_AddStringToObject(o, "event_id", m->event_id);
	cJSON_AddStringToObject(o, "topic", m->topic);
	cJSON_AddStringToObject(o, "route", m->route);
	cJSON_AddStringToObject(o, "to", !m->to[0] ? "" : operator && full ? m->to : masked);
	cJSON_AddStringToObject(o, "template", m->template_name);
	cJSON_AddNumberToObject(o, "attempts", m->attempts);
	cJSON_AddNumberToObject(o, "created_ms", (double)m->created_ms);
	cJSON_AddNumberToObject(o, "updated_ms", (double)m->updated_ms);
	cJSON_AddBoolToObject(o, "ambiguous", (m->flags & STORE_F_AMBIGUOUS) != 0);
	cJSON_AddBoolToObject(o, "reconcile", (m->flags & STORE_F_RECONCILE) != 0);
	if (m->flags & STORE_F_ESCALATED) /* a later step's: outbox.show has the chain */
		cJSON_AddBoolToObject(o, "escalated", true);
	/* waiting for its template's approval (the reason is the error text) */
	cJSON_AddBoolToObject(o, "held", m->due_ms == STORE_DUE_PARKED);
	add_error(o, m);
	cJSON_AddStringToObject(o, "provider_id", m->provider_id);
	/* what the provider said when it took it (Meta: held_for_quality_assessment...) */
	if (m->provider_status && m->provider_status[0])
		cJSON_AddStringToObject(o, "provider_status", m->provider_status);
	cJSON_AddStringToObject(o, "account", m->account); /* the last attempt's, after a failover */
	if (!full)
		return o;
	cJSON_AddStringToObject(o, "content_sid", m->content_sid);
	cJSON_AddNumberToObject(o, "due_ms", (double)m->due_ms);
	cJSON_AddNumberToObject(o, "expires_ms", (double)m->expires_ms);
	cJSON_AddNumberToObject(o, "attempt_ms", (double)m->attempt_ms);
	/* A free-form message: its form now (text, or the fallback template). */
	if (m->body[0])
		cJSON_AddStringToObject(o, "form", m->flags & STORE_F_FREEFORM ? "text" : "template");
	if (operator)
		cJSON_AddRawToObject(o, "vars", m->vars_json[0] ? m->vars_json : "{}");
	if (operator && m->body[0])
		cJSON_AddStringToObject(o, "text", m->body);
	return o;
}

static int visit(const struct store_msg *m, void *arg)
{
	struct page *p = arg;

	p->last_seq = m->seq;
	if (++p->scanned >= SCAN_MAX)
		p->capped = true;
	if (matches(p->f, m)) {
		if (p->seqs) {
			p->seqs[p->n++] = m->seq;
		} else {
			cJSON_AddItemToArray(p->arr, record(m, false, p->operator));
			/* JSON escaping can at most sextuple a byte; 400 covers keys. */
			p->bytes += 400 + 6 * (strlen(m->event_id) + strlen(m->topic) +
					       strlen(m->err_text) + strlen(m->route) +
					       strlen(m->template_name) + strlen(m->provider_id));
			p->n++;
			p->capped |= p->bytes > PAGE_BYTES;
		}
	}
	return p->n >= p->limit || p->capped;
}

#define DEAD_STATES (1u << STORE_FAILED | 1u << STORE_EXPIRED)
#define LIVE_STATES (1u << STORE_QUEUED | 1u << STORE_SENDING | 1u << STORE_RETRY)
#define FINAL_STATES (((1u << STORE__STATES) - 2) & ~LIVE_STATES)

static bool parse_states(const char *s, struct filter *f)
{
	int st = store_state_parse(s);

	if (st) {
		f->states = 1u << st;
		f->one_state = st;
	} else if (strcmp(s, "dead") == 0) {
		f->states = DEAD_STATES;
	} else if (strcmp(s, "final") == 0) {
		f->states = FINAL_STATES;
	} else {
		return false;
	}
	return true;
}

static int64_t ms_of(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

	return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9e15 ?
		(int64_t)v->valuedouble : 0;
}

static const char *str_of(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static bool filter_of(const cJSON *req, struct filter *f, char *err, size_t errlen)
{
	const char *st = str_of(req, "state");

	memset(f, 0, sizeof(*f));
	if (st && !parse_states(st, f)) {
		snprintf(err, errlen, "unknown state '%.40s' (a state, \"dead\" or \"final\")", st);
		return false;
	}
	f->route = str_of(req, "route");
	f->to = str_of(req, "to");
	f->after_ms = ms_of(req, "created_after_ms");
	f->before_ms = ms_of(req, "created_before_ms");
	return true;
}

static unsigned limit_of(const cJSON *req, unsigned dflt)
{
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(req, "limit");

	if (!cJSON_IsNumber(lim))
		return dflt;
	return lim->valuedouble < 1 ? 1 : lim->valuedouble > LIST_MAX ? LIST_MAX :
		(unsigned)lim->valuedouble;
}

static uint64_t before_of(const cJSON *req)
{
	const cJSON *bef = cJSON_GetObjectItemCaseSensitive(req, "before");

	/* 2^64 is exact as a double: anything from it up would not convert. */
	return cJSON_IsNumber(bef) && bef->valuedouble > 0 &&
	       bef->valuedouble < 18446744073709551616.0 ? (uint64_t)bef->valuedouble : 0;
}

static cJSON *list(struct fw *fw, const struct fw_caller *from, const cJSON *req, char *err,
		   size_t errlen)
{
	struct filter f;
	struct page p = {.f = &f, .operator = from->operator};
	struct store_txn *t;
	cJSON *r;

	if (!filter_of(req, &f, err, errlen))
		return NULL;
	p.limit = limit_of(req, 20);
	if (store_begin(fw->store, STORE_RDONLY, &t) != ERR_OK) {
		snprintf(err, errlen, "store unavailable");
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	fw_outbox_counts(cJSON_AddObjectToObject(r, "counts"), t);
	p.arr = cJSON_AddArrayToObject(r, "messages");
	store_outbox_list(t, f.one_state, before_of(req), 0, visit, &p);
	store_abort(t);
	/* A full or cut page may have more behind it; a short one is the end. */
	cJSON_AddNumberToObject(r, "next_before",
				p.n >= p.limit || p.capped ? (double)p.last_seq : 0);
	cJSON_AddNumberToObject(r, "scanned", p.scanned);
	return r;
}

static bool seq_of(const cJSON *req, uint64_t *seq)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "seq");

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9e15)
		return false;
	*seq = (uint64_t)v->valuedouble;
	return true;
}

static cJSON *show(struct fw *fw, const struct fw_caller *from, const cJSON *req, char *err,
		   size_t errlen)
{
	struct store_txn *t;
	struct store_msg m;
	uint64_t seq;
	cJSON *r = NULL;
	int rc;

	if (!seq_of(req, &seq)) {
		snprintf(err, errlen, "\"seq\" must be a record's number");
		return NULL;
	}
	if (store_begin(fw->store, STORE_RDONLY, &t) != ERR_OK) {
		snprintf(err, errlen, "store unavailable");
		return NULL;
	}
	rc = store_outbox_get(t, seq, &m);
	if (rc == ERR_OK) {
		r = cJSON_CreateObject();
		cJSON_AddBoolToObject(r, "ok", true);
		cJSON_AddItemToObject(r, "message", record(&m, true, from->operator));
		fw_delivery_show(t, seq, cJSON_GetObjectItem(r, "message"));
		fw_escalate_show(fw, t, &m, from->operator, cJSON_GetObjectItem(r, "message"));
	} else {
		snprintf(err, errlen, rc == ERR_NOTFOUND ? "no record %llu (pruned, or never)" :
			 "record %llu cannot be read", (unsigned long long)seq);
	}
	store_abort(t);
	return r;
}

static int retry_one(struct store_txn *t, uint64_t seq, int64_t now)
{
	struct store_msg m;
	int rc = store_outbox_get(t, seq, &m);

	if (rc != ERR_OK)
		return rc;
	if (m.state != STORE_FAILED && m.state != STORE_EXPIRED)
		return ERR_INVAL;
	m.state = STORE_RETRY;
	m.attempts = 0;
	m.due_ms = 0;
	m.expires_ms = now + (int64_t)m.ttl_s * 1000;
	m.updated_ms = now;
	m.err_class = 0;
	m.err_code = 0;
	m.err_text = "";
	return store_outbox_update(t, &m);
}

/* Collects the selection in t, then changes it: no cursor walks records
 * that are being rewritten. */
static int select_seqs(struct store_txn *t, const cJSON *req, const struct filter *f,
		       uint64_t *seqs, unsigned *n)
{
	struct page p = {.f = f, .seqs = seqs};
	uint64_t seq;

	if (seq_of(req, &seq)) {
		seqs[0] = seq;
		*n = 1;
		return ERR_OK;
	}
	p.limit = limit_of(req, LIST_MAX);
	store_outbox_list(t, f->one_state, before_of(req), 0, visit, &p);
	*n = p.n;
	return ERR_OK;
}

static cJSON *change(struct fw *fw, bool retry, const cJSON *req, char *err, size_t errlen)
{
	uint64_t *seqs = calloc(LIST_MAX, sizeof(*seqs));
	int64_t now = hal_wall_ms();
	struct store_txn *t = NULL;
	struct filter f;
	unsigned n = 0, done = 0;
	cJSON *r = NULL, *a;
	int rc = ERR_OK;

	if (!seqs || !filter_of(req, &f, err, errlen))
		goto out;
	if (f.states & ~(retry ? DEAD_STATES : FINAL_STATES)) {
		snprintf(err, errlen, retry ? "only failed or expired messages can be sent again" :
			 "only messages in an end state can be purged (not queued, sending, retry)");
		goto out;
	}
	if (!cJSON_GetObjectItemCaseSensitive(req, "seq") && !f.states) {
		snprintf(err, errlen, "say which records: \"seq\", or \"state\" (%s)",
			 retry ? "failed, expired or dead" : "a final state, dead or final");
		goto out;
	}
	rc = store_begin(fw->store, 0, &t);
	if (rc == ERR_OK)
		rc = select_seqs(t, req, &f, seqs, &n);
	while (rc == ERR_OK && done < n) {
		rc = retry ? retry_one(t, seqs[done], now) : store_outbox_delete(t, seqs[done]);
		done += rc == ERR_OK;
	}
	if (rc == ERR_OK) {
		rc = store_commit(t);
	} else {
		store_abort(t);
		if (rc == ERR_INVAL || rc == ERR_NOTFOUND) {
			snprintf(err, errlen, "record %llu %s; nothing changed",
				 (unsigned long long)seqs[done], rc == ERR_NOTFOUND ? "does not exist" :
				 retry ? "is not failed or expired" : "is still on its way");
			goto out;
		}
	}
	if (rc != ERR_OK) {
		snprintf(err, errlen, "store: %s; nothing changed", hal_strerror(rc));
		if (rc != ERR_FULL)
			fw_fatal(fw, retry ? "retrying records" : "purging records", rc);
		goto out;
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddNumberToObject(r, retry ? "retried" : "purged", n);
	a = cJSON_AddArrayToObject(r, "seqs");
	for (unsigned i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)seqs[i]));
	log_info("outbox: %u record(s) %s by an operator", n, retry ? "sent again" : "purged");
	if (retry)
		fw_sender_kick(fw);
out:
	free(seqs);
	return r;
}

cJSON *fw_cmd_outbox(struct fw *fw, const struct fw_caller *from, const char *cmd,
		     const cJSON *req, char *err, size_t errlen)
{
	if (strcmp(cmd, "outbox") == 0)
		return list(fw, from, req, err, errlen);
	if (strcmp(cmd, "outbox.show") == 0)
		return show(fw, from, req, err, errlen);
	if (strcmp(cmd, "outbox.retry") == 0)
		return change(fw, true, req, err, errlen);
	if (strcmp(cmd, "outbox.purge") == 0)
		return change(fw, false, req, err, errlen);
	snprintf(err, errlen, "unknown command '%.40s' (known: outbox, outbox.show, outbox.retry, "
		 "outbox.purge)", cmd);
	return NULL;
}
