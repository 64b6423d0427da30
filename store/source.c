/*
 * source.c - the "source" DB: event source name -> the last sequence number
 * its publisher sent, and what was wrong with the numbers since.
 *
 * Key: the source name's bytes, 1..STORE_SOURCE_NAME_MAX, no NUL. Value: a
 * fixed 96-byte record of twelve 8-byte big-endian fields, in the order of
 * enum field below (the same bytes on armhf, arm64 and x86). A value of any
 * other size is corrupt: it is left out of the sums and replaced by a fresh
 * record on the next event, because a diagnosis must not stop ingest.
 *
 * Why the rules are these (store_source_observe):
 * - Redeliveries never get here. The broker redelivers what was not acked
 *   before a crash, with the same seqs, mixed with newer events; the router
 *   suppresses them by event id before it looks at a seq, so they cannot
 *   fake a reset or an out-of-order event.
 * - A jump forward is a gap: the events between were lost before they
 *   reached us (the broker forgot them, the device dropped them) or were
 *   unreadable (malformed JSON, no id: rejected before the seq is read).
 * - A publisher that restarts without keeping its counter starts again at
 *   0 or 1: that is a reset, and counting goes on from there. Any other
 *   number at or below the last one is late or repeated; the last one is
 *   kept, or the next in-order event would look like a gap.
 * - A malformed seq is counted against its source; the event itself is
 *   handled as if it had none. Bad input in a diagnostic field must not
 *   cost the message.
 *
 * No pruning: a source that goes quiet keeps its record. STORE_SOURCE_MAX
 * bounds what that costs: 4,096 sources took 0.6 MB of store with 16-byte
 * names and 2.6 MB with 256-byte ones (measured, random insert order).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/source.h"
#include "store/store_impl.h"

enum field {
	F_EVENTS,
	F_LAST_SEQ,
	F_GAPS,
	F_MISSED,
	F_RESETS,
	F_OUT_OF_ORDER,
	F_BAD_SEQ,
	F_LAST_SEEN_MS,
	F_LAST_GAP_MS,
	F_LAST_GAP_FROM,
	F_LAST_GAP_TO,
	F_LAST_GAP_RECORD,
	F__COUNT
};

#define REC_LEN (F__COUNT * 8)

static const char *const verdict_names[] = {
	[STORE_SRC_FIRST] = "first", [STORE_SRC_NEXT] = "next", [STORE_SRC_GAP] = "gap",
	[STORE_SRC_RESET] = "reset", [STORE_SRC_OLD] = "out_of_order", [STORE_SRC_BAD] = "bad_seq",
};

const char *store_source_verdict_name(int v)
{
	if (v < STORE_SRC_FIRST || v > STORE_SRC_BAD)
		return "unknown";
	return verdict_names[v];
}

enum store_source_verdict store_source_observe(struct store_source *s,
					       const struct store_seq_event *e)
{
	uint64_t seq = (uint64_t)e->seq;
	enum store_source_verdict v;

	s->last_seen_ms = e->at_ms;
	if (e->seq < 0 || e->seq > STORE_SEQ_MAX) {
		s->bad_seq++;
		return STORE_SRC_BAD;
	}
	if (s->events == 0) {
		v = STORE_SRC_FIRST;
	} else if (seq == s->last_seq + 1) {
		v = STORE_SRC_NEXT;
	} else if (seq > s->last_seq) {
		v = STORE_SRC_GAP;
		s->gaps++;
		s->missed += seq - s->last_seq - 1;
		s->last_gap_from = s->last_seq + 1;
		s->last_gap_to = seq - 1;
		s->last_gap_ms = e->at_ms;
		s->last_gap_record = e->record;
	} else if (seq <= STORE_SEQ_RESET_MAX && seq < s->last_seq) {
		v = STORE_SRC_RESET;
		s->resets++;
	} else {
		v = STORE_SRC_OLD;
		s->out_of_order++;
	}
	s->events++;
	if (v != STORE_SRC_OLD)
		s->last_seq = seq;
	return v;
}

static void encode(const struct store_source *s, unsigned char *p)
{
	const uint64_t f[F__COUNT] = {
		[F_EVENTS] = s->events,
		[F_LAST_SEQ] = s->last_seq,
		[F_GAPS] = s->gaps,
		[F_MISSED] = s->missed,
		[F_RESETS] = s->resets,
		[F_OUT_OF_ORDER] = s->out_of_order,
		[F_BAD_SEQ] = s->bad_seq,
		[F_LAST_SEEN_MS] = (uint64_t)s->last_seen_ms,
		[F_LAST_GAP_MS] = (uint64_t)s->last_gap_ms,
		[F_LAST_GAP_FROM] = s->last_gap_from,
		[F_LAST_GAP_TO] = s->last_gap_to,
		[F_LAST_GAP_RECORD] = s->last_gap_record,
	};

	for (int i = 0; i < F__COUNT; i++)
		store_be64_put(p + 8 * i, f[i]);
}

static bool decode(const MDB_val *val, struct store_source *s)
{
	uint64_t f[F__COUNT];

	if (val->mv_size != REC_LEN)
		return false;
	for (int i = 0; i < F__COUNT; i++)
		f[i] = store_be64_get((const unsigned char *)val->mv_data + 8 * i);
	*s = (struct store_source){
		.events = f[F_EVENTS],
		.last_seq = f[F_LAST_SEQ],
		.gaps = f[F_GAPS],
		.missed = f[F_MISSED],
		.resets = f[F_RESETS],
		.out_of_order = f[F_OUT_OF_ORDER],
		.bad_seq = f[F_BAD_SEQ],
		.last_seen_ms = (int64_t)f[F_LAST_SEEN_MS],
		.last_gap_ms = (int64_t)f[F_LAST_GAP_MS],
		.last_gap_from = f[F_LAST_GAP_FROM],
		.last_gap_to = f[F_LAST_GAP_TO],
		.last_gap_record = f[F_LAST_GAP_RECORD],
	};
	return true;
}

static int name_key(const char *name, MDB_val *key)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return ERR_INVAL;
	if (len > STORE_SOURCE_NAME_MAX)
		return ERR_TOOBIG;
	key->mv_size = len;
	key->mv_data = (void *)name;
	return ERR_OK;
}

int store_source_get(struct store_txn *t, const char *name, struct store_source *s)
{
	MDB_val key, val;
	int err, rc;

	if (!t || !s)
		return ERR_INVAL;
	err = name_key(name, &key);
	if (err != ERR_OK)
		return err;
	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_SOURCE], &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "source get");
	if (!decode(&val, s)) {
		log_err("store: source %s: record is corrupt (%zu bytes)", name, val.mv_size);
		return ERR_STORE;
	}
	return ERR_OK;
}

int store_source_count(struct store_txn *t, uint64_t *n)
{
	MDB_stat st;
	int rc;

	*n = 0;
	if (!t)
		return ERR_INVAL;
	rc = mdb_stat(t->txn, t->s->dbi[STORE_DB_SOURCE], &st);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "source count");
	*n = st.ms_entries;
	return ERR_OK;
}

/* The cap applies to new names only: a tracked source is never refused. */
static int room_for(struct store_txn *t, MDB_val *key)
{
	MDB_val val;
	uint64_t n;
	int rc, err;

	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_SOURCE], key, &val);
	if (rc == MDB_SUCCESS)
		return ERR_OK;
	if (rc != MDB_NOTFOUND)
		return store_mdb_err(t, rc, "source get");
	err = store_source_count(t, &n);
	if (err == ERR_OK && n >= STORE_SOURCE_MAX)
		err = ERR_LIMIT;
	return err;
}

int store_source_put(struct store_txn *t, const char *name, const struct store_source *s)
{
	unsigned char rec[REC_LEN];
	MDB_val key, val = {sizeof(rec), rec};
	int err;

	err = store_txn_writable(t);
	if (err == ERR_OK && !s)
		err = ERR_INVAL;
	if (err == ERR_OK)
		err = name_key(name, &key);
	if (err == ERR_OK)
		err = room_for(t, &key);
	if (err != ERR_OK)
		return err;
	encode(s, rec);
	return store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_SOURCE], &key, &val, 0),
			     "source put");
}

int store_source_note(struct store_txn *t, const char *name, const struct store_seq_event *e,
		      struct store_source *s, enum store_source_verdict *v)
{
	int err = store_txn_writable(t);

	if (err == ERR_OK && (!e || !s || !v))
		err = ERR_INVAL;
	if (err == ERR_OK)
		err = store_source_get(t, name, s);
	/* Not found, or corrupt (logged): start afresh. An lmdb failure has
	 * poisoned the txn, and the put below returns it. */
	if (err == ERR_NOTFOUND || err == ERR_STORE) {
		memset(s, 0, sizeof(*s));
		err = ERR_OK;
	}
	if (err != ERR_OK)
		return err;
	*v = store_source_observe(s, e);
	return store_source_put(t, name, s);
}

/* Keeps recent[] sorted newest gap first; the outbox seq of the event that
 * showed a gap orders gaps across sources even while the clock is wrong. */
static void keep_recent(struct store_source_summary *sum, unsigned top, const MDB_val *key,
			const struct store_source *s)
{
	unsigned i = sum->n_recent;

	if (!s->gaps || !top)
		return;
	if (i == top) {
		if (s->last_gap_record <= sum->recent[top - 1].s.last_gap_record)
			return;
		i = top - 1; /* the oldest falls off */
	} else {
		sum->n_recent++;
	}
	for (; i > 0 && sum->recent[i - 1].s.last_gap_record < s->last_gap_record; i--)
		sum->recent[i] = sum->recent[i - 1];
	snprintf(sum->recent[i].name, sizeof(sum->recent[i].name), "%.*s", (int)key->mv_size,
		 (const char *)key->mv_data);
	sum->recent[i].s = *s;
}

static void add_up(struct store_source_summary *sum, const struct store_source *s)
{
	sum->sources++;
	sum->events += s->events;
	sum->gaps += s->gaps;
	sum->missed += s->missed;
	sum->resets += s->resets;
	sum->out_of_order += s->out_of_order;
	sum->bad_seq += s->bad_seq;
}

int store_source_summary(struct store_txn *t, unsigned top, struct store_source_summary *sum)
{
	struct store_source s;
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc;

	if (!t || !sum)
		return ERR_INVAL;
	memset(sum, 0, sizeof(*sum));
	if (top > STORE_SOURCE_TOP)
		top = STORE_SOURCE_TOP;
	rc = mdb_cursor_open(t->txn, t->s->dbi[STORE_DB_SOURCE], &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "source cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (!decode(&val, &s) || key.mv_size > STORE_SOURCE_NAME_MAX) {
			sum->corrupt++;
			continue;
		}
		add_up(sum, &s);
		keep_recent(sum, top, &key, &s);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? ERR_OK : store_mdb_err(t, rc, "source walk");
}
