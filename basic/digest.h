/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Message digests as lowercase hex, through OpenSSL's EVP. */

#include <stddef.h>

#define DIGEST_HEX_MAX 129

/* alg: "sha256" or "sm3". ret_hex must hold DIGEST_HEX_MAX bytes. */
int digest_hex(const char *alg, const void *data, size_t len, char ret_hex[DIGEST_HEX_MAX]);

static inline int digest_sha256_hex(const void *data, size_t len, char ret_hex[DIGEST_HEX_MAX]) {
        return digest_hex("sha256", data, len, ret_hex);
}

static inline int digest_sm3_hex(const void *data, size_t len, char ret_hex[DIGEST_HEX_MAX]) {
        return digest_hex("sm3", data, len, ret_hex);
}

/* A digest fed in pieces (a volume streamed from a provider). begin: NULL
 * for an unknown alg or no memory; end writes the hex and frees the
 * context; free (NULL accepted) drops it unfinished. */
typedef struct DigestCtx DigestCtx;
DigestCtx *digest_begin(const char *alg);
int digest_update(DigestCtx *d, const void *data, size_t len);
int digest_end_hex(DigestCtx *d, char ret_hex[DIGEST_HEX_MAX]);
void digest_free(DigestCtx *d);

/* Compares two strings in time independent of where they differ. */
int digest_equal_ct(const char *a, const char *b);
