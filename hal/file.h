/*
 * file.h - files: bounded reads, secret-file checks, atomic writes, dirs.
 */
#ifndef HAL_FILE_H
#define HAL_FILE_H

#include <stddef.h>

/* Reads a whole file of at most `max` bytes into a NUL-terminated malloc'd
 * buffer (*out, caller frees). ERR_TOOBIG if larger, ERR_NOTFOUND, ERR_IO. */
int hal_file_read(const char *path, size_t max, char **out, size_t *len);

/* ERR_OK only if `path` is a regular file owned by the effective user (or,
 * as root, by the user we are about to become: hal_priv_owner_ok) with no
 * permission bits for group or others (mode 0600 or 0400). */
int hal_file_check_private(const char *path, char *why, size_t whylen);

/* Writes data to path atomically: temp file, fsync, rename, dir fsync. */
int hal_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* hal_file_check_private, then hal_file_read; why names the path and the
 * problem. For files that hold secrets (wipe *out before freeing it). */
int hal_file_read_private(const char *path, size_t max, char **out, size_t *len, char *why,
			  size_t whylen);

/* Reads a key file of exactly len bytes, refused unless private (as above).
 * ERR_OK; ERR_NOTFOUND; ERR_PERM; ERR_INVAL (wrong size); ERR_IO. why names
 * the path and the problem, never the contents. */
int hal_file_read_secret(const char *path, void *buf, size_t len, char *why, size_t whylen);

/* rename(2), then fsync of the target's directory. ERR_NOTFOUND, ERR_IO. */
int hal_file_rename(const char *from, const char *to);

/* Overwrites a regular file with zeros, fsyncs, unlinks it and fsyncs its
 * directory: a plaintext secret file does not outlive its import in the
 * file system (the flash's own remapping is beyond reach). */
int hal_file_shred(const char *path);

/* mkdir -p with `mode` for the directories it creates. */
int hal_dir_make(const char *path, unsigned mode);

#endif
