/*
 * loop.h - the one poll loop: file descriptors and timers on CLOCK_MONOTONIC.
 *
 * Handles are plain structs that their owner embeds (as uloop does): adding a
 * watch or arming a timer allocates nothing, and the owner gets back to itself
 * with container_of(). Callbacks run on the loop's only thread. A callback may
 * add, change or delete any watch or timer, including its own; it must not
 * free the object that embeds the handle it was called for - defer that with
 * a 0 ms timer. Delete a watch before closing its fd.
 */
#ifndef HAL_LOOP_H
#define HAL_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

enum { HAL_IN = 1, HAL_OUT = 2, HAL_ERR = 4 };

struct hal_loop;

struct hal_fd {
	int fd;
	void (*cb)(struct hal_fd *w, unsigned events);
	unsigned events; /* private: what is being watched */
	bool registered; /* private */
};

struct hal_timer {
	void (*cb)(struct hal_timer *t);
	uint64_t due;           /* private: monotonic ms */
	struct hal_timer *next; /* private: sorted list */
	bool pending;           /* private */
	bool idle;              /* private: armed by hal_timer_idle() */
};

int hal_loop_init(struct hal_loop **out);
void hal_loop_free(struct hal_loop *loop);

/* Runs until hal_loop_stop(); returns ERR_OK or ERR_IO if epoll failed. */
int hal_loop_run(struct hal_loop *loop);
void hal_loop_stop(struct hal_loop *loop);

/* Watches w->fd for `events` (HAL_IN|HAL_OUT); 0 events keeps it registered but idle. */
int hal_fd_watch(struct hal_loop *loop, struct hal_fd *w, unsigned events);
void hal_fd_unwatch(struct hal_loop *loop, struct hal_fd *w);

/* (Re)arms t to fire once, ms from now. */
void hal_timer_set(struct hal_loop *loop, struct hal_timer *t, uint64_t ms);
void hal_timer_cancel(struct hal_loop *loop, struct hal_timer *t);
/*
 * Arms t to fire as soon as the loop has nothing else to do - no fd ready,
 * no other timer due - or max_ms from now, whichever comes first. For work
 * that batches what the loop's events bring (one commit for the outcomes of
 * many answers): it runs once the events are in, not after a guessed delay.
 * Re-arming a pending idle timer keeps its earlier deadline.
 */
void hal_timer_idle(struct hal_loop *loop, struct hal_timer *t, uint64_t max_ms);
/* ms until t fires, or -1 if it is not pending. */
int64_t hal_timer_remaining(const struct hal_timer *t);

#endif
