/*
 * templates.h - template approvals: synced from each account's provider,
 * and the gate that keeps a template that is not approved from being sent.
 *
 * templates.c syncs each account at start and every templates_sync (1 h by
 * default; after a failure sooner, with backoff), one request at a time per
 * account, on the daemon's HTTP engine; what it learns goes to the store
 * (store/templates.h) and to a copy in memory the gate reads. A config
 * template's effective status is the synced one once a sync has seen it,
 * else its "status" in the config.
 *
 * template_gate.c: the router asks whether a route's template may be used
 * (a route with "unapproved": "fail" rejects the event at ingest), the
 * sender asks again for every record it takes (the status may have changed
 * since): "hold" parks the record (store/outbox.h STORE_DUE_PARKED) with the
 * reason in its err_text, "fail" fails it. Parked records are released
 * after every successful sync, on reload and at least once an interval,
 * and the gate looks at them again.
 */
#ifndef FW_TEMPLATES_H
#define FW_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HTTP transfers beyond sender.concurrency, for syncs and connection tests. */
#define FW_HTTP_SPARE 2

struct fw;
struct cJSON;
struct cfg_template;
struct cfg_route;
struct store_msg;

/* One config template on one account, as far as the daemon knows. */
struct fw_tpl_state {
	bool known;    /* a sync (this run's or a stored one) has seen it */
	bool unlisted; /* the last complete sync did not list it */
	bool approved;
	char status[32], category[32], type[48], id[64], name[64], reason[200];
	int64_t synced_ms, changed_ms; /* wall ms */
	int64_t written_ms; /* wall ms the store last got this note (its synced_ms there) */
};

int fw_templates_init(struct fw *fw);      /* after the sender: syncs start */
int fw_templates_reconfigure(struct fw *fw); /* after a reload */
void fw_templates_free(struct fw *fw);     /* after net_http_free */

/* Starts a sync of `account` (all accounts if NULL) unless one is running.
 * ERR_OK, ERR_NOTFOUND (no such account). */
int fw_templates_sync(struct fw *fw, const char *account);
/* A send was refused for its template (Twilio 63027, 63016...): the
 * status we have may be stale; syncs the account unless it synced in the
 * last minute. */
void fw_templates_suspect(struct fw *fw, const char *account);
/* What the daemon knows of template t on account (NULL if unknown). */
const struct fw_tpl_state *fw_templates_state(const struct fw *fw, const char *account,
					      const struct cfg_template *t);
/* The account's sync as status and `templates list` show it. */
void fw_templates_account_json(const struct fw *fw, const char *account, struct cJSON *o);
void fw_templates_status(const struct fw *fw, struct cJSON *o);

/* control/templates.c: templates.list, templates.sync */
struct cJSON *fw_cmd_templates(struct fw *fw, const char *cmd, const struct cJSON *req, char *err,
			       size_t errlen);

/* ---- template_gate.c ---- */

/* The gate's own state, inside the templates part. */
#include "hal/loop.h"
struct fw_tpl_gate {
	struct fw *fw;
	struct hal_timer release;
	uint64_t release_after; /* seq the release walk has passed */
	bool release_again;     /* asked again while walking */
	uint64_t held, failed, released; /* since start */
	char why[320];
};
struct fw_tpl_gate *fw_templates_gate(struct fw *fw);

enum fw_tpl_verdict { FW_TPL_SEND = 0, FW_TPL_HOLD, FW_TPL_FAIL };

/* The gate's rule, pure: approved -> send; else the route's policy. */
enum fw_tpl_verdict fw_tpl_decide(bool approved, int unapproved_policy);
/* Whether t may be sent on account now; if not, why says so, e.g.
 * "template payment_received is paused at the provider: <reason>". */
bool fw_templates_sendable(const struct fw *fw, const char *account,
			   const struct cfg_template *t, char *why, size_t whylen);
/* The sender's admit path, for the account the attempt would go to (a
 * fallback's statuses are its own): false if the record was held (parked)
 * or failed; m is changed accordingly (its err_text points into fw's
 * templates part until the next call). */
bool fw_templates_admit(struct fw *fw, struct store_msg *m, const char *account);
/* Brings every parked record back to due now, in chunks, off the loop's
 * current turn; the gate then looks at each again. */
void fw_templates_release(struct fw *fw);

#endif
