/* SPDX-License-Identifier: Apache-2.0 */

/*
 * Approvals, projects, the audit trail and the caller's identity on
 * /org/cloudbroker/Broker1, documented in docs/dbus/org.cloudbroker.Broker1.
 * {Approvals,Projects,Audit,Identity}.xml. Each method is the bus spelling
 * of a REST route (docs/faces.md) and calls the same core function with the
 * sender's UID as the caller; who may do what is decided there, once.
 *
 * Small requests are typed arguments; the signed approval envelope is a
 * whole document and travels as a JSON string, byte for byte what
 * POST /v1/approvals takes. Records come back as JSON strings in the REST
 * shapes; lists are bare arrays.
 */

#include "audit.h"
#include "bus-util.h"
#include "rest-records.h"
#include "projects.h"

/* ---- org.cloudbroker.Broker1.Approvals ---- */

static int method_import_approval(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(approval_record_freep) ApprovalRecord *rec = NULL;
        Manager *m = userdata;
        json_auto_t *env = NULL;
        const char *text;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), "the approval envelope", &env, error);
        if (r < 0)
                return r;
        r = approvals_import(m->projects, &caller, env, &rec, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_approval_receipt_json(rec) : NULL, &err, error);
}

static int method_list_approvals(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(approval_list_done) ApprovalList list = { 0 };
        Manager *m = userdata;
        const char *project;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &project);
        if (r < 0)
                return r;
        r = approvals_list_project(m->projects, &caller, project, &list, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_approval_history_json(&list) : NULL, &err, error);
}

static int method_get_approval(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(approval_freep) Approval *doc = NULL;
        Manager *m = userdata;
        const char *project;
        uint32_t revision;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "su", &project, &revision);
        if (r < 0)
                return r;
        r = approvals_get_revision(m->projects, &caller, project, revision, &doc, &err);
        return bus_reply_new(msg, r, r >= 0 ? approval_to_json(doc) : NULL, &err, error);
}

static int method_list_all_approvals(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(approval_list_done) ApprovalList list = { 0 };
        Manager *m = userdata;
        char next[PAGE_TOKEN_MAX] = "";
        const char *department, *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sus", &department, &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = approvals_list(m->projects, &caller, bus_optional(department), &page, &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_approval_list_json(&list) : NULL, next, &err, error);
}

static int method_get_approval_by_number(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(approval_record_freep) ApprovalRecord *rec = NULL;
        Manager *m = userdata;
        const char *no;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &no);
        if (r < 0)
                return r;
        r = approvals_get(m->projects, &caller, no, &rec, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_approval_json(rec) : NULL, &err, error);
}

const sd_bus_vtable bus_approvals_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ImportApproval", SD_BUS_ARGS("s", envelope), SD_BUS_RESULT("s", result),
                                method_import_approval, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListApprovals", SD_BUS_ARGS("s", project_id), SD_BUS_RESULT("s", approvals),
                                method_list_approvals, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetApproval", SD_BUS_ARGS("s", project_id, "u", revision),
                                SD_BUS_RESULT("s", approval), method_get_approval,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAllApprovals", SD_BUS_ARGS("s", department, "u", limit, "s", page_token),
                                SD_BUS_RESULT("s", approvals, "s", next_page_token),
                                method_list_all_approvals, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetApprovalByNumber", SD_BUS_ARGS("s", approval_no),
                                SD_BUS_RESULT("s", approval), method_get_approval_by_number,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- org.cloudbroker.Broker1.Projects ---- */

/* The project in the REST shape, or the core's refusal. */
static int reply_project(sd_bus_message *msg, int r, const Project *pr, CbError *err, sd_bus_error *error) {
        return bus_reply_new(msg, r, r >= 0 ? rest_project_json(pr) : NULL, err, error);
}

static int method_list_projects(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        char next[PAGE_TOKEN_MAX] = "";
        _cleanup_(project_list_done) ProjectList list = { 0 };
        const char *department, *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sus", &department, &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = projects_list(m->projects, &caller, bus_optional(department), &page, &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_project_list_json(&list) : NULL, next, &err, error);
}

static int method_get_project(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        _cleanup_(project_freep) Project *pr = NULL;
        const char *id;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = projects_get(m->projects, &caller, id, &pr, &err);
        return reply_project(msg, r, pr, &err, error);
}

static int method_add_milestone(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        _cleanup_(project_freep) Project *pr = NULL;
        json_auto_t *body = NULL;
        const char *id, *kind, *date;
        uint32_t budget_year;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sssu", &id, &kind, &date, &budget_year);
        if (r < 0)
                return r;
        /* budget_year 0 is "not given", as an absent member is over REST. */
        body = json_pack("{s:s, s:s}", "kind", kind, "date", date);
        if (!body ||
            (budget_year > 0 && json_object_set_new(body, "budget_year", json_integer(budget_year)) < 0))
                return -ENOMEM;
        r = projects_add_milestone(m->projects, &caller, id, body, &pr, &err);
        return reply_project(msg, r, pr, &err, error);
}

static int set_status(sd_bus_message *msg, Manager *m, const char *action, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(project_freep) Project *pr = NULL;
        json_auto_t *body = NULL;
        const char *id, *reason;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &id, &reason);
        if (r < 0)
                return r;
        body = json_pack("{s:s}", "reason", reason);
        if (!body)
                return -ENOMEM;
        r = projects_set_status(m->projects, &caller, id, action, body, &pr, &err);
        return reply_project(msg, r, pr, &err, error);
}

static int method_suspend(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return set_status(msg, userdata, "suspend", error);
}

static int method_resume(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return set_status(msg, userdata, "resume", error);
}

static int method_terminate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return set_status(msg, userdata, "terminate", error);
}

const sd_bus_vtable bus_projects_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListProjects", SD_BUS_ARGS("s", department, "u", limit, "s", page_token),
                                SD_BUS_RESULT("s", projects, "s", next_page_token), method_list_projects,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetProject", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", project),
                                method_get_project, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddMilestone", SD_BUS_ARGS("s", id, "s", kind, "s", date, "u", budget_year),
                                SD_BUS_RESULT("s", project), method_add_milestone,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Suspend", SD_BUS_ARGS("s", id, "s", reason), SD_BUS_RESULT("s", project),
                                method_suspend, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_ARGS("s", id, "s", reason), SD_BUS_RESULT("s", project),
                                method_resume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Terminate", SD_BUS_ARGS("s", id, "s", reason), SD_BUS_RESULT("s", project),
                                method_terminate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- org.cloudbroker.Broker1.Audit ---- */

static int method_list_records(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        _cleanup_(audit_list_done) AuditList list = { 0 };
        int64_t after;
        uint32_t limit;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "xu", &after, &limit);
        if (r < 0)
                return r;
        r = audit_list(m->store, &caller, after, limit, &list, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_audit_list_json(&list) : NULL, &err, error);
}

static int method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        AuditVerifyResult v;
        const char *anchor_s;
        AuditAnchor anchor;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &anchor_s);
        if (r < 0)
                return r;
        if (!isempty(anchor_s) && audit_anchor_parse(anchor_s, &anchor) < 0) {
                cb_error_set_field(&err, CB_ERR_INVALID, "anchor",
                                   "anchor: '%s' is not SEQ:HASH (a record number and its 64 hex digits)",
                                   anchor_s);
                return bus_error_from_cb(error, &err);
        }
        r = audit_trail_verify(m->audit, m->store, &caller, isempty(anchor_s) ? NULL : &anchor, &v, &err);
        return bus_reply_new(msg, r, r >= 0 ? audit_verify_result_to_json(&v) : NULL, &err, error);
}

const sd_bus_vtable bus_audit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListRecords", SD_BUS_ARGS("x", after, "u", limit),
                                SD_BUS_RESULT("s", records), method_list_records, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Verify", SD_BUS_ARGS("s", anchor), SD_BUS_RESULT("s", result), method_verify,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- org.cloudbroker.Broker1.Identity ---- */

/* GET /v1/whoami: who the daemon takes the sender's UID for. An unknown
 * UID is AccessDenied, which says as much. */
static int method_who_am_i(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        json_auto_t *out = NULL;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        out = principal_to_json(caller.principal);
        if (!out)
                return -ENOMEM;
        return bus_reply_json(msg, out);
}

const sd_bus_vtable bus_identity_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("WhoAmI", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", principal), method_who_am_i,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
