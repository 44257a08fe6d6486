/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The durable state: one SQLite file in WAL mode with synchronous=FULL, so
 * what a commit acknowledged survives a power cut. The schema is a list of
 * numbered migrations applied in order at open (PRAGMA user_version), each in
 * its own transaction. Every change the core makes runs inside
 * store_begin()/store_commit(); store_rollback() undoes it whole.
 */

#include <sqlite3.h>
#include <stdbool.h>

#include "error.h"

typedef struct Store Store;

/* Opens (creating when absent, with its parent folder) and migrates. */
int store_open(const char *path, Store **ret, CbError *err);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);

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

/* Prepares (and caches) a statement; the returned statement is reset and
 * its bindings cleared. Do not finalize it. */
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
