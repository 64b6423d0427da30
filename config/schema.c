#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

#define STR_MAX_DEFAULT 4096

void cfg_err_add(struct cfg_errors *e, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (e->n >= sizeof(e->e) / sizeof(e->e[0])) {
		e->dropped++;
		return;
	}
	snprintf(e->e[e->n].path, sizeof(e->e[e->n].path), "%s", path);
	for (p = e->e[e->n].path; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	va_start(ap, fmt);
	vsnprintf(e->e[e->n].msg, sizeof(e->e[e->n].msg), fmt, ap);
	va_end(ap);
	e->n++;
}

char *cfg_schema_strdup(struct cfg_pctx *px, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		px->nomem = true;
	return d;
}

void cfg_quote(char *dst, size_t dstsz, const char *s)
{
	size_t i, n = 0, max = 48;

	if (dstsz < 8) {
		dst[0] = '\0';
		return;
	}
	dst[n++] = '"';
	for (i = 0; s[i] && i < max && n + 5 < dstsz; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[n++] = c < ' ' || c == 0x7f ? '?' : (char)c;
	}
	if (s[i] && n + 5 < dstsz) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n++] = '"';
	dst[n] = '\0';
}

static bool plain_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return false;
	return true;
}

void cfg_path_key(char *dst, const char *parent, const char *key)
{
	char q[64];

	if (plain_key(key)) {
		snprintf(dst, CFG_PATH_LEN, "%s.%s", parent, key);
	} else {
		cfg_quote(q, sizeof(q), key);
		snprintf(dst, CFG_PATH_LEN, "%s[%s]", parent, q);
	}
}

void cfg_path_index(char *dst, const char *parent, unsigned index)
{
	snprintf(dst, CFG_PATH_LEN, "%s[%u]", parent, index);
}

const char *cfg_json_type(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "null";
}

/* Edit distance for "did you mean": small keys only, so a 2-row table fits. */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[2][33], i, j, la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la > 32 || lb > 32)
		return 99;
	for (j = 0; j <= lb; j++)
		row[0][j] = j;
	for (i = 1; i <= la; i++) {
		unsigned *cur = row[i & 1], *prev = row[(i - 1) & 1];

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			unsigned best = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
	}
	return row[la & 1][lb];
}

static void unknown_key(struct cfg_pctx *px, const struct cfg_field *fields, const char *key,
			const char *path)
{
	const struct cfg_field *f, *best = NULL;
	unsigned d, best_d = 3;

	for (f = fields; f->key; f++) {
		d = distance(key, f->key);
		if (d < best_d) {
			best_d = d;
			best = f;
		}
	}
	if (best)
		cfg_err_add(px->errs, path, "unknown key (did you mean \"%s\"?)", best->key);
	else
		cfg_err_add(px->errs, path, "unknown key");
}

static bool in_table(const struct cfg_field *fields, const char *key)
{
	for (; fields->key; fields++)
		if (strcmp(fields->key, key) == 0)
			return true;
	return false;
}

void cfg_schema_check_keys(struct cfg_pctx *px, const cJSON *obj, const struct cfg_field *fields,
			   const char *path)
{
	const cJSON *c, *d;
	char sub[CFG_PATH_LEN];

	for (c = obj->child; c; c = c->next) {
		cfg_path_key(sub, path, c->string);
		if (fields && !in_table(fields, c->string)) {
			unknown_key(px, fields, c->string, sub);
			continue;
		}
		for (d = obj->child; d != c; d = d->next)
			if (strcmp(d->string, c->string) == 0) {
				cfg_err_add(px->errs, sub, "duplicate key");
				break;
			}
	}
}

static void parse_str(struct cfg_pctx *px, const struct cfg_field *f, const cJSON *v, char **dst,
		      const char *path)
{
	size_t max = f->max > 0 ? (size_t)f->max : STR_MAX_DEFAULT, len;
	char q[64];

	if (!v) {
		*dst = cfg_schema_strdup(px, f->def_str);
		return;
	}
	if (!cJSON_IsString(v)) {
		cfg_err_add(px->errs, path, "expected a string, got %s", cfg_json_type(v));
		return;
	}
	len = strnlen(v->valuestring, max + 1);
	cfg_quote(q, sizeof(q), v->valuestring);
	if (len == 0 || len > max)
		cfg_err_add(px->errs, path, "expected a string of 1..%zu bytes, got %zu", max, len);
	else if (f->check && !f->check(v->valuestring))
		cfg_err_add(px->errs, path, "expected %s, got %s", f->expect, q);
	else
		*dst = cfg_schema_strdup(px, v->valuestring);
}

/* Numbers: the value in bounds, or false with the error added. */
static bool number_in(struct cfg_pctx *px, const struct cfg_field *f, const cJSON *v,
		      bool integral, double *out, const char *path)
{
	const char *what = integral ? "an integer" : "a number";
	double d;

	if (!cJSON_IsNumber(v)) {
		cfg_err_add(px->errs, path, "expected %s, got %s", what, cfg_json_type(v));
		return false;
	}
	d = v->valuedouble;
	if (d < f->min || d > f->max || (f->min_excl && d <= f->min) ||
	    (integral && d != (double)(int64_t)d)) {
		cfg_err_add(px->errs, path, "expected %s in %s%.15g..%.15g], got %.15g", what,
			    f->min_excl ? "(" : "[", f->min, f->max, d);
		return false;
	}
	if (f->check_num && !f->check_num(d)) {
		cfg_err_add(px->errs, path, "expected %s, got %.15g", f->expect, d);
		return false;
	}
	*out = d;
	return true;
}

static void parse_enum(struct cfg_pctx *px, const struct cfg_field *f, const cJSON *v, int *dst,
		       const char *path)
{
	const struct cfg_enum *e;
	char list[128] = "", q[64];
	size_t n = 0;

	if (!v) {
		*dst = (int)f->def_num;
		return;
	}
	for (e = f->enums; cJSON_IsString(v) && e->name; e++)
		if (strcmp(e->name, v->valuestring) == 0) {
			*dst = e->value;
			return;
		}
	for (e = f->enums; e->name && n < sizeof(list); e++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"", n ? ", " : "", e->name);
	if (cJSON_IsString(v))
		cfg_quote(q, sizeof(q), v->valuestring);
	else
		snprintf(q, sizeof(q), "%s", cfg_json_type(v));
	cfg_err_add(px->errs, path, "expected one of %s, got %s", list, q);
}

/* "72h", "30m", "45s", "7d": seconds, or -1. */
static int64_t duration_text(const char *s)
{
	int64_t n = 0, mult;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i >= 9)
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (i == 0 || s[i + (s[i] != '\0')] != '\0')
		return -1;
	switch (s[i]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	return n * mult;
}

static void parse_duration(struct cfg_pctx *px, const struct cfg_field *f, const cJSON *v,
			   int64_t *dst, const char *path)
{
	int64_t s = -1;
	char q[64];

	if (!v) {
		*dst = (int64_t)f->def_num;
		return;
	}
	if (cJSON_IsString(v)) {
		s = duration_text(v->valuestring);
		cfg_quote(q, sizeof(q), v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		if (v->valuedouble >= 0 && v->valuedouble < 1e12 &&
		    v->valuedouble == (double)(int64_t)v->valuedouble)
			s = (int64_t)v->valuedouble;
		snprintf(q, sizeof(q), "%.15g", v->valuedouble);
	} else {
		snprintf(q, sizeof(q), "%s", cfg_json_type(v));
	}
	if (s < (int64_t)f->min || s > (int64_t)f->max) {
		cfg_err_add(px->errs, path,
			    "expected a duration like \"72h\", \"30m\", \"45s\", \"7d\" or integer "
			    "seconds, %.0f..%.0f s, got %s", f->min, f->max, q);
		return;
	}
	*dst = s;
}

static void parse_field(struct cfg_pctx *px, const struct cfg_field *f, const cJSON *v,
			char *base, const char *path)
{
	void *dst = base + f->off;
	double d = f->def_num;

	switch (f->type) {
	case CFG_F_STR:
		parse_str(px, f, v, dst, path);
		return;
	case CFG_F_UINT:
		if (!v || number_in(px, f, v, true, &d, path))
			*(unsigned *)dst = (unsigned)d;
		return;
	case CFG_F_INT:
		if (!v || number_in(px, f, v, true, &d, path))
			*(int *)dst = (int)d;
		return;
	case CFG_F_DOUBLE:
		if (!v || number_in(px, f, v, false, &d, path))
			*(double *)dst = d;
		return;
	case CFG_F_ENUM:
		parse_enum(px, f, v, dst, path);
		return;
	case CFG_F_DURATION:
		parse_duration(px, f, v, dst, path);
		return;
	case CFG_F_BOOL:
		if (v && !cJSON_IsBool(v))
			cfg_err_add(px->errs, path, "expected true or false, got %s", cfg_json_type(v));
		else
			*(bool *)dst = v ? cJSON_IsTrue(v) : f->def_num != 0;
		return;
	case CFG_F_OBJ:
		if (v && !cJSON_IsObject(v)) {
			cfg_err_add(px->errs, path, "expected an object, got %s", cfg_json_type(v));
			v = NULL;
		}
		cfg_schema_parse(px, v, f->sub, base, path);
		return;
	case CFG_F_CUSTOM:
		f->custom(px, v, base, path);
		return;
	}
}

void cfg_schema_parse(struct cfg_pctx *px, const cJSON *obj, const struct cfg_field *fields,
		      void *base, const char *path)
{
	const struct cfg_field *f;
	const cJSON *v;
	char sub[CFG_PATH_LEN];

	if (obj)
		cfg_schema_check_keys(px, obj, fields, path);
	for (f = fields; f->key; f++) {
		v = obj ? cJSON_GetObjectItemCaseSensitive(obj, f->key) : NULL;
		if (cJSON_IsNull(v))
			v = NULL;
		cfg_path_key(sub, path, f->key);
		if (!v && f->required)
			cfg_err_add(px->errs, sub, "required key is missing");
		else
			parse_field(px, f, v, base, sub);
	}
}

bool cfg_ident_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* "a, b, c" of the names in an array whose elements start with their name. */
void cfg_known_names(char *buf, size_t sz, const void *arr, size_t stride, unsigned n)
{
	size_t len = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < n && len < sz; i++) {
		const char *name = *(char *const *)((const char *)arr + i * stride);

		if (name)
			len += (size_t)snprintf(buf + len, sz - len, "%s%s", len ? ", " : "", name);
	}
	if (len == 0)
		snprintf(buf, sz, "none");
}
