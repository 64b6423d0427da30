/* MQTT topic filters: validity and matching (MQTT 3.1.1 section 4.7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/topic.h"

static void test_filter_valid(void **state)
{
	static const struct {
		const char *filter;
		bool ok;
	} cases[] = {
		{ "site/+/payments/#", true }, { "#", true },          { "+", true },
		{ "+/+", true },              { "/", true },           { "a//b", true },
		{ "/#", true },               { "$SYS/#", true },      { "a/+/#", true },
		{ "", false },                { "a/#/b", false },      { "a#", false },
		{ "a/b#", false },            { "#/", false },         { "a+", false },
		{ "a/+b/c", false },          { "++", false },         { "a/#/", false },
	};
	char *huge;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cfg_topic_filter_valid(cases[i].filter) != cases[i].ok)
			fail_msg("\"%s\" should be %s", cases[i].filter,
				 cases[i].ok ? "valid" : "invalid");
	assert_false(cfg_topic_filter_valid(NULL));
	huge = malloc(CFG_TOPIC_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'a', CFG_TOPIC_MAX);
	huge[CFG_TOPIC_MAX] = '\0';
	assert_true(cfg_topic_filter_valid(huge));
	huge[CFG_TOPIC_MAX] = 'a';
	huge[CFG_TOPIC_MAX + 1] = '\0';
	assert_false(cfg_topic_filter_valid(huge));
	free(huge);
}

static void test_match(void **state)
{
	static const struct {
		const char *filter, *topic;
		bool match;
	} cases[] = {
		{ "site/+/payments/#", "site/042/payments/card", true },
		{ "site/+/payments/#", "site/042/payments", true }, /* '#' includes the parent */
		{ "site/+/payments/#", "site/042/payments/a/b/c", true },
		{ "site/+/payments/#", "site/042/tickets/x", false },
		{ "site/+/payments/#", "site/payments", false },
		{ "site/+/payments/#", "site//payments/x", true }, /* '+' matches an empty level */
		{ "a/b", "a/b", true },
		{ "a/b", "a/b/", false },
		{ "a/b", "a", false },
		{ "a/b", "a/bc", false },
		{ "a/+", "a/", true },
		{ "a/+", "a", false },
		{ "a/+", "a/b/c", false },
		{ "+", "a", true },
		{ "+", "/", false },
		{ "+/+", "/", true },
		{ "/+", "/a", true },
		{ "#", "a/b/c", true },
		{ "#", "/", true },
		{ "a//b", "a//b", true },
		{ "a//b", "a/b", false },
		{ "#", "$SYS/broker/load", false }, /* wildcards at level 1 skip $ topics */
		{ "+/broker/load", "$SYS/broker/load", false },
		{ "$SYS/#", "$SYS/broker/load", true },
		{ "$SYS/+/load", "$SYS/broker/load", true },
		{ "a/$x", "a/$x", true },
		{ "#", "", false },                 /* empty topic is not a topic */
		{ "a/+", "a/+", false },            /* wildcards are not allowed in topic names */
		{ "a/#", "a/#", false },
		{ "a/#/b", "a/x/b", false },        /* invalid filter matches nothing */
		{ "A/b", "a/b", false },            /* case-sensitive */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cfg_topic_match(cases[i].filter, cases[i].topic) != cases[i].match)
			fail_msg("\"%s\" vs \"%s\" should %s", cases[i].filter, cases[i].topic,
				 cases[i].match ? "match" : "not match");
	assert_false(cfg_topic_match("#", NULL));
	assert_false(cfg_topic_match(NULL, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_valid),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
