/* SPDX-License-Identifier: Apache-2.0 */
#include "approvals.h"
#include "projects-internal.h"
#include "states.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "catalog-validate.h"

ApprovalRecord *approval_record_free(ApprovalRecord *a) {
        if (!a)
                return NULL;
        free(a->project_id);
        free(a->department);
        free(a->approval_no);
        free(a->key_id);
        free(a->received_at);
        free(a->received_by);
        approval_free(a->document);
        free(a);
        return NULL;
}

static void approval_record_clear(ApprovalRecord *a) {
        free(a->project_id);
        free(a->department);
        free(a->approval_no);
        free(a->key_id);
        free(a->received_at);
        free(a->received_by);
        approval_free(a->document);
        *a = (ApprovalRecord){ 0 };
}

void approval_list_done(ApprovalList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                approval_record_clear(&l->v[i]);
        free(l->v);
        *l = (ApprovalList){ 0 };
}

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

int approvals_import(Projects *p, const CbCaller *caller, const json_t *envelope, ApprovalRecord **ret,
                     CbError *err) {
        _cleanup_(freep) char *doc = NULL, *key_id = NULL, *env_text = NULL;
        _cleanup_(approval_freep) Approval *a = NULL;
        _cleanup_(approval_record_freep) ApprovalRecord *rec = NULL;
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
        /* The answer is made before the change, so that running out of
         * memory refuses it rather than leave it stored and unanswered. */
        if (ret) {
                rec = calloc(1, sizeof(*rec));
                if (!rec)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                *rec = (ApprovalRecord){ .project_id = strdup(a->project_id),
                                         .department = strdup(a->department),
                                         .revision = (unsigned)a->revision,
                                         .approval_no = strdup(a->approval_no),
                                         .key_id = strdup(key_id),
                                         .received_at = strdup(now),
                                         .received_by = strdup(caller->principal->name),
                                         .in_force = true };
                if (!rec->project_id || !rec->department || !rec->approval_no || !rec->key_id ||
                    !rec->received_at || !rec->received_by)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
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

        if (ret) {
                rec->document = TAKE_PTR(a);
                *ret = TAKE_PTR(rec);
        }
        return 0;
}

int approvals_list_project(Projects *p, const CbCaller *caller, const char *project_id, ApprovalList *ret,
                           CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        int r;

        /* projects_get's rule: readers, and a department its own projects. */
        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read approvals", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, project_id, &row, err);
        if (r < 0)
                return r;
        r = project_approval_records(p, row.id, ret);
        if (r == -ENOMEM)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (r < 0)
                return store_error(p->store, err, "reading the approvals");
        return 0;
}

int approvals_get_revision(Projects *p, const CbCaller *caller, const char *project_id, unsigned revision,
                           Approval **ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        _cleanup_(approval_freep) Approval *a = NULL;
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
        *ret = TAKE_PTR(a);
        return 0;
}

/* ---- every approval the caller may read ---- */

#define APPROVAL_COLUMNS                                                                                  \
        "a.project_id, p.department, a.revision, a.approval_no, a.key_id, a.received_at, a.received_by, " \
        "CASE WHEN p.current_revision = a.revision THEN 1 ELSE 0 END"

/* The row's APPROVAL_COLUMNS into *ret: 0, or -ENOMEM with nothing kept. */
static int approval_row_read(StoreRows *rows, ApprovalRecord *ret) {
        ApprovalRecord a = { .project_id = store_rows_dup(rows, 0),
                             .department = store_rows_dup(rows, 1),
                             .revision = (unsigned)store_rows_int(rows, 2),
                             .approval_no = store_rows_dup(rows, 3),
                             .key_id = store_rows_dup(rows, 4),
                             .received_at = store_rows_dup(rows, 5),
                             .received_by = store_rows_dup(rows, 6),
                             .in_force = store_rows_int(rows, 7) != 0 };
        if (!a.project_id || !a.department || !a.approval_no || !a.key_id || !a.received_at ||
            !a.received_by) {
                approval_record_clear(&a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

/* Appends the current row to l; 0 or -ENOMEM. */
static int approval_list_append(ApprovalList *l, StoreRows *rows) {
        ApprovalRecord *v = realloc(l->v, (l->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        l->v = v;
        if (approval_row_read(rows, &l->v[l->n]) < 0)
                return -ENOMEM;
        l->n++;
        return 0;
}

int project_approval_records(Projects *p, const char *project_id, ApprovalList *ret) {
        static const char sql[] = "SELECT " APPROVAL_COLUMNS " FROM approvals a JOIN projects p ON p.id = "
                                  "a.project_id WHERE a.project_id = ?1 ORDER BY a.revision";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(approval_list_done) ApprovalList l = { 0 };
        int r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading approvals", NULL);

        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0)
                if (approval_list_append(&l, rows) < 0)
                        return -ENOMEM;
        if (r < 0)
                return -EIO;
        *ret = l;
        l = (ApprovalList){ 0 };
        return 0;
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
                   ApprovalList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] =
                "SELECT " APPROVAL_COLUMNS " FROM approvals a JOIN projects p ON p.id = a.project_id "
                "WHERE (?1 IS NULL OR p.department = ?1) "
                "AND (?2 IS NULL OR a.project_id > ?2 OR (a.project_id = ?2 AND a.revision > ?3)) "
                "ORDER BY a.project_id, a.revision LIMIT ?4";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(approval_list_done) ApprovalList l = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
        int64_t after_revision = 0;
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
        r = store_query(p->store, sql,
                        STORE_ARGS(SA_TEXT(department), SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_INT(after_revision), SA_INT((int64_t)page->limit + 1)),
                        &rows, "reading the approvals", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                if (l.n == page->limit) {
                        const ApprovalRecord *last = &l.v[page->limit - 1];
                        char rev[24];
                        snprintf(rev, sizeof(rev), "%u", last->revision);
                        page_token_make(last->project_id, rev, next);
                        break;
                }
                if (approval_list_append(&l, rows) < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
        }
        if (r < 0)
                return r;
        *ret = l;
        l = (ApprovalList){ 0 };
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

int approvals_get(Projects *p, const CbCaller *caller, const char *approval_no, ApprovalRecord **ret,
                  CbError *err) {
        static const char sql[] = "SELECT " APPROVAL_COLUMNS
                                  ", a.document FROM approvals a JOIN projects p ON p.id = a.project_id "
                                  "WHERE a.approval_no = ?1 AND (?2 IS NULL OR p.department = ?2) "
                                  "ORDER BY a.received_at DESC, a.project_id DESC, a.revision DESC LIMIT 1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(approval_freep) Approval *doc = NULL;
        _cleanup_(approval_record_freep) ApprovalRecord *rec = NULL;
        CbError ignored = CB_ERROR_INIT;
        const char *department = NULL, *text;
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
        rec = calloc(1, sizeof(*rec));
        if (!rec || approval_row_read(rows, rec) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        rec->document = TAKE_PTR(doc);
        *ret = TAKE_PTR(rec);
        return 0;
}
