/* SPDX-License-Identifier: Apache-2.0 */
/* The audit chain against an anchor: parsing, the head as an anchor, and a
 * chain cut off together with its head, which only the anchor reveals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "signature.h"
#include "store.h"

static char tmpdir[] = "/tmp/cbaudit.XXXXXX";

static void test_anchor_parse(void **state) {
        (void)state;
        AuditAnchor a = { .seq = 99 };
        char good[80];
        snprintf(good, sizeof(good), "12:%064d", 0);
        good[strlen(good) - 1] = 'f';
        assert_int_equal(audit_anchor_parse(good, &a), 0);
        assert_int_equal(a.seq, 12);
        assert_string_equal(a.hash, good + 3);

        static const char *const bad[] = {
                "",
                "12",
                ":abc",
                "0:"
                "0000000000000000000000000000000000000000000000000000000000000000",
                "-1:"
                "0000000000000000000000000000000000000000000000000000000000000000",
                "1x:"
                "0000000000000000000000000000000000000000000000000000000000000000",
                "1:"
                "000000000000000000000000000000000000000000000000000000000000000", /* 63 */
                "1:"
                "00000000000000000000000000000000000000000000000000000000000000000", /* 65 */
                "1:"
                "000000000000000000000000000000000000000000000000000000000000000G",
                "1:"
                "000000000000000000000000000000000000000000000000000000000000000A", /* upper case */
                NULL,
        };
        for (size_t i = 0; bad[i]; i++) {
                AuditAnchor untouched = { .seq = 7 };
                assert_int_equal(audit_anchor_parse(bad[i], &untouched), -EINVAL);
                assert_int_equal(untouched.seq, 7);
        }
        assert_int_equal(audit_anchor_parse(NULL, &a), -EINVAL);
}

static void append(Store *s, const char *object) {
        CbError err = CB_ERROR_INIT;
        assert_int_equal(
                audit_append(s, NULL, &(AuditEntry){ "test.append", object, "ok", NULL, NULL }, &err), 0);
}

static char last_message[400];
static int64_t last_through;

static bool verdict_keys(Store *s, const AuditAnchor *anchor, const SigKey *key, int64_t *bad_seq,
                         const char **problem) {
        CbError err = CB_ERROR_INIT;
        AuditVerifyResult v;
        AuditVerifyOptions o = { .anchor = anchor, .keys = &key, .n_keys = key ? 1 : 0 };
        assert_int_equal(audit_verify(s, &o, &v, &err), 0);
        static char p[32];
        const AuditProblem *bad = v.first_bad.problem ? &v.first_bad : NULL;
        assert_int_equal(v.ok, !bad);
        *bad_seq = bad ? bad->seq : 0;
        last_through = bad ? bad->through : 0;
        snprintf(p, sizeof(p), "%s", bad ? bad->problem : "");
        snprintf(last_message, sizeof(last_message), "%s", bad ? bad->message : "");
        *problem = p;
        return v.ok;
}

static bool verdict(Store *s, const AuditAnchor *anchor, int64_t *bad_seq, const char **problem) {
        return verdict_keys(s, anchor, NULL, bad_seq, problem);
}

static void test_anchor_catches_a_cut_tail(void **state) {
        (void)state;
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = NULL;
        AuditAnchor head, early;
        int64_t bad;
        const char *problem;

        assert_true(asprintf(&path, "%s/audit.db", tmpdir) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(audit_head_anchor(s, &head), -ENOENT); /* empty trail */
        for (int i = 0; i < 5; i++)
                append(s, "object:x");
        assert_int_equal(audit_head_anchor(s, &head), 0);
        assert_int_equal(head.seq, 5);

        /* Intact: with or without the anchor, and with an older anchor. */
        assert_true(verdict(s, NULL, &bad, &problem));
        assert_true(verdict(s, &head, &bad, &problem));
        append(s, "object:y");
        assert_true(verdict(s, &head, &bad, &problem));

        /* An anchor whose hash is not the record's: named as edited. */
        early = head;
        early.hash[0] = early.hash[0] == '0' ? '1' : '0';
        assert_false(verdict(s, &early, &bad, &problem));
        assert_int_equal(bad, 5);
        assert_string_equal(problem, "edited");

        /* Cut the newest three off and rewrite the head: the chain verifies... */
        assert_int_equal(
                store_exec(s,
                           "DELETE FROM audit WHERE seq > 3;"
                           "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit WHERE seq = 3);",
                           &err),
                0);
        assert_true(verdict(s, NULL, &bad, &problem));
        /* ...but not against the anchor. */
        assert_false(verdict(s, &head, &bad, &problem));
        assert_int_equal(bad, 4);
        assert_string_equal(problem, "deleted");

        store_free(s);
        free(path);
}

/* ---- checkpoints ---- */

#define SM2_KEY     "etc/dev-keys/dev-checkpoint.key.pem"
#define SM2_PUB     "etc/dev-keys/dev-checkpoint.pub.pem"
#define ED25519_KEY "etc/dev-keys/dev-authority-ed25519.key.pem"
#define ED25519_PUB "etc/dev-keys/dev-authority-ed25519.pub.pem"

static SigKey *load_key(const char *path, bool private) {
        CbError err = CB_ERROR_INIT;
        SigKey *k = NULL;
        int r = private ? sig_key_load_private(path, &k, &err) : sig_key_load_public(path, &k, &err);
        if (r < 0)
                fail_msg("%s: %s", path, err.message);
        return k;
}

static int64_t count(Store *s, const char *sql) {
        sqlite3_stmt *st;
        int64_t n = -1;
        assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return n;
}

static void exec(Store *s, const char *sql) {
        CbError err = CB_ERROR_INIT;
        if (store_exec(s, sql, &err) < 0)
                fail_msg("%s: %s", sql, err.message);
}

/* A fresh database with n records, checkpointed every `every` by a trail
 * that signs with key_path (NULL: unsigned). */
static Store *signed_trail(const char *name, const char *key_path, unsigned every, int n, AuditTrail **ret) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = NULL;
        AuditTrail *t = NULL;
        char object[32];

        assert_true(asprintf(&path, "%s/%s.db", tmpdir, name) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        free(path);
        assert_int_equal(audit_trail_new(s, key_path ? load_key(key_path, true) : NULL, every, &t), 0);
        assert_int_equal(audit_trail_check(t, &err), 0);
        for (int i = 1; i <= n; i++) {
                snprintf(object, sizeof(object), "object:%d", i);
                append(s, object);
        }
        *ret = t;
        return s;
}

/* What an attacker with the database but without the key can do: replace
 * the records from `from` on with others that chain correctly. */
static void rechain_from(Store *s, AuditTrail *t, int from, int n) {
        char sql[256], object[32];
        store_set_audit(s, NULL); /* no key: the attacker's own writer */
        snprintf(sql, sizeof(sql),
                 "DELETE FROM audit WHERE seq >= %d;"
                 "UPDATE audit_head SET seq = %d, hash = (SELECT hash FROM audit WHERE seq = %d);",
                 from, from - 1, from - 1);
        exec(s, sql);
        for (int i = from; i <= n; i++) {
                snprintf(object, sizeof(object), "forged:%d", i);
                append(s, object);
        }
        store_set_audit(s, t);
}

static void test_checkpoints_signed_and_verified(void **state) {
        const char *keys[][2] = { { SM2_KEY, SM2_PUB }, { ED25519_KEY, ED25519_PUB } };
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                CbError err = CB_ERROR_INIT;
                AuditTrail *t;
                SigKey *pub = load_key(keys[i][1], false), *other = load_key(keys[1 - i][1], false);
                Store *s = signed_trail(i == 0 ? "sm2" : "ed25519", keys[i][0], 3, 10, &t);
                int64_t bad;
                const char *problem;

                assert_string_equal(sig_key_alg(pub), i == 0 ? "sm2-sm3" : "ed25519");
                assert_int_equal(audit_trail_state(t), AUDIT_STATE_SIGNED);
                /* The empty trail at start ("upgrade": the first), then records 3, 6, 9. */
                assert_int_equal(count(s, "SELECT count(*) FROM audit_checkpoints"), 4);
                assert_int_equal(count(s, "SELECT group_concat(seq) = '0,3,6,9' FROM audit_checkpoints"), 1);
                assert_true(verdict_keys(s, NULL, pub, &bad, &problem));
                /* A stop checkpoint names the head; one with nothing new is skipped on request. */
                assert_int_equal(audit_checkpoint(s, "stop", false, &err), 1);
                assert_int_equal(audit_checkpoint(s, "periodic", true, &err), 0);
                assert_int_equal(count(s, "SELECT max(seq) FROM audit_checkpoints"), 10);
                assert_true(verdict_keys(s, NULL, pub, &bad, &problem));

                /* Checked with another key, every checkpoint is someone else's. */
                assert_false(verdict_keys(s, NULL, other, &bad, &problem));
                assert_string_equal(problem, "forged-checkpoint");
                assert_int_equal(bad, 0);
                assert_non_null(strstr(last_message, "not the key given"));

                /* A checkpoint edited to name another hash no longer verifies. */
                exec(s, "UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit WHERE seq = 5), seq = 5 "
                        "WHERE seq = 6;");
                assert_false(verdict_keys(s, NULL, pub, &bad, &problem));
                assert_string_equal(problem, "forged-checkpoint");
                assert_int_equal(bad, 5);
                assert_non_null(strstr(last_message, "signature does not verify"));

                audit_trail_free(t);
                sig_key_free(pub);
                sig_key_free(other);
                store_free(s);
        }
}

static void test_rewrites_named(void **state) {
        AuditTrail *t;
        Store *s = signed_trail("rewrite", SM2_KEY, 3, 10, &t);
        SigKey *pub = load_key(SM2_PUB, false);
        CbError err = CB_ERROR_INIT;
        int64_t bad;
        const char *problem;
        (void)state;

        exec(s, "CREATE TABLE pristine AS SELECT * FROM audit;"
                "CREATE TABLE pristine_cp AS SELECT * FROM audit_checkpoints;"
                "CREATE TABLE pristine_head AS SELECT * FROM audit_head;");
#define RESTORE                                                                                           \
        exec(s, "DELETE FROM audit; INSERT INTO audit SELECT * FROM pristine;"                            \
                "DELETE FROM audit_checkpoints; INSERT INTO audit_checkpoints SELECT * FROM pristine_cp;" \
                "DELETE FROM audit_head; INSERT INTO audit_head SELECT * FROM pristine_head;")

        /* A forged record: its content no longer matches its hash. */
        exec(s, "UPDATE audit SET principal = 'mallory' WHERE seq = 5;");
        assert_false(verdict_keys(s, NULL, pub, &bad, &problem));
        assert_int_equal(bad, 5);
        assert_string_equal(problem, "edited");
        RESTORE;

        /* Re-chained from record 5: the chain alone is fine... */
        rechain_from(s, t, 5, 10);
        assert_true(verdict(s, NULL, &bad, &problem));
        /* ...but checkpoint 3 vouches for 1..3 only, and checkpoint 6 no longer matches. */
        assert_false(verdict_keys(s, NULL, pub, &bad, &problem));
        assert_string_equal(problem, "rewritten");
        assert_int_equal(bad, 4);
        assert_int_equal(last_through, 6);
        assert_non_null(strstr(last_message, "records 4..6 were rewritten"));
        /* Deleting the checkpoints that disagree leaves too long an unsigned tail. */
        exec(s, "DELETE FROM audit_checkpoints WHERE seq > 3;");
        assert_false(verdict_keys(s, NULL, pub, &bad, &problem));
        assert_string_equal(problem, "unsigned-tail");
        assert_int_equal(bad, 6);
        RESTORE;

        /* A cut tail with the head rewritten: the newest checkpoint names record 9. */
        exec(s, "DELETE FROM audit WHERE seq > 7;"
                "UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit WHERE seq = 7);");
        assert_true(verdict(s, NULL, &bad, &problem));
        assert_false(verdict_keys(s, NULL, pub, &bad, &problem));
        assert_string_equal(problem, "deleted");
        assert_int_equal(bad, 8);
        assert_non_null(strstr(last_message, "records 8..9 were cut off"));
        RESTORE;

        /* A checkpoint deleted from the middle leaves a gap in the numbers. */
        exec(s, "DELETE FROM audit_checkpoints WHERE seq = 3;");
        assert_false(verdict_keys(s, NULL, pub, &bad, &problem));
        assert_string_equal(problem, "missing-checkpoint");
        RESTORE;

        /* Invalid UTF-8 in a field: named, not "out of memory". */
        exec(s, "UPDATE audit SET object = CAST(x'6f626a3aff' AS TEXT) WHERE seq = 4;");
        assert_false(verdict(s, NULL, &bad, &problem));
        assert_int_equal(bad, 4);
        assert_string_equal(problem, "edited");
        assert_non_null(strstr(last_message, "its object is not valid UTF-8"));
        /* And the record is still listed, the bad byte shown as U+FFFD. */
        AuditList list = { 0 };
        assert_int_equal(
                audit_list(s,
                           &(CbCaller){ &(Principal){ .name = (char *)"auditor", .roles = CB_ROLE_AUDITOR },
                                        "test" },
                           3, 1, &list, &err),
                0);
        assert_int_equal(list.n, 1);
        assert_string_equal(list.v[0].object, "obj:\xef\xbf\xbd");
        audit_list_done(&list);
        RESTORE;

        /* The head row deleted: the last record, not one past the end. */
        exec(s, "DELETE FROM audit_head;");
        assert_false(verdict(s, NULL, &bad, &problem));
        assert_int_equal(bad, 10);
        assert_string_equal(problem, "head-missing");
        RESTORE;

        assert_true(verdict_keys(s, NULL, pub, &bad, &problem));
        audit_trail_free(t);
        sig_key_free(pub);
        store_free(s);
}

/* The start check refuses changes on a tampered trail and signs nothing. */
static void test_start_check_refuses_changes(void **state) {
        CbError err = CB_ERROR_INIT;
        AuditTrail *t, *t2;
        Store *s = signed_trail("start", SM2_KEY, 3, 10, &t);
        int64_t checkpoints;
        (void)state;

        assert_int_equal(audit_checkpoint(s, "stop", false, &err), 1);
        rechain_from(s, t, 8, 10);
        audit_trail_free(t);
        /* A restart: a new trail on the same database. */
        assert_int_equal(audit_trail_new(s, load_key(SM2_KEY, true), 3, &t2), 0);
        checkpoints = count(s, "SELECT count(*) FROM audit_checkpoints");
        assert_int_equal(audit_trail_check(t2, &err), 0);
        assert_int_equal(audit_trail_state(t2), AUDIT_STATE_FAILED);
        assert_non_null(strstr(audit_trail_failure(t2), "rewritten"));
        assert_int_equal(
                audit_append(s, NULL, &(AuditEntry){ "test.append", "object:z", "ok", NULL, NULL }, &err),
                -EAGAIN);
        assert_int_equal(err.kind, CB_ERR_UNAVAILABLE);
        assert_non_null(strstr(err.message, "audit trail failed its check at start"));
        assert_int_equal(audit_checkpoint(s, "stop", false, &err), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM audit_checkpoints"), checkpoints);
        assert_int_equal(count(s, "SELECT max(seq) FROM audit"), 10);
        audit_trail_free(t2);
        store_free(s);
}

/* A database from before checkpoints (or from an unsigned daemon) is
 * verified whole once, then checkpointed. */
static void test_upgrade_checkpoints_once(void **state) {
        CbError err = CB_ERROR_INIT;
        AuditTrail *t;
        Store *s = signed_trail("upgrade", NULL, 3, 7, &t);
        SigKey *pub = load_key(SM2_PUB, false);
        int64_t bad;
        const char *problem;
        AuditVerifyResult v;
        (void)state;

        assert_int_equal(audit_trail_state(t), AUDIT_STATE_UNSIGNED);
        assert_int_equal(count(s, "SELECT count(*) FROM audit_checkpoints"), 0);
        assert_int_equal(audit_verify(s, NULL, &v, &err), 0);
        assert_string_equal(audit_signatures_to_string(v.signatures), "none");
        audit_trail_free(t);

        assert_int_equal(audit_trail_new(s, load_key(SM2_KEY, true), 3, &t), 0);
        assert_int_equal(audit_trail_check(t, &err), 0);
        assert_int_equal(audit_trail_state(t), AUDIT_STATE_SIGNED);
        assert_int_equal(
                count(s, "SELECT count(*) FROM audit_checkpoints WHERE reason = 'upgrade' AND seq = 7"), 1);
        assert_true(verdict_keys(s, NULL, pub, &bad, &problem));
        audit_trail_free(t);
        sig_key_free(pub);
        store_free(s);
}

/* Who may read and verify through the daemon is audit_list's and
 * audit_trail_verify's to decide, for every face: auditors and the
 * authority, nobody else, and no caller at all is no one. The range of
 * limit and after is theirs too. */
static void test_readers_only(void **state) {
        (void)state;
        Principal auditor = { .name = (char *)"a", .roles = CB_ROLE_AUDITOR };
        Principal authority = { .name = (char *)"b", .roles = CB_ROLE_AUTHORITY };
        Principal edu = { .name = (char *)"c", .department = (char *)"edu", .roles = CB_ROLE_DEPARTMENT };
        Principal operator= { .name = (char *)"d", .roles = CB_ROLE_OPERATOR };
        CbCaller as_auditor = { &auditor, "test" }, as_authority = { &authority, "test" };
        CbCaller as_edu = { &edu, "test" }, as_operator = { &operator, "test" };
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = NULL;
        AuditVerifyResult v;
        AuditList list = { 0 };

        assert_true(asprintf(&path, "%s/readers.db", tmpdir) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        for (int i = 0; i < 3; i++)
                append(s, "object:r");

        assert_int_equal(audit_list(s, &as_auditor, 0, 10, &list, &err), 0);
        assert_int_equal(list.n, 3);
        audit_list_done(&list);
        assert_int_equal(audit_list(s, &as_authority, 1, 1, &list, &err), 0);
        assert_int_equal(list.v[0].seq, 2);
        audit_list_done(&list);
        assert_int_equal(audit_trail_verify(NULL, s, &as_auditor, NULL, &v, &err), 0);
        assert_true(v.ok);
        v.records = -1;

        const CbCaller *refused[] = { &as_edu, &as_operator };
        for (size_t i = 0; i < 2; i++) {
                cb_error_clear(&err);
                assert_int_equal(audit_list(s, refused[i], 0, 10, &list, &err), -EPERM);
                assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
                assert_null(list.v);
                cb_error_clear(&err);
                assert_int_equal(audit_trail_verify(NULL, s, refused[i], NULL, &v, &err), -EPERM);
                assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
                assert_int_equal(v.records, -1);
        }
        cb_error_clear(&err);
        assert_true(audit_list(s, NULL, 0, 10, &list, &err) < 0);
        assert_null(list.v);

        cb_error_clear(&err);
        assert_int_equal(audit_list(s, &as_auditor, 0, 0, &list, &err), -EINVAL);
        assert_string_equal(err.field, "limit");
        cb_error_clear(&err);
        assert_int_equal(audit_list(s, &as_auditor, 0, AUDIT_LIST_MAX + 1, &list, &err), -EINVAL);
        cb_error_clear(&err);
        assert_int_equal(audit_list(s, &as_auditor, -1, 1, &list, &err), -EINVAL);
        assert_string_equal(err.field, "after");
        assert_null(list.v);
        cb_error_clear(&err);

        store_free(s);
        free(path);
}

/* The head an append keeps in memory (the trail's store) is dropped by
 * whatever may undo or change it: a rolled-back append, an inner savepoint
 * rolled back under a committed transaction, raw SQL. Each time the next
 * append must chain from the head on disk, or the trail breaks. */
static void test_head_kept_in_memory(void **state) {
        (void)state;
        _cleanup_(audit_trail_freep) AuditTrail *t = NULL;
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path = NULL;
        AuditAnchor head;
        int64_t bad;
        const char *problem;

        assert_true(asprintf(&path, "%s/head-cache.db", tmpdir) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(audit_trail_new(s, NULL, 1000, &t), 0);
        for (int i = 0; i < 3; i++)
                append(s, "object:a");

        /* An append rolled back with its transaction. */
        assert_int_equal(store_begin(s), 0);
        append(s, "object:undone");
        store_rollback(s);
        append(s, "object:b");
        assert_int_equal(audit_head_anchor(s, &head), 0);
        assert_int_equal(head.seq, 4);
        assert_true(verdict(s, NULL, &bad, &problem));

        /* An inner savepoint rolled back, the transaction committed. */
        assert_int_equal(store_begin(s), 0);
        append(s, "object:kept");
        assert_int_equal(store_begin(s), 0);
        append(s, "object:undone");
        store_rollback(s);
        append(s, "object:kept-too");
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(audit_head_anchor(s, &head), 0);
        assert_int_equal(head.seq, 6);
        assert_true(verdict(s, NULL, &bad, &problem));

        /* The newest record cut off with raw SQL and the head rewritten. */
        assert_int_equal(
                store_exec(s,
                           "DELETE FROM audit WHERE seq = 6; "
                           "UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit WHERE seq = 5);",
                           &err),
                0);
        append(s, "object:c");
        assert_int_equal(audit_head_anchor(s, &head), 0);
        assert_int_equal(head.seq, 6);
        assert_true(verdict(s, NULL, &bad, &problem));

        t = audit_trail_free(t);
        store_free(s);
        free(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_anchor_parse),
                cmocka_unit_test(test_anchor_catches_a_cut_tail),
                cmocka_unit_test(test_checkpoints_signed_and_verified),
                cmocka_unit_test(test_rewrites_named),
                cmocka_unit_test(test_start_check_refuses_changes),
                cmocka_unit_test(test_upgrade_checkpoints_once),
                cmocka_unit_test(test_readers_only),
                cmocka_unit_test(test_head_kept_in_memory),
        };
        if (!mkdtemp(tmpdir))
                return 1;
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
                r = r ? r : 1;
        return r;
}
