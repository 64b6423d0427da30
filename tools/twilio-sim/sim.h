/*
 * sim.h - twilio-sim internals shared between its files.
 *
 * twilio-sim is a test double for the Twilio Messages API (see README.md).
 * main.c owns the one struct sim_config; it is filled before the HTTP
 * daemon starts and read-only afterwards, so the request threads read it
 * without locks. Everything mutable (the record file and the in-memory
 * message index, the PRNG, the rate-limit window, the latency queue) lives in
 * one file each, behind that file's own mutex.
 *
 * Strings in sim_buf are malloc'd and owned by the caller. A struct sim_msg
 * that store.c hands to a sim_store_fn points into the index and is valid
 * only during that call, which runs under the store's lock. No function
 * here calls back into MHD except delay.c, which resumes connections that
 * http.c parked.
 */
#ifndef TWILIO_SIM_H
#define TWILIO_SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_SID_LEN 34         /* "AC"/"SM"/"HX"/"SK" + 32 hex */
#define SIM_MAX_TEMPLATES 64   /* --template flags; a test registers a handful */
#define SIM_MAX_KEYS 8         /* --api-key flags */
#define SIM_MAX_VARS 100       /* Twilio's limit on ContentVariables pairs */

struct sim_template {
	char sid[SIM_SID_LEN + 1];
	unsigned nvars;
	char status[24]; /* WhatsApp approval at start (content.c changes it) */
	char name[64];   /* WhatsApp template name */
	char type[40];   /* content type, "twilio/text" */
};

/* --meta-template name:lang:N[:STATUS[:HEADER]]: a Meta/360dialog
 * template; N body parameters, HEADER "image", "video" or "document" for a
 * media header that every send must fill ("" none). */
#define SIM_MAX_META_TEMPLATES 32
struct sim_meta_template {
	char name[64], lang[16], status[24], header[12];
	unsigned nvars;
};

struct sim_apikey {
	char sid[SIM_SID_LEN + 1];
	const char *secret; /* points into argv */
};

struct sim_config {
	const char *bind;
	unsigned port;
	const char *cert_file, *key_file;
	char *cert_pem, *key_pem; /* file contents, loaded by main */
	const char *account, *token;
	struct sim_template templates[SIM_MAX_TEMPLATES];
	size_t n_templates;
	struct sim_apikey keys[SIM_MAX_KEYS];
	size_t n_keys;
	/* Meta Cloud API and 360dialog (meta.c); NULL: that side refuses all */
	const char *meta_token, *meta_phone_id, *meta_waba_id, *d360_key;
	struct sim_meta_template meta_templates[SIM_MAX_META_TEMPLATES];
	size_t n_meta_templates;
	const char *record, *port_file;
	size_t keep;          /* messages kept in memory for fetch and list */
	unsigned threads;
	unsigned idle_timeout_s;
	double fail_rate, drop_rate;
	uint64_t seed;
	unsigned rate_limit;  /* creates per second, 0 = unlimited */
	unsigned latency_ms;
	unsigned work_us;     /* a create takes one of --threads workers this long */
	long down_from_s, down_for_s; /* down_for_s 0 = never down */
	long deliver_after_ms, read_after_ms; /* status.c; -1 = never */
	char price[24]; /* --price: shown once a message has left "sent"; "" = null */
	bool foreign_next;    /* --foreign-next: list pages lead into another account */
	int64_t start_wall_ms;
};

/* A growable string. Allocation failure sets `oom` and turns later appends
 * into no-ops, so a renderer checks once at the end. */
struct sim_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* --foreign-next: the next_page_uri of readFullPage1 in twilio-oai's
 * twilio_api_v2010.json, another account's list (ACaaaa...). */
#define SIM_FOREIGN_NEXT                                                                     \
	"\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json?To=%2B123456789" \
	"&From=%2B987654321&DateSent%3E=2008-01-02&PageSize=2&Page=1"                           \
	"&PageToken=PAMMc26223853f8c46b4ab7dfaa6abba0a26\""

void sim_buf_add(struct sim_buf *b, const char *s, size_t n);
void sim_buf_str(struct sim_buf *b, const char *s);
void sim_buf_fmt(struct sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_buf_json(struct sim_buf *b, const char *s); /* quoted, escaped; NULL -> null */
void sim_buf_free(struct sim_buf *b);
char *sim_buf_take(struct sim_buf *b); /* NUL-terminated; NULL if oom */

/* One answer to one request. http.c turns it into an MHD response. */
struct sim_reply {
	unsigned status;
	int code;          /* Twilio error code, 0 on success */
	char *json;        /* malloc'd body */
	bool retry_after;  /* 429: add Retry-After: 1 */
	bool drop;         /* close the connection instead of answering */
	bool delay;        /* subject to --latency-ms */
};

/* Sets an error reply in Twilio's legacy shape and logs it (rate-limited). */
void sim_reply_error(struct sim_reply *r, unsigned status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sim_reply_free(struct sim_reply *r);

/* The fields of one accepted message, as recorded and as rendered. */
struct sim_msg {
	char sid[48];            /* "SM..." (Twilio) or "wamid.HBgL..." (Meta, 360dialog) */
	const char *provider;    /* NULL: Twilio; "meta" or "360dialog" */
	const char *language;    /* Meta: the template's language (content_sid = its name) */
	const char *to, *from, *content_sid;
	const char *vars_json; /* serialised JSON object (record line only) */
	/* Meta side, record line only (NULL: not recorded): the template's
	 * header parameter {"type","link"} as serialised JSON, and the
	 * request's User-Agent. */
	const char *header_json, *user_agent;
	const char *vars_text; /* the values in variable order, " | " between */
	int64_t recv_us;       /* CLOCK_REALTIME */
	uint64_t n;
	bool sent; /* render as Twilio shows it later: "sent", with date_sent */
};

/* status.c: a message's state as fetch and list show it, and the
 * /sim/status control route. */
struct sim_status {
	const char *status; /* static */
	int code;           /* error_code, 0 = null */
	const char *text;   /* error_message (static), NULL: "twilio-sim: <status>" */
	int64_t updated_us;
};
void sim_status_view(const struct sim_config *cfg, const struct sim_msg *m, struct sim_status *v);
void sim_force_status(const char *body, struct sim_reply *r);

void sim_render_message(struct sim_buf *b, const struct sim_config *cfg, const struct sim_msg *m);
void sim_render_account(struct sim_buf *b, const struct sim_config *cfg);
void sim_rfc2822(char *out, size_t len, int64_t wall_s);

/* Compares a secret in constant time for its length (http.c). */
bool sim_secret_eq(const char *a, const char *b);

/* True if s is prefix ("AC", "HX", ...) followed by 32 hex digits. */
bool sim_sid_valid(const char *s, const char *prefix);

/* Request handling: create.c (POST Messages.json) and fetch (store-backed). */
/* `body` is the NUL-terminated form body; it is decoded in place. */
void sim_create(const struct sim_config *cfg, char *body, struct sim_reply *r);
void sim_fetch_message(const struct sim_config *cfg, const char *sid, struct sim_reply *r);

/* list.c: GET Messages.json. args are the decoded query parameters. */
struct sim_arg {
	const char *key, *value;
};
void sim_list_messages(const struct sim_config *cfg, const struct sim_arg *args, size_t n,
		       struct sim_reply *r);

/* store.c: the record file and the index of the run's messages. */
int sim_store_open(const char *record_path, size_t keep);
void sim_store_close(void);
/* Assigns m->sid and m->n, keeps the message and appends its record line. */
int sim_store_add(struct sim_msg *m, bool dropped);
/* Called under the store's lock: must not call into store.c. A scan stops
 * when it returns false. */
typedef bool sim_store_fn(const struct sim_msg *m, void *arg);
/* Calls fn with message `sid`; false if unknown or no longer kept. */
bool sim_store_with(const char *sid, sim_store_fn *fn, void *arg);
/* The n a SID of this run encodes; false for a foreign or malformed SID. */
bool sim_store_sid_n(const char *sid, uint64_t *n);
/* Calls fn for each kept message from n = start on, downwards (newest
 * first; start UINT64_MAX = the newest) or upwards. All under one lock, so
 * the scan sees one consistent set of messages. */
void sim_store_scan(uint64_t start, bool down, sim_store_fn *fn, void *arg);

/* http.c: Basic auth with the account SID and token, or an API key. */
struct MHD_Connection;
bool sim_auth_ok(const struct sim_config *cfg, struct MHD_Connection *c);

/* content.c: the Content API and POST/GET /sim/templates. init copies the
 * --template approvals (before the daemon starts); route answers true if
 * url is one of its routes; note_create counts a create of a template
 * that is not approved at the time. */
void sim_content_init(const struct sim_config *cfg);
bool sim_content_route(const struct sim_config *cfg, struct MHD_Connection *c, const char *url,
		       const char *method, const char *body, struct sim_reply *r);
void sim_content_note_create(const struct sim_config *cfg, const char *sid);

/* faults.c: deterministic coin flips and the per-second create budget. */
void sim_faults_init(uint64_t seed, unsigned rate_limit);
bool sim_fault_flip(double p);
bool sim_fault_over_rate(void);

/* delay.c: parks connections for --latency-ms and --work-us (a queue in
 * front of `servers` workers) and resumes them on time. */
struct MHD_Connection;
struct sim_delayed {
	struct sim_delayed *next;
	uint64_t due_ns;
	struct MHD_Connection *conn;
};
int sim_delay_start(unsigned servers);
void sim_delay_stop(void);
/* Suspends conn and queues it, due after work_us on the first free worker
 * and ms after that; false (nothing done) while the daemon stops. */
bool sim_delay_park(struct sim_delayed *d, struct MHD_Connection *conn, unsigned ms,
		    unsigned work_us);
/* Resumes every parked connection now; `closing` refuses new parks until
 * sim_delay_reopen(). Must run before MHD_stop_daemon(), which panics on a
 * suspended connection. */
void sim_delay_flush(bool closing);
void sim_delay_reopen(void);

/* inbound.c: POST /sim/inbound, inbound lists, the free-form window. */
void sim_inbound_post(const struct sim_config *cfg, const char *method, const char *body,
		      struct sim_reply *r);
/* true (reply set) if the list asks for messages to a number inbound
 * messages went to; false: the outbound list answers. */
bool sim_inbound_list(const struct sim_config *cfg, const struct sim_arg *args, size_t n,
		      struct sim_reply *r);
/* ours NULL: any of our numbers (the Meta side knows no display number). */
bool sim_inbound_window_open(const char *customer, const char *ours);
void sim_inbound_fail_window(const char *sid); /* a Body send outside the window */
bool sim_inbound_window_failed(const char *sid);

/* meta.c: the Meta Cloud API and 360dialog routes. True if url is one of
 * theirs (r then holds the answer); false: not ours, Twilio's routing goes
 * on. body is the NUL-terminated request body, NULL if over the limit. */
struct MHD_Connection;
bool sim_meta_handle(const struct sim_config *cfg, struct MHD_Connection *c, const char *url,
		     const char *method, const char *body, struct sim_reply *r);
/* "name:lang:N[:STATUS]" */
bool sim_meta_add_template(struct sim_config *cfg, const char *arg);

/* http.c: the MHD daemon. */
struct MHD_Daemon;
struct MHD_Daemon *sim_http_start(const struct sim_config *cfg, unsigned port, unsigned *bound);
void sim_http_stop(struct MHD_Daemon *d);

#endif
