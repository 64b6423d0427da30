/*
 * test_ledger.c - the recipient ledger (consent, last inbound), the handled
 * inbound ids and high-water marks, the log ring's scrub for forget, and
 * outbox records of both layouts (v2 without free-form text, v3 with it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"
#include "store/ledger.h"
#include "store/logring.h"
#include "store/outbox.h"
#include "store/record.h"
#include "store/store.h"

#define NUM "+491701234567"

static struct store_txn *wtx(struct store_fx *f)
{
	struct store_txn *t;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	return t;
}

static void test_consent_roundtrip(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t = wtx(f);
	struct store_ledger e;
	uint64_t n;

	assert_int_equal(store_ledger_get(t, NUM, &e), ERR_NOTFOUND);
	assert_int_equal(e.consent, STORE_CONSENT_UNKNOWN);
	assert_int_equal(store_ledger_consent(t, NUM, STORE_CONSENT_OUT, "keyword:STOP", 1000), ERR_OK);
	assert_int_equal(store_ledger_inbound(t, NUM, "main", 900), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);

	store_fx_reopen(f, 16); /* what a restart reads */
	t = wtx(f);
	assert_int_equal(store_ledger_get(t, NUM, &e), ERR_OK);
	assert_int_equal(e.consent, STORE_CONSENT_OUT);
	assert_string_equal(e.source, "keyword:STOP");
	assert_int_equal(e.changed_ms, 1000);
	assert_int_equal(e.inbound_ms, 900);
	assert_string_equal(e.account, "main");
	/* A later change keeps the inbound time; an older inbound changes nothing. */
	assert_int_equal(store_ledger_consent(t, NUM, STORE_CONSENT_IN, "cli", 2000), ERR_OK);
	assert_int_equal(store_ledger_inbound(t, NUM, "other", 800), ERR_OK);
	assert_int_equal(store_ledger_get(t, NUM, &e), ERR_OK);
	assert_int_equal(e.consent, STORE_CONSENT_IN);
	assert_int_equal(e.inbound_ms, 900);
	assert_string_equal(e.account, "main");
	assert_int_equal(store_ledger_entries(t, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ledger_delete(t, NUM), ERR_OK);
	assert_int_equal(store_ledger_delete(t, NUM), ERR_NOTFOUND);
	assert_int_equal(store_ledger_entries(t, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void test_refusals(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t = wtx(f);
	struct store_ledger e;
	char longsrc[200];

	/* Not E.164: refused, and the txn goes on. */
	assert_int_equal(store_ledger_consent(t, "491701234567", STORE_CONSENT_OUT, "x", 1), ERR_INVAL);
	assert_int_equal(store_ledger_consent(t, "+0123456789", STORE_CONSENT_OUT, "x", 1), ERR_INVAL);
	assert_int_equal(store_ledger_consent(t, "+49170123456a", STORE_CONSENT_OUT, "x", 1), ERR_INVAL);
	assert_int_equal(store_ledger_consent(t, NUM, 7, "x", 1), ERR_INVAL);
	/* A source too long is cut, not refused. */
	memset(longsrc, 'a', sizeof(longsrc) - 1);
	longsrc[sizeof(longsrc) - 1] = '\0';
	assert_int_equal(store_ledger_consent(t, NUM, STORE_CONSENT_OUT, longsrc, 5), ERR_OK);
	assert_int_equal(store_ledger_get(t, NUM, &e), ERR_OK);
	assert_int_equal(strlen(e.source), STORE_LEDGER_SOURCE_MAX - 1);
	assert_int_equal(store_commit(t), ERR_OK);
	assert_int_equal(store_consent_parse("out"), STORE_CONSENT_OUT);
	assert_int_equal(store_consent_parse("maybe"), -1);
	assert_string_equal(store_consent_name(STORE_CONSENT_IN), "in");
}

static void test_inbound_ids(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t = wtx(f);
	char big[STORE_INBOUND_ID_MAX + 2];
	unsigned n = 0;
	int64_t hwm = -1;
	bool seen = true;

	assert_int_equal(store_inbound_seen(t, "SM1", &seen), ERR_OK);
	assert_false(seen);
	assert_int_equal(store_inbound_mark(t, "SM1", 1000), ERR_OK);
	assert_int_equal(store_inbound_mark(t, "SM2", 5000), ERR_OK);
	assert_int_equal(store_inbound_seen(t, "SM1", &seen), ERR_OK);
	assert_true(seen);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_inbound_mark(t, big, 1), ERR_TOOBIG);
	assert_int_equal(store_inbound_mark(t, "", 1), ERR_INVAL);
	/* Pruning forgets the old ids only. */
	assert_int_equal(store_inbound_prune(t, 2000, 100, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_inbound_seen(t, "SM1", &seen), ERR_OK);
	assert_false(seen);
	assert_int_equal(store_inbound_seen(t, "SM2", &seen), ERR_OK);
	assert_true(seen);
	assert_int_equal(store_inbound_hwm(t, "main", &hwm), ERR_OK);
	assert_int_equal(hwm, 0);
	assert_int_equal(store_inbound_hwm_put(t, "main", 123456), ERR_OK);
	assert_int_equal(store_inbound_hwm(t, "main", &hwm), ERR_OK);
	assert_int_equal(hwm, 123456);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void test_log_scrub(void **state)
{
	struct store_fx *f = *state;
	struct store_txn *t = wtx(f);
	unsigned char buf[STORE_LOG_ENC_MAX];
	struct store_log_rec a = {.time_ms = 1, .level = 6, .module = "sender", .text = "to +491*******567",
				  .to = NUM, .vars = "{\"1\":\"Ana\"}"};
	struct store_log_rec b = a;
	struct store_log_range before, after;
	uint64_t n = 0;
	size_t len;

	b.to = "+491709999999";
	len = store_log_encode(&a, buf, sizeof(buf));
	assert_int_equal(store_log_append(t, buf, len, NULL), ERR_OK);
	len = store_log_encode(&b, buf, sizeof(buf));
	assert_int_equal(store_log_append(t, buf, len, NULL), ERR_OK);
	assert_int_equal(store_log_range(t, &before), ERR_OK);
	assert_int_equal(store_log_scrub(t, NUM, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_log_range(t, &after), ERR_OK);
	/* Same records, fewer bytes: the number and vars are gone. */
	assert_int_equal(after.first, before.first);
	assert_int_equal(after.last, before.last);
	assert_true(after.bytes < before.bytes);
	assert_int_equal(store_log_scrub(t, NUM, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_commit(t), ERR_OK);
}

static struct store_msg sample(void)
{
	struct store_msg m = {.state = STORE_QUEUED, .event_id = "e1", .topic = "t", .route = "r",
			      .account = "main", .to = NUM, .template_name = "tpl",
			      .content_sid = "HX0123456789abcdef0123456789abcdef", .vars_json = "{}",
			      .provider_id = "", .err_text = "", .body = "Your code is 1234"};
	return m;
}

static void test_record_v3_and_v2(void **state)
{
	struct store_msg m = sample(), d;
	unsigned char buf[1024];
	size_t len;

	(void)state;
	assert_int_equal(store_record_size(&m, &len), ERR_OK);
	store_record_encode(&m, buf);
	assert_int_equal(buf[0], 3);
	assert_int_equal(store_record_decode(buf, len, &d), ERR_OK);
	assert_string_equal(d.body, "Your code is 1234");
	assert_string_equal(d.content_sid, m.content_sid);
	/* Without text a record is written as layout 2 (v3 less the last
	 * string), which older daemons read; it reads with an empty body. */
	m.body = "";
	assert_int_equal(store_record_size(&m, &len), ERR_OK);
	store_record_encode(&m, buf);
	assert_int_equal(buf[0], 2);
	assert_int_equal(store_record_decode(buf, len, &d), ERR_OK);
	assert_string_equal(d.body, "");
	assert_string_equal(d.err_text, "");
	assert_string_equal(d.to, NUM);
	/* A v2 record that claims to be v3 lacks its text: corrupt; and so is
	 * an unknown version. */
	buf[0] = 3;
	assert_int_equal(store_record_decode(buf, len, &d), ERR_STORE);
	buf[0] = 4;
	assert_int_equal(store_record_decode(buf, len, &d), ERR_STORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_consent_roundtrip, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_inbound_ids, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(test_log_scrub, store_fx_setup, store_fx_teardown),
		cmocka_unit_test(test_record_v3_and_v2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
