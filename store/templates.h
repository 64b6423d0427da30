/*
 * templates.h - template approvals as the provider last said them, per
 * (account, template key): what firmware/templates.c synced, kept across
 * restarts so that the gate in front of the sender knows a template was
 * paused even before the first sync of a new run has answered.
 *
 * The key is the caller's: the Twilio ContentSid, or a Meta template's
 * "name:language". The store keeps the text it is given and judges none of
 * it (the caller says whether a status is sendable). Functions that write
 * need a write txn; a refusal (ERR_INVAL, ERR_TOOBIG) writes nothing and
 * leaves the txn usable. Strings a get or list hands out point into the
 * map and live until the txn ends, like MDB_val.
 */
#ifndef STORE_TEMPLATES_H
#define STORE_TEMPLATES_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_TPL_ACCOUNT_MAX 64u /* bytes of an account name */
#define STORE_TPL_KEY_MAX 256u    /* bytes of a template key */
#define STORE_TPL_TEXT_MAX 512u   /* bytes of each text field */

struct store_template {
	/* NUL-terminated, never NULL after a get ("" when empty); NULL is
	 * taken as "" by put. */
	const char *id;       /* the provider's id (HX..., a Meta template id) */
	const char *name;     /* the provider's name for it */
	const char *status;   /* as the provider wrote it: "approved", "PAUSED" */
	const char *category; /* "UTILITY", ... */
	const char *type;     /* content type, "twilio/quick-reply" */
	const char *reason;   /* rejection or pause reason */
	bool approved;        /* the caller's verdict on status */
	int64_t synced_ms;    /* wall ms of the sync that last saw it */
	int64_t changed_ms;   /* wall ms its status was first seen as it is */
};

/* ERR_NOTFOUND; ERR_INVAL for an empty account or key, ERR_TOOBIG over the
 * limits; ERR_STORE for a corrupt value (logged, the txn stays usable). */
int store_template_get(struct store_txn *t, const char *account, const char *key,
		       struct store_template *out);
/* Inserts or replaces. ERR_TOOBIG for a text over STORE_TPL_TEXT_MAX. */
int store_template_put(struct store_txn *t, const char *account, const char *key,
		       const struct store_template *tpl);
int store_template_del(struct store_txn *t, const char *account, const char *key);
/* Calls cb for each entry of `account` (all accounts if NULL), in key
 * order, until it returns non-zero. Corrupt entries are skipped (logged). */
int store_template_list(struct store_txn *t, const char *account,
			int (*cb)(const char *account, const char *key,
				  const struct store_template *tpl, void *arg),
			void *arg);

#endif
