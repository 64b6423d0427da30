/*
 * cmdauth.c - HMAC-SHA256 (mbedTLS) over control commands, and the nonce
 * cache against replays. See cmdauth.h for the wire form.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mbedtls/md.h>

#include "hal/err.h"
#include "hal/parse.h"
#include "net/cmdauth.h"

#define NONCE_MIN 16
#define NONCE_MAX 64
#define TOPIC_MAX 256

bool net_cmd_key_parse(const char *hex, unsigned char key[NET_CMD_KEY_LEN])
{
	return hex && strlen(hex) == 2 * NET_CMD_KEY_LEN &&
	       hal_hex_decode(hex, key, NET_CMD_KEY_LEN);
}

/* HMAC over the parts joined by "\n", as lowercase hex. */
static void hmac_hex(const unsigned char *key, const char *const *parts, unsigned n,
		     char out[NET_CMD_SIG_HEX])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	unsigned char mac[32];
	mbedtls_md_context_t ctx;

	mbedtls_md_init(&ctx);
	if (!md || mbedtls_md_setup(&ctx, md, 1) != 0 ||
	    mbedtls_md_hmac_starts(&ctx, key, NET_CMD_KEY_LEN) != 0) {
		memset(mac, 0, sizeof(mac)); /* matches nothing a real key makes */
	} else {
		for (unsigned i = 0; i < n; i++) {
			if (i)
				mbedtls_md_hmac_update(&ctx, (const unsigned char *)"\n", 1);
			mbedtls_md_hmac_update(&ctx, (const unsigned char *)parts[i],
					       strlen(parts[i]));
		}
		mbedtls_md_hmac_finish(&ctx, mac);
	}
	mbedtls_md_free(&ctx);
	hal_hex_encode(mac, sizeof(mac), out);
}

void net_cmd_sign(const unsigned char key[NET_CMD_KEY_LEN], const char *gw, int64_t ts,
		  const char *nonce, const char *reply_to, const char *req,
		  char sig[NET_CMD_SIG_HEX])
{
	char t[24];
	const char *parts[] = {"outpost-cmd-1", gw, t, nonce, reply_to, req};

	snprintf(t, sizeof(t), "%lld", (long long)ts);
	hmac_hex(key, parts, 6, sig);
}

void net_cmd_sign_reply(const unsigned char key[NET_CMD_KEY_LEN], const char *nonce,
			const char *reply, char sig[NET_CMD_SIG_HEX])
{
	const char *parts[] = {"outpost-reply-1", nonce, reply};

	hmac_hex(key, parts, 3, sig);
}

bool net_cmd_sig_equal(const char *a, const char *b)
{
	unsigned char d = 0;
	size_t la = strlen(a), lb = strlen(b);

	if (la != NET_CMD_SIG_HEX - 1 || lb != la)
		return false;
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int net_nonces_check(struct net_nonces *c, const char *nonce, int64_t ts, int64_t now,
		     int64_t window)
{
	unsigned k = 0;

	for (unsigned i = 0; i < c->n; i++) /* drop what left the window */
		if (c->v[i].ts >= now - window)
			c->v[k++] = c->v[i];
	c->n = k;
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->v[i].nonce, nonce) == 0)
			return ERR_EXISTS;
	if (c->n == NET_NONCES_MAX)
		return ERR_LIMIT;
	snprintf(c->v[c->n].nonce, sizeof(c->v[0].nonce), "%s", nonce);
	c->v[c->n++].ts = ts;
	return ERR_OK;
}

static const char *str_member(const cJSON *root, const char *key, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > max)
		return NULL;
	return v->valuestring;
}

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (hal_hex_digit(*s) < 0)
			return false;
	return true;
}

bool net_cmd_env_parse(const cJSON *root, struct net_cmd_env *e, char *why, size_t whylen)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "ts");

	memset(e, 0, sizeof(*e));
	if (!cJSON_IsObject(root)) {
		snprintf(why, whylen, "not a JSON object");
		return false;
	}
	if (!(e->req = str_member(root, "req", 1 << 20)))
		snprintf(why, whylen, "\"req\" must be the request as a JSON string");
	else if (!(e->gw = str_member(root, "gw", 64)))
		snprintf(why, whylen, "\"gw\" must be the gateway id");
	else if (!cJSON_IsNumber(ts) || ts->valuedouble < 0 || ts->valuedouble > 1e11 ||
		 ts->valuedouble != (double)(int64_t)ts->valuedouble)
		snprintf(why, whylen, "\"ts\" must be unix seconds");
	else if (!(e->nonce = str_member(root, "nonce", NONCE_MAX)) ||
		 strlen(e->nonce) < NONCE_MIN || !all_hex(e->nonce))
		snprintf(why, whylen, "\"nonce\" must be %d..%d hex digits", NONCE_MIN, NONCE_MAX);
	else if (!(e->reply_to = str_member(root, "reply_to", TOPIC_MAX)) ||
		 strpbrk(e->reply_to, "+#"))
		snprintf(why, whylen, "\"reply_to\" must be a topic without wildcards");
	else if (!(e->sig = str_member(root, "sig", 64)) || strlen(e->sig) != 64 ||
		 !all_hex(e->sig))
		snprintf(why, whylen, "\"sig\" must be 64 hex digits");
	else {
		e->ts = (int64_t)ts->valuedouble;
		return true;
	}
	return false;
}
