/*
 * fuzz_fw.h - the daemon's struct fw as the fuzz targets need it.
 *
 * libFuzzer calls a target many times in one process, so the fixture is
 * built once, on first use: the configuration below (the end-to-end tests'
 * three routes plus two that reach the fan-out and pending-template paths),
 * a real LMDB store in a private temporary directory (on /dev/shm when it is
 * there, so a commit costs no disk flush) and a loop that is never run. No
 * broker link, no HTTP engine. Logging is off unless FUZZ_LOG is set. The
 * directory is removed at exit; a crashed run may leave it behind.
 *
 * The returned fw and everything in it live until the process ends.
 */
#ifndef TESTS_FUZZ_FUZZ_FW_H
#define TESTS_FUZZ_FUZZ_FW_H

struct fw;

/* The configuration text the fixture runs with (also a config seed). */
extern const char fuzz_fw_config[];

/* Aborts when the fixture cannot be built: a broken harness is a failure. */
struct fw *fuzz_fw_get(void);

/* Closes the store, deletes its files and opens it empty again. */
void fuzz_fw_store_reset(struct fw *fw);

/* Commits a few well-formed events, one of each route, so that listings
 * and counts have something to show. */
void fuzz_fw_store_seed(struct fw *fw);

#endif
