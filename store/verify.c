/*
 * verify.c - the outbox's invariants, checked from both ends.
 *
 * Each index is checked in both directions with point lookups instead of
 * an in-memory table of seqs: every record must find its entry (nothing
 * missing), and every entry must find a record that agrees with it (nothing
 * extra or stale). Together that is "exactly one entry per record" while the
 * memory stays flat, whatever the size of the store.
 *
 * The DB layouts are those of outbox.c (read its top comment): a change
 * there must change the matching walk here, and test_verify.c will say so.
 * Pruning deletes a record with its entries, so an entry whose record is
 * gone is a fault.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hal/err.h"
#include "store/record.h"
#include "store/status.h"
#include "store/store_impl.h"
#include "store/vault.h"
#include "store/verify.h"

static const char *const kind_names[STORE_VERIFY__KINDS] = {
	[STORE_VERIFY_DECODE] = "decode",   [STORE_VERIFY_STATE] = "state",
	[STORE_VERIFY_DUE] = "due",         [STORE_VERIFY_COUNTER] = "counter",
	[STORE_VERIFY_DEDUP] = "dedup",     [STORE_VERIFY_RECORD] = "record",
	[STORE_VERIFY_META] = "meta",       [STORE_VERIFY_SID] = "sid",
	[STORE_VERIFY_TRACK] = "track",
};

const char *store_verify_kind_name(int kind)
{
	if (kind < 0 || kind >= STORE_VERIFY__KINDS)
		return "unknown";
	return kind_names[kind];
}

static void problem(struct store_verify_report *r, enum store_verify_kind kind, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void problem(struct store_verify_report *r, enum store_verify_kind kind, const char *fmt,
		    ...)
{
	va_list ap;
	char *note;
	int n;

	r->problems++;
	r->by_kind[kind]++;
	if (r->n_notes >= STORE_VERIFY_NOTES)
		return;
	note = r->notes[r->n_notes++];
	n = snprintf(note, STORE_VERIFY_NOTE_MAX, "%s: ", kind_names[kind]);
	va_start(ap, fmt);
	vsnprintf(note + n, STORE_VERIFY_NOTE_MAX - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool in_due(int state)
{
	return state == STORE_QUEUED || state == STORE_RETRY;
}

static uint64_t due_of(int64_t due_ms)
{
	return due_ms > 0 ? (uint64_t)due_ms : 0; /* as outbox.c keys it */
}

/* ERR_OK and the record, ERR_NOTFOUND, ERR_STORE if it does not decode. */
static int record_get(struct store_txn *t, uint64_t seq, struct store_msg *m)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val;
	int rc;

	store_be64_put(k, seq);
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_MSG), &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "verify get");
	m->seq = seq;
	return store_record_decode(val.mv_data, val.mv_size, m);
}

static bool key_exists(struct store_txn *t, enum store_db db, unsigned char *k, size_t len,
		       int *err)
{
	MDB_val key = {len, k}, val;
	int rc = mdb_get(t->txn, store_dbi(t, db), &key, &val);

	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		*err = store_mdb_err(NULL, rc, "verify lookup");
	return rc == MDB_SUCCESS;
}

/* States a record can only reach through a provider attempt, and so on:
 * what the sender and router can produce, whatever order they run in. */
static void check_fields(struct store_verify_report *r, const struct store_msg *m)
{
	/* A duplicate is suppressed at ingest, before any attempt, and has no
	 * recipient; one suppressed for consent names it and may follow an
	 * attempt (the provider's opted-out answer, a STOP during retries). */
	bool never_sent = m->state == STORE_REJECTED || (m->state == STORE_SUPPRESSED && !m->to[0]);
	bool attempted = m->state == STORE_SENDING || m->state == STORE_SENT ||
			 m->state == STORE_FAILED || m->state == STORE_DELIVERED ||
			 m->state == STORE_READ || m->state == STORE_UNDELIVERED;
	bool has_id = m->state >= STORE_SENT && m->state <= STORE_UNDELIVERED;
	const char *sn = store_state_name(m->state);

	if (m->flags & ~(uint32_t)(STORE_F_AMBIGUOUS | STORE_F_CLOCK_UNSET | STORE_F_RECONCILE |
				   STORE_F_FREEFORM | STORE_F_TEMPLATE_ONLY | STORE_F_LINK_FAILED |
				   STORE_F_LINK_HELD | STORE_F_PRIO_MASK | STORE_F_COALESCED |
				   STORE_F_DIGEST | STORE_F_ESCALATED))
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " has unknown flags 0x%x", m->seq,
			m->flags);
	if ((m->flags & STORE_F_RECONCILE) && !(m->flags & STORE_F_AMBIGUOUS))
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " is to be reconciled but not ambiguous",
			m->seq);
	if (never_sent && m->attempts > 0)
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " is %s after %u attempts", m->seq, sn,
			m->attempts);
	if (attempted && m->attempts == 0)
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " is %s with no attempt", m->seq, sn);
	if (has_id && !m->provider_id[0])
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " is %s without a provider id", m->seq,
			sn);
	if (!never_sent && !m->to[0])
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " is %s without a recipient", m->seq, sn);
	if (m->state == STORE_SUPPRESSED && !m->event_id[0])
		problem(r, STORE_VERIFY_RECORD, "#%" PRIu64 " is suppressed without an event id",
			m->seq);
}

/* Whether the sid index maps m's provider id to m. */
static bool sid_names(struct store_txn *t, const struct store_msg *m, int *err)
{
	MDB_val key = {strlen(m->provider_id), (void *)m->provider_id}, val;
	int rc = key.mv_size <= STORE_PROVIDER_ID_MAX
			 ? mdb_get(t->txn, store_dbi(t, STORE_DB_SID), &key, &val)
			 : MDB_NOTFOUND;

	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		*err = store_mdb_err(NULL, rc, "verify lookup");
	return rc == MDB_SUCCESS && val.mv_size == 8 && store_be64_get(val.mv_data) == m->seq;
}

/* Record -> its sid entry if it has a provider id, its state entry and, for
 * QUEUED/RETRY, its due entry. */
static int check_record(struct store_txn *t, struct store_verify_report *r,
			const struct store_msg *m)
{
	unsigned char sk[9], dk[16];
	int err = ERR_OK;

	r->records++;
	r->counts[m->state]++;
	if (m->flags & STORE_F_AMBIGUOUS)
		r->ambiguous++;
	if (m->seq > r->seq_max)
		r->seq_max = m->seq;
	check_fields(r, m);
	if (m->provider_id[0] && !sid_names(t, m, &err) && err == ERR_OK)
		problem(r, STORE_VERIFY_SID, "#%" PRIu64 " holds provider id %.64s, not indexed to it",
			m->seq, m->provider_id);
	if (err != ERR_OK)
		return err;
	sk[0] = m->state;
	store_be64_put(sk + 1, m->seq);
	if (!key_exists(t, STORE_DB_STATE, sk, sizeof(sk), &err) && err == ERR_OK)
		problem(r, STORE_VERIFY_STATE, "#%" PRIu64 " (%s) has no state index entry", m->seq,
			store_state_name(m->state));
	if (err != ERR_OK || !in_due(m->state))
		return err;
	store_be64_put(dk, due_of(m->due_ms));
	store_be64_put(dk + 8, m->seq);
	if (!key_exists(t, store_due_lane(m), dk, sizeof(dk), &err) && err == ERR_OK)
		problem(r, STORE_VERIFY_DUE,
			"#%" PRIu64 " (%s, due %" PRId64 ") has no due entry in the lane of its "
			"priority",
			m->seq, store_state_name(m->state), m->due_ms);
	return err;
}

static int walk_records(struct store_txn *t, struct store_verify_report *r)
{
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc, err = ERR_OK;

	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_MSG), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "verify cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS && err == ERR_OK;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		struct store_msg m = {0};

		if (key.mv_size != 8) {
			problem(r, STORE_VERIFY_DECODE, "record key of %zu bytes", key.mv_size);
			continue;
		}
		m.seq = store_be64_get(key.mv_data);
		if (m.seq == 0)
			problem(r, STORE_VERIFY_DECODE, "record with seq 0");
		if (store_record_decode(val.mv_data, val.mv_size, &m) != ERR_OK) {
			r->records++;
			problem(r, STORE_VERIFY_DECODE, "#%" PRIu64 " does not decode (%zu bytes)",
				m.seq, val.mv_size);
			continue;
		}
		err = check_record(t, r, &m);
	}
	if (err == ERR_OK && rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
		err = store_mdb_err(NULL, rc, "verify walk");
	mdb_cursor_close(c);
	return err;
}

/* State entry -> a record in that state. */
static int check_state_entry(struct store_txn *t, struct store_verify_report *r,
			     const MDB_val *key)
{
	const unsigned char *p = key->mv_data;
	struct store_msg m;
	uint64_t seq;
	int err;

	r->state_entries++;
	if (key->mv_size != 9 || p[0] < STORE_QUEUED || p[0] >= STORE__STATES) {
		problem(r, STORE_VERIFY_STATE, "malformed entry (%zu bytes, state %u)", key->mv_size,
			key->mv_size ? p[0] : 0);
		return ERR_OK;
	}
	seq = store_be64_get(p + 1);
	err = record_get(t, seq, &m);
	if (err == ERR_NOTFOUND)
		problem(r, STORE_VERIFY_STATE, "entry (%s, #%" PRIu64 ") names no record",
			store_state_name(p[0]), seq);
	else if (err == ERR_OK && m.state != p[0])
		problem(r, STORE_VERIFY_STATE, "entry (%s, #%" PRIu64 ") but the record is %s",
			store_state_name(p[0]), seq, store_state_name(m.state));
	/* An undecodable record was reported by the record walk. */
	return err == ERR_STORE || err == ERR_NOTFOUND ? ERR_OK : err;
}

/* Due entry -> a QUEUED/RETRY record due at that time. */
static int check_due_entry(struct store_txn *t, struct store_verify_report *r, enum store_db lane,
			   const MDB_val *key)
{
	const unsigned char *p = key->mv_data;
	struct store_msg m;
	uint64_t due, seq;
	int err;

	r->due_entries++;
	if (key->mv_size != 16) {
		problem(r, STORE_VERIFY_DUE, "malformed entry (%zu bytes)", key->mv_size);
		return ERR_OK;
	}
	due = store_be64_get(p);
	seq = store_be64_get(p + 8);
	err = record_get(t, seq, &m);
	if (err == ERR_NOTFOUND)
		problem(r, STORE_VERIFY_DUE, "entry (%" PRIu64 ", #%" PRIu64 ") names no record", due,
			seq);
	else if (err == ERR_OK && !in_due(m.state))
		problem(r, STORE_VERIFY_DUE, "entry for #%" PRIu64 " but the record is %s", seq,
			store_state_name(m.state));
	else if (err == ERR_OK && due_of(m.due_ms) != due)
		problem(r, STORE_VERIFY_DUE,
			"entry for #%" PRIu64 " at %" PRIu64 " but the record is due %" PRId64, seq,
			due, m.due_ms);
	else if (err == ERR_OK && store_due_lane(&m) != lane)
		problem(r, STORE_VERIFY_DUE, "entry for #%" PRIu64 " in the lane of another priority",
			seq);
	return err == ERR_STORE || err == ERR_NOTFOUND ? ERR_OK : err;
}

/* Dedup entry -> the record with that event id (the event's first one);
 * sid entry -> the record holding that provider message id. */
static int check_named_entry(struct store_txn *t, struct store_verify_report *r,
			     enum store_verify_kind kind, const MDB_val *key, const MDB_val *val)
{
	bool dedup = kind == STORE_VERIFY_DEDUP;
	const char *what = dedup ? "event" : "provider id";
	int n = (int)(key->mv_size > 64 ? 64 : key->mv_size);
	struct store_msg m;
	const char *field;
	uint64_t seq;
	int err;

	if (dedup)
		r->dedup_entries++;
	else
		r->sid_entries++;
	if (key->mv_size == 0 || key->mv_size > (dedup ? STORE_EVENT_ID_MAX : STORE_PROVIDER_ID_MAX) ||
	    val->mv_size != 8) {
		problem(r, kind, "malformed entry (key %zu, value %zu bytes)", key->mv_size,
			val->mv_size);
		return ERR_OK;
	}
	seq = store_be64_get(val->mv_data);
	err = record_get(t, seq, &m);
	field = dedup ? m.event_id : m.provider_id;
	if (err == ERR_NOTFOUND)
		problem(r, kind, "%s %.*s names #%" PRIu64 ", which does not exist", what, n,
			(const char *)key->mv_data, seq);
	else if (err == ERR_OK && (strlen(field) != key->mv_size ||
				   memcmp(field, key->mv_data, key->mv_size) != 0))
		problem(r, kind, "%s %.*s names #%" PRIu64 ", which has %s \"%.64s\"", what, n,
			(const char *)key->mv_data, seq, what, field);
	return err == ERR_STORE || err == ERR_NOTFOUND ? ERR_OK : err;
}

static int check_track(struct store_txn *t, struct store_verify_report *r, const MDB_val *key);
static int check_poll(struct store_txn *t, struct store_verify_report *r, const MDB_val *key);

static int walk_index(struct store_txn *t, struct store_verify_report *r, enum store_db db)
{
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc, err = ERR_OK;

	rc = mdb_cursor_open(t->txn, store_dbi(t, db), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "verify cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS && err == ERR_OK;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (db == STORE_DB_STATE)
			err = check_state_entry(t, r, &key);
		else if (db == STORE_DB_DUE || db == STORE_DB_DUE_URGENT || db == STORE_DB_DUE_HIGH ||
			 db == STORE_DB_DUE_LOW)
			err = check_due_entry(t, r, db, &key);
		else if (db == STORE_DB_DEDUP)
			err = check_named_entry(t, r, STORE_VERIFY_DEDUP, &key, &val);
		else if (db == STORE_DB_SID)
			err = check_named_entry(t, r, STORE_VERIFY_SID, &key, &val);
		else if (db == STORE_DB_TRACK)
			err = check_track(t, r, &key);
		else
			err = check_poll(t, r, &key);
	}
	if (err == ERR_OK && rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
		err = store_mdb_err(NULL, rc, "verify walk");
	mdb_cursor_close(c);
	return err;
}

/* What the meta DB holds, read in one walk. */
struct meta {
	bool schema, seq_last, counter[STORE__STATES];
	uint64_t counts[STORE__STATES];
};

static bool key_is(const MDB_val *key, const char *name)
{
	return key->mv_size == strlen(name) && memcmp(key->mv_data, name, key->mv_size) == 0;
}

static void meta_counter(struct store_verify_report *r, struct meta *mt, const MDB_val *key,
			 uint64_t v)
{
	char name[32];
	int state;

	snprintf(name, sizeof(name), "%.*s", (int)(key->mv_size - 6), (const char *)key->mv_data + 6);
	state = key->mv_size - 6 < sizeof(name) ? store_state_parse(name) : 0;
	if (state == 0) {
		problem(r, STORE_VERIFY_META, "counter for unknown state \"%.40s\"", name);
		return;
	}
	mt->counter[state] = true;
	mt->counts[state] = v;
}

static void meta_entry(struct store_verify_report *r, struct meta *mt, const MDB_val *key,
		       const MDB_val *val)
{
	uint64_t v = val->mv_size == 8 ? store_be64_get(val->mv_data) : 0;
	int n = (int)(key->mv_size > 40 ? 40 : key->mv_size);

	if (key_is(key, "vault/key_id")) { /* the vault's key id (store/vault.h) */
		if (val->mv_size != STORE_VAULT_ID_LEN)
			problem(r, STORE_VERIFY_META, "vault/key_id holds %zu bytes, not %d",
				val->mv_size, STORE_VAULT_ID_LEN);
	} else if (val->mv_size != 8) {
		problem(r, STORE_VERIFY_META, "%.*s holds %zu bytes, not a u64", n,
			(const char *)key->mv_data, val->mv_size);
	} else if (key_is(key, "schema")) {
		mt->schema = true;
	} else if (key_is(key, "seq/last")) {
		mt->seq_last = true;
		r->seq_last = v;
	} else if (key->mv_size > 6 && memcmp(key->mv_data, "count/", 6) == 0) {
		meta_counter(r, mt, key, v);
	} else if (r->n_extras < STORE_VERIFY_EXTRAS) {
		snprintf(r->extras[r->n_extras].name, sizeof(r->extras[0].name), "%.*s", n,
			 (const char *)key->mv_data);
		r->extras[r->n_extras++].value = v;
	}
}

static int check_meta(struct store_txn *t, struct store_verify_report *r)
{
	struct meta mt = {0};
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc;

	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_META), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "verify cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT))
		meta_entry(r, &mt, &key, &val);
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store_mdb_err(NULL, rc, "verify walk");
	if (!mt.schema)
		problem(r, STORE_VERIFY_META, "no schema key");
	/* seq/last behind the records would hand out a seq that is taken. */
	if (r->seq_max && (!mt.seq_last || r->seq_last < r->seq_max))
		problem(r, STORE_VERIFY_META, "seq/last is %" PRIu64 " but records go up to #%" PRIu64,
			r->seq_last, r->seq_max);
	for (int s = STORE_QUEUED; s < STORE__STATES; s++)
		if (mt.counts[s] != r->counts[s])
			problem(r, STORE_VERIFY_COUNTER,
				"count/%s says %" PRIu64 ", the records %" PRIu64,
				store_state_name(s), mt.counts[s], r->counts[s]);
	return ERR_OK;
}

/* A delivery status belongs to a record that was sent (it may have gone
 * back to retry if a reconciliation's claim was undone), and has a poll
 * entry exactly when it has a next poll time. */
static int check_track(struct store_txn *t, struct store_verify_report *r, const MDB_val *key)
{
	struct store_track tr;
	struct store_msg m;
	unsigned char pk[16];
	uint64_t seq;
	int err = ERR_OK;

	r->track_entries++;
	if (key->mv_size != 8) {
		problem(r, STORE_VERIFY_TRACK, "status key of %zu bytes", key->mv_size);
		return ERR_OK;
	}
	seq = store_be64_get(key->mv_data);
	if (store_track_get(t, seq, &tr) != ERR_OK) {
		problem(r, STORE_VERIFY_TRACK, "status of #%" PRIu64 " does not decode", seq);
		return ERR_OK;
	}
	if (record_get(t, seq, &m) == ERR_NOTFOUND)
		problem(r, STORE_VERIFY_TRACK, "status of #%" PRIu64 ", which does not exist", seq);
	store_be64_put(pk, tr.next_poll_ms > 0 ? (uint64_t)tr.next_poll_ms : 0);
	store_be64_put(pk + 8, seq);
	if (tr.next_poll_ms && !key_exists(t, STORE_DB_POLL, pk, sizeof(pk), &err))
		problem(r, STORE_VERIFY_TRACK, "#%" PRIu64 " is to be polled but not in the poll index",
			seq);
	return err;
}

static int check_poll(struct store_txn *t, struct store_verify_report *r, const MDB_val *key)
{
	struct store_track tr;
	uint64_t seq;

	r->poll_entries++;
	if (key->mv_size != 16) {
		problem(r, STORE_VERIFY_TRACK, "poll key of %zu bytes", key->mv_size);
		return ERR_OK;
	}
	seq = store_be64_get((const unsigned char *)key->mv_data + 8);
	if (store_track_get(t, seq, &tr) != ERR_OK ||
	    (uint64_t)tr.next_poll_ms != store_be64_get(key->mv_data))
		problem(r, STORE_VERIFY_TRACK, "poll entry of #%" PRIu64 " has no status that says so",
			seq);
	return ERR_OK;
}

int store_verify(struct store_txn *t, struct store_verify_report *r)
{
	int err;

	if (!t || !r)
		return ERR_INVAL;
	memset(r, 0, sizeof(*r));
	err = walk_records(t, r);
	if (err == ERR_OK)
		err = walk_index(t, r, STORE_DB_STATE);
	for (unsigned i = 0; i < STORE_DUE_LANES && err == ERR_OK; i++)
		err = walk_index(t, r, store_due_lanes[i]);
	if (err == ERR_OK)
		err = walk_index(t, r, STORE_DB_DEDUP);
	if (err == ERR_OK)
		err = walk_index(t, r, STORE_DB_SID);
	if (err == ERR_OK)
		err = walk_index(t, r, STORE_DB_TRACK);
	if (err == ERR_OK)
		err = walk_index(t, r, STORE_DB_POLL);
	if (err == ERR_OK)
		err = check_meta(t, r);
	return err;
}
