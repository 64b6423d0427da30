/*
 * logs.c - the daemon's log records into the store's log ring.
 *
 * hal/log hands every record to log_sink() (after it went to stderr or
 * syslog); the sink encodes it into a fixed buffer and nothing more: it may
 * run anywhere, inside a store txn or a curl callback, so it neither touches
 * the store nor logs. Once a second - sooner when the buffer is half full -
 * a timer writes the buffer to the ring in one txn and trims the ring to
 * log.ring_kb: a commit is an fsync, and one per log line would cost more
 * than the messages themselves.
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
	struct hal_ratelimit fail_rl;
};

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
	if (!n) {
		l->dropped++;
		return;
	}
	memcpy(l->buf + l->len, &n, 4);
	l->len += 4 + n;
	l->n++;
	if (l->timer_on && (l->n >= LOGS_MAX_RECORDS / 2 || l->len >= LOGS_MAX_BYTES / 2) &&
	    hal_timer_remaining(&l->flush) > 0)
		hal_timer_set(l->fw->loop, &l->flush, 0);
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
static int write_records(struct fw_logs *l, struct store_txn *t, unsigned n)
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
	if (rc == ERR_OK && l->dropped)
		rc = store_stat_add(t, "log_dropped", (int64_t)l->dropped);
	return rc;
}

/* The sink may add records while this runs (a store error is logged): only
 * the n taken at the start are written and removed. */
static int flush_now(struct fw_logs *l)
{
	struct fw *fw = l->fw;
	unsigned n = l->n;
	uint64_t dropped = l->dropped;
	struct store_space sp;
	struct store_txn *t = NULL;
	int rc;

	if ((!n && !dropped) || !fw->store || fw->router.txn || fw->ingest_hold[0])
		return ERR_OK;
	rc = store_make_room(fw->store, l->len * 2 + 65536, &sp);
	if (rc == ERR_OK)
		rc = store_begin(fw->store, 0, &t);
	if (rc == ERR_OK)
		rc = write_records(l, t, n);
	rc = rc == ERR_OK ? store_commit(t) : (store_abort(t), rc);
	if (rc == ERR_FULL)
		return rc; /* kept for the next try; the sink counts what overflows */
	if (rc != ERR_OK) {
		/* Never retried: a record that breaks the txn would break every one. */
		if (hal_ratelimit_ok(&l->fail_rl, 1, 60000))
			log_err("logs: %u records not written to the log ring: %s", n,
				hal_strerror(rc));
		remove_head(l, n);
		l->dropped += n;
		return rc;
	}
	l->dropped -= dropped;
	remove_head(l, n);
	return ERR_OK;
}

static void on_flush(struct hal_timer *t)
{
	struct fw_logs *l = container_of(t, struct fw_logs, flush);

	hal_timer_set(l->fw->loop, &l->flush, LOGS_FLUSH_MS);
	flush_now(l);
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
	hal_timer_set(fw->loop, &l->flush, LOGS_FLUSH_MS);
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
