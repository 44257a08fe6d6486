/* SPDX-License-Identifier: Apache-2.0 */
/* The store: migrations run once and in order, WAL, refusal of newer schemas, rollback; older
 * schemas made on purpose (store_open_at_version, tests/tools/make-old-store) for upgrade tests. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <limits.h>

#include <cmocka.h>

#include "store.h"
#include "store-json.h"

static char tmpdir[] = "/tmp/cbstore.XXXXXX";

static char *db_path(const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static int count_rows(Store *s, const char *sql) {
        sqlite3_stmt *st;
        int n = -1;
        assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static void test_fresh_database_is_migrated(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("sub/dir/fresh.db");
        sqlite3_stmt *st;
        (void)state;

        /* Parent folders are created. */
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_schema_version(s), store_latest_version());
        assert_true(store_latest_version() >= 1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'services'"), 1);
        assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        /* NORMAL: a durable commit is flushed by store_sync(), not by SQLite. */
        assert_int_equal(count_rows(s, "PRAGMA synchronous"), 1);
        store_free(s);
        free(path);
}

static void test_reopen_keeps_data(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("reopen.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(
                store_exec(s, "INSERT INTO services VALUES ('a', 1, 'draft', '{}', 't', 'me', 't', NULL)",
                           &err),
                0);
        store_free(s);
        s = NULL;
        /* A second open must not run migration 1 again (it would fail on CREATE TABLE). */
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services"), 1);
        store_free(s);
        free(path);
}

static void test_newer_schema_refused(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("newer.db");
        char sql[64];
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_latest_version() + 5);
        assert_int_equal(store_exec(s, sql, &err), 0);
        store_free(s);
        s = NULL;
        assert_true(store_open(path, &s, &err) < 0);
        assert_null(s);
        assert_non_null(strstr(err.message, "newer than this cloudbrokerd knows"));
        free(path);
}

static void test_not_a_database(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("garbage.db");
        FILE *f = fopen(path, "w");
        (void)state;

        assert_non_null(f);
        fputs("this is not an SQLite file, it is long enough to have a header of sorts................", f);
        fclose(f);
        assert_true(store_open(path, &s, &err) < 0);
        assert_null(s);
        assert_int_equal(err.kind, CB_ERR_INTERNAL);
        free(path);
}

static void test_rollback_undoes_everything(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("tx.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_begin(s), 0); /* nested: joins the outer one */
        assert_int_equal(
                store_exec(s, "INSERT INTO services VALUES ('a', 1, 'draft', '{}', 't', 'me', 't', NULL)",
                           &err),
                0);
        assert_int_equal(store_commit(s), 0); /* inner commit does not commit */
        assert_int_equal(
                store_exec(s, "INSERT INTO services VALUES ('b', 1, 'draft', '{}', 't', 'me', 't', NULL)",
                           &err),
                0);
        store_rollback(s);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services"), 0);
        /* The CHECK constraint refuses unknown states. */
        assert_true(store_exec(s, "INSERT INTO services VALUES ('c', 1, 'bogus', '{}', 't', 'me', 't', NULL)",
                               &err) < 0);
        assert_int_equal(store_commit(s), -EINVAL); /* nothing open */
        store_free(s);
        free(path);
}

static int deferred_result[8];
static int deferred_calls;

static void record_deferred(void *userdata, int result) {
        deferred_result[(intptr_t)userdata] = result;
        deferred_calls++;
}

#define INSERT(s, id) "INSERT INTO services VALUES ('" id "', 1, 'draft', '{}', 't', 'me', 't', NULL)"

static void test_savepoints_and_defer(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("savepoint.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        deferred_calls = 0;
        memset(deferred_result, 0x7f, sizeof(deferred_result));

        /* No transaction: deferred work runs at once. */
        assert_int_equal(store_defer(s, record_deferred, (void *)(intptr_t)0), 0);
        assert_int_equal(deferred_calls, 1);
        assert_int_equal(deferred_result[0], 0);

        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "a"), &err), 0);
        assert_int_equal(store_defer(s, record_deferred, (void *)(intptr_t)1), 0);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "b"), &err), 0);
        assert_int_equal(store_defer(s, record_deferred, (void *)(intptr_t)2), 0);
        store_rollback(s); /* undoes b only, cancels its deferred work */
        assert_int_equal(deferred_result[2], -ECANCELED);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "c"), &err), 0);
        assert_int_equal(store_defer(s, record_deferred, (void *)(intptr_t)3), 0);
        assert_int_equal(store_commit(s), 0); /* released into the outer level: not yet run */
        assert_int_equal(deferred_calls, 2);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(deferred_calls, 4);
        assert_int_equal(deferred_result[1], 0);
        assert_int_equal(deferred_result[3], 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services"), 2); /* a and c */
        store_free(s);
        free(path);
}

static void insert_committed(Store *s, const char *sql) {
        CbError err = CB_ERROR_INIT;
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, sql, &err), 0);
        assert_int_equal(store_commit(s), 0);
}

/* The next ordinary commit flushes the WAL once and leaves nothing unsynced. */
static void assert_next_commit_durable(Store *s) {
        CbError err = CB_ERROR_INIT;
        uint64_t before = store_sync_count(s);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(
                store_exec(s, "CREATE TABLE IF NOT EXISTS probe (x); INSERT INTO probe VALUES (1)", &err), 0);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(store_sync_count(s), before + 1);
        assert_false(store_unsynced(s));
}

/* Relaxed commits (the outcome of a provider's answer): no flush for the
 * transaction, and only it; the store knows it may be unsynced until
 * store_sync() or a durable commit; work waiting for durability gets a synced
 * commit; a batch stays durable; a write outside any transaction is flushed
 * like a commit; and a killed process loses nothing. */
static void test_relaxed_commit(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("relaxed.db");
        int status;
        pid_t pid;
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_next_commit_durable(s);
        uint64_t n0 = store_sync_count(s);
        store_relaxed_begin(s);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "r1"), &err), 0);
        assert_int_equal(store_commit(s), 0);
        store_relaxed_end(s);
        assert_int_equal(store_sync_count(s), n0); /* not flushed */
        assert_true(store_unsynced(s));
        assert_int_equal(store_sync(s), 0);
        assert_int_equal(store_sync_count(s), n0 + 1);
        assert_false(store_unsynced(s));
        assert_next_commit_durable(s); /* the next commits are durable again */

        /* A write outside any transaction commits on its own: flushed. */
        n0 = store_sync_count(s);
        assert_true(store_run(s, "INSERT INTO probe VALUES (?1)", STORE_ARGS(SA_INT(2)), "probe", &err) == 1);
        assert_int_equal(store_sync_count(s), n0 + 1);
        assert_false(store_unsynced(s));

        /* A durable commit syncs the WAL with every relaxed frame before it. */
        store_relaxed_begin(s);
        insert_committed(s, INSERT(s, "r2"));
        store_relaxed_end(s);
        assert_true(store_unsynced(s));
        insert_committed(s, INSERT(s, "d1"));
        assert_false(store_unsynced(s));

        /* Deferred work was promised a durable commit: it gets a synced one. */
        deferred_calls = 0;
        memset(deferred_result, 0x7f, sizeof(deferred_result));
        store_relaxed_begin(s);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "r3"), &err), 0);
        assert_int_equal(store_defer(s, record_deferred, (void *)(intptr_t)0), 0);
        assert_int_equal(store_commit(s), 0);
        store_relaxed_end(s);
        assert_int_equal(deferred_result[0], 0);
        assert_false(store_unsynced(s));

        /* A rolled back relaxed transaction leaves the store durable. */
        store_relaxed_begin(s);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "gone"), &err), 0);
        store_rollback(s);
        store_relaxed_end(s);
        assert_false(store_unsynced(s));
        assert_next_commit_durable(s);

        /* A batch's group commit stays durable. */
        n0 = store_sync_count(s);
        store_batch_begin(s);
        store_relaxed_begin(s);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, INSERT(s, "b1"), &err), 0);
        assert_int_equal(store_commit(s), 0);
        store_relaxed_end(s);
        assert_int_equal(store_sync_count(s), n0); /* the batch's end flushes */
        assert_int_equal(store_batch_end(s), 0);
        assert_int_equal(store_sync_count(s), n0 + 1);
        assert_false(store_unsynced(s));
        store_free(s);

        /* kill -9 right after a relaxed commit: the row is there on reopening. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                Store *c = NULL;
                CbError e = CB_ERROR_INIT;
                if (store_open(path, &c, &e) < 0)
                        _exit(2);
                store_relaxed_begin(c);
                if (store_begin(c) < 0 || store_exec(c, INSERT(c, "killed"), &e) < 0 || store_commit(c) < 0)
                        _exit(3);
                raise(SIGKILL);
                _exit(4);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services WHERE id IN "
                                       "('r1', 'r2', 'r3', 'd1', 'b1', 'killed')"),
                         6);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services WHERE id = 'gone'"), 0);
        store_free(s);
        free(path);
}

static void test_batch_group_commit(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL, *reader = NULL;
        char *path = db_path("batch.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_open(path, &reader, &err), 0);
        deferred_calls = 0;
        memset(deferred_result, 0x7f, sizeof(deferred_result));

        store_batch_begin(s);
        assert_false(store_in_batch(s)); /* nothing written yet */
        for (int i = 0; i < 3; i++) {
                char sql[128];
                snprintf(sql, sizeof(sql),
                         "INSERT INTO services VALUES ('s%d', 1, 'draft', '{}', 't', 'me', 't', NULL)", i);
                assert_int_equal(store_begin(s), 0);
                assert_int_equal(store_exec(s, sql, &err), 0);
                assert_int_equal(store_defer(s, record_deferred, (void *)(intptr_t)i), 0);
                assert_int_equal(store_commit(s), 0);
        }
        assert_true(store_in_batch(s));
        /* Committed levels are not durable until the batch ends. */
        assert_int_equal(deferred_calls, 0);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services"), 0);
        assert_int_equal(store_batch_end(s), 0);
        assert_int_equal(deferred_calls, 3);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services"), 3);
        assert_false(store_in_batch(s));
        store_free(reader);
        store_free(s);
        free(path);
}

/* N rows of about 1 KiB each with ids PREFIX1..PREFIXn, in one statement. */
static void insert_padded(Store *s, const char *prefix, int n) {
        CbError err = CB_ERROR_INIT;
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
                 "INSERT INTO services SELECT '%s' || i, 1, 'draft', "
                 "'{\"pad\":\"' || hex(randomblob(500)) || '\"}', 't', 'me', 't', NULL FROM n",
                 n, prefix);
        if (store_exec(s, sql, &err) < 0)
                fail_msg("%s", err.message);
}

/* Savepoints in a batch whose changes outgrow SQLite's in-memory statement
 * journal (64 KiB, then it is a temporary file) and nest deeper than the
 * levels whose savepoint statements the store keeps prepared: each rollback
 * undoes its own level and only it, and the batch commits the rest. */
static void test_batch_big_savepoints(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL, *reader = NULL;
        char *path = db_path("batch-big.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_open(path, &reader, &err), 0);
        store_batch_begin(s);

        assert_int_equal(store_begin(s), 0);
        insert_padded(s, "kept", 300);
        assert_int_equal(store_commit(s), 0);

        assert_int_equal(store_begin(s), 0);
        insert_padded(s, "small-undone", 300);
        store_rollback(s);

        assert_int_equal(store_begin(s), 0);
        insert_padded(s, "big-undone", 3000); /* about 3 MiB of pages */
        store_rollback(s);

        /* Fourteen levels: the outermost and innermost are parsed each time. */
        for (int level = 1; level <= 14; level++) {
                char prefix[32];
                assert_int_equal(store_begin(s), 0);
                snprintf(prefix, sizeof(prefix), "deep%d-", level);
                insert_padded(s, prefix, 20);
        }
        store_rollback(s); /* level 14 */
        store_rollback(s); /* level 13 */
        store_rollback(s); /* level 12 */
        for (int level = 11; level >= 1; level--)
                assert_int_equal(store_commit(s), 0);

        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services"), 0);
        assert_int_equal(store_batch_end(s), 0);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services WHERE id LIKE 'kept%'"), 300);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services WHERE id LIKE '%undone%'"), 0);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services WHERE id LIKE 'deep%'"), 11 * 20);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services WHERE id LIKE 'deep12-%'"), 0);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services WHERE id LIKE 'deep11-%'"), 20);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services"), 300 + 11 * 20);
        store_free(reader);
        store_free(s);
        free(path);
}

/* Work deferred until the batch is durable writes again (an operation
 * marked running): those writes share one more commit, not one each. */
static Store *follow_store;
static int commits;

static int count_commit(void *userdata) {
        (void)userdata;
        commits++;
        return 0;
}

static void write_when_durable(void *userdata, int result) {
        char sql[128];
        CbError err = CB_ERROR_INIT;
        assert_int_equal(result, 0);
        snprintf(sql, sizeof(sql), "UPDATE services SET status = 'submitted' WHERE id = 'f%d'",
                 (int)(intptr_t)userdata);
        assert_int_equal(store_begin(follow_store), 0);
        if (store_exec(follow_store, sql, &err) < 0)
                fail_msg("%s", err.message);
        assert_int_equal(store_defer(follow_store, record_deferred, userdata), 0);
        assert_int_equal(store_commit(follow_store), 0);
}

static void test_batch_follow_up_writes(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL, *reader = NULL;
        char *path = db_path("follow.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_open(path, &reader, &err), 0);
        follow_store = s;
        deferred_calls = 0;
        commits = 0;
        sqlite3_commit_hook(store_db(s), count_commit, NULL);

        store_batch_begin(s);
        for (int i = 0; i < 5; i++) {
                char sql[128];
                snprintf(sql, sizeof(sql),
                         "INSERT INTO services VALUES ('f%d', 1, 'draft', '{}', 't', 'me', 't', NULL)", i);
                assert_int_equal(store_begin(s), 0);
                assert_int_equal(store_exec(s, sql, &err), 0);
                assert_int_equal(store_defer(s, write_when_durable, (void *)(intptr_t)i), 0);
                assert_int_equal(store_commit(s), 0);
        }
        assert_int_equal(store_batch_end(s), 0);
        assert_int_equal(commits, 2); /* the batch, then all five follow-ups together */
        assert_int_equal(deferred_calls, 5);
        assert_int_equal(count_rows(reader, "SELECT COUNT(*) FROM services WHERE status = 'submitted'"), 5);
        assert_false(store_in_batch(s));

        /* Outside a batch a write commits at once, as before. */
        commits = 0;
        assert_int_equal(store_exec(s, "UPDATE services SET status = 'draft' WHERE id = 'f0'", &err), 0);
        assert_int_equal(commits, 1);
        sqlite3_commit_hook(store_db(s), NULL, NULL);
        store_free(reader);
        store_free(s);
        free(path);
}

/* project_holdings, kept by triggers, always equals the aggregate over the
 * resources that are not deleted, whatever sequence of changes ran. */
static const char holdings_direct[] =
        "SELECT COALESCE(group_concat(k, ';'), '') FROM (SELECT project_id || '/' || service_id || '/' ||"
        " plan_id || '/' || cost_kind || '=' || COUNT(*) || ',' || SUM(committed_fen) AS k FROM resources"
        " WHERE state != 'deleted' GROUP BY project_id, service_id, plan_id, cost_kind ORDER BY k)";
static const char holdings_kept[] =
        "SELECT COALESCE(group_concat(k, ';'), '') FROM (SELECT project_id || '/' || service_id || '/' ||"
        " plan_id || '/' || cost_kind || '=' || quantity || ',' || committed_fen AS k FROM project_holdings"
        " WHERE quantity != 0 OR committed_fen != 0 ORDER BY k)";

static char *query_text(Store *s, const char *sql) {
        sqlite3_stmt *st;
        char *out = NULL;
        assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                out = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        assert_non_null(out);
        return out;
}

static void assert_holdings_agree(Store *s, const char *expect) {
        char *direct = query_text(s, holdings_direct), *kept = query_text(s, holdings_kept);
        assert_string_equal(kept, direct);
        assert_string_equal(direct, expect);
        free(direct);
        free(kept);
}

/* The segments of one resource as "seq:state@start,..." in order. */
static void assert_segments(Store *s, const char *id, const char *want) {
        sqlite3_stmt *st;
        char got[1024] = "";
        size_t n = 0;
        assert_int_equal(sqlite3_prepare_v2(store_db(s),
                                            "SELECT seq, state, start_at FROM usage_segments "
                                            "WHERE resource_id = ? ORDER BY seq",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW)
                n += snprintf(got + n, sizeof(got) - n, "%s%d:%s@%s", n ? "," : "", sqlite3_column_int(st, 0),
                              (const char *)sqlite3_column_text(st, 1),
                              (const char *)sqlite3_column_text(st, 2));
        sqlite3_finalize(st);
        assert_string_equal(got, want);
}

static void test_project_holdings(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("holdings.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_exec(s,
                                    "INSERT INTO projects VALUES ('p1', 'n', 'edu', 'active', 1, 't', 't');"
                                    "INSERT INTO projects VALUES ('p2', 'n', 'edu', 'active', 1, 't', 't');",
                                    &err),
                         0);
#define RES(id, proj, plan, kind, fen, st)                                                              \
        "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id,"      \
        " catalog_revision, approval_no, cost_kind, committed_fen, state, created_at, created_by,"      \
        " updated_at) VALUES ('" id "', 'n', '" proj "', 's', 'edu', 'ecs', '" plan "', 1, 'A', '" kind \
        "', " fen ", '" st "', 't', 'me', 't');"
        assert_int_equal(store_exec(s,
                                    RES("r1", "p1", "small", "om", "100", "provisioning")
                                            RES("r2", "p1", "small", "om", "100", "active")
                                                    RES("r3", "p1", "large", "construction", "500", "failed")
                                                            RES("r4", "p2", "small", "om", "100", "deleted"),
                                    &err),
                         0);
        assert_holdings_agree(s, "p1/ecs/large/construction=1,500;p1/ecs/small/om=2,200");

        /* State changes that keep a resource held change nothing. */
        assert_int_equal(store_exec(s, "UPDATE resources SET state = 'stopped' WHERE id = 'r1'", &err), 0);
        assert_holdings_agree(s, "p1/ecs/large/construction=1,500;p1/ecs/small/om=2,200");
        /* Deleted leaves the totals; back from deleted (a correction) enters them again. */
        assert_int_equal(store_exec(s, "UPDATE resources SET state = 'deleted' WHERE id = 'r2'", &err), 0);
        assert_int_equal(store_exec(s, "UPDATE resources SET state = 'active' WHERE id = 'r4'", &err), 0);
        assert_holdings_agree(s,
                              "p1/ecs/large/construction=1,500;p1/ecs/small/om=1,100;p2/ecs/small/om=1,100");
        /* A re-priced or moved resource moves its share. */
        assert_int_equal(
                store_exec(s, "UPDATE resources SET committed_fen = 700, plan_id = 'small' WHERE id = 'r3'",
                           &err),
                0);
        assert_holdings_agree(s,
                              "p1/ecs/small/construction=1,700;p1/ecs/small/om=1,100;p2/ecs/small/om=1,100");
        /* A rolled-back change leaves no trace in the totals either. */
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, RES("r5", "p2", "small", "om", "100", "provisioning"), &err), 0);
        store_rollback(s);
        assert_int_equal(store_exec(s, "DELETE FROM resources WHERE id = 'r1'", &err), 0);
        assert_holdings_agree(s, "p1/ecs/small/construction=1,700;p2/ecs/small/om=1,100");

        store_free(s);
        s = NULL;
        free(path);

        /* A database from before the totals (version 5, as a cloudbrokerd of
         * then wrote it: no kind, no triggers) gets them on upgrade. */
        path = db_path("holdings-old.db");
        assert_int_equal(store_open_at_version(path, 5, &s, &err), 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'project_holdings'"),
                         0);
        assert_int_equal(
                store_exec(s,
                           "INSERT INTO projects VALUES ('p1', 'n', 'edu', 'active', 1, 't', 't');"
                           "INSERT INTO projects VALUES ('p2', 'n', 'edu', 'active', 1, 't', 't');" RES(
                                   "r2", "p1", "small", "om", "100", "deleted")
                                   RES("r3", "p1", "small", "construction", "700", "failed")
                                           RES("r4", "p2", "small", "om", "100", "active")
                                                   RES("r6", "p2", "large", "om", "300", "active"),
                           &err),
                0);
        store_free(s);
        s = NULL;
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_schema_version(s), store_latest_version());
        assert_holdings_agree(s,
                              "p1/ecs/small/construction=1,700;p2/ecs/large/om=1,300;p2/ecs/small/om=1,100");
        /* Metering starts on upgrade with each resource's current state since its last change. */
        assert_segments(s, "r6", "1:active@t");
        assert_segments(s, "r3", "1:failed@t");
        assert_segments(s, "r2", "1:deleted@t");
#undef RES
        store_free(s);
        free(path);
}

/* The CHECKs on incident status and operation kind: a database from before
 * them keeps every row, its foreign keys, and refuses other names after. */
static void test_state_checks_upgrade(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("checks.db");
        (void)state;

        /* The tables as migration 17 left them, the last before the CHECKs
         * (18), with rows in the shape of then; every later migration must
         * carry them. */
        assert_int_equal(store_open_at_version(path, 17, &s, &err), 0);
        assert_int_equal(
                store_exec(
                        s,
                        "INSERT INTO projects VALUES ('p1', 'n', 'edu', 'active', 1, 't', 't');"
                        "INSERT INTO resources (id, name, project_id, system_id, department, service_id,"
                        " plan_id, catalog_revision, approval_no, cost_kind, committed_fen, state,"
                        " created_at, created_by, updated_at) VALUES ('r1', 'n', 'p1', 's', 'edu', 'ecs',"
                        " 'small', 1, 'A', 'om', 100, 'active', 't', 'me', 't');"
                        "INSERT INTO incidents VALUES ('inc-1', 't', 'me', 'edu', 'major', '[]', '[]', 'd',"
                        " 'handling', 'due', 'then');"
                        "INSERT INTO incident_records (id, incident_id, at, principal, status, note)"
                        " VALUES (7, 'inc-1', 't', 'me', 'handling', 'looking');"
                        "INSERT INTO operations VALUES ('op-1', 'r1', 'provision', 'succeeded', NULL, 't',"
                        " 't', NULL, NULL);",
                        &err),
                0);
        /* Before 18 nothing refused another name: the CHECK is what the upgrade adds. */
        assert_int_equal(store_exec(s,
                                    "UPDATE operations SET kind = 'migrate' WHERE id = 'op-1';"
                                    "UPDATE operations SET kind = 'provision' WHERE id = 'op-1'",
                                    &err),
                         0);
        store_free(s);
        s = NULL;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_schema_version(s), store_latest_version());
        /* Every row and value is there. */
        assert_int_equal(
                count_rows(s, "SELECT COUNT(*) FROM incidents WHERE id = 'inc-1' AND status = 'handling'"
                              " AND occurred_at = 'then' AND department = 'edu'"),
                1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM incident_records WHERE id = 7 AND"
                                       " incident_id = 'inc-1' AND note = 'looking'"),
                         1);
        assert_int_equal(count_rows(s,
                                    "SELECT COUNT(*) FROM operations WHERE id = 'op-1' AND kind = 'provision'"
                                    " AND resource_id = 'r1'"),
                         1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                                       " ('operations_resource', 'operations_state')"),
                         2);
        /* Other names are refused now. */
        assert_true(store_exec(s, "UPDATE incidents SET status = 'closed' WHERE id = 'inc-1'", &err) < 0);
        cb_error_clear(&err);
        assert_true(store_exec(s,
                               "INSERT INTO incident_records (incident_id, at, principal, status, note)"
                               " VALUES ('inc-1', 't', 'me', 'done', 'x')",
                               &err) < 0);
        cb_error_clear(&err);
        assert_true(store_exec(s, "UPDATE operations SET kind = 'migrate' WHERE id = 'op-1'", &err) < 0);
        cb_error_clear(&err);
        assert_int_equal(store_exec(s, "UPDATE incidents SET status = 'resolved' WHERE id = 'inc-1'", &err),
                         0);
        /* The records still point at the incidents: no orphan, no dangling parent. */
        assert_true(store_exec(s,
                               "INSERT INTO incident_records (incident_id, at, principal, status, note)"
                               " VALUES ('inc-none', 't', 'me', 'handling', 'x')",
                               &err) < 0);
        cb_error_clear(&err);
        assert_true(store_exec(s, "DELETE FROM incidents WHERE id = 'inc-1'", &err) < 0);
        cb_error_clear(&err);
        assert_true(store_exec(s, "DELETE FROM resources WHERE id = 'r1'", &err) < 0);
        cb_error_clear(&err);
        store_free(s);
        free(path);
}

/* A store at an older version, for upgrade tests: up to the version asked
 * for and no further, never back, never beyond what this build knows. */
static void test_open_at_version(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("at-version.db");
        (void)state;

        /* Beyond the latest, or below 0: refused before any file is made. */
        assert_true(store_open_at_version(path, store_latest_version() + 1, &s, &err) < 0);
        assert_null(s);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        assert_non_null(strstr(err.message, "this cloudbrokerd knows 0 to"));
        cb_error_clear(&err);
        assert_true(store_open_at_version(path, -1, &s, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        cb_error_clear(&err);
        assert_int_equal(access(path, F_OK), -1);

        /* Version 5: its tables, none of migration 6's. */
        assert_int_equal(store_open_at_version(path, 5, &s, &err), 0);
        assert_int_equal(store_schema_version(s), 5);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'resources_usage'"),
                         1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'project_holdings'"),
                         0);
        assert_int_equal(count_rows(s, "PRAGMA foreign_keys"), 1);
        store_free(s);
        s = NULL;

        /* Below the file's version: refused, and the file stays at 5. */
        assert_true(store_open_at_version(path, 3, &s, &err) < 0);
        assert_null(s);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_non_null(strstr(err.message, "has schema version 5, past the version 3 asked for"));
        cb_error_clear(&err);
        /* The same version again: opened as it is. */
        assert_int_equal(store_open_at_version(path, 5, &s, &err), 0);
        assert_int_equal(store_schema_version(s), 5);
        store_free(s);
        s = NULL;
        /* A later one: the migrations between, no more. */
        assert_int_equal(store_open_at_version(path, 9, &s, &err), 0);
        assert_int_equal(store_schema_version(s), 9);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_checkpoints'"),
                         1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'legacy_systems'"),
                         0);
        store_free(s);
        s = NULL;
        /* And store_open() takes it the rest of the way. */
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_schema_version(s), store_latest_version());
        store_free(s);
        s = NULL;
        assert_true(store_open_at_version(path, store_latest_version() - 1, &s, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        cb_error_clear(&err);
        free(path);

        /* Version 0: an empty database, nothing migrated. */
        path = db_path("at-version-0.db");
        assert_int_equal(store_open_at_version(path, 0, &s, &err), 0);
        assert_int_equal(store_schema_version(s), 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM sqlite_master"), 0);
        store_free(s);
        free(path);
}

/* The schema of a database as text: every table, index and trigger. */
static char *schema_text(Store *s) {
        return query_text(s, "SELECT COALESCE(group_concat(type || ' ' || name || ': ' || COALESCE(sql, ''),"
                             " char(10)), '') FROM (SELECT * FROM sqlite_master ORDER BY type, name)");
}

/* Stopped at any version and upgraded later, a database ends with the
 * schema of a fresh one: every version is a place an older cloudbrokerd
 * may have left a file. One file, one version further at each open (the
 * same migrations in the same order as an upgrade from any of them, at a
 * commit each rather than the square of them). */
static void test_every_version_upgrades(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("every-fresh.db"), *fresh, *stepped;
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        fresh = schema_text(s);
        store_free(s);
        free(path);
        path = db_path("every-step.db");
        for (int v = 0; v <= store_latest_version(); v++) {
                s = NULL;
                if (store_open_at_version(path, v, &s, &err) < 0)
                        fail_msg("stepping to version %d: %s", v, err.message);
                assert_int_equal(store_schema_version(s), v);
                store_free(s);
        }
        s = NULL;
        assert_int_equal(store_open(path, &s, &err), 0);
        stepped = schema_text(s);
        assert_string_equal(stepped, fresh);
        store_free(s);
        free(stepped);
        free(fresh);
        free(path);
}

/* The tool the integration tests use: tests/tools/make-old-store, built
 * beside this test. */
static char tool[PATH_MAX];

static int run_tool(const char *args) {
        char cmd[PATH_MAX * 2];
        int r;
        snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", tool, args);
        r = system(cmd);
        assert_true(WIFEXITED(r));
        return WEXITSTATUS(r);
}

static int version_of_untouched(const char *path) {
        sqlite3 *db;
        sqlite3_stmt *st;
        int v = -1;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void test_make_old_store_tool(void **state) {
        char *path = db_path("tool.db"), *path2 = db_path("tool-latest.db"), args[PATH_MAX + 64],
             out[32] = "";
        ssize_t n;
        FILE *p;
        (void)state;

        n = readlink("/proc/self/exe", tool, sizeof(tool) - 32);
        assert_true(n > 0);
        tool[n] = 0;
        strcpy(strrchr(tool, '/') + 1, "make-old-store");
        if (access(tool, X_OK) < 0)
                fail_msg("%s is not built (make unit-bins)", tool);

        /* --latest prints the version a fresh database gets. */
        snprintf(args, sizeof(args), "%s --latest", tool);
        p = popen(args, "r");
        assert_non_null(p);
        assert_non_null(fgets(out, sizeof(out), p));
        assert_int_equal(pclose(p), 0);
        assert_int_equal(atoi(out), store_latest_version());

        snprintf(args, sizeof(args), "%s 8", path);
        assert_int_equal(run_tool(args), 0);
        assert_int_equal(version_of_untouched(path), 8);
        /* Back is refused (1), the file left at 8. */
        snprintf(args, sizeof(args), "%s 3", path);
        assert_int_equal(run_tool(args), 1);
        assert_int_equal(version_of_untouched(path), 8);
        /* latest-N counts back from this build's latest. */
        snprintf(args, sizeof(args), "%s latest-1", path);
        assert_int_equal(run_tool(args), 0);
        assert_int_equal(version_of_untouched(path), store_latest_version() - 1);
        snprintf(args, sizeof(args), "%s latest", path2);
        assert_int_equal(run_tool(args), 0);
        assert_int_equal(version_of_untouched(path2), store_latest_version());
        /* Beyond this build, or before 0: refused (1). */
        snprintf(args, sizeof(args), "%s %d", path2, store_latest_version() + 1);
        assert_int_equal(run_tool(args), 1);
        snprintf(args, sizeof(args), "%s latest-%d", path2, store_latest_version() + 1);
        assert_int_equal(run_tool(args), 1);
        /* Not a version, or missing arguments: usage (2). */
        snprintf(args, sizeof(args), "%s 8x", path2);
        assert_int_equal(run_tool(args), 2);
        snprintf(args, sizeof(args), "%s latest+1", path2);
        assert_int_equal(run_tool(args), 2);
        assert_int_equal(run_tool(path2), 2);
        assert_int_equal(version_of_untouched(path2), store_latest_version());
        free(path);
        free(path2);
}

/* Metering: every change of state appends one segment in the same
 * transaction, and nothing else does (test_project_holdings checks the
 * upgrade of an older database). */
static void test_usage_segments(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("usage.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(
                store_exec(s, "INSERT INTO projects VALUES ('p1', 'n', 'edu', 'active', 1, 't', 't');", &err),
                0);
#define RES(id, st, at)                                                                               \
        "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id,"    \
        " catalog_revision, approval_no, cost_kind, committed_fen, state, created_at, created_by,"    \
        " updated_at) VALUES ('" id "', 'n', 'p1', 's', 'edu', 'ecs', 'small', 1, 'A', 'om', 1, '" st \
        "', '" at "', 'me', '" at "');"
#define SET(id, st, at) "UPDATE resources SET state = '" st "', updated_at = '" at "' WHERE id = '" id "';"
        assert_int_equal(store_exec(s, RES("r1", "provisioning", "T1"), &err), 0);
        assert_segments(s, "r1", "1:provisioning@T1");
        assert_int_equal(store_exec(s, SET("r1", "active", "T2"), &err), 0);
        /* The same state again (a replayed operation, reconcile agreeing)
         * and changes of other columns add nothing. */
        assert_int_equal(store_exec(s, SET("r1", "active", "T3"), &err), 0);
        assert_int_equal(store_exec(s, "UPDATE resources SET provider_ref = 'x' WHERE id = 'r1'", &err), 0);
        assert_segments(s, "r1", "1:provisioning@T1,2:active@T2");
        /* Two changes within one second are two segments, the first of length 0. */
        assert_int_equal(store_exec(s, SET("r1", "stopped", "T4") SET("r1", "active", "T4"), &err), 0);
        assert_segments(s, "r1", "1:provisioning@T1,2:active@T2,3:stopped@T4,4:active@T4");
        /* A change rolled back leaves no segment. */
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, SET("r1", "deprovisioning", "T5"), &err), 0);
        store_rollback(s);
        assert_segments(s, "r1", "1:provisioning@T1,2:active@T2,3:stopped@T4,4:active@T4");
        /* A segment is never rewritten: its key cannot be taken twice. */
        assert_int_not_equal(store_exec(s,
                                        "INSERT INTO usage_segments (resource_id, seq, state, start_at)"
                                        " VALUES ('r1', 4, 'deleted', 'T9');",
                                        &err),
                             0);
        cb_error_clear(&err);
        /* A resize (a change of plan alone) starts a segment in the same
         * state at the new plan and revision; each segment names its plan. */
        assert_int_equal(store_exec(s,
                                    "UPDATE resources SET plan_id = 'large', catalog_revision = 2,"
                                    " updated_at = 'T6' WHERE id = 'r1';",
                                    &err),
                         0);
        assert_segments(s, "r1", "1:provisioning@T1,2:active@T2,3:stopped@T4,4:active@T4,5:active@T6");
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM usage_segments WHERE resource_id = 'r1' AND"
                                       " seq = 5 AND plan_id = 'large' AND catalog_revision = 2"),
                         1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM usage_segments WHERE resource_id = 'r1' AND"
                                       " seq < 5 AND plan_id = 'small' AND catalog_revision = 1"),
                         4);
        /* The plan and state at once (a rolled-back resize that also stopped): one segment. */
        assert_int_equal(store_exec(s,
                                    "UPDATE resources SET plan_id = 'small', catalog_revision = 1,"
                                    " state = 'stopped', updated_at = 'T7' WHERE id = 'r1';",
                                    &err),
                         0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM usage_segments WHERE resource_id = 'r1' AND"
                                       " seq = 6 AND plan_id = 'small' AND state = 'stopped'"),
                         1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM usage_segments WHERE resource_id = 'r1'"), 6);

#undef RES
#undef SET
        store_free(s);
        free(path);
}

/* Rows as JSON: keys are the SELECT's names, types kept, NULL left out or kept. */
static void test_rows_as_json(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("json.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(
                store_exec(s,
                           "INSERT INTO services VALUES ('a', 2, 'draft', '{}', 't1', 'me', 'u', NULL);"
                           "INSERT INTO services VALUES ('a', 1, 'retired', '{}', 't0', 'me', 'u', 'p');"
                           "INSERT INTO services VALUES ('b', 1, 'draft', '{}', 't2', 'me', 'u', NULL);",
                           &err),
                0);
        static const char sql[] = "SELECT id, revision AS rev, published_at, 1.5 AS x FROM services "
                                  "WHERE id = ? ORDER BY revision";
        json_t *a = store_json_rows(s, sql, "a", false);
        char *text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "[{\"id\":\"a\",\"published_at\":\"p\",\"rev\":1,\"x\":1.5},"
                                  "{\"id\":\"a\",\"rev\":2,\"x\":1.5}]");
        free(text);
        json_decref(a);
        a = store_json_rows(s, sql, "b", true);
        text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "[{\"id\":\"b\",\"published_at\":null,\"rev\":1,\"x\":1.5}]");
        free(text);
        json_decref(a);
        a = store_json_rows(s, sql, "none", true);
        assert_int_equal(json_array_size(a), 0);
        json_decref(a);
        store_free(s);
        free(path);
}

/* A read stretch: one snapshot while another connection commits, nested in a
 * transaction it opens nothing. */
static void test_read_snapshot(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL, *writer = NULL;
        char *path = db_path("read.db");
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_open(path, &writer, &err), 0);
        int opened = store_read_begin(s);
        assert_int_equal(opened, 1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services"), 0);
        assert_int_equal(store_exec(writer, INSERT(writer, "w"), &err), 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services"), 0); /* the same snapshot */
        store_read_end(s, opened);
        assert_true(sqlite3_get_autocommit(store_db(s)));
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services"), 1);

        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_read_begin(s), 0); /* inside a transaction: nothing to open */
        store_read_end(s, 0);
        assert_false(sqlite3_get_autocommit(store_db(s)));
        store_rollback(s);
        store_free(writer);
        store_free(s);
        free(path);
}

/* Savepoints deeper than the prepared ones (cb2..cb12) work the same. */
static void test_deep_savepoints(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("deep.db");
        char sql[128];
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        for (int level = 1; level <= 16; level++) {
                assert_int_equal(store_begin(s), 0);
                snprintf(sql, sizeof(sql),
                         "INSERT INTO services VALUES ('l%d', 1, 'draft', '{}', 't', 'me', 't', NULL)",
                         level);
                assert_int_equal(store_exec(s, sql, &err), 0);
        }
        store_rollback(s);                    /* 16 */
        store_rollback(s);                    /* 15 */
        assert_int_equal(store_commit(s), 0); /* 14 */
        store_rollback(s);                    /* 13, with 14 inside it */
        for (int level = 12; level >= 1; level--)
                assert_int_equal(store_commit(s), 0);
        assert_true(sqlite3_get_autocommit(store_db(s)));
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM services WHERE id LIKE 'l%'"), 12);
        assert_int_equal(
                count_rows(s, "SELECT COUNT(*) FROM services WHERE id IN ('l13', 'l14', 'l15', 'l16')"), 0);
        store_free(s);
        free(path);
}

/* Memos (a cache row the broker can compute again): kept during a read
 * snapshot, which stays a read, and written when it ends; joined to a write
 * transaction, rolled back with it; committed relaxed outside one, without
 * opening a batch; the values are copies, not the caller's buffers. */
static void test_memo(void **state) {
        static const char put[] = "INSERT INTO memo (k, v) VALUES (?1, ?2) "
                                  "ON CONFLICT (k) DO UPDATE SET v = excluded.v";
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("memo.db");
        char k[8], v[16];
        int64_t n = -1;
        (void)state;

        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_exec(s, "CREATE TABLE memo (k TEXT PRIMARY KEY, v TEXT NOT NULL)", &err), 0);

        int opened = store_read_begin(s);
        assert_int_equal(opened, 1);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM memo"), 0);
        snprintf(k, sizeof(k), "a");
        snprintf(v, sizeof(v), "one");
        assert_int_equal(store_memo(s, put, STORE_ARGS(SA_TEXT(k), SA_TEXT_LEN(v, 3)), "memo a"), 0);
        snprintf(k, sizeof(k), "b");
        snprintf(v, sizeof(v), "two");
        assert_int_equal(store_memo(s, put, STORE_ARGS(SA_TEXT(k), SA_TEXT(v)), "memo b"), 0);
        memset(k, 'x', sizeof(k) - 1);
        memset(v, 'x', sizeof(v) - 1);
        /* Still a read: nothing written yet, so its end is no durable commit. */
        assert_int_equal(sqlite3_txn_state(store_db(s), "main"), SQLITE_TXN_READ);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM memo"), 0);
        /* An inner snapshot's end is not the snapshot's end. */
        assert_int_equal(store_read_begin(s), 0);
        store_read_end(s, 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM memo"), 0);
        store_read_end(s, opened);
        assert_true(sqlite3_get_autocommit(store_db(s)));
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM memo WHERE (k, v) IN "
                                       "(VALUES ('a', 'one'), ('b', 'two'))"),
                         2);
        assert_true(store_unsynced(s));
        assert_int_equal(store_sync(s), 0);
        assert_false(store_unsynced(s));
        assert_next_commit_durable(s); /* the next commits are durable again */

        /* In a write transaction: committed or rolled back with it. */
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_memo(s, put, STORE_ARGS(SA_TEXT("a"), SA_TEXT("changed")), "memo a"), 0);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM memo WHERE v = 'changed'"), 1);
        store_rollback(s);
        assert_int_equal(count_rows(s, "SELECT COUNT(*) FROM memo WHERE v = 'changed'"), 0);

        /* Outside any transaction, in a loop iteration's batch that has not
         * written: at once, relaxed, and the batch stays closed. */
        store_batch_begin(s);
        assert_int_equal(store_memo(s, put, STORE_ARGS(SA_TEXT("c"), SA_TEXT("three")), "memo c"), 0);
        assert_false(store_in_batch(s));
        assert_true(store_unsynced(s));
        assert_int_equal(store_batch_end(s), 0);
        assert_int_equal(
                store_query_int(s, "SELECT COUNT(*) FROM memo WHERE k = 'c'", NULL, &n, "count", &err), 0);
        assert_int_equal(n, 1);
        /* A failing memo says so and leaves nothing open. */
        assert_true(store_memo(s, "INSERT INTO no_such_table VALUES (?1)", STORE_ARGS(SA_INT(1)), "bad") < 0);
        assert_true(sqlite3_get_autocommit(store_db(s)));
        assert_next_commit_durable(s);
        store_free(s);
        free(path);
}

/* A big transaction (a month's close) grows the WAL; once checkpointed, the
 * next commit restarts it and cuts it back to STORE_WAL_LIMIT, not left at
 * the size of what was written. */
static void test_wal_cut_back(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = db_path("walcut.db"), *wal = NULL;
        struct stat st;
        (void)state;

        assert_true(asprintf(&wal, "%s-wal", path) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(
                store_exec(s,
                           "CREATE TABLE big (b BLOB); "
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 160) "
                           "INSERT INTO big SELECT randomblob(262144) FROM n",
                           &err),
                0);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(stat(wal, &st), 0);
        assert_true(st.st_size > 2 * STORE_WAL_LIMIT); /* 40 MiB written through it */
        assert_int_equal(store_checkpoint(s), 0);
        assert_next_commit_durable(s);
        assert_int_equal(stat(wal, &st), 0);
        assert_true(st.st_size <= STORE_WAL_LIMIT);
        store_free(s);
        free(wal);
        free(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_database_is_migrated),
                cmocka_unit_test(test_reopen_keeps_data),
                cmocka_unit_test(test_newer_schema_refused),
                cmocka_unit_test(test_not_a_database),
                cmocka_unit_test(test_rollback_undoes_everything),
                cmocka_unit_test(test_savepoints_and_defer),
                cmocka_unit_test(test_relaxed_commit),
                cmocka_unit_test(test_batch_group_commit),
                cmocka_unit_test(test_batch_big_savepoints),
                cmocka_unit_test(test_batch_follow_up_writes),
                cmocka_unit_test(test_project_holdings),
                cmocka_unit_test(test_state_checks_upgrade),
                cmocka_unit_test(test_open_at_version),
                cmocka_unit_test(test_every_version_upgrades),
                cmocka_unit_test(test_make_old_store_tool),
                cmocka_unit_test(test_usage_segments),
                cmocka_unit_test(test_rows_as_json),
                cmocka_unit_test(test_read_snapshot),
                cmocka_unit_test(test_deep_savepoints),
                cmocka_unit_test(test_memo),
                cmocka_unit_test(test_wal_cut_back),
        };
        char cmd[128];
        int r;

        if (!mkdtemp(tmpdir))
                return 1;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
                return 1;
        return r;
}
