#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/alerting.h"
#include "config/config.h"
#include "config/consent.h"
#include "config/pin.h"
#include "config/provider.h"
#include "config/quota.h"
#include "config/render.h"
#include "config/route.h"
#include "config/schedule.h"
#include "config/schema.h"
#include "hal/err.h"
#include "hal/file.h"

#define ACCOUNTS_MAX 64
#define TEMPLATES_MAX CFG_TEMPLATES_MAX
#define SUN_PATH_MAX 107 /* sockaddr_un.sun_path less the NUL */

#define CFG_OFF(m) offsetof(struct cfg, m)
#define ACC_OFF(m) offsetof(struct cfg_account, m)
#define TPL_OFF(m) offsetof(struct cfg_template, m)

/* ---- value rules used by the tables ---- */

static bool all_of(const char *s, const char *set, size_t min, size_t max)
{
	size_t n = strspn(s, set);

	return s[n] == '\0' && n >= min && n <= max;
}

/* The bare "+E.164" is for meta/360dialog accounts (config/provider.c). */
static bool check_from(const char *s)
{
	if (strncmp(s, "whatsapp:", 9) == 0)
		s += 9;
	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	return all_of(s + 1, "0123456789", 8, 15);
}

static bool check_content_sid(const char *s)
{
	return strncmp(s, "HX", 2) == 0 && all_of(s + 2, "0123456789abcdefABCDEF", 32, 32);
}

static bool check_https(const char *s)
{
	return strncmp(s, "https://", 8) == 0 && s[8] != '\0' && !strpbrk(s, " \t\r\n");
}

static bool check_socket_path(const char *s)
{
	return strlen(s) <= SUN_PATH_MAX;
}

static bool check_host(const char *s)
{
	return all_of(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_", 1,
		      253);
}

static bool check_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* A login name as useradd(8) takes it; looked up at start, not here, so a
 * config can be checked on a machine without that user. */
static bool check_user(const char *s)
{
	return (s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')) &&
	       all_of(s, "abcdefghijklmnopqrstuvwxyz0123456789_-", 1, 32);
}

static bool check_device(const char *s)
{
	return s[0] == '/' && check_printable(s);
}

static bool check_baud(double v)
{
	static const unsigned rates[] = { 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200,
					  230400, 460800, 921600, 1000000, 2000000, 4000000 };

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (v == rates[i])
			return true;
	return false;
}

/* Polling faster than every 10 s costs the provider's rate budget for
 * nothing a person would notice. */
static bool check_poll(double v)
{
	return v == 0 || v >= 10;
}

static bool check_country(const char *s)
{
	return s[0] >= '1' && s[0] <= '9' && all_of(s, "0123456789", 1, 3);
}

static bool check_field_path(const char *s)
{
	char expr[CFG_PATH_MAX + 3], why[8];

	snprintf(expr, sizeof(expr), "{%s}", s);
	return strlen(s) < CFG_PATH_MAX && cfg_expr_lone_field(expr, why, sizeof(why)) &&
	       cfg_expr_valid(expr, why, sizeof(why));
}

/* ---- tables ---- */

static const struct cfg_field mqtt_fields[] = {
	{ .key = "host", .type = CFG_F_STR, .off = CFG_OFF(mqtt.host), .def_str = "127.0.0.1",
	  .check = check_host, .expect = "a host name or IP address" },
	{ .key = "port", .type = CFG_F_INT, .off = CFG_OFF(mqtt.port), .min = 1, .max = 65535,
	  .def_num = 1883 },
	{ .key = "client_id", .type = CFG_F_STR, .off = CFG_OFF(mqtt.client_id), .max = 256,
	  .check = check_printable, .expect = "printable text without spaces" },
	{ .key = "username", .type = CFG_F_STR, .off = CFG_OFF(mqtt.username), .max = 256 },
	{ .key = "credentials", .type = CFG_F_STR, .off = CFG_OFF(mqtt.credentials),
	  .check = cfg_ident_valid, .expect = "a secrets entry name (" CFG_IDENT_EXPECT ")" },
	{ .key = "keepalive_s", .type = CFG_F_UINT, .off = CFG_OFF(mqtt.keepalive_s), .min = 5,
	  .max = 65535, .def_num = 30 },
	{ 0 }
};

static const struct cfg_field store_fields[] = {
	{ .key = "path", .type = CFG_F_STR, .off = CFG_OFF(store.path),
	  .def_str = "/var/lib/outpost" },
	{ .key = "max_size_mb", .type = CFG_F_UINT, .off = CFG_OFF(store.max_size_mb), .min = 1,
	  .max = 65536, .def_num = 256 },
	{ .key = "keep_done", .type = CFG_F_DURATION, .off = CFG_OFF(store.keep_done_s), .min = 60,
	  .max = 365 * 86400, .def_num = 7 * 86400 },
	{ 0 }
};

static const struct cfg_field serial_fields[] = {
	{ .key = "device", .type = CFG_F_STR, .off = CFG_OFF(control.serial.device), .max = 255,
	  .check = check_device, .expect = "a device path like \"/dev/ttyUSB0\"" },
	{ .key = "baud", .type = CFG_F_UINT, .off = CFG_OFF(control.serial.baud), .min = 1200,
	  .max = 4000000, .def_num = 115200, .check_num = check_baud,
	  .expect = "a standard rate: 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600" },
	{ .key = "pin_hash", .type = CFG_F_STR, .off = CFG_OFF(control.serial.pin_hash),
	  .max = CFG_PIN_SPEC_MAX, .check = cfg_pin_spec_valid,
	  .expect = "a PIN hash from `outpostctl pin-hash` (pbkdf2-sha256$...)" },
	{ 0 }
};

static const struct cfg_field remote_fields[] = {
	{ .key = "credentials", .type = CFG_F_STR, .off = CFG_OFF(control.mqtt.credentials),
	  .check = cfg_ident_valid, .expect = "a vault entry name (" CFG_IDENT_EXPECT ")" },
	{ .key = "window_s", .type = CFG_F_UINT, .off = CFG_OFF(control.mqtt.window_s),
	  .min = 10, .max = 3600, .def_num = 300 },
	{ 0 }
};

static const struct cfg_field control_fields[] = {
	{ .key = "socket", .type = CFG_F_STR, .off = CFG_OFF(control.socket),
	  .def_str = "/run/outpost/outpostd.sock", .check = check_socket_path,
	  .expect = "a path of at most 107 bytes" },
	{ .key = "serial", .type = CFG_F_OBJ, .sub = serial_fields },
	{ .key = "mqtt", .type = CFG_F_OBJ, .sub = remote_fields },
	{ .key = "fleet_key", .type = CFG_F_STR, .off = CFG_OFF(control.fleet_key), .max = 1024 },
	{ 0 }
};

static const struct cfg_field vault_fields[] = {
	{ .key = "key_file", .type = CFG_F_STR, .off = CFG_OFF(vault.key_file),
	  .def_str = "/etc/outpost/device.key", .max = 1024 },
	{ 0 }
};

static const struct cfg_field log_fields[] = {
	{ .key = "ring_kb", .type = CFG_F_UINT, .off = CFG_OFF(log.ring_kb), .min = 64,
	  .max = 262144, .def_num = 4096 },
	{ 0 }
};

#define SENDER_UINT(k, lo, hi, def)                                                       \
	{ .key = #k, .type = CFG_F_UINT, .off = CFG_OFF(sender.k), .min = lo, .max = hi, \
	  .def_num = def }

static const struct cfg_field sender_fields[] = {
	SENDER_UINT(max_inflight, 1, 1024, 128),
	SENDER_UINT(concurrency, 1, 1024, 0), /* the old name: finish() */
	SENDER_UINT(connect_timeout_ms, 100, 300000, 10000),
	SENDER_UINT(request_timeout_ms, 1000, 600000, 30000),
	SENDER_UINT(low_speed_time_s, 1, 600, 20),
	SENDER_UINT(max_attempts, 1, 1000, 10),
	SENDER_UINT(backoff_base_ms, 1, 3600000, 2000),
	SENDER_UINT(backoff_cap_ms, 1, 86400000, 900000),
	SENDER_UINT(retry_after_max_s, 0, 86400, 3600),
	SENDER_UINT(batch, 1, 1024, 64),
	{ 0 }
};

static const struct cfg_field events_fields[] = {
	{ .key = "id_field", .type = CFG_F_STR, .off = CFG_OFF(events.id_field), .def_str = "id",
	  .check = check_field_path, .expect = "a field path like \"id\" or \"meta.id\"" },
	{ .key = "default_country", .type = CFG_F_STR, .off = CFG_OFF(events.default_country),
	  .check = check_country, .expect = "a country calling code of 1..3 digits like \"49\"" },
	{ .key = "max_payload", .type = CFG_F_UINT, .off = CFG_OFF(events.max_payload),
	  .min = 1024, .max = 1048576, .def_num = 65536 },
	{ 0 }
};

static const struct cfg_field breaker_fields[] = {
	{ .key = "failures", .type = CFG_F_UINT, .off = ACC_OFF(breaker.failures), .min = 1,
	  .max = 1000, .def_num = 5 },
	{ .key = "open_s", .type = CFG_F_UINT, .off = ACC_OFF(breaker.open_s), .min = 1,
	  .max = 600, .def_num = 30 },
	{ 0 }
};

static const struct cfg_enum provider_names[] = { { "twilio", CFG_PROVIDER_TWILIO },
						  { "meta", CFG_PROVIDER_META },
						  { "360dialog", CFG_PROVIDER_360DIALOG },
						  { 0 } };

/* Status polling. first: 1 s for tests, up to an hour; max_age: how long
 * after the send a message is still followed (WhatsApp gives up on an
 * undeliverable message within about 30 days). */
static const struct cfg_field poll_fields[] = {
	{ .key = "enabled", .type = CFG_F_BOOL, .off = ACC_OFF(poll.enabled), .def_num = 1 },
	{ .key = "first", .type = CFG_F_DURATION, .off = ACC_OFF(poll.first_s), .min = 1,
	  .max = 3600, .def_num = 5 },
	{ .key = "max_age", .type = CFG_F_DURATION, .off = ACC_OFF(poll.max_age_s), .min = 60,
	  .max = 30 * 86400, .def_num = 72 * 3600 },
	{ 0 }
};

static const struct cfg_field account_fields[] = {
	{ .key = "provider", .type = CFG_F_ENUM, .off = ACC_OFF(provider), .enums = provider_names,
	  .def_num = CFG_PROVIDER_TWILIO },
	{ .key = "from", .type = CFG_F_STR, .off = ACC_OFF(from), .required = true,
	  .check = check_from, .expect = "\"whatsapp:+<E.164>\"" },
	{ .key = "credentials", .type = CFG_F_STR, .off = ACC_OFF(credentials), .required = true,
	  .check = cfg_ident_valid, .expect = "a secrets entry name (" CFG_IDENT_EXPECT ")" },
	/* default by provider, in cfg_providers_finish() */
	{ .key = "api_base", .type = CFG_F_STR, .off = ACC_OFF(api_base), .check = check_https,
	  .expect = "a URL starting with \"https://\"" },
	{ .key = "phone_number_id", .type = CFG_F_STR, .off = ACC_OFF(phone_number_id),
	  .check = cfg_check_graph_id, .expect = CFG_GRAPH_ID_EXPECT },
	{ .key = "waba_id", .type = CFG_F_STR, .off = ACC_OFF(waba_id),
	  .check = cfg_check_graph_id, .expect = CFG_GRAPH_ID_EXPECT },
	{ .key = "api_version", .type = CFG_F_STR, .off = ACC_OFF(api_version),
	  .check = cfg_check_api_version, .expect = CFG_API_VERSION_EXPECT },
	{ .key = "ca_file", .type = CFG_F_STR, .off = ACC_OFF(ca_file),
	  .def_str = "/etc/ssl/certs/ca-certificates.crt" },
	{ .key = "rate_per_s", .type = CFG_F_DOUBLE, .off = ACC_OFF(rate_per_s), .min = 0,
	  .min_excl = true, .max = 10000, .def_num = 80 },
	/* 0 means "not given": burst then follows rate_per_s (see finish()) */
	{ .key = "burst", .type = CFG_F_UINT, .off = ACC_OFF(burst), .min = 1, .max = 100000 },
	/* NULL / 0 mean "not given": see finish_accounts() */
	{ .key = "content_base", .type = CFG_F_STR, .off = ACC_OFF(content_base),
	  .check = check_https, .expect = "a URL starting with \"https://\"" },
	{ .key = "templates_sync", .type = CFG_F_DURATION, .off = ACC_OFF(templates_sync_s),
	  .min = 60, .max = 7 * 86400 },
	{ .key = "status_poll", .type = CFG_F_OBJ, .sub = poll_fields },
	{ .key = "webhooks", .type = CFG_F_BOOL, .off = ACC_OFF(webhooks) },
	{ .key = "fallback", .type = CFG_F_STR, .off = ACC_OFF(fallback_name),
	  .check = cfg_ident_valid, .expect = "an account name (" CFG_IDENT_EXPECT ")" },
	{ .key = "breaker", .type = CFG_F_OBJ, .sub = breaker_fields },
	{ .key = "quota", .type = CFG_F_CUSTOM, .custom = cfg_quota_parse },
	{ .key = "inbound_poll_s", .type = CFG_F_UINT, .off = ACC_OFF(inbound_poll_s), .min = 0,
	  .max = 86400, .check_num = check_poll, .expect = "0 (off) or 10..86400 seconds" },
	{ 0 }
};

static const struct cfg_enum category_names[] = { { "utility", CFG_CAT_UTILITY },
						  { "marketing", CFG_CAT_MARKETING },
						  { "authentication", CFG_CAT_AUTHENTICATION },
						  { "service", CFG_CAT_SERVICE },
						  { 0 } };

static const struct cfg_enum status_names[] = { { "approved", CFG_TPL_APPROVED },
						{ "pending", CFG_TPL_PENDING },
						{ "rejected", CFG_TPL_REJECTED },
						{ 0 } };

static const struct cfg_field template_fields[] = {
	/* one of the two mappings at least: cfg_providers_finish() */
	{ .key = "twilio_content_sid", .type = CFG_F_STR, .off = TPL_OFF(content_sid),
	  .check = check_content_sid, .expect = "\"HX\" followed by 32 hex digits" },
	{ .key = "meta", .type = CFG_F_CUSTOM, .custom = cfg_template_meta },
	{ .key = "variables", .type = CFG_F_UINT, .off = TPL_OFF(variables), .required = true,
	  .min = 0, .max = CFG_TEMPLATE_VARS_MAX },
	{ .key = "status", .type = CFG_F_ENUM, .off = TPL_OFF(status), .required = true,
	  .enums = status_names },
	{ .key = "preview", .type = CFG_F_STR, .off = TPL_OFF(preview), .max = 1024 },
	{ .key = "category", .type = CFG_F_ENUM, .off = TPL_OFF(category), .enums = category_names,
	  .def_num = CFG_CAT_UTILITY },
	{ .key = "media_var", .type = CFG_F_UINT, .off = TPL_OFF(media_var), .min = 1,
	  .max = CFG_TEMPLATE_VARS_MAX },
	{ 0 }
};

static void parse_accounts(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
static void parse_templates(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);

/* Order matters: routes refer to the accounts and templates parsed before. */
static const struct cfg_field top_fields[] = {
	{ .key = "gateway_id", .type = CFG_F_STR, .off = CFG_OFF(gateway_id), .required = true,
	  .check = cfg_ident_valid, .expect = CFG_IDENT_EXPECT },
	{ .key = "timezone", .type = CFG_F_CUSTOM, .custom = cfg_timezone_parse },
	{ .key = "mqtt", .type = CFG_F_OBJ, .sub = mqtt_fields },
	{ .key = "store", .type = CFG_F_OBJ, .sub = store_fields },
	{ .key = "control", .type = CFG_F_OBJ, .sub = control_fields },
	{ .key = "sender", .type = CFG_F_OBJ, .sub = sender_fields },
	{ .key = "events", .type = CFG_F_OBJ, .sub = events_fields },
	{ .key = "vault", .type = CFG_F_OBJ, .sub = vault_fields },
	{ .key = "log", .type = CFG_F_OBJ, .sub = log_fields },
	{ .key = "stats", .type = CFG_F_OBJ, .sub = cfg_stats_fields },
	{ .key = "homeassistant", .type = CFG_F_OBJ, .sub = cfg_ha_fields },
	{ .key = "secrets_file", .type = CFG_F_STR, .off = CFG_OFF(secrets_file) },
	{ .key = "user", .type = CFG_F_STR, .off = CFG_OFF(user), .check = check_user,
	  .expect = "a user name like \"outpost\" (lowercase letters, digits, _ and -)" },
	{ .key = "group", .type = CFG_F_STR, .off = CFG_OFF(group), .check = check_user,
	  .expect = "a group name like \"outpost\" (lowercase letters, digits, _ and -)" },
	{ .key = "templates_sync", .type = CFG_F_DURATION, .off = CFG_OFF(templates_sync_s),
	  .min = 60, .max = 7 * 86400, .def_num = 3600 },
	{ .key = "consent", .type = CFG_F_CUSTOM, .custom = cfg_consent_parse },
	{ .key = "accounts", .type = CFG_F_CUSTOM, .required = true, .custom = parse_accounts },
	{ .key = "templates", .type = CFG_F_CUSTOM, .required = true, .custom = parse_templates },
	{ .key = "groups", .type = CFG_F_CUSTOM, .custom = cfg_groups_parse },
	{ .key = "routes", .type = CFG_F_CUSTOM, .required = true, .custom = cfg_routes_parse },
	{ 0 }
};

/* ---- accounts and templates: JSON objects of name -> object ---- */

_Static_assert(offsetof(struct cfg_account, name) == 0, "parse_map stores names at offset 0");
_Static_assert(offsetof(struct cfg_template, name) == 0, "parse_map stores names at offset 0");
_Static_assert(offsetof(struct cfg_route, name) == 0, "find_named reads names at offset 0");

struct map_spec {
	const char *what; /* "account" */
	unsigned max;
	size_t elem;
	const struct cfg_field *fields;
};

/* bad (optional, ms->max entries) flags the entries that had errors. */
static void *parse_map(struct cfg_pctx *px, const cJSON *v, const char *path,
		       const struct map_spec *ms, unsigned *n_out, bool *bad)
{
	char sub[CFG_PATH_LEN];
	const cJSON *c;
	unsigned n, i = 0;
	char *arr;

	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object of %ss by name, got %s", ms->what,
			    cfg_json_type(v));
		return NULL;
	}
	n = (unsigned)cJSON_GetArraySize(v);
	if (n == 0 || n > ms->max) {
		cfg_err_add(px->errs, path, "expected 1..%u %ss, got %u", ms->max, ms->what, n);
		return NULL;
	}
	arr = calloc(n, ms->elem);
	if (!arr) {
		px->nomem = true;
		return NULL;
	}
	cfg_schema_check_keys(px, v, NULL, path); /* duplicate names */
	for (c = v->child; c; c = c->next, i++) {
		char *item = arr + i * ms->elem;

		cfg_path_key(sub, path, c->string);
		if (!cfg_ident_valid(c->string))
			cfg_err_add(px->errs, sub, "%s name: expected %s", ms->what, CFG_IDENT_EXPECT);
		else
			*(char **)item = cfg_schema_strdup(px, c->string);
		unsigned before = px->errs->n + px->errs->dropped;

		if (!cJSON_IsObject(c))
			cfg_err_add(px->errs, sub, "expected an object, got %s", cfg_json_type(c));
		else
			cfg_schema_parse(px, c, ms->fields, item, sub);
		if (bad)
			bad[i] = px->errs->n + px->errs->dropped != before;
	}
	*n_out = n;
	return arr;
}

static void parse_accounts(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	static const struct map_spec ms = { .what = "account", .max = ACCOUNTS_MAX,
					    .elem = sizeof(struct cfg_account),
					    .fields = account_fields };
	struct cfg *cfg = base;

	cfg->accounts = parse_map(px, v, path, &ms, &cfg->n_accounts, NULL);
}

static void parse_templates(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	static const struct map_spec ms = { .what = "template", .max = TEMPLATES_MAX,
					    .elem = sizeof(struct cfg_template),
					    .fields = template_fields };
	struct cfg *cfg = base;

	cfg->templates = parse_map(px, v, path, &ms, &cfg->n_templates, px->tpl_bad);
}

/* ---- rules across fields ---- */

/* Fallback accounts: named, not the account itself, and able to send every
 * template routed to the account that falls back on them. */
static void finish_fallbacks(struct cfg_pctx *px)
{
	struct cfg *cfg = px->cfg;
	char path[CFG_PATH_LEN], known[256];
	unsigned i;

	cfg_known_names(known, sizeof(known), cfg->accounts, sizeof(*cfg->accounts),
			cfg->n_accounts);
	for (i = 0; i < cfg->n_accounts; i++) {
		struct cfg_account *a = &cfg->accounts[i];

		if (!a->name || !a->fallback_name)
			continue;
		cfg_path_key(path, "$.accounts", a->name);
		strncat(path, ".fallback", sizeof(path) - strlen(path) - 1);
		a->fallback = cfg_account_find(cfg, a->fallback_name);
		if (!a->fallback)
			cfg_err_add(px->errs, path, "unknown account \"%s\" (known: %s)",
				    a->fallback_name, known);
		else if (a->fallback == a)
			cfg_err_add(px->errs, path, "an account cannot fall back on itself");
	}
	for (i = 0; i < cfg->n_routes; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		const struct cfg_account *f = r->account ? r->account->fallback : NULL;

		if (!f || !r->template || cfg_template_usable(r->template, f))
			continue;
		snprintf(path, sizeof(path), "$.routes[%u].template", i);
		cfg_err_add(px->errs, path, "account %s falls back on %s (%s), which cannot send "
			    "template %s: give the template what %s needs", r->account->name,
			    f->name, cfg_provider_name(f->provider),
			    r->template->name, f->name);
	}
}

/* Highest {{n}} in a preview, so a preview that disagrees with "variables"
 * is noticed when the config is written, not when a message reads oddly. */
static unsigned preview_max_var(const char *p)
{
	unsigned max = 0, k;

	while (p && (p = strstr(p, "{{")) != NULL) {
		p += 2;
		for (k = 0; *p >= '0' && *p <= '9' && k < 1000; p++)
			k = k * 10 + (unsigned)(*p - '0');
		if (p[0] == '}' && p[1] == '}' && k > max)
			max = k;
	}
	return max;
}

/* Twilio's own hosts keep the Content API apart; anything else (a proxy,
 * twilio-sim) is taken to serve both APIs. */
static char *default_content_base(const char *api_base)
{
	size_t n = strncmp(api_base, "https://", 8) == 0 ? strcspn(api_base + 8, "/:?#") : 0;
	const char *host = api_base + 8;

	if (n == strlen("api.twilio.com") && strncmp(host, "api.twilio.com", n) == 0)
		return strdup("https://content.twilio.com");
	if (n > strlen(".twilio.com") &&
	    strncmp(host + n - strlen(".twilio.com"), ".twilio.com", strlen(".twilio.com")) == 0)
		return strdup("https://content.twilio.com");
	return strdup(api_base);
}

static void finish_accounts(struct cfg_pctx *px)
{
	struct cfg *cfg = px->cfg;

	for (unsigned i = 0; i < cfg->n_accounts; i++) {
		struct cfg_account *a = &cfg->accounts[i];

		/* A bucket of one second's worth lets a burst of events go out
		 * at once without exceeding the provider's per-second rate. */
		if (a->burst == 0)
			a->burst = a->rate_per_s >= 1 ? (unsigned)a->rate_per_s : 1;
		if (a->templates_sync_s == 0)
			a->templates_sync_s = cfg->templates_sync_s;
	}
}

/* After the providers' defaults: content_base follows api_base. */
static void finish_content_base(struct cfg_pctx *px)
{
	struct cfg *cfg = px->cfg;
	char path[CFG_PATH_LEN];

	for (unsigned i = 0; i < cfg->n_accounts; i++) {
		struct cfg_account *a = &cfg->accounts[i];

		if (a->provider != CFG_PROVIDER_TWILIO && a->content_base && a->name) {
			cfg_path_key(path, "$.accounts", a->name);
			cfg_err_add(px->errs, path, "content_base is for twilio accounts (%s lists "
				    "templates on api_base)", cfg_provider_name(a->provider));
		}
		if (a->provider == CFG_PROVIDER_TWILIO && !a->content_base && a->api_base &&
		    !(a->content_base = default_content_base(a->api_base)))
			px->nomem = true;
	}
}

static void finish_templates(struct cfg_pctx *px)
{
	const struct cfg *cfg = px->cfg;
	char path[CFG_PATH_LEN];
	unsigned i, m;

	for (i = 0; i < cfg->n_templates; i++) {
		const struct cfg_template *t = &cfg->templates[i];

		if (!t->name)
			continue;
		cfg_path_key(path, "$.templates", t->name);
		if (t->media_var > t->variables)
			cfg_err_add(px->errs, path, "media_var %u: the template has %u variables",
				    t->media_var, t->variables);
		if (!t->preview)
			continue;
		m = preview_max_var(t->preview);
		if (m != t->variables)
			cfg_err_add(px->warns, path, "preview uses {{%u}} at most but \"variables\" "
				    "is %u", m, t->variables);
	}
}

static void finish(struct cfg_pctx *px)
{
	struct cfg *cfg = px->cfg;
	size_t n;

	if (!cfg->mqtt.client_id && cfg->gateway_id) {
		n = strlen("outpostd-") + strlen(cfg->gateway_id) + 1;
		cfg->mqtt.client_id = malloc(n);
		if (!cfg->mqtt.client_id) {
			px->nomem = true;
			return;
		}
		snprintf(cfg->mqtt.client_id, n, "outpostd-%s", cfg->gateway_id);
	}
	finish_accounts(px);
	if (cfg->sender.concurrency) { /* a config from before max_inflight */
		cfg->sender.max_inflight = cfg->sender.concurrency;
		cfg_err_add(px->warns, "$.sender.concurrency",
			    "the old name of sender.max_inflight; taken as max_inflight = %u",
			    cfg->sender.concurrency);
	}
	if (cfg->group && !cfg->user)
		cfg_err_add(px->errs, "$.group", "a group needs \"user\" too (the user to run as)");
	if (cfg->sender.backoff_base_ms > cfg->sender.backoff_cap_ms)
		cfg_err_add(px->errs, "$.sender.backoff_base_ms",
			    "expected at most backoff_cap_ms (%u), got %u", cfg->sender.backoff_cap_ms,
			    cfg->sender.backoff_base_ms);
	finish_templates(px);
	cfg_providers_finish(px);
	finish_content_base(px);
	cfg_routes_check(px);
	cfg_quota_check(px);
	finish_fallbacks(px);
}

/* ---- public API ---- */

static void json_position(const char *json, size_t len, const char *at, unsigned *line,
			  unsigned *col)
{
	size_t i, off = at && at >= json && at <= json + len ? (size_t)(at - json) : 0;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (json[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static cJSON *parse_json(const char *json, size_t len, struct cfg_errors *errs)
{
	const char *end = NULL;
	unsigned line, col;
	cJSON *root;

	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (root && end) {
		while (end < json + len && strchr(" \t\r\n", *end) && *end)
			end++;
		if (end == json + len)
			return root;
		cJSON_Delete(root);
		root = NULL;
		json_position(json, len, end, &line, &col);
		cfg_err_add(errs, "$", "invalid JSON: unexpected text after the value at line %u, "
			    "column %u", line, col);
		return NULL;
	}
	if (!root) {
		json_position(json, len, end ? end : cJSON_GetErrorPtr(), &line, &col);
		cfg_err_add(errs, "$", "invalid JSON at line %u, column %u", line, col);
	}
	return root;
}

int cfg_parse(const char *json, size_t len, struct cfg **out, struct cfg_errors *errs)
{
	struct cfg_errors local;
	struct cfg_pctx px;
	struct cfg *cfg;
	cJSON *root = NULL;
	int rc = ERR_CONFIG;

	*out = NULL;
	if (!errs)
		errs = &local;
	memset(errs, 0, sizeof(*errs));
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return ERR_NOMEM;
	px = (struct cfg_pctx){ .cfg = cfg, .errs = errs, .warns = &cfg->warnings };
	root = parse_json(json, len, errs);
	if (!root)
		goto out;
	if (!cJSON_IsObject(root)) {
		cfg_err_add(errs, "$", "expected an object, got %s", cfg_json_type(root));
		goto out;
	}
	cfg_schema_parse(&px, root, top_fields, cfg, "$");
	if (!px.nomem)
		finish(&px);
	rc = px.nomem ? ERR_NOMEM : errs->n || errs->dropped ? ERR_CONFIG : ERR_OK;
	if (rc == ERR_OK) {
		*out = cfg;
		cfg = NULL;
	}
out:
	cJSON_Delete(root);
	cfg_free(cfg);
	return rc;
}

int cfg_load(const char *path, struct cfg **out, struct cfg_errors *errs)
{
	struct cfg_errors local;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!errs)
		errs = &local;
	rc = hal_file_read(path, CFG_FILE_MAX, &buf, &len);
	if (rc != ERR_OK) {
		memset(errs, 0, sizeof(*errs));
		cfg_err_add(errs, "$", "cannot read %s: %s", path,
			    rc == ERR_TOOBIG ? "larger than 1 MiB" : hal_strerror(rc));
		return rc;
	}
	rc = cfg_parse(buf, len, out, errs);
	free(buf);
	return rc;
}

void cfg_free(struct cfg *cfg)
{
	unsigned i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_routes; i++)
		cfg_route_free(&cfg->routes[i], cfg->routes[i].template ?
				 cfg->routes[i].template->variables : 0);
	free(cfg->routes);
	cfg_groups_free(cfg);
	cfg_consent_free(cfg);
	for (i = 0; i < cfg->n_templates; i++) {
		free(cfg->templates[i].name);
		free(cfg->templates[i].content_sid);
		free(cfg->templates[i].meta_name);
		free(cfg->templates[i].meta_language);
		free(cfg->templates[i].preview);
	}
	free(cfg->templates);
	free(cfg->homeassistant.prefix);
	for (i = 0; i < cfg->n_accounts; i++) {
		struct cfg_account *a = &cfg->accounts[i];

		free(a->name);
		free(a->from);
		free(a->credentials);
		free(a->api_base);
		free(a->ca_file);
		free(a->content_base);
		free(a->fallback_name);
		free(a->phone_number_id);
		free(a->waba_id);
		free(a->api_version);
		cfg_quota_free(&a->quota);
	}
	free(cfg->accounts);
	free(cfg->gateway_id);
	free(cfg->timezone);
	free(cfg->mqtt.host);
	free(cfg->mqtt.client_id);
	free(cfg->mqtt.username);
	free(cfg->mqtt.credentials);
	free(cfg->store.path);
	free(cfg->control.socket);
	free(cfg->control.serial.device);
	free(cfg->control.serial.pin_hash);
	free(cfg->control.fleet_key);
	free(cfg->control.mqtt.credentials);
	free(cfg->vault.key_file);
	free(cfg->events.id_field);
	free(cfg->events.default_country);
	free(cfg->secrets_file);
	free(cfg->user);
	free(cfg->group);
	free(cfg);
}

/* Accounts, templates and routes keep their name first (asserted above). */
static const void *find_named(const void *arr, size_t stride, unsigned n, const char *name)
{
	const char *p = arr;

	for (unsigned i = 0; p && name && i < n; i++, p += stride)
		if (*(char *const *)p && strcmp(*(char *const *)p, name) == 0)
			return p;
	return NULL;
}

const struct cfg_account *cfg_account_find(const struct cfg *cfg, const char *name)
{
	return cfg ? find_named(cfg->accounts, sizeof(*cfg->accounts), cfg->n_accounts, name) : NULL;
}

const struct cfg_route *cfg_route_find(const struct cfg *cfg, const char *name)
{
	return cfg ? find_named(cfg->routes, sizeof(*cfg->routes), cfg->n_routes, name) : NULL;
}

_Static_assert(offsetof(struct cfg_group, name) == 0, "find_named reads names at offset 0");

const struct cfg_group *cfg_group_find(const struct cfg *cfg, const char *name)
{
	if (name && name[0] == '@')
		name++;
	return cfg ? find_named(cfg->groups, sizeof(*cfg->groups), cfg->n_groups, name) : NULL;
}

const struct cfg_template *cfg_template_find(const struct cfg *cfg, const char *name)
{
	return cfg ? find_named(cfg->templates, sizeof(*cfg->templates), cfg->n_templates, name)
		   : NULL;
}

bool cfg_template_usable(const struct cfg_template *t, const struct cfg_account *a)
{
	switch (a->provider) {
	case CFG_PROVIDER_TWILIO:
		return t->content_sid && *t->content_sid;
	case CFG_PROVIDER_META:
	case CFG_PROVIDER_360DIALOG:
		return t->meta_name && t->meta_language;
	}
	return false;
}
