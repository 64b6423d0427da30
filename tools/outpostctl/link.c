/*
 * link.c - outpostctl over a serial line (--serial): the request goes out in
 * a checksummed frame (net/frame.h) with a random "id"; the answer is the
 * first good frame that echoes it. Garbage, damaged frames and answers to
 * other ids (a late reply to an earlier run) are skipped. If nothing comes
 * back, the same request with the same id is sent again: the daemon answers
 * a repeated id from its replay slots without running the command twice.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "hal/tty.h"
#include "config/secrets.h"
#include "net/frame.h"
#include "tools/outpostctl/octl.h"

/* Three tries within --timeout: a reply lost to noise costs a third of it. */
#define TRIES 3

struct link {
	const struct octl_opts *o;
	int fd;
	char id[12];  /* 8 hex digits */
	char *frame;  /* the framed request */
	size_t frame_len;
	struct net_frame_dec dec;
	unsigned sends, others; /* tries sent; frames that were not our answer */
};

static void make_id(char *id, size_t len)
{
	unsigned v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)hal_now_ms();
	snprintf(id, len, "%08x", v);
}

/* The request with our id, framed. */
static int build(struct link *l, const char *req)
{
	cJSON *j = cJSON_Parse(req);
	char *text = NULL;
	size_t len;
	int rc = ERR_NOMEM;

	make_id(l->id, sizeof(l->id));
	if (!cJSON_IsObject(j) || !cJSON_AddStringToObject(j, "id", l->id) ||
	    !(text = cJSON_PrintUnformatted(j)))
		goto out;
	len = strlen(text);
	l->frame = malloc(len + NET_FRAME_OVERHEAD);
	if (!l->frame)
		goto out;
	rc = net_frame_encode(text, len, l->frame, len + NET_FRAME_OVERHEAD, &l->frame_len);
out:
	cJSON_Delete(j);
	free(text);
	return rc;
}

static int wait_fd(int fd, short events, uint64_t until)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t now = hal_now_ms(), left = until > now ? until - now : 0;
	int n;

	n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
	if (n < 0)
		return errno == EINTR ? ERR_AGAIN : ERR_IO;
	if (n == 0)
		return ERR_TIMEOUT;
	return p.revents & (POLLERR | POLLHUP | POLLNVAL) && !(p.revents & POLLIN) ? ERR_CLOSED
										    : ERR_OK;
}

static int send_request(struct link *l, uint64_t deadline)
{
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < l->frame_len) {
		n = write(l->fd, l->frame + off, l->frame_len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(l->fd, POLLOUT, deadline);
			if (rc && rc != ERR_AGAIN)
				return rc;
			continue;
		}
		return ERR_CLOSED;
	}
	l->sends++;
	return ERR_OK;
}

/* Our answer among the frames decoded so far: *resp, or NULL. */
static int take_answer(struct link *l, char **resp)
{
	char *payload;
	size_t len;

	while (net_frame_dec_next(&l->dec, &payload, &len)) {
		cJSON *j = cJSON_Parse(payload);
		const char *id = octl_str(j, "id");
		bool ours = id && strcmp(id, l->id) == 0 && strlen(payload) == len;

		cJSON_Delete(j);
		if (!ours) {
			l->others++;
			continue;
		}
		*resp = strdup(payload);
		return *resp ? ERR_OK : ERR_NOMEM;
	}
	return ERR_OK;
}

/* Reads what is there; ERR_CLOSED when the line went away. */
static int receive(struct link *l, char **resp)
{
	char buf[4096];
	size_t off, taken;
	ssize_t n;
	int rc;

	for (;;) {
		n = read(l->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return ERR_OK;
		if (n <= 0)
			return ERR_CLOSED;
		for (off = 0; off < (size_t)n; off += taken) {
			rc = net_frame_dec_feed(&l->dec, buf + off, (size_t)n - off, &taken);
			if (rc == ERR_OK)
				rc = take_answer(l, resp);
			if (rc || *resp)
				return rc;
		}
	}
}

/* Sends, waits, sends again after a third of the time without an answer
 * (a frame still arriving postpones that), until the answer or timeout. */
static int converse(struct link *l, char **resp)
{
	uint64_t now = hal_now_ms(), deadline = now + (uint64_t)l->o->timeout_ms;
	uint64_t try_ms = (uint64_t)l->o->timeout_ms / TRIES, next_send = now, until;
	int rc;

	for (;;) {
		now = hal_now_ms();
		if (now >= deadline)
			return ERR_TIMEOUT;
		if (l->sends < TRIES && now >= next_send) {
			rc = send_request(l, deadline);
			if (rc)
				return rc;
			next_send = now + (try_ms ? try_ms : 1);
		}
		until = l->sends < TRIES && next_send < deadline ? next_send : deadline;
		rc = wait_fd(l->fd, POLLIN, until);
		if (rc == ERR_TIMEOUT || rc == ERR_AGAIN)
			continue;
		if (rc)
			return rc;
		rc = receive(l, resp);
		if (rc || *resp)
			return rc;
		if (net_frame_dec_pending(&l->dec))
			next_send = hal_now_ms() + (try_ms ? try_ms : 1);
	}
}

/* One request and its answer on the open line. */
static int exchange(struct link *l, const char *req, char **resp)
{
	int rc;

	free(l->frame);
	l->frame = NULL;
	l->sends = l->others = 0;
	rc = build(l, req);
	return rc == ERR_OK ? converse(l, resp) : rc;
}

/* --pin: the technician PIN first, once per run of outpostctl (a command
 * that sends several requests asks once). ERR_OK, or ERR_AUTH said. */
static int give_pin(struct link *l)
{
	static bool given;
	char pin[80], *req = NULL, *resp = NULL;
	cJSON *j, *r = NULL;
	int rc;

	if (given)
		return ERR_OK;
	if (!octl_read_pin(pin, sizeof(pin)))
		return ERR_AUTH;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "cmd", "auth");
	cJSON_AddStringToObject(j, "pin", pin);
	explicit_bzero(pin, sizeof(pin));
	req = cJSON_PrintUnformatted(j);
	cfg_json_wipe(j);
	cJSON_Delete(j);
	rc = req ? exchange(l, req, &resp) : ERR_NOMEM;
	if (req)
		explicit_bzero(req, strlen(req));
	free(req);
	if (rc == ERR_OK && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
				    r = cJSON_Parse(resp), "ok"))) {
		const char *e = octl_str(r, "error");

		fprintf(stderr, "outpostctl: %s: the PIN was refused: %s\n", l->o->serial,
			e ? e : "?");
		rc = ERR_AUTH;
	}
	given = rc == ERR_OK;
	cJSON_Delete(r);
	free(resp);
	return rc;
}

int octl_serial_ask(const struct octl_opts *o, const char *req, char **resp)
{
	struct link l = {.o = o, .fd = -1};
	char why[160];
	int rc, ex = -1;

	*resp = NULL;
	rc = hal_tty_open(o->serial, o->baud, &l.fd, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "outpostctl: cannot open serial line %s: %s\n", o->serial, why);
		return OCTL_EXIT_CONNECT;
	}
	rc = o->pin ? give_pin(&l) : ERR_OK;
	if (rc == ERR_AUTH) {
		net_frame_dec_free(&l.dec);
		free(l.frame);
		close(l.fd);
		return OCTL_EXIT_DAEMON;
	}
	if (rc == ERR_OK)
		rc = exchange(&l, req, resp);
	if (rc == ERR_TIMEOUT)
		fprintf(stderr, "outpostctl: no answer on %s within %d ms after %u tries "
				"(is outpostd's control.serial this line, at %u baud? see --timeout)\n",
			o->serial, o->timeout_ms, l.sends, o->baud);
	else if (rc == ERR_CLOSED)
		fprintf(stderr, "outpostctl: serial line %s went away\n", o->serial);
	else if (rc)
		fprintf(stderr, "outpostctl: talking to outpostd on %s: %s\n", o->serial,
			hal_strerror(rc));
	if (rc)
		ex = rc == ERR_TOOBIG || rc == ERR_INVAL ? OCTL_EXIT_USAGE : OCTL_EXIT_CONNECT;
	else if (l.sends > 1 || l.dec.bad_frames)
		fprintf(stderr, "outpostctl: note: noisy line: answered on try %u; %llu damaged "
				"frames, %llu bytes of garbage\n", l.sends,
			(unsigned long long)l.dec.bad_frames, (unsigned long long)l.dec.garbage_bytes);
	net_frame_dec_free(&l.dec);
	free(l.frame);
	close(l.fd);
	return ex;
}
