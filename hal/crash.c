/*
 * crash.c - the crash points of crash builds (hal/crash.h).
 */
#ifdef OUTPOST_CRASH_POINTS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/crash.h"
#include "hal/log.h"
#include "hal/parse.h"

static struct {
	char name[64];
	uint64_t at, hits;
	int parsed;
} crash;

static void parse(void)
{
	const char *spec = getenv("OUTPOST_CRASH");
	const char *colon = spec ? strrchr(spec, ':') : NULL;

	crash.parsed = 1;
	if (!colon || (size_t)(colon - spec) >= sizeof(crash.name))
		return;
	if (!hal_parse_u64(colon + 1, 1, UINT64_MAX, &crash.at))
		return;
	memcpy(crash.name, spec, (size_t)(colon - spec));
}

void hal_crash_point(const char *name)
{
	char line[128];
	int n;

	if (!crash.parsed)
		parse();
	if (!crash.at || strcmp(name, crash.name) != 0 || ++crash.hits < crash.at)
		return;
	hal_log_flush(); /* the lines before it, which tests read (hal_log_batch) */
	n = snprintf(line, sizeof(line), "outpostd: crash point %s, pass %llu: exiting\n", name,
		     (unsigned long long)crash.hits);
	if (n > 0 && write(2, line, (size_t)n) < 0)
		n = 0;
	_exit(HAL_CRASH_EXIT);
}
#endif
