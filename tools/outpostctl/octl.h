/*
 * octl.h - outpostctl's internals: the command table, and the helpers its
 * commands share to read the daemon's JSON and print it for a person.
 *
 * The daemon's answers are read defensively: a field that is missing or of
 * another type shows as "?" (or its line is left out); nothing here trusts
 * the daemon's JSON to have any shape. Text from the daemon may carry bytes
 * from device events, so it is printed through octl_put_text(), which
 * escapes control characters: a technician's terminal must never receive
 * escape sequences from an MQTT payload.
 */
#ifndef OCTL_H
#define OCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Exit codes, part of the tool's interface for scripts. */
enum {
	OCTL_EXIT_OK = 0,
	OCTL_EXIT_DAEMON = 1, /* the daemon answered ok:false, or nonsense */
	OCTL_EXIT_USAGE = 2,
	OCTL_EXIT_CONNECT = 3, /* cannot connect, or no answer in time */
};

struct octl_opts {
	const char *socket;
	const char *serial; /* --serial DEV: ask over this tty instead */
	unsigned baud;      /* --baud, for --serial */
	const char *config;
	bool json;
	int timeout_ms;
	const char *state; /* outbox */
	long limit;        /* outbox */
	uint64_t before;   /* outbox */
	const char *account_sid, *api_key_sid, *username; /* creds set */
	const char *provider; /* creds set --provider meta|360dialog */
	const char *mqtt, *gateway, *key_file; /* --mqtt HOST[:PORT] --gateway ID */
	bool pin;          /* --pin: give the technician PIN on --serial */
	const char *route, *to, *older_than, *newer_than; /* outbox filters */
	const char *sig;   /* config push --sig FILE */
	const char *send_to, *template_name; /* test-connection --send-to --template */
	const char *source; /* consent set --source */
	const char *by;     /* stats --by route|account|day */
	unsigned days;      /* stats --days N */
	char **args;       /* words after the command (OCTL_OPT_ARGS) */
	int nargs;
	uint64_t since;    /* logs */
	const char *level; /* logs */
	bool follow, unmasked; /* logs */
	unsigned given;    /* OCTL_OPT_* given on the command line */
	bool help;
};

struct octl_cmd {
	const char *name;
	const char *summary; /* one line for the tool's help */
	const char *help;    /* the command's --help */
	unsigned opts;       /* OCTL_OPT_* the command accepts */
	/* Builds the request; returns NULL on a usage error it has reported. */
	cJSON *(*request)(const struct octl_opts *o);
	/* Prints an ok:true answer for a person. */
	void (*show)(const struct octl_opts *o, const cJSON *resp);
	/* Instead of request/show: a command that asks more than once (through
	 * octl_call) runs itself; returns the exit code. */
	int (*run)(const struct octl_opts *o, const char *path);
};

enum {
	OCTL_OPT_STATE = 1, OCTL_OPT_LIMIT = 2, OCTL_OPT_BEFORE = 4, OCTL_OPT_SINCE = 8,
	OCTL_OPT_FOLLOW = 16, OCTL_OPT_LEVEL = 32, OCTL_OPT_UNMASKED = 64,
	OCTL_OPT_CREDS = 128, /* --account-sid, --api-key-sid, --username */
	OCTL_OPT_FILTER = 256, /* --route, --to, --older-than, --newer-than */
	OCTL_OPT_TABLE = 512, /* --by, --days (stats) */
	OCTL_OPT__LAST = OCTL_OPT_TABLE,
	OCTL_OPT_ARGS = 1024, /* takes words after its name (not an option) */
};

extern const struct octl_cmd octl_cmd_status;
extern const struct octl_cmd octl_cmd_outbox;
extern const struct octl_cmd octl_cmd_creds;
extern const struct octl_cmd octl_cmd_config;
extern const struct octl_cmd octl_cmd_pin_hash;
extern const struct octl_cmd octl_cmd_deadletter;
extern const struct octl_cmd octl_cmd_stats;
extern const struct octl_cmd octl_cmd_probe;
extern const struct octl_cmd octl_cmd_templates;
extern const struct octl_cmd octl_cmd_consent;
/* consent.c: status's "consent" line (counters, non-zero first). */
void octl_show_consent(const cJSON *c, const char *indent);
extern const struct octl_cmd octl_cmd_forget;

/* remote.c: one signed request over MQTT. -1 with *resp set, or the exit
 * code after saying what went wrong. */
int octl_remote_call(const struct octl_opts *o, const char *req, char **resp);
extern const struct octl_cmd octl_cmd_logs;

/* One request to the daemon at path, one ok:true answer in *resp (caller
 * deletes). Returns -1 on success, else the exit code after saying on
 * stderr what went wrong (an ok:false answer included). */
int octl_call(const struct octl_opts *o, const char *path, const cJSON *req, cJSON **resp);

/* link.c: one request and its answer over the serial line o->serial.
 * Returns -1 when *resp (malloc'd, the reply's JSON with our "id") holds the
 * answer, else the exit code after saying what went wrong on stderr. */
int octl_serial_ask(const struct octl_opts *o, const char *req, char **resp);

/* Field readers: NULL / false when missing or of another type. */
const char *octl_str(const cJSON *obj, const char *key);
bool octl_num(const cJSON *obj, const char *key, double *out);

/* "12 s", "4 min", "2 h 5 min", "3 d 4 h"; compact drops the spaces and
 * keeps one unit: "12s", "4m", "2h", "3d". */
void octl_fmt_duration(char *buf, size_t len, double seconds, bool compact);
/* "512 B", "1.5 MiB". */
void octl_fmt_bytes(char *buf, size_t len, double bytes);

/* Prints s with control characters escaped, cut to maxcols columns (0: no
 * limit) with "..." when cut; pads with spaces to width. Returns the columns
 * printed before padding. */
size_t octl_put_text(FILE *f, const char *s, size_t maxcols, size_t width);
/* Columns s takes when printed by octl_put_text(). */
size_t octl_text_cols(const char *s);

/* Prints the numeric members of obj as "name N, name N", non-zero ones
 * first, zero ones on a second line as "(0: a, b)"; lines wrapped after
 * the indent. For outbox counts and counters of any future shape. */
void octl_put_counts(FILE *f, const cJSON *obj, const char *indent);

/* A progress bar on stderr for transfers (log pulls, config pushes): only
 * when stderr is a terminal and the transfer has run for 300 ms. */
struct octl_bar {
	uint64_t t0_ms; /* when the transfer began */
	bool shown;
};
void octl_bar_show(struct octl_bar *b, uint64_t done, uint64_t total, const char *unit);
void octl_bar_clear(struct octl_bar *b);

/* One line from the terminal with echo off, or the first line of stdin
 * when it is not a terminal; false if none or longer than len - 2. */
bool octl_read_secret(const char *prompt, char *buf, size_t len);
/* --pin: $OUTPOST_PIN, else as above; says what is missing. */
bool octl_read_pin(char *buf, size_t len);

/* Columns of the terminal on stdout, or 0 when it is not a terminal. */
size_t octl_term_cols(void);

#endif
