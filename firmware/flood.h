/*
 * flood.h - flood control at ingest (docs/ALERTING.md): a route's
 * "coalesce" folds events of one key for one recipient inside a window into
 * one message, and "max_per_hour" caps what a recipient gets in a clock
 * hour (past it: held to the next hour, dropped, or folded into a digest
 * at the hour's end). Every event keeps a record that says where it went.
 */
#ifndef FW_FLOOD_H
#define FW_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/flood.h"

struct cJSON;
struct cfg_route;
struct fw;
struct store_msg;
struct store_txn;

/* The router renders a route's variables for the event at hand with its
 * "_more" field set to `more` (events a digest stands for besides the one
 * it shows); NULL and *why on failure. */
typedef char *(*fw_flood_render)(void *arg, unsigned more, char *why, size_t whylen);

/* What fw_flood_ingest decided; fw_flood_added finishes it. */
struct fw_flood {
	bool window;       /* a window entry to write once m has its seq */
	bool digest;       /* m is its window's new digest */
	char key[STORE_FLOOD_KEY_MAX];
	char to[32];
	const char *route;
	struct store_window w;
	char why[240];     /* m->err_text points here when set */
	char *vars;        /* m->vars_json points here when set (freed by fw_flood_done) */
};

/* Before record m (queued to m->to by route r for the event at now) is
 * added in t: may make it wait (held past the hourly cap: due set), end it
 * (dropped: suppressed with the reason; folded: suppressed, the digest it
 * went into updated) or make it a digest (due at its window's end).
 * ERR_OK, or a store error for the batch. */
int fw_flood_ingest(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
		    const struct cJSON *event, int64_t now, struct store_msg *m,
		    fw_flood_render render, void *arg, struct fw_flood *f);
/* After m was added (its seq known): writes the window. */
int fw_flood_added(struct store_txn *t, struct fw_flood *f, uint64_t seq);
void fw_flood_done(struct fw_flood *f);

/* Drops windows and hours that ended, a few at a time, at most once a
 * minute, inside a commit made anyway (the store's commit hook): pruning
 * never writes on its own. */
void fw_flood_ride(struct fw *fw, struct store_txn *t);

#endif
