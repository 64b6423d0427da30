/*
 * test_cmdauth.c - net/cmdauth.c: signatures match an independent HMAC
 * (OpenSSL's, computed when the test was written: `openssl dgst -sha256
 * -mac HMAC`), any changed field breaks them, replays are caught until the
 * window passes, and malformed envelopes are named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "hal/err.h"
#include "net/cmdauth.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define NONCE "00112233445566778899aabbccddeeff"
#define TOPIC "outpost/gw-1/reply/x"
#define REQ "{\"cmd\":\"status\"}"

static void known_answers(void **state)
{
	unsigned char key[NET_CMD_KEY_LEN];
	char sig[NET_CMD_SIG_HEX];

	(void)state;
	assert_true(net_cmd_key_parse(KEY_HEX, key));
	net_cmd_sign(key, "gw-1", 1764700000, NONCE, TOPIC, REQ, sig);
	assert_string_equal(sig, "37a94e5bb52c38ef07b43e618b17e737ebc3f5846a7d0808f37bdec82f628373");
	net_cmd_sign_reply(key, NONCE, "{\"ok\":true}", sig);
	assert_string_equal(sig, "67d0fd352b3af26d97534b1045f769cb1d4663c8a58f02e15cd95247cd8e4d31");
}

static void every_field_is_signed(void **state)
{
	unsigned char key[NET_CMD_KEY_LEN];
	char base[NET_CMD_SIG_HEX], other[NET_CMD_SIG_HEX];

	(void)state;
	assert_true(net_cmd_key_parse(KEY_HEX, key));
	net_cmd_sign(key, "gw-1", 1764700000, NONCE, TOPIC, REQ, base);
	net_cmd_sign(key, "gw-2", 1764700000, NONCE, TOPIC, REQ, other);
	assert_false(net_cmd_sig_equal(base, other));
	net_cmd_sign(key, "gw-1", 1764700001, NONCE, TOPIC, REQ, other);
	assert_false(net_cmd_sig_equal(base, other));
	net_cmd_sign(key, "gw-1", 1764700000, "00112233445566778899aabbccddeef0", TOPIC, REQ, other);
	assert_false(net_cmd_sig_equal(base, other));
	net_cmd_sign(key, "gw-1", 1764700000, NONCE, "outpost/gw-1/reply/y", REQ, other);
	assert_false(net_cmd_sig_equal(base, other));
	net_cmd_sign(key, "gw-1", 1764700000, NONCE, TOPIC, "{\"cmd\":\"outbox\"}", other);
	assert_false(net_cmd_sig_equal(base, other));
	key[31] ^= 1;
	net_cmd_sign(key, "gw-1", 1764700000, NONCE, TOPIC, REQ, other);
	assert_false(net_cmd_sig_equal(base, other));
	assert_true(net_cmd_sig_equal(base, base));
	assert_false(net_cmd_sig_equal(base, "37a9"));
}

static void keys(void **state)
{
	unsigned char key[NET_CMD_KEY_LEN];

	(void)state;
	assert_false(net_cmd_key_parse(NULL, key));
	assert_false(net_cmd_key_parse("00", key));
	assert_false(net_cmd_key_parse(KEY_HEX "00", key));
	assert_false(net_cmd_key_parse("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
				       key));
	assert_true(net_cmd_key_parse("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
				      key));
	assert_int_equal(key[10], 0x0a);
}

static void replays(void **state)
{
	struct net_nonces *c = calloc(1, sizeof(*c));
	char n[40];

	(void)state;
	assert_int_equal(net_nonces_check(c, NONCE, 1000, 1000, 300), ERR_OK);
	assert_int_equal(net_nonces_check(c, NONCE, 1000, 1100, 300), ERR_EXISTS);
	/* Once its timestamp left the window it is forgotten (and a request
	 * with that timestamp would be refused by the window check anyway). */
	assert_int_equal(net_nonces_check(c, NONCE, 1000, 1301, 300), ERR_OK);
	assert_int_equal(c->n, 1);
	for (unsigned i = 1; i <= NET_NONCES_MAX; i++) { /* the first drops NONCE (ts 1000) */
		snprintf(n, sizeof(n), "%032x", i);
		assert_int_equal(net_nonces_check(c, n, 1301, 1301, 300), ERR_OK);
	}
	assert_int_equal(net_nonces_check(c, "ffffffffffffffffffffffffffffffff", 1301, 1301, 300),
			 ERR_LIMIT);
	assert_int_equal(net_nonces_check(c, "ffffffffffffffffffffffffffffffff", 1700, 1700, 300),
			 ERR_OK);
	free(c);
}

static void envelopes(void **state)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{"[]", "not a JSON object"},
		{"{\"gw\":\"g\"}", "\"req\""},
		{"{\"req\":\"{}\",\"ts\":1,\"nonce\":\"" NONCE "\",\"reply_to\":\"t\",\"sig\":\"\"}", "\"gw\""},
		{"{\"req\":\"{}\",\"gw\":\"g\",\"ts\":1.5}", "\"ts\""},
		{"{\"req\":\"{}\",\"gw\":\"g\",\"ts\":1,\"nonce\":\"abc\"}", "\"nonce\""},
		{"{\"req\":\"{}\",\"gw\":\"g\",\"ts\":1,\"nonce\":\"" NONCE "\",\"reply_to\":\"a/#\"}",
		 "\"reply_to\""},
		{"{\"req\":\"{}\",\"gw\":\"g\",\"ts\":1,\"nonce\":\"" NONCE "\",\"reply_to\":\"a/b\","
		 "\"sig\":\"xyz\"}", "\"sig\""},
	};
	struct net_cmd_env e;
	char why[160];
	cJSON *j;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i].json);
		why[0] = '\0';
		assert_false(net_cmd_env_parse(j, &e, why, sizeof(why)));
		assert_non_null(strstr(why, bad[i].why));
		cJSON_Delete(j);
	}
	j = cJSON_Parse("{\"req\":\"{}\",\"gw\":\"g\",\"ts\":1764700000,\"nonce\":\"" NONCE
			"\",\"reply_to\":\"a/b\",\"sig\":\"37a94e5bb52c38ef07b43e618b17e737ebc3f5846a"
			"7d0808f37bdec82f628373\"}");
	assert_true(net_cmd_env_parse(j, &e, why, sizeof(why)));
	assert_int_equal(e.ts, 1764700000);
	assert_string_equal(e.reply_to, "a/b");
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_answers), cmocka_unit_test(every_field_is_signed),
		cmocka_unit_test(keys),          cmocka_unit_test(replays),
		cmocka_unit_test(envelopes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
