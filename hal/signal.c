#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "hal/err.h"
#include "hal/signal.h"

static void on_signal(struct hal_fd *w, unsigned events)
{
	struct hal_signal *s = container_of(w, struct hal_signal, w);
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		s->cb(s, (int)si.ssi_signo);
}

int hal_signal_open(struct hal_loop *loop, struct hal_signal *s, const int *signos)
{
	sigset_t set;

	sigemptyset(&set);
	for (; *signos; signos++)
		sigaddset(&set, *signos);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return ERR_IO;
	s->w.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->w.fd < 0)
		return ERR_IO;
	s->w.cb = on_signal;
	return hal_fd_watch(loop, &s->w, HAL_IN);
}

void hal_signal_close(struct hal_loop *loop, struct hal_signal *s)
{
	if (s->w.fd <= 0)
		return;
	hal_fd_unwatch(loop, &s->w);
	close(s->w.fd);
	s->w.fd = -1;
}
