/*
 * log.h - the logging sink: stderr (default) or syslog.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG). Callers never log secrets;
 * phone numbers go through cfg_phone_mask() first. hal_log() is cheap when
 * the level is filtered out. A struct hal_ratelimit lets a hot path log a
 * repeated condition once per interval and count what it suppressed.
 */
#ifndef HAL_LOG_H
#define HAL_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void hal_log_open(const char *ident, bool use_syslog, int max_level);
void hal_log_close(void);
void hal_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) hal_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...) hal_log(LOG_WARNING, __VA_ARGS__)
#define log_info(...) hal_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) hal_log(LOG_DEBUG, __VA_ARGS__)

/* Allows `burst` events per `interval_ms`; counts the rest in `suppressed`. */
struct hal_ratelimit {
	uint64_t window_start;
	unsigned in_window;
	unsigned suppressed;
};

bool hal_ratelimit_ok(struct hal_ratelimit *rl, unsigned burst, uint64_t interval_ms);

#endif
