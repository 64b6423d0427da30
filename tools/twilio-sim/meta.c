/*
 * meta.c - the Meta WhatsApp Cloud API and 360dialog sides of the sim.
 *
 *   POST /{vNN.N}/{phone_number_id}/messages    Bearer --meta-token
 *   GET  /{vNN.N}/{phone_number_id}             (test connection)
 *   GET  /{vNN.N}/{waba_id}/message_templates   ?limit=&after= paging
 *   POST /messages                              D360-API-KEY --d360-key
 *   GET  /v1/configs/templates                  (360dialog)
 *
 * A send is checked as Meta checks it (messaging_product, to, type,
 * template name + language, body parameters and the media header against
 * a --meta-template; free-form text only inside the 24-hour window), then
 * the magic recipients and the faults, and an accepted one goes into the
 * same record file as Twilio's: "provider", the wamid as "sid", "to" as
 * "whatsapp:+E.164" and "vars" as {"1":..} (text: {"Body":..}), so the
 * checker and the e2e helpers read every provider alike; beside them the
 * header parameter ("header": {"type","link"}) and the "user_agent". Errors use Graph's shape
 * {"error":{"message","type","code","error_data":{"details"},"fbtrace_id"}};
 * 360dialog's own key errors its {"meta":{...}} shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "hal/log.h"
#include "hal/parse.h"
#include "tools/twilio-sim/sim.h"

static const char META[] = "meta", D360[] = "360dialog";

/* Recipients (digits) that always fail, as the Twilio side has its own. */
static const struct magic {
	const char *to;
	unsigned status;
	int code;
	const char *message;
} magic[] = {
	{"15005550001", 400, 131026, "Message undeliverable"},
	{"15005550004", 400, 131047, "Re-engagement message"},
	{"15005550005", 400, 132015, "Template is paused"},
	{"15005550006", 429, 130429, "Rate limit hit"},
	{"15005550009", 500, 131000, "Something went wrong"},
};

/* Recipients whose message is taken with another message_status than
 * "accepted" (the spec's MessageStatus enum). */
static const struct {
	const char *to, *status;
} magic_status[] = {
	{"15005550010", "held_for_quality_assessment"},
	{"15005550011", "paused"},
};

static const char *status_for(const char *to)
{
	for (size_t i = 0; i < sizeof(magic_status) / sizeof(magic_status[0]); i++)
		if (strcmp(to, magic_status[i].to) == 0)
			return magic_status[i].status;
	return "accepted";
}

static void meta_error(struct sim_reply *r, unsigned status, int code, const char *msg,
		       const char *details)
{
	struct sim_buf b = {0};

	sim_buf_str(&b, "{\"error\":{\"message\":");
	sim_buf_json(&b, msg);
	sim_buf_fmt(&b, ",\"type\":\"OAuthException\",\"code\":%d", code);
	if (details) {
		sim_buf_str(&b, ",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":");
		sim_buf_json(&b, details);
		sim_buf_str(&b, "}");
	}
	if (status == 429 || status >= 500) /* as meta.yaml's examples of both */
		sim_buf_str(&b, ",\"is_transient\":true");
	sim_buf_str(&b, ",\"fbtrace_id\":\"AsimTrace\"}}");
	free(r->json);
	r->json = sim_buf_take(&b);
	r->status = status;
	r->code = code;
	log_debug("meta: %u / %d %s", status, code, msg);
}

/* 360dialog's own refusals carry no Meta code (providers.md 6). */
static void d360_error(struct sim_reply *r, unsigned status, const char *msg)
{
	struct sim_buf b = {0};

	sim_buf_fmt(&b, "{\"meta\":{\"success\":false,\"httpCode\":%u,\"developerMessage\":",
		    status);
	sim_buf_json(&b, msg);
	sim_buf_str(&b, "}}");
	free(r->json);
	r->json = sim_buf_take(&b);
	r->status = status;
	r->code = (int)status;
}

static bool bearer_ok(const struct sim_config *cfg, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	return cfg->meta_token && h && strncmp(h, "Bearer ", 7) == 0 &&
	       sim_secret_eq(h + 7, cfg->meta_token);
}

static bool d360_ok(const struct sim_config *cfg, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "D360-API-KEY");

	return cfg->d360_key && h && sim_secret_eq(h, cfg->d360_key);
}

/* ---- templates ---- */

static bool header_kind(const char *s)
{
	return strcmp(s, "image") == 0 || strcmp(s, "video") == 0 || strcmp(s, "document") == 0;
}

/* "name:lang:N[:STATUS[:HEADER]]", status APPROVED unless given. */
bool sim_meta_add_template(struct sim_config *cfg, const char *arg)
{
	struct sim_meta_template *t;
	char buf[128], *lang, *n, *st, *hd = NULL;
	uint64_t v;

	if (cfg->n_meta_templates >= SIM_MAX_META_TEMPLATES || strlen(arg) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", arg);
	if (!(lang = strchr(buf, ':')) || !(n = strchr(lang + 1, ':')))
		return false;
	*lang++ = '\0';
	*n++ = '\0';
	if ((st = strchr(n, ':')))
		*st++ = '\0';
	if (st && (hd = strchr(st, ':')))
		*hd++ = '\0';
	t = &cfg->meta_templates[cfg->n_meta_templates];
	if (!buf[0] || strlen(buf) >= sizeof(t->name) || !lang[0] || strlen(lang) >= sizeof(t->lang) ||
	    !hal_parse_u64(n, 0, SIM_MAX_VARS, &v) || (st && (!st[0] || strlen(st) >= sizeof(t->status))) ||
	    (hd && !header_kind(hd)))
		return false;
	snprintf(t->name, sizeof(t->name), "%s", buf);
	snprintf(t->lang, sizeof(t->lang), "%s", lang);
	snprintf(t->status, sizeof(t->status), "%s", st ? st : "APPROVED");
	snprintf(t->header, sizeof(t->header), "%s", hd ? hd : "");
	t->nvars = (unsigned)v;
	cfg->n_meta_templates++;
	return true;
}

static const struct sim_meta_template *find_template(const struct sim_config *cfg,
						     const char *name, const char *lang)
{
	for (size_t i = 0; i < cfg->n_meta_templates; i++)
		if (strcmp(cfg->meta_templates[i].name, name) == 0 &&
		    strcmp(cfg->meta_templates[i].lang, lang) == 0)
			return &cfg->meta_templates[i];
	return NULL;
}

static unsigned query_uint(struct MHD_Connection *c, const char *key, unsigned def,
			   unsigned max)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
	uint64_t v;

	return s && hal_parse_u64(s, 0, max, &v) ? (unsigned)v : def;
}

/* Meta: {"data":[...],"paging":{"cursors":{...},"next":"https://host/path?...&after=K"}};
 * the cursor is the index of the next template. */
static void meta_templates(const struct sim_config *cfg, struct MHD_Connection *c,
			   const char *path, struct sim_reply *r)
{
	unsigned limit = query_uint(c, "limit", 100, 1000), after = query_uint(c, "after", 0, 1000);
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	struct sim_buf b = {0};
	size_t i, end;

	if (limit == 0)
		limit = 100;
	end = after + limit < cfg->n_meta_templates ? after + limit : cfg->n_meta_templates;
	sim_buf_str(&b, "{\"data\":[");
	for (i = after; i < end; i++) {
		const struct sim_meta_template *t = &cfg->meta_templates[i];

		sim_buf_fmt(&b, "%s{\"id\":\"%zu\",\"name\":", i > after ? "," : "", 1000 + i);
		sim_buf_json(&b, t->name);
		sim_buf_str(&b, ",\"language\":");
		sim_buf_json(&b, t->lang);
		sim_buf_str(&b, ",\"status\":");
		sim_buf_json(&b, t->status);
		sim_buf_str(&b, ",\"category\":\"UTILITY\"}");
	}
	sim_buf_fmt(&b, "],\"paging\":{\"cursors\":{\"before\":\"%u\",\"after\":\"%zu\"}", after, end);
	if (end < cfg->n_meta_templates && host)
		sim_buf_fmt(&b, ",\"next\":\"https://%.100s%.200s?fields=name,status,language,"
			    "category&limit=%u&after=%zu\"", host, path, limit, end);
	sim_buf_str(&b, "}}");
	r->json = sim_buf_take(&b);
	r->status = 200;
}

/* 360dialog: {"waba_templates":[...]} with lower-case statuses. */
static void d360_templates(const struct sim_config *cfg, struct sim_reply *r)
{
	struct sim_buf b = {0};
	char st[24];

	sim_buf_fmt(&b, "{\"count\":%zu,\"filters\":{},\"limit\":1000,\"offset\":0,"
		    "\"total\":%zu,\"waba_templates\":[", cfg->n_meta_templates,
		    cfg->n_meta_templates);
	for (size_t i = 0; i < cfg->n_meta_templates; i++) {
		const struct sim_meta_template *t = &cfg->meta_templates[i];
		size_t j;

		for (j = 0; t->status[j] && j + 1 < sizeof(st); j++)
			st[j] = (char)(t->status[j] | 0x20);
		st[j] = '\0';
		sim_buf_str(&b, i ? ",{\"category\":\"UTILITY\",\"name\":" :
			    "{\"category\":\"UTILITY\",\"name\":");
		sim_buf_json(&b, t->name);
		sim_buf_str(&b, ",\"language\":");
		sim_buf_json(&b, t->lang);
		sim_buf_str(&b, ",\"namespace\":\"twilio_sim\",\"rejected_reason\":\"NONE\","
			    "\"status\":");
		sim_buf_json(&b, st);
		sim_buf_str(&b, "}");
	}
	sim_buf_str(&b, "]}");
	r->json = sim_buf_take(&b);
	r->status = 200;
}

/* ---- a send ---- */

/* "491701234567" or "+491701234567": 7..15 digits, no leading 0. */
static bool recipient(const char *to, char *out, size_t size)
{
	size_t n;

	if (*to == '+')
		to++;
	n = strspn(to, "0123456789");
	if (to[n] || n < 7 || n > 15 || to[0] == '0' || n + 1 >= size)
		return false;
	snprintf(out, size, "%s", to);
	return true;
}

/* WhatsApp's rules for a parameter value (providers.md 3.5). */
static const char *param_problem(const char *s, int *code)
{
	if (!s[0]) {
		*code = 131008;
		return "Parameter 'text' is mandatory for type 'text'";
	}
	if (strpbrk(s, "\n\t") || strstr(s, "     ")) {
		*code = 100;
		return "Param text cannot have new-line/tab characters or more than 4 consecutive "
		       "spaces";
	}
	return NULL;
}

/* A header component's one media parameter, {"type":"image","image":
 * {"link":..}} (likewise video, document), as {"type","link"} in *header;
 * false with the error set. */
static bool read_header(const cJSON *comp, cJSON **header, struct sim_reply *r)
{
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(comp, "parameters"), 0);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type"), *link = NULL;

	if (cJSON_IsString(type) && header_kind(type->valuestring))
		link = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(p, type->valuestring), "link");
	if (*header || !cJSON_IsString(link) || strncmp(link->valuestring, "https://", 8) != 0) {
		meta_error(r, 400, 132012, "(#132012) Parameter format does not match format in "
			   "the created template", "header: one image, video or document with an "
			   "https link");
		return false;
	}
	*header = cJSON_CreateObject();
	cJSON_AddStringToObject(*header, "type", type->valuestring);
	cJSON_AddStringToObject(*header, "link", link->valuestring);
	return true;
}

/* Body parameters as {"1":..,"2":..} (serialised into vars), the header's
 * media into *header; false with the error set. */
static bool read_params(const cJSON *tpl, cJSON *vars, unsigned *count, cJSON **header,
			struct sim_reply *r)
{
	const cJSON *comps = cJSON_GetObjectItemCaseSensitive(tpl, "components"), *comp, *p;
	char key[8];
	int code;

	*count = 0;
	cJSON_ArrayForEach(comp, comps) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(comp, "type");

		if (cJSON_IsString(type) && strcmp(type->valuestring, "header") == 0) {
			if (!read_header(comp, header, r))
				return false;
			continue;
		}
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "body") != 0)
			continue;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(comp, "parameters")) {
			const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
			const char *why;

			if (!cJSON_IsString(text)) {
				meta_error(r, 400, 131008, "(#131008) Required parameter is missing",
					   "Parameter 'text' is mandatory for type 'text'");
				return false;
			}
			if ((why = param_problem(text->valuestring, &code))) {
				meta_error(r, 400, code, code == 100 ? "(#100) Invalid parameter" :
					   "(#131008) Required parameter is missing", why);
				return false;
			}
			if (*count >= SIM_MAX_VARS)
				continue;
			snprintf(key, sizeof(key), "%u", ++*count);
			cJSON_AddStringToObject(vars, key, text->valuestring);
		}
	}
	return true;
}

/* A media template's header must come as its kind; none may come for a
 * template without one (its media would be lost). */
static bool header_matches(const struct sim_meta_template *t, const cJSON *header,
			   struct sim_reply *r)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(header, "type");

	if (t->header[0] ? cJSON_IsString(type) && strcmp(type->valuestring, t->header) == 0
			 : !header)
		return true;
	meta_error(r, 400, 132012, "(#132012) Parameter format does not match format in the "
		   "created template", t->header[0] ? "the template's header media is missing or "
		   "of another type" : "the template has no media header");
	return false;
}

/* The template part: name + language known, approved, parameter count. */
static bool check_template(const struct sim_config *cfg, const cJSON *root, cJSON *vars,
			   cJSON **header, const char **name, const char **lang,
			   struct sim_reply *r)
{
	const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(root, "template");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(tpl, "name");
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(tpl, "language"), "code");
	const struct sim_meta_template *t;
	unsigned count;

	if (!cJSON_IsString(n) || !n->valuestring[0] || !cJSON_IsString(l) || !l->valuestring[0]) {
		meta_error(r, 400, 100, "(#100) Invalid parameter",
			   "template name and language.code are required");
		return false;
	}
	*name = n->valuestring;
	*lang = l->valuestring;
	if (!read_params(tpl, vars, &count, header, r))
		return false;
	t = find_template(cfg, *name, *lang);
	if (!t) /* unregistered names take any count, as ContentSids do */
		return true;
	if (strcasecmp(t->status, "PAUSED") == 0 || strcasecmp(t->status, "DISABLED") == 0) {
		meta_error(r, 400, strcasecmp(t->status, "PAUSED") == 0 ? 132015 : 132016,
			   "(#132015) Template is paused or disabled", t->status);
		return false;
	}
	if (strcasecmp(t->status, "APPROVED") != 0) {
		meta_error(r, 404, 132001, "(#132001) Template name does not exist in the translation",
			   "template not approved");
		return false;
	}
	if (count != t->nvars) {
		meta_error(r, 400, 132000, "(#132000) Number of parameters does not match the "
			   "expected number of params", NULL);
		return false;
	}
	return header_matches(t, *header, r);
}

static bool check_magic(const char *to, struct sim_reply *r)
{
	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if (strcmp(to, magic[i].to) == 0) {
			meta_error(r, magic[i].status, magic[i].code, magic[i].message, NULL);
			return true;
		}
	return false;
}

/* What a send brought beside the message itself, for the record line. */
struct extras {
	const cJSON *header; /* {"type","link"} or NULL */
	const char *user_agent;
};

static void accept_send(const char *provider, const char *from, const char *to,
			const char *name, const char *lang, const cJSON *vars,
			const struct extras *x, struct sim_reply *r)
{
	char addr[32], *vj = cJSON_PrintUnformatted(vars);
	char *hj = x->header ? cJSON_PrintUnformatted(x->header) : NULL;
	struct sim_buf text = {0}, b = {0};
	const cJSON *it;
	struct timespec ts;
	struct sim_msg m = {.provider = provider, .to = addr, .from = from,
			    .content_sid = name, .language = lang};

	snprintf(addr, sizeof(addr), "whatsapp:+%s", to);
	sim_buf_str(&text, "");
	cJSON_ArrayForEach(it, vars) {
		if (it != vars->child)
			sim_buf_str(&text, " | ");
		sim_buf_str(&text, it->valuestring);
	}
	m.vars_json = vj;
	m.header_json = hj;
	m.user_agent = x->user_agent ? x->user_agent : "";
	m.vars_text = text.p ? text.p : "";
	clock_gettime(CLOCK_REALTIME, &ts);
	m.recv_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (!vj || (x->header && !hj) || text.oom || sim_store_add(&m, r->drop) != 0) {
		r->drop = false;
		meta_error(r, 500, 131000, "Something went wrong (twilio-sim could not record)", NULL);
		goto out;
	}
	sim_buf_str(&b, "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":");
	sim_buf_json(&b, to);
	sim_buf_str(&b, ",\"wa_id\":");
	sim_buf_json(&b, to);
	sim_buf_str(&b, "}],\"messages\":[{\"id\":");
	sim_buf_json(&b, m.sid);
	sim_buf_str(&b, ",\"message_status\":");
	sim_buf_json(&b, status_for(to));
	sim_buf_str(&b, "}]}");
	r->json = sim_buf_take(&b);
	r->status = r->json ? 200 : 500;
out:
	sim_buf_free(&text);
	cJSON_free(vj);
	cJSON_free(hj);
}

/* Free-form text: only inside the 24-hour window (a /sim/inbound message
 * from the customer); outside it Meta refuses at once with 131047, where
 * Twilio takes the text and fails it later. Kept as {"Body": text}. */
static bool check_text(const cJSON *root, const char *digits, cJSON *vars, struct sim_reply *r)
{
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "text"), "body");
	char addr[32];

	if (!cJSON_IsString(body)) {
		meta_error(r, 400, 131051, "(#131051) Unsupported message type", NULL);
		return false;
	}
	snprintf(addr, sizeof(addr), "whatsapp:+%s", digits);
	if (!sim_inbound_window_open(addr, NULL)) {
		meta_error(r, 400, 131047, "(#131047) Re-engagement message", "Message failed to "
			   "send because more than 24 hours have passed since the customer last "
			   "replied to this number.");
		return false;
	}
	cJSON_AddStringToObject(vars, "Body", body->valuestring);
	return true;
}

/* Everything after authentication, for both providers. */
static void meta_send(const struct sim_config *cfg, const char *provider, const char *from,
		      const char *body, const char *ua, struct sim_reply *r)
{
	cJSON *root = body ? cJSON_Parse(body) : NULL, *vars = cJSON_CreateObject(), *header = NULL;
	const cJSON *mp = cJSON_GetObjectItemCaseSensitive(root, "messaging_product");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(root, "to");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	const char *name = "text", *lang = "";
	char digits[20];

	r->delay = true;
	if (sim_fault_over_rate()) {
		meta_error(r, 429, 130429, "(#130429) Rate limit hit", NULL);
		goto out;
	}
	if (!cJSON_IsObject(root) || !vars) {
		meta_error(r, 400, 100, "(#100) Invalid parameter", "request body is not JSON");
		goto out;
	}
	if (!cJSON_IsString(mp) || strcmp(mp->valuestring, "whatsapp") != 0) {
		meta_error(r, 400, 100, "(#100) The parameter messaging_product is required.", NULL);
		goto out;
	}
	if (!cJSON_IsString(to) || !recipient(to->valuestring, digits, sizeof(digits))) {
		meta_error(r, 400, 100, "(#100) Invalid parameter", "to: not a phone number");
		goto out;
	}
	if (cJSON_IsString(type) && strcmp(type->valuestring, "template") == 0) {
		if (!check_template(cfg, root, vars, &header, &name, &lang, r))
			goto out;
	} else if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0) {
		meta_error(r, 400, 131051, "(#131051) Unsupported message type", NULL);
		goto out;
	} else if (!check_text(root, digits, vars, r)) {
		goto out;
	}
	if (check_magic(digits, r))
		goto out;
	if (sim_fault_flip(cfg->fail_rate)) {
		meta_error(r, 500, 131000, "Something went wrong (injected by --fail-rate)", NULL);
		goto out;
	}
	r->drop = sim_fault_flip(cfg->drop_rate);
	accept_send(provider, from, digits, name, lang, vars,
		    &(struct extras){.header = header, .user_agent = ua}, r);
out:
	cJSON_Delete(header);
	cJSON_Delete(vars);
	cJSON_Delete(root);
}

/* ---- routing ---- */

static const char *user_agent(struct MHD_Connection *c)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
}

/* "/v21.0/": the length of a Graph version segment at url, or 0. */
static size_t version_len(const char *url)
{
	size_t n;

	if (url[0] != '/' || url[1] != 'v')
		return 0;
	n = strspn(url + 2, "0123456789");
	if (!n || url[2 + n] != '.')
		return 0;
	n += 3 + strspn(url + 3 + n, "0123456789");
	return url[n] == '/' ? n + 1 : 0;
}

static void phone_number(const struct sim_config *cfg, struct sim_reply *r)
{
	struct sim_buf b = {0};

	sim_buf_str(&b, "{\"verified_name\":\"twilio-sim\",\"code_verification_status\":"
		    "\"VERIFIED\",\"quality_rating\":\"GREEN\",\"id\":");
	sim_buf_json(&b, cfg->meta_phone_id);
	sim_buf_str(&b, "}");
	r->json = sim_buf_take(&b);
	r->status = 200;
}

/* /{v}/{id}[/messages | /message_templates] */
static bool graph(const struct sim_config *cfg, struct MHD_Connection *c, const char *url,
		  const char *method, const char *body, struct sim_reply *r)
{
	size_t v = version_len(url), n;
	const char *id = url + v, *tail;
	bool post = strcmp(method, "POST") == 0;
	char ids[40];

	if (!v || !(n = strspn(id, "0123456789")) || n >= sizeof(ids) ||
	    (id[n] && id[n] != '/'))
		return false;
	memcpy(ids, id, n);
	ids[n] = '\0';
	tail = id + n;
	if (strcmp(tail, "") != 0 && strcmp(tail, "/messages") != 0 &&
	    strcmp(tail, "/message_templates") != 0)
		return false;
	if (!bearer_ok(cfg, c)) {
		meta_error(r, 401, 190, "Invalid OAuth access token - Cannot parse access token",
			   NULL);
		return true;
	}
	if (strcmp(tail, "/message_templates") == 0 && !post &&
	    (!cfg->meta_waba_id || strcmp(ids, cfg->meta_waba_id) == 0)) {
		meta_templates(cfg, c, url, r);
	} else if (!cfg->meta_phone_id || strcmp(ids, cfg->meta_phone_id) != 0 ||
		   strcmp(tail, "/message_templates") == 0) {
		meta_error(r, 400, 100, "Unsupported request. Object with that ID does not exist, "
			   "cannot be loaded due to missing permissions, or does not support this "
			   "operation", ids);
	} else if (strcmp(tail, "/messages") == 0 && post) {
		meta_send(cfg, META, cfg->meta_phone_id, body, user_agent(c), r);
	} else if (strcmp(tail, "") == 0 && !post) {
		phone_number(cfg, r);
	} else {
		meta_error(r, 400, 100, "Unsupported request method", method);
	}
	return true;
}

bool sim_meta_handle(const struct sim_config *cfg, struct MHD_Connection *c, const char *url,
		     const char *method, const char *body, struct sim_reply *r)
{
	bool d360_send = strcmp(url, "/messages") == 0;

	if (!d360_send && strcmp(url, "/v1/configs/templates") != 0)
		return graph(cfg, c, url, method, body, r);
	if (!d360_ok(cfg, c)) {
		d360_error(r, 401, "Invalid api key");
		return true;
	}
	if (d360_send && strcmp(method, "POST") == 0)
		meta_send(cfg, D360, D360, body, user_agent(c), r);
	else if (!d360_send && strcmp(method, "GET") == 0)
		d360_templates(cfg, r);
	else
		d360_error(r, 405, "Method not allowed");
	return true;
}
