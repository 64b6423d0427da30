/* The loop's idle timers: they fire once the loop has nothing else to do,
 * or at their deadline when it never runs out of work. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/clock.h"
#include "hal/loop.h"

struct bench {
	struct hal_loop *loop;
	struct hal_fd rd;
	struct hal_timer idle, stop;
	int fds[2];
	unsigned reads;      /* bytes taken, one per callback */
	int left_at_idle;    /* bytes still in the pipe when the idle timer ran */
	unsigned idles;
	bool drain;          /* the fd callback reads; else it leaves the pipe full */
};

static int pipe_left(const struct bench *b)
{
	char buf[64];
	ssize_t n = read(b->fds[0], buf, sizeof(buf));

	return n < 0 ? 0 : (int)n;
}

static void on_readable(struct hal_fd *w, unsigned events)
{
	struct bench *b = container_of(w, struct bench, rd);
	char c;

	(void)events;
	if (b->drain && read(b->fds[0], &c, 1) == 1)
		b->reads++;
	hal_timer_idle(b->loop, &b->idle, 1000);
}

static void on_idle(struct hal_timer *t)
{
	struct bench *b = container_of(t, struct bench, idle);

	b->idles++;
	b->left_at_idle = b->drain ? pipe_left(b) : -1;
	hal_loop_stop(b->loop);
}

static void on_stop(struct hal_timer *t)
{
	struct bench *b = container_of(t, struct bench, stop);

	hal_loop_stop(b->loop);
}

static void setup_bench(struct bench *b, bool drain)
{
	*b = (struct bench){.drain = drain};
	assert_int_equal(hal_loop_init(&b->loop), 0);
	assert_int_equal(pipe2(b->fds, O_NONBLOCK), 0);
	b->rd = (struct hal_fd){.fd = b->fds[0], .cb = on_readable};
	b->idle.cb = on_idle;
	b->stop.cb = on_stop;
}

static void teardown_bench(struct bench *b)
{
	hal_fd_unwatch(b->loop, &b->rd);
	hal_timer_cancel(b->loop, &b->idle);
	hal_timer_cancel(b->loop, &b->stop);
	close(b->fds[0]);
	close(b->fds[1]);
	hal_loop_free(b->loop);
}

/* Ten bytes, one taken per callback: the idle timer armed by the first
 * callback waits until the pipe is empty. */
static void fires_when_nothing_is_ready(void **state)
{
	struct bench b;

	(void)state;
	setup_bench(&b, true);
	assert_int_equal(write(b.fds[1], "0123456789", 10), 10);
	assert_int_equal(hal_fd_watch(b.loop, &b.rd, HAL_IN), 0);
	hal_timer_set(b.loop, &b.stop, 5000);
	assert_int_equal(hal_loop_run(b.loop), 0);
	assert_int_equal(b.idles, 1);
	assert_int_equal(b.reads, 10);
	assert_int_equal(b.left_at_idle, 0);
	teardown_bench(&b);
}

/* An fd that is always ready (nobody reads it): the idle timer still fires,
 * at its deadline, not never. */
static void fires_at_its_deadline_when_never_idle(void **state)
{
	struct bench b;
	uint64_t t0;

	(void)state;
	setup_bench(&b, false);
	assert_int_equal(write(b.fds[1], "x", 1), 1);
	assert_int_equal(hal_fd_watch(b.loop, &b.rd, HAL_IN), 0);
	hal_timer_set(b.loop, &b.stop, 5000);
	t0 = hal_now_ms();
	assert_int_equal(hal_loop_run(b.loop), 0);
	assert_int_equal(b.idles, 1);
	assert_true(hal_now_ms() - t0 >= 1000);
	assert_true(hal_now_ms() - t0 < 5000);
	teardown_bench(&b);
}

/* A cancelled idle timer leaves the loop blocking as before: only the
 * plain timer ends the run. */
static void cancelled_idle_timer_never_fires(void **state)
{
	struct bench b;

	(void)state;
	setup_bench(&b, true);
	hal_timer_idle(b.loop, &b.idle, 10);
	hal_timer_cancel(b.loop, &b.idle);
	hal_timer_set(b.loop, &b.stop, 30);
	assert_int_equal(hal_loop_run(b.loop), 0);
	assert_int_equal(b.idles, 0);
	teardown_bench(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fires_when_nothing_is_ready),
		cmocka_unit_test(fires_at_its_deadline_when_never_idle),
		cmocka_unit_test(cancelled_idle_timer_never_fires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
