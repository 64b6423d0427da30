#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/clock.h"
#include "hal/log.h"

static bool to_syslog;
static hal_log_sink_fn *sink;
static void *sink_arg;
static bool in_sink; /* a record logged by the sink itself goes no further */
static int max_level = LOG_INFO;
/* Batched stderr (hal_log_batch): lines wait here for hal_log_flush(). */
static bool batched;
static char out[16384];
static size_t out_len;
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
	hal_log_flush();
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
	if (!batched) {
		fprintf(stderr, "%llu.%03llu %s: %s\n", (unsigned long long)(ms / 1000),
			(unsigned long long)(ms % 1000), names[level & 7], line);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		size_t room = sizeof(out) - out_len;
		int n = snprintf(out + out_len, room, "%llu.%03llu %s: %s\n",
				 (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
				 names[level & 7], line);

		if (n > 0 && (size_t)n < room) {
			out_len += (size_t)n;
			break;
		}
		hal_log_flush(); /* full: write what waits, then this line */
	}
	if (level <= LOG_WARNING)
		hal_log_flush();
}

void hal_log_batch(bool on)
{
	static bool hooked;

	hal_log_flush();
	batched = on && !to_syslog && !isatty(STDERR_FILENO);
	if (batched && !hooked)
		hooked = atexit(hal_log_flush) == 0; /* an exit() anywhere */
}

void hal_log_flush(void)
{
	size_t done = 0;

	while (done < out_len) {
		ssize_t n = write(STDERR_FILENO, out + done, out_len - done);

		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break; /* stderr gone or full: the lines are dropped, as fprintf would */
	}
	out_len = 0;
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
