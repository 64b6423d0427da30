/*
 * store.c - the LMDB environment: open/close, transactions, error codes.
 *
 * Durability is LMDB's default on purpose (reference/reliability.md §1.2):
 * NOMETASYNC could undo the last commit after a power cut, and that commit
 * holds events whose PUBACK already went out. Throughput comes from the
 * caller grouping a read batch into one txn, not from weaker flags. WRITEMAP
 * is avoided because a full disk then raises SIGBUS instead of ENOSPC.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "hal/crash.h"
#include "hal/err.h"
#include "hal/file.h"
#include "hal/log.h"
#include "hal/priv.h"
#include "store/store_impl.h"

/* Adding a DB needs no new schema: dbs_open() creates one missing from an
 * older store, and an older daemon never opens it (the log ring came so).
 * Unless an older daemon would then miss records: schema 3 put the due
 * index's lanes of other priorities beside the normal one ("due"), which a
 * schema-2 daemon would never send from. A schema-2 store is a schema-3
 * store with every record normal: opening one upgrades it by writing 3. */
#define STORE_SCHEMA 3
#define STORE_SCHEMA_UPGRADES 2 /* the oldest schema opened (and upgraded) */
/* The outbox DBs plus room for the ledger, log ring and vault to come. */
#define STORE_MAXDBS 32
#define STORE_LOCK_NAME "outpost.lock"
#ifdef OUTPOST_CRASH_POINTS
/* Crash builds start small so that tests reach map growth quickly. */
#define STORE_MAP_MIN ((size_t)1 << 20)
#else
#define STORE_MAP_MIN ((size_t)8 << 20)
#endif
/* Left free on the disk for the rest of the system. */
#define STORE_DISK_RESERVE ((uint64_t)4 << 20)

static const char *const db_names[STORE_DB__COUNT] = {
	[STORE_DB_MSG] = "msg",     [STORE_DB_DUE] = "due",   [STORE_DB_STATE] = "state",
	[STORE_DB_DEDUP] = "dedup", [STORE_DB_META] = "meta",   [STORE_DB_SID] = "sid",
	[STORE_DB_SOURCE] = "source", [STORE_DB_VAULT] = "vault", [STORE_DB_LOG] = "log",
	[STORE_DB_TEMPLATES] = "templates",
	[STORE_DB_TRACK] = "track",   [STORE_DB_POLL] = "poll", [STORE_DB_RECEIPT] = "receipt",
	[STORE_DB_LEDGER] = "ledger", [STORE_DB_INBOUND] = "inbound",
	[STORE_DB_DUE_URGENT] = "due/urgent", [STORE_DB_DUE_HIGH] = "due/high",
	[STORE_DB_DUE_LOW] = "due/low", [STORE_DB_FLOOD] = "flood",
	[STORE_DB_CHAIN] = "chain", [STORE_DB_CHAINDUE] = "chaindue", [STORE_DB_CHAINREF] = "chainref",
	[STORE_DB_STATS] = "stats",
};

void store_be64_put(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

uint64_t store_be64_get(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int translate(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return ERR_OK;
	case MDB_NOTFOUND: return ERR_NOTFOUND;
	case MDB_KEYEXIST: return ERR_EXISTS;
	case MDB_MAP_FULL:
	case ENOSPC: return ERR_FULL;
	/* Too many dirty pages in one txn: the batch is too big, the store is
	 * not full. The caller commits smaller batches. */
	case MDB_TXN_FULL: return ERR_LIMIT;
	case MDB_BAD_VALSIZE: return ERR_TOOBIG;
	case ENOMEM: return ERR_NOMEM;
	case EACCES:
	case EPERM: return ERR_PERM;
	default: return ERR_STORE;
	}
}

int store_mdb_err(struct store_txn *t, int rc, const char *what)
{
	int err = translate(rc);

	/* Answers, not failures: lmdb leaves the txn usable after these. */
	if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
		return err;
	/* While full, every ingest batch hits this until space comes back:
	 * log it once in a while, the daemon's backpressure state says the rest. */
	if (err == ERR_FULL && t) {
		if (hal_ratelimit_ok(&t->s->full_rl, 1, 60000))
			log_warn("store: %s: %s", what, mdb_strerror(rc));
	} else {
		log_err("store: %s: %s", what, mdb_strerror(rc));
	}
	if (t && !t->rdonly && t->err == ERR_OK)
		t->err = err;
	return err;
}

int store_txn_writable(struct store_txn *t)
{
	if (!t || t->rdonly)
		return ERR_INVAL;
	return t->err;
}

/* flock, not fcntl: fcntl locks belong to the process, so a second open in
 * the same process would not see the first, and closing any fd on the file
 * would drop them (the same reason lmdb forbids opening one env twice). */
static int lock_take(const char *dir, int *fd_out)
{
	char path[4096];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(path))
		return ERR_INVAL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("store: %s: %s", path, strerror(errno));
		return errno == EACCES ? ERR_PERM : ERR_IO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK) {
			log_err("store: %s is in use by another outpostd (lock %s held)", dir, path);
			return ERR_EXISTS;
		}
		log_err("store: flock %s: %s", path, strerror(e));
		return ERR_IO;
	}
	/* The pid is for the operator wondering who holds it; a failed write
	 * does not weaken the lock. */
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%ld\n", (long)getpid());
	*fd_out = fd;
	return ERR_OK;
}

/*
 * Where lmdb mapped the data file: lmdb reports the address only for
 * MDB_FIXEDMAP, so find the mapping of the file's inode in /proc/self/maps.
 * Called after open and after every map resize (which moves the map).
 */
static void map_find(struct store *s)
{
	unsigned long start, end, ino;
	char line[512];
	struct stat st;
	int fd = -1;
	FILE *f;

	s->map = NULL;
	s->map_len = 0;
	if (mdb_env_get_fd(s->env, &fd) != MDB_SUCCESS || fstat(fd, &st) < 0)
		return;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &start, &end, &ino) == 3 &&
		    ino == (unsigned long)st.st_ino && end - start > s->map_len) {
			s->map = (void *)start;
			s->map_len = end - start;
		}
	fclose(f);
}

/*
 * lmdb maps the whole map size in one piece, and a failed remap leaves its
 * env with no map at all (the next txn would fault). A 32-bit process has
 * about 3 GiB of address space for everything, so whether a size fits is
 * asked first: a PROT_NONE, NORESERVE mapping commits no memory.
 */
static bool map_fits(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return false;
	munmap(p, len);
	return true;
}

/* The largest map that fits now, in MiB, for the message that says so. */
static unsigned map_fits_mb(unsigned hi)
{
	unsigned lo = 0;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo + 1) / 2;

		if (map_fits((size_t)mid << 20))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* The map starts at twice the data already there (at least STORE_MAP_MIN)
 * and grows on demand up to max_bytes (store_make_room): a small store
 * keeps a small address-space footprint, which matters on 32-bit armhf. */
static size_t initial_map(const char *dir, size_t max_bytes)
{
	char path[4096];
	struct stat st;
	size_t want = STORE_MAP_MIN;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) < sizeof(path) &&
	    stat(path, &st) == 0 && (size_t)st.st_size * 2 > want)
		want = ((size_t)st.st_size * 2 + STORE_MAP_MIN - 1) / STORE_MAP_MIN * STORE_MAP_MIN;
	return want < max_bytes ? want : max_bytes;
}

static int env_try(struct store *s, const char *dir)
{
	int rc = mdb_env_create(&s->env);

	if (rc == MDB_SUCCESS)
		rc = mdb_env_set_mapsize(s->env, initial_map(dir, s->max_bytes));
	if (rc == MDB_SUCCESS)
		rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS);
	/* NOTLS: a read txn (outpostctl listing) may run beside the write txn
	 * in the one daemon thread. NORDAHEAD (madvise MADV_RANDOM on the
	 * map): a page read does not map the pages around it too, which only
	 * grew the resident set (the outbox is read by index, not in runs).
	 * No durability flag is weakened here. */
	if (rc == MDB_SUCCESS)
		rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600);
	if (rc != MDB_SUCCESS && s->env) {
		mdb_env_close(s->env);
		s->env = NULL;
	}
	return rc;
}

#define LMDB_MAGIC 0xBEEFC0DEu
#define LMDB_P_META 0x08
/*
 * lmdb's file format follows the word size: a page starts with a size_t
 * page number (then pad and flags, u16 each, and lower/upper) and MDB_meta
 * holds magic and version (u32), address, mapsize, two MDB_db (a u32, two
 * u16, five size_t each), last_pg, then txnid. So a store written by a
 * 64-bit build (x86_64, arm64) is not an lmdb file to a 32-bit one (armhf)
 * and the other way round: lmdb says MDB_INVALID. W is the writer's word
 * size in bytes.
 */
#define LMDB_FLAGS_OFF(w) ((w) + 2)
#define LMDB_MAGIC_OFF(w) ((w) + 8)
#define LMDB_TXNID_OFF(w) (LMDB_MAGIC_OFF(w) + 8 + 2 * (w) + 2 * (8 + 5 * (w)) + (w))

/* The word size (4 or 8) of the build that wrote the meta page at PAGE,
 * 0 if it is no meta page; *txnid its txnid (little-endian targets only). */
static unsigned meta_word(int fd, off_t page, uint64_t *txnid)
{
	static const unsigned words[] = {sizeof(size_t), sizeof(size_t) == 8 ? 4 : 8};
	unsigned char id[8];
	uint32_t magic;
	uint16_t flags;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		unsigned w = words[i];

		if (pread(fd, &flags, sizeof(flags), page + LMDB_FLAGS_OFF(w)) != sizeof(flags) ||
		    !(flags & LMDB_P_META) ||
		    pread(fd, &magic, sizeof(magic), page + LMDB_MAGIC_OFF(w)) != sizeof(magic) ||
		    magic != LMDB_MAGIC || pread(fd, id, w, page + LMDB_TXNID_OFF(w)) != (ssize_t)w)
			continue;
		*txnid = 0;
		for (unsigned b = w; b-- > 0;)
			*txnid = *txnid << 8 | id[b];
		return w;
	}
	return 0;
}

/*
 * lmdb creates a store by writing its two meta pages without a flush; only
 * the first commit's fdatasync and meta write make a store durable. A power
 * cut before that can leave a file in which neither meta page is valid, and
 * lmdb answers MDB_INVALID forever. Nothing was ever committed to such a
 * file (a committed store has a flushed meta page with a txnid above 0), so
 * it is moved aside - kept for a post-mortem, never deleted - and the store
 * is created again. A store from a build of another word size is refused
 * as it is: it is whole, only not readable here.
 */
static int set_aside_unborn(const char *dir)
{
	char path[4096], aside[4160];
	long psize = sysconf(_SC_PAGESIZE);
	unsigned w[2] = {0, 0};
	uint64_t txnid[2] = {0, 0};
	struct stat st;
	bool committed;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >= sizeof(path))
		return ERR_STORE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ERR_STORE;
	/* Shorter than its two meta pages: creation never finished either. */
	if (fstat(fd, &st) == 0 && st.st_size >= 2 * psize) {
		w[0] = meta_word(fd, 0, &txnid[0]);
		w[1] = meta_word(fd, psize, &txnid[1]);
	}
	close(fd);
	for (int i = 0; i < 2; i++)
		if (w[i] && w[i] != sizeof(size_t)) {
			log_err("store: %s was written by a %u-bit build of outpostd; this one is "
				"%u-bit, and lmdb's file format follows the word size, so it cannot read "
				"it. Nothing was changed: drain it with a %u-bit build, or give this one "
				"another store.path",
				path, w[i] * 8, (unsigned)sizeof(size_t) * 8, w[i] * 8);
			return ERR_STORE;
		}
	committed = (w[0] && txnid[0] > 0) || (w[1] && txnid[1] > 0);
	if (committed)
		return ERR_STORE; /* a real store, damaged otherwise: not ours to move */
	snprintf(aside, sizeof(aside), "%s.unborn-%lld", path, (long long)time(NULL));
	if (rename(path, aside) < 0)
		return ERR_STORE;
	log_warn("store: %s has no valid meta page: it was cut off while being created and "
		 "never committed; moved to %s, creating the store again", path, aside);
	return ERR_OK;
}

static int env_open(struct store *s, const char *dir)
{
	int rc = env_try(s, dir);

	if (rc == MDB_INVALID && set_aside_unborn(dir) == ERR_OK)
		rc = env_try(s, dir);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, dir);
	rc = store_reader_check(s);
	return rc;
}

int store_reader_check(struct store *s)
{
	int rc, dead = 0;

	/* A process killed inside a read txn leaves its reader slot behind, and
	 * a stale slot stops lmdb from reusing freed pages: the file grows. */
	rc = mdb_reader_check(s->env, &dead);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "reader check");
	if (dead > 0)
		log_warn("store: cleared %d reader slot(s) left by dead processes", dead);
	return ERR_OK;
}

int store_meta_get(struct store_txn *t, const char *name, uint64_t *v)
{
	MDB_val key = {strlen(name), (void *)name}, val;
	int rc;

	*v = 0;
	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_META], &key, &val);
	if (rc == MDB_NOTFOUND)
		return ERR_OK;
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, name);
	if (val.mv_size != 8) {
		log_err("store: meta %s is corrupt (%zu bytes)", name, val.mv_size);
		return ERR_STORE;
	}
	*v = store_be64_get(val.mv_data);
	return ERR_OK;
}

int store_meta_put(struct store_txn *t, const char *name, uint64_t v)
{
	unsigned char buf[8];
	MDB_val key = {strlen(name), (void *)name}, val = {sizeof(buf), buf};

	store_be64_put(buf, v);
	return store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_META], &key, &val, 0), name);
}

/* A store written by a later format must not be half-understood. */
static int schema_check(struct store_txn *t)
{
	MDB_val key = {6, "schema"}, val;
	unsigned char buf[8];
	int rc;

	rc = mdb_get(t->txn, t->s->dbi[STORE_DB_META], &key, &val);
	if (rc == MDB_NOTFOUND) {
		store_be64_put(buf, STORE_SCHEMA);
		val.mv_size = sizeof(buf);
		val.mv_data = buf;
		rc = mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_META], &key, &val, 0);
		return store_mdb_err(t, rc, "schema put");
	}
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, "schema get");
	if (val.mv_size != 8 || store_be64_get(val.mv_data) < STORE_SCHEMA_UPGRADES ||
	    store_be64_get(val.mv_data) > STORE_SCHEMA) {
		log_err("store: unknown schema (this outpostd knows schemas %d to %d; a later "
			"outpostd wrote this store)", STORE_SCHEMA_UPGRADES, STORE_SCHEMA);
		return ERR_STORE;
	}
	if (store_be64_get(val.mv_data) == STORE_SCHEMA)
		return ERR_OK;
	log_info("store: schema %" PRIu64 " upgraded to %d (priority lanes in the due index)",
		 store_be64_get(val.mv_data), STORE_SCHEMA);
	store_be64_put(buf, STORE_SCHEMA);
	val.mv_size = sizeof(buf);
	val.mv_data = buf;
	return store_mdb_err(t, mdb_put(store_wtxn(t), t->s->dbi[STORE_DB_META], &key, &val, 0),
			     "schema put");
}

/* All DBs are opened once, in one txn, so no later txn opens a handle that
 * an abort would then lose. */
static int dbs_open(struct store *s)
{
	struct store_txn *t = NULL;
	int err, rc = MDB_SUCCESS;

	err = store_begin(s, 0, &t);
	if (err != ERR_OK)
		goto out;
	for (int i = 0; i < STORE_DB__COUNT && rc == MDB_SUCCESS; i++)
		rc = mdb_dbi_open(t->txn, db_names[i], MDB_CREATE, &s->dbi[i]);
	err = store_mdb_err(t, rc, "open DBs");
	if (err == ERR_OK)
		err = schema_check(t);
	if (err == ERR_OK) {
		err = store_commit(t);
		t = NULL;
	}
out:
	store_abort(t);
	return err;
}

int store_open(const char *dir, unsigned max_size_mb, struct store **out)
{
	struct store *s = NULL;
	int err;

	*out = NULL;
	if (!dir || !*dir || max_size_mb == 0)
		return ERR_INVAL;
	/* A map that a 32-bit size_t cannot express (4 GiB and more). */
	if (((size_t)max_size_mb << 20) >> 20 != max_size_mb) {
		log_err("store: store.max_size_mb %u is more than a %u-bit process can address; "
			"lower store.max_size_mb", max_size_mb, (unsigned)sizeof(size_t) * 8);
		return ERR_LIMIT;
	}
	err = hal_dir_make(dir, 0700);
	if (err != ERR_OK) {
		log_err("store: cannot create %s: %s", dir, hal_strerror(err));
		goto out;
	}
	err = ERR_NOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->lock_fd = -1;
	s->max_bytes = (size_t)max_size_mb << 20;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (!map_fits(s->max_bytes)) {
		log_err("store: store.max_size_mb %u cannot be mapped: this %u-bit process has at "
			"most %u MiB of address space in one piece; lower store.max_size_mb",
			max_size_mb, (unsigned)sizeof(size_t) * 8, map_fits_mb(max_size_mb));
		err = ERR_LIMIT;
		goto out;
	}
	err = lock_take(dir, &s->lock_fd);
	if (err == ERR_OK)
		err = env_open(s, dir);
	if (err == ERR_OK)
		err = dbs_open(s);
	if (err == ERR_OK) {
		map_find(s);
		*out = s;
		s = NULL;
	}
out:
	store_close(s);
	return err;
}

int store_give(struct store *s, const struct hal_priv_id *id, char *why, size_t whylen)
{
	static const char *const names[] = {"", "data.mdb", "lock.mdb", STORE_LOCK_NAME};
	char path[sizeof(s->dir) + 32];
	int err = ERR_OK;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && err == ERR_OK; i++) {
		snprintf(path, sizeof(path), "%s%s%s", s->dir, *names[i] ? "/" : "", names[i]);
		err = hal_priv_give(id, path, why, whylen);
	}
	return err;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	/* Closing the fd drops the flock: only after lmdb is done with dir. */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->scratch);
	free(s);
}

static int txn_begin(struct store *s, struct store_txn *parent, unsigned flags,
		     struct store_txn **out)
{
	struct store_txn *t;
	int rc, err = ERR_OK;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ERR_NOMEM;
	t->s = s;
	t->parent = parent;
	t->rdonly = (flags & STORE_RDONLY) != 0;
	t->depth = t->rdonly ? 0 : parent ? parent->depth + 1 : 1;
	rc = mdb_txn_begin(s->env, parent ? parent->txn : NULL, t->rdonly ? MDB_RDONLY : 0, &t->txn);
	if (rc != MDB_SUCCESS) {
		err = store_mdb_err(NULL, rc, "begin");
		free(t);
		goto out;
	}
	s->open_txns++;
	s->write_txns += !parent && !t->rdonly;
	s->txns += !parent;
	*out = t;
out:
	return err;
}

int store_begin(struct store *s, unsigned flags, struct store_txn **out)
{
	return txn_begin(s, NULL, flags, out);
}

int store_begin_nested(struct store_txn *parent, struct store_txn **out)
{
	int err = store_txn_writable(parent);

	*out = NULL;
	return err == ERR_OK ? txn_begin(parent->s, parent, 0, out) : err;
}

int store_nested_run(struct store_txn *t, int (*fn)(struct store_txn *c, void *arg), void *arg)
{
	struct store_txn *c = NULL;
	int rc = store_begin_nested(t, &c);

	if (rc == ERR_OK)
		rc = fn(c, arg);
	return rc == ERR_OK ? store_commit(c) : (store_abort(c), rc);
}

uint64_t store_commits(const struct store *s)
{
	return s ? s->commits : 0;
}

uint64_t store_write_txns(const struct store *s)
{
	return s ? s->write_txns : 0;
}

uint64_t store_txns(const struct store *s)
{
	return s ? s->txns : 0;
}

unsigned store_txn_depth(const struct store_txn *t)
{
	return t ? t->depth : 0;
}

bool store_txn_dirty(const struct store_txn *t)
{
	return t && t->dirty;
}

void store_set_commit_hook(struct store *s, const struct store_commit_hook *h)
{
	s->hook = h ? *h : (struct store_commit_hook){0};
}

void store_set_watch(struct store *s, const struct store_watch *w)
{
	s->watch = w ? *w : (struct store_watch){0};
}

void store_watch_note(struct store_txn *t, const struct store_msg *m, int old_state)
{
	if (t->s->watch.changed && t->depth)
		t->s->watch.changed(t->s->watch.arg, t->depth, m, old_state);
}

static void watch_ended(struct store *s, unsigned depth, bool kept)
{
	if (s->watch.ended && depth)
		s->watch.ended(s->watch.arg, depth, kept);
}

/*
 * A commit reads the B-tree pages it changes through the map, and the
 * kernel maps 64 KiB around each page faulted in (fault-around; MADV_RANDOM
 * does not stop it): a burst of commits touched 8 to 16 MiB of the map
 * between two of upkeep's releases, once a second. So each commit that
 * wrote, and each txn's end, releases the map too: what stays mapped is
 * what the txns still open touched. The next commit faults the B-trees' upper pages
 * back in from the page cache (a few faults, microseconds).
 */
int store_commit(struct store_txn *t)
{
	struct store *s;
	bool hooked;
	unsigned depth;
	int rc, err;

	if (!t)
		return ERR_INVAL;
	s = t->s;
	depth = t->depth;
	hooked = t->err == ERR_OK && t->dirty && !t->parent && s->hook.before && !s->in_hook;
	if (hooked) {
		s->in_hook = true;
		s->hook.before(t, s->hook.arg);
	}
	err = t->err;
	if (err != ERR_OK) {
		/* lmdb would refuse it anyway (MDB_BAD_TXN); the first error is
		 * the one the caller can act on. */
		mdb_txn_abort(t->txn);
		goto out;
	}
	rc = mdb_txn_commit(t->txn);
	err = store_mdb_err(t, rc, "commit");
	if (t->parent) {
		/* A nested commit only merges into the parent: a failure there
		 * (ENOMEM, too many dirty pages) leaves the parent as it was. */
		if (err == ERR_OK)
			t->parent->dirty |= t->dirty;
		goto out;
	}
	/* Anything but a full map or disk means the env may be poisoned
	 * (MDB_PANIC after a failed meta write): restart, don't retry. */
	if (err != ERR_OK && err != ERR_FULL)
		err = ERR_STORE;
	if (err == ERR_OK && t->dirty) {
		s->commits++;
		store_release_pages(s);
	}
out:
	s->open_txns--;
	free(t);
	if (hooked) {
		if (s->hook.after)
			s->hook.after(err, s->hook.arg);
		s->in_hook = false;
	}
	watch_ended(s, depth, err == ERR_OK);
	return err;
}

void store_abort(struct store_txn *t)
{
	struct store *s;
	unsigned depth;

	if (!t)
		return;
	s = t->s;
	depth = t->depth;
	mdb_txn_abort(t->txn);
	s->open_txns--;
	if (!t->parent) /* a read txn's pages too (see store_commit) */
		store_release_pages(s);
	free(t);
	watch_ended(s, depth, false);
}

/* Pages on lmdb's freelist (DB 0): reused before the file grows. Each value
 * is a page-number list whose first word is its length. Some may still be
 * held by a reader; as an estimate of room that is close enough. */
static uint64_t freelist_bytes(struct store *s, unsigned psize)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t pages = 0;
	int rc;

	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != MDB_SUCCESS)
		return 0;
	if (mdb_cursor_open(txn, 0, &c) == MDB_SUCCESS) {
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			size_t n;

			if (v.mv_size < sizeof(size_t))
				continue;
			memcpy(&n, v.mv_data, sizeof(n));
			pages += n;
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	return pages * psize;
}

int store_space(struct store *s, uint64_t need, struct store_space *sp)
{
	MDB_envinfo info;
	MDB_stat st;
	struct statvfs vfs;
	uint64_t grow;
	int rc;

	memset(sp, 0, sizeof(*sp));
	rc = mdb_env_info(s->env, &info);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_stat(s->env, &st);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "space");
	sp->used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	sp->map = info.me_mapsize;
	sp->max = s->max_bytes;
	if (statvfs(s->dir, &vfs) == 0) {
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		sp->disk_free = avail > STORE_DISK_RESERVE ? avail - STORE_DISK_RESERVE : 0;
	}
	grow = sp->max > sp->used ? sp->max - sp->used : 0;
	if (grow > sp->disk_free) {
		grow = sp->disk_free;
		sp->disk_limited = true;
	}
	sp->room = grow;
	if (grow < need) /* near the end: count the free pages inside too */
		sp->room += freelist_bytes(s, st.ms_psize);
	return ERR_OK;
}

/* The address space has no room for a bigger map: the store is full at the
 * map it has (backpressure, invariant 10) and says why, once a minute. */
static int map_no_room(struct store *s, uint64_t want, struct store_space *sp)
{
	if (hal_ratelimit_ok(&s->full_rl, 1, 60000))
		log_warn("store: cannot grow the map from %llu to %llu MiB: this %u-bit process "
			 "has no room that large in its address space; the store is full at "
			 "%llu MiB, below store.max_size_mb %llu; lower store.max_size_mb",
			 (unsigned long long)(sp->map >> 20), (unsigned long long)(want >> 20),
			 (unsigned)sizeof(size_t) * 8, (unsigned long long)(sp->map >> 20),
			 (unsigned long long)(s->max_bytes >> 20));
	return ERR_FULL;
}

/* The remap failed anyway (the probe raced something): lmdb's env has no
 * map left, so it is opened again at the size it had, which is then the
 * limit. No txn is open (store_make_room's condition). */
static int map_reopen(struct store *s, int rc, uint64_t want, struct store_space *sp)
{
	int err;

	log_err("store: growing the map to %llu MiB: %s; opening the store again at %llu MiB",
		(unsigned long long)(want >> 20), mdb_strerror(rc),
		(unsigned long long)(sp->map >> 20));
	mdb_env_close(s->env);
	s->env = NULL;
	s->map = NULL;
	s->max_bytes = (size_t)sp->map;
	err = env_open(s, s->dir);
	if (err == ERR_OK)
		err = dbs_open(s);
	if (err != ERR_OK)
		return err;
	map_find(s);
	return ERR_FULL;
}

int store_make_room(struct store *s, uint64_t need, struct store_space *sp)
{
	int rc = store_space(s, need, sp);
	uint64_t want;

	if (rc != ERR_OK)
		return rc;
	/* Grow the map ahead of the data, doubling, within max_bytes. lmdb
	 * remaps: only allowed with no txn open in this process. */
	if (sp->map - sp->used < need && sp->map < sp->max && s->open_txns == 0) {
		want = sp->map * 2 > sp->used + need ? sp->map * 2 : sp->used + need;
		want = (want + STORE_MAP_MIN - 1) / STORE_MAP_MIN * STORE_MAP_MIN;
		if (want > sp->max)
			want = sp->max;
		OUTPOST_CRASH_POINT("store-map-grow");
		/* lmdb unmaps the old map before it maps the new one: the old
		 * one's room counts. Probed first, as a failed remap is fatal. */
		if (!map_fits((size_t)want) && !map_fits((size_t)(want - sp->map)))
			return map_no_room(s, want, sp);
		rc = mdb_env_set_mapsize(s->env, (size_t)want);
		if (rc != MDB_SUCCESS)
			return map_reopen(s, rc, want, sp);
		map_find(s);
		log_info("store: map grown from %llu to %llu MiB (limit %llu MiB)",
			 (unsigned long long)(sp->map >> 20), (unsigned long long)(want >> 20),
			 (unsigned long long)(sp->max >> 20));
		sp->map = want;
	}
	return sp->room >= need ? ERR_OK : ERR_FULL;
}

int store_size(struct store *s, uint64_t *used_bytes, uint64_t *map_bytes)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	rc = mdb_env_info(s->env, &info);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_stat(s->env, &st);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(NULL, rc, "size");
	*used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*map_bytes = info.me_mapsize;
	return ERR_OK;
}

/*
 * Every page a txn reads stays mapped into this process, and counted in its
 * RSS, until the kernel wants the memory back: after a pass over a 60 MB
 * backlog the daemon would show 60 MB resident, and the OOM killer weighs
 * file-backed RSS like any other. The pages themselves stay in the page
 * cache; dropping our mapping of them is safe at any time because the map
 * is read-only and shared (no WRITEMAP): a later read faults the same bytes
 * back in from the cache.
 */
void store_release_pages(struct store *s)
{
	if (s->map)
		madvise(s->map, s->map_len, MADV_DONTNEED);
}

const char *store_lmdb_version(void)
{
	return mdb_version(NULL, NULL, NULL);
}

int store_index_due(struct store_txn *t, enum store_db db, const char *what, int64_t now_ms,
		    unsigned max, uint64_t *seqs, unsigned *n, int64_t *next_ms)
{
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc, err = ERR_OK;

	*n = 0;
	*next_ms = -1;
	if (!t || (max && !seqs))
		return ERR_INVAL;
	rc = mdb_cursor_open(t->txn, store_dbi(t, db), &c);
	if (rc != MDB_SUCCESS)
		return store_mdb_err(t, rc, what);
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		int64_t at;

		if (key.mv_size != 16) {
			log_err("store: %s index key of %zu bytes is corrupt", what, key.mv_size);
			err = ERR_STORE;
			break;
		}
		at = (int64_t)store_be64_get(key.mv_data);
		if (at > now_ms || *n >= max) {
			*next_ms = at;
			break;
		}
		seqs[(*n)++] = store_be64_get((unsigned char *)key.mv_data + 8);
	}
	if (err == ERR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = store_mdb_err(t, rc, what);
	mdb_cursor_close(c);
	return err;
}
