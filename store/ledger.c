/*
 * ledger.c - the recipient ledger and the inbound ids handled.
 *
 * A ledger value, version 1, big-endian like the outbox records:
 *   u8 version, u8 consent, i64 changed_ms, i64 inbound_ms,
 *   u8 len + source bytes, u8 len + account bytes (no NULs).
 * Keys are the E.164 numbers themselves: a person's data is found by the
 * number an operator types (outpostctl forget), never by a scan.
 *
 * An inbound id maps to the wall ms it was marked (8 bytes BE).
 */
#include <stdio.h>
#include <string.h>

#include "hal/err.h"
#include "store/ledger.h"
#include "store/store_impl.h"

#define LEDGER_VERSION 1
#define LEDGER_FIXED 18

const char *store_consent_name(int consent)
{
	static const char *const names[] = {"unknown", "in", "out"};

	return consent >= 0 && consent <= STORE_CONSENT_OUT ? names[consent] : "unknown";
}

int store_consent_parse(const char *s)
{
	for (int i = 0; i <= STORE_CONSENT_OUT; i++)
		if (s && strcmp(s, store_consent_name(i)) == 0)
			return i;
	return -1;
}

/* "+" and 8..15 digits, the first not 0: what config/phone.c makes. */
static bool number_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;

	if (len < 9 || len > 16 || n[0] != '+' || n[1] < '1' || n[1] > '9')
		return false;
	return strspn(n + 1, "0123456789") == len - 1;
}

static size_t encode(const struct store_ledger *e, unsigned char *buf)
{
	size_t sl = strnlen(e->source, sizeof(e->source) - 1);
	size_t al = strnlen(e->account, sizeof(e->account) - 1);
	size_t pos = 0;

	buf[pos++] = LEDGER_VERSION;
	buf[pos++] = e->consent;
	store_be64_put(buf + pos, (uint64_t)e->changed_ms);
	pos += 8;
	store_be64_put(buf + pos, (uint64_t)e->inbound_ms);
	pos += 8;
	buf[pos++] = (unsigned char)sl;
	memcpy(buf + pos, e->source, sl);
	pos += sl;
	buf[pos++] = (unsigned char)al;
	memcpy(buf + pos, e->account, al);
	return pos + al;
}

static bool take_str(const unsigned char *p, size_t len, size_t *pos, char *dst, size_t cap)
{
	size_t n;

	if (*pos >= len)
		return false;
	n = p[(*pos)++];
	if (n >= cap || len - *pos < n || memchr(p + *pos, '\0', n))
		return false;
	memcpy(dst, p + *pos, n);
	dst[n] = '\0';
	*pos += n;
	return true;
}

static int decode(const MDB_val *v, struct store_ledger *e)
{
	const unsigned char *p = v->mv_data;
	size_t pos = LEDGER_FIXED;

	memset(e, 0, sizeof(*e));
	if (v->mv_size < LEDGER_FIXED || p[0] != LEDGER_VERSION || p[1] > STORE_CONSENT_OUT)
		goto bad;
	e->consent = p[1];
	e->changed_ms = (int64_t)store_be64_get(p + 2);
	e->inbound_ms = (int64_t)store_be64_get(p + 10);
	if (!take_str(p, v->mv_size, &pos, e->source, sizeof(e->source)) ||
	    !take_str(p, v->mv_size, &pos, e->account, sizeof(e->account)) || pos != v->mv_size)
		goto bad;
	return ERR_OK;
bad:
	memset(e, 0, sizeof(*e));
	log_err("store: a ledger entry does not decode");
	return ERR_STORE;
}

int store_ledger_get(struct store_txn *t, const char *number, struct store_ledger *e)
{
	MDB_val key = {0}, val;
	int rc;

	memset(e, 0, sizeof(*e));
	if (!number_ok(number))
		return ERR_INVAL;
	key = (MDB_val){strlen(number), (void *)number};
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_LEDGER), &key, &val);
	if (rc == MDB_NOTFOUND)
		return ERR_NOTFOUND;
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "ledger get");
	return decode(&val, e);
}

int store_ledger_put(struct store_txn *t, const char *number, const struct store_ledger *e)
{
	unsigned char buf[LEDGER_FIXED + STORE_LEDGER_SOURCE_MAX + STORE_LEDGER_ACCOUNT_MAX];
	MDB_val key, val;
	int rc = store_txn_writable(t);

	if (rc != ERR_OK)
		return rc;
	if (!number_ok(number) || e->consent > STORE_CONSENT_OUT)
		return ERR_INVAL;
	key = (MDB_val){strlen(number), (void *)number};
	val = (MDB_val){encode(e, buf), buf};
	return store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_LEDGER), &key, &val, 0),
			     "ledger put");
}

/* The entry as it is, or a fresh one; ERR_OK either way. */
static int get_or_new(struct store_txn *t, const char *number, struct store_ledger *e)
{
	int rc = store_ledger_get(t, number, e);

	return rc == ERR_NOTFOUND ? ERR_OK : rc;
}

int store_ledger_consent(struct store_txn *t, const char *number, int consent,
			 const char *source, int64_t at_ms)
{
	struct store_ledger e;
	int rc;

	if (consent < 0 || consent > STORE_CONSENT_OUT)
		return ERR_INVAL;
	rc = get_or_new(t, number, &e);
	if (rc != ERR_OK)
		return rc;
	e.consent = (uint8_t)consent;
	e.changed_ms = at_ms;
	snprintf(e.source, sizeof(e.source), "%s", source ? source : "");
	return store_ledger_put(t, number, &e);
}

int store_ledger_inbound(struct store_txn *t, const char *number, const char *account,
			 int64_t at_ms)
{
	struct store_ledger e;
	int rc = get_or_new(t, number, &e);

	if (rc != ERR_OK)
		return rc;
	if (at_ms <= e.inbound_ms)
		return ERR_OK;
	e.inbound_ms = at_ms;
	snprintf(e.account, sizeof(e.account), "%s", account ? account : "");
	return store_ledger_put(t, number, &e);
}

int store_ledger_delete(struct store_txn *t, const char *number)
{
	MDB_val key;
	int rc = store_txn_writable(t);

	if (rc != ERR_OK)
		return rc;
	if (!number_ok(number))
		return ERR_INVAL;
	key = (MDB_val){strlen(number), (void *)number};
	rc = mdb_del(store_wtxn(t), store_dbi(t, STORE_DB_LEDGER), &key, NULL);
	if (rc == MDB_NOTFOUND)
		return ERR_NOTFOUND;
	return store_mdb_err(t, rc, "ledger delete");
}

int store_ledger_entries(struct store_txn *t, uint64_t *n)
{
	MDB_stat st;
	int rc = mdb_stat(t->txn, store_dbi(t, STORE_DB_LEDGER), &st);

	*n = rc == MDB_SUCCESS ? st.ms_entries : 0;
	return rc == MDB_SUCCESS ? ERR_OK : store_mdb_err(t, rc, "ledger stat");
}

static int id_key(const char *id, MDB_val *key)
{
	size_t n = id ? strlen(id) : 0;

	if (!n)
		return ERR_INVAL;
	if (n > STORE_INBOUND_ID_MAX)
		return ERR_TOOBIG;
	*key = (MDB_val){n, (void *)id};
	return ERR_OK;
}

int store_inbound_seen(struct store_txn *t, const char *id, bool *seen)
{
	MDB_val key, val;
	int rc = id_key(id, &key);

	*seen = false;
	if (rc != ERR_OK)
		return rc;
	rc = mdb_get(t->txn, store_dbi(t, STORE_DB_INBOUND), &key, &val);
	if (rc == MDB_NOTFOUND)
		return ERR_OK;
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "inbound get");
	*seen = true;
	return ERR_OK;
}

int store_inbound_mark(struct store_txn *t, const char *id, int64_t at_ms)
{
	unsigned char b[8];
	MDB_val key, val = {8, b};
	int rc = store_txn_writable(t);

	if (rc == ERR_OK)
		rc = id_key(id, &key);
	if (rc != ERR_OK)
		return rc;
	store_be64_put(b, (uint64_t)at_ms);
	return store_mdb_err(t, mdb_put(store_wtxn(t), store_dbi(t, STORE_DB_INBOUND), &key, &val, 0),
			     "inbound put");
}

int store_inbound_prune(struct store_txn *t, int64_t before_ms, unsigned max, unsigned *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	unsigned looked = 0;
	int rc = store_txn_writable(t);

	*n = 0;
	if (rc != ERR_OK)
		return rc;
	rc = mdb_cursor_open(store_wtxn(t), store_dbi(t, STORE_DB_INBOUND), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "inbound cursor");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && looked < max;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), looked++) {
		if (v.mv_size == 8 && (int64_t)store_be64_get(v.mv_data) >= before_ms)
			continue;
		rc = mdb_cursor_del(c, 0);
		if (rc != MDB_SUCCESS)
			break;
		(*n)++;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? ERR_OK
						      : store_mdb_err(t, rc, "inbound prune");
}

static int hwm_key(const char *account, char *key, size_t len)
{
	if (!account || !account[0] || (size_t)snprintf(key, len, "inbound/%s", account) >= len)
		return ERR_INVAL;
	return ERR_OK;
}

int store_inbound_hwm(struct store_txn *t, const char *account, int64_t *ms)
{
	char key[96];
	uint64_t v = 0;
	int rc = hwm_key(account, key, sizeof(key));

	if (rc == ERR_OK)
		rc = store_meta_get(t, key, &v);
	*ms = rc == ERR_OK ? (int64_t)v : 0;
	return rc;
}

int store_inbound_hwm_put(struct store_txn *t, const char *account, int64_t ms)
{
	char key[96];
	int rc = hwm_key(account, key, sizeof(key));

	return rc == ERR_OK ? store_meta_put(t, key, (uint64_t)(ms > 0 ? ms : 0)) : rc;
}
