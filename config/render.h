/*
 * render.h - template variable rendering from event fields.
 *
 * Routes say how to fill a template's {{n}} placeholders and whom to send to
 * with expressions: literal text with {field.path} references into the event
 * JSON, e.g. "{amount} {currency}". A path is a dotted object path, 1..8
 * levels of [A-Za-z0-9_-]{1,64}. "{{" is a literal '{' and "}}" a literal
 * '}'; a lone '}' is an error so that a typo like "{name}}" is caught when
 * the config is loaded rather than sent to a customer.
 *
 * A referenced string is inserted as-is; a number as an integer when it is
 * integral, else in %.15g form; true/false as text; null, an object, an
 * array or a missing field is an error. Nothing here allocates: results go to
 * caller buffers, and cfg_field_get() returns a node owned by the event.
 */
#ifndef CFG_RENDER_H
#define CFG_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config/config.h"

#define CFG_PATH_MAX 256 /* bytes of a field path, with the NUL */
#define CFG_PATH_DEPTH 8
#define CFG_PATH_NAME_MAX 64

/* "customer.phone" -> the node, or NULL (missing, or path invalid). */
const cJSON *cfg_field_get(const cJSON *event, const char *path);

/* Syntax only; why gets e.g. "unclosed '{' at offset 4". */
bool cfg_expr_valid(const char *expr, char *why, size_t whylen);

/* If expr is exactly one "{path}" reference, copies path and returns true
 * (the router expands an array field of recipients this way). */
bool cfg_expr_lone_field(const char *expr, char *path, size_t pathlen);

/* ERR_OK; ERR_NOTFOUND "missing field 'customer.name'"; ERR_INVAL "field 'x'
 * is an object" or a syntax error; ERR_TOOBIG if out is too small. */
int cfg_render(const char *expr, const cJSON *event, char *out, size_t outsz, char *why,
	       size_t whylen);

/* WhatsApp's rules for a template variable value: non-empty and not only
 * spaces, no newline, carriage return or tab, no other control characters
 * (C0, DEL, C1), at most 4 consecutive spaces, valid UTF-8, at most
 * CFG_VAR_MAX bytes. ERR_OK or ERR_INVAL with a static *why. */
int cfg_var_check(const char *value, const char **why);

/* A media template's URL variable (template "media_var"): an https URL
 * with a host, no spaces or control characters. WhatsApp fetches it from
 * the internet, so plain http and local paths are refused before sending.
 * ERR_OK or ERR_INVAL with a static *why. */
int cfg_media_url_check(const char *value, const char **why);

/* WhatsApp refuses a template whose text with its values filled in is over
 * 1,024 characters (Twilio 63021). The length in characters (UTF-8 code
 * points) of preview with each {{k}}, 1 <= k <= n, replaced by vals[k-1]
 * (a NULL entry counts as empty). */
#define CFG_RENDERED_MAX 1024
size_t cfg_preview_len(const char *preview, const char *const *vals, unsigned n);

#endif
