/*
 * logs.c - `outpostctl logs`: the daemon's log ring, page by page from a
 * sequence number to the newest record, then (--follow) whatever comes.
 *
 * Every page names the next sequence number to ask for, so nothing is read
 * twice and nothing is skipped; a gap between what was asked for and the
 * oldest record kept means the ring dropped records before they were read,
 * and the tool says so on stderr. A long pull shows a progress bar on
 * stderr when it is a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/clock.h"
#include "tools/outpostctl/octl.h"

#define PAGE_RECORDS 5000     /* the daemon cuts a page shorter by bytes */
#define FOLLOW_POLL_MS 500
#define FOLLOW_BACKLOG 10     /* --follow without --since starts this far back */

static const char *const levels[] = {"error", "err", "warn", "warning", "notice", "info",
				     "debug", "crit", "alert", "emerg"};

struct pull {
	const struct octl_opts *o;
	unsigned long limit;   /* --limit, 0 = none */
	const char *path;
	uint64_t since;        /* the next seq to ask for */
	uint64_t start, last;  /* for the progress bar */
	unsigned long printed;
	struct octl_bar bar;
};

static bool level_known(const char *s)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(s, levels[i]) == 0)
			return true;
	return false;
}

static cJSON *page_request(const struct pull *p, unsigned limit)
{
	cJSON *req = cJSON_CreateObject();

	if (!req || !cJSON_AddStringToObject(req, "cmd", "logs") ||
	    !cJSON_AddNumberToObject(req, "since", (double)p->since) ||
	    !cJSON_AddNumberToObject(req, "limit", limit) ||
	    (p->o->level && !cJSON_AddStringToObject(req, "level", p->o->level)) ||
	    (p->o->unmasked && !cJSON_AddBoolToObject(req, "unmasked", true))) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static uint64_t num_or(const cJSON *o, const char *key, uint64_t dflt)
{
	double v;

	return octl_num(o, key, &v) && v >= 0 ? (uint64_t)v : dflt;
}

/* "2024-05-01 12:00:00.123" in local time. */
static void fmt_time(char *buf, size_t len, double ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	if (!localtime_r(&s, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%s.%03d", day, (int)((uint64_t)ms % 1000));
}

static void put_field(const char *name, const char *value, bool *first)
{
	fputs(*first ? " [" : " ", stdout);
	*first = false;
	printf("%s=", name);
	octl_put_text(stdout, value, 0, 0);
}

/* One record on one line: seq, time, level, module: text [context]. */
static void put_record(const cJSON *r)
{
	const cJSON *vars = cJSON_GetObjectItemCaseSensitive(r, "vars");
	const char *ev = octl_str(r, "event_id"), *to = octl_str(r, "to");
	const char *from = octl_str(r, "from");
	char when[48], msg[24], *vtext = NULL;
	bool first = true;
	double t = 0, m;

	octl_num(r, "time_ms", &t);
	fmt_time(when, sizeof(when), t);
	printf("%llu %s %-5s ", (unsigned long long)num_or(r, "seq", 0), when,
	       octl_str(r, "level") ? octl_str(r, "level") : "?");
	octl_put_text(stdout, octl_str(r, "module") ? octl_str(r, "module") : "?", 0, 0);
	fputs(": ", stdout);
	octl_put_text(stdout, octl_str(r, "text") ? octl_str(r, "text") : "", 0, 0);
	if (ev)
		put_field("event", ev, &first);
	if (octl_num(r, "msg_seq", &m)) {
		snprintf(msg, sizeof(msg), "%.0f", m);
		put_field("msg", msg, &first);
	}
	if (to)
		put_field("to", to, &first);
	if (from)
		put_field("from", from, &first);
	if (vars && (vtext = cJSON_PrintUnformatted(vars)))
		put_field("vars", vtext, &first);
	cJSON_free(vtext);
	fputs(first ? "\n" : "]\n", stdout);
}

static void bar_show(struct pull *p)
{
	uint64_t total = p->last >= p->start ? p->last - p->start + 1 : 0;
	uint64_t done = p->since > p->start ? p->since - p->start : 0;

	octl_bar_show(&p->bar, done > total ? total : done, total, "records");
}

/* Prints a page; returns true when --limit is reached. */
static bool put_page(struct pull *p, const cJSON *records)
{
	const cJSON *r;
	char *line;

	cJSON_ArrayForEach(r, records) {
		if (p->limit && p->printed >= p->limit)
			return true;
		if (p->o->json) {
			line = cJSON_PrintUnformatted(r);
			if (line)
				puts(line);
			cJSON_free(line);
		} else {
			put_record(r);
		}
		p->printed++;
	}
	return p->limit && p->printed >= p->limit;
}

/* The ring dropped records the reader had not seen: say how many. */
static void check_gap(struct pull *p, const cJSON *resp)
{
	uint64_t first = num_or(resp, "first", 0);

	if (p->since && first > p->since) {
		octl_bar_clear(&p->bar);
		fprintf(stderr, "outpostctl: records %llu..%llu were dropped from the log ring "
				"before they were read\n",
			(unsigned long long)p->since, (unsigned long long)first - 1);
	}
}

/* Asks for one page and prints it. Returns -1 to go on, 0 at the end (the
 * newest record printed, or --limit reached), else an exit code. */
static int one_page(struct pull *p)
{
	cJSON *req = page_request(p, PAGE_RECORDS), *resp = NULL;
	int ex = req ? octl_call(p->o, p->path, req, &resp) : OCTL_EXIT_USAGE;
	bool full;

	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	check_gap(p, resp);
	p->last = num_or(resp, "last", 0);
	octl_bar_clear(&p->bar);
	full = put_page(p, cJSON_GetObjectItemCaseSensitive(resp, "records"));
	fflush(stdout);
	p->since = num_or(resp, "next", p->since + 1);
	cJSON_Delete(resp);
	if (full)
		return 0;
	bar_show(p);
	return p->since > p->last ? 0 : -1;
}

/* Where to start without --since: the oldest record, or the newest few
 * (--limit N, or --follow) found from the ring's range. */
static int find_start(struct pull *p)
{
	const struct octl_opts *o = p->o;
	uint64_t back = o->given & OCTL_OPT_LIMIT ? (uint64_t)o->limit : o->follow ? FOLLOW_BACKLOG : 0;
	cJSON *req = page_request(p, 1), *resp = NULL;
	int ex = req ? octl_call(p->o, p->path, req, &resp) : OCTL_EXIT_USAGE;
	uint64_t first, last;

	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	first = num_or(resp, "first", 0);
	last = num_or(resp, "last", 0);
	cJSON_Delete(resp);
	p->since = first;
	if (back && last >= first + back)
		p->since = last - back + 1;
	return -1;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int logs_run(const struct octl_opts *o, const char *path)
{
	struct pull p = {.o = o, .path = path, .since = o->since, .bar = {.t0_ms = hal_now_ms()},
			 .limit = o->given & OCTL_OPT_LIMIT && !o->follow ? (unsigned long)o->limit : 0};
	int ex = -1;

	if (o->level && !level_known(o->level)) {
		fprintf(stderr, "outpostctl: unknown level '%s'; one of: error warn notice info debug\n",
			o->level);
		return OCTL_EXIT_USAGE;
	}
	if (!(o->given & OCTL_OPT_SINCE))
		ex = find_start(&p);
	p.start = p.since;
	while (ex < 0)
		ex = one_page(&p);
	octl_bar_clear(&p.bar);
	/* The ring is read to its newest record: wait for more. */
	while (ex == 0 && o->follow && !(p.limit && p.printed >= p.limit)) {
		sleep_ms(FOLLOW_POLL_MS);
		do
			ex = one_page(&p);
		while (ex < 0);
		octl_bar_clear(&p.bar);
	}
	return ex;
}

const struct octl_cmd octl_cmd_logs = {
	.name = "logs",
	.summary = "show outpostd's log records, or follow them as they come",
	.help =
		"Usage: outpostctl logs [--since SEQ] [--limit N] [--level L] [--follow]\n"
		"                       [--unmasked] [--json]\n"
		"\n"
		"Prints the log records outpostd keeps in its store (log.ring_kb), oldest\n"
		"first, one per line: sequence number, local time, level, module: text,\n"
		"then [event=... msg=... to=...] when the record is about a message.\n"
		"Recipients are masked and template variables left out unless --unmasked.\n"
		"\n"
		"  --since SEQ   start at sequence number SEQ (default: the oldest record;\n"
		"                the newest N with --limit N, the newest 10 with --follow)\n"
		"  --limit N     at most N records (1 to 1000); with --follow, how many\n"
		"                of the newest to show before waiting for more\n"
		"  --level L     only records at level L or more severe: error, warn,\n"
		"                notice, info, debug (debug records are kept only when\n"
		"                outpostd runs with -v)\n"
		"  --follow      after the newest record, wait for more (every 0.5 s)\n"
		"                until interrupted\n"
		"  --unmasked    full phone numbers and template variables; outpostd\n"
		"                grants it to root and to its own user only\n"
		"  --json        one JSON object per record and line, for scripts\n"
		"\n"
		"A pull of many records shows a progress bar on stderr (when it is a\n"
		"terminal). Records the ring dropped before they were read are reported\n"
		"on stderr.\n"
		"\n"
		"Examples:\n"
		"  outpostctl logs --limit 50\n"
		"  outpostctl logs --level warn --follow\n"
		"  outpostctl logs --since 120345 --json > logs.jsonl\n",
	.opts = OCTL_OPT_LIMIT | OCTL_OPT_SINCE | OCTL_OPT_FOLLOW | OCTL_OPT_LEVEL |
		OCTL_OPT_UNMASKED,
	.run = logs_run,
};
