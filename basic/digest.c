/* SPDX-License-Identifier: Apache-2.0 */
#include "digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Fetched once: with OpenSSL 3, EVP_sha256() and EVP_sm3() hand out a
 * legacy method that every EVP_Digest() fetches again from the provider
 * (a locked name lookup), which cost more than hashing a token or an audit
 * record. The fetched methods live as long as the process. */
static EVP_MD *md_sha256, *md_sm3;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void) {
        md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        md_sm3 = EVP_MD_fetch(NULL, "SM3", NULL);
}

static const EVP_MD *md_of(const char *alg) {
        if (!alg)
                return NULL;
        pthread_once(&md_once, md_fetch);
        if (strcmp(alg, "sha256") == 0)
                return md_sha256 ? md_sha256 : EVP_sha256();
        if (strcmp(alg, "sm3") == 0)
                return md_sm3 ? md_sm3 : EVP_sm3();
        return NULL;
}

static void to_hex(const unsigned char *md, unsigned mdlen, char ret_hex[DIGEST_HEX_MAX]) {
        static const char hexd[] = "0123456789abcdef";
        for (unsigned i = 0; i < mdlen; i++) {
                ret_hex[2 * i] = hexd[md[i] >> 4];
                ret_hex[2 * i + 1] = hexd[md[i] & 0xf];
        }
        ret_hex[2 * mdlen] = 0;
}

int digest_hex(const char *alg, const void *data, size_t len, char ret_hex[DIGEST_HEX_MAX]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        const EVP_MD *type = md_of(alg);

        if (!type)
                return -EINVAL;
        if (EVP_Digest(data, len, md, &mdlen, type, NULL) != 1)
                return -EIO;
        to_hex(md, mdlen, ret_hex);
        return 0;
}

struct DigestCtx {
        EVP_MD_CTX *ctx;
};

DigestCtx *digest_begin(const char *alg) {
        const EVP_MD *type = md_of(alg);
        DigestCtx *d;

        if (!type)
                return NULL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->ctx = EVP_MD_CTX_new();
        if (!d->ctx || EVP_DigestInit_ex(d->ctx, type, NULL) != 1) {
                digest_free(d);
                return NULL;
        }
        return d;
}

int digest_update(DigestCtx *d, const void *data, size_t len) {
        return EVP_DigestUpdate(d->ctx, data, len) == 1 ? 0 : -EIO;
}

int digest_end_hex(DigestCtx *d, char ret_hex[DIGEST_HEX_MAX]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        int r = EVP_DigestFinal_ex(d->ctx, md, &mdlen) == 1 ? 0 : -EIO;

        if (r == 0)
                to_hex(md, mdlen, ret_hex);
        digest_free(d);
        return r;
}

void digest_free(DigestCtx *d) {
        if (!d)
                return;
        EVP_MD_CTX_free(d->ctx);
        free(d);
}

int digest_equal_ct(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned char diff = la != lb;
        for (size_t i = 0; i < la && i < lb; i++)
                diff |= (unsigned char)(a[i] ^ b[i]);
        return diff == 0;
}
