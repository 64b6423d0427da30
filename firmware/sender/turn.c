/*
 * sender/turn.c - picking and pacing: which due records go now, to which
 * account, and how fast.
 *
 * A tick (or a flush, outcome.c, in the transaction of its outcomes, or an
 * ingest commit, fw_sender_ride) takes no more due records than there are
 * free slots and tokens, and admit decides each: it goes now (to its
 * route's account or that account's fallback), or it expires, waits for a
 * template or for the link, or is due again later (account paused, no
 * token, no in-flight room). Those that go are marked SENDING in one
 * commit, and only then are their requests submitted. Each account has a
 * token bucket (its rate) and an in-flight limit that follows the
 * provider's answer time (fw_snd_adapt, fw_snd_paced; docs/RETRY.md,
 * pace); status polls take tokens from the same bucket, after the sends.
 * The tick also holds every send while the wall clock is invalid, and
 * brings back due times a clock set back left far ahead.
 *
 * Also here: the request pool, and a request's done callback, which only
 * queues the outcome. What an outcome does to its record is outcome.c's;
 * what an outage does (held records, probes, release) is link.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "firmware/account.h"
#include "firmware/consent.h"
#include "firmware/delivery.h"
#include "firmware/escalate.h"
#include "firmware/fw.h"
#include "firmware/quota.h"
#include "firmware/schedule.h"
#include "firmware/sender/sender.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define IDLE_RECHECK_MS 1000
/* Outcomes are committed once the loop has taken in every answer that is
 * there (hal_timer_idle), and never later than this after the first. */
#define FLUSH_MAX_MS 3
/* Answers weigh 1/8 each in the smoothed time (as TCP's SRTT). */
#define ANSWER_WEIGHT 0.125

/*
 * The account's in-flight limit: its rate times the smoothed answer time is
 * how many requests are out at once when it sends at its rate (Little's
 * law); a quarter more and two spare absorb jitter. Never more than the
 * pool (sender.max_inflight): past that the cap, not the rate, limits, and
 * status says so. Reached by slow start, as TCP's window is: from
 * RAMP_START, one more per answer (doubling each answer time), halved by
 * an attempt that got no answer - so a backlog does not open a hundred
 * TLS handshakes at once against a server that then times them out. And
 * one more only while fewer than RAMP_CONNECTING requests wait for a
 * connection: over HTTP/1.1 each step up is a new connection, and against
 * a provider that answers in a millisecond the doubling alone started
 * ~124 handshakes in a few answer times, which then shared the CPU until
 * most of them were done (4-9 s with almost nothing sent on the bench's
 * two shared cores, past a 2 s connect timeout). A few at a time, the connections already open
 * keep sending meanwhile.
 */
void fw_snd_adapt(struct account *a, unsigned cap)
{
	double want = a->rate * a->answer_ms / 1000.0 * 1.25 + 2.0;
	unsigned target = want > (double)cap ? cap : want < 1.0 ? 1 : (unsigned)want;

	a->capped = want > (double)cap;
	if (a->ramp > (target > RAMP_START ? target : RAMP_START))
		a->ramp = target > RAMP_START ? target : RAMP_START;
	a->limit = target < a->ramp ? target : a->ramp;
}

/* Token bucket: refills continuously at `rate`, holds at most `burst`. */
static void refill(struct account *a, uint64_t now)
{
	a->tokens += (double)(now - a->refilled_ms) * a->rate / 1000.0;
	if (a->tokens > a->burst)
		a->tokens = a->burst;
	a->refilled_ms = now;
}

/* ms until the account has a whole token; call after refill(). */
static uint64_t token_wait(const struct account *a)
{
	return a->tokens >= 1.0 ? 0 : (uint64_t)((1.0 - a->tokens) * 1000.0 / a->rate) + 1;
}

static bool take_token(struct account *a, uint64_t now, uint64_t *wait_ms)
{
	refill(a, now);
	*wait_ms = token_wait(a);
	if (*wait_ms)
		return false;
	a->tokens -= 1.0;
	return true;
}

/*
 * Whole tokens available now over the accounts that may send, so a turn
 * takes no more records than can go out: a record taken and put back costs a
 * write, and with a backlog behind a rate limit that would be every record,
 * over and over. *wait_ms says when the next token comes if there is none.
 */
static unsigned tokens_now(struct fw_sender *s, uint64_t now, uint64_t *wait_ms)
{
	unsigned total = 0;

	*wait_ms = IDLE_RECHECK_MS;
	for (struct account *a = s->accounts; a; a = a->next) {
		uint64_t w = IDLE_RECHECK_MS;

		if (a->paused_until > now)
			continue;
		refill(a, now);
		w = token_wait(a);
		if (!w && a->inflight + a->queued < 2 * a->limit) {
			unsigned n = (unsigned)a->tokens, free = 2 * a->limit - a->inflight - a->queued;

			total += n < free ? n : free;
		}
		*wait_ms = w && w < *wait_ms ? w : *wait_ms;
	}
	return total;
}

struct ctx *fw_snd_ctx_get(struct fw_sender *s)
{
	for (unsigned i = 0; i < s->pool_n; i++)
		if (!s->pool[i].busy)
			return &s->pool[i];
	return NULL;
}

void fw_snd_ctx_release(struct ctx *c)
{
	net_http_headers_free(c->hdr, NET_HTTP_HEADERS_MAX);
	free(c->url);
	free(c->body);
	c->url = c->body = NULL;
	fw_recon_free(&c->recon);
	c->reconciling = c->probing = false;
	c->sent_ms = 0;
	c->step = 0;
	c->busy = c->done = false;
	c->ready = c->undo = false;
	c->next_done = c->next_ready = NULL;
}

/* A list page came back: walk it, and fetch the next one if need be.
 * false while another page is on its way. */
static bool recon_page(struct ctx *c, const struct net_http_result *res)
{
	struct account *a = c->acct;
	char *next = NULL;

	if (!a) {
		c->step = FW_RECON_FAILED;
		c->out = (struct net_send_outcome){.cls = NET_TRANSIENT};
		return true;
	}
	c->step = fw_recon_page(&c->recon, c->fw->store, &c->fw->walks, a->drv, a->msg.api_base, res, &next,
				&c->out);
	if (c->step != FW_RECON_MORE)
		return true;
	free(c->url);
	c->req.url = c->url = next;
	if (net_http_submit(c->fw->http, &c->req) == ERR_OK)
		return false;
	c->step = FW_RECON_FAILED;
	c->out = (struct net_send_outcome){.cls = NET_TRANSIENT};
	snprintf(c->out.text, sizeof(c->out.text), "could not ask for the next list page");
	return true;
}

void fw_snd_on_done(struct net_http_req *req, const struct net_http_result *res)
{
	struct ctx *c = container_of(req, struct ctx, req);
	struct fw_sender *s = c->fw->sender;

	if (c->build_rc == ERR_OK) /* a request that was never made says nothing of the link */
		fw_uplink_note(c->fw, res);
	c->answer_ms = res->err == ERR_OK && c->sent_ms ? (int64_t)(hal_now_ms() - c->sent_ms) : -1;
	if (c->probing) {
		/* Any answer but a 5xx: the provider is there (a refusal of
		 * the credentials is the account's matter, not the link's). */
		c->out = (struct net_send_outcome){.cls = res->err == ERR_OK && res->status < 500
							  ? NET_OK : NET_TRANSIENT};
	} else if (c->reconciling) {
		if (!recon_page(c, res))
			return;
	} else if (c->acct && c->build_rc == ERR_INVAL) {
		/* The provider's driver refused this record (template mapping,
		 * variables, recipient): it never will take it. */
		c->out = (struct net_send_outcome){.cls = NET_PERMANENT};
		snprintf(c->out.text, sizeof(c->out.text), "%s", res->error);
	} else if (c->acct) {
		c->acct->drv->outcome(res, &c->out);
	} else {
		c->out = (struct net_send_outcome){.cls = NET_TRANSIENT};
	}
	c->done = true;
	c->next_done = s->done_head;
	s->done_head = c;
	if (!c->probing) {
		s->out--;
		if (c->acct)
			fw_snd_paced(s, c);
		if (c->acct && !c->reconciling)
			c->acct->answered++; /* until its outcome is committed: quota.c */
		/* Refused credentials: paused before a ready record of the same
		 * account takes the slot with them (the pause is in memory; the
		 * commit records the refusal). */
		if (c->acct && !c->reconciling && c->out.cls == NET_AUTH)
			fw_snd_pause(c->fw, c->acct, &c->out);
	}
	/* The answers the loop has in hand share one commit. */
	if (!s->flush.pending)
		hal_timer_idle(c->fw->loop, &s->flush, FLUSH_MAX_MS);
	/* Its slot is free: the next ready record goes now, not after the
	 * commit. */
	fw_snd_launch_ready(s);
}

/* Builds the request while the record is at hand (its strings point into
 * the map and die with the transaction); it is sent only after the commit. */
static void build(struct ctx *c, const struct store_msg *m)
{
	struct net_send_msg msg = c->acct->msg;

	msg.to = m->to;
	msg.content_sid = m->content_sid;
	msg.vars_json = m->vars_json;
	fw_account_template(&msg, c->fw->cfg, m->template_name);
	if (m->flags & STORE_F_FREEFORM) { /* inside the 24 h window (consent.c) */
		msg.body = m->body;
		msg.content_sid = msg.vars_json = NULL;
	}
	c->reconciling = (m->flags & STORE_F_RECONCILE) != 0;
	if (!c->reconciling) {
		c->build_rc = c->acct->drv->build(&msg, &c->url, &c->body);
		return;
	}
	c->build_rc = c->acct->drv->list_url(&msg, &c->url);
	if (c->build_rc == ERR_OK)
		c->build_rc = fw_recon_start(&c->recon, m, c->acct->msg.from);
}

static void send_built(struct fw_sender *s, struct ctx *c)
{
	int rc = c->build_rc;

	if (rc == ERR_OK) {
		c->req = (struct net_http_req){
			.method = c->reconciling ? NET_HTTP_GET : NET_HTTP_POST, .url = c->url,
			.body = c->body, .body_len = c->body ? strlen(c->body) : 0,
			.ca_file = c->acct->ca_file, .done = fw_snd_on_done,
		};
		rc = net_provider_auth(c->acct->drv, &c->acct->msg, !c->reconciling, &c->req,
				       c->hdr);
		c->sent_ms = hal_now_ms();
		if (rc == ERR_OK)
			rc = net_http_submit(s->fw->http, &c->req);
	}
	if (rc != ERR_OK) {
		/* Nothing left the machine: a plain retry, not ambiguous. */
		struct net_http_result res = {.err = ERR_CONN};
		snprintf(res.error, sizeof(res.error), "request not submitted: %s", hal_strerror(rc));
		if (c->build_rc == ERR_INVAL)
			snprintf(res.error, sizeof(res.error), "the %s driver cannot make a request "
				 "of this message (template mapping, variables or recipient)",
				 c->acct ? c->acct->drv->name : "?");
		fw_snd_on_done(&c->req, &res);
	}
}

/* Whether fallback f can take record m for its primary account. */
static bool can_take(const struct fw_sender *s, struct account *f, const struct store_msg *m,
		     uint64_t now)
{
	const struct cfg_template *t = cfg_template_find(s->fw->cfg, m->template_name);

	return f && f->paused_until <= now && t && cfg_template_usable(t, f->cfg) &&
	       fw_breaker_admit(&f->breaker, now);
}

/* The account a record goes to now: its route's account, or that account's
 * fallback while its breaker is open (docs/WHATSAPP.md, failover). A record
 * to be reconciled asks the account of its last attempt. *down: the
 * account's provider is not answering and nothing else can take it. */
static struct account *pick_account(struct fw_sender *s, const struct store_msg *m,
				    uint64_t now, bool *down)
{
	const struct cfg_route *r;
	struct account *a, *f;

	*down = false;
	if (m->flags & STORE_F_RECONCILE) {
		a = fw_snd_account_find(s, m->account);
		*down = a && !fw_breaker_admit(&a->breaker, now);
		return a;
	}
	r = cfg_route_find(s->fw->cfg, m->route);
	a = fw_snd_account_find(s, r && r->account ? r->account->name : m->account);
	if (!a || fw_breaker_admit(&a->breaker, now))
		return a;
	f = a->fallback[0] ? fw_snd_account_find(s, a->fallback) : NULL;
	if (!can_take(s, f, m, now)) {
		*down = true; /* nowhere better: it waits for its own account */
		return a;
	}
	a->breaker.failovers++;
	s->fw->n.failovers++;
	return f;
}

/* Decides whether a due record may go now; if not, moves it on in time. */
static bool admit(struct fw_sender *s, struct store_txn *t, struct store_msg *m,
		  struct account **ap, int64_t wall, uint64_t now)
{
	bool down;
	struct account *a = pick_account(s, m, now, &down);
	bool recon = (m->flags & STORE_F_RECONCILE) && fw_snd_reconcilable(a);
	uint64_t wait = 0;
	int64_t until;

	if (m->expires_ms == 0) /* ingested before the clock was valid */
		m->expires_ms = wall + (int64_t)m->ttl_s * 1000;
	if (wall >= m->expires_ms || !a) {
		fw_snd_unhold(s, m);
		m->state = STORE_EXPIRED;
		m->err_text = a ? "time to live ran out before it could be sent"
				: "its account is no longer configured";
		s->fw->n.expired++;
		return false;
	}
	if (!recon && !fw_templates_admit(s->fw, m, a->name)) /* held (parked) or failed */
		return false;
	if (down) {
		fw_snd_hold_for_link(a, m);
		return false;
	}
	if (!recon && (wait = (uint64_t)fw_schedule_hold(s->fw, m, wall)) != 0) {
		m->due_ms = (int64_t)wait; /* the end of its route's quiet hours */
		s->fw->n.quiet_held++;
		return false;
	}
	if (!recon && (until = fw_quota_admit(s->fw, t, a->cfg, a->inflight + a->queued + a->answered,
					      m, wall))) {
		if (until > 0)
			m->due_ms = until; /* the next day or month, or a second */
		else
			fw_snd_unhold(s, m); /* suppressed: the route drops past quota */
		return false;
	}
	if (a->paused_until > now)
		wait = a->paused_until == UINT64_MAX ? 60000 : a->paused_until - now;
	else if (!recon && a->inflight + a->queued >= 2 * a->limit) /* a completion frees one */
		wait = 10;
	else if (!recon && !take_token(a, now, &wait)) /* a list sends nothing */
		wait = wait < 10 ? 10 : wait;
	else if (!recon)
		a->sends_since_poll++;
	if (wait) {
		m->due_ms = wall + (int64_t)(wait > 60000 ? 60000 : wait);
		return false;
	}
	a->paused_until = 0;
	fw_snd_unhold(s, m); /* one of an outage's backlog goes */
	*ap = a;
	m->account = a->name; /* where this attempt goes: reconciliation asks it */
	m->state = STORE_SENDING;
	if (!recon) {
		m->flags &= ~(uint32_t)STORE_F_RECONCILE; /* its account cannot list */
		m->attempts++;
		m->attempt_ms = wall;
	}
	return true;
}

/* How many records may be taken now: free slots, batch size and tokens. */
unsigned fw_snd_room_now(struct fw_sender *s, uint64_t *token_wait)
{
	unsigned room = s->pool_n - s->inflight;
	unsigned tokens = tokens_now(s, hal_now_ms(), token_wait);

	if (room > s->fw->cfg->sender.batch)
		room = s->fw->cfg->sender.batch;
	if (room > 256)
		room = 256;
	return room < tokens ? room : tokens;
}

/* A state the sender leaves a record in for good: a device waiting on the
 * event's receipts hears of it (docs/WHATSAPP.md, receipts). */
bool fw_snd_ended(int state)
{
	return state == STORE_FAILED || state == STORE_EXPIRED || state == STORE_SUPPRESSED;
}

/* Moves up to `room` due records to SENDING inside t. */
int fw_snd_pick_due(struct fw_sender *s, struct store_txn *t, unsigned room, struct pick *p)
{
	int64_t wall = hal_wall_ms();
	uint64_t now = hal_now_ms();
	unsigned n = 0;
	int rc = store_outbox_due(t, wall, room, s->seqs, &n, &p->next_due);

	for (unsigned i = 0; rc == ERR_OK && i < n; i++) {
		struct store_msg m;
		struct account *a = NULL;
		int prev_state;
		int64_t prev_attempt_ms;

		rc = store_outbox_get(t, s->seqs[i], &m);
		if (rc != ERR_OK)
			break;
		prev_state = m.state;
		prev_attempt_ms = m.attempt_ms;
		m.updated_ms = wall;
		if (!(m.flags & STORE_F_RECONCILE) && (!fw_escalate_gate(s->fw, t, &m) ||
							  !fw_consent_gate(s->fw, t, &m, wall))) {
			/* suppressed or failed: final, nothing to send */
		} else if (admit(s, t, &m, &a, wall, now)) {
			struct ctx *c = fw_snd_ctx_get(s);
			c->busy = true;
			c->fw = s->fw;
			c->seq = m.seq;
			c->acct = a;
			c->prev_state = prev_state;
			c->prev_attempt_ms = prev_attempt_ms;
			a->queued++;
			build(c, &m);
			p->c[p->n++] = c;
			s->inflight++;
		} else if (m.state == STORE_QUEUED || m.state == STORE_RETRY) {
			p->next_due = p->next_due < 0 || m.due_ms < p->next_due ? m.due_ms : p->next_due;
		}
		rc = store_outbox_update(t, &m);
		if (rc == ERR_OK && fw_snd_ended(m.state)) /* expired, or stopped at a gate */
			rc = fw_delivery_ended(s->fw, t, m.seq); /* its receipt */
	}
	return rc;
}

void fw_snd_pick_abandon(struct fw_sender *s, struct pick *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		if (p->c[i]->acct)
			p->c[i]->acct->queued--;
		fw_snd_ctx_release(p->c[i]);
		s->inflight--;
	}
	p->n = 0;
}

bool fw_snd_may_send(const struct fw_sender *s)
{
	return !s->stopping && !s->fw->stopping && hal_clock_valid();
}

/* A ready record's account cannot send now: it is put back. */
static bool stale(const struct fw_sender *s, const struct ctx *c, uint64_t now)
{
	const struct account *a = c->acct;

	return !a || !fw_snd_may_send(s) || a->paused_until > now ||
	       fw_breaker_state(&a->breaker, now) != FW_BREAKER_CLOSED;
}

static bool may_launch(const struct fw_sender *s, const struct ctx *c, uint64_t now)
{
	return !stale(s, c, now) && s->out < s->max_inflight && c->acct->inflight < c->acct->limit;
}

static void launch(struct fw_sender *s, struct ctx *c)
{
	if (c->acct) {
		c->acct->queued--;
		c->acct->inflight++;
	}
	s->out++;
	send_built(s, c);
}

/* Committed as SENDING: only now may the requests go out, each as soon as
 * its account has a slot. A list (reconciliation) goes at once, and so does
 * a half-open circuit's trial: admit() gave it the one attempt the breaker
 * allows, which must not wait behind the limit or be put back. */
void fw_snd_submit_picked(struct fw_sender *s, struct pick *p)
{
	uint64_t now = hal_now_ms();

	for (unsigned i = 0; i < p->n; i++) {
		struct ctx *c = p->c[i];

		if (c->reconciling || may_launch(s, c, now) ||
		    (c->acct && fw_breaker_state(&c->acct->breaker, now) != FW_BREAKER_CLOSED)) {
			launch(s, c);
			continue;
		}
		c->ready = true;
		c->next_ready = NULL;
		if (!s->ready)
			s->ready_tail = &s->ready;
		*s->ready_tail = c;
		s->ready_tail = &c->next_ready;
		s->n_ready++;
	}
	fw_snd_launch_ready(s);
}

/* Ready records whose account has a slot now go, oldest first. */
void fw_snd_launch_ready(struct fw_sender *s)
{
	uint64_t now = hal_now_ms();
	struct ctx **pp = &s->ready;

	if (s->launching) /* a request that failed at once calls us back */
		return;
	s->launching = true;
	while (*pp && s->out < s->max_inflight) {
		struct ctx *c = *pp;

		if (c->undo || !may_launch(s, c, now)) {
			pp = &c->next_ready;
			continue;
		}
		*pp = c->next_ready;
		if (!*pp)
			s->ready_tail = pp;
		c->ready = false;
		c->next_ready = NULL;
		s->n_ready--;
		launch(s, c);
	}
	s->launching = false;
}

bool fw_snd_ready_stale(struct fw_sender *s)
{
	uint64_t now = hal_now_ms();

	for (struct ctx *c = s->ready; c; c = c->next_ready)
		if (stale(s, c, now))
			return true;
	return false;
}

/*
 * In transaction t, puts back every ready record whose account cannot send
 * now: as it was before its pick (its state, attempts and attempt time), due
 * now, so the next turn decides it again; its token goes back. The contexts
 * are freed by fw_snd_unready_end once the commit is known.
 */
int fw_snd_unready(struct fw_sender *s, struct store_txn *t, int64_t wall)
{
	uint64_t now = hal_now_ms();
	int rc = ERR_OK;

	for (struct ctx *c = s->ready; c && rc == ERR_OK; c = c->next_ready) {
		struct store_msg m;

		if (!stale(s, c, now))
			continue;
		rc = store_outbox_get(t, c->seq, &m);
		if (rc == ERR_NOTFOUND) { /* gone (purged): nothing to put back */
			c->undo = true;
			rc = ERR_OK;
			continue;
		}
		if (rc != ERR_OK)
			break;
		c->undo = true;
		if (m.state != STORE_SENDING) /* changed by hand meanwhile: not ours */
			continue;
		m.state = c->prev_state;
		m.attempts -= m.attempts > 0;
		m.attempt_ms = c->prev_attempt_ms;
		m.due_ms = wall;
		m.updated_ms = wall;
		rc = store_outbox_update(t, &m);
	}
	return rc;
}

void fw_snd_unready_end(struct fw_sender *s, bool committed)
{
	struct ctx **pp = &s->ready;

	while (*pp) {
		struct ctx *c = *pp;

		if (!c->undo) {
			pp = &c->next_ready;
			continue;
		}
		c->undo = false;
		if (!committed) {
			pp = &c->next_ready;
			continue;
		}
		*pp = c->next_ready;
		s->n_ready--;
		if (c->acct) {
			c->acct->queued--;
			c->acct->tokens += 1.0;
		}
		fw_snd_ctx_release(c);
		s->inflight--;
	}
	s->ready_tail = pp;
}

static void take_due(struct fw_sender *s, unsigned room, int64_t *next_due)
{
	struct pick p = {.next_due = -1};
	struct store_txn *t;
	int rc = store_begin(s->fw->store, 0, &t);

	if (rc == ERR_OK && s->n_ready)
		rc = fw_snd_unready(s, t, hal_wall_ms());
	if (rc == ERR_OK && room)
		rc = fw_snd_pick_due(s, t, room, &p);
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	fw_snd_unready_end(s, rc == ERR_OK);
	*next_due = p.next_due;
	if (rc == ERR_FULL) { /* nothing taken; the next tick tries again */
		fw_snd_pick_abandon(s, &p);
		*next_due = hal_wall_ms() + FULL_RETRY_MS;
		return;
	}
	if (rc != ERR_OK) {
		fw_snd_pick_abandon(s, &p);
		fw_fatal(s->fw, "marking messages as sending", rc);
		return;
	}
	OUTPOST_CRASH_POINT("sender-after-sending-commit");
	fw_snd_submit_picked(s, &p);
}

/* The due index was read in a transaction just committed: what it found
 * stays true until the next commit, so the turn need not look again (a
 * write transaction, even an empty one, dirties LMDB's lock file). */
void fw_snd_looked(struct fw_sender *s, int64_t next_due)
{
	s->next_due = next_due;
	s->looked_commits = store_commits(s->fw->store);
	s->backlog = next_due >= 0 && next_due <= hal_wall_ms();
}

struct ride_arg {
	struct fw_sender *s;
	unsigned room;
};

static int ride_pick(struct store_txn *t, void *arg)
{
	struct ride_arg *r = arg;

	return fw_snd_pick_due(r->s, t, r->room, r->s->ride);
}

/*
 * Flash wear (docs/BENCHMARKS.md): at a site's pace each event cost a
 * commit of the turn's own, between its ingest and its request, only to
 * mark it SENDING. Instead the ingest commit does, from the store's commit
 * hook (firmware/daemon.c), with the pick the turn and the outcome commit
 * use (fw_snd_pick_due: the same gates, pace and tokens), in a nested txn
 * so that a failure leaves the ingest as it was. Not while outcomes wait
 * for their commit: that commit picks. The records go once the ingest
 * commit is known (fw_sender_rode); a crash before that finds them SENDING,
 * as any picked ahead: reconciled before a resend (sender.c, recovery).
 */
void fw_sender_ride(struct fw *fw, struct store_txn *t)
{
	struct fw_sender *s = fw->sender;
	struct ride_arg r = {.s = s};
	uint64_t token_wait;

	if (!s || s->riding || !fw_snd_may_send(s) || s->n_settle || s->done_head)
		return;
	*s->ride = (struct pick){.next_due = -1};
	r.room = fw_snd_room_now(s, &token_wait);
	if (!r.room)
		return;
	if (store_nested_run(t, ride_pick, &r) != ERR_OK) {
		fw_snd_pick_abandon(s, s->ride); /* the turn takes them */
		return;
	}
	s->riding = true;
}

void fw_sender_rode(struct fw *fw, int err)
{
	struct fw_sender *s = fw->sender;

	if (!s || !s->riding)
		return;
	s->riding = false;
	if (err != ERR_OK) {
		fw_snd_pick_abandon(s, s->ride);
		return;
	}
	fw_snd_looked(s, s->ride->next_due);
	fw_snd_submit_picked(s, s->ride);
	s->ride->n = 0;
}

/* The longest delay the sender ever sets, and then some. */
static int64_t horizon_ms(const struct fw_sender *s)
{
	int64_t h = 60000; /* admit()'s longest wait */

	if ((int64_t)s->policy.cap_ms > h)
		h = s->policy.cap_ms;
	if ((int64_t)s->policy.retry_after_max_s * 1000 > h)
		h = (int64_t)s->policy.retry_after_max_s * 1000;
	if (fw_schedule_horizon_ms(s->fw) > h) /* quiet hours, quotas */
		h = fw_schedule_horizon_ms(s->fw);
	return h + 60000;
}

/*
 * Due times are wall clock (they must survive a restart), so a clock that
 * was ahead and is set back leaves them in the future, possibly years. Any
 * due time further ahead than the longest delay we set was set by such a
 * clock: it is brought back to now.
 */
static void pull_back(struct fw_sender *s, int64_t wall)
{
	struct store_txn *t;
	int64_t next = -1;
	unsigned n = 0, moved = 0;
	int rc = store_begin(s->fw->store, 0, &t);

	if (rc == ERR_OK)
		rc = store_outbox_due(t, INT64_MAX, 256, s->seqs, &n, &next);
	for (unsigned i = 0; rc == ERR_OK && i < n; i++) {
		struct store_msg m;

		rc = store_outbox_get(t, s->seqs[i], &m);
		if (rc != ERR_OK || m.due_ms <= wall + horizon_ms(s) || m.due_ms == STORE_DUE_PARKED)
			continue;
		m.due_ms = wall;
		rc = store_outbox_update(t, &m);
		moved += rc == ERR_OK;
	}
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc == ERR_OK && moved)
		log_warn("sender: %u messages were due at times the wall clock set before it was put back; they are due now",
			 moved);
	else if (rc != ERR_OK && rc != ERR_FULL)
		fw_fatal(s->fw, "bringing due times back to now", rc);
}

void fw_snd_on_tick(struct hal_timer *t)
{
	struct fw_sender *s = container_of(t, struct fw_sender, tick);
	struct fw *fw = s->fw;
	int64_t next_due = -1;
	unsigned room;

	if (s->stopping || fw->stopping)
		return;
	if (!hal_clock_valid()) {
		/* TLS cannot verify a certificate in 1970, and expiry times
		 * would be wrong: hold every send, lose nothing. */
		if (!s->hold)
			log_warn("sender: the wall clock reads before the build date; holding every send until it is set");
		s->hold = "waiting for a valid wall clock (it reads before the build date)";
		if (s->n_ready && !s->n_settle) /* picked ahead: put back */
			take_due(s, 0, &next_due);
		hal_timer_set(fw->loop, &s->tick, IDLE_RECHECK_MS);
		return;
	}
	if (s->hold)
		log_info("sender: the wall clock is valid; sending");
	s->hold = NULL;
	uint64_t token_wait = IDLE_RECHECK_MS;
	room = s->n_settle ? 0 : fw_snd_room_now(s, &token_wait);
	/* The due index is read only if a commit may have changed it since the
	 * last look, or what that look found is due now: even a write
	 * transaction that changes nothing dirties a page of LMDB's lock file,
	 * and an idle gateway would write to its flash every half minute. */
	bool look = room && (store_commits(fw->store) != s->looked_commits ||
			     (s->next_due >= 0 && s->next_due <= hal_wall_ms()));
	next_due = s->next_due;
	if (look || (!s->n_settle && fw_snd_ready_stale(s))) {
		take_due(s, look ? room : 0, &next_due);
		if (look) {
			fw_snd_looked(s, next_due);
		} else {
			next_due = s->next_due;
		}
	}
	fw_snd_probe_links(s, hal_now_ms());
	if (next_due > hal_wall_ms() + horizon_ms(s) && next_due != STORE_DUE_PARKED) {
		pull_back(s, hal_wall_ms());
		next_due = hal_wall_ms();
	}
	if (s->inflight >= s->pool_n)
		return; /* a completion kicks us */
	int64_t wait = next_due < 0 ? IDLE_RECHECK_MS : next_due - hal_wall_ms();
	if (!room && (int64_t)token_wait < wait)
		wait = (int64_t)token_wait;
	if (wait > IDLE_RECHECK_MS)
		wait = IDLE_RECHECK_MS;
	hal_timer_set(fw->loop, &s->tick, wait < 0 ? 0 : (uint64_t)wait);
}

/* A request of account c->acct ended: its slot is free, and slow start
 * hears of it. */
void fw_snd_paced(struct fw_sender *s, const struct ctx *c)
{
	struct account *a = c->acct;

	a->inflight -= a->inflight > 0;
	if (c->reconciling)
		return;
	if (c->answer_ms >= 0) {
		if (net_http_connecting(s->fw->http) < RAMP_CONNECTING)
			a->ramp++;
		a->answer_ms += ((double)c->answer_ms - a->answer_ms) * ANSWER_WEIGHT;
	} else if (c->out.cls == NET_TRANSIENT || c->out.cls == NET_AMBIGUOUS) {
		a->ramp = a->ramp / 2 > 1 ? a->ramp / 2 : 1;
	}
	fw_snd_adapt(a, s->max_inflight);
}

/*
 * A token for a status poll (firmware/delivery.c). Sends come first: while
 * due records wait, a poll gets a token only after POLL_SHARE sends of its
 * account had theirs, so polling takes a bounded share and never stops
 * sends; otherwise it takes what sends leave in the bucket.
 */
#define POLL_SHARE 10
bool fw_sender_poll_token(struct fw *fw, const char *account)
{
	struct fw_sender *s = fw->sender;
	struct account *a = s ? fw_snd_account_find(s, account) : NULL;
	uint64_t now = hal_now_ms(), wait;

	if (!a || !a->msg.user || a->paused_until > now || (s->backlog && a->sends_since_poll < POLL_SHARE))
		return false;
	if (!take_token(a, now, &wait))
		return false;
	a->sends_since_poll = 0;
	return true;
}
