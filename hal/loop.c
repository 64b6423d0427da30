#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "hal/loop.h"

/*
 * Events are fetched in batches. A callback may unwatch another fd whose event
 * sits later in the same batch; unwatch then clears that slot so the stale
 * pointer is never called.
 */
#define MAX_EVENTS 64

struct hal_loop {
	int epfd;
	bool stop;
	struct hal_timer *timers; /* sorted by due, earliest first */
	unsigned n_idle;          /* pending timers armed by hal_timer_idle() */
	struct epoll_event batch[MAX_EVENTS];
	int batch_len, batch_pos;
};

int hal_loop_init(struct hal_loop **out)
{
	struct hal_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return ERR_NOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return ERR_IO;
	}
	*out = loop;
	return ERR_OK;
}

void hal_loop_free(struct hal_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

void hal_loop_stop(struct hal_loop *loop)
{
	loop->stop = true;
}

static uint32_t to_epoll(unsigned events)
{
	return (events & HAL_IN ? EPOLLIN : 0) | (events & HAL_OUT ? EPOLLOUT : 0);
}

int hal_fd_watch(struct hal_loop *loop, struct hal_fd *w, unsigned events)
{
	struct epoll_event ev = {.events = to_epoll(events), .data.ptr = w};
	int op = w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (w->registered && w->events == events)
		return ERR_OK;
	if (epoll_ctl(loop->epfd, op, w->fd, &ev) < 0) {
		log_err("loop: epoll_ctl(fd %d): %s", w->fd, strerror(errno));
		return ERR_IO;
	}
	w->registered = true;
	w->events = events;
	return ERR_OK;
}

void hal_fd_unwatch(struct hal_loop *loop, struct hal_fd *w)
{
	if (!w->registered)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->registered = false;
	w->events = 0;
	for (int i = loop->batch_pos; i < loop->batch_len; i++)
		if (loop->batch[i].data.ptr == w)
			loop->batch[i].data.ptr = NULL;
}

void hal_timer_cancel(struct hal_loop *loop, struct hal_timer *t)
{
	struct hal_timer **pp;

	if (!t->pending)
		return;
	for (pp = &loop->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->pending = false;
	t->next = NULL;
	if (t->idle)
		loop->n_idle--;
	t->idle = false;
}

void hal_timer_set(struct hal_loop *loop, struct hal_timer *t, uint64_t ms)
{
	struct hal_timer **pp;

	hal_timer_cancel(loop, t);
	t->due = hal_now_ms() + ms;
	/* Equal due times keep insertion order: timers armed first fire first. */
	for (pp = &loop->timers; *pp && (*pp)->due <= t->due; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->pending = true;
}

void hal_timer_idle(struct hal_loop *loop, struct hal_timer *t, uint64_t max_ms)
{
	if (t->pending && t->idle)
		return;
	hal_timer_set(loop, t, max_ms);
	t->idle = true;
	loop->n_idle++;
}

/* The loop found nothing to do: every idle timer fires now. */
static void run_idle(struct hal_loop *loop)
{
	struct hal_timer **pp = &loop->timers;

	while (loop->n_idle && *pp) {
		struct hal_timer *t = *pp;

		if (!t->idle) {
			pp = &t->next;
			continue;
		}
		hal_timer_cancel(loop, t);
		t->cb(t); /* may arm or cancel any timer: walk again from the start */
		pp = &loop->timers;
	}
}

int64_t hal_timer_remaining(const struct hal_timer *t)
{
	uint64_t now;

	if (!t->pending)
		return -1;
	now = hal_now_ms();
	return t->due > now ? (int64_t)(t->due - now) : 0;
}

static void run_timers(struct hal_loop *loop)
{
	uint64_t now = hal_now_ms();
	struct hal_timer *t;

	/* A timer armed by a callback for 0 ms waits for the next turn, so a
	 * callback that rearms itself cannot starve the fds. */
	while ((t = loop->timers) && t->due <= now) {
		hal_timer_cancel(loop, t);
		t->cb(t);
	}
}

static int next_timeout(struct hal_loop *loop)
{
	uint64_t now;

	if (!loop->timers)
		return -1;
	now = hal_now_ms();
	if (loop->timers->due <= now)
		return 0;
	return loop->timers->due - now > 60000 ? 60000 : (int)(loop->timers->due - now);
}

static void dispatch(struct hal_loop *loop)
{
	for (loop->batch_pos = 0; loop->batch_pos < loop->batch_len; loop->batch_pos++) {
		struct epoll_event *ev = &loop->batch[loop->batch_pos];
		struct hal_fd *w = ev->data.ptr;
		unsigned events = 0;

		if (!w)
			continue;
		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
			events |= HAL_IN;
		if (ev->events & EPOLLOUT)
			events |= HAL_OUT;
		if (ev->events & (EPOLLERR | EPOLLHUP))
			events |= HAL_ERR;
		w->cb(w, events);
	}
	loop->batch_len = loop->batch_pos = 0;
}

int hal_loop_run(struct hal_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		/* With an idle timer armed, only look: nothing ready runs it. */
		hal_log_flush(); /* this turn's lines, in one write (hal_log_batch) */
		int n = epoll_wait(loop->epfd, loop->batch, MAX_EVENTS,
				   loop->n_idle ? 0 : next_timeout(loop));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("loop: epoll_wait: %s", strerror(errno));
			return ERR_IO;
		}
		loop->batch_len = n;
		dispatch(loop);
		if (!loop->stop)
			run_timers(loop);
		if (!loop->stop && n == 0 && loop->n_idle && next_timeout(loop) != 0)
			run_idle(loop);
	}
	return ERR_OK;
}
