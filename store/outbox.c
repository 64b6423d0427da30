/*
 * outbox.c - the outbox record DB and its indexes.
 *
 * "msg": seq (8-byte big-endian) -> record (layout in record.c). Big-endian
 * so memcmp order is numeric order on every CPU; not MDB_INTEGERKEY, whose
 * keys are size_t and so 32 bits on armhf. MDB_APPEND because seqs only
 * grow: it skips the search and fails loudly if they ever do not.
 *
 * "due": due_ms (8B BE, 0 and below as 0 so "now" sorts first) ++ seq ->
 * empty, for normal records; "due/urgent", "due/high" and "due/low" the
 * same for the other priorities, so that what is due is taken lane by lane
 * from the highest without reading past a low lane's backlog. The sender asks what is due several times a second; with a million
 * records queued it must touch only the few it will send, so due times get
 * an ordered index of their own. Only QUEUED and RETRY records are in it:
 * every other state waits for someone else, not for the clock. The seq in
 * the key keeps keys unique instead of using DUPSORT, whose cursor code in
 * lmdb 0.9.24 has bugs fixed only in 0.9.27..0.9.31 (repeated deletes,
 * MDB_FIRST_DUP at EOF).
 *
 * "state": state (1B) ++ seq -> empty, one entry per record. Start-up needs
 * every SENDING record (ambiguous after a crash) and outpostctl lists the
 * REJECTED ones; neither may scan the backlog.
 *
 * "dedup": event id -> seq. The broker redelivers what was not acked before
 * a crash; the router looks the id up before staging a record.
 *
 * "sid": provider message id -> seq. Reconciling an ambiguous attempt asks
 * the provider which messages it made and must take only one no record has
 * claimed; status polling and relayed webhooks find a record by it too.
 *
 * "meta": "seq/last", the highest seq ever given (not the last key of "msg":
 * if old records are pruned, a seq must still never be reused, or a dedup
 * entry would point at a stranger), "count/<state>" counters and the
 * daemon's "stat/<name>" counters. Counters
 * change in the txn that changes the record, so they cannot drift, and
 * reading them is eleven gets rather than a scan.
 *
 * Records are encoded into a scratch buffer before any put, not written in
 * place with MDB_RESERVE: a caller updating a record it has just read hands
 * us strings that point into the very pages the put rewrites.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/record.h"
#include "store/status.h"
#include "store/store_impl.h"

static const char *const state_names[STORE__STATES] = {
	[STORE_QUEUED] = "queued",       [STORE_SENDING] = "sending",
	[STORE_RETRY] = "retry",         [STORE_SENT] = "sent",
	[STORE_DELIVERED] = "delivered", [STORE_READ] = "read",
	[STORE_UNDELIVERED] = "undelivered", [STORE_FAILED] = "failed",
	[STORE_EXPIRED] = "expired",     [STORE_REJECTED] = "rejected",
	[STORE_SUPPRESSED] = "suppressed",
};

const char *store_state_name(int state)
{
	if (state < STORE_QUEUED || state >= STORE__STATES)
		return "unknown";
	return state_names[state];
}

int store_state_parse(const char *name)
{
	for (int i = STORE_QUEUED; name && i < STORE__STATES; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return 0;
}

static bool in_due(int state)
{
	return state == STORE_QUEUED || state == STORE_RETRY;
}

/* A failure after the first write leaves the txn half done: commit must
 * then refuse it even if lmdb itself would not have. */
static int poison(struct store_txn *t, int err)
{
	if (err != ERR_OK && t->err == ERR_OK)
		t->err = err;
	return err;
}

int store_msg_prio(const struct store_msg *m)
{
	int bits = (int)((m->flags & STORE_F_PRIO_MASK) >> STORE_F_PRIO_SHIFT);

	return bits == 3 ? STORE_PRIO_LOW : bits;
}

void store_msg_set_prio(struct store_msg *m, int prio)
{
	m->flags = (m->flags & ~STORE_F_PRIO_MASK) |
		   ((uint32_t)prio & 3u) << STORE_F_PRIO_SHIFT;
}

const enum store_db store_due_lanes[STORE_DUE_LANES] = {STORE_DB_DUE_URGENT, STORE_DB_DUE_HIGH,
							STORE_DB_DUE, STORE_DB_DUE_LOW};

enum store_db store_due_lane(const struct store_msg *m)
{
	return store_due_lanes[STORE_PRIO_URGENT - store_msg_prio(m)];
}

static void due_key(unsigned char k[16], int64_t due_ms, uint64_t seq)
{
	store_be64_put(k, due_ms > 0 ? (uint64_t)due_ms : 0);
	store_be64_put(k + 8, seq);
}

static void state_key(unsigned char k[9], int state, uint64_t seq)
{
	k[0] = (unsigned char)state;
	store_be64_put(k + 1, seq);
}

static void counter_name(char *buf, size_t cap, int state)
{
	snprintf(buf, cap, "count/%s", store_state_name(state));
}

static int counter_add(struct store_txn *t, int state, int delta)
{
	char name[32];
	uint64_t v;
	int err;

	counter_name(name, sizeof(name), state);
	err = store_meta_get(t, name, &v);
	if (err != ERR_OK)
		return err;
	if (delta < 0 && v == 0) {
		log_err("store: %s would go below zero: counters out of step", name);
		return ERR_STORE;
	}
	return store_meta_put(t, name, delta < 0 ? v - 1 : v + 1);
}

static int seq_next(struct store_txn *t, uint64_t *seq)
{
	uint64_t last;
	int err;

	err = store_meta_get(t, "seq/last", &last);
	if (err == ERR_OK)
		err = store_meta_put(t, "seq/last", last + 1);
	*seq = last + 1;
	return err;
}

/* Index entries carry no data: the key is the whole fact. An entry that is
 * already there (put) or missing (del) means the indexes disagree with the
 * records; committing more on top would spread the damage. */
static int idx_put(struct store_txn *t, enum store_db db, unsigned char *k, size_t klen)
{
	MDB_val key = {klen, k}, val = {0, NULL};
	int rc;

	rc = mdb_put(store_wtxn(t), store_dbi(t, db), &key, &val, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		log_err("store: index %d already holds an entry: indexes out of step", db);
		return ERR_STORE;
	}
	return store_mdb_err(t, rc, "index put");
}

static int idx_del(struct store_txn *t, enum store_db db, unsigned char *k, size_t klen)
{
	MDB_val key = {klen, k};
	int rc;

	rc = mdb_del(store_wtxn(t), store_dbi(t, db), &key, NULL);
	if (rc == MDB_NOTFOUND) {
		log_err("store: index %d lacks an entry: indexes out of step", db);
		return ERR_STORE;
	}
	return store_mdb_err(t, rc, "index del");
}

/* A provider id as a key; copied, because the caller's string may point into
 * a page that the record put rewrites. */
struct sid {
	char id[STORE_PROVIDER_ID_MAX + 1];
	MDB_val key;
};

static int sid_set(struct sid *k, const char *id)
{
	size_t n = id ? strnlen(id, STORE_PROVIDER_ID_MAX + 1) : 0;

	if (n > STORE_PROVIDER_ID_MAX)
		return ERR_TOOBIG;
	memcpy(k->id, id ? id : "", n);
	k->id[n] = '\0';
	k->key = (MDB_val){n, k->id};
	return ERR_OK;
}

/* ERR_OK if no record holds the id or `seq` does; ERR_EXISTS if another. */
static int sid_free_for(struct store_txn *t, struct sid *k, uint64_t seq)
{
	MDB_val val;
	int rc = mdb_get(t->txn, store_dbi(t, STORE_DB_SID), &k->key, &val);

	if (rc == MDB_NOTFOUND)
		return ERR_OK;
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "sid get");
	return val.mv_size == 8 && store_be64_get(val.mv_data) == seq ? ERR_OK : ERR_EXISTS;
}

static int sid_put(struct store_txn *t, struct sid *k, uint64_t seq)
{
	unsigned char buf[8];
	MDB_val val = {sizeof(buf), buf};

	store_be64_put(buf, seq);
	return store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_SID), &k->key, &val, 0), "sid put");
}

/* The entry must be there and name seq: anything else is a broken index. */
static int sid_del(struct store_txn *t, struct sid *k, uint64_t seq)
{
	MDB_val val;
	int rc = mdb_get(t->txn, store_dbi(t, STORE_DB_SID), &k->key, &val);

	if (rc == MDB_SUCCESS && (val.mv_size != 8 || store_be64_get(val.mv_data) != seq))
		rc = MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND) {
		log_err("store: provider id %.64s of #%" PRIu64 " is not indexed to it", k->id, seq);
		return ERR_STORE;
	}
	if (rc == MDB_SUCCESS)
		rc = mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_SID), &k->key, NULL);
	return store_mdb_err(t, rc, "sid del");
}

int store_sid_get(struct store_txn *t, const char *provider_id, uint64_t *seq)
{
	struct sid k;
	MDB_val val;
	int rc;

	if (!t || !seq || !provider_id || !*provider_id)
		return ERR_INVAL;
	rc = sid_set(&k, provider_id);
	if (rc != ERR_OK)
		return rc;
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_SID), &k.key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "sid get");
	if (val.mv_size != 8) {
		log_err("store: sid entry of %zu bytes is corrupt", val.mv_size);
		return ERR_STORE;
	}
	*seq = store_be64_get(val.mv_data);
	return ERR_OK;
}

static int stat_name(char *buf, size_t cap, const char *name)
{
	if (!name || !*name || (size_t)snprintf(buf, cap, "stat/%s", name) >= cap)
		return ERR_INVAL;
	return ERR_OK;
}

int store_stat_add(struct store_txn *t, const char *name, int64_t delta)
{
	char key[STORE_STAT_NAME_MAX + 8];
	uint64_t v;
	int err = store_txn_writable(t);

	if (err == ERR_OK)
		err = stat_name(key, sizeof(key), name);
	if (err == ERR_OK)
		err = store_meta_get(t, key, &v);
	if (err == ERR_OK)
		err = poison(t, store_meta_put(t, key, delta < 0 && (uint64_t)-delta > v ? 0 : v + (uint64_t)delta));
	return err;
}

int store_stat_set(struct store_txn *t, const char *name, uint64_t v)
{
	char key[STORE_STAT_NAME_MAX + 8];
	int err = store_txn_writable(t);

	if (err == ERR_OK)
		err = stat_name(key, sizeof(key), name);
	if (err == ERR_OK)
		err = poison(t, store_meta_put(t, key, v));
	return err;
}

int store_stat_get(struct store_txn *t, const char *name, uint64_t *v)
{
	char key[STORE_STAT_NAME_MAX + 8];
	int err = stat_name(key, sizeof(key), name);

	return err == ERR_OK ? store_meta_get(t, key, v) : err;
}

/* Encodes before anything is written (see the top of this file). The buffer
 * grows to the largest record written, at most STORE_REC_MAX. */
static int scratch_fill(struct store *s, const struct store_msg *m, size_t len)
{
	if (len > s->scratch_cap) {
		size_t cap = len < 4096 ? 4096 : len;
		unsigned char *p = realloc(s->scratch, cap);

		if (!p)
			return ERR_NOMEM;
		s->scratch = p;
		s->scratch_cap = cap;
	}
	store_record_encode(m, s->scratch);
	return ERR_OK;
}

/* Tells the store's watch of the record just written: decoded from the
 * scratch buffer, as the caller's strings may have pointed into pages the
 * put rewrote. */
static void watch_note(struct store_txn *t, uint64_t seq, size_t len, int old_state)
{
	struct store_msg now;

	if (store_record_decode(t->s->scratch, len, &now) != ERR_OK)
		return;
	now.seq = seq;
	store_watch_note(t, &now, old_state);
}

static int msg_put(struct store_txn *t, uint64_t seq, size_t len, unsigned flags)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val = {len, t->s->scratch};
	int rc;

	store_be64_put(k, seq);
	rc = mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_MSG), &key, &val, flags);
	if (rc == MDB_KEYEXIST) {
		log_err("store: seq %" PRIu64 " is taken: seq/last is behind the records", seq);
		return ERR_STORE;
	}
	return store_mdb_err(t, rc, "record put");
}

static int decode_logged(const MDB_val *val, struct store_msg *m)
{
	int err = store_record_decode(val->mv_data, val->mv_size, m);

	if (err != ERR_OK)
		log_err("store: record %" PRIu64 " is corrupt (%zu bytes)", m->seq, val->mv_size);
	return err;
}

int store_outbox_add(struct store_txn *t, struct store_msg *m)
{
	unsigned char sk[9], dk[16];
	struct sid id;
	uint64_t seq = 0;
	size_t len;
	int err;

	err = store_txn_writable(t);
	if (err == ERR_OK)
		err = store_record_size(m, &len);
	if (err == ERR_OK)
		err = sid_set(&id, m->provider_id);
	if (err == ERR_OK && id.id[0])
		err = sid_free_for(t, &id, 0);
	if (err == ERR_OK)
		err = scratch_fill(t->s, m, len);
	if (err != ERR_OK)
		return err; /* nothing written yet: the txn stays usable */
	err = seq_next(t, &seq);
	if (err == ERR_OK)
		err = msg_put(t, seq, len, MDB_APPEND);
	state_key(sk, m->state, seq);
	if (err == ERR_OK)
		err = idx_put(t, STORE_DB_STATE, sk, sizeof(sk));
	due_key(dk, m->due_ms, seq);
	if (err == ERR_OK && in_due(m->state))
		err = idx_put(t, store_due_lane(m), dk, sizeof(dk));
	if (err == ERR_OK)
		err = counter_add(t, m->state, +1);
	if (err == ERR_OK && id.id[0])
		err = sid_put(t, &id, seq);
	if (err == ERR_OK) {
		m->seq = seq;
		watch_note(t, seq, len, 0);
	}
	return poison(t, err);
}

int store_outbox_get(struct store_txn *t, uint64_t seq, struct store_msg *m)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val;
	int rc;

	if (!t || !m)
		return ERR_INVAL;
	store_be64_put(k, seq);
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_MSG), &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "record get");
	m->seq = seq;
	return decode_logged(&val, m);
}

static int move_state(struct store_txn *t, uint64_t seq, int from, int to)
{
	unsigned char k[9];
	int err;

	if (from == to)
		return ERR_OK;
	state_key(k, from, seq);
	err = idx_del(t, STORE_DB_STATE, k, sizeof(k));
	state_key(k, to, seq);
	if (err == ERR_OK)
		err = idx_put(t, STORE_DB_STATE, k, sizeof(k));
	if (err == ERR_OK)
		err = counter_add(t, from, -1);
	if (err == ERR_OK)
		err = counter_add(t, to, +1);
	return err;
}

static int move_due(struct store_txn *t, const struct store_msg *old, const struct store_msg *m)
{
	unsigned char ok[16], nk[16];
	bool had = in_due(old->state), has = in_due(m->state);
	int err = ERR_OK;

	due_key(ok, old->due_ms, m->seq);
	due_key(nk, m->due_ms, m->seq);
	if (had && has && memcmp(ok, nk, sizeof(ok)) == 0 &&
	    store_due_lane(old) == store_due_lane(m))
		return ERR_OK;
	if (had)
		err = idx_del(t, store_due_lane(old), ok, sizeof(ok));
	if (err == ERR_OK && has)
		err = idx_put(t, store_due_lane(m), nk, sizeof(nk));
	return err;
}

int store_outbox_update(struct store_txn *t, const struct store_msg *m)
{
	struct store_msg old;
	struct sid old_id, new_id;
	bool id_moves = false;
	size_t len;
	int err;

	err = store_txn_writable(t);
	if (err == ERR_OK)
		err = store_record_size(m, &len);
	/* The old state and due time are copies; its strings die with the put
	 * below, so its provider id is copied out too. */
	if (err == ERR_OK)
		err = store_outbox_get(t, m->seq, &old);
	if (err == ERR_OK)
		err = sid_set(&new_id, m->provider_id);
	if (err == ERR_OK && sid_set(&old_id, old.provider_id) != ERR_OK)
		err = ERR_STORE;
	if (err == ERR_OK)
		id_moves = strcmp(old_id.id, new_id.id) != 0;
	if (err == ERR_OK && id_moves && new_id.id[0])
		err = sid_free_for(t, &new_id, m->seq);
	if (err == ERR_OK)
		err = scratch_fill(t->s, m, len);
	if (err != ERR_OK)
		return err; /* nothing written yet: the txn stays usable */
	err = msg_put(t, m->seq, len, 0);
	if (err == ERR_OK)
		err = move_state(t, m->seq, old.state, m->state);
	if (err == ERR_OK)
		err = move_due(t, &old, m);
	if (err == ERR_OK && id_moves && old_id.id[0])
		err = sid_del(t, &old_id, m->seq);
	if (err == ERR_OK && id_moves && new_id.id[0])
		err = sid_put(t, &new_id, m->seq);
	if (err == ERR_OK && old.state != m->state)
		watch_note(t, m->seq, len, old.state);
	return poison(t, err);
}

int store_outbox_due(struct store_txn *t, int64_t now_ms, unsigned max, uint64_t *seqs,
		     unsigned *n, int64_t *next_due_ms)
{
	int err = ERR_OK;

	*n = 0;
	*next_due_ms = -1;
	for (unsigned i = 0; i < STORE_DUE_LANES && err == ERR_OK; i++) {
		unsigned got = 0;
		int64_t next = -1;

		err = store_index_due(t, store_due_lanes[i], "due", now_ms, max - *n, seqs + *n,
				      &got, &next);
		*n += got;
		if (next >= 0 && (*next_due_ms < 0 || next < *next_due_ms))
			*next_due_ms = next;
	}
	return err;
}

/* Appends to seqs[*n..max) the parked seqs of one lane above after_seq. */
static int parked_lane(struct store_txn *t, enum store_db lane, uint64_t after_seq, unsigned max,
		       uint64_t *seqs, unsigned *n)
{
	unsigned char k0[16];
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc, err = ERR_OK;

	rc = mdb_cursor_open(t->txn, store_dbi(t, lane), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "due cursor");
	due_key(k0, STORE_DUE_PARKED, after_seq + 1);
	key.mv_data = k0;
	key.mv_size = sizeof(k0);
	for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == MDB_SUCCESS && *n < max;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (key.mv_size != 16) {
			log_err("store: due index key of %zu bytes is corrupt", key.mv_size);
			err = ERR_STORE;
			break;
		}
		if ((int64_t)store_be64_get(key.mv_data) != STORE_DUE_PARKED)
			break;
		seqs[(*n)++] = store_be64_get((unsigned char *)key.mv_data + 8);
	}
	if (err == ERR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "parked walk");
	mdb_cursor_close(c);
	return err;
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Each lane's first max parked seqs above after_seq, merged: the lowest
 * max of them all, in seq order. */
int store_outbox_parked(struct store_txn *t, uint64_t after_seq, unsigned max, uint64_t *seqs,
			unsigned *n)
{
	uint64_t *all;
	unsigned got = 0;
	int err = ERR_OK;

	*n = 0;
	if (!t || !max || !seqs)
		return ERR_INVAL;
	all = malloc((size_t)max * STORE_DUE_LANES * sizeof(*all));
	if (!all)
		return ERR_NOMEM;
	for (unsigned i = 0; i < STORE_DUE_LANES && err == ERR_OK; i++) {
		unsigned from = got;

		err = parked_lane(t, store_due_lanes[i], after_seq, from + max, all, &got);
	}
	if (err == ERR_OK) {
		qsort(all, got, sizeof(*all), seq_cmp);
		*n = got < max ? got : max;
		memcpy(seqs, all, *n * sizeof(*seqs));
	}
	free(all);
	return err;
}

struct walk {
	unsigned limit, done;
	bool stop;
	int (*cb)(const struct store_msg *m, void *arg);
	void *arg;
};

static void walk_emit(struct walk *w, const struct store_msg *m)
{
	w->done++;
	if (w->cb(m, w->arg) != 0 || (w->limit && w->done >= w->limit))
		w->stop = true;
}

/* Positions c on the greatest key below *key (SET_RANGE finds the least
 * key at or above it; the one before that is ours). */
static int seek_below(MDB_cursor *c, MDB_val *key, MDB_val *val)
{
	int rc = mdb_cursor_get(c, key, val, MDB_SET_RANGE);

	if (rc == MDB_SUCCESS)
		return mdb_cursor_get(c, key, val, MDB_PREV);
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(c, key, val, MDB_LAST);
	return rc;
}

static int list_all(struct store_txn *t, uint64_t before, struct walk *w)
{
	MDB_cursor *c = NULL;
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val;
	int rc, err = ERR_OK;

	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_MSG), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "list cursor");
	store_be64_put(k, before);
	rc = before ? seek_below(c, &key, &val) : mdb_cursor_get(c, &key, &val, MDB_LAST);
	while (rc == MDB_SUCCESS && err == ERR_OK && !w->stop) {
		struct store_msg m;

		if (key.mv_size != 8) {
			log_err("store: record key of %zu bytes is corrupt", key.mv_size);
			err = ERR_STORE;
			break;
		}
		m.seq = store_be64_get(key.mv_data);
		err = decode_logged(&val, &m);
		if (err == ERR_OK) {
			walk_emit(w, &m);
			rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
		}
	}
	if (err == ERR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "list");
	mdb_cursor_close(c);
	return err;
}

static int list_state(struct store_txn *t, int state, uint64_t before, struct walk *w)
{
	MDB_cursor *c = NULL;
	unsigned char k[9];
	MDB_val key = {sizeof(k), k}, val;
	int rc, err = ERR_OK;

	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_STATE), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "list cursor");
	/* Below (state, before), or below (state + 1, 0) for "from the newest". */
	state_key(k, before ? state : state + 1, before);
	rc = seek_below(c, &key, &val);
	while (rc == MDB_SUCCESS && err == ERR_OK && !w->stop) {
		const unsigned char *p = key.mv_data;
		struct store_msg m;

		if (key.mv_size != 9 || p[0] != state)
			break;
		err = store_outbox_get(t, store_be64_get(p + 1), &m);
		if (err == ERR_NOTFOUND) {
			log_err("store: state index names a missing record");
			err = ERR_STORE;
		}
		if (err == ERR_OK) {
			walk_emit(w, &m);
			rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
		}
	}
	if (err == ERR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "list");
	mdb_cursor_close(c);
	return err;
}

int store_outbox_list(struct store_txn *t, int state, uint64_t before_seq, unsigned limit,
		      int (*cb)(const struct store_msg *m, void *arg), void *arg)
{
	struct walk w = {limit, 0, false, cb, arg};

	if (!t || !cb || state < 0 || state >= STORE__STATES)
		return ERR_INVAL;
	if (state == 0)
		return list_all(t, before_seq, &w);
	return list_state(t, state, before_seq, &w);
}

int store_outbox_counts(struct store_txn *t, uint64_t counts[STORE__STATES])
{
	char name[32];
	int err = ERR_OK;

	counts[0] = 0;
	for (int i = STORE_QUEUED; i < STORE__STATES && err == ERR_OK; i++) {
		counter_name(name, sizeof(name), i);
		err = store_meta_get(t, name, &counts[i]);
		counts[0] += counts[i];
	}
	return err;
}

static int dedup_key(const char *event_id, MDB_val *key)
{
	size_t n;

	if (!event_id || !*event_id)
		return ERR_INVAL;
	n = strnlen(event_id, STORE_EVENT_ID_MAX + 1);
	if (n > STORE_EVENT_ID_MAX)
		return ERR_TOOBIG;
	key->mv_size = n;
	key->mv_data = (void *)event_id;
	return ERR_OK;
}

int store_dedup_get(struct store_txn *t, const char *event_id, uint64_t *seq)
{
	MDB_val key, val;
	int rc, err;

	err = dedup_key(event_id, &key);
	if (err != ERR_OK)
		return err;
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_DEDUP), &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "dedup get");
	if (val.mv_size != 8) {
		log_err("store: dedup entry of %zu bytes is corrupt", val.mv_size);
		return ERR_STORE;
	}
	*seq = store_be64_get(val.mv_data);
	return ERR_OK;
}

int store_dedup_put(struct store_txn *t, const char *event_id, uint64_t seq)
{
	unsigned char buf[8];
	MDB_val key, val = {sizeof(buf), buf};
	int err;

	err = store_txn_writable(t);
	if (err == ERR_OK)
		err = dedup_key(event_id, &key);
	if (err != ERR_OK)
		return err;
	store_be64_put(buf, seq);
	return store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_DEDUP), &key, &val, MDB_NOOVERWRITE),
			     "dedup put");
}

static bool is_final(int state)
{
	return state == STORE_SENT || state == STORE_DELIVERED || state == STORE_READ ||
	       state == STORE_UNDELIVERED || state == STORE_FAILED || state == STORE_EXPIRED ||
	       state == STORE_REJECTED || state == STORE_SUPPRESSED;
}

/* Deletes one record with its state entry, counter, provider id and dedup
 * entry. */
static int prune_one(struct store_txn *t, const struct store_msg *m)
{
	unsigned char k[9], sk[8];
	MDB_val key = {8, sk}, dk, dv;
	struct sid id;
	int rc;

	state_key(k, m->state, m->seq);
	rc = idx_del(t, STORE_DB_STATE, k, sizeof(k));
	if (rc == ERR_OK && m->provider_id[0])
		rc = sid_set(&id, m->provider_id) == ERR_OK ? sid_del(t, &id, m->seq) : ERR_STORE;
	if (rc == ERR_OK)
		rc = counter_add(t, m->state, -1);
	if (rc == ERR_OK) /* its delivery status and poll entry, if it was sent */
		rc = store_track_del(t, m->seq);
	/* The dedup entry goes with the record it names, and only with it. */
	if (rc == ERR_OK && dedup_key(m->event_id, &dk) == ERR_OK &&
	    mdb_get(t->txn, store_dbi(t, STORE_DB_DEDUP), &dk, &dv) == MDB_SUCCESS && dv.mv_size == 8 &&
	    store_be64_get(dv.mv_data) == m->seq)
		rc = store_mdb_err(t, mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_DEDUP), &dk, NULL), "prune dedup");
	store_be64_put(sk, m->seq);
	/* Last: the record's strings point into its page until here. */
	if (rc == ERR_OK)
		rc = store_mdb_err(t, mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_MSG), &key, NULL), "prune");
	return rc;
}

int store_outbox_delete(struct store_txn *t, uint64_t seq)
{
	struct store_msg m;
	int rc = store_txn_writable(t);

	if (rc == ERR_OK)
		rc = store_outbox_get(t, seq, &m);
	if (rc == ERR_OK && !is_final(m.state))
		rc = ERR_INVAL;
	return rc == ERR_OK ? prune_one(t, &m) : rc;
}

int store_outbox_prune(struct store_txn *t, int state, struct store_prune *p)
{
	MDB_cursor *c;
	unsigned char k[9];
	MDB_val key = {sizeof(k), k}, val;
	uint64_t seqs[256];
	unsigned n = 0, max = p->max > 256 ? 256 : p->max;
	int rc = store_txn_writable(t);

	if (rc != ERR_OK)
		return rc;
	if (!is_final(state))
		return ERR_INVAL;
	/* Oldest first: seq order is ingest order. Collect, then change, so no
	 * cursor walks a tree that is changing under it. */
	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_STATE), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "prune cursor");
	state_key(k, state, 0);
	for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == MDB_SUCCESS && n < max;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (key.mv_size != 9 || ((const unsigned char *)key.mv_data)[0] != state)
			break;
		seqs[n++] = store_be64_get((const unsigned char *)key.mv_data + 1);
	}
	mdb_cursor_close(c);
	for (unsigned i = 0; i < n; i++) {
		struct store_msg m;

		rc = store_outbox_get(t, seqs[i], &m);
		if (rc == ERR_OK && (m.flags & STORE_F_CLOCK_UNSET)) {
			m.flags &= ~(uint32_t)STORE_F_CLOCK_UNSET;
			m.created_ms = p->now_ms;
			rc = store_outbox_update(t, &m);
			p->restamped += rc == ERR_OK;
			if (rc == ERR_OK)
				continue;
		}
		if (rc != ERR_OK)
			return rc;
		if (m.created_ms >= p->created_before_ms)
			break;
		rc = prune_one(t, &m);
		if (rc != ERR_OK)
			return rc;
		p->pruned++;
	}
	return ERR_OK;
}
