/*
 * mqtt.h - the broker link (libmosquitto 2.0), driven by our poll loop, with
 * acknowledge-after-commit.
 *
 * libmosquitto queues the PUBACK of a QoS 1 message *before* it calls
 * on_message. Marked threaded (mosquitto_threaded_set), it only writes queued
 * packets when we call mosquitto_loop_write. So one readable event becomes:
 * read every packet that is there (up to max_batch), hand each message to
 * h->message, ask h->batch_end to commit them, and only if that succeeded
 * write the PUBACKs. If it failed, the link is dropped without writing: the
 * queued PUBACKs are discarded and the broker redelivers the batch.
 *
 * Subscriptions are QoS 1 (QoS 2 loses a message across a client crash with
 * this library) on a persistent session (fixed client id, clean session off).
 * The link reconnects by itself with capped exponential backoff and full
 * jitter. Never call net_mqtt_publish from inside h->message: only between
 * batches may packets be written.
 */
#ifndef NET_MQTT_H
#define NET_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/loop.h"

struct net_mqtt;

struct net_mqtt_opts {
	const char *host;
	int port;
	const char *client_id;
	const char *username, *password; /* may be NULL */
	unsigned keepalive_s;
	const char *will_topic;   /* retained QoS 1 last will, may be NULL */
	const char *will_payload;
	unsigned max_batch;       /* packets read before one commit */
};

struct net_mqtt_handler {
	/* One message of the current batch; topic and payload are valid only
	 * during the call. */
	void (*message)(void *arg, const char *topic, const void *payload, size_t len);
	/* End of a batch that delivered messages. keep=false: the link broke,
	 * the PUBACKs cannot go out, so drop what was staged. Return ERR_OK once
	 * committed; anything else makes the link drop the PUBACKs. */
	int (*batch_end)(void *arg, bool keep);
	/* The link came up (subscriptions sent; called after the read that
	 * brought the CONNACK, so it may publish) or went down. */
	void (*link)(void *arg, bool up);
	void *arg;
};

struct net_mqtt_stats {
	uint64_t messages, batches, commit_failures, reconnects;
	uint64_t sessions_new; /* connects where the broker had no session for us */
	unsigned largest_batch;
};

int net_mqtt_init(struct hal_loop *loop, const struct net_mqtt_opts *o,
		  const struct net_mqtt_handler *h, struct net_mqtt **out);
/* Publishes a retained "offline" on the will topic if connected, disconnects, frees. */
void net_mqtt_free(struct net_mqtt *m, const char *final_payload);

/* Topic filters to hold at QoS 1; copied, and sent again on each connect. */
int net_mqtt_subscribe(struct net_mqtt *m, const char *const *filters, unsigned n);
int net_mqtt_publish(struct net_mqtt *m, const char *topic, const void *payload,
		     size_t len, int qos, bool retain);
/* The same, giving the packet id; cb(arg, mid) runs when the broker has
 * acknowledged it (PUBACK for QoS 1). cb is called from inside a read: it
 * must not publish or write to the store, only take note. A link that
 * breaks first never calls it for that id. */
int net_mqtt_publish_mid(struct net_mqtt *m, const char *topic, const void *payload, size_t len,
			 int qos, int *mid);
void net_mqtt_on_published(struct net_mqtt *m, void (*cb)(void *arg, int mid), void *arg);
/* Stops (or resumes) reading events: the broker keeps them meanwhile. */
void net_mqtt_pause(struct net_mqtt *m, bool paused);
bool net_mqtt_connected(const struct net_mqtt *m);
const struct net_mqtt_stats *net_mqtt_stats(const struct net_mqtt *m);
const char *net_mqtt_version(void);

#endif
