/*
 * priv.h - running as our own user (DESIGN.md invariant 12).
 *
 * Started as root with a configured user, the daemon first opens what
 * needs root (the store, the device key, the control socket, the serial
 * port), gives the user what it made (hal_priv_give), then drops for good
 * (hal_priv_drop): the user's supplementary groups (initgroups, so that
 * "dialout" opens serial ports), its group, its uid - and checks that root
 * cannot be had back. Under a service manager that starts us as the user
 * already there is nothing to drop.
 *
 * While still root, files owned by the user we are about to become count as
 * our own for hal_file_check_private() (hal_priv_expect): a secrets file the
 * operator gave to that user is then importable whichever way we started.
 */
#ifndef HAL_PRIV_H
#define HAL_PRIV_H

#include <stdbool.h>
#include <stddef.h>

struct hal_priv_id {
	unsigned uid, gid;
	char user[64];
};

/* The uid of `user` and the gid of `group`, or of the user's own group when
 * group is NULL. ERR_NOTFOUND with why naming what does not exist; ERR_IO
 * if the user database could not be read. */
int hal_priv_lookup(const char *user, const char *group, struct hal_priv_id *id, char *why,
		    size_t whylen);

/* Files owned by id->uid count as ours while we run as root (NULL: none). */
void hal_priv_expect(const struct hal_priv_id *id);
/* Whether a file owned by uid is the daemon's own: our effective uid, or,
 * as root, the uid we are about to become. */
bool hal_priv_owner_ok(unsigned uid);

/* Gives path (itself, never a symlink's target) to id. ERR_OK; ERR_PERM,
 * ERR_NOTFOUND, ERR_IO with why. */
int hal_priv_give(const struct hal_priv_id *id, const char *path, char *why, size_t whylen);

/* Becomes id for good: initgroups, setgid, setuid, then checks the real,
 * effective and saved ids and that setuid(0) and setgid(0) now fail.
 * ERR_OK; ERR_PERM with why when any step fails (then stop: we might be
 * half-dropped). Already running as id (not root): ERR_OK, nothing done. */
int hal_priv_drop(const struct hal_priv_id *id, char *why, size_t whylen);

#endif
