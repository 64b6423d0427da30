/*
 * vault.c - sealed secrets (store/vault.h): AES-256-GCM from mbedTLS, keys
 * from HKDF-SHA256.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>

#include "hal/err.h"
#include "hal/log.h"
#include "hal/random.h"
#include "store/store_impl.h"
#include "store/vault.h"

#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define OVERHEAD (1 + NONCE_LEN + TAG_LEN)
#define AAD_PREFIX "outpost-vault-1:"
#define KEY_ID_NAME "vault/key_id"

static int hkdf(const unsigned char *ikm, const char *info, unsigned char *out, size_t len)
{
	static const unsigned char salt[] = "outpost device key";
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

	if (!md || mbedtls_hkdf(md, salt, sizeof(salt) - 1, ikm, STORE_VAULT_DEVKEY_LEN,
				(const unsigned char *)info, strlen(info), out, len) != 0)
		return ERR_INVAL;
	return ERR_OK;
}

int store_vault_key_derive(const unsigned char devkey[STORE_VAULT_DEVKEY_LEN],
			   struct store_vault_key *k)
{
	int err = hkdf(devkey, "outpost vault aes-256-gcm v1", k->aes, sizeof(k->aes));

	if (err == ERR_OK)
		err = hkdf(devkey, "outpost vault key id v1", k->id, sizeof(k->id));
	if (err != ERR_OK)
		store_vault_key_wipe(k);
	return err;
}

void store_vault_key_wipe(struct store_vault_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

static int name_key(const char *name, MDB_val *key)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return ERR_INVAL;
	if (len > STORE_VAULT_NAME_MAX)
		return ERR_TOOBIG;
	key->mv_size = len;
	key->mv_data = (void *)name;
	return ERR_OK;
}

/* The name as GCM's additional data: a value sealed for one name does not
 * open under another. */
static size_t aad_of(const char *name, unsigned char *aad)
{
	size_t p = sizeof(AAD_PREFIX) - 1, n = strlen(name);

	memcpy(aad, AAD_PREFIX, p);
	memcpy(aad + p, name, n);
	return p + n;
}

static int seal(const struct store_vault_key *k, const char *name, const void *in, size_t len,
		unsigned char *out)
{
	unsigned char aad[sizeof(AAD_PREFIX) + STORE_VAULT_NAME_MAX];
	size_t alen = aad_of(name, aad);
	mbedtls_gcm_context gcm;
	int rc;

	out[0] = VERSION;
	if (hal_random(out + 1, NONCE_LEN) != ERR_OK)
		return ERR_IO;
	mbedtls_gcm_init(&gcm);
	rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k->aes, 256);
	if (rc == 0)
		rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, len, out + 1, NONCE_LEN,
					       aad, alen, in, out + 1 + NONCE_LEN, TAG_LEN,
					       out + 1 + NONCE_LEN + len);
	mbedtls_gcm_free(&gcm);
	return rc == 0 ? ERR_OK : ERR_INVAL;
}

/* Opens a sealed value into out (val->mv_size - OVERHEAD bytes). */
static int unseal(const struct store_vault_key *k, const char *name, const MDB_val *val,
		  unsigned char *out)
{
	unsigned char aad[sizeof(AAD_PREFIX) + STORE_VAULT_NAME_MAX];
	const unsigned char *v = val->mv_data;
	size_t alen = aad_of(name, aad), len;
	mbedtls_gcm_context gcm;
	int rc;

	if (val->mv_size < OVERHEAD || v[0] != VERSION)
		return ERR_AUTH;
	len = val->mv_size - OVERHEAD;
	mbedtls_gcm_init(&gcm);
	rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k->aes, 256);
	if (rc == 0)
		rc = mbedtls_gcm_auth_decrypt(&gcm, len, v + 1, NONCE_LEN, aad, alen,
					      v + 1 + NONCE_LEN + len, TAG_LEN, v + 1 + NONCE_LEN,
					      out);
	mbedtls_gcm_free(&gcm);
	if (rc != 0) {
		explicit_bzero(out, len);
		return ERR_AUTH;
	}
	return ERR_OK;
}

int store_vault_key_id(struct store_txn *t, unsigned char id[STORE_VAULT_ID_LEN])
{
	MDB_val key = {sizeof(KEY_ID_NAME) - 1, KEY_ID_NAME}, val;
	int rc;

	if (!t)
		return ERR_INVAL;
	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_META], &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "vault key id get");
	if (val.mv_size != STORE_VAULT_ID_LEN) {
		log_err("store: vault key id is corrupt (%zu bytes)", val.mv_size);
		return ERR_STORE;
	}
	memcpy(id, val.mv_data, STORE_VAULT_ID_LEN);
	return ERR_OK;
}

static int key_id_put(struct store_txn *t, const struct store_vault_key *k)
{
	MDB_val key = {sizeof(KEY_ID_NAME) - 1, KEY_ID_NAME};
	MDB_val val = {STORE_VAULT_ID_LEN, (void *)k->id};

	return store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_META], &key, &val, 0),
			     "vault key id put");
}

/* ERR_OK if k is the vault's key, recording it if the vault has none. */
static int key_is_current(struct store_txn *t, const struct store_vault_key *k)
{
	unsigned char id[STORE_VAULT_ID_LEN];
	int err = store_vault_key_id(t, id);

	if (err == ERR_NOTFOUND)
		return key_id_put(t, k);
	if (err != ERR_OK)
		return err;
	return memcmp(id, k->id, sizeof(id)) == 0 ? ERR_OK : ERR_AUTH;
}

static int put_sealed(struct store_txn *t, const struct store_vault_key *k, const char *name,
		      MDB_val *key, const void *secret, size_t len)
{
	unsigned char *buf = malloc(len + OVERHEAD);
	MDB_val val = {len + OVERHEAD, buf};
	int err;

	if (!buf)
		return ERR_NOMEM;
	err = seal(k, name, secret, len, buf);
	if (err == ERR_OK)
		err = store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_VAULT], key, &val, 0),
				    "vault put");
	free(buf); /* ciphertext: nothing to wipe */
	return err;
}

int store_vault_put(struct store_txn *t, const struct store_vault_key *k, const char *name,
		    const void *secret, size_t len)
{
	MDB_val key;
	int err;

	err = store_txn_writable(t);
	if (err == ERR_OK && (!k || (!secret && len) || len > STORE_VAULT_SECRET_MAX))
		err = ERR_INVAL;
	if (err == ERR_OK)
		err = name_key(name, &key);
	if (err == ERR_OK)
		err = key_is_current(t, k);
	if (err == ERR_OK)
		err = put_sealed(t, k, name, &key, secret, len);
	return err;
}

int store_vault_get(struct store_txn *t, const struct store_vault_key *k, const char *name,
		    char **secret, size_t *len)
{
	MDB_val key, val;
	char *out;
	int err, rc;

	*secret = NULL;
	*len = 0;
	if (!t || !k)
		return ERR_INVAL;
	err = name_key(name, &key);
	if (err != ERR_OK)
		return err;
	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_VAULT], &key, &val);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "vault get");
	if (val.mv_size < OVERHEAD)
		return ERR_AUTH;
	out = malloc(val.mv_size - OVERHEAD + 1);
	if (!out)
		return ERR_NOMEM;
	err = unseal(k, name, &val, (unsigned char *)out);
	if (err != ERR_OK) {
		free(out);
		return err;
	}
	*len = val.mv_size - OVERHEAD;
	out[*len] = '\0';
	*secret = out;
	return ERR_OK;
}

int store_vault_del(struct store_txn *t, const char *name)
{
	MDB_val key;
	int err = store_txn_writable(t);

	if (err == ERR_OK)
		err = name_key(name, &key);
	if (err != ERR_OK)
		return err;
	return store_mdb_err(t, mdb_del(store_wtxn(t), t->s->dbi[STORE_DB_VAULT], &key, NULL),
			     "vault del");
}

int store_vault_each(struct store_txn *t, int (*fn)(const char *name, void *arg), void *arg)
{
	char name[STORE_VAULT_NAME_MAX + 1];
	MDB_cursor *c;
	MDB_val key, val;
	int rc, err = ERR_OK;

	if (!t || !fn)
		return ERR_INVAL;
	rc = mdb_cursor_open(t->txn, t->s->dbi[STORE_DB_VAULT], &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "vault cursor");
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS && err == ERR_OK;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (key.mv_size == 0 || key.mv_size > STORE_VAULT_NAME_MAX ||
		    memchr(key.mv_data, '\0', key.mv_size)) {
			log_err("store: vault holds a malformed name (%zu bytes): skipped",
				key.mv_size);
			continue;
		}
		memcpy(name, key.mv_data, key.mv_size);
		name[key.mv_size] = '\0';
		err = fn(name, arg);
	}
	mdb_cursor_close(c);
	if (err == ERR_OK && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, "vault walk");
	return err;
}

struct names {
	char (*v)[STORE_VAULT_NAME_MAX + 1];
	unsigned n, cap;
};

static int collect(const char *name, void *arg)
{
	struct names *ns = arg;

	if (ns->n == ns->cap) {
		unsigned cap = ns->cap ? ns->cap * 2 : 16;
		void *v = realloc(ns->v, cap * sizeof(*ns->v));

		if (!v)
			return ERR_NOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
	return ERR_OK;
}

static int rekey_one(struct store_txn *t, const struct store_vault_key *from,
		     const struct store_vault_key *to, const char *name)
{
	MDB_val key;
	size_t len;
	char *secret;
	int err;

	err = store_vault_get(t, from, name, &secret, &len);
	if (err == ERR_AUTH)
		log_err("store: vault entry %s does not open with the current key", name);
	if (err != ERR_OK)
		return err;
	name_key(name, &key);
	err = put_sealed(t, to, name, &key, secret, len);
	explicit_bzero(secret, len);
	free(secret);
	return err;
}

int store_vault_rekey(struct store_txn *t, const struct store_vault_key *from,
		      const struct store_vault_key *to, unsigned *n)
{
	struct names ns = {0};
	int err;

	*n = 0;
	err = store_txn_writable(t);
	if (err == ERR_OK && (!from || !to))
		err = ERR_INVAL;
	if (err == ERR_OK)
		err = key_is_current(t, from);
	/* Names first, then the puts: no cursor walks a DB being rewritten. */
	if (err == ERR_OK)
		err = store_vault_each(t, collect, &ns);
	for (unsigned i = 0; err == ERR_OK && i < ns.n; i++, (*n)++)
		err = rekey_one(t, from, to, ns.v[i]);
	if (err == ERR_OK)
		err = key_id_put(t, to);
	free(ns.v);
	return err;
}
