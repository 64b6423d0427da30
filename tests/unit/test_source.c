/*
 * test_source.c - per-source publisher sequence numbers: the gap rules
 * alone (store_source_observe), then the "source" DB on a real env in a
 * temp dir: layout, limits, corrupt records, the status summary.
 *
 * White-box where nothing else reaches: store/store_impl.h gives raw lmdb
 * access to read the bytes on disk and to plant corrupt records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hal/err.h"
#include "store/source.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "tests/unit/store_fx.h"

/* Feeds seqs to one source state; returns the verdict of the last. */
static enum store_source_verdict feed(struct store_source *s, const int64_t *seqs, size_t n)
{
	enum store_source_verdict v = 0;

	for (size_t i = 0; i < n; i++) {
		struct store_seq_event e = {.seq = seqs[i], .at_ms = 1000 + (int64_t)i,
					    .record = 100 + i};
		v = store_source_observe(s, &e);
	}
	return v;
}

#define FEED(s, ...) \
	feed(s, (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static void test_rules_in_order(void **state)
{
	struct store_source s = {0};
	struct store_seq_event e = {.seq = 7, .at_ms = 5};

	(void)state;
	/* Any first number is just recorded: a source may start anywhere. */
	assert_int_equal(store_source_observe(&s, &e), STORE_SRC_FIRST);
	assert_int_equal(s.last_seq, 7);
	assert_int_equal(FEED(&s, 8, 9, 10), STORE_SRC_NEXT);
	assert_int_equal(s.events, 4);
	assert_int_equal(s.last_seq, 10);
	assert_int_equal(s.gaps + s.missed + s.resets + s.out_of_order + s.bad_seq, 0);
	assert_int_equal(s.last_seen_ms, 1002);
}

static void test_rules_gap(void **state)
{
	struct store_source s = {0};

	(void)state;
	assert_int_equal(FEED(&s, 1, 2, 3, 6), STORE_SRC_GAP);
	assert_int_equal(s.gaps, 1);
	assert_int_equal(s.missed, 2);
	assert_int_equal(s.last_gap_from, 4);
	assert_int_equal(s.last_gap_to, 5);
	assert_int_equal(s.last_gap_record, 103);
	assert_int_equal(s.last_gap_ms, 1003);
	assert_int_equal(s.last_seq, 6);
	/* Counting goes on from the number after the gap. */
	assert_int_equal(FEED(&s, 7), STORE_SRC_NEXT);
	/* A gap of one, then a second gap: sums, and the last one's range. */
	assert_int_equal(FEED(&s, 9, 20), STORE_SRC_GAP);
	assert_int_equal(s.gaps, 3);
	assert_int_equal(s.missed, 2 + 1 + 10);
	assert_int_equal(s.last_gap_from, 10);
	assert_int_equal(s.last_gap_to, 19);
	assert_int_equal(s.events, 7);
	/* The largest number there is, after 0: no overflow in the sums. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(FEED(&s, 0, STORE_SEQ_MAX), STORE_SRC_GAP);
	assert_true(s.missed == (uint64_t)STORE_SEQ_MAX - 1);
}

static void test_rules_reset(void **state)
{
	struct store_source s = {0};

	(void)state;
	/* A device that restarts without keeping its counter: 1 again. */
	FEED(&s, 1, 2, 3, 4, 5);
	assert_int_equal(FEED(&s, 1), STORE_SRC_RESET);
	assert_int_equal(s.resets, 1);
	assert_int_equal(s.last_seq, 1);
	assert_int_equal(FEED(&s, 2, 3), STORE_SRC_NEXT);
	/* One counting from 0. */
	assert_int_equal(FEED(&s, 0), STORE_SRC_RESET);
	assert_int_equal(FEED(&s, 1), STORE_SRC_NEXT);
	assert_int_equal(s.resets, 2);
	assert_int_equal(s.gaps + s.out_of_order, 0);
}

static void test_rules_out_of_order(void **state)
{
	struct store_source s = {0};

	(void)state;
	FEED(&s, 10, 11, 12);
	/* Late or repeated (a different event id with an old number): counted,
	 * and the last number stays, so the next in-order event is no gap. */
	assert_int_equal(FEED(&s, 11), STORE_SRC_OLD);
	assert_int_equal(FEED(&s, 12), STORE_SRC_OLD);
	assert_int_equal(s.out_of_order, 2);
	assert_int_equal(s.last_seq, 12);
	assert_int_equal(FEED(&s, 13), STORE_SRC_NEXT);
	assert_int_equal(s.gaps + s.resets, 0);
	assert_int_equal(s.events, 6);
	/* 1 after 1 is a repeat, not a restart. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(FEED(&s, 1, 1), STORE_SRC_OLD);
	assert_int_equal(s.resets, 0);
}

static void test_rules_bad(void **state)
{
	struct store_source s = {0};

	(void)state;
	/* A bad number changes nothing but its count: the first good one after
	 * it is the first, and the one after a good one is next. */
	assert_int_equal(FEED(&s, -1), STORE_SRC_BAD);
	assert_int_equal(FEED(&s, 5), STORE_SRC_FIRST);
	assert_int_equal(FEED(&s, -1, STORE_SEQ_MAX + 1, INT64_MIN), STORE_SRC_BAD);
	assert_int_equal(FEED(&s, 6), STORE_SRC_NEXT);
	assert_int_equal(s.bad_seq, 4);
	assert_int_equal(s.events, 2);
	assert_int_equal(s.gaps + s.resets + s.out_of_order, 0);
	assert_string_equal(store_source_verdict_name(STORE_SRC_GAP), "gap");
	assert_string_equal(store_source_verdict_name(STORE_SRC_OLD), "out_of_order");
	assert_string_equal(store_source_verdict_name(0), "unknown");
	assert_string_equal(store_source_verdict_name(99), "unknown");
}

static void note(struct store_txn *t, const char *name, int64_t seq, enum store_source_verdict want)
{
	struct store_seq_event e = {.seq = seq, .at_ms = 1767225600000, .record = 1};
	struct store_source s;
	enum store_source_verdict v;

	assert_int_equal(store_source_note(t, name, &e, &s, &v), ERR_OK);
	assert_int_equal(v, want);
}

static void test_note_persists(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t;
	struct store_source s;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	note(t, "dev-a", 1, STORE_SRC_FIRST);
	note(t, "dev-a", 2, STORE_SRC_NEXT); /* reads its own write in the txn */
	note(t, "dev-b", 40, STORE_SRC_FIRST);
	assert_int_equal(store_commit(t), ERR_OK);
	/* An aborted batch leaves no trace: its events come again. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	note(t, "dev-a", 9, STORE_SRC_GAP);
	store_abort(t);
	/* Reopened, as after a restart: the next number is next, not a gap. */
	store_fx_reopen(f, 16);
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	note(t, "dev-a", 3, STORE_SRC_NEXT);
	note(t, "dev-b", 41, STORE_SRC_NEXT);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_source_get(t, "dev-a", &s), ERR_OK);
	assert_int_equal(s.events, 3);
	assert_int_equal(s.last_seq, 3);
	assert_int_equal(s.gaps, 0);
	assert_int_equal(store_source_get(t, "dev-c", &s), ERR_NOTFOUND);
	/* A read txn takes no writes. */
	assert_int_equal(store_source_put(t, "dev-a", &s), ERR_INVAL);
	store_abort(t);
}

static void test_layout(void **state)
{
	struct store_fx *f = *state;
	struct store_source s = {
		.events = 1, .last_seq = 0x0102030405060708, .gaps = 3, .missed = 4, .resets = 5,
		.out_of_order = 6, .bad_seq = 7, .last_seen_ms = -2, .last_gap_ms = 1767225600000,
		.last_gap_from = 10, .last_gap_to = 11, .last_gap_record = 12,
	}, g;
	MDB_val key = {5, "dev-a"}, val;
	struct store_txn *t;
	const unsigned char *p;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_source_put(t, "dev-a", &s), ERR_OK);
	assert_int_equal(mdb_get(t->txn, f->s->dbi[STORE_DB_SOURCE], &key, &val), MDB_SUCCESS);
	/* Twelve big-endian u64s: the same bytes on every CPU. */
	assert_int_equal(val.mv_size, 96);
	p = val.mv_data;
	assert_memory_equal(p + 8, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(p[8 * 6 + 7], 7);
	assert_memory_equal(p + 8 * 7, "\xff\xff\xff\xff\xff\xff\xff\xfe", 8);
	assert_int_equal(p[8 * 11 + 7], 12);
	assert_int_equal(store_source_get(t, "dev-a", &g), ERR_OK);
	assert_memory_equal(&g, &s, sizeof(s));
	assert_int_equal(store_commit(t), ERR_OK);
}

static void test_names(void **state)
{
	struct store_fx *f = *state;
	char name[STORE_SOURCE_NAME_MAX + 2];
	struct store_source s = {0};
	struct store_txn *t;
	uint64_t n;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	/* Over the limit: refused, not hashed; the txn goes on. */
	assert_int_equal(store_source_put(t, name, &s), ERR_TOOBIG);
	assert_int_equal(store_source_get(t, name, &s), ERR_TOOBIG);
	assert_int_equal(store_source_put(t, "", &s), ERR_INVAL);
	assert_int_equal(store_source_put(t, NULL, &s), ERR_INVAL);
	name[STORE_SOURCE_NAME_MAX] = '\0'; /* exactly at the limit */
	assert_int_equal(store_source_put(t, name, &s), ERR_OK);
	assert_int_equal(store_source_get(t, name, &s), ERR_OK);
	assert_int_equal(store_source_count(t, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void test_cap(void **state)
{
	struct store_fx *f = *state;
	struct store_seq_event e = {.seq = 1};
	struct store_source s = {0};
	enum store_source_verdict v;
	struct store_txn *t;
	char name[32];
	uint64_t n;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	for (unsigned i = 0; i < STORE_SOURCE_MAX; i++) {
		snprintf(name, sizeof(name), "dev-%u", i);
		assert_int_equal(store_source_put(t, name, &s), ERR_OK);
	}
	/* A new one is refused and nothing is written; the tracked ones go on. */
	assert_int_equal(store_source_note(t, "dev-new", &e, &s, &v), ERR_LIMIT);
	assert_int_equal(store_source_get(t, "dev-new", &s), ERR_NOTFOUND);
	assert_int_equal(store_source_note(t, "dev-7", &e, &s, &v), ERR_OK);
	assert_int_equal(v, STORE_SRC_FIRST);
	assert_int_equal(store_source_count(t, &n), ERR_OK);
	assert_int_equal(n, STORE_SOURCE_MAX);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void test_corrupt_record(void **state)
{
	struct store_fx *f = *state;
	struct store_source_summary sum;
	MDB_val key = {5, "dev-a"}, val = {3, "abc"};
	struct store_source s;
	struct store_txn *t;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	note(t, "dev-a", 5, STORE_SRC_FIRST);
	note(t, "dev-b", 5, STORE_SRC_FIRST);
	assert_int_equal(mdb_put(t->txn, f->s->dbi[STORE_DB_SOURCE], &key, &val, 0), MDB_SUCCESS);
	assert_int_equal(store_source_get(t, "dev-a", &s), ERR_STORE);
	/* Left out of the sums, and counted. */
	assert_int_equal(store_source_summary(t, 3, &sum), ERR_OK);
	assert_int_equal(sum.sources, 1);
	assert_int_equal(sum.corrupt, 1);
	/* The next event starts it afresh; the txn was never poisoned. */
	note(t, "dev-a", 9, STORE_SRC_FIRST);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void test_summary(void **state)
{
	struct store_fx *f = *state;
	struct store_source_summary sum;
	struct store_seq_event e = {.at_ms = 1};
	struct store_source s;
	enum store_source_verdict v;
	struct store_txn *t;
	char name[16];

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	/* src-0..src-9 each have one gap, shown by outbox record 100 + i, fed
	 * in an order that is not the order of their records. */
	for (unsigned k = 0; k < 10; k++) {
		unsigned i = (k * 7) % 10;

		snprintf(name, sizeof(name), "src-%u", i);
		e.record = 100 + i;
		e.seq = 1;
		assert_int_equal(store_source_note(t, name, &e, &s, &v), ERR_OK);
		e.seq = 3 + i; /* i + 1 missing */
		assert_int_equal(store_source_note(t, name, &e, &s, &v), ERR_OK);
		assert_int_equal(v, STORE_SRC_GAP);
	}
	note(t, "quiet", 1, STORE_SRC_FIRST);
	note(t, "quiet", 0, STORE_SRC_RESET);
	note(t, "quiet", -1, STORE_SRC_BAD);
	note(t, "quiet", 0, STORE_SRC_OLD);
	assert_int_equal(store_commit(t), ERR_OK);

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_source_summary(t, 4, &sum), ERR_OK);
	assert_int_equal(sum.sources, 11);
	assert_int_equal(sum.events, 20 + 3);
	assert_int_equal(sum.gaps, 10);
	assert_int_equal(sum.missed, 10 + 45);
	assert_int_equal(sum.resets, 1);
	assert_int_equal(sum.out_of_order, 1);
	assert_int_equal(sum.bad_seq, 1);
	assert_int_equal(sum.corrupt, 0);
	/* The four most recent gaps, newest first; "quiet" never had one. */
	assert_int_equal(sum.n_recent, 4);
	assert_string_equal(sum.recent[0].name, "src-9");
	assert_string_equal(sum.recent[1].name, "src-8");
	assert_string_equal(sum.recent[3].name, "src-6");
	assert_int_equal(sum.recent[0].s.last_gap_from, 2);
	assert_int_equal(sum.recent[0].s.last_gap_to, 11);
	/* At most STORE_SOURCE_TOP, whatever is asked. */
	assert_int_equal(store_source_summary(t, 1000, &sum), ERR_OK);
	assert_int_equal(sum.n_recent, STORE_SOURCE_TOP);
	assert_string_equal(sum.recent[STORE_SOURCE_TOP - 1].name, "src-2");
	assert_int_equal(store_source_summary(t, 0, &sum), ERR_OK);
	assert_int_equal(sum.n_recent, 0);
	store_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_in_order),
		cmocka_unit_test(test_rules_gap),
		cmocka_unit_test(test_rules_reset),
		cmocka_unit_test(test_rules_out_of_order),
		cmocka_unit_test(test_rules_bad),
#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fx_setup, store_fx_teardown)
		T(test_note_persists),
		T(test_layout),
		T(test_names),
		T(test_cap),
		T(test_corrupt_record),
		T(test_summary),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
