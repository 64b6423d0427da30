/* E.164 normalisation and masking, as tables: input, default country, and
 * the expected number or the expected reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/phone.h"
#include "hal/err.h"

struct good_case {
	const char *in, *country, *want;
};

struct bad_case {
	const char *in, *country, *why;
};

static void test_normalize_good(void **state)
{
	static const struct good_case cases[] = {
		{ "+4917012345678", NULL, "+4917012345678" },
		{ "+49 170 1234-5678", NULL, "+4917012345678" },
		{ "+1 (415) 555-0100", NULL, "+14155550100" },
		{ "+1.415.555.0100", NULL, "+14155550100" },
		{ "whatsapp:+14155550100", NULL, "+14155550100" },
		{ "WhatsApp:+14155550100", NULL, "+14155550100" },
		{ "004917012345678", NULL, "+4917012345678" },
		{ "0049 170 12345678", "1", "+4917012345678" },
		{ "+44 (0)20 7946 0958", NULL, "+442079460958" },
		{ "0170 12345678", "49", "+4917012345678" },
		{ "170 12345678", "49", "+4917012345678" },
		{ "(0)170-12345678", "49", "+4917012345678" },
		{ "whatsapp:01701234567", "49", "+491701234567" },
		{ "+12345678", NULL, "+12345678" },             /* 8 digits: shortest */
		{ "+123456789012345", NULL, "+123456789012345" }, /* 15 digits: longest */
	};
	char out[CFG_PHONE_MAX];
	const char *why = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cfg_phone_normalize(cases[i].in, cases[i].country, out, &why);

		if (rc != ERR_OK || strcmp(out, cases[i].want) != 0)
			fail_msg("\"%s\" (%s): rc %d, got \"%s\" (%s), want \"%s\"", cases[i].in,
				 cases[i].country ? cases[i].country : "-", rc, out,
				 rc ? why : "", cases[i].want);
	}
}

static void test_normalize_bad(void **state)
{
	static const struct bad_case cases[] = {
		{ "", NULL, "empty" },
		{ NULL, NULL, "empty" },
		{ "+49 170 CALL-ME", NULL, "not a phone number: letters" },
		{ "+4917012345678x", NULL, "not a phone number: letters" },
		{ "+49/17012345678", NULL, "not a phone number: unexpected character" },
		{ "49+17012345678", "49", "not a phone number: '+' not at the start" },
		{ "()- .", "49", "not a phone number: no digits" },
		{ "+", NULL, "not a phone number: no digits" },
		{ "+1234567", NULL, "too short for E.164" },
		{ "0170 12", "49", "too short for E.164" },
		{ "+1234567890123456", NULL, "too long for E.164" },
		{ "+12345678901234567890123", NULL, "too long for E.164" },
		{ "017012345678901", "49", "too long for E.164" },
		{ "01701234567", NULL, "no country code and no default_country" },
		{ "01701234567", "0", "default_country is not 1-3 digits" },
		{ "01701234567", "4912", "default_country is not 1-3 digits" },
		{ "+0491701234567", NULL, "country code cannot start with 0" },
		{ "whatsapp:", NULL, "not a phone number: no digits" },
	};
	char out[CFG_PHONE_MAX];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		why = "(unset)";
		rc = cfg_phone_normalize(cases[i].in, cases[i].country, out, &why);
		if (rc != ERR_INVAL || strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
			fail_msg("\"%s\": rc %d why \"%s\", want \"%s\"", cases[i].in ? cases[i].in : "NULL",
				 rc, why, cases[i].why);
		assert_string_equal(out, "");
	}
}

static void test_mask(void **state)
{
	static const char *const cases[][2] = {
		{ "+4917012345678", "+491*******678" },
		{ "+14155550100", "+141*****100" },
		{ "+12345678", "+123**678" },
		{ "+123456789012345", "+123*********345" },
		{ "+1234567", "+*******" }, /* too short to show anything */
		{ "", "" },
		{ "+12345678901234567890", "+123*********890" }, /* over-long input is cut */
	};
	char out[CFG_PHONE_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg_phone_mask(cases[i][0], out);
		assert_string_equal(out, cases[i][1]);
	}
	cfg_phone_mask(NULL, out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_good),
		cmocka_unit_test(test_normalize_bad),
		cmocka_unit_test(test_mask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
