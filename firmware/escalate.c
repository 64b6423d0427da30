/*
 * escalate.c - on-call escalation chains (see escalate.h).
 *
 * Writes: a chain opens in the MQTT batch that queued its first step; a
 * step, a give-up or a "reached" is one commit that holds the chain's move,
 * the next step's records, their receipts and counters; an ACK reply rides
 * the inbound message's txn, an MQTT ack the batch's. Nothing is sent twice
 * across a restart: a step's records and the chain's move to that step are
 * one commit, so a kill -9 before it leaves the chain at the old step (the
 * step goes once, after the restart) and after it leaves the records queued
 * like any other (the sender's ambiguous budget covers a request in flight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/consent.h"
#include "config/phone.h"
#include "firmware/consent.h"
#include "firmware/delivery.h"
#include "firmware/escalate.h"
#include "firmware/fw.h"
#include "firmware/ha.h"
#include "firmware/stats.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/chain.h"
#include "store/outbox.h"
#include "store/store.h"

#define DUE_BATCH 32
#define RECHECK_MS 60000       /* the timer fires at least this often */
#define CLOCK_RECHECK_MS 1000  /* while the wall clock is invalid */
#define FULL_RETRY_MS 1000
#define ACK_MAX 16             /* chains one ack ends at most */

struct fw_escalate {
	struct fw *fw;
	struct hal_timer timer;
	int64_t armed_at;     /* escalation-clock ms the timer is set for; -1: not */
	bool based;
	int64_t base_wall;
	uint64_t base_mono;
	char topic[160];
	struct hal_ratelimit rl;
	bool kick; /* an ack queued receipts in a commit of another part */
	/* What the last look at the deadline index found, and store_commits()
	 * then: until a commit or that deadline nothing can be due, and a look
	 * (a read txn) dirties a page of lmdb's lock file, which the kernel
	 * writes to flash. */
	bool looked;
	uint64_t looked_commits;
	int64_t looked_next;
	char why[200]; /* a withdrawn message's reason, until the sender writes it */
};

/* ---- the state machine ---- */

enum fw_esc_action fw_esc_decide(const struct fw_esc_in *in)
{
	if (in->now_ms <= 0)
		return FW_ESC_NONE; /* invariant 9: hold while the clock is invalid */
	if (in->state != STORE_CHAIN_OPEN && in->at_ms <= 0)
		return FW_ESC_ARM; /* ended before the clock was valid: keep it from now */
	if (in->state != STORE_CHAIN_OPEN)
		return in->at_ms <= in->now_ms ? FW_ESC_FORGET : FW_ESC_NONE;
	if (in->at_ms <= 0)
		return in->step < in->steps ? FW_ESC_ARM : FW_ESC_STOP;
	if (in->at_ms > in->now_ms)
		return FW_ESC_NONE;
	if (in->steps == 0 || in->step >= in->steps)
		return in->seen ? FW_ESC_REACHED : in->steps ? FW_ESC_GIVE_UP : FW_ESC_STOP;
	if (in->seen)
		return FW_ESC_REACHED;
	return in->step + 1 < in->steps ? FW_ESC_NEXT : FW_ESC_GIVE_UP;
}

bool fw_esc_ackable(int state)
{
	return state == STORE_CHAIN_OPEN || state == STORE_CHAIN_REACHED;
}

/* ---- the clock ---- */

/* Wall ms as of the first valid reading in this run, moved on by the
 * monotonic clock; 0 while the wall clock has never been valid. */
static int64_t esc_now(struct fw_escalate *e)
{
	if (!e->based) {
		if (!hal_clock_valid())
			return 0;
		e->base_wall = hal_wall_ms();
		e->base_mono = hal_now_ms();
		e->based = true;
	}
	return e->base_wall + (int64_t)(hal_now_ms() - e->base_mono);
}

static void arm(struct fw_escalate *e, int64_t at_ms)
{
	int64_t now = esc_now(e), wait;

	if (now == 0) {
		wait = CLOCK_RECHECK_MS;
		at_ms = -1;
	} else {
		wait = at_ms < 0 ? RECHECK_MS : at_ms - now;
		if (wait < 0)
			wait = 0;
		if (wait > RECHECK_MS)
			wait = RECHECK_MS;
	}
	e->armed_at = at_ms < 0 ? -1 : now + wait;
	hal_timer_set(e->fw->loop, &e->timer, (uint64_t)wait);
}

/* A deadline written in a txn not yet committed: look then (an early look
 * finds nothing and re-arms). */
static void arm_by(struct fw_escalate *e, int64_t at_ms)
{
	if (e->armed_at < 0 || at_ms < e->armed_at)
		arm(e, at_ms);
}

/* ---- chains in memory ---- */

/* A chain with its strings copied off the map: writes to other DBs in the
 * same txn may move the pages they point into. */
struct owned {
	struct store_chain c;
	char *s[10];
};

static void owned_free(struct owned *o)
{
	for (unsigned i = 0; i < 10; i++)
		free(o->s[i]);
}

static int owned_get(struct store_txn *t, uint64_t id, struct owned *o)
{
	const char **f[10] = {&o->c.event_id, &o->c.route, &o->c.topic, &o->c.account,
			      &o->c.template_name, &o->c.content_sid, &o->c.vars_json, &o->c.body,
			      &o->c.reached, &o->c.note};
	int rc = store_chain_get(t, id, &o->c);

	memset(o->s, 0, sizeof(o->s));
	if (rc != ERR_OK)
		return rc;
	for (unsigned i = 0; i < 10; i++) {
		o->s[i] = strdup(*f[i]);
		if (!o->s[i]) {
			owned_free(o);
			return ERR_NOMEM;
		}
		*f[i] = o->s[i];
	}
	return ERR_OK;
}

static const char *const receipt_status[STORE_CHAIN__STATES] = {
	[STORE_CHAIN_OPEN] = "escalated", [STORE_CHAIN_REACHED] = "reached",
	[STORE_CHAIN_ACKED] = "acknowledged", [STORE_CHAIN_GAVE_UP] = "gave_up",
	[STORE_CHAIN_STOPPED] = "stopped",
};

/* Masked numbers of a comma-separated list, from the n-th on. */
static void add_masked(cJSON *a, const char *list, unsigned from)
{
	char one[CFG_PHONE_MAX], masked[CFG_PHONE_MAX];
	unsigned i = 0;

	for (const char *p = list; p && *p; i++) {
		size_t n = strcspn(p, ",");

		if (i >= from && n < sizeof(one)) {
			memcpy(one, p, n);
			one[n] = '\0';
			cfg_phone_mask(one, masked);
			cJSON_AddItemToArray(a, cJSON_CreateString(masked));
		}
		p += n + (p[n] == ',');
	}
}

static unsigned count_list(const char *list)
{
	unsigned n = list && *list ? 1 : 0;

	for (const char *p = list; p && *p; p++)
		n += *p == ',';
	return n;
}

/* The receipt of the chain's move, in t. new_from: the first of
 * c->reached that the move messaged (escalated only). */
static int chain_receipt(struct fw *fw, struct store_txn *t, const struct store_chain *c,
			 unsigned steps, unsigned new_from)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (!o)
		return ERR_NOMEM;
	cJSON_AddStringToObject(o, "kind", "escalation");
	cJSON_AddStringToObject(o, "event_id", c->event_id);
	cJSON_AddNumberToObject(o, "chain", (double)c->id);
	cJSON_AddStringToObject(o, "status", receipt_status[c->state]);
	cJSON_AddNumberToObject(o, "step", c->step + 1);
	cJSON_AddNumberToObject(o, "steps", steps);
	cJSON_AddNumberToObject(o, "at", (double)c->updated_ms);
	cJSON_AddStringToObject(o, "route", c->route);
	if (c->state == STORE_CHAIN_OPEN)
		add_masked(cJSON_AddArrayToObject(o, "to"), c->reached, new_from);
	else if (c->note[0])
		cJSON_AddStringToObject(o, "by", c->note);
	rc = fw_receipt_queue_json(fw, t, c->event_id, o);
	cJSON_Delete(o);
	return rc;
}

static int count_stat(struct store_txn *t, const char *name)
{
	return store_stat_add(t, name, 1);
}

/* ---- opening ---- */

int fw_escalate_begin(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
		      const struct store_msg *proto, const struct fw_esc_first *first)
{
	struct fw_escalate *e = fw->escalate;
	char reached[STORE_CHAIN_FIRST_MAX * CFG_PHONE_MAX + 1] = "";
	struct store_chain c = {0};
	int64_t now = esc_now(e);
	int rc;

	if (!first->n || !r->n_steps)
		return ERR_OK;
	c.id = first->seq[0];
	c.state = STORE_CHAIN_OPEN;
	c.flags = r->until_delivered ? STORE_CHAIN_F_UNTIL_DELIVERED : 0;
	c.at_ms = now ? now + r->steps[0].after_s * 1000 : 0;
	c.started_ms = c.updated_ms = now;
	c.n_cur = first->n;
	memcpy(c.cur, first->seq, first->n * sizeof(first->seq[0]));
	for (unsigned i = 0; i < first->n; i++) {
		if (i)
			strcat(reached, ",");
		strcat(reached, first->to[i]);
	}
	c.event_id = proto->event_id;
	c.route = r->name;
	c.topic = proto->topic;
	c.account = proto->account;
	c.template_name = proto->template_name;
	c.content_sid = proto->content_sid;
	c.vars_json = proto->vars_json;
	c.body = proto->body;
	c.reached = reached;
	c.note = "";
	rc = store_chain_put(t, &c);
	if (rc == ERR_TOOBIG) { /* nothing written: the batch goes on, the alarm without a chain */
		log_warn("escalate: event %s, route %s: the chain would be over %u bytes (its "
			 "variables); the first step goes, no escalation", proto->event_id, r->name,
			 STORE_REC_MAX);
		return ERR_OK;
	}
	for (unsigned i = 0; rc == ERR_OK && i < first->n; i++)
		rc = store_chain_ref_to(t, first->to[i], c.id);
	if (rc == ERR_OK)
		rc = count_stat(t, "escalation_started");
	if (rc == ERR_OK) {
		log_info("escalate: event %s, route %s: chain #%llu open, step 1 of %u to %u "
			 "recipient(s)", proto->event_id, r->name, (unsigned long long)c.id,
			 r->n_steps, first->n);
		arm_by(e, now ? c.at_ms : -1);
		fw_ha_escalation(fw, proto->event_id, true); /* a sensor while it is open */
	}
	return rc;
}

/* ---- one due chain ---- */

static bool step_seen(struct store_txn *t, const struct store_chain *c, char *by, size_t bylen)
{
	struct store_msg m;

	for (unsigned i = 0; i < c->n_cur; i++) {
		if (store_outbox_get(t, c->cur[i], &m) != ERR_OK)
			continue;
		if (m.state == STORE_READ ||
		    (m.state == STORE_DELIVERED && (c->flags & STORE_CHAIN_F_UNTIL_DELIVERED))) {
			char masked[CFG_PHONE_MAX];

			cfg_phone_mask(m.to, masked);
			snprintf(by, bylen, "%s %s", store_state_name(m.state), masked);
			return true;
		}
	}
	return false;
}

/* Adds one recipient's record of the next step; *reached grows. */
static int queue_step_one(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
			  struct store_chain *c, const char *e164, int64_t now, char *reached,
			  size_t cap)
{
	struct store_msg m = {0};
	int rc;

	for (unsigned i = 0; i < c->n_cur; i++) /* a group named twice in one step */
		if (store_outbox_get(t, c->cur[i], &m) == ERR_OK && strcmp(m.to, e164) == 0)
			return ERR_OK;
	if (c->n_cur == STORE_CHAIN_CUR_MAX || strlen(reached) + strlen(e164) + 2 > cap) {
		log_warn("escalate: chain #%llu: more than %d recipients in a step; the rest skipped",
			 (unsigned long long)c->id, STORE_CHAIN_CUR_MAX);
		return ERR_OK;
	}
	memset(&m, 0, sizeof(m));
	m.state = STORE_QUEUED;
	m.flags = STORE_F_ESCALATED;
	m.created_ms = m.updated_ms = hal_wall_ms();
	m.event_id = c->event_id;
	m.topic = c->topic;
	m.route = c->route;
	m.account = r->account ? r->account->name : c->account;
	m.to = e164;
	m.template_name = c->template_name;
	m.content_sid = c->content_sid;
	m.vars_json = c->vars_json;
	m.body = c->body;
	m.provider_id = m.err_text = m.provider_status = "";
	m.ttl_s = (uint32_t)r->ttl_s;
	m.expires_ms = now + r->ttl_s * 1000;
	store_msg_set_prio(&m, r->priority); /* a later step is as urgent as the first */
	rc = store_outbox_add(t, &m);
	if (rc == ERR_OK)
		rc = store_chain_ref_to(t, e164, c->id);
	if (rc != ERR_OK)
		return rc;
	c->cur[c->n_cur++] = m.seq;
	if (reached[0])
		strcat(reached, ",");
	strcat(reached, e164);
	fw->n.queued++;
	return ERR_OK;
}

static int queue_step(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
		      struct store_chain *c, int64_t now, char *reached, size_t cap)
{
	const struct cfg_step *st = &r->steps[c->step];
	int rc = ERR_OK;

	c->n_cur = 0;
	for (unsigned i = 0; rc == ERR_OK && i < st->n_to; i++) {
		const struct cfg_group *g = st->to[i][0] == '@' ? cfg_group_find(fw->cfg, st->to[i])
								 : NULL;

		if (st->to[i][0] != '@')
			rc = queue_step_one(fw, t, r, c, st->to[i], now, reached, cap);
		for (unsigned k = 0; g && rc == ERR_OK && k < g->n_to; k++)
			rc = queue_step_one(fw, t, r, c, g->to[k], now, reached, cap);
	}
	return rc;
}

/* End state s: kept until store.keep_done from now, then forgotten (an
 * ack while the clock is invalid: from when it is valid). */
static void end_as(struct fw *fw, struct store_chain *c, int state, int64_t now)
{
	if (c->state == STORE_CHAIN_OPEN)
		fw_ha_escalation(fw, c->event_id, false); /* its Home Assistant sensor goes */
	c->state = (uint8_t)state;
	c->ended_ms = c->updated_ms = now ? now : hal_wall_ms();
	c->at_ms = now ? now + fw->cfg->store.keep_done_s * 1000 : 0;
}

static const char *const end_stat[STORE_CHAIN__STATES] = {
	[STORE_CHAIN_REACHED] = "escalation_reached", [STORE_CHAIN_ACKED] = "escalation_acked",
	[STORE_CHAIN_GAVE_UP] = "escalation_gave_up", [STORE_CHAIN_STOPPED] = "escalation_stopped",
};

static int run_one(struct fw *fw, struct store_txn *t, uint64_t id, int64_t now, bool *queued)
{
	char reached[STORE_CHAIN_TO_MAX + 1], by[64] = "";
	const struct cfg_route *r;
	struct owned o;
	struct fw_esc_in in;
	unsigned before;
	int rc = owned_get(t, id, &o);

	if (rc != ERR_OK)
		return rc == ERR_NOTFOUND ? ERR_OK : rc;
	r = cfg_route_find(fw->cfg, o.c.route);
	in = (struct fw_esc_in){.state = o.c.state, .at_ms = o.c.at_ms, .now_ms = now,
				.step = o.c.step, .steps = r ? r->n_steps : 0};
	if (o.c.state == STORE_CHAIN_OPEN && o.c.at_ms > 0 && o.c.at_ms <= now)
		in.seen = step_seen(t, &o.c, by, sizeof(by));
	snprintf(reached, sizeof(reached), "%s", o.c.reached);
	before = count_list(reached);
	switch (fw_esc_decide(&in)) {
	case FW_ESC_NONE:
		goto out;
	case FW_ESC_FORGET:
		rc = store_chain_del(t, id);
		goto out;
	case FW_ESC_ARM:
		if (o.c.state != STORE_CHAIN_OPEN) {
			o.c.at_ms = now + fw->cfg->store.keep_done_s * 1000;
			rc = store_chain_put(t, &o.c);
			goto out;
		}
		o.c.at_ms = now + r->steps[o.c.step].after_s * 1000;
		o.c.updated_ms = now;
		if (!o.c.started_ms)
			o.c.started_ms = now;
		break;
	case FW_ESC_REACHED:
		end_as(fw, &o.c, STORE_CHAIN_REACHED, now);
		o.c.note = by;
		break;
	case FW_ESC_GIVE_UP:
		end_as(fw, &o.c, STORE_CHAIN_GAVE_UP, now);
		o.c.note = o.c.flags & STORE_CHAIN_F_UNTIL_DELIVERED ? "not delivered to anyone in time"
								     : "no one read it in time";
		break;
	case FW_ESC_STOP:
		end_as(fw, &o.c, STORE_CHAIN_STOPPED, now);
		o.c.note = r ? "the route has no escalation any more" : "the route is gone";
		break;
	case FW_ESC_NEXT:
		o.c.step++;
		o.c.updated_ms = now;
		o.c.at_ms = now + r->steps[o.c.step].after_s * 1000;
		rc = queue_step(fw, t, r, &o.c, now, reached, sizeof(reached));
		o.c.reached = reached;
		*queued = true;
		if (rc == ERR_OK)
			rc = count_stat(t, "escalation_steps");
		fw_stats_count(fw, t, r->name, STORE_ST_ESCALATED, 1);
		break;
	}
	if (rc == ERR_OK)
		rc = store_chain_put(t, &o.c);
	if (rc == ERR_OK && o.c.state != STORE_CHAIN_OPEN)
		rc = count_stat(t, end_stat[o.c.state]);
	if (rc == ERR_OK && o.c.state != STORE_CHAIN_OPEN)
		rc = count_stat(t, "escalation_ended");
	if (rc == ERR_OK && (o.c.state != STORE_CHAIN_OPEN || in.at_ms > 0))
		rc = chain_receipt(fw, t, &o.c, r ? r->n_steps : o.c.step + 1u, before);
	if (rc == ERR_OK && o.c.state == STORE_CHAIN_OPEN && in.at_ms > 0)
		log_info("escalate: event %s: chain #%llu: step %u of %u not %s in time; step %u "
			 "to %u recipient(s)", o.c.event_id, (unsigned long long)id, o.c.step,
			 r->n_steps, o.c.flags & STORE_CHAIN_F_UNTIL_DELIVERED ? "delivered" : "read",
			 o.c.step + 1, o.c.n_cur);
	else if (rc == ERR_OK && o.c.state != STORE_CHAIN_OPEN)
		log_info("escalate: event %s: chain #%llu %s (%s)", o.c.event_id,
			 (unsigned long long)id, store_chain_state_name(o.c.state), o.c.note);
out:
	owned_free(&o);
	return rc;
}

static void on_timer(struct hal_timer *tm)
{
	struct fw_escalate *e = container_of(tm, struct fw_escalate, timer);
	struct fw *fw = e->fw;
	uint64_t ids[DUE_BATCH];
	int64_t now = esc_now(e), next = -1;
	struct store_txn *t;
	bool queued = false;
	unsigned n = 0;
	int rc;

	e->armed_at = -1;
	if (fw->stopping)
		return;
	if (e->kick) {
		e->kick = false;
		fw_receipts_kick(fw);
	}
	if (now == 0) {
		arm(e, -1);
		return;
	}
	if (e->looked && store_commits(fw->store) == e->looked_commits &&
	    (e->looked_next < 0 || now < e->looked_next)) {
		arm(e, e->looked_next);
		return;
	}
	e->looked = false;
	rc = store_begin(fw->store, STORE_RDONLY, &t);
	if (rc == ERR_OK) {
		rc = store_chain_due(t, now, DUE_BATCH, ids, &n, &next);
		store_abort(t);
	}
	if (rc == ERR_OK && n == 0) {
		e->looked = true;
		e->looked_commits = store_commits(fw->store);
		e->looked_next = next;
		arm(e, next);
		return;
	}
	if (rc == ERR_OK)
		rc = store_begin(fw->store, 0, &t);
	for (unsigned i = 0; rc == ERR_OK && i < n; i++)
		rc = run_one(fw, t, ids[i], now, &queued);
	if (n && rc == ERR_OK)
		rc = store_commit(t);
	else if (n)
		store_abort(t);
	if (rc == ERR_FULL) {
		hal_timer_set(fw->loop, &e->timer, FULL_RETRY_MS);
		return;
	}
	if (rc != ERR_OK) {
		fw_fatal(fw, "moving escalation chains", rc);
		return;
	}
	if (queued)
		fw_sender_kick(fw);
	fw_receipts_kick(fw);
	/* look again: more due, or the next deadline */
	e->armed_at = now;
	hal_timer_set(fw->loop, &e->timer, 0);
}

/* ---- acknowledgements ---- */

/* Ends chain id as acknowledged by `by`, if it can be. */
static int ack_one(struct fw *fw, struct store_txn *t, uint64_t id, const char *by,
		   const char *body, bool *done)
{
	const struct cfg_route *r;
	struct owned o;
	int64_t now = esc_now(fw->escalate);
	int rc = owned_get(t, id, &o);

	if (rc != ERR_OK)
		return rc == ERR_NOTFOUND ? ERR_OK : rc;
	r = cfg_route_find(fw->cfg, o.c.route);
	if (!fw_esc_ackable(o.c.state))
		goto out;
	if (body && !(r && r->ack ? cfg_keyword_match(r->ack, r->n_ack, body)
				  : cfg_keyword_match((char *const[]){"ACK", "OK"}, 2, body)))
		goto out;
	if (o.c.state == STORE_CHAIN_OPEN)
		rc = count_stat(t, "escalation_ended");
	end_as(fw, &o.c, STORE_CHAIN_ACKED, now);
	o.c.note = by;
	if (rc == ERR_OK)
		rc = store_chain_put(t, &o.c);
	if (rc == ERR_OK)
		rc = count_stat(t, "escalation_acked");
	fw_stats_count(fw, t, o.c.route, STORE_ST_ACKNOWLEDGED, 1);
	if (rc == ERR_OK)
		rc = chain_receipt(fw, t, &o.c, r ? r->n_steps : o.c.step + 1u, 0);
	if (rc == ERR_OK) {
		*done = true;
		log_info("escalate: event %s: chain #%llu acknowledged by %s", o.c.event_id,
			 (unsigned long long)id, by);
	}
out:
	owned_free(&o);
	return rc;
}

/* The chain of record seq (its event and route), 0 if none. */
static uint64_t chain_of_record(struct store_txn *t, uint64_t seq)
{
	uint64_t ids[ACK_MAX];
	struct store_chain c;
	struct store_msg m;
	char route[256];
	unsigned n = 0;

	if (store_outbox_get(t, seq, &m) != ERR_OK || !m.event_id[0])
		return 0;
	snprintf(route, sizeof(route), "%s", m.route);
	if (store_chain_by_event(t, m.event_id, ACK_MAX, ids, &n) != ERR_OK)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (store_chain_get(t, ids[i], &c) == ERR_OK && strcmp(c.route, route) == 0)
			return ids[i];
	return 0;
}

int fw_escalate_reply(struct fw *fw, struct store_txn *t, const char *from, const char *body,
		      const char *replied_to)
{
	uint64_t ids[ACK_MAX], seq, id = 0;
	char masked[CFG_PHONE_MAX];
	struct store_chain c;
	unsigned n = 0;
	bool done = false;
	int rc = ERR_OK;

	if (!fw->escalate || !body)
		return ERR_OK;
	if (replied_to && replied_to[0] && store_sid_get(t, replied_to, &seq) == ERR_OK)
		id = chain_of_record(t, seq);
	if (!id) { /* the newest that can take it */
		rc = store_chain_by_to(t, from, ACK_MAX, ids, &n);
		for (unsigned i = 0; rc == ERR_OK && i < n && !id; i++)
			if (store_chain_get(t, ids[i], &c) == ERR_OK && fw_esc_ackable(c.state))
				id = ids[i];
	}
	cfg_phone_mask(from, masked);
	if (rc == ERR_OK && id)
		rc = ack_one(fw, t, id, masked, body, &done);
	if (rc == ERR_OK && done) { /* published after the commit (a 0 ms timer runs after it) */
		fw->escalate->kick = true;
		hal_timer_set(fw->loop, &fw->escalate->timer, 0);
	}
	return rc;
}

const char *fw_escalate_topic(const struct fw *fw)
{
	return fw->escalate && fw->escalate->topic[0] ? fw->escalate->topic : NULL;
}

bool fw_escalate_take(struct fw *fw, const char *topic, const void *payload, size_t len)
{
	struct fw_escalate *e = fw->escalate;
	size_t plen = e && e->topic[0] ? strlen(e->topic) - 1 : 0; /* less the '+' */
	char event[STORE_EVENT_ID_MAX + 1], by[80] = "mqtt";
	uint64_t ids[ACK_MAX];
	struct store_txn *t;
	unsigned n = 0;
	bool done = false;
	int rc;

	if (!plen || strncmp(topic, e->topic, plen) != 0 || !topic[plen] ||
	    strchr(topic + plen, '/') || strlen(topic + plen) > STORE_EVENT_ID_MAX)
		return false;
	snprintf(event, sizeof(event), "%s", topic + plen);
	/* {"by": "panel 2"} says who; anything else is an ack all the same */
	cJSON *j = cJSON_ParseWithLength(payload, len);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "by");

	if (cJSON_IsString(b) && b->valuestring[0])
		snprintf(by, sizeof(by), "mqtt: %.60s", b->valuestring);
	cJSON_Delete(j);
	t = fw_router_txn(fw);
	if (!t)
		return true; /* the batch's PUBACKs are withheld: it comes again */
	rc = store_chain_by_event(t, event, ACK_MAX, ids, &n);
	for (unsigned i = 0; rc == ERR_OK && i < n; i++)
		rc = ack_one(fw, t, ids[i], by, NULL, &done);
	fw_router_note(fw, rc);
	if (rc == ERR_OK && !done && hal_ratelimit_ok(&e->rl, 10, 10000))
		log_info("escalate: ack for event %.64s: no open escalation", event);
	return true;
}

bool fw_escalate_gate(struct fw *fw, struct store_txn *t, struct store_msg *m)
{
	struct fw_escalate *e = fw->escalate;
	char masked[CFG_PHONE_MAX];
	uint64_t ids[ACK_MAX];
	struct store_chain c;
	unsigned n = 0;

	if (!(m->flags & STORE_F_ESCALATED) || !e ||
	    store_chain_by_event(t, m->event_id, ACK_MAX, ids, &n) != ERR_OK)
		return true;
	for (unsigned i = 0; i < n; i++) {
		if (store_chain_get(t, ids[i], &c) != ERR_OK || strcmp(c.route, m->route) != 0)
			continue;
		if (c.state != STORE_CHAIN_ACKED)
			return true;
		snprintf(e->why, sizeof(e->why), "escalation acknowledged by %.80s before this "
			 "message went", c.note);
		m->state = STORE_SUPPRESSED;
		m->err_class = 0;
		m->err_code = 0;
		m->err_text = e->why;
		cfg_phone_mask(m->to, masked);
		log_msg(LOG_INFO, &(struct log_ctx){.event_id = m->event_id, .msg_seq = m->seq,
			.to = m->to}, "escalate: message #%llu to %s withdrawn: %s",
			(unsigned long long)m->seq, masked, e->why);
		count_stat(t, "escalation_withdrawn"); /* an error poisons t: its commit says */
		return false;
	}
	return true;
}

/* ---- show and status ---- */

void fw_escalate_show(struct fw *fw, struct store_txn *t, const struct store_msg *m,
		      bool operator, cJSON *o)
{
	uint64_t ids[ACK_MAX];
	struct store_chain c;
	unsigned n = 0;
	char at[32];

	(void)fw;
	if (!o || !m->event_id[0] || store_chain_by_event(t, m->event_id, ACK_MAX, ids, &n) != ERR_OK)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (store_chain_get(t, ids[i], &c) != ERR_OK || strcmp(c.route, m->route) != 0)
			continue;
		cJSON *e = cJSON_AddObjectToObject(o, "escalation");

		cJSON_AddNumberToObject(e, "chain", (double)c.id);
		cJSON_AddStringToObject(e, "state", store_chain_state_name(c.state));
		cJSON_AddNumberToObject(e, "step", c.step + 1);
		cJSON_AddStringToObject(e, "until", c.flags & STORE_CHAIN_F_UNTIL_DELIVERED ?
					"delivered" : "read");
		fw_iso_time(c.started_ms, at, sizeof(at));
		cJSON_AddStringToObject(e, "started", at);
		if (c.state == STORE_CHAIN_OPEN) {
			fw_iso_time(c.at_ms, at, sizeof(at));
			cJSON_AddStringToObject(e, "deadline", c.at_ms ? at : "when the clock is valid");
		} else {
			fw_iso_time(c.ended_ms, at, sizeof(at));
			cJSON_AddStringToObject(e, "ended", at);
		}
		if (c.note[0])
			cJSON_AddStringToObject(e, "by", c.note);
		if (operator)
			cJSON_AddStringToObject(e, "messaged", c.reached);
		else
			add_masked(cJSON_AddArrayToObject(e, "messaged"), c.reached, 0);
		cJSON *cur = cJSON_AddArrayToObject(e, "step_records");

		for (unsigned k = 0; k < c.n_cur; k++)
			cJSON_AddItemToArray(cur, cJSON_CreateNumber((double)c.cur[k]));
		return;
	}
}

void fw_escalate_status(struct fw *fw, cJSON *o)
{
	static const char *const names[] = {"escalation_started", "escalation_steps",
					    "escalation_ended", "escalation_reached",
					    "escalation_acked", "escalation_gave_up",
					    "escalation_stopped", "escalation_withdrawn"};
	static const char *const keys[] = {"started", "steps", "ended", "reached", "acknowledged",
					   "gave_up", "stopped", "withdrawn"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	uint64_t v[N] = {0};
	struct store_txn *t;

	if (!o)
		return;
	if (store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		for (unsigned i = 0; i < N; i++)
			store_stat_get(t, names[i], &v[i]);
		store_abort(t);
	}
	for (unsigned i = 0; i < N; i++)
		if (i != 2)
			cJSON_AddNumberToObject(o, keys[i], (double)v[i]);
	cJSON_AddNumberToObject(o, "open", v[0] >= v[2] ? (double)(v[0] - v[2]) : 0);
	cJSON_AddStringToObject(o, "ack_topic", fw_escalate_topic(fw) ? fw_escalate_topic(fw) : "");
}

/* ---- lifecycle ---- */

int fw_escalate_init(struct fw *fw)
{
	struct fw_escalate *e = calloc(1, sizeof(*e));
	bool any = false;

	if (!e)
		return ERR_NOMEM;
	e->fw = fw;
	e->timer.cb = on_timer;
	e->armed_at = -1;
	for (unsigned i = 0; i < fw->cfg->n_routes; i++)
		any |= fw->cfg->routes[i].n_steps > 0;
	/* Subscribed while any route escalates; chains of a route that
	 * stopped escalating still end (stopped) at their deadline. */
	if (any)
		snprintf(e->topic, sizeof(e->topic), "outpost/%s/ack/+", fw->cfg->gateway_id);
	fw->escalate = e;
	hal_timer_set(fw->loop, &e->timer, 0); /* chains of a previous run */
	return ERR_OK;
}

void fw_escalate_reconfigure(struct fw *fw)
{
	struct fw_escalate *e = fw->escalate;
	bool any = false;

	if (!e)
		return;
	for (unsigned i = 0; i < fw->cfg->n_routes; i++)
		any |= fw->cfg->routes[i].n_steps > 0;
	if (any)
		snprintf(e->topic, sizeof(e->topic), "outpost/%s/ack/+", fw->cfg->gateway_id);
	else
		e->topic[0] = '\0';
}

void fw_escalate_free(struct fw *fw)
{
	if (!fw->escalate)
		return;
	hal_timer_cancel(fw->loop, &fw->escalate->timer);
	free(fw->escalate);
	fw->escalate = NULL;
}
