/*
 * fuzz_meta.c - the Meta Cloud API and 360dialog drivers
 * (net/providers/meta.c, meta_reply.c): a send's outcome and a templates
 * page on an HTTP result built from the input, and a send built with the
 * input's body as the record's variables.
 *
 * Input: bytes 0-1 choose the HTTP status (high bit of byte 0 clear: one of
 * statuses[], set: the low 15 bits as a number), byte 2 is flags (bits 0-1:
 * the transfer error, bit 2: maybe_sent, bit 3: a Retry-After follows in
 * bytes 3-6, bit 5: 360dialog instead of Meta, bit 6: the build is of a
 * media template, variable 1 its header image); the rest is the body.
 *
 * Oracles besides the sanitizers: a class in range; the classes the driver
 * documents for transport failures and 5xx; a message id only with NET_OK,
 * printable without blanks or quotes; every text terminated and free of
 * control characters (safe in a log line); the same result twice gives the
 * same outcome. A templates page: a class in range and never ambiguous,
 * each template with a name, language and status, a next page only on the
 * API's host. A build: refused, or a JSON object whose body parameters are
 * exactly the variables (with media: the header's link variable 1, the
 * body parameters the others).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "tests/fuzz/fuzz.h"

static const long statuses[] = {
	200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503, 0, 100, 302, 499, 600, -1,
};
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]))

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
	FUZZ_ASSERT(o->retry_after_s >= 0, "retry_after %ld", o->retry_after_s);
	check_text(o->id, sizeof(o->id), "id");
	check_text(o->status, sizeof(o->status), "status");
	check_text(o->text, sizeof(o->text), "text");
	if (res->err != ERR_OK) {
		FUZZ_ASSERT(o->cls == (res->maybe_sent ? NET_AMBIGUOUS : NET_TRANSIENT),
			    "transport failure classed %s", net_class_name(o->cls));
		return;
	}
	if (res->status >= 500 && res->status < 600)
		FUZZ_ASSERT(o->cls == NET_AMBIGUOUS, "%ld classed %s", res->status,
			    net_class_name(o->cls));
	if (res->status == 401)
		FUZZ_ASSERT(o->cls == NET_AUTH, "401 classed %s", net_class_name(o->cls));
	if (o->cls != NET_OK) {
		FUZZ_ASSERT(!o->id[0], "an id with class %s", net_class_name(o->cls));
		return;
	}
	FUZZ_ASSERT(res->status >= 200 && res->status < 300, "NET_OK for %ld", res->status);
	FUZZ_ASSERT(o->id[0], "NET_OK without an id");
	for (const char *p = o->id; *p; p++)
		FUZZ_ASSERT(*p > ' ' && *p < 0x7f && *p != '"' && *p != '\\', "id \"%s\"", o->id);
}

static int listed(const struct net_template *t, void *arg)
{
	++*(unsigned *)arg;
	FUZZ_ASSERT(t->name && t->language && t->status, "a template lacks a string");
	return 0;
}

static void check_templates(const struct net_provider *drv, const struct net_http_result *res)
{
	static const char base[] = "https://graph.facebook.com";
	struct net_list_page page;
	unsigned n = 0;

	drv->templates_page(res, base, listed, &n, &page);
	FUZZ_ASSERT(page.cls >= 0 && page.cls < NET_CLASS__MAX && page.cls != NET_AMBIGUOUS,
		    "templates class %d", page.cls);
	check_text(page.text, sizeof(page.text), "templates text");
	FUZZ_ASSERT(n <= page.n, "%u listed of %u", n, page.n);
	if (page.cls != NET_OK)
		FUZZ_ASSERT(n == 0 && !page.next_url, "a failed page listed templates");
	if (page.next_url)
		FUZZ_ASSERT(strncmp(page.next_url, base, sizeof(base) - 1) == 0 &&
				    page.next_url[sizeof(base) - 1] == '/',
			    "next page at %.80s", page.next_url);
	free(page.next_url);
}

/* The media template's header: variable "1" as the image's link. */
static void check_header(const cJSON *comp, const cJSON *in)
{
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(comp, "parameters"), 0);
	const cJSON *link = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(p, "image"), "link");
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(in, "1");

	FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(comp, "type")) &&
		    strcmp(cJSON_GetObjectItemCaseSensitive(comp, "type")->valuestring, "header") == 0,
		    "the first component of a media template is not its header");
	FUZZ_ASSERT(cJSON_IsString(link) && cJSON_IsString(want) &&
		    strcmp(link->valuestring, want->valuestring) == 0,
		    "the header's link is not variable 1");
}

/* The body as a record's variables: refused, or every value exactly once,
 * in order, inside well-formed JSON; with media, variable 1 as the header
 * and the others as the body. */
static void check_build(const struct net_provider *drv, const char *vars, bool media)
{
	struct net_send_msg m = {
		.api_base = "https://graph.facebook.com", .account_id = "1065", .aux_base = "v21.0",
		.token = "t", .to = "+491701234567", .template_name = "order_update",
		.language = "en_US", .vars_json = vars, .media_var = media ? 1 : 0,
		.media_type = media ? "image" : NULL,
	};
	const cJSON *comps, *params, *p;
	cJSON *root, *in;
	char *url = NULL, *body = NULL, key[8];
	int i = media ? 1 : 0;

	if (drv->build(&m, &url, &body) != ERR_OK)
		return;
	root = cJSON_Parse(body);
	in = cJSON_Parse(vars);
	FUZZ_ASSERT(cJSON_IsObject(root), "built body is not a JSON object: %.80s", body);
	comps = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "template"),
						 "components");
	if (media)
		check_header(cJSON_GetArrayItem(comps, 0), in);
	params = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(comps, media ? 1 : 0),
						  "parameters");
	cJSON_ArrayForEach(p, params) {
		const cJSON *want;

		snprintf(key, sizeof(key), "%d", ++i);
		want = cJSON_GetObjectItemCaseSensitive(in, key);
		FUZZ_ASSERT(cJSON_IsString(want) && strcmp(want->valuestring,
			    cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring) == 0,
			    "parameter %d is not variable %s", i, key);
	}
	FUZZ_ASSERT(!in || i == cJSON_GetArraySize(in), "%d parameters for %d variables", i,
		    cJSON_GetArraySize(in));
	cJSON_Delete(root);
	cJSON_Delete(in);
	free(url);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct net_provider *drv;
	struct net_http_result res;
	struct net_send_outcome out, again;
	uint8_t flags;
	char *body;

	if (size < 3)
		return 0;
	memset(&res, 0, sizeof(res));
	res.status = data[0] & 0x80 ? (long)(((data[0] & 0x7f) << 8) | data[1])
				    : statuses[data[1] % N_STATUSES];
	flags = data[2];
	res.err = errors[flags & 3];
	res.maybe_sent = flags & 4;
	drv = net_provider_find(flags & 32 ? "360dialog" : "meta");
	FUZZ_ASSERT(drv && drv->outcome && drv->templates_page, "no driver");
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
	check_templates(drv, &res);
	check_build(drv, body, (flags & 64) != 0);
	free(body);
	return 0;
}
