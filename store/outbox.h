/*
 * outbox.h - the durable outbox: one record per accepted event, with a
 * due-time index for the sender, a state index for listings, per-state
 * counters and the event-id dedup index.
 *
 * Every function works inside a caller's struct store_txn (store.h), so a
 * batch of ingested events, their dedup entries and counters commit together
 * or not at all. Functions that write need a write txn (ERR_INVAL otherwise);
 * a failure after a write has started poisons the txn (see store.h).
 *
 * Pointers: the strings of a struct store_msg filled by get or list point
 * into the LMDB map and stay valid until the txn ends (like MDB_val) or until
 * a write in the same txn touches that record; copy what must live longer.
 * Strings passed to add/update may point anywhere, the map included: the
 * record is encoded before anything is rewritten. A list callback must not
 * write to the outbox in the txn it is called from.
 *
 * The store does not police transitions between states: that policy is the
 * sender's. It keeps the indexes and counters true to whatever it is given.
 */
#ifndef STORE_OUTBOX_H
#define STORE_OUTBOX_H

#include <stdint.h>

#include "store/store.h"

enum store_state {
	STORE_QUEUED = 1,
	STORE_SENDING,
	STORE_RETRY,
	STORE_SENT,
	STORE_DELIVERED,
	STORE_READ,
	STORE_UNDELIVERED,
	STORE_FAILED,
	STORE_EXPIRED,
	STORE_REJECTED,
	STORE_SUPPRESSED,
	STORE__STATES
};

const char *store_state_name(int state); /* "queued", ...; "unknown" */
int store_state_parse(const char *name); /* 0 if unknown */

/* store_msg.flags. AMBIGUOUS: an attempt may have reached the provider
 * without our knowing (kept for good, it excuses a duplicate). RECONCILE:
 * ask the provider whether that attempt went out before sending again. */
enum { STORE_F_AMBIGUOUS = 1, STORE_F_CLOCK_UNSET = 2, STORE_F_RECONCILE = 4 };
/* FREEFORM: the attempt taken (or last made) sends body, not the template.
 * TEMPLATE_ONLY: the provider said the window was closed; send the
 * fallback template from now on (firmware/consent.c). */
enum { STORE_F_FREEFORM = 8, STORE_F_TEMPLATE_ONLY = 16 };
/* LINK_FAILED: its last attempt got no answer (refused, reset, DNS, TLS,
 * 5xx): due at once when the provider answers again, whatever its backoff.
 * LINK_HELD: parked while its account's circuit is open, counted
 * (firmware/sender/link.c, recovery). */
enum { STORE_F_LINK_FAILED = 32, STORE_F_LINK_HELD = 64 };
/* ESCALATED: made by a step of an escalation chain after the first
 * (firmware/escalate.c): one more record of its event, to another person. */
enum { STORE_F_ESCALATED = 128 };
/* Bits 8-9: the record's priority (its route's "priority"), two's
 * complement so that a record written before priorities reads as normal.
 * The due index has a lane per priority; the sender takes what is due from
 * the highest lane first (docs/ALERTING.md, priority). */
/* Flood control (firmware/flood.c): COALESCED, a suppressed record whose
 * event was folded into a digest (its text names which); DIGEST, the record
 * that goes at a window's end for the events folded into it, showing the
 * newest one's fields. */
enum { STORE_F_COALESCED = 1024, STORE_F_DIGEST = 2048 };
enum { STORE_PRIO_LOW = -1, STORE_PRIO_NORMAL = 0, STORE_PRIO_HIGH = 1, STORE_PRIO_URGENT = 2 };
#define STORE_F_PRIO_SHIFT 8
#define STORE_F_PRIO_MASK (3u << STORE_F_PRIO_SHIFT)

/* Limits. An encoded record holds the vars of a 64 KiB event with room to
 * spare; every string but vars_json is at most 65535 bytes. Event ids are
 * dedup keys and LMDB keys are at most 511 bytes: longer ids are refused
 * (ERR_TOOBIG) rather than hashed, so an id in the index is the id itself. */
#define STORE_REC_MAX (256u * 1024)
#define STORE_EVENT_ID_MAX 256u
#define STORE_PROVIDER_ID_MAX 128u

struct store_msg {
	uint64_t seq;       /* assigned by store_outbox_add */
	uint8_t state;      /* enum store_state */
	uint8_t err_class;  /* the sender's error class, opaque to the store */
	uint16_t attempts;
	uint32_t flags;     /* STORE_F_* */
	int32_t err_code;   /* provider code, 0 if none */
	uint32_t ttl_s;
	int64_t created_ms; /* wall clock at ingest */
	int64_t due_ms;     /* wall ms of the next attempt; 0 (or less) = now */
	int64_t expires_ms; /* 0 = not known yet (clock was invalid at ingest) */
	int64_t updated_ms;
	int64_t attempt_ms; /* wall ms the last send attempt was taken, 0 = none */
	/* NUL-terminated, never NULL after a get ("" when empty); NULL is taken
	 * as "" by add/update. */
	const char *event_id, *topic, *route, *account, *to, *template_name,
		*content_sid, *vars_json, *provider_id, *err_text;
	/* Free-form text of a route with "text" (sent inside the 24-hour
	 * window instead of the template, which is then its fallback); "". */
	const char *body;
	/* What the provider said of the message when it took it, beside
	 * provider_id (Meta's messages[0].message_status: "accepted",
	 * "held_for_quality_assessment", "paused"; Twilio's "queued"); "". */
	const char *provider_status;
};

/* The priority a record's flags carry, STORE_PRIO_LOW..URGENT. */
int store_msg_prio(const struct store_msg *m);
/* Sets it into m->flags. */
void store_msg_set_prio(struct store_msg *m, int prio);

/* Appends m as the newest record and sets m->seq (1, 2, ... never reused,
 * also across restarts). ERR_TOOBIG if the record is over STORE_REC_MAX. */
int store_outbox_add(struct store_txn *t, struct store_msg *m);
/* ERR_NOTFOUND; ERR_STORE for a corrupt record (logged). */
int store_outbox_get(struct store_txn *t, uint64_t seq, struct store_msg *m);
/* Rewrites record m->seq and moves it between the due and state indexes
 * and counters as its state and due time changed. ERR_NOTFOUND. */
int store_outbox_update(struct store_txn *t, const struct store_msg *m);

/* Seqs of QUEUED/RETRY records with due_ms <= now_ms, the higher priority
 * first, then earliest due first (seq order among equal due times), at
 * most max. *next_due_ms is the due
 * time of the earliest record not returned, -1 if none. Walks the due index
 * only: costs O(max + lanes * log n), whatever the backlog. */
int store_outbox_due(struct store_txn *t, int64_t now_ms, unsigned max, uint64_t *seqs,
		     unsigned *n, int64_t *next_due_ms);

/* A due time that never comes: a QUEUED/RETRY record parked there (a
 * message held until its template is approved) is never returned by
 * store_outbox_due() for any real now, only by store_outbox_parked(), which
 * lists the parked seqs above after_seq in seq order, at most max. Costs
 * O(max + log n): the parked records sit together at the end of the due
 * index. */
#define STORE_DUE_PARKED INT64_MAX
int store_outbox_parked(struct store_txn *t, uint64_t after_seq, unsigned max, uint64_t *seqs,
			unsigned *n);

/* Calls cb for records newest first, only those in `state` unless it is 0,
 * with seq < before_seq unless it is 0; stops after `limit` records (0 = no
 * limit) or when cb returns non-zero. One record is decoded at a time. */
int store_outbox_list(struct store_txn *t, int state, uint64_t before_seq, unsigned limit,
		      int (*cb)(const struct store_msg *m, void *arg), void *arg);

/* counts[s] for each state s, from counters kept in the same txns as the
 * records (never by scanning); counts[0] is the total. */
int store_outbox_counts(struct store_txn *t, uint64_t counts[STORE__STATES]);

/* Event id -> seq of the record it produced. ERR_NOTFOUND; ERR_TOOBIG over
 * STORE_EVENT_ID_MAX; ERR_INVAL for "". put gives ERR_EXISTS (and leaves
 * the txn usable) if the id is already there. */
int store_dedup_get(struct store_txn *t, const char *event_id, uint64_t *seq);
int store_dedup_put(struct store_txn *t, const char *event_id, uint64_t seq);

/* Provider message id -> seq of the record that holds it. add and update
 * keep this index: an id names at most one record, so a message the
 * provider made is claimed once. update gives ERR_EXISTS (nothing written,
 * the txn stays usable) if m->provider_id is another record's already,
 * ERR_TOOBIG over STORE_PROVIDER_ID_MAX. get: ERR_NOTFOUND, ERR_INVAL for "". */
int store_sid_get(struct store_txn *t, const char *provider_id, uint64_t *seq);

/* Counters of the daemon's own ("stat/<name>" in the meta DB), kept in the
 * txn that changes what they count; add stops at 0 going down. get gives 0
 * for one never added to. */
#define STORE_STAT_NAME_MAX 88 /* bytes of a counter's name */
int store_stat_add(struct store_txn *t, const char *name, int64_t delta);
int store_stat_set(struct store_txn *t, const char *name, uint64_t v);
int store_stat_get(struct store_txn *t, const char *name, uint64_t *v);

/* Deletes records in final state `state` created before created_before_ms,
 * oldest first, with their index, counter, sid and dedup entries, up to max
 * (at most 256) looked at; stops at the first younger one. A record stamped
 * while the wall clock was not valid (STORE_F_CLOCK_UNSET) has no known age:
 * it is restamped as created at now_ms (flag cleared) instead, and kept for
 * the full time from then. ERR_INVAL for a state that is not final (queued,
 * sending, retry). */
struct store_prune {
	int64_t created_before_ms, now_ms;
	unsigned max;
	unsigned pruned, restamped; /* out, added to */
};
int store_outbox_prune(struct store_txn *t, int state, struct store_prune *p);

/* Deletes one record in a final state, as prune does (an operator's purge).
 * ERR_NOTFOUND; ERR_INVAL if the record is still on its way. */
int store_outbox_delete(struct store_txn *t, uint64_t seq);

#endif
