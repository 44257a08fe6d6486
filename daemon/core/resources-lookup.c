/* SPDX-License-Identifier: Apache-2.0 */
#include "resources.h"

#include "resources-internal.h"

#include <stdio.h>

/*
 * Lookups of the resource record for other core modules that only hold the
 * store (incidents name resources): they ask the resources core instead of
 * reading its table themselves; and for faces that name a resource by
 * their own id (the OSB instance id).
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

/* The platform's instance id is the idempotency key its principal ordered
 * under (resources_request), so the one index that makes a repeat
 * idempotent also finds the instance. */
int resources_find_by_key(Resources *r, const CbCaller *caller, const char *key, char ret_id[64],
                          char ret_department[RESOURCE_DEPARTMENT_MAX]) {
        static const char sql[] =
                "SELECT id, department FROM resources WHERE created_by = ?1 AND idempotency_key = ?2";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q;

        if (!caller || !caller->principal || !caller->principal->name || !key)
                return -ENOENT;
        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(caller->principal->name), SA_TEXT(key)), &rows,
                        "reading a resource", NULL);
        if (q >= 0)
                q = store_rows_next(rows, NULL);
        if (q < 0)
                return -EIO;
        if (q == 0)
                return -ENOENT;
        snprintf(ret_id, 64, "%s", store_rows_text(rows, 0));
        if (ret_department)
                snprintf(ret_department, RESOURCE_DEPARTMENT_MAX, "%s", store_rows_text(rows, 1) ?: "");
        return 0;
}
