/* SPDX-License-Identifier: Apache-2.0 */
#include "store-json.h"

json_t *store_json_row(sqlite3_stmt *st, bool keep_null) {
        json_t *o = json_object();
        for (int i = 0; o && i < sqlite3_column_count(st); i++) {
                const char *name = sqlite3_column_name(st, i);
                json_t *v;
                switch (sqlite3_column_type(st, i)) {
                case SQLITE_INTEGER:
                        v = json_integer(sqlite3_column_int64(st, i));
                        break;
                case SQLITE_FLOAT:
                        v = json_real(sqlite3_column_double(st, i));
                        break;
                case SQLITE_NULL:
                        if (!keep_null)
                                continue;
                        v = json_null();
                        break;
                default:
                        v = json_string((const char *)sqlite3_column_text(st, i));
                }
                if (!name || !v || json_object_set_new(o, name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

json_t *store_json_rows(Store *s, const char *sql, const char *param, bool keep_null) {
        sqlite3_stmt *st;
        json_t *a = json_array();

        if (!a || store_prepare(s, sql, &st) < 0)
                return a;
        sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                json_t *row = store_json_row(st, keep_null);
                if (!row || json_array_append_new(a, row) < 0) {
                        json_decref(a);
                        a = NULL;
                        break;
                }
        }
        sqlite3_reset(st);
        return a;
}
