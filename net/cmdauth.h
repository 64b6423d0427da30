/*
 * cmdauth.h - signed control commands over MQTT.
 *
 * A request travels as an envelope:
 *   {"req":"<the request's JSON, as a string>","gw":"<gateway id>",
 *    "ts":<unix seconds>,"nonce":"<16..64 hex>","reply_to":"<topic>",
 *    "sig":"<64 hex>"}
 * sig = HMAC-SHA256(key, "outpost-cmd-1\n" gw "\n" ts "\n" nonce "\n"
 * reply_to "\n" req). Carrying the request as a string means the bytes that
 * were signed are the bytes that are checked: no JSON canonical form. The
 * gateway id and reply topic are signed so a captured command cannot be
 * aimed at another gateway or have its answer redirected.
 *
 * A reply is {"nonce":"<the request's>","reply":"<JSON string>","sig":…}
 * with sig = HMAC-SHA256(key, "outpost-reply-1\n" nonce "\n" reply), so the
 * operator knows it came from the gateway and answers this request.
 *
 * The receiver accepts a request only if sig matches (compared in constant
 * time), gw is its own, ts is within +-window of its clock, and the nonce
 * was not seen within the window (struct net_nonces). Key: 32 bytes, given
 * as 64 hex digits.
 */
#ifndef NET_CMDAUTH_H
#define NET_CMDAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_CMD_KEY_LEN 32
#define NET_CMD_SIG_HEX 65 /* 64 hex digits and a NUL */
#define NET_NONCES_MAX 1024

/* 64 hex digits -> key; false if not exactly that. */
bool net_cmd_key_parse(const char *hex, unsigned char key[NET_CMD_KEY_LEN]);

void net_cmd_sign(const unsigned char key[NET_CMD_KEY_LEN], const char *gw, int64_t ts,
		  const char *nonce, const char *reply_to, const char *req,
		  char sig[NET_CMD_SIG_HEX]);
void net_cmd_sign_reply(const unsigned char key[NET_CMD_KEY_LEN], const char *nonce,
			const char *reply, char sig[NET_CMD_SIG_HEX]);
/* Constant-time comparison of two signatures in hex. */
bool net_cmd_sig_equal(const char *a, const char *b);

/* Nonces seen, each kept until its timestamp leaves the window. */
struct net_nonces {
	struct {
		char nonce[65];
		int64_t ts;
	} v[NET_NONCES_MAX];
	unsigned n;
};

/* ERR_OK (recorded), ERR_EXISTS (replayed), ERR_LIMIT (the cache is full
 * of nonces still in the window: refuse until some age out). Entries older
 * than now - window are dropped first. */
int net_nonces_check(struct net_nonces *c, const char *nonce, int64_t ts, int64_t now,
		     int64_t window);

/* A decoded envelope: pointers into the parsed JSON, valid while it is. */
struct net_cmd_env {
	const char *req, *gw, *nonce, *reply_to, *sig;
	int64_t ts;
};

/* Parses an envelope's fields; on failure why names the bad member. */
struct cJSON;
bool net_cmd_env_parse(const struct cJSON *root, struct net_cmd_env *e, char *why,
		       size_t whylen);

#endif
