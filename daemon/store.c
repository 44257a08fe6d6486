/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

/*
 * Migrations, in order. Append only: a released migration is never edited,
 * since databases in the field have already run it.
 */
static const char *const migrations[] = {
        /* 1: the catalogue */
        "CREATE TABLE services ("
        "  id TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN"
        "    ('draft','submitted','published','superseded','deprecated','retired')),"
        "  document TEXT NOT NULL,"
        "  created_at TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  published_at TEXT,"
        "  PRIMARY KEY (id, revision));"
        "CREATE INDEX services_status ON services(status);"
        "CREATE TABLE service_signoffs ("
        "  service_id TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  role TEXT NOT NULL CHECK (role IN ('authority','finance')),"
        "  principal TEXT NOT NULL,"
        "  signed_at TEXT NOT NULL,"
        "  PRIMARY KEY (service_id, revision, role),"
        "  FOREIGN KEY (service_id, revision) REFERENCES services(id, revision));",
};

#define STMT_CACHE_SIZE 64

struct Store {
        sqlite3 *db;
        char *path;
        struct {
                const char *sql; /* compared by pointer: callers pass literals */
                sqlite3_stmt *stmt;
        } cache[STMT_CACHE_SIZE];
        size_t n_cache;
        int depth;
};

int store_latest_version(void) {
        return (int)ELEMENTSOF(migrations);
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

int store_error(Store *s, CbError *err, const char *what) {
        return cb_error_set(err, CB_ERR_INTERNAL, "database error while %s: %s", what,
                            s && s->db ? sqlite3_errmsg(s->db) : "not open");
}

static int mkdir_parents(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(copy, 0750) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

int store_exec(Store *s, const char *sql, CbError *err) {
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = cb_error_set(err, CB_ERR_INTERNAL, "database error: %s", msg ? msg : "unknown");
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int store_schema_version(Store *s) {
        sqlite3_stmt *st;
        int v = -1;
        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v < 0 ? -EIO : v;
}

static int store_migrate(Store *s, CbError *err) {
        int have = store_schema_version(s);
        if (have < 0)
                return store_error(s, err, "reading the schema version");
        if (have > store_latest_version())
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "%s has schema version %d, newer than this cloudbrokerd knows (%d)",
                                    s->path, have, store_latest_version());
        for (int v = have; v < store_latest_version(); v++) {
                char pragma[64];
                int r;

                r = store_exec(s, "BEGIN IMMEDIATE", err);
                if (r < 0)
                        return r;
                r = store_exec(s, migrations[v], err);
                if (r >= 0) {
                        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                        r = store_exec(s, pragma, err);
                }
                if (r >= 0)
                        r = store_exec(s, "COMMIT", err);
                if (r < 0) {
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return cb_error_set(err, CB_ERR_INTERNAL, "migration %d failed: %s", v + 1,
                                            err ? err->message : "");
                }
        }
        return 0;
}

int store_open(const char *path, Store **ret, CbError *err) {
        _cleanup_(store_freep) Store *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        s->path = strdup(path);
        if (!s->path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        r = mkdir_parents(path);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot create the folder of %s: %s", path,
                                    strerror(-r));
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot open database %s: %s", path,
                                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_busy_timeout(s->db, 5000);

        /* WAL with synchronous=FULL: a commit is on disk when it returns. */
        r = store_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                       err);
        if (r < 0)
                return r;
        r = store_migrate(s, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_cache; i++)
                sqlite3_finalize(s->cache[i].stmt);
        if (s->db)
                sqlite3_close(s->db);
        free(s->path);
        free(s);
        return NULL;
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *st;

        for (size_t i = 0; i < s->n_cache; i++)
                if (s->cache[i].sql == sql) {
                        sqlite3_reset(s->cache[i].stmt);
                        sqlite3_clear_bindings(s->cache[i].stmt);
                        *ret = s->cache[i].stmt;
                        return 0;
                }
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (s->n_cache < STMT_CACHE_SIZE) {
                s->cache[s->n_cache].sql = sql;
                s->cache[s->n_cache].stmt = st;
                s->n_cache++;
        } else {
                /* Full cache: evict the oldest; callers never hold two at once past a step. */
                sqlite3_finalize(s->cache[0].stmt);
                memmove(&s->cache[0], &s->cache[1], sizeof(s->cache[0]) * (STMT_CACHE_SIZE - 1));
                s->cache[STMT_CACHE_SIZE - 1].sql = sql;
                s->cache[STMT_CACHE_SIZE - 1].stmt = st;
        }
        *ret = st;
        return 0;
}

/* Nested begin/commit collapse into the outermost transaction, so a core
 * function can call another that also opens one. */
int store_begin(Store *s) {
        if (s->depth++ > 0)
                return 0;
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
                s->depth--;
                return -EIO;
        }
        return 0;
}

int store_commit(Store *s) {
        if (s->depth <= 0)
                return -EINVAL;
        if (--s->depth > 0)
                return 0;
        if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return -EIO;
        }
        return 0;
}

void store_rollback(Store *s) {
        if (s->depth <= 0)
                return;
        s->depth = 0;
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void store_now(char buf[32]) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
