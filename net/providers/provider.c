#include <string.h>
#include <strings.h>

#include "hal/err.h"
#include "net/providers/meta.h"
#include "net/providers/provider.h"
#include "net/providers/twilio.h"

static const char *const class_names[NET_CLASS__MAX] = {
	[NET_OK] = "ok",
	[NET_TRANSIENT] = "transient",
	[NET_RATE] = "rate-limited",
	[NET_PERMANENT] = "permanent",
	[NET_OPTED_OUT] = "opted-out",
	[NET_WINDOW] = "outside-window",
	[NET_AUTH] = "auth",
	[NET_TEMPLATE] = "template",
	[NET_AMBIGUOUS] = "ambiguous",
};

/* Adding a provider is one line here and one driver file. */
static const struct net_provider *const providers[] = {
	&net_twilio_provider,
	&net_meta_provider,
	&net_d360_provider,
};

const char *net_class_name(int cls)
{
	if (cls < 0 || cls >= NET_CLASS__MAX || !class_names[cls])
		return "unknown";
	return class_names[cls];
}

const struct net_provider *net_provider_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

int net_provider_auth(const struct net_provider *p, const struct net_send_msg *m, bool post,
		      struct net_http_req *req, char *own[NET_HTTP_HEADERS_MAX])
{
	unsigned i, n = 0;
	int rc;

	for (i = 0; i < NET_HTTP_HEADERS_MAX; i++)
		own[i] = NULL;
	req->n_headers = 0;
	if (!p->headers) {
		req->user = m->user;
		req->password = m->password;
		return ERR_OK;
	}
	req->user = req->password = NULL;
	rc = p->headers(m, post, own, &n);
	if (rc != ERR_OK)
		return rc;
	for (i = 0; i < n && i < NET_HTTP_HEADERS_MAX; i++)
		req->headers[i] = own[i];
	req->n_headers = i;
	return ERR_OK;
}

static const char *const status_names[NET_ST__MAX] = {
	[NET_ST_UNKNOWN] = "unknown",
	[NET_ST_QUEUED] = "queued",
	[NET_ST_SENDING] = "sending",
	[NET_ST_SENT] = "sent",
	[NET_ST_DELIVERED] = "delivered",
	[NET_ST_READ] = "read",
	[NET_ST_UNDELIVERED] = "undelivered",
	[NET_ST_FAILED] = "failed",
};

const char *net_msg_status_name(int st)
{
	if (st < 0 || st >= NET_ST__MAX)
		return "unknown";
	return status_names[st];
}

/* Provider words for the same states (Twilio's and Meta's enums). */
static const struct {
	const char *word;
	int st;
} status_words[] = {
	{"accepted", NET_ST_QUEUED}, {"scheduled", NET_ST_QUEUED},
	{"held_for_quality_assessment", NET_ST_QUEUED}, {"canceled", NET_ST_FAILED},
};

int net_msg_status_parse(const char *s)
{
	size_t i;

	if (!s)
		return NET_ST_UNKNOWN;
	for (i = 1; i < NET_ST__MAX; i++)
		if (strcasecmp(s, status_names[i]) == 0)
			return (int)i;
	for (i = 0; i < sizeof(status_words) / sizeof(status_words[0]); i++)
		if (strcasecmp(s, status_words[i].word) == 0)
			return status_words[i].st;
	return NET_ST_UNKNOWN;
}

bool net_msg_status_final(int st)
{
	return st == NET_ST_READ || st == NET_ST_UNDELIVERED || st == NET_ST_FAILED;
}

/* Ranks: queued 0 < sending 1 < sent 2 < delivered 3 < read 4; a failure
 * ranks above sent (it ends a message still on its way) and below
 * delivered (a late failure does not undo a delivery). */
static int rank(int st)
{
	switch (st) {
	case NET_ST_QUEUED: return 0;
	case NET_ST_SENDING: return 1;
	case NET_ST_SENT: return 2;
	case NET_ST_UNDELIVERED:
	case NET_ST_FAILED: return 3;
	case NET_ST_DELIVERED: return 4;
	case NET_ST_READ: return 5;
	default: return -1;
	}
}

bool net_msg_status_advances(int cur, int next)
{
	if (next == NET_ST_UNKNOWN || next == cur)
		return false;
	if (net_msg_status_final(cur))
		return false;
	return rank(next) > rank(cur);
}
