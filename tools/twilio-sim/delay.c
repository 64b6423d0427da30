/*
 * delay.c - --latency-ms and --work-us without blocking a request thread.
 *
 * http.c computes the answer at once, suspends the connection and parks it
 * here; one timer thread resumes it when due and MHD then calls the access
 * handler again, which sends the stored answer.
 *
 * --work-us is a queue in front of `servers` (--threads) workers shared by
 * every connection: a create takes the worker that is free first, from
 * max(now, its free time) for work_us, and its answer is due when that work
 * ends plus the latency. So the ceiling is servers x 1,000,000 / work_us a
 * second whichever of MHD's threads accepted the client's connections (a
 * sleep in the MHD thread made it depend on how they fell: one thread's
 * worth when most landed on one).
 *
 * Work and latency are the same for every create and the free times only
 * grow, so due times computed under the lock come in order: a FIFO is
 * enough - no heap.
 *
 * MHD_stop_daemon() panics if a connection is still suspended, so before
 * stopping (SIGTERM or the --down-from window) main calls
 * sim_delay_flush(true): it resumes everything at once and refuses new parks.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <microhttpd.h>

#include "hal/log.h"
#include "tools/twilio-sim/sim.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_t thread;
static bool running, quit, closing;
static struct sim_delayed *head, *tail;
static uint64_t worker_free_ns[64]; /* --threads is at most 64 */
static unsigned workers;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Pops every entry that is due; called with mu held. */
static struct sim_delayed *take_due(uint64_t now)
{
	struct sim_delayed *first = head, *last = NULL;

	while (head && head->due_ns <= now) {
		last = head;
		head = head->next;
	}
	if (!last)
		return NULL;
	last->next = NULL;
	if (!head)
		tail = NULL;
	return first;
}

static void wait_until(uint64_t due_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(due_ns / 1000000000ULL),
			      .tv_nsec = (long)(due_ns % 1000000000ULL)};

	pthread_cond_timedwait(&cv, &mu, &ts);
}

static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!quit) {
		struct sim_delayed *due = take_due(mono_ns());

		/* Resume under the lock: once sim_delay_flush() returns, no
		 * connection may still be suspended. MHD_resume_connection()
		 * only flags the connection and wakes its thread. */
		while (due) {
			struct sim_delayed *next = due->next;

			MHD_resume_connection(due->conn);
			due = next;
		}
		if (head)
			wait_until(head->due_ns);
		else if (!quit)
			pthread_cond_wait(&cv, &mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int sim_delay_start(unsigned servers)
{
	pthread_condattr_t ca;

	workers = servers < 64 ? servers : 64;
	if (!workers)
		workers = 1;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	quit = false;
	if (pthread_create(&thread, NULL, timer_main, NULL) != 0) {
		log_err("cannot start the latency timer thread");
		return -1;
	}
	running = true;
	return 0;
}

void sim_delay_stop(void)
{
	if (!running)
		return;
	sim_delay_flush(true);
	pthread_mutex_lock(&mu);
	quit = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = false;
}

/* The end of work_us on the worker free first; called with mu held. */
static uint64_t work_done_ns(uint64_t now, unsigned work_us)
{
	unsigned best = 0;
	uint64_t start;

	for (unsigned i = 1; i < workers; i++)
		if (worker_free_ns[i] < worker_free_ns[best])
			best = i;
	start = worker_free_ns[best] > now ? worker_free_ns[best] : now;
	worker_free_ns[best] = start + (uint64_t)work_us * 1000ULL;
	return worker_free_ns[best];
}

bool sim_delay_park(struct sim_delayed *d, struct MHD_Connection *conn, unsigned ms,
		    unsigned work_us)
{
	bool ok = false;

	pthread_mutex_lock(&mu);
	/* Suspend and enqueue under one lock so a flush never misses a
	 * connection that is suspended but not yet queued. */
	if (running && !closing) {
		MHD_suspend_connection(conn);
		d->conn = conn;
		uint64_t now = mono_ns();

		if (work_us)
			now = work_done_ns(now, work_us);
		d->due_ns = now + (uint64_t)ms * 1000000ULL;
		d->next = NULL;
		if (tail)
			tail->next = d;
		else
			head = d;
		tail = d;
		if (head == d)
			pthread_cond_signal(&cv);
		ok = true;
	}
	pthread_mutex_unlock(&mu);
	return ok;
}

void sim_delay_flush(bool close_after)
{
	struct sim_delayed *all;

	pthread_mutex_lock(&mu);
	closing = close_after;
	all = head;
	head = tail = NULL;
	while (all) {
		struct sim_delayed *next = all->next;

		MHD_resume_connection(all->conn);
		all = next;
	}
	pthread_mutex_unlock(&mu);
}

void sim_delay_reopen(void)
{
	pthread_mutex_lock(&mu);
	closing = false;
	pthread_mutex_unlock(&mu);
}
