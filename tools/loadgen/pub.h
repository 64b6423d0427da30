/*
 * pub.h - outpost-pub's internals: making event payloads (events.c) and the
 * MQTT link that publishes them at QoS 1 and counts the PUBACKs (link.c).
 *
 * The link runs a network thread of its own (link.c says why not
 * libmosquitto's), which reconnects whenever the broker goes away; the main
 * thread publishes. Everything the two share sits behind the link's
 * one mutex, including the mosquitto_publish() call itself, so that the
 * PUBACK callback always finds the message id it acknowledges already
 * recorded (it can arrive before mosquitto_publish() returns).
 */
#ifndef PUB_H
#define PUB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pub_kind { PUB_PAYMENT, PUB_TICKET, PUB_ALERT, PUB_MIXED };

/* The bad events of --bad-every, in the order they cycle through. */
enum pub_bad {
	PUB_GOOD = 0,
	PUB_BAD_JSON,    /* malformed JSON */
	PUB_BAD_NO_ID,   /* no "id" */
	PUB_BAD_PHONE,   /* "+12" */
	PUB_BAD_NEWLINE, /* a template variable holding "\n" */
	PUB_BAD_HUGE,    /* a payload over 64 KiB */
	PUB_BAD_BINARY,  /* not text at all */
	PUB_BAD__N
};

/* Event ids are at most this long; the id prefix is capped to fit. */
#define PUB_ID_MAX 48
#define PUB_PREFIX_MAX 24
/* The biggest payload made: the 64 KiB-plus bad event and its JSON. */
#define PUB_PAYLOAD_MAX (72 * 1024)

struct pub_event {
	char id[PUB_ID_MAX]; /* "evt-7" or "bad-7"; kept for the log even when
				the payload has no id */
	enum pub_kind kind;  /* the event's own kind, never PUB_MIXED */
	size_t len;
};

/* The kind of event number i (mixed rotates over the three). */
enum pub_kind pub_event_kind(enum pub_kind run_kind, uint64_t i);
const char *pub_kind_topic(enum pub_kind kind);

/* Builds event number i of the given kind into buf (PUB_PAYLOAD_MAX bytes),
 * stamped with the wall clock now. Returns false if it did not fit. */
bool pub_event_build(char *buf, enum pub_kind kind, enum pub_bad bad, const char *prefix,
		     uint64_t i, struct pub_event *ev);

/* --source names are at most this long: letters, digits and "-_.:/". */
#define PUB_SOURCE_MAX 64

/* Appends "seq": seq, and "source": source unless it is NULL, to the event
 * object in buf (a good event or a bad one that is still an object, not the
 * malformed-JSON or binary ones). Returns false if it did not fit. */
bool pub_event_add_seq(char *buf, struct pub_event *ev, uint64_t seq, const char *source);

struct pub_link;

struct pub_link_stats {
	uint64_t published, acked;
	unsigned inflight, reconnects;
	uint64_t last_ack_us; /* CLOCK_MONOTONIC */
};

/* Connects (client id "outpost-pub-<pid>", clean session) and starts the
 * network thread, which reconnects after any loss of the link until
 * pub_link_close; waits up to timeout_ms for the broker's first CONNACK. log, if
 * not NULL, gets "<id>\t<mid>\t<ack_mono_us>" per PUBACK (the link does not
 * close it). Returns false with why filled. */
bool pub_link_open(struct pub_link **out, const char *host, int port, unsigned max_inflight,
		   FILE *log, int timeout_ms, char *why, size_t whylen);
void pub_link_close(struct pub_link *l);

/* Waits for room under max_inflight (giving up when *stop is set), then
 * publishes at QoS 1. Returns false with why filled on a hard failure. */
bool pub_link_publish(struct pub_link *l, const char *topic, const void *payload, size_t len,
		      const char *id, volatile const sig_atomic_t *stop, char *why,
		      size_t whylen);

/* Waits until every publish is acknowledged or deadline_us (monotonic)
 * passes; returns true when none is missing. */
bool pub_link_drain(struct pub_link *l, uint64_t deadline_us);

void pub_link_stats(struct pub_link *l, struct pub_link_stats *st);

uint64_t pub_mono_us(void);

#endif
