/*
 * quota.c - quotas and cost at send time.
 *
 * Counts live in the meta DB ("stat/quota/<account>/day", ".../month",
 * ".../cost"), read and written in the transaction that picks or records
 * the send, so they never drift from the outbox, a failed commit takes its
 * counts back with it, and a restart keeps them; nothing is cached. A day or
 * a month is the site's (config "timezone"). A period's count packs the
 * period's number in the high 32 bits: a count of another day reads as 0.
 *
 * A record is held while count + the account's requests already out (or
 * picked) reaches a limit, so a quota is never passed by what was in flight
 * when it was reached. Held past a day's or month's limit: due at the next
 * local midnight or first of the month; held only for what is in flight: due
 * again in a second. Records of a priority at or above quota.exempt never
 * wait, and neither do the notices this file queues.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "config/quota.h"
#include "firmware/delivery.h"
#include "firmware/fw.h"
#include "firmware/quota.h"
#include "firmware/stats.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/store.h"

#define PENDING_RECHECK_MS 1000

struct counts {
	int64_t day, month;            /* local day and month of the counts */
	uint64_t n_day, n_month, cost; /* cost: millionths of the quota's currency */
};

struct quota_use {
	const struct cfg_account *ac;
	uint64_t held, dropped; /* records held / suppressed, this run */
	char why[160];          /* the last reason a record was held */
};

struct fw_quota {
	unsigned n;
	struct quota_use u[];
};

static struct quota_use *use_of(const struct fw *fw, const char *account)
{
	for (unsigned i = 0; fw->quota && i < fw->quota->n; i++)
		if (strcmp(fw->quota->u[i].ac->name, account) == 0)
			return &fw->quota->u[i];
	return NULL;
}

static void key(char *buf, size_t cap, const struct cfg_account *ac, const char *what)
{
	snprintf(buf, cap, "quota/%s/%s", ac->name, what);
}

/* Counts of another period start again from 0. */
static void roll(struct counts *u, int64_t wall)
{
	int64_t day, month;

	if (!hal_local_day(wall, &day, &month))
		return;
	if (day != u->day) {
		u->day = day;
		u->n_day = 0;
	}
	if (month != u->month) {
		u->month = month;
		u->n_month = 0;
		u->cost = 0;
	}
}

/* The account's counts in t, of the period wall is in. */
static int load(struct store_txn *t, const struct cfg_account *ac, int64_t wall,
		struct counts *u)
{
	char k[STORE_STAT_NAME_MAX];
	uint64_t d = 0, m = 0, c = 0;
	int rc;

	key(k, sizeof(k), ac, "day");
	rc = store_stat_get(t, k, &d);
	key(k, sizeof(k), ac, "month");
	if (rc == ERR_OK)
		rc = store_stat_get(t, k, &m);
	key(k, sizeof(k), ac, "cost");
	if (rc == ERR_OK)
		rc = store_stat_get(t, k, &c);
	u->day = (int64_t)(d >> 32);
	u->n_day = d & 0xffffffffu;
	u->month = (int64_t)(m >> 32);
	u->n_month = m & 0xffffffffu;
	u->cost = c;
	roll(u, wall);
	return rc;
}

static int save(struct store_txn *t, const struct cfg_account *ac, const struct counts *u)
{
	char k[STORE_STAT_NAME_MAX];
	uint64_t d = (uint64_t)u->day << 32 | (u->n_day > 0xffffffffu ? 0xffffffffu : u->n_day);
	uint64_t m = (uint64_t)u->month << 32 |
		     (u->n_month > 0xffffffffu ? 0xffffffffu : u->n_month);
	int rc;

	key(k, sizeof(k), ac, "day");
	rc = store_stat_set(t, k, d);
	key(k, sizeof(k), ac, "month");
	if (rc == ERR_OK)
		rc = store_stat_set(t, k, m);
	key(k, sizeof(k), ac, "cost");
	if (rc == ERR_OK)
		rc = store_stat_set(t, k, u->cost);
	return rc;
}

int fw_quota_init(struct fw *fw)
{
	const struct cfg *cfg = fw->cfg;
	struct fw_quota *q;
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_accounts; i++)
		n += cfg->accounts[i].quota.set;
	q = calloc(1, sizeof(*q) + n * sizeof(q->u[0]));
	if (!q)
		return ERR_NOMEM;
	for (unsigned i = 0; i < cfg->n_accounts; i++) {
		struct quota_use *old = use_of(fw, cfg->accounts[i].name);

		if (!cfg->accounts[i].quota.set)
			continue;
		q->u[q->n].ac = &cfg->accounts[i];
		if (old) { /* a reload keeps this run's held and dropped counts */
			q->u[q->n].held = old->held;
			q->u[q->n].dropped = old->dropped;
		}
		q->n++;
	}
	free(fw->quota);
	fw->quota = q;
	return ERR_OK;
}

void fw_quota_free(struct fw *fw)
{
	free(fw->quota);
	fw->quota = NULL;
}

static void money_text(char *buf, size_t cap, uint64_t micro, const char *currency)
{
	snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64 "%s%s", micro / 1000000,
		 (micro % 1000000) / 10000, currency[0] ? " " : "", currency);
}

int64_t fw_quota_admit(struct fw *fw, struct store_txn *t, const struct cfg_account *ac,
		       unsigned pending, struct store_msg *m, int64_t wall)
{
	const struct cfg_quota *q = &ac->quota;
	struct quota_use *u = q->set ? use_of(fw, ac->name) : NULL;
	const struct cfg_route *r;
	const char *what = NULL;
	uint64_t used = 0, limit = 0;
	int64_t until = 0;
	struct counts c;
	char a[32], b[32];

	if (!u || store_msg_prio(m) >= q->exempt)
		return 0;
	if (load(t, ac, wall, &c) != ERR_OK)
		return wall + PENDING_RECHECK_MS; /* logged by the store; look again */
	if (q->per_day && c.n_day + pending >= q->per_day) {
		what = "per_day", used = c.n_day, limit = q->per_day;
		until = c.n_day >= q->per_day ? hal_local_next(wall, 0) : 0;
	} else if (q->per_month && c.n_month + pending >= q->per_month) {
		what = "per_month", used = c.n_month, limit = q->per_month;
		until = c.n_month >= q->per_month ? hal_local_next_month(wall) : 0;
	} else if (q->cost_cap_micro && c.cost >= q->cost_cap_micro) {
		what = "cost_cap", used = c.cost, limit = q->cost_cap_micro;
		until = hal_local_next_month(wall);
	}
	if (!what)
		return 0;
	if (until <= 0) /* only what is in flight reaches it: look again soon */
		return wall + PENDING_RECHECK_MS;
	if (strcmp(what, "cost_cap") == 0) {
		money_text(a, sizeof(a), used, q->currency);
		money_text(b, sizeof(b), limit, q->currency);
		snprintf(u->why, sizeof(u->why), "over quota: %s spent this month, cap %s "
			 "(accounts.%s.quota.cost_cap)", a, b, ac->name);
	} else {
		snprintf(u->why, sizeof(u->why), "over quota: %" PRIu64 " of %" PRIu64
			 " messages %s (accounts.%s.quota.%s)", used, limit,
			 what[4] == 'd' ? "today" : "this month", ac->name, what);
	}
	m->err_text = u->why;
	r = cfg_route_find(fw->cfg, m->route);
	if (r && r->over_quota == CFG_OVER_QUOTA_DROP) {
		m->state = STORE_SUPPRESSED;
		u->dropped++;
		return -1;
	}
	u->held++;
	return until;
}

/* A notice record to one of the quota's recipients, in t. */
static int notice_msg(struct fw *fw, struct store_txn *t, const struct quota_use *u,
		      const char *to, const char *what, unsigned pct, int64_t wall)
{
	const struct cfg_template *tpl = cfg_template_find(fw->cfg, u->ac->quota.notify_template);
	cJSON *vars = cJSON_CreateObject();
	char id[STORE_EVENT_ID_MAX], topic[160], p[8], *vj;
	struct store_msg m;
	int rc;

	if (!tpl || !vars) {
		cJSON_Delete(vars);
		return tpl ? ERR_NOMEM : ERR_OK;
	}
	snprintf(p, sizeof(p), "%u", pct);
	cJSON_AddStringToObject(vars, "1", u->ac->name);
	cJSON_AddStringToObject(vars, "2", what);
	cJSON_AddStringToObject(vars, "3", p);
	vj = cJSON_PrintUnformatted(vars);
	cJSON_Delete(vars);
	if (!vj)
		return ERR_NOMEM;
	snprintf(id, sizeof(id), "quota-%s-%lld-%u", u->ac->name, (long long)wall, pct);
	snprintf(topic, sizeof(topic), "outpost/%s/events", fw->cfg->gateway_id);
	memset(&m, 0, sizeof(m));
	m.state = STORE_QUEUED;
	m.created_ms = m.updated_ms = wall;
	m.event_id = id;
	m.topic = topic;
	m.route = "quota-notice";
	m.account = u->ac->name;
	m.to = to;
	m.template_name = tpl->name;
	m.content_sid = tpl->content_sid ? tpl->content_sid : "";
	m.vars_json = vj;
	m.provider_id = m.err_text = m.body = "";
	m.ttl_s = 86400;
	m.expires_ms = wall + 86400 * 1000LL;
	store_msg_set_prio(&m, STORE_PRIO_URGENT);
	rc = store_outbox_add(t, &m);
	free(vj);
	return rc;
}

/* At 80 % and 100 % of a limit (crossed by this send): log, event, notify. */
static int notices(struct fw *fw, struct store_txn *t, const struct quota_use *u,
		   const char *what, const char *words, uint64_t before, uint64_t now,
		   uint64_t limit, int64_t wall)
{
	static const unsigned at[] = {80, 100};
	int rc = ERR_OK;

	for (unsigned i = 0; rc == ERR_OK && limit && i < 2; i++) {
		uint64_t mark = (limit * at[i] + 99) / 100;
		cJSON *o;

		if (!(before < mark && now >= mark))
			continue;
		log_warn("quota: account %s at %u%% of %s (%" PRIu64 " of %" PRIu64 ")%s",
			 u->ac->name, at[i], what, now, limit,
			 at[i] == 100 ? "; messages below its exempt priority wait" : "");
		o = cJSON_CreateObject();
		if (o) {
			cJSON_AddStringToObject(o, "account", u->ac->name);
			cJSON_AddStringToObject(o, "quota", what);
			cJSON_AddNumberToObject(o, "percent", at[i]);
			cJSON_AddNumberToObject(o, "used", (double)now);
			cJSON_AddNumberToObject(o, "limit", (double)limit);
		}
		rc = fw_event_queue(fw, t, "quota", o);
		for (unsigned k = 0; rc == ERR_OK && k < u->ac->quota.n_notify; k++)
			rc = notice_msg(fw, t, u, u->ac->quota.notify_to[k], words, at[i], wall);
	}
	return rc;
}

static uint64_t configured_price(const struct fw *fw, const struct cfg_account *ac,
				 const struct store_msg *m)
{
	const struct cfg_template *tpl = cfg_template_find(fw->cfg, m->template_name);

	return cfg_quota_price(&ac->quota, tpl ? tpl->category : CFG_CAT_UTILITY, m->to);
}

int fw_quota_sent(struct fw *fw, struct store_txn *t, const char *account, uint64_t seq)
{
	struct quota_use *u = use_of(fw, account);
	int64_t wall = hal_wall_ms();
	struct counts c, b;
	struct store_msg m;
	int rc;

	if (!u)
		return ERR_OK;
	rc = store_outbox_get(t, seq, &m);
	if (rc == ERR_OK)
		rc = load(t, u->ac, wall, &c);
	if (rc != ERR_OK)
		return rc;
	b = c;
	c.n_day++;
	c.n_month++;
	c.cost += configured_price(fw, u->ac, &m);
	fw_stats_cost(fw, t, m.route, (int64_t)(c.cost - b.cost)); /* statistics' cost */
	rc = save(t, u->ac, &c);
	if (rc == ERR_OK)
		rc = notices(fw, t, u, "per_day", "messages today", b.n_day, c.n_day,
			     u->ac->quota.per_day, wall);
	if (rc == ERR_OK)
		rc = notices(fw, t, u, "per_month", "messages this month", b.n_month, c.n_month,
			     u->ac->quota.per_month, wall);
	if (rc == ERR_OK)
		rc = notices(fw, t, u, "cost_cap", "cost this month", b.cost, c.cost,
			     u->ac->quota.cost_cap_micro, wall);
	return rc;
}

int fw_quota_price(struct fw *fw, struct store_txn *t, const struct store_msg *m,
		   uint64_t micro, const char *unit)
{
	struct quota_use *u = use_of(fw, m->account);
	int64_t wall = hal_wall_ms();
	uint64_t est, before;
	struct counts c;
	int rc;

	if (!u || !u->ac->quota.currency[0] || strcasecmp(unit, u->ac->quota.currency) != 0)
		return ERR_OK; /* another currency: the configured price stays */
	rc = load(t, u->ac, wall, &c);
	est = configured_price(fw, u->ac, m);
	if (rc != ERR_OK || c.cost < est)
		return rc; /* its estimate was a month that is gone */
	before = c.cost;
	c.cost = c.cost - est + micro;
	fw_stats_cost(fw, t, m->route, (int64_t)micro - (int64_t)est);
	rc = save(t, u->ac, &c);
	if (rc == ERR_OK)
		rc = notices(fw, t, u, "cost_cap", "cost this month", before, c.cost,
			     u->ac->quota.cost_cap_micro, wall);
	return rc;
}

void fw_quota_status(const struct fw *fw, cJSON *o)
{
	struct store_txn *t = NULL;
	int64_t wall = hal_wall_ms();
	cJSON *arr;

	if (!fw->quota || !fw->quota->n || store_begin(fw->store, STORE_RDONLY, &t) != ERR_OK)
		return;
	arr = cJSON_AddArrayToObject(o, "quota");
	for (unsigned i = 0; arr && i < fw->quota->n; i++) {
		const struct quota_use *u = &fw->quota->u[i];
		const struct cfg_quota *q = &u->ac->quota;
		cJSON *a = cJSON_CreateObject();
		struct counts c = {0};

		if (!a)
			break;
		load(t, u->ac, wall, &c);
		cJSON_AddStringToObject(a, "account", u->ac->name);
		cJSON_AddNumberToObject(a, "today", (double)c.n_day);
		cJSON_AddNumberToObject(a, "per_day", q->per_day);
		cJSON_AddNumberToObject(a, "this_month", (double)c.n_month);
		cJSON_AddNumberToObject(a, "per_month", q->per_month);
		cJSON_AddNumberToObject(a, "cost", (double)c.cost / 1e6);
		cJSON_AddNumberToObject(a, "cost_cap", (double)q->cost_cap_micro / 1e6);
		cJSON_AddStringToObject(a, "currency", q->currency);
		cJSON_AddNumberToObject(a, "held", (double)u->held);
		cJSON_AddNumberToObject(a, "dropped", (double)u->dropped);
		cJSON_AddStringToObject(a, "last_held", u->why);
		cJSON_AddItemToArray(arr, a);
	}
	store_abort(t);
}
