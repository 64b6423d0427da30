/*
 * account.h - an account's provider request fields, from its config and its
 * credentials entry: what every request of that account shares (base URL,
 * sender, ids, credentials), and what a message adds from its template.
 *
 * fw_account_msg() fills malloc'd copies into a struct net_send_msg that
 * the caller owns until fw_account_msg_free(), which wipes the secrets.
 * fw_account_template() points the message at strings of the config's
 * template, valid until the next reconfigure (build the request before).
 */
#ifndef FW_ACCOUNT_H
#define FW_ACCOUNT_H

#include <stddef.h>

#include "config/config.h"
#include "config/secrets.h"
#include "net/providers/provider.h"

/* ERR_OK; ERR_INVAL with why (the entry is missing, or not of the kind
 * the provider takes: m then has no credentials, user NULL); ERR_NOMEM. */
int fw_account_msg(struct net_send_msg *m, const struct cfg_account *ca,
		   const struct cfg_secret *sec, char *why, size_t whylen);
void fw_account_msg_free(struct net_send_msg *m);

/* Meta/360dialog name a template by its WhatsApp name and language (the
 * record keeps only our template name and the ContentSid). */
void fw_account_template(struct net_send_msg *m, const struct cfg *cfg, const char *template_name);

#endif
