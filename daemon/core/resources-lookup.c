/* SPDX-License-Identifier: Apache-2.0 */
#include "resources.h"

#include <stdio.h>

/*
 * Lookups of the resource record for other core modules that only hold the
 * store (incidents name resources): they ask the resources core instead of
 * reading its table themselves.
 */

int resources_department(Store *s, const char *id, char ret[RESOURCE_DEPARTMENT_MAX]) {
        static const char sql[] = "SELECT department FROM resources WHERE id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        const char *d;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading a resource", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        d = store_rows_text(rows, 0);
        snprintf(ret, RESOURCE_DEPARTMENT_MAX, "%s", d ? d : "");
        return 0;
}
