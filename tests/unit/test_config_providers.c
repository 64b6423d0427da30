/*
 * test_config_providers.c - accounts of each provider and the templates
 * they can send: defaults by provider, keys a provider needs or does not
 * take, the "meta" mapping of a template, routes an account cannot serve.
 * Each bad case must produce an error at its exact JSON path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/secrets.h"
#include "hal/err.h"

static struct cfg_errors errs;

/* Three accounts, a template for each kind, a route per account. */
static const char base_json[] =
	"{\"gateway_id\": \"gw\", \"secrets_file\": \"s.json\","
	" \"accounts\": {"
	"  \"tw\": {\"provider\": \"twilio\", \"from\": \"whatsapp:+14155550100\", \"credentials\": \"c1\"},"
	"  \"me\": {\"provider\": \"meta\", \"from\": \"+15550783881\", \"credentials\": \"c2\","
	"          \"phone_number_id\": \"106540352242922\", \"waba_id\": \"102290129340398\"},"
	"  \"d3\": {\"provider\": \"360dialog\", \"from\": \"whatsapp:+15550783882\", \"credentials\": \"c3\"}},"
	" \"templates\": {"
	"  \"both\": {\"twilio_content_sid\": \"HX0123456789abcdef0123456789abcdef\","
	"            \"meta\": {\"name\": \"order_update\", \"language\": \"en_US\"},"
	"            \"variables\": 1, \"status\": \"approved\"},"
	"  \"tw_only\": {\"twilio_content_sid\": \"HX0123456789abcdef0123456789abcde0\","
	"               \"variables\": 0, \"status\": \"approved\"},"
	"  \"meta_only\": {\"meta\": {\"name\": \"ticket_ready\", \"language\": \"de\"},"
	"                 \"variables\": 0, \"status\": \"approved\"}},"
	" \"routes\": ["
	"  {\"name\": \"r0\", \"topic\": \"a/#\", \"template\": \"both\", \"to\": \"{p}\", \"account\": \"tw\","
	"   \"vars\": {\"1\": \"{x}\"}},"
	"  {\"name\": \"r1\", \"topic\": \"b/#\", \"template\": \"both\", \"to\": \"{p}\", \"account\": \"me\","
	"   \"vars\": {\"1\": \"{x}\"}},"
	"  {\"name\": \"r2\", \"topic\": \"c/#\", \"template\": \"meta_only\", \"to\": \"{p}\", \"account\": \"d3\"}]}";

static cJSON *tree(void)
{
	cJSON *root = cJSON_Parse(base_json);

	assert_non_null(root);
	return root;
}

/* obj at a dotted path of object keys ("accounts.me"). */
static cJSON *at(cJSON *root, const char *path)
{
	char buf[128], *k = buf, *dot;
	cJSON *o = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (; k; k = dot) {
		if ((dot = strchr(k, '.')))
			*dot++ = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, k);
	}
	assert_non_null(o);
	return o;
}

static void set(cJSON *root, const char *path, const char *key, cJSON *v)
{
	cJSON *o = at(root, path);

	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

static int parse_tree(cJSON *root, struct cfg **c)
{
	char *text = cJSON_PrintUnformatted(root);
	int rc;

	assert_non_null(text);
	rc = cfg_parse(text, strlen(text), c, &errs);
	free(text);
	return rc;
}

static void expect_bad(cJSON *root, const char *path, const char *substr)
{
	struct cfg *c = NULL;
	unsigned i;

	assert_int_equal(parse_tree(root, &c), ERR_CONFIG);
	assert_null(c);
	cJSON_Delete(root);
	for (i = 0; i < errs.n; i++)
		if (strcmp(errs.e[i].path, path) == 0 && strstr(errs.e[i].msg, substr))
			return;
	for (i = 0; i < errs.n; i++)
		print_message("  %s: %s\n", errs.e[i].path, errs.e[i].msg);
	fail_msg("no error \"%s: ...%s...\"", path, substr);
}

static void test_good(void **state)
{
	cJSON *root = tree();
	struct cfg *c = NULL;
	const struct cfg_account *tw, *me, *d3;
	const struct cfg_template *both, *tw_only, *meta_only;

	(void)state;
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	cJSON_Delete(root);
	tw = cfg_account_find(c, "tw");
	me = cfg_account_find(c, "me");
	d3 = cfg_account_find(c, "d3");
	assert_int_equal(tw->provider, CFG_PROVIDER_TWILIO);
	assert_int_equal(me->provider, CFG_PROVIDER_META);
	assert_int_equal(d3->provider, CFG_PROVIDER_360DIALOG);
	assert_string_equal(tw->api_base, "https://api.twilio.com");
	assert_string_equal(me->api_base, "https://graph.facebook.com");
	assert_string_equal(d3->api_base, "https://waba-v2.360dialog.io");
	assert_string_equal(me->api_version, "v21.0");
	assert_null(d3->api_version);
	assert_string_equal(me->phone_number_id, "106540352242922");
	assert_string_equal(me->waba_id, "102290129340398");
	assert_string_equal(me->from, "whatsapp:+15550783881"); /* one shape for every consumer */
	assert_string_equal(cfg_provider_name(me->provider), "meta");
	assert_string_equal(cfg_provider_name(d3->provider), "360dialog");
	both = cfg_template_find(c, "both");
	tw_only = cfg_template_find(c, "tw_only");
	meta_only = cfg_template_find(c, "meta_only");
	assert_string_equal(both->meta_name, "order_update");
	assert_string_equal(both->meta_language, "en_US");
	assert_null(meta_only->content_sid);
	assert_true(cfg_template_usable(both, tw) && cfg_template_usable(both, me));
	assert_false(cfg_template_usable(tw_only, me) || cfg_template_usable(tw_only, d3));
	assert_false(cfg_template_usable(meta_only, tw));
	assert_true(cfg_template_usable(meta_only, d3));
	cfg_free(c);
}

static void test_meta_account_keys(void **state)
{
	cJSON *root;

	(void)state;
	root = tree();
	cJSON_DeleteItemFromObjectCaseSensitive(at(root, "accounts.me"), "phone_number_id");
	expect_bad(root, "$.accounts.me.phone_number_id", "required for a meta account");
	root = tree();
	set(root, "accounts.me", "phone_number_id", cJSON_CreateString("1065-4"));
	expect_bad(root, "$.accounts.me.phone_number_id", "expected digits");
	root = tree();
	set(root, "accounts.me", "api_version", cJSON_CreateString("21.0"));
	expect_bad(root, "$.accounts.me.api_version", "like \"v21.0\", got \"21.0\"");
	root = tree();
	set(root, "accounts.me", "api_version", cJSON_CreateString("v21.0/x"));
	expect_bad(root, "$.accounts.me.api_version", "Graph API version");
	root = tree();
	set(root, "accounts.tw", "phone_number_id", cJSON_CreateString("1"));
	expect_bad(root, "$.accounts.tw.phone_number_id", "not used by a twilio account");
	root = tree();
	set(root, "accounts.d3", "waba_id", cJSON_CreateString("1"));
	expect_bad(root, "$.accounts.d3.waba_id", "not used by a 360dialog account");
	root = tree();
	set(root, "accounts.d3", "provider", cJSON_CreateString("vonage"));
	expect_bad(root, "$.accounts.d3.provider", "\"twilio\", \"meta\", \"360dialog\"");
	/* a bare number is for meta and 360dialog: Twilio needs the channel */
	root = tree();
	set(root, "accounts.tw", "from", cJSON_CreateString("+14155550100"));
	expect_bad(root, "$.accounts.tw.from", "for a twilio account");
	root = tree();
	set(root, "accounts.me", "from", cJSON_CreateString("15550783881"));
	expect_bad(root, "$.accounts.me.from", "expected \"whatsapp:+<E.164>\"");
}

static void test_template_mapping(void **state)
{
	cJSON *root;

	(void)state;
	root = tree();
	set(root, "templates.both.meta", "name", cJSON_CreateString("Order-Update"));
	expect_bad(root, "$.templates.both.meta.name", "lowercase letters, digits, _");
	root = tree();
	set(root, "templates.both.meta", "language", cJSON_CreateString("EN"));
	expect_bad(root, "$.templates.both.meta.language", "like \"en\" or \"en_US\"");
	root = tree();
	set(root, "templates.both.meta", "language", cJSON_CreateString("en_"));
	expect_bad(root, "$.templates.both.meta.language", "like \"en\" or \"en_US\"");
	root = tree();
	cJSON_DeleteItemFromObjectCaseSensitive(at(root, "templates.both.meta"), "language");
	expect_bad(root, "$.templates.both.meta.language", "required key is missing");
	root = tree();
	set(root, "templates.both.meta", "namespace", cJSON_CreateString("x"));
	expect_bad(root, "$.templates.both.meta.namespace", "unknown key");
	root = tree();
	set(root, "templates.both", "meta", cJSON_CreateString("order_update"));
	expect_bad(root, "$.templates.both.meta", "expected an object");
	/* neither mapping */
	root = tree();
	cJSON_DeleteItemFromObjectCaseSensitive(at(root, "templates"), "meta_only");
	cJSON_AddItemToObject(at(root, "templates"), "meta_only",
			      cJSON_Parse("{\"variables\": 0, \"status\": \"approved\"}"));
	expect_bad(root, "$.templates.meta_only", "needs \"twilio_content_sid\"");
}

/* A media template on meta/360dialog: the URL variable goes as the header,
 * whose kind the config must say. */
static void test_template_media(void **state)
{
	cJSON *root;
	struct cfg *c = NULL;

	(void)state;
	root = tree();
	set(root, "templates.both", "media_var", cJSON_CreateNumber(1));
	expect_bad(root, "$.templates.both.meta.header", "required with media_var for meta and "
							 "360dialog: {{1}} is sent as the template's header");
	root = tree();
	set(root, "templates.both.meta", "header", cJSON_CreateString("image"));
	expect_bad(root, "$.templates.both.meta.header", "needs media_var");
	root = tree();
	set(root, "templates.both", "media_var", cJSON_CreateNumber(1));
	set(root, "templates.both.meta", "header", cJSON_CreateString("audio"));
	expect_bad(root, "$.templates.both.meta.header", "\"image\", \"video\", \"document\"");
	/* A Twilio-only media template needs no header kind (the ContentSid has it). */
	root = tree();
	set(root, "templates.tw_only", "variables", cJSON_CreateNumber(1));
	set(root, "templates.tw_only", "media_var", cJSON_CreateNumber(1));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	cfg_free(c);
	cJSON_Delete(root);
	root = tree();
	set(root, "templates.both", "media_var", cJSON_CreateNumber(1));
	set(root, "templates.both.meta", "header", cJSON_CreateString("video"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	cJSON_Delete(root);
	assert_int_equal(cfg_template_find(c, "both")->meta_header, CFG_MEDIA_VIDEO);
	assert_string_equal(cfg_media_name(cfg_template_find(c, "both")->meta_header), "video");
	assert_null(cfg_media_name(CFG_MEDIA_NONE));
	cfg_free(c);
}

static void test_route_needs_mapping(void **state)
{
	cJSON *root;

	(void)state;
	/* a meta route to a template without "meta" */
	root = tree();
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(at(root, "routes"), 1), "template",
					       cJSON_CreateString("tw_only"));
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(at(root, "routes"), 1), "vars");
	expect_bad(root, "$.routes[1].template", "account me is meta: template tw_only needs \"meta\"");
	/* a twilio route to a meta-only template */
	root = tree();
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(at(root, "routes"), 2), "account",
					       cJSON_CreateString("tw"));
	expect_bad(root, "$.routes[2].template", "account tw is twilio: template meta_only needs "
						 "\"twilio_content_sid\"");
	/* a fallback that cannot send the route's template */
	root = tree();
	set(root, "accounts.d3", "fallback", cJSON_CreateString("tw"));
	expect_bad(root, "$.routes[2].template", "falls back on tw (twilio)");
}

static void test_secrets(void **state)
{
	static const char good[] =
		"{\"m\": {\"access_token\": \"EAAG-tok\", \"app_secret\": \"appsec\"},"
		" \"m2\": {\"access_token\": \"EAAG-tok2\"}, \"d\": {\"api_key\": \"d360key\"}}";
	static const char *const bad[] = {
		"{\"x\": {\"app_secret\": \"SECRETVALUE\"}}",
		"{\"x\": {\"access_token\": \"SECRETVALUE\", \"api_key\": \"SECRETVALUE\"}}",
		"{\"x\": {\"api_key\": \"SECRETVALUE\", \"app_secret\": \"SECRETVALUE\"}}",
		"{\"x\": {\"access_token\": \"SECRETVALUE\", \"account_sid\": "
		"\"AC0123456789abcdef0123456789abcdef\"}}",
		"{\"x\": {\"access_token\": \"\"}}",
	};
	struct cfg_secrets *sec = NULL;
	const struct cfg_secret *e;
	char why[256];

	(void)state;
	assert_int_equal(cfg_secrets_parse(good, strlen(good), "t", &sec, why, sizeof(why)), ERR_OK);
	e = cfg_secrets_find(sec, "m");
	assert_string_equal(e->kind, "access_token");
	assert_string_equal(e->password, "EAAG-tok");
	assert_string_equal(e->app_secret, "appsec");
	assert_string_equal(e->user, "");
	assert_null(e->account_sid);
	assert_null(cfg_secrets_find(sec, "m2")->app_secret);
	e = cfg_secrets_find(sec, "d");
	assert_string_equal(e->kind, "d360_api_key");
	assert_string_equal(e->password, "d360key");
	assert_null(e->app_secret);
	cfg_secrets_free(sec);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sec = NULL;
		if (cfg_secrets_parse(bad[i], strlen(bad[i]), "t", &sec, why, sizeof(why)) !=
		    ERR_CONFIG)
			fail_msg("case %zu accepted", i);
		assert_null(sec);
		assert_non_null(strstr(why, "entry \"x\""));
		assert_null(strstr(why, "SECRETVALUE")); /* errors never show a value */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_meta_account_keys),
		cmocka_unit_test(test_template_mapping),
		cmocka_unit_test(test_template_media),
		cmocka_unit_test(test_route_needs_mapping),
		cmocka_unit_test(test_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
