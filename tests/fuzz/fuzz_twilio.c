/*
 * fuzz_twilio.c - the Twilio driver's response classification
 * (net/providers/twilio.c, reached as net_provider_find("twilio")->outcome)
 * on an HTTP result built from the input.
 *
 * Input: bytes 0-1 choose the HTTP status (high bit of byte 0 clear: one of
 * statuses[], set: the low 15 bits as a number), byte 2 is flags (bits 0-1:
 * the transfer error, bit 2: maybe_sent, bit 3: a Retry-After follows in
 * bytes 3-6, signed, as curl gives it); the rest is the response body.
 *
 * Oracles besides the sanitizers: a class in range; the retry classes the
 * driver documents for 429, 5xx and transport failures; a message id only
 * with NET_OK and only alphanumeric; every text it returns terminated and
 * free of control characters, so it is safe in a log line and in JSON;
 * the same result twice gives the same outcome.
 *
 * The same result is then read as a page of the message list
 * (reconciliation): a class in range, every listed message with a plain id
 * and both numbers, a next page only on the API's host. And as a page of
 * the Content API's templates: every template given has an HX id and a
 * status, "approved" (any case) and only that is approved, a next page
 * only on the Content API's host.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hal/err.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "tests/fuzz/fuzz.h"

static const long statuses[] = {
	201, 200, 202, 204, 400, 401, 403, 404, 429, 500, 502, 503, 504, 599,
	0, 100, 301, 399, 499, 600, 999, -1,
};
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]))

/* Transfer errors: the response arrived, a timeout, nothing sent, TLS. */
static const int errors[] = {ERR_OK, ERR_TIMEOUT, ERR_CONN, ERR_TLS};

static void check_text(const char *s, size_t size, const char *what)
{
	const char *nul = memchr(s, 0, size);

	FUZZ_ASSERT(nul, "%s not terminated", what);
	for (; s < nul; s++)
		FUZZ_ASSERT((unsigned char)*s >= 0x20 && *s != 0x7f, "%s holds byte 0x%02x", what,
			    (unsigned char)*s);
}

static void check_outcome(const struct net_http_result *res, const struct net_send_outcome *o)
{
	FUZZ_ASSERT(o->cls >= 0 && o->cls < NET_CLASS__MAX, "class %d", o->cls);
	FUZZ_ASSERT(strcmp(net_class_name(o->cls), "unknown") != 0, "class %d unnamed", o->cls);
	FUZZ_ASSERT(o->retry_after_s >= 0, "retry_after %ld", o->retry_after_s);
	check_text(o->id, sizeof(o->id), "id");
	check_text(o->status, sizeof(o->status), "status");
	check_text(o->text, sizeof(o->text), "text");
	if (res->err != ERR_OK) {
		FUZZ_ASSERT(o->cls == (res->maybe_sent ? NET_AMBIGUOUS : NET_TRANSIENT),
			    "transport failure classed %s", net_class_name(o->cls));
		return;
	}
	if (res->status == 429)
		FUZZ_ASSERT(o->cls == NET_RATE, "429 classed %s", net_class_name(o->cls));
	if (res->status >= 500 && res->status < 600)
		FUZZ_ASSERT(o->cls == NET_AMBIGUOUS || o->cls == NET_RATE || o->cls == NET_AUTH,
			    "%ld classed %s", res->status, net_class_name(o->cls));
	if (o->cls == NET_OK) {
		FUZZ_ASSERT(res->status >= 200 && res->status < 300, "NET_OK for %ld", res->status);
		FUZZ_ASSERT(o->id[0], "NET_OK without an id");
		for (const char *p = o->id; *p; p++)
			FUZZ_ASSERT((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
					    (*p >= 'a' && *p <= 'z'),
				    "id \"%s\"", o->id);
	} else {
		FUZZ_ASSERT(!o->id[0], "an id with class %s", net_class_name(o->cls));
	}
}

static int listed(const struct net_listed *l, void *arg)
{
	const char *p;

	++*(unsigned *)arg;
	FUZZ_ASSERT(l->id && l->to && l->from && l->body, "a listed message lacks a string");
	FUZZ_ASSERT(l->id[0] && strlen(l->id) < sizeof(((struct net_send_outcome *)0)->id),
		    "listed id of %zu bytes", strlen(l->id));
	for (p = l->id; *p; p++)
		FUZZ_ASSERT((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
				    (*p >= 'a' && *p <= 'z'),
			    "listed id \"%s\"", l->id);
	FUZZ_ASSERT(l->created_ms >= -1, "created %lld", (long long)l->created_ms);
	return 0;
}

/* Our account's list, as the page was asked at: a next page may only be
 * another page of it (net/providers/twilio_link.c). */
#define FUZZ_LIST "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"

static void check_list(const struct net_provider *drv, const struct net_http_result *res_)
{
	static const char base[] = "https://api.twilio.com", own[] = FUZZ_LIST;
	struct net_http_result r = *res_, *res = &r;
	struct net_list_page page;
	unsigned n = 0;

	r.url = "https://api.twilio.com" FUZZ_LIST "?PageSize=20";
	drv->list_page(res, base, listed, &n, &page);
	FUZZ_ASSERT(page.cls >= 0 && page.cls < NET_CLASS__MAX && page.cls != NET_AMBIGUOUS,
		    "list class %d", page.cls);
	check_text(page.text, sizeof(page.text), "list text");
	FUZZ_ASSERT(n <= page.n, "%u listed of %u", n, page.n);
	if (page.cls != NET_OK)
		FUZZ_ASSERT(n == 0 && !page.next_url, "a failed page listed messages");
	if (page.next_url)
		FUZZ_ASSERT(strncmp(page.next_url, base, sizeof(base) - 1) == 0 &&
				    strncmp(page.next_url + sizeof(base) - 1, own, sizeof(own) - 1) == 0 &&
				    strchr("?", page.next_url[sizeof(base) + sizeof(own) - 2]) &&
				    strcmp(page.next_url, r.url) != 0,
			    "next page at %.80s", page.next_url);
	FUZZ_ASSERT(!(page.next_url && page.refused_next), "a refused link given as next");
	free(page.next_url);
}

static int template_seen(const struct net_template *t, void *arg)
{
	++*(unsigned *)arg;
	FUZZ_ASSERT(t->id && strlen(t->id) == 34 && strncmp(t->id, "HX", 2) == 0,
		    "template id \"%.40s\"", t->id ? t->id : "(null)");
	FUZZ_ASSERT(t->status && t->status[0], "a template without a status");
	FUZZ_ASSERT(t->approved == (strcasecmp(t->status, "approved") == 0),
		    "status \"%.40s\" read as %s", t->status, t->approved ? "approved" : "not");
	FUZZ_ASSERT(!t->reason || t->reason[0], "an empty reason given as one");
	return 0;
}

/* The same result as a page of the Content API's template list. */
static void check_templates(const struct net_provider *drv, const struct net_http_result *res_)
{
	static const char base[] = "https://content.twilio.com";
	struct net_http_result r = *res_, *res = &r;
	struct net_list_page page;
	unsigned n = 0;

	r.url = "https://content.twilio.com/v1/ContentAndApprovals?PageSize=10";
	drv->templates_page(res, base, template_seen, &n, &page);
	FUZZ_ASSERT(page.cls >= 0 && page.cls < NET_CLASS__MAX && page.cls != NET_AMBIGUOUS,
		    "templates class %d", page.cls);
	check_text(page.text, sizeof(page.text), "templates text");
	FUZZ_ASSERT(n <= page.n, "%u templates of %u", n, page.n);
	if (res->err != ERR_OK || res->status != 200)
		FUZZ_ASSERT(n == 0 && page.cls != NET_OK, "a failed request listed templates");
	if (page.next_url)
		FUZZ_ASSERT(page.cls == NET_OK &&
				    strncasecmp(page.next_url, base, sizeof(base) - 1) == 0 &&
				    strncmp(page.next_url + sizeof(base) - 1, "/v1/ContentAndApprovals",
					    23) == 0 &&
				    strchr("?", page.next_url[sizeof(base) + 22]) &&
				    strcmp(page.next_url, r.url) != 0,
			    "next page at %.80s", page.next_url);
	free(page.next_url);
}

static int inbound(const struct net_inbound *in, void *arg)
{
	++*(unsigned *)arg;
	FUZZ_ASSERT(in->id && in->id[0] && in->from && in->body, "an inbound message lacks a string");
	FUZZ_ASSERT(in->at_ms >= -1, "inbound at %lld", (long long)in->at_ms);
	return 0;
}

/* The inbound poll's page reader: the same page shape, only direction
 * "inbound" handed out. */
static void check_inbound(const struct net_provider *drv, const struct net_http_result *res)
{
	struct net_list_page page;
	unsigned n = 0;

	drv->inbound_page(res, "https://api.twilio.com", inbound, &n, &page);
	FUZZ_ASSERT(page.cls >= 0 && page.cls < NET_CLASS__MAX && page.cls != NET_AMBIGUOUS,
		    "inbound class %d", page.cls);
	FUZZ_ASSERT(n <= page.n, "%u inbound of %u", n, page.n);
	if (page.cls != NET_OK)
		FUZZ_ASSERT(n == 0 && !page.next_url, "a failed page handed out messages");
	free(page.next_url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct net_provider *drv;
	struct net_http_result res;
	struct net_send_outcome out, again;
	uint8_t flags;
	char *body;

	if (!drv)
		drv = net_provider_find("twilio");
	FUZZ_ASSERT(drv && drv->outcome, "no twilio driver");
	if (size < 3)
		return 0;
	memset(&res, 0, sizeof(res));
	res.status = data[0] & 0x80 ? (long)(((data[0] & 0x7f) << 8) | data[1])
				    : statuses[data[1] % N_STATUSES];
	flags = data[2];
	res.err = errors[flags & 3];
	res.maybe_sent = flags & 4;
	data += 3;
	size -= 3;
	if ((flags & 8) && size >= 4) {
		res.retry_after_s = (int32_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
					      (uint32_t)data[2] << 8 | data[3]);
		data += 4;
		size -= 4;
	}
	if (res.err != ERR_OK)
		snprintf(res.error, sizeof(res.error), "Operation timed out after 30000 milliseconds");
	/* As net/http hands it over: exactly body_len bytes and a NUL. */
	body = malloc(size + 1);
	FUZZ_ASSERT(body, "out of memory");
	memcpy(body, data, size);
	body[size] = '\0';
	res.body = size || (flags & 16) ? body : NULL;
	res.body_len = size;

	drv->outcome(&res, &out);
	check_outcome(&res, &out);
	drv->outcome(&res, &again);
	FUZZ_ASSERT(memcmp(&out, &again, sizeof(out)) == 0, "two outcomes for one result");
	check_list(drv, &res);
	check_templates(drv, &res);
	check_inbound(drv, &res);
	free(body);
	return 0;
}
