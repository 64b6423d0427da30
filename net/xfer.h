/*
 * xfer.h - pieces of the control protocol's chunked transfers (config push,
 * log pulls): base64 for bytes inside JSON, SHA-256 over the whole.
 *
 * A transfer is resumable: the receiver keeps what it got under the
 * sender's SHA-256 of the whole, and tells a sender that begins the same
 * transfer again where to go on. Chunks are NET_XFER_CHUNK raw bytes, so a
 * frame stays small on a 115200-baud serial line (about 0.4 s each).
 */
#ifndef NET_XFER_H
#define NET_XFER_H

#include <stdbool.h>
#include <stddef.h>

#define NET_XFER_CHUNK 3072 /* raw bytes per chunk: 4 KiB of base64 */
#define NET_SHA256_HEX 65

void net_sha256_hex(const void *data, size_t len, char out[NET_SHA256_HEX]);
bool net_sha256_hex_valid(const char *s);
/* malloc'd, NUL-terminated; NULL when out of memory. */
char *net_b64_encode(const void *data, size_t len);
/* ERR_OK with *out malloc'd (caller frees), ERR_PARSE, ERR_NOMEM. */
int net_b64_decode(const char *s, unsigned char **out, size_t *len);

#endif
