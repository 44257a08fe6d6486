/* SPDX-License-Identifier: Apache-2.0 */
#include "approvals.h"
#include "projects-internal.h"
#include "states.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "catalog-validate.h"

typedef struct ApprovalIntake {
        const Approval *a;
        bool exists;
        const char *doc; /* the signed bytes, doc_len of them */
        size_t doc_len;
        const char *env_text, *key_id, *received_by, *now;
} ApprovalIntake;

/* The project (created on revision 1, renamed and moved on after) and the
 * approval revision with the exact signed bytes, so that the signature can
 * be checked again later. */
static int approval_store(Store *s, void *userdata, CbError *err) {
        static const char ins_project[] =
                "INSERT INTO projects (id, name, department, status, current_revision, "
                "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
        static const char upd_project[] =
                "UPDATE projects SET name = ?2, current_revision = ?3, updated_at = ?4 WHERE id = ?1";
        static const char ins_approval[] =
                "INSERT INTO approvals (project_id, revision, approval_no, document, "
                "envelope, key_id, received_at, received_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
        const ApprovalIntake *in = userdata;
        const Approval *a = in->a;
        int r;

        if (in->exists)
                r = store_run(s, upd_project,
                              STORE_ARGS(SA_TEXT(a->project_id), SA_TEXT(a->project_name),
                                         SA_INT(a->revision), SA_TEXT(in->now)),
                              "storing the approval", err);
        else
                r = store_run(s, ins_project,
                              STORE_ARGS(SA_TEXT(a->project_id), SA_TEXT(a->project_name),
                                         SA_TEXT(a->department),
                                         SA_TEXT(project_status_to_string(PROJECT_ACTIVE)),
                                         SA_INT(a->revision), SA_TEXT(in->now)),
                              "storing the approval", err);
        if (r >= 0)
                r = store_run(s, ins_approval,
                              STORE_ARGS(SA_TEXT(a->project_id), SA_INT(a->revision), SA_TEXT(a->approval_no),
                                         SA_TEXT_LEN(in->doc, in->doc_len), SA_TEXT(in->env_text),
                                         SA_TEXT(in->key_id), SA_TEXT(in->now), SA_TEXT(in->received_by)),
                              "storing the approval", err);
        return r < 0 ? r : 0;
}

int approvals_import(Projects *p, const CbCaller *caller, const json_t *envelope, json_t **ret,
                     CbError *err) {
        _cleanup_(freep) char *doc = NULL, *key_id = NULL, *env_text = NULL;
        _cleanup_(approval_freep) Approval *a = NULL;
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        char object[128], now[32];
        json_t *detail;
        size_t len = 0;
        bool exists;
        int r;

        r = caller_require_role(caller, CB_ROLE_AUTHORITY | CB_ROLE_DEPARTMENT, "submit approvals", err);
        if (r < 0) {
                audit_refusal(p->store, caller, "approval.submit", "approval:?", "forbidden", NULL);
                return r;
        }
        if (!p->keys || trusted_keys_count(p->keys) == 0)
                return cb_error_set(err, CB_ERR_UNPROCESSABLE, "no trusted authority key is configured");

        r = envelope_verify(p->keys, envelope, &doc, &len, &key_id, err);
        if (r < 0) {
                audit_refusal(p->store, caller, "approval.submit", "approval:?", "rejected", NULL);
                return r;
        }
        r = approval_parse(doc, len, &a, err);
        if (r < 0) {
                /* The signature was good, so the document is the authority's: still refuse it whole. */
                char msg[sizeof(err->message)], field[sizeof(err->field)];
                /* Copies: err->field and err->message are overwritten by the call below. */
                snprintf(msg, sizeof(msg), "%s", err->message);
                snprintf(field, sizeof(field), "%s", err->field);
                cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field, "signed document: %s", msg);
                audit_refusal(p->store, caller, "approval.submit", "approval:?", "rejected", NULL);
                return r;
        }
        snprintf(object, sizeof(object), "project:%s", a->project_id);

        if (!caller_has_role(caller, CB_ROLE_AUTHORITY) &&
            !streq_ptr(caller->principal->department, a->department)) {
                audit_refusal(p->store, caller, "approval.submit", object, "rejected", NULL);
                return cb_error_set_field(
                        err, CB_ERR_UNPROCESSABLE, "department",
                        "the approval is for department '%s', not the caller's ('%s')", a->department,
                        caller->principal->department ? caller->principal->department : "none");
        }

        r = project_load(p, a->project_id, &row);
        if (r < 0 && r != -ENOENT)
                return store_error(p->store, err, "reading the project");
        exists = r == 0;
        /* The department first: another department's revision is none of its business. */
        if (exists && !streq(row.department, a->department)) {
                audit_refusal(p->store, caller, "approval.submit", object, "rejected", NULL);
                /* The holder is named only to whom may read the project. */
                if (!caller_may_see(caller, row.department, PROJECT_READERS | CB_ROLE_AUTHORITY))
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "project_id",
                                                  "project id '%s' is not available to department '%s'",
                                                  a->project_id, a->department);
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "department",
                                          "project '%s' belongs to department '%s', not '%s'", a->project_id,
                                          row.department, a->department);
        }

        if (exists && (int64_t)row.revision >= a->revision) {
                audit_refusal(p->store, caller, "approval.submit", object, "rejected", NULL);
                return cb_error_set_field(
                        err, CB_ERR_UNPROCESSABLE, "revision",
                        "revision %lld is not newer than revision %u already held for project '%s'",
                        (long long)a->revision, row.revision, a->project_id);
        }
        env_text = json_dumps(envelope, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!env_text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        ApprovalIntake in = { .a = a,
                              .exists = exists,
                              .doc = doc,
                              .doc_len = len,
                              .env_text = env_text,
                              .key_id = key_id,
                              .received_by = caller->principal->name,
                              .now = now };
        detail = json_pack("{s:s, s:I, s:s}", "approval_no", a->approval_no, "revision",
                           (json_int_t)a->revision, "key_id", key_id);
        r = audit_change(p->store, caller, &(AuditEntry){ "approval.accept", object, "ok", NULL, detail },
                         approval_store, &in, err);
        json_decref(detail);
        if (r < 0)
                return r;

        *ret = json_pack("{s:s, s:s, s:I}", "project_id", a->project_id, "approval_no", a->approval_no,
                         "revision", (json_int_t)a->revision);
        return 0;
}

int approvals_list_project(Projects *p, const CbCaller *caller, const char *project_id, json_t **ret,
                           CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        json_t *list;
        int r;

        /* projects_get's rule: readers, and a department its own projects. */
        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read approvals", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, project_id, &row, err);
        if (r < 0)
                return r;
        list = project_approval_history(p, row.id);
        if (!list)
                return store_error(p->store, err, "reading the approvals");
        *ret = list;
        return 0;
}

int approvals_get_revision(Projects *p, const CbCaller *caller, const char *project_id, unsigned revision,
                           json_t **ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        _cleanup_(approval_freep) Approval *a = NULL;
        json_t *v;
        int r;

        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read approvals", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, project_id, &row, err);
        if (r < 0)
                return r;
        r = project_approval_load(p, row.id, revision, &a);
        if (r == -ENOENT)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "project '%s' has no approval revision %u", row.id,
                                    revision);
        if (r < 0)
                return store_error(p->store, err, "reading the approval");
        v = approval_to_json(a);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = v;
        return 0;
}

/* ---- every approval the caller may read ---- */

#define APPROVAL_COLUMNS                                                                                  \
        "a.project_id, p.department, a.revision, a.approval_no, a.key_id, a.received_at, a.received_by, " \
        "CASE WHEN p.current_revision = a.revision THEN 1 ELSE 0 END"

static json_t *approval_row_json(StoreRows *rows) {
        return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:b}", "project_id", store_rows_text(rows, 0),
                         "department", store_rows_text(rows, 1), "revision",
                         (json_int_t)store_rows_int(rows, 2), "approval_no", store_rows_text(rows, 3),
                         "key_id", store_rows_text(rows, 4), "received_at", store_rows_text(rows, 5),
                         "received_by", store_rows_text(rows, 6), "in_force", store_rows_int(rows, 7) != 0);
}

/* The department a caller's reads are narrowed to: NULL for readers of
 * every project (then `department` as asked), the caller's own for a
 * department, which may ask for no other. */
static int reading_department(const CbCaller *caller, const char *department, const char **ret,
                              CbError *err) {
        int r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read approvals", err);
        if (r < 0)
                return r;
        if (department && !id_is_valid(department))
                return cb_error_set_field(err, CB_ERR_INVALID, "department",
                                          "department: '%s' is not a department id", department);
        if (caller_has_role(caller, PROJECT_READERS)) {
                *ret = department;
                return 0;
        }
        if (!caller->principal->department)
                return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                    caller->principal->name);
        if (department && !streq(department, caller->principal->department))
                return cb_error_set(err, CB_ERR_FORBIDDEN, "%s may not list the approvals of department %s",
                                    caller->principal->name, department);
        *ret = caller->principal->department;
        return 0;
}

int approvals_list(Projects *p, const CbCaller *caller, const char *department, const Page *page,
                   json_t **ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] =
                "SELECT " APPROVAL_COLUMNS " FROM approvals a JOIN projects p ON p.id = a.project_id "
                "WHERE (?1 IS NULL OR p.department = ?1) "
                "AND (?2 IS NULL OR a.project_id > ?2 OR (a.project_id = ?2 AND a.revision > ?3)) "
                "ORDER BY a.project_id, a.revision LIMIT ?4";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char next[PAGE_TOKEN_MAX] = "";
        int64_t after_revision = 0;
        json_t *a;
        int r;

        r = reading_department(caller, department, &department, err);
        if (r < 0)
                return r;
        if (page->has_after) {
                char *end;
                errno = 0;
                after_revision = strtoll(page->after[1], &end, 10);
                if (errno || end == page->after[1] || *end || after_revision < 0)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "page_token",
                                                  "page_token: not one this daemon made");
        }
        a = json_array();
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_query(p->store, sql,
                        STORE_ARGS(SA_TEXT(department), SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_INT(after_revision), SA_INT((int64_t)page->limit + 1)),
                        &rows, "reading the approvals", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                if (json_array_size(a) == page->limit) {
                        const json_t *last = json_array_get(a, page->limit - 1);
                        char rev[24];
                        snprintf(rev, sizeof(rev), "%lld",
                                 (long long)json_integer_value(json_object_get(last, "revision")));
                        page_token_make(json_string_value(json_object_get(last, "project_id")), rev, next);
                        break;
                }
                if (json_array_append_new(a, approval_row_json(rows)) < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
        }
        if (r < 0) {
                json_decref(a);
                return r;
        }
        *ret = a;
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

int approvals_get(Projects *p, const CbCaller *caller, const char *approval_no, json_t **ret, CbError *err) {
        static const char sql[] = "SELECT " APPROVAL_COLUMNS
                                  ", a.document FROM approvals a JOIN projects p ON p.id = a.project_id "
                                  "WHERE a.approval_no = ?1 AND (?2 IS NULL OR p.department = ?2) "
                                  "ORDER BY a.received_at DESC, a.project_id DESC, a.revision DESC LIMIT 1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(approval_freep) Approval *doc = NULL;
        CbError ignored = CB_ERROR_INIT;
        const char *department = NULL, *text;
        json_t *v;
        int r;

        r = reading_department(caller, NULL, &department, err);
        if (r < 0)
                return r;
        if (!approval_no || !approval_no[0] || strlen(approval_no) > APPROVAL_NO_MAX)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no approval '%s'",
                                    approval_no ? approval_no : "");
        r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(approval_no), SA_TEXT(department)), &rows,
                        "reading the approvals", err);
        if (r >= 0)
                r = store_rows_next(rows, err);
        if (r < 0)
                return r;
        /* Another department's approval is not there for a department: a
         * 403 would confirm the number is on record. */
        if (r == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no approval '%s'", approval_no);
        text = store_rows_text(rows, 8);
        if (!text || approval_parse(text, strlen(text), &doc, &ignored) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "the stored approval '%s' does not parse",
                                    approval_no);
        v = approval_row_json(rows);
        if (!v || json_object_set_new(v, "document", approval_to_json(doc)) < 0) {
                json_decref(v);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        *ret = v;
        return 0;
}
