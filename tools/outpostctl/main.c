/*
 * main.c - outpostctl: options, finding the control socket, one request and
 * one answer, exit codes. What each command asks and shows is in its own
 * file (status.c, outbox.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/err.h"
#include "hal/file.h"
#include "hal/parse.h"
#include "config/secrets.h"
#include "hal/tty.h"
#include "net/ctl.h"
#include "tools/outpostctl/octl.h"

#ifndef OUTPOST_VERSION
#define OUTPOST_VERSION "unknown"
#endif

#define DEFAULT_SOCKET "/run/outpost/outpostd.sock"
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_BAUD 115200
#define MAX_TIMEOUT_MS 3600000
#define MAX_LIMIT 1000
/* A config file is a few KiB; anything near this is not one. */
#define MAX_CONFIG_BYTES (4u << 20)

static const struct octl_cmd *const cmds[] = {&octl_cmd_status, &octl_cmd_stats,
					      &octl_cmd_probe, &octl_cmd_outbox,
					      &octl_cmd_logs, &octl_cmd_config,
					      &octl_cmd_deadletter, &octl_cmd_creds,
					      &octl_cmd_pin_hash, &octl_cmd_consent,
					      &octl_cmd_forget, &octl_cmd_templates};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: outpostctl [OPTIONS] COMMAND [COMMAND OPTIONS]\n"
	      "\n"
	      "Asks outpostd, the WhatsApp notification daemon, how it is doing and\n"
	      "tells it what to do: on the gateway through its control socket, from a\n"
	      "technician's laptop over the serial console (--serial), or from afar\n"
	      "through the site's MQTT broker with signed commands (--mqtt).\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-16s %s\n", cmds[i]->name, cmds[i]->summary);
	fputs("  help             help on a command: outpostctl help outbox\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket PATH  outpostd's control socket (default: control.socket of\n"
	      "                     the config given with -c, else " DEFAULT_SOCKET ")\n"
	      "  -c, --config FILE  take the socket path from this outpost.json\n"
	      "      --mqtt HOST[:PORT] --gateway ID\n"
	      "                     ask a gateway through its MQTT broker instead: signed\n"
	      "                     commands on outpost/ID/cmd (control.mqtt in its config)\n"
	      "      --key-file F   the gateway's command key (64 hex digits, a 0600 file);\n"
	      "                     or set OUTPOST_CMD_KEY\n"
	      "      --serial DEV   ask over the serial line DEV (e.g. /dev/ttyUSB0) instead,\n"
	      "                     to outpostd's control.serial port; checksummed frames,\n"
	      "                     the request is sent up to 3 times within --timeout\n"
	      "      --baud N       the line's rate for --serial (default 115200)\n"
	      "      --pin          give the technician PIN first (typed without echo, or\n"
	      "                     from OUTPOST_PIN) on a line that asks for one\n"
	      "      --json         print outpostd's answer as JSON on one line, for scripts\n"
	      "      --timeout MS   wait at most MS milliseconds for an answer (default 5000)\n"
	      "  -h, --help         this help; outpostctl COMMAND --help explains a command\n"
	      "  -V, --version      print the version\n"
	      "\n"
	      "Exit status: 0 done; 1 outpostd answered with an error; 2 wrong usage;\n"
	      "3 outpostd cannot be reached (not running, wrong socket or serial line, no\n"
	      "answer in time).\n",
	      f);
}

static const struct octl_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < N_CMDS; i++)
		if (strcmp(cmds[i]->name, name) == 0)
			return cmds[i];
	return NULL;
}

static const struct option long_opts[] = {
	{"socket", required_argument, NULL, 's'},
	{"config", required_argument, NULL, 'c'},
	{"serial", required_argument, NULL, 'D'},
	{"baud", required_argument, NULL, 'R'},
	{"pin", no_argument, NULL, 'p'},
	{"route", required_argument, NULL, 'Q'},
	{"to", required_argument, NULL, 'W'},
	{"older-than", required_argument, NULL, 'O'},
	{"newer-than", required_argument, NULL, 'Y'},
	{"sig", required_argument, NULL, 'Z'},
	{"send-to", required_argument, NULL, 'X'},
	{"template", required_argument, NULL, 'J'},
	{"source", required_argument, NULL, 'o'},
	{"json", no_argument, NULL, 'j'},
	{"timeout", required_argument, NULL, 'T'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"state", required_argument, NULL, 'S'},
	{"limit", required_argument, NULL, 'L'},
	{"before", required_argument, NULL, 'B'},
	{"since", required_argument, NULL, 'I'},
	{"follow", no_argument, NULL, 'F'},
	{"level", required_argument, NULL, 'E'},
	{"unmasked", no_argument, NULL, 'U'},
	{"account-sid", required_argument, NULL, 'A'},
	{"api-key-sid", required_argument, NULL, 'K'},
	{"username", required_argument, NULL, 'N'},
	{"provider", required_argument, NULL, 'P'},
	{"mqtt", required_argument, NULL, 'M'},
	{"gateway", required_argument, NULL, 'G'},
	{"key-file", required_argument, NULL, 'k'},
	{"by", required_argument, NULL, 'b'},
	{"days", required_argument, NULL, 'y'},
	{NULL, 0, NULL, 0},
};

/* Handles one option; returns false after reporting a bad value. */
static bool take_opt(int c, struct octl_opts *o, unsigned *used)
{
	uint64_t v;

	switch (c) {
	case 's': o->socket = optarg; return true;
	case 'c': o->config = optarg; return true;
	case 'D': o->serial = optarg; return true;
	case 'p': o->pin = true; return true;
	case 'Q': o->route = optarg; *used |= OCTL_OPT_FILTER; return true;
	case 'W': o->to = optarg; *used |= OCTL_OPT_FILTER; return true;
	case 'O': o->older_than = optarg; *used |= OCTL_OPT_FILTER; return true;
	case 'Y': o->newer_than = optarg; *used |= OCTL_OPT_FILTER; return true;
	case 'Z': o->sig = optarg; return true;
	case 'X': o->send_to = optarg; return true;
	case 'J': o->template_name = optarg; return true;
	case 'o': o->source = optarg; return true;
	case 'R':
		if (!hal_parse_u64(optarg, 1, 4000000, &v) || !hal_tty_baud_valid((unsigned)v)) {
			fprintf(stderr, "outpostctl: --baud wants a standard rate: 9600, 19200, "
					"38400, 57600, 115200, 230400, 460800, 921600\n");
			return false;
		}
		o->baud = (unsigned)v;
		return true;
	case 'j': o->json = true; return true;
	case 'h': o->help = true; return true;
	case 'S': o->state = optarg; *used |= OCTL_OPT_STATE; return true;
	case 'A': o->account_sid = optarg; *used |= OCTL_OPT_CREDS; return true;
	case 'K': o->api_key_sid = optarg; *used |= OCTL_OPT_CREDS; return true;
	case 'N': o->username = optarg; *used |= OCTL_OPT_CREDS; return true;
	case 'P': o->provider = optarg; *used |= OCTL_OPT_CREDS; return true;
	case 'M': o->mqtt = optarg; return true;
	case 'G': o->gateway = optarg; return true;
	case 'k': o->key_file = optarg; return true;
	case 'T':
		if (!hal_parse_u64(optarg, 1, MAX_TIMEOUT_MS, &v)) {
			fprintf(stderr, "outpostctl: --timeout wants milliseconds, 1 to %d\n",
				MAX_TIMEOUT_MS);
			return false;
		}
		o->timeout_ms = (int)v;
		return true;
	case 'L':
		if (!hal_parse_u64(optarg, 1, MAX_LIMIT, &v)) {
			fprintf(stderr, "outpostctl: --limit wants a number, 1 to %d\n", MAX_LIMIT);
			return false;
		}
		o->limit = (long)v;
		*used |= OCTL_OPT_LIMIT;
		return true;
	case 'B':
		/* Sequence numbers travel as JSON numbers: exact up to 2^53. */
		if (!hal_parse_u64(optarg, 0, 1ull << 53, &v)) {
			fprintf(stderr, "outpostctl: --before wants a sequence number\n");
			return false;
		}
		o->before = v;
		*used |= OCTL_OPT_BEFORE;
		return true;
	case 'I':
		if (!hal_parse_u64(optarg, 0, 1ull << 53, &v)) {
			fprintf(stderr, "outpostctl: --since wants a sequence number\n");
			return false;
		}
		o->since = v;
		*used |= OCTL_OPT_SINCE;
		return true;
	case 'F': o->follow = true; *used |= OCTL_OPT_FOLLOW; return true;
	case 'E': o->level = optarg; *used |= OCTL_OPT_LEVEL; return true;
	case 'U': o->unmasked = true; *used |= OCTL_OPT_UNMASKED; return true;
	case 'b':
		if (strcmp(optarg, "route") && strcmp(optarg, "account") && strcmp(optarg, "day")) {
			fprintf(stderr, "outpostctl: --by wants route, account or day\n");
			return false;
		}
		o->by = optarg;
		*used |= OCTL_OPT_TABLE;
		return true;
	case 'y':
		if (!hal_parse_u64(optarg, 1, 3660, &v)) {
			fprintf(stderr, "outpostctl: --days wants a number of days, 1 to 3660\n");
			return false;
		}
		o->days = (unsigned)v;
		*used |= OCTL_OPT_TABLE;
		return true;
	default:
		return false;
	}
}

static const char *opt_name(unsigned bit)
{
	static const char *const names[] = {"--state", "--limit",  "--before",  "--since",
					    "--follow", "--level", "--unmasked",
					    "--account-sid/--api-key-sid/--username/--provider",
					    "--route/--to/--older-than/--newer-than", "--by/--days"};
	unsigned i = 0;

	while (bit > 1 && i + 1 < sizeof(names) / sizeof(names[0])) {
		bit >>= 1;
		i++;
	}
	return names[i];
}

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct octl_opts *o, const struct octl_cmd **cmd)
{
	unsigned used = 0, bit;
	const char *name;
	int c;

	opterr = 0; /* our own words, without the full path of argv[0] */
	while ((c = getopt_long(argc, argv, ":s:c:hV", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			fprintf(stderr, "outpostctl: %s '%s' (see outpostctl --help)\n",
				c == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
			return OCTL_EXIT_USAGE;
		}
		if (c == 'V') {
			printf("outpostctl %s\n", OUTPOST_VERSION);
			return OCTL_EXIT_OK;
		}
		if (!take_opt(c, o, &used))
			return OCTL_EXIT_USAGE;
	}
	name = optind < argc ? argv[optind++] : NULL;
	if (name && strcmp(name, "help") == 0) {
		o->help = true;
		name = optind < argc ? argv[optind++] : NULL;
	}
	if (!name) {
		usage(o->help ? stdout : stderr);
		return o->help ? OCTL_EXIT_OK : OCTL_EXIT_USAGE;
	}
	*cmd = find_cmd(name);
	if (!*cmd) {
		fprintf(stderr, "outpostctl: unknown command '%s' (see outpostctl --help)\n", name);
		return OCTL_EXIT_USAGE;
	}
	if (o->help) {
		fputs((*cmd)->help, stdout);
		return OCTL_EXIT_OK;
	}
	if ((*cmd)->opts & OCTL_OPT_ARGS) {
		o->args = argv + optind;
		o->nargs = argc - optind;
	} else if (optind < argc) {
		fprintf(stderr, "outpostctl: %s: unexpected argument '%s'\n", name, argv[optind]);
		return OCTL_EXIT_USAGE;
	}
	if (o->serial && (o->socket || o->config)) {
		fprintf(stderr, "outpostctl: --serial asks over a serial line: drop %s\n",
			o->socket ? "--socket" : "--config");
		return OCTL_EXIT_USAGE;
	}
	if (o->pin && !o->serial) {
		fprintf(stderr, "outpostctl: --pin is for --serial\n");
		return OCTL_EXIT_USAGE;
	}
	if (o->baud && !o->serial) {
		fprintf(stderr, "outpostctl: --baud is for --serial\n");
		return OCTL_EXIT_USAGE;
	}
	if (o->mqtt && (o->serial || o->socket || o->config)) {
		fprintf(stderr, "outpostctl: --mqtt asks through the broker: drop %s\n",
			o->serial ? "--serial" : o->socket ? "--socket" : "--config");
		return OCTL_EXIT_USAGE;
	}
	for (bit = 1; bit <= OCTL_OPT__LAST; bit <<= 1) {
		if ((used & bit) && !((*cmd)->opts & bit)) {
			fprintf(stderr, "outpostctl: %s is not an option of %s\n", opt_name(bit), name);
			return OCTL_EXIT_USAGE;
		}
	}
	o->given = used;
	return -1;
}

/* Only .control.socket is read here: outpostctl must work even when the rest
 * of the config is one the daemon would refuse, which is when it is needed. */
static int socket_from_config(const char *file, char *out, size_t outlen)
{
	const cJSON *control, *sock;
	cJSON *root = NULL;
	char *text = NULL;
	int rc, ex = -1;

	rc = hal_file_read(file, MAX_CONFIG_BYTES, &text, NULL);
	if (rc) {
		fprintf(stderr, "outpostctl: cannot read config %s: %s\n", file,
			rc == ERR_NOTFOUND ? strerror(ENOENT) : hal_strerror(rc));
		ex = OCTL_EXIT_USAGE;
		goto out;
	}
	root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		fprintf(stderr, "outpostctl: config %s is not a JSON object\n", file);
		ex = OCTL_EXIT_USAGE;
		goto out;
	}
	control = cJSON_GetObjectItemCaseSensitive(root, "control");
	sock = cJSON_GetObjectItemCaseSensitive(control, "socket");
	if (cJSON_IsString(sock) && sock->valuestring[0])
		snprintf(out, outlen, "%s", sock->valuestring);
out:
	cJSON_Delete(root);
	free(text);
	return ex;
}

static const char *connect_hint(int rc)
{
	switch (rc) {
	case ERR_NOTFOUND:
	case ERR_CONN:
		return " (is outpostd running? see -s)";
	case ERR_PERM:
		return " (run it as root or as outpostd's user)";
	case ERR_AGAIN:
		return " (outpostd is busy; try again)";
	default:
		return " (see -s)";
	}
}

/* Connects and asks; returns -1 when *resp holds the answer, else the exit
 * code after saying what went wrong. */
static int ask(const struct octl_opts *o, const char *path, const char *req, char **resp)
{
	char why[128];
	int fd = -1, rc, ex = -1;

	if (o->mqtt)
		return octl_remote_call(o, req, resp);
	if (o->serial)
		return octl_serial_ask(o, req, resp);
	rc = net_ctl_connect(path, &fd, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "outpostctl: cannot connect to %s: %s%s\n", path, why,
			connect_hint(rc));
		return OCTL_EXIT_CONNECT;
	}
	rc = net_ctl_call(fd, req, resp, o->timeout_ms);
	if (rc == ERR_TIMEOUT) {
		fprintf(stderr, "outpostctl: no answer from outpostd on %s within %d ms "
				"(busy or stuck? see --timeout)\n", path, o->timeout_ms);
		ex = OCTL_EXIT_CONNECT;
	} else if (rc == ERR_TOOBIG) {
		fprintf(stderr, "outpostctl: the answer from outpostd is over %d bytes "
				"(try a smaller --limit)\n", NET_CTL_MAX_FRAME);
		ex = OCTL_EXIT_DAEMON;
	} else if (rc == ERR_CLOSED) {
		fprintf(stderr, "outpostctl: outpostd on %s hung up without answering\n", path);
		ex = OCTL_EXIT_CONNECT;
	} else if (rc) {
		fprintf(stderr, "outpostctl: talking to outpostd on %s: %s\n", path,
			hal_strerror(rc));
		ex = OCTL_EXIT_CONNECT;
	}
	close(fd);
	return ex;
}

int octl_call(const struct octl_opts *o, const char *path, const cJSON *req, cJSON **resp)
{
	char *text = cJSON_PrintUnformatted(req), *reply = NULL;
	const char *err;
	int ex;

	*resp = NULL;
	if (!text) {
		fprintf(stderr, "outpostctl: out of memory\n");
		return OCTL_EXIT_USAGE;
	}
	ex = ask(o, path, text, &reply);
	free(text);
	if (ex >= 0)
		return ex;
	*resp = cJSON_Parse(reply);
	free(reply);
	if (cJSON_IsObject(*resp) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*resp, "ok")))
		return -1;
	err = cJSON_IsObject(*resp) ? octl_str(*resp, "error") : "an answer that is not a JSON object";
	fputs("outpostctl: outpostd: ", stderr);
	octl_put_text(stderr, err ? err : "failed, without saying why", 0, 0);
	fputc('\n', stderr);
	cJSON_Delete(*resp);
	*resp = NULL;
	return OCTL_EXIT_DAEMON;
}

static int answer(const struct octl_opts *o, const struct octl_cmd *cmd, const char *text)
{
	cJSON *resp = cJSON_Parse(text);
	const char *err;
	int ex = OCTL_EXIT_OK;

	if (o->json)
		printf("%s\n", text);
	if (!cJSON_IsObject(resp)) {
		fprintf(stderr, "outpostctl: outpostd sent an answer that is not a JSON object\n");
		ex = OCTL_EXIT_DAEMON;
		goto out;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		err = octl_str(resp, "error");
		fputs("outpostctl: outpostd: ", stderr);
		octl_put_text(stderr, err ? err : "failed, without saying why", 0, 0);
		fputc('\n', stderr);
		ex = OCTL_EXIT_DAEMON;
		goto out;
	}
	if (!o->json)
		cmd->show(o, resp);
out:
	cJSON_Delete(resp);
	return ex;
}

int main(int argc, char **argv)
{
	struct octl_opts o = {.timeout_ms = DEFAULT_TIMEOUT_MS, .limit = 20};
	const struct octl_cmd *cmd = NULL;
	char path[512] = DEFAULT_SOCKET;
	char *req = NULL, *resp = NULL;
	cJSON *rj = NULL;
	int ex;

	ex = parse_args(argc, argv, &o, &cmd);
	if (ex >= 0)
		goto out;
	if (o.serial && !o.baud)
		o.baud = DEFAULT_BAUD;
	if (o.socket)
		snprintf(path, sizeof(path), "%s", o.socket);
	else if (o.config && (ex = socket_from_config(o.config, path, sizeof(path))) >= 0)
		goto out;
	if (cmd->run) {
		ex = cmd->run(&o, path);
		goto out;
	}
	rj = cmd->request(&o);
	req = rj ? cJSON_PrintUnformatted(rj) : NULL;
	if (!req) {
		ex = OCTL_EXIT_USAGE;
		goto out;
	}
	ex = ask(&o, path, req, &resp);
	if (ex >= 0)
		goto out;
	ex = answer(&o, cmd, resp);
out:
	cfg_json_wipe(rj);
	cJSON_Delete(rj);
	if (req) /* a creds set request carries a secret */
		explicit_bzero(req, strlen(req));
	free(req);
	free(resp);
	return ex;
}
