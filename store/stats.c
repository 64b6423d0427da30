/*
 * stats.c - the `stats` DB: (day, route, account) -> counters, cost and two
 * latency histograms (stats.h).
 *
 * Key: day (4 bytes big-endian, days since 1970-01-01) ++ route ++ NUL ++
 * account ++ NUL. Day first, so the entries of the oldest days sit together
 * at the start and pruning walks only what it deletes, and a listing from a
 * day on starts with one seek.
 *
 * Value (STORE_STATS_REC_LEN bytes, big-endian): version (1), bucket count
 * (STORE_STATS_BUCKETS), 2 bytes 0; STORE_ST__COUNT u64 counters; the cost
 * as an i64 of millionths; then the delivered and read histograms, u32 per
 * bucket. No long or size_t anywhere: the same bytes on every CPU.
 */
#include <string.h>

#include "hal/err.h"
#include "store/stats.h"
#include "store/store_impl.h"

#define KEY_MAX (4 + 2 * (STORE_STATS_NAME_MAX + 1))

static const char *const kind_names[STORE_ST__COUNT] = {
	"events",    "rejected", "queued",     "sent",      "delivered", "read",
	"failed",    "expired",  "suppressed", "coalesced", "escalated", "acknowledged",
};

const char *store_stat_kind_name(int kind)
{
	return kind >= 0 && kind < STORE_ST__COUNT ? kind_names[kind] : NULL;
}

/* 1000 * 2^(b/2) ms: whole powers of two for even b, times sqrt(2)
 * (1414213/1000000) for odd ones. Integer arithmetic: no libm, and the same
 * bounds on every CPU. */
uint64_t store_stats_bucket_ms(unsigned b)
{
	uint64_t even;

	if (b >= STORE_STATS_BUCKETS - 1)
		b = STORE_STATS_BUCKETS - 2; /* the last: its lower bound */
	even = (uint64_t)1000 << (b / 2);
	return b % 2 ? even * 1414213 / 1000000 : even;
}

unsigned store_stats_bucket(int64_t ms)
{
	unsigned b = 0;

	if (ms < 0)
		ms = 0;
	while (b < STORE_STATS_BUCKETS - 1 && (uint64_t)ms >= store_stats_bucket_ms(b))
		b++;
	return b;
}

uint64_t store_stats_percentile(const uint32_t *hist, unsigned pct)
{
	uint64_t total = 0, want, seen = 0;

	for (unsigned b = 0; b < STORE_STATS_BUCKETS; b++)
		total += hist[b];
	if (!total || !pct)
		return 0;
	if (pct > 100)
		pct = 100;
	want = (total * pct + 99) / 100; /* the rank of the pct-th percentile */
	for (unsigned b = 0; b < STORE_STATS_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want)
			return store_stats_bucket_ms(b);
	}
	return store_stats_bucket_ms(STORE_STATS_BUCKETS - 1);
}

static uint64_t sat_add64(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

void store_stats_merge(struct store_stats *into, const struct store_stats *d)
{
	for (int k = 0; k < STORE_ST__COUNT; k++)
		into->n[k] = sat_add64(into->n[k], d->n[k]);
	into->cost_micros += d->cost_micros;
	for (int l = 0; l < STORE_LAT__N; l++)
		for (int b = 0; b < STORE_STATS_BUCKETS; b++) {
			uint64_t v = (uint64_t)into->lat[l][b] + d->lat[l][b];
			into->lat[l][b] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		}
}

int store_stats_empty(const struct store_stats *s)
{
	static const struct store_stats zero;

	return memcmp(s, &zero, sizeof(zero)) == 0;
}

static void be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void store_stats_encode(const struct store_stats *s, unsigned char buf[STORE_STATS_REC_LEN])
{
	unsigned char *p = buf;

	*p++ = STORE_STATS_VERSION;
	*p++ = STORE_STATS_BUCKETS;
	*p++ = 0;
	*p++ = 0;
	for (int k = 0; k < STORE_ST__COUNT; k++, p += 8)
		store_be64_put(p, s->n[k]);
	store_be64_put(p, (uint64_t)s->cost_micros);
	p += 8;
	for (int l = 0; l < STORE_LAT__N; l++)
		for (int b = 0; b < STORE_STATS_BUCKETS; b++, p += 4)
			be32_put(p, s->lat[l][b]);
}

int store_stats_decode(const void *data, size_t len, struct store_stats *s)
{
	const unsigned char *p = data;

	if (!data || len != STORE_STATS_REC_LEN || p[0] != STORE_STATS_VERSION ||
	    p[1] != STORE_STATS_BUCKETS)
		return ERR_STORE;
	p += 4;
	for (int k = 0; k < STORE_ST__COUNT; k++, p += 8)
		s->n[k] = store_be64_get(p);
	s->cost_micros = (int64_t)store_be64_get(p);
	p += 8;
	for (int l = 0; l < STORE_LAT__N; l++)
		for (int b = 0; b < STORE_STATS_BUCKETS; b++, p += 4)
			s->lat[l][b] = be32_get(p);
	return ERR_OK;
}

/* The key of (day, route, account); 0 if a name is too long. */
static size_t key_make(unsigned char *k, uint32_t day, const char *route, const char *account)
{
	size_t rl = strlen(route ? route : ""), al = strlen(account ? account : "");

	if (rl > STORE_STATS_NAME_MAX || al > STORE_STATS_NAME_MAX)
		return 0;
	be32_put(k, day);
	memcpy(k + 4, route ? route : "", rl + 1);
	memcpy(k + 5 + rl, account ? account : "", al + 1);
	return 6 + rl + al;
}

/* Splits a key; ERR_STORE if it is not one of ours. */
static int key_split(const MDB_val *key, uint32_t *day, const char **route, const char **account)
{
	const char *r = (const char *)key->mv_data + 4;
	size_t left = key->mv_size - 4, rl;

	if (key->mv_size < 6 || ((const char *)key->mv_data)[key->mv_size - 1] != '\0')
		return ERR_STORE;
	rl = strnlen(r, left);
	if (rl + 2 > left)
		return ERR_STORE;
	*day = be32_get(key->mv_data);
	*route = r;
	*account = r + rl + 1;
	return ERR_OK;
}

int store_stats_add(struct store_txn *t, uint32_t day, const char *route, const char *account,
		    const struct store_stats *d)
{
	unsigned char k[KEY_MAX], v[STORE_STATS_REC_LEN];
	MDB_val key = {0, k}, val;
	struct store_stats s = {0};
	int rc, err = store_txn_writable(t);

	if (err != ERR_OK)
		return err;
	key.mv_size = key_make(k, day, route, account);
	if (!key.mv_size)
		return ERR_TOOBIG;
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_STATS), &key, &val);
	if (rc == MDB_SUCCESS && store_stats_decode(val.mv_data, val.mv_size, &s) != ERR_OK) {
		/* A day we cannot read (a newer layout) is not added to: the
		 * counts would be written back in ours and lose its fields. */
		log_err("store: stats entry of day %u route %s is corrupt or newer (%zu bytes); "
			"not counted",
			(unsigned)day, route, val.mv_size);
		return ERR_OK;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return store_mdb_err(t, rc, "stats get");
	store_stats_merge(&s, d);
	store_stats_encode(&s, v);
	val = (MDB_val){sizeof(v), v};
	return store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_STATS), &key, &val, 0),
			     "stats put");
}

int store_stats_list(struct store_txn *t, uint32_t from_day, store_stats_cb cb, void *arg)
{
	unsigned char k0[4];
	MDB_cursor *c = NULL;
	MDB_val key = {sizeof(k0), k0}, val;
	int rc, err = ERR_OK;

	if (!t || !cb)
		return ERR_INVAL;
	be32_put(k0, from_day);
	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_STATS), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "stats cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		struct store_stats s;
		const char *route, *account;
		uint32_t day;

		if (key_split(&key, &day, &route, &account) != ERR_OK ||
		    store_stats_decode(val.mv_data, val.mv_size, &s) != ERR_OK)
			continue; /* not ours to read (a newer layout): skipped, not fatal */
		if (cb(day, route, account, &s, arg))
			break;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "stats walk");
	mdb_cursor_close(c);
	return err;
}

int store_stats_prune(struct store_txn *t, uint32_t before_day, unsigned max, unsigned *deleted)
{
	MDB_cursor *c = NULL;
	MDB_val key, val;
	unsigned n = 0;
	int rc, err = store_txn_writable(t);

	if (deleted)
		*deleted = 0;
	if (err != ERR_OK)
		return err;
	rc = mdb_cursor_open(t->txn, store_dbi(t, STORE_DB_STATS), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "stats cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS && n < max;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (key.mv_size < 4 || be32_get(key.mv_data) >= before_day)
			break;
		store_wtxn(t);
		rc = mdb_cursor_del(c, 0);
		if (rc != MDB_SUCCESS)
			break;
		n++;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "stats prune");
	mdb_cursor_close(c);
	if (deleted)
		*deleted = n;
	return err;
}
