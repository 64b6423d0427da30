/*
 * verify.h - checks the outbox's invariants: every record decodes, the
 * state and due indexes, the per-state counters and the dedup index agree
 * with the records, and no record is in a state it cannot reach.
 *
 * For tests and tools (outpost-check, the torture runs), not for the
 * daemon's hot path: it reads every record and every index entry, O(n log n)
 * in one txn, and keeps no memory per record. It only reads, so it runs in a
 * read txn or inside a write txn (a test that just corrupted something).
 *
 * The report is a plain struct the caller owns; its texts are copies, valid
 * as long as the struct.
 */
#ifndef STORE_VERIFY_H
#define STORE_VERIFY_H

#include <stdint.h>

#include "store/outbox.h"
#include "store/store.h"

/* What kind of invariant a problem breaks. */
enum store_verify_kind {
	STORE_VERIFY_DECODE,  /* a record key or value that does not decode */
	STORE_VERIFY_STATE,   /* state index entry missing, extra or mismatched */
	STORE_VERIFY_DUE,     /* due index entry missing, extra or mismatched */
	STORE_VERIFY_COUNTER, /* meta count/<state> differs from the records */
	STORE_VERIFY_DEDUP,   /* dedup entry malformed or naming the wrong record */
	STORE_VERIFY_RECORD,  /* a record in a state it cannot be in */
	STORE_VERIFY_META,    /* schema or seq/last missing, malformed or behind */
	STORE_VERIFY_SID,     /* provider id entry missing, malformed or naming the wrong record */
	STORE_VERIFY_TRACK,   /* delivery status or poll entry malformed, orphaned or out of step */
	STORE_VERIFY__KINDS
};

#define STORE_VERIFY_NOTES 8     /* problems kept as text; the rest are counted */
#define STORE_VERIFY_NOTE_MAX 192
#define STORE_VERIFY_EXTRAS 8    /* meta counters the outbox does not own */

struct store_verify_report {
	uint64_t records;               /* records walked */
	uint64_t counts[STORE__STATES]; /* records per state, counted (not meta) */
	uint64_t state_entries, due_entries, dedup_entries, sid_entries;
	uint64_t track_entries, poll_entries;
	uint64_t seq_last, seq_max;     /* meta seq/last; highest record seq */
	uint64_t ambiguous;             /* records with STORE_F_AMBIGUOUS */
	uint64_t problems;              /* 0 = every invariant holds */
	uint64_t by_kind[STORE_VERIFY__KINDS];
	unsigned n_notes;
	char notes[STORE_VERIFY_NOTES][STORE_VERIFY_NOTE_MAX];
	/* Meta keys other than schema, seq/last and count/<state> that hold a
	 * u64, e.g. counters the daemon may keep there ("stat/reconciled"). */
	unsigned n_extras;
	struct {
		char name[48];
		uint64_t value;
	} extras[STORE_VERIFY_EXTRAS];
};

/* Fills r (zeroed first). ERR_OK when the whole store was walked, whatever
 * it found (r->problems says); ERR_INVAL for NULL arguments; ERR_STORE or
 * another ERR_* when lmdb itself failed and the walk could not finish. */
int store_verify(struct store_txn *t, struct store_verify_report *r);

const char *store_verify_kind_name(int kind); /* "decode", "state", ... */

#endif
