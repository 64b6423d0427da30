/*
 * sender/sender.c - the sender's lifecycle and its accounts: init, stop,
 * free, reconfigure (accounts rebuilt from the config, their counts, pace
 * and breaker carried over by name), recovery at start of the records a
 * previous run left SENDING, kick, idle, and the accounts' status.
 *
 * The sender itself is described in sender.h. Not here: the turn that
 * picks and paces records (turn.c), what outcomes do to records
 * (outcome.c), the link and outages (link.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/secrets.h"
#include "firmware/account.h"
#include "firmware/breaker.h"
#include "firmware/fw.h"
#include "firmware/reconcile.h"
#include "firmware/retry.h"
#include "firmware/sender/sender.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

static struct account *account_in(struct account *list, const char *name)
{
	for (struct account *a = list; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct account *fw_snd_account_find(struct fw_sender *s, const char *name)
{
	return account_in(s->accounts, name);
}

bool fw_sender_account(struct fw *fw, const char *name, struct fw_account_view *v)
{
	const struct account *a = fw->sender ? fw_snd_account_find(fw->sender, name) : NULL;

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
		old = fw_snd_account_find(s, a->name);
		if (old) {
			unsigned failures = a->breaker.failures, open_s = a->breaker.open_s;

			a->sent = old->sent;
			a->failed = old->failed;
			a->link_held = old->link_held;
			a->draining = old->draining;
			a->inflight = old->inflight;
			a->answered = old->answered;
			a->queued = old->queued;
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
		fw_snd_adapt(a, s->max_inflight);
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

/* Whether an ambiguous attempt of this account can be reconciled. */
bool fw_snd_reconcilable(const struct account *a)
{
	return a && a->drv && a->drv->list_url && a->drv->list_page;
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
	if (fw_snd_reconcilable(fw_snd_account_find(s, m->account)))
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
	s->tick.cb = fw_snd_on_tick;
	s->flush.cb = fw_snd_on_flush;
	s->forward.cb = fw_snd_on_forward;
	s->max_inflight = fw->cfg->sender.max_inflight;
	s->pool_n = 2 * s->max_inflight; /* in flight, and as many ready */
	s->ready_tail = &s->ready;
	s->next_due = -1;
	s->looked_commits = UINT64_MAX; /* the first turn looks */
	s->pool = calloc(s->pool_n, sizeof(*s->pool));
	s->seqs = calloc(256, sizeof(*s->seqs));
	s->settle = calloc(s->pool_n, sizeof(*s->settle));
	s->ride = calloc(1, sizeof(*s->ride));
	if (!s->pool || !s->seqs || !s->settle || !s->ride)
		return ERR_NOMEM;
	return fw_sender_reconfigure(fw);
}

void fw_sender_stop(struct fw *fw)
{
	fw->sender->stopping = true;
	hal_timer_cancel(fw->loop, &fw->sender->tick);
	if (fw->sender->n_ready) /* put back what was picked ahead */
		hal_timer_set(fw->loop, &fw->sender->flush, 0);
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
		fw_snd_ctx_release(&s->pool[i]);
	while (s->accounts) {
		struct account *next = s->accounts->next;
		account_free(s->accounts);
		s->accounts = next;
	}
	free(s->pool);
	free(s->seqs);
	free(s->settle);
	free(s->ride);
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
		cJSON_AddNumberToObject(o, "ready", a->queued);
		cJSON_AddNumberToObject(o, "inflight_limit", a->limit);
		cJSON_AddNumberToObject(o, "answer_ms", (double)(int64_t)(a->answer_ms + 0.5));
		cJSON_AddNumberToObject(o, "max_inflight", fw->sender->max_inflight);
		cJSON_AddStringToObject(o, "limited_by", a->capped ? "sender.max_inflight" : "rate");
		breaker_status(a, now, o);
		cJSON_AddItemToArray(arr, o);
	}
}
