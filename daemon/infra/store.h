/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The durable state: one SQLite file in WAL mode (synchronous=NORMAL), whose
 * WAL store_commit() flushes with fdatasync before it returns, so what a
 * commit acknowledged survives a power cut. The schema is a list of
 * numbered migrations applied in order at open (PRAGMA user_version), each in
 * its own transaction. Every change the core makes runs inside
 * store_begin()/store_commit(); store_rollback() undoes it whole.
 */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct Store Store;

/* Opens (creating when absent, with its parent folder) and migrates. */
int store_open(const char *path, Store **ret, CbError *err);
/* For tests and tools only (tests/tools/make-old-store): opens like
 * store_open() but migrates no further than schema version `version`, so
 * that a test can write rows in the shape an older cloudbrokerd wrote them
 * and then upgrade them with store_open(). Only store_exec()/store_run() of
 * SQL for that shape are meant for such a store: the rest of the daemon
 * expects the latest schema. Refuses (CB_ERR_INVALID) a version below 0 or
 * above store_latest_version(), and (CB_ERR_CONFLICT) a file whose schema
 * is already past it, leaving that schema as it is (a schema never goes
 * back); a file at exactly that version is opened as it is. */
int store_open_at_version(const char *path, int version, Store **ret, CbError *err);
Store *store_free(Store *s);
/* A second, read-only connection to s's database, for one other thread
 * (a worker streaming a long read off the loop): it sees the state as of
 * its own read transactions (WAL: the writer never waits for it). Shares
 * nothing with s; free it on the thread that used it. */
int store_open_reader(Store *s, Store **ret, CbError *err);
/* A second read-write connection to s's database, for one other thread
 * that writes much (a worker storing a closed statement's slices): each of
 * its transactions holds SQLite's one write lock, so s's next write waits
 * for it (busy_timeout, 5 s): keep them short. It commits at
 * synchronous=NORMAL (in the WAL, not yet fdatasync'd): what it writes must
 * count only once a durable commit of s refers to it, which syncs the WAL
 * and so every frame before. No migrations; shares nothing with s; free it
 * on the thread that used it. */
int store_open_writer(Store *s, Store **ret, CbError *err);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
/* Copies what the WAL holds into the database file as far as no reader
 * needs it (a passive checkpoint): after much was written, so that the next
 * commit on the loop does not do it. 0, or -EIO. */
int store_checkpoint(Store *s);
/* What the WAL is cut back to when it restarts after a checkpoint (bytes):
 * above the ~4 MiB that automatic checkpoints let it reach, so ordinary
 * work reuses it in place, and a big close does not leave it large. */
#define STORE_WAL_LIMIT 16777216
/* The page cache of the loop's connection, at most (KiB; store.c says why). */
#define STORE_CACHE_KIB 32768

/* A number no other Store of this process had or will have: what an
 * in-process memo of the database's contents is keyed by, since a freed
 * store's address may come back for another file. */
uint64_t store_serial(const Store *s);

sqlite3 *store_db(Store *s);
int store_schema_version(Store *s);
/* Number of migrations this build knows. */
int store_latest_version(void);

/* Transactions nest (inner levels are savepoints); every begin is paired
 * with one commit or one rollback, which undoes that level only. */
int store_begin(Store *s);
int store_commit(Store *s);
void store_rollback(Store *s);

/* Work that must wait until the current changes are durable: runs after
 * the outermost commit (result 0), or is cancelled (result < 0) when its
 * level is rolled back or the commit fails. Runs at once when no
 * transaction is open. */
typedef void (*StoreDeferredFn)(void *userdata, int result);
int store_defer(Store *s, StoreDeferredFn fn, void *userdata);

/* Relaxed durability, for a change the broker can learn again from
 * elsewhere (a provider's answer to a request whose own record is durable):
 * between begin and end, an outermost commit outside a batch returns once
 * its frames are written to the WAL, before they are fdatasync'd. A killed
 * daemon (kill -9) loses nothing: the frames are in the kernel's cache. A
 * power loss can lose the last relaxed commits, never a part of one, and
 * never one older than a later durable commit (the WAL is synced in order).
 * A commit with work queued by store_defer() is durable regardless.
 * store_sync() makes every relaxed commit durable (a WAL checkpoint): call it
 * before telling the world what the database holds (an audit anchor). */
void store_relaxed_begin(Store *s);
void store_relaxed_end(Store *s);
int store_sync(Store *s);
/* True while a relaxed commit may not be on disk. */
bool store_unsynced(Store *s);
/* How many times the WAL was flushed (fdatasync) since the store opened:
 * one per durable commit, none per relaxed one. */
uint64_t store_sync_count(const Store *s);
/* A number that changes whenever rows may have changed other than through
 * the statements a caller ran since it last looked: a rollback of any level,
 * a failed commit, raw SQL (store_exec). What a module keeps in memory of
 * rows it wrote itself (the audit head) is good while this stays the same. */
uint64_t store_epoch(const Store *s);

/* A read-only stretch of several queries as one read transaction: one
 * snapshot, and one file lock instead of one per statement. Returns 1 when
 * it opened a transaction, 0 when one was open already (nothing to end);
 * pass that to store_read_end(). Nothing may write in between. */
int store_read_begin(Store *s);
void store_read_end(Store *s, int opened);

/* Group commit: changes made between these two calls share one SQL
 * transaction and one fsync; deferred work runs after it. */
void store_batch_begin(Store *s);
int store_batch_end(Store *s);
/* True while a batch holds uncommitted changes. */
bool store_in_batch(Store *s);
/* Whether what this connection reads may include changes of its own that
 * are not committed yet (an open transaction that wrote): a memo of what
 * was read must not outlive a rollback of them. */
bool store_sees_uncommitted(Store *s);

/* ---- statements with typed binds ----
 *
 * The way the core talks SQL: one call per statement, its values given as a
 * typed list in the order of the statement's ?1, ?2, ... (no positional
 * sqlite3_bind_* by hand), its rows read through typed accessors. The SQL a
 * core module writes must be accepted by SQLite and PostgreSQL alike
 * (docs/architecture.md); SQLite-only syntax stays inside this module.
 * Statements are cached by the address of their text: pass literals.
 */
typedef enum StoreArgType {
        STORE_ARG_END = 0,
        STORE_ARG_TEXT, /* a NULL text binds SQL NULL */
        STORE_ARG_INT,
        STORE_ARG_NULL,
        STORE_ARG_TEXT_LEN, /* exactly i bytes of text, NUL or not (signed documents) */
        STORE_ARG_BLOB,     /* exactly i bytes, a BLOB (PostgreSQL: bytea) */
} StoreArgType;

typedef struct StoreArg {
        StoreArgType type;
        const char *text;
        int64_t i;
} StoreArg;

#define SA_TEXT(v) ((StoreArg){ .type = STORE_ARG_TEXT, .text = (v) })
#define SA_INT(v)  ((StoreArg){ .type = STORE_ARG_INT, .i = (int64_t)(v) })
#define SA_NULL    ((StoreArg){ .type = STORE_ARG_NULL })
/* The first n bytes of v, byte for byte; a NULL v binds SQL NULL. */
#define SA_TEXT_LEN(v, n) ((StoreArg){ .type = STORE_ARG_TEXT_LEN, .text = (v), .i = (int64_t)(n) })
/* The first n bytes at v as a BLOB, bytes that need not be text. */
#define SA_BLOB(v, n) ((StoreArg){ .type = STORE_ARG_BLOB, .text = (const char *)(v), .i = (int64_t)(n) })
#define SA_END        ((StoreArg){ .type = STORE_ARG_END })
/* STORE_ARGS(SA_TEXT(id), SA_INT(n)): the list, ended. */
#define STORE_ARGS(...) ((const StoreArg[]){ __VA_ARGS__, SA_END })

/* Runs a statement that returns no rows. The number of rows it changed, or:
 * -EEXIST when it broke a UNIQUE or PRIMARY KEY constraint, -EIO otherwise;
 * err then says what failed while doing `what` ("storing the provider"). */
int store_run(Store *s, const char *sql, const StoreArg *args, const char *what, CbError *err);

/* A statement that keeps a memo: a row the broker can compute again from
 * what the database holds (a cache), so never worth an fdatasync, and never
 * a write inside a read snapshot (that would turn the snapshot's end into a
 * durable commit). In a write transaction (or an open batch) it joins it and
 * commits or rolls back with it; in a read snapshot (store_read_begin) its
 * values are copied and it runs when the outermost snapshot ends; otherwise
 * at once. Outside a write transaction it commits relaxed (as between
 * store_relaxed_begin/end): a power loss may drop it, but never keep it
 * while dropping a commit before it (the WAL is synced in order), so a kept
 * memo agrees with what it was computed from, as long as whatever changes
 * that also drops the memo in its own transaction (a trigger). 0 or -errno:
 * a failed memo costs only its recomputation. */
int store_memo(Store *s, const char *sql, const StoreArg *args, const char *what);

/* Rows of a query, read one at a time. Only one StoreRows is open per
 * statement text; store_rows_done() (or the next store_query of the same
 * text) ends it. */
typedef struct StoreRows StoreRows;
int store_query(Store *s, const char *sql, const StoreArg *args, StoreRows **ret, const char *what,
                CbError *err);
/* 1: a row is there; 0: no more rows; -EIO: err says why. */
int store_rows_next(StoreRows *rows, CbError *err);
/* Column i of the current row. text: NULL for SQL NULL, valid until the next
 * store_rows_next(); dup: a malloc'd copy (NULL for NULL or no memory). */
const char *store_rows_text(StoreRows *rows, int i);
char *store_rows_dup(StoreRows *rows, int i);
/* The length in bytes of column i of the current row (text or blob);
 * after store_rows_blob() for a blob. */
size_t store_rows_len(StoreRows *rows, int i);
/* Column i of the current row as bytes (a BLOB; NULL for SQL NULL or an
 * empty one), valid until the next store_rows_next(). */
const void *store_rows_blob(StoreRows *rows, int i);
int64_t store_rows_int(StoreRows *rows, int i);
bool store_rows_is_null(StoreRows *rows, int i);
/* Several text columns of the current row in one allocation, for a record
 * read into a struct: *cols[k].dst points at the copy of column
 * cols[k].column (NULL for SQL NULL), and *ret_mem owns every copy (free it
 * once). 0, or -ENOMEM with nothing written. */
typedef struct StoreText {
        int column;
        const char **dst;
} StoreText;
int store_rows_texts(StoreRows *rows, const StoreText *cols, size_t n, char **ret_mem);
void store_rows_done(StoreRows *rows);
DEFINE_TRIVIAL_CLEANUP_FUNC(StoreRows *, store_rows_done);

/* The first column of the first row as an integer (COUNT(*), EXISTS); 0 for
 * no row; -EIO on failure. */
int store_query_int(Store *s, const char *sql, const StoreArg *args, int64_t *ret, const char *what,
                    CbError *err);

/* Prepares (and caches) a statement; the returned statement is reset and
 * its bindings cleared. Do not finalize it. For the store layer itself and
 * modules not yet moved to store_run/store_query. */
int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret);

/* Runs SQL without results; fills err on failure. */
int store_exec(Store *s, const char *sql, CbError *err);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void store_now(char buf[32]);

/* The audit trail's state for this store (audit.c): its checkpoint key and
 * whether changes are refused. The store only keeps the pointer. */
typedef struct AuditTrail AuditTrail;
void store_set_audit(Store *s, AuditTrail *t);
AuditTrail *store_audit(Store *s);

/* Fills err with a CB_ERR_INTERNAL naming the SQLite error; returns -EIO. */
int store_error(Store *s, CbError *err, const char *what);
