/*
 * receipts.c - receipts: every change of a message from the provider's
 * answer on (sent, delivered, read, undelivered, failed), and every end it
 * met without reaching the provider (rejected at ingest, failed or
 * suppressed at a send-time gate, expired), published on
 * outpost/<gateway_id>/receipts/<event id> (QoS 1, not retained).
 *
 * A receipt is queued in the store (store/status.h) in the txn that made the
 * change, so it exists exactly when the change does. The publisher hands
 * queued receipts to the broker, oldest first, at most RECEIPTS_INFLIGHT at
 * a time, and deletes each once its PUBACK is in. When the link drops, what
 * was unacknowledged is published again from the queue on the next connect:
 * a receipt may arrive twice (at-least-once, like the events), never not at
 * all. Consumers tell duplicates by (seq, status).
 *
 * The recipient is masked ("+49170*****67"): the bus is shared by every
 * device on the site, the full number stays in the outbox for operators.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/delivery.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/mqtt.h"
#include "store/outbox.h"
#include "store/status.h"
#include "store/store.h"

#define RECEIPTS_INFLIGHT 32
#define FULL_RETRY_MS 1000
/* Acknowledged receipts are deleted with the next commit the daemon makes
 * anyway (fw_receipts_ride, from the store's commit hook), or in a commit of
 * their own ACK_BATCH_MS after the first waits, or at once when ACK_BATCH
 * wait. A delete that a crash undoes only means the receipt goes again
 * (delivery is at-least-once); a commit per PUBACK cost an fsync per
 * message and tripled the send latency, and one a second at a site's pace
 * wrote more to flash than the message itself (docs/BENCHMARKS.md). */
#define ACK_BATCH 1024
#define ACK_BATCH_MS 30000
/* Receipts kept for a broker that does not take them (a few hundred bytes
 * each): beyond this the oldest goes, counted, so a broker gone for weeks
 * cannot fill the store that holds the messages themselves. */
#define RECEIPTS_MAX 200000

struct fw_receipts {
	struct fw *fw;
	struct hal_timer drain, acked;
	struct {
		uint64_t id;
		int mid;
	} out[RECEIPTS_INFLIGHT];
	unsigned n_out;
	uint64_t ack[ACK_BATCH];
	unsigned n_ack;
	unsigned riding;     /* the first of ack[], deleted in a commit not yet done */
	uint64_t after;      /* the last id handed to the broker on this link */
	uint64_t published;  /* acknowledged by the broker, since start */
	uint64_t queued;     /* since start */
	uint64_t dropped;    /* the oldest, over RECEIPTS_MAX, since start */
	struct hal_ratelimit drop_rl;
};

/* An MQTT topic level must not hold '/', '+' or '#': those become '_'. The
 * receipt's JSON carries the id as it is. */
static void topic_level(char *dst, size_t cap, const char *id)
{
	size_t i;

	for (i = 0; id[i] && i + 1 < cap; i++)
		dst[i] = id[i] == '/' || id[i] == '+' || id[i] == '#' ? '_' : id[i];
	dst[i] = '\0';
}

static cJSON *receipt_json(const struct fw *fw, const struct store_msg *m,
			   const struct store_track *tr)
{
	cJSON *o = cJSON_CreateObject();
	char masked[CFG_PHONE_MAX];
	bool failed = m->state == STORE_UNDELIVERED || m->state == STORE_FAILED ||
		      m->state == STORE_EXPIRED || m->state == STORE_SUPPRESSED ||
		      m->state == STORE_REJECTED;

	(void)fw;
	cfg_phone_mask(m->to, masked);
	cJSON_AddStringToObject(o, "event_id", m->event_id);
	cJSON_AddNumberToObject(o, "seq", (double)m->seq);
	cJSON_AddStringToObject(o, "status", store_state_name(m->state));
	cJSON_AddNumberToObject(o, "at", (double)tr->at_ms[store_track_slot(m->state)]);
	cJSON_AddStringToObject(o, "provider_id", m->provider_id);
	/* the provider's word when it took the message: "held_for_quality_assessment"
	 * tells a device why a "sent" may take a while */
	if (m->state == STORE_SENT && m->provider_status && m->provider_status[0])
		cJSON_AddStringToObject(o, "provider_status", m->provider_status);
	if (failed && m->err_code)
		cJSON_AddNumberToObject(o, "code", m->err_code);
	if (failed && m->err_text[0])
		cJSON_AddStringToObject(o, "error", m->err_text);
	cJSON_AddStringToObject(o, "account", m->account);
	cJSON_AddStringToObject(o, "route", m->route);
	cJSON_AddStringToObject(o, "to", masked);
	return o;
}

static int oldest(uint64_t id, const char *topic, const char *payload, void *arg)
{
	(void)topic;
	(void)payload;
	*(uint64_t *)arg = id;
	return 1;
}

/* Over RECEIPTS_MAX: the oldest queued receipt goes, in the same txn. */
static int make_room(struct fw *fw, struct store_txn *t)
{
	uint64_t n = 0, id = 0;
	int rc = store_receipt_count(t, &n);

	if (rc != ERR_OK || n < RECEIPTS_MAX)
		return rc;
	rc = store_receipt_list(t, 0, 1, oldest, &id);
	if (rc == ERR_OK && id)
		rc = store_receipt_del(t, id);
	if (rc == ERR_OK)
		rc = store_stat_add(t, "receipts_dropped", 1);
	if (rc == ERR_OK && fw->receipts) {
		fw->receipts->dropped++;
		if (hal_ratelimit_ok(&fw->receipts->drop_rl, 1, 60000))
			log_warn("receipts: %u wait for the broker; the oldest are dropped (%llu so far)",
				 RECEIPTS_MAX, (unsigned long long)fw->receipts->dropped);
	}
	return rc;
}

/* Queues o's text on topic in t, to be published and deleted on PUBACK. */
static int queue_on(struct fw *fw, struct store_txn *t, const char *topic, const cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc = text ? make_room(fw, t) : ERR_NOMEM;

	if (rc == ERR_OK)
		rc = store_receipt_add(t, topic, text);
	if (rc == ERR_OK && fw->receipts)
		fw->receipts->queued++;
	free(text);
	return rc;
}

int fw_receipt_queue_json(struct fw *fw, struct store_txn *t, const char *event_id,
			  const cJSON *o)
{
	char topic[STORE_EVENT_ID_MAX + 200], level[STORE_EVENT_ID_MAX + 1];

	topic_level(level, sizeof(level), event_id[0] ? event_id : "-");
	snprintf(topic, sizeof(topic), "outpost/%s/receipts/%s", fw->cfg->gateway_id, level);
	return queue_on(fw, t, topic, o);
}

int fw_event_queue(struct fw *fw, struct store_txn *t, const char *kind, cJSON *o)
{
	char topic[200];
	int rc;

	if (!o)
		return ERR_NOMEM;
	cJSON_AddStringToObject(o, "kind", kind);
	snprintf(topic, sizeof(topic), "outpost/%s/events", fw->cfg->gateway_id);
	rc = queue_on(fw, t, topic, o);
	cJSON_Delete(o);
	return rc;
}

int fw_receipt_queue(struct fw *fw, struct store_txn *t, const struct store_msg *m,
		     const struct store_track *tr)
{
	cJSON *o = receipt_json(fw, m, tr);
	int rc = fw_receipt_queue_json(fw, t, m->event_id, o);

	cJSON_Delete(o);
	return rc;
}

static bool acked(const struct fw_receipts *r, uint64_t id)
{
	for (unsigned i = 0; i < r->n_ack; i++)
		if (r->ack[i] == id)
			return true;
	return false;
}

static int publish_one(uint64_t id, const char *topic, const char *payload, void *arg)
{
	struct fw_receipts *r = arg;
	int mid = 0;

	if (acked(r, id)) { /* in the store until its delete is committed */
		r->after = id;
		fw_receipts_kick(r->fw); /* it took a place in this listing */
		return 0;
	}
	if (net_mqtt_publish_mid(r->fw->mqtt, topic, payload, strlen(payload), 1, &mid) != ERR_OK)
		return 1; /* the link went: the next connect starts over */
	r->out[r->n_out].id = id;
	r->out[r->n_out++].mid = mid;
	r->after = id;
	return 0;
}

static void on_drain(struct hal_timer *timer)
{
	struct fw_receipts *r = container_of(timer, struct fw_receipts, drain);
	struct store_txn *t;

	if (!r->fw->mqtt || !net_mqtt_connected(r->fw->mqtt) || r->n_out >= RECEIPTS_INFLIGHT)
		return;
	if (store_begin(r->fw->store, STORE_RDONLY, &t) != ERR_OK)
		return;
	store_receipt_list(t, r->after, RECEIPTS_INFLIGHT - r->n_out, publish_one, r);
	store_abort(t);
}

/* From inside a read (net/mqtt.h): note it, delete it later. */
static void on_published(void *arg, int mid)
{
	struct fw_receipts *r = arg;

	for (unsigned i = 0; i < r->n_out; i++) {
		if (r->out[i].mid != mid)
			continue;
		if (r->n_ack < ACK_BATCH)
			r->ack[r->n_ack++] = r->out[i].id; /* else published again: a duplicate */
		r->out[i] = r->out[--r->n_out];
		if (r->n_ack == ACK_BATCH)
			hal_timer_set(r->fw->loop, &r->acked, 0);
		else if (!r->acked.pending)
			hal_timer_set(r->fw->loop, &r->acked, ACK_BATCH_MS);
		fw_receipts_kick(r->fw); /* a slot is free */
		return;
	}
}

/* The deletes that wait, into t in a nested txn; done when t's commit is
 * (fw_receipts_rode). */
static int delete_acked(struct store_txn *t, void *arg)
{
	struct fw_receipts *r = arg;
	int rc = ERR_OK;

	for (unsigned i = 0; rc == ERR_OK && i < r->n_ack; i++) {
		rc = store_receipt_del(t, r->ack[i]);
		if (rc == ERR_NOTFOUND) /* acknowledged on an earlier link too */
			rc = ERR_OK;
	}
	return rc;
}

void fw_receipts_ride(struct fw *fw, struct store_txn *t)
{
	struct fw_receipts *r = fw->receipts;

	if (r && !r->riding && r->n_ack && store_nested_run(t, delete_acked, r) == ERR_OK)
		r->riding = r->n_ack;
}

void fw_receipts_rode(struct fw *fw, int err)
{
	struct fw_receipts *r = fw->receipts;

	if (!r || !r->riding)
		return;
	if (err == ERR_OK) {
		r->published += r->riding;
		r->n_ack -= r->riding;
		memmove(r->ack, r->ack + r->riding, r->n_ack * sizeof(r->ack[0]));
		if (!r->n_ack && r->acked.pending)
			hal_timer_cancel(r->fw->loop, &r->acked);
	}
	r->riding = 0;
}

/* The deletes, in a commit of their own (log records ride along). */
static void on_acked(struct hal_timer *timer)
{
	struct fw_receipts *r = container_of(timer, struct fw_receipts, acked);
	int rc = fw_ride_alone(r->fw, fw_receipts_ride, &r->riding);

	if (rc == ERR_FULL) {
		hal_timer_set(r->fw->loop, &r->acked, FULL_RETRY_MS);
		return;
	}
	if (rc != ERR_OK) {
		fw_fatal(r->fw, "deleting published receipts", rc);
		return;
	}
	fw_receipts_kick(r->fw);
}

void fw_receipts_kick(struct fw *fw)
{
	struct fw_receipts *r = fw->receipts;

	if (r && !r->drain.pending)
		hal_timer_set(fw->loop, &r->drain, 0);
}

void fw_receipts_link(struct fw *fw, bool up)
{
	struct fw_receipts *r = fw->receipts;

	if (!r)
		return;
	/* Unacknowledged ones go again from the queue on this (or the next)
	 * connection. */
	r->n_out = 0;
	r->after = 0;
	if (up)
		fw_receipts_kick(fw);
}

int fw_receipts_init(struct fw *fw)
{
	struct fw_receipts *r = calloc(1, sizeof(*r));

	if (!r)
		return ERR_NOMEM;
	r->fw = fw;
	r->drain.cb = on_drain;
	r->acked.cb = on_acked;
	fw->receipts = r;
	return ERR_OK;
}

/* Call once fw->mqtt exists. */
void fw_receipts_attach(struct fw *fw)
{
	if (fw->receipts && fw->mqtt)
		net_mqtt_on_published(fw->mqtt, on_published, fw->receipts);
}

void fw_receipts_free(struct fw *fw)
{
	struct fw_receipts *r = fw->receipts;

	if (!r)
		return;
	if (r->n_ack) /* so a clean stop publishes none of them again */
		on_acked(&r->acked); /* it may set both timers: cancelled below */
	hal_timer_cancel(fw->loop, &r->drain);
	hal_timer_cancel(fw->loop, &r->acked);
	if (fw->mqtt)
		net_mqtt_on_published(fw->mqtt, NULL, NULL);
	free(r);
	fw->receipts = NULL;
}

void fw_receipts_status(const struct fw *fw, cJSON *o)
{
	const struct fw_receipts *r = fw->receipts;
	struct store_txn *t;
	uint64_t pending = 0;

	if (!r || !o)
		return;
	if (store_begin(fw->store, STORE_RDONLY, &t) == ERR_OK) {
		store_receipt_count(t, &pending);
		store_abort(t);
	}
	/* Acknowledged ones wait for a commit to delete them: not pending. */
	pending = pending > r->n_ack ? pending - r->n_ack : 0;
	cJSON_AddNumberToObject(o, "queued", (double)r->queued);
	cJSON_AddNumberToObject(o, "published", (double)r->published);
	cJSON_AddNumberToObject(o, "pending", (double)pending);
	cJSON_AddNumberToObject(o, "dropped", (double)r->dropped);
	cJSON_AddNumberToObject(o, "in_flight", r->n_out);
	cJSON_AddNumberToObject(o, "acked_undeleted", r->n_ack);
}
