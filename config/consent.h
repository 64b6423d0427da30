/*
 * consent.h - the "consent" part of the config: the words that opt a
 * recipient out (STOP) or back in (START) when they are the whole of an
 * inbound message, per language:
 *
 *   "consent": {"stop_keywords":  {"en": ["STOP", "UNSUBSCRIBE"], "de": ["STOPP"]},
 *               "start_keywords": {"en": ["START"], "de": ["START"]}}
 *
 * A list not given keeps the built-in defaults (cfg_consent_default_*); a
 * list given replaces them whole. The languages are labels for people: all
 * keywords of a kind are matched together, since a gateway does not know
 * which language a customer writes in.
 */
#ifndef CFG_CONSENT_H
#define CFG_CONSENT_H

#include <stdbool.h>

#include "config/schema.h"

#define CFG_KEYWORD_MAX 32  /* bytes of one keyword */
#define CFG_KEYWORDS_MAX 64 /* keywords of one kind, all languages */

/* The handler for the top-level "consent" key (v NULL: absent). */
void cfg_consent_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path);
void cfg_consent_free(struct cfg *cfg);

/* Whether body, less leading and trailing white space, is one of the
 * keywords: ASCII letters compare case-insensitively, other bytes as they
 * are ("stop", " Stop\n" and "STOP" match STOP; "stop please" does not). */
bool cfg_keyword_match(char *const *words, unsigned n, const char *body);

/* A keyword: 1..CFG_KEYWORD_MAX bytes, no control characters, no outer
 * white space. */
bool cfg_keyword_valid(const char *s);
/* {"en": ["STOP", ...], ...} into one list of at most CFG_KEYWORDS_MAX
 * (*list allocated, *n counted; errors name their paths). */
void cfg_keyword_lists_parse(struct cfg_pctx *px, const cJSON *v, const char *path, char ***list,
			     unsigned *n);

#endif
