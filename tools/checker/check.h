/*
 * check.h - outpost-check's internals: a string-keyed hash table (tab.c),
 * the readers of its three inputs (pubs.c, sims.c, outbox.c) and the
 * ledger they fill, which main.c turns into a verdict.
 *
 * Everything is keyed by event id, so the cost is O(events + deliveries +
 * records) whatever their order: a 200,000-event run checks in about a
 * second. Keys are copied into the table's arena; a value pointer from
 * ck_tab_val() stays valid only until the next ck_tab_put() on that table
 * (the value array may move), so the ledger passes indexes around.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/verify.h"

#define CK_NONE UINT32_MAX

struct ck_tab {
	uint32_t *slots;   /* entry index + 1; 0 = empty; open addressing */
	size_t nslots;     /* a power of two, at least twice n */
	struct ck_key *keys;
	unsigned char *vals;
	size_t n, cap, val_size;
	struct ck_chunk *arena;
};

void ck_tab_init(struct ck_tab *t, size_t val_size);
void ck_tab_free(struct ck_tab *t); /* accepts a zeroed table */
/* The entry for key, created (value zeroed) if new; CK_NONE if out of
 * memory. *created may be NULL. */
uint32_t ck_tab_put(struct ck_tab *t, const char *key, size_t len, bool *created);
uint32_t ck_tab_get(const struct ck_tab *t, const char *key, size_t len); /* or CK_NONE */
void *ck_tab_val(const struct ck_tab *t, uint32_t i);
const char *ck_tab_key(const struct ck_tab *t, uint32_t i, size_t *len);

/* One event id. */
struct ck_event {
	uint32_t pub_order;    /* 1-based position in the pub logs; 0 = never published */
	uint32_t pub_lines;    /* PUBACK lines naming it (more than 1: published again) */
	uint32_t records;      /* outbox records with a recipient (not suppressed) */
	uint32_t suppressed;   /* SUPPRESSED records (its redeliveries) */
	uint32_t deliveries;   /* sim lines */
	uint32_t coalesced;    /* records folded into a digest, or a digest showing another */
	bool rejected;         /* a REJECTED record without a recipient */
	bool lost;
};

/* One (event id, recipient): the unit that is delivered or not. */
struct ck_pair {
	uint32_t event;        /* index in the events table */
	uint32_t records;      /* outbox records for it */
	uint32_t terminal;     /* of which failed, expired or rejected */
	uint32_t deliveries;   /* sim lines */
	uint32_t ambiguous;    /* of its records, those flagged ambiguous */
	uint8_t state;         /* state of its latest record */
};

/* Per recipient: for counting deliveries that overtook one another. */
struct ck_rcpt {
	uint32_t last_pub; /* pub_order of its last delivery */
};

struct ck_ledger {
	struct ck_tab events, pairs, rcpts;
	uint64_t pub_lines;    /* PUBACK lines read */
	uint64_t published;    /* distinct event ids in them */
	uint64_t sim_lines;    /* accepted messages in the sim record */
	uint64_t sim_dropped;  /* of which the sim closed without answering */
	uint64_t unexpected;   /* deliveries of ids neither published nor in the outbox */
	uint64_t reordered;
	uint64_t records, ambiguous, idless, unfinished;
	uint64_t states[32];   /* records per state */
	struct store_verify_report verify;
	bool verified, walk_failed;
};

#define CK_LOST_IDS 20 /* lost ids listed; the rest are counted */

struct ck_totals {
	uint64_t published, delivered, lost, duplicated, unexpected, ambiguous, reordered;
	uint64_t absorbed;    /* id-less bad events matched to id-less rejections */
	uint64_t coalesced;   /* events accounted for by flood control's digests */
	uint64_t dup_plain;   /* duplicates of pairs with no ambiguous record */
	uint32_t lost_ids[CK_LOST_IDS]; /* event indexes, in publish order */
	unsigned n_lost_ids;
	uint32_t dup_pairs[CK_LOST_IDS]; /* pair indexes of duplicates, first ones */
	unsigned n_dup_pairs;
	bool pass;
};

void ck_ledger_init(struct ck_ledger *l);
void ck_ledger_free(struct ck_ledger *l);
/* Recipient as compared: the sim sees "whatsapp:+49...", the outbox "+49...". */
const char *ck_recipient(const char *to);
/* The (event, recipient) pair, created if new; CK_NONE if out of memory. */
uint32_t ck_pair_put(struct ck_ledger *l, uint32_t event, const char *to);

/* The event id a message's variables carry (the highest-numbered one, by
 * the tests' convention); "" if none. */
struct cJSON;
const char *ck_event_of(const struct cJSON *vars);

/* Counts everything and decides PASS or FAIL. */
void ck_judge(struct ck_ledger *l, struct ck_totals *t);

/* Readers: 0 on success; 2 after printing "FILE:LINE: what" to stderr. */
int ck_read_pub_log(struct ck_ledger *l, const char *path);
int ck_read_sim_record(struct ck_ledger *l, const char *path);
/* 0 when the store was read (verify problems are in l->verify); 2 if it
 * could not be opened at all. */
int ck_read_outbox(struct ck_ledger *l, const char *dir);

#endif
