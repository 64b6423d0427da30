/*
 * signal.h - signals as loop events (signalfd). The signals are blocked for
 * the process and read by the loop: no work ever runs in a signal handler.
 */
#ifndef HAL_SIGNAL_H
#define HAL_SIGNAL_H

#include "hal/loop.h"

struct hal_signal {
	struct hal_fd w; /* private */
	void (*cb)(struct hal_signal *s, int signo);
};

/* Blocks `signos` (terminated by 0) and delivers them to s->cb. */
int hal_signal_open(struct hal_loop *loop, struct hal_signal *s, const int *signos);
void hal_signal_close(struct hal_loop *loop, struct hal_signal *s);

#endif
