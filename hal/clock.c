#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void hal_tz_set(const char *name)
{
	char tz[80];

	/* ":" reads the zone's file; "UTC0" is UTC without any file. */
	if (name)
		snprintf(tz, sizeof(tz), ":%s", name);
	else
		snprintf(tz, sizeof(tz), "UTC0");
	if (!getenv("TZ") || strcmp(getenv("TZ"), tz) != 0) {
		setenv("TZ", tz, 1);
		tzset();
	}
}

int hal_local_minute(int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return -1;
	return tm.tm_hour * 60 + tm.tm_min;
}

int64_t hal_local_next(int64_t wall_ms, unsigned min)
{
	time_t now = (time_t)(wall_ms / 1000), at;
	struct tm tm;

	for (int day = 0; day < 3; day++) {
		if (!localtime_r(&now, &tm))
			return -1;
		tm.tm_mday += day;
		tm.tm_hour = (int)(min / 60);
		tm.tm_min = (int)(min % 60);
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		at = mktime(&tm);
		if (at != (time_t)-1 && (int64_t)at * 1000 > wall_ms)
			return (int64_t)at * 1000;
	}
	return -1;
}
