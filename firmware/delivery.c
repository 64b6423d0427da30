/*
 * delivery.c - applies provider statuses to sent records, and polls the
 * provider for those whose status is not final yet.
 *
 * Polling: the "poll" index (store/status.h) orders sent records by their
 * next poll time, so a turn touches only what is due, whatever the outbox
 * holds. A turn takes due entries and sends their fetches without writing
 * anything: a fetch asks, it changes nothing, so a crash before its answer
 * is recorded costs one poll again after the restart (the entry is still
 * due), and while the answer is out the entry's slot keeps later turns off
 * it. (A commit per poll to move the poll time on first cost a quarter of
 * the flash a message wrote, docs/BENCHMARKS.md.) An answer is applied
 * together with the next poll time, which follows a backoff schedule
 * (fw_poll_delay_ms) until the status is final or the message is older than
 * the account's status_poll.max_age. Answers wait in memory (DONE_MAX) and
 * ride along with the next commit the daemon makes anyway (fw_delivery_ride,
 * from the store's commit hook), or go in a commit of their own SETTLE_MS
 * after the first came: their receipts follow within that time. Until then
 * the entry stays due in the store and out of later turns; a crash costs
 * the poll again.
 *
 * An answer that changes nothing but the entry's poll count and next time
 * (still delivered, not read; a failure that asks to try again) gets no
 * commit of its own: its count and next time wait in memory (PEND_MAX)
 * and ride along with the next commit made anyway, while turns skip the
 * entry until that time. A message never read is polled about 77 times in
 * status_poll.max_age's 72 h; a commit each cost ~24 KiB of flash on a
 * quiet site (docs/BENCHMARKS.md). A crash merely polls such entries again
 * sooner. Only when the memory is full does one commit on its own.
 *
 * Fair with sends: a poll needs a token from the account's rate bucket
 * (fw_sender_poll_token), which sends get first; the fetches run in their
 * own FW_POLL_SLOTS slots of the HTTP engine.
 *
 * Ranks (net_msg_status_advances): a status is taken only if it moves the
 * record up (sent < delivered < read; failures end a message below
 * delivered), so duplicates and late arrivals change nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/consent.h"
#include "firmware/delivery.h"
#include "firmware/fw.h"
#include "firmware/quota.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/status.h"
#include "store/store.h"

#define TURN_MAX 32          /* due entries looked at per turn */
#define IDLE_MS 1000
#define NO_TOKEN_MS 250      /* sends had the tokens: look again soon */
#define FULL_RETRY_MS 1000
#define HOUR_MS (3600 * 1000)
#define HORIZON_MS (2 * HOUR_MS) /* beyond any poll time we set (1 h, or a timeout) */
#define SETTLE_MS 5000
#define DONE_MAX 64          /* answers waiting to be applied */
#define PEND_MAX 64          /* unchanged answers' next times waiting for a commit */

struct poll {
	struct net_http_req req;
	struct fw *fw;
	const struct net_provider *drv; /* static: outlives a reload */
	uint64_t seq;
	char *url;
	char *hdr[NET_HTTP_HEADERS_MAX]; /* auth headers (secrets) while req is out */
	bool busy;
};

struct answer {
	uint64_t seq;
	int64_t at_ms; /* wall clock when it came */
	struct net_status st;
};

/* An entry whose last answer changed nothing: its count and next poll
 * time, not written yet. */
struct pend {
	uint64_t seq;
	int64_t next_ms;
	unsigned polls;
};

struct fw_delivery {
	struct fw *fw;
	struct hal_timer tick, settle;
	struct poll slots[FW_POLL_SLOTS];
	unsigned inflight;
	struct answer done[DONE_MAX]; /* answers not applied yet, oldest first */
	unsigned n_done, riding;      /* the first `riding` are in a commit not yet done */
	struct pend pend[PEND_MAX];
	unsigned n_pend;
	bool pend_riding;
	uint64_t polls, poll_failures, changes, duplicates, unknown, stopped;
	struct hal_ratelimit rl;
};

int64_t fw_poll_delay_ms(unsigned polls, int64_t first_ms)
{
	static const int64_t mult[] = {1, 3, 12, 60, 180, 720};
	unsigned n = sizeof(mult) / sizeof(mult[0]);
	int64_t d = first_ms * mult[polls < n ? polls : n - 1];

	return polls >= n || d > HOUR_MS ? HOUR_MS : d;
}

/* ---- applying a status ---- */

static int net_of(int state)
{
	switch (state) {
	case STORE_SENT: return NET_ST_SENT;
	case STORE_DELIVERED: return NET_ST_DELIVERED;
	case STORE_READ: return NET_ST_READ;
	case STORE_UNDELIVERED: return NET_ST_UNDELIVERED;
	case STORE_FAILED: return NET_ST_FAILED;
	default: return NET_ST_UNKNOWN; /* not (or no longer) with the provider */
	}
}

static int store_of(int st)
{
	switch (st) {
	case NET_ST_DELIVERED: return STORE_DELIVERED;
	case NET_ST_READ: return STORE_READ;
	case NET_ST_UNDELIVERED: return STORE_UNDELIVERED;
	case NET_ST_FAILED: return STORE_FAILED;
	default: return STORE_SENT; /* queued, sending, sent: still on its way */
	}
}

/* The record's status entry, or a fresh one for a record sent before
 * status tracking existed (or with polling off). */
static int track_load(struct store_txn *t, const struct store_msg *m, struct store_track *tr)
{
	int rc = store_track_get(t, m->seq, tr);

	if (rc == ERR_NOTFOUND) {
		tr->sent_ms = m->attempt_ms ? m->attempt_ms : m->updated_ms;
		rc = ERR_OK;
	}
	return rc;
}

static void take_failure(struct store_msg *m, struct store_track *tr, const struct net_status *st)
{
	tr->code = st->code;
	if (st->text[0])
		snprintf(tr->text, sizeof(tr->text), "%.200s", st->text);
	else
		snprintf(tr->text, sizeof(tr->text), "%s by the provider, code %d",
			 net_msg_status_name(st->status), st->code);
	m->err_code = st->code;
	m->err_class = (uint8_t)st->err_class;
	m->err_text = tr->text;
}

/*
 * Moves m (and tr) to st if that advances it; writes the record and queues
 * the receipt, not the status entry (the caller sets its schedule first).
 * The provider's time of the change is kept, ours if it gave none.
 */
static int advance(struct fw *fw, struct store_txn *t, struct store_msg *m, struct store_track *tr,
		   const struct net_status *st, bool *changed)
{
	int to = store_of(st->status);
	int64_t wall = hal_wall_ms();
	bool first;
	int rc;

	*changed = false;
	if (!net_msg_status_advances(net_of(m->state), st->status) || to == m->state)
		return ERR_OK;
	if (to == STORE_UNDELIVERED || to == STORE_FAILED) {
		bool resend;

		rc = fw_consent_late(fw, t, m, st->err_class, st->code, wall, &resend);
		if (rc == ERR_OK && resend) {
			tr->next_poll_ms = 0; /* the next send starts its own */
			rc = store_outbox_update(t, m);
			if (rc == ERR_OK) /* its strings may have moved with the put */
				rc = store_outbox_get(t, m->seq, m);
			*changed = rc == ERR_OK;
			return rc;
		}
		if (rc != ERR_OK)
			return rc;
	}
	first = m->state == STORE_SENT;
	m->state = (uint8_t)to;
	m->updated_ms = wall;
	if (to == STORE_UNDELIVERED || to == STORE_FAILED)
		take_failure(m, tr, st);
	tr->at_ms[store_track_slot(to)] = st->at_ms > 0 ? st->at_ms : wall;
	if (net_msg_status_final(st->status))
		tr->next_poll_ms = 0;
	rc = store_outbox_update(t, m);
	/* Read again: the put may have rewritten the page m's strings were in. */
	if (rc == ERR_OK)
		rc = store_outbox_get(t, m->seq, m);
	/* What it cost, where the provider says it (Twilio's price, once the
	 * message has left "sent"): the configured price makes way for it. */
	if (rc == ERR_OK && first && st->price_unit[0])
		rc = fw_quota_price(fw, t, m, st->price_micro, st->price_unit);
	if (rc == ERR_OK)
		rc = fw_receipt_queue(fw, t, m, tr);
	*changed = rc == ERR_OK;
	return rc;
}

static void note_change(struct fw *fw, const struct store_msg *m, const struct net_status *st,
			const char *via)
{
	struct log_ctx ctx = {.event_id = m->event_id, .msg_seq = m->seq, .to = m->to};

	if (fw->delivery)
		fw->delivery->changes++;
	log_msg(LOG_INFO, &ctx, "delivery: message #%llu %s (%s%s%.100s)", (unsigned long long)m->seq,
		store_state_name(m->state), via, st->code ? ", " : "", st->code ? m->err_text : "");
}

int fw_delivery_apply(struct fw *fw, struct store_txn *t, const struct net_status *st,
		      bool *changed)
{
	struct fw_delivery none = {0}, *d = fw->delivery ? fw->delivery : &none;
	struct store_track tr;
	struct store_msg m;
	uint64_t seq;
	int rc;

	*changed = false;
	rc = store_sid_get(t, st->id, &seq);
	if (rc == ERR_NOTFOUND || rc == ERR_INVAL || rc == ERR_TOOBIG) {
		d->unknown++;
		return ERR_NOTFOUND;
	}
	if (rc == ERR_OK)
		rc = store_outbox_get(t, seq, &m);
	if (rc == ERR_OK)
		rc = track_load(t, &m, &tr);
	if (rc == ERR_OK && net_of(m.state) == NET_ST_UNKNOWN) {
		d->unknown++; /* sent, then taken back by a reconciliation */
		return ERR_OK;
	}
	if (rc == ERR_OK)
		rc = advance(fw, t, &m, &tr, st, changed);
	if (rc == ERR_OK && *changed)
		rc = store_track_put(t, &tr);
	if (rc == ERR_OK && *changed)
		note_change(fw, &m, st, "relayed webhook");
	else if (rc == ERR_OK)
		d->duplicates++;
	return rc;
}

/* Polling for an account: on, with a driver that can fetch a status. */
static const struct cfg_account *poll_account(struct fw *fw, const char *name,
					      struct fw_account_view *v)
{
	const struct cfg_account *ca = cfg_account_find(fw->cfg, name);

	if (!ca || !ca->poll.enabled || !fw_sender_account(fw, name, v) || !v->drv->status_url ||
	    !v->drv->status_read)
		return NULL;
	return ca;
}

int fw_delivery_sent(struct fw *fw, struct store_txn *t, uint64_t seq)
{
	struct store_track tr = {.seq = seq};
	struct fw_account_view v;
	const struct cfg_account *ca;
	struct store_msg m;
	int rc = store_outbox_get(t, seq, &m);

	if (rc != ERR_OK)
		return rc;
	ca = poll_account(fw, m.account, &v);
	tr.sent_ms = hal_wall_ms();
	tr.at_ms[STORE_AT_SENT] = tr.sent_ms;
	if (ca)
		tr.next_poll_ms = tr.sent_ms + fw_poll_delay_ms(0, ca->poll.first_s * 1000);
	rc = store_track_put(t, &tr);
	if (rc == ERR_OK)
		rc = fw_receipt_queue(fw, t, &m, &tr);
	if (rc == ERR_OK && fw->delivery && ca) /* the tick may be asleep for long */
		hal_timer_set(fw->loop, &fw->delivery->tick, 0);
	return rc;
}

int fw_delivery_ended(struct fw *fw, struct store_txn *t, uint64_t seq)
{
	struct store_track tr = {.seq = seq};
	struct store_msg m;
	int rc = store_outbox_get(t, seq, &m);

	if (rc != ERR_OK)
		return rc;
	tr.at_ms[store_track_slot(m.state)] = hal_wall_ms();
	return fw_receipt_queue(fw, t, &m, &tr);
}

/* ---- polling ---- */

static void poll_release(struct poll *p)
{
	free(p->url);
	p->url = NULL;
	net_http_headers_free(p->hdr, NET_HTTP_HEADERS_MAX);
	p->busy = false;
}

/* Turns never take more than DONE_MAX can hold (poll_room). */
static void on_poll_done(struct net_http_req *req, const struct net_http_result *res)
{
	struct poll *p = container_of(req, struct poll, req);
	struct fw *fw = p->fw;
	struct fw_delivery *d = fw->delivery;
	struct answer *a = &d->done[d->n_done++];

	fw_uplink_note(fw, res);
	a->seq = p->seq;
	a->at_ms = hal_wall_ms();
	p->drv->status_read(res, &a->st);
	poll_release(p);
	d->inflight--;
	if (!d->settle.pending)
		hal_timer_set(fw->loop, &d->settle, d->n_done > DONE_MAX / 2 ? 0 : SETTLE_MS);
	if (!d->tick.pending)
		hal_timer_set(fw->loop, &d->tick, 0); /* a slot is free */
}

/* Whether the entry goes on being polled, and when next. */
/* `wall`: when the entry was polled (its answer may be applied later). */
static void reschedule(struct fw *fw, const struct store_msg *m, struct store_track *tr,
		       const char *why, int64_t wall)
{
	struct fw_account_view v;
	const struct cfg_account *ca = poll_account(fw, m->account, &v);

	if (net_msg_status_final(net_of(m->state)) || net_of(m->state) == NET_ST_UNKNOWN) {
		tr->next_poll_ms = 0;
		return;
	}
	if (!ca || wall - tr->sent_ms > ca->poll.max_age_s * 1000 || why) {
		if (!why)
			why = ca ? "no final status within status_poll.max_age" :
				   "status polling is off for its account";
		snprintf(tr->text, sizeof(tr->text), "%s", why);
		tr->next_poll_ms = 0;
		fw->delivery->stopped++;
		return;
	}
	tr->next_poll_ms = wall + fw_poll_delay_ms(tr->polls, ca->poll.first_s * 1000);
}

static struct pend *pend_find(struct fw_delivery *d, uint64_t seq)
{
	for (unsigned i = 0; i < d->n_pend; i++)
		if (d->pend[i].seq == seq)
			return &d->pend[i];
	return NULL;
}

/* Whether answer p leaves m as it is, moving only its entry's poll count
 * and next time (the cases below are settle_poll's and reschedule's). */
static bool quiet_answer(struct fw *fw, const struct store_msg *m, const struct store_track *tr,
			 const struct answer *p)
{
	struct fw_account_view v;
	const struct cfg_account *ca;
	int now = net_of(m->state);

	if (net_msg_status_final(now) || now == NET_ST_UNKNOWN)
		return false;
	ca = poll_account(fw, m->account, &v);
	if (!ca || p->at_ms - tr->sent_ms > ca->poll.max_age_s * 1000)
		return false; /* polling stops: that is written */
	if (p->st.cls == NET_OK)
		return strcmp(p->st.id, m->provider_id) == 0 &&
		       (!net_msg_status_advances(now, p->st.status) || store_of(p->st.status) == m->state);
	return p->st.cls != NET_PERMANENT;
}

/*
 * One answer into t: the status if it came, the next poll time either way.
 * With `defer` (t read-only): an answer that changes nothing but the
 * entry's count and next time fills *defer instead (seq 0: nothing to
 * keep), anything else is ERR_AGAIN and untouched.
 */
static int settle_poll(struct fw *fw, struct store_txn *t, const struct answer *p,
		       struct pend *defer)
{
	struct fw_delivery *d = fw->delivery;
	struct store_track tr;
	struct store_msg m;
	struct pend *pe;
	const char *stop = NULL;
	char other[160];
	bool changed = false;
	int rc = store_outbox_get(t, p->seq, &m);

	if (rc == ERR_NOTFOUND) {
		if (defer)
			defer->seq = 0;
		return ERR_OK; /* purged meanwhile: its entry went with it */
	}
	if (rc == ERR_OK)
		rc = track_load(t, &m, &tr);
	if (rc != ERR_OK)
		return rc;
	pe = pend_find(d, p->seq);
	if (pe && pe->polls > tr.polls)
		tr.polls = pe->polls; /* polls not written yet */
	if (defer && !quiet_answer(fw, &m, &tr, p))
		return ERR_AGAIN;
	d->polls++;
	tr.polls++;
	if (p->st.cls == NET_OK && strcmp(p->st.id, m.provider_id) == 0) {
		rc = advance(fw, t, &m, &tr, &p->st, &changed);
		if (rc == ERR_OK && changed)
			note_change(fw, &m, &p->st, "polled");
	} else {
		d->poll_failures++;
		/* No such message, a reply we cannot read, or one about another
		 * message: asking again will not do better. A reply about another
		 * message is not applied, and its error text is that message's,
		 * not ours: say which message it was about instead. */
		if (p->st.cls == NET_OK) {
			snprintf(other, sizeof(other), "the reply was about %.64s, not %.64s",
				 p->st.id, m.provider_id);
			stop = other;
		} else if (p->st.cls == NET_PERMANENT) {
			stop = p->st.text;
		}
		if (hal_ratelimit_ok(&d->rl, 5, 60000))
			log_warn("delivery: status of message #%llu not had: %s%s",
				 (unsigned long long)m.seq, stop ? stop : p->st.text,
				 stop ? "; polling stops" : "");
	}
	if (rc != ERR_OK)
		return rc;
	reschedule(fw, &m, &tr, stop, p->at_ms);
	if (defer) {
		*defer = (struct pend){.seq = p->seq, .next_ms = tr.next_poll_ms, .polls = tr.polls};
		return ERR_OK;
	}
	return store_track_put(t, &tr);
}

/* A kept count and next time into t, unless the entry stopped or ended
 * meanwhile (next time 0) or went. */
static int pend_write(struct store_txn *t, const struct pend *pe)
{
	struct store_track tr;
	int rc = store_track_get(t, pe->seq, &tr);

	if (rc == ERR_NOTFOUND || (rc == ERR_OK && !tr.next_poll_ms))
		return ERR_OK;
	if (rc != ERR_OK)
		return rc;
	if (pe->polls > tr.polls)
		tr.polls = pe->polls;
	tr.next_poll_ms = pe->next_ms;
	return store_track_put(t, &tr);
}

/* What waits, into t in a nested txn; done when t's commit is
 * (fw_delivery_rode). */
static int settle_all(struct store_txn *t, void *arg)
{
	struct fw_delivery *d = arg;
	int rc = ERR_OK;

	for (unsigned i = 0; rc == ERR_OK && i < d->n_pend; i++)
		rc = pend_write(t, &d->pend[i]);
	for (unsigned i = 0; rc == ERR_OK && i < d->n_done; i++)
		rc = settle_poll(d->fw, t, &d->done[i], NULL);
	return rc;
}

void fw_delivery_ride(struct fw *fw, struct store_txn *t)
{
	struct fw_delivery *d = fw->delivery;

	if (d && !d->riding && !d->pend_riding && (d->n_done || d->n_pend) &&
	    store_nested_run(t, settle_all, d) == ERR_OK) {
		d->riding = d->n_done;
		d->pend_riding = d->n_pend != 0;
	}
}

void fw_delivery_rode(struct fw *fw, int err)
{
	struct fw_delivery *d = fw->delivery;

	if (!d || (!d->riding && !d->pend_riding))
		return;
	if (err == ERR_OK && d->pend_riding)
		d->n_pend = 0;
	if (err == ERR_OK && d->riding) {
		d->n_done -= d->riding;
		memmove(d->done, d->done + d->riding, d->n_done * sizeof(d->done[0]));
		if (!d->n_done && d->settle.pending)
			hal_timer_cancel(fw->loop, &d->settle);
		fw_receipts_kick(fw);
		if (!d->tick.pending)
			hal_timer_set(fw->loop, &d->tick, 0);
	}
	d->riding = 0;
	d->pend_riding = false;
}

/* Whether a kept next time still holds the entry back: a wall clock set
 * back past the horizon makes it due now (as pull_back does for the store). */
static bool pend_waits(const struct pend *pe, int64_t wall)
{
	return pe->next_ms > wall && pe->next_ms <= wall + HORIZON_MS;
}

/* The earliest kept next time still ahead, -1 if none. */
static int64_t pend_next(const struct fw_delivery *d, int64_t wall)
{
	int64_t at = -1;

	for (unsigned i = 0; i < d->n_pend; i++)
		if (pend_waits(&d->pend[i], wall) && (at < 0 || d->pend[i].next_ms < at))
			at = d->pend[i].next_ms;
	return at;
}

/* Moves the answers that change nothing but their entry's schedule from
 * done to pend, looking in a read-only txn: no commit for them. */
static int defer_quiet(struct fw_delivery *d)
{
	struct store_txn *t;
	unsigned kept = 0;
	int64_t at;
	int rc;

	if (d->riding || d->n_pend >= PEND_MAX)
		return ERR_OK;
	rc = store_begin(d->fw->store, STORE_RDONLY, &t);
	if (rc != ERR_OK)
		return rc;
	for (unsigned i = 0; i < d->n_done; i++) {
		struct pend pe, *o;
		int r = d->n_pend < PEND_MAX ? settle_poll(d->fw, t, &d->done[i], &pe) : ERR_AGAIN;

		if (r == ERR_OK) {
			if (pe.seq && !(o = pend_find(d, pe.seq)))
				o = &d->pend[d->n_pend++];
			if (pe.seq)
				*o = pe;
			continue;
		}
		if (r != ERR_AGAIN)
			rc = r;
		d->done[kept++] = d->done[i];
	}
	d->n_done = kept;
	store_abort(t);
	/* The tick may sleep past the kept times (the store's are earlier,
	 * already taken). */
	at = pend_next(d, hal_wall_ms());
	if (at >= 0 && (!d->tick.pending || hal_timer_remaining(&d->tick) > at - hal_wall_ms()))
		hal_timer_set(d->fw->loop, &d->tick, (uint64_t)(at - hal_wall_ms()));
	return rc;
}

/* The answers, in a commit of their own (log records and receipt deletes
 * ride along), but for those that change nothing but a poll time. */
static void on_settle(struct hal_timer *timer)
{
	struct fw_delivery *d = container_of(timer, struct fw_delivery, settle);
	int rc = defer_quiet(d);

	if (rc == ERR_OK && !d->n_done)
		return;
	rc = fw_ride_alone(d->fw, fw_delivery_ride, &d->riding);

	if (rc == ERR_FULL) {
		hal_timer_set(d->fw->loop, &d->settle, FULL_RETRY_MS);
		return;
	}
	if (rc != ERR_OK)
		fw_fatal(d->fw, "recording delivery statuses", rc);
}

static struct poll *slot_free(struct fw_delivery *d)
{
	for (unsigned i = 0; i < FW_POLL_SLOTS; i++)
		if (!d->slots[i].busy)
			return &d->slots[i];
	return NULL;
}

/* Its fetch is out, its answer waits to be applied, or its kept next time
 * is ahead. */
static bool polling(const struct fw_delivery *d, uint64_t seq)
{
	for (unsigned i = 0; i < FW_POLL_SLOTS; i++)
		if (d->slots[i].busy && d->slots[i].seq == seq)
			return true;
	for (unsigned i = 0; i < d->n_done; i++)
		if (d->done[i].seq == seq)
			return true;
	for (unsigned i = 0; i < d->n_pend; i++)
		if (d->pend[i].seq == seq)
			return pend_waits(&d->pend[i], hal_wall_ms());
	return false;
}

/* Fetches a turn may start: free slots, and room for their answers. */
static unsigned poll_room(const struct fw_delivery *d)
{
	unsigned free = FW_POLL_SLOTS - d->inflight, left = DONE_MAX - d->n_done - d->inflight;

	return free < left ? free : left;
}

/*
 * One due entry inside t: a fetch for it if its account has a token (t is
 * not written, see the top), stopped if it cannot be polled, left due if
 * sends had the tokens or its fetch is out already.
 */
static int take_one(struct fw_delivery *d, struct store_txn *t, uint64_t seq, bool *no_token)
{
	struct fw *fw = d->fw;
	struct fw_account_view v;
	struct store_track tr;
	struct store_msg m;
	struct poll *p;
	int rc;

	if (polling(d, seq))
		return ERR_OK;
	rc = store_outbox_get(t, seq, &m);
	if (rc == ERR_OK)
		rc = track_load(t, &m, &tr);
	if (rc != ERR_OK)
		return rc;
	if (!poll_account(fw, m.account, &v) || net_of(m.state) == NET_ST_UNKNOWN ||
	    net_msg_status_final(net_of(m.state))) {
		reschedule(fw, &m, &tr, NULL, hal_wall_ms());
		return store_track_put(t, &tr);
	}
	if (!fw_sender_poll_token(fw, m.account)) {
		*no_token = true;
		return ERR_OK;
	}
	p = slot_free(d);
	*p = (struct poll){.fw = fw, .drv = v.drv, .seq = seq, .busy = true};
	rc = v.drv->status_url(v.msg, m.provider_id, &p->url);
	if (rc != ERR_OK) {
		poll_release(p);
		reschedule(fw, &m, &tr, "its provider id cannot be polled", hal_wall_ms());
		return store_track_put(t, &tr);
	}
	p->req = (struct net_http_req){
		.method = NET_HTTP_GET, .url = p->url, .ca_file = v.ca_file, .done = on_poll_done,
	};
	rc = net_provider_auth(v.drv, v.msg, false, &p->req, p->hdr);
	if (rc != ERR_OK) {
		poll_release(p);
		if (rc == ERR_NOMEM)
			return rc;
		reschedule(fw, &m, &tr, "its account's credentials cannot be put on a request", hal_wall_ms());
		return store_track_put(t, &tr);
	}
	d->inflight++;
	return ERR_OK;
}

static void submit_taken(struct fw_delivery *d, bool was_busy[FW_POLL_SLOTS])
{
	for (unsigned i = 0; i < FW_POLL_SLOTS; i++) {
		struct poll *p = &d->slots[i];

		if (!p->busy || was_busy[i])
			continue;
		if (net_http_submit(d->fw->http, &p->req) != ERR_OK) {
			struct net_http_result res = {.err = ERR_CONN};
			snprintf(res.error, sizeof(res.error), "status request not submitted");
			on_poll_done(&p->req, &res);
		}
	}
}

/*
 * Poll times are wall clock (they survive restarts), so a clock that was
 * ahead and was set back leaves them far in the future. None we set is more
 * than an hour and a request timeout away: later ones are brought to now.
 */
static void pull_back(struct fw *fw, int64_t wall)
{
	uint64_t seqs[TURN_MAX];
	struct store_track tr;
	struct store_txn *t;
	unsigned n = 0, moved = 0;
	int64_t next;
	int rc = store_begin(fw->store, 0, &t);

	if (rc == ERR_OK)
		rc = store_poll_due(t, INT64_MAX, TURN_MAX, seqs, &n, &next);
	for (unsigned i = 0; rc == ERR_OK && i < n; i++) {
		rc = store_track_get(t, seqs[i], &tr);
		if (rc != ERR_OK || tr.next_poll_ms <= wall + HORIZON_MS)
			continue;
		tr.next_poll_ms = wall;
		rc = store_track_put(t, &tr);
		moved += rc == ERR_OK;
	}
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc == ERR_OK && moved)
		log_warn("delivery: %u status polls were set by a wall clock that was ahead; due now",
			 moved);
	else if (rc != ERR_OK && rc != ERR_FULL)
		fw_fatal(fw, "bringing poll times back to now", rc);
}

static void on_tick(struct hal_timer *timer)
{
	struct fw_delivery *d = container_of(timer, struct fw_delivery, tick);
	struct fw *fw = d->fw;
	bool was_busy[FW_POLL_SLOTS], no_token = false;
	uint64_t seqs[TURN_MAX + PEND_MAX];
	int64_t next = -1, wait, at;
	unsigned n = 0, room = poll_room(d), want = TURN_MAX + d->n_pend; /* kept ones come too */
	struct store_txn *t;
	int rc;

	if (fw->stopping)
		return;
	if (!hal_clock_valid() || !room) {
		hal_timer_set(fw->loop, &d->tick, IDLE_MS);
		return;
	}
	for (unsigned i = 0; i < FW_POLL_SLOTS; i++)
		was_busy[i] = d->slots[i].busy;
	rc = store_begin(fw->store, 0, &t);
	if (rc == ERR_OK)
		rc = store_poll_due(t, hal_wall_ms(), want, seqs, &n, &next);
	for (unsigned i = 0; rc == ERR_OK && i < n && poll_room(d); i++)
		rc = take_one(d, t, seqs[i], &no_token);
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc != ERR_OK) {
		for (unsigned i = 0; i < FW_POLL_SLOTS; i++)
			if (d->slots[i].busy && !was_busy[i]) {
				poll_release(&d->slots[i]);
				d->inflight--;
			}
		if (rc != ERR_FULL)
			fw_fatal(fw, "taking due status polls", rc);
		hal_timer_set(fw->loop, &d->tick, FULL_RETRY_MS);
		return;
	}
	submit_taken(d, was_busy);
	if (next > hal_wall_ms() + HORIZON_MS)
		pull_back(fw, hal_wall_ms());
	/* Asleep until the next entry is due, however far: a turn is a txn,
	 * and even one that writes nothing dirties a page of lmdb's lock file.
	 * A send adds entries and wakes it (fw_delivery_sent), an answer too;
	 * nothing else adds any. A wall clock set forward makes a poll late
	 * by at most that much, never lost. */
	if (no_token)
		wait = NO_TOKEN_MS;
	else if (n == want && poll_room(d))
		wait = 0;
	else if ((at = pend_next(d, hal_wall_ms())) >= 0 && (next < 0 || at < next))
		wait = at - hal_wall_ms();
	else if (next < 0)
		return;
	else
		wait = next - hal_wall_ms();
	hal_timer_set(fw->loop, &d->tick, wait < 0 ? 0 : (uint64_t)wait);
}

int fw_delivery_init(struct fw *fw)
{
	struct fw_delivery *d = calloc(1, sizeof(*d));

	if (!d)
		return ERR_NOMEM;
	d->fw = fw;
	d->tick.cb = on_tick;
	d->settle.cb = on_settle;
	fw->delivery = d;
	hal_timer_set(fw->loop, &d->tick, 0);
	return ERR_OK;
}

/* After net_http_free: fetches still out have ended there (ERR_CLOSED).
 * They, and answers not applied yet, are simply polled again after a
 * restart. */
void fw_delivery_free(struct fw *fw)
{
	struct fw_delivery *d = fw->delivery;

	if (!d)
		return;
	hal_timer_cancel(fw->loop, &d->tick);
	hal_timer_cancel(fw->loop, &d->settle);
	for (unsigned i = 0; i < FW_POLL_SLOTS; i++)
		poll_release(&d->slots[i]);
	free(d);
	fw->delivery = NULL;
}

void fw_delivery_show(struct store_txn *t, uint64_t seq, cJSON *o)
{
	static const char *const names[STORE_AT__N] = {
		[STORE_AT_SENT] = "sent_ms", [STORE_AT_DELIVERED] = "delivered_ms",
		[STORE_AT_READ] = "read_ms", [STORE_AT_FAILED] = "failed_ms",
	};
	struct store_track tr;
	cJSON *d;

	if (!o || store_track_get(t, seq, &tr) != ERR_OK)
		return;
	d = cJSON_AddObjectToObject(o, "delivery");
	for (int i = 0; i < STORE_AT__N; i++)
		cJSON_AddNumberToObject(d, names[i], (double)tr.at_ms[i]);
	cJSON_AddNumberToObject(d, "polls", tr.polls);
	cJSON_AddNumberToObject(d, "next_poll_ms", (double)tr.next_poll_ms);
	cJSON_AddNumberToObject(d, "code", tr.code);
	cJSON_AddStringToObject(d, "text", tr.text);
}

bool fw_delivery_idle(const struct fw *fw)
{
	return !fw->delivery || fw->delivery->inflight == 0;
}

void fw_delivery_status(const struct fw *fw, cJSON *o)
{
	const struct fw_delivery *d = fw->delivery;

	if (!d || !o)
		return;
	cJSON_AddNumberToObject(o, "polls", (double)d->polls);
	cJSON_AddNumberToObject(o, "poll_failures", (double)d->poll_failures);
	cJSON_AddNumberToObject(o, "polls_in_flight", d->inflight);
	cJSON_AddNumberToObject(o, "polls_kept", d->n_pend);
	cJSON_AddNumberToObject(o, "changes", (double)d->changes);
	cJSON_AddNumberToObject(o, "duplicates", (double)d->duplicates);
	cJSON_AddNumberToObject(o, "unknown_ids", (double)d->unknown);
	cJSON_AddNumberToObject(o, "polling_stopped", (double)d->stopped);
}
