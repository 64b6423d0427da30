/*
 * twilio.h - the Twilio Programmable Messaging driver (WhatsApp templates via
 * ContentSid). Reached through net_provider_find("twilio"); exported for
 * tests and for the provider table.
 */
#ifndef NET_PROVIDERS_TWILIO_H
#define NET_PROVIDERS_TWILIO_H

#include "net/providers/provider.h"

extern const struct net_provider net_twilio_provider;

/* The class of a Twilio error code, synchronous or from a status callback;
 * NET_PERMANENT for codes not in the table. */
int net_twilio_code_class(int code);

/* twilio_content.c: templates and their WhatsApp approval from the Content
 * API on m->aux_base (ops templates_url / templates_page). A page whose
 * next_page_url is on another host than aux_base ends with NET_PERMANENT
 * (the entries on it are still given to each()). */
int net_twilio_templates_url(const struct net_send_msg *m, char **url_out);
void net_twilio_templates_page(const struct net_http_result *res, const char *aux_base,
			       int (*each)(const struct net_template *t, void *arg), void *arg,
			       struct net_list_page *page);
/* Whether url is on the scheme://host:port of base (https only). */
bool net_twilio_same_origin(const char *base, const char *url);

#endif
