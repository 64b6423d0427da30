#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "config/pin.h"
#include "hal/err.h"
#include "hal/parse.h"
#include "hal/random.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define PREFIX "pbkdf2-sha256$"
#define LOWER_HEX "0123456789abcdef"

struct spec {
	unsigned long iter;
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
};

static bool parse(const char *spec, struct spec *p)
{
	const char *s, *d1, *d2;
	char *end;

	if (!spec || strncmp(spec, PREFIX, sizeof(PREFIX) - 1) != 0)
		return false;
	s = spec + sizeof(PREFIX) - 1;
	p->iter = strtoul(s, &end, 10);
	if (end == s || *end != '$' || p->iter < 1000 || p->iter > 10000000)
		return false;
	d1 = end + 1;
	d2 = strchr(d1, '$');
	/* lowercase, as cfg_pin_hash writes it: one spelling per hash */
	return d2 && d2 - d1 == 2 * SALT_LEN && strlen(d2 + 1) == 2 * HASH_LEN &&
	       strspn(d1, LOWER_HEX) == 2 * SALT_LEN && strspn(d2 + 1, LOWER_HEX) == 2 * HASH_LEN &&
	       hal_hex_decode(d1, p->salt, SALT_LEN) && hal_hex_decode(d2 + 1, p->hash, HASH_LEN);
}

static bool pin_ok(const char *pin)
{
	size_t n = pin ? strlen(pin) : 0;

	if (n < CFG_PIN_MIN || n > CFG_PIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)pin[i] < 0x20 || pin[i] == 0x7f)
			return false;
	return true;
}

static bool derive(const char *pin, const unsigned char *salt, unsigned long iter,
		   unsigned char out[HASH_LEN])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_context_t ctx;
	int rc;

	mbedtls_md_init(&ctx);
	rc = md ? mbedtls_md_setup(&ctx, md, 1) : -1;
	if (rc == 0)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *)pin, strlen(pin), salt,
					       SALT_LEN, (unsigned)iter, HASH_LEN, out);
	mbedtls_md_free(&ctx);
	return rc == 0;
}

bool cfg_pin_hash(const char *pin, char spec[CFG_PIN_SPEC_MAX])
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	int n;

	if (!pin_ok(pin) || hal_random(salt, sizeof(salt)) != ERR_OK ||
	    !derive(pin, salt, CFG_PIN_ITERATIONS, hash))
		return false;
	n = snprintf(spec, CFG_PIN_SPEC_MAX, PREFIX "%d$", CFG_PIN_ITERATIONS);
	hal_hex_encode(salt, SALT_LEN, spec + n);
	n += 2 * SALT_LEN;
	spec[n++] = '$';
	hal_hex_encode(hash, HASH_LEN, spec + n);
	explicit_bzero(hash, sizeof(hash));
	return true;
}

bool cfg_pin_spec_valid(const char *spec)
{
	struct spec p;

	return parse(spec, &p);
}

bool cfg_pin_verify(const char *pin, const char *spec)
{
	unsigned char got[HASH_LEN], d = 0;
	struct spec p;

	if (!pin_ok(pin) || !parse(spec, &p) || !derive(pin, p.salt, p.iter, got))
		return false;
	for (int i = 0; i < HASH_LEN; i++)
		d |= (unsigned char)(got[i] ^ p.hash[i]);
	explicit_bzero(got, sizeof(got));
	return d == 0;
}
