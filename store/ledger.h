/*
 * ledger.h - the recipient ledger: per phone number, its consent (unknown,
 * opted in, opted out) with where and when that last changed, and when it
 * last wrote to us (the 24-hour customer-service window is keyed on that
 * alone, providers.md section 8). Also the ids of inbound messages already
 * handled, so that a message seen by a poll and by a relayed webhook is
 * taken once.
 *
 * Everything works inside a caller's struct store_txn, so a consent change
 * commits with what caused it (an MQTT batch, a send outcome, a command).
 * Functions that write need a write txn (ERR_INVAL otherwise); a refusal
 * (ERR_INVAL, ERR_TOOBIG) writes nothing and leaves the txn usable, any
 * other failure poisons it (store.h). Entries are copied out: nothing
 * returned points into the map.
 */
#ifndef STORE_LEDGER_H
#define STORE_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

enum store_consent { STORE_CONSENT_UNKNOWN = 0, STORE_CONSENT_IN, STORE_CONSENT_OUT };

#define STORE_LEDGER_SOURCE_MAX 64  /* bytes of a source, with the NUL */
#define STORE_LEDGER_ACCOUNT_MAX 65 /* an account name, with the NUL */
#define STORE_INBOUND_ID_MAX 128    /* bytes of an inbound message id */

struct store_ledger {
	uint8_t consent;     /* enum store_consent */
	int64_t changed_ms;  /* wall ms of the last consent change; 0 = never */
	int64_t inbound_ms;  /* wall ms of the last inbound message; 0 = never */
	char source[STORE_LEDGER_SOURCE_MAX];   /* "cli", "mqtt:kiosk-3", "keyword:STOP", ... */
	char account[STORE_LEDGER_ACCOUNT_MAX]; /* whose number it last wrote to */
};

const char *store_consent_name(int consent); /* "unknown", "in", "out" */
int store_consent_parse(const char *s);      /* -1 if not one of those */

/* number is E.164 ("+491701234567"); ERR_INVAL otherwise. get: ERR_NOTFOUND
 * (e zeroed), ERR_STORE for a value that does not decode. */
int store_ledger_get(struct store_txn *t, const char *number, struct store_ledger *e);
int store_ledger_put(struct store_txn *t, const char *number, const struct store_ledger *e);
/* Sets the consent; the rest of the entry is kept. source is cut to fit. */
int store_ledger_consent(struct store_txn *t, const char *number, int consent,
			 const char *source, int64_t at_ms);
/* Notes an inbound message at at_ms from account's number; a time older than
 * the one kept changes nothing (a late poll after a webhook). */
int store_ledger_inbound(struct store_txn *t, const char *number, const char *account,
			 int64_t at_ms);
/* ERR_NOTFOUND if there was nothing. */
int store_ledger_delete(struct store_txn *t, const char *number);
/* Numbers in the ledger (lmdb's count: no walk). */
int store_ledger_entries(struct store_txn *t, uint64_t *n);

/* Inbound message ids handled: seen() is true if id was marked before;
 * mark() adds it (at_ms: when). ERR_TOOBIG over STORE_INBOUND_ID_MAX. */
int store_inbound_seen(struct store_txn *t, const char *id, bool *seen);
int store_inbound_mark(struct store_txn *t, const char *id, int64_t at_ms);
/* Forgets ids marked before before_ms, at most max of them looked at; *n
 * gets how many went. Ids are kept only long enough to catch a poll and a
 * webhook of one message (days), so the walk stays short. */
int store_inbound_prune(struct store_txn *t, int64_t before_ms, unsigned max, unsigned *n);

/* The newest inbound message a poll of account's number handled (wall ms,
 * 0 = none yet), in the meta DB as "inbound/<account>". */
int store_inbound_hwm(struct store_txn *t, const char *account, int64_t *ms);
int store_inbound_hwm_put(struct store_txn *t, const char *account, int64_t ms);

#endif
