/*
 * daemon.c - lifecycle: start the parts in order, run the loop, reload on
 * SIGHUP, drain and stop on SIGTERM/SIGINT.
 *
 * Start order follows the data: store first (nothing is accepted without
 * it), then the sender and its HTTP engine, the control socket, and the
 * broker link last, so no event arrives before it can be committed.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/secrets.h"
#include "firmware/consent.h"
#include "firmware/daemon.h"
#include "firmware/delivery.h"
#include "firmware/flood.h"
#include "firmware/escalate.h"
#include "firmware/fw.h"
#include "firmware/quota.h"
#include "firmware/schedule.h"
#include "firmware/ha.h"
#include "firmware/stats.h"
#include "firmware/templates.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/mqtt.h"
#include "store/store.h"

#define STOP_POLL_MS 50
#define STOP_GRACE_MS 2000

void fw_error(struct fw *fw, const char *fmt, ...)
{
	static struct hal_ratelimit rl;
	char *slot = fw->last_errors[fw->last_error_pos].text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(slot, FW_ERROR_TEXT, fmt, ap);
	va_end(ap);
	fw->last_errors[fw->last_error_pos].at_ms = hal_now_ms();
	fw->last_error_pos = (fw->last_error_pos + 1) % FW_LAST_ERRORS;
	if (hal_ratelimit_ok(&rl, 20, 10000))
		log_err("%s", slot);
}

void fw_fatal(struct fw *fw, const char *what, int err)
{
	log_err("store failure while %s: %s; stopping so the supervisor restarts us "
		"(unacknowledged events stay with the broker)", what, hal_strerror(err));
	fw->exit_code = FW_EXIT_FAILURE;
	fw->stopping = true;
	fw_service_stopping(fw, "store failure");
	hal_loop_stop(fw->loop);
}

/* Reads the config and, when it names one that exists, the secrets file to
 * import (*sec, else NULL); prints every problem. */
int fw_load_config(const char *path, struct cfg **cfg, struct cfg_secrets **sec)
{
	struct cfg_errors errs = {0};
	char why[300];
	int rc;

	*sec = NULL;
	rc = cfg_load(path, cfg, &errs);
	if (rc != ERR_OK) {
		for (unsigned i = 0; i < errs.n; i++)
			log_err("%s: %s: %s", path, errs.e[i].path, errs.e[i].msg);
		if (errs.dropped)
			log_err("%s: %u more errors not shown", path, errs.dropped);
		return ERR_CONFIG;
	}
	/* Before the secrets file: its owner may be the user we will become. */
	if (fw_privs_lookup(*cfg, why, sizeof(why)) != ERR_OK) {
		log_err("%s: $.%s: %s", path, strncmp(why, "group", 5) ? "user" : "group", why);
		cfg_free(*cfg);
		*cfg = NULL;
		return ERR_CONFIG;
	}
	if (!(*cfg)->secrets_file || access((*cfg)->secrets_file, F_OK) != 0)
		return ERR_OK; /* imported already, or never given */
	rc = cfg_secrets_load((*cfg)->secrets_file, sec, why, sizeof(why));
	if (rc == ERR_OK)
		return ERR_OK;
	log_err("%s: $.secrets_file: %s", path, why);
	cfg_free(*cfg);
	*cfg = NULL;
	return ERR_CONFIG;
}

static int subscribe_routes(struct fw *fw)
{
	const char *filters[256];
	char webhooks[160];
	unsigned n = 0;

	for (unsigned i = 0; i < fw->cfg->n_routes && n < 256; i++) {
		bool seen = false;
		for (unsigned k = 0; k < n; k++)
			seen |= strcmp(filters[k], fw->cfg->routes[i].topic) == 0;
		if (!seen)
			filters[n++] = fw->cfg->routes[i].topic;
	}
	if (fw_remote_topic(fw) && n < 256)
		filters[n++] = fw_remote_topic(fw);
	if (n < 256 && fw_webhook_filter(fw, webhooks, sizeof(webhooks)))
		filters[n++] = webhooks;
	if (fw_consent_topic(fw) && n < 256)
		filters[n++] = fw_consent_topic(fw);
	if (fw_escalate_topic(fw) && n < 256)
		filters[n++] = fw_escalate_topic(fw);
	return net_mqtt_subscribe(fw->mqtt, filters, n);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

int fw_reload(struct fw *fw, char *why, size_t whylen)
{
	struct cfg *cfg, *old_cfg = fw->cfg;
	struct cfg_secrets *file;
	int err;

	log_info("reloading %s", fw->cfg_path);
	if (fw_load_config(fw->cfg_path, &cfg, &file) != ERR_OK) {
		snprintf(why, whylen, "%s is invalid; keeping the running configuration",
			 fw->cfg_path);
		return ERR_CONFIG;
	}
	if (strcmp(cfg->store.path, fw->cfg->store.path) || strcmp(cfg->mqtt.host, fw->cfg->mqtt.host) ||
	    cfg->mqtt.port != fw->cfg->mqtt.port || strcmp(cfg->gateway_id, fw->cfg->gateway_id) ||
	    strcmp(cfg->vault.key_file, fw->cfg->vault.key_file) ||
	    !same_str(cfg->user, fw->cfg->user) || !same_str(cfg->group, fw->cfg->group))
		log_warn("reload: store, broker, gateway_id, vault key, user and group changes take "
			 "effect after a restart");
	fw->cfg = cfg;
	err = fw_vault_import(fw, file);
	cfg_secrets_free(file);
	if (err != ERR_OK) {
		fw_fatal(fw, "vault import", err);
		cfg_free(old_cfg);
		snprintf(why, whylen, "the vault failed: restarting");
		return err;
	}
	fw_escalate_reconfigure(fw);
	if (fw_sender_reconfigure(fw) != ERR_OK || fw_templates_reconfigure(fw) != ERR_OK ||
	    subscribe_routes(fw) != ERR_OK) {
		fw->cfg = old_cfg;
		fw_escalate_reconfigure(fw);
		cfg_free(cfg);
		if (fw_sender_reconfigure(fw) != ERR_OK || fw_templates_reconfigure(fw) != ERR_OK ||
		    subscribe_routes(fw) != ERR_OK)
			log_err("reload: the running configuration could not be restored either");
		snprintf(why, whylen, "the new configuration could not start its parts (out of "
			 "memory); keeping the running one");
		return ERR_NOMEM;
	}
	err = fw_quota_init(fw); /* before the old config goes: it carries on this run's counts */
	if (err != ERR_OK)
		fw_quota_free(fw); /* it points into the old config */
	fw_ha_reconfigure(fw);
	cfg_free(old_cfg);
	if (err != ERR_OK) {
		fw_fatal(fw, "making the quota table", err);
		snprintf(why, whylen, "out of memory for the quota table: restarting");
		return err;
	}
	fw_inbound_reconfigure(fw);
	fw_schedule_reconfigure(fw);
	log_info("reload: %u routes, %u templates, %u accounts", cfg->n_routes, cfg->n_templates,
		 cfg->n_accounts);
	return ERR_OK;
}

static void reload(struct fw *fw)
{
	char why[300];

	if (fw_reload(fw, why, sizeof(why)) != ERR_OK)
		fw_error(fw, "reload refused: %s", why);
}

static void on_stop_check(struct hal_timer *t)
{
	struct fw *fw = container_of(t, struct fw, stop_check);

	if (fw_sender_idle(fw) || hal_now_ms() >= fw->stop_deadline) {
		hal_loop_stop(fw->loop);
		return;
	}
	hal_timer_set(fw->loop, &fw->stop_check, STOP_POLL_MS);
}

static void begin_stop(struct fw *fw, int signo)
{
	if (fw->stopping)
		return;
	log_info("%s: no new events; waiting for %u requests in flight", strsignal(signo),
		 net_http_inflight(fw->http));
	fw->stopping = true;
	fw_service_stopping(fw, strsignal(signo));
	net_mqtt_pause(fw->mqtt, true);
	fw_sender_stop(fw);
	fw->stop_deadline = hal_now_ms() + fw->cfg->sender.request_timeout_ms + STOP_GRACE_MS;
	hal_timer_set(fw->loop, &fw->stop_check, 0);
}

static void on_signal(struct hal_signal *s, int signo)
{
	struct fw *fw = container_of(s, struct fw, sig);

	if (signo == SIGHUP) {
		fw_service_reloading(fw);
		reload(fw);
		fw_service_reloaded(fw);
	} else {
		begin_stop(fw, signo);
	}
}

static void on_message(void *arg, const char *topic, const void *payload, size_t len)
{
	if (!fw_remote_take(arg, topic, payload, len) && !fw_consent_take(arg, topic, payload, len) &&
	    !fw_webhook_take(arg, topic, payload, len) && !fw_escalate_take(arg, topic, payload, len))
		fw_router_message(arg, topic, payload, len);
}

static int on_batch_end(void *arg, bool keep)
{
	int rc = fw_router_batch_end(arg, keep);

	if (rc == ERR_OK && keep)
		fw_receipts_kick(arg); /* relayed statuses may have queued some */
	return rc;
}

static void on_link(void *arg, bool up)
{
	struct fw *fw = arg;

	if (up)
		net_mqtt_publish(fw->mqtt, fw->status_topic, "online", 6, 1, true);
	fw_receipts_link(fw, up);
	fw_ha_link(fw, up);
}

static int start_mqtt(struct fw *fw)
{
	const struct cfg_secret *sec = fw->cfg->mqtt.credentials ?
		cfg_secrets_find(fw->secrets, fw->cfg->mqtt.credentials) : NULL;
	struct net_mqtt_opts o = {
		.host = fw->cfg->mqtt.host,
		.port = fw->cfg->mqtt.port,
		.client_id = fw->cfg->mqtt.client_id,
		.username = fw->cfg->mqtt.username ? fw->cfg->mqtt.username : sec ? sec->user : NULL,
		.password = sec ? sec->password : NULL,
		.keepalive_s = fw->cfg->mqtt.keepalive_s,
		.will_topic = fw->status_topic,
		.will_payload = "offline",
		.max_batch = 512,
	};
	struct net_mqtt_handler h = {on_message, on_batch_end, on_link, fw};
	int rc = net_mqtt_init(fw->loop, &o, &h, &fw->mqtt);

	fw_receipts_attach(fw);
	return rc == ERR_OK ? subscribe_routes(fw) : rc;
}

/* Writes that can wait ride along with the commits made anyway (store.h). */
static void ride_before(struct store_txn *t, void *arg)
{
	fw_delivery_ride(arg, t);
	fw_receipts_ride(arg, t);
	fw_flood_ride(arg, t);
	if (t == ((struct fw *)arg)->router.txn) /* after what may make records due */
		fw_sender_ride(arg, t);
	fw_stats_ride(arg, t); /* after delivery: with the statuses it applied */
	fw_logs_ride(arg, t); /* last: with what the others logged */
}

int fw_ride_alone(struct fw *fw, void (*ride)(struct fw *fw, struct store_txn *t),
		  const unsigned *riding)
{
	struct store_txn *t;
	int rc = store_begin(fw->store, 0, &t);
	bool rode = false;

	if (rc == ERR_OK) {
		ride(fw, t); /* the commit below runs the hook: it does not ride twice */
		rode = *riding != 0;
		rc = store_commit(t);
	}
	return rc == ERR_OK && !rode ? ERR_FULL : rc;
}

static void ride_after(int err, void *arg)
{
	fw_delivery_rode(arg, err);
	fw_receipts_rode(arg, err);
	fw_stats_rode(arg, err);
	fw_logs_rode(arg, err);
	fw_sender_rode(arg, err); /* last: its requests go once all is settled */
}

static int start(struct fw *fw, struct cfg_secrets *file)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, 0};
	struct net_http_opts ho = {
		/* The sender fills its pool under load; the rest is for the
		 * control plane (template syncs, connection tests), which
		 * would otherwise wait for a lull that may not come; and the
		 * status polls' own. */
		.max_concurrent = fw->cfg->sender.max_inflight + FW_HTTP_SPARE + FW_POLL_SLOTS,
		.connect_timeout_ms = fw->cfg->sender.connect_timeout_ms,
		.total_timeout_ms = fw->cfg->sender.request_timeout_ms,
		.low_speed_time_s = fw->cfg->sender.low_speed_time_s,
		.max_response = 65536,
	};
	int rc;

	snprintf(fw->status_topic, sizeof(fw->status_topic), "outpost/%s/status", fw->cfg->gateway_id);
	if ((rc = fw_logs_init(fw)) != ERR_OK)
		return rc;
	if ((rc = store_open(fw->cfg->store.path, fw->cfg->store.max_size_mb, &fw->store)) != ERR_OK)
		return rc;
	store_set_commit_hook(fw->store, &(struct store_commit_hook){ride_before, ride_after, fw});
	if ((rc = fw_stats_init(fw)) != ERR_OK)
		return rc;
	if ((rc = fw_vault_open(fw, file)) != ERR_OK)
		return rc;
	if ((rc = hal_loop_init(&fw->loop)) != ERR_OK || (rc = fw_service_init(fw)) != ERR_OK)
		return rc;
	fw->sig.cb = on_signal;
	fw->stop_check.cb = on_stop_check;
	if ((rc = hal_signal_open(fw->loop, &fw->sig, sigs)) != ERR_OK)
		return rc;
	fw_schedule_reconfigure(fw); /* TZ: before libcurl's resolver threads */
	if ((rc = net_http_init(fw->loop, &ho, &fw->http)) != ERR_OK)
		return rc;
	if ((rc = fw_receipts_init(fw)) != ERR_OK || (rc = fw_quota_init(fw)) != ERR_OK)
		return rc;
	if ((rc = fw_sender_init(fw)) != ERR_OK || (rc = fw_sender_recover(fw)) != ERR_OK ||
	    (rc = fw_templates_init(fw)) != ERR_OK || (rc = fw_inbound_init(fw)) != ERR_OK)
		return rc;
	if ((rc = fw_delivery_init(fw)) != ERR_OK || (rc = fw_escalate_init(fw)) != ERR_OK)
		return rc;
	if ((rc = fw_control_init(fw)) != ERR_OK || (rc = fw_serial_init(fw)) != ERR_OK ||
	    (rc = fw_remote_init(fw)) != ERR_OK)
		return rc;
	/* Root is needed no further: the broker and the provider are talked to
	 * only after this (the HTTP engine sends nothing before the loop runs). */
	if ((rc = fw_privs_drop(fw)) != ERR_OK) {
		fw->exit_code = FW_EXIT_PRIV;
		return rc;
	}
	fw_upkeep_start(fw);
	fw_logs_start(fw);
	fw_stats_start(fw);
	if ((rc = fw_ha_init(fw)) != ERR_OK)
		return rc;
	return start_mqtt(fw);
}

static void finish(struct fw *fw)
{
	fw_audit_flush(fw); /* the read-only commands counted since the last summary */
	fw_receipts_free(fw);
	net_mqtt_free(fw->mqtt, "offline");
	fw->mqtt = NULL;
	fw_control_free(fw);
	fw_remote_free(fw);
	fw_config_staging_free(fw);
	fw_serial_free(fw);
	/* Transfers still out past the grace time end here; their records stay
	 * SENDING only if the commit below fails, and are then ambiguous at the
	 * next start. */
	net_http_free(fw->http);
	fw->http = NULL;
	fw_probes_free(fw);
	fw_templates_free(fw);
	fw_delivery_free(fw);
	fw_escalate_free(fw);
	fw_inbound_free(fw);
	if (fw->exit_code == 0)
		fw_sender_drain(fw);
	fw_sender_free(fw);
	fw_quota_free(fw);
	fw_ha_free(fw);
	fw_stats_free(fw); /* before the logs: they ride with what it writes */
	fw_logs_free(fw);
	hal_timer_cancel(fw->loop, &fw->upkeep);
	hal_signal_close(fw->loop, &fw->sig);
	fw_service_free(fw);
	hal_loop_free(fw->loop);
	fw_vault_free(fw);
	store_close(fw->store);
	cfg_secrets_free(fw->secrets);
	cfg_free(fw->cfg);
}

int fw_daemon_run(const char *cfg_path)
{
	struct fw fw = {.cfg_path = cfg_path, .started_ms = hal_now_ms()};
	struct cfg_secrets *file;
	int rc;

	srandom((unsigned)(hal_now_ms() ^ (uint64_t)hal_wall_ms()));
	if (fw_load_config(cfg_path, &fw.cfg, &file) != ERR_OK)
		return FW_EXIT_CONFIG;
	rc = start(&fw, file);
	cfg_secrets_free(file);
	if (rc == ERR_OK) {
		log_info("outpostd %s running: gateway %s, store %s, %u routes", OUTPOST_VERSION,
			 fw.cfg->gateway_id, fw.cfg->store.path, fw.cfg->n_routes);
		fw_service_ready(&fw);
		if (hal_loop_run(fw.loop) != ERR_OK)
			fw.exit_code = FW_EXIT_FAILURE;
	} else {
		log_err("start-up failed: %s", hal_strerror(rc));
		if (!fw.exit_code)
			fw.exit_code = FW_EXIT_FAILURE;
	}
	finish(&fw);
	log_info("outpostd stopped (exit %d)", fw.exit_code);
	return fw.exit_code;
}
