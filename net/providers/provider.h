/*
 * provider.h - the driver interface for WhatsApp providers.
 *
 * A driver is a pair of pure functions: build() turns a message into the URL
 * and body of one HTTP request, outcome() turns what net/http returned into a
 * retry class the sender acts on. Drivers keep no state and do no I/O, so the
 * sender owns every buffer and every decision about time.
 *
 * Strings in struct net_send_msg are borrowed for the call only. The strings
 * build() returns are malloc'd and owned by the caller, who must keep them
 * until the request's done() has run. outcome() fills a fixed-size struct and
 * never copies secrets into it.
 */
#ifndef NET_PROVIDERS_PROVIDER_H
#define NET_PROVIDERS_PROVIDER_H

#include <stdint.h>

#include "net/http.h"

/* What the sender does next; see docs and DESIGN "retry classes". */
enum net_class {
	NET_OK = 0,     /* accepted by the provider: record the id */
	NET_TRANSIENT,  /* nothing done, retry with backoff */
	NET_RATE,       /* throttled: retry after Retry-After or backoff */
	NET_PERMANENT,  /* will never succeed as is: fail the message */
	NET_OPTED_OUT,  /* recipient blocked or opted out: suppress */
	NET_WINDOW,     /* outside the 24 h window */
	NET_AUTH,       /* credentials refused: pause the account */
	NET_TEMPLATE,   /* template missing, unapproved or wrong parameters */
	NET_AMBIGUOUS,  /* may have been sent: reconcile before any resend */
	NET_CLASS__MAX
};

const char *net_class_name(int cls);

struct net_send_msg {
	const char *api_base;        /* "https://api.twilio.com"; one trailing slash tolerated */
	const char *account_id;      /* Twilio Account SID, goes in the URL path */
	const char *user, *password; /* Basic auth: account SID + token, or API key SID + secret */
	const char *from;            /* "whatsapp:+14155550100" as configured */
	const char *to;              /* E.164 "+491701234567"; the driver adds "whatsapp:" */
	const char *content_sid;     /* "HX..." */
	const char *vars_json;       /* ContentVariables JSON object text, may be NULL */
};

struct net_send_outcome {
	int cls;            /* enum net_class */
	int code;           /* provider error code (e.g. 21211), else the HTTP status, else 0 */
	long retry_after_s; /* as the server said (0 if absent); the sender clamps it */
	char id[64];        /* provider message id (Twilio "sid") on success */
	char status[24];    /* provider's status text ("queued") on success */
	char text[256];     /* human reason; never secrets */
};

/* One message from the provider's list of messages m->from sent to m->to,
 * as reconciliation needs it. Strings live for the callback only; to and
 * from come without the channel prefix ("+4917...", not "whatsapp:+4917..."). */
struct net_listed {
	const char *id, *to, *from, *body;
	int64_t created_ms; /* when the provider made it (wall ms); -1 if unreadable */
};

struct net_list_page {
	int cls;          /* NET_OK, or why the page could not be had (as outcome()) */
	char text[256];   /* the reason when cls is not NET_OK */
	unsigned n;       /* messages on the page */
	int64_t oldest_ms; /* created_ms of the oldest message on it, -1 if none */
	char *next_url;   /* malloc'd URL of the next (older) page; NULL on the last */
};

struct net_provider {
	const char *name;
	/* ERR_OK with malloc'd *url_out and *body_out, ERR_INVAL, ERR_NOMEM. */
	int (*build)(const struct net_send_msg *m, char **url_out, char **body_out);
	void (*outcome)(const struct net_http_result *res, struct net_send_outcome *out);
	/* The GET URL of the first page of messages m->from sent to m->to,
	 * newest first (NULL if the provider cannot list). ERR_OK with a
	 * malloc'd *url_out, ERR_INVAL, ERR_NOMEM. */
	int (*list_url)(const struct net_send_msg *m, char **url_out);
	/* Reads one page a GET of a list URL returned: each() is called per
	 * message, newest first, until it returns non-zero. The next page's
	 * URL is built on api_base. */
	void (*list_page)(const struct net_http_result *res, const char *api_base,
			  int (*each)(const struct net_listed *l, void *arg), void *arg,
			  struct net_list_page *page);
	/* The GET URL that proves an account's credentials and the path to
	 * the provider (Twilio: the account itself); outcome() reads the
	 * answer. ERR_INVAL, ERR_NOMEM. */
	int (*probe_url)(const struct net_send_msg *m, char **url_out);
};

/* NULL if unknown. */
const struct net_provider *net_provider_find(const char *name);

#endif
