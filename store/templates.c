/*
 * templates.c - the "templates" DB: template approvals by account.
 *
 * Key: account NUL key (so one account's entries sort together and a
 * cursor can start at "account NUL"). Value: version byte, approved byte,
 * synced_ms and changed_ms (8 B BE each), then the six texts, each
 * NUL-terminated, in struct order.
 */
#include <string.h>

#include "hal/err.h"
#include "hal/log.h"
#include "store/store_impl.h"
#include "store/templates.h"

#define TPL_VERSION 1
#define TPL_HEAD 18 /* version, approved, two times */
#define TPL_TEXTS 6
#define KEY_BUF (STORE_TPL_ACCOUNT_MAX + 1 + STORE_TPL_KEY_MAX)
#define VAL_BUF (TPL_HEAD + TPL_TEXTS * (STORE_TPL_TEXT_MAX + 1))

static int make_key(const char *account, const char *key, unsigned char *buf, MDB_val *k)
{
	size_t a = account ? strlen(account) : 0, n = key ? strlen(key) : 0;

	if (!a || !n || memchr(account, '\0', a) != NULL)
		return ERR_INVAL;
	if (a > STORE_TPL_ACCOUNT_MAX || n > STORE_TPL_KEY_MAX)
		return ERR_TOOBIG;
	memcpy(buf, account, a);
	buf[a] = '\0';
	memcpy(buf + a + 1, key, n);
	k->mv_data = buf;
	k->mv_size = a + 1 + n;
	return ERR_OK;
}

static const char **text_at(struct store_template *t, unsigned i)
{
	const char **f[TPL_TEXTS] = {&t->id, &t->name, &t->status, &t->category, &t->type,
				     &t->reason};
	return f[i];
}

static size_t encode(const struct store_template *tpl, unsigned char *buf)
{
	struct store_template c = *tpl;
	size_t n = TPL_HEAD;

	buf[0] = TPL_VERSION;
	buf[1] = tpl->approved ? 1 : 0;
	store_be64_put(buf + 2, (uint64_t)tpl->synced_ms);
	store_be64_put(buf + 10, (uint64_t)tpl->changed_ms);
	for (unsigned i = 0; i < TPL_TEXTS; i++) {
		const char *s = *text_at(&c, i) ? *text_at(&c, i) : "";
		size_t len = strnlen(s, STORE_TPL_TEXT_MAX + 1);

		if (len > STORE_TPL_TEXT_MAX)
			return 0;
		memcpy(buf + n, s, len + 1);
		n += len + 1;
	}
	return n;
}

static bool decode(const MDB_val *v, struct store_template *out)
{
	const char *p = v->mv_data, *end = p + v->mv_size;
	const unsigned char *u = v->mv_data;

	memset(out, 0, sizeof(*out));
	if (v->mv_size < TPL_HEAD + TPL_TEXTS || u[0] != TPL_VERSION || u[1] > 1)
		return false;
	out->approved = u[1] == 1;
	out->synced_ms = (int64_t)store_be64_get(u + 2);
	out->changed_ms = (int64_t)store_be64_get(u + 10);
	p += TPL_HEAD;
	for (unsigned i = 0; i < TPL_TEXTS; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul)
			return false;
		*text_at(out, i) = p;
		p = nul + 1;
	}
	return p == end;
}

int store_template_get(struct store_txn *t, const char *account, const char *key,
		       struct store_template *out)
{
	unsigned char kb[KEY_BUF];
	MDB_val k, v;
	int rc;

	if (!t || !out)
		return ERR_INVAL;
	rc = make_key(account, key, kb, &k);
	if (rc != ERR_OK)
		return rc;
	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_TEMPLATES], &k, &v);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "template get");
	if (!decode(&v, out)) {
		log_err("store: template %s/%s: value is corrupt (%zu bytes)", account, key,
			v.mv_size);
		return ERR_STORE;
	}
	return ERR_OK;
}

/* The key of a write: refused (nothing written, txn usable) for a read
 * txn, a poisoned one, or a bad account or key. */
static int write_key(struct store_txn *t, const char *account, const char *key,
		     unsigned char *kb, MDB_val *k)
{
	int rc = t ? store_txn_writable(t) : ERR_INVAL;

	return rc == ERR_OK ? make_key(account, key, kb, k) : rc;
}

int store_template_put(struct store_txn *t, const char *account, const char *key,
		       const struct store_template *tpl)
{
	unsigned char kb[KEY_BUF], vb[VAL_BUF];
	MDB_val k, v;
	int rc = tpl ? write_key(t, account, key, kb, &k) : ERR_INVAL;

	if (rc != ERR_OK)
		return rc;
	v.mv_data = vb;
	v.mv_size = encode(tpl, vb);
	if (!v.mv_size)
		return ERR_TOOBIG;
	return store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_TEMPLATES], &k, &v, 0),
			     "template put");
}

int store_template_del(struct store_txn *t, const char *account, const char *key)
{
	unsigned char kb[KEY_BUF];
	MDB_val k;
	int rc = write_key(t, account, key, kb, &k);

	if (rc != ERR_OK)
		return rc;
	return store_mdb_err(t, mdb_del(store_wtxn(t), t->s->dbi[STORE_DB_TEMPLATES], &k, NULL),
			     "template delete");
}

/* Splits a key into its account and template key (copied into buf). */
static bool split_key(const MDB_val *k, char *buf, const char **account, const char **key)
{
	const char *nul = memchr(k->mv_data, '\0', k->mv_size);

	if (!nul || k->mv_size > KEY_BUF || nul == k->mv_data ||
	    (size_t)(nul - (const char *)k->mv_data) + 1 == k->mv_size)
		return false;
	memcpy(buf, k->mv_data, k->mv_size);
	buf[k->mv_size] = '\0';
	*account = buf;
	*key = buf + (nul - (const char *)k->mv_data) + 1;
	return true;
}

int store_template_list(struct store_txn *t, const char *account,
			int (*cb)(const char *account, const char *key,
				  const struct store_template *tpl, void *arg),
			void *arg)
{
	size_t alen = account ? strlen(account) : 0;
	char kb[KEY_BUF + 1];
	const char *a, *key;
	struct store_template tpl;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	if (!t || !cb || alen > STORE_TPL_ACCOUNT_MAX)
		return ERR_INVAL;
	rc = mdb_cursor_open(t->txn, t->s->dbi[STORE_DB_TEMPLATES], &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "template cursor");
	if (alen) {
		/* "account NUL" sorts before all of the account's keys */
		memcpy(kb, account, alen + 1);
		k.mv_data = kb;
		k.mv_size = alen + 1;
		op = MDB_SET_RANGE;
	}
	for (rc = mdb_cursor_get(c, &k, &v, op); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (alen && (k.mv_size <= alen || memcmp(k.mv_data, account, alen + 1) != 0))
			break;
		if (!split_key(&k, kb, &a, &key) || !decode(&v, &tpl)) {
			log_err("store: a template entry of %zu bytes is corrupt; skipped", v.mv_size);
			continue;
		}
		if (cb(a, key, &tpl, arg) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? ERR_OK
						      : store_mdb_err(t, rc, "template walk");
}
