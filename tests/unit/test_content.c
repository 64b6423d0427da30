/*
 * test_content.c - the Twilio Content API pages (templates with their
 * WhatsApp approval): the first URL, entries read field by field, the next
 * page followed only on the same host, garbage and failures with a reason,
 * and one bad entry not costing the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hal/err.h"
#include "net/providers/provider.h"
#include "net/providers/twilio.h"

#define BASE "https://content.twilio.com"
#define SID_A "HX0000000000000000000000000000c0a1"
#define SID_B "HX0000000000000000000000000000c0b2"

struct seen {
	unsigned n;
	char line[8][200];
	unsigned stop_after; /* 0: never */
};

static int each(const struct net_template *t, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->line[s->n], sizeof(s->line[0]), "%s|%s|%s|%s|%s|%s|%s|%d", t->id,
			 t->name ? t->name : "-", t->language ? t->language : "-", t->status,
			 t->category ? t->category : "-", t->type ? t->type : "-",
			 t->reason ? t->reason : "-", t->approved);
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void read_page(const char *body, long status, struct seen *s, struct net_list_page *p)
{
	struct net_http_result res = {.err = ERR_OK, .status = status, .body = body,
				      .body_len = body ? strlen(body) : 0};
	const struct net_provider *tw = net_provider_find("twilio");

	assert_non_null(tw->templates_page);
	memset(s, 0, sizeof(*s));
	tw->templates_page(&res, BASE, each, s, p);
}

static void test_first_url(void **state)
{
	struct net_send_msg m = {.aux_base = BASE "/"};
	const struct net_provider *tw = net_provider_find("twilio");
	char *url = NULL;

	(void)state;
	assert_int_equal(tw->templates_url(&m, &url), ERR_OK);
	assert_string_equal(url, BASE "/v1/ContentAndApprovals?PageSize=10");
	free(url);
	m.aux_base = NULL;
	assert_int_equal(tw->templates_url(&m, &url), ERR_INVAL);
	m.aux_base = "http://content.twilio.com"; /* the credentials go with it */
	assert_int_equal(tw->templates_url(&m, &url), ERR_INVAL);
}

static const char page1[] =
	"{\"contents\":["
	"{\"sid\":\"" SID_A "\",\"friendly_name\":\"fn_a\",\"language\":\"en\","
	" \"types\":{\"twilio/text\":{\"body\":\"x\"},\"twilio/quick-reply\":{\"body\":\"y\"}},"
	" \"approval_requests\":{\"sid\":\"" SID_A "\",\"whatsapp\":{\"name\":\"order_ready\","
	"  \"category\":\"UTILITY\",\"status\":\"PAUSED\",\"rejection_reason\":\"low quality\"}}},"
	"{\"sid\":\"not-a-sid\",\"approval_requests\":{\"whatsapp\":{\"status\":\"approved\"}}},"
	"42,"
	"{\"sid\":\"" SID_B "\",\"friendly_name\":\"fn_b\",\"types\":{\"twilio/media\":{}},"
	" \"approval_requests\":{\"whatsapp\":{\"status\":\"approved\",\"content_type\":\"twilio/card\","
	"  \"rejection_reason\":\"\"}}},"
	"{\"sid\":\"" SID_B "\"}"
	"],\"meta\":{\"next_page_url\":\"https://CONTENT.twilio.com/v1/ContentAndApprovals?PageSize=10&PageToken=PT10\"}}";

static void test_entries(void **state)
{
	struct net_list_page p;
	struct seen s;

	(void)state;
	read_page(page1, 200, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(p.n, 5);  /* every entry counted ... */
	assert_int_equal(s.n, 3);  /* ... the two unusable ones not given */
	/* WhatsApp's name over the friendly name, the rich type over the
	 * text fallback, status compared case-insensitively. */
	assert_string_equal(s.line[0], SID_A "|order_ready|en|PAUSED|UTILITY|twilio/quick-reply|"
				       "low quality|0");
	/* The approved content type wins; an empty reason is none. */
	assert_string_equal(s.line[1], SID_B "|fn_b|-|approved|-|twilio/card|-|1");
	/* Never submitted: no approval object at all. */
	assert_string_equal(s.line[2], SID_B "|-|-|unsubmitted|-|-|-|0");
	assert_non_null(p.next_url);
	assert_string_equal(p.next_url,
			    "https://CONTENT.twilio.com/v1/ContentAndApprovals?PageSize=10&PageToken=PT10");
	free(p.next_url);
}

static void test_stop_early(void **state)
{
	struct net_http_result res = {.status = 200, .body = page1, .body_len = strlen(page1)};
	struct seen s = {.stop_after = 1};
	struct net_list_page p;

	(void)state;
	net_provider_find("twilio")->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(s.n, 1); /* each() said stop */
	free(p.next_url);
}

static void next_of(const char *next_json, struct net_list_page *p)
{
	char body[512];
	struct seen s;

	snprintf(body, sizeof(body), "{\"contents\":[{\"sid\":\"" SID_A "\"}],\"meta\":{\"next_page_url\":%s}}",
		 next_json);
	read_page(body, 200, &s, p);
	assert_int_equal(s.n, 1); /* the entries count whatever the next page */
}

static void test_next_page(void **state)
{
	struct net_list_page p;

	(void)state;
	next_of("null", &p); /* the last page */
	assert_int_equal(p.cls, NET_OK);
	assert_null(p.next_url);
	next_of("\"/v1/ContentAndApprovals?PageToken=PT2\"", &p); /* a path: on our host */
	assert_int_equal(p.cls, NET_OK);
	assert_string_equal(p.next_url, BASE "/v1/ContentAndApprovals?PageToken=PT2");
	free(p.next_url);
	/* Another host, another port, another scheme, a look-alike host:
	 * never followed (the request would carry the credentials). */
	next_of("\"https://evil.example/v1/ContentAndApprovals\"", &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	assert_null(p.next_url);
	assert_non_null(strstr(p.text, "not followed"));
	next_of("\"https://content.twilio.com:8443/v1/x\"", &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	next_of("\"http://content.twilio.com/v1/x\"", &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	next_of("\"https://content.twilio.com.evil.example/v1/x\"", &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	next_of("\"https://content.twilio.com@evil.example/v1/x\"", &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	next_of("\"https://content.twilio.com/v1/a b\"", &p);
	assert_int_equal(p.cls, NET_PERMANENT);
}

static void test_same_origin(void **state)
{
	(void)state;
	assert_true(net_twilio_same_origin("https://content.twilio.com", "https://content.twilio.com/v1"));
	assert_true(net_twilio_same_origin("https://127.0.0.1:8443/", "https://127.0.0.1:8443/v1?x"));
	assert_false(net_twilio_same_origin("https://127.0.0.1:8443", "https://127.0.0.1:8444/v1"));
	assert_false(net_twilio_same_origin("https://a", "https://ab/"));
	assert_false(net_twilio_same_origin("https://a", NULL));
	assert_false(net_twilio_same_origin("", "https://a/"));
}

static void test_garbage(void **state)
{
	static const char *const bodies[] = {
		"", "not json", "[1,2]", "{\"contents\":{}}", "{\"meta\":{}}", "{\"contents\":\"x\"}",
		"{\"contents\":[", "\xff\xfe",
	};
	struct net_list_page p;
	struct seen s;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		read_page(bodies[i], 200, &s, &p);
		assert_int_equal(p.cls, NET_PERMANENT);
		assert_int_equal(s.n, 0);
		assert_null(p.next_url);
		assert_non_null(strstr(p.text, "listing templates"));
	}
	read_page(NULL, 200, &s, &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	/* An empty list is a page, not a failure. */
	read_page("{\"contents\":[],\"meta\":{\"next_page_url\":null}}", 200, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(p.n, 0);
	/* Wrong types inside an entry: the entry stands with what it has. */
	read_page("{\"contents\":[{\"sid\":\"" SID_A "\",\"types\":7,\"approval_requests\":"
		  "{\"whatsapp\":{\"status\":5,\"name\":[]}}}]}", 200, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.line[0], SID_A "|-|-|unsubmitted|-|-|-|0");
}

static void test_failures(void **state)
{
	struct net_http_result res = {.err = ERR_OK, .status = 401,
				      .body = "{\"code\":20003,\"message\":\"Authenticate\"}"};
	const struct net_provider *tw = net_provider_find("twilio");
	struct net_list_page p;
	struct seen s = {0};

	(void)state;
	res.body_len = strlen(res.body);
	tw->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(p.cls, NET_AUTH);
	assert_non_null(strstr(p.text, "Authenticate"));
	res = (struct net_http_result){.err = ERR_OK, .status = 404, .body = ""};
	tw->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	assert_non_null(strstr(p.text, "content_base"));
	res = (struct net_http_result){.err = ERR_OK, .status = 503, .body = ""};
	tw->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(p.cls, NET_TRANSIENT); /* a GET: never ambiguous */
	res = (struct net_http_result){.err = ERR_TIMEOUT, .maybe_sent = true};
	tw->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(p.cls, NET_TRANSIENT);
	res = (struct net_http_result){.err = ERR_OK, .status = 201,
				       .body = "{\"sid\":\"SM1\",\"contents\":[]}"};
	res.body_len = strlen(res.body);
	tw->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(p.cls, NET_PERMANENT); /* a 2xx that is not the list */
	assert_non_null(strstr(p.text, "unexpected HTTP 201"));
	res = (struct net_http_result){.err = ERR_TOOBIG};
	tw->templates_page(&res, BASE, each, &s, &p);
	assert_int_equal(p.cls, NET_PERMANENT);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_url),  cmocka_unit_test(test_entries),
		cmocka_unit_test(test_stop_early), cmocka_unit_test(test_next_page),
		cmocka_unit_test(test_same_origin), cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
