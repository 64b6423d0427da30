#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hal/err.h"
#include "net/frame.h"

#define HDR_LEN 8  /* "#" + 6 hex + ":" */
#define TAIL_LEN 10 /* "*" + 8 hex + "\n" */
/* Most frames are tens of bytes; start small, grow to NET_FRAME_DEC_MAX for
 * a big one, and shrink back once it is gone. */
#define BUF_MIN ((size_t)4096)

/* Half a byte at a time: a 64-byte table instead of 1 KiB, fast enough for
 * frames that crawl over a serial line. */
static const uint32_t crc_tab[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t net_frame_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_tab[crc & 15];
		crc = (crc >> 4) ^ crc_tab[crc & 15];
	}
	return ~crc;
}

static void put_hex(char *out, uint32_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	while (digits-- > 0) {
		out[digits] = hex[v & 15];
		v >>= 4;
	}
}

/* Lowercase only: one spelling per value keeps the format strict. */
static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads n hex digits; false if one is not a lowercase hex digit. */
static bool get_hex(const char *s, int n, uint32_t *v)
{
	uint32_t r = 0;

	for (int i = 0; i < n; i++) {
		int h = hex_val(s[i]);

		if (h < 0)
			return false;
		r = r << 4 | (uint32_t)h;
	}
	*v = r;
	return true;
}

int net_frame_encode(const void *payload, size_t len, char *out, size_t outcap, size_t *outlen)
{
	if (len > NET_FRAME_MAX)
		return ERR_TOOBIG;
	if (outcap < len + NET_FRAME_OVERHEAD || memchr(payload, '\n', len))
		return ERR_INVAL;
	out[0] = '#';
	put_hex(out + 1, (uint32_t)len, 6);
	out[7] = ':';
	memcpy(out + HDR_LEN, payload, len);
	out[HDR_LEN + len] = '*';
	put_hex(out + HDR_LEN + len + 1, net_frame_crc32(payload, len), 8);
	out[HDR_LEN + len + 9] = '\n';
	*outlen = len + NET_FRAME_OVERHEAD;
	return ERR_OK;
}

void net_frame_dec_free(struct net_frame_dec *d)
{
	if (!d)
		return;
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

size_t net_frame_dec_pending(const struct net_frame_dec *d)
{
	return d->len - d->off;
}

static void advance(struct net_frame_dec *d, size_t n)
{
	d->off += n;
	if (d->nl_scan < d->off)
		d->nl_scan = d->off;
	if (d->off == d->len)
		d->off = d->len = d->nl_scan = 0;
}

/* Moves the live bytes to the front once they are no more than the bytes
 * already consumed: what is moved was paid for by what was read before. */
static void compact(struct net_frame_dec *d)
{
	size_t live = d->len - d->off;
	char *p;

	if (d->off == 0 || d->off < live)
		return;
	memmove(d->buf, d->buf + d->off, live);
	d->nl_scan -= d->off;
	d->len = live;
	d->off = 0;
	if (d->cap > BUF_MIN && live <= BUF_MIN / 4) {
		p = realloc(d->buf, BUF_MIN);
		if (p) { /* keeping the big buffer is fine too */
			d->buf = p;
			d->cap = BUF_MIN;
		}
	}
}

static int grow(struct net_frame_dec *d)
{
	size_t cap = d->cap ? d->cap * 2 : BUF_MIN;
	char *p;

	if (cap > NET_FRAME_DEC_MAX)
		cap = NET_FRAME_DEC_MAX;
	p = realloc(d->buf, cap);
	if (!p)
		return ERR_NOMEM;
	d->buf = p;
	d->cap = cap;
	return ERR_OK;
}

int net_frame_dec_feed(struct net_frame_dec *d, const void *data, size_t len, size_t *taken)
{
	size_t n;
	int rc;

	*taken = 0;
	compact(d);
	if (d->len == d->cap && d->cap < NET_FRAME_DEC_MAX && (rc = grow(d)) != ERR_OK)
		return rc;
	n = d->cap - d->len;
	if (n > len)
		n = len;
	if (n)
		memcpy(d->buf + d->len, data, n);
	d->len += n;
	*taken = n;
	return ERR_OK;
}

enum verdict { WAIT, NOT_A_HEADER, BAD, GOOD };

/* Checks the header at off as far as it has arrived. */
static enum verdict check_header(const struct net_frame_dec *d, size_t *plen)
{
	const char *p = d->buf + d->off;
	size_t live = d->len - d->off;
	uint32_t v = 0;

	for (size_t i = 1; i < HDR_LEN && i < live; i++) {
		if (i < 7 ? hex_val(p[i]) < 0 : p[i] != ':')
			return NOT_A_HEADER;
	}
	if (live < HDR_LEN)
		return WAIT;
	get_hex(p + 1, 6, &v);
	if (v > NET_FRAME_MAX)
		return BAD;
	*plen = v;
	return GOOD;
}

/* The candidate at off, whose header is good: a "\n" before the place of its
 * own "\n" ends it at once (whatever its length says), else it waits for
 * its tail. So a truncated frame never holds back the good one after it. */
static enum verdict check_frame(struct net_frame_dec *d, size_t plen)
{
	size_t body = d->off + HDR_LEN, end = body + plen, scan_to;
	const char *p = d->buf + d->off, *nl;
	uint32_t crc;

	if (d->nl_scan < body)
		d->nl_scan = body;
	scan_to = end + TAIL_LEN - 1 < d->len ? end + TAIL_LEN - 1 : d->len;
	if (d->nl_scan < scan_to) {
		nl = memchr(d->buf + d->nl_scan, '\n', scan_to - d->nl_scan);
		d->nl_scan = nl ? (size_t)(nl - d->buf) : scan_to;
		if (nl)
			return BAD;
	}
	if (d->len - d->off < HDR_LEN + plen + TAIL_LEN)
		return WAIT;
	p += HDR_LEN + plen;
	if (p[0] != '*' || p[9] != '\n' || !get_hex(p + 1, 8, &crc))
		return BAD;
	return crc == net_frame_crc32(d->buf + body, plen) ? GOOD : BAD;
}

int net_frame_dec_next(struct net_frame_dec *d, char **payload, size_t *len)
{
	enum verdict v;
	size_t plen = 0;
	char *p, *h;

	*payload = NULL;
	*len = 0;
	while (d->off < d->len) {
		p = d->buf + d->off;
		if (p[0] != '#') {
			h = memchr(p, '#', d->len - d->off);
			plen = h ? (size_t)(h - p) : d->len - d->off;
			d->garbage_bytes += plen;
			advance(d, plen);
			continue;
		}
		v = check_header(d, &plen);
		if (v == GOOD)
			v = check_frame(d, plen);
		if (v == WAIT)
			return 0;
		if (v == GOOD) {
			p[HDR_LEN + plen] = '\0'; /* over the "*": the frame is consumed */
			*payload = p + HDR_LEN;
			*len = plen;
			d->frames++;
			advance(d, HDR_LEN + plen + TAIL_LEN);
			return 1;
		}
		if (v == BAD)
			d->bad_frames++;
		d->garbage_bytes++; /* the "#" */
		advance(d, 1);
	}
	return 0;
}
