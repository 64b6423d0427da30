/*
 * webhook.h - signatures of provider webhooks relayed to the gateway (the
 * gateway sits behind NAT: a cloud relay forwards the raw request over
 * MQTT). Nothing in a relayed webhook is trusted before its signature holds.
 *
 * Twilio (X-Twilio-Signature): base64 of HMAC-SHA1 keyed with the auth
 * token over the full URL Twilio requested (query string included) followed
 * by every POST parameter, sorted by name, as name then value, decoded.
 * Meta (X-Hub-Signature-256): "sha256=" and the hex of HMAC-SHA256 keyed
 * with the app secret over the raw body.
 * Both compare in constant time.
 */
#ifndef NET_PROVIDERS_WEBHOOK_H
#define NET_PROVIDERS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "net/providers/provider.h"

/* form_body: application/x-www-form-urlencoded, as received (may be ""). */
bool net_twilio_signature_valid(const char *auth_token, const char *url, const char *form_body,
				const char *signature);
bool net_meta_signature_valid(const char *app_secret, const void *body, size_t len,
			      const char *header);

/*
 * Parsers of a webhook body whose signature held. Each status and each
 * inbound message is handed to a callback (strings live for the call only);
 * code_class maps a failure's code to its enum net_class (NULL:
 * NET_PERMANENT). ERR_OK when the body was read (it may hold nothing we
 * use: *n counts what was handed on); ERR_INVAL for a body that is not one
 * (garbage, not JSON, no entry array); ERR_NOMEM.
 */
struct net_webhook_sink {
	void (*status)(const struct net_status *st, void *arg);
	void (*inbound)(const struct net_inbound *in, void *arg);
	int (*code_class)(int code);
	void *arg;
};

/* Twilio: a status callback (MessageStatus, ErrorCode) or an inbound
 * message (From, Body, ButtonPayload, OriginalRepliedMessageSid), form-encoded. */
int net_twilio_webhook_parse(const char *form_body, const struct net_webhook_sink *k,
			     unsigned *n);
/* Meta Cloud API / 360dialog: entry[].changes[].value.statuses[] and
 * .messages[] (with metadata.display_phone_number as our number). */
int net_meta_webhook_parse(const char *body, size_t len, const struct net_webhook_sink *k,
			   unsigned *n);

#endif
