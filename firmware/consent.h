/*
 * consent.h - consent and the 24-hour window, as the daemon applies them
 * (firmware/consent.c), and inbound messages (firmware/inbound.c). The
 * ledger itself is store/ledger.h.
 *
 * Where the decisions are made: at send time, in the sender's admit path
 * (fw_consent_gate), not at ingest. A message may wait in the outbox for
 * hours (a backlog, retries, a paused account) and a STOP that arrives
 * meanwhile must still hold it back; the window, too, is a fact of the
 * moment of sending. The router only rejects, at ingest, a free-form event
 * without a fallback template whose window is already closed, so that the
 * publisher hears at once.
 */
#ifndef FW_CONSENT_H
#define FW_CONSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/fw.h"
#include "firmware/retry.h"

struct store_msg;
struct store_txn;
struct net_send_outcome;
struct cJSON;

/* 24 h less a margin: clocks and the provider's queue differ
 * (providers.md section 8 suggests treating > 23 h 50 min as closed). */
#define FW_WINDOW_MS ((int64_t)(24 * 60 - 10) * 60 * 1000)

/* Counters since start (status "consent"). */
struct fw_consent_n {
	uint64_t suppressed;   /* messages held back: opted out or not opted in */
	uint64_t opt_out, opt_in; /* consent changes, any source */
	uint64_t topic_ok, topic_bad; /* consent topic messages taken / refused */
	uint64_t freeform, fallback; /* free-form texts sent; fallback templates sent */
	uint64_t window_failed; /* free-form messages with no way to go */
	uint64_t inbound, inbound_dup, inbound_bad, keywords;
	uint64_t polls, poll_failures, poll_capped;
};

enum fw_form { FW_FORM_TEMPLATE = 1, FW_FORM_FREEFORM, FW_FORM_NONE };

/* Whether the window is open at now_ms for a last inbound at inbound_ms
 * (0 = never): inbound_ms <= now_ms < inbound_ms + FW_WINDOW_MS. A time in
 * the future (a clock set back) counts as open only up to the margin. */
bool fw_window_open(int64_t now_ms, int64_t inbound_ms);
/* How a message goes: free-form inside the window (unless the provider
 * already said no: template_only), else its fallback template, else not at
 * all. A message without a body is a template message. */
enum fw_form fw_window_pick(int64_t now_ms, int64_t inbound_ms, bool has_body, bool has_template,
			    bool template_only);

/* "2026-12-02T21:00:00Z"; "never" for 0. */
void fw_iso_time(int64_t ms, char *buf, size_t len);

/* The send-time gate for record m (QUEUED/RETRY, not a reconciliation),
 * inside the sender's txn t. true: it may go (STORE_F_FREEFORM set or
 * cleared as the window says). false: m was moved to SUPPRESSED or FAILED
 * with err_text pointing into a buffer valid until the next call. */
bool fw_consent_gate(struct fw *fw, struct store_txn *t, struct store_msg *m, int64_t wall);
/* The sender's settle path, after the retry policy: an opted-out answer
 * records the opt-out ("provider:<code>") and suppresses the message; a
 * window answer to a free-form send falls back to the template once.
 * why (the sender's) holds err_text. */
int fw_consent_settle(struct fw *fw, struct store_txn *t, const struct net_send_outcome *o,
		      struct store_msg *m, enum fw_next *next, char *why, size_t whylen, int64_t wall);
/* A delivery status (polled or relayed) that ends message m with code's
 * class cls. Opted-out: the opt-out is recorded for later messages. Outside
 * the window, for a free-form message whose route has a fallback template:
 * m is made due again as that template (*resend; the failure is not
 * taken, err_text says why, provider_id is cleared). */
int fw_consent_late(struct fw *fw, struct store_txn *t, struct store_msg *m, int cls, int code,
		    int64_t wall, bool *resend);
/* The ingest check of a free-form route without fallback: NULL if it may
 * be queued, else the reason (valid until the next call). */
const char *fw_consent_ingest(struct fw *fw, struct store_txn *t, const char *to, int64_t wall);

/* A consent change with its log line; source e.g. "cli", "mqtt:kiosk-3". */
int fw_consent_set(struct fw *fw, struct store_txn *t, const char *e164, int consent,
		   const char *source, int64_t at_ms);

/* The consent topic outpost/<gateway_id>/consent: true if topic is it
 * (the message was taken, whatever its fate). Runs in the MQTT batch. */
bool fw_consent_take(struct fw *fw, const char *topic, const void *payload, size_t len);
const char *fw_consent_topic(const struct fw *fw);

/* control/consent.c: consent.set, consent.show, forget */
struct fw_caller;
struct cJSON *fw_cmd_consent(struct fw *fw, const struct fw_caller *from, const char *cmd,
			     const struct cJSON *req, char *err, size_t errlen);

/* inbound.c: start/stop the pollers (after the sender; on reload). */
int fw_inbound_init(struct fw *fw);
void fw_inbound_reconfigure(struct fw *fw);
void fw_inbound_free(struct fw *fw);
void fw_consent_status(const struct fw *fw, struct cJSON *o);

/* The daemon's part for consent and inbound (fw->inbound). */
struct fw_poller;
struct fw_inbound {
	struct fw *fw;
	struct fw_consent_n n;
	char topic[160];         /* outpost/<gateway_id>/consent */
	char inbound_topic[160]; /* outpost/<gateway_id>/inbound */
	char why[400];           /* fw_consent_gate's reason */
	struct fw_poller *pollers; /* one per account with inbound_poll_s */
	struct hal_timer publish; /* sends what waits in pub[] */
	char *pub[64];
	unsigned n_pub;
	uint64_t pub_dropped;
	int64_t pruned_ms;       /* last prune of handled inbound ids */
};

#endif
