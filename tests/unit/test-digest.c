/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Digests as the audit chain, request hashes and image checks use them: the
 * published answers for SHA-256 and SM3, the same from one call as fed in
 * pieces, the same from several threads at once (the methods are fetched
 * once per process), and an unknown algorithm refused.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"

/* FIPS 180-2 and GB/T 32905-2016 example 1: the message "abc". */
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SM3_ABC    "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
/* GB/T 32905-2016 example 2: "abcd" sixteen times. */
#define SM3_ABCD16 "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

static void test_known_answers(void **state) {
        char hex[DIGEST_HEX_MAX];
        char abcd16[65] = "";
        (void)state;

        assert_int_equal(digest_sha256_hex("abc", 3, hex), 0);
        assert_string_equal(hex, SHA256_ABC);
        assert_int_equal(digest_sm3_hex("abc", 3, hex), 0);
        assert_string_equal(hex, SM3_ABC);
        for (int i = 0; i < 16; i++)
                strcat(abcd16, "abcd");
        assert_int_equal(digest_hex("sm3", abcd16, 64, hex), 0);
        assert_string_equal(hex, SM3_ABCD16);
}

static void test_in_pieces(void **state) {
        char hex[DIGEST_HEX_MAX];
        (void)state;

        DigestCtx *d = digest_begin("sm3");
        assert_non_null(d);
        assert_int_equal(digest_update(d, "a", 1), 0);
        assert_int_equal(digest_update(d, "bc", 2), 0);
        assert_int_equal(digest_end_hex(d, hex), 0);
        assert_string_equal(hex, SM3_ABC);

        d = digest_begin("sha256");
        assert_non_null(d);
        assert_int_equal(digest_update(d, "ab", 2), 0);
        assert_int_equal(digest_update(d, "c", 1), 0);
        assert_int_equal(digest_end_hex(d, hex), 0);
        assert_string_equal(hex, SHA256_ABC);
}

static void test_unknown_algorithm(void **state) {
        char hex[DIGEST_HEX_MAX];
        (void)state;

        assert_int_equal(digest_hex("md5", "abc", 3, hex), -EINVAL);
        assert_int_equal(digest_hex(NULL, "abc", 3, hex), -EINVAL);
        assert_null(digest_begin("sha1"));
}

#define THREADS 4
#define ROUNDS  200

static void *hash_many(void *arg) {
        int *bad = arg;
        char hex[DIGEST_HEX_MAX];
        for (int i = 0; i < ROUNDS; i++) {
                if (digest_sm3_hex("abc", 3, hex) < 0 || strcmp(hex, SM3_ABC) != 0)
                        (*bad)++;
                if (digest_sha256_hex("abc", 3, hex) < 0 || strcmp(hex, SHA256_ABC) != 0)
                        (*bad)++;
        }
        return NULL;
}

static void test_threads(void **state) {
        pthread_t t[THREADS];
        int bad[THREADS] = { 0 };
        (void)state;

        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, hash_many, &bad[i]), 0);
        for (int i = 0; i < THREADS; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(bad[i], 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_answers),
                cmocka_unit_test(test_in_pieces),
                cmocka_unit_test(test_unknown_algorithm),
                cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
