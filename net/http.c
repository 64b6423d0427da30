#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "hal/crash.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/ca.h"
#include "net/http.h"

/*
 * One curl easy handle and what must live exactly as long as it. Idle ones
 * wait on a free list: a reset handle keeps nothing of the last request, and
 * reusing it saves an allocation round per send on a small gateway.
 */
struct http_easy {
	CURL *curl;
	struct net_http_req *req;    /* NULL while idle */
	struct http_host *host;      /* counted in host->out or waiting on it; NULL: neither */
	bool waiting;                /* not handed to curl yet: no stream free */
	struct http_easy *wait_next; /* host->wait_head's list */
	int werr;                    /* why the write callback refused: ERR_TOOBIG, ERR_NOMEM */
	bool requested;              /* on_prereq let the request go once */
	bool connecting;             /* handed to curl, no connection yet: counted */
	bool resend_refused;         /* curl wanted to send it again */
	char errbuf[CURL_ERROR_SIZE];
	struct http_easy *next;      /* free list or active list */
};

/*
 * A host (scheme, name, port) that requests to it may share a connection
 * with: https ones, which may speak HTTP/2. `out` counts the transfers to
 * it handed to curl; while it speaks HTTP/2 (or has not said yet) no more
 * than opts.h2_streams are, and the rest wait here, in order, for one to
 * end. curl 7.88 would rather open another connection (see submit_gated).
 */
struct http_host {
	char *key;                   /* "https://name:port" */
	int version;                 /* of its last answer: 11, 20; 0 = none yet */
	unsigned out;
	struct http_easy *wait_head, *wait_tail;
	struct http_host *next;
};

/* A socket curl asked us to watch. Freed from a 0 ms timer after curl says
 * CURL_POLL_REMOVE, because that can happen inside this socket's own fd
 * callback (hal/loop.h forbids freeing a handle from its callback). */
struct http_sock {
	struct hal_fd w;
	struct net_http *h;
	bool dead;
	struct http_sock *next;
};

struct net_http {
	struct hal_loop *loop;
	struct net_http_opts opts;
	CURLM *multi;
	struct curl_slist *hdrs;   /* shared by every request, read-only */
	struct hal_timer timer;    /* the one timeout curl asks for */
	struct hal_timer reap;     /* frees dead sockets */
	struct http_easy *idle;
	struct http_easy *active;
	unsigned inflight;
	unsigned connecting;       /* handed to curl, not yet sent (http_easy) */
	struct net_http_stats stats;
	struct http_sock *socks;   /* live and dead */
	struct http_host *hosts;
	struct net_ca *ca;         /* the CA file most requests name, parsed once */
	bool global;               /* curl_global_init succeeded */
	bool closing;
};

#define SETOPT(c, opt, val)                                   \
	do {                                                  \
		if (rc == CURLE_OK)                           \
			rc = curl_easy_setopt((c), (opt), (val)); \
	} while (0)

static void harvest(struct net_http *h);
static void host_done(struct net_http *h, struct http_easy *he, int version);

/* ---- sockets and the timer: curl tells us what to wait for ---- */

static void kick(struct net_http *h, curl_socket_t s, int mask)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(h->multi, s, mask, &running);

	/* A stale event for a socket curl already dropped gives BAD_SOCKET:
	 * harmless, the transfers are unaffected. */
	if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET)
		log_err("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	harvest(h);
}

static void sock_ready(struct hal_fd *w, unsigned events)
{
	struct http_sock *sk = container_of(w, struct http_sock, w);
	int mask = 0;

	if (events & HAL_IN)
		mask |= CURL_CSELECT_IN;
	if (events & HAL_OUT)
		mask |= CURL_CSELECT_OUT;
	if (events & HAL_ERR)
		mask |= CURL_CSELECT_ERR;
	kick(sk->h, w->fd, mask);
}

static void reap_socks(struct hal_timer *t)
{
	struct net_http *h = container_of(t, struct net_http, reap);
	struct http_sock **pp = &h->socks;

	while (*pp) {
		struct http_sock *sk = *pp;

		if (sk->dead) {
			*pp = sk->next;
			free(sk);
		} else {
			pp = &sk->next;
		}
	}
}

static struct http_sock *sock_new(struct net_http *h, curl_socket_t s)
{
	struct http_sock *sk = calloc(1, sizeof(*sk));

	if (!sk)
		return NULL;
	sk->w.fd = s;
	sk->w.cb = sock_ready;
	sk->h = h;
	if (curl_multi_assign(h->multi, s, sk) != CURLM_OK) {
		free(sk);
		return NULL;
	}
	sk->next = h->socks;
	h->socks = sk;
	return sk;
}

/* CURLMOPT_SOCKETFUNCTION; may run at any time, curl_multi_cleanup included. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct net_http *h = userp;
	struct http_sock *sk = socketp;
	unsigned ev = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk && !sk->dead) {
			hal_fd_unwatch(h->loop, &sk->w);
			sk->dead = true;
			hal_timer_set(h->loop, &h->reap, 0);
		}
		return 0;
	}
	if (!sk && !(sk = sock_new(h, s))) {
		log_err("http: out of memory for a socket watch");
		return -1;
	}
	if (what & CURL_POLL_IN)
		ev |= HAL_IN;
	if (what & CURL_POLL_OUT)
		ev |= HAL_OUT;
	return hal_fd_watch(h->loop, &sk->w, ev) == ERR_OK ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: only (re)arm; curl must not be called from here. */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct net_http *h = userp;

	(void)m;
	if (timeout_ms < 0)
		hal_timer_cancel(h->loop, &h->timer);
	else
		hal_timer_set(h->loop, &h->timer, (uint64_t)timeout_ms);
	return 0;
}

static void timer_fired(struct hal_timer *t)
{
	kick(container_of(t, struct net_http, timer), CURL_SOCKET_TIMEOUT, 0);
}

/* ---- easy handles ---- */

static struct http_easy *easy_get(struct net_http *h)
{
	struct http_easy *he = h->idle;

	if (he) {
		h->idle = he->next;
		he->next = NULL;
		return he;
	}
	he = calloc(1, sizeof(*he));
	if (he && !(he->curl = curl_easy_init())) {
		free(he);
		he = NULL;
	}
	return he;
}

/* The pool never outgrows max_concurrent: at most that many are ever out. */
static void easy_put(struct net_http *h, struct http_easy *he)
{
	curl_easy_reset(he->curl);
	he->req = NULL;
	he->werr = ERR_OK;
	he->errbuf[0] = '\0';
	he->next = h->idle;
	h->idle = he;
}

/* he has a connection now (its request goes), or it ended without one. */
static void connected(struct net_http *h, struct http_easy *he)
{
	if (!he->connecting)
		return;
	he->connecting = false;
	h->connecting--;
}

static void active_unlink(struct net_http *h, struct http_easy *he)
{
	struct http_easy **pp;

	for (pp = &h->active; *pp; pp = &(*pp)->next) {
		if (*pp == he) {
			*pp = he->next;
			break;
		}
	}
	he->next = NULL;
	h->inflight--;
}

/* CURLOPT_WRITEFUNCTION: collects the body, keeping it NUL-terminated. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct http_easy *he = ud;
	struct net_http_req *req = he->req;
	size_t max = req->owner->opts.max_response, len = size * n, cap;
	char *nb;

	if (len > max - req->rlen) {
		he->werr = ERR_TOOBIG;
		return 0;
	}
	if (req->rlen + len + 1 > req->rcap) {
		for (cap = req->rcap ? req->rcap : 1024; cap < req->rlen + len + 1; cap *= 2)
			;
		cap = cap > max + 1 ? max + 1 : cap;
		if (!(nb = realloc(req->rbuf, cap))) {
			he->werr = ERR_NOMEM;
			return 0;
		}
		req->rbuf = nb;
		req->rcap = cap;
	}
	memcpy(req->rbuf + req->rlen, p, len);
	req->rlen += len;
	req->rbuf[req->rlen] = '\0';
	return len;
}

/* ---- results ---- */

static int map_code(CURLcode code, int werr, bool sent)
{
	switch (code) {
	case CURLE_OK:
		return ERR_OK;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return ERR_CONN;
	case CURLE_OPERATION_TIMEDOUT:
		/* Before any request byte left, a timeout is a connect failure:
		 * safe to retry. After, the server may have acted on it. */
		return sent ? ERR_TIMEOUT : ERR_CONN;
	case CURLE_FILESIZE_EXCEEDED:
		return ERR_TOOBIG;
	case CURLE_WRITE_ERROR:
		return werr ? werr : ERR_HTTP;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		/* A reset: the connection (HTTP/1.1, or HTTP/2 as a whole) or
		 * one HTTP/2 stream (RST_STREAM) ended without a whole answer.
		 * Whether the server may have acted on it is maybe_sent's to
		 * say, as for any reset; the code is the same either way. */
		return ERR_HTTP;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CLIENTCERT:
		return ERR_TLS;
	default:
		return ERR_HTTP;
	}
}

/*
 * A connect or TLS failure after request bytes went out is curl's own
 * reconnect failing: a reused connection (HTTP/1.1), or an HTTP/2 one with
 * streams on it, died after the request and curl tried a fresh one (see
 * on_prereq). What happened to the request is the first failure's, whose
 * text the error buffer keeps; "could not connect" would say nothing left.
 */
static int map_curlcode(CURLcode code, int werr, bool sent)
{
	int err = map_code(code, werr, sent);

	return sent && (err == ERR_CONN || err == ERR_TLS) ? ERR_HTTP : err;
}

/* CURLINFO_HTTP_VERSION as 10, 11 or 20; 0 when no answer said. */
static int http_version(CURL *c)
{
	long v = 0;

	curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &v);
	switch (v) {
	case CURL_HTTP_VERSION_1_0:
		return 10;
	case CURL_HTTP_VERSION_1_1:
		return 11;
	case CURL_HTTP_VERSION_2_0:
		return 20;
	default:
		return 0;
	}
}

/* Counts the connections this transfer opened (none when it was
 * multiplexed onto, or reused, one that was there) and says which HTTP
 * each speaks: the figure that shows HTTP/2 sharing one connection. curl
 * counts a connection once TCP is up, so one whose TLS handshake failed,
 * or a reconnect that died with the server, counts too. */
static void count_connects(struct net_http *h, const struct http_easy *he, int version)
{
	static struct hal_ratelimit rl;
	CURL *c = he->curl;
	/* Its host answered in this HTTP version before: a routine reconnect. */
	bool again = he->host && version && he->host->version == (version == 20 ? 20 : 11);
	long n = 0, port = 0;
	char *ip = NULL;

	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
	if (n <= 0)
		return;
	h->stats.connects += (uint64_t)n;
	if (version == 20)
		h->stats.connects_h2 += (uint64_t)n;
	curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip);
	curl_easy_getinfo(c, CURLINFO_PRIMARY_PORT, &port);
	/* HTTP/1.1 opens one per request in flight, and again after each
	 * idle spell (CURLOPT_MAXAGE_CONN): those are debug lines (info lines
	 * go to the store's log ring, and on a quiet site each status poll's
	 * reconnect was a commit for its line: docs/BENCHMARKS.md). The first
	 * to a host, and one that speaks another version, are info lines: a
	 * few, then a count. */
	if (again)
		log_debug("http: new connection to %s:%ld %s", ip ? ip : "?", port,
			  version == 20 ? "speaks HTTP/2" : "speaks HTTP/1.x");
	else if (hal_ratelimit_ok(&rl, 5, 60000))
		log_info("http: new connection to %s:%ld %s%s", ip ? ip : "?", port,
			 version == 20 ? "speaks HTTP/2" :
			 version ? "speaks HTTP/1.x" : "(no answer came to tell its HTTP version)",
			 rl.suppressed ? " (similar lines suppressed)" : "");
}

static void fill_result(struct http_easy *he, CURLcode code, bool cancelled,
			struct net_http_result *res)
{
	long status = 0, sent = 0;
	curl_off_t retry_after = 0;
	const char *text;

	curl_easy_getinfo(he->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(he->curl, CURLINFO_REQUEST_SIZE, &sent);
	curl_easy_getinfo(he->curl, CURLINFO_RETRY_AFTER, &retry_after);
	res->http_version = http_version(he->curl);
	count_connects(he->req->owner, he, res->http_version);
	res->status = status;
	res->maybe_sent = sent > 0 || he->resend_refused;
	res->retry_after_s = (long)retry_after;
	res->err = cancelled ? ERR_CLOSED : map_curlcode(code, he->werr, res->maybe_sent);
	if (res->err == ERR_OK)
		return;
	if (cancelled)
		text = "cancelled at shutdown";
	else if (he->werr == ERR_TOOBIG)
		text = "response body over its limit";
	else if (he->resend_refused)
		text = "connection closed without an answer after the request was sent";
	else
		text = he->errbuf[0] ? he->errbuf : curl_easy_strerror(code);
	snprintf(res->error, sizeof(res->error), "%s", text);
	/* An outage fails every request alike: a few lines say so, the rest
	 * are counted and the outcome goes into each record anyway. */
	static struct hal_ratelimit rl;
	if (hal_ratelimit_ok(&rl, 5, 10000))
		log_warn("http: %s: %s%s%s", hal_strerror(res->err), res->error,
			 res->maybe_sent && !he->resend_refused ? " (request was sent)" : "",
			 rl.suppressed ? " (similar lines suppressed)" : "");
}

/* A header list that may hold a secret (a Bearer token, an API key):
 * curl_slist_free_all() frees without clearing. */
static void headers_wipe(struct curl_slist *l)
{
	for (struct curl_slist *s = l; s; s = s->next)
		if (s->data)
			explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(l);
}

void net_http_headers_free(char **hdr, unsigned n)
{
	for (unsigned i = 0; hdr && i < n; i++) {
		if (hdr[i])
			explicit_bzero(hdr[i], strlen(hdr[i]));
		free(hdr[i]);
		hdr[i] = NULL;
	}
}

/* Detaches everything from req before done() so done() may reuse req and
 * submit again; the body buffer is freed only after done() returns. */
static void complete(struct net_http *h, struct http_easy *he, CURLcode code, bool cancelled)
{
	struct net_http_req *req = he->req;
	struct net_http_result res;
	char *body = req->rbuf;

	memset(&res, 0, sizeof(res));
	fill_result(he, code, cancelled, &res);
	if (!he->waiting)
		curl_multi_remove_handle(h->multi, he->curl);
	connected(h, he);
	active_unlink(h, he);
	host_done(h, he, res.http_version);
	res.body = body ? body : "";
	res.body_len = req->rlen;
	res.url = req->url;
	easy_put(h, he); /* the reset handle no longer points at req->hdrs */
	headers_wipe(req->hdrs);
	req->hdrs = NULL;
	req->easy = NULL;
	req->owner = NULL;
	req->rbuf = NULL;
	req->rlen = req->rcap = 0;
	req->done(req, &res);
	free(body);
}

static void harvest(struct net_http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		CURL *c = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct http_easy *he = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&he);
		if (he)
			complete(h, he, code, false);
	}
}

/* ---- setup ---- */

#ifdef OUTPOST_CRASH_POINTS
/* Crash builds: the whole body is out and no answer has come back - the
 * moment a crash leaves the provider with a message we have no record of. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)arg;
	(void)dltotal;
	if (ultotal > 0 && ulnow == ultotal && dlnow == 0)
		OUTPOST_CRASH_POINT("http-body-sent");
	return 0;
}

#endif
/*
 * curl's receive buffer, allocated per transfer: 4 KiB, not 16 (an answer
 * is 1 to 2 KiB of headers and JSON; a longer one is read in more pieces).
 * curl 7.88 refuses the size (CURLE_BAD_FUNCTION_ARGUMENT) while the handle
 * still holds the buffer of its last transfer, which it frees when that
 * transfer is done with its connection - and not when the transfer ended
 * while its HTTP/2 connection still carried other streams (multi_done()
 * stops early then). curl_easy_reset() does not free it either, but puts
 * the size back to 16 KiB: reading 16 KiB into the 4 KiB held would
 * overflow it. So such a handle is replaced by a new one.
 */
#define HTTP_RECV_BUFFER 4096L

static CURLcode set_recv_buffer(struct http_easy *he)
{
	CURL *fresh;

	if (curl_easy_setopt(he->curl, CURLOPT_BUFFERSIZE, HTTP_RECV_BUFFER) == CURLE_OK)
		return CURLE_OK;
	if (!(fresh = curl_easy_init()))
		return CURLE_OUT_OF_MEMORY; /* the old handle stays, at 16 KiB */
	curl_easy_cleanup(he->curl);
	he->curl = fresh;
	return curl_easy_setopt(fresh, CURLOPT_BUFFERSIZE, HTTP_RECV_BUFFER);
}

static CURLcode set_common(struct net_http *h, struct http_easy *he)
{
	const struct net_http_opts *o = &h->opts;
	CURLcode rc = set_recv_buffer(he);
	CURL *c = he->curl;

	SETOPT(c, CURLOPT_PRIVATE, (void *)he);
	SETOPT(c, CURLOPT_ERRORBUFFER, he->errbuf);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* ALPN offers h2, then http/1.1: a provider that takes HTTP/2 gets
	 * every request to it multiplexed over one connection; one that does
	 * not is spoken to as before. Plain http:// (tests) stays HTTP/1.1. */
	SETOPT(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* No switch turns these off (DESIGN invariant 8). */
	SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	SETOPT(c, CURLOPT_TIMEOUT_MS, (long)o->total_timeout_ms);
	/* Catches a server that took the body and went silent. */
	SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(c, CURLOPT_LOW_SPEED_TIME, (long)o->low_speed_time_s);
	/* Keep-alive probes notice a dead NAT mapping on idle cached links. */
	SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(c, CURLOPT_TCP_KEEPIDLE, 30L);
	SETOPT(c, CURLOPT_TCP_KEEPINTVL, 15L);
	/* A server closes an idle connection after its own timeout (often
	 * 60 s or more); curl 7.88 with mbedTLS does not always notice before
	 * reusing it, and a POST written into a closed connection is an
	 * ambiguous outcome. Not reusing one idle for 20 s costs a handshake. */
	SETOPT(c, CURLOPT_MAXAGE_CONN, 20L);
	/* name/x.y.z, the pattern of Meta's spec (meta.yaml, UserAgent); the
	 * version --version prints (the Makefile's VERSION). */
	SETOPT(c, CURLOPT_USERAGENT, "outpost/" OUTPOST_VERSION);
	SETOPT(c, CURLOPT_HTTPHEADER, h->hdrs);
	/* curl's upload buffer, allocated per transfer (the request is copied
	 * into it for TLS): its smallest, 16 KiB, not 64; a request is ~1 KiB. */
	SETOPT(c, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	/* Refuses an announced oversized body before reading any of it. */
	SETOPT(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response);
	SETOPT(c, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(c, CURLOPT_WRITEDATA, (void *)he);
#ifdef OUTPOST_CRASH_POINTS
	SETOPT(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(c, CURLOPT_NOPROGRESS, 0L);
#endif
	return rc;
}

/*
 * CURLOPT_PREREQFUNCTION: curl is about to send the request. A second time
 * for one transfer is libcurl 7.88 sending it again by itself on a new
 * connection: after a reused connection died before any answer byte
 * (lib/transfer.c, Curl_retry_request) or an HTTP/2 stream was refused.
 * The server may have acted on the first copy: a blind resend is a possible
 * duplicate nobody would count. Refusing fails the transfer
 * (CURLE_ABORTED_BY_CALLBACK); the caller sees a request that may have been
 * sent, and decides. (The body is POSTFIELDS, not a read callback whose
 * rewind could be refused instead: curl then puts a small body in the same
 * send() and TLS record as the headers, one of each per request, not two.)
 */
static int on_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port,
		     int local_port)
{
	struct http_easy *he = arg;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (!he->requested) {
		he->requested = true;
		connected(he->req->owner, he);
		return CURL_PREREQFUNC_OK;
	}
	he->resend_refused = true;
	return CURL_PREREQFUNC_ABORT;
}

/* The shared headers plus the request's own, in a list of its own (curl
 * copies each string; headers_wipe clears the copies). */
static CURLcode set_headers(struct net_http *h, struct net_http_req *req, CURL *c)
{
	struct curl_slist *l = NULL, *s, *n;
	CURLcode rc = CURLE_OK;
	unsigned i;

	if (!req->n_headers)
		return CURLE_OK;
	for (s = h->hdrs; s; s = s->next) {
		if (!(n = curl_slist_append(l, s->data)))
			goto nomem;
		l = n;
	}
	for (i = 0; i < req->n_headers; i++) {
		if (!req->headers[i] || !(n = curl_slist_append(l, req->headers[i])))
			goto nomem;
		l = n;
	}
	req->hdrs = l;
	SETOPT(c, CURLOPT_HTTPHEADER, l);
	return rc;
nomem:
	headers_wipe(l);
	return CURLE_OUT_OF_MEMORY;
}

static CURLcode set_request(struct http_easy *he)
{
	const struct net_http_req *req = he->req;
	CURL *c = he->curl;
	CURLcode rc = CURLE_OK;

	SETOPT(c, CURLOPT_URL, req->url);
	if (req->method == NET_HTTP_POST) {
		/* The caller's buffer, kept until done(); curl asks on_prereq
		 * before it sends it a second time. */
		SETOPT(c, CURLOPT_POST, 1L);
		SETOPT(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		SETOPT(c, CURLOPT_PREREQFUNCTION, on_prereq);
		SETOPT(c, CURLOPT_PREREQDATA, (void *)he);
	} else {
		SETOPT(c, CURLOPT_HTTPGET, 1L);
	}
	if (req->user) {
		SETOPT(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(c, CURLOPT_USERNAME, req->user);
		SETOPT(c, CURLOPT_PASSWORD, req->password ? req->password : "");
	}
	if (req->ca_file && rc == CURLE_OK)
		rc = net_ca_apply(req->owner->ca, c, req->ca_file);
	SETOPT(c, CURLOPT_FRESH_CONNECT, req->fresh ? 1L : 0L);
	SETOPT(c, CURLOPT_FORBID_REUSE, req->fresh ? 1L : 0L);
	/* A burst to a host with no connection yet: without this each request
	 * opens its own (a TLS handshake and ~40 KiB of mbedTLS each) before
	 * the first has learnt from ALPN that one would do. With it they wait
	 * for that answer, then share the connection (HTTP/2) or open their
	 * own (HTTP/1.1: one handshake's time later than they would have). */
	SETOPT(c, CURLOPT_PIPEWAIT, req->fresh ? 0L : 1L);
	if (rc == CURLE_OK)
		rc = set_headers(req->owner, he->req, c);
	return rc;
}

/* Configures he for he->req. */
static int configure(struct net_http *h, struct http_easy *he)
{
	CURLcode rc = set_common(h, he);

	he->requested = false;
	he->resend_refused = false;
	if (rc == CURLE_OK)
		rc = set_request(he);
	if (rc != CURLE_OK) {
		log_err("http: curl_easy_setopt: %s", curl_easy_strerror(rc));
		return rc == CURLE_OUT_OF_MEMORY ? ERR_NOMEM : ERR_INVAL;
	}
	return ERR_OK;
}

/* Hands a configured he to the multi: the transfer starts. */
static int hand_over(struct net_http *h, struct http_easy *he)
{
	/* curl answers through on_timer(0); the transfer starts on the next
	 * loop turn, never inside this call, so done() cannot recurse here. */
	CURLMcode mc = curl_multi_add_handle(h->multi, he->curl);

	if (mc == CURLM_OK) {
		he->connecting = true;
		h->connecting++;
		return ERR_OK;
	}
	log_err("http: curl_multi_add_handle: %s", curl_multi_strerror(mc));
	return mc == CURLM_OUT_OF_MEMORY ? ERR_NOMEM : ERR_HTTP;
}

/* ---- hosts: no more streams on an HTTP/2 connection than it carries ---- */

/* "https://name:port" of an https URL; NULL for plain http (HTTP/1.1
 * only, CURL_HTTP_VERSION_2TLS), a URL curl will refuse itself, or no
 * memory: such a request is not held back. */
static char *host_key(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *name = NULL, *port = NULL, *key = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    strcmp(scheme, "https") == 0 &&
	    curl_url_get(u, CURLUPART_HOST, &name, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		size_t n = strlen(name) + strlen(port) + sizeof("https://:");

		if ((key = malloc(n)))
			snprintf(key, n, "https://%s:%s", name, port);
	}
	curl_free(scheme);
	curl_free(name);
	curl_free(port);
	curl_url_cleanup(u);
	return key;
}

/* Forgets hosts with nothing out or waiting once there are this many:
 * what they spoke is learnt again from the next answer. */
#define HOSTS_KEPT 16

static void hosts_prune(struct net_http *h)
{
	struct http_host **pp = &h->hosts;
	unsigned n = 0;

	for (struct http_host *ho = h->hosts; ho; ho = ho->next)
		n++;
	while (n >= HOSTS_KEPT && *pp) {
		struct http_host *ho = *pp;

		if (ho->out || ho->wait_head) {
			pp = &ho->next;
			continue;
		}
		*pp = ho->next;
		free(ho->key);
		free(ho);
		n--;
	}
}

static struct http_host *host_of(struct net_http *h, const char *url)
{
	char *key = host_key(url);
	struct http_host *ho;

	if (!key)
		return NULL;
	for (ho = h->hosts; ho; ho = ho->next) {
		if (strcasecmp(ho->key, key) == 0) {
			free(key);
			return ho;
		}
	}
	hosts_prune(h);
	if (!(ho = calloc(1, sizeof(*ho)))) {
		free(key);
		return NULL;
	}
	ho->key = key;
	ho->next = h->hosts;
	h->hosts = ho;
	return ho;
}

/*
 * Whether a host has all the streams its connection carries in use. One
 * that speaks HTTP/2, or has not answered yet (ALPN may say h2, and with
 * CURLOPT_PIPEWAIT a first burst waits to share the first connection), gets
 * no more than opts.h2_streams at once. curl 7.88 would open another
 * connection for the one over the limit, and another for each transfer
 * started before that one's TLS handshake is done (a connection still
 * connecting is not offered for reuse), so a burst opened tens. HTTP/1.1
 * gets one connection per request in flight, so nothing waits.
 */
static bool host_full(const struct net_http *h, const struct http_host *ho)
{
	return (ho->version == 0 || ho->version == 20) && ho->out >= h->opts.h2_streams;
}

/* he's request ended (version: what its answer spoke, 0 if none): its
 * stream is free for the oldest waiting on the host. Waiting time is not
 * curl's: a request's total timeout starts when curl gets it. */
static void host_done(struct net_http *h, struct http_easy *he, int version)
{
	struct http_host *ho = he->host;

	if (!ho)
		return;
	he->host = NULL;
	if (he->waiting) { /* cancelled before it was handed over */
		struct http_easy **pp = &ho->wait_head, *prev = NULL;

		while (*pp && *pp != he) {
			prev = *pp;
			pp = &prev->wait_next;
		}
		if (*pp)
			*pp = he->wait_next;
		if (ho->wait_tail == he)
			ho->wait_tail = prev;
		he->waiting = false;
		he->wait_next = NULL;
		return;
	}
	ho->out--;
	if (version)
		ho->version = version == 20 ? 20 : 11;
	while (!h->closing && ho->wait_head && !host_full(h, ho)) {
		struct http_easy *w = ho->wait_head;

		ho->wait_head = w->wait_next;
		if (!ho->wait_head)
			ho->wait_tail = NULL;
		w->wait_next = NULL;
		w->waiting = false;
		if (hand_over(h, w) == ERR_OK) {
			ho->out++;
		} else { /* nothing was sent */
			w->host = NULL;
			complete(h, w, CURLE_OUT_OF_MEMORY, false);
		}
	}
}

/* Hands he over, or queues it on its host when the host's connection has
 * no stream free. */
static int submit_gated(struct net_http *h, struct http_easy *he)
{
	struct http_host *ho = he->req->fresh ? NULL : host_of(h, he->req->url);
	int err;

	if (ho && host_full(h, ho)) {
		he->host = ho;
		he->waiting = true;
		if (ho->wait_tail)
			ho->wait_tail->wait_next = he;
		else
			ho->wait_head = he;
		ho->wait_tail = he;
		h->stats.stream_waits++;
		return ERR_OK;
	}
	err = hand_over(h, he);
	if (err == ERR_OK && ho) {
		he->host = ho;
		ho->out++;
	}
	return err;
}

static void hosts_free(struct net_http *h)
{
	struct http_host *ho;

	while ((ho = h->hosts)) {
		h->hosts = ho->next;
		free(ho->key);
		free(ho);
	}
}

int net_http_submit(struct net_http *h, struct net_http_req *req)
{
	struct http_easy *he;
	int err;

	if (!h || !req || !req->url || !req->done || req->n_headers > NET_HTTP_HEADERS_MAX ||
	    (req->method != NET_HTTP_GET && req->method != NET_HTTP_POST))
		return ERR_INVAL;
	if (h->closing)
		return ERR_CLOSED;
	if (h->inflight >= h->opts.max_concurrent)
		return ERR_LIMIT;
	if (!(he = easy_get(h)))
		return ERR_NOMEM;
	req->owner = h;
	req->easy = he;
	req->rbuf = NULL;
	req->rlen = req->rcap = 0;
	req->hdrs = NULL;
	he->req = req;
	err = configure(h, he);
	if (err == ERR_OK)
		err = submit_gated(h, he);
	if (err != ERR_OK) {
		headers_wipe(req->hdrs);
		req->hdrs = NULL;
		easy_put(h, he);
		req->easy = NULL;
		req->owner = NULL;
		return err;
	}
	he->next = h->active;
	h->active = he;
	h->inflight++;
	return ERR_OK;
}

/* ---- lifecycle ---- */

static int setup_multi(struct net_http *h)
{
	CURLMcode mc = CURLM_OK;

	if (!(h->multi = curl_multi_init()))
		return ERR_NOMEM;
	mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, (void *)h);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, (void *)h);
	/* Keep one idle connection per slot. curl's default cache is 4x the
	 * transfers added *at the moment*, so after a quiet spell it closes
	 * connections and the next burst pays a TLS handshake each - tens of
	 * ms of mbedTLS ECDHE on a gateway CPU. */
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->opts.max_concurrent);
	/* HTTP/2 streams share a connection (curl 7.88's default, said here
	 * because the connection count rests on it), at most h2_streams at
	 * once: curl's own limit is set to the number host_full() holds the
	 * requests to, so the two agree. A server that allows fewer (its
	 * SETTINGS_MAX_CONCURRENT_STREAMS; 100 is usual, and RFC 9113 asks
	 * for no less) gets another connection for the rest, as before. No
	 * per-host or total connection cap (CURLMOPT_MAX_HOST_CONNECTIONS):
	 * it would cap HTTP/1.1 too, where a connection is a request in
	 * flight, and queue transfers inside curl, where their total timeout
	 * runs. */
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(h->multi, CURLMOPT_MAX_CONCURRENT_STREAMS,
				       (long)h->opts.h2_streams);
	if (mc != CURLM_OK) {
		log_err("http: curl_multi_setopt: %s", curl_multi_strerror(mc));
		return ERR_HTTP;
	}
	/* Twilio answers JSON; no Expect: 100-continue round trip per POST. */
	h->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (h->hdrs && !curl_slist_append(h->hdrs, "Expect:"))
		return ERR_NOMEM;
	return h->hdrs ? ERR_OK : ERR_NOMEM;
}

/*
 * What a connection costs in resident memory. Per TLS connection, curl
 * 7.88 with Debian's mbedTLS 2.28 allocates ~38 KiB of backend state, most
 * of it an entropy context curl never uses (it seeds from one shared
 * context), and mbedTLS two record buffers of 16 KiB + 333 B each (fixed
 * by Debian's build: MBEDTLS_SSL_IN/OUT_CONTENT_LEN 16384, no
 * MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH). From glibc's heap, calloc writes
 * every byte of them; 130 HTTP/1.1 connections peaked at 21.6 MiB. Blocks
 * over 16 KiB + 256 B get pages of their own, which the kernel fills only
 * where they are written (a record of 1 KiB touches one page) and takes
 * back when they are freed. The threshold stays above curl's per-transfer
 * buffers (upload 16 KiB, download 4 KiB + 1: set_recv_buffer), which keep
 * coming from the heap: no system call per request (a map and an unmap per
 * request for the upload buffer made no difference to the resident heap in
 * a burst: its pages are reused by the next transfer). glibc only; musl
 * maps large blocks by itself.
 */
static void memory_per_connection(void)
{
#ifdef __GLIBC__
	if (!mallopt(M_MMAP_THRESHOLD, 16384 + 256))
		log_warn("http: mallopt(M_MMAP_THRESHOLD) refused; TLS connections cost more memory");
#endif
}

int net_http_init(struct hal_loop *loop, const struct net_http_opts *opts, struct net_http **out)
{
	struct net_http *h = NULL;
	CURLcode rc;
	int err;

	if (!loop || !opts || !out || !opts->max_concurrent || !opts->connect_timeout_ms ||
	    !opts->total_timeout_ms || !opts->max_response || opts->max_response >= SIZE_MAX / 2)
		return ERR_INVAL;
	if (!(h = calloc(1, sizeof(*h))))
		return ERR_NOMEM;
	h->loop = loop;
	h->opts = *opts;
	if (!h->opts.h2_streams)
		h->opts.h2_streams = NET_HTTP_H2_STREAMS;
	h->timer.cb = timer_fired;
	h->reap.cb = reap_socks;
	rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		log_err("http: curl_global_init: %s", curl_easy_strerror(rc));
		err = ERR_HTTP;
		goto out;
	}
	h->global = true;
	memory_per_connection();
	err = net_ca_new(&h->ca);
	if (err != ERR_OK)
		goto out;
	err = setup_multi(h);
	if (err != ERR_OK)
		goto out;
	*out = h;
	h = NULL;
out:
	net_http_free(h);
	return err;
}

void net_http_free(struct net_http *h)
{
	struct http_easy *he;
	struct http_sock *sk;

	if (!h)
		return;
	h->closing = true;
	while ((he = h->active))
		complete(h, he, CURLE_OK, true);
	/* May still call on_socket(REMOVE) and on_timer(-1): h stays whole. */
	if (h->multi)
		curl_multi_cleanup(h->multi);
	hal_timer_cancel(h->loop, &h->timer);
	hal_timer_cancel(h->loop, &h->reap);
	while ((he = h->idle)) {
		h->idle = he->next;
		curl_easy_cleanup(he->curl);
		free(he);
	}
	while ((sk = h->socks)) {
		h->socks = sk->next;
		hal_fd_unwatch(h->loop, &sk->w);
		free(sk);
	}
	hosts_free(h);
	net_ca_free(h->ca); /* after the multi: its connections pointed into it */
	curl_slist_free_all(h->hdrs);
	if (h->global)
		curl_global_cleanup();
	free(h);
}

unsigned net_http_inflight(const struct net_http *h)
{
	return h ? h->inflight : 0;
}

unsigned net_http_connecting(const struct net_http *h)
{
	return h ? h->connecting : 0;
}

struct net_http_stats net_http_stats(const struct net_http *h)
{
	struct net_http_stats none = {0}, st;

	if (!h)
		return none;
	st = h->stats;
	st.ca_parses = net_ca_parses(h->ca);
	return st;
}

const char *net_http_version(void)
{
	return curl_version();
}
