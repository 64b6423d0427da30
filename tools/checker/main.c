/*
 * main.c - outpost-check: did every published event reach the provider
 * exactly once, or end in the outbox with a reason?
 *
 * Reads outpost-pub's PUBACK logs, twilio-sim's record and the stopped
 * daemon's outbox, verifies the outbox's invariants, and prints one summary
 * line (and JSON with --json). Exit 0 PASS, 1 FAIL, 2 bad usage or input.
 * The rules are in ledger.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hal/log.h"
#include "hal/parse.h"
#include "store/outbox.h"
#include "tools/checker/check.h"

#define MAX_PUB_LOGS 64

static const char usage_text[] =
	"usage: outpost-check --pub-log FILE [--pub-log FILE...] --sim-record FILE\n"
	"                     --store DIR [--json] [--seed S] [--strict]\n"
	"\n"
	"Checks a run for zero loss: every event the broker acknowledged was sent\n"
	"to the provider, or ended in the outbox as failed, expired or rejected.\n"
	"Run it after outpostd and twilio-sim have stopped.\n"
	"\n"
	"  --pub-log FILE     outpost-pub --log output: <id> TAB <mid> TAB <ack_us> per\n"
	"                     PUBACK; repeat for several runs (publish order = file\n"
	"                     order, then line order)\n"
	"  --sim-record FILE  twilio-sim --record output; the event id of a message is\n"
	"                     its highest-numbered template variable; lines marked\n"
	"                     \"dropped\" count as sent (the sim took them, the answer\n"
	"                     was lost)\n"
	"  --store DIR        outpostd's store directory (its LMDB outbox); its\n"
	"                     invariants are verified too\n"
	"  --json             print the result as one JSON object on stdout (the\n"
	"                     human lines go to stderr)\n"
	"  --seed S           the run's fault seed, echoed in the result\n"
	"  --strict           also FAIL on a duplicated pair none of whose outbox\n"
	"                     records is flagged ambiguous (the daemon sent twice\n"
	"                     without knowing it)\n"
	"\n"
	"Counts, per (event id, recipient) unless said otherwise:\n"
	"  published   distinct event ids in the pub logs\n"
	"  delivered   pairs the sim accepted at least once\n"
	"  lost        published events with a pair neither delivered nor failed,\n"
	"              expired or rejected in the outbox, or found nowhere at all\n"
	"              (a \"bad-<i>\" id may match an id-less rejected record)\n"
	"  duplicated  deliveries beyond the first (per outbox record) of a pair\n"
	"  unexpected  deliveries of ids neither published nor stored, or to a\n"
	"              recipient the event has no record for\n"
	"  ambiguous   outbox records flagged ambiguous (may have been sent twice)\n"
	"  reordered   per recipient, consecutive deliveries in reverse publish\n"
	"              order (reported only)\n"
	"PASS iff lost = 0, unexpected = 0, duplicated <= ambiguous and the outbox\n"
	"has no invariant violation (with --strict: and no unflagged duplicate).\n"
	"\n"
	"Exit status: 0 PASS, 1 FAIL, 2 wrong usage or unreadable input.\n";

struct opts {
	const char *pub_logs[MAX_PUB_LOGS];
	unsigned n_pub_logs;
	const char *sim_record, *store;
	bool json, has_seed, strict;
	uint64_t seed;
};

enum { O_PUB = 256, O_SIM, O_STORE, O_JSON, O_SEED, O_STRICT, O_HELP };

static const struct option long_opts[] = {
	{"pub-log", required_argument, NULL, O_PUB},
	{"sim-record", required_argument, NULL, O_SIM},
	{"store", required_argument, NULL, O_STORE},
	{"json", no_argument, NULL, O_JSON},
	{"seed", required_argument, NULL, O_SEED},
	{"strict", no_argument, NULL, O_STRICT},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

static int usage_error(const char *what)
{
	fprintf(stderr, "outpost-check: %s (see --help)\n", what);
	return 2;
}

/* 0 to run, 1 after --help, 2 on a usage error. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case O_PUB:
			if (o->n_pub_logs >= MAX_PUB_LOGS)
				return usage_error("too many --pub-log files");
			o->pub_logs[o->n_pub_logs++] = optarg;
			break;
		case O_SIM: o->sim_record = optarg; break;
		case O_STORE: o->store = optarg; break;
		case O_JSON: o->json = true; break;
		case O_STRICT: o->strict = true; break;
		case O_SEED:
			if (!hal_parse_u64(optarg, 0, UINT64_MAX, &o->seed))
				return usage_error("--seed wants a decimal number");
			o->has_seed = true;
			break;
		case O_HELP:
		case 'h': fputs(usage_text, stdout); return 1;
		default: return 2;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument");
	if (!o->n_pub_logs || !o->sim_record || !o->store)
		return usage_error("--pub-log, --sim-record and --store are required");
	return 0;
}

static int read_inputs(struct ck_ledger *l, const struct opts *o)
{
	int err = 0;

	/* Pub logs first: the sim reader needs publish order (inputs.c). */
	for (unsigned i = 0; i < o->n_pub_logs && !err; i++)
		err = ck_read_pub_log(l, o->pub_logs[i]);
	if (!err)
		err = ck_read_sim_record(l, o->sim_record);
	if (!err)
		err = ck_read_outbox(l, o->store);
	return err;
}

/* Daemon counters kept in the store's meta DB, if it keeps any of these. */
static bool extras_of(const struct ck_ledger *l, const char *part, uint64_t *v)
{
	for (unsigned i = 0; i < l->verify.n_extras; i++)
		if (strstr(l->verify.extras[i].name, part)) {
			*v = l->verify.extras[i].value;
			return true;
		}
	return false;
}

/* " evt-7/+491701234567x2(ambiguous)" */
static void print_pair(FILE *f, const struct ck_ledger *l, uint32_t i)
{
	const struct ck_pair *p = ck_tab_val(&l->pairs, i);
	const char *key = ck_tab_key(&l->pairs, i, NULL); /* "id\0recipient" */

	fprintf(f, " %s/%s x%u%s", key, key + strlen(key) + 1, p->deliveries,
		p->ambiguous ? "" : "(not ambiguous)");
}

static void print_details(FILE *f, const struct ck_ledger *l, const struct ck_totals *t,
			  const struct opts *o)
{
	const struct store_verify_report *v = &l->verify;
	uint64_t n;

	fprintf(f, "checker: outbox %s: %" PRIu64 " records", o->store, l->records);
	for (int s = STORE_QUEUED; s < STORE__STATES; s++)
		if (l->states[s])
			fprintf(f, ", %s %" PRIu64, store_state_name(s), l->states[s]);
	fprintf(f, "; %" PRIu64 " without event id", l->idless);
	if (extras_of(l, "reconcil", &n))
		fprintf(f, "; reconciled %" PRIu64, n);
	if (extras_of(l, "resent", &n))
		fprintf(f, "; resent %" PRIu64, n);
	fprintf(f, "\nchecker: sim: %" PRIu64 " accepted (%" PRIu64 " with the answer dropped); "
		   "pub logs: %" PRIu64 " PUBACKs\n", l->sim_lines, l->sim_dropped, l->pub_lines);
	for (unsigned i = 0; i < v->n_notes; i++)
		fprintf(f, "checker: outbox invariant broken: %s\n", v->notes[i]);
	if (v->problems > v->n_notes)
		fprintf(f, "checker: ... and %" PRIu64 " more invariant problems\n",
			v->problems - v->n_notes);
	if (t->duplicated) {
		fprintf(f, "checker: duplicated (%" PRIu64 " of them to records not flagged "
			   "ambiguous), first pairs:", t->dup_plain);
		for (unsigned i = 0; i < t->n_dup_pairs; i++)
			print_pair(f, l, t->dup_pairs[i]);
		fputc('\n', f);
	}
	if (!t->lost)
		return;
	fprintf(f, "checker: lost (first %u of %" PRIu64 "):", t->n_lost_ids, t->lost);
	for (unsigned i = 0; i < t->n_lost_ids; i++)
		fprintf(f, " %s", ck_tab_key(&l->events, t->lost_ids[i], NULL));
	fputc('\n', f);
}

static void print_summary(FILE *f, const struct ck_ledger *l, const struct ck_totals *t,
			  const struct opts *o)
{
	if (o->has_seed)
		fprintf(f, "checker: seed %" PRIu64, o->seed);
	else
		fprintf(f, "checker: seed -");
	fprintf(f, " published %" PRIu64 " delivered %" PRIu64 " lost %" PRIu64
		   " duplicated %" PRIu64 " unexpected %" PRIu64 " ambiguous %" PRIu64
		   " reordered %" PRIu64,
		t->published, t->delivered, t->lost, t->duplicated, t->unexpected, t->ambiguous,
		t->reordered);
	if (t->dup_plain)
		fprintf(f, " (unflagged %" PRIu64 ")", t->dup_plain);
	if (t->coalesced)
		fprintf(f, " coalesced %" PRIu64, t->coalesced);
	if (l->verify.problems || l->walk_failed || !l->verified)
		fprintf(f, " store-problems %" PRIu64 "%s", l->verify.problems,
			l->walk_failed || !l->verified ? " (walk incomplete)" : "");
	fprintf(f, " -> %s\n", t->pass ? "PASS" : "FAIL");
}

static void json_counts(cJSON *o, const struct ck_ledger *l, const struct ck_totals *t)
{
	cJSON *states = cJSON_AddObjectToObject(o, "states");
	uint64_t n;

	cJSON_AddNumberToObject(o, "published", (double)t->published);
	cJSON_AddNumberToObject(o, "delivered", (double)t->delivered);
	cJSON_AddNumberToObject(o, "lost", (double)t->lost);
	cJSON_AddNumberToObject(o, "duplicated", (double)t->duplicated);
	cJSON_AddNumberToObject(o, "duplicated_unflagged", (double)t->dup_plain);
	cJSON_AddNumberToObject(o, "unexpected", (double)t->unexpected);
	cJSON_AddNumberToObject(o, "ambiguous", (double)t->ambiguous);
	cJSON_AddNumberToObject(o, "reordered", (double)t->reordered);
	cJSON_AddNumberToObject(o, "bad_without_id", (double)t->absorbed);
	cJSON_AddNumberToObject(o, "coalesced", (double)t->coalesced);
	cJSON_AddNumberToObject(o, "records", (double)l->records);
	cJSON_AddNumberToObject(o, "records_without_id", (double)l->idless);
	cJSON_AddNumberToObject(o, "unfinished", (double)l->unfinished);
	cJSON_AddNumberToObject(o, "sim_accepted", (double)l->sim_lines);
	cJSON_AddNumberToObject(o, "sim_dropped", (double)l->sim_dropped);
	cJSON_AddNumberToObject(o, "pubacks", (double)l->pub_lines);
	for (int s = STORE_QUEUED; s < STORE__STATES && states; s++)
		cJSON_AddNumberToObject(states, store_state_name(s), (double)l->states[s]);
	if (extras_of(l, "reconcil", &n))
		cJSON_AddNumberToObject(o, "reconciled", (double)n);
	if (extras_of(l, "resent", &n))
		cJSON_AddNumberToObject(o, "resent", (double)n);
}

static void print_json(const struct ck_ledger *l, const struct ck_totals *t, const struct opts *o)
{
	cJSON *root = cJSON_CreateObject(), *ids, *notes;
	char *text;

	if (!root)
		return;
	cJSON_AddStringToObject(root, "verdict", t->pass ? "PASS" : "FAIL");
	if (o->has_seed)
		cJSON_AddNumberToObject(root, "seed", (double)o->seed);
	else
		cJSON_AddNullToObject(root, "seed");
	json_counts(root, l, t);
	ids = cJSON_AddArrayToObject(root, "lost_ids");
	for (unsigned i = 0; ids && i < t->n_lost_ids; i++)
		cJSON_AddItemToArray(ids,
				     cJSON_CreateString(ck_tab_key(&l->events, t->lost_ids[i], NULL)));
	cJSON_AddNumberToObject(root, "store_problems", (double)l->verify.problems);
	cJSON_AddBoolToObject(root, "store_walk_complete", l->verified && !l->walk_failed);
	notes = cJSON_AddArrayToObject(root, "store_notes");
	for (unsigned i = 0; notes && i < l->verify.n_notes; i++)
		cJSON_AddItemToArray(notes, cJSON_CreateString(l->verify.notes[i]));
	text = cJSON_PrintUnformatted(root);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

int main(int argc, char **argv)
{
	static struct ck_ledger l;
	struct opts o = {0};
	struct ck_totals t;
	FILE *human;
	int rc;

	hal_log_open("outpost-check", false, LOG_WARNING);
	rc = parse_args(&o, argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	ck_ledger_init(&l);
	rc = read_inputs(&l, &o);
	if (rc == 0) {
		ck_judge(&l, &t);
		if (o.strict && t.dup_plain)
			t.pass = false;
		human = o.json ? stderr : stdout;
		print_details(human, &l, &t, &o);
		print_summary(human, &l, &t, &o);
		if (o.json)
			print_json(&l, &t, &o);
		rc = t.pass ? 0 : 1;
	}
	ck_ledger_free(&l);
	return rc;
}
