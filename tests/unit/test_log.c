/* Batched stderr (hal_log_batch): info lines wait for the loop turn's
 * flush and go out in one write, in order; a warning goes out at once with
 * what waited before it; nothing is lost when the buffer fills. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/log.h"

static int pipe_rd = -1, saved_err = -1;

/* stderr becomes a pipe (not a terminal: batching applies). */
static int to_pipe(void **state)
{
	int p[2];

	(void)state;
	if (pipe(p) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	saved_err = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	pipe_rd = p[0];
	hal_log_open("test", false, LOG_INFO);
	hal_log_batch(true);
	return 0;
}

static int back(void **state)
{
	(void)state;
	hal_log_batch(false);
	dup2(saved_err, STDERR_FILENO);
	close(saved_err);
	close(pipe_rd);
	return 0;
}

/* What the pipe holds now (NUL-terminated, at most size - 1 bytes). */
static size_t drain(char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size - 1 && (n = read(pipe_rd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static void info_waits_for_the_flush(void **state)
{
	char buf[4096];

	(void)state;
	log_info("first line");
	log_info("second line");
	assert_int_equal(drain(buf, sizeof(buf)), 0);
	hal_log_flush();
	drain(buf, sizeof(buf));
	assert_non_null(strstr(buf, "info: first line\n"));
	assert_true(strstr(buf, "first line") < strstr(buf, "info: second line\n"));
	hal_log_flush(); /* nothing waits: writes nothing */
	assert_int_equal(drain(buf, sizeof(buf)), 0);
}

static void a_warning_goes_at_once(void **state)
{
	char buf[4096];

	(void)state;
	log_info("before the warning");
	log_warn("the warning");
	drain(buf, sizeof(buf));
	assert_non_null(strstr(buf, "info: before the warning\n"));
	assert_true(strstr(buf, "before the warning") < strstr(buf, "warn: the warning\n"));
}

static void a_full_buffer_loses_nothing(void **state)
{
	static char buf[1 << 20];
	char want[32];

	(void)state;
	for (int i = 0; i < 2000; i++)
		log_info("line %04d of a long run of lines that fill the buffer", i);
	hal_log_flush();
	drain(buf, sizeof(buf));
	for (int i = 0; i < 2000; i += 199) {
		snprintf(want, sizeof(want), "line %04d of", i);
		assert_non_null(strstr(buf, want));
	}
	assert_non_null(strstr(buf, "line 1999 of"));
	assert_true(strstr(buf, "line 0998 of") < strstr(buf, "line 0999 of"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(info_waits_for_the_flush),
		cmocka_unit_test(a_warning_goes_at_once),
		cmocka_unit_test(a_full_buffer_loses_nothing),
	};
	return cmocka_run_group_tests(tests, to_pipe, back);
}
