/* SPDX-License-Identifier: Apache-2.0 */
#include "sshkey.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define ED25519_LEN 32
static const char key_type[] = "ssh-ed25519";

/* The wire blob: string "ssh-ed25519", string key (RFC 4253 strings:
 * a 4-byte big-endian length, then the bytes). */
#define BLOB_LEN (4 + sizeof(key_type) - 1 + 4 + ED25519_LEN)

static void put_u32(uint8_t **p, uint32_t n) {
        (*p)[0] = (uint8_t)(n >> 24);
        (*p)[1] = (uint8_t)(n >> 16);
        (*p)[2] = (uint8_t)(n >> 8);
        (*p)[3] = (uint8_t)n;
        *p += 4;
}

static void put_string(uint8_t **p, const void *data, uint32_t n) {
        put_u32(p, n);
        if (n)
                memcpy(*p, data, n);
        *p += n;
}

/* OpenSSH's own private key file (its PROTOCOL.key), unencrypted: what
 * ssh and ssh-keygen of every version read, which a PKCS#8 PEM of an
 * Ed25519 key is not (OpenSSH before 9.6 refuses it). */
static char *openssh_private(const uint8_t pub[ED25519_LEN], const uint8_t seed[ED25519_LEN],
                             const char *comment) {
        static const char magic[] = "openssh-key-v1"; /* with its NUL */
        size_t clen = comment ? strlen(comment) : 0;
        size_t priv_len =
                8 + (4 + sizeof(key_type) - 1) + (4 + ED25519_LEN) + (4 + 2 * ED25519_LEN) + (4 + clen);
        size_t pad = (8 - priv_len % 8) % 8;
        size_t total = sizeof(magic) + 3 * 4 + 4 + 4 + 4 + (4 + BLOB_LEN) + 4 + priv_len + pad;
        uint8_t *buf = malloc(total), *p = buf, *priv, check[4];
        uint8_t both[2 * ED25519_LEN];
        size_t b64_len = 4 * ((total + 2) / 3);
        char *b64 = NULL, *out = NULL, *o;

        if (!buf)
                return NULL;
        if (RAND_bytes(check, sizeof(check)) != 1)
                goto out;
        memcpy(p, magic, sizeof(magic));
        p += sizeof(magic);
        put_string(&p, "none", 4); /* cipher */
        put_string(&p, "none", 4); /* kdf */
        put_string(&p, "", 0);     /* kdf options */
        put_u32(&p, 1);            /* one key */
        put_u32(&p, BLOB_LEN);
        put_string(&p, key_type, sizeof(key_type) - 1);
        put_string(&p, pub, ED25519_LEN);
        put_u32(&p, (uint32_t)(priv_len + pad));
        priv = p;
        memcpy(p, check, 4);
        memcpy(p + 4, check, 4);
        p += 8;
        put_string(&p, key_type, sizeof(key_type) - 1);
        put_string(&p, pub, ED25519_LEN);
        memcpy(both, seed, ED25519_LEN);
        memcpy(both + ED25519_LEN, pub, ED25519_LEN);
        put_string(&p, both, sizeof(both));
        put_string(&p, comment ? comment : "", (uint32_t)clen);
        for (size_t i = 1; i <= pad; i++)
                *p++ = (uint8_t)i;
        if ((size_t)(p - priv) != priv_len + pad || (size_t)(p - buf) != total)
                goto out;

        b64 = malloc(b64_len + 1);
        /* 70 columns a line, as ssh-keygen writes it. */
        out = b64 ? malloc(b64_len + b64_len / 70 + 2 + 80) : NULL;
        if (!out)
                goto out;
        EVP_EncodeBlock((unsigned char *)b64, buf, (int)total);
        o = out + sprintf(out, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        for (size_t i = 0; i < b64_len; i += 70) {
                size_t n = b64_len - i < 70 ? b64_len - i : 70;
                memcpy(o, b64 + i, n);
                o += n;
                *o++ = '\n';
        }
        sprintf(o, "-----END OPENSSH PRIVATE KEY-----\n");
out:
        OPENSSL_cleanse(both, sizeof(both));
        OPENSSL_cleanse(buf, total);
        free(buf);
        free(b64);
        return out;
}

int sshkey_ed25519_new(const char *comment, char **ret_public, char **ret_private) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        EVP_PKEY *key = NULL;
        uint8_t raw[ED25519_LEN], seed[ED25519_LEN], blob[BLOB_LEN], *p = blob;
        char b64[4 * ((BLOB_LEN + 2) / 3) + 1];
        size_t raw_len = sizeof(raw), seed_len = sizeof(seed);
        char *pub = NULL, *priv = NULL;
        int r = -EIO;

        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0)
                goto out;
        if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) <= 0 || raw_len != ED25519_LEN ||
            EVP_PKEY_get_raw_private_key(key, seed, &seed_len) <= 0 || seed_len != ED25519_LEN)
                goto out;
        put_string(&p, key_type, sizeof(key_type) - 1);
        put_string(&p, raw, ED25519_LEN);
        EVP_EncodeBlock((unsigned char *)b64, blob, (int)sizeof(blob));
        r = -ENOMEM;
        if (asprintf(&pub, "%s %s%s%s", key_type, b64, comment ? " " : "", comment ? comment : "") < 0) {
                pub = NULL;
                goto out;
        }
        priv = openssh_private(raw, seed, comment);
        if (!priv)
                goto out;
        *ret_public = pub;
        *ret_private = priv;
        pub = priv = NULL;
        r = 0;
out:
        OPENSSL_cleanse(seed, sizeof(seed));
        free(pub);
        free(priv);
        EVP_PKEY_free(key);
        EVP_PKEY_CTX_free(ctx);
        return r;
}

int sshkey_fingerprint(const char *public_line, char ret[SSHKEY_FINGERPRINT_MAX]) {
        uint8_t blob[BLOB_LEN + 3], digest[SHA256_DIGEST_LENGTH];
        char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
        const char *start, *end;
        size_t len, n;
        int dec;

        if (!public_line || strncmp(public_line, key_type, sizeof(key_type) - 1) != 0 ||
            public_line[sizeof(key_type) - 1] != ' ')
                return -EINVAL;
        start = public_line + sizeof(key_type);
        end = strchrnul(start, ' ');
        len = (size_t)(end - start);
        if (len != 4 * ((BLOB_LEN + 2) / 3))
                return -EINVAL;
        dec = EVP_DecodeBlock(blob, (const unsigned char *)start, (int)len);
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        if (dec != (int)(BLOB_LEN + (3 - BLOB_LEN % 3) % 3))
                return -EINVAL;
        if (memcmp(blob + 4, key_type, sizeof(key_type) - 1) != 0)
                return -EINVAL;
        SHA256(blob, BLOB_LEN, digest);
        EVP_EncodeBlock((unsigned char *)b64, digest, sizeof(digest));
        n = strlen(b64);
        while (n > 0 && b64[n - 1] == '=')
                b64[--n] = 0;
        snprintf(ret, SSHKEY_FINGERPRINT_MAX, "SHA256:%s", b64);
        return 0;
}
