#include <time.h>

#include "hal/clock.h"

#ifndef OUTPOST_BUILD_EPOCH
#define OUTPOST_BUILD_EPOCH 1767225600 /* 2026-01-01: a floor if the build gives none */
#endif

uint64_t hal_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t hal_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int64_t hal_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hal_build_time_ms(void)
{
	return (int64_t)OUTPOST_BUILD_EPOCH * 1000;
}

bool hal_clock_valid(void)
{
	return hal_wall_ms() >= hal_build_time_ms();
}
