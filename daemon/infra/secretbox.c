/* SPDX-License-Identifier: Apache-2.0 */
#include "secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signature.h"

struct SecretBox {
        uint8_t key[SECRETBOX_KEY_SIZE];
};

int secretbox_new(const uint8_t key[SECRETBOX_KEY_SIZE], SecretBox **ret) {
        SecretBox *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        memcpy(b->key, key, SECRETBOX_KEY_SIZE);
        *ret = b;
        return 0;
}

SecretBox *secretbox_free(SecretBox *b) {
        if (!b)
                return NULL;
        explicit_bzero(b->key, sizeof(b->key));
        free(b);
        return NULL;
}

int secretbox_load(const char *path, bool allow_group, SecretBox **ret, CbError *err) {
        uint8_t key[SECRETBOX_KEY_SIZE + 1];
        struct stat st;
        ssize_t n;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return cb_error_set(err, CB_ERR_VALIDATION, "secrets key %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return cb_error_set(err, CB_ERR_VALIDATION, "secrets key %s: not a regular file", path);
        }
        /* Whoever reads the key reads every credential in the database. */
        if ((st.st_mode & 0007) || (!allow_group && (st.st_mode & 0070))) {
                close(fd);
                return cb_error_set(err, CB_ERR_VALIDATION,
                                    "secrets key %s is readable or writable by %s (mode %04o): only the "
                                    "daemon's user may read it (chmod 600)",
                                    path, allow_group ? "others" : "group or others",
                                    (unsigned)(st.st_mode & 07777));
        }
        n = read(fd, key, sizeof(key));
        close(fd);
        if (n != SECRETBOX_KEY_SIZE) {
                explicit_bzero(key, sizeof(key));
                if (n < 0)
                        return cb_error_set(err, CB_ERR_VALIDATION, "secrets key %s: %s", path,
                                            strerror(errno));
                return cb_error_set(err, CB_ERR_VALIDATION,
                                    "secrets key %s must hold exactly %d random bytes (it holds %s%zd); make "
                                    "one with: head -c %d /dev/urandom > FILE",
                                    path, SECRETBOX_KEY_SIZE, n > SECRETBOX_KEY_SIZE ? "more than " : "",
                                    n > SECRETBOX_KEY_SIZE ? (ssize_t)SECRETBOX_KEY_SIZE : n,
                                    SECRETBOX_KEY_SIZE);
        }
        r = secretbox_new(key, ret);
        explicit_bzero(key, sizeof(key));
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return 0;
}

bool secretbox_is_sealed(const char *s) {
        return s && strncmp(s, SECRETBOX_PREFIX, strlen(SECRETBOX_PREFIX)) == 0;
}

int secretbox_seal(const SecretBox *b, const char *ad, const void *plain, size_t len, char **ret) {
        _cleanup_(freep) uint8_t *buf = NULL;
        _cleanup_(freep) char *b64 = NULL;
        EVP_CIPHER_CTX *ctx = NULL;
        int n, r = -EIO;
        char *out;

        if (!ad || !*ad || len > SECRETBOX_PLAIN_MAX)
                return -EINVAL;
        buf = malloc(SECRETBOX_NONCE_SIZE + len + SECRETBOX_TAG_SIZE);
        if (!buf)
                return -ENOMEM;
        if (RAND_bytes(buf, SECRETBOX_NONCE_SIZE) != 1)
                return -EIO;
        ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETBOX_NONCE_SIZE, NULL) != 1 ||
            EVP_EncryptInit_ex(ctx, NULL, NULL, b->key, buf) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)ad, (int)strlen(ad)) != 1 ||
            (len > 0 && EVP_EncryptUpdate(ctx, buf + SECRETBOX_NONCE_SIZE, &n, plain, (int)len) != 1) ||
            EVP_EncryptFinal_ex(ctx, buf + SECRETBOX_NONCE_SIZE + len, &n) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRETBOX_TAG_SIZE,
                                buf + SECRETBOX_NONCE_SIZE + len) != 1)
                goto done;
        r = signature_base64_encode(buf, SECRETBOX_NONCE_SIZE + len + SECRETBOX_TAG_SIZE, &b64);
        if (r < 0)
                goto done;
        if (asprintf(&out, "%s%s", SECRETBOX_PREFIX, b64) < 0) {
                r = -ENOMEM;
                goto done;
        }
        *ret = out;
        r = 0;
done:
        EVP_CIPHER_CTX_free(ctx);
        return r;
}

int secretbox_open(const SecretBox *b, const char *ad, const char *sealed, char **ret_plain,
                   size_t *ret_len) {
        _cleanup_(freep) uint8_t *raw = NULL;
        EVP_CIPHER_CTX *ctx = NULL;
        size_t raw_len, len;
        char *plain = NULL;
        int n, r;

        if (!ad || !*ad || !secretbox_is_sealed(sealed))
                return -EINVAL;
        sealed += strlen(SECRETBOX_PREFIX);
        r = signature_base64_decode(sealed, strlen(sealed), (void **)&raw, &raw_len);
        if (r < 0)
                return -EINVAL;
        if (raw_len < SECRETBOX_NONCE_SIZE + SECRETBOX_TAG_SIZE ||
            raw_len > SECRETBOX_NONCE_SIZE + SECRETBOX_TAG_SIZE + SECRETBOX_PLAIN_MAX)
                return -EINVAL;
        len = raw_len - SECRETBOX_NONCE_SIZE - SECRETBOX_TAG_SIZE;
        plain = malloc(len + 1);
        ctx = EVP_CIPHER_CTX_new();
        if (!plain || !ctx) {
                r = -ENOMEM;
                goto fail;
        }
        r = -EBADMSG;
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETBOX_NONCE_SIZE, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, b->key, raw) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)ad, (int)strlen(ad)) != 1 ||
            (len > 0 &&
             EVP_DecryptUpdate(ctx, (uint8_t *)plain, &n, raw + SECRETBOX_NONCE_SIZE, (int)len) != 1) ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRETBOX_TAG_SIZE,
                                raw + SECRETBOX_NONCE_SIZE + len) != 1 ||
            EVP_DecryptFinal_ex(ctx, (uint8_t *)plain + len, &n) != 1)
                goto fail;
        EVP_CIPHER_CTX_free(ctx);
        plain[len] = '\0';
        *ret_plain = plain;
        if (ret_len)
                *ret_len = len;
        return 0;
fail:
        EVP_CIPHER_CTX_free(ctx);
        if (plain) {
                /* Decryption writes before the tag is checked. */
                explicit_bzero(plain, len + 1);
                free(plain);
        }
        return r;
}
