/*
 * test_verify.c - store_verify() on a real env: a store built through the
 * outbox API verifies clean; each invariant, broken by hand through raw
 * lmdb calls, is reported under its own kind.
 *
 * Every corruption happens in a write txn that is verified and then
 * aborted, so the cases do not depend on each other.
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

#include "hal/err.h"
#include "store/outbox.h"
#include "store/record.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/verify.h"

struct fx {
	char dir[64];
	struct store *s;
	uint64_t queued, retry, sent, rejected, suppressed;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static struct store_msg msg(int state, const char *event_id, const char *to)
{
	struct store_msg m = {
		.state = (uint8_t)state, .created_ms = 1767225600000, .event_id = event_id,
		.topic = "site/1/payments/card", .route = "payments", .account = "main", .to = to,
		.template_name = "payment_received", .content_sid = "HX0123",
		.vars_json = "{\"1\":\"Ana\"}",
	};
	return m;
}

static uint64_t add(struct store_txn *t, struct store_msg m)
{
	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	return m.seq;
}

/* Five records in five states, the dedup entries the router would make. */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_msg m;
	struct store_txn *t;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/verify-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, 16, &f->s), ERR_OK);
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	f->queued = add(t, msg(STORE_QUEUED, "evt-1", "+491701234567"));
	m = msg(STORE_RETRY, "evt-2", "+491701234568");
	m.due_ms = 1767225660000;
	m.attempts = 1;
	m.flags = STORE_F_AMBIGUOUS;
	f->retry = add(t, m);
	m = msg(STORE_SENT, "evt-3", "+491701234569");
	m.attempts = 1;
	m.provider_id = "SM00000000000000000000000000000003";
	f->sent = add(t, m);
	m = msg(STORE_REJECTED, "evt-4", "");
	m.err_text = "recipient \"+12\": too short";
	f->rejected = add(t, m);
	f->suppressed = add(t, msg(STORE_SUPPRESSED, "evt-1", ""));
	assert_int_equal(store_dedup_put(t, "evt-1", f->queued), ERR_OK);
	assert_int_equal(store_dedup_put(t, "evt-2", f->retry), ERR_OK);
	assert_int_equal(store_dedup_put(t, "evt-3", f->sent), ERR_OK);
	assert_int_equal(store_dedup_put(t, "evt-4", f->rejected), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
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

/* Raw lmdb access, as the corruptions need it. */
static void raw_put(struct store_txn *t, enum store_db db, const void *k, size_t klen,
		    const void *v, size_t vlen)
{
	MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};

	assert_int_equal(mdb_put(t->txn, t->s->dbi[db], &key, &val, 0), MDB_SUCCESS);
}

static void raw_del(struct store_txn *t, enum store_db db, const void *k, size_t klen)
{
	MDB_val key = {klen, (void *)k};

	assert_int_equal(mdb_del(t->txn, t->s->dbi[db], &key, NULL), MDB_SUCCESS);
}

static void seq_key(unsigned char k[8], uint64_t seq)
{
	store_be64_put(k, seq);
}

static void state_key(unsigned char k[9], int state, uint64_t seq)
{
	k[0] = (unsigned char)state;
	store_be64_put(k + 1, seq);
}

static void due_key(unsigned char k[16], uint64_t due, uint64_t seq)
{
	store_be64_put(k, due);
	store_be64_put(k + 8, seq);
}

static void meta_put(struct store_txn *t, const char *name, uint64_t v)
{
	unsigned char b[8];

	store_be64_put(b, v);
	raw_put(t, STORE_DB_META, name, strlen(name), b, sizeof(b));
}

/* Runs corrupt() in a write txn, verifies inside it, aborts. */
static void verify_after(struct fx *f, void (*corrupt)(struct fx *, struct store_txn *),
			 struct store_verify_report *r)
{
	struct store_txn *t;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	corrupt(f, t);
	assert_int_equal(store_verify(t, r), ERR_OK);
	store_abort(t);
}

/* r reports exactly `n` problems, all of kind `kind`. */
static void expect_only(const struct store_verify_report *r, int kind, uint64_t n)
{
	for (int k = 0; k < STORE_VERIFY__KINDS; k++)
		if (r->by_kind[k] != (k == kind ? n : 0)) {
			for (unsigned i = 0; i < r->n_notes; i++)
				print_message("    %s\n", r->notes[i]);
			fail_msg("kind %s: %llu problems, expected %llu", store_verify_kind_name(k),
				 (unsigned long long)r->by_kind[k],
				 (unsigned long long)(k == kind ? n : 0));
		}
	assert_int_equal(r->problems, n);
	assert_int_equal(r->n_notes, n < STORE_VERIFY_NOTES ? n : STORE_VERIFY_NOTES);
}

static void test_clean(void **state)
{
	struct fx *f = *state;
	struct store_verify_report r;
	struct store_txn *t;

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_verify(t, &r), ERR_OK);
	store_abort(t);
	expect_only(&r, STORE_VERIFY_DECODE, 0);
	assert_int_equal(r.records, 5);
	assert_int_equal(r.state_entries, 5);
	assert_int_equal(r.due_entries, 2);
	assert_int_equal(r.dedup_entries, 4);
	assert_int_equal(r.counts[STORE_QUEUED], 1);
	assert_int_equal(r.counts[STORE_SUPPRESSED], 1);
	assert_int_equal(r.ambiguous, 1);
	assert_int_equal(r.seq_last, 5);
	assert_int_equal(r.seq_max, 5);
	assert_int_equal(r.n_extras, 0);
	assert_int_equal(store_verify(NULL, &r), ERR_INVAL);
	assert_string_equal(store_verify_kind_name(STORE_VERIFY_DUE), "due");
	assert_string_equal(store_verify_kind_name(STORE_VERIFY__KINDS), "unknown");
}

static void garble_record(struct fx *f, struct store_txn *t)
{
	unsigned char k[8], junk[20] = {1, 2, 3};

	seq_key(k, f->sent);
	raw_put(t, STORE_DB_MSG, k, sizeof(k), junk, sizeof(junk));
}

static void test_decode(void **state)
{
	struct store_verify_report r;

	verify_after(*state, garble_record, &r);
	assert_int_equal(r.by_kind[STORE_VERIFY_DECODE], 1);
	/* The lost SENT record no longer matches its counter either. */
	assert_int_equal(r.by_kind[STORE_VERIFY_COUNTER], 1);
	assert_int_equal(r.problems, 2);
	assert_non_null(strstr(r.notes[0], "does not decode"));
}

static void drop_state_entry(struct fx *f, struct store_txn *t)
{
	unsigned char k[9];

	state_key(k, STORE_SENT, f->sent);
	raw_del(t, STORE_DB_STATE, k, sizeof(k));
}

static void extra_state_entry(struct fx *f, struct store_txn *t)
{
	unsigned char k[9];

	state_key(k, STORE_FAILED, f->sent); /* a second entry for one record */
	raw_put(t, STORE_DB_STATE, k, sizeof(k), "", 0);
	state_key(k, STORE_QUEUED, 99); /* an entry for no record */
	raw_put(t, STORE_DB_STATE, k, sizeof(k), "", 0);
}

static void test_state_index(void **state)
{
	struct store_verify_report r;

	verify_after(*state, drop_state_entry, &r);
	expect_only(&r, STORE_VERIFY_STATE, 1);
	assert_non_null(strstr(r.notes[0], "no state index entry"));
	verify_after(*state, extra_state_entry, &r);
	expect_only(&r, STORE_VERIFY_STATE, 2);
	assert_int_equal(r.state_entries, 7);
}

static void drop_due_entry(struct fx *f, struct store_txn *t)
{
	unsigned char k[16];

	due_key(k, 1767225660000, f->retry);
	raw_del(t, STORE_DB_DUE, k, sizeof(k));
}

static void wrong_due_entries(struct fx *f, struct store_txn *t)
{
	unsigned char k[16];

	due_key(k, 5, f->queued); /* a second, stale due time */
	raw_put(t, STORE_DB_DUE, k, sizeof(k), "", 0);
	due_key(k, 0, f->sent); /* SENT is never due */
	raw_put(t, STORE_DB_DUE, k, sizeof(k), "", 0);
	due_key(k, 0, 77); /* no such record */
	raw_put(t, STORE_DB_DUE, k, sizeof(k), "", 0);
}

static void test_due_index(void **state)
{
	struct store_verify_report r;

	verify_after(*state, drop_due_entry, &r);
	expect_only(&r, STORE_VERIFY_DUE, 1);
	assert_non_null(strstr(r.notes[0], "no due entry"));
	verify_after(*state, wrong_due_entries, &r);
	expect_only(&r, STORE_VERIFY_DUE, 3);
}

static void bad_counter(struct fx *f, struct store_txn *t)
{
	(void)f;
	meta_put(t, "count/queued", 2);
	meta_put(t, "count/nonsense", 1);
}

static void test_counters(void **state)
{
	struct store_verify_report r;

	verify_after(*state, bad_counter, &r);
	assert_int_equal(r.by_kind[STORE_VERIFY_COUNTER], 1);
	assert_int_equal(r.by_kind[STORE_VERIFY_META], 1);
	assert_int_equal(r.problems, 2);
}

static void bad_dedup(struct fx *f, struct store_txn *t)
{
	unsigned char v[8];

	store_be64_put(v, 42); /* names no record */
	raw_put(t, STORE_DB_DEDUP, "ghost", 5, v, sizeof(v));
	store_be64_put(v, f->sent); /* names a record of another event */
	raw_put(t, STORE_DB_DEDUP, "evt-2", 5, v, sizeof(v));
	raw_put(t, STORE_DB_DEDUP, "evt-9", 5, v, 3); /* not a seq */
}

static void test_dedup(void **state)
{
	struct store_verify_report r;

	verify_after(*state, bad_dedup, &r);
	expect_only(&r, STORE_VERIFY_DEDUP, 3);
}

/* The store does not police states, so the outbox API itself can write
 * records that cannot exist; the indexes stay right. */
static void impossible_records(struct fx *f, struct store_txn *t)
{
	struct store_msg m;

	assert_int_equal(store_outbox_get(t, f->sent, &m), ERR_OK);
	m.provider_id = ""; /* SENT without the id it was sent as */
	m.flags |= 0x10000; /* a flag nobody defined */
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	assert_int_equal(store_outbox_get(t, f->rejected, &m), ERR_OK);
	m.attempts = 2; /* a rejected event never went out */
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	assert_int_equal(store_outbox_get(t, f->queued, &m), ERR_OK);
	m.state = STORE_SENDING; /* in flight without an attempt */
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
}

static void test_impossible_states(void **state)
{
	struct store_verify_report r;

	verify_after(*state, impossible_records, &r);
	expect_only(&r, STORE_VERIFY_RECORD, 4);
}

static void bad_meta(struct fx *f, struct store_txn *t)
{
	(void)f;
	raw_del(t, STORE_DB_META, "schema", 6);
	meta_put(t, "seq/last", 3);
	meta_put(t, "stat/reconciled", 7);
}

static void test_meta(void **state)
{
	struct store_verify_report r;

	verify_after(*state, bad_meta, &r);
	expect_only(&r, STORE_VERIFY_META, 2);
	assert_int_equal(r.n_extras, 1);
	assert_string_equal(r.extras[0].name, "stat/reconciled");
	assert_int_equal(r.extras[0].value, 7);
}

/* More problems than notes: all counted, the first few kept as text. */
static void many_problems(struct fx *f, struct store_txn *t)
{
	unsigned char k[9];

	(void)f;
	for (uint64_t seq = 100; seq < 120; seq++) {
		state_key(k, STORE_RETRY, seq);
		raw_put(t, STORE_DB_STATE, k, sizeof(k), "", 0);
	}
}

static void test_note_limit(void **state)
{
	struct store_verify_report r;

	verify_after(*state, many_problems, &r);
	expect_only(&r, STORE_VERIFY_STATE, 20);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_clean),    T(test_decode),   T(test_state_index),       T(test_due_index),
		T(test_counters), T(test_dedup),    T(test_impossible_states), T(test_meta),
		T(test_note_limit),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
