/*
 * outbox.c - reads the daemon's outbox (the daemon stopped): verifies its
 * invariants, then walks every record once through the outbox API.
 *
 * The store is opened like outpostd opens it, lock included, so a daemon
 * still running makes this fail loudly instead of reading a moving store.
 * A directory without data.mdb is refused rather than opened: store_open()
 * would create an empty store, and an empty store checks as "all lost".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "store/outbox.h"
#include "store/store.h"
#include "store/verify.h"
#include "tools/checker/check.h"

/* The map limit only bounds growth, and this tool never writes records;
 * large enough for any store a test makes. */
#define MAP_MB (sizeof(size_t) > 4 ? 65536u : 1024u)

static bool terminal(int state)
{
	return state == STORE_FAILED || state == STORE_EXPIRED || state == STORE_REJECTED;
}

static int out_of_memory(struct ck_ledger *l)
{
	fprintf(stderr, "outpost-check: out of memory while reading the outbox\n");
	l->walk_failed = true;
	return -1; /* stops the walk */
}

/* The event a digest's variables show (its pair at the sim), else its own. */
static uint32_t digest_event(struct ck_ledger *l, const struct store_msg *m, uint32_t own)
{
	cJSON *vars = cJSON_Parse(m->vars_json);
	const char *id = vars ? ck_event_of(vars) : "";
	uint32_t e = own;

	if (id[0])
		e = ck_tab_put(&l->events, id, strlen(id), NULL);
	cJSON_Delete(vars);
	return e;
}

static int add_record(const struct store_msg *m, void *arg)
{
	struct ck_ledger *l = arg;
	struct ck_event *ev;
	struct ck_pair *p;
	uint32_t e, pi;

	l->records++;
	l->states[m->state < 32 ? m->state : 0]++;
	if (m->flags & STORE_F_AMBIGUOUS)
		l->ambiguous++;
	if (m->state == STORE_QUEUED || m->state == STORE_RETRY || m->state == STORE_SENDING)
		l->unfinished++;
	if (!m->event_id[0]) {
		l->idless++;
		return 0;
	}
	e = ck_tab_put(&l->events, m->event_id, strlen(m->event_id), NULL);
	if (e == CK_NONE)
		return out_of_memory(l);
	ev = ck_tab_val(&l->events, e);
	if (m->flags & (STORE_F_COALESCED | STORE_F_DIGEST)) {
		/* Flood control: a folded event is accounted for by its digest;
		 * a digest shows (and the sim sees) its newest event. */
		ev->coalesced++;
		if (m->state == STORE_SUPPRESSED)
			return 0;
		e = digest_event(l, m, e);
		if (e == CK_NONE)
			return out_of_memory(l);
		ev = ck_tab_val(&l->events, e);
	}
	if (m->state == STORE_SUPPRESSED) {
		ev->suppressed++;
		return 0;
	}
	if (!m->to[0]) {
		ev->rejected = ev->rejected || m->state == STORE_REJECTED;
		return 0;
	}
	ev->records++;
	pi = ck_pair_put(l, e, m->to);
	if (pi == CK_NONE)
		return out_of_memory(l);
	p = ck_tab_val(&l->pairs, pi);
	if (p->records++ == 0)
		p->state = m->state; /* newest first: the first seen is the latest */
	if (terminal(m->state))
		p->terminal++;
	if (m->flags & STORE_F_AMBIGUOUS)
		p->ambiguous++;
	return 0;
}

static int walk(struct ck_ledger *l, struct store *s, const char *dir)
{
	struct store_txn *t = NULL;
	int err;

	err = store_begin(s, STORE_RDONLY, &t);
	if (err != ERR_OK) {
		fprintf(stderr, "outpost-check: %s: cannot read: %s\n", dir, hal_strerror(err));
		return 2;
	}
	err = store_verify(t, &l->verify);
	l->verified = err == ERR_OK;
	if (err != ERR_OK)
		fprintf(stderr, "outpost-check: %s: verify stopped: %s\n", dir, hal_strerror(err));
	/* State 0 walks the records themselves, not an index that may lie. */
	err = store_outbox_list(t, 0, 0, 0, add_record, l);
	if (err != ERR_OK) {
		l->walk_failed = true;
		fprintf(stderr, "outpost-check: %s: outbox walk stopped: %s\n", dir,
			hal_strerror(err));
	}
	store_abort(t);
	return 0;
}

int ck_read_outbox(struct ck_ledger *l, const char *dir)
{
	char path[4096];
	struct store *s = NULL;
	struct stat st;
	int err, n;

	n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) != 0) {
		fprintf(stderr, "outpost-check: --store %s: no outbox there (%s: %s)\n", dir, path,
			strerror(errno));
		return 2;
	}
	err = store_open(dir, MAP_MB, &s);
	if (err != ERR_OK) {
		fprintf(stderr, "outpost-check: --store %s: cannot open: %s%s\n", dir,
			hal_strerror(err),
			err == ERR_EXISTS ? " (is outpostd still running on it?)" : "");
		return 2;
	}
	err = walk(l, s, dir);
	store_close(s);
	return err;
}
