/* SPDX-License-Identifier: Apache-2.0 */
/* The SSH key pair of a VM binding: what OpenSSH and OpenSSL will read. */
#include <errno.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sshkey.h"

static void test_pair(void **state) {
        char *pub = NULL, *pem = NULL, *pub2 = NULL, *pem2 = NULL, fp[SSHKEY_FINGERPRINT_MAX],
             fp2[SSHKEY_FINGERPRINT_MAX];
        uint8_t raw[32], blob[64];
        size_t raw_len = sizeof(raw);
        EVP_PKEY *key;
        (void)state;

        assert_int_equal(sshkey_ed25519_new("binding-1", &pub, &pem), 0);
        assert_int_equal(strncmp(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37), 0);
        assert_non_null(strstr(pub, " binding-1"));
        assert_int_equal(strncmp(pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
        assert_non_null(strstr(pem, "\n-----END OPENSSH PRIVATE KEY-----\n"));

        /* The file holds the public blob of the line and a seed whose public
         * key it is (PROTOCOL.key: magic, "none" cipher and kdf, one key). */
        {
                char b64[1024] = "";
                const char *l = pem + 36;
                uint8_t file[800], *priv;
                int n;
                while (*l && *l != '-') {
                        const char *e = strchr(l, '\n');
                        assert_true(e - l <= 70);
                        strncat(b64, l, (size_t)(e - l));
                        l = e + 1;
                }
                n = EVP_DecodeBlock(file, (const unsigned char *)b64, (int)strlen(b64));
                assert_true(n > 200);
                assert_memory_equal(file, "openssh-key-v1\0\0\0\0\4none\0\0\0\4none\0\0\0\0\0\0\0\1", 39);
                assert_int_equal(EVP_DecodeBlock(blob, (const unsigned char *)pub + 12, 68), 51);
                assert_memory_equal(file + 39, "\0\0\0\x33", 4);
                assert_memory_equal(file + 43, blob, 51);
                priv = file + 43 + 51 + 4;
                assert_memory_equal(priv, priv + 4, 4); /* the two check ints */
                assert_memory_equal(priv + 8, blob, 51);
                assert_memory_equal(priv + 59, "\0\0\0\x40", 4);
                assert_memory_equal(priv + 63 + 32, blob + 19, 32);
                key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv + 63, 32);
                assert_non_null(key);
                assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &raw_len), 1);
                assert_memory_equal(blob + 19, raw, 32);
                assert_memory_equal(priv + 127,
                                    "\0\0\0\x09"
                                    "binding-1",
                                    13);
                EVP_PKEY_free(key);
        }

        assert_int_equal(sshkey_fingerprint(pub, fp), 0);
        assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
        assert_int_equal(strlen(fp), 7 + 43);
        assert_null(strstr(pem, fp + 7)); /* nothing of the private half */

        /* Every pair is new. */
        assert_int_equal(sshkey_ed25519_new(NULL, &pub2, &pem2), 0);
        assert_null(strchr(pub2 + 12, ' '));
        assert_string_not_equal(pub, pub2);
        assert_string_not_equal(pem, pem2);
        assert_int_equal(sshkey_fingerprint(pub2, fp2), 0);
        assert_string_not_equal(fp, fp2);

        assert_int_equal(sshkey_fingerprint("ssh-rsa AAAA", fp), -EINVAL);
        assert_int_equal(sshkey_fingerprint("ssh-ed25519 AAAA", fp), -EINVAL);
        assert_int_equal(sshkey_fingerprint(NULL, fp), -EINVAL);
        free(pub);
        free(pem);
        free(pub2);
        free(pem2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pair),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
