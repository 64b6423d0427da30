/*
 * fuzz_frame.c - the frame decoder of the serial control line (net/frame.c)
 * on any byte stream.
 *
 * Input: byte 0 picks a chunk size (chunk_sizes[], low 3 bits); the rest is
 * the stream. It is decoded twice: in chunks of that size and in one piece
 * (as far as the decoder takes it).
 *
 * Oracles besides the sanitizers: both decodings hand out the same frames
 * and the same counters (net/frame.h: any split); every frame handed out,
 * encoded again, occurs in the stream as is (nothing is made up); every
 * byte is accounted for: garbage + frames + pending = the stream; the
 * buffer never passes NET_FRAME_DEC_MAX.
 */
#include <string.h>

#include "hal/err.h"
#include "net/frame.h"
#include "tests/fuzz/fuzz.h"

static const size_t chunk_sizes[] = {1, 2, 3, 7, 64, 4096, 65536, 1 << 20};

struct run {
	struct net_frame_dec d;
	uint64_t frame_bytes;
	uint32_t hash; /* of the payloads in order */
};

static void check_frame(struct run *r, const uint8_t *s, size_t len, const char *p, size_t plen)
{
	size_t cap = plen + NET_FRAME_OVERHEAD, n = 0;
	char *f = malloc(cap ? cap : 1);

	FUZZ_ASSERT(f, "out of memory");
	FUZZ_ASSERT(p[plen] == '\0', "payload not NUL-terminated");
	FUZZ_ASSERT(net_frame_encode(p, plen, f, cap, &n) == ERR_OK, "frame not encodable");
	FUZZ_ASSERT(memmem(s, len, f, n), "a frame of %zu bytes not in the stream", plen);
	free(f);
	r->frame_bytes += n;
	r->hash = net_frame_crc32(p, plen) ^ (r->hash * 31u + (uint32_t)plen);
}

static void decode(struct run *r, const uint8_t *s, size_t len, size_t chunk)
{
	size_t off = 0, taken, plen;
	char *p;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		FUZZ_ASSERT(net_frame_dec_feed(&r->d, s + off, n, &taken) == ERR_OK, "feed");
		off += taken;
		while (net_frame_dec_next(&r->d, &p, &plen))
			check_frame(r, s, len, p, plen);
		FUZZ_ASSERT(taken > 0 || off == len, "no progress at %zu of %zu", off, len);
		FUZZ_ASSERT(r->d.cap <= NET_FRAME_DEC_MAX, "buffer of %zu bytes", r->d.cap);
	}
	FUZZ_ASSERT(r->d.garbage_bytes + r->frame_bytes + net_frame_dec_pending(&r->d) == len,
		    "bytes unaccounted: %llu garbage + %llu in frames + %zu pending != %zu",
		    (unsigned long long)r->d.garbage_bytes, (unsigned long long)r->frame_bytes,
		    net_frame_dec_pending(&r->d), len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a = {0}, b = {0};

	if (size < 1)
		return 0;
	decode(&a, data + 1, size - 1, chunk_sizes[data[0] & 7]);
	decode(&b, data + 1, size - 1, size);
	FUZZ_ASSERT(a.d.frames == b.d.frames && a.hash == b.hash, "frames depend on the split");
	FUZZ_ASSERT(a.d.bad_frames == b.d.bad_frames && a.d.garbage_bytes == b.d.garbage_bytes,
		    "counters depend on the split");
	net_frame_dec_free(&a.d);
	net_frame_dec_free(&b.d);
	return 0;
}
