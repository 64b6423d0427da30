/*
 * sender/link.c - the link to the providers: whether they answer, and what
 * waits while they do not (docs/RETRY.md, recovery after an outage).
 *
 * Every transfer's end notes the uplink for status. Each outcome goes to
 * its account's circuit breaker (firmware/breaker.c); an attempt that got
 * no answer marks its record, and while the circuit is open a record with
 * no fallback is held for the link (parked, counted) instead of backing
 * off. A probe asks every PROBE_MS whether the provider answers; when the
 * circuit closes, the held records and the run's backed-off ones are due
 * at once.
 *
 * Not here: the retry rule for a record (outcome.c), the choice of a
 * fallback account for a record (turn.c, pick_account).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "firmware/breaker.h"
#include "firmware/fw.h"
#include "firmware/sender/sender.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define PROBE_MS 1000

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

/* Parks m until a's provider answers again: an outage must not give it
 * ever longer backoffs, and it must not wait out one when the provider is
 * back (released with every parked record when the circuit closes). */
void fw_snd_hold_for_link(struct account *a, struct store_msg *m)
{
	m->due_ms = STORE_DUE_PARKED;
	if (m->flags & STORE_F_LINK_HELD)
		return; /* released by another walk and parked again: counted */
	m->flags |= STORE_F_LINK_HELD;
	m->account = a->name; /* whose count it is in (fw_snd_unhold) */
	a->link_held++;
}

/* A record goes (or expires): no longer the link's, out of its account's
 * counts if it was held. */
void fw_snd_unhold(struct fw_sender *s, struct store_msg *m)
{
	struct account *a;

	m->flags &= ~(uint32_t)STORE_F_LINK_FAILED;
	if (!(m->flags & STORE_F_LINK_HELD))
		return;
	m->flags &= ~(uint32_t)STORE_F_LINK_HELD;
	if (!(a = fw_snd_account_find(s, m->account)))
		return;
	if (a->draining)
		a->draining--;
	else if (a->link_held)
		a->link_held--;
}

/*
 * While an account's circuit is open and records wait for it, a GET (the
 * driver's probe: Twilio's account fetch, Meta's phone number) asks every
 * PROBE_MS whether its provider answers again. It sends no message, so it
 * may go as often as that: the backlog is due at most PROBE_MS after the
 * provider is back, not after the breaker's open time or a record's backoff.
 */
void fw_snd_probe_links(struct fw_sender *s, uint64_t now)
{
	for (struct account *a = s->accounts; a; a = a->next) {
		struct ctx *c;

		if (!a->link_held || a->probing || now < a->probe_next || !a->drv->probe_url ||
		    fw_breaker_state(&a->breaker, now) == FW_BREAKER_CLOSED || !(c = fw_snd_ctx_get(s)))
			continue;
		a->probe_next = now + PROBE_MS;
		c->busy = c->probing = true;
		c->fw = s->fw;
		c->seq = 0;
		c->acct = a;
		c->build_rc = a->drv->probe_url(&a->msg, &c->url);
		c->req = (struct net_http_req){.method = NET_HTTP_GET, .url = c->url,
					       .ca_file = a->ca_file, .done = fw_snd_on_done};
		if (c->build_rc != ERR_OK ||
		    net_provider_auth(a->drv, &a->msg, false, &c->req, c->hdr) != ERR_OK ||
		    net_http_submit(s->fw->http, &c->req) != ERR_OK) {
			fw_snd_ctx_release(c);
			continue;
		}
		a->probing = true;
		s->inflight++;
	}
}

/*
 * An attempt that failed for want of an answer (refused, reset, DNS, TLS,
 * 5xx) is the link's failure, not the message's: marked, so it is due at
 * once when the provider answers again (fw_snd_on_forward). While the
 * circuit is open (fw_snd_breaker_note ran first) it waits parked instead
 * of backing off, if no fallback account can take it (pick_account, turn.c,
 * sends it there).
 */
void fw_snd_link_failed(struct done *d, struct store_msg *m)
{
	int cls = d->out.cls;

	if (!d->acct || (cls != NET_TRANSIENT && cls != NET_AMBIGUOUS))
		return;
	m->flags |= STORE_F_LINK_FAILED;
	if (fw_breaker_state(&d->acct->breaker, hal_now_ms()) == FW_BREAKER_CLOSED) {
		if (d->acct->n_recent < LINK_RECENT)
			d->acct->recent[d->acct->n_recent++] = m->seq;
	} else if (!d->acct->fallback[0]) {
		fw_snd_hold_for_link(d->acct, m);
	}
}

/* An outcome as its account's breaker sees it. */
void fw_snd_breaker_note(struct fw *fw, struct account *a, int cls)
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
void fw_snd_on_forward(struct hal_timer *t)
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
