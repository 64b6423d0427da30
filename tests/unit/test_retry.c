/* Retry policy: capped exponential backoff with full jitter, and the next
 * state for each outcome class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "firmware/retry.h"
#include "net/providers/provider.h"

static const struct fw_retry_policy pol = {
	.max_attempts = 5, .base_ms = 2000, .cap_ms = 900000, .retry_after_max_s = 3600,
};

static void backoff_grows_then_caps(void **state)
{
	(void)state;
	/* The largest random value gives the ceiling of each attempt's window. */
	assert_int_equal(fw_backoff_ms(1, &pol, UINT32_MAX), UINT32_MAX % 2001);
	assert_int_equal(fw_backoff_ms(1, &pol, 2000), 2000);
	assert_int_equal(fw_backoff_ms(2, &pol, 4000), 4000);
	assert_int_equal(fw_backoff_ms(3, &pol, 8000), 8000);
	assert_int_equal(fw_backoff_ms(3, &pol, 8001), 0 + 50); /* wraps to 0, floored */
	/* 2000 * 2^9 = 1,024,000 > cap: capped at 900,000 from attempt 10 on. */
	assert_int_equal(fw_backoff_ms(10, &pol, 900000), 900000);
	assert_int_equal(fw_backoff_ms(60, &pol, 900000), 900000);
	assert_int_equal(fw_backoff_ms(60, &pol, 900001), 50);
}

static void backoff_is_jittered_over_the_window(void **state)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)state;
	for (uint32_t r = 0; r < 100000; r += 7) {
		uint64_t d = fw_backoff_ms(2, &pol, r * 2654435761u);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		assert_true(d >= 50 && d <= 4000);
	}
	assert_true(lo < 200);   /* full jitter reaches near zero */
	assert_true(hi > 3800);  /* and near the ceiling */
}

static void next_state_per_class(void **state)
{
	uint64_t d = 0;

	(void)state;
	assert_int_equal(fw_retry_next(NET_OK, 1, 0, &pol, 1, &d), FW_NEXT_SENT);
	assert_int_equal(fw_retry_next(NET_PERMANENT, 1, 0, &pol, 1, &d), FW_NEXT_FAILED);
	assert_int_equal(fw_retry_next(NET_OPTED_OUT, 1, 0, &pol, 1, &d), FW_NEXT_FAILED);
	assert_int_equal(fw_retry_next(NET_WINDOW, 1, 0, &pol, 1, &d), FW_NEXT_FAILED);
	assert_int_equal(fw_retry_next(NET_TEMPLATE, 1, 0, &pol, 1, &d), FW_NEXT_FAILED);
	assert_int_equal(fw_retry_next(NET_AUTH, 1, 0, &pol, 1, &d), FW_NEXT_PAUSE);
	/* Auth pauses even at the attempt limit: it is not the message's fault. */
	assert_int_equal(fw_retry_next(NET_AUTH, 5, 0, &pol, 1, &d), FW_NEXT_PAUSE);
	d = 0;
	assert_int_equal(fw_retry_next(NET_TRANSIENT, 1, 0, &pol, 1000, &d), FW_NEXT_RETRY);
	assert_int_equal(d, 1000);
	assert_int_equal(fw_retry_next(NET_AMBIGUOUS, 2, 0, &pol, 3000, &d), FW_NEXT_RETRY);
	assert_int_equal(d, 3000);
	assert_int_equal(fw_retry_next(NET_TRANSIENT, 5, 0, &pol, 1, &d), FW_NEXT_EXPIRED);
	assert_int_equal(fw_retry_next(NET_AMBIGUOUS, 7, 0, &pol, 1, &d), FW_NEXT_EXPIRED);
}

static void retry_after_is_honoured_and_clamped(void **state)
{
	uint64_t d = 0;

	(void)state;
	assert_int_equal(fw_retry_next(NET_RATE, 1, 7, &pol, 1, &d), FW_NEXT_RETRY);
	assert_int_equal(d, 7000);
	assert_int_equal(fw_retry_next(NET_RATE, 1, 999999, &pol, 1, &d), FW_NEXT_RETRY);
	assert_int_equal(d, 3600u * 1000);
	/* No Retry-After: backoff. A negative one (a past HTTP date) is ignored. */
	assert_int_equal(fw_retry_next(NET_RATE, 1, 0, &pol, 1500, &d), FW_NEXT_RETRY);
	assert_int_equal(d, 1500);
	assert_int_equal(fw_retry_next(NET_RATE, 1, -30, &pol, 1500, &d), FW_NEXT_RETRY);
	assert_int_equal(d, 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_grows_then_caps),
		cmocka_unit_test(backoff_is_jittered_over_the_window),
		cmocka_unit_test(next_state_per_class),
		cmocka_unit_test(retry_after_is_honoured_and_clamped),
	};
	return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
