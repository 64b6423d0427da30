/* Template variable values (WhatsApp's rules) and expression rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "config/render.h"
#include "hal/err.h"

static void test_var_check(void **state)
{
	static const struct {
		const char *value, *why; /* why NULL: accepted */
	} cases[] = {
		{ "Alice", NULL },
		{ "12.50 EUR", NULL },
		{ "a    b", NULL }, /* 4 spaces */
		{ "a     b", "more than 4 consecutive spaces" },
		{ "    x", NULL },
		{ "Jürgen – 東京 🙂", NULL },
		{ "", "empty" },
		{ " ", "only spaces" },
		{ "    ", "only spaces" },
		{ "line1\nline2", "contains a newline" },
		{ "a\rb", "contains a carriage return" },
		{ "a\tb", "contains a tab" },
		{ "a\x01" "b", "contains a control character" },
		{ "a\x7f", "contains a control character" },
		{ "a\xc2\x85", "contains a control character" }, /* U+0085 NEL */
		{ "a\xff", "invalid UTF-8" },
		{ "a\xc3", "invalid UTF-8" },          /* truncated */
		{ "\xc0\xaf", "invalid UTF-8" },       /* overlong '/' */
		{ "\xed\xa0\x80", "invalid UTF-8" },   /* surrogate */
		{ "\xf4\x90\x80\x80", "invalid UTF-8" }, /* > U+10FFFF */
		{ "\xe2\x82", "invalid UTF-8" },
	};
	char big[CFG_VAR_MAX + 2];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cfg_var_check(cases[i].value, &why);

		if (!cases[i].why && rc != ERR_OK)
			fail_msg("case %zu refused: %s", i, why);
		if (cases[i].why && (rc != ERR_INVAL || strcmp(why, cases[i].why) != 0))
			fail_msg("case %zu: rc %d why \"%s\", want \"%s\"", i, rc, rc ? why : "",
				 cases[i].why);
	}
	memset(big, 'x', CFG_VAR_MAX);
	big[CFG_VAR_MAX] = '\0';
	assert_int_equal(cfg_var_check(big, &why), ERR_OK);
	big[CFG_VAR_MAX] = 'x';
	big[CFG_VAR_MAX + 1] = '\0';
	assert_int_equal(cfg_var_check(big, &why), ERR_INVAL);
	assert_string_equal(why, "longer than 1024 bytes");
	assert_int_equal(cfg_var_check(NULL, &why), ERR_INVAL);
}

static const char event_json[] =
	"{\"id\": \"e1\", \"amount\": 12.5, \"cents\": 1250, \"neg\": -3, \"big\": 1e20,"
	" \"currency\": \"EUR\", \"paid\": true, \"refunded\": false, \"note\": null,"
	" \"customer\": {\"name\": \"Alice\", \"phone\": \"+4917012345678\","
	"   \"address\": {\"city\": \"Köln\"}},"
	" \"tags\": [\"a\"], \"my-field_2\": \"ok\","
	" \"a\": {\"b\": {\"c\": {\"d\": {\"e\": {\"f\": {\"g\": {\"h\": \"deep\"}}}}}}}}";

static cJSON *event;

static int setup(void **state)
{
	(void)state;
	event = cJSON_Parse(event_json);
	return event ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cJSON_Delete(event);
	return 0;
}

static void test_render_ok(void **state)
{
	static const char *const cases[][2] = {
		{ "{customer.name}", "Alice" },
		{ "{amount} {currency}", "12.5 EUR" },
		{ "{cents}", "1250" },
		{ "{neg}", "-3" },
		{ "{big}", "1e+20" },
		{ "paid: {paid}, refunded: {refunded}", "paid: true, refunded: false" },
		{ "{customer.address.city}", "Köln" },
		{ "{a.b.c.d.e.f.g.h}", "deep" },
		{ "{my-field_2}", "ok" },
		{ "plain text", "plain text" },
		{ "{{customer.name}}", "{customer.name}" },
		{ "{{{customer.name}}}", "{Alice}" },
		{ "100%", "100%" },
	};
	char out[64], why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cfg_render(cases[i][0], event, out, sizeof(out), why, sizeof(why));

		if (rc != ERR_OK || strcmp(out, cases[i][1]) != 0)
			fail_msg("\"%s\": rc %d \"%s\" (%s), want \"%s\"", cases[i][0], rc, out,
				 rc ? why : "", cases[i][1]);
	}
}

static void test_render_errors(void **state)
{
	static const struct {
		const char *expr;
		int rc;
		const char *why;
	} cases[] = {
		{ "{customer.email}", ERR_NOTFOUND, "missing field 'customer.email'" },
		{ "Hi {customer.name.first}", ERR_NOTFOUND, "missing field 'customer.name.first'" },
		{ "{customer}", ERR_INVAL, "field 'customer' is an object" },
		{ "{tags}", ERR_INVAL, "field 'tags' is an array" },
		{ "{note}", ERR_INVAL, "field 'note' is null" },
		{ "{customer.name", ERR_INVAL, "unclosed '{' at offset 0" },
		{ "a}b", ERR_INVAL, "unmatched '}' at offset 1" },
		{ "{}", ERR_INVAL, "field path must be" },
		{ "{a b}", ERR_INVAL, "field path 'a b': character ' ' not allowed" },
		{ "{.a}", ERR_INVAL, "field path '.a': empty name" },
		{ "{a.}", ERR_INVAL, "field path 'a.': empty name" },
		{ "{a.b.c.d.e.f.g.h.i}", ERR_INVAL, "field path 'a.b.c.d.e.f.g.h.i': more than 8 levels" },
		{ "", ERR_INVAL, "empty expression" },
	};
	char out[64], why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cfg_render(cases[i].expr, event, out, sizeof(out), why, sizeof(why));

		if (rc != cases[i].rc || strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
			fail_msg("\"%s\": rc %d \"%s\", want %d \"%s\"", cases[i].expr, rc, why,
				 cases[i].rc, cases[i].why);
	}
}

static void test_render_too_long(void **state)
{
	char out[9], why[128];

	(void)state;
	assert_int_equal(cfg_render("{customer.name}", event, out, 6, why, sizeof(why)), ERR_OK);
	assert_string_equal(out, "Alice");
	assert_int_equal(cfg_render("{customer.name}", event, out, 5, why, sizeof(why)),
			 ERR_TOOBIG);
	assert_string_equal(why, "rendered text longer than 4 bytes");
	assert_int_equal(cfg_render("123456789", event, out, sizeof(out), why, sizeof(why)),
			 ERR_TOOBIG);
	assert_int_equal(cfg_render("x", event, out, 0, why, sizeof(why)), ERR_TOOBIG);
}

static void test_expr_helpers(void **state)
{
	char path[CFG_PATH_MAX], why[128], small[4];

	(void)state;
	assert_true(cfg_expr_valid("Hi {customer.name}, {{literal}}", why, sizeof(why)));
	assert_false(cfg_expr_valid("{customer..name}", why, sizeof(why)));
	assert_true(cfg_expr_lone_field("{customer.phone}", path, sizeof(path)));
	assert_string_equal(path, "customer.phone");
	assert_false(cfg_expr_lone_field("{customer.phone} ", path, sizeof(path)));
	assert_false(cfg_expr_lone_field("+{phone}", path, sizeof(path)));
	assert_false(cfg_expr_lone_field("{a}{b}", path, sizeof(path)));
	assert_false(cfg_expr_lone_field("{{phone}}", path, sizeof(path)));
	assert_false(cfg_expr_lone_field("{phone}", small, sizeof(small)));
	assert_string_equal(cJSON_GetStringValue(cfg_field_get(event, "customer.phone")),
			    "+4917012345678");
	assert_non_null(cfg_field_get(event, "customer"));
	assert_null(cfg_field_get(event, "customer.phone.x"));
	assert_null(cfg_field_get(event, "tags.0"));
	assert_null(cfg_field_get(event, "customer..phone"));
	assert_null(cfg_field_get(event, ""));
	assert_null(cfg_field_get(NULL, "id"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_var_check),
		cmocka_unit_test(test_render_ok),
		cmocka_unit_test(test_render_errors),
		cmocka_unit_test(test_render_too_long),
		cmocka_unit_test(test_expr_helpers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
