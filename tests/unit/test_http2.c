/*
 * test_http2.c - net_http against a small HTTP/2 server in a thread of this
 * process: mbedTLS with ALPN "h2" and a self-signed "localhost" cert made at
 * start, nghttp2's server session over it. One connection at a time, so a
 * client that opened a second connection while the first is busy would
 * stall (and the test's guard would fail it).
 *
 * Paths: /ok (201 JSON), /batch (answered only once BATCH requests are open
 * on the connection together), /reset (RST_STREAM INTERNAL_ERROR once the
 * whole request is in), /refuse (RST_STREAM REFUSED_STREAM, likewise), /drop
 * (the connection is cut once the request is in, without GOAWAY).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <nghttp2/nghttp2.h>

#include "hal/err.h"
#include "hal/loop.h"
#include "net/http.h"

#define BATCH 4
#define MAX_STREAMS 16

/* ---- the server ---- */

struct h2_stream {
	int32_t id;
	char path[64];
	bool done; /* the whole request is in */
};

struct counts {
	int accepts, requests, resets, refused;
};

static struct h2srv {
	int lfd, port, stop[2];
	pthread_t th;
	pthread_mutex_t mu;
	struct counts n;
	char ca_path[64];
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509_crt crt;
	mbedtls_ssl_config conf;
	/* one connection's state; touched by the server thread only */
	mbedtls_ssl_context ssl;
	mbedtls_net_context net;
	nghttp2_session *sess;
	struct h2_stream streams[MAX_STREAMS];
	bool cut;
} S;

static const char *alpn[] = {"h2", NULL};
static const char ok_body[] = "{\"sid\":\"SM2\",\"status\":\"queued\"}";

static struct h2_stream *stream_of(int32_t id, bool make)
{
	for (int i = 0; i < MAX_STREAMS; i++)
		if (S.streams[i].id == id)
			return &S.streams[i];
	for (int i = 0; make && i < MAX_STREAMS; i++) {
		if (!S.streams[i].id) {
			memset(&S.streams[i], 0, sizeof(S.streams[i]));
			S.streams[i].id = id;
			return &S.streams[i];
		}
	}
	return NULL;
}

/* Blocking write of a whole frame buffer over the non-blocking socket. */
static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	size_t off = 0;

	(void)s, (void)flags, (void)ud;
	while (off < len) {
		int n = mbedtls_ssl_write(&S.ssl, data + off, len - off);

		if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ) {
			struct pollfd p = {.fd = S.net.fd, .events = POLLOUT};

			poll(&p, 1, 100);
			continue;
		}
		if (n <= 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		off += (size_t)n;
	}
	return (ssize_t)len;
}

static ssize_t read_ok_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	size_t n = sizeof(ok_body) - 1;

	(void)s, (void)id, (void)src, (void)ud;
	if (n > len)
		n = len;
	memcpy(buf, ok_body, n);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void answer_ok(int32_t id)
{
	nghttp2_nv nv[] = {
		{(uint8_t *)":status", (uint8_t *)"201", 7, 3, NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16,
		 NGHTTP2_NV_FLAG_NONE},
	};
	nghttp2_data_provider dp = {.read_callback = read_ok_body};

	nghttp2_submit_response(S.sess, id, nv, 2, &dp);
}

/* /batch answers wait until BATCH of them are open at once. */
static void answer_batch(void)
{
	int n = 0;

	for (int i = 0; i < MAX_STREAMS; i++)
		n += S.streams[i].id && S.streams[i].done && !strcmp(S.streams[i].path, "/batch");
	if (n < BATCH)
		return;
	for (int i = 0; i < MAX_STREAMS; i++) {
		if (S.streams[i].id && S.streams[i].done && !strcmp(S.streams[i].path, "/batch")) {
			answer_ok(S.streams[i].id);
			S.streams[i].done = false;
		}
	}
}

static void request_in(struct h2_stream *st)
{
	pthread_mutex_lock(&S.mu);
	S.n.requests++;
	S.n.resets += !strcmp(st->path, "/reset");
	S.n.refused += !strcmp(st->path, "/refuse");
	pthread_mutex_unlock(&S.mu);
	st->done = true;
	if (!strcmp(st->path, "/ok"))
		answer_ok(st->id);
	else if (!strcmp(st->path, "/batch"))
		answer_batch();
	else if (!strcmp(st->path, "/reset"))
		nghttp2_submit_rst_stream(S.sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
	else if (!strcmp(st->path, "/refuse"))
		nghttp2_submit_rst_stream(S.sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_REFUSED_STREAM);
	else if (!strcmp(st->path, "/drop"))
		S.cut = true;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct h2_stream *st = stream_of(f->hd.stream_id, true);

	(void)s, (void)flags, (void)ud;
	if (st && nlen == 5 && !memcmp(name, ":path", 5))
		snprintf(st->path, sizeof(st->path), "%.*s", (int)vlen, (const char *)value);
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2_stream *st;

	(void)s, (void)ud;
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && (st = stream_of(f->hd.stream_id, false)))
		request_in(st);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct h2_stream *st = stream_of(id, false);

	(void)s, (void)code, (void)ud;
	if (st)
		st->id = 0;
	return 0;
}

static int tls_handshake(void)
{
	int rc;

	while ((rc = mbedtls_ssl_handshake(&S.ssl)) != 0) {
		struct pollfd p = {.fd = S.net.fd, .events = POLLIN};

		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			p.events = POLLOUT;
		else if (rc != MBEDTLS_ERR_SSL_WANT_READ)
			return -1;
		if (poll(&p, 1, 2000) <= 0)
			return -1;
	}
	return 0;
}

/* Feeds what TLS has to nghttp2; false when the connection is over. */
static bool conn_read(void)
{
	uint8_t buf[4096];
	int n;

	for (;;) {
		n = mbedtls_ssl_read(&S.ssl, buf, sizeof(buf));
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			return true;
		if (n <= 0 || nghttp2_session_mem_recv(S.sess, buf, (size_t)n) < 0)
			return false;
		if (nghttp2_session_send(S.sess) != 0 || S.cut)
			return false;
	}
}

static void serve_conn(int fd)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100};

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	S.net.fd = fd;
	S.cut = false;
	memset(S.streams, 0, sizeof(S.streams));
	mbedtls_ssl_init(&S.ssl);
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_server_new(&S.sess, cb, NULL);
	nghttp2_session_callbacks_del(cb);
	if (mbedtls_ssl_setup(&S.ssl, &S.conf) != 0)
		goto out;
	mbedtls_ssl_set_bio(&S.ssl, &S.net, mbedtls_net_send, mbedtls_net_recv, NULL);
	if (tls_handshake() != 0)
		goto out;
	nghttp2_submit_settings(S.sess, NGHTTP2_FLAG_NONE, &iv, 1);
	if (nghttp2_session_send(S.sess) != 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = {{.fd = S.stop[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};

		if (mbedtls_ssl_get_bytes_avail(&S.ssl) == 0 && poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents || !conn_read())
			break;
	}
out:
	nghttp2_session_del(S.sess);
	S.sess = NULL;
	mbedtls_ssl_free(&S.ssl);
	close(fd);
}

static void *srv_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = S.stop[0], .events = POLLIN},
				      {.fd = S.lfd, .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (!(p[1].revents & POLLIN) || (fd = accept(S.lfd, NULL, NULL)) < 0)
			continue;
		pthread_mutex_lock(&S.mu);
		S.n.accepts++;
		pthread_mutex_unlock(&S.mu);
		serve_conn(fd);
	}
	return NULL;
}

/* A self-signed CA:TRUE cert for CN=localhost (mbedTLS, the client here,
 * matches the CN when there is no SAN), written out for CURLOPT_CAINFO. */
static int make_cert(void)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char pem[4096];
	int rc, fd;

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	rc = mbedtls_pk_setup(&S.key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!rc)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(S.key),
					 mbedtls_ctr_drbg_random, &S.drbg);
	if (!rc)
		rc = mbedtls_mpi_lset(&serial, 1);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &S.key);
	mbedtls_x509write_crt_set_issuer_key(&w, &S.key);
	if (!rc)
		rc = mbedtls_x509write_crt_set_serial(&w, &serial);
	if (!rc)
		rc = mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231235959");
	if (!rc)
		rc = mbedtls_x509write_crt_set_subject_name(&w, "CN=localhost");
	if (!rc)
		rc = mbedtls_x509write_crt_set_issuer_name(&w, "CN=localhost");
	if (!rc)
		rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, -1);
	if (!rc)
		rc = mbedtls_x509write_crt_set_key_usage(
			&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_CERT_SIGN);
	if (!rc)
		rc = mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &S.drbg);
	if (!rc)
		rc = mbedtls_x509_crt_parse(&S.crt, pem, strlen((char *)pem) + 1);
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	snprintf(S.ca_path, sizeof(S.ca_path), "/tmp/outpost-h2-ca.XXXXXX");
	if (rc || (fd = mkstemp(S.ca_path)) < 0)
		return -1;
	rc = write(fd, pem, strlen((char *)pem)) == (ssize_t)strlen((char *)pem) ? 0 : -1;
	close(fd);
	return rc;
}

static int tls_setup(void)
{
	mbedtls_entropy_init(&S.entropy);
	mbedtls_ctr_drbg_init(&S.drbg);
	mbedtls_pk_init(&S.key);
	mbedtls_x509_crt_init(&S.crt);
	mbedtls_ssl_config_init(&S.conf);
	if (mbedtls_ctr_drbg_seed(&S.drbg, mbedtls_entropy_func, &S.entropy, NULL, 0) != 0 ||
	    make_cert() != 0 ||
	    mbedtls_ssl_config_defaults(&S.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
	    mbedtls_ssl_conf_own_cert(&S.conf, &S.crt, &S.key) != 0 ||
	    mbedtls_ssl_conf_alpn_protocols(&S.conf, alpn) != 0)
		return -1;
	mbedtls_ssl_conf_rng(&S.conf, mbedtls_ctr_drbg_random, &S.drbg);
	return 0;
}

static int srv_start(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	(void)state;
	pthread_mutex_init(&S.mu, NULL);
	if (tls_setup() != 0)
		return -1;
	S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (S.lfd < 0 || bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(S.lfd, 16) < 0 ||
	    getsockname(S.lfd, (struct sockaddr *)&a, &alen) < 0 || pipe(S.stop) < 0)
		return -1;
	S.port = ntohs(a.sin_port);
	return pthread_create(&S.th, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static int srv_stop(void **state)
{
	(void)state;
	if (write(S.stop[1], "x", 1) != 1)
		return -1;
	pthread_join(S.th, NULL);
	close(S.lfd);
	close(S.stop[0]);
	close(S.stop[1]);
	unlink(S.ca_path);
	mbedtls_ssl_config_free(&S.conf);
	mbedtls_x509_crt_free(&S.crt);
	mbedtls_pk_free(&S.key);
	mbedtls_ctr_drbg_free(&S.drbg);
	mbedtls_entropy_free(&S.entropy);
	return 0;
}

static struct counts srv_counts(void)
{
	struct counts n;

	pthread_mutex_lock(&S.mu);
	n = S.n;
	pthread_mutex_unlock(&S.mu);
	return n;
}

/* ---- the client side ---- */

struct tr {
	struct net_http_req req;
	char url[128];
	int err, http_version;
	bool maybe_sent;
	long status;
	char body[128], error[256];
};

static struct hal_loop *loop;
static struct net_http *http;
static int ndone, want;
static bool timed_out;

static void on_done(struct net_http_req *req, const struct net_http_result *res)
{
	struct tr *t = container_of(req, struct tr, req);

	t->err = res->err;
	t->http_version = res->http_version;
	t->maybe_sent = res->maybe_sent;
	t->status = res->status;
	snprintf(t->body, sizeof(t->body), "%s", res->body);
	snprintf(t->error, sizeof(t->error), "%s", res->error);
	if (++ndone >= want)
		hal_loop_stop(loop);
}

static void on_guard(struct hal_timer *t)
{
	(void)t;
	timed_out = true;
	hal_loop_stop(loop);
}

/* streams: opts.h2_streams, 0 = the default. */
static void open_http_streams(unsigned streams)
{
	struct net_http_opts o = {.max_concurrent = 24, .connect_timeout_ms = 2000,
				  .total_timeout_ms = 4000, .low_speed_time_s = 5,
				  .max_response = 1024, .h2_streams = streams};

	assert_int_equal(hal_loop_init(&loop), ERR_OK);
	assert_int_equal(net_http_init(loop, &o, &http), ERR_OK);
	ndone = want = 0;
	timed_out = false;
}

static void open_http(void)
{
	open_http_streams(0);
}

static void close_http(void)
{
	net_http_free(http);
	hal_loop_free(loop);
	http = NULL;
	loop = NULL;
}

static void submit(struct tr *t, int method, const char *path)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->url, sizeof(t->url), "https://localhost:%d%s", S.port, path);
	t->req.method = method;
	t->req.url = t->url;
	t->req.ca_file = S.ca_path;
	t->req.done = on_done;
	if (method == NET_HTTP_POST) {
		t->req.body = "To=whatsapp%3A%2B49&x=1";
		t->req.body_len = strlen(t->req.body);
	}
	assert_int_equal(net_http_submit(http, &t->req), ERR_OK);
}

/* Runs the loop until n more done() calls or a 5 s guard. */
static void run(int n)
{
	struct hal_timer guard = {.cb = on_guard};

	want = ndone + n;
	hal_timer_set(loop, &guard, 5000);
	assert_int_equal(hal_loop_run(loop), ERR_OK);
	hal_timer_cancel(loop, &guard);
	assert_false(timed_out);
	assert_int_equal(ndone, want);
}

/* A POST to path whose answer never comes: ambiguous. */
static void post_ambiguous(struct tr *t, const char *path)
{
	submit(t, NET_HTTP_POST, path);
	run(1);
	assert_int_equal(t->err, ERR_HTTP);
	assert_true(t->maybe_sent);
	assert_int_equal(t->status, 0);
}

/* ---- tests ---- */

/* BATCH requests submitted at once wait for the first connection's ALPN
 * (PIPEWAIT) and go as streams over it: the server answers none until all
 * are open together, on its one connection. */
static void batch_over_one_stream_each(struct tr *t)
{
	for (int i = 0; i < BATCH; i++)
		submit(&t[i], NET_HTTP_POST, "/batch");
	run(BATCH);
	for (int i = 0; i < BATCH; i++) {
		assert_int_equal(t[i].err, ERR_OK);
		assert_int_equal(t[i].status, 201);
		assert_int_equal(t[i].http_version, 20);
		assert_string_equal(t[i].body, ok_body);
	}
}

static void test_multiplexed(void **state)
{
	struct tr t[BATCH];
	struct counts n0 = srv_counts();

	(void)state;
	open_http();
	batch_over_one_stream_each(t);
	/* Again, on the handles of the first batch: those that ended while
	 * the connection still carried other streams hold curl's receive
	 * buffer, and curl refuses them a new size (net/http.c,
	 * set_recv_buffer: such a handle is replaced). */
	batch_over_one_stream_each(t);
	assert_int_equal(srv_counts().accepts - n0.accepts, 1);
	assert_int_equal(net_http_stats(http).connects, 1);
	assert_int_equal(net_http_stats(http).connects_h2, 1);
	close_http();
}

/* More requests at once than a connection's streams (h2_streams, which is
 * curl's limit too): the rest wait in net_http and take the streams that
 * free up, on the one connection. curl itself would open a second one
 * for them, which this one-connection server never serves (the guard
 * would fail the test). */
#define OVER 12
#define STREAMS 4
static void test_streams_wait(void **state)
{
	struct tr t[OVER];
	struct counts n0 = srv_counts();

	(void)state;
	open_http_streams(STREAMS);
	for (int i = 0; i < OVER; i++)
		submit(&t[i], NET_HTTP_POST, "/ok");
	assert_int_equal(net_http_inflight(http), OVER);
	run(OVER);
	for (int i = 0; i < OVER; i++) {
		assert_int_equal(t[i].err, ERR_OK);
		assert_int_equal(t[i].status, 201);
		assert_int_equal(t[i].http_version, 20);
	}
	assert_int_equal(srv_counts().accepts - n0.accepts, 1);
	assert_int_equal(net_http_stats(http).connects, 1);
	assert_int_equal(net_http_stats(http).stream_waits, OVER - STREAMS);
	close_http();
}

/* Requests waiting for a stream when net_http_free cancels them: done()
 * runs for each, nothing sent. */
static void test_streams_cancelled(void **state)
{
	struct tr t[OVER];

	(void)state;
	open_http_streams(STREAMS);
	for (int i = 0; i < OVER; i++)
		submit(&t[i], NET_HTTP_POST, "/ok");
	net_http_free(http);
	http = NULL;
	assert_int_equal(ndone, OVER);
	for (int i = STREAMS; i < OVER; i++) {
		assert_int_equal(t[i].err, ERR_CLOSED);
		assert_false(t[i].maybe_sent);
	}
	close_http();
}

/* RST_STREAM after the whole request arrived: the server may have acted on
 * it, so it may have been sent; the connection and its other streams live
 * on (the next request takes the same connection). */
static void test_stream_reset(void **state)
{
	struct tr a, b;
	struct counts n0 = srv_counts(), n;

	(void)state;
	open_http();
	post_ambiguous(&a, "/reset");
	assert_non_null(strstr(a.error, "stream"));
	submit(&b, NET_HTTP_POST, "/ok");
	run(1);
	assert_int_equal(b.err, ERR_OK);
	assert_int_equal(b.status, 201);
	n = srv_counts();
	assert_int_equal(n.resets - n0.resets, 1); /* not resent by curl */
	assert_int_equal(n.accepts - n0.accepts, 1);
	close_http();
}

/* The connection cut under a stream whose request was in: ambiguous too. */
static void test_connection_cut(void **state)
{
	struct tr a;
	struct counts n0 = srv_counts();

	(void)state;
	open_http();
	post_ambiguous(&a, "/drop");
	assert_int_equal(srv_counts().requests - n0.requests, 1); /* curl did not send it again */
	close_http();
}

/* REFUSED_STREAM says the server did not process the request, and curl
 * would send it again on a new connection; with the body already sent it
 * asks the seek callback, which refuses: ambiguous (cautious; the
 * reconciliation finds nothing and the resend follows). */
static void test_refused_stream(void **state)
{
	struct tr a;
	struct counts n0 = srv_counts();

	(void)state;
	open_http();
	post_ambiguous(&a, "/refuse");
	assert_int_equal(srv_counts().refused - n0.refused, 1); /* curl did not resend it */
	close_http();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multiplexed),
		cmocka_unit_test(test_streams_wait),
		cmocka_unit_test(test_streams_cancelled),
		cmocka_unit_test(test_stream_reset),
		cmocka_unit_test(test_connection_cut),
		cmocka_unit_test(test_refused_stream),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
