/*
 * source.h - per-source publisher sequence numbers: what each event source
 * last sent, and the gaps, restarts and bad numbers seen since.
 *
 * A device may number its events ("seq": 0, 1, 2, ...). The broker can lose
 * events it already acknowledged to the device (a kill -9 loses what arrived
 * since its last autosave; a full queue drops silently), and nothing else
 * would ever show it; a jump in a source's numbers does. The state lives in
 * the store, and the router changes it in the batch's write txn, so it
 * commits with the records of the events it describes and a crash cannot
 * leave the two apart.
 *
 * "Seq" here is always the publisher's number, never an outbox record's seq.
 * The rules are store_source_observe(), a pure function. Functions that
 * write need a write txn (ERR_INVAL otherwise); a refusal (ERR_INVAL,
 * ERR_TOOBIG, ERR_LIMIT) writes nothing and leaves the txn usable, any other
 * failure poisons it (store.h). Nothing returned points into the map.
 */
#ifndef STORE_SOURCE_H
#define STORE_SOURCE_H

#include <stdint.h>

#include "store/store.h"

/* Source names are LMDB keys (at most 511 bytes). A longer name is refused
 * (ERR_TOOBIG) rather than hashed, as event ids are, so that status can
 * show the name itself; device ids and topics are far shorter. */
#define STORE_SOURCE_NAME_MAX 256u
/* Sources are the devices of one site: tens to thousands. Past this many,
 * a new source is refused with ERR_LIMIT (the caller counts it); the ones
 * already tracked go on. It bounds the store's share and status's walk. */
#define STORE_SOURCE_MAX 4096u
/* Publisher numbers are JSON numbers, exact as doubles below 2^53. */
#define STORE_SEQ_MAX ((int64_t)9007199254740991)
/* A number this low below the last one is the publisher counting again
 * from its start (0 or 1) after a restart, not a late event. */
#define STORE_SEQ_RESET_MAX 1

struct store_source {
	uint64_t events;       /* events with a valid seq seen (first deliveries) */
	uint64_t last_seq;     /* the last valid seq; meaningful once events > 0 */
	uint64_t gaps;         /* jumps forward past last_seq + 1 */
	uint64_t missed;       /* seqs skipped by those jumps, in all */
	uint64_t resets;       /* the publisher counted again from 0 or 1 */
	uint64_t out_of_order; /* seqs at or below the last, not a reset */
	uint64_t bad_seq;      /* events whose "seq" was not a sequence number */
	int64_t last_seen_ms;  /* wall clock of the last event, 0 if unknown */
	int64_t last_gap_ms;   /* wall clock of the last gap, 0 if unknown */
	uint64_t last_gap_from, last_gap_to; /* the seqs missing in the last gap */
	uint64_t last_gap_record; /* outbox seq of the event that showed it */
};

/* One event of a source, as the router saw it. */
struct store_seq_event {
	int64_t seq;     /* 0..STORE_SEQ_MAX, or -1: the event's seq was malformed */
	int64_t at_ms;   /* wall clock, 0 while the clock is not valid */
	uint64_t record; /* outbox seq of the event's first record, 0 if none */
};

enum store_source_verdict {
	STORE_SRC_FIRST = 1, /* the source's first valid seq: recorded */
	STORE_SRC_NEXT,      /* last + 1 */
	STORE_SRC_GAP,       /* above last + 1: last_gap_from..last_gap_to missing */
	STORE_SRC_RESET,     /* 0 or 1 below the last: counting restarts from it */
	STORE_SRC_OLD,       /* otherwise at or below the last: late or repeated,
				last_seq kept so that it fakes no gap afterwards */
	STORE_SRC_BAD,       /* seq not in 0..STORE_SEQ_MAX: only bad_seq and
				last_seen_ms change */
};

/* Applies one event to s and says what it was. No I/O. */
enum store_source_verdict store_source_observe(struct store_source *s,
					       const struct store_seq_event *e);
const char *store_source_verdict_name(int v); /* "first", "gap", ... */

/* ERR_NOTFOUND; ERR_INVAL for an empty name, ERR_TOOBIG over
 * STORE_SOURCE_NAME_MAX; ERR_STORE for a record of the wrong size (logged;
 * the txn stays usable, and a put replaces it). */
int store_source_get(struct store_txn *t, const char *name, struct store_source *s);
/* Creates or replaces. ERR_LIMIT for a new source once STORE_SOURCE_MAX are
 * tracked. */
int store_source_put(struct store_txn *t, const char *name, const struct store_source *s);
int store_source_count(struct store_txn *t, uint64_t *n);

/* get, observe, put: the source's state after the event goes to *s and the
 * verdict to *v. A corrupt record is logged and started afresh: the numbers
 * are a diagnosis and must never stop ingest. Errors as get and put. */
int store_source_note(struct store_txn *t, const char *name, const struct store_seq_event *e,
		      struct store_source *s, enum store_source_verdict *v);

/* For status: the sums over all sources and the `top` (at most
 * STORE_SOURCE_TOP) whose last gap is the most recent, newest first. One
 * walk over the sources, bounded by STORE_SOURCE_MAX; no allocation. */
#define STORE_SOURCE_TOP 8
struct store_source_named {
	char name[STORE_SOURCE_NAME_MAX + 1];
	struct store_source s;
};
struct store_source_summary {
	uint64_t sources, events, gaps, missed, resets, out_of_order, bad_seq;
	uint64_t corrupt; /* records of the wrong size, left out of the sums */
	unsigned n_recent;
	struct store_source_named recent[STORE_SOURCE_TOP];
};
int store_source_summary(struct store_txn *t, unsigned top, struct store_source_summary *sum);

#endif
