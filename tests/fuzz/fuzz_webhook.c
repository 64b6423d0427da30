/*
 * fuzz_webhook.c - the body of a relayed webhook whose signature held
 * (net/providers/webhook.c), and a Twilio status fetch answer
 * (net/providers/twilio.c status_read). The first byte picks the parser:
 * even, the Twilio form; odd, the Meta JSON; the rest is the body.
 *
 * Oracles besides the sanitizers: every status handed on has an id and a
 * known status, a code only with a class, a NUL-terminated text without
 * control characters; every inbound message has a sender and an id; the
 * count matches what was handed on; a status fetch read as ok has an id
 * and a known status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hal/err.h"
#include "net/providers/twilio.h"
#include "net/providers/webhook.h"
#include "tests/fuzz/fuzz.h"

static unsigned handed;

static void check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	FUZZ_ASSERT(n < cap, "text not terminated");
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, "control byte in text");
}

static void on_status(const struct net_status *st, void *arg)
{
	(void)arg;
	handed++;
	FUZZ_ASSERT(st->cls == NET_OK, "cls %d", st->cls);
	FUZZ_ASSERT(st->id[0] && strnlen(st->id, sizeof(st->id)) < sizeof(st->id), "bad id");
	FUZZ_ASSERT(st->status > NET_ST_UNKNOWN && st->status < NET_ST__MAX, "status %d", st->status);
	FUZZ_ASSERT(st->code >= 0, "code %d", st->code);
	FUZZ_ASSERT(st->code || st->err_class == NET_OK, "class without a code");
	check_text(st->text, sizeof(st->text));
}

static void on_inbound(const struct net_inbound *in, void *arg)
{
	(void)arg;
	handed++;
	FUZZ_ASSERT(in->id && in->id[0], "inbound without an id");
	FUZZ_ASSERT(in->from && in->from[0] && in->to && in->body, "inbound without its strings");
	FUZZ_ASSERT(strlen(in->body) < 1u << 20, "body");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_webhook_sink k = {on_status, on_inbound, net_twilio_code_class, NULL};
	struct net_http_result res = {.err = ERR_OK, .status = 200};
	struct net_status st;
	char *body;
	unsigned n = 0;
	int rc;

	if (size < 1)
		return 0;
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	handed = 0;
	if (data[0] & 1)
		rc = net_meta_webhook_parse(body, size - 1, &k, &n);
	else
		rc = net_twilio_webhook_parse(body, &k, &n);
	FUZZ_ASSERT(rc == ERR_OK || n == 0, "failed parse handed %u on", n);
	FUZZ_ASSERT(n == handed, "count %u, handed %u", n, handed);
	res.body = body;
	res.body_len = size - 1;
	net_twilio_provider.status_read(&res, &st);
	if (st.cls == NET_OK)
		FUZZ_ASSERT(st.id[0] && st.status != NET_ST_UNKNOWN, "ok without id or status");
	check_text(st.text, sizeof(st.text));
	free(body);
	return 0;
}
