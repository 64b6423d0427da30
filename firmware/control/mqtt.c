/*
 * control/mqtt.c - the control protocol on the broker: signed requests on
 * outpost/<gateway_id>/cmd, signed replies on the topic each request names
 * (net/cmdauth.h has the wire form).
 *
 * On only when control.mqtt.credentials names a vault entry holding an
 * hmac_key. A request is run only if its signature, gateway id, timestamp
 * (control.mqtt.window_s either side of our clock, which must be valid) and
 * nonce (not seen within the window) all hold; every request, run or
 * refused, is audited in the log with its outcome.
 *
 * Requests arrive inside an MQTT read batch, where nothing may be published
 * (net/mqtt.h): they are queued (bounded) and handled on a zero-delay timer
 * once the batch is done. A command is not an event: it is not stored, and
 * one lost with the daemon is simply not answered; the operator asks again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/secrets.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/cmdauth.h"
#include "net/mqtt.h"

#define QUEUE_MAX 16
#define REQUEST_MAX (64 * 1024)

struct fw_remote {
	struct fw *fw;
	char topic[128];
	struct hal_timer run;
	struct net_nonces nonces;
	char *queue[QUEUE_MAX];
	unsigned queued;
	uint64_t accepted, refused, dropped;
};

static void on_run(struct hal_timer *t);

int fw_remote_init(struct fw *fw)
{
	struct fw_remote *r;

	if (!fw->cfg->control.mqtt.credentials)
		return ERR_OK;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ERR_NOMEM;
	snprintf(r->topic, sizeof(r->topic), "outpost/%s/cmd", fw->cfg->gateway_id);
	r->fw = fw;
	r->run.cb = on_run;
	fw->remote = r;
	log_info("control: signed commands on %s", r->topic);
	return ERR_OK;
}

void fw_remote_free(struct fw *fw)
{
	struct fw_remote *r = fw->remote;

	if (!r)
		return;
	hal_timer_cancel(fw->loop, &r->run);
	for (unsigned i = 0; i < r->queued; i++)
		free(r->queue[i]);
	free(r);
	fw->remote = NULL;
}

const char *fw_remote_topic(const struct fw *fw)
{
	return fw->remote ? fw->remote->topic : NULL;
}

/* Refusals are warnings: someone holds a wrong key, or replays. */
static void audit(const char *who, const char *what, const char *outcome)
{
	log_warn("audit: mqtt %.80s: %s: %s", who, what, outcome);
}

static void publish_reply(struct fw *fw, const char *topic, const char *nonce, const char *reply,
			  const unsigned char *key)
{
	char sig[NET_CMD_SIG_HEX] = "";
	cJSON *o = cJSON_CreateObject();
	char *text;

	if (key)
		net_cmd_sign_reply(key, nonce, reply, sig);
	cJSON_AddStringToObject(o, "nonce", nonce);
	cJSON_AddStringToObject(o, "reply", reply);
	cJSON_AddStringToObject(o, "sig", sig);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text && net_mqtt_publish(fw->mqtt, topic, text, strlen(text), 1, false) != ERR_OK)
		log_warn("control: mqtt: cannot publish a reply on %.80s", topic);
	free(text);
}

/* The key from the vault, or false with why. */
static bool key_of(struct fw *fw, unsigned char key[NET_CMD_KEY_LEN], const char **why)
{
	const struct cfg_secret *s = cfg_secrets_find(fw->secrets, fw->cfg->control.mqtt.credentials);

	if (!s || strcmp(s->kind, "hmac_key") != 0) {
		*why = "no hmac_key entry in the vault for control.mqtt.credentials";
		return false;
	}
	if (!net_cmd_key_parse(s->password, key)) {
		*why = "the vault's hmac_key entry is malformed";
		return false;
	}
	return true;
}

/* Checks the envelope; returns NULL if it may run, else why not. */
static const char *refusal(struct fw *fw, const struct net_cmd_env *e,
			   const unsigned char *key)
{
	int64_t now = hal_wall_ms() / 1000, window = fw->cfg->control.mqtt.window_s;
	char sig[NET_CMD_SIG_HEX];

	if (strcmp(e->gw, fw->cfg->gateway_id) != 0)
		return "addressed to another gateway";
	net_cmd_sign(key, e->gw, e->ts, e->nonce, e->reply_to, e->req, sig);
	if (!net_cmd_sig_equal(sig, e->sig))
		return "bad signature";
	if (!hal_clock_valid())
		return "the gateway's clock is not valid yet: timestamps cannot be checked";
	if (e->ts < now - window || e->ts > now + window)
		return "timestamp outside the window (clocks apart, or an old command)";
	switch (net_nonces_check(&fw->remote->nonces, e->nonce, e->ts, now, window)) {
	case ERR_OK:
		return NULL;
	case ERR_EXISTS:
		return "nonce already used (a replay)";
	default:
		return "too many commands in the window; try again later";
	}
}

static void handle(struct fw *fw, const char *payload)
{
	struct fw_remote *r = fw->remote;
	struct fw_caller from = {.transport = "mqtt", .operator = true};
	unsigned char key[NET_CMD_KEY_LEN];
	cJSON *root = cJSON_Parse(payload);
	struct net_cmd_env e;
	const char *why = NULL;
	char bad[160], *reply;

	if (!net_cmd_env_parse(root, &e, bad, sizeof(bad))) {
		r->refused++;
		audit("?", "malformed command envelope", bad); /* no topic to answer on */
		cJSON_Delete(root);
		return;
	}
	snprintf(from.who, sizeof(from.who), "reply_to %s", e.reply_to);
	if (!key_of(fw, key, &why) || (why = refusal(fw, &e, key))) {
		r->refused++;
		audit(from.who, "refused", why);
		snprintf(bad, sizeof(bad), "{\"ok\":false,\"error\":\"refused: %s\"}", why);
		publish_reply(fw, e.reply_to, e.nonce, bad, NULL);
	} else {
		r->accepted++;
		reply = fw_control_dispatch(fw, &from, e.req);
		publish_reply(fw, e.reply_to, e.nonce,
			      reply ? reply : "{\"ok\":false,\"error\":\"out of memory\"}", key);
		free(reply);
	}
	explicit_bzero(key, sizeof(key));
	cJSON_Delete(root);
}

static void on_run(struct hal_timer *t)
{
	struct fw_remote *r = container_of(t, struct fw_remote, run);
	struct fw *fw = r->fw;

	for (unsigned i = 0; i < r->queued; i++) {
		handle(fw, r->queue[i]);
		free(r->queue[i]);
	}
	r->queued = 0;
}

bool fw_remote_take(struct fw *fw, const char *topic, const void *payload, size_t len)
{
	struct fw_remote *r = fw->remote;
	char *copy;

	if (!r || strcmp(topic, r->topic) != 0)
		return false;
	if (len > REQUEST_MAX || r->queued == QUEUE_MAX || !(copy = malloc(len + 1))) {
		r->dropped++;
		audit("?", "command dropped", len > REQUEST_MAX ? "over 64 KiB" : "queue full");
		return true;
	}
	memcpy(copy, payload, len);
	copy[len] = '\0';
	r->queue[r->queued++] = copy;
	hal_timer_set(fw->loop, &r->run, 0);
	return true;
}

void fw_remote_status(const struct fw *fw, cJSON *o)
{
	const struct fw_remote *r = fw->remote;

	cJSON_AddBoolToObject(o, "enabled", r != NULL);
	cJSON_AddStringToObject(o, "topic", r ? r->topic : "");
	cJSON_AddNumberToObject(o, "accepted", r ? (double)r->accepted : 0);
	cJSON_AddNumberToObject(o, "refused", r ? (double)r->refused : 0);
	cJSON_AddNumberToObject(o, "dropped", r ? (double)r->dropped : 0);
}
