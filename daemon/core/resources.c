/* SPDX-License-Identifier: Apache-2.0 */
#include "resources.h"

#include <stdio.h>
#include <sys/random.h>

#include "attachments.h"
#include "audit.h"
#include "catalog-validate.h"
#include "digest.h"
#include "first-boot.h"
#include "json-util.h"
#include "log.h"
#include "operations-http.h"
#include "operations.h"
#include "osb-params.h"
#include "placement.h"
#include "reconcile.h"
#include "resources-internal.h"
#include "states.h"

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
                          .stop_timeout_ms = STOP_TIMEOUT_MS,
                          .max_in_flight = RESOURCES_MAX_IN_FLIGHT_DEFAULT };
        *ret = r;
        return 0;
}

Resources *resources_free(Resources *r) {
        if (!r)
                return NULL;
        operations_state_free(r);
        resources_wait_cancel_all();
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
        if (!created)
                resources_settle_check(r, id);
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

void resource_done(Resource *res) {
        if (!res)
                return;
        free(res->mem_);
        *res = (Resource){ 0 };
}

/* The current row of a SELECT RESOURCE_COLUMNS; -EIO for a state or kind
 * this build does not know (the schema's CHECKs make that a bug). */
static int resource_from_row(StoreRows *rows, Resource *ret) {
        Resource res = { 0 };
        int state = resource_state_from_string(store_rows_text(rows, 13));
        int kind = resource_kind_from_string(store_rows_text(rows, 17));
        int q;

        if (state < 0 || kind < 0)
                return -EIO;
        q = store_rows_texts(rows,
                             (const StoreText[]){ { 0, &res.id },
                                                  { 1, &res.name },
                                                  { 2, &res.project_id },
                                                  { 3, &res.system_id },
                                                  { 4, &res.department },
                                                  { 5, &res.service_id },
                                                  { 6, &res.plan_id },
                                                  { 8, &res.approval_no },
                                                  { 9, &res.cost_kind },
                                                  { 11, &res.provider },
                                                  { 12, &res.provider_ref },
                                                  { 14, &res.created_at },
                                                  { 15, &res.created_by },
                                                  { 16, &res.updated_at } },
                             14, &res.mem_);
        if (q < 0)
                return q;
        res.catalog_revision = (unsigned)store_rows_int(rows, 7);
        res.committed_fen = store_rows_int(rows, 10);
        res.state = (ResourceState)state;
        res.kind = (ResourceKind)kind;
        *ret = res;
        return 0;
}

/* The one record a query of RESOURCE_COLUMNS finds: -ENOENT for none, -EIO. */
static int record_where(Resources *r, const char *sql, const StoreArg *args, Resource *ret) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q;

        q = store_query(r->store, sql, args, &rows, "reading the resource", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        if (q < 0)
                return -EIO;
        if (q == 0)
                return -ENOENT;
        return resource_from_row(rows, ret);
}

int resources_record(Resources *r, const char *id, Resource *ret) {
        return record_where(r, "SELECT " RESOURCE_COLUMNS " FROM resources WHERE id = ?1",
                            STORE_ARGS(SA_TEXT(id)), ret);
}

void resource_list_done(ResourceList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                resource_done(&l->items[i]);
        free(l->items);
        *l = (ResourceList){ 0 };
}

/* ---- requests ---- */

static void ticket(ResourceTicket *ret, const char *id, ResourceState state, const char *op_id) {
        *ret = (ResourceTicket){ .state = state };
        snprintf(ret->id, sizeof(ret->id), "%s", id);
        snprintf(ret->operation_id, sizeof(ret->operation_id), "%s", op_id);
}

/* 1 with the id and request hash of the caller's resource made under key,
 * 0 when the key is new. */
static int find_idempotent(Resources *r, const char *who, const char *key, char ret_id[64], char ret_hash[72],
                           CbError *err) {
        static const char sql[] =
                "SELECT id, request_hash FROM resources WHERE created_by = ?1 AND idempotency_key = ?2";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q;

        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(who), SA_TEXT(key)), &rows, "reading resources",
                        err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q <= 0)
                return q;
        snprintf(ret_id, 64, "%s", store_rows_text(rows, 0));
        snprintf(ret_hash, 72, "%s", store_rows_text(rows, 1));
        return 1;
}

int resource_request_from_json(const json_t *body, EvalRequest *ret, const char **ret_name, CbError *err) {
        static const char *const extra[] = { "name", "ssh_authorized_keys", "user_data", "parameters", NULL };
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
        r = first_boot_check(body, err);
        if (r >= 0 && json_object_get(body, "parameters"))
                r = osb_params_check(json_object_get(body, "parameters"), NULL, err);
        if (r < 0)
                return r;
        *ret = req;
        *ret_name = name;
        return 0;
}

/* What a request writes: the resource and its provision, in the
 * transaction audit_change() opens for them and their record. */
typedef struct RequestChange {
        const char *id, *op_id, *name, *kind, *provider, *idempotency_key, *hash, *now, *who;
        const char *sealed_parameters; /* an http order's, sealed (operations-http.h); NULL */
        const EvalRequest *req;
        const Evaluation *ev;
        const json_t *body; /* its first-boot members (first-boot.h) */
} RequestChange;

static int request_change(Store *s, void *userdata, CbError *err) {
        static const char ins_res[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, provider, state, idempotency_key, "
                "request_hash, created_at, created_by, updated_at, kind) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?16, "
                "?18)";
        const RequestChange *c = userdata;
        int q;

        q = store_run(s, ins_res,
                      STORE_ARGS(SA_TEXT(c->id), SA_TEXT(c->name), SA_TEXT(c->req->project_id),
                                 SA_TEXT(c->req->system_id), SA_TEXT(c->ev->department),
                                 SA_TEXT(c->req->service_id), SA_TEXT(c->req->plan_id),
                                 SA_INT(c->ev->catalog_revision), SA_TEXT(c->ev->approval_no),
                                 SA_TEXT(c->ev->cost_kind == POLICY_COST_OM ? "om" : "construction"),
                                 SA_INT(c->ev->projected_cost_fen), SA_TEXT(c->provider),
                                 SA_TEXT(resource_state_to_string(RESOURCE_PROVISIONING)),
                                 SA_TEXT(c->idempotency_key), SA_TEXT(c->hash), SA_TEXT(c->now),
                                 SA_TEXT(c->who), SA_TEXT(c->kind)),
                      "recording the request", err);
        if (q >= 0)
                q = first_boot_store(s, c->id, c->body, err);
        if (q >= 0)
                q = operation_record(s, c->op_id, c->id, OPERATION_PROVISION, c->now, err);
        if (q >= 0 && c->sealed_parameters)
                q = store_run(s, "UPDATE operations SET parameters = ?1 WHERE id = ?2",
                              STORE_ARGS(SA_TEXT(c->sealed_parameters), SA_TEXT(c->op_id)),
                              "recording the order's parameters", err);
        return q < 0 ? q : 0;
}

/* The canonical text a request's hash is made of: the body without its
 * parameters, which may hold secrets (a repeat's parameters are compared
 * with the sealed ones instead, same_parameters()). */
static char *request_canon(const json_t *body) {
        json_t *copy;
        char *canon;
        if (!json_object_get(body, "parameters"))
                return json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        copy = json_copy((json_t *)body);
        if (!copy)
                return NULL;
        json_object_del(copy, "parameters");
        canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(copy);
        return canon;
}

/* Whether the repeat's parameters (NULL or {}: none) are those the order op_id was made with. */
static int same_parameters(Resources *r, const char *op_id, const json_t *params, CbError *err) {
        _cleanup_(json_decrefp) json_t *old = NULL;
        int q = http_operation_parameters(r->store, r->secrets, op_id, &old, err);
        if (q < 0)
                return q;
        if (params && json_object_size(params) == 0)
                params = NULL;
        return old && params ? json_equal(old, (json_t *)params) : !old && !params;
}

int resources_request(Resources *r, const CbCaller *caller, const json_t *body, const char *idempotency_key,
                      ResourceTicket *ret, CbError *err) {
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        _cleanup_(freep) char *canon = NULL, *sealed_parameters = NULL;
        const json_t *params;
        char id[64], op_id[64], hash[DIGEST_HEX_MAX], now[32], object[96];
        const char *name = NULL, *kind;
        const json_t *spec;
        _cleanup_(reservation_drop) Reservation held = { 0 };
        EvalRequest req;
        Provider *p;
        int q;

        q = caller_require_role(caller, CB_ROLE_DEPARTMENT, "request resources", err);
        if (q < 0)
                return q;
        q = resource_request_from_json(body, &req, &name, err);
        if (q < 0)
                return q;

        /* Same key, same body: the same resource; same key, other body: a conflict. */
        canon = request_canon(body);
        if (!canon || digest_sha256_hex(canon, strlen(canon), hash) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (idempotency_key) {
                char old_id[64], old_hash[72];
                if (strlen(idempotency_key) == 0 || strlen(idempotency_key) > 200)
                        return cb_error_set_field(err, CB_ERR_INVALID, "Idempotency-Key",
                                                  "Idempotency-Key must be 1 to 200 bytes");
                q = find_idempotent(r, caller->principal->name, idempotency_key, old_id, old_hash, err);
                if (q < 0)
                        return q;
                if (q > 0) {
                        _cleanup_(resource_done) Resource res = { 0 };
                        if (!streq(old_hash, hash))
                                return cb_error_set(err, CB_ERR_CONFLICT,
                                                    "Idempotency-Key '%s' was used for a different request",
                                                    idempotency_key);
                        if (resources_record(r, old_id, &res) < 0 || operation_first(r, old_id, op_id) < 0)
                                return cb_error_set(err, CB_ERR_INTERNAL,
                                                    "cannot read resource %s of Idempotency-Key '%s'", old_id,
                                                    idempotency_key);
                        q = same_parameters(r, op_id, json_object_get(body, "parameters"), err);
                        if (q < 0)
                                return q;
                        if (q == 0)
                                return cb_error_set(err, CB_ERR_CONFLICT,
                                                    "Idempotency-Key '%s' was used for a different request",
                                                    idempotency_key);
                        ticket(ret, old_id, res.state, op_id);
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
        spec = json_object_get(ev.plan, "spec");
        if (streq_ptr(jstr(ev.service, "driver"), "http")) {
                /* An OSB instance on the provider the plan names. */
                kind = resource_kind_to_string(RESOURCE_KIND_SERVICE);
                p = placement_choose_http(r, req.plan_id, spec, err);
        } else if (!streq_ptr(jstr(ev.service, "driver"), "libvirt"))
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "service '%s' is provided through driver '%s', which this broker cannot "
                                    "provision",
                                    req.service_id, jstr(ev.service, "driver"));
        else {
                kind = jstr(spec, "kind");
                if (resource_kind_from_string(kind) < 0 ||
                    resource_kind_from_string(kind) == RESOURCE_KIND_SERVICE)
                        return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                            "plan '%s' is a %s, which this broker cannot provision",
                                            req.plan_id, kind ? kind : "(no kind)");
                p = placement_choose(r, spec, &held, err);
        }
        if (!p)
                return -EAGAIN;
        params = json_object_get(body, "parameters");
        if (params && json_object_size(params) == 0)
                params = NULL; /* {} asks nothing: the same as none */
        if (!streq_ptr(jstr(ev.service, "driver"), "http") && params)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: plan '%s' is provisioned by this broker (driver "
                                          "libvirt), which takes none",
                                          req.plan_id);
        if (streq_ptr(jstr(ev.service, "driver"), "http")) {
                /* Checked even when none are given: the schema may require some. */
                _cleanup_(json_decrefp) json_t *none = params ? NULL : json_object();
                q = http_provision_parameters_check(p, spec, params ?: none, err);
                if (q < 0)
                        return q;
        }

        if (random_id("r-", id, sizeof(id)) < 0 || random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        if (params && http_parameters_seal(r->secrets, op_id, params, &sealed_parameters) < 0)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "the broker has no secrets key (secrets.key or the secrets-key credential): "
                        "it cannot keep an order's parameters");
        store_now(now);
        {
                RequestChange change = { .id = id,
                                         .op_id = op_id,
                                         .name = name,
                                         .kind = kind,
                                         .provider = p->name,
                                         .idempotency_key = idempotency_key,
                                         .hash = hash,
                                         .now = now,
                                         .who = caller->principal->name,
                                         .sealed_parameters = sealed_parameters,
                                         .req = &req,
                                         .ev = &ev,
                                         .body = body };
                json_t *names = NULL, *v;
                const char *k;
                if (params) {
                        /* The parameters may hold secrets: the record names them, no more. */
                        names = json_array();
                        json_object_foreach((json_t *)params, k, v)
                                json_array_append_new(names, json_string(k));
                }
                json_t *detail =
                        json_pack("{s:s, s:s, s:s, s:s, s:I, s:o*}", "resource", id, "service",
                                  req.service_id, "plan", req.plan_id, "provider", p->name, "committed_fen",
                                  (json_int_t)ev.projected_cost_fen, "parameter_names", names);
                /* Durable before the provider hears of it: a crash from here on is recovered. */
                q = audit_change(r->store, caller,
                                 &(AuditEntry){ "resource.request", object, "ok", NULL, detail },
                                 request_change, &change, err);
                json_decref(detail);
                if (q < 0)
                        return q;
        }

        operation_submit_when_durable(r, op_id, OPERATION_PROVISION, id, &held);
        resources_notify(r, id, true);
        ticket(ret, id, RESOURCE_PROVISIONING, op_id);
        return 0;
}

/* The resource as the caller sees it. Who may do `what` to resources at
 * all (roles) is checked before anything is read, so that refusal is the
 * same whatever the id names; then a resource the caller may not read is
 * answered exactly as an unknown id, so that neither a read nor an action
 * tells another department which ids are in use. A reader that may not
 * act learns nothing new from its 403. */
/* load_visible's checks past the read: res is one the caller may see, and
 * act on with roles. */
static int check_visible(const CbCaller *caller, const Resource *res, unsigned roles, CbError *err,
                         const char *what) {
        if (!caller_may_see(caller, res->department, RESOURCE_READERS))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", res->id);
        return caller_require_department(caller, res->department, roles & ~CB_ROLE_DEPARTMENT, what, err);
}

static int load_visible(Resources *r, const CbCaller *caller, const char *id, unsigned roles, Resource *ret,
                        CbError *err, const char *what) {
        _cleanup_(resource_done) Resource res = { 0 };
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
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read resource '%s'", id);
        q = check_visible(caller, &res, roles, err, what);
        if (q < 0)
                return q;
        *ret = res;
        res = (Resource){ 0 };
        return 0;
}

int resources_get(Resources *r, const CbCaller *caller, const char *id, Resource *ret, CbError *err) {
        return load_visible(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, ret, err, "read resources");
}

int resources_may_read(const CbCaller *caller, const Resource *res, CbError *err) {
        int q = caller_require_role(caller, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read resources", err);
        if (q < 0)
                return q;
        return check_visible(caller, res, RESOURCE_READERS | CB_ROLE_DEPARTMENT, err, "read resources");
}

int resources_record_by_key(Resources *r, const CbCaller *caller, const char *key, Resource *ret) {
        if (!caller || !caller->principal || !caller->principal->name || !key)
                return -ENOENT;
        return record_where(r,
                            "SELECT " RESOURCE_COLUMNS
                            " FROM resources WHERE created_by = ?1 AND idempotency_key = ?2",
                            STORE_ARGS(SA_TEXT(caller->principal->name), SA_TEXT(key)), ret);
}

/* A deleted resource stays in the record and the audit trail (GET
 * /v1/resources/{id} answers it), but it is no object any more. */
int resources_object_exists(Resources *r, const CbCaller *caller, const char *id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(resource_done) Resource res = { 0 };
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
        return res.state != RESOURCE_DELETED;
}

int resources_list(Resources *r, const CbCaller *caller, const char *project_id, const Page *page,
                   ResourceList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
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
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        const char *dept = NULL;
        _cleanup_(resource_list_done) ResourceList list = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
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
        /* The first page starts after ("", ""), before every record. */
        StoreArg args[6] = { SA_TEXT(page->has_after ? page->after[0] : ""),
                             SA_TEXT(page->has_after ? page->after[1] : ""),
                             SA_INT((int64_t)page->limit + 1) };
        size_t n_args = 3;
        if (project_id || dept)
                args[n_args++] = SA_TEXT(project_id ? project_id : dept);
        if (project_id && dept)
                args[n_args++] = SA_TEXT(dept);
        args[n_args] = SA_END;
        q = store_query(r->store, sql, args, &rows, "listing resources", err);
        if (q < 0)
                return q;
        /* One more than the page: whether there is a next one. */
        list.items = calloc(page->limit + 1, sizeof(*list.items));
        if (!list.items)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        while ((q = store_rows_next(rows, err)) > 0) {
                if (list.n == page->limit) {
                        const Resource *last = &list.items[list.n - 1];
                        page_token_make(last->created_at, last->id, next);
                        break;
                }
                q = resource_from_row(rows, &list.items[list.n]);
                if (q < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot read a resource of the list");
                list.n++;
        }
        if (q < 0)
                return q;
        *ret = list;
        list = (ResourceList){ 0 };
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

/* The operation an action queues, and the state the resource takes while
 * it runs (NULL: unchanged). */
typedef struct ActChange {
        const char *op_id, *resource_id, *during, *now;
        OperationKind kind;
        bool delete_volumes;
} ActChange;

static int act_change(Store *s, void *userdata, CbError *err) {
        const ActChange *c = userdata;
        int q = operation_record(s, c->op_id, c->resource_id, c->kind, c->now, err);
        if (q >= 0 && c->delete_volumes)
                q = store_run(s, "UPDATE operations SET delete_volumes = 1 WHERE id = ?1",
                              STORE_ARGS(SA_TEXT(c->op_id)), "recording the operation", err);
        if (q >= 0 && c->during)
                q = store_run(s, "UPDATE resources SET state = ?1, updated_at = ?2 WHERE id = ?3",
                              STORE_ARGS(SA_TEXT(c->during), SA_TEXT(c->now), SA_TEXT(c->resource_id)),
                              "recording the operation", err);
        return q < 0 ? q : 0;
}

/* known: the record of id the caller has just read (resources_act_known), or NULL. */
static int act(Resources *r, const CbCaller *caller, const char *id, const Resource *known,
               const char *action, bool delete_volumes, ResourceTicket *ret, CbError *err) {
        const ActionRule *rule = NULL;
        _cleanup_(resource_done) Resource own = { 0 };
        const Resource *res = &own;
        char op_id[64], pend_id[64], pend_kind[32], now[32], object[96], audit_action[64];
        const char *during;
        int q;

        for (size_t i = 0; i < ELEMENTSOF(action_rules); i++)
                if (streq(action_rules[i].action, action))
                        rule = &action_rules[i];
        if (!rule)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "action",
                                          "action: '%s' is not one of start, stop, reboot", action);
        if (known) {
                q = caller_require_role(caller, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, "act on resources",
                                        err);
                if (q >= 0)
                        q = check_visible(caller, known, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, err,
                                          "act on resources");
                res = known;
        } else
                q = load_visible(r, caller, id, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, &own, err,
                                 "act on resources");
        if (q < 0)
                return q;
        if (res->kind == RESOURCE_KIND_SERVICE && rule->kind != OPERATION_DEPROVISION)
                return cb_error_set_field(
                        err, CB_ERR_CONFLICT, "action",
                        "resource '%s' is a service instance at an http provider: it has no "
                        "power state to %s; only delete applies",
                        id, action);
        if (res->kind == RESOURCE_KIND_VOLUME && rule->kind != OPERATION_DEPROVISION)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "action",
                                          "resource '%s' is a block volume: it has no power state to %s; "
                                          "only delete applies",
                                          id, action);
        q = operation_pending(r, id, pend_id, pend_kind);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the operations of resource '%s'", id);
        if (q > 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource '%s' has operation %s (%s) under way", id,
                                    pend_id, pend_kind);
        if (res->kind == RESOURCE_KIND_VOLUME) {
                char vm[64];
                q = attachment_of_volume(r, id, vm, NULL);
                if (q < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the attachments of '%s'", id);
                if (q > 0)
                        return cb_error_set(err, CB_ERR_CONFLICT,
                                            "volume '%s' is attached to VM '%s': detach it first", id, vm);
        }
        if (delete_volumes && res->kind != RESOURCE_KIND_VM)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "delete_volumes",
                                          "delete_volumes: resource '%s' is not a VM", id);
        if (!(rule->from & STATE_BIT(res->state)))
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s resource '%s': it is %s", action, id,
                                    resource_state_to_string(res->state));

        if (random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", id);
        snprintf(audit_action, sizeof(audit_action), "resource.%s", action);
        during = rule->intermediate >= 0 ? resource_state_to_string(rule->intermediate) : NULL;
        q = audit_change(r->store, caller, &(AuditEntry){ audit_action, object, "ok", NULL, NULL },
                         act_change,
                         &(ActChange){ .op_id = op_id,
                                       .resource_id = id,
                                       .during = during,
                                       .now = now,
                                       .kind = rule->kind,
                                       .delete_volumes = delete_volumes },
                         err);
        if (q < 0)
                return q;
        ticket(ret, id, rule->intermediate >= 0 ? (ResourceState)rule->intermediate : res->state, op_id);
        operation_submit_when_durable(r, op_id, rule->kind, id, &(Reservation){ 0 });
        resources_notify(r, id, false);
        return 0;
}

int resources_act(Resources *r, const CbCaller *caller, const char *id, const char *action,
                  ResourceTicket *ret, CbError *err) {
        return act(r, caller, id, NULL, action, false, ret, err);
}

int resources_act_known(Resources *r, const CbCaller *caller, const Resource *res, const char *action,
                        ResourceTicket *ret, CbError *err) {
        return act(r, caller, res->id, res, action, false, ret, err);
}

int resources_delete(Resources *r, const CbCaller *caller, const char *id, bool delete_volumes,
                     ResourceTicket *ret, CbError *err) {
        return act(r, caller, id, NULL, "delete", delete_volumes, ret, err);
}

int resources_retire_project(Resources *r, const char *project_id, const CbCaller *caller, CbError *err) {
        static const char sel[] = "SELECT id FROM resources WHERE project_id = ?1 "
                                  "AND state IN (?2, ?3, ?4)";
        StoreRows *rows = NULL;
        char(*ids)[64] = NULL;
        size_t n = 0;
        char now[32];
        int q;

        q = store_query(r->store, sel,
                        STORE_ARGS(SA_TEXT(project_id), SA_TEXT(resource_state_to_string(RESOURCE_ACTIVE)),
                                   SA_TEXT(resource_state_to_string(RESOURCE_STOPPED)),
                                   SA_TEXT(resource_state_to_string(RESOURCE_FAILED))),
                        &rows, "reading resources", err);
        if (q < 0)
                return q;
        /* Read whole before anything is written. */
        while ((q = store_rows_next(rows, err)) > 0) {
                void *nv = realloc(ids, (n + 1) * sizeof(*ids));
                if (!nv) {
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                ids = nv;
                snprintf(ids[n++], 64, "%s", store_rows_text(rows, 0));
        }
        store_rows_done(rows);
        if (q < 0) {
                free(ids);
                return q;
        }

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
                /* In the caller's transaction (the project's termination): its
                 * records and these commit together. */
                q = operation_record(r->store, op_id, ids[i], OPERATION_DEPROVISION, now, err);
                if (q >= 0)
                        q = store_run(r->store,
                                      "UPDATE resources SET state = ?1, updated_at = ?2 WHERE id = ?3",
                                      STORE_ARGS(SA_TEXT(resource_state_to_string(RESOURCE_DEPROVISIONING)),
                                                 SA_TEXT(now), SA_TEXT(ids[i])),
                                      "scheduling retirement", err);
                if (q >= 0)
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
        /* What resources_list() answers the caller, in its order, less the
         * deleted (the rule of resources_object_exists()). Only the ids are
         * read: deleted records stay in the table for ever, and building every
         * record's JSON to keep a few ids made each call's memory grow with
         * the table's history (bench/soak.sh: the heap's high-water rose
         * about 2 KB per provision/delete cycle). */
        static const char all_sql[] =
                "SELECT id FROM resources WHERE state <> 'deleted' ORDER BY created_at, id";
        static const char dept_sql[] =
                "SELECT id FROM resources WHERE department = ?1 AND state <> 'deleted' "
                "ORDER BY created_at, id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        const char *dept = NULL;
        char **v = NULL;
        size_t n = 0, cap = 0;
        int q;

        if (!caller_has_role(caller, RESOURCE_READERS)) {
                q = caller_require_role(caller, CB_ROLE_DEPARTMENT, "list resources", err);
                if (q < 0)
                        return q;
                dept = caller->principal->department;
        }
        q = dept ? store_query(r->store, dept_sql, STORE_ARGS(SA_TEXT(dept)), &rows, "listing resources", err)
                 : store_query(r->store, all_sql, NULL, &rows, "listing resources", err);
        if (q < 0)
                return q;
        while ((q = store_rows_next(rows, err)) > 0) {
                if (n + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char **nv = realloc(v, ncap * sizeof(char *));
                        if (!nv) {
                                q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                                break;
                        }
                        v = nv;
                        cap = ncap;
                }
                v[n] = store_rows_dup(rows, 0);
                if (!v[n]) {
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                n++;
        }
        if (q >= 0 && !v) {
                v = calloc(1, sizeof(char *));
                if (!v)
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        if (q < 0) {
                for (size_t k = 0; k < n; k++)
                        free(v[k]);
                free(v);
                return q;
        }
        v[n] = NULL;
        *ret = v;
        return 0;
}

/* For the modules behind resources.h (resources-internal.h). */
int resources_load_visible(Resources *r, const CbCaller *caller, const char *id, unsigned roles,
                           Resource *ret, CbError *err, const char *what) {
        return load_visible(r, caller, id, roles, ret, err, what);
}

int resources_random_id(const char *prefix, char *buf, size_t n) {
        return random_id(prefix, buf, n);
}
