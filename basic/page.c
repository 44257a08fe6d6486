/* SPDX-License-Identifier: Apache-2.0 */
#include "page.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int page_parse(const char *limit, const char *page_token, Page *ret, CbError *err) {
        Page p = { .limit = PAGE_LIMIT_DEFAULT };

        if (limit) {
                unsigned long v = 0;
                size_t n = strlen(limit);
                if (n == 0 || n > 4)
                        goto bad_limit;
                for (size_t i = 0; i < n; i++) {
                        if (limit[i] < '0' || limit[i] > '9')
                                goto bad_limit;
                        v = v * 10 + (unsigned long)(limit[i] - '0');
                }
                if (v < 1 || v > PAGE_LIMIT_MAX)
                        goto bad_limit;
                p.limit = (unsigned)v;
        }
        if (page_token) {
                char key[2 * PAGE_KEY_MAX + 2];
                size_t n = strlen(page_token), k = 0;
                if (n == 0 || n % 2 || n / 2 >= sizeof(key))
                        goto bad_token;
                for (size_t i = 0; i < n; i += 2) {
                        int hi = hexval(page_token[i]), lo = hexval(page_token[i + 1]);
                        if (hi < 0 || lo < 0)
                                goto bad_token;
                        char c = (char)(hi * 16 + lo);
                        /* Printable ASCII and the one separator: nothing else was ever put in. */
                        if ((c < 0x20 || c > 0x7e) && c != '\x1f')
                                goto bad_token;
                        key[k++] = c;
                }
                key[k] = '\0';
                char *sep = strchr(key, '\x1f');
                if (sep) {
                        *sep = '\0';
                        if (strchr(sep + 1, '\x1f') || strlen(sep + 1) > PAGE_KEY_MAX)
                                goto bad_token;
                        memcpy(p.after[1], sep + 1, strlen(sep + 1) + 1);
                }
                if (strlen(key) > PAGE_KEY_MAX || !key[0])
                        goto bad_token;
                memcpy(p.after[0], key, strlen(key) + 1);
                p.has_after = true;
        }
        *ret = p;
        return 0;
bad_limit:
        return cb_error_set_field(err, CB_ERR_VALIDATION, "limit",
                                  "limit: must be a whole number from 1 to %u", PAGE_LIMIT_MAX);
bad_token:
        return cb_error_set_field(err, CB_ERR_VALIDATION, "page_token",
                                  "page_token: not a token this broker gave out");
}

void page_token_make(const char *a, const char *b, char ret[PAGE_TOKEN_MAX]) {
        static const char hex[] = "0123456789abcdef";
        size_t k = 0;
        const char *parts[2] = { a, b };

        for (int i = 0; i < 2 && parts[i]; i++) {
                if (i) {
                        ret[k++] = hex[0x1f >> 4];
                        ret[k++] = hex[0x1f & 15];
                }
                for (size_t j = 0; parts[i][j] && j < PAGE_KEY_MAX; j++) {
                        unsigned char c = (unsigned char)parts[i][j];
                        ret[k++] = hex[c >> 4];
                        ret[k++] = hex[c & 15];
                }
        }
        ret[k] = '\0';
}
