/*
 * sender/outcome.c - outcomes and their recording: what an answer (or its
 * absence) does to its record, and the commit that records it.
 *
 * settle applies the retry rule (firmware/retry.c) to a send's outcome:
 * sent, retry at a time, failed, expired, or a pause of the account for
 * refused credentials; an ambiguous one is reconciled before any resend.
 * settle_recon applies a reconciliation's answer. flush_done records every
 * outcome the loop had in hand when it went idle in one transaction, and in
 * the same one puts back ready records that cannot go and picks the next
 * due records (turn.c), so a burst costs one fsync; a
 * full store keeps the outcomes in memory until the commit succeeds. Only
 * after the commit: counters, log lines, error reports (settled).
 *
 * Not here: which records go and how fast (turn.c), and what a failure of
 * the link does beyond its own record - the breaker, held records, probes
 * (link.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/phone.h"
#include "firmware/consent.h"
#include "firmware/delivery.h"
#include "firmware/fw.h"
#include "firmware/quota.h"
#include "firmware/reconcile.h"
#include "firmware/retry.h"
#include "firmware/sender/sender.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define AUTH_PAUSE_MS (5 * 60 * 1000)

void fw_snd_pause(struct fw *fw, struct account *a, const struct net_send_outcome *o)
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
		fw_snd_pause(fw, d->acct, &d->out);
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
		fw_snd_link_failed(d, m);
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
	if (o->cls == NET_AMBIGUOUS && fw_snd_reconcilable(d->acct)) {
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
		fw_snd_link_failed(d, m);
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
					fw_snd_breaker_note(s->fw, c->acct, NET_OK);
			}
			fw_snd_ctx_release(c);
			s->inflight--;
			c = next;
			continue;
		}
		d = &s->settle[s->n_settle++];
		d->seq = c->seq;
		d->acct = c->acct;
		d->out = c->out;
		d->recon = c->reconciling ? (int)c->step : 0;
		d->why[0] = '\0';
		d->attempts = 0;
		d->retry_in_ms = 0;
		fw_snd_ctx_release(c);
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
 * Records the outcomes gathered since the last commit, and in the same
 * transaction puts back the ready records that cannot go and picks the next
 * due ones: one commit (one fsync) for all of it, instead of two per
 * message. If the store is
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
			fw_snd_breaker_note(s->fw, s->settle[i].acct, s->settle[i].out.cls);
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
		if (rc == ERR_OK && s->settle[i].next == FW_NEXT_SENT && m.state == STORE_SENT &&
		    s->settle[i].acct)
			rc = fw_quota_sent(s->fw, txn, s->settle[i].acct->name, m.seq); /* and cost */
		else if (rc == ERR_OK && fw_snd_ended(m.state))
			rc = fw_delivery_ended(s->fw, txn, m.seq); /* its receipt */
	}
	if (rc == ERR_OK && s->n_ready)
		rc = fw_snd_unready(s, txn, wall);
	if (rc == ERR_OK && fw_snd_may_send(s)) {
		unsigned room = fw_snd_room_now(s, &token_wait);
		if (room) {
			rc = fw_snd_pick_due(s, txn, room, &p);
			s->backlog = p.next_due >= 0 && p.next_due <= wall;
		}
	}
	for (unsigned i = 0; rc == ERR_OK && i < s->n_settle; i++)
		if (s->settle[i].out.cls == NET_OK)
			OUTPOST_CRASH_POINT("sender-before-sent-commit");
	rc = rc == ERR_OK ? store_commit(txn) : (store_abort(txn), rc);
	fw_snd_unready_end(s, rc == ERR_OK);
	if (rc == ERR_FULL) {
		fw_snd_pick_abandon(s, &p);
		if (hal_ratelimit_ok(&s->full_rl, 1, 60000))
			fw_error(s->fw, "store full: %u send results wait in memory to be recorded",
				 s->n_settle);
		hal_timer_set(s->fw->loop, &s->flush, FULL_RETRY_MS);
		return;
	}
	if (rc != ERR_OK) {
		fw_snd_pick_abandon(s, &p);
		fw_fatal(s->fw, "recording send results", rc);
		return;
	}
	for (unsigned i = 0; i < s->n_settle; i++) {
		if (s->settle[i].acct && !s->settle[i].recon && s->settle[i].acct->answered)
			s->settle[i].acct->answered--;
		settled(s, &s->settle[i]);
	}
	s->n_settle = 0;
	fw_snd_submit_picked(s, &p);
	fw_receipts_kick(s->fw);
	fw_sender_kick(s->fw);
}

void fw_snd_on_flush(struct hal_timer *t)
{
	flush_done(container_of(t, struct fw_sender, flush));
}

void fw_sender_drain(struct fw *fw)
{
	if (fw->sender && (fw->sender->done_head || fw->sender->n_settle || fw->sender->n_ready))
		flush_done(fw->sender);
}
