/*
 * escalate.h - on-call escalation (firmware/escalate.c; docs/ALERTING.md).
 *
 * A route with "escalate" sends its first step as any route does (the
 * router), and opens a chain (store/chain.h) in the same batch txn. At the
 * step's deadline the chain looks at that step's records: one read (or
 * delivered, per route) ends it as reached; else the next step's records
 * are queued in the same txn that moves the chain, or after the last step
 * it gives up. An ACK reply from a number it messaged (in the inbound
 * message's txn) or a message on outpost/<gw>/ack/<event id> (in the MQTT
 * batch's txn) ends it as acknowledged. Each of these is a receipt on the
 * event's receipts topic and a durable counter.
 *
 * Deadlines: the timer is hal's (monotonic); the times are stored as wall
 * ms, read from a clock that is the wall clock at the moment it was first
 * valid in this run, advanced by the monotonic clock since. While the wall
 * clock is invalid nothing fires; a chain opened then gets its deadline
 * when it becomes valid.
 */
#ifndef FW_ESCALATE_H
#define FW_ESCALATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/chain.h"

struct fw;
struct store_txn;
struct store_msg;
struct cJSON;

/* ---- the chain's state machine, pure (unit-tested) ---- */
enum fw_esc_action {
	FW_ESC_NONE = 0, /* not due: nothing to do */
	FW_ESC_ARM,      /* opened (or ended) before the clock was valid: set its time now */
	FW_ESC_REACHED,  /* the step's messages were read (delivered) in time: end */
	FW_ESC_NEXT,     /* not read in time: the next step goes */
	FW_ESC_GIVE_UP,  /* not read in time after the last step: end */
	FW_ESC_STOP,     /* the route has no escalation any more: end */
	FW_ESC_FORGET,   /* ended, kept for store.keep_done: delete */
};
struct fw_esc_in {
	int state;       /* enum store_chain_state */
	int64_t at_ms;   /* the chain's deadline (0: not set) or forget time */
	int64_t now_ms;  /* 0: the clock is not valid */
	unsigned step;   /* current step */
	unsigned steps;  /* steps the route has now (0: gone) */
	bool seen;       /* a record of the step is read (or delivered, per route) */
};
enum fw_esc_action fw_esc_decide(const struct fw_esc_in *in);
/* Whether an acknowledgement changes a chain in that state. */
bool fw_esc_ackable(int state);

/* ---- the daemon part ---- */
int fw_escalate_init(struct fw *fw);
void fw_escalate_free(struct fw *fw);
/* After a reload: the ack topic follows whether any route escalates. */
void fw_escalate_reconfigure(struct fw *fw);

/* The first step's records of route r for one event, queued in t by the
 * router: opens the chain. proto holds the event's fields for later steps
 * (event id, topic, account, template, vars, body). */
struct fw_esc_first {
	unsigned n;
	uint64_t seq[STORE_CHAIN_FIRST_MAX];
	char to[STORE_CHAIN_FIRST_MAX][CFG_PHONE_MAX];
};
int fw_escalate_begin(struct fw *fw, struct store_txn *t, const struct cfg_route *r,
		      const struct store_msg *proto, const struct fw_esc_first *first);

/* An inbound message (fresh, in its txn t): an ACK from a number a chain
 * messaged ends that chain: the chain of the message it replies to
 * (replied_to, the provider's id, may be NULL), else the newest chain still
 * open or reached that messaged the number. */
int fw_escalate_reply(struct fw *fw, struct store_txn *t, const char *from, const char *body,
		      const char *replied_to);

/* "outpost/<gw>/ack/+" (NULL when no route escalates), and a message on it
 * (true if it was one: taken in the batch's txn). */
const char *fw_escalate_topic(const struct fw *fw);
bool fw_escalate_take(struct fw *fw, const char *topic, const void *payload, size_t len);

/* The sender's gate for record m (QUEUED/RETRY, in its txn t): a message of
 * a later step whose chain was acknowledged before it went is withdrawn
 * (false: m is SUPPRESSED with the reason, counted); true: it may go. */
bool fw_escalate_gate(struct fw *fw, struct store_txn *t, struct store_msg *m);

/* outbox.show: "escalation" of record m's chain, if it belongs to one. */
void fw_escalate_show(struct fw *fw, struct store_txn *t, const struct store_msg *m,
		      bool operator, struct cJSON *o);
/* status: "escalation": counts. */
void fw_escalate_status(struct fw *fw, struct cJSON *o);

#endif
