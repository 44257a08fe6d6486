/* SPDX-License-Identifier: Apache-2.0 */
#include "catalog.h"
#include "states.h"

#include <dirent.h>
#include <stdio.h>

#include "audit.h"
#include "catalog-validate.h"
#include "digest.h"
#include "images.h"

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

        /* Views of a pinned revision (catalog_get_revision: a binding's
         * bindable, a plan's spec), as parsed, valid for one generation: the
         * document of a revision past its draft never changes, its status
         * only through run_change(), which starts a new generation. */
        struct {
                char *id;
                unsigned revision;
                uint64_t generation;
                json_t *view;
        } revisions[32];
        size_t next_revision;

        CatalogSubmitCheckFn submit_check;
        void *submit_check_userdata;
};

void catalog_set_submit_check(Catalog *c, CatalogSubmitCheckFn fn, void *userdata) {
        c->submit_check = fn;
        c->submit_check_userdata = userdata;
}

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

#define ROW_COLUMNS "id, revision, status, document, created_at, created_by, updated_at, published_at"

/* Every row of a query of ROW_COLUMNS. */
static int rows_fetch(Catalog *c, const char *sql, const StoreArg *args, Rows *ret, CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        Rows rs = { 0 };
        int r;

        r = store_query(c->store, sql, args, &q, "reading the catalogue", err);
        while (r >= 0 && (r = store_rows_next(q, err)) > 0) {
                Row *v = realloc(rs.v, (rs.n + 1) * sizeof(Row));
                if (!v) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                rs.v = v;
                rs.v[rs.n++] = (Row){
                        .id = store_rows_dup(q, 0),
                        .revision = (unsigned)store_rows_int(q, 1),
                        .status = store_rows_dup(q, 2),
                        .document = store_rows_dup(q, 3),
                        .created_at = store_rows_dup(q, 4),
                        .created_by = store_rows_dup(q, 5),
                        .updated_at = store_rows_dup(q, 6),
                        .published_at = store_rows_dup(q, 7),
                };
        }
        if (r < 0) {
                rows_done(&rs);
                return r;
        }
        *ret = rs;
        return 0;
}

/* All revisions of one service, newest first. */
static int revisions_of(Catalog *c, const char *id, Rows *ret, CbError *err) {
        static const char sql[] = "SELECT " ROW_COLUMNS " FROM services WHERE id = ?1 ORDER BY revision DESC";
        return rows_fetch(c, sql, STORE_ARGS(SA_TEXT(id)), ret, err);
}

static bool status_is(const Row *r, CatalogStatus s) {
        return r && catalog_status_from_string(r->status) == (int)s;
}

/* The revision in force: published or deprecated (retired counts, for reading). */
static const Row *in_force(const Rows *rs) {
        for (size_t i = 0; i < rs->n; i++)
                if (status_is(&rs->v[i], CATALOG_PUBLISHED) || status_is(&rs->v[i], CATALOG_DEPRECATED) ||
                    status_is(&rs->v[i], CATALOG_RETIRED))
                        return &rs->v[i];
        return NULL;
}

static json_t *signoffs_of(Catalog *c, const char *id, unsigned revision) {
        static const char sql[] = "SELECT role, principal, signed_at FROM service_signoffs "
                                  "WHERE service_id = ?1 AND revision = ?2 ORDER BY signed_at, role";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        json_t *a = json_array();

        if (!a || store_query(c->store, sql, STORE_ARGS(SA_TEXT(id), SA_INT(revision)), &q,
                              "reading sign-offs", NULL) < 0)
                return a;
        while (store_rows_next(q, NULL) > 0)
                json_array_append_new(a,
                                      json_pack("{s:s, s:s, s:s}", "role", store_rows_text(q, 0), "principal",
                                                store_rows_text(q, 1), "signed_at", store_rows_text(q, 2)));
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
        for (size_t i = 0; i < ELEMENTSOF(c->revisions); i++) {
                free(c->revisions[i].id);
                json_decref(c->revisions[i].view);
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

static int category_rank(const json_t *service) {
        const char *cat = json_string_value(json_object_get(service, "category"));
        return streq_ptr(cat, "IaaS") ? 0 : streq_ptr(cat, "PaaS") ? 1 : 2;
}

static int by_category_then_id(const void *a, const void *b) {
        const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
        int d = category_rank(x) - category_rank(y);
        return d ? d
                 : strcmp(json_string_value(json_object_get(x, "id")),
                          json_string_value(json_object_get(y, "id")));
}

int catalog_list_published(Catalog *c, json_t **ret) {
        /* Ordered here, not in SQL: the category lives inside the document,
         * and JSON functions differ between SQLite and PostgreSQL. */
        static const char sql[] = "SELECT " ROW_COLUMNS " FROM services WHERE status = ?1";
        _cleanup_(rows_done) Rows rs = { 0 };
        _cleanup_(freep) json_t **views = NULL;
        json_t *a;

        if (rows_fetch(c, sql, STORE_ARGS(SA_TEXT(catalog_status_to_string(CATALOG_PUBLISHED))), &rs, NULL) <
            0)
                return -EIO;
        views = calloc(rs.n ? rs.n : 1, sizeof(json_t *));
        a = json_array();
        if (!views || !a) {
                json_decref(a);
                return -ENOMEM;
        }
        for (size_t i = 0; i < rs.n; i++)
                if (!(views[i] = row_view(c, &rs.v[i], false)) ||
                    !json_is_string(json_object_get(views[i], "id"))) {
                        for (size_t j = 0; j <= i; j++)
                                json_decref(views[j]);
                        json_decref(a);
                        return -EIO;
                }
        qsort(views, rs.n, sizeof(json_t *), by_category_then_id);
        for (size_t i = 0; i < rs.n; i++)
                json_array_append_new(a, views[i]);
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
        if (revisions_of(c, id, &rs, NULL) < 0)
                return store_error(c->store, err, "reading the catalogue");
        force = in_force(&rs);

        if (revision > 0) {
                for (size_t i = 0; i < rs.n; i++)
                        if (rs.v[i].revision == revision)
                                pick = &rs.v[i];
                if (pick && !insider &&
                    (status_is(pick, CATALOG_DRAFT) || status_is(pick, CATALOG_SUBMITTED)))
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
            (status_is(&rs.v[0], CATALOG_DRAFT) || status_is(&rs.v[0], CATALOG_SUBMITTED)))
                json_object_set_new(v, "pending_revision", json_integer(rs.v[0].revision));
        *ret = v;
        return 0;
}

/* Keeps v (a reference of its own) as the view of id's revision for this generation. */
static void remember_revision(Catalog *c, const char *id, unsigned revision, json_t *v) {
        size_t k = c->next_revision++ % ELEMENTSOF(c->revisions);
        char *copy = strdup(id);
        if (!copy)
                return;
        free(c->revisions[k].id);
        json_decref(c->revisions[k].view);
        c->revisions[k].id = copy;
        c->revisions[k].revision = revision;
        c->revisions[k].generation = c->generation;
        c->revisions[k].view = json_incref(v);
}

int catalog_get_revision(Catalog *c, const char *id, unsigned revision, json_t **ret) {
        _cleanup_(rows_done) Rows rs = { 0 };
        for (size_t i = 0; id && i < ELEMENTSOF(c->revisions); i++)
                if (c->revisions[i].view && c->revisions[i].generation == c->generation &&
                    c->revisions[i].revision == revision && streq(c->revisions[i].id, id)) {
                        *ret = json_incref(c->revisions[i].view);
                        return 0;
                }
        if (revisions_of(c, id, &rs, NULL) < 0)
                return -EIO;
        for (size_t i = 0; i < rs.n; i++)
                if (rs.v[i].revision == revision && !status_is(&rs.v[i], CATALOG_DRAFT) &&
                    !status_is(&rs.v[i], CATALOG_SUBMITTED)) {
                        json_t *v = row_view(c, &rs.v[i], false);
                        if (!v)
                                return -EIO;
                        remember_revision(c, id, revision, v);
                        *ret = v;
                        return 0;
                }
        return -ENOENT;
}

bool catalog_exists(Catalog *c, const CbCaller *caller, const char *id) {
        _cleanup_(rows_done) Rows rs = { 0 };
        if (revisions_of(c, id, &rs, NULL) < 0)
                return false;
        return caller_has_role(caller, CATALOG_INSIDERS) ? rs.n > 0 : in_force(&rs) != NULL;
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
        if (revisions_of(c, id, &rs, NULL) < 0)
                return -EIO;
        for (size_t i = 0; i < rs.n; i++)
                if (status_is(&rs.v[i], CATALOG_PUBLISHED)) {
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
        json_t *a;
        int r;

        r = caller_require_role(caller, CATALOG_INSIDERS, "list catalogue drafts", err);
        if (r < 0)
                return r;
        r = rows_fetch(c, sql, NULL, &rs, err);
        if (r < 0)
                return r;
        a = json_array();
        for (size_t i = 0; a && i < rs.n; i++)
                json_array_append_new(a, row_view(c, &rs.v[i], true));
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = a;
        return 0;
}

/* -EEXIST when the (id, revision) is taken. */
static int insert_revision(Catalog *c, const char *id, unsigned revision, CatalogStatus status,
                           const json_t *doc, const char *who, CbError *err) {
        static const char sql[] =
                "INSERT INTO services (id, revision, status, document, created_at, "
                "created_by, updated_at, published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?7)";
        _cleanup_(freep) char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char now[32];
        int r;

        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        r = store_run(c->store, sql,
                      STORE_ARGS(SA_TEXT(id), SA_INT(revision), SA_TEXT(catalog_status_to_string(status)),
                                 SA_TEXT(text), SA_TEXT(now), SA_TEXT(who),
                                 SA_TEXT(status == CATALOG_PUBLISHED ? now : NULL)),
                      "storing a service", err);
        return r < 0 ? r : 0;
}

static int set_status(Catalog *c, const char *id, unsigned revision, CatalogStatus status, CbError *err) {
        static const char sql[] = "UPDATE services SET status = ?1, updated_at = ?2, "
                                  "published_at = COALESCE(?3, published_at) WHERE id = ?4 AND revision = ?5";
        char now[32];
        int r;

        store_now(now);
        r = store_run(c->store, sql,
                      STORE_ARGS(SA_TEXT(catalog_status_to_string(status)), SA_TEXT(now),
                                 SA_TEXT(status == CATALOG_PUBLISHED ? now : NULL), SA_TEXT(id),
                                 SA_INT(revision)),
                      "updating a service", err);
        return r < 0 ? r : 0;
}

/* Runs a change in one transaction; on success bumps the generation and
 * returns the caller's new view of the service. */
typedef int (*ChangeFn)(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err);

typedef struct Change {
        Catalog *c;
        const CbCaller *caller;
        const char *id;
        const json_t *doc;
        ChangeFn fn;
} Change;

static int change_run(Store *s, void *userdata, CbError *err) {
        const Change *ch = userdata;
        (void)s;
        return ch->fn(ch->c, ch->caller, ch->id, ch->doc, err);
}

static int run_change(Catalog *c, const CbCaller *caller, const char *action, const char *id,
                      const json_t *doc, ChangeFn fn, json_t **ret, CbError *err) {
        char object[128];
        int r;

        snprintf(object, sizeof(object), "service:%s", id);
        r = audit_change(c->store, caller,
                         &(AuditEntry){ .action = action, .object = object, .outcome = "ok" }, change_run,
                         &(Change){ c, caller, id, doc, fn }, err);
        if (r < 0)
                return r;
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

        if (revisions_of(c, id, &rs, NULL) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs.n > 0)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "id",
                                          "service '%s' already exists; change it with PUT", id);
        return insert_revision(c, id, 1, CATALOG_DRAFT, doc, caller->principal->name, err);
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
        static const char sql[] = "UPDATE services SET document = ?1, status = ?2, updated_at = ?3 "
                                  "WHERE id = ?4 AND revision = ?5";
        static const char clear[] = "DELETE FROM service_signoffs WHERE service_id = ?1 AND revision = ?2";
        _cleanup_(rows_done) Rows rs = { 0 };
        _cleanup_(freep) char *text = NULL;
        const Row *latest;
        char now[32];
        int r;

        if (revisions_of(c, id, &rs, NULL) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs.n == 0)
                return not_found(err, id);
        latest = &rs.v[0];

        /* A published revision stays in force: the change becomes the next revision. */
        if (status_is(latest, CATALOG_PUBLISHED))
                return insert_revision(c, id, latest->revision + 1, CATALOG_DRAFT, doc,
                                       caller->principal->name, err);
        if (!status_is(latest, CATALOG_DRAFT) && !status_is(latest, CATALOG_SUBMITTED))
                return cb_error_set(err, CB_ERR_CONFLICT, "service '%s' is %s and can no longer change", id,
                                    latest->status);

        /* Editing what was submitted withdraws it: earlier sign-offs were for other content. */
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        r = store_run(c->store, clear, STORE_ARGS(SA_TEXT(id), SA_INT(latest->revision)),
                      "updating a service", err);
        if (r >= 0)
                r = store_run(c->store, sql,
                              STORE_ARGS(SA_TEXT(text), SA_TEXT(catalog_status_to_string(CATALOG_DRAFT)),
                                         SA_TEXT(now), SA_TEXT(id), SA_INT(latest->revision)),
                              "updating a service", err);
        return r < 0 ? r : 0;
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
static int latest_in(Catalog *c, const char *id, CatalogStatus from, const char *action, Rows *rs,
                     const Row **ret, CbError *err) {
        if (revisions_of(c, id, rs, NULL) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs->n == 0)
                return not_found(err, id);
        if (!status_is(&rs->v[0], from))
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s service '%s': revision %u is %s, not %s",
                                    action, id, rs->v[0].revision, rs->v[0].status,
                                    catalog_status_to_string(from));
        *ret = &rs->v[0];
        return 0;
}

static int do_submit(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        _cleanup_(rows_done) Rows rs = { 0 };
        const Row *row;
        int r;
        (void)caller;
        (void)doc;

        r = latest_in(c, id, CATALOG_DRAFT, "submit", &rs, &row, err);
        if (r < 0)
                return r;
        /* What the signers approve must be orderable: every os_image a
         * registered image of the plan's arch (and, for a secure-and-
         * controllable service, such an OS: Art. 24), every http plan mapped
         * to what its provider offers. Checked here, not in catalog-validate:
         * it needs the image library and the providers. */
        _cleanup_(json_decrefp) json_t *service = json_loads(row->document, 0, NULL);
        if (!service)
                return cb_error_set(err, CB_ERR_INTERNAL, "stored service '%s' is not JSON", id);
        r = images_check_service(c->store, service, err);
        if (r < 0)
                return r;
        if (c->submit_check) {
                r = c->submit_check(service, c->submit_check_userdata, err);
                if (r < 0)
                        return r;
        }
        return set_status(c, id, row->revision, CATALOG_SUBMITTED, err);
}

int catalog_submit(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        int r = require(c, caller, CB_ROLE_OPERATOR, "catalog.submit", "submit catalogue services", id, err);
        if (r < 0)
                return r;
        return run_change(c, caller, "catalog.submit", id, NULL, do_submit, ret, err);
}

static int do_approve(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        static const char sel[] =
                "SELECT role, principal FROM service_signoffs WHERE service_id = ?1 AND revision = ?2";
        static const char ins[] =
                "INSERT INTO service_signoffs (service_id, revision, role, principal, signed_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5)";
        static const char supersede[] = "UPDATE services SET status = ?1, updated_at = ?2 "
                                        "WHERE id = ?3 AND status = ?4";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        _cleanup_(rows_done) Rows rs = { 0 };
        const char *me = caller->principal->name;
        bool signed_authority = false, signed_finance = false, signed_by_me = false;
        const char *role = NULL;
        const Row *row;
        char now[32];
        int r;
        (void)doc;

        r = latest_in(c, id, CATALOG_SUBMITTED, "approve", &rs, &row, err);
        if (r < 0)
                return r;

        r = store_query(c->store, sel, STORE_ARGS(SA_TEXT(id), SA_INT(row->revision)), &q,
                        "reading sign-offs", err);
        while (r >= 0 && (r = store_rows_next(q, err)) > 0) {
                const char *rl = store_rows_text(q, 0);
                const char *who = store_rows_text(q, 1);
                signed_authority |= streq(rl, "authority");
                signed_finance |= streq(rl, "finance");
                signed_by_me |= streq(who, me);
        }
        store_rows_done(TAKE_PTR(q));
        if (r < 0)
                return r;

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
        r = store_run(
                c->store, ins,
                STORE_ARGS(SA_TEXT(id), SA_INT(row->revision), SA_TEXT(role), SA_TEXT(me), SA_TEXT(now)),
                "recording a sign-off", err);
        if (r < 0)
                return r;

        if (!(signed_authority || streq(role, "authority")) || !(signed_finance || streq(role, "finance")))
                return 0;

        /* Both signed: this revision takes over from the one in force. */
        r = store_run(c->store, supersede,
                      STORE_ARGS(SA_TEXT(catalog_status_to_string(CATALOG_SUPERSEDED)), SA_TEXT(now),
                                 SA_TEXT(id), SA_TEXT(catalog_status_to_string(CATALOG_PUBLISHED))),
                      "publishing", err);
        if (r < 0)
                return r;
        return set_status(c, id, row->revision, CATALOG_PUBLISHED, err);
}

int catalog_approve(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        int r = require(c, caller, CB_ROLE_AUTHORITY | CB_ROLE_FINANCE, "catalog.approve",
                        "sign off catalogue services", id, err);
        if (r < 0)
                return r;
        return run_change(c, caller, "catalog.approve", id, NULL, do_approve, ret, err);
}

static int transition_in_force(Catalog *c, const char *id, CatalogStatus from, CatalogStatus to,
                               const char *action, CbError *err) {
        _cleanup_(rows_done) Rows rs = { 0 };
        const Row *force;

        if (revisions_of(c, id, &rs, NULL) < 0)
                return store_error(c->store, err, "reading the catalogue");
        if (rs.n == 0)
                return not_found(err, id);
        force = in_force(&rs);
        if (!force || !status_is(force, from))
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s service '%s': it is %s, not %s", action,
                                    id, force ? force->status : rs.v[0].status,
                                    catalog_status_to_string(from));
        return set_status(c, id, force->revision, to, err);
}

static int do_deprecate(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        (void)caller;
        (void)doc;
        return transition_in_force(c, id, CATALOG_PUBLISHED, CATALOG_DEPRECATED, "deprecate", err);
}

static int do_retire(Catalog *c, const CbCaller *caller, const char *id, const json_t *doc, CbError *err) {
        (void)caller;
        (void)doc;
        return transition_in_force(c, id, CATALOG_DEPRECATED, CATALOG_RETIRED, "retire", err);
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
        static const char count_sql[] = "SELECT COUNT(*) FROM services";
        struct dirent **names = NULL;
        int64_t count = 0;
        int n, r = 0;

        r = store_query_int(c->store, count_sql, NULL, &count, "reading the catalogue", err);
        if (r < 0 || count != 0)
                return r;

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
                r = insert_revision(c, json_string_value(json_object_get(norm, "id")), 1, CATALOG_PUBLISHED,
                                    norm, "seed", err);
                if (r == -EEXIST)
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
