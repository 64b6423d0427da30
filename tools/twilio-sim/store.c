/*
 * store.c - the record file and the ring of recent messages.
 *
 * Every accepted message becomes one JSON line in --record, written and
 * flushed under one mutex so lines never interleave and "n" grows with the
 * line number. No fsync: tests read the file after the sim flushed it, and
 * an fsync per message would cap the sim far below the daemon it measures.
 *
 * The ring keeps the last `keep` record lines for GET .../Messages/{Sid}.
 * A SID encodes its sequence number (SM + 16 hex of a per-run nonce + 16 hex
 * of n), so a fetch finds its slot as n % keep without a hash table; the
 * slot's line is checked against the full SID because it may have been
 * overwritten by a newer message (then the fetch answers 404, as Twilio
 * would for an unknown SID).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/err.h"
#include "hal/log.h"
#include "tools/twilio-sim/sim.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *record;
static char **ring;
static size_t ring_len;
static uint64_t next_n = 1;
static uint64_t nonce;

int sim_store_open(const char *record_path, size_t keep)
{
	struct timespec ts;

	record = fopen(record_path, "a");
	if (!record) {
		log_err("cannot open record file %s: %m", record_path);
		return ERR_IO;
	}
	ring = calloc(keep, sizeof(*ring));
	if (!ring) {
		fclose(record);
		record = NULL;
		return ERR_NOMEM;
	}
	ring_len = keep;
	/* The nonce keeps SIDs unique across sim restarts on one record file;
	 * uniqueness, not secrecy, is what tests rely on. */
	clock_gettime(CLOCK_REALTIME, &ts);
	nonce = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
	return ERR_OK;
}

void sim_store_close(void)
{
	pthread_mutex_lock(&mu);
	if (record) {
		fflush(record);
		fclose(record);
		record = NULL;
	}
	for (size_t i = 0; i < ring_len; i++)
		free(ring[i]);
	free(ring);
	ring = NULL;
	ring_len = 0;
	pthread_mutex_unlock(&mu);
}

static void render_line(struct sim_buf *b, const struct sim_msg *m, bool dropped)
{
	sim_buf_str(b, "{\"sid\":");
	sim_buf_json(b, m->sid);
	sim_buf_str(b, ",\"to\":");
	sim_buf_json(b, m->to);
	sim_buf_str(b, ",\"from\":");
	sim_buf_json(b, m->from);
	sim_buf_str(b, ",\"content_sid\":");
	sim_buf_json(b, m->content_sid);
	sim_buf_str(b, ",\"vars\":");
	sim_buf_str(b, m->vars_json);
	sim_buf_fmt(b, ",\"recv_us\":%" PRId64 ",\"n\":%" PRIu64, m->recv_us, m->n);
	if (dropped)
		sim_buf_str(b, ",\"dropped\":true");
	sim_buf_str(b, "}\n");
}

int sim_store_add(struct sim_msg *m, bool dropped)
{
	struct sim_buf line = {0};
	int err = ERR_OK;

	pthread_mutex_lock(&mu);
	m->n = next_n++;
	snprintf(m->sid, sizeof(m->sid), "SM%016" PRIx64 "%016" PRIx64, nonce, m->n);
	render_line(&line, m, dropped);
	if (line.oom) {
		err = ERR_NOMEM;
		goto out;
	}
	if (fwrite(line.p, 1, line.len, record) != line.len || fflush(record) != 0) {
		log_err("cannot write the record file: %m");
		err = ERR_IO;
		goto out;
	}
	free(ring[m->n % ring_len]);
	ring[m->n % ring_len] = line.p;
	line.p = NULL;
out:
	pthread_mutex_unlock(&mu);
	sim_buf_free(&line);
	return err;
}

static bool parse_sid(const char *sid, uint64_t *n)
{
	char want[17];
	char *end;

	if (strlen(sid) != SIM_SID_LEN || strncmp(sid, "SM", 2) != 0)
		return false;
	snprintf(want, sizeof(want), "%016" PRIx64, nonce);
	if (strncmp(sid + 2, want, 16) != 0)
		return false;
	*n = strtoull(sid + 18, &end, 16);
	return *end == '\0';
}

char *sim_store_get(const char *sid)
{
	char needle[SIM_SID_LEN + 16];
	char *copy = NULL;
	const char *line;
	uint64_t n;

	if (!parse_sid(sid, &n))
		return NULL;
	snprintf(needle, sizeof(needle), "{\"sid\":\"%s\"", sid);
	pthread_mutex_lock(&mu);
	line = ring ? ring[n % ring_len] : NULL;
	if (line && strncmp(line, needle, strlen(needle)) == 0)
		copy = strdup(line);
	pthread_mutex_unlock(&mu);
	return copy;
}
