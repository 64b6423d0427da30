/*
 * control/probe.c - `test_connection`: does an account's path to its provider
 * work right now (DNS, TCP, TLS with verification, credentials)? One GET
 * per account of what the driver names (Twilio: the account itself), on
 * the same HTTP engine and CA file the sender uses, so a pass means the
 * sender's requests can pass too.
 *
 *   test_connection {account?}          -> {test, accounts[]}: started
 *   test_connection {account?, send_to, template}
 *                                       -> the same, and {message_seq}: a
 *                                          real template message, queued in
 *                                          the outbox like any other (so it
 *                                          is durable, retried, listed), its
 *                                          variables "outpost test"
 *   test_connection.result {test}       -> {done, results[{account, state
 *                                          running|ok|failed, ms, http_status,
 *                                          class, code, text, check}]}
 *
 * "check" says which call was made: Twilio with an Auth Token fetches the
 * account, with an API key lists one message (a Standard key may not fetch
 * the account); Meta fetches the phone number; 360dialog lists templates.
 * Any 2xx answer passes: the call only has to be allowed.
 *
 * Two steps because a transfer may take seconds and a command must never
 * wait for the network: the loop runs it, the operator's tool asks again
 * (over serial and MQTT as over the socket). A probe copies what it needs
 * from the account, so a reload meanwhile does not pull it from under it.
 * ("test", not "id": the serial line's frames carry their own "id".)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "config/schema.h"
#include "store/outbox.h"
#include "store/store.h"
#include "firmware/fw.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/providers/provider.h"

#define PROBES_MAX 8

struct probe {
	struct net_http_req req;
	struct fw *fw;
	unsigned batch;
	char account[64];
	char *url, *user, *password, *ca_file;
	char *hdr[NET_HTTP_HEADERS_MAX]; /* auth headers (secrets) while it runs */
	const char *check;               /* the driver's probe_what, static */
	const struct net_provider *drv;
	uint64_t started_ms, took_ms;
	bool running, used;
	int err;
	long status;
	struct net_send_outcome out;
	char error[256];
};

struct fw_probes {
	struct probe p[PROBES_MAX];
	unsigned batch;
};

static void probe_clear(struct probe *p)
{
	free(p->url);
	free(p->user);
	if (p->password)
		explicit_bzero(p->password, strlen(p->password));
	free(p->password);
	free(p->ca_file);
	net_http_headers_free(p->hdr, NET_HTTP_HEADERS_MAX);
	p->url = p->user = p->password = p->ca_file = NULL;
}

void fw_probes_free(struct fw *fw)
{
	if (!fw->probes)
		return;
	for (unsigned i = 0; i < PROBES_MAX; i++)
		probe_clear(&fw->probes->p[i]);
	free(fw->probes);
	fw->probes = NULL;
}

static void on_done(struct net_http_req *req, const struct net_http_result *res)
{
	struct probe *p = container_of(req, struct probe, req);

	fw_uplink_note(p->fw, res);

	p->running = false;
	p->took_ms = hal_now_ms() - p->started_ms;
	p->err = res->err;
	p->status = res->status;
	snprintf(p->error, sizeof(p->error), "%s", res->err ? res->error : "");
	p->drv->outcome(res, &p->out);
	if (p->out.cls == NET_AMBIGUOUS) /* a GET changes nothing: no doubt to settle */
		p->out.cls = NET_TRANSIENT;
	if (res->err == ERR_OK && res->status >= 200 && res->status < 300)
		p->out.cls = NET_OK; /* allowed: what the answer holds does not matter */
	log_info("test-connection: account %s: %s in %llu ms%s%s", p->account,
		 p->out.cls == NET_OK ? "ok" : net_class_name(p->out.cls),
		 (unsigned long long)p->took_ms, p->out.cls == NET_OK ? "" : ": ",
		 p->out.cls == NET_OK ? "" : p->out.text);
	probe_clear(p);
}

/* A free slot: never used, else finished the longest ago. */
static struct probe *slot(struct fw_probes *ps)
{
	struct probe *best = NULL;

	for (unsigned i = 0; i < PROBES_MAX; i++) {
		struct probe *p = &ps->p[i];

		if (!p->used)
			return p;
		if (!p->running && (!best || p->started_ms < best->started_ms))
			best = p;
	}
	return best;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int start_one(struct fw *fw, const char *name, unsigned batch, char *why, size_t whylen)
{
	struct fw_account_view v;
	struct probe *p = slot(fw->probes);
	int rc;

	if (!fw_sender_account(fw, name, &v)) {
		snprintf(why, whylen, "account %s: no credentials to try (see status)", name);
		return ERR_NOTFOUND;
	}
	if (!p) {
		snprintf(why, whylen, "%d tests already running; ask again in a moment", PROBES_MAX);
		return ERR_LIMIT;
	}
	if (!v.drv->probe_url) {
		snprintf(why, whylen, "account %s: its provider has no connection test", name);
		return ERR_INVAL;
	}
	probe_clear(p);
	memset(p, 0, sizeof(*p));
	p->fw = fw;
	p->used = true;
	p->batch = batch;
	p->drv = v.drv;
	snprintf(p->account, sizeof(p->account), "%s", name);
	p->check = v.drv->probe_what ? v.drv->probe_what(v.msg) : "";
	rc = v.drv->probe_url(v.msg, &p->url);
	p->user = dup_or_null(v.msg->user);
	p->password = dup_or_null(v.msg->password);
	p->ca_file = dup_or_null(v.ca_file);
	p->req = (struct net_http_req){
		.method = NET_HTTP_GET, .url = p->url, .ca_file = p->ca_file, .done = on_done,
	};
	if (rc == ERR_OK && p->user && p->password) {
		/* the probe's own copies: a reload may free the account meanwhile */
		struct net_send_msg m = *v.msg;

		m.user = p->user;
		m.password = p->password;
		rc = net_provider_auth(v.drv, &m, false, &p->req, p->hdr);
	}
	if (rc != ERR_OK || !p->user || !p->password || (v.ca_file && !p->ca_file)) {
		probe_clear(p);
		p->used = false;
		snprintf(why, whylen, "account %s: cannot build the test request", name);
		return rc ? rc : ERR_NOMEM;
	}
	p->started_ms = hal_now_ms();
	p->running = true;
	rc = net_http_submit(fw->http, &p->req);
	if (rc != ERR_OK) {
		p->running = false;
		probe_clear(p);
		p->used = false;
		snprintf(why, whylen, "account %s: the HTTP engine is full (%s); ask again in a "
			 "moment", name, hal_strerror(rc));
	}
	return rc;
}

/* Queues one message of `template` to `to` on `account`, committed. */
static int queue_test(struct fw *fw, const char *account, const char *to_raw,
		      const char *template, uint64_t *seq, char *err, size_t errlen)
{
	const struct cfg_template *t = cfg_template_find(fw->cfg, template);
	char to[CFG_PHONE_MAX], id[40], topic[160], vars[CFG_TEMPLATE_VARS_MAX * 24 + 4];
	int64_t now = hal_wall_ms();
	struct store_txn *txn;
	struct store_msg m;
	const char *why;
	size_t n = 0;
	int rc;

	if (!t) {
		snprintf(err, errlen, "no template '%.64s' in the configuration", template);
		return ERR_NOTFOUND;
	}
	if (!fw_templates_sendable(fw, account, t, err, errlen))
		return ERR_INVAL; /* why: "template X is paused at the provider", ... */
	if (cfg_phone_normalize(to_raw, fw->cfg->events.default_country, to, &why) != ERR_OK) {
		snprintf(err, errlen, "send_to: %s", why);
		return ERR_INVAL;
	}
	n += (size_t)snprintf(vars, sizeof(vars), "{");
	for (unsigned i = 1; i <= t->variables; i++)
		n += (size_t)snprintf(vars + n, sizeof(vars) - n, "%s\"%u\":\"outpost test\"",
				      i > 1 ? "," : "", i);
	snprintf(vars + n, sizeof(vars) - n, "}");
	snprintf(id, sizeof(id), "test-%lld", (long long)now);
	snprintf(topic, sizeof(topic), "outpost/%s/test", fw->cfg->gateway_id);
	memset(&m, 0, sizeof(m));
	m.state = STORE_QUEUED;
	m.created_ms = m.updated_ms = now;
	m.event_id = id;
	m.topic = topic;
	m.route = "test-connection";
	m.account = account;
	m.to = to;
	m.template_name = t->name;
	m.content_sid = t->content_sid ? t->content_sid : "";
	m.vars_json = vars;
	m.provider_id = m.err_text = "";
	m.ttl_s = 3600;
	store_msg_set_prio(&m, STORE_PRIO_HIGH); /* a technician waits for it */
	m.expires_ms = hal_clock_valid() ? now + 3600 * 1000 : 0;
	if (!hal_clock_valid())
		m.flags |= STORE_F_CLOCK_UNSET;
	rc = store_begin(fw->store, 0, &txn);
	if (rc == ERR_OK && (rc = store_outbox_add(txn, &m)) == ERR_OK)
		rc = store_commit(txn);
	else
		store_abort(txn);
	if (rc != ERR_OK) {
		snprintf(err, errlen, "the test message could not be stored: %s", hal_strerror(rc));
		return rc;
	}
	*seq = m.seq;
	fw->n.queued++;
	fw_sender_kick(fw);
	log_info("test-connection: test message #%llu (template %s) queued on account %s",
		 (unsigned long long)m.seq, template, account);
	return ERR_OK;
}

static cJSON *start(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const cJSON *acc = cJSON_GetObjectItemCaseSensitive(req, "account");
	unsigned batch;
	cJSON *r, *a;
	int rc = ERR_OK;

	if (!fw->probes && !(fw->probes = calloc(1, sizeof(*fw->probes))))
		return NULL;
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "send_to");
	const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(req, "template");
	uint64_t seq = 0;

	if (cJSON_IsString(acc) && !cfg_account_find(fw->cfg, acc->valuestring)) {
		snprintf(err, errlen, "no account '%.64s' in the configuration", acc->valuestring);
		return NULL;
	}
	if (cJSON_IsString(to) != cJSON_IsString(tpl)) {
		snprintf(err, errlen, "a test message needs both \"send_to\" and \"template\"");
		return NULL;
	}
	if (cJSON_IsString(to) && !cJSON_IsString(acc) && fw->cfg->n_accounts != 1) {
		snprintf(err, errlen, "a test message needs the account to send it on");
		return NULL;
	}
	if (cJSON_IsString(to) &&
	    queue_test(fw, cJSON_IsString(acc) ? acc->valuestring : fw->cfg->accounts[0].name,
		       to->valuestring, tpl->valuestring, &seq, err, errlen) != ERR_OK)
		return NULL;
	batch = ++fw->probes->batch;
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddNumberToObject(r, "test", batch);
	if (seq)
		cJSON_AddNumberToObject(r, "message_seq", (double)seq);
	a = cJSON_AddArrayToObject(r, "accounts");
	for (unsigned i = 0; i < fw->cfg->n_accounts && rc == ERR_OK; i++) {
		const char *name = fw->cfg->accounts[i].name;

		if (cJSON_IsString(acc) && strcmp(acc->valuestring, name) != 0)
			continue;
		rc = start_one(fw, name, batch, err, errlen);
		if (rc == ERR_OK)
			cJSON_AddItemToArray(a, cJSON_CreateString(name));
	}
	if (rc != ERR_OK) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static void add_result(cJSON *a, const struct probe *p)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = !p->running && p->err == ERR_OK && p->out.cls == NET_OK;

	cJSON_AddStringToObject(o, "account", p->account);
	cJSON_AddStringToObject(o, "state", p->running ? "running" : ok ? "ok" : "failed");
	cJSON_AddNumberToObject(o, "ms", (double)(p->running ? hal_now_ms() - p->started_ms :
						   p->took_ms));
	if (!p->running) {
		cJSON_AddNumberToObject(o, "http_status", p->status);
		cJSON_AddStringToObject(o, "class", net_class_name(p->out.cls));
		cJSON_AddNumberToObject(o, "code", p->out.code);
		cJSON_AddStringToObject(o, "text", p->err ? p->error : p->out.text);
	}
	cJSON_AddStringToObject(o, "check", p->check ? p->check : "");
	cJSON_AddItemToArray(a, o);
}

static cJSON *result(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "test");
	bool done = true, any = false;
	cJSON *r, *a;

	if (!cJSON_IsNumber(id) || !fw->probes) {
		snprintf(err, errlen, "\"test\" must be the number test_connection answered");
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	a = cJSON_AddArrayToObject(r, "results");
	for (unsigned i = 0; i < PROBES_MAX; i++) {
		const struct probe *p = &fw->probes->p[i];

		if (!p->used || p->batch != (unsigned)id->valuedouble)
			continue;
		any = true;
		done &= !p->running;
		add_result(a, p);
	}
	if (!any) {
		cJSON_Delete(r);
		snprintf(err, errlen, "no test %g (finished ones are kept for a while only)",
			 id->valuedouble);
		return NULL;
	}
	cJSON_AddBoolToObject(r, "done", done);
	return r;
}

cJSON *fw_cmd_probe(struct fw *fw, const char *cmd, const cJSON *req, char *err, size_t errlen)
{
	if (strcmp(cmd, "test_connection") == 0)
		return start(fw, req, err, errlen);
	if (strcmp(cmd, "test_connection.result") == 0)
		return result(fw, req, err, errlen);
	snprintf(err, errlen, "unknown command '%.40s' (known: test_connection, "
		 "test_connection.result)", cmd);
	return NULL;
}
