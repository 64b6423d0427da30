/*
 * test_twilio.c - the Twilio driver: request building and outcome
 * classification, list pages and where their next links may lead (with
 * the walks' page cap and own-number rule from firmware/walk.h). Pure
 * functions, no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/walk.h"
#include "hal/err.h"
#include "net/providers/provider.h"
#include "net/providers/twilio.h"

static const struct net_provider *tw(void)
{
	const struct net_provider *p = net_provider_find("twilio");

	assert_non_null(p);
	return p;
}

static struct net_send_msg base_msg(void)
{
	struct net_send_msg m = {
		.api_base = "https://api.twilio.com",
		.account_id = "AC0123456789abcdef0123456789abcdef",
		.user = "AC0123456789abcdef0123456789abcdef",
		.password = "secret-token",
		.from = "whatsapp:+14155550100",
		.to = "+491701234567",
		.content_sid = "HX0123456789abcdef0123456789abcdef",
		.vars_json = "{\"1\":\"Ana\",\"2\":\"12.50 EUR\"}",
	};
	return m;
}

static void build_ok(const struct net_send_msg *m, char **url, char **body)
{
	assert_int_equal(tw()->build(m, url, body), ERR_OK);
	assert_non_null(*url);
	assert_non_null(*body);
}

/* ---- building ---- */

static void test_find(void **state)
{
	(void)state;
	assert_string_equal(tw()->name, "twilio");
	assert_null(net_provider_find("vonage"));
	assert_null(net_provider_find(""));
	assert_null(net_provider_find(NULL));
}

static void test_class_names(void **state)
{
	static const char *const want[] = {"ok", "transient", "rate-limited", "permanent",
					   "opted-out", "outside-window", "auth", "template",
					   "ambiguous"};
	int i;

	(void)state;
	for (i = NET_OK; i <= NET_AMBIGUOUS; i++)
		assert_string_equal(net_class_name(i), want[i]);
	assert_string_equal(net_class_name(-1), "unknown");
	assert_string_equal(net_class_name(99), "unknown");
}

static void test_build_basic(void **state)
{
	struct net_send_msg m = base_msg();
	char *url, *body;

	(void)state;
	build_ok(&m, &url, &body);
	assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/"
				 "AC0123456789abcdef0123456789abcdef/Messages.json");
	assert_string_equal(body, "To=whatsapp%3A%2B491701234567"
				  "&From=whatsapp%3A%2B14155550100"
				  "&ContentSid=HX0123456789abcdef0123456789abcdef"
				  "&ContentVariables=%7B%221%22%3A%22Ana%22%2C%222%22%3A%2212.50%20EUR%22%7D");
	assert_null(strstr(body, "secret"));
	assert_null(strstr(url, "secret"));
	free(url);
	free(body);
}

static void test_build_trailing_slash_and_sim(void **state)
{
	struct net_send_msg m = base_msg();
	char *url, *body;

	(void)state;
	m.api_base = "https://localhost:8443/";
	m.account_id = "AC1";
	build_ok(&m, &url, &body);
	assert_string_equal(url, "https://localhost:8443/2010-04-01/Accounts/AC1/Messages.json");
	free(url);
	free(body);
}

static void test_build_account_is_one_path_segment(void **state)
{
	struct net_send_msg m = base_msg();
	char *url, *body;

	(void)state;
	m.account_id = "AC1/../Keys?x=1";
	build_ok(&m, &url, &body);
	assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/"
				 "AC1%2F..%2FKeys%3Fx%3D1/Messages.json");
	free(url);
	free(body);
}

static void test_build_utf8_and_specials(void **state)
{
	struct net_send_msg m = base_msg();
	char *url, *body;

	(void)state;
	/* ë = C3 AB, € = E2 82 AC; & and = inside a value must not split fields */
	m.vars_json = "{\"1\":\"Zo\xc3\xab & Co=\xe2\x82\xac+5\"}";
	build_ok(&m, &url, &body);
	assert_non_null(strstr(body, "&ContentVariables=%7B%221%22%3A%22Zo%C3%AB%20%26%20Co%3D"
				     "%E2%82%AC%2B5%22%7D"));
	assert_int_equal(strchr(body, '+') == NULL, 1);
	free(url);
	free(body);
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool raw_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~", c));
}

/* Every byte 1..255 survives a decode, and only unreserved bytes go raw. */
static void test_build_every_byte_roundtrips(void **state)
{
	struct net_send_msg m = base_msg();
	char vars[256], dec[256], *url, *body, *p;
	size_t n = 0;
	int i;

	(void)state;
	for (i = 1; i < 256; i++)
		vars[i - 1] = (char)i;
	vars[255] = '\0';
	m.vars_json = vars;
	build_ok(&m, &url, &body);
	p = strstr(body, "&ContentVariables=");
	assert_non_null(p);
	for (p += strlen("&ContentVariables="); *p; n++) {
		if (*p == '%') {
			assert_true(unhex(p[1]) >= 0 && unhex(p[2]) >= 0);
			dec[n] = (char)(unhex(p[1]) * 16 + unhex(p[2]));
			p += 3;
		} else {
			assert_true(raw_ok(*p));
			dec[n] = *p++;
		}
	}
	assert_int_equal(n, 255);
	assert_memory_equal(dec, vars, 255);
	free(url);
	free(body);
}

static void test_build_variants(void **state)
{
	struct net_send_msg m = base_msg();
	char *url, *body;

	(void)state;
	m.vars_json = NULL;
	m.to = "whatsapp:+15551234567";
	build_ok(&m, &url, &body);
	assert_null(strstr(body, "ContentVariables"));
	assert_non_null(strstr(body, "To=whatsapp%3A%2B15551234567&"));
	assert_null(strstr(body, "whatsapp%3Awhatsapp"));
	free(url);
	free(body);
}

static void test_build_rejects_missing(void **state)
{
	const char **fields[] = {NULL, NULL, NULL, NULL, NULL};
	struct net_send_msg m = base_msg();
	char *url = NULL, *body = NULL;
	size_t i;

	(void)state;
	fields[0] = &m.api_base;
	fields[1] = &m.account_id;
	fields[2] = &m.from;
	fields[3] = &m.to;
	fields[4] = &m.content_sid;
	for (i = 0; i < 5; i++) {
		const char *keep = *fields[i];

		*fields[i] = NULL;
		assert_int_equal(tw()->build(&m, &url, &body), ERR_INVAL);
		*fields[i] = "";
		assert_int_equal(tw()->build(&m, &url, &body), ERR_INVAL);
		*fields[i] = keep;
	}
	assert_null(url);
	assert_null(body);
	assert_int_equal(tw()->build(NULL, &url, &body), ERR_INVAL);
}

/* ---- outcomes ---- */

struct ocase {
	int err;
	bool sent;
	long status, retry_after;
	const char *body;
	int cls, code;
	long want_retry;
	const char *text; /* substring of out.text, NULL = not checked */
	const char *id;
};

static void check(const struct ocase *c, int line)
{
	struct net_http_result res;
	struct net_send_outcome out;

	memset(&res, 0, sizeof(res));
	memset(&out, 0x5a, sizeof(out));
	res.err = c->err;
	res.maybe_sent = c->sent;
	res.status = c->status;
	res.retry_after_s = c->retry_after;
	res.body = c->body ? c->body : "";
	res.body_len = strlen(res.body);
	if (c->err != ERR_OK)
		snprintf(res.error, sizeof(res.error), "curl says %d", c->err);
	tw()->outcome(&res, &out);
	if (out.cls != c->cls || out.code != c->code || out.retry_after_s != c->want_retry)
		fail_msg("case at line %d: cls %s code %d retry %ld (%s)", line,
			 net_class_name(out.cls), out.code, out.retry_after_s, out.text);
	if (c->text && !strstr(out.text, c->text))
		fail_msg("case at line %d: text '%s' lacks '%s'", line, out.text, c->text);
	assert_string_equal(out.id, c->id ? c->id : "");
	assert_true(memchr(out.text, '\0', sizeof(out.text)) != NULL);
	assert_true(memchr(out.status, '\0', sizeof(out.status)) != NULL);
}

#define OC(e, s, st, ra, b, cls, code, wr, text) \
	check(&(struct ocase){e, s, st, ra, b, cls, code, wr, text, NULL}, __LINE__)
#define OCID(e, s, st, ra, b, cls, code, wr, text, id) \
	check(&(struct ocase){e, s, st, ra, b, cls, code, wr, text, id}, __LINE__)

static void test_outcome_success(void **state)
{
	(void)state;
	OCID(ERR_OK, true, 201, 0, "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\","
				 "\"error_code\":null}",
	   NET_OK, 201, 0, NULL, "SM0123456789abcdef0123456789abcdef");
	OCID(ERR_OK, true, 200, 0, "{\"sid\":\"SM1\",\"status\":\"accepted\"}", NET_OK, 200, 0, NULL, "SM1");
	/* 2xx we cannot tie to a message: ambiguous, never ok, never failed */
	OC(ERR_OK, true, 201, 0, "{\"status\":\"queued\"}", NET_AMBIGUOUS, 201, 0, "2xx without sid");
	OC(ERR_OK, true, 201, 0, "", NET_AMBIGUOUS, 201, 0, "2xx without sid");
	OC(ERR_OK, true, 201, 0, "<html>ok</html>", NET_AMBIGUOUS, 201, 0, "2xx without sid");
	OC(ERR_OK, true, 201, 0, "{\"sid\":12345}", NET_AMBIGUOUS, 201, 0, "2xx without sid");
	OC(ERR_OK, true, 201, 0, "{\"sid\":\"\"}", NET_AMBIGUOUS, 201, 0, NULL);
	OC(ERR_OK, true, 201, 0, "{\"sid\":\"SM1/../x\"}", NET_AMBIGUOUS, 201, 0, NULL);
	OC(ERR_OK, true, 201, 0, "[{\"sid\":\"SM1\"}]", NET_AMBIGUOUS, 201, 0, NULL);
	OC(ERR_OK, true, 201, 0, "{\"sid\":\"SM1\"", NET_AMBIGUOUS, 201, 0, NULL);
	OC(ERR_OK, true, 201, 0, "{\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	   NET_AMBIGUOUS, 201, 0, NULL);
}

static void test_outcome_success_status_truncated(void **state)
{
	struct net_http_result res = {.err = ERR_OK, .maybe_sent = true, .status = 201};
	struct net_send_outcome out;

	(void)state;
	res.body = "{\"sid\":\"SM9\",\"status\":\"a-very-long-status-text-from-a-broken-server\"}";
	res.body_len = strlen(res.body);
	tw()->outcome(&res, &out);
	assert_int_equal(out.cls, NET_OK);
	assert_string_equal(out.id, "SM9");
	/* cut to what fits (the driver's buffer may be the smaller one) */
	assert_true(strlen(out.status) < sizeof(out.status));
	assert_int_equal(strncmp(out.status, "a-very-long-status-text", 23), 0);
}

/* The routine create answers are not kept (the record stays layout 2);
 * anything else Twilio says of the message is. */
static void test_outcome_success_status_routine(void **state)
{
	static const char *const bodies[] = {
		"{\"sid\":\"SM1\",\"status\":\"queued\"}",
		"{\"sid\":\"SM1\",\"status\":\"accepted\"}",
		"{\"sid\":\"SM1\",\"status\":\"scheduled\"}",
	};
	struct net_http_result res = {.err = ERR_OK, .maybe_sent = true, .status = 201};
	struct net_send_outcome out;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		res.body = bodies[i];
		res.body_len = strlen(res.body);
		tw()->outcome(&res, &out);
		assert_int_equal(out.cls, NET_OK);
		assert_string_equal(out.status, i < 2 ? "" : "scheduled");
	}
}

static void test_outcome_codes_400(void **state)
{
	static const struct {
		int code, cls;
	} t[] = {
		{21610, NET_OPTED_OUT}, {63014, NET_OPTED_OUT}, {63016, NET_WINDOW},
		{63027, NET_TEMPLATE},  {63028, NET_TEMPLATE},  {21654, NET_PERMANENT},
		{63030, NET_TEMPLATE},  {63018, NET_RATE},      {63017, NET_RATE},
		{63038, NET_RATE},      {63012, NET_TRANSIENT}, {30008, NET_TRANSIENT},
		{20500, NET_TRANSIENT}, {20503, NET_TRANSIENT}, {21211, NET_PERMANENT},
		{21614, NET_PERMANENT}, {63003, NET_PERMANENT}, {63024, NET_PERMANENT},
		{21408, NET_PERMANENT}, {21658, NET_PERMANENT}, {99999, NET_PERMANENT},
	};
	char body[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"code\":%d,\"message\":\"reason %d\",\"more_info\":\"https://x\",\"status\":400}",
			 t[i].code, t[i].code);
		OC(ERR_OK, true, 400, 0, body, t[i].cls, t[i].code, 0, "reason");
		assert_int_equal(net_twilio_code_class(t[i].code), t[i].cls);
	}
}

static void test_outcome_auth_rate_5xx(void **state)
{
	(void)state;
	OC(ERR_OK, true, 401, 0, "{\"status\":401,\"message\":\"Authenticate\",\"code\":20003}",
	   NET_AUTH, 20003, 0, "Authenticate");
	OC(ERR_OK, true, 401, 0, "Unauthorized", NET_AUTH, 401, 0, NULL);
	OC(ERR_OK, true, 403, 0, "{\"code\":20003,\"message\":\"Permission denied\"}", NET_AUTH, 20003, 0,
	   "Permission denied");
	OC(ERR_OK, true, 429, 7, "{\"code\":20429,\"message\":\"Too Many Requests\"}", NET_RATE, 20429, 7,
	   "Too Many");
	OC(ERR_OK, true, 429, 30, "", NET_RATE, 429, 30, NULL);
	OC(ERR_OK, true, 429, -5, "", NET_RATE, 429, 0, NULL); /* past HTTP-date */
	OC(ERR_OK, true, 500, 0, "{\"code\":20500,\"message\":\"Internal\"}", NET_AMBIGUOUS, 20500, 0,
	   "Internal");
	OC(ERR_OK, true, 503, 4, "<html>busy</html>", NET_AMBIGUOUS, 503, 4, "HTTP 503");
	OC(ERR_OK, true, 502, 0, NULL, NET_AMBIGUOUS, 502, 0, NULL);
}

static void test_outcome_transport(void **state)
{
	(void)state;
	OC(ERR_TIMEOUT, true, 0, 0, NULL, NET_AMBIGUOUS, 0, 0, "curl says");
	OC(ERR_TIMEOUT, true, 0, 0, NULL, NET_AMBIGUOUS, 0, 0, "after the request was sent");
	OC(ERR_CONN, false, 0, 0, NULL, NET_TRANSIENT, 0, 0, "could not connect");
	OC(ERR_HTTP, true, 0, 0, NULL, NET_AMBIGUOUS, 0, 0, NULL);  /* reset after send */
	OC(ERR_HTTP, false, 0, 0, NULL, NET_TRANSIENT, 0, 0, NULL);
	OC(ERR_TLS, false, 0, 0, NULL, NET_TRANSIENT, 0, 0, "TLS error: curl says");
	OC(ERR_CLOSED, true, 0, 0, NULL, NET_AMBIGUOUS, 0, 0, NULL);
	OC(ERR_TOOBIG, true, 201, 0, NULL, NET_AMBIGUOUS, 201, 0, NULL);
}

static void test_outcome_garbage(void **state)
{
	static const char head[] = "{\"code\":21211,\"message\":\"";
	char big[3000];

	(void)state;
	OC(ERR_OK, true, 400, 0, "garbage<html>", NET_PERMANENT, 400, 0, "HTTP 400 with unparseable body");
	OC(ERR_OK, true, 400, 0, "", NET_PERMANENT, 400, 0, "HTTP 400 with unparseable body");
	OC(ERR_OK, true, 404, 0, "[21610]", NET_PERMANENT, 404, 0, "HTTP 404 with unparseable body");
	OC(ERR_OK, true, 400, 0, "null", NET_PERMANENT, 400, 0, NULL);
	OC(ERR_OK, true, 400, 0, "{\"code\":\"abc\"}", NET_PERMANENT, 400, 0, "unparseable");
	OC(ERR_OK, true, 400, 0, "{\"code\":63016.5}", NET_PERMANENT, 400, 0, NULL);
	OC(ERR_OK, true, 400, 0, "{\"code\":-63016}", NET_PERMANENT, 400, 0, NULL);
	OC(ERR_OK, true, 400, 0, "{\"code\":1e300}", NET_PERMANENT, 400, 0, NULL);
	OC(ERR_OK, true, 400, 0, "{\"code\":\"63016\"}", NET_WINDOW, 63016, 0, NULL);
	OC(ERR_OK, true, 400, 0, "{\"code\":63016,\"message\":42}", NET_WINDOW, 63016, 0, "HTTP 400");
	OC(ERR_OK, true, 400, 0, "{\"code\":63016,\"message\":\"a\\nb\\u0001c\"}", NET_WINDOW, 63016, 0,
	   "a b c");
	OC(ERR_OK, true, 302, 0, "", NET_PERMANENT, 302, 0, "unexpected HTTP 302");
	memcpy(big, head, sizeof(head) - 1);
	memset(big + sizeof(head) - 1, 'm', sizeof(big) - sizeof(head) - 2);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	OC(ERR_OK, true, 400, 0, big, NET_PERMANENT, 21211, 0, "mmmm");
}

/* ---- listing (reconciliation) ---- */

static void test_list_url(void **state)
{
	struct net_send_msg m = base_msg();
	char *url = NULL;

	(void)state;
	assert_int_equal(tw()->list_url(&m, &url), ERR_OK);
	assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/"
				 "AC0123456789abcdef0123456789abcdef/Messages.json"
				 "?To=whatsapp%3A%2B491701234567&From=whatsapp%3A%2B14155550100"
				 "&PageSize=20");
	free(url);
	m.to = NULL;
	assert_int_equal(tw()->list_url(&m, &url), ERR_INVAL);
}

struct seen {
	unsigned n, stop_at;
	char ids[8][64], to[8][32], from[8][32], body[8][64];
	int64_t created[8];
};

static int see(const struct net_listed *l, void *arg)
{
	struct seen *s = arg;

	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", l->id);
	snprintf(s->to[s->n], sizeof(s->to[0]), "%s", l->to);
	snprintf(s->from[s->n], sizeof(s->from[0]), "%s", l->from);
	snprintf(s->body[s->n], sizeof(s->body[0]), "%s", l->body);
	s->created[s->n] = l->created_ms;
	return ++s->n == s->stop_at;
}

#define ACCOUNT "AC0123456789abcdef0123456789abcdef"
#define LIST_PATH "/2010-04-01/Accounts/" ACCOUNT "/Messages.json"
#define LIST_URL "https://api.twilio.com" LIST_PATH "?To=whatsapp%3A%2B491701234567&PageSize=20"

static void list(const char *body, long status, int err, struct seen *s, struct net_list_page *p)
{
	struct net_http_result res = {.err = err, .status = status, .body = body,
				      .body_len = body ? strlen(body) : 0, .url = LIST_URL};

	memset(s, 0, sizeof(*s));
	tw()->list_page(&res, "https://api.twilio.com/", see, s, p);
}

static void test_list_page(void **state)
{
	static const char page1[] =
		"{\"messages\":["
		"{\"sid\":\"SM2\",\"to\":\"whatsapp:+491701234567\",\"from\":\"whatsapp:+14155550100\","
		" \"body\":\"Hi Ana\",\"date_created\":\"Mon, 06 Jan 2025 10:00:01 +0000\"},"
		"{\"sid\":\"SM bad\",\"to\":\"+1\",\"from\":\"+2\"},"
		"{\"sid\":\"SM1\",\"to\":\"+491701234567\",\"from\":\"whatsapp:+14155550100\","
		" \"body\":null,\"date_created\":\"Sun, 05 Jan 2025 23:00:00 -0130\"},"
		"{\"sid\":\"SM0\",\"to\":\"+4917\",\"from\":\"+1415\",\"date_created\":\"06 Jan 2025\"}],"
		"\"next_page_uri\":\"" LIST_PATH "?PageSize=20&PageToken=PASM0\"}";
	struct net_list_page p;
	struct seen s;

	(void)state;
	list(page1, 200, ERR_OK, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(p.n, 4);
	assert_int_equal(s.n, 3); /* "SM bad" is no plain id: skipped */
	assert_string_equal(s.ids[0], "SM2");
	assert_string_equal(s.to[0], "+491701234567");
	assert_string_equal(s.from[0], "+14155550100");
	assert_string_equal(s.body[0], "Hi Ana");
	assert_int_equal(s.created[0], 1736157601000LL);
	assert_string_equal(s.to[1], "+491701234567");
	assert_string_equal(s.body[1], "");
	assert_int_equal(s.created[1], 1736123400000LL); /* 23:00 at -01:30 is 00:30 UTC */
	assert_int_equal(s.created[2], -1);
	assert_int_equal(p.oldest_ms, -1);
	assert_string_equal(p.next_url, "https://api.twilio.com" LIST_PATH
					"?PageSize=20&PageToken=PASM0");
	free(p.next_url);

	/* each() stops the walk; the last page has no next. */
	memset(&s, 0, sizeof(s));
	{
		struct net_http_result res = {.status = 200, .body = page1, .body_len = strlen(page1),
					      .url = "https://x" LIST_PATH};
		s.stop_at = 1;
		tw()->list_page(&res, "https://x", see, &s, &p);
	}
	assert_int_equal(s.n, 1);
	free(p.next_url);
	list("{\"messages\":[],\"next_page_uri\":null}", 200, ERR_OK, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(p.n, 0);
	assert_null(p.next_url);
}

static void test_list_page_failures(void **state)
{
	static const struct {
		const char *body;
		long status;
		int err, cls;
	} cases[] = {
		{"{\"code\":20500,\"message\":\"Internal\"}", 500, ERR_OK, NET_TRANSIENT},
		{"{\"code\":20003,\"message\":\"Authenticate\"}", 401, ERR_OK, NET_AUTH},
		{"{\"code\":20429}", 429, ERR_OK, NET_RATE},
		{"{\"code\":20404,\"message\":\"not found\"}", 404, ERR_OK, NET_PERMANENT},
		{"<html>", 200, ERR_OK, NET_PERMANENT},
		{"{\"messages\":{}}", 200, ERR_OK, NET_PERMANENT},
		{NULL, 0, ERR_TIMEOUT, NET_TRANSIENT},
		{NULL, 0, ERR_CONN, NET_TRANSIENT},
	};
	struct net_list_page p;
	struct seen s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		list(cases[i].body, cases[i].status, cases[i].err, &s, &p);
		if (p.cls != cases[i].cls)
			fail_msg("case %zu: class %d, want %d (%s)", i, p.cls, cases[i].cls, p.text);
		assert_int_equal(s.n, 0);
		assert_null(p.next_url);
		assert_true(p.text[0] != '\0');
	}
}

/* GET .../Messages.json, example readFullPage1 of twilio-oai
 * spec/json/twilio_api_v2010.json, as published: account ACaaaa..., its
 * next_page_uri in that account. */
static const char spec_page1[] =
	"{\"end\":1,\"first_page_uri\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
	"Messages.json?To=%2B123456789&From=%2B987654321&DateSent%3E=2008-01-02&PageSize=2&Page=0"
	"\",\"next_page_uri\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages."
	"json?To=%2B123456789&From=%2B987654321&DateSent%3E=2008-01-02&PageSize=2&Page=1&PageToke"
	"n=PAMMc26223853f8c46b4ab7dfaa6abba0a26\",\"page\":0,\"page_size\":2,\"previous_page_uri\""
	":null,\"messages\":[{\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"api_versio"
	"n\":\"2010-04-01\",\"body\":\"testing\",\"date_created\":\"Fri, 24 May 2019 17:44:46 +00"
	"00\",\"date_sent\":\"Fri, 24 May 2019 17:44:50 +0000\",\"date_updated\":\"Fri, 24 May 20"
	"19 17:44:50 +0000\",\"direction\":\"outbound-api\",\"error_code\":null,\"error_message\""
	":null,\"from\":\"+12019235161\",\"messaging_service_sid\":\"MGaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaa\",\"num_media\":\"0\",\"num_segments\":\"1\",\"price\":\"-0.00750\",\"price_unit\""
	":\"USD\",\"sid\":\"SMded05904ccb347238880ca9264e8fe1c\",\"status\":\"sent\",\"subresourc"
	"e_uris\":{\"media\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/S"
	"Mded05904ccb347238880ca9264e8fe1c/Media.json\",\"feedback\":\"/2010-04-01/Accounts/ACaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMded05904ccb347238880ca9264e8fe1c/Feedback.json\""
	"},\"to\":\"+18182008801\",\"uri\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaa/Messages/SMded05904ccb347238880ca9264e8fe1c.json\"},{\"account_sid\":\"ACaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaa\",\"api_version\":\"2010-04-01\",\"body\":\"look mom I have media!"
	"\",\"date_created\":\"Fri, 24 May 2019 17:44:46 +0000\",\"date_sent\":\"Fri, 24 May 2019"
	" 17:44:49 +0000\",\"date_updated\":\"Fri, 24 May 2019 17:44:49 +0000\",\"direction\":\"i"
	"nbound\",\"error_code\":30004,\"error_message\":\"Message blocked\",\"from\":\"+12019235"
	"161\",\"messaging_service_sid\":\"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"num_media\":\"3"
	"\",\"num_segments\":\"1\",\"price\":\"-0.00750\",\"price_unit\":\"USD\",\"sid\":\"MMc262"
	"23853f8c46b4ab7dfaa6abba0a26\",\"status\":\"received\",\"subresource_uris\":{\"media\":\""
	"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/MMc26223853f8c46b4ab7df"
	"aa6abba0a26/Media.json\",\"feedback\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaa/Messages/MMc26223853f8c46b4ab7dfaa6abba0a26/Feedback.json\"},\"to\":\"+181820088"
	"01\",\"uri\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/MMc26223"
	"853f8c46b4ab7dfaa6abba0a26.json\"}],\"start\":0,\"uri\":\"/2010-04-01/Accounts/ACaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json?To=%2B123456789&From=%2B987654321&DateSent%3E=20"
	"08-01-02&PageSize=2&Page=0\"}";

#define SPEC_ACCOUNT "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* The spec's page with its account made ours (the same length). */
static char *spec_ours(void)
{
	char *s = strdup(spec_page1), *p = s;

	assert_non_null(s);
	while ((p = strstr(p, SPEC_ACCOUNT)))
		memcpy(p, ACCOUNT, strlen(ACCOUNT));
	return s;
}

static void spec_list(const char *body, const char *url, struct seen *s, struct net_list_page *p)
{
	struct net_http_result res = {.status = 200, .body = body, .body_len = strlen(body),
				      .url = url};

	memset(s, 0, sizeof(*s));
	tw()->list_page(&res, "https://api.twilio.com", see, s, p);
}

/* The spec's reply to our request: its next page is another account's
 * list. Not followed, whatever the page held; the walk ends and counts it. */
static void test_spec_foreign_next(void **state)
{
	struct fw_walk_n n = {0};
	struct net_list_page p;
	struct seen s;
	char why[256];

	(void)state;
	spec_list(spec_page1, LIST_URL, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(s.n, 2); /* the entries are read */
	assert_null(p.next_url);
	assert_true(p.refused_next);
	assert_non_null(strstr(p.text, "next_page_uri /2010-04-01/Accounts/" SPEC_ACCOUNT));
	assert_non_null(strstr(p.text, "not followed: it leaves " LIST_PATH));
	assert_false(fw_walk_on(&n, "inbound", "main", &p, 1, 10, why, sizeof(why)));
	assert_int_equal(n.refused, 1);
	assert_int_equal(n.capped, 0);
	assert_string_equal(why, p.text);
	/* Our account on another path, a look-alike account, a way out by
	 * "..": all another list. A page whose own URL is no account list of
	 * ours follows nothing. */
	{
		static const char *const links[] = {
			"/2010-04-01/Accounts/" ACCOUNT "/Calls.json?Page=1",
			"/2010-04-01/Accounts/" ACCOUNT "x/Messages.json?Page=1",
			"/2010-04-01/Accounts/" ACCOUNT "/Messages.json/../../" SPEC_ACCOUNT "/Messages.json",
			"https://evil.example" LIST_PATH "?Page=1",
			"/2010-04-01/Accounts/" ACCOUNT "/Messages/SM1.json",
		};
		char body[512];

		for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
			snprintf(body, sizeof(body), "{\"messages\":[],\"next_page_uri\":\"%s\"}",
				 links[i]);
			spec_list(body, LIST_URL, &s, &p);
			if (!p.refused_next || p.next_url)
				fail_msg("followed %s", links[i]);
		}
		snprintf(body, sizeof(body), "{\"messages\":[],\"next_page_uri\":\"" LIST_PATH "?P=1\"}");
		spec_list(body, NULL, &s, &p);
		assert_true(p.refused_next);
		spec_list(body, "https://api.twilio.com/2010-04-01/Accounts.json", &s, &p);
		assert_true(p.refused_next);
	}
}

/* The spec's reply made ours: page 1 leads to page 2; a page 2 that names
 * itself again (a mock answering readFullPage1 to everything) ends there. */
static void test_spec_next_and_loop(void **state)
{
	char *body = spec_ours(), *next;
	struct net_list_page p;
	struct seen s;

	(void)state;
	spec_list(body, LIST_URL, &s, &p);
	assert_false(p.refused_next);
	assert_non_null(p.next_url);
	assert_string_equal(p.next_url, "https://api.twilio.com" LIST_PATH "?To=%2B123456789"
			    "&From=%2B987654321&DateSent%3E=2008-01-02&PageSize=2&Page=1"
			    "&PageToken=PAMMc26223853f8c46b4ab7dfaa6abba0a26");
	next = p.next_url;
	spec_list(body, next, &s, &p);
	assert_int_equal(s.n, 2);
	assert_null(p.next_url);
	assert_true(p.refused_next);
	assert_non_null(strstr(p.text, "the page just read"));
	free(next);
	free(body);
}

/* A list that always has one more page: the walk stops at its cap. */
static void test_walk_page_cap(void **state)
{
	struct fw_walk_n n = {0};
	struct net_list_page p;
	struct seen s;
	char body[512], url[512], why[256];
	unsigned pages = 0;

	(void)state;
	snprintf(url, sizeof(url), "%s", LIST_URL);
	for (;;) {
		snprintf(body, sizeof(body), "{\"messages\":[],\"next_page_uri\":\"" LIST_PATH
			 "?PageSize=20&Page=%u\"}", pages + 1);
		spec_list(body, url, &s, &p);
		pages++;
		assert_non_null(p.next_url);
		if (!fw_walk_on(&n, "reconcile", "main", &p, pages, 10, why, sizeof(why)))
			break;
		snprintf(url, sizeof(url), "%s", p.next_url);
		free(p.next_url);
		assert_true(pages < 100);
	}
	free(p.next_url);
	assert_int_equal(pages, 10);
	assert_int_equal(n.capped, 1);
	assert_int_equal(n.refused, 0);
	assert_non_null(strstr(why, "stopped at 10 pages"));
	/* The last page: nothing counted, nothing said. */
	p = (struct net_list_page){.cls = NET_OK};
	assert_false(fw_walk_on(&n, "reconcile", "main", &p, 1, 10, why, sizeof(why)));
	assert_int_equal(n.capped + n.refused, 1);
	assert_string_equal(why, "");
}

struct got_in {
	unsigned n, ours;
	char to[4][32];
};

static int take_in(const struct net_inbound *in, void *arg)
{
	struct got_in *g = arg;

	if (g->n < 4)
		snprintf(g->to[g->n], sizeof(g->to[0]), "%s", in->to);
	g->n++;
	g->ours += fw_walk_to_ours("whatsapp:+14155550100", in->to);
	return 0;
}

/* The spec's inbound entry is to +18182008801, not our number: the poll
 * skips it (the driver hands it over; the walk's own-number rule says no). */
static void test_spec_inbound_to_not_ours(void **state)
{
	struct net_http_result res = {.status = 200, .body = spec_page1,
				      .body_len = strlen(spec_page1), .url = LIST_URL};
	struct net_list_page p;
	struct got_in g = {0};

	(void)state;
	tw()->inbound_page(&res, "https://api.twilio.com", take_in, &g, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(g.n, 1); /* the outbound-api one is no inbound message */
	assert_string_equal(g.to[0], "+18182008801");
	assert_int_equal(g.ours, 0);
	assert_true(p.refused_next);
	assert_true(fw_walk_to_ours("whatsapp:+14155550100", "+14155550100"));
	assert_true(fw_walk_to_ours("+14155550100", "whatsapp:+14155550100"));
	assert_false(fw_walk_to_ours("whatsapp:+14155550100", "+141555501000"));
	assert_false(fw_walk_to_ours("whatsapp:+14155550100", NULL));
	assert_false(fw_walk_to_ours("whatsapp:+14155550100", ""));
	assert_false(fw_walk_to_ours(NULL, "+14155550100"));
	assert_false(fw_walk_to_ours("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_build_basic),
		cmocka_unit_test(test_build_trailing_slash_and_sim),
		cmocka_unit_test(test_build_account_is_one_path_segment),
		cmocka_unit_test(test_build_utf8_and_specials),
		cmocka_unit_test(test_build_every_byte_roundtrips),
		cmocka_unit_test(test_build_variants),
		cmocka_unit_test(test_build_rejects_missing),
		cmocka_unit_test(test_outcome_success),
		cmocka_unit_test(test_outcome_success_status_truncated),
		cmocka_unit_test(test_outcome_success_status_routine),
		cmocka_unit_test(test_outcome_codes_400),
		cmocka_unit_test(test_outcome_auth_rate_5xx),
		cmocka_unit_test(test_outcome_transport),
		cmocka_unit_test(test_outcome_garbage),
		cmocka_unit_test(test_list_url),
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_list_page_failures),
		cmocka_unit_test(test_spec_foreign_next),
		cmocka_unit_test(test_spec_next_and_loop),
		cmocka_unit_test(test_walk_page_cap),
		cmocka_unit_test(test_spec_inbound_to_not_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
