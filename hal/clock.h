/*
 * clock.h - time. Timers and timeouts use the monotonic clock; the wall clock
 * is only for stored timestamps and is trusted only once hal_clock_valid().
 *
 * A gateway without an RTC boots in 1970; a clock before the build time of
 * this binary is invalid. The sender waits for a valid clock, ingest never does.
 */
#ifndef HAL_CLOCK_H
#define HAL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

uint64_t hal_now_ms(void);  /* CLOCK_MONOTONIC in ms */
uint64_t hal_now_us(void);  /* CLOCK_MONOTONIC in us */
int64_t hal_wall_ms(void);  /* CLOCK_REALTIME in ms since the epoch */
bool hal_clock_valid(void); /* wall clock at or after the build time */
int64_t hal_build_time_ms(void);

/* The site's time zone for local times (an IANA name; NULL: UTC). Sets the
 * process's TZ, so call it before threads start or when none reads it. */
void hal_tz_set(const char *name);
/* Minute of the local day (0..1439) at wall_ms; -1 if it cannot be said. */
int hal_local_minute(int64_t wall_ms);
/* The first wall ms after wall_ms whose local time is minute-of-day `min`
 * (a day later if today's is past; DST changes are the C library's). -1 if
 * it cannot be said. */
int64_t hal_local_next(int64_t wall_ms, unsigned min);
/* The local day (days since 1970-01-01) and month (year * 12 + month - 1)
 * of wall_ms; false if they cannot be said. */
bool hal_local_day(int64_t wall_ms, int64_t *day, int64_t *month);
/* Wall ms of the next local midnight, and of the next first of a month. */
int64_t hal_local_next_month(int64_t wall_ms);

#endif
