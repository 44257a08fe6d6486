/* SPDX-License-Identifier: Apache-2.0 */
/* The store's statement API (typed binds, typed rows, blobs, constraint
 * errors), a second writer's connection, migration 33's slices of closed
 * files, and audit_change: a change and its audit record together or not
 * at all. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "store.h"

static char tmpdir[] = "/tmp/cbstoreapi.XXXXXX";
static Store *store;

static const char create_sql[] = "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, note TEXT)";
static const char ins_sql[] = "INSERT INTO t (id, n, note) VALUES (?1, ?2, ?3)";
static const char sel_sql[] = "SELECT id, n, note FROM t WHERE n >= ?1 ORDER BY id";
static const char count_sql[] = "SELECT COUNT(*) FROM t";
static const char audit_count_sql[] = "SELECT COUNT(*) FROM audit WHERE action = ?1";

static int setup(void **state) {
        CbError err = CB_ERROR_INIT;
        char *path;
        (void)state;
        if (!mkdtemp(tmpdir) || asprintf(&path, "%s/api.db", tmpdir) < 0)
                return -1;
        int r = store_open(path, &store, &err);
        free(path);
        if (r < 0 || store_exec(store, create_sql, &err) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        store_free(store);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static int64_t count(const char *sql, const StoreArg *args) {
        CbError err = CB_ERROR_INIT;
        int64_t n = -1;
        assert_int_equal(store_query_int(store, sql, args, &n, "counting", &err), 0);
        return n;
}

static void test_run_and_rows(void **state) {
        CbError err = CB_ERROR_INIT;
        StoreRows *rows = NULL;
        (void)state;

        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("a"), SA_INT(1), SA_TEXT("first")),
                                   "adding", &err),
                         1);
        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("b"), SA_INT(INT64_MAX), SA_TEXT(NULL)),
                                   "adding", &err),
                         1);
        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("c"), SA_NULL, SA_TEXT("third")),
                                   "adding", &err),
                         1);

        assert_int_equal(store_query(store, sel_sql, STORE_ARGS(SA_INT(1)), &rows, "listing", &err), 0);
        assert_int_equal(store_rows_next(rows, &err), 1);
        assert_string_equal(store_rows_text(rows, 0), "a");
        assert_int_equal(store_rows_int(rows, 1), 1);
        char *note = store_rows_dup(rows, 2);
        assert_string_equal(note, "first");
        free(note);
        assert_int_equal(store_rows_next(rows, &err), 1);
        assert_string_equal(store_rows_text(rows, 0), "b");
        assert_true(store_rows_int(rows, 1) == INT64_MAX);
        assert_true(store_rows_is_null(rows, 2)); /* a NULL text bound SQL NULL */
        assert_null(store_rows_text(rows, 2));
        assert_null(store_rows_dup(rows, 2));
        assert_int_equal(store_rows_next(rows, &err), 0); /* c has n NULL: not >= 1 */
        store_rows_done(rows);
        store_rows_done(NULL);

        /* A row changed or none. */
        assert_int_equal(store_run(store, "UPDATE t SET n = ?1 WHERE id = ?2",
                                   STORE_ARGS(SA_INT(5), SA_TEXT("zz")), "updating", &err),
                         0);
        assert_int_equal(count(count_sql, NULL), 3);
}

/* A record read into a struct: the text columns it names, copied into one
 * allocation that outlives the row; NULL stays NULL. */
static void test_rows_texts(void **state) {
        CbError err = CB_ERROR_INIT;
        StoreRows *rows = NULL;
        const char *id = "x", *note = "x", *n_text = "x";
        char *mem = NULL;
        (void)state;

        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("texts-1"), SA_INT(-42), SA_TEXT("")),
                                   "adding", &err),
                         1);
        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("texts-2"), SA_INT(-41), SA_NULL),
                                   "adding", &err),
                         1);
        assert_int_equal(store_query(store, "SELECT id, n, note FROM t WHERE id LIKE ?1 ORDER BY id",
                                     STORE_ARGS(SA_TEXT("texts-%")), &rows, "listing", &err),
                         0);
        assert_int_equal(store_rows_next(rows, &err), 1);
        assert_int_equal(store_rows_texts(rows,
                                          (const StoreText[]){ { 2, &note }, { 0, &id }, { 1, &n_text } }, 3,
                                          &mem),
                         0);
        assert_int_equal(store_rows_next(rows, &err), 1); /* the copies outlive their row */
        assert_string_equal(id, "texts-1");
        assert_string_equal(note, ""); /* an empty text is no NULL */
        assert_string_equal(n_text, "-42");
        free(mem);

        assert_int_equal(store_rows_texts(rows, (const StoreText[]){ { 0, &id }, { 2, &note } }, 2, &mem), 0);
        assert_string_equal(id, "texts-2");
        assert_null(note);
        free(mem);
        store_rows_done(rows);
        assert_int_equal(store_run(store, "DELETE FROM t WHERE id LIKE 'texts-%'", NULL, "cleaning", &err),
                         2);
}

static void test_refusals(void **state) {
        CbError err = CB_ERROR_INIT;
        StoreRows *rows = NULL;
        (void)state;

        /* A duplicate key is -EEXIST, for the core to name what is taken. */
        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("a"), SA_INT(2), SA_TEXT("again")),
                                   "adding", &err),
                         -EEXIST);
        assert_non_null(strstr(err.message, "adding"));
        cb_error_clear(&err);
        /* Too few or too many values are the caller's bug: refused, never a silent NULL. */
        assert_int_equal(store_run(store, ins_sql, STORE_ARGS(SA_TEXT("d"), SA_INT(2)), "adding", &err),
                         -cb_error_errno(CB_ERR_INTERNAL));
        assert_non_null(strstr(err.message, "2 values for 3 parameters"));
        cb_error_clear(&err);
        assert_int_equal(store_run(store, ins_sql,
                                   STORE_ARGS(SA_TEXT("d"), SA_INT(2), SA_TEXT("x"), SA_TEXT("extra")),
                                   "adding", &err),
                         -cb_error_errno(CB_ERR_INTERNAL));
        assert_non_null(strstr(err.message, "4 values for 3 parameters"));
        cb_error_clear(&err);
        assert_int_equal(store_query(store, sel_sql, NULL, &rows, "listing", &err),
                         -cb_error_errno(CB_ERR_INTERNAL));
        cb_error_clear(&err);
        /* Bad SQL names what was being done. */
        assert_int_equal(
                store_run(store, "INSERT INTO nowhere VALUES (?1)", STORE_ARGS(SA_INT(1)), "filing", &err),
                -cb_error_errno(CB_ERR_INTERNAL));
        assert_non_null(strstr(err.message, "filing"));
        cb_error_clear(&err);
        assert_int_equal(count(count_sql, NULL), 3);
}

typedef struct Change {
        const char *id;
        bool fail_after_insert;
} Change;

static int insert_change(Store *s, void *userdata, CbError *err) {
        const Change *c = userdata;
        int r = store_run(s, ins_sql, STORE_ARGS(SA_TEXT(c->id), SA_INT(9), SA_TEXT("audited")), "adding",
                          err);
        if (r < 0)
                return r;
        if (c->fail_after_insert)
                return cb_error_set(err, CB_ERR_CONFLICT, "changed my mind");
        return 0;
}

static void test_audit_change(void **state) {
        CbError err = CB_ERROR_INIT;
        (void)state;

        /* Both land. */
        assert_int_equal(audit_change(store, NULL, &(AuditEntry){ "t.create", "t:e", "ok", NULL, NULL },
                                      insert_change, &(Change){ "e", false }, &err),
                         0);
        assert_int_equal(count(count_sql, NULL), 4);
        assert_int_equal(count(audit_count_sql, STORE_ARGS(SA_TEXT("t.create"))), 1);

        /* The change fails half-way: neither its row nor a record. */
        assert_int_equal(audit_change(store, NULL, &(AuditEntry){ "t.create", "t:f", "ok", NULL, NULL },
                                      insert_change, &(Change){ "f", true }, &err),
                         -cb_error_errno(CB_ERR_CONFLICT));
        assert_string_equal(err.message, "changed my mind");
        cb_error_clear(&err);
        assert_int_equal(count(count_sql, NULL), 4);
        assert_int_equal(count(audit_count_sql, STORE_ARGS(SA_TEXT("t.create"))), 1);

        /* The change is refused by the store: the same. */
        assert_int_equal(audit_change(store, NULL, &(AuditEntry){ "t.create", "t:e", "ok", NULL, NULL },
                                      insert_change, &(Change){ "e", false }, &err),
                         -EEXIST);
        cb_error_clear(&err);
        assert_int_equal(count(audit_count_sql, STORE_ARGS(SA_TEXT("t.create"))), 1);

        /* The audit record cannot be written: the change goes too. */
        assert_int_equal(
                store_exec(
                        store,
                        "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'x'); END",
                        &err),
                0);
        assert_true(audit_change(store, NULL, &(AuditEntry){ "t.create", "t:g", "ok", NULL, NULL },
                                 insert_change, &(Change){ "g", false }, &err) < 0);
        cb_error_clear(&err);
        assert_int_equal(store_exec(store, "DROP TRIGGER no_audit", &err), 0);
        assert_int_equal(count("SELECT COUNT(*) FROM t WHERE id = ?1", STORE_ARGS(SA_TEXT("g"))), 0);
}

static void test_text_len(void **state) {
        static const char signed_doc[] = "{\"a\":1}trailing bytes the signature does not cover";
        CbError err = CB_ERROR_INIT;
        StoreRows *rows = NULL;
        (void)state;

        /* Exactly the bytes given, not up to the NUL. */
        assert_int_equal(store_run(store, ins_sql,
                                   STORE_ARGS(SA_TEXT("len"), SA_INT(7), SA_TEXT_LEN(signed_doc, 7)),
                                   "adding", &err),
                         1);
        assert_int_equal(store_query(store, "SELECT note, length(note) FROM t WHERE id = ?1",
                                     STORE_ARGS(SA_TEXT("len")), &rows, "reading", &err),
                         0);
        assert_int_equal(store_rows_next(rows, &err), 1);
        assert_string_equal(store_rows_text(rows, 0), "{\"a\":1}");
        assert_int_equal(store_rows_int(rows, 1), 7);
        store_rows_done(rows);
        /* NULL is SQL NULL; a length that cannot be a text is the caller's bug. */
        assert_int_equal(store_run(store, ins_sql,
                                   STORE_ARGS(SA_TEXT("lennull"), SA_INT(7), SA_TEXT_LEN(NULL, 0)), "adding",
                                   &err),
                         1);
        assert_int_equal(count("SELECT COUNT(*) FROM t WHERE id = ?1 AND note IS NULL",
                               STORE_ARGS(SA_TEXT("lennull"))),
                         1);
        assert_int_equal(store_run(store, ins_sql,
                                   STORE_ARGS(SA_TEXT("lenbad"), SA_INT(7), SA_TEXT_LEN(signed_doc, -1)),
                                   "adding", &err),
                         -cb_error_errno(CB_ERR_INTERNAL));
        assert_non_null(strstr(err.message, "value 3"));
        cb_error_clear(&err);
        assert_int_equal(count("SELECT COUNT(*) FROM t WHERE id = ?1", STORE_ARGS(SA_TEXT("lenbad"))), 0);
}

static void test_blob(void **state) {
        static const unsigned char bytes[] = { 'a', 0, 0xff, 0xe6, 0x95, '\r', '\n', 0 };
        CbError err = CB_ERROR_INIT;
        StoreRows *rows = NULL;
        (void)state;

        assert_int_equal(store_exec(store, "CREATE TABLE b (k INTEGER PRIMARY KEY, data BLOB)", &err), 0);
        assert_int_equal(store_run(store, "INSERT INTO b (k, data) VALUES (?1, ?2)",
                                   STORE_ARGS(SA_INT(1), SA_BLOB(bytes, sizeof(bytes))), "adding", &err),
                         1);
        assert_int_equal(store_run(store, "INSERT INTO b (k, data) VALUES (?1, ?2)",
                                   STORE_ARGS(SA_INT(2), SA_BLOB(NULL, 0)), "adding", &err),
                         1);
        /* Every byte, NUL or not UTF-8, and stored as a BLOB, not a text. */
        assert_int_equal(store_query(store, "SELECT data, typeof(data), length(data) FROM b ORDER BY k", NULL,
                                     &rows, "reading", &err),
                         0);
        assert_int_equal(store_rows_next(rows, &err), 1);
        const void *p = store_rows_blob(rows, 0);
        assert_non_null(p);
        assert_int_equal(store_rows_len(rows, 0), sizeof(bytes));
        assert_memory_equal(p, bytes, sizeof(bytes));
        assert_string_equal(store_rows_text(rows, 1), "blob");
        assert_int_equal(store_rows_int(rows, 2), sizeof(bytes));
        assert_int_equal(store_rows_next(rows, &err), 1);
        assert_null(store_rows_blob(rows, 0)); /* NULL binds SQL NULL */
        assert_true(store_rows_is_null(rows, 0));
        assert_int_equal(store_rows_next(rows, &err), 0);
        store_rows_done(rows);
        assert_int_equal(store_run(store, "INSERT INTO b (k, data) VALUES (?1, ?2)",
                                   STORE_ARGS(SA_INT(3), SA_BLOB(bytes, -1)), "adding", &err),
                         -cb_error_errno(CB_ERR_INTERNAL));
        assert_non_null(strstr(err.message, "value 2"));
        cb_error_clear(&err);
}

/* The writer holds SQLite's write lock for a while on another thread, as a
 * close's worker does for a slice. */
typedef struct Holder {
        Store *wr;
        int hold_ms;
        int ready[2]; /* a byte once the writer holds its transaction */
        int r;
} Holder;

static void *hold_write_lock(void *userdata) {
        Holder *h = userdata;
        CbError err = CB_ERROR_INIT;
        struct timespec pause = { .tv_sec = h->hold_ms / 1000, .tv_nsec = (h->hold_ms % 1000) * 1000000L };

        h->r = store_begin(h->wr);
        if (h->r >= 0)
                h->r = store_run(h->wr, ins_sql, STORE_ARGS(SA_TEXT("w-held"), SA_INT(1), SA_TEXT("writer")),
                                 "adding", &err);
        if (write(h->ready[1], "x", 1) != 1)
                h->r = -EIO;
        nanosleep(&pause, NULL);
        if (h->r >= 0)
                h->r = store_commit(h->wr);
        return NULL;
}

static int64_t ms_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_writer(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *wr = NULL;
        Holder h = { .hold_ms = 300 };
        pthread_t t;
        char c;
        int64_t t0;
        (void)state;

        assert_int_equal(store_open_writer(store, &wr, &err), 0);
        /* What it commits the owner's connection reads. */
        assert_int_equal(store_run(wr, ins_sql, STORE_ARGS(SA_TEXT("w-1"), SA_INT(1), SA_TEXT("writer")),
                                   "adding", &err),
                         1);
        assert_int_equal(count("SELECT COUNT(*) FROM t WHERE id = ?1", STORE_ARGS(SA_TEXT("w-1"))), 1);

        /* While it holds a transaction, its rows are not seen, and the
         * owner's own write waits for it (busy_timeout) instead of failing. */
        h.wr = wr;
        assert_int_equal(pipe(h.ready), 0);
        assert_int_equal(pthread_create(&t, NULL, hold_write_lock, &h), 0);
        assert_int_equal(read(h.ready[0], &c, 1), 1);
        assert_int_equal(count("SELECT COUNT(*) FROM t WHERE id = ?1", STORE_ARGS(SA_TEXT("w-held"))), 0);
        t0 = ms_now();
        assert_int_equal(store_run(store, ins_sql,
                                   STORE_ARGS(SA_TEXT("w-owner"), SA_INT(1), SA_TEXT("owner")), "adding",
                                   &err),
                         1);
        assert_true(ms_now() - t0 >= 100);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(h.r, 0);
        assert_int_equal(count("SELECT COUNT(*) FROM t WHERE id IN ('w-held', 'w-owner')", NULL), 2);
        close(h.ready[0]);
        close(h.ready[1]);

        /* A writer may not change the schema's rules: foreign keys hold there too. */
        assert_int_equal(store_exec(store, "CREATE TABLE child (id TEXT REFERENCES t(id))", &err), 0);
        assert_true(store_run(wr, "INSERT INTO child (id) VALUES (?1)", STORE_ARGS(SA_TEXT("nobody")),
                              "adding", &err) < 0);
        cb_error_clear(&err);
        assert_int_equal(store_checkpoint(wr), 0);
        store_free(wr);
}

/* Migration 33's cut: files stored whole (TEXT) come out as slices whose
 * bytes, in order, are the file, characters cut or not. */
static void test_closed_files_sliced(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *old = NULL;
        StoreRows *rows = NULL;
        char *path = NULL, *body = NULL;
        const char *unit = "临政办发〔2021〕15号,\"a\"\r\n"; /* 3-byte characters: slices cut some */
        size_t ulen = strlen(unit), n = 0, len = 600 * 1024 + 7;
        int64_t seq = 0;
        int v;
        (void)state;

        assert_true(asprintf(&path, "%s/sliced.db", tmpdir) > 0);
        body = malloc(len + 1);
        assert_non_null(body);
        for (size_t i = 0; i < len; i++)
                body[i] = unit[i % ulen];
        body[len] = 0;
        /* The newest schema before the slices: its closed files have a body. */
        for (v = store_latest_version() - 1; v > 0; v--) {
                int64_t has = 0;
                unlink(path);
                assert_int_equal(store_open_at_version(path, v, &old, &err), 0);
                assert_int_equal(
                        store_query_int(old,
                                        "SELECT COUNT(*) FROM pragma_table_info('billing_closed_files') "
                                        "WHERE name = 'body'",
                                        NULL, &has, "reading the schema", &err),
                        0);
                if (has)
                        break;
                store_free(old);
                old = NULL;
        }
        assert_non_null(old);
        assert_int_equal(
                store_run(old,
                          "INSERT INTO billing_closed (period, closed_at, closed_by, alg, key_id) VALUES "
                          "('2024-02', '2024-03-01T00:00:00Z', 'fin', 'ed25519', 'k')",
                          NULL, "closing", &err),
                1);
        assert_int_equal(store_run(old,
                                   "INSERT INTO billing_closed_files (period, department, format, body, sm3, "
                                   "signature) VALUES ('2024-02', '', 'csv', ?1, 'd', 's'), "
                                   "('2024-02', 'edu', 'json', '{}', 'd2', 's2')",
                                   STORE_ARGS(SA_TEXT_LEN(body, len)), "storing", &err),
                         2);
        store_free(old);
        old = NULL;

        assert_int_equal(store_open(path, &old, &err), 0);
        assert_int_equal(
                store_query(old,
                            "SELECT seq, data FROM billing_closed_slices WHERE period = '2024-02' AND "
                            "department = '' AND format = 'csv' ORDER BY seq",
                            NULL, &rows, "reading", &err),
                0);
        while (store_rows_next(rows, &err) > 0) {
                const void *p = store_rows_blob(rows, 1);
                size_t k = store_rows_len(rows, 1);
                assert_int_equal(store_rows_int(rows, 0), seq++);
                assert_true(k > 0 && k <= 256 * 1024 && n + k <= len);
                assert_memory_equal(p, body + n, k);
                n += k;
        }
        store_rows_done(rows);
        assert_int_equal(n, len);
        assert_int_equal(seq, 3);
        {
                int64_t size = 0, small = 0, gone = -1;
                assert_int_equal(
                        store_query_int(old, "SELECT size FROM billing_closed_files WHERE department = ''",
                                        NULL, &size, "reading", &err),
                        0);
                assert_int_equal(size, (int64_t)len);
                assert_int_equal(
                        store_query_int(old,
                                        "SELECT COUNT(*) FROM billing_closed_slices WHERE department = "
                                        "'edu' AND data = CAST('{}' AS BLOB) AND seq = 0",
                                        NULL, &small, "reading", &err),
                        0);
                assert_int_equal(small, 1);
                assert_int_equal(
                        store_query_int(old,
                                        "SELECT COUNT(*) FROM pragma_table_info('billing_closed_files') "
                                        "WHERE name = 'body'",
                                        NULL, &gone, "reading", &err),
                        0);
                assert_int_equal(gone, 0);
        }
        store_free(old);
        free(body);
        free(path);
}

/* A change that learns in its transaction what its record says (a number
 * it drew, the state it found). */
typedef struct Numbered {
        AuditEntry entry;
        char object[32];
} Numbered;

static int numbered_change(Store *s, void *userdata, CbError *err) {
        Numbered *c = userdata;
        int64_t n = 0;
        int r = store_query_int(s, count_sql, NULL, &n, "counting", err);
        if (r < 0)
                return r;
        snprintf(c->object, sizeof(c->object), "t:n%lld", (long long)n);
        return 0;
}

static void test_audit_change_entry_completed_by_change(void **state) {
        CbError err = CB_ERROR_INIT;
        Numbered c = { .entry = { .action = "t.numbered", .outcome = "ok" } };
        int64_t n = count(count_sql, NULL);
        char expect[32];
        (void)state;

        c.entry.object = c.object;
        assert_int_equal(audit_change(store, NULL, &c.entry, numbered_change, &c, &err), 0);
        snprintf(expect, sizeof(expect), "t:n%lld", (long long)n);
        assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE action = ?1 AND object = ?2",
                               STORE_ARGS(SA_TEXT("t.numbered"), SA_TEXT(expect))),
                         1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_run_and_rows),
                cmocka_unit_test(test_rows_texts),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_audit_change),
                cmocka_unit_test(test_text_len),
                cmocka_unit_test(test_audit_change_entry_completed_by_change),
                cmocka_unit_test(test_blob),
                cmocka_unit_test(test_writer),
                cmocka_unit_test(test_closed_files_sliced),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
