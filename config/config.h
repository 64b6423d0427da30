/*
 * config.h - the configuration model and its parser/validator.
 *
 * One JSON file, validated as a whole before use: cfg_parse() collects every
 * error (up to 32, counting the rest), each naming its JSON path and what was
 * expected, e.g.
 *   $.routes[2].template: unknown template "paymnt" (known: payment_received, ticket_ready)
 * Unknown keys are errors too, so a typo never silently becomes a default.
 * A null value counts as an absent key.
 *
 * A struct cfg owns every string and array reachable from it; the pointers
 * between its parts (route -> template, route -> account) stay valid until
 * cfg_free(). A cfg is immutable after parsing, so a reload builds a new one
 * and frees the old one once nothing points into it. Secrets are never in
 * the config: accounts name an entry of the secrets file (config/secrets.h).
 * Relative paths (store, ca_file, secrets_file, socket) are relative to the
 * daemon's working directory; they are kept as written.
 */
#ifndef CFG_CONFIG_H
#define CFG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_VAR_MAX 1024  /* bytes per template variable value */
#define CFG_PHONE_MAX 17  /* "+" + up to 15 digits + NUL */
#define CFG_TO_MAX 16     /* recipient expressions per route */
#define CFG_FILE_MAX (1024 * 1024)

enum cfg_provider { CFG_PROVIDER_TWILIO = 1, CFG_PROVIDER_META, CFG_PROVIDER_360DIALOG };
enum cfg_tpl_status { CFG_TPL_APPROVED = 1, CFG_TPL_PENDING, CFG_TPL_REJECTED };

/* The kind of a Meta template's media header ("meta": {"header": ...}). */
enum cfg_media { CFG_MEDIA_NONE = 0, CFG_MEDIA_IMAGE, CFG_MEDIA_VIDEO, CFG_MEDIA_DOCUMENT };
/* "image", "video", "document" (Meta's parameter type); NULL for none. */
const char *cfg_media_name(enum cfg_media m);

/* An account's "quota": parsed and explained in config/quota.h. */
enum cfg_category { CFG_CAT_UTILITY, CFG_CAT_MARKETING, CFG_CAT_AUTHENTICATION, CFG_CAT_SERVICE,
		    CFG_CAT__N };

#define CFG_PRICES_MAX 64 /* prefixes per category */
#define CFG_NOTIFY_MAX 8  /* recipients of quota notices */

struct cfg_price {
	char prefix[16]; /* "+49", or "*" */
	uint64_t micro;  /* price in millionths of the currency */
};

struct cfg_quota {
	bool set;
	unsigned per_day, per_month; /* messages sent; 0 = no limit */
	uint64_t cost_cap_micro;     /* a month's cost; 0 = no cap */
	char currency[4];            /* ISO 4217, upper case; "" if not given */
	int exempt;                  /* enum cfg_priority at and above which quota is ignored */
	struct cfg_price *prices[CFG_CAT__N];
	unsigned n_prices[CFG_CAT__N];
	char *notify_to[CFG_NOTIFY_MAX]; /* E.164, normalized */
	unsigned n_notify;
	char *notify_template; /* a template of 3 variables: account, what, percent; NULL */
};

struct cfg_account {
	char *name;
	enum cfg_provider provider; /* "provider": "twilio" (the default) | "meta" | "360dialog" */
	char *from;                 /* "whatsapp:+14155550100"; meta/360dialog may write the
				       display number "+14155550100", kept with the prefix */
	char *credentials;          /* name of an entry in the secrets file */
	char *api_base;             /* https:// only; default by provider: https://api.twilio.com,
				       https://graph.facebook.com, https://waba-v2.360dialog.io */
	/* meta only (an error on other providers): */
	char *phone_number_id;      /* digits; required */
	char *waba_id;              /* digits; optional, needed to list templates */
	char *api_version;          /* "v21.0" (the default) */
	char *ca_file;              /* default "/etc/ssl/certs/ca-certificates.crt" */
	double rate_per_s;          /* default 80, (0, 10000] */
	unsigned burst;             /* token bucket depth; default max(1, (unsigned)rate_per_s) */
	/* Twilio's Content API (template approvals); https:// only. Default
	 * "https://content.twilio.com" when api_base is on twilio.com, else
	 * api_base itself (a proxy or test double that serves both). */
	char *content_base;
	int64_t templates_sync_s;   /* approval sync interval; default the top-level one */
	/* "status_poll": {"enabled": true, "first": "5s", "max_age": "72h"}:
	 * delivery status of sent messages is fetched on a backoff schedule
	 * starting at `first`, until final or max_age after the send. */
	struct {
		bool enabled;
		int64_t first_s, max_age_s;
	} poll;
	bool webhooks; /* "webhooks": take relayed webhooks for this account */
	unsigned inbound_poll_s;    /* poll inbound messages every N s; 0 = off (default), >= 10 */
	/* "fallback": another account its messages go to while this one's
	 * circuit breaker is open (one hop: the fallback's own fallback is not
	 * followed). NULL if none. */
	char *fallback_name;
	const struct cfg_account *fallback;
	struct {
		unsigned failures; /* transient failures in a row that open it; default 5, 1..1000 */
		unsigned open_s;   /* first open period; doubles while trials fail, up to 600 s;
				      default 30, 1..600 */
	} breaker;
	struct cfg_quota quota; /* "quota" (config/quota.h); .set false if none */
};

struct cfg_template {
	char *name;
	char *content_sid;          /* JSON "twilio_content_sid": "HX" + 32 hex digits; NULL if
				       only meta/360dialog accounts send it */
	char *meta_name;            /* JSON "meta": {"name": "order_update", "language": */
	char *meta_language;        /* "en_US"}; NULL if absent (twilio only) */
	enum cfg_media meta_header; /* "meta": {"header": "image"}: the media_var's URL goes
				       in the header as this kind (Meta wants it there) */
	unsigned variables;         /* number of {{n}} placeholders, 0..100 */
	enum cfg_tpl_status status; /* "approved" | "pending" | "rejected" */
	char *preview;              /* optional, NULL if absent */
	int category;               /* enum cfg_category (config/quota.h): "utility" (default),
				       "marketing", "authentication", "service"; prices by it */
	unsigned media_var;         /* "media_var": the {{n}} that is a media URL (https), 0: none */
};

/* What the sender does with a message whose template is not approved
 * (route key "unapproved"). */
enum cfg_unapproved { CFG_UNAPPROVED_HOLD = 1, CFG_UNAPPROVED_FAIL };

/* A route's "priority": what is due goes highest first when the account's
 * tokens are short; urgent also ignores quiet hours (config/schedule.h).
 * The values are the outbox's (store/outbox.h STORE_PRIO_*). */
enum cfg_priority { CFG_PRIO_LOW = -1, CFG_PRIO_NORMAL, CFG_PRIO_HIGH, CFG_PRIO_URGENT };

/* What a route's messages do past their account's quota (route key
 * "over_quota"); urgent ones (quota.exempt) go anyway. */
enum cfg_over_quota { CFG_OVER_QUOTA_HOLD, CFG_OVER_QUOTA_DROP };

/* A route's flood control (config/route.c, firmware/flood.c, docs/ALERTING.md): "coalesce":
 * {"key": "{zone}", "window": "10m"} folds events of one key and recipient
 * inside a window into one message; "max_per_hour" caps the events a
 * recipient gets in a clock hour, and "over_cap" says what happens to the
 * rest: "hold" (the next hour), "drop" (suppressed), "digest" (one message
 * at the hour's end). */
struct cfg_coalesce {
	bool set;
	char *key;        /* an expression; NULL: the recipient alone */
	int64_t window_s; /* 1 s .. 24 h */
};
enum cfg_over_cap { CFG_CAP_HOLD, CFG_CAP_DROP, CFG_CAP_DIGEST };

/* A route's "quiet_hours", minutes of the local day; from == to never. */
struct cfg_quiet {
	bool set;
	uint16_t from_min, to_min;
};

/* "groups": {"oncall": ["+4917012345678", ...]}: named lists of 1..16
 * E.164 numbers, named in a route's "to" (and escalation steps) as
 * "@oncall" (config/alerting.c, docs/ALERTING.md). */
struct cfg_group {
	char *name;
	char **to; /* E.164, normalised */
	unsigned n_to;
};

/* One step of a route's "escalate" chain after the first: who ("@group"
 * or E.164 numbers) and how long its messages have to be read (or
 * delivered) before the next step goes. The first step's recipients are
 * the route's "to" (steps[0].to is NULL); its "after" is steps[0].after_s. */
struct cfg_step {
	char **to; /* "@group" or E.164 numbers; NULL for the first step */
	unsigned n_to;
	int64_t after_s;
};

struct cfg_route {
	char *name;  /* unique */
	char *topic; /* MQTT topic filter */
	const struct cfg_template *template; /* with "text": the fallback template, or NULL */
	char *text;  /* "text": a free-form body expression (24 h window only); NULL */
	bool require_opt_in; /* "require_opt_in": send only to recipients who opted in */
	bool template_given, text_given, fallback_given; /* parse bookkeeping (config/route.c) */
	char **to;   /* "to": a string or an array of 1..16 strings, each an expression */
	unsigned n_to;
	char **vars; /* vars[i] = expression for {{i+1}}; template->variables entries;
			JSON "vars": {"1": "{customer.name}", "2": "{amount} {currency}"} */
	const struct cfg_account *account; /* may be omitted when there is one account */
	int64_t ttl_s; /* "72h" | "30m" | "45s" | "7d" | integer seconds; default 72h; 60 s .. 30 d */
	enum cfg_unapproved unapproved; /* "hold" (default) | "fail" */
	enum cfg_over_quota over_quota; /* "hold" (default) | "drop" (suppressed with the reason) */
	int priority; /* enum cfg_priority: "low" | "normal" (default) | "high" | "urgent" */
	struct cfg_quiet quiet; /* "quiet_hours": {"from": "22:00", "to": "07:00"} */
	struct cfg_coalesce coalesce;
	unsigned max_per_hour;  /* events per recipient per clock hour; 0 = no cap */
	enum cfg_over_cap over_cap; /* "hold" (default) | "drop" | "digest" */
	/* "escalate": [{"to": "@oncall", "after": "5m"}, ...]; n_steps 0 = none.
	 * "until": "read" (default) or "delivered": what stops the chain
	 * moving on at a step's deadline. "ack": the whole-body replies that
	 * acknowledge (default ACK, OK), all languages together. */
	struct cfg_step *steps;
	unsigned n_steps;
	bool until_delivered; /* "until": "delivered" */
	char **ack;
	unsigned n_ack;
	bool escalate_given, until_given, ack_given; /* parse bookkeeping */
};

struct cfg_errors {
	unsigned n, dropped; /* dropped counts errors past the 32 kept */
	struct {
		char path[96];
		char msg[192];
	} e[32];
};

struct cfg {
	char *gateway_id; /* [A-Za-z0-9_-]{1,64} */
	char *timezone;   /* IANA name (config/schedule.h); NULL: UTC */
	struct {
		char *host;        /* default 127.0.0.1 */
		int port;          /* default 1883 */
		char *client_id;   /* default "outpostd-<gateway_id>" */
		char *username;    /* default NULL */
		char *credentials; /* secrets entry whose password is the MQTT password; NULL */
		unsigned keepalive_s; /* default 30, 5..65535 */
	} mqtt;
	struct {
		char *path;           /* default "/var/lib/outpost" */
		unsigned max_size_mb; /* default 256, 1..65536 */
		int64_t keep_done_s; /* finished records kept this long; default 7d, 60 s .. 365 d */
	} store;
	struct {
		char *socket; /* default "/run/outpost/outpostd.sock" */
		struct {
			char *device;  /* e.g. "/dev/ttyUSB0"; NULL: no serial console */
			unsigned baud; /* default 115200; one of the standard rates */
			char *pin_hash; /* config/pin.h; NULL: no PIN asked */
		} serial;
		char *fleet_key; /* PEM P-256 public key: pushed configs must be signed; NULL */
		struct {
			char *credentials; /* vault entry with hmac_key; NULL: no MQTT commands */
			unsigned window_s; /* accepted clock skew of a command; default 300 */
		} mqtt;
	} control;
	struct {
		char *key_file; /* device key; default "/etc/outpost/device.key" */
	} vault;
	struct {
		unsigned ring_kb; /* log ring kept in the store; default 4096, 64..262144 */
	} log;
	struct {
		unsigned keep_days; /* days of statistics kept; default 90, 1..3660 */
	} stats;
	struct {
		bool discovery; /* Home Assistant MQTT discovery; default false */
		char *prefix;   /* its discovery prefix; default "homeassistant" */
	} homeassistant;
	struct {
		/* Requests in flight at most (default 128, 1..1024): the cap of
		 * each account's adaptive limit, rate x answer time
		 * (firmware/sender/turn.c); on HTTP/1.1 a connection each. */
		unsigned max_inflight;
		unsigned concurrency;        /* max_inflight's old name; 0 = not given */
		unsigned connect_timeout_ms; /* default 10000, 100..300000 */
		unsigned request_timeout_ms; /* default 30000, 1000..600000 */
		unsigned low_speed_time_s;   /* default 20, 1..600 */
		unsigned max_attempts;       /* default 10, 1..1000 */
		unsigned backoff_base_ms;    /* default 2000, 1..3600000, <= backoff_cap_ms */
		unsigned backoff_cap_ms;     /* default 900000 (15 min), 1..86400000 */
		unsigned retry_after_max_s;  /* default 3600, 0..86400 */
		unsigned batch;              /* records per sender turn, default 64, 1..1024 */
	} sender;
	struct {
		char *id_field;        /* default "id" (a field path) */
		char *default_country; /* default NULL; e.g. "49": 1..3 digits */
		unsigned max_payload;  /* default 65536, 1024..1048576 */
	} events;
	struct {
		/* Whole-body keywords, all languages together (config/consent.h);
		 * the defaults when "consent" does not give them. */
		char **stop, **start;
		unsigned n_stop, n_start;
	} consent;
	char *secrets_file; /* one-time import into the vault; NULL: none */
	/* Started as root, run as this user (and its groups) once what needs
	 * root is open; NULL: stay as started. group: instead of the user's own. */
	char *user, *group;
	int64_t templates_sync_s; /* template approval sync interval; default 1 h, 60 s .. 7 d */
	struct cfg_account *accounts; /* JSON object name -> account, >= 1 */
	unsigned n_accounts;
	struct cfg_template *templates; /* JSON object name -> template, >= 1 */
	unsigned n_templates;
	struct cfg_group *groups; /* "groups": JSON object name -> numbers; may be 0 */
	unsigned n_groups;
	struct cfg_route *routes; /* JSON array, >= 1 */
	unsigned n_routes;
	/* Things that are allowed but probably not meant, e.g. a route to a
	 * template that is not approved (the router rejects its events). */
	struct cfg_errors warnings;
};

/* ERR_OK, ERR_CONFIG (errs filled, *out NULL) or ERR_NOMEM. errs may be NULL. */
int cfg_parse(const char *json, size_t len, struct cfg **out, struct cfg_errors *errs);

/* Reads at most CFG_FILE_MAX bytes; a read failure is one error with path "$"
 * naming the file and the reason (ERR_CONFIG). */
int cfg_load(const char *path, struct cfg **out, struct cfg_errors *errs);

void cfg_free(struct cfg *cfg); /* accepts NULL */

/* NULL if there is no such name; the result lives as long as cfg. */
const struct cfg_account *cfg_account_find(const struct cfg *cfg, const char *name);
const struct cfg_template *cfg_template_find(const struct cfg *cfg, const char *name);
const struct cfg_route *cfg_route_find(const struct cfg *cfg, const char *name);
/* "oncall" or "@oncall". */
const struct cfg_group *cfg_group_find(const struct cfg *cfg, const char *name);
/* Whether account a's provider can send template t (Twilio needs its
 * ContentSid, Meta and 360dialog its "meta" name and language). */
bool cfg_template_usable(const struct cfg_template *t, const struct cfg_account *a);

/* "twilio", "meta", "360dialog": the name net_provider_find() knows. */
const char *cfg_provider_name(enum cfg_provider p);

#endif
