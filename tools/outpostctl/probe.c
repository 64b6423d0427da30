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
			printf(" ok      HTTP %.0f in %.0f ms\n", http, ms);
			continue;
		}
		printf(" FAILED  %s", cls ? cls : "?");
		if (code)
			printf(" %.0f", code);
		fputs(": ", stdout);
		octl_put_text(stdout, text && text[0] ? text : "?", 0, 0);
		printf(" (after %.0f ms)\n", ms);
	}
	return bad ? OCTL_EXIT_DAEMON : OCTL_EXIT_OK;
}

static int probe_run(const struct octl_opts *o, const char *path)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	uint64_t until = hal_now_ms() + WAIT_MS;
	double id = 0;
	int ex;

	if (o->nargs > 1) {
		fprintf(stderr, "outpostctl: test-connection takes at most one ACCOUNT\n");
		cJSON_Delete(req);
		return OCTL_EXIT_USAGE;
	}
	cJSON_AddStringToObject(req, "cmd", "test_connection");
	if (o->nargs == 1)
		cJSON_AddStringToObject(req, "account", o->args[0]);
	ex = octl_call(o, path, req, &resp);
	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	octl_num(resp, "test", &id);
	cJSON_Delete(resp);
	for (;;) {
		pause_ms(POLL_MS);
		req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "cmd", "test_connection.result");
		cJSON_AddNumberToObject(req, "test", id);
		ex = octl_call(o, path, req, &resp);
		cJSON_Delete(req);
		if (ex >= 0)
			return ex;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "done")) ||
		    hal_now_ms() >= until)
			break;
		cJSON_Delete(resp);
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "done")))
		fprintf(stderr, "outpostctl: some tests still running after %d s\n", WAIT_MS / 1000);
	ex = show(o, resp);
	cJSON_Delete(resp);
	return ex;
}

const struct octl_cmd octl_cmd_probe = {
	.name = "test-connection",
	.summary = "try each account's path to its provider now: DNS, TLS, credentials",
	.help = "Usage: outpostctl test-connection [ACCOUNT] [--json]\n"
		"\n"
		"The gateway makes one harmless request per account (Twilio: it fetches\n"
		"the account) with the account's credentials, over the same TLS setup its\n"
		"messages use, and reports each: ok with the time it took, or FAILED with\n"
		"why (no route or DNS, TLS verification, credentials refused (auth),\n"
		"rate limit, provider error). Sends no message. Exit status 1 if any\n"
		"account failed.\n",
	.opts = OCTL_OPT_ARGS,
	.run = probe_run,
};
