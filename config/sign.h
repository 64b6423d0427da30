/*
 * sign.h - signed configuration bundles: a fleet's ECDSA P-256 public key
 * (control.fleet_key, PEM) on the gateway; a config file pushed to it must
 * then carry an ECDSA-SHA256 signature over its exact bytes, as made by
 *   openssl dgst -sha256 -sign fleet.key -out outpost.json.sig outpost.json
 * (DER, as openssl writes it).
 */
#ifndef CFG_SIGN_H
#define CFG_SIGN_H

#include <stdbool.h>
#include <stddef.h>

/* true if sig is a valid signature of data by the P-256 key in pubkey_path;
 * else false with why (an unreadable key, another curve, a bad signature). */
bool cfg_bundle_verify(const char *pubkey_path, const void *data, size_t len,
		       const unsigned char *sig, size_t siglen, char *why, size_t whylen);

/* The key file holds a P-256 public key (a config check). */
bool cfg_fleet_key_valid(const char *pubkey_path, char *why, size_t whylen);

#endif
