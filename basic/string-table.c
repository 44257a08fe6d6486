/* SPDX-License-Identifier: Apache-2.0 */
#include "string-table.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int string_table_lookup(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && strcmp(table[i], s) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *string_table_join(const char *const *table, size_t n, char *buf, size_t size) {
        size_t used = 0;
        if (size == 0)
                return buf;
        buf[0] = '\0';
        for (size_t i = 0; i < n && used < size; i++) {
                if (!table[i])
                        continue;
                int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", table[i]);
                if (w < 0)
                        break;
                used += (size_t)w;
        }
        return buf;
}
