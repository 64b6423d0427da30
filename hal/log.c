#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hal/clock.h"
#include "hal/log.h"

static bool to_syslog;
static hal_log_sink_fn *sink;
static void *sink_arg;
static bool in_sink; /* a record logged by the sink itself goes no further */
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

void hal_log_set_sink(hal_log_sink_fn *fn, void *arg)
{
	sink = fn;
	sink_arg = arg;
}

/* "mqtt: connected" -> "mqtt"; returns the length of the "mqtt: " prefix,
 * 0 when the text starts with no short lowercase word and ": ". */
static size_t module_of(const char *line, char out[HAL_LOG_MODULE_MAX])
{
	size_t n = 0;

	while (n < HAL_LOG_MODULE_MAX - 1 &&
	       ((line[n] >= 'a' && line[n] <= 'z') ||
		(n > 0 && ((line[n] >= '0' && line[n] <= '9') || line[n] == '_' || line[n] == '-'))))
		n++;
	if (n == 0 || line[n] != ':' || line[n + 1] != ' ') {
		snprintf(out, HAL_LOG_MODULE_MAX, "outpostd");
		return 0;
	}
	memcpy(out, line, n);
	out[n] = '\0';
	return n + 2;
}

static void to_sink(int level, const struct log_ctx *ctx, const char *line)
{
	struct hal_log_rec r = {.level = level, .ctx = ctx};

	if (!sink || in_sink)
		return;
	r.text = line + module_of(line, r.module);
	in_sink = true;
	sink(sink_arg, &r);
	in_sink = false;
}

static void vlog(int level, const struct log_ctx *ctx, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vlog(int level, const struct log_ctx *ctx, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	to_sink(level, ctx, line);
	if (to_syslog) {
		syslog(level, "%s", line);
		return;
	}
	/* Monotonic seconds: the wall clock may still be 1970 at boot. */
	uint64_t ms = hal_now_ms();
	fprintf(stderr, "%llu.%03llu %s: %s\n", (unsigned long long)(ms / 1000),
		(unsigned long long)(ms % 1000), names[level & 7], line);
}

void hal_log_msg(int level, const struct log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vlog(level, ctx, fmt, ap);
	va_end(ap);
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
