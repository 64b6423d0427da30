/*
 * stats.c - counts per route, account and day, kept in memory until they
 * can ride along with a commit (stats.h says why and when).
 *
 * Three tiers. An op (what one change counted) is logged with the depth of
 * the transaction that made it; when that transaction ends, its ops move
 * one level up (nested commit), into the entry's `wait` (top-level commit),
 * or are dropped (abort). Transactions nest strictly, so the ops list is
 * ordered by depth and each end looks only at its tail. `wait` is what is
 * committed in the outbox but not yet in the stats DB: fw_stats_ride adds
 * it to the DB inside a commit made anyway, and fw_stats_rode clears it
 * once that commit is durable.
 *
 * Memory is bounded: at most ENTRIES_MAX (day, route, account) entries wait
 * and OPS_MAX ops are open; what does not fit is counted in `lost` and
 * logged (rate-limited), never a reason to refuse a record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/route.h"
#include "firmware/fw.h"
#include "firmware/stats.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/store.h"

#define ENTRIES_MAX 1024
#define OPS_MAX (1u << 18)
#define PRUNE_MAX 256
#define DAY_MS 86400000LL

enum { OP_COST = STORE_ST__COUNT, OP_LAT }; /* OP_LAT + STORE_LAT_*: n is a bucket */

struct op {
	uint32_t entry;
	uint8_t kind;
	uint8_t depth;
	int32_t n;
};

struct entry {
	uint32_t day;
	char route[STORE_STATS_NAME_MAX + 1], account[STORE_STATS_NAME_MAX + 1];
	struct store_stats wait;
	bool waits;
};

struct fw_stats {
	struct fw *fw;
	struct entry *e;
	unsigned n_e, cap_e;
	struct op *ops;
	unsigned n_ops, cap_ops;
	bool riding;
	bool timer_on;
	uint64_t rode_ms;    /* monotonic: the last ride (0: none yet) */
	uint32_t pruned_day; /* the day the last prune pass finished (0: none) */
	uint64_t lost;       /* counts not kept for want of memory */
	struct hal_timer alone;
	struct hal_ratelimit lost_rl;
	int64_t (*wall)(void);
};

static int64_t wall_now(const struct fw_stats *st)
{
	return st && st->wall ? st->wall() : hal_wall_ms();
}

/* The site's day (config "timezone", applied as the process's TZ by
 * firmware/schedule.c), else the UTC day. */
uint32_t fw_stats_day(const struct fw *fw, int64_t wall_ms)
{
	int64_t day, month;

	if (wall_ms <= 0)
		return 0;
	if (fw && fw->cfg && fw->cfg->timezone && hal_local_day(wall_ms, &day, &month) && day >= 0)
		return (uint32_t)day;
	return (uint32_t)(wall_ms / DAY_MS);
}

uint32_t fw_stats_today(const struct fw *fw)
{
	return fw_stats_day(fw, wall_now(fw->stats));
}

static void lost(struct fw_stats *st, const char *why)
{
	st->lost++;
	if (hal_ratelimit_ok(&st->lost_rl, 1, 60000))
		log_warn("stats: a count was not kept (%s); %llu so far", why,
			 (unsigned long long)st->lost);
}

/* The route's account when the record does not name one (a rejected
 * event, an event count). */
static const char *route_account(const struct fw *fw, const char *route, const char *account)
{
	const struct cfg_route *r;

	if (account && account[0])
		return account;
	r = route && route[0] ? cfg_route_find(fw->cfg, route) : NULL;
	return r && r->account ? r->account->name : "";
}

/* The entry of (day, route, account), made if need be; -1 if none fits. */
static int entry_of(struct fw_stats *st, uint32_t day, const char *route, const char *account)
{
	struct entry *e;

	route = route ? route : "";
	account = route_account(st->fw, route, account);
	if (strlen(route) > STORE_STATS_NAME_MAX || strlen(account) > STORE_STATS_NAME_MAX)
		return -1;
	for (unsigned i = st->n_e; i-- > 0;)
		if (st->e[i].day == day && !strcmp(st->e[i].route, route) &&
		    !strcmp(st->e[i].account, account))
			return (int)i;
	if (st->n_e == st->cap_e) {
		unsigned cap = st->cap_e ? st->cap_e * 2 : 16;

		if (cap > ENTRIES_MAX || !(e = realloc(st->e, cap * sizeof(*e))))
			return -1;
		st->e = e;
		st->cap_e = cap;
	}
	e = &st->e[st->n_e];
	memset(e, 0, sizeof(*e));
	e->day = day;
	snprintf(e->route, sizeof(e->route), "%s", route);
	snprintf(e->account, sizeof(e->account), "%s", account);
	return (int)st->n_e++;
}

static void apply(struct fw_stats *st, const struct op *o)
{
	struct entry *e = &st->e[o->entry];

	if (o->kind < STORE_ST__COUNT)
		e->wait.n[o->kind] += (uint64_t)o->n;
	else if (o->kind == OP_COST)
		e->wait.cost_micros += o->n;
	else
		e->wait.lat[o->kind - OP_LAT][o->n]++;
	e->waits = true;
}

static void arm_alone(struct fw_stats *st)
{
	if (st->timer_on && !st->alone.pending)
		hal_timer_set(st->fw->loop, &st->alone, FW_STATS_ALONE_MS);
}

static void note(struct fw_stats *st, unsigned depth, uint32_t day, const char *route,
		 const char *account, int kind, int32_t n)
{
	int i = entry_of(st, day, route, account);
	struct op o = {.kind = (uint8_t)kind, .depth = (uint8_t)depth, .n = n};

	if (i < 0) {
		lost(st, "too many routes and days waiting, or a name too long");
		return;
	}
	o.entry = (uint32_t)i;
	if (!depth) { /* no transaction: kept at once */
		apply(st, &o);
		arm_alone(st);
		return;
	}
	if (st->n_ops == st->cap_ops) {
		unsigned cap = st->cap_ops ? st->cap_ops * 2 : 256;
		struct op *ops;

		if (cap > OPS_MAX || !(ops = realloc(st->ops, cap * sizeof(*ops)))) {
			lost(st, "too many changes in one transaction");
			return;
		}
		st->ops = ops;
		st->cap_ops = cap;
	}
	st->ops[st->n_ops++] = o;
}

/* What one record's change counts (docs/ALERTING.md "Statistics"). */
static void changed(void *arg, unsigned depth, const struct store_msg *m, int old)
{
	struct fw_stats *st = arg;
	uint32_t day = fw_stats_day(st->fw, wall_now(st));
	int64_t lat = m->updated_ms - (m->attempt_ms ? m->attempt_ms : m->updated_ms);
	int kind = -1;

	switch (m->state) {
	case STORE_QUEUED: kind = old ? -1 : STORE_ST_QUEUED; break; /* a retry is no new one */
	case STORE_SENT: kind = STORE_ST_SENT; break;
	case STORE_DELIVERED: kind = STORE_ST_DELIVERED; break;
	case STORE_READ: kind = STORE_ST_READ; break;
	case STORE_UNDELIVERED: /* fall through: failed after it was sent */
	case STORE_FAILED: kind = STORE_ST_FAILED; break;
	case STORE_EXPIRED: kind = STORE_ST_EXPIRED; break;
	case STORE_REJECTED: kind = STORE_ST_REJECTED; break;
	case STORE_SUPPRESSED: kind = STORE_ST_SUPPRESSED; break;
	default: break;
	}
	if (kind < 0)
		return;
	note(st, depth, day, m->route, m->account, kind, 1);
	/* Read without a delivered status first (a status poll that came
	 * late): it was delivered too, no later than it was read. */
	if (m->state == STORE_READ && old != STORE_DELIVERED) {
		note(st, depth, day, m->route, m->account, STORE_ST_DELIVERED, 1);
		note(st, depth, day, m->route, m->account, OP_LAT + STORE_LAT_DELIVERED,
		     (int32_t)store_stats_bucket(lat));
	}
	if (m->state == STORE_DELIVERED || m->state == STORE_READ)
		note(st, depth, day, m->route, m->account,
		     OP_LAT + (m->state == STORE_READ ? STORE_LAT_READ : STORE_LAT_DELIVERED),
		     (int32_t)store_stats_bucket(lat));
}

static void ended(void *arg, unsigned depth, bool kept)
{
	struct fw_stats *st = arg;
	unsigned i = st->n_ops;
	bool any = false;

	while (i > 0 && st->ops[i - 1].depth >= depth)
		i--;
	for (unsigned k = i; k < st->n_ops; k++) {
		if (!kept)
			continue;
		if (depth > 1) {
			st->ops[k].depth = (uint8_t)(depth - 1);
			continue;
		}
		apply(st, &st->ops[k]);
		any = true;
	}
	if (!kept || depth == 1)
		st->n_ops = i;
	if (any)
		arm_alone(st);
}

void fw_stats_count(struct fw *fw, struct store_txn *t, const char *route, int kind, uint64_t n)
{
	struct fw_stats *st = fw->stats;

	if (!st || kind < 0 || kind >= STORE_ST__COUNT || !n)
		return;
	note(st, store_txn_depth(t), fw_stats_day(fw, wall_now(st)), route, NULL, kind,
	     n > INT32_MAX ? INT32_MAX : (int32_t)n);
}

void fw_stats_cost(struct fw *fw, struct store_txn *t, const char *route, int64_t micros)
{
	struct fw_stats *st = fw->stats;

	if (!st || !micros)
		return;
	if (micros > INT32_MAX || micros < -INT32_MAX) {
		lost(st, "a cost over 2147 currency units in one message");
		return;
	}
	note(st, store_txn_depth(t), fw_stats_day(fw, wall_now(st)), route, NULL, OP_COST,
	     (int32_t)micros);
}

static bool any_waits(const struct fw_stats *st)
{
	for (unsigned i = 0; i < st->n_e; i++)
		if (st->e[i].waits)
			return true;
	return false;
}

static int ride_fn(struct store_txn *c, void *arg)
{
	struct fw_stats *st = arg;
	uint32_t today = fw_stats_today(st->fw), keep = st->fw->cfg->stats.keep_days;
	unsigned pruned = PRUNE_MAX;
	int rc = ERR_OK;

	for (unsigned i = 0; i < st->n_e && rc == ERR_OK; i++)
		if (st->e[i].waits)
			rc = store_stats_add(c, st->e[i].day, st->e[i].route, st->e[i].account,
					     &st->e[i].wait);
	/* Days older than keep_days go as they age out, a pass a day. */
	if (rc == ERR_OK && today != st->pruned_day)
		rc = store_stats_prune(c, today >= keep ? today - keep + 1 : 0, PRUNE_MAX, &pruned);
	if (rc == ERR_OK && pruned < PRUNE_MAX)
		st->pruned_day = today;
	return rc;
}

static void ride(struct fw_stats *st, struct store_txn *t, bool force)
{
	uint64_t now = hal_now_ms();

	if (st->riding || (!any_waits(st) && st->pruned_day == fw_stats_today(st->fw)))
		return;
	if (!force && st->rode_ms && now - st->rode_ms < FW_STATS_RIDE_MS)
		return;
	if (store_nested_run(t, ride_fn, st) == ERR_OK) {
		st->riding = true;
		st->rode_ms = now;
	}
}

void fw_stats_ride(struct fw *fw, struct store_txn *t)
{
	if (fw->stats)
		ride(fw->stats, t, false);
}

void fw_stats_rode(struct fw *fw, int err)
{
	struct fw_stats *st = fw->stats;

	if (!st || !st->riding)
		return;
	st->riding = false;
	if (err != ERR_OK)
		return; /* it all waits for the next one */
	for (unsigned i = 0; i < st->n_e; i++) {
		memset(&st->e[i].wait, 0, sizeof(st->e[i].wait));
		st->e[i].waits = false;
	}
	if (!st->n_ops)
		st->n_e = 0; /* no op points at an entry: start afresh */
	if (st->timer_on && st->alone.pending)
		hal_timer_cancel(fw->loop, &st->alone);
}

static void ride_forced(struct fw *fw, struct store_txn *t)
{
	ride(fw->stats, t, true);
}

/* What waits in a commit of its own; ERR_OK when nothing waits. */
static int write_alone(struct fw *fw)
{
	struct fw_stats *st = fw->stats;
	unsigned riding;
	int rc;

	if (!any_waits(st) || !fw->store || fw->router.txn || fw->ingest_hold[0])
		return ERR_OK;
	riding = 1;
	rc = fw_ride_alone(fw, ride_forced, &riding);
	return rc;
}

static void on_alone(struct hal_timer *t)
{
	struct fw_stats *st = container_of(t, struct fw_stats, alone);
	int rc = write_alone(st->fw);

	if (rc != ERR_OK)
		log_warn("stats: counts could not be written (%s); they wait", hal_strerror(rc));
	if (any_waits(st))
		hal_timer_set(st->fw->loop, &st->alone, FW_STATS_ALONE_MS);
}

int fw_stats_init(struct fw *fw)
{
	struct fw_stats *st = calloc(1, sizeof(*st));

	if (!st)
		return ERR_NOMEM;
	st->fw = fw;
	st->alone.cb = on_alone;
	fw->stats = st;
	store_set_watch(fw->store, &(struct store_watch){changed, ended, st});
	return ERR_OK;
}

void fw_stats_start(struct fw *fw)
{
	if (!fw->stats)
		return;
	fw->stats->timer_on = true;
	if (any_waits(fw->stats))
		arm_alone(fw->stats);
}

void fw_stats_free(struct fw *fw)
{
	struct fw_stats *st = fw->stats;

	if (!st)
		return;
	if (st->timer_on)
		hal_timer_cancel(fw->loop, &st->alone);
	st->timer_on = false;
	if (fw->exit_code == 0 && write_alone(fw) != ERR_OK)
		log_warn("stats: the counts of the last %d s could not be written at exit",
			 FW_STATS_RIDE_MS / 1000);
	if (fw->store)
		store_set_watch(fw->store, NULL);
	free(st->e);
	free(st->ops);
	free(st);
	fw->stats = NULL;
}

void fw_stats_set_clock(struct fw *fw, int64_t (*wall_ms)(void))
{
	if (fw->stats)
		fw->stats->wall = wall_ms;
}

/* ---- reading ---- */

struct merged {
	struct entry *e;
	unsigned n, cap;
	bool nomem;
};

static int merge_in(uint32_t day, const char *route, const char *account,
		    const struct store_stats *s, void *arg)
{
	struct merged *mg = arg;
	struct entry *e;

	for (unsigned i = 0; i < mg->n; i++)
		if (mg->e[i].day == day && !strcmp(mg->e[i].route, route) &&
		    !strcmp(mg->e[i].account, account)) {
			store_stats_merge(&mg->e[i].wait, s);
			return 0;
		}
	if (mg->n == mg->cap) {
		unsigned cap = mg->cap ? mg->cap * 2 : 64;

		if (!(e = realloc(mg->e, cap * sizeof(*e)))) {
			mg->nomem = true;
			return 1;
		}
		mg->e = e;
		mg->cap = cap;
	}
	e = &mg->e[mg->n++];
	memset(e, 0, sizeof(*e));
	e->day = day;
	snprintf(e->route, sizeof(e->route), "%s", route);
	snprintf(e->account, sizeof(e->account), "%s", account);
	e->wait = *s;
	return 0;
}

int fw_stats_read(struct fw *fw, uint32_t from_day, store_stats_cb cb, void *arg)
{
	struct fw_stats *st = fw->stats;
	struct merged mg = {0};
	struct store_txn *t = NULL;
	int rc = store_begin(fw->store, STORE_RDONLY, &t);

	if (rc == ERR_OK)
		rc = store_stats_list(t, from_day, merge_in, &mg);
	store_abort(t);
	for (unsigned i = 0; st && rc == ERR_OK && i < st->n_e && !mg.nomem; i++)
		if (st->e[i].waits && st->e[i].day >= from_day)
			merge_in(st->e[i].day, st->e[i].route, st->e[i].account, &st->e[i].wait,
				 &mg);
	if (rc == ERR_OK && mg.nomem)
		rc = ERR_NOMEM;
	for (unsigned i = 0; rc == ERR_OK && i < mg.n; i++)
		if (cb(mg.e[i].day, mg.e[i].route, mg.e[i].account, &mg.e[i].wait, arg))
			break;
	free(mg.e);
	return rc;
}

static int add_total(uint32_t day, const char *route, const char *account,
		     const struct store_stats *s, void *arg)
{
	(void)day;
	(void)route;
	(void)account;
	store_stats_merge(arg, s);
	return 0;
}

void fw_stats_today_totals(struct fw *fw, struct store_stats *tot)
{
	memset(tot, 0, sizeof(*tot));
	if (fw->store)
		fw_stats_read(fw, fw_stats_today(fw), add_total, tot);
}
