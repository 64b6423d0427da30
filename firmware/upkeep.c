/*
 * upkeep.c - the store's housekeeping, once a second on the loop, and the
 * pause of ingest while the store is full.
 *
 * Each tick: prunes finished records older than store.keep_done (a few
 * hundred per state per tick, so a tick stays short); resumes ingest if it
 * was paused for want of room and room is back; every minute clears reader
 * slots of dead processes (a killed `outpostctl` would otherwise pin freed
 * pages and make the file grow); and unmaps the store pages this process
 * touched, so the daemon's resident set stays a few MB whatever the backlog.
 * 5 s after start and then every minute it also lets go of the code pages
 * mapped since (hal/mem.h): start-up's, a burst's.
 *
 * Idle, it touches no txn: every txn, even one that writes nothing, dirties
 * a page of lmdb's lock file (its writer mutex, a reader slot), which the
 * kernel then writes to flash. A prune pass that found nothing is tried
 * again after a hundredth of keep_done (1 s..1 h), at once while ingest is
 * paused for room; reader slots are checked only after commits.
 *
 * Store full: ingest needs `reserve` bytes of room before a batch starts
 * (1/16 of what the store can hold, 256 KiB..16 MiB), so the sender, which must
 * always be able to record an outcome, keeps the last part of the store to
 * itself. When there is no room even after growing the map, ingest pauses:
 * the broker keeps the events, unacknowledged, and status says why.
 */
#include <malloc.h>
#include <stdio.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/mem.h"
#include "net/mqtt.h"
#include "store/outbox.h"
#include "store/store.h"

#define UPKEEP_MS 1000
#define READER_CHECK_EVERY 60
#define CODE_RELEASE_FIRST 5
#define CODE_RELEASE_EVERY 60
#define PRUNE_PER_STATE 256
#define PRUNE_IDLE_MAX_MS (3600 * 1000)

/* 1/16 of what the store can hold - store.max_size_mb, or less when the
 * disk is smaller - within 256 KiB..16 MiB. Worked out once a second by
 * upkeep, not per batch: it costs a statvfs. */
static void update_reserve(struct fw *fw)
{
	struct store_space sp;
	uint64_t cap = (uint64_t)fw->cfg->store.max_size_mb << 20, r;

	if (store_space(fw->store, 0, &sp) == ERR_OK && sp.used + sp.disk_free < cap)
		cap = sp.used + sp.disk_free;
	r = cap / 16;
	if (r < (256u << 10))
		r = 256u << 10;
	if (r > (16u << 20))
		r = 16u << 20;
	fw->ingest_reserve = r;
}

int fw_ingest_room(struct fw *fw)
{
	struct store_space sp;
	int rc;

	if (!fw->ingest_reserve)
		update_reserve(fw);
	rc = store_make_room(fw->store, fw->ingest_reserve, &sp);

	if (rc == ERR_OK || rc != ERR_FULL)
		return rc;
	if (!fw->ingest_hold[0]) {
		snprintf(fw->ingest_hold, sizeof(fw->ingest_hold),
			 sp.disk_limited ? "disk full: %llu KiB free for the store, %llu KiB used"
					 : "store full: %llu KiB left of %llu KiB (store.max_size_mb)",
			 (unsigned long long)(sp.room >> 10),
			 (unsigned long long)((sp.disk_limited ? sp.used : sp.max) >> 10));
		fw_error(fw, "ingest paused, events stay with the broker: %s", fw->ingest_hold);
		net_mqtt_pause(fw->mqtt, true);
	}
	return ERR_FULL;
}

static void resume_if_room(struct fw *fw)
{
	struct store_space sp;

	if (!fw->ingest_hold[0] || fw->stopping)
		return;
	if (store_make_room(fw->store, fw->ingest_reserve, &sp) != ERR_OK)
		return;
	log_info("store has room again (%llu KiB): ingest resumed",
		 (unsigned long long)(sp.room >> 10));
	fw->ingest_hold[0] = '\0';
	net_mqtt_pause(fw->mqtt, false);
}

/* One txn: up to PRUNE_PER_STATE of each final state. */
static void prune(struct fw *fw)
{
	static const int final[] = {STORE_SENT, STORE_DELIVERED, STORE_READ, STORE_UNDELIVERED,
				    STORE_FAILED, STORE_EXPIRED, STORE_REJECTED, STORE_SUPPRESSED};
	struct store_prune p = {.max = PRUNE_PER_STATE};
	struct store_txn *t;
	int rc;

	int64_t idle_ms = fw->cfg->store.keep_done_s * 10; /* a hundredth, in ms */
	uint64_t mono = hal_now_ms();

	if (!hal_clock_valid()) /* "older than 7 days" means nothing in 1970 */
		return;
	if (idle_ms > PRUNE_IDLE_MAX_MS)
		idle_ms = PRUNE_IDLE_MAX_MS;
	if (!fw->ingest_hold[0] && fw->prune_idle_ms && mono - fw->prune_idle_ms < (uint64_t)idle_ms)
		return;
	p.now_ms = hal_wall_ms();
	p.created_before_ms = p.now_ms - fw->cfg->store.keep_done_s * 1000;
	rc = store_begin(fw->store, 0, &t);
	for (size_t i = 0; rc == ERR_OK && i < sizeof(final) / sizeof(final[0]); i++)
		rc = store_outbox_prune(t, final[i], &p);
	fw->prune_idle_ms = rc == ERR_OK && !(p.pruned + p.restamped) ? mono : 0;
	if (rc != ERR_OK || !(p.pruned + p.restamped)) {
		store_abort(t);
	} else if ((rc = store_commit(t)) == ERR_OK) {
		fw->n.pruned += p.pruned;
		log_debug("upkeep: pruned %u finished records older than %llds; %u stamped in 1970 "
			  "now count from today", p.pruned, (long long)fw->cfg->store.keep_done_s,
			  p.restamped);
	}
	if (rc != ERR_OK && rc != ERR_FULL)
		fw_fatal(fw, "pruning finished records", rc);
}

/* Start-up (config, vault, TLS set-up, the first template sync) leaves
 * code mapped that the idle loop does not run (hal/mem.h): once it is
 * over, 5 s after start if it has not said so by then, and every minute. */
static void release_code(const char *when)
{
	log_debug("%s: %zu KiB of code pages let go", when, hal_mem_release_code());
}

static void on_upkeep(struct hal_timer *t)
{
	struct fw *fw = container_of(t, struct fw, upkeep);

	hal_timer_set(fw->loop, &fw->upkeep, UPKEEP_MS);
	prune(fw);
	update_reserve(fw);
	resume_if_room(fw);
	if (++fw->upkeep_ticks % READER_CHECK_EVERY == 0 &&
	    store_commits(fw->store) != fw->reader_checked) {
		fw->reader_checked = store_commits(fw->store);
		store_reader_check(fw->store);
	}
	store_release_pages(fw->store);
	malloc_trim(0);
	if (fw->upkeep_ticks % CODE_RELEASE_EVERY == CODE_RELEASE_FIRST)
		release_code("upkeep");
}

void fw_upkeep_startup_over(struct fw *fw)
{
	if (fw->startup_released || fw->upkeep_ticks >= CODE_RELEASE_FIRST)
		return;
	fw->startup_released = true;
	release_code("start-up over");
}

void fw_upkeep_start(struct fw *fw)
{
	fw->upkeep.cb = on_upkeep;
	hal_timer_set(fw->loop, &fw->upkeep, UPKEEP_MS);
}
