/*
 * flood.c - coalescing and hourly caps at ingest.
 *
 * Coalescing, per route, key (the route's "coalesce.key" rendered for the
 * event; "" without one) and recipient: the first event goes at once and
 * opens a window; an event inside it folds into the window's digest. The
 * first to fold becomes the digest itself: its record waits, queued, until
 * the window ends. Each later one updates the digest's variables (the
 * newest event's fields, "_more" the events besides it) and keeps a
 * suppressed record of its own that names the digest. An event after the
 * window, or once its digest has left the queue, opens a new one.
 *
 * Hourly cap, per recipient over every route, in clock hours (UTC): the
 * events that pass are counted; past "max_per_hour" a route's "over_cap"
 * holds the rest to the next hour (queued, due then, not counted in it),
 * drops them (suppressed) or folds them into one digest due at the hour's
 * end, as a window of its own.
 *
 * All of it is read and written in the ingest batch's transaction, so it is
 * as durable as the records and a crash before the commit forgets nothing
 * the broker will not redeliver. Without a valid wall clock nothing is
 * folded, capped or timed: the events go as they are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/render.h"
#include "firmware/flood.h"
#include "firmware/fw.h"
#include "firmware/stats.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/store.h"

#define HOUR_MS 3600000LL
#define CAP_KEY "\x01hour" /* the key of an hourly digest's window */
#define PRUNE_EVERY_MS 60000

static bool foldable(int state)
{
	return state == STORE_QUEUED || state == STORE_RETRY;
}

/* Folds m into window f->w: m becomes its digest (due at the window's
 * end), or the digest is updated and m suppressed with where it went. */
static int fold(struct fw *fw, struct store_txn *t, struct store_msg *m, struct fw_flood *f,
		fw_flood_render render, void *arg)
{
	struct store_msg d;
	int rc;

	f->vars = render(arg, f->w.digest ? f->w.events : 0, f->why, sizeof(f->why));
	if (!f->vars) { /* this event's fields do not render: it alone is rejected */
		m->state = STORE_REJECTED;
		m->err_text = f->why;
		f->window = false;
		return ERR_OK;
	}
	f->window = true;
	fw->n.coalesced++;
	fw_stats_count(fw, t, f->route, STORE_ST_COALESCED, 1);
	if (!f->w.digest) { /* the first to fold waits for the window's end */
		m->vars_json = f->vars;
		m->due_ms = f->w.end_ms;
		m->flags |= STORE_F_DIGEST;
		f->w.events = 1;
		f->digest = true;
		return ERR_OK;
	}
	rc = store_outbox_get(t, f->w.digest, &d);
	if (rc != ERR_OK)
		return rc;
	d.vars_json = f->vars;
	d.updated_ms = m->created_ms;
	f->w.events++;
	/* Before the put: d's strings may move with it. */
	snprintf(f->why, sizeof(f->why), "coalesced into message #%" PRIu64 " (event %.80s, %" PRIu32
		 " events), sent when the window ends", f->w.digest, d.event_id, f->w.events);
	rc = store_outbox_update(t, &d);
	m->state = STORE_SUPPRESSED;
	m->flags |= STORE_F_COALESCED;
	m->err_text = f->why;
	return rc;
}

/* Reads the window of f->key for f->to; *open: it is there and ends after
 * now. A digest that left the queue meanwhile takes no more. */
static int load_window(struct store_txn *t, struct fw_flood *f, int64_t now, bool *open)
{
	struct store_msg d;
	int rc = store_window_get(t, f->route, f->key, f->to, &f->w);

	*open = false;
	if (rc == ERR_NOTFOUND)
		return ERR_OK;
	if (rc != ERR_OK || now >= f->w.end_ms)
		return rc;
	*open = true;
	if (f->w.digest && (rc = store_outbox_get(t, f->w.digest, &d)) == ERR_OK &&
	    !foldable(d.state))
		f->w.digest = 0, f->w.events = 0;
	return rc == ERR_NOTFOUND ? ERR_OK : rc;
}

static int coalesce(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
		    struct store_msg *m, struct fw_flood *f, int64_t now, fw_flood_render render,
		    void *arg)
{
	bool open;
	int rc = load_window(t, f, now, &open);

	if (rc != ERR_OK)
		return rc;
	if (open)
		return fold(fw, t, m, f, render, arg);
	/* This one goes now and opens the window. */
	f->w = (struct store_window){.end_ms = now + r->coalesce.window_s * 1000};
	f->window = true;
	return ERR_OK;
}

static int cap(struct fw *fw, struct store_txn *t, const struct cfg_route *r, struct store_msg *m,
	       struct fw_flood *f, int64_t now, fw_flood_render render, void *arg, bool *done)
{
	int64_t hour = now / HOUR_MS;
	bool open;
	uint32_t n;
	int rc = store_hour_get(t, m->to, hour, &n);

	*done = false;
	if (rc != ERR_OK || n < r->max_per_hour)
		return rc == ERR_OK ? store_hour_put(t, m->to, hour, n + 1) : rc;
	*done = true;
	fw->n.capped++;
	snprintf(f->why, sizeof(f->why), "over max_per_hour: %" PRIu32 " events to this recipient "
		 "this hour (route %s)", n, r->name);
	switch (r->over_cap) {
	case CFG_CAP_DROP:
		m->state = STORE_SUPPRESSED;
		m->err_text = f->why;
		return ERR_OK;
	case CFG_CAP_DIGEST: /* one digest at the hour's end */
		snprintf(f->key, sizeof(f->key), "%s", CAP_KEY);
		rc = load_window(t, f, now, &open);
		if (rc == ERR_OK && !open)
			f->w = (struct store_window){.end_ms = (hour + 1) * HOUR_MS};
		return rc == ERR_OK ? fold(fw, t, m, f, render, arg) : rc;
	default: /* hold: it goes at the next hour */
		m->due_ms = (hour + 1) * HOUR_MS;
		m->err_text = f->why;
		return ERR_OK;
	}
}

int fw_flood_ingest(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
		    const cJSON *event, int64_t now, struct store_msg *m,
		    fw_flood_render render, void *arg, struct fw_flood *f)
{
	char why[160];
	bool done = false;
	int rc = ERR_OK;

	memset(f, 0, sizeof(*f));
	f->route = r->name;
	snprintf(f->to, sizeof(f->to), "%s", m->to);
	if ((!r->coalesce.set && !r->max_per_hour) || !hal_clock_valid())
		return ERR_OK;
	if (r->max_per_hour)
		rc = cap(fw, t, r, m, f, now, render, arg, &done);
	if (rc != ERR_OK || done || !r->coalesce.set)
		return rc;
	if (r->coalesce.key &&
	    cfg_render(r->coalesce.key, event, f->key, sizeof(f->key), why, sizeof(why)) != ERR_OK) {
		snprintf(f->why, sizeof(f->why), "coalesce key (%.60s): %s", r->coalesce.key, why);
		m->state = STORE_REJECTED;
		m->err_text = f->why;
		return ERR_OK;
	}
	return coalesce(fw, t, r, m, f, now, render, arg);
}

int fw_flood_added(struct store_txn *t, struct fw_flood *f, uint64_t seq)
{
	if (!f->window)
		return ERR_OK;
	if (f->digest)
		f->w.digest = seq;
	return store_window_put(t, f->route, f->key, f->to, &f->w);
}

void fw_flood_done(struct fw_flood *f)
{
	cJSON_free(f->vars);
	f->vars = NULL;
}

static int prune(struct store_txn *t, void *arg)
{
	struct fw *fw = arg;
	unsigned gone = 0;

	return store_flood_prune(t, hal_wall_ms(), &fw->flood.cursor, &gone);
}

void fw_flood_ride(struct fw *fw, struct store_txn *t)
{
	uint64_t now = hal_now_ms();

	if (!hal_clock_valid() || now < fw->flood.next_prune_ms)
		return;
	fw->flood.next_prune_ms = now + PRUNE_EVERY_MS;
	if (store_nested_run(t, prune, fw) != ERR_OK)
		log_warn("flood: ended windows not dropped (again in a minute)");
}
