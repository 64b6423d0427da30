/*
 * probe.c - `outpostctl test-connection [ACCOUNT]`: asks the gateway to try
 * each account's path to its provider now, then asks for the results until
 * they are all in (the gateway never makes a command wait for the network).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hal/clock.h"
#include "tools/outpostctl/octl.h"

#define POLL_MS 200
#define WAIT_MS 40000 /* longer than the daemon's connect + request timeouts */

static void pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int show(const struct octl_opts *o, const cJSON *resp)
{
	const cJSON *r;
	int bad = 0;

	if (o->json) {
		char *s = cJSON_PrintUnformatted(resp);

		printf("%s\n", s ? s : "{}");
		cJSON_free(s);
	}
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(resp, "results")) {
		const char *state = octl_str(r, "state"), *cls = octl_str(r, "class");
		const char *text = octl_str(r, "text");
		double ms = 0, http = 0, code = 0;
		bool ok = state && strcmp(state, "ok") == 0;

		bad += !ok;
		if (o->json)
			continue;
		octl_num(r, "ms", &ms);
		octl_num(r, "http_status", &http);
		octl_num(r, "code", &code);
		fputs("  ", stdout);
		octl_put_text(stdout, octl_str(r, "account") ? octl_str(r, "account") : "?", 24, 24);
		if (ok) {
			printf(" ok      HTTP %.0f in %.0f ms", http, ms);
		} else {
			printf(" FAILED  %s", cls ? cls : "?");
			if (code)
				printf(" %.0f", code);
			fputs(": ", stdout);
			octl_put_text(stdout, text && text[0] ? text : "?", 0, 0);
			printf(" (after %.0f ms)", ms);
		}
		if (octl_str(r, "check") && octl_str(r, "check")[0]) {
			fputs("\n    by ", stdout);
			octl_put_text(stdout, octl_str(r, "check"), 0, 0);
		}
		putchar('\n');
	}
	return bad ? OCTL_EXIT_DAEMON : OCTL_EXIT_OK;
}

/* Asks {cmd, key: value} every POLL_MS until done(answer) or until; -1
 * with the last answer in *resp (the caller deletes it), or the exit code. */
static int poll(const struct octl_opts *o, const char *path, const char *cmd, const char *key,
		double value, bool (*done)(const cJSON *resp), uint64_t until, cJSON **resp)
{
	int ex;

	for (;;) {
		cJSON *req = cJSON_CreateObject();

		cJSON_AddStringToObject(req, "cmd", cmd);
		cJSON_AddNumberToObject(req, key, value);
		ex = octl_call(o, path, req, resp);
		cJSON_Delete(req);
		if (ex >= 0 || done(*resp) || hal_now_ms() >= until)
			return ex;
		cJSON_Delete(*resp);
		pause_ms(POLL_MS);
	}
}

static bool tests_done(const cJSON *resp)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "done"));
}

static const char *state_of(const cJSON *resp)
{
	return octl_str(cJSON_GetObjectItemCaseSensitive(resp, "message"), "state");
}

static bool message_done(const cJSON *resp)
{
	const char *st = state_of(resp);

	return st && strcmp(st, "queued") != 0 && strcmp(st, "sending") != 0 &&
	       strcmp(st, "retry") != 0;
}

/* Follows the test message until it ends (sent, failed, ...) or time runs out. */
static int follow_message(const struct octl_opts *o, const char *path, double seq,
			  uint64_t until)
{
	const cJSON *m, *e;
	const char *st;
	cJSON *resp = NULL;
	int ex = poll(o, path, "outbox.show", "seq", seq, message_done, until, &resp);

	if (ex >= 0)
		return ex;
	m = cJSON_GetObjectItemCaseSensitive(resp, "message");
	st = state_of(resp);
	e = cJSON_GetObjectItemCaseSensitive(m, "error");
	printf("  test message #%.0f to ", seq);
	octl_put_text(stdout, octl_str(m, "to") ? octl_str(m, "to") : "?", 0, 0);
	printf(": %s", st ? st : "?");
	if (st && strcmp(st, "sent") == 0)
		printf(" (%s)", octl_str(m, "provider_id") ? octl_str(m, "provider_id") : "?");
	else if (octl_str(e, "text") && octl_str(e, "text")[0]) {
		fputs(": ", stdout);
		octl_put_text(stdout, octl_str(e, "text"), 0, 0);
	}
	putchar('\n');
	ex = st && (strcmp(st, "sent") == 0 || strcmp(st, "delivered") == 0 ||
		    strcmp(st, "read") == 0) ? OCTL_EXIT_OK : OCTL_EXIT_DAEMON;
	cJSON_Delete(resp);
	return ex;
}

static int probe_run(const struct octl_opts *o, const char *path)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	uint64_t until = hal_now_ms() + WAIT_MS;
	double id = 0, msg_seq = 0;
	int ex;

	if (o->nargs > 1) {
		fprintf(stderr, "outpostctl: test-connection takes at most one ACCOUNT\n");
		cJSON_Delete(req);
		return OCTL_EXIT_USAGE;
	}
	if (!o->send_to != !o->template_name) {
		fprintf(stderr, "outpostctl: a test message needs both --send-to +E164 and "
				"--template NAME\n");
		cJSON_Delete(req);
		return OCTL_EXIT_USAGE;
	}
	cJSON_AddStringToObject(req, "cmd", "test_connection");
	if (o->nargs == 1)
		cJSON_AddStringToObject(req, "account", o->args[0]);
	if (o->send_to) {
		cJSON_AddStringToObject(req, "send_to", o->send_to);
		cJSON_AddStringToObject(req, "template", o->template_name);
	}
	ex = octl_call(o, path, req, &resp);
	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	octl_num(resp, "test", &id);
	if (!octl_num(resp, "message_seq", &msg_seq))
		msg_seq = 0;
	cJSON_Delete(resp);
	pause_ms(POLL_MS);
	ex = poll(o, path, "test_connection.result", "test", id, tests_done, until, &resp);
	if (ex >= 0)
		return ex;
	if (!tests_done(resp))
		fprintf(stderr, "outpostctl: some tests still running after %d s\n", WAIT_MS / 1000);
	ex = show(o, resp);
	cJSON_Delete(resp);
	if (msg_seq > 0) {
		int mx = follow_message(o, path, msg_seq, until);

		ex = ex > mx ? ex : mx;
	}
	return ex;
}

const struct octl_cmd octl_cmd_probe = {
	.name = "test-connection",
	.summary = "try each account's path to its provider now: DNS, TLS, credentials",
	.help = "Usage: outpostctl test-connection [ACCOUNT] [--send-to +E164 --template NAME] [--json]\n"
		"\n"
		"The gateway makes one harmless request per account with the account's\n"
		"credentials (Twilio: Auth Token - fetches the account; API key - lists one\n"
		"message, which a Standard key may; Meta: fetches the phone number;\n"
		"360dialog: lists the templates), over the same TLS setup its messages\n"
		"use, and reports each, with the call it made: ok with the time it took,\n"
		"or FAILED with why (no route or DNS, TLS verification, credentials\n"
		"refused (auth), rate limit, provider error). Sends no message, unless\n"
		"asked:\n"
		"  --send-to +E164 --template NAME\n"
		"             also sends one real message of that approved template, its\n"
		"             variables \"outpost test\", through the outbox like any other\n"
		"             (ACCOUNT needed when there are several), and follows it until it\n"
		"             is sent or failed\n"
		"Exit status 1 if any account or the test message failed.\n",
	.opts = OCTL_OPT_ARGS,
	.run = probe_run,
};
