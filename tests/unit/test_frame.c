/*
 * test_frame.c - checksummed frames for a noisy line (net/frame.c): the
 * encoding, the CRC, and a decoder that is fed in every split and must find
 * each good frame however garbage, truncation and flipped bits surround it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hal/err.h"
#include "net/frame.h"

#define MAX_OUT 16

/* What a decoder made of a stream. */
struct got {
	struct net_frame_dec d;
	char *frame[MAX_OUT];
	size_t flen[MAX_OUT];
	unsigned n;
};

static void got_free(struct got *g)
{
	for (unsigned i = 0; i < g->n; i++)
		free(g->frame[i]);
	net_frame_dec_free(&g->d);
	memset(g, 0, sizeof(*g));
}

static void take_all(struct got *g)
{
	char *p;
	size_t len;

	while (net_frame_dec_next(&g->d, &p, &len)) {
		assert_true(g->n < MAX_OUT);
		assert_int_equal(p[len], '\0');
		g->frame[g->n] = malloc(len + 1);
		assert_non_null(g->frame[g->n]);
		memcpy(g->frame[g->n], p, len + 1);
		g->flen[g->n++] = len;
	}
	assert_null(p);
}

/* Feeds s in pieces of `chunk` bytes, taking frames after each. */
static void feed(struct got *g, const char *s, size_t len, size_t chunk)
{
	size_t off = 0, n, taken;

	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		assert_int_equal(net_frame_dec_feed(&g->d, s + off, n, &taken), ERR_OK);
		off += taken;
		take_all(g);
	}
}

/* Appends the frame of payload to buf at *at. */
static void put_frame(char *buf, size_t cap, size_t *at, const char *payload)
{
	size_t n;

	assert_int_equal(net_frame_encode(payload, strlen(payload), buf + *at, cap - *at, &n),
			 ERR_OK);
	*at += n;
}

static void put_raw(char *buf, size_t cap, size_t *at, const char *s)
{
	size_t n = strlen(s);

	assert_true(*at + n <= cap);
	memcpy(buf + *at, s, n);
	*at += n;
}

static void test_crc_and_encoding(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	assert_int_equal(net_frame_crc32("123456789", 9), 0xcbf43926u); /* the check value */
	assert_int_equal(net_frame_crc32("", 0), 0);
	assert_int_equal(net_frame_encode("{\"cmd\":\"status\"}", 16, out, sizeof(out), &n), ERR_OK);
	assert_int_equal(n, 16 + NET_FRAME_OVERHEAD);
	assert_memory_equal(out, "#000010:{\"cmd\":\"status\"}*", 25);
	assert_int_equal(out[n - 1], '\n');
	assert_int_equal(net_frame_encode("a\nb", 3, out, sizeof(out), &n), ERR_INVAL);
	assert_int_equal(net_frame_encode("abc", 3, out, 3 + NET_FRAME_OVERHEAD - 1, &n), ERR_INVAL);
	assert_int_equal(net_frame_encode(out, NET_FRAME_MAX + 1, out, sizeof(out), &n), ERR_TOOBIG);
}

/* Every split of a stream of three frames, down to byte by byte. */
static void test_any_split(void **state)
{
	static const size_t chunks[] = {1, 2, 3, 7, 13, 64, 4096};
	char s[512];
	size_t len = 0;

	(void)state;
	put_frame(s, sizeof(s), &len, "{\"cmd\":\"status\",\"id\":1}");
	put_frame(s, sizeof(s), &len, "");
	put_frame(s, sizeof(s), &len, "{\"x\":\"#000003:abc*00000000\"}");
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct got g = {0};

		feed(&g, s, len, chunks[i]);
		assert_int_equal(g.n, 3);
		assert_string_equal(g.frame[0], "{\"cmd\":\"status\",\"id\":1}");
		assert_int_equal(g.flen[1], 0);
		assert_string_equal(g.frame[2], "{\"x\":\"#000003:abc*00000000\"}");
		assert_int_equal(g.d.frames, 3);
		assert_int_equal(g.d.bad_frames, 0);
		assert_int_equal(g.d.garbage_bytes, 0);
		assert_int_equal(net_frame_dec_pending(&g.d), 0);
		got_free(&g);
	}
}

static void test_garbage_around(void **state)
{
	char s[512];
	size_t len = 0;
	struct got g = {0};

	(void)state;
	put_raw(s, sizeof(s), &len, "noise\n\x01\xff#12:x#"); /* 14 bytes, two "#" */
	put_frame(s, sizeof(s), &len, "{\"a\":1}");
	put_raw(s, sizeof(s), &len, "##zz\n"); /* 5 */
	put_frame(s, sizeof(s), &len, "{\"b\":2}");
	put_raw(s, sizeof(s), &len, "tail"); /* 4, no "#": garbage at once */
	feed(&g, s, len, 1);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.frame[0], "{\"a\":1}");
	assert_string_equal(g.frame[1], "{\"b\":2}");
	assert_int_equal(g.d.garbage_bytes, 14 + 5 + 4);
	assert_int_equal(g.d.bad_frames, 0); /* no candidate had a good header */
	got_free(&g);
}

/* The rest of a frame was lost; the next one must not be. */
static void test_truncated_then_good(void **state)
{
	char full[128], s[256];
	size_t flen = 0, len = 0;
	struct got g = {0};

	(void)state;
	put_frame(full, sizeof(full), &flen, "{\"cmd\":\"outbox\",\"limit\":5}");
	for (size_t cut = 1; cut < flen; cut++) {
		len = 0;
		memcpy(s, full, cut);
		len = cut;
		put_frame(s, sizeof(s), &len, "{\"cmd\":\"status\"}");
		feed(&g, s, len, 5);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.frame[0], "{\"cmd\":\"status\"}");
		assert_int_equal(g.d.garbage_bytes, cut);
		assert_int_equal(net_frame_dec_pending(&g.d), 0);
		got_free(&g);
	}
}

/* A flipped bit anywhere in a frame loses that frame only. */
static void test_flipped_bits(void **state)
{
	char s[256];
	size_t len = 0, first;
	unsigned bad = 0;

	(void)state;
	put_frame(s, sizeof(s), &len, "{\"cmd\":\"status\",\"id\":\"a7\"}");
	first = len;
	put_frame(s, sizeof(s), &len, "{\"cmd\":\"status\",\"id\":\"a8\"}");
	for (size_t at = 0; at < first; at++) {
		for (int bit = 0; bit < 8; bit++) {
			struct got g = {0};

			s[at] ^= (char)(1 << bit);
			feed(&g, s, len, 3);
			assert_int_equal(g.n, 1);
			assert_string_equal(g.frame[0], "{\"cmd\":\"status\",\"id\":\"a8\"}");
			assert_int_equal(g.d.garbage_bytes, first);
			bad += g.d.bad_frames;
			s[at] ^= (char)(1 << bit);
			got_free(&g);
		}
	}
	/* A flip after the header leaves a good header: a bad frame each time
	 * (and some length flips too; a flip of "#" or ":" or into a non-hex
	 * digit is plain garbage). */
	assert_true(bad >= (first - 8) * 8);
}

/* Specific damage: body, CRC, length longer and shorter. */
static void test_named_damage(void **state)
{
	static const struct {
		size_t at;
		char to;
	} cases[] = {
		{10, 'X'}, /* body */
		{30, 0},   /* a CRC digit (CRC at 25..32): '0' <-> '1' */
		{6, '2'},  /* length 0x10 -> 0x12: its "\n" comes too early */
		{4, '1'},  /* length 0x10 -> 0x110: the same, from further away */
		{5, '0'},  /* length 0x10 -> 0x00: no "*" after the header */
	};
	char s[256];
	size_t len = 0, first;

	(void)state;
	put_frame(s, sizeof(s), &len, "{\"cmd\":\"status\"}");
	first = len;
	put_frame(s, sizeof(s), &len, "{\"ok\":true}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got g = {0};
		char keep = s[cases[i].at];

		s[cases[i].at] = cases[i].to ? cases[i].to : keep == '0' ? '1' : '0';
		feed(&g, s, len, 1);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.frame[0], "{\"ok\":true}");
		assert_int_equal(g.d.bad_frames, 1);
		assert_int_equal(g.d.garbage_bytes, first);
		s[cases[i].at] = keep;
		got_free(&g);
	}
}

static void test_overlong_length(void **state)
{
	char s[256];
	size_t len = 0;
	struct got g = {0};

	(void)state;
	put_raw(s, sizeof(s), &len, "#040001:"); /* one byte over the limit */
	put_frame(s, sizeof(s), &len, "{\"ok\":true}");
	feed(&g, s, len, 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.d.bad_frames, 1);
	assert_int_equal(g.d.garbage_bytes, 8);
	got_free(&g);

	/* Uppercase hex is not the format. */
	len = 0;
	put_raw(s, sizeof(s), &len, "#00000A:0123456789*00000000\n");
	feed(&g, s, len, 64);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.d.bad_frames, 0);
	assert_int_equal(g.d.garbage_bytes, len);
	got_free(&g);
}

/* A header that claims a huge length and never gets a "\n": the decoder
 * waits, bounded, and a frame after the limit's worth of bytes is found. */
static void test_header_without_end(void **state)
{
	size_t cap = NET_FRAME_MAX + 512, len = 0;
	char *s = malloc(cap);
	struct got g = {0};

	(void)state;
	assert_non_null(s);
	put_raw(s, cap, &len, "#03ffff:");
	memset(s + len, 'x', NET_FRAME_MAX);
	len += NET_FRAME_MAX;
	put_frame(s, cap, &len, "{\"ok\":true}");
	feed(&g, s, len, 65536);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.frame[0], "{\"ok\":true}");
	assert_int_equal(g.d.bad_frames, 1);
	assert_int_equal(g.d.garbage_bytes, 8 + NET_FRAME_MAX);
	assert_true(g.d.cap <= NET_FRAME_DEC_MAX);
	got_free(&g);
	free(s);
}

static void test_max_size_frame(void **state)
{
	size_t cap = 2 * (NET_FRAME_MAX + NET_FRAME_OVERHEAD) + 64, len = 0, n;
	char *payload = malloc(NET_FRAME_MAX + 1), *s = malloc(cap);
	static const size_t chunks[] = {1000, 65536, NET_FRAME_MAX * 2};

	(void)state;
	assert_non_null(payload);
	assert_non_null(s);
	memset(payload, 'p', NET_FRAME_MAX);
	payload[0] = '#';
	payload[NET_FRAME_MAX] = '\0';
	put_raw(s, cap, &len, "junk");
	assert_int_equal(net_frame_encode(payload, NET_FRAME_MAX, s + len, cap - len, &n), ERR_OK);
	len += n;
	assert_int_equal(net_frame_encode(payload, NET_FRAME_MAX, s + len, cap - len, &n), ERR_OK);
	len += n;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct got g = {0};

		feed(&g, s, len, chunks[i]);
		assert_int_equal(g.n, 2);
		assert_int_equal(g.flen[0], NET_FRAME_MAX);
		assert_int_equal(g.flen[1], NET_FRAME_MAX);
		assert_memory_equal(g.frame[1], payload, NET_FRAME_MAX);
		assert_int_equal(g.d.garbage_bytes, 4);
		assert_true(g.d.cap <= NET_FRAME_DEC_MAX);
		got_free(&g);
	}
	free(payload);
	free(s);
}

/* A long run of "#" and headers without end: every byte is garbage, nothing
 * is handed out, the buffer stays bounded and the work linear (a quadratic
 * decoder would take minutes here). */
static void test_hash_storm(void **state)
{
	size_t len = 4 * NET_FRAME_MAX, n = 0;
	char *s = malloc(len + 64);
	struct got g = {0};

	(void)state;
	assert_non_null(s);
	while (n + 8 <= len) {
		memcpy(s + n, "#03ffff:", 8);
		n += 8;
	}
	put_frame(s, len + 64, &n, "{}");
	feed(&g, s, n, 4096);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.frame[0], "{}");
	assert_int_equal(g.d.garbage_bytes, n - 20);
	assert_true(g.d.cap <= NET_FRAME_DEC_MAX);
	got_free(&g);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_and_encoding),
		cmocka_unit_test(test_any_split),
		cmocka_unit_test(test_garbage_around),
		cmocka_unit_test(test_truncated_then_good),
		cmocka_unit_test(test_flipped_bits),
		cmocka_unit_test(test_named_damage),
		cmocka_unit_test(test_overlong_length),
		cmocka_unit_test(test_header_without_end),
		cmocka_unit_test(test_max_size_frame),
		cmocka_unit_test(test_hash_storm),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
