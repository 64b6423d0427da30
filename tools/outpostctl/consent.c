/*
 * consent.c - `outpostctl consent set +E164 in|out [--source TEXT]`,
 * `outpostctl consent show +E164` and `outpostctl forget +E164`: the
 * recipient ledger (opt-in/opt-out, last inbound message, the 24-hour
 * window) and erasing a person's data.
 */
#include <stdio.h>
#include <string.h>

#include "tools/outpostctl/octl.h"

static const char *word(const struct octl_opts *o, int i)
{
	return o->nargs > i ? o->args[i] : "";
}

static cJSON *consent_request(const struct octl_opts *o)
{
	bool set = strcmp(word(o, 0), "set") == 0, show = strcmp(word(o, 0), "show") == 0;
	cJSON *req;

	if ((!set && !show) || o->nargs != (set ? 3 : 2)) {
		fprintf(stderr, "outpostctl: consent wants set +E164 in|out [--source TEXT], or "
				"show +E164 (see outpostctl consent --help)\n");
		return NULL;
	}
	if (set && strcmp(word(o, 2), "in") != 0 && strcmp(word(o, 2), "out") != 0) {
		fprintf(stderr, "outpostctl: consent set: say in or out, not '%s'\n", word(o, 2));
		return NULL;
	}
	if (show && o->source) {
		fprintf(stderr, "outpostctl: --source goes with consent set\n");
		return NULL;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", set ? "consent.set" : "consent.show");
	cJSON_AddStringToObject(req, "to", word(o, 1));
	if (set)
		cJSON_AddStringToObject(req, "opt", word(o, 2));
	if (o->source)
		cJSON_AddStringToObject(req, "source", o->source);
	return req;
}

static void field(const cJSON *r, const char *label, const char *key)
{
	const char *v = octl_str(r, key);

	printf("%-15s ", label);
	octl_put_text(stdout, v && v[0] ? v : "-", 0, 0);
	putchar('\n');
}

static void consent_show(const struct octl_opts *o, const cJSON *r)
{
	const cJSON *open = cJSON_GetObjectItemCaseSensitive(r, "window_open");

	if (strcmp(word(o, 0), "set") == 0) {
		fputs("consent of ", stdout);
		octl_put_text(stdout, octl_str(r, "to") ? octl_str(r, "to") : "?", 0, 0);
		printf(" is now %s (source ", octl_str(r, "consent") ? octl_str(r, "consent") : "?");
		octl_put_text(stdout, octl_str(r, "source") ? octl_str(r, "source") : "?", 0, 0);
		puts(")");
		return;
	}
	field(r, "number", "to");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "found")))
		puts("(not in the ledger: consent unknown, never wrote to us)");
	field(r, "consent", "consent");
	field(r, "source", "source");
	field(r, "changed", "changed_at");
	field(r, "last inbound", "last_inbound_at");
	field(r, "to account", "account");
	printf("%-15s %s", "24 h window", cJSON_IsTrue(open) ? "open until " : "closed");
	if (cJSON_IsTrue(open))
		octl_put_text(stdout, octl_str(r, "window_until") ? octl_str(r, "window_until") : "?",
			      0, 0);
	putchar('\n');
}

void octl_show_consent(const cJSON *c, const char *indent)
{
	if (!cJSON_IsObject(c))
		return;
	printf("%-*s", (int)strlen(indent), "consent:");
	octl_put_counts(stdout, c, indent);
}

const struct octl_cmd octl_cmd_consent = {
	.name = "consent",
	.summary = "a recipient's opt-in/opt-out and 24-hour window",
	.help = "Usage: outpostctl consent set +E164 in|out [--source TEXT]\n"
		"       outpostctl consent show +E164\n"
		"\n"
		"outpostd keeps a ledger per phone number: opted in, opted out or unknown,\n"
		"with where that came from (cli, mqtt:<source>, keyword:STOP, provider:21610)\n"
		"and when, and when the number last wrote to us (which opens WhatsApp's\n"
		"24-hour window for free-form text).\n"
		"\n"
		"  set    records an opt-in or opt-out (source \"cli\", or \"cli:TEXT\" with\n"
		"         --source); messages to an opted-out number are suppressed\n"
		"  show   the number's entry and whether its window is open\n",
	.opts = OCTL_OPT_ARGS,
	.request = consent_request,
	.show = consent_show,
};

static cJSON *forget_request(const struct octl_opts *o)
{
	cJSON *req;

	if (o->nargs != 1) {
		fprintf(stderr, "outpostctl: forget wants one phone number (+E164)\n");
		return NULL;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "forget");
	cJSON_AddStringToObject(req, "to", o->args[0]);
	return req;
}

static void forget_show(const struct octl_opts *o, const cJSON *r)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "erased");
	double ledger = 0, msgs = 0, lines = 0;

	(void)o;
	octl_num(e, "ledger", &ledger);
	octl_num(e, "messages", &msgs);
	octl_num(e, "log_lines", &lines);
	fputs("erased the data of ", stdout);
	octl_put_text(stdout, octl_str(r, "to") ? octl_str(r, "to") : "?", 0, 0);
	printf(": %s, %.0f message%s, %.0f log line%s (their number and variables)\n",
	       ledger ? "ledger entry" : "no ledger entry", msgs, msgs == 1 ? "" : "s", lines,
	       lines == 1 ? "" : "s");
}

const struct octl_cmd octl_cmd_forget = {
	.name = "forget",
	.summary = "erase a person's data (ledger, messages, log details)",
	.help = "Usage: outpostctl forget +E164\n"
		"\n"
		"Erases, in one transaction, everything outpostd keeps about a phone number:\n"
		"its ledger entry (consent, last inbound message), every outbox message to it\n"
		"in any state (queued ones are not sent), and the number and template\n"
		"variables of the log records about it (log texts mask numbers already).\n"
		"Refused while a message to the number is being sent; ask again then.\n",
	.opts = OCTL_OPT_ARGS,
	.request = forget_request,
	.show = forget_show,
};
