/* SPDX-License-Identifier: Apache-2.0 */
#include "vm-guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "macro.h"
#include "resources-internal.h"

typedef enum GuestWhat {
        GUEST_CONSOLE,
        GUEST_ADDRESSES,
} GuestWhat;

typedef struct GuestJob {
        Resources *r;
        GuestWhat what;
        const DriverOps *ops;
        DriverConn *conn;
        char resource_id[64];
        char provider_ref[64];
        size_t max_bytes;
        unsigned lines;
        /* the worker's results */
        char *data;
        size_t len;
        bool truncated;
        json_t *addresses;
        CbError err;
        VmGuestDoneFn done;
        void *userdata;
} GuestJob;

static void guest_job_free(GuestJob *j) {
        if (!j)
                return;
        free(j->data);
        json_decref(j->addresses);
        cb_error_clear(&j->err);
        free(j);
}

/* The VM a guest read is about, on a provider that answers now. */
static int guest_target(Resources *r, const CbCaller *caller, const char *id, unsigned roles,
                        const char *action, Resource *res, Provider **ret_p, CbError *err) {
        int q = caller_require_role(caller, roles, action, err);
        if (q < 0)
                return q;
        q = resources_get(r, caller, id, res, err);
        if (q < 0)
                return q;
        if (res->kind != RESOURCE_KIND_VM)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "id", "resource %s is not a VM", id);
        if (res->state == RESOURCE_DELETED)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource %s is deleted", id);
        if (!res->provider)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource %s is on no provider yet", id);
        Provider *p = providers_find(r->providers, res->provider);
        if (!p)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is not configured",
                                    res->provider);
        if (driver_is_async(p->ops))
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "provider '%s' (http) shows no guest", p->name);
        if (p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is %s%s%s", p->name,
                                    provider_status_to_string(p->status), p->last_error[0] ? ": " : "",
                                    p->last_error);
        *ret_p = p;
        return 0;
}

static int console_args(unsigned kib, unsigned lines, CbError *err) {
        if (kib < 1 || kib > VM_CONSOLE_MAX_KIB)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "kib", "kib: must be 1..%u",
                                          VM_CONSOLE_MAX_KIB);
        if (lines > VM_CONSOLE_MAX_LINES)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "lines", "lines: must be 1..%u",
                                          VM_CONSOLE_MAX_LINES);
        return 0;
}

/* The console is what the guest prints: operators run the platform, the
 * department owns the VM; auditors and finance have no need of it. */
#define CONSOLE_READERS (CB_ROLE_OPERATOR | CB_ROLE_DEPARTMENT)

int vm_console_check(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
                     CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        int q = console_args(kib, lines, err);
        if (q < 0)
                return q;
        return guest_target(r, caller, id, CONSOLE_READERS, "read VM consoles", &res, &p, err);
}

int vm_addresses_check(Resources *r, const CbCaller *caller, const char *id, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        return guest_target(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read VM addresses", &res,
                            &p, err);
}

static int guest_job_run(void *userdata) {
        GuestJob *j = userdata;
        DriverRef ref = { .resource_id = j->resource_id, .provider_ref = j->provider_ref };
        if (j->what == GUEST_CONSOLE)
                return driver_console_tail(j->ops, j->conn, &ref, j->max_bytes, &j->data, &j->len,
                                           &j->truncated, &j->err);
        return driver_addresses(j->ops, j->conn, &ref, &j->addresses, &j->err);
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t cp;
        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* A JSON string for what a guest wrote: anything that is no text (invalid
 * UTF-8, terminal control codes) becomes '?', so the answer is always valid. */
static json_t *console_text(const char *data, size_t len, unsigned lines) {
        const unsigned char *s = (const unsigned char *)data;
        size_t start = 0;
        if (lines > 0) {
                /* The last `lines` lines: a final newline ends the last line, it starts none. */
                size_t seen = 0, i = len;
                if (i > 0 && s[i - 1] == '\n')
                        i--;
                while (i > 0) {
                        if (s[i - 1] == '\n' && ++seen == lines)
                                break;
                        i--;
                }
                start = i;
        }
        _cleanup_(freep) char *out = malloc(len - start + 1);
        if (!out)
                return NULL;
        size_t o = 0;
        for (size_t i = start; i < len;) {
                size_t l = utf8_len(s + i, len - i);
                if (l == 0 || (l == 1 && s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') ||
                    (l == 1 && s[i] == 0x7f)) {
                        /* a carriage return before a newline is the serial line's, not the guest's text */
                        if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
                                out[o++] = '?';
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, l);
                o += l;
                i += l;
        }
        return json_stringn(out, o);
}

int vm_addresses_keep(Store *s, const char *id, const json_t *addresses, CbError *err) {
        static const char sql[] = "INSERT INTO resource_addresses (resource_id, addresses, read_at) "
                                  "VALUES (?1, ?2, ?3) ON CONFLICT (resource_id) DO UPDATE SET "
                                  "addresses = excluded.addresses, read_at = excluded.read_at";
        _cleanup_(freep) char *text = json_dumps(addresses, JSON_COMPACT);
        char now[32];
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        int q = store_run(s, sql, STORE_ARGS(SA_TEXT(id), SA_TEXT(text), SA_TEXT(now)),
                          "keeping the addresses", err);
        return q < 0 ? q : 0;
}

json_t *vm_addresses_stored(Store *s, const char *id) {
        _cleanup_(store_rows_donep) StoreRows *q = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        int r = store_query(s, "SELECT addresses FROM resource_addresses WHERE resource_id = ?1",
                            STORE_ARGS(SA_TEXT(id)), &q, "reading the addresses", &err);
        if (r >= 0)
                r = store_rows_next(q, &err);
        if (r < 0)
                return NULL;
        if (r == 0)
                return json_array();
        json_t *v = json_loads(store_rows_text(q, 0), 0, NULL);
        if (!json_is_array(v)) { /* only this module writes it: never, but answer something true */
                json_decref(v);
                return json_array();
        }
        return v;
}

static void guest_job_done(int result, void *userdata) {
        GuestJob *j = userdata;
        json_t *answer = NULL;

        if (result == -ECANCELED && !j->err.message[0])
                cb_error_set(&j->err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
        else if (result >= 0 && j->what == GUEST_CONSOLE) {
                json_t *text = console_text(j->data, j->len, j->lines);
                answer = text ? json_pack("{s:s, s:o, s:I, s:b}", "resource_id", j->resource_id, "output",
                                          text, "bytes", (json_int_t)j->len, "truncated", j->truncated)
                              : NULL;
                if (!answer)
                        cb_error_set(&j->err, CB_ERR_INTERNAL, "out of memory");
        } else if (result >= 0) {
                char now[32];
                store_now(now);
                if (vm_addresses_keep(j->r->store, j->resource_id, j->addresses, &j->err) >= 0) {
                        answer = json_pack("{s:s, s:O, s:s}", "resource_id", j->resource_id, "addresses",
                                           j->addresses, "read_at", now);
                        if (!answer)
                                cb_error_set(&j->err, CB_ERR_INTERNAL, "out of memory");
                        else
                                resources_notify(j->r, j->resource_id, false);
                }
        } else if (!j->err.message[0])
                cb_error_set(&j->err, CB_ERR_INTERNAL, "reading the guest failed: %s", strerror(-result));
        j->done(answer, answer ? NULL : &j->err, j->userdata);
        guest_job_free(j);
}

static int guest_submit(Resources *r, GuestWhat what, const Resource *res, Provider *p, size_t max_bytes,
                        unsigned lines, VmGuestDoneFn done, void *userdata, CbError *err) {
        GuestJob *j = calloc(1, sizeof(*j));
        if (!j)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *j = (GuestJob){ .r = r,
                         .what = what,
                         .ops = p->ops,
                         .conn = p->conn,
                         .max_bytes = max_bytes,
                         .lines = lines,
                         .err = CB_ERROR_INIT,
                         .done = done,
                         .userdata = userdata };
        snprintf(j->resource_id, sizeof(j->resource_id), "%s", res->id);
        snprintf(j->provider_ref, sizeof(j->provider_ref), "%s", res->provider_ref ? res->provider_ref : "");
        int q = worker_submit(r->pool, guest_job_run, guest_job_done, j);
        if (q < 0) {
                guest_job_free(j);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue the read: %s", strerror(-q));
        }
        return 0;
}

int vm_console(Resources *r, const CbCaller *caller, const char *id, unsigned kib, unsigned lines,
               VmGuestDoneFn done, void *userdata, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        int q = console_args(kib, lines, err);
        if (q >= 0)
                q = guest_target(r, caller, id, CONSOLE_READERS, "read VM consoles", &res, &p, err);
        if (q < 0)
                return q;
        return guest_submit(r, GUEST_CONSOLE, &res, p, (size_t)kib * 1024, lines, done, userdata, err);
}

int vm_addresses_refresh(Resources *r, const CbCaller *caller, const char *id, VmGuestDoneFn done,
                         void *userdata, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        Provider *p;
        int q = guest_target(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read VM addresses", &res,
                             &p, err);
        if (q < 0)
                return q;
        return guest_submit(r, GUEST_ADDRESSES, &res, p, 0, 0, done, userdata, err);
}
