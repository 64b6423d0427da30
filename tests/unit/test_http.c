/*
 * test_http.c - net_http driven by a real hal_loop against a tiny plain-HTTP
 * server on 127.0.0.1, run in a thread of this process.
 *
 * The server answers by path: /ok (201 JSON), /hang (reads, never answers),
 * /429 (Retry-After: 7), /big (Content-Length over the limit), /chunked (an
 * unannounced body over the limit), /close (reads, then hangs up). A request
 * starting with a TLS record is hung up on at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/err.h"
#include "hal/loop.h"
#include "net/http.h"

#define MAX_CONNS 16
#define REQ_MAX 8192
#define LIMIT 1024 /* max_response in these tests */

/* ---- the server ---- */

struct conn {
	int fd;
	size_t len;
	char buf[REQ_MAX];
};

static struct srv {
	int lfd, port, stop[2];
	pthread_t th;
	pthread_mutex_t mu;
	int accepts, requests;
	char last[REQ_MAX];
	struct conn conns[MAX_CONNS];
} srv;

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, const char *status, const char *extra, const char *body)
{
	char head[512];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status,
			 extra, strlen(body));

	send_all(fd, head, (size_t)n);
	send_all(fd, body, strlen(body));
}

static void reply_chunked_big(int fd)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	char chunk[600];
	int i;

	send_all(fd, head, sizeof(head) - 1);
	memset(chunk, 'c', sizeof(chunk));
	memcpy(chunk, "200\r\n", 5); /* 0x200 = 512 bytes of data follow */
	memcpy(chunk + 5 + 512, "\r\n", 2);
	for (i = 0; i < 8; i++)
		send_all(fd, chunk, 5 + 512 + 2);
	send_all(fd, "0\r\n\r\n", 5);
}

/* Returns false when the connection is to be closed. */
static bool answer(struct conn *c)
{
	char big[LIMIT * 4];

	if (strncmp(c->buf, "POST /ok ", 9) == 0 || strncmp(c->buf, "GET /ok ", 8) == 0) {
		reply(c->fd, "201 Created", "Content-Type: application/json\r\n",
		      "{\"sid\":\"SM1\",\"status\":\"queued\"}");
	} else if (strstr(c->buf, " /429 ")) {
		reply(c->fd, "429 Too Many Requests", "Retry-After: 7\r\n", "{\"code\":20429}");
	} else if (strstr(c->buf, " /big ")) {
		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		reply(c->fd, "200 OK", "", big);
	} else if (strstr(c->buf, " /chunked ")) {
		reply_chunked_big(c->fd);
	} else if (strstr(c->buf, " /close ")) {
		return false;
	} else if (!strstr(c->buf, " /hang ")) {
		reply(c->fd, "404 Not Found", "", "");
	}
	return true;
}

/* A whole request is the header block plus Content-Length bytes. */
static size_t request_len(const struct conn *c)
{
	const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl;
	size_t head, body = 0;

	if (!end)
		return 0;
	head = (size_t)(end - c->buf) + 4;
	cl = strcasestr(c->buf, "Content-Length:");
	if (cl && cl < end)
		body = strtoul(cl + 15, NULL, 10);
	return c->len >= head + body ? head + body : 0;
}

static bool conn_read(struct conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	size_t whole;
	bool keep;

	if (n <= 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (c->buf[0] == 0x16) /* TLS ClientHello: not spoken here */
		return false;
	if (!(whole = request_len(c)))
		return c->len < sizeof(c->buf) - 1;
	pthread_mutex_lock(&srv.mu);
	srv.requests++;
	memcpy(srv.last, c->buf, whole);
	srv.last[whole] = '\0';
	pthread_mutex_unlock(&srv.mu);
	keep = answer(c);
	memmove(c->buf, c->buf + whole, c->len - whole);
	c->len -= whole;
	return keep;
}

static void srv_accept(void)
{
	int fd = accept(srv.lfd, NULL, NULL), i;

	if (fd < 0)
		return;
	pthread_mutex_lock(&srv.mu);
	srv.accepts++;
	pthread_mutex_unlock(&srv.mu);
	for (i = 0; i < MAX_CONNS; i++) {
		if (srv.conns[i].fd < 0) {
			srv.conns[i].fd = fd;
			srv.conns[i].len = 0;
			return;
		}
	}
	close(fd);
}

static void *srv_main(void *arg)
{
	struct pollfd p[MAX_CONNS + 2];
	int i;

	(void)arg;
	for (;;) {
		p[0] = (struct pollfd){.fd = srv.stop[0], .events = POLLIN};
		p[1] = (struct pollfd){.fd = srv.lfd, .events = POLLIN};
		for (i = 0; i < MAX_CONNS; i++)
			p[i + 2] = (struct pollfd){.fd = srv.conns[i].fd, .events = POLLIN};
		if (poll(p, MAX_CONNS + 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN)
			srv_accept();
		for (i = 0; i < MAX_CONNS; i++) {
			if (srv.conns[i].fd >= 0 && p[i + 2].revents && !conn_read(&srv.conns[i])) {
				close(srv.conns[i].fd);
				srv.conns[i].fd = -1;
			}
		}
	}
	return NULL;
}

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int srv_start(void **state)
{
	int i;

	(void)state;
	pthread_mutex_init(&srv.mu, NULL);
	for (i = 0; i < MAX_CONNS; i++)
		srv.conns[i].fd = -1;
	if ((srv.lfd = listen_any(&srv.port)) < 0 || pipe(srv.stop) < 0)
		return -1;
	return pthread_create(&srv.th, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static int srv_stop(void **state)
{
	int i;

	(void)state;
	if (write(srv.stop[1], "x", 1) != 1)
		return -1;
	pthread_join(srv.th, NULL);
	for (i = 0; i < MAX_CONNS; i++)
		if (srv.conns[i].fd >= 0)
			close(srv.conns[i].fd);
	close(srv.lfd);
	close(srv.stop[0]);
	close(srv.stop[1]);
	return 0;
}

static void srv_counts(int *accepts, int *requests, char *last, size_t last_size)
{
	pthread_mutex_lock(&srv.mu);
	*accepts = srv.accepts;
	*requests = srv.requests;
	if (last)
		snprintf(last, last_size, "%s", srv.last);
	pthread_mutex_unlock(&srv.mu);
}

/* ---- the client side ---- */

struct done_rec {
	int err;
	bool maybe_sent;
	long status, retry_after_s;
	int http_version;
	size_t body_len;
	char body[256];
	char error[256];
};

struct ctx {
	struct hal_loop *loop;
	struct net_http *h;
	struct hal_timer guard;
	bool timed_out;
	int ndone, want, resubmit, resubmit_rc;
	struct done_rec rec[4];
};

struct treq {
	struct net_http_req req;
	struct ctx *c;
	char url[128];
};

static void on_guard(struct hal_timer *t)
{
	struct ctx *c = container_of(t, struct ctx, guard);

	c->timed_out = true;
	hal_loop_stop(c->loop);
}

static void on_done(struct net_http_req *req, const struct net_http_result *res)
{
	struct treq *t = container_of(req, struct treq, req);
	struct ctx *c = t->c;
	struct done_rec *r = &c->rec[c->ndone < 4 ? c->ndone : 3];

	r->err = res->err;
	r->maybe_sent = res->maybe_sent;
	r->status = res->status;
	r->retry_after_s = res->retry_after_s;
	r->http_version = res->http_version;
	r->body_len = res->body_len;
	assert_non_null(res->body);
	assert_int_equal(strlen(res->body), res->body_len); /* NUL-terminated */
	snprintf(r->body, sizeof(r->body), "%s", res->body);
	snprintf(r->error, sizeof(r->error), "%s", res->error);
	c->ndone++;
	/* done() may submit again, even the same req */
	if (c->resubmit > 0) {
		c->resubmit--;
		c->resubmit_rc = net_http_submit(c->h, req);
	}
	if (c->ndone >= c->want)
		hal_loop_stop(c->loop);
}

static void open_ctx(struct ctx *c, unsigned max_conc, unsigned total_ms)
{
	struct net_http_opts o = {
		.max_concurrent = max_conc,
		.connect_timeout_ms = 1000,
		.total_timeout_ms = total_ms,
		.low_speed_time_s = 5,
		.max_response = LIMIT,
	};

	memset(c, 0, sizeof(*c));
	assert_int_equal(hal_loop_init(&c->loop), ERR_OK);
	assert_int_equal(net_http_init(c->loop, &o, &c->h), ERR_OK);
	c->guard.cb = on_guard;
}

static void close_ctx(struct ctx *c)
{
	net_http_free(c->h);
	hal_timer_cancel(c->loop, &c->guard);
	hal_loop_free(c->loop);
}

static void prep(struct treq *t, struct ctx *c, int method, const char *path)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d%s", srv.port, path);
	t->req.method = method;
	t->req.url = t->url;
	t->req.done = on_done;
}

/* A POST of `body` to `path`, submitted. */
static void submit_post(struct treq *t, struct ctx *c, const char *path, const char *body)
{
	prep(t, c, NET_HTTP_POST, path);
	t->req.body = body;
	t->req.body_len = strlen(body);
	assert_int_equal(net_http_submit(c->h, &t->req), ERR_OK);
}

/* Runs the loop until `want` done() calls or a 5 s guard. */
static void run(struct ctx *c, int want)
{
	c->want = want;
	hal_timer_set(c->loop, &c->guard, 5000);
	assert_int_equal(hal_loop_run(c->loop), ERR_OK);
	hal_timer_cancel(c->loop, &c->guard);
	assert_false(c->timed_out);
	assert_int_equal(c->ndone, want);
}

/* ---- tests ---- */

/* "User-Agent: outpost/x.y.z": Meta's spec (meta.yaml parameter UserAgent)
 * wants name/major.minor.patch; the version is the one --version prints. */
static bool user_agent_ok(const char *req)
{
	const char *ua = strstr(req, "\r\nUser-Agent: outpost/" OUTPOST_VERSION "\r\n"), *v;

	if (!ua)
		return false;
	v = ua + strlen("\r\nUser-Agent: outpost/");
	for (int part = 0; part < 3; part++) {
		size_t n = strspn(v, "0123456789");

		if (!n || v[n] != (part < 2 ? '.' : '\r'))
			return false;
		v += n + 1;
	}
	return true;
}

static void test_post_201(void **state)
{
	struct ctx c;
	struct treq t;
	char last[REQ_MAX];
	int acc, reqs;

	(void)state;
	open_ctx(&c, 4, 3000);
	prep(&t, &c, NET_HTTP_POST, "/ok");
	t.req.body = "To=whatsapp%3A%2B49&x=1";
	t.req.body_len = strlen(t.req.body);
	t.req.user = "AC1";
	t.req.password = "tok";
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	assert_int_equal(net_http_inflight(c.h), 1);
	run(&c, 1);
	assert_int_equal(c.rec[0].err, ERR_OK);
	assert_int_equal(c.rec[0].status, 201);
	assert_true(c.rec[0].maybe_sent);
	assert_string_equal(c.rec[0].body, "{\"sid\":\"SM1\",\"status\":\"queued\"}");
	assert_int_equal(net_http_inflight(c.h), 0);
	srv_counts(&acc, &reqs, last, sizeof(last));
	assert_non_null(strstr(last, "POST /ok HTTP/1.1\r\n"));
	assert_non_null(strstr(last, "Authorization: Basic QUMxOnRvaw==\r\n")); /* AC1:tok */
	assert_true(user_agent_ok(last));
	assert_non_null(strstr(last, "Content-Type: application/x-www-form-urlencoded\r\n"));
	assert_null(strstr(last, "Expect:"));
	assert_non_null(strstr(last, "\r\n\r\nTo=whatsapp%3A%2B49&x=1"));
	close_ctx(&c);
}

/* Extra headers (Bearer auth, a JSON body) go with their request only:
 * the shared ones stay, and the next request on the same handle has none. */
static void test_post_headers(void **state)
{
	struct ctx c;
	struct treq t;
	char last[REQ_MAX];
	int acc, reqs;

	(void)state;
	open_ctx(&c, 1, 3000);
	prep(&t, &c, NET_HTTP_POST, "/ok");
	t.req.body = "{\"a\":1}";
	t.req.body_len = strlen(t.req.body);
	t.req.headers[0] = "Authorization: Bearer sekrit";
	t.req.headers[1] = "Content-Type: application/json";
	t.req.n_headers = 2;
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 1);
	assert_int_equal(c.rec[0].status, 201);
	assert_null(t.req.hdrs); /* its list is gone (and wiped) once done() ran */
	srv_counts(&acc, &reqs, last, sizeof(last));
	assert_non_null(strstr(last, "Authorization: Bearer sekrit\r\n"));
	assert_non_null(strstr(last, "Content-Type: application/json\r\n"));
	assert_null(strstr(last, "x-www-form-urlencoded"));
	assert_non_null(strstr(last, "Accept: application/json\r\n"));
	assert_null(strstr(last, "Expect:"));
	prep(&t, &c, NET_HTTP_GET, "/ok");
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 2);
	srv_counts(&acc, &reqs, last, sizeof(last));
	assert_null(strstr(last, "Bearer"));
	assert_non_null(strstr(last, "Accept: application/json\r\n"));
	t.req.n_headers = NET_HTTP_HEADERS_MAX + 1;
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_INVAL);
	close_ctx(&c);
}

/* Two sequential requests, the second submitted from the first's done(),
 * share one TCP connection. */
static void test_keepalive_reuse(void **state)
{
	struct ctx c;
	struct treq t;
	char last[REQ_MAX];
	int acc0, req0, acc, reqs;

	(void)state;
	srv_counts(&acc0, &req0, NULL, 0);
	open_ctx(&c, 1, 3000);
	prep(&t, &c, NET_HTTP_GET, "/ok");
	c.resubmit = 1;
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 2);
	assert_int_equal(c.resubmit_rc, ERR_OK);
	assert_int_equal(c.rec[0].status, 201);
	assert_int_equal(c.rec[1].err, ERR_OK);
	assert_int_equal(c.rec[1].status, 201);
	/* plain http:// is HTTP/1.1 even though ALPN would offer h2 */
	assert_int_equal(c.rec[1].http_version, 11);
	srv_counts(&acc, &reqs, last, sizeof(last));
	assert_int_equal(reqs - req0, 2);
	assert_int_equal(acc - acc0, 1);
	assert_int_equal(net_http_stats(c.h).connects, 1);
	assert_int_equal(net_http_stats(c.h).connects_h2, 0);
	assert_non_null(strstr(last, "GET /ok HTTP/1.1\r\n"));
	assert_null(strstr(last, "Authorization:")); /* nothing left over from a reused handle */
	close_ctx(&c);
}

static void test_timeout_after_send(void **state)
{
	struct ctx c;
	struct treq t;

	(void)state;
	open_ctx(&c, 4, 400);
	submit_post(&t, &c, "/hang", "a=1");
	run(&c, 1);
	assert_int_equal(c.rec[0].err, ERR_TIMEOUT);
	assert_true(c.rec[0].maybe_sent);
	assert_int_equal(c.rec[0].status, 0);
	assert_true(c.rec[0].error[0] != '\0');
	close_ctx(&c);
}

static void test_closed_port(void **state)
{
	struct ctx c;
	struct treq t;
	int port, fd = listen_any(&port);

	(void)state;
	assert_true(fd >= 0);
	close(fd); /* nothing listens there now */
	open_ctx(&c, 4, 3000);
	prep(&t, &c, NET_HTTP_POST, "/ok");
	snprintf(t.url, sizeof(t.url), "http://127.0.0.1:%d/ok", port);
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 1);
	assert_int_equal(c.rec[0].err, ERR_CONN);
	assert_false(c.rec[0].maybe_sent);
	assert_int_equal(c.rec[0].status, 0);
	assert_int_equal(c.rec[0].http_version, 0);
	assert_int_equal(net_http_stats(c.h).connects, 0); /* only connections made count */
	close_ctx(&c);
}

static void test_hangup_after_send(void **state)
{
	struct ctx c;
	struct treq t;

	(void)state;
	open_ctx(&c, 4, 3000);
	prep(&t, &c, NET_HTTP_POST, "/close");
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 1);
	assert_int_equal(c.rec[0].err, ERR_HTTP);
	assert_true(c.rec[0].maybe_sent);
	close_ctx(&c);
}

/* A reused connection that dies after the request, before any answer
 * byte: libcurl 7.88 would send the POST again on a new connection by
 * itself. The server may have acted on the first copy, so the resend is
 * refused: the caller gets one attempt that may have been sent, and the
 * server sees the request once. */
static void test_no_blind_resend(void **state)
{
	struct ctx c;
	struct treq ok, dies;
	int acc0, req0, acc, reqs;

	(void)state;
	srv_counts(&acc0, &req0, NULL, 0);
	open_ctx(&c, 1, 3000);
	submit_post(&ok, &c, "/ok", "a=1");
	run(&c, 1);
	assert_int_equal(c.rec[0].status, 201);
	submit_post(&dies, &c, "/close", "b=2");
	run(&c, 2);
	assert_int_equal(c.rec[1].err, ERR_HTTP);
	assert_true(c.rec[1].maybe_sent);
	assert_non_null(strstr(c.rec[1].error, "after the request was sent"));
	srv_counts(&acc, &reqs, NULL, 0);
	assert_int_equal(reqs - req0, 2); /* /ok and /close once: no resend */
	close_ctx(&c);
}

static void test_too_big(void **state)
{
	struct ctx c;
	struct treq a, b;

	(void)state;
	open_ctx(&c, 4, 3000);
	prep(&a, &c, NET_HTTP_GET, "/big");      /* announced: refused by length */
	prep(&b, &c, NET_HTTP_GET, "/chunked");  /* unannounced: cut by the write callback */
	assert_int_equal(net_http_submit(c.h, &a.req), ERR_OK);
	assert_int_equal(net_http_submit(c.h, &b.req), ERR_OK);
	run(&c, 2);
	assert_int_equal(c.rec[0].err, ERR_TOOBIG);
	assert_int_equal(c.rec[1].err, ERR_TOOBIG);
	assert_true(c.rec[0].body_len <= LIMIT && c.rec[1].body_len <= LIMIT);
	close_ctx(&c);
}

static void test_retry_after(void **state)
{
	struct ctx c;
	struct treq t;

	(void)state;
	open_ctx(&c, 4, 3000);
	prep(&t, &c, NET_HTTP_POST, "/429");
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 1);
	assert_int_equal(c.rec[0].err, ERR_OK);
	assert_int_equal(c.rec[0].status, 429);
	assert_int_equal(c.rec[0].retry_after_s, 7);
	assert_string_equal(c.rec[0].body, "{\"code\":20429}");
	close_ctx(&c);
}

static void test_limit(void **state)
{
	struct ctx c;
	struct treq a, b;

	(void)state;
	open_ctx(&c, 1, 3000);
	prep(&a, &c, NET_HTTP_GET, "/ok");
	prep(&b, &c, NET_HTTP_GET, "/ok");
	assert_int_equal(net_http_submit(c.h, &a.req), ERR_OK);
	assert_int_equal(net_http_submit(c.h, &b.req), ERR_LIMIT);
	assert_int_equal(net_http_inflight(c.h), 1);
	run(&c, 1);
	assert_int_equal(net_http_submit(c.h, &b.req), ERR_OK);
	run(&c, 2);
	assert_int_equal(c.rec[1].status, 201);
	close_ctx(&c);
}

static void test_tls_verification_fails_closed(void **state)
{
	struct ctx c;
	struct treq t;

	(void)state;
	open_ctx(&c, 4, 3000);
	prep(&t, &c, NET_HTTP_POST, "/ok");
	snprintf(t.url, sizeof(t.url), "https://127.0.0.1:%d/ok", srv.port);
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	run(&c, 1);
	assert_int_equal(c.rec[0].err, ERR_TLS);
	assert_false(c.rec[0].maybe_sent);
	close_ctx(&c);
}

static void on_stop(struct hal_timer *t)
{
	struct ctx *c = container_of(t, struct ctx, guard);

	hal_loop_stop(c->loop);
}

/* Freeing with a transfer in flight reports it, and says it was sent. */
static void test_free_cancels(void **state)
{
	struct ctx c;
	struct treq t;

	(void)state;
	open_ctx(&c, 4, 3000);
	prep(&t, &c, NET_HTTP_POST, "/hang");
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_OK);
	c.guard.cb = on_stop;
	hal_timer_set(c.loop, &c.guard, 200);
	assert_int_equal(hal_loop_run(c.loop), ERR_OK);
	assert_int_equal(c.ndone, 0);
	c.resubmit = 1; /* a submit from done() during free is refused */
	c.want = 1;
	c.resubmit_rc = ERR_OK;
	net_http_free(c.h);
	c.h = NULL;
	assert_int_equal(c.resubmit_rc, ERR_CLOSED);
	assert_int_equal(c.ndone, 1);
	assert_int_equal(c.rec[0].err, ERR_CLOSED);
	assert_true(c.rec[0].maybe_sent);
	close_ctx(&c);
}

/* A request handed to curl counts as connecting until it is sent: one sent
 * and waiting for its answer does not; one whose TLS handshake gets no
 * answer (a listener that never accepts) still does, until it ends. */
static void test_connecting(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int mute = socket(AF_INET, SOCK_STREAM, 0);
	struct ctx c;
	struct treq sent, shaking;

	(void)state;
	assert_true(mute >= 0);
	assert_int_equal(bind(mute, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(mute, 4), 0);
	assert_int_equal(getsockname(mute, (struct sockaddr *)&sa, &len), 0);
	open_ctx(&c, 4, 3000);
	prep(&sent, &c, NET_HTTP_POST, "/hang");
	prep(&shaking, &c, NET_HTTP_POST, "/ok");
	snprintf(shaking.url, sizeof(shaking.url), "https://127.0.0.1:%d/ok", ntohs(sa.sin_port));
	assert_int_equal(net_http_connecting(c.h), 0);
	assert_int_equal(net_http_submit(c.h, &sent.req), ERR_OK);
	assert_int_equal(net_http_submit(c.h, &shaking.req), ERR_OK);
	assert_int_equal(net_http_connecting(c.h), 2);
	c.guard.cb = on_stop;
	hal_timer_set(c.loop, &c.guard, 300);
	assert_int_equal(hal_loop_run(c.loop), ERR_OK);
	assert_int_equal(c.ndone, 0);
	assert_int_equal(net_http_inflight(c.h), 2);
	assert_int_equal(net_http_connecting(c.h), 1);
	c.want = 2;
	net_http_free(c.h);
	c.h = NULL;
	assert_int_equal(c.ndone, 2);
	assert_int_equal(net_http_connecting(NULL), 0);
	close_ctx(&c);
	close(mute);
}

static void test_invalid(void **state)
{
	struct net_http_opts o = {.max_concurrent = 1, .connect_timeout_ms = 1, .total_timeout_ms = 1,
				  .max_response = 16};
	struct net_http_opts bad = o;
	struct ctx c;
	struct treq t;
	struct net_http *h = NULL;

	(void)state;
	open_ctx(&c, 1, 1000);
	bad.max_concurrent = 0;
	assert_int_equal(net_http_init(c.loop, &bad, &h), ERR_INVAL);
	bad = o;
	bad.max_response = 0;
	assert_int_equal(net_http_init(c.loop, &bad, &h), ERR_INVAL);
	assert_null(h);
	prep(&t, &c, 0, "/ok");
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_INVAL);
	prep(&t, &c, NET_HTTP_GET, "/ok");
	t.req.url = NULL;
	assert_int_equal(net_http_submit(c.h, &t.req), ERR_INVAL);
	assert_int_equal(net_http_inflight(c.h), 0);
	net_http_free(NULL);
	close_ctx(&c);
}

static void test_version(void **state)
{
	(void)state;
	assert_non_null(strstr(net_http_version(), "libcurl/7.88.1"));
	assert_non_null(strstr(net_http_version(), "mbedTLS/"));
	assert_non_null(strstr(net_http_version(), "nghttp2/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_201),
		cmocka_unit_test(test_post_headers),
		cmocka_unit_test(test_keepalive_reuse),
		cmocka_unit_test(test_timeout_after_send),
		cmocka_unit_test(test_closed_port),
		cmocka_unit_test(test_hangup_after_send),
		cmocka_unit_test(test_no_blind_resend),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_tls_verification_fails_closed),
		cmocka_unit_test(test_free_cancels),
		cmocka_unit_test(test_connecting),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
