/* The notify protocol against a socket bound here: messages arrive as
 * sent, abstract names work, WATCHDOG_PID picks the process, a missing
 * manager is counted, and the watchdog pings come from the loop's timers,
 * so a stalled loop sends none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/err.h"
#include "hal/loop.h"
#include "hal/notify.h"

static char sock_path[108];

/* A datagram socket bound to name ('@' = abstract), as the manager's. */
static int bind_manager(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

/* The next datagram, or "" when none waits. */
static const char *next_msg(int fd)
{
	static char buf[HAL_NOTIFY_MAX + 1];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static unsigned drain(int fd)
{
	unsigned n = 0;

	while (*next_msg(fd))
		n++;
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/outpost-notify-test.%d", (int)getpid());
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(sock_path);
	return 0;
}

static void messages_arrive_as_sent(void **state)
{
	struct hal_notify n;
	int mgr = bind_manager(sock_path);

	(void)state;
	setenv("NOTIFY_SOCKET", sock_path, 1);
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_true(n.fd >= 0);
	assert_int_equal(n.watchdog_ms, 0);
	assert_true(hal_notify_send(&n, "READY=1\nSTATUS=%s", "running"));
	assert_string_equal(next_msg(mgr), "READY=1\nSTATUS=running");
	assert_int_equal(n.sent, 1);
	hal_notify_close(&n);
	close(mgr);
}

static void abstract_names(void **state)
{
	char name[64];
	struct hal_notify n;
	int mgr;

	(void)state;
	snprintf(name, sizeof(name), "@outpost-notify-test-%d", (int)getpid());
	mgr = bind_manager(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_true(hal_notify_send(&n, "STOPPING=1"));
	assert_string_equal(next_msg(mgr), "STOPPING=1");
	hal_notify_close(&n);
	close(mgr);
}

static void nobody_listening_is_counted_not_fatal(void **state)
{
	struct hal_notify n;

	(void)state;
	assert_int_equal(hal_notify_open(&n), ERR_OK); /* no NOTIFY_SOCKET */
	assert_int_equal(n.fd, -1);
	assert_false(hal_notify_send(&n, "READY=1"));
	hal_notify_close(&n);

	setenv("NOTIFY_SOCKET", sock_path, 1); /* named, but nobody bound it */
	unlink(sock_path);
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_false(hal_notify_send(&n, "READY=1"));
	assert_false(hal_notify_send(&n, "STATUS=x"));
	assert_int_equal(n.failed, 2);
	hal_notify_close(&n);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(hal_notify_open(&n), ERR_INVAL);
	hal_notify_close(&n);
}

static void watchdog_pid_picks_the_process(void **state)
{
	char pid[32];
	struct hal_notify n;
	int mgr = bind_manager(sock_path);

	(void)state;
	setenv("NOTIFY_SOCKET", sock_path, 1);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_int_equal(n.watchdog_ms, 15000); /* half */
	hal_notify_close(&n);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_int_equal(n.watchdog_ms, 15000);
	hal_notify_close(&n);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_int_equal(n.watchdog_ms, 0); /* meant for another process */
	hal_notify_close(&n);
	close(mgr);
}

struct stall {
	struct hal_timer stall, stop;
	struct hal_loop *loop;
	int mgr;
	unsigned before, during;
};

/* A callback that does not return for 400 ms: 8 ping intervals. */
static void on_stall(struct hal_timer *t)
{
	struct stall *s = container_of(t, struct stall, stall);

	s->before = drain(s->mgr);
	usleep(400 * 1000);
	s->during = drain(s->mgr);
}

static void on_stop(struct hal_timer *t)
{
	struct stall *s = container_of(t, struct stall, stop);

	hal_loop_stop(s->loop);
}

static void a_stalled_loop_sends_no_pings(void **state)
{
	struct stall s = {.stall.cb = on_stall, .stop.cb = on_stop};
	struct hal_notify n;
	unsigned after;

	(void)state;
	s.mgr = bind_manager(sock_path);
	setenv("NOTIFY_SOCKET", sock_path, 1);
	setenv("WATCHDOG_USEC", "100000", 1); /* a ping every 50 ms */
	assert_int_equal(hal_notify_open(&n), ERR_OK);
	assert_int_equal(hal_loop_init(&s.loop), ERR_OK);
	hal_notify_watchdog_start(&n, s.loop);
	hal_timer_set(s.loop, &s.stall, 500);
	hal_timer_set(s.loop, &s.stop, 1200);
	assert_int_equal(hal_loop_run(s.loop), ERR_OK);
	after = drain(s.mgr);
	/* 500 ms of a running loop: the first ping and at most 10 more (a
	 * timer never fires early; a busy machine may make it late, so the
	 * lower bound only says that it pings at all). */
	assert_in_range(s.before, 3, 11);
	assert_int_equal(s.during, 0);
	/* 700 ms after the stall began: the loop pings again, a late one at
	 * once, then every 50 ms. */
	assert_in_range(after, 1, 8);
	assert_int_equal(n.pings, s.before + after);
	hal_notify_close(&n);
	hal_loop_free(s.loop);
	close(s.mgr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(messages_arrive_as_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(abstract_names, setup, teardown),
		cmocka_unit_test_setup_teardown(nobody_listening_is_counted_not_fatal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(watchdog_pid_picks_the_process, setup, teardown),
		cmocka_unit_test_setup_teardown(a_stalled_loop_sends_no_pings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
