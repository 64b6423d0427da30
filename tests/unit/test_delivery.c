/*
 * test_delivery.c - delivery status: the Twilio status fetch (URL and
 * answers), the webhook body parsers (Twilio form, Meta JSON batches,
 * garbage), the rank rules, the poll schedule, and the store's status,
 * poll and receipt DBs with store_verify's view of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "firmware/delivery.h"
#include "hal/file.h"
#include "hal/err.h"
#include "net/providers/provider.h"
#include "net/providers/twilio.h"
#include "net/providers/webhook.h"
#include "store/outbox.h"
#include "store/status.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/verify.h"

#define SID "SM0123456789abcdef0123456789abcdef"
#define AC "AC0123456789abcdef0123456789abcdef"

/* ---- Twilio status fetch ---- */

static void status_url(void **state)
{
	struct net_send_msg m = {.api_base = "https://api.twilio.com/", .account_id = AC};
	char *url = NULL;

	(void)state;
	assert_int_equal(net_twilio_provider.status_url(&m, SID, &url), ERR_OK);
	assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/" AC "/Messages/" SID ".json");
	free(url);
	/* the id goes into the path: only plain ones */
	assert_int_equal(net_twilio_provider.status_url(&m, "SM1/../x", &url), ERR_INVAL);
	assert_int_equal(net_twilio_provider.status_url(&m, "", &url), ERR_INVAL);
	m.account_id = NULL;
	assert_int_equal(net_twilio_provider.status_url(&m, SID, &url), ERR_INVAL);
}

static void read_status(long http, const char *body, struct net_status *st)
{
	struct net_http_result res = {.err = ERR_OK, .status = http, .body = (char *)body,
				      .body_len = body ? strlen(body) : 0};

	net_twilio_provider.status_read(&res, st);
}

static void status_read_ok(void **state)
{
	struct net_status st;

	(void)state;
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"delivered\",\"error_code\":null,"
			 "\"date_updated\":\"Mon, 06 Jan 2025 10:00:05 +0000\"}", &st);
	assert_int_equal(st.cls, NET_OK);
	assert_int_equal(st.status, NET_ST_DELIVERED);
	assert_int_equal(st.code, 0);
	assert_int_equal(st.err_class, NET_OK);
	assert_string_equal(st.id, SID);
	assert_true(st.at_ms == 1736157605000);

	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"undelivered\",\"error_code\":63024,"
			 "\"error_message\":\"Invalid message recipient\","
			 "\"date_updated\":\"Mon, 06 Jan 2025 10:00:05 +0100\"}", &st);
	assert_int_equal(st.cls, NET_OK);
	assert_int_equal(st.status, NET_ST_UNDELIVERED);
	assert_int_equal(st.code, 63024);
	assert_int_equal(st.err_class, net_twilio_code_class(63024));
	assert_string_equal(st.text, "Invalid message recipient");
	assert_true(st.at_ms == 1736157605000 - 3600000);

	/* a date we cannot read is unknown, not a failure */
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"read\",\"date_updated\":\"yesterday\"}", &st);
	assert_int_equal(st.cls, NET_OK);
	assert_int_equal(st.status, NET_ST_READ);
	assert_true(st.at_ms == -1);
	assert_string_equal(st.price_unit, ""); /* no price: none */
}

/* "price" and "price_unit" as the OpenAPI description's Message examples
 * give them (a negative string, null before the send; "USD" or "usd"). */
static void status_read_price(void **state)
{
	struct net_status st;

	(void)state;
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"delivered\",\"price\":\"-0.00750\","
			 "\"price_unit\":\"USD\"}", &st);
	assert_int_equal(st.cls, NET_OK);
	assert_string_equal(st.price_unit, "USD");
	assert_int_equal(st.price_micro, 7500);
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"read\",\"price\":\"-0.0025\","
			 "\"price_unit\":\"usd\"}", &st);
	assert_string_equal(st.price_unit, "USD");
	assert_int_equal(st.price_micro, 2500);
	/* To the nearest millionth (hal_micro, llround without libm). */
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"read\",\"price\":\"-0.1234567\","
			 "\"price_unit\":\"usd\"}", &st);
	assert_int_equal(st.price_micro, 123457);
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"read\",\"price\":\"-0.0000012\","
			 "\"price_unit\":\"usd\"}", &st);
	assert_int_equal(st.price_micro, 1);
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"read\",\"price\":\"-3\","
			 "\"price_unit\":\"usd\"}", &st);
	assert_int_equal(st.price_micro, 3000000);
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"sent\",\"price\":null,"
			 "\"price_unit\":\"USD\"}", &st);
	assert_string_equal(st.price_unit, "");
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"sent\",\"price\":\"cheap\","
			 "\"price_unit\":\"USD\"}", &st);
	assert_int_equal(st.cls, NET_OK); /* a price we cannot read is none */
	assert_string_equal(st.price_unit, "");
}

static void status_read_failures(void **state)
{
	struct net_status st;
	struct net_http_result res = {.err = ERR_TIMEOUT, .maybe_sent = true};

	(void)state;
	read_status(200, "<html>", &st);
	assert_int_equal(st.cls, NET_PERMANENT);
	assert_int_equal(st.status, NET_ST_UNKNOWN);
	read_status(200, "{\"sid\":\"" SID "\",\"status\":\"teleported\"}", &st);
	assert_int_equal(st.cls, NET_PERMANENT);
	assert_non_null(strstr(st.text, "teleported"));
	read_status(200, "{\"status\":\"sent\"}", &st);
	assert_int_equal(st.cls, NET_PERMANENT);
	read_status(404, "{\"code\":20404,\"message\":\"not found\",\"status\":404}", &st);
	assert_int_equal(st.cls, NET_PERMANENT);
	assert_int_equal(st.code, 20404);
	read_status(401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", &st);
	assert_int_equal(st.cls, NET_AUTH);
	read_status(429, "{\"code\":20429}", &st);
	assert_int_equal(st.cls, NET_RATE);
	/* a GET changes nothing: a 5xx or a timeout is plain transient */
	read_status(503, "", &st);
	assert_int_equal(st.cls, NET_TRANSIENT);
	net_twilio_provider.status_read(&res, &st);
	assert_int_equal(st.cls, NET_TRANSIENT);
}

/* ---- ranks and schedule ---- */

static void ranks(void **state)
{
	(void)state;
	assert_true(net_msg_status_advances(NET_ST_SENT, NET_ST_DELIVERED));
	assert_true(net_msg_status_advances(NET_ST_SENT, NET_ST_READ)); /* delivered implied */
	assert_true(net_msg_status_advances(NET_ST_DELIVERED, NET_ST_READ));
	assert_true(net_msg_status_advances(NET_ST_SENT, NET_ST_UNDELIVERED));
	assert_false(net_msg_status_advances(NET_ST_DELIVERED, NET_ST_SENT)); /* late */
	assert_false(net_msg_status_advances(NET_ST_DELIVERED, NET_ST_FAILED)); /* no undoing */
	assert_false(net_msg_status_advances(NET_ST_READ, NET_ST_DELIVERED));
	assert_false(net_msg_status_advances(NET_ST_DELIVERED, NET_ST_DELIVERED)); /* duplicate */
	assert_false(net_msg_status_advances(NET_ST_FAILED, NET_ST_READ)); /* final */
	assert_false(net_msg_status_advances(NET_ST_SENT, NET_ST_UNKNOWN));
}

static void schedule(void **state)
{
	static const int64_t want[] = {5000, 15000, 60000, 300000, 900000, 3600000, 3600000};

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_true(fw_poll_delay_ms(i, 5000) == want[i]);
	assert_true(fw_poll_delay_ms(0, 1000) == 1000);
	assert_true(fw_poll_delay_ms(1, 1000) == 3000);
	assert_true(fw_poll_delay_ms(5, 1000) == 720000);
	assert_true(fw_poll_delay_ms(6, 1000) == 3600000); /* then hourly */
	assert_true(fw_poll_delay_ms(1000000, 1000) == 3600000);
	assert_true(fw_poll_delay_ms(3, 3600000) == 3600000); /* capped */
}

/* ---- webhook bodies ---- */

struct seen {
	struct net_status st[8];
	unsigned n_st;
	char in_id[8][64], in_from[8][32], in_to[8][32], in_body[8][32], in_payload[8][32],
		in_reply[8][64];
	int64_t in_at[8];
	unsigned n_in;
};

static void on_st(const struct net_status *st, void *arg)
{
	struct seen *s = arg;

	if (s->n_st < 8)
		s->st[s->n_st++] = *st;
}

static void on_in(const struct net_inbound *in, void *arg)
{
	struct seen *s = arg;
	unsigned i = s->n_in++;

	if (i >= 8)
		return;
	snprintf(s->in_id[i], 64, "%s", in->id);
	snprintf(s->in_from[i], 32, "%s", in->from);
	snprintf(s->in_to[i], 32, "%s", in->to);
	snprintf(s->in_body[i], 32, "%s", in->body);
	snprintf(s->in_payload[i], 32, "%s", in->payload ? in->payload : "-");
	snprintf(s->in_reply[i], 64, "%s", in->replied_to ? in->replied_to : "-");
	s->in_at[i] = in->at_ms;
}

static void twilio_forms(void **state)
{
	struct seen s = {0};
	struct net_webhook_sink k = {on_st, on_in, net_twilio_code_class, &s};
	unsigned n;

	(void)state;
	assert_int_equal(net_twilio_webhook_parse("SmsSid=" SID "&MessageSid=" SID
						  "&MessageStatus=undelivered&ErrorCode=63024"
						  "&AccountSid=" AC "&To=whatsapp%3A%2B491701234567"
						  "&EventType=UNDELIVERED", &k, &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(s.n_st, 1);
	assert_string_equal(s.st[0].id, SID);
	assert_int_equal(s.st[0].status, NET_ST_UNDELIVERED);
	assert_int_equal(s.st[0].code, 63024);
	assert_int_equal(s.st[0].err_class, net_twilio_code_class(63024));
	assert_true(s.st[0].at_ms == -1);

	assert_int_equal(net_twilio_webhook_parse("MessageSid=SMin1&SmsStatus=received"
						  "&From=whatsapp%3A%2B491701234567&To=whatsapp%3A%2B14155550100"
						  "&Body=Yes+please&ButtonText=Yes+please&ButtonPayload=confirm-7"
						  "&OriginalRepliedMessageSid=" SID "&ProfileName=Ana", &k, &n),
			 ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(s.n_in, 1);
	assert_string_equal(s.in_id[0], "SMin1");
	assert_string_equal(s.in_from[0], "+491701234567");
	assert_string_equal(s.in_to[0], "+14155550100");
	assert_string_equal(s.in_body[0], "Yes please");
	assert_string_equal(s.in_payload[0], "confirm-7");
	assert_string_equal(s.in_reply[0], SID);

	/* garbage: no sid; an unknown status word is read but handed nothing */
	assert_int_equal(net_twilio_webhook_parse("", &k, &n), ERR_INVAL);
	assert_int_equal(net_twilio_webhook_parse("MessageStatus=delivered", &k, &n), ERR_INVAL);
	assert_int_equal(net_twilio_webhook_parse("MessageSid=" SID "&MessageStatus=teleported", &k, &n),
			 ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(s.n_st, 1);
	/* over 256 parameters: refused whole (and nothing leaks, see fuzz_webhook) */
	{
		size_t cap = 300 * 4 + 64, len;
		char *many = malloc(cap);

		assert_non_null(many);
		len = (size_t)snprintf(many, cap, "MessageSid=" SID "&MessageStatus=read");
		for (int i = 0; i < 300; i++)
			len += (size_t)snprintf(many + len, cap - len, "&a=%d", i % 10);
		assert_int_equal(net_twilio_webhook_parse(many, &k, &n), ERR_INVAL);
		assert_false(net_twilio_signature_valid("tok", "https://x/", many, "AAAA"));
		free(many);
	}
	assert_int_equal(s.n_st, 1);
}

static const char meta_batch[] =
	"{\"object\":\"whatsapp_business_account\",\"entry\":["
	"{\"id\":\"W1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
	"\"metadata\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"106\"},"
	"\"statuses\":[{\"id\":\"wamid.A\",\"status\":\"delivered\",\"timestamp\":\"1749416383\",\"recipient_id\":\"491701234567\"},"
	"{\"id\":\"wamid.B\",\"status\":\"failed\",\"timestamp\":\"1749416384\","
	"\"errors\":[{\"code\":131047,\"title\":\"Re-engagement message\",\"message\":\"m\"}]}]}},"
	"{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.C\",\"status\":\"read\",\"timestamp\":\"1749416390\"}]}}]},"
	"{\"id\":\"W2\",\"changes\":[{\"field\":\"messages\",\"value\":{"
	"\"metadata\":{\"display_phone_number\":\"15550783881\"},"
	"\"contacts\":[{\"profile\":{\"name\":\"Ana\"},\"wa_id\":\"491701234567\"}],"
	"\"messages\":[{\"from\":\"491701234567\",\"id\":\"wamid.IN1\",\"timestamp\":\"1749416400\",\"type\":\"text\",\"text\":{\"body\":\"STOP\"}},"
	"{\"from\":\"491701234568\",\"id\":\"wamid.IN2\",\"timestamp\":\"1749416401\",\"type\":\"button\","
	"\"button\":{\"payload\":\"yes-1\",\"text\":\"Yes\"},\"context\":{\"from\":\"15550783881\",\"id\":\"wamid.A\"}}],"
	"\"statuses\":[{\"id\":\"wamid.D\",\"status\":\"sent\",\"timestamp\":\"1749416402\"}]}}]}]}";

static int meta_class(int code)
{
	return code == 131047 ? NET_WINDOW : NET_PERMANENT;
}

static void meta_bodies(void **state)
{
	struct seen s = {0};
	struct net_webhook_sink k = {on_st, on_in, meta_class, &s};
	const char *empty = "{\"entry\":[{\"changes\":[{\"value\":{\"statuses\":"
			    "[{\"status\":\"read\"},{\"id\":\"w\",\"status\":\"x\"}]}}]},7]}";
	unsigned n;

	(void)state;
	assert_int_equal(net_meta_webhook_parse(meta_batch, sizeof(meta_batch) - 1, &k, &n), ERR_OK);
	assert_int_equal(n, 6);
	assert_int_equal(s.n_st, 4);
	assert_string_equal(s.st[0].id, "wamid.A");
	assert_int_equal(s.st[0].status, NET_ST_DELIVERED);
	assert_true(s.st[0].at_ms == 1749416383000);
	assert_string_equal(s.st[1].id, "wamid.B");
	assert_int_equal(s.st[1].status, NET_ST_FAILED);
	assert_int_equal(s.st[1].code, 131047);
	assert_int_equal(s.st[1].err_class, NET_WINDOW);
	assert_string_equal(s.st[1].text, "Re-engagement message");
	assert_string_equal(s.st[2].id, "wamid.C");
	assert_int_equal(s.st[2].status, NET_ST_READ);
	assert_string_equal(s.st[3].id, "wamid.D");
	assert_int_equal(s.n_in, 2);
	assert_string_equal(s.in_id[0], "wamid.IN1");
	assert_string_equal(s.in_from[0], "+491701234567");
	assert_string_equal(s.in_to[0], "+15550783881");
	assert_string_equal(s.in_body[0], "STOP");
	assert_true(s.in_at[0] == 1749416400000);
	assert_string_equal(s.in_body[1], "Yes");
	assert_string_equal(s.in_payload[1], "yes-1");
	assert_string_equal(s.in_reply[1], "wamid.A");

	/* garbage */
	assert_int_equal(net_meta_webhook_parse("not json", 8, &k, &n), ERR_INVAL);
	assert_int_equal(net_meta_webhook_parse("{\"object\":1}", 12, &k, &n), ERR_INVAL);
	assert_int_equal(net_meta_webhook_parse(NULL, 0, &k, &n), ERR_INVAL);
	/* entries without what we use, a status without an id: nothing handed on */
	assert_int_equal(net_meta_webhook_parse(empty, strlen(empty), &k, &n), ERR_OK);
	assert_int_equal(n, 0);
}

/* ---- configuration: accounts.<name>.status_poll, .webhooks ---- */

/* Parses good.json with accounts.main.<key> set to the JSON `value` (NULL:
 * as it is); the first error's path and text in err. */
static int parse_with(const char *key, const char *value, struct cfg **out, char *err, size_t cap)
{
	struct cfg_errors errs = {0};
	char *text = NULL, *json;
	size_t len = 0;
	cJSON *root, *acct;
	int rc;

	assert_int_equal(hal_file_read("tests/data/config/good.json", 1 << 20, &text, &len), ERR_OK);
	root = cJSON_ParseWithLength(text, len);
	free(text);
	acct = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "accounts"), "main");
	if (key)
		cJSON_AddItemToObject(acct, key, cJSON_Parse(value));
	json = cJSON_PrintUnformatted(root);
	rc = cfg_parse(json, strlen(json), out, &errs);
	snprintf(err, cap, "%s: %s", errs.n ? errs.e[0].path : "", errs.n ? errs.e[0].msg : "");
	free(json);
	cJSON_Delete(root);
	return rc;
}

static void config_keys(void **state)
{
	struct cfg *c = NULL;
	char err[300];

	(void)state;
	assert_int_equal(parse_with(NULL, NULL, &c, err, sizeof(err)), ERR_OK);
	assert_true(c->accounts[0].poll.enabled);
	assert_true(c->accounts[0].poll.first_s == 5);
	assert_true(c->accounts[0].poll.max_age_s == 72 * 3600);
	assert_false(c->accounts[0].webhooks);
	cfg_free(c);
	assert_int_equal(parse_with("status_poll", "{\"enabled\":false,\"first\":\"1s\",\"max_age\":\"2h\"}",
				    &c, err, sizeof(err)), ERR_OK);
	assert_false(c->accounts[0].poll.enabled);
	assert_true(c->accounts[0].poll.first_s == 1 && c->accounts[0].poll.max_age_s == 7200);
	cfg_free(c);
	assert_int_equal(parse_with("webhooks", "true", &c, err, sizeof(err)), ERR_OK);
	assert_true(c->accounts[0].webhooks);
	cfg_free(c);

	/* each mistake named by its path */
	assert_int_not_equal(parse_with("webhooks", "\"yes\"", &c, err, sizeof(err)), ERR_OK);
	assert_non_null(strstr(err, "accounts.main.webhooks: expected true or false, got a string"));
	assert_int_not_equal(parse_with("status_poll", "{\"enabled\":1}", &c, err, sizeof(err)), ERR_OK);
	assert_non_null(strstr(err, "status_poll.enabled: expected true or false"));
	assert_int_not_equal(parse_with("status_poll", "{\"first\":\"0s\"}", &c, err, sizeof(err)), ERR_OK);
	assert_non_null(strstr(err, "status_poll.first: expected a duration"));
	assert_int_not_equal(parse_with("status_poll", "{\"max_age\":\"90d\"}", &c, err, sizeof(err)), ERR_OK);
	assert_non_null(strstr(err, "status_poll.max_age"));
	assert_int_not_equal(parse_with("status_poll", "{\"every\":\"5s\"}", &c, err, sizeof(err)), ERR_OK);
	assert_non_null(strstr(err, "status_poll.every"));
	assert_int_not_equal(parse_with("status_poll", "true", &c, err, sizeof(err)), ERR_OK);
	assert_non_null(strstr(err, "status_poll: expected an object"));
}

/* ---- store: status, poll index, receipts, verify ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

struct fx {
	char dir[64];
	struct store *s;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/delivery-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, 16, &f->s), ERR_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint64_t add_sent(struct store_txn *t, const char *sid)
{
	struct store_msg m = {
		.state = STORE_SENT, .created_ms = 1000, .event_id = sid, .route = "payments",
		.account = "main", .to = "+491701234567", .attempts = 1, .provider_id = sid,
	};

	assert_int_equal(store_outbox_add(t, &m), ERR_OK);
	return m.seq;
}

static void verify_clean(struct store_txn *t)
{
	struct store_verify_report r;

	assert_int_equal(store_verify(t, &r), ERR_OK);
	if (r.problems)
		fail_msg("%s", r.notes[0]);
}

static void track_and_poll(void **state)
{
	struct fx *f = *state;
	struct store_track tr = {0}, got;
	struct store_txn *t;
	uint64_t a, b, seqs[4];
	unsigned n;
	int64_t next;

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	a = add_sent(t, "SMa");
	b = add_sent(t, "SMb");
	tr = (struct store_track){.seq = a, .sent_ms = 100, .next_poll_ms = 5000, .code = 0};
	assert_int_equal(store_track_put(t, &tr), ERR_OK);
	tr = (struct store_track){.seq = b, .sent_ms = 100, .next_poll_ms = 3000, .code = 63024};
	tr.at_ms[STORE_AT_FAILED] = 4242;
	snprintf(tr.text, sizeof(tr.text), "undelivered");
	assert_int_equal(store_track_put(t, &tr), ERR_OK);
	assert_int_equal(store_poll_due(t, 4000, 4, seqs, &n, &next), ERR_OK);
	assert_int_equal(n, 1);
	assert_true(seqs[0] == b);
	assert_true(next == 5000);
	assert_int_equal(store_poll_due(t, 9000, 4, seqs, &n, &next), ERR_OK);
	assert_int_equal(n, 2);
	assert_true(seqs[0] == b && seqs[1] == a);
	verify_clean(t);

	/* moved on, then off: the index follows */
	assert_int_equal(store_track_get(t, b, &got), ERR_OK);
	assert_int_equal(got.code, 63024);
	assert_true(got.at_ms[STORE_AT_FAILED] == 4242);
	assert_string_equal(got.text, "undelivered");
	got.next_poll_ms = 0;
	assert_int_equal(store_track_put(t, &got), ERR_OK);
	assert_int_equal(store_poll_due(t, 9000, 4, seqs, &n, &next), ERR_OK);
	assert_int_equal(n, 1);
	verify_clean(t);

	/* a deleted record takes its status and poll entry with it */
	assert_int_equal(store_outbox_delete(t, a), ERR_OK);
	assert_int_equal(store_track_get(t, a, &got), ERR_NOTFOUND);
	assert_int_equal(store_poll_due(t, 9000, 4, seqs, &n, &next), ERR_OK);
	assert_int_equal(n, 0);
	verify_clean(t);
	assert_int_equal(store_commit(t), ERR_OK);
}

static void verify_catches(void **state)
{
	struct fx *f = *state;
	struct store_verify_report r;
	struct store_track tr = {0};
	struct store_txn *t;
	unsigned char k[16];
	MDB_val key = {sizeof(k), k}, val = {0, NULL};

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	tr.seq = add_sent(t, "SMc");
	tr.next_poll_ms = 7000;
	assert_int_equal(store_track_put(t, &tr), ERR_OK);
	/* a poll entry no status names */
	store_be64_put(k, 1234);
	store_be64_put(k + 8, tr.seq);
	assert_int_equal(mdb_put(t->txn, t->s->dbi[STORE_DB_POLL], &key, &val, 0), 0);
	assert_int_equal(store_verify(t, &r), ERR_OK);
	assert_true(r.by_kind[STORE_VERIFY_TRACK] == 1);
	/* and a status whose poll entry is gone */
	store_be64_put(k, 7000);
	assert_int_equal(mdb_del(t->txn, t->s->dbi[STORE_DB_POLL], &key, NULL), 0);
	assert_int_equal(store_verify(t, &r), ERR_OK);
	assert_true(r.by_kind[STORE_VERIFY_TRACK] == 2);
	store_abort(t);
}

struct got {
	uint64_t ids[8];
	char topics[8][64], payloads[8][64];
	unsigned n;
};

static int take(uint64_t id, const char *topic, const char *payload, void *arg)
{
	struct got *g = arg;

	g->ids[g->n] = id;
	snprintf(g->topics[g->n], 64, "%s", topic);
	snprintf(g->payloads[g->n++], 64, "%s", payload);
	return 0;
}

static void receipts_queue(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct got g = {0};
	uint64_t n;
	char big[STORE_RECEIPT_MAX + 1];

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_receipt_add(t, "outpost/g/receipts/e1", "{\"status\":\"sent\"}"), ERR_OK);
	assert_int_equal(store_receipt_add(t, "outpost/g/receipts/e1", "{\"status\":\"read\"}"), ERR_OK);
	assert_int_equal(store_receipt_add(t, "outpost/g/receipts/e2", "{}"), ERR_OK);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_receipt_add(t, "t", big), ERR_TOOBIG);
	assert_int_equal(store_commit(t), ERR_OK);

	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_receipt_count(t, &n), ERR_OK);
	assert_true(n == 3);
	assert_int_equal(store_receipt_list(t, 0, 8, take, &g), ERR_OK);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.topics[0], "outpost/g/receipts/e1");
	assert_string_equal(g.payloads[1], "{\"status\":\"read\"}");
	assert_true(g.ids[0] < g.ids[1] && g.ids[1] < g.ids[2]);
	/* acknowledged: gone; twice: not found, nothing else changes */
	assert_int_equal(store_receipt_del(t, g.ids[1]), ERR_OK);
	assert_int_equal(store_receipt_del(t, g.ids[1]), ERR_NOTFOUND);
	assert_int_equal(store_receipt_count(t, &n), ERR_OK);
	assert_true(n == 2);
	g.n = 0;
	assert_int_equal(store_receipt_list(t, g.ids[0], 8, take, &g), ERR_OK);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.topics[0], "outpost/g/receipts/e2");
	verify_clean(t);
	assert_int_equal(store_commit(t), ERR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_url),
		cmocka_unit_test(status_read_ok),
		cmocka_unit_test(status_read_price),
		cmocka_unit_test(status_read_failures),
		cmocka_unit_test(ranks),
		cmocka_unit_test(schedule),
		cmocka_unit_test(twilio_forms),
		cmocka_unit_test(meta_bodies),
		cmocka_unit_test(config_keys),
		cmocka_unit_test_setup_teardown(track_and_poll, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(verify_catches, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(receipts_queue, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
