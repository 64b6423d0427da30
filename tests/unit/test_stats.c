/*
 * test_stats.c - statistics per route and day: the entry's on-disk coding,
 * the latency histogram and its percentiles (store/stats.c); counts that
 * follow committed transactions only, the day roll-over at UTC midnight,
 * keep_days and the write at a clean stop (firmware/stats.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"

#include <cjson/cJSON.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "firmware/stats.h"
#include "hal/file.h"
#include "store/outbox.h"
#include "store/stats.h"

#define DAY_MS 86400000LL
#define D0 20000u /* 2024-10-04, a day number well past 1970 */

static void coding(void **state)
{
	struct store_stats s = {0}, d;
	unsigned char buf[STORE_STATS_REC_LEN];

	(void)state;
	s.n[STORE_ST_EVENTS] = 0x0102030405060708ull;
	s.n[STORE_ST_ACKNOWLEDGED] = 7;
	s.cost_micros = -1500000;
	s.lat[STORE_LAT_DELIVERED][0] = 3;
	s.lat[STORE_LAT_READ][STORE_STATS_BUCKETS - 1] = 0xA0B0C0D0u;
	store_stats_encode(&s, buf);
	/* The documented layout (docs/OUTBOX.md): version, bucket count, 2
	 * zero bytes, then big-endian fields. */
	assert_int_equal(buf[0], STORE_STATS_VERSION);
	assert_int_equal(buf[1], STORE_STATS_BUCKETS);
	assert_int_equal(buf[2] | buf[3], 0);
	assert_memory_equal(buf + 4, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(buf[4 + 8 * STORE_ST_ACKNOWLEDGED + 7], 7);
	assert_memory_equal(buf + 4 + 8 * STORE_ST__COUNT, "\xff\xff\xff\xff\xff\xe9\x1c\xa0", 8);
	assert_memory_equal(buf + STORE_STATS_REC_LEN - 4, "\xa0\xb0\xc0\xd0", 4);
	assert_int_equal(STORE_STATS_REC_LEN, 4 + 12 * 8 + 8 + 2 * 4 * 40);
	assert_int_equal(store_stats_decode(buf, sizeof(buf), &d), ERR_OK);
	assert_memory_equal(&s, &d, sizeof(s));
	assert_int_equal(store_stats_decode(buf, sizeof(buf) - 1, &d), ERR_STORE);
	buf[0] = 2;
	assert_int_equal(store_stats_decode(buf, sizeof(buf), &d), ERR_STORE);
	buf[0] = 1;
	buf[1] = 41;
	assert_int_equal(store_stats_decode(buf, sizeof(buf), &d), ERR_STORE);
}

static void buckets(void **state)
{
	(void)state;
	assert_int_equal(store_stats_bucket(-5), 0);
	assert_int_equal(store_stats_bucket(999), 0);
	assert_int_equal(store_stats_bucket(1000), 1);
	assert_int_equal(store_stats_bucket(1413), 1);
	assert_int_equal(store_stats_bucket(1414), 2);
	assert_int_equal(store_stats_bucket(1999), 2);
	assert_int_equal(store_stats_bucket(2000), 3);
	assert_int_equal(store_stats_bucket(INT64_MAX), STORE_STATS_BUCKETS - 1);
	assert_int_equal(store_stats_bucket_ms(0), 1000);
	assert_int_equal(store_stats_bucket_ms(1), 1414);
	assert_int_equal(store_stats_bucket_ms(2), 2000);
	assert_int_equal(store_stats_bucket_ms(10), 32000);
	/* Every bound is a bucket's first value, and the bounds grow. */
	for (unsigned b = 1; b < STORE_STATS_BUCKETS - 1; b++) {
		assert_true(store_stats_bucket_ms(b) > store_stats_bucket_ms(b - 1));
		assert_int_equal(store_stats_bucket((int64_t)store_stats_bucket_ms(b - 1)), b);
		assert_int_equal(store_stats_bucket((int64_t)store_stats_bucket_ms(b) - 1), b);
	}
}

static void percentiles(void **state)
{
	uint32_t h[STORE_STATS_BUCKETS] = {0};

	(void)state;
	assert_int_equal(store_stats_percentile(h, 50), 0);
	h[2] = 50;
	h[5] = 40;
	h[10] = 9;
	h[STORE_STATS_BUCKETS - 1] = 1;
	assert_int_equal(store_stats_percentile(h, 50), store_stats_bucket_ms(2));
	assert_int_equal(store_stats_percentile(h, 51), store_stats_bucket_ms(5));
	assert_int_equal(store_stats_percentile(h, 90), store_stats_bucket_ms(5));
	assert_int_equal(store_stats_percentile(h, 99), store_stats_bucket_ms(10));
	assert_int_equal(store_stats_percentile(h, 100), store_stats_bucket_ms(STORE_STATS_BUCKETS - 1));
	memset(h, 0, sizeof(h));
	h[7] = 1;
	assert_int_equal(store_stats_percentile(h, 1), store_stats_bucket_ms(7));
	assert_int_equal(store_stats_percentile(h, 99), store_stats_bucket_ms(7));
}

struct seen {
	unsigned n;
	uint32_t day[16];
	char route[16][32], account[16][32];
	struct store_stats s[16];
};

static int collect(uint32_t day, const char *route, const char *account,
		   const struct store_stats *s, void *arg)
{
	struct seen *v = arg;

	if (v->n < 16) {
		v->day[v->n] = day;
		snprintf(v->route[v->n], sizeof(v->route[0]), "%s", route);
		snprintf(v->account[v->n], sizeof(v->account[0]), "%s", account);
		v->s[v->n++] = *s;
	}
	return 0;
}

static void store_entries(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t;
	struct store_stats d = {0};
	struct seen v = {0};
	unsigned n;

	d.n[STORE_ST_SENT] = 2;
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	for (uint32_t day = D0 - 4; day <= D0; day++)
		assert_int_equal(store_stats_add(t, day, "payments", "main", &d), ERR_OK);
	assert_int_equal(store_stats_add(t, D0, "payments", "main", &d), ERR_OK);
	assert_int_equal(store_stats_add(t, D0, "alerts", "", &d), ERR_OK);
	char long_name[STORE_STATS_NAME_MAX + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(store_stats_add(t, D0, long_name, "", &d), ERR_TOOBIG);
	assert_int_equal(store_commit(t), ERR_OK);

	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_stats_list(t, D0 - 1, collect, &v), ERR_OK);
	store_abort(t);
	assert_int_equal(v.n, 3);
	assert_int_equal(v.day[0], D0 - 1);
	assert_int_equal(v.day[1], D0);
	assert_string_equal(v.route[1], "alerts"); /* route order within a day */
	assert_string_equal(v.route[2], "payments");
	assert_string_equal(v.account[2], "main");
	assert_int_equal(v.s[2].n[STORE_ST_SENT], 4); /* added twice */

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_stats_prune(t, D0 - 1, 2, &n), ERR_OK);
	assert_int_equal(n, 2); /* at most max */
	assert_int_equal(store_stats_prune(t, D0 - 1, 100, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_commit(t), ERR_OK);
	memset(&v, 0, sizeof(v));
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_stats_list(t, 0, collect, &v), ERR_OK);
	store_abort(t);
	assert_int_equal(v.n, 3);
	assert_int_equal(v.day[0], D0 - 1);
}

/* ---- firmware/stats.c ---- */

static int64_t fake_wall;
static int64_t fake_clock(void)
{
	return fake_wall;
}

struct fwfx {
	struct store_fx sf;
	struct fw fw;
};

static struct cfg *config(unsigned keep_days)
{
	struct cfg *c = NULL;
	char *text = NULL;
	size_t len = 0;
	cJSON *root;
	char *json;

	assert_int_equal(hal_file_read("tests/data/config/good.json", 1 << 20, &text, &len), ERR_OK);
	root = cJSON_ParseWithLength(text, len);
	free(text);
	cJSON_AddItemToObject(root, "stats", cJSON_CreateObject());
	cJSON_AddNumberToObject(cJSON_GetObjectItem(root, "stats"), "keep_days", keep_days);
	json = cJSON_PrintUnformatted(root);
	assert_int_equal(cfg_parse(json, strlen(json), &c, NULL), ERR_OK);
	free(json);
	cJSON_Delete(root);
	return c;
}

static void ride_before(struct store_txn *t, void *arg)
{
	fw_stats_ride(arg, t);
}

static void ride_after(int err, void *arg)
{
	fw_stats_rode(arg, err);
}

static void fw_start(struct fwfx *x, unsigned keep_days)
{
	x->fw.store = x->sf.s;
	if (!x->fw.cfg)
		x->fw.cfg = config(keep_days);
	store_set_commit_hook(x->sf.s, &(struct store_commit_hook){ride_before, ride_after, &x->fw});
	assert_int_equal(fw_stats_init(&x->fw), ERR_OK);
	fw_stats_set_clock(&x->fw, fake_clock);
}

static int fw_setup(void **state)
{
	struct fwfx *x = calloc(1, sizeof(*x));
	void *sf;

	assert_non_null(x);
	assert_int_equal(store_fx_setup(&sf), 0);
	x->sf = *(struct store_fx *)sf;
	free(sf);
	*state = x;
	return 0;
}

static int fw_teardown(void **state)
{
	struct fwfx *x = *state;
	struct store_fx *sf = malloc(sizeof(*sf));

	fw_stats_free(&x->fw);
	cfg_free(x->fw.cfg);
	*sf = x->sf;
	free(x);
	void *p = sf;
	return store_fx_teardown(&p);
}

static void add_msg(struct store_txn *t, const char *route, int state)
{
	struct store_msg m = {.state = (uint8_t)state, .route = route, .account = "main",
			      .event_id = "e", .to = "+491701234567"};

	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
}

static uint64_t count(struct fw *fw, uint32_t day, const char *route, int kind)
{
	struct seen v = {0};
	uint64_t n = 0;

	assert_int_equal(fw_stats_read(fw, day, collect, &v), ERR_OK);
	for (unsigned i = 0; i < v.n; i++)
		if (v.day[i] == day && !strcmp(v.route[i], route))
			n += v.s[i].n[kind];
	return n;
}

static void committed_only(void **state)
{
	struct fwfx *x = *state;
	struct store_txn *t, *c;

	fw_start(x, 90);
	fake_wall = (int64_t)D0 * DAY_MS + 3600000;
	/* Aborted: nothing counted. */
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	add_msg(t, "payments", STORE_QUEUED);
	fw_stats_count(&x->fw, t, "payments", STORE_ST_EVENTS, 1);
	store_abort(t);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_QUEUED), 0);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_EVENTS), 0);
	/* A nested txn undone inside a committed one: only the parent's. */
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	add_msg(t, "payments", STORE_QUEUED);
	assert_int_equal(store_begin_nested(t, &c), ERR_OK);
	add_msg(c, "payments", STORE_REJECTED);
	store_abort(c);
	assert_int_equal(store_begin_nested(t, &c), ERR_OK);
	add_msg(c, "tickets", STORE_SUPPRESSED);
	assert_int_equal(store_commit(c), ERR_OK);
	fw_stats_count(&x->fw, t, "payments", STORE_ST_EVENTS, 2);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_QUEUED), 0); /* not yet */
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_QUEUED), 1);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_REJECTED), 0);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_EVENTS), 2);
	assert_int_equal(count(&x->fw, D0, "tickets", STORE_ST_SUPPRESSED), 1);
	/* A state change counts; a retry back to queued does not count as
	 * queued again. */
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	struct store_msg m;
	assert_int_equal(store_outbox_get(t, 1, &m), ERR_OK);
	m.state = STORE_RETRY;
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	m.state = STORE_QUEUED;
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	m.state = STORE_SENT;
	m.attempt_ms = fake_wall;
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	m.state = STORE_READ; /* no delivered status first: delivered too */
	m.updated_ms = fake_wall + 5000;
	assert_int_equal(store_outbox_update(t, &m), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_QUEUED), 1);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_SENT), 1);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_DELIVERED), 1);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_READ), 1);
}

static void day_rollover_and_stop(void **state)
{
	struct fwfx *x = *state;
	struct store_txn *t;
	struct seen v = {0};

	fw_start(x, 90);
	fake_wall = (int64_t)(D0 + 1) * DAY_MS - 1; /* 23:59:59.999 UTC */
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	add_msg(t, "payments", STORE_QUEUED);
	assert_int_equal(store_commit(t), ERR_OK);
	fake_wall++; /* midnight: the next day */
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	add_msg(t, "payments", STORE_QUEUED);
	add_msg(t, "payments", STORE_QUEUED);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(fw_stats_today(&x->fw), D0 + 1);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_QUEUED), 1);
	assert_int_equal(count(&x->fw, D0 + 1, "payments", STORE_ST_QUEUED), 2);
	/* A clean stop writes what waits: the store alone has it all. */
	fw_stats_free(&x->fw);
	assert_int_equal(store_begin(x->sf.s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_stats_list(t, 0, collect, &v), ERR_OK);
	store_abort(t);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.day[0], D0);
	assert_int_equal(v.s[0].n[STORE_ST_QUEUED], 1);
	assert_int_equal(v.day[1], D0 + 1);
	assert_int_equal(v.s[1].n[STORE_ST_QUEUED], 2);
	assert_string_equal(v.account[1], "main");
}

static void keep_days(void **state)
{
	struct fwfx *x = *state;
	struct store_txn *t;
	struct store_stats d = {0};
	struct seen v = {0};

	d.n[STORE_ST_SENT] = 1;
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	for (uint32_t day = D0 - 6; day <= D0; day++)
		assert_int_equal(store_stats_add(t, day, "payments", "main", &d), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	fw_start(x, 3);
	fake_wall = (int64_t)D0 * DAY_MS + 1000;
	/* Any commit carries the prune: days before D0 - 2 go. */
	assert_int_equal(store_begin(x->sf.s, 0, &t), ERR_OK);
	add_msg(t, "payments", STORE_QUEUED);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(store_begin(x->sf.s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_stats_list(t, 0, collect, &v), ERR_OK);
	store_abort(t);
	assert_int_equal(v.n, 3);
	assert_int_equal(v.day[0], D0 - 2);
	assert_int_equal(v.day[2], D0);
	assert_int_equal(v.s[2].n[STORE_ST_SENT], 1);
	/* The queued record's count waits for a later commit, read meanwhile
	 * from memory beside the store's. */
	assert_int_equal(v.s[2].n[STORE_ST_QUEUED], 0);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_QUEUED), 1);
	assert_int_equal(count(&x->fw, D0, "payments", STORE_ST_SENT), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(coding),
		cmocka_unit_test(buckets),
		cmocka_unit_test(percentiles),
		cmocka_unit_test_setup_teardown(store_entries, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(committed_only, fw_setup, fw_teardown),
		cmocka_unit_test_setup_teardown(day_rollover_and_stop, fw_setup, fw_teardown),
		cmocka_unit_test_setup_teardown(keep_days, fw_setup, fw_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
