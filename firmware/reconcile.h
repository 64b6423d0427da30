/*
 * reconcile.h - finding out whether an ambiguous attempt reached the
 * provider before sending the message again.
 *
 * An attempt is ambiguous when its request left the gateway and no answer
 * said what became of it: a timeout, a reset, a 5xx, a crash while it was
 * out. The provider may have made the message. Neither Twilio nor Meta takes
 * an idempotency key, so the only way to know is to ask: list the messages
 * our number sent to that recipient since the attempt and look for one no
 * record has claimed whose text holds every variable of ours. Found: the
 * record takes that message id and is sent, nothing goes out again. Not
 * found: the message is sent again.
 *
 * One reconciliation is one or more GETs of list pages (newest first),
 * walked back until the attempt's time less FW_RECON_SKEW_MS; the sender
 * runs it in one of its request slots and records the result like a send's.
 */
#ifndef FW_RECONCILE_H
#define FW_RECONCILE_H

#include <stdint.h>

#include "firmware/walk.h"
#include "net/providers/provider.h"

struct store;
struct store_msg;

/* How far the provider's clock may be behind ours. Wider costs more pages
 * and nothing else: a match must also be unclaimed and carry our text. */
#define FW_RECON_SKEW_MS (5 * 60 * 1000)
/* Pages walked at most (20 messages each) before the attempt is taken as
 * not made: a recipient with more messages than that since the attempt is
 * not a gateway's alarm contact. */
#define FW_RECON_MAX_PAGES 10
/* Wait after an ambiguous outcome before asking, so a request the provider
 * was still working on when we gave up has been made by then. */
#define FW_RECON_DELAY_MS 2000

enum fw_recon_step {
	FW_RECON_MORE = 1, /* fetch *next_url and call fw_recon_page again */
	FW_RECON_FOUND,    /* out->id is the message the attempt made */
	FW_RECON_ABSENT,   /* the provider has no such message: send again */
	FW_RECON_FAILED,   /* the list could not be had: out->cls and out->text say why */
};

struct fw_recon {
	char *buf;          /* to, from and the variables, NUL-separated */
	const char *to, *from;
	const char **vars;
	unsigned n_vars, pages;
	int64_t since_ms;   /* the attempt, less the skew */
};

/* From the record (its attempt_ms, to and vars) and the account's number.
 * ERR_OK, ERR_NOMEM. */
int fw_recon_start(struct fw_recon *r, const struct store_msg *m, const char *from);
/* Reads the answer to the last GET. Claims are checked against st's sid
 * index (a read txn of its own); a walk stopped at a refused next link or
 * at FW_RECON_MAX_PAGES is counted in walks. */
enum fw_recon_step fw_recon_page(struct fw_recon *r, struct store *st, struct fw_walk_n *walks,
				 const struct net_provider *drv, const char *api_base,
				 const struct net_http_result *res, char **next_url,
				 struct net_send_outcome *out);
void fw_recon_free(struct fw_recon *r);

#endif
