/*
 * config.c - `outpostctl config show | check FILE | push FILE`.
 *
 * check and push send the file in chunks (net/xfer.h) over whichever
 * transport was chosen, with a progress bar when it takes a moment; the
 * daemon checks it as a start would and answers with every error by JSON
 * path. A push cut short (a cable pulled, a timeout) is resumed by running
 * the same command again: the daemon says how much it already has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "hal/file.h"
#include "net/xfer.h"
#include "tools/outpostctl/octl.h"

#define FILE_MAX (1024 * 1024) /* config/config.h CFG_FILE_MAX */

struct push {
	const struct octl_opts *o;
	const char *path, *file;
	char *text;
	size_t len;
	char sha[NET_SHA256_HEX];
};

static cJSON *req_of(const char *cmd, const char *sha)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "cmd", cmd);
	if (sha)
		cJSON_AddStringToObject(r, "sha256", sha);
	return r;
}

/* One request; -1 with *resp on success, else the exit code. */
static int call(const struct push *p, cJSON *req, cJSON **resp)
{
	int ex = octl_call(p->o, p->path, req, resp);

	cJSON_Delete(req);
	return ex;
}

static int begin(struct push *p, size_t *offset)
{
	cJSON *req = req_of("config.push.begin", p->sha), *resp;
	double off;
	int ex;

	cJSON_AddNumberToObject(req, "size", (double)p->len);
	if ((ex = call(p, req, &resp)) >= 0)
		return ex;
	ex = octl_num(resp, "offset", &off) && off >= 0 && off <= (double)p->len ? -1 :
		OCTL_EXIT_DAEMON;
	*offset = ex < 0 ? (size_t)off : 0;
	cJSON_Delete(resp);
	if (ex >= 0)
		fprintf(stderr, "outpostctl: config: the daemon answered begin without an offset\n");
	else if (*offset > 0 && *offset < p->len && !p->o->json)
		fprintf(stderr, "outpostctl: config: resuming an earlier push at byte %zu of %zu\n",
			*offset, p->len);
	return ex;
}

static int send_chunks(struct push *p, size_t off)
{
	struct octl_bar bar = {.t0_ms = hal_now_ms()};
	int ex = -1;

	while (off < p->len && ex < 0) {
		size_t n = p->len - off < NET_XFER_CHUNK ? p->len - off : NET_XFER_CHUNK;
		char *b64 = net_b64_encode(p->text + off, n);
		cJSON *req = req_of("config.push.chunk", p->sha), *resp;
		double got;

		cJSON_AddNumberToObject(req, "offset", (double)off);
		cJSON_AddStringToObject(req, "data", b64 ? b64 : "");
		free(b64);
		if ((ex = call(p, req, &resp)) >= 0)
			break;
		if (!octl_num(resp, "offset", &got) || got != (double)(off + n)) {
			fprintf(stderr, "outpostctl: config: the daemon lost track of the transfer at "
					"byte %zu; run the command again\n", off);
			ex = OCTL_EXIT_DAEMON;
		}
		cJSON_Delete(resp);
		off += n;
		octl_bar_show(&bar, off, p->len, "bytes");
	}
	octl_bar_clear(&bar);
	return ex;
}

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
	const char *s = octl_str(o, key);

	return s ? s : dflt;
}

static void put_errors(const struct push *p, const cJSON *resp, const char *key,
		       const char *what)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(resp, key), *e;

	cJSON_ArrayForEach(e, a) {
		const char *path = octl_str(e, "path"), *msg = octl_str(e, "msg");

		fprintf(stderr, "%s: %s%s", p->file, what, path ? path : "?");
		fputs(": ", stderr);
		octl_put_text(stderr, msg ? msg : "?", 0, 0);
		fputc('\n', stderr);
	}
}

static int show_result(const struct push *p, const cJSON *resp, bool check)
{
	const cJSON *rn = cJSON_GetObjectItemCaseSensitive(resp, "restart_needed"), *x;
	bool valid = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "valid"));
	const char *prev = octl_str(resp, "previous");

	put_errors(p, resp, "warnings", "warning: ");
	if (!valid) {
		put_errors(p, resp, "errors", "");
		fprintf(stderr, "%s: refused by the gateway; its running configuration is "
				"untouched\n", p->file);
		return OCTL_EXIT_DAEMON;
	}
	if (check)
		printf("%s: valid on the gateway (sha256 %.12s…, signature %s); nothing applied\n",
		       p->file, p->sha, str_or(resp, "signature", "?"));
	else
		printf("%s: applied (sha256 %.12s…); the previous file is kept as %s\n", p->file,
		       p->sha, prev ? prev : "?");
	cJSON_ArrayForEach(x, rn)
		if (cJSON_IsString(x))
			printf("  %s changes take effect after a restart of outpostd\n", x->valuestring);
	return OCTL_EXIT_OK;
}

/* --sig FILE, or FILE.sig next to the config when there is one: the
 * fleet's signature (DER, from openssl dgst -sha256 -sign). -1 or an exit
 * code. */
static int add_signature(const struct push *p, cJSON *req)
{
	char def[4200], *der = NULL, *b64;
	const char *path = p->o->sig;
	size_t len = 0;
	int rc;

	if (!path) {
		snprintf(def, sizeof(def), "%s.sig", p->file);
		if (access(def, R_OK) != 0)
			return -1;
		path = def;
	}
	rc = hal_file_read(path, 1024, &der, &len);
	if (rc != ERR_OK || len == 0) {
		fprintf(stderr, "outpostctl: config: cannot read the signature %s: %s\n", path,
			rc == ERR_TOOBIG ? "over 1 KiB: not a signature" : rc ? hal_strerror(rc) :
			"empty");
		free(der);
		return OCTL_EXIT_USAGE;
	}
	b64 = net_b64_encode(der, len);
	free(der);
	if (!b64)
		return OCTL_EXIT_USAGE;
	cJSON_AddStringToObject(req, "signature", b64);
	free(b64);
	return -1;
}

static int transfer(struct push *p, bool check)
{
	cJSON *req, *resp;
	size_t off = 0;
	int rc, ex;

	rc = hal_file_read(p->file, FILE_MAX, &p->text, &p->len);
	if (rc != ERR_OK || p->len < 2) {
		fprintf(stderr, "outpostctl: config: cannot read %s: %s\n", p->file,
			rc == ERR_TOOBIG ? "over 1 MiB" : rc ? hal_strerror(rc) : "empty");
		return OCTL_EXIT_USAGE;
	}
	net_sha256_hex(p->text, p->len, p->sha);
	if ((ex = begin(p, &off)) >= 0 || (ex = send_chunks(p, off)) >= 0)
		return ex;
	req = req_of("config.push.commit", p->sha);
	cJSON_AddBoolToObject(req, "dry_run", check);
	if ((ex = add_signature(p, req)) >= 0) {
		cJSON_Delete(req);
		return ex;
	}
	if ((ex = call(p, req, &resp)) >= 0)
		return ex;
	if (p->o->json) {
		char *s = cJSON_PrintUnformatted(resp);

		printf("%s\n", s ? s : "{}");
		cJSON_free(s);
		ex = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "valid")) ? 0 :
			OCTL_EXIT_DAEMON;
	} else {
		ex = show_result(p, resp, check);
	}
	cJSON_Delete(resp);
	return ex;
}

static int show(const struct octl_opts *o, const char *path)
{
	cJSON *req = req_of("config.show", NULL), *resp;
	const char *text;
	int ex = octl_call(o, path, req, &resp);

	cJSON_Delete(req);
	if (ex >= 0)
		return ex;
	text = octl_str(resp, "text");
	if (o->json) {
		char *s = cJSON_PrintUnformatted(resp);

		printf("%s\n", s ? s : "{}");
		cJSON_free(s);
	} else {
		fputs(text ? text : "", stdout);
		if (text && text[0] && text[strlen(text) - 1] != '\n')
			putchar('\n');
	}
	cJSON_Delete(resp);
	return OCTL_EXIT_OK;
}

static int config_run(const struct octl_opts *o, const char *path)
{
	const char *sub = o->nargs > 0 ? o->args[0] : "";
	struct push p = {.o = o, .path = path};
	int ex;

	if (strcmp(sub, "show") == 0 && o->nargs == 1)
		return show(o, path);
	if ((strcmp(sub, "check") == 0 || strcmp(sub, "push") == 0) && o->nargs == 2) {
		p.file = o->args[1];
		ex = transfer(&p, sub[0] == 'c');
		free(p.text);
		return ex;
	}
	fprintf(stderr, "outpostctl: config wants show, check FILE or push FILE (see outpostctl "
			"config --help)\n");
	return OCTL_EXIT_USAGE;
}

const struct octl_cmd octl_cmd_config = {
	.name = "config",
	.summary = "show the gateway's configuration, check or push a new one",
	.help = "Usage: outpostctl config show\n"
		"       outpostctl config check FILE\n"
		"       outpostctl config push FILE\n"
		"\n"
		"  show        prints the configuration file outpostd runs with\n"
		"  check FILE  sends FILE to the gateway, which checks it as a start would and\n"
		"              prints every problem by JSON path; nothing is applied\n"
		"  push FILE   the same, then, if it is valid: the running file is kept as\n"
		"              <file>.prev, FILE is written in its place atomically and applied\n"
		"              without a restart (store, broker, gateway id and vault key changes\n"
		"              wait for one: it says which). If the new one cannot start its\n"
		"              parts, the previous one is put back.\n"
		"\n"
		"A gateway with control.fleet_key takes only files signed with the fleet's\n"
		"P-256 key: openssl dgst -sha256 -sign fleet.key -out FILE.sig FILE\n"
		"(FILE.sig is sent by itself when it sits next to FILE; --sig names another).\n"
		"\n"
		"Works over --socket, --serial and --mqtt; a transfer that takes more than a\n"
		"moment shows a progress bar. A push cut short resumes where it stopped when\n"
		"run again with the same file. Exit status 1 when the gateway refuses the file.\n",
	.opts = OCTL_OPT_ARGS,
	.run = config_run,
};
