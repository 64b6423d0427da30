/*
 * store_impl.h - internals shared by the files of store/ (and white-box
 * tests). Nothing outside store/ includes this: the rest of the daemon sees
 * only the opaque structs of store.h.
 */
#ifndef STORE_STORE_IMPL_H
#define STORE_STORE_IMPL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/log.h"
#include "store/store.h"

/* The named DBs, all opened once in store_open() so that a txn never has to
 * open one (mdb_dbi_open inside a txn that later aborts loses the handle). */
enum store_db {
	STORE_DB_MSG,   /* seq (8B BE) -> encoded record */
	STORE_DB_DUE,   /* due_ms (8B BE) ++ seq (8B BE) -> empty */
	STORE_DB_STATE, /* state (1B) ++ seq (8B BE) -> empty */
	STORE_DB_DEDUP, /* event id -> seq (8B BE) */
	STORE_DB_META,  /* "schema", "seq/last", "count/<state>" -> BE integers */
	STORE_DB_SID,   /* provider message id -> seq (8B BE) of the record it belongs to */
	STORE_DB_SOURCE, /* event source -> its publisher's last sequence number and counts */
	STORE_DB_VAULT,  /* secret name -> sealed value (store/vault.h) */
	STORE_DB_LOG,    /* log seq (8B BE) -> encoded log record (logring.h) */
	STORE_DB_TEMPLATES, /* account NUL template key -> approval as last synced (templates.h) */
	STORE_DB_TRACK,  /* seq (8B BE) -> delivery status of a sent record (status.h) */
	STORE_DB_POLL,   /* next poll ms (8B BE) ++ seq (8B BE) -> empty (status.h) */
	STORE_DB_RECEIPT, /* receipt id (8B BE) -> topic NUL payload, until PUBACKed */
	STORE_DB_LEDGER, /* E.164 number -> consent, its source and time, last inbound (ledger.h) */
	STORE_DB_INBOUND, /* inbound message id -> wall ms handled (8B BE): poll/webhook dedup */
	STORE_DB_DUE_URGENT, /* the due index's lanes of the other priorities, */
	STORE_DB_DUE_HIGH,   /* keyed as STORE_DB_DUE (the normal lane) */
	STORE_DB_DUE_LOW,
	STORE_DB_FLOOD, /* flood control's windows and hourly counts (flood.h) */
	STORE_DB_CHAIN,    /* escalation chain id (8B BE) -> chain (chain.h) */
	STORE_DB_CHAINDUE, /* at ms (8B BE) ++ chain id (8B BE) -> empty (chain.h) */
	STORE_DB_CHAINREF, /* 'e' event id / 't' E.164, NUL, chain id -> empty (chain.h) */
	STORE_DB_STATS,  /* day (4B BE) ++ route NUL account NUL -> counters per day (stats.h) */
	STORE_DB__COUNT
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DB__COUNT];
	int lock_fd;
	/* Records are encoded here before mdb_put: the caller's strings may
	 * point into the very pages the put rewrites. Grows to the largest
	 * record written, bounded by STORE_REC_MAX. */
	unsigned char *scratch;
	size_t scratch_cap;
	struct hal_ratelimit full_rl;
	void *map; /* lmdb's read-only map of data.mdb, for store_release_pages */
	size_t map_len;
	size_t max_bytes; /* store.max_size_mb: the map grows up to this */
	unsigned open_txns; /* the map may only be resized with none open */
	struct store_commit_hook hook; /* store_set_commit_hook */
	struct store_watch watch;      /* store_set_watch */
	uint64_t commits; /* store_commits */
	uint64_t write_txns; /* store_write_txns */
	uint64_t txns;       /* store_txns */
	unsigned writes; /* write ops: store_wtxn releases the map every STORE_RELEASE_WRITES */
	bool in_hook;
	char dir[4096];
};

struct store_txn {
	struct store *s;
	MDB_txn *txn;
	struct store_txn *parent; /* a nested txn's (store_begin_nested) */
	int err; /* first error of a write op: the txn can only be aborted */
	bool rdonly;
	bool dirty; /* a write op ran: the commit will write (and run the hook) */
	unsigned depth; /* 1 for a top-level write txn, 2 for one nested in it, ... */
};

/* Tells the watch (store_set_watch) that record m moved from old_state
 * (0: it is new) in t. */
void store_watch_note(struct store_txn *t, const struct store_msg *m, int old_state);

/* A write op reads its way down the B-tree through the map, and each page
 * read there maps 64 KiB around it (store_commit): a commit of a batch of
 * 256 events touched 2 to 3 MiB of the map. Every this many write ops the
 * map is released mid-txn too (safe at any time: store_release_pages). */
#define STORE_RELEASE_WRITES 32

/* The txn handle for a write op: every mdb_put, mdb_del and cursor opened
 * to write goes through here, so that store_commit knows the txn writes. */
static inline MDB_txn *store_wtxn(struct store_txn *t)
{
	t->dirty = true;
	if (++t->s->writes % STORE_RELEASE_WRITES == 0)
		store_release_pages(t->s);
	return t->txn;
}

/* Translates an lmdb return code to ERR_*, logging mdb_strerror() once
 * (MDB_NOTFOUND is not logged: it is an answer, not a failure). A failure
 * in a write txn poisons it (see store.h). */
int store_mdb_err(struct store_txn *t, int rc, const char *what);

static inline MDB_dbi store_dbi(const struct store_txn *t, enum store_db db)
{
	return t->s->dbi[db];
}

/* A big-endian u64 in the meta DB under name: 0 when absent; ERR_STORE
 * (logged) for a value of another size. */
int store_meta_get(struct store_txn *t, const char *name, uint64_t *v);
int store_meta_put(struct store_txn *t, const char *name, uint64_t v);

/* ERR_OK if t can take a write op: ERR_INVAL for a read txn, the
 * poisoning error for a failed one. */
int store_txn_writable(struct store_txn *t);
/* The due index's lanes, highest priority first, and the one a record
 * belongs in by its priority (outbox.c). */
#define STORE_DUE_LANES 4
extern const enum store_db store_due_lanes[STORE_DUE_LANES];
struct store_msg;
enum store_db store_due_lane(const struct store_msg *m);

/* A time index (8B BE ms ++ 8B BE seq -> empty: due, poll): seqs of the
 * entries at or before now_ms, earliest first, at most max; *next_ms is the
 * time of the first one not returned, -1 if none. `what` names it in
 * errors ("due", "poll"). */
int store_index_due(struct store_txn *t, enum store_db db, const char *what, int64_t now_ms,
		    unsigned max, uint64_t *seqs, unsigned *n, int64_t *next_ms);

/* Big-endian helpers: the on-disk format is the same on armhf, arm64, x86. */
void store_be64_put(unsigned char *p, uint64_t v);
uint64_t store_be64_get(const unsigned char *p);

#endif
