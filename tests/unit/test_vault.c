/*
 * test_vault.c - store/vault.c: sealed secrets open with their key only,
 * under their own name only, and not at all once a byte is changed; the
 * store file never holds the plaintext; rekey moves everything or nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store_fx.h"
#include "store/vault.h"
#include "store/verify.h"

#define SECRET "{\"account_sid\":\"AC0123\",\"auth_token\":\"tok-5ecret-plain\"}"

static void key_of(unsigned char fill, struct store_vault_key *k)
{
	unsigned char dev[STORE_VAULT_DEVKEY_LEN];

	memset(dev, fill, sizeof(dev));
	assert_int_equal(store_vault_key_derive(dev, k), ERR_OK);
}

static void put(struct store *s, const struct store_vault_key *k, const char *name,
		const char *secret, int want)
{
	struct store_txn *t;

	assert_int_equal(store_begin(s, 0, &t), ERR_OK);
	assert_int_equal(store_vault_put(t, k, name, secret, strlen(secret)), want);
	if (want == ERR_OK)
		assert_int_equal(store_commit(t), ERR_OK);
	else
		store_abort(t);
}

static int get(struct store *s, const struct store_vault_key *k, const char *name, char **out)
{
	struct store_txn *t;
	size_t len;
	int rc;

	assert_int_equal(store_begin(s, STORE_RDONLY, &t), ERR_OK);
	rc = store_vault_get(t, k, name, out, &len);
	if (rc == ERR_OK)
		assert_int_equal(len, strlen(*out));
	store_abort(t);
	return rc;
}

/* The whole data file, searched for a needle. */
static bool file_holds(const char *dir, const char *needle)
{
	char path[128], *buf;
	FILE *f;
	long n;
	bool hit = false;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	hit = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
	free(buf);
	return hit;
}

static void round_trip(void **state)
{
	struct store_fx *f = *state;
	struct store_vault_key k;
	struct store_verify_report rep;
	struct store_txn *t;
	char *out = NULL;

	key_of(1, &k);
	put(f->s, &k, "twilio-main", SECRET, ERR_OK);
	store_fx_reopen(f, 16);
	assert_int_equal(get(f->s, &k, "twilio-main", &out), ERR_OK);
	assert_string_equal(out, SECRET);
	free(out);
	assert_int_equal(get(f->s, &k, "other", &out), ERR_NOTFOUND);
	assert_false(file_holds(f->dir, "tok-5ecret-plain"));
	assert_false(file_holds(f->dir, "AC0123"));
	/* The key id in the meta DB is a known member, not a broken counter. */
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_verify(t, &rep), ERR_OK);
	store_abort(t);
	assert_int_equal(rep.problems, 0);
}

static void wrong_key_refused(void **state)
{
	struct store_fx *f = *state;
	struct store_vault_key k, other;
	unsigned char id[STORE_VAULT_ID_LEN];
	struct store_txn *t;
	char *out = NULL;

	key_of(1, &k);
	key_of(2, &other);
	assert_memory_not_equal(k.id, other.id, sizeof(k.id));
	put(f->s, &k, "a", SECRET, ERR_OK);
	assert_int_equal(get(f->s, &other, "a", &out), ERR_AUTH);
	assert_null(out);
	/* The vault took k's id at the first put, and refuses another key. */
	put(f->s, &other, "b", SECRET, ERR_AUTH);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_vault_key_id(t, id), ERR_OK);
	store_abort(t);
	assert_memory_equal(id, k.id, sizeof(id));
}

/* Flips one byte of a's sealed value, or swaps a's value into b. */
static void tamper(struct store_fx *f, bool swap)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val ka = {1, "a"}, kb = {1, "b"}, v, copy;
	char buf[512];

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "vault", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &ka, &v), 0);
	assert_true(v.mv_size <= sizeof(buf));
	memcpy(buf, v.mv_data, v.mv_size);
	copy = (MDB_val){v.mv_size, buf};
	if (!swap)
		buf[v.mv_size / 2] ^= 0x01;
	assert_int_equal(mdb_put(txn, dbi, swap ? &kb : &ka, &copy, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(store_open(f->dir, 16, &f->s), ERR_OK);
}

static void tampered_refused(void **state)
{
	struct store_fx *f = *state;
	struct store_vault_key k;
	char *out = NULL;

	key_of(1, &k);
	put(f->s, &k, "a", SECRET, ERR_OK);
	put(f->s, &k, "b", "b's own secret", ERR_OK);
	tamper(f, true); /* a's value under b's name: the name is bound in */
	assert_int_equal(get(f->s, &k, "b", &out), ERR_AUTH);
	assert_int_equal(get(f->s, &k, "a", &out), ERR_OK);
	free(out);
	tamper(f, false);
	assert_int_equal(get(f->s, &k, "a", &out), ERR_AUTH);
	assert_null(out);
}

static int count(const char *name, void *arg)
{
	(void)name;
	(*(unsigned *)arg)++;
	return ERR_OK;
}

static void rekey_all_or_nothing(void **state)
{
	struct store_fx *f = *state;
	struct store_vault_key k1, k2, k3;
	struct store_txn *t;
	char name[8], *out = NULL;
	unsigned n = 0, seen = 0;

	key_of(1, &k1);
	key_of(2, &k2);
	key_of(3, &k3);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "e%02d", i);
		put(f->s, &k1, name, SECRET, ERR_OK);
	}
	/* Aborted: still under k1. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_vault_rekey(t, &k1, &k2, &n), ERR_OK);
	assert_int_equal(n, 40);
	store_abort(t);
	assert_int_equal(get(f->s, &k1, "e07", &out), ERR_OK);
	free(out);
	/* With the wrong `from`: refused before anything is touched. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_vault_rekey(t, &k3, &k2, &n), ERR_AUTH);
	store_abort(t);
	/* Committed: every entry under k2, none under k1. */
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_vault_rekey(t, &k1, &k2, &n), ERR_OK);
	assert_int_equal(store_commit(t), ERR_OK);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "e%02d", i);
		assert_int_equal(get(f->s, &k2, name, &out), ERR_OK);
		assert_string_equal(out, SECRET);
		free(out);
		assert_int_equal(get(f->s, &k1, name, &out), ERR_AUTH);
	}
	put(f->s, &k1, "late", SECRET, ERR_AUTH);
	assert_int_equal(store_begin(f->s, STORE_RDONLY, &t), ERR_OK);
	assert_int_equal(store_vault_each(t, count, &seen), ERR_OK);
	store_abort(t);
	assert_int_equal(seen, 40);
}

static void names_checked(void **state)
{
	struct store_fx *f = *state;
	struct store_vault_key k;
	char long_name[STORE_VAULT_NAME_MAX + 2];
	struct store_txn *t;

	key_of(1, &k);
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	put(f->s, &k, "", SECRET, ERR_INVAL);
	put(f->s, &k, long_name, SECRET, ERR_TOOBIG);
	assert_int_equal(store_begin(f->s, 0, &t), ERR_OK);
	assert_int_equal(store_vault_del(t, "absent"), ERR_NOTFOUND);
	store_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(wrong_key_refused, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(tampered_refused, store_fx_setup, store_fx_teardown),
		cmocka_unit_test_setup_teardown(rekey_all_or_nothing, store_fx_setup,
						store_fx_teardown),
		cmocka_unit_test_setup_teardown(names_checked, store_fx_setup, store_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
