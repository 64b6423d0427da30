/*
 * outbox.c - `outpostctl outbox`: a page of outbox records, newest first,
 * as a table a technician can read on an 80-column console, with the reason
 * for every message that did not go out.
 */
#include <stdio.h>
#include <string.h>

#include "hal/clock.h"
#include "tools/outpostctl/octl.h"

/* Column caps: wide enough for typical ids, route names and masked phone
 * numbers; longer values are cut with "...". */
#define W_STATE 11
#define W_EVENT 24
#define W_ROUTE 16
#define W_TO 18
/* The error column when stdout is not a terminal, or a very narrow one. */
#define W_LAST_PIPE 100
#define W_LAST_MIN 20

static const char *const states[] = {
	"queued", "sending", "retry", "sent", "delivered", "read", "undelivered",
	"failed", "expired", "rejected", "suppressed",
};

static bool state_known(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

static cJSON *outbox_request(const struct octl_opts *o)
{
	cJSON *req;

	if (o->state && !state_known(o->state)) {
		fprintf(stderr, "outpostctl: unknown state '%s'; one of: queued sending retry sent "
				"delivered read undelivered failed expired rejected suppressed\n",
			o->state);
		return NULL;
	}
	req = cJSON_CreateObject();
	if (!req)
		return NULL;
	if (!cJSON_AddStringToObject(req, "cmd", "outbox") ||
	    (o->state && !cJSON_AddStringToObject(req, "state", o->state)) ||
	    !cJSON_AddNumberToObject(req, "limit", (double)o->limit) ||
	    !cJSON_AddNumberToObject(req, "before", (double)o->before)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

/* One table row as text; the numbers are formatted into the row itself. */
struct row {
	char seq[24], attempts[16], age[16], last[1024];
	const char *state, *event, *route, *to;
};

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
	const char *s = octl_str(o, key);

	return s ? s : dflt;
}

static void num_text(char *buf, size_t len, const cJSON *o, const char *key)
{
	double v;

	if (octl_num(o, key, &v))
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "?");
}

/* The error when there is one ("class code: text"), else the provider's
 * message id: the one thing to know about the message after its state. */
static void last_text(char *buf, size_t len, const cJSON *m)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(m, "error");
	const char *text = octl_str(err, "text");
	const char *cls = octl_str(err, "class");
	double code = 0;

	if (text && *text) {
		octl_num(err, "code", &code);
		if (code != 0)
			snprintf(buf, len, "%s %.0f: %s", cls ? cls : "?", code, text);
		else
			snprintf(buf, len, "%s: %s", cls ? cls : "?", text);
		return;
	}
	snprintf(buf, len, "%s", str_or(m, "provider_id", ""));
}

static void row_fill(struct row *r, const cJSON *m, int64_t now_ms)
{
	double created;

	num_text(r->seq, sizeof(r->seq), m, "seq");
	num_text(r->attempts, sizeof(r->attempts), m, "attempts");
	snprintf(r->age, sizeof(r->age), "?");
	/* A gateway clock still in 1970 would show nonsense ages: "?" then. */
	if (octl_num(m, "created_ms", &created) && hal_clock_valid() && created <= (double)now_ms)
		octl_fmt_duration(r->age, sizeof(r->age), ((double)now_ms - created) / 1000, true);
	r->state = str_or(m, "state", "?");
	r->event = str_or(m, "event_id", "?");
	r->route = str_or(m, "route", "?");
	r->to = str_or(m, "to", "?");
	last_text(r->last, sizeof(r->last), m);
}

enum { C_SEQ, C_STATE, C_EVENT, C_ROUTE, C_TO, C_ATT, C_AGE, C_N };

static const char *const heads[C_N] = {"SEQ", "STATE", "EVENT", "ROUTE", "TO", "ATT", "AGE"};
static const size_t caps[C_N] = {20, W_STATE, W_EVENT, W_ROUTE, W_TO, 6, 6};

static void row_cells(const struct row *r, const char *cells[C_N])
{
	cells[C_SEQ] = r->seq;
	cells[C_STATE] = r->state;
	cells[C_EVENT] = r->event;
	cells[C_ROUTE] = r->route;
	cells[C_TO] = r->to;
	cells[C_ATT] = r->attempts;
	cells[C_AGE] = r->age;
}

static void widths(const cJSON *msgs, int64_t now_ms, size_t w[C_N])
{
	const cJSON *m;
	const char *cells[C_N];
	struct row r;
	size_t i, n;

	for (i = 0; i < C_N; i++)
		w[i] = strlen(heads[i]);
	cJSON_ArrayForEach(m, msgs) {
		row_fill(&r, m, now_ms);
		row_cells(&r, cells);
		for (i = 0; i < C_N; i++) {
			n = octl_text_cols(cells[i]);
			n = n > caps[i] ? caps[i] : n;
			w[i] = n > w[i] ? n : w[i];
		}
	}
}

static void put_table(const cJSON *msgs)
{
	int64_t now_ms = hal_wall_ms();
	size_t w[C_N], used = 0, last, i, cols = octl_term_cols();
	const cJSON *m;
	const char *cells[C_N];
	struct row r;

	widths(msgs, now_ms, w);
	for (i = 0; i < C_N; i++) {
		printf("%-*s  ", (int)w[i], heads[i]);
		used += w[i] + 2;
	}
	printf("ERROR / PROVIDER ID\n");
	last = !cols ? W_LAST_PIPE : cols > used + W_LAST_MIN ? cols - used - 1 : W_LAST_MIN;
	cJSON_ArrayForEach(m, msgs) {
		row_fill(&r, m, now_ms);
		row_cells(&r, cells);
		for (i = 0; i < C_N; i++) {
			octl_put_text(stdout, cells[i], w[i], w[i]);
			fputs("  ", stdout);
		}
		octl_put_text(stdout, r.last, last, 0);
		fputc('\n', stdout);
	}
}

static void put_more_hint(const struct octl_opts *o, double next)
{
	printf("\nolder messages: outpostctl outbox");
	if (o->state)
		printf(" --state %s", o->state);
	if (o->limit != 20)
		printf(" --limit %ld", o->limit);
	printf(" --before %.0f\n", next);
}

static void outbox_show(const struct octl_opts *o, const cJSON *r)
{
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(r, "counts");
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r, "messages");
	double next;

	if (cJSON_IsObject(counts)) {
		printf("%-8s", "counts:");
		octl_put_counts(stdout, counts, "        ");
		fputc('\n', stdout);
	}
	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
		printf("no messages%s%s%s\n", o->state ? " in state " : "", o->state ? o->state : "",
		       o->before ? " before that sequence number" : "");
		return;
	}
	put_table(msgs);
	if (octl_num(r, "next_before", &next) && next > 0)
		put_more_hint(o, next);
}

const struct octl_cmd octl_cmd_outbox = {
	.name = "outbox",
	.summary = "list messages in the outbox, newest first, with why they failed",
	.help =
		"Usage: outpostctl outbox [--state STATE] [--limit N] [--before SEQ] [--json]\n"
		"\n"
		"Lists outbox messages, newest first: sequence number, state, the event\n"
		"that made it, route, recipient (masked), send attempts, age, and the\n"
		"error (or the provider's message id once it was accepted).\n"
		"\n"
		"  --state STATE  only messages in this state: queued sending retry sent\n"
		"                 delivered read undelivered failed expired rejected\n"
		"                 suppressed (e.g. --state rejected: events that could\n"
		"                 not become a message, with the reason)\n"
		"  --limit N      at most N messages (default 20, at most 1000)\n"
		"  --before SEQ   only messages older than sequence number SEQ: the\n"
		"                 next page; the command prints the SEQ to use\n"
		"  --json         the daemon's answer as it is, for scripts\n"
		"\n"
		"Examples:\n"
		"  outpostctl outbox --state failed\n"
		"  outpostctl outbox --state rejected --limit 100\n",
	.opts = OCTL_OPT_STATE | OCTL_OPT_LIMIT | OCTL_OPT_BEFORE,
	.request = outbox_request,
	.show = outbox_show,
};
