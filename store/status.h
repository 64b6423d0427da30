/*
 * status.h - delivery status of sent messages: what the provider said and
 * when (the "track" DB, keyed by record seq), when to ask it next (the "poll"
 * index), and the receipts waiting to be published (the "receipt" queue).
 *
 * The outbox record keeps its state (sent, delivered, read, undelivered,
 * failed) and last error; the track entry beside it keeps the provider's
 * time of each state, the poll schedule and the provider's error text, so
 * the record's encoding did not have to change. Both change in the same txn
 * as the receipt that tells of the change, so a receipt is never lost and
 * never tells of a change that was not committed.
 *
 * "poll": next_poll_ms (8B BE) ++ seq (8B BE) -> empty. The poller asks what
 * is due like the sender does, never scanning the outbox. A track entry has
 * a poll entry exactly when its next_poll_ms is not 0.
 *
 * "receipt": id (8B BE, from meta "receipt/last") -> topic NUL payload. The
 * publisher drains it oldest first and deletes an entry once the broker has
 * acknowledged it (QoS 1). Meta "count/receipts" counts the entries.
 *
 * Every function works in a caller's txn (store.h); writers need a write
 * txn. Pointers handed to a receipt callback live for the call only.
 */
#ifndef STORE_STATUS_H
#define STORE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_TRACK_TEXT 200
#define STORE_RECEIPT_MAX 16384 /* topic + payload (an inbound text is up to 4096 bytes) */

/* Provider times per state, wall ms (0 = not seen). */
enum { STORE_AT_SENT, STORE_AT_DELIVERED, STORE_AT_READ, STORE_AT_FAILED, STORE_AT__N };

/* The at_ms slot of an outbox state (sent for anything not past it). */
int store_track_slot(int state);

struct store_track {
	uint64_t seq;
	int64_t sent_ms;      /* our wall clock when the provider took it: ages the polling */
	int64_t next_poll_ms; /* 0 = not polled (final, too old, or polling off) */
	uint32_t polls;       /* fetches made so far: the schedule's step */
	int32_t code;         /* provider error code of a failure, 0 if none */
	int64_t at_ms[STORE_AT__N];
	char text[STORE_TRACK_TEXT + 1]; /* provider error text, or why polling stopped */
};

/* ERR_NOTFOUND if the record has none; ERR_STORE for a corrupt entry. */
int store_track_get(struct store_txn *t, uint64_t seq, struct store_track *tr);
/* Writes tr and moves its poll index entry. */
int store_track_put(struct store_txn *t, const struct store_track *tr);
/* Deletes the entry and its poll entry; ERR_OK if there was none. Called by
 * the outbox when it deletes a record. */
int store_track_del(struct store_txn *t, uint64_t seq);

/* Seqs whose next poll is at or before now_ms, earliest first, at most max;
 * *next_ms is the time of the first not returned, -1 if none. */
int store_poll_due(struct store_txn *t, int64_t now_ms, unsigned max, uint64_t *seqs,
		   unsigned *n, int64_t *next_ms);

/* Queues a receipt: topic and payload (up to STORE_RECEIPT_MAX together). */
int store_receipt_add(struct store_txn *t, const char *topic, const char *payload);
/* Calls cb for queued receipts with id > after, oldest first, at most max,
 * until cb returns non-zero. */
int store_receipt_list(struct store_txn *t, uint64_t after, unsigned max,
		       int (*cb)(uint64_t id, const char *topic, const char *payload, void *arg),
		       void *arg);
/* ERR_NOTFOUND if it is gone already (acknowledged twice). */
int store_receipt_del(struct store_txn *t, uint64_t id);
int store_receipt_count(struct store_txn *t, uint64_t *n);

#endif
