/*
 * link.c - outpost-pub's MQTT link: QoS 1 publishes with a cap on how many
 * wait for their PUBACK, and the acknowledgements counted and logged.
 *
 * The cap is ours (a counter and a condition variable) and libmosquitto's
 * send maximum is set to the same number: the library's default of 20 would
 * otherwise hold messages back in its own queue and hide the real in-flight
 * count. Message ids are 16 bits, so the table of what waits for a PUBACK is
 * indexed by mid; the cap stays well under 65535 so an id is never reused
 * while its message still waits.
 *
 * The network thread is ours, not mosquitto_loop_start()'s: libmosquitto
 * 2.0.11's loop waits 1, 4, then 5 s before every later reconnect (its
 * backoff counter is never reset), so with a broker restarted every second
 * the publisher would sit out most of the run. Ours retries every
 * RECONNECT_MS for as long as the link is open. Publishes made while the
 * link is down wait in libmosquitto, which sends them again (QoS 1, DUP)
 * after the next CONNACK; only a PUBACK counts one as published.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "tools/loadgen/pub.h"

#define MID_SLOTS 65536
/* A broker restarted on loopback listens again within tens of ms. */
#define RECONNECT_MS 100
/* How long one mosquitto_loop() call waits for traffic; publishes from the
 * main thread wake it at once through libmosquitto's socketpair. */
#define LOOP_WAIT_MS 100

struct slot {
	char id[PUB_ID_MAX];
	bool pending;
};

struct pub_link {
	struct mosquitto *mosq;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned max_inflight;
	FILE *log;
	struct slot *slots; /* by mid */
	struct pub_link_stats st;
	int connack;        /* -1 until the first CONNACK, then its code */
	unsigned connects;
	pthread_t thread;
	bool thread_started;
	bool quit;          /* tells the network thread to end */
};

uint64_t pub_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Waits on the link's condition until woken or until deadline_us. */
static void link_wait(struct pub_link *l, uint64_t deadline_us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline_us / 1000000);
	ts.tv_nsec = (long)(deadline_us % 1000000) * 1000;
	pthread_cond_timedwait(&l->cv, &l->mu, &ts);
}

/* Network thread. */
static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct pub_link *l = obj;

	(void)mosq;
	pthread_mutex_lock(&l->mu);
	l->connack = rc;
	if (rc == 0 && l->connects++ > 0)
		l->st.reconnects++;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* Network thread: a PUBACK. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct pub_link *l = obj;
	struct slot *s;
	uint64_t now = pub_mono_us();

	(void)mosq;
	pthread_mutex_lock(&l->mu);
	s = &l->slots[(unsigned)mid % MID_SLOTS];
	if (s->pending) { /* counted once, whatever the library repeats */
		s->pending = false;
		l->st.inflight--;
		l->st.acked++;
		l->st.last_ack_us = now;
		if (l->log)
			fprintf(l->log, "%s\t%d\t%llu\n", s->id, mid, (unsigned long long)now);
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
}

static bool link_quitting(struct pub_link *l)
{
	bool quit;

	pthread_mutex_lock(&l->mu);
	quit = l->quit;
	pthread_mutex_unlock(&l->mu);
	return quit;
}

/* Network thread: reads, writes, keepalive; on any error (the broker went
 * away, a keepalive timed out) reconnects after RECONNECT_MS, again and
 * again, until the link closes. */
static void *link_run(void *arg)
{
	struct pub_link *l = arg;
	const struct timespec pause = {.tv_nsec = RECONNECT_MS * 1000000L};

	while (!link_quitting(l)) {
		if (mosquitto_loop(l->mosq, LOOP_WAIT_MS, 1) == MOSQ_ERR_SUCCESS)
			continue;
		nanosleep(&pause, NULL);
		if (!link_quitting(l))
			mosquitto_reconnect(l->mosq);
	}
	return NULL;
}

static bool link_init(struct pub_link *l, unsigned max_inflight, FILE *log)
{
	pthread_condattr_t ca;

	l->max_inflight = max_inflight;
	l->log = log;
	l->connack = -1;
	l->slots = calloc(MID_SLOTS, sizeof(*l->slots));
	if (!l->slots)
		return false;
	pthread_mutex_init(&l->mu, NULL);
	/* Timeouts on the monotonic clock: a wall-clock step must not end
	 * (or stretch) the wait for acknowledgements. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	return true;
}

static bool wait_connack(struct pub_link *l, int timeout_ms, char *why, size_t whylen)
{
	uint64_t deadline = pub_mono_us() + (uint64_t)timeout_ms * 1000;
	int rc;

	pthread_mutex_lock(&l->mu);
	while (l->connack < 0 && pub_mono_us() < deadline)
		link_wait(l, deadline);
	rc = l->connack;
	pthread_mutex_unlock(&l->mu);
	if (rc < 0)
		snprintf(why, whylen, "no CONNACK within %d ms", timeout_ms);
	else if (rc > 0)
		snprintf(why, whylen, "broker refused: %s", mosquitto_connack_string(rc));
	return rc == 0;
}

bool pub_link_open(struct pub_link **out, const char *host, int port, unsigned max_inflight,
		   FILE *log, int timeout_ms, char *why, size_t whylen)
{
	struct pub_link *l = calloc(1, sizeof(*l));
	char cid[40];
	bool ok = false;
	int rc;

	*out = NULL;
	if (!l || !link_init(l, max_inflight, log)) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	snprintf(cid, sizeof(cid), "outpost-pub-%d", (int)getpid());
	l->mosq = mosquitto_new(cid, true, l);
	if (!l->mosq) {
		snprintf(why, whylen, "mosquitto_new: %s", strerror(errno));
		goto out;
	}
	mosquitto_connect_callback_set(l->mosq, on_connect);
	mosquitto_publish_callback_set(l->mosq, on_publish);
	mosquitto_int_option(l->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)max_inflight);
	/* Two threads use the client: libmosquitto must lock, and leave all
	 * writing to the network thread. */
	mosquitto_threaded_set(l->mosq, true);
	rc = mosquitto_connect(l->mosq, host, port, 30);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(why, whylen, "%s", rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		goto out;
	}
	rc = pthread_create(&l->thread, NULL, link_run, l);
	if (rc != 0) {
		snprintf(why, whylen, "pthread_create: %s", strerror(rc));
		goto out;
	}
	l->thread_started = true;
	if (!wait_connack(l, timeout_ms, why, whylen))
		goto out;
	*out = l;
	l = NULL;
	ok = true;
out:
	pub_link_close(l);
	return ok;
}

void pub_link_close(struct pub_link *l)
{
	if (!l)
		return;
	if (l->mosq) {
		/* The network thread writes the DISCONNECT within LOOP_WAIT_MS,
		 * unless the link is down; either way the broker forgets us
		 * (clean session). */
		mosquitto_disconnect(l->mosq);
		if (l->thread_started) {
			pthread_mutex_lock(&l->mu);
			l->quit = true;
			pthread_mutex_unlock(&l->mu);
			pthread_join(l->thread, NULL);
		}
		mosquitto_destroy(l->mosq);
	}
	if (l->slots) {
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
	}
	free(l->slots);
	free(l);
}

/* Called with l->mu held: the PUBACK may come before publish returns. */
static int publish_locked(struct pub_link *l, const char *topic, const void *payload,
			  size_t len, const char *id)
{
	int mid = 0, rc;
	struct slot *s;

	rc = mosquitto_publish(l->mosq, &mid, topic, (int)len, payload, 1, false);
	/* Without a connection libmosquitto still queues a QoS 1 message once
	 * it gave it an id, and sends it after reconnecting: it is in flight. */
	if (rc != MOSQ_ERR_SUCCESS && !(rc == MOSQ_ERR_NO_CONN && mid != 0))
		return rc;
	s = &l->slots[(unsigned)mid % MID_SLOTS];
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->pending = true;
	l->st.inflight++;
	l->st.published++;
	return MOSQ_ERR_SUCCESS;
}

bool pub_link_publish(struct pub_link *l, const char *topic, const void *payload, size_t len,
		      const char *id, volatile const sig_atomic_t *stop, char *why,
		      size_t whylen)
{
	int rc = MOSQ_ERR_SUCCESS;
	bool sent = false;

	pthread_mutex_lock(&l->mu);
	/* Short waits so that a signal (*stop) is noticed soon. */
	while (l->st.inflight >= l->max_inflight && !*stop)
		link_wait(l, pub_mono_us() + 200000);
	if (!*stop) {
		rc = publish_locked(l, topic, payload, len, id);
		sent = rc == MOSQ_ERR_SUCCESS;
	}
	pthread_mutex_unlock(&l->mu);
	if (rc != MOSQ_ERR_SUCCESS)
		snprintf(why, whylen, "publish %s: %s", id, mosquitto_strerror(rc));
	return sent || *stop;
}

bool pub_link_drain(struct pub_link *l, uint64_t deadline_us)
{
	bool done;

	pthread_mutex_lock(&l->mu);
	while (l->st.acked < l->st.published && pub_mono_us() < deadline_us)
		link_wait(l, deadline_us);
	done = l->st.acked == l->st.published;
	pthread_mutex_unlock(&l->mu);
	return done;
}

void pub_link_stats(struct pub_link *l, struct pub_link_stats *st)
{
	pthread_mutex_lock(&l->mu);
	*st = l->st;
	pthread_mutex_unlock(&l->mu);
}
