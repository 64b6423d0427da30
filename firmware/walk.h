/*
 * walk.h - the two rules every walk over a provider's list pages keeps
 * (inbound polls, reconciliation, template syncs): it stops at a page cap,
 * and it stops at a next link the driver would not follow
 * (net_list_page.refused_next: a link into another account or back to the
 * same page). A provider, proxy or mock that always names a next page then
 * costs a bounded number of requests and never leads the walk out of the
 * account. Both stops are logged (rate-limited) and counted in a struct
 * fw_walk_n, which status shows.
 */
#ifndef FW_WALK_H
#define FW_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/log.h"

struct net_list_page;

struct fw_walk_n {
	uint64_t refused; /* next links not followed */
	uint64_t capped;  /* walks stopped at their page cap */
	struct hal_ratelimit rl;
};

/* Whether a walk goes on to page->next_url after reading its `pages`th
 * page (counted from 1) of at most max. false: the walk ends here (the
 * caller still frees next_url); a refused link or the cap is counted in n,
 * said in why ("" at the last page) and logged as "<walk>: account
 * <account>: ..." - unless walk is NULL: the caller's own line says it. */
bool fw_walk_on(struct fw_walk_n *n, const char *walk, const char *account,
		const struct net_list_page *page, unsigned pages, unsigned max, char *why,
		size_t whylen);

/* Whether an inbound message's to (bare or "whatsapp:") is the account's
 * own number, its configured from (bare or "whatsapp:"). */
bool fw_walk_to_ours(const char *own_from, const char *to);

#endif
