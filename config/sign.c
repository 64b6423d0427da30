#include <stdio.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "config/sign.h"

static bool load(mbedtls_pk_context *pk, const char *path, char *why, size_t whylen)
{
	mbedtls_pk_init(pk);
	if (mbedtls_pk_parse_public_keyfile(pk, path) != 0) {
		snprintf(why, whylen, "%s: not a readable PEM public key", path);
		return false;
	}
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA) ||
	    mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		snprintf(why, whylen, "%s: not an ECDSA P-256 (prime256v1) key", path);
		return false;
	}
	return true;
}

bool cfg_fleet_key_valid(const char *pubkey_path, char *why, size_t whylen)
{
	mbedtls_pk_context pk;
	bool ok = load(&pk, pubkey_path, why, whylen);

	mbedtls_pk_free(&pk);
	return ok;
}

bool cfg_bundle_verify(const char *pubkey_path, const void *data, size_t len,
		       const unsigned char *sig, size_t siglen, char *why, size_t whylen)
{
	unsigned char hash[32];
	mbedtls_pk_context pk;
	bool ok = load(&pk, pubkey_path, why, whylen);

	if (ok && mbedtls_sha256_ret(data, len, hash, 0) != 0) {
		snprintf(why, whylen, "cannot hash the file");
		ok = false;
	}
	if (ok && mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, siglen) != 0) {
		snprintf(why, whylen, "the signature does not match this file and the fleet key");
		ok = false;
	}
	mbedtls_pk_free(&pk);
	return ok;
}
