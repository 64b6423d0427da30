/*
 * ca.c - the shared CA chain (ca.h says why).
 *
 * Chains replaced by a newer parse are kept until net_ca_free: connections
 * made with them hold pointers into them (mbedTLS keeps the chain in each
 * connection's configuration). A CA file changes a few times a year, so
 * this costs one chain per change in the daemon's life.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "hal/err.h"
#include "hal/log.h"
#include "net/ca.h"

struct chain {
	mbedtls_x509_crt crt;
	struct chain *older;
};

struct net_ca {
	bool mbedtls;         /* curl's TLS library is mbedTLS: sslctx is its config */
	char *path;           /* the shared one; NULL until a request names one */
	struct chain *cur;    /* newest parse of path; NULL if none or it failed */
	struct stat st;       /* path as it was when cur was parsed */
	unsigned long parses;
	struct hal_ratelimit rl;
};

int net_ca_new(struct net_ca **out)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	struct net_ca *ca = calloc(1, sizeof(*ca));

	if (!ca)
		return ERR_NOMEM;
	ca->mbedtls = v && v->ssl_version && strncmp(v->ssl_version, "mbedTLS/", 8) == 0;
	*out = ca;
	return ERR_OK;
}

void net_ca_free(struct net_ca *ca)
{
	struct chain *c;

	if (!ca)
		return;
	while ((c = ca->cur)) {
		ca->cur = c->older;
		mbedtls_x509_crt_free(&c->crt);
		free(c);
	}
	free(ca->path);
	free(ca);
}

unsigned long net_ca_parses(const struct net_ca *ca)
{
	return ca ? ca->parses : 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The chain of path as it is now: parsed again if the file changed. NULL
 * (and why, logged) if it cannot be read. */
static struct chain *fresh(struct net_ca *ca)
{
	struct stat st;
	struct chain *c;
	char why[128];
	int rc;

	if (stat(ca->path, &st) != 0) {
		if (hal_ratelimit_ok(&ca->rl, 3, 60000))
			log_warn("http: CA file %s: %m", ca->path);
		return NULL;
	}
	if (ca->cur && same_file(&st, &ca->st))
		return ca->cur;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	mbedtls_x509_crt_init(&c->crt);
	ca->parses++;
	/* > 0: that many certificates in it could not be read, the others
	 * were (curl takes such a file too). */
	rc = mbedtls_x509_crt_parse_file(&c->crt, ca->path);
	if (rc < 0) {
		mbedtls_strerror(rc, why, sizeof(why));
		if (hal_ratelimit_ok(&ca->rl, 3, 60000))
			log_warn("http: CA file %s not read: mbedTLS -0x%04X %s", ca->path,
				 (unsigned)-rc, why);
		mbedtls_x509_crt_free(&c->crt);
		free(c);
		return NULL;
	}
	c->older = ca->cur;
	ca->cur = c;
	ca->st = st;
	return c;
}

/* curl's SSL context callback, for each connection it sets up, before the
 * handshake: the roots curl was given none of. */
static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
	struct net_ca *ca = arg;
	struct chain *c = fresh(ca);

	(void)curl;
	if (!c)
		return CURLE_SSL_CACERT_BADFILE; /* no roots: no connection */
	mbedtls_ssl_conf_ca_chain(sslctx, &c->crt, NULL);
	return CURLE_OK;
}

CURLcode net_ca_apply(struct net_ca *ca, CURL *c, const char *path)
{
	CURLcode rc;

	if (ca->mbedtls && !ca->path && !(ca->path = strdup(path)))
		return CURLE_OUT_OF_MEMORY;
	if (!ca->mbedtls || strcmp(path, ca->path) != 0)
		return curl_easy_setopt(c, CURLOPT_CAINFO, path);
	/* No file for curl to read: the callback gives the roots. Had it
	 * not run, verification would fail, not pass (no roots). */
	rc = curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, (void *)ca);
	return rc;
}
