/*
 * tab.c - a string-keyed hash table with dense indexes and inline values.
 *
 * Open addressing with linear probing over a slot array kept at most half
 * full; entries are numbered 0, 1, ... in insertion order, so callers keep
 * indexes rather than pointers and can walk everything in input order.
 * Keys are copied into an arena of 1 MiB chunks: no free per key, and a
 * 200,000-event run costs a few MB. FNV-1a is plenty for event ids.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/checker/check.h"

#define CHUNK_SIZE (1u << 20)

struct ck_key {
	const char *p;
	uint32_t len, hash;
};

struct ck_chunk {
	struct ck_chunk *next;
	size_t used, cap;
	char data[];
};

static uint32_t hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

void ck_tab_init(struct ck_tab *t, size_t val_size)
{
	memset(t, 0, sizeof(*t));
	t->val_size = val_size;
}

void ck_tab_free(struct ck_tab *t)
{
	struct ck_chunk *c, *next;

	for (c = t->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->slots);
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

/* A NUL-terminated copy of key in the arena. */
static const char *key_copy(struct ck_tab *t, const char *key, size_t len)
{
	struct ck_chunk *c = t->arena;
	char *p;

	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > CHUNK_SIZE ? len + 1 : CHUNK_SIZE;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = t->arena;
		c->used = 0;
		c->cap = cap;
		t->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, key, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

static size_t find_slot(const struct ck_tab *t, const char *key, size_t len, uint32_t h)
{
	size_t mask = t->nslots - 1, i = h & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t e = t->slots[i];

		if (e == 0)
			return i;
		e--;
		if (t->keys[e].hash == h && t->keys[e].len == len && memcmp(t->keys[e].p, key, len) == 0)
			return i;
	}
}

static bool rehash(struct ck_tab *t, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return false;
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	for (size_t e = 0; e < t->n; e++) {
		size_t i = t->keys[e].hash & (nslots - 1);

		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint32_t)e + 1;
	}
	return true;
}

static bool grow(struct ck_tab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct ck_key *keys;
	unsigned char *vals;

	if (cap >= CK_NONE)
		return false;
	keys = realloc(t->keys, cap * sizeof(*keys));
	if (!keys)
		return false;
	t->keys = keys;
	vals = realloc(t->vals, cap * t->val_size);
	if (!vals)
		return false;
	t->vals = vals;
	t->cap = cap;
	return rehash(t, cap * 2);
}

uint32_t ck_tab_get(const struct ck_tab *t, const char *key, size_t len)
{
	uint32_t h = hash(key, len);
	size_t i;

	if (!t->nslots)
		return CK_NONE;
	i = find_slot(t, key, len, h);
	return t->slots[i] ? t->slots[i] - 1 : CK_NONE;
}

uint32_t ck_tab_put(struct ck_tab *t, const char *key, size_t len, bool *created)
{
	uint32_t h = hash(key, len), e;
	size_t i;

	if (created)
		*created = false;
	if (len > UINT32_MAX || (t->n == t->cap && !grow(t)))
		return CK_NONE;
	i = find_slot(t, key, len, h);
	if (t->slots[i])
		return t->slots[i] - 1;
	e = (uint32_t)t->n;
	t->keys[e].p = key_copy(t, key, len);
	if (!t->keys[e].p)
		return CK_NONE;
	t->keys[e].len = (uint32_t)len;
	t->keys[e].hash = h;
	memset(t->vals + (size_t)e * t->val_size, 0, t->val_size);
	t->slots[i] = e + 1;
	t->n++;
	if (created)
		*created = true;
	return e;
}

void *ck_tab_val(const struct ck_tab *t, uint32_t i)
{
	return t->vals + (size_t)i * t->val_size;
}

const char *ck_tab_key(const struct ck_tab *t, uint32_t i, size_t *len)
{
	if (len)
		*len = t->keys[i].len;
	return t->keys[i].p;
}
