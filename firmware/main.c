/*
 * main.c - outpostd's command line. Everything else is in daemon.c.
 */
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <mbedtls/version.h>

#include "config/config.h"
#include "config/secrets.h"
#include "firmware/daemon.h"
#include "hal/err.h"
#include "hal/log.h"
#include "net/http.h"
#include "net/mqtt.h"
#include "store/store.h"

#define DEFAULT_CONFIG "/etc/outpost/outpost.json"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: outpostd [-c FILE] [-t] [--syslog] [-v]\n"
		"\n"
		"Turns device events from the local MQTT broker into approved WhatsApp\n"
		"template messages, keeps them in a durable outbox and sends them to the\n"
		"provider (Twilio), retrying until each is sent, failed or expired.\n"
		"Runs in the foreground; stop it with SIGTERM, reload the config with SIGHUP.\n"
		"\n"
		"  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
		"  -t, --test          check the configuration (and a secrets file waiting\n"
		"                      to be imported), print every problem with its JSON\n"
		"                      path, and exit\n"
		"  -s, --syslog        log to syslog (daemon facility) instead of stderr\n"
		"  -v, --verbose       log debug detail\n"
		"  -V, --version       print the versions of outpostd and its libraries\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 clean stop or valid config; 1 runtime failure (restart me);\n"
		"2 usage error; 3 invalid configuration or secrets, or a \"user\"/\"group\"\n"
		"that does not exist; 4 could not become \"user\" (start as root or as it).\n"
		"Under systemd (Type=notify) it reports readiness, status and watchdog\n"
		"pings on $NOTIFY_SOCKET.\n"
		"Provider credentials live encrypted in the store's vault: set them with\n"
		"outpostctl creds set NAME, or name a secrets file in the config once (it\n"
		"is imported at start and removed). Look inside a running daemon with\n"
		"outpostctl status / outpostctl outbox.\n");
}

static void version(void)
{
	char mbed[64];

	mbedtls_version_get_string_full(mbed);
	printf("outpostd %s (%s)\n", OUTPOST_VERSION, OUTPOST_GIT_REV);
	printf("  %s\n", net_http_version());
	printf("  %s\n", mbed);
	printf("  %s\n", net_mqtt_version());
	printf("  %s\n", store_lmdb_version());
	printf("  cJSON %s\n", cJSON_Version());
}

static int check_config(const char *path)
{
	struct cfg *cfg;
	struct cfg_secrets *sec;

	if (fw_load_config(path, &cfg, &sec) != ERR_OK) {
		fprintf(stderr, "%s: configuration is NOT valid\n", path);
		return FW_EXIT_CONFIG;
	}
	printf("%s: configuration OK: gateway %s, %u accounts, %u templates, %u routes\n", path,
	       cfg->gateway_id, cfg->n_accounts, cfg->n_templates, cfg->n_routes);
	if (sec)
		printf("%s: %u credentials entries, imported into the vault at the next start\n",
		       cfg->secrets_file, cfg_secrets_count(sec));
	cfg_secrets_free(sec);
	cfg_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
		{"syslog", no_argument, NULL, 's'},       {"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cfg = DEFAULT_CONFIG;
	bool test = false, use_syslog = false;
	int level = LOG_INFO, c;

#ifdef __GLIBC__
	/* One malloc arena: the daemon's work is on one thread; curl's
	 * resolver threads would each get an arena of their own (64 MiB of
	 * address space, the pages they touched kept). */
	mallopt(M_ARENA_MAX, 1);
#endif
	while ((c = getopt_long(argc, argv, "c:tsvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfg = optarg; break;
		case 't': test = true; break;
		case 's': use_syslog = true; break;
		case 'v': level = LOG_DEBUG; break;
		case 'V': version(); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return FW_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "outpostd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return FW_EXIT_USAGE;
	}
	hal_log_open("outpostd", use_syslog && !test, level);
	hal_log_batch(!test);
	c = test ? check_config(cfg) : fw_daemon_run(cfg);
	hal_log_close();
	return c;
}
