/*
 * templates.c - syncs template approvals from each account's provider
 * (firmware/templates.h).
 *
 * One struct tsync per configured account, each with its own timer and at
 * most one request in flight: a sync walks the provider's pages (the
 * driver's templates_url / templates_page), notes what it learns about the
 * config's templates, and writes it in one transaction when the walk ends.
 * A reload changes which templates exist: a walk in flight then has its
 * answers thrown away (gen) and starts again, since its notes are indexed by
 * the old config's templates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "store/store.h"
#include "store/templates.h"

#define FIRST_SYNC_MS 200      /* at start: let the sender set up first */
#define BACKOFF_BASE_MS 15000  /* after a failed sync: 15 s, 30 s, ... */
#define BUSY_RETRY_MS 1000     /* the HTTP engine was full */
#define PAGES_MAX 1000         /* 10,000 templates: WhatsApp allows 6,000 */
#define SUSPECT_MIN_MS 60000   /* a refused send syncs at most once a minute */
#define KEY_MAX 200            /* "name:language" of a Meta template */

struct tsync {
	struct fw *fw;
	struct tsync *next;
	char account[64];
	struct hal_timer timer;
	struct net_http_req req;
	const struct net_provider *drv;
	char *url, *user, *password, *ca_file, *base;
	char *hdr[NET_HTTP_HEADERS_MAX]; /* auth headers (secrets) while a request is out */
	bool running, gone;
	bool again;                   /* a sync was asked for while one ran */
	unsigned gen, req_gen;        /* config generation; of the walk in flight */
	unsigned pages, listed, matched;
	unsigned fails, rounds;
	unsigned changed_now;         /* status changes the last walk stored */
	int64_t last_ok_ms, last_try_ms; /* wall */
	uint64_t next_at;             /* monotonic ms of the next round */
	uint64_t released_at;         /* monotonic ms this account's last round released */
	bool last_ok;
	char last[256];               /* the last round's result */
	unsigned n;                   /* config templates when st was made */
	struct fw_tpl_state *st;      /* n: what we know */
	struct fw_tpl_state *seen;    /* n: this walk's notes */
	bool *seen_flag;
};

struct fw_templates {
	struct tsync *list;
	unsigned gen;
	uint64_t changes; /* status changes seen since start */
	struct fw_tpl_gate gate;
};

static void on_timer(struct hal_timer *t);
static void start_round(struct tsync *ts);

struct fw_tpl_gate *fw_templates_gate(struct fw *fw)
{
	return fw->templates ? &fw->templates->gate : NULL;
}

static struct tsync *find(const struct fw *fw, const char *account)
{
	for (struct tsync *ts = fw->templates ? fw->templates->list : NULL; ts; ts = ts->next)
		if (!ts->gone && account && strcmp(ts->account, account) == 0)
			return ts;
	return NULL;
}

static bool twilio(const struct tsync *ts)
{
	const struct cfg_account *a = cfg_account_find(ts->fw->cfg, ts->account);

	return !a || a->provider == CFG_PROVIDER_TWILIO;
}

/* The key a template's approval is stored and matched under: the Twilio
 * ContentSid, or the Meta/360dialog "name:language"; NULL when the template
 * has no mapping for this account's provider (it cannot be sent there). */
static const char *tpl_key(const struct tsync *ts, const struct cfg_template *t, char *buf,
			   size_t size)
{
	if (twilio(ts))
		return t->content_sid;
	if (!t->meta_name || !t->meta_language)
		return NULL;
	snprintf(buf, size, "%s:%s", t->meta_name, t->meta_language);
	return buf;
}

static bool matches(const struct tsync *ts, const struct cfg_template *t,
		    const struct net_template *nt)
{
	if (twilio(ts))
		return t->content_sid && nt->id && strcasecmp(t->content_sid, nt->id) == 0;
	/* Meta names are lowercase by rule; languages are written "en_US" */
	return t->meta_name && t->meta_language && nt->name && nt->language &&
	       strcmp(t->meta_name, nt->name) == 0 && strcasecmp(t->meta_language, nt->language) == 0;
}

const struct fw_tpl_state *fw_templates_state(const struct fw *fw, const char *account,
					      const struct cfg_template *t)
{
	const struct tsync *ts = find(fw, account);
	size_t i;

	if (!ts || !t || t < fw->cfg->templates || !ts->st)
		return NULL;
	i = (size_t)(t - fw->cfg->templates);
	return i < ts->n ? &ts->st[i] : NULL;
}

/* ---- state in memory and in the store ---- */

static void copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
	dst[i] = '\0';
}

static void from_store(struct fw_tpl_state *s, const struct store_template *st)
{
	memset(s, 0, sizeof(*s));
	s->known = true;
	s->approved = st->approved;
	copy(s->status, sizeof(s->status), st->status);
	copy(s->category, sizeof(s->category), st->category);
	copy(s->type, sizeof(s->type), st->type);
	copy(s->id, sizeof(s->id), st->id);
	copy(s->name, sizeof(s->name), st->name);
	copy(s->reason, sizeof(s->reason), st->reason);
	s->synced_ms = s->written_ms = st->synced_ms;
	s->changed_ms = st->changed_ms;
}

/* (Re)sizes the account's arrays for the config and loads what the store
 * knows; a walk in flight is for another config and will be thrown away. */
static int load(struct tsync *ts)
{
	const struct cfg *cfg = ts->fw->cfg;
	unsigned n = cfg->n_templates;
	struct store_template st;
	struct store_txn *t;
	int rc;

	free(ts->st);
	free(ts->seen);
	free(ts->seen_flag);
	ts->n = n;
	ts->st = calloc(n, sizeof(*ts->st));
	ts->seen = calloc(n, sizeof(*ts->seen));
	ts->seen_flag = calloc(n, sizeof(*ts->seen_flag));
	if (!ts->st || !ts->seen || !ts->seen_flag)
		return ERR_NOMEM;
	rc = store_begin(ts->fw->store, STORE_RDONLY, &t);
	if (rc != ERR_OK)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		char kb[KEY_MAX];
		const char *key = tpl_key(ts, &cfg->templates[i], kb, sizeof(kb));

		if (key && store_template_get(t, ts->account, key, &st) == ERR_OK)
			from_store(&ts->st[i], &st);
	}
	store_abort(t);
	return ERR_OK;
}

/* The status the gate went by before this sync: the last one seen, else
 * the config's. */
static const char *was(const struct cfg_template *t, const struct fw_tpl_state *old)
{
	return old->known ? old->status : t->status == CFG_TPL_APPROVED ? "approved" :
	       t->status == CFG_TPL_PENDING ? "pending" : "rejected";
}

static bool status_changed(const struct cfg_template *t, const struct fw_tpl_state *old,
		    const struct fw_tpl_state *now)
{
	return strcasecmp(was(t, old), now->status) != 0;
}

static void log_change(const struct tsync *ts, const struct cfg_template *t,
		       const struct fw_tpl_state *old, const struct fw_tpl_state *now)
{
	log_info("template %s (%s) on account %s: %s%s -> %s%s%s", t->name, now->id, ts->account,
		 was(t, old), old->known ? "" : " (config)", now->status,
		 now->reason[0] ? ": " : "", now->reason);
}

/* Whether a walk saw a template as the store has it already. */
static bool same_note(const struct fw_tpl_state *old, const struct fw_tpl_state *s)
{
	return old->known && old->approved == s->approved && !strcmp(old->status, s->status) &&
	       !strcmp(old->category, s->category) && !strcmp(old->type, s->type) &&
	       !strcmp(old->id, s->id) && !strcmp(old->name, s->name) &&
	       !strcmp(old->reason, s->reason);
}

/* A note the walk saw unchanged is written again only when the stored one
 * is this old: an hourly sync of unchanged templates writes to the flash
 * once a day, not 24 times (its synced_ms there is then up to a day old;
 * status shows this run's). */
#define NOTE_REFRESH_MS (24 * 3600 * 1000LL)

static bool to_write(const struct tsync *ts, unsigned i, int64_t now)
{
	return ts->seen_flag[i] && (!same_note(&ts->st[i], &ts->seen[i]) ||
				    now - ts->st[i].written_ms >= NOTE_REFRESH_MS);
}

/* Writes this walk's notes that are new (none: no transaction at all);
 * status changes are logged and counted. */
static int commit_seen(struct tsync *ts, int64_t now)
{
	const struct cfg *cfg = ts->fw->cfg;
	struct store_txn *t = NULL;
	unsigned changed = 0, writes = 0;
	int rc = ERR_OK;

	for (unsigned i = 0; i < ts->n; i++)
		writes += to_write(ts, i, now);
	if (writes)
		rc = store_begin(ts->fw->store, 0, &t);
	for (unsigned i = 0; rc == ERR_OK && i < ts->n; i++) {
		struct fw_tpl_state *s = &ts->seen[i], *old = &ts->st[i];
		char kb[KEY_MAX];
		bool change = ts->seen_flag[i] && status_changed(&cfg->templates[i], old, s);

		if (!ts->seen_flag[i])
			continue;
		s->changed_ms = change || !old->known ? now : old->changed_ms;
		s->written_ms = old->written_ms;
		if (!to_write(ts, i, now))
			continue;
		s->written_ms = now;
		rc = store_template_put(t, ts->account, tpl_key(ts, &cfg->templates[i], kb, sizeof(kb)),
					&(struct store_template){
						.id = s->id, .name = s->name, .status = s->status,
						.category = s->category, .type = s->type,
						.reason = s->reason, .approved = s->approved,
						.synced_ms = now, .changed_ms = s->changed_ms});
		changed += change;
	}
	if (writes)
		rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc != ERR_OK)
		return rc;
	for (unsigned i = 0; i < ts->n; i++) {
		struct fw_tpl_state *s = &ts->seen[i], *old = &ts->st[i];

		if (!ts->seen_flag[i])
			continue;
		if (status_changed(&cfg->templates[i], old, s))
			log_change(ts, &cfg->templates[i], old, s);
		s->synced_ms = now;
		*old = *s;
	}
	ts->fw->templates->changes += changed;
	ts->changed_now = changed;
	return ERR_OK;
}

/* ---- one round ---- */

static void req_clear(struct tsync *ts)
{
	free(ts->url);
	free(ts->user);
	if (ts->password)
		explicit_bzero(ts->password, strlen(ts->password));
	free(ts->password);
	free(ts->ca_file);
	free(ts->base);
	ts->url = ts->user = ts->password = ts->ca_file = ts->base = NULL;
	net_http_headers_free(ts->hdr, NET_HTTP_HEADERS_MAX);
}

static uint64_t interval_ms(const struct tsync *ts)
{
	const struct cfg_account *a = cfg_account_find(ts->fw->cfg, ts->account);

	return (uint64_t)(a ? a->templates_sync_s : ts->fw->cfg->templates_sync_s) * 1000;
}

static void schedule(struct tsync *ts, uint64_t ms)
{
	ts->next_at = hal_now_ms() + ms;
	hal_timer_set(ts->fw->loop, &ts->timer, ms);
}

/* Every account's first round has ended (it is start-up's last step). */
static bool first_rounds_over(const struct fw_templates *T)
{
	for (const struct tsync *ts = T->list; ts; ts = ts->next)
		if (!ts->gone && !ts->rounds)
			return false;
	return true;
}

/* A round ended: say so, plan the next, and let the gate look again at
 * what it parked (an approval may have come, a TTL may have run out). */
static void round_end(struct tsync *ts, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void round_end(struct tsync *ts, bool ok, const char *fmt, ...)
{
	uint64_t wait = interval_ms(ts), back;
	bool first = !ts->rounds;
	va_list ap;

	ts->running = false;
	req_clear(ts);
	va_start(ap, fmt);
	vsnprintf(ts->last, sizeof(ts->last), fmt, ap);
	va_end(ap);
	ts->last_ok = ok;
	ts->rounds++;
	if (ok) {
		/* Hourly and mostly unchanged: worth a line when it changed
		 * something or ends a run of failures (changes have their own). */
		log_msg(ts->fails || ts->changed_now ? LOG_INFO : LOG_DEBUG, NULL,
			"templates: account %s: %s", ts->account, ts->last);
		ts->fails = 0;
		ts->last_ok_ms = hal_wall_ms();
	} else {
		back = (uint64_t)BACKOFF_BASE_MS << (ts->fails < 12 ? ts->fails : 12);
		ts->fails++;
		wait = back < wait ? back : wait;
		log_warn("templates: account %s: sync failed: %s (next try in %llu s)", ts->account,
			 ts->last, (unsigned long long)(wait / 1000));
	}
	if (ts->again)
		wait = 0; /* asked for while this one ran: it may predate the ask */
	ts->again = false;
	if (!ts->gone && !ts->fw->stopping)
		schedule(ts, wait);
	/* Failed rounds come quicker (backoff); held messages need a look
	 * once an interval only, for their TTL, when nothing new is known. */
	if (ok || hal_now_ms() - ts->released_at >= interval_ms(ts)) {
		ts->released_at = hal_now_ms();
		fw_templates_release(ts->fw);
	}
	if (first && first_rounds_over(ts->fw->templates))
		fw_upkeep_startup_over(ts->fw);
}

/* A complete walk: what it did not list is noted too. */
static void walk_done(struct tsync *ts, bool complete, const char *why)
{
	int64_t now = hal_wall_ms();
	unsigned missing = 0, mapped = 0;
	int rc = commit_seen(ts, now);

	for (unsigned i = 0; complete && rc == ERR_OK && i < ts->n; i++) {
		char kb[KEY_MAX];
		const char *key = tpl_key(ts, &ts->fw->cfg->templates[i], kb, sizeof(kb));

		mapped += key != NULL;
		ts->st[i].unlisted = key && !ts->seen_flag[i];
		if (key && !ts->seen_flag[i]) {
			missing++;
			log_warn("templates: account %s does not list template %s (%s); its config "
				 "status (%s) stands", ts->account, ts->fw->cfg->templates[i].name, key,
				 ts->fw->cfg->templates[i].status == CFG_TPL_APPROVED ? "approved" :
				 "not approved");
		}
	}
	if (rc != ERR_OK)
		round_end(ts, false, "the results could not be stored: %s", hal_strerror(rc));
	else if (!complete)
		round_end(ts, false, "%s (%u of the config's templates seen before)", why,
			  ts->matched);
	else
		round_end(ts, true, "synced: %u templates listed, %u of the config's %u for this "
			  "account seen%s", ts->listed, ts->matched, mapped,
			  missing ? ", some not listed" : "");
}

/* The config says approved, the provider has no approval (or none we
 * could read): every send of it stops. Loud, with what the reply held, so
 * that an operator can tell a template never submitted from a reply shape
 * we misread; once, when the status turns. */
static void warn_unsubmitted(const struct tsync *ts, const struct cfg_template *t,
			     const struct fw_tpl_state *old, const struct net_template *nt)
{
	if (t->status != CFG_TPL_APPROVED || !nt->unsubmitted_why ||
	    strcasecmp(was(t, old), "unsubmitted") == 0)
		return;
	log_warn("templates: account %s: template %s (%s) is approved in the config, but the "
		 "provider's reply makes it unsubmitted (%s); it is not sent until that changes",
		 ts->account, t->name, nt->id, nt->unsubmitted_why);
}

static int note(const struct net_template *nt, void *arg)
{
	struct tsync *ts = arg;
	const struct cfg *cfg = ts->fw->cfg;

	ts->listed++;
	for (unsigned i = 0; i < ts->n && i < cfg->n_templates; i++) {
		struct fw_tpl_state *s = &ts->seen[i];

		if (!matches(ts, &cfg->templates[i], nt))
			continue;
		warn_unsubmitted(ts, &cfg->templates[i], &ts->st[i], nt);
		memset(s, 0, sizeof(*s));
		s->known = true;
		s->approved = nt->approved;
		copy(s->status, sizeof(s->status), nt->status);
		copy(s->category, sizeof(s->category), nt->category);
		copy(s->type, sizeof(s->type), nt->type);
		copy(s->id, sizeof(s->id), nt->id);
		copy(s->name, sizeof(s->name), nt->name);
		copy(s->reason, sizeof(s->reason), nt->reason);
		ts->matched += !ts->seen_flag[i];
		ts->seen_flag[i] = true;
	}
	return 0;
}

static void on_done(struct net_http_req *req, const struct net_http_result *res)
{
	struct tsync *ts = container_of(req, struct tsync, req);
	struct net_list_page page;
	char why[256];

	fw_uplink_note(ts->fw, res);
	if (ts->gone || ts->req_gen != ts->gen || res->err == ERR_CLOSED) {
		/* for an old config, or cancelled at exit: thrown away */
		ts->running = false;
		req_clear(ts);
		if (!ts->gone && res->err != ERR_CLOSED)
			schedule(ts, 0);
		return;
	}
	ts->drv->templates_page(res, ts->base, note, ts, &page);
	ts->pages++;
	if (page.cls != NET_OK) {
		free(page.next_url);
		walk_done(ts, false, page.text);
		return;
	}
	if (!fw_walk_on(&ts->fw->walks, NULL, ts->account, &page, ts->pages, PAGES_MAX, why,
			sizeof(why))) {
		/* a refused link or the cap: an incomplete walk, logged as a
		 * failed sync; a driver may also say why it ends without
		 * refused_next */
		free(page.next_url);
		walk_done(ts, !why[0] && !page.text[0], why[0] ? why : page.text);
		return;
	}
	free(ts->url);
	ts->req.url = ts->url = page.next_url;
	if (net_http_submit(ts->fw->http, &ts->req) != ERR_OK)
		walk_done(ts, false, "the next page could not be asked for");
}

/* Copies what the request needs from the sender's view of the account (a
 * reload may free the account while the request is out) and puts the
 * credentials on it the driver's way. */
static int prepare(struct tsync *ts, char *why, size_t whylen)
{
	const struct cfg_account *ca = cfg_account_find(ts->fw->cfg, ts->account);
	struct fw_account_view v;
	struct net_send_msg m;

	if (!ca || !fw_sender_account(ts->fw, ts->account, &v)) {
		snprintf(why, whylen, "no credentials to ask with (see status)");
		return ERR_NOTFOUND;
	}
	if (!v.drv->templates_url || !v.drv->templates_page) {
		snprintf(why, whylen, "provider %s cannot list templates", v.drv->name);
		return ERR_INVAL;
	}
	if (ca->provider == CFG_PROVIDER_META && !ca->waba_id) {
		snprintf(why, whylen, "no waba_id in the account's config: its templates cannot be "
			 "listed (the config's statuses stand)");
		return ERR_INVAL;
	}
	m = *v.msg;
	if (ca->provider == CFG_PROVIDER_TWILIO)
		m.aux_base = ca->content_base; /* Meta's aux_base is its API version */
	ts->drv = v.drv;
	ts->base = strdup(ca->provider == CFG_PROVIDER_TWILIO ? ca->content_base : m.api_base);
	ts->user = v.msg->user ? strdup(v.msg->user) : NULL;
	ts->password = v.msg->password ? strdup(v.msg->password) : NULL;
	m.user = ts->user;
	m.password = ts->password;
	ts->ca_file = v.ca_file ? strdup(v.ca_file) : NULL;
	ts->req = (struct net_http_req){.method = NET_HTTP_GET, .ca_file = ts->ca_file};
	if (!ts->base || (v.msg->user && !ts->user) || (v.msg->password && !ts->password) ||
	    (v.ca_file && !ts->ca_file) || v.drv->templates_url(&m, &ts->url) != ERR_OK ||
	    net_provider_auth(v.drv, &m, false, &ts->req, ts->hdr) != ERR_OK) {
		snprintf(why, whylen, "the request could not be built");
		return ERR_NOMEM;
	}
	return ERR_OK;
}

static void start_round(struct tsync *ts)
{
	char why[200];
	int rc;

	if (ts->running || ts->gone || ts->fw->stopping)
		return;
	hal_timer_cancel(ts->fw->loop, &ts->timer);
	ts->pages = ts->listed = ts->matched = 0;
	memset(ts->seen_flag, 0, ts->n * sizeof(*ts->seen_flag));
	ts->last_try_ms = hal_wall_ms();
	ts->running = true;
	if (prepare(ts, why, sizeof(why)) != ERR_OK) {
		round_end(ts, false, "%s", why);
		return;
	}
	ts->req_gen = ts->gen;
	ts->req.url = ts->url;
	ts->req.done = on_done;
	ts->req.fresh = true; /* hourly: leaves no idle connection for the sends */
	rc = net_http_submit(ts->fw->http, &ts->req);
	if (rc == ERR_LIMIT) { /* the sender has every slot: soon again */
		ts->running = false;
		req_clear(ts);
		schedule(ts, BUSY_RETRY_MS);
	} else if (rc != ERR_OK) {
		round_end(ts, false, "the request was not submitted: %s", hal_strerror(rc));
	}
}

static void on_timer(struct hal_timer *t)
{
	start_round(container_of(t, struct tsync, timer));
}

int fw_templates_sync(struct fw *fw, const char *account)
{
	bool any = false;

	for (struct tsync *ts = fw->templates ? fw->templates->list : NULL; ts; ts = ts->next) {
		if (ts->gone || (account && strcmp(ts->account, account) != 0))
			continue;
		any = true;
		if (ts->running)
			ts->again = true;
		else
			schedule(ts, 0);
	}
	return any ? ERR_OK : ERR_NOTFOUND;
}

void fw_templates_suspect(struct fw *fw, const char *account)
{
	struct tsync *ts = find(fw, account);

	if (ts && !ts->running && hal_wall_ms() - ts->last_try_ms >= SUSPECT_MIN_MS) {
		log_info("templates: account %s: a send was refused for its template; syncing",
			 ts->account);
		schedule(ts, 0);
	}
}

/* ---- lifecycle ---- */

static void tsync_free(struct tsync *ts)
{
	req_clear(ts);
	free(ts->st);
	free(ts->seen);
	free(ts->seen_flag);
	free(ts);
}

static struct tsync *tsync_new(struct fw *fw, const char *account)
{
	struct tsync *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return NULL;
	ts->fw = fw;
	ts->timer.cb = on_timer;
	snprintf(ts->account, sizeof(ts->account), "%s", account);
	return ts;
}

int fw_templates_reconfigure(struct fw *fw)
{
	struct fw_templates *tp = fw->templates;
	const struct cfg *cfg = fw->cfg;
	int rc = ERR_OK;

	tp->gen++;
	for (struct tsync *ts = tp->list; ts; ts = ts->next)
		if (!cfg_account_find(cfg, ts->account)) {
			ts->gone = true; /* freed at the end; a request may be out */
			hal_timer_cancel(fw->loop, &ts->timer);
		}
	for (unsigned i = 0; i < cfg->n_accounts && rc == ERR_OK; i++) {
		struct tsync *ts = find(fw, cfg->accounts[i].name);

		if (!ts) {
			if (!(ts = tsync_new(fw, cfg->accounts[i].name)))
				return ERR_NOMEM;
			ts->next = tp->list;
			tp->list = ts;
		}
		ts->gen = tp->gen;
		rc = load(ts);
		if (!ts->running)
			schedule(ts, FIRST_SYNC_MS);
	}
	fw_templates_release(fw); /* a route's policy or a config status may differ now */
	return rc;
}

int fw_templates_init(struct fw *fw)
{
	fw->templates = calloc(1, sizeof(*fw->templates));
	if (!fw->templates)
		return ERR_NOMEM;
	fw->templates->gate.fw = fw;
	return fw_templates_reconfigure(fw);
}

void fw_templates_free(struct fw *fw)
{
	struct fw_templates *tp = fw->templates;

	if (!tp)
		return;
	hal_timer_cancel(fw->loop, &tp->gate.release);
	while (tp->list) {
		struct tsync *next = tp->list->next;

		hal_timer_cancel(fw->loop, &tp->list->timer);
		tsync_free(tp->list);
		tp->list = next;
	}
	free(tp);
	fw->templates = NULL;
}

/* ---- status ---- */

void fw_templates_account_json(const struct fw *fw, const char *account, cJSON *o)
{
	const struct tsync *ts = find(fw, account);
	uint64_t now = hal_now_ms();
	int64_t wall = hal_wall_ms();

	if (!ts || !o)
		return;
	cJSON_AddStringToObject(o, "account", ts->account);
	cJSON_AddStringToObject(o, "sync", ts->running ? "running" : !ts->rounds ? "not yet" :
				ts->last_ok ? "ok" : "failed");
	cJSON_AddStringToObject(o, "result", ts->last);
	cJSON_AddNumberToObject(o, "rounds", ts->rounds);
	cJSON_AddNumberToObject(o, "last_ok_ago_s",
				ts->last_ok_ms ? (double)((wall - ts->last_ok_ms) / 1000) : -1);
	cJSON_AddNumberToObject(o, "last_try_ago_s",
				ts->last_try_ms ? (double)((wall - ts->last_try_ms) / 1000) : -1);
	cJSON_AddNumberToObject(o, "next_in_s", ts->running || ts->next_at < now ? 0 :
				(double)((ts->next_at - now) / 1000));
}

void fw_templates_status(const struct fw *fw, cJSON *o)
{
	const struct fw_templates *tp = fw->templates;
	cJSON *a;

	if (!tp || !o)
		return;
	cJSON_AddNumberToObject(o, "changes", (double)tp->changes);
	cJSON_AddNumberToObject(o, "held", (double)tp->gate.held);
	cJSON_AddNumberToObject(o, "failed", (double)tp->gate.failed);
	cJSON_AddNumberToObject(o, "released", (double)tp->gate.released);
	a = cJSON_AddArrayToObject(o, "accounts");
	for (const struct tsync *ts = tp->list; a && ts; ts = ts->next)
		if (!ts->gone) {
			cJSON *e = cJSON_CreateObject();

			fw_templates_account_json(fw, ts->account, e);
			cJSON_AddItemToArray(a, e);
		}
}
