/*
 * status.c - `outpostctl status`: one screen that tells a technician whether
 * the gateway is doing its job, and if not, which part is stuck.
 *
 * States that need attention are written in capitals (NOT CONNECTED, PAUSED,
 * NOT VALID) so they stand out on a monochrome serial console.
 */
#include <stdio.h>
#include <string.h>

#include "tools/outpostctl/octl.h"

#define LABEL_W 11 /* "counters:  " */
#define INDENT "           "
/* Error texts are cut here when stdout is not a terminal. */
#define TEXT_COLS 100

static void label(const char *name)
{
	printf("%-*s", LABEL_W, name);
}

/* The value of key as text, or "?" so that a missing field shows. */
static void put_str(const cJSON *obj, const char *key)
{
	const char *s = octl_str(obj, key);

	octl_put_text(stdout, s ? s : "?", 60, 0);
}

/* before, the integer at key (or "?"), after. */
static void put_int(const char *before, const cJSON *obj, const char *key, const char *after)
{
	double v;
	char num[32] = "?";

	if (octl_num(obj, key, &v))
		snprintf(num, sizeof(num), "%.0f", v);
	printf("%s%s%s", before, num, after);
}

static void show_head(const cJSON *r)
{
	double up;
	char buf[32] = "?";

	label("outpostd:");
	put_str(r, "version");
	fputs(" on ", stdout);
	put_str(r, "gateway_id");
	if (octl_num(r, "uptime_s", &up))
		octl_fmt_duration(buf, sizeof(buf), up, false);
	printf(", up %s\n", buf);
}

static void show_mqtt(const cJSON *m)
{
	const cJSON *conn = cJSON_GetObjectItemCaseSensitive(m, "connected");
	const char *ingest = octl_str(m, "ingest");

	if (!cJSON_IsObject(m))
		return;
	label("mqtt:");
	fputs(cJSON_IsTrue(conn) ? "connected to " : cJSON_IsFalse(conn) ? "NOT CONNECTED to " : "? ",
	      stdout);
	put_str(m, "broker");
	put_int(", ", m, "reconnects", " reconnects");
	put_int(", ", m, "sessions_new", " new sessions");
	if (ingest && strcmp(ingest, "paused") == 0) {
		const char *why = octl_str(m, "ingest_reason");

		fputs(", ingest PAUSED: ", stdout);
		octl_put_text(stdout, why && *why ? why : "?", 100, 0);
	} else {
		fputs(", ingest ", stdout);
		octl_put_text(stdout, ingest ? ingest : "?", 60, 0);
	}
	fputc('\n', stdout);
}

static void show_uplink(const cJSON *u)
{
	const char *state = octl_str(u, "state"), *why = octl_str(u, "last_failure");
	double ok = -1, bad = -1;
	char a[32], b[32];

	if (!u)
		return;
	label("uplink:");
	octl_num(u, "last_answer_ago_s", &ok);
	octl_num(u, "last_failure_ago_s", &bad);
	octl_fmt_duration(a, sizeof(a), ok, false);
	octl_fmt_duration(b, sizeof(b), bad, false);
	if (state && strcmp(state, "up") == 0) {
		printf("up, the provider answered %s ago\n", a);
	} else if (state && strcmp(state, "down") == 0) {
		printf("DOWN for %s: ", b);
		octl_put_text(stdout, why ? why : "?", 60, 0);
		printf(ok >= 0 ? " (last answer %s ago)\n" : "\n", a);
	} else {
		puts("unknown: nothing sent yet (outpostctl test-connection tries it)");
	}
}

static void show_clock(const cJSON *c)
{
	const cJSON *valid = cJSON_GetObjectItemCaseSensitive(c, "valid");
	const char *reason = octl_str(c, "reason");

	if (!cJSON_IsObject(c))
		return;
	label("clock:");
	if (cJSON_IsTrue(valid))
		fputs("valid", stdout);
	else if (cJSON_IsFalse(valid))
		fputs("NOT VALID - sending is held until it is", stdout);
	else
		fputs("?", stdout);
	if (reason && *reason) {
		fputs(" (", stdout);
		octl_put_text(stdout, reason, 60, 0);
		fputc(')', stdout);
	}
	fputc('\n', stdout);
}

static void show_store(const cJSON *s)
{
	double used, map, room;
	char ub[32] = "?", mb[32] = "?", rb[32];
	bool have_used = octl_num(s, "used_bytes", &used);
	bool have_map = octl_num(s, "max_bytes", &map) || octl_num(s, "map_bytes", &map);

	if (!cJSON_IsObject(s))
		return;
	label("store:");
	put_str(s, "path");
	if (have_used)
		octl_fmt_bytes(ub, sizeof(ub), used);
	if (have_map)
		octl_fmt_bytes(mb, sizeof(mb), map);
	printf(", %s used of %s", ub, mb);
	if (have_used && have_map && map > 0)
		printf(" (%.0f%%)", used * 100 / map);
	if (octl_num(s, "room_bytes", &room)) {
		octl_fmt_bytes(rb, sizeof(rb), room);
		printf(", room for %s more", rb);
	}
	fputc('\n', stdout);
}

static void show_outbox(const cJSON *o)
{
	if (!cJSON_IsObject(o))
		return;
	label("outbox:");
	octl_put_counts(stdout, o, INDENT);
}

static size_t name_width(const cJSON *accounts)
{
	const cJSON *a;
	size_t w = 4, n;

	cJSON_ArrayForEach(a, accounts) {
		n = octl_text_cols(octl_str(a, "name"));
		if (n > w)
			w = n;
	}
	return w > 16 ? 16 : w;
}

/* Only what is worth a look: an open circuit, or failovers so far. */
static void show_circuit(const cJSON *c)
{
	const char *state = octl_str(c, "state"), *fb = octl_str(c, "fallback");
	double failovers = 0, secs;

	octl_num(c, "failovers", &failovers);
	if (!state || (strcmp(state, "closed") == 0 && failovers == 0))
		return;
	if (strcmp(state, "open") == 0 && octl_num(c, "open_for_s", &secs))
		printf(", circuit OPEN %gs", secs);
	else if (strcmp(state, "closed") != 0)
		printf(", circuit %s", state);
	if (fb)
		printf(", %g failed over to %s", failovers, fb);
	put_int(", failbacks ", c, "failbacks", "");
}

static void show_account(const cJSON *a, size_t w)
{
	const char *state = octl_str(a, "state");
	const char *reason = octl_str(a, "reason");
	const char *limited_by = octl_str(a, "limited_by");
	double rate, n;

	label("account:");
	octl_put_text(stdout, octl_str(a, "name") ? octl_str(a, "name") : "?", w, w + 2);
	octl_put_text(stdout, octl_str(a, "provider") ? octl_str(a, "provider") : "?", 10, 10);
	if (!state)
		fputs("?     ", stdout);
	else if (strcmp(state, "ok") == 0)
		fputs("ok    ", stdout);
	else if (strcmp(state, "paused") == 0)
		fputs("PAUSED", stdout);
	else
		octl_put_text(stdout, state, 12, 6);
	put_int("  sent ", a, "sent", "");
	put_int(", failed ", a, "failed", "");
	if (octl_num(a, "rate_per_s", &rate))
		printf(", %g/s", rate);
	show_circuit(cJSON_GetObjectItemCaseSensitive(a, "circuit"));
	if (octl_num(a, "held_for_link", &n) && n > 0)
		printf(", %.0f wait for it to answer", n);
	if (octl_num(a, "draining", &n) && n > 0)
		printf(", draining %.0f after an outage", n);
	if (limited_by && strcmp(limited_by, "sender.max_inflight") == 0 &&
	    octl_num(a, "max_inflight", &n))
		printf(", in flight capped at %.0f by sender.max_inflight", n);
	if (reason && *reason) {
		fputs("  ", stdout);
		octl_put_text(stdout, reason, 60, 0);
	}
	fputc('\n', stdout);
}

static void show_accounts(const cJSON *accounts)
{
	const cJSON *a;
	size_t w;

	if (!cJSON_IsArray(accounts))
		return;
	if (cJSON_GetArraySize(accounts) == 0) {
		label("accounts:");
		fputs("none configured\n", stdout);
		return;
	}
	w = name_width(accounts);
	cJSON_ArrayForEach(a, accounts)
		show_account(a, w);
}

/* One line per account: its last template approval sync. */
static void show_templates(const cJSON *t)
{
	const cJSON *a;
	double ago, held = 0;

	if (!cJSON_IsObject(t))
		return;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(t, "accounts")) {
		const char *sync = octl_str(a, "sync"), *res = octl_str(a, "result");
		char buf[32] = "never";

		label("templates:");
		octl_put_text(stdout, octl_str(a, "account") ? octl_str(a, "account") : "?", 24, 0);
		if (octl_num(a, "last_ok_ago_s", &ago) && ago >= 0)
			octl_fmt_duration(buf, sizeof(buf), ago, false);
		printf(": sync %s, last ok %s%s", sync && strcmp(sync, "failed") == 0 ? "FAILED" :
		       sync ? sync : "?", buf, strcmp(buf, "never") ? " ago" : "");
		if (res && *res) {
			fputs(": ", stdout);
			octl_put_text(stdout, res, 80, 0);
		}
		fputc('\n', stdout);
	}
	if (octl_num(t, "held", &held) && held > 0) {
		label("");
		put_int("", t, "held", " holds of messages for unapproved templates");
		put_int(", ", t, "failed", " failed");
		put_int(", ", t, "changes", " status changes (outpostctl templates list)\n");
	}
}

static void show_counters(const cJSON *c)
{
	if (!cJSON_IsObject(c))
		return;
	label("counters:");
	octl_put_counts(stdout, c, INDENT);
}

static void show_errors(const cJSON *errors)
{
	const cJSON *e;
	size_t cols = octl_term_cols();
	double ago;
	char dur[32], when[40];
	bool first = true;

	if (!cJSON_IsArray(errors))
		return;
	label("errors:");
	if (cJSON_GetArraySize(errors) == 0)
		fputs("none\n", stdout);
	cJSON_ArrayForEach(e, errors) {
		if (!first)
			fputs(INDENT, stdout);
		first = false;
		snprintf(dur, sizeof(dur), "?");
		if (octl_num(e, "ago_s", &ago))
			octl_fmt_duration(dur, sizeof(dur), ago, false);
		snprintf(when, sizeof(when), "%s ago", dur);
		/* Padded so that the texts line up for ages up to "23 h 59 min". */
		printf("%-15s  ", when);
		octl_put_text(stdout, octl_str(e, "text") ? octl_str(e, "text") : "?",
			      cols > LABEL_W + 40 ? cols - LABEL_W - 18 : TEXT_COLS, 0);
		fputc('\n', stdout);
	}
}

/* One source's last gap: "dev-7: seq 4..5 missing, 3 min ago (outbox #812)". */
static void show_gap(const cJSON *g)
{
	const char *name = octl_str(g, "source");
	char dur[32];
	double ago;

	fputs(INDENT, stdout);
	octl_put_text(stdout, name ? name : "?", 48, 0);
	put_int(": seq ", g, "from", "");
	put_int("..", g, "to", " missing");
	if (octl_num(g, "ago_s", &ago)) {
		octl_fmt_duration(dur, sizeof(dur), ago, false);
		printf(", %s ago", dur);
	} else {
		fputs(", time unknown", stdout);
	}
	put_int(" (outbox #", g, "record", ")");
	put_int("; in all: gaps ", g, "gaps", "");
	put_int(", missing ", g, "missed", "\n");
}

/* Publisher sequence numbers: totals, then the sources with the most
 * recent gaps. GAPS and NOT TRACKED need attention. */
static void show_sources(const cJSON *s)
{
	const cJSON *g;
	double tracked = 0, untracked = 0, gaps = 0;

	if (!cJSON_IsObject(s))
		return;
	label("sources:");
	if (octl_str(s, "error")) {
		fputs("? (", stdout);
		octl_put_text(stdout, octl_str(s, "error"), 60, 0);
		fputs(")\n", stdout);
		return;
	}
	octl_num(s, "tracked", &tracked);
	octl_num(s, "untracked", &untracked);
	if (tracked == 0 && untracked == 0) {
		fputs("none sends a sequence number (\"seq\")\n", stdout);
		return;
	}
	put_int("", s, "tracked", " with a sequence number: ");
	if (octl_num(s, "gaps", &gaps) && gaps > 0)
		put_int("GAPS ", s, "gaps", "");
	else
		put_int("gaps ", s, "gaps", "");
	put_int(" (", s, "missed", " events missing)");
	put_int(", resets ", s, "resets", "");
	put_int(", out of order ", s, "out_of_order", "");
	put_int(", bad seq ", s, "bad_seq", "");
	if (untracked > 0)
		put_int(", NOT TRACKED ", s, "untracked", "");
	fputc('\n', stdout);
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(s, "recent_gaps"))
		show_gap(g);
}

/* The vault, and the control lines beyond the socket. */
static void show_control(const cJSON *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "vault");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "remote");
	const cJSON *se = cJSON_GetObjectItemCaseSensitive(r, "serial");
	const char *state = octl_str(v, "state"), *reason = octl_str(v, "reason");

	label("vault:");
	if (state && strcmp(state, "open") == 0) {
		put_int("open, ", v, "entries", " credentials entries\n");
	} else {
		fputs("SEALED: ", stdout);
		octl_put_text(stdout, reason ? reason : "?", 0, 0);
		putchar('\n');
	}
	label("control:");
	fputs("socket", stdout);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(se, "device"))) {
		fputs("; serial ", stdout);
		put_str(se, "device");
		fputs(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(se, "connected")) ? " up" :
		      " DOWN", stdout);
		put_int(", bad frames ", se, "bad_frames", "");
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "enabled"))) {
		fputs("; mqtt ", stdout);
		put_str(m, "topic");
		put_int(", ", m, "accepted", " accepted");
		put_int(", ", m, "refused", " refused");
	}
	putchar('\n');
}

static cJSON *status_request(const struct octl_opts *o)
{
	cJSON *req = cJSON_CreateObject();

	(void)o;
	if (req && !cJSON_AddStringToObject(req, "cmd", "status")) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static void status_show(const struct octl_opts *o, const cJSON *r)
{
	(void)o;
	show_head(r);
	show_mqtt(cJSON_GetObjectItemCaseSensitive(r, "mqtt"));
	show_uplink(cJSON_GetObjectItemCaseSensitive(r, "uplink"));
	show_clock(cJSON_GetObjectItemCaseSensitive(r, "clock"));
	show_store(cJSON_GetObjectItemCaseSensitive(r, "store"));
	show_outbox(cJSON_GetObjectItemCaseSensitive(r, "outbox"));
	show_accounts(cJSON_GetObjectItemCaseSensitive(r, "accounts"));
	show_templates(cJSON_GetObjectItemCaseSensitive(r, "templates"));
	show_counters(cJSON_GetObjectItemCaseSensitive(r, "counters"));
	show_errors(cJSON_GetObjectItemCaseSensitive(r, "last_errors"));
	show_sources(cJSON_GetObjectItemCaseSensitive(r, "sources"));
	octl_show_consent(cJSON_GetObjectItemCaseSensitive(r, "consent"), INDENT);
	show_control(r);
}

const struct octl_cmd octl_cmd_status = {
	.name = "status",
	.summary = "is the gateway working? MQTT link, clock, store, outbox, accounts",
	.help =
		"Usage: outpostctl status [--json]\n"
		"\n"
		"Shows in one screen whether outpostd is doing its job:\n"
		"  outpostd  version, gateway id and how long it has been running\n"
		"  mqtt      link to the site broker; \"ingest PAUSED\" means outpostd has\n"
		"            stopped taking events (the broker keeps them meanwhile),\n"
		"            with the reason: store or disk full; it resumes by itself\n"
		"  uplink    the way to the provider: up (it answered), DOWN with the last\n"
		"            failure (no route, DNS, TLS, timeout), or unknown\n"
		"  clock     sending waits until the gateway clock is valid (NTP or RTC)\n"
		"  store     where the outbox lives, how full it is of store.max_size_mb,\n"
		"            and the room left (less when the disk is nearly full)\n"
		"  outbox    how many messages are in each state, non-zero first\n"
		"  account   one line per provider account; PAUSED and its reason mean\n"
		"            messages wait (e.g. wrong credentials: fix and reload)\n"
		"  templates per account, the last sync of WhatsApp template approvals\n"
		"            with the provider: ok, or FAILED and why (outpostctl templates)\n"
		"  counters  events received, acknowledged, duplicates, retries\n"
		"  errors    the last errors, newest first\n"
		"  sources   for events that carry a publisher sequence number (\"seq\"):\n"
		"            sources tracked; GAPS = events the numbers skipped, which\n"
		"            never reached outpostd (lost by the broker or the device,\n"
		"            or unreadable); resets = a device counting again from 0/1;\n"
		"            then the sources with the most recent gaps, newest first.\n"
		"            NOT TRACKED: events whose source could not be kept (log)\n"
		"  consent   the recipient ledger and inbound messages: numbers known,\n"
		"            messages suppressed (opted out / not opted in), free-form\n"
		"            texts and fallback templates, inbound messages and polls\n"
		"  vault     the credentials vault: open with N entries, or SEALED and why\n"
		"            (a missing or wrong device key: accounts pause, events wait)\n"
		"  control   the lines outpostctl can use: socket, serial (up/DOWN, damaged\n"
		"            frames), mqtt (signed commands accepted and refused)\n"
		"\n"
		"Words in capitals need attention. --json prints the daemon's answer as\n"
		"it is, for scripts.\n",
	.opts = 0,
	.request = status_request,
	.show = status_show,
};
