#include "firmware/retry.h"
#include "net/providers/provider.h"

#define MIN_DELAY_MS 50

uint64_t fw_backoff_ms(unsigned attempt, const struct fw_retry_policy *p, uint32_t rnd)
{
	uint64_t ceiling = p->base_ms;

	for (unsigned i = 1; i < attempt && ceiling < p->cap_ms; i++)
		ceiling *= 2;
	if (ceiling > p->cap_ms)
		ceiling = p->cap_ms;
	uint64_t d = ceiling ? rnd % (ceiling + 1) : 0;
	return d < MIN_DELAY_MS ? MIN_DELAY_MS : d;
}

enum fw_next fw_retry_next(int cls, unsigned attempt, long retry_after_s,
			   const struct fw_retry_policy *p, uint32_t rnd, uint64_t *delay_ms)
{
	switch (cls) {
	case NET_OK:
		return FW_NEXT_SENT;
	case NET_AUTH:
		/* Wrong credentials fail every message alike: burning each
		 * message's attempts would turn one config error into mass
		 * failure. Pause the account instead. */
		return FW_NEXT_PAUSE;
	case NET_PERMANENT:
	case NET_OPTED_OUT:
	case NET_WINDOW:
	case NET_TEMPLATE:
		return FW_NEXT_FAILED;
	default:
		break;
	}
	if (attempt >= p->max_attempts)
		return FW_NEXT_EXPIRED;
	if (cls == NET_RATE && retry_after_s > 0) {
		long s = retry_after_s > (long)p->retry_after_max_s ? (long)p->retry_after_max_s
								   : retry_after_s;
		*delay_ms = (uint64_t)(s < 1 ? 1 : s) * 1000;
		return FW_NEXT_RETRY;
	}
	*delay_ms = fw_backoff_ms(attempt, p, rnd);
	return FW_NEXT_RETRY;
}
