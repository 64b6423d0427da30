/*
 * main.c - outpost-pub: publishes numbered test events to the site broker at
 * QoS 1, at a steady rate or as fast as the broker takes them, and waits for
 * every PUBACK. Used by the end-to-end tests, the demo and the benchmarks;
 * --log records which event got which acknowledgement when, for the
 * zero-loss checker.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "hal/parse.h"
#include "tools/loadgen/pub.h"

#define MAX_TOPICS 16
/* Under the 65535 message ids of MQTT, so an id is never reused while its
 * message still waits for its PUBACK. */
#define MAX_INFLIGHT 65000
#define CONNECT_TIMEOUT_MS 10000
#define DRAIN_TIMEOUT_US (60ull * 1000000)
#define PROGRESS_US (5ull * 1000000)

struct opts {
	const char *host;
	int port;
	uint64_t count, start;
	double rate;
	const char *topics[MAX_TOPICS];
	unsigned ntopics;
	enum pub_kind kind;
	const char *prefix;
	const char *log;
	uint64_t bad_every;
	unsigned max_inflight;
	bool quiet;
	bool seq;            /* --seq: events carry a per-source "seq" */
	uint64_t seq_start;  /* --seq-start: each source's first number */
	const char *source;  /* --source: events carry "source"; NULL: none */
};

static volatile sig_atomic_t stop;

static void on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

static void usage(FILE *f)
{
	fputs("Usage: outpost-pub [OPTIONS]\n"
	      "\n"
	      "Publishes numbered JSON test events at QoS 1 and waits for every PUBACK.\n"
	      "\n"
	      "  -h HOST            broker host (default 127.0.0.1)\n"
	      "  -p PORT            broker port (default 1883)\n"
	      "  -n COUNT           events to publish (default 100)\n"
	      "  -r RATE            events per second; 0 = as fast as the broker takes\n"
	      "                     them (default 0)\n"
	      "  -t TOPIC           topic; repeat for several, used in turn (default by\n"
	      "                     kind: site/1/payments/card, site/1/tickets/issued,\n"
	      "                     site/1/alerts/door)\n"
	      "  --kind KIND        payment, ticket, alert or mixed (default payment)\n"
	      "  --id-prefix P      event ids are P-<i> (default evt; at most 24 bytes)\n"
	      "  --start K          first i (default 1)\n"
	      "  --bad-every K      every K-th event is a bad one, in turn: malformed JSON,\n"
	      "                     no id, invalid phone, newline in a variable, over\n"
	      "                     64 KiB, binary garbage; ids bad-<i> (default 0: none)\n"
	      "  --max-inflight N   at most N publishes waiting for a PUBACK (default 100)\n"
	      "  --seq              each event carries \"seq\", numbered per source: 1, 2, ...\n"
	      "                     The source is the topic, or --source. Events that\n"
	      "                     are not JSON objects (--bad-every) use up their\n"
	      "                     number too, as a device's would\n"
	      "  --seq-start K      each source's first number (default 1), so that a\n"
	      "                     second run goes on where the first stopped; implies --seq\n"
	      "  --source NAME      each event carries \"source\": NAME (letters, digits,\n"
	      "                     -_.:/, at most 64): one sequence over all topics;\n"
	      "                     implies --seq\n"
	      "  --log FILE         one line per PUBACK: <id> TAB <mid> TAB <ack_mono_us>\n"
	      "  --quiet            no progress or summary lines, only errors\n"
	      "  --help             this help\n"
	      "\n"
	      "Exit status 0 when every event was acknowledged; 1 on a failure, after\n"
	      "60 s without all PUBACKs, or when interrupted; 2 on wrong usage.\n",
	      f);
}

static bool parse_kind(const char *s, enum pub_kind *k)
{
	static const char *const names[] = {"payment", "ticket", "alert", "mixed"};
	unsigned i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*k = (enum pub_kind)i;
			return true;
		}
	}
	return false;
}

enum { O_KIND = 256, O_PREFIX, O_START, O_LOG, O_BAD, O_INFLIGHT, O_QUIET, O_HELP,
       O_SEQ, O_SEQ_START, O_SOURCE };

static const struct option long_opts[] = {
	{"kind", required_argument, NULL, O_KIND},
	{"id-prefix", required_argument, NULL, O_PREFIX},
	{"start", required_argument, NULL, O_START},
	{"log", required_argument, NULL, O_LOG},
	{"bad-every", required_argument, NULL, O_BAD},
	{"max-inflight", required_argument, NULL, O_INFLIGHT},
	{"quiet", no_argument, NULL, O_QUIET},
	{"help", no_argument, NULL, O_HELP},
	{"seq", no_argument, NULL, O_SEQ},
	{"seq-start", required_argument, NULL, O_SEQ_START},
	{"source", required_argument, NULL, O_SOURCE},
	{NULL, 0, NULL, 0},
};

/* A source name that goes into the JSON as it is: no escaping needed. */
static bool source_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= PUB_SOURCE_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/") == n;
}

/* Handles one option; returns false after saying what is wrong. */
static bool take_opt(int c, struct opts *o)
{
	uint64_t v = 0;
	bool ok = true;

	switch (c) {
	case 'h': o->host = optarg; break;
	case 'p': ok = hal_parse_u64(optarg, 1, 65535, &v); o->port = (int)v; break;
	case 'n': ok = hal_parse_u64(optarg, 0, UINT64_MAX / 2, &o->count); break;
	case 'r': ok = hal_parse_double(optarg, 0, 1e6, &o->rate); break;
	case O_KIND: ok = parse_kind(optarg, &o->kind); break;
	case O_PREFIX: ok = *optarg && strlen(optarg) <= PUB_PREFIX_MAX; o->prefix = optarg; break;
	case O_START: ok = hal_parse_u64(optarg, 0, UINT64_MAX / 2, &o->start); break;
	case O_LOG: o->log = optarg; break;
	case O_BAD: ok = hal_parse_u64(optarg, 0, UINT64_MAX, &o->bad_every); break;
	case O_INFLIGHT:
		ok = hal_parse_u64(optarg, 1, MAX_INFLIGHT, &v);
		o->max_inflight = (unsigned)v;
		break;
	case O_QUIET: o->quiet = true; break;
	case O_SEQ: o->seq = true; break;
	case O_SEQ_START:
		ok = hal_parse_u64(optarg, 0, 9007199254740991, &o->seq_start);
		o->seq = true;
		break;
	case O_SOURCE: ok = source_ok(optarg); o->source = optarg; o->seq = true; break;
	case 't':
		ok = o->ntopics < MAX_TOPICS && *optarg;
		if (ok)
			o->topics[o->ntopics++] = optarg;
		break;
	default: return false;
	}
	if (!ok)
		fprintf(stderr, "outpost-pub: bad value '%s' for -%c%s (see --help)\n", optarg,
			c < 256 ? c : '-', c < 256 ? "" : long_opts[c - O_KIND].name);
	return ok;
}

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h:p:n:r:t:", long_opts, NULL)) != -1) {
		if (c == O_HELP) {
			usage(stdout);
			return 0;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "outpost-pub: %s '%s' (see --help)\n",
				c == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
			return 2;
		}
		if (!take_opt(c, o))
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "outpost-pub: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* Sleeps until event n is due: n / rate seconds after t0, on the monotonic
 * clock, so that a slow publish is caught up instead of drifting. */
static void pace(uint64_t t0_us, uint64_t n, double rate)
{
	uint64_t due;
	struct timespec ts;

	if (rate <= 0)
		return;
	due = t0_us + (uint64_t)((double)n * 1e6 / rate);
	ts.tv_sec = (time_t)(due / 1000000);
	ts.tv_nsec = (long)(due % 1000000) * 1000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
		;
}

/* The n-th event of the run (0-based) is bad when n + 1 is a multiple of
 * K; the bad ones cycle through the kinds of badness. */
static enum pub_bad bad_of(const struct opts *o, uint64_t n)
{
	uint64_t k = o->bad_every;

	if (k == 0 || (n + 1) % k != 0)
		return PUB_GOOD;
	return (enum pub_bad)(1 + ((n + 1) / k - 1) % (PUB_BAD__N - 1));
}

static void progress(const struct opts *o, struct pub_link *l, uint64_t *next_us)
{
	struct pub_link_stats st;
	uint64_t now = pub_mono_us();

	if (o->quiet || now < *next_us)
		return;
	*next_us = now + PROGRESS_US;
	pub_link_stats(l, &st);
	fprintf(stderr, "outpost-pub: %llu published, %llu acked, %u waiting\n",
		(unsigned long long)st.published, (unsigned long long)st.acked, st.inflight);
}

/* --seq: the next number of each source. There are at most as many
 * sources as topics: the -t ones, or the three of the kinds. */
struct seqs {
	const char *name[MAX_TOPICS + 3];
	uint64_t next[MAX_TOPICS + 3];
	unsigned n;
};

static uint64_t seq_take(struct seqs *s, const struct opts *o, const char *topic)
{
	const char *name = o->source ? o->source : topic;
	unsigned i;

	for (i = 0; i < s->n && strcmp(s->name[i], name) != 0; i++)
		;
	if (i == s->n && s->n < MAX_TOPICS + 3) {
		s->name[s->n] = name;
		s->next[s->n++] = o->seq_start;
	}
	return i < s->n ? s->next[i]++ : 0;
}

/* Adds --seq and --source to an event that is a JSON object. */
static bool add_seq(const struct opts *o, struct seqs *seqs, const char *topic, enum pub_bad bad,
		    char *buf, struct pub_event *ev)
{
	uint64_t seq;

	if (!o->seq)
		return true;
	seq = seq_take(seqs, o, topic);
	if (bad == PUB_BAD_JSON || bad == PUB_BAD_BINARY)
		return true;
	return pub_event_add_seq(buf, ev, seq, o->source);
}

/* Publishes the run; returns false on a hard failure (reported). */
static bool publish_all(const struct opts *o, struct pub_link *l, char *buf, uint64_t t0)
{
	uint64_t n, i, next_progress = t0 + PROGRESS_US;
	struct seqs seqs = {.n = 0};
	enum pub_bad bad;
	struct pub_event ev;
	enum pub_kind kind;
	const char *topic;
	char why[256];

	for (n = 0; n < o->count && !stop; n++) {
		i = o->start + n;
		pace(t0, n, o->rate);
		kind = pub_event_kind(o->kind, i);
		topic = o->ntopics ? o->topics[n % o->ntopics] : pub_kind_topic(kind);
		bad = bad_of(o, n);
		if (!pub_event_build(buf, kind, bad, o->prefix, i, &ev) ||
		    !add_seq(o, &seqs, topic, bad, buf, &ev)) {
			fprintf(stderr, "outpost-pub: event %llu does not fit its buffer\n",
				(unsigned long long)i);
			return false;
		}
		if (!pub_link_publish(l, topic, buf, ev.len, ev.id, &stop, why, sizeof(why))) {
			fprintf(stderr, "outpost-pub: %s\n", why);
			return false;
		}
		progress(o, l, &next_progress);
	}
	return true;
}

/* Waits for the last PUBACKs and says how the run went; returns the exit code. */
static int finish(const struct opts *o, struct pub_link *l, uint64_t t0, bool published_ok)
{
	struct pub_link_stats st;
	bool drained = pub_link_drain(l, pub_mono_us() + DRAIN_TIMEOUT_US);
	double secs;

	pub_link_stats(l, &st);
	if (!drained) {
		fprintf(stderr, "outpost-pub: %llu of %llu publishes not acknowledged after 60 s\n",
			(unsigned long long)(st.published - st.acked),
			(unsigned long long)st.published);
		return 1;
	}
	secs = (double)((st.acked ? st.last_ack_us : pub_mono_us()) - t0) / 1e6;
	if (!o->quiet)
		printf("outpost-pub: published %llu acked %llu in %.3f s (%.0f events/s), "
		       "%u reconnects\n",
		       (unsigned long long)st.published, (unsigned long long)st.acked, secs,
		       secs > 0 ? (double)st.acked / secs : 0.0, st.reconnects);
	if (stop) {
		fprintf(stderr, "outpost-pub: interrupted after %llu of %llu events\n",
			(unsigned long long)st.published, (unsigned long long)o->count);
		return 1;
	}
	return published_ok ? 0 : 1;
}

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	/* The first Ctrl-C stops publishing and waits for the PUBACKs still
	 * due; a second one ends the program the usual way. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	struct opts o = {.host = "127.0.0.1", .port = 1883, .count = 100, .start = 1,
			 .kind = PUB_PAYMENT, .prefix = "evt", .max_inflight = 100, .seq_start = 1};
	struct pub_link *l = NULL;
	FILE *log = NULL;
	char *buf = NULL, why[256];
	uint64_t t0;
	int ex;

	ex = parse_args(argc, argv, &o);
	if (ex >= 0)
		return ex;
	ex = 1;
	mosquitto_lib_init();
	buf = malloc(PUB_PAYLOAD_MAX);
	if (!buf)
		goto out;
	if (o.log && !(log = fopen(o.log, "w"))) {
		fprintf(stderr, "outpost-pub: cannot write %s: %s\n", o.log, strerror(errno));
		goto out;
	}
	catch_signals();
	if (!pub_link_open(&l, o.host, o.port, o.max_inflight, log, CONNECT_TIMEOUT_MS, why,
			   sizeof(why))) {
		fprintf(stderr, "outpost-pub: cannot connect to %s:%d: %s\n", o.host, o.port, why);
		goto out;
	}
	t0 = pub_mono_us();
	ex = finish(&o, l, t0, publish_all(&o, l, buf, t0));
out:
	pub_link_close(l); /* stops the thread that writes the log */
	if (log && fclose(log) != 0) {
		fprintf(stderr, "outpost-pub: writing %s: %s\n", o.log, strerror(errno));
		ex = 1;
	}
	free(buf);
	mosquitto_lib_cleanup();
	return ex;
}
