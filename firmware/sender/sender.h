/*
 * sender/sender.h - the sender's own header: what its files share, and
 * nothing anyone else may use (the sender's API is fw_sender_* in
 * firmware/fw.h).
 *
 * The sender takes due records from the outbox and sends them. One turn:
 * in one write transaction, take up to `batch` due records (from the due
 * index, never by scanning), mark them SENDING and commit - so a crash
 * while a request is out finds them SENDING and knows the outcome is
 * ambiguous. Then submit one HTTP request each. A record the sender would
 * take as soon as it is stored is marked SENDING in its ingest commit
 * instead, with the same pick (fw_sender_ride, from the store's commit
 * hook): one commit fewer per event at a site's pace. Answers are committed
 * together in one transaction once the loop has taken in all that are
 * there (hal_timer_idle), so a burst costs one fsync, not one per message.
 *
 * The commit cycle is off a slot's path: a turn picks up to an account's
 * in-flight limit more records than it has slots, committed SENDING with
 * the rest and kept ready; an answer frees its slot and the next ready
 * record leaves at once, while the answer waits for the next commit. A
 * ready record whose account can no longer send (paused, circuit open,
 * stopping, removed by a reload) is put back as it was, in the next
 * commit. A crash leaves ready records SENDING, so they are reconciled
 * like any attempt whose outcome is unknown: that costs a question to the
 * provider, never a lost or doubled message.
 *
 * A record whose last attempt was ambiguous carries STORE_F_RECONCILE: its
 * turn asks the provider whether that attempt made a message before any
 * resend (firmware/reconcile.c), in a slot of the same pool, and its answer
 * is recorded in the same transactions as send outcomes.
 *
 * Who owns what: struct fw_sender (fw->sender) owns the accounts, the
 * request pool and the outcomes waiting for their commit. Request contexts
 * come from a pool sized by sender.max_inflight at start: memory does not
 * grow with the backlog. Each context copies what its request needs, so a
 * config reload never pulls strings from under it; a reload replaces the
 * accounts and repoints the contexts and waiting outcomes by name, so a
 * struct account pointer is valid until the next fw_sender_reconfigure.
 *
 * The files, by what changes together:
 *   sender.c  - lifecycle and accounts: init, reconfigure, stop, free,
 *               recovery of SENDING records at start, kick, idle, status
 *   turn.c    - picking and pacing: the tick, which records go now and to
 *               which account, the token bucket and the in-flight limit,
 *               building and submitting requests, the request pool
 *   outcome.c - outcomes and their recording: the retry rule applied to a
 *               record, reconciliation answers, one commit for many
 *               outcomes, counters and logs after it, pauses
 *   link.c    - the link: uplink status, the breaker's notes, records held
 *               for the link during an outage and released after it,
 *               probes
 * Everything runs on the one loop; nothing here is called from another
 * thread. A request's done callback (fw_snd_on_done) only queues its ctx;
 * the flush timer records it, so no callback frees what called it.
 */
#ifndef FW_SENDER_SENDER_H
#define FW_SENDER_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/phone.h"
#include "firmware/breaker.h"
#include "firmware/fw.h"
#include "firmware/reconcile.h"
#include "firmware/retry.h"
#include "hal/log.h"
#include "hal/loop.h"
#include "net/http.h"
#include "net/providers/provider.h"
#include "store/outbox.h"
#include "store/store.h"

#define FULL_RETRY_MS 1000
/* Above the default breaker.failures (5) plus a pool's worth of requests
 * out when the circuit opens; past it a record keeps its own backoff. */
#define LINK_RECENT 64
#define NAME_MAX_ 64

/* Until the first answers are in: a provider's usual answer time. */
#define ANSWER_MS_GUESS 100.0

/* Requests out at first, and again after a run of failures to connect. */
#define RAMP_START 4
/* Slow start steps up only while fewer requests than this wait for a
 * connection (net_http_connecting: TLS handshakes under way). */
#define RAMP_CONNECTING 4

struct account {
	char name[NAME_MAX_];
	const struct net_provider *drv;
	struct net_send_msg msg;   /* api_base, credentials, from: shared by its requests */
	char *ca_file;
	double rate, tokens;
	unsigned burst;
	uint64_t refilled_ms;
	uint64_t paused_until;     /* monotonic ms, 0 = not paused */
	char pause_reason[FW_ERROR_TEXT];
	uint64_t sent, failed;
	unsigned sends_since_poll; /* tokens sends took since a status poll took one */
	struct fw_breaker breaker;
	/* An outage (docs/RETRY.md, recovery): records parked while the
	 * circuit is open, then those left to go since it closed. */
	unsigned link_held, draining;
	/* Pace: requests out now, and how many may be: rate x answer time
	 * (smoothed), so a slow provider gets enough parallel requests to
	 * use its rate and a fast one few (fw_snd_adapt()). */
	unsigned inflight, limit;
	unsigned queued;           /* picked, SENDING, waiting for a slot (ready) */
	unsigned answered;         /* sends answered, their outcome not yet committed */
	unsigned ramp;             /* slow start: what the answers so far allow */
	double answer_ms;
	bool capped;               /* sender.max_inflight, not the rate, limits */
	bool probing;              /* a probe of the provider is out */
	uint64_t probe_next;       /* monotonic ms of the next probe */
	/* Records whose attempt failed for the link before the circuit
	 * opened: they wait out a backoff, and are due at once when it
	 * closes (fw_snd_on_forward, link.c). The first LINK_RECENT of a run. */
	uint64_t recent[LINK_RECENT];
	unsigned n_recent;
	bool forward;              /* the circuit closed: recent[] is due now */
	char fallback[NAME_MAX_];  /* "" = none */
	const struct cfg_account *cfg; /* valid until the next reconfigure */
	struct account *next;
};

struct ctx {
	struct net_http_req req;
	struct fw *fw;
	uint64_t seq;
	struct account *acct;
	char *url, *body;
	char *hdr[NET_HTTP_HEADERS_MAX]; /* auth headers (secrets) while req is out */
	struct net_send_outcome out;
	int build_rc;
	bool busy, done;
	bool reconciling;          /* a list walk (recon) instead of a send */
	bool probing;              /* a GET asking whether the provider answers */
	struct fw_recon recon;
	enum fw_recon_step step;   /* how the walk ended */
	uint64_t sent_ms;          /* monotonic, when the request went out */
	int64_t answer_ms;         /* how long the provider took to answer; -1 none */
	struct ctx *next_done;
	/* Picked ahead: committed SENDING, waiting for a slot of its account.
	 * What the pick changed, to put it back if it cannot go. */
	struct ctx *next_ready;
	bool ready, undo;          /* undo: put back in the open transaction */
	int prev_state;
	int64_t prev_attempt_ms;
};

/* An outcome waiting for its commit. Copied out of its ctx, so the ctx can
 * take the next record in the same txn; kept until the commit succeeds (a
 * full store makes it wait, it never drops it). */
struct done {
	uint64_t seq;
	struct account *acct;
	struct net_send_outcome out;
	int recon;                 /* enum fw_recon_step of a reconciliation, 0 for a send */
	enum fw_next next;
	char why[FW_ERROR_TEXT + 320]; /* a reason made here, "" if the outcome's text is it */
	unsigned attempts;         /* of the record, after this one */
	int64_t retry_in_ms;       /* FW_NEXT_RETRY: from the commit to the next try */
	bool parked;               /* FW_NEXT_RETRY: held for the link instead */
	/* For the log line after the commit (the record is gone by then). */
	char event_id[STORE_EVENT_ID_MAX + 1], to[CFG_PHONE_MAX];
};

struct fw_sender {
	struct fw *fw;
	struct hal_timer tick, flush, forward;
	struct account *accounts;
	struct ctx *pool;          /* 2 x max_inflight: in flight and ready */
	unsigned pool_n, inflight; /* inflight: contexts in use */
	unsigned max_inflight, out; /* sender.max_inflight; requests out now */
	struct ctx *ready, **ready_tail;
	unsigned n_ready;
	bool launching;
	struct ctx *done_head;
	struct done *settle;  /* pool_n slots */
	unsigned n_settle;
	struct fw_retry_policy policy;
	bool stopping;
	bool backlog;         /* due records were left at the last turn */
	/* The last look at the due index: the earliest due time it found
	 * (-1 none) and store_commits() after it. */
	int64_t next_due;
	uint64_t looked_commits;
	/* Picked in the ingest commit (fw_sender_ride), submitted once it
	 * is committed. */
	struct pick *ride;
	bool riding;
	const char *hold;
	uint64_t *seqs;
	struct hal_ratelimit full_rl;
};

/* Records taken in one transaction, submitted once it is committed. */
struct pick {
	struct ctx *c[256];
	unsigned n;
	int64_t next_due;
};

/* sender.c: accounts */
struct account *fw_snd_account_find(struct fw_sender *s, const char *name);
bool fw_snd_reconcilable(const struct account *a);

/* turn.c: picking, pacing, the request pool */
void fw_snd_on_tick(struct hal_timer *t);
void fw_snd_adapt(struct account *a, unsigned cap);
void fw_snd_paced(struct fw_sender *s, const struct ctx *c);
struct ctx *fw_snd_ctx_get(struct fw_sender *s);
void fw_snd_ctx_release(struct ctx *c);
void fw_snd_on_done(struct net_http_req *req, const struct net_http_result *res);
unsigned fw_snd_room_now(struct fw_sender *s, uint64_t *token_wait);
bool fw_snd_ended(int state);
void fw_snd_looked(struct fw_sender *s, int64_t next_due);
int fw_snd_pick_due(struct fw_sender *s, struct store_txn *t, unsigned room, struct pick *p);
void fw_snd_pick_abandon(struct fw_sender *s, struct pick *p);
void fw_snd_submit_picked(struct fw_sender *s, struct pick *p);
bool fw_snd_may_send(const struct fw_sender *s);
void fw_snd_launch_ready(struct fw_sender *s);
bool fw_snd_ready_stale(struct fw_sender *s);
int fw_snd_unready(struct fw_sender *s, struct store_txn *t, int64_t wall);
void fw_snd_unready_end(struct fw_sender *s, bool committed);

/* outcome.c: outcomes and their recording */
void fw_snd_on_flush(struct hal_timer *t);
void fw_snd_pause(struct fw *fw, struct account *a, const struct net_send_outcome *o);

/* link.c: the link, outages */
void fw_snd_hold_for_link(struct account *a, struct store_msg *m);
void fw_snd_unhold(struct fw_sender *s, struct store_msg *m);
void fw_snd_link_failed(struct done *d, struct store_msg *m);
void fw_snd_breaker_note(struct fw *fw, struct account *a, int cls);
void fw_snd_probe_links(struct fw_sender *s, uint64_t now);
void fw_snd_on_forward(struct hal_timer *t);

#endif
