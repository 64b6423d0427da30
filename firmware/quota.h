/*
 * quota.h - an account's quota at send time (config/quota.h): what it has
 * used today and this month, whether a record may go, what a sent message
 * cost, and the notices at 80 % and 100 % (docs/ALERTING.md).
 */
#ifndef FW_QUOTA_H
#define FW_QUOTA_H

#include <stdint.h>

struct cJSON;
struct cfg_account;
struct fw;
struct store_msg;
struct store_txn;

/* The accounts with a quota (at start and after a reload). */
int fw_quota_init(struct fw *fw);
void fw_quota_free(struct fw *fw);

/* Whether m may go to account ac at wall ms (its counts read in t), with
 * `pending` of its requests out, picked or answered but not recorded: 0 yes; else the wall ms it is due again (held,
 * reason in m->err_text), or -1: suppressed (the route drops past quota,
 * m->state and err_text set). */
int64_t fw_quota_admit(struct fw *fw, struct store_txn *t, const struct cfg_account *ac,
		       unsigned pending, struct store_msg *m, int64_t wall);

/* Record seq was sent (accepted by the provider) by account, in t: counts
 * it and its configured price; at 80 % and 100 % of a limit, a notice (log,
 * outpost/<gw>/events, the quota's notify recipients) in the same t. By
 * seq, read again here: a record read before a put in t may be stale. */
int fw_quota_sent(struct fw *fw, struct store_txn *t, const char *account, uint64_t seq);

/* The provider said what m cost (millionths of `unit`): replaces the
 * configured price in the month's cost, in t. */
int fw_quota_price(struct fw *fw, struct store_txn *t, const struct store_msg *m,
		   uint64_t micro, const char *unit);

void fw_quota_status(const struct fw *fw, struct cJSON *o);

#endif
