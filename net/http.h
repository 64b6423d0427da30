/*
 * http.h - the HTTP engine: libcurl's multi interface driven by the one
 * hal_loop, so no transfer ever blocks the daemon.
 *
 * net_http_submit() hands a caller-owned struct net_http_req to curl; the
 * request, its url, body and credentials must stay valid and untouched until
 * its done() callback has run. done() is called exactly once per accepted
 * submit, from the loop (never from inside net_http_submit). The result and
 * the body it points to are valid only during done(). done() may submit
 * again, the same req included; it must not call net_http_free().
 *
 * TLS verification is always on (peer and host name); the only knob is the
 * CA file. Redirects are never followed. Transfers in flight are bounded by
 * opts.max_concurrent, response bodies by opts.max_response.
 *
 * HTTP/2: over https, ALPN offers h2 then http/1.1; where the server takes
 * h2, requests to one host share one connection as concurrent streams
 * (and a burst waits for the first connection's answer instead of opening
 * one each). More than opts.h2_streams at once wait in net_http, in order,
 * for a stream rather than open another connection; waiting, a request has
 * sent nothing, and its total timeout has not started. Nothing else
 * changes: a stream reset is a reset (ERR_HTTP, maybe_sent as known),
 * timeouts and limits are per request.
 *
 * Duplicates: libcurl 7.88 silently resends a request on a fresh connection
 * when a reused one dies before any response byte. A POST may then reach the
 * server twice; that is part of the duplicate budget (DESIGN invariant 5).
 */
#ifndef NET_HTTP_H
#define NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/loop.h"

enum { NET_HTTP_GET = 1, NET_HTTP_POST };

/* Streams on one HTTP/2 connection by default: the usual server limit. */
#define NET_HTTP_H2_STREAMS 100
/* Extra request headers at most (auth, content type). */
#define NET_HTTP_HEADERS_MAX 4

struct net_http;

/* Since net_http_init. */
struct net_http_stats {
	uint64_t connects;    /* TCP connections made (CURLINFO_NUM_CONNECTS);
	                       * a TLS handshake may yet have failed on one */
	uint64_t connects_h2; /* of which an answer came over HTTP/2 */
	uint64_t stream_waits; /* requests that waited for a stream (opts.h2_streams) */
	uint64_t ca_parses;   /* CA file parses for all connections (net/ca.h) */
};

struct net_http_opts {
	unsigned max_concurrent;     /* transfers in flight at most; submit beyond -> ERR_LIMIT */
	unsigned connect_timeout_ms; /* DNS+TCP+TLS */
	unsigned total_timeout_ms;   /* whole transfer */
	unsigned low_speed_time_s;   /* abort if < 1 byte/s for this long */
	size_t max_response;         /* response body limit, e.g. 65536; over -> err ERR_TOOBIG */
	/* Requests at once to an https host that speaks HTTP/2 (or has not
	 * answered yet); more wait in order for one to end. 0 = NET_HTTP_H2_STREAMS. */
	unsigned h2_streams;
};

struct net_http_result {
	/* ERR_OK when an HTTP response arrived (any status); else ERR_CONN
	 * (nothing sent: refused, DNS, connect timeout), ERR_TLS (handshake or
	 * verification; nothing sent either), ERR_TIMEOUT, ERR_HTTP (a reset of
	 * the connection or an HTTP/2 stream, and whatever failed after
	 * request bytes went out), ERR_TOOBIG, ERR_CLOSED (cancelled by
	 * net_http_free). */
	int err;
	/* The request may have reached the server: true whenever any request
	 * bytes were sent (CURLINFO_REQUEST_SIZE > 0); a timeout or reset is then
	 * ambiguous. */
	bool maybe_sent;
	long status;        /* HTTP status, 0 if none */
	int http_version;   /* 11 or 20 (10 for HTTP/1.0), 0 if no answer said */
	long retry_after_s; /* CURLINFO_RETRY_AFTER, 0 if absent; may be negative for a past date */
	const char *body;   /* NUL-terminated response body, valid only during done() */
	size_t body_len;
	char error[256];    /* curl's error text when err != ERR_OK */
	/* The request's URL (req->url): a list reader checks that the next
	 * page it is told of stays where this one was. Valid during done()
	 * until the caller changes req->url; NULL in results made by hand. */
	const char *url;
};

struct net_http_req {
	/* set by the caller; owned by the caller and untouched until done() has run */
	int method;
	const char *url;
	const char *body;
	size_t body_len;              /* POST body, application/x-www-form-urlencoded */
	const char *user, *password;  /* HTTP Basic, may be NULL */
	/* Extra "Name: value" lines, e.g. "Authorization: Bearer ..." or
	 * "Content-Type: application/json" (a POST is form-encoded without
	 * one). They may carry secrets: net/http wipes its own copies when the
	 * transfer ends; the caller's strings are its own to wipe
	 * (net_http_headers_free). */
	const char *headers[NET_HTTP_HEADERS_MAX];
	unsigned n_headers;
	const char *ca_file;          /* CURLOPT_CAINFO, NULL = built-in bundle */
	/* A connection of its own, closed after: for rare requests (template
	 * syncs) that would otherwise leave one more idle connection in the
	 * cache, which curl 7.88 with mbedTLS may not see die (see net/http.c
	 * on CURLOPT_MAXAGE_CONN) and the next send would reuse. */
	bool fresh;
	void (*done)(struct net_http_req *req, const struct net_http_result *res);
	/* private */
	void *easy;
	char *rbuf;
	size_t rlen, rcap;
	void *hdrs;                   /* this request's header list, when it has extra ones */
	struct net_http *owner;
};

int net_http_init(struct hal_loop *loop, const struct net_http_opts *opts, struct net_http **out);
/* Cancels transfers still in flight, calling done() for each with
 * err = ERR_CLOSED and maybe_sent as known. Accepts NULL. */
void net_http_free(struct net_http *h);
/* ERR_OK (done() will run later), ERR_INVAL, ERR_LIMIT, ERR_NOMEM, ERR_CLOSED. */
int net_http_submit(struct net_http *h, struct net_http_req *req);
unsigned net_http_inflight(const struct net_http *h);
/* Of those, handed to curl and not yet sent: waiting for a connection (a
 * TCP connect and TLS handshake, or a turn of curl to reuse an idle one). */
unsigned net_http_connecting(const struct net_http *h);
struct net_http_stats net_http_stats(const struct net_http *h); /* zeros for NULL */
/* Wipes and frees n malloc'd header strings (secrets), setting each NULL. */
void net_http_headers_free(char **hdr, unsigned n);
/* curl_version(), e.g. "libcurl/7.88.1 mbedTLS/2.28.3 nghttp2/1.52.0";
 * static storage. */
const char *net_http_version(void);

#endif
