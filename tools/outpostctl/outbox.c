/*
 * outbox.c - `outpostctl outbox`: a page of outbox records, newest first,
 * as a table a technician can read on an 80-column console, with the reason
 * for every message that did not go out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/clock.h"
#include "hal/parse.h"
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
	"failed", "expired", "rejected", "suppressed", "dead", "final",
};

static bool state_known(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

static const char *sub(const struct octl_opts *o)
{
	return o->nargs > 0 ? o->args[0] : "list";
}

/* "90s", "30m", "12h", "7d" -> ms; false if not that. */
static bool dur_ms(const char *s, int64_t *ms)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int64_t unit = *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ? 3600000 :
		       *end == 'd' ? 86400000 : 0;

	if (end == s || !unit || end[1] || v > 3650ull * 86400)
		return false;
	*ms = (int64_t)v * unit;
	return true;
}

/* The filters every subcommand takes; false after saying what is wrong. */
static bool add_filters(const struct octl_opts *o, const char *state, cJSON *req)
{
	int64_t now = hal_wall_ms(), d;

	if (state && !state_known(state)) {
		fprintf(stderr, "outpostctl: unknown state '%s'; one of: queued sending retry sent "
				"delivered read undelivered failed expired rejected suppressed, or "
				"dead (failed + expired), final (every end state)\n", state);
		return false;
	}
	if (state)
		cJSON_AddStringToObject(req, "state", state);
	if (o->route)
		cJSON_AddStringToObject(req, "route", o->route);
	if (o->to)
		cJSON_AddStringToObject(req, "to", o->to);
	if (o->older_than) {
		if (!dur_ms(o->older_than, &d)) {
			fprintf(stderr, "outpostctl: --older-than wants a duration like 90s, 30m, 12h, 7d\n");
			return false;
		}
		cJSON_AddNumberToObject(req, "created_before_ms", (double)(now - d));
	}
	if (o->newer_than) {
		if (!dur_ms(o->newer_than, &d)) {
			fprintf(stderr, "outpostctl: --newer-than wants a duration like 90s, 30m, 12h, 7d\n");
			return false;
		}
		cJSON_AddNumberToObject(req, "created_after_ms", (double)(now - d));
	}
	if (o->before)
		cJSON_AddNumberToObject(req, "before", (double)o->before);
	cJSON_AddNumberToObject(req, "limit", (double)o->limit);
	return true;
}

static bool seq_arg(const struct octl_opts *o, uint64_t *seq)
{
	return o->nargs == 2 && hal_parse_u64(o->args[1], 1, 1ull << 53, seq);
}

/* dead: the deadletter command's fixed state. */
static cJSON *request(const struct octl_opts *o, const char *dead)
{
	const char *w = sub(o), *cmd = strcmp(w, "list") == 0 ? "outbox" :
		strcmp(w, "show") == 0 ? "outbox.show" : strcmp(w, "retry") == 0 ? "outbox.retry" :
		strcmp(w, "purge") == 0 && !dead ? "outbox.purge" : NULL;
	const char *state = dead ? dead : o->state;
	cJSON *req;
	uint64_t seq = 0;

	if (!cmd || o->nargs > 2 || (o->nargs == 2 && !seq_arg(o, &seq)) ||
	    (strcmp(w, "show") == 0 && !seq) || (strcmp(w, "list") == 0 && o->nargs > 1)) {
		fprintf(stderr, "outpostctl: %s wants %s (see outpostctl %s --help)\n",
			dead ? "deadletter" : "outbox",
			dead ? "list or retry [SEQ]" : "list, show SEQ, retry [SEQ] or purge [SEQ]",
			dead ? "deadletter" : "outbox");
		return NULL;
	}
	if (strcmp(w, "retry") == 0 && !seq && !state)
		state = "dead";
	if (strcmp(w, "purge") == 0 && !seq && !state) {
		fprintf(stderr, "outpostctl: outbox purge wants a SEQ or --state (e.g. --state "
				"rejected --older-than 7d)\n");
		return NULL;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", cmd);
	if (seq)
		cJSON_AddNumberToObject(req, "seq", (double)seq);
	else if (!add_filters(o, state, req)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static cJSON *outbox_request(const struct octl_opts *o)
{
	return request(o, NULL);
}

static cJSON *deadletter_request(const struct octl_opts *o)
{
	return request(o, "dead");
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

static void show_list(const struct octl_opts *o, const cJSON *r)
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

static void show_one(const cJSON *r)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "message"), *f;

	cJSON_ArrayForEach(f, m) {
		char *v = cJSON_IsString(f) ? NULL : cJSON_PrintUnformatted(f);

		printf("%-12s ", f->string);
		octl_put_text(stdout, cJSON_IsString(f) ? f->valuestring : v ? v : "?", 0, 0);
		putchar('\n');
		cJSON_free(v);
	}
}

static void show_changed(const cJSON *r, const char *key, const char *verb)
{
	double n = 0;

	octl_num(r, key, &n);
	printf("%.0f message%s %s", n, n == 1 ? "" : "s", verb);
	if (n > 0) {
		const cJSON *x;
		const char *sep = ": ";

		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "seqs")) {
			printf("%s%.0f", sep, x->valuedouble);
			sep = " ";
		}
	}
	putchar('\n');
}

static void outbox_show(const struct octl_opts *o, const cJSON *r)
{
	const char *w = sub(o);

	if (strcmp(w, "show") == 0)
		show_one(r);
	else if (strcmp(w, "retry") == 0)
		show_changed(r, "retried", "to be sent again");
	else if (strcmp(w, "purge") == 0)
		show_changed(r, "purged", "purged");
	else
		show_list(o, r);
}

const struct octl_cmd octl_cmd_outbox = {
	.name = "outbox",
	.summary = "list messages in the outbox, newest first, with why they failed",
	.help =
		"Usage: outpostctl outbox [list] [FILTERS] [--limit N] [--before SEQ] [--json]\n"
		"       outpostctl outbox show SEQ\n"
		"       outpostctl outbox retry [SEQ | FILTERS]\n"
		"       outpostctl outbox purge [SEQ | --state STATE FILTERS]\n"
		"\n"
		"list: outbox messages, newest first: sequence number, state, the event\n"
		"that made it, route, recipient (masked), send attempts, age, and the\n"
		"error (or the provider's message id once it was accepted).\n"
		"show SEQ: one message with every field (the full number and the\n"
		"template variables for an operator: root on the gateway, or after the\n"
		"PIN on the serial line, or with the command key over MQTT).\n"
		"retry: sends failed or expired messages again (attempts from 0, a fresh\n"
		"time to live); without SEQ or --state, every dead letter (failed+expired).\n"
		"purge: removes messages that reached an end state.\n"
		"\n"
		"FILTERS:\n"
		"  --state STATE     queued sending retry sent delivered read undelivered\n"
		"                    failed expired rejected suppressed; dead = failed and\n"
		"                    expired; final = every end state\n"
		"  --route NAME      only this route's messages\n"
		"  --to +E164        only messages to this number\n"
		"  --older-than DUR  created more than DUR ago (90s, 30m, 12h, 7d)\n"
		"  --newer-than DUR  created less than DUR ago\n"
		"  --limit N         at most N messages (default 20, at most 1000)\n"
		"  --before SEQ      only messages older than SEQ: the next page; the\n"
		"                    command prints the SEQ to use\n"
		"  --json            the daemon's answer as it is, for scripts\n"
		"\n"
		"Examples:\n"
		"  outpostctl outbox --state failed --newer-than 12h\n"
		"  outpostctl outbox retry --state failed --route alarms\n"
		"  outpostctl outbox purge --state rejected --older-than 7d\n",
	.opts = OCTL_OPT_STATE | OCTL_OPT_LIMIT | OCTL_OPT_BEFORE | OCTL_OPT_FILTER | OCTL_OPT_ARGS,
	.request = outbox_request,
	.show = outbox_show,
};

const struct octl_cmd octl_cmd_deadletter = {
	.name = "deadletter",
	.summary = "messages that failed or expired: list them, send them again",
	.help = "Usage: outpostctl deadletter [list] [FILTERS]\n"
		"       outpostctl deadletter retry [SEQ | FILTERS]\n"
		"\n"
		"The dead letters are the messages that will not go out by themselves:\n"
		"failed (the provider refused them for good, or an account's credentials\n"
		"were wrong too long) and expired (their time to live ran out, e.g. in a\n"
		"long outage). list shows them like outpostctl outbox --state dead; retry\n"
		"sends them again once the cause is fixed, all of them or one SEQ.\n"
		"FILTERS: --route NAME, --to +E164, --older-than DUR, --newer-than DUR,\n"
		"--limit N, --before SEQ (see outpostctl outbox --help).\n",
	.opts = OCTL_OPT_LIMIT | OCTL_OPT_BEFORE | OCTL_OPT_FILTER | OCTL_OPT_ARGS,
	.request = deadletter_request,
	.show = outbox_show,
};
