/*
 * store.h - the LMDB environment that holds everything outpostd must not lose.
 *
 * One struct store per process owns one LMDB env in one directory, opened
 * with LMDB's default durability (no NOSYNC, NOMETASYNC or WRITEMAP): when
 * store_commit() returns ERR_OK the transaction is on disk, and only then may
 * an MQTT event be acknowledged. A flock'd lock file in the directory keeps a
 * second daemon off the same store (LMDB itself would let two writers in).
 *
 * A struct store_txn is a read or write transaction. Only one write txn runs
 * at a time; read txns may run alongside it in the same thread (the env is
 * opened MDB_NOTLS). Pointers that store_* functions return into the map stay
 * valid until the txn that produced them ends, like lmdb's MDB_val.
 *
 * Once any write operation fails, the txn is poisoned: later operations fail
 * with the same code and store_commit() aborts and returns it. ERR_FULL (map
 * or disk full) is the backpressure signal: abort, stop acknowledging MQTT.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_txn;

enum { STORE_RDONLY = 1 };

/* Opens or creates the store in `dir` (created 0700) with a map of at most
 * max_size_mb MiB. ERR_EXISTS if another process (or another store_open in
 * this one) holds the store; ERR_INVAL, ERR_IO, ERR_PERM, ERR_NOMEM,
 * ERR_STORE. Clears reader slots left by dead processes. */
int store_open(const char *dir, unsigned max_size_mb, struct store **out);
void store_close(struct store *s); /* accepts NULL; no txn may be open */

/* Gives the store's directory and files to id (hal/priv.h), before a
 * daemon started as root drops to its user: LMDB keeps its fds, but the
 * user must be able to open them at its next start. ERR_OK or why. */
struct hal_priv_id;
int store_give(struct store *s, const struct hal_priv_id *id, char *why, size_t whylen);

/* A write txn unless flags has STORE_RDONLY. */
int store_begin(struct store *s, unsigned flags, struct store_txn **out);
/* Frees t either way. ERR_OK (durable); ERR_FULL for a full map or disk;
 * ERR_STORE for anything else (EIO, MDB_PANIC: restart the daemon); or the
 * error that poisoned the txn earlier. A read txn just ends. */
int store_commit(struct store_txn *t);
void store_abort(struct store_txn *t); /* accepts NULL */

/*
 * Flash wear: every commit rewrites whole pages (each touched B-tree's path,
 * lmdb's catalog and free list, a meta page) and costs two flushes, so
 * writes that can wait ride along with a commit made anyway. `before` runs
 * inside store_commit() of every top-level write txn that wrote something,
 * just before lmdb commits it, and adds what waits, each part in its own
 * nested txn so that a failure leaves t as its caller made it; `after` then
 * gets the commit's result (ERR_OK: what rode along is durable). Neither
 * runs for a commit made inside them. One hook per store; NULL removes it.
 */
struct store_commit_hook {
	void (*before)(struct store_txn *t, void *arg);
	void (*after)(int err, void *arg);
	void *arg;
};
void store_set_commit_hook(struct store *s, const struct store_commit_hook *h);
/*
 * Statistics follow the records without a write of their own: `changed`
 * runs inside every store_outbox_add (old_state 0) and every
 * store_outbox_update that moved a record to another state, in a write txn
 * `depth` deep (1: top-level, 2: nested in it, ...); `ended` runs when a
 * write txn of that depth ends, kept = committed (into its parent for a
 * nested one, durably for a top-level one) or not (aborted, failed). So the
 * watcher can keep what it saw per depth and drop what was undone.
 * Neither may use the store. One watch per store; NULL removes it.
 */
struct store_msg;
struct store_watch {
	void (*changed)(void *arg, unsigned depth, const struct store_msg *m, int old_state);
	void (*ended)(void *arg, unsigned depth, bool kept);
	void *arg;
};
void store_set_watch(struct store *s, const struct store_watch *w);
/* A write txn inside parent (lmdb's nested txn): parent must not be used
 * until it ends; store_commit() folds it into parent (durable only with
 * parent's commit), store_abort() undoes it alone. */
int store_begin_nested(struct store_txn *parent, struct store_txn **out);
/* fn(c, arg) in a nested txn c of t: committed into t if fn returns ERR_OK,
 * undone otherwise. fn's error, or the nested commit's. */
int store_nested_run(struct store_txn *t, int (*fn)(struct store_txn *c, void *arg), void *arg);
/* Top-level commits that wrote something, since open: what was read from
 * the store is still true while this has not moved. */
uint64_t store_commits(const struct store *s);
/* Top-level write transactions begun, since open, whether they wrote or
 * not: even one that changes nothing takes LMDB's writer lock, which
 * dirties a page of its lock file (and so, within half a minute, the
 * flash). An idle daemon begins none. */
uint64_t store_write_txns(const struct store *s);
/* Top-level transactions begun, read-only ones too: a read txn takes a
 * reader slot in the same lock file page. */
uint64_t store_txns(const struct store *s);
/* 1 for a top-level write txn, 2 for one nested in it, ...; 0 for a read
 * txn or NULL. */
unsigned store_txn_depth(const struct store_txn *t);
/* Whether a write op ran in t (a commit of t would write). */
bool store_txn_dirty(const struct store_txn *t);

/* Room for new data. used = the file's high-water mark; room = bytes new
 * data can still take: up to max (store.max_size_mb), bounded by the disk's
 * free space less a reserve, plus free pages inside the file when that is
 * short of `need`. */
struct store_space {
	uint64_t used, map, max, disk_free, room;
	bool disk_limited; /* the disk, not max, is what bounds room */
};
int store_space(struct store *s, uint64_t need, struct store_space *sp);
/* store_space, and grows the map (doubling, up to max) when fewer than
 * `need` bytes are left in it. Call with no txn open. ERR_OK if `need`
 * bytes of room are there, ERR_FULL if not (the caller pauses ingest). */
int store_make_room(struct store *s, uint64_t need, struct store_space *sp);
/* Clears reader slots of dead processes (run at open and periodically). */
int store_reader_check(struct store *s);

/* used_bytes is the high-water mark of the data file (pages ever used, free
 * pages inside it included); map_bytes is the size limit. */
int store_size(struct store *s, uint64_t *used_bytes, uint64_t *map_bytes);
/* Unmaps the store pages this process touched (they stay in the page
 * cache); keeps the daemon's resident set from growing with the store. */
void store_release_pages(struct store *s);
const char *store_lmdb_version(void); /* mdb_version() text */

#endif
