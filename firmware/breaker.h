/*
 * breaker.h - an account's circuit breaker: whether its provider is worth
 * trying, from the outcomes of its last attempts.
 *
 * Closed: every attempt goes to the account. `failures` transient outcomes
 * in a row (no answer, 5xx, a dropped connection) open it: for `open_s` the
 * account takes nothing and its messages go to its fallback account, if it
 * has one that can send them. When that time is up one trial attempt goes
 * to the account (half-open); its success closes the breaker (messages fail
 * back), its failure opens it again for twice as long, up to 600 s.
 * A provider that answers at all (a permanent refusal, a rate limit) is up:
 * that closes the breaker too. Refused credentials are neither: the account
 * pauses (sender/outcome.c) and the breaker waits.
 *
 * Pure functions of the outcomes and a monotonic clock, tested alone.
 */
#ifndef FW_BREAKER_H
#define FW_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#define FW_BREAKER_OPEN_MAX_MS (600u * 1000)
#define FW_BREAKER_TRIAL_LOST_MS (300u * 1000)

enum fw_breaker_state { FW_BREAKER_CLOSED, FW_BREAKER_OPEN, FW_BREAKER_HALF_OPEN };

struct fw_breaker {
	unsigned failures, open_s; /* limits, from the account's config */
	unsigned run;              /* transient outcomes in a row */
	unsigned reopened;         /* failed trials since it opened */
	uint64_t open_until;       /* monotonic ms; 0 = closed */
	bool trial_out;            /* half-open: the trial attempt is on its way */
	uint64_t trial_at;         /* when it left; a trial never answered is
				      given up after FW_BREAKER_TRIAL_LOST_MS */
	uint64_t trips, failovers, failbacks; /* counted for status */
};

/* What an outcome did to the breaker, for the caller to log. */
enum fw_breaker_change { FW_BREAKER_SAME, FW_BREAKER_OPENED, FW_BREAKER_CLOSED_AGAIN };

enum fw_breaker_state fw_breaker_state(const struct fw_breaker *b, uint64_t now);
/* Whether an attempt may go to the account now; in the half-open state
 * the first caller gets the trial and later ones are refused until its
 * outcome is in. */
bool fw_breaker_admit(struct fw_breaker *b, uint64_t now);
/* An attempt's outcome (enum net_class) arrived. */
enum fw_breaker_change fw_breaker_outcome(struct fw_breaker *b, int cls, uint64_t now);

#endif
