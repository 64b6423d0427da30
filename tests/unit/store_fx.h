/*
 * store_fx.h - a cmocka fixture for the unit tests of store/: a store of
 * 16 MiB in a fresh directory under /tmp, closed and removed after each
 * test. Header-only, with static inline functions: every unit test is one
 * .c file (the Makefile builds tests/unit/test_*.c alone). Include it after
 * <cmocka.h>.
 */
#ifndef TESTS_UNIT_STORE_FX_H
#define TESTS_UNIT_STORE_FX_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "hal/err.h"
#include "store/store.h"

struct store_fx {
	char dir[64];
	struct store *s;
};

static inline int store_fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* *state gets a struct store_fx with an open store. */
static inline int store_fx_setup(void **state)
{
	struct store_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/store-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, 16, &f->s), ERR_OK);
	*state = f;
	return 0;
}

static inline int store_fx_teardown(void **state)
{
	struct store_fx *f = *state;

	store_close(f->s);
	nftw(f->dir, store_fx_rm, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Closes and opens the store again, as a restart of the daemon would. */
static inline void store_fx_reopen(struct store_fx *f, unsigned mb)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->dir, mb, &f->s), ERR_OK);
}

#endif
