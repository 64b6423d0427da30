/*
 * control/consent.c - the recipient ledger for operators, and forgetting a
 * person:
 *
 *   consent.set   {to, opt: "in"|"out", source?} -> {to, consent, source}
 *   consent.show  {to} -> {found, consent, source, changed_at, last_inbound_at,
 *                          account, window_open, window_until}
 *   forget        {to} -> {erased: {ledger, messages, log_lines}}
 *
 * "to" is a phone number as the router takes it (events.default_country
 * applies); replies show it masked unless the caller is an operator.
 *
 * forget erases in one write transaction: the ledger entry, every outbox
 * record to that number whatever its state (queued and held ones are
 * suppressed and removed; their dedup and provider-id index entries go
 * with them, as a purge does), and the recipient and variables of the log
 * ring's records about it (their text was masked when written). It walks
 * the whole outbox once: there is no index by recipient, and a forget is
 * rare. A message being sent at that moment makes it refuse, so that the
 * send's outcome has a record to land on; the operator asks again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/consent.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/ledger.h"
#include "store/logring.h"
#include "store/outbox.h"
#include "store/store.h"

#define SOURCE_MAX 48
#define FORGET_MAX 1000000 /* records of one person; far above any real one */

static bool number_of(struct fw *fw, const cJSON *req, char e164[CFG_PHONE_MAX], char *err,
		      size_t errlen)
{
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "to");
	const char *why;

	if (!cJSON_IsString(to)) {
		snprintf(err, errlen, "\"to\" (a phone number) is required");
		return false;
	}
	if (cfg_phone_normalize(to->valuestring, fw->cfg->events.default_country, e164, &why) !=
	    ERR_OK) {
		snprintf(err, errlen, "\"to\": %s", why);
		return false;
	}
	return true;
}

static cJSON *reply(const struct fw_caller *from, const char *e164)
{
	cJSON *r = cJSON_CreateObject();
	char masked[CFG_PHONE_MAX];

	cfg_phone_mask(e164, masked);
	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddStringToObject(r, "to", from->operator ? e164 : masked);
	return r;
}

static bool source_of(const cJSON *req, char *src, size_t len, char *err, size_t errlen)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(req, "source");

	if (!s) {
		snprintf(src, len, "cli");
		return true;
	}
	if (!cJSON_IsString(s) || !s->valuestring[0] || strlen(s->valuestring) > SOURCE_MAX) {
		snprintf(err, errlen, "\"source\" must be text of 1..%d bytes", SOURCE_MAX);
		return false;
	}
	for (const char *p = s->valuestring; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "\"source\" has control characters");
			return false;
		}
	snprintf(src, len, "cli:%s", s->valuestring);
	return true;
}

static cJSON *cmd_set(struct fw *fw, const struct fw_caller *from, const cJSON *req, char *err,
		      size_t errlen)
{
	const cJSON *opt = cJSON_GetObjectItemCaseSensitive(req, "opt");
	char e164[CFG_PHONE_MAX], src[SOURCE_MAX + 8];
	struct store_txn *t;
	int consent, rc;
	cJSON *r;

	if (!number_of(fw, req, e164, err, errlen) || !source_of(req, src, sizeof(src), err, errlen))
		return NULL;
	consent = cJSON_IsString(opt) ? store_consent_parse(opt->valuestring) : -1;
	if (consent != STORE_CONSENT_IN && consent != STORE_CONSENT_OUT) {
		snprintf(err, errlen, "\"opt\" must be \"in\" or \"out\"");
		return NULL;
	}
	rc = store_begin(fw->store, 0, &t);
	if (rc == ERR_OK)
		rc = fw_consent_set(fw, t, e164, consent, src, hal_wall_ms());
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc != ERR_OK) {
		snprintf(err, errlen, "store: %s; nothing changed", hal_strerror(rc));
		return NULL;
	}
	r = reply(from, e164);
	cJSON_AddStringToObject(r, "consent", store_consent_name(consent));
	cJSON_AddStringToObject(r, "source", src);
	return r;
}

static void add_time(cJSON *r, const char *key, int64_t ms)
{
	char when[32];

	fw_iso_time(ms, when, sizeof(when));
	cJSON_AddStringToObject(r, key, when);
}

static cJSON *cmd_show(struct fw *fw, const struct fw_caller *from, const cJSON *req, char *err,
		       size_t errlen)
{
	char e164[CFG_PHONE_MAX];
	struct store_ledger e;
	struct store_txn *t;
	int64_t now = hal_wall_ms();
	int rc;
	cJSON *r;

	if (!number_of(fw, req, e164, err, errlen))
		return NULL;
	rc = store_begin(fw->store, STORE_RDONLY, &t);
	if (rc == ERR_OK) {
		rc = store_ledger_get(t, e164, &e);
		store_abort(t);
	}
	if (rc != ERR_OK && rc != ERR_NOTFOUND) {
		snprintf(err, errlen, "store: %s", hal_strerror(rc));
		return NULL;
	}
	r = reply(from, e164);
	cJSON_AddBoolToObject(r, "found", rc == ERR_OK);
	cJSON_AddStringToObject(r, "consent", store_consent_name(e.consent));
	cJSON_AddStringToObject(r, "source", e.source);
	add_time(r, "changed_at", e.changed_ms);
	add_time(r, "last_inbound_at", e.inbound_ms);
	cJSON_AddStringToObject(r, "account", e.account);
	cJSON_AddBoolToObject(r, "window_open", fw_window_open(now, e.inbound_ms));
	add_time(r, "window_until", fw_window_open(now, e.inbound_ms) ?
		 e.inbound_ms + FW_WINDOW_MS : 0);
	return r;
}

/* ---- forget ---- */

struct mine {
	const char *to;
	uint64_t *seqs;
	unsigned n, cap;
	bool sending, nomem;
};

static int collect(const struct store_msg *m, void *arg)
{
	struct mine *c = arg;
	uint64_t *grown;

	if (strcmp(m->to, c->to) != 0)
		return 0;
	if (m->state == STORE_SENDING) {
		c->sending = true;
		return 1;
	}
	if (c->n == c->cap) {
		unsigned cap = c->cap ? c->cap * 2 : 64;

		grown = cap <= FORGET_MAX ? realloc(c->seqs, cap * sizeof(*grown)) : NULL;
		if (!grown) {
			c->nomem = true;
			return 1;
		}
		c->seqs = grown;
		c->cap = cap;
	}
	c->seqs[c->n++] = m->seq;
	return 0;
}

/* A record still on its way is settled as suppressed first: only final
 * records can be deleted, with their index entries. */
static int erase_one(struct store_txn *t, uint64_t seq, int64_t now)
{
	struct store_msg m;
	int rc = store_outbox_get(t, seq, &m);

	if (rc == ERR_OK && (m.state == STORE_QUEUED || m.state == STORE_RETRY)) {
		m.state = STORE_SUPPRESSED;
		m.updated_ms = now;
		m.err_text = "forgotten (outpostctl forget)";
		rc = store_outbox_update(t, &m);
	}
	return rc == ERR_OK ? store_outbox_delete(t, seq) : rc;
}

struct erased {
	bool ledger;
	unsigned messages;
	uint64_t log_lines;
};

static int erase(struct store_txn *t, const char *e164, struct mine *c, struct erased *x,
		 char *err, size_t errlen)
{
	int rc = store_outbox_list(t, 0, 0, 0, collect, c);

	if (rc == ERR_OK && (c->sending || c->nomem)) {
		snprintf(err, errlen, c->sending ? "a message to this number is being sent right "
			 "now; ask again in a few seconds" : "out of memory");
		return ERR_AGAIN;
	}
	for (unsigned i = 0; rc == ERR_OK && i < c->n; i++)
		rc = erase_one(t, c->seqs[i], hal_wall_ms());
	x->messages = c->n;
	if (rc == ERR_OK) {
		rc = store_ledger_delete(t, e164);
		x->ledger = rc == ERR_OK;
		rc = rc == ERR_NOTFOUND ? ERR_OK : rc;
	}
	if (rc == ERR_OK)
		rc = store_log_scrub(t, e164, &x->log_lines);
	return rc;
}

static cJSON *cmd_forget(struct fw *fw, const struct fw_caller *from, const cJSON *req,
			 char *err, size_t errlen)
{
	char e164[CFG_PHONE_MAX], masked[CFG_PHONE_MAX];
	struct mine c = {.to = e164};
	struct erased x = {0};
	struct store_txn *t = NULL;
	cJSON *r = NULL, *o;
	int rc;

	if (!number_of(fw, req, e164, err, errlen))
		return NULL;
	/* The log lines of this very command must not name the number. */
	rc = fw_logs_flush(fw);
	if (rc == ERR_OK)
		rc = store_begin(fw->store, 0, &t);
	if (rc == ERR_OK) {
		rc = erase(t, e164, &c, &x, err, errlen);
		rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	}
	free(c.seqs);
	if (rc != ERR_OK) {
		if (rc != ERR_AGAIN)
			snprintf(err, errlen, "store: %s; nothing erased", hal_strerror(rc));
		return NULL;
	}
	cfg_phone_mask(e164, masked);
	log_info("forget: erased the data of %s: ledger entry %s, %u messages, %llu log lines",
		 masked, x.ledger ? "yes" : "none", x.messages, (unsigned long long)x.log_lines);
	r = reply(from, e164);
	o = cJSON_AddObjectToObject(r, "erased");
	cJSON_AddNumberToObject(o, "ledger", x.ledger);
	cJSON_AddNumberToObject(o, "messages", x.messages);
	cJSON_AddNumberToObject(o, "log_lines", (double)x.log_lines);
	return r;
}

cJSON *fw_cmd_consent(struct fw *fw, const struct fw_caller *from, const char *cmd,
		      const cJSON *req, char *err, size_t errlen)
{
	if (strcmp(cmd, "consent.set") == 0)
		return cmd_set(fw, from, req, err, errlen);
	if (strcmp(cmd, "consent.show") == 0)
		return cmd_show(fw, from, req, err, errlen);
	if (strcmp(cmd, "forget") == 0)
		return cmd_forget(fw, from, req, err, errlen);
	snprintf(err, errlen, "unknown command '%.40s' (known: consent.set, consent.show, forget)",
		 cmd);
	return NULL;
}
