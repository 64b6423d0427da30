/*
 * template_gate.c - the gate in front of the sender for templates that are
 * not approved (firmware/templates.h).
 *
 * A held record is parked: its due time becomes STORE_DUE_PARKED, so the
 * due index never offers it again and a held backlog costs the sender
 * nothing. After every successful sync (and a reload, and at least once an
 * interval) the parked records are brought back to due now, 256 per
 * transaction, each chunk on its own loop turn; the sender's admit path asks the gate again and parks again what is
 * still not approved. Expiry is checked before the gate, so a held message
 * expires at the first look after its TTL (at most one sync interval late).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define RELEASE_CHUNK 256

enum fw_tpl_verdict fw_tpl_decide(bool approved, int unapproved_policy)
{
	if (approved)
		return FW_TPL_SEND;
	return unapproved_policy == CFG_UNAPPROVED_FAIL ? FW_TPL_FAIL : FW_TPL_HOLD;
}

static const char *config_status(const struct cfg_template *t)
{
	return t->status == CFG_TPL_APPROVED ? "approved" :
	       t->status == CFG_TPL_PENDING ? "pending" : "rejected";
}

bool fw_templates_sendable(const struct fw *fw, const char *account,
			   const struct cfg_template *t, char *why, size_t whylen)
{
	const struct fw_tpl_state *s = fw_templates_state(fw, account, t);

	if (s && s->known) {
		if (!s->approved)
			snprintf(why, whylen, "template %s is %s at the provider%s%.200s", t->name,
				 s->status, s->reason[0] ? ": " : "", s->reason);
		return s->approved;
	}
	if (t->status != CFG_TPL_APPROVED)
		snprintf(why, whylen, "template %s is not approved (status %s in the config; no "
			 "sync has seen it yet)", t->name, config_status(t));
	return t->status == CFG_TPL_APPROVED;
}

bool fw_templates_admit(struct fw *fw, struct store_msg *m, const char *account)
{
	struct fw_tpl_gate *g = fw_templates_gate(fw);
	const struct cfg_template *t = cfg_template_find(fw->cfg, m->template_name);
	const struct cfg_route *r;
	enum fw_tpl_verdict v;

	/* Free-form text inside the 24 h window (consent.c decided) is no
	 * template. A record whose template left the config carries its
	 * ContentSid: nothing here knows better than what was checked at
	 * ingest. */
	if (!g || !t || (m->flags & STORE_F_FREEFORM) ||
	    fw_templates_sendable(fw, account, t, g->why, sizeof(g->why)))
		return true;
	r = cfg_route_find(fw->cfg, m->route);
	v = fw_tpl_decide(false, r ? (int)r->unapproved : CFG_UNAPPROVED_HOLD);
	m->err_text = g->why;
	m->err_class = NET_TEMPLATE;
	m->err_code = 0;
	if (v == FW_TPL_FAIL) {
		m->state = STORE_FAILED;
		g->failed++;
		fw->n.failed++;
		log_msg(LOG_INFO, &(struct log_ctx){.event_id = m->event_id, .msg_seq = m->seq},
			"templates: message #%llu failed: %s (route %s: unapproved fail)",
			(unsigned long long)m->seq, g->why, m->route);
		return false;
	}
	m->due_ms = STORE_DUE_PARKED;
	g->held++;
	log_msg(LOG_DEBUG, &(struct log_ctx){.event_id = m->event_id, .msg_seq = m->seq},
		"templates: message #%llu held: %s", (unsigned long long)m->seq, g->why);
	return false;
}

/* Whether any record is parked above after_seq: a look in a read-only txn,
 * so that a release with nothing to release begins no write transaction
 * (each dirties a page of lmdb's lock file). On a failure: yes. */
static bool any_parked(struct fw_tpl_gate *g)
{
	struct store_txn *t;
	uint64_t seq;
	unsigned n = 0;

	if (store_begin(g->fw->store, STORE_RDONLY, &t) != ERR_OK)
		return true;
	if (store_outbox_parked(t, g->release_after, 1, &seq, &n) != ERR_OK)
		n = 1;
	store_abort(t);
	return n > 0;
}

/* One chunk of parked records back to due now; false when the walk is done. */
static bool release_chunk(struct fw_tpl_gate *g, unsigned *moved)
{
	uint64_t seqs[RELEASE_CHUNK];
	int64_t wall = hal_wall_ms();
	struct store_txn *t;
	unsigned n = 0;
	int rc;

	if (!any_parked(g))
		return false;
	rc = store_begin(g->fw->store, 0, &t);
	if (rc == ERR_OK)
		rc = store_outbox_parked(t, g->release_after, RELEASE_CHUNK, seqs, &n);
	for (unsigned i = 0; rc == ERR_OK && i < n; i++) {
		struct store_msg m;

		rc = store_outbox_get(t, seqs[i], &m);
		if (rc != ERR_OK)
			break;
		m.due_ms = wall;
		rc = store_outbox_update(t, &m);
	}
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc == ERR_FULL) /* the store is full: try again in a second */
		return true;
	if (rc != ERR_OK) {
		fw_fatal(g->fw, "releasing held messages", rc);
		return false;
	}
	if (n)
		g->release_after = seqs[n - 1];
	*moved += n;
	return n == RELEASE_CHUNK;
}

static void on_release(struct hal_timer *tm)
{
	struct fw_tpl_gate *g = container_of(tm, struct fw_tpl_gate, release);
	unsigned moved = 0;

	if (g->fw->stopping)
		return;
	if (release_chunk(g, &moved)) {
		hal_timer_set(g->fw->loop, &g->release, moved ? 0 : 1000);
	} else if (g->release_again) {
		g->release_again = false;
		g->release_after = 0;
		hal_timer_set(g->fw->loop, &g->release, 0);
	}
	g->released += moved;
	if (moved)
		fw_sender_kick(g->fw);
}

void fw_templates_release(struct fw *fw)
{
	struct fw_tpl_gate *g = fw_templates_gate(fw);

	if (!g)
		return;
	g->release.cb = on_release;
	if (hal_timer_remaining(&g->release) >= 0) { /* a walk is on: once more after it */
		g->release_again = g->release_after != 0;
		return;
	}
	g->release_after = 0;
	hal_timer_set(fw->loop, &g->release, 0);
}
