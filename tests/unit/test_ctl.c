/*
 * test_ctl.c - control protocol framing (net/ctl.c): line cutting over a
 * socketpair, the frame limit, end of file, and the blocking client calls
 * against forked peers.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "net/ctl.h"

struct pair {
	int rd; /* the side under test, non-blocking */
	int wr; /* the peer */
};

static int pair_setup(void **state)
{
	static struct pair p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p.rd = sv[0];
	p.wr = sv[1];
	if (fcntl(p.rd, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	*state = &p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	close(p->rd);
	if (p->wr >= 0)
		close(p->wr);
	return 0;
}

static void put(int fd, const char *s, size_t len)
{
	assert_int_equal(write(fd, s, len), (ssize_t)len);
}

static void expect_line(struct net_ctl_buf *b, const char *want)
{
	char *line = NULL;

	assert_int_equal(net_ctl_buf_take(b, &line), ERR_OK);
	if (!want) {
		assert_null(line);
		return;
	}
	assert_non_null(line);
	assert_string_equal(line, want);
	free(line);
}

static void test_partial_lines(void **state)
{
	struct pair *p = *state;
	struct net_ctl_buf b = {0};

	put(p->wr, "{\"cmd\":", 7);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK);
	expect_line(&b, NULL);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK); /* nothing new */
	put(p->wr, "\"status\"}", 9);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK);
	expect_line(&b, NULL);
	put(p->wr, "\n{\"cmd\"", 7);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK);
	expect_line(&b, "{\"cmd\":\"status\"}");
	expect_line(&b, NULL);
	assert_int_equal(b.len, 6); /* the start of the next line stays */
	net_ctl_buf_free(&b);
	net_ctl_buf_free(&b); /* a freed buffer is a zeroed one */
	net_ctl_buf_free(NULL);
}

static void test_two_lines_one_read(void **state)
{
	struct pair *p = *state;
	struct net_ctl_buf b = {0};

	put(p->wr, "{\"a\":1}\n{\"b\":2}\r\n\n", 18);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK);
	expect_line(&b, "{\"a\":1}");
	expect_line(&b, "{\"b\":2}"); /* "\r" dropped */
	expect_line(&b, "");          /* an empty line is a frame too */
	expect_line(&b, NULL);
	assert_int_equal(b.len, 0);
	net_ctl_buf_free(&b);
}

static void test_nul_in_line(void **state)
{
	struct pair *p = *state;
	struct net_ctl_buf b = {0};
	char *line = (char *)1;

	put(p->wr, "{\"a\0\"}\nok\n", 10);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK);
	assert_int_equal(net_ctl_buf_take(&b, &line), ERR_PARSE);
	assert_null(line);
	expect_line(&b, "ok"); /* the bad line was removed, the next is intact */
	net_ctl_buf_free(&b);
}

/* Takes and frees every complete line in b; returns how many. */
static int drain(struct net_ctl_buf *b)
{
	char *line;
	int n = 0;

	while (net_ctl_buf_take(b, &line) == ERR_OK && line) {
		free(line);
		n++;
	}
	return n;
}

/* Writes all of s (non-blocking writer) while the reader fills b and takes
 * lines, as the daemon would; counts the lines in *lines. Returns the first
 * fill result that is not ERR_OK, or ERR_OK. */
static int pump(int wr, struct net_ctl_buf *b, int rd, const char *s, size_t len, int *lines)
{
	int rc;

	fcntl(wr, F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t n = len > 0 ? write(wr, s, len) : 0;

		if (n > 0) {
			s += n;
			len -= (size_t)n;
			continue;
		}
		assert_true(len == 0 || (n < 0 && errno == EAGAIN));
		rc = net_ctl_buf_fill(b, rd);
		if (rc)
			return rc;
		*lines += drain(b);
		if (len == 0)
			return ERR_OK;
	}
}

static char *filled(size_t n, char c)
{
	char *s = malloc(n + 2);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\n';
	s[n + 1] = '\0';
	return s;
}

static void test_max_frame_fits(void **state)
{
	struct pair *p = *state;
	struct net_ctl_buf b = {0};
	char *s = filled(NET_CTL_MAX_FRAME, 'x');
	char *line = NULL;
	int lines = 0;

	/* Hold the line back from pump's drain to look at it. */
	s[NET_CTL_MAX_FRAME] = 'x';
	assert_int_equal(pump(p->wr, &b, p->rd, s, NET_CTL_MAX_FRAME, &lines), ERR_OK);
	put(p->wr, "\n", 1);
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_OK);
	assert_int_equal(net_ctl_buf_take(&b, &line), ERR_OK);
	assert_non_null(line);
	assert_int_equal(strlen(line), NET_CTL_MAX_FRAME);
	assert_true(b.cap <= 4096); /* shrunk back after the big frame */
	assert_int_equal(lines, 0);
	free(line);
	free(s);
	net_ctl_buf_free(&b);
}

static void test_too_long(void **state)
{
	struct pair *p = *state;
	struct net_ctl_buf b = {0};
	char *s = filled(NET_CTL_MAX_FRAME + 1, 'y');
	int lines = 0;

	put(p->wr, "short\n", 6);
	assert_int_equal(pump(p->wr, &b, p->rd, s, NET_CTL_MAX_FRAME + 2, &lines), ERR_TOOBIG);
	/* The complete line before the long one was taken first. */
	assert_int_equal(lines, 1);
	assert_true(b.len <= (size_t)NET_CTL_MAX_FRAME + 1);
	free(s);
	net_ctl_buf_free(&b);
}

static void test_eof(void **state)
{
	struct pair *p = *state;
	struct net_ctl_buf b = {0};

	put(p->wr, "{\"cmd\":\"status\"}\n{\"half", 23);
	close(p->wr);
	p->wr = -1;
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_CLOSED);
	expect_line(&b, "{\"cmd\":\"status\"}"); /* request, then shutdown */
	expect_line(&b, NULL);                     /* a half line is no frame */
	assert_int_equal(net_ctl_buf_fill(&b, p->rd), ERR_CLOSED);
	net_ctl_buf_free(&b);
}

/* The peer: reads one line, answers per `mode`, exits. */
enum peer_mode { PEER_ECHO, PEER_SLOW_ECHO, PEER_SILENT, PEER_HANGUP };

static void peer_run(int fd, enum peer_mode mode)
{
	char buf[512];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(buf) && !memchr(buf, '\n', got)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			_exit(1);
		got += (size_t)n;
	}
	if (mode == PEER_HANGUP)
		_exit(0);
	if (mode == PEER_SILENT) {
		pause();
		_exit(0);
	}
	if (mode == PEER_SLOW_ECHO) { /* the answer in two pieces */
		if (write(fd, buf, 3) != 3)
			_exit(1);
		usleep(50 * 1000);
		if (write(fd, buf + 3, got - 3) != (ssize_t)(got - 3))
			_exit(1);
	} else if (write(fd, buf, got) != (ssize_t)got) {
		_exit(1);
	}
	usleep(200 * 1000); /* stay connected: the client must not wait for EOF */
	_exit(0);
}

static pid_t peer_fork(struct pair *p, enum peer_mode mode)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		close(p->rd);
		peer_run(p->wr, mode);
	}
	close(p->wr);
	p->wr = -1;
	return pid;
}

static void peer_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_call_round_trip(void **state)
{
	struct pair *p = *state;
	pid_t pid = peer_fork(p, PEER_ECHO);
	char *resp = NULL;

	assert_int_equal(net_ctl_call(p->rd, "{\"cmd\":\"status\"}", &resp, 2000), ERR_OK);
	assert_non_null(resp);
	assert_string_equal(resp, "{\"cmd\":\"status\"}");
	free(resp);
	peer_reap(pid);
}

static void test_call_slow_answer(void **state)
{
	struct pair *p = *state;
	pid_t pid = peer_fork(p, PEER_SLOW_ECHO);
	char *resp = NULL;

	assert_int_equal(net_ctl_call(p->rd, "{\"ok\":true}", &resp, 2000), ERR_OK);
	assert_string_equal(resp, "{\"ok\":true}");
	free(resp);
	peer_reap(pid);
}

static void test_call_timeout(void **state)
{
	struct pair *p = *state;
	pid_t pid = peer_fork(p, PEER_SILENT);
	char *resp = (char *)1;
	uint64_t t0 = hal_now_ms();

	assert_int_equal(net_ctl_call(p->rd, "{}", &resp, 100), ERR_TIMEOUT);
	assert_null(resp);
	assert_true(hal_now_ms() - t0 >= 100);
	peer_reap(pid);
}

static void test_call_hangup(void **state)
{
	struct pair *p = *state;
	pid_t pid = peer_fork(p, PEER_HANGUP);
	char *resp = NULL;

	assert_int_equal(net_ctl_call(p->rd, "{}", &resp, 2000), ERR_CLOSED);
	assert_null(resp);
	peer_reap(pid);
}

static void test_call_bad_request(void **state)
{
	struct pair *p = *state;
	char *resp = NULL;
	char *big = filled(NET_CTL_MAX_FRAME + 1, 'z');

	assert_int_equal(net_ctl_call(p->rd, "{}\n{}", &resp, 1000), ERR_INVAL);
	assert_int_equal(net_ctl_call(p->rd, "{}", &resp, 0), ERR_INVAL);
	big[NET_CTL_MAX_FRAME + 1] = '\0';
	big[NET_CTL_MAX_FRAME] = 'z'; /* no "\n", one byte over */
	assert_int_equal(net_ctl_call(p->rd, big, &resp, 1000), ERR_TOOBIG);
	assert_null(resp);
	free(big);
}

static void sock_path(char *path, size_t len)
{
	snprintf(path, len, "/tmp/outpost-test-ctl-%d.sock", (int)getpid());
	unlink(path);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	return s;
}

static void test_connect(void **state)
{
	char path[108], why[128] = "", long_path[200];
	char *resp = NULL;
	int ls, fd = 7;
	pid_t pid;

	(void)state;
	sock_path(path, sizeof(path));
	assert_int_equal(net_ctl_connect(path, &fd, why, sizeof(why)), ERR_NOTFOUND);
	assert_int_equal(fd, -1);
	assert_string_equal(why, strerror(ENOENT));
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(net_ctl_connect(long_path, &fd, why, sizeof(why)), ERR_INVAL);

	ls = listen_at(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c = accept(ls, NULL, NULL);

		peer_run(c < 0 ? -1 : c, PEER_ECHO);
	}
	assert_int_equal(net_ctl_connect(path, &fd, why, sizeof(why)), ERR_OK);
	assert_int_equal(net_ctl_call(fd, "{\"cmd\":\"outbox\"}", &resp, 2000), ERR_OK);
	assert_string_equal(resp, "{\"cmd\":\"outbox\"}");
	free(resp);
	close(fd);
	peer_reap(pid);

	/* The socket file stays after the daemon died: refused, not missing. */
	close(ls);
	assert_int_equal(net_ctl_connect(path, &fd, why, sizeof(why)), ERR_CONN);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_partial_lines, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_two_lines_one_read, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_nul_in_line, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_max_frame_fits, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_too_long, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_eof, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_call_round_trip, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_call_slow_answer, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_call_timeout, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_call_hangup, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_call_bad_request, pair_setup, pair_teardown),
		cmocka_unit_test(test_connect),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
