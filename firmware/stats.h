/*
 * stats.h - statistics per route, account and day (docs/ALERTING.md
 * "Statistics"), and their publication on outpost/<gateway_id>/stats.
 *
 * Counts follow the outbox: the store tells this module of every record
 * added and every state change (store_set_watch), inside the transaction
 * that makes it. What a transaction counted is kept apart until that
 * transaction commits (dropped if it aborts), then waits in memory and
 * rides along with a later commit made anyway (the store's commit hook),
 * at most every FW_STATS_RIDE_MS: statistics add no commit of their own
 * while anything else commits, and one every FW_STATS_ALONE_MS at most when
 * nothing does. A clean stop writes what waits. A kill -9 loses at most
 * the counts of that last stretch, never a record.
 *
 * Days are UTC days (days since 1970-01-01) until the config has a site
 * time zone.
 */
#ifndef FW_STATS_H
#define FW_STATS_H

#include <stdint.h>

#include "store/stats.h"

struct fw;
struct store_txn;

#define FW_STATS_RIDE_MS 30000
#define FW_STATS_ALONE_MS 300000
#define FW_STATS_PUBLISH_MS 60000

/* init: after the store is open (installs the watch); start: once the
 * loop runs (timers); free: writes what waits after a clean run, removes
 * the watch. */
int fw_stats_init(struct fw *fw);
void fw_stats_start(struct fw *fw);
void fw_stats_free(struct fw *fw);

/* Counts n of kind (enum store_stat_kind) for route today, in txn t: kept
 * if t commits (t NULL: at once). The account is the route's. For the
 * counters no state change shows: events, and coalesced, escalated,
 * acknowledged for the features that count them. */
void fw_stats_count(struct fw *fw, struct store_txn *t, const char *route, int kind, uint64_t n);
/* Adds a cost in millionths of the account's currency. */
void fw_stats_cost(struct fw *fw, struct store_txn *t, const char *route, int64_t micros);

/* The day (days since 1970-01-01, UTC) of a wall-clock time. */
uint32_t fw_stats_day(const struct fw *fw, int64_t wall_ms);
uint32_t fw_stats_today(const struct fw *fw);
/* Entries of days >= from_day: what is stored with what waits in memory
 * added, in no particular order. */
int fw_stats_read(struct fw *fw, uint32_t from_day, store_stats_cb cb, void *arg);
/* Totals of today over all routes (HA's "sent today"...). */
void fw_stats_today_totals(struct fw *fw, struct store_stats *tot);

/* control/stats.c: the table per route ('r'), account ('a') or day ('d')
 * over the last `days` days, as the "stats.table" command answers it; NULL
 * with err set on failure. */
struct cJSON;
struct cJSON *fw_stats_table(struct fw *fw, int by, unsigned days, char *err, size_t errlen);
struct cJSON *fw_cmd_stats_table(struct fw *fw, const struct cJSON *req, char *err,
				 size_t errlen);

/* The store's commit hook (daemon.c). */
void fw_stats_ride(struct fw *fw, struct store_txn *t);
void fw_stats_rode(struct fw *fw, int err);

/* Tests: the wall clock the module reads (NULL: hal_wall_ms). */
void fw_stats_set_clock(struct fw *fw, int64_t (*wall_ms)(void));

#endif
