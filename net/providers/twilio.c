#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "hal/parse.h"
#include "net/providers/reply.h"
#include "net/providers/twilio.h"

/*
 * Twilio error codes and what the sender does about them (reference
 * providers.md section 2). Codes not listed are permanent: retrying an
 * unknown refusal only burns attempts and rate budget.
 */
static const struct twilio_code {
	int code;
	int cls;
} twilio_codes[] = {
	{20003, NET_AUTH},      /* credentials refused: pause the account */
	{63007, NET_AUTH},      /* no WhatsApp sender for From: every message alike */
	{20429, NET_RATE},      /* REST concurrency; never processed */
	{63018, NET_RATE},      /* Meta messaging limit / sandbox pace */
	{63017, NET_RATE},      /* account over 2000 MPS */
	{63038, NET_RATE},      /* daily account limit */
	{21610, NET_OPTED_OUT}, /* STOP */
	{63014, NET_OPTED_OUT}, /* user blocked the business */
	{63016, NET_WINDOW},    /* free-form outside the 24 h window */
	{63027, NET_TEMPLATE},  /* template missing for language, wrong params */
	{63028, NET_TEMPLATE},  /* parameter count mismatch */
	{63030, NET_TEMPLATE},  /* unsupported parameter for the message type */
	{63012, NET_TRANSIENT}, /* channel provider internal error */
	{30008, NET_TRANSIENT}, /* unknown downstream error */
	{30003, NET_TRANSIENT}, /* handset unreachable for now */
	{30036, NET_TRANSIENT}, /* expired in Twilio's queue; our TTL decides relevance */
	{20500, NET_TRANSIENT}, /* on a 4xx only; a 5xx POST stays ambiguous */
	{20503, NET_TRANSIENT},
	{21211, NET_PERMANENT}, /* invalid To */
	{21614, NET_PERMANENT}, /* To not a mobile number */
	{21408, NET_PERMANENT}, /* geo permission for that destination */
	{21654, NET_PERMANENT}, /* ContentVariables without ContentSid: our bug */
	{92005, NET_PERMANENT}, /* the same */
	{21658, NET_PERMANENT}, /* a value over its length limit */
	{30005, NET_PERMANENT}, /* unknown or inactive number */
	{30006, NET_PERMANENT}, /* landline or unreachable carrier */
	{30007, NET_PERMANENT}, /* filtered as spam: a resend would be too */
	{63003, NET_PERMANENT}, /* not a WhatsApp user */
	{63021, NET_PERMANENT}, /* content refused (media, > 1,024 chars) */
	{63024, NET_PERMANENT}, /* invalid recipient */
	{63032, NET_PERMANENT}, /* in a Meta marketing experiment */
	{63049, NET_PERMANENT}, /* Meta held a marketing template: days, not our backoff */
};

int net_twilio_code_class(int code)
{
	size_t i;

	for (i = 0; i < sizeof(twilio_codes) / sizeof(twilio_codes[0]); i++)
		if (twilio_codes[i].code == code)
			return twilio_codes[i].cls;
	return NET_PERMANENT;
}

/* ---- request ---- */

static bool alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 3986 unreserved; done by hand because curl_easy_escape needs a handle
 * and the locale must not change what isalnum() says. */
static bool unreserved(unsigned char c)
{
	return alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encodes s at dst (when dst is not NULL); returns the encoded
 * length, so one function both sizes and fills the buffer. */
static size_t enc(char *dst, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c)) {
			if (dst)
				dst[n] = (char)c;
			n++;
			continue;
		}
		if (dst) {
			dst[n] = '%';
			dst[n + 1] = hex[c >> 4];
			dst[n + 2] = hex[c & 15];
		}
		n += 3;
	}
	return n;
}

static size_t raw(char *dst, const char *s, size_t len)
{
	if (dst)
		memcpy(dst, s, len);
	return len;
}

struct form_field {
	const char *key, *prefix, *value; /* value NULL or "" = left out */
};

static size_t form_put(char *dst, const struct form_field *f, size_t nf)
{
	size_t i, n = 0;

	for (i = 0; i < nf; i++) {
		if (!f[i].value || !*f[i].value)
			continue;
		if (n)
			n += raw(dst ? dst + n : NULL, "&", 1);
		n += enc(dst ? dst + n : NULL, f[i].key);
		n += raw(dst ? dst + n : NULL, "=", 1);
		n += enc(dst ? dst + n : NULL, f[i].prefix);
		n += enc(dst ? dst + n : NULL, f[i].value);
	}
	if (dst)
		dst[n] = '\0';
	return n;
}

static bool filled(const char *s)
{
	return s && *s;
}

static char *build_body(const struct net_send_msg *m)
{
	/* To is a bare E.164 number in the outbox; tolerate a configured prefix. */
	bool prefixed = strncmp(m->to, "whatsapp:", 9) == 0;
	bool freeform = !filled(m->content_sid); /* Body: inside the 24 h window only */
	const struct form_field f[] = {
		{"To", prefixed ? "" : "whatsapp:", m->to},
		{"From", "", m->from},
		{"ContentSid", "", m->content_sid},
		{"ContentVariables", "", freeform ? NULL : m->vars_json},
		{"Body", "", freeform ? m->body : NULL},
	};
	size_t nf = sizeof(f) / sizeof(f[0]);
	char *body = malloc(form_put(NULL, f, nf) + 1);

	if (body)
		form_put(body, f, nf);
	return body;
}

/* {api_base}/2010-04-01/Accounts/{account}{tail} */
static char *account_url(const struct net_send_msg *m, const char *tail_)
{
	static const char head[] = "/2010-04-01/Accounts/";
	size_t blen = strlen(m->api_base), tlen = strlen(tail_), n = 0;
	char *url;

	if (blen && m->api_base[blen - 1] == '/')
		blen--;
	url = malloc(blen + sizeof(head) - 1 + enc(NULL, m->account_id) + tlen + 1);
	if (!url)
		return NULL;
	n += raw(url + n, m->api_base, blen);
	n += raw(url + n, head, sizeof(head) - 1);
	n += enc(url + n, m->account_id);
	n += raw(url + n, tail_, tlen + 1); /* with its NUL */
	return url;
}

static char *build_url(const struct net_send_msg *m)
{
	return account_url(m, "/Messages.json");
}

static int twilio_build(const struct net_send_msg *m, char **url_out, char **body_out)
{
	char *url = NULL, *body = NULL;
	int err = ERR_INVAL;

	if (!m || !url_out || !body_out || !filled(m->api_base) || !filled(m->account_id) ||
	    !filled(m->from) || !filled(m->to) || (!filled(m->content_sid) && !filled(m->body)))
		goto out;
	err = ERR_NOMEM;
	if (!(url = build_url(m)) || !(body = build_body(m)))
		goto out;
	*url_out = url;
	*body_out = body;
	url = body = NULL;
	err = ERR_OK;
out:
	free(url);
	free(body);
	return err;
}

/* ---- response ---- */

/* What we take from a Twilio reply; anything else in it is ignored. */
struct reply {
	bool object;       /* the body was a JSON object */
	bool sid_whole;    /* sid present and not truncated */
	int code;          /* 0 if absent or not a sane number */
	char sid[64];
	char status[24];
	char message[256];
};

enum { F_STR, F_CODE };

static const struct reply_field {
	const char *key;
	int type;
	size_t off, size;
} reply_fields[] = {
	{"sid", F_STR, offsetof(struct reply, sid), sizeof(((struct reply *)0)->sid)},
	{"status", F_STR, offsetof(struct reply, status), sizeof(((struct reply *)0)->status)},
	{"message", F_STR, offsetof(struct reply, message), sizeof(((struct reply *)0)->message)},
	{"code", F_CODE, offsetof(struct reply, code), sizeof(int)},
};

static bool copy_text(char *dst, size_t size, const char *src)
{
	return net_reply_text(dst, size, src);
}

/* Twilio sends codes as JSON integers; a numeric string is tolerated. 0 if
 * absent or not a sane number. */
static int read_code(const cJSON *v)
{
	int code = 0;

	return net_reply_code(v, 1, 999999, &code) ? code : 0;
}

static void read_field(const cJSON *obj, const struct reply_field *f, struct reply *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->key);
	char *dst = (char *)r + f->off;
	bool whole;

	if (!v)
		return;
	if (f->type == F_CODE) {
		*(int *)(void *)dst = read_code(v);
		return;
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return;
	whole = copy_text(dst, f->size, v->valuestring);
	if (f->off == offsetof(struct reply, sid))
		r->sid_whole = whole && dst[0];
}

static void parse_reply(const struct net_http_result *res, struct reply *r)
{
	cJSON *root;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (!res->body || !res->body_len)
		return;
	root = cJSON_ParseWithLength(res->body, res->body_len);
	if (cJSON_IsObject(root)) {
		r->object = true;
		for (i = 0; i < sizeof(reply_fields) / sizeof(reply_fields[0]); i++)
			read_field(root, &reply_fields[i], r);
	}
	cJSON_Delete(root);
}

/* A message id is what we poll and reconcile by: accept only plain ones
 * that fit struct net_send_outcome's id. */
static bool plain_id(const char *id)
{
	size_t n = 0;

	for (; id && id[n]; n++)
		if (!alnum((unsigned char)id[n]) || n >= sizeof(((struct net_send_outcome *)0)->id) - 1)
			return false;
	return n > 0;
}

static bool sid_valid(const struct reply *r)
{
	return r->sid_whole && plain_id(r->sid);
}

static void transport_outcome(const struct net_http_result *res, struct net_send_outcome *out)
{
	/* Nothing left the gateway (refused, DNS, TLS handshake e.g. with a
	 * clock still in 1970): a plain retry is safe. Once request bytes went
	 * out, Twilio may have created the message: reconcile first. */
	out->cls = res->maybe_sent ? NET_AMBIGUOUS : NET_TRANSIENT;
	out->code = (int)res->status;
	snprintf(out->text, sizeof(out->text), "%s%s: %.200s", hal_strerror(res->err),
		 res->maybe_sent ? " after the request was sent" : "", res->error);
}

static void success_outcome(const struct net_http_result *res, const struct reply *r,
			    struct net_send_outcome *out)
{
	out->code = (int)res->status;
	if (!sid_valid(r)) {
		/* Twilio took it, but we cannot tell which message it made. */
		out->cls = NET_AMBIGUOUS;
		snprintf(out->text, sizeof(out->text), "2xx without sid");
		return;
	}
	out->cls = NET_OK;
	snprintf(out->id, sizeof(out->id), "%s", r->sid);
	/* "queued" (or "accepted", through a Messaging Service) is every
	 * create's answer and says no more than the 201: not kept, so the
	 * record stays in the layout a daemon before provider_status reads. */
	if (strcmp(r->status, "queued") != 0 && strcmp(r->status, "accepted") != 0)
		snprintf(out->status, sizeof(out->status), "%s", r->status);
}

static int error_class(long status, const struct reply *r)
{
	if (status == 429 || r->code == 20429)
		return NET_RATE;
	if (status == 401 || r->code == 20003)
		return NET_AUTH;
	if (status >= 500 && status < 600)
		return NET_AMBIGUOUS; /* a failed POST may still have been processed */
	if (status >= 400 && status < 500 && r->code)
		return net_twilio_code_class(r->code);
	return NET_PERMANENT;
}

static void error_outcome(const struct net_http_result *res, const struct reply *r,
			  struct net_send_outcome *out)
{
	long st = res->status;

	out->cls = error_class(st, r);
	out->code = r->code ? r->code : (int)st;
	if (r->message[0])
		snprintf(out->text, sizeof(out->text), "%s", r->message);
	else if (st >= 400 && st < 500 && !r->code)
		snprintf(out->text, sizeof(out->text), "HTTP %ld with unparseable body", st);
	else if (st < 400)
		snprintf(out->text, sizeof(out->text), "unexpected HTTP %ld", st);
	else
		snprintf(out->text, sizeof(out->text), "HTTP %ld", st);
}

static void twilio_outcome(const struct net_http_result *res, struct net_send_outcome *out)
{
	struct reply r;

	memset(out, 0, sizeof(*out));
	/* A past HTTP-date gives a negative value in curl 7.88. */
	out->retry_after_s = res->retry_after_s > 0 ? res->retry_after_s : 0;
	if (res->err != ERR_OK) {
		transport_outcome(res, out);
		return;
	}
	parse_reply(res, &r);
	if (res->status >= 200 && res->status < 300)
		success_outcome(res, &r, out);
	else
		error_outcome(res, &r, out);
}

/* ---- list (reconciliation) ---- */

/* The Messages list URL with the query f. */
static int messages_query(const struct net_send_msg *m, const struct form_field *f, size_t nf,
			  char **url_out)
{
	char *url = build_url(m), *q;
	size_t n;

	if (!url)
		return ERR_NOMEM;
	n = strlen(url);
	q = realloc(url, n + 1 + form_put(NULL, f, nf) + 1);
	if (!q) {
		free(url);
		return ERR_NOMEM;
	}
	q[n] = '?';
	form_put(q + n + 1, f, nf);
	*url_out = q;
	return ERR_OK;
}

static int twilio_list_url(const struct net_send_msg *m, char **url_out)
{
	bool prefixed = m && m->to && strncmp(m->to, "whatsapp:", 9) == 0;
	const struct form_field f[] = {
		{"To", prefixed ? "" : "whatsapp:", m ? m->to : NULL},
		{"From", "", m ? m->from : NULL},
		{"PageSize", "", "20"},
	};

	if (!m || !url_out || !filled(m->api_base) || !filled(m->account_id) || !filled(m->from) ||
	    !filled(m->to))
		return ERR_INVAL;
	return messages_query(m, f, sizeof(f) / sizeof(f[0]), url_out);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "Mon, 06 Jan 2025 10:00:00 +0000" (RFC 2822, as Twilio writes dates) to
 * wall ms; -1 if it is not one. By hand: strptime's names follow the locale. */
static int64_t rfc2822_ms(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], sign;
	int d, y, hh, mm, ss, zh, zm, used = 0;
	const char *p;
	int64_t t;

	if (!s || sscanf(s, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %c%2d%2d%n", &d, mon, &y,
			 &hh, &mm, &ss, &sign, &zh, &zm, &used) != 9 || s[used] != '\0')
		return -1;
	p = strlen(mon) == 3 ? strstr(months, mon) : NULL;
	if (!p || (p - months) % 3 || d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 ||
	    ss > 60 || (sign != '+' && sign != '-') || zh > 23 || zm > 59 || hh < 0 || mm < 0 ||
	    ss < 0 || zh < 0 || zm < 0)
		return -1;
	t = days_from_civil(y, (unsigned)((p - months) / 3 + 1), (unsigned)d) * 86400 +
		    hh * 3600 + mm * 60 + ss;
	t -= (sign == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
	return t * 1000;
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static const char *bare(const char *addr)
{
	return addr && strncmp(addr, "whatsapp:", 9) == 0 ? addr + 9 : addr;
}

/* A page that did not come: a GET changes nothing, so unlike a POST a 5xx
 * or a timeout is a plain transient failure. */
static void list_failed(const struct net_http_result *res, struct net_list_page *page)
{
	struct net_send_outcome o;

	twilio_outcome(res, &o);
	page->cls = o.cls == NET_AMBIGUOUS ? NET_TRANSIENT : o.cls;
	if (res->err == ERR_TOOBIG) /* the same page would be as big again */
		page->cls = NET_PERMANENT;
	snprintf(page->text, sizeof(page->text), "listing messages: %.200s", o.text);
}

/* next_page_uri is a path; followed only within the account's Messages
 * list that this page was asked at (twilio_link.c says why). */
static void list_next(const cJSON *root, const struct net_http_result *res, const char *api_base,
		      struct net_list_page *page)
{
	const char *uri = json_str(root, "next_page_uri"), *scope;
	size_t len = 0;

	if (!uri || !*uri) /* null on the last page */
		return;
	scope = net_twilio_list_scope(api_base, res->url, &len);
	net_twilio_next_page(api_base ? api_base : "", res->url, uri, scope, len, "next_page_uri",
			     page);
}

/* The messages array of a list page (and the next page's URL), or NULL
 * with page->cls saying why; the caller deletes what is returned. */
static cJSON *page_open(const struct net_http_result *res, const char *api_base,
			struct net_list_page *page, const cJSON **msgs)
{
	cJSON *root = NULL;

	memset(page, 0, sizeof(*page));
	page->oldest_ms = -1;
	if (res->err != ERR_OK || res->status != 200) {
		list_failed(res, page);
		return NULL;
	}
	if (res->body && res->body_len)
		root = cJSON_ParseWithLength(res->body, res->body_len);
	*msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
	if (!cJSON_IsArray(*msgs)) {
		page->cls = NET_PERMANENT;
		snprintf(page->text, sizeof(page->text), "list reply without a messages array");
		cJSON_Delete(root);
		return NULL;
	}
	page->cls = NET_OK;
	list_next(root, res, api_base, page);
	return root;
}

static void twilio_list_page(const struct net_http_result *res, const char *api_base,
			     int (*each)(const struct net_listed *l, void *arg), void *arg,
			     struct net_list_page *page)
{
	const cJSON *msgs, *it;
	cJSON *root = page_open(res, api_base, page, &msgs);

	if (!root)
		return;
	cJSON_ArrayForEach(it, msgs) {
		struct net_listed l = {
			.id = json_str(it, "sid"), .to = bare(json_str(it, "to")),
			.from = bare(json_str(it, "from")), .body = json_str(it, "body"),
			.created_ms = rfc2822_ms(json_str(it, "date_created")),
		};

		page->n++;
		page->oldest_ms = l.created_ms;
		if (!plain_id(l.id) || !l.to || !l.from)
			continue; /* nothing to match on or claim */
		if (!l.body)
			l.body = "";
		if (each && each(&l, arg) != 0)
			break;
	}
	cJSON_Delete(root);
}

/* ---- inbound (polling) ---- */

/* Messages to our number on or after since_ms's GMT day, newest first:
 * Twilio's DateSent filter takes whole days, the caller stops walking at
 * what it has seen. */
static int twilio_inbound_url(const struct net_send_msg *m, int64_t since_ms, char **url_out)
{
	time_t t = (time_t)((since_ms > 0 ? since_ms : 0) / 1000);
	struct tm tm;
	char day[16];
	const struct form_field f[] = {
		{"To", "", m ? m->from : NULL},
		{"DateSent>", "", day},
		{"PageSize", "", "50"},
	};

	if (!m || !url_out || !filled(m->api_base) || !filled(m->account_id) || !filled(m->from) ||
	    !gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d", &tm))
		return ERR_INVAL;
	return messages_query(m, f, sizeof(f) / sizeof(f[0]), url_out);
}

static void twilio_inbound_page(const struct net_http_result *res, const char *api_base,
				int (*each)(const struct net_inbound *in, void *arg), void *arg,
				struct net_list_page *page)
{
	const cJSON *msgs, *it;
	cJSON *root = page_open(res, api_base, page, &msgs);

	if (!root)
		return;
	cJSON_ArrayForEach(it, msgs) {
		const char *dir = json_str(it, "direction"), *sent = json_str(it, "date_sent");
		struct net_inbound in = {
			.id = json_str(it, "sid"), .from = bare(json_str(it, "from")),
			.to = bare(json_str(it, "to")), .body = json_str(it, "body"),
			.at_ms = rfc2822_ms(sent ? sent : json_str(it, "date_created")),
		};

		page->n++;
		page->oldest_ms = in.at_ms;
		/* Our own messages to our number would be a loop; only inbound. */
		if (!dir || strcmp(dir, "inbound") != 0 || !plain_id(in.id) || !in.from)
			continue;
		if (!in.body)
			in.body = "";
		if (each && each(&in, arg) != 0)
			break;
	}
	cJSON_Delete(root);
}

/* An API key SID starts "SK": a Standard key may not fetch the account
 * (providers.md 1.6), but may list messages; the Auth Token (or a Main
 * key, which we cannot tell apart) fetches the account itself. */
static bool api_key(const struct net_send_msg *m)
{
	return m->user && strncmp(m->user, "SK", 2) == 0;
}

static int twilio_probe_url(const struct net_send_msg *m, char **url_out)
{
	if (!m || !url_out || !filled(m->api_base) || !filled(m->account_id))
		return ERR_INVAL;
	*url_out = account_url(m, api_key(m) ? "/Messages.json?PageSize=1" : ".json");
	return *url_out ? ERR_OK : ERR_NOMEM;
}

/* ---- status polling ---- */

/* {api_base}/2010-04-01/Accounts/{AC}/Messages/{SM}.json; the id must be a
 * plain sid (it goes into the path as it is). */
static int twilio_status_url(const struct net_send_msg *m, const char *id, char **url_out)
{
	char tail[96];

	if (!m || !url_out || !filled(m->api_base) || !filled(m->account_id) || !plain_id(id) ||
	    strlen(id) > 63)
		return ERR_INVAL;
	snprintf(tail, sizeof(tail), "/Messages/%s.json", id);
	*url_out = account_url(m, tail);
	return *url_out ? ERR_OK : ERR_NOMEM;
}

/* A fetch that did not come back as a message: why, in the outcome's terms
 * (a GET changes nothing, so a 5xx or a timeout is plain transient). */
static void status_failed(const struct net_http_result *res, struct net_status *st)
{
	struct net_send_outcome o;

	twilio_outcome(res, &o);
	st->cls = o.cls == NET_AMBIGUOUS ? NET_TRANSIENT : o.cls;
	if (res->err == ERR_OK && res->status == 404)
		st->cls = NET_PERMANENT; /* no such message: asking again will not find it */
	st->code = o.code;
	snprintf(st->text, sizeof(st->text), "fetching status: %.200s", o.text);
}

/* error_code: an integer, or null when there is none. */
static void status_error(const cJSON *root, struct net_status *st)
{
	const char *msg = json_str(root, "error_message");

	st->code = read_code(cJSON_GetObjectItemCaseSensitive(root, "error_code"));
	st->err_class = st->code ? net_twilio_code_class(st->code) : NET_OK;
	if (st->code && msg)
		copy_text(st->text, sizeof(st->text), msg);
}

/* "price": "-0.00500", "price_unit": "USD" (the OpenAPI description's
 * Message: a string, null until the message has been sent, negative for
 * what was billed; the unit ISO 4217, "usd" in its examples). */
static void status_price(const cJSON *root, struct net_status *st)
{
	const char *price = json_str(root, "price"), *unit = json_str(root, "price_unit");
	char *end;
	double v;

	if (!price || !unit || strlen(unit) != 3)
		return;
	v = strtod(price, &end);
	if (end == price || *end || !(v > -1e6 && v < 1e6))
		return;
	st->price_micro = hal_micro(v < 0 ? -v : v);
	for (int i = 0; i < 3; i++)
		st->price_unit[i] = (char)toupper((unsigned char)unit[i]);
	st->price_unit[3] = '\0';
}

static void twilio_status_read(const struct net_http_result *res, struct net_status *st)
{
	const char *sid, *status;
	cJSON *root = NULL;

	memset(st, 0, sizeof(*st));
	st->at_ms = -1;
	if (res->err != ERR_OK || res->status != 200) {
		status_failed(res, st);
		return;
	}
	if (res->body && res->body_len)
		root = cJSON_ParseWithLength(res->body, res->body_len);
	sid = json_str(root, "sid");
	status = json_str(root, "status");
	st->status = net_msg_status_parse(status);
	if (!cJSON_IsObject(root) || !plain_id(sid) || st->status == NET_ST_UNKNOWN) {
		char word[41] = "";

		copy_text(word, sizeof(word), status ? status : ""); /* safe in a log line */
		st->cls = NET_PERMANENT;
		st->status = NET_ST_UNKNOWN;
		snprintf(st->text, sizeof(st->text), "status reply without a sid and a known status%s%s",
			 word[0] ? ": " : "", word);
		cJSON_Delete(root);
		return;
	}
	st->cls = NET_OK;
	snprintf(st->id, sizeof(st->id), "%s", sid);
	status_error(root, st);
	status_price(root, st);
	st->at_ms = rfc2822_ms(json_str(root, "date_updated"));
	cJSON_Delete(root);
}

static const char *twilio_probe_what(const struct net_send_msg *m)
{
	return api_key(m) ? "message list, PageSize=1 (API key: a Standard key may not fetch "
			    "the account)"
			  : "account fetch (Auth Token)";
}

const struct net_provider net_twilio_provider = {
	.name = "twilio",
	.build = twilio_build,
	.outcome = twilio_outcome,
	.list_url = twilio_list_url,
	.list_page = twilio_list_page,
	.probe_url = twilio_probe_url,
	.probe_what = twilio_probe_what,
	.code_class = net_twilio_code_class,
	.templates_url = net_twilio_templates_url,
	.templates_page = net_twilio_templates_page,
	.status_url = twilio_status_url,
	.status_read = twilio_status_read,
	.inbound_url = twilio_inbound_url,
	.inbound_page = twilio_inbound_page,
};
