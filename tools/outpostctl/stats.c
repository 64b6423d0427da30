/*
 * stats.c - `outpostctl stats`: the daemon's totals, since it started and
 * over the store's life; with --by or --days, the statistics per route,
 * account or day over the last days ("stats.table"), with a sparkline of
 * events per day on a terminal. For a person or (with --json) a fleet
 * dashboard.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/outpostctl/octl.h"

#define DAYS_DEFAULT 7

static bool table_wanted(const struct octl_opts *o)
{
	return (o->given & OCTL_OPT_TABLE) != 0;
}

static cJSON *stats_request(const struct octl_opts *o)
{
	cJSON *req = cJSON_CreateObject();

	if (!table_wanted(o)) {
		cJSON_AddStringToObject(req, "cmd", "stats");
		return req;
	}
	cJSON_AddStringToObject(req, "cmd", "stats.table");
	cJSON_AddStringToObject(req, "by", o->by ? o->by : "route");
	cJSON_AddNumberToObject(req, "days", o->days ? o->days : DAYS_DEFAULT);
	return req;
}

static void section(const cJSON *r, const char *key, const char *title)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, key);

	if (!cJSON_IsObject(o))
		return;
	printf("%-10s", title);
	octl_put_counts(stdout, o, "          ");
	putchar('\n');
}

static void totals_show(const cJSON *r)
{
	double up = 0;
	char buf[32];

	octl_num(r, "uptime_s", &up);
	octl_fmt_duration(buf, sizeof(buf), up, false);
	printf("%-10s%s\n", "up:", buf);
	section(r, "counters", "since:");
	section(r, "mqtt", "mqtt:");
	section(r, "store", "store:");
	section(r, "outbox", "outbox:");
	section(r, "lifetime", "lifetime:");
}

/* Columns of the table: the counter's name in the answer, its heading. */
static const struct {
	const char *key, *head;
	bool optional; /* shown only when the total is not 0 */
} cols[] = {
	{"events", "EVENTS", false},      {"rejected", "REJ", false},   {"queued", "QUEUED", false},
	{"sent", "SENT", false},          {"delivered", "DELIV", false}, {"read", "READ", false},
	{"failed", "FAILED", false},      {"expired", "EXPIRED", false},
	{"suppressed", "SUPPR", false},   {"coalesced", "COALESC", true},
	{"escalated", "ESCAL", true},     {"acknowledged", "ACKED", true},
};
#define N_COLS (sizeof(cols) / sizeof(cols[0]))

static bool col_shown(const cJSON *total, size_t i)
{
	double v = 0;

	return !cols[i].optional || (octl_num(total, cols[i].key, &v) && v != 0);
}

/* A latency percentile in ms as "850ms", "12s", "4m", "-" for none. */
static void put_latency(const cJSON *row, const char *hist, const char *pct)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(row, hist);
	double n = 0, ms = 0;
	char buf[32];

	if (!octl_num(h, "n", &n) || n == 0 || !octl_num(h, pct, &ms)) {
		printf(" %7s", "-");
		return;
	}
	if (ms < 1000)
		snprintf(buf, sizeof(buf), "%.0fms", ms);
	else
		octl_fmt_duration(buf, sizeof(buf), ms / 1000, true);
	printf(" %7s", buf);
}

/* Events per day, oldest first, as ASCII: a terminal gets a trend line. */
static void put_sparkline(const cJSON *daily)
{
	static const char levels[] = " .:-=+*#%@";
	const cJSON *d;
	double max = 0;

	cJSON_ArrayForEach(d, daily)
		if (cJSON_IsNumber(d) && d->valuedouble > max)
			max = d->valuedouble;
	putchar(' ');
	cJSON_ArrayForEach(d, daily) {
		double v = cJSON_IsNumber(d) ? d->valuedouble : 0;
		int i = max > 0 && v > 0 ? 1 + (int)(v / max * (double)(sizeof(levels) - 3)) : 0;

		putchar(levels[i]);
	}
}

static void put_row(const cJSON *row, const char *key, const cJSON *total, bool spark)
{
	double v;

	octl_put_text(stdout, key, 20, 20);
	for (size_t i = 0; i < N_COLS; i++)
		if (col_shown(total, i)) {
			if (octl_num(row, cols[i].key, &v))
				printf(" %7.0f", v);
			else
				printf(" %7s", "?");
		}
	if (octl_num(row, "cost", &v))
		printf(" %8.2f", v);
	else
		printf(" %8s", "?");
	put_latency(row, "delivered_ms", "p50");
	put_latency(row, "delivered_ms", "p90");
	put_latency(row, "delivered_ms", "p99");
	put_latency(row, "read_ms", "p50");
	put_latency(row, "read_ms", "p90");
	if (spark)
		put_sparkline(cJSON_GetObjectItemCaseSensitive(row, "daily"));
	putchar('\n');
}

static void table_show(const cJSON *r)
{
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(r, "rows"), *row;
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(r, "total");
	const char *by = octl_str(r, "by");
	bool spark = isatty(STDOUT_FILENO) && by && strcmp(by, "day");
	double days = 0;

	octl_num(r, "days", &days);
	printf("%s to %s (%.0f days, %s)\n", octl_str(r, "from") ? octl_str(r, "from") : "?",
	       octl_str(r, "to") ? octl_str(r, "to") : "?", days,
	       octl_str(r, "tz") ? octl_str(r, "tz") : "?");
	printf("%-20s", by && !strcmp(by, "account") ? "ACCOUNT" : by && !strcmp(by, "day") ? "DAY"
												 : "ROUTE");
	for (size_t i = 0; i < N_COLS; i++)
		if (col_shown(total, i))
			printf(" %7s", cols[i].head);
	printf(" %8s %7s %7s %7s %7s %7s%s\n", "COST", "DLV-P50", "DLV-P90", "DLV-P99", "READ-50",
	       "READ-90", spark ? " EVENTS/DAY" : "");
	cJSON_ArrayForEach(row, rows) {
		const char *key = octl_str(row, "key");

		put_row(row, key && key[0] ? key : "(no route)", total, spark);
	}
	if (cJSON_GetArraySize(rows) != 1 && cJSON_IsObject(total))
		put_row(total, "total", total, false);
}

static void stats_show(const struct octl_opts *o, const cJSON *r)
{
	if (table_wanted(o))
		table_show(r);
	else
		totals_show(r);
}

const struct octl_cmd octl_cmd_stats = {
	.name = "stats",
	.summary = "totals since start; per route, account or day with --by/--days",
	.help = "Usage: outpostctl stats [--json]\n"
		"       outpostctl stats [--by route|account|day] [--days N] [--json]\n"
		"\n"
		"Without --by or --days, the daemon's totals:\n"
		"  since     counters since outpostd started (events, acked, sent, failed,\n"
		"            retries, ambiguous, reconciled, resent, ...)\n"
		"  mqtt      messages and read batches from the broker, the largest batch,\n"
		"            commits that failed, reconnects\n"
		"  store     bytes used and mapped\n"
		"  outbox    messages per state now\n"
		"  lifetime  kept in the store across restarts: attempts reconciled with the\n"
		"            provider, sent again, log records dropped\n"
		"\n"
		"With --by or --days, the statistics kept per route and day (stats.keep_days):\n"
		"one row per route (default), account or day over the last N days (default 7,\n"
		"today included; days are UTC days): events, rejected, queued, sent,\n"
		"delivered, read, failed, expired, suppressed (coalesced, escalated,\n"
		"acknowledged when not 0), cost, and send->delivered / send->read latency\n"
		"percentiles. On a terminal each route or account ends with a sparkline of\n"
		"its events per day, oldest first.\n"
		"\n"
		"--json gives the daemon's answer for scripts and dashboards.\n",
	.opts = OCTL_OPT_TABLE,
	.request = stats_request,
	.show = stats_show,
};
