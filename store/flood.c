/*
 * flood.c - the "flood" DB (layout in flood.h).
 *
 * Window value: i64 end_ms, u64 digest seq, u32 events (20 bytes).
 * Hour value: i64 hour, u32 events (12 bytes).
 */
#include <stdio.h>
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/flood.h"
#include "store/store_impl.h"

#define WINDOW_LEN 20
#define HOUR_LEN 12

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* kind, then the parts with a NUL between: the key's bytes and length. */
static int make_key(char *buf, size_t *len, char kind, const char *a, const char *b,
		    const char *c)
{
	int n = c ? snprintf(buf, STORE_FLOOD_KEY_MAX + 1, "%c%s%c%s%c%s", kind, a, 0, b, 0, c)
		  : snprintf(buf, STORE_FLOOD_KEY_MAX + 1, "%c%s", kind, a);

	if (n < 0 || n > STORE_FLOOD_KEY_MAX)
		return ERR_TOOBIG;
	*len = (size_t)n;
	return ERR_OK;
}

static int get(struct store_txn *t, const char *k, size_t klen, unsigned char *v, size_t vlen)
{
	MDB_val key = {klen, (void *)k}, val;
	int rc = mdb_get(t->txn, store_dbi(t, STORE_DB_FLOOD), &key, &val);

	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "flood get");
	if (val.mv_size != vlen) {
		log_err("store: flood entry of %zu bytes is corrupt; it starts again", val.mv_size);
		return ERR_NOTFOUND;
	}
	memcpy(v, val.mv_data, vlen);
	return ERR_OK;
}

static int put(struct store_txn *t, const char *k, size_t klen, unsigned char *v, size_t vlen)
{
	MDB_val key = {klen, (void *)k}, val = {vlen, v};

	return store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_FLOOD), &key, &val, 0),
			     "flood put");
}

int store_window_get(struct store_txn *t, const char *route, const char *key, const char *to,
		     struct store_window *w)
{
	char k[STORE_FLOOD_KEY_MAX + 1];
	unsigned char v[WINDOW_LEN];
	size_t klen;
	int rc = make_key(k, &klen, 'w', route, key, to);

	if (rc == ERR_OK)
		rc = get(t, k, klen, v, sizeof(v));
	if (rc != ERR_OK)
		return rc;
	w->end_ms = (int64_t)store_be64_get(v);
	w->digest = store_be64_get(v + 8);
	w->events = get32(v + 16);
	return ERR_OK;
}

int store_window_put(struct store_txn *t, const char *route, const char *key, const char *to,
		     const struct store_window *w)
{
	char k[STORE_FLOOD_KEY_MAX + 1];
	unsigned char v[WINDOW_LEN];
	size_t klen;
	int rc = make_key(k, &klen, 'w', route, key, to);

	if (rc != ERR_OK)
		return rc;
	store_be64_put(v, (uint64_t)w->end_ms);
	store_be64_put(v + 8, w->digest);
	put32(v + 16, w->events);
	return put(t, k, klen, v, sizeof(v));
}

int store_hour_get(struct store_txn *t, const char *to, int64_t hour, uint32_t *n)
{
	char k[STORE_FLOOD_KEY_MAX + 1];
	unsigned char v[HOUR_LEN];
	size_t klen;
	int rc = make_key(k, &klen, 'h', to, NULL, NULL);

	*n = 0;
	if (rc == ERR_OK)
		rc = get(t, k, klen, v, sizeof(v));
	if (rc == ERR_NOTFOUND)
		return ERR_OK;
	if (rc == ERR_OK && (int64_t)store_be64_get(v) == hour)
		*n = get32(v + 8);
	return rc;
}

int store_hour_put(struct store_txn *t, const char *to, int64_t hour, uint32_t n)
{
	char k[STORE_FLOOD_KEY_MAX + 1];
	unsigned char v[HOUR_LEN];
	size_t klen;
	int rc = make_key(k, &klen, 'h', to, NULL, NULL);

	if (rc != ERR_OK)
		return rc;
	store_be64_put(v, (uint64_t)hour);
	put32(v + 8, n);
	return put(t, k, klen, v, sizeof(v));
}

/* Whether entry (key, val) ended before now_ms. */
static bool ended(const MDB_val *key, const MDB_val *val, int64_t now_ms)
{
	const char *k = key->mv_data;

	if (key->mv_size && k[0] == 'w' && val->mv_size == WINDOW_LEN)
		return (int64_t)store_be64_get(val->mv_data) < now_ms;
	if (key->mv_size && k[0] == 'h' && val->mv_size == HOUR_LEN)
		return ((int64_t)store_be64_get(val->mv_data) + 1) * 3600000 <= now_ms;
	return true; /* corrupt: nothing to keep */
}

int store_flood_prune(struct store_txn *t, int64_t now_ms, struct store_flood_cursor *c,
		      unsigned *deleted)
{
	struct store_flood_cursor gone[STORE_FLOOD_PRUNE_MAX];
	MDB_cursor *cur = NULL;
	MDB_val key = {c->len, c->key}, val;
	unsigned seen = 0, n = 0;
	int rc, err = ERR_OK;

	*deleted = 0;
	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_FLOOD), &cur);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "flood cursor");
	rc = c->len ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)
		    : mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	for (; rc == MDB_SUCCESS && seen < STORE_FLOOD_PRUNE_MAX; seen++) {
		if (ended(&key, &val, now_ms) && key.mv_size <= STORE_FLOOD_KEY_MAX) {
			memcpy(gone[n].key, key.mv_data, key.mv_size);
			gone[n++].len = key.mv_size;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	c->len = 0; /* the end: start again next time */
	if (rc == MDB_SUCCESS && key.mv_size <= STORE_FLOOD_KEY_MAX) {
		memcpy(c->key, key.mv_data, key.mv_size);
		c->len = key.mv_size;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "flood walk");
	mdb_cursor_close(cur);
	for (unsigned i = 0; err == ERR_OK && i < n; i++) {
		MDB_val k = {gone[i].len, gone[i].key};

		err = store_mdb_err(t, mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_FLOOD), &k, NULL),
				    "flood prune");
	}
	if (err == ERR_OK)
		*deleted = n;
	return err;
}
