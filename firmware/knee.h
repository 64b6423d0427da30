/*
 * knee.h - where more requests in flight stop bringing more answers: an
 * upper bound on an account's in-flight limit (docs/RETRY.md, pace).
 *
 * The pace rule (rate x smoothed answer time) trusts the account's rate. A
 * provider slower than that rate queues the requests instead of refusing
 * them: the answer time grows, rate x answer time with it, and the limit
 * climbs to sender.max_inflight, where each request costs more (its own
 * connection and TLS session, a longer queue at the provider) and brings
 * no more answers a second.
 *
 * By Little's law a provider that is not queueing answers in the same time
 * however many requests are out; one that is, in a time that grows with
 * them. So each answer's time is filed by how many requests were out when
 * it left, in bands that double (1, 2-3, 4-7, 8-15, ... 128-255): a mean per
 * band (each answer weighs 1/16). The time is the provider's alone: from
 * the request leaving (after the connection and TLS handshake, which the
 * first answers carry) to the answer, in microseconds. When a band answers
 * at least 1.8 times slower than the band below it - twice as many out,
 * nearly twice as long each: the extra ones only queued - the limit is held
 * at a quarter over the band's lower edge. Every 10 s the bound doubles
 * (the bands above it start afresh), so a provider that got faster gets
 * more again, a band at a time rather than sender.max_inflight connections
 * at once. A provider whose answer time varies for its own reasons,
 * however widely, varies alike in every band: the bound never applies.
 *
 * Pure arithmetic on the answers, tested alone.
 */
#ifndef FW_KNEE_H
#define FW_KNEE_H

#include <stdbool.h>
#include <stdint.h>

#define FW_KNEE_BANDS 9 /* 1, 2-3, 4-7, ... 128-255 and more */

struct fw_knee {
	double us[FW_KNEE_BANDS]; /* mean answer time of the band */
	unsigned n[FW_KNEE_BANDS]; /* answers filed in it (stops counting at 1000) */
	unsigned top;              /* the bound on the limit; 0 = none */
	unsigned band;             /* the band that set it */
	uint64_t until;            /* monotonic ms when it doubles */
};

/* An answer that took `us` (the provider's time, see above), sent while
 * `out` requests of its account were out (itself included), at monotonic
 * `now`. Returns whether `top` changed. */
bool fw_knee_answer(struct fw_knee *k, unsigned out, double us, uint64_t now);

#endif
