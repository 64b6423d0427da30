/*
 * test_logring.c - the log ring on a real store: encoding, order, the size
 * bound and its drop count, reads from a sequence number with a level
 * filter and a record limit, a reopened store, and the masking the control
 * command applies to what the ring keeps in the clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <syslog.h>

#include "config/phone.h"
#include "store/logring.h"
#include "store/outbox.h"
#include "store/store_impl.h"
#include "tests/unit/store_fx.h"

static void append(struct store *s, unsigned n, uint64_t max_bytes, const char *text)
{
	struct store_txn *t;
	unsigned char enc[STORE_LOG_ENC_MAX];
	char line[64];

	assert_int_equal(store_begin(s, 0, &t), ERR_OK);
	for (unsigned i = 0; i < n; i++) {
		struct store_log_rec r = {.time_ms = 1000 + i, .module = "test", .text = line,
					  .level = i % 2 ? LOG_DEBUG : LOG_WARNING, .msg_seq = i,
					  .event_id = "evt", .to = "+4917012345678", .vars = "{\"1\":\"Ana\"}"};
		size_t len;

		snprintf(line, sizeof(line), "%s %u", text, i);
		len = store_log_encode(&r, enc, sizeof(enc));
		assert_true(len > 0);
		assert_int_equal(store_log_append(t, enc, len, NULL), ERR_OK);
	}
	assert_int_equal(store_log_trim(t, max_bytes, NULL), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void range(struct store *s, struct store_log_range *rg)
{
	struct store_txn *t;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_log_range(t, rg), ERR_OK);
	store_abort(t);
}

struct seen {
	uint64_t seqs[4096];
	unsigned n;
	unsigned stop_at; /* the callback asks to stop after this many; 0 never */
};

static int collect(const struct store_log_rec *r, void *arg)
{
	struct seen *sn = arg;

	assert_true(sn->n < 4096);
	assert_string_equal(r->module, "test");
	assert_string_equal(r->to, "+4917012345678");
	sn->seqs[sn->n++] = r->seq;
	return sn->stop_at && sn->n >= sn->stop_at;
}

static uint64_t read_from(struct store *s, const struct store_log_query *q, struct seen *sn)
{
	struct store_txn *t;
	uint64_t next = 0;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_log_read(t, q, collect, sn, &next), ERR_OK);
	store_abort(t);
	return next;
}

static void test_encode_roundtrip(void **state)
{
	struct store_log_rec in = {.time_ms = 42, .level = LOG_ERR, .msg_seq = 7, .module = "mqtt",
				   .event_id = "e-1", .text = "line\nwith newline", .to = NULL,
				   .vars = ""}, out;
	unsigned char buf[STORE_LOG_ENC_MAX];
	size_t len = store_log_encode(&in, buf, sizeof(buf));

	(void)state;
	assert_true(len > 0);
	assert_int_equal(store_log_encode(&in, buf, len - 1), 0); /* too small: refused */
	assert_int_equal(store_log_decode(buf, len, &out), ERR_OK);
	assert_int_equal(out.time_ms, 42);
	assert_int_equal(out.level, LOG_ERR);
	assert_int_equal(out.msg_seq, 7);
	assert_string_equal(out.module, "mqtt");
	assert_string_equal(out.text, "line\nwith newline");
	assert_string_equal(out.to, "");
	assert_false(out.sender);
	/* An inbound message's sender keeps its role through the ring. */
	in.to = "+491701234567";
	in.sender = true;
	len = store_log_encode(&in, buf, sizeof(buf));
	assert_int_equal(store_log_decode(buf, len, &out), ERR_OK);
	assert_string_equal(out.to, "+491701234567");
	assert_true(out.sender);
	/* Cut, damaged or padded bytes are no record. */
	assert_int_equal(store_log_decode(buf, len - 1, &out), ERR_PARSE);
	assert_int_equal(store_log_decode(buf, len + 1, &out), ERR_PARSE);
	buf[0] = 99;
	assert_int_equal(store_log_decode(buf, len, &out), ERR_PARSE);
}

static void test_append_rejects_garbage(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t;
	unsigned char junk[40] = {1, 2, 3};

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_log_append(t, junk, sizeof(junk), NULL), ERR_PARSE);
	assert_int_equal(store_commit(t), ERR_OK); /* the txn is still good */
}

static void test_order_and_pages(void **state)
{
	struct store_fx *f = *state;
	struct store_log_query q = {.since = 0, .max_level = LOG_DEBUG, .max_records = 100};
	struct store_log_range rg;
	struct seen sn = {0};
	uint64_t next;

	append(f->s, 250, 1 << 30, "a");
	range(f->s, &rg);
	assert_int_equal(rg.first, 1);
	assert_int_equal(rg.last, 250);
	assert_int_equal(rg.dropped, 0);
	/* Pages of 100 from 0 cover 1..250 once each, in order. */
	for (next = 0; next <= 250;) {
		q.since = next;
		next = read_from(f->s, &q, &sn);
	}
	assert_int_equal(sn.n, 250);
	for (unsigned i = 0; i < sn.n; i++)
		assert_int_equal(sn.seqs[i], i + 1);
	assert_int_equal(next, 251);
	/* Past the end: nothing, and next stays where it was asked. */
	sn.n = 0;
	q.since = 400;
	assert_int_equal(read_from(f->s, &q, &sn), 400);
	assert_int_equal(sn.n, 0);
	/* The callback may stop a page early; next follows what it took. */
	sn = (struct seen){.stop_at = 3};
	q.since = 10;
	assert_int_equal(read_from(f->s, &q, &sn), 13);
}

static void test_level_filter(void **state)
{
	struct store_fx *f = *state;
	struct store_log_query q = {.since = 1, .max_level = LOG_WARNING, .max_records = 10};
	struct seen sn = {0};
	uint64_t next;

	append(f->s, 100, 1 << 30, "b"); /* odd i (even seq) is debug */
	next = read_from(f->s, &q, &sn);
	assert_int_equal(sn.n, 10);
	for (unsigned i = 0; i < sn.n; i++)
		assert_int_equal(sn.seqs[i] % 2, 1);
	assert_int_equal(next, sn.seqs[9] + 1);
	/* A scan bound stops a filtered read early, with next after the last
	 * record looked at. */
	sn.n = 0;
	q = (struct store_log_query){.since = 1, .max_level = LOG_ERR, .max_scan = 30};
	assert_int_equal(read_from(f->s, &q, &sn), 31);
	assert_int_equal(sn.n, 0);
}

static void test_bound_and_drops(void **state)
{
	struct store_fx *f = *state;
	struct store_log_range rg;
	struct store_txn *t;
	uint64_t dropped = 0;

	append(f->s, 1000, 64 << 10, "c");
	range(f->s, &rg);
	assert_true(rg.bytes <= 64 << 10);
	assert_true(rg.bytes > 60 << 10); /* trimmed to the bound, not far below */
	assert_int_equal(rg.last, 1000);
	assert_int_equal(rg.dropped, rg.first - 1); /* contiguous: dropped = the oldest */
	assert_true(rg.first > 1);
	/* A smaller bound trims more, and the counter adds up. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_log_trim(t, 8 << 10, &dropped), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	range(f->s, &rg);
	assert_true(dropped > 0);
	assert_true(rg.bytes <= 8 << 10);
	assert_int_equal(rg.dropped, rg.first - 1);
	assert_int_equal(rg.last, 1000);
	/* The newest record stays, however small the bound. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_log_trim(t, 0, NULL), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	range(f->s, &rg);
	assert_int_equal(rg.first, 1000);
	assert_int_equal(rg.last, 1000);
	assert_int_equal(rg.dropped, 999);
}

static void test_reopen_keeps_ring(void **state)
{
	struct store_fx *f = *state;
	struct store_log_range rg;

	append(f->s, 50, 1 << 30, "d");
	store_fx_reopen(f, 16);
	range(f->s, &rg);
	assert_int_equal(rg.first, 1);
	assert_int_equal(rg.last, 50);
	/* Sequence numbers go on where they stopped. */
	append(f->s, 5, 1 << 30, "e");
	range(f->s, &rg);
	assert_int_equal(rg.last, 55);
}

/* A store written before the log ring existed has no "log" DB: opening it
 * creates one, and the outbox in it is untouched. */
static void test_store_without_log_db(void **state)
{
	struct store_fx *f = *state;
	struct store_log_range rg;
	struct store_txn *t;
	MDB_dbi dbi;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_stat_add(t, "canary", 7), ERR_OK);
	assert_int_equal(mdb_drop(t->txn, f->s->dbi[STORE_DB_LOG], 1), MDB_SUCCESS);
	assert_int_equal(store_commit(t), ERR_OK);
	store_fx_reopen(f, 16);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(mdb_dbi_open(t->txn, "log", 0, &dbi), MDB_SUCCESS);
	store_abort(t);
	append(f->s, 3, 1 << 30, "f");
	range(f->s, &rg);
	assert_int_equal(rg.first, 1);
	assert_int_equal(rg.last, 3);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	uint64_t v = 0;
	assert_int_equal(store_stat_get(t, "canary", &v), ERR_OK);
	assert_int_equal(v, 7);
	store_abort(t);
}

static void test_masking(void **state)
{
	char out[CFG_PHONE_MAX];

	(void)state;
	/* The rule the logs command applies to "to" (config/phone.h). */
	cfg_phone_mask("+4917012345678", out);
	assert_string_equal(out, "+491*******678");
	cfg_phone_mask("12", out);
	assert_string_equal(out, "**");
	assert_null(strstr(out, "12"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test_setup_teardown(test_append_rejects_garbage, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_and_pages, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_bound_and_drops, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_ring, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_without_log_db, store_fx_setup, store_fx_teardown),
		cmocka_unit_test(test_masking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
