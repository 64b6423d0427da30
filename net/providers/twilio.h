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
 * API on m->aux_base (ops templates_url / templates_page). Approval fields
 * are read under approval_requests.whatsapp when that is an object (the
 * per-template ApprovalRequests shape), else from approval_requests itself
 * (the ContentAndApprovals shape). A next_page_url off aux_base's host or
 * off /v1/ContentAndApprovals is refused (net_list_page.refused_next; the
 * entries on the page are still given to each()). */
int net_twilio_templates_url(const struct net_send_msg *m, char **url_out);
void net_twilio_templates_page(const struct net_http_result *res, const char *aux_base,
			       int (*each)(const struct net_template *t, void *arg), void *arg,
			       struct net_list_page *page);

/* twilio_link.c: where a next-page link may lead. */
/* Whether url is on the scheme://host:port of base (https only). */
bool net_twilio_same_origin(const char *base, const char *url);
/* base without its trailing slash, then path; malloc'd, NULL if no memory. */
char *net_twilio_join(const char *base, const char *path);
/* The account's Messages list path in url, the URL a list page was asked
 * at: "/2010-04-01/Accounts/AC.../Messages.json" right after base, with
 * *len its length; NULL if url is not one. Points into url. */
const char *net_twilio_list_scope(const char *base, const char *url, size_t *len);
/* Reads link (a path, or a URL on base's origin), the next page named on
 * the page asked at cur_url: page->next_url when it stays under scope
 * (a path, e.g. from net_twilio_list_scope) and is not cur_url itself;
 * else page->refused_next with page->text saying so ("<what> <link> not
 * followed: ..."). No memory: page->cls NET_TRANSIENT. */
void net_twilio_next_page(const char *base, const char *cur_url, const char *link,
			  const char *scope, size_t scope_len, const char *what,
			  struct net_list_page *page);

#endif
