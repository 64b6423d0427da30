/*
 * fuzz_ctl.c - the control protocol as the daemon serves it: the input is
 * the byte stream a client sends, cut into lines by net/ctl.c and answered
 * by firmware/control/dispatch.c (every command) against the fixture's store
 * (fuzz_fw.h), which holds a few committed events.
 *
 * control/socket.c is included, not linked, to reach its static connection handler
 * on_client(): the connection is one end of a socketpair that this harness
 * hands over the way on_accept() would, and the harness plays the client on
 * the other end. The loop is never run; the harness calls on_client() as
 * the loop would when the socket is readable or writable.
 *
 * Input: byte 0 chooses how the stream is cut into writes (low 3 bits:
 * chunk sizes[]); if it is LONG_MODE, byte 1 sets the length of a line of
 * 'x' put before the rest (a few bytes either side of NET_CTL_MAX_FRAME),
 * the rest of the input continuing that line. Then the stream; the harness
 * shuts down its writing side after it, as outpostctl never does but a
 * script piping into socat does.
 *
 * Oracles besides the sanitizers: every reply is one line holding a JSON
 * object with a boolean "ok"; every complete request line is answered, in
 * order, once (net/ctl.h); an overlong line gets "frame too long" and the
 * connection closes; the daemon closes its side once the client has shut
 * down and read everything.
 */
#include "firmware/control/socket.c"

#include <cjson/cJSON.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_fw.h"

#define LONG_MODE 0xff
#define STEP_LIMIT 100000

static const size_t chunk_sizes[] = {1, 3, 16, 100, 4096, 65536, 1 << 20, 7};

/* The client's side of one connection. */
struct peer {
	int fd;
	char *in;             /* bytes received, not yet cut into lines */
	size_t in_len, in_cap;
	unsigned replies;
	bool toobig_reply;    /* "frame too long" came */
};

static struct fw_control *control_get(void)
{
	static struct fw_control *ctl;
	struct fw *fw;

	if (ctl)
		return ctl;
	fw = fuzz_fw_get();
	FUZZ_ASSERT(fw_sender_init(fw) == ERR_OK, "fw_sender_init");
	fuzz_fw_store_seed(fw);
	ctl = calloc(1, sizeof(*ctl));
	FUZZ_ASSERT(ctl, "out of memory");
	ctl->fw = fw;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		ctl->clients[i].w.fd = -1;
	fw->control = ctl;
	return ctl;
}

/* What on_accept() does with a new connection. */
static struct client *client_open(struct fw_control *ctl, int fd)
{
	struct client *c = &ctl->clients[0];

	memset(c, 0, sizeof(*c));
	c->ctl = ctl;
	c->w.fd = fd;
	c->w.cb = on_client;
	name_peer(c);
	FUZZ_ASSERT(hal_fd_watch(ctl->fw->loop, &c->w, HAL_IN) == ERR_OK, "hal_fd_watch");
	return c;
}

static void check_reply(struct peer *p, const char *line)
{
	cJSON *r = cJSON_Parse(line);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");

	FUZZ_ASSERT(cJSON_IsObject(r) && cJSON_IsBool(ok), "reply %.200s", line);
	FUZZ_ASSERT(!p->toobig_reply, "a reply after \"frame too long\"");
	if (cJSON_IsFalse(ok)) {
		FUZZ_ASSERT(cJSON_IsString(err) && err->valuestring[0], "error reply %.200s", line);
		p->toobig_reply = strcmp(err->valuestring, "frame too long") == 0;
	}
	if (!p->toobig_reply)
		p->replies++;
	cJSON_Delete(r);
}

/* Reads what the daemon wrote and checks each complete reply line. */
static void peer_read(struct peer *p)
{
	char *nl;
	ssize_t n;

	for (;;) {
		if (p->in_cap - p->in_len < 65536) {
			p->in_cap = p->in_cap * 2 + 65536;
			p->in = realloc(p->in, p->in_cap);
			FUZZ_ASSERT(p->in, "out of memory");
		}
		n = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len - 1, 0);
		if (n <= 0)
			break;
		p->in_len += (size_t)n;
	}
	while ((nl = memchr(p->in, '\n', p->in_len)) != NULL) {
		*nl = '\0';
		check_reply(p, p->in);
		p->in_len -= (size_t)(nl + 1 - p->in);
		memmove(p->in, nl + 1, p->in_len);
	}
}

/* Request lines the daemon must answer: complete lines, up to the first
 * that is over the frame limit (which ends the connection). */
static unsigned count_requests(const char *s, size_t len, bool *overlong)
{
	const char *end = s + len, *nl;
	unsigned n = 0;

	*overlong = false;
	for (; s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if ((size_t)((nl ? nl : end) - s) > NET_CTL_MAX_FRAME) {
			*overlong = true;
			break;
		}
		if (!nl)
			break;
		n++;
	}
	return n;
}

/* The client's stream: the input, or a long line and then the input. */
static char *make_stream(const uint8_t *data, size_t size, size_t *len, size_t *chunk)
{
	size_t pad = 0;
	char *s;

	*chunk = size ? chunk_sizes[data[0] & 7] : 1;
	if (size >= 2 && data[0] == LONG_MODE) {
		pad = NET_CTL_MAX_FRAME - 8 + data[1] % 16;
		*chunk = 65536;
		data += 2;
		size -= 2;
	} else if (size) {
		data++;
		size--;
	}
	s = malloc(pad + size + 1);
	FUZZ_ASSERT(s, "out of memory");
	memset(s, 'x', pad);
	memcpy(s + pad, data, size);
	*len = pad + size;
	return s;
}

/* Writes the stream to the daemon while it reads and the client reads the
 * replies, then shuts down the client's writing side and lets the daemon
 * finish. */
static void converse(struct client *c, struct peer *p, const char *s, size_t len, size_t chunk)
{
	size_t off = 0;
	unsigned steps = 0;
	bool shut = false;
	ssize_t n;

	while (c->w.fd >= 0) {
		FUZZ_ASSERT(++steps < STEP_LIMIT, "no progress: %zu of %zu bytes sent", off, len);
		if (off < len) {
			n = send(p->fd, s + off, len - off < chunk ? len - off : chunk, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
		} else if (!shut) {
			shutdown(p->fd, SHUT_WR);
			shut = true;
		}
		on_client(&c->w, HAL_IN);
		peer_read(p);
		if (c->w.fd >= 0 && c->out)
			on_client(&c->w, HAL_OUT);
	}
	peer_read(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_control *ctl = control_get();
	struct peer p = {.fd = -1};
	struct client *c;
	unsigned want;
	size_t len, chunk;
	bool overlong;
	char *s;
	int sv[2];

	s = make_stream(data, size, &len, &chunk);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
		    "socketpair: %s", strerror(errno));
	c = client_open(ctl, sv[0]);
	p.fd = sv[1];
	converse(c, &p, s, len, chunk);
	FUZZ_ASSERT(p.in_len == 0, "%zu bytes of an unterminated reply", p.in_len);
	want = count_requests(s, len, &overlong);
	FUZZ_ASSERT(p.toobig_reply == overlong, "overlong line %s \"frame too long\"",
		    overlong ? "without" : "but no overlong line, yet");
	FUZZ_ASSERT(p.replies == want, "%u request lines, %u replies", want, p.replies);
	close(p.fd);
	free(p.in);
	free(s);
	return 0;
}
