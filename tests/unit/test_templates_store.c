/*
 * test_templates_store.c - store/templates.c: approvals per (account, key)
 * kept across a reopen, listed per account, refused past the limits; and
 * the parked corner of the outbox's due index (store_outbox_parked) the
 * template gate uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"
#include "store/outbox.h"
#include "store/templates.h"

static const struct store_template paused = {
	.id = "HX0000000000000000000000000000c0a1", .name = "order_ready", .status = "paused",
	.category = "UTILITY", .type = "twilio/quick-reply", .reason = "low quality",
	.approved = false, .synced_ms = 1700000000123, .changed_ms = 1700000000000,
};

static void put(struct store_fx *f, const char *acc, const char *key,
		const struct store_template *t)
{
	struct store_txn *txn;

	assert_int_equal(store_begin(f->s, 0, &txn), ERR_OK);
	assert_int_equal(store_template_put(txn, acc, key, t), ERR_OK);
	assert_int_equal(store_commit(txn), ERR_OK);
}

static void test_put_get_reopen(void **state)
{
	struct store_fx *f = *state;
	struct store_template got;
	struct store_txn *txn;

	put(f, "main", paused.id, &paused);
	store_fx_reopen(f, 16);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &txn), ERR_OK);
	assert_int_equal(store_template_get(txn, "main", paused.id, &got), ERR_OK);
	assert_string_equal(got.id, paused.id);
	assert_string_equal(got.name, "order_ready");
	assert_string_equal(got.status, "paused");
	assert_string_equal(got.category, "UTILITY");
	assert_string_equal(got.type, "twilio/quick-reply");
	assert_string_equal(got.reason, "low quality");
	assert_false(got.approved);
	assert_true(got.synced_ms == 1700000000123);
	assert_true(got.changed_ms == 1700000000000);
	/* Another account's entry under the same key is another entry. */
	assert_int_equal(store_template_get(txn, "backup", paused.id, &got), ERR_NOTFOUND);
	store_abort(txn);
}

static void test_replace_and_empty_texts(void **state)
{
	struct store_fx *f = *state;
	struct store_template ok = {.id = paused.id, .status = "approved", .approved = true,
				    .synced_ms = 5};
	struct store_template got;
	struct store_txn *txn;

	put(f, "main", paused.id, &paused);
	put(f, "main", paused.id, &ok);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &txn), ERR_OK);
	assert_int_equal(store_template_get(txn, "main", paused.id, &got), ERR_OK);
	assert_true(got.approved);
	assert_string_equal(got.status, "approved");
	assert_string_equal(got.reason, ""); /* NULL is kept as "" */
	assert_string_equal(got.name, "");
	store_abort(txn);
}

static int collect(const char *account, const char *key, const struct store_template *t,
		   void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s/%s=%s;", account, key, t->status);
	return 0;
}

static void test_list_by_account(void **state)
{
	struct store_fx *f = *state;
	struct store_template a = paused, b = paused;
	struct store_txn *txn;
	char out[512] = "";

	b.status = "approved";
	put(f, "main", "HXb", &b);
	put(f, "main", "HXa", &a);
	put(f, "mainx", "HXc", &a); /* a longer name with the same start */
	put(f, "backup", "HXd", &b);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &txn), ERR_OK);
	assert_int_equal(store_template_list(txn, "main", collect, out), ERR_OK);
	assert_string_equal(out, "main/HXa=paused;main/HXb=approved;");
	out[0] = '\0';
	assert_int_equal(store_template_list(txn, NULL, collect, out), ERR_OK);
	assert_string_equal(out, "backup/HXd=approved;main/HXa=paused;main/HXb=approved;"
				 "mainx/HXc=paused;");
	out[0] = '\0';
	assert_int_equal(store_template_list(txn, "nobody", collect, out), ERR_OK);
	assert_string_equal(out, "");
	store_abort(txn);
}

static void test_refusals(void **state)
{
	struct store_fx *f = *state;
	struct store_template big = paused;
	char text[STORE_TPL_TEXT_MAX + 2], key[STORE_TPL_KEY_MAX + 2];
	struct store_template got;
	struct store_txn *txn;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	big.reason = text;
	assert_int_equal(store_begin(f->s, 0, &txn), ERR_OK);
	assert_int_equal(store_template_put(txn, "main", "HXa", &big), ERR_TOOBIG);
	assert_int_equal(store_template_put(txn, "", "HXa", &paused), ERR_INVAL);
	assert_int_equal(store_template_put(txn, "main", "", &paused), ERR_INVAL);
	assert_int_equal(store_template_put(txn, "main", key, &paused), ERR_TOOBIG);
	/* Refusals leave the txn usable. */
	assert_int_equal(store_template_put(txn, "main", "HXa", &paused), ERR_OK);
	assert_int_equal(store_template_del(txn, "main", "HXa"), ERR_OK);
	assert_int_equal(store_template_get(txn, "main", "HXa", &got), ERR_NOTFOUND);
	assert_int_equal(store_commit(txn), ERR_OK);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &txn), ERR_OK);
	assert_int_equal(store_template_put(txn, "main", "HXa", &paused), ERR_INVAL);
	store_abort(txn);
}

static uint64_t add_msg(struct store_txn *txn, int64_t due)
{
	struct store_msg m = {.state = STORE_QUEUED, .event_id = "e", .due_ms = due};
	static unsigned n;
	char id[16];

	snprintf(id, sizeof(id), "e%u", n++);
	m.event_id = id;
	assert_int_equal(store_outbox_add(txn, &m), ERR_OK);
	return m.seq;
}

static void test_parked(void **state)
{
	struct store_fx *f = *state;
	uint64_t seqs[8], s1, s2, s3, s4;
	struct store_txn *txn;
	struct store_msg m;
	int64_t next;
	unsigned n;

	assert_int_equal(store_begin(f->s, 0, &txn), ERR_OK);
	s1 = add_msg(txn, STORE_DUE_PARKED);
	s2 = add_msg(txn, 1000);
	s3 = add_msg(txn, STORE_DUE_PARKED);
	s4 = add_msg(txn, STORE_DUE_PARKED);
	/* Never due for a real now; next_due says where the parked ones sit. */
	assert_int_equal(store_outbox_due(txn, 4000000000000, 8, seqs, &n, &next), ERR_OK);
	assert_int_equal(n, 1);
	assert_true(seqs[0] == s2);
	assert_true(next == STORE_DUE_PARKED);
	assert_int_equal(store_outbox_parked(txn, 0, 2, seqs, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_true(seqs[0] == s1 && seqs[1] == s3);
	assert_int_equal(store_outbox_parked(txn, s3, 8, seqs, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_true(seqs[0] == s4);
	/* Released: out of the parked corner. */
	assert_int_equal(store_outbox_get(txn, s1, &m), ERR_OK);
	m.due_ms = 2000;
	assert_int_equal(store_outbox_update(txn, &m), ERR_OK);
	assert_int_equal(store_outbox_parked(txn, 0, 8, seqs, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_true(seqs[0] == s3 && seqs[1] == s4);
	assert_int_equal(store_commit(txn), ERR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_reopen, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_replace_and_empty_texts, store_fx_setup,
						store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_by_account, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_parked, store_fx_setup, store_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
