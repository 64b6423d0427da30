/*
 * fuzz_fw.c - the shared fixture of fuzz_event and fuzz_ctl (fuzz_fw.h).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "firmware/fw.h"
#include "hal/clock.h"
#include "hal/err.h"
#include "hal/log.h"
#include "store/store.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_fw.h"

/* Big enough that a committed batch of the largest inputs never fills it;
 * fuzz_event starts an empty store after every commit anyway. */
#define STORE_MB 64

/*
 * tests/e2e/outpost.sh write_config, with two more routes: "oncall" shares
 * the alerts topics (two routes for one event) and fans out to a list, a
 * field and a national number (default_country); "legacy" routes to a
 * pending template. max_payload is the smallest allowed so that the
 * over-limit path is in reach of libFuzzer's usual input sizes.
 */
const char fuzz_fw_config[] =
	"{\n"
	"  \"gateway_id\": \"fuzz\",\n"
	"  \"mqtt\": {\"host\": \"127.0.0.1\", \"port\": 1883, \"client_id\": \"outpostd-fuzz\"},\n"
	"  \"store\": {\"path\": \"/nonexistent/store\", \"max_size_mb\": 64},\n"
	"  \"control\": {\"socket\": \"/nonexistent/outpostd.sock\"},\n"
	"  \"secrets_file\": \"/nonexistent/secrets.json\",\n"
	"  \"events\": {\"default_country\": \"49\", \"max_payload\": 1024},\n"
	"  \"sender\": {\"concurrency\": 4},\n"
	"  \"accounts\": {\n"
	"    \"main\": {\"provider\": \"twilio\", \"from\": \"whatsapp:+14155550100\",\n"
	"             \"credentials\": \"twilio-main\", \"api_base\": \"https://127.0.0.1:8443\",\n"
	"             \"rate_per_s\": 5000}\n"
	"  },\n"
	"  \"templates\": {\n"
	"    \"payment_received\": {\"twilio_content_sid\": \"HX0000000000000000000000000000a001\",\n"
	"                         \"variables\": 3, \"status\": \"approved\"},\n"
	"    \"ticket_ready\": {\"twilio_content_sid\": \"HX0000000000000000000000000000a002\",\n"
	"                     \"variables\": 3, \"status\": \"approved\"},\n"
	"    \"alert_raised\": {\"twilio_content_sid\": \"HX0000000000000000000000000000a003\",\n"
	"                     \"variables\": 4, \"status\": \"approved\"},\n"
	"    \"legacy_notice\": {\"twilio_content_sid\": \"HX0000000000000000000000000000a004\",\n"
	"                      \"variables\": 1, \"status\": \"pending\"}\n"
	"  },\n"
	"  \"routes\": [\n"
	"    {\"name\": \"payments\", \"topic\": \"site/+/payments/#\", \"template\": \"payment_received\",\n"
	"     \"to\": \"{customer.phone}\", \"account\": \"main\", \"ttl\": \"72h\",\n"
	"     \"vars\": {\"1\": \"{customer.name}\", \"2\": \"{amount} {currency}\", \"3\": \"{id}\"}},\n"
	"    {\"name\": \"tickets\", \"topic\": \"site/+/tickets/#\", \"template\": \"ticket_ready\",\n"
	"     \"to\": \"{phone}\", \"account\": \"main\",\n"
	"     \"vars\": {\"1\": \"{ticket}\", \"2\": \"{counter}\", \"3\": \"{id}\"}},\n"
	"    {\"name\": \"alerts\", \"topic\": \"site/+/alerts/#\", \"template\": \"alert_raised\",\n"
	"     \"to\": \"{notify}\", \"account\": \"main\",\n"
	"     \"vars\": {\"1\": \"{panel}\", \"2\": \"{zone}\", \"3\": \"{level}\", \"4\": \"{id}\"}},\n"
	"    {\"name\": \"oncall\", \"topic\": \"site/+/alerts/critical\", \"template\": \"alert_raised\",\n"
	"     \"to\": [\"{notify}\", \"{oncall.phone}\", \"0170 1234567\"], \"ttl\": 600,\n"
	"     \"vars\": {\"1\": \"{panel}\", \"2\": \"zone {zone}\", \"3\": \"{{{level}}}\", \"4\": \"{id}\"}},\n"
	"    {\"name\": \"legacy\", \"topic\": \"legacy/#\", \"template\": \"legacy_notice\",\n"
	"     \"to\": \"{phone}\", \"vars\": {\"1\": \"{text}\"}}\n"
	"  ]\n"
	"}\n";

static struct fw the_fw;
static struct cfg *the_cfg;
static char store_dir[96];

static void remove_dir(const char *dir)
{
	char path[sizeof(store_dir) + 300];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void open_store(struct fw *fw)
{
	int rc = store_open(store_dir, STORE_MB, &fw->store);

	FUZZ_ASSERT(rc == ERR_OK, "store_open %s: %s", store_dir, hal_strerror(rc));
}

static void at_exit(void)
{
	store_close(the_fw.store);
	the_fw.store = NULL;
	if (store_dir[0])
		remove_dir(store_dir);
}

void fuzz_fw_store_reset(struct fw *fw)
{
	FUZZ_ASSERT(!fw->router.txn, "store reset inside a batch");
	store_close(fw->store);
	fw->store = NULL;
	remove_dir(store_dir);
	open_store(fw);
}

/* Directories of earlier runs that crashed (no atexit then): their name
 * holds the pid, and a pid that is gone cannot be using its store. */
static void remove_stale_dirs(const char *parent)
{
	char path[sizeof(store_dir)];
	struct dirent *e;
	DIR *d = opendir(parent);
	long pid;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (sscanf(e->d_name, "outpost-fuzz-%ld-", &pid) != 1 || pid <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", parent, e->d_name) < (int)sizeof(path))
			remove_dir(path);
	}
	closedir(d);
}

static void make_store_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
			     : tmp && strlen(tmp) < 32 ? tmp : "/tmp";

	remove_stale_dirs(parent);
	snprintf(store_dir, sizeof(store_dir), "%s/outpost-fuzz-%ld-XXXXXX", parent,
		 (long)getpid());
	FUZZ_ASSERT(mkdtemp(store_dir), "mkdtemp %s: %s", store_dir, strerror(errno));
}

struct fw *fuzz_fw_get(void)
{
	struct cfg_errors errs;
	int rc;

	if (the_cfg)
		return &the_fw;
	hal_log_open("fuzz", false, getenv("FUZZ_LOG") ? LOG_DEBUG : -1);
	rc = cfg_parse(fuzz_fw_config, strlen(fuzz_fw_config), &the_cfg, &errs);
	FUZZ_ASSERT(rc == ERR_OK, "fixture config: %s: %s", errs.n ? errs.e[0].path : "$",
		    errs.n ? errs.e[0].msg : hal_strerror(rc));
	the_fw.cfg = the_cfg;
	the_fw.started_ms = hal_now_ms();
	rc = hal_loop_init(&the_fw.loop);
	FUZZ_ASSERT(rc == ERR_OK, "hal_loop_init: %s", hal_strerror(rc));
	make_store_dir();
	open_store(&the_fw);
	atexit(at_exit);
	return &the_fw;
}

/* One event per route, as tools/loadgen/events.c writes them. */
static const struct {
	const char *topic, *payload;
} seed_events[] = {
	{"site/1/payments/card",
	 "{\"id\":\"seed-1\",\"customer\":{\"name\":\"Ana\",\"phone\":\"+49 170 1234501\"},"
	 "\"amount\":\"1.37\",\"currency\":\"EUR\"}"},
	{"site/1/tickets/issued",
	 "{\"id\":\"seed-2\",\"ticket\":\"B-2\",\"counter\":\"3\",\"phone\":\"+1415555 0102\"}"},
	{"site/1/alerts/critical",
	 "{\"id\":\"seed-3\",\"panel\":\"North door\",\"zone\":\"4\",\"level\":\"alarm\","
	 "\"notify\":[\"+1 415-555-0103\",\"+12\"],\"oncall\":{\"phone\":\"0171 555 1234\"}}"},
	{"legacy/x", "{\"id\":\"seed-4\",\"phone\":\"+4917012345678\",\"text\":\"hi\"}"},
	{"site/1/payments/card", "{\"id\":\"seed-1\"}"},
	{"site/9/unrouted", "{\"id\":\"seed-5\"}"},
	{"site/1/tickets/issued", "[1,2,3]"},
};

void fuzz_fw_store_seed(struct fw *fw)
{
	int rc;

	for (size_t i = 0; i < sizeof(seed_events) / sizeof(seed_events[0]); i++)
		fw_router_message(fw, seed_events[i].topic, seed_events[i].payload,
				  strlen(seed_events[i].payload));
	rc = fw_router_batch_end(fw, true);
	FUZZ_ASSERT(rc == ERR_OK, "committing the seed events: %s", hal_strerror(rc));
}
