/*
 * http.c - the MHD daemon: TLS listener, routing, Basic auth and turning a
 * struct sim_reply into a response.
 *
 * MHD calls the access handler several times per request: once with the
 * headers (we allocate our per-request state), once per body chunk (we
 * append, bounded), and once at the end (we answer). With --latency-ms the
 * answer is computed at the end, the connection is parked in delay.c and
 * MHD calls us once more after the resume, when the stored reply is sent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "hal/log.h"
#include "tools/twilio-sim/sim.h"

/* Twilio bodies are a few hundred bytes; 100 long variables still fit. */
#define BODY_MAX (64 * 1024)
#define ACCOUNT_PREFIX "/2010-04-01/Accounts/"

struct request {
	struct sim_delayed delayed; /* used while parked (--latency-ms, --work-us) */
	struct sim_buf body;
	bool too_big;
	bool answered;
	struct sim_reply reply;
};

enum route { R_NONE, R_ACCOUNT, R_MESSAGES, R_MESSAGE };

struct target {
	enum route route;
	char account[SIM_SID_LEN + 8];
	char sid[SIM_SID_LEN + 8];
};

static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool ends_with_json(const char *s, size_t n)
{
	return n > 5 && memcmp(s + n - 5, ".json", 5) == 0;
}

/* Accounts/{A}.json, Accounts/{A}/Messages.json, Accounts/{A}/Messages/{S}.json */
static void parse_target(const char *url, struct target *t)
{
	const char *rest, *slash;

	memset(t, 0, sizeof(*t));
	if (strncmp(url, ACCOUNT_PREFIX, strlen(ACCOUNT_PREFIX)) != 0)
		return;
	rest = url + strlen(ACCOUNT_PREFIX);
	slash = strchr(rest, '/');
	if (!slash) {
		size_t n = strlen(rest);

		if (ends_with_json(rest, n) && copy_part(t->account, sizeof(t->account), rest, n - 5))
			t->route = R_ACCOUNT;
		return;
	}
	if (!copy_part(t->account, sizeof(t->account), rest, (size_t)(slash - rest)))
		return;
	rest = slash + 1;
	if (strcmp(rest, "Messages.json") == 0) {
		t->route = R_MESSAGES;
	} else if (strncmp(rest, "Messages/", 9) == 0 && !strchr(rest + 9, '/') &&
		   ends_with_json(rest + 9, strlen(rest + 9)) &&
		   copy_part(t->sid, sizeof(t->sid), rest + 9, strlen(rest + 9) - 5)) {
		t->route = R_MESSAGE;
	}
}

bool sim_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	/* Constant time in the secret's length, out of habit. */
	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

bool sim_auth_ok(const struct sim_config *cfg, struct MHD_Connection *c)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(c, &pass);
	bool ok = false;

	if (user && pass) {
		if (strcmp(user, cfg->account) == 0)
			ok = sim_secret_eq(pass, cfg->token);
		for (size_t i = 0; i < cfg->n_keys && !ok; i++)
			if (strcmp(user, cfg->keys[i].sid) == 0)
				ok = sim_secret_eq(pass, cfg->keys[i].secret);
	}
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

#define LIST_ARGS_MAX 32 /* query parameters looked at; Twilio's list has 8 */

struct list_args {
	struct sim_arg a[LIST_ARGS_MAX];
	size_t n;
};

/* MHD hands over keys and values already %-decoded (and '+' as space). */
static enum MHD_Result take_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct list_args *l = cls;

	(void)kind;
	if (l->n == LIST_ARGS_MAX)
		return MHD_NO; /* stops the walk: the rest are ignored */
	l->a[l->n].key = key;
	l->a[l->n].value = value;
	l->n++;
	return MHD_YES;
}

static void list_messages(const struct sim_config *cfg, struct MHD_Connection *c,
			  struct sim_reply *r)
{
	struct list_args l = {.n = 0};

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, take_arg, &l);
	if (!sim_inbound_list(cfg, l.a, l.n, r))
		sim_list_messages(cfg, l.a, l.n, r);
}

static void account(const struct sim_config *cfg, struct sim_reply *r)
{
	struct sim_buf b = {0};

	sim_render_account(&b, cfg);
	r->json = sim_buf_take(&b);
	r->status = 200;
}

static void route_request(const struct sim_config *cfg, struct MHD_Connection *c,
			  const struct target *t, const char *method, struct request *rq)
{
	bool get = strcmp(method, "GET") == 0;
	bool post = strcmp(method, "POST") == 0;
	struct sim_reply *r = &rq->reply;

	if (t->route == R_MESSAGES && post && rq->too_big)
		sim_reply_error(r, 413, 20001, "Request body larger than %d bytes", BODY_MAX);
	else if (t->route == R_MESSAGES && post)
		sim_create(cfg, rq->body.p ? rq->body.p : (char[]){""}, r);
	else if (t->route == R_MESSAGES && get)
		list_messages(cfg, c, r);
	else if (t->route == R_MESSAGE && get)
		sim_fetch_message(cfg, t->sid, r);
	else if (t->route == R_ACCOUNT && get)
		account(cfg, r);
	else
		sim_reply_error(r, 405, 20004, "Method %.16s not allowed", method);
}

static void dispatch(const struct sim_config *cfg, struct MHD_Connection *c, const char *url,
		     const char *method, struct request *rq)
{
	struct target t;

	if (sim_content_route(cfg, c, url, method, rq->too_big ? NULL : rq->body.p, &rq->reply))
		return;
	/* Test control routes: no auth, never at Twilio. */
	if (strcmp(url, "/sim/status") == 0 && strcmp(method, "POST") == 0) {
		sim_force_status(rq->too_big ? NULL : rq->body.p, &rq->reply);
		return;
	}
	if (strcmp(url, "/sim/inbound") == 0) { /* test control: no auth (README) */
		sim_inbound_post(cfg, method, rq->body.p ? rq->body.p : "", &rq->reply);
		return;
	}
	if (sim_meta_handle(cfg, c, url, method, rq->too_big ? NULL : rq->body.p ? rq->body.p : "",
			    &rq->reply))
		return; /* a Meta or 360dialog route (meta.c) */
	parse_target(url, &t);
	if (t.route == R_NONE) {
		sim_reply_error(&rq->reply, 404, 20404, "The requested resource %.128s was not found",
				url);
		return;
	}
	/* A wrong account in the path is an authentication failure at Twilio
	 * too: the credentials do not grant access to that account. */
	if (!sim_auth_ok(cfg, c) || strcmp(t.account, cfg->account) != 0) {
		/* Logged, so a test can count what a client sent with
		 * credentials it had been refused. */
		log_info("sim: %s %.200s: 401 credentials refused", method, url);
		sim_reply_error(&rq->reply, 401, 20003, "Authenticate");
		return;
	}
	route_request(cfg, c, &t, method, rq);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct sim_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!r->json)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(r->json), r->json, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	r->json = NULL; /* owned by the response now */
	MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
	if (r->retry_after)
		MHD_add_response_header(resp, "Retry-After", "1");
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void take_upload(struct request *rq, const char *data, size_t n)
{
	if (rq->too_big || rq->body.len + n > BODY_MAX) {
		rq->too_big = true;
		return;
	}
	sim_buf_add(&rq->body, data, n);
	if (rq->body.oom)
		rq->too_big = true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	const struct sim_config *cfg = cls;
	struct request *rq = *con_cls;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		take_upload(rq, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (!rq->answered) {
		rq->answered = true;
		dispatch(cfg, c, url, method, rq);
		if (rq->reply.delay && (cfg->latency_ms || cfg->work_us) &&
		    sim_delay_park(&rq->delayed, c, cfg->latency_ms, cfg->work_us))
			return MHD_YES;
	}
	/* MHD_NO closes the connection without a response: the client has
	 * sent its request and hears nothing back. */
	if (rq->reply.drop)
		return MHD_NO;
	return send_reply(c, &rq->reply);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!rq)
		return;
	sim_buf_free(&rq->body);
	sim_reply_free(&rq->reply);
	free(rq);
	*con_cls = NULL;
}

/* MHD's own complaints (TLS alerts from clients that hang up, ...) are
 * worth seeing once, not once per connection of a load test. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct hal_ratelimit rl;
	char line[256];
	bool ok;

	(void)cls;
	pthread_mutex_lock(&mu);
	ok = hal_ratelimit_ok(&rl, 5, 1000);
	pthread_mutex_unlock(&mu);
	if (!ok)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_info("mhd: %s", line);
}

/*
 * A response leaves in several small writes (TLS records for headers and
 * body). With Nagle on, the second waits for the client's delayed ACK:
 * ~40 ms per request on a kept-alive connection, which would make the sim,
 * not outpostd, the bottleneck of every latency and throughput figure.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	int one = 1;

	(void)cls;
	(void)ctx;
	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci && setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("sim: TCP_NODELAY not set");
}

struct MHD_Daemon *sim_http_start(const struct sim_config *cfg, unsigned port, unsigned *bound)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;

	if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1)
		return NULL;
	if (cfg->latency_ms || cfg->work_us)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	/* The logger goes first so MHD's own setup messages use it too. */
	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_access, (void *)cfg,
			     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_HTTPS_MEM_KEY, cfg->key_pem,
			     MHD_OPTION_HTTPS_MEM_CERT, cfg->cert_pem,
			     MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
			     MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
	if (!d)
		return NULL;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*bound = info ? info->port : port;
	return d;
}

void sim_http_stop(struct MHD_Daemon *d)
{
	if (!d)
		return;
	/* Parked connections must be resumed first: MHD panics otherwise. */
	sim_delay_flush(true);
	MHD_stop_daemon(d);
}
