/* SPDX-License-Identifier: Apache-2.0 */
#include "digest.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

int digest_hex(const char *alg, const void *data, size_t len, char ret_hex[DIGEST_HEX_MAX]) {
        static const char hexd[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        const EVP_MD *type;

        if (strcmp(alg, "sha256") == 0)
                type = EVP_sha256();
        else if (strcmp(alg, "sm3") == 0)
                type = EVP_sm3();
        else
                return -EINVAL;
        if (!type || EVP_Digest(data, len, md, &mdlen, type, NULL) != 1)
                return -EIO;
        for (unsigned i = 0; i < mdlen; i++) {
                ret_hex[2 * i] = hexd[md[i] >> 4];
                ret_hex[2 * i + 1] = hexd[md[i] & 0xf];
        }
        ret_hex[2 * mdlen] = 0;
        return 0;
}

int digest_equal_ct(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned char diff = la != lb;
        for (size_t i = 0; i < la && i < lb; i++)
                diff |= (unsigned char)(a[i] ^ b[i]);
        return diff == 0;
}
