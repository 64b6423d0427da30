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

/* form_body: application/x-www-form-urlencoded, as received (may be ""). */
bool net_twilio_signature_valid(const char *auth_token, const char *url, const char *form_body,
				const char *signature);
bool net_meta_signature_valid(const char *app_secret, const void *body, size_t len,
			      const char *header);

#endif
