/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets at rest: what opens, and what must not. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "secretbox.h"

static const uint8_t KEY_A[SECRETBOX_KEY_SIZE] = "0123456789abcdef0123456789abcdef";
static const uint8_t KEY_B[SECRETBOX_KEY_SIZE] = "0123456789abcdef0123456789abcdeF";

static void test_round_trip(void **state) {
        SecretBox *b = NULL;
        char *s1 = NULL, *s2 = NULL, *p = NULL;
        size_t len = 0;
        (void)state;

        assert_int_equal(secretbox_new(KEY_A, &b), 0);
        assert_int_equal(secretbox_seal(b, "prov-1", "hunter2", 7, &s1), 0);
        assert_true(secretbox_is_sealed(s1));
        assert_null(strstr(s1, "hunter2"));
        assert_int_equal(secretbox_open(b, "prov-1", s1, &p, &len), 0);
        assert_int_equal(len, 7);
        assert_string_equal(p, "hunter2");
        free(p);
        /* A fresh nonce each time: the same secret never seals the same way. */
        assert_int_equal(secretbox_seal(b, "prov-1", "hunter2", 7, &s2), 0);
        assert_string_not_equal(s1, s2);
        free(s2);
        /* The empty secret seals and opens too. */
        assert_int_equal(secretbox_seal(b, "prov-1", "", 0, &s2), 0);
        assert_int_equal(secretbox_open(b, "prov-1", s2, &p, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(p, "");
        free(p);
        free(s2);
        /* No record id: refused, on both sides. */
        assert_int_equal(secretbox_seal(b, "", "x", 1, &s2), -EINVAL);
        assert_int_equal(secretbox_open(b, "", s1, &p, NULL), -EINVAL);
        free(s1);
        secretbox_free(b);
        assert_null(secretbox_free(NULL));
}

static void test_tamper(void **state) {
        SecretBox *b = NULL;
        char *s = NULL, *p = NULL;
        size_t n;
        (void)state;

        assert_int_equal(secretbox_new(KEY_A, &b), 0);
        assert_int_equal(secretbox_seal(b, "bind-1", "{\"password\":\"s3cret\"}", 21, &s), 0);
        n = strlen(s);
        /* Every single changed character of the base64 fails. */
        for (size_t i = strlen(SECRETBOX_PREFIX); i < n; i++) {
                char saved = s[i];
                int r;
                if (s[i] == '=')
                        continue;
                s[i] = s[i] == 'A' ? 'B' : 'A';
                r = secretbox_open(b, "bind-1", s, &p, NULL);
                assert_true(r == -EBADMSG || r == -EINVAL);
                s[i] = saved;
        }
        /* Truncated, not base64, no prefix. */
        s[n - 8] = '\0';
        assert_true(secretbox_open(b, "bind-1", s, &p, NULL) < 0);
        assert_int_equal(secretbox_open(b, "bind-1", "sb1:!!!!", &p, NULL), -EINVAL);
        assert_int_equal(secretbox_open(b, "bind-1", "sb1:AAAA", &p, NULL), -EINVAL);
        assert_int_equal(secretbox_open(b, "bind-1", "hunter2", &p, NULL), -EINVAL);
        assert_false(secretbox_is_sealed("hunter2"));
        assert_false(secretbox_is_sealed(NULL));
        free(s);
        secretbox_free(b);
}

static void test_wrong_ad_and_key(void **state) {
        SecretBox *a = NULL, *b = NULL;
        char *s = NULL, *p = NULL;
        (void)state;

        assert_int_equal(secretbox_new(KEY_A, &a), 0);
        assert_int_equal(secretbox_new(KEY_B, &b), 0);
        assert_int_equal(secretbox_seal(a, "row-1", "private key", 11, &s), 0);
        /* Moved to another row: does not open. */
        assert_int_equal(secretbox_open(a, "row-2", s, &p, NULL), -EBADMSG);
        assert_int_equal(secretbox_open(a, "row-11", s, &p, NULL), -EBADMSG);
        /* Another key (one bit apart): does not open. */
        assert_int_equal(secretbox_open(b, "row-1", s, &p, NULL), -EBADMSG);
        assert_int_equal(secretbox_open(a, "row-1", s, &p, NULL), 0);
        assert_string_equal(p, "private key");
        free(p);
        free(s);
        secretbox_free(a);
        secretbox_free(b);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
        assert_int_equal(chmod(path, mode), 0);
}

static void test_load(void **state) {
        char dir[] = "/tmp/test-secretbox-XXXXXX", path[128];
        CbError err = CB_ERROR_INIT;
        SecretBox *b = NULL, *ref = NULL;
        char *s = NULL, *p = NULL;
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/key", dir);

        /* Absent. */
        assert_true(secretbox_load(path, false, &b, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_non_null(strstr(err.message, "No such file"));
        /* Wrong size, both ways. */
        write_file(path, KEY_A, 16, 0600);
        assert_true(secretbox_load(path, false, &b, &err) < 0);
        assert_non_null(strstr(err.message, "exactly 32"));
        assert_non_null(strstr(err.message, "holds 16"));
        write_file(path, "0123456789abcdef0123456789abcdef\n", 33, 0600);
        assert_true(secretbox_load(path, false, &b, &err) < 0);
        assert_non_null(strstr(err.message, "exactly 32"));
        /* Loose permissions. */
        write_file(path, KEY_A, 32, 0644);
        assert_true(secretbox_load(path, false, &b, &err) < 0);
        assert_non_null(strstr(err.message, "mode 0644"));
        write_file(path, KEY_A, 32, 0640);
        assert_true(secretbox_load(path, false, &b, &err) < 0);
        assert_non_null(strstr(err.message, "group or others"));
        /* A credential's ACL shows as group bits: allowed there, not others. */
        assert_int_equal(secretbox_load(path, true, &b, &err), 0);
        secretbox_free(b);
        b = NULL;
        write_file(path, KEY_A, 32, 0604);
        assert_true(secretbox_load(path, true, &b, &err) < 0);
        assert_null(b);
        /* Right: the loaded key is the file's bytes. */
        write_file(path, KEY_A, 32, 0600);
        assert_int_equal(secretbox_load(path, false, &b, &err), 0);
        assert_int_equal(secretbox_new(KEY_A, &ref), 0);
        assert_int_equal(secretbox_seal(ref, "r", "x", 1, &s), 0);
        assert_int_equal(secretbox_open(b, "r", s, &p, NULL), 0);
        assert_string_equal(p, "x");
        free(p);
        free(s);
        secretbox_free(ref);
        secretbox_free(b);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_tamper),
                cmocka_unit_test(test_wrong_ad_and_key),
                cmocka_unit_test(test_load),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
