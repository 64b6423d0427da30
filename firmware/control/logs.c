/*
 * control/logs.c - the "logs" control command (docs/CONTROL.md): a page of the
 * log ring from a sequence number, for outpostctl logs and remote pulls.
 *
 * Recipients are masked (cfg_phone_mask) and template variables left out
 * unless the request says "unmasked" and the caller is an operator
 * (struct fw_caller); anybody else asking for them is refused, not quietly
 * given the masked form, so a script cannot mistake one for the other.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "net/ctl.h"
#include "store/logring.h"
#include "store/store.h"

#define LOGS_LIMIT_DEFAULT 1000
#define LOGS_LIMIT_MAX 5000
/* Records looked at per request when a level filter skips most: bounds the
 * time one request holds the loop. */
#define LOGS_SCAN_MAX 100000
/* A page stops short of the frame limit by more than one record at its
 * largest (all strings at their bounds, every byte escaped as \u00XX). */
#define LOGS_PAGE_BYTES (NET_CTL_MAX_FRAME * 3 / 4)
/* Keys, numbers and punctuation of one record. */
#define LOGS_REC_FIXED 200

static const char *const level_names[8] = {"emerg", "alert", "crit", "error",
					   "warn",  "notice", "info", "debug"};

/* "error" or "err", "warn" or "warning", ...: the syslog level, -1 if none. */
static int level_parse(const char *s)
{
	for (int i = 0; i < 8; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "err") == 0)
		return LOG_ERR;
	if (strcmp(s, "warning") == 0)
		return LOG_WARNING;
	return -1;
}

/* Bytes s takes as a JSON string, at most: cJSON writes control characters
 * as \u00XX and keeps UTF-8 as it is. */
static size_t json_len(const char *s)
{
	size_t n = 2;

	for (; *s; s++)
		n += (unsigned char)*s < 0x20 ? 6 : (*s == '"' || *s == '\\') ? 2 : 1;
	return n;
}

struct page {
	cJSON *arr;
	size_t bytes;
	bool unmasked;
};

static void add_sensitive(cJSON *o, const struct store_log_rec *r, bool unmasked, size_t *bytes)
{
	char masked[CFG_PHONE_MAX];
	cJSON *vars;

	if (r->to[0]) {
		cfg_phone_mask(r->to, masked);
		cJSON_AddStringToObject(o, r->sender ? "from" : "to", unmasked ? r->to : masked);
		*bytes += json_len(unmasked ? r->to : masked);
	}
	if (!unmasked || !r->vars[0])
		return;
	vars = cJSON_Parse(r->vars);
	if (cJSON_IsObject(vars))
		cJSON_AddItemToObject(o, "vars", vars);
	else {
		cJSON_Delete(vars);
		cJSON_AddStringToObject(o, "vars", r->vars);
	}
	*bytes += 2 * json_len(r->vars);
}

static int add_record(const struct store_log_rec *r, void *arg)
{
	struct page *p = arg;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "seq", (double)r->seq);
	cJSON_AddNumberToObject(o, "time_ms", (double)r->time_ms);
	cJSON_AddStringToObject(o, "level", level_names[r->level & 7]);
	cJSON_AddStringToObject(o, "module", r->module);
	if (r->event_id[0])
		cJSON_AddStringToObject(o, "event_id", r->event_id);
	if (r->msg_seq)
		cJSON_AddNumberToObject(o, "msg_seq", (double)r->msg_seq);
	cJSON_AddStringToObject(o, "text", r->text);
	p->bytes += LOGS_REC_FIXED + json_len(r->module) + json_len(r->event_id) + json_len(r->text);
	add_sensitive(o, r, p->unmasked, &p->bytes);
	cJSON_AddItemToArray(p->arr, o);
	return p->bytes > LOGS_PAGE_BYTES;
}

struct logs_req {
	uint64_t since;
	unsigned limit;
	int level;
	bool unmasked;
};

static bool parse_req(const cJSON *req, struct logs_req *q, char *err, size_t errlen)
{
	const cJSON *since = cJSON_GetObjectItemCaseSensitive(req, "since");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(req, "limit");
	const cJSON *lvl = cJSON_GetObjectItemCaseSensitive(req, "level");
	const cJSON *um = cJSON_GetObjectItemCaseSensitive(req, "unmasked");

	*q = (struct logs_req){.limit = LOGS_LIMIT_DEFAULT, .level = LOG_DEBUG};
	/* 2^53: where JSON numbers stop being exact integers. */
	if (since && (!cJSON_IsNumber(since) || since->valuedouble < 0 ||
		      since->valuedouble > 9007199254740992.0)) {
		snprintf(err, errlen, "\"since\" must be a sequence number, 0 to 2^53");
		return false;
	}
	if (lim && (!cJSON_IsNumber(lim) || lim->valuedouble < 1 || lim->valuedouble > LOGS_LIMIT_MAX)) {
		snprintf(err, errlen, "\"limit\" must be a number, 1 to %d", LOGS_LIMIT_MAX);
		return false;
	}
	if (lvl && (!cJSON_IsString(lvl) || (q->level = level_parse(lvl->valuestring)) < 0)) {
		snprintf(err, errlen, "\"level\" must be one of error, warn, notice, info, debug");
		return false;
	}
	if (um && !cJSON_IsBool(um)) {
		snprintf(err, errlen, "\"unmasked\" must be true or false");
		return false;
	}
	q->since = since ? (uint64_t)since->valuedouble : 0;
	q->limit = lim ? (unsigned)lim->valuedouble : q->limit;
	q->unmasked = cJSON_IsTrue(um);
	return true;
}

static void add_range(cJSON *r, const struct fw *fw, const struct store_log_range *rg,
		      uint64_t next)
{
	cJSON_AddNumberToObject(r, "next", (double)next);
	cJSON_AddNumberToObject(r, "first", (double)rg->first);
	cJSON_AddNumberToObject(r, "last", (double)rg->last);
	cJSON_AddNumberToObject(r, "dropped", (double)(rg->dropped + fw_logs_pending_dropped(fw)));
	cJSON_AddNumberToObject(r, "bytes", (double)rg->bytes);
	cJSON_AddNumberToObject(r, "max_bytes", (double)((uint64_t)fw->cfg->log.ring_kb << 10));
}

cJSON *fw_cmd_logs(struct fw *fw, const struct fw_caller *from, const cJSON *req, char *err,
		   size_t errlen)
{
	struct logs_req q;
	struct store_log_query sq;
	struct store_log_range rg;
	struct page page = {0};
	struct store_txn *t;
	uint64_t next = 0;
	cJSON *r;

	if (!parse_req(req, &q, err, errlen))
		return NULL;
	if (q.unmasked && !from->operator) {
		snprintf(err, errlen, "unmasked logs are for an operator only (%s: %s is not one)",
			 from->transport, from->who);
		return NULL;
	}
	/* What waits in memory is part of the answer; one commit per request
	 * at most, and none when nothing waits. */
	fw_logs_flush(fw);
	if (store_begin(fw->store, STORE_RDONLY, &t) != ERR_OK) {
		snprintf(err, errlen, "store unavailable");
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	page.arr = cJSON_AddArrayToObject(r, "records");
	page.unmasked = q.unmasked;
	sq = (struct store_log_query){.since = q.since, .max_level = q.level,
				      .max_records = q.limit, .max_scan = LOGS_SCAN_MAX};
	if (store_log_range(t, &rg) != ERR_OK ||
	    store_log_read(t, &sq, add_record, &page, &next) != ERR_OK) {
		store_abort(t);
		cJSON_Delete(r);
		snprintf(err, errlen, "reading the log ring failed");
		return NULL;
	}
	store_abort(t);
	add_range(r, fw, &rg, next);
	return r;
}
