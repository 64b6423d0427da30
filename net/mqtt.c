#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "hal/clock.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/mqtt.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 30000
#define MISC_INTERVAL_MS 1000
#define CONNECT_TIMEOUT_MS 15000

struct net_mqtt {
	struct mosquitto *mosq;
	struct hal_loop *loop;
	struct hal_fd w;
	struct hal_timer misc;      /* keepalive bookkeeping */
	struct hal_timer reconnect; /* backoff before the next attempt */
	struct net_mqtt_handler h;
	struct net_mqtt_opts o;
	char **filters;
	unsigned n_filters;
	unsigned failures; /* consecutive, for the backoff */
	unsigned batch_msgs;
	uint64_t connect_started;
	bool up, paused, in_read;
	/* Connected during a read: the link callback runs once the read is
	 * over, where it may publish (publish() refuses inside a read). */
	bool link_news;
	struct net_mqtt_stats stats;
	struct hal_ratelimit rl;
	void (*published)(void *arg, int mid);
	void *published_arg;
};

static void link_lost(struct net_mqtt *m, const char *why);

static void update_watch(struct net_mqtt *m)
{
	int fd = mosquitto_socket(m->mosq);
	unsigned ev = 0;

	if (fd < 0) {
		hal_fd_unwatch(m->loop, &m->w);
		return;
	}
	if (m->w.registered && m->w.fd != fd)
		hal_fd_unwatch(m->loop, &m->w);
	m->w.fd = fd;
	if (!m->paused || !m->up)
		ev |= HAL_IN;
	if (mosquitto_want_write(m->mosq))
		ev |= HAL_OUT;
	hal_fd_watch(m->loop, &m->w, ev);
}

static void flush_out(struct net_mqtt *m)
{
	int rc = mosquitto_loop_write(m->mosq, 1);

	if (rc != MOSQ_ERR_SUCCESS) {
		link_lost(m, mosquitto_strerror(rc));
		return;
	}
	update_watch(m);
}

/* flags bit 0 is CONNACK's session present (MQTT 3.1.1, 3.2.2.2). */
static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags)
{
	struct net_mqtt *m = arg;

	if (rc != 0) {
		if (hal_ratelimit_ok(&m->rl, 3, 60000))
			log_warn("mqtt: broker %s:%d refused the connection: %s", m->o.host,
				 m->o.port, mosquitto_connack_string(rc));
		return;
	}
	if (!(flags & 1)) {
		/* A broker that restarted without its saved state forgot us:
		 * what devices published for us meanwhile was not kept. */
		m->stats.sessions_new++;
		log_warn("mqtt: the broker holds no session for %s (first start, or the broker lost it: "
			 "events published while outpostd was away were not kept for it)",
			 m->o.client_id);
	}
	for (unsigned i = 0; i < m->n_filters; i++)
		mosquitto_subscribe(mosq, NULL, m->filters[i], 1);
	m->up = true;
	m->failures = 0;
	log_info("mqtt: connected to %s:%d as %s, %u subscriptions", m->o.host, m->o.port,
		 m->o.client_id, m->n_filters);
	m->link_news = true;
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg)
{
	struct net_mqtt *m = arg;

	(void)mosq;
	m->batch_msgs++;
	m->stats.messages++;
	m->h.message(m->h.arg, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

static void on_publish(struct mosquitto *mosq, void *arg, int mid)
{
	struct net_mqtt *m = arg;

	(void)mosq;
	if (m->published)
		m->published(m->published_arg, mid);
}

static uint64_t backoff_ms(unsigned failures)
{
	uint64_t cap = BACKOFF_BASE_MS;

	for (unsigned i = 0; i < failures && cap < BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	/* Full jitter: a site's gateways restarted by one power cut do not
	 * all hit the broker in step. */
	return (uint64_t)random() % (cap + 1);
}

static void link_lost(struct net_mqtt *m, const char *why)
{
	bool was_up = m->up;

	hal_fd_unwatch(m->loop, &m->w);
	m->up = false;
	if (hal_ratelimit_ok(&m->rl, 3, 60000))
		log_warn("mqtt: link to %s:%d lost: %s", m->o.host, m->o.port, why);
	if (!m->reconnect.pending)
		hal_timer_set(m->loop, &m->reconnect, backoff_ms(m->failures++));
	if (was_up && m->h.link)
		m->h.link(m->h.arg, false);
}

/* Reads one batch: every packet already in the socket, up to max_batch. */
static int read_batch(struct net_mqtt *m)
{
	struct pollfd p = {.fd = mosquitto_socket(m->mosq), .events = POLLIN};
	int rc = MOSQ_ERR_SUCCESS;

	m->batch_msgs = 0;
	m->in_read = true;
	for (unsigned i = 0; i < m->o.max_batch; i++) {
		rc = mosquitto_loop_read(m->mosq, 1);
		/* Paused (store full, stopping): what is still in the socket
		 * stays there, unacknowledged, for the broker to hold. */
		if (rc != MOSQ_ERR_SUCCESS || m->batch_msgs >= m->o.max_batch || (m->paused && m->up))
			break;
		p.fd = mosquitto_socket(m->mosq);
		if (p.fd < 0 || poll(&p, 1, 0) <= 0)
			break;
	}
	m->in_read = false;
	return rc;
}

static void on_readable(struct net_mqtt *m)
{
	int rc = read_batch(m);
	bool broken = rc != MOSQ_ERR_SUCCESS || mosquitto_socket(m->mosq) < 0;

	if (m->batch_msgs) {
		m->stats.batches++;
		if (m->batch_msgs > m->stats.largest_batch)
			m->stats.largest_batch = m->batch_msgs;
		if (m->h.batch_end(m->h.arg, !broken) != ERR_OK && !broken) {
			/* Not committed: the PUBACKs must never leave. Reconnecting
			 * discards the queued packets; the broker redelivers. */
			m->stats.commit_failures++;
			link_lost(m, "store commit failed; unacknowledged events left with the broker");
			return;
		}
	}
	if (broken) {
		link_lost(m, rc == MOSQ_ERR_SUCCESS ? "closed" :
			  rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return;
	}
	if (m->link_news) {
		m->link_news = false;
		if (m->up && m->h.link)
			m->h.link(m->h.arg, true); /* "online", receipts, discovery */
	}
	/* Committed: now the PUBACKs (and anything else queued) may go out. */
	if (m->batch_msgs)
		OUTPOST_CRASH_POINT("mqtt-before-puback");
	flush_out(m);
	if (m->batch_msgs)
		OUTPOST_CRASH_POINT("mqtt-after-puback");
}

static void on_fd(struct hal_fd *w, unsigned events)
{
	struct net_mqtt *m = container_of(w, struct net_mqtt, w);

	if (events & (HAL_IN | HAL_ERR)) {
		on_readable(m);
		if (!w->registered)
			return;
	}
	if (events & HAL_OUT)
		flush_out(m);
}

static void on_misc(struct hal_timer *t)
{
	struct net_mqtt *m = container_of(t, struct net_mqtt, misc);

	hal_timer_set(m->loop, &m->misc, MISC_INTERVAL_MS);
	if (mosquitto_socket(m->mosq) < 0 || m->reconnect.pending)
		return;
	if (!m->up) {
		/* Connecting: a broker that accepts TCP but never sends CONNACK
		 * must not hold us forever. */
		if (hal_now_ms() - m->connect_started > CONNECT_TIMEOUT_MS)
			link_lost(m, "no CONNACK from the broker");
		return;
	}
	if (mosquitto_loop_misc(m->mosq) != MOSQ_ERR_SUCCESS) {
		link_lost(m, "keepalive timeout");
		return;
	}
	update_watch(m);
}

static void on_reconnect(struct hal_timer *t)
{
	struct net_mqtt *m = container_of(t, struct net_mqtt, reconnect);
	int rc;

	m->stats.reconnects++;
	m->connect_started = hal_now_ms();
	/* Non-blocking connect; the CONNECT goes out when the socket is writable.
	 * reconnect also throws away packets queued on the old socket. */
	rc = mosquitto_reconnect_async(m->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		link_lost(m, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return;
	}
	update_watch(m);
	hal_fd_watch(m->loop, &m->w, m->w.events | HAL_OUT);
}

static int setup_client(struct net_mqtt *m)
{
	int rc;

	/* Clean session off: the broker keeps our subscriptions and queues
	 * events while we are down. */
	m->mosq = mosquitto_new(m->o.client_id, false, m);
	if (!m->mosq)
		return ERR_NOMEM;
	mosquitto_threaded_set(m->mosq, true);
	mosquitto_connect_with_flags_callback_set(m->mosq, on_connect);
	mosquitto_message_callback_set(m->mosq, on_message);
	mosquitto_publish_callback_set(m->mosq, on_publish);
	if (m->o.username &&
	    mosquitto_username_pw_set(m->mosq, m->o.username, m->o.password) != MOSQ_ERR_SUCCESS)
		return ERR_NOMEM;
	if (m->o.will_topic) {
		rc = mosquitto_will_set(m->mosq, m->o.will_topic, (int)strlen(m->o.will_payload),
					m->o.will_payload, 1, true);
		if (rc != MOSQ_ERR_SUCCESS)
			return ERR_INVAL;
	}
	m->connect_started = hal_now_ms();
	rc = mosquitto_connect_async(m->mosq, m->o.host, m->o.port, (int)m->o.keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		link_lost(m, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return ERR_OK;
	}
	update_watch(m);
	hal_fd_watch(m->loop, &m->w, m->w.events | HAL_OUT);
	return ERR_OK;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int net_mqtt_init(struct hal_loop *loop, const struct net_mqtt_opts *o,
		  const struct net_mqtt_handler *h, struct net_mqtt **out)
{
	struct net_mqtt *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		return ERR_NOMEM;
	mosquitto_lib_init();
	m->loop = loop;
	m->h = *h;
	m->o = *o;
	m->o.host = dup_or_null(o->host);
	m->o.client_id = dup_or_null(o->client_id);
	m->o.username = dup_or_null(o->username);
	m->o.password = dup_or_null(o->password);
	m->o.will_topic = dup_or_null(o->will_topic);
	m->o.will_payload = dup_or_null(o->will_payload);
	if (!m->o.max_batch)
		m->o.max_batch = 256;
	m->w.cb = on_fd;
	m->w.fd = -1;
	m->misc.cb = on_misc;
	m->reconnect.cb = on_reconnect;
	rc = setup_client(m);
	if (rc != ERR_OK) {
		net_mqtt_free(m, NULL);
		return rc;
	}
	hal_timer_set(loop, &m->misc, MISC_INTERVAL_MS);
	*out = m;
	return ERR_OK;
}

void net_mqtt_free(struct net_mqtt *m, const char *final_payload)
{
	if (!m)
		return;
	hal_timer_cancel(m->loop, &m->misc);
	hal_timer_cancel(m->loop, &m->reconnect);
	hal_fd_unwatch(m->loop, &m->w);
	if (m->mosq && m->up) {
		if (final_payload && m->o.will_topic)
			mosquitto_publish(m->mosq, NULL, m->o.will_topic,
					  (int)strlen(final_payload), final_payload, 1, true);
		mosquitto_disconnect(m->mosq);
		/* Best effort: the socket is ours alone now, write what is queued. */
		for (int i = 0; i < 10 && mosquitto_want_write(m->mosq); i++)
			if (mosquitto_loop_write(m->mosq, 1) != MOSQ_ERR_SUCCESS)
				break;
	}
	mosquitto_destroy(m->mosq);
	for (unsigned i = 0; i < m->n_filters; i++)
		free(m->filters[i]);
	free(m->filters);
	free((char *)m->o.host);
	free((char *)m->o.client_id);
	free((char *)m->o.username);
	free((char *)m->o.password);
	free((char *)m->o.will_topic);
	free((char *)m->o.will_payload);
	free(m);
	mosquitto_lib_cleanup();
}

static bool filter_in(const char *filter, char *const *set, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(set[i], filter) == 0)
			return true;
	return false;
}

int net_mqtt_subscribe(struct net_mqtt *m, const char *const *filters, unsigned n)
{
	char **f = calloc(n ? n : 1, sizeof(*f));

	if (!f)
		return ERR_NOMEM;
	for (unsigned i = 0; i < n; i++) {
		f[i] = strdup(filters[i]);
		if (!f[i]) {
			while (i--)
				free(f[i]);
			free(f);
			return ERR_NOMEM;
		}
	}
	/* Only what changed: dropping a filter we keep, even for the moment
	 * until it is subscribed again, would let the broker discard what is
	 * published to it meanwhile (no subscription, no queue). */
	for (unsigned i = 0; i < m->n_filters; i++) {
		if (m->up && !filter_in(m->filters[i], f, n))
			mosquitto_unsubscribe(m->mosq, NULL, m->filters[i]);
	}
	if (m->up) {
		for (unsigned i = 0; i < n; i++)
			if (!filter_in(f[i], m->filters, m->n_filters))
				mosquitto_subscribe(m->mosq, NULL, f[i], 1);
	}
	for (unsigned i = 0; i < m->n_filters; i++)
		free(m->filters[i]);
	free(m->filters);
	m->filters = f;
	m->n_filters = n;
	if (m->up)
		update_watch(m);
	return ERR_OK;
}

static int publish(struct net_mqtt *m, const char *topic, const void *payload, size_t len,
		   int qos, bool retain, int *mid)
{
	int rc;

	if (m->in_read)
		return ERR_INVAL; /* would let uncommitted PUBACKs out */
	if (!m->up)
		return ERR_AGAIN;
	rc = mosquitto_publish(m->mosq, mid, topic, (int)len, payload, qos, retain);
	if (rc != MOSQ_ERR_SUCCESS)
		return rc == MOSQ_ERR_NOMEM ? ERR_NOMEM : ERR_MQTT;
	update_watch(m);
	return ERR_OK;
}

int net_mqtt_publish(struct net_mqtt *m, const char *topic, const void *payload,
		     size_t len, int qos, bool retain)
{
	return publish(m, topic, payload, len, qos, retain, NULL);
}

int net_mqtt_publish_mid(struct net_mqtt *m, const char *topic, const void *payload, size_t len,
			 int qos, int *mid)
{
	return publish(m, topic, payload, len, qos, false, mid);
}

void net_mqtt_on_published(struct net_mqtt *m, void (*cb)(void *arg, int mid), void *arg)
{
	m->published = cb;
	m->published_arg = arg;
}

void net_mqtt_pause(struct net_mqtt *m, bool paused)
{
	if (m->paused == paused)
		return;
	m->paused = paused;
	log_warn("mqtt: ingest %s", paused ? "paused: events stay with the broker" : "resumed");
	if (mosquitto_socket(m->mosq) >= 0)
		update_watch(m);
}

bool net_mqtt_connected(const struct net_mqtt *m)
{
	return m->up;
}

const struct net_mqtt_stats *net_mqtt_stats(const struct net_mqtt *m)
{
	return &m->stats;
}

const char *net_mqtt_version(void)
{
	static char buf[32];
	int major, minor, rev;

	mosquitto_lib_version(&major, &minor, &rev);
	snprintf(buf, sizeof(buf), "libmosquitto/%d.%d.%d", major, minor, rev);
	return buf;
}
