/* SPDX-License-Identifier: Apache-2.0 */
#include "legacy.h"
#include "legacy-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/param.h> /* MIN */

#include "audit.h"
#include "date.h"
#include "id.h"
#include "json-util.h"
#include "legacy-fit.h"
#include "legacy-vm.h"
#include "log.h"
#include "systems.h"

#define LEGACY_DOMAINS_MAX  64
#define LEGACY_LOCATION_MAX 200
#define LEGACY_REASON_MAX   500

#define LEGACY_COLUMNS                                                                           \
        "system_id, department, hosting_kind, hosting_location, source, deadline, wave, state, " \
        "state_reason, exemption, assessment, plan, created_at, created_by, updated_at"

int legacy_new(Store *store, Catalog *catalog, Projects *projects, Providers *providers, WorkerPool *pool,
               const Calendar *calendar, Legacy **ret) {
        Legacy *lg = calloc(1, sizeof(*lg));
        if (!lg)
                return -ENOMEM;
        *lg = (Legacy){ .store = store,
                        .catalog = catalog,
                        .projects = projects,
                        .providers = providers,
                        .pool = pool,
                        .calendar = calendar };
        if (!calendar) {
                if (calendar_new(&lg->own_calendar) < 0) {
                        free(lg);
                        return -ENOMEM;
                }
                lg->calendar = lg->own_calendar;
        }
        *ret = lg;
        return 0;
}

Legacy *legacy_free(Legacy *lg) {
        if (!lg)
                return NULL;
        for (size_t i = 0; i < LEGACY_ASSESSING_MAX; i++)
                free(lg->assessing[i]);
        legacy_moves_free(lg);
        calendar_free(lg->own_calendar);
        free(lg);
        return NULL;
}

/* ---- reading records ---- */

static json_t *json_column(StoreRows *rows, int i) {
        const char *t = store_rows_text(rows, i);
        return t ? json_loads(t, 0, NULL) : NULL;
}

static void today_local(char ret[DATE_LEN + 1]) {
        date_today_cst(ret);
}

void legacy_record_done(LegacyRecord *rec) {
        if (!rec)
                return;
        free(rec->system_id);
        free(rec->department);
        free(rec->location);
        json_decref(rec->source);
        free(rec->wave);
        free(rec->state_reason);
        json_decref(rec->exemption);
        json_decref(rec->assessment);
        json_decref(rec->plan);
        free(rec->created_at);
        free(rec->created_by);
        free(rec->updated_at);
        *rec = (LegacyRecord){ 0 };
}

void legacy_list_done(LegacyList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                legacy_record_done(&l->v[i]);
        free(l->v);
        *l = (LegacyList){ 0 };
}

static int row_to_record(Legacy *lg, StoreRows *rows, LegacyRecord *ret, CbError *err) {
        const char *deadline = store_rows_text(rows, 5);
        int state = legacy_state_from_string(store_rows_text(rows, 7));
        int hosting = legacy_hosting_from_string(store_rows_text(rows, 2));
        char today[DATE_LEN + 1];
        LegacyOverdue o = { 0 };
        LegacyRecord rec = { 0 };
        bool ok = true;

        if (state < 0 || hosting < 0 || !deadline || strlen(deadline) > DATE_LEN)
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "legacy system '%s' has an unknown state or hosting",
                                    store_rows_text(rows, 0) ? store_rows_text(rows, 0) : "");
        today_local(today);
        if (legacy_overdue(lg->calendar, (LegacyState)state, deadline, today, &o) < 0)
                o = (LegacyOverdue){ 0 };
        rec.system_id = strdup_or_null(store_rows_text(rows, 0), &ok);
        rec.department = strdup_or_null(store_rows_text(rows, 1), &ok);
        rec.hosting = (LegacyHosting)hosting;
        rec.location = strdup_or_null(store_rows_text(rows, 3), &ok);
        rec.source = json_column(rows, 4);
        strcpy(rec.deadline, deadline);
        rec.wave = strdup_or_null(store_rows_text(rows, 6), &ok);
        rec.state = (LegacyState)state;
        rec.state_reason = strdup_or_null(store_rows_text(rows, 8), &ok);
        rec.exemption = json_column(rows, 9);
        rec.assessment = json_column(rows, 10);
        rec.plan = json_column(rows, 11);
        snprintf(rec.due, sizeof(rec.due), "%s", o.due[0] ? o.due : deadline);
        rec.overdue = o.overdue;
        rec.days_overdue = o.days_overdue;
        rec.created_at = strdup_or_null(store_rows_text(rows, 12), &ok);
        rec.created_by = strdup_or_null(store_rows_text(rows, 13), &ok);
        rec.updated_at = strdup_or_null(store_rows_text(rows, 14), &ok);
        rec.assessing = legacy_assessing(lg, rec.system_id);
        if (!ok || !rec.system_id || !rec.department || !rec.location || !rec.created_at || !rec.created_by ||
            !rec.updated_at) {
                legacy_record_done(&rec);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        *ret = rec;
        return 0;
}

/* The stored record without authorization: 0 and *ret, -ENOENT, -EIO. */
int legacy_load(Legacy *lg, const char *id, LegacyRecord *ret, CbError *err) {
        static const char sql[] = "SELECT " LEGACY_COLUMNS " FROM legacy_systems WHERE system_id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(lg->store, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading the legacy register", err);
        if (r >= 0)
                r = store_rows_next(rows, err);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return row_to_record(lg, rows, ret, err);
}

static int not_found(CbError *err, const char *id) {
        return cb_error_set(err, CB_ERR_NOT_FOUND, "no legacy system '%s' in the register", id);
}

/* The record as the caller may see it: another department's is unknown. */
int legacy_load_visible(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err) {
        LegacyRecord v = { 0 };
        int r;

        if (!id_is_valid(id))
                return not_found(err, id);
        r = legacy_load(lg, id, &v, err);
        if (r == -ENOENT)
                return not_found(err, id);
        if (r < 0)
                return r;
        if (!caller_may_see(caller, v.department, LEGACY_READERS)) {
                legacy_record_done(&v);
                return not_found(err, id);
        }
        *ret = v;
        return 0;
}

void legacy_refused(Legacy *lg, const CbCaller *caller, const char *action, const char *id,
                    const char *outcome, json_t *codes) {
        char object[128];
        snprintf(object, sizeof(object), "legacy:%s", id ? id : "");
        audit_refusal(lg->store, caller, action, object, outcome, codes);
}

/* ---- validating a registration ---- */

/* Turns the error of a nested object's member into "prefix.member". */
static int nested(CbError *err, const char *prefix, int r) {
        if (r < 0 && err && err->kind == CB_ERR_VALIDATION) {
                char field[sizeof(err->field) + 64], msg[sizeof(err->message) + 64];
                snprintf(field, sizeof(field), "%s%s%s", prefix, err->field[0] ? "." : "", err->field);
                snprintf(msg, sizeof(msg), "%s.%s", prefix, err->message);
                cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s", msg);
        }
        return r;
}

static bool printable_name(const char *s, size_t max) {
        size_t n = strlen(s);
        if (n == 0 || n > max)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '/')
                        return false;
        return true;
}

static int check_names(const json_t *a, const char *field, bool images, CbError *err) {
        size_t i;
        json_t *e;

        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > LEGACY_DOMAINS_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: must be an array of 1-%d names",
                                          field, LEGACY_DOMAINS_MAX);
        json_array_foreach(a, i, e) {
                const char *s = json_string_value(e);
                char path[160];
                snprintf(path, sizeof(path), "%s[%zu]", field, i);
                if (!s)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s: must be a string", path);
                if (images) {
                        const char *slash = strchr(s, '/');
                        if (!slash || slash == s || strchr(slash + 1, '/') ||
                            !printable_name(slash + 1, 200) || (size_t)(slash - s) > ID_MAX)
                                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                                          "%s: must be \"pool/volume\"", path);
                } else if (!printable_name(s, 200))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                                  "%s: not a domain name (1-200 characters, no '/')", path);
                for (size_t k = 0; k < i; k++)
                        if (streq(s, json_string_value(json_array_get(a, k))))
                                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                                          "%s: '%s' is named twice", path, s);
        }
        return 0;
}

static int check_source(Legacy *lg, const json_t *src, CbError *err) {
        static const char *const fields[] = { "provider", "uri", "domains", "images", NULL };
        const char *provider = NULL, *uri = NULL;
        const json_t *domains, *images;
        int r;

        if (!json_is_object(src))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "source", "source: must be an object");
        r = nested(err, "source", json_check_object(src, fields, err));
        if (r >= 0)
                r = nested(err, "source", json_get_id(src, "provider", false, &provider, err));
        if (r >= 0)
                r = nested(err, "source", json_get_string(src, "uri", false, 1024, &uri, err));
        if (r < 0)
                return r;
        domains = json_object_get(src, "domains");
        images = json_object_get(src, "images");
        if (images) {
                /* The provider is the host whose pools hold the images: the
                 * broker reads and copies them from there. */
                if (uri || domains)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "source",
                                                  "source: either images (with the provider holding "
                                                  "them) or provider/uri with domains");
                if (provider) {
                        Provider *p = providers_find(lg->providers, provider);
                        if (!p || !streq(p->driver, "libvirt"))
                                return cb_error_set_field(
                                        err, CB_ERR_VALIDATION, "source.provider",
                                        "source.provider: no registered libvirt provider '%s'", provider);
                }
                return check_names(images, "source.images", true, err);
        }
        if (!!provider == !!uri)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "source",
                                          "source: exactly one of provider, uri or images");
        if (provider) {
                Provider *p = providers_find(lg->providers, provider);
                if (!p || !streq(p->driver, "libvirt"))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "source.provider",
                                                  "source.provider: no registered libvirt provider '%s'",
                                                  provider);
        }
        if (!domains)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "source.domains",
                                          "source.domains: is required");
        return check_names(domains, "source.domains", false, err);
}

typedef struct Registration {
        const char *system_id, *hosting_kind, *location, *deadline, *wave;
        const json_t *source;
} Registration;

static int check_registration(Legacy *lg, const json_t *body, Registration *ret, CbError *err) {
        static const char *const fields[] = { "system_id", "hosting", "source", "deadline", "wave", NULL };
        static const char *const hosting_fields[] = { "kind", "location", NULL };
        Registration g = { 0 };
        const json_t *hosting;
        int r;

        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_id(body, "system_id", true, &g.system_id, err);
        if (r >= 0)
                r = json_get_date(body, "deadline", true, &g.deadline, err);
        if (r >= 0)
                r = json_get_id(body, "wave", false, &g.wave, err);
        if (r < 0)
                return r;
        hosting = json_object_get(body, "hosting");
        if (!json_is_object(hosting))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "hosting",
                                          "hosting: must be an object {\"kind\", \"location\"}");
        r = nested(err, "hosting", json_check_object(hosting, hosting_fields, err));
        if (r >= 0)
                r = nested(err, "hosting", json_get_string(hosting, "kind", true, 32, &g.hosting_kind, err));
        if (r >= 0)
                r = nested(err, "hosting",
                           json_get_string(hosting, "location", true, LEGACY_LOCATION_MAX, &g.location, err));
        if (r < 0)
                return r;
        if (legacy_hosting_from_string(g.hosting_kind) < 0)
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, "hosting.kind",
                        "hosting.kind: must be \"server-room\", \"industry-cloud\" or \"other\"");
        if (!g.location[0])
                return cb_error_set_field(err, CB_ERR_VALIDATION, "hosting.location",
                                          "hosting.location: must not be empty");
        g.source = json_object_get(body, "source");
        if (!g.source)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "source", "source: is required");
        r = check_source(lg, g.source, err);
        if (r < 0)
                return r;
        *ret = g;
        return 0;
}

/* The system's directory facts as the caller sees them; a classified one is
 * refused by Art. 3 (and the refusal is on record). */
static int check_system(Legacy *lg, const CbCaller *caller, const char *action, const char *system_id,
                        SystemFacts *ret, CbError *err) {
        SystemFacts f;
        /* The migration team works on every department's systems: the
         * whole directory is there for it; a department sees its own. */
        int r = caller_has_role(caller, CB_ROLE_MIGRATION)
                        ? systems_get_facts(lg->store, system_id, &f)
                        : systems_get_visible_facts(lg->store, caller, system_id, &f);
        if (r == -ENOENT)
                return cb_error_set_field(err, CB_ERR_NOT_FOUND, "system_id",
                                          "no system '%s' in the directory", system_id);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "reading the system directory failed");
        if (!caller_may_see(caller, f.department, CB_ROLE_MIGRATION))
                return cb_error_set_field(err, CB_ERR_NOT_FOUND, "system_id",
                                          "no system '%s' in the directory", system_id);
        if (f.classified) {
                json_t *codes = json_pack("[s]", "CLASSIFIED_SYSTEM");
                legacy_refused(lg, caller, action, system_id, "denied", codes);
                json_decref(codes);
                return cb_error_set_violations(
                        err,
                        json_pack("[{s:s, s:i, s:s}]", "code", "CLASSIFIED_SYSTEM", "article", 3, "message",
                                  "Art. 3: a classified system stays outside the municipal cloud and its "
                                  "register"),
                        "Art. 3: system '%s' is classified: it is not migrated and not registered",
                        system_id);
        }
        *ret = f;
        return 0;
}

static int require_changer(Legacy *lg, const CbCaller *caller, const char *action, const char *id,
                           CbError *err) {
        int r = caller_require_role(caller, CB_ROLE_MIGRATION | CB_ROLE_DEPARTMENT,
                                    "change the legacy register", err);
        if (r < 0 && err && err->kind == CB_ERR_FORBIDDEN)
                legacy_refused(lg, caller, action, id, "forbidden", NULL);
        return r;
}

/* ---- writing ---- */

typedef struct Write {
        const Registration *g;
        const char *department, *state, *now, *by;
        bool create, reset; /* reset: drop assessment and plan */
} Write;

static int write_registration(Store *s, void *userdata, CbError *err) {
        static const char ins[] =
                "INSERT INTO legacy_systems (" LEGACY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                "?7, ?8, NULL, NULL, NULL, NULL, ?9, ?10, ?9)";
        static const char upd[] =
                "UPDATE legacy_systems SET hosting_kind = ?3, hosting_location = ?4, source = ?5, "
                "deadline = ?6, wave = ?7, state = ?8, updated_at = ?9, "
                "assessment = CASE WHEN ?11 = 1 THEN NULL ELSE assessment END, "
                "plan = CASE WHEN ?11 = 1 THEN NULL ELSE plan END "
                "WHERE system_id = ?1 AND department = ?2";
        const Write *w = userdata;
        _cleanup_(freep) char *source = json_dumps(w->g->source, JSON_COMPACT | JSON_SORT_KEYS);
        int r;

        if (!source)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (w->create)
                r = store_run(s, ins,
                              STORE_ARGS(SA_TEXT(w->g->system_id), SA_TEXT(w->department),
                                         SA_TEXT(w->g->hosting_kind), SA_TEXT(w->g->location),
                                         SA_TEXT(source), SA_TEXT(w->g->deadline), SA_TEXT(w->g->wave),
                                         SA_TEXT(w->state), SA_TEXT(w->now), SA_TEXT(w->by)),
                              "registering the legacy system", err);
        else
                r = store_run(s, upd,
                              STORE_ARGS(SA_TEXT(w->g->system_id), SA_TEXT(w->department),
                                         SA_TEXT(w->g->hosting_kind), SA_TEXT(w->g->location),
                                         SA_TEXT(source), SA_TEXT(w->g->deadline), SA_TEXT(w->g->wave),
                                         SA_TEXT(w->state), SA_TEXT(w->now), SA_NULL, SA_INT(w->reset)),
                              "updating the legacy system", err);
        if (r == -EEXIST)
                return cb_error_set_field(
                        err, CB_ERR_CONFLICT, "system_id",
                        "system '%s' is already in the legacy register (to change it, use PUT "
                        "/v1/legacy-systems/%s)",
                        w->g->system_id, w->g->system_id);
        if (r == 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "the legacy system '%s' changed meanwhile",
                                    w->g->system_id);
        return r < 0 ? r : 0;
}

static json_t *registration_detail(const Registration *g) {
        return json_pack("{s:s, s:s, s:s, s:O, s:s, s:s?}", "system_id", g->system_id, "hosting_kind",
                         g->hosting_kind, "location", g->location, "source", g->source, "deadline",
                         g->deadline, "wave", g->wave);
}

int legacy_create(Legacy *lg, const CbCaller *caller, const json_t *body, LegacyRecord *ret, CbError *err) {
        _cleanup_(json_decrefp) json_t *detail = NULL;
        Registration g;
        SystemFacts f;
        char now[32], object[128];
        int r;

        r = require_changer(lg, caller, "legacy.create",
                            json_string_value(json_object_get(body, "system_id")), err);
        if (r < 0)
                return r;
        r = check_registration(lg, body, &g, err);
        if (r < 0)
                return r;
        r = check_system(lg, caller, "legacy.create", g.system_id, &f, err);
        if (r < 0)
                return r;

        store_now(now);
        detail = registration_detail(&g);
        snprintf(object, sizeof(object), "legacy:%s", g.system_id);
        Write w = { .g = &g,
                    .department = f.department,
                    .state = legacy_state_to_string(LEGACY_REGISTERED),
                    .now = now,
                    .by = caller->principal->name,
                    .create = true };
        r = audit_change(lg->store, caller, &(AuditEntry){ "legacy.create", object, "ok", NULL, detail },
                         write_registration, &w, err);
        if (r < 0)
                return r;
        return ret ? legacy_load(lg, g.system_id, ret, err) : 0;
}

bool legacy_state_before_move(LegacyState s) {
        return s == LEGACY_REGISTERED || s == LEGACY_ASSESSED || s == LEGACY_PLANNED || s == LEGACY_FAILED;
}

int legacy_update(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body, LegacyRecord *ret,
                  CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord old = { 0 };
        _cleanup_(json_decrefp) json_t *detail = NULL;
        Registration g;
        char now[32], object[128];
        int r, state;

        r = require_changer(lg, caller, "legacy.update", id, err);
        if (r < 0)
                return r;
        r = legacy_load_visible(lg, caller, id, &old, err);
        if (r < 0)
                return r;
        r = check_registration(lg, body, &g, err);
        if (r < 0)
                return r;
        if (!streq(g.system_id, id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "system_id",
                                          "system_id: '%s' differs from the legacy system in the URL ('%s')",
                                          g.system_id, id);
        state = old.state;
        if (!legacy_state_before_move(old.state))
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "legacy system '%s' is %s: its registration changes only before the move "
                                    "(registered, assessed, planned or failed)",
                                    id, legacy_state_to_string(old.state));
        if (!streq(g.deadline, old.deadline) && !caller_has_role(caller, CB_ROLE_MIGRATION)) {
                legacy_refused(lg, caller, "legacy.update", id, "forbidden", NULL);
                return cb_error_set_field(
                        err, CB_ERR_FORBIDDEN, "deadline",
                        "deadline: Art. 35: %s may not move the deadline of '%s': the migration "
                        "team sets it",
                        caller->principal->name, id);
        }
        bool reset = !json_equal(old.source, (json_t *)g.source);
        store_now(now);
        detail = registration_detail(&g);
        if (detail && reset)
                json_object_set_new(detail, "assessment_dropped", json_true());
        snprintf(object, sizeof(object), "legacy:%s", id);
        Write w = { .g = &g,
                    .department = old.department,
                    .state = reset && state != LEGACY_FAILED ? legacy_state_to_string(LEGACY_REGISTERED)
                                                             : legacy_state_to_string((LegacyState)state),
                    .now = now,
                    .by = caller->principal->name,
                    .reset = reset };
        r = audit_change(lg->store, caller, &(AuditEntry){ "legacy.update", object, "ok", NULL, detail },
                         write_registration, &w, err);
        if (r < 0)
                return r;
        return ret ? legacy_load(lg, id, ret, err) : 0;
}

int legacy_get(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err) {
        int r = caller_require_role(caller, LEGACY_READERS | CB_ROLE_DEPARTMENT, "read the legacy register",
                                    err);
        if (r < 0)
                return r;
        return legacy_load_visible(lg, caller, id, ret, err);
}

int legacy_list(Legacy *lg, const CbCaller *caller, const char *department, const char *wave,
                const Page *page, LegacyList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] =
                "SELECT " LEGACY_COLUMNS " FROM legacy_systems WHERE (?1 IS NULL OR department = ?1) "
                "AND (?2 IS NULL OR wave = ?2) AND (?3 IS NULL OR system_id > ?3) "
                "ORDER BY system_id LIMIT ?4";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(legacy_list_done) LegacyList l = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
        int r;

        r = caller_require_role(caller, LEGACY_READERS | CB_ROLE_DEPARTMENT, "read the legacy register", err);
        if (r < 0)
                return r;
        if (department && !id_is_valid(department))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "department",
                                          "department: '%s' is not a department id", department);
        if (wave && !id_is_valid(wave))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "wave", "wave: '%s' is not a wave id",
                                          wave);
        if (!caller_has_role(caller, LEGACY_READERS)) {
                if (department && !caller_in_department(caller, department))
                        return cb_error_set(err, CB_ERR_FORBIDDEN,
                                            "%s may not list the legacy systems of department %s",
                                            caller->principal->name, department);
                department = caller->principal->department;
                if (!department)
                        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                            caller->principal->name);
        }
        l.v = calloc(page->limit ? page->limit : 1, sizeof(LegacyRecord));
        if (!l.v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_query(lg->store, sql,
                        STORE_ARGS(SA_TEXT(department), SA_TEXT(wave),
                                   SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_INT((int64_t)page->limit + 1)),
                        &rows, "reading the legacy register", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                if (l.n == page->limit) {
                        page_token_make(l.v[l.n - 1].system_id, NULL, next);
                        break;
                }
                if ((r = row_to_record(lg, rows, &l.v[l.n], err)) < 0)
                        return r;
                l.n++;
        }
        if (r < 0)
                return r;
        *ret = l;
        l = (LegacyList){ 0 };
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

/* ---- state changes ---- */

static int write_state(Store *s, void *userdata, CbError *err) {
        static const char sql[] =
                "UPDATE legacy_systems SET state = ?3, state_reason = ?4, updated_at = ?5, "
                "exemption = CASE WHEN ?7 = 1 THEN NULL WHEN ?6 IS NOT NULL THEN ?6 ELSE exemption END, "
                "assessment = CASE WHEN ?8 IS NOT NULL THEN ?8 ELSE assessment END, "
                "plan = CASE WHEN ?10 = 1 THEN NULL WHEN ?9 IS NOT NULL THEN ?9 ELSE plan END "
                "WHERE system_id = ?1 AND state = ?2";
        const StateWrite *w = userdata;
        int r = store_run(s, sql,
                          STORE_ARGS(SA_TEXT(w->id), SA_TEXT(w->from), SA_TEXT(w->to), SA_TEXT(w->reason),
                                     SA_TEXT(w->now), SA_TEXT(w->exemption), SA_INT(w->clear_exemption),
                                     SA_TEXT(w->assessment), SA_TEXT(w->plan), SA_INT(w->clear_plan)),
                          "changing the legacy system's state", err);
        if (r == 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "legacy system '%s' is no longer %s", w->id,
                                    w->from);
        if (r > 0 && w->also)
                return w->also(s, w->also_userdata, err);
        return r < 0 ? r : 0;
}

int legacy_change_state(Legacy *lg, const CbCaller *caller, const char *action, StateWrite *w, json_t *detail,
                        CbError *err) {
        char object[128], now[32];
        store_now(now);
        w->now = now;
        snprintf(object, sizeof(object), "legacy:%s", w->id);
        if (detail) {
                json_object_set_new(detail, "from", json_string(w->from));
                json_object_set_new(detail, "to", json_string(w->to));
                if (w->reason)
                        json_object_set_new(detail, "reason", json_string(w->reason));
        }
        return audit_change(lg->store, caller, &(AuditEntry){ action, object, "ok", NULL, detail },
                            write_state, w, err);
}

static bool plan_has_critical(const json_t *plan) {
        return json_is_true(json_object_get(plan, "critical"));
}

int legacy_transition(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body,
                      LegacyRecord *ret, CbError *err) {
        static const char *const fields[] = { "state", "reason", NULL };
        _cleanup_(legacy_record_done) LegacyRecord old = { 0 };
        _cleanup_(json_decrefp) json_t *detail = NULL;
        _cleanup_(freep) char *exemption = NULL;
        const char *to_s = NULL, *reason = NULL, *from_s;
        int r, from, to;

        r = caller_require_role(caller, CB_ROLE_MIGRATION | CB_ROLE_AUTHORITY,
                                "change a legacy system's state", err);
        if (r < 0) {
                if (err && err->kind == CB_ERR_FORBIDDEN)
                        legacy_refused(lg, caller, "legacy.transition", id, "forbidden", NULL);
                return r;
        }
        r = legacy_load_visible(lg, caller, id, &old, err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "state", true, 32, &to_s, err);
        if (r >= 0)
                r = json_get_string(body, "reason", false, LEGACY_REASON_MAX, &reason, err);
        if (r < 0)
                return r;
        to = legacy_state_from_string(to_s);
        if (to < 0) {
                char names[256];
                return cb_error_set_field(err, CB_ERR_VALIDATION, "state", "state: must be one of %s",
                                          string_table_join(legacy_state_table_get(),
                                                            legacy_state_table_size(), names, sizeof(names)));
        }
        from = old.state;
        from_s = legacy_state_to_string(old.state);
        /* Only the decommission undefines the source domains, after the
         * operator's confirmation: a state change alone would leave them
         * defined on the source host while the record says they are gone. */
        if (to == LEGACY_DECOMMISSIONED)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "state",
                                          "legacy system '%s': Art. 35: decommissioned is reached only "
                                          "through POST /v1/legacy-systems/%s/decommission, where the "
                                          "operator confirms and the source domains are undefined",
                                          id, id);
        if (!legacy_transition_allowed((LegacyState)from, (LegacyState)to))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "state",
                                          "legacy system '%s' is %s: it cannot become %s", id, from_s, to_s);
        if (to == LEGACY_ASSESSED || to == LEGACY_PLANNED) {
                /* Retrying from failed keeps what assess and plan produced. */
                if (from != LEGACY_FAILED || !(to == LEGACY_ASSESSED ? old.assessment : old.plan))
                        return cb_error_set_field(err, CB_ERR_CONFLICT, "state",
                                                  "legacy system '%s' becomes %s through POST "
                                                  "/v1/legacy-systems/%s/%s",
                                                  id, to_s, id, to == LEGACY_ASSESSED ? "assess" : "plan");
        }
        bool exemption_change = to == LEGACY_EXEMPT || from == LEGACY_EXEMPT;
        /* The authority signs exemptions off; it moves nothing else. */
        if (!caller_has_role(caller, exemption_change ? CB_ROLE_AUTHORITY : CB_ROLE_MIGRATION)) {
                legacy_refused(lg, caller, "legacy.transition", id, "forbidden", NULL);
                return cb_error_set(err, CB_ERR_FORBIDDEN,
                                    exemption_change
                                            ? "%s may not change the exemption of '%s': Art. 35: only the "
                                              "authority signs an exemption off"
                                            : "%s may not move legacy system '%s': role migration required",
                                    caller->principal->name, id);
        }
        if ((exemption_change || to == LEGACY_FAILED) && (!reason || !reason[0]))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "reason",
                                          "reason: is required to become %s%s", to_s,
                                          from == LEGACY_EXEMPT ? " from exempt" : "");
        if (from == LEGACY_PLANNED && to == LEGACY_MIGRATING && plan_has_critical(old.plan))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "state",
                                          "legacy system '%s' cannot start migrating: its plan has critical "
                                          "concerns (see plan.vms[].concerns)",
                                          id);

        detail = json_object();
        StateWrite w = { .id = id, .from = from_s, .to = to_s, .reason = reason };
        if (to == LEGACY_EXEMPT) {
                char now[32];
                store_now(now);
                json_auto_t *doc = json_pack("{s:s, s:s, s:s}", "reason", reason, "signed_off_by",
                                             caller->principal->name, "signed_off_at", now);
                exemption = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
                if (!exemption)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                w.exemption = exemption;
                json_object_set_new(detail, "signed_off_by", json_string(caller->principal->name));
        } else if (from == LEGACY_EXEMPT) {
                w.clear_exemption = true;
                json_object_set(detail, "revoked", old.exemption ? old.exemption : json_null());
        }
        r = legacy_change_state(lg, caller, "legacy.transition", &w, detail, err);
        if (r < 0)
                return r;
        return ret ? legacy_load(lg, id, ret, err) : 0;
}

/* ---- assessment, on the worker pool ---- */

static bool assessing_add(Legacy *lg, const char *id) {
        for (size_t i = 0; i < LEGACY_ASSESSING_MAX; i++)
                if (!lg->assessing[i])
                        return (lg->assessing[i] = strdup(id)) != NULL;
        return false;
}

static void assessing_remove(Legacy *lg, const char *id) {
        for (size_t i = 0; i < LEGACY_ASSESSING_MAX; i++)
                if (lg->assessing[i] && streq(lg->assessing[i], id)) {
                        free(lg->assessing[i]);
                        lg->assessing[i] = NULL;
                }
}

bool legacy_assessing(Legacy *lg, const char *id) {
        for (size_t i = 0; id && i < LEGACY_ASSESSING_MAX; i++)
                if (lg->assessing[i] && streq(lg->assessing[i], id))
                        return true;
        return false;
}

typedef struct Assessment {
        Legacy *lg;
        CbCaller caller; /* the principal lives as long as the config */
        char *id;
        char *from_state;
        char *provider;
        /* Copied in, so that the worker never reads the registry. */
        const DriverOps *ops;
        DriverConn *conn;
        size_t n;
        bool images; /* domains[] are "pool/volume" images, no domains */
        char *domains[LEGACY_DOMAINS_MAX];
        LegacyVm *vms;                                                    /* n of them */
        char errors[LEGACY_DOMAINS_MAX][sizeof(((CbError *)0)->message)]; /* "" when the VM was read */
} Assessment;

static void assessment_free(Assessment *a) {
        if (!a)
                return;
        free(a->id);
        free(a->from_state);
        free(a->provider);
        for (size_t i = 0; i < a->n; i++)
                free(a->domains[i]);
        free(a->vms);
        free(a);
}

static int assess_job(void *userdata) {
        Assessment *a = userdata;
        for (size_t i = 0; i < a->n; i++) {
                CbError e = CB_ERROR_INIT;
                if ((a->images ? driver_assess_image(a->ops, a->conn, a->domains[i], &a->vms[i], &e)
                               : driver_assess_domain(a->ops, a->conn, a->domains[i], &a->vms[i], &e)) < 0)
                        snprintf(a->errors[i], sizeof(a->errors[i]), "%s",
                                 e.message[0] ? e.message : "cannot read the domain");
                cb_error_clear(&e);
        }
        return 0;
}

static void assess_done(int result, void *userdata) {
        Assessment *a = userdata;
        Legacy *lg = a->lg;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(json_decrefp) json_t *doc = NULL;
        _cleanup_(freep) char *text = NULL;
        json_t *vms = json_array();
        char now[32];
        size_t failed = 0;

        store_now(now);
        for (size_t i = 0; vms && i < a->n; i++) {
                if (a->errors[i][0]) {
                        failed++;
                        json_array_append_new(vms, json_pack("{s:s, s:s}", "name",
                                                             a->images && strchr(a->domains[i], '/')
                                                                     ? strchr(a->domains[i], '/') + 1
                                                                     : a->domains[i],
                                                             "error", a->errors[i]));
                } else
                        json_array_append_new(vms, legacy_vm_to_json(&a->vms[i]));
        }
        doc = json_pack("{s:s, s:s, s:o, s:I, s:s}", "assessed_at", now, "provider", a->provider, "vms",
                        vms ? vms : json_array(), "unreadable", (json_int_t)failed, "kind",
                        a->images ? "images" : "domains");
        text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (result < 0 || !text)
                log_warning("assessment of legacy system %s failed", a->id);
        else {
                StateWrite w = { .id = a->id,
                                 .from = a->from_state,
                                 .to = legacy_state_to_string(LEGACY_ASSESSED),
                                 .assessment = text,
                                 .clear_plan = true };
                json_t *detail = json_pack("{s:s, s:I, s:I}", "provider", a->provider, "vms",
                                           (json_int_t)a->n, "unreadable", (json_int_t)failed);
                if (legacy_change_state(lg, &a->caller, "legacy.assess", &w, detail, &err) < 0)
                        log_warning("storing the assessment of legacy system %s failed: %s", a->id,
                                    err.message);
                json_decref(detail);
        }
        assessing_remove(lg, a->id);
        assessment_free(a);
}

int legacy_assess(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord old = { 0 };
        const json_t *src, *domains;
        const char *state_s, *pname;
        Assessment *a;
        Provider *p;
        int r, state;

        r = caller_require_role(caller, CB_ROLE_MIGRATION, "assess legacy systems", err);
        if (r < 0) {
                if (err && err->kind == CB_ERR_FORBIDDEN)
                        legacy_refused(lg, caller, "legacy.assess", id, "forbidden", NULL);
                return r;
        }
        r = legacy_load_visible(lg, caller, id, &old, err);
        if (r < 0)
                return r;
        state_s = legacy_state_to_string(old.state);
        state = old.state;
        if (!legacy_state_before_move((LegacyState)state) ||
            !legacy_transition_allowed((LegacyState)state, LEGACY_ASSESSED))
                return cb_error_set(err, CB_ERR_CONFLICT, "legacy system '%s' is %s: it cannot be assessed",
                                    id, state_s);
        if (legacy_assessing(lg, id))
                return cb_error_set(err, CB_ERR_CONFLICT, "legacy system '%s' is being assessed already", id);
        src = old.source;
        pname = json_string_value(json_object_get(src, "provider"));
        if (!pname)
                return cb_error_set(
                        err, CB_ERR_UNSUPPORTED,
                        "legacy system '%s': only a source on a registered libvirt provider is assessed "
                        "(register the host as a provider and name it as source.provider)",
                        id);
        p = providers_find(lg->providers, pname);
        if (!p || p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "source provider '%s' is not connected%s%s",
                                    pname, p && p->last_error[0] ? ": " : "", p ? p->last_error : "");
        bool images = json_object_get(src, "images") != NULL;
        domains = json_object_get(src, images ? "images" : "domains");
        a = calloc(1, sizeof(*a));
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *a = (Assessment){ .lg = lg,
                           .caller = *caller,
                           .id = strdup(id),
                           .from_state = strdup(state_s),
                           .provider = strdup(pname),
                           .ops = p->ops,
                           .conn = p->conn,
                           .images = images,
                           .n = MIN(json_array_size(domains), (size_t)LEGACY_DOMAINS_MAX) };
        a->vms = calloc(a->n ? a->n : 1, sizeof(LegacyVm));
        bool ok = a->id && a->from_state && a->provider && a->vms;
        for (size_t i = 0; ok && i < a->n; i++)
                ok = (a->domains[i] = strdup(json_string_value(json_array_get(domains, i)))) != NULL;
        if (!ok || !assessing_add(lg, id)) {
                assessment_free(a);
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "too many assessments under way");
        }
        r = worker_submit(lg->pool, assess_job, assess_done, a);
        if (r < 0) {
                assessing_remove(lg, id);
                assessment_free(a);
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "the worker pool is not taking jobs");
        }
        return ret ? legacy_load(lg, id, ret, err) : 0;
}

/* ---- plans ---- */

#define PLAN_OPTIONS_MAX 256

/* The VM plans of the published catalogue. */
static size_t plan_options(json_t *catalog, LegacyPlanOption *v) {
        size_t n = 0, i, k;
        json_t *svc, *plan;
        json_array_foreach(catalog, i, svc) {
                if (!streq(json_string_value(json_object_get(svc, "driver")) ?: "", "libvirt"))
                        continue;
                json_array_foreach(json_object_get(svc, "plans"), k, plan) {
                        json_t *spec = json_object_get(plan, "spec");
                        const char *kind = json_string_value(json_object_get(spec, "kind"));
                        if ((kind && !streq(kind, "vm")) ||
                            !json_is_integer(json_object_get(spec, "vcpus")) || n >= PLAN_OPTIONS_MAX)
                                continue;
                        v[n++] = (LegacyPlanOption){
                                .service_id = json_string_value(json_object_get(svc, "id")),
                                .plan_id = json_string_value(json_object_get(plan, "id")),
                                .vcpus = (unsigned)json_integer_value(json_object_get(spec, "vcpus")),
                                .memory_mib =
                                        (uint64_t)json_integer_value(json_object_get(spec, "memory_mib")),
                                .disk_gib = (uint64_t)json_integer_value(json_object_get(spec, "disk_gib")),
                                .price_fen = json_integer_value(
                                        json_object_get(json_object_get(plan, "price"), "amount_fen")),
                        };
                }
        }
        return n;
}

size_t legacy_volume_options(const json_t *catalog, LegacyVolumeOption *v, size_t max) {
        size_t n = 0, i, k;
        json_t *svc, *plan;
        json_array_foreach(catalog, i, svc) {
                if (!streq(json_string_value(json_object_get(svc, "driver")) ?: "", "libvirt"))
                        continue;
                json_array_foreach(json_object_get(svc, "plans"), k, plan) {
                        json_t *spec = json_object_get(plan, "spec");
                        json_int_t gib = json_integer_value(json_object_get(spec, "size_gib"));
                        if (!streq(json_string_value(json_object_get(spec, "kind")) ?: "", "volume") ||
                            gib <= 0 || n >= max)
                                continue;
                        v[n++] = (LegacyVolumeOption){
                                .service_id = json_string_value(json_object_get(svc, "id")),
                                .plan_id = json_string_value(json_object_get(plan, "id")),
                                .size_gib = (uint64_t)gib,
                                .price_fen = json_integer_value(
                                        json_object_get(json_object_get(plan, "price"), "amount_fen")),
                        };
                }
        }
        return n;
}

const LegacyVolumeOption *legacy_volume_option_find(const LegacyVolumeOption *v, size_t n,
                                                    const char *service_id, const char *plan_id) {
        for (size_t i = 0; plan_id && i < n; i++)
                if (streq(v[i].plan_id, plan_id) && (!service_id || streq(v[i].service_id, service_id)))
                        return &v[i];
        return NULL;
}

int legacy_judge_target(Legacy *lg, const CbCaller *caller, const char *system_id, const char *project_id,
                        LegacyBatch *b, const char *service_id, const char *plan_id, Evaluation *ret,
                        int64_t *ret_own_fen, CbError *err) {
        EvalRequest req = { .project_id = project_id,
                            .system_id = system_id,
                            .service_id = service_id,
                            .plan_id = plan_id,
                            .migration = true };
        Evaluation ev = { 0 };
        int r = legacy_batch_next(b, service_id, plan_id, &req.quantity, &req.batch_committed_fen);
        if (r < 0)
                return cb_error_set(err, CB_ERR_UNPROCESSABLE, "the plan names more than %d catalogue plans",
                                    LEGACY_BATCH_PLANS_MAX);
        r = projects_evaluate(lg->projects, caller, &req, CB_ROLE_MIGRATION, &ev, err);
        if (r < 0)
                return r;
        *ret_own_fen = legacy_batch_priced(b, service_id, plan_id, ev.projected_cost_fen);
        *ret = ev;
        return 0;
}

/* The other legacy system whose plan holds domain on provider, or NULL. */
static char *planned_elsewhere(Legacy *lg, const char *id, const char *provider, const char *domain) {
        static const char sql[] = "SELECT system_id, source FROM legacy_systems WHERE plan IS NOT NULL AND "
                                  "system_id != ?1 AND state NOT IN ('verified', 'decommissioned', 'exempt')";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char *found = NULL;
        int r = store_query(lg->store, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading plans", NULL);
        while (!found && r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                json_auto_t *src = json_column(rows, 1);
                size_t i;
                json_t *d;
                if (!streq(json_string_value(json_object_get(src, "provider")) ?: "", provider))
                        continue;
                /* A domain by its name, an image by its "pool/volume". */
                json_array_foreach(json_object_get(src, "domains"), i,
                                   d) if (!found && streq(json_string_value(d), domain)) found =
                        strdup(store_rows_text(rows, 0));
                json_array_foreach(json_object_get(src, "images"), i,
                                   d) if (!found && streq(json_string_value(d), domain)) found =
                        strdup(store_rows_text(rows, 0));
        }
        return found;
}

static const LegacyPlanOption *find_option(const LegacyPlanOption *v, size_t n, const char *service_id,
                                           const char *plan_id) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].plan_id, plan_id) && (!service_id || streq(v[i].service_id, service_id)))
                        return &v[i];
        return NULL;
}

/* The override of vms[] for the VM called name, if any. */
static const json_t *override_for(const json_t *vms, const char *name) {
        size_t i;
        json_t *o;
        json_array_foreach(vms, i,
                           o) if (streq(json_string_value(json_object_get(o, "name")) ?: "", name)) return o;
        return NULL;
}

/* The override of a VM's disks for the disk called dev, if any. */
static const json_t *disk_override_for(const json_t *vm_override, const char *dev) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(vm_override, "disks"), i,
                           o) if (streq(json_string_value(json_object_get(o, "dev")) ?: "", dev)) return o;
        return NULL;
}

static int check_disk_overrides(const json_t *disks, const char *prefix, CbError *err) {
        static const char *const disk_fields[] = { "dev", "service_id", "plan_id", NULL };
        char path[64];
        const char *s;
        const json_t *o;
        size_t i;
        int r;

        snprintf(path, sizeof(path), "%s.disks", prefix);
        if (!json_is_array(disks) || json_array_size(disks) > LEGACY_VM_DISKS_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s: must be an array of at most %d",
                                          path, LEGACY_VM_DISKS_MAX);
        json_array_foreach(disks, i, o) {
                snprintf(path, sizeof(path), "%s.disks[%zu]", prefix, i);
                if (!json_is_object(o))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s: must be an object",
                                                  path);
                r = nested(err, path, json_check_object(o, disk_fields, err));
                if (r >= 0)
                        r = nested(err, path, json_get_string(o, "dev", true, 31, &s, err));
                if (r >= 0)
                        r = nested(err, path, json_get_id(o, "service_id", false, &s, err));
                if (r >= 0)
                        r = nested(err, path, json_get_id(o, "plan_id", true, &s, err));
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++)
                        if (streq(json_string_value(json_object_get(o, "dev")),
                                  json_string_value(json_object_get(json_array_get(disks, k), "dev"))))
                                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                                          "%s.dev: disk '%s' is named twice", path,
                                                          json_string_value(json_object_get(o, "dev")));
        }
        return 0;
}

static int check_plan_body(const json_t *body, const char **ret_project, const json_t **ret_target,
                           const json_t **ret_vms, CbError *err) {
        static const char *const fields[] = { "project_id", "target", "vms", NULL };
        static const char *const target_fields[] = { "provider", "pool", "network", NULL };
        static const char *const vm_fields[] = { "name", "service_id", "plan_id", "disks", NULL };
        const char *s;
        const json_t *target, *vms, *o;
        size_t i;
        int r;

        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_id(body, "project_id", true, ret_project, err);
        if (r < 0)
                return r;
        target = json_object_get(body, "target");
        if (!json_is_object(target))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "target",
                                          "target: must be an object {\"provider\", \"pool\", \"network\"}");
        r = nested(err, "target", json_check_object(target, target_fields, err));
        if (r >= 0)
                r = nested(err, "target", json_get_id(target, "provider", true, &s, err));
        if (r >= 0)
                r = nested(err, "target", json_get_string(target, "pool", true, 64, &s, err));
        if (r >= 0)
                r = nested(err, "target", json_get_string(target, "network", true, 64, &s, err));
        if (r < 0)
                return r;
        vms = json_object_get(body, "vms");
        if (vms && (!json_is_array(vms) || json_array_size(vms) > LEGACY_DOMAINS_MAX))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "vms",
                                          "vms: must be an array of at most %d", LEGACY_DOMAINS_MAX);
        json_array_foreach(vms, i, o) {
                char prefix[32];
                snprintf(prefix, sizeof(prefix), "vms[%zu]", i);
                if (!json_is_object(o))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, prefix, "%s: must be an object",
                                                  prefix);
                r = nested(err, prefix, json_check_object(o, vm_fields, err));
                if (r >= 0)
                        r = nested(err, prefix, json_get_string(o, "name", true, 200, &s, err));
                if (r >= 0)
                        r = nested(err, prefix, json_get_id(o, "service_id", false, &s, err));
                /* The VM's plan, its disks' volume plans, or both. */
                bool has_disks = json_object_get(o, "disks") != NULL;
                if (r >= 0)
                        r = nested(err, prefix, json_get_id(o, "plan_id", !has_disks, &s, err));
                if (r >= 0 && has_disks)
                        r = check_disk_overrides(json_object_get(o, "disks"), prefix, err);
                if (r < 0)
                        return r;
        }
        *ret_target = target;
        *ret_vms = vms;
        return 0;
}

static json_t *option_json(const char *service_id, const char *plan_id) {
        return service_id && plan_id ? json_pack("{s:s, s:s}", "service_id", service_id, "plan_id", plan_id)
                                     : json_null();
}

/* A VM's disks after the first, as the pre-flight judges them. */
typedef struct PlanDisks {
        size_t n;
        LegacyDiskFacts facts[LEGACY_VM_DISKS_MAX];
        Evaluation ev[LEGACY_VM_DISKS_MAX];
        char errors[LEGACY_VM_DISKS_MAX][sizeof(((CbError *)0)->message)];
} PlanDisks;

static void plan_disks_done(PlanDisks *pd) {
        for (size_t k = 0; k < LEGACY_VM_DISKS_MAX; k++)
                evaluation_done(&pd->ev[k]);
        memset(pd, 0, sizeof(*pd));
}

/* The disks of vm after its first: each becomes a block volume of the
 * migration project, with the smallest volume plan holding it unless ov
 * (the VM's entry of the body's vms, may be NULL) overrides it, its order
 * judged with the plan's others (batch). *ret_json is what the plan
 * document shows of them. */
static int plan_disks(Legacy *lg, const CbCaller *caller, const char *id, const char *project_id,
                      const LegacyVm *vm, const json_t *ov, const LegacyVolumeOption *vopts, size_t n_vopts,
                      LegacyBatch *batch, PlanDisks *pd, json_t **ret_json, CbError *err) {
        _cleanup_(json_decrefp) json_t *out = json_array();
        bool first = true;
        size_t i;
        json_t *o;

        if (!out)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        for (i = 0; i < vm->n_disks; i++) {
                const LegacyDisk *d = &vm->disks[i];
                if (!streq(d->device, "disk"))
                        continue;
                if (first) { /* the system disk: the VM plan's */
                        first = false;
                        continue;
                }
                if (pd->n >= LEGACY_VM_DISKS_MAX)
                        break;
                size_t k = pd->n++, best;
                const LegacyVolumeOption *suggested = NULL, *chosen;
                const json_t *dov = disk_override_for(ov, d->target);
                if (legacy_volume_fit(d->capacity_bytes, vopts, n_vopts, &best) == 0)
                        suggested = &vopts[best];
                chosen = suggested;
                if (dov) {
                        const char *pid = json_string_value(json_object_get(dov, "plan_id"));
                        chosen = legacy_volume_option_find(
                                vopts, n_vopts, json_string_value(json_object_get(dov, "service_id")), pid);
                        if (!chosen)
                                return cb_error_set_field(
                                        err, CB_ERR_VALIDATION, "vms",
                                        "vms: '%s' is no published block-volume plan (disk %s of VM '%s')",
                                        pid, d->target, vm->name);
                }
                LegacyDiskFacts *f = &pd->facts[k];
                *f = (LegacyDiskFacts){ .dev = d->target,
                                        .capacity_bytes = d->capacity_bytes,
                                        .plan = chosen,
                                        .plan_overridden = dov != NULL };
                if (chosen) {
                        CbError perr = CB_ERROR_INIT;
                        int64_t own = 0;
                        if (legacy_judge_target(lg, caller, id, project_id, batch, chosen->service_id,
                                                chosen->plan_id, &pd->ev[k], &own, &perr) < 0) {
                                snprintf(pd->errors[k], sizeof(pd->errors[k]), "%s", perr.message);
                                f->policy = (LegacyPolicyVerdict){ .error = pd->errors[k] };
                        } else
                                f->policy =
                                        (LegacyPolicyVerdict){ .evaluated = true,
                                                               .n = pd->ev[k].decision.n_violations,
                                                               .violations = pd->ev[k].decision.violations };
                        cb_error_clear(&perr);
                }
                o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:b}", "dev", d->target, "source",
                              d->source, "format", d->format, "capacity_bytes", (json_int_t)d->capacity_bytes,
                              "allocation_bytes", (json_int_t)d->allocation_bytes, "suggested_plan",
                              suggested ? option_json(suggested->service_id, suggested->plan_id)
                                        : json_null(),
                              "plan", chosen ? option_json(chosen->service_id, chosen->plan_id) : json_null(),
                              "overridden", dov != NULL);
                if (!o || json_array_append_new(out, o) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        /* An override of a disk the VM does not move as a volume is a mistake, not a no-op. */
        json_array_foreach(json_object_get(ov, "disks"), i, o) {
                const char *dev = json_string_value(json_object_get(o, "dev"));
                bool known = false;
                for (size_t k = 0; k < pd->n; k++)
                        known = known || streq(pd->facts[k].dev, dev);
                if (!known)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "vms",
                                                  "vms: VM '%s' has no disk '%s' after its system disk (the "
                                                  "first disk is the VM plan's)",
                                                  vm->name, dev);
        }
        *ret_json = TAKE_PTR(out);
        return 0;
}

int legacy_plan(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body, LegacyRecord *ret,
                CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord old = { 0 };
        _cleanup_(json_decrefp) json_t *catalog = NULL, *out_vms = NULL, *plan = NULL, *detail = NULL;
        _cleanup_(freep) LegacyPlanOption *options = NULL;
        _cleanup_(freep) LegacyVolumeOption *vopts = NULL;
        _cleanup_(freep) LegacyBatch *batch = NULL;
        _cleanup_(freep) PlanDisks *pd = NULL;
        _cleanup_(freep) LegacyVm *vm = NULL;
        _cleanup_(freep) LegacyConcern *concerns = NULL;
        _cleanup_(freep) char *text = NULL;
        const char *project_id, *state_s, *source_provider;
        const json_t *target = NULL, *overrides = NULL, *assessment, *avm;
        SystemFacts sf;
        size_t n_options, n_vopts, i;
        bool critical = false;
        int r, state;

        r = caller_require_role(caller, CB_ROLE_MIGRATION, "plan migrations", err);
        if (r < 0) {
                if (err && err->kind == CB_ERR_FORBIDDEN)
                        legacy_refused(lg, caller, "legacy.plan", id, "forbidden", NULL);
                return r;
        }
        r = legacy_load_visible(lg, caller, id, &old, err);
        if (r < 0)
                return r;
        r = check_plan_body(body, &project_id, &target, &overrides, err);
        if (r < 0)
                return r;
        state_s = legacy_state_to_string(old.state);
        state = old.state;
        if (state != LEGACY_ASSESSED && state != LEGACY_PLANNED)
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "legacy system '%s' is %s: assess it before planning", id, state_s);
        assessment = old.assessment;
        source_provider = json_string_value(json_object_get(assessment, "provider")) ?: "";
        if (systems_get_facts(lg->store, id, &sf) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "reading the system directory failed");

        options = calloc(PLAN_OPTIONS_MAX, sizeof(*options));
        vopts = calloc(LEGACY_VOLUME_OPTIONS_MAX, sizeof(*vopts));
        batch = calloc(1, sizeof(*batch));
        pd = calloc(1, sizeof(*pd));
        vm = calloc(1, sizeof(*vm));
        concerns = calloc(LEGACY_CONCERNS_MAX, sizeof(*concerns));
        out_vms = json_array();
        if (!options || !vopts || !batch || !pd || !vm || !concerns || !out_vms ||
            catalog_list_published(lg->catalog, &catalog) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        n_options = plan_options(catalog, options);
        n_vopts = legacy_volume_options(catalog, vopts, LEGACY_VOLUME_OPTIONS_MAX);

        const char *tname = json_string_value(json_object_get(target, "provider"));
        Provider *tp = providers_find(lg->providers, tname);
        if (!tp)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "target.provider",
                                          "target.provider: no registered provider '%s'", tname);
        const char *tpool = json_string_value(json_object_get(target, "pool"));
        bool pool_present = false;
        for (unsigned k = 0; tp->capacity_valid && k < tp->capacity.n_pools; k++)
                pool_present = pool_present || streq(tp->capacity.pools[k], tpool);
        unsigned free_vcpus = tp->capacity_valid ? provider_free_vcpus(tp) : 0;
        uint64_t free_mem = tp->capacity_valid ? provider_free_memory_mib(tp) : 0;

        json_array_foreach(json_object_get(assessment, "vms"), i, avm) {
                const char *name = json_string_value(json_object_get(avm, "name")) ?: "";
                const char *read_error = json_string_value(json_object_get(avm, "error"));
                const char *key = name;
                if (streq_ptr(json_string_value(json_object_get(assessment, "kind")), "images"))
                        key = json_string_value(json_object_get(
                                      json_array_get(json_object_get(avm, "disks"), 0), "source"))
                                      ?: name;
                _cleanup_(freep) char *elsewhere = planned_elsewhere(lg, id, source_provider, key);
                const LegacyPlanOption *chosen = NULL, *suggested = NULL;
                const json_t *ov = override_for(overrides, name);
                bool vm_overridden = ov && json_object_get(ov, "plan_id");
                json_t *disks_json = NULL;
                size_t best, n_concerns = 0;
                Evaluation ev = { 0 };
                CbError perr = CB_ERROR_INIT;

                if (!read_error && legacy_vm_from_json(avm, vm) < 0)
                        read_error = "the stored assessment is unreadable: assess again";
                if (!read_error && legacy_fit(vm, options, n_options, &best) == 0)
                        suggested = &options[best];
                chosen = suggested;
                if (vm_overridden) {
                        chosen = find_option(options, n_options,
                                             json_string_value(json_object_get(ov, "service_id")),
                                             json_string_value(json_object_get(ov, "plan_id")));
                        if (!chosen)
                                return cb_error_set_field(err, CB_ERR_VALIDATION, "vms",
                                                          "vms: '%s' is no published VM plan",
                                                          json_string_value(json_object_get(ov, "plan_id")));
                }
                LegacyPreflightFacts f = {
                        .vm = read_error ? NULL : vm,
                        .classified = sf.classified,
                        .source_reachable = !read_error,
                        .source_error = read_error,
                        .other_plan_system = elsewhere,
                        .plan = chosen,
                        .plan_overridden = vm_overridden,
                        .target = { .connected = tp->status == PROVIDER_CONNECTED,
                                    .capacity_known = tp->capacity_valid,
                                    .free_vcpus = free_vcpus,
                                    .free_memory_mib = free_mem,
                                    .name = tname,
                                    .pool = tpool,
                                    .pools_known = tp->capacity_valid && tp->capacity.pools_complete,
                                    .pool_present = pool_present },
                };
                if (chosen) {
                        /* The VM's target order, judged with the plan's orders so far. */
                        int64_t own = 0;
                        r = legacy_judge_target(lg, caller, id, project_id, batch, chosen->service_id,
                                                chosen->plan_id, &ev, &own, &perr);
                        if (r < 0)
                                /* Not even a request: the project is unknown or hidden. */
                                f.policy = (LegacyPolicyVerdict){ .error = perr.message };
                        else
                                f.policy = (LegacyPolicyVerdict){ .evaluated = true,
                                                                  .n = ev.decision.n_violations,
                                                                  .violations = ev.decision.violations };
                }
                if (!read_error) {
                        r = plan_disks(lg, caller, id, project_id, vm, ov, vopts, n_vopts, batch, pd,
                                       &disks_json, err);
                        if (r < 0) {
                                plan_disks_done(pd);
                                evaluation_done(&ev);
                                cb_error_clear(&perr);
                                return r;
                        }
                        f.disks = pd->facts;
                        f.n_disks = pd->n;
                }
                if (legacy_preflight(&f, concerns, &n_concerns))
                        critical = true;
                json_t *o = json_pack(
                        "{s:s, s:o, s:o, s:b, s:o, s:o}", "name", name, "suggested_plan",
                        suggested ? option_json(suggested->service_id, suggested->plan_id) : json_null(),
                        "plan", chosen ? option_json(chosen->service_id, chosen->plan_id) : json_null(),
                        "overridden", vm_overridden, "disks", disks_json ? disks_json : json_array(),
                        "concerns", legacy_concerns_to_json(concerns, n_concerns));
                plan_disks_done(pd);
                evaluation_done(&ev);
                cb_error_clear(&perr);
                if (!o || json_array_append_new(out_vms, o) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        if (json_array_size(out_vms) == 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "legacy system '%s' has no assessed VM to plan",
                                    id);
        /* An override for a VM the assessment does not have is a mistake, not a no-op. */
        const json_t *ov;
        json_array_foreach(overrides, i, ov) {
                const char *name = json_string_value(json_object_get(ov, "name"));
                size_t k;
                const json_t *v;
                bool known = false;
                json_array_foreach(out_vms, k, v) known =
                        known || streq(json_string_value(json_object_get(v, "name")), name);
                if (!known)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "vms",
                                                  "vms: legacy system '%s' has no assessed VM '%s'", id,
                                                  name);
        }

        char now[32];
        store_now(now);
        plan = json_pack("{s:s, s:O, s:s, s:O, s:b}", "project_id", project_id, "target", target,
                         "planned_at", now, "vms", out_vms, "critical", critical);
        text = plan ? json_dumps(plan, JSON_COMPACT) : NULL;
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        detail = json_pack("{s:s, s:O, s:b}", "project_id", project_id, "target", target, "critical",
                           critical);
        StateWrite w = {
                .id = id, .from = state_s, .to = legacy_state_to_string(LEGACY_PLANNED), .plan = text
        };
        r = legacy_change_state(lg, caller, "legacy.plan", &w, detail, err);
        if (r < 0)
                return r;
        return ret ? legacy_load(lg, id, ret, err) : 0;
}

/* ---- Art. 35 enforcement facts ---- */

int legacy_system_overdue(Legacy *lg, const char *system_id, const char *today, LegacyOverdueFacts *ret) {
        static const char sql[] = "SELECT state, deadline FROM legacy_systems WHERE system_id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        LegacyOverdueFacts f = { .registered = true };
        int r, state;

        r = store_query(lg->store, sql, STORE_ARGS(SA_TEXT(system_id)), &rows, "reading the legacy register",
                        NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        state = legacy_state_from_string(store_rows_text(rows, 0));
        snprintf(f.deadline, sizeof(f.deadline), "%s", store_rows_text(rows, 1) ?: "");
        if (state < 0 || legacy_overdue(lg->calendar, (LegacyState)state, f.deadline, today, &f.overdue) < 0)
                return -EIO;
        f.state = (LegacyState)state;
        *ret = f;
        return 0;
}

int legacy_orders_held(const char *department, const char *project_id, const char *today, bool *ret_overdue,
                       char ret_due[11], char ret_system[64], void *userdata) {
        static const char sql[] = "SELECT system_id, state, deadline, plan FROM legacy_systems "
                                  "WHERE department = ?1 ORDER BY system_id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Legacy *lg = userdata;
        char first[64] = "", due[DATE_LEN + 1] = "";
        bool overdue = false;
        int r;

        if (!date_is_valid(today))
                return -EINVAL;
        r = store_query(lg->store, sql, STORE_ARGS(SA_TEXT(department)), &rows, "reading the legacy register",
                        NULL);
        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                int state = legacy_state_from_string(store_rows_text(rows, 1));
                LegacyOverdue o;
                if (project_id && !store_rows_is_null(rows, 3)) {
                        json_auto_t *plan = json_column(rows, 3);
                        if (streq(json_string_value(json_object_get(plan, "project_id")) ?: "", project_id)) {
                                *ret_overdue = false; /* a migration order */
                                return 0;
                        }
                }
                if (!overdue && state >= 0 &&
                    legacy_overdue(lg->calendar, (LegacyState)state, store_rows_text(rows, 2), today, &o) ==
                            0 &&
                    o.overdue) {
                        overdue = true;
                        snprintf(first, sizeof(first), "%s", store_rows_text(rows, 0));
                        memcpy(due, o.due, sizeof(due));
                }
        }
        if (r < 0)
                return -EIO;
        *ret_overdue = overdue;
        if (overdue) {
                memcpy(ret_due, due, sizeof(due));
                memcpy(ret_system, first, sizeof(first));
        }
        return 0;
}

#define SUMMARY_ROWS_MAX 10000

void legacy_summary_done(LegacySummary *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_groups; i++) {
                LegacySummaryGroup *g = &s->groups[i];
                free(g->department);
                free(g->wave);
                for (size_t k = 0; k < g->n_overdue; k++)
                        free(g->overdue[k].system_id);
                free(g->overdue);
        }
        free(s->groups);
        *s = (LegacySummary){ 0 };
}

/* Room for element n of *v, an array whose capacity is the smallest power
 * of two not below n: it doubles when n is 0 or a power of two. False when
 * out of memory (*v kept). */
static bool grow(void **v, size_t n, size_t size) {
        if (n != 0 && (n & (n - 1)) != 0)
                return true;
        void *p = realloc(*v, (n ? 2 * n : 1) * size);
        if (!p)
                return false;
        *v = p;
        return true;
}

static bool same_group(const LegacySummaryGroup *g, const char *dept, const char *wave) {
        return streq(g->department, dept) && !!g->wave == !!wave && (!wave || streq(g->wave, wave));
}

int legacy_summary(Legacy *lg, const CbCaller *caller, const char *department, LegacySummary *ret,
                   CbError *err) {
        static const char sql[] =
                "SELECT department, wave, system_id, state, deadline FROM legacy_systems "
                "WHERE (?1 IS NULL OR department = ?1) ORDER BY department, wave, system_id "
                "LIMIT 10001";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(legacy_summary_done) LegacySummary sum = { 0 };
        LegacySummaryGroup *g = NULL;
        size_t n = 0;
        int r;

        r = caller_require_role(caller, LEGACY_READERS | CB_ROLE_DEPARTMENT, "read the legacy register", err);
        if (r < 0)
                return r;
        if (department && !id_is_valid(department))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "department",
                                          "department: '%s' is not a department id", department);
        if (!caller_has_role(caller, LEGACY_READERS)) {
                if (department && !caller_in_department(caller, department))
                        return cb_error_set(err, CB_ERR_FORBIDDEN,
                                            "%s may not read the migrations of department %s",
                                            caller->principal->name, department);
                department = caller->principal->department;
                if (!department)
                        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                            caller->principal->name);
        }
        today_local(sum.today);
        r = store_query(lg->store, sql, STORE_ARGS(SA_TEXT(department)), &rows, "reading the legacy register",
                        err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                const char *dept = store_rows_text(rows, 0), *wave = store_rows_text(rows, 1);
                int state = legacy_state_from_string(store_rows_text(rows, 3));
                LegacyOverdue o = { 0 };

                if (++n > SUMMARY_ROWS_MAX)
                        return cb_error_set(err, CB_ERR_UNPROCESSABLE,
                                            "more than %d legacy systems: ask per department",
                                            SUMMARY_ROWS_MAX);
                /* Rows come ordered, so a group is the run of equal (department, wave). */
                if (!g || !same_group(g, dept, wave)) {
                        if (!grow((void **)&sum.groups, sum.n_groups, sizeof(LegacySummaryGroup)))
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        g = &sum.groups[sum.n_groups++];
                        *g = (LegacySummaryGroup){ .department = strdup(dept),
                                                   .wave = wave ? strdup(wave) : NULL };
                        if (!g->department || (wave && !g->wave))
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                g->total++;
                if (state < 0)
                        continue;
                g->counts[state]++;
                if (legacy_state_is_done((LegacyState)state))
                        g->done++;
                if (legacy_overdue(lg->calendar, (LegacyState)state, store_rows_text(rows, 4), sum.today,
                                   &o) == 0 &&
                    o.overdue) {
                        if (!grow((void **)&g->overdue, g->n_overdue, sizeof(LegacySummaryOverdue)))
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        LegacySummaryOverdue *e = &g->overdue[g->n_overdue];
                        *e = (LegacySummaryOverdue){ .system_id = strdup(store_rows_text(rows, 2)),
                                                     .state = (LegacyState)state,
                                                     .days_overdue = o.days_overdue };
                        if (!e->system_id)
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        snprintf(e->due, sizeof(e->due), "%s", o.due);
                        g->n_overdue++;
                }
        }
        if (r < 0)
                return r;
        *ret = sum;
        sum = (LegacySummary){ 0 };
        return 0;
}
