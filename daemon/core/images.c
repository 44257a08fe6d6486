/* SPDX-License-Identifier: Apache-2.0 */
#include "images.h"

#include <stdio.h>
#include <unistd.h>

#include "audit.h"
#include "json-util.h"
#include "log.h"
#include "states.h"

#define IMAGE_TEXT_MAX 64
#define IMAGE_READERS                                                                                    \
        (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE | CB_ROLE_AUDITOR | CB_ROLE_DEPARTMENT | \
         CB_ROLE_MIGRATION)
#define GIB              (1024ULL * 1024 * 1024)
#define IMAGE_UPLOAD_MAX (1024ULL * GIB)

#define IMAGE_COLUMNS                                                                                  \
        "provider, name, pool, volume, os, os_version, arch, format, digest_alg, digest, size_bytes, " \
        "min_disk_gib, secure_controllable, state, created_at, created_by, retired_at, retired_by"

struct Images {
        Store *store;
        Providers *providers;
        WorkerPool *pool;
};

int images_new(Store *store, Providers *providers, WorkerPool *pool, Images **ret) {
        Images *im = calloc(1, sizeof(*im));
        if (!im)
                return -ENOMEM;
        *im = (Images){ .store = store, .providers = providers, .pool = pool };
        *ret = im;
        return 0;
}

Images *images_free(Images *im) {
        free(im);
        return NULL;
}

void image_record_done(ImageRecord *rec) {
        if (!rec)
                return;
        free(rec->provider);
        free(rec->name);
        free(rec->pool);
        free(rec->volume);
        free(rec->os);
        free(rec->os_version);
        free(rec->arch);
        free(rec->format);
        free(rec->created_at);
        free(rec->created_by);
        free(rec->retired_at);
        free(rec->retired_by);
        *rec = (ImageRecord){ 0 };
}

void image_list_done(ImageList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                image_record_done(&l->v[i]);
        free(l->v);
        *l = (ImageList){ 0 };
}

/* The row of IMAGE_COLUMNS into *ret: 0, or -ENOMEM / -EIO (a state the
 * schema's CHECK does not allow). */
static int row_to_record(StoreRows *q, ImageRecord *ret) {
        ImageRecord rec = { 0 };
        bool ok = true;
        int state = image_state_from_string(store_rows_text(q, 13));

        if (state < 0)
                return -EIO;
        rec.provider = strdup_or_null(store_rows_text(q, 0), &ok);
        rec.name = strdup_or_null(store_rows_text(q, 1), &ok);
        rec.pool = strdup_or_null(store_rows_text(q, 2), &ok);
        rec.volume = strdup_or_null(store_rows_text(q, 3), &ok);
        rec.os = strdup_or_null(store_rows_text(q, 4), &ok);
        rec.os_version = strdup_or_null(store_rows_text(q, 5), &ok);
        rec.arch = strdup_or_null(store_rows_text(q, 6), &ok);
        rec.format = strdup_or_null(store_rows_text(q, 7), &ok);
        snprintf(rec.digest_alg, sizeof(rec.digest_alg), "%s", store_rows_text(q, 8));
        snprintf(rec.digest, sizeof(rec.digest), "%s", store_rows_text(q, 9));
        rec.size_bytes = (uint64_t)store_rows_int(q, 10);
        rec.min_disk_gib = store_rows_int(q, 11);
        rec.secure_controllable = store_rows_int(q, 12) != 0;
        rec.state = state;
        rec.created_at = strdup_or_null(store_rows_text(q, 14), &ok);
        rec.created_by = strdup_or_null(store_rows_text(q, 15), &ok);
        rec.retired_at = strdup_or_null(store_rows_text(q, 16), &ok);
        rec.retired_by = strdup_or_null(store_rows_text(q, 17), &ok);
        if (!ok) {
                image_record_done(&rec);
                return -ENOMEM;
        }
        *ret = rec;
        return 0;
}

static int record_error(int r, CbError *err) {
        if (r == -ENOMEM)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return cb_error_set(err, CB_ERR_INTERNAL, "the image library holds a state it does not know");
}

/* The stored image without authorization: 0, -ENOENT or -EIO (err filled). */
static int load(Store *s, const char *provider, const char *name, ImageRecord *ret, CbError *err) {
        static const char sql[] = "SELECT " IMAGE_COLUMNS " FROM images WHERE provider = ?1 AND name = ?2";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(provider), SA_TEXT(name)), &q, "reading the image library",
                        err);
        if (r >= 0)
                r = store_rows_next(q, err);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        r = row_to_record(q, ret);
        return r < 0 ? record_error(r, err) : 0;
}

static int not_found(CbError *err, const char *provider, const char *name) {
        return cb_error_set(err, CB_ERR_NOT_FOUND, "no image '%s' on provider '%s'", name, provider);
}

/* ---- registering ---- */

typedef struct Register {
        Images *im;
        CbCaller caller;
        ImageDoneFn done;
        void *userdata;
        /* copied in, so the worker reads nothing of the registry */
        const DriverOps *ops;
        DriverConn *conn;
        char *provider, *name, *pool, *volume, *os, *os_version, *arch, *format;
        char alg[8], hex[IMAGE_DIGEST_HEX];
        int64_t min_disk_gib; /* 0: from the volume's size */
        int fd;               /* an upload's data (owned), or -1: the volume is there */
        uint64_t size;
        DriverImageInfo info;
        CbError err;
} Register;

static void register_free(Register *g) {
        if (!g)
                return;
        free(g->provider);
        free(g->name);
        free(g->pool);
        free(g->volume);
        free(g->os);
        free(g->os_version);
        free(g->arch);
        free(g->format);
        if (g->fd >= 0)
                close(g->fd);
        cb_error_clear(&g->err);
        free(g);
}

static int register_job(void *userdata) {
        Register *g = userdata;
        if (g->fd >= 0)
                return driver_image_upload(g->ops, g->conn, g->pool, g->volume, g->format, g->fd, g->size,
                                           g->alg, g->hex, &g->info, &g->err);
        return driver_image_inspect(g->ops, g->conn, g->pool, g->volume, g->alg, &g->info, &g->err);
}

typedef struct ImageRow {
        const Register *g;
        int64_t min_disk_gib;
        bool secure;
        const char *now;
} ImageRow;

static int image_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] = "INSERT INTO images (" IMAGE_COLUMNS
                                  ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                  "?12, ?13, ?14, ?15, ?16, NULL, NULL)";
        const ImageRow *row = userdata;
        const Register *g = row->g;
        int r = store_run(s, ins,
                          STORE_ARGS(SA_TEXT(g->provider), SA_TEXT(g->name), SA_TEXT(g->pool),
                                     SA_TEXT(g->volume), SA_TEXT(g->os), SA_TEXT(g->os_version),
                                     SA_TEXT(g->arch), SA_TEXT(g->format), SA_TEXT(g->alg), SA_TEXT(g->hex),
                                     SA_INT(g->info.capacity_bytes), SA_INT(row->min_disk_gib),
                                     SA_INT(row->secure), SA_TEXT(image_state_to_string(IMAGE_ACTIVE)),
                                     SA_TEXT(row->now), SA_TEXT(g->caller.principal->name)),
                          "storing the image", err);
        if (r == -EEXIST)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name",
                                          "image '%s' already exists on provider '%s'", g->name, g->provider);
        return r < 0 ? r : 0;
}

/* On the main loop: what the volume is, against what the operator said. */
static int register_finish(Register *g, ImageRecord *ret, CbError *err) {
        uint64_t min_gib = (g->info.capacity_bytes + GIB - 1) / GIB;
        char object[160], now[32];
        json_auto_t *detail = NULL;
        int r;

        if (!streq(g->info.format, g->format))
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, "format", "format: volume '%s' is %s, not %s", g->volume,
                        g->info.format[0] ? g->info.format : "of no known format", g->format);
        if (!digest_equal_ct(g->info.digest, g->hex)) {
                snprintf(object, sizeof(object), "image:%s/%s", g->provider, g->name);
                audit_refusal(g->im->store, &g->caller, "image.register", object, "rejected", NULL);
                return cb_error_set_field(err, CB_ERR_VALIDATION, "digest",
                                          "digest: volume '%s' has %s:%s, not the digest given", g->volume,
                                          g->alg, g->info.digest);
        }
        if (min_gib == 0)
                min_gib = 1;
        if (g->min_disk_gib && (uint64_t)g->min_disk_gib < min_gib)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "min_disk_gib",
                                          "min_disk_gib: the image's virtual size needs at least %llu GiB",
                                          (unsigned long long)min_gib);

        snprintf(object, sizeof(object), "image:%s/%s", g->provider, g->name);
        store_now(now);
        ImageRow row = { .g = g,
                         .min_disk_gib = g->min_disk_gib ? g->min_disk_gib : (int64_t)min_gib,
                         .secure = image_os_is_secure_controllable(g->os),
                         .now = now };
        detail = json_pack("{s:s, s:s, s:s, s:s, s:s}", "pool", g->pool, "volume", g->volume, "arch", g->arch,
                           "format", g->format, "digest_alg", g->alg);
        if (detail)
                json_object_set_new(detail, "digest", json_string(g->hex));
        r = audit_change(
                g->im->store, &g->caller,
                &(AuditEntry){
                        .action = "image.register", .object = object, .outcome = "ok", .detail = detail },
                image_insert, &row, err);
        if (r < 0)
                return r;
        return load(g->im->store, g->provider, g->name, ret, err);
}

static void register_done(int result, void *userdata) {
        Register *g = userdata;
        CbError err = CB_ERROR_INIT;
        ImageRecord image = { 0 };
        int r;

        if (result == -ECANCELED)
                r = cb_error_set(&err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
        else if (result < 0) {
                r = result;
                err = g->err;
                g->err = (CbError)CB_ERROR_INIT;
                /* An unknown pool or volume is a wrong field of the request,
                 * not an unknown URL. */
                if (err.kind == CB_ERR_NOT_FOUND && err.field[0]) {
                        err.kind = CB_ERR_VALIDATION;
                        r = -cb_error_errno(CB_ERR_VALIDATION);
                }
        } else
                r = register_finish(g, &image, &err);
        if (r < 0)
                log_info("image %s/%s not registered: %s", g->provider, g->name, err.message);
        g->done(r < 0 ? NULL : &image, &err, g->userdata);
        image_record_done(&image);
        cb_error_clear(&err);
        register_free(g);
}

static int dup_all(Register *g, const char *const *src, char **const *dst, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!(*dst[i] = strdup(src[i])))
                        return -ENOMEM;
        (void)g;
        return 0;
}

static int register_start(Images *im, const CbCaller *caller, const json_t *body, int fd, uint64_t size,
                          ImageDoneFn done, void *userdata, CbError *err);
static int register_check_start(Images *im, const CbCaller *caller, const json_t *body, int fd, uint64_t size,
                                ImageDoneFn done, void *userdata, CbError *err);

int images_register(Images *im, const CbCaller *caller, const json_t *body, ImageDoneFn done, void *userdata,
                    CbError *err) {
        return register_start(im, caller, body, -1, 0, done, userdata, err);
}

int images_upload(Images *im, const CbCaller *caller, const json_t *body, int fd, uint64_t size,
                  ImageDoneFn done, void *userdata, CbError *err) {
        if (fd < 0)
                return cb_error_set(err, CB_ERR_INVALID, "no data to upload");
        if (size == 0 || size > IMAGE_UPLOAD_MAX) {
                close(fd);
                return cb_error_set_field(err, CB_ERR_VALIDATION, "size", "size: must be 1 byte to %llu GiB",
                                          (unsigned long long)(IMAGE_UPLOAD_MAX / GIB));
        }
        return register_start(im, caller, body, fd, size, done, userdata, err);
}

/* Takes fd (closed on refusal too). */
static int register_start(Images *im, const CbCaller *caller, const json_t *body, int fd, uint64_t size,
                          ImageDoneFn done, void *userdata, CbError *err) {
        int r = register_check_start(im, caller, body, fd, size, done, userdata, err);
        if (r < 0 && fd >= 0)
                close(fd);
        return r;
}

static int register_check_start(Images *im, const CbCaller *caller, const json_t *body, int fd, uint64_t size,
                                ImageDoneFn done, void *userdata, CbError *err) {
        static const char *const fields[] = { "provider", "name",         "pool", "volume",
                                              "os",       "os_version",   "arch", "format",
                                              "digest",   "min_disk_gib", NULL };
        static const char *const arches[] = { "x86_64", "aarch64", "loongarch64", NULL };
        const char *provider = NULL, *name = NULL, *pool = NULL, *volume = NULL, *os = NULL,
                   *os_version = NULL, *arch = NULL, *format = NULL, *digest = NULL;
        int64_t min_disk = 0;
        ImageRecord existing = { 0 };
        Register *g;
        Provider *p;
        bool arch_ok = false;
        int r;

        r = caller_require_role(caller, CB_ROLE_OPERATOR, "register images", err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_id(body, "provider", true, &provider, err);
        if (r >= 0)
                r = json_get_string(body, "name", true, IMAGE_NAME_MAX, &name, err);
        if (r >= 0)
                r = json_get_string(body, "pool", false, 128, &pool, err);
        if (r >= 0)
                r = json_get_string(body, "volume", true, 128, &volume, err);
        if (r >= 0)
                r = json_get_string(body, "os", true, IMAGE_TEXT_MAX, &os, err);
        if (r >= 0)
                r = json_get_string(body, "os_version", true, IMAGE_TEXT_MAX, &os_version, err);
        if (r >= 0)
                r = json_get_string(body, "arch", true, 16, &arch, err);
        if (r >= 0)
                r = json_get_string(body, "format", true, 8, &format, err);
        if (r >= 0)
                r = json_get_string(body, "digest", true, 80, &digest, err);
        if (r >= 0 && json_object_get(body, "min_disk_gib"))
                r = json_get_int(body, "min_disk_gib", false, 1, 65536, &min_disk, err);
        if (r < 0)
                return r;
        if (!image_name_is_valid(name))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "name",
                                          "name: must match [a-z0-9._-]{1,63}, not starting with '.' or '-'");
        if (!image_volume_name_is_valid(volume))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "volume",
                                          "volume: must be a volume name ([A-Za-z0-9._-], at most 128)");
        for (size_t i = 0; arches[i]; i++)
                arch_ok |= streq(arch, arches[i]);
        if (!arch_ok)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "arch",
                                          "arch: must be \"x86_64\", \"aarch64\" or \"loongarch64\"");
        if (!streq(format, "qcow2") && !streq(format, "raw"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "format",
                                          "format: must be \"qcow2\" or \"raw\"");
        if (*os == 0 || *os_version == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, *os == 0 ? "os" : "os_version",
                                          "%s: required", *os == 0 ? "os" : "os_version");
        Register proto = { 0 };
        if (image_digest_parse(digest, proto.alg, proto.hex) < 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "digest",
                                          "digest: must be \"sha256:<64 hex>\" or \"sm3:<64 hex>\"");

        p = providers_find(im->providers, provider);
        if (!p)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "provider", "provider: no provider '%s'",
                                          provider);
        if (!p->image_pool)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "provider",
                                          "provider: '%s' names no image pool (its image_pool setting)",
                                          provider);
        if (pool && !streq(pool, p->image_pool))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "pool",
                                          "pool: images of provider '%s' live in pool '%s', not '%s'",
                                          provider, p->image_pool, pool);
        if (p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is not connected", provider);
        r = load(im->store, provider, name, &existing, err);
        if (r >= 0) {
                image_record_done(&existing);
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name",
                                          "image '%s' already exists on provider '%s'", name, provider);
        }
        if (r != -ENOENT)
                return r;

        g = calloc(1, sizeof(*g));
        if (!g)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *g = proto;
        g->im = im;
        g->caller = *caller;
        g->done = done;
        g->userdata = userdata;
        g->ops = p->ops;
        g->conn = p->conn;
        g->min_disk_gib = min_disk;
        g->fd = -1;
        g->size = size;
        g->err = (CbError)CB_ERROR_INIT;
        const char *src[] = { provider, name, p->image_pool, volume, os, os_version, arch, format };
        char **const dst[] = { &g->provider, &g->name,       &g->pool, &g->volume,
                               &g->os,       &g->os_version, &g->arch, &g->format };
        if (dup_all(g, src, dst, ELEMENTSOF(src)) < 0) {
                register_free(g);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        /* From here the job owns the data (and closes it). */
        g->fd = fd;
        if (worker_submit(im->pool, register_job, register_done, g) < 0) {
                g->fd = -1;
                register_free(g);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue the image's digest");
        }
        return 0;
}

/* ---- reading ---- */

int images_list(Images *im, const CbCaller *caller, const char *provider, const Page *page, ImageList *ret,
                char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] = "SELECT " IMAGE_COLUMNS " FROM images WHERE (?1 IS NULL OR provider = ?1) "
                                  "AND (?2 IS NULL OR provider > ?2 OR (provider = ?2 AND name > ?3)) "
                                  "ORDER BY provider, name LIMIT ?4";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        _cleanup_(image_list_done) ImageList l = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
        int r;

        r = caller_require_role(caller, IMAGE_READERS, "read the image library", err);
        if (r < 0)
                return r;
        if (provider && !id_is_valid(provider))
                return cb_error_set_field(err, CB_ERR_INVALID, "provider",
                                          "provider: '%s' is not a provider name", provider);
        l.v = calloc(page->limit, sizeof(*l.v));
        if (!l.v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_query(im->store, sql,
                        STORE_ARGS(SA_TEXT(provider), SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_TEXT(page->has_after ? page->after[1] : NULL), SA_INT(page->limit + 1)),
                        &q, "reading the image library", err);
        while (r >= 0 && (r = store_rows_next(q, err)) > 0) {
                if (l.n == page->limit) {
                        page_token_make(l.v[l.n - 1].provider, l.v[l.n - 1].name, next);
                        break;
                }
                r = row_to_record(q, &l.v[l.n]);
                if (r < 0)
                        return record_error(r, err);
                l.n++;
        }
        if (r < 0)
                return r;
        *ret = l;
        l = (ImageList){ 0 };
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

int images_get(Images *im, const CbCaller *caller, const char *provider, const char *name, ImageRecord *ret,
               CbError *err) {
        int r = caller_require_role(caller, IMAGE_READERS, "read the image library", err);
        if (r < 0)
                return r;
        if (!id_is_valid(provider) || !image_name_is_valid(name))
                return not_found(err, provider, name);
        r = load(im->store, provider, name, ret, err);
        return r == -ENOENT ? not_found(err, provider, name) : r;
}

typedef struct RetireRow {
        const char *provider, *name, *now, *by;
} RetireRow;

static int image_set_retired(Store *s, void *userdata, CbError *err) {
        static const char upd[] = "UPDATE images SET state = ?3, retired_at = ?4, retired_by = ?5 "
                                  "WHERE provider = ?1 AND name = ?2 AND state = ?6";
        const RetireRow *row = userdata;
        int r = store_run(s, upd,
                          STORE_ARGS(SA_TEXT(row->provider), SA_TEXT(row->name),
                                     SA_TEXT(image_state_to_string(IMAGE_RETIRED)), SA_TEXT(row->now),
                                     SA_TEXT(row->by), SA_TEXT(image_state_to_string(IMAGE_ACTIVE))),
                          "retiring the image", err);
        if (r == 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "image '%s' on provider '%s' is already retired",
                                    row->name, row->provider);
        return r < 0 ? r : 0;
}

int images_retire(Images *im, const CbCaller *caller, const char *provider, const char *name,
                  ImageRecord *ret, CbError *err) {
        _cleanup_(image_record_done) ImageRecord existing = { 0 };
        char object[160], now[32];
        int r;

        r = caller_require_role(caller, CB_ROLE_OPERATOR, "retire images", err);
        if (r < 0)
                return r;
        if (!id_is_valid(provider) || !image_name_is_valid(name))
                return not_found(err, provider, name);
        r = load(im->store, provider, name, &existing, err);
        if (r == -ENOENT)
                return not_found(err, provider, name);
        if (r < 0)
                return r;
        snprintf(object, sizeof(object), "image:%s/%s", provider, name);
        store_now(now);
        RetireRow row = { provider, name, now, caller->principal->name };
        r = audit_change(im->store, caller, &(AuditEntry){ "image.retire", object, "ok", NULL, NULL },
                         image_set_retired, &row, err);
        if (r < 0)
                return r;
        return load(im->store, provider, name, ret, err);
}

/* ---- for the catalogue and provisioning ---- */

int images_facts(Store *s, const char *name, const char *arch, CatalogImageFacts *ret) {
        static const char sql[] = "SELECT arch, secure_controllable, state FROM images WHERE name = ?1";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        CatalogImageFacts f = { 0 };
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(name)), &q, "reading the image library", NULL);
        while (r >= 0 && (r = store_rows_next(q, NULL)) > 0) {
                const char *a = store_rows_text(q, 0);
                bool active = image_state_from_string(store_rows_text(q, 2)) == IMAGE_ACTIVE;
                f.registered = true;
                if (!active)
                        continue;
                f.active = true;
                if (!f.arch_matches)
                        snprintf(f.arch, sizeof(f.arch), "%s", a ? a : "");
                if (streq_ptr(a, arch)) {
                        f.arch_matches = true;
                        f.secure |= store_rows_int(q, 1) != 0;
                }
        }
        if (r < 0)
                return -EIO;
        *ret = f;
        return 0;
}

int images_check_service(Store *s, const json_t *service, CbError *err) {
        bool secure = json_is_true(json_object_get(service, "secure_controllable"));
        const json_t *plans = json_object_get(service, "plans");
        size_t i;
        json_t *plan;

        json_array_foreach(plans, i, plan) {
                const json_t *spec = json_object_get(plan, "spec");
                const char *image = json_string_value(json_object_get(spec, "os_image"));
                const char *arch = json_string_value(json_object_get(spec, "arch"));
                CatalogImageFacts f;
                char field[64];
                int r;

                if (!image)
                        continue;
                if (!arch)
                        arch = "x86_64";
                snprintf(field, sizeof(field), "plans[%zu].spec.os_image", i);
                if (images_facts(s, image, arch, &f) < 0)
                        return store_error(s, err, "reading the image library");
                r = catalog_check_plan_image(field, image, arch, secure, &f, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int images_lookup_use(Store *s, const char *provider, const char *name, const char *arch, ImageUse *ret,
                      CbError *err) {
        static const char sql[] =
                "SELECT pool, volume, format, digest_alg, digest, size_bytes, min_disk_gib, arch "
                "FROM images WHERE provider = ?1 AND name = ?2 AND state = ?3";
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        ImageUse u = { 0 };
        int r;

        r = store_query(
                s, sql,
                STORE_ARGS(SA_TEXT(provider), SA_TEXT(name), SA_TEXT(image_state_to_string(IMAGE_ACTIVE))),
                &q, "reading the image library", err);
        if (r >= 0)
                r = store_rows_next(q, err);
        if (r < 0)
                return r;
        if (r == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "os_image",
                                          "os_image: provider '%s' has no active image '%s'", provider, name);
        if (!streq_ptr(store_rows_text(q, 7), arch ? arch : "x86_64"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "os_image",
                                          "os_image: image '%s' is for %s, not %s", name,
                                          store_rows_text(q, 7), arch ? arch : "x86_64");
        snprintf(u.pool, sizeof(u.pool), "%s", store_rows_text(q, 0));
        snprintf(u.volume, sizeof(u.volume), "%s", store_rows_text(q, 1));
        snprintf(u.format, sizeof(u.format), "%s", store_rows_text(q, 2));
        snprintf(u.digest_alg, sizeof(u.digest_alg), "%s", store_rows_text(q, 3));
        snprintf(u.digest, sizeof(u.digest), "%s", store_rows_text(q, 4));
        u.size_bytes = (uint64_t)store_rows_int(q, 5);
        u.min_disk_gib = store_rows_int(q, 6);
        *ret = u;
        return 0;
}
