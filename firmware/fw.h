/*
 * fw.h - the daemon's parts and how they are wired. Only firmware/ sees this.
 *
 * struct fw owns everything: the loop, the configuration, the store, the
 * broker link, the HTTP engine, the router, the sender and the control
 * socket. Each part keeps a back pointer to fw and reaches its neighbours
 * through it; none of them owns another.
 */
#ifndef FW_FW_H
#define FW_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/walk.h"
#include "hal/log.h"
#include "hal/loop.h"
#include "hal/signal.h"
#include "store/flood.h"

struct cfg;
struct cfg_secrets;
struct store;
struct store_txn;
struct net_mqtt;
struct net_http;
struct fw_sender;
struct fw_control;
struct fw_logs;
struct fw_serial;

#define FW_LAST_ERRORS 16
#define FW_ERROR_TEXT 200

/* Counters for status; every outcome of an event is counted somewhere. */
struct fw_counters {
	uint64_t events, acked, rejected, duplicates, queued;
	uint64_t sent, failed, expired, retries, ambiguous;
	uint64_t reconciled, resent; /* ambiguous attempts found at the provider / not */
	uint64_t commit_failures, pruned;
	uint64_t failovers, failbacks; /* attempts sent to a fallback account; breakers closed again */
	uint64_t inbound_foreign; /* polled inbound messages to another number than the account's */
	uint64_t quiet_held; /* records that came due in their route's quiet hours and waited */
	uint64_t coalesced, capped; /* events folded into a digest; events past max_per_hour */
};

struct fw_router {
	struct store_txn *txn; /* the open batch, NULL between batches */
	unsigned batch_events;
	int batch_err;         /* first store error of the batch */
	uint64_t event_seq;    /* first record of the event being routed */
	/* Events whose publisher seq could not be tracked (bad "source", name
	 * too long, too many sources); since start. */
	uint64_t seq_untracked;
	struct hal_ratelimit seq_gap_rl, seq_note_rl;
};

/* sender/link.c: the way to the providers, from every transfer's end. */
struct fw_uplink {
	uint64_t ok_ms, fail_ms; /* monotonic; 0 = never */
	char fail[160];
};

/* control/dispatch.c: read-only socket commands, counted for the audit. */
#define FW_AUDIT_QUIET 10
#define FW_AUDIT_SUM_MS 60000
struct fw_audit {
	uint64_t since_ms;
	unsigned n[FW_AUDIT_QUIET], refused;
};

struct fw {
	struct hal_loop *loop;
	struct hal_signal sig;
	const char *cfg_path;
	struct cfg *cfg;
	struct cfg_secrets *secrets;
	struct store *store;
	struct net_mqtt *mqtt;
	struct net_http *http;
	struct fw_router router;
	struct fw_sender *sender;
	struct fw_delivery *delivery; /* delivery.c: status polling */
	struct fw_receipts *receipts; /* receipts.c: receipts to publish */
	struct fw_control *control;
	struct fw_vault *vault;
	struct fw_remote *remote;
	struct fw_staging *staging; /* a config push in progress (control/config.c) */
	struct fw_probes *probes;   /* connection tests (control/probe.c) */
	struct fw_templates *templates; /* approval sync and gate (templates.h) */
	struct fw_audit audit;
	struct fw_uplink uplink;
	struct fw_logs *logs;
	struct fw_stats *stats; /* stats.c: counts per route and day (stats.h) */
	struct fw_ha *ha;       /* ha.c: stats on MQTT, Home Assistant discovery */
	struct fw_inbound *inbound; /* consent, the 24 h window, inbound (consent.h) */
	struct fw_escalate *escalate; /* escalation chains (escalate.h) */
	struct fw_serial *serial; /* NULL without control.serial.device */
	struct fw_service *service; /* service.c: the service manager's notify socket */
	struct fw_quota *quota;   /* quota.c: what accounts with a quota used */
	struct {
		struct store_flood_cursor cursor; /* flood.c: the prune walk */
		uint64_t next_prune_ms;
	} flood;
	struct fw_counters n;
	struct fw_walk_n walks; /* list walks (inbound, templates, reconciliation) stopped early */
	struct fw_webhook_counts {  /* webhooks.c, since start */
		uint64_t accepted, rejected, statuses, inbound;
		char last_reject[FW_ERROR_TEXT];
	} webhooks;
	uint64_t started_ms;
	bool stopping;
	/* Why ingest is paused ("" = running): the store is full. */
	char ingest_hold[FW_ERROR_TEXT];
	int exit_code;
	char status_topic[160];
	struct hal_timer stop_check, upkeep;
	unsigned upkeep_ticks;
	bool startup_released; /* fw_upkeep_startup_over ran */
	uint64_t prune_idle_ms;  /* monotonic time of a prune pass that found nothing */
	uint64_t reader_checked; /* store_commits() at the last reader check */
	uint64_t ingest_reserve; /* bytes of room an ingest batch needs (upkeep.c) */
	uint64_t stop_deadline;
	struct {
		uint64_t at_ms;
		char text[FW_ERROR_TEXT];
	} last_errors[FW_LAST_ERRORS];
	unsigned last_error_pos;
};

/* daemon.c: reads fw->cfg_path again and applies it (SIGHUP, config push).
 * ERR_OK; else the running configuration is kept and why says so. */
int fw_reload(struct fw *fw, char *why, size_t whylen);

/* Records an error for `outpostctl status` and logs it (rate-limited). */
void fw_error(struct fw *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A store failure that leaves the store unusable: log and stop with status 1
 * so the supervisor restarts us; nothing unacknowledged is lost. */
void fw_fatal(struct fw *fw, const char *what, int err);

/* router.c: MQTT events into outbox records, committed per batch. */
void fw_router_message(struct fw *fw, const char *topic, const void *payload, size_t len);
int fw_router_batch_end(struct fw *fw, bool keep);
/* The batch's write txn, begun if need be, for other messages of the batch
 * (consent, relayed webhooks); NULL if it cannot be had (the batch's
 * PUBACKs are then withheld). note() keeps a write's error as the batch's. */
struct store_txn *fw_router_txn(struct fw *fw);
void fw_router_note(struct fw *fw, int rc);
/* Publisher sequence numbers per source, for status: totals, recent gaps. */
struct cJSON;
void fw_router_seq_status(struct fw *fw, struct cJSON *o);

/* inbound.c: an inbound message to account's number, from a poll or a
 * relayed webhook: opens/extends the 24 h window, applies STOP/START
 * keywords, is taken once per id, and is published on
 * outpost/<gateway_id>/inbound. May run inside an MQTT batch (it writes in
 * the batch's txn if one is open, else in its own): call it with no other
 * write txn open. */
struct net_inbound;
void fw_inbound(struct fw *fw, const char *account, const struct net_inbound *in);

/* sender/ (its files and their shared parts: firmware/sender/sender.h) */
int fw_sender_init(struct fw *fw);
void fw_sender_free(struct fw *fw);
int fw_sender_reconfigure(struct fw *fw);
void fw_sender_kick(struct fw *fw);
void fw_sender_stop(struct fw *fw);      /* take nothing new */
void fw_sender_drain(struct fw *fw);     /* commit completions now (at exit) */
int fw_sender_recover(struct fw *fw);    /* SENDING records of a previous run */
bool fw_sender_idle(const struct fw *fw); /* nothing in flight or pending commit */
const char *fw_sender_hold_reason(const struct fw *fw);
/* Flash wear: from the store's commit hook, in the ingest commit only.
 * Records the sender would take at once are marked SENDING in it, as the
 * outcome commit picks ahead (sender/turn.c); rode submits them once that
 * commit is known, or gives them back. */
void fw_sender_ride(struct fw *fw, struct store_txn *t);
void fw_sender_rode(struct fw *fw, int err);
/* An account as the sender uses it, for a connection test; valid until the
 * next reconfigure. false if there is no such account or it has no
 * credentials. */
struct fw_account_view {
	const struct net_provider *drv;
	const struct net_send_msg *msg;
	const char *ca_file;
};
bool fw_sender_account(struct fw *fw, const char *name, struct fw_account_view *v);
/* A rate token for a status poll of that account; sends come first. */
bool fw_sender_poll_token(struct fw *fw, const char *account);
struct cJSON;
void fw_sender_status(const struct fw *fw, struct cJSON *accounts);
struct net_http_result;
void fw_uplink_note(struct fw *fw, const struct net_http_result *res); /* every transfer's end */
void fw_uplink_status(const struct fw *fw, struct cJSON *o);

/* upkeep.c: periodic store housekeeping, and the store-full pause */
void fw_upkeep_start(struct fw *fw);
/* Start-up is over (READY sent, every account's first template sync
 * ended): its code pages are let go now, not at upkeep's 5 s (once). */
void fw_upkeep_startup_over(struct fw *fw);
/* Room for an ingest batch (growing the map if it can); if there is none,
 * pauses ingest until upkeep finds room again. ERR_OK or ERR_FULL. */
int fw_ingest_room(struct fw *fw);

/* vault.c: credentials sealed in the store. open: finds or makes the device
 * key, imports `file` (the config's secrets file, may be NULL) and fills
 * fw->secrets. A sealed vault (wrong or missing key) is not an error: its
 * reason is in fw_vault_sealed() and the accounts pause. */
struct cfg_secrets;
int fw_vault_open(struct fw *fw, struct cfg_secrets *file);
int fw_vault_import(struct fw *fw, struct cfg_secrets *file); /* on reload */
void fw_vault_free(struct fw *fw);
const char *fw_vault_sealed(const struct fw *fw); /* NULL when open */
/* Checked (as a secrets file entry), sealed, applied to the accounts. */
int fw_vault_set(struct fw *fw, const char *name, const char *entry_json, char *why,
		 size_t whylen);
int fw_vault_delete(struct fw *fw, const char *name, char *why, size_t whylen);
int fw_vault_rotate(struct fw *fw, unsigned *entries, char *why, size_t whylen);
/* logs.c: log records into the store's log ring. init installs the log
 * sink (records wait in memory); start writes them once a second; free
 * writes what is left (after a clean run) and removes the sink. */
int fw_logs_init(struct fw *fw);
void fw_logs_start(struct fw *fw);
void fw_logs_free(struct fw *fw);
/* Writes the records waiting in memory now. ERR_OK, ERR_FULL (they wait). */
int fw_logs_flush(struct fw *fw);
/* Records dropped in memory and not yet counted in the store. */
uint64_t fw_logs_pending_dropped(const struct fw *fw);
/* What waits in one part (its ride function, which sets *riding when it
 * wrote into t) in a commit of its own, the other parts riding along:
 * ERR_OK, ERR_FULL if it could not go in (try again later), or the
 * commit's error. */
int fw_ride_alone(struct fw *fw, void (*ride)(struct fw *fw, struct store_txn *t),
		  const unsigned *riding);
/* The records that wait ride along with commit t (store.h's commit hook);
 * rode gets its result. */
void fw_logs_ride(struct fw *fw, struct store_txn *t);
void fw_logs_rode(struct fw *fw, int err);

/* control/dispatch.c: the commands, whatever the transport. */
struct fw_caller {
	const char *transport; /* "socket", "serial", "mqtt" */
	char who[64];          /* "uid 0 pid 42", a device path, an MQTT client */
	/* Authenticated as an operator: may see what is masked for everybody
	 * else (full phone numbers, template variables). The socket grants it
	 * to root and the daemon's own user. */
	bool operator;
};
/* One request line in, one reply line out (malloc'd, no "\n"; NULL only
 * when out of memory). */
char *fw_control_dispatch(struct fw *fw, const struct fw_caller *from, const char *line);
/* The same for a request already parsed (NULL: not JSON); req is the
 * caller's to wipe and free. */
struct cJSON;
char *fw_control_run(struct fw *fw, const struct fw_caller *from, const struct cJSON *req);
/* Logs the read-only socket commands counted since the last summary. */
void fw_audit_flush(struct fw *fw);
/* {"ok":false,"error":text}, malloc'd. */
char *fw_control_error(const char *text);
/* control/logs.c: the "logs" command; NULL with err set on a refusal. */
struct cJSON *fw_cmd_logs(struct fw *fw, const struct fw_caller *from, const struct cJSON *req,
			  char *err, size_t errlen);

/* control/outbox.c: outbox (list with filters), outbox.show / .retry / .purge */
struct store_txn;
struct cJSON *fw_cmd_outbox(struct fw *fw, const struct fw_caller *from, const char *cmd,
			    const struct cJSON *req, char *err, size_t errlen);
/* control/dispatch.c: {state: count} of the outbox, for status and lists. */
void fw_outbox_counts(struct cJSON *o, struct store_txn *t);

/* control/creds.c: creds.list / .set / .delete / .rotate_key */
struct cJSON *fw_cmd_creds(struct fw *fw, const struct fw_caller *from, const char *cmd,
			   const struct cJSON *req, char *err, size_t errlen);
void fw_creds_vault_status(const struct fw *fw, struct cJSON *r);

/* control/config.c: config.show, config.push.begin / .chunk / .commit */
struct cJSON *fw_cmd_config(struct fw *fw, const char *cmd, const struct cJSON *req, char *err,
			    size_t errlen);
void fw_config_staging_free(struct fw *fw);

/* control/probe.c: test_connection, test_connection.result */
struct cJSON *fw_cmd_probe(struct fw *fw, const char *cmd, const struct cJSON *req, char *err,
			   size_t errlen);
void fw_probes_free(struct fw *fw); /* after net_http_free: in-flight tests end there */

/* control/mqtt.c: signed commands on outpost/<gateway_id>/cmd (if configured) */
int fw_remote_init(struct fw *fw);
void fw_remote_free(struct fw *fw);
const char *fw_remote_topic(const struct fw *fw); /* NULL when off */
/* true if the message was a command (taken, whatever its fate). */
bool fw_remote_take(struct fw *fw, const char *topic, const void *payload, size_t len);
void fw_remote_status(const struct fw *fw, struct cJSON *o);

/* control/socket.c: the unix socket transport */
int fw_control_init(struct fw *fw);
void fw_control_free(struct fw *fw);

/* service.c: readiness, status, reload/stop notices and watchdog pings to
 * the service manager ($NOTIFY_SOCKET; a no-op without one). init fails
 * only for want of memory; ready starts the pings and the status line. */
int fw_service_init(struct fw *fw);
void fw_service_ready(struct fw *fw);
void fw_service_reloading(struct fw *fw);
void fw_service_reloaded(struct fw *fw);
void fw_service_stopping(struct fw *fw, const char *why);
void fw_service_status(const struct fw *fw, struct cJSON *o);
void fw_service_free(struct fw *fw);

/* privdrop.c: run as the config's "user". lookup: resolves it (and
 * "group") while loading a config, so that a name that does not exist is
 * a config error and files owned by that user count as ours while we are
 * root; ERR_NOTFOUND or ERR_IO with why. drop: gives the user what was
 * made as root and becomes it for good; warns when root has no user to
 * become; ERR_PERM (stop: exit FW_EXIT_PRIV) if that fails. */
int fw_privs_lookup(const struct cfg *cfg, char *why, size_t whylen);
int fw_privs_drop(struct fw *fw);
/* What each part made as root, given to the user before the drop. */
struct hal_priv_id;
int fw_vault_give(struct fw *fw, const struct hal_priv_id *id, char *why, size_t whylen);
int fw_control_give(struct fw *fw, const struct hal_priv_id *id, char *why, size_t whylen);

/* control/serial.c: the serial console transport (control.serial). Init fails
 * only for want of memory: a missing device is retried every second. */
int fw_serial_init(struct fw *fw);
void fw_serial_free(struct fw *fw);
/* Line state and counters into o, for status. */
void fw_serial_status(const struct fw *fw, struct cJSON *o);

#endif
