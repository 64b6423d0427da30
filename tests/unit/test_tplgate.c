/*
 * test_tplgate.c - the template gate (firmware/template_gate.c): the
 * policy rule alone, then the admit decisions on records against approvals
 * kept in a real store (as a previous run's sync left them) and the
 * config's statuses for templates no sync has seen; and the config keys
 * it reads (unapproved, media_var, content_base, templates_sync) with the
 * media URL rule of config/render.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"
#include "config/config.h"
#include "config/render.h"
#include "firmware/fw.h"
#include "firmware/templates.h"
#include "hal/loop.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/templates.h"

#define SID_A "HX0000000000000000000000000000c0a1"
#define SID_B "HX0000000000000000000000000000c0b2"
#define SID_C "HX0000000000000000000000000000c0c3"

static const char config[] =
	"{\"gateway_id\": \"t\", \"store\": {\"path\": \"/nonexistent\"},"
	" \"accounts\": {\"main\": {\"from\": \"whatsapp:+14155550100\", \"credentials\": \"c\","
	"   \"api_base\": \"https://127.0.0.1:9\", \"templates_sync\": \"2m\"}},"
	" \"templates\": {"
	"  \"a\": {\"twilio_content_sid\": \"" SID_A "\", \"variables\": 1, \"status\": \"pending\"},"
	"  \"b\": {\"twilio_content_sid\": \"" SID_B "\", \"variables\": 2, \"status\": \"approved\","
	"         \"media_var\": 2},"
	"  \"c\": {\"twilio_content_sid\": \"" SID_C "\", \"variables\": 0, \"status\": \"rejected\"}},"
	" \"routes\": ["
	"  {\"name\": \"ra\", \"topic\": \"a\", \"template\": \"a\", \"to\": \"{p}\", \"vars\": {\"1\": \"x\"}},"
	"  {\"name\": \"rb\", \"topic\": \"b\", \"template\": \"b\", \"to\": \"{p}\","
	"   \"vars\": {\"1\": \"x\", \"2\": \"y\"}},"
	"  {\"name\": \"rb_fail\", \"topic\": \"b\", \"template\": \"b\", \"to\": \"{p}\","
	"   \"unapproved\": \"fail\", \"vars\": {\"1\": \"x\", \"2\": \"y\"}},"
	"  {\"name\": \"rc\", \"topic\": \"c\", \"template\": \"c\", \"to\": \"{p}\"}]}";

static void test_decide(void **state)
{
	(void)state;
	assert_int_equal(fw_tpl_decide(true, CFG_UNAPPROVED_HOLD), FW_TPL_SEND);
	assert_int_equal(fw_tpl_decide(true, CFG_UNAPPROVED_FAIL), FW_TPL_SEND);
	assert_int_equal(fw_tpl_decide(false, CFG_UNAPPROVED_HOLD), FW_TPL_HOLD);
	assert_int_equal(fw_tpl_decide(false, CFG_UNAPPROVED_FAIL), FW_TPL_FAIL);
	assert_int_equal(fw_tpl_decide(false, 0), FW_TPL_HOLD); /* unknown: the safe one */
}

static void test_config_keys(void **state)
{
	struct cfg_errors errs;
	struct cfg *c;
	const char *why;

	(void)state;
	assert_int_equal(cfg_parse(config, strlen(config), &c, &errs), ERR_OK);
	assert_int_equal(c->routes[0].unapproved, CFG_UNAPPROVED_HOLD); /* the default */
	assert_int_equal(c->routes[2].unapproved, CFG_UNAPPROVED_FAIL);
	assert_int_equal(cfg_template_find(c, "b")->media_var, 2);
	assert_int_equal(cfg_template_find(c, "a")->media_var, 0);
	/* Not a twilio.com host: the Content API is taken to be on it too. */
	assert_string_equal(c->accounts[0].content_base, "https://127.0.0.1:9");
	assert_true(c->accounts[0].templates_sync_s == 120);
	assert_true(c->templates_sync_s == 3600);
	cfg_free(c);

	assert_int_equal(cfg_media_url_check("https://cdn.example/a.jpg", &why), ERR_OK);
	assert_int_equal(cfg_media_url_check("http://cdn.example/a.jpg", &why), ERR_INVAL);
	assert_non_null(strstr(why, "https"));
	assert_int_equal(cfg_media_url_check("https:///a.jpg", &why), ERR_INVAL);
	assert_int_equal(cfg_media_url_check("https://cdn.example/a b.jpg", &why), ERR_INVAL);
	assert_int_equal(cfg_media_url_check("/tmp/a.jpg", &why), ERR_INVAL);
	assert_int_equal(cfg_media_url_check("", &why), ERR_INVAL);
}

static void test_rendered_len(void **state)
{
	const char *vals[] = {"Ana", "\xc3\xa9t\xc3\xa9", NULL};

	(void)state;
	/* "Hi Ana, été {{9}} x{{" : 3 + 3 ("Ana") + 2 + 3 ("été", 5 bytes) ... */
	assert_int_equal(cfg_preview_len("Hi {{1}}, {{2}}", vals, 2), 3 + 3 + 2 + 3);
	assert_int_equal(cfg_preview_len("{{1}}{{1}}", vals, 2), 6);
	assert_int_equal(cfg_preview_len("{{3}}!", vals, 3), 1);       /* NULL: empty */
	assert_int_equal(cfg_preview_len("{{9}} x{{", vals, 2), 9);    /* not ours: text */
	assert_int_equal(cfg_preview_len("{{}}", vals, 2), 4);
	assert_int_equal(cfg_preview_len("", vals, 2), 0);
	assert_int_equal(cfg_preview_len(NULL, vals, 2), 0);
}

static void expect_bad(const char *from, const char *to, const char *path)
{
	char buf[sizeof(config) + 64];
	const char *at = strstr(config, from);
	struct cfg_errors errs;
	struct cfg *c;
	bool found = false;

	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - config), config, to, at + strlen(from));
	assert_int_equal(cfg_parse(buf, strlen(buf), &c, &errs), ERR_CONFIG);
	for (unsigned i = 0; i < errs.n; i++)
		found |= strcmp(errs.e[i].path, path) == 0;
	if (!found)
		print_message("no error at %s (first: %s: %s)\n", path, errs.e[0].path, errs.e[0].msg);
	assert_true(found);
}

static void test_config_refusals(void **state)
{
	(void)state;
	expect_bad("\"unapproved\": \"fail\"", "\"unapproved\": \"drop\"", "$.routes[2].unapproved");
	expect_bad("\"media_var\": 2", "\"media_var\": 3", "$.templates.b");
	expect_bad("\"templates_sync\": \"2m\"", "\"templates_sync\": \"30s\"",
		   "$.accounts.main.templates_sync");
	expect_bad("\"templates_sync\": \"2m\"", "\"content_base\": \"http://x\"",
		   "$.accounts.main.content_base");
	expect_bad("\"templates_sync\": \"2m\"",
		   "\"provider\": \"meta\", \"phone_number_id\": \"123\", \"content_base\": \"https://x\"",
		   "$.accounts.main");
	/* A Twilio host keeps the Content API on its own host. */
	{
		char buf[sizeof(config) + 64];
		const char *at = strstr(config, "https://127.0.0.1:9");
		struct cfg *c;

		snprintf(buf, sizeof(buf), "%.*shttps://api.dublin.ie1.twilio.com%s",
			 (int)(at - config), config, at + strlen("https://127.0.0.1:9"));
		assert_int_equal(cfg_parse(buf, strlen(buf), &c, NULL), ERR_OK);
		assert_string_equal(c->accounts[0].content_base, "https://content.twilio.com");
		cfg_free(c);
	}
}

/* ---- the gate on a daemon with a store and no network ---- */

struct gate_fx {
	struct store_fx sf;
	struct fw fw;
};

static int gate_setup(void **state)
{
	struct gate_fx *g = calloc(1, sizeof(*g));
	void *sfs = NULL;
	struct store_txn *t;

	assert_non_null(g);
	store_fx_setup(&sfs);
	g->sf = *(struct store_fx *)sfs;
	free(sfs);
	assert_int_equal(cfg_parse(config, strlen(config), &g->fw.cfg, NULL), ERR_OK);
	assert_int_equal(hal_loop_init(&g->fw.loop), ERR_OK);
	g->fw.store = g->sf.s;
	/* What an earlier run's sync stored: a approved, b paused. */
	assert_int_equal(store_begin(g->fw.store, 0, &t), ERR_OK);
	assert_int_equal(store_template_put(t, "main", SID_A, &(struct store_template){
		.id = SID_A, .status = "APPROVED", .approved = true, .synced_ms = 1}), ERR_OK);
	assert_int_equal(store_template_put(t, "main", SID_B, &(struct store_template){
		.id = SID_B, .status = "paused", .reason = "low quality", .synced_ms = 1}), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(fw_templates_init(&g->fw), ERR_OK);
	*state = g;
	return 0;
}

static int gate_teardown(void **state)
{
	struct gate_fx *g = *state;
	void *sfs = malloc(sizeof(struct store_fx));

	fw_templates_free(&g->fw);
	hal_loop_free(g->fw.loop);
	cfg_free(g->fw.cfg);
	memcpy(sfs, &g->sf, sizeof(g->sf));
	store_fx_teardown(&sfs);
	free(g);
	return 0;
}

static struct store_msg msg(const char *route, const char *tpl)
{
	return (struct store_msg){.seq = 7, .state = STORE_QUEUED, .route = route, .account = "main",
				  .template_name = tpl, .event_id = "e7", .due_ms = 5,
				  .err_text = ""};
}

static void test_gate(void **state)
{
	struct gate_fx *g = *state;
	struct store_msg m;
	char why[320];

	/* a: pending in the config, approved at the provider: sent. */
	m = msg("ra", "a");
	assert_true(fw_templates_admit(&g->fw, &m, m.account));
	assert_int_equal(m.state, STORE_QUEUED);
	assert_true(m.due_ms == 5);
	assert_true(fw_templates_sendable(&g->fw, "main", cfg_template_find(g->fw.cfg, "a"), why,
					  sizeof(why)));

	/* b: approved in the config, paused at the provider: held ... */
	m = msg("rb", "b");
	assert_false(fw_templates_admit(&g->fw, &m, m.account));
	assert_int_equal(m.state, STORE_QUEUED);
	assert_true(m.due_ms == STORE_DUE_PARKED);
	assert_string_equal(m.err_text, "template b is paused at the provider: low quality");
	assert_int_equal(m.err_class, NET_TEMPLATE);
	/* ... or failed, by the route's policy. */
	m = msg("rb_fail", "b");
	assert_false(fw_templates_admit(&g->fw, &m, m.account));
	assert_int_equal(m.state, STORE_FAILED);
	assert_string_equal(m.err_text, "template b is paused at the provider: low quality");
	assert_true(g->fw.n.failed == 1);

	/* c: no sync has seen it; the config says rejected: held, saying so. */
	m = msg("rc", "c");
	assert_false(fw_templates_admit(&g->fw, &m, m.account));
	assert_true(m.due_ms == STORE_DUE_PARKED);
	assert_non_null(strstr(m.err_text, "template c is not approved (status rejected in the config"));

	/* Free-form text inside the 24 h window is no template: not gated. */
	m = msg("rb", "b");
	m.flags = STORE_F_FREEFORM;
	assert_true(fw_templates_admit(&g->fw, &m, m.account));

	/* A route or template the config no longer has. */
	m = msg("gone", "b");
	assert_false(fw_templates_admit(&g->fw, &m, m.account)); /* held: the safe default */
	assert_int_equal(m.state, STORE_QUEUED);
	m = msg("rb", "gone");
	assert_true(fw_templates_admit(&g->fw, &m, m.account));
	/* Another account: nothing synced there. */
	assert_null(fw_templates_state(&g->fw, "other", cfg_template_find(g->fw.cfg, "b")));
	assert_int_equal(fw_templates_gate(&g->fw)->held, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_config_refusals),
		cmocka_unit_test(test_rendered_len),
		cmocka_unit_test_setup_teardown(test_gate, gate_setup, gate_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
