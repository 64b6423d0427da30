/*
 * test_outbox.c - the LMDB store and the outbox on a real env in a temp dir.
 *
 * White-box where nothing else reaches: store/store_impl.h and
 * store/record.h give raw lmdb access to plant corrupt records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/err.h"
#include "store/flood.h"
#include "store/outbox.h"
#include "store/record.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/verify.h"

struct fx {
	char dir[64];
	struct store *s;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/outbox-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, 16, &f->s), ERR_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void reopen(struct fx *f, unsigned mb)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->dir, mb, &f->s), ERR_OK);
}

static struct store_msg msg(int state, int64_t due_ms, const char *event_id)
{
	struct store_msg m = {
		.state = (uint8_t)state, .created_ms = 1767225600000, .due_ms = due_ms,
		.event_id = event_id, .topic = "site/042/pay", .route = "payments",
		.account = "main", .to = "whatsapp:+15550001111", .template_name = "payment_received",
		.content_sid = "HX0123", .vars_json = "{\"1\":\"Ana\"}", .provider_id = "", .err_text = "",
	};
	return m;
}

static uint64_t add1(struct store *s, struct store_msg m)
{
	struct store_txn *t;

	assert_int_equal(store_begin(s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	return m.seq;
}

/* Reads the record, sets state (and due), writes it back, in one txn. */
static void move(struct store *s, uint64_t seq, int state, int64_t due_ms)
{
	struct store_txn *t;
	struct store_msg m;

	assert_int_equal(store_begin(s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, seq, &m), ERR_OK);
	m.state = (uint8_t)state;
	m.due_ms = due_ms;
	m.attempts++;
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
}

/* expect[] lists the count of each state 1..STORE__STATES-1. */
static void check_counts(struct store *s, const uint64_t expect[STORE__STATES])
{
	struct store_txn *t;
	uint64_t c[STORE__STATES], total = 0;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_counts(t, c), ERR_OK);
	store_abort(t);
	for (int i = STORE_QUEUED; i < STORE__STATES; i++) {
		if (c[i] != expect[i])
			fail_msg("count of %s: %llu, expected %llu", store_state_name(i),
				 (unsigned long long)c[i], (unsigned long long)expect[i]);
		total += expect[i];
	}
	assert_int_equal(c[0], total);
}

static void test_state_names(void **state)
{
	(void)state;
	for (int i = STORE_QUEUED; i < STORE__STATES; i++)
		assert_int_equal(store_state_parse(store_state_name(i)), i);
	assert_string_equal(store_state_name(STORE_RETRY), "retry");
	assert_string_equal(store_state_name(0), "unknown");
	assert_string_equal(store_state_name(STORE__STATES), "unknown");
	assert_int_equal(store_state_parse("nope"), 0);
	assert_int_equal(store_state_parse(NULL), 0);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_msg m = {
		.state = STORE_RETRY, .err_class = 7, .attempts = 65535, .flags = STORE_F_AMBIGUOUS | STORE_F_CLOCK_UNSET,
		.err_code = -63016, .ttl_s = 86400, .created_ms = -5, .due_ms = INT64_MAX - 1,
		.expires_ms = 1767225600123, .updated_ms = INT64_MIN,
		.event_id = "ev-1", .topic = "t/1", .route = "r", .account = "acct", .to = "whatsapp:+1",
		.template_name = "tpl", .content_sid = "HXabc", .vars_json = "{\"1\":\"é\"}",
		.provider_id = "SM123", .err_text = "Too Many Requests", .provider_status = "accepted",
	};
	struct store_txn *t;
	struct store_msg g;
	uint64_t seq = add1(f->s, m);

	assert_int_equal(seq, 1);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, seq, &g), ERR_OK);
	assert_int_equal(g.seq, seq);
	assert_int_equal(g.state, STORE_RETRY);
	assert_int_equal(g.err_class, 7);
	assert_int_equal(g.attempts, 65535);
	assert_int_equal(g.flags, STORE_F_AMBIGUOUS | STORE_F_CLOCK_UNSET);
	assert_int_equal(g.err_code, -63016);
	assert_int_equal(g.ttl_s, 86400);
	assert_true(g.created_ms == -5);
	assert_true(g.due_ms == INT64_MAX - 1);
	assert_true(g.expires_ms == 1767225600123);
	assert_true(g.updated_ms == INT64_MIN);
	assert_string_equal(g.event_id, "ev-1");
	assert_string_equal(g.topic, "t/1");
	assert_string_equal(g.route, "r");
	assert_string_equal(g.account, "acct");
	assert_string_equal(g.to, "whatsapp:+1");
	assert_string_equal(g.template_name, "tpl");
	assert_string_equal(g.content_sid, "HXabc");
	assert_string_equal(g.vars_json, "{\"1\":\"é\"}");
	assert_string_equal(g.provider_id, "SM123");
	assert_string_equal(g.err_text, "Too Many Requests");
	assert_string_equal(g.provider_status, "accepted");
	assert_int_equal(store_outbox_get(t, seq + 1, &g), ERR_NOTFOUND);
	store_abort(t);
}

/* NULL strings come back as "", and a ~70 KiB record (overflow pages) and
 * an over-limit one behave. */
static void test_big_and_empty(void **state)
{
	struct fx *f = *state;
	struct store_msg m = {.state = STORE_QUEUED}, g;
	struct store_txn *t;
	size_t big = 70 * 1024;
	char *vars = malloc(STORE_REC_MAX + 1);

	assert_non_null(vars);
	memset(vars, 'v', STORE_REC_MAX);
	vars[big] = '\0';
	m.vars_json = vars;
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	vars[big] = 'v';
	vars[STORE_REC_MAX] = '\0';
	/* Refused before anything is written: the txn still commits. */
	assert_int_equal(store_outbox_add(t, &m), ERR_TOOBIG);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, 1, &g), ERR_OK);
	assert_int_equal(strlen(g.vars_json), big);
	assert_string_equal(g.event_id, "");
	assert_string_equal(g.err_text, "");
	assert_int_equal(store_outbox_get(t, 2, &g), ERR_NOTFOUND);
	store_abort(t);
	free(vars);
}

static void test_seq_survives_reopen(void **state)
{
	struct fx *f = *state;

	assert_int_equal(add1(f->s, msg(STORE_QUEUED, 0, "a")), 1);
	assert_int_equal(add1(f->s, msg(STORE_QUEUED, 0, "b")), 2);
	assert_int_equal(add1(f->s, msg(STORE_REJECTED, 0, "c")), 3);
	reopen(f, 16);
	assert_int_equal(add1(f->s, msg(STORE_QUEUED, 0, "d")), 4);
	reopen(f, 16);
	assert_int_equal(add1(f->s, msg(STORE_QUEUED, 0, "e")), 5);
}

static void test_abort_rolls_back(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_msg m = msg(STORE_QUEUED, 0, "x"), g;
	uint64_t zero[STORE__STATES] = {0};

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	assert_int_equal(store_dedup_put(t, "x", m.seq), ERR_OK);
	store_abort(t);
	check_counts(f->s, zero);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, 1, &g), ERR_NOTFOUND);
	assert_int_equal(store_outbox_add(t, &m), ERR_INVAL); /* read txn */
	store_abort(t);
}

static void test_transitions(void **state)
{
	struct fx *f = *state;
	uint64_t c[STORE__STATES] = {0};
	uint64_t a, b, e;

	a = add1(f->s, msg(STORE_QUEUED, 0, "a"));
	b = add1(f->s, msg(STORE_QUEUED, 0, "b"));
	e = add1(f->s, msg(STORE_QUEUED, 0, "e"));
	add1(f->s, msg(STORE_REJECTED, 0, "r"));
	add1(f->s, msg(STORE_SUPPRESSED, 0, "s"));
	c[STORE_QUEUED] = 3, c[STORE_REJECTED] = 1, c[STORE_SUPPRESSED] = 1;
	check_counts(f->s, c);

	move(f->s, a, STORE_SENDING, 0);
	c[STORE_QUEUED]--, c[STORE_SENDING]++;
	check_counts(f->s, c);
	move(f->s, a, STORE_SENT, 0);
	c[STORE_SENDING]--, c[STORE_SENT]++;
	check_counts(f->s, c);

	move(f->s, b, STORE_SENDING, 0);
	c[STORE_QUEUED]--, c[STORE_SENDING]++;
	check_counts(f->s, c);
	move(f->s, b, STORE_RETRY, 5000);
	c[STORE_SENDING]--, c[STORE_RETRY]++;
	check_counts(f->s, c);
	move(f->s, b, STORE_SENDING, 0);
	c[STORE_RETRY]--, c[STORE_SENDING]++;
	check_counts(f->s, c);
	move(f->s, b, STORE_FAILED, 0);
	c[STORE_SENDING]--, c[STORE_FAILED]++;
	check_counts(f->s, c);

	move(f->s, e, STORE_EXPIRED, 0);
	c[STORE_QUEUED]--, c[STORE_EXPIRED]++;
	check_counts(f->s, c);

	reopen(f, 16);
	check_counts(f->s, c);
	/* Nothing is left in the due index: all are terminal. */
	{
		struct store_txn *t;
		uint64_t seqs[8];
		unsigned n;
		int64_t next;

		assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
		assert_int_equal(store_outbox_due(t, INT64_MAX, 8, seqs, &n, &next), ERR_OK);
		store_abort(t);
		assert_int_equal(n, 0);
		assert_true(next == -1);
	}
}

/* update() must cope with strings that point into the record it rewrites,
 * including when that record is already dirty in the same txn. */
static void test_update_from_map(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_msg m = msg(STORE_QUEUED, 0, "ev"), g;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	assert_int_equal(store_outbox_get(t, m.seq, &g), ERR_OK);
	g.state = STORE_SENT;
	g.provider_id = "SM0123456789abcdef0123456789abcdef"; /* grows the record */
	assert_int_equal(store_outbox_update(t, &g), ERR_OK);
	assert_int_equal(store_outbox_get(t, m.seq, &g), ERR_OK);
	g.provider_id = ""; /* shrinks it again; later strings move */
	g.state = STORE_DELIVERED;
	assert_int_equal(store_outbox_update(t, &g), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, m.seq, &g), ERR_OK);
	assert_int_equal(g.state, STORE_DELIVERED);
	assert_string_equal(g.event_id, "ev");
	assert_string_equal(g.vars_json, "{\"1\":\"Ana\"}");
	assert_string_equal(g.to, "whatsapp:+15550001111");
	assert_string_equal(g.provider_id, "");
	store_abort(t);

	g = msg(STORE_SENT, 0, "ghost");
	g.seq = 99;
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_update(t, &g), ERR_NOTFOUND);
	assert_int_equal(store_commit(t), ERR_OK); /* NOTFOUND leaves it usable */
}

static void due(struct store *s, int64_t now, unsigned max, uint64_t *seqs, unsigned *n,
		int64_t *next)
{
	struct store_txn *t;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_due(t, now, max, seqs, n, next), ERR_OK);
	store_abort(t);
}

static void test_due_order(void **state)
{
	struct fx *f = *state;
	uint64_t s30, s10, s0, s20, sr, seqs[8];
	unsigned n;
	int64_t next;

	s30 = add1(f->s, msg(STORE_QUEUED, 30000, "a"));
	s10 = add1(f->s, msg(STORE_QUEUED, 10000, "b"));
	s0 = add1(f->s, msg(STORE_QUEUED, 0, "c"));
	s20 = add1(f->s, msg(STORE_RETRY, 20000, "d"));
	add1(f->s, msg(STORE_SENT, 1, "e"));     /* never due: not queued */
	add1(f->s, msg(STORE_REJECTED, 1, "f")); /* never due */
	sr = add1(f->s, msg(STORE_QUEUED, -7, "g")); /* negative = now */

	due(f->s, 20000, 8, seqs, &n, &next);
	assert_int_equal(n, 4);
	assert_int_equal(seqs[0], s0);
	assert_int_equal(seqs[1], sr);
	assert_int_equal(seqs[2], s10);
	assert_int_equal(seqs[3], s20);
	assert_true(next == 30000);

	due(f->s, 15000, 2, seqs, &n, &next); /* max cuts it short */
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], s0);
	assert_int_equal(seqs[1], sr);
	assert_true(next == 10000);

	move(f->s, s0, STORE_SENDING, 0); /* leaves the due index */
	move(f->s, s10, STORE_RETRY, 40000); /* moves within it */
	due(f->s, 35000, 8, seqs, &n, &next);
	assert_int_equal(n, 3);
	assert_int_equal(seqs[0], sr);
	assert_int_equal(seqs[1], s20);
	assert_int_equal(seqs[2], s30);
	assert_true(next == 40000);

	move(f->s, s0, STORE_RETRY, 1000); /* back in */
	due(f->s, 999, 8, seqs, &n, &next);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], sr);
	assert_true(next == 1000);
}

static void assert_verified(struct store *s)
{
	struct store_verify_report r;
	struct store_txn *t;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_verify(t, &r), ERR_OK);
	store_abort(t);
	if (r.problems)
		fail_msg("%llu problems, first: %s", (unsigned long long)r.problems, r.notes[0]);
}

static struct store_msg prio_msg(int state, int64_t due_ms, const char *event_id, int prio)
{
	struct store_msg m = msg(state, due_ms, event_id);

	store_msg_set_prio(&m, prio);
	return m;
}

/* What is due comes lane by lane, the highest priority first, whatever its
 * due time; the flags bits read back; a record that changes priority
 * changes lane. */
static void test_due_priority(void **state)
{
	struct fx *f = *state;
	uint64_t low, norm, high, urg, late_urg, seqs[8];
	struct store_msg m;
	struct store_txn *t;
	unsigned n;
	int64_t next;

	low = add1(f->s, prio_msg(STORE_QUEUED, 0, "l", STORE_PRIO_LOW));
	norm = add1(f->s, msg(STORE_QUEUED, 100, "n"));
	high = add1(f->s, prio_msg(STORE_RETRY, 500, "h", STORE_PRIO_HIGH));
	urg = add1(f->s, prio_msg(STORE_QUEUED, 900, "u", STORE_PRIO_URGENT));
	late_urg = add1(f->s, prio_msg(STORE_QUEUED, 5000, "u2", STORE_PRIO_URGENT));

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, low, &m), ERR_OK);
	assert_int_equal(store_msg_prio(&m), STORE_PRIO_LOW);
	assert_int_equal(store_outbox_get(t, norm, &m), ERR_OK);
	assert_int_equal(store_msg_prio(&m), STORE_PRIO_NORMAL);
	assert_int_equal(store_outbox_get(t, urg, &m), ERR_OK);
	assert_int_equal(store_msg_prio(&m), STORE_PRIO_URGENT);
	store_abort(t);

	due(f->s, 1000, 8, seqs, &n, &next);
	assert_int_equal(n, 4);
	assert_int_equal(seqs[0], urg);
	assert_int_equal(seqs[1], high);
	assert_int_equal(seqs[2], norm);
	assert_int_equal(seqs[3], low);
	assert_true(next == 5000);

	due(f->s, 1000, 2, seqs, &n, &next); /* short of room: the low lanes wait */
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], urg);
	assert_int_equal(seqs[1], high);
	assert_true(next == 0); /* the low one, due already */

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, norm, &m), ERR_OK);
	store_msg_set_prio(&m, STORE_PRIO_URGENT);
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	due(f->s, 1000, 1, seqs, &n, &next);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], norm); /* due at 100, before urg's 900 */
	assert_verified(f->s);

	move(f->s, late_urg, STORE_QUEUED, STORE_DUE_PARKED);
	move(f->s, low, STORE_QUEUED, STORE_DUE_PARKED);
	move(f->s, high, STORE_QUEUED, STORE_DUE_PARKED);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_parked(t, 0, 8, seqs, &n), ERR_OK); /* seq order */
	assert_int_equal(n, 3);
	assert_int_equal(seqs[0], low);
	assert_int_equal(seqs[1], high);
	assert_int_equal(seqs[2], late_urg);
	assert_int_equal(store_outbox_parked(t, low, 1, seqs, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], high);
	store_abort(t);
	assert_verified(f->s);
}

/* A store of schema 2 (before the lanes) opens as 3; a later one does not. */
static void test_schema_upgrade(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	unsigned char v[8];
	MDB_val key = {6, "schema"}, val = {sizeof(v), v};
	uint64_t seq = add1(f->s, msg(STORE_QUEUED, 0, "old")), seqs[2], schema;
	unsigned n;
	int64_t next;

	for (int to = 2; to <= 4; to += 2) {
		assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
		store_be64_put(v, (uint64_t)to);
		assert_int_equal(mdb_put(t->txn, store_dbi(t, STORE_DB_META), &key, &val, 0), 0);
		assert_int_equal(store_commit(t), ERR_OK);
		store_close(f->s);
		f->s = NULL;
		if (to == 4) {
			assert_int_equal(store_open(f->dir, 16, &f->s), ERR_STORE);
			break;
		}
		assert_int_equal(store_open(f->dir, 16, &f->s), ERR_OK);
		assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
		assert_int_equal(store_meta_get(t, "schema", &schema), ERR_OK);
		store_abort(t);
		assert_int_equal(schema, 3);
		due(f->s, 1, 2, seqs, &n, &next);
		assert_int_equal(n, 1);
		assert_int_equal(seqs[0], seq);
	}
	assert_null(f->s);
	assert_int_equal(store_open(f->dir, 16, &f->s), ERR_STORE); /* still refused */
	assert_null(f->s);
}

/* Flood control's windows and hours (store/flood.h): kept per key, an
 * hour's count of another hour reads 0, pruning drops only what ended. */
static void test_flood_store(void **state)
{
	struct fx *f = *state;
	struct store_flood_cursor c = {.len = 0};
	struct store_window w = {.end_ms = 5000, .digest = 7, .events = 3}, g;
	struct store_txn *t;
	unsigned gone;
	uint32_t n;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_window_get(t, "alerts", "1", "+4915112345678", &g), ERR_NOTFOUND);
	assert_int_equal(store_window_put(t, "alerts", "1", "+4915112345678", &w), ERR_OK);
	w.end_ms = 9000;
	assert_int_equal(store_window_put(t, "alerts", "12", "+4915112345678", &w), ERR_OK);
	assert_int_equal(store_window_get(t, "alerts", "1", "+4915112345678", &g), ERR_OK);
	assert_true(g.end_ms == 5000 && g.digest == 7 && g.events == 3);
	/* ("alerts", "1", "2...") and ("alerts", "12", ...) are not one key */
	assert_int_equal(store_window_get(t, "alerts", "12", "+4915112345678", &g), ERR_OK);
	assert_true(g.end_ms == 9000);
	assert_int_equal(store_hour_put(t, "+4915112345678", 100, 4), ERR_OK);
	assert_int_equal(store_hour_get(t, "+4915112345678", 100, &n), ERR_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_hour_get(t, "+4915112345678", 101, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_hour_get(t, "+4900", 100, &n), ERR_OK);
	assert_int_equal(n, 0);
	/* At 6000: the first window ended, the second not; hour 100 ended at
	 * 101 * 3600000. */
	assert_int_equal(store_flood_prune(t, 6000, &c, &gone), ERR_OK);
	assert_int_equal(gone, 1);
	assert_int_equal(c.len, 0); /* walked to the end */
	assert_int_equal(store_window_get(t, "alerts", "1", "+4915112345678", &g), ERR_NOTFOUND);
	assert_int_equal(store_window_get(t, "alerts", "12", "+4915112345678", &g), ERR_OK);
	assert_int_equal(store_flood_prune(t, 101 * 3600000LL, &c, &gone), ERR_OK);
	assert_int_equal(gone, 2);
	assert_int_equal(store_commit(t), ERR_OK);
}

struct collect {
	uint64_t seqs[16];
	int states[16];
	unsigned n, stop_after;
};

static int collect_cb(const struct store_msg *m, void *arg)
{
	struct collect *c = arg;

	assert_true(c->n < 16);
	c->seqs[c->n] = m->seq;
	c->states[c->n++] = m->state;
	return c->stop_after && c->n >= c->stop_after;
}

static struct collect list(struct store *s, int state, uint64_t before, unsigned limit,
			   unsigned stop_after)
{
	struct collect c = {.stop_after = stop_after};
	struct store_txn *t;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_list(t, state, before, limit, collect_cb, &c), ERR_OK);
	store_abort(t);
	return c;
}

static void test_list(void **state)
{
	struct fx *f = *state;
	struct collect c;

	/* seqs 1..9: rejected at 2, 4, 5, 8; queued elsewhere */
	for (int i = 1; i <= 9; i++) {
		int st = (i == 2 || i == 4 || i == 5 || i == 8) ? STORE_REJECTED : STORE_QUEUED;

		assert_int_equal(add1(f->s, msg(st, 0, "")), i);
	}
	/* A SENDING record sorts before REJECTED: must not leak into it. */
	move(f->s, 9, STORE_SENDING, 0);

	c = list(f->s, STORE_REJECTED, 0, 3, 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[0], 8);
	assert_int_equal(c.seqs[1], 5);
	assert_int_equal(c.seqs[2], 4);
	assert_int_equal(c.states[2], STORE_REJECTED);
	c = list(f->s, STORE_REJECTED, c.seqs[2], 3, 0); /* next page */
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seqs[0], 2);
	c = list(f->s, STORE_REJECTED, 2, 3, 0);
	assert_int_equal(c.n, 0);
	c = list(f->s, STORE_REJECTED, 6, 0, 0); /* before a seq not in this state */
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[0], 5);

	c = list(f->s, STORE_SENDING, 0, 0, 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seqs[0], 9);
	c = list(f->s, STORE_SUPPRESSED, 0, 0, 0);
	assert_int_equal(c.n, 0);
	c = list(f->s, STORE_SUPPRESSED, 100, 0, 0);
	assert_int_equal(c.n, 0);

	c = list(f->s, 0, 0, 4, 0); /* all states */
	assert_int_equal(c.n, 4);
	assert_int_equal(c.seqs[0], 9);
	assert_int_equal(c.states[0], STORE_SENDING);
	assert_int_equal(c.seqs[3], 6);
	c = list(f->s, 0, 6, 0, 2); /* callback stops it */
	assert_int_equal(c.n, 2);
	assert_int_equal(c.seqs[0], 5);
	assert_int_equal(c.seqs[1], 4);
	c = list(f->s, 0, 100, 0, 0); /* before beyond the newest */
	assert_int_equal(c.n, 9);
	assert_int_equal(c.seqs[8], 1);
}

static void test_dedup(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	uint64_t seq = 0;
	char longid[STORE_EVENT_ID_MAX + 2];

	memset(longid, 'i', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_dedup_get(t, "ev-1", &seq), ERR_NOTFOUND);
	assert_int_equal(store_dedup_put(t, "ev-1", 42), ERR_OK);
	assert_int_equal(store_dedup_put(t, "ev-1", 43), ERR_EXISTS);
	assert_int_equal(store_dedup_put(t, longid, 1), ERR_TOOBIG);
	assert_int_equal(store_dedup_put(t, "", 1), ERR_INVAL);
	longid[STORE_EVENT_ID_MAX] = '\0'; /* exactly at the limit */
	assert_int_equal(store_dedup_put(t, longid, 7), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK); /* EXISTS did not poison it */

	reopen(f, 16);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_dedup_get(t, "ev-1", &seq), ERR_OK);
	assert_int_equal(seq, 42);
	assert_int_equal(store_dedup_get(t, longid, &seq), ERR_OK);
	assert_int_equal(seq, 7);
	assert_int_equal(store_dedup_get(t, "ev-2", &seq), ERR_NOTFOUND);
	store_abort(t);
}

static void put_raw(struct store *s, uint64_t seq, const void *data, size_t len)
{
	struct store_txn *t;
	unsigned char k[8];
	MDB_val key = {8, k}, val = {len, (void *)data};

	store_be64_put(k, seq);
	assert_int_equal(store_begin(s, 0, &t), ERR_OK);
	assert_int_equal(mdb_put(t->txn, s->dbi[STORE_DB_MSG], &key, &val, 0), MDB_SUCCESS);
	assert_int_equal(store_commit(t), ERR_OK);
}

static int count_cb(const struct store_msg *m, void *arg)
{
	(void)m;
	++*(unsigned *)arg;
	return 0;
}

/* Every prefix and every single-byte change of a valid encoding must decode
 * to ERR_STORE or to a record whose strings stay inside the buffer. */
static void test_decode_garbage(void **state)
{
	struct store_msg m = msg(STORE_QUEUED, 5, "ev"), g;
	unsigned char buf[512], copy[512];
	size_t len;

	(void)state;
	assert_int_equal(store_record_size(&m, &len), ERR_OK);
	assert_true(len <= sizeof(buf));
	store_record_encode(&m, buf);
	assert_int_equal(store_record_decode(buf, len, &g), ERR_OK);
	for (size_t cut = 0; cut < len; cut++) {
		/* An exact-size heap copy, so ASan and valgrind see any overread. */
		unsigned char *p = malloc(cut ? cut : 1);

		assert_non_null(p);
		memcpy(p, buf, cut);
		assert_int_equal(store_record_decode(p, cut, &g), ERR_STORE);
		assert_string_equal(g.vars_json, "");
		free(p);
	}
	for (size_t i = 0; i < len; i++) {
		for (int v = 0; v < 256; v += 51) {
			memcpy(copy, buf, len);
			copy[i] = (unsigned char)v;
			if (store_record_decode(copy, len, &g) != ERR_OK)
				continue;
			assert_true((const unsigned char *)g.event_id >= copy);
			assert_true((const unsigned char *)g.err_text + strlen(g.err_text) < copy + len);
		}
	}
}

/* Each record is written in the oldest layout that holds it, and each
 * layout reads back: 2 (template message), 3 (free-form text), 4 (a
 * provider status, with or without text). */
static void test_layouts(void **state)
{
	static const struct {
		const char *body, *pstat;
		unsigned version;
	} cases[] = {
		{"", "", 2}, {"Hi", "", 3}, {"", "held_for_quality_assessment", 4}, {"Hi", "accepted", 4},
	};
	unsigned char buf[512];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_msg m = msg(STORE_SENT, 5, "ev"), g;

		m.body = cases[i].body;
		m.provider_status = cases[i].pstat;
		assert_int_equal(store_record_size(&m, &len), ERR_OK);
		assert_true(len <= sizeof(buf));
		store_record_encode(&m, buf);
		assert_int_equal(buf[0], cases[i].version);
		assert_int_equal(store_record_decode(buf, len, &g), ERR_OK);
		assert_string_equal(g.body, cases[i].body);
		assert_string_equal(g.provider_status, cases[i].pstat);
		assert_string_equal(g.event_id, "ev");
		/* a layout's bytes under another version number are not a record */
		buf[0] = (unsigned char)(cases[i].version == 4 ? 3 : cases[i].version + 1);
		assert_int_equal(store_record_decode(buf, len, &g), ERR_STORE);
	}
}

static void test_corrupt_record(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_msg m = msg(STORE_QUEUED, 0, "ok"), g;
	unsigned char good[512];
	size_t len;
	unsigned n = 0;

	assert_int_equal(add1(f->s, m), 1);
	put_raw(f->s, 2, "garbage!", 8);
	assert_int_equal(store_record_size(&m, &len), ERR_OK);
	store_record_encode(&m, good);
	good[len - 1] = 'X'; /* last string loses its NUL */
	put_raw(f->s, 3, good, len);
	put_raw(f->s, 4, "", 0);

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, 1, &g), ERR_OK);
	assert_int_equal(store_outbox_get(t, 2, &g), ERR_STORE);
	assert_int_equal(store_outbox_get(t, 3, &g), ERR_STORE);
	assert_int_equal(store_outbox_get(t, 4, &g), ERR_STORE);
	assert_int_equal(store_outbox_list(t, 0, 0, 0, count_cb, &n), ERR_STORE);
	assert_int_equal(n, 0); /* newest (4) is corrupt: stops there */
	assert_int_equal(store_outbox_list(t, 0, 2, 0, count_cb, &n), ERR_OK);
	assert_int_equal(n, 1);
	g = msg(STORE_SENT, 0, "x");
	g.seq = 3;
	assert_int_equal(store_outbox_update(t, &g), ERR_STORE);
	assert_int_equal(store_commit(t), ERR_OK); /* refused before any write */
}

/* Fills a 1 MiB store: the write that does not fit is ERR_FULL, the txn is
 * only abortable, what was committed survives, and a larger map takes more. */
static void test_map_full(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_msg m = msg(STORE_QUEUED, 0, "");
	char vars[3000];
	uint64_t c[STORE__STATES] = {0}, used, map;
	int err = ERR_OK;
	unsigned committed = 0;

	memset(vars, 'x', sizeof(vars) - 1);
	vars[sizeof(vars) - 1] = '\0';
	m.vars_json = vars;
	reopen(f, 1);
	/* One small txn per record, as the sender's updates come: whichever of
	 * add or commit runs out first must say ERR_FULL. */
	for (int i = 0; i < 10000 && err == ERR_OK; i++) {
		assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
		err = store_outbox_add(t, &m);
		if (err == ERR_OK)
			err = store_commit(t);
		else
			store_abort(t);
		committed += err == ERR_OK;
	}
	assert_int_equal(err, ERR_FULL);
	assert_true(committed > 50 && committed < 400);
	/* One big txn, as an ingest batch: the add itself fails, and the txn is
	 * then poisoned: later ops and the commit give the same answer. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	for (int i = 0; i < 1000 && (err = store_outbox_add(t, &m)) == ERR_OK; i++)
		;
	assert_int_equal(err, ERR_FULL);
	assert_int_equal(store_dedup_put(t, "late", 1), ERR_FULL);
	assert_int_equal(store_commit(t), ERR_FULL);
	assert_int_equal(store_size(f->s, &used, &map), ERR_OK);
	assert_int_equal(map, 1 << 20);
	assert_true(used > map / 2 && used <= map);

	c[STORE_QUEUED] = committed; /* reads still work, counters are right */
	check_counts(f->s, c);
	reopen(f, 1);
	check_counts(f->s, c);
	reopen(f, 2); /* what the daemon does when it may grow the map */
	assert_int_equal(add1(f->s, m), committed + 1);
	c[STORE_QUEUED]++;
	check_counts(f->s, c);
}

static void assert_sid(struct store *s, const char *id, int want_rc, uint64_t want_seq)
{
	struct store_txn *t;
	uint64_t seq = 0;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_sid_get(t, id, &seq), want_rc);
	if (want_rc == ERR_OK)
		assert_int_equal(seq, want_seq);
	store_abort(t);
}

/* Provider ids name one record each: set, moved, refused when taken,
 * cleared, pruned, all with the index in step. */
static void test_sid_index(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_msg m = msg(STORE_SENT, 0, "ev-a"), m2;
	char longid[STORE_PROVIDER_ID_MAX + 2];
	uint64_t a, b, v = 9;
	struct store_prune pr = {.created_before_ms = INT64_MAX, .now_ms = 1, .max = 10};

	m.attempts = 1;
	m.provider_id = "SM0001";
	a = add1(f->s, m);
	b = add1(f->s, msg(STORE_RETRY, 0, "ev-b"));
	assert_sid(f->s, "SM0001", ERR_OK, a);
	assert_sid(f->s, "SM0002", ERR_NOTFOUND, 0);

	/* b may not take a's id; the refusal writes nothing. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, b, &m2), ERR_OK);
	m2.state = STORE_SENT;
	m2.attempts = 1;
	m2.provider_id = "SM0001";
	assert_int_equal(store_outbox_update(t, &m2), ERR_EXISTS);
	memset(longid, 'S', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	m2.provider_id = longid;
	assert_int_equal(store_outbox_update(t, &m2), ERR_TOOBIG);
	m2.provider_id = "SM0002";
	assert_int_equal(store_outbox_update(t, &m2), ERR_OK);
	assert_int_equal(store_stat_add(t, "reconciled", 2), ERR_OK);
	assert_int_equal(store_stat_add(t, "reconciled", -5), ERR_OK); /* stops at 0 */
	assert_int_equal(store_stat_add(t, "resent", 3), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_sid(f->s, "SM0002", ERR_OK, b);
	assert_verified(f->s);

	/* a gives its id up (back to retry), b moves to a new one. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, a, &m2), ERR_OK);
	m2.state = STORE_RETRY;
	m2.provider_id = "";
	assert_int_equal(store_outbox_update(t, &m2), ERR_OK);
	assert_int_equal(store_outbox_get(t, b, &m2), ERR_OK);
	m2.provider_id = "SM0001"; /* free now, in this same txn */
	assert_int_equal(store_outbox_update(t, &m2), ERR_OK);
	assert_int_equal(store_stat_get(t, "reconciled", &v), ERR_OK);
	assert_int_equal(v, 0);
	assert_int_equal(store_stat_get(t, "resent", &v), ERR_OK);
	assert_int_equal(v, 3);
	assert_int_equal(store_stat_get(t, "never", &v), ERR_OK);
	assert_int_equal(v, 0);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_sid(f->s, "SM0001", ERR_OK, b);
	assert_sid(f->s, "SM0002", ERR_NOTFOUND, 0);
	assert_sid(f->s, "", ERR_INVAL, 0);
	assert_verified(f->s);

	/* Pruning b takes its id with it. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_prune(t, STORE_SENT, &pr), ERR_OK);
	assert_int_equal(pr.pruned, 1);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_sid(f->s, "SM0001", ERR_NOTFOUND, 0);
	assert_verified(f->s);

	/* A sid entry planted by hand for a record without it is found. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	{
		unsigned char k[8];
		MDB_val key = {6, "SM0009"}, val = {8, k};

		store_be64_put(k, a);
		assert_int_equal(mdb_put(t->txn, f->s->dbi[STORE_DB_SID], &key, &val, 0),
				 MDB_SUCCESS);
	}
	assert_int_equal(store_commit(t), ERR_OK);
	{
		struct store_verify_report r;

		assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
		assert_int_equal(store_verify(t, &r), ERR_OK);
		store_abort(t);
		assert_int_equal(r.problems, 1);
		assert_int_equal(r.by_kind[STORE_VERIFY_SID], 1);
	}
}

/* Old records go, young ones and those of unknown age (stamped in 1970)
 * stay; the latter count their age from the prune that saw them. */
static void test_prune_ages(void **state)
{
	struct fx *f = *state;
	struct store_msg m = msg(STORE_REJECTED, 0, "old"), got;
	struct store_prune p = {.created_before_ms = 2000000, .now_ms = 3000000, .max = 256};
	struct store_txn *t;
	uint64_t old, unset, young, seq;

	m.created_ms = 1000000;
	old = add1(f->s, m);
	m.event_id = "unset";
	m.created_ms = 5000; /* 1970 */
	m.flags = STORE_F_CLOCK_UNSET;
	unset = add1(f->s, m);
	m.event_id = "young";
	m.created_ms = 2500000;
	m.flags = 0;
	young = add1(f->s, m);
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_dedup_put(t, "unset", unset), ERR_OK);
	assert_int_equal(store_outbox_prune(t, STORE_REJECTED, &p), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(p.pruned, 1);
	assert_int_equal(p.restamped, 1);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, old, &got), ERR_NOTFOUND);
	assert_int_equal(store_outbox_get(t, unset, &got), ERR_OK);
	assert_int_equal(got.created_ms, 3000000);
	assert_int_equal(got.flags & STORE_F_CLOCK_UNSET, 0);
	assert_int_equal(store_dedup_get(t, "unset", &seq), ERR_OK);
	assert_int_equal(store_outbox_get(t, young, &got), ERR_OK);
	store_abort(t);

	/* Later, both are old enough. */
	p = (struct store_prune){.created_before_ms = 4000000, .now_ms = 5000000, .max = 256};
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_prune(t, STORE_REJECTED, &p), ERR_OK);
	assert_int_equal(p.pruned, 2);
	assert_int_equal(p.restamped, 0);
	assert_int_equal(store_dedup_get(t, "unset", &seq), ERR_NOTFOUND);
	assert_int_equal(store_outbox_prune(t, STORE_QUEUED, &p), ERR_INVAL);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_verified(f->s);
}

static void test_second_open(void **state)
{
	struct fx *f = *state;
	struct store *s2 = (struct store *)1;

	assert_int_equal(store_open(f->dir, 16, &s2), ERR_EXISTS);
	assert_null(s2);
	reopen(f, 16); /* the lock goes with the close */
	assert_int_equal(store_open(f->dir, 16, &s2), ERR_EXISTS);
	assert_int_equal(store_open(f->dir, 0, &s2), ERR_INVAL);
	assert_non_null(store_lmdb_version());
	assert_non_null(strstr(store_lmdb_version(), "0.9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_layouts),
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_roundtrip),
		T(test_big_and_empty),
		T(test_seq_survives_reopen),
		T(test_abort_rolls_back),
		T(test_transitions),
		T(test_update_from_map),
		T(test_due_order),
		T(test_due_priority),
		T(test_schema_upgrade),
		T(test_flood_store),
		T(test_list),
		T(test_dedup),
		T(test_corrupt_record),
		T(test_map_full),
		T(test_sid_index),
		T(test_prune_ages),
		T(test_second_open),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
