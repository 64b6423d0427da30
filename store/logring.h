/*
 * logring.h - the daemon's log records, kept in the store within a size.
 *
 * The "log" DB maps a sequence number (8 bytes big-endian, appended, never
 * reused) to one encoded record. The ring's size is the sum of its records'
 * key, value and a fixed per-entry overhead (STORE_LOG_OVERHEAD), kept in the
 * meta DB ("log/bytes") in the same txns that change it; so is the last
 * sequence number given out ("log/seq"). store_log_trim() deletes the oldest
 * records until the ring is within its size and adds them to the counter
 * "log_dropped" (store_stat_*). The ring holds the last `max_bytes` of
 * records; the file may take more, as lmdb pages are rarely full.
 *
 * A record holds sensitive fields - the recipient and the template
 * variables - in the clear: masking is the reader's job (the control
 * command), because an authenticated operator may ask for them.
 *
 * Records are encoded by the caller (store_log_encode) so that a writer can
 * buffer them compactly before its txn; strings in a decoded record point
 * into the buffer it was decoded from (for store_log_read: into the map,
 * valid until the txn ends), are NUL-terminated and never NULL.
 */
#ifndef STORE_LOGRING_H
#define STORE_LOGRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_txn;

/* Bounds of the fields, NUL not counted; longer strings are cut. */
#define STORE_LOG_MODULE_MAX 15u
#define STORE_LOG_EVENT_MAX 256u
#define STORE_LOG_TEXT_MAX 1023u
#define STORE_LOG_TO_MAX 40u
#define STORE_LOG_VARS_MAX 2048u
/* Fixed part: format, level, time, msg_seq, and five length+NUL. */
#define STORE_LOG_FIXED (1u + 1u + 8u + 8u + 5u * 3u)
#define STORE_LOG_ENC_MAX                                                            \
	(STORE_LOG_FIXED + STORE_LOG_MODULE_MAX + STORE_LOG_EVENT_MAX + STORE_LOG_TEXT_MAX + \
	 STORE_LOG_TO_MAX + STORE_LOG_VARS_MAX)
/* Bytes counted per record beside key and value: lmdb's node header and
 * page index, roughly. */
#define STORE_LOG_OVERHEAD 16u

struct store_log_rec {
	uint64_t seq;     /* 0 until stored */
	int64_t time_ms;  /* wall clock when it was logged */
	uint8_t level;    /* syslog's: LOG_ERR (3) .. LOG_DEBUG (7) */
	uint64_t msg_seq; /* the outbox record it is about; 0 = none */
	const char *module, *event_id, *text;
	const char *to, *vars; /* sensitive; "" = none */
	bool sender;      /* `to` is the person who wrote to us (an inbound
			     message), not one we send to: shown as "from" */
};

/* Encodes r (NULL strings count as "") into buf; returns its length, or 0
 * when cap is too small (STORE_LOG_ENC_MAX is always enough). */
size_t store_log_encode(const struct store_log_rec *r, unsigned char *buf, size_t cap);
/* ERR_OK, or ERR_PARSE for bytes that are no record of this format. */
int store_log_decode(const void *buf, size_t len, struct store_log_rec *r);

/* Appends an encoded record under the next sequence number (*seq, may be
 * NULL). ERR_PARSE for an invalid record; store errors as store.h. */
int store_log_append(struct store_txn *t, const void *enc, size_t len, uint64_t *seq);
/* Deletes the oldest records until the ring takes at most max_bytes (the
 * newest record is kept whatever its size); *dropped (may be NULL) gets how
 * many went, also added to "log_dropped". */
int store_log_trim(struct store_txn *t, uint64_t max_bytes, uint64_t *dropped);

/* Blanks the recipient and variables of every record about `to` (a
 * person's data erased: outpostctl forget); the text stays, in which
 * numbers are masked when they are written. *n gets how many changed.
 * Walks the whole ring (at most log.ring_kb). */
int store_log_scrub(struct store_txn *t, const char *to, uint64_t *n);

struct store_log_range {
	uint64_t first, last; /* 0, 0 when empty; else every seq between is there */
	uint64_t bytes;       /* as counted against max_bytes */
	uint64_t dropped;     /* "log_dropped" */
};
int store_log_range(struct store_txn *t, struct store_log_range *r);

struct store_log_query {
	uint64_t since;       /* first seq wanted (0: from the oldest) */
	int max_level;        /* only records with level <= this */
	unsigned max_records; /* handed to cb at most */
	unsigned max_scan;    /* records looked at, filtered or not (0: no bound) */
};

/* Called per matching record, oldest first; nonzero stops after it. */
typedef int store_log_cb(const struct store_log_rec *r, void *arg);

/* Walks the ring from q->since. *next gets the seq to start the next read
 * from: after the last record looked at. A record that does not decode is
 * skipped (logged). ERR_OK or a store error. */
int store_log_read(struct store_txn *t, const struct store_log_query *q, store_log_cb *cb,
		   void *arg, uint64_t *next);

#endif
