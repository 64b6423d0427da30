/*
 * chain.h - escalation chains (firmware/escalate.c; docs/ALERTING.md): one
 * entry per event and route with "escalate", keyed by the seq of the
 * chain's first record, with an ordered deadline index and two lookups.
 *
 *   "chain":    id (8B BE) -> encoded chain (below)
 *   "chaindue": at_ms (8B BE) ++ id (8B BE) -> empty. Every chain has
 *               exactly one entry: an open chain's step deadline (0 while
 *               the wall clock was never valid for it: "set it now"), an
 *               ended one's time to be forgotten. Read like the due index,
 *               earliest first, never by scanning the chains.
 *   "chainref": 'e' event id NUL id (8B BE) -> empty: chains of an event
 *               (an MQTT ack names the event); 't' E.164 NUL id (8B BE) ->
 *               empty: chains that messaged a number (an ACK reply comes
 *               from one). A prefix walk finds them.
 *
 * Like the rest of the store, every function works in a caller's txn, so
 * a step, an ack or a give-up commits with what caused it. Strings of a
 * chain filled by get point into the map until the txn ends or the chain
 * is written.
 */
#ifndef STORE_CHAIN_H
#define STORE_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

enum store_chain_state {
	STORE_CHAIN_OPEN = 1, /* a step's messages are out, its deadline to come */
	STORE_CHAIN_REACHED,  /* a step's messages were read (delivered) by its deadline */
	STORE_CHAIN_ACKED,    /* a recipient or a panel acknowledged */
	STORE_CHAIN_GAVE_UP,  /* the last step's deadline passed unread */
	STORE_CHAIN_STOPPED,  /* the route or its escalation went away (reload) */
	STORE_CHAIN__STATES
};
const char *store_chain_state_name(int state); /* "open", ...; "unknown" */

#define STORE_CHAIN_CUR_MAX 32 /* records of the current step */
#define STORE_CHAIN_FIRST_MAX 16 /* records of the first step (the router's fan-out) */
#define STORE_CHAIN_TO_MAX 4096 /* bytes of the numbers messaged so far */
enum { STORE_CHAIN_F_UNTIL_DELIVERED = 1 };

struct store_chain {
	uint64_t id;         /* seq of its first record */
	uint8_t state;       /* enum store_chain_state */
	uint8_t step;        /* the current step, 0 = the first */
	uint8_t flags;       /* STORE_CHAIN_F_* */
	int64_t at_ms;       /* chaindue key: deadline (0: not set yet) or time to forget */
	int64_t started_ms, updated_ms, ended_ms; /* wall ms; 0 = unknown / not ended */
	unsigned n_cur;
	uint64_t cur[STORE_CHAIN_CUR_MAX]; /* the current step's records */
	/* never NULL after a get; NULL taken as "" by put */
	const char *event_id, *route, *topic, *account, *template_name, *content_sid,
		*vars_json, *body;
	const char *reached; /* E.164 numbers messaged so far, comma-separated */
	const char *note;    /* who acknowledged ("+491*****678", "mqtt") or why it ended */
};

/* ERR_NOTFOUND; ERR_STORE for a corrupt entry. */
int store_chain_get(struct store_txn *t, uint64_t id, struct store_chain *c);
/* Writes c, moves its chaindue entry, adds its 'e' ref when new.
 * ERR_TOOBIG past the limits above. */
int store_chain_put(struct store_txn *t, const struct store_chain *c);
/* Deletes the chain, its chaindue entry and its refs (those of c->reached). */
int store_chain_del(struct store_txn *t, uint64_t id);
/* A number the chain messaged: its 't' ref (ERR_OK if there already). */
int store_chain_ref_to(struct store_txn *t, const char *e164, uint64_t id);

/* Chains of an event / that messaged a number: ids, newest first, at most max. */
int store_chain_by_event(struct store_txn *t, const char *event_id, unsigned max, uint64_t *ids,
			 unsigned *n);
int store_chain_by_to(struct store_txn *t, const char *e164, unsigned max, uint64_t *ids,
		      unsigned *n);

/* Chains whose chaindue time is at or before now_ms, earliest first, at
 * most max; *next_ms the time of the first not returned, -1 if none. */
int store_chain_due(struct store_txn *t, int64_t now_ms, unsigned max, uint64_t *ids,
		    unsigned *n, int64_t *next_ms);

#endif
