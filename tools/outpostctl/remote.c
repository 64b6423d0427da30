/*
 * remote.c - outpostctl --mqtt HOST[:PORT] --gateway ID: one signed request
 * on outpost/<ID>/cmd, one signed reply on a topic of our own
 * (net/cmdauth.h has the wire form).
 *
 * The key (64 hex digits, the gateway's control.mqtt hmac_key) comes from
 * --key-file (a private file) or from $OUTPOST_CMD_KEY, never from the
 * command line. A reply without a valid signature is not trusted: its text
 * is shown as the broker delivered it and the exit code says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/parse.h"
#include "hal/random.h"
#include "net/cmdauth.h"
#include "tools/outpostctl/octl.h"

struct call {
	const char *topic, *nonce;
	const unsigned char *key;
	char *reply;    /* the reply's JSON, once one for our nonce arrived */
	bool verified;  /* signed with the key */
	bool subscribed;
};

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
	struct call *c = arg;

	(void)m, (void)mid;
	c->subscribed = n == 1 && granted[0] <= 2;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct call *c = arg;
	cJSON *o;
	const cJSON *nonce, *reply, *sig;
	char want[NET_CMD_SIG_HEX];

	(void)m;
	if (c->reply || strcmp(msg->topic, c->topic) != 0 || !msg->payloadlen)
		return;
	o = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	nonce = cJSON_GetObjectItemCaseSensitive(o, "nonce");
	reply = cJSON_GetObjectItemCaseSensitive(o, "reply");
	sig = cJSON_GetObjectItemCaseSensitive(o, "sig");
	if (cJSON_IsString(nonce) && strcmp(nonce->valuestring, c->nonce) == 0 &&
	    cJSON_IsString(reply) && cJSON_IsString(sig)) {
		net_cmd_sign_reply(c->key, c->nonce, reply->valuestring, want);
		c->verified = net_cmd_sig_equal(want, sig->valuestring);
		c->reply = strdup(reply->valuestring);
	}
	cJSON_Delete(o);
}

static bool load_key(const struct octl_opts *o, unsigned char key[NET_CMD_KEY_LEN])
{
	char why[300], hex[2 * NET_CMD_KEY_LEN + 2] = "";
	const char *env = getenv("OUTPOST_CMD_KEY");
	char *text = NULL;
	size_t len = 0;
	bool ok;

	if (o->key_file) {
		if (hal_file_read_private(o->key_file, 256, &text, &len, why, sizeof(why)) != ERR_OK) {
			fprintf(stderr, "outpostctl: --key-file: %s\n", why);
			return false;
		}
		snprintf(hex, sizeof(hex), "%.*s", (int)strcspn(text, "\r\n"), text);
		explicit_bzero(text, len);
		free(text);
	} else if (env) {
		snprintf(hex, sizeof(hex), "%s", env);
	} else {
		fprintf(stderr, "outpostctl: --mqtt needs the gateway's command key: --key-file F "
				"or OUTPOST_CMD_KEY (64 hex digits)\n");
		return false;
	}
	ok = net_cmd_key_parse(hex, key);
	explicit_bzero(hex, sizeof(hex));
	if (!ok)
		fprintf(stderr, "outpostctl: the command key must be 64 hex digits\n");
	return ok;
}

static bool parse_host(const char *spec, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(spec, ':');
	uint64_t p = 1883;

	if (colon && !hal_parse_u64(colon + 1, 1, 65535, &p))
		return false;
	snprintf(host, hostlen, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	*port = (int)p;
	return host[0] != '\0';
}

static void hex_random(char *out, size_t bytes)
{
	unsigned char b[32];

	if (hal_random(b, bytes) != ERR_OK)
		memset(b, 0, sizeof(b));
	hal_hex_encode(b, bytes, out);
}

static char *envelope(const struct octl_opts *o, const unsigned char *key, const char *req,
		      const char *nonce, const char *reply_to)
{
	int64_t ts = hal_wall_ms() / 1000;
	char sig[NET_CMD_SIG_HEX];
	cJSON *e = cJSON_CreateObject();
	char *text;

	net_cmd_sign(key, o->gateway, ts, nonce, reply_to, req, sig);
	cJSON_AddStringToObject(e, "req", req);
	cJSON_AddStringToObject(e, "gw", o->gateway);
	cJSON_AddNumberToObject(e, "ts", (double)ts);
	cJSON_AddStringToObject(e, "nonce", nonce);
	cJSON_AddStringToObject(e, "reply_to", reply_to);
	cJSON_AddStringToObject(e, "sig", sig);
	text = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
	return text;
}

/* Runs the client loop until done() or the deadline; false on timeout or a
 * broken connection. */
static bool pump(struct mosquitto *m, const struct call *c, bool (*done)(const struct call *),
		 uint64_t deadline)
{
	while (!done(c)) {
		if (hal_now_ms() >= deadline)
			return false;
		if (mosquitto_loop(m, 50, 1) != MOSQ_ERR_SUCCESS)
			return false;
	}
	return true;
}

static bool is_subscribed(const struct call *c)
{
	return c->subscribed;
}

static bool has_reply(const struct call *c)
{
	return c->reply != NULL;
}

int octl_remote_call(const struct octl_opts *o, const char *req, char **resp)
{
	unsigned char key[NET_CMD_KEY_LEN];
	char host[256], topic[200], nonce[33], id[100], *env = NULL;
	struct call c = {.topic = topic, .nonce = nonce, .key = key};
	struct mosquitto *m = NULL;
	uint64_t deadline = hal_now_ms() + (uint64_t)o->timeout_ms;
	int port, ex = OCTL_EXIT_CONNECT;

	if (!o->gateway || !parse_host(o->mqtt, host, sizeof(host), &port)) {
		fprintf(stderr, "outpostctl: --mqtt wants HOST[:PORT] and --gateway ID\n");
		return OCTL_EXIT_USAGE;
	}
	if (!load_key(o, key))
		return OCTL_EXIT_USAGE;
	hex_random(nonce, 16);
	snprintf(id, sizeof(id), "outpostctl-%.8s", nonce);
	snprintf(topic, sizeof(topic), "outpost/%s/reply/%s", o->gateway, nonce);
	mosquitto_lib_init();
	m = mosquitto_new(id, true, &c);
	if (!m)
		goto out;
	mosquitto_subscribe_callback_set(m, on_subscribe);
	mosquitto_message_callback_set(m, on_message);
	if (mosquitto_connect(m, host, port, 30) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "outpostctl: cannot connect to the broker at %s:%d\n", host, port);
		goto out;
	}
	if (mosquitto_subscribe(m, NULL, topic, 1) != MOSQ_ERR_SUCCESS ||
	    !pump(m, &c, is_subscribed, deadline)) {
		fprintf(stderr, "outpostctl: the broker at %s:%d did not take our subscription\n",
			host, port);
		goto out;
	}
	env = envelope(o, key, req, nonce, topic);
	snprintf(id, sizeof(id), "outpost/%.24s/cmd", o->gateway);
	if (!env || mosquitto_publish(m, NULL, id, (int)strlen(env), env, 1, false) !=
			    MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "outpostctl: cannot publish the command\n");
		goto out;
	}
	if (!pump(m, &c, has_reply, deadline)) {
		fprintf(stderr, "outpostctl: no answer from gateway %s within %d ms (is it up, "
				"with control.mqtt on? see --timeout)\n", o->gateway, o->timeout_ms);
		goto out;
	}
	if (!c.verified) {
		fprintf(stderr, "outpostctl: the answer is not signed with the key (a refusal, "
				"or not from the gateway): ");
		octl_put_text(stderr, c.reply, 300, 0);
		fputc('\n', stderr);
		ex = OCTL_EXIT_DAEMON;
		goto out;
	}
	*resp = c.reply;
	c.reply = NULL;
	ex = -1;
out:
	explicit_bzero(key, sizeof(key));
	free(c.reply);
	free(env);
	if (m) {
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
	}
	mosquitto_lib_cleanup();
	return ex;
}
