/*
 * notify.c - the notify protocol (hal/notify.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/notify.h"
#include "hal/parse.h"

/* The manager asks for a ping within WATCHDOG_USEC; half of it leaves a
 * whole interval of slack for a slow turn of the loop (sd_notify(3)). */
static uint64_t watchdog_interval_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t us, p;

	if (!usec || !hal_parse_u64(usec, 1, UINT64_MAX / 2, &us))
		return 0;
	/* The pings are for one process; a forked helper must not send them. */
	if (pid && (!hal_parse_u64(pid, 1, UINT32_MAX, &p) || p != (uint64_t)getpid()))
		return 0;
	return us / 2000 ? us / 2000 : 1;
}

int hal_notify_open(struct hal_notify *n)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!name || !*name)
		return ERR_OK;
	len = strlen(name);
	if (len >= sizeof(n->addr.sun_path) || (name[0] != '/' && name[0] != '@'))
		return ERR_INVAL;
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, name, len);
	if (name[0] == '@')
		n->addr.sun_path[0] = '\0'; /* abstract: the name has no NUL after it */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0)
		return ERR_IO;
	n->watchdog_ms = watchdog_interval_ms();
	return ERR_OK;
}

void hal_notify_close(struct hal_notify *n)
{
	if (n->loop)
		hal_timer_cancel(n->loop, &n->wd);
	n->loop = NULL;
	if (n->fd > 0)
		close(n->fd);
	n->fd = -1;
}

static bool send_text(struct hal_notify *n, const char *text, size_t len)
{
	static struct hal_ratelimit rl;

	if (n->fd < 0)
		return false;
	if (sendto(n->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&n->addr,
		   n->addr_len) == (ssize_t)len) {
		n->sent++;
		return true;
	}
	n->failed++;
	if (hal_ratelimit_ok(&rl, 1, 60000))
		log_warn("notify: cannot tell the service manager (%s); %llu messages lost so far",
			 strerror(errno), (unsigned long long)n->failed);
	return false;
}

bool hal_notify_send(struct hal_notify *n, const char *fmt, ...)
{
	char buf[HAL_NOTIFY_MAX];
	va_list ap;
	int len;

	if (n->fd < 0)
		return false;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		return false;
	return send_text(n, buf, (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf) - 1);
}

static void on_watchdog(struct hal_timer *t)
{
	struct hal_notify *n = container_of(t, struct hal_notify, wd);

	if (send_text(n, "WATCHDOG=1", 10))
		n->pings++;
	hal_timer_set(n->loop, &n->wd, n->watchdog_ms);
}

void hal_notify_watchdog_start(struct hal_notify *n, struct hal_loop *loop)
{
	if (n->fd < 0 || !n->watchdog_ms)
		return;
	n->loop = loop;
	n->wd.cb = on_watchdog;
	on_watchdog(&n->wd);
}
