/*
 * daemon.h - what main() needs of the daemon: run it, or check a config.
 */
#ifndef FW_DAEMON_H
#define FW_DAEMON_H

struct cfg;
struct cfg_secrets;

/* outpostd's exit statuses (documented in its --help and docs/INSTALL.md;
 * the systemd unit does not restart on 3 and 4: a restart cannot fix them). */
enum {
	FW_EXIT_OK = 0,      /* clean stop, or a valid config (-t) */
	FW_EXIT_FAILURE = 1, /* runtime failure: restart me */
	FW_EXIT_USAGE = 2,   /* bad command line */
	FW_EXIT_CONFIG = 3,  /* invalid config or secrets; "user"/"group" that does not exist */
	FW_EXIT_PRIV = 4,    /* could not become "user" (not started as root or as it) */
};

/* Runs outpostd in the foreground until SIGTERM/SIGINT; returns one of the
 * exit statuses above. */
int fw_daemon_run(const char *cfg_path);

/* Loads and validates config and secrets, logging every problem with its
 * JSON path. ERR_OK or ERR_CONFIG. */
int fw_load_config(const char *path, struct cfg **cfg, struct cfg_secrets **sec);

#endif
