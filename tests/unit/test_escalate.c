/* Recipient groups and escalation: the config's "groups", "escalate", "until"
 * and "ack" (each error names its JSON path), the chain's state machine
 * (fw_esc_decide), and the chains in the store (store/chain.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "firmware/escalate.h"
#include "hal/err.h"
#include "store/chain.h"
#include "store/store.h"
#include "tests/unit/store_fx.h"

/* A config with two groups and an escalating route; %s is spliced into the
 * top level (more or other keys), %s into the route. */
static const char base[] =
	"{\"gateway_id\": \"gw1\", \"accounts\": {\"a\": {\"from\": \"whatsapp:+14155550100\","
	"   \"credentials\": \"c\"}},"
	" \"templates\": {\"t\": {\"twilio_content_sid\": \"HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	"   \"variables\": 0, \"status\": \"approved\"}},"
	" %s"
	" \"routes\": [{\"name\": \"r\", \"topic\": \"#\", \"template\": \"t\", %s}]}";
static const char groups[] =
	"\"groups\": {\"oncall\": [\"+49 170 1111111\", \"whatsapp:+4917022222222\"],"
	"             \"backup\": [\"+4917033333333\"]},";
static const char chain[] =
	"\"escalate\": [{\"to\": \"@oncall\", \"after\": \"5m\"},"
	"              {\"to\": [\"@backup\", \"+4917044444444\"], \"after\": 90}]";

static struct cfg_errors errs;

static int parse(const char *top, const char *route, struct cfg **out)
{
	char json[4096];

	snprintf(json, sizeof(json), base, top, route);
	return cfg_parse(json, strlen(json), out, &errs);
}

static void expect_bad(const char *top, const char *route, const char *path, const char *substr)
{
	struct cfg *c = NULL;

	assert_int_equal(parse(top, route, &c), ERR_CONFIG);
	assert_null(c);
	for (unsigned i = 0; i < errs.n; i++)
		if (strcmp(errs.e[i].path, path) == 0 && strstr(errs.e[i].msg, substr))
			return;
	print_message("no error \"%s: ...%s...\" among:\n", path, substr);
	for (unsigned i = 0; i < errs.n; i++)
		print_message("  %s: %s\n", errs.e[i].path, errs.e[i].msg);
	fail();
}

static void test_config_good(void **state)
{
	struct cfg *c = NULL;
	const struct cfg_route *r;
	const struct cfg_group *g;

	(void)state;
	assert_int_equal(parse(groups, chain, &c), ERR_OK);
	g = cfg_group_find(c, "@oncall");
	assert_non_null(g);
	assert_int_equal(g->n_to, 2);
	assert_string_equal(g->to[0], "+491701111111"); /* normalised */
	assert_string_equal(g->to[1], "+4917022222222");
	assert_ptr_equal(cfg_group_find(c, "backup"), &c->groups[1]);
	assert_null(cfg_group_find(c, "nobody"));
	r = &c->routes[0];
	assert_int_equal(r->n_steps, 2);
	assert_int_equal(r->n_to, 1); /* the first step's "to" is the route's */
	assert_string_equal(r->to[0], "@oncall");
	assert_null(r->steps[0].to);
	assert_int_equal(r->steps[0].after_s, 300);
	assert_int_equal(r->steps[1].n_to, 2);
	assert_string_equal(r->steps[1].to[0], "@backup");
	assert_string_equal(r->steps[1].to[1], "+4917044444444");
	assert_int_equal(r->steps[1].after_s, 90);
	assert_false(r->until_delivered);
	assert_int_equal(r->n_ack, 2); /* the default: ACK, OK */
	assert_string_equal(r->ack[0], "ACK");
	assert_string_equal(r->ack[1], "OK");
	cfg_free(c);

	/* a group beside the event's own fields, no escalation */
	assert_int_equal(parse(groups, "\"to\": [\"{phone}\", \"@backup\"]", &c), ERR_OK);
	assert_int_equal(c->routes[0].n_steps, 0);
	assert_string_equal(c->routes[0].to[1], "@backup");
	assert_null(c->routes[0].ack);
	cfg_free(c);

	/* until and ack by language; the first step may name event fields */
	assert_int_equal(parse(groups, "\"escalate\": [{\"to\": \"{phone}\", \"after\": \"2s\"}], "
			       "\"until\": \"delivered\", \"ack\": {\"en\": [\"ACK\"], \"de\": "
			       "[\"QUITTIERT\", \"ok\"]}", &c), ERR_OK);
	r = &c->routes[0];
	assert_true(r->until_delivered);
	assert_int_equal(r->n_ack, 3);
	assert_string_equal(r->ack[1], "QUITTIERT");
	assert_string_equal(r->to[0], "{phone}");
	cfg_free(c);
}

static void test_config_groups_bad(void **state)
{
	(void)state;
	expect_bad("\"groups\": {\"oncall\": []},", "\"to\": \"@oncall\"", "$.groups.oncall",
		   "expected 1..16 numbers, got 0");
	expect_bad("\"groups\": {\"oncall\": [\"+4917011111111\", \"01701234567\"]},",
		   "\"to\": \"@oncall\"", "$.groups.oncall[1]", "E.164 number with its '+'");
	expect_bad("\"groups\": {\"oncall\": [\"+49abc\"]},", "\"to\": \"@oncall\"",
		   "$.groups.oncall[0]", "\"+49abc\"");
	expect_bad("\"groups\": {\"oncall\": [\"+4917011111111\", \"+49 170 11111111\"]},",
		   "\"to\": \"@oncall\"", "$.groups.oncall[1]", "the same number as [0]");
	expect_bad("\"groups\": {\"oncall\": [42]},", "\"to\": \"@oncall\"", "$.groups.oncall[0]",
		   "got a number");
	expect_bad("\"groups\": {\"on call\": [\"+4917011111111\"]},", "\"to\": \"{p}\"",
		   "$.groups[\"on call\"]", "group name");
	expect_bad("\"groups\": [\"+4917011111111\"],", "\"to\": \"{p}\"", "$.groups",
		   "expected an object of groups");
	expect_bad(groups, "\"to\": [\"{phone}\", \"@oncal\"]", "$.routes[0].to[1]",
		   "unknown group \"@oncal\" (known: oncall, backup)");
	expect_bad("", "\"to\": \"@oncall\"", "$.routes[0].to", "unknown group \"@oncall\" (known: none)");
}

static void test_config_escalate_bad(void **state)
{
	(void)state;
	expect_bad(groups, "\"to\": \"@oncall\", \"escalate\": [{\"to\": \"@backup\", \"after\": \"1m\"}]",
		   "$.routes[0].escalate[0].to", "leave the route's out");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\"}]", "$.routes[0].escalate[0].after",
		   "required key is missing");
	expect_bad(groups, "\"escalate\": [{\"after\": \"1m\"}]", "$.routes[0].escalate[0].to",
		   "required key is missing");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"0s\"}]",
		   "$.routes[0].escalate[0].after", "expected a duration");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\", \"who\": 1}]",
		   "$.routes[0].escalate[0].who", "unknown key");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}, "
		   "{\"to\": \"{boss}\", \"after\": \"1m\"}]", "$.routes[0].escalate[1].to",
		   "not event fields");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}, "
		   "{\"to\": [\"@backup\", \"@nobody\"], \"after\": \"1m\"}]",
		   "$.routes[0].escalate[1].to[1]", "unknown group \"@nobody\"");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}, "
		   "{\"to\": \"0170123\", \"after\": \"1m\"}]", "$.routes[0].escalate[1].to",
		   "E.164 number");
	expect_bad(groups, "\"escalate\": []", "$.routes[0].escalate", "expected 1..8 steps");
	expect_bad(groups, "\"escalate\": {\"to\": \"@oncall\"}", "$.routes[0].escalate",
		   "expected an array of steps");
	expect_bad(groups, "\"escalate\": [\"@oncall\"]", "$.routes[0].escalate[0]",
		   "expected an object");
	expect_bad(groups, "\"to\": \"@oncall\", \"until\": \"read\"", "$.routes[0]",
		   "\"until\" goes with \"escalate\"");
	expect_bad(groups, "\"to\": \"@oncall\", \"ack\": [\"ACK\"]", "$.routes[0]",
		   "\"ack\" goes with \"escalate\"");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}], \"until\": \"seen\"",
		   "$.routes[0].until", "expected \"read\" or \"delivered\"");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}], \"ack\": [\" ok\"]",
		   "$.routes[0].ack[0]", "expected a keyword");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}], \"ack\": []",
		   "$.routes[0].ack", "expected 1..64 keywords");
	expect_bad(groups, "\"escalate\": [{\"to\": \"@oncall\", \"after\": \"1m\"}], \"ack\": {\"en\": \"OK\"}",
		   "$.routes[0].ack.en", "expected an array of keywords");
	expect_bad(groups, "\"template\": \"t\"", "$.routes[0].to", "required key is missing");
}

/* ---- the state machine ---- */

static enum fw_esc_action decide(int state, int64_t at, int64_t now, unsigned step, unsigned steps,
				 bool seen)
{
	struct fw_esc_in in = {.state = state, .at_ms = at, .now_ms = now, .step = step,
			       .steps = steps, .seen = seen};

	return fw_esc_decide(&in);
}

static void test_decide(void **state)
{
	(void)state;
	/* an invalid clock holds everything */
	assert_int_equal(decide(STORE_CHAIN_OPEN, 100, 0, 0, 3, false), FW_ESC_NONE);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 0, 0, 0, 3, false), FW_ESC_NONE);
	/* opened before the clock was valid: its deadline is set now */
	assert_int_equal(decide(STORE_CHAIN_OPEN, 0, 5000, 0, 3, false), FW_ESC_ARM);
	/* not yet due */
	assert_int_equal(decide(STORE_CHAIN_OPEN, 6000, 5000, 0, 3, false), FW_ESC_NONE);
	/* due: read -> reached; unread -> the next step, or give up after the last */
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 0, 3, true), FW_ESC_REACHED);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 0, 3, false), FW_ESC_NEXT);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 1, 3, false), FW_ESC_NEXT);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 2, 3, false), FW_ESC_GIVE_UP);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 2, 3, true), FW_ESC_REACHED);
	/* the route lost its escalation, or steps, in a reload */
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 0, 0, false), FW_ESC_STOP);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 0, 5000, 0, 0, false), FW_ESC_STOP);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 5000, 5000, 3, 2, false), FW_ESC_GIVE_UP);
	assert_int_equal(decide(STORE_CHAIN_OPEN, 0, 5000, 3, 2, false), FW_ESC_STOP);
	/* ended chains are forgotten at their time, not before; one that ended
	 * (acknowledged) while the clock was invalid gets its time once it is */
	for (int s = STORE_CHAIN_REACHED; s < STORE_CHAIN__STATES; s++) {
		assert_int_equal(decide(s, 9000, 5000, 1, 3, false), FW_ESC_NONE);
		assert_int_equal(decide(s, 5000, 5000, 1, 3, false), FW_ESC_FORGET);
		assert_int_equal(decide(s, 0, 5000, 1, 3, false), FW_ESC_ARM);
		assert_int_equal(decide(s, 0, 0, 1, 3, false), FW_ESC_NONE);
	}
	/* acknowledgements: open or reached chains only */
	assert_true(fw_esc_ackable(STORE_CHAIN_OPEN));
	assert_true(fw_esc_ackable(STORE_CHAIN_REACHED));
	assert_false(fw_esc_ackable(STORE_CHAIN_ACKED));
	assert_false(fw_esc_ackable(STORE_CHAIN_GAVE_UP));
	assert_false(fw_esc_ackable(STORE_CHAIN_STOPPED));
}

/* ---- the store ---- */

static void put(struct store_txn *t, uint64_t id, const char *event, int64_t at, const char *to)
{
	struct store_chain c = {.id = id, .state = STORE_CHAIN_OPEN, .at_ms = at, .n_cur = 2,
				.cur = {id, id + 1}, .event_id = event, .route = "r",
				.vars_json = "{\"1\":\"x\"}", .reached = to};

	assert_int_equal(store_chain_put(t, &c), ERR_OK);
	for (const char *p = to; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		char one[32];

		snprintf(one, sizeof(one), "%.*s", (int)strcspn(p, ","), p);
		assert_int_equal(store_chain_ref_to(t, one, id), ERR_OK);
	}
}

static void test_store(void **state)
{
	struct store_fx *f = *state;
	struct store_chain c;
	struct store_txn *t;
	uint64_t ids[8];
	unsigned n;
	int64_t next;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	put(t, 10, "ev1", 3000, "+4917011111111,+4917022222222");
	put(t, 20, "ev2", 1000, "+4917022222222");
	put(t, 30, "ev1", 0, "+4917033333333"); /* another route's, before a valid clock */
	assert_int_equal(store_commit(t), ERR_OK);
	store_fx_reopen(f, 16); /* a restart: all of it is on disk */

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_chain_get(t, 10, &c), ERR_OK);
	assert_int_equal(c.state, STORE_CHAIN_OPEN);
	assert_int_equal(c.n_cur, 2);
	assert_int_equal(c.cur[1], 11);
	assert_string_equal(c.event_id, "ev1");
	assert_string_equal(c.vars_json, "{\"1\":\"x\"}");
	assert_string_equal(c.note, "");
	assert_int_equal(store_chain_get(t, 11, &c), ERR_NOTFOUND);
	/* deadlines in order, never by scanning the chains */
	assert_int_equal(store_chain_due(t, 2000, 8, ids, &n, &next), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 30);
	assert_int_equal(ids[1], 20);
	assert_int_equal(next, 3000);
	/* lookups, newest first */
	assert_int_equal(store_chain_by_event(t, "ev1", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 30);
	assert_int_equal(ids[1], 10);
	assert_int_equal(store_chain_by_event(t, "ev", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_chain_by_to(t, "+4917022222222", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 20);
	assert_int_equal(ids[1], 10);
	assert_int_equal(store_chain_by_to(t, "+4917022222222", 1, ids, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 20);
	assert_int_equal(store_chain_by_to(t, "+4917099999999", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 0);
	store_abort(t);

	/* a move: the deadline entry follows; a delete takes the refs along */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_chain_get(t, 20, &c), ERR_OK);
	c.state = STORE_CHAIN_ACKED;
	c.at_ms = 9000;
	c.note = "+491*****222";
	assert_int_equal(store_chain_put(t, &c), ERR_OK);
	assert_int_equal(store_chain_due(t, 5000, 8, ids, &n, &next), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 30);
	assert_int_equal(ids[1], 10);
	assert_int_equal(next, 9000);
	assert_int_equal(store_chain_del(t, 10), ERR_OK);
	assert_int_equal(store_chain_del(t, 10), ERR_OK); /* gone already */
	assert_int_equal(store_chain_get(t, 10, &c), ERR_NOTFOUND);
	assert_int_equal(store_chain_by_to(t, "+4917011111111", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_chain_by_to(t, "+4917022222222", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_chain_by_event(t, "ev1", 8, ids, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_chain_due(t, 99999, 8, ids, &n, &next), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(next, -1);
	assert_int_equal(store_commit(t), ERR_OK);

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_chain_get(t, 20, &c), ERR_OK);
	assert_int_equal(c.state, STORE_CHAIN_ACKED);
	assert_string_equal(c.note, "+491*****222");
	assert_string_equal(store_chain_state_name(c.state), "acknowledged");
	store_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_groups_bad),
		cmocka_unit_test(test_config_escalate_bad),
		cmocka_unit_test(test_decide),
		cmocka_unit_test_setup_teardown(test_store, store_fx_setup, store_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
