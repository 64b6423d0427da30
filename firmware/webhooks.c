/*
 * webhooks.c - provider webhooks relayed over MQTT, for gateways with no
 * public endpoint: a relay in the cloud receives the provider's request and
 * publishes it on outpost/<gateway_id>/webhooks/<account> as an envelope
 * (docs/WHATSAPP-RELAY.md):
 *   Twilio:          {"url": "<the URL Twilio called>", "signature": "<X-Twilio-Signature>",
 *                     "body": "<raw form body>"}
 *   Meta, 360dialog: {"signature": "sha256=<X-Hub-Signature-256>", "body": "<raw JSON body>"}
 *
 * The relay and the bus are not trusted: the provider's signature is checked
 * over the exact bytes before anything in the body is read. A bad one is
 * rejected, counted and logged with its reason, and changes nothing.
 *
 * Statuses are applied in the router's batch txn (fw_router_txn), so the
 * webhook is acknowledged to the broker only once its changes and their
 * receipts are committed; a redelivery finds them applied (ranks never go
 * back) and changes nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/secrets.h"
#include "firmware/delivery.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/providers/provider.h"
#include "net/providers/webhook.h"
#include "store/store.h"

#define ENVELOPE_MAX (256 * 1024)

struct relay {
	struct fw *fw;
	const char *account;
	bool twilio;
	const char *url, *signature, *body;
	size_t body_len;
};

bool fw_webhook_filter(struct fw *fw, char *buf, size_t cap)
{
	for (unsigned i = 0; i < fw->cfg->n_accounts; i++)
		if (fw->cfg->accounts[i].webhooks) {
			snprintf(buf, cap, "outpost/%s/webhooks/+", fw->cfg->gateway_id);
			return true;
		}
	return false;
}

static void reject(struct fw *fw, const char *account, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reject(struct fw *fw, const char *account, const char *fmt, ...)
{
	struct fw_webhook_counts *w = &fw->webhooks;
	char why[FW_ERROR_TEXT - 40];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	w->rejected++;
	snprintf(w->last_reject, sizeof(w->last_reject), "%.32s: %s", account, why);
	fw_error(fw, "webhook for account %.32s rejected: %s", account, why);
}

/* The key the provider signs with, from the account's credentials entry:
 * Twilio's auth token (an API key cannot check signatures), Meta's app
 * secret. NULL with *why set. The string lives as long as fw->secrets. */
static const char *signing_key(struct fw *fw, const struct cfg_account *ca, bool twilio,
			       const char **why)
{
	const struct cfg_secret *sec = cfg_secrets_find(fw->secrets, ca->credentials);

	*why = "its credentials are not in the vault";
	if (!sec)
		return NULL;
	if (twilio) {
		*why = "its credentials are an API key; checking Twilio signatures needs the auth token";
		return sec->kind && strcmp(sec->kind, "auth_token") == 0 ? sec->password : NULL;
	}
	*why = "its credentials have no \"app_secret\" to check signatures with";
	return sec->app_secret && sec->app_secret[0] ? sec->app_secret : NULL;
}

static bool signature_holds(struct fw *fw, const struct cfg_account *ca, const struct relay *r,
			    const char **why)
{
	const char *key = signing_key(fw, ca, r->twilio, why);
	bool ok = false;

	if (key && r->twilio)
		ok = net_twilio_signature_valid(key, r->url, r->body, r->signature);
	else if (key)
		ok = net_meta_signature_valid(key, r->body, r->body_len, r->signature);
	if (key)
		*why = ok ? NULL : "bad signature";
	return ok;
}

static void on_status(const struct net_status *st, void *arg)
{
	struct relay *r = arg;
	struct store_txn *t = fw_router_txn(r->fw);
	bool changed;
	int rc;

	if (!t)
		return; /* the batch is not acknowledged: the broker redelivers */
	r->fw->webhooks.statuses++;
	rc = fw_delivery_apply(r->fw, t, st, &changed);
	if (rc != ERR_NOTFOUND)
		fw_router_note(r->fw, rc); /* a failed write: the batch is not acknowledged */
}

static void on_inbound(const struct net_inbound *in, void *arg)
{
	struct relay *r = arg;
	struct net_inbound copy = *in;

	/* Twilio's form carries no time: the message is as old as its relay. */
	if (copy.at_ms < 0 && hal_clock_valid())
		copy.at_ms = hal_wall_ms();
	r->fw->webhooks.inbound++;
	fw_inbound(r->fw, r->account, &copy);
}

/* The envelope's strings; NULL why on success. */
static const char *envelope(const cJSON *root, struct relay *r)
{
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "url");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "signature");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(root, "body");

	if (!cJSON_IsObject(root))
		return "not a JSON object";
	if (!cJSON_IsString(sig) || !sig->valuestring[0])
		return "no \"signature\" string";
	if (!cJSON_IsString(body))
		return "no \"body\" string";
	if (r->twilio && (!cJSON_IsString(url) || strncmp(url->valuestring, "https://", 8) != 0))
		return "no \"url\" string starting with https:// (Twilio signs the URL it called)";
	r->url = r->twilio ? url->valuestring : NULL;
	r->signature = sig->valuestring;
	r->body = body->valuestring;
	r->body_len = strlen(body->valuestring);
	return NULL;
}

static void handle(struct fw *fw, const struct cfg_account *ca, const char *payload, size_t len)
{
	struct relay r = {.fw = fw, .account = ca->name, .twilio = ca->provider == CFG_PROVIDER_TWILIO};
	struct net_webhook_sink k = {on_status, on_inbound, NULL, &r};
	const struct net_provider *drv;
	cJSON *root = cJSON_ParseWithLength(payload, len);
	const char *why = envelope(root, &r);
	unsigned n = 0;
	int rc;

	if (!why)
		signature_holds(fw, ca, &r, &why);
	if (why) {
		reject(fw, ca->name, "%s", why);
		goto out;
	}
	drv = net_provider_find(cfg_provider_name(ca->provider));
	k.code_class = drv ? drv->code_class : NULL; /* a failure's code, the provider's way */
	if (r.twilio) {
		rc = net_twilio_webhook_parse(r.body, &k, &n);
	} else {
		rc = net_meta_webhook_parse(r.body, r.body_len, &k, &n);
	}
	if (rc != ERR_OK) {
		reject(fw, ca->name, "signed, but the body is not a webhook we know (%s)",
		       hal_strerror(rc));
		goto out;
	}
	fw->webhooks.accepted++;
out:
	cJSON_Delete(root);
}

bool fw_webhook_take(struct fw *fw, const char *topic, const void *payload, size_t len)
{
	char prefix[128];
	const struct cfg_account *ca;
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "outpost/%s/webhooks/",
				    fw->cfg->gateway_id);

	if (n >= sizeof(prefix) || strncmp(topic, prefix, n) != 0)
		return false;
	ca = cfg_account_find(fw->cfg, topic + n);
	if (!ca || !ca->webhooks)
		reject(fw, topic + n, "no such account takes webhooks (accounts.<name>.webhooks)");
	else if (len > ENVELOPE_MAX)
		reject(fw, ca->name, "envelope of %zu bytes, over %u", len, ENVELOPE_MAX);
	else
		handle(fw, ca, payload, len);
	return true;
}

void fw_webhook_status(const struct fw *fw, cJSON *o)
{
	const struct fw_webhook_counts *w = &fw->webhooks;

	if (!o)
		return;
	cJSON_AddNumberToObject(o, "accepted", (double)w->accepted);
	cJSON_AddNumberToObject(o, "rejected", (double)w->rejected);
	cJSON_AddNumberToObject(o, "statuses", (double)w->statuses);
	cJSON_AddNumberToObject(o, "inbound", (double)w->inbound);
	cJSON_AddStringToObject(o, "last_reject", w->last_reject);
}
