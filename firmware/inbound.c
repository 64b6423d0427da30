/*
 * inbound.c - inbound WhatsApp messages: from relayed webhooks
 * (fw_inbound, called by the webhook handler) and from polling the
 * provider's list of messages to our number (per account, inbound_poll_s).
 *
 * Each message, once per id (a poll and a webhook may both see it):
 *  - opens or extends the recipient's 24-hour window (ledger inbound time),
 *  - opts the sender out or back in when its whole body is a STOP- or
 *    START-like keyword (config "consent"), unless a later change is kept,
 *  - is published on outpost/<gateway_id>/inbound (QoS 1) for local
 *    consumers, with the event id of our message it replies to if known.
 * The ledger change and the id are written in the MQTT batch's txn when
 * one is open (a relayed webhook: acknowledged after the commit), else in
 * a txn of their own. Publishing waits for a 0 ms timer: nothing may be
 * published inside an MQTT read batch (net/mqtt.h).
 *
 * A poll walks the list newest first down to the last message handled (a
 * high-water mark kept in the store, so a restart does not hand a message
 * out twice), then applies what it found oldest first, so a STOP followed
 * by a START ends opted in. One poll takes at most POLL_MAX messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/consent.h"
#include "config/phone.h"
#include "firmware/consent.h"
#include "firmware/escalate.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/mqtt.h"
#include "net/providers/provider.h"
#include "store/ledger.h"
#include "store/outbox.h"
#include "store/store.h"

#define POLL_MAX 256
/* Pages one poll walks at most: POLL_MAX messages come in 6 pages of 50
 * (inbound_url's PageSize); the rest is room for pages thinned by entries
 * that are not inbound. A reply that always names a next page stops here. */
#define POLL_PAGES_MAX 10
#define POLL_BACKOFF_MAX_S 900
#define POLL_SLACK_MS 60000          /* list times are whole seconds; be generous */
#define FIRST_POLL_LOOKBACK_MS (24LL * 3600 * 1000) /* a window's worth */
#define IDS_KEEP_MS (7LL * 86400 * 1000)
#define PRUNE_EVERY_MS (3600LL * 1000)
#define PUB_MAX 64

/* One message of a poll, copied off the page. */
struct held {
	char *id, *from, *to, *body;
	int64_t at_ms;
};

struct fw_poller {
	struct fw_poller *next;
	struct fw *fw;
	char account[STORE_LEDGER_ACCOUNT_MAX];
	unsigned every_s, failures;
	struct hal_timer timer;
	struct net_http_req req;
	const struct net_provider *drv;
	char *url, *user, *password, *ca_file, *api_base;
	bool busy, gone; /* gone: dropped by a reload while busy; freed at done */
	int64_t hwm;
	bool hwm_read, reached;
	struct held got[POLL_MAX];
	unsigned n_got, pages;
	char own[CFG_PHONE_MAX + 16];  /* the account's number ("from"), as configured */
	struct hal_ratelimit foreign_rl;
};

/* ---- publishing ---- */

static void on_publish(struct hal_timer *t)
{
	struct fw_inbound *ib = container_of(t, struct fw_inbound, publish);
	struct fw *fw = ib->fw;

	for (unsigned i = 0; i < ib->n_pub; i++) {
		if (!fw->mqtt || net_mqtt_publish(fw->mqtt, ib->inbound_topic, ib->pub[i],
						  strlen(ib->pub[i]), 1, false) != ERR_OK)
			ib->pub_dropped++;
		free(ib->pub[i]);
	}
	ib->n_pub = 0;
}

static void add_opt(cJSON *o, const char *key, const char *v)
{
	if (v && v[0])
		cJSON_AddStringToObject(o, key, v);
}

/* The event of our message it replies to, if the id is one of ours. */
static void add_event(cJSON *o, struct store_txn *t, const char *replied_to)
{
	struct store_msg m;
	uint64_t seq;

	if (replied_to && replied_to[0] && store_sid_get(t, replied_to, &seq) == ERR_OK &&
	    store_outbox_get(t, seq, &m) == ERR_OK && m.event_id[0])
		cJSON_AddStringToObject(o, "event_id", m.event_id);
}

static void queue_publish(struct fw *fw, struct store_txn *t, const char *account,
			  const struct net_inbound *in)
{
	struct fw_inbound *ib = fw->inbound;
	cJSON *o = cJSON_CreateObject();
	char at[32], *text;

	cJSON_AddStringToObject(o, "account", account);
	cJSON_AddStringToObject(o, "id", in->id);
	cJSON_AddStringToObject(o, "from", in->from);
	cJSON_AddStringToObject(o, "body", in->body ? in->body : "");
	add_opt(o, "payload", in->payload);
	add_opt(o, "replied_to", in->replied_to);
	fw_iso_time(in->at_ms, at, sizeof(at));
	cJSON_AddStringToObject(o, "at", at);
	add_event(o, t, in->replied_to);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text || ib->n_pub == PUB_MAX) {
		ib->pub_dropped++;
		log_warn("inbound: %s; message %.64s not published", text ? "publish queue full" :
			 "out of memory", in->id);
		cJSON_free(text);
		return;
	}
	ib->pub[ib->n_pub++] = text;
	hal_timer_set(fw->loop, &ib->publish, 0);
}

/* ---- one message ---- */

/* A keyword opts in or out, unless the ledger changed after the message
 * was written (a late poll must not undo a newer decision). */
static int keyword(struct fw *fw, struct store_txn *t, const struct net_inbound *in)
{
	const struct cfg *c = fw->cfg;
	struct store_ledger e;
	char src[STORE_LEDGER_SOURCE_MAX], word[CFG_KEYWORD_MAX + 1];
	int consent, rc;
	size_t n;

	if (cfg_keyword_match(c->consent.stop, c->consent.n_stop, in->body))
		consent = STORE_CONSENT_OUT;
	else if (cfg_keyword_match(c->consent.start, c->consent.n_start, in->body))
		consent = STORE_CONSENT_IN;
	else
		return ERR_OK;
	rc = store_ledger_get(t, in->from, &e);
	if (rc != ERR_OK && rc != ERR_NOTFOUND)
		return rc;
	if (in->at_ms > 0 && e.changed_ms > in->at_ms)
		return ERR_OK;
	fw->inbound->n.keywords++;
	/* The word as written, trimmed and upper-cased: "keyword:STOP". */
	snprintf(word, sizeof(word), "%s", in->body + strspn(in->body, " \t\r\n"));
	for (n = strlen(word); n && strchr(" \t\r\n", word[n - 1]); n--)
		word[n - 1] = '\0';
	for (char *p = word; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	snprintf(src, sizeof(src), "keyword:%s", word);
	return fw_consent_set(fw, t, in->from, consent, src, in->at_ms > 0 ? in->at_ms :
			      hal_wall_ms());
}

/* ERR_OK with *fresh false for an id seen before. */
static int apply(struct fw *fw, struct store_txn *t, const char *account,
		 const struct net_inbound *in, bool *fresh)
{
	bool seen = false;
	int rc = store_inbound_seen(t, in->id, &seen);

	*fresh = false;
	if (rc != ERR_OK || seen)
		return rc;
	rc = store_inbound_mark(t, in->id, hal_wall_ms());
	if (rc == ERR_OK)
		rc = store_ledger_inbound(t, in->from, account, in->at_ms > 0 ? in->at_ms :
					  hal_wall_ms());
	if (rc == ERR_OK)
		rc = keyword(fw, t, in);
	if (rc == ERR_OK)
		rc = fw_escalate_reply(fw, t, in->from, in->body, in->replied_to);
	*fresh = rc == ERR_OK;
	return rc;
}

/* Checked before anything is written: a refusal inside an MQTT batch must
 * not fail the batch (it would come back, and fail again, for ever). */
static const char *refusal(const struct net_inbound *in)
{
	size_t n = in->from ? strlen(in->from) : 0;

	if (!in->id || !in->id[0] || strlen(in->id) > STORE_INBOUND_ID_MAX)
		return "no usable message id";
	if (n < 9 || n >= CFG_PHONE_MAX || in->from[0] != '+' || in->from[1] == '0' ||
	    strspn(in->from + 1, "0123456789") != n - 1)
		return "the sender is not an E.164 number";
	if (in->body && strlen(in->body) > 4096)
		return "a body over 4096 bytes";
	return NULL;
}

void fw_inbound(struct fw *fw, const char *account, const struct net_inbound *in)
{
	struct fw_inbound *ib = fw->inbound;
	struct store_txn *t = fw->router.txn, *own = NULL;
	char masked[CFG_PHONE_MAX];
	const char *why = ib ? refusal(in) : "not started";
	bool fresh = false;
	int rc;

	if (why) {
		if (ib)
			ib->n.inbound_bad++;
		log_warn("inbound: message to account %s refused: %s", account, why);
		return;
	}
	if (!t && (rc = store_begin(fw->store, 0, &own)) != ERR_OK) {
		log_warn("inbound: message %.64s not recorded: %s", in->id, hal_strerror(rc));
		return;
	}
	rc = apply(fw, own ? own : t, account, in, &fresh);
	if (fresh)
		queue_publish(fw, own ? own : t, account, in);
	if (own)
		rc = rc == ERR_OK ? store_commit(own) : (store_abort(own), rc);
	else
		fw_router_note(fw, rc);
	if (rc != ERR_OK) {
		log_warn("inbound: message %.64s not recorded: %s", in->id, hal_strerror(rc));
		return;
	}
	if (!fresh) {
		ib->n.inbound_dup++;
		return;
	}
	ib->n.inbound++;
	cfg_phone_mask(in->from, masked);
	log_msg(LOG_INFO, &(struct log_ctx){.from = in->from}, "inbound: message %.64s from %s to "
		"account %s", in->id, masked, account);
}

/* ---- polling ---- */

static void poller_clear(struct fw_poller *p)
{
	for (unsigned i = 0; i < p->n_got; i++) {
		free(p->got[i].id);
		free(p->got[i].from);
		free(p->got[i].to);
		free(p->got[i].body);
	}
	p->n_got = 0;
	free(p->url);
	p->url = NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void creds_free(struct fw_poller *p)
{
	if (p->password)
		explicit_bzero(p->password, strlen(p->password));
	free(p->user);
	free(p->password);
	free(p->ca_file);
	free(p->api_base);
	p->user = p->password = p->ca_file = p->api_base = NULL;
}

/* The account as the sender has it now (credentials may have been set or
 * rotated since the last poll); copies, so a reload cannot pull them from
 * under a request. */
static bool creds_take(struct fw_poller *p, const struct fw_account_view *v)
{
	creds_free(p);
	p->drv = v->drv;
	p->user = dup_or_null(v->msg->user);
	p->password = dup_or_null(v->msg->password);
	p->ca_file = dup_or_null(v->ca_file);
	p->api_base = dup_or_null(v->msg->api_base);
	return p->user && p->password && p->api_base && (p->ca_file || !v->ca_file);
}

static void poller_free(struct fw_poller *p)
{
	poller_clear(p);
	creds_free(p);
	free(p);
}

static void schedule(struct fw_poller *p, bool failed)
{
	uint64_t s = p->every_s;

	if (failed) {
		p->failures++;
		p->fw->inbound->n.poll_failures++;
		for (unsigned i = 0; i < p->failures && s < POLL_BACKOFF_MAX_S; i++)
			s *= 2;
		if (s > POLL_BACKOFF_MAX_S)
			s = POLL_BACKOFF_MAX_S;
	} else {
		p->failures = 0;
	}
	hal_timer_set(p->fw->loop, &p->timer, s * 1000);
}

/* A message the list gave us that was not sent to our number: the list
 * was asked for To=our number, so it answers another question (a proxy, a
 * mock, a link followed into another account). Not ours to publish. */
static void foreign(struct fw_poller *p, const struct net_inbound *in)
{
	char masked[CFG_PHONE_MAX];

	p->fw->n.inbound_foreign++;
	cfg_phone_mask(in->to ? in->to : "", masked);
	if (hal_ratelimit_ok(&p->foreign_rl, 3, 3600 * 1000))
		log_warn("inbound: account %s: message %.64s is to %s, not the account's number; "
			 "skipped%s", p->account, in->id, in->to ? masked : "(no number)",
			 p->foreign_rl.suppressed ? " (similar lines suppressed)" : "");
}

static int take(const struct net_inbound *in, void *arg)
{
	struct fw_poller *p = arg;
	struct held *h;

	if (!fw_walk_to_ours(p->own, in->to)) {
		foreign(p, in);
		return 0;
	}

	if (in->at_ms >= 0 && in->at_ms < p->hwm - POLL_SLACK_MS) {
		p->reached = true;
		return 1;
	}
	if (p->n_got == POLL_MAX) {
		p->reached = true;
		p->fw->inbound->n.poll_capped++;
		log_warn("inbound: account %s: over %d new messages in one poll; the older ones are "
			 "not taken", p->account, POLL_MAX);
		return 1;
	}
	h = &p->got[p->n_got];
	*h = (struct held){strdup(in->id), strdup(in->from), strdup(in->to ? in->to : ""),
			   strdup(in->body ? in->body : ""), in->at_ms};
	if (!h->id || !h->from || !h->to || !h->body) {
		free(h->id), free(h->from), free(h->to), free(h->body);
		return 1;
	}
	p->n_got++;
	return 0;
}

/* The walk is over: oldest first, then the new high-water mark. */
static void finish_walk(struct fw_poller *p)
{
	struct fw *fw = p->fw;
	struct store_txn *t;
	int64_t newest = p->hwm;

	for (unsigned i = p->n_got; i-- > 0;) {
		const struct held *h = &p->got[i];
		struct net_inbound in = {.id = h->id, .from = h->from, .to = h->to,
					 .body = h->body, .at_ms = h->at_ms};

		fw_inbound(fw, p->account, &in);
		if (h->at_ms > newest)
			newest = h->at_ms;
	}
	if (newest > p->hwm && store_begin(fw->store, 0, &t) == ERR_OK) {
		int rc = store_inbound_hwm_put(t, p->account, newest);

		if ((rc == ERR_OK ? store_commit(t) : (store_abort(t), rc)) == ERR_OK)
			p->hwm = newest;
	}
	poller_clear(p);
}

static void on_page(struct net_http_req *req, const struct net_http_result *res)
{
	struct fw_poller *p = container_of(req, struct fw_poller, req);
	struct net_list_page page;
	char why[256];

	fw_uplink_note(p->fw, res);
	p->busy = false;
	if (p->gone) {
		poller_free(p);
		return;
	}
	if (res->err == ERR_CLOSED) { /* the daemon is stopping */
		poller_clear(p);
		return;
	}
	p->drv->inbound_page(res, p->api_base, take, p, &page);
	p->pages++;
	if (page.cls != NET_OK) {
		log_warn("inbound: account %s: poll failed: %s", p->account, page.text);
		free(page.next_url);
		poller_clear(p);
		schedule(p, true);
		return;
	}
	if (!p->reached && fw_walk_on(&p->fw->walks, "inbound", p->account, &page, p->pages,
				      POLL_PAGES_MAX, why, sizeof(why))) {
		free(p->url);
		p->req.url = p->url = page.next_url;
		if (net_http_submit(p->fw->http, &p->req) == ERR_OK) {
			p->busy = true;
			return;
		}
		page.next_url = NULL;
	}
	free(page.next_url);
	finish_walk(p);
	schedule(p, false);
}

static void read_hwm(struct fw_poller *p)
{
	struct store_txn *t;

	if (p->hwm_read || store_begin(p->fw->store, STORE_RDONLY, &t) != ERR_OK)
		return;
	store_inbound_hwm(t, p->account, &p->hwm);
	store_abort(t);
	p->hwm_read = true;
	if (!p->hwm)
		p->hwm = hal_wall_ms() - FIRST_POLL_LOOKBACK_MS;
	if (p->hwm > hal_wall_ms()) /* written by a clock that was ahead */
		p->hwm = hal_wall_ms();
}

static void prune_ids(struct fw *fw)
{
	struct fw_inbound *ib = fw->inbound;
	struct store_txn *t;
	unsigned n = 0;
	int64_t now = hal_wall_ms();

	if (now - ib->pruned_ms < PRUNE_EVERY_MS || store_begin(fw->store, 0, &t) != ERR_OK)
		return;
	ib->pruned_ms = now;
	if (store_inbound_prune(t, now - IDS_KEEP_MS, 10000, &n) == ERR_OK)
		store_commit(t);
	else
		store_abort(t);
}

static void on_poll(struct hal_timer *t)
{
	struct fw_poller *p = container_of(t, struct fw_poller, timer);
	struct fw_account_view v;
	struct net_send_msg m;
	int rc;

	if (p->busy || p->fw->stopping)
		return;
	if (!hal_clock_valid() || !fw_sender_account(p->fw, p->account, &v) ||
	    !v.drv->inbound_url || !creds_take(p, &v)) {
		schedule(p, false); /* no clock, no credentials: try again later */
		return;
	}
	read_hwm(p);
	prune_ids(p->fw);
	p->fw->inbound->n.polls++;
	p->reached = false;
	p->pages = 0;
	snprintf(p->own, sizeof(p->own), "%s", v.msg->from ? v.msg->from : "");
	m = *v.msg;
	free(p->url);
	p->url = NULL;
	rc = p->drv->inbound_url(&m, p->hwm - POLL_SLACK_MS, &p->url);
	p->req = (struct net_http_req){.method = NET_HTTP_GET, .url = p->url, .user = p->user,
				       .password = p->password, .ca_file = p->ca_file,
				       .done = on_page};
	if (rc == ERR_OK)
		rc = net_http_submit(p->fw->http, &p->req);
	if (rc != ERR_OK) {
		log_warn("inbound: account %s: poll not sent: %s", p->account, hal_strerror(rc));
		schedule(p, true);
		return;
	}
	p->busy = true;
}

static struct fw_poller *poller_new(struct fw *fw, const struct cfg_account *ca)
{
	struct fw_poller *p = calloc(1, sizeof(*p));
	struct fw_account_view v;

	if (!p)
		return NULL;
	p->fw = fw;
	snprintf(p->account, sizeof(p->account), "%s", ca->name);
	p->every_s = ca->inbound_poll_s;
	p->timer.cb = on_poll;
	p->drv = net_provider_find(cfg_provider_name(ca->provider));
	if (fw_sender_account(fw, ca->name, &v))
		p->drv = v.drv;
	return p;
}

static void pollers_stop(struct fw_inbound *ib)
{
	while (ib->pollers) {
		struct fw_poller *p = ib->pollers;

		ib->pollers = p->next;
		hal_timer_cancel(ib->fw->loop, &p->timer);
		if (p->busy)
			p->gone = true; /* its done() frees it */
		else
			poller_free(p);
	}
}

void fw_inbound_reconfigure(struct fw *fw)
{
	struct fw_inbound *ib = fw->inbound;

	if (!ib)
		return;
	pollers_stop(ib);
	for (unsigned i = 0; i < fw->cfg->n_accounts; i++) {
		const struct cfg_account *ca = &fw->cfg->accounts[i];
		struct fw_poller *p;

		if (!ca->inbound_poll_s)
			continue;
		p = poller_new(fw, ca);
		if (!p || !p->drv || !p->drv->inbound_url || !p->drv->inbound_page) {
			log_warn("inbound: account %s: %s", ca->name, p ? "its provider cannot "
				 "list inbound messages; webhooks only" : "out of memory");
			if (p)
				poller_free(p);
			continue;
		}
		p->next = ib->pollers;
		ib->pollers = p;
		hal_timer_set(fw->loop, &p->timer, 0);
		log_info("inbound: polling account %s every %u s", ca->name, ca->inbound_poll_s);
	}
}

int fw_inbound_init(struct fw *fw)
{
	struct fw_inbound *ib = calloc(1, sizeof(*ib));

	if (!ib)
		return ERR_NOMEM;
	ib->fw = fw;
	ib->publish.cb = on_publish;
	snprintf(ib->topic, sizeof(ib->topic), "outpost/%s/consent", fw->cfg->gateway_id);
	snprintf(ib->inbound_topic, sizeof(ib->inbound_topic), "outpost/%s/inbound",
		 fw->cfg->gateway_id);
	fw->inbound = ib;
	fw_inbound_reconfigure(fw);
	return ERR_OK;
}

/* After net_http_free (busy pollers' done() ran with ERR_CLOSED). */
void fw_inbound_free(struct fw *fw)
{
	struct fw_inbound *ib = fw->inbound;

	if (!ib)
		return;
	pollers_stop(ib);
	hal_timer_cancel(fw->loop, &ib->publish);
	for (unsigned i = 0; i < ib->n_pub; i++)
		free(ib->pub[i]);
	free(ib);
	fw->inbound = NULL;
}
