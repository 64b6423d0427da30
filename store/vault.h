/*
 * vault.h - provider secrets, encrypted, in the store's "vault" DB.
 *
 * Each entry is a name and a secret (opaque bytes: outpostd keeps a
 * credentials entry's JSON there). The secret is sealed with AES-256-GCM
 * under a key derived by HKDF-SHA256 from the device key (32 random bytes in
 * a 0600 file outside the store, vault.key_file); the entry's name is bound
 * in as additional data, so a sealed value moved to another name no longer
 * opens. Value layout: version (1 byte, 1) | nonce (12, random) | ciphertext
 * | tag (16). Nothing in plaintext is ever written to the store.
 *
 * The meta DB holds "vault/key_id": 16 bytes derived from the device key by
 * a second HKDF label, so the daemon can tell whether a key file is the one
 * the vault was sealed with (and which of two files is, after a rotation cut
 * short) without trying to open entries. A vault with no key id is empty.
 */
#ifndef STORE_VAULT_H
#define STORE_VAULT_H

#include <stddef.h>
#include <stdint.h>

struct store_txn;

#define STORE_VAULT_DEVKEY_LEN 32
#define STORE_VAULT_ID_LEN 16
#define STORE_VAULT_NAME_MAX 64
#define STORE_VAULT_SECRET_MAX 4096

/* What a device key gives: the sealing key and its public id. Wipe with
 * store_vault_key_wipe(). */
struct store_vault_key {
	unsigned char aes[32];
	unsigned char id[STORE_VAULT_ID_LEN];
};

int store_vault_key_derive(const unsigned char devkey[STORE_VAULT_DEVKEY_LEN],
			   struct store_vault_key *k);
void store_vault_key_wipe(struct store_vault_key *k);

/* The id the vault was sealed with: ERR_OK, or ERR_NOTFOUND for a vault
 * that has never held a key. */
int store_vault_key_id(struct store_txn *t, unsigned char id[STORE_VAULT_ID_LEN]);

/* Seals and stores secret under name (1..STORE_VAULT_NAME_MAX bytes),
 * replacing any earlier value. The first put records k's id; a put with
 * another key than the recorded one is refused (ERR_AUTH). */
int store_vault_put(struct store_txn *t, const struct store_vault_key *k, const char *name,
		    const void *secret, size_t len);

/* Opens name's secret into a malloc'd buffer (NUL-terminated for
 * convenience; *len excludes it) the caller wipes and frees. ERR_NOTFOUND;
 * ERR_AUTH if it does not open with k (wrong key, or tampered with). */
int store_vault_get(struct store_txn *t, const struct store_vault_key *k, const char *name,
		    char **secret, size_t *len);

int store_vault_del(struct store_txn *t, const char *name); /* ERR_NOTFOUND */

/* Calls fn for each name in order; stops at fn's first non-ERR_OK. */
int store_vault_each(struct store_txn *t, int (*fn)(const char *name, void *arg), void *arg);

/* Re-seals every entry from `from` to `to` and records to's id, all in t:
 * commit t and the vault has moved to the new key, abort it and nothing
 * changed. ERR_AUTH if an entry does not open with `from`. *n = entries. */
int store_vault_rekey(struct store_txn *t, const struct store_vault_key *from,
		      const struct store_vault_key *to, unsigned *n);

#endif
