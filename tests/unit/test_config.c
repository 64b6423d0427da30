/* Config parser/validator and secrets file. Bad configs are made by editing
 * the good one, so each test changes one thing and names the path it broke. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/quota.h"
#include "config/schedule.h"
#include "config/secrets.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/file.h"

#define GOOD "tests/data/config/good.json"

static char *good_text;
static struct cfg_errors errs;

static int group_setup(void **state)
{
	(void)state;
	return hal_file_read(GOOD, CFG_FILE_MAX, &good_text, NULL) == ERR_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(good_text);
	return 0;
}

static cJSON *good_tree(void)
{
	cJSON *root = cJSON_Parse(good_text);

	assert_non_null(root);
	return root;
}

/* "accounts.main", "routes.2.vars": object keys, or indexes into arrays. */
static cJSON *at(cJSON *root, const char *path)
{
	char seg[64];
	size_t n;

	while (root && *path) {
		n = strcspn(path, ".");
		snprintf(seg, sizeof(seg), "%.*s", (int)n, path);
		root = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, (int)strtol(seg, NULL, 10))
					   : cJSON_GetObjectItemCaseSensitive(root, seg);
		path += n + (path[n] == '.');
	}
	assert_non_null(root);
	return root;
}

static void set(cJSON *root, const char *obj, const char *key, cJSON *item)
{
	cJSON *o = obj ? at(root, obj) : root;

	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, item);
}

static void del(cJSON *root, const char *obj, const char *key)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj ? at(root, obj) : root, key);
}

static int parse_tree(cJSON *root, struct cfg **out)
{
	char *s = cJSON_PrintUnformatted(root);
	int rc;

	assert_non_null(s);
	rc = cfg_parse(s, strlen(s), out, &errs);
	free(s);
	return rc;
}

static void dump(const struct cfg_errors *e)
{
	unsigned i;

	for (i = 0; i < e->n; i++)
		print_message("  %s: %s\n", e->e[i].path, e->e[i].msg);
}

static bool has_error(const struct cfg_errors *e, const char *path, const char *substr)
{
	unsigned i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->e[i].path, path) == 0 && strstr(e->e[i].msg, substr))
			return true;
	return false;
}

static void assert_error(const char *path, const char *substr)
{
	if (!has_error(&errs, path, substr)) {
		print_message("no error \"%s: ...%s...\" among:\n", path, substr);
		dump(&errs);
		fail();
	}
}

/* Parses root (consumed), expects ERR_CONFIG and an error at path. */
static void expect_bad(cJSON *root, const char *path, const char *substr)
{
	struct cfg *c = (struct cfg *)1;

	assert_int_equal(parse_tree(root, &c), ERR_CONFIG);
	assert_null(c);
	assert_error(path, substr);
	cJSON_Delete(root);
}

static void test_good(void **state)
{
	const struct cfg_route *r;
	struct cfg *c = NULL;

	(void)state;
	assert_int_equal(cfg_load(GOOD, &c, &errs), ERR_OK);
	assert_int_equal(errs.n, 0);
	assert_int_equal(c->warnings.n, 0);
	assert_string_equal(c->gateway_id, "site-042");
	assert_string_equal(c->mqtt.host, "127.0.0.1");
	assert_int_equal(c->mqtt.port, 1883);
	assert_string_equal(c->mqtt.client_id, "outpostd-site-042");
	assert_int_equal(c->store.max_size_mb, 256);
	assert_string_equal(c->events.default_country, "49");
	assert_int_equal(c->n_accounts, 1);
	assert_string_equal(c->accounts[0].api_base, "https://localhost:8443");
	assert_int_equal(c->accounts[0].provider, CFG_PROVIDER_TWILIO);
	assert_int_equal(c->accounts[0].burst, 80);
	assert_int_equal(c->n_templates, 3);
	assert_ptr_equal(cfg_template_find(c, "alert_raised"), &c->templates[2]);
	assert_int_equal(c->templates[2].variables, 3);
	assert_int_equal(c->templates[2].status, CFG_TPL_APPROVED);
	assert_null(cfg_template_find(c, "nope"));
	assert_int_equal(c->n_routes, 3);
	r = &c->routes[0];
	assert_string_equal(r->name, "payments");
	assert_string_equal(r->topic, "site/+/payments/#");
	assert_ptr_equal(r->template, cfg_template_find(c, "payment_received"));
	assert_ptr_equal(r->account, cfg_account_find(c, "main"));
	assert_int_equal(r->n_to, 1);
	assert_string_equal(r->to[0], "{customer.phone}");
	assert_string_equal(r->vars[1], "{amount} {currency}");
	assert_int_equal(r->ttl_s, 72 * 3600);
	assert_int_equal(c->routes[1].ttl_s, 24 * 3600);
	r = &c->routes[2];
	assert_int_equal(r->ttl_s, 3600);
	assert_int_equal(r->n_to, 2);
	assert_string_equal(r->to[1], "+4917012345678");
	assert_string_equal(r->vars[2], "{alert.level}");
	assert_ptr_equal(r->account, &c->accounts[0]); /* omitted: the only account */
	cfg_free(c);
}

static const char minimal[] =
	"{\"gateway_id\": \"gw1\", \"secrets_file\": \"s.json\","
	" \"accounts\": {\"a\": {\"from\": \"whatsapp:+14155550100\", \"credentials\": \"c\","
	"   \"rate_per_s\": 0.5}},"
	" \"templates\": {\"t\": {\"twilio_content_sid\": \"HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	"   \"variables\": 0, \"status\": \"approved\", \"preview\": null}},"
	" \"routes\": [{\"name\": \"r\", \"topic\": \"#\", \"template\": \"t\", \"to\": \"{p}\"}]}";

static void test_defaults(void **state)
{
	struct cfg *c = NULL;

	(void)state;
	assert_int_equal(cfg_parse(minimal, strlen(minimal), &c, &errs), ERR_OK);
	assert_string_equal(c->mqtt.host, "127.0.0.1");
	assert_int_equal(c->mqtt.port, 1883);
	assert_string_equal(c->mqtt.client_id, "outpostd-gw1");
	assert_null(c->mqtt.username);
	assert_null(c->mqtt.credentials);
	assert_int_equal(c->mqtt.keepalive_s, 30);
	assert_string_equal(c->store.path, "/var/lib/outpost");
	assert_int_equal(c->store.max_size_mb, 256);
	assert_string_equal(c->control.socket, "/run/outpost/outpostd.sock");
	assert_int_equal(c->sender.max_inflight, 128);
	assert_int_equal(c->sender.concurrency, 0);
	assert_int_equal(c->sender.connect_timeout_ms, 10000);
	assert_int_equal(c->sender.request_timeout_ms, 30000);
	assert_int_equal(c->sender.low_speed_time_s, 20);
	assert_int_equal(c->sender.max_attempts, 10);
	assert_int_equal(c->sender.backoff_base_ms, 2000);
	assert_int_equal(c->sender.backoff_cap_ms, 900000);
	assert_int_equal(c->sender.retry_after_max_s, 3600);
	assert_int_equal(c->sender.batch, 64);
	assert_string_equal(c->events.id_field, "id");
	assert_null(c->events.default_country);
	assert_int_equal(c->events.max_payload, 65536);
	assert_string_equal(c->accounts[0].api_base, "https://api.twilio.com");
	assert_string_equal(c->accounts[0].ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_true(c->accounts[0].rate_per_s == 0.5);
	assert_int_equal(c->accounts[0].burst, 1);
	assert_null(c->templates[0].preview);
	assert_null(c->routes[0].vars);
	assert_int_equal(c->routes[0].ttl_s, 72 * 3600);
	cfg_free(c);
	cfg_free(NULL);
}

static void test_invalid_json(void **state)
{
	static const char bad[] = "{\n  \"gateway_id\": \"x\",\n  \"mqtt\": {\"port\": 18 83}\n}";
	static const char trailing[] = "{\"gateway_id\": \"x\"} x";
	struct cfg *c = NULL;

	(void)state;
	assert_int_equal(cfg_parse(bad, strlen(bad), &c, &errs), ERR_CONFIG);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_error("$", "invalid JSON at line 3, column");
	assert_int_equal(cfg_parse(trailing, strlen(trailing), &c, &errs), ERR_CONFIG);
	assert_error("$", "unexpected text after the value at line 1, column 21");
	assert_int_equal(cfg_parse("[1]", 3, &c, &errs), ERR_CONFIG);
	assert_error("$", "expected an object, got an array");
}

static void test_missing_required(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	del(root, NULL, "gateway_id");
	expect_bad(root, "$.gateway_id", "required key is missing");
	root = good_tree();
	del(root, "routes.1", "template");
	expect_bad(root, "$.routes[1].template", "required key is missing");
	root = good_tree();
	del(root, "routes.0", "vars");
	expect_bad(root, "$.routes[0].vars", "missing key \"1\"");
}

static void test_unknown_key(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, "mqtt", "hots", cJSON_CreateString("localhost"));
	expect_bad(root, "$.mqtt.hots", "unknown key (did you mean \"host\"?)");
	root = good_tree();
	set(root, "routes.2", "colour", cJSON_CreateString("red"));
	expect_bad(root, "$.routes[2].colour", "unknown key");
	root = good_tree();
	set(root, "templates.ticket_ready", "bad key\n", cJSON_CreateTrue());
	expect_bad(root, "$.templates.ticket_ready[\"bad key?\"]", "unknown key");
}

static void test_wrong_type(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, "mqtt", "port", cJSON_CreateString("1883"));
	expect_bad(root, "$.mqtt.port", "expected an integer, got a string");
	root = good_tree();
	set(root, "mqtt", "port", cJSON_CreateNumber(70000));
	expect_bad(root, "$.mqtt.port", "expected an integer in [1..65535], got 70000");
	root = good_tree();
	set(root, NULL, "sender", cJSON_CreateObject());
	set(root, "sender", "batch", cJSON_CreateNumber(1.5));
	expect_bad(root, "$.sender.batch", "got 1.5");
	root = good_tree();
	set(root, NULL, "store", cJSON_CreateArray());
	expect_bad(root, "$.store", "expected an object, got an array");
	root = good_tree();
	set(root, "accounts.main", "rate_per_s", cJSON_CreateNumber(0));
	expect_bad(root, "$.accounts.main.rate_per_s", "expected a number in (0..10000]");
	root = good_tree();
	set(root, "templates.alert_raised", "status", cJSON_CreateString("aproved"));
	expect_bad(root, "$.templates.alert_raised.status",
		   "expected one of \"approved\", \"pending\", \"rejected\", got \"aproved\"");
	root = good_tree();
	set(root, NULL, "routes", cJSON_CreateObject());
	expect_bad(root, "$.routes", "expected an array of routes, got an object");
}

static void test_unknown_template(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, "routes.2", "template", cJSON_CreateString("paymnt"));
	expect_bad(root, "$.routes[2].template",
		   "unknown template \"paymnt\" (known: payment_received, ticket_ready, "
		   "alert_raised)");
}

static void test_unknown_account(void **state)
{
	cJSON *root = good_tree(), *second;

	(void)state;
	set(root, "routes.0", "account", cJSON_CreateString("backup"));
	expect_bad(root, "$.routes[0].account", "unknown account \"backup\" (known: main)");
	/* With two accounts a route must say which one. */
	root = good_tree();
	second = cJSON_Duplicate(at(root, "accounts.main"), true);
	set(root, "accounts", "backup", second);
	expect_bad(root, "$.routes[2].account", "required when there is more than one account");
}

static void test_fallback(void **state)
{
	cJSON *root = good_tree();
	struct cfg *c = NULL;

	(void)state;
	set(root, "accounts.main", "fallback", cJSON_CreateString("spare"));
	expect_bad(root, "$.accounts.main.fallback", "unknown account \"spare\" (known: main)");
	root = good_tree();
	set(root, "accounts.main", "fallback", cJSON_CreateString("main"));
	expect_bad(root, "$.accounts.main.fallback", "cannot fall back on itself");
	root = good_tree();
	set(root, "accounts.main", "breaker", cJSON_Parse("{\"failures\": 0}"));
	expect_bad(root, "$.accounts.main.breaker.failures", "1..1000");
	/* A good one: resolved, with the breaker's defaults. */
	root = good_tree();
	set(root, "accounts", "spare", cJSON_Duplicate(at(root, "accounts.main"), true));
	set(root, "accounts.main", "fallback", cJSON_CreateString("spare"));
	set(root, "routes.2", "account", cJSON_CreateString("main"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	assert_non_null(cfg_account_find(c, "main")->fallback);
	assert_string_equal(cfg_account_find(c, "main")->fallback->name, "spare");
	assert_null(cfg_account_find(c, "spare")->fallback);
	assert_int_equal(cfg_account_find(c, "main")->breaker.failures, 5);
	assert_int_equal(cfg_account_find(c, "main")->breaker.open_s, 30);
	cfg_free(c);
	cJSON_Delete(root);
}

static void test_bad_content_sid(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, "templates.ticket_ready", "twilio_content_sid",
	    cJSON_CreateString("HX0123456789abcdef0123456789abcdeg"));
	expect_bad(root, "$.templates.ticket_ready.twilio_content_sid",
		   "expected \"HX\" followed by 32 hex digits");
	root = good_tree();
	set(root, "templates.ticket_ready", "twilio_content_sid",
	    cJSON_CreateString("HX0123456789abcdef0123456789abcdef0"));
	expect_bad(root, "$.templates.ticket_ready.twilio_content_sid", "32 hex digits");
}

static void test_bad_from(void **state)
{
	static const char *const bad[] = { "+1415", "whatsapp:+1415", "whatsapp:14155550100",
					   "whatsapp:+04155550100", "whatsapp:+1415555010x",
					   "whatsapp:+1234567890123456" };
	cJSON *root;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = good_tree();
		set(root, "accounts.main", "from", cJSON_CreateString(bad[i]));
		expect_bad(root, "$.accounts.main.from", "expected \"whatsapp:+<E.164>\", got \"");
	}
	assert_true(strstr(errs.e[0].msg, "1234567890123456") != NULL);
}

static void test_bad_vars(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, "routes.0.vars", "3", cJSON_CreateString("{x}"));
	expect_bad(root, "$.routes[0].vars.3",
		   "unknown key: keys must be \"1\"..\"2\" for template payment_received");
	root = good_tree();
	del(root, "routes.2.vars", "2");
	expect_bad(root, "$.routes[2].vars", "missing key \"2\"");
	root = good_tree();
	del(root, "routes.1.vars", "1");
	set(root, "routes.1.vars", "01", cJSON_CreateString("{x}"));
	expect_bad(root, "$.routes[1].vars.01", "unknown key");
	assert_error("$.routes[1].vars", "missing key \"1\"");
	root = good_tree();
	set(root, "routes.1.vars", "2", cJSON_CreateString("{ticket.number"));
	expect_bad(root, "$.routes[1].vars.2", "invalid expression: unclosed '{' at offset 0");
	root = good_tree();
	set(root, "routes.1", "to", cJSON_CreateString("{a..b}"));
	expect_bad(root, "$.routes[1].to", "invalid expression: field path 'a..b': empty name");
	root = good_tree();
	cJSON_AddItemToArray(at(root, "routes.2.to"), cJSON_CreateString("x}"));
	expect_bad(root, "$.routes[2].to[2]", "unmatched '}'");
}

static void test_bad_ttl(void **state)
{
	static const char *const bad[] = { "5x", "59s", "31d", "h", "72hh", "-1h", "" };
	cJSON *root;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = good_tree();
		set(root, "routes.1", "ttl", cJSON_CreateString(bad[i]));
		expect_bad(root, "$.routes[1].ttl", "expected a duration like \"72h\"");
	}
	root = good_tree();
	set(root, "routes.1", "ttl", cJSON_CreateNumber(30));
	expect_bad(root, "$.routes[1].ttl", "60..2592000 s, got 30");
}

static void test_bad_topic(void **state)
{
	static const char *const bad[] = { "site/#/x", "site/a+/x", "", "site/+b" };
	cJSON *root;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = good_tree();
		set(root, "routes.0", "topic", cJSON_CreateString(bad[i]));
		expect_bad(root, "$.routes[0].topic", i == 2 ? "expected a string of 1.." :
							       "expected an MQTT topic filter");
	}
}

static void test_duplicate_route(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, "routes.2", "name", cJSON_CreateString("payments"));
	expect_bad(root, "$.routes[2].name", "duplicate route name \"payments\" (also $.routes[0])");
}

static void test_gateway_id(void **state)
{
	cJSON *root = good_tree();

	(void)state;
	set(root, NULL, "gateway_id", cJSON_CreateString("site 042"));
	expect_bad(root, "$.gateway_id", "expected 1..64 characters of A-Z a-z 0-9 _ -");
}

/* "user" and "group": names only here (the daemon looks them up). */
static void test_user_group(void **state)
{
	struct cfg *c = NULL;
	cJSON *root = good_tree();

	(void)state;
	set(root, NULL, "user", cJSON_CreateString("outpost"));
	set(root, NULL, "group", cJSON_CreateString("outpost-ops"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	assert_string_equal(c->user, "outpost");
	assert_string_equal(c->group, "outpost-ops");
	cfg_free(c);
	cJSON_Delete(root);

	root = good_tree();
	set(root, NULL, "user", cJSON_CreateString("Outpost:0"));
	expect_bad(root, "$.user", "a user name like");
	root = good_tree();
	set(root, NULL, "group", cJSON_CreateString("dialout"));
	expect_bad(root, "$.group", "a group needs \"user\"");
	root = good_tree();
	set(root, NULL, "user", cJSON_CreateNumber(0));
	expect_bad(root, "$.user", "string");
}

static void test_many_errors(void **state)
{
	cJSON *root = good_tree();
	struct cfg *c = NULL;
	unsigned i;
	char key[16];

	(void)state;
	del(root, NULL, "gateway_id");
	set(root, "mqtt", "hots", cJSON_CreateString("x"));
	set(root, "accounts.main", "from", cJSON_CreateString("+1415"));
	set(root, "routes.2", "template", cJSON_CreateString("paymnt"));
	set(root, NULL, "sender", cJSON_CreateObject());
	set(root, "sender", "backoff_base_ms", cJSON_CreateNumber(1000000));
	assert_int_equal(parse_tree(root, &c), ERR_CONFIG);
	assert_int_equal(errs.n, 5);
	assert_error("$.gateway_id", "missing");
	assert_error("$.mqtt.hots", "unknown key");
	assert_error("$.accounts.main.from", "expected \"whatsapp:+<E.164>\", got \"+1415\"");
	assert_error("$.routes[2].template", "unknown template \"paymnt\"");
	assert_error("$.sender.backoff_base_ms", "expected at most backoff_cap_ms (900000)");
	/* Past 32 errors the rest are counted, not lost silently. */
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "typo%u", i);
		set(root, "store", key, cJSON_CreateNull());
	}
	assert_int_equal(parse_tree(root, &c), ERR_CONFIG);
	assert_int_equal(errs.n, 32);
	assert_int_equal(errs.dropped, 45 - 32);
	cJSON_Delete(root);
}

/* A template's own error is reported once, not again by every route using it. */
static void test_no_cascade(void **state)
{
	cJSON *root = good_tree();
	struct cfg *c = NULL;

	(void)state;
	set(root, "templates.ticket_ready", "variables", cJSON_CreateNumber(101));
	assert_int_equal(parse_tree(root, &c), ERR_CONFIG);
	assert_int_equal(errs.n, 1);
	assert_error("$.templates.ticket_ready.variables", "expected an integer in [0..100]");
	cJSON_Delete(root);
}

static void test_warnings(void **state)
{
	cJSON *root = good_tree();
	struct cfg *c = NULL;

	(void)state;
	set(root, "templates.ticket_ready", "status", cJSON_CreateString("pending"));
	set(root, "templates.alert_raised", "preview", cJSON_CreateString("Only {{1}} and {{2}}"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	assert_int_equal(c->warnings.n, 2);
	assert_true(has_error(&c->warnings, "$.routes[1].template", "\"ticket_ready\" is pending"));
	assert_true(has_error(&c->warnings, "$.templates.alert_raised", "{{2}} at most"));
	assert_int_equal(c->templates[1].status, CFG_TPL_PENDING);
	cfg_free(c);
	cJSON_Delete(root);
}

/* sender.concurrency, max_inflight's old name, is still taken, with a
 * warning, and wins over max_inflight when a config has both. */
static void test_sender_old_name(void **state)
{
	cJSON *root = good_tree();
	struct cfg *c = NULL;

	(void)state;
	set(root, NULL, "sender", cJSON_CreateObject());
	set(root, "sender", "concurrency", cJSON_CreateNumber(6));
	set(root, "sender", "max_inflight", cJSON_CreateNumber(40));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	assert_int_equal(c->sender.max_inflight, 6);
	assert_true(has_error(&c->warnings, "$.sender.concurrency", "the old name of sender.max_inflight"));
	cfg_free(c);
	cJSON_Delete(root);
}

static void test_load_missing(void **state)
{
	struct cfg *c = (struct cfg *)1;

	(void)state;
	assert_int_equal(cfg_load("/nonexistent/outpost.json", &c, &errs), ERR_NOTFOUND);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_error("$", "cannot read /nonexistent/outpost.json: not found");
}

/* ---- secrets ---- */

static const char secrets_json[] =
	"{\"twilio-main\": {\"account_sid\": \"AC0123456789abcdef0123456789abcdef\","
	"  \"auth_token\": \"tok-SECRET-1\"},"
	" \"twilio-key\": {\"account_sid\": \"AC0123456789abcdef0123456789abcdef\","
	"  \"api_key_sid\": \"SK0123456789abcdef0123456789abcdef\", \"api_key_secret\": \"ks-SECRET-2\"},"
	" \"mqtt-local\": {\"username\": \"u\", \"password\": \"pw-SECRET-3\"}}";

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_secrets(void **state)
{
	char dir[] = "/tmp/outpost-secrets-XXXXXX", path[64], why[256];
	struct cfg_secrets *s = NULL;
	const struct cfg_secret *e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secrets.json", dir);
	write_file(path, secrets_json, 0644);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_PERM);
	assert_null(s);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_OK);
	e = cfg_secrets_find(s, "twilio-main");
	assert_non_null(e);
	assert_string_equal(e->user, "AC0123456789abcdef0123456789abcdef");
	assert_string_equal(e->password, "tok-SECRET-1");
	e = cfg_secrets_find(s, "twilio-key");
	assert_string_equal(e->account_sid, "AC0123456789abcdef0123456789abcdef");
	assert_string_equal(e->user, "SK0123456789abcdef0123456789abcdef");
	assert_string_equal(e->password, "ks-SECRET-2");
	e = cfg_secrets_find(s, "mqtt-local");
	assert_null(e->account_sid);
	assert_string_equal(e->user, "u");
	assert_string_equal(e->password, "pw-SECRET-3");
	assert_null(cfg_secrets_find(s, "twilio-other"));
	cfg_secrets_free(s);
	cfg_secrets_free(NULL);

	/* A malformed entry is named without showing any value. */
	write_file(path, "{\"t\": {\"account_sid\": \"ACshort\", \"auth_token\": \"tok-SECRET-9\"}}",
		   0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "entry \"t\": \"account_sid\" must be"));
	assert_null(strstr(why, "SECRET"));
	assert_null(strstr(why, "ACshort"));
	write_file(path, "{\"t\": {\"username\": \"u\", \"pasword\": \"tok-SECRET-9\"}}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "unknown key \"pasword\""));
	assert_null(strstr(why, "SECRET"));
	write_file(path, "{\"t\": {\"username\": \"u\"}}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "username + password, or hmac_key"));
	/* Names are identifiers: the vault writes them back into JSON. */
	write_file(path, "{\"tw\\\"x\": {\"username\": \"u\", \"password\": \"SECRET\"}}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "entry name"));
	assert_null(strstr(why, "SECRET"));
	/* A command key: 64 hex digits, alone in its entry, its value never shown. */
	write_file(path, "{\"r\": {\"hmac_key\": \"SECRETabc\"}}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "\"hmac_key\" must be 64 hex digits"));
	assert_null(strstr(why, "SECRET"));
	write_file(path, "{\"r\": {\"hmac_key\": \"00112233445566778899aabbccddeeff00112233445566778899"
		   "aabbccddeeff\", \"username\": \"u\"}}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_non_null(strstr(why, "stands alone"));
	write_file(path, "{\"r\": {\"hmac_key\": \"00112233445566778899aabbccddeeff00112233445566778899"
		   "aabbccddeeff\"}}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_OK);
	assert_string_equal(cfg_secrets_find(s, "r")->kind, "hmac_key");
	assert_int_equal(strlen(cfg_secrets_find(s, "r")->password), 64);
	cfg_secrets_free(s);
	write_file(path, "{\"t\": {\"username\": \"u\", \"password\": tok-SECRET}", 0600);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_CONFIG);
	assert_null(strstr(why, "SECRET"));
	unlink(path);
	assert_int_equal(cfg_secrets_load(path, &s, why, sizeof(why)), ERR_NOTFOUND);
	rmdir(dir);
}

/* "priority", "quiet_hours" and "timezone" (config/schedule.h). */
static void test_priority_quiet(void **state)
{
	const struct cfg_route *r;
	struct cfg *c = NULL;
	cJSON *root;

	(void)state;
	assert_int_equal(cfg_load(GOOD, &c, &errs), ERR_OK);
	r = &c->routes[0];
	assert_int_equal(r->priority, CFG_PRIO_NORMAL);
	assert_false(r->quiet.set);
	assert_null(c->timezone);
	cfg_free(c);

	root = good_tree();
	set(root, "routes.0", "priority", cJSON_CreateString("low"));
	set(root, "routes.0", "quiet_hours", cJSON_Parse("{\"from\": \"22:00\", \"to\": \"07:30\"}"));
	set(root, "routes.1", "priority", cJSON_CreateString("urgent"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	cJSON_Delete(root);
	r = &c->routes[0];
	assert_int_equal(r->priority, CFG_PRIO_LOW);
	assert_int_equal(c->routes[1].priority, CFG_PRIO_URGENT);
	assert_true(r->quiet.set);
	assert_int_equal(r->quiet.from_min, 22 * 60);
	assert_int_equal(r->quiet.to_min, 7 * 60 + 30);
	/* Across midnight: from is in, to is out. */
	assert_true(cfg_quiet_at(r, 22 * 60));
	assert_true(cfg_quiet_at(r, 0));
	assert_true(cfg_quiet_at(r, 7 * 60 + 29));
	assert_false(cfg_quiet_at(r, 7 * 60 + 30));
	assert_false(cfg_quiet_at(r, 21 * 60 + 59));
	assert_false(cfg_quiet_at(&c->routes[1], 23 * 60));
	cfg_free(c);

	root = good_tree();
	set(root, "routes.0", "priority", cJSON_CreateString("asap"));
	expect_bad(root, "$.routes[0].priority", "low");
	root = good_tree();
	set(root, "routes.0", "quiet_hours", cJSON_Parse("{\"from\": \"24:00\", \"to\": \"07:00\"}"));
	expect_bad(root, "$.routes[0].quiet_hours.from", "HH:MM");
	root = good_tree();
	set(root, "routes.0", "quiet_hours", cJSON_Parse("{\"from\": \"22:00\", \"to\": \"7:00\"}"));
	expect_bad(root, "$.routes[0].quiet_hours.to", "HH:MM");
	root = good_tree();
	set(root, "routes.0", "quiet_hours", cJSON_Parse("{\"from\": \"22:00\", \"to\": \"22:00\"}"));
	expect_bad(root, "$.routes[0].quiet_hours.to", "the same as");
	root = good_tree();
	set(root, "routes.0", "quiet_hours",
	    cJSON_Parse("{\"from\": \"22:00\", \"to\": \"06:00\", \"days\": 5}"));
	expect_bad(root, "$.routes[0].quiet_hours.days", "unknown key");
	root = good_tree();
	set(root, "routes.0", "quiet_hours", cJSON_CreateString("22-07"));
	expect_bad(root, "$.routes[0].quiet_hours", "expected an object");
	root = good_tree();
	set(root, "routes.0", "priority", cJSON_CreateString("urgent"));
	set(root, "routes.0", "quiet_hours", cJSON_Parse("{\"from\": \"22:00\", \"to\": \"07:00\"}"));
	expect_bad(root, "$.routes[0].quiet_hours", "urgent route");
}

static void test_timezone(void **state)
{
	char dir[] = "/tmp/tzdir-XXXXXX", sub[64], file[96];
	struct cfg *c = NULL;
	cJSON *root;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/Test", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(file, sizeof(file), "%s/Zone_One", sub);
	write_file(file, "TZif", 0600);
	setenv("TZDIR", dir, 1);

	root = good_tree();
	set(root, NULL, "timezone", cJSON_CreateString("Test/Zone_One"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	cJSON_Delete(root);
	assert_string_equal(c->timezone, "Test/Zone_One");
	cfg_free(c);
	root = good_tree();
	set(root, NULL, "timezone", cJSON_CreateString("Test/Zone_Two"));
	expect_bad(root, "$.timezone", "no time zone \"Test/Zone_Two\"");
	root = good_tree();
	set(root, NULL, "timezone", cJSON_CreateString("Test")); /* a directory */
	expect_bad(root, "$.timezone", "no time zone");
	root = good_tree();
	set(root, NULL, "timezone", cJSON_CreateString("../Test/Zone_One"));
	expect_bad(root, "$.timezone", "IANA");
	root = good_tree();
	set(root, NULL, "timezone", cJSON_CreateNumber(1));
	expect_bad(root, "$.timezone", "IANA");

	unsetenv("TZDIR");
	unlink(file);
	rmdir(sub);
	rmdir(dir);
}

/* Local times in a zone with daylight saving (the system's tzdata). */
static void test_local_time(void **state)
{
	/* 2026-03-28 22:30 UTC = 23:30 CET; the clocks go to summer time on
	 * 2026-03-29 at 02:00 CET. 07:00 local the next morning is CEST:
	 * 05:00 UTC. */
	int64_t t = 1774737000000;

	(void)state;
	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		fail_msg("no tzdata: scripts/setup.sh installs it");
	hal_tz_set("Europe/Berlin");
	assert_int_equal(hal_local_minute(t), 23 * 60 + 30);
	assert_int_equal(hal_local_next(t, 7 * 60), 1774760400000);
	/* 23:00 has passed today: tomorrow's (CEST, 21:00 UTC). */
	assert_int_equal(hal_local_next(t, 23 * 60), 1774818000000);
	hal_tz_set(NULL);
	assert_int_equal(hal_local_minute(t), 22 * 60 + 30);
	assert_int_equal(hal_local_next(t, 22 * 60 + 31), t + 60000);
}

/* accounts.<name>.quota (config/quota.h), templates' category, over_quota. */
static void test_quota(void **state)
{
	const struct cfg_quota *q;
	struct cfg *c = NULL;
	cJSON *root;

	(void)state;
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 100, \"cost_cap\": 12.5, \"currency\": \"eur\","
			"\"exempt\": \"high\", \"prices\": {\"utility\": {\"+49\": 0.0768, "
			"\"+4915\": 0.09, \"*\": 0.03}, \"marketing\": {\"+1\": 0.025}},"
			"\"notify\": {\"to\": [\"+4915112345678\"], \"template\": \"alert_raised\"}}"));
	set(root, "templates.alert_raised", "category", cJSON_CreateString("marketing"));
	set(root, "routes.0", "over_quota", cJSON_CreateString("drop"));
	if (parse_tree(root, &c) != ERR_OK) {
		dump(&errs);
		fail();
	}
	cJSON_Delete(root);
	q = &cfg_account_find(c, "main")->quota;
	assert_true(q->set);
	assert_int_equal(q->per_day, 100);
	assert_int_equal(q->per_month, 0);
	assert_true(q->cost_cap_micro == 12500000);
	assert_string_equal(q->currency, "EUR");
	assert_int_equal(q->exempt, CFG_PRIO_HIGH);
	assert_int_equal(q->n_notify, 1);
	assert_string_equal(q->notify_to[0], "+4915112345678");
	assert_int_equal(cfg_template_find(c, "alert_raised")->category, CFG_CAT_MARKETING);
	assert_int_equal(cfg_template_find(c, "payment_received")->category, CFG_CAT_UTILITY);
	assert_int_equal(c->routes[0].over_quota, CFG_OVER_QUOTA_DROP);
	assert_int_equal(c->routes[1].over_quota, CFG_OVER_QUOTA_HOLD);
	/* the longest prefix, then "*" */
	assert_true(cfg_quota_price(q, CFG_CAT_UTILITY, "+4915112345678") == 90000);
	assert_true(cfg_quota_price(q, CFG_CAT_UTILITY, "+4930123456") == 76800);
	assert_true(cfg_quota_price(q, CFG_CAT_UTILITY, "+33612345678") == 30000);
	assert_true(cfg_quota_price(q, CFG_CAT_MARKETING, "+33612345678") == 0);
	assert_true(cfg_quota_price(q, CFG_CAT_SERVICE, "+14155550100") == 0);
	cfg_free(c);

	root = good_tree();
	set(root, "accounts.main", "quota", cJSON_Parse("{\"exempt\": \"high\"}"));
	expect_bad(root, "$.accounts.main.quota", "names no limit");
	root = good_tree();
	set(root, "accounts.main", "quota", cJSON_Parse("{\"cost_cap\": 10}"));
	expect_bad(root, "$.accounts.main.quota.currency", "required with cost_cap");
	root = good_tree();
	set(root, "accounts.main", "quota", cJSON_Parse("{\"per_day\": 0}"));
	expect_bad(root, "$.accounts.main.quota.per_day", "");
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"prices\": {\"utility\": {\"49\": 0.1}}}"));
	expect_bad(root, "$.accounts.main.quota.prices.utility.49", "E.164 prefix");
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"prices\": {\"promo\": {\"*\": 0.1}}}"));
	expect_bad(root, "$.accounts.main.quota.prices.promo", "unknown category");
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"prices\": {\"utility\": {\"*\": -1}}}"));
	expect_bad(root, "$.accounts.main.quota.prices.utility[\"*\"]", "price per message, a number from 0 below 1000000, got -1");
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"notify\": {\"to\": [\"015112345678\"], "
			"\"template\": \"payment_received\"}}"));
	expect_bad(root, "$.accounts.main.quota.notify.to[0]", "E.164");
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"notify\": {\"to\": [\"+4915112345678\"], "
			"\"template\": \"payment_received\"}}"));
	expect_bad(root, "$.accounts.main.quota.notify.template", "has 2 variables");
	/* a group names the notify recipients too */
	root = good_tree();
	set(root, NULL, "groups", cJSON_Parse("{\"admins\": [\"+4915112345678\", \"+4915187654321\"]}"));
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"notify\": {\"to\": [\"@admins\", \"+4930123456\"], "
			"\"template\": \"alert_raised\"}}"));
	if (parse_tree(root, &c) != ERR_OK) {
		dump(&errs);
		fail();
	}
	cJSON_Delete(root);
	q = &cfg_account_find(c, "main")->quota;
	assert_int_equal(q->n_notify, 3);
	assert_string_equal(q->notify_to[0], "+4915112345678");
	assert_string_equal(q->notify_to[1], "+4915187654321");
	assert_string_equal(q->notify_to[2], "+4930123456");
	cfg_free(c);
	root = good_tree();
	set(root, "accounts.main", "quota",
	    cJSON_Parse("{\"per_day\": 5, \"notify\": {\"to\": [\"@nobody\"], "
			"\"template\": \"alert_raised\"}}"));
	expect_bad(root, "$.accounts.main.quota.notify.to[0]", "unknown group");
	root = good_tree();
	set(root, "templates.alert_raised", "category", cJSON_CreateString("promo"));
	expect_bad(root, "$.templates.alert_raised.category", "utility");
	root = good_tree();
	set(root, "routes.0", "over_quota", cJSON_CreateString("reject"));
	expect_bad(root, "$.routes[0].over_quota", "drop");
}

/* Flood control keys: coalesce, max_per_hour, over_cap. */
static void test_flood_keys(void **state)
{
	struct cfg *c = NULL;
	cJSON *root;

	(void)state;
	root = good_tree();
	set(root, "routes.0", "coalesce", cJSON_Parse("{\"key\": \"{customer.name}\", \"window\": \"10m\"}"));
	set(root, "routes.1", "coalesce", cJSON_Parse("{\"window\": 30}"));
	set(root, "routes.1", "max_per_hour", cJSON_CreateNumber(5));
	set(root, "routes.1", "over_cap", cJSON_CreateString("digest"));
	assert_int_equal(parse_tree(root, &c), ERR_OK);
	cJSON_Delete(root);
	assert_true(c->routes[0].coalesce.set);
	assert_string_equal(c->routes[0].coalesce.key, "{customer.name}");
	assert_true(c->routes[0].coalesce.window_s == 600);
	assert_null(c->routes[1].coalesce.key);
	assert_int_equal(c->routes[1].max_per_hour, 5);
	assert_int_equal(c->routes[1].over_cap, CFG_CAP_DIGEST);
	assert_false(c->routes[2].coalesce.set);
	assert_int_equal(c->routes[2].max_per_hour, 0);
	cfg_free(c);

	root = good_tree();
	set(root, "routes.0", "coalesce", cJSON_Parse("{\"key\": \"{zone\"}"));
	expect_bad(root, "$.routes[0].coalesce.window", "required");
	root = good_tree();
	set(root, "routes.0", "coalesce", cJSON_Parse("{\"key\": \"{zone\", \"window\": \"1m\"}"));
	expect_bad(root, "$.routes[0].coalesce.key", "");
	root = good_tree();
	set(root, "routes.0", "coalesce", cJSON_CreateString("10m"));
	expect_bad(root, "$.routes[0].coalesce", "expected an object");
	root = good_tree();
	set(root, "routes.0", "over_cap", cJSON_CreateString("drop"));
	expect_bad(root, "$.routes[0].over_cap", "max_per_hour");
	root = good_tree();
	set(root, "routes.0", "max_per_hour", cJSON_CreateNumber(0));
	expect_bad(root, "$.routes[0].max_per_hour", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_unknown_template),
		cmocka_unit_test(test_unknown_account),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_bad_content_sid),
		cmocka_unit_test(test_bad_from),
		cmocka_unit_test(test_bad_vars),
		cmocka_unit_test(test_bad_ttl),
		cmocka_unit_test(test_bad_topic),
		cmocka_unit_test(test_duplicate_route),
		cmocka_unit_test(test_gateway_id),
		cmocka_unit_test(test_user_group),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_no_cascade),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_sender_old_name),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_priority_quiet),
		cmocka_unit_test(test_timezone),
		cmocka_unit_test(test_local_time),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_flood_keys),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
