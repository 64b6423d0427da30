#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal/err.h"
#include "hal/file.h"
#include "hal/priv.h"

int hal_file_read(const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc = ERR_OK;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOTFOUND : errno == EACCES ? ERR_PERM : ERR_IO;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = ERR_IO;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = ERR_TOOBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = got;
out:
	free(buf);
	close(fd);
	return rc;
}

int hal_file_check_private(const char *path, char *why, size_t whylen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		return ERR_PERM;
	}
	if (!hal_priv_owner_ok((unsigned)st.st_uid)) {
		snprintf(why, whylen, "%s: owned by uid %u, not by the daemon's user (uid %u)",
			 path, (unsigned)st.st_uid, (unsigned)geteuid());
		return ERR_PERM;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen, "%s: mode %04o lets others read it; chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
		return ERR_PERM;
	}
	return ERR_OK;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ERR_IO;
	rc = fsync(fd) < 0 ? ERR_IO : ERR_OK;
	close(fd);
	return rc;
}

int hal_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, rc = ERR_IO;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return ERR_TOOBIG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return ERR_IO;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto out;
	return fsync_dir_of(path);
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int hal_dir_make(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return ERR_INVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return ERR_IO;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return ERR_IO;
	return ERR_OK;
}

int hal_file_read_private(const char *path, size_t max, char **out, size_t *len, char *why,
			  size_t whylen)
{
	int rc = hal_file_check_private(path, why, whylen);

	if (rc == ERR_OK && (rc = hal_file_read(path, max, out, len)) != ERR_OK)
		snprintf(why, whylen, "%s: %s", path, hal_strerror(rc));
	return rc;
}

int hal_file_read_secret(const char *path, void *buf, size_t len, char *why, size_t whylen)
{
	char *data = NULL;
	size_t got = 0;
	int rc = hal_file_read_private(path, len, &data, &got, why, whylen);

	if (rc == ERR_OK && got != len) {
		snprintf(why, whylen, "%s: holds %zu bytes, a key is %zu", path, got, len);
		rc = ERR_INVAL;
	} else if (rc == ERR_TOOBIG) {
		snprintf(why, whylen, "%s: longer than a key (%zu bytes)", path, len);
		rc = ERR_INVAL;
	}
	if (rc == ERR_OK)
		memcpy(buf, data, len);
	if (data) {
		explicit_bzero(data, got);
		free(data);
	}
	return rc;
}

int hal_file_rename(const char *from, const char *to)
{
	if (rename(from, to) < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	return fsync_dir_of(to);
}

int hal_file_shred(const char *path)
{
	static const char zeros[4096];
	struct stat st;
	off_t left;
	int fd, rc = ERR_IO;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	for (left = st.st_size; left > 0;) {
		ssize_t n = write(fd, zeros, left < (off_t)sizeof(zeros) ? (size_t)left : sizeof(zeros));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		left -= n;
	}
	if (fsync(fd) == 0 && unlink(path) == 0)
		rc = fsync_dir_of(path);
out:
	close(fd);
	return rc;
}
