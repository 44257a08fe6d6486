/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON text writer writes what json_dumps(JSON_COMPACT |
 * JSON_PRESERVE_ORDER) writes of the same tree, byte for byte, refuses what
 * jansson refuses (strings that are not UTF-8), and the resource page
 * written with it is the body the jansson path made. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json-text.h"
#include "macro.h"
#include "rest-records.h"

static char *dump(json_t *j) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        assert_non_null(s);
        return s;
}

static char *finish(JsonText *w) {
        char *text;
        size_t len;
        assert_int_equal(json_text_finish(w, &text, &len), 0);
        assert_int_equal(len, strlen(text));
        return text;
}

static void test_every_ascii_byte_escaped_as_jansson_does(void **state) {
        (void)state;
        for (int c = 1; c < 0x80; c++) {
                char s[4] = { 'a', (char)c, 'z', 0 };
                JsonText w = JSON_TEXT_INIT;
                json_text_string(&w, s);
                _cleanup_(freep) char *mine = finish(&w);
                /* jansson dumps only containers without JSON_ENCODE_ANY. */
                json_t *tmp = json_string(s);
                _cleanup_(freep) char *ref = json_dumps(tmp, JSON_ENCODE_ANY | JSON_COMPACT);
                json_decref(tmp);
                assert_string_equal(mine, ref);
        }
}

static void test_tree_matches_json_dumps(void **state) {
        const char *strings[] = { "",
                                  "plain",
                                  "quote \" and back\\slash",
                                  "tab\tnl\ncr\r\b\f",
                                  "\x01\x1f\x7f",
                                  "汉字 ünïcödé 😀",
                                  "/slash/",
                                  NULL };
        (void)state;
        json_t *ref = json_object();
        JsonText w = JSON_TEXT_INIT;
        json_text_begin_object(&w);
        json_t *arr = json_array();
        json_text_key(&w, "strings");
        json_text_begin_array(&w);
        for (const char **s = strings; *s; s++) {
                json_array_append_new(arr, json_string(*s));
                json_text_string(&w, *s);
        }
        json_text_end_array(&w);
        json_object_set_new(ref, "strings", arr);

        int64_t ints[] = { 0,  -1, 1,   INT64_MAX, INT64_MIN, 4200,       9,
                           10, -9, -10, 99,        100,       1000000007, INT64_MIN + 1 };
        arr = json_array();
        json_text_key(&w, "ints");
        json_text_begin_array(&w);
        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
                json_array_append_new(arr, json_integer(ints[i]));
                json_text_int(&w, ints[i]);
        }
        json_text_end_array(&w);
        json_object_set_new(ref, "ints", arr);

        json_text_key_lit(&w, "empty_array"); /* a literal key: the same bytes */
        json_text_begin_array(&w);
        json_text_end_array(&w);
        json_object_set_new(ref, "empty_array", json_array());
        json_text_key(&w, "empty_object");
        json_text_begin_object(&w);
        json_text_end_object(&w);
        json_object_set_new(ref, "empty_object", json_object());
        json_text_key(&w, "nested");
        json_text_begin_array(&w);
        json_text_begin_object(&w);
        json_text_key(&w, "t");
        json_text_bool(&w, true);
        json_text_key(&w, "f");
        json_text_bool(&w, false);
        json_text_key(&w, "n");
        json_text_string_or_null(&w, NULL);
        json_text_key(&w, "k\"ey");
        json_text_string_or_null(&w, "v");
        json_text_end_object(&w);
        json_text_begin_array(&w);
        json_text_end_array(&w);
        json_text_end_array(&w);
        json_object_set_new(ref, "nested",
                            json_pack("[{s:b, s:b, s:n, s:s}, []]", "t", 1, "f", 0, "n", "k\"ey", "v"));
        json_text_end_object(&w);

        _cleanup_(freep) char *mine = finish(&w);
        _cleanup_(freep) char *theirs = dump(ref);
        assert_string_equal(mine, theirs);
}

static void test_invalid_utf8_refused_like_jansson(void **state) {
        const char *bad[] = {
                "\xc0\x80",         /* overlong NUL */
                "\xe0\x80\xaf",     /* overlong '/' */
                "\xed\xa0\x80",     /* a surrogate */
                "\xf4\x90\x80\x80", /* above U+10FFFF */
                "\xf5\x80\x80\x80", "\x80", "ab\xc3", "\xe6\xb1", "\xc3(", NULL,
        };
        (void)state;
        for (const char **b = bad; *b; b++) {
                json_t *j = json_string(*b);
                assert_null(j); /* jansson refuses it too */
                JsonText w = JSON_TEXT_INIT;
                json_text_begin_array(&w);
                json_text_string(&w, "fine");
                json_text_string(&w, *b);
                json_text_string(&w, "fine again");
                json_text_end_array(&w);
                char *text = (char *)"untouched";
                size_t len = 7;
                assert_int_equal(json_text_finish(&w, &text, &len), -EILSEQ);
                assert_string_equal(text, "untouched");
                assert_int_equal(len, 7);
        }
        assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
        assert_true(utf8_valid("\xef\xbf\xbf", 3));
}

static void test_misuse_refused(void **state) {
        char *text;
        size_t len;
        (void)state;
        JsonText w = JSON_TEXT_INIT;
        json_text_begin_object(&w);
        assert_int_equal(json_text_finish(&w, &text, &len), -EINVAL); /* not closed */
        json_text_begin_array(&w);
        json_text_end_object(&w);
        json_text_end_array(&w);
        json_text_end_array(&w); /* one too many */
        assert_int_equal(json_text_finish(&w, &text, &len), -EINVAL);
        json_text_begin_object(&w);
        json_text_key(&w, "k");
        json_text_end_object(&w); /* a key without a value */
        assert_int_equal(json_text_finish(&w, &text, &len), -EINVAL);
        json_text_begin_array(&w);
        json_text_string(&w, NULL);
        json_text_end_array(&w);
        assert_int_equal(json_text_finish(&w, &text, &len), -EINVAL);
        for (int i = 0; i < JSON_TEXT_MAX_DEPTH + 1; i++)
                json_text_begin_array(&w);
        for (int i = 0; i < JSON_TEXT_MAX_DEPTH + 1; i++)
                json_text_end_array(&w);
        assert_int_equal(json_text_finish(&w, &text, &len), -EINVAL);
}

static void test_large_text_grows(void **state) {
        (void)state;
        JsonText w = JSON_TEXT_INIT;
        json_t *ref = json_array();
        char s[200];
        json_text_begin_array(&w);
        for (int i = 0; i < 5000; i++) {
                snprintf(s, sizeof(s), "item %d \"%c\" \x01", i, 'a' + i % 26);
                json_text_string(&w, s);
                json_array_append_new(ref, json_string(s));
        }
        json_text_end_array(&w);
        _cleanup_(freep) char *mine = finish(&w);
        _cleanup_(freep) char *theirs = dump(ref);
        assert_true(strlen(mine) > 100000);
        assert_string_equal(mine, theirs);
}

static Resource sample(int i, char *buf, size_t size) {
        snprintf(buf, size, "vm \"%d\"\\\t汉", i);
        return (Resource){
                .id = "res-0123456789abcdef",
                .name = buf,
                .project_id = "proj-1",
                .system_id = "sys-1",
                .department = "edu",
                .service_id = "ecs-general",
                .plan_id = "small",
                .catalog_revision = 3u + (unsigned)i,
                .approval_no = "APP-2026-001",
                .cost_kind = i % 2 ? "om" : "construction",
                .committed_fen = (int64_t)i * 123456789,
                .provider = i % 3 ? "libvirt-a" : NULL,
                .provider_ref = i % 3 == 1 ? "ref-1" : NULL,
                .state = (ResourceState)(i % _RESOURCE_STATE_MAX),
                .created_at = "2026-12-02T01:02:03Z",
                .created_by = "uid:1000",
                .updated_at = "2026-12-02T01:02:04Z",
                .kind = (ResourceKind)(i % _RESOURCE_KIND_MAX),
        };
}

static void test_resource_page_same_bytes_as_jansson(void **state) {
        char names[7][64];
        Resource items[7];
        (void)state;
        for (int i = 0; i < 7; i++)
                items[i] = sample(i, names[i], sizeof(names[i]));
        const char *nexts[] = { "tok-abc", "", NULL };
        for (size_t n = 0; n <= 7; n += 7)
                for (size_t k = 0; k < 3; k++) {
                        ResourceList list = { .items = items, .n = n };
                        json_t *ref = json_pack("{s:o}", "resources", rest_resource_list_json(&list));
                        if (nexts[k] && nexts[k][0])
                                json_object_set_new(ref, "next_page_token", json_string(nexts[k]));
                        _cleanup_(freep) char *theirs = dump(ref);
                        char *mine;
                        size_t len;
                        assert_int_equal(rest_resource_page_text(&list, nexts[k], &mine, &len), 0);
                        assert_int_equal(len, strlen(theirs));
                        assert_string_equal(mine, theirs);
                        free(mine);
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_ascii_byte_escaped_as_jansson_does),
                cmocka_unit_test(test_tree_matches_json_dumps),
                cmocka_unit_test(test_invalid_utf8_refused_like_jansson),
                cmocka_unit_test(test_misuse_refused),
                cmocka_unit_test(test_large_text_grows),
                cmocka_unit_test(test_resource_page_same_bytes_as_jansson),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
