/*
 * inbound.c - inbound WhatsApp messages for tests, and the 24-hour window
 * for free-form (Body) sends.
 *
 * POST /sim/inbound {"from":"+E164","to":"whatsapp:+...","body":"STOP",
 * "ago_s":N?} (no auth: a test-only control route) makes an inbound message
 * as Twilio would show it: sid SM..., direction "inbound", status
 * "received", from "whatsapp:+E164", dated now (or ago_s seconds back).
 * A list request whose To is a number inbound messages were sent to is
 * answered from them (newest first, DateSent filters, PageSize, Page);
 * reconciliation's lists (To = a customer, From = our number) never see
 * them, as at Twilio.
 *
 * A Body-only create is free-form text: Twilio accepts it (201, queued) and
 * fails it afterwards with 63016 when the customer has not written within
 * 24 hours (providers.md section 8). The sim does the same: such a
 * message's fetch and list show it failed with error_code 63016.
 *
 * Kept in memory, bounded (INBOUND_MAX messages, FAILED_MAX failed ids; the
 * oldest go), under one mutex.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hal/parse.h"
#include "tools/twilio-sim/sim.h"

#define INBOUND_MAX 1024
#define FAILED_MAX 1024
#define BODY_MAX_ 1600
#define WINDOW_US (24LL * 3600 * 1000000)

struct in_msg {
	char sid[SIM_SID_LEN + 1];
	char *from, *to, *body; /* with "whatsapp:" */
	int64_t at_us;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct in_msg msgs[INBOUND_MAX];
static uint64_t n_msgs; /* ever made; slot n % INBOUND_MAX */
static char failed[FAILED_MAX][SIM_SID_LEN + 1];
static uint64_t n_failed;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void render(struct sim_buf *b, const struct sim_config *cfg, const struct in_msg *m)
{
	char date[64];

	sim_rfc2822(date, sizeof(date), m->at_us / 1000000);
	sim_buf_str(b, "{\"account_sid\":");
	sim_buf_json(b, cfg->account);
	sim_buf_str(b, ",\"api_version\":\"2010-04-01\",\"body\":");
	sim_buf_json(b, m->body);
	sim_buf_str(b, ",\"date_created\":");
	sim_buf_json(b, date);
	sim_buf_str(b, ",\"date_sent\":");
	sim_buf_json(b, date);
	sim_buf_str(b, ",\"date_updated\":");
	sim_buf_json(b, date);
	sim_buf_str(b, ",\"direction\":\"inbound\",\"error_code\":null,\"error_message\":null,"
		       "\"from\":");
	sim_buf_json(b, m->from);
	sim_buf_str(b, ",\"num_media\":\"0\",\"num_segments\":\"1\",\"price\":null,\"sid\":");
	sim_buf_json(b, m->sid);
	sim_buf_str(b, ",\"status\":\"received\",\"to\":");
	sim_buf_json(b, m->to);
	sim_buf_fmt(b, ",\"uri\":\"/2010-04-01/Accounts/%s/Messages/%s.json\"}", cfg->account,
		    m->sid);
}

static bool e164(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 8 && n <= 16 && s[0] == '+' && s[1] >= '1' && s[1] <= '9' &&
	       strspn(s + 1, "0123456789") == n - 1;
}

static char *prefixed(const char *addr)
{
	const char *num = strncmp(addr, "whatsapp:", 9) == 0 ? addr + 9 : addr;
	size_t n = strlen(num) + 10;
	char *s = e164(num) ? malloc(n) : NULL;

	if (s)
		snprintf(s, n, "whatsapp:%s", num);
	return s;
}

/* The message from the request, or NULL with the reply set. */
static bool parse(const char *text, struct in_msg *m, struct sim_reply *r)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(root, "from");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(root, "to");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(root, "body");
	const cJSON *ago = cJSON_GetObjectItemCaseSensitive(root, "ago_s");
	bool ok = false;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsString(from) || !cJSON_IsString(to) || !cJSON_IsString(body))
		sim_reply_error(r, 400, 21602, "from, to and body (strings) are required");
	else if (strlen(body->valuestring) > BODY_MAX_)
		sim_reply_error(r, 400, 21617, "body over %d characters", BODY_MAX_);
	else if (ago && (!cJSON_IsNumber(ago) || ago->valuedouble < 0 || ago->valuedouble > 1e8))
		sim_reply_error(r, 400, 21602, "ago_s must be a number of seconds");
	else if (!(m->from = prefixed(from->valuestring)) || !(m->to = prefixed(to->valuestring)))
		sim_reply_error(r, 400, 21211, "from and to must be (whatsapp:)+E.164");
	else if (!(m->body = strdup(body->valuestring)))
		sim_reply_error(r, 500, 20500, "out of memory");
	else
		ok = true;
	m->at_us = now_us() - (ago ? (int64_t)ago->valuedouble * 1000000 : 0);
	cJSON_Delete(root);
	if (!ok) {
		free(m->from);
		free(m->to);
	}
	return ok;
}

void sim_inbound_post(const struct sim_config *cfg, const char *method, const char *body,
		      struct sim_reply *r)
{
	struct sim_buf b = {0};
	struct in_msg m, *slot;

	if (strcmp(method, "POST") != 0) {
		sim_reply_error(r, 405, 20004, "Method %.16s not allowed", method);
		return;
	}
	if (!parse(body, &m, r))
		return;
	pthread_mutex_lock(&mu);
	n_msgs++;
	snprintf(m.sid, sizeof(m.sid), "SM%016" PRIx64 "%016" PRIx64, (uint64_t)0x1b0000000000000ULL,
		 n_msgs);
	slot = &msgs[n_msgs % INBOUND_MAX];
	free(slot->from), free(slot->to), free(slot->body);
	*slot = m;
	render(&b, cfg, slot);
	pthread_mutex_unlock(&mu);
	r->json = sim_buf_take(&b);
	r->status = r->json ? 201 : 500;
}

/* Whether `customer` (whatsapp:+...) wrote to `ours` within 24 hours. */
bool sim_inbound_window_open(const char *customer, const char *ours)
{
	int64_t now = now_us();
	bool open = false;

	pthread_mutex_lock(&mu);
	for (uint64_t i = 0; i < INBOUND_MAX && i < n_msgs && !open; i++) {
		const struct in_msg *m = &msgs[(n_msgs - i) % INBOUND_MAX];

		open = strcmp(m->from, customer) == 0 && (!ours || strcmp(m->to, ours) == 0) &&
		       now - m->at_us < WINDOW_US;
	}
	pthread_mutex_unlock(&mu);
	return open;
}

void sim_inbound_fail_window(const char *sid)
{
	pthread_mutex_lock(&mu);
	snprintf(failed[n_failed++ % FAILED_MAX], SIM_SID_LEN + 1, "%s", sid);
	pthread_mutex_unlock(&mu);
}

bool sim_inbound_window_failed(const char *sid)
{
	bool hit = false;

	pthread_mutex_lock(&mu);
	for (uint64_t i = 0; i < FAILED_MAX && i < n_failed && !hit; i++)
		hit = strcmp(failed[i], sid) == 0;
	pthread_mutex_unlock(&mu);
	return hit;
}

/* --foreign-next: an inbound message to someone else's number, the
 * second message of readFullPage1 (twilio_api_v2010.json), dated now. */
static void render_foreign(struct sim_buf *b, const struct sim_config *cfg, uint64_t shown)
{
	struct in_msg m = {.sid = "MMc26223853f8c46b4ab7dfaa6abba0a26",
			   .from = "whatsapp:+12019235161", .to = "whatsapp:+18182008801",
			   .body = "look mom I have media!", .at_us = now_us()};

	if (shown)
		sim_buf_str(b, ",");
	render(b, cfg, &m);
}

struct inq {
	const char *to, *from;
	int64_t min_us;
	unsigned page_size;
	uint64_t page;
};

/* Only what outpostd's poll sends: To, From, DateSent>(=) as a day, PageSize, Page. */
static void inq_parse(const struct sim_arg *a, size_t n, struct inq *q)
{
	uint64_t v;

	memset(q, 0, sizeof(*q));
	q->page_size = 50;
	for (size_t i = 0; i < n; i++) {
		const char *k = a[i].key, *val = a[i].value ? a[i].value : "";
		struct tm tm = {0};

		if (strcmp(k, "To") == 0)
			q->to = val;
		else if (strcmp(k, "From") == 0)
			q->from = val;
		else if (strcmp(k, "PageSize") == 0 && hal_parse_u64(val, 1, 1000, &v))
			q->page_size = (unsigned)v;
		else if (strcmp(k, "Page") == 0 && hal_parse_u64(val, 0, 1000000, &v))
			q->page = v;
		else if ((strcmp(k, "DateSent>") == 0 || strcmp(k, "DateSent>=") == 0) &&
			 sscanf(val, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) == 3) {
			tm.tm_year -= 1900;
			tm.tm_mon -= 1;
			q->min_us = (int64_t)timegm(&tm) * 1000000;
		}
	}
}

static bool inq_match(const struct inq *q, const struct in_msg *m)
{
	return m->from && strcmp(m->to, q->to) == 0 && (!q->from || strcmp(m->from, q->from) == 0) &&
	       m->at_us >= q->min_us;
}

bool sim_inbound_list(const struct sim_config *cfg, const struct sim_arg *args, size_t n,
		      struct sim_reply *r)
{
	struct sim_buf b = {0};
	struct inq q;
	uint64_t skip, shown = 0, kept;
	bool any = false, more = false;

	inq_parse(args, n, &q);
	if (!q.to || strncmp(q.to, "whatsapp:+", 10) != 0)
		return false;
	skip = q.page * q.page_size;
	pthread_mutex_lock(&mu);
	kept = n_msgs < INBOUND_MAX ? n_msgs : INBOUND_MAX;
	for (uint64_t i = 0; i < kept; i++)
		any |= strcmp(msgs[(n_msgs - i) % INBOUND_MAX].to, q.to) == 0;
	if (!any) {
		pthread_mutex_unlock(&mu);
		return false; /* not our number: the outbound list answers */
	}
	sim_buf_str(&b, "{\"messages\":[");
	for (uint64_t i = 0; i < kept; i++) {
		const struct in_msg *m = &msgs[(n_msgs - i) % INBOUND_MAX];

		if (!inq_match(&q, m) || (skip && skip--))
			continue;
		if (shown == q.page_size) {
			more = true;
			break;
		}
		if (shown++)
			sim_buf_str(&b, ",");
		render(&b, cfg, m);
	}
	pthread_mutex_unlock(&mu);
	if (cfg->foreign_next)
		render_foreign(&b, cfg, shown);
	sim_buf_str(&b, "],\"next_page_uri\":");
	if (cfg->foreign_next)
		sim_buf_str(&b, SIM_FOREIGN_NEXT);
	else if (more)
		sim_buf_fmt(&b, "\"/2010-04-01/Accounts/%s/Messages.json?To=whatsapp%%3A%%2B%s&"
			    "PageSize=%u&Page=%" PRIu64 "\"", cfg->account, q.to + 10, q.page_size,
			    q.page + 1);
	else
		sim_buf_str(&b, "null");
	sim_buf_fmt(&b, ",\"page\":%" PRIu64 ",\"page_size\":%u}", q.page, q.page_size);
	r->json = sim_buf_take(&b);
	r->status = r->json ? 200 : 500;
	return true;
}
