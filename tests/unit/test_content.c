/*
 * test_content.c - the Twilio Content API pages (templates with their
 * WhatsApp approval): the first URL, entries read field by field in both
 * approval shapes (flat under approval_requests as ContentAndApprovals
 * answers, nested under approval_requests.whatsapp as ApprovalRequests
 * does), the next page followed only on the same host and path, garbage and
 * failures with a reason, and one bad entry not costing the others.
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
#define SPEC_REJECTION                                                                          \
	"INVALID_FORMAT. Facebook is not able to create template with templateName=Video "      \
	"Highlights_hx15c711fcc6d9ea5268d7ab77938a20ff due to the following error: Invalid "    \
	"parameter. More Details: Message template 'components' param is missing expected "     \
	"field(s). component of type HEADER is missing expected field(s) (example)"

struct seen {
	unsigned n;
	char line[8][600];
	const char *why[8];
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
	if (s->n < 8)
		s->why[s->n] = t->unsubmitted_why;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

#define FIRST_URL BASE "/v1/ContentAndApprovals?PageSize=10"

static void read_page(const char *body, long status, struct seen *s, struct net_list_page *p)
{
	struct net_http_result res = {.err = ERR_OK, .status = status, .body = body,
				      .body_len = body ? strlen(body) : 0, .url = FIRST_URL};
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

/* GET /v1/ContentAndApprovals, example readResults of twilio-oai
 * spec/json/twilio_content_v1.json, as published (the approval fields flat
 * under approval_requests; "" for the fields a template never submitted
 * does not have), with the next page of a longer list. */
static const char spec_results[] =
	"{\"contents\":["
	"{\"date_created\":\"2015-07-30T19:00:00Z\",\"date_updated\":\"2015-07-30T19:00:00Z\","
	" \"sid\":\"HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	" \"friendly_name\":\"Some content\",\"language\":\"en\",\"variables\":{\"name\":\"foo\"},"
	" \"types\":{\"twilio/text\":{\"body\":\"Foo Bar Co is located at 39.7392, 104.9903\"},"
	"  \"twilio/location\":{\"longitude\":104.9903,\"latitude\":39.7392,\"label\":\"Foo Bar Co\"}},"
	" \"approval_requests\":{\"name\":\"\",\"category\":\"\",\"content_type\":\"\","
	"  \"status\":\"unsubmitted\",\"rejection_reason\":\"\",\"allow_category_change\":true}},"
	"{\"language\":\"en\",\"date_updated\":\"2023-01-13T23:33:46Z\","
	" \"variables\":{\"1\":\"name\",\"2\":\"typedocument\"},\"friendly_name\":\"Media Test\","
	" \"account_sid\":\"AC25c0d4b9093547216c460212e24e77ee\",\"sid\":\"HX5fcd48a417c1cb59da349ad6d5da4607\","
	" \"date_created\":\"2023-01-13T23:33:46Z\","
	" \"types\":{\"twilio/media\":{\"body\":\"{{1}}, Congratulations {{2}}! For additional assistance, "
	"please contact us at hello@twilio.com\",\"media\":[\"https://example.com/template\"]}},"
	" \"approval_requests\":{\"category\":\"TRANSACTIONAL\",\"status\":\"approved\","
	"  \"rejection_reason\":\"\",\"name\":\"Media Test\",\"content_type\":\"twilio/media\","
	"  \"allow_category_change\":false}},"
	"{\"language\":\"en\",\"date_updated\":\"2023-01-18T02:46:35Z\","
	" \"variables\":{\"1\":\"name\",\"2\":\"type_video\",\"3\":\"small.mp4\"},"
	" \"friendly_name\":\"Video Highlights\",\"account_sid\":\"AC25c0d4b9093547216c460212e24e77ee\","
	" \"sid\":\"HX15c711fcc6d9ea5268d7ab77938a20ff\",\"date_created\":\"2023-01-18T02:46:35Z\","
	" \"types\":{\"twilio/media\":{\"body\":\"Hi there, {{1}}, we have received your request to "
	"upload {{2}}, and should be uploaded shortly.\",\"media\":[\"http://example.com/highlights/{{3}}\"]}},"
	" \"approval_requests\":{\"category\":\"TRANSACTIONAL\",\"status\":\"rejected\","
	"  \"rejection_reason\":\"" SPEC_REJECTION "\","
	"  \"name\":\"Video Highlights\",\"content_type\":\"twilio/media\",\"allow_category_change\":true}}"
	"],\"meta\":{\"page\":0,\"page_size\":20,"
	" \"first_page_url\":\"https://content.twilio.com/v1/ContentAndApprovals?PageSize=20&Page=0\","
	" \"url\":\"https://content.twilio.com/v1/ContentAndApprovals?PageSize=20&Page=0\","
	" \"previous_page_url\":null,"
	" \"next_page_url\":\"https://content.twilio.com/v1/ContentAndApprovals?PageSize=20&Page=1&PageToken=PT1\","
	" \"key\":\"contents\"}}";

static void test_spec_flat_shape(void **state)
{
	struct net_list_page p;
	struct seen s;

	(void)state;
	read_page(spec_results, 200, &s, &p);
	assert_int_equal(p.cls, NET_OK);
	assert_int_equal(s.n, 3);
	/* Never submitted: "" name means none, so the friendly name stands. */
	assert_string_equal(s.line[0], "HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|Some content|en|unsubmitted|-|"
				       "twilio/location|-|0");
	assert_non_null(s.why[0]);
	assert_non_null(strstr(s.why[0], "unsubmitted"));
	/* Approved, read from the flat object: sendable. */
	assert_string_equal(s.line[1], "HX5fcd48a417c1cb59da349ad6d5da4607|Media Test|en|approved|"
				       "TRANSACTIONAL|twilio/media|-|1");
	assert_null(s.why[1]);
	/* Rejected, with Meta's reason. */
	assert_string_equal(s.line[2], "HX15c711fcc6d9ea5268d7ab77938a20ff|Video Highlights|en|rejected|"
				       "TRANSACTIONAL|twilio/media|" SPEC_REJECTION "|0");
	assert_null(s.why[2]);
	assert_false(p.refused_next);
	assert_string_equal(p.next_url, "https://content.twilio.com/v1/ContentAndApprovals?"
					"PageSize=20&Page=1&PageToken=PT1");
	free(p.next_url);
}

/* GET /v1/Content/{Sid}/ApprovalRequests nests the fields under
 * "whatsapp" (example getApproval); a reader given that shape in a list
 * takes it too. */
static void test_nested_shape(void **state)
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
	assert_string_equal(s.why[2], "no approval_requests object");
	assert_null(s.why[0]);
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

/* A link the walk must not follow: the page is good, the link refused. */
static void refused(const char *next_json)
{
	struct net_list_page p;

	next_of(next_json, &p);
	if (p.cls != NET_OK || !p.refused_next || p.next_url || !strstr(p.text, "not followed"))
		fail_msg("%s: cls %d, refused %d, next %s, text %s", next_json, p.cls,
			 p.refused_next, p.next_url ? p.next_url : "-", p.text);
}

static void test_next_page(void **state)
{
	struct net_list_page p;

	(void)state;
	next_of("null", &p); /* the last page */
	assert_int_equal(p.cls, NET_OK);
	assert_null(p.next_url);
	assert_false(p.refused_next);
	next_of("\"/v1/ContentAndApprovals?PageToken=PT2\"", &p); /* a path: on our host */
	assert_int_equal(p.cls, NET_OK);
	assert_string_equal(p.next_url, BASE "/v1/ContentAndApprovals?PageToken=PT2");
	free(p.next_url);
	/* Another host, another port, another scheme, a look-alike host:
	 * never followed (the request would carry the credentials). */
	refused("\"https://evil.example/v1/ContentAndApprovals\"");
	refused("\"https://content.twilio.com:8443/v1/ContentAndApprovals\"");
	refused("\"http://content.twilio.com/v1/ContentAndApprovals\"");
	refused("\"https://content.twilio.com.evil.example/v1/ContentAndApprovals\"");
	refused("\"https://content.twilio.com@evil.example/v1/ContentAndApprovals\"");
	refused("\"https://content.twilio.com/v1/ContentAndApprovals?a b\"");
	/* Our host, another list: not the walk we are on. */
	refused("\"/v1/Content?PageToken=PT2\"");
	refused("\"https://content.twilio.com/v1/ContentAndApprovalsX?PageToken=PT2\"");
	refused("\"/v1/ContentAndApprovals/../Services\"");
	refused("\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json\"");
	/* The page just read again: a walk that would never end. */
	refused("\"" FIRST_URL "\"");
	next_of("\"\\u0001\"", &p);
	assert_true(p.refused_next);
	assert_non_null(strstr(p.text, "(garbled)"));
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
	assert_string_equal(s.why[0], "approval_requests had no status");
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
		cmocka_unit_test(test_first_url),  cmocka_unit_test(test_spec_flat_shape),
		cmocka_unit_test(test_nested_shape),
		cmocka_unit_test(test_stop_early), cmocka_unit_test(test_next_page),
		cmocka_unit_test(test_same_origin), cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
