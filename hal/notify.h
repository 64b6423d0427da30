/*
 * notify.h - telling the service manager how we are: readiness, a status
 * line, reload and stop, and watchdog pings. This is systemd's notify
 * protocol (sd_notify(3)) spoken without libsystemd: one datagram of
 * newline-separated KEY=VALUE lines to the unix socket named by
 * $NOTIFY_SOCKET (a leading '@' means the abstract namespace).
 *
 * Nothing here may hold up the loop or stop the daemon: the socket is
 * non-blocking, and a datagram that cannot be sent is counted in `failed`
 * and dropped (a manager that went away cannot be helped by waiting).
 * Without $NOTIFY_SOCKET every call is a cheap no-op, so the daemon runs
 * the same under procd, a shell or a test.
 *
 * The watchdog pings come from a timer on the daemon's own loop, at half of
 * $WATCHDOG_USEC: a loop that is wedged in a callback fires no timers, so
 * the pings stop and the manager restarts us. Pinging from anywhere else (a
 * thread, a signal) would keep a dead loop looking alive.
 *
 * struct hal_notify is embedded by its owner; open fills it, close
 * accepts a zeroed or closed one.
 */
#ifndef HAL_NOTIFY_H
#define HAL_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hal/loop.h"

#define HAL_NOTIFY_MAX 512 /* bytes of one message; longer ones are cut */

struct hal_notify {
	int fd;                      /* -1: nobody listens */
	struct sockaddr_un addr;     /* private */
	socklen_t addr_len;          /* private */
	uint64_t watchdog_ms;        /* ping interval; 0: no watchdog wanted */
	struct hal_timer wd;         /* private */
	struct hal_loop *loop;       /* private: set by watchdog_start */
	uint64_t sent, failed, pings; /* datagrams since open */
};

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. ERR_OK also
 * when there is no socket to talk to (n->fd is then -1); ERR_INVAL for a
 * socket name that does not fit, ERR_IO if no socket could be made. */
int hal_notify_open(struct hal_notify *n);
void hal_notify_close(struct hal_notify *n);

/* Sends one message (printf-style, "READY=1\nSTATUS=..."). true if it
 * went out; false (and counted) if not, or if nobody listens. */
bool hal_notify_send(struct hal_notify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sends WATCHDOG=1 now and then every watchdog_ms from loop's timers;
 * nothing when no watchdog was asked for. Stopped by close. */
void hal_notify_watchdog_start(struct hal_notify *n, struct hal_loop *loop);

#endif
