/*
 * frame.h - checksummed text frames for the control protocol on a noisy line
 * (a serial console), shared by outpostd and outpostctl.
 *
 * A frame is readable in a terminal:
 *
 *     #00000f:{"cmd":"status"}*0d4a1c2b\n
 *
 * "#", the payload length as 6 lowercase hex digits, ":", the payload (JSON,
 * UTF-8, never a "\n"), "*", the CRC-32 (IEEE 802.3, as zlib's crc32()) of
 * the payload as 8 lowercase hex digits, "\n". A payload is at most
 * NET_FRAME_MAX bytes.
 *
 * The decoder takes bytes as they come, in any split, and hands out whole
 * frames whose CRC matches. It scans for "#"; whatever is not a frame is
 * skipped and counted. A candidate that fails - a bad header, a length over
 * the limit, a "\n" before its end, a wrong terminator or CRC - costs only its
 * "#": scanning resumes at the next byte, so a good frame that starts inside
 * garbage or inside a damaged frame's body is still found. Since no payload
 * holds a "\n", a damaged length can never make the decoder wait past the
 * damaged frame's own "\n".
 *
 * Memory is bounded: the decoder's buffer grows to at most
 * NET_FRAME_DEC_MAX bytes (two frames), and every byte fed is examined a
 * bounded number of times. It does no I/O: feed it what read() returned.
 * The encoder writes one frame into a caller's buffer.
 */
#ifndef NET_FRAME_H
#define NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "net/ctl.h"

#define NET_FRAME_MAX NET_CTL_MAX_FRAME
/* "#" + 6 + ":" + "*" + 8 + "\n" */
#define NET_FRAME_OVERHEAD 18
/* Two whole frames: a candidate at any offset below the first half can be
 * decided without moving bytes, so compaction happens rarely and only
 * moves bytes that are fewer than those already consumed. */
#define NET_FRAME_DEC_MAX (2 * (NET_FRAME_MAX + NET_FRAME_OVERHEAD))

/* CRC-32 (IEEE, reflected, init and final xor 0xffffffff). */
uint32_t net_frame_crc32(const void *data, size_t len);

/*
 * Writes the frame of payload[0..len) into out (at least len +
 * NET_FRAME_OVERHEAD bytes) and sets *outlen. Returns ERR_OK, ERR_TOOBIG
 * (len over NET_FRAME_MAX) or ERR_INVAL (a "\n" in the payload, or outcap too
 * small).
 */
int net_frame_encode(const void *payload, size_t len, char *out, size_t outcap, size_t *outlen);

/* A decoder. Zero-initialise; release with net_frame_dec_free(). The counters
 * only grow; reset them by hand if you want. */
struct net_frame_dec {
	uint64_t frames;        /* good frames handed out */
	uint64_t bad_frames;    /* candidates with a good header that failed later */
	uint64_t garbage_bytes; /* bytes skipped outside any good frame */
	/* private */
	char *buf;
	size_t cap, off, len; /* live bytes are buf[off..len) */
	size_t nl_scan;       /* buf[off..nl_scan) holds no "\n" */
};

void net_frame_dec_free(struct net_frame_dec *d);

/*
 * Copies up to len bytes into d and sets *taken to how many it took: fewer
 * than len only while the buffer is full of bytes that net_frame_dec_next()
 * has not looked at yet, so call that until it yields nothing, then feed the
 * rest. Returns ERR_OK or ERR_NOMEM.
 */
int net_frame_dec_feed(struct net_frame_dec *d, const void *data, size_t len, size_t *taken);

/*
 * Takes the next good frame: *payload points to its payload inside d,
 * NUL-terminated (the payload itself may hold a NUL byte: compare *len), and
 * stays valid until the next call on d. Returns 1 for a frame, 0 when more
 * bytes are needed (*payload = NULL).
 */
int net_frame_dec_next(struct net_frame_dec *d, char **payload, size_t *len);

/* Bytes held that are not yet decided (the start of a frame, perhaps). */
size_t net_frame_dec_pending(const struct net_frame_dec *d);

#endif
