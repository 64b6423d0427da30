#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "net/ctl.h"

/* A frame and its "\n": the most a buffer ever holds. */
#define BUF_MAX ((size_t)NET_CTL_MAX_FRAME + 1)
/* Most requests are tens of bytes; start small and shrink back here after a
 * big frame so that idle connections cost little. */
#define BUF_MIN ((size_t)4096)

void net_ctl_buf_free(struct net_ctl_buf *b)
{
	if (!b)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int buf_reserve(struct net_ctl_buf *b)
{
	size_t cap;
	char *p;

	if (b->len < b->cap)
		return ERR_OK;
	cap = b->cap ? b->cap * 2 : BUF_MIN;
	if (cap > BUF_MAX)
		cap = BUF_MAX;
	p = realloc(b->data, cap);
	if (!p)
		return ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return ERR_OK;
}

/* Remembers how far it looked, so a client trickling a long line byte by
 * byte costs linear time, not quadratic. */
static char *buf_find_nl(struct net_ctl_buf *b)
{
	char *nl;

	if (b->scanned >= b->len)
		return NULL;
	nl = memchr(b->data + b->scanned, '\n', b->len - b->scanned);
	if (!nl)
		b->scanned = b->len;
	return nl;
}

static void buf_consume(struct net_ctl_buf *b, size_t n)
{
	char *p;

	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->scanned = 0;
	if (b->cap > BUF_MIN && b->len <= BUF_MIN) {
		p = realloc(b->data, BUF_MIN);
		if (p) { /* keeping the big buffer is fine too */
			b->data = p;
			b->cap = BUF_MIN;
		}
	}
}

int net_ctl_buf_fill(struct net_ctl_buf *b, int fd)
{
	ssize_t n;
	int rc;

	for (;;) {
		/* Full: either a line is waiting to be taken (read the rest
		 * later) or a line is longer than any frame may be. */
		if (b->len == BUF_MAX)
			return buf_find_nl(b) ? ERR_OK : ERR_TOOBIG;
		rc = buf_reserve(b);
		if (rc)
			return rc;
		n = read(fd, b->data + b->len, b->cap - b->len);
		if (n > 0) {
			b->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return ERR_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return ERR_OK;
		return errno == ECONNRESET ? ERR_CLOSED : ERR_IO;
	}
}

int net_ctl_buf_take(struct net_ctl_buf *b, char **line)
{
	char *nl, *copy;
	size_t n, flen;
	int rc = ERR_OK;

	*line = NULL;
	nl = buf_find_nl(b);
	if (!nl)
		return ERR_OK;
	n = (size_t)(nl - b->data);
	flen = n;
	if (flen > 0 && b->data[flen - 1] == '\r')
		flen--;
	/* A NUL would silently cut the JSON short for every reader after us. */
	if (memchr(b->data, '\0', flen)) {
		rc = ERR_PARSE;
	} else {
		copy = malloc(flen + 1);
		if (!copy)
			return ERR_NOMEM;
		memcpy(copy, b->data, flen);
		copy[flen] = '\0';
		*line = copy;
	}
	buf_consume(b, n + 1);
	return rc;
}

static int connect_err(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return ERR_NOTFOUND;
	case EACCES:
	case EPERM:
		return ERR_PERM;
	case EAGAIN:
		return ERR_AGAIN;
	default:
		return ERR_CONN;
	}
}

int net_ctl_connect(const char *path, int *fd, char *why, size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t plen = strlen(path);
	int s, r;

	*fd = -1;
	if (plen == 0 || plen >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path must be 1 to %zu bytes long",
			 sizeof(sa.sun_path) - 1);
		return ERR_INVAL;
	}
	memcpy(sa.sun_path, path, plen + 1);
	/* Non-blocking so that a daemon with a full backlog gives ERR_AGAIN
	 * at once instead of hanging the technician's shell. */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return ERR_IO;
	}
	do
		r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;

		snprintf(why, whylen, "%s", strerror(e));
		close(s);
		return connect_err(e);
	}
	*fd = s;
	return ERR_OK;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t now, left;
	int n;

	for (;;) {
		now = hal_now_ms();
		if (now >= deadline)
			return ERR_TIMEOUT;
		left = deadline - now;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		/* Ready, hung up or in error: the next read or write says which. */
		if (n > 0)
			return ERR_OK;
		if (n < 0 && errno != EINTR)
			return ERR_IO;
	}
}

static int send_all(int fd, const char *p, size_t len, uint64_t deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc)
				return rc;
			continue;
		}
		return errno == EPIPE || errno == ECONNRESET ? ERR_CLOSED : ERR_IO;
	}
	return ERR_OK;
}

static int recv_line(int fd, struct net_ctl_buf *b, char **line, uint64_t deadline)
{
	int rc;

	for (;;) {
		rc = net_ctl_buf_take(b, line);
		if (rc || *line)
			return rc;
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc)
			return rc;
		rc = net_ctl_buf_fill(b, fd);
		if (rc == ERR_CLOSED) {
			rc = net_ctl_buf_take(b, line);
			return rc ? rc : *line ? ERR_OK : ERR_CLOSED;
		}
		if (rc)
			return rc;
	}
}

int net_ctl_call(int fd, const char *request_json, char **response, int timeout_ms)
{
	struct net_ctl_buf b = {0};
	size_t len = strlen(request_json);
	uint64_t deadline;
	char *frame = NULL;
	int rc, fl;

	*response = NULL;
	if (timeout_ms <= 0 || memchr(request_json, '\n', len))
		return ERR_INVAL;
	if (len > NET_CTL_MAX_FRAME)
		return ERR_TOOBIG;
	deadline = hal_now_ms() + (uint64_t)timeout_ms;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return ERR_IO;
	/* One send for request and "\n": the daemon sees the frame whole
	 * more often, and there is one write path to get right. */
	frame = malloc(len + 1);
	if (!frame)
		return ERR_NOMEM;
	memcpy(frame, request_json, len);
	frame[len] = '\n';
	rc = send_all(fd, frame, len + 1, deadline);
	if (rc)
		goto out;
	rc = recv_line(fd, &b, response, deadline);
out:
	free(frame);
	net_ctl_buf_free(&b);
	return rc;
}
