/*
 * list.c - GET .../Messages.json: Twilio's message list, newest first,
 * filtered and paged.
 *
 * Filters (all optional, combined): To, From (exact), DateSent (that GMT
 * day), DateSent< (on or before), DateSent> (on or after). A date is
 * YYYY-MM-DD and means the whole GMT day; YYYY-MM-DDTHH:MM:SS[Z] means that
 * second. libmicrohttpd splits "DateSent>=2024-05-01" at the first '=' and
 * decodes %3E, so the raw and encoded forms both arrive as the key
 * "DateSent>"; "DateSent>=" as a key (the '=' encoded too) is taken as well.
 *
 * Paging: PageSize (default 50, at most 1000: more is clamped), Page
 * (0-based) and PageToken. Like Twilio's, our next_page_uri carries a token,
 * "PA" + the SID of the page's last message: the next page starts below it,
 * so messages created while a client pages do not shift what it sees.
 * previous_page_uri carries "PB" + the first SID (the page above it).
 * Without a token, Page * PageSize matching messages are skipped.
 *
 * One scan runs under the store's lock (store.c) and renders the page as it
 * goes: every page is a consistent snapshot, whatever the thread pool does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hal/parse.h"
#include "tools/twilio-sim/sim.h"

#define PAGE_SIZE_DEFAULT 50
#define PAGE_SIZE_MAX 1000
#define PAGE_MAX 10000000

enum qkey { Q_TO, Q_FROM, Q_DATE, Q_BEFORE, Q_AFTER, Q_PAGE_SIZE, Q_PAGE, Q_TOKEN, Q__N };

/* Query keys as they arrive decoded; the first name of each is the one
 * echoed in page URIs. Unknown keys are ignored, as Twilio does. */
static const struct {
	const char *name;
	enum qkey key;
} qnames[] = {
	{"To", Q_TO},           {"From", Q_FROM},      {"DateSent", Q_DATE},
	{"DateSent<", Q_BEFORE}, {"DateSent<=", Q_BEFORE}, {"DateSent>", Q_AFTER},
	{"DateSent>=", Q_AFTER}, {"PageSize", Q_PAGE_SIZE}, {"Page", Q_PAGE},
	{"PageToken", Q_TOKEN},
};

struct query {
	const char *v[Q__N];        /* raw values, NULL if absent; last one wins */
	int64_t min_us, max_us;     /* inclusive DateSent bounds */
	unsigned page_size;
	uint64_t page;
	uint64_t token_n;           /* the SID's n, 0 = no token */
	bool token_before;          /* "PB": the page above token_n */
};

/* One page being rendered by the scan. */
struct page {
	const struct sim_config *cfg;
	const struct query *q;
	uint64_t skip;              /* matches still to pass over */
	unsigned count;
	char first_sid[SIM_SID_LEN + 1], last_sid[SIM_SID_LEN + 1];
	bool more;                  /* a match exists past the page */
	struct sim_buf msgs;
};

/* [start, end] in microseconds for a date (a day) or a datetime (a second). */
static bool parse_when(const char *s, int64_t *start, int64_t *end)
{
	struct tm tm = {0};
	int n = -1, len = (int)strlen(s);
	int64_t span = 86400;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return false;
	if (len > 10) {
		n = -1;
		if (sscanf(s + 10, "T%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 3 ||
		    n != 9 || (s[19] && strcmp(s + 19, "Z") != 0) || tm.tm_hour > 23 ||
		    tm.tm_min > 59 || tm.tm_sec > 60)
			return false;
		span = 1;
	}
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	*start = (int64_t)t * 1000000;
	*end = *start + span * 1000000 - 1;
	return true;
}

static const char *query_parse_dates(struct query *q)
{
	int64_t start, end;

	q->min_us = INT64_MIN;
	q->max_us = INT64_MAX;
	for (int k = Q_DATE; k <= Q_AFTER; k++) {
		if (!q->v[k])
			continue;
		if (!parse_when(q->v[k], &start, &end))
			return k == Q_DATE ? "DateSent" : k == Q_BEFORE ? "DateSent<" : "DateSent>";
		if (k != Q_BEFORE && start > q->min_us)
			q->min_us = start;
		if (k != Q_AFTER && end < q->max_us)
			q->max_us = end;
	}
	return NULL;
}

/* NULL, or the name of the parameter that is wrong. */
static const char *query_parse(struct query *q, const struct sim_arg *args, size_t n)
{
	uint64_t v;

	memset(q, 0, sizeof(*q));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(qnames) / sizeof(qnames[0]); j++)
			if (strcmp(args[i].key, qnames[j].name) == 0)
				q->v[qnames[j].key] = args[i].value ? args[i].value : "";
	q->page_size = PAGE_SIZE_DEFAULT;
	if (q->v[Q_PAGE_SIZE]) {
		if (!hal_parse_u64(q->v[Q_PAGE_SIZE], 1, UINT64_MAX, &v))
			return "PageSize";
		q->page_size = v > PAGE_SIZE_MAX ? PAGE_SIZE_MAX : (unsigned)v;
	}
	if (q->v[Q_PAGE] && !hal_parse_u64(q->v[Q_PAGE], 0, PAGE_MAX, &q->page))
		return "Page";
	if (q->v[Q_TOKEN]) {
		const char *t = q->v[Q_TOKEN];

		if ((strncmp(t, "PA", 2) != 0 && strncmp(t, "PB", 2) != 0) ||
		    !sim_store_sid_n(t + 2, &q->token_n))
			return "PageToken";
		q->token_before = t[1] == 'B';
	}
	return query_parse_dates(q);
}

static bool matches(const struct query *q, const struct sim_msg *m)
{
	return !m->provider && /* Meta and 360dialog messages are not Twilio's to list */
	       (!q->v[Q_TO] || strcmp(q->v[Q_TO], m->to) == 0) &&
	       (!q->v[Q_FROM] || strcmp(q->v[Q_FROM], m->from) == 0) &&
	       m->recv_us >= q->min_us && m->recv_us <= q->max_us;
}

static bool render_match(const struct sim_msg *m, void *arg)
{
	struct page *p = arg;
	struct sim_msg shown;

	if (!matches(p->q, m))
		return true;
	if (p->skip) {
		p->skip--;
		return true;
	}
	if (p->count == p->q->page_size) {
		p->more = true;
		return false;
	}
	shown = *m;
	shown.sent = true;
	if (p->count++)
		sim_buf_str(&p->msgs, ",");
	else
		memcpy(p->first_sid, m->sid, sizeof(p->first_sid));
	memcpy(p->last_sid, m->sid, sizeof(p->last_sid));
	sim_render_message(&p->msgs, p->cfg, &shown);
	return true;
}

/* For a "PB" token: the page_size-th match above the token, where the
 * newest-first page then starts. */
struct climb {
	const struct query *q;
	unsigned left;
	uint64_t top;
};

static bool climb_match(const struct sim_msg *m, void *arg)
{
	struct climb *c = arg;

	if (!matches(c->q, m))
		return true;
	c->top = m->n;
	return --c->left > 0;
}

static void scan_page(struct page *p)
{
	const struct query *q = p->q;
	uint64_t start = UINT64_MAX;

	if (q->token_n && q->token_before) {
		struct climb c = {q, q->page_size, 0};

		sim_store_scan(q->token_n + 1, false, climb_match, &c);
		start = c.top; /* 0: nothing above the token, an empty page */
	} else if (q->token_n) {
		start = q->token_n - 1;
	} else {
		p->skip = q->page * q->page_size;
	}
	if (start)
		sim_store_scan(start, true, render_match, p);
}

static void add_encoded(struct sim_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c))
			sim_buf_add(b, s, 1);
		else
			sim_buf_add(b, esc, 3);
	}
}

/* A quoted page URI: the filters, PageSize, Page and the token if any. */
static void add_uri(struct sim_buf *b, const struct sim_config *cfg, const struct query *q,
		    uint64_t page, const char *token_kind, const char *sid)
{
	sim_buf_fmt(b, "\"/2010-04-01/Accounts/%s/Messages.json?", cfg->account);
	for (int k = Q_TO; k <= Q_AFTER; k++) {
		if (!q->v[k])
			continue;
		for (size_t j = 0; j < sizeof(qnames) / sizeof(qnames[0]); j++)
			if (qnames[j].key == (enum qkey)k) {
				add_encoded(b, qnames[j].name);
				break;
			}
		sim_buf_str(b, "=");
		add_encoded(b, q->v[k]);
		sim_buf_str(b, "&");
	}
	sim_buf_fmt(b, "PageSize=%u&Page=%" PRIu64, q->page_size, page);
	if (token_kind)
		sim_buf_fmt(b, "&PageToken=%s%s", token_kind, sid);
	sim_buf_str(b, "\"");
}

static void render_list(struct sim_buf *b, const struct page *p)
{
	const struct query *q = p->q;
	uint64_t start = q->page * q->page_size;
	uint64_t end = p->count ? start + p->count - 1 : start;

	sim_buf_fmt(b, "{\"end\":%" PRIu64 ",\"first_page_uri\":", end);
	add_uri(b, p->cfg, q, 0, NULL, NULL);
	sim_buf_str(b, ",\"messages\":[");
	sim_buf_add(b, p->msgs.p ? p->msgs.p : "", p->msgs.len);
	sim_buf_str(b, "],\"next_page_uri\":");
	if (p->cfg->foreign_next)
		sim_buf_str(b, SIM_FOREIGN_NEXT);
	else if (p->more)
		add_uri(b, p->cfg, q, q->page + 1, "PA", p->last_sid);
	else
		sim_buf_str(b, "null");
	sim_buf_fmt(b, ",\"page\":%" PRIu64 ",\"page_size\":%u,\"previous_page_uri\":", q->page,
		    q->page_size);
	if (q->page == 0)
		sim_buf_str(b, "null");
	else if (p->count)
		add_uri(b, p->cfg, q, q->page - 1, "PB", p->first_sid);
	else
		add_uri(b, p->cfg, q, q->page - 1, NULL, NULL);
	sim_buf_fmt(b, ",\"start\":%" PRIu64 ",\"uri\":", start);
	add_uri(b, p->cfg, q, q->page, q->token_n ? (q->token_before ? "PB" : "PA") : NULL,
		q->v[Q_TOKEN] ? q->v[Q_TOKEN] + 2 : NULL);
	sim_buf_str(b, "}");
}

void sim_list_messages(const struct sim_config *cfg, const struct sim_arg *args, size_t n,
		       struct sim_reply *r)
{
	struct query q;
	struct page p = {.cfg = cfg, .q = &q};
	struct sim_buf b = {0};
	const char *bad = query_parse(&q, args, n);

	if (bad) {
		sim_reply_error(r, 400, 20001, "Invalid value for %s", bad);
		return;
	}
	scan_page(&p);
	render_list(&b, &p);
	if (p.msgs.oom)
		b.oom = true;
	sim_buf_free(&p.msgs);
	r->json = sim_buf_take(&b);
	r->status = r->json ? 200 : 500;
}
