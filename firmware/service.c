/*
 * service.c - outpostd and its service manager (systemd Type=notify; under
 * procd or a shell nobody listens and all of this is a no-op).
 *
 * What the manager hears, in order (hal/notify.h has the protocol):
 *   READY=1     once the store is open and the control socket listens:
 *               the broker and the provider may be far away, and waiting
 *               for them would only make the manager give up on a gateway
 *               whose uplink is down, which is exactly when it must run;
 *   STATUS=...  a one-line summary, sent when it changes and at most once
 *               per STATUS_TICK_MS (a busy outbox changes it constantly);
 *   RELOADING=1 with MONOTONIC_USEC (systemd 253+ matches it to its reload
 *               request; 252 ignores it), then READY=1 after a SIGHUP;
 *   STOPPING=1  at SIGTERM, and when a store failure ends the run;
 *   WATCHDOG=1  from the loop's own timer (hal/notify.h says why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/notify.h"
#include "net/mqtt.h"
#include "store/outbox.h"
#include "store/store.h"

#include <cjson/cJSON.h>

#define STATUS_TICK_MS 1000
#define STATUS_MAX 240

struct fw_service {
	struct fw *fw;
	struct hal_notify n;
	struct hal_timer tick;
	char line[STATUS_MAX]; /* the last STATUS sent */
	uint64_t c[STORE__STATES]; /* outbox counts as of store_commits() == at */
	uint64_t at;
	bool counted;
};

/* "running; broker up; uplink down; 12 queued; last error: ...". Only
 * things a person acts on, and nothing that changes by itself (no ages),
 * so that a quiet gateway sends nothing. */
static void status_line(struct fw_service *s, char *buf, size_t len)
{
	struct fw *fw = s->fw;
	const struct fw_uplink *u = &fw->uplink;
	const uint64_t *c = s->c;
	struct store_txn *t;
	const char *err = fw->last_errors[(fw->last_error_pos + FW_LAST_ERRORS - 1) %
					  FW_LAST_ERRORS].text;
	int n;

	/* Read again only after a commit: a read txn takes a reader slot in
	 * lmdb's lock file, a page the kernel writes back to flash. */
	if (fw->store && (!s->counted || store_commits(fw->store) != s->at) &&
	    store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		store_outbox_counts(t, s->c);
		store_abort(t);
		s->at = store_commits(fw->store);
		s->counted = true;
	}
	n = snprintf(buf, len, "%s; broker %s; uplink %s; %llu queued%s%.120s",
		     fw->stopping ? "stopping" : fw->ingest_hold[0] ? "ingest paused (store full)"
								: "running",
		     fw->mqtt && net_mqtt_connected(fw->mqtt) ? "up" : "down",
		     !u->ok_ms && !u->fail_ms ? "unknown" : u->fail_ms > u->ok_ms ? "down" : "up",
		     (unsigned long long)(c[STORE_QUEUED] + c[STORE_SENDING] + c[STORE_RETRY]),
		     *err ? "; last error: " : "", err);
	/* One line: a newline would start another KEY=VALUE. */
	for (char *p = buf; n > 0 && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static void send_status(struct fw_service *s, const char *prefix, bool always)
{
	char line[STATUS_MAX];

	status_line(s, line, sizeof(line));
	if (!always && strcmp(line, s->line) == 0)
		return;
	if (hal_notify_send(&s->n, "%sSTATUS=%s", prefix, line))
		memcpy(s->line, line, sizeof(line));
}

static void on_tick(struct hal_timer *t)
{
	struct fw_service *s = container_of(t, struct fw_service, tick);

	send_status(s, "", false);
	hal_timer_set(s->fw->loop, &s->tick, STATUS_TICK_MS);
}

int fw_service_init(struct fw *fw)
{
	struct fw_service *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return ERR_NOMEM;
	s->fw = fw;
	s->tick.cb = on_tick;
	fw->service = s;
	err = hal_notify_open(&s->n);
	if (err != ERR_OK) /* the daemon runs without its manager's ear, not at all */
		log_warn("notify: cannot use NOTIFY_SOCKET=%s: %s", getenv("NOTIFY_SOCKET"),
			 hal_strerror(err));
	if (s->n.fd >= 0)
		log_info("notify: telling the service manager at %s%s", getenv("NOTIFY_SOCKET"),
			 s->n.watchdog_ms ? ", with watchdog pings" : "");
	return ERR_OK;
}

void fw_service_ready(struct fw *fw)
{
	struct fw_service *s = fw->service;

	if (s->n.fd < 0)
		return;
	send_status(s, "READY=1\n", true);
	hal_notify_watchdog_start(&s->n, fw->loop);
	if (s->n.watchdog_ms)
		log_info("notify: watchdog ping every %llu ms",
			 (unsigned long long)s->n.watchdog_ms);
	hal_timer_set(fw->loop, &s->tick, STATUS_TICK_MS);
}

void fw_service_reloading(struct fw *fw)
{
	if (fw->service)
		hal_notify_send(&fw->service->n, "RELOADING=1\nMONOTONIC_USEC=%llu",
			(unsigned long long)hal_now_us());
}

void fw_service_reloaded(struct fw *fw)
{
	struct fw_service *s = fw->service;

	if (s && s->n.fd >= 0)
		send_status(s, "READY=1\n", true);
}

void fw_service_stopping(struct fw *fw, const char *why)
{
	if (fw->service)
		hal_notify_send(&fw->service->n, "STOPPING=1\nSTATUS=stopping: %.200s", why);
}

void fw_service_status(const struct fw *fw, cJSON *o)
{
	const struct hal_notify *n = fw->service ? &fw->service->n : NULL;

	cJSON_AddStringToObject(o, "user", fw->cfg->user ? fw->cfg->user : "");
	if (!n)
		return;
	cJSON_AddBoolToObject(o, "notify", n->fd >= 0);
	cJSON_AddNumberToObject(o, "watchdog_ms", (double)n->watchdog_ms);
	cJSON_AddNumberToObject(o, "sent", (double)n->sent);
	cJSON_AddNumberToObject(o, "failed", (double)n->failed);
	cJSON_AddNumberToObject(o, "pings", (double)n->pings);
}

void fw_service_free(struct fw *fw)
{
	struct fw_service *s = fw->service;

	if (!s)
		return;
	if (fw->loop)
		hal_timer_cancel(fw->loop, &s->tick);
	hal_notify_close(&s->n);
	free(s);
	fw->service = NULL;
}
