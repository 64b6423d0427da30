/* The circuit breaker: when an account's provider is given up on for a
 * while, the single trial after it, and what closes it again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "firmware/breaker.h"
#include "net/providers/provider.h"

static struct fw_breaker fresh(void)
{
	return (struct fw_breaker){.failures = 3, .open_s = 10};
}

static void opens_after_failures_in_a_row(void **state)
{
	struct fw_breaker b = fresh();

	(void)state;
	assert_int_equal(fw_breaker_outcome(&b, NET_TRANSIENT, 1000), FW_BREAKER_SAME);
	assert_int_equal(fw_breaker_outcome(&b, NET_AMBIGUOUS, 1001), FW_BREAKER_SAME);
	assert_true(fw_breaker_admit(&b, 1002));
	assert_int_equal(fw_breaker_outcome(&b, NET_TRANSIENT, 1002), FW_BREAKER_OPENED);
	assert_int_equal(fw_breaker_state(&b, 1003), FW_BREAKER_OPEN);
	assert_false(fw_breaker_admit(&b, 1003));
	assert_false(fw_breaker_admit(&b, 11001));
	assert_int_equal(b.trips, 1);
}

static void an_answer_breaks_the_run(void **state)
{
	static const int answers[] = {NET_OK, NET_PERMANENT, NET_RATE, NET_TEMPLATE,
				      NET_OPTED_OUT, NET_WINDOW};
	(void)state;
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		struct fw_breaker b = fresh();

		fw_breaker_outcome(&b, NET_TRANSIENT, 1);
		fw_breaker_outcome(&b, NET_TRANSIENT, 2);
		fw_breaker_outcome(&b, answers[i], 3);
		fw_breaker_outcome(&b, NET_TRANSIENT, 4);
		fw_breaker_outcome(&b, NET_TRANSIENT, 5);
		assert_int_equal(fw_breaker_state(&b, 6), FW_BREAKER_CLOSED);
	}
}

static void refused_credentials_are_not_an_outage(void **state)
{
	struct fw_breaker b = fresh();

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(fw_breaker_outcome(&b, NET_AUTH, (uint64_t)i), FW_BREAKER_SAME);
	assert_int_equal(fw_breaker_state(&b, 20), FW_BREAKER_CLOSED);
}

static struct fw_breaker tripped(uint64_t at)
{
	struct fw_breaker b = fresh();

	for (int i = 0; i < 3; i++)
		fw_breaker_outcome(&b, NET_TRANSIENT, at);
	return b;
}

static void one_trial_when_the_time_is_up(void **state)
{
	struct fw_breaker b = tripped(0);

	(void)state;
	assert_int_equal(fw_breaker_state(&b, 9999), FW_BREAKER_OPEN);
	assert_int_equal(fw_breaker_state(&b, 10000), FW_BREAKER_HALF_OPEN);
	assert_true(fw_breaker_admit(&b, 10000));  /* the trial */
	assert_false(fw_breaker_admit(&b, 10001)); /* everyone else waits for it */
	assert_false(fw_breaker_admit(&b, 20000));
	assert_int_equal(fw_breaker_outcome(&b, NET_OK, 10500), FW_BREAKER_CLOSED_AGAIN);
	assert_int_equal(b.failbacks, 1);
	assert_true(fw_breaker_admit(&b, 10501));
	assert_true(fw_breaker_admit(&b, 10502));
}

static void failed_trials_double_the_wait_up_to_a_cap(void **state)
{
	struct fw_breaker b = tripped(0);
	uint64_t now = 10000, want = 20000;

	(void)state;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(fw_breaker_state(&b, now), FW_BREAKER_HALF_OPEN);
		assert_true(fw_breaker_admit(&b, now));
		assert_int_equal(fw_breaker_outcome(&b, NET_TRANSIENT, now), FW_BREAKER_SAME);
		assert_int_equal(b.open_until - now, want);
		now = b.open_until;
		want = want * 2 > FW_BREAKER_OPEN_MAX_MS ? FW_BREAKER_OPEN_MAX_MS : want * 2;
	}
	assert_int_equal(b.trips, 1); /* one outage, however many trials */
}

static void a_lost_trial_is_given_up(void **state)
{
	struct fw_breaker b = tripped(0);

	(void)state;
	assert_true(fw_breaker_admit(&b, 10000));
	assert_false(fw_breaker_admit(&b, 10000 + FW_BREAKER_TRIAL_LOST_MS - 1));
	assert_true(fw_breaker_admit(&b, 10000 + FW_BREAKER_TRIAL_LOST_MS));
}

static void an_answer_while_open_closes_it(void **state)
{
	struct fw_breaker b = tripped(0);

	(void)state;
	/* A request sent before it opened comes back answered: the provider is up. */
	assert_int_equal(fw_breaker_outcome(&b, NET_PERMANENT, 5), FW_BREAKER_CLOSED_AGAIN);
	assert_int_equal(fw_breaker_state(&b, 6), FW_BREAKER_CLOSED);
	/* and a late failure while open does not extend it */
	b = tripped(0);
	fw_breaker_outcome(&b, NET_TRANSIENT, 5000);
	assert_int_equal(b.open_until, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(opens_after_failures_in_a_row),
		cmocka_unit_test(an_answer_breaks_the_run),
		cmocka_unit_test(refused_credentials_are_not_an_outage),
		cmocka_unit_test(one_trial_when_the_time_is_up),
		cmocka_unit_test(failed_trials_double_the_wait_up_to_a_cap),
		cmocka_unit_test(a_lost_trial_is_given_up),
		cmocka_unit_test(an_answer_while_open_closes_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
