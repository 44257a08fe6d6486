/* SPDX-License-Identifier: Apache-2.0 */
#include "catalog.h"

#include <dirent.h>
#include <stdio.h>

#include "audit.h"
#include "catalog-validate.h"
#include "digest.h"

/* Who may see drafts and the sign-off state (issue: operators, authority, finance). */
#define CATALOG_INSIDERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE)

struct Catalog {
        Store *store;
        uint64_t generation;

        /* The published catalogue, serialized for GET /v1/catalog. */
        uint64_t cached_generation;
        char *cached_json;
        size_t cached_len;
        char cached_etag[40];

        /* Published services as parsed, valid for one generation. */
        struct {
                char *id;
                uint64_t generation;
                json_t *view;
        } published[32];
        size_t next_published;
};

typedef struct Row {
        char *id;
        unsigned revision;
        char *status;
        char *document;
        char *created_at, *created_by, *updated_at, *published_at;
} Row;

static void row_done(Row *r) {
        free(r->id);
        free(r->status);
        free(r->document);
        free(r->created_at);
        free(r->created_by);
        free(r->updated_at);
        free(r->published_at);
        *r = (Row){ 0 };
}

typedef struct Rows {
        Row *v;
        size_t n;
} Rows;

static void rows_done(Rows *rs) {
        for (size_t i = 0; i < rs->n; i++)
                row_done(&rs->v[i]);
        free(rs->v);
        *rs = (Rows){ 0 };
}

static char *col_dup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? strdup((const char *)t) : NULL;
}

#define ROW_COLUMNS "id, revision, status, document, created_at, created_by, updated_at, published_at"

static int rows_fetch(sqlite3_stmt *st, Rows *ret) {
        Rows rs = { 0 };
        int r;

        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                Row *v = realloc(rs.v, (rs.n + 1) * sizeof(Row));
                if (!v) {
                        rows_done(&rs);
                        return -ENOMEM;
                }
                rs.v = v;
                rs.v[rs.n++] = (Row){
                        .id = col_dup(st, 0),
                        .revision = (unsigned)sqlite3_column_int(st, 1),
                        .status = col_dup(st, 2),
                        .document = col_dup(st, 3),
                        .created_at = col_dup(st, 4),
                        .created_by = col_dup(st, 5),
                        .updated_at = col_dup(st, 6),
                        .published_at = col_dup(st, 7),
                };
        }
        sqlite3_reset(st);
        if (r != SQLITE_DONE) {
                rows_done(&rs);
                return -EIO;
        }
        *ret = rs;
        return 0;
}

/* All revisions of one service, newest first. */
static int revisions_of(Catalog *c, const char *id, Rows *ret) {
        static const char sql[] = "SELECT " ROW_COLUMNS " FROM services WHERE id = ? ORDER BY revision DESC";
        sqlite3_stmt *st;
        if (store_prepare(c->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        return rows_fetch(st, ret);
}

static bool status_is(const Row *r, const char *s) {
        return r && r->status && streq(r->status, s);
}

/* The revision in force: published or deprecated (retired counts, for reading). */
static const Row *in_force(const Rows *rs) {
        for (size_t i = 0; i < rs->n; i++)
                if (status_is(&rs->v[i], "published") || status_is(&rs->v[i], "deprecated") ||
                    status_is(&rs->v[i], "retired"))
                        return &rs->v[i];
        return NULL;
}

static json_t *signoffs_of(Catalog *c, const char *id, unsigned revision) {
        static const char sql[] = "SELECT role, principal, signed_at FROM service_signoffs "
                                  "WHERE service_id = ? AND revision = ? ORDER BY signed_at, role";
        sqlite3_stmt *st;
        json_t *a = json_array();

        if (!a || store_prepare(c->store, sql, &st) < 0)
                return a;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)revision);
        while (sqlite3_step(st) == SQLITE_ROW)
                json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "role", sqlite3_column_text(st, 0),
                                                   "principal", sqlite3_column_text(st, 1), "signed_at",
                                                   sqlite3_column_text(st, 2)));
        sqlite3_reset(st);
        return a;
}

/* The document plus the life-cycle fields. */
static json_t *row_view(Catalog *c, const Row *r, bool with_signoffs) {
        json_t *v = json_loads(r->document, 0, NULL);
        if (!v)
                return NULL;
        json_object_set_new(v, "status", json_string(r->status));
        json_object_set_new(v, "revision", json_integer(r->revision));
        if (with_signoffs) {
                json_object_set_new(v, "signoffs", signoffs_of(c, r->id, r->revision));
                json_object_set_new(v, "created_at", json_string(r->created_at));
                json_object_set_new(v, "created_by", json_string(r->created_by));
                json_object_set_new(v, "updated_at", json_string(r->updated_at));
        }
        if (r->published_at)
                json_object_set_new(v, "published_at", json_string(r->published_at));
        return v;
}

int catalog_new(Store *store, Catalog **ret) {
        Catalog *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->store = store;
        c->generation = 1;
        *ret = c;
        return 0;
}

Catalog *catalog_free(Catalog *c) {
        if (!c)
                return NULL;
        free(c->cached_json);
        for (size_t i = 0; i < ELEMENTSOF(c->published); i++) {
                free(c->published[i].id);
                json_decref(c->published[i].view);
        }
        free(c);
        return NULL;
}

uint64_t catalog_generation(Catalog *c) {
        return c->generation;
}

static void catalog_changed(Catalog *c) {
        c->generation++;
}

int catalog_list_published(Catalog *c, json_t **ret) {
        static const char sql[] = "SELECT " ROW_COLUMNS " FROM services WHERE status = 'published' "
                                  "ORDER BY CASE json_extract(document, '$.category') "
                                  "WHEN 'IaaS' THEN 0 WHEN 'PaaS' THEN 1 ELSE 2 END, id";
        _cleanup_(rows_done) Rows rs = { 0 };
        sqlite3_stmt *st;
        json_t *a;

        if (store_prepare(c->store, sql, &st) < 0 || rows_fetch(st, &rs) < 0)
                return -EIO;
        a = json_array();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < rs.n; i++) {
                json_t *v = row_view(c, &rs.v[i], false);
                if (!v || json_array_append_new(a, v) < 0) {
                        json_decref(a);
                        return -EIO;
                }
        }
        *ret = a;
        return 0;
}

int catalog_published(Catalog *c, const char **ret_json, size_t *ret_len, const char **ret_etag) {
        if (!c->cached_json || c->cached_generation != c->generation) {
                json_t *list = NULL, *doc;
                char hex[DIGEST_HEX_MAX];
                char *s;
                int r = catalog_list_published(c, &list);
                if (r < 0)
                        return r;
                doc = json_pack("{s:o}", "services", list);
                s = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                json_decref(doc);
                if (!s)
                        return -ENOMEM;
                /* The ETag is content-derived, so it survives restarts unchanged. */
                digest_sha256_hex(s, strlen(s), hex);
                free(c->cached_json);
                c->cached_json = s;
                c->cached_len = strlen(s);
                snprintf(c->cached_etag, sizeof(c->cached_etag), "\"%.32s\"", hex);
                c->cached_generation = c->generation;
        }
        *ret_json = c->cached_json;
        *ret_len = c->cached_len;
        if (ret_etag)
                *ret_etag = c->cached_etag;
        return 0;
}

static int not_found(CbError *err, const char *id) {
        return cb_error_set(err, CB_ERR_NOT_FOUND, "no service '%s' in the catalogue", id);
}

int catalog_get(Catalog *c, const CbCaller *caller, const char *id, unsigned revision, json_t **ret,
                CbError *err) {
        _cleanup_(rows_done) Rows rs = { 0 };
        bool insider = caller_has_role(caller, CATALOG_INSIDERS);
        const Row *pick = NULL, *force;
        json_t *v;

        if (!id_is_valid(id))
                return not_found(err, id);
        if (revisions_of(c, id, &rs) < 0)
                return store_error(c->store, err, "reading the catalogue");
        force = in_force(&rs);

        if (revision > 0) {
                for (size_t i = 0; i < rs.n; i++)
                        if (rs.v[i].revision == revision)
                                pick = &rs.v[i];
                if (pick && !insider && (status_is(pick, "draft") || status_is(pick, "submitted")))
                        pick = NULL;
                if (!pick)
                        return cb_error_set(err, CB_ERR_NOT_FOUND, "service '%s' has no revision %u", id,
                                            revision);
        } else if (insider)
                pick = rs.n > 0 ? &rs.v[0] : NULL;
        else
                pick = force;
        if (!pick)
                return not_found(err, id);

        v = row_view(c, pick, insider);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "stored service '%s' is unreadable", id);
        if (insider && force && force != pick)
                json_object_set_new(v, "in_force_revision", json_integer(force->revision));
        if (insider && rs.n > 0 && pick != &rs.v[0] &&
            (status_is(&rs.v[0], "draft") || status_is(&rs.v[0], "submitted")))
                json_object_set_new(v, "pending_revision", json_integer(rs.v[0].revision));
        *ret = v;
        return 0;
}

int catalog_get_revision(Catalog *c, const char *id, unsigned revision, json_t **ret) {
        _cleanup_(rows_done) Rows rs = { 0 };
        if (revisions_of(c, id, &rs) < 0)
                return -EIO;
        for (size_t i = 0; i < rs.n; i++)
                if (rs.v[i].revision == revision && !status_is(&rs.v[i], "draft") &&
                    !status_is(&rs.v[i], "submitted")) {
                        json_t *v = row_view(c, &rs.v[i], false);
                        if (!v)
                                return -EIO;
                        *ret = v;
                        return 0;
                }
        return -ENOENT;
}

bool catalog_exists(Catalog *c, const char *id) {
        _cleanup_(rows_done) Rows rs = { 0 };
        return revisions_of(c, id, &rs) == 0 && rs.n > 0;
}

/* Keeps v (a reference of its own) as id's published view for this generation. */
static void remember_published(Catalog *c, const char *id, json_t *v) {
        size_t k = c->next_published++ % ELEMENTSOF(c->published);
        char *copy = strdup(id);
        if (!copy)
                return;
        free(c->published[k].id);
        json_decref(c->published[k].view);
        c->published[k].id = copy;
        c->published[k].generation = c->generation;
        c->published[k].view = json_incref(v);
}

int catalog_get_published(Catalog *c, const char *id, json_t **ret) {
        _cleanup_(rows_done) Rows rs = { 0 };
        for (size_t i = 0; id && i < ELEMENTSOF(c->published); i++)
                if (c->published[i].view && c->published[i].generation == c->generation &&
                    streq(c->published[i].id, id)) {
                        *ret = json_incref(c->published[i].view);
                        return 0;
                }
        if (revisions_of(c, id, &rs) < 0)
                return -EIO;
        for (size_t i = 0; i < rs.n; i++)
                if (status_is(&rs.v[i], "published")) {
                        json_t *v = row_view(c, &rs.v[i], false);
                        if (!v)
                                return -EIO;
                        remember_published(c, id, v);
                        *ret = v;
                        return 0;
                }
        return -ENOENT;
}

int catalog_list_all(Catalog *c, const CbCaller *caller, json_t **ret, CbError *err) {
        static const char sql[] = "SELECT " ROW_COLUMNS " FROM services s WHERE revision = "
                                  "(SELECT MAX(revision) FROM services t WHERE t.id = s.id) ORDER BY id";
        _cleanup_(rows_done) Rows rs = { 0 };
        sqlite3_stmt *st;
        json_t *a;
        int r;

        r = caller_require_role(caller, CATALOG_INSIDERS, "list catalogue drafts", err);
        if (r < 0)
                return r;
        if (store_prepare(c->store, sql, &st) < 0 || rows_fetch(st, &rs) < 0)
                return store_error(c->store, err, "reading the catalogue");
        a = json_array();
        for (size_t i = 0; a && i < rs.n; i++)
                json_array_append_new(a, row_view(c, &rs.v[i], true));
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = a;
        return 0;
}

static int insert_revision(Catalog *c, const char *id, unsigned revision, const char *status,
                           const json_t *doc, const char *who, CbError *err) {
        static const char sql[] = "INSERT INTO services (id, revision, status, document, created_at, "
                                  "created_by, updated_at, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        _cleanup_(freep) char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        sqlite3_stmt *st;
        char now[32];
        int r;

        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        if (store_prepare(c->store, sql, &st) < 0)
                return store_error(c->store, err, "storing a service");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)revision);
        sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, who, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
        if (streq(status, "published"))
                sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 8);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                return store_error(c->store, err, "storing a service");
        return 0;
}

static int set_status(Catalog *c, const char *id, unsigned revision, const char *status, CbError *err) {
        static const char sql[] = "UPDATE services SET status = ?, updated_at = ?, "
                                  "published_at = CASE WHEN ? = 'published' THEN ? ELSE published_at END "
                                  "WHERE id = ? AND revision = ?";
        sqlite3_stmt *st;
        char now[32];
        int r;

        store_now(now);
        if (store_prepare(c->store, sql, &st) < 0)
                return store_error(c->store, err, "updating a service");
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, (int)revision);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                return store_error(c->store, err, "updating a service");
        return 0;
}

/* Runs a change in one transaction; on success bumps the generation and
 * returns the caller's new view of the service. */
typedef int (*ChangeFn)(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err);

static int run_change(Catalog *c, const CbCaller *caller, const char *action, const char *id,
                      const json_t *doc, ChangeFn fn, json_t **ret, CbError *err) {
        char object[128];
        int r;

        snprintf(object, sizeof(object), "service:%s", id);
        if (store_begin(c->store) < 0)
                return store_error(c->store, err, "starting a transaction");
        r = fn(c, caller, id, doc, err);
        if (r >= 0)
                r = audit_append(c->store, caller,
                                 &(AuditEntry){ .action = action, .object = object, .outcome = "ok" }, err);
        if (r < 0) {
                store_rollback(c->store);
                return r;
        }
        if (store_commit(c->store) < 0)
                return store_error(c->store, err, "committing");
        catalog_changed(c);
        return ret ? catalog_get(c, caller, id, 0, ret, err) : 0;
}

/* The role check of every change; a refusal is on record too. */
static int require(Catalog *c, const CbCaller *caller, unsigned roles, const char *action, const char *what,
                   const char *id, CbError *err) {
        char object[128];
        int r = caller_require_role(caller, roles, what, err);
        if (r < 0 && err && err->kind == CB_ERR_FORBIDDEN) {
                snprintf(object, sizeof(object), "service:%s", id ? id : "");
                audit_refusal(c->store, caller, action, object, "forbidden", NULL);
        }
        return r;
}

static int do_create(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        _cleanup_(rows_done) Rows rs = { 0 };

        if (revisions_of(c, id, &rs) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs.n > 0)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "id",
                                          "service '%s' already exists; change it with PUT", id);
        return insert_revision(c, id, 1, "draft", doc, caller->principal->name, err);
}

int catalog_create(Catalog *c, const CbCaller *caller, const json_t *doc, json_t **ret, CbError *err) {
        json_t *norm = NULL;
        int r;

        r = require(c, caller, CB_ROLE_OPERATOR, "catalog.create", "create catalogue services",
                    json_string_value(json_object_get(doc, "id")), err);
        if (r < 0)
                return r;
        r = catalog_validate_service(doc, &norm, err);
        if (r < 0)
                return r;
        r = run_change(c, caller, "catalog.create", json_string_value(json_object_get(norm, "id")), norm,
                       do_create, ret, err);
        json_decref(norm);
        return r;
}

static int do_update(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        static const char sql[] = "UPDATE services SET document = ?, status = 'draft', updated_at = ? "
                                  "WHERE id = ? AND revision = ?";
        static const char clear[] = "DELETE FROM service_signoffs WHERE service_id = ? AND revision = ?";
        _cleanup_(rows_done) Rows rs = { 0 };
        _cleanup_(freep) char *text = NULL;
        const Row *latest;
        sqlite3_stmt *st;
        char now[32];
        int r;

        if (revisions_of(c, id, &rs) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs.n == 0)
                return not_found(err, id);
        latest = &rs.v[0];

        /* A published revision stays in force: the change becomes the next revision. */
        if (status_is(latest, "published"))
                return insert_revision(c, id, latest->revision + 1, "draft", doc, caller->principal->name,
                                       err);
        if (!status_is(latest, "draft") && !status_is(latest, "submitted"))
                return cb_error_set(err, CB_ERR_CONFLICT, "service '%s' is %s and can no longer change", id,
                                    latest->status);

        /* Editing what was submitted withdraws it: earlier sign-offs were for other content. */
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        if (store_prepare(c->store, clear, &st) < 0)
                return store_error(c->store, err, "updating a service");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)latest->revision);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE || store_prepare(c->store, sql, &st) < 0)
                return store_error(c->store, err, "updating a service");
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int)latest->revision);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                return store_error(c->store, err, "updating a service");
        return 0;
}

int catalog_update(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, json_t **ret,
                   CbError *err) {
        json_t *norm = NULL;
        const char *doc_id;
        int r;

        r = require(c, caller, CB_ROLE_OPERATOR, "catalog.update", "change catalogue services", id, err);
        if (r < 0)
                return r;
        if (!id_is_valid(id))
                return not_found(err, id);
        r = catalog_validate_service(doc, &norm, err);
        if (r < 0)
                return r;
        doc_id = json_string_value(json_object_get(norm, "id"));
        if (!streq(doc_id, id)) {
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "id",
                                       "id: the document says '%s' but the service is '%s'", doc_id, id);
                json_decref(norm);
                return r;
        }
        r = run_change(c, caller, "catalog.update", id, norm, do_update, ret, err);
        json_decref(norm);
        return r;
}

/* The latest revision must be in `from`; returns it in *ret. */
static int latest_in(Catalog *c, const char *id, const char *from, const char *action, Rows *rs,
                     const Row **ret, CbError *err) {
        if (revisions_of(c, id, rs) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs->n == 0)
                return not_found(err, id);
        if (!status_is(&rs->v[0], from))
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s service '%s': revision %u is %s, not %s",
                                    action, id, rs->v[0].revision, rs->v[0].status, from);
        *ret = &rs->v[0];
        return 0;
}

static int do_submit(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        _cleanup_(rows_done) Rows rs = { 0 };
        const Row *row;
        int r;
        (void)caller;
        (void)doc;

        r = latest_in(c, id, "draft", "submit", &rs, &row, err);
        if (r < 0)
                return r;
        return set_status(c, id, row->revision, "submitted", err);
}

int catalog_submit(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        int r = require(c, caller, CB_ROLE_OPERATOR, "catalog.submit", "submit catalogue services", id, err);
        if (r < 0)
                return r;
        return run_change(c, caller, "catalog.submit", id, NULL, do_submit, ret, err);
}

static int do_approve(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        static const char sel[] =
                "SELECT role, principal FROM service_signoffs WHERE service_id = ? AND revision = ?";
        static const char ins[] =
                "INSERT INTO service_signoffs (service_id, revision, role, principal, signed_at) "
                "VALUES (?, ?, ?, ?, ?)";
        static const char supersede[] = "UPDATE services SET status = 'superseded', updated_at = ? "
                                        "WHERE id = ? AND status = 'published'";
        _cleanup_(rows_done) Rows rs = { 0 };
        const char *me = caller->principal->name;
        bool signed_authority = false, signed_finance = false, signed_by_me = false;
        const char *role = NULL;
        const Row *row;
        sqlite3_stmt *st;
        char now[32];
        int r;
        (void)doc;

        r = latest_in(c, id, "submitted", "approve", &rs, &row, err);
        if (r < 0)
                return r;

        if (store_prepare(c->store, sel, &st) < 0)
                return store_error(c->store, err, "reading sign-offs");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)row->revision);
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *rl = (const char *)sqlite3_column_text(st, 0);
                const char *who = (const char *)sqlite3_column_text(st, 1);
                signed_authority |= streq(rl, "authority");
                signed_finance |= streq(rl, "finance");
                signed_by_me |= streq(who, me);
        }
        sqlite3_reset(st);

        /* The same principal twice counts once: two roles need two people. */
        if (signed_by_me)
                return 0;
        if (!signed_authority && caller_has_role(caller, CB_ROLE_AUTHORITY))
                role = "authority";
        else if (!signed_finance && caller_has_role(caller, CB_ROLE_FINANCE))
                role = "finance";
        if (!role)
                return 0; /* their role already signed: nothing to add */

        store_now(now);
        if (store_prepare(c->store, ins, &st) < 0)
                return store_error(c->store, err, "recording a sign-off");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)row->revision);
        sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, me, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                return store_error(c->store, err, "recording a sign-off");

        if (!(signed_authority || streq(role, "authority")) || !(signed_finance || streq(role, "finance")))
                return 0;

        /* Both signed: this revision takes over from the one in force. */
        if (store_prepare(c->store, supersede, &st) < 0)
                return store_error(c->store, err, "publishing");
        sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
                return store_error(c->store, err, "publishing");
        return set_status(c, id, row->revision, "published", err);
}

int catalog_approve(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        int r = require(c, caller, CB_ROLE_AUTHORITY | CB_ROLE_FINANCE, "catalog.approve",
                        "sign off catalogue services", id, err);
        if (r < 0)
                return r;
        return run_change(c, caller, "catalog.approve", id, NULL, do_approve, ret, err);
}

static int transition_in_force(Catalog *c, const char *id, const char *from, const char *to,
                               const char *action, CbError *err) {
        _cleanup_(rows_done) Rows rs = { 0 };
        const Row *force;

        if (revisions_of(c, id, &rs) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs.n == 0)
                return not_found(err, id);
        force = in_force(&rs);
        if (!force || !status_is(force, from))
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s service '%s': it is %s, not %s", action,
                                    id, force ? force->status : rs.v[0].status, from);
        return set_status(c, id, force->revision, to, err);
}

static int do_deprecate(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        (void)caller;
        (void)doc;
        return transition_in_force(c, id, "published", "deprecated", "deprecate", err);
}

static int do_retire(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        (void)caller;
        (void)doc;
        return transition_in_force(c, id, "deprecated", "retired", "retire", err);
}

int catalog_deprecate(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        int r = require(c, caller, CB_ROLE_OPERATOR, "catalog.deprecate", "deprecate catalogue services", id,
                        err);
        if (r < 0)
                return r;
        return run_change(c, caller, "catalog.deprecate", id, NULL, do_deprecate, ret, err);
}

int catalog_retire(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        int r = require(c, caller, CB_ROLE_OPERATOR, "catalog.retire", "retire catalogue services", id, err);
        if (r < 0)
                return r;
        return run_change(c, caller, "catalog.retire", id, NULL, do_retire, ret, err);
}

static int json_file_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".json");
}

int catalog_import_seed(Catalog *c, const char *dir, CbError *err) {
        struct dirent **names = NULL;
        sqlite3_stmt *st;
        int n, r = 0, count = -1;

        if (store_prepare(c->store, "SELECT COUNT(*) FROM services", &st) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (sqlite3_step(st) == SQLITE_ROW)
                count = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        if (count != 0)
                return count < 0 ? store_error(c->store, err, "reading the catalogue") : 0;

        n = scandir(dir, &names, json_file_filter, alphasort);
        if (n < 0)
                return cb_error_set(err, CB_ERR_VALIDATION, "%s: cannot read the catalogue seed: %s", dir,
                                    strerror(errno));
        if (store_begin(c->store) < 0) {
                r = store_error(c->store, err, "starting a transaction");
                goto out;
        }
        for (int i = 0; i < n && r >= 0; i++) {
                _cleanup_(freep) char *path = NULL;
                json_t *doc, *norm = NULL;
                json_error_t jerr;

                if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
                if (!doc) {
                        r = cb_error_set(err, CB_ERR_MALFORMED_JSON, "%s:%d:%d: %s", path, jerr.line,
                                         jerr.column, jerr.text);
                        break;
                }
                r = catalog_validate_service(doc, &norm, err);
                json_decref(doc);
                if (r < 0) {
                        char msg[sizeof(err->message)];
                        snprintf(msg, sizeof(msg), "%s", err->message);
                        cb_error_set_field(err, err->kind, err->field, "%s: %s", path, msg);
                        break;
                }
                r = insert_revision(c, json_string_value(json_object_get(norm, "id")), 1, "published", norm,
                                    "seed", err);
                if (r < 0 && sqlite3_extended_errcode(store_db(c->store)) == SQLITE_CONSTRAINT_PRIMARYKEY)
                        r = cb_error_set(err, CB_ERR_CONFLICT, "%s: service id defined twice in the seed",
                                         path);
                json_decref(norm);
        }
        if (r < 0)
                store_rollback(c->store);
        else if (store_commit(c->store) < 0)
                r = store_error(c->store, err, "committing the catalogue seed");
        else
                catalog_changed(c);
out:
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}
