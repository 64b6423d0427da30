#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "hal/err.h"
#include "hal/parse.h"
#include "net/xfer.h"

void net_sha256_hex(const void *data, size_t len, char out[NET_SHA256_HEX])
{
	unsigned char d[32];

	if (mbedtls_sha256_ret(data, len, d, 0) != 0)
		memset(d, 0, sizeof(d));
	hal_hex_encode(d, sizeof(d), out);
}

bool net_sha256_hex_valid(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

char *net_b64_encode(const void *data, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1, olen;
	unsigned char *out = malloc(cap);

	if (out && mbedtls_base64_encode(out, cap, &olen, data, len) != 0) {
		free(out);
		out = NULL;
	}
	return (char *)out;
}

int net_b64_decode(const char *s, unsigned char **out, size_t *len)
{
	size_t slen = strlen(s), cap = 3 * (slen / 4) + 3;

	*out = malloc(cap);
	if (!*out)
		return ERR_NOMEM;
	if (mbedtls_base64_decode(*out, cap, len, (const unsigned char *)s, slen) != 0) {
		free(*out);
		*out = NULL;
		return ERR_PARSE;
	}
	return ERR_OK;
}
