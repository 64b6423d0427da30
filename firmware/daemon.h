/*
 * daemon.h - what main() needs of the daemon: run it, or check a config.
 */
#ifndef FW_DAEMON_H
#define FW_DAEMON_H

struct cfg;
struct cfg_secrets;

/* Runs outpostd in the foreground until SIGTERM/SIGINT; returns the exit
 * status: 0 after a clean stop, 1 on a runtime failure, 3 on a bad config. */
int fw_daemon_run(const char *cfg_path);

/* Loads and validates config and secrets, logging every problem with its
 * JSON path. ERR_OK or ERR_CONFIG. */
int fw_load_config(const char *path, struct cfg **cfg, struct cfg_secrets **sec);

#endif
