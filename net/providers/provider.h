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

#include <stdbool.h>
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
	const char *account_id;      /* Twilio Account SID, goes in the URL path;
					Meta: the phone-number id; 360dialog: unused */
	const char *user, *password; /* Basic auth: account SID + token, or API key SID + secret */
	const char *token;           /* Meta: the Bearer token; 360dialog: the D360-API-KEY */
	const char *from;            /* "whatsapp:+14155550100" as configured */
	const char *to;              /* E.164 "+491701234567"; the driver adds "whatsapp:" */
	const char *content_sid;     /* "HX..." (Twilio) */
	const char *template_name;   /* Meta/360dialog: the WhatsApp template name */
	const char *language;        /* Meta/360dialog: its language code, "en_US" */
	const char *vars_json;       /* variables as a JSON object {"1":"Ana",...}, may be NULL */
	unsigned media_var;          /* Meta/360dialog: the variable that is the template's header
					media URL (sent as a header parameter, not body text), 0 none */
	const char *media_type;      /* its kind: "image", "video" or "document" */
	const char *body;            /* free-form text (inside the 24 h window); NULL: a template */
	const char *aux_base;        /* Twilio: Content API base ("https://content.twilio.com");
					Meta: "v21.0" (the Graph API version) */
	const char *waba_id;         /* Meta: the WhatsApp Business Account id (templates) */
};

/* Where a message is, as the provider last said (polled or by webhook).
 * Ranked: a change to a lower rank is never taken (delivered is not undone
 * by a late "sent"); failures override only what is below delivered. */
enum net_msg_status {
	NET_ST_UNKNOWN = 0,
	NET_ST_QUEUED,      /* queued, accepted, scheduled */
	NET_ST_SENDING,
	NET_ST_SENT,
	NET_ST_DELIVERED,
	NET_ST_READ,
	NET_ST_UNDELIVERED, /* final failure, after it left */
	NET_ST_FAILED,      /* final failure */
	NET_ST__MAX
};
const char *net_msg_status_name(int st);
int net_msg_status_parse(const char *s); /* case-insensitive; NET_ST_UNKNOWN */
bool net_msg_status_final(int st);
/* Whether a message at `cur` may move to `next` (monotonic ranks). */
bool net_msg_status_advances(int cur, int next);

struct net_status {
	int cls;         /* NET_OK when read; else why not (as outcome()) */
	int status;      /* enum net_msg_status */
	int code;        /* provider error code of a failure, else 0 */
	int err_class;   /* enum net_class of that code (NET_OK if none) */
	int64_t at_ms;   /* when the provider says it changed; -1 unknown */
	char id[128];    /* the message id it is about (a Meta wamid runs past 60) */
	char text[256];  /* reason (error text, or why unreadable); never secrets */
	/* What the provider billed, where it says (Twilio's "price", negative
	 * there, as millionths; "price_unit" upper-cased); "" unit if not. */
	uint64_t price_micro;
	char price_unit[8];
};

/* A template as the provider lists it (strings live for the callback). */
struct net_template {
	const char *id;       /* Twilio ContentSid "HX..."; Meta template id */
	const char *name;     /* Twilio friendly/WhatsApp name; Meta name */
	const char *language;
	const char *status;   /* as the provider says it, e.g. "approved", "PAUSED" */
	const char *category; /* "UTILITY", ... or NULL */
	const char *reason;   /* rejection reason or NULL */
	const char *type;     /* Twilio content type ("twilio/quick-reply") or NULL */
	bool approved;        /* the only status that may be sent */
	/* Why status is "unsubmitted" ("no approval_requests object", ...):
	 * what the reply held, for an operator to tell a provider that has no
	 * approval from a reply we could not read; NULL otherwise. Static. */
	const char *unsubmitted_why;
};

/* An inbound message to our number. */
struct net_inbound {
	const char *id, *from, *to; /* from/to without "whatsapp:" */
	const char *body;           /* text, button text, or "" */
	const char *payload;        /* quick-reply button payload or NULL */
	const char *replied_to;     /* our message id it answers, or NULL */
	int64_t at_ms;
};

struct net_send_outcome {
	int cls;            /* enum net_class */
	int code;           /* provider error code (e.g. 21211), else the HTTP status, else 0 */
	long retry_after_s; /* as the server said (0 if absent); the sender clamps it */
	char id[128];       /* provider message id (Twilio "sid", Meta "wamid....") on
			       success; as long as the store keeps (STORE_PROVIDER_ID_MAX) */
	char status[40];    /* provider's status of the message it took when it says more
			       than "taken" (Meta's message_status "accepted",
			       "held_for_quality_assessment"; not Twilio's routine
			       "queued"), else "" */
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
	/* The reply named a next page the driver would not follow (it left the
	 * account's own list, or pointed back at this page): next_url is NULL,
	 * text says what the link was, cls stays NET_OK for the entries read.
	 * The walk ends there and the caller counts it. */
	bool refused_next;
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
	 * URL is built on api_base, and only if it stays in the list that
	 * res->url asked for (see net_list_page.refused_next). */
	void (*list_page)(const struct net_http_result *res, const char *api_base,
			  int (*each)(const struct net_listed *l, void *arg), void *arg,
			  struct net_list_page *page);
	/* The GET URL that proves an account's credentials and the path to
	 * the provider (Twilio: the account itself); any 2xx answer passes,
	 * outcome() reads a refusal. ERR_INVAL, ERR_NOMEM. */
	int (*probe_url)(const struct net_send_msg *m, char **url_out);
	/* What that GET is, for the operator ("account fetch (Auth Token)");
	 * static text. NULL op: nothing to say. */
	const char *(*probe_what)(const struct net_send_msg *m);

	/* Error code -> enum net_class (providers.md sections 2, 5.3, 6). */
	int (*code_class)(int code);

	/* Status polling: the GET URL of message `id` (NULL op: the provider
	 * reports status by webhook only), and its answer read. */
	int (*status_url)(const struct net_send_msg *m, const char *id, char **url_out);
	void (*status_read)(const struct net_http_result *res, struct net_status *st);

	/* Template approvals: first page URL; a page read as list_page is. */
	int (*templates_url)(const struct net_send_msg *m, char **url_out);
	void (*templates_page)(const struct net_http_result *res, const char *api_base,
			       int (*each)(const struct net_template *t, void *arg), void *arg,
			       struct net_list_page *page);

	/* Inbound polling (NULL op: webhooks only): messages to our number
	 * since since_ms, newest first. */
	int (*inbound_url)(const struct net_send_msg *m, int64_t since_ms, char **url_out);
	void (*inbound_page)(const struct net_http_result *res, const char *api_base,
			     int (*each)(const struct net_inbound *in, void *arg), void *arg,
			     struct net_list_page *page);

	/* Extra request headers (auth other than Basic, JSON content type):
	 * fills up to NET_HTTP_HEADERS_MAX "Name: value" lines into hdr
	 * (malloc'd; they hold secrets: net_http_headers_free) and *n.
	 * ERR_OK, ERR_INVAL (no token), ERR_NOMEM (nothing left allocated).
	 * NULL op: Basic auth (user, password) and a form body. */
	int (*headers)(const struct net_send_msg *m, bool post, char *hdr[NET_HTTP_HEADERS_MAX],
		       unsigned *n);
};

/* NULL if unknown. */
const struct net_provider *net_provider_find(const char *name);

/* Puts account m's credentials on req the way its driver wants them:
 * Basic auth (req->user/password borrowed from m) when the driver has no
 * headers op, else the driver's headers, malloc'd into own[] and set as
 * req->headers / req->n_headers. The caller keeps own[] until done() has
 * run, then net_http_headers_free(own, req->n_headers). ERR_OK, ERR_INVAL,
 * ERR_NOMEM (own[] then empty). */
int net_provider_auth(const struct net_provider *p, const struct net_send_msg *m, bool post,
		      struct net_http_req *req, char *own[NET_HTTP_HEADERS_MAX]);

#endif
