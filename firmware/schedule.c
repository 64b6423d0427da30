/*
 * schedule.c - quiet hours: a record of a route with "quiet_hours" that
 * comes due inside the window waits, as it is, until the window ends; then
 * it is due with the others held, oldest first within its lane, paced by
 * the account's tokens, and still expires when its time to live runs out.
 * A record being reconciled only asks the provider, so it is not held.
 */
#include "config/config.h"
#include "config/schedule.h"
#include "firmware/fw.h"
#include "firmware/schedule.h"
#include "hal/clock.h"
#include "store/outbox.h"

void fw_schedule_reconfigure(struct fw *fw)
{
	hal_tz_set(fw->cfg->timezone);
}

int64_t fw_schedule_hold(struct fw *fw, const struct store_msg *m, int64_t wall)
{
	const struct cfg_route *r;
	int64_t until;
	int min;

	if (m->flags & STORE_F_RECONCILE)
		return 0;
	r = cfg_route_find(fw->cfg, m->route);
	if (!r || !r->quiet.set)
		return 0;
	min = hal_local_minute(wall);
	if (min < 0 || !cfg_quiet_at(r, (unsigned)min))
		return 0;
	until = hal_local_next(wall, r->quiet.to_min);
	return until > wall ? until : 0;
}

int64_t fw_schedule_horizon_ms(const struct fw *fw)
{
	const struct cfg *cfg = fw->cfg;
	int64_t h = 0;

	for (unsigned i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].quiet.set)
			h = 25 * 3600 * 1000LL; /* a day and a daylight saving hour */
	for (unsigned i = 0; i < cfg->n_accounts; i++) {
		const struct cfg_quota *q = &cfg->accounts[i].quota;

		if (q->per_day && h < 25 * 3600 * 1000LL)
			h = 25 * 3600 * 1000LL;
		if (q->per_month || q->cost_cap_micro)
			h = 32 * 86400 * 1000LL; /* the longest month and a day */
	}
	return h;
}
