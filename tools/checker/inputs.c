/*
 * inputs.c - the two text inputs: outpost-pub's PUBACK logs and the
 * twilio-sim record.
 *
 * Both are read strictly: a line that does not parse is an input error
 * naming the file and line (exit 2), never a silent skip, because a skipped
 * line would turn into a "lost" or an "unexpected" message and send someone
 * hunting a daemon bug that is a file bug.
 *
 * The pub logs must be read first: a delivery's place in publish order is
 * needed while the sim record is read, to count reorderings in one pass.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hal/parse.h"
#include "store/outbox.h"
#include "tools/checker/check.h"

struct reader {
	const char *path;
	FILE *f;
	char *line;
	size_t cap;
	unsigned long lineno;
};

static int bad(const struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const struct reader *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "outpost-check: %s:%lu: ", r->path, r->lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static int reader_open(struct reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->f = fopen(path, "re");
	if (!r->f) {
		fprintf(stderr, "outpost-check: cannot read %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

/* The next line without its newline; NULL at the end (or on a read error,
 * which *err reports). */
static char *reader_next(struct reader *r, int *err)
{
	ssize_t n = getline(&r->line, &r->cap, r->f);

	*err = 0;
	if (n < 0) {
		if (ferror(r->f))
			*err = bad(r, "read error: %s", strerror(errno));
		return NULL;
	}
	r->lineno++;
	if (n > 0 && r->line[n - 1] == '\n')
		r->line[--n] = '\0';
	if (n > 0 && r->line[n - 1] == '\r')
		r->line[--n] = '\0';
	if ((size_t)n != strlen(r->line)) {
		*err = bad(r, "NUL byte in line");
		return NULL;
	}
	return r->line;
}

static void reader_close(struct reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->line);
}

/* "<event id> TAB <mid> TAB <ack_mono_us>" */
static int pub_line(struct ck_ledger *l, const struct reader *r, char *line)
{
	char *mid = strchr(line, '\t'), *ack = mid ? strchr(mid + 1, '\t') : NULL;
	uint64_t v;
	uint32_t e;
	struct ck_event *ev;

	if (!mid || !ack || strchr(ack + 1, '\t'))
		return bad(r, "want 3 tab-separated fields: <event id> <mid> <ack_mono_us>");
	*mid++ = '\0';
	*ack++ = '\0';
	if (!*line || strlen(line) > STORE_EVENT_ID_MAX)
		return bad(r, "event id is empty or over %u bytes", STORE_EVENT_ID_MAX);
	if (!hal_parse_u64(mid, 0, 65535, &v))
		return bad(r, "message id \"%.20s\" is not a number 0..65535", mid);
	if (!hal_parse_u64(ack, 0, UINT64_MAX, &v))
		return bad(r, "ack time \"%.20s\" is not a number", ack);
	e = ck_tab_put(&l->events, line, strlen(line), NULL);
	if (e == CK_NONE)
		return bad(r, "out of memory");
	ev = ck_tab_val(&l->events, e);
	if (ev->pub_order == 0)
		ev->pub_order = (uint32_t)++l->published;
	ev->pub_lines++;
	l->pub_lines++;
	return 0;
}

int ck_read_pub_log(struct ck_ledger *l, const char *path)
{
	struct reader r;
	char *line;
	int err = reader_open(&r, path);

	while (!err && (line = reader_next(&r, &err)))
		err = pub_line(l, &r, line);
	reader_close(&r);
	return err;
}

/* By the tests' convention the event id rides in the highest-numbered
 * template variable (tests/e2e/outpost.sh sim_refs). "" if there is none
 * or it is no event id the daemon could have taken. */
const char *ck_event_of(const struct cJSON *vars)
{
	const cJSON *it, *best = NULL;
	uint64_t best_n = 0, n;

	cJSON_ArrayForEach(it, vars) {
		if (it->string && hal_parse_u64(it->string, 1, 1000, &n) && n > best_n &&
		    cJSON_IsString(it)) {
			best = it;
			best_n = n;
		}
	}
	if (!best || strlen(best->valuestring) > STORE_EVENT_ID_MAX)
		return "";
	return best->valuestring;
}

/* Counts the delivery; the first one per pair also counts for reordering. */
static int deliver(struct ck_ledger *l, const struct reader *r, const char *id, const char *to)
{
	uint32_t e, p, rc;
	struct ck_event *ev;
	struct ck_pair *pair;
	struct ck_rcpt *rcpt;
	uint32_t order;

	to = ck_recipient(to);
	if (strlen(to) > STORE_EVENT_ID_MAX)
		return bad(r, "\"to\" is over %u bytes", STORE_EVENT_ID_MAX);
	e = ck_tab_put(&l->events, id, strlen(id), NULL);
	p = e == CK_NONE ? CK_NONE : ck_pair_put(l, e, to);
	rc = p == CK_NONE ? CK_NONE : ck_tab_put(&l->rcpts, to, strlen(to), NULL);
	if (rc == CK_NONE)
		return bad(r, "out of memory");
	ev = ck_tab_val(&l->events, e);
	ev->deliveries++;
	order = ev->pub_order;
	pair = ck_tab_val(&l->pairs, p);
	if (++pair->deliveries > 1 || order == 0)
		return 0; /* duplicates and strangers are counted elsewhere */
	rcpt = ck_tab_val(&l->rcpts, rc);
	if (rcpt->last_pub > order)
		l->reordered++;
	rcpt->last_pub = order;
	return 0;
}

static int sim_line(struct ck_ledger *l, const struct reader *r, const char *line)
{
	cJSON *o = cJSON_Parse(line);
	const cJSON *to, *vars, *dropped;
	int err;

	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return bad(r, "not a JSON object");
	}
	to = cJSON_GetObjectItemCaseSensitive(o, "to");
	vars = cJSON_GetObjectItemCaseSensitive(o, "vars");
	dropped = cJSON_GetObjectItemCaseSensitive(o, "dropped");
	if (!cJSON_IsString(to) || !to->valuestring[0])
		err = bad(r, "no \"to\" string");
	else if (!cJSON_IsObject(vars))
		err = bad(r, "no \"vars\" object");
	else
		err = deliver(l, r, ck_event_of(vars), to->valuestring);
	/* Dropped means the answer was lost, not the message: the sim took it
	 * (twilio-sim README, faults), so it counts as a delivery. */
	if (!err && cJSON_IsTrue(dropped))
		l->sim_dropped++;
	if (!err)
		l->sim_lines++;
	cJSON_Delete(o);
	return err;
}

int ck_read_sim_record(struct ck_ledger *l, const char *path)
{
	struct reader r;
	char *line;
	int err = reader_open(&r, path);

	while (!err && (line = reader_next(&r, &err)))
		err = sim_line(l, &r, line);
	reader_close(&r);
	return err;
}
