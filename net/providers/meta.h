/*
 * meta.h - the Meta WhatsApp Cloud API driver ("meta") and 360dialog's
 * hosted Cloud API ("360dialog"), which takes the same JSON body.
 *
 *   meta:      POST {api_base}/{version}/{phone_number_id}/messages
 *              Authorization: Bearer <access token>
 *   360dialog: POST {api_base}/messages
 *              D360-API-KEY: <api key>   (360dialog adds the number itself)
 *
 * net_send_msg for both: account_id = the phone-number id (meta only),
 * aux_base = the Graph API version "v21.0" (meta only), waba_id (meta
 * template listing), token = access token or API key, template_name +
 * language + vars_json ({"1":..,"2":..} -> body parameters in order;
 * variable media_var, if set, as the header's media_type "image", "video"
 * or "document" link instead), or body for free-form text inside the 24 h
 * window. The answer's messages[0].message_status comes back as the
 * outcome's status; an error object's fbtrace_id ends its text.
 *
 * Neither has a list of sent messages: an ambiguous send (timeout or 5xx
 * after the body left) cannot be reconciled, so list_url is NULL and the
 * sender resends it, counted as a possible duplicate (docs/PROVIDERS.md).
 * Status and inbound come by webhook only (status_url, inbound_url NULL).
 */
#ifndef NET_PROVIDERS_META_H
#define NET_PROVIDERS_META_H

#include "net/providers/provider.h"

extern const struct net_provider net_meta_provider;
extern const struct net_provider net_d360_provider;

/* The class of a Cloud API error code (providers.md 5.3), synchronous or
 * from a status webhook; NET_PERMANENT for codes not in the table. */
int net_meta_code_class(int code);

/* The class of one of 360dialog's own refusals (providers.md 6), which
 * carry no Meta code: by HTTP status and the developer message. */
int net_d360_error_class(long status, const char *text);

/* meta_reply.c: the answer to a send (both drivers), and a templates page. */
void net_meta_outcome(const struct net_http_result *res, struct net_send_outcome *out);
void net_meta_templates_page(const struct net_http_result *res, const char *api_base,
			     int (*each)(const struct net_template *t, void *arg), void *arg,
			     struct net_list_page *page);

#endif
