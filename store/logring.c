/*
 * logring.c - the log ring (logring.h): encoding, append, trim, read.
 *
 * Encoded record: format byte (1), level, time_ms and msg_seq (8 bytes BE
 * each), then module, event id, text, to, vars, each as a 2-byte BE length,
 * the bytes and a NUL. The NUL lets a reader hand out pointers into the map
 * as C strings without a copy.
 */
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/logring.h"
#include "store/outbox.h"
#include "store/store_impl.h"

/* The first byte: 1, or 2 for the same layout whose number is a sender's
 * (an inbound message's "from"). One number slot for both keeps the
 * filters by number and the scrub of a forgotten person as they were. */
#define LOG_FORMAT 1
#define LOG_FORMAT_SENDER 2
#define META_SEQ "log/seq"
#define META_BYTES "log/bytes"
#define STAT_DROPPED "log_dropped"

static size_t put_str(unsigned char *p, const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max) : 0;

	p[0] = (unsigned char)(n >> 8);
	p[1] = (unsigned char)n;
	if (n)
		memcpy(p + 2, s, n);
	p[2 + n] = '\0';
	return 3 + n;
}

size_t store_log_encode(const struct store_log_rec *r, unsigned char *buf, size_t cap)
{
	const char *strs[5] = {r->module, r->event_id, r->text, r->to, r->vars};
	static const size_t max[5] = {STORE_LOG_MODULE_MAX, STORE_LOG_EVENT_MAX,
				      STORE_LOG_TEXT_MAX, STORE_LOG_TO_MAX, STORE_LOG_VARS_MAX};
	size_t need = STORE_LOG_FIXED, off = 18;

	for (int i = 0; i < 5; i++)
		need += strs[i] ? strnlen(strs[i], max[i]) : 0;
	if (need > cap)
		return 0;
	buf[0] = r->sender ? LOG_FORMAT_SENDER : LOG_FORMAT;
	buf[1] = r->level;
	store_be64_put(buf + 2, (uint64_t)r->time_ms);
	store_be64_put(buf + 10, r->msg_seq);
	for (int i = 0; i < 5; i++)
		off += put_str(buf + off, strs[i], max[i]);
	return off;
}

/* One length-prefixed, NUL-terminated string at *off; NULL if it does not
 * fit in len or lacks its NUL. */
static const char *get_str(const unsigned char *p, size_t len, size_t *off)
{
	size_t n;
	const char *s;

	if (len - *off < 3)
		return NULL;
	n = (size_t)p[*off] << 8 | p[*off + 1];
	if (len - *off - 3 < n || p[*off + 2 + n] != '\0')
		return NULL;
	s = (const char *)p + *off + 2;
	*off += 3 + n;
	return s;
}

int store_log_decode(const void *buf, size_t len, struct store_log_rec *r)
{
	const unsigned char *p = buf;
	const char **strs[5] = {&r->module, &r->event_id, &r->text, &r->to, &r->vars};
	size_t off = 18;

	if (len < STORE_LOG_FIXED || (p[0] != LOG_FORMAT && p[0] != LOG_FORMAT_SENDER))
		return ERR_PARSE;
	r->sender = p[0] == LOG_FORMAT_SENDER;
	r->level = p[1];
	r->time_ms = (int64_t)store_be64_get(p + 2);
	r->msg_seq = store_be64_get(p + 10);
	for (int i = 0; i < 5; i++)
		if (!(*strs[i] = get_str(p, len, &off)))
			return ERR_PARSE;
	return off == len ? ERR_OK : ERR_PARSE;
}

static uint64_t cost(size_t value_len)
{
	return 8 + value_len + STORE_LOG_OVERHEAD;
}

int store_log_append(struct store_txn *t, const void *enc, size_t len, uint64_t *seq)
{
	struct store_log_rec r;
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val = {len, (void *)enc};
	uint64_t last = 0, bytes = 0;
	int err = store_txn_writable(t);

	if (err == ERR_OK && store_log_decode(enc, len, &r) != ERR_OK)
		return ERR_PARSE; /* refused before anything is written: txn still good */
	if (err == ERR_OK)
		err = store_meta_get(t, META_SEQ, &last);
	if (err == ERR_OK)
		err = store_meta_get(t, META_BYTES, &bytes);
	if (err != ERR_OK)
		return err;
	store_be64_put(k, last + 1);
	err = store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_LOG], &key, &val, MDB_APPEND),
			    "log append");
	if (err == ERR_OK)
		err = store_meta_put(t, META_SEQ, last + 1);
	if (err == ERR_OK)
		err = store_meta_put(t, META_BYTES, bytes + cost(len));
	if (err == ERR_OK && seq)
		*seq = last + 1;
	return err;
}

/* Deletes the first record; *freed gets what it counted for. MDB_NOTFOUND
 * when the ring is empty. */
static int drop_first(MDB_cursor *c, uint64_t *freed)
{
	MDB_val k, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);

	if (rc == MDB_SUCCESS) {
		*freed = cost(v.mv_size);
		rc = mdb_cursor_del(c, 0);
	}
	return rc;
}

static int trim_walk(struct store_txn *t, MDB_cursor *c, uint64_t max_bytes, uint64_t *bytes,
		     uint64_t *n)
{
	MDB_stat st;
	uint64_t entries, freed;
	int rc = mdb_stat(t->txn, t->s->dbi[STORE_DB_LOG], &st);

	entries = rc == MDB_SUCCESS ? st.ms_entries : 0;
	while (rc == MDB_SUCCESS && *bytes > max_bytes && entries > 1) {
		rc = drop_first(c, &freed);
		if (rc != MDB_SUCCESS)
			break;
		*bytes = *bytes > freed ? *bytes - freed : 0;
		entries--;
		(*n)++;
	}
	return store_mdb_err(t, rc, "log trim");
}

int store_log_trim(struct store_txn *t, uint64_t max_bytes, uint64_t *dropped)
{
	MDB_cursor *c = NULL;
	uint64_t bytes = 0, n = 0;
	int err = store_txn_writable(t);

	if (dropped)
		*dropped = 0;
	if (err == ERR_OK)
		err = store_meta_get(t, META_BYTES, &bytes);
	if (err != ERR_OK || bytes <= max_bytes)
		return err;
	err = store_mdb_err(t, mdb_cursor_open(store_wtxn(t), t->s->dbi[STORE_DB_LOG], &c), "log cursor");
	if (err == ERR_OK)
		err = trim_walk(t, c, max_bytes, &bytes, &n);
	if (c)
		mdb_cursor_close(c);
	if (err == ERR_OK)
		err = store_meta_put(t, META_BYTES, bytes);
	if (err == ERR_OK && n)
		err = store_stat_add(t, STAT_DROPPED, (int64_t)n);
	if (err == ERR_OK && dropped)
		*dropped = n;
	return err;
}

int store_log_range(struct store_txn *t, struct store_log_range *r)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc, err;

	memset(r, 0, sizeof(*r));
	err = store_meta_get(t, META_BYTES, &r->bytes);
	if (err == ERR_OK)
		err = store_stat_get(t, STAT_DROPPED, &r->dropped);
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_cursor_open(t->txn, t->s->dbi[STORE_DB_LOG], &c),
				    "log cursor");
	if (err != ERR_OK)
		return err;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (rc == MDB_SUCCESS && k.mv_size == 8) {
		r->first = store_be64_get(k.mv_data);
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
		if (rc == MDB_SUCCESS && k.mv_size == 8)
			r->last = store_be64_get(k.mv_data);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? ERR_OK : store_mdb_err(t, rc, "log range");
}

/* Hands the record at the cursor to cb if it passes the level. Returns 1
 * to stop (cb said so, or max_records reached), 0 to go on. */
static int read_one(const MDB_val *k, const MDB_val *v, const struct store_log_query *q,
		    store_log_cb *cb, void *arg, unsigned *given)
{
	struct store_log_rec r;

	if (store_log_decode(v->mv_data, v->mv_size, &r) != ERR_OK) {
		log_warn("store: log record #%llu does not decode; skipped",
			 (unsigned long long)store_be64_get(k->mv_data));
		return 0;
	}
	if (r.level > q->max_level)
		return 0;
	r.seq = store_be64_get(k->mv_data);
	(*given)++;
	return cb(&r, arg) || (q->max_records && *given >= q->max_records);
}

int store_log_read(struct store_txn *t, const struct store_log_query *q, store_log_cb *cb,
		   void *arg, uint64_t *next)
{
	MDB_cursor *c = NULL;
	unsigned char kb[8];
	MDB_val k = {sizeof(kb), kb}, v;
	unsigned given = 0, scanned = 0;
	uint64_t last = 0;
	int rc, err, stop = 0;

	*next = q->since ? q->since : 1;
	err = store_meta_get(t, META_SEQ, &last);
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_cursor_open(t->txn, t->s->dbi[STORE_DB_LOG], &c),
				    "log cursor");
	if (err != ERR_OK)
		return err;
	if (*next <= last)
		*next = last + 1; /* unless a record is looked at below */
	store_be64_put(kb, q->since);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8)
			continue;
		*next = store_be64_get(k.mv_data) + 1;
		stop = read_one(&k, &v, q, cb, arg, &given) ||
		       (q->max_scan && ++scanned >= q->max_scan);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? ERR_OK : store_mdb_err(t, rc, "log read");
}

/* One record rewritten without its sensitive fields; *delta gets the
 * change in what it counts against the ring's size. */
static int scrub_one(MDB_cursor *c, const MDB_val *k, const MDB_val *v, int64_t *delta)
{
	static unsigned char buf[STORE_LOG_ENC_MAX];
	unsigned char kb[8];
	struct store_log_rec r;
	MDB_val nv, nk = {sizeof(kb), kb};
	size_t len;

	/* Key and value are copied out: the put rewrites the page they are in. */
	if (k->mv_size != sizeof(kb) || store_log_decode(v->mv_data, v->mv_size, &r) != ERR_OK)
		return MDB_SUCCESS;
	memcpy(kb, k->mv_data, sizeof(kb));
	r.to = r.vars = "";
	len = store_log_encode(&r, buf, sizeof(buf)); /* copies out of the map first */
	if (!len)
		return MDB_SUCCESS;
	nv = (MDB_val){len, buf};
	*delta += (int64_t)cost(len) - (int64_t)cost(v->mv_size);
	return mdb_cursor_put(c, &nk, &nv, MDB_CURRENT);
}

int store_log_scrub(struct store_txn *t, const char *to, uint64_t *n)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct store_log_rec r;
	uint64_t bytes = 0;
	int64_t delta = 0;
	int rc, err = store_txn_writable(t);

	*n = 0;
	if (err == ERR_OK && (!to || !to[0]))
		err = ERR_INVAL;
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_cursor_open(store_wtxn(t), t->s->dbi[STORE_DB_LOG], &c),
				    "log cursor");
	if (err != ERR_OK)
		return err;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (store_log_decode(v.mv_data, v.mv_size, &r) != ERR_OK || strcmp(r.to, to) != 0)
			continue;
		rc = scrub_one(c, &k, &v, &delta);
		if (rc != MDB_SUCCESS)
			break;
		(*n)++;
	}
	mdb_cursor_close(c);
	err = rc == MDB_NOTFOUND ? ERR_OK : store_mdb_err(t, rc, "log scrub");
	if (err == ERR_OK && *n)
		err = store_meta_get(t, META_BYTES, &bytes);
	if (err == ERR_OK && *n)
		err = store_meta_put(t, META_BYTES, (uint64_t)((int64_t)bytes + delta));
	return err;
}
