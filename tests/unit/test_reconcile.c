/*
 * test_reconcile.c - matching an ambiguous attempt against the provider's
 * list of messages: the Twilio driver reads fabricated list pages, claims
 * are checked in a real store in a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/reconcile.h"
#include "hal/err.h"
#include "store/outbox.h"
#include "store/store.h"
#include "tests/unit/store_fx.h"

#define T0 1767225600000LL /* the ambiguous attempt */
#define TO "+491701234567"
#define FROM "whatsapp:+14155550100"

/* The driver that reads the pages. */

static const struct net_provider *twilio(void)
{
	const struct net_provider *p = net_provider_find("twilio");

	assert_non_null(p);
	return p;
}

static struct store_msg record(const char *vars)
{
	struct store_msg m = {
		.state = STORE_RETRY, .attempts = 1, .flags = STORE_F_AMBIGUOUS | STORE_F_RECONCILE,
		.created_ms = T0 - 1000, .attempt_ms = T0, .event_id = "evt-7", .topic = "t",
		.route = "r", .account = "main", .to = TO, .template_name = "alert",
		.content_sid = "HX1", .vars_json = vars, .provider_id = "", .err_text = "",
	};
	return m;
}

/* A record that already holds provider id `sid`. */
static void claim(struct store_fx *f, const char *sid)
{
	struct store_msg m = record("{}");
	struct store_txn *t;

	m.state = STORE_SENT;
	m.event_id = sid;
	m.provider_id = sid;
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
}

/* The list a reconciliation asks for: our account's messages. */
#define LIST "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"

/* One listed message; date is an RFC 2822 date. */
static void item(char *buf, size_t cap, const char *sid, const char *to, const char *body,
		 const char *date)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n,
		 "%s{\"sid\":\"%s\",\"to\":\"whatsapp:%s\",\"from\":\"%s\",\"body\":\"%s\","
		 "\"date_created\":\"%s\"}",
		 strchr(buf, '{') ? "," : "", sid, to, FROM, body, date);
}

/* The walks' counts, as the daemon keeps them in struct fw. */
static struct fw_walk_n walks;

static enum fw_recon_step page(struct store_fx *f, struct fw_recon *r, const char *items,
			       const char *next, char **next_url, struct net_send_outcome *out)
{
	char body[4096];
	struct net_http_result res = {.status = 200, .body = body, .url = "https://sim" LIST "?P=0"};

	snprintf(body, sizeof(body), "{\"messages\":[%s],\"next_page_uri\":%s}", items,
		 next ? next : "null");
	res.body_len = strlen(body);
	return fw_recon_page(r, f->s, &walks, twilio(), "https://sim", &res, next_url, out);
}

/* 2026-01-01 00:00:00 UTC is T0; the skew reaches back 5 minutes. */
#define AT_T0 "Thu, 01 Jan 2026 00:00:00 +0000"
#define AFTER "Thu, 01 Jan 2026 00:00:03 +0000"
#define IN_SKEW "Wed, 31 Dec 2025 23:56:00 +0000"
#define TOO_OLD "Wed, 31 Dec 2025 23:54:59 +0000"

static void test_found_skips_others(void **state)
{
	struct store_fx *f = *state;
	struct store_msg m = record("{\"1\":\"Ana\",\"2\":\"evt-7\"}");
	struct net_send_outcome out;
	struct fw_recon r;
	char items[2048] = "", *next = (char *)1;

	claim(f, "SMclaimed");
	item(items, sizeof(items), "SMother", "+15550001111", "Hi Ana, Ref evt-7", AFTER);
	item(items, sizeof(items), "SMwrong", TO, "Hi Ana, Ref evt-8", AFTER);
	item(items, sizeof(items), "SMclaimed", TO, "Hi Ana, Ref evt-7", AFTER);
	item(items, sizeof(items), "SMours", TO, "HX1: Ana | evt-7", IN_SKEW);
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, items, "\"/p2\"", &next, &out), FW_RECON_FOUND);
	assert_null(next);
	assert_string_equal(out.id, "SMours");
	assert_int_equal(out.cls, NET_OK);
	fw_recon_free(&r);
}

/* A free-form attempt is found by its text, whatever the variables of its
 * fallback template say. */
static void test_found_by_text(void **state)
{
	struct store_fx *f = *state;
	struct store_msg m = record("{\"1\":\"Ana\",\"2\":\"evt-7\"}");
	struct net_send_outcome out;
	struct fw_recon r;
	char items[2048] = "", *next = NULL;

	m.flags |= STORE_F_FREEFORM;
	m.body = "Your code is 1234";
	item(items, sizeof(items), "SMtpl", TO, "HX1: Ana | evt-7", AFTER);
	item(items, sizeof(items), "SMtext", TO, "Your code is 1234", AT_T0);
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, items, NULL, &next, &out), FW_RECON_FOUND);
	assert_string_equal(out.id, "SMtext");
	fw_recon_free(&r);
}

/* A value is matched whole: event s-1199's variables are bytes of event
 * s-11999's text, but that message is another event's (the kill storm lost
 * s-1199 when its reconciliation took s-11999's message for it). A value at
 * the text's edge or next to punctuation still matches. */
static void test_value_not_inside_a_longer_one(void **state)
{
	struct store_fx *f = *state;
	struct store_msg m = record("{\"1\":\"F-99\",\"2\":\"3\",\"3\":\"s-1199\"}");
	struct net_send_outcome out;
	struct fw_recon r;
	char items[2048] = "", *next = NULL;

	item(items, sizeof(items), "SMlonger", TO, "HX1: F-99 | 3 | s-11999", AFTER);
	item(items, sizeof(items), "SMwider", TO, "HX1: F-990 | 3 | xs-1199", AFTER);
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, items, NULL, &next, &out), FW_RECON_ABSENT);
	fw_recon_free(&r);

	items[0] = '\0';
	item(items, sizeof(items), "SMlonger", TO, "HX1: F-99 | 3 | s-11999", AFTER);
	item(items, sizeof(items), "SMours", TO, "F-99 (3): s-1199", AT_T0);
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, items, NULL, &next, &out), FW_RECON_FOUND);
	assert_string_equal(out.id, "SMours");
	fw_recon_free(&r);
}

static void test_absent_when_past_window(void **state)
{
	struct store_fx *f = *state;
	struct store_msg m = record("{\"1\":\"Ana\",\"2\":\"evt-7\"}");
	struct net_send_outcome out;
	struct fw_recon r;
	char items[2048] = "", *next = NULL;

	item(items, sizeof(items), "SMnew", TO, "Hi Bo, Ref evt-9", AT_T0);
	item(items, sizeof(items), "SMold", TO, "Hi Ana, Ref evt-7", TOO_OLD); /* before the attempt */
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	/* Older than the window: the next page is not fetched. */
	assert_int_equal(page(f, &r, items, "\"/p2\"", &next, &out), FW_RECON_ABSENT);
	assert_null(next);
	assert_non_null(strstr(out.text, "not found"));
	fw_recon_free(&r);
}

static void test_pages_then_found_or_gives_up(void **state)
{
	struct store_fx *f = *state;
	struct store_msg m = record("{\"1\":\"evt-7\"}");
	struct net_send_outcome out;
	struct fw_recon r;
	char other[512] = "", ours[512] = "", *next = NULL;
	uint64_t capped, refused;
	unsigned i;

	item(other, sizeof(other), "SMx", TO, "Ref evt-1", AFTER);
	item(ours, sizeof(ours), "SMours", TO, "Ref evt-7", AFTER);
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, other, "\"" LIST "?P=2\"", &next, &out), FW_RECON_MORE);
	assert_string_equal(next, "https://sim" LIST "?P=2");
	free(next);
	assert_int_equal(page(f, &r, ours, "\"" LIST "?P=3\"", &next, &out), FW_RECON_FOUND);
	assert_string_equal(out.id, "SMours");
	fw_recon_free(&r);

	/* Never past the window, never found: stops after the page limit,
	 * counted. */
	capped = walks.capped;
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	for (i = 1; i < FW_RECON_MAX_PAGES; i++) {
		assert_int_equal(page(f, &r, other, "\"" LIST "?P=1\"", &next, &out), FW_RECON_MORE);
		free(next);
	}
	assert_int_equal(page(f, &r, other, "\"" LIST "?P=1\"", &next, &out), FW_RECON_ABSENT);
	assert_null(next);
	assert_non_null(strstr(out.text, "gave up paging: stopped at 10 pages"));
	assert_int_equal(walks.capped, capped + 1);
	fw_recon_free(&r);

	/* A next link into another account: not followed, not found, counted. */
	refused = walks.refused;
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, other, "\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			      "/Messages.json?Page=1\"", &next, &out), FW_RECON_ABSENT);
	assert_null(next);
	assert_non_null(strstr(out.text, "(1 page, gave up paging: next_page_uri /2010-04-01/"
				"Accounts/ACaaaa"));
	assert_int_equal(walks.refused, refused + 1);
	fw_recon_free(&r);
}

static void test_no_vars_and_failures(void **state)
{
	struct store_fx *f = *state;
	struct store_msg m = record("");
	struct net_http_result res = {.status = 503, .body = "{}", .body_len = 2};
	struct net_send_outcome out;
	struct fw_recon r;
	char items[512] = "", *next = NULL;

	/* Without variables any message from us to them in the window is it. */
	item(items, sizeof(items), "SMany", TO, "Your alarm", AFTER);
	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(page(f, &r, items, NULL, &next, &out), FW_RECON_FOUND);
	assert_string_equal(out.id, "SMany");
	fw_recon_free(&r);

	assert_int_equal(fw_recon_start(&r, &m, FROM), ERR_OK);
	assert_int_equal(fw_recon_page(&r, f->s, &walks, twilio(), "https://sim", &res, &next, &out),
			 FW_RECON_FAILED);
	assert_int_equal(out.cls, NET_TRANSIENT);
	assert_null(next);
	/* An empty list with no next page: not there. */
	assert_int_equal(page(f, &r, "", NULL, &next, &out), FW_RECON_ABSENT);
	fw_recon_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fx_setup, store_fx_teardown)
		T(test_found_skips_others),
		T(test_found_by_text),
		T(test_value_not_inside_a_longer_one),
		T(test_absent_when_past_window),
		T(test_pages_then_found_or_gives_up),
		T(test_no_vars_and_failures),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
