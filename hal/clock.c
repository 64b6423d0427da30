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

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool hal_local_day(int64_t wall_ms, int64_t *day, int64_t *month)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return false;
	*day = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	*month = ((int64_t)tm.tm_year + 1900) * 12 + tm.tm_mon;
	return true;
}

int64_t hal_local_next_month(int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000), at;
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return -1;
	tm.tm_mon += 1;
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	at = mktime(&tm);
	return at == (time_t)-1 ? -1 : (int64_t)at * 1000;
}
