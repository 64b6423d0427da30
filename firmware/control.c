/*
 * control.c - the daemon's side of the control protocol (net/ctl.h) on a
 * unix socket: `status` and `outbox` for outpostctl.
 *
 * The socket is 0660 in a 0750 directory: who may open it may read the
 * outbox (phone numbers are masked all the same). A bounded number of
 * clients; responses are written without blocking from a per-client buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/log.h"
#include "net/ctl.h"
#include "net/http.h"
#include "net/mqtt.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define MAX_CLIENTS 8
#define LIST_MAX 1000

struct client {
	struct hal_fd w;
	struct fw_control *ctl;
	struct net_ctl_buf in;
	char *out;
	size_t out_len, out_off;
	bool closing;
};

struct fw_control {
	struct fw *fw;
	struct hal_fd listen;
	char *path;
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

static void add_counts(cJSON *o, struct store_txn *t)
{
	uint64_t counts[STORE__STATES] = {0};

	store_outbox_counts(t, counts);
	for (int s = 1; s < STORE__STATES; s++)
		cJSON_AddNumberToObject(o, store_state_name(s), (double)counts[s]);
}

static void status_counters(const struct fw *fw, cJSON *r)
{
	cJSON *n = cJSON_AddObjectToObject(r, "counters");

	cJSON_AddNumberToObject(n, "events", (double)fw->n.events);
	cJSON_AddNumberToObject(n, "acked", (double)fw->n.acked);
	cJSON_AddNumberToObject(n, "rejected", (double)fw->n.rejected);
	cJSON_AddNumberToObject(n, "duplicates", (double)fw->n.duplicates);
	cJSON_AddNumberToObject(n, "queued", (double)fw->n.queued);
	cJSON_AddNumberToObject(n, "sent", (double)fw->n.sent);
	cJSON_AddNumberToObject(n, "failed", (double)fw->n.failed);
	cJSON_AddNumberToObject(n, "expired", (double)fw->n.expired);
	cJSON_AddNumberToObject(n, "retries", (double)fw->n.retries);
	cJSON_AddNumberToObject(n, "ambiguous", (double)fw->n.ambiguous);
	cJSON_AddNumberToObject(n, "reconciled", (double)fw->n.reconciled);
	cJSON_AddNumberToObject(n, "resent", (double)fw->n.resent);
	cJSON_AddNumberToObject(n, "commit_failures", (double)fw->n.commit_failures);
	cJSON_AddNumberToObject(n, "pruned", (double)fw->n.pruned);
	cJSON_AddNumberToObject(n, "http_inflight", fw->http ? net_http_inflight(fw->http) : 0);
}

static void status_errors(const struct fw *fw, cJSON *r)
{
	cJSON *a = cJSON_AddArrayToObject(r, "last_errors");
	uint64_t now = hal_now_ms();

	for (unsigned i = 0; i < FW_LAST_ERRORS; i++) {
		unsigned k = (fw->last_error_pos + FW_LAST_ERRORS - 1 - i) % FW_LAST_ERRORS;
		cJSON *e;

		if (!fw->last_errors[k].at_ms)
			break;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "ago_s", (double)((now - fw->last_errors[k].at_ms) / 1000));
		cJSON_AddStringToObject(e, "text", fw->last_errors[k].text);
		cJSON_AddItemToArray(a, e);
	}
}

static cJSON *cmd_status(struct fw *fw)
{
	cJSON *r = cJSON_CreateObject(), *o;
	const char *hold = fw_sender_hold_reason(fw);
	struct store_txn *t;
	uint64_t used = 0, map = 0;
	struct store_space sp;
	char broker[300];

	cJSON_AddBoolToObject(r, "ok", true);
	cJSON_AddStringToObject(r, "version", OUTPOST_VERSION);
	cJSON_AddStringToObject(r, "gateway_id", fw->cfg->gateway_id);
	cJSON_AddNumberToObject(r, "uptime_s", (double)((hal_now_ms() - fw->started_ms) / 1000));
	o = cJSON_AddObjectToObject(r, "mqtt");
	cJSON_AddBoolToObject(o, "connected", fw->mqtt && net_mqtt_connected(fw->mqtt));
	snprintf(broker, sizeof(broker), "%s:%d", fw->cfg->mqtt.host, fw->cfg->mqtt.port);
	cJSON_AddStringToObject(o, "broker", broker);
	cJSON_AddNumberToObject(o, "reconnects", fw->mqtt ? (double)net_mqtt_stats(fw->mqtt)->reconnects : 0);
	cJSON_AddNumberToObject(o, "sessions_new",
				fw->mqtt ? (double)net_mqtt_stats(fw->mqtt)->sessions_new : 0);
	cJSON_AddStringToObject(o, "ingest", fw->stopping ? "stopping" : fw->ingest_hold[0] ? "paused" : "running");
	cJSON_AddStringToObject(o, "ingest_reason", fw->ingest_hold);
	o = cJSON_AddObjectToObject(r, "clock");
	cJSON_AddBoolToObject(o, "valid", hal_clock_valid());
	cJSON_AddStringToObject(o, "reason", hold ? hold : "");
	o = cJSON_AddObjectToObject(r, "store");
	cJSON_AddStringToObject(o, "path", fw->cfg->store.path);
	store_size(fw->store, &used, &map);
	cJSON_AddNumberToObject(o, "used_bytes", (double)used);
	cJSON_AddNumberToObject(o, "map_bytes", (double)map);
	if (store_space(fw->store, 0, &sp) == ERR_OK) {
		cJSON_AddNumberToObject(o, "max_bytes", (double)sp.max);
		cJSON_AddNumberToObject(o, "room_bytes", (double)sp.room);
		cJSON_AddNumberToObject(o, "disk_free_bytes", (double)sp.disk_free);
	}
	if (store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		add_counts(cJSON_AddObjectToObject(r, "outbox"), t);
		store_abort(t);
	}
	fw_sender_status(fw, cJSON_AddArrayToObject(r, "accounts"));
	status_counters(fw, r);
	status_errors(fw, r);
	fw_router_seq_status(fw, cJSON_AddObjectToObject(r, "sources"));
	return r;
}

/* A page stops short of the frame limit; next_before continues it. */
#define PAGE_BYTES (NET_CTL_MAX_FRAME * 3 / 4)

struct page {
	cJSON *arr;
	size_t bytes;
	unsigned n;
	uint64_t last_seq;
};

static int list_one(const struct store_msg *m, void *arg)
{
	struct page *p = arg;
	cJSON *a = p->arr, *o = cJSON_CreateObject(), *e;
	char masked[CFG_PHONE_MAX];

	cJSON_AddNumberToObject(o, "seq", (double)m->seq);
	cJSON_AddStringToObject(o, "state", store_state_name(m->state));
	cJSON_AddStringToObject(o, "event_id", m->event_id);
	cJSON_AddStringToObject(o, "topic", m->topic);
	cJSON_AddStringToObject(o, "route", m->route);
	cfg_phone_mask(m->to, masked);
	cJSON_AddStringToObject(o, "to", m->to[0] ? masked : "");
	cJSON_AddStringToObject(o, "template", m->template_name);
	cJSON_AddNumberToObject(o, "attempts", m->attempts);
	cJSON_AddNumberToObject(o, "created_ms", (double)m->created_ms);
	cJSON_AddNumberToObject(o, "updated_ms", (double)m->updated_ms);
	cJSON_AddBoolToObject(o, "ambiguous", (m->flags & STORE_F_AMBIGUOUS) != 0);
	cJSON_AddBoolToObject(o, "reconcile", (m->flags & STORE_F_RECONCILE) != 0);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "class", m->state == STORE_REJECTED ? "input" :
				m->state == STORE_SUPPRESSED ? "duplicate" :
				m->err_class ? net_class_name(m->err_class) : "");
	cJSON_AddNumberToObject(e, "code", m->err_code);
	cJSON_AddStringToObject(e, "text", m->err_text);
	cJSON_AddStringToObject(o, "provider_id", m->provider_id);
	cJSON_AddItemToArray(a, o);
	/* JSON escaping can at most sextuple a byte (\u00XX); 400 covers keys. */
	p->bytes += 400 + 6 * (strlen(m->event_id) + strlen(m->topic) + strlen(m->err_text) +
			       strlen(m->route) + strlen(m->template_name) + strlen(m->provider_id));
	p->n++;
	p->last_seq = m->seq;
	return p->bytes > PAGE_BYTES;
}

static cJSON *cmd_outbox(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(req, "state");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(req, "limit");
	const cJSON *bef = cJSON_GetObjectItemCaseSensitive(req, "before");
	int state = 0;
	unsigned limit = 20;
	uint64_t before = 0;
	struct store_txn *t;
	struct page page = {0};
	cJSON *r;

	if (cJSON_IsString(st) && !(state = store_state_parse(st->valuestring))) {
		snprintf(err, errlen, "unknown state '%.40s'", st->valuestring);
		return NULL;
	}
	if (cJSON_IsNumber(lim))
		limit = lim->valuedouble < 1 ? 1 : lim->valuedouble > LIST_MAX ? LIST_MAX : (unsigned)lim->valuedouble;
	/* 2^64 is exact as a double: anything from it up would not convert. */
	if (cJSON_IsNumber(bef) && bef->valuedouble > 0 && bef->valuedouble < 18446744073709551616.0)
		before = (uint64_t)bef->valuedouble;
	if (store_begin(fw->store, STORE_RDONLY, &t) != ERR_OK) {
		snprintf(err, errlen, "store unavailable");
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "ok", true);
	add_counts(cJSON_AddObjectToObject(r, "counts"), t);
	page.arr = cJSON_AddArrayToObject(r, "messages");
	store_outbox_list(t, state, before, limit, list_one, &page);
	store_abort(t);
	/* A full page may have more behind it; a short one is the end. */
	cJSON_AddNumberToObject(r, "next_before",
				page.n == limit || page.bytes > PAGE_BYTES ? (double)page.last_seq : 0);
	return r;
}

static char *error_reply(const char *text)
{
	cJSON *r = cJSON_CreateObject();
	char *s;

	cJSON_AddBoolToObject(r, "ok", false);
	cJSON_AddStringToObject(r, "error", text);
	s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

static char *dispatch(struct fw *fw, const char *line)
{
	cJSON *req = cJSON_Parse(line), *res = NULL;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	char err[160] = "";
	char *s;

	if (!cJSON_IsObject(req) || !cJSON_IsString(cmd))
		snprintf(err, sizeof(err), "request must be a JSON object with a \"cmd\" string");
	else if (strcmp(cmd->valuestring, "status") == 0)
		res = cmd_status(fw);
	else if (strcmp(cmd->valuestring, "outbox") == 0)
		res = cmd_outbox(fw, req, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "unknown command '%.40s' (known: status, outbox)",
			 cmd->valuestring);
	cJSON_Delete(req);
	if (!res)
		return error_reply(err[0] ? err : "out of memory");
	s = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	return s;
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
				queue_reply(c, error_reply("request line holds a NUL byte"));
				continue;
			}
			if (taken != ERR_OK || !line)
				break;
			queue_reply(c, dispatch(c->ctl->fw, line));
			free(line);
		}
		if (rc == ERR_TOOBIG)
			queue_reply(c, error_reply("frame too long"));
		if (rc != ERR_OK)
			c->closing = true;
	}
	if (c->closing && !c->out) {
		client_close(c);
		return;
	}
	client_write(c);
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
		hal_dir_make(dir, 0750);
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
