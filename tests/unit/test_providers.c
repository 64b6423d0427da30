/*
 * test_providers.c - every error code of providers.md (sections 2, 5.3, 6)
 * maps to the class the reference gives it; the Meta Cloud API and
 * 360dialog drivers build the exact request and read every answer shape.
 *
 * The expected classes below are written from the reference's tables, not
 * copied from the drivers' tables. Where the reference's class is
 * "config" (a refusal of the whole account: permission, locked account,
 * billing, sender not registered) the expected class is NET_AUTH, which
 * pauses the account instead of failing each queued message; where it is
 * a template or parameter mismatch it is NET_TEMPLATE.
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
#include "net/providers/meta.h"
#include "net/providers/provider.h"
#include "net/providers/twilio.h"

struct code_case {
	int code, cls;
	const char *doc; /* the reference's words for its class */
};

static void check_codes(const struct net_provider *p, const struct code_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p->code_class(c[i].code) != c[i].cls)
			fail_msg("%s code %d (%s): class %s, want %s", p->name, c[i].code, c[i].doc,
				 net_class_name(p->code_class(c[i].code)), net_class_name(c[i].cls));
}

/* providers.md section 2, row by row. */
static void test_twilio_codes(void **state)
{
	static const struct code_case t[] = {
		{20003, NET_AUTH, "permanent (config): stop sending, fix credentials"},
		{20429, NET_RATE, "transient: back off, retry"},
		{20500, NET_TRANSIENT, "transient"},
		{20503, NET_TRANSIENT, "transient"},
		{21211, NET_PERMANENT, "permanent"},
		{21408, NET_PERMANENT, "permanent (config) for that destination"},
		{21610, NET_OPTED_OUT, "permanent: suppress recipient"},
		{21614, NET_PERMANENT, "permanent"},
		{21654, NET_PERMANENT, "permanent (bug)"},
		{92005, NET_PERMANENT, "permanent (bug)"},
		{21658, NET_PERMANENT, "permanent"},
		{30003, NET_TRANSIENT, "transient"},
		{30005, NET_PERMANENT, "permanent"},
		{30006, NET_PERMANENT, "permanent"},
		{30007, NET_PERMANENT, "permanent (content)"},
		{30008, NET_TRANSIENT, "transient"},
		{30036, NET_TRANSIENT, "transient"},
		{63003, NET_PERMANENT, "permanent"},
		{63007, NET_AUTH, "permanent (config): stop, fix sender"},
		{63012, NET_TRANSIENT, "transient"},
		{63016, NET_WINDOW, "permanent for that payload: outside the window"},
		{63018, NET_RATE, "transient (hours): slow down"},
		{63021, NET_PERMANENT, "permanent"},
		{63024, NET_PERMANENT, "permanent (until user acts)"},
		{63027, NET_TEMPLATE, "permanent (config): template/language"},
		{63028, NET_TEMPLATE, "permanent (bug): parameter count"},
		{63030, NET_TEMPLATE, "permanent: unsupported parameter"},
		{63032, NET_PERMANENT, "permanent (for now)"},
		{63038, NET_RATE, "transient (24 h): pause"},
		{63049, NET_PERMANENT, "semi-permanent: days, not backoff"},
		{63014, NET_OPTED_OUT, "permanent: suppress recipient"},
		{63017, NET_RATE, "transient: throttle"},
		{12345, NET_PERMANENT, "not listed: permanent"},
	};

	(void)state;
	check_codes(&net_twilio_provider, t, sizeof(t) / sizeof(t[0]));
}

/* providers.md section 5.3, row by row (ranges at both ends). */
static const struct code_case meta_table[] = {
	{0, NET_AUTH, "auth exception"},
	{190, NET_AUTH, "access token expired"},
	{3, NET_AUTH, "config: capability"},
	{10, NET_AUTH, "config: permission"},
	{200, NET_AUTH, "config: permission 200-299"},
	{250, NET_AUTH, "config: permission 200-299"},
	{299, NET_AUTH, "config: permission 200-299"},
	{4, NET_RATE, "transient: app rate limit"},
	{80007, NET_RATE, "transient: WABA rate limit"},
	{1, NET_TRANSIENT, "transient"},
	{2, NET_TRANSIENT, "transient"},
	{131000, NET_TRANSIENT, "transient"},
	{131016, NET_TRANSIENT, "transient"},
	{133004, NET_TRANSIENT, "transient"},
	{100, NET_PERMANENT, "permanent: invalid parameter"},
	{131008, NET_PERMANENT, "permanent: missing parameter"},
	{131009, NET_PERMANENT, "permanent: bad parameter"},
	{130429, NET_RATE, "transient: throughput"},
	{17, NET_RATE, "meta.yaml: 429 \"User request limit reached\""},
	{130472, NET_PERMANENT, "permanent (marketing)"},
	{130497, NET_PERMANENT, "permanent"},
	{131021, NET_PERMANENT, "permanent"},
	{131026, NET_PERMANENT, "permanent (per recipient)"},
	{131031, NET_AUTH, "permanent: stop all sends"},
	{131042, NET_AUTH, "permanent until billing fixed: stop, alert"},
	{131045, NET_AUTH, "config"},
	{131047, NET_WINDOW, "re-engagement: outside the window"},
	{131048, NET_RATE, "transient (long): slow down"},
	{131049, NET_PERMANENT, "semi-permanent"},
	{131051, NET_PERMANENT, "permanent"},
	{131052, NET_TRANSIENT, "transient/permanent: media"},
	{131053, NET_TRANSIENT, "transient/permanent: media"},
	{131056, NET_RATE, "transient: pair rate"},
	{131057, NET_TRANSIENT, "transient: maintenance"},
	{132000, NET_TEMPLATE, "permanent: parameter count"},
	{132001, NET_TEMPLATE, "permanent: template missing/unapproved"},
	{132012, NET_TEMPLATE, "permanent: parameter format"},
	{132015, NET_TEMPLATE, "until unpaused: template paused"},
	{132016, NET_TEMPLATE, "permanent: template disabled"},
	{133010, NET_AUTH, "config: number not registered"},
	{368, NET_AUTH, "long: stop, review"},
	{300, NET_PERMANENT, "not listed"},
	{999999, NET_PERMANENT, "not listed"},
};

static void test_meta_codes(void **state)
{
	(void)state;
	check_codes(&net_meta_provider, meta_table, sizeof(meta_table) / sizeof(meta_table[0]));
	/* 360dialog passes Meta's codes through (section 6). */
	check_codes(&net_d360_provider, meta_table, sizeof(meta_table) / sizeof(meta_table[0]));
}

/* ---- outcomes ---- */

static struct net_send_outcome outcome(const struct net_provider *p, int err, bool sent,
				       long status, long ra, const char *body)
{
	struct net_http_result res = {.err = err, .maybe_sent = sent, .status = status,
				      .retry_after_s = ra, .body = body,
				      .body_len = body ? strlen(body) : 0};
	struct net_send_outcome o;

	memset(&o, 0x5a, sizeof(o));
	if (err != ERR_OK)
		snprintf(res.error, sizeof(res.error), "Operation timed out");
	p->outcome(&res, &o);
	return o;
}

#define EXPECT(p, st, body, cls_, code_)                                                 \
	do {                                                                             \
		struct net_send_outcome o_ = outcome(p, ERR_OK, true, st, 0, body);      \
		if (o_.cls != (cls_) || o_.code != (code_))                              \
			fail_msg("line %d: class %s code %d, want %s %d (%s)", __LINE__, \
				 net_class_name(o_.cls), o_.code, net_class_name(cls_),  \
				 code_, o_.text);                                        \
	} while (0)

/* providers.md section 6: 360dialog's own errors. */
static void test_d360_errors(void **state)
{
	const struct net_provider *d = &net_d360_provider;

	(void)state;
	EXPECT(d, 401, "{\"meta\":{\"httpCode\":401,\"developerMessage\":\"Invalid api key\","
		       "\"success\":false}}", NET_AUTH, 401);
	EXPECT(d, 403, "{\"meta\":{\"developerMessage\":\"Endpoint blocked\"}}", NET_AUTH, 403);
	EXPECT(d, 400, "{\"meta\":{\"httpCode\":400,\"developerMessage\":\"WhatsApp Business API "
		       "disabled\",\"success\":false}}", NET_AUTH, 400);
	EXPECT(d, 400, "{\"meta\":{\"httpCode\":400,\"developerMessage\":\"You have exceeded the "
		       "endpoint rate limit\",\"success\":false}}", NET_RATE, 400);
	EXPECT(d, 400, "{\"meta\":{\"httpCode\":400,\"developerMessage\":\"Lack of payment\","
		       "\"success\":false}}", NET_AUTH, 400);
	/* 500/502 after the body left: may have been sent */
	EXPECT(d, 500, "{\"meta\":{\"httpCode\":500}}", NET_AMBIGUOUS, 500);
	EXPECT(d, 502, "<html>Bad gateway</html>", NET_AMBIGUOUS, 502);
	/* Meta's codes passed through */
	EXPECT(d, 400, "{\"error\":{\"code\":131047,\"message\":\"Re-engagement message\"}}",
	       NET_WINDOW, 131047);
	assert_int_equal(net_d360_error_class(401, NULL), NET_AUTH);
	assert_int_equal(net_d360_error_class(403, ""), NET_AUTH);
	assert_int_equal(net_d360_error_class(400, "Whatsapp business api DISABLED"), NET_AUTH);
	assert_int_equal(net_d360_error_class(400, "exceeded the endpoint rate limit"), NET_RATE);
	assert_int_equal(net_d360_error_class(400, "lack of payment"), NET_AUTH);
	assert_int_equal(net_d360_error_class(500, NULL), NET_TRANSIENT);
	assert_int_equal(net_d360_error_class(502, NULL), NET_TRANSIENT);
	assert_int_equal(net_d360_error_class(400, "something else"), NET_PERMANENT);
}

static void test_meta_outcome_success(void **state)
{
	const struct net_provider *p = &net_meta_provider;
	struct net_send_outcome o;

	(void)state;
	o = outcome(p, ERR_OK, true, 200, 0,
		    "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"491701234567\","
		    "\"wa_id\":\"491701234567\"}],\"messages\":[{\"id\":\"wamid.HBgLNDkxNzAxMjM0NTY3"
		    "FQIAERgSQTVGRjY3QUE5MkQwQzk1RTlCAA==\",\"message_status\":\"accepted\"}]}");
	assert_int_equal(o.cls, NET_OK);
	assert_int_equal(o.code, 200);
	assert_string_equal(o.id, "wamid.HBgLNDkxNzAxMjM0NTY3FQIAERgSQTVGRjY3QUE5MkQwQzk1RTlCAA==");
	assert_string_equal(o.status, "accepted");
	/* The spec's sendMessage "Example response": no message_status, so none
	 * is claimed. */
	o = outcome(p, ERR_OK, true, 200, 0,
		    "{\"contacts\":[{\"input\":\"+16505551234\",\"wa_id\":\"16505551234\"}],"
		    "\"messages\":[{\"id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA\"}],"
		    "\"messaging_product\":\"whatsapp\"}");
	assert_int_equal(o.cls, NET_OK);
	assert_string_equal(o.id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA");
	assert_string_equal(o.status, "");
	/* Every value of the spec's MessageStatus, whole; anything not a word is dropped. */
	o = outcome(p, ERR_OK, true, 200, 0, "{\"messages\":[{\"id\":\"wamid.1\",\"message_status\":"
		    "\"held_for_quality_assessment\"}]}");
	assert_int_equal(o.cls, NET_OK);
	assert_string_equal(o.status, "held_for_quality_assessment");
	o = outcome(p, ERR_OK, true, 200, 0, "{\"messages\":[{\"id\":\"wamid.1\",\"message_status\":"
		    "\"paused\"}]}");
	assert_string_equal(o.status, "paused");
	o = outcome(p, ERR_OK, true, 200, 0, "{\"messages\":[{\"id\":\"wamid.1\",\"message_status\":"
		    "\"<b>x\"}]}");
	assert_int_equal(o.cls, NET_OK);
	assert_string_equal(o.status, "");
	/* 2xx that names no message: taken, but which? */
	EXPECT(p, 200, "{\"messages\":[]}", NET_AMBIGUOUS, 200);
	EXPECT(p, 200, "{\"messages\":[{\"id\":\"wamid x\"}]}", NET_AMBIGUOUS, 200);
	EXPECT(p, 200, "{\"messages\":[{\"id\":42}]}", NET_AMBIGUOUS, 200);
	EXPECT(p, 200, "", NET_AMBIGUOUS, 200);
	EXPECT(p, 200, "<html>ok</html>", NET_AMBIGUOUS, 200);
	EXPECT(p, 200, "{\"messages\":[{\"id\":\"wamid.1\"}", NET_AMBIGUOUS, 200);
}

static void test_meta_outcome_errors(void **state)
{
	const struct net_provider *p = &net_meta_provider;
	struct net_send_outcome o;

	(void)state;
	o = outcome(p, ERR_OK, true, 400, 0,
		    "{\"error\":{\"message\":\"(#100) Invalid parameter\",\"type\":\"OAuthException\","
		    "\"code\":100,\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":"
		    "\"Parameter 'text' is mandatory\\nfor type text\"},\"fbtrace_id\":\"Aau\"}}");
	assert_int_equal(o.cls, NET_PERMANENT);
	assert_int_equal(o.code, 100);
	assert_string_equal(o.text, "(#100) Invalid parameter (Parameter 'text' is mandatory for type "
			    "text) [fbtrace_id Aau]");
	assert_string_equal(o.id, "");
	EXPECT(p, 401, "{\"error\":{\"message\":\"Invalid OAuth access token\",\"code\":190}}",
	       NET_AUTH, 190);
	EXPECT(p, 401, "", NET_AUTH, 401);
	EXPECT(p, 400, "{\"error\":{\"code\":0,\"message\":\"AuthException\"}}", NET_AUTH, 0);
	EXPECT(p, 400, "{\"error\":{\"code\":132001,\"message\":\"Template name does not exist\"}}",
	       NET_TEMPLATE, 132001);
	EXPECT(p, 400, "{\"error\":{\"code\":\"131026\",\"message\":\"undeliverable\"}}",
	       NET_PERMANENT, 131026);
	EXPECT(p, 400, "{\"errors\":[{\"code\":131047,\"title\":\"Re-engagement\"}]}", NET_WINDOW,
	       131047);
	o = outcome(p, ERR_OK, true, 429, 7, "{\"error\":{\"code\":130429,\"message\":\"Rate limit\"}}");
	assert_int_equal(o.cls, NET_RATE);
	assert_int_equal(o.retry_after_s, 7);
	EXPECT(p, 429, "{\"error\":{\"code\":12,\"message\":\"?\"}}", NET_RATE, 12);
	EXPECT(p, 429, "", NET_RATE, 429);
	/* a 5xx to a POST may still have made the message */
	EXPECT(p, 500, "{\"error\":{\"code\":131000,\"message\":\"Something went wrong\"}}",
	       NET_AMBIGUOUS, 131000);
	EXPECT(p, 503, "", NET_AMBIGUOUS, 503);
	/* garbage, empty, HTML */
	EXPECT(p, 400, "", NET_PERMANENT, 400);
	EXPECT(p, 400, "<html><body>Bad Request</body></html>", NET_PERMANENT, 400);
	EXPECT(p, 400, "{\"error\":\"nope\"}", NET_PERMANENT, 400);
	EXPECT(p, 400, "{\"error\":{\"code\":-5}}", NET_PERMANENT, 400);
	EXPECT(p, 400, "[1,2", NET_PERMANENT, 400);
	EXPECT(p, 302, "", NET_PERMANENT, 302);
	o = outcome(p, ERR_OK, true, 400, 0, "");
	assert_string_equal(o.text, "HTTP 400 with unparseable body");
}

/* The error examples of meta.yaml (GraphAPIError: message, type, code,
 * error_subcode, is_transient, error_user_title/_msg, fbtrace_id), each
 * with the HTTP status the spec gives it. */
static void test_meta_outcome_spec_errors(void **state)
{
	const struct net_provider *p = &net_meta_provider;
	struct net_send_outcome o;
	char body[1024];

	(void)state;
	o = outcome(p, ERR_OK, true, 400, 0, "{\"error\":{\"message\":\"Invalid parameter: application_id "
		    "must be a valid numeric string\",\"type\":\"OAuthException\",\"code\":100,"
		    "\"fbtrace_id\":\"AXsgnV2Cm3ZMGF3dF_cfYIn\"}}");
	assert_int_equal(o.cls, NET_PERMANENT);
	assert_string_equal(o.text, "Invalid parameter: application_id must be a valid numeric string "
			    "[fbtrace_id AXsgnV2Cm3ZMGF3dF_cfYIn]");
	EXPECT(p, 401, "{\"error\":{\"message\":\"Invalid OAuth access token\",\"type\":"
	       "\"OAuthException\",\"code\":190,\"error_subcode\":463,\"fbtrace_id\":"
	       "\"AXsgnV2Cm3ZMGF3dF_cfYIn\"}}", NET_AUTH, 190);
	o = outcome(p, ERR_OK, true, 403, 0, "{\"error\":{\"message\":\"Your app doesn't have "
		    "permission to access connected client businesses for this application\",\"type\":"
		    "\"OAuthException\",\"code\":200,\"error_subcode\":1349174,\"fbtrace_id\":"
		    "\"AXsgnV2Cm3ZMGF3dF_cfYIn\",\"error_user_title\":\"Permission Denied\","
		    "\"error_user_msg\":\"Your app doesn't have permission to access this resource\"}}");
	assert_int_equal(o.cls, NET_AUTH);
	assert_non_null(strstr(o.text, "(Your app doesn't have permission to access this resource) "
				       "[fbtrace_id AXsgnV2Cm3ZMGF3dF_cfYIn]"));
	/* 429: application, user (code 17) and business request limits */
	EXPECT(p, 429, "{\"error\":{\"message\":\"Application request limit reached\",\"type\":"
	       "\"OAuthException\",\"code\":4,\"error_subcode\":2446079,\"fbtrace_id\":"
	       "\"AXsgnV2Cm3ZMGF3dF_cfYIn\",\"is_transient\":true}}", NET_RATE, 4);
	EXPECT(p, 429, "{\"error\":{\"message\":\"User request limit reached\",\"type\":"
	       "\"OAuthException\",\"code\":17,\"error_subcode\":2446079,\"fbtrace_id\":"
	       "\"AXsgnV2Cm3ZMGF3dF_cfYIn\",\"is_transient\":true}}", NET_RATE, 17);
	EXPECT(p, 429, "{\"error\":{\"message\":\"Business request limit reached for WhatsApp "
	       "Business Account\",\"type\":\"OAuthException\",\"code\":80007,\"error_subcode\":"
	       "2446079,\"fbtrace_id\":\"AXsgnV2Cm3ZMGF3dF_cfYIn\",\"is_transient\":true}}",
	       NET_RATE, 80007);
	/* the same limits on a 400: the code (17) or the subcode still says throttle */
	EXPECT(p, 400, "{\"error\":{\"message\":\"User request limit reached\",\"code\":17}}",
	       NET_RATE, 17);
	EXPECT(p, 400, "{\"error\":{\"message\":\"limit\",\"code\":9,\"error_subcode\":2446079}}",
	       NET_RATE, 9);
	/* is_transient on a code the table does not know: try again */
	EXPECT(p, 400, "{\"error\":{\"message\":\"busy\",\"code\":12345,\"is_transient\":true}}",
	       NET_TRANSIENT, 12345);
	EXPECT(p, 400, "{\"error\":{\"message\":\"no\",\"code\":12345,\"is_transient\":false}}",
	       NET_PERMANENT, 12345);
	/* ...but never over a more specific class */
	EXPECT(p, 400, "{\"error\":{\"code\":131047,\"is_transient\":true}}", NET_WINDOW, 131047);
	EXPECT(p, 400, "{\"error\":{\"code\":190,\"is_transient\":true}}", NET_AUTH, 190);
	/* 500 code 2 is_transient: the message may have been made all the same */
	EXPECT(p, 500, "{\"error\":{\"message\":\"An unexpected error occurred. Please retry your "
	       "request\",\"type\":\"GraphMethodException\",\"code\":2,\"fbtrace_id\":"
	       "\"AXsgnV2Cm3ZMGF3dF_cfYIn\",\"is_transient\":true}}", NET_AMBIGUOUS, 2);
	/* A 200 whose body is an error object is that error, not an unknown send. */
	EXPECT(p, 200, "{\"error\":{\"message\":\"(#131047) Re-engagement message\",\"code\":131047}}",
	       NET_WINDOW, 131047);
	EXPECT(p, 200, "{\"error\":{\"message\":\"(#130429) Rate limit hit\",\"code\":130429}}",
	       NET_RATE, 130429);
	EXPECT(p, 200, "{\"error\":{\"message\":\"(#100) Invalid parameter\",\"code\":100}}",
	       NET_PERMANENT, 100);
	EXPECT(p, 200, "{\"error\":{\"message\":\"busy\",\"is_transient\":true}}", NET_TRANSIENT, 200);
	EXPECT(p, 200, "{\"messages\":[]}", NET_AMBIGUOUS, 200);
	/* fbtrace_id: only a token is taken; a long text gives way to it */
	o = outcome(p, ERR_OK, true, 400, 0, "{\"error\":{\"message\":\"x\",\"code\":100,"
		    "\"fbtrace_id\":\"A b\\n[evil]\"}}");
	assert_string_equal(o.text, "x");
	snprintf(body, sizeof(body), "{\"error\":{\"code\":100,\"message\":\"%0400d\","
		 "\"fbtrace_id\":\"AXsgnV2Cm3ZMGF3dF_cfYIn\"}}", 0);
	o = outcome(p, ERR_OK, true, 400, 0, body);
	assert_int_equal(strlen(o.text), sizeof(o.text) - 1);
	assert_non_null(strstr(o.text, "0 [fbtrace_id AXsgnV2Cm3ZMGF3dF_cfYIn]"));
}

static void test_meta_outcome_transport(void **state)
{
	const struct net_provider *p = &net_meta_provider;
	struct net_send_outcome o;

	(void)state;
	o = outcome(p, ERR_TIMEOUT, true, 0, 0, NULL);
	assert_int_equal(o.cls, NET_AMBIGUOUS);
	assert_non_null(strstr(o.text, "after the request was sent"));
	o = outcome(p, ERR_CONN, false, 0, 0, NULL);
	assert_int_equal(o.cls, NET_TRANSIENT);
	o = outcome(p, ERR_TLS, false, 0, 0, NULL);
	assert_int_equal(o.cls, NET_TRANSIENT);
}

/* ---- requests ---- */

static struct net_send_msg meta_msg(void)
{
	return (struct net_send_msg){
		.api_base = "https://graph.facebook.com/",
		.account_id = "106540352242922",
		.token = "EAAGm0PX4ZCpsBA-secret",
		.from = "whatsapp:+15550783881",
		.to = "+491701234567",
		.template_name = "order_update",
		.language = "en_US",
		.vars_json = "{\"2\":\"8812\",\"1\":\"Ana \\\"A\\\" <b>\"}",
		.aux_base = "v21.0",
		.waba_id = "102290129340398",
	};
}

static void test_meta_build(void **state)
{
	struct net_send_msg m = meta_msg();
	char *url = NULL, *body = NULL;

	(void)state;
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_OK);
	assert_string_equal(url, "https://graph.facebook.com/v21.0/106540352242922/messages");
	assert_string_equal(body,
		"{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
		"\"to\":\"491701234567\",\"type\":\"template\",\"template\":{\"name\":\"order_update\","
		"\"language\":{\"policy\":\"deterministic\",\"code\":\"en_US\"},\"components\":"
		"[{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana \\\"A\\\" <b>\"},"
		"{\"type\":\"text\",\"text\":\"8812\"}]}]}}");
	assert_null(strstr(body, "secret"));
	assert_null(strstr(url, "secret"));
	free(url);
	free(body);

	/* 360dialog: same body, its own URL, no phone-number id */
	m.api_base = "https://waba-v2.360dialog.io";
	m.account_id = NULL;
	m.aux_base = NULL;
	m.to = "whatsapp:+491701234567";
	assert_int_equal(net_d360_provider.build(&m, &url, &body), ERR_OK);
	assert_string_equal(url, "https://waba-v2.360dialog.io/messages");
	assert_non_null(strstr(body, "\"to\":\"491701234567\",\"type\":\"template\""));
	free(url);
	free(body);
}

static void test_meta_build_variants(void **state)
{
	struct net_send_msg m = meta_msg();
	char *url = NULL, *body = NULL;

	(void)state;
	/* no variables: no components */
	m.vars_json = "{}";
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_OK);
	assert_string_equal(body,
		"{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
		"\"to\":\"491701234567\",\"type\":\"template\",\"template\":{\"name\":\"order_update\","
		"\"language\":{\"policy\":\"deterministic\",\"code\":\"en_US\"}}}");
	free(url);
	free(body);
	/* free-form text inside the window */
	m.body = "Your order\nis ready";
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_OK);
	assert_string_equal(body,
		"{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
		"\"to\":\"491701234567\",\"type\":\"text\",\"text\":{\"preview_url\":false,"
		"\"body\":\"Your order\\nis ready\"}}");
	free(url);
	free(body);
}

/* The spec's "Send Message Template Media" example (meta.yaml, sendMessage):
 * the media as the header's image link, the rest as body text. */
static void test_meta_build_media(void **state)
{
	static const char *const kinds[] = {"image", "video", "document"};
	struct net_send_msg m = meta_msg();
	char *url = NULL, *body = NULL, want[512];

	(void)state;
	m.vars_json = "{\"1\":\"Ana\",\"2\":\"https://cdn.example.com/r/8812.jpg\",\"3\":\"8812\"}";
	m.media_var = 2;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		m.media_type = kinds[i];
		assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_OK);
		snprintf(want, sizeof(want), "\"components\":[{\"type\":\"header\",\"parameters\":"
			 "[{\"type\":\"%s\",\"%s\":{\"link\":\"https://cdn.example.com/r/8812.jpg\"}}]},"
			 "{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},"
			 "{\"type\":\"text\",\"text\":\"8812\"}]}]}}", kinds[i], kinds[i]);
		if (!strstr(body, want))
			fail_msg("%s header: %s", kinds[i], body);
		free(url);
		free(body);
	}
	/* The media alone: a header and no body component. */
	m.vars_json = "{\"1\":\"https://cdn.example.com/a.pdf\"}";
	m.media_var = 1;
	m.media_type = "document";
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_OK);
	assert_non_null(strstr(body, "\"components\":[{\"type\":\"header\",\"parameters\":"
			       "[{\"type\":\"document\",\"document\":{\"link\":"
			       "\"https://cdn.example.com/a.pdf\"}}]}]}}"));
	free(url);
	free(body);
	/* A kind Meta has no header for, none, or a variable that is not there. */
	m.media_type = "audio";
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_INVAL);
	m.media_type = NULL;
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_INVAL);
	m.media_type = "image";
	m.media_var = 2;
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_INVAL);
	m.vars_json = "{}";
	assert_int_equal(net_meta_provider.build(&m, &url, &body), ERR_INVAL);
}

static void test_meta_build_rejects(void **state)
{
	static const struct {
		const char *field, *value;
	} bad[] = {
		{"vars", "{\"1\":\"a\",\"3\":\"c\"}"}, /* a gap */
		{"vars", "{\"1\":\"a\",\"x\":\"b\"}"}, /* a named key */
		{"vars", "{\"1\":2}"},                 /* not text */
		{"vars", "[\"a\"]"},
		{"vars", "{\"1\":"},
		{"version", "21.0"},
		{"version", "v21"},
		{"version", "v21.0/../x"},
		{"phone", "1065/../4"},
		{"phone", ""},
		{"to", "+12"},
		{"to", "+49170abc"},
		{"name", ""},
		{"language", NULL},
	};
	char *url = NULL, *body = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_send_msg m = meta_msg();

		if (strcmp(bad[i].field, "vars") == 0)
			m.vars_json = bad[i].value;
		else if (strcmp(bad[i].field, "version") == 0)
			m.aux_base = bad[i].value;
		else if (strcmp(bad[i].field, "phone") == 0)
			m.account_id = bad[i].value;
		else if (strcmp(bad[i].field, "to") == 0)
			m.to = bad[i].value;
		else if (strcmp(bad[i].field, "name") == 0)
			m.template_name = bad[i].value;
		else
			m.language = bad[i].value;
		if (net_meta_provider.build(&m, &url, &body) != ERR_INVAL)
			fail_msg("case %zu (%s) was not refused", i, bad[i].field);
	}
}

static void test_headers(void **state)
{
	struct net_send_msg m = meta_msg();
	struct net_http_req req;
	char *own[NET_HTTP_HEADERS_MAX];

	(void)state;
	memset(&req, 0, sizeof(req));
	assert_int_equal(net_provider_auth(&net_meta_provider, &m, true, &req, own), ERR_OK);
	assert_int_equal(req.n_headers, 2);
	assert_string_equal(req.headers[0], "Authorization: Bearer EAAGm0PX4ZCpsBA-secret");
	assert_string_equal(req.headers[1], "Content-Type: application/json");
	assert_null(req.user);
	net_http_headers_free(own, req.n_headers);
	assert_null(own[0]);

	m.token = "d360-key";
	assert_int_equal(net_provider_auth(&net_d360_provider, &m, false, &req, own), ERR_OK);
	assert_int_equal(req.n_headers, 1);
	assert_string_equal(req.headers[0], "D360-API-KEY: d360-key");
	net_http_headers_free(own, req.n_headers);

	/* a token that would start a header line of its own */
	m.token = "abc\r\nX-Evil: 1";
	assert_int_equal(net_provider_auth(&net_meta_provider, &m, true, &req, own), ERR_INVAL);
	m.token = NULL;
	assert_int_equal(net_provider_auth(&net_d360_provider, &m, true, &req, own), ERR_INVAL);

	/* Twilio keeps Basic auth */
	m.user = "AC1";
	m.password = "tok";
	assert_int_equal(net_provider_auth(&net_twilio_provider, &m, true, &req, own), ERR_OK);
	assert_int_equal(req.n_headers, 0);
	assert_string_equal(req.user, "AC1");
	assert_string_equal(req.password, "tok");
}

static void test_probe_urls(void **state)
{
	struct net_send_msg m = meta_msg();
	char *url = NULL;

	(void)state;
	assert_int_equal(net_meta_provider.probe_url(&m, &url), ERR_OK);
	assert_string_equal(url, "https://graph.facebook.com/v21.0/106540352242922");
	free(url);
	m.api_base = "https://waba-v2.360dialog.io";
	assert_int_equal(net_d360_provider.probe_url(&m, &url), ERR_OK);
	assert_string_equal(url, "https://waba-v2.360dialog.io/v1/configs/templates");
	free(url);
	assert_non_null(strstr(net_d360_provider.probe_what(&m), "templates"));

	/* Twilio: the Auth Token fetches the account, an API key lists one message */
	m = (struct net_send_msg){.api_base = "https://api.twilio.com", .account_id = "AC1",
				  .user = "AC1", .password = "t"};
	assert_int_equal(net_twilio_provider.probe_url(&m, &url), ERR_OK);
	assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/AC1.json");
	assert_non_null(strstr(net_twilio_provider.probe_what(&m), "Auth Token"));
	free(url);
	m.user = "SK0123456789abcdef0123456789abcdef";
	assert_int_equal(net_twilio_provider.probe_url(&m, &url), ERR_OK);
	assert_string_equal(url,
		"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=1");
	assert_non_null(strstr(net_twilio_provider.probe_what(&m), "API key"));
	free(url);
}

/* ---- templates ---- */

struct seen {
	unsigned n, approved;
	char names[8][64];
};

static int on_template(const struct net_template *t, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s:%s:%s", t->name, t->language,
			 t->status);
	s->n++;
	s->approved += t->approved;
	return 0;
}

static void page_of(const struct net_provider *p, const char *base, long status,
		    const char *body, struct seen *s, struct net_list_page *pg)
{
	struct net_http_result res = {.status = status, .body = body, .body_len = strlen(body)};

	memset(s, 0, sizeof(*s));
	p->templates_page(&res, base, on_template, s, pg);
}

static void test_templates(void **state)
{
	struct net_send_msg m = meta_msg();
	struct net_list_page pg;
	struct seen s;
	char *url = NULL;

	(void)state;
	assert_int_equal(net_meta_provider.templates_url(&m, &url), ERR_OK);
	assert_string_equal(url, "https://graph.facebook.com/v21.0/102290129340398/message_templates"
				 "?fields=name,status,language,category&limit=100");
	free(url);
	m.waba_id = NULL;
	assert_int_equal(net_meta_provider.templates_url(&m, &url), ERR_INVAL);

	page_of(&net_meta_provider, "https://graph.facebook.com", 200,
		"{\"data\":[{\"id\":\"1\",\"name\":\"order_update\",\"language\":\"en_US\","
		"\"status\":\"APPROVED\",\"category\":\"UTILITY\"},{\"id\":\"2\",\"name\":\"promo\","
		"\"language\":\"de\",\"status\":\"PAUSED\"},{\"name\":\"broken\"}],"
		"\"paging\":{\"cursors\":{\"after\":\"QVFI\"},\"next\":"
		"\"https://graph.facebook.com/v21.0/102290129340398/message_templates?after=QVFI\"}}",
		&s, &pg);
	assert_int_equal(pg.cls, NET_OK);
	assert_int_equal(pg.n, 3);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.approved, 1);
	assert_string_equal(s.names[0], "order_update:en_US:APPROVED");
	assert_string_equal(s.names[1], "promo:de:PAUSED");
	assert_string_equal(pg.next_url,
		"https://graph.facebook.com/v21.0/102290129340398/message_templates?after=QVFI");
	free(pg.next_url);

	/* last page; a next on another host is never followed (the token goes along) */
	page_of(&net_meta_provider, "https://graph.facebook.com/", 200, "{\"data\":[]}", &s, &pg);
	assert_int_equal(pg.cls, NET_OK);
	assert_null(pg.next_url);
	page_of(&net_meta_provider, "https://graph.facebook.com", 200,
		"{\"data\":[],\"paging\":{\"next\":\"https://graph.facebook.com.evil.example/x\"}}",
		&s, &pg);
	assert_null(pg.next_url);
	assert_non_null(strstr(pg.text, "not followed"));

	/* 360dialog's shape, lower-case status */
	page_of(&net_d360_provider, "https://waba-v2.360dialog.io", 200,
		"{\"count\":1,\"waba_templates\":[{\"name\":\"order_update\",\"language\":\"en\","
		"\"status\":\"approved\",\"rejected_reason\":\"NONE\"}]}", &s, &pg);
	assert_int_equal(pg.cls, NET_OK);
	assert_int_equal(s.approved, 1);

	/* failures */
	page_of(&net_meta_provider, "https://graph.facebook.com", 401,
		"{\"error\":{\"code\":190,\"message\":\"expired\"}}", &s, &pg);
	assert_int_equal(pg.cls, NET_AUTH);
	page_of(&net_meta_provider, "https://graph.facebook.com", 500, "", &s, &pg);
	assert_int_equal(pg.cls, NET_TRANSIENT);
	page_of(&net_meta_provider, "https://graph.facebook.com", 200, "<html>", &s, &pg);
	assert_int_equal(pg.cls, NET_PERMANENT);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_twilio_codes),
		cmocka_unit_test(test_meta_codes),
		cmocka_unit_test(test_d360_errors),
		cmocka_unit_test(test_meta_outcome_success),
		cmocka_unit_test(test_meta_outcome_errors),
		cmocka_unit_test(test_meta_outcome_spec_errors),
		cmocka_unit_test(test_meta_outcome_transport),
		cmocka_unit_test(test_meta_build),
		cmocka_unit_test(test_meta_build_variants),
		cmocka_unit_test(test_meta_build_media),
		cmocka_unit_test(test_meta_build_rejects),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_probe_urls),
		cmocka_unit_test(test_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
