/*
 * upkeep.c - the store's housekeeping, once a second on the loop.
 *
 * Releases the store pages this process mapped (store_release_pages), so the
 * daemon's resident set stays a few MB whatever the backlog.
 */
#include <malloc.h>

#include "firmware/fw.h"
#include "store/store.h"

#define UPKEEP_MS 1000

static void on_upkeep(struct hal_timer *t)
{
	struct fw *fw = container_of(t, struct fw, upkeep);

	store_release_pages(fw->store);
	malloc_trim(0);
	hal_timer_set(fw->loop, &fw->upkeep, UPKEEP_MS);
}

void fw_upkeep_start(struct fw *fw)
{
	fw->upkeep.cb = on_upkeep;
	hal_timer_set(fw->loop, &fw->upkeep, UPKEEP_MS);
}
