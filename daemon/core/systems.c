/* SPDX-License-Identifier: Apache-2.0 */
#include "systems.h"

#include <stdio.h>

#include "audit.h"
#include "catalog-validate.h"
#include "json-util.h"

/* Who reads the whole directory: the operator keeps it, the authority
 * approves against it, finance withholds O&M funds by it (Art. 11),
 * auditors inspect it. */
#define SYSTEMS_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)

#define SYSTEM_COLUMNS \
        "id, name, department, protection_level, classified, data_sharing, created_at, updated_at"

typedef struct SystemDoc {
        const char *id, *name, *department, *data_sharing; /* borrowed from the request */
        int64_t protection_level;
        bool classified;
} SystemDoc;

static int validate_doc(const json_t *doc, SystemDoc *ret, CbError *err) {
        static const char *const allowed[] = {
                "id", "name", "department", "protection_level", "classified", "data_sharing", NULL,
        };
        SystemDoc d = { 0 };
        int r;

        r = json_check_object(doc, allowed, err);
        if (r >= 0)
                r = json_get_id(doc, "id", true, &d.id, err);
        if (r >= 0)
                r = json_get_string(doc, "name", true, SYSTEM_NAME_MAX, &d.name, err);
        if (r >= 0)
                r = json_get_id(doc, "department", true, &d.department, err);
        if (r >= 0)
                r = json_get_int(doc, "protection_level", true, 1, 4, &d.protection_level, err);
        if (r >= 0)
                r = json_get_bool(doc, "classified", true, &d.classified, err);
        if (r >= 0)
                r = json_get_string(doc, "data_sharing", true, 0, &d.data_sharing, err);
        if (r < 0)
                return r;
        if (!streq(d.data_sharing, "compliant") && !streq(d.data_sharing, "noncompliant"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "data_sharing",
                                          "data_sharing: must be \"compliant\" or \"noncompliant\"");
        *ret = d;
        return 0;
}

static json_t *doc_to_json(const SystemDoc *d) {
        return json_pack("{s:s, s:s, s:s, s:I, s:b, s:s}", "id", d->id, "name", d->name, "department",
                         d->department, "protection_level", (json_int_t)d->protection_level, "classified",
                         d->classified, "data_sharing", d->data_sharing);
}

static json_t *row_to_json(sqlite3_stmt *st) {
        return json_pack("{s:s, s:s, s:s, s:i, s:b, s:s, s:s, s:s}", "id", sqlite3_column_text(st, 0), "name",
                         sqlite3_column_text(st, 1), "department", sqlite3_column_text(st, 2),
                         "protection_level", sqlite3_column_int(st, 3), "classified",
                         sqlite3_column_int(st, 4) != 0, "data_sharing", sqlite3_column_text(st, 5),
                         "created_at", sqlite3_column_text(st, 6), "updated_at", sqlite3_column_text(st, 7));
}

/* The stored system, without authorization: 0 and *ret, -ENOENT, or -EIO. */
static int load(Store *s, const char *id, json_t **ret) {
        static const char sql[] = "SELECT " SYSTEM_COLUMNS " FROM systems WHERE id = ?";
        sqlite3_stmt *st;
        json_t *v = NULL;
        int r;

        if (store_prepare(s, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                v = row_to_json(st);
        sqlite3_reset(st);
        if (r == SQLITE_DONE)
                return -ENOENT;
        if (r != SQLITE_ROW || !v) {
                json_decref(v);
                return -EIO;
        }
        *ret = v;
        return 0;
}

/* A refused change is on record too, in its own transaction. */
static void refused(Store *s, const CbCaller *caller, const char *action, const char *id) {
        char object[128];
        snprintf(object, sizeof(object), "system:%s", id ? id : "");
        audit_refusal(s, caller, action, object, "forbidden", NULL);
}

static int require_changer(Store *s, const CbCaller *caller, const char *action, const char *id,
                           CbError *err) {
        int r = caller_require_role(caller, CB_ROLE_OPERATOR | CB_ROLE_DEPARTMENT,
                                    "change the system directory", err);
        if (r < 0 && err && err->kind == CB_ERR_FORBIDDEN)
                refused(s, caller, action, id);
        return r;
}

static int require_department(Store *s, const CbCaller *caller, const char *action, const char *id,
                              const char *department, CbError *err) {
        int r = caller_require_department(caller, department, CB_ROLE_OPERATOR, "register systems", err);
        if (r < 0 && err && err->kind == CB_ERR_FORBIDDEN)
                refused(s, caller, action, id);
        return r;
}

static int write_system(Store *s, const CbCaller *caller, const char *action, bool create, const SystemDoc *d,
                        CbError *err) {
        static const char ins_sql[] =
                "INSERT INTO systems (" SYSTEM_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        static const char upd_sql[] = "UPDATE systems SET name = ?2, department = ?3, protection_level = ?4, "
                                      "classified = ?5, data_sharing = ?6, updated_at = ?8 WHERE id = ?1";
        _cleanup_(json_decrefp) json_t *detail = doc_to_json(d);
        char now[32], object[128];
        sqlite3_stmt *st;
        int r;

        if (!detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        if (store_prepare(s, create ? ins_sql : upd_sql, &st) < 0)
                return store_error(s, err, "writing a system");
        sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d->department, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int)d->protection_level);
        sqlite3_bind_int(st, 5, d->classified);
        sqlite3_bind_text(st, 6, d->data_sharing, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                return store_error(s, err, "writing a system");

        snprintf(object, sizeof(object), "system:%s", d->id);
        return audit_append(
                s, caller,
                &(AuditEntry){ .action = action, .object = object, .outcome = "ok", .detail = detail }, err);
}

int systems_create(Store *s, const CbCaller *caller, const json_t *doc, json_t **ret, CbError *err) {
        SystemDoc d;
        json_t *existing = NULL;
        int r;

        r = require_changer(s, caller, "system.create", json_string_value(json_object_get(doc, "id")), err);
        if (r < 0)
                return r;
        r = validate_doc(doc, &d, err);
        if (r < 0)
                return r;
        r = require_department(s, caller, "system.create", d.id, d.department, err);
        if (r < 0)
                return r;

        if (store_begin(s) < 0)
                return store_error(s, err, "starting a transaction");
        r = load(s, d.id, &existing);
        if (r >= 0) {
                /* Ids are one namespace for the whole city (approvals and
                 * resources name systems by id alone), so a taken id cannot
                 * be given out again, whoever holds it. The answer is the
                 * same for every caller and whoever holds the id: it does
                 * not say by whom, nor anything of that system. What
                 * remains is that the id is taken; learning that costs the
                 * prober a system of its own under its name in the audit
                 * trail for every id that was free (docs/policy.md). */
                json_decref(existing);
                r = cb_error_set_field(err, CB_ERR_CONFLICT, "id",
                                       "system id '%s' is not available: choose another id (to change a "
                                       "system of your own, use PUT /v1/systems/%s)",
                                       d.id, d.id);
        } else if (r == -ENOENT)
                r = write_system(s, caller, "system.create", true, &d, err);
        else
                r = store_error(s, err, "reading the system directory");
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (store_commit(s) < 0)
                return store_error(s, err, "committing");
        if (ret && load(s, d.id, ret) < 0)
                return store_error(s, err, "reading the system directory");
        return 0;
}

int systems_update(Store *s, const CbCaller *caller, const char *id, const json_t *doc, json_t **ret,
                   CbError *err) {
        _cleanup_(json_decrefp) json_t *existing = NULL;
        SystemDoc d;
        int r;

        r = require_changer(s, caller, "system.update", id, err);
        if (r < 0)
                return r;
        if (!id_is_valid(id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", id);
        r = validate_doc(doc, &d, err);
        if (r < 0)
                return r;
        if (!streq(d.id, id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "id",
                                          "id: '%s' differs from the system in the URL ('%s')", d.id, id);
        /* Moving a system to another department is a change for that
         * department too: only the operator may. */
        r = require_department(s, caller, "system.update", id, d.department, err);
        if (r < 0)
                return r;

        if (store_begin(s) < 0)
                return store_error(s, err, "starting a transaction");
        r = load(s, id, &existing);
        if (r == -ENOENT ||
            (r >= 0 && !caller_may_see(caller, json_string_value(json_object_get(existing, "department")),
                                       CB_ROLE_OPERATOR)))
                r = cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", id);
        else if (r < 0)
                r = store_error(s, err, "reading the system directory");
        else
                r = write_system(s, caller, "system.update", false, &d, err);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (store_commit(s) < 0)
                return store_error(s, err, "committing");
        if (ret && load(s, id, ret) < 0)
                return store_error(s, err, "reading the system directory");
        return 0;
}

int systems_get(Store *s, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        json_t *v = NULL;
        int r;

        r = caller_require_role(caller, SYSTEMS_READERS | CB_ROLE_DEPARTMENT, "read the system directory",
                                err);
        if (r < 0)
                return r;
        if (!id_is_valid(id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", id);
        r = load(s, id, &v);
        if (r == -ENOENT)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", id);
        if (r < 0)
                return store_error(s, err, "reading the system directory");
        /* Another department's system is not there for a department: a 403
         * would confirm that the id exists. */
        if (!caller_may_see(caller, json_string_value(json_object_get(v, "department")), SYSTEMS_READERS)) {
                json_decref(v);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", id);
        }
        *ret = v;
        return 0;
}

int systems_list(Store *s, const CbCaller *caller, const char *department, const Page *page, json_t **ret,
                 char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] =
                "SELECT " SYSTEM_COLUMNS " FROM systems WHERE (?1 IS NULL OR department = ?1) "
                "AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3";
        char next[PAGE_TOKEN_MAX] = "";
        sqlite3_stmt *st;
        json_t *a;
        int r;

        r = caller_require_role(caller, SYSTEMS_READERS | CB_ROLE_DEPARTMENT, "read the system directory",
                                err);
        if (r < 0)
                return r;
        if (department && !id_is_valid(department))
                return cb_error_set_field(err, CB_ERR_INVALID, "department",
                                          "department: '%s' is not a department id", department);
        if (!caller_has_role(caller, SYSTEMS_READERS)) {
                if (department && !caller_in_department(caller, department))
                        return cb_error_set(err, CB_ERR_FORBIDDEN,
                                            "%s may not list the systems of department %s",
                                            caller->principal->name, department);
                department = caller->principal->department;
                if (!department)
                        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                            caller->principal->name);
        }

        if (store_prepare(s, sql, &st) < 0)
                return store_error(s, err, "reading the system directory");
        if (department)
                sqlite3_bind_text(st, 1, department, -1, SQLITE_STATIC);
        if (page->has_after)
                sqlite3_bind_text(st, 2, page->after[0], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)page->limit + 1);
        a = json_array();
        if (!a) {
                sqlite3_reset(st);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                if (json_array_size(a) == page->limit) {
                        page_token_make(
                                json_string_value(json_object_get(json_array_get(a, page->limit - 1), "id")),
                                NULL, next);
                        r = SQLITE_DONE;
                        break;
                }
                if (json_array_append_new(a, row_to_json(st)) < 0) {
                        r = SQLITE_NOMEM;
                        break;
                }
        }
        sqlite3_reset(st);
        if (r != SQLITE_DONE) {
                json_decref(a);
                return store_error(s, err, "reading the system directory");
        }
        *ret = a;
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

int systems_get_facts(Store *s, const char *id, SystemFacts *ret) {
        static const char sql[] =
                "SELECT classified, protection_level, data_sharing, department FROM systems WHERE id = ?";
        SystemFacts f = { .listed = true };
        sqlite3_stmt *st;
        int r;

        if (store_prepare(s, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
                const char *ds = (const char *)sqlite3_column_text(st, 2);
                const char *dept = (const char *)sqlite3_column_text(st, 3);
                f.classified = sqlite3_column_int(st, 0) != 0;
                f.protection_level = (uint8_t)sqlite3_column_int(st, 1);
                f.data_sharing_compliant = ds && streq(ds, "compliant");
                snprintf(f.department, sizeof(f.department), "%s", dept ? dept : "");
        }
        sqlite3_reset(st);
        if (r == SQLITE_DONE)
                return -ENOENT;
        if (r != SQLITE_ROW)
                return -EIO;
        *ret = f;
        return 0;
}

int systems_get_visible_facts(Store *s, const CbCaller *caller, const char *id, SystemFacts *ret) {
        SystemFacts f;
        int r = systems_get_facts(s, id, &f);
        if (r < 0)
                return r;
        /* The rule of systems_get(): what the caller may not read is not there. */
        if (!caller_may_see(caller, f.department, SYSTEMS_READERS))
                return -ENOENT;
        *ret = f;
        return 0;
}
