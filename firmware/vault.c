/*
 * vault.c - the daemon's credentials: sealed in the store (store/vault.h),
 * opened into fw->secrets at start and after every change.
 *
 * The device key is a 0600 file of 32 random bytes (vault.key_file), made
 * at the first start of an empty vault. A vault that holds entries is never
 * given a new key silently: with its key file missing or another one in its
 * place, the vault stays sealed, every account pauses with the reason, and
 * ingest goes on (nothing is lost; sending waits for the right key).
 *
 * Rotation, crash-safe in three steps:
 *   1. the new key is written to "<key_file>.new" (atomically, fsync'd);
 *   2. one store transaction re-seals every entry and records the new key id;
 *   3. "<key_file>.new" is renamed over the key file.
 * Cut after 1, the vault's id names the old key: the start-up removes the
 * stray .new file. Cut after 2, it names the .new file: the start-up
 * finishes step 3. Either way the vault opens.
 *
 * A secrets file named by the config is imported once: its entries are
 * checked (config/secrets.c), sealed in one transaction, and the file is
 * then overwritten and removed. Until that commit the file stays, so a cut
 * import is simply done again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/schema.h"
#include "config/secrets.h"
#include "firmware/fw.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/log.h"
#include "hal/parse.h"
#include "hal/priv.h"
#include "hal/random.h"
#include "store/store.h"
#include "store/vault.h"

struct fw_vault {
	char *key_file;
	struct store_vault_key key;
	bool open;              /* key matches the vault */
	bool made_dir;          /* the key file's directory is ours (made with the key) */
	char sealed[FW_ERROR_TEXT]; /* why not open, for status and paused accounts */
};

/* The first 4 bytes of a key id, for people: "904015d5". */
static void vault_hexid(const unsigned char *id, char *out)
{
	hal_hex_encode(id, 4, out);
}

/* Reads a key file and derives from it. ERR_NOTFOUND if there is none. */
static int key_load(const char *path, struct store_vault_key *k, char *why, size_t whylen)
{
	unsigned char dev[STORE_VAULT_DEVKEY_LEN];
	int err;

	err = hal_file_read_secret(path, dev, sizeof(dev), why, whylen);
	if (err == ERR_OK)
		err = store_vault_key_derive(dev, k);
	explicit_bzero(dev, sizeof(dev));
	return err;
}

/* The directory part of a key file's path; false for none ("key", "/key"). */
static bool key_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return false;
	snprintf(dir, len, "%.*s", (int)(slash - path), path);
	return true;
}

/* A new random device key in path (0600, atomic); its derived key in k. */
static int key_make(const char *path, struct store_vault_key *k)
{
	unsigned char dev[STORE_VAULT_DEVKEY_LEN];
	char dir[4096];
	int err;

	if (key_dir(path, dir, sizeof(dir)))
		hal_dir_make(dir, 0700);
	err = hal_random(dev, sizeof(dev));
	if (err == ERR_OK)
		err = hal_file_write_atomic(path, dev, sizeof(dev), 0600);
	if (err == ERR_OK)
		err = store_vault_key_derive(dev, k);
	explicit_bzero(dev, sizeof(dev));
	return err;
}

static int vault_id(struct fw *fw, unsigned char id[STORE_VAULT_ID_LEN])
{
	struct store_txn *t;
	int err = store_begin(fw->store, STORE_RDONLY, &t);

	if (err != ERR_OK)
		return err;
	err = store_vault_key_id(t, id);
	store_abort(t);
	return err;
}

/* Finishes or undoes a rotation cut short (see the top of the file). */
static void settle_rotation(struct fw_vault *v, const unsigned char id[STORE_VAULT_ID_LEN])
{
	struct store_vault_key k;
	char path[4200], why[300];

	snprintf(path, sizeof(path), "%s.new", v->key_file);
	if (access(path, F_OK) != 0)
		return;
	if (key_load(path, &k, why, sizeof(why)) == ERR_OK && memcmp(k.id, id, sizeof(k.id)) == 0) {
		if (hal_file_rename(path, v->key_file) == ERR_OK)
			log_warn("vault: finished a key rotation cut short: %s is the key now",
				 v->key_file);
		else
			log_err("vault: cannot rename %s to %s", path, v->key_file);
	} else if (unlink(path) == 0) {
		log_warn("vault: removed %s, left by a key rotation that never committed", path);
	}
	store_vault_key_wipe(&k);
}

/* Finds the key: v->open, or v->sealed saying why not. */
static int key_find(struct fw *fw, struct fw_vault *v)
{
	unsigned char id[STORE_VAULT_ID_LEN];
	char why[300], hex[9];
	int err;

	err = vault_id(fw, id);
	if (err == ERR_NOTFOUND) { /* an empty vault takes the key it finds, or a new one */
		err = key_load(v->key_file, &v->key, why, sizeof(why));
		if (err == ERR_NOTFOUND) {
			char dir[4096];

			v->made_dir = key_dir(v->key_file, dir, sizeof(dir)) && access(dir, F_OK) != 0;
			err = key_make(v->key_file, &v->key);
			if (err == ERR_OK)
				log_info("vault: made a new device key in %s", v->key_file);
			else
				snprintf(why, sizeof(why), "%s: cannot write: %s", v->key_file,
					 hal_strerror(err));
		}
		v->open = err == ERR_OK;
		if (!v->open)
			snprintf(v->sealed, sizeof(v->sealed), "vault: %.180s", why);
		return ERR_OK;
	}
	if (err != ERR_OK)
		return err;
	settle_rotation(v, id);
	err = key_load(v->key_file, &v->key, why, sizeof(why));
	vault_hexid(id, hex);
	if (err != ERR_OK)
		snprintf(v->sealed, sizeof(v->sealed), "vault sealed: %.150s (the vault needs key %s)",
			 why, hex);
	else if (memcmp(v->key.id, id, sizeof(id)) != 0)
		snprintf(v->sealed, sizeof(v->sealed),
			 "vault sealed: %s is not the key the vault was sealed with (key %s)",
			 v->key_file, hex);
	else
		v->open = true;
	return ERR_OK;
}

struct gather {
	struct fw *fw;
	struct store_txn *t;
	char *buf;
	size_t len, cap;
	unsigned n;
};

static int gather_add(struct gather *g, const char *s, size_t n)
{
	if (g->len + n + 2 > g->cap) {
		size_t cap = (g->len + n + 2) * 2;
		char *b = malloc(cap);

		if (!b)
			return ERR_NOMEM;
		if (g->buf) {
			memcpy(b, g->buf, g->len);
			explicit_bzero(g->buf, g->cap);
			free(g->buf);
		}
		g->buf = b;
		g->cap = cap;
	}
	memcpy(g->buf + g->len, s, n);
	g->len += n;
	g->buf[g->len] = '\0';
	return ERR_OK;
}

static int gather_one(const char *name, void *arg)
{
	struct gather *g = arg;
	char head[STORE_VAULT_NAME_MAX + 8];
	size_t len;
	char *secret;
	int err, n;

	if (!cfg_ident_valid(name)) { /* written by nothing of ours: a damaged store */
		fw_error(g->fw, "vault: an entry with a malformed name: skipped");
		return ERR_OK;
	}
	err = store_vault_get(g->t, &g->fw->vault->key, name, &secret, &len);
	if (err == ERR_AUTH) {
		fw_error(g->fw, "vault: entry %s does not open with the device key: skipped", name);
		return ERR_OK;
	}
	if (err != ERR_OK)
		return err;
	n = snprintf(head, sizeof(head), "%s\"%s\":", g->n ? "," : "{", name);
	err = gather_add(g, head, (size_t)n);
	if (err == ERR_OK)
		err = gather_add(g, secret, len);
	g->n += err == ERR_OK;
	explicit_bzero(secret, len);
	free(secret);
	return err;
}

/* Says once per load which entries the config names that the vault lacks. */
static void note_missing(struct fw *fw)
{
	const struct cfg *c = fw->cfg;

	if (!fw->vault->open)
		return;
	for (unsigned i = 0; i < c->n_accounts; i++)
		if (!cfg_secrets_find(fw->secrets, c->accounts[i].credentials))
			log_warn("vault: account %s: no credentials '%s': it sends nothing until "
				 "`outpostctl creds set %s`", c->accounts[i].name,
				 c->accounts[i].credentials, c->accounts[i].credentials);
	if (c->mqtt.credentials && !cfg_secrets_find(fw->secrets, c->mqtt.credentials))
		log_warn("vault: mqtt: no credentials '%s': connecting without a password",
			 c->mqtt.credentials);
}

/* fw->secrets from the vault's entries (an empty set if it is sealed). */
static int secrets_from_vault(struct fw *fw)
{
	struct gather g = {.fw = fw};
	struct cfg_secrets *sec = NULL;
	char why[300];
	int err = ERR_OK;

	if (fw->vault->open) {
		err = store_begin(fw->store, STORE_RDONLY, &g.t);
		if (err == ERR_OK)
			err = store_vault_each(g.t, gather_one, &g);
		store_abort(g.t);
	}
	if (err == ERR_OK && g.n && (err = gather_add(&g, "}", 1)) == ERR_OK) {
		err = cfg_secrets_parse(g.buf, g.len, "vault", &sec, why, sizeof(why));
		if (err == ERR_CONFIG)
			fw_error(fw, "%s", why);
	}
	if (g.buf) {
		explicit_bzero(g.buf, g.cap);
		free(g.buf);
	}
	if (err != ERR_OK && err != ERR_CONFIG)
		return err;
	cfg_secrets_free(fw->secrets);
	fw->secrets = sec;
	note_missing(fw);
	return ERR_OK;
}

/* Seals the file's entries in one transaction, then shreds the file. */
static int import(struct fw *fw, struct cfg_secrets *file)
{
	struct store_txn *t;
	unsigned n = cfg_secrets_count(file);
	int err;

	if (!n || !fw->cfg->secrets_file)
		return ERR_OK;
	if (!fw->vault->open) {
		fw_error(fw, "%s: not imported: %s", fw->cfg->secrets_file, fw->vault->sealed);
		return ERR_OK;
	}
	err = store_begin(fw->store, 0, &t);
	for (unsigned i = 0; err == ERR_OK && i < n; i++) {
		const struct cfg_secret *s = cfg_secrets_at(file, i);

		err = store_vault_put(t, &fw->vault->key, s->name, s->json, strlen(s->json));
	}
	if (err == ERR_OK)
		err = store_commit(t);
	else
		store_abort(t);
	if (err != ERR_OK) {
		fw_error(fw, "%s: import into the vault failed: %s", fw->cfg->secrets_file,
			 hal_strerror(err));
		return err == ERR_FULL ? ERR_OK : err;
	}
	OUTPOST_CRASH_POINT("vault-import-after-commit");
	if (hal_file_shred(fw->cfg->secrets_file) == ERR_OK)
		log_info("vault: imported %u entr%s from %s and removed the file", n,
			 n == 1 ? "y" : "ies", fw->cfg->secrets_file);
	else
		fw_error(fw, "vault: imported %u entries from %s but cannot remove it: remove it "
			 "by hand", n, fw->cfg->secrets_file);
	return ERR_OK;
}

int fw_vault_open(struct fw *fw, struct cfg_secrets *file)
{
	struct fw_vault *v = calloc(1, sizeof(*v));
	int err;

	if (!v || !(v->key_file = strdup(fw->cfg->vault.key_file))) {
		free(v);
		return ERR_NOMEM;
	}
	fw->vault = v;
	err = key_find(fw, v);
	if (err == ERR_OK && v->sealed[0])
		fw_error(fw, "%s", v->sealed);
	if (err == ERR_OK)
		err = import(fw, file);
	if (err == ERR_OK)
		err = secrets_from_vault(fw);
	return err;
}

int fw_vault_import(struct fw *fw, struct cfg_secrets *file)
{
	int err = import(fw, file);

	return err == ERR_OK ? secrets_from_vault(fw) : err;
}

int fw_vault_give(struct fw *fw, const struct hal_priv_id *id, char *why, size_t whylen)
{
	struct fw_vault *v = fw->vault;
	struct stat st;
	char dir[4096];
	int err = ERR_OK;

	/* Root's key (made now, or by a run before "user" was set) becomes the
	 * user's, or the next start as the user could not read it. Someone
	 * else's key is left alone: hal_file_check_private refuses it anyway. */
	if (lstat(v->key_file, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0)
		err = hal_priv_give(id, v->key_file, why, whylen);
	if (err == ERR_OK && v->made_dir && key_dir(v->key_file, dir, sizeof(dir)))
		err = hal_priv_give(id, dir, why, whylen);
	return err;
}

void fw_vault_free(struct fw *fw)
{
	if (!fw->vault)
		return;
	store_vault_key_wipe(&fw->vault->key);
	free(fw->vault->key_file);
	free(fw->vault);
	fw->vault = NULL;
}

const char *fw_vault_sealed(const struct fw *fw)
{
	return fw->vault && !fw->vault->open ? fw->vault->sealed : NULL;
}

/* Runs fn(t, arg) in one write txn, then reopens fw->secrets and applies
 * them to the accounts. */
static int change(struct fw *fw, int (*fn)(struct fw *fw, struct store_txn *t, void *arg),
		  void *arg, const struct store_vault_key *after, char *why, size_t whylen)
{
	struct store_txn *t;
	int err;

	if (!fw->vault || !fw->vault->open) {
		snprintf(why, whylen, "%s", fw->vault ? fw->vault->sealed : "no vault");
		return ERR_AUTH;
	}
	err = store_begin(fw->store, 0, &t);
	if (err == ERR_OK)
		err = fn(fw, t, arg);
	if (err == ERR_OK)
		err = store_commit(t);
	else
		store_abort(t);
	if (err == ERR_NOTFOUND)
		snprintf(why, whylen, "no such credentials entry");
	else if (err != ERR_OK)
		snprintf(why, whylen, "vault: %s", hal_strerror(err));
	if (err == ERR_OK && after) /* the vault is sealed with it now */
		fw->vault->key = *after;
	if (err == ERR_OK && (err = secrets_from_vault(fw)) == ERR_OK)
		err = fw_sender_reconfigure(fw);
	return err;
}

struct put_arg {
	const char *name, *json;
};

static int do_put(struct fw *fw, struct store_txn *t, void *arg)
{
	const struct put_arg *p = arg;

	return store_vault_put(t, &fw->vault->key, p->name, p->json, strlen(p->json));
}

int fw_vault_set(struct fw *fw, const char *name, const char *entry_json, char *why,
		 size_t whylen)
{
	struct put_arg p = {name, entry_json};
	struct cfg_secrets *check = NULL;
	char *text;
	size_t len = strlen(name) + strlen(entry_json) + 8;
	int err;

	/* Checked as the file's entries are, so the vault never holds one that
	 * would not load. */
	text = malloc(len);
	if (!text)
		return ERR_NOMEM;
	snprintf(text, len, "{\"%s\":%s}", name, entry_json);
	err = cfg_secrets_parse(text, strlen(text), "creds", &check, why, whylen);
	explicit_bzero(text, len);
	free(text);
	cfg_secrets_free(check);
	if (err != ERR_OK)
		return err;
	return change(fw, do_put, &p, NULL, why, whylen);
}

static int do_del(struct fw *fw, struct store_txn *t, void *arg)
{
	(void)fw;
	return store_vault_del(t, arg);
}

int fw_vault_delete(struct fw *fw, const char *name, char *why, size_t whylen)
{
	return change(fw, do_del, (void *)name, NULL, why, whylen);
}

struct rekey_arg {
	const struct store_vault_key *to;
	unsigned n;
};

static int do_rekey(struct fw *fw, struct store_txn *t, void *arg)
{
	struct rekey_arg *r = arg;

	return store_vault_rekey(t, &fw->vault->key, r->to, &r->n);
}

int fw_vault_rotate(struct fw *fw, unsigned *entries, char *why, size_t whylen)
{
	struct store_vault_key next;
	struct rekey_arg r = {&next, 0};
	char path[4200], hex[9];
	int err;

	*entries = 0;
	if (!fw->vault || !fw->vault->open) {
		snprintf(why, whylen, "%s", fw->vault ? fw->vault->sealed : "no vault");
		return ERR_AUTH;
	}
	snprintf(path, sizeof(path), "%s.new", fw->vault->key_file);
	err = key_make(path, &next);
	if (err != ERR_OK) {
		snprintf(why, whylen, "%s: cannot write the new key: %s", path, hal_strerror(err));
		return err;
	}
	OUTPOST_CRASH_POINT("vault-rotate-before-commit");
	err = change(fw, do_rekey, &r, &next, why, whylen);
	if (err != ERR_OK) {
		unlink(path);
		store_vault_key_wipe(&next);
		return err;
	}
	OUTPOST_CRASH_POINT("vault-rotate-after-commit");
	store_vault_key_wipe(&next);
	if (hal_file_rename(path, fw->vault->key_file) != ERR_OK) {
		fw_error(fw, "vault: re-sealed under %s but cannot rename it to %s; the next "
			 "start finishes it", path, fw->vault->key_file);
	}
	*entries = r.n;
	vault_hexid(fw->vault->key.id, hex);
	log_info("vault: key rotated: %u entr%s re-sealed, key %s", r.n, r.n == 1 ? "y" : "ies",
		 hex);
	return ERR_OK;
}
