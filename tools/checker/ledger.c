/*
 * ledger.c - what was published, delivered and stored, and the verdict.
 *
 * The unit of delivery is the (event id, recipient) pair: an event fanned
 * out to three phones is delivered when all three got it (or the outbox
 * says why one never will). A pair is
 *   delivered   the sim accepted it at least once;
 *   settled     the outbox holds it failed, expired or rejected;
 *   lost        neither, for a published event - queued, retrying, still
 *               "sending" or "sent" without the sim having it all count;
 * and every delivery beyond the first (per outbox record of the pair) is a
 * duplicate, which only an ambiguous send may excuse. The verdict compares
 * the totals (duplicated <= ambiguous); duplicates of a pair whose record is
 * not flagged ambiguous are counted apart ("unflagged"), as the likelier
 * bug.
 *
 * Events that are malformed or lack an id leave a REJECTED record without
 * an id, which cannot be matched by name. outpost-pub names such events
 * "bad-<i>"; a published "bad-" id that is found nowhere is taken as one of
 * those id-less rejections, up to their number, and is not lost.
 */
#include <string.h>

#include "store/outbox.h"
#include "tools/checker/check.h"

#define BAD_PREFIX "bad-"

void ck_ledger_init(struct ck_ledger *l)
{
	memset(l, 0, sizeof(*l));
	ck_tab_init(&l->events, sizeof(struct ck_event));
	ck_tab_init(&l->pairs, sizeof(struct ck_pair));
	ck_tab_init(&l->rcpts, sizeof(struct ck_rcpt));
}

void ck_ledger_free(struct ck_ledger *l)
{
	ck_tab_free(&l->events);
	ck_tab_free(&l->pairs);
	ck_tab_free(&l->rcpts);
}

const char *ck_recipient(const char *to)
{
	return strncmp(to, "whatsapp:", 9) == 0 ? to + 9 : to;
}

uint32_t ck_pair_put(struct ck_ledger *l, uint32_t event, const char *to)
{
	char key[2 * STORE_EVENT_ID_MAX + 2];
	size_t idlen, tolen;
	const char *id = ck_tab_key(&l->events, event, &idlen);
	bool created;
	uint32_t p;

	to = ck_recipient(to);
	tolen = strnlen(to, STORE_EVENT_ID_MAX + 1);
	if (idlen > STORE_EVENT_ID_MAX || tolen > STORE_EVENT_ID_MAX)
		return CK_NONE;
	/* The NUL keeps ("a", "bc") and ("ab", "c") apart. */
	memcpy(key, id, idlen);
	key[idlen] = '\0';
	memcpy(key + idlen + 1, to, tolen);
	p = ck_tab_put(&l->pairs, key, idlen + 1 + tolen, &created);
	if (p != CK_NONE && created)
		((struct ck_pair *)ck_tab_val(&l->pairs, p))->event = event;
	return p;
}

/* Known to the outbox: the daemon took the event in. */
static bool stored(const struct ck_event *ev)
{
	return ev->records || ev->suppressed || ev->rejected || ev->coalesced;
}

/* Pairs decide loss, duplicates and stray deliveries of stored events. */
static void judge_pairs(struct ck_ledger *l, struct ck_totals *t)
{
	for (uint32_t i = 0; i < l->pairs.n; i++) {
		struct ck_pair *p = ck_tab_val(&l->pairs, i);
		struct ck_event *ev = ck_tab_val(&l->events, p->event);
		uint32_t allowed = p->records > 1 ? p->records : 1;

		if (!stored(ev) && !ev->pub_order) {
			t->unexpected += p->deliveries; /* never published, never stored */
			continue;
		}
		if (p->records == 0 && stored(ev)) {
			t->unexpected += p->deliveries; /* sent to a recipient it has no record for */
			continue;
		}
		if (p->deliveries)
			t->delivered++;
		if (p->deliveries > allowed) {
			t->duplicated += p->deliveries - allowed;
			if (!p->ambiguous)
				t->dup_plain += p->deliveries - allowed;
			if (t->n_dup_pairs < CK_LOST_IDS)
				t->dup_pairs[t->n_dup_pairs++] = i;
		}
		if (ev->pub_order && p->records && !p->deliveries && !p->terminal)
			ev->lost = true;
	}
}

/* Published events that left no trace anywhere. */
static void judge_missing(struct ck_ledger *l, struct ck_totals *t)
{
	for (uint32_t i = 0; i < l->events.n; i++) {
		struct ck_event *ev = ck_tab_val(&l->events, i);
		const char *id = ck_tab_key(&l->events, i, NULL);

		/* Only SUPPRESSED records: the record they duplicate is gone. */
		if (ev->pub_order && ev->coalesced)
			t->coalesced++;
		if (!ev->pub_order || ev->records || ev->rejected || ev->deliveries || ev->coalesced)
			continue;
		if (!ev->suppressed && strncmp(id, BAD_PREFIX, strlen(BAD_PREFIX)) == 0 &&
		    t->absorbed < l->idless)
			t->absorbed++;
		else
			ev->lost = true;
	}
}

void ck_judge(struct ck_ledger *l, struct ck_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->published = l->published;
	t->ambiguous = l->ambiguous;
	t->reordered = l->reordered;
	judge_pairs(l, t);
	judge_missing(l, t);
	/* Events were entered in publish order: the pub logs are read first. */
	for (uint32_t i = 0; i < l->events.n; i++) {
		const struct ck_event *ev = ck_tab_val(&l->events, i);

		if (!ev->lost)
			continue;
		if (t->n_lost_ids < CK_LOST_IDS)
			t->lost_ids[t->n_lost_ids++] = i;
		t->lost++;
	}
	t->pass = t->lost == 0 && t->unexpected == 0 && t->duplicated <= t->ambiguous &&
		  l->verified && l->verify.problems == 0 && !l->walk_failed;
}
