/*
 * test_consent.c - consent and the 24-hour window: keyword matching per
 * language (defaults and configured), the config keys of free-form routes,
 * the window decision, the settle hook's answers to the provider's
 * opted-out and window codes, and the Twilio driver's free-form body and
 * inbound polling (URL and page parsing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"
#include "config/config.h"
#include "config/consent.h"
#include "firmware/consent.h"
#include "firmware/fw.h"
#include "firmware/retry.h"
#include "hal/clock.h"
#include "hal/file.h"
#include "hal/loop.h"
#include "net/providers/provider.h"
#include "store/ledger.h"
#include "store/outbox.h"
#include "store/verify.h"

#define GOOD "tests/data/config/good.json"
#define H (3600LL * 1000)

static struct cfg *parse_with(const char *edit_key, const char *edit_json, struct cfg_errors *e)
{
	char *text = NULL;
	struct cfg *c = NULL;
	cJSON *root, *v;
	char *s;

	assert_int_equal(hal_file_read(GOOD, CFG_FILE_MAX, &text, NULL), ERR_OK);
	root = cJSON_Parse(text);
	free(text);
	if (edit_key) {
		v = cJSON_Parse(edit_json);
		assert_non_null(v);
		if (strcmp(edit_key, "routes+") == 0)
			cJSON_AddItemToArray(cJSON_GetObjectItem(root, "routes"), v);
		else if (strncmp(edit_key, "main.", 5) == 0)
			cJSON_AddItemToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "accounts"),
								  "main"), edit_key + 5, v);
		else
			cJSON_AddItemToObject(root, edit_key, v);
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	cfg_parse(s, strlen(s), &c, e);
	free(s);
	return c;
}

static bool has_error(const struct cfg_errors *e, const char *path, const char *part)
{
	for (unsigned i = 0; i < e->n; i++)
		if (strcmp(e->e[i].path, path) == 0 && strstr(e->e[i].msg, part))
			return true;
	for (unsigned i = 0; i < e->n; i++)
		print_error("  %s: %s\n", e->e[i].path, e->e[i].msg);
	return false;
}

/* ---- keywords ---- */

static void test_default_keywords(void **state)
{
	struct cfg_errors e;
	struct cfg *c = parse_with(NULL, NULL, &e);
	static const char *const stops[] = {"STOP", "stop", " Stop\n", "UNSUBSCRIBE", "STOPP",
					    "abmelden", "BAJA", "Arrêt", "ARRET"};
	static const char *const not_stops[] = {"stop please", "please stop", "", "   ", "STO",
						"STOPPP", "START"};

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (strcmp(stops[i], "Arrêt") != 0) /* ASCII letters only fold */
			assert_true(cfg_keyword_match(c->consent.stop, c->consent.n_stop, stops[i]));
	assert_true(cfg_keyword_match(c->consent.stop, c->consent.n_stop, "ARRÊT"));
	for (size_t i = 0; i < sizeof(not_stops) / sizeof(not_stops[0]); i++)
		assert_false(cfg_keyword_match(c->consent.stop, c->consent.n_stop, not_stops[i]));
	assert_true(cfg_keyword_match(c->consent.start, c->consent.n_start, " start "));
	assert_true(cfg_keyword_match(c->consent.start, c->consent.n_start, "Anmelden"));
	assert_false(cfg_keyword_match(c->consent.start, c->consent.n_start, "stop"));
	cfg_free(c);
}

static void test_configured_keywords(void **state)
{
	struct cfg_errors e;
	struct cfg *c = parse_with("consent", "{\"stop_keywords\": {\"nl\": [\"AFMELDEN\"], "
				   "\"pt\": [\"PARE\", \"SAIR\"]}}", &e);

	(void)state;
	assert_non_null(c);
	/* A list given replaces the defaults; the other keeps them. */
	assert_int_equal(c->consent.n_stop, 3);
	assert_true(cfg_keyword_match(c->consent.stop, c->consent.n_stop, "afmelden"));
	assert_true(cfg_keyword_match(c->consent.stop, c->consent.n_stop, "Pare"));
	assert_false(cfg_keyword_match(c->consent.stop, c->consent.n_stop, "STOP"));
	assert_true(cfg_keyword_match(c->consent.start, c->consent.n_start, "START"));
	cfg_free(c);

	assert_null(parse_with("consent", "{\"stop_keywords\": {\"en\": [\" STOP\"]}}", &e));
	assert_true(has_error(&e, "$.consent.stop_keywords.en[0]", "outer spaces"));
	assert_null(parse_with("consent", "{\"stop_keywords\": {\"en\": \"STOP\"}}", &e));
	assert_true(has_error(&e, "$.consent.stop_keywords.en", "expected an array"));
	assert_null(parse_with("consent", "{\"stopwords\": {}}", &e));
	assert_true(has_error(&e, "$.consent.stopwords", "unknown key"));
}

/* ---- free-form routes and polling config ---- */

static void test_route_keys(void **state)
{
	struct cfg_errors e;
	struct cfg *c;
	const struct cfg_route *r;

	(void)state;
	c = parse_with("routes+", "{\"name\": \"notes\", \"topic\": \"n/#\", \"text\": \"Code {code}\","
		       "\"fallback_template\": \"ticket_ready\", \"to\": \"{p}\", \"require_opt_in\": true,"
		       "\"vars\": {\"1\": \"{code}\", \"2\": \"x\"}}", &e);
	assert_non_null(c);
	r = &c->routes[3];
	assert_string_equal(r->text, "Code {code}");
	assert_string_equal(r->template->name, "ticket_ready");
	assert_true(r->require_opt_in);
	assert_false(c->routes[0].require_opt_in);
	assert_null(c->routes[0].text);
	cfg_free(c);
	c = parse_with("routes+", "{\"name\": \"plain\", \"topic\": \"p/#\", \"text\": \"Hi\", \"to\": \"{p}\"}", &e);
	assert_non_null(c);
	assert_null(c->routes[3].template);
	cfg_free(c);

	assert_null(parse_with("routes+", "{\"name\": \"x\", \"topic\": \"x\", \"to\": \"{p}\"}", &e));
	assert_true(has_error(&e, "$.routes[3].template", "required key is missing"));
	assert_null(parse_with("routes+", "{\"name\": \"x\", \"topic\": \"x\", \"to\": \"{p}\", "
			       "\"fallback_template\": \"ticket_ready\", \"vars\": {\"1\": \"a\", \"2\": \"b\"}}", &e));
	assert_true(has_error(&e, "$.routes[3]", "\"fallback_template\" goes with \"text\""));
	assert_null(parse_with("routes+", "{\"name\": \"x\", \"topic\": \"x\", \"to\": \"{p}\", \"text\": \"a\", "
			       "\"template\": \"ticket_ready\", \"vars\": {\"1\": \"a\", \"2\": \"b\"}}", &e));
	assert_true(has_error(&e, "$.routes[3]", "as \"fallback_template\", not \"template\""));
	assert_null(parse_with("routes+", "{\"name\": \"x\", \"topic\": \"x\", \"to\": \"{p}\", \"text\": \"{a\"}", &e));
	assert_true(has_error(&e, "$.routes[3].text", "invalid expression"));
	assert_null(parse_with("routes+", "{\"name\": \"x\", \"topic\": \"x\", \"to\": \"{p}\", \"text\": \"a\", "
			       "\"require_opt_in\": 1}", &e));
	assert_true(has_error(&e, "$.routes[3].require_opt_in", "expected true or false"));

	c = parse_with("main.inbound_poll_s", "30", &e);
	assert_non_null(c);
	assert_int_equal(c->accounts[0].inbound_poll_s, 30);
	cfg_free(c);
	assert_null(parse_with("main.inbound_poll_s", "5", &e));
	assert_true(has_error(&e, "$.accounts.main.inbound_poll_s", "0 (off) or 10..86400"));
}

/* ---- the window ---- */

static void test_window(void **state)
{
	int64_t now = 1800000000000LL;

	(void)state;
	assert_false(fw_window_open(now, 0));
	assert_true(fw_window_open(now, now - 1));
	assert_true(fw_window_open(now, now - 23 * H - 49 * 60000));
	/* The 10-minute margin: 23 h 50 min after the last inbound it is closed. */
	assert_false(fw_window_open(now, now - 23 * H - 50 * 60000));
	assert_false(fw_window_open(now, now - 25 * H));
	assert_int_equal(fw_window_pick(now, now - H, true, true, false), FW_FORM_FREEFORM);
	assert_int_equal(fw_window_pick(now, now - H, true, false, false), FW_FORM_FREEFORM);
	assert_int_equal(fw_window_pick(now, now - 25 * H, true, true, false), FW_FORM_TEMPLATE);
	assert_int_equal(fw_window_pick(now, 0, true, false, false), FW_FORM_NONE);
	/* The provider said closed once: the template from then on. */
	assert_int_equal(fw_window_pick(now, now - H, true, true, true), FW_FORM_TEMPLATE);
	assert_int_equal(fw_window_pick(now, now - H, true, false, true), FW_FORM_NONE);
	/* A template message does not care. */
	assert_int_equal(fw_window_pick(now, 0, false, true, false), FW_FORM_TEMPLATE);
}

/* ---- the settle hook ---- */

/* A free-form record; its fallback template is template_name ("" none),
 * with a ContentSid only on a Twilio account. */
static struct store_msg freeform_msg(const char *template_name, const char *content_sid)
{
	struct store_msg m = {.state = STORE_FAILED, .to = "+491701234567", .body = "Hi",
			      .template_name = template_name, .content_sid = content_sid,
			      .flags = STORE_F_FREEFORM, .err_text = ""};
	return m;
}

static void test_settle(void **state)
{
	struct store_fx *f = *state;
	struct fw fw = {.store = f->s};
	struct net_send_outcome o = {.cls = NET_WINDOW, .code = 63016, .text = "outside window"};
	struct store_msg m = freeform_msg("ticket_ready", "HX0123456789abcdef0123456789abcdef");
	struct store_ledger e;
	struct store_txn *t;
	enum fw_next next = FW_NEXT_FAILED;
	char why[300];

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	/* Window answer to a free-form send with a fallback: the template, now. */
	assert_int_equal(fw_consent_settle(&fw, t, &o, &m, &next, why, sizeof(why), 5000), ERR_OK);
	assert_int_equal(next, FW_NEXT_RETRY);
	assert_int_equal(m.state, STORE_RETRY);
	assert_int_equal(m.due_ms, 5000);
	assert_true(m.flags & STORE_F_TEMPLATE_ONLY);
	assert_false(m.flags & STORE_F_FREEFORM);
	/* On a meta account (131047) the fallback is the template's name: no
	 * ContentSid, the same answer. */
	o.code = 131047;
	m = freeform_msg("ticket_ready", "");
	next = FW_NEXT_FAILED;
	assert_int_equal(fw_consent_settle(&fw, t, &o, &m, &next, why, sizeof(why), 5000), ERR_OK);
	assert_int_equal(next, FW_NEXT_RETRY);
	assert_true(m.flags & STORE_F_TEMPLATE_ONLY);
	o.code = 63016;
	/* Without one it fails, with the reason. */
	m = freeform_msg("", "");
	next = FW_NEXT_FAILED;
	assert_int_equal(fw_consent_settle(&fw, t, &o, &m, &next, why, sizeof(why), 5000), ERR_OK);
	assert_int_equal(next, FW_NEXT_FAILED);
	assert_non_null(strstr(m.err_text, "outside the 24-hour window (provider code 63016"));
	/* Opted out at the provider: recorded, and the message suppressed. */
	o = (struct net_send_outcome){.cls = NET_OPTED_OUT, .code = 21610};
	m = freeform_msg("ticket_ready", "HX0123456789abcdef0123456789abcdef");
	next = FW_NEXT_FAILED;
	assert_int_equal(fw_consent_settle(&fw, t, &o, &m, &next, why, sizeof(why), 7000), ERR_OK);
	assert_int_equal(next, FW_NEXT_SUPPRESSED);
	assert_int_equal(m.state, STORE_SUPPRESSED);
	assert_string_equal(m.err_text, "recipient +491******567 opted out (provider:21610 at "
			    "1970-01-01T00:00:07Z)");
	assert_int_equal(store_ledger_get(t, "+491701234567", &e), ERR_OK);
	assert_int_equal(e.consent, STORE_CONSENT_OUT);
	assert_string_equal(e.source, "provider:21610");
	/* Anything else is the retry policy's. */
	o = (struct net_send_outcome){.cls = NET_PERMANENT, .code = 21211};
	m = freeform_msg("", "");
	next = FW_NEXT_FAILED;
	assert_int_equal(fw_consent_settle(&fw, t, &o, &m, &next, why, sizeof(why), 7000), ERR_OK);
	assert_int_equal(next, FW_NEXT_FAILED);
	assert_int_equal(m.state, STORE_FAILED);
	store_abort(t);
}

/* ---- the send-time gate and inbound messages, on a real store ---- */

struct gate_fx {
	struct store_fx sf;
	struct fw fw;
	struct fw_inbound ib;
	struct cfg_errors e;
};

static int gate_setup(void **state)
{
	struct gate_fx *g = calloc(1, sizeof(*g));
	void *sf = &g->sf;

	store_fx_setup(&sf);
	memcpy(&g->sf, sf, sizeof(g->sf));
	free(sf);
	g->fw.store = g->sf.s;
	g->fw.cfg = parse_with("routes+", "{\"name\": \"members\", \"topic\": \"m/#\", "
			       "\"template\": \"ticket_ready\", \"require_opt_in\": true, \"to\": \"{p}\", "
			       "\"vars\": {\"1\": \"a\", \"2\": \"b\"}}", &g->e);
	assert_non_null(g->fw.cfg);
	assert_int_equal(hal_loop_init(&g->fw.loop), ERR_OK);
	g->ib.fw = &g->fw;
	g->fw.inbound = &g->ib;
	*state = g;
	return 0;
}

static int gate_teardown(void **state)
{
	struct gate_fx *g = *state;
	void *sf = calloc(1, sizeof(g->sf));

	for (unsigned i = 0; i < g->ib.n_pub; i++)
		free(g->ib.pub[i]);
	hal_timer_cancel(g->fw.loop, &g->ib.publish);
	hal_loop_free(g->fw.loop);
	cfg_free(g->fw.cfg);
	memcpy(sf, &g->sf, sizeof(g->sf));
	store_fx_teardown(&sf);
	free(g);
	return 0;
}

/* A due record; sid "" with a template is a meta account's (no ContentSid). */
static struct store_msg due_msg(const char *route, const char *body, const char *sid)
{
	struct store_msg m = {.state = STORE_QUEUED, .to = "+491701234567", .route = route,
			      .event_id = "e", .body = body, .content_sid = sid,
			      .template_name = sid[0] ? "ticket_ready" : "", .err_text = ""};
	return m;
}

static void test_gate(void **state)
{
	struct gate_fx *g = *state;
	struct store_txn *t;
	struct store_msg m;
	int64_t now = 1800000000000LL;

	assert_int_equal(store_begin(g->sf.s, 0, &t), ERR_OK);
	/* Nothing known: a template message goes; require_opt_in holds it. */
	m = due_msg("payments", "", "HX1");
	assert_true(fw_consent_gate(&g->fw, t, &m, now));
	m = due_msg("members", "", "HX1");
	assert_false(fw_consent_gate(&g->fw, t, &m, now));
	assert_int_equal(m.state, STORE_SUPPRESSED);
	assert_string_equal(m.err_text, "recipient +491******567 has not opted in (route members "
			    "requires opt-in)");
	/* Free-form without a window: the fallback, or no way at all. */
	m = due_msg("payments", "Hi", "HX1");
	m.flags = STORE_F_FREEFORM;
	assert_true(fw_consent_gate(&g->fw, t, &m, now));
	assert_false(m.flags & STORE_F_FREEFORM);
	m = due_msg("payments", "Hi", ""); /* a meta account: the template by name */
	m.template_name = "ticket_ready";
	m.flags = STORE_F_FREEFORM;
	assert_true(fw_consent_gate(&g->fw, t, &m, now));
	assert_false(m.flags & STORE_F_FREEFORM);
	m = due_msg("payments", "Hi", "");
	assert_false(fw_consent_gate(&g->fw, t, &m, now));
	assert_int_equal(m.state, STORE_FAILED);
	assert_string_equal(m.err_text, "outside the 24-hour window (last inbound never) and the "
			    "route has no fallback_template");
	/* The customer wrote an hour ago: the text goes. */
	assert_int_equal(store_ledger_inbound(t, "+491701234567", "main", now - H), ERR_OK);
	m = due_msg("payments", "Hi", "");
	assert_true(fw_consent_gate(&g->fw, t, &m, now));
	assert_true(m.flags & STORE_F_FREEFORM);
	/* Opted in: the members route lets it through; opted out: nothing does. */
	assert_int_equal(fw_consent_set(&g->fw, t, "+491701234567", STORE_CONSENT_IN, "cli", now), ERR_OK);
	m = due_msg("members", "", "HX1");
	assert_true(fw_consent_gate(&g->fw, t, &m, now));
	assert_int_equal(fw_consent_set(&g->fw, t, "+491701234567", STORE_CONSENT_OUT, "keyword:STOP",
					1796245200000LL), ERR_OK);
	m = due_msg("payments", "", "HX1");
	assert_false(fw_consent_gate(&g->fw, t, &m, now));
	assert_int_equal(m.state, STORE_SUPPRESSED);
	assert_string_equal(m.err_text, "recipient +491******567 opted out (keyword:STOP at "
			    "2026-12-02T21:00:00Z)");
	assert_int_equal(g->ib.n.suppressed, 2);
	assert_int_equal(g->ib.n.freeform, 0); /* counted when sent */
	assert_int_equal(g->ib.n.window_failed, 1);
	store_abort(t);
}

static void inbound_at(struct gate_fx *g, const char *id, const char *body, int64_t at)
{
	struct net_inbound in = {.id = id, .from = "+491701234567", .to = "+14155550100",
				 .body = body, .at_ms = at};

	fw_inbound(&g->fw, "main", &in);
}

static void ledger_of(struct gate_fx *g, struct store_ledger *e)
{
	struct store_txn *t;

	assert_int_equal(store_begin(g->sf.s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_ledger_get(t, "+491701234567", e), ERR_OK);
	store_abort(t);
}

static void test_inbound(void **state)
{
	struct gate_fx *g = *state;
	struct store_ledger e;
	int64_t now = hal_wall_ms();

	inbound_at(g, "SM1", " Stopp\n", now - 5000);
	ledger_of(g, &e);
	assert_int_equal(e.consent, STORE_CONSENT_OUT);
	assert_string_equal(e.source, "keyword:STOPP");
	assert_int_equal(e.inbound_ms, now - 5000);
	assert_string_equal(e.account, "main");
	/* The same id again (a webhook after the poll): nothing happens. */
	inbound_at(g, "SM1", "START", now - 4000);
	ledger_of(g, &e);
	assert_int_equal(e.consent, STORE_CONSENT_OUT);
	assert_int_equal(g->ib.n.inbound, 1);
	assert_int_equal(g->ib.n.inbound_dup, 1);
	/* A START written before the STOP (a late poll) does not undo it, but
	 * still counts as a message. */
	inbound_at(g, "SM0", "start", now - 9000);
	ledger_of(g, &e);
	assert_int_equal(e.consent, STORE_CONSENT_OUT);
	assert_int_equal(e.inbound_ms, now - 5000);
	inbound_at(g, "SM2", "start", now - 1000);
	ledger_of(g, &e);
	assert_int_equal(e.consent, STORE_CONSENT_IN);
	assert_string_equal(e.source, "keyword:START");
	/* A plain message opens the window and changes no consent. */
	inbound_at(g, "SM3", "ACK alarm 4", now);
	ledger_of(g, &e);
	assert_int_equal(e.consent, STORE_CONSENT_IN);
	assert_int_equal(e.inbound_ms, now);
	assert_true(fw_window_open(now + 1000, e.inbound_ms));
	/* Refused: no id, a sender that is no number. */
	inbound_at(g, "", "x", now);
	assert_int_equal(g->ib.n.inbound_bad, 1);
	fw_inbound(&g->fw, "main", &(struct net_inbound){.id = "SM9", .from = "+1234567", .body = "STOP"});
	fw_inbound(&g->fw, "main", &(struct net_inbound){.id = "SM9", .from = "whatsapp:+491701234567"});
	assert_int_equal(g->ib.n.inbound_bad, 3);
	/* Each taken message waits to be published, as JSON. */
	assert_int_equal(g->ib.n_pub, 4);
	assert_non_null(strstr(g->ib.pub[0], "\"from\":\"+491701234567\",\"body\":\" Stopp\\n\""));
	assert_non_null(strstr(g->ib.pub[3], "\"account\":\"main\",\"id\":\"SM3\""));
}

static uint64_t add_rec(struct store_txn *t, const char *event, const char *to, int state,
			const char *sid)
{
	struct store_msg m = {.state = (uint8_t)state, .event_id = event, .to = to,
			      .provider_id = sid, .content_sid = "HX1", .ttl_s = 60,
			      .attempts = state == STORE_QUEUED ? 0 : 1, .attempt_ms = 1};

	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	assert_int_equal(store_dedup_put(t, event, m.seq), ERR_OK);
	if (sid[0]) /* the sid index is kept by update */
		assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	return m.seq;
}

static cJSON *forget(struct gate_fx *g, const char *to, char *err, size_t errlen)
{
	struct fw_caller op = {.transport = "socket", .operator = true};
	cJSON *req = cJSON_CreateObject(), *r;

	cJSON_AddStringToObject(req, "cmd", "forget");
	cJSON_AddStringToObject(req, "to", to);
	r = fw_cmd_consent(&g->fw, &op, "forget", req, err, errlen);
	cJSON_Delete(req);
	return r;
}

static void test_forget(void **state)
{
	struct gate_fx *g = *state;
	struct store_verify_report rep;
	struct store_txn *t;
	struct store_msg m;
	uint64_t seq_b, seq_sending, seq;
	char err[200] = "";
	cJSON *r;

	assert_int_equal(store_begin(g->sf.s, 0, &t), ERR_OK);
	add_rec(t, "a1", "+491701234567", STORE_QUEUED, "");
	add_rec(t, "a2", "+491701234567", STORE_SENT, "SMa2");
	add_rec(t, "a3", "+491701234567", STORE_SUPPRESSED, "");
	seq_b = add_rec(t, "b1", "+491709999999", STORE_SENT, "SMb1");
	seq_sending = add_rec(t, "a4", "+491701234567", STORE_SENDING, "");
	assert_int_equal(fw_consent_set(&g->fw, t, "+491701234567", STORE_CONSENT_OUT, "cli", 1),
			 ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);

	/* A message on its way: refused, nothing erased. */
	assert_null(forget(g, "+491701234567", err, sizeof(err)));
	assert_non_null(strstr(err, "being sent right now"));
	assert_int_equal(store_begin(g->sf.s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_get(t, seq_sending, &m), ERR_OK);
	m.state = STORE_FAILED;
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);

	r = forget(g, "0170 1234567", err, sizeof(err)); /* as typed: default country 49 */
	assert_non_null(r);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "erased"), "messages")->valueint, 4);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "erased"), "ledger")->valueint, 1);
	assert_string_equal(cJSON_GetObjectItem(r, "to")->valuestring, "+491701234567");
	cJSON_Delete(r);

	assert_int_equal(store_begin(g->sf.s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_verify(t, &rep), ERR_OK);
	for (unsigned i = 0; i < rep.n_notes; i++)
		print_error("verify: %s\n", rep.notes[i]);
	assert_int_equal(rep.problems, 0);
	assert_int_equal(rep.records, 1); /* only the other person's */
	assert_int_equal(store_outbox_get(t, seq_b, &m), ERR_OK);
	assert_int_equal(store_sid_get(t, "SMa2", &seq), ERR_NOTFOUND);
	assert_int_equal(store_dedup_get(t, "a1", &seq), ERR_NOTFOUND);
	assert_int_equal(store_sid_get(t, "SMb1", &seq), ERR_OK);
	store_abort(t);
	/* Nothing left: a second forget erases nothing, and says so. */
	r = forget(g, "+491701234567", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "erased"), "messages")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "erased"), "ledger")->valueint, 0);
	cJSON_Delete(r);
	assert_null(forget(g, "not a number", err, sizeof(err)));
	assert_non_null(strstr(err, "\"to\""));
}

/* ---- Twilio: free-form body, inbound polling ---- */

static struct net_send_msg tw_msg(void)
{
	struct net_send_msg m = {.api_base = "https://api.twilio.com",
				 .account_id = "AC0123456789abcdef0123456789abcdef",
				 .from = "whatsapp:+14155550100", .to = "+491701234567"};
	return m;
}

static void test_twilio_body(void **state)
{
	const struct net_provider *tw = net_provider_find("twilio");
	struct net_send_msg m = tw_msg();
	char *url = NULL, *body = NULL;

	(void)state;
	assert_int_equal(tw->build(&m, &url, &body), ERR_INVAL); /* neither template nor text */
	m.body = "Your code: 12 & more";
	m.vars_json = "{\"1\":\"x\"}";
	assert_int_equal(tw->build(&m, &url, &body), ERR_OK);
	assert_string_equal(body, "To=whatsapp%3A%2B491701234567&From=whatsapp%3A%2B14155550100&"
			    "Body=Your%20code%3A%2012%20%26%20more");
	free(url);
	free(body);
	/* With a ContentSid the template goes, never the Body. */
	m.content_sid = "HX0123456789abcdef0123456789abcdef";
	assert_int_equal(tw->build(&m, &url, &body), ERR_OK);
	assert_null(strstr(body, "Body="));
	assert_non_null(strstr(body, "ContentSid=HX"));
	free(url);
	free(body);
}

static void test_twilio_inbound_url(void **state)
{
	const struct net_provider *tw = net_provider_find("twilio");
	struct net_send_msg m = tw_msg();
	char *url = NULL;

	(void)state;
	/* 2026-12-02T21:00:00Z */
	assert_int_equal(tw->inbound_url(&m, 1796245200000LL, &url), ERR_OK);
	assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/"
			    "AC0123456789abcdef0123456789abcdef/Messages.json?"
			    "To=whatsapp%3A%2B14155550100&DateSent%3E=2026-12-02&PageSize=50");
	free(url);
	assert_int_equal(tw->inbound_url(&m, 951782400000LL, &url), ERR_OK); /* 2000-02-29 */
	assert_non_null(strstr(url, "DateSent%3E=2000-02-29&"));
	free(url);
	m.from = NULL;
	assert_int_equal(tw->inbound_url(&m, 0, &url), ERR_INVAL);
}

struct got {
	unsigned n;
	char ids[4][40], from[4][20], body[4][20];
	int64_t at[4];
};

static int take(const struct net_inbound *in, void *arg)
{
	struct got *g = arg;

	snprintf(g->ids[g->n], sizeof(g->ids[0]), "%s", in->id);
	snprintf(g->from[g->n], sizeof(g->from[0]), "%s", in->from);
	snprintf(g->body[g->n], sizeof(g->body[0]), "%s", in->body);
	g->at[g->n] = in->at_ms;
	return ++g->n == 4;
}

static void test_twilio_inbound_page(void **state)
{
	const struct net_provider *tw = net_provider_find("twilio");
	const char *json =
		"{\"messages\":["
		"{\"sid\":\"SM2\",\"direction\":\"inbound\",\"from\":\"whatsapp:+491701234567\","
		" \"to\":\"whatsapp:+14155550100\",\"body\":\"STOP\",\"status\":\"received\","
		" \"date_sent\":\"Wed, 02 Dec 2026 21:00:05 +0000\",\"date_created\":\"Wed, 02 Dec 2026 21:00:04 +0000\"},"
		"{\"sid\":\"SM1\",\"direction\":\"outbound-api\",\"from\":\"whatsapp:+14155550100\","
		" \"to\":\"whatsapp:+14155550100\",\"body\":\"loop\",\"date_sent\":null},"
		"{\"sid\":\"SM0\",\"direction\":\"inbound\",\"from\":\"whatsapp:+491709999999\","
		" \"to\":\"whatsapp:+14155550100\",\"body\":null,\"date_sent\":null,"
		" \"date_created\":\"Wed, 02 Dec 2026 20:00:00 +0000\"}],"
		"\"next_page_uri\":\"/2010-04-01/Accounts/AC1/Messages.json?Page=1\"}";
	struct net_http_result res = {.err = ERR_OK, .status = 200, .body = json,
				      .body_len = strlen(json),
				      .url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
					     "?To=whatsapp%3A%2B14155550100&PageSize=50"};
	struct net_list_page page;
	struct got g = {0};

	(void)state;
	tw->inbound_page(&res, "https://api.twilio.com/", take, &g, &page);
	assert_int_equal(page.cls, NET_OK);
	assert_int_equal(page.n, 3);
	assert_int_equal(g.n, 2); /* the outbound one is not ours to take */
	assert_string_equal(g.ids[0], "SM2");
	assert_string_equal(g.from[0], "+491701234567");
	assert_string_equal(g.body[0], "STOP");
	assert_int_equal(g.at[0], 1796245205000LL); /* date_sent */
	assert_string_equal(g.body[1], "");
	assert_int_equal(g.at[1], 1796241600000LL); /* date_created when not sent */
	assert_string_equal(page.next_url,
			    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?Page=1");
	free(page.next_url);

	res = (struct net_http_result){.err = ERR_OK, .status = 401, .body = "{\"code\":20003}",
				       .body_len = 14};
	tw->inbound_page(&res, "https://api.twilio.com", take, &g, &page);
	assert_int_equal(page.cls, NET_AUTH);
	res = (struct net_http_result){.err = ERR_OK, .status = 200, .body = "{}", .body_len = 2};
	tw->inbound_page(&res, "https://api.twilio.com", take, &g, &page);
	assert_int_equal(page.cls, NET_PERMANENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_keywords),
		cmocka_unit_test(test_configured_keywords),
		cmocka_unit_test(test_route_keys),
		cmocka_unit_test(test_window),
		cmocka_unit_test_setup_teardown(test_settle, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_gate, gate_setup, gate_teardown),
		cmocka_unit_test_setup_teardown(test_inbound, gate_setup, gate_teardown),
		cmocka_unit_test_setup_teardown(test_forget, gate_setup, gate_teardown),
		cmocka_unit_test(test_twilio_body),
		cmocka_unit_test(test_twilio_inbound_url),
		cmocka_unit_test(test_twilio_inbound_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
