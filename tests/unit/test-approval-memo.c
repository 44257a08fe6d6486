/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The approval memo: the same text gives the remembered approval without a
 * new parse; another text (even one byte) is parsed anew and gives its own
 * answer; a refused document is refused as approval_parse() refuses it and
 * nothing is remembered; slots are replaced in turn, never the one handed
 * out last.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "approval-memo.h"

#define DOC(rev, quantity)                                                                               \
        "{\"approval_no\": \"A-1\", \"project_id\": \"p1\", \"project_name\": \"one\", \"department\": " \
        "\"edu\", "                                                                                      \
        "\"revision\": " #rev ", \"valid_from\": \"2026-01-01\", \"valid_until\": \"2026-12-31\", "      \
        "\"budget\": {\"construction_fen\": 100, \"om_fen\": 50}, \"systems\": [\"s1\"], "               \
        "\"items\": [{\"service_id\": \"ecs-general\", \"plan_id\": \"c4m8\", \"quantity\": " #quantity  \
        "}], "                                                                                           \
        "\"requires_secure_controllable\": false, \"dedicated_network_consent\": false}"

static const Approval *parse(ApprovalMemo *m, const char *doc) {
        const Approval *a = NULL;
        CbError err = CB_ERROR_INIT;
        assert_int_equal(approval_memo_parse(m, doc, strlen(doc), &a, &err), 0);
        assert_non_null(a);
        cb_error_clear(&err);
        return a;
}

static void test_same_text_parsed_once(void **state) {
        (void)state;
        ApprovalMemo *m = approval_memo_new(4);
        assert_non_null(m);
        const Approval *a = parse(m, DOC(1, 6));
        assert_int_equal(a->revision, 1);
        assert_int_equal(a->items[0].quantity, 6);
        assert_int_equal(approval_memo_parses(m), 1);
        /* A copy of the text in another buffer is the same document. */
        char copy[1024];
        snprintf(copy, sizeof(copy), "%s", DOC(1, 6));
        assert_ptr_equal(parse(m, copy), a);
        assert_int_equal(approval_memo_parses(m), 1);
        approval_memo_free(m);
}

static void test_changed_text_parsed_anew(void **state) {
        (void)state;
        ApprovalMemo *m = approval_memo_new(4);
        const Approval *a = parse(m, DOC(1, 6));
        const Approval *b = parse(m, DOC(1, 7)); /* one byte differs */
        assert_ptr_not_equal(a, b);
        assert_int_equal(b->items[0].quantity, 7);
        assert_int_equal(approval_memo_parses(m), 2);
        const Approval *c = parse(m, DOC(2, 6));
        assert_int_equal(c->revision, 2);
        assert_int_equal(approval_memo_parses(m), 3);
        /* The first is still there. */
        assert_int_equal(parse(m, DOC(1, 6))->items[0].quantity, 6);
        assert_int_equal(approval_memo_parses(m), 3);
        approval_memo_free(m);
}

static void test_refused_document_not_remembered(void **state) {
        (void)state;
        ApprovalMemo *m = approval_memo_new(2);
        const Approval *a = NULL;
        CbError err = CB_ERROR_INIT;
        const char bad[] = "{\"approval_no\": \"A-1\"}";
        assert_int_equal(approval_memo_parse(m, bad, strlen(bad), &a, &err),
                         -cb_error_errno(CB_ERR_VALIDATION));
        assert_null(a);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        cb_error_clear(&err);
        err = (CbError)CB_ERROR_INIT;
        assert_int_equal(approval_memo_parse(m, bad, strlen(bad), &a, &err),
                         -cb_error_errno(CB_ERR_VALIDATION));
        cb_error_clear(&err);
        assert_int_equal(approval_memo_parses(m), 0);
        approval_memo_free(m);
}

static void test_replacement_spares_the_last(void **state) {
        (void)state;
        ApprovalMemo *m = approval_memo_new(2);
        parse(m, DOC(1, 1));                     /* slot 0 */
        const Approval *b = parse(m, DOC(1, 2)); /* slot 1 */
        parse(m, DOC(1, 3));                     /* in turn: replaces slot 0, (1, 1) */
        assert_int_equal(approval_memo_parses(m), 3);
        /* Slot 1 is next in turn, but a hit hands it out last... */
        assert_ptr_equal(parse(m, DOC(1, 2)), b);
        assert_int_equal(approval_memo_parses(m), 3);
        /* ...so the next miss replaces slot 0 again, and b stays valid. */
        assert_int_equal(parse(m, DOC(1, 1))->items[0].quantity, 1);
        assert_int_equal(approval_memo_parses(m), 4);
        assert_int_equal(b->items[0].quantity, 2);
        assert_ptr_equal(parse(m, DOC(1, 2)), b);
        assert_int_equal(approval_memo_parses(m), 4);
        /* (1, 3) was the one replaced. */
        parse(m, DOC(1, 3));
        assert_int_equal(approval_memo_parses(m), 5);
        approval_memo_free(m);
}

static void test_zero_slots_refused(void **state) {
        (void)state;
        assert_null(approval_memo_new(0));
        assert_null(approval_memo_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_text_parsed_once),
                cmocka_unit_test(test_changed_text_parsed_anew),
                cmocka_unit_test(test_refused_document_not_remembered),
                cmocka_unit_test(test_replacement_spares_the_last),
                cmocka_unit_test(test_zero_slots_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
