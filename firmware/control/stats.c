/*
 * stats.c - the "stats.table" command: statistics per route, account or
 * day over the last days (firmware/stats.h), as rows for outpostctl and
 * the payload published on outpost/<gateway_id>/stats.
 *
 * Request: {"cmd":"stats.table","by":"route"|"account"|"day","days":N}
 * (by defaults to "route", days to 7, 1..3660). Answer (docs/CONTROL.md):
 * {"ok":true,"by","days","tz":"UTC" or the config's timezone,"from","to","rows":[row...],"total":row}
 * where a row is {"key", the counters by name, "cost", "delivered_ms" and
 * "read_ms" {p50,p90,p99,n}, "daily":[events per day, oldest first]}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "firmware/stats.h"
#include "hal/err.h"
#include "store/stats.h"

#define DAYS_DEFAULT 7
#define DAYS_MAX 3660
#define ROWS_MAX 4096

struct row {
	char key[STORE_STATS_NAME_MAX + 1];
	struct store_stats s;
	uint64_t *daily; /* events per day, days entries */
};

struct table {
	int by; /* 'r', 'a', 'd' */
	uint32_t from, days;
	struct row *rows;
	unsigned n, cap;
	struct store_stats total;
	bool nomem;
};

static void day_text(uint32_t day, char *buf, size_t len)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

static struct row *row_of(struct table *tb, const char *key)
{
	struct row *r;

	for (unsigned i = 0; i < tb->n; i++)
		if (!strcmp(tb->rows[i].key, key))
			return &tb->rows[i];
	if (tb->n == ROWS_MAX)
		return NULL;
	if (tb->n == tb->cap) {
		unsigned cap = tb->cap ? tb->cap * 2 : 16;

		if (!(r = realloc(tb->rows, cap * sizeof(*r))))
			return NULL;
		tb->rows = r;
		tb->cap = cap;
	}
	r = &tb->rows[tb->n];
	memset(r, 0, sizeof(*r));
	if (!(r->daily = calloc(tb->days, sizeof(*r->daily))))
		return NULL;
	snprintf(r->key, sizeof(r->key), "%s", key);
	tb->n++;
	return r;
}

static int take(uint32_t day, const char *route, const char *account, const struct store_stats *s,
		void *arg)
{
	struct table *tb = arg;
	char dk[16];
	const char *key = tb->by == 'a' ? account : route;
	struct row *r;

	if (day < tb->from || day >= tb->from + tb->days)
		return 0;
	if (tb->by == 'd') {
		day_text(day, dk, sizeof(dk));
		key = dk;
	}
	if (!(r = row_of(tb, key))) {
		tb->nomem = true;
		return 1;
	}
	store_stats_merge(&r->s, s);
	r->daily[day - tb->from] += s->n[STORE_ST_EVENTS];
	store_stats_merge(&tb->total, s);
	return 0;
}

static void add_latency(cJSON *o, const char *name, const uint32_t *hist)
{
	cJSON *l = cJSON_AddObjectToObject(o, name);
	uint64_t n = 0;

	for (unsigned b = 0; b < STORE_STATS_BUCKETS; b++)
		n += hist[b];
	cJSON_AddNumberToObject(l, "n", (double)n);
	cJSON_AddNumberToObject(l, "p50", (double)store_stats_percentile(hist, 50));
	cJSON_AddNumberToObject(l, "p90", (double)store_stats_percentile(hist, 90));
	cJSON_AddNumberToObject(l, "p99", (double)store_stats_percentile(hist, 99));
}

/* The counters, cost and latencies of s into o. */
static void add_counts(cJSON *o, const struct store_stats *s)
{
	for (int k = 0; k < STORE_ST__COUNT; k++)
		cJSON_AddNumberToObject(o, store_stat_kind_name(k), (double)s->n[k]);
	cJSON_AddNumberToObject(o, "cost", (double)s->cost_micros / 1e6);
	add_latency(o, "delivered_ms", s->lat[STORE_LAT_DELIVERED]);
	add_latency(o, "read_ms", s->lat[STORE_LAT_READ]);
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->key, ((const struct row *)b)->key);
}

static cJSON *table_json(struct fw *fw, struct table *tb)
{
	cJSON *r = cJSON_CreateObject(), *rows, *o;
	char from[16], to[16];

	day_text(tb->from, from, sizeof(from));
	day_text(tb->from + tb->days - 1, to, sizeof(to));
	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddStringToObject(r, "by", tb->by == 'a' ? "account" : tb->by == 'd' ? "day" : "route");
	cJSON_AddNumberToObject(r, "days", tb->days);
	cJSON_AddStringToObject(r, "tz", fw->cfg->timezone ? fw->cfg->timezone : "UTC");
	cJSON_AddStringToObject(r, "from", from);
	cJSON_AddStringToObject(r, "to", to);
	cJSON_AddStringToObject(r, "gateway", fw->cfg->gateway_id);
	if (tb->n) /* qsort wants rows, even for none */
		qsort(tb->rows, tb->n, sizeof(*tb->rows), by_key);
	rows = cJSON_AddArrayToObject(r, "rows");
	for (unsigned i = 0; i < tb->n; i++) {
		cJSON *daily;

		o = cJSON_CreateObject();
		cJSON_AddItemToArray(rows, o);
		cJSON_AddStringToObject(o, "key", tb->rows[i].key);
		add_counts(o, &tb->rows[i].s);
		daily = cJSON_AddArrayToObject(o, "daily");
		for (uint32_t d = 0; d < tb->days; d++)
			cJSON_AddItemToArray(daily, cJSON_CreateNumber((double)tb->rows[i].daily[d]));
	}
	add_counts(cJSON_AddObjectToObject(r, "total"), &tb->total);
	return r;
}

cJSON *fw_stats_table(struct fw *fw, int by, unsigned days, char *err, size_t errlen)
{
	struct table tb = {.by = by, .days = days};
	uint32_t today = fw_stats_today(fw);
	cJSON *r = NULL;
	int rc;

	tb.from = today + 1 >= days ? today + 1 - days : 0;
	rc = fw_stats_read(fw, tb.from, take, &tb);
	if (rc == ERR_OK && tb.nomem)
		rc = ERR_NOMEM;
	if (rc == ERR_OK)
		r = table_json(fw, &tb);
	else
		snprintf(err, errlen, "statistics could not be read: %s", hal_strerror(rc));
	for (unsigned i = 0; i < tb.n; i++)
		free(tb.rows[i].daily);
	free(tb.rows);
	return r;
}

cJSON *fw_cmd_stats_table(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(req, "by");
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(req, "days");
	int b = 'r';
	double d = DAYS_DEFAULT;

	if (by && (!cJSON_IsString(by) || (strcmp(by->valuestring, "route") &&
					    strcmp(by->valuestring, "account") &&
					    strcmp(by->valuestring, "day")))) {
		snprintf(err, errlen, "\"by\" must be \"route\", \"account\" or \"day\"");
		return NULL;
	}
	if (by)
		b = by->valuestring[0] == 'a' ? 'a' : by->valuestring[0] == 'd' ? 'd' : 'r';
	if (days && (!cJSON_IsNumber(days) || days->valuedouble < 1 ||
		     days->valuedouble > DAYS_MAX || days->valuedouble != (int)days->valuedouble)) {
		snprintf(err, errlen, "\"days\" must be a whole number of days, 1 to %d", DAYS_MAX);
		return NULL;
	}
	if (days)
		d = days->valuedouble;
	return fw_stats_table(fw, b, (unsigned)d, err, errlen);
}
