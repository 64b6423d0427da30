/*
 * fuzz_secrets.c - credentials entries (config/secrets.c) on the input as a
 * secrets file's text: the parser behind the one-time import, the vault's
 * reload of its entries and `creds set`.
 *
 * Oracles besides the sanitizers: a parsed set keeps secrets.h's promises
 * (every entry named and typed, user and password set, a JSON form kept);
 * that JSON form, parsed again under the same name as the vault does,
 * gives the same entry back; a refusal says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/secrets.h"
#include "hal/err.h"
#include "tests/fuzz/fuzz.h"

static void round_trip(const struct cfg_secret *e)
{
	struct cfg_secrets *again = NULL;
	const struct cfg_secret *f;
	size_t len = strlen(e->name) + strlen(e->json) + 8;
	char *text = malloc(len), why[300] = "";

	FUZZ_ASSERT(text, "out of memory");
	snprintf(text, len, "{\"%s\":%s}", e->name, e->json);
	FUZZ_ASSERT(cfg_secrets_parse(text, strlen(text), "again", &again, why, sizeof(why)) ==
		    ERR_OK, "entry %s does not parse again: %s", e->name, why);
	f = cfg_secrets_find(again, e->name);
	FUZZ_ASSERT(f && strcmp(f->kind, e->kind) == 0 && strcmp(f->user, e->user) == 0 &&
		    strcmp(f->password, e->password) == 0, "entry %s changed on the way", e->name);
	cfg_secrets_free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_secrets *s = NULL;
	char why[300] = "";
	int rc = cfg_secrets_parse((const char *)data, size, "fuzz", &s, why, sizeof(why));

	if (rc != ERR_OK) {
		FUZZ_ASSERT(!s && why[0], "refused (%d) without saying why", rc);
		return 0;
	}
	for (unsigned i = 0; i < cfg_secrets_count(s); i++) {
		const struct cfg_secret *e = cfg_secrets_at(s, i);

		FUZZ_ASSERT(e->name && e->kind && e->user && e->password && e->json, "entry %u", i);
		FUZZ_ASSERT(cfg_secrets_find(s, e->name) == e, "entry %s not found by name", e->name);
		round_trip(e);
	}
	cfg_secrets_free(s);
	return 0;
}
