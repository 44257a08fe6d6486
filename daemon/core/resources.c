/* SPDX-License-Identifier: Apache-2.0 */
#include "resources.h"

#include <stdio.h>
#include <sys/random.h>

#include "audit.h"
#include "catalog-validate.h"
#include "digest.h"
#include "json-util.h"
#include "log.h"
#include "operations.h"
#include "placement.h"
#include "reconcile.h"
#include "resources-internal.h"
#include "states.h"
#include "store-json.h"

/* A graceful stop gets this long before the VM is forced off, unless configured. */
#define STOP_TIMEOUT_MS 30000

int resources_new(Store *store, Projects *projects, Providers *providers, WorkerPool *pool, Resources **ret) {
        CbError err = CB_ERROR_INIT;
        Resources *r;

        if (reconcile_init(store, &err) < 0) {
                log_error("cannot set up the resource change counter: %s", err.message);
                cb_error_clear(&err);
                return -EIO;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        *r = (Resources){ .store = store,
                          .projects = projects,
                          .providers = providers,
                          .pool = pool,
                          .stop_timeout_ms = STOP_TIMEOUT_MS };
        *ret = r;
        return 0;
}

Resources *resources_free(Resources *r) {
        if (!r)
                return NULL;
        operations_state_free(r);
        for (size_t i = 0; i < r->n_watches; i++)
                free(r->watches[i]);
        free(r);
        return NULL;
}

void resources_set_stop_timeout(Resources *r, unsigned timeout_ms) {
        r->stop_timeout_ms = timeout_ms;
}

void resources_set_change_callback(Resources *r, ResourceChangedFn fn, void *userdata) {
        r->changed = fn;
        r->changed_userdata = userdata;
}

void resources_notify(Resources *r, const char *id, bool created) {
        if (r->changed)
                r->changed(id, created, r->changed_userdata);
}

static int random_id(const char *prefix, char *buf, size_t n) {
        uint8_t b[8];
        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                return -EIO;
        snprintf(buf, n, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3], b[4], b[5],
                 b[6], b[7]);
        return 0;
}

/* ---- the record ---- */

#define RESOURCE_COLUMNS                                                                                    \
        "id, name, project_id, system_id, department, service_id, plan_id, catalog_revision, approval_no, " \
        "cost_kind, committed_fen, provider, provider_ref, state, created_at, created_by, updated_at, kind"

static json_t *resource_row_json(sqlite3_stmt *st) {
        return store_json_row(st, true);
}

int resources_record(Resources *r, const char *id, json_t **ret) {
        static const char sql[] = "SELECT " RESOURCE_COLUMNS " FROM resources WHERE id = ?";
        sqlite3_stmt *st;
        int q;

        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW)
                *ret = resource_row_json(st);
        sqlite3_reset(st);
        return q == SQLITE_ROW ? (*ret ? 0 : -ENOMEM) : q == SQLITE_DONE ? -ENOENT : -EIO;
}

int resources_exec(Resources *r, const char *sql, const char *const *args, size_t n) {
        sqlite3_stmt *st;
        int q;
        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        for (size_t i = 0; i < n; i++)
                if (args[i])
                        sqlite3_bind_text(st, (int)i + 1, args[i], -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, (int)i + 1);
        q = sqlite3_step(st);
        sqlite3_reset(st);
        return q == SQLITE_DONE ? 0 : -EIO;
}

/* ---- requests ---- */

static json_t *op_reply(const char *id, const char *state, const char *op_id) {
        return json_pack("{s:s, s:s, s:s}", "id", id, "state", state, "operation_id", op_id);
}

static int find_idempotent(Resources *r, const char *who, const char *key, char ret_id[64],
                           char ret_hash[72]) {
        static const char sql[] =
                "SELECT id, request_hash FROM resources WHERE created_by = ? AND idempotency_key = ?";
        sqlite3_stmt *st;
        int q;
        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, who, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW) {
                snprintf(ret_id, 64, "%s", sqlite3_column_text(st, 0));
                snprintf(ret_hash, 72, "%s", sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);
        return q == SQLITE_ROW ? 1 : q == SQLITE_DONE ? 0 : -EIO;
}

int resource_request_from_json(const json_t *body, EvalRequest *ret, const char **ret_name, CbError *err) {
        static const char *const extra[] = { "name", NULL };
        const char *name = NULL;
        EvalRequest req;
        int r;

        r = eval_request_from_json(body, extra, &req, err);
        if (r >= 0)
                r = json_get_string(body, "name", true, RESOURCE_NAME_MAX, &name, err);
        if (r < 0)
                return r;
        if (req.quantity != 1)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "quantity",
                                          "quantity: one resource per request (send one request each)");
        *ret = req;
        *ret_name = name;
        return 0;
}

int resources_request(Resources *r, const CbCaller *caller, const json_t *body, const char *idempotency_key,
                      json_t **ret, CbError *err) {
        static const char ins_res[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, provider, state, idempotency_key, "
                "request_hash, created_at, created_by, updated_at, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'provisioning', ?, ?, ?, ?, ?, ?)";
        static const char ins_op[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?, ?, 'provision', 'pending', ?, ?)";
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        _cleanup_(freep) char *canon = NULL;
        char id[64], op_id[64], hash[DIGEST_HEX_MAX], now[32], object[96];
        const char *name = NULL, *kind;
        const json_t *spec;
        _cleanup_(reservation_drop) Reservation held = { 0 };
        EvalRequest req;
        Provider *p;
        sqlite3_stmt *st;
        int q;

        q = caller_require_role(caller, CB_ROLE_DEPARTMENT, "request resources", err);
        if (q < 0)
                return q;
        q = resource_request_from_json(body, &req, &name, err);
        if (q < 0)
                return q;

        /* Same key, same body: the same resource; same key, other body: a conflict. */
        canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        if (!canon || digest_sha256_hex(canon, strlen(canon), hash) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (idempotency_key) {
                char old_id[64], old_hash[72];
                if (strlen(idempotency_key) == 0 || strlen(idempotency_key) > 200)
                        return cb_error_set_field(err, CB_ERR_INVALID, "Idempotency-Key",
                                                  "Idempotency-Key must be 1 to 200 bytes");
                q = find_idempotent(r, caller->principal->name, idempotency_key, old_id, old_hash);
                if (q < 0)
                        return store_error(r->store, err, "reading resources");
                if (q > 0) {
                        json_t *res = NULL;
                        if (!streq(old_hash, hash))
                                return cb_error_set(err, CB_ERR_CONFLICT,
                                                    "Idempotency-Key '%s' was used for a different request",
                                                    idempotency_key);
                        if (resources_record(r, old_id, &res) < 0 || operation_first(r, old_id, op_id) < 0) {
                                json_decref(res);
                                return store_error(r->store, err, "reading resources");
                        }
                        *ret = op_reply(old_id, jstr(res, "state"), op_id);
                        json_decref(res);
                        return 0;
                }
        }

        q = projects_evaluate(r->projects, caller, &req, 0, &ev, err);
        if (q < 0)
                return q;
        snprintf(object, sizeof(object), "project:%s", req.project_id);
        if (!ev.decision.allowed) {
                json_t *codes = json_array();
                for (size_t i = 0; i < ev.decision.n_violations; i++)
                        json_array_append_new(codes,
                                              json_string(policy_code_name(ev.decision.violations[i].code)));
                audit_refusal(r->store, caller, "resource.request", object, "denied", codes);
                json_decref(codes);
                return cb_error_set_violations(err, policy_violations_to_json(&ev.decision),
                                               "the request breaks %zu rule(s) of the regulation",
                                               ev.decision.n_violations);
        }
        if (!streq_ptr(jstr(ev.service, "driver"), "libvirt"))
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "service '%s' is provided through driver '%s', which this broker cannot "
                                    "provision yet",
                                    req.service_id, jstr(ev.service, "driver"));
        spec = json_object_get(ev.plan, "spec");
        kind = jstr(spec, "kind");
        if (resource_kind_from_string(kind) < 0)
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "plan '%s' is a %s, which this broker cannot provision", req.plan_id,
                                    kind ? kind : "(no kind)");
        p = placement_choose(r, spec, &held, err);
        if (!p)
                return -EAGAIN;

        if (random_id("r-", id, sizeof(id)) < 0 || random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        store_now(now);
        if (store_begin(r->store) < 0)
                return store_error(r->store, err, "starting a transaction");
        if (store_prepare(r->store, ins_res, &st) < 0)
                goto fail;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, req.project_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, req.system_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, ev.department, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, req.service_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, req.plan_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 8, (int)ev.catalog_revision);
        sqlite3_bind_text(st, 9, ev.approval_no, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, ev.cost_kind == POLICY_COST_OM ? "om" : "construction", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, ev.projected_cost_fen);
        sqlite3_bind_text(st, 12, p->name, -1, SQLITE_STATIC);
        if (idempotency_key)
                sqlite3_bind_text(st, 13, idempotency_key, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 13);
        sqlite3_bind_text(st, 14, hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 15, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 16, caller->principal->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 18, kind, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        sqlite3_reset(st);
        if (q != SQLITE_DONE)
                goto fail;
        if (resources_exec(r, ins_op, (const char *const[]){ op_id, id, now, now }, 4) < 0)
                goto fail;
        {
                json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:I}", "resource", id, "service",
                                           req.service_id, "plan", req.plan_id, "provider", p->name,
                                           "committed_fen", (json_int_t)ev.projected_cost_fen);
                q = audit_append(r->store, caller,
                                 &(AuditEntry){ "resource.request", object, "ok", NULL, detail }, err);
                json_decref(detail);
                if (q < 0) {
                        store_rollback(r->store);
                        return q;
                }
        }
        /* Durable before the provider hears of it: a crash from here on is recovered. */
        if (store_commit(r->store) < 0)
                return store_error(r->store, err, "committing the request");

        operation_submit_when_durable(r, op_id, OPERATION_PROVISION, id, &held);
        resources_notify(r, id, true);
        *ret = op_reply(id, "provisioning", op_id);
        return 0;
fail:
        q = store_error(r->store, err, "recording the request");
        store_rollback(r->store);
        return q;
}

/* The resource as the caller sees it. Who may do `what` to resources at
 * all (roles) is checked before anything is read, so that refusal is the
 * same whatever the id names; then a resource the caller may not read is
 * answered exactly as an unknown id, so that neither a read nor an action
 * tells another department which ids are in use. A reader that may not
 * act learns nothing new from its 403. */
static int load_visible(Resources *r, const CbCaller *caller, const char *id, unsigned roles, json_t **ret,
                        CbError *err, const char *what) {
        json_t *res = NULL;
        int q;

        q = caller_require_role(caller, roles, what, err);
        if (q < 0)
                return q;
        if (!id_is_valid(id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", id);
        q = resources_record(r, id, &res);
        if (q == -ENOENT)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", id);
        if (q < 0)
                return store_error(r->store, err, "reading the resource");
        if (!caller_may_see(caller, jstr(res, "department"), RESOURCE_READERS)) {
                json_decref(res);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", id);
        }
        q = caller_require_department(caller, jstr(res, "department"), roles & ~CB_ROLE_DEPARTMENT, what,
                                      err);
        if (q < 0) {
                json_decref(res);
                return q;
        }
        *ret = res;
        return 0;
}

int resources_get(Resources *r, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        return load_visible(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, ret, err, "read resources");
}

/* A deleted resource stays in the record and the audit trail (GET
 * /v1/resources/{id} answers it), but it is no object any more. */
int resources_object_exists(Resources *r, const CbCaller *caller, const char *id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        json_t *res = NULL;
        int q;

        if (caller) {
                q = resources_get(r, caller, id, &res, &err);
                if (q < 0) /* unknown, hidden or refused: no object; a store error is one */
                        return err.kind == CB_ERR_INTERNAL ? -EIO : 0;
        } else {
                q = resources_record(r, id, &res);
                if (q < 0)
                        return q == -ENOENT ? 0 : -EIO;
        }
        q = resource_state_from_string(jstr(res, "state")) != RESOURCE_DELETED;
        json_decref(res);
        return q;
}

int resources_list(Resources *r, const CbCaller *caller, const char *project_id, const Page *page,
                   json_t **ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        /* Keyset on (created_at, id), one statement per filter so that each
         * walks its index (migration 11) instead of sorting the table. */
#define LIST_SQL(where)                                                                          \
        "SELECT " RESOURCE_COLUMNS " FROM resources WHERE " where "(created_at, id) > (?1, ?2) " \
        "ORDER BY created_at, id LIMIT ?3"
        static const char all_sql[] = LIST_SQL("");
        static const char proj_sql[] = LIST_SQL("project_id = ?4 AND ");
        static const char dept_sql[] = LIST_SQL("department = ?4 AND ");
        static const char both_sql[] = LIST_SQL("project_id = ?4 AND department = ?5 AND ");
#undef LIST_SQL
        const char *dept = NULL;
        sqlite3_stmt *st;
        json_t *a;
        int q;

        if (!caller_has_role(caller, RESOURCE_READERS)) {
                q = caller_require_role(caller, CB_ROLE_DEPARTMENT, "list resources", err);
                if (q < 0)
                        return q;
                dept = caller->principal->department;
        }
        if (project_id && !id_is_valid(project_id))
                return cb_error_set_field(err, CB_ERR_INVALID, "project_id", "project_id: not a valid id");
        const char *sql = project_id && dept ? both_sql : project_id ? proj_sql : dept ? dept_sql : all_sql;
        if (store_prepare(r->store, sql, &st) < 0)
                return store_error(r->store, err, "listing resources");
        /* The first page starts after ("", ""), before every record. */
        sqlite3_bind_text(st, 1, page->has_after ? page->after[0] : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, page->has_after ? page->after[1] : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)page->limit + 1);
        if (project_id || dept)
                sqlite3_bind_text(st, 4, project_id ? project_id : dept, -1, SQLITE_STATIC);
        if (project_id && dept)
                sqlite3_bind_text(st, 5, dept, -1, SQLITE_STATIC);
        a = json_array();
        char next[PAGE_TOKEN_MAX] = "";
        while (a && (q = sqlite3_step(st)) == SQLITE_ROW) {
                if (json_array_size(a) == page->limit) {
                        const json_t *last = json_array_get(a, page->limit - 1);
                        page_token_make(jstr(last, "created_at"), jstr(last, "id"), next);
                        break;
                }
                json_array_append_new(a, resource_row_json(st));
        }
        sqlite3_reset(st);
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = a;
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

typedef struct ActionRule {
        const char *action;
        OperationKind kind;
        unsigned from;    /* states it may start from: a set of 1 << ResourceState */
        int intermediate; /* ResourceState while it runs, -1: unchanged */
} ActionRule;

#define STATE_BIT(s) (1U << (s))
static const ActionRule action_rules[] = {
        { "start", OPERATION_START, STATE_BIT(RESOURCE_STOPPED), -1 },
        { "stop", OPERATION_STOP, STATE_BIT(RESOURCE_ACTIVE), -1 },
        { "reboot", OPERATION_REBOOT, STATE_BIT(RESOURCE_ACTIVE), -1 },
        { "delete", OPERATION_DEPROVISION,
          STATE_BIT(RESOURCE_ACTIVE) | STATE_BIT(RESOURCE_STOPPED) | STATE_BIT(RESOURCE_FAILED),
          RESOURCE_DEPROVISIONING },
};

int resources_act(Resources *r, const CbCaller *caller, const char *id, const char *action, json_t **ret,
                  CbError *err) {
        static const char ins_op[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)";
        const ActionRule *rule = NULL;
        json_t *res = NULL;
        char op_id[64], pend_id[64], pend_kind[32], now[32], object[96], audit_action[64];
        const char *state;
        int q;

        for (size_t i = 0; i < ELEMENTSOF(action_rules); i++)
                if (streq(action_rules[i].action, action))
                        rule = &action_rules[i];
        if (!rule)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "action",
                                          "action: '%s' is not one of start, stop, reboot", action);
        q = load_visible(r, caller, id, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, &res, err, "act on resources");
        if (q < 0)
                return q;
        state = jstr(res, "state");
        if (resource_kind_from_string(jstr(res, "kind")) == RESOURCE_KIND_VOLUME &&
            rule->kind != OPERATION_DEPROVISION) {
                q = cb_error_set_field(err, CB_ERR_CONFLICT, "action",
                                       "resource '%s' is a block volume: it has no power state to %s; "
                                       "only delete applies",
                                       id, action);
                json_decref(res);
                return q;
        }
        q = operation_pending(r, id, pend_id, pend_kind);
        if (q != 0) {
                json_decref(res);
                return q < 0 ? store_error(r->store, err, "reading operations")
                             : cb_error_set(err, CB_ERR_CONFLICT,
                                            "resource '%s' has operation %s (%s) under way", id, pend_id,
                                            pend_kind);
        }
        int cur = resource_state_from_string(state);
        if (cur < 0 || !(rule->from & STATE_BIT(cur))) {
                q = cb_error_set(err, CB_ERR_CONFLICT, "cannot %s resource '%s': it is %s", action, id,
                                 state);
                json_decref(res);
                return q;
        }

        if (random_id("op-", op_id, sizeof(op_id)) < 0) {
                json_decref(res);
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        }
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", id);
        snprintf(audit_action, sizeof(audit_action), "resource.%s", action);
        if (store_begin(r->store) < 0) {
                json_decref(res);
                return store_error(r->store, err, "starting a transaction");
        }
        const char *during = rule->intermediate >= 0 ? resource_state_to_string(rule->intermediate) : NULL;
        if (resources_exec(r, ins_op,
                           (const char *const[]){ op_id, id, operation_kind_to_string(rule->kind), now, now },
                           5) < 0 ||
            (during && resources_exec(r, "UPDATE resources SET state = ?, updated_at = ? WHERE id = ?",
                                      (const char *const[]){ during, now, id }, 3) < 0)) {
                q = store_error(r->store, err, "recording the operation");
                store_rollback(r->store);
                json_decref(res);
                return q;
        }
        q = audit_append(r->store, caller, &(AuditEntry){ audit_action, object, "ok", NULL, NULL }, err);
        if (q < 0 || store_commit(r->store) < 0) {
                store_rollback(r->store);
                json_decref(res);
                return q < 0 ? q : store_error(r->store, err, "committing");
        }
        *ret = op_reply(id, during ? during : state, op_id);
        json_decref(res);
        operation_submit_when_durable(r, op_id, rule->kind, id, &(Reservation){ 0 });
        resources_notify(r, id, false);
        return 0;
}

int resources_retire_project(Resources *r, const char *project_id, const CbCaller *caller, CbError *err) {
        static const char sel[] = "SELECT id FROM resources WHERE project_id = ? "
                                  "AND state IN ('active','stopped','failed')";
        static const char ins_op[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?, ?, 'deprovision', 'pending', ?, ?)";
        sqlite3_stmt *st;
        char(*ids)[64] = NULL;
        size_t n = 0;
        char now[32];
        int q = 0;

        if (store_prepare(r->store, sel, &st) < 0)
                return store_error(r->store, err, "reading resources");
        sqlite3_bind_text(st, 1, project_id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                void *nv = realloc(ids, (n + 1) * sizeof(*ids));
                if (!nv)
                        break;
                ids = nv;
                snprintf(ids[n++], 64, "%s", sqlite3_column_text(st, 0));
        }
        sqlite3_reset(st);

        store_now(now);
        for (size_t i = 0; i < n && q >= 0; i++) {
                char op_id[64], pend_id[64], pend_kind[32], object[96];
                if (operation_pending(r, ids[i], pend_id, pend_kind) != 0)
                        continue; /* what is under way finishes first; the next reconcile is not needed */
                if (random_id("op-", op_id, sizeof(op_id)) < 0) {
                        q = cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
                        break;
                }
                snprintf(object, sizeof(object), "resource:%s", ids[i]);
                if (resources_exec(r, ins_op, (const char *const[]){ op_id, ids[i], now, now }, 4) < 0 ||
                    resources_exec(
                            r, "UPDATE resources SET state = 'deprovisioning', updated_at = ? WHERE id = ?",
                            (const char *const[]){ now, ids[i] }, 2) < 0) {
                        q = store_error(r->store, err, "scheduling retirement");
                        break;
                }
                q = audit_append(r->store, caller,
                                 &(AuditEntry){ "resource.retire", object, "ok", NULL, NULL }, err);
                if (q >= 0)
                        operation_submit_when_durable(r, op_id, OPERATION_DEPROVISION, ids[i],
                                                      &(Reservation){ 0 });
        }
        free(ids);
        return q < 0 ? q : 0;
}

int resources_object_ids(Resources *r, const CbCaller *caller, char ***ret, CbError *err) {
        json_t *list = json_array(), *res;
        Page page = { .limit = PAGE_LIMIT_MAX };
        char **v;
        size_t n = 0, i;
        int q;

        if (!list)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        /* What resources_list() answers the caller, every page (an object
         * tree has none; bounded by what a store can hold), less the
         * deleted: the same rule as resources_object_exists(). */
        for (unsigned pages = 0; pages < 100000; pages++) {
                json_t *chunk = NULL;
                char next[PAGE_TOKEN_MAX];

                q = resources_list(r, caller, NULL, &page, &chunk, next, err);
                if (q >= 0) {
                        json_array_extend(list, chunk);
                        json_decref(chunk);
                }
                if (q >= 0 && next[0])
                        q = page_parse(NULL, next, &page, err);
                if (q < 0) {
                        json_decref(list);
                        return q;
                }
                if (!next[0])
                        break;
                page.limit = PAGE_LIMIT_MAX;
        }
        v = calloc(json_array_size(list) + 1, sizeof(char *));
        if (!v) {
                json_decref(list);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        json_array_foreach(list, i, res) {
                if (resource_state_from_string(jstr(res, "state")) == RESOURCE_DELETED)
                        continue;
                v[n] = strdup(jstr(res, "id"));
                if (!v[n]) {
                        for (size_t k = 0; k < n; k++)
                                free(v[k]);
                        free(v);
                        json_decref(list);
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                n++;
        }
        json_decref(list);
        *ret = v;
        return 0;
}
