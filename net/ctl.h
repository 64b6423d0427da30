/*
 * ctl.h - framing of the control protocol between outpostd and outpostctl.
 *
 * The transport is a unix stream socket. A request is one JSON object on one
 * line ending in "\n"; so is each response. A frame (the bytes before the
 * "\n") is at most NET_CTL_MAX_FRAME bytes; a "\r" before the "\n" is dropped
 * for people typing into socat. This module only cuts lines;
 * what the JSON means is the business of the daemon's command handlers and of
 * outpostctl.
 *
 * Server side: the daemon embeds a struct net_ctl_buf per connection
 * (zero-initialised), calls net_ctl_buf_fill() when the fd is readable and
 * then net_ctl_buf_take() until it yields no line. The buffer never holds more
 * than NET_CTL_MAX_FRAME + 1 bytes, so a client cannot make it grow further:
 * once it is full, fill stops reading until lines are taken (the loop is
 * level-triggered, so the rest is read on the next round).
 *
 * Client side: net_ctl_connect() and net_ctl_call() block, each bounded by a
 * timeout, for one request and one response at a time.
 */
#ifndef NET_CTL_H
#define NET_CTL_H

#include <stddef.h>

/* 256 KiB: an outbox page of a few hundred records fits, and a daemon with a
 * handful of control clients never holds more than a few MiB for them. */
#define NET_CTL_MAX_FRAME 262144

/* The daemon's answer to ERR_TOOBIG from net_ctl_buf_fill(), before it
 * closes the connection: the rest of that line cannot be told from the
 * next request, so the stream is not worth saving. */
#define NET_CTL_TOOBIG_RESPONSE "{\"ok\":false,\"error\":\"frame too long\"}\n"

/* An input line buffer. Zero-initialise; release with net_ctl_buf_free(). */
struct net_ctl_buf {
	char *data;
	size_t len, cap;
	size_t scanned; /* private: data[0..scanned) is known to hold no "\n" */
};

void net_ctl_buf_free(struct net_ctl_buf *b);

/*
 * Reads what is available from the non-blocking fd into b. Returns ERR_OK
 * (more may come later), ERR_CLOSED on end of file (or a reset), ERR_IO,
 * ERR_NOMEM, or ERR_TOOBIG when a line is longer than NET_CTL_MAX_FRAME.
 * After ERR_CLOSED, complete lines already in b can still be taken: a client
 * may send its request and shut down its writing side at once.
 */
int net_ctl_buf_fill(struct net_ctl_buf *b, int fd);

/*
 * If b holds a complete line, sets *line to a NUL-terminated malloc'd copy
 * without the line end (caller frees) and removes it from b; otherwise sets
 * *line = NULL. Returns ERR_OK, ERR_NOMEM, or ERR_PARSE for a line holding a
 * NUL byte (the line is removed, *line is NULL; answer it with an error).
 */
int net_ctl_buf_take(struct net_ctl_buf *b, char **line);

/*
 * Connects to the unix socket at path. On success *fd is a non-blocking,
 * close-on-exec socket the caller closes. On failure why gets a short reason
 * (the system's text) and the return says which kind: ERR_NOTFOUND (no such
 * socket), ERR_PERM, ERR_CONN (refused: nobody listening), ERR_AGAIN (the
 * daemon's backlog is full), ERR_INVAL (path too long), ERR_IO.
 */
int net_ctl_connect(const char *path, int *fd, char *why, size_t whylen);

/*
 * Sends request_json (one line, no "\n" inside) and waits for one response
 * line, at most timeout_ms (> 0) in all; fd is switched to non-blocking mode.
 * *response is a malloc'd NUL-terminated line the caller frees. Returns
 * ERR_OK, ERR_INVAL (a "\n" in the request, or no timeout), ERR_TOOBIG
 * (request or response over the frame limit), ERR_TIMEOUT, ERR_CLOSED (the
 * daemon hung up before answering), ERR_PARSE, ERR_IO, ERR_NOMEM. Bytes after
 * the response line are discarded.
 */
int net_ctl_call(int fd, const char *request_json, char **response, int timeout_ms);

#endif
