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

System *system_free(System *sys) {
        if (!sys)
                return NULL;
        free(sys->id);
        free(sys->name);
        free(sys->department);
        free(sys->created_at);
        free(sys->updated_at);
        free(sys);
        return NULL;
}

void system_list_done(SystemList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                system_free(l->v[i]);
        free(l->v);
        *l = (SystemList){ 0 };
}

static System *row_to_system(StoreRows *rows) {
        _cleanup_(system_freep) System *sys = calloc(1, sizeof(*sys));
        if (!sys)
                return NULL;
        sys->id = store_rows_dup(rows, 0);
        sys->name = store_rows_dup(rows, 1);
        sys->department = store_rows_dup(rows, 2);
        sys->protection_level = (uint8_t)store_rows_int(rows, 3);
        sys->classified = store_rows_int(rows, 4) != 0;
        sys->data_sharing_compliant = streq_ptr(store_rows_text(rows, 5), "compliant");
        sys->created_at = store_rows_dup(rows, 6);
        sys->updated_at = store_rows_dup(rows, 7);
        if (!sys->id || !sys->name || !sys->department || !sys->created_at || !sys->updated_at)
                return NULL;
        return TAKE_PTR(sys);
}

/* The stored system, without authorization: 0 and *ret, -ENOENT, or -EIO. */
static int load(Store *s, const char *id, System **ret) {
        static const char sql[] = "SELECT " SYSTEM_COLUMNS " FROM systems WHERE id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        System *sys;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading a system", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        sys = row_to_system(rows);
        if (!sys)
                return -EIO;
        *ret = sys;
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

static int write_system(Store *s, bool create, const SystemDoc *d, CbError *err) {
        static const char ins_sql[] =
                "INSERT INTO systems (" SYSTEM_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
        static const char upd_sql[] = "UPDATE systems SET name = ?2, department = ?3, protection_level = ?4, "
                                      "classified = ?5, data_sharing = ?6, updated_at = ?7 WHERE id = ?1";
        char now[32];
        int r;

        store_now(now);
        r = store_run(s, create ? ins_sql : upd_sql,
                      STORE_ARGS(SA_TEXT(d->id), SA_TEXT(d->name), SA_TEXT(d->department),
                                 SA_INT(d->protection_level), SA_INT(d->classified ? 1 : 0),
                                 SA_TEXT(d->data_sharing), SA_TEXT(now)),
                      "writing a system", err);
        return r < 0 ? r : 0;
}

typedef struct SystemChange {
        const CbCaller *caller;
        const SystemDoc *doc;
} SystemChange;

static int create_change(Store *s, void *userdata, CbError *err) {
        SystemChange *c = userdata;
        System *existing = NULL;
        int r = load(s, c->doc->id, &existing);

        if (r >= 0) {
                /* Ids are one namespace for the whole city (approvals and
                 * resources name systems by id alone), so a taken id cannot
                 * be given out again, whoever holds it. The answer is the
                 * same for every caller and whoever holds the id: it does
                 * not say by whom, nor anything of that system. What
                 * remains is that the id is taken; learning that costs the
                 * prober a system of its own under its name in the audit
                 * trail for every id that was free (docs/policy.md). */
                system_free(existing);
                return cb_error_set_field(err, CB_ERR_CONFLICT, "id",
                                          "system id '%s' is not available: choose another id (to change a "
                                          "system of your own, use PUT /v1/systems/%s)",
                                          c->doc->id, c->doc->id);
        }
        if (r != -ENOENT)
                return store_error(s, err, "reading the system directory");
        return write_system(s, true, c->doc, err);
}

static int update_change(Store *s, void *userdata, CbError *err) {
        SystemChange *c = userdata;
        _cleanup_(system_freep) System *existing = NULL;
        int r = load(s, c->doc->id, &existing);

        if (r == -ENOENT || (r >= 0 && !caller_may_see(c->caller, existing->department, CB_ROLE_OPERATOR)))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", c->doc->id);
        if (r < 0)
                return store_error(s, err, "reading the system directory");
        return write_system(s, false, c->doc, err);
}

static int change_system(Store *s, const CbCaller *caller, const char *action, const SystemDoc *d,
                         AuditChangeFn change, System **ret, CbError *err) {
        _cleanup_(json_decrefp) json_t *detail = doc_to_json(d);
        char object[128];
        int r;

        if (!detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        snprintf(object, sizeof(object), "system:%s", d->id);
        r = audit_change(
                s, caller,
                &(AuditEntry){ .action = action, .object = object, .outcome = "ok", .detail = detail },
                change, &(SystemChange){ .caller = caller, .doc = d }, err);
        if (r < 0)
                return r;
        if (ret && load(s, d->id, ret) < 0)
                return store_error(s, err, "reading the system directory");
        return 0;
}

int systems_create(Store *s, const CbCaller *caller, const json_t *doc, System **ret, CbError *err) {
        SystemDoc d;
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
        return change_system(s, caller, "system.create", &d, create_change, ret, err);
}

int systems_update(Store *s, const CbCaller *caller, const char *id, const json_t *doc, System **ret,
                   CbError *err) {
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
        return change_system(s, caller, "system.update", &d, update_change, ret, err);
}

int systems_get(Store *s, const CbCaller *caller, const char *id, System **ret, CbError *err) {
        System *v = NULL;
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
        if (!caller_may_see(caller, v->department, SYSTEMS_READERS)) {
                system_free(v);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no system '%s' in the directory", id);
        }
        *ret = v;
        return 0;
}

int systems_list(Store *s, const CbCaller *caller, const char *department, const Page *page, SystemList *ret,
                 char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] =
                "SELECT " SYSTEM_COLUMNS " FROM systems WHERE (?1 IS NULL OR department = ?1) "
                "AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(system_list_done) SystemList l = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
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

        l.v = calloc((size_t)page->limit + 1, sizeof(System *));
        if (!l.v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_query(s, sql,
                        STORE_ARGS(SA_TEXT(department), SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_INT((int64_t)page->limit + 1)),
                        &rows, "reading the system directory", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                if (l.n == page->limit) {
                        page_token_make(l.v[l.n - 1]->id, NULL, next);
                        break;
                }
                l.v[l.n] = row_to_system(rows);
                if (!l.v[l.n]) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                l.n++;
        }
        if (r < 0)
                return r;
        *ret = l;
        l = (SystemList){ 0 };
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

int systems_get_facts(Store *s, const char *id, SystemFacts *ret) {
        static const char sql[] =
                "SELECT classified, protection_level, data_sharing, department FROM systems WHERE id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        SystemFacts f = { .listed = true };
        const char *ds, *dept;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading a system", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        ds = store_rows_text(rows, 2);
        dept = store_rows_text(rows, 3);
        f.classified = store_rows_int(rows, 0) != 0;
        f.protection_level = (uint8_t)store_rows_int(rows, 1);
        f.data_sharing_compliant = ds && streq(ds, "compliant");
        snprintf(f.department, sizeof(f.department), "%s", dept ? dept : "");
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
