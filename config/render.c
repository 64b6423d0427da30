#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/render.h"
#include "hal/err.h"

#define STR_(x) #x
#define STR(x) STR_(x)

enum tok_kind { TOK_END, TOK_TEXT, TOK_FIELD };

struct tok {
	#define STR_(x) #x
#define STR(x) STR_(x)

enum tok_kind kind;
	const char *s;
	size_t n;
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool path_valid(const char *s, size_t n, char *why, size_t whylen)
{
	size_t i, seg = 0, levels = 1;

	if (n == 0 || n >= CFG_PATH_MAX) {
		snprintf(why, whylen, "field path must be 1..%d bytes", CFG_PATH_MAX - 1);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (seg == 0)
				break;
			seg = 0;
			levels++;
		} else if (!name_char(s[i])) {
			snprintf(why, whylen, "field path '%.*s': character '%c' not allowed",
				 (int)n, s, s[i] >= ' ' && s[i] < 0x7f ? s[i] : '?');
			return false;
		} else if (++seg > CFG_PATH_NAME_MAX) {
			snprintf(why, whylen, "field path: a name is longer than %d", CFG_PATH_NAME_MAX);
			return false;
		}
	}
	if (seg == 0) {
		snprintf(why, whylen, "field path '%.*s': empty name", (int)n, s);
		return false;
	}
	if (levels > CFG_PATH_DEPTH) {
		snprintf(why, whylen, "field path '%.*s': more than %d levels", (int)n, s,
			 CFG_PATH_DEPTH);
		return false;
	}
	return true;
}

/* One step of the expression grammar; *pp advances past the token. */
static bool next_tok(const char *expr, const char **pp, struct tok *t, char *why, size_t whylen)
{
	const char *p = *pp, *end;

	t->s = p;
	t->n = 1;
	if (*p == '\0') {
		t->kind = TOK_END;
		return true;
	}
	t->kind = TOK_TEXT;
	if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
		*pp = p + 2;
		return true;
	}
	if (*p == '}') {
		snprintf(why, whylen, "unmatched '}' at offset %zu (write '}}' for a literal '}')",
			 (size_t)(p - expr));
		return false;
	}
	if (*p == '{') {
		end = strchr(p + 1, '}');
		if (!end) {
			snprintf(why, whylen, "unclosed '{' at offset %zu", (size_t)(p - expr));
			return false;
		}
		t->kind = TOK_FIELD;
		t->s = p + 1;
		t->n = (size_t)(end - p - 1);
		*pp = end + 1;
		return path_valid(t->s, t->n, why, whylen);
	}
	t->n = strcspn(p, "{}");
	*pp = p + t->n;
	return true;
}

bool cfg_expr_valid(const char *expr, char *why, size_t whylen)
{
	struct tok t;
	const char *p = expr;

	if (!expr || !*expr) {
		snprintf(why, whylen, "empty expression");
		return false;
	}
	do {
		if (!next_tok(expr, &p, &t, why, whylen))
			return false;
	} while (t.kind != TOK_END);
	return true;
}

bool cfg_expr_lone_field(const char *expr, char *path, size_t pathlen)
{
	struct tok t, t2;
	const char *p = expr;
	char why[8];

	if (!expr || !next_tok(expr, &p, &t, why, sizeof(why)) || t.kind != TOK_FIELD)
		return false;
	if (!next_tok(expr, &p, &t2, why, sizeof(why)) || t2.kind != TOK_END || t.n >= pathlen)
		return false;
	memcpy(path, t.s, t.n);
	path[t.n] = '\0';
	return true;
}

const cJSON *cfg_field_get(const cJSON *event, const char *path)
{
	char seg[CFG_PATH_NAME_MAX + 1], why[8];
	const cJSON *node = event;
	size_t n;

	if (!path || !path_valid(path, strlen(path), why, sizeof(why)))
		return NULL;
	while (node) {
		n = strcspn(path, ".");
		memcpy(seg, path, n);
		seg[n] = '\0';
		node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, seg) : NULL;
		if (path[n] == '\0')
			break;
		path += n + 1;
	}
	return node;
}

struct outbuf {
	char *p;
	size_t len, size;
};

static bool out_add(struct outbuf *o, const char *s, size_t n)
{
	if (o->len + n >= o->size)
		return false;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return true;
}

/* Formats a scalar into buf; NULL with *why set for anything else. */
static int scalar_text(const cJSON *v, const char *path, char *buf, size_t bufsz,
		       const char **text, char *why, size_t whylen)
{
	double d;

	if (!v) {
		snprintf(why, whylen, "missing field '%s'", path);
		return ERR_NOTFOUND;
	}
	if (cJSON_IsString(v) && v->valuestring) {
		*text = v->valuestring;
		return ERR_OK;
	}
	if (cJSON_IsBool(v)) {
		*text = cJSON_IsTrue(v) ? "true" : "false";
		return ERR_OK;
	}
	if (cJSON_IsNumber(v)) {
		/* Integers print without a fraction up to 2^53, where doubles
		 * stop being exact. */
		d = v->valuedouble;
		if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d)
			snprintf(buf, bufsz, "%lld", (long long)d);
		else
			snprintf(buf, bufsz, "%.15g", d);
		*text = buf;
		return ERR_OK;
	}
	snprintf(why, whylen, "field '%s' is %s", path,
		 cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "an array" : "an object");
	return ERR_INVAL;
}

static int render_field(const struct tok *t, const cJSON *event, struct outbuf *o, char *why,
			size_t whylen)
{
	char path[CFG_PATH_MAX], num[32];
	const char *text = NULL;
	int rc;

	memcpy(path, t->s, t->n);
	path[t->n] = '\0';
	rc = scalar_text(cfg_field_get(event, path), path, num, sizeof(num), &text, why, whylen);
	if (rc != ERR_OK)
		return rc;
	return out_add(o, text, strlen(text)) ? ERR_OK : ERR_TOOBIG;
}

int cfg_render(const char *expr, const cJSON *event, char *out, size_t outsz, char *why,
	       size_t whylen)
{
	struct outbuf o = { .p = out, .len = 0, .size = outsz };
	const char *p = expr;
	struct tok t;
	int rc = ERR_OK;

	if (outsz == 0)
		return ERR_TOOBIG;
	out[0] = '\0';
	if (!cfg_expr_valid(expr, why, whylen))
		return ERR_INVAL;
	for (;;) {
		next_tok(expr, &p, &t, why, whylen);
		if (t.kind == TOK_END)
			break;
		if (t.kind == TOK_FIELD)
			rc = render_field(&t, event, &o, why, whylen);
		else if (!out_add(&o, t.s, t.n))
			rc = ERR_TOOBIG;
		if (rc == ERR_TOOBIG)
			snprintf(why, whylen, "rendered text longer than %zu bytes", outsz - 1);
		if (rc != ERR_OK)
			return rc;
	}
	return ERR_OK;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF): the length of
 * the sequence at s, or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	uint32_t c;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static const char *ascii_reason(unsigned char c)
{
	if (c == '\n')
		return "contains a newline";
	if (c == '\r')
		return "contains a carriage return";
	if (c == '\t')
		return "contains a tab";
	if (c < 0x20 || c == 0x7f)
		return "contains a control character";
	return NULL;
}

int cfg_var_check(const char *value, const char **why)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t len, i = 0, spaces = 0, n;
	bool visible = false;
	const char *dummy;
	uint32_t cp;

	if (!why)
		why = &dummy;
	len = value ? strnlen(value, CFG_VAR_MAX + 1) : 0;
	*why = len == 0 ? "empty" : len > CFG_VAR_MAX ? "longer than " STR(CFG_VAR_MAX) " bytes" : NULL;
	while (!*why && i < len) {
		if (s[i] == ' ') {
			if (++spaces > 4)
				*why = "more than 4 consecutive spaces";
			i++;
			continue;
		}
		spaces = 0;
		visible = true;
		if (s[i] < 0x80) {
			*why = ascii_reason(s[i++]);
			continue;
		}
		n = utf8_seq(s + i, len - i, &cp);
		if (n == 0)
			*why = "invalid UTF-8";
		else if (cp >= 0x80 && cp <= 0x9f)
			*why = "contains a control character";
		i += n;
	}
	if (!*why && !visible)
		*why = "only spaces";
	return *why ? ERR_INVAL : ERR_OK;
}

int cfg_media_url_check(const char *value, const char **why)
{
	const char *dummy, *host;
	size_t n;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!value || strncmp(value, "https://", 8) != 0)
		*why = "is not an https:// URL (WhatsApp fetches media over HTTPS)";
	else if ((n = strcspn(host = value + 8, "/?#")) == 0 || host[0] == ':' || host[0] == '@')
		*why = "is a URL without a host";
	else if (strlen(value) > CFG_VAR_MAX)
		*why = "is a URL longer than " STR(CFG_VAR_MAX) " bytes";
	for (const char *p = value; !*why && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*why = "is a URL with a space or control character";
	return *why ? ERR_INVAL : ERR_OK;
}

static size_t chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80; /* not a continuation byte */
	return c;
}

size_t cfg_preview_len(const char *preview, const char *const *vals, unsigned n)
{
	const char *p = preview;
	size_t len = 0;

	while (p && *p) {
		const char *open = strstr(p, "{{"), *q;
		unsigned k = 0;

		if (!open)
			return len + chars(p, strlen(p));
		len += chars(p, (size_t)(open - p));
		for (q = open + 2; *q >= '0' && *q <= '9' && k <= n; q++)
			k = k * 10 + (unsigned)(*q - '0');
		if (q > open + 2 && q[0] == '}' && q[1] == '}' && k >= 1 && k <= n) {
			len += vals[k - 1] ? chars(vals[k - 1], strlen(vals[k - 1])) : 0;
			p = q + 2;
		} else {
			len += 2; /* "{{" that is no placeholder of ours: text */
			p = open + 2;
		}
	}
	return len;
}
