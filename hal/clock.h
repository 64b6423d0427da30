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

#endif
