/*
 * fuzz_cmdauth.c - the MQTT command envelope (net/cmdauth.c) on the input as
 * a published payload: parsing, signing what was parsed, the nonce cache.
 *
 * Oracles besides the sanitizers: a parsed envelope keeps the promised
 * shapes (nonce 16..64 hex, sig 64 hex, reply_to without wildcards, ts in
 * range); the signature of the parsed fields verifies against itself and
 * not against a changed request; a nonce taken once is refused as a replay
 * while its time is inside the window.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hal/err.h"
#include "net/cmdauth.h"
#include "tests/fuzz/fuzz.h"

static struct net_nonces cache;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[NET_CMD_KEY_LEN] = {1, 2, 3};
	char why[160], sig[NET_CMD_SIG_HEX], other[NET_CMD_SIG_HEX];
	struct net_cmd_env e;
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);

	if (net_cmd_env_parse(root, &e, why, sizeof(why))) {
		size_t n = strlen(e.nonce);

		FUZZ_ASSERT(n >= 16 && n <= 64 && strlen(e.sig) == 64, "nonce %zu, sig %zu", n,
			    strlen(e.sig));
		FUZZ_ASSERT(!strpbrk(e.reply_to, "+#"), "wildcard in reply_to");
		FUZZ_ASSERT(e.ts >= 0 && e.ts <= 100000000000LL, "ts %lld", (long long)e.ts);
		net_cmd_sign(key, e.gw, e.ts, e.nonce, e.reply_to, e.req, sig);
		FUZZ_ASSERT(net_cmd_sig_equal(sig, sig), "a signature does not equal itself");
		net_cmd_sign(key, e.gw, e.ts, e.nonce, e.reply_to, "{}x", other);
		FUZZ_ASSERT(strcmp(e.req, "{}x") == 0 || !net_cmd_sig_equal(sig, other),
			    "two requests, one signature");
		if (net_nonces_check(&cache, e.nonce, e.ts, e.ts, 300) == ERR_OK)
			FUZZ_ASSERT(net_nonces_check(&cache, e.nonce, e.ts, e.ts, 300) == ERR_EXISTS,
				    "a nonce was taken twice");
	} else {
		FUZZ_ASSERT(why[0], "refused without saying why");
	}
	cJSON_Delete(root);
	return 0;
}
