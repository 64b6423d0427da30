/*
 * test_commit_hook.c - store's commit hook and nested txns (store/store.h):
 * what rides along with a commit goes in only with it, a failing part undoes
 * only itself, and a commit that writes nothing runs no hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hal/err.h"
#include "store/outbox.h"
#include "store/store.h"
#include "store_fx.h"

struct rider {
	unsigned before, after;
	int last_err;
	int fail_with; /* the nested part returns this (ERR_OK: it writes) */
};

static int ride_part(struct store_txn *c, void *arg)
{
	struct rider *r = arg;
	int rc = store_stat_add(c, "rode", 1);

	return rc == ERR_OK ? r->fail_with : rc;
}

static void before(struct store_txn *t, void *arg)
{
	struct rider *r = arg;
	int rc = store_nested_run(t, ride_part, r);

	r->before++;
	assert_int_equal(rc, r->fail_with);
}

static void after(int err, void *arg)
{
	struct rider *r = arg;

	r->after++;
	r->last_err = err;
}

static uint64_t stat_of(struct store *s, const char *name)
{
	struct store_txn *t;
	uint64_t v = 0;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_stat_get(t, name, &v), ERR_OK);
	store_abort(t);
	return v;
}

static void commit_with(struct store *s, const char *name, int want)
{
	struct store_txn *t;

	assert_int_equal(store_begin(s, 0, &t), ERR_OK);
	if (name)
		assert_int_equal(store_stat_add(t, name, 1), ERR_OK);
	assert_int_equal(store_commit(t), want);
}

static void test_rides_with_writing_commits_only(void **state)
{
	struct store_fx *f = *state;
	struct rider r = {0};
	uint64_t c0;

	store_set_commit_hook(f->s, &(struct store_commit_hook){before, after, &r});
	c0 = store_commits(f->s);
	commit_with(f->s, NULL, ERR_OK); /* writes nothing: no hook, no commit counted */
	assert_int_equal(r.before, 0);
	assert_int_equal(r.after, 0);
	assert_int_equal(store_commits(f->s), c0);
	commit_with(f->s, "own", ERR_OK);
	assert_int_equal(r.before, 1);
	assert_int_equal(r.after, 1);
	assert_int_equal(r.last_err, ERR_OK);
	assert_int_equal(store_commits(f->s), c0 + 1);
	assert_int_equal(stat_of(f->s, "own"), 1);
	assert_int_equal(stat_of(f->s, "rode"), 1);
	store_set_commit_hook(f->s, NULL);
	commit_with(f->s, "own", ERR_OK);
	assert_int_equal(r.before, 1);
	assert_int_equal(stat_of(f->s, "rode"), 1);
}

static void test_failing_part_undoes_only_itself(void **state)
{
	struct store_fx *f = *state;
	struct rider r = {.fail_with = ERR_PARSE};

	store_set_commit_hook(f->s, &(struct store_commit_hook){before, after, &r});
	commit_with(f->s, "own", ERR_OK);
	assert_int_equal(r.before, 1);
	assert_int_equal(r.after, 1);
	assert_int_equal(stat_of(f->s, "own"), 1);
	assert_int_equal(stat_of(f->s, "rode"), 0);
}

static void test_aborted_txn_takes_nothing(void **state)
{
	struct store_fx *f = *state;
	struct rider r = {0};
	struct store_txn *t;

	store_set_commit_hook(f->s, &(struct store_commit_hook){before, after, &r});
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_stat_add(t, "own", 1), ERR_OK);
	store_abort(t);
	assert_int_equal(r.before, 0);
	assert_int_equal(stat_of(f->s, "own"), 0);
	assert_int_equal(stat_of(f->s, "rode"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rides_with_writing_commits_only, store_fx_setup,
						store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_failing_part_undoes_only_itself, store_fx_setup,
						store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_aborted_txn_takes_nothing, store_fx_setup,
						store_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
