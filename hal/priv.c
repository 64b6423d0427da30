/*
 * priv.c - becoming our own user (hal/priv.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "hal/err.h"
#include "hal/priv.h"

/* getpwnam_r/getgrnam_r want room for the entry's strings; 16 KiB holds a
 * group with a few hundred members. */
#define PWBUF 16384

static struct {
	bool set;
	unsigned uid;
} expect;

/* A failed getpwnam_r/getgrnam_r: e == 0 means there is no such name. */
static int lookup_failed(const char *kind, const char *name, int e, char *why, size_t whylen)
{
	if (e == 0) {
		snprintf(why, whylen, "%s \"%s\" does not exist", kind, name);
		return ERR_NOTFOUND;
	}
	snprintf(why, whylen, "%s \"%s\": %s", kind, name, strerror(e));
	return ERR_IO;
}

int hal_priv_lookup(const char *user, const char *group, struct hal_priv_id *id, char *why,
		    size_t whylen)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char *buf = malloc(PWBUF);
	int e, rc = ERR_OK;

	if (!buf)
		return ERR_NOMEM;
	e = getpwnam_r(user, &pw, buf, PWBUF, &pwp);
	if (!pwp) {
		rc = lookup_failed("user", user, e, why, whylen);
		goto out;
	}
	id->uid = (unsigned)pw.pw_uid;
	id->gid = (unsigned)pw.pw_gid;
	snprintf(id->user, sizeof(id->user), "%s", user);
	if (group) {
		e = getgrnam_r(group, &gr, buf, PWBUF, &grp);
		if (grp)
			id->gid = (unsigned)gr.gr_gid;
		else
			rc = lookup_failed("group", group, e, why, whylen);
	}
out:
	free(buf);
	return rc;
}

void hal_priv_expect(const struct hal_priv_id *id)
{
	expect.set = id != NULL;
	expect.uid = id ? id->uid : 0;
}

bool hal_priv_owner_ok(unsigned uid)
{
	return uid == (unsigned)geteuid() || (geteuid() == 0 && expect.set && uid == expect.uid);
}

int hal_priv_give(const struct hal_priv_id *id, const char *path, char *why, size_t whylen)
{
	if (fchownat(AT_FDCWD, path, (uid_t)id->uid, (gid_t)id->gid, AT_SYMLINK_NOFOLLOW) == 0)
		return ERR_OK;
	snprintf(why, whylen, "chown %s to %s: %s", path, id->user, strerror(errno));
	return errno == ENOENT ? ERR_NOTFOUND : errno == EPERM ? ERR_PERM : ERR_IO;
}

/* Root must be out of reach now: every id is the target's, and asking for
 * uid or gid 0 back fails. */
static int check_dropped(const struct hal_priv_id *id, char *why, size_t whylen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) {
		snprintf(why, whylen, "cannot read our ids back: %s", strerror(errno));
		return ERR_PERM;
	}
	if (ru != id->uid || eu != id->uid || su != id->uid || rg != id->gid || eg != id->gid ||
	    sg != id->gid) {
		snprintf(why, whylen, "ids after the drop are uid %u/%u/%u gid %u/%u/%u, not %u/%u",
			 (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg,
			 (unsigned)sg, id->uid, id->gid);
		return ERR_PERM;
	}
	if (id->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(why, whylen, "root could be regained after becoming %s", id->user);
		return ERR_PERM;
	}
	if (id->gid != 0 && (setgid(0) == 0 || setegid(0) == 0)) {
		snprintf(why, whylen, "group root could be regained after becoming %s", id->user);
		return ERR_PERM;
	}
	return ERR_OK;
}

int hal_priv_drop(const struct hal_priv_id *id, char *why, size_t whylen)
{
	if (geteuid() != 0) {
		if (geteuid() == id->uid && getuid() == id->uid)
			return ERR_OK; /* started as the user (systemd's User=) */
		snprintf(why, whylen, "running as uid %u, which cannot become %s (uid %u): start "
			 "as root or as %s", (unsigned)geteuid(), id->user, id->uid, id->user);
		return ERR_PERM;
	}
	/* Groups first: once the uid is gone, they cannot be changed. */
	if (initgroups(id->user, (gid_t)id->gid) < 0) {
		snprintf(why, whylen, "initgroups(%s): %s", id->user, strerror(errno));
		return ERR_PERM;
	}
	if (setresgid((gid_t)id->gid, (gid_t)id->gid, (gid_t)id->gid) < 0) {
		snprintf(why, whylen, "setgid(%u): %s", id->gid, strerror(errno));
		return ERR_PERM;
	}
	if (setresuid((uid_t)id->uid, (uid_t)id->uid, (uid_t)id->uid) < 0) {
		snprintf(why, whylen, "setuid(%u): %s", id->uid, strerror(errno));
		return ERR_PERM;
	}
	if (check_dropped(id, why, whylen) != ERR_OK)
		return ERR_PERM;
	/* The uid change made us undumpable, which a process started as the
	 * user (systemd's User=) is not: that shuts out only the user's own
	 * processes - none but us, and they could read the device key file
	 * anyway - and it breaks LeakSanitizer's stop-the-world (a ptrace
	 * from a clone) in the sanitizer builds of the tests. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) {
		snprintf(why, whylen, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return ERR_PERM;
	}
	return ERR_OK;
}
