/*
 * err.h - the project's one error enum.
 *
 * Every function that can fail returns an int that is ERR_OK (0) or one of
 * these codes. Numbers are never reused: a code that goes away leaves a hole.
 * Library codes (MOSQ_ERR_*, CURLcode, MDB_*, mbedTLS) are translated where
 * they enter our code; the library's own text goes to the log at that point.
 */
#ifndef HAL_ERR_H
#define HAL_ERR_H

enum {
	ERR_OK = 0,
	ERR_NOMEM = 1,     /* allocation failed */
	ERR_INVAL = 2,     /* bad argument or bad input */
	ERR_IO = 3,        /* read/write/fsync failed */
	ERR_NOTFOUND = 4,  /* no such key, file, name */
	ERR_EXISTS = 5,    /* already there (duplicate) */
	ERR_FULL = 6,      /* store or disk full: stop acknowledging */
	ERR_PERM = 7,      /* wrong owner or mode, permission denied */
	ERR_PARSE = 8,     /* malformed JSON or frame */
	ERR_TOOBIG = 9,    /* input over its limit */
	ERR_LIMIT = 10,    /* a queue or buffer limit was hit */
	ERR_STORE = 11,    /* LMDB failed in a way that needs a restart */
	ERR_MQTT = 12,     /* broker link failed */
	ERR_HTTP = 13,     /* HTTP transfer failed */
	ERR_TLS = 14,      /* TLS handshake or verification failed */
	ERR_CONFIG = 15,   /* configuration invalid */
	ERR_AGAIN = 16,    /* try again later */
	ERR_PROTO = 17,    /* peer broke the protocol */
	ERR_CLOSED = 18,   /* peer closed */
	ERR_TIMEOUT = 19,  /* timed out */
	ERR_AUTH = 20,     /* credentials refused */
	ERR_CONN = 21,     /* could not connect (nothing was sent) */
	ERR__MAX
};

const char *hal_strerror(int err);

#endif
