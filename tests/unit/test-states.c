/* SPDX-License-Identifier: Apache-2.0 */
/* Every state enum's string table against the schema that stores it: the
 * same names, no more, no fewer; and the string-table helpers themselves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "states.h"
#include "store.h"

static char tmpdir[] = "/tmp/cbstates.XXXXXX";
static char *schema; /* every table's and trigger's SQL, as the migrated database has it */

static int setup(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path;
        sqlite3_stmt *st;
        size_t len = 0;
        (void)state;

        assert_non_null(mkdtemp(tmpdir));
        assert_true(asprintf(&path, "%s/states.db", tmpdir) > 0);
        assert_int_equal(store_open(path, &s, &err), 0);
        assert_int_equal(
                sqlite3_prepare_v2(store_db(s),
                                   "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'trigger')",
                                   -1, &st, NULL),
                SQLITE_OK);
        schema = strdup("");
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(st, 0);
                const char *sql = (const char *)sqlite3_column_text(st, 1);
                size_t add = strlen(name) + strlen(sql) + 8;
                char *grown = realloc(schema, len + add);
                assert_non_null(grown);
                schema = grown;
                len += (size_t)snprintf(schema + len, add, "\n@%s\n%s\n", name, sql);
        }
        sqlite3_finalize(st);
        store_free(s);
        unlink(path);
        free(path);
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        free(schema);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* The names in "CHECK (column IN ('a','b'))" of table's SQL, as "a,b,". */
static void schema_names(const char *table, const char *column, char *ret, size_t size) {
        char head[96], check[128];
        snprintf(head, sizeof(head), "\n@%s\n", table);
        const char *t = strstr(schema, head);
        if (!t)
                fail_msg("no table %s in the schema", table);
        const char *end = strstr(t + strlen(head), "\n@");
        snprintf(check, sizeof(check), "CHECK (%s IN", column);
        const char *c = strstr(t, check);
        if (!c || (end && c > end))
                fail_msg("%s.%s has no CHECK (%s IN (...))", table, column, column);
        c += strlen(check);
        while (*c == ' ' || *c == '\n' || *c == '\t')
                c++;
        if (*c != '(')
                fail_msg("%s.%s: CHECK without a list", table, column);
        c++;
        size_t used = 0;
        ret[0] = '\0';
        while (*c && *c != ')') {
                if (*c == '\'') {
                        const char *q = strchr(c + 1, '\'');
                        assert_non_null(q);
                        used += (size_t)snprintf(ret + used, size - used, "%.*s,", (int)(q - c - 1), c + 1);
                        c = q + 1;
                } else
                        c++;
        }
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The table's names, sorted, as "a,b,"; and the schema's, sorted the same way. */
static void assert_table_is_schema(const char *const *t, size_t n, const char *table, const char *column) {
        char from_schema[512], from_table[512] = "", sorted_schema[512] = "";
        const char *v[32] = { 0 }, *w[32] = { 0 };
        size_t nw = 0, used = 0;

        assert_true(n <= 32);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(t[i]); /* every value of the enum has a name */
                v[i] = t[i];
        }
        qsort(v, n, sizeof(v[0]), cmp_str);
        for (size_t i = 0; i < n; i++)
                used += (size_t)snprintf(from_table + used, sizeof(from_table) - used, "%s,", v[i]);

        schema_names(table, column, from_schema, sizeof(from_schema));
        for (char *tok = strtok(from_schema, ","); tok && nw < 32; tok = strtok(NULL, ","))
                w[nw++] = tok;
        qsort(w, nw, sizeof(w[0]), cmp_str);
        used = 0;
        for (size_t i = 0; i < nw; i++)
                used += (size_t)snprintf(sorted_schema + used, sizeof(sorted_schema) - used, "%s,", w[i]);
        if (strcmp(from_table, sorted_schema) != 0)
                fail_msg("%s.%s: the enum has {%s}, the schema {%s}", table, column, from_table,
                         sorted_schema);
}

#define ASSERT_SCHEMA(name, table, column)                     \
        do {                                                   \
                size_t n_;                                     \
                const char *const *t_ = name##_table_get();    \
                n_ = name##_table_size();                      \
                assert_table_is_schema(t_, n_, table, column); \
        } while (0)

static void test_tables_match_schema(void **state) {
        (void)state;
        ASSERT_SCHEMA(catalog_status, "services", "status");
        ASSERT_SCHEMA(resource_state, "resources", "state");
        ASSERT_SCHEMA(resource_kind, "resources", "kind");
        ASSERT_SCHEMA(operation_state, "operations", "state");
        ASSERT_SCHEMA(project_status, "projects", "status");
        ASSERT_SCHEMA(milestone_kind, "milestones", "kind");
        ASSERT_SCHEMA(operation_kind, "operations", "kind");
        ASSERT_SCHEMA(incident_status, "incidents", "status");
        ASSERT_SCHEMA(incident_status, "incident_records", "status");
        ASSERT_SCHEMA(legacy_state, "legacy_systems", "state");
        ASSERT_SCHEMA(legacy_hosting, "legacy_systems", "hosting_kind");
        ASSERT_SCHEMA(image_state, "images", "state");
        ASSERT_SCHEMA(adjustment_signer, "billing_adjustment_signoffs", "role");
        ASSERT_SCHEMA(attachment_state, "volume_attachments", "state");
        ASSERT_SCHEMA(attachment_drift, "attachment_drift", "kind");
        ASSERT_SCHEMA(binding_state, "service_bindings", "state");
}

static void test_round_trip(void **state) {
        (void)state;
        for (int i = 0; i < _RESOURCE_STATE_MAX; i++)
                assert_int_equal(resource_state_from_string(resource_state_to_string((ResourceState)i)), i);
        for (int i = 0; i < _OPERATION_KIND_MAX; i++)
                assert_int_equal(operation_kind_from_string(operation_kind_to_string((OperationKind)i)), i);
        for (int i = 0; i < _INCIDENT_STATUS_MAX; i++)
                assert_int_equal(incident_status_from_string(incident_status_to_string((IncidentStatus)i)),
                                 i);
        for (int i = 0; i < _LEGACY_STATE_MAX; i++)
                assert_int_equal(legacy_state_from_string(legacy_state_to_string((LegacyState)i)), i);
        assert_int_equal(legacy_state_from_string("cut_over"), -EINVAL);
        assert_null(resource_state_to_string(_RESOURCE_STATE_MAX));
        assert_null(resource_state_to_string((ResourceState)-1));
        assert_int_equal(resource_state_from_string(NULL), -EINVAL);
        assert_int_equal(resource_state_from_string(""), -EINVAL);
        assert_int_equal(resource_state_from_string("Active"), -EINVAL);
        assert_int_equal(resource_state_from_string("active "), -EINVAL);
        /* Incidents move in declaration order. */
        assert_true(INCIDENT_OPEN < INCIDENT_HANDLING && INCIDENT_HANDLING < INCIDENT_REPORTED &&
                    INCIDENT_REPORTED < INCIDENT_RESOLVED);
}

static void test_join(void **state) {
        char buf[64], tiny[8];
        size_t n = project_status_table_size();
        const char *const *t = project_status_table_get();
        (void)state;
        assert_string_equal(string_table_join(t, n, buf, sizeof(buf)), "active, suspended, terminated");
        assert_string_equal(string_table_join(t, n, tiny, sizeof(tiny)), "active,");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tables_match_schema),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_join),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
