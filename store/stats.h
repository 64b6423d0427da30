/*
 * stats.h - statistics per route, account and day (the `stats` DB).
 *
 * One entry per (day, route, account): counters of what happened to the
 * records of that route on that day, a cost, and two small fixed
 * histograms of latencies (send -> delivered, send -> read) from which the
 * p50/p90/p99 are read. Nothing is kept per message: a histogram has
 * STORE_STATS_BUCKETS log-spaced buckets (each sqrt(2) wider than the one
 * before), so a day of a route costs STORE_STATS_REC_LEN bytes whatever the
 * traffic.
 *
 * The encoding is fixed-size and big-endian (docs/OUTBOX.md): armhf, arm64
 * and x86 read the same store. Days are numbered from 1970-01-01 (day 0) in
 * whatever time zone the caller chose; the store does not care.
 *
 * The functions that touch the DB work in a caller's txn (store.h). The
 * coding and histogram functions are pure.
 */
#ifndef STORE_STATS_H
#define STORE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The counters, in their on-disk order. Never reorder: add at the end and
 * bump the layout version. */
enum store_stat_kind {
	STORE_ST_EVENTS,
	STORE_ST_REJECTED,
	STORE_ST_QUEUED,
	STORE_ST_SENT,
	STORE_ST_DELIVERED,
	STORE_ST_READ,
	STORE_ST_FAILED,
	STORE_ST_EXPIRED,
	STORE_ST_SUPPRESSED,
	STORE_ST_COALESCED,
	STORE_ST_ESCALATED,
	STORE_ST_ACKNOWLEDGED,
	STORE_ST__COUNT
};
const char *store_stat_kind_name(int kind); /* "events", ...; NULL out of range */

#define STORE_STATS_BUCKETS 40
#define STORE_STATS_VERSION 1
/* version, buckets, 2 reserved bytes; counters; cost; two histograms */
#define STORE_STATS_REC_LEN (4 + 8 * STORE_ST__COUNT + 8 + 2 * 4 * STORE_STATS_BUCKETS)
/* Route and account names in a key: longer ones are refused (ERR_TOOBIG). */
#define STORE_STATS_NAME_MAX 120

enum { STORE_LAT_DELIVERED, STORE_LAT_READ, STORE_LAT__N };

struct store_stats {
	uint64_t n[STORE_ST__COUNT];
	int64_t cost_micros; /* in millionths of the account's currency */
	uint32_t lat[STORE_LAT__N][STORE_STATS_BUCKETS];
};

/* The bucket of a latency in ms: 0 for under 1 s, then bucket b holds
 * [upper(b-1), upper(b)); the last one everything above. */
unsigned store_stats_bucket(int64_t ms);
/* The upper bound of bucket b in ms (1000 * 2^(b/2), rounded); the last
 * bucket has none and gives its lower bound. */
uint64_t store_stats_bucket_ms(unsigned b);
/* The pct-th percentile (1..100) of a histogram, as the upper bound of the
 * bucket it falls in (so at most sqrt(2) too high); 0 for an empty one. */
uint64_t store_stats_percentile(const uint32_t *hist, unsigned pct);
/* into += d, counters and buckets saturating. */
void store_stats_merge(struct store_stats *into, const struct store_stats *d);
int store_stats_empty(const struct store_stats *s); /* 1 if all zero */

void store_stats_encode(const struct store_stats *s, unsigned char buf[STORE_STATS_REC_LEN]);
/* ERR_STORE for a length or version this build does not read. */
int store_stats_decode(const void *data, size_t len, struct store_stats *s);

/* Adds d to the entry of (day, route, account), creating it. ERR_TOOBIG for
 * a name over STORE_STATS_NAME_MAX. */
int store_stats_add(struct store_txn *t, uint32_t day, const char *route, const char *account,
		    const struct store_stats *d);
/* Calls cb for each entry of day >= from_day, in day order (then route,
 * account), until cb returns non-zero. */
typedef int (*store_stats_cb)(uint32_t day, const char *route, const char *account,
			      const struct store_stats *s, void *arg);
int store_stats_list(struct store_txn *t, uint32_t from_day, store_stats_cb cb, void *arg);
/* Deletes entries of days before before_day, oldest first, at most max;
 * *deleted (may be NULL) gets how many. */
int store_stats_prune(struct store_txn *t, uint32_t before_day, unsigned max, unsigned *deleted);

#endif
