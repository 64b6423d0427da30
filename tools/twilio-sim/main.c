/*
 * main.c - twilio-sim's command line, lifecycle and the --down-from window.
 *
 * SIGTERM/SIGINT are blocked before any thread starts and collected with
 * sigtimedwait() in the main loop, so no signal handler runs at all; the
 * same loop opens and closes the outage window on a 100 ms tick.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hal/clock.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/log.h"
#include "hal/parse.h"
#include "tools/twilio-sim/sim.h"

#define PEM_MAX (1024 * 1024)

static const char usage_text[] =
	"usage: twilio-sim --port N --cert FILE --key FILE --account AC... --token TOKEN\n"
	"                  --record FILE [options]\n"
	"\n"
	"A Twilio Messages API fake for tests, demos and benchmarks (HTTPS only).\n"
	"\n"
	"  --port N             TCP port; 0 picks a free one (printed, see --port-file)\n"
	"  --bind ADDR          IPv4 address to listen on (default 127.0.0.1)\n"
	"  --port-file F        write the bound port to F once listening\n"
	"  --cert F, --key F    PEM server certificate (chain) and private key\n"
	"  --account AC...      the one account SID (AC + 32 hex)\n"
	"  --token TOKEN        its auth token (Basic auth password)\n"
	"  --api-key SK..:SEC   also accept API key SK.. with secret SEC (up to 8)\n"
	"  --template HX..:N[:STATUS[:NAME[:TYPE]]]\n"
	"                       template HX.. takes exactly N variables, else 63028;\n"
	"                       its WhatsApp approval (default approved), name and\n"
	"                       content type (default twilio/text) as the Content API\n"
	"                       lists them (POST /sim/templates changes the status)\n"
	"                       (up to 64; unregistered ContentSids take any count)\n"
	"  --record F           append one JSON line per accepted message to F:\n"
	"                       {sid,to,from,content_sid,vars,recv_us,n[,dropped]}\n"
	"  --keep N             messages kept in memory for fetch and list, about 80\n"
	"                       bytes each (default 2000000); then the oldest go\n"
	"  --threads N          HTTP worker threads (default 2)\n"
	"\n"
	"Meta Cloud API and 360dialog (see README.md):\n"
	"  --meta-token T       Bearer token Meta's routes accept (else 401 / 190)\n"
	"  --meta-phone-id ID   the phone-number id in POST /{v}/{ID}/messages\n"
	"  --meta-waba-id ID    the WABA id of GET /{v}/{ID}/message_templates (default any)\n"
	"  --d360-key K         D360-API-KEY of POST /messages (else 401)\n"
	"  --meta-template name:lang:N[:STATUS[:HEADER]]\n"
	"                       a template with N body parameters (else 132000), listed\n"
	"                       with STATUS (default APPROVED; PAUSED, DISABLED and others\n"
	"                       refuse sends); up to 32. HEADER image|video|document: a\n"
	"                       media header every send must fill with an https link\n"
	"  --idle-timeout S     close idle keep-alive connections after S s (default 60)\n"
	"\n"
	"Faults (creates only):\n"
	"  --fail-rate F        answer a fraction F (0..1) of valid creates with 500/20500,\n"
	"                       not recorded\n"
	"  --drop-after-read F  close the connection without answering for a fraction F\n"
	"                       of valid creates; they ARE accepted: recorded with\n"
	"                       \"dropped\":true, and shown by fetch and list\n"
	"  --seed N             PRNG seed for the two above (default 1)\n"
	"  --rate-limit N       more than N creates in one second get 429/20429 and\n"
	"                       Retry-After: 1\n"
	"  --latency-ms N       answer every create N ms late (connections not blocked)\n"
	"  --work-us N          a create takes N us of one of --threads workers, queued\n"
	"                       first come first served whatever its connection (the\n"
	"                       connection waits suspended, no thread is held): the\n"
	"                       ceiling is --threads x 1,000,000 / N creates a second\n"
	"                       (for a fast provider's bench)\n"
	"  --deliver-after-ms N fetch and list show a message delivered N ms after create\n"
	"                       (default: it stays sent)\n"
	"  --read-after-ms M    ... and read M ms after that (needs --deliver-after-ms)\n"
	"  --price P            fetch and list show \"price\": P (e.g. -0.00750, USD) once a\n"
	"                       message has left \"sent\"; null before, as at Twilio\n"
	"  --foreign-next       every list page names a next page in another account (as\n"
	"                       twilio-oai's readFullPage1 example), and inbound pages\n"
	"                       carry one more message, to another number (+18182008801)\n"
	"  --down-from S --down-for D\n"
	"                       during [S, S+D) s after start: close the listener and every\n"
	"                       connection (clients get connection refused), then listen\n"
	"                       again on the same port\n"
	"\n"
	"Magic recipients (To):\n"
	"  whatsapp:+15005550001  400, code 21211 (invalid To number)\n"
	"  whatsapp:+15005550002  400, code 63003 (channel could not find To address)\n"
	"  whatsapp:+15005550003  400, code 21610 (recipient unsubscribed)\n"
	"  whatsapp:+15005550009  500, code 20500 (internal error)\n"
	"  whatsapp:+15005550063  accepted, then undelivered with 63024 at delivery time\n"
	"  whatsapp:+15005550016  accepted, then failed with 63016 at delivery time\n"
	"  whatsapp:+15005550077  accepted; its fetch answers about another message (the\n"
	"                         sid's last digit changed), failed with 30008\n"
	"POST /sim/status {\"sid\",\"status\",\"code\"} forces a message's state (no auth).\n"
	"\n"
	"Routes: POST /2010-04-01/Accounts/{AC}/Messages.json (201),\n"
	"GET .../Messages/{SM}.json, GET .../Messages.json (list: To, From, DateSent,\n"
	"DateSent<, DateSent>, PageSize, Page, PageToken; newest first),\n"
	"GET /2010-04-01/Accounts/{AC}.json. Errors use Twilio's JSON shape\n"
	"{code,message,more_info,status}. See tools/twilio-sim/README.md.\n";

enum opt {
	O_PORT = 256, O_BIND, O_PORT_FILE, O_CERT, O_KEY, O_ACCOUNT, O_TOKEN, O_API_KEY,
	O_TEMPLATE, O_RECORD, O_KEEP, O_THREADS, O_IDLE, O_FAIL, O_DROP, O_SEED, O_RATE,
	O_LATENCY, O_WORK, O_DOWN_FROM, O_DOWN_FOR, O_DELIVER, O_READ, O_PRICE, O_HELP, O_META_TOKEN, O_META_PHONE,
	O_META_WABA, O_D360_KEY, O_META_TEMPLATE, O_FOREIGN_NEXT,
};

static const struct option long_opts[] = {
	{"port", required_argument, NULL, O_PORT},
	{"bind", required_argument, NULL, O_BIND},
	{"port-file", required_argument, NULL, O_PORT_FILE},
	{"cert", required_argument, NULL, O_CERT},
	{"key", required_argument, NULL, O_KEY},
	{"account", required_argument, NULL, O_ACCOUNT},
	{"token", required_argument, NULL, O_TOKEN},
	{"api-key", required_argument, NULL, O_API_KEY},
	{"template", required_argument, NULL, O_TEMPLATE},
	{"record", required_argument, NULL, O_RECORD},
	{"keep", required_argument, NULL, O_KEEP},
	{"threads", required_argument, NULL, O_THREADS},
	{"idle-timeout", required_argument, NULL, O_IDLE},
	{"fail-rate", required_argument, NULL, O_FAIL},
	{"drop-after-read", required_argument, NULL, O_DROP},
	{"seed", required_argument, NULL, O_SEED},
	{"rate-limit", required_argument, NULL, O_RATE},
	{"latency-ms", required_argument, NULL, O_LATENCY},
	{"work-us", required_argument, NULL, O_WORK},
	{"down-from", required_argument, NULL, O_DOWN_FROM},
	{"down-for", required_argument, NULL, O_DOWN_FOR},
	{"deliver-after-ms", required_argument, NULL, O_DELIVER},
	{"read-after-ms", required_argument, NULL, O_READ},
	{"price", required_argument, NULL, O_PRICE},
	{"help", no_argument, NULL, O_HELP},
	{"foreign-next", no_argument, NULL, O_FOREIGN_NEXT},
	{"meta-token", required_argument, NULL, O_META_TOKEN},
	{"meta-phone-id", required_argument, NULL, O_META_PHONE},
	{"meta-waba-id", required_argument, NULL, O_META_WABA},
	{"d360-key", required_argument, NULL, O_D360_KEY},
	{"meta-template", required_argument, NULL, O_META_TEMPLATE},
	{NULL, 0, NULL, 0},
};

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	uint64_t v;

	if (!hal_parse_u64(s, 0, max, &v))
		return false;
	*out = (unsigned)v;
	return true;
}

/* Copies the next ':'-separated part of *p into dst (cap bytes with the
 * NUL); false if it is empty or too long. */
static bool next_part(const char **p, char *dst, size_t cap)
{
	size_t n = strcspn(*p, ":");

	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p += n + ((*p)[n] == ':');
	return true;
}

/* "HX<32 hex>:N[:status[:name[:type]]]" */
static bool add_template(struct sim_config *cfg, const char *arg)
{
	const char *p = arg;
	struct sim_template *t;
	char num[8];

	if (cfg->n_templates >= SIM_MAX_TEMPLATES)
		return false;
	t = &cfg->templates[cfg->n_templates];
	memset(t, 0, sizeof(*t));
	if (!next_part(&p, t->sid, sizeof(t->sid)) || !sim_sid_valid(t->sid, "HX") ||
	    !next_part(&p, num, sizeof(num)) || !parse_uint(num, SIM_MAX_VARS, &t->nvars))
		return false;
	snprintf(t->status, sizeof(t->status), "approved");
	memcpy(t->name, "tpl_", 4); /* tpl_ and the SID's last 8 digits */
	memcpy(t->name + 4, t->sid + 26, 9);
	snprintf(t->type, sizeof(t->type), "twilio/text");
	if ((*p && !next_part(&p, t->status, sizeof(t->status))) ||
	    (*p && !next_part(&p, t->name, sizeof(t->name))) ||
	    (*p && !next_part(&p, t->type, sizeof(t->type))) || *p)
		return false;
	cfg->n_templates++;
	return true;
}

/* "SK<32 hex>:secret" */
static bool add_key(struct sim_config *cfg, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct sim_apikey *k;

	if (cfg->n_keys >= SIM_MAX_KEYS || !colon || (size_t)(colon - arg) != SIM_SID_LEN ||
	    !colon[1])
		return false;
	k = &cfg->keys[cfg->n_keys];
	memcpy(k->sid, arg, SIM_SID_LEN);
	k->sid[SIM_SID_LEN] = '\0';
	k->secret = colon + 1;
	if (!sim_sid_valid(k->sid, "SK"))
		return false;
	cfg->n_keys++;
	return true;
}

static bool apply_fault_opt(struct sim_config *cfg, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case O_FAIL:
		return hal_parse_double(arg, 0.0, 1.0, &cfg->fail_rate);
	case O_DROP:
		return hal_parse_double(arg, 0.0, 1.0, &cfg->drop_rate);
	case O_SEED:
		return hal_parse_u64(arg, 0, UINT64_MAX, &cfg->seed);
	case O_RATE:
		return parse_uint(arg, 10000000, &cfg->rate_limit);
	case O_LATENCY:
		return parse_uint(arg, 600000, &cfg->latency_ms);
	case O_WORK:
		return parse_uint(arg, 1000000, &cfg->work_us);
	case O_DOWN_FROM:
		if (!hal_parse_u64(arg, 0, 86400 * 365, &v))
			return false;
		cfg->down_from_s = (long)v;
		return true;
	case O_DOWN_FOR:
		if (!hal_parse_u64(arg, 0, 86400 * 365, &v))
			return false;
		cfg->down_for_s = (long)v;
		return true;
	case O_FOREIGN_NEXT:
		cfg->foreign_next = true;
		return true;
	case O_PRICE: {
		char *end;
		double d = strtod(arg, &end);

		if (end == arg || *end || d <= -1e6 || d >= 1e6 || strlen(arg) >= sizeof(cfg->price))
			return false;
		snprintf(cfg->price, sizeof(cfg->price), "%s", arg);
		return true;
	}
	case O_DELIVER:
	case O_READ:
		if (!hal_parse_u64(arg, 0, 86400000, &v))
			return false;
		*(opt == O_DELIVER ? &cfg->deliver_after_ms : &cfg->read_after_ms) = (long)v;
		return true;
	}
	return false;
}

static bool digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 32;
}

static bool apply_opt(struct sim_config *cfg, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case O_META_TOKEN: cfg->meta_token = arg; return *arg != '\0';
	case O_META_PHONE: cfg->meta_phone_id = arg; return digits(arg);
	case O_META_WABA: cfg->meta_waba_id = arg; return digits(arg);
	case O_D360_KEY: cfg->d360_key = arg; return *arg != '\0';
	case O_META_TEMPLATE: return sim_meta_add_template(cfg, arg);
	case O_PORT: return parse_uint(arg, 65535, &cfg->port);
	case O_BIND: cfg->bind = arg; return true;
	case O_PORT_FILE: cfg->port_file = arg; return true;
	case O_CERT: cfg->cert_file = arg; return true;
	case O_KEY: cfg->key_file = arg; return true;
	case O_ACCOUNT: cfg->account = arg; return sim_sid_valid(arg, "AC");
	case O_TOKEN: cfg->token = arg; return *arg != '\0';
	case O_API_KEY: return add_key(cfg, arg);
	case O_TEMPLATE: return add_template(cfg, arg);
	case O_RECORD: cfg->record = arg; return true;
	case O_THREADS: return parse_uint(arg, 64, &cfg->threads) && cfg->threads > 0;
	case O_IDLE: return parse_uint(arg, 86400, &cfg->idle_timeout_s);
	case O_KEEP:
		if (!hal_parse_u64(arg, 0, 100000000, &v) || v == 0)
			return false;
		cfg->keep = (size_t)v;
		return true;
	}
	return apply_fault_opt(cfg, opt, arg);
}

static const char *opt_name(int opt)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_args(struct sim_config *cfg, int argc, char **argv)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (opt == O_HELP || opt == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (opt == '?' || !apply_opt(cfg, opt, optarg)) {
			if (opt != '?')
				fprintf(stderr, "twilio-sim: bad value for --%s: %s\n",
					opt_name(opt), optarg);
			return 2;
		}
	}
	if (optind < argc || !cfg->cert_file || !cfg->key_file || !cfg->account || !cfg->token ||
	    !cfg->record) {
		fprintf(stderr, "twilio-sim: --cert, --key, --account, --token and --record are "
				"required (see --help)\n");
		return 2;
	}
	return 0;
}

static int load_pems(struct sim_config *cfg)
{
	size_t len;

	if (hal_file_read(cfg->cert_file, PEM_MAX, &cfg->cert_pem, &len) != ERR_OK) {
		log_err("cannot read --cert %s", cfg->cert_file);
		return -1;
	}
	if (hal_file_read(cfg->key_file, PEM_MAX, &cfg->key_pem, &len) != ERR_OK) {
		log_err("cannot read --key %s", cfg->key_file);
		return -1;
	}
	return 0;
}

static int announce(const struct sim_config *cfg, unsigned port)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%u\n", port);

	/* Tests and scripts wait for this exact line or for the port file. */
	fprintf(stderr, "twilio-sim: listening on %s:%u\n", cfg->bind, port);
	fflush(stderr);
	if (cfg->port_file &&
	    hal_file_write_atomic(cfg->port_file, text, (size_t)n, 0644) != ERR_OK) {
		log_err("cannot write --port-file %s", cfg->port_file);
		return -1;
	}
	return 0;
}

/* Opens or closes the outage window; returns the (possibly new) daemon. */
static struct MHD_Daemon *tick_down_window(const struct sim_config *cfg, struct MHD_Daemon *d,
					   uint64_t start_ms, unsigned port)
{
	uint64_t elapsed = hal_now_ms() - start_ms;
	uint64_t from = (uint64_t)cfg->down_from_s * 1000;
	uint64_t until = from + (uint64_t)cfg->down_for_s * 1000;
	unsigned bound;

	if (cfg->down_for_s == 0)
		return d;
	if (d && elapsed >= from && elapsed < until) {
		log_warn("down window: closing the listener for %lds", cfg->down_for_s);
		sim_http_stop(d);
		return NULL;
	}
	if (!d && elapsed >= until) {
		sim_delay_reopen();
		d = sim_http_start(cfg, port, &bound);
		if (d)
			log_warn("down window over: listening again on port %u", port);
		else
			sim_delay_flush(true); /* retried on the next tick */
	}
	return d;
}

static bool wait_signal(const sigset_t *set)
{
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	int sig = sigtimedwait(set, NULL, &tick);

	if (sig > 0)
		log_info("signal %d: stopping", sig);
	return sig > 0;
}

static int serve(struct sim_config *cfg, const sigset_t *set)
{
	uint64_t start_ms = hal_now_ms();
	struct MHD_Daemon *d;
	unsigned port;

	d = sim_http_start(cfg, cfg->port, &port);
	if (!d) {
		log_err("cannot listen with TLS on %s:%u (port in use? bad cert/key?)", cfg->bind,
			cfg->port);
		return 1;
	}
	if (announce(cfg, port) != 0) {
		sim_http_stop(d);
		return 1;
	}
	while (!wait_signal(set))
		d = tick_down_window(cfg, d, start_ms, port);
	sim_http_stop(d);
	return 0;
}

static int run(struct sim_config *cfg)
{
	sigset_t set;
	int rc = 1;

	/* Block before any thread exists so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (load_pems(cfg) != 0 || sim_store_open(cfg->record, cfg->keep) != ERR_OK)
		goto out;
	sim_faults_init(cfg->seed, cfg->rate_limit);
	sim_content_init(cfg);
	if ((cfg->latency_ms || cfg->work_us) && sim_delay_start(cfg->threads) != 0)
		goto out;
	rc = serve(cfg, &set);
out:
	sim_delay_stop();
	sim_store_close(); /* flushes the record */
	free(cfg->cert_pem);
	free(cfg->key_pem);
	return rc;
}

int main(int argc, char **argv)
{
	static struct sim_config cfg = {
		.bind = "127.0.0.1",
		.keep = 2000000,
		.threads = 2,
		.idle_timeout_s = 60,
		.seed = 1,
		.deliver_after_ms = -1,
		.read_after_ms = -1,
	};
	int rc;

	hal_log_open("twilio-sim", false, LOG_INFO);
	rc = parse_args(&cfg, argc, argv);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	cfg.start_wall_ms = hal_wall_ms();
	return run(&cfg);
}
