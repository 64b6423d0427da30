#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "hal/err.h"
#include "hal/parse.h"
#include "net/form.h"
#include "net/providers/webhook.h"

#define PARAMS_MAX 256

struct param {
	char *name, *value;
};

/* A malloc'd, URL-decoded copy of s[0..len). */
static char *decode(const char *s, size_t len)
{
	char *out = strndup(s, len);

	if (out)
		net_form_decode(out);
	return out;
}

static int by_name(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* Splits the body into decoded name/value pairs. -1 on too many or no memory. */
static int parse_form(const char *body, struct param *p)
{
	int n = 0;

	while (body && *body) {
		const char *amp = strchr(body, '&'), *end = amp ? amp : body + strlen(body);
		const char *eq = memchr(body, '=', (size_t)(end - body));

		if (end > body) {
			if (n == PARAMS_MAX)
				goto fail;
			p[n].name = decode(body, (size_t)((eq ? eq : end) - body));
			p[n].value = eq ? decode(eq + 1, (size_t)(end - eq - 1)) : decode("", 0);
			n++;
			if (!p[n - 1].name || !p[n - 1].value)
				goto fail;
		}
		body = amp ? amp + 1 : end;
	}
	return n;
fail: /* nothing half-parsed is left to the caller */
	while (n--) {
		free(p[n].name);
		free(p[n].value);
	}
	return -1;
}

static bool equal_ct(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool net_twilio_signature_valid(const char *auth_token, const char *url, const char *form_body,
				const char *signature)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	struct param *p = calloc(PARAMS_MAX, sizeof(*p));
	unsigned char mac[20], given[32];
	size_t glen = 0;
	mbedtls_md_context_t ctx;
	bool ok = false;
	int n = p ? parse_form(form_body, p) : -1;

	if (n < 0 || !md || !auth_token || !url || !signature ||
	    mbedtls_base64_decode(given, sizeof(given), &glen, (const unsigned char *)signature,
				  strlen(signature)) != 0 || glen != sizeof(mac))
		goto out;
	qsort(p, (size_t)n, sizeof(*p), by_name);
	mbedtls_md_init(&ctx);
	if (mbedtls_md_setup(&ctx, md, 1) == 0 &&
	    mbedtls_md_hmac_starts(&ctx, (const unsigned char *)auth_token, strlen(auth_token)) == 0) {
		mbedtls_md_hmac_update(&ctx, (const unsigned char *)url, strlen(url));
		for (int i = 0; i < n; i++) {
			mbedtls_md_hmac_update(&ctx, (const unsigned char *)p[i].name, strlen(p[i].name));
			mbedtls_md_hmac_update(&ctx, (const unsigned char *)p[i].value,
					       strlen(p[i].value));
		}
		ok = mbedtls_md_hmac_finish(&ctx, mac) == 0 && equal_ct(mac, given, sizeof(mac));
	}
	mbedtls_md_free(&ctx);
out:
	for (int i = 0; p && i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	return ok;
}

bool net_meta_signature_valid(const char *app_secret, const void *body, size_t len,
			      const char *header)
{
	static const char prefix[] = "sha256=";
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	unsigned char mac[32], given[32];

	if (!md || !app_secret || !header || strncmp(header, prefix, sizeof(prefix) - 1) != 0 ||
	    strlen(header) != sizeof(prefix) - 1 + 64)
		return false;
	if (!hal_hex_decode(header + sizeof(prefix) - 1, given, sizeof(given)))
		return false;
	if (mbedtls_md_hmac(md, (const unsigned char *)app_secret, strlen(app_secret), body, len,
			    mac) != 0)
		return false;
	return equal_ct(mac, given, sizeof(mac));
}

/* ---- bodies ---- */

static const char *param(const struct param *p, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

static const char *either(const struct param *p, int n, const char *a, const char *b)
{
	const char *v = param(p, n, a);

	return v ? v : param(p, n, b);
}

static const char *bare(const char *addr)
{
	return addr && strncmp(addr, "whatsapp:", 9) == 0 ? addr + 9 : addr;
}

/* Control characters blanked: the text may end up in a log line. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src && i + 1 < size && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
	dst[i] = '\0';
}

static int class_of(const struct net_webhook_sink *k, int code)
{
	if (!code)
		return NET_OK;
	return k->code_class ? k->code_class(code) : NET_PERMANENT;
}

static int code_of(const char *s)
{
	uint64_t v;

	return s && hal_parse_u64(s, 1, 999999999, &v) ? (int)v : 0;
}

static bool status_word_inbound(const char *s)
{
	return s && (strcmp(s, "received") == 0 || strcmp(s, "receiving") == 0);
}

static void twilio_status(const struct param *p, int n, const char *sid, const char *word,
			  const struct net_webhook_sink *k, unsigned *count)
{
	struct net_status st = {.cls = NET_OK, .at_ms = -1};

	st.status = net_msg_status_parse(word);
	if (st.status == NET_ST_UNKNOWN || strlen(sid) >= sizeof(st.id))
		return;
	snprintf(st.id, sizeof(st.id), "%s", sid);
	st.code = code_of(param(p, n, "ErrorCode"));
	st.err_class = class_of(k, st.code);
	copy_text(st.text, sizeof(st.text), param(p, n, "ErrorMessage"));
	if (k->status)
		k->status(&st, k->arg);
	(*count)++;
}

static void twilio_inbound(const struct param *p, int n, const char *sid,
			   const struct net_webhook_sink *k, unsigned *count)
{
	struct net_inbound in = {.id = sid, .at_ms = -1};

	in.from = bare(param(p, n, "From"));
	in.to = bare(param(p, n, "To"));
	in.body = either(p, n, "Body", "ButtonText");
	in.payload = param(p, n, "ButtonPayload");
	in.replied_to = param(p, n, "OriginalRepliedMessageSid");
	if (!in.from || !in.from[0])
		return;
	if (!in.to)
		in.to = "";
	if (!in.body)
		in.body = "";
	if (k->inbound)
		k->inbound(&in, k->arg);
	(*count)++;
}

int net_twilio_webhook_parse(const char *form_body, const struct net_webhook_sink *k,
			     unsigned *count)
{
	struct param *p = calloc(PARAMS_MAX, sizeof(*p));
	int n = p ? parse_form(form_body, p) : -1, err = ERR_OK;
	const char *sid, *word;

	*count = 0;
	if (n < 0) {
		err = p ? ERR_INVAL : ERR_NOMEM;
		goto out;
	}
	sid = either(p, n, "MessageSid", "SmsSid");
	word = either(p, n, "MessageStatus", "SmsStatus");
	if (!sid || !sid[0]) {
		err = ERR_INVAL;
		goto out;
	}
	if (word && !status_word_inbound(word))
		twilio_status(p, n, sid, word, k, count);
	else
		twilio_inbound(p, n, sid, k, count);
out:
	for (int i = 0; p && i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	return err;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* Meta writes Unix seconds as a string. */
static int64_t meta_time(const cJSON *o)
{
	uint64_t v;
	const char *s = jstr(o, "timestamp");

	return s && hal_parse_u64(s, 1, 99999999999ull, &v) ? (int64_t)v * 1000 : -1;
}

static void meta_error(const cJSON *st, struct net_status *out, const struct net_webhook_sink *k)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "errors"), 0);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const char *text = jstr(e, "title");

	if (cJSON_IsNumber(code) && code->valuedouble >= 1 && code->valuedouble <= 999999999)
		out->code = (int)code->valuedouble;
	out->err_class = class_of(k, out->code);
	copy_text(out->text, sizeof(out->text), text ? text : jstr(e, "message"));
}

static void meta_statuses(const cJSON *arr, const struct net_webhook_sink *k, unsigned *count)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		struct net_status st = {.cls = NET_OK};
		const char *id = jstr(it, "id");

		st.status = net_msg_status_parse(jstr(it, "status"));
		if (!id || !id[0] || strlen(id) >= sizeof(st.id) || st.status == NET_ST_UNKNOWN)
			continue;
		snprintf(st.id, sizeof(st.id), "%s", id);
		st.at_ms = meta_time(it);
		meta_error(it, &st, k);
		if (k->status)
			k->status(&st, k->arg);
		(*count)++;
	}
}

/* The text of a message: typed text, a quick-reply button, or an
 * interactive reply's title; "" for media and the rest. */
static void meta_text(const cJSON *m, struct net_inbound *in)
{
	const cJSON *button = cJSON_GetObjectItemCaseSensitive(m, "button");
	const cJSON *inter = cJSON_GetObjectItemCaseSensitive(m, "interactive");
	const cJSON *reply = cJSON_GetObjectItemCaseSensitive(inter, "button_reply");

	in->body = jstr(cJSON_GetObjectItemCaseSensitive(m, "text"), "body");
	if (button) {
		in->body = jstr(button, "text");
		in->payload = jstr(button, "payload");
	} else if (reply) {
		in->body = jstr(reply, "title");
		in->payload = jstr(reply, "id");
	}
	if (!in->body)
		in->body = "";
}

/* Meta gives numbers as digits; ours have the '+'. */
static const char *plus(char *buf, size_t cap, const char *digits)
{
	if (!digits)
		return "";
	snprintf(buf, cap, "%s%s", digits[0] == '+' ? "" : "+", digits);
	return buf;
}

static void meta_messages(const cJSON *value, const struct net_webhook_sink *k, unsigned *count)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(value, "metadata"), *it;
	char from[40], to[40];
	const char *ours = plus(to, sizeof(to), jstr(meta, "display_phone_number"));

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(value, "messages")) {
		struct net_inbound in = {.id = jstr(it, "id"), .to = ours};
		const char *f = jstr(it, "from");

		if (!in.id || !in.id[0] || !f || !f[0] || strlen(f) > 20)
			continue;
		in.from = plus(from, sizeof(from), f);
		in.at_ms = meta_time(it);
		in.replied_to = jstr(cJSON_GetObjectItemCaseSensitive(it, "context"), "id");
		meta_text(it, &in);
		if (k->inbound)
			k->inbound(&in, k->arg);
		(*count)++;
	}
}

int net_meta_webhook_parse(const char *body, size_t len, const struct net_webhook_sink *k,
			   unsigned *count)
{
	cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entry"), *e, *c;

	*count = 0;
	if (!cJSON_IsArray(entries)) {
		cJSON_Delete(root);
		return ERR_INVAL;
	}
	cJSON_ArrayForEach(e, entries) {
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(e, "changes")) {
			const cJSON *value = cJSON_GetObjectItemCaseSensitive(c, "value");

			meta_statuses(cJSON_GetObjectItemCaseSensitive(value, "statuses"), k, count);
			meta_messages(value, k, count);
		}
	}
	cJSON_Delete(root);
	return ERR_OK;
}
