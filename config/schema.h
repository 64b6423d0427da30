/*
 * schema.h - table-driven JSON object parsing, internal to config/.
 *
 * A table of struct cfg_field says, for each key of a JSON object, its type,
 * bounds, whether it is required and its default; cfg_schema_parse() applies
 * it, writing values at offsets into a caller struct and appending one error
 * per problem (unknown or duplicate key, wrong type, out of bounds) to the
 * context instead of stopping at the first. Strings it stores are malloc'd
 * and owned by the struct being filled. Custom fields (maps, arrays,
 * references) are parsed by a handler that gets the value, or NULL when the
 * key is absent and not required, so it can apply its own default.
 */
#ifndef CFG_SCHEMA_H
#define CFG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config/config.h"

#define CFG_PATH_LEN 160 /* working buffer for JSON paths; errors keep 96 */
#define CFG_TEMPLATES_MAX 256
#define CFG_TEMPLATE_VARS_MAX 100
#define CFG_IDENT_EXPECT "1..64 characters of A-Z a-z 0-9 _ -"

struct cfg_pctx {
	struct cfg *cfg;
	struct cfg_errors *errs;
	struct cfg_errors *warns;
	bool nomem;
	/* Templates with errors of their own: routes using them skip the
	 * checks that would only repeat those errors in other words. */
	bool tpl_bad[CFG_TEMPLATES_MAX];
};

enum cfg_ftype {
	CFG_F_STR,      /* char *, malloc'd; max = byte limit (0: 4096) */
	CFG_F_UINT,     /* unsigned, integral, [min, max] */
	CFG_F_INT,      /* int, integral, [min, max] */
	CFG_F_DOUBLE,   /* double, [min, max] or (min, max] with min_excl */
	CFG_F_ENUM,     /* int-sized enum from a string, via enums */
	CFG_F_DURATION, /* int64_t seconds from "72h" / "30m" / "45s" / "7d" / integer */
	CFG_F_BOOL,     /* bool, a JSON true/false; def_num != 0 is true */
	CFG_F_OBJ,      /* nested object; sub-table writes into the same base */
	CFG_F_CUSTOM,   /* handler */
};

struct cfg_enum {
	const char *name;
	int value;
};

struct cfg_field {
	const char *key;
	enum cfg_ftype type;
	size_t off;
	bool required;
	bool min_excl;
	double min, max;
	const char *def_str;
	double def_num;
	/* Strings: further rules; errors then say "expected <expect>, got ...". */
	bool (*check)(const char *s);
	bool (*check_num)(double v); /* numbers: a further rule, said by expect */
	const char *expect;
	const struct cfg_enum *enums;    /* terminated by a NULL name */
	const struct cfg_field *sub;     /* terminated by a NULL key */
	void (*custom)(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
};

void cfg_schema_parse(struct cfg_pctx *px, const cJSON *obj, const struct cfg_field *fields,
		      void *base, const char *path);

/* Every key of obj must be unique; with fields, it must be in the table. */
void cfg_schema_check_keys(struct cfg_pctx *px, const cJSON *obj, const struct cfg_field *fields,
			   const char *path);

void cfg_err_add(struct cfg_errors *e, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

char *cfg_schema_strdup(struct cfg_pctx *px, const char *s);
void cfg_path_key(char *dst, const char *parent, const char *key);   /* CFG_PATH_LEN */
void cfg_path_index(char *dst, const char *parent, unsigned index); /* CFG_PATH_LEN */
const char *cfg_json_type(const cJSON *v);

/* Names of accounts, templates, routes and gateways: [A-Za-z0-9_-]{1,64}. */
bool cfg_ident_valid(const char *s);

/* "a, b, c" (or "none") from an array whose elements start with a char *name. */
void cfg_known_names(char *buf, size_t sz, const void *arr, size_t stride, unsigned n);

/* Quotes untrusted text for a message: at most 48 bytes, controls as '?'. */
void cfg_quote(char *dst, size_t dstsz, const char *s);

/* config/stats.c: "stats" and "homeassistant" (docs/ALERTING.md). */
extern const struct cfg_field cfg_stats_fields[];
extern const struct cfg_field cfg_ha_fields[];

#endif
