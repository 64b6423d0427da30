/*
 * status.c - the track, poll and receipt DBs (see status.h).
 *
 * Track entry layout, version 1, big-endian like record.c:
 *   u8 version, i64 sent_ms, i64 next_poll_ms, u32 polls, i32 code,
 *   i64 at_ms[4], u16 text length, text bytes (no NUL).
 * Small and fixed apart from the text, so it is decoded into a copy.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/outbox.h"
#include "store/status.h"
#include "store/store_impl.h"

#define TRACK_VERSION 1
#define TRACK_FIXED (1 + 8 + 8 + 4 + 4 + 8 * STORE_AT__N + 2)

static int poison(struct store_txn *t, int err)
{
	if (err != ERR_OK && t->err == ERR_OK)
		t->err = err;
	return err;
}

static void put_be(unsigned char **p, uint64_t v, unsigned n)
{
	for (unsigned i = n; i > 0; i--) {
		(*p)[i - 1] = (unsigned char)v;
		v >>= 8;
	}
	*p += n;
}

static uint64_t get_be(const unsigned char **p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | (*p)[i];
	*p += n;
	return v;
}

static size_t track_encode(const struct store_track *tr, unsigned char *buf)
{
	unsigned char *p = buf;
	size_t n = strnlen(tr->text, STORE_TRACK_TEXT);

	put_be(&p, TRACK_VERSION, 1);
	put_be(&p, (uint64_t)tr->sent_ms, 8);
	put_be(&p, (uint64_t)tr->next_poll_ms, 8);
	put_be(&p, tr->polls, 4);
	put_be(&p, (uint32_t)tr->code, 4);
	for (int i = 0; i < STORE_AT__N; i++)
		put_be(&p, (uint64_t)tr->at_ms[i], 8);
	put_be(&p, n, 2);
	memcpy(p, tr->text, n);
	return (size_t)(p - buf) + n;
}

static int track_decode(const MDB_val *v, struct store_track *tr)
{
	const unsigned char *p = v->mv_data;
	size_t n;

	if (v->mv_size < TRACK_FIXED || p[0] != TRACK_VERSION)
		return ERR_STORE;
	p++;
	tr->sent_ms = (int64_t)get_be(&p, 8);
	tr->next_poll_ms = (int64_t)get_be(&p, 8);
	tr->polls = (uint32_t)get_be(&p, 4);
	tr->code = (int32_t)(uint32_t)get_be(&p, 4);
	for (int i = 0; i < STORE_AT__N; i++)
		tr->at_ms[i] = (int64_t)get_be(&p, 8);
	n = (size_t)get_be(&p, 2);
	if (n > STORE_TRACK_TEXT || v->mv_size != TRACK_FIXED + n)
		return ERR_STORE;
	memcpy(tr->text, p, n);
	tr->text[n] = '\0';
	return ERR_OK;
}

int store_track_slot(int state)
{
	switch (state) {
	case STORE_DELIVERED: return STORE_AT_DELIVERED;
	case STORE_READ: return STORE_AT_READ;
	case STORE_UNDELIVERED:
	case STORE_FAILED: return STORE_AT_FAILED;
	default: return STORE_AT_SENT;
	}
}

static void poll_key(unsigned char k[16], int64_t at_ms, uint64_t seq)
{
	store_be64_put(k, at_ms > 0 ? (uint64_t)at_ms : 0);
	store_be64_put(k + 8, seq);
}

int store_track_get(struct store_txn *t, uint64_t seq, struct store_track *tr)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val;
	int rc;

	if (!t || !tr)
		return ERR_INVAL;
	memset(tr, 0, sizeof(*tr));
	tr->seq = seq;
	store_be64_put(k, seq);
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_TRACK), &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "track get");
	if (track_decode(&val, tr) != ERR_OK) {
		log_err("store: status entry of #%" PRIu64 " is corrupt (%zu bytes)", seq, val.mv_size);
		memset(tr, 0, sizeof(*tr));
		tr->seq = seq;
		return ERR_STORE;
	}
	return ERR_OK;
}

/* The poll entry of the old schedule goes, the new one comes. A missing or
 * doubled entry means the index disagrees with the track: refuse. */
static int poll_move(struct store_txn *t, uint64_t seq, int64_t from_ms, int64_t to_ms)
{
	unsigned char k[16];
	MDB_val key = {sizeof(k), k}, val = {0, NULL};
	int rc = MDB_SUCCESS;

	if (from_ms == to_ms)
		return ERR_OK;
	if (from_ms) {
		poll_key(k, from_ms, seq);
		rc = mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_POLL), &key, NULL);
		if (rc == MDB_NOTFOUND) {
			log_err("store: poll index lacks #%" PRIu64 ": indexes out of step", seq);
			return ERR_STORE;
		}
	}
	if (rc == MDB_SUCCESS && to_ms) {
		poll_key(k, to_ms, seq);
		rc = mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_POLL), &key, &val, MDB_NOOVERWRITE);
	}
	return store_mdb_err(t, rc, "poll index");
}

int store_track_put(struct store_txn *t, const struct store_track *tr)
{
	unsigned char k[8], buf[TRACK_FIXED + STORE_TRACK_TEXT];
	MDB_val key = {sizeof(k), k}, val = {0, buf};
	struct store_track old;
	int err = store_txn_writable(t);

	if (err != ERR_OK)
		return err;
	err = store_track_get(t, tr->seq, &old);
	if (err == ERR_NOTFOUND) {
		old.next_poll_ms = 0;
		err = ERR_OK;
	}
	if (err != ERR_OK)
		return poison(t, err);
	/* 0 is "not polled": a schedule of the epoch itself is "now". */
	val.mv_size = track_encode(tr, buf);
	store_be64_put(k, tr->seq);
	err = store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_TRACK), &key, &val, 0), "track put");
	if (err == ERR_OK)
		err = poll_move(t, tr->seq, old.next_poll_ms, tr->next_poll_ms);
	return poison(t, err);
}

int store_track_del(struct store_txn *t, uint64_t seq)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k};
	struct store_track old;
	int err = store_txn_writable(t);

	if (err == ERR_OK)
		err = store_track_get(t, seq, &old);
	if (err == ERR_NOTFOUND)
		return ERR_OK;
	if (err == ERR_OK)
		err = poll_move(t, seq, old.next_poll_ms, 0);
	store_be64_put(k, seq);
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_TRACK), &key, NULL), "track del");
	return poison(t, err);
}

int store_poll_due(struct store_txn *t, int64_t now_ms, unsigned max, uint64_t *seqs,
		   unsigned *n, int64_t *next_ms)
{
	return store_index_due(t, STORE_DB_POLL, "poll", now_ms, max, seqs, n, next_ms);
}

int store_receipt_add(struct store_txn *t, const char *topic, const char *payload)
{
	unsigned char k[8], buf[STORE_RECEIPT_MAX];
	size_t tl = strlen(topic), pl = strlen(payload);
	MDB_val key = {sizeof(k), k}, val = {tl + 1 + pl, buf};
	uint64_t last, count;
	int err = store_txn_writable(t);

	if (err != ERR_OK)
		return err;
	if (tl + 1 + pl > sizeof(buf))
		return ERR_TOOBIG;
	memcpy(buf, topic, tl + 1);
	memcpy(buf + tl + 1, payload, pl);
	err = store_meta_get(t, "receipt/last", &last);
	if (err == ERR_OK)
		err = store_meta_get(t, "receipt/count", &count);
	if (err == ERR_OK)
		err = store_meta_put(t, "receipt/last", last + 1);
	if (err == ERR_OK)
		err = store_meta_put(t, "receipt/count", count + 1);
	store_be64_put(k, last + 1);
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_RECEIPT), &key, &val, MDB_APPEND),
				    "receipt put");
	return poison(t, err);
}

/* topic NUL payload, copied into buf (the callback may outlive no page). */
static int receipt_split(const MDB_val *v, char *buf, const char **topic, const char **payload)
{
	const char *nul = v->mv_size ? memchr(v->mv_data, '\0', v->mv_size) : NULL;

	if (!nul || v->mv_size > STORE_RECEIPT_MAX)
		return ERR_STORE;
	memcpy(buf, v->mv_data, v->mv_size);
	buf[v->mv_size] = '\0';
	*topic = buf;
	*payload = buf + (nul - (const char *)v->mv_data) + 1;
	return ERR_OK;
}

int store_receipt_list(struct store_txn *t, uint64_t after, unsigned max,
		       int (*cb)(uint64_t id, const char *topic, const char *payload, void *arg),
		       void *arg)
{
	static char buf[STORE_RECEIPT_MAX + 1];
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val;
	MDB_cursor *c = NULL;
	unsigned n = 0;
	int rc, err = ERR_OK;

	if (!t || !cb)
		return ERR_INVAL;
	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_RECEIPT), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "receipt cursor");
	store_be64_put(k, after + 1);
	for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == MDB_SUCCESS && n < max;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT), n++) {
		const char *topic, *payload;

		if (key.mv_size != 8 || receipt_split(&val, buf, &topic, &payload) != ERR_OK) {
			log_err("store: a queued receipt is corrupt (%zu bytes)", val.mv_size);
			err = ERR_STORE;
			break;
		}
		if (cb(store_be64_get(key.mv_data), topic, payload, arg) != 0)
			break;
	}
	if (err == ERR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "receipt walk");
	mdb_cursor_close(c);
	return err;
}

int store_receipt_del(struct store_txn *t, uint64_t id)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k};
	uint64_t count;
	int err = store_txn_writable(t);

	if (err != ERR_OK)
		return err;
	store_be64_put(k, id);
	err = store_mdb_err(t, mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_RECEIPT), &key, NULL), "receipt del");
	if (err != ERR_OK)
		return err == ERR_NOTFOUND ? err : poison(t, err);
	err = store_meta_get(t, "receipt/count", &count);
	if (err == ERR_OK)
		err = store_meta_put(t, "receipt/count", count ? count - 1 : 0);
	return poison(t, err);
}

int store_receipt_count(struct store_txn *t, uint64_t *n)
{
	return store_meta_get(t, "receipt/count", n);
}
