/*
 * creds.c - `outpostctl creds list | set NAME | delete NAME | rotate-key`:
 * the daemon's vault of provider credentials.
 *
 * `set` reads the secret itself from the terminal with echo off, or as the
 * first line of stdin when that is not a terminal (for scripts: never on
 * the command line, where ps and shell history would keep it). The request
 * that carries it is wiped from memory once sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/outpostctl/octl.h"

#define SECRET_MAX 1024

static const char *sub(const struct octl_opts *o)
{
	return o->nargs > 0 ? o->args[0] : "";
}

/* The entry as the daemon checks it (config/secrets.h). */
static cJSON *entry_of(const struct octl_opts *o, const char *secret)
{
	cJSON *e = cJSON_CreateObject();

	if (o->provider) { /* Meta's access token, 360dialog's API key */
		cJSON_AddStringToObject(e, strcmp(o->provider, "meta") == 0 ? "access_token" :
					   "api_key", secret);
	} else if (o->username) {
		cJSON_AddStringToObject(e, "username", o->username);
		cJSON_AddStringToObject(e, "password", secret);
	} else if (o->api_key_sid) {
		cJSON_AddStringToObject(e, "account_sid", o->account_sid);
		cJSON_AddStringToObject(e, "api_key_sid", o->api_key_sid);
		cJSON_AddStringToObject(e, "api_key_secret", secret);
	} else {
		cJSON_AddStringToObject(e, "account_sid", o->account_sid);
		cJSON_AddStringToObject(e, "auth_token", secret);
	}
	return e;
}

static cJSON *set_request(const struct octl_opts *o, cJSON *req)
{
	char secret[SECRET_MAX + 2], prompt[160];
	const char *what = o->provider ? (strcmp(o->provider, "meta") == 0 ? "access token" :
					  "360dialog API key") :
			   o->username ? "password" : o->api_key_sid ? "API key secret" : "auth token";

	if (o->nargs != 2) {
		fprintf(stderr, "outpostctl: creds set wants a NAME (see outpostctl creds --help)\n");
		return NULL;
	}
	if (o->provider && ((strcmp(o->provider, "meta") != 0 &&
			     strcmp(o->provider, "360dialog") != 0) ||
			    o->username || o->account_sid || o->api_key_sid)) {
		fprintf(stderr, "outpostctl: creds set: --provider is meta or 360dialog, and goes "
				"alone (Twilio entries take --account-sid)\n");
		return NULL;
	}
	if (!o->provider && !o->username && !o->account_sid) {
		fprintf(stderr, "outpostctl: creds set %s: give --account-sid AC... (with "
				"--api-key-sid SK... for an API key), or --username U\n", o->args[1]);
		return NULL;
	}
	if (o->username && (o->account_sid || o->api_key_sid)) {
		fprintf(stderr, "outpostctl: creds set: --username is for a broker login; it does "
				"not go with --account-sid or --api-key-sid\n");
		return NULL;
	}
	snprintf(prompt, sizeof(prompt), "%s for %s (not shown): ", what, o->args[1]);
	if (!octl_read_secret(prompt, secret, sizeof(secret))) {
		fprintf(stderr, "outpostctl: creds set %s: no %s read (one line of 1..%d bytes)\n",
			o->args[1], what, SECRET_MAX);
		return NULL;
	}
	cJSON_AddStringToObject(req, "name", o->args[1]);
	cJSON_AddItemToObject(req, "entry", entry_of(o, secret));
	explicit_bzero(secret, sizeof(secret));
	return req;
}

static cJSON *creds_request(const struct octl_opts *o)
{
	static const struct {
		const char *word, *cmd;
		int args;
	} subs[] = {
		{"list", "creds.list", 1}, {"set", "creds.set", 2},
		{"delete", "creds.delete", 2}, {"rotate-key", "creds.rotate_key", 1},
	};
	cJSON *req;
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(sub(o), subs[i].word) == 0)
			break;
	if (i == sizeof(subs) / sizeof(subs[0])) {
		fprintf(stderr, "outpostctl: creds wants list, set NAME, delete NAME or rotate-key "
				"(see outpostctl creds --help)\n");
		return NULL;
	}
	if (i != 1 && o->nargs != subs[i].args) {
		fprintf(stderr, "outpostctl: creds %s takes %s\n", subs[i].word,
			subs[i].args == 2 ? "one NAME" : "no argument");
		return NULL;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", subs[i].cmd);
	if (i == 1) {
		if (!set_request(o, req)) {
			cJSON_Delete(req);
			return NULL;
		}
	} else if (subs[i].args == 2) {
		cJSON_AddStringToObject(req, "name", o->args[1]);
	}
	return req;
}

static void show_vault(const cJSON *resp)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "vault");
	const char *state = octl_str(v, "state"), *reason = octl_str(v, "reason");

	printf("vault: %s", state ? state : "?");
	if (reason && reason[0]) {
		fputs(" - ", stdout);
		octl_put_text(stdout, reason, 0, 0);
	}
	putchar('\n');
}

static void show_list(const cJSON *resp)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(resp, "entries"), *e, *u;

	show_vault(resp);
	if (!cJSON_GetArraySize(a))
		puts("no credentials (outpostctl creds set NAME)");
	cJSON_ArrayForEach(e, a) {
		const char *f[] = {octl_str(e, "name"), octl_str(e, "kind"),
				   octl_str(e, "account_sid"), octl_str(e, "user"),
				   octl_str(e, "secret")};

		fputs("  ", stdout);
		octl_put_text(stdout, f[0] ? f[0] : "?", 24, 24);
		printf(" %-10s", f[1] ? f[1] : "?");
		if (f[2])
			printf(" account %s", f[2]);
		if (f[3])
			printf(" user %s", f[3]);
		printf(" secret %s", f[4] ? f[4] : "?");
		u = cJSON_GetObjectItemCaseSensitive(e, "used_by");
		if (cJSON_GetArraySize(u)) {
			const cJSON *x;
			const char *sep = "  used by ";

			cJSON_ArrayForEach(x, u) {
				if (cJSON_IsString(x)) {
					fputs(sep, stdout);
					octl_put_text(stdout, x->valuestring, 0, 0);
					sep = ", ";
				}
			}
		}
		putchar('\n');
	}
}

static void creds_show(const struct octl_opts *o, const cJSON *resp)
{
	double n;

	if (strcmp(sub(o), "list") == 0)
		show_list(resp);
	else if (strcmp(sub(o), "rotate-key") == 0 && octl_num(resp, "resealed", &n))
		printf("device key rotated: %.0f entr%s re-sealed\n", n, n == 1 ? "y" : "ies");
	else
		printf("%s %s: done\n", o->args[1], strcmp(sub(o), "set") == 0 ? "set" : "deleted");
}

const struct octl_cmd octl_cmd_creds = {
	.name = "creds",
	.summary = "provider credentials in the daemon's encrypted vault",
	.help = "Usage: outpostctl creds list\n"
		"       outpostctl creds set NAME --account-sid AC... [--api-key-sid SK...]\n"
		"       outpostctl creds set NAME --username USER\n"
		"       outpostctl creds set NAME --provider meta|360dialog\n"
		"       outpostctl creds delete NAME\n"
		"       outpostctl creds rotate-key\n"
		"\n"
		"outpostd keeps credentials sealed (AES-256-GCM) in its store, under a key\n"
		"derived from the device key file (vault.key_file). Accounts and the broker\n"
		"login name an entry (accounts.<a>.credentials, mqtt.credentials).\n"
		"\n"
		"  list        names, kinds and masked tails (never a secret), and who uses each\n"
		"  set NAME    adds or replaces an entry: the secret (auth token, API key\n"
		"              secret or password) is read from the terminal without echo, or\n"
		"              as the first line of stdin; accounts using NAME pick it up at once\n"
		"  delete NAME removes an entry; accounts using it pause\n"
		"  rotate-key  makes a new device key and re-seals every entry with it in one\n"
		"              transaction; the old key file is replaced\n"
		"\n"
		"  --account-sid AC...  the Twilio account (32 hex digits after AC)\n"
		"  --api-key-sid SK...  with an API key instead of the auth token\n"
		"  --username USER      a broker login (password read as above)\n"
		"  --provider meta      a Meta Cloud API access token (read as above); an\n"
		"                       app_secret for webhook signatures comes with the\n"
		"                       secrets file\n"
		"  --provider 360dialog a 360dialog D360-API-KEY (read as above)\n"
		"\n"
		"Example: printf '%s\\n' \"$TOKEN\" | outpostctl creds set twilio-main --account-sid AC...\n"
		"set is refused over --mqtt: the secret would cross the broker unencrypted.\n",
	.opts = OCTL_OPT_ARGS | OCTL_OPT_CREDS,
	.request = creds_request,
	.show = creds_show,
};
