/*
 * consent.c - keyword lists for opt-out and opt-in by inbound message.
 *
 * Why whole-body matches only: a customer who writes "please don't stop the
 * deliveries" has not opted out. Carriers and Twilio's own SMS opt-out
 * handling match the trimmed body the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "config/consent.h"

/* Twilio's SMS defaults, and their common German, Spanish, French,
 * Italian and Portuguese counterparts. */
static const char *const default_stop[] = {
	"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
	"STOPP", "ABMELDEN", "BAJA", "PARAR", "ARRET", "ARRÊT", "DESABONNER", "ANNULLA",
	"SAIR", NULL,
};
static const char *const default_start[] = {
	"START", "UNSTOP", "SUBSCRIBE", "ANMELDEN", "ALTA", "COMENZAR", "ABONNER", "INIZIO",
	NULL,
};

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

bool cfg_keyword_match(char *const *words, unsigned n, const char *body)
{
	size_t len;

	if (!body)
		return false;
	while (space(*body))
		body++;
	len = strlen(body);
	while (len && space(body[len - 1]))
		len--;
	for (unsigned i = 0; i < n; i++) {
		size_t k;

		if (strlen(words[i]) != len)
			continue;
		for (k = 0; k < len && upper(words[i][k]) == upper(body[k]); k++)
			;
		if (k == len && len)
			return true;
	}
	return false;
}

static void set_defaults(struct cfg_pctx *px, char ***list, unsigned *n,
			 const char *const *defs)
{
	unsigned k = 0;

	while (defs[k])
		k++;
	*list = calloc(k, sizeof(**list));
	if (!*list) {
		px->nomem = true;
		return;
	}
	for (*n = 0; *n < k; (*n)++)
		(*list)[*n] = cfg_schema_strdup(px, defs[*n]);
}

bool cfg_keyword_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_KEYWORD_MAX || space(s[0]) || space(s[n - 1]))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

void cfg_keyword_lists_parse(struct cfg_pctx *px, const cJSON *v, const char *path, char ***list,
			     unsigned *n)
{
	char sub[CFG_PATH_LEN], el[CFG_PATH_LEN];
	const cJSON *lang, *w;
	unsigned i;

	if (!cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object of keyword lists by language, like "
			    "{\"en\": [\"STOP\"]}, got %s", cfg_json_type(v));
		return;
	}
	cfg_schema_check_keys(px, v, NULL, path);
	*list = calloc(CFG_KEYWORDS_MAX, sizeof(**list));
	if (!*list) {
		px->nomem = true;
		return;
	}
	cJSON_ArrayForEach(lang, v) {
		cfg_path_key(sub, path, lang->string);
		if (!cJSON_IsArray(lang)) {
			cfg_err_add(px->errs, sub, "expected an array of keywords, got %s",
				    cfg_json_type(lang));
			continue;
		}
		i = 0;
		cJSON_ArrayForEach(w, lang) {
			cfg_path_index(el, sub, i++);
			if (!cJSON_IsString(w) || !cfg_keyword_valid(w->valuestring))
				cfg_err_add(px->errs, el, "expected a keyword of 1..%d bytes without "
					    "control characters or outer spaces", CFG_KEYWORD_MAX);
			else if (*n == CFG_KEYWORDS_MAX)
				cfg_err_add(px->errs, el, "more than %d keywords in all languages",
					    CFG_KEYWORDS_MAX);
			else
				(*list)[(*n)++] = cfg_schema_strdup(px, w->valuestring);
		}
	}
}

void cfg_consent_parse(struct cfg_pctx *px, const cJSON *v, void *base, const char *path)
{
	struct cfg *cfg = base;
	const cJSON *stop = NULL, *start = NULL, *c;
	char sub[CFG_PATH_LEN];

	if (v && !cJSON_IsObject(v)) {
		cfg_err_add(px->errs, path, "expected an object, got %s", cfg_json_type(v));
		v = NULL;
	}
	cJSON_ArrayForEach(c, v) {
		cfg_path_key(sub, path, c->string);
		if (strcmp(c->string, "stop_keywords") == 0)
			stop = c;
		else if (strcmp(c->string, "start_keywords") == 0)
			start = c;
		else
			cfg_err_add(px->errs, sub, "unknown key (known: stop_keywords, start_keywords)");
	}
	cfg_path_key(sub, path, "stop_keywords");
	if (stop)
		cfg_keyword_lists_parse(px, stop, sub, &cfg->consent.stop, &cfg->consent.n_stop);
	else
		set_defaults(px, &cfg->consent.stop, &cfg->consent.n_stop, default_stop);
	cfg_path_key(sub, path, "start_keywords");
	if (start)
		cfg_keyword_lists_parse(px, start, sub, &cfg->consent.start, &cfg->consent.n_start);
	else
		set_defaults(px, &cfg->consent.start, &cfg->consent.n_start, default_start);
}

void cfg_consent_free(struct cfg *cfg)
{
	for (unsigned i = 0; i < cfg->consent.n_stop; i++)
		free(cfg->consent.stop[i]);
	for (unsigned i = 0; i < cfg->consent.n_start; i++)
		free(cfg->consent.start[i]);
	free(cfg->consent.stop);
	free(cfg->consent.start);
}
