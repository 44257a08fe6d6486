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

int operations_latest(Resources *r, const CbCaller *caller, const char *resource_id, Operation *ret,
                      CbError *err) {
        /* Timestamps have whole seconds: within one second a provision is
         * older than anything else, a deprovision newer. */
        static const char sql[] =
                "SELECT id FROM operations WHERE resource_id = ?1 ORDER BY created_at DESC, "
                "CASE kind WHEN ?2 THEN 0 WHEN ?3 THEN 2 ELSE 1 END LIMIT 1";
        StoreRows *rows = NULL;
        char id[64];
        int q;

        q = store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(resource_id),
                                   SA_TEXT(operation_kind_to_string(OPERATION_DEPROVISION)),
                                   SA_TEXT(operation_kind_to_string(OPERATION_PROVISION))),
                        &rows, "reading operations", err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q > 0)
                snprintf(id, sizeof(id), "%s", store_rows_text(rows, 0));
        /* Done with before operations_get() reads the store again. */
        store_rows_done(rows);
        if (q < 0)
                return q;
        if (q == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "resource '%s' has no operation", resource_id);
        return operations_get(r, caller, id, ret, err);
}
