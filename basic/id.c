/* SPDX-License-Identifier: Apache-2.0 */
#include "id.h"

#include <string.h>

bool id_is_valid_n(const char *s, size_t len) {
        if (!s || len < 1 || len > ID_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

bool id_is_valid(const char *s) {
        return s && id_is_valid_n(s, strlen(s));
}
