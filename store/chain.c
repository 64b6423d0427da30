/*
 * chain.c - escalation chains and their indexes (see chain.h).
 *
 * Entry layout, version 1, big-endian like record.c:
 *   u8 version, u8 state, u8 step, u8 flags, i64 at_ms, i64 started_ms,
 *   i64 updated_ms, i64 ended_ms, u8 n_cur, u64 cur[n_cur], then each
 *   string as u32 length + bytes + NUL (so a decoded string points into
 *   the map, as a record's do).
 * Decoding trusts nothing: a torn entry gives ERR_STORE.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/chain.h"
#include "store/outbox.h"
#include "store/store_impl.h"

#define CHAIN_VERSION 1
#define CHAIN_FIXED (4 + 8 * 4 + 1)
#define KEY_MAX 511
#define N_STR 10

static const char *const state_names[STORE_CHAIN__STATES] = {
	[STORE_CHAIN_OPEN] = "open", [STORE_CHAIN_REACHED] = "reached",
	[STORE_CHAIN_ACKED] = "acknowledged", [STORE_CHAIN_GAVE_UP] = "gave_up",
	[STORE_CHAIN_STOPPED] = "stopped",
};

const char *store_chain_state_name(int state)
{
	return state > 0 && state < STORE_CHAIN__STATES ? state_names[state] : "unknown";
}

static int poison(struct store_txn *t, int err)
{
	if (err != ERR_OK && t->err == ERR_OK)
		t->err = err;
	return err;
}

/* The strings in their stored order. */
static void strs_of(const struct store_chain *c, const char *s[N_STR])
{
	const char *v[N_STR] = {c->event_id, c->route, c->topic, c->account, c->template_name,
				c->content_sid, c->vars_json, c->body, c->reached, c->note};

	for (int i = 0; i < N_STR; i++)
		s[i] = v[i] ? v[i] : "";
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* malloc'd encoding, *len its size; NULL with *err. */
static unsigned char *encode(const struct store_chain *c, size_t *len, int *err)
{
	const char *s[N_STR];
	size_t n = CHAIN_FIXED + 8 * (size_t)c->n_cur;
	unsigned char *buf, *p;

	*err = ERR_TOOBIG;
	if (c->n_cur > STORE_CHAIN_CUR_MAX || (c->reached && strlen(c->reached) > STORE_CHAIN_TO_MAX))
		return NULL;
	strs_of(c, s);
	for (int i = 0; i < N_STR; i++)
		n += 4 + strlen(s[i]) + 1;
	if (n > STORE_REC_MAX)
		return NULL;
	*err = ERR_NOMEM;
	buf = malloc(n);
	if (!buf)
		return NULL;
	p = buf;
	*p++ = CHAIN_VERSION;
	*p++ = c->state;
	*p++ = c->step;
	*p++ = c->flags;
	store_be64_put(p, (uint64_t)c->at_ms);
	store_be64_put(p + 8, (uint64_t)c->started_ms);
	store_be64_put(p + 16, (uint64_t)c->updated_ms);
	store_be64_put(p + 24, (uint64_t)c->ended_ms);
	p += 32;
	*p++ = (unsigned char)c->n_cur;
	for (unsigned i = 0; i < c->n_cur; i++, p += 8)
		store_be64_put(p, c->cur[i]);
	for (int i = 0; i < N_STR; i++) {
		size_t k = strlen(s[i]);

		p = put_u32(p, (uint32_t)k);
		memcpy(p, s[i], k + 1);
		p += k + 1;
	}
	*len = n;
	*err = ERR_OK;
	return buf;
}

static int decode(const MDB_val *v, struct store_chain *c)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;
	const char **s[N_STR] = {&c->event_id, &c->route, &c->topic, &c->account,
				 &c->template_name, &c->content_sid, &c->vars_json, &c->body,
				 &c->reached, &c->note};

	if (v->mv_size < CHAIN_FIXED || p[0] != CHAIN_VERSION)
		return ERR_STORE;
	c->state = p[1];
	c->step = p[2];
	c->flags = p[3];
	c->at_ms = (int64_t)store_be64_get(p + 4);
	c->started_ms = (int64_t)store_be64_get(p + 12);
	c->updated_ms = (int64_t)store_be64_get(p + 20);
	c->ended_ms = (int64_t)store_be64_get(p + 28);
	c->n_cur = p[36];
	p += CHAIN_FIXED;
	if (c->n_cur > STORE_CHAIN_CUR_MAX || (size_t)(end - p) < 8 * (size_t)c->n_cur)
		return ERR_STORE;
	for (unsigned i = 0; i < c->n_cur; i++, p += 8)
		c->cur[i] = store_be64_get(p);
	for (int i = 0; i < N_STR; i++) {
		uint32_t k;

		if (end - p < 4)
			return ERR_STORE;
		k = get_u32(p);
		p += 4;
		if ((size_t)(end - p) < (size_t)k + 1 || p[k] != '\0')
			return ERR_STORE;
		*s[i] = (const char *)p;
		p += k + 1;
	}
	return p == end ? ERR_OK : ERR_STORE;
}

int store_chain_get(struct store_txn *t, uint64_t id, struct store_chain *c)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k}, val;
	int rc;

	if (!t || !c)
		return ERR_INVAL;
	memset(c, 0, sizeof(*c));
	c->id = id;
	store_be64_put(k, id);
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_CHAIN), &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "chain get");
	if (decode(&val, c) != ERR_OK) {
		log_err("store: escalation chain #%" PRIu64 " is corrupt (%zu bytes)", id, val.mv_size);
		memset(c, 0, sizeof(*c));
		c->id = id;
		return ERR_STORE;
	}
	return ERR_OK;
}

static void due_key(unsigned char k[16], int64_t at_ms, uint64_t id)
{
	store_be64_put(k, at_ms > 0 ? (uint64_t)at_ms : 0);
	store_be64_put(k + 8, id);
}

static int due_move(struct store_txn *t, uint64_t id, bool had, int64_t from, int64_t to)
{
	unsigned char k[16];
	MDB_val key = {sizeof(k), k}, val = {0, NULL};
	int rc = MDB_SUCCESS;

	if (had && from == to)
		return ERR_OK;
	if (had) {
		due_key(k, from, id);
		rc = mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_CHAINDUE), &key, NULL);
		if (rc == MDB_NOTFOUND) {
			log_err("store: chain deadline index lacks #%" PRIu64 ": out of step", id);
			return ERR_STORE;
		}
	}
	if (rc == MDB_SUCCESS) {
		due_key(k, to, id);
		rc = mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_CHAINDUE), &key, &val, 0);
	}
	return store_mdb_err(t, rc, "chain deadline index");
}

/* 'e'/'t' text NUL id: *len, or 0 if it does not fit a key. */
static size_t ref_key(unsigned char *k, char kind, const char *text, uint64_t id, bool with_id)
{
	size_t n = strlen(text);

	if (2 + n + 8 > KEY_MAX)
		return 0;
	k[0] = (unsigned char)kind;
	memcpy(k + 1, text, n);
	k[1 + n] = '\0';
	if (with_id)
		store_be64_put(k + 2 + n, id);
	return 2 + n + (with_id ? 8 : 0);
}

static int ref_put(struct store_txn *t, char kind, const char *text, uint64_t id, bool del)
{
	unsigned char k[KEY_MAX];
	MDB_val key = {ref_key(k, kind, text, id, true), k}, val = {0, NULL};
	int rc;

	if (!key.mv_size)
		return del ? ERR_OK : poison(t, ERR_TOOBIG);
	rc = del ? mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_CHAINREF), &key, NULL)
		 : mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_CHAINREF), &key, &val, 0);
	if (del && rc == MDB_NOTFOUND)
		return ERR_OK;
	return store_mdb_err(t, rc, "chain ref");
}

int store_chain_put(struct store_txn *t, const struct store_chain *c)
{
	unsigned char k[8], *buf;
	MDB_val key = {sizeof(k), k}, val;
	struct store_chain old;
	size_t len = 0;
	bool had;
	int err = store_txn_writable(t);

	if (err != ERR_OK)
		return err;
	err = store_chain_get(t, c->id, &old);
	had = err == ERR_OK;
	if (err != ERR_OK && err != ERR_NOTFOUND)
		return poison(t, err);
	buf = encode(c, &len, &err);
	if (!buf)
		return err == ERR_TOOBIG ? err : poison(t, err);
	/* old's strings point into the page the put rewrites: only numbers used below */
	int64_t from = old.at_ms;

	val.mv_size = len;
	val.mv_data = buf;
	store_be64_put(k, c->id);
	err = store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_CHAIN), &key, &val, 0),
			    "chain put");
	free(buf);
	if (err == ERR_OK)
		err = due_move(t, c->id, had, from, c->at_ms);
	if (err == ERR_OK && !had)
		err = ref_put(t, 'e', c->event_id ? c->event_id : "", c->id, false);
	return poison(t, err);
}

int store_chain_ref_to(struct store_txn *t, const char *e164, uint64_t id)
{
	int err = store_txn_writable(t);

	return err == ERR_OK ? ref_put(t, 't', e164, id, false) : err;
}

int store_chain_del(struct store_txn *t, uint64_t id)
{
	unsigned char k[8];
	MDB_val key = {sizeof(k), k};
	struct store_chain c;
	char *reached = NULL, *event = NULL;
	int err = store_txn_writable(t);

	if (err == ERR_OK)
		err = store_chain_get(t, id, &c);
	if (err != ERR_OK)
		return err == ERR_NOTFOUND ? ERR_OK : err;
	reached = strdup(c.reached);
	event = strdup(c.event_id);
	if (!reached || !event) {
		free(reached);
		free(event);
		return poison(t, ERR_NOMEM);
	}
	unsigned char dk[16];
	MDB_val dkey = {sizeof(dk), dk};
	int rc;

	due_key(dk, c.at_ms, id);
	rc = mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_CHAINDUE), &dkey, NULL);
	if (rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "chain deadline index");
	if (err == ERR_OK)
		err = ref_put(t, 'e', event, id, true);
	for (char *p = reached, *next; err == ERR_OK && p && *p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		err = ref_put(t, 't', p, id, true);
	}
	store_be64_put(k, id);
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_CHAIN), &key, NULL),
				    "chain del");
	free(reached);
	free(event);
	return poison(t, err);
}

/* Newest first: from past the prefix's last id backwards. */
static int by_ref(struct store_txn *t, char kind, const char *text, unsigned max, uint64_t *ids,
		  unsigned *n)
{
	unsigned char k[KEY_MAX];
	size_t plen = ref_key(k, kind, text, UINT64_MAX, true);
	MDB_val key = {plen, k}, val;
	MDB_cursor *c = NULL;
	int rc, err = ERR_OK;

	*n = 0;
	if (!t || !ids || !plen)
		return plen ? ERR_INVAL : ERR_OK;
	plen -= 8;
	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_CHAINREF), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "chain ref cursor");
	/* the key with id UINT64_MAX itself, else the one before the first above it */
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS && (key.mv_size != plen + 8 || memcmp(key.mv_data, k, plen + 8) != 0))
		rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
	for (; rc == MDB_SUCCESS && *n < max; rc = mdb_cursor_get(c, &key, &val, MDB_PREV)) {
		if (key.mv_size != plen + 8 || memcmp(key.mv_data, k, plen) != 0)
			break;
		ids[(*n)++] = store_be64_get((unsigned char *)key.mv_data + plen);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "chain ref walk");
	mdb_cursor_close(c);
	return err;
}

int store_chain_by_event(struct store_txn *t, const char *event_id, unsigned max, uint64_t *ids,
			 unsigned *n)
{
	return by_ref(t, 'e', event_id, max, ids, n);
}

int store_chain_by_to(struct store_txn *t, const char *e164, unsigned max, uint64_t *ids,
		      unsigned *n)
{
	return by_ref(t, 't', e164, max, ids, n);
}

int store_chain_due(struct store_txn *t, int64_t now_ms, unsigned max, uint64_t *ids,
		    unsigned *n, int64_t *next_ms)
{
	return store_index_due(t, STORE_DB_CHAINDUE, "chain deadline", now_ms, max, ids, n, next_ms);
}
