#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hal/clock.h"
#include "hal/log.h"

static bool to_syslog;
static int max_level = LOG_INFO;
static const char *const names[] = {"emerg", "alert", "crit", "error",
				    "warn",  "notice", "info", "debug"};

void hal_log_open(const char *ident, bool use_syslog, int level)
{
	to_syslog = use_syslog;
	max_level = level;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void hal_log_close(void)
{
	if (to_syslog)
		closelog();
	to_syslog = false;
}

void hal_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(level, "%s", line);
		return;
	}
	/* Monotonic seconds: the wall clock may still be 1970 at boot. */
	uint64_t ms = hal_now_ms();
	fprintf(stderr, "%llu.%03llu %s: %s\n", (unsigned long long)(ms / 1000),
		(unsigned long long)(ms % 1000), names[level & 7], line);
}

bool hal_ratelimit_ok(struct hal_ratelimit *rl, unsigned burst, uint64_t interval_ms)
{
	uint64_t now = hal_now_ms();

	if (rl->window_start == 0 || now - rl->window_start >= interval_ms) {
		rl->window_start = now;
		rl->in_window = 0;
	}
	if (rl->in_window < burst) {
		rl->in_window++;
		return true;
	}
	rl->suppressed++;
	return false;
}
