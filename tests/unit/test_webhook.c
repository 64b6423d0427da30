/*
 * test_webhook.c - net/providers/webhook.c against published vectors:
 * Twilio's webhook security example (auth token 12345, the
 * mycompany.com/myapp.php URL: 0/KCTR6DLpKmkAf8muzZqo1nDgQ=) and the
 * X-Hub-Signature-256 example ("It's a Secret to Everybody" over
 * "Hello, World!"), both also recomputed with Python's hmac when this test
 * was written; then every way a relayed webhook can be forged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/providers/webhook.h"

#define T_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define T_SIG "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
/* The example's parameters, form-encoded, in another order than sorted. */
#define T_BODY "To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234&Caller=%2B12349013030" \
	       "&From=%2B12349013030"
#define M_SECRET "It's a Secret to Everybody"
#define M_SIG "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static void twilio_vector(void **state)
{
	(void)state;
	assert_true(net_twilio_signature_valid("12345", T_URL, T_BODY, T_SIG));
}

static void twilio_forgeries(void **state)
{
	(void)state;
	/* another token, URL, parameter value, an added or dropped parameter */
	assert_false(net_twilio_signature_valid("12346", T_URL, T_BODY, T_SIG));
	assert_false(net_twilio_signature_valid("12345", T_URL "&x=1", T_BODY, T_SIG));
	assert_false(net_twilio_signature_valid("12345", "http://mycompany.com/myapp.php?foo=1&bar=2",
						T_BODY, T_SIG));
	assert_false(net_twilio_signature_valid("12345", T_URL,
						"To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1235"
						"&Caller=%2B12349013030&From=%2B12349013030", T_SIG));
	assert_false(net_twilio_signature_valid("12345", T_URL, T_BODY "&Body=hi", T_SIG));
	assert_false(net_twilio_signature_valid("12345", T_URL,
						"CallSid=CA1234567890ABCDE&Digits=1234", T_SIG));
	/* a mangled or truncated signature, none at all */
	assert_false(net_twilio_signature_valid("12345", T_URL, T_BODY, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(net_twilio_signature_valid("12345", T_URL, T_BODY, "0/KCTR6DLpKmkAf8muzZqo1nD"));
	assert_false(net_twilio_signature_valid("12345", T_URL, T_BODY, "not base64!"));
	assert_false(net_twilio_signature_valid("12345", T_URL, T_BODY, ""));
	assert_false(net_twilio_signature_valid("12345", T_URL, T_BODY, NULL));
}

static void meta_vector(void **state)
{
	(void)state;
	assert_true(net_meta_signature_valid(M_SECRET, "Hello, World!", 13, M_SIG));
}

static void meta_forgeries(void **state)
{
	(void)state;
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World?", 13, M_SIG));
	assert_false(net_meta_signature_valid("another secret", "Hello, World!", 13, M_SIG));
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World!", 12, M_SIG));
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World!", 13, M_SIG + 7));
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World!", 13,
					      "sha1=757107ea0eb2509fc211221cce984b8a37570b6d"));
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World!", 13,
					      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c2"
					      "2c46f4379c8b043e1"));
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World!", 13,
					      "sha256=z57107ea0eb2509fc211221cce984b8a37570b6d7586c2"
					      "2c46f4379c8b043e17"));
	assert_false(net_meta_signature_valid(M_SECRET, "Hello, World!", 13, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twilio_vector), cmocka_unit_test(twilio_forgeries),
		cmocka_unit_test(meta_vector),   cmocka_unit_test(meta_forgeries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
