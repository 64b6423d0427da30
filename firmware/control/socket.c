/*
 * control/socket.c - the control protocol on a unix socket (net/ctl.h frames:
 * one JSON line each way) for outpostctl on the gateway itself.
 *
 * The socket is 0660 in a 0750 directory: who may open it may run every
 * command; the peer's uid and pid (SO_PEERCRED) name the caller. A bounded
 * number of clients; replies are written without blocking from a per-client
 * buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/log.h"
#include "hal/priv.h"
#include "net/ctl.h"

#define MAX_CLIENTS 8

struct client {
	struct hal_fd w;
	struct fw_control *ctl;
	struct net_ctl_buf in;
	char *out;
	size_t out_len, out_off;
	bool closing;
	struct fw_caller from;
};

struct fw_control {
	struct fw *fw;
	struct hal_fd listen;
	char *path;
	char made_dir[108]; /* the socket's directory if we made it, else "" */
	struct client clients[MAX_CLIENTS];
};

static void client_close(struct client *c)
{
	struct fw_control *ctl = c->ctl;

	hal_fd_unwatch(ctl->fw->loop, &c->w);
	close(c->w.fd);
	c->w.fd = -1;
	net_ctl_buf_free(&c->in);
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->closing = false;
}

static void queue_reply(struct client *c, char *reply)
{
	size_t len = reply ? strlen(reply) : 0;
	char *buf = reply ? realloc(c->out, c->out_len + len + 1) : NULL;

	if (!buf) {
		free(reply);
		c->closing = true;
		return;
	}
	memcpy(buf + c->out_len, reply, len);
	buf[c->out_len + len] = '\n';
	c->out = buf;
	c->out_len += len + 1;
	free(reply);
}

static void client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
		if (c->closing) {
			client_close(c);
			return;
		}
	}
	hal_fd_watch(c->ctl->fw->loop, &c->w, HAL_IN | (c->out ? HAL_OUT : 0));
}

static void on_client(struct hal_fd *w, unsigned events)
{
	struct client *c = container_of(w, struct client, w);
	char *line = NULL;
	int rc = ERR_OK;

	if (events & (HAL_IN | HAL_ERR)) {
		rc = net_ctl_buf_fill(&c->in, w->fd);
		for (;;) {
			int taken = net_ctl_buf_take(&c->in, &line);

			if (taken == ERR_PARSE) { /* a NUL byte: answered, not fatal */
				queue_reply(c, fw_control_error("request line holds a NUL byte"));
				continue;
			}
			if (taken != ERR_OK || !line)
				break;
			queue_reply(c, fw_control_dispatch(c->ctl->fw, &c->from, line));
			explicit_bzero(line, strlen(line)); /* a creds.set carries a secret */
			free(line);
		}
		if (rc == ERR_TOOBIG)
			queue_reply(c, fw_control_error("frame too long"));
		if (rc != ERR_OK)
			c->closing = true;
	}
	if (c->closing && !c->out) {
		client_close(c);
		return;
	}
	client_write(c);
}

static void name_peer(struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	c->from.transport = "socket";
	c->from.operator = false;
	if (getsockopt(c->w.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		snprintf(c->from.who, sizeof(c->from.who), "uid %u pid %d", (unsigned)cred.uid,
			 (int)cred.pid);
		c->from.operator = cred.uid == 0 || cred.uid == geteuid();
	} else
		snprintf(c->from.who, sizeof(c->from.who), "unknown peer");
}

static void on_accept(struct hal_fd *w, unsigned events)
{
	struct fw_control *ctl = container_of(w, struct fw_control, listen);
	int fd;

	(void)events;
	while ((fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct client *c = NULL;

		for (unsigned i = 0; i < MAX_CLIENTS && !c; i++)
			if (ctl->clients[i].w.fd < 0)
				c = &ctl->clients[i];
		if (!c) {
			static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
				log_debug("control: busy reply: %s", strerror(errno));
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->ctl = ctl;
		c->w.fd = fd;
		c->w.cb = on_client;
		name_peer(c);
		if (hal_fd_watch(ctl->fw->loop, &c->w, HAL_IN) != ERR_OK)
			client_close(c);
	}
}

static int listen_on(struct fw_control *ctl)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	const char *slash;
	int fd;

	if (strlen(ctl->path) >= sizeof(sa.sun_path)) {
		log_err("control: socket path %s is too long", ctl->path);
		return ERR_INVAL;
	}
	memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);
	slash = strrchr(ctl->path, '/');
	if (slash && slash != ctl->path) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ctl->path), ctl->path);
		if (access(dir, F_OK) != 0 && hal_dir_make(dir, 0750) == ERR_OK)
			snprintf(ctl->made_dir, sizeof(ctl->made_dir), "%s", dir);
	}
	unlink(ctl->path); /* a stale socket of an earlier run; the store lock keeps us single */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(ctl->path, 0660) < 0 || listen(fd, 16) < 0) {
		log_err("control: cannot listen on %s: %s", ctl->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ERR_IO;
	}
	ctl->listen.fd = fd;
	ctl->listen.cb = on_accept;
	return hal_fd_watch(ctl->fw->loop, &ctl->listen, HAL_IN);
}

int fw_control_init(struct fw *fw)
{
	struct fw_control *ctl = calloc(1, sizeof(*ctl));
	int rc;

	if (!ctl)
		return ERR_NOMEM;
	ctl->fw = fw;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		ctl->clients[i].w.fd = -1;
	ctl->path = strdup(fw->cfg->control.socket);
	if (!ctl->path) {
		free(ctl);
		return ERR_NOMEM;
	}
	fw->control = ctl;
	rc = listen_on(ctl);
	if (rc == ERR_OK)
		log_info("control: listening on %s", ctl->path);
	return rc;
}

int fw_control_give(struct fw *fw, const struct hal_priv_id *id, char *why, size_t whylen)
{
	struct fw_control *ctl = fw->control;
	int err = hal_priv_give(id, ctl->path, why, whylen);

	/* A directory that was there before (/run, /tmp) is not ours to give. */
	if (err == ERR_OK && ctl->made_dir[0])
		err = hal_priv_give(id, ctl->made_dir, why, whylen);
	return err;
}

void fw_control_free(struct fw *fw)
{
	struct fw_control *ctl = fw->control;

	if (!ctl)
		return;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (ctl->clients[i].w.fd >= 0)
			client_close(&ctl->clients[i]);
	if (ctl->listen.registered) {
		hal_fd_unwatch(fw->loop, &ctl->listen);
		close(ctl->listen.fd);
		unlink(ctl->path);
	}
	free(ctl->path);
	free(ctl);
	fw->control = NULL;
}
