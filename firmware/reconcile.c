/*
 * reconcile.c - ask the provider whether an ambiguous attempt made a message
 * (see reconcile.h for when and why).
 *
 * What matches: a message from our number to the recipient, made no earlier
 * than the attempt less the skew, that no record holds (the sid index), and
 * whose text holds every variable value of ours. Providers render the
 * template, so the text is all we can compare; the variables are what tells
 * one event's message from another's. Two of our messages with the same
 * variables to the same person in the same minutes cannot be told apart -
 * nor can the person tell them apart - and the claim check still gives each
 * of them one message at most, so the count stays right.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/phone.h"
#include "firmware/reconcile.h"
#include "hal/crash.h"
#include "hal/err.h"
#include "store/outbox.h"
#include "store/store.h"

/* The variable values of vars_json, as the text would show them, in texts;
 * false if one could not be copied (texts[0..*n) are still to be freed). */
static bool vars_of(cJSON *root, char **texts, unsigned *n_out)
{
	unsigned n = 0;
	cJSON *v;

	cJSON_ArrayForEach(v, root) {
		texts[n] = cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v);
		if (!texts[n]) {
			*n_out = n;
			return false;
		}
		if (!*texts[n]) { /* "" is in every text */
			free(texts[n]);
			continue;
		}
		n++;
	}
	*n_out = n;
	return true;
}

int fw_recon_start(struct fw_recon *r, const struct store_msg *m, const char *from)
{
	/* A free-form attempt is found by its text, a template one by its
	 * variables: the provider's body shows one or the other. */
	bool text = (m->flags & STORE_F_FREEFORM) && m->body[0];
	cJSON *root = m->vars_json[0] && !text ? cJSON_Parse(m->vars_json) : NULL;
	unsigned max = (unsigned)cJSON_GetArraySize(root), n = 0;
	char **texts = calloc(max + 1, sizeof(*texts));
	size_t len, pos;
	int err = ERR_NOMEM;

	memset(r, 0, sizeof(*r));
	if (!texts || !vars_of(root, texts, &n))
		goto out;
	if (text && !(texts[n++] = strdup(m->body)))
		goto out;
	len = strlen(m->to) + strlen(from) + 2;
	for (unsigned i = 0; i < n; i++)
		len += strlen(texts[i]) + 1;
	r->buf = malloc(len);
	r->vars = calloc(n + 1, sizeof(*r->vars));
	if (!r->buf || !r->vars)
		goto out;
	/* to, from, then each variable, NUL-separated in one block. */
	pos = 0;
	r->to = strcpy(r->buf, m->to);
	pos += strlen(m->to) + 1;
	r->from = strcpy(r->buf + pos, strncmp(from, "whatsapp:", 9) == 0 ? from + 9 : from);
	pos += strlen(r->from) + 1;
	for (unsigned i = 0; i < n; i++) {
		r->vars[i] = strcpy(r->buf + pos, texts[i]);
		pos += strlen(texts[i]) + 1;
	}
	r->n_vars = n;
	r->since_ms = m->attempt_ms - FW_RECON_SKEW_MS;
	err = ERR_OK;
out:
	for (unsigned i = 0; texts && i < n; i++)
		free(texts[i]);
	free(texts);
	cJSON_Delete(root);
	if (err != ERR_OK)
		fw_recon_free(r);
	return err;
}

void fw_recon_free(struct fw_recon *r)
{
	free(r->buf);
	free(r->vars);
	memset(r, 0, sizeof(*r));
}

struct walk {
	const struct fw_recon *r;
	struct store_txn *txn;
	bool past;      /* reached messages older than the window */
	int err;        /* the sid index could not be read */
	char found[sizeof(((struct net_send_outcome *)0)->id)];
};

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

/*
 * Whether text shows value as a whole: not inside a longer word or number.
 * "s-1199" is in "... s-11999 ..." as bytes, but it is another event's id:
 * taken as ours, an attempt that never reached the provider was recorded
 * as sent (the kill storm lost one that way). A value next to letters or
 * digits in the template itself ("Order#{{1}}b") is then not found and is
 * sent again: a duplicate the ambiguous count allows, never a loss.
 */
static bool shows(const char *text, const char *value)
{
	size_t n = strlen(value);

	for (const char *p = strstr(text, value); p; p = strstr(p + 1, value)) {
		bool open = p == text || !word_char(p[-1]) || !word_char(value[0]);
		bool close = !p[n] || !word_char(p[n]) || !word_char(value[n - 1]);

		if (open && close)
			return true;
	}
	return false;
}

static bool ours(const struct fw_recon *r, const struct net_listed *l)
{
	if (strcmp(l->to, r->to) != 0 || strcmp(l->from, r->from) != 0)
		return false;
	for (unsigned i = 0; i < r->n_vars; i++)
		if (!shows(l->body, r->vars[i]))
			return false;
	return true;
}

static int match(const struct net_listed *l, void *arg)
{
	struct walk *w = arg;
	uint64_t seq;
	int rc;

	/* Newest first: once one is older than the window, all the rest are.
	 * A date we cannot read is taken as inside it. */
	if (l->created_ms >= 0 && l->created_ms < w->r->since_ms) {
		w->past = true;
		return 1;
	}
	if (!ours(w->r, l) || strlen(l->id) >= sizeof(w->found))
		return 0;
	rc = store_sid_get(w->txn, l->id, &seq);
	if (rc == ERR_OK)
		return 0; /* another record's message */
	if (rc != ERR_NOTFOUND) {
		w->err = rc;
		return 1;
	}
	memcpy(w->found, l->id, strlen(l->id) + 1);
	return 1;
}

static enum fw_recon_step failed(struct net_send_outcome *out, int cls, const char *text)
{
	out->cls = cls;
	snprintf(out->text, sizeof(out->text), "%s", text);
	return FW_RECON_FAILED;
}

enum fw_recon_step fw_recon_page(struct fw_recon *r, struct store *st, struct fw_walk_n *walks,
				 const struct net_provider *drv, const char *api_base,
				 const struct net_http_result *res, char **next_url,
				 struct net_send_outcome *out)
{
	struct walk w = {.r = r};
	struct net_list_page page;
	char why[200] = "", masked[CFG_PHONE_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	*next_url = NULL;
	rc = store_begin(st, STORE_RDONLY, &w.txn);
	if (rc != ERR_OK)
		return failed(out, NET_TRANSIENT, "reading the store to reconcile");
	drv->list_page(res, api_base, match, &w, &page);
	store_abort(w.txn);
	r->pages++;
	if (page.cls != NET_OK) {
		free(page.next_url);
		return failed(out, page.cls, page.text);
	}
	if (w.err != ERR_OK) {
		free(page.next_url);
		return failed(out, NET_TRANSIENT, "reading the store to reconcile");
	}
	cfg_phone_mask(r->from, masked);
	if (!w.found[0] && !w.past &&
	    fw_walk_on(walks, "reconcile", masked, &page, r->pages, FW_RECON_MAX_PAGES, why,
		       sizeof(why))) {
		*next_url = page.next_url;
		return FW_RECON_MORE;
	}
	free(page.next_url);
	OUTPOST_CRASH_POINT("reconcile");
	out->cls = NET_OK;
	if (w.found[0]) {
		memcpy(out->id, w.found, sizeof(out->id));
		snprintf(out->text, sizeof(out->text), "found at the provider as %s", w.found);
		return FW_RECON_FOUND;
	}
	snprintf(out->text, sizeof(out->text), "not found at the provider (%u page%s%s%.160s)",
		 r->pages, r->pages == 1 ? "" : "s", why[0] ? ", gave up paging: " : "", why);
	return FW_RECON_ABSENT;
}
