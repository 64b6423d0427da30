/*
 * ha.c - today's statistics on outpost/<gateway_id>/stats, and Home
 * Assistant's MQTT discovery (ha.h; docs/ALERTING.md "Home Assistant").
 *
 * Discovery, as Home Assistant documents it: one retained JSON config per
 * entity on <prefix>/<component>/<node_id>/<object_id>/config, node and
 * object ids of [a-zA-Z0-9_-]; an empty retained payload on that topic
 * removes the entity. Our node id is outpost_<gateway_id>. Every entity
 * reads one retained JSON state (outpost/<gateway_id>/ha/state) through a
 * value_template, and is available while outpostd's status topic says
 * "online" - the payload outpostd publishes there when it connects, and
 * the broker publishes "offline" for it as its last will (daemon.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "firmware/ha.h"
#include "firmware/stats.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/parse.h"
#include "net/mqtt.h"
#include "store/outbox.h"
#include "store/store.h"

#define HA_ID_MAX 64
/* A test knob: an escalation of this id is announced at the first broker
 * link and removed at the next reload, so that tests can see the
 * escalation sensors come and go before the escalation feature drives
 * fw_ha_escalation (docs/ALERTING.md). */
#define HA_TEST_ESC_ENV "OUTPOST_TEST_HA_ESCALATION"
/* A test knob: the tick in ms instead of FW_STATS_PUBLISH_MS (100..60000),
 * so a test sees a change published in seconds. */
#define HA_TEST_TICK_ENV "OUTPOST_TEST_PUBLISH_MS"
#define TOPIC_MAX 512

/* The daemon's status payloads (daemon.c: the will and on_link). */
#define HA_ONLINE "online"
#define HA_OFFLINE "offline"

struct entity {
	const char *object, *component, *name, *value, *unit, *state_class, *device_class;
	bool on_status; /* reads the status topic itself (online/offline) */
};

static const struct entity entities[] = {
	{"uplink", "binary_sensor", "Uplink", "{{ value_json.uplink }}", NULL, NULL, "connectivity",
	 false},
	{"broker_link", "binary_sensor", "Broker link", NULL, NULL, NULL, "connectivity", true},
	{"queued", "sensor", "Queued", "{{ value_json.queued }}", "messages", "measurement", NULL, false},
	{"sent_today", "sensor", "Sent today", "{{ value_json.sent_today }}", "messages",
	 "total_increasing", NULL, false},
	{"failed_today", "sensor", "Failed today", "{{ value_json.failed_today }}", "messages",
	 "total_increasing", NULL, false},
	/* No unit: accounts may bill in different currencies. "total", not
	 * total_increasing: a cost may be corrected down. */
	{"cost_today", "sensor", "Cost today", "{{ value_json.cost_today }}", NULL, "total", NULL, false},
	{"last_error", "sensor", "Last error", "{{ value_json.last_error }}", NULL, NULL, NULL, false},
};
#define N_ENTITIES (sizeof(entities) / sizeof(entities[0]))

struct fw_ha {
	struct fw *fw;
	struct hal_timer tick;
	char gw[80];              /* the gateway id the topics were made for */
	char announced[80];       /* the prefix the configs went out under, "" = none */
	char *last_stats, *last_state; /* what was published last, NULL = nothing */
	/* What those were made from: with the same commits, day, uplink and
	 * last error they would be the same, and making them reads the store
	 * (a read txn dirties a page of lmdb's lock file, written to flash). */
	uint64_t made_commits, made_day, made_error;
	bool made, made_uplink;
	char esc[HA_ESCALATIONS_MAX][HA_ID_MAX + 1];
	unsigned n_esc;
	uint64_t tick_ms;
	bool test_esc; /* HA_TEST_ESC_ENV was announced */
};

static bool publish(struct fw *fw, const char *topic, const char *payload)
{
	if (!fw->mqtt || !net_mqtt_connected(fw->mqtt))
		return false;
	return net_mqtt_publish(fw->mqtt, topic, payload, strlen(payload), 1, true) == ERR_OK;
}

/* Publishes payload (owned, freed) on topic unless it equals *last; false
 * if it was not had or not published. */
static bool publish_changed(struct fw *fw, const char *topic, char *payload, char **last)
{
	if (!payload)
		return false;
	if (*last && !strcmp(*last, payload)) {
		free(payload);
		return true;
	}
	if (!publish(fw, topic, payload)) {
		free(payload);
		return false;
	}
	free(*last);
	*last = payload;
	return true;
}

static void state_topic(const struct fw_ha *ha, char *buf, size_t len)
{
	snprintf(buf, len, "outpost/%s/ha/state", ha->gw);
}

static void add_device(const struct fw_ha *ha, cJSON *c)
{
	cJSON *d = cJSON_AddObjectToObject(c, "device"), *ids;
	char id[sizeof(ha->gw) + 16], name[sizeof(ha->gw) + 16];

	snprintf(id, sizeof(id), "outpost_%s", ha->gw);
	snprintf(name, sizeof(name), "outpost %s", ha->gw);
	ids = cJSON_AddArrayToObject(d, "identifiers");
	cJSON_AddItemToArray(ids, cJSON_CreateString(id));
	cJSON_AddStringToObject(d, "name", name);
	cJSON_AddStringToObject(d, "manufacturer", "outpost");
	cJSON_AddStringToObject(d, "model", "outpostd");
	cJSON_AddStringToObject(d, "sw_version", OUTPOST_VERSION);
}

/* The config of one entity (malloc'd JSON text). */
static char *config_json(const struct fw_ha *ha, const struct entity *e, const char *object,
			 const char *name, const char *st_topic)
{
	cJSON *c = cJSON_CreateObject();
	char uid[sizeof(ha->gw) + HA_ID_MAX + 32], st[TOPIC_MAX];
	char *s;

	snprintf(uid, sizeof(uid), "outpost_%s_%s", ha->gw, object);
	if (st_topic)
		snprintf(st, sizeof(st), "%s", st_topic);
	else
		state_topic(ha, st, sizeof(st));
	cJSON_AddStringToObject(c, "name", name);
	cJSON_AddStringToObject(c, "unique_id", uid);
	cJSON_AddStringToObject(c, "state_topic", e && e->on_status ? ha->fw->status_topic : st);
	if (e && e->value)
		cJSON_AddStringToObject(c, "value_template", e->value);
	if (e && e->on_status) {
		cJSON_AddStringToObject(c, "payload_on", HA_ONLINE);
		cJSON_AddStringToObject(c, "payload_off", HA_OFFLINE);
	} else if (!e || !strcmp(e->component, "binary_sensor")) {
		cJSON_AddStringToObject(c, "payload_on", "ON");
		cJSON_AddStringToObject(c, "payload_off", "OFF");
	}
	if (e && e->unit)
		cJSON_AddStringToObject(c, "unit_of_measurement", e->unit);
	if (e && e->state_class)
		cJSON_AddStringToObject(c, "state_class", e->state_class);
	if (e && e->device_class)
		cJSON_AddStringToObject(c, "device_class", e->device_class);
	if (!e)
		cJSON_AddStringToObject(c, "device_class", "problem");
	cJSON_AddStringToObject(c, "availability_topic", ha->fw->status_topic);
	cJSON_AddStringToObject(c, "payload_available", HA_ONLINE);
	cJSON_AddStringToObject(c, "payload_not_available", HA_OFFLINE);
	add_device(ha, c);
	s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

static void config_topic(const struct fw_ha *ha, const char *prefix, const char *component,
			 const char *object, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/outpost_%s/%s/config", prefix, component, ha->gw, object);
}

static void esc_state_topic(const struct fw_ha *ha, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "outpost/%s/ha/escalation/%s", ha->gw, id);
}

static void announce_escalation(struct fw_ha *ha, const char *id)
{
	char topic[TOPIC_MAX], st[TOPIC_MAX], object[HA_ID_MAX + 16], name[HA_ID_MAX + 16];
	char *cfg;

	snprintf(object, sizeof(object), "escalation_%s", id);
	snprintf(name, sizeof(name), "Escalation %s", id);
	esc_state_topic(ha, id, st, sizeof(st));
	config_topic(ha, ha->announced, "binary_sensor", object, topic, sizeof(topic));
	cfg = config_json(ha, NULL, object, name, st);
	if (cfg && publish(ha->fw, topic, cfg))
		publish(ha->fw, st, "ON");
	free(cfg);
}

static void remove_escalation(struct fw_ha *ha, const char *prefix, const char *id)
{
	char topic[TOPIC_MAX], object[HA_ID_MAX + 16];

	snprintf(object, sizeof(object), "escalation_%s", id);
	config_topic(ha, prefix, "binary_sensor", object, topic, sizeof(topic));
	publish(ha->fw, topic, "");
	esc_state_topic(ha, id, topic, sizeof(topic));
	publish(ha->fw, topic, "");
}

/* Announces every entity under the config's prefix. */
static void announce(struct fw_ha *ha)
{
	const char *prefix = ha->fw->cfg->homeassistant.prefix;
	char topic[TOPIC_MAX];

	snprintf(ha->announced, sizeof(ha->announced), "%s", prefix);
	for (size_t i = 0; i < N_ENTITIES; i++) {
		char *cfg = config_json(ha, &entities[i], entities[i].object, entities[i].name, NULL);

		config_topic(ha, prefix, entities[i].component, entities[i].object, topic,
			     sizeof(topic));
		if (cfg)
			publish(ha->fw, topic, cfg);
		free(cfg);
	}
	for (unsigned i = 0; i < ha->n_esc; i++)
		announce_escalation(ha, ha->esc[i]);
	free(ha->last_state);
	ha->last_state = NULL; /* the state goes again with the configs */
}

/* Removes every entity announced under ha->announced. */
static void unannounce(struct fw_ha *ha)
{
	char topic[TOPIC_MAX];

	if (!ha->announced[0])
		return;
	for (size_t i = 0; i < N_ENTITIES; i++) {
		config_topic(ha, ha->announced, entities[i].component, entities[i].object, topic,
			     sizeof(topic));
		publish(ha->fw, topic, "");
	}
	for (unsigned i = 0; i < ha->n_esc; i++)
		remove_escalation(ha, ha->announced, ha->esc[i]);
	state_topic(ha, topic, sizeof(topic));
	publish(ha->fw, topic, "");
	ha->announced[0] = '\0';
	free(ha->last_state);
	ha->last_state = NULL;
}

static double queued_now(struct fw *fw)
{
	uint64_t c[STORE__STATES] = {0};
	struct store_txn *t;

	if (store_begin(fw->store, STORE_RDONLY, &t) != ERR_OK)
		return 0;
	store_outbox_counts(t, c);
	store_abort(t);
	return (double)(c[STORE_QUEUED] + c[STORE_RETRY] + c[STORE_SENDING]);
}

static bool uplink_on(const struct fw *fw)
{
	const struct fw_uplink *u = &fw->uplink;

	return u->ok_ms && u->ok_ms >= u->fail_ms;
}

static char *state_json(struct fw *fw)
{
	unsigned last = (fw->last_error_pos + FW_LAST_ERRORS - 1) % FW_LAST_ERRORS;
	struct store_stats tot;
	cJSON *o = cJSON_CreateObject();
	char *s;

	fw_stats_today_totals(fw, &tot);
	cJSON_AddStringToObject(o, "uplink", uplink_on(fw) ? "ON" : "OFF");
	cJSON_AddNumberToObject(o, "queued", queued_now(fw));
	cJSON_AddNumberToObject(o, "sent_today", (double)tot.n[STORE_ST_SENT]);
	cJSON_AddNumberToObject(o, "failed_today", (double)tot.n[STORE_ST_FAILED]);
	cJSON_AddNumberToObject(o, "cost_today", (double)tot.cost_micros / 1e6);
	cJSON_AddStringToObject(o, "last_error", fw->last_errors[last].text);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static char *stats_json(struct fw *fw)
{
	char err[200];
	cJSON *r = fw_stats_table(fw, 'r', 1, err, sizeof(err));
	char *s;

	if (!r)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
	s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

/* Whether the payloads would be made from what they were made from last;
 * notes what they are made from now. Statistics that wait in memory come
 * from committed state changes, so a commit precedes any change of them. */
static bool same_inputs(struct fw *fw, struct fw_ha *ha)
{
	uint64_t c = store_commits(fw->store), day = fw_stats_today(fw), err = fw->last_error_pos;
	bool up = uplink_on(fw), same = c == ha->made_commits && day == ha->made_day &&
					err == ha->made_error && up == ha->made_uplink;

	ha->made_commits = c;
	ha->made_day = day;
	ha->made_error = err;
	ha->made_uplink = up;
	return same;
}

void fw_ha_publish(struct fw *fw)
{
	struct fw_ha *ha = fw->ha;
	char topic[TOPIC_MAX];

	if (!ha || !fw->mqtt || !net_mqtt_connected(fw->mqtt))
		return;
	if (same_inputs(fw, ha) && ha->made)
		return;
	snprintf(topic, sizeof(topic), "outpost/%s/stats", ha->gw);
	ha->made = publish_changed(fw, topic, stats_json(fw), &ha->last_stats);
	if (!ha->announced[0])
		return;
	state_topic(ha, topic, sizeof(topic));
	ha->made &= publish_changed(fw, topic, state_json(fw), &ha->last_state);
}

static void on_tick(struct hal_timer *t)
{
	struct fw_ha *ha = container_of(t, struct fw_ha, tick);

	fw_ha_publish(ha->fw);
	hal_timer_set(ha->fw->loop, &ha->tick, ha->tick_ms);
}

int fw_ha_init(struct fw *fw)
{
	struct fw_ha *ha = calloc(1, sizeof(*ha));
	uint64_t ms;

	if (!ha)
		return ERR_NOMEM;
	ha->fw = fw;
	snprintf(ha->gw, sizeof(ha->gw), "%s", fw->cfg->gateway_id);
	ha->tick.cb = on_tick;
	ha->tick_ms = FW_STATS_PUBLISH_MS;
	if (getenv(HA_TEST_TICK_ENV) && hal_parse_u64(getenv(HA_TEST_TICK_ENV), 100, 60000, &ms))
		ha->tick_ms = ms;
	fw->ha = ha;
	hal_timer_set(fw->loop, &ha->tick, ha->tick_ms);
	return ERR_OK;
}

void fw_ha_free(struct fw *fw)
{
	struct fw_ha *ha = fw->ha;

	if (!ha)
		return;
	hal_timer_cancel(fw->loop, &ha->tick);
	free(ha->last_stats);
	free(ha->last_state);
	free(ha);
	fw->ha = NULL;
}

void fw_ha_link(struct fw *fw, bool up)
{
	struct fw_ha *ha = fw->ha;

	if (!ha || !up)
		return;
	/* A broker that restarted without persistence lost the retained
	 * messages: everything goes again. */
	free(ha->last_stats);
	free(ha->last_state);
	ha->last_stats = ha->last_state = NULL;
	ha->made = false;
	if (fw->cfg->homeassistant.discovery)
		announce(ha);
	if (getenv(HA_TEST_ESC_ENV) && !ha->test_esc) {
		ha->test_esc = true;
		fw_ha_escalation(fw, getenv(HA_TEST_ESC_ENV), true);
	}
	fw_ha_publish(fw);
}

void fw_ha_reconfigure(struct fw *fw)
{
	struct fw_ha *ha = fw->ha;
	const struct cfg *cfg = fw->cfg;

	if (!ha)
		return;
	ha->made = false; /* the gateway id, the announcement may differ */
	if (ha->announced[0] &&
	    (!cfg->homeassistant.discovery || strcmp(ha->announced, cfg->homeassistant.prefix)))
		unannounce(ha);
	if (ha->test_esc && getenv(HA_TEST_ESC_ENV))
		fw_ha_escalation(fw, getenv(HA_TEST_ESC_ENV), false);
	if (cfg->homeassistant.discovery)
		announce(ha);
	fw_ha_publish(fw);
}

static void clean_id(const char *id, char *out)
{
	size_t i = 0;

	for (; id[i] && i < HA_ID_MAX; i++)
		out[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
				id[i]) ? id[i] : '_';
	out[i] = '\0';
}

int fw_ha_escalation(struct fw *fw, const char *id, bool on)
{
	struct fw_ha *ha = fw->ha;
	char c[HA_ID_MAX + 1];
	unsigned i;

	if (!ha || !id || !id[0])
		return ERR_OK;
	clean_id(id, c);
	for (i = 0; i < ha->n_esc && strcmp(ha->esc[i], c); i++)
		;
	if (on && i == ha->n_esc) {
		if (ha->n_esc == HA_ESCALATIONS_MAX)
			return ERR_LIMIT;
		snprintf(ha->esc[ha->n_esc++], sizeof(ha->esc[0]), "%s", c);
	}
	if (!on && i < ha->n_esc) {
		if (ha->announced[0])
			remove_escalation(ha, ha->announced, c);
		memmove(&ha->esc[i], &ha->esc[i + 1], (ha->n_esc - i - 1) * sizeof(ha->esc[0]));
		ha->n_esc--;
		return ERR_OK;
	}
	if (on && ha->announced[0])
		announce_escalation(ha, c);
	return ERR_OK;
}
