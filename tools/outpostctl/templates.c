/*
 * templates.c - `outpostctl templates list|sync [ACCOUNT]`: each configured
 * template's WhatsApp approval as the gateway knows it (synced from the
 * provider, else the config's), and a sync now. The gateway never makes a
 * command wait for the network: sync starts one and the tool asks for the
 * list until the account's sync round has passed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hal/clock.h"
#include "tools/outpostctl/octl.h"

#define POLL_MS 200
#define WAIT_MS 40000 /* longer than a few pages at the daemon's timeouts */

static void pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static cJSON *request(const char *cmd, const char *account)
{
	cJSON *req = cJSON_CreateObject();

	cJSON_AddStringToObject(req, "cmd", cmd);
	if (account)
		cJSON_AddStringToObject(req, "account", account);
	return req;
}

static void put_ago(double s)
{
	char buf[32], ago[40];

	if (s < 0) {
		printf("%-10s", "never");
		return;
	}
	octl_fmt_duration(buf, sizeof(buf), s, true);
	snprintf(ago, sizeof(ago), "%s ago", buf);
	printf("%-10s", ago);
}

static void show_template(const cJSON *t)
{
	const char *status = octl_str(t, "status"), *reason = octl_str(t, "reason");
	const char *src = octl_str(t, "source"), *type = octl_str(t, "type");
	double synced = -1;
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "approved"));

	octl_num(t, "synced_ago_s", &synced);
	octl_put_text(stdout, octl_str(t, "name") ? octl_str(t, "name") : "?", 24, 25);
	octl_put_text(stdout, octl_str(t, "account") ? octl_str(t, "account") : "?", 12, 13);
	octl_put_text(stdout, octl_str(t, "id") ? octl_str(t, "id") : "?", 34, 35);
	/* Capitals for what needs attention, as status does. */
	printf("%-6s", ok ? "yes" : "NO");
	octl_put_text(stdout, status ? status : "?", 12, 13);
	octl_put_text(stdout, octl_str(t, "category") && *octl_str(t, "category") ?
			      octl_str(t, "category") : "-", 14, 15);
	octl_put_text(stdout, type && *type ? type : "-", 22, 23);
	if (src && strcmp(src, "config") == 0)
		printf("%-10s", "(config)");
	else
		put_ago(synced);
	if (reason && *reason) {
		fputs("  ", stdout);
		octl_put_text(stdout, reason, 100, 0);
	}
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "listed")))
		fputs("  (not listed by the provider)", stdout);
	putchar('\n');
}

static void show_account(const cJSON *a)
{
	const char *sync = octl_str(a, "sync"), *res = octl_str(a, "result");
	double ago = -1, next = 0;

	octl_num(a, "last_ok_ago_s", &ago);
	octl_num(a, "next_in_s", &next);
	fputs("  ", stdout);
	octl_put_text(stdout, octl_str(a, "account") ? octl_str(a, "account") : "?", 12, 13);
	printf("sync %s", sync && strcmp(sync, "failed") == 0 ? "FAILED" : sync ? sync : "?");
	fputs(", last ok ", stdout);
	put_ago(ago);
	printf("next in %.0f s", next);
	if (res && *res) {
		fputs(": ", stdout);
		octl_put_text(stdout, res, 100, 0);
	}
	putchar('\n');
}

static int show(const struct octl_opts *o, const cJSON *resp)
{
	const cJSON *t;

	if (o->json) {
		char *s = cJSON_PrintUnformatted(resp);

		printf("%s\n", s ? s : "{}");
		cJSON_free(s);
		return OCTL_EXIT_OK;
	}
	printf("%-25s%-13s%-35s%-6s%-13s%-15s%-23s%s\n", "TEMPLATE", "ACCOUNT", "ID", "SENDS",
	       "STATUS", "CATEGORY", "TYPE", "SYNCED");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(resp, "templates"))
		show_template(t);
	printf("\nsyncs:\n");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(resp, "accounts"))
		show_account(t);
	return OCTL_EXIT_OK;
}

/* Every account's rounds have reached the round its sync ends with. */
static bool synced(const cJSON *list, const cJSON *started)
{
	const cJSON *s, *a;

	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(started, "accounts")) {
		double want = 0, have = 0;
		bool seen = false;

		octl_num(s, "done_at_round", &want);
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(list, "accounts")) {
			const char *n = octl_str(a, "account"), *m = octl_str(s, "account");

			if (n && m && strcmp(n, m) == 0 && octl_num(a, "rounds", &have)) {
				seen = true;
				if (have < want)
					return false;
			}
		}
		if (!seen)
			return false;
	}
	return true;
}

static bool any_failed(const cJSON *list)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(list, "accounts")) {
		const char *s = octl_str(a, "sync");

		if (s && strcmp(s, "failed") == 0)
			return true;
	}
	return false;
}

static int sync_run(const struct octl_opts *o, const char *path, const char *account)
{
	uint64_t until = hal_now_ms() + WAIT_MS;
	cJSON *req = request("templates.sync", account), *started = NULL, *list = NULL;
	int ex = octl_call(o, path, req, &started);

	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	for (;;) {
		pause_ms(POLL_MS);
		req = request("templates.list", account);
		ex = octl_call(o, path, req, &list);
		cJSON_Delete(req);
		if (ex >= 0)
			break;
		if (synced(list, started) || hal_now_ms() >= until) {
			if (!synced(list, started))
				fprintf(stderr, "outpostctl: the sync was still running after %d s\n",
					WAIT_MS / 1000);
			ex = show(o, list);
			if (ex == OCTL_EXIT_OK && (any_failed(list) || !synced(list, started)))
				ex = OCTL_EXIT_DAEMON;
			break;
		}
		cJSON_Delete(list);
		list = NULL;
	}
	cJSON_Delete(list);
	cJSON_Delete(started);
	return ex;
}

static int templates_run(const struct octl_opts *o, const char *path)
{
	const char *sub = o->nargs > 0 ? o->args[0] : "list";
	const char *account = o->nargs > 1 ? o->args[1] : NULL;
	cJSON *req, *resp = NULL;
	int ex;

	if (o->nargs > 2 || (strcmp(sub, "list") != 0 && strcmp(sub, "sync") != 0)) {
		fprintf(stderr, "outpostctl: usage: templates list|sync [ACCOUNT]\n");
		return OCTL_EXIT_USAGE;
	}
	if (strcmp(sub, "sync") == 0)
		return sync_run(o, path, account);
	req = request("templates.list", account);
	ex = octl_call(o, path, req, &resp);
	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	ex = show(o, resp);
	cJSON_Delete(resp);
	return ex;
}

const struct octl_cmd octl_cmd_templates = {
	.name = "templates",
	.summary = "WhatsApp template approvals as synced from the provider; sync now",
	.help = "Usage: outpostctl templates list [ACCOUNT] [--json]\n"
		"       outpostctl templates sync [ACCOUNT] [--json]\n"
		"\n"
		"list  each configured template on each account: its id (Twilio\n"
		"      ContentSid), whether the gateway sends it (SENDS yes, or NO: its\n"
		"      messages are held or failed), the status the provider gave (or the config's, marked\n"
		"      \"(config)\", until a sync has seen it), category, content type,\n"
		"      when it was last synced, and the reason (rejection or pause\n"
		"      reason; for a template not sent, why). Then each account's last\n"
		"      sync: ok or FAILED with why, and when the next one is due.\n"
		"sync  asks the provider now (all accounts, or ACCOUNT), waits until\n"
		"      the sync is done (at most 40 s) and shows the list. Messages held\n"
		"      for a template that is now approved go out right after.\n"
		"Exit status 1 if a sync failed.\n",
	.opts = OCTL_OPT_ARGS,
	.run = templates_run,
};
