/*
 * retry.h - what happens to a message after an attempt: the retry policy.
 *
 * Pure functions of the attempt's outcome class (net/providers/provider.h),
 * the attempt count and the configured limits, so they can be tested alone.
 */
#ifndef FW_RETRY_H
#define FW_RETRY_H

#include <stdint.h>

struct fw_retry_policy {
	unsigned max_attempts;
	unsigned base_ms, cap_ms;  /* capped exponential backoff */
	unsigned retry_after_max_s;
};

enum fw_next {
	FW_NEXT_SENT = 1,   /* accepted by the provider */
	FW_NEXT_RETRY,      /* try again at *delay_ms */
	FW_NEXT_FAILED,     /* permanent: the provider's code says no */
	FW_NEXT_EXPIRED,    /* out of attempts */
	FW_NEXT_PAUSE,      /* the account's credentials were refused */
	FW_NEXT_SUPPRESSED, /* the recipient opted out (firmware/consent.c) */
};

/* Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], at least 50 ms.
 * `rnd` is a uniformly random 32-bit value. */
uint64_t fw_backoff_ms(unsigned attempt, const struct fw_retry_policy *p, uint32_t rnd);

/* Decides the next state from the outcome class of attempt number `attempt`
 * (1-based). For FW_NEXT_RETRY, *delay_ms is set: Retry-After when the
 * provider gave one (clamped to [1 s, retry_after_max_s]), else backoff. */
enum fw_next fw_retry_next(int cls, unsigned attempt, long retry_after_s,
			   const struct fw_retry_policy *p, uint32_t rnd, uint64_t *delay_ms);

#endif
