/*
 * json.c - string building and the JSON bodies twilio-sim answers with.
 *
 * Bodies are written by hand rather than through cJSON because the create
 * path runs thousands of times a second and the shapes are fixed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hal/log.h"
#include "tools/twilio-sim/sim.h"

static bool buf_reserve(struct sim_buf *b, size_t more)
{
	size_t want = b->len + more + 1;
	size_t cap = b->cap ? b->cap : 512;
	char *p;

	if (b->oom)
		return false;
	if (want <= b->cap)
		return true;
	while (cap < want)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sim_buf_add(struct sim_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sim_buf_str(struct sim_buf *b, const char *s)
{
	sim_buf_add(b, s, strlen(s));
}

void sim_buf_fmt(struct sim_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Every caller formats short fixed text; longer output is cut, not lost. */
	sim_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void sim_buf_json(struct sim_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	if (!s) {
		sim_buf_str(b, "null");
		return;
	}
	sim_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sim_buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			sim_buf_add(b, esc, 2);
		} else {
			sim_buf_add(b, esc, sizeof(esc));
		}
	}
	sim_buf_add(b, run, (size_t)(s - run));
	sim_buf_add(b, "\"", 1);
}

void sim_buf_free(struct sim_buf *b)
{
	if (!b)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

char *sim_buf_take(struct sim_buf *b)
{
	char *p = b->oom ? NULL : b->p;

	if (b->oom)
		free(b->p);
	if (p == NULL && !b->oom)
		p = strdup("");
	memset(b, 0, sizeof(*b));
	return p;
}

void sim_rfc2822(char *out, size_t len, int64_t wall_s)
{
	time_t t = (time_t)wall_s;
	struct tm tm;

	/* The process never calls setlocale(), so %a/%b are the English names
	 * RFC 2822 wants. */
	gmtime_r(&t, &tm);
	if (strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 && len)
		out[0] = '\0';
}

/* Rejections are logged so a failing test shows why, but a load test that
 * provokes thousands of them must not drown stderr. */
static void log_reject(unsigned status, int code, const char *msg)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct hal_ratelimit rl;
	unsigned suppressed = 0;
	bool ok;

	pthread_mutex_lock(&mu);
	ok = hal_ratelimit_ok(&rl, 10, 1000);
	if (ok) {
		suppressed = rl.suppressed;
		rl.suppressed = 0;
	}
	pthread_mutex_unlock(&mu);
	if (!ok)
		return;
	if (suppressed)
		log_warn("rejected %u %d: %s (%u more not logged)", status, code, msg, suppressed);
	else
		log_warn("rejected %u %d: %s", status, code, msg);
}

void sim_reply_error(struct sim_reply *r, unsigned status, int code, const char *fmt, ...)
{
	struct sim_buf b = {0};
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sim_buf_fmt(&b, "{\"code\":%d,\"message\":", code);
	sim_buf_json(&b, msg);
	sim_buf_fmt(&b, ",\"more_info\":\"https://www.twilio.com/docs/errors/%d\",\"status\":%u}",
		    code, status);
	free(r->json);
	r->json = sim_buf_take(&b);
	r->status = status;
	r->code = code;
	log_reject(status, code, msg);
}

void sim_reply_free(struct sim_reply *r)
{
	if (!r)
		return;
	free(r->json);
	r->json = NULL;
}

/* The sim knows no template texts: the body is "<ContentSid>: v1 | v2",
 * or the ContentSid alone without variables. Deterministic, so a test can
 * compare it. */
static void render_body(struct sim_buf *b, const struct sim_msg *m)
{
	struct sim_buf body = {0};

	sim_buf_str(&body, m->content_sid ? m->content_sid : "");
	if (m->vars_text && *m->vars_text) {
		if (m->content_sid && *m->content_sid) /* else free-form: the text alone */
			sim_buf_str(&body, ": ");
		sim_buf_str(&body, m->vars_text);
	}
	if (body.oom)
		b->oom = true;
	sim_buf_json(b, body.p ? body.p : "");
	sim_buf_free(&body);
}

void sim_render_message(struct sim_buf *b, const struct sim_config *cfg, const struct sim_msg *m)
{
	struct sim_status st = {.status = "queued", .updated_us = m->recv_us};
	char date[64], updated[64];

	if (m->sent)
		sim_status_view(cfg, m, &st);
	if (m->sent && sim_inbound_window_failed(m->sid)) /* free-form outside the window */
		st = (struct sim_status){"failed", 63016, "Failed to send freeform message because you "
					 "are outside the allowed window.", m->recv_us};
	sim_rfc2822(date, sizeof(date), m->recv_us / 1000000);
	sim_rfc2822(updated, sizeof(updated), st.updated_us / 1000000);
	sim_buf_str(b, "{\"account_sid\":");
	sim_buf_json(b, cfg->account);
	sim_buf_str(b, ",\"api_version\":\"2010-04-01\",\"body\":");
	render_body(b, m);
	sim_buf_str(b, ",\"date_created\":");
	sim_buf_json(b, date);
	/* The create answer is "queued" with no date_sent, as at Twilio; the
	 * sim hands the message on at once, so fetch and list show it sent,
	 * sent when it was received. */
	sim_buf_str(b, ",\"date_sent\":");
	sim_buf_json(b, m->sent ? date : NULL);
	sim_buf_str(b, ",\"date_updated\":");
	sim_buf_json(b, updated);
	if (st.code)
		sim_buf_fmt(b, ",\"direction\":\"outbound-api\",\"error_code\":%d,"
			    "\"error_message\":\"%s%s\",\"from\":", st.code, st.text ? "" : "twilio-sim: ",
			    st.text ? st.text : st.status);
	else
		sim_buf_str(b, ",\"direction\":\"outbound-api\",\"error_code\":null,"
			       "\"error_message\":null,\"from\":");
	sim_buf_json(b, m->from);
	sim_buf_str(b, ",\"messaging_service_sid\":null,\"num_media\":\"0\","
		       "\"num_segments\":\"1\",\"price\":");
	/* Twilio fills in the price after the message has been sent. */
	if (cfg->price[0] && strcmp(st.status, "sent") != 0 && strcmp(st.status, "queued") != 0)
		sim_buf_json(b, cfg->price);
	else
		sim_buf_str(b, "null");
	sim_buf_str(b, ",\"price_unit\":\"USD\",\"sid\":");
	sim_buf_json(b, m->sid);
	sim_buf_fmt(b, ",\"status\":\"%s\"", st.status);
	sim_buf_str(b, ",\"subresource_uris\":{\"media\":");
	sim_buf_fmt(b, "\"/2010-04-01/Accounts/%s/Messages/%s/Media.json\"},\"to\":",
		    cfg->account, m->sid);
	sim_buf_json(b, m->to);
	sim_buf_fmt(b, ",\"uri\":\"/2010-04-01/Accounts/%s/Messages/%s.json\"}", cfg->account,
		    m->sid);
}

void sim_render_account(struct sim_buf *b, const struct sim_config *cfg)
{
	char date[64];

	sim_rfc2822(date, sizeof(date), cfg->start_wall_ms / 1000);
	sim_buf_str(b, "{\"auth_token\":\"[redacted]\",\"date_created\":");
	sim_buf_json(b, date);
	sim_buf_str(b, ",\"date_updated\":");
	sim_buf_json(b, date);
	sim_buf_str(b, ",\"friendly_name\":\"twilio-sim test account\",\"owner_account_sid\":");
	sim_buf_json(b, cfg->account);
	sim_buf_str(b, ",\"sid\":");
	sim_buf_json(b, cfg->account);
	sim_buf_fmt(b, ",\"status\":\"active\",\"type\":\"Full\","
		       "\"uri\":\"/2010-04-01/Accounts/%s.json\"}", cfg->account);
}
