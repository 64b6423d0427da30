/*
 * knee.c - an upper bound on an account's in-flight limit from how its
 * provider's answer time grows with the requests out (knee.h).
 */
#include "firmware/knee.h"

#define KNEE_WEIGHT (1.0 / 16)
#define KNEE_MIN_N 16     /* answers a band needs before it is compared */
#define KNEE_SLOWER 1.8   /* a band this much slower than the one below: bound */
#define KNEE_HOLD_MS 10000 /* then the bound doubles */

static unsigned band_of(unsigned out)
{
	unsigned b = 0;

	while (out > 1 && b < FW_KNEE_BANDS - 1) {
		out >>= 1;
		b++;
	}
	return b;
}

/* The bound held long enough: twice as many may go, and the bands above
 * the one that set it are measured afresh. */
static void loosen(struct fw_knee *k, uint64_t now)
{
	k->top *= 2;
	k->band = k->band + 1 < FW_KNEE_BANDS - 1 ? k->band + 1 : FW_KNEE_BANDS - 1;
	for (unsigned i = k->band; i < FW_KNEE_BANDS; i++)
		k->n[i] = 0;
	k->until = now + KNEE_HOLD_MS;
}

bool fw_knee_answer(struct fw_knee *k, unsigned out, double us, uint64_t now)
{
	unsigned b = band_of(out ? out : 1), before = k->top, edge = 1u << b;

	if (k->top && now >= k->until)
		loosen(k, now);
	if (us <= 0)
		return before != k->top;
	k->us[b] = k->n[b] ? k->us[b] + (us - k->us[b]) * KNEE_WEIGHT : us;
	k->n[b] += k->n[b] < 1000;
	if (b > 0 && k->n[b] >= KNEE_MIN_N && k->n[b - 1] >= KNEE_MIN_N &&
	    k->us[b] >= KNEE_SLOWER * k->us[b - 1] && (!k->top || b <= k->band)) {
		unsigned top = edge + edge / 4 > 2 ? edge + edge / 4 : 2;

		if (top != k->top)
			k->until = now + KNEE_HOLD_MS;
		k->top = top;
		k->band = b;
	}
	return before != k->top;
}
