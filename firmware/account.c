/*
 * account.c - an account's request fields (see account.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/account.h"
#include "hal/err.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void wipe_free(const char *s)
{
	if (s)
		explicit_bzero((char *)s, strlen(s));
	free((char *)s);
}

void fw_account_msg_free(struct net_send_msg *m)
{
	free((char *)m->api_base);
	free((char *)m->from);
	free((char *)m->account_id);
	free((char *)m->aux_base);
	free((char *)m->waba_id);
	free((char *)m->user);
	wipe_free(m->password);
	wipe_free(m->token);
	memset(m, 0, sizeof(*m));
}

/* The entry kinds each provider takes (config/secrets.h). */
static const char *wanted_kind(const struct cfg_account *ca, const char *kind)
{
	switch (ca->provider) {
	case CFG_PROVIDER_TWILIO:
		return strcmp(kind, "auth_token") == 0 || strcmp(kind, "api_key") == 0 ?
			       NULL : "{\"account_sid\", \"auth_token\"} or an API key";
	case CFG_PROVIDER_META:
		return strcmp(kind, "access_token") == 0 ? NULL : "{\"access_token\": ...}";
	case CFG_PROVIDER_360DIALOG:
		return strcmp(kind, "d360_api_key") == 0 ? NULL : "{\"api_key\": ...}";
	}
	return "a known provider";
}

static int credentials(struct net_send_msg *m, const struct cfg_account *ca,
		       const struct cfg_secret *sec, char *why, size_t whylen)
{
	const char *want = wanted_kind(ca, sec->kind);

	if (want) {
		snprintf(why, whylen, "credentials '%s' are of kind %s; a %s account needs %s "
			 "(outpostctl creds set %s)", sec->name, sec->kind,
			 cfg_provider_name(ca->provider), want, sec->name);
		return ERR_INVAL;
	}
	/* Twilio: the Account SID goes in the path; Meta: the phone-number id. */
	m->account_id = strdup(ca->provider == CFG_PROVIDER_META ? ca->phone_number_id :
			       sec->account_sid ? sec->account_sid : "");
	m->user = strdup(sec->user ? sec->user : "");
	m->password = strdup(sec->password ? sec->password : "");
	if (ca->provider != CFG_PROVIDER_TWILIO)
		m->token = strdup(sec->password ? sec->password : "");
	if (!m->account_id || !m->user || !m->password ||
	    (ca->provider != CFG_PROVIDER_TWILIO && !m->token))
		return ERR_NOMEM;
	return ERR_OK;
}

int fw_account_msg(struct net_send_msg *m, const struct cfg_account *ca,
		   const struct cfg_secret *sec, char *why, size_t whylen)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->api_base = strdup(ca->api_base);
	m->from = strdup(ca->from);
	m->aux_base = dup_or_null(ca->api_version);
	m->waba_id = dup_or_null(ca->waba_id);
	if (!m->api_base || !m->from || (ca->api_version && !m->aux_base) ||
	    (ca->waba_id && !m->waba_id))
		return ERR_NOMEM;
	if (!sec) {
		snprintf(why, whylen, "no credentials '%s' in the vault (outpostctl creds set %s)",
			 ca->credentials, ca->credentials);
		return ERR_INVAL;
	}
	rc = credentials(m, ca, sec, why, whylen);
	if (rc != ERR_OK) {
		/* none half-filled: user NULL means "no credentials to try" */
		free((char *)m->account_id);
		free((char *)m->user);
		wipe_free(m->password);
		wipe_free(m->token);
		m->account_id = m->user = m->password = m->token = NULL;
	}
	return rc;
}

void fw_account_template(struct net_send_msg *m, const struct cfg *cfg, const char *template_name)
{
	const struct cfg_template *t = cfg_template_find(cfg, template_name);

	m->template_name = t ? t->meta_name : NULL;
	m->language = t ? t->meta_language : NULL;
	m->media_var = t && t->meta_header ? t->media_var : 0;
	m->media_type = t ? cfg_media_name(t->meta_header) : NULL;
}
