/*
 * test_pin.c - config/pin.c: a PIN hash checked against an independent
 * PBKDF2 (Python's hashlib.pbkdf2_hmac, computed when the test was written),
 * round trips, wrong PINs, malformed specs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/pin.h"

/* hashlib.pbkdf2_hmac('sha256', b'4711', bytes(range(16)), 1000) */
#define KNOWN "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$" \
	      "b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac0"

static void known_answer(void **state)
{
	(void)state;
	assert_true(cfg_pin_spec_valid(KNOWN));
	assert_true(cfg_pin_verify("4711", KNOWN));
	assert_false(cfg_pin_verify("4712", KNOWN));
	assert_false(cfg_pin_verify("47111", KNOWN));
}

static void round_trip(void **state)
{
	char a[CFG_PIN_SPEC_MAX], b[CFG_PIN_SPEC_MAX];

	(void)state;
	assert_true(cfg_pin_hash("2580 field", a));
	assert_true(cfg_pin_hash("2580 field", b));
	assert_string_not_equal(a, b); /* salted */
	assert_true(cfg_pin_spec_valid(a));
	assert_true(cfg_pin_verify("2580 field", a));
	assert_true(cfg_pin_verify("2580 field", b));
	assert_false(cfg_pin_verify("2580 fielD", a));
	assert_false(cfg_pin_hash("123", a));          /* too short */
	assert_false(cfg_pin_hash("12\n34", a));       /* control character */
}

static void malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"sha1$1000$000102030405060708090a0b0c0d0e0f$b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac0",
		"pbkdf2-sha256$999$000102030405060708090a0b0c0d0e0f$b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac0",
		"pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e$b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac0",
		"pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac",
		"pbkdf2-sha256$1000$000102030405060708090A0B0C0D0E0F$b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac0",
		"pbkdf2-sha256$x$000102030405060708090a0b0c0d0e0f$b5bd6e88917e8c18c075e52eb8427bbc00f98d7308cd509c480e449242bbaac0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(cfg_pin_spec_valid(bad[i]));
		assert_false(cfg_pin_verify("4711", bad[i]));
	}
	assert_false(cfg_pin_verify(NULL, KNOWN));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_answer),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
