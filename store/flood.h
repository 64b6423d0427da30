/*
 * flood.h - the "flood" DB: what flood control (firmware/flood.c) must
 * remember across events and restarts.
 *
 * A window: a route's coalescing key for one recipient -> when its window
 * ends, the digest record waiting for that end (0 if none yet), and how
 * many events it stands for. An hour: a recipient -> the hour and how many
 * events passed its cap in it. Keys are the bytes named below; values fixed
 * big-endian fields (the same on every CPU). Entries are small and few (one
 * per open window or recipient); store_flood_prune drops those that ended.
 */
#ifndef STORE_FLOOD_H
#define STORE_FLOOD_H

#include <stdint.h>

#include "store/store.h"

#define STORE_FLOOD_KEY_MAX 480 /* lmdb keys are at most 511 bytes */

struct store_window {
	int64_t end_ms;  /* wall ms the window ends */
	uint64_t digest; /* seq of the record that goes at its end, 0 = none */
	uint32_t events; /* events folded into the digest */
};

/* Key "w" route NUL key NUL recipient. ERR_NOTFOUND, ERR_TOOBIG (key). */
int store_window_get(struct store_txn *t, const char *route, const char *key, const char *to,
		     struct store_window *w);
int store_window_put(struct store_txn *t, const char *route, const char *key, const char *to,
		     const struct store_window *w);

/* Key "h" recipient: events in hour `hour` (wall ms / 3,600,000). A count
 * of another hour reads as 0. */
int store_hour_get(struct store_txn *t, const char *to, int64_t hour, uint32_t *n);
int store_hour_put(struct store_txn *t, const char *to, int64_t hour, uint32_t n);

/* Where a prune walk goes on (len 0: from the start). */
struct store_flood_cursor {
	unsigned char key[STORE_FLOOD_KEY_MAX];
	size_t len;
};

/* Looks at up to STORE_FLOOD_PRUNE_MAX entries from *c on and deletes those
 * whose window or hour ended before now_ms; *c is set for the next call
 * (len 0 once the walk reached the end). *deleted: how many. */
#define STORE_FLOOD_PRUNE_MAX 64
int store_flood_prune(struct store_txn *t, int64_t now_ms, struct store_flood_cursor *c,
		      unsigned *deleted);

#endif
