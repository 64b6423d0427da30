/*
 * store.c - the record file and the in-memory index of accepted messages.
 *
 * Every accepted message becomes one JSON line in --record, written and
 * flushed under one mutex so lines never interleave and "n" grows with the
 * line number. No fsync: tests read the file after the sim flushed it, and
 * an fsync per message would cap the sim far below the daemon it measures.
 *
 * The index keeps every message of the run for fetch and list, up to
 * --keep of them (then the oldest go): the fields a Message resource shows,
 * about 100 bytes a message. A SID encodes its sequence number (SM + 16 hex
 * of a per-run nonce + 16 hex of n), so message n lives in slot
 * (n - 1) % keep and a fetch finds it without a hash table; the array grows
 * by doubling until it holds `keep`, then wraps. From and ContentSid repeat
 * across a run, so they are interned once instead of copied per message.
 *
 * A message whose answer is dropped (--drop-after-read) was accepted: it is
 * recorded and indexed like any other, and list and fetch show it. That is
 * what a client that lost the answer must find out by listing.
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

struct entry {
	int64_t recv_us;
	const char *from, *content_sid; /* interned */
	const char *provider;           /* NULL (Twilio) or a static name */
	char *blob;                     /* "to\0vars_text\0", malloc'd */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *record;
static struct entry *idx;
static size_t idx_cap, keep;
static bool evicting;
static uint64_t next_n = 1;
static uint64_t nonce;
static char **interned; /* open addressing, at most half full */
static size_t interned_cap, interned_n;

int sim_store_open(const char *record_path, size_t keep_max)
{
	struct timespec ts;

	record = fopen(record_path, "a");
	if (!record) {
		log_err("cannot open record file %s: %m", record_path);
		return ERR_IO;
	}
	keep = keep_max;
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
	for (size_t i = 0; i < idx_cap; i++)
		free(idx[i].blob);
	free(idx);
	idx = NULL;
	idx_cap = 0;
	for (size_t i = 0; i < interned_cap; i++)
		free(interned[i]);
	free(interned);
	interned = NULL;
	interned_cap = interned_n = 0;
	pthread_mutex_unlock(&mu);
}

static size_t str_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static bool intern_grow(void)
{
	size_t cap = interned_cap ? interned_cap * 2 : 64;
	char **t = calloc(cap, sizeof(*t));

	if (!t)
		return false;
	for (size_t i = 0; i < interned_cap; i++) {
		size_t j;

		if (!interned[i])
			continue;
		for (j = str_hash(interned[i]) & (cap - 1); t[j]; j = (j + 1) & (cap - 1))
			;
		t[j] = interned[i];
	}
	free(interned);
	interned = t;
	interned_cap = cap;
	return true;
}

/* The one copy of s; NULL if out of memory. Called with mu held. */
static const char *intern(const char *s)
{
	size_t i;

	if (2 * (interned_n + 1) > interned_cap && !intern_grow())
		return NULL;
	for (i = str_hash(s) & (interned_cap - 1); interned[i]; i = (i + 1) & (interned_cap - 1))
		if (strcmp(interned[i], s) == 0)
			return interned[i];
	interned[i] = strdup(s);
	if (interned[i])
		interned_n++;
	return interned[i];
}

static void render_line(struct sim_buf *b, const struct sim_msg *m, bool dropped)
{
	sim_buf_str(b, "{\"sid\":");
	sim_buf_json(b, m->sid);
	sim_buf_str(b, ",\"to\":");
	sim_buf_json(b, m->to);
	sim_buf_str(b, ",\"from\":");
	sim_buf_json(b, m->from);
	if (m->provider) { /* Meta names a template by name and language */
		sim_buf_str(b, ",\"provider\":");
		sim_buf_json(b, m->provider);
		sim_buf_str(b, ",\"template\":");
		sim_buf_json(b, m->content_sid);
		sim_buf_str(b, ",\"language\":");
		sim_buf_json(b, m->language);
	} else {
		sim_buf_str(b, ",\"content_sid\":");
		sim_buf_json(b, m->content_sid);
	}
	sim_buf_str(b, ",\"vars\":");
	sim_buf_str(b, m->vars_json);
	if (m->header_json) {
		sim_buf_str(b, ",\"header\":");
		sim_buf_str(b, m->header_json);
	}
	if (m->user_agent) {
		sim_buf_str(b, ",\"user_agent\":");
		sim_buf_json(b, m->user_agent);
	}
	sim_buf_fmt(b, ",\"recv_us\":%" PRId64 ",\"n\":%" PRIu64, m->recv_us, m->n);
	if (dropped)
		sim_buf_str(b, ",\"dropped\":true");
	sim_buf_str(b, "}\n");
}

/* The slot for message n, growing the array while it is under `keep`.
 * Called with mu held; NULL if out of memory. */
static struct entry *slot_for(uint64_t n)
{
	size_t i = (size_t)((n - 1) % keep);

	if (i >= idx_cap) {
		size_t cap = idx_cap ? idx_cap * 2 : 1024;
		struct entry *p;

		cap = cap < keep ? cap : keep;
		p = realloc(idx, cap * sizeof(*p));
		if (!p)
			return NULL;
		memset(p + idx_cap, 0, (cap - idx_cap) * sizeof(*p));
		idx = p;
		idx_cap = cap;
	}
	return &idx[i];
}

/* Called with mu held. */
static int index_add(const struct sim_msg *m)
{
	size_t to_len = strlen(m->to), vars_len = strlen(m->vars_text);
	struct entry *e = slot_for(m->n);
	const char *from = intern(m->from), *csid = intern(m->content_sid);
	char *blob = malloc(to_len + vars_len + 2);

	if (!e || !from || !csid || !blob) {
		free(blob);
		return ERR_NOMEM;
	}
	memcpy(blob, m->to, to_len + 1);
	memcpy(blob + to_len + 1, m->vars_text, vars_len + 1);
	if (e->blob && !evicting) {
		/* Once per run: from here on list and fetch miss the oldest. */
		log_warn("--keep %zu reached: the oldest messages leave the index (list, fetch)",
			 keep);
		evicting = true;
	}
	free(e->blob); /* the message `keep` places older, if any */
	e->blob = blob;
	e->recv_us = m->recv_us;
	e->from = from;
	e->content_sid = csid;
	e->provider = m->provider;
	return ERR_OK;
}

int sim_store_add(struct sim_msg *m, bool dropped)
{
	struct sim_buf line = {0};
	int err = ERR_OK;

	pthread_mutex_lock(&mu);
	m->n = next_n;
	if (m->provider) /* not fetchable: Meta has no such call */
		snprintf(m->sid, sizeof(m->sid), "wamid.HBgL%016" PRIx64 "%016" PRIx64, nonce, m->n);
	else
		snprintf(m->sid, sizeof(m->sid), "SM%016" PRIx64 "%016" PRIx64, nonce, m->n);
	render_line(&line, m, dropped);
	if (line.oom) {
		err = ERR_NOMEM;
		goto out;
	}
	/* Indexed before it is recorded: a message in the record file must be
	 * one that list and fetch can show. */
	err = index_add(m);
	if (err != ERR_OK) {
		log_err("cannot keep message %" PRIu64 ": out of memory", m->n);
		goto out;
	}
	next_n++;
	if (fwrite(line.p, 1, line.len, record) != line.len || fflush(record) != 0) {
		log_err("cannot write the record file: %m");
		err = ERR_IO;
	}
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
	return *end == '\0' && *n > 0;
}

/* The oldest n still kept. Called with mu held. */
static uint64_t oldest_kept(void)
{
	return next_n - 1 > keep ? next_n - keep : 1;
}

/* Fills m from the entry of message n; m's strings point into the index. */
static void load(uint64_t n, struct sim_msg *m)
{
	const struct entry *e = &idx[(n - 1) % keep];

	memset(m, 0, sizeof(*m));
	snprintf(m->sid, sizeof(m->sid), "SM%016" PRIx64 "%016" PRIx64, nonce, n);
	m->n = n;
	m->recv_us = e->recv_us;
	m->from = e->from;
	m->content_sid = e->content_sid;
	m->provider = e->provider;
	m->to = e->blob;
	m->vars_text = e->blob + strlen(e->blob) + 1;
	m->vars_json = NULL; /* not kept: the record file has it */
}

bool sim_store_with(const char *sid, sim_store_fn *fn, void *arg)
{
	struct sim_msg m;
	bool found = false;
	uint64_t n;

	if (!parse_sid(sid, &n))
		return false;
	pthread_mutex_lock(&mu);
	if (n < next_n && n >= oldest_kept() && !idx[(n - 1) % keep].provider) {
		load(n, &m);
		fn(&m, arg);
		found = true;
	}
	pthread_mutex_unlock(&mu);
	return found;
}

bool sim_store_sid_n(const char *sid, uint64_t *n)
{
	return parse_sid(sid, n);
}

void sim_store_scan(uint64_t start, bool down, sim_store_fn *fn, void *arg)
{
	struct sim_msg m;
	uint64_t n, lo, hi;

	pthread_mutex_lock(&mu);
	lo = oldest_kept(); /* at least 1, so n-- below never wraps */
	hi = next_n - 1;
	if (down) {
		for (n = start < hi ? start : hi; n >= lo; n--) {
			load(n, &m);
			if (!fn(&m, arg))
				break;
		}
	} else {
		for (n = start > lo ? start : lo; n <= hi; n++) {
			load(n, &m);
			if (!fn(&m, arg))
				break;
		}
	}
	pthread_mutex_unlock(&mu);
}
