#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "hal/parse.h"
#include "net/form.h"
#include "net/providers/webhook.h"

#define PARAMS_MAX 256

struct param {
	char *name, *value;
};

/* A malloc'd, URL-decoded copy of s[0..len). */
static char *decode(const char *s, size_t len)
{
	char *out = strndup(s, len);

	if (out)
		net_form_decode(out);
	return out;
}

static int by_name(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* Splits the body into decoded name/value pairs. -1 on too many or no memory. */
static int parse_form(const char *body, struct param *p)
{
	int n = 0;

	while (body && *body) {
		const char *amp = strchr(body, '&'), *end = amp ? amp : body + strlen(body);
		const char *eq = memchr(body, '=', (size_t)(end - body));

		if (end > body) {
			if (n == PARAMS_MAX)
				return -1;
			p[n].name = decode(body, (size_t)((eq ? eq : end) - body));
			p[n].value = eq ? decode(eq + 1, (size_t)(end - eq - 1)) : decode("", 0);
			if (!p[n].name || !p[n].value) {
				free(p[n].name);
				free(p[n].value);
				return -1;
			}
			n++;
		}
		body = amp ? amp + 1 : end;
	}
	return n;
}

static bool equal_ct(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool net_twilio_signature_valid(const char *auth_token, const char *url, const char *form_body,
				const char *signature)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	struct param *p = calloc(PARAMS_MAX, sizeof(*p));
	unsigned char mac[20], given[32];
	size_t glen = 0;
	mbedtls_md_context_t ctx;
	bool ok = false;
	int n = p ? parse_form(form_body, p) : -1;

	if (n < 0 || !md || !auth_token || !url || !signature ||
	    mbedtls_base64_decode(given, sizeof(given), &glen, (const unsigned char *)signature,
				  strlen(signature)) != 0 || glen != sizeof(mac))
		goto out;
	qsort(p, (size_t)n, sizeof(*p), by_name);
	mbedtls_md_init(&ctx);
	if (mbedtls_md_setup(&ctx, md, 1) == 0 &&
	    mbedtls_md_hmac_starts(&ctx, (const unsigned char *)auth_token, strlen(auth_token)) == 0) {
		mbedtls_md_hmac_update(&ctx, (const unsigned char *)url, strlen(url));
		for (int i = 0; i < n; i++) {
			mbedtls_md_hmac_update(&ctx, (const unsigned char *)p[i].name, strlen(p[i].name));
			mbedtls_md_hmac_update(&ctx, (const unsigned char *)p[i].value,
					       strlen(p[i].value));
		}
		ok = mbedtls_md_hmac_finish(&ctx, mac) == 0 && equal_ct(mac, given, sizeof(mac));
	}
	mbedtls_md_free(&ctx);
out:
	for (int i = 0; p && i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	return ok;
}

bool net_meta_signature_valid(const char *app_secret, const void *body, size_t len,
			      const char *header)
{
	static const char prefix[] = "sha256=";
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	unsigned char mac[32], given[32];

	if (!md || !app_secret || !header || strncmp(header, prefix, sizeof(prefix) - 1) != 0 ||
	    strlen(header) != sizeof(prefix) - 1 + 64)
		return false;
	if (!hal_hex_decode(header + sizeof(prefix) - 1, given, sizeof(given)))
		return false;
	if (mbedtls_md_hmac(md, (const unsigned char *)app_secret, strlen(app_secret), body, len,
			    mac) != 0)
		return false;
	return equal_ct(mac, given, sizeof(mac));
}
