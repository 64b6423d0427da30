/*
 * faults.c - the deterministic coin for --fail-rate/--drop-after-read and
 * the per-second create budget for --rate-limit.
 *
 * One PRNG behind a mutex: with --seed fixed and a single client sending
 * one request at a time, the same requests fail on every run. Concurrent
 * clients interleave draws, so only the fraction is stable then.
 */
#include <pthread.h>

#include "hal/clock.h"
#include "tools/twilio-sim/sim.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t prng_state;
static unsigned budget;
static uint64_t window_s;
static unsigned in_window;

void sim_faults_init(uint64_t seed, unsigned rate_limit)
{
	pthread_mutex_lock(&mu);
	prng_state = seed;
	budget = rate_limit;
	window_s = 0;
	in_window = 0;
	pthread_mutex_unlock(&mu);
}

/* splitmix64: tiny, full-period, good enough for test faults. */
static uint64_t next_u64(void)
{
	uint64_t z = (prng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

bool sim_fault_flip(double p)
{
	double x;

	if (p <= 0.0)
		return false;
	pthread_mutex_lock(&mu);
	x = (double)(next_u64() >> 11) / (double)(1ULL << 53);
	pthread_mutex_unlock(&mu);
	return x < p;
}

/* A fixed one-second window on the monotonic clock: simple to reason about
 * in a test ("the N+1st create within a second gets 429"). */
bool sim_fault_over_rate(void)
{
	uint64_t now_s = hal_now_ms() / 1000;
	bool over;

	if (budget == 0)
		return false;
	pthread_mutex_lock(&mu);
	if (now_s != window_s) {
		window_s = now_s;
		in_window = 0;
	}
	over = in_window >= budget;
	if (!over)
		in_window++;
	pthread_mutex_unlock(&mu);
	return over;
}
