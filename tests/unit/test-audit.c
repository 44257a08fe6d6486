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

static bool verdict(Store *s, const AuditAnchor *anchor, int64_t *bad_seq, const char **problem) {
        CbError err = CB_ERROR_INIT;
        json_t *v = NULL;
        assert_int_equal(audit_verify_chain(s, anchor, &v, &err), 0);
        bool ok = json_is_true(json_object_get(v, "ok"));
        static char p[32];
        const json_t *bad = json_object_get(v, "first_bad");
        *bad_seq = json_integer_value(json_object_get(bad, "seq"));
        snprintf(p, sizeof(p), "%s", bad ? json_string_value(json_object_get(bad, "problem")) : "");
        *problem = p;
        json_decref(v);
        return ok;
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

/* Who may read and verify is audit_list's and audit_verify's to decide,
 * for every face: auditors and the authority, nobody else, and no caller
 * at all is no one. The range of limit and after is theirs too. */
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
        json_t *v = NULL;

        assert_true(asprintf(&path, "%s/readers.db", tmpdir) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        for (int i = 0; i < 3; i++)
                append(s, "object:r");

        assert_int_equal(audit_list(s, &as_auditor, 0, 10, &v, &err), 0);
        assert_int_equal(json_array_size(v), 3);
        json_decref(v), v = NULL;
        assert_int_equal(audit_list(s, &as_authority, 1, 1, &v, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "seq")), 2);
        json_decref(v), v = NULL;
        assert_int_equal(audit_verify(s, &as_auditor, NULL, &v, &err), 0);
        assert_true(json_is_true(json_object_get(v, "ok")));
        json_decref(v), v = NULL;

        const CbCaller *refused[] = { &as_edu, &as_operator };
        for (size_t i = 0; i < 2; i++) {
                cb_error_clear(&err);
                assert_int_equal(audit_list(s, refused[i], 0, 10, &v, &err), -EPERM);
                assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
                assert_null(v);
                cb_error_clear(&err);
                assert_int_equal(audit_verify(s, refused[i], NULL, &v, &err), -EPERM);
                assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
                assert_null(v);
        }
        cb_error_clear(&err);
        assert_true(audit_list(s, NULL, 0, 10, &v, &err) < 0);
        assert_null(v);

        cb_error_clear(&err);
        assert_int_equal(audit_list(s, &as_auditor, 0, 0, &v, &err), -EINVAL);
        assert_string_equal(err.field, "limit");
        cb_error_clear(&err);
        assert_int_equal(audit_list(s, &as_auditor, 0, AUDIT_LIST_MAX + 1, &v, &err), -EINVAL);
        cb_error_clear(&err);
        assert_int_equal(audit_list(s, &as_auditor, -1, 1, &v, &err), -EINVAL);
        assert_string_equal(err.field, "after");
        assert_null(v);
        cb_error_clear(&err);

        store_free(s);
        free(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_anchor_parse),
                cmocka_unit_test(test_anchor_catches_a_cut_tail),
                cmocka_unit_test(test_readers_only),
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
