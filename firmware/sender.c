/*
 * sender.c - takes due records from the outbox and sends them.
 *
 * One turn: in one write transaction, take up to `batch` due records (from
 * the due index, never by scanning), mark them SENDING and commit - so a
 * crash while a request is out finds them SENDING and knows the outcome is
 * ambiguous. Then submit one HTTP request each. Completions that arrive in
 * the same loop turn are committed together in one transaction (a 0 ms
 * timer collects them), so a burst costs one fsync, not one per message.
 *
 * A record whose last attempt was ambiguous carries STORE_F_RECONCILE: its
 * turn asks the provider whether that attempt made a message before any
 * resend (firmware/reconcile.c), in a slot of the same pool, and its answer
 * is recorded in the same transactions as send outcomes.
 *
 * Request contexts come from a pool sized by sender.max_inflight at start:
 * memory does not grow with the backlog. Each context copies what its
 * request needs, so a config reload never pulls strings from under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "config/secrets.h"
#include "firmware/account.h"
#include "firmware/delivery.h"
#include "firmware/consent.h"
#include "firmware/fw.h"
#include "firmware/reconcile.h"
#include "firmware/breaker.h"
#include "firmware/retry.h"
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
#define FLUSH_WINDOW_MS 3
#define FULL_RETRY_MS 1000
#define AUTH_PAUSE_MS (5 * 60 * 1000)
#define PROBE_MS 1000
/* Above the default breaker.failures (5) plus a pool's worth of requests
 * out when the circuit opens; past it a record keeps its own backoff. */
#define LINK_RECENT 64
#define NAME_MAX_ 64

struct account {
	char name[NAME_MAX_];
	const struct net_provider *drv;
	struct net_send_msg msg;   /* api_base, credentials, from: shared by its requests */
	char *ca_file;
	double rate, tokens;
	unsigned burst;
	uint64_t refilled_ms;
	uint64_t paused_until;     /* monotonic ms, 0 = not paused */
	char pause_reason[FW_ERROR_TEXT];
	uint64_t sent, failed;
	unsigned sends_since_poll; /* tokens sends took since a status poll took one */
	struct fw_breaker breaker;
	/* An outage (docs/RETRY.md, recovery): records parked while the
	 * circuit is open, then those left to go since it closed. */
	unsigned link_held, draining;
	/* Pace: requests out now, and how many may be: rate x answer time
	 * (smoothed), so a slow provider gets enough parallel requests to
	 * use its rate and a fast one few (adapt()). */
	unsigned inflight, limit;
	unsigned ramp;             /* slow start: what the answers so far allow */
	double answer_ms;
	bool capped;               /* sender.max_inflight, not the rate, limits */
	bool probing;              /* a probe of the provider is out */
	uint64_t probe_next;       /* monotonic ms of the next probe */
	/* Records whose attempt failed for the link before the circuit
	 * opened: they wait out a backoff, and are due at once when it
	 * closes (forward_link). The first LINK_RECENT of a run. */
	uint64_t recent[LINK_RECENT];
	unsigned n_recent;
	bool forward;              /* the circuit closed: recent[] is due now */
	char fallback[NAME_MAX_];  /* "" = none */
	const struct cfg_account *cfg; /* valid until the next reconfigure */
	struct account *next;
};

struct ctx {
	struct net_http_req req;
	struct fw *fw;
	uint64_t seq;
	struct account *acct;
	char *url, *body;
	char *hdr[NET_HTTP_HEADERS_MAX]; /* auth headers (secrets) while req is out */
	struct net_send_outcome out;
	int build_rc;
	bool busy, done;
	bool reconciling;          /* a list walk (recon) instead of a send */
	bool probing;              /* a GET asking whether the provider answers */
	struct fw_recon recon;
	enum fw_recon_step step;   /* how the walk ended */
	uint64_t sent_ms;          /* monotonic, when the request went out */
	int64_t answer_ms;         /* how long the provider took to answer; -1 none */
	struct ctx *next_done;
};

/* An outcome waiting for its commit. Copied out of its ctx, so the ctx can
 * take the next record in the same txn; kept until the commit succeeds (a
 * full store makes it wait, it never drops it). */
struct done {
	uint64_t seq;
	struct account *acct;
	struct net_send_outcome out;
	int recon;                 /* enum fw_recon_step of a reconciliation, 0 for a send */
	enum fw_next next;
	char why[FW_ERROR_TEXT + 320]; /* a reason made here, "" if the outcome's text is it */
	unsigned attempts;         /* of the record, after this one */
	int64_t retry_in_ms;       /* FW_NEXT_RETRY: from the commit to the next try */
	bool parked;               /* FW_NEXT_RETRY: held for the link instead */
	/* For the log line after the commit (the record is gone by then). */
	char event_id[STORE_EVENT_ID_MAX + 1], to[CFG_PHONE_MAX];
};

struct fw_sender {
	struct fw *fw;
	struct hal_timer tick, flush, forward;
	struct account *accounts;
	struct ctx *pool;
	unsigned pool_n, inflight;
	struct ctx *done_head;
	struct done *settle;  /* pool_n slots */
	unsigned n_settle;
	struct fw_retry_policy policy;
	bool stopping;
	bool backlog;         /* due records were left at the last turn */
	const char *hold;
	uint64_t *seqs;
	struct hal_ratelimit full_rl;
};

static struct account *account_in(struct account *list, const char *name)
{
	for (struct account *a = list; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static struct account *account_find(struct fw_sender *s, const char *name)
{
	return account_in(s->accounts, name);
}

bool fw_sender_account(struct fw *fw, const char *name, struct fw_account_view *v)
{
	const struct account *a = fw->sender ? account_find(fw->sender, name) : NULL;

	if (!a || !a->msg.user) /* no credentials: nothing to try */
		return false;
	v->drv = a->drv;
	v->msg = &a->msg;
	v->ca_file = a->ca_file;
	return true;
}

static void account_free(struct account *a)
{
	fw_account_msg_free(&a->msg);
	free(a->ca_file);
	free(a);
}

/* Until the first answers are in: a provider's usual answer time. */
#define ANSWER_MS_GUESS 100.0
/* Answers weigh 1/8 each in the smoothed time (as TCP's SRTT). */
#define ANSWER_WEIGHT 0.125

/* Requests out at first, and again after a run of failures to connect. */
#define RAMP_START 4

/*
 * The account's in-flight limit: its rate times the smoothed answer time is
 * how many requests are out at once when it sends at its rate (Little's
 * law); a quarter more and two spare absorb jitter. Never more than the
 * pool (sender.max_inflight): past that the cap, not the rate, limits, and
 * status says so. Reached by slow start, as TCP's window is: from
 * RAMP_START, one more per answer (doubling each answer time), halved by
 * an attempt that got no answer - so a backlog does not open a hundred
 * TLS handshakes at once against a server that then times them out.
 */
static void adapt(struct account *a, unsigned pool_n)
{
	double want = a->rate * a->answer_ms / 1000.0 * 1.25 + 2.0;
	unsigned target = want > (double)pool_n ? pool_n : want < 1.0 ? 1 : (unsigned)want;

	a->capped = want > (double)pool_n;
	if (a->ramp > (target > RAMP_START ? target : RAMP_START))
		a->ramp = target > RAMP_START ? target : RAMP_START;
	a->limit = target < a->ramp ? target : a->ramp;
}

static struct account *account_new(struct fw *fw, const struct cfg_account *ca)
{
	const struct cfg_secret *sec = cfg_secrets_find(fw->secrets, ca->credentials);
	struct account *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", ca->name);
	snprintf(a->fallback, sizeof(a->fallback), "%s", ca->fallback ? ca->fallback->name : "");
	a->cfg = ca;
	a->breaker.failures = ca->breaker.failures;
	a->breaker.open_s = ca->breaker.open_s;
	a->drv = net_provider_find(cfg_provider_name(ca->provider));
	a->rate = ca->rate_per_s;
	a->answer_ms = ANSWER_MS_GUESS;
	a->ramp = RAMP_START;
	a->burst = ca->burst ? ca->burst : 1;
	a->tokens = a->burst;
	a->refilled_ms = hal_now_ms();
	a->ca_file = strdup(ca->ca_file);
	rc = fw_account_msg(&a->msg, ca, sec, a->pause_reason, sizeof(a->pause_reason));
	if (rc == ERR_NOMEM || !a->ca_file || !a->drv) {
		account_free(a);
		return NULL;
	}
	if (rc != ERR_OK) { /* no credentials, or of the wrong kind: the reason says */
		a->paused_until = UINT64_MAX;
		if (!sec && fw_vault_sealed(fw))
			snprintf(a->pause_reason, sizeof(a->pause_reason), "%s", fw_vault_sealed(fw));
	}
	return a;
}

int fw_sender_reconfigure(struct fw *fw)
{
	struct fw_sender *s = fw->sender;
	struct account *list = NULL;
	const struct cfg *c = fw->cfg;

	for (unsigned i = 0; i < c->n_accounts; i++) {
		struct account *a = account_new(fw, &c->accounts[i]), *old;

		if (!a)
			goto fail;
		old = account_find(s, a->name);
		if (old) {
			unsigned failures = a->breaker.failures, open_s = a->breaker.open_s;

			a->sent = old->sent;
			a->failed = old->failed;
			a->link_held = old->link_held;
			a->draining = old->draining;
			a->inflight = old->inflight;
			a->answer_ms = old->answer_ms;
			a->ramp = old->ramp;
			a->probing = old->probing;
			a->probe_next = old->probe_next;
			memcpy(a->recent, old->recent, sizeof(a->recent));
			a->n_recent = old->n_recent;
			a->forward = old->forward;
			a->breaker = old->breaker; /* its state, under the new limits */
			a->breaker.failures = failures;
			a->breaker.open_s = open_s;
		}
		adapt(a, s->pool_n);
		a->next = list;
		list = a;
	}
	/* In-flight contexts and waiting outcomes point at old accounts;
	 * repoint them by name. */
	for (unsigned i = 0; i < s->pool_n; i++) {
		if (s->pool[i].busy && s->pool[i].acct)
			s->pool[i].acct = account_in(list, s->pool[i].acct->name);
		if (i < s->n_settle && s->settle[i].acct)
			s->settle[i].acct = account_in(list, s->settle[i].acct->name);
	}
	while (s->accounts) {
		struct account *next = s->accounts->next;
		account_free(s->accounts);
		s->accounts = next;
	}
	s->accounts = list;
	s->policy = (struct fw_retry_policy){
		.max_attempts = c->sender.max_attempts,
		.base_ms = c->sender.backoff_base_ms,
		.cap_ms = c->sender.backoff_cap_ms,
		.retry_after_max_s = c->sender.retry_after_max_s,
	};
	fw_sender_kick(fw);
	return ERR_OK;
fail:
	while (list) {
		struct account *next = list->next;
		account_free(list);
		list = next;
	}
	return ERR_NOMEM;
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
		if (!w && a->inflight < a->limit) {
			unsigned n = (unsigned)a->tokens;

			total += n < a->limit - a->inflight ? n : a->limit - a->inflight;
		}
		*wait_ms = w && w < *wait_ms ? w : *wait_ms;
	}
	return total;
}

static struct ctx *ctx_get(struct fw_sender *s)
{
	for (unsigned i = 0; i < s->pool_n; i++)
		if (!s->pool[i].busy)
			return &s->pool[i];
	return NULL;
}

static void ctx_release(struct ctx *c)
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
	c->next_done = NULL;
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

/* The uplink as status shows it: up when the last HTTP transfer to any
 * provider (a send, a list, a connection test) got an answer, down when it
 * ended without one (no route, DNS, TLS, timeout). */
void fw_uplink_note(struct fw *fw, const struct net_http_result *res)
{
	struct fw_uplink *u = &fw->uplink;

	if (res->err == ERR_OK || res->err == ERR_TOOBIG) { /* the provider answered */
		u->ok_ms = hal_now_ms();
		return;
	}
	if (res->err == ERR_CLOSED) /* cancelled at exit: says nothing */
		return;
	u->fail_ms = hal_now_ms();
	snprintf(u->fail, sizeof(u->fail), "%.150s", res->error[0] ? res->error :
		 hal_strerror(res->err));
}

void fw_uplink_status(const struct fw *fw, cJSON *o)
{
	const struct fw_uplink *u = &fw->uplink;
	uint64_t now = hal_now_ms();

	cJSON_AddStringToObject(o, "state", !u->ok_ms && !u->fail_ms ? "unknown" :
				u->fail_ms > u->ok_ms ? "down" : "up");
	cJSON_AddNumberToObject(o, "last_answer_ago_s",
				u->ok_ms ? (double)((now - u->ok_ms) / 1000) : -1);
	cJSON_AddNumberToObject(o, "last_failure_ago_s",
				u->fail_ms ? (double)((now - u->fail_ms) / 1000) : -1);
	cJSON_AddStringToObject(o, "last_failure", u->fail);
}

static void on_done(struct net_http_req *req, const struct net_http_result *res)
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
	/* Outcomes arriving within FLUSH_WINDOW_MS share one commit. */
	if (!s->flush.pending)
		hal_timer_set(c->fw->loop, &s->flush, FLUSH_WINDOW_MS);
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

/* Whether an ambiguous attempt of this account can be reconciled. */
static bool reconcilable(const struct account *a)
{
	return a && a->drv && a->drv->list_url && a->drv->list_page;
}

static void send_built(struct fw_sender *s, struct ctx *c)
{
	int rc = c->build_rc;

	if (rc == ERR_OK) {
		c->req = (struct net_http_req){
			.method = c->reconciling ? NET_HTTP_GET : NET_HTTP_POST, .url = c->url,
			.body = c->body, .body_len = c->body ? strlen(c->body) : 0,
			.ca_file = c->acct->ca_file, .done = on_done,
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
		on_done(&c->req, &res);
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
		a = account_find(s, m->account);
		*down = a && !fw_breaker_admit(&a->breaker, now);
		return a;
	}
	r = cfg_route_find(s->fw->cfg, m->route);
	a = account_find(s, r && r->account ? r->account->name : m->account);
	if (!a || fw_breaker_admit(&a->breaker, now))
		return a;
	f = a->fallback[0] ? account_find(s, a->fallback) : NULL;
	if (!can_take(s, f, m, now)) {
		*down = true; /* nowhere better: it waits for its own account */
		return a;
	}
	a->breaker.failovers++;
	s->fw->n.failovers++;
	return f;
}

/* Parks m until a's provider answers again: an outage must not give it
 * ever longer backoffs, and it must not wait out one when the provider is
 * back (released with every parked record when the circuit closes). */
static void hold_for_link(struct account *a, struct store_msg *m)
{
	m->due_ms = STORE_DUE_PARKED;
	if (m->flags & STORE_F_LINK_HELD)
		return; /* released by another walk and parked again: counted */
	m->flags |= STORE_F_LINK_HELD;
	m->account = a->name; /* whose count it is in (unhold) */
	a->link_held++;
}

/* A record goes (or expires): no longer the link's, out of its account's
 * counts if it was held. */
static void unhold(struct fw_sender *s, struct store_msg *m)
{
	struct account *a;

	m->flags &= ~(uint32_t)STORE_F_LINK_FAILED;
	if (!(m->flags & STORE_F_LINK_HELD))
		return;
	m->flags &= ~(uint32_t)STORE_F_LINK_HELD;
	if (!(a = account_find(s, m->account)))
		return;
	if (a->draining)
		a->draining--;
	else if (a->link_held)
		a->link_held--;
}

/* Decides whether a due record may go now; if not, moves it on in time. */
static bool admit(struct fw_sender *s, struct store_msg *m, struct account **ap,
		  int64_t wall, uint64_t now)
{
	bool down;
	struct account *a = pick_account(s, m, now, &down);
	bool recon = (m->flags & STORE_F_RECONCILE) && reconcilable(a);
	uint64_t wait = 0;

	if (m->expires_ms == 0) /* ingested before the clock was valid */
		m->expires_ms = wall + (int64_t)m->ttl_s * 1000;
	if (wall >= m->expires_ms || !a) {
		unhold(s, m);
		m->state = STORE_EXPIRED;
		m->err_text = a ? "time to live ran out before it could be sent"
				: "its account is no longer configured";
		s->fw->n.expired++;
		return false;
	}
	if (!recon && !fw_templates_admit(s->fw, m, a->name)) /* held (parked) or failed */
		return false;
	if (down) {
		hold_for_link(a, m);
		return false;
	}
	if (a->paused_until > now)
		wait = a->paused_until == UINT64_MAX ? 60000 : a->paused_until - now;
	else if (!recon && a->inflight >= a->limit) /* a completion frees one */
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
	unhold(s, m); /* one of an outage's backlog goes */
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

/* Records taken in one transaction, submitted once it is committed. */
struct pick {
	struct ctx *c[256];
	unsigned n;
	int64_t next_due;
};

/* How many records may be taken now: free slots, batch size and tokens. */
static unsigned room_now(struct fw_sender *s, uint64_t *token_wait)
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
static bool ended(int state)
{
	return state == STORE_FAILED || state == STORE_EXPIRED || state == STORE_SUPPRESSED;
}

static bool may_send(struct fw_sender *s)
{
	return !s->stopping && !s->fw->stopping && hal_clock_valid();
}

/* Moves up to `room` due records to SENDING inside t. */
static int pick_due(struct fw_sender *s, struct store_txn *t, unsigned room, struct pick *p)
{
	int64_t wall = hal_wall_ms();
	uint64_t now = hal_now_ms();
	unsigned n = 0;
	int rc = store_outbox_due(t, wall, room, s->seqs, &n, &p->next_due);

	for (unsigned i = 0; rc == ERR_OK && i < n; i++) {
		struct store_msg m;
		struct account *a = NULL;

		rc = store_outbox_get(t, s->seqs[i], &m);
		if (rc != ERR_OK)
			break;
		m.updated_ms = wall;
		if (!(m.flags & STORE_F_RECONCILE) && !fw_consent_gate(s->fw, t, &m, wall)) {
			/* suppressed or failed: final, nothing to send */
		} else if (admit(s, &m, &a, wall, now)) {
			struct ctx *c = ctx_get(s);
			c->busy = true;
			c->fw = s->fw;
			c->seq = m.seq;
			c->acct = a;
			a->inflight++;
			build(c, &m);
			p->c[p->n++] = c;
			s->inflight++;
		} else if (m.state == STORE_QUEUED || m.state == STORE_RETRY) {
			p->next_due = p->next_due < 0 || m.due_ms < p->next_due ? m.due_ms : p->next_due;
		}
		rc = store_outbox_update(t, &m);
		if (rc == ERR_OK && ended(m.state)) /* expired, or stopped at a gate */
			rc = fw_delivery_ended(s->fw, t, m.seq); /* its receipt */
	}
	return rc;
}

static void pick_abandon(struct fw_sender *s, struct pick *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		if (p->c[i]->acct)
			p->c[i]->acct->inflight--;
		ctx_release(p->c[i]);
		s->inflight--;
	}
	p->n = 0;
}

/* Committed as SENDING: only now may the requests go out. */
static void submit_picked(struct fw_sender *s, struct pick *p)
{
	for (unsigned i = 0; i < p->n; i++)
		send_built(s, p->c[i]);
}

static void take_due(struct fw_sender *s, unsigned room, int64_t *next_due)
{
	struct pick p = {.next_due = -1};
	struct store_txn *t;
	int rc = store_begin(s->fw->store, 0, &t);

	if (rc == ERR_OK)
		rc = pick_due(s, t, room, &p);
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	*next_due = p.next_due;
	if (rc == ERR_FULL) { /* nothing taken; the next tick tries again */
		pick_abandon(s, &p);
		*next_due = hal_wall_ms() + FULL_RETRY_MS;
		return;
	}
	if (rc != ERR_OK) {
		pick_abandon(s, &p);
		fw_fatal(s->fw, "marking messages as sending", rc);
		return;
	}
	OUTPOST_CRASH_POINT("sender-after-sending-commit");
	submit_picked(s, &p);
}

/* The longest delay the sender ever sets, and then some. */
static int64_t horizon_ms(const struct fw_sender *s)
{
	int64_t h = 60000; /* admit()'s longest wait */

	if ((int64_t)s->policy.cap_ms > h)
		h = s->policy.cap_ms;
	if ((int64_t)s->policy.retry_after_max_s * 1000 > h)
		h = (int64_t)s->policy.retry_after_max_s * 1000;
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

/*
 * While an account's circuit is open and records wait for it, a GET (the
 * driver's probe: Twilio's account fetch, Meta's phone number) asks every
 * PROBE_MS whether its provider answers again. It sends no message, so it
 * may go as often as that: the backlog is due at most PROBE_MS after the
 * provider is back, not after the breaker's open time or a record's backoff.
 */
static void probe_links(struct fw_sender *s, uint64_t now)
{
	for (struct account *a = s->accounts; a; a = a->next) {
		struct ctx *c;

		if (!a->link_held || a->probing || now < a->probe_next || !a->drv->probe_url ||
		    fw_breaker_state(&a->breaker, now) == FW_BREAKER_CLOSED || !(c = ctx_get(s)))
			continue;
		a->probe_next = now + PROBE_MS;
		c->busy = c->probing = true;
		c->fw = s->fw;
		c->seq = 0;
		c->acct = a;
		c->build_rc = a->drv->probe_url(&a->msg, &c->url);
		c->req = (struct net_http_req){.method = NET_HTTP_GET, .url = c->url,
					       .ca_file = a->ca_file, .done = on_done};
		if (c->build_rc != ERR_OK ||
		    net_provider_auth(a->drv, &a->msg, false, &c->req, c->hdr) != ERR_OK ||
		    net_http_submit(s->fw->http, &c->req) != ERR_OK) {
			ctx_release(c);
			continue;
		}
		a->probing = true;
		s->inflight++;
	}
}

static void on_tick(struct hal_timer *t)
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
		hal_timer_set(fw->loop, &s->tick, IDLE_RECHECK_MS);
		return;
	}
	if (s->hold)
		log_info("sender: the wall clock is valid; sending");
	s->hold = NULL;
	uint64_t token_wait = IDLE_RECHECK_MS;
	room = s->n_settle ? 0 : room_now(s, &token_wait);
	if (room) {
		take_due(s, room, &next_due);
		s->backlog = next_due >= 0 && next_due <= hal_wall_ms();
	}
	probe_links(s, hal_now_ms());
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

static void pause_account(struct fw *fw, struct account *a, const struct net_send_outcome *o)
{
	if (a->paused_until > hal_now_ms())
		return;
	a->paused_until = hal_now_ms() + AUTH_PAUSE_MS;
	snprintf(a->pause_reason, sizeof(a->pause_reason),
		 "credentials refused (code %d: %.120s); sends paused, retrying in 5 min or on reload",
		 o->code, o->text);
	fw_error(fw, "account %s: %s", a->name, a->pause_reason);
}

/* Credentials refused: the account is paused before the same flush picks
 * its next records, or another request would go out with the refused
 * credentials a few milliseconds later. An in-memory pause: a commit that
 * fails only leaves it paused early. */
static void pause_first(struct fw *fw, const struct done *d)
{
	if (d->next == FW_NEXT_PAUSE && d->acct)
		pause_account(fw, d->acct, &d->out);
}

/* A resend after an attempt that did not reach the provider, unless the
 * attempts are used up. */
static void resend(struct fw_sender *s, struct done *d, struct store_msg *m, int64_t wall)
{
	m->flags &= ~(uint32_t)STORE_F_RECONCILE;
	if (m->attempts < s->policy.max_attempts) {
		d->next = FW_NEXT_RETRY;
		m->state = STORE_RETRY;
		m->due_ms = wall;
		return;
	}
	d->next = FW_NEXT_EXPIRED;
	m->state = STORE_EXPIRED;
	snprintf(d->why, sizeof(d->why), "gave up after %u attempts; the last one %s", m->attempts,
		 d->out.text);
	m->err_text = d->why;
}

/*
 * An attempt that failed for want of an answer (refused, reset, DNS, TLS,
 * 5xx) is the link's failure, not the message's: marked, so it is due at
 * once when the provider answers again (forward_link). While the circuit is
 * open (breaker_note ran first) it waits parked instead of backing off, if
 * no fallback account can take it (pick_account sends it there).
 */
static void link_failed(struct done *d, struct store_msg *m)
{
	int cls = d->out.cls;

	if (!d->acct || (cls != NET_TRANSIENT && cls != NET_AMBIGUOUS))
		return;
	m->flags |= STORE_F_LINK_FAILED;
	if (fw_breaker_state(&d->acct->breaker, hal_now_ms()) == FW_BREAKER_CLOSED) {
		if (d->acct->n_recent < LINK_RECENT)
			d->acct->recent[d->acct->n_recent++] = m->seq;
	} else if (!d->acct->fallback[0]) {
		hold_for_link(d->acct, m);
	}
}

/* Applies a reconciliation's answer to its record. */
static void settle_recon(struct fw_sender *s, struct done *d, struct store_msg *m, int64_t wall)
{
	const struct net_send_outcome *o = &d->out;

	m->updated_ms = wall;
	m->err_class = (uint8_t)o->cls;
	m->err_code = o->code;
	m->err_text = o->text;
	switch (d->recon) {
	case FW_RECON_FOUND:
		d->next = FW_NEXT_SENT;
		m->state = STORE_SENT;
		m->provider_id = o->id;
		m->flags &= ~(uint32_t)STORE_F_RECONCILE;
		return;
	case FW_RECON_ABSENT:
		resend(s, d, m, wall);
		return;
	default: /* the provider could not be asked */
		break;
	}
	if (o->cls == NET_AUTH) {
		d->next = FW_NEXT_PAUSE;
		m->state = STORE_QUEUED;
		m->due_ms = wall;
	} else if (o->cls == NET_TRANSIENT || o->cls == NET_RATE) {
		uint64_t delay = fw_backoff_ms(m->attempts ? m->attempts : 1, &s->policy,
					       (uint32_t)random());
		if (o->retry_after_s > 0 && (uint64_t)o->retry_after_s * 1000 > delay)
			delay = (uint64_t)o->retry_after_s * 1000;
		d->next = FW_NEXT_RETRY;
		m->state = STORE_RETRY;
		m->due_ms = wall + (int64_t)delay;
		link_failed(d, m);
	} else {
		/* It will never answer (a refused list, a reply we cannot
		 * read): sending again is the duplicate budget, spent. */
		snprintf(d->why, sizeof(d->why), "could not be reconciled (%.200s); sent again",
			 o->text);
		m->err_text = d->why;
		d->recon = FW_RECON_ABSENT;
		resend(s, d, m, wall);
		if (m->state == STORE_RETRY)
			m->err_text = d->why;
	}
}

/* Applies one attempt's outcome to its record; counters wait for the commit. */
static void settle(struct fw_sender *s, struct done *d, struct store_msg *m, int64_t wall)
{
	const struct net_send_outcome *o = &d->out;
	uint64_t delay = 0;

	if (d->recon) {
		settle_recon(s, d, m, wall);
		return;
	}
	d->next = fw_retry_next(o->cls, m->attempts, o->retry_after_s, &s->policy,
				(uint32_t)random(), &delay);
	m->updated_ms = wall;
	m->err_class = (uint8_t)o->cls;
	m->err_code = o->code;
	m->err_text = o->text;
	if (o->cls == NET_AMBIGUOUS)
		m->flags |= STORE_F_AMBIGUOUS;
	if (o->cls == NET_AMBIGUOUS && reconcilable(d->acct)) {
		/* Ask before anything else, even with no attempts left: it
		 * may have gone out. */
		m->flags |= STORE_F_RECONCILE;
		d->next = FW_NEXT_RETRY;
		delay = delay > FW_RECON_DELAY_MS ? delay : FW_RECON_DELAY_MS;
	}
	switch (d->next) {
	case FW_NEXT_SENT:
		m->state = STORE_SENT;
		m->provider_id = o->id;
		m->provider_status = o->status; /* Meta: accepted, held_for_quality_assessment... */
		m->err_text = "";
		break;
	case FW_NEXT_PAUSE:
		m->attempts--; /* a refused credential is not the message's fault */
		m->state = STORE_QUEUED;
		m->due_ms = wall;
		break;
	case FW_NEXT_FAILED:
		m->state = STORE_FAILED;
		break;
	case FW_NEXT_EXPIRED:
		snprintf(d->why, sizeof(d->why), "gave up after %u attempts; last: %s", m->attempts,
			 o->text);
		m->err_text = d->why;
		m->state = STORE_EXPIRED;
		break;
	case FW_NEXT_RETRY:
		m->state = STORE_RETRY;
		m->due_ms = wall + (int64_t)delay;
		link_failed(d, m);
		break;
	case FW_NEXT_SUPPRESSED: /* set by fw_consent_settle, after this */
		break;
	}
}

/* One structured log line for a final outcome: the recipient goes to the
 * log ring in the clear, masked into the text. */
static void log_outcome(const struct done *d, const char *what)
{
	struct log_ctx ctx = {.event_id = d->event_id, .msg_seq = d->seq, .to = d->to};
	char masked[CFG_PHONE_MAX];

	cfg_phone_mask(d->to, masked);
	log_msg(LOG_INFO, &ctx, "sender: message #%llu to %s %s (event %s)",
		(unsigned long long)d->seq, masked, what, d->event_id);
}

/* An outcome as its account's breaker sees it. */
static void breaker_note(struct fw *fw, struct account *a, int cls)
{
	struct fw_breaker *b = &a->breaker;
	char drain[64] = "";

	switch (fw_breaker_outcome(b, cls, hal_now_ms())) {
	case FW_BREAKER_OPENED:
		fw_error(fw, "account %s: %u failures in a row without an answer; circuit open "
			 "for %llu s%s%s%s", a->name, b->run,
			 (unsigned long long)((b->open_until - hal_now_ms() + 999) / 1000),
			 a->fallback[0] ? ", messages go to " : "", a->fallback,
			 a->fallback[0] ? "" : ", messages wait for it to answer a probe");
		break;
	case FW_BREAKER_CLOSED_AGAIN:
		fw->n.failbacks++;
		a->draining += a->link_held;
		a->link_held = 0;
		if (a->n_recent) {
			a->forward = true;
			hal_timer_set(fw->loop, &fw->sender->forward, 0);
		}
		if (a->draining)
			snprintf(drain, sizeof(drain), "; draining %u after an outage", a->draining);
		log_info("sender: account %s answers again; circuit closed%s%s", a->name,
			 a->fallback[0] ? ", messages fail back" : "", drain);
		if (a->draining)
			fw_templates_release(fw); /* every parked record: due now, oldest first */
		break;
	case FW_BREAKER_SAME:
		/* An answer with the circuit closed ends a run of link
		 * failures short of opening it: their backoffs stay short. */
		if (cls != NET_TRANSIENT && cls != NET_AMBIGUOUS && cls != NET_AUTH &&
		    fw_breaker_state(b, hal_now_ms()) == FW_BREAKER_CLOSED && !a->forward)
			a->n_recent = 0;
		break;
	}
}

/* The provider answers again: the records whose attempt failed for the
 * link before the circuit opened, and still wait out a backoff, are due
 * now (the parked ones come back with the release walk). */
static void on_forward(struct hal_timer *t)
{
	struct fw_sender *s = container_of(t, struct fw_sender, forward);
	int64_t wall = hal_wall_ms();
	struct store_txn *txn = NULL;
	unsigned moved = 0;
	int rc;

	if (s->stopping || s->fw->stopping)
		return;
	rc = store_begin(s->fw->store, 0, &txn);
	for (struct account *a = s->accounts; rc == ERR_OK && a; a = a->next) {
		for (unsigned i = 0; a->forward && rc == ERR_OK && i < a->n_recent; i++) {
			struct store_msg m;

			rc = store_outbox_get(txn, a->recent[i], &m);
			if (rc == ERR_NOTFOUND) {
				rc = ERR_OK;
				continue;
			}
			if (rc != ERR_OK || !(m.flags & STORE_F_LINK_FAILED) || m.due_ms <= wall ||
			    m.due_ms == STORE_DUE_PARKED ||
			    (m.state != STORE_QUEUED && m.state != STORE_RETRY))
				continue;
			m.due_ms = wall;
			rc = store_outbox_update(txn, &m);
			moved++;
		}
	}
	rc = rc == ERR_OK ? store_commit(txn) : (store_abort(txn), rc);
	if (rc == ERR_FULL) {
		hal_timer_set(s->fw->loop, &s->forward, FULL_RETRY_MS);
		return;
	}
	if (rc != ERR_OK) {
		fw_fatal(s->fw, "making due what waited for the link", rc);
		return;
	}
	for (struct account *a = s->accounts; a; a = a->next) {
		if (a->forward)
			a->n_recent = 0;
		a->forward = false;
	}
	if (moved)
		fw_sender_kick(s->fw);
}

/* The reason a record failed, as the outbox has it: a reason made here
 * (a provider that handed out an id twice after its 201, a closed window)
 * says more than the answer's text, which may be empty for a 2xx. */
static const char *reason(const struct done *d)
{
	return d->why[0] ? d->why : d->out.text;
}

static void failed_error(struct fw *fw, const struct done *d)
{
	const struct net_send_outcome *o = &d->out;

	if (o->cls == NET_OK) /* refused after the provider took it */
		fw_error(fw, "message #%llu failed: %.200s", (unsigned long long)d->seq,
			 reason(d));
	else
		fw_error(fw, "message #%llu failed: %s %d: %.200s", (unsigned long long)d->seq,
			 net_class_name(o->cls), o->code, reason(d));
}

/* A failed attempt that will be tried again: a 429 or a 500 before a
 * success would otherwise leave no trace but the attempt count. */
static void log_attempt(const struct done *d)
{
	const struct net_send_outcome *o = &d->out;
	struct log_ctx ctx = {.event_id = d->event_id, .msg_seq = d->seq, .to = d->to};

	char next[48];

	if (d->parked)
		snprintf(next, sizeof(next), "waits for the provider to answer");
	else
		snprintf(next, sizeof(next), "next try in %lld ms",
			 (long long)(d->retry_in_ms > 0 ? d->retry_in_ms : 0));
	log_msg(LOG_INFO, &ctx, "sender: message #%llu attempt %u: %s %d: %.200s; %s",
		(unsigned long long)d->seq, d->attempts, net_class_name(o->cls), o->code,
		reason(d), next);
}

/* After the commit: counters, error reports. */
static void settled(struct fw_sender *s, const struct done *d)
{
	const struct net_send_outcome *o = &d->out;
	struct fw *fw = s->fw;

	if (o->cls == NET_AMBIGUOUS && !d->recon)
		fw->n.ambiguous++;
	if (d->recon == FW_RECON_FOUND || d->recon == FW_RECON_ABSENT) {
		if (d->recon == FW_RECON_FOUND)
			fw->n.reconciled++;
		else
			fw->n.resent++;
		log_info("sender: message #%llu: %s%s", (unsigned long long)d->seq, o->text,
			 d->recon == FW_RECON_FOUND ? ", not sent again" : "");
	}
	switch (d->next) {
	case FW_NEXT_SENT:
		fw->n.sent++;
		if (d->acct)
			d->acct->sent++;
		log_outcome(d, "sent");
		break;
	case FW_NEXT_PAUSE: /* paused before the commit (pause_first) */
		break;
	case FW_NEXT_FAILED:
		fw->n.failed++;
		if (d->acct)
			d->acct->failed++;
		if (d->acct && o->cls == NET_TEMPLATE)
			fw_templates_suspect(fw, d->acct->name);
		failed_error(fw, d);
		log_outcome(d, "failed");
		break;
	case FW_NEXT_EXPIRED:
		fw->n.expired++;
		log_outcome(d, "expired");
		break;
	case FW_NEXT_RETRY:
		fw->n.retries++;
		if (!d->recon)
			log_attempt(d);
		break;
	case FW_NEXT_SUPPRESSED: /* counted by consent.c */
		log_outcome(d, "suppressed: the recipient opted out");
		break;
	}
}

/* A request of account c->acct ended: its answer time and slow start. */
static void paced(struct fw_sender *s, const struct ctx *c)
{
	struct account *a = c->acct;

	a->inflight -= a->inflight > 0;
	if (c->reconciling)
		return;
	if (c->answer_ms >= 0) {
		a->answer_ms += ((double)c->answer_ms - a->answer_ms) * ANSWER_WEIGHT;
		a->ramp++;
	} else if (c->out.cls == NET_TRANSIENT || c->out.cls == NET_AMBIGUOUS) {
		a->ramp = a->ramp / 2 > 1 ? a->ramp / 2 : 1;
	}
	adapt(a, s->pool_n);
}

/* Moves finished requests' outcomes into s->settle and frees their slots. */
static void collect_done(struct fw_sender *s)
{
	struct ctx *c = s->done_head;

	s->done_head = NULL;
	while (c) {
		struct ctx *next = c->next_done;
		struct done *d;

		if (c->probing) { /* no record: only the breaker hears of it */
			if (c->acct) {
				c->acct->probing = false;
				if (c->out.cls == NET_OK)
					breaker_note(s->fw, c->acct, NET_OK);
			}
			ctx_release(c);
			s->inflight--;
			c = next;
			continue;
		}
		if (c->acct)
			paced(s, c);
		d = &s->settle[s->n_settle++];
		d->seq = c->seq;
		d->acct = c->acct;
		d->out = c->out;
		d->recon = c->reconciling ? (int)c->step : 0;
		d->why[0] = '\0';
		d->attempts = 0;
		d->retry_in_ms = 0;
		ctx_release(c);
		s->inflight--;
		c = next;
	}
}

/* The stored counts of reconciliation answers, for the checker and for a
 * restarted daemon's status. */
static int count_recon(struct store_txn *txn, const struct done *d)
{
	if (d->recon == FW_RECON_FOUND)
		return store_stat_add(txn, "reconciled", 1);
	if (d->recon == FW_RECON_ABSENT)
		return store_stat_add(txn, "resent", 1);
	return ERR_OK;
}

/*
 * The message id the outcome names is another record's already. A
 * reconciliation that took it (an unclaimed message when it looked) gives it
 * up to a send that made it: the send is sure, the reconciliation guessed by
 * the text, and goes back to ask again. Anything else is a provider handing
 * out an id twice; the message is failed with that reason, not lost from
 * sight.
 */
static int claimed(struct store_txn *txn, struct done *d, struct store_msg *m, int64_t wall)
{
	struct store_msg h;
	uint64_t holder = 0;
	int rc;

	if (d->recon == FW_RECON_FOUND) {
		d->recon = FW_RECON_FAILED;
		d->next = FW_NEXT_RETRY;
		m->state = STORE_RETRY;
		m->due_ms = wall;
		m->provider_id = m->provider_status = "";
		m->flags |= STORE_F_RECONCILE;
		m->err_text = "the message found was claimed meanwhile; asking again";
		return store_outbox_update(txn, m);
	}
	rc = store_sid_get(txn, m->provider_id, &holder);
	if (rc == ERR_OK)
		rc = store_outbox_get(txn, holder, &h);
	if (rc == ERR_OK && h.state == STORE_SENT && (h.flags & STORE_F_AMBIGUOUS)) {
		h.state = STORE_RETRY;
		h.due_ms = wall;
		h.provider_id = h.provider_status = "";
		h.flags |= STORE_F_RECONCILE;
		h.err_text = "the message it was matched to was another send's; asking again";
		rc = store_outbox_update(txn, &h);
		if (rc == ERR_OK)
			rc = store_stat_add(txn, "reconciled", -1);
		if (rc == ERR_OK)
			return store_outbox_update(txn, m);
		return rc;
	}
	if (rc != ERR_OK && rc != ERR_NOTFOUND)
		return rc;
	snprintf(d->why, sizeof(d->why), "the provider gave id %.64s, already #%llu's",
		 m->provider_id, (unsigned long long)holder);
	d->next = FW_NEXT_FAILED;
	m->state = STORE_FAILED;
	m->provider_id = m->provider_status = "";
	m->err_text = d->why;
	return store_outbox_update(txn, m);
}

/*
 * Records the outcomes gathered since the first one arrived, and in the same
 * transaction hands the freed slots to the next due records: one commit (one
 * fsync) per window for both, instead of two per message. If the store is
 * full the outcomes wait in memory and the commit is tried again; nothing
 * new is taken meanwhile.
 */
static void flush_done(struct fw_sender *s)
{
	struct pick p = {.next_due = -1};
	struct store_txn *txn;
	int64_t wall = hal_wall_ms();
	uint64_t token_wait;
	int rc;

	collect_done(s);
	/* No room check: ingest stops short of a reserve (firmware/upkeep.c)
	 * that is the sender's to use. */
	rc = store_begin(s->fw->store, 0, &txn);
	for (unsigned i = 0; rc == ERR_OK && i < s->n_settle; i++) {
		struct store_msg m;

		rc = store_outbox_get(txn, s->settle[i].seq, &m);
		if (rc != ERR_OK)
			break;
		snprintf(s->settle[i].event_id, sizeof(s->settle[i].event_id), "%s", m.event_id);
		snprintf(s->settle[i].to, sizeof(s->settle[i].to), "%s", m.to);
		if (s->settle[i].acct) /* first: whether the link is down decides the retry */
			breaker_note(s->fw, s->settle[i].acct, s->settle[i].out.cls);
		settle(s, &s->settle[i], &m, wall);
		if (!s->settle[i].recon)
			rc = fw_consent_settle(s->fw, txn, &s->settle[i].out, &m,
					       &s->settle[i].next, s->settle[i].why,
					       sizeof(s->settle[i].why), wall);
		if (rc == ERR_OK)
			rc = store_outbox_update(txn, &m);
		if (rc == ERR_EXISTS)
			rc = claimed(txn, &s->settle[i], &m, wall);
		if (rc == ERR_OK)
			rc = count_recon(txn, &s->settle[i]);
		s->settle[i].attempts = m.attempts;
		s->settle[i].retry_in_ms = m.due_ms - wall;
		s->settle[i].parked = m.due_ms == STORE_DUE_PARKED;
		pause_first(s->fw, &s->settle[i]);
		if (rc == ERR_OK && s->settle[i].next == FW_NEXT_SENT && m.state == STORE_SENT)
			rc = fw_delivery_sent(s->fw, txn, m.seq); /* status tracking, "sent" receipt */
		else if (rc == ERR_OK && ended(m.state))
			rc = fw_delivery_ended(s->fw, txn, m.seq); /* its receipt */
	}
	if (rc == ERR_OK && may_send(s)) {
		unsigned room = room_now(s, &token_wait);
		if (room) {
			rc = pick_due(s, txn, room, &p);
			s->backlog = p.next_due >= 0 && p.next_due <= wall;
		}
	}
	for (unsigned i = 0; rc == ERR_OK && i < s->n_settle; i++)
		if (s->settle[i].out.cls == NET_OK)
			OUTPOST_CRASH_POINT("sender-before-sent-commit");
	rc = rc == ERR_OK ? store_commit(txn) : (store_abort(txn), rc);
	if (rc == ERR_FULL) {
		pick_abandon(s, &p);
		if (hal_ratelimit_ok(&s->full_rl, 1, 60000))
			fw_error(s->fw, "store full: %u send results wait in memory to be recorded",
				 s->n_settle);
		hal_timer_set(s->fw->loop, &s->flush, FULL_RETRY_MS);
		return;
	}
	if (rc != ERR_OK) {
		pick_abandon(s, &p);
		fw_fatal(s->fw, "recording send results", rc);
		return;
	}
	for (unsigned i = 0; i < s->n_settle; i++)
		settled(s, &s->settle[i]);
	s->n_settle = 0;
	submit_picked(s, &p);
	fw_receipts_kick(s->fw);
	fw_sender_kick(s->fw);
}

static void on_flush(struct hal_timer *t)
{
	flush_done(container_of(t, struct fw_sender, flush));
}

void fw_sender_drain(struct fw *fw)
{
	if (fw->sender && (fw->sender->done_head || fw->sender->n_settle))
		flush_done(fw->sender);
}

struct found {
	uint64_t *seqs;
	unsigned n;
};

static int collect(const struct store_msg *m, void *arg)
{
	struct found *f = arg;

	f->seqs[f->n++] = m->seq;
	return 0;
}

/*
 * Records found SENDING at start were out when we died: the provider may
 * or may not have them. They are marked ambiguous and counted, and asked
 * about before a resend (a little later, so that a request the provider was
 * still working on is made by then). One that was being reconciled is
 * asked about again, not counted twice.
 */
static void recover_one(struct fw_sender *s, struct store_msg *m, int64_t wall, unsigned *fresh)
{
	bool again = (m->flags & STORE_F_RECONCILE) != 0;

	m->state = STORE_RETRY;
	m->flags |= STORE_F_AMBIGUOUS;
	if (reconcilable(account_find(s, m->account)))
		m->flags |= STORE_F_RECONCILE;
	m->due_ms = again ? wall : wall + FW_RECON_DELAY_MS;
	if (again)
		return;
	(*fresh)++;
	m->err_class = NET_AMBIGUOUS;
	m->err_text = "was being sent when outpostd stopped; outcome unknown";
}

int fw_sender_recover(struct fw *fw)
{
	struct found f = {.seqs = fw->sender->seqs};
	unsigned total = 0, counted = 0;
	int rc;

	do {
		struct store_txn *t;
		unsigned fresh = 0;

		f.n = 0;
		rc = store_begin(fw->store, 0, &t);
		if (rc != ERR_OK)
			return rc;
		rc = store_outbox_list(t, STORE_SENDING, 0, 256, collect, &f);
		for (unsigned i = 0; rc == ERR_OK && i < f.n; i++) {
			struct store_msg m;
			rc = store_outbox_get(t, f.seqs[i], &m);
			if (rc != ERR_OK)
				break;
			recover_one(fw->sender, &m, hal_wall_ms(), &fresh);
			rc = store_outbox_update(t, &m);
		}
		rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
		total += f.n;
		counted += rc == ERR_OK ? fresh : 0;
	} while (rc == ERR_OK && f.n == 256);
	fw->n.ambiguous += counted;
	if (total)
		log_warn("sender: %u messages were in flight at the last stop; asking the provider whether they went out before sending them again",
			 total);
	return rc;
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
	struct account *a = s ? account_find(s, account) : NULL;
	uint64_t now = hal_now_ms(), wait;

	if (!a || !a->msg.user || a->paused_until > now || (s->backlog && a->sends_since_poll < POLL_SHARE))
		return false;
	if (!take_token(a, now, &wait))
		return false;
	a->sends_since_poll = 0;
	return true;
}

void fw_sender_kick(struct fw *fw)
{
	struct fw_sender *s = fw->sender;

	if (s && !s->stopping && !(s->tick.pending && hal_timer_remaining(&s->tick) == 0))
		hal_timer_set(fw->loop, &s->tick, 0);
}

int fw_sender_init(struct fw *fw)
{
	struct fw_sender *s = calloc(1, sizeof(*s));

	if (!s)
		return ERR_NOMEM;
	fw->sender = s;
	s->fw = fw;
	s->tick.cb = on_tick;
	s->flush.cb = on_flush;
	s->forward.cb = on_forward;
	s->pool_n = fw->cfg->sender.max_inflight;
	s->pool = calloc(s->pool_n, sizeof(*s->pool));
	s->seqs = calloc(256, sizeof(*s->seqs));
	s->settle = calloc(s->pool_n, sizeof(*s->settle));
	if (!s->pool || !s->seqs || !s->settle)
		return ERR_NOMEM;
	return fw_sender_reconfigure(fw);
}

void fw_sender_stop(struct fw *fw)
{
	fw->sender->stopping = true;
	hal_timer_cancel(fw->loop, &fw->sender->tick);
}

bool fw_sender_idle(const struct fw *fw)
{
	return !fw->sender || (fw->sender->inflight == 0 && !fw->sender->done_head &&
			       !fw->sender->n_settle);
}

const char *fw_sender_hold_reason(const struct fw *fw)
{
	return fw->sender ? fw->sender->hold : NULL;
}

void fw_sender_free(struct fw *fw)
{
	struct fw_sender *s = fw->sender;

	if (!s)
		return;
	hal_timer_cancel(fw->loop, &s->tick);
	hal_timer_cancel(fw->loop, &s->flush);
	hal_timer_cancel(fw->loop, &s->forward);
	for (unsigned i = 0; i < s->pool_n; i++)
		ctx_release(&s->pool[i]);
	while (s->accounts) {
		struct account *next = s->accounts->next;
		account_free(s->accounts);
		s->accounts = next;
	}
	free(s->pool);
	free(s->seqs);
	free(s->settle);
	free(s);
	fw->sender = NULL;
}

static void breaker_status(const struct account *a, uint64_t now, cJSON *o)
{
	static const char *const names[] = {"closed", "open", "half-open"};
	const struct fw_breaker *b = &a->breaker;
	enum fw_breaker_state st = fw_breaker_state(b, now);
	cJSON *c = cJSON_AddObjectToObject(o, "circuit");

	if (!c)
		return;
	cJSON_AddStringToObject(c, "state", names[st]);
	cJSON_AddNumberToObject(c, "failures_in_a_row", b->run);
	if (st == FW_BREAKER_OPEN)
		cJSON_AddNumberToObject(c, "open_for_s", (double)((b->open_until - now + 999) / 1000));
	cJSON_AddNumberToObject(c, "trips", (double)b->trips);
	cJSON_AddNumberToObject(c, "failovers", (double)b->failovers);
	cJSON_AddNumberToObject(c, "failbacks", (double)b->failbacks);
	if (a->fallback[0])
		cJSON_AddStringToObject(c, "fallback", a->fallback);
}

void fw_sender_status(const struct fw *fw, cJSON *arr)
{
	uint64_t now = hal_now_ms();

	for (struct account *a = fw->sender->accounts; a; a = a->next) {
		cJSON *o = cJSON_CreateObject();
		bool paused = a->paused_until > now;

		cJSON_AddStringToObject(o, "name", a->name);
		cJSON_AddStringToObject(o, "provider", a->drv ? a->drv->name : "?");
		cJSON_AddStringToObject(o, "state", paused ? "paused" : "ok");
		cJSON_AddStringToObject(o, "reason", paused ? a->pause_reason : "");
		cJSON_AddNumberToObject(o, "sent", (double)a->sent);
		cJSON_AddNumberToObject(o, "failed", (double)a->failed);
		cJSON_AddNumberToObject(o, "rate_per_s", a->rate);
		/* an outage: records waiting for the provider to answer, and
		 * those still to go since it did */
		cJSON_AddNumberToObject(o, "held_for_link", a->link_held);
		cJSON_AddNumberToObject(o, "draining", a->draining);
		cJSON_AddNumberToObject(o, "inflight", a->inflight);
		cJSON_AddNumberToObject(o, "inflight_limit", a->limit);
		cJSON_AddNumberToObject(o, "answer_ms", (double)(int64_t)(a->answer_ms + 0.5));
		cJSON_AddStringToObject(o, "limited_by", a->capped ? "sender.max_inflight" : "rate");
		breaker_status(a, now, o);
		cJSON_AddItemToArray(arr, o);
	}
}
