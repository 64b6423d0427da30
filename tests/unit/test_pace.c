/* The in-flight limit (docs/RETRY.md, pace): rate x smoothed answer time,
 * by slow start, under sender.max_inflight - and no higher than where more
 * requests out only queue at the provider (firmware/knee.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/knee.h"
#include "firmware/sender/sender.h"

typedef uint64_t provider_fn(unsigned out, unsigned i);

/* A provider that takes 4,000 a second and no more: alone it answers in
 * 1.5 ms; with more out, each waits for those before it (250 us each). */
static uint64_t queueing(unsigned out, unsigned i)
{
	(void)i;
	return out * 250 > 1500 ? out * 250 : 1500;
}

/* 100 to 300 ms whatever is out: a real provider's spread, no queue. */
static uint64_t spread(unsigned out, unsigned i)
{
	(void)out;
	return 100000 + (uint64_t)(i * 7919u % 200000u);
}

/* A backlog drained through fw_snd_paced: each answer came back from a
 * request that left with some number out (anywhere up to the limit: the
 * answers come back unevenly). Returns the limit at the end. */
static unsigned drain(provider_fn *p, double rate, unsigned cap, unsigned answers)
{
	struct fw_sender s = {.max_inflight = cap};
	struct account a = {.rate = rate, .answer_ms = ANSWER_MS_GUESS, .ramp = RAMP_START};
	struct ctx c = {.acct = &a};

	strcpy(a.name, "main");
	fw_snd_adapt(&a, cap);
	for (unsigned i = 0; i < answers; i++) {
		c.out_n = 1 + (i * 37u) % a.limit;
		c.answer_us = p(c.out_n, i);
		c.answer_ms = (int64_t)(c.answer_us / 1000);
		a.inflight = a.limit;
		fw_snd_paced(&s, &c);
	}
	return a.limit;
}

static void a_queueing_provider_gets_what_it_can_answer(void **state)
{
	unsigned limit = drain(queueing, 10000, 128, 5000);

	(void)state;
	/* Rate x answer time alone climbs to the cap, 128 (the knee is ~6). */
	assert_true(limit >= 4);
	assert_true(limit <= 32);
}

static void a_spread_is_not_a_queue(void **state)
{
	/* 500/s x ~200 ms x 1.25 + 2: over 100 out, whatever the spread. */
	unsigned limit = drain(spread, 500, 128, 5000);

	(void)state;
	assert_true(limit >= 100);
}

static void the_knee_alone(void **state)
{
	struct fw_knee k;

	(void)state;
	memset(&k, 0, sizeof(k));
	for (unsigned i = 0; i < 40; i++) { /* 4-7 out and 8-15 out: alike */
		assert_false(fw_knee_answer(&k, 5, 2000, 1000));
		assert_false(fw_knee_answer(&k, 9, 2100, 1000));
	}
	assert_int_equal(k.top, 0);
	for (unsigned i = 0; i < 15; i++) /* 16-31 out: twice as long, not yet enough answers */
		assert_false(fw_knee_answer(&k, 17, 4200, 1000));
	assert_true(fw_knee_answer(&k, 17, 4200, 1000));
	assert_int_equal(k.top, 20); /* a quarter over 16 */
	assert_false(fw_knee_answer(&k, 17, 4200, 10999));
	/* 10 s later it doubles, and the band above is measured afresh. */
	assert_true(fw_knee_answer(&k, 9, 2100, 11000));
	assert_int_equal(k.top, 40);
	assert_int_equal(k.n[5], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_queueing_provider_gets_what_it_can_answer),
		cmocka_unit_test(a_spread_is_not_a_queue),
		cmocka_unit_test(the_knee_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
