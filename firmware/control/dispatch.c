/*
 * dispatch.c - the control commands (docs/CONTROL.md), whatever transport a
 * request came by: one JSON request in, one JSON reply out. The transports
 * (socket.c, serial.c, mqtt.c, in this folder) cut frames, say who is asking,
 * and carry the reply back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "config/secrets.h"
#include "firmware/delivery.h"
#include "firmware/escalate.h"
#include "firmware/consent.h"
#include "firmware/fw.h"
#include "firmware/quota.h"
#include "firmware/reconcile.h"
#include "firmware/stats.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/ctl.h"
#include "net/http.h"
#include "net/mqtt.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define LIST_MAX 1000

void fw_outbox_counts(cJSON *o, struct store_txn *t)
{
	uint64_t counts[STORE__STATES] = {0};

	store_outbox_counts(t, counts);
	for (int s = 1; s < STORE__STATES; s++)
		cJSON_AddNumberToObject(o, store_state_name(s), (double)counts[s]);
}

static void status_counters(const struct fw *fw, cJSON *r)
{
	cJSON *n = cJSON_AddObjectToObject(r, "counters");

	cJSON_AddNumberToObject(n, "events", (double)fw->n.events);
	cJSON_AddNumberToObject(n, "acked", (double)fw->n.acked);
	cJSON_AddNumberToObject(n, "rejected", (double)fw->n.rejected);
	cJSON_AddNumberToObject(n, "duplicates", (double)fw->n.duplicates);
	cJSON_AddNumberToObject(n, "queued", (double)fw->n.queued);
	cJSON_AddNumberToObject(n, "sent", (double)fw->n.sent);
	cJSON_AddNumberToObject(n, "failed", (double)fw->n.failed);
	cJSON_AddNumberToObject(n, "expired", (double)fw->n.expired);
	cJSON_AddNumberToObject(n, "retries", (double)fw->n.retries);
	cJSON_AddNumberToObject(n, "ambiguous", (double)fw->n.ambiguous);
	cJSON_AddNumberToObject(n, "reconciled", (double)fw->n.reconciled);
	cJSON_AddNumberToObject(n, "resent", (double)fw->n.resent);
	cJSON_AddNumberToObject(n, "failovers", (double)fw->n.failovers);
	cJSON_AddNumberToObject(n, "failbacks", (double)fw->n.failbacks);
	cJSON_AddNumberToObject(n, "commit_failures", (double)fw->n.commit_failures);
	cJSON_AddNumberToObject(n, "pruned", (double)fw->n.pruned);
	/* List walks that stopped early (firmware/walk.h), reconciliation's
	 * included: a next link refused, a page cap reached. */
	cJSON_AddNumberToObject(n, "next_links_refused", (double)fw->walks.refused);
	cJSON_AddNumberToObject(n, "walks_capped", (double)fw->walks.capped);
	cJSON_AddNumberToObject(n, "inbound_foreign", (double)fw->n.inbound_foreign);
	cJSON_AddNumberToObject(n, "quiet_held", (double)fw->n.quiet_held);
	cJSON_AddNumberToObject(n, "coalesced", (double)fw->n.coalesced);
	cJSON_AddNumberToObject(n, "capped", (double)fw->n.capped);
	cJSON_AddNumberToObject(n, "http_inflight", fw->http ? net_http_inflight(fw->http) : 0);
	/* Connections opened, and how many speak HTTP/2: with HTTP/2 a busy
	 * sender keeps one per provider host. */
	struct net_http_stats hs = net_http_stats(fw->http);
	cJSON_AddNumberToObject(n, "http_connects", (double)hs.connects);
	cJSON_AddNumberToObject(n, "http2_connects", (double)hs.connects_h2);
	cJSON_AddNumberToObject(n, "http2_stream_waits", (double)hs.stream_waits);
	cJSON_AddNumberToObject(n, "http_ca_parses", (double)hs.ca_parses);
}

static void status_errors(const struct fw *fw, cJSON *r)
{
	cJSON *a = cJSON_AddArrayToObject(r, "last_errors");
	uint64_t now = hal_now_ms();

	for (unsigned i = 0; i < FW_LAST_ERRORS; i++) {
		unsigned k = (fw->last_error_pos + FW_LAST_ERRORS - 1 - i) % FW_LAST_ERRORS;
		cJSON *e;

		if (!fw->last_errors[k].at_ms)
			break;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "ago_s", (double)((now - fw->last_errors[k].at_ms) / 1000));
		cJSON_AddStringToObject(e, "text", fw->last_errors[k].text);
		cJSON_AddItemToArray(a, e);
	}
}

static cJSON *cmd_status(struct fw *fw)
{
	cJSON *r = cJSON_CreateObject(), *o;
	const char *hold = fw_sender_hold_reason(fw);
	struct store_txn *t;
	uint64_t used = 0, map = 0;
	struct store_space sp;
	char broker[300];

	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddStringToObject(r, "version", OUTPOST_VERSION);
	cJSON_AddStringToObject(r, "gateway_id", fw->cfg->gateway_id);
	cJSON_AddNumberToObject(r, "uptime_s", (double)((hal_now_ms() - fw->started_ms) / 1000));
	o = cJSON_AddObjectToObject(r, "mqtt");
	cJSON_AddBoolToObject(o, "connected", fw->mqtt && net_mqtt_connected(fw->mqtt));
	snprintf(broker, sizeof(broker), "%s:%d", fw->cfg->mqtt.host, fw->cfg->mqtt.port);
	cJSON_AddStringToObject(o, "broker", broker);
	cJSON_AddNumberToObject(o, "reconnects", fw->mqtt ? (double)net_mqtt_stats(fw->mqtt)->reconnects : 0);
	cJSON_AddNumberToObject(o, "sessions_new",
				fw->mqtt ? (double)net_mqtt_stats(fw->mqtt)->sessions_new : 0);
	cJSON_AddStringToObject(o, "ingest", fw->stopping ? "stopping" : fw->ingest_hold[0] ? "paused" : "running");
	cJSON_AddStringToObject(o, "ingest_reason", fw->ingest_hold);
	fw_uplink_status(fw, cJSON_AddObjectToObject(r, "uplink"));
	o = cJSON_AddObjectToObject(r, "clock");
	cJSON_AddBoolToObject(o, "valid", hal_clock_valid());
	cJSON_AddStringToObject(o, "reason", hold ? hold : "");
	o = cJSON_AddObjectToObject(r, "store");
	cJSON_AddStringToObject(o, "path", fw->cfg->store.path);
	store_size(fw->store, &used, &map);
	cJSON_AddNumberToObject(o, "used_bytes", (double)used);
	cJSON_AddNumberToObject(o, "map_bytes", (double)map);
	cJSON_AddNumberToObject(o, "commits", (double)store_commits(fw->store));
	cJSON_AddNumberToObject(o, "write_txns", (double)store_write_txns(fw->store));
	cJSON_AddNumberToObject(o, "txns", (double)store_txns(fw->store));
	if (store_space(fw->store, 0, &sp) == ERR_OK) {
		cJSON_AddNumberToObject(o, "max_bytes", (double)sp.max);
		cJSON_AddNumberToObject(o, "room_bytes", (double)sp.room);
		cJSON_AddNumberToObject(o, "disk_free_bytes", (double)sp.disk_free);
	}
	if (store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		fw_outbox_counts(cJSON_AddObjectToObject(r, "outbox"), t);
		store_abort(t);
	}
	fw_sender_status(fw, cJSON_AddArrayToObject(r, "accounts"));
	fw_templates_status(fw, cJSON_AddObjectToObject(r, "templates"));
	status_counters(fw, r);
	status_errors(fw, r);
	fw_router_seq_status(fw, cJSON_AddObjectToObject(r, "sources"));
	fw_creds_vault_status(fw, r);
	fw_remote_status(fw, cJSON_AddObjectToObject(r, "remote"));
	fw_serial_status(fw, cJSON_AddObjectToObject(r, "serial"));
	fw_service_status(fw, cJSON_AddObjectToObject(r, "service"));
	fw_delivery_status(fw, cJSON_AddObjectToObject(r, "delivery"));
	fw_receipts_status(fw, cJSON_AddObjectToObject(r, "receipts"));
	fw_webhook_status(fw, cJSON_AddObjectToObject(r, "webhooks"));
	fw_consent_status(fw, cJSON_AddObjectToObject(r, "consent"));
	fw_quota_status(fw, r);
	fw_escalate_status(fw, cJSON_AddObjectToObject(r, "escalation"));
	return r;
}

/* Totals for a fleet dashboard: since start, and kept in the store for the
 * store's lifetime. */
static cJSON *cmd_stats(struct fw *fw)
{
	static const char *const kept[] = {"reconciled", "resent", "log_dropped"};
	const struct net_mqtt_stats *ms = fw->mqtt ? net_mqtt_stats(fw->mqtt) : NULL;
	cJSON *r = cJSON_CreateObject(), *o;
	struct store_txn *t;
	uint64_t v, used = 0, map = 0;

	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddNumberToObject(r, "uptime_s", (double)((hal_now_ms() - fw->started_ms) / 1000));
	status_counters(fw, r);
	o = cJSON_AddObjectToObject(r, "mqtt");
	cJSON_AddNumberToObject(o, "messages", ms ? (double)ms->messages : 0);
	cJSON_AddNumberToObject(o, "batches", ms ? (double)ms->batches : 0);
	cJSON_AddNumberToObject(o, "largest_batch", ms ? ms->largest_batch : 0);
	cJSON_AddNumberToObject(o, "commit_failures", ms ? (double)ms->commit_failures : 0);
	cJSON_AddNumberToObject(o, "reconnects", ms ? (double)ms->reconnects : 0);
	store_size(fw->store, &used, &map);
	o = cJSON_AddObjectToObject(r, "store");
	cJSON_AddNumberToObject(o, "used_bytes", (double)used);
	cJSON_AddNumberToObject(o, "map_bytes", (double)map);
	o = cJSON_AddObjectToObject(r, "lifetime");
	if (store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
			if (store_stat_get(t, kept[i], &v) != ERR_OK)
				v = 0;
			cJSON_AddNumberToObject(o, kept[i], (double)v);
		}
		fw_outbox_counts(cJSON_AddObjectToObject(r, "outbox"), t);
		store_abort(t);
	}
	return r;
}

char *fw_control_error(const char *text)
{
	cJSON *r = cJSON_CreateObject();
	char *s;

	cJSON_AddBoolToObject(r, "ok", false);
	cJSON_AddStringToObject(r, "error", text);
	s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

/* Every command is audited with its transport, caller and outcome, at info
 * level, so it reaches the log ring. The read-only ones on the local socket
 * are counted instead and summed up in one line a minute at most: a
 * monitoring script polling status every second would otherwise fill the
 * ring with its polls (each is also at debug level, for -v). */
static const char *const quiet[FW_AUDIT_QUIET] = {
	"status", "stats", "test_connection.result", "outbox", "outbox.show", "creds.list", "logs",
	"config.show", "templates.list", "stats.table",
};

void fw_audit_flush(struct fw *fw)
{
	struct fw_audit *a = &fw->audit;
	char line[400];
	size_t n = 0;

	for (unsigned i = 0; i < FW_AUDIT_QUIET; i++)
		if (a->n[i] && n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %u", n ? ", " : "",
					      quiet[i], a->n[i]);
	if (n)
		log_info("audit: socket: read-only commands in the last %llu s: %s (%u refused)",
			 (unsigned long long)((hal_now_ms() - a->since_ms) / 1000), line, a->refused);
	memset(a, 0, sizeof(*a));
	a->since_ms = hal_now_ms();
}

static void audit(struct fw *fw, const struct fw_caller *from, const char *cmd, bool ok,
		  const char *outcome)
{
	struct fw_audit *a = &fw->audit;
	int q = -1;

	for (int i = 0; i < FW_AUDIT_QUIET && q < 0; i++)
		if (strcmp(cmd, quiet[i]) == 0)
			q = i;
	if (q < 0 || strcmp(from->transport, "socket") != 0) {
		log_info("audit: %s %s: %.40s: %s", from->transport, from->who, cmd,
			 outcome[0] ? outcome : "failed");
		return;
	}
	log_debug("audit: %s %s: %.40s: %s", from->transport, from->who, cmd, outcome);
	if (!a->since_ms)
		a->since_ms = hal_now_ms();
	a->n[q]++;
	a->refused += !ok;
	if (hal_now_ms() - a->since_ms >= FW_AUDIT_SUM_MS)
		fw_audit_flush(fw);
}

char *fw_control_run(struct fw *fw, const struct fw_caller *from, const cJSON *req)
{
	cJSON *res = NULL;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	char err[300] = "";
	char *s;

	if (!cJSON_IsObject(req) || !cJSON_IsString(cmd))
		snprintf(err, sizeof(err), "request must be a JSON object with a \"cmd\" string");
	else if (strcmp(cmd->valuestring, "status") == 0)
		res = cmd_status(fw);
	else if (strcmp(cmd->valuestring, "stats") == 0)
		res = cmd_stats(fw);
	else if (strcmp(cmd->valuestring, "stats.table") == 0)
		res = fw_cmd_stats_table(fw, req, err, sizeof(err));
	else if (strcmp(cmd->valuestring, "outbox") == 0 ||
		 strncmp(cmd->valuestring, "outbox.", 7) == 0)
		res = fw_cmd_outbox(fw, from, cmd->valuestring, req, err, sizeof(err));
	else if (strcmp(cmd->valuestring, "logs") == 0)
		res = fw_cmd_logs(fw, from, req, err, sizeof(err));
	else if (strncmp(cmd->valuestring, "test_connection", 15) == 0)
		res = fw_cmd_probe(fw, cmd->valuestring, req, err, sizeof(err));
	else if (strncmp(cmd->valuestring, "config.", 7) == 0)
		res = fw_cmd_config(fw, cmd->valuestring, req, err, sizeof(err));
	else if (strncmp(cmd->valuestring, "creds.", 6) == 0)
		res = fw_cmd_creds(fw, from, cmd->valuestring, req, err, sizeof(err));
	else if (strncmp(cmd->valuestring, "templates.", 10) == 0)
		res = fw_cmd_templates(fw, cmd->valuestring, req, err, sizeof(err));
	else if (strncmp(cmd->valuestring, "consent.", 8) == 0 ||
		 strcmp(cmd->valuestring, "forget") == 0)
		res = fw_cmd_consent(fw, from, cmd->valuestring, req, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "unknown command '%.40s' (known: status, stats, stats.table, outbox, test_connection, "
			 "config.*, creds.*, templates.*, consent.*, forget)", cmd->valuestring);
	audit(fw, from, cJSON_IsString(cmd) ? cmd->valuestring : "?", res != NULL, res ? "ok" : err);
	if (!res)
		return fw_control_error(err[0] ? err : "out of memory");
	s = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	return s;
}

char *fw_control_dispatch(struct fw *fw, const struct fw_caller *from, const char *line)
{
	cJSON *req = cJSON_Parse(line);
	char *reply = fw_control_run(fw, from, req);

	cfg_json_wipe(req); /* it may have carried a secret */
	cJSON_Delete(req);
	return reply;
}
