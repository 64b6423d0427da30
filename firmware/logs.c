/*
 * logs.c - the daemon's log records into the store's log ring.
 *
 * hal/log hands every record to log_sink() (after it went to stderr or
 * syslog); the sink encodes it into a fixed buffer and nothing more: it may
 * run anywhere, inside a store txn or a curl callback, so it neither touches
 * the store nor logs. The buffer goes to the ring, trimmed to log.ring_kb,
 * with the next commit the daemon makes anyway (fw_logs_ride, from the
 * store's commit hook): a commit rewrites whole pages of flash and costs
 * two flushes, and one of its own per second cost more than the messages
 * themselves (docs/BENCHMARKS.md, flash wear). What no commit carries is
 * written by a timer: within a second when a record is a warning or worse,
 * or the buffer half full; within LOGS_LAZY_MS otherwise. `outpostctl logs`
 * writes what waits first. A kill -9 loses at most that much of the ring's
 * copy; stderr or syslog had every line at once.
 *
 * The buffer is bounded (LOGS_MAX_RECORDS, LOGS_MAX_BYTES). A record that
 * does not fit is dropped and counted; the count goes into the store's
 * "log_dropped" with the next write, beside the records the ring trimmed.
 * While ingest is paused for a full store, and when a write finds no room,
 * the records wait in memory: the last room in the store is the sender's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/logring.h"
#include "store/outbox.h"
#include "store/store.h"

#define LOGS_MAX_RECORDS 2000
#define LOGS_MAX_BYTES (512u << 10)
#define LOGS_FLUSH_MS 1000
#define LOGS_LAZY_MS 30000
/* A test knob: this many made-up records are written at start, so a test
 * can pull 100,000 records without logging them one by one. */
#define LOGS_FILL_ENV "OUTPOST_TEST_LOG_FILL"
#define LOGS_FILL_MAX 1000000
#define LOGS_FILL_BATCH 5000

struct fw_logs {
	struct fw *fw;
	struct hal_timer flush;
	bool timer_on;       /* the loop exists and the timer may be armed */
	unsigned char *buf;  /* records: a 4-byte length, then the encoded record */
	size_t len;
	unsigned n;
	uint64_t dropped;    /* not written for want of buffer, not yet counted */
	unsigned riding;     /* the first records, written into a commit not yet done */
	uint64_t riding_dropped;
	bool urgent;         /* a warning or worse waits */
	struct hal_ratelimit fail_rl;
};

/* The timer for what waits: LOGS_FLUSH_MS for a warning or a buffer half
 * full, LOGS_LAZY_MS otherwise; none when nothing waits. Never later than
 * it already is. */
static void arm(struct fw_logs *l)
{
	int64_t want = LOGS_LAZY_MS;

	if (!l->timer_on)
		return;
	if (!l->n && !l->dropped) {
		if (l->flush.pending)
			hal_timer_cancel(l->fw->loop, &l->flush);
		l->urgent = false;
		return;
	}
	if (l->n >= LOGS_MAX_RECORDS / 2 || l->len >= LOGS_MAX_BYTES / 2)
		want = 0;
	else if (l->urgent)
		want = LOGS_FLUSH_MS;
	if (!l->flush.pending || hal_timer_remaining(&l->flush) > want)
		hal_timer_set(l->fw->loop, &l->flush, (uint64_t)want);
}

static void log_sink(void *arg, const struct hal_log_rec *r)
{
	struct fw_logs *l = arg;
	const struct log_ctx *ctx = r->ctx;
	struct store_log_rec rec = {
		.time_ms = hal_wall_ms(),
		.level = (uint8_t)r->level,
		.module = r->module,
		.text = r->text,
		.event_id = ctx ? ctx->event_id : NULL,
		.msg_seq = ctx ? ctx->msg_seq : 0,
		.to = !ctx ? NULL : ctx->from ? ctx->from : ctx->to,
		.vars = ctx ? ctx->vars : NULL,
		.sender = ctx && ctx->from,
	};
	uint32_t n = 0;

	if (l->n < LOGS_MAX_RECORDS && LOGS_MAX_BYTES - l->len > 4)
		n = (uint32_t)store_log_encode(&rec, l->buf + l->len + 4, LOGS_MAX_BYTES - l->len - 4);
	if (n) {
		memcpy(l->buf + l->len, &n, 4);
		l->len += 4 + n;
		l->n++;
	} else {
		l->dropped++;
	}
	if (r->level <= LOG_WARNING)
		l->urgent = true;
	arm(l);
}

/* Bytes the first n records take in the buffer. */
static size_t head_bytes(const struct fw_logs *l, unsigned n)
{
	size_t off = 0;
	uint32_t len;

	for (unsigned i = 0; i < n; i++) {
		memcpy(&len, l->buf + off, 4);
		off += 4 + len;
	}
	return off;
}

static void remove_head(struct fw_logs *l, unsigned n)
{
	size_t used = head_bytes(l, n);

	memmove(l->buf, l->buf + used, l->len - used);
	l->len -= used;
	l->n -= n;
}

/* Writes the first n records of the buffer and the drop count in txn t. */
static int write_records(struct fw_logs *l, struct store_txn *t, unsigned n, uint64_t dropped)
{
	size_t off = 0;
	uint32_t len;
	int rc = ERR_OK;

	for (unsigned i = 0; i < n && rc == ERR_OK; i++) {
		memcpy(&len, l->buf + off, 4);
		rc = store_log_append(t, l->buf + off + 4, len, NULL);
		off += 4 + len;
	}
	if (rc == ERR_OK)
		rc = store_log_trim(t, (uint64_t)l->fw->cfg->log.ring_kb << 10, NULL);
	if (rc == ERR_OK && dropped)
		rc = store_stat_add(t, "log_dropped", (int64_t)dropped);
	return rc;
}

/* Whether the records may go into a commit now: the last room in the store
 * is the sender's (ingest's reserve, firmware/upkeep.c), and records wait
 * in memory while ingest is paused for want of it. */
static bool room_for(struct fw_logs *l)
{
	struct fw *fw = l->fw;
	struct store_space sp;

	return !fw->ingest_hold[0] &&
	       store_space(fw->store, l->len * 2 + 65536, &sp) == ERR_OK &&
	       sp.room >= l->len * 2 + 65536 + fw->ingest_reserve;
}

/*
 * The records that wait, into t in a nested txn: a record that breaks it
 * breaks only that txn, and is dropped (counted) rather than retried, since
 * it would break every one. They leave the buffer once t's commit is done
 * (fw_logs_rode). The sink may add records meanwhile: only the n taken here
 * ride.
 */
static int write_all(struct store_txn *t, void *arg)
{
	struct fw_logs *l = arg;

	return write_records(l, t, l->riding, l->riding_dropped);
}

void fw_logs_ride(struct fw *fw, struct store_txn *t)
{
	struct fw_logs *l = fw->logs;
	unsigned n;
	int rc;

	if (!l || l->riding || l->riding_dropped || (!l->n && !l->dropped) || !room_for(l))
		return;
	n = l->riding = l->n; /* what write_all writes */
	l->riding_dropped = l->dropped;
	rc = store_nested_run(t, write_all, l);
	if (rc != ERR_OK) {
		l->riding = 0;
		l->riding_dropped = 0;
	}
	if (rc != ERR_OK && rc != ERR_FULL) {
		if (hal_ratelimit_ok(&l->fail_rl, 1, 60000))
			log_err("logs: %u records not written to the log ring: %s", n,
				hal_strerror(rc));
		remove_head(l, n);
		l->dropped += n;
	}
}

void fw_logs_rode(struct fw *fw, int err)
{
	struct fw_logs *l = fw->logs;

	if (!l || (!l->riding && !l->riding_dropped))
		return;
	if (err == ERR_OK) {
		remove_head(l, l->riding);
		l->dropped -= l->riding_dropped;
		if (!l->n)
			l->urgent = false;
	}
	l->riding = 0;
	l->riding_dropped = 0;
	arm(l);
}

/* What waits, in a commit of its own (receipts to delete ride along). */
static int flush_now(struct fw_logs *l)
{
	struct fw *fw = l->fw;
	struct store_space sp;
	struct store_txn *t = NULL;
	int rc;

	if ((!l->n && !l->dropped) || !fw->store || fw->router.txn || fw->ingest_hold[0])
		return ERR_OK;
	rc = store_make_room(fw->store, l->len * 2 + 65536, &sp);
	if (rc == ERR_OK)
		rc = store_begin(fw->store, 0, &t);
	if (rc == ERR_OK)
		fw_logs_ride(fw, t); /* the commit below runs the hook: it rides once */
	return rc == ERR_OK ? store_commit(t) : rc;
}

static void on_flush(struct hal_timer *t)
{
	struct fw_logs *l = container_of(t, struct fw_logs, flush);

	flush_now(l);
	arm(l); /* what is left: a full store, records added meanwhile */
}

int fw_logs_flush(struct fw *fw)
{
	return fw->logs ? flush_now(fw->logs) : ERR_OK;
}

uint64_t fw_logs_pending_dropped(const struct fw *fw)
{
	return fw->logs ? fw->logs->dropped : 0;
}

int fw_logs_init(struct fw *fw)
{
	struct fw_logs *l = calloc(1, sizeof(*l));

	if (!l || !(l->buf = malloc(LOGS_MAX_BYTES))) {
		free(l);
		return ERR_NOMEM;
	}
	l->fw = fw;
	l->flush.cb = on_flush;
	fw->logs = l;
	hal_log_set_sink(log_sink, l);
	return ERR_OK;
}

/* OUTPOST_TEST_LOG_FILL=N: N records "fill N" at level debug, written in
 * batches of LOGS_FILL_BATCH per txn before the daemon takes events. */
static void test_fill(struct fw *fw)
{
	const char *v = getenv(LOGS_FILL_ENV);
	unsigned char enc[128];
	char text[48];
	long want = v ? strtol(v, NULL, 10) : 0;
	struct store_txn *t = NULL;
	int rc = ERR_OK;

	if (want <= 0 || want > LOGS_FILL_MAX)
		return;
	for (long i = 0; i < want && rc == ERR_OK; i++) {
		struct store_log_rec r = {.time_ms = hal_wall_ms(), .level = LOG_DEBUG,
					  .module = "test", .text = text};
		size_t len;

		snprintf(text, sizeof(text), "fill %ld of %ld", i + 1, want);
		len = store_log_encode(&r, enc, sizeof(enc));
		if (!t)
			rc = store_begin(fw->store, 0, &t);
		if (rc == ERR_OK)
			rc = store_log_append(t, enc, len, NULL);
		if (rc == ERR_OK && ((i + 1) % LOGS_FILL_BATCH == 0 || i + 1 == want)) {
			rc = store_log_trim(t, (uint64_t)fw->cfg->log.ring_kb << 10, NULL);
			rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
			t = NULL;
		}
	}
	store_abort(t);
	log_info("logs: %s: %ld test records written: %s", LOGS_FILL_ENV, want, hal_strerror(rc));
}

void fw_logs_start(struct fw *fw)
{
	struct fw_logs *l = fw->logs;

	if (!l)
		return;
	test_fill(fw);
	l->timer_on = true;
	arm(l);
}

void fw_logs_free(struct fw *fw)
{
	struct fw_logs *l = fw->logs;

	if (!l)
		return;
	hal_log_set_sink(NULL, NULL);
	if (l->timer_on)
		hal_timer_cancel(fw->loop, &l->flush);
	if (fw->exit_code == 0 && flush_now(l) != ERR_OK)
		log_warn("logs: %u records could not be written to the log ring at exit", l->n);
	free(l->buf);
	free(l);
	fw->logs = NULL;
}
