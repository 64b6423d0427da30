/*
 * walk.c - the page cap and the refused next link of a list walk
 * (firmware/walk.h).
 */
#include <stdio.h>
#include <string.h>

#include "firmware/walk.h"
#include "hal/log.h"
#include "net/providers/provider.h"

/* A refused link comes back on every poll; a few lines an hour say so,
 * the counters say how often. */
#define LOG_BURST 3
#define LOG_EVERY_MS (3600 * 1000)

bool fw_walk_on(struct fw_walk_n *n, const char *walk, const char *account,
		const struct net_list_page *page, unsigned pages, unsigned max, char *why,
		size_t whylen)
{
	if (whylen)
		why[0] = '\0';
	if (page->refused_next) {
		n->refused++;
		snprintf(why, whylen, "%s", page->text);
	} else if (!page->next_url) {
		return false; /* the last page: nothing to say */
	} else if (pages >= max) {
		n->capped++;
		snprintf(why, whylen, "stopped at %u pages (the cap) with more to come", max);
	} else {
		return true;
	}
	if (walk && hal_ratelimit_ok(&n->rl, LOG_BURST, LOG_EVERY_MS))
		log_warn("%s: account %s: %s; the walk ends here%s", walk, account, why,
			 n->rl.suppressed ? " (similar lines suppressed)" : "");
	return false;
}

static const char *bare(const char *addr)
{
	return addr && strncmp(addr, "whatsapp:", 9) == 0 ? addr + 9 : addr;
}

bool fw_walk_to_ours(const char *own_from, const char *to)
{
	const char *own = bare(own_from), *t = bare(to);

	return own && t && *own && strcmp(own, t) == 0;
}
