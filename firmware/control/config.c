/*
 * control/config.c - `config.*` control commands: show the running file, and a
 * chunked, resumable push that is checked on the device before it is
 * applied (net/xfer.h).
 *
 *   config.show                       -> {path, size, sha256, text}
 *   config.push.begin {size, sha256}  -> {offset}: where to go on (0, or
 *                                        what an earlier, cut push of the
 *                                        same file already delivered)
 *   config.push.chunk {sha256, offset, data (base64)} -> {offset}
 *   config.push.commit {sha256, dry_run} -> {valid, errors[], warnings[],
 *                                        applied, previous, restart_needed}
 *
 * A commit checks the whole against its SHA-256 and parses it as a start
 * would (config/config.c). Invalid: refused with every error by JSON path,
 * nothing touched. Valid and not a dry run: the running file is kept as
 * "<path>.prev", the new one written atomically (temp file, fsync, rename,
 * directory fsync) and applied like a SIGHUP; if it cannot be applied, the
 * previous file is put back and applied again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/sign.h"
#include "firmware/fw.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/log.h"
#include "net/xfer.h"

/* One push at a time; a new file (another SHA-256) starts over. */
struct fw_staging {
	char sha256[NET_SHA256_HEX];
	unsigned char *data;
	size_t size, got;
};

void fw_config_staging_free(struct fw *fw)
{
	if (!fw->staging)
		return;
	free(fw->staging->data);
	free(fw->staging);
	fw->staging = NULL;
}

static cJSON *ok_obj(void)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddBoolToObject(r, "ok", true);
	return r;
}

static cJSON *show(struct fw *fw, char *err, size_t errlen)
{
	char sha[NET_SHA256_HEX], *text = NULL;
	size_t len = 0;
	cJSON *r;
	int rc = fw->cfg_path ? hal_file_read(fw->cfg_path, CFG_FILE_MAX, &text, &len) : ERR_NOTFOUND;

	if (rc != ERR_OK) {
		snprintf(err, errlen, "cannot read %s: %s", fw->cfg_path ? fw->cfg_path : "(no config file)", hal_strerror(rc));
		return NULL;
	}
	net_sha256_hex(text, len, sha);
	r = ok_obj();
	cJSON_AddStringToObject(r, "path", fw->cfg_path);
	cJSON_AddNumberToObject(r, "size", (double)len);
	cJSON_AddStringToObject(r, "sha256", sha);
	cJSON_AddStringToObject(r, "text", text);
	free(text);
	return r;
}

static const char *sha_of(const cJSON *req, char *err, size_t errlen)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(req, "sha256");

	if (!cJSON_IsString(s) || !net_sha256_hex_valid(s->valuestring)) {
		snprintf(err, errlen, "\"sha256\" must be 64 lowercase hex digits");
		return NULL;
	}
	return s->valuestring;
}

static cJSON *offset_reply(size_t off)
{
	cJSON *r = ok_obj();

	cJSON_AddNumberToObject(r, "offset", (double)off);
	return r;
}

static cJSON *begin(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(req, "size");
	const char *sha = sha_of(req, err, errlen);
	struct fw_staging *st = fw->staging;

	if (!sha)
		return NULL;
	if (!cJSON_IsNumber(size) || size->valuedouble < 2 || size->valuedouble > CFG_FILE_MAX) {
		snprintf(err, errlen, "\"size\" must be 2..%d bytes", CFG_FILE_MAX);
		return NULL;
	}
	if (st && strcmp(st->sha256, sha) == 0 && st->size == (size_t)size->valuedouble)
		return offset_reply(st->got); /* a resumed push */
	fw_config_staging_free(fw);
	st = calloc(1, sizeof(*st));
	if (!st || !(st->data = malloc((size_t)size->valuedouble))) {
		free(st);
		return NULL;
	}
	snprintf(st->sha256, sizeof(st->sha256), "%s", sha);
	st->size = (size_t)size->valuedouble;
	fw->staging = st;
	return offset_reply(0);
}

static struct fw_staging *staged(struct fw *fw, const char *sha, char *err, size_t errlen)
{
	if (!fw->staging || strcmp(fw->staging->sha256, sha) != 0) {
		snprintf(err, errlen, "no push of that file in progress (config.push.begin first)");
		return NULL;
	}
	return fw->staging;
}

static cJSON *chunk(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(req, "offset");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(req, "data");
	const char *sha = sha_of(req, err, errlen);
	struct fw_staging *st = sha ? staged(fw, sha, err, errlen) : NULL;
	unsigned char *bytes;
	size_t len;
	int rc;

	if (!st)
		return NULL;
	if (!cJSON_IsNumber(off) || off->valuedouble != (double)st->got) {
		snprintf(err, errlen, "expected the chunk at offset %zu", st->got);
		return NULL;
	}
	if (!cJSON_IsString(data) || (rc = net_b64_decode(data->valuestring, &bytes, &len))) {
		snprintf(err, errlen, "\"data\" must be base64");
		return NULL;
	}
	if (len == 0 || len > st->size - st->got) {
		free(bytes);
		snprintf(err, errlen, "chunk of %zu bytes does not fit: %zu of %zu received", len,
			 st->got, st->size);
		return NULL;
	}
	memcpy(st->data + st->got, bytes, len);
	st->got += len;
	free(bytes);
	return offset_reply(st->got);
}

static void add_errors(cJSON *r, const char *key, const struct cfg_errors *e)
{
	cJSON *a = cJSON_AddArrayToObject(r, key);

	for (unsigned i = 0; i < e->n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "path", e->e[i].path);
		cJSON_AddStringToObject(o, "msg", e->e[i].msg);
		cJSON_AddItemToArray(a, o);
	}
}

/* What a reload does not apply (daemon.c fw_reload says the same). */
static bool same_name(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void add_restart_needed(const struct cfg *now, const struct cfg *next, cJSON *r)
{
	cJSON *a = cJSON_AddArrayToObject(r, "restart_needed");

	if (strcmp(now->store.path, next->store.path))
		cJSON_AddItemToArray(a, cJSON_CreateString("store.path"));
	if (strcmp(now->mqtt.host, next->mqtt.host) || now->mqtt.port != next->mqtt.port)
		cJSON_AddItemToArray(a, cJSON_CreateString("mqtt.host/port"));
	if (strcmp(now->gateway_id, next->gateway_id))
		cJSON_AddItemToArray(a, cJSON_CreateString("gateway_id"));
	if (strcmp(now->vault.key_file, next->vault.key_file))
		cJSON_AddItemToArray(a, cJSON_CreateString("vault.key_file"));
	if (!same_name(now->user, next->user) || !same_name(now->group, next->group))
		cJSON_AddItemToArray(a, cJSON_CreateString("user/group"));
}

/* Writes text as the config, keeping the running file as .prev. */
static int install(struct fw *fw, const void *text, size_t len, char *prev, size_t prevlen)
{
	struct stat st;
	char *old = NULL;
	size_t oldlen = 0;
	unsigned mode = 0640;
	int rc;

	snprintf(prev, prevlen, "%s.prev", fw->cfg_path);
	if (stat(fw->cfg_path, &st) == 0)
		mode = st.st_mode & 0777;
	rc = hal_file_read(fw->cfg_path, CFG_FILE_MAX, &old, &oldlen);
	if (rc == ERR_OK)
		rc = hal_file_write_atomic(prev, old, oldlen, mode);
	free(old);
	if (rc == ERR_OK)
		rc = hal_file_write_atomic(fw->cfg_path, text, len, mode);
	return rc;
}

static cJSON *apply(struct fw *fw, struct fw_staging *st, struct cfg *next, char *err,
		    size_t errlen)
{
	char prev[4200], why[300], *old = NULL;
	size_t oldlen = 0;
	cJSON *r;
	int rc;

	r = ok_obj();
	add_restart_needed(fw->cfg, next, r);
	rc = install(fw, st->data, st->size, prev, sizeof(prev));
	if (rc != ERR_OK) {
		cJSON_Delete(r);
		snprintf(err, errlen, "cannot write %s: %s; the running configuration is "
			 "untouched", fw->cfg_path, hal_strerror(rc));
		return NULL;
	}
	if (fw_reload(fw, why, sizeof(why)) != ERR_OK) {
		/* Roll back: the previous file, applied again. */
		if (hal_file_read(prev, CFG_FILE_MAX, &old, &oldlen) == ERR_OK)
			hal_file_write_atomic(fw->cfg_path, old, oldlen, 0640);
		free(old);
		fw_reload(fw, why, sizeof(why));
		cJSON_Delete(r);
		snprintf(err, errlen, "the new configuration did not start (%.150s); rolled back "
			 "to the previous one", why);
		return NULL;
	}
	cJSON_AddBoolToObject(r, "valid", true);
	cJSON_AddBoolToObject(r, "applied", true);
	cJSON_AddStringToObject(r, "previous", prev);
	log_info("config: pushed file applied (sha256 %.12s…), previous kept as %s", st->sha256,
		 prev);
	return r;
}

/* The running config's fleet key decides: without one nothing is asked;
 * with one, a push needs a valid signature. Returns "not required",
 * "valid", "missing" or "invalid" (why says more). */
static const char *signature(struct fw *fw, const struct fw_staging *st, const cJSON *req,
			     char *why, size_t whylen)
{
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(req, "signature");
	const char *key = fw->cfg->control.fleet_key;
	unsigned char *der = NULL;
	size_t len = 0;
	bool ok;

	if (!key)
		return "not required";
	if (!cJSON_IsString(sig) || !sig->valuestring[0]) {
		snprintf(why, whylen, "this gateway takes signed configs only (control.fleet_key): "
			 "sign the file with the fleet key");
		return "missing";
	}
	if (net_b64_decode(sig->valuestring, &der, &len) != ERR_OK) {
		snprintf(why, whylen, "\"signature\" must be base64");
		return "invalid";
	}
	ok = cfg_bundle_verify(key, st->data, st->size, der, len, why, whylen);
	free(der);
	return ok ? "valid" : "invalid";
}

static cJSON *commit(struct fw *fw, const cJSON *req, char *err, size_t errlen)
{
	bool dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "dry_run"));
	const char *sha = sha_of(req, err, errlen);
	struct fw_staging *st = sha ? staged(fw, sha, err, errlen) : NULL;
	struct cfg_errors errs = {0};
	struct cfg *next = NULL;
	char got[NET_SHA256_HEX], why[200] = "";
	const char *signed_;
	cJSON *r = NULL;

	if (!st)
		return NULL;
	if (st->got != st->size) {
		snprintf(err, errlen, "incomplete: %zu of %zu bytes received", st->got, st->size);
		return NULL;
	}
	net_sha256_hex(st->data, st->size, got);
	if (strcmp(got, st->sha256) != 0) {
		snprintf(err, errlen, "the file's SHA-256 is %.16s…, not the one announced: sent "
			 "again from the start", got);
		fw_config_staging_free(fw);
		return NULL;
	}
	signed_ = signature(fw, st, req, why, sizeof(why));
	if (!dry && strcmp(signed_, "valid") != 0 && strcmp(signed_, "not required") != 0) {
		snprintf(err, errlen, "refused: %s; the running configuration is untouched", why);
		log_warn("config: pushed file refused: signature %s", signed_);
		fw_config_staging_free(fw);
		return NULL;
	}
	if (cfg_parse((const char *)st->data, st->size, &next, &errs) != ERR_OK) {
		r = ok_obj();
		cJSON_AddBoolToObject(r, "valid", false);
		cJSON_AddBoolToObject(r, "applied", false);
		add_errors(r, "errors", &errs);
		log_warn("config: pushed file refused: %u error(s), first %s: %s", errs.n,
			 errs.n ? errs.e[0].path : "", errs.n ? errs.e[0].msg : "");
	} else if (next->control.fleet_key &&
		   !cfg_fleet_key_valid(next->control.fleet_key, why, sizeof(why))) {
		/* A key it cannot read would refuse every later push: refuse it now. */
		snprintf(err, errlen, "$.control.fleet_key: %s", why);
	} else if (dry || !fw->cfg_path) {
		r = ok_obj();
		cJSON_AddBoolToObject(r, "valid", true);
		cJSON_AddBoolToObject(r, "applied", false);
		add_restart_needed(fw->cfg, next, r);
	} else {
		r = apply(fw, st, next, err, errlen);
	}
	if (r && next)
		add_errors(r, "warnings", &next->warnings);
	if (r)
		cJSON_AddStringToObject(r, "signature", signed_);
	cfg_free(next);
	if (!dry || (r && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "valid"))))
		fw_config_staging_free(fw);
	return r;
}

cJSON *fw_cmd_config(struct fw *fw, const char *cmd, const cJSON *req, char *err,
		     size_t errlen)
{
	if (strcmp(cmd, "config.show") == 0)
		return show(fw, err, errlen);
	if (strcmp(cmd, "config.push.begin") == 0)
		return begin(fw, req, err, errlen);
	if (strcmp(cmd, "config.push.chunk") == 0)
		return chunk(fw, req, err, errlen);
	if (strcmp(cmd, "config.push.commit") == 0)
		return commit(fw, req, err, errlen);
	snprintf(err, errlen, "unknown command '%.40s' (known: config.show, config.push.begin, "
		 "config.push.chunk, config.push.commit)", cmd);
	return NULL;
}
