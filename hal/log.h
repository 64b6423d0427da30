/*
 * log.h - the logging sink: stderr (default) or syslog.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG). Callers never log secrets;
 * phone numbers go through cfg_phone_mask() first. Logging is cheap when
 * the level is filtered out. A struct hal_ratelimit lets a hot path log a
 * repeated condition once per interval and count what it suppressed.
 *
 * A sink (one, set by the daemon) also receives every record that passes the
 * level: its module (the text before the first ": " when that is a short
 * lowercase word, "mqtt", "sender"; else "outpostd"), the text after that
 * prefix, and the structured context that log_msg() adds. The context may
 * carry what a text never does - the full recipient number and the rendered
 * template variables - and only the sink sees it: stderr and syslog get the
 * text alone. The record and everything it points to are valid only during
 * the call. A record logged from inside the sink goes to stderr/syslog only.
 */
#ifndef HAL_LOG_H
#define HAL_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void hal_log_open(const char *ident, bool use_syslog, int max_level);
/* Writes what waits (hal_log_batch), then closes syslog. */
void hal_log_close(void);
/*
 * Batched stderr, for the daemon: when stderr is a file, pipe or socket
 * (not a terminal, not syslog), info and debug lines wait in a buffer and go
 * out in one write() per loop turn (hal_loop_run calls hal_log_flush before
 * it waits) or when the buffer is full; a warning or worse goes out at once
 * with whatever waits before it. The lines and their order are the same;
 * a kill -9 loses at most the info lines of the loop turn it hit.
 */
void hal_log_batch(bool on);
void hal_log_flush(void);

/* Context of one record; every field is optional (NULL, 0). */
struct log_ctx {
	const char *event_id;
	uint64_t msg_seq;  /* outbox sequence number */
	const char *to;    /* sensitive: the recipient, unmasked */
	const char *from;  /* sensitive: the sender of an inbound message, unmasked */
	const char *vars;  /* sensitive: rendered template variables (JSON) */
};

#define HAL_LOG_MODULE_MAX 16 /* module name with its NUL */

struct hal_log_rec {
	int level;
	char module[HAL_LOG_MODULE_MAX];
	const char *text;          /* without the "module: " prefix */
	const struct log_ctx *ctx; /* NULL for plain log_info() and the like */
};

typedef void hal_log_sink_fn(void *arg, const struct hal_log_rec *r);
/* Installs the sink (NULL removes it). */
void hal_log_set_sink(hal_log_sink_fn *fn, void *arg);
/* One record, with a context for the sink (ctx may be NULL); log_err ..
 * log_debug pass none. */
void hal_log_msg(int level, const struct log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...) hal_log_msg(LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) hal_log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_info(...) hal_log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) hal_log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_msg(level, ctx, ...) hal_log_msg(level, ctx, __VA_ARGS__)

/* Allows `burst` events per `interval_ms`; counts the rest in `suppressed`. */
struct hal_ratelimit {
	uint64_t window_start;
	unsigned in_window;
	unsigned suppressed;
};

bool hal_ratelimit_ok(struct hal_ratelimit *rl, unsigned burst, uint64_t interval_ms);

#endif
