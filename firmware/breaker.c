#include "firmware/breaker.h"
#include "net/providers/provider.h"

enum fw_breaker_state fw_breaker_state(const struct fw_breaker *b, uint64_t now)
{
	if (!b->open_until)
		return FW_BREAKER_CLOSED;
	return now < b->open_until ? FW_BREAKER_OPEN : FW_BREAKER_HALF_OPEN;
}

bool fw_breaker_admit(struct fw_breaker *b, uint64_t now)
{
	switch (fw_breaker_state(b, now)) {
	case FW_BREAKER_CLOSED:
		return true;
	case FW_BREAKER_OPEN:
		return false;
	case FW_BREAKER_HALF_OPEN:
		break;
	}
	if (b->trial_out && now - b->trial_at < FW_BREAKER_TRIAL_LOST_MS)
		return false;
	b->trial_out = true;
	b->trial_at = now;
	return true;
}

static uint64_t open_ms(const struct fw_breaker *b)
{
	uint64_t ms = (uint64_t)(b->open_s ? b->open_s : 1) * 1000;

	for (unsigned i = 0; i < b->reopened && ms < FW_BREAKER_OPEN_MAX_MS; i++)
		ms *= 2;
	return ms < FW_BREAKER_OPEN_MAX_MS ? ms : FW_BREAKER_OPEN_MAX_MS;
}

/* The provider did not answer: no response, a 5xx, a dropped connection. */
static bool transient(int cls)
{
	return cls == NET_TRANSIENT || cls == NET_AMBIGUOUS;
}

enum fw_breaker_change fw_breaker_outcome(struct fw_breaker *b, int cls, uint64_t now)
{
	enum fw_breaker_state st = fw_breaker_state(b, now);

	if (cls == NET_AUTH)
		return FW_BREAKER_SAME;
	if (!transient(cls)) {
		b->run = 0;
		if (st == FW_BREAKER_CLOSED)
			return FW_BREAKER_SAME;
		/* Answered while open: a request from before it opened, or
		 * the trial. Either way the provider is back. */
		b->open_until = 0;
		b->reopened = 0;
		b->trial_out = false;
		b->failbacks++;
		return FW_BREAKER_CLOSED_AGAIN;
	}
	b->run++;
	if (st == FW_BREAKER_HALF_OPEN && b->trial_out) {
		b->trial_out = false;
		b->reopened++;
		b->open_until = now + open_ms(b);
		return FW_BREAKER_SAME;
	}
	if (st != FW_BREAKER_CLOSED || b->run < (b->failures ? b->failures : 1))
		return FW_BREAKER_SAME;
	b->open_until = now + open_ms(b);
	b->trips++;
	return FW_BREAKER_OPENED;
}
