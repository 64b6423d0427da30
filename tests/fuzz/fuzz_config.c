/*
 * fuzz_config.c - the configuration parser and validator (config/config.h)
 * on the input as the text of a config file.
 *
 * Oracles besides the sanitizers: the result and the errors agree (ERR_OK
 * with a config and no errors, ERR_CONFIG with no config and at least one
 * error naming a "$..." path); a parsed config keeps the promises of
 * config.h (routes resolved, every bound respected, names found again);
 * parsing without an error list gives the same answer (for a quarter of
 * the inputs).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/topic.h"
#include "hal/err.h"
#include "tests/fuzz/fuzz.h"

static void check_errors(const struct cfg_errors *e)
{
	FUZZ_ASSERT(e->n <= sizeof(e->e) / sizeof(e->e[0]), "%u errors", e->n);
	for (unsigned i = 0; i < e->n; i++) {
		FUZZ_ASSERT(memchr(e->e[i].path, 0, sizeof(e->e[i].path)), "path not terminated");
		FUZZ_ASSERT(memchr(e->e[i].msg, 0, sizeof(e->e[i].msg)), "message not terminated");
		FUZZ_ASSERT(e->e[i].path[0] == '$', "error path \"%s\"", e->e[i].path);
		FUZZ_ASSERT(e->e[i].msg[0], "empty message at %s", e->e[i].path);
	}
}

static void check_route(const struct cfg *c, const struct cfg_route *r)
{
	FUZZ_ASSERT(r->name && r->topic && r->template && r->account, "route half resolved");
	FUZZ_ASSERT(cfg_topic_filter_valid(r->topic), "route %s: topic %s", r->name, r->topic);
	FUZZ_ASSERT(cfg_template_find(c, r->template->name) == r->template, "route %s: template",
		    r->name);
	FUZZ_ASSERT(cfg_account_find(c, r->account->name) == r->account, "route %s: account",
		    r->name);
	FUZZ_ASSERT(r->n_to >= 1 && r->n_to <= CFG_TO_MAX, "route %s: %u recipients", r->name,
		    r->n_to);
	for (unsigned i = 0; i < r->n_to; i++)
		FUZZ_ASSERT(r->to[i], "route %s: to[%u] NULL", r->name, i);
	for (unsigned i = 0; i < r->template->variables; i++)
		FUZZ_ASSERT(r->vars[i], "route %s: vars[%u] NULL", r->name, i);
	FUZZ_ASSERT(r->ttl_s >= 60 && r->ttl_s <= 30 * 86400, "route %s: ttl %lld", r->name,
		    (long long)r->ttl_s);
}

static void check_config(const struct cfg *c)
{
	FUZZ_ASSERT(c->gateway_id && c->mqtt.host && c->store.path && c->control.socket &&
			    c->events.id_field && c->secrets_file,
		    "a defaulted string is NULL");
	FUZZ_ASSERT(c->n_accounts >= 1 && c->n_templates >= 1 && c->n_routes >= 1,
		    "%u accounts, %u templates, %u routes", c->n_accounts, c->n_templates,
		    c->n_routes);
	FUZZ_ASSERT(c->sender.backoff_base_ms <= c->sender.backoff_cap_ms, "backoff base > cap");
	FUZZ_ASSERT(c->events.max_payload >= 1024 && c->events.max_payload <= 1048576,
		    "max_payload %u", c->events.max_payload);
	for (unsigned i = 0; i < c->n_accounts; i++) {
		const struct cfg_account *a = &c->accounts[i];

		FUZZ_ASSERT(a->name && a->from && a->credentials && a->api_base && a->ca_file,
			    "account %u has a NULL string", i);
		FUZZ_ASSERT(a->rate_per_s > 0 && a->rate_per_s <= 10000, "rate %g", a->rate_per_s);
		FUZZ_ASSERT(cfg_account_find(c, a->name) == a, "account %s not found", a->name);
	}
	for (unsigned i = 0; i < c->n_templates; i++) {
		const struct cfg_template *t = &c->templates[i];

		FUZZ_ASSERT(t->name && t->content_sid && t->variables <= 100, "template %u", i);
		FUZZ_ASSERT(cfg_template_find(c, t->name) == t, "template %s not found", t->name);
	}
	for (unsigned i = 0; i < c->n_routes; i++)
		check_route(c, &c->routes[i]);
	check_errors(&c->warnings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs;
	struct cfg *cfg = (struct cfg *)1, *again = (struct cfg *)1;
	int rc, rc2;

	rc = cfg_parse((const char *)data, size, &cfg, &errs);
	FUZZ_ASSERT(rc == ERR_OK || rc == ERR_CONFIG, "cfg_parse: %s", hal_strerror(rc));
	check_errors(&errs);
	if (rc == ERR_OK) {
		FUZZ_ASSERT(cfg && errs.n == 0 && errs.dropped == 0, "ERR_OK with errors");
		check_config(cfg);
	} else {
		FUZZ_ASSERT(!cfg && errs.n >= 1, "ERR_CONFIG without an error, or with a config");
	}
	/* Every fourth input (chosen by size, so a replay does the same):
	 * the second parse halves the speed. */
	if (size % 4 == 0) {
		rc2 = cfg_parse((const char *)data, size, &again, NULL);
		FUZZ_ASSERT(rc2 == rc, "without an error list: %s, with: %s", hal_strerror(rc2),
			    hal_strerror(rc));
		FUZZ_ASSERT((again != NULL) == (rc == ERR_OK), "config without an error list");
		cfg_free(again);
	}
	cfg_free(cfg);
	return 0;
}
