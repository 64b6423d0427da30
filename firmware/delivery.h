/*
 * delivery.h - what happened to each sent message after the provider took
 * it: status polling (delivery.c), relayed webhooks (webhooks.c) and the
 * receipts that tell devices about every change (receipts.c).
 *
 * A record that reaches SENT gets a delivery status entry (store/status.h)
 * in the same txn, with its first poll time, and a "sent" receipt. Every
 * later change, polled or relayed, is applied by fw_delivery_apply() in the
 * txn of whoever learnt it, with its receipt queued in that txn; the
 * publisher sends queued receipts when the broker is there and deletes each
 * once acknowledged. So a change is never published before it is committed
 * and never lost when the broker is away.
 */
#ifndef FW_DELIVERY_H
#define FW_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct fw;
struct net_status;
struct store_msg;
struct store_track;
struct store_txn;

/* Status fetches in flight at most, beside the sender's: the HTTP engine is
 * sized for both, so a poll never takes a send's slot. */
#define FW_POLL_SLOTS 4

int fw_delivery_init(struct fw *fw);
void fw_delivery_free(struct fw *fw);
bool fw_delivery_idle(const struct fw *fw);
/* Status answers that wait ride along with commit t (store.h's commit
 * hook); rode gets its result. */
void fw_delivery_ride(struct fw *fw, struct store_txn *t);
void fw_delivery_rode(struct fw *fw, int err);

/* The sender's hooks: record seq has just become SENT in t; or ended
 * without reaching the provider (failed, expired): its receipt. */
int fw_delivery_sent(struct fw *fw, struct store_txn *t, uint64_t seq);
int fw_delivery_ended(struct fw *fw, struct store_txn *t, uint64_t seq);

/* Applies a status the provider gave for message st->id (found through the
 * provider id index) in t. *changed: the record moved (and a receipt was
 * queued). ERR_NOTFOUND: no record holds that id. */
int fw_delivery_apply(struct fw *fw, struct store_txn *t, const struct net_status *st,
		      bool *changed);

/* Delay before poll number `polls` + 1 (0 = the first) for an account whose
 * first delay is first_ms: x1, x3, x12, x60, x180, x720, capped at an hour. */
int64_t fw_poll_delay_ms(unsigned polls, int64_t first_ms);

/* outbox.show: "delivery": the provider's time of each state, polls made,
 * next poll (0 = none) and why polling stopped; nothing if never sent. */
void fw_delivery_show(struct store_txn *t, uint64_t seq, struct cJSON *o);

/* Counters for status: "delivery": {...}. */
void fw_delivery_status(const struct fw *fw, struct cJSON *o);

/* receipts.c */
int fw_receipts_init(struct fw *fw);
void fw_receipts_free(struct fw *fw);
void fw_receipts_attach(struct fw *fw); /* once fw->mqtt exists */
/* Queues a notice on outpost/<gw>/events in t, like a receipt: {"kind":
 * kind, ...o's members} (o is consumed). */
int fw_event_queue(struct fw *fw, struct store_txn *t, const char *kind, struct cJSON *o);
/* Queues the receipt of record m's move to its current state in t. */
int fw_receipt_queue(struct fw *fw, struct store_txn *t, const struct store_msg *m,
		     const struct store_track *tr);
/* Queues o (a receipt of something else than a record's state: an
 * escalation step) on the event's receipts topic in t. */
int fw_receipt_queue_json(struct fw *fw, struct store_txn *t, const char *event_id,
			  const struct cJSON *o);
/* Publishes what is queued (after a commit that queued some, on link up). */
void fw_receipts_kick(struct fw *fw);
void fw_receipts_link(struct fw *fw, bool up);
/* The deletes of acknowledged receipts ride along with commit t (store.h's
 * commit hook); rode gets its result. */
void fw_receipts_ride(struct fw *fw, struct store_txn *t);
void fw_receipts_rode(struct fw *fw, int err);
void fw_receipts_status(const struct fw *fw, struct cJSON *o);

/* webhooks.c: outpost/<gateway_id>/webhooks/<account> */
/* The filter to subscribe to into buf; false if no account takes webhooks. */
bool fw_webhook_filter(struct fw *fw, char *buf, size_t cap);
/* true if topic was a relayed webhook (taken, whatever its fate). Applies
 * it inside the router's batch txn: acknowledged only once committed. */
bool fw_webhook_take(struct fw *fw, const char *topic, const void *payload, size_t len);
void fw_webhook_status(const struct fw *fw, struct cJSON *o);

#endif
