/*
 * create.c - POST .../Messages.json: form parsing, Twilio's validation
 * errors, the magic recipients and the create-path faults; plus the fetch
 * of one stored message.
 *
 * Checks run in the order a client can observe at Twilio: 429 before
 * anything is read (a 429 is never processed), then the parameters, then
 * the recipient, then the injected 500/drop faults. A request that fails
 * any check is not recorded; a dropped one is (Twilio processed it, the
 * client just never heard back), which is the ambiguous case tests need.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hal/parse.h"
#include "net/form.h"
#include "tools/twilio-sim/sim.h"

/* The form parameters the sim looks at; others are accepted and ignored
 * like Twilio's optional ones (StatusCallback, ValidityPeriod, ...). */
enum field { F_TO, F_FROM, F_CONTENT_SID, F_CONTENT_VARS, F_BODY, F__N };
static const char *const field_names[F__N] = {
	[F_TO] = "To",
	[F_FROM] = "From",
	[F_CONTENT_SID] = "ContentSid",
	[F_CONTENT_VARS] = "ContentVariables",
	[F_BODY] = "Body",
};

struct form {
	const char *v[F__N]; /* NULL if absent; point into the request body */
};

/* Recipients that always fail, so error handling is testable end to end. */
static const struct magic {
	const char *to;
	unsigned status;
	int code;
	const char *message;
} magic[] = {
	{"whatsapp:+15005550001", 400, 21211,
	 "The 'To' number whatsapp:+15005550001 is not a valid phone number."},
	{"whatsapp:+15005550002", 400, 63003, "Channel could not find To address"},
	{"whatsapp:+15005550003", 400, 21610, "Attempt to send to unsubscribed recipient"},
	{"whatsapp:+15005550009", 500, 20500, "Internal Server Error"},
};

static void parse_form(char *body, struct form *f)
{
	char *pair = body;

	memset(f, 0, sizeof(*f));
	while (pair && *pair) {
		char *next = strchr(pair, '&');
		char *eq;

		if (next)
			*next++ = '\0';
		eq = strchr(pair, '=');
		if (eq) {
			*eq = '\0';
			net_form_decode(pair);
			net_form_decode(eq + 1);
			for (int i = 0; i < F__N; i++)
				if (strcmp(pair, field_names[i]) == 0)
					f->v[i] = eq + 1; /* the last one wins */
		}
		pair = next;
	}
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hal_hex_digit(s[i]) < 0)
			return false;
	return true;
}

bool sim_sid_valid(const char *s, const char *prefix)
{
	return strlen(s) == SIM_SID_LEN && strncmp(s, prefix, 2) == 0 && is_hex(s + 2, 32);
}

/* whatsapp:+ then E.164: up to 15 digits, no leading zero. Fewer than 7
 * digits is not a dialable international number anywhere. */
static bool valid_address(const char *s)
{
	static const char pfx[] = "whatsapp:+";
	size_t n;

	if (strncmp(s, pfx, sizeof(pfx) - 1) != 0)
		return false;
	s += sizeof(pfx) - 1;
	n = strspn(s, "0123456789");
	return s[n] == '\0' && n >= 7 && n <= 15 && s[0] != '0';
}

/* Variables in template order: numbered keys by number, then any others
 * in the order given (unregistered ContentSids take any keys). */
struct var {
	const cJSON *item;
	long rank; /* the key's number; after every number if it is none */
	int pos;   /* order given, for a stable sort */
};

static long var_rank(const char *k)
{
	const char *p = k;
	long n = 0;

	for (; *p >= '0' && *p <= '9' && n < 1000000; p++)
		n = n * 10 + (*p - '0');
	return *p == '\0' && p != k ? n : 1000000 + 1;
}

static int var_cmp(const void *a, const void *b)
{
	const struct var *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* "v1 | v2 | ..." for the body (json.c); malloc'd, NULL if out of memory. */
static char *join_vars(const cJSON *obj)
{
	struct var vars[SIM_MAX_VARS];
	struct sim_buf b = {0};
	const cJSON *it;
	int n = 0;

	cJSON_ArrayForEach(it, obj) {
		if (n == SIM_MAX_VARS)
			break;
		vars[n] = (struct var){it, var_rank(it->string), n};
		n++;
	}
	qsort(vars, (size_t)n, sizeof(vars[0]), var_cmp);
	for (int i = 0; i < n; i++) {
		if (i)
			sim_buf_str(&b, " | ");
		sim_buf_str(&b, vars[i].item->valuestring);
	}
	return sim_buf_take(&b);
}

/* ContentVariables: a JSON object of string values, at most 100 pairs.
 * Returns the object re-serialised (cJSON-allocated), its size and the
 * values joined for the body (*text, malloc'd). */
static char *parse_vars(const char *text, int *count, char **joined)
{
	cJSON *obj, *it;
	char *out = NULL;

	obj = cJSON_Parse(text ? text : "{}");
	if (!cJSON_IsObject(obj))
		goto out;
	*count = cJSON_GetArraySize(obj);
	if (*count > SIM_MAX_VARS)
		goto out;
	cJSON_ArrayForEach(it, obj)
		if (!cJSON_IsString(it))
			goto out;
	*joined = join_vars(obj);
	out = *joined ? cJSON_PrintUnformatted(obj) : NULL;
out:
	cJSON_Delete(obj);
	return out;
}

static const struct sim_template *find_template(const struct sim_config *cfg, const char *sid)
{
	for (size_t i = 0; i < cfg->n_templates; i++)
		if (strcasecmp(cfg->templates[i].sid, sid) == 0)
			return &cfg->templates[i];
	return NULL;
}

static bool check_addresses(const struct form *f, struct sim_reply *r)
{
	if (!f->v[F_TO] || !*f->v[F_TO]) {
		sim_reply_error(r, 400, 21604, "A 'To' phone number is required.");
		return false;
	}
	if (!f->v[F_FROM] || !*f->v[F_FROM]) {
		sim_reply_error(r, 400, 21603, "A 'From' phone number is required.");
		return false;
	}
	if (!valid_address(f->v[F_TO])) {
		sim_reply_error(r, 400, 21211, "The 'To' number %.64s is not a valid phone number.",
				f->v[F_TO]);
		return false;
	}
	if (!valid_address(f->v[F_FROM])) {
		sim_reply_error(r, 400, 21212,
				"The 'From' number %.64s is not a valid phone number, shortcode, "
				"or alphanumeric sender ID.",
				f->v[F_FROM]);
		return false;
	}
	return true;
}

/* The variables of an accepted create: serialised for the record line
 * (cJSON-allocated) and joined for the body (malloc'd). */
struct vars {
	char *json, *text;
};

static void vars_free(struct vars *v)
{
	cJSON_free(v->json);
	free(v->text);
	v->json = v->text = NULL;
}

/* Body-only: free-form text (inbound.c decides about the window). The
 * record line shows it as vars {"Body": text}. */
static bool freeform(const char *body, struct vars *v, struct sim_reply *r)
{
	cJSON *o = cJSON_CreateObject();

	if (strlen(body) > 1600) {
		cJSON_Delete(o);
		sim_reply_error(r, 400, 21617, "The concatenated message body exceeds the 1600 "
				"character limit");
		return false;
	}
	cJSON_AddStringToObject(o, "Body", body);
	v->json = cJSON_PrintUnformatted(o);
	v->text = strdup(body);
	cJSON_Delete(o);
	if (!v->json || !v->text) {
		sim_reply_error(r, 500, 20500, "out of memory");
		return false;
	}
	return true;
}

/* true with v filled, or false with the error reply set. */
static bool check_content(const struct sim_config *cfg, const struct form *f, struct vars *v,
			  struct sim_reply *r)
{
	const char *sid = f->v[F_CONTENT_SID];
	const struct sim_template *t;
	int count = 0;

	if ((!sid || !*sid) && f->v[F_BODY] && *f->v[F_BODY])
		return freeform(f->v[F_BODY], v, r);
	if (!sid || !*sid) {
		sim_reply_error(r, 400, 21619, "A text message body or media url must be specified.");
		return false;
	}
	if (!sim_sid_valid(sid, "HX")) {
		sim_reply_error(r, 400, 21655, "The ContentSid is Invalid");
		return false;
	}
	v->json = parse_vars(f->v[F_CONTENT_VARS], &count, &v->text);
	if (!v->json) {
		sim_reply_error(r, 400, 21656, "The ContentVariables Parameter is invalid");
		return false;
	}
	t = find_template(cfg, sid);
	if (t && (unsigned)count != t->nvars) {
		sim_reply_error(r, 400, 63028,
				"Number of parameters does not match the expected number of "
				"parameters (got %d, template %s expects %u)",
				count, sid, t->nvars);
		return false;
	}
	return true;
}

static bool check_magic(const char *to, struct sim_reply *r)
{
	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
		if (strcmp(to, magic[i].to) == 0) {
			sim_reply_error(r, magic[i].status, magic[i].code, "%s", magic[i].message);
			return true;
		}
	}
	return false;
}

static void accept_message(const struct sim_config *cfg, const struct form *f,
			   const struct vars *v, struct sim_reply *r)
{
	struct sim_msg m = {.to = f->v[F_TO], .from = f->v[F_FROM],
			    .content_sid = f->v[F_CONTENT_SID] ? f->v[F_CONTENT_SID] : "",
			    .vars_json = v->json, .vars_text = v->text};
	/* Free-form outside the window: created, then failed with 63016. */
	bool closed = !m.content_sid[0] && !sim_inbound_window_open(m.to, m.from);
	struct sim_buf b = {0};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	m.recv_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (sim_store_add(&m, r->drop) != 0) {
		r->drop = false;
		sim_reply_error(r, 500, 20500, "Internal Server Error (twilio-sim could not record)");
		return;
	}
	if (closed)
		sim_inbound_fail_window(m.sid);
	sim_render_message(&b, cfg, &m);
	r->json = sim_buf_take(&b);
	r->status = r->json ? 201 : 500;
}

/* A provider that hands out one id twice: every create to DUP_SID_TO is
 * answered 201 with the same sid, and recorded nowhere (a client must not
 * take the second for a message of its own). */
#define DUP_SID_TO "whatsapp:+15005550020"
static void same_sid(const struct sim_config *cfg, const struct form *f, const struct vars *v,
		     struct sim_reply *r)
{
	struct sim_msg m = {.to = f->v[F_TO], .from = f->v[F_FROM],
			    .content_sid = f->v[F_CONTENT_SID] ? f->v[F_CONTENT_SID] : "",
			    .vars_json = v->json, .vars_text = v->text};
	struct sim_buf b = {0};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	m.recv_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	snprintf(m.sid, sizeof(m.sid), "SM%032d", 20);
	sim_render_message(&b, cfg, &m);
	r->json = sim_buf_take(&b);
	r->status = r->json ? 201 : 500;
}

void sim_create(const struct sim_config *cfg, char *body, struct sim_reply *r)
{
	struct form f;
	struct vars v = {0};

	r->delay = true;
	if (sim_fault_over_rate()) {
		sim_reply_error(r, 429, 20429, "Too Many Requests");
		r->retry_after = true;
		return;
	}
	parse_form(body, &f);
	if (!check_addresses(&f, r))
		return;
	if (!check_content(cfg, &f, &v, r) || check_magic(f.v[F_TO], r))
		goto out;
	if (strcmp(f.v[F_TO], DUP_SID_TO) == 0) {
		same_sid(cfg, &f, &v, r);
		goto out;
	}
	if (sim_fault_flip(cfg->fail_rate)) {
		sim_reply_error(r, 500, 20500, "Internal Server Error (injected by --fail-rate)");
		goto out;
	}
	r->drop = sim_fault_flip(cfg->drop_rate);
	accept_message(cfg, &f, &v, r);
	if (r->status == 201)
		sim_content_note_create(cfg, f.v[F_CONTENT_SID]);
out:
	vars_free(&v);
}

struct fetch {
	const struct sim_config *cfg;
	struct sim_buf b;
};

/* Magic To: a fetch of its message answers about another one (the sid's
 * last digit changed), failed with that one's error: what a client must
 * not take as its own message's fate. */
#define OTHER_SID_TO "whatsapp:+15005550077"

static bool render_fetched(const struct sim_msg *m, void *arg)
{
	struct fetch *f = arg;
	struct sim_msg shown = *m;
	size_t n = strlen(shown.sid);

	shown.sent = true;
	if (m->to && strcmp(m->to, OTHER_SID_TO) == 0 && n > 2)
		shown.sid[n - 1] = shown.sid[n - 1] == '0' ? '1' : '0';
	sim_render_message(&f->b, f->cfg, &shown);
	return true;
}

void sim_fetch_message(const struct sim_config *cfg, const char *sid, struct sim_reply *r)
{
	struct fetch f = {.cfg = cfg};

	if (!sim_store_with(sid, render_fetched, &f)) {
		sim_reply_error(r, 404, 20404,
				"The requested resource /2010-04-01/Accounts/%s/Messages/%.40s.json "
				"was not found",
				cfg->account, sid);
		return;
	}
	r->json = sim_buf_take(&f.b);
	r->status = r->json ? 200 : 500;
}
