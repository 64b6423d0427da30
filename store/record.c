/*
 * record.c - outbox record encoding.
 *
 * Layout, version 4; version 3 is the same without the last string,
 * provider_status, and version 2 without body either. A record is written
 * in the oldest layout that holds it: without a provider status as 3,
 * without free-form text as 2 (older records read as they are, and an
 * older daemon reads what it could before; docs/OUTBOX.md). Integers are
 * big-endian with no padding, so a record
 * reads the same on armhf, arm64 and x86 and nothing depends on alignment
 * (the map gives no alignment promise for values):
 *   u8 version, u8 state, u8 err_class, u16 attempts, u32 flags,
 *   i32 err_code, u32 ttl_s, i64 created_ms, i64 due_ms, i64 expires_ms,
 *   i64 updated_ms, i64 attempt_ms, then each string as a length (u16; u32 for vars_json,
 *   the only one that can be large) + bytes + NUL.
 * The NUL is stored so that a decoded string points straight into the map:
 * reading a record copies nothing. The version byte lets a later layout
 * live beside this one.
 *
 * Decoding trusts nothing: a torn or garbage record (bad disk, a bug, a
 * hand edit) must give ERR_STORE, never a read past the value.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hal/err.h"
#include "store/record.h"

#define REC_VERSION 4 /* 1 (before attempt_ms) never left development */
#define REC_VERSION_NO_STATUS 3
#define REC_VERSION_NO_BODY 2
#define REC_FIXED 57

struct str_field {
	size_t off;
	unsigned lenbytes;
};

static const struct str_field str_fields[] = {
	{offsetof(struct store_msg, event_id), 2},   {offsetof(struct store_msg, topic), 2},
	{offsetof(struct store_msg, route), 2},      {offsetof(struct store_msg, account), 2},
	{offsetof(struct store_msg, to), 2},         {offsetof(struct store_msg, template_name), 2},
	{offsetof(struct store_msg, content_sid), 2}, {offsetof(struct store_msg, vars_json), 4},
	{offsetof(struct store_msg, provider_id), 2}, {offsetof(struct store_msg, err_text), 2},
	{offsetof(struct store_msg, body), 2}, /* version 3 on */
	{offsetof(struct store_msg, provider_status), 2}, /* version 4 */
};
#define N_STR (sizeof(str_fields) / sizeof(str_fields[0]))

static const char *str_of(const struct store_msg *m, const struct str_field *f)
{
	const char *s = *(const char *const *)((const char *)m + f->off);

	return s ? s : "";
}

/* The strings of each layout, by version. */
static size_t n_str_version(uint64_t version)
{
	switch (version) {
	case REC_VERSION: return N_STR;
	case REC_VERSION_NO_STATUS: return N_STR - 1;
	case REC_VERSION_NO_BODY: return N_STR - 2;
	default: return 0;
	}
}

/* The oldest layout that holds m: a record with neither free-form text nor
 * a provider status is written in layout 2, as before, so an older daemon
 * (a downgrade) still reads every template message not yet sent. */
static uint64_t version_of(const struct store_msg *m)
{
	if (m->provider_status && m->provider_status[0])
		return REC_VERSION;
	return m->body && m->body[0] ? REC_VERSION_NO_STATUS : REC_VERSION_NO_BODY;
}

static size_t n_str_of(const struct store_msg *m)
{
	return n_str_version(version_of(m));
}

int store_record_size(const struct store_msg *m, size_t *len)
{
	size_t total = REC_FIXED;

	if (m->state < STORE_QUEUED || m->state >= STORE__STATES)
		return ERR_INVAL;
	for (size_t i = 0; i < n_str_of(m); i++) {
		size_t n = strlen(str_of(m, &str_fields[i]));

		if (n > (str_fields[i].lenbytes == 2 ? 0xffffu : STORE_REC_MAX))
			return ERR_TOOBIG;
		total += str_fields[i].lenbytes + n + 1;
		if (total > STORE_REC_MAX)
			return ERR_TOOBIG;
	}
	*len = total;
	return ERR_OK;
}

static void put_be(unsigned char *buf, size_t *pos, uint64_t v, unsigned nbytes)
{
	for (unsigned i = nbytes; i > 0; i--) {
		buf[*pos + i - 1] = (unsigned char)v;
		v >>= 8;
	}
	*pos += nbytes;
}

void store_record_encode(const struct store_msg *m, unsigned char *buf)
{
	size_t pos = 0;

	put_be(buf, &pos, version_of(m), 1);
	put_be(buf, &pos, m->state, 1);
	put_be(buf, &pos, m->err_class, 1);
	put_be(buf, &pos, m->attempts, 2);
	put_be(buf, &pos, m->flags, 4);
	put_be(buf, &pos, (uint32_t)m->err_code, 4);
	put_be(buf, &pos, m->ttl_s, 4);
	put_be(buf, &pos, (uint64_t)m->created_ms, 8);
	put_be(buf, &pos, (uint64_t)m->due_ms, 8);
	put_be(buf, &pos, (uint64_t)m->expires_ms, 8);
	put_be(buf, &pos, (uint64_t)m->updated_ms, 8);
	put_be(buf, &pos, (uint64_t)m->attempt_ms, 8);
	for (size_t i = 0; i < n_str_of(m); i++) {
		const char *s = str_of(m, &str_fields[i]);
		size_t n = strlen(s);

		put_be(buf, &pos, n, str_fields[i].lenbytes);
		memcpy(buf + pos, s, n + 1);
		pos += n + 1;
	}
}

struct reader {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static uint64_t get_be(struct reader *r, unsigned nbytes)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->pos < nbytes) {
		r->bad = true;
		return 0;
	}
	for (unsigned i = 0; i < nbytes; i++)
		v = v << 8 | r->p[r->pos++];
	return v;
}

static const char *get_str(struct reader *r, unsigned lenbytes)
{
	size_t n = (size_t)get_be(r, lenbytes);
	const char *s;

	if (r->bad || n >= r->len - r->pos || r->p[r->pos + n] != '\0') {
		r->bad = true;
		return "";
	}
	s = (const char *)r->p + r->pos;
	r->pos += n + 1;
	return s;
}

static void get_fixed(struct reader *r, struct store_msg *m)
{
	m->state = (uint8_t)get_be(r, 1);
	m->err_class = (uint8_t)get_be(r, 1);
	m->attempts = (uint16_t)get_be(r, 2);
	m->flags = (uint32_t)get_be(r, 4);
	m->err_code = (int32_t)(uint32_t)get_be(r, 4);
	m->ttl_s = (uint32_t)get_be(r, 4);
	m->created_ms = (int64_t)get_be(r, 8);
	m->due_ms = (int64_t)get_be(r, 8);
	m->expires_ms = (int64_t)get_be(r, 8);
	m->updated_ms = (int64_t)get_be(r, 8);
	m->attempt_ms = (int64_t)get_be(r, 8);
}

int store_record_decode(const void *data, size_t len, struct store_msg *m)
{
	struct reader r = {data, len, 0, false};
	uint64_t seq = m->seq;
	size_t n_str;

	memset(m, 0, sizeof(*m));
	m->seq = seq;
	n_str = n_str_version(get_be(&r, 1));
	if (!n_str)
		r.bad = true;
	get_fixed(&r, m);
	m->body = m->provider_status = "";
	for (size_t i = 0; i < n_str; i++)
		*(const char **)((char *)m + str_fields[i].off) = get_str(&r, str_fields[i].lenbytes);
	if (r.pos != r.len || m->state < STORE_QUEUED || m->state >= STORE__STATES)
		r.bad = true;
	if (r.bad) {
		/* Never hand out a half-decoded record: NULL-free but empty. */
		memset(m, 0, sizeof(*m));
		m->seq = seq;
		for (size_t i = 0; i < N_STR; i++)
			*(const char **)((char *)m + str_fields[i].off) = "";
		return ERR_STORE;
	}
	return ERR_OK;
}
