/*
 * stats.c - `outpostctl stats`: the daemon's totals, since it started and
 * over the store's life, for a person or (with --json) a fleet dashboard.
 */
#include <stdio.h>

#include "tools/outpostctl/octl.h"

static cJSON *stats_request(const struct octl_opts *o)
{
	cJSON *req = cJSON_CreateObject();

	(void)o;
	cJSON_AddStringToObject(req, "cmd", "stats");
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

static void stats_show(const struct octl_opts *o, const cJSON *r)
{
	double up = 0;
	char buf[32];

	(void)o;
	octl_num(r, "uptime_s", &up);
	octl_fmt_duration(buf, sizeof(buf), up, false);
	printf("%-10s%s\n", "up:", buf);
	section(r, "counters", "since:");
	section(r, "mqtt", "mqtt:");
	section(r, "store", "store:");
	section(r, "outbox", "outbox:");
	section(r, "lifetime", "lifetime:");
}

const struct octl_cmd octl_cmd_stats = {
	.name = "stats",
	.summary = "totals: events, sends, retries, MQTT batches, store, lifetime counters",
	.help = "Usage: outpostctl stats [--json]\n"
		"\n"
		"  since     counters since outpostd started (events, acked, sent, failed,\n"
		"            retries, ambiguous, reconciled, resent, ...)\n"
		"  mqtt      messages and read batches from the broker, the largest batch,\n"
		"            commits that failed, reconnects\n"
		"  store     bytes used and mapped\n"
		"  outbox    messages per state now\n"
		"  lifetime  kept in the store across restarts: attempts reconciled with the\n"
		"            provider, sent again, log records dropped\n"
		"--json gives the daemon's answer for scripts and dashboards.\n",
	.opts = 0,
	.request = stats_request,
	.show = stats_show,
};
