/*
 * powercut.c - LD_PRELOAD shim for the power-cut and I/O-error torture tests.
 *
 *   LD_PRELOAD=build/tests/powercut.so OUTPOST_PC_DIR=<store dir> ... outpostd -c ...
 *
 * It watches the regular files in OUTPOST_PC_DIR (data.mdb; lock.mdb and
 * outpost.lock are not durable state and are ignored) and counts the write
 * operations (write, pwrite, writev, pwritev, ftruncate) and flush operations
 * (fsync, fdatasync) done on them. The environment picks what it does:
 *
 *   OUTPOST_PC_CUT_AT=N     right after operation N, write what a power cut at
 *                           that moment could leave on disk into
 *                           OUTPOST_PC_OUT/<file name> and SIGKILL the process.
 *                           OUTPOST_PC_SEED picks which unflushed writes made it.
 *   OUTPOST_IOERR_AT=N      the Nth operation of kind OUTPOST_IOERR_OP (write;
 *                           fsync; meta: a write through an O_DSYNC fd; any, the
 *                           default) fails with EIO without doing anything; the
 *                           others succeed. With OUTPOST_IOERR_MODE=after it is
 *                           done, then reported as failed (as a kernel does
 *                           when writeback fails).
 *   OUTPOST_PC_COUNT=FILE   at exit, "ops=N writes=W syncs=S meta=M" into FILE (a
 *                           counting run, to choose N for the others).
 *
 * Without OUTPOST_PC_DIR every call goes straight to libc.
 *
 * The power-cut model. Per watched file the work dir (OUTPOST_PC_OUT.work)
 * holds <name>.durable, the file as it is on the platter: its content when
 * this process first opened it, plus everything up to the last fsync or
 * fdatasync of the file (through any fd). Writes since then are appended to
 * <name>.log, with an index of (offset, length) in memory; a flush replays
 * the log into .durable and empties it, so a flush costs the bytes written
 * since the last one, not a copy of the file. A write through an fd opened
 * O_DSYNC or O_SYNC (lmdb's meta page) is durable when it returns: it is
 * logged as "forced", so every image has it, in order after older unflushed
 * writes to the same bytes. At the cut, the image is .durable plus the log in
 * order: forced entries always, each other one dropped, written, torn (a
 * random subset of its 512-byte sectors) or cut short (a prefix of them).
 *
 * Internal I/O goes through the real functions (dlsym RTLD_NEXT) and static
 * buffers: no malloc, so nothing here recurses into an allocator. Calls on
 * unwatched fds take no lock. The shim keeps no state across exec.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PC_MAXFD 65536
#define PC_MAXFILES 8
/* Writes between two flushes of one file. One lmdb commit is a handful of
 * writev/pwrite calls, so this is far beyond any real batch; overflowing it
 * aborts loudly rather than produce a wrong image. */
#define PC_MAXENT 32768
#define PC_SECTOR 512
#define PC_COPYBUF (1 << 16)

/* fdtab[fd]: 0 = not watched, else file index + 1 in the low bits. */
#define FD_FILE 0x0f
#define FD_DSYNC 0x10
#define FD_APPEND 0x20

enum op_kind { OP_WRITE, OP_SYNC };
enum io_sel { SEL_ANY, SEL_WRITE, SEL_SYNC, SEL_META };

struct entry {
	off_t off;       /* file offset; new size for a truncate */
	uint64_t logoff; /* where its bytes are in <name>.log */
	uint32_t len;
	uint8_t forced;   /* written through an O_DSYNC fd: already durable */
	uint8_t truncate; /* an ftruncate to off */
};

struct pcfile {
	char name[NAME_MAX + 1];
	int durable_fd, log_fd;
	uint64_t log_end;
	unsigned n;
	struct entry ent[PC_MAXENT];
};

/* The real functions. */
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static off_t (*real_lseek)(int, off_t, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char fdtab[PC_MAXFD];
static struct pcfile files[PC_MAXFILES];
static unsigned n_files;

/* Configuration, read once in the constructor. */
static int enabled;
static char pc_dir[PATH_MAX];
static char pc_out[PATH_MAX];
static char pc_work[PATH_MAX];
static char pc_count[PATH_MAX];
static unsigned long long cut_at, ioerr_at;
static enum io_sel ioerr_sel;
static int ioerr_after;
static uint64_t rng;

static unsigned long long n_ops, n_writes, n_syncs, n_meta;
static unsigned char copybuf[PC_COPYBUF];

#define RESOLVE(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)

static void resolve(void)
{
	RESOLVE(open);
	RESOLVE(open64);
	RESOLVE(openat);
	RESOLVE(openat64);
	RESOLVE(close);
	RESOLVE(write);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(writev);
	RESOLVE(pwritev);
	RESOLVE(pwritev64);
	RESOLVE(pread);
	RESOLVE(lseek);
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(ftruncate);
	RESOLVE(ftruncate64);
}

/* Every wrapper starts here: an interposed call may come before our
 * constructor ran (from another library's constructor). */
#define NEED(name)                      \
	do {                            \
		if (!real_##name)       \
			resolve();      \
	} while (0)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "powercut[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (real_write(2, line, (size_t)n) < 0)
		return;
}

static void die(const char *what)
{
	say("%s: %s; giving up", what, strerror(errno));
	abort();
}

static uint64_t rnd(void)
{
	/* xorshift64*: enough for choosing sectors, reproducible from a seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 2685821657736338717ULL) >> 16;
}

static unsigned long long env_num(const char *name)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end) {
		say("%s=%s is not a number; ignored", name, v);
		return 0;
	}
	return n;
}

static int env_path(const char *name, char *dst)
{
	const char *v = getenv(name);

	if (!v || !*v || strlen(v) >= PATH_MAX)
		return 0;
	memcpy(dst, v, strlen(v) + 1);
	return 1;
}

__attribute__((constructor)) static void pc_init(void)
{
	const char *sel;
	int n;

	resolve();
	if (!env_path("OUTPOST_PC_DIR", pc_dir))
		return;
	cut_at = env_num("OUTPOST_PC_CUT_AT");
	ioerr_at = env_num("OUTPOST_IOERR_AT");
	env_path("OUTPOST_PC_COUNT", pc_count);
	sel = getenv("OUTPOST_IOERR_MODE");
	ioerr_after = sel && !strcmp(sel, "after");
	sel = getenv("OUTPOST_IOERR_OP");
	ioerr_sel = !sel ? SEL_ANY : !strcmp(sel, "write") ? SEL_WRITE
		    : !strcmp(sel, "fsync") ? SEL_SYNC : !strcmp(sel, "meta") ? SEL_META : SEL_ANY;
	if (cut_at) {
		if (!env_path("OUTPOST_PC_OUT", pc_out)) {
			say("OUTPOST_PC_CUT_AT without OUTPOST_PC_OUT: no cut");
			cut_at = 0;
		} else {
			n = snprintf(pc_work, sizeof(pc_work), "%s.work", pc_out);
			if (n < 0 || n >= (int)sizeof(pc_work))
				die("OUTPOST_PC_OUT too long");
			if ((mkdir(pc_out, 0700) < 0 && errno != EEXIST) ||
			    (mkdir(pc_work, 0700) < 0 && errno != EEXIST))
				die("cannot make the image and work dirs");
		}
	}
	rng = (env_num("OUTPOST_PC_SEED") + 1) * 0x9E3779B97F4A7C15ULL ^ cut_at;
	if (!rng)
		rng = 1;
	enabled = 1;
}

__attribute__((destructor)) static void pc_fini(void)
{
	char line[128];
	int fd, n;

	if (!enabled || !pc_count[0])
		return;
	fd = real_open(pc_count, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "ops=%llu writes=%llu syncs=%llu meta=%llu\n", n_ops,
		     n_writes, n_syncs, n_meta);
	if (real_write(fd, line, (size_t)n) < 0)
		say("cannot write %s", pc_count);
	real_close(fd);
}

/* ---- copying bytes between our files ---- */

static void copy_range(int from, uint64_t from_off, int to, off_t to_off, uint64_t len)
{
	while (len > 0) {
		size_t chunk = len < PC_COPYBUF ? (size_t)len : PC_COPYBUF;
		ssize_t r = real_pread(from, copybuf, chunk, (off_t)from_off);

		if (r <= 0)
			die("short read while copying");
		if (real_pwrite(to, copybuf, (size_t)r, to_off) != r)
			die("short write while copying");
		from_off += (uint64_t)r;
		to_off += r;
		len -= (uint64_t)r;
	}
}

static void copy_file(int from, int to)
{
	struct stat st;

	if (fstat(from, &st) < 0 || real_ftruncate(to, 0) < 0)
		die("copy_file");
	copy_range(from, 0, to, 0, (uint64_t)st.st_size);
	if (real_ftruncate(to, st.st_size) < 0)
		die("copy_file truncate");
}

static int work_open(const char *name, const char *suffix)
{
	char path[PATH_MAX + NAME_MAX + 16];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s%s", pc_work, name, suffix);
	if (n < 0 || n >= (int)sizeof(path))
		die("work path too long");
	fd = real_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	return fd;
}

/* ---- which files are watched ---- */

static int ignored_name(const char *name)
{
	return !strcmp(name, "lock.mdb") || !strcmp(name, "outpost.lock") || !*name;
}

/* Is PATH (relative to DIRFD) a file directly in OUTPOST_PC_DIR? Compares
 * the directory's inode, so any spelling of the path matches. */
static int in_pc_dir(int dirfd, const char *path, const char **base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat a, b;

	*base = slash ? slash + 1 : path;
	if (ignored_name(*base))
		return 0;
	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		if (n >= sizeof(dir))
			return 0;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (stat(pc_dir, &a) < 0 || fstatat(dirfd, dir, &b, 0) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int file_find(const char *name, int fd)
{
	char proc[64];
	struct pcfile *f;
	unsigned i;
	int src;

	for (i = 0; i < n_files; i++)
		if (!strcmp(files[i].name, name))
			return (int)i;
	if (n_files == PC_MAXFILES || strlen(name) > NAME_MAX) {
		say("too many files in %s, %s not watched", pc_dir, name);
		return -1;
	}
	f = &files[n_files];
	memcpy(f->name, name, strlen(name) + 1);
	f->durable_fd = f->log_fd = -1;
	if (cut_at) {
		/* What is there when we first see it counts as durable. The fd
		 * may be write-only (lmdb's meta fd): read through /proc. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		src = real_open(proc, O_RDONLY | O_CLOEXEC);
		if (src < 0)
			die(proc);
		f->durable_fd = work_open(name, ".durable");
		f->log_fd = work_open(name, ".log");
		copy_file(src, f->durable_fd);
		real_close(src);
	}
	return (int)n_files++;
}

static void entry_add(struct pcfile *f, off_t off, uint32_t len, int forced, int truncate)
{
	struct entry *e;

	if (f->n == PC_MAXENT) {
		errno = ENOSPC;
		die("too many unflushed writes");
	}
	e = &f->ent[f->n++];
	e->off = off;
	e->len = len;
	e->logoff = f->log_end;
	e->forced = (uint8_t)forced;
	e->truncate = (uint8_t)truncate;
	f->log_end += len;
}

static void after_open(int dirfd, const char *path, int flags, int fd)
{
	const char *base;
	struct stat st;
	int i;

	if (!enabled || fd < 0)
		return;
	if (!in_pc_dir(dirfd, path, &base) || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (fd >= PC_MAXFD) {
		say("fd %d for %s is beyond the table: not watched", fd, base);
		return;
	}
	pthread_mutex_lock(&lock);
	i = file_find(base, fd);
	if (i >= 0) {
		if (cut_at && (flags & O_TRUNC))
			entry_add(&files[i], 0, 0, 0, 1);
		__atomic_store_n(&fdtab[fd],
				 (unsigned char)((i + 1) | ((flags & O_DSYNC) ? FD_DSYNC : 0) |
						 ((flags & O_APPEND) ? FD_APPEND : 0)),
				 __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
}

static int watched(int fd)
{
	if (!enabled || fd < 0 || fd >= PC_MAXFD)
		return 0;
	return __atomic_load_n(&fdtab[fd], __ATOMIC_ACQUIRE);
}

/* ---- the power-cut image ---- */

/* One logged write, or the parts of it that reach the disk. */
static void replay(struct pcfile *f, const struct entry *e, int to, int choose)
{
	uint64_t first, last, s, lo, hi, keep_prefix = 0;
	int mode = 1;

	if (e->truncate) {
		if ((!choose || e->forced || rnd() % 2) && real_ftruncate(to, e->off) < 0)
			die("replay truncate");
		return;
	}
	if (e->len == 0)
		return;
	if (choose && !e->forced)
		mode = (int)(rnd() % 4); /* 0 dropped, 1 written, 2 torn, 3 cut short */
	if (mode == 0)
		return;
	if (mode == 1) {
		copy_range(f->log_fd, e->logoff, to, e->off, e->len);
		return;
	}
	first = (uint64_t)e->off / PC_SECTOR;
	last = ((uint64_t)e->off + e->len - 1) / PC_SECTOR;
	if (mode == 3)
		keep_prefix = rnd() % (last - first + 1);
	for (s = first; s <= last; s++) {
		if (mode == 2 ? rnd() % 2 == 0 : s - first >= keep_prefix)
			continue;
		lo = s * PC_SECTOR < (uint64_t)e->off ? (uint64_t)e->off : s * PC_SECTOR;
		hi = (s + 1) * PC_SECTOR;
		if (hi > (uint64_t)e->off + e->len)
			hi = (uint64_t)e->off + e->len;
		copy_range(f->log_fd, e->logoff + (lo - (uint64_t)e->off), to, (off_t)lo, hi - lo);
	}
}

/* fsync/fdatasync: everything written so far is on the platter. */
static void flush_file(struct pcfile *f)
{
	for (unsigned i = 0; i < f->n; i++)
		replay(f, &f->ent[i], f->durable_fd, 0);
	f->n = 0;
	f->log_end = 0;
	if (real_ftruncate(f->log_fd, 0) < 0)
		die("log truncate");
}

static void power_cut(const char *what, int fileidx)
{
	char path[PATH_MAX + NAME_MAX + 2];
	unsigned i, k, forced = 0, pending = 0;
	int fd, n;

	for (i = 0; i < n_files; i++) {
		struct pcfile *f = &files[i];

		n = snprintf(path, sizeof(path), "%s/%s", pc_out, f->name);
		if (n < 0 || n >= (int)sizeof(path))
			die("image path too long");
		fd = real_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			die(path);
		copy_file(f->durable_fd, fd);
		for (k = 0; k < f->n; k++) {
			replay(f, &f->ent[k], fd, 1);
			forced += f->ent[k].forced;
		}
		pending += f->n;
		real_close(fd);
	}
	say("power cut after op %llu (%s on %s), %u unflushed writes (%u forced); image in %s",
	    n_ops, what, files[fileidx].name, pending, forced, pc_out);
	kill(getpid(), SIGKILL);
	_exit(137); /* not reached */
}

/* ---- the counting and the faults ---- */

/* Called with the lock held, before the operation. 1: fail it with EIO. */
static int op_begin(enum op_kind kind, int w)
{
	int meta = kind == OP_WRITE && (w & FD_DSYNC);

	n_ops++;
	if (kind == OP_WRITE)
		n_writes++;
	else
		n_syncs++;
	n_meta += meta;
	if (!ioerr_at)
		return 0;
	switch (ioerr_sel) {
	case SEL_ANY: return n_ops == ioerr_at;
	case SEL_WRITE: return kind == OP_WRITE && n_writes == ioerr_at;
	case SEL_SYNC: return kind == OP_SYNC && n_syncs == ioerr_at;
	case SEL_META: return meta && n_meta == ioerr_at;
	}
	return 0;
}

static unsigned long long nth_of_sel(void)
{
	switch (ioerr_sel) {
	case SEL_WRITE: return n_writes;
	case SEL_SYNC: return n_syncs;
	case SEL_META: return n_meta;
	default: return n_ops;
	}
}

static ssize_t inject(const char *what, int w)
{
	say("EIO injected into %s #%llu (op %llu) on %s%s", what, nth_of_sel(), n_ops,
	    files[(w & FD_FILE) - 1].name, ioerr_after ? ", after doing it" : "");
	pthread_mutex_unlock(&lock);
	errno = EIO;
	return -1;
}

/* Called with the lock held, after the operation. */
static void op_end(const char *what, int w)
{
	if (cut_at && n_ops == cut_at)
		power_cut(what, (w & FD_FILE) - 1);
	pthread_mutex_unlock(&lock);
}

/* The offset a write() or writev() on fd will go to. */
static off_t cur_off(int fd, int w)
{
	struct stat st;

	if (w & FD_APPEND)
		return fstat(fd, &st) < 0 ? 0 : st.st_size;
	return real_lseek(fd, 0, SEEK_CUR);
}

static void log_bytes(int w, off_t off, const struct iovec *iov, int iovcnt, ssize_t done)
{
	struct pcfile *f;
	uint64_t at;
	size_t left;

	if (!cut_at || done <= 0 || off < 0)
		return;
	f = &files[(w & FD_FILE) - 1];
	at = f->log_end;
	entry_add(f, off, (uint32_t)done, (w & FD_DSYNC) != 0, 0);
	left = (size_t)done;
	for (int i = 0; i < iovcnt && left > 0; i++) {
		size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;

		if (real_pwrite(f->log_fd, iov[i].iov_base, n, (off_t)at) != (ssize_t)n)
			die("log write");
		at += n;
		left -= n;
	}
}

/* All the write calls end here for a watched fd. off < 0: at the fd's
 * position. fn does the real call. */
static ssize_t do_write(int fd, int w, const char *what, const struct iovec *iov, int iovcnt,
			off_t off, ssize_t (*fn)(int, const struct iovec *, int, off_t))
{
	ssize_t r;
	int e, fault;

	pthread_mutex_lock(&lock);
	fault = op_begin(OP_WRITE, w);
	if (fault && !ioerr_after)
		return inject(what, w);
	if (off < 0)
		off = cut_at ? cur_off(fd, w) : -1;
	r = fn(fd, iov, iovcnt, off);
	e = errno;
	log_bytes(w, off, iov, iovcnt, r);
	if (fault)
		return inject(what, w);
	op_end(what, w);
	errno = e;
	return r;
}

static ssize_t call_write(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	(void)iovcnt;
	(void)off;
	return real_write(fd, iov[0].iov_base, iov[0].iov_len);
}

static ssize_t call_pwrite(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	(void)iovcnt;
	return real_pwrite(fd, iov[0].iov_base, iov[0].iov_len, off);
}

static ssize_t call_writev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	(void)off;
	return real_writev(fd, iov, iovcnt);
}

static ssize_t call_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return real_pwritev(fd, iov, iovcnt, off);
}

static int do_sync(int fd, int w, const char *what, int (*fn)(int))
{
	int r, e, fault;

	pthread_mutex_lock(&lock);
	fault = op_begin(OP_SYNC, w);
	if (fault && !ioerr_after)
		return (int)inject(what, w);
	r = fn(fd);
	e = errno;
	if (r == 0 && cut_at)
		flush_file(&files[(w & FD_FILE) - 1]);
	if (fault)
		return (int)inject(what, w);
	op_end(what, w);
	errno = e;
	return r;
}

static int do_truncate(int fd, int w, off_t len, int (*fn)(int, off_t))
{
	int r, e, fault;

	pthread_mutex_lock(&lock);
	fault = op_begin(OP_WRITE, w);
	if (fault && !ioerr_after)
		return (int)inject("ftruncate", w);
	r = fn(fd, len);
	e = errno;
	if (r == 0 && cut_at)
		entry_add(&files[(w & FD_FILE) - 1], len, 0, (w & FD_DSYNC) != 0, 1);
	if (fault)
		return (int)inject("ftruncate", w);
	op_end("ftruncate", w);
	errno = e;
	return r;
}

/* ---- the interposed functions ---- */

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	NEED(open);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	fd = real_open(path, flags, mode);
	after_open(AT_FDCWD, path, flags, fd);
	return fd;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	NEED(open64);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	fd = real_open64(path, flags, mode);
	after_open(AT_FDCWD, path, flags, fd);
	return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	NEED(openat);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	fd = real_openat(dirfd, path, flags, mode);
	after_open(dirfd, path, flags, fd);
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	NEED(openat64);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	fd = real_openat64(dirfd, path, flags, mode);
	after_open(dirfd, path, flags, fd);
	return fd;
}

int close(int fd)
{
	NEED(close);
	if (watched(fd))
		__atomic_store_n(&fdtab[fd], 0, __ATOMIC_RELEASE);
	return real_close(fd);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	struct iovec iov = {(void *)buf, n};
	int w;

	NEED(write);
	if (!(w = watched(fd)))
		return real_write(fd, buf, n);
	return do_write(fd, w, "write", &iov, 1, -1, call_write);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct iovec iov = {(void *)buf, n};
	int w;

	NEED(pwrite);
	if (!(w = watched(fd)))
		return real_pwrite(fd, buf, n, off);
	return do_write(fd, w, "pwrite", &iov, 1, off, call_pwrite);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	NEED(pwrite64);
	if (!watched(fd))
		return real_pwrite64(fd, buf, n, off);
	return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	int w;

	NEED(writev);
	if (!(w = watched(fd)))
		return real_writev(fd, iov, iovcnt);
	return do_write(fd, w, "writev", iov, iovcnt, -1, call_writev);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	int w;

	NEED(pwritev);
	if (!(w = watched(fd)))
		return real_pwritev(fd, iov, iovcnt, off);
	return do_write(fd, w, "pwritev", iov, iovcnt, off, call_pwritev);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	NEED(pwritev64);
	if (!watched(fd))
		return real_pwritev64(fd, iov, iovcnt, off);
	return pwritev(fd, iov, iovcnt, off);
}

int fsync(int fd)
{
	int w;

	NEED(fsync);
	if (!(w = watched(fd)))
		return real_fsync(fd);
	return do_sync(fd, w, "fsync", real_fsync);
}

int fdatasync(int fd)
{
	int w;

	NEED(fdatasync);
	if (!(w = watched(fd)))
		return real_fdatasync(fd);
	return do_sync(fd, w, "fdatasync", real_fdatasync);
}

int ftruncate(int fd, off_t len)
{
	int w;

	NEED(ftruncate);
	if (!(w = watched(fd)))
		return real_ftruncate(fd, len);
	return do_truncate(fd, w, len, real_ftruncate);
}

int ftruncate64(int fd, off_t len)
{
	int w;

	NEED(ftruncate64);
	if (!(w = watched(fd)))
		return real_ftruncate64(fd, len);
	return do_truncate(fd, w, len, real_ftruncate64);
}
